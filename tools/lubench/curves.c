/* curves.c -- lubench --curves <out-dir>: how three costs grow, as plain
 * data files for tools/benchplot (gnuplot) and docs/BENCHMARKS.md:
 *
 *   add.dat     k, CPU milliseconds of the k-th lu_mount_add
 *               (LU_MOUNT_NO_PERSIST) of volumes of 1,000 entries each,
 *               k = 1 .. 1,024
 *   open.dat    n, milliseconds of lu_context_open with n persisted mounts
 *               (100 entries each), n = 1, 2, 4, .. 1,024 (wall clock,
 *               median of 3)
 *   lookup.dat  entries mounted, CPU ns per lu_exists (half misses, random
 *               order), at 10k, 100k, 1M and 4M entries (median of 5)
 *
 * Each file starts with one '#' line naming its two columns; every other
 * line is two numbers. With --quick the sizes are tiny (a smoke run for the
 * tests; its figures mean nothing). Inputs go into the bench's scratch
 * folder and each curve deletes its own when done. Adds and lookups are
 * timed in CPU time of the calling thread (they run on it, from the page
 * cache), which a busy shared machine disturbs far less than the wall
 * clock; an open is timed on the wall clock, in case it uses more threads.
 * A curve shows the shape; the cases' ratios are the bars.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "liveupdate/liveupdate.h"
#include "lubench.h"

typedef struct curve_sizes {
    int adds, add_entries;         /* (a) */
    int open_max, open_entries;    /* (b): 1, 2, 4 .. open_max mounts */
    int lookup_points[4];          /* (c): entries mounted at each point */
    int probes;
} curve_sizes;

static const curve_sizes FULL = {1024, 1000, 1024, 100, {10000, 100000, 1000000, 4000000}, 200000};
static const curve_sizes QUICK = {16, 20, 8, 5, {100, 200, 400, 800}, 2000};

static int fail(const char *what, const lu_error *err)
{
    fprintf(stderr, "lubench: --curves: %s: %s\n", what, err ? err->message : strerror(errno));
    return 1;
}

static FILE *open_data(const char *dir, const char *name, const char *header, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    if (f) fprintf(f, "# %s\n", header);
    else fail(path, NULL);
    return f;
}

static int close_data(FILE *f, const char *path, int rc)
{
    if (fclose(f) != 0 && !rc) rc = fail(path, NULL);
    return rc;
}

/* Little-endian fields into p; returns p past them. */
static unsigned char *le(unsigned char *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++) *p++ = (unsigned char)(v >> (8 * i));
    return p;
}

/* Entry i of a curve volume: its name and its bytes ("<i>\n"). */
static void entry(const char *prefix, int i, char *name, int *name_len, char *data, int *data_len)
{
    *name_len = snprintf(name, 64, "%s/%d.txt", prefix, i);
    *data_len = snprintf(data, 16, "%d\n", i);
}

/* Writes the zip `name` in the scratch folder: `entries` stored entries
 * <prefix>/<i>.txt. Written here, in two passes (the local records, then
 * the central directory computed again, so nothing is held in memory),
 * because the library's writer goes through minizip at about 4.5 us an
 * entry and the curves need 5 million; zip64 end records from 65,535
 * entries on, as the library's writer does. */
static int volume(const bench *b, const char *name, const char *prefix, int entries, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s", b->dir, name);
    FILE *f = fopen(path, "wb");
    if (!f) return fail(path, NULL);
    static char buf[1 << 16];
    setvbuf(f, buf, _IOFBF, sizeof buf);
    char ename[64], data[16];
    unsigned char rec[128], *p;
    int nl, dl;
    uint64_t off = 0, cd_size = 0;
    for (int pass = 0; pass < 2; pass++) {
        uint64_t at = 0;
        for (int i = 0; i < entries; i++) {
            entry(prefix, i, ename, &nl, data, &dl);
            uint32_t crc = (uint32_t)crc32(0, (const unsigned char *)data, (unsigned)dl);
            p = le(rec, pass ? 0x02014b50u : 0x04034b50u, 4);
            if (pass) p = le(p, 20, 2);                        /* made by */
            p = le(p, 10, 2);                                  /* needed */
            p = le(p, 0, 2), p = le(p, 0, 2);                  /* flags, stored */
            p = le(p, 0, 2), p = le(p, 0x21, 2);               /* 1980-01-01 00:00 */
            p = le(p, crc, 4), p = le(p, (uint64_t)dl, 4), p = le(p, (uint64_t)dl, 4);
            p = le(p, (uint64_t)nl, 2), p = le(p, 0, 2);       /* name, extra */
            if (pass) p = le(p, 0, 2), p = le(p, 0, 2), p = le(p, 0, 2), p = le(p, 0, 4), p = le(p, at, 4);
            fwrite(rec, 1, (size_t)(p - rec), f);
            fwrite(ename, 1, (size_t)nl, f);
            if (!pass) fwrite(data, 1, (size_t)dl, f);
            at += 30 + (uint64_t)nl + (uint64_t)dl;
            if (pass) cd_size += 46 + (uint64_t)nl;
        }
        if (!pass) off = at;
    }
    uint64_t count = (uint64_t)entries;
    if (count >= 0xffff) {
        p = le(rec, 0x06064b50u, 4), p = le(p, 44, 8), p = le(p, 45, 2), p = le(p, 45, 2), p = le(p, 0, 4);
        p = le(p, 0, 4), p = le(p, count, 8), p = le(p, count, 8), p = le(p, cd_size, 8), p = le(p, off, 8);
        p = le(p, 0x07064b50u, 4), p = le(p, 0, 4), p = le(p, off + cd_size, 8), p = le(p, 1, 4);
        fwrite(rec, 1, (size_t)(p - rec), f);
        count = 0xffff;
    }
    p = le(rec, 0x06054b50u, 4), p = le(p, 0, 2), p = le(p, 0, 2), p = le(p, count, 2), p = le(p, count, 2);
    p = le(p, cd_size, 4), p = le(p, off, 4), p = le(p, 0, 2);
    fwrite(rec, 1, (size_t)(p - rec), f);
    if (ferror(f) | (fclose(f) != 0)) return fail(path, NULL);
    return 0;
}

