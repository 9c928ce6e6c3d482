/* cases_startup.c -- start-up against its limit (docs/BENCHMARKS.md, issue
 * 17): lu_context_open with many persisted mounts against what it cannot
 * avoid, opening the same volumes (the library's own archive code) and
 * building one merged index over them (lu__snapshot_build). The limit
 * calls the library's internal functions (internal.h: lubench links the
 * static library); nothing new is exported.
 */
#include <stdio.h>
#include <stdlib.h>

#include "internal.h"
#include "liveupdate/liveupdate.h"
#include "lubench.h"

/* Opens the nm volumes <save>/volumes/limit<k>.zip and builds one index;
 * returns the milliseconds taken (the frees after it are not counted). */
static double open_and_build(const char *save, int nm)
{
    lu_config defaults;
    lu_config_init(&defaults);
    lu_env env = lu__default_env();
    env.max_uncompressed = defaults.max_uncompressed;   /* as lu_context_open sets it */
    lu_mount **mounts = calloc((size_t)nm, sizeof *mounts);
    char path[700], name[32], uri[64];
    lu_error err;
    if (!mounts) exit(1);
    double t = bench_now();
    for (int k = 0; k < nm; k++) {
        snprintf(path, sizeof path, "%s/volumes/limit%d.zip", save, k);
        snprintf(name, sizeof name, "limit%d", k);
        snprintf(uri, sizeof uri, "zip:volumes/limit%d.zip", k);
        lu_archive *a = NULL;
        if (lu__archive_open(&env, "zip", path, &a, &err) != LU_OK ||
            !(mounts[k] = lu__mount_new(&env, name, uri, k % 4, (uint64_t)k + 1, true, a))) {
            fprintf(stderr, "lubench: startup_limit: %s\n", err.message);
            exit(1);
        }
        lu__archive_release(a);
    }
    lu_snapshot *s = NULL;
    if (lu__snapshot_build(&env, mounts, (size_t)nm, &s, &err) != LU_OK) {
        fprintf(stderr, "lubench: startup_limit: %s\n", err.message);
        exit(1);
    }
    double ms = (bench_now() - t) * 1e3;
    lu__snapshot_free(s);
    for (int k = 0; k < nm; k++) lu__mount_release(&env, mounts[k]);
    free(mounts);
    return ms;
}

void bench_startup_limit(bench *b)
{
    /* 256 mounts of 2,000 entries (--quick: 64 of 200) */
    int nm = b->size.startup_mounts * 8, ne = b->size.startup_entries;
    char save[600], zp[700], name[32], uri[64];
    snprintf(save, sizeof save, "%s/startup-limit-save", b->dir);
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    lu_context *ctx;
    lu_error err;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK ||
        lu_volume_path(ctx, "limit0.zip", zp, sizeof zp, &err) != LU_OK) {
        fprintf(stderr, "lubench: startup_limit: %s\n", err.message);
        exit(1);
    }
    for (int k = 0; k < nm; k++) {
        snprintf(zp, sizeof zp, "%s/volumes/limit%d.zip", save, k);
        snprintf(name, sizeof name, "limit%d", k);
        snprintf(uri, sizeof uri, "zip:volumes/limit%d.zip", k);
        if (bench_zip_small(zp, name, ne, true, name)) exit(1);
        if (lu_mount_add(ctx, name, uri, k % 4, 0, &err) != LU_OK) {
            fprintf(stderr, "lubench: startup_limit: %s\n", err.message);
            exit(1);
        }
    }
    lu_context_close(ctx);
    double ours[LUBENCH_MAX_REPS], limit[LUBENCH_MAX_REPS];
    for (int r = 0; r < b->size.reps; r++) {
        /* which runs first alternates: the one after the other's frees runs on a different heap */
        if (r % 2) limit[r] = open_and_build(save, nm);
        double t = bench_now();
        if (lu_context_open(&cfg, &ctx, &err) != LU_OK) {
            fprintf(stderr, "lubench: startup_limit: %s\n", err.message);
            exit(1);
        }
        ours[r] = (bench_now() - t) * 1e3;
        if (lu_startup_report_count(ctx) != 0 || ctx->commits != 1)
            fprintf(stderr, "lubench: startup_limit: %zu report lines, %llu index builds (expected 0 and 1)\n",
                    lu_startup_report_count(ctx), (unsigned long long)ctx->commits);
        lu_context_close(ctx);
        if (r % 2 == 0) limit[r] = open_and_build(save, nm);
    }
    printf("lubench: startup_limit: %d persisted mounts of %d entries; limit: open each volume, build one index\n", nm,
           ne);
    bench_report(b, "startup_limit", bench_median(ours, b->size.reps), bench_median(limit, b->size.reps), "ms", "<=",
                 1.5);
}
