/* test_stream.c -- streaming reads (lu_open, lu_read_some, lu_seek,
 * lu_file_size, lu_file_tell, lu_close; engine/core/stream.c and the
 * backends' stream ops).
 *
 * Zips written by the library's writer hold the same data stored, deflated
 * and zstd-compressed; every way of reading them in pieces (chunks of 1, 7,
 * 4096 and 65536 bytes, seeks forward, backward and to the end) must give
 * lu_read's bytes, and every fixture of tests/fixtures/make_zips.py must
 * stream as it reads whole (the same bytes, or a failure of the same
 * status). The heap is measured by counting bytes through the context's
 * allocator, never by time.
 */
#include <cjson/cJSON.h>
#include <pthread.h>

#include "helpers.h"
#include "internal.h"

TestSuite(stream);

/* ---- data and volumes ----------------------------------------------------- */

/* `n` bytes of text-like data (compressible, not trivially). */
static unsigned char *make_data(size_t n, uint32_t seed)
{
    static const char *const words[] = {"level", "sprite", "atlas", "sound", "proxy", "mount", "chunk", "zstd\n"};
    unsigned char *d = TH_KEEP(malloc(n ? n : 1));
    size_t i = 0;
    while (i < n) {
        seed = seed * 1103515245u + 12345u;
        const char *w = words[(seed >> 16) & 7];
        for (size_t k = 0; w[k] && i < n; k++) d[i++] = (unsigned char)w[k];
        if (i < n) d[i++] = (unsigned char)((seed >> 8) & 0xff);
    }
    return d;
}

#define BIG (300u << 10)

static const char *const methods[] = {"/stored.bin", "/deflated.bin", "/zstd.bin"};

/* A zip with the same BIG bytes stored, deflated and zstd-compressed, an
 * empty entry per method, a small one and a directory entry "dir/". */
