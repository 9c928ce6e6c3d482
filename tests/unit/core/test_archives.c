/* test_archives.c -- zip and dir volumes against the fixtures that
 * tests/fixtures/make_zips.py writes into $LU_FIXTURES (zips from Info-ZIP
 * and Python's zipfile, zip64, and the hostile set of docs/FORMATS.md).
 *
 * fixtures.json gives every zip a "kind" (one Test below per kind) and what
 * must happen when it is mounted as "vol" on a fresh save directory:
 *   serve       LU_OK; lu_list_paths("/") is exactly the "entries" paths and
 *               each reads back as $LU_FIXTURES/expected/<zip>/<path>; or,
 *               for the zips of 65,535 entries and more, a "pattern"
 *               ({"count": N, "name": "e/%05d.txt", "data": "entry %d\n"})
 *               gives entries 0..N-1 and their bytes;
 *   reject      the "status", a message that names the mount and contains
 *               "message_contains", the mount table and the save directory
 *               unchanged, nothing written outside it (no evil.txt anywhere);
 *   read_error  LU_OK, then lu_read("entry") fails with the "status" and a
 *               message naming the entry (twice: the failure does not break
 *               the volume), and the other "entries" still read back.
 * Every failure message starts with the zip's file name. The last tests
 * cover the library's own zip writer and "dir:" volumes.
 */
#include <dirent.h>
#include <stdbool.h>

#include <cjson/cJSON.h>

#include "helpers.h"

TestSuite(archives);

/* ---- fixtures.json ------------------------------------------------------ */

static cJSON *load_doc(void)
{
    char *text = th_read_file(th_path(th_fixtures(), "fixtures.json"), NULL);
    cr_assert_not_null(text, "no fixtures.json in %s: run tests/fixtures/make_zips.py", th_fixtures());
    cJSON *doc = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(doc, "fixtures.json is not JSON");
    cr_assert(cJSON_IsArray(cJSON_GetObjectItem(doc, "cases")), "fixtures.json has no \"cases\" array");
    return doc;
}

static const char *jstr(const cJSON *obj, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItem(obj, key));
    return s ? s : "";
}

static const cJSON *find_case(const cJSON *doc, const char *file)
{
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases")) if (strcmp(jstr(c, "file"), file) == 0) return c;
    cr_assert_fail("fixtures.json has no case for %s", file);
    return NULL;
}

/* ---- contexts and mounts -------------------------------------------------- */

static lu_context *open_ctx(const char *save, const cJSON *c)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    const cJSON *max = c ? cJSON_GetObjectItem(c, "max_uncompressed") : NULL;
    if (cJSON_IsNumber(max)) cfg.max_uncompressed = (uint64_t)max->valuedouble;
    lu_context *ctx = NULL;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "context on %s: %s", save, err.message);
    return ctx;
}

/* Mounts "<scheme>:$LU_FIXTURES/<rel>" as `name`; `err` is cleared first. */
static lu_status mount_fixture(lu_context *ctx, const char *name, const char *scheme, const char *rel,
                               int priority, lu_error *err)
{
    char dir[PATH_MAX], uri[2 * PATH_MAX];
    cr_assert_not_null(realpath(th_fixtures(), dir), "LU_FIXTURES=%s does not exist", th_fixtures());
    snprintf(uri, sizeof uri, "%s:%s/%s", scheme, dir, rel);
    memset(err, 0, sizeof *err);
    return lu_mount_add(ctx, name, uri, priority, 0, err);
}

/* ---- checks shared by the kinds ---------------------------------------------- */

/* lu_list_paths("/") of `mount` is exactly the keys of `entries`, in order. */
static void expect_listing(lu_context *ctx, const char *mount, const char *label, const cJSON *entries)
{
    char **paths = NULL;
    size_t n = 0;
    lu_error err;
    lu_status st = lu_list_paths(ctx, "/", mount, &paths, &n, &err);
    cr_expect_eq(st, LU_OK, "%s: lu_list_paths: %s", label, err.message);
    if (st != LU_OK) return;
    size_t want = (size_t)cJSON_GetArraySize(entries), i = 0;
    cr_expect_eq(n, want, "%s: %zu paths listed, expected %zu", label, n, want);
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        if (i >= n) break;
        if (strcmp(paths[i], e->string) != 0) {
            cr_expect_fail("%s: listed path %zu is '%s', expected '%s'", label, i, paths[i], e->string);
            break;
        }
        i++;
    }
    lu_free(ctx, paths);
}

