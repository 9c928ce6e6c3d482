/* test_reads.c -- reads of zip entries after their first read.
 *
 * The first read of an entry checks its central record, its local header
 * (signature, name, extra length) and its CRC; every later read is one
 * pread at the data offset the first one learned, the CRC checked again.
 * The preads are counted through lu_io_hooks.pread (the zip backend reads
 * through the context's hooks); that later reads never look at the local
 * header or the central record again is shown by damaging those bytes in
 * place (the volume's open file sees the change) after the first read.
 * The last test makes the first reads of one volume's entries from
 * several threads at once (run it under ASan and TSan).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/stat.h>

#include "helpers.h"

TestSuite(reads);

static _Atomic long preads;
static _Atomic bool fail_preads;   /* every pread fails with EIO */

static long counting_pread(void *ud, int fd, void *buf, size_t n, long long off)
{
    (void)ud;
    preads++;
    if (fail_preads) {
        errno = EIO;
        return -1;
    }
    return pread(fd, buf, n, (off_t)off);
}

static const lu_io_hooks counting = {.pread = counting_pread};

static lu_context *open_counting(void)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = th_tempdir();
    cfg.io = &counting;
    lu_context *ctx = NULL;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    return ctx;
}

static void mount(lu_context *ctx, const char *zip)
{
    char uri[4200];
    snprintf(uri, sizeof uri, "zip:%s", zip);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "v", uri, 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
}

/* The content of entry i of the test zips: compressible, distinct; made
 * once (make_zip) before any thread reads it. */
static char contents[64][1200];

static const char *content(int i)
{
    return contents[i];
}

static void make_contents(void)
{
    for (int i = 0; i < 64; i++) {
        int n = snprintf(contents[i], sizeof contents[i], "entry %d:", i);
        while (n < 1000) n += snprintf(contents[i] + n, sizeof contents[i] - (size_t)n, " line %d of entry %d", n, i);
    }
}

static const char *const names[] = {"s.txt", "d.txt", "z.txt"};
static const lu_zip_method methods[] = {LU_ZIP_STORED, LU_ZIP_DEFLATE, LU_ZIP_ZSTD};

/* A zip of `n` entries e/<i>.txt (or, n == 3, s.txt stored, d.txt
 * deflated, z.txt zstd), methods cycling stored, deflate, zstd. */
static char *make_zip(int n)
{
    char *zp = th_path(th_tempdir(), "v.zip");
    make_contents();
    lu_zip_writer *w;
    lu_error err;
    cr_assert_eq(lu_zip_writer_open(zp, &w, &err), LU_OK, "%s", err.message);
    for (int i = 0; i < n; i++) {
        char name[32];
        if (n == 3) snprintf(name, sizeof name, "%s", names[i]);
        else snprintf(name, sizeof name, "e/%d.txt", i);
        const char *c = content(i);
        cr_assert_eq(lu_zip_writer_add_method(w, name, c, strlen(c), methods[i % 3], -1, &err), LU_OK, "%s",
                     err.message);
    }
    cr_assert_eq(lu_zip_writer_close(w, &err), LU_OK, "%s", err.message);
    return zp;
}

static unsigned le16(const unsigned char *p)
{
    return p[0] | (unsigned)p[1] << 8;
}

/* Where `name`'s local header (local) and central record (cen) are. */
static void find_records(const char *zip, const char *name, long *local, long *cen)
{
    size_t len = 0, nlen = strlen(name);
    unsigned char *b = (unsigned char *)th_read_file(zip, &len);
    *local = *cen = -1;
    for (size_t i = 0; i + 46 + nlen <= len; i++) {
        if (b[i] != 'P' || b[i + 1] != 'K') continue;
        if (b[i + 2] == 3 && b[i + 3] == 4 && le16(b + i + 26) == nlen && memcmp(b + i + 30, name, nlen) == 0)
            *local = (long)i;
        if (b[i + 2] == 1 && b[i + 3] == 2 && le16(b + i + 28) == nlen && memcmp(b + i + 46, name, nlen) == 0)
            *cen = (long)i;
    }
    cr_assert(*local >= 0 && *cen >= 0, "%s has no records for %s", zip, name);
}

/* Overwrites one byte of `zip` in place; returns the byte it held. */
static unsigned char poke(const char *zip, long off, unsigned char v)
{
    int fd = open(zip, O_RDWR);
    unsigned char old;
    cr_assert(fd >= 0 && pread(fd, &old, 1, off) == 1 && pwrite(fd, &v, 1, off) == 1);
    close(fd);
    return old;
}

static void expect_read(lu_context *ctx, const char *path, const char *want)
{
    void *data;
    size_t size;
    lu_error err;
    cr_assert_eq(lu_read(ctx, path, &data, &size, &err), LU_OK, "%s: %s", path, err.message);
    cr_assert(size == strlen(want) && memcmp(data, want, size) == 0, "%s: wrong bytes", path);
    lu_free(ctx, data);
}

