/* cases.c -- the cases of docs/BENCHMARKS.md, each timed for liveupdate and for its
 * peer in the same run on the same files: PhysicsFS for lookups, mounts,
 * reads, start-up and memory; `curl -o` against nginx on 127.0.0.1 for
 * downloads; zlib's inflate as the physical limit for reads; our own
 * exists() for missing_resources. Medians of b->size.reps repetitions.
 */
#include <malloc.h>
#include <physfs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "liveupdate/crypto.h"
#include "liveupdate/download.h"
#include "liveupdate/liveupdate.h"
#include "liveupdate/manifest.h"
#include "lubench.h"

#define REPS_MAX LUBENCH_MAX_REPS

static void path_in(const bench *b, char *out, size_t cap, const char *name)
{
    snprintf(out, cap, "%s/%s", b->dir, name);
}

static lu_context *open_plain(void)
{
    lu_config cfg;
    lu_config_init(&cfg);
    lu_context *ctx = NULL;
    lu_error err;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) fprintf(stderr, "lubench: %s\n", err.message);
    return ctx;
}

static void mount_zip(lu_context *ctx, const char *name, const char *path, int prio, unsigned flags)
{
    char uri[600];
    snprintf(uri, sizeof uri, "zip:%s", path);
    lu_error err;
    if (lu_mount_add(ctx, name, uri, prio, flags, &err) != LU_OK) {
        fprintf(stderr, "lubench: %s\n", err.message);
        exit(1);
    }
}

static void physfs_start(void)
{
    if (!PHYSFS_init("lubench")) {
        fprintf(stderr, "lubench: PhysicsFS: %s\n", PHYSFS_getErrorByCode(PHYSFS_getLastErrorCode()));
        exit(1);
    }
}

static void physfs_mount(const char *path)
{
    if (!PHYSFS_mount(path, NULL, 1)) {
        fprintf(stderr, "lubench: PhysicsFS cannot mount %s: %s\n", path,
                PHYSFS_getErrorByCode(PHYSFS_getLastErrorCode()));
        exit(1);
    }
}

/* ---- lookup ------------------------------------------------------------ */

void bench_lookup(bench *b)
{
    int nm = b->size.lookup_mounts, ne = b->size.lookup_entries, np = b->size.lookup_probes;
    char path[600], name[32];
    for (int k = 0; k < nm; k++) {
        snprintf(name, sizeof name, "lookup%d.zip", k);
        path_in(b, path, sizeof path, name);
        char prefix[16];
        snprintf(prefix, sizeof prefix, "m%d", k);
        if (bench_zip_small(path, prefix, ne, false, NULL)) exit(1);
    }
    /* probes: half hits, half misses, in random order */
    char (*probe)[32] = malloc((size_t)np * sizeof *probe);
    srand(7);
    for (int i = 0; i < np; i++) {
        int k = rand() % nm, e = rand() % ne;
        snprintf(probe[i], sizeof probe[i], "/m%d/%s%d.txt", k, i % 2 ? "x" : "", e);
    }
    lu_context *ctx = open_plain();
    physfs_start();
    for (int k = 0; k < nm; k++) {
        snprintf(name, sizeof name, "v%d", k);
        char zp[600], zn[32];
        snprintf(zn, sizeof zn, "lookup%d.zip", k);
        path_in(b, zp, sizeof zp, zn);
        mount_zip(ctx, name, zp, k, LU_MOUNT_NO_PERSIST);
        physfs_mount(zp);
    }
    double ours[REPS_MAX], peer[REPS_MAX];
    long hits_o = 0, hits_p = 0;
    for (int r = 0; r < b->size.reps; r++) {
        double t = bench_now();
        for (int i = 0; i < np; i++) hits_o += lu_exists(ctx, probe[i]);
        ours[r] = (bench_now() - t) / np * 1e9;
        t = bench_now();
        for (int i = 0; i < np; i++) hits_p += PHYSFS_exists(probe[i] + 1);
        peer[r] = (bench_now() - t) / np * 1e9;
    }
    if (hits_o != hits_p) fprintf(stderr, "lubench: lookup: %ld hits vs PhysicsFS %ld\n", hits_o, hits_p);
    PHYSFS_deinit();
    lu_context_close(ctx);
    free(probe);
    bench_report(b, "lookup", bench_median(ours, b->size.reps), bench_median(peer, b->size.reps), "ns/op", "<=", 0.1);
}