/* Reads `path` from `mount` and compares it with expected/<expected_of>/<path>.
 * Returns false (after reporting) on a difference. */
static bool expect_entry(lu_context *ctx, const char *mount, const char *label, const char *expected_of,
                         const char *path)
{
    char *want_path = th_path(th_path(th_path(th_fixtures(), "expected"), expected_of), path + 1);
    size_t want_len = 0;
    char *want = th_read_file(want_path, &want_len);
    if (!want) {
        cr_expect_fail("%s: missing %s", label, want_path);
        free(want_path);
        return false;
    }
    void *data = NULL;
    size_t size = 0;
    lu_error err;
    lu_status st = lu_read_from(ctx, mount, path, &data, &size, &err);
    bool ok = st == LU_OK && size == want_len && memcmp(data, want, size) == 0;
    if (st != LU_OK) cr_expect_fail("%s: read %s: %s: %s", label, path, lu_status_name(st), err.message);
    else if (!ok) cr_expect_fail("%s: %s: %zu bytes read, %zu expected, or different bytes", label, path,
                                 size, want_len);
    lu_free(ctx, data);
    free(want);
    free(want_path);
    return ok;
}

/* Every path of `entries` reads back right; stops after 5 differences. */
static void expect_contents(lu_context *ctx, const char *mount, const char *label, const char *expected_of,
                            const cJSON *entries)
{
    int bad = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        if (!expect_entry(ctx, mount, label, expected_of, e->string) && ++bad == 5) return;
    }
}

static size_t mount_entries(lu_context *ctx, const char *name)
{
    lu_mount_info *m;
    size_t n, entries = (size_t)-1;
    lu_error err;
    cr_assert_eq(lu_mounts_get(ctx, &m, &n, &err), LU_OK);
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].name, name) == 0) entries = m[i].entries;
    lu_free(ctx, m);
    return entries;
}

/* ---- "nothing escaped the save directory" -------------------------------------- */

static size_t count_dir(const char *dir)
{
    DIR *d = opendir(dir);
    size_t n = 0;
    for (struct dirent *de; d && (de = readdir(d));) n += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    if (d) closedir(d);
    return n;
}

static char *parent_of(const char *path)
{
    char *p = TH_KEEP(strdup(path)), *slash = strrchr(p, '/');
    if (slash && slash != p) *slash = '\0';
    return p;
}

enum { PROBE_DIRS = 6, PROBE_NAMES = 2, PROBES = PROBE_DIRS * PROBE_NAMES };

/* Where an extracting zip-slip would land, and what was there before. Shared
 * directories (/tmp, $TMPDIR) are probed by name only: other tests run in
 * parallel and create files there. */
typedef struct escape_probe {
    const char *save;
    size_t save_count, fixtures_count;
    char *paths[PROBES];
    int existed[PROBES];
} escape_probe;

static void probe_begin(escape_probe *p, const char *save)
{
    char cwd[PATH_MAX];
    const char *dirs[PROBE_DIRS] = {save, parent_of(save), th_fixtures(), parent_of(th_fixtures()), "/tmp",
                          getcwd(cwd, sizeof cwd) ? cwd : "/tmp"};
    const char *names[PROBE_NAMES] = {"evil.txt", "evil"};
    p->save = save;
    p->save_count = count_dir(save);
    p->fixtures_count = count_dir(th_fixtures());
    for (size_t i = 0; i < PROBES; i++) {
        p->paths[i] = th_path(dirs[i / PROBE_NAMES], names[i % PROBE_NAMES]);
        p->existed[i] = th_exists(p->paths[i]);
    }
}

static void expect_no_escape(const escape_probe *p, const char *file)
{
    cr_expect_eq(count_dir(p->save), p->save_count, "%s: files appeared in the save dir %s", file, p->save);
    cr_expect_not(th_exists(th_path(p->save, "liveupdate.mounts")), "%s: a failed mount was persisted", file);
    cr_expect_eq(count_dir(th_fixtures()), p->fixtures_count, "%s: files appeared next to the fixtures", file);
    for (size_t i = 0; i < PROBES; i++)
        cr_expect(p->existed[i] || !th_exists(p->paths[i]), "%s: %s was created", file, p->paths[i]);
}

/* ---- one fixture --------------------------------------------------------------- */