static void expect_failure(lu_context *ctx, const char *path, lu_status st, const char *message)
{
    void *data;
    size_t size;
    lu_error err;
    cr_assert_eq(lu_read(ctx, path, &data, &size, &err), st, "%s: %s", path, err.message);
    cr_assert_null(data);
    cr_assert(strstr(err.message, message), "%s: message '%s' lacks '%s'", path, err.message, message);
}

Test(reads, a_read_after_the_first_makes_one_pread_for_every_method)
{
    char *zp = make_zip(3);
    lu_context *ctx = open_counting();
    mount(ctx, zp);
    for (int i = 0; i < 3; i++) {
        char path[16];
        snprintf(path, sizeof path, "/%s", names[i]);
        preads = 0;
        expect_read(ctx, path, content(i));
        cr_assert_eq(preads, 3, "%s: the first read makes %ld preads (central record, local header, data)", path,
                     (long)preads);
        for (int again = 0; again < 3; again++) {
            preads = 0;
            expect_read(ctx, path, content(i));
            cr_assert_eq(preads, 1, "%s: read %d makes %ld preads, not one", path, again + 2, (long)preads);
        }
    }
    lu_context_close(ctx);
}

Test(reads, later_reads_skip_the_headers_but_check_the_crc)
{
    char *zp = make_zip(3);
    lu_context *ctx = open_counting();
    mount(ctx, zp);
    expect_read(ctx, "/s.txt", content(0));
    long local, cen;
    find_records(zp, "s.txt", &local, &cen);
    poke(zp, local, 'X');   /* no local header signature */
    poke(zp, cen, 'X');     /* no central record signature */
    expect_read(ctx, "/s.txt", content(0));   /* neither is read again */
    poke(zp, local + 30 + 5 + 10, '#');       /* a byte of the stored data */
    expect_failure(ctx, "/s.txt", LU_FORMAT_ERROR, "entry 's.txt': CRC mismatch");
    expect_failure(ctx, "/s.txt", LU_FORMAT_ERROR, "entry 's.txt': CRC mismatch");
    lu_context_close(ctx);
}