static int mount(lu_context *ctx, const char *name, const char *zip, unsigned flags)
{
    char uri[720];
    snprintf(uri, sizeof uri, "zip:%s", zip);
    lu_error err;
    return lu_mount_add(ctx, name, uri, 1, flags, &err) == LU_OK ? 0 : fail(uri, &err);
}

static lu_context *open_ctx(const char *save_dir)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save_dir;
    lu_context *ctx = NULL;
    lu_error err;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) fail("lu_context_open", &err);
    return ctx;
}

/* (a) the time of each add, with every earlier volume still mounted. */
static int curve_add(const bench *b, const curve_sizes *s, const char *out)
{
    char path[700], zip[700], name[32], prefix[32];
    double t0 = bench_now();
    for (int k = 0; k < s->adds; k++) {
        snprintf(name, sizeof name, "add%d.zip", k);
        snprintf(prefix, sizeof prefix, "a%d", k);
        if (volume(b, name, prefix, s->add_entries, zip, sizeof zip)) return 1;
    }
    FILE *f = open_data(out, "add.dat", "k  cpu_ms_of_the_kth_add", path, sizeof path);
    lu_context *ctx = f ? open_ctx(NULL) : NULL;
    int rc = ctx ? 0 : 1;
    double first = 0, last = 0;
    for (int k = 0; !rc && k < s->adds; k++) {
        snprintf(zip, sizeof zip, "%s/add%d.zip", b->dir, k);
        snprintf(name, sizeof name, "v%d", k);
        double t = bench_cpu_now();
        rc = mount(ctx, name, zip, LU_MOUNT_NO_PERSIST);
        last = (bench_cpu_now() - t) * 1e3;
        if (!k) first = last;
        snprintf(zip, sizeof zip, "/a%d/%d.txt", k, s->add_entries - 1);
        if (!rc && !lu_exists(ctx, zip)) {
            fprintf(stderr, "lubench: --curves: %s not found after its add\n", zip);
            rc = 1;
        }
        fprintf(f, "%d %.4f\n", k + 1, last);
    }
    lu_context_close(ctx);
    for (int k = 0; k < s->adds; k++) {
        snprintf(zip, sizeof zip, "%s/add%d.zip", b->dir, k);
        remove(zip);
    }
    if (f) rc = close_data(f, path, rc);
    if (!rc) printf("curve add: %d adds of %d entries: first %.3f ms, last %.3f ms -> %s (%.1f s)\n", s->adds,
                    s->add_entries, first, last, path, bench_now() - t0);
    return rc;
}

/* (b) context open with 1, 2, 4 .. persisted mounts: the mounts are added
 * one by one to one save folder, and at each power of two the context is
 * closed and opened again three times (the median counts). */