/* A "pattern" serve case: `count` entries named and filled by printf
 * formats of their number, listed in order and read back. */
static void check_pattern(lu_context *ctx, const char *file, const cJSON *pattern)
{
    size_t count = (size_t)cJSON_GetNumberValue(cJSON_GetObjectItem(pattern, "count"));
    const char *name_fmt = jstr(pattern, "name"), *data_fmt = jstr(pattern, "data");
    cr_expect_eq(mount_entries(ctx, "vol"), count, "%s: lu_mounts_get says %zu entries, expected %zu", file,
                 mount_entries(ctx, "vol"), count);
    char **paths = NULL;
    size_t n = 0;
    lu_error err;
    cr_assert_eq(lu_list_paths(ctx, "/", "vol", &paths, &n, &err), LU_OK, "%s: %s", file, err.message);
    cr_expect_eq(n, count, "%s: %zu paths listed, expected %zu", file, n, count);
    int bad = 0;
    for (size_t i = 0; i < n && i < count && bad < 5; i++) {
        char want_path[64], want[64];
        want_path[0] = '/';
        snprintf(want_path + 1, sizeof want_path - 1, name_fmt, (int)i);
        int len = snprintf(want, sizeof want, data_fmt, (int)i);
        void *data = NULL;
        size_t size = 0;
        bool ok = strcmp(paths[i], want_path) == 0 &&
                  lu_read_from(ctx, "vol", want_path, &data, &size, &err) == LU_OK && size == (size_t)len &&
                  memcmp(data, want, size) == 0;
        if (!ok && ++bad) cr_expect_fail("%s: entry %zu: listed '%s', expected '%s' holding \"%s\"", file, i,
                                         paths[i], want_path, want);
        lu_free(ctx, data);
    }
    lu_free(ctx, paths);
}

static void check_serve(const cJSON *c)
{
    const char *file = jstr(c, "file");
    const cJSON *entries = cJSON_GetObjectItem(c, "entries");
    lu_context *ctx = open_ctx(th_tempdir(), c);
    lu_error err;
    lu_status st = mount_fixture(ctx, "vol", "zip", file, 1, &err);
    cr_expect_eq(st, LU_OK, "%s (%s): mount gave %s: %s", file, jstr(c, "what"), lu_status_name(st),
                 err.message);
    const cJSON *pattern = cJSON_GetObjectItem(c, "pattern");
    if (st == LU_OK && pattern) {
        check_pattern(ctx, file, pattern);
    } else if (st == LU_OK) {
        size_t want = (size_t)cJSON_GetArraySize(entries), got = mount_entries(ctx, "vol");
        cr_expect_eq(got, want, "%s: lu_mounts_get says %zu entries, expected %zu", file, got, want);
        expect_listing(ctx, "vol", file, entries);
        expect_contents(ctx, "vol", file, file, entries);
    }
    lu_context_close(ctx);
}

static void check_reject(const cJSON *c)
{
    const char *file = jstr(c, "file"), *status = jstr(c, "status"), *part = jstr(c, "message_contains");
    char *save = th_tempdir();
    lu_context *ctx = open_ctx(save, c);
    size_t before = th_mount_count(ctx);
    escape_probe probe;
    probe_begin(&probe, save);
    lu_error err;
    lu_status st = mount_fixture(ctx, "vol", "zip", file, 1, &err);
    if (st == LU_OK) {
        cr_expect_fail("%s (%s): mounted with %zu entries, expected %s", file, jstr(c, "what"),
                       mount_entries(ctx, "vol"), status);
        lu_context_close(ctx);
        return;
    }
    cr_expect_str_eq(lu_status_name(st), status, "%s (%s): got %s, expected %s: %s", file, jstr(c, "what"),
                     lu_status_name(st), status, err.message);
    cr_expect_eq(err.status, st, "%s: err.status %d differs from the returned %d", file, err.status, st);
    cr_expect(strstr(err.message, part), "%s: message \"%s\" does not contain \"%s\"", file, err.message, part);
    cr_expect(strstr(err.message, "'vol'"), "%s: message \"%s\" does not name the mount", file, err.message);
    cr_expect_eq(th_mount_count(ctx), before, "%s: the mount table changed", file);
    cr_expect_not(lu_exists(ctx, "/evil.txt"), "%s: something is served", file);
    expect_no_escape(&probe, file);
    lu_context_close(ctx);
}

