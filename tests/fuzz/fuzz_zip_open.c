/* fuzz_zip_open.c -- bytes as a whole zip file: mount it, list it and read
 * every entry twice, the second read (one pread at the offset the first
 * learned) giving the same bytes (docs/FORMATS.md: unsafe or corrupt archives are refused, never a
 * crash, a hang or an unbounded allocation). */
#include "fuzz.h"
#include "liveupdate/liveupdate.h"

static lu_context *ctx;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lu_error err;
    if (!ctx) {
        lu_config cfg;
        lu_config_init(&cfg);
        cfg.max_uncompressed = 1 << 20;   /* keep reads small */
        if (lu_context_open(&cfg, &ctx, &err) != LU_OK) abort();
    }
    char path[256], uri[300];
    snprintf(path, sizeof path, "%s/input.zip", fuzz_dir());
    snprintf(uri, sizeof uri, "zip:%s", path);
    fuzz_write(path, data, size);
    if (lu_mount_add(ctx, "f", uri, 1, LU_MOUNT_NO_PERSIST, &err) != LU_OK) return 0;
    char **paths;
    size_t n;
    if (lu_list_paths(ctx, "/", NULL, &paths, &n, &err) == LU_OK) {
        for (size_t i = 0; i < n; i++) {
            void *buf, *again;
            size_t len, len2;
            if (lu_read(ctx, paths[i], &buf, &len, &err) != LU_OK) continue;
            /* a second read takes the one-pread path the first one learned:
             * the same bytes, or the fast path is wrong */
            if (lu_read(ctx, paths[i], &again, &len2, &err) != LU_OK || len2 != len || memcmp(buf, again, len) != 0)
                abort();
            lu_free(ctx, again);
            lu_free(ctx, buf);
        }
        lu_free(ctx, paths);
    }
    lu_mount_remove(ctx, "f", &err);
    return 0;
}
