/* open_volume.c -- what `lutool inspect` and `lutool verify` share: opening
 * a zip through the library (so reads are CRC-checked exactly as the game's
 * are), reading its manifest, reading a bundle's catalog, checking a volume
 * file against its catalog entry, and printing sizes.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "liveupdate/crypto.h"
#include "liveupdate/liveupdate.h"
#include "liveupdate/manifest.h"
#include "lutool.h"

bool lutool_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int lutool_open_zip(const char *cmd, const char *zip, lu_context **out)
{
    char abs[PATH_MAX], uri[PATH_MAX + 8];
    *out = NULL;
    if (!realpath(zip, abs)) {
        fprintf(stderr, "lutool %s: cannot open '%s': no such file\n", cmd, zip);
        return 1;
    }
    snprintf(uri, sizeof uri, "zip:%s", abs);
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.base_uri = uri;
    lu_error err;
    if (lu_context_open(&cfg, out, &err) != LU_OK) {
        fprintf(stderr, "lutool %s: %s: %s\n", cmd, zip, err.message);
        return 1;
    }
    return 0;
}

int lutool_read_manifest(const char *cmd, lu_context *ctx, const char *zip, lu_manifest **out)
{
    void *data;
    size_t size;
    lu_error err;
    *out = NULL;
    lu_status st = lu_read(ctx, LUTOOL_MANIFEST, &data, &size, &err);
    if (st == LU_NOT_FOUND) return 0;
    if (st == LU_OK) st = lu_manifest_parse(data, size, out, &err);
    lu_free(ctx, data);
    if (st != LU_OK) {
        fprintf(stderr, "lutool %s: %s: %s: %s\n", cmd, zip, LUTOOL_MANIFEST, err.message);
        return 1;
    }
    return 0;
}

int lutool_read_catalog(const char *cmd, const char *bundle_dir, lu_manifest **out)
{
    char path[PATH_MAX];
    snprintf(path, sizeof path, "%s/liveupdate/catalog.json", bundle_dir);
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return 0;
    char *text = NULL;
    size_t len = 0;
    int rc = lutool_read_all(f, &text, &len) ? 1 : 0;
    fclose(f);
    lu_error err;
    if (rc) fprintf(stderr, "lutool %s: %s: cannot read it (or out of memory)\n", cmd, path);
    else if (lu_catalog_parse(text, len, out, &err) != LU_OK) {
        fprintf(stderr, "lutool %s: %s: %s\n", cmd, path, err.message);
        rc = 1;
    }
    free(text);
    return rc;
}

void lutool_human_size(uint64_t n, char *buf, size_t cap)
{
    if (n < 1024) snprintf(buf, cap, "%llu B", (unsigned long long)n);
    else if (n < 1024 * 1024) snprintf(buf, cap, "%.1f KiB", (double)n / 1024);
    else if (n < 1024ull * 1024 * 1024) snprintf(buf, cap, "%.1f MiB", (double)n / (1024.0 * 1024));
    else snprintf(buf, cap, "%.2f GiB", (double)n / (1024.0 * 1024 * 1024));
}

int lutool_check_volume(const char *bundle_dir, const lu_manifest_volume *v, char *path, size_t cap,
                        char *why, size_t why_cap)
{
    snprintf(path, cap, "%s/liveupdate/%s", bundle_dir, v->file);
    char sha[LU_SHA256_HEX];
    uint64_t size = 0;
    lu_error err;
    lu_status st = lu_sha256_file(path, sha, &size, &err);
    if (st == LU_NOT_FOUND) {
        snprintf(why, why_cap, "MISSING");
        return LUTOOL_VOLUME_MISSING;
    }
    if (st != LU_OK) {
        snprintf(why, why_cap, "UNREADABLE (%s)", err.message);
        return LUTOOL_VOLUME_MISSING;
    }
    if (size != v->size) {
        snprintf(why, why_cap, "MISMATCH (size %llu, catalog says %llu)", (unsigned long long)size,
                 (unsigned long long)v->size);
        return LUTOOL_VOLUME_MISMATCH;
    }
    if (strcmp(sha, v->sha256) != 0) {
        snprintf(why, why_cap, "MISMATCH (sha256 %.16s..., catalog says %.16s...)", sha, v->sha256);
        return LUTOOL_VOLUME_MISMATCH;
    }
    snprintf(why, why_cap, "OK");
    return LUTOOL_VOLUME_OK;
}
