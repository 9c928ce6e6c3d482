/* version.c -- the volume version rule (docs/FORMATS.md), one place for the two
 * uses of a volume's /version_<name>.json: start-up pruning (prune.c)
 * removes the mounts below the context's minimum, and the version floor
 * (lu__version_floor, from every run-time mount add in mount_table.c;
 * lu__version_floor_file, for a verified download before it is installed
 * over anything; lu_version_floor_check, for a version known before the
 * volume is at hand) refuses to mount them, so what pruning removes never comes back.
 *
 * The version file is read from the volume's own archive, never through
 * the merged index. A volume without a readable {"version": N} is stale
 * at any minimum; the floor holds only when the minimum is above 0.
 */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "internal.h"

/* LU_OK and *version, LU_FORMAT_ERROR (not {"version": <integer>}) or
 * LU_MEM_ERROR (good JSON that cJSON could not parse for want of memory:
 * the volume is not stale for it). */
static lu_status parse_version(const char *data, size_t len, long long *version)
{
    cJSON *doc = cJSON_ParseWithLength(data, len);
    if (!doc && lu__json_syntax_ok(data, len)) return LU_MEM_ERROR;
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, "version");
    /* range first: converting an out-of-range double is undefined */
    bool ok = cJSON_IsNumber(v) && v->valuedouble > -9.2e18 && v->valuedouble < 9.2e18 &&
              v->valuedouble == (double)(long long)v->valuedouble;
    if (ok) *version = (long long)v->valuedouble;
    cJSON_Delete(doc);
    return ok ? LU_OK : LU_FORMAT_ERROR;
}

bool lu__parse_version_file(const char *data, size_t len, long long *version)
{
    return parse_version(data, len, version) == LU_OK;
}

lu_status lu__volume_version(lu_archive *a, const char *name, long long *version, char *why, size_t cap)
{
    char vpath[LU_NAME_MAX + 32];
    snprintf(vpath, sizeof vpath, "/version_%s.json", name);
    const lu_entry *e = lu__entries_find_once(&a->entries, vpath, strlen(vpath));
    if (!e) {
        snprintf(why, cap, "the volume has no %s", vpath);
        return LU_NOT_FOUND;
    }
    void *data;
    lu_error err;
    lu_status st = lu__archive_read(a, e, &data, &err);
    if (st != LU_OK) {
        snprintf(why, cap, "cannot read %s: %.400s", vpath, err.message);
        return st;
    }
    st = parse_version(data, (size_t)e->size, version);
    lu__free(a->env, data);
    if (st == LU_MEM_ERROR) snprintf(why, cap, "out of memory parsing %s", vpath);
    else if (st != LU_OK) snprintf(why, cap, "%s is not {\"version\": <integer>}", vpath);
    return st;
}

lu_status lu_version_floor_check(lu_context *ctx, const char *name, long long version, lu_error *err)
{
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    long long minimum = ctx->options.minimum_version;
    if (minimum <= 0 || version >= minimum) return LU_OK;
    return lu__fail(err, LU_VERSION_MISMATCH, "volume '%s' is version %lld, below the game's minimum %lld",
                    name ? name : "?", version, minimum);
}

lu_status lu__version_floor(lu_context *ctx, const char *name, lu_archive *a, lu_error *err)
{
    long long minimum = ctx->options.minimum_version, version;
    if (minimum <= 0) return LU_OK;
    /* the table is read: its paths are checked first (a volume opened
     * with lu__archive_open_to_mount has not been) */
    LU_TRY(lu__archive_unique(a, err));
    char why[600];
    lu_status st = lu__volume_version(a, name, &version, why, sizeof why);
    if (st == LU_OK) return lu_version_floor_check(ctx, name, version, err);
    if (st == LU_NOT_FOUND || st == LU_FORMAT_ERROR)   /* prune's rule: stale at any minimum */
        return lu__fail(err, LU_VERSION_MISMATCH, "volume '%s': %s, so it counts as below the game's minimum %lld",
                        name, why, minimum);
    return lu__fail(err, st, "volume '%s': %s", name, why);
}

lu_status lu__version_floor_file(lu_context *ctx, const char *name, const char *format, const char *path,
                                 lu_error *err)
{
    if (ctx->options.minimum_version <= 0) return LU_OK;
    lu_archive *a = NULL;
    lu_status st = lu__archive_open(&ctx->env, format, path, &a, err);
    if (st == LU_OK) st = lu__version_floor(ctx, name, a, err);
    lu__archive_release(a);
    return st;
}