static char *make_volume(const unsigned char *data)
{
    char *zp = th_path(th_tempdir(), "v.zip");
    lu_zip_writer *w;
    lu_error err;
    cr_assert_eq(lu_zip_writer_open(zp, &w, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_zip_writer_add_method(w, "stored.bin", data, BIG, LU_ZIP_STORED, 0, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_zip_writer_add_method(w, "deflated.bin", data, BIG, LU_ZIP_DEFLATE, 6, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_zip_writer_add_method(w, "zstd.bin", data, BIG, LU_ZIP_ZSTD, 3, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_zip_writer_add_method(w, "empty_stored", "", 0, LU_ZIP_STORED, 0, &err), LU_OK);
    cr_assert_eq(lu_zip_writer_add_method(w, "empty_deflated", "", 0, LU_ZIP_DEFLATE, 6, &err), LU_OK);
    cr_assert_eq(lu_zip_writer_add_method(w, "small.txt", "hello\n", 6, LU_ZIP_DEFLATE, 6, &err), LU_OK);
    cr_assert_eq(lu_zip_writer_add(w, "dir/", "", 0, 0, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_zip_writer_close(w, &err), LU_OK, "%s", err.message);
    return zp;
}

static lu_context *ctx_with(const char *zip, const lu_allocator *alloc)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = th_tempdir();
    cfg.allocator = alloc;
    lu_context *ctx = NULL;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    if (zip) {
        char uri[PATH_MAX + 8];
        snprintf(uri, sizeof uri, "zip:%s", zip);
        cr_assert_eq(lu_mount_add(ctx, "vol", uri, 1, 0, &err), LU_OK, "%s", err.message);
    }
    return ctx;
}

/* Reads the rest of `f` in chunks of `chunk` into a malloc'd buffer. */
static unsigned char *read_rest(lu_file *f, size_t chunk, size_t *len)
{
    size_t cap = (size_t)(lu_file_size(f) - lu_file_tell(f)) + 1, n = 0;
    unsigned char *buf = TH_KEEP(malloc(cap + chunk));
    lu_error err;
    for (;;) {
        size_t got = 12345;
        lu_status st = lu_read_some(f, buf + n, chunk, &got, &err);
        cr_assert_eq(st, LU_OK, "read_some(%zu) at %zu: %s", chunk, n, err.message);
        if (got == 0) break;
        cr_assert_leq(got, chunk);
        n += got;
        cr_assert_leq(n, cap, "more bytes than the size");
        cr_assert_eq(lu_file_tell(f), (uint64_t)n + (lu_file_size(f) - (cap - 1)));
    }
    *len = n;
    return buf;
}

static lu_file *must_open(lu_context *ctx, const char *path)
{
    lu_file *f = NULL;
    lu_error err;
    cr_assert_eq(lu_open(ctx, path, &f, &err), LU_OK, "open %s: %s", path, err.message);
    cr_assert_not_null(f);
    return f;
}

static void expect_bytes_at(lu_file *f, const unsigned char *data, uint64_t at, size_t n, const char *what)
{
    unsigned char *buf = TH_KEEP(malloc(n + 1));
    size_t have = 0;
    lu_error err;
    while (have < n) {
        size_t got;
        cr_assert_eq(lu_read_some(f, buf + have, n - have, &got, &err), LU_OK, "%s: %s", what, err.message);
        cr_assert_gt(got, 0, "%s: end of file at %llu", what, (unsigned long long)(at + have));
        have += got;
    }
    cr_assert(memcmp(buf, data + at, n) == 0, "%s: bytes at %llu differ", what, (unsigned long long)at);
    free(buf);
}

/* ---- reading in chunks ------------------------------------------------------ */

Test(stream, chunks_of_1_7_4096_and_65536_bytes_give_lu_reads_bytes_for_every_method, .timeout = 120)
{
    unsigned char *data = make_data(BIG, 1);
    lu_context *ctx = ctx_with(make_volume(data), NULL);
    static const size_t chunks[] = {1, 7, 4096, 65536};
    const char *paths[] = {"/stored.bin", "/deflated.bin", "/zstd.bin", "/empty_stored", "/empty_deflated", "/small.txt"};
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
        void *whole;
        size_t size;
        lu_error err;
        cr_assert_eq(lu_read(ctx, paths[p], &whole, &size, &err), LU_OK, "%s", err.message);
        for (size_t c = 0; c < 4; c++) {
            lu_file *f = must_open(ctx, paths[p]);
            cr_assert_eq(lu_file_size(f), size, "%s", paths[p]);
            cr_assert_eq(lu_file_tell(f), 0);
            size_t n;
            unsigned char *got = read_rest(f, chunks[c], &n);
            cr_assert_eq(n, size, "%s in chunks of %zu: %zu bytes of %zu", paths[p], chunks[c], n, size);
            cr_assert(memcmp(got, whole, size) == 0, "%s in chunks of %zu: bytes differ", paths[p], chunks[c]);
            size_t again = 1;
            cr_assert_eq(lu_read_some(f, got, 16, &again, &err), LU_OK);
            cr_assert_eq(again, 0, "past the end: 0 bytes");
            free(got);
            lu_close(f);
        }
        cr_assert(size == 0 || size == 6 || memcmp(whole, data, BIG) == 0);
        lu_free(ctx, whole);
    }
    lu_close(NULL);
    lu_context_close(ctx);
}

/* ---- seeking ------------------------------------------------------------------ */

Test(stream, seeks_forward_backward_and_to_the_end_for_every_method, .timeout = 60)
{
    unsigned char *data = make_data(BIG, 2);
    lu_context *ctx = ctx_with(make_volume(data), NULL);
    for (size_t m = 0; m < 3; m++) {
        lu_file *f = must_open(ctx, methods[m]);
        lu_error err;
        expect_bytes_at(f, data, 0, 100, methods[m]);
        cr_assert_eq(lu_seek(f, 200000, &err), LU_OK, "%s: %s", methods[m], err.message);   /* forward */
        cr_assert_eq(lu_file_tell(f), 200000);
        expect_bytes_at(f, data, 200000, 5000, methods[m]);
        cr_assert_eq(lu_seek(f, 10, &err), LU_OK, "%s: %s", methods[m], err.message);       /* backward */
        cr_assert_eq(lu_file_tell(f), 10);
        expect_bytes_at(f, data, 10, 70000, methods[m]);
        cr_assert_eq(lu_seek(f, 70010, &err), LU_OK);                                          /* where it is */
        expect_bytes_at(f, data, 70010, 10, methods[m]);
        cr_assert_eq(lu_seek(f, BIG - 3, &err), LU_OK);
        expect_bytes_at(f, data, BIG - 3, 3, methods[m]);
        cr_assert_eq(lu_seek(f, BIG, &err), LU_OK, "%s: to the end: %s", methods[m], err.message);
        size_t got = 1;
        unsigned char b[8];
        cr_assert_eq(lu_read_some(f, b, sizeof b, &got, &err), LU_OK);
        cr_assert_eq(got, 0, "%s: at the end", methods[m]);
        /* past the end: an error naming the entry; nothing moved */
        memset(&err, 0, sizeof err);
        cr_assert_eq(lu_seek(f, BIG + 1, &err), LU_INVAL);
        cr_assert(strstr(err.message, methods[m]) && strstr(err.message, "past its end"), "%s", err.message);
        cr_assert_eq(lu_file_tell(f), BIG);
        cr_assert_eq(lu_seek(f, 0, &err), LU_OK);   /* the file still works */
        size_t n;
        unsigned char *all = read_rest(f, 4096, &n);
        cr_assert(n == BIG && memcmp(all, data, BIG) == 0, "%s: whole after seeks", methods[m]);
        free(all);
        lu_close(f);
    }
    lu_context_close(ctx);
}

/* ---- the CRC ------------------------------------------------------------------ */

/* Flips the CRC of every central-directory record of the zip at `path`. */
static void spoil_crcs(const char *path)
{
    size_t len = 0;
    unsigned char *z = (unsigned char *)th_read_file(path, &len);
    for (size_t i = 0; i + 46 <= len; i++)
        if (z[i] == 'P' && z[i + 1] == 'K' && z[i + 2] == 1 && z[i + 3] == 2) z[i + 16] ^= 0x5a;
    th_write_file(path, z, len);
}

Test(stream, a_crc_mismatch_fails_the_read_that_reaches_the_end_naming_the_entry, .timeout = 60)
{
    unsigned char *data = make_data(BIG, 3);
    char *zp = make_volume(data);
    spoil_crcs(zp);
    lu_context *ctx = ctx_with(zp, NULL);
    for (size_t m = 0; m < 3; m++) {
        lu_file *f = must_open(ctx, methods[m]);
        unsigned char *buf = TH_KEEP(malloc(65536));
        uint64_t total = 0;
        lu_error err;
        lu_status st = LU_OK;
        size_t got = 0;
        for (;;) {
            memset(&err, 0, sizeof err);
            st = lu_read_some(f, buf, 65536, &got, &err);
            if (st != LU_OK || got == 0) break;
            cr_assert(memcmp(buf, data + total, got) == 0);
            total += got;
        }
        cr_assert_eq(st, LU_FORMAT_ERROR, "%s: %s", methods[m], lu_status_name(st));
        cr_assert_eq(got, 0);
        cr_assert_gt(total + 65536, BIG, "%s: failed at %llu, before the last read", methods[m], (unsigned long long)total);
        cr_assert(strstr(err.message, "CRC mismatch") && strstr(err.message, methods[m] + 1) &&
                  strstr(err.message, "mount 'vol'"), "%s", err.message);
        /* final: the next read and seek give the same status */
        cr_assert_eq(lu_read_some(f, buf, 10, &got, &err), LU_FORMAT_ERROR);
        cr_assert_eq(lu_seek(f, 0, &err), LU_FORMAT_ERROR);
        lu_close(f);
        /* reading out of order does not check it; a pass from 0 does, and a seek to the end that decodes */
        f = must_open(ctx, methods[m]);
        cr_assert_eq(lu_seek(f, BIG - 10, &err), m == 0 ? LU_OK : LU_OK);
        cr_assert_eq(lu_read_some(f, buf, 10, &got, &err), m == 0 ? LU_OK : LU_FORMAT_ERROR, "%s", methods[m]);
        lu_close(f);
        f = must_open(ctx, methods[m]);
        cr_assert_eq(lu_seek(f, BIG, &err), m == 0 ? LU_OK : LU_FORMAT_ERROR, "%s", methods[m]);
        lu_close(f);
        free(buf);
    }
    lu_context_close(ctx);
}

/* A stored entry read out of order: the CRC is checked once the skipped
 * bytes have been read too (the chain goes on from where it stopped). */
Test(stream, a_stored_entry_read_out_of_order_is_checked_once_every_byte_passed)
{
    unsigned char *data = make_data(BIG, 10);
    char *zp = make_volume(data);
    spoil_crcs(zp);
    lu_context *ctx = ctx_with(zp, NULL);
    lu_file *f = must_open(ctx, "/stored.bin");
    lu_error err;
    expect_bytes_at(f, data, 0, 1000, "head");
    cr_assert_eq(lu_seek(f, 200000, &err), LU_OK);
    expect_bytes_at(f, data, 200000, BIG - 200000, "tail");   /* the end, the chain broken: no check yet */
    cr_assert_eq(lu_seek(f, BIG, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_seek(f, 500, &err), LU_OK);   /* from inside the chain: it goes on */
    static unsigned char b[BIG];
    uint64_t at = 500;
    lu_status st;
    size_t got;
    while ((st = lu_read_some(f, b, 70000, &got, &err)) == LU_OK && got) {
        cr_assert(memcmp(b, data + at, got) == 0);
        at += got;
    }
    cr_assert_eq(st, LU_FORMAT_ERROR, "the chain reaches the end: the CRC is checked (%s at %llu: %s)", lu_status_name(st), (unsigned long long)at, st ? err.message : "");
    cr_assert_gt(at + 70000, BIG, "at %llu", (unsigned long long)at);
    cr_assert(strstr(err.message, "CRC mismatch"), "%s", err.message);
    lu_close(f);
    lu_context_close(ctx);
}

/* ---- lifetime ------------------------------------------------------------------ */

Test(stream, removing_the_mount_while_a_file_is_open_leaves_the_file_reading)
{
    unsigned char *data = make_data(BIG, 4);
    char *zp = make_volume(data);
    lu_context *ctx = ctx_with(zp, NULL);
    lu_file *f[3];
    for (size_t m = 0; m < 3; m++) {
        f[m] = must_open(ctx, methods[m]);
        expect_bytes_at(f[m], data, 0, 1000, methods[m]);
    }
    lu_error err;
    cr_assert_eq(lu_mount_remove(ctx, "vol", &err), LU_OK, "%s", err.message);
    cr_assert_not(lu_exists(ctx, "/stored.bin"));
    /* the volume's file replaced on disk as well: the open descriptor keeps the old bytes */
    cr_assert_eq(unlink(zp), 0);
    for (size_t m = 0; m < 3; m++) {
        expect_bytes_at(f[m], data, 1000, BIG - 1000, methods[m]);
        cr_assert_eq(lu_seek(f[m], 5, &err), LU_OK);
        expect_bytes_at(f[m], data, 5, 10, methods[m]);
    }
    for (size_t m = 0; m < 3; m++) lu_close(f[m]);   /* the last user: the volume closes here (ASan checks) */
    lu_context_close(ctx);
}

Test(stream, open_refuses_missing_paths_directory_entries_and_bad_paths)
{
    unsigned char *data = make_data(BIG, 5);
    lu_context *ctx = ctx_with(make_volume(data), NULL);
    lu_file *f = (lu_file *)1;
    lu_error err;
    cr_assert_eq(lu_open(ctx, "/missing.bin", &f, &err), LU_NOT_FOUND);
    cr_assert_null(f);
    cr_assert(strstr(err.message, "/missing.bin"), "%s", err.message);
    cr_assert_eq(lu_open(ctx, "/dir", &f, &err), LU_NOT_FOUND, "a directory entry is not a resource");
    cr_assert(strstr(err.message, "/dir"), "%s", err.message);
    cr_assert_eq(lu_open(ctx, "stored.bin", &f, &err), LU_INVAL);
    cr_assert_eq(lu_open(ctx, "/a/../stored.bin", &f, &err), LU_INVAL);
    cr_assert_eq(lu_open(ctx, NULL, &f, &err), LU_INVAL);
    cr_assert_eq(lu_open(NULL, "/stored.bin", &f, &err), LU_NOT_INITIALIZED);
    cr_assert_null(f);
    size_t got;
    cr_assert_eq(lu_read_some(NULL, data, 1, &got, &err), LU_INVAL);
    cr_assert_eq(lu_seek(NULL, 0, &err), LU_INVAL);
    cr_assert_eq(lu_file_size(NULL), 0);
    cr_assert_eq(lu_file_tell(NULL), 0);
    lu_context_close(ctx);
}

/* ---- other volumes -------------------------------------------------------------- */

Test(stream, a_dir_volume_streams_and_seeks_its_files)
{
    unsigned char *data = make_data(BIG, 6);
    char *dir = th_tempdir();
    th_write_file(th_path(dir, "f.bin"), data, BIG);
    lu_context *ctx = ctx_with(NULL, NULL);
    char uri[PATH_MAX + 8];
    snprintf(uri, sizeof uri, "dir:%s", dir);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "d", uri, 1, 0, &err), LU_OK, "%s", err.message);
    lu_file *f = must_open(ctx, "/f.bin");
    cr_assert_eq(lu_file_size(f), BIG);
    size_t n;
    unsigned char *all = read_rest(f, 7000, &n);
    cr_assert(n == BIG && memcmp(all, data, BIG) == 0);
    cr_assert_eq(lu_seek(f, 1234, &err), LU_OK);
    expect_bytes_at(f, data, 1234, 100, "dir");
    cr_assert_eq(lu_seek(f, BIG + 1, &err), LU_INVAL);
    free(all);
    lu_close(f);
    lu_context_close(ctx);
}

/* A backend of interface version 1 (no stream ops: its struct ends at
 * `close`) still streams: the core reads the entry whole at open. */
Test(stream, a_version_1_backend_is_streamed_from_a_whole_read)
{
    unsigned char *data = make_data(BIG, 7);
    char *zp = make_volume(data);
    lu_env env = lu__default_env();
    env.max_uncompressed = 1u << 30;
    lu_archive *a;
    lu_error err;
    cr_assert_eq(lu__archive_open(&env, "zip", zp, &a, &err), LU_OK, "%s", err.message);
    lu_archive_ops v1 = {1, "zip", lu__archive_zip.open, lu__archive_zip.read, lu__archive_zip.close,
                         NULL, NULL, NULL, NULL};
    a->ops = &v1;
    const lu_entry *e = lu__entries_find(&a->entries, "/deflated.bin", strlen("/deflated.bin"));
    cr_assert_not_null(e);
    lu_file *f;
    cr_assert_eq(lu__file_open_entry(a, e, "old", &f, &err), LU_OK, "%s", err.message);
    lu__archive_release(a);   /* the file holds the archive */
    cr_assert_eq(lu_seek(f, 1000, &err), LU_OK);
    size_t n;
    unsigned char *rest = read_rest(f, 4096, &n);
    cr_assert(n == BIG - 1000 && memcmp(rest, data + 1000, n) == 0);
    free(rest);
    lu_close(f);
}

/* ---- every fixture --------------------------------------------------------------- */

/* Streams `path` in 4096-byte chunks: LU_OK and the bytes, or the status
 * of the first failure (open or read). */
static lu_status stream_all(lu_context *ctx, const char *path, unsigned char **out, size_t *len, lu_error *err)
{
    lu_file *f = NULL;
    *out = NULL;
    *len = 0;
    LU_TRY(lu_open(ctx, path, &f, err));
    size_t cap = (size_t)lu_file_size(f) + 4096, n = 0;
    unsigned char *buf = TH_KEEP(malloc(cap));
    lu_status st;
    for (;;) {
        size_t got;
        st = lu_read_some(f, buf + n, n + 4096 <= cap ? 4096 : cap - n, &got, err);
        if (st != LU_OK || got == 0) break;
        n += got;
    }
    lu_close(f);
    if (st != LU_OK) {
        free(buf);
        return st;
    }
    *out = buf;
    *len = n;
    return LU_OK;
}

Test(stream, every_fixture_entry_streams_as_lu_read_reads_it, .timeout = 240)
{
    char *text = th_read_file(th_path(th_fixtures(), "fixtures.json"), NULL);
    cr_assert_not_null(text, "no fixtures.json: run tests/fixtures/make_zips.py");
    cJSON *doc = cJSON_Parse(text);
    char dir[PATH_MAX];
    cr_assert_not_null(realpath(th_fixtures(), dir));
    size_t zips = 0, entries = 0, failures = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(doc, "cases"))
    {
        const char *expect = cJSON_GetStringValue(cJSON_GetObjectItem(c, "expect"));
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(c, "file"));
        if (!expect || !file || strcmp(expect, "reject") == 0) continue;
        lu_config cfg;
        lu_config_init(&cfg);
        cfg.save_dir = th_tempdir();
        const cJSON *max = cJSON_GetObjectItem(c, "max_uncompressed");
        if (cJSON_IsNumber(max)) cfg.max_uncompressed = (uint64_t)max->valuedouble;
        lu_context *ctx;
        lu_error err;
        cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK);
        char uri[2 * PATH_MAX];
        snprintf(uri, sizeof uri, "zip:%s/%s", dir, file);
        cr_assert_eq(lu_mount_add(ctx, "vol", uri, 1, 0, &err), LU_OK, "%s: %s", file, err.message);
        char **paths;
        size_t n;
        cr_assert_eq(lu_list_paths(ctx, "/", NULL, &paths, &n, &err), LU_OK);
        for (size_t i = 0; i < n && i < 64; i++) {
            void *whole;
            size_t size;
            lu_error e1, e2;
            lu_status want = lu_read(ctx, paths[i], &whole, &size, &e1);
            unsigned char *got;
            size_t len;
            lu_status st = stream_all(ctx, paths[i], &got, &len, &e2);
            cr_expect_eq(st, want, "%s %s: streamed %s (%s), read whole %s (%s)", file, paths[i], lu_status_name(st),
                         st ? e2.message : "", lu_status_name(want), want ? e1.message : "");
            if (st == LU_OK && want == LU_OK)
                cr_expect(len == size && memcmp(got, whole, size) == 0, "%s %s: streamed bytes differ", file, paths[i]);
            if (st != LU_OK) {
                failures++;
                cr_expect(strstr(e2.message, paths[i] + 1), "%s: the message names the entry: %s", file, e2.message);
            }
            free(got);
            lu_free(ctx, whole);
            entries++;
        }
        lu_free(ctx, paths);
        lu_context_close(ctx);
        zips++;
    }
    cJSON_Delete(doc);
    free(text);
    cr_log_info("%zu fixture zips, %zu entries streamed, %zu failing as lu_read fails", zips, entries, failures);
    cr_assert_gt(zips, 20);
    cr_assert_gt(failures, 5);
}