static void expect_read_fails(lu_context *ctx, const cJSON *c, int attempt)
{
    const char *file = jstr(c, "file"), *entry = jstr(c, "entry"), *status = jstr(c, "status");
    const char *part = jstr(c, "message_contains");
    void *data = (void *)&data;
    size_t size = 0;
    lu_error err;
    memset(&err, 0, sizeof err);
    lu_status st = lu_read(ctx, entry, &data, &size, &err);
    cr_expect_str_eq(lu_status_name(st), status, "%s (%s): read %d of %s gave %s (%zu bytes), expected %s: %s",
                     file, jstr(c, "what"), attempt, entry, lu_status_name(st), size, status, err.message);
    if (st == LU_OK) {
        lu_free(ctx, data);
        return;
    }
    cr_expect_null(data, "%s: a failed read left a buffer", file);
    cr_expect(strstr(err.message, part), "%s: message \"%s\" does not contain \"%s\"", file, err.message, part);
    cr_expect(strstr(err.message, entry + 1), "%s: message \"%s\" does not name %s", file, err.message, entry + 1);
}

static void check_read_error(const cJSON *c)
{
    const char *file = jstr(c, "file");
    lu_context *ctx = open_ctx(th_tempdir(), c);
    lu_error err;
    lu_status st = mount_fixture(ctx, "vol", "zip", file, 1, &err);
    cr_expect_eq(st, LU_OK, "%s (%s): mount gave %s: %s", file, jstr(c, "what"), lu_status_name(st),
                 err.message);
    if (st == LU_OK) {
        expect_read_fails(ctx, c, 1);
        expect_read_fails(ctx, c, 2);
        expect_contents(ctx, "vol", file, file, cJSON_GetObjectItem(c, "entries"));
    }
    lu_context_close(ctx);
}

/* Checks every fixture of `kind`; fails when there is none. */
static void run_kind(const char *kind)
{
    cJSON *doc = load_doc();
    int n = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases")) {
        if (strcmp(jstr(c, "kind"), kind) != 0) continue;
        const char *expect = jstr(c, "expect");
        if (strcmp(expect, "serve") == 0) check_serve(c);
        else if (strcmp(expect, "reject") == 0) check_reject(c);
        else if (strcmp(expect, "read_error") == 0) check_read_error(c);
        else cr_expect_fail("%s: unknown expect \"%s\"", jstr(c, "file"), expect);
        n++;
    }
    cr_expect_gt(n, 0, "fixtures.json has no case of kind \"%s\"", kind);
    cJSON_Delete(doc);
}

/* ---- one Test per kind ---------------------------------------------------------- */

static const char *const kinds[] = {
    "infozip", "python", "zip64", "many", "empty", "zip_slip", "unsafe_name", "duplicate", "encrypted",
    "bomb", "symlink", "unsupported_method", "truncated", "corrupt_entry", "not_a_zip", "zstd", "zstd_corrupt",
    "prefix", "stray_extra", "comment", "overlap", "local_name", "count", "deflate_trailing", "messages", "others",
    "order",
};

Test(archives, every_fixture_has_a_kind_a_test_covers)
{
    cJSON *doc = load_doc();
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases")) {
        bool known = false;
        for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++) known |= strcmp(jstr(c, "kind"), kinds[i]) == 0;
        cr_expect(known, "%s: kind \"%s\" is not tested", jstr(c, "file"), jstr(c, "kind"));
        cr_expect(th_exists(th_path(th_fixtures(), jstr(c, "file"))), "%s: file missing", jstr(c, "file"));
    }
    cJSON_Delete(doc);
}