Test(reads, a_damaged_local_header_fails_every_first_read_with_its_message)
{
    static const struct {
        long at;            /* from the local header */
        unsigned char to;
        const char *message;
    } cases[] = {
        {0, 'X', "entry 's.txt': bad local header"},
        {30, 't', "entry 's.txt': the local header names 't.txt' instead"},
        {28, 0xff, "entry 's.txt': its data overlaps the next entry or the central directory"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        for (int before_mount = 0; before_mount < 2; before_mount++) {
            char *zp = make_zip(3);
            long local, cen;
            find_records(zp, "s.txt", &local, &cen);
            lu_context *ctx = open_counting();
            unsigned char old = 0;
            if (before_mount) old = poke(zp, local + cases[k].at, cases[k].to);
            mount(ctx, zp);
            if (!before_mount) old = poke(zp, local + cases[k].at, cases[k].to);
            /* the failure teaches nothing: the next read checks again */
            expect_failure(ctx, "/s.txt", LU_FORMAT_ERROR, cases[k].message);
            expect_failure(ctx, "/s.txt", LU_FORMAT_ERROR, cases[k].message);
            expect_read(ctx, "/d.txt", content(1));
            poke(zp, local + cases[k].at, old);   /* repaired: it reads, then in one pread */
            expect_read(ctx, "/s.txt", content(0));
            preads = 0;
            expect_read(ctx, "/s.txt", content(0));
            cr_assert_eq(preads, 1);
            lu_context_close(ctx);
        }
    }
}

/* A read error is LU_IO_ERROR (the volume may read at the next attempt;
 * pruning keeps a volume whose version file fails so), at a first read and
 * at a later one; it was LU_FORMAT_ERROR, "data ends early". */
Test(reads, a_failing_pread_is_an_io_error_at_first_and_later_reads)
{
    char *zp = make_zip(3);
    lu_context *ctx = open_counting();
    mount(ctx, zp);
    expect_read(ctx, "/d.txt", content(1));
    fail_preads = true;
    expect_failure(ctx, "/s.txt", LU_IO_ERROR, "entry 's.txt': cannot read its central-directory record: ");
    expect_failure(ctx, "/d.txt", LU_IO_ERROR, "entry 'd.txt': cannot read its data: ");
    fail_preads = false;
    expect_read(ctx, "/s.txt", content(0));
    expect_read(ctx, "/d.txt", content(1));
    lu_context_close(ctx);
}

/* ---- first reads from several threads ---------------------------------- */

#define THREADS 4
#define ENTRIES 60

typedef struct reader {
    lu_context *ctx;
    pthread_barrier_t *start;
    int first, bad;
} reader;

static void *read_all(void *arg)
{
    reader *r = arg;
    pthread_barrier_wait(r->start);
    for (int k = 0; k < ENTRIES; k++) {
        int i = (r->first + k) % ENTRIES;
        char path[32];
        snprintf(path, sizeof path, "/e/%d.txt", i);
        void *data;
        size_t size;
        lu_error err;
        if (lu_read(r->ctx, path, &data, &size, &err) != LU_OK) {
            r->bad++;
            continue;
        }
        const char *want = content(i);
        if (size != strlen(want) || memcmp(data, want, size) != 0) r->bad++;
        lu_free(r->ctx, data);
    }
    return NULL;
}

Test(reads, first_reads_of_the_same_entries_from_several_threads_are_correct, .timeout = 120)
{
    char *zp = make_zip(ENTRIES);
    for (int round = 0; round < 20; round++) {
        lu_context *ctx = open_counting();
        mount(ctx, zp);
        pthread_barrier_t start;
        pthread_barrier_init(&start, NULL, THREADS);
        pthread_t t[THREADS];
        reader r[THREADS];
        for (int i = 0; i < THREADS; i++) {
            /* half the threads in step (the same entry at once), half offset */
            r[i] = (reader){ctx, &start, i % 2 ? 0 : round % ENTRIES, 0};
            cr_assert_eq(pthread_create(&t[i], NULL, read_all, &r[i]), 0);
        }
        for (int i = 0; i < THREADS; i++) {
            pthread_join(t[i], NULL);
            cr_assert_eq(r[i].bad, 0, "round %d: thread %d read %d entries wrong", round, i, r[i].bad);
        }
        pthread_barrier_destroy(&start);
        for (int i = 0; i < ENTRIES; i += 7) {
            char path[32];
            snprintf(path, sizeof path, "/e/%d.txt", i);
            preads = 0;
            expect_read(ctx, path, content(i));
            cr_assert_eq(preads, 1, "round %d: %s after the threads' reads", round, path);
        }
        lu_context_close(ctx);
    }
}

/* ---- the entry table's sort ---------------------------------------------- */

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Writes `n` empty stored entries named names[i] and mounts them. */
static lu_status mount_names(lu_context *ctx, char **names_, size_t n, lu_error *err)
{
    char *zp = th_path(th_tempdir(), "names.zip");
    lu_zip_writer *w;
    cr_assert_eq(lu_zip_writer_open(zp, &w, err), LU_OK, "%s", err->message);
    for (size_t i = 0; i < n; i++)
        cr_assert_eq(lu_zip_writer_add_method(w, names_[i], "", 0, LU_ZIP_STORED, -1, err), LU_OK, "%s", err->message);
    cr_assert_eq(lu_zip_writer_close(w, err), LU_OK, "%s", err->message);
    char uri[4200];
    snprintf(uri, sizeof uri, "zip:%s", zp);
    return lu_mount_add(ctx, "v", uri, 1, LU_MOUNT_NO_PERSIST, err);
}

/* Random names (components of a, b, z and the two bytes of "é" joined by
 * '/', so bytes above 0x7f and paths that are prefixes of others), many
 * sharing 8 bytes after their common prefix "p/q" (runs the radix keys
 * cannot order), in 40,000 entries (16-bit digits) and in 300 (8-bit):
 * the listing is in strcmp order, listings of a prefix (found in the
 * volume's path order) hold exactly the names under it, and lu_read_from
 * (a binary search of that order) finds every name. */
Test(reads, the_entry_table_sorts_as_strcmp_does, .timeout = 120)
{
    static const char *const parts[] = {"a", "b", "z", "\xc3\xa9", "aaaaaaaaaaaa", "zzzzzzzzzzzz"};
    const size_t sizes[] = {300, 40000};
    srand(17);
    for (int s = 0; s < 2; s++) {
        size_t n = sizes[s], m = 0;
        char **names_ = malloc(n * sizeof *names_);
        for (size_t i = 0; i < n; i++) {
            char name[128] = "p/q";
            size_t len = 3;
            int comps = 1 + rand() % 3;
            for (int c = 0; c < comps; c++) {
                if (c) name[len++] = '/';
                int parts_in = 1 + rand() % 4;
                for (int k = 0; k < parts_in; k++) len += (size_t)sprintf(name + len, "%s", parts[rand() % 6]);
            }
            names_[i] = TH_KEEP(strdup(name));
        }
        qsort(names_, n, sizeof *names_, cmp_str);
        for (size_t i = 0; i < n; i++)   /* unique, and no name that is also a directory of another */
            if (!m || strcmp(names_[i], names_[m - 1]) != 0) names_[m++] = names_[i];
        size_t k = 0;
        for (size_t i = 0; i < m; i++) {
            size_t len = strlen(names_[i]);
            if (i + 1 < m && strncmp(names_[i + 1], names_[i], len) == 0 && names_[i + 1][len] == '/') continue;
            names_[k++] = names_[i];
        }
        m = k;
        /* written in a shuffled order */
        char **shuffled = malloc(m * sizeof *shuffled);
        memcpy(shuffled, names_, m * sizeof *shuffled);
        for (size_t i = m; i > 1; i--) {
            size_t j = (size_t)rand() % i;
            char *t = shuffled[i - 1];
            shuffled[i - 1] = shuffled[j];
            shuffled[j] = t;
        }
        lu_context *ctx = open_counting();
        lu_error err;
        cr_assert_eq(mount_names(ctx, shuffled, m, &err), LU_OK, "%s", err.message);
        char **list;
        size_t count;
        cr_assert_eq(lu_list_paths(ctx, "/", NULL, &list, &count, &err), LU_OK, "%s", err.message);
        cr_assert_eq(count, m);
        for (size_t i = 0; i < m; i++)
            cr_assert_str_eq(list[i] + 1, names_[i], "%zu entries: position %zu", m, i);
        lu_free(ctx, list);
        /* a prefix's range is found in the volume's path order (a wrong
         * order drops or adds names), the merged listing and the mount's */
        static const char *const prefixes[] = {"/p/qa", "/p/qzzzzzzzzzzzzb", "/p/q\xc3\xa9/", "/p/qaaaaaaaaaaaaz/a"};
        for (size_t pi = 0; pi < 4; pi++)
            for (int only = 0; only < 2; only++) {
                cr_assert_eq(lu_list_paths(ctx, prefixes[pi], only ? "v" : NULL, &list, &count, &err), LU_OK, "%s",
                             err.message);
                size_t want_n = 0, plen = strlen(prefixes[pi]);
                for (size_t i = 0; i < m; i++)
                    if (strncmp(names_[i], prefixes[pi] + 1, plen - 1) == 0)
                        cr_assert_str_eq(list[want_n++] + 1, names_[i], "prefix '%s', %zu entries", prefixes[pi], m);
                cr_assert_eq(count, want_n, "prefix '%s', %zu entries", prefixes[pi], m);
                lu_free(ctx, list);
            }
        /* lu_read_from finds every name by a binary search of that order */
        for (size_t i = 0; i < m; i++) {
            char path[160];
            snprintf(path, sizeof path, "/%s", names_[i]);
            void *data;
            size_t size;
            cr_assert_eq(lu_read_from(ctx, "v", path, &data, &size, &err), LU_OK, "%zu entries: %s", m, err.message);
            lu_free(ctx, data);
        }
        lu_context_close(ctx);
        /* a duplicate inside a run of equal keys is found */
        shuffled[m / 2] = shuffled[m / 3];
        ctx = open_counting();
        cr_assert_eq(mount_names(ctx, shuffled, m, &err), LU_UNSAFE_ARCHIVE);
        char want[160];
        snprintf(want, sizeof want, "entry '%s': duplicate name", shuffled[m / 3]);
        cr_assert(strstr(err.message, want), "%s", err.message);
        lu_context_close(ctx);
        free(shuffled);
        free(names_);
    }
}

/* ---- dir: volumes ------------------------------------------------------- */

/* A file of a dir: volume is read through the hooks too, whole and
 * streamed: one pread for a small file, and a failing pread is an I/O
 * error naming the file (it was a direct pread that no hook saw). */
Test(reads, a_dir_volume_reads_through_the_io_hooks)
{
    char *dir = th_path(th_tempdir(), "folder");
    cr_assert_eq(mkdir(dir, 0755), 0);
    th_write_file(th_path(dir, "a.txt"), "folder bytes", 12);
    lu_context *ctx = open_counting();
    char uri[4200];
    snprintf(uri, sizeof uri, "dir:%s", dir);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "f", uri, 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    preads = 0;
    expect_read(ctx, "/a.txt", "folder bytes");
    cr_assert_eq(preads, 1);
    lu_file *f = NULL;
    cr_assert_eq(lu_open(ctx, "/a.txt", &f, &err), LU_OK, "%s", err.message);
    char buf[32];
    size_t got = 0;
    preads = 0;
    cr_assert_eq(lu_read_some(f, buf, sizeof buf, &got, &err), LU_OK, "%s", err.message);
    cr_assert_eq(got, 12);
    cr_assert_eq(preads, 1);
    lu_close(f);
    fail_preads = true;
    expect_failure(ctx, "/a.txt", LU_IO_ERROR, "reading 'a.txt' failed: ");
    fail_preads = false;
    lu_context_close(ctx);
}