/* ---- mount and memory -------------------------------------------------- */

static void big_index_zip(bench *b, char *path, size_t cap)
{
    path_in(b, path, cap, "mount20k.zip");
    struct stat st;
    if (stat(path, &st) != 0 && bench_zip_small(path, "assets/level", b->size.mount_entries, false, NULL)) exit(1);
}

void bench_mount(bench *b)
{
    char zp[600];
    big_index_zip(b, zp, sizeof zp);
    double ours[REPS_MAX], peer[REPS_MAX];
    for (int r = 0; r < b->size.reps; r++) {
        lu_context *ctx = open_plain();
        double t = bench_now();
        mount_zip(ctx, "big", zp, 1, LU_MOUNT_NO_PERSIST);
        int ok = lu_exists(ctx, "/assets/level/7.txt");
        ours[r] = (bench_now() - t) * 1e3;
        lu_context_close(ctx);
        physfs_start();
        t = bench_now();
        physfs_mount(zp);
        ok &= PHYSFS_exists("assets/level/7.txt");
        peer[r] = (bench_now() - t) * 1e3;
        PHYSFS_deinit();
        if (!ok) fprintf(stderr, "lubench: mount: lookup after mount failed\n");
    }
    bench_report(b, "mount", bench_median(ours, b->size.reps), bench_median(peer, b->size.reps), "ms", "<=", 1.0);
}

/* Live heap bytes through each library's allocator hooks. */
static long long live;

static void *count_realloc(void *ud, void *p, size_t n)
{
    (void)ud;
    if (p) live -= (long long)malloc_usable_size(p);
    void *q = realloc(p, n);
    if (q) live += (long long)malloc_usable_size(q);
    else if (p && n) live += (long long)malloc_usable_size(p);
    return q;
}

static void count_free(void *ud, void *p)
{
    (void)ud;
    if (p) live -= (long long)malloc_usable_size(p);
    free(p);
}

static void *pfs_malloc(PHYSFS_uint64 n) { return count_realloc(NULL, NULL, (size_t)n); }
static void *pfs_realloc(void *p, PHYSFS_uint64 n) { return count_realloc(NULL, p, (size_t)n); }
static void pfs_free(void *p) { count_free(NULL, p); }

void bench_memory(bench *b)
{
    char zp[600];
    big_index_zip(b, zp, sizeof zp);
    lu_allocator a = {count_realloc, count_free, NULL};
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.allocator = &a;
    lu_context *ctx;
    lu_error err;
    live = 0;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) exit(1);
    long long before = live;
    mount_zip(ctx, "big", zp, 1, LU_MOUNT_NO_PERSIST);
    double ours = (double)(live - before) / b->size.mount_entries;
    lu_context_close(ctx);
    PHYSFS_Allocator pa = {NULL, NULL, pfs_malloc, pfs_realloc, pfs_free};
    live = 0;
    PHYSFS_setAllocator(&pa);
    physfs_start();
    before = live;
    physfs_mount(zp);
    double peer = (double)(live - before) / b->size.mount_entries;
    PHYSFS_deinit();
    PHYSFS_setAllocator(NULL);
    bench_report(b, "memory", ours, peer, "bytes/entry", "<=", 0.5);
}

/* ---- read ---------------------------------------------------------------- */

