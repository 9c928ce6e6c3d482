/* test_delta.c -- zip layouts (archives/zip_layout.h) and delta plans
 * (engine/net/delta.c): for zips our bundler's writer, Info-ZIP and
 * Python's zipfile make, and every zip fixture a mount serves, a new volume
 * assembled from the old one's copied bytes, the fetched ranges and the
 * tail is byte-identical, and moves no more than the changed entries. The
 * "server" is the new file in memory; each test counts what it fetched. */
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "helpers.h"
#include "../../engine/net/net_internal.h"
#include "liveupdate/crypto.h"
#include "liveupdate/download.h"

#define TAIL (64 * 1024)   /* what the downloader asks for first */

static lu_env env_;

static void setup(void)
{
    env_ = lu__default_env();
}

TestSuite(delta, .init = setup);

/* A fixed pseudo-random stream (xorshift), so the bytes do not compress. */
static void fill(unsigned char *p, size_t n, uint64_t seed)
{
    uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
    for (size_t i = 0; i < n; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        p[i] = (unsigned char)x;
    }
}

/* What one assembly moved. */
typedef struct moved {
    lu__delta_plan plan;
    uint64_t fetched;    /* ranges and tail, as a server would send them */
    int rounds;          /* layout attempts (more than 1: the tail was too short) */
} moved;

/* The layout of `new_path`, from its last `tail` bytes and, when they are
 * not enough, from where the layout asks: *tail_from is where the bytes
 * held start. */
static lu_zip_layout *layout_from_end(const char *new_path, const unsigned char *bytes, size_t size, size_t tail,
                                      uint64_t *tail_from, int *rounds)
{
    uint64_t from = size > tail ? size - tail : 0;
    for (*rounds = 1; *rounds <= 4; (*rounds)++) {
        lu_zip_layout *lay;
        uint64_t need;
        lu_error err;
        lu_status st = lu__zip_layout_mem(&env_, new_path, bytes + from, (size_t)(size - from), size, &lay, &need, &err);
        if (st == LU_OK) {
            *tail_from = from;
            return lay;
        }
        cr_assert_eq(st, LU_IO_ERROR, "%s: %s", new_path, err.message);
        cr_assert(need < from, "%s: asked for %llu with %llu held", new_path, (unsigned long long)need,
                  (unsigned long long)from);
        from = lu__delta_tail_next(size, from, need);   /* as the downloader asks */
    }
    /* at most: the end search's first 4 KiB, its whole window, the
     * directory, the zip64 end record */
    cr_assert_fail("%s: no layout after 4 rounds", new_path);
    return NULL;
}

/* Plans `new_path` from `old_path`, assembles it into a file from the old
 * file's bytes and the new file's ranges, and checks it is the new file. */
static moved assemble(const char *old_path, const char *new_path, size_t tail)
{
    moved m = {0};
    size_t size;
    unsigned char *bytes = (unsigned char *)th_read_file(new_path, &size);
    cr_assert_not_null(bytes);
    lu_zip_layout *old, *neu;
    lu_error err;
    cr_assert_eq(lu__zip_layout_file(&env_, old_path, &old, &err), LU_OK, "%s", err.message);
    uint64_t tail_from;
    neu = layout_from_end(new_path, bytes, size, tail, &tail_from, &m.rounds);
    cr_assert_eq(lu__delta_plan_make(&env_, old, neu, tail_from, &m.plan, &err), LU_OK, "%s", err.message);
    char *out_path = th_path(th_tempdir(), "assembled.zip");
    int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644), in = open(old_path, O_RDONLY);
    cr_assert(out >= 0 && in >= 0);
    uint64_t at = 0;
    for (size_t i = 0; i < m.plan.n; i++) {
        const lu__delta_op *op = &m.plan.ops[i];
        cr_assert_eq(op->at, at, "op %zu starts at %llu, not where the last ended", i, (unsigned long long)op->at);
        if (op->from == LU__DELTA_FETCH) {
            cr_assert_eq(write(out, bytes + op->at, op->len), (ssize_t)op->len);
            m.fetched += op->len;
        } else {
            cr_assert_eq(lu__delta_copy(&env_, in, op->from, op->len, out, NULL, &err), LU_OK, "%s", err.message);
        }
        at += op->len;
    }
    cr_assert_eq(at, tail_from);
    cr_assert_eq(write(out, bytes + tail_from, size - tail_from), (ssize_t)(size - tail_from));
    m.fetched += size - tail_from;
    close(out);
    close(in);
    size_t got_len;
    char *got = th_read_file(out_path, &got_len);
    cr_assert_eq(got_len, size);
    cr_assert(memcmp(got, bytes, size) == 0, "%s assembled from %s differs", new_path, old_path);
    free(got);
    free(bytes);
    lu__zip_layout_free(&env_, old);
    lu__zip_layout_free(&env_, neu);
    return m;
}