Test(archives, infozip_zips_are_served) { run_kind("infozip"); }
Test(archives, python_zips_are_served) { run_kind("python"); }
Test(archives, zip64_zips_are_served) { run_kind("zip64"); }
Test(archives, zips_of_5000_65535_and_70000_entries_are_served, .timeout = 120) { run_kind("many"); }
Test(archives, an_empty_zip_mounts_with_no_entries) { run_kind("empty"); }
Test(archives, zip_slip_names_are_rejected) { run_kind("zip_slip"); }
Test(archives, absolute_backslash_nul_and_dot_names_are_rejected) { run_kind("unsafe_name"); }
Test(archives, duplicate_names_are_rejected) { run_kind("duplicate"); }
Test(archives, encrypted_entries_are_rejected) { run_kind("encrypted"); }
Test(archives, a_zip_bomb_is_rejected_by_its_declared_size) { run_kind("bomb"); }
Test(archives, symlink_entries_are_rejected) { run_kind("symlink"); }
Test(archives, unsupported_compression_is_a_format_error) { run_kind("unsupported_method"); }
Test(archives, truncated_zips_are_format_errors) { run_kind("truncated"); }
Test(archives, corrupt_entries_fail_on_read_and_name_the_entry) { run_kind("corrupt_entry"); }
Test(archives, files_that_are_not_zips_are_scheme_mismatches) { run_kind("not_a_zip"); }
Test(archives, zstd_entries_from_the_zstd_command_line_are_served) { run_kind("zstd"); }
Test(archives, broken_zstd_entries_fail_on_read_and_name_the_entry) { run_kind("zstd_corrupt"); }
Test(archives, zips_with_bytes_in_front_are_served) { run_kind("prefix"); }
Test(archives, extra_areas_ending_in_stray_bytes_are_served) { run_kind("stray_extra"); }
Test(archives, the_longest_comment_and_bytes_after_the_end_record_are_served) { run_kind("comment"); }
Test(archives, overlapping_entries_are_refused_naming_the_entry) { run_kind("overlap"); }
Test(archives, a_local_header_naming_another_file_fails_the_read) { run_kind("local_name"); }
Test(archives, end_records_that_miscount_the_entries_are_refused) { run_kind("count"); }
/* Central records out of file order (overlaps and the room for local
 * extras measured in file order), and which of two faults is reported. */
Test(archives, directory_order_and_the_fault_reported_first) { run_kind("order"); }
Test(archives, bytes_after_the_end_of_a_deflate_stream_are_accepted) { run_kind("deflate_trailing"); }
Test(archives, refusals_name_the_true_reason_and_the_entry) { run_kind("messages"); }
Test(archives, other_readers_test_zips_get_our_stated_verdict) { run_kind("others"); }

/* ---- dir volumes and the library's own writer ------------------------------------ */

Test(archives, a_directory_volume_serves_the_same_bytes_as_its_zip)
{
    cJSON *doc = load_doc();
    const cJSON *tree = cJSON_GetObjectItem(doc, "dir_tree");
    const char *dir = jstr(tree, "dir"), *zip = jstr(tree, "same_as");
    const cJSON *entries = cJSON_GetObjectItem(find_case(doc, zip), "entries");
    lu_context *ctx = open_ctx(th_tempdir(), NULL);
    lu_error err;
    cr_assert_eq(mount_fixture(ctx, "vol", "dir", dir, 1, &err), LU_OK, "dir:%s: %s", dir, err.message);
    cr_assert_eq(mount_fixture(ctx, "zipvol", "zip", zip, 0, &err), LU_OK, "%s: %s", zip, err.message);
    expect_listing(ctx, "vol", dir, entries);
    expect_listing(ctx, "zipvol", zip, entries);
    expect_contents(ctx, "vol", dir, zip, entries);
    expect_contents(ctx, "zipvol", zip, zip, entries);
    lu_context_close(ctx);
    cJSON_Delete(doc);
}

/* Writes every entry of py_deflated.zip with lu_zip_writer (stored and
 * deflated in turn) into `zp`. */
static void write_own_zip(const char *zp, const cJSON *entries)
{
    lu_zip_writer *w;
    lu_error err;
    cr_assert_eq(lu_zip_writer_open(zp, &w, &err), LU_OK, "%s", err.message);
    int i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        size_t len = 0;
        char *want = th_path(th_path(th_fixtures(), "expected/py_deflated.zip"), e->string + 1);
        char *data = th_read_file(want, &len);
        cr_assert_not_null(data, "missing %s", want);
        cr_assert_eq(lu_zip_writer_add(w, e->string + 1, data, len, i++ % 2 ? 6 : 0, &err), LU_OK, "%s",
                     err.message);
        free(data);
    }
    cr_assert_eq(lu_zip_writer_close(w, &err), LU_OK, "%s", err.message);
}