void bench_read(bench *b)
{
    char zp[600];
    path_in(b, zp, sizeof zp, "mixed.zip");
    if (bench_zip_mixed(zp, b->size.read_bytes)) exit(1);
    lu_context *ctx = open_plain();
    mount_zip(ctx, "mixed", zp, 1, LU_MOUNT_NO_PERSIST);
    char **paths;
    size_t n;
    lu_error err;
    if (lu_list_paths(ctx, "/", NULL, &paths, &n, &err) != LU_OK) exit(1);
    physfs_start();
    physfs_mount(zp);
    /* the physical limit: the same entries inflated (or copied) from memory */
    typedef struct blob { unsigned char *z; uLongf zlen; size_t len; bool deflated; } blob;
    blob *blobs = calloc(n, sizeof *blobs);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        void *data;
        size_t len;
        if (lu_read(ctx, paths[i], &data, &len, &err) != LU_OK) exit(1);
        blobs[i].len = len;
        blobs[i].deflated = strstr(paths[i], ".json") != NULL;
        blobs[i].zlen = compressBound(len);
        blobs[i].z = malloc(blobs[i].zlen);
        if (blobs[i].deflated) compress2(blobs[i].z, &blobs[i].zlen, data, len, 6);
        else memcpy(blobs[i].z, data, len);
        total += len;
        lu_free(ctx, data);
    }
    unsigned char *out = malloc(4u << 20);
    double ours[REPS_MAX], peer[REPS_MAX], limit[REPS_MAX];
    for (int r = 0; r < b->size.reps; r++) {
        double t = bench_now();
        for (size_t i = 0; i < n; i++) {
            void *data;
            size_t len;
            if (lu_read(ctx, paths[i], &data, &len, &err) != LU_OK) exit(1);
            lu_free(ctx, data);
        }
        ours[r] = (double)total / (bench_now() - t) / 1e6;
        t = bench_now();
        for (size_t i = 0; i < n; i++) {
            PHYSFS_File *f = PHYSFS_openRead(paths[i] + 1);
            PHYSFS_sint64 len = f ? PHYSFS_fileLength(f) : -1;
            void *data = len >= 0 ? malloc((size_t)len + 1) : NULL;
            if (!f || !data || PHYSFS_readBytes(f, data, (PHYSFS_uint64)len) != len) exit(1);
            free(data);
            PHYSFS_close(f);
        }
        peer[r] = (double)total / (bench_now() - t) / 1e6;
        t = bench_now();
        for (size_t i = 0; i < n; i++) {
            uLongf len = 4u << 20;
            void *data = malloc(blobs[i].len + 1);
            if (blobs[i].deflated) uncompress(data, &len, blobs[i].z, blobs[i].zlen);
            else memcpy(data, blobs[i].z, blobs[i].len);
            free(data);
        }
        limit[r] = (double)total / (bench_now() - t) / 1e6;
    }
    free(out);
    for (size_t i = 0; i < n; i++) free(blobs[i].z);
    free(blobs);
    PHYSFS_deinit();
    lu_free(ctx, paths);
    lu_context_close(ctx);
    double o = bench_median(ours, b->size.reps);
    bench_report(b, "read", o, bench_median(peer, b->size.reps), "MB/s", ">=", 1.0);
    /* not a bar: how close reads come to inflating from memory */
    bench_report(b, "read_vs_zlib", o, bench_median(limit, b->size.reps), "MB/s", ">=", 0.5);
}

/* ---- zstd volumes ------------------------------------------------------------ */

/* CPU seconds of this thread to read every entry (`paths`) of ctx's one
 * mount: the files are in the page cache and nothing waits, so CPU time
 * is the reading cost, and it holds on a shared machine where wall time
 * does not. */
static double read_all(lu_context *ctx, char **paths, size_t n)
{
    lu_error err;
    double t = bench_cpu_now();
    for (size_t i = 0; i < n; i++) {
        void *data;
        size_t len;
        if (lu_read(ctx, paths[i], &data, &len, &err) != LU_OK) {
            fprintf(stderr, "lubench: %s\n", err.message);
            exit(1);
        }
        lu_free(ctx, data);
    }
    return bench_cpu_now() - t;
}