/* A volume of `n` entries of `each` random bytes (entry i's bytes from seed
 * seeds[i]) written by the bundler's writer (`method`), then a small
 * version file that changes with `version`. */
static void make_volume(const char *path, size_t n, size_t each, const uint64_t *seeds, int method, int version)
{
    lu_zip_writer *w;
    lu_error err;
    unsigned char *buf = malloc(each ? each : 1);
    cr_assert_eq(lu_zip_writer_open(path, &w, &err), LU_OK, "%s", err.message);
    for (size_t i = 0; i < n; i++) {
        char name[64];
        snprintf(name, sizeof name, "level/part%04zu.bin", i);
        fill(buf, each, seeds[i]);
        cr_assert_eq(lu_zip_writer_add_method(w, name, buf, each, method, -1, &err), LU_OK, "%s", err.message);
    }
    char ver[32];
    snprintf(ver, sizeof ver, "{\"version\": %d}", version);
    cr_assert_eq(lu_zip_writer_add(w, "version_level.json", ver, strlen(ver), 6, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_zip_writer_close(w, &err), LU_OK, "%s", err.message);
    free(buf);
}

/* old.zip and new.zip in `dir`: n stored entries of `each` bytes, entries
 * first, first + every, ... changed in the new one (and its version file
 * when new_version is not 1). */
static void make_pair(const char *dir, size_t n, size_t each, size_t first, size_t every, int new_version,
                      char **old, char **neu)
{
    uint64_t *seeds = malloc(n * sizeof *seeds);
    for (size_t i = 0; i < n; i++) seeds[i] = i + 1;
    *old = th_path(dir, "old.zip"), *neu = th_path(dir, "new.zip");
    make_volume(*old, n, each, seeds, LU_ZIP_STORED, 1);
    for (size_t i = first; i < n; i += every) seeds[i] += 1000;
    make_volume(*neu, n, each, seeds, LU_ZIP_STORED, new_version);
    free(seeds);
}

/* The case: 10 of 200 entries of 100 KiB change (and the version
 * file): the plan fetches the changed entries (each one range) and the
 * small version entry, copies the rest, and what moves is at most 1.1x the
 * changed entries' bytes beside the 64 KiB tail. */
Test(delta, ten_changed_entries_of_two_hundred_fetch_only_those)
{
    char *old, *neu;
    make_pair(th_tempdir(), 200, 100 * 1024, 5, 20, 2, &old, &neu);
    uint64_t changed_bytes = 0;
    lu_zip_layout *lay;
    lu_error err;
    cr_assert_eq(lu__zip_layout_file(&env_, neu, &lay, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lay->count, 201);
    for (size_t i = 5; i < 200; i += 20) changed_bytes += lay->rec[i].span;
    lu__zip_layout_free(&env_, lay);
    moved m = assemble(old, neu, TAIL);
    cr_expect_eq(m.rounds, 1, "the directory of 201 entries is in the 64 KiB tail");
    cr_expect_eq(m.plan.changed, 10, "10 entries (the version file is in the tail): %zu", m.plan.changed);
    cr_expect_eq(m.plan.entries, 201);
    cr_expect_leq(m.plan.ranges, 11);
    cr_expect_leq(m.plan.fetch, changed_bytes + 4096, "fetched %llu for %llu changed", (unsigned long long)m.plan.fetch,
                  (unsigned long long)changed_bytes);
    cr_expect_leq(m.fetched, changed_bytes * 11 / 10 + TAIL);
    cr_expect(lu__delta_worth(&m.plan, NULL, 0));
    lu__delta_plan_free(&env_, &m.plan);
}

/* The same volume: nothing is fetched but the tail, whatever the method. */
Test(delta, an_unchanged_volume_fetches_nothing_but_its_tail)
{
    char *dir = th_tempdir();
    uint64_t seeds[50];
    for (size_t i = 0; i < 50; i++) seeds[i] = 7 * i + 3;
    const int methods[] = {LU_ZIP_STORED, LU_ZIP_DEFLATE, LU_ZIP_ZSTD};
    for (size_t k = 0; k < 3; k++) {
        char name[32];
        snprintf(name, sizeof name, "v%zu.zip", k);
        char *a = th_path(dir, name);
        make_volume(a, 50, 20000, seeds, methods[k], 1);
        moved m = assemble(a, a, TAIL);
        cr_expect_eq(m.plan.fetch, 0, "method %d: fetched %llu", methods[k], (unsigned long long)m.plan.fetch);
        cr_expect_eq(m.plan.changed, 0);
        cr_expect_eq(m.plan.ranges, 0);
        lu__delta_plan_free(&env_, &m.plan);
    }
}

/* Every other entry of 200 changed: 100 fetches 10 KiB apart are
 * limited to LU__DELTA_RANGES requests by fetching the shortest copies
 * between them; the result is still the new file, and the plan is not
 * worth it (more than half the bytes). */
Test(delta, many_changes_are_merged_into_at_most_64_ranges)
{
    char *old, *neu;
    make_pair(th_tempdir(), 200, 10 * 1024, 0, 2, 1, &old, &neu);
    moved m = assemble(old, neu, TAIL);
    cr_expect_leq(m.plan.ranges, LU__DELTA_RANGES, "%zu ranges", m.plan.ranges);
    cr_expect_geq(m.plan.changed, 95, "all but those in the tail: %zu", m.plan.changed);
    char why[200] = "";
    cr_expect_not(lu__delta_worth(&m.plan, why, sizeof why));
    cr_expect(strstr(why, "entries changed") != NULL, "%s", why);
    lu__delta_plan_free(&env_, &m.plan);
}

/* Small changed entries close together are one request: the unchanged
 * entries between them (under 4 KiB) are fetched rather than copied. */
Test(delta, close_changes_are_one_request)
{
    char *old, *neu;
    make_pair(th_tempdir(), 40, 1000, 10, 2, 1, &old, &neu);   /* 10, 12, ... 38 changed */
    moved m = assemble(old, neu, 512);   /* a short tail, so the entries are below it */
    cr_expect_geq(m.plan.changed, 10, "all but those in the tail: %zu", m.plan.changed);
    cr_expect_eq(m.plan.ranges, 1, "%zu ranges", m.plan.ranges);
    lu__delta_plan_free(&env_, &m.plan);
}

/* Entries added, removed, renamed, reordered and resized: the new file
 * comes out whole, and only the entries the old file holds are copied. */
Test(delta, added_removed_and_moved_entries_assemble_the_new_file)
{
    char *dir = th_tempdir();
    char *old = th_path(dir, "old.zip"), *neu = th_path(dir, "new.zip");
    uint64_t a[35], b[30];
    for (size_t i = 0; i < 35; i++) a[i] = i + 1;
    make_volume(old, 30, 9000, a, LU_ZIP_DEFLATE, 1);
    for (size_t i = 0; i < 30; i++) b[i] = a[(i + 7) % 30];   /* the same bytes under other names */
    make_volume(neu, 25, 9000, b, LU_ZIP_DEFLATE, 2);
    moved m = assemble(old, neu, 1024);
    /* (the version file is in the last 4 KiB, which the end search reads) */
    cr_expect_eq(m.plan.changed, 25, "names carry the identity: %zu", m.plan.changed);
    cr_expect_eq(m.plan.copy, 0);
    lu__delta_plan_free(&env_, &m.plan);
    make_volume(neu, 35, 9000, a, LU_ZIP_DEFLATE, 1);   /* 5 entries added at the end */
    m = assemble(old, neu, 1024);
    cr_expect_eq(m.plan.changed, 5, "5 new entries; the rest copy from where they were: %zu", m.plan.changed);
    cr_expect_gt(m.plan.copy, 30 * 9000);
    lu__delta_plan_free(&env_, &m.plan);
}

/* Runs a shell command; asserts it succeeded. */
static void sh(const char *fmt, ...)
{
    char cmd[4096];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int rc = system(cmd);
    cr_assert_eq(rc, 0, "failed (%d): %s", rc, cmd);
}

/* Info-ZIP `zip -X` over a tree in which 3 of 40 files change (their
 * mtimes with them): the other 37 entries copy. (Without -X, a local
 * header's extra field records the file's access time, which the central
 * directory does not show: such a plan assembles other bytes, and the
 * downloader's hash check turns it into a whole download;
 * docs/DOWNLOADS.md.) */
Test(delta, info_zip_volumes)
{
    char *dir = th_tempdir();
    sh("cd '%s' && mkdir -p t/a t/b && for i in $(seq 1 40); do head -c $((3000 + i * 100)) /dev/urandom > t/a/f$i; done"
       " && touch -d 2020-01-01 t/a/* && cd t && zip -X -q -r ../old.zip a"
       " && for i in 4 17 33; do head -c 5000 /dev/urandom > a/f$i; done && touch -d 2021-01-01 a/f4 a/f17 a/f33"
       " && zip -X -q -r ../new.zip a", dir);
    moved m = assemble(th_path(dir, "old.zip"), th_path(dir, "new.zip"), 2048);
    cr_expect_eq(m.plan.changed, 3, "%zu", m.plan.changed);
    cr_expect_eq(m.plan.entries, 41, "40 files and the directory");
    lu__delta_plan_free(&env_, &m.plan);
    /* streamed to a pipe: data descriptors after every entry's data */
    sh("cd '%s/t' && zip -X -q -r - a | cat > ../piped.zip && touch -d 2022-01-01 a/f5 && zip -X -q -r - a | cat > ../piped2.zip",
       dir);
    m = assemble(th_path(dir, "piped.zip"), th_path(dir, "piped2.zip"), 2048);
    cr_expect_eq(m.plan.changed, 1, "%zu", m.plan.changed);
    lu__delta_plan_free(&env_, &m.plan);
}

/* Python's zipfile: data descriptors (written to a pipe), zip64 extra
 * fields, and bytes before the archive (a self-extractor's stub). */
Test(delta, python_zipfile_volumes)
{
    char *dir = th_tempdir();
    char *script = th_path(dir, "mk.py");
    FILE *f = fopen(script, "w");
    cr_assert_not_null(f);
    fputs("import io, random, sys, zipfile\n"
          "def make(out, change, zip64=False):\n"
          "    r = random.Random(1)\n"
          "    z = zipfile.ZipFile(out, 'w', zipfile.ZIP_DEFLATED)\n"
          "    for i in range(60):\n"
          "        data = bytes(r.getrandbits(8) for _ in range(2000 + i))\n"
          "        if i in change: data = data[::-1]\n"
          "        info = zipfile.ZipInfo('d/%03d.bin' % i, (1980, 1, 1, 0, 0, 0))\n"
          "        with z.open(info, 'w', force_zip64=zip64) as w: w.write(data)\n"
          "    z.close()\n"
          "d = sys.argv[1]\n"
          "for name, change, z64 in (('a', (), False), ('b', (3, 40), False), ('c', (), True), ('e', (59,), True)):\n"
          "    with open(d + '/' + name + '.zip', 'wb') as f: make(f, change, z64)\n"
          "class Pipe(io.RawIOBase):\n"
          "    def __init__(self, f): self.f = f\n"
          "    def writable(self): return True\n"
          "    def write(self, b): return self.f.write(b)\n"
          "for name, change in (('p1', ()), ('p2', (10,))):\n"
          "    with open(d + '/' + name + '.zip', 'wb') as f: make(Pipe(f), change)\n"
          "stub = b'#!/bin/sh\\necho self-extracting\\nexit 0\\n' * 40\n"
          "for src, dst in (('a', 's1'), ('b', 's2')):\n"
          "    open(d + '/' + dst + '.zip', 'wb').write(stub + open(d + '/' + src + '.zip', 'rb').read())\n",
          f);
    fclose(f);
    sh("python3 '%s' '%s'", script, dir);
    const struct {
        const char *old, *neu;
        size_t changed;
    } cases[] = {{"a", "b", 2}, {"c", "e", 1}, {"p1", "p2", 1}, {"s1", "s2", 2}, {"a", "c", 60}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char o[16], n[16];
        snprintf(o, sizeof o, "%s.zip", cases[i].old);
        snprintf(n, sizeof n, "%s.zip", cases[i].neu);
        moved m = assemble(th_path(dir, o), th_path(dir, n), 4096);
        cr_expect_eq(m.plan.changed, cases[i].changed, "%s -> %s: %zu changed", o, n, m.plan.changed);
        lu__delta_plan_free(&env_, &m.plan);
    }
}

/* The end records or the directory beyond the tail first fetched: the
 * layout asks for the bytes from where they start (an archive comment of
 * 70,000 bytes; a directory of 3,000 entries, about 200 KiB). */
Test(delta, a_layout_asks_for_more_when_the_tail_is_short)
{
    char *dir = th_tempdir();
    uint64_t seeds[3000];
    for (size_t i = 0; i < 3000; i++) seeds[i] = i + 1;
    char *a = th_path(dir, "a.zip"), *b = th_path(dir, "b.zip");
    make_volume(a, 3000, 10, seeds, LU_ZIP_STORED, 1);
    seeds[100] = 9;
    make_volume(b, 3000, 10, seeds, LU_ZIP_STORED, 1);
    moved m = assemble(a, b, TAIL);
    cr_expect_eq(m.rounds, 2, "the directory is larger than the tail");
    cr_expect_eq(m.plan.changed, 1);
    lu__delta_plan_free(&env_, &m.plan);
    make_volume(a, 20, 1000, seeds, LU_ZIP_STORED, 1);
    make_volume(b, 20, 1000, seeds, LU_ZIP_STORED, 2);
    th_add_zip_comment(b, 65535);   /* the longest comment: its end record is 65,557 bytes from the end */
    m = assemble(a, b, 22);
    cr_expect_geq(m.rounds, 2);
    lu__delta_plan_free(&env_, &m.plan);
}

/* What is not a zip, or not a whole one, is refused with the file named;
 * the same rules as a mount (overlapping entries). */
Test(delta, a_layout_refuses_what_is_not_a_zip)
{
    char *dir = th_tempdir();
    char *p = th_path(dir, "x.zip");
    th_write_file(p, "not a zip at all, just text", 27);
    lu_zip_layout *lay;
    lu_error err;
    cr_expect_eq(lu__zip_layout_file(&env_, p, &lay, &err), LU_FORMAT_ERROR);
    cr_expect(strstr(err.message, "x.zip") && strstr(err.message, "not a zip"), "%s", err.message);
    cr_expect_null(lay);
    cr_expect_eq(lu__zip_layout_file(&env_, th_path(dir, "missing.zip"), &lay, &err), LU_NOT_FOUND);
    uint64_t need;
    cr_expect_eq(lu__zip_layout_mem(&env_, "x.zip", "abc", 3, 3, &lay, &need, &err), LU_FORMAT_ERROR);
    cr_expect_eq(need, UINT64_MAX);
    cr_expect_eq(lu__zip_layout_mem(&env_, "x.zip", "abc", 3, 2, &lay, &need, &err), LU_FORMAT_ERROR);
    const char *overlap = th_path(th_fixtures(), "overlap_full.zip");
    if (th_exists(overlap)) {
        cr_expect_eq(lu__zip_layout_file(&env_, overlap, &lay, &err), LU_UNSAFE_ARCHIVE, "%s", err.message);
        cr_expect(strstr(err.message, "overlaps") != NULL, "%s", err.message);
    }
}

/* Every fixture zip a mount serves (or serves but for an entry's read):
 * its layout from the file and from its end agree, and the file comes out
 * of a plan against itself byte for byte, copying every entry. */
Test(delta, every_zip_a_mount_accepts_has_a_layout)
{
    char *text = th_read_file(th_path(th_fixtures(), "fixtures.json"), NULL);
    cr_assert_not_null(text);
    cJSON *doc = cJSON_Parse(text);
    cr_assert_not_null(doc);
    int tried = 0;
    cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases"))
    {
        const char *expect = cJSON_GetStringValue(cJSON_GetObjectItem(c, "expect"));
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(c, "file"));
        if (!expect || !file || strcmp(expect, "reject") == 0) continue;
        char *path = th_path(th_fixtures(), file);
        struct stat sb;
        if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode)) continue;   /* a dir: case */
        lu_zip_layout *lay;
        lu_error err;
        cr_assert_eq(lu__zip_layout_file(&env_, path, &lay, &err), LU_OK, "%s: %s", file, err.message);
        size_t size = 0;
        unsigned char *bytes = (unsigned char *)th_read_file(path, &size);
        uint64_t from;
        int rounds;
        lu_zip_layout *mem = layout_from_end(path, bytes, size, 1024, &from, &rounds);
        cr_expect_eq(mem->count, lay->count, "%s", file);
        for (size_t i = 0; i < lay->count && i < mem->count; i++)
            cr_expect(memcmp(&lay->rec[i], &mem->rec[i], sizeof lay->rec[i]) == 0, "%s: record %zu", file, i);
        lu__zip_layout_free(&env_, mem);
        lu__zip_layout_free(&env_, lay);
        free(bytes);
        moved m = assemble(path, path, TAIL);
        cr_expect_eq(m.plan.changed, 0, "%s", file);
        lu__delta_plan_free(&env_, &m.plan);
        tried++;
    }
    cJSON_Delete(doc);
    free(text);
    cr_expect_gt(tried, 20, "only %d fixtures", tried);
}

