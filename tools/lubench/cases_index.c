/* cases_index.c -- the merged index against its own limits (docs/BENCHMARKS.md,
 * "Issue 17: the merged index"):
 *
 *   lookup_probe  lu_exists against a bare open-addressing hash set of the
 *                 same keys (the same XXH3 hash folded to 32 bits, 8-byte
 *                 slots {hash, key index}, the string compared on a hash
 *                 match), the same probes, half misses, in the same run;
 *   add_growth    the mean time of the last 32 of 1,024 one-by-one adds of
 *                 1,000-entry volumes against the mean of the first 32: a
 *                 mount change must cost its own entries, not every mounted
 *                 one. add_growth_window reports the worst 32 consecutive
 *                 adds against the same first 32 (no O(total) spike), and
 *                 one `curve add_growth k=<k> us=<mean>` line per window
 *                 gives the growth curve.
 *
 * Both time this thread's CPU (CLOCK_THREAD_CPUTIME_ID), not the wall
 * clock: on a shared machine a descheduled slice would land on one add.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "liveupdate/liveupdate.h"
#include "lubench.h"

#define REPS_MAX LUBENCH_MAX_REPS

static lu_context *open_ctx(void)
{
    lu_config cfg;
    lu_config_init(&cfg);
    lu_context *ctx = NULL;
    lu_error err;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) {
        fprintf(stderr, "lubench: %s\n", err.message);
        exit(1);
    }
    return ctx;
}

static void add_zip(lu_context *ctx, const char *name, const char *path, int prio)
{
    char uri[700];
    snprintf(uri, sizeof uri, "zip:%s", path);
    lu_error err;
    if (lu_mount_add(ctx, name, uri, prio, LU_MOUNT_NO_PERSIST, &err) != LU_OK) {
        fprintf(stderr, "lubench: %s\n", err.message);
        exit(1);
    }
}

/* ---- lookup_probe -------------------------------------------------------- */

/* The hash the library uses for a path (engine/core/hash.h,
 * lu__hash_canonical: the bytes after the leading '/'). */
static uint32_t hash32(const char *s, size_t len)
{
    uint64_t h = XXH3_64bits(s + 1, len - 1);
    return (uint32_t)(h ^ (h >> 32));
}

typedef struct bare_set {
    struct { uint32_t hash, idx; } *slot;   /* idx + 1; 0 = empty */
    size_t mask;
    char **keys;
} bare_set;

static int bare_has(const bare_set *b, const char *path)
{
    size_t len = strlen(path);
    uint32_t h = hash32(path, len);
    for (size_t i = h & b->mask;; i = (i + 1) & b->mask) {
        if (!b->slot[i].idx) return 0;
        if (b->slot[i].hash == h && strcmp(b->keys[b->slot[i].idx - 1], path) == 0) return 1;
    }
}

