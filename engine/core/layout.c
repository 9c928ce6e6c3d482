/* layout.c -- the save directory's layout, built in one place.
 *
 *   <save>/liveupdate.mounts, liveupdate.lock   the mount table (persist.c)
 *   <save>/volumes/<file>                        downloaded and released volumes
 *   <save>/volumes/sha256/<hex>.zip              the same bytes by SHA-256 (store.c)
 *   <save>/downloads/<file>.part(.json)          transfers in progress (net/)
 *   <save>/update/                               the update manager's files (update/)
 *
 *   <save>/<rel>                                 lu_save_file_write / _copy
 *                                                (liveupdate-legacy/: the Lua
 *                                                module's legacy store)
 *
 * Every path under the save directory is made by lu__save_path, every
 * volume's mount URI by lu_volume_uri, so a folder is renamed in one line.
 */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "internal.h"

static const char *const area_names[] = {
    [LU_SAVE_ROOT] = "",
    [LU_SAVE_VOLUMES] = "volumes",
    [LU_SAVE_DOWNLOADS] = "downloads",
    [LU_SAVE_UPDATE] = "update",
    [LU_SAVE_STORE] = "volumes/sha256",
};

lu_status lu__save_path(const lu_context *ctx, lu_save_area area, const char *file, bool create,
                        char *out, size_t cap, lu_error *err)
{
    if (!ctx->save_dir) return lu__fail(err, LU_INVAL, "the context has no save directory");
    const char *sub = area_names[area];
    int n = sub[0] ? snprintf(out, cap, "%s/%s", ctx->save_dir, sub) : snprintf(out, cap, "%s", ctx->save_dir);
    if (n < 0 || (size_t)n >= cap) return lu__fail(err, LU_INVAL, "path too long under '%s'", ctx->save_dir);
    if (create) LU_TRY(lu__fs_mkdirs(&ctx->env, out, err));
    if (!file) return LU_OK;
    size_t used = (size_t)n;
    n = snprintf(out + used, cap - used, "/%s", file);
    if (n < 0 || (size_t)n >= cap - used)
        return lu__fail(err, LU_INVAL, "path too long: '%s/%s'", out, file);
    return LU_OK;
}

bool lu__in_volumes_dir(const lu_context *ctx, const char *path, bool top_only)
{
    char vol[PATH_MAX], dir[PATH_MAX], real[PATH_MAX];
    if (lu__save_path(ctx, LU_SAVE_VOLUMES, NULL, false, dir, sizeof dir, NULL) != LU_OK) return false;
    if (!realpath(dir, vol) || !realpath(path, real)) return false;
    size_t n = strlen(vol);
    struct stat sb;
    return strncmp(real, vol, n) == 0 && real[n] == '/' && !(top_only && strchr(real + n + 1, '/')) &&
           stat(real, &sb) == 0 && S_ISREG(sb.st_mode);
}

const char *lu__save_dir(const lu_context *ctx)
{
    return ctx->save_dir;
}

lu_status lu_volume_path(lu_context *ctx, const char *file, char *out, size_t cap, lu_error *err)
{
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    LU_TRY(lu_file_name_check(file, err));
    return lu__save_path(ctx, LU_SAVE_VOLUMES, file, true, out, cap, err);
}

lu_status lu_volume_uri(const char *file, char *out, size_t cap, lu_error *err)
{
    LU_TRY(lu_file_name_check(file, err));
    int n = snprintf(out, cap, "zip:volumes/%s", file);
    if (n < 0 || (size_t)n >= cap) return lu__fail(err, LU_INVAL, "buffer too small for the URI of '%s'", file);
    return LU_OK;
}

lu_status lu_save_file_path(lu_context *ctx, const char *rel, char *out, size_t cap, lu_error *err)
{
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    char canon[PATH_MAX];
    if (!rel || snprintf(canon, sizeof canon, "/%s", rel) >= (int)sizeof canon)
        return lu__fail(err, LU_INVAL, "bad save-directory path");
    LU_TRY(lu_path_check(canon, strlen(canon), err));
    return lu__save_path(ctx, LU_SAVE_ROOT, rel, false, out, cap, err);
}

/* <save>/<rel> into out (cap PATH_MAX) with the folder part created and
 * its length in *dir_len. */
static lu_status save_file_path(lu_context *ctx, const char *rel, char *out, size_t *dir_len, lu_error *err)
{
    LU_TRY(lu_save_file_path(ctx, rel, out, PATH_MAX, err));
    *dir_len = (size_t)(strrchr(out, '/') - out);
    out[*dir_len] = '\0';
    lu_status st = lu__fs_mkdirs(&ctx->env, out, err);
    out[*dir_len] = '/';
    return st;
}

lu_status lu_save_file_write(lu_context *ctx, const char *rel, const void *data, size_t len, lu_error *err)
{
    char path[PATH_MAX];
    size_t dl;
    LU_TRY(save_file_path(ctx, rel, path, &dl, err));
    path[dl] = '\0';
    return lu__fs_write_atomic(&ctx->env, path, path + dl + 1, data, len, err);
}

lu_status lu_save_file_copy(lu_context *ctx, const char *from, const char *rel, lu_error *err)
{
    char path[PATH_MAX];
    size_t dl;
    if (!from) return lu__fail(err, LU_INVAL, "no file to copy");
    LU_TRY(save_file_path(ctx, rel, path, &dl, err));
    return lu__fs_copy_atomic(&ctx->env, from, path, err);
}