static int curve_open(const bench *b, const curve_sizes *s, const char *out)
{
    char path[700], save[600], zip[700], name[32];
    double t0 = bench_now();
    snprintf(save, sizeof save, "%s/curve-save", b->dir);
    FILE *f = open_data(out, "open.dat", "persisted_mounts  ms_of_lu_context_open", path, sizeof path);
    lu_context *ctx = f ? open_ctx(save) : NULL;
    int rc = ctx ? 0 : 1;
    double at_max = 0;
    for (int n = 1; !rc && n <= s->open_max; n++) {
        snprintf(name, sizeof name, "open%d.zip", n);
        char prefix[32];
        snprintf(prefix, sizeof prefix, "o%d", n);
        rc = volume(b, name, prefix, s->open_entries, zip, sizeof zip);
        snprintf(name, sizeof name, "o%d", n);
        if (!rc) rc = mount(ctx, name, zip, 0);
        if (rc || (n & (n - 1))) continue;
        lu_context_close(ctx);
        ctx = NULL;
        double ms[3];
        for (int r = 0; !rc && r < 3; r++) {
            double t = bench_now();
            ctx = open_ctx(save);
            ms[r] = (bench_now() - t) * 1e3;
            if (!ctx) rc = 1;
            else if (r < 2) lu_context_close(ctx);
        }
        if (rc) break;
        lu_mount_info *mi;
        size_t count = 0;
        lu_error err;
        if (lu_mounts_get(ctx, &mi, &count, &err) != LU_OK) rc = fail("lu_mounts_get", &err);
        else lu_free(ctx, mi);
        if (!rc && (int)count != n) {
            fprintf(stderr, "lubench: --curves: %zu mounts after an open, %d expected\n", count, n);
            rc = 1;
        }
        at_max = bench_median(ms, 3);
        fprintf(f, "%d %.4f\n", n, at_max);
    }
    lu_context_close(ctx);
    if (f) rc = close_data(f, path, rc);
    if (!rc) printf("curve open: 1 .. %d persisted mounts of %d entries: %.3f ms at %d -> %s (%.1f s)\n", s->open_max,
                    s->open_entries, at_max, s->open_max, path, bench_now() - t0);
    return rc;
}

/* (c) lu_exists at growing numbers of mounted entries: one volume more
 * for each point (its entries: the point's less the previous point's). */
static int curve_lookup(const bench *b, const curve_sizes *s, const char *out)
{
    char path[700], zip[700], name[32], prefix[32];
    double t0 = bench_now();
    FILE *f = open_data(out, "lookup.dat", "entries_mounted  cpu_ns_per_lu_exists_half_misses", path, sizeof path);
    lu_context *ctx = f ? open_ctx(NULL) : NULL;
    char (*probe)[32] = malloc((size_t)s->probes * sizeof *probe);
    int sizes[4], rc = ctx && probe ? 0 : 1, mounted = 0;
    double ns = 0;
    uint64_t rng = 0x2545f4914f6cdd1dull;
    for (int p = 0; !rc && p < 4; p++) {
        sizes[p] = s->lookup_points[p] - mounted;
        snprintf(name, sizeof name, "lookup-curve%d.zip", p);
        snprintf(prefix, sizeof prefix, "c%d", p);
        rc = volume(b, name, prefix, sizes[p], zip, sizeof zip);
        snprintf(name, sizeof name, "c%d", p);
        if (!rc) rc = mount(ctx, name, zip, LU_MOUNT_NO_PERSIST);
        remove(zip);   /* the open volume keeps its file */
        if (rc) break;
        mounted = s->lookup_points[p];
        /* half hits over every volume mounted so far, half misses */
        for (int i = 0; i < s->probes; i++) {
            rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
            uint64_t e = rng % (uint64_t)mounted;
            int v = 0;
            while (e >= (uint64_t)sizes[v]) e -= (uint64_t)sizes[v++];
            snprintf(probe[i], sizeof probe[i], "/c%d/%s%d.txt", v, i % 2 ? "x" : "", (int)e);
        }
        double t[5];
        long hits = 0;
        for (int r = 0; r < 5; r++) {
            double c0 = bench_cpu_now();
            for (int i = 0; i < s->probes; i++) hits += lu_exists(ctx, probe[i]);
            t[r] = (bench_cpu_now() - c0) / s->probes * 1e9;
        }
        if (hits != 5L * (s->probes / 2)) {
            fprintf(stderr, "lubench: --curves: %ld hits, expected %d\n", hits, 5 * (s->probes / 2));
            rc = 1;
        }
        ns = bench_median(t, 5);
        fprintf(f, "%d %.2f\n", mounted, ns);
    }
    lu_context_close(ctx);
    free(probe);
    if (f) rc = close_data(f, path, rc);
    if (!rc) printf("curve lookup: %d .. %d entries: %.1f ns/op at %d -> %s (%.1f s)\n", s->lookup_points[0], mounted,
                    ns, mounted, path, bench_now() - t0);
    return rc;
}

int bench_curves(bench *b, const char *out_dir, bool quick)
{
    if (mkdir(out_dir, 0755) != 0 && errno != EEXIST) return fail(out_dir, NULL);
    const curve_sizes *s = quick ? &QUICK : &FULL;
    double t = bench_now();
    int rc = curve_add(b, s, out_dir);
    if (!rc) rc = curve_open(b, s, out_dir);
    if (!rc) rc = curve_lookup(b, s, out_dir);
    if (!rc) printf("curves: 3 written to %s in %.1f s\n", out_dir, bench_now() - t);
    return rc;
}