static uint64_t file_size(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

/* Not a benchmark bar: the same Defold-like text volume written by the
 * bundler's deflate and by its zstd, read through the library (the peer is
 * the deflate volume; CPU time, see read_all), and the two file sizes. */
void bench_read_zstd(bench *b)
{
    char zd[600], zz[600];
    path_in(b, zd, sizeof zd, "text-deflate.zip");
    path_in(b, zz, sizeof zz, "text-zstd.zip");
    if (bench_zip_text_pair(zd, zz, b->size.read_bytes / 2)) exit(1);
    lu_context *cd = open_plain(), *cz = open_plain();
    mount_zip(cd, "deflate", zd, 1, LU_MOUNT_NO_PERSIST);
    mount_zip(cz, "zstd", zz, 1, LU_MOUNT_NO_PERSIST);
    char **paths;
    size_t n;
    lu_error err;
    if (lu_list_paths(cd, "/", NULL, &paths, &n, &err) != LU_OK) exit(1);
    uint64_t total = 0;
    for (size_t i = 0; i < n; i++) {
        lu_stat_info st;
        if (lu_stat(cd, paths[i], &st, &err) != LU_OK) exit(1);
        total += st.size;
    }
    double ours[REPS_MAX], peer[REPS_MAX];
    for (int r = 0; r < b->size.reps; r++) {
        ours[r] = (double)total / read_all(cz, paths, n) / 1e6;
        peer[r] = (double)total / read_all(cd, paths, n) / 1e6;
    }
    lu_free(cd, paths);
    lu_context_close(cd);
    lu_context_close(cz);
    /* zstd must not read slower than deflate beyond the noise; its gain is the size */
    bench_report(b, "read_zstd", bench_median(ours, b->size.reps), bench_median(peer, b->size.reps), "MB/s", ">=",
                 0.9);
    bench_report(b, "zstd_size", (double)file_size(zz), (double)file_size(zd), "bytes", "<=", 1.0);
}

/* ---- start-up -------------------------------------------------------------- */

void bench_startup(bench *b)
{
    int nm = b->size.startup_mounts;
    char save[600], zp[600], name[32];
    path_in(b, save, sizeof save, "startup-save");
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    lu_context *ctx;
    lu_error err;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) exit(1);
    for (int k = 0; k < nm; k++) {
        snprintf(name, sizeof name, "start%d", k);
        char zn[48];
        snprintf(zn, sizeof zn, "startup%d.zip", k);
        path_in(b, zp, sizeof zp, zn);
        if (bench_zip_small(zp, name, b->size.startup_entries, true, name)) exit(1);
        mount_zip(ctx, name, zp, k, 0);
    }
    lu_context_close(ctx);
    cfg.prune_stale = 1;
    cfg.minimum_version = 1;
    double ours[REPS_MAX], peer[REPS_MAX];
    for (int r = 0; r < b->size.reps; r++) {
        double t = bench_now();
        if (lu_context_open(&cfg, &ctx, &err) != LU_OK) exit(1);
        ours[r] = (bench_now() - t) * 1e3;
        size_t n = 0;
        lu_mount_info *m;
        lu_mounts_get(ctx, &m, &n, &err);
        lu_free(ctx, m);
        if ((int)n != nm) fprintf(stderr, "lubench: start-up: %zu mounts, expected %d\n", n, nm);
        lu_context_close(ctx);
        t = bench_now();
        physfs_start();
        for (int k = 0; k < nm; k++) {
            char zn[48];
            snprintf(zn, sizeof zn, "startup%d.zip", k);
            path_in(b, zp, sizeof zp, zn);
            physfs_mount(zp);
        }
        peer[r] = (bench_now() - t) * 1e3;
        PHYSFS_deinit();
    }
    bench_report(b, "startup", bench_median(ours, b->size.reps), bench_median(peer, b->size.reps), "ms", "<=", 0.5);
}

/* ---- missing resources ------------------------------------------------------ */