/* ---- the heap ------------------------------------------------------------------- */

/* A counting allocator: the live bytes and their peak. */
static _Atomic size_t heap_live, heap_peak;

static void *heap_realloc(void *ud, void *p, size_t n)
{
    (void)ud;
    size_t old = 0;
    if (p) {
        p = (char *)p - 16;
        memcpy(&old, p, sizeof old);
    }
    char *q = realloc(p, n + 16);
    if (!q) return NULL;
    memcpy(q, &n, sizeof n);
    size_t live = atomic_fetch_add(&heap_live, n) + n - old;
    atomic_fetch_sub(&heap_live, old);
    size_t peak = atomic_load(&heap_peak);
    while (live > peak && !atomic_compare_exchange_weak(&heap_peak, &peak, live)) {}
    return q + 16;
}

static void heap_free(void *ud, void *p)
{
    (void)ud;
    if (!p) return;
    size_t n;
    memcpy(&n, (char *)p - 16, sizeof n);
    atomic_fetch_sub(&heap_live, n);
    free((char *)p - 16);
}

/* Peak bytes above the level before lu_open while streaming `path` whole in
 * 64 KiB chunks. */
static size_t stream_peak(lu_context *ctx, const char *path, size_t expect)
{
    size_t base = atomic_load(&heap_live);
    atomic_store(&heap_peak, base);
    lu_file *f = must_open(ctx, path);
    static unsigned char buf[65536];
    size_t total = 0, got;
    lu_error err;
    do {
        cr_assert_eq(lu_read_some(f, buf, sizeof buf, &got, &err), LU_OK, "%s", err.message);
        total += got;
    } while (got);
    lu_close(f);
    cr_assert_eq(total, expect);
    cr_assert_eq(atomic_load(&heap_live), base, "%s: the file freed all it allocated", path);
    return atomic_load(&heap_peak) - base;
}

