/* cases_missing.c -- lubench's case missing_nested: a recursive
 * lu_manifest_missing over nested collection proxies against the same
 * number of lu_exists calls (docs/BENCHMARKS.md, "Issue 17").
 *
 * The proxies form a tree of fan-out 10 (proxy k nests 10k+1 .. 10k+10),
 * every proxy but the root also nests its parent (a cycle the visit must
 * cut), and each has 10 resources of its own; the first half of the
 * resources is mounted, so half are missing. The limit checks every
 * resource once with lu_exists and counts the misses, the least any
 * missing_resources can do. Both are timed in CPU time of this thread
 * (everything runs on it, in memory), which other processes on a shared
 * machine disturb far less than the wall clock.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "liveupdate/liveupdate.h"
#include "liveupdate/manifest.h"
#include "lubench.h"

#define FANOUT 10
#define PER_PROXY 10

/* Appends to a growing string; exits when memory runs out. */
typedef struct text {
    char *s;
    size_t n, cap;
} text;

static void add(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(text *t, const char *fmt, ...)
{
    if (t->cap - t->n < 64) {   /* each piece is shorter */
        t->cap = t->cap ? t->cap * 2 : 1u << 16;
        if (!(t->s = realloc(t->s, t->cap))) {
            fprintf(stderr, "lubench: out of memory\n");
            exit(1);
        }
    }
    va_list ap;
    va_start(ap, fmt);
    t->n += (size_t)vsnprintf(t->s + t->n, t->cap - t->n, fmt, ap);
    va_end(ap);
}

/* The manifest JSON of `children` + 1 proxies "p0" (the root) .. "pN". */
static char *nested_manifest(int children, size_t *len)
{
    text t = {0};
    add(&t, "{\"resources\": [], \"proxies\": [");
    for (int k = 0; k <= children; k++) {
        add(&t, "%s{\"id\": \"p%d\", \"collection\": \"/n/", k ? "," : "", k);
        add(&t, "%d.txt\", \"resources\": [", k * PER_PROXY);
        for (int j = 0; j < PER_PROXY; j++) add(&t, "%s\"/n/%d.txt\"", j ? "," : "", k * PER_PROXY + j);
        add(&t, "], \"proxies\": [");
        int first = 1;
        for (int c = FANOUT * k + 1; c <= FANOUT * k + FANOUT && c <= children; c++, first = 0)
            add(&t, "%s\"#p%d\"", first ? "" : ",", c);
        if (k) add(&t, "%s\"p%d\"", first ? "" : ",", (k - 1) / FANOUT);   /* back to the parent */
        add(&t, "]}");
    }
    add(&t, "]}");
    *len = t.n;
    return t.s;
}

void bench_missing_nested(bench *b)
{
    int children = b->size.proxy_resources, nres = (children + 1) * PER_PROXY;
    char zp[600], uri[620];
    snprintf(zp, sizeof zp, "%s/nested.zip", b->dir);
    if (bench_zip_small(zp, "n", nres / 2, false, NULL)) exit(1);   /* the first half present */
    size_t len;
    char *json = nested_manifest(children, &len);
    lu_manifest *m;
    lu_error err;
    if (lu_manifest_parse(json, len, &m, &err) != LU_OK) {
        fprintf(stderr, "lubench: missing_nested: %s\n", err.message);
        exit(1);
    }
    free(json);
    lu_config cfg;
    lu_config_init(&cfg);
    lu_context *ctx;
    snprintf(uri, sizeof uri, "zip:%s", zp);
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK || lu_mount_add(ctx, "n", uri, 1, LU_MOUNT_NO_PERSIST, &err) != LU_OK) {
        fprintf(stderr, "lubench: missing_nested: %s\n", err.message);
        exit(1);
    }
    double ours[LUBENCH_MAX_REPS], peer[LUBENCH_MAX_REPS];
    size_t got = 0, want = 0;
    for (int r = 0; r < b->size.reps; r++) {
        char **missing;
        size_t n = 0;
        double t = bench_cpu_now();
        if (lu_manifest_missing(ctx, m, "p0", 1, &missing, &n, &err) != LU_OK) {
            fprintf(stderr, "lubench: missing_nested: %s\n", err.message);
            exit(1);
        }
        ours[r] = (bench_cpu_now() - t) * 1e3;
        lu_free(ctx, missing);
        got = n;
        want = 0;
        t = bench_cpu_now();
        for (size_t k = 0; k < m->nproxies; k++)
            for (size_t i = 0; i < m->proxies[k].nresources; i++) want += !lu_exists(ctx, m->proxies[k].resources[i]);
        peer[r] = (bench_cpu_now() - t) * 1e3;
    }
    if (got != want || (int)got != nres - nres / 2)
        fprintf(stderr, "lubench: missing_nested: %zu missing, %zu by lu_exists, %d expected\n", got, want,
                nres - nres / 2);
    lu_manifest_free(m);
    lu_context_close(ctx);
    bench_report(b, "missing_nested", bench_median(ours, b->size.reps), bench_median(peer, b->size.reps), "ms", "<=",
                 2.0);
}
