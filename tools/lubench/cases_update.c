/* cases_update.c -- update_bytes (docs/BENCHMARKS.md, docs/DOWNLOADS.md
 * "Deltas"): the bytes a content release moves from nginx on loopback,
 * through the update manager, when it changes 5% of the entries of a 20 MB
 * volume (10 of 200; 2 MB with --quick) and lists a second volume whose
 * bytes did not change, against the compressed bytes of the entries it
 * changed. Counted in nginx's access log ($body_bytes_sent of every
 * request of the release: the document, the volume's tail and ranges);
 * the unchanged volume must not be requested at all. The changed entries'
 * bytes come from the two volumes' central directories (the library's
 * zip layouts: lubench links the static library).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"
#include "liveupdate/crypto.h"
#include "liveupdate/liveupdate.h"
#include "liveupdate/updater.h"
#include "lubench.h"
#include "zip_layout.h"

#define ENTRIES 200
#define CHANGE_EVERY 20   /* entries 5, 25, ...: 5% */

/* A volume of ENTRIES entries as the bundler writes them (deflate, level
 * 6), each half pseudo-random bytes (seed: the entry, plus 1000 when
 * `changed` picks it) and half text, then its version file. */
static int write_levels(const char *path, size_t half, bool changed, int version)
{
    lu_zip_writer *w;
    lu_error err;
    unsigned char *buf = malloc(2 * half);
    if (!buf || lu_zip_writer_open(path, &w, &err) != LU_OK) {
        free(buf);
        fprintf(stderr, "lubench: cannot write '%s'\n", path);
        return 1;
    }
    int rc = 0;
    for (int i = 0; i < ENTRIES && !rc; i++) {
        uint64_t x = (uint64_t)(i + 1 + (changed && i % CHANGE_EVERY == 5 ? 1000 : 0)) * 0x9E3779B97F4A7C15ull;
        for (size_t k = 0; k < half; k++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            buf[k] = (unsigned char)x;
        }
        for (size_t k = half; k < 2 * half;) {
            char t[64];
            size_t m = (size_t)snprintf(t, sizeof t, "line %zu of level part %d\n", k, i);
            if (m > 2 * half - k) m = 2 * half - k;
            memcpy(buf + k, t, m);
            k += m;
        }
        char name[64];
        snprintf(name, sizeof name, "level/part%03d.bin", i);
        rc = lu_zip_writer_add_method(w, name, buf, 2 * half, LU_ZIP_DEFLATE, 6, &err) != LU_OK;
    }
    char ver[64];
    snprintf(ver, sizeof ver, "{\"version\": %d}", version);
    if (!rc) rc = lu_zip_writer_add(w, "version_levels.json", ver, strlen(ver), 6, &err) != LU_OK;
    if (lu_zip_writer_close(w, &err) != LU_OK) rc = 1;
    free(buf);
    if (rc) fprintf(stderr, "lubench: cannot write '%s'\n", path);
    return rc;
}

/* The compressed bytes of the entries of `neu` that `old` does not hold
 * (by name, CRC-32 and sizes). */
static uint64_t changed_bytes(const char *old, const char *neu)
{
    lu_env env = lu__default_env();
    lu_zip_layout *a, *n;
    lu_error err;
    if (lu__zip_layout_file(&env, old, &a, &err) != LU_OK || lu__zip_layout_file(&env, neu, &n, &err) != LU_OK) {
        fprintf(stderr, "lubench: %s\n", err.message);
        exit(1);
    }
    uint64_t sum = 0;
    for (size_t i = 0; i < n->count; i++) {
        const lu_zip_record *r = &n->rec[i];
        bool same = false;
        for (size_t j = 0; j < a->count && !same; j++) {
            const lu_zip_record *q = &a->rec[j];
            same = q->nlen == r->nlen && memcmp(a->names + q->name, n->names + r->name, r->nlen) == 0 &&
                   q->crc == r->crc && q->csize == r->csize && q->usize == r->usize;
        }
        if (!same) sum += r->csize;
    }
    lu__zip_layout_free(&env, a);
    lu__zip_layout_free(&env, n);
    return sum;
}

/* The volume entry of a release document for www/<file>. */
static void volume_json(const char *www, const char *name, const char *file, char *out, size_t cap)
{
    char path[1200], sha[LU_SHA256_HEX];
    uint64_t size;
    lu_error err;
    snprintf(path, sizeof path, "%s/%s", www, file);
    if (lu_sha256_file(path, sha, &size, &err) != LU_OK) {
        fprintf(stderr, "lubench: %s\n", err.message);
        exit(1);
    }
    snprintf(out, cap, "{\"name\": \"%s\", \"file\": \"%s\", \"size\": %llu, \"sha256\": \"%s\", \"priority\": 10}",
             name, file, (unsigned long long)size, sha);
}