Test(stream, streaming_16_mb_needs_at_most_1_mib_of_heap, .timeout = 120)
{
    size_t n = 16u << 20;
    unsigned char *data = make_data(n, 8);
    char *zp = th_path(th_tempdir(), "big.zip");
    lu_zip_writer *w;
    lu_error err;
    cr_assert_eq(lu_zip_writer_open(zp, &w, &err), LU_OK);
    cr_assert_eq(lu_zip_writer_add_method(w, "stored", data, n, LU_ZIP_STORED, 0, &err), LU_OK);
    cr_assert_eq(lu_zip_writer_add_method(w, "deflated", data, n, LU_ZIP_DEFLATE, 1, &err), LU_OK);
    cr_assert_eq(lu_zip_writer_add_method(w, "zstd", data, n, LU_ZIP_ZSTD, 3, &err), LU_OK);
    cr_assert_eq(lu_zip_writer_close(w, &err), LU_OK);
    lu_allocator alloc = {heap_realloc, heap_free, NULL};
    lu_context *ctx = ctx_with(zp, &alloc);
    size_t stored = stream_peak(ctx, "/stored", n), deflated = stream_peak(ctx, "/deflated", n),
           zstd = stream_peak(ctx, "/zstd", n);
    /* the counter counts: a whole read needs the entry's size */
    size_t base = atomic_load(&heap_live);
    atomic_store(&heap_peak, base);
    void *whole;
    size_t size;
    cr_assert_eq(lu_read(ctx, "/stored", &whole, &size, &err), LU_OK);
    size_t read_peak = atomic_load(&heap_peak) - base;
    lu_free(ctx, whole);
    cr_log_info("peak heap streaming 16 MiB: stored %zu B, deflated %zu B, zstd %zu B; lu_read %zu B", stored,
                deflated, zstd, read_peak);
    cr_assert_geq(read_peak, n, "lu_read: %zu", read_peak);
    cr_assert_leq(stored, 1u << 20, "stored: %zu", stored);
    cr_assert_leq(deflated, 1u << 20, "deflated: %zu", deflated);
    /* zstd keeps the frame's window (level 3 here: a few MiB), never the entry */
    cr_assert_leq(zstd, 8u << 20, "zstd: %zu", zstd);
    lu_context_close(ctx);
}