Test(archives, zips_from_our_own_writer_are_served_and_reproducible)
{
    cJSON *doc = load_doc();
    const cJSON *entries = cJSON_GetObjectItem(find_case(doc, "py_deflated.zip"), "entries");
    char *dir = th_tempdir(), *zp = th_path(dir, "ours.zip"), *again = th_path(dir, "again.zip");
    write_own_zip(zp, entries);
    write_own_zip(again, entries);
    size_t l1 = 0, l2 = 0;
    char *b1 = th_read_file(zp, &l1), *b2 = th_read_file(again, &l2);
    cr_expect(l1 == l2 && memcmp(b1, b2, l1) == 0, "lu_zip_writer output is not byte-identical");
    lu_context *ctx = open_ctx(th_tempdir(), NULL);
    lu_error err;
    char uri[PATH_MAX + 8];
    snprintf(uri, sizeof uri, "zip:%s", zp);
    cr_assert_eq(lu_mount_add(ctx, "vol", uri, 1, 0, &err), LU_OK, "ours.zip: %s", err.message);
    expect_listing(ctx, "vol", "ours.zip", entries);
    expect_contents(ctx, "vol", "ours.zip", "py_deflated.zip", entries);
    lu_context_close(ctx);
    cJSON_Delete(doc);
}

/* Writes every entry of py_deflated.zip with lu_zip_writer_add_method and
 * LU_ZIP_ZSTD at `level` into `zp`. */
static void write_zstd_zip(const char *zp, const cJSON *entries, int level)
{
    lu_zip_writer *w;
    lu_error err;
    cr_assert_eq(lu_zip_writer_open(zp, &w, &err), LU_OK, "%s", err.message);
    const cJSON *e;
    cJSON_ArrayForEach(e, entries) {
        size_t len = 0;
        char *want = th_path(th_path(th_fixtures(), "expected/py_deflated.zip"), e->string + 1);
        char *data = th_read_file(want, &len);
        cr_assert_not_null(data, "missing %s", want);
        cr_assert_eq(lu_zip_writer_add_method(w, e->string + 1, data, len, LU_ZIP_ZSTD, level, &err), LU_OK, "%s",
                     err.message);
        free(data);
    }
    cr_assert_eq(lu_zip_writer_close(w, &err), LU_OK, "%s", err.message);
}

/* The method field of the central record of `name` in the zip bytes `b`
 * (classic end record, as our writer makes for small zips). */
static int central_method(const unsigned char *b, size_t n, const char *name)
{
    for (size_t i = 0; i + 46 <= n; i++) {
        size_t nlen = (size_t)(b[i + 28] | b[i + 29] << 8);
        if (memcmp(b + i, "PK\1\2", 4) == 0 && nlen == strlen(name) && i + 46 + nlen <= n &&
            memcmp(b + i + 46, name, nlen) == 0)
            return b[i + 10] | b[i + 11] << 8;
    }
    return -1;
}

Test(archives, zstd_zips_from_our_own_writer_are_served_reproducible_and_smaller)
{
    cJSON *doc = load_doc();
    const cJSON *entries = cJSON_GetObjectItem(find_case(doc, "py_deflated.zip"), "entries");
    char *dir = th_tempdir(), *zp = th_path(dir, "zstd.zip"), *again = th_path(dir, "again.zip"),
         *fast = th_path(dir, "fast.zip");
    write_zstd_zip(zp, entries, -1);
    write_zstd_zip(again, entries, -1);
    write_zstd_zip(fast, entries, 1);
    size_t l1 = 0, l2 = 0, l3 = 0;
    unsigned char *b1 = (unsigned char *)th_read_file(zp, &l1), *b2 = (unsigned char *)th_read_file(again, &l2);
    free(th_read_file(fast, &l3));
    cr_expect(l1 == l2 && memcmp(b1, b2, l1) == 0, "lu_zip_writer zstd output is not byte-identical");
    cr_expect_lt(l1, l3, "level %d (%zu bytes) is not smaller than level 1 (%zu bytes)", LU_ZIP_ZSTD_LEVEL, l1, l3);
    /* compressible entries are zstd; the empty one and the 13-byte one do not shrink: stored */
    cr_expect_eq(central_method(b1, l1, "big.txt"), 93);
    cr_expect_eq(central_method(b1, l1, "dir/b.txt"), 93);
    cr_expect_eq(central_method(b1, l1, "empty.txt"), 0);
    cr_expect_eq(central_method(b1, l1, "a.txt"), 0);
    lu_context *ctx = open_ctx(th_tempdir(), NULL);
    lu_error err;
    char uri[PATH_MAX + 8];
    const char *files[] = {zp, fast};
    for (int i = 0; i < 2; i++) {
        snprintf(uri, sizeof uri, "zip:%s", files[i]);
        char name[16];
        snprintf(name, sizeof name, "v%d", i);
        cr_assert_eq(lu_mount_add(ctx, name, uri, i, 0, &err), LU_OK, "%s: %s", files[i], err.message);
        expect_listing(ctx, name, files[i], entries);
        expect_contents(ctx, name, files[i], "py_deflated.zip", entries);
    }
    lu_context_close(ctx);
    free(b1);
    free(b2);
    cJSON_Delete(doc);
}