static void write_document(const char *www, const char *version, const char *levels_file)
{
    char path[1200], a[400], b[400];
    volume_json(www, "levels", levels_file, a, sizeof a);
    volume_json(www, "other", "other.zip", b, sizeof b);
    snprintf(path, sizeof path, "%s/release.json", www);
    FILE *f = fopen(path, "w");
    if (!f) exit(1);
    fprintf(f, "{\"version\": \"%s\", \"volumes\": [%s, %s]}", version, a, b);
    fclose(f);
}

static int ready;   /* 1: a release is staged; -1: a check failed */

static void on_event(void *ud, const lu_updater_event *ev)
{
    (void)ud;
    if (ev->kind == LU_UPDATER_READY) ready = 1;
    if (ev->kind == LU_UPDATER_FAILED) {
        fprintf(stderr, "lubench: update_bytes: %s\n", ev->message);
        ready = -1;
    }
}

/* Checks, waits for the release to be staged, applies and confirms it. */
static void release(lu_context *ctx)
{
    lu_error err;
    ready = 0;
    if (lu_updater_check(ctx, &err) != LU_OK) {
        fprintf(stderr, "lubench: update_bytes: %s\n", err.message);
        exit(1);
    }
    double deadline = bench_now() + 300;   /* a hang guard only: nothing here is timed */
    while (!ready && bench_now() < deadline) {
        lu_update(ctx);
        if (!ready) usleep(1000);
    }
    if (ready != 1 || lu_updater_apply(ctx, &err) != LU_OK || lu_updater_confirm(ctx, &err) != LU_OK) {
        fprintf(stderr, "lubench: update_bytes: the release was not applied\n");
        exit(1);
    }
}

void bench_update_bytes(bench *b)
{
    char www[700], path[1200], save[700], url[200];
    /* entries of 2 x half bytes, deflated to about half + 5%: a volume of
     * about 21 MB (1.7 MB with --quick) */
    size_t half = (size_t)(b->size.download_bytes / 10 / ENTRIES);
    snprintf(www, sizeof www, "%s/update-www", b->dir);
    snprintf(save, sizeof save, "%s/update-save", b->dir);
    mkdir(www, 0755);
    snprintf(path, sizeof path, "%s/levels-1.1.zip", www);
    if (write_levels(path, half, false, 1)) exit(1);
    snprintf(path, sizeof path, "%s/levels-1.2.zip", www);
    if (write_levels(path, half, true, 2)) exit(1);
    snprintf(path, sizeof path, "%s/other.zip", www);
    if (bench_zip_big(path, b->size.download_bytes / 100)) exit(1);
    lu_error err;
    if (lu_crypto_init(&err) != LU_OK) exit(1);
    write_document(www, "1.1", "levels-1.1.zip");
    int port = bench_nginx_start(b, www, true);
    if (!port) exit(1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/release.json", port);
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    lu_context *ctx;
    lu_updater_config ucfg;
    lu_updater_config_init(&ucfg);
    ucfg.url = url;
    ucfg.local_version = "1.0";
    ucfg.on_event = on_event;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK || lu_updater_open(ctx, &ucfg, &err) != LU_OK) {
        fprintf(stderr, "lubench: update_bytes: %s\n", err.message);
        exit(1);
    }
    release(ctx);   /* 1.1: both volumes, whole */
    snprintf(path, sizeof path, "%s/access.log", b->dir);
    struct stat st;
    off_t mark = stat(path, &st) == 0 ? st.st_size : 0;
    write_document(www, "1.2", "levels-1.2.zip");
    release(ctx);   /* 1.2: what this case measures */
    lu_context_close(ctx);
    bench_nginx_stop(b);
    uint64_t sent = 0;
    int other = 0;
    FILE *f = fopen(path, "r");
    char line[1200], uri[1000];
    unsigned long long n;
    int status;
    if (!f || fseeko(f, mark, SEEK_SET) != 0) exit(1);
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "%d %999s %llu", &status, uri, &n) == 3) {
            sent += n;
            other += strcmp(uri, "/other.zip") == 0;
        }
    fclose(f);
    if (other) fprintf(stderr, "lubench: update_bytes: the unchanged volume was requested %d time(s)\n", other);
    char a[1200], c[1200];
    snprintf(a, sizeof a, "%s/levels-1.1.zip", www);
    snprintf(c, sizeof c, "%s/levels-1.2.zip", www);
    uint64_t changed = changed_bytes(a, c);
    /* an unchanged volume requested counts as everything it could cost */
    bench_report(b, "update_bytes", other ? (double)sent * 100 : (double)sent, (double)changed, "bytes", "<=", 1.1);
}
