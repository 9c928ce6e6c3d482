/* helpers.h -- shared helpers for the Criterion unit tests.
 *
 * Temporary directories, the library's own zip fixtures (lu_zip_writer),
 * small file helpers, and the location of the generated fixtures
 * (LU_FIXTURES, set by tools/test after tests/fixtures/make_zips.py ran).
 */
#ifndef LU_TEST_HELPERS_H
#define LU_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "liveupdate/liveupdate.h"

/* Test-helper memory lives until the test process ends; under ASan it is
 * marked so that LeakSanitizer reports only what the library leaks. */
#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
#endif
static inline void *TH_KEEP(void *p)
{
#if defined(__SANITIZE_ADDRESS__)
    __lsan_ignore_object(p);
#endif
    return p;
}

/* A fresh directory under $TMPDIR; returns a static-lifetime malloc'd path. */
static inline char *th_tempdir(void)
{
    const char *base = getenv("TMPDIR");
    char tmpl[PATH_MAX];
    snprintf(tmpl, sizeof tmpl, "%s/lutest.XXXXXX", base && *base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    cr_assert_not_null(d, "mkdtemp failed");
    char *r = strdup(d);
    return TH_KEEP(r);
}

static inline char *th_path(const char *dir, const char *name)
{
    char *p = malloc(strlen(dir) + strlen(name) + 2);
    sprintf(p, "%s/%s", dir, name);
    return TH_KEEP(p);
}

static inline void th_write_file(const char *path, const void *data, size_t len)
{
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f, "cannot write %s", path);
    if (len) cr_assert_eq(fwrite(data, 1, len, f), len);
    fclose(f);
}

static inline char *th_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    TH_KEEP(buf);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    if (len) *len = got;
    return buf;
}

static inline int th_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Writes a zip with the library's own writer. `entries` alternates name,
 * content, ... and ends with NULL. Deflated. */
static inline void th_make_zip(const char *path, const char *const *entries)
{
    lu_zip_writer *w;
    lu_error err;
    cr_assert_eq(lu_zip_writer_open(path, &w, &err), LU_OK, "%s", err.message);
    for (size_t i = 0; entries[i]; i += 2)
        cr_assert_eq(lu_zip_writer_add(w, entries[i], entries[i + 1], strlen(entries[i + 1]), 6, &err),
                     LU_OK, "%s", err.message);
    cr_assert_eq(lu_zip_writer_close(w, &err), LU_OK, "%s", err.message);
}

/* Directory of generated fixtures, or skips the test when unset. */
static inline const char *th_fixtures(void)
{
    const char *d = getenv("LU_FIXTURES");
    cr_assert(d && *d, "LU_FIXTURES is not set: run the tests through tools/test");
    return d;
}

/* Opens a context on `save` with optional base URI; asserts success. */
/* Gives the zip at `path` (written with no comment) an archive comment of
 * `n` bytes ('c'): over 4 KiB, its end record is no longer in the last
 * 4 KiB a zip open searches first. */
static inline void th_add_zip_comment(const char *path, unsigned n)
{
    FILE *f = fopen(path, "r+b");
    cr_assert_not_null(f);
    unsigned char len[2] = {n & 0xff, (n >> 8) & 0xff};
    cr_assert_eq(fseek(f, -2, SEEK_END), 0);
    cr_assert_eq(fwrite(len, 1, 2, f), 2);
    for (unsigned i = 0; i < n; i++) fputc('c', f);
    cr_assert_eq(fclose(f), 0);
}

/* An allocator (lu_allocator's realloc and free, ud a size_t*) that refuses
 * blocks of exactly *ud bytes while *ud is not 0: used to make one volume's
 * open fail with LU_MEM_ERROR (the window its end record is searched in),
 * so the mounts file holds its mount instead of dropping it. */
static inline void *th_refuse_size(void *ud, void *p, size_t n)
{
    if (*(size_t *)ud && n == *(size_t *)ud) return NULL;
    if (n == 0) {
        free(p);
        return NULL;
    }
    return realloc(p, n);
}

static inline void th_free_fn(void *ud, void *p)
{
    (void)ud;
    free(p);
}

static inline lu_context *th_open(const char *save, const char *base)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    cfg.base_uri = base;
    lu_context *ctx = NULL;
    lu_error err;
    lu_status st = lu_context_open(&cfg, &ctx, &err);
    cr_assert_eq(st, LU_OK, "open failed: %s", err.message);
    return ctx;
}

/* Reads `path` through ctx into a malloc'd string (asserts success). */
static inline char *th_read(lu_context *ctx, const char *path)
{
    void *data;
    size_t size;
    lu_error err;
    lu_status st = lu_read(ctx, path, &data, &size, &err);
    cr_assert_eq(st, LU_OK, "read %s: %s", path, err.message);
    char *s = strdup(data);
    TH_KEEP(s);
    lu_free(ctx, data);
    return s;
}

static inline size_t th_mount_count(lu_context *ctx)
{
    lu_mount_info *m;
    size_t n;
    lu_error err;
    cr_assert_eq(lu_mounts_get(ctx, &m, &n, &err), LU_OK);
    lu_free(ctx, m);
    return n;
}

/* A save directory where an earlier run staged release 1.1: the zip at
 * `release_zip` as volumes/rel-1.1-content.zip and an update/state.json
 * naming it as staged (the update manager's fault tests start from it). */
static inline char *th_staged_save_dir(const char *release_zip)
{
    char *save = th_tempdir(), *vols = th_path(save, "volumes"), *upd = th_path(save, "update");
    cr_assert_eq(mkdir(vols, 0755), 0);
    cr_assert_eq(mkdir(upd, 0755), 0);
    size_t len = 0;
    char *zip = th_read_file(release_zip, &len);
    th_write_file(th_path(vols, "rel-1.1-content.zip"), zip, len);
    static const char state[] =
        "{\"current\": null, \"previous\": null, \"staged\": {\"version\": \"1.1\", \"volumes\": "
        "[{\"name\": \"content\", \"file\": \"rel-1.1-content.zip\", \"priority\": 10}]}, \"trial\": null, "
        "\"failed\": [], \"last_rollback\": null, \"update_pending\": false, \"last_run\": 0, \"last_check\": 0}";
    th_write_file(th_path(upd, "state.json"), state, sizeof state - 1);
    return save;
}

#endif