void bench_missing(bench *b)
{
    int nr = b->size.proxy_resources;
    char zp[600];
    path_in(b, zp, sizeof zp, "proxy.zip");
    if (bench_zip_small(zp, "lvl", nr / 2, false, NULL)) exit(1);   /* half present */
    size_t cap = (size_t)nr * 40 + 200;
    char *json = malloc(cap * 2), *p = json;
    p += sprintf(p, "{\"resources\": [");
    for (int i = 0; i < nr; i++) p += sprintf(p, "%s{\"path\": \"/lvl/%d.txt\", \"size\": 1}", i ? "," : "", i);
    p += sprintf(p, "], \"proxies\": [{\"id\": \"big\", \"collection\": \"/lvl/0.txt\", \"resources\": [");
    for (int i = 0; i < nr; i++) p += sprintf(p, "%s\"/lvl/%d.txt\"", i ? "," : "", i);
    p += sprintf(p, "]}]}");
    lu_manifest *m;
    lu_error err;
    if (lu_manifest_parse(json, (size_t)(p - json), &m, &err) != LU_OK) {
        fprintf(stderr, "lubench: %s\n", err.message);
        exit(1);
    }
    free(json);
    lu_context *ctx = open_plain();
    mount_zip(ctx, "lvl", zp, 1, LU_MOUNT_NO_PERSIST);
    const lu_manifest_proxy *px = lu_manifest_find_proxy(m, "big");
    double ours[REPS_MAX], peer[REPS_MAX];
    size_t want = 0, got = 0;
    for (int r = 0; r < b->size.reps; r++) {
        char **missing;
        size_t n;
        double t = bench_now();
        lu_manifest_missing(ctx, m, "big", 0, &missing, &n, &err);
        ours[r] = (bench_now() - t) * 1e3;
        lu_free(ctx, missing);
        got = n;
        want = 0;
        t = bench_now();
        for (size_t i = 0; i < px->nresources; i++) want += !lu_exists(ctx, px->resources[i]);
        peer[r] = (bench_now() - t) * 1e3;
    }
    if (got != want) fprintf(stderr, "lubench: missing: %zu vs %zu\n", got, want);
    lu_manifest_free(m);
    lu_context_close(ctx);
    bench_report(b, "missing_resources", bench_median(ours, b->size.reps), bench_median(peer, b->size.reps), "ms",
                 "<=", 2.0);
}

/* ---- download -------------------------------------------------------------- */

static bool dl_done;
static lu_status dl_status;

static void on_dl(void *ud, int id, const char *path, const lu_error *err)
{
    (void)id;
    (void)path;
    lu_context *ctx = ud;
    dl_status = err->status;
    if (err->status == LU_OK) {
        lu_error merr;
        dl_status = lu_mount_add(ctx, "big", "zip:volumes/big.zip", 1, LU_MOUNT_REPLACE, &merr);
    } else {
        fprintf(stderr, "lubench: download: %s\n", err->message);
    }
    dl_done = true;
}

void bench_download(bench *b)
{
    char www[600], zp[700], url[200], cmd[2400], save[600];
    path_in(b, www, sizeof www, "www");
    mkdir(www, 0755);
    snprintf(zp, sizeof zp, "%s/big.zip", www);
    if (bench_zip_big(zp, b->size.download_bytes)) exit(1);
    char sha[LU_SHA256_HEX];
    uint64_t size;
    lu_error err;
    if (lu_crypto_init(&err) != LU_OK || lu_sha256_file(zp, sha, &size, &err) != LU_OK) exit(1);
    int port = bench_nginx_start(b, www, false);
    if (!port) exit(1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/big.zip", port);
    double ours[REPS_MAX], peer[REPS_MAX];
    int reps = b->size.reps;
    for (int r = 0; r < reps; r++) {
        snprintf(save, sizeof save, "%s/dl-save", b->dir);
        snprintf(cmd, sizeof cmd, "rm -rf %s", save);
        if (system(cmd) != 0) exit(1);
        lu_config cfg;
        lu_config_init(&cfg);
        cfg.save_dir = save;
        lu_context *ctx;
        if (lu_context_open(&cfg, &ctx, &err) != LU_OK) exit(1);
        lu_download_request req;
        lu_download_request_init(&req);
        req.url = url;
        req.file = "big.zip";
        req.size = size;
        req.sha256 = sha;
        req.max_size = size;
        req.done = on_dl;
        req.ud = ctx;
        int id;
        dl_done = false;
        double t = bench_now();
        if (lu_download_start(ctx, &req, &id, &err) != LU_OK) exit(1);
        while (!dl_done) {
            lu_update(ctx);
            if (!dl_done) usleep(10);
        }
        ours[r] = (double)size / (bench_now() - t) / 1e6;
        if (dl_status != LU_OK || !lu_exists(ctx, "/big.bin")) fprintf(stderr, "lubench: download not mounted\n");
        lu_context_close(ctx);
        snprintf(cmd, sizeof cmd, "curl -s -o %s/curl.zip %s", b->dir, url);
        t = bench_now();
        if (system(cmd) != 0) fprintf(stderr, "lubench: curl failed\n");
        peer[r] = (double)size / (bench_now() - t) / 1e6;
    }
    bench_nginx_stop(b);
    bench_report(b, "download", bench_median(ours, reps), bench_median(peer, reps), "MB/s", ">=", 0.85);
}
