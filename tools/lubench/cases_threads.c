/* cases_threads.c -- the `threads` case of docs/BENCHMARKS.md: readers that
 * scale. Two threads doing lu_exists on one context (ours) against the
 * limit of the design, two threads each on its own context over the same
 * mounts with the same keys (peer): two contexts share nothing, so their
 * throughput is what two cores give; the ratio shows what readers of one
 * context lose by sharing it (the snapshot cell's counters). The index is
 * small (it stays in cache) so that this cost is not hidden behind the
 * index's cache misses. Lookups per second over both threads, wall clock
 * from a common start to the last thread's end; ours and peer alternate in
 * order from one repetition to the next.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

#include "liveupdate/liveupdate.h"
#include "lubench.h"

#define READERS 2
/* the mounts: 8 zips of 500 small entries (the lookup case's --quick sizes) */
#define THREADS_MOUNTS 8
#define THREADS_ENTRIES 500
/* passes over the probe list per thread and repetition in a full run */
#define PASSES 2

typedef struct reader {
    lu_context *ctx;
    char (*probe)[32];
    int nprobes, passes, first;
    long hits;
    double t0, t1;           /* this thread's start and end */
    pthread_barrier_t *start;
} reader;

static lu_context *open_mounted(bench *b, int nm)
{
    lu_config cfg;
    lu_config_init(&cfg);
    lu_context *ctx = NULL;
    lu_error err;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) {
        fprintf(stderr, "lubench: threads: %s\n", err.message);
        exit(1);
    }
    for (int k = 0; k < nm; k++) {
        char name[32], uri[600];
        snprintf(name, sizeof name, "v%d", k);
        snprintf(uri, sizeof uri, "zip:%s/threads%d.zip", b->dir, k);
        if (lu_mount_add(ctx, name, uri, k, LU_MOUNT_NO_PERSIST, &err) != LU_OK) {
            fprintf(stderr, "lubench: threads: %s\n", err.message);
            exit(1);
        }
    }
    return ctx;
}

static void *read_loop(void *arg)
{
    reader *r = arg;
    pthread_barrier_wait(r->start);
    r->t0 = bench_now();
    long hits = 0;
    for (int p = 0; p < r->passes; p++)
        for (int i = 0; i < r->nprobes; i++) hits += lu_exists(r->ctx, r->probe[(r->first + i) % r->nprobes]);
    r->hits = hits;
    r->t1 = bench_now();
    return NULL;
}

/* Runs READERS threads, thread i on ctx[i]; returns lookups per second and
 * adds the hits to *hits. */
static double run_readers(lu_context *const ctx[READERS], char (*probe)[32], int np, int passes, long *hits)
{
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, READERS + 1);
    reader r[READERS];
    pthread_t t[READERS];
    for (int i = 0; i < READERS; i++) {
        r[i] = (reader){ctx[i], probe, np, passes, i * np / READERS, 0, 0, 0, &start};
        if (pthread_create(&t[i], NULL, read_loop, &r[i]) != 0) {
            fprintf(stderr, "lubench: threads: cannot start a thread\n");
            exit(1);
        }
    }
    pthread_barrier_wait(&start);
    for (int i = 0; i < READERS; i++) pthread_join(t[i], NULL);
    pthread_barrier_destroy(&start);
    /* from the first thread's start to the last one's end, as the threads
     * saw them (this thread may run late after the barrier) */
    double t0 = r[0].t0, t1 = r[0].t1;
    for (int i = 0; i < READERS; i++) {
        *hits += r[i].hits;
        t0 = r[i].t0 < t0 ? r[i].t0 : t0;
        t1 = r[i].t1 > t1 ? r[i].t1 : t1;
    }
    return (double)READERS * passes * np / (t1 - t0);
}

void bench_threads(bench *b)
{
    int nm = THREADS_MOUNTS, ne = THREADS_ENTRIES, np = b->size.lookup_probes;
    for (int k = 0; k < nm; k++) {
        char path[600], prefix[16];
        snprintf(path, sizeof path, "%s/threads%d.zip", b->dir, k);
        snprintf(prefix, sizeof prefix, "m%d", k);
        if (bench_zip_small(path, prefix, ne, false, NULL)) exit(1);
    }
    /* probes: half hits, half misses, in random order */
    char (*probe)[32] = malloc((size_t)np * sizeof *probe);
    if (!probe) exit(1);
    srand(7);
    for (int i = 0; i < np; i++) {
        int k = rand() % nm, e = rand() % ne;
        snprintf(probe[i], sizeof probe[i], "/m%d/%s%d.txt", k, i % 2 ? "x" : "", e);
    }
    lu_context *one = open_mounted(b, nm), *shared[READERS], *two[READERS];
    for (int i = 0; i < READERS; i++) {
        shared[i] = one;
        two[i] = open_mounted(b, nm);
    }
    int passes = np >= 100000 ? PASSES : 1;
    double ours[LUBENCH_MAX_REPS], peer[LUBENCH_MAX_REPS];
    long hits_o = 0, hits_p = 0;
    for (int r = 0; r < b->size.reps; r++) {
        if (r % 2) peer[r] = run_readers(two, probe, np, passes, &hits_p);
        ours[r] = run_readers(shared, probe, np, passes, &hits_o);
        if (!(r % 2)) peer[r] = run_readers(two, probe, np, passes, &hits_p);
    }
    if (hits_o != hits_p) fprintf(stderr, "lubench: threads: %ld hits on one context vs %ld on two\n", hits_o, hits_p);
    lu_context_close(one);
    for (int i = 0; i < READERS; i++) lu_context_close(two[i]);
    free(probe);
    bench_report(b, "threads", bench_median(ours, b->size.reps), bench_median(peer, b->size.reps), "lookups/s", ">=",
                 0.9);
}
