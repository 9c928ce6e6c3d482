/* cases_stream.c -- the stream_heap case of docs/BENCHMARKS.md: the heap a
 * streaming read (lu_open + lu_read_some in 64 KiB chunks) needs for a
 * 200 MB entry (8 MB with --quick), counted in bytes through the
 * context's allocator (lu_config.allocator), against the bar's 1 MiB.
 * Lines: stream_heap (a stored entry), stream_heap_deflated (a deflated
 * one). Counts bytes, never time, so the figures do not depend on the
 * machine's load.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveupdate/liveupdate.h"
#include "lubench.h"

/* ---- a counting allocator: live bytes and their peak -------------------- */

static _Atomic size_t live, peak;

#define HDR 16

static void *count_realloc(void *ud, void *p, size_t n)
{
    (void)ud;
    size_t old = 0;
    if (p) {
        p = (char *)p - HDR;
        memcpy(&old, p, sizeof old);
    }
    char *q = realloc(p, n + HDR);
    if (!q) return NULL;
    memcpy(q, &n, sizeof n);
    size_t now = atomic_fetch_add(&live, n) + n;
    atomic_fetch_sub(&live, old);
    now -= old;
    size_t top = atomic_load(&peak);
    while (now > top && !atomic_compare_exchange_weak(&peak, &top, now)) {}
    return q + HDR;
}

static void count_free(void *ud, void *p)
{
    (void)ud;
    if (!p) return;
    size_t n;
    memcpy(&n, (char *)p - HDR, sizeof n);
    atomic_fetch_sub(&live, n);
    free((char *)p - HDR);
}

/* ---- inputs ------------------------------------------------------------- */

/* One entry "big.bin" of `bytes` text-like bytes, stored or deflated (level 1). */
static int write_zip(const char *path, uint64_t bytes, int method)
{
    unsigned char *buf = malloc(bytes ? bytes : 1);
    if (!buf) return 1;
    uint32_t seed = 17;
    for (uint64_t i = 0; i < bytes; i++) {
        if (i % 40 == 0) seed = seed * 1103515245u + 12345u;
        buf[i] = i % 40 == 39 ? '\n' : (unsigned char)('a' + (seed >> (i % 40 % 24)) % 26);
    }
    lu_zip_writer *w;
    lu_error err;
    int rc = lu_zip_writer_open(path, &w, &err) == LU_OK ? 0 : 1;
    if (!rc && lu_zip_writer_add_method(w, "big.bin", buf, bytes, method, method ? 1 : 0, &err) != LU_OK) rc = 1;
    if (!rc && lu_zip_writer_close(w, &err) != LU_OK) rc = 1;
    if (rc) fprintf(stderr, "lubench: %s: %s\n", path, err.message);
    free(buf);
    return rc;
}

/* Peak heap (bytes above the level before lu_open) while streaming the
 * entry whole; -1 when it cannot run. */
static double stream_peak(const char *zip, uint64_t bytes)
{
    lu_allocator alloc = {count_realloc, count_free, NULL};
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.allocator = &alloc;
    lu_context *ctx = NULL;
    lu_error err;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) {
        fprintf(stderr, "lubench: %s\n", err.message);
        return -1;
    }
    char uri[700];
    snprintf(uri, sizeof uri, "zip:%s", zip);
    double result = -1;
    lu_file *f = NULL;
    if (lu_mount_add(ctx, "big", uri, 1, LU_MOUNT_NO_PERSIST, &err) != LU_OK) goto out;
    size_t base = atomic_load(&live);
    atomic_store(&peak, base);
    if (lu_open(ctx, "/big.bin", &f, &err) != LU_OK) goto out;
    static unsigned char chunk[64u << 10];
    uint64_t total = 0;
    size_t got;
    do {
        if (lu_read_some(f, chunk, sizeof chunk, &got, &err) != LU_OK) goto out;
        total += got;
    } while (got);
    if (total != bytes) {
        snprintf(err.message, sizeof err.message, "streamed %llu bytes of %llu", (unsigned long long)total,
                 (unsigned long long)bytes);
        goto out;
    }
    result = (double)(atomic_load(&peak) - base);
out:
    if (result < 0) fprintf(stderr, "lubench: stream_heap: %s\n", err.message);
    lu_close(f);
    lu_context_close(ctx);
    return result;
}

void bench_stream_heap(bench *b)
{
    /* the full run's 100 MiB read size: a 200 MiB entry; --quick: 8 MiB */
    uint64_t bytes = b->size.read_bytes >= (100u << 20) ? 200u << 20 : b->size.read_bytes;
    static const struct {
        const char *line, *file;
        int method;
    } kinds[] = {{"stream_heap", "stream_stored.zip", LU_ZIP_STORED},
                 {"stream_heap_deflated", "stream_deflated.zip", LU_ZIP_DEFLATE}};
    for (size_t k = 0; k < 2; k++) {
        char path[600];
        snprintf(path, sizeof path, "%s/%s", b->dir, kinds[k].file);
        if (write_zip(path, bytes, kinds[k].method)) exit(1);
        double ours = stream_peak(path, bytes);
        remove(path);
        if (ours < 0) exit(1);
        bench_report(b, kinds[k].line, ours / 1024, 1024, "KiB", "<=", 1);
    }
}