/* A counting allocator: allocation number `fail_at` fails. */
static long zcounter, zfail_at;

static void *zcount_realloc(void *ud, void *p, size_t n)
{
    (void)ud;
    if (zfail_at > 0 && ++zcounter == zfail_at) return NULL;
    return realloc(p, n ? n : 1);
}

static void zcount_free(void *ud, void *p)
{
    (void)ud;
    free(p);
}

/* Fails allocation 1, 2, 3 ... of reading `path` from the fixture `file`
 * until a read gets through: each failure is LU_MEM_ERROR with a message
 * and the next read serves the right bytes. Returns the number of
 * allocation points. */
static long read_allocation_points(const char *file, const char *path)
{
    lu_allocator alloc = {zcount_realloc, zcount_free, NULL};
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = th_tempdir();
    cfg.allocator = &alloc;
    zfail_at = 0;
    lu_context *ctx = NULL;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    cr_assert_eq(mount_fixture(ctx, "vol", "zip", file, 1, &err), LU_OK, "%s", err.message);
    long n;
    for (n = 1; n < 1000; n++) {
        zcounter = 0;
        zfail_at = n;
        void *data = NULL;
        size_t size;
        memset(&err, 0, sizeof err);
        lu_status st = lu_read(ctx, path, &data, &size, &err);
        long used = zcounter;
        zfail_at = 0;
        if (st == LU_OK) {
            lu_free(ctx, data);
            if (used < n) break;   /* ran to the end without reaching the fault */
        } else {
            cr_assert_eq(st, LU_MEM_ERROR, "%s fault %ld: %s: %s", file, n, lu_status_name(st), err.message);
            cr_assert(err.message[0], "a failure has a message");
        }
        cr_assert(expect_entry(ctx, "vol", file, file, path), "%s fault %ld", file, n);
    }
    lu_context_close(ctx);
    cr_log_info("%s %s: %ld allocation points, each a LU_MEM_ERROR", file, path, n - 1);
    return n - 1;
}

/* libzstd allocates through the context's allocator (ZSTD_customMem): a
 * zstd read has at least two allocation points more than a stored one (the
 * compressed bytes or the stream's buffers, and zstd's context), each can
 * fail, and each failure is survived. */
Test(archives, every_allocation_failure_of_a_zstd_read_is_a_mem_error)
{
    long stored = read_allocation_points("py_stored.zip", "/big.txt");
    long whole = read_allocation_points("zstd.zip", "/big.txt");
    long streamed = read_allocation_points("zstd_frames.zip", "/a.txt");
    cr_expect_geq(whole, stored + 2, "a zstd read: %ld allocation points, a stored one %ld", whole, stored);
    cr_expect_geq(streamed, stored + 2, "a streamed zstd read: %ld allocation points, a stored one %ld", streamed,
                  stored);
}

Test(archives, the_writer_refuses_unknown_methods_and_levels_naming_the_entry)
{
    char *zp = th_path(th_tempdir(), "bad.zip");
    lu_zip_writer *w;
    lu_error err;
    cr_assert_eq(lu_zip_writer_open(zp, &w, &err), LU_OK, "%s", err.message);
    const struct { int method, level; } bad[] = {{12, 6}, {LU_ZIP_ZSTD, 0}, {LU_ZIP_ZSTD, 99}, {LU_ZIP_DEFLATE, 10}};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&err, 0, sizeof err);
        cr_expect_eq(lu_zip_writer_add_method(w, "x.txt", "xx", 2, bad[i].method, bad[i].level, &err), LU_INVAL,
                     "method %d level %d", bad[i].method, bad[i].level);
        cr_expect(strstr(err.message, "'x.txt'"), "%s", err.message);
    }
    cr_assert_eq(lu_zip_writer_add_method(w, "y.txt", "yy", 2, LU_ZIP_STORED, 0, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_zip_writer_close(w, &err), LU_OK, "%s", err.message);
}