/* Opens through the context's I/O hooks, counting those of `watched`. */
static const char *watched;
static int watched_opens;

static int counting_open(void *ud, const char *path, int flags, int mode)
{
    (void)ud;
    if (watched && strcmp(path, watched) == 0) watched_opens++;
    return open(path, flags, mode);
}

static void on_done(void *ud, int id, const char *path, const lu_error *err)
{
    (void)id;
    (void)path;
    *(lu_status *)ud = err->status;
}

/* A new version of the same size as the old one it replaces (entry sizes
 * unchanged: common) is not hashed as a candidate for the new bytes before
 * the download: the old file is the delta's base, never the answer, and
 * hashing (or, outside volumes/, first copying) a large volume would stall
 * lu_update(). Without the exception the old file is opened to be copied. */
Test(delta, the_old_version_is_not_taken_for_the_new_bytes)
{
    char *dir = th_tempdir(), *old, *neu;
    make_pair(dir, 40, 20000, 3, 10, 2, &old, &neu);
    struct stat a, b;
    cr_assert(stat(old, &a) == 0 && stat(neu, &b) == 0);
    cr_assert_eq(a.st_size, b.st_size, "the two versions have one size");
    lu_io_hooks io = {.open = counting_open};
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = th_path(dir, "save");
    cfg.io = &io;
    lu_context *ctx;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    char uri[700], url[700], sha[LU_SHA256_HEX];
    uint64_t size;
    snprintf(uri, sizeof uri, "zip:%s", old);
    cr_assert_eq(lu_mount_add(ctx, "levels", uri, 10, 0, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_crypto_init(&err), LU_OK);
    cr_assert_eq(lu_sha256_file(neu, sha, &size, &err), LU_OK);
    snprintf(url, sizeof url, "file://%s", neu);
    lu_download_request req;
    lu_download_request_init(&req);
    req.url = url;
    req.file = "levels-2.zip";
    req.size = size;
    req.sha256 = sha;
    req.base = old;
    lu_status result = LU_UNKNOWN;
    req.done = on_done;
    req.ud = &result;
    watched = old;
    watched_opens = 0;
    int id;
    cr_assert_eq(lu_download_start(ctx, &req, &id, &err), LU_OK, "%s", err.message);
    for (int i = 0; i < 100000 && result == LU_UNKNOWN; i++) lu_update(ctx);
    watched = NULL;
    cr_expect_eq(result, LU_OK);
    cr_expect_eq(watched_opens, 0, "the old file was opened %d time(s) as a candidate", watched_opens);
    lu_context_close(ctx);
}