void bench_lookup_probe(bench *b)
{
    int nm = b->size.lookup_mounts, ne = b->size.lookup_entries, np = b->size.lookup_probes;
    size_t nkeys = (size_t)nm * (size_t)ne, cap = 16;
    while (cap * 3 < nkeys * 4) cap *= 2;   /* the load the library's full build allows: 3/4 */
    bare_set set = {calloc(cap, sizeof *set.slot), cap - 1, malloc(nkeys * sizeof(char *))};
    char path[700], name[64];
    lu_context *ctx = open_ctx();
    for (int k = 0; k < nm; k++) {
        snprintf(name, sizeof name, "probe%d.zip", k);
        snprintf(path, sizeof path, "%s/%s", b->dir, name);
        char prefix[16];
        snprintf(prefix, sizeof prefix, "m%d", k);
        if (bench_zip_small(path, prefix, ne, false, NULL)) exit(1);
        snprintf(name, sizeof name, "v%d", k);
        add_zip(ctx, name, path, k);
        for (int e = 0; e < ne; e++) {
            char key[32];
            snprintf(key, sizeof key, "/m%d/%d.txt", k, e);
            size_t n = (size_t)k * (size_t)ne + (size_t)e;
            set.keys[n] = strdup(key);
            uint32_t h = hash32(key, strlen(key));
            size_t i = h & set.mask;
            while (set.slot[i].idx) i = (i + 1) & set.mask;
            set.slot[i].hash = h;
            set.slot[i].idx = (uint32_t)n + 1;
        }
    }
    char (*probe)[32] = malloc((size_t)np * sizeof *probe);
    srand(7);
    for (int i = 0; i < np; i++) {   /* half hits, half misses, in random order */
        int k = rand() % nm, e = rand() % ne;
        snprintf(probe[i], sizeof probe[i], "/m%d/%s%d.txt", k, i % 2 ? "x" : "", e);
    }
    double ours[REPS_MAX], peer[REPS_MAX];
    long hits_o = 0, hits_p = 0;
    /* the two interleaved in chunks of 4,096 probes: on a shared machine
     * both see the same noise */
    for (int r = 0; r < b->size.reps; r++) {
        double to = 0, tp = 0;
        for (int c = 0; c < np; c += 4096) {
            int end = c + 4096 < np ? c + 4096 : np;
            double t = bench_cpu_now();
            for (int i = c; i < end; i++) hits_p += bare_has(&set, probe[i]);
            double t1 = bench_cpu_now();
            for (int i = c; i < end; i++) hits_o += lu_exists(ctx, probe[i]);
            to += bench_cpu_now() - t1;
            tp += t1 - t;
        }
        ours[r] = to / np * 1e9;
        peer[r] = tp / np * 1e9;
    }
    if (hits_o != hits_p) fprintf(stderr, "lubench: lookup_probe: %ld hits vs the bare set's %ld\n", hits_o, hits_p);
    lu_context_close(ctx);
    for (size_t i = 0; i < nkeys; i++) free(set.keys[i]);
    free(set.keys);
    free(set.slot);
    free(probe);
    bench_report(b, "lookup_probe", bench_median(ours, b->size.reps), bench_median(peer, b->size.reps), "ns/op",
                 "<=", 1.5);
}

/* ---- add_growth ------------------------------------------------------------ */

void bench_add_growth(bench *b)
{
    bool quick = b->size.lookup_entries < 1000;   /* --quick: 64 adds of 100 entries, windows of 8 */
    int nadd = quick ? 64 : 1024, ne = quick ? 100 : 1000, win = quick ? 8 : 32;
    int reps = b->size.reps < 3 ? b->size.reps : 3;
    char path[700];
    for (int k = 0; k < nadd; k++) {
        snprintf(path, sizeof path, "%s/grow%d.zip", b->dir, k);
        char prefix[16];
        snprintf(prefix, sizeof prefix, "g%d", k);
        if (bench_zip_small(path, prefix, ne, false, NULL)) exit(1);
    }
    double *t = calloc((size_t)nadd * (size_t)reps, sizeof *t), *med = calloc((size_t)nadd, sizeof *med);
    for (int r = 0; r < reps; r++) {
        lu_context *ctx = open_ctx();
        for (int k = 0; k < nadd; k++) {
            char name[32];
            snprintf(path, sizeof path, "%s/grow%d.zip", b->dir, k);
            snprintf(name, sizeof name, "g%d", k);
            double t0 = bench_cpu_now();
            add_zip(ctx, name, path, k % 4);   /* a few priorities: adds land among the mounts, not only on top */
            t[(size_t)k * (size_t)reps + (size_t)r] = (bench_cpu_now() - t0) * 1e6;
        }
        lu_context_close(ctx);
    }
    for (int k = 0; k < nadd; k++) med[k] = bench_median(&t[(size_t)k * (size_t)reps], reps);
    double first = 0, last = 0, worst = 0;
    for (int w = 0; w + win <= nadd; w += win) {
        double sum = 0;
        for (int k = w; k < w + win; k++) sum += med[k];
        double mean = sum / win;
        printf("curve add_growth k=%d us=%.1f\n", w + win, mean);
        if (w == 0) first = mean;
        if (w + win == nadd) last = mean;
    }
    for (int w = 0; w + win <= nadd; w++) {   /* every run of `win` consecutive adds */
        double sum = 0;
        for (int k = w; k < w + win; k++) sum += med[k];
        if (sum / win > worst) worst = sum / win;
    }
    free(t);
    free(med);
    bench_report(b, "add_growth", last, first, "us/add", "<=", 2.0);
    bench_report(b, "add_growth_window", worst, first, "us/add", "<=", 2.0);
}