Test(archives, directory_volumes_skip_symlinks_and_report_changed_files)
{
    char *d = th_tempdir(), *sub = th_path(d, "s");
    cr_assert_eq(mkdir(sub, 0755), 0);
    th_write_file(th_path(sub, "f.txt"), "12345", 5);
    cr_assert_eq(symlink("/etc/passwd", th_path(d, "link")), 0);
    lu_context *ctx = open_ctx(th_tempdir(), NULL);
    lu_error err;
    char uri[PATH_MAX + 8];
    snprintf(uri, sizeof uri, "dir:%s", d);
    cr_assert_eq(lu_mount_add(ctx, "vol", uri, 1, 0, &err), LU_OK, "%s", err.message);
    cr_assert_not(lu_exists(ctx, "/link"), "symlinks are not followed");
    cr_assert_str_eq(th_read(ctx, "/s/f.txt"), "12345");
    th_write_file(th_path(sub, "f.txt"), "1234567", 7);
    void *data;
    size_t size;
    cr_assert_eq(lu_read(ctx, "/s/f.txt", &data, &size, &err), LU_FORMAT_ERROR);
    cr_assert(strstr(err.message, "changed size"), "%s", err.message);
    lu_context_close(ctx);
}

/* Our writer at and past the 16-bit entry count: `count` entries of the
 * fixtures' pattern, then mounted and read back. From 65,535 entries on the
 * end record must be zip64's (count in its 8-byte field; Python reads it). */
static void own_writer_entries(int count)
{
    char *zp = th_path(th_tempdir(), "many.zip");
    lu_zip_writer *w;
    lu_error err;
    cr_assert_eq(lu_zip_writer_open(zp, &w, &err), LU_OK, "%s", err.message);
    for (int i = 0; i < count; i++) {
        char name[32], data[32];
        snprintf(name, sizeof name, "e/%05d.txt", i);
        int len = snprintf(data, sizeof data, "entry %d\n", i);
        cr_assert_eq(lu_zip_writer_add(w, name, data, (size_t)len, 0, &err), LU_OK, "%s", err.message);
    }
    cr_assert_eq(lu_zip_writer_close(w, &err), LU_OK, "%s", err.message);
    size_t len = 0;
    unsigned char *blob = (unsigned char *)th_read_file(zp, &len);
    cr_assert(len > 22 + 56 + 20);
    const unsigned char *eocd = blob + len - 22, *loc = eocd - 20, *eocd64 = loc - 56;
    cr_assert_eq(memcmp(eocd, "PK\5\6", 4), 0, "no end record at the end of the file");
    if (count >= 0xffff) {
        cr_assert_eq(memcmp(loc, "PK\6\7", 4), 0, "%d entries but no zip64 locator", count);
        cr_assert_eq(memcmp(eocd64, "PK\6\6", 4), 0, "%d entries but no zip64 end record", count);
        uint64_t n = 0;
        for (int i = 7; i >= 0; i--) n = n << 8 | eocd64[32 + i];
        cr_assert_eq(n, (uint64_t)count, "zip64 end record counts %llu entries", (unsigned long long)n);
    } else {
        cr_assert_eq(eocd[10] | eocd[11] << 8, count, "end record counts %d", eocd[10] | eocd[11] << 8);
    }
    free(blob);
    lu_context *ctx = open_ctx(th_tempdir(), NULL);
    char uri[PATH_MAX + 8];
    snprintf(uri, sizeof uri, "zip:%s", zp);
    cr_assert_eq(lu_mount_add(ctx, "vol", uri, 1, 0, &err), LU_OK, "%s", err.message);
    cJSON *pattern = cJSON_CreateObject();
    cJSON_AddNumberToObject(pattern, "count", count);
    cJSON_AddStringToObject(pattern, "name", "e/%05d.txt");
    cJSON_AddStringToObject(pattern, "data", "entry %d\n");
    check_pattern(ctx, "our writer", pattern);
    cJSON_Delete(pattern);
    lu_context_close(ctx);
}

Test(archives, our_writer_at_65535_entries_is_served, .timeout = 120) { own_writer_entries(65535); }
Test(archives, our_writer_past_65535_entries_writes_zip64_and_is_served, .timeout = 120) { own_writer_entries(70000); }