/* ---- threads -------------------------------------------------------------------- */

typedef struct reader {
    lu_context *ctx;
    const char *path;
    const unsigned char *data;
    int ok;
} reader;

static void *read_thread(void *arg)
{
    reader *r = arg;
    for (int k = 0; k < 4; k++) {
        lu_file *f;
        lu_error err;
        if (lu_open(r->ctx, r->path, &f, &err) != LU_OK) return NULL;
        unsigned char buf[5000];
        size_t total = 0, got;
        int same = 1;
        do {
            if (lu_read_some(f, buf, sizeof buf, &got, &err) != LU_OK) {
                lu_close(f);
                return NULL;
            }
            same &= memcmp(buf, r->data + total, got) == 0;
            total += got;
        } while (got);
        lu_close(f);
        if (!same || total != BIG) return NULL;
    }
    r->ok = 1;
    return NULL;
}

Test(stream, different_files_read_on_different_threads_at_once)
{
    unsigned char *data = make_data(BIG, 9);
    lu_context *ctx = ctx_with(make_volume(data), NULL);
    pthread_t t[3];
    reader r[3];
    for (int i = 0; i < 3; i++) {
        r[i] = (reader){ctx, methods[i], data, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, read_thread, &r[i]), 0);
    }
    for (int i = 0; i < 3; i++) {
        pthread_join(t[i], NULL);
        cr_assert(r[i].ok, "%s on its thread", methods[i]);
    }
    lu_context_close(ctx);
}
