/* layout.c -- the save directory's layout, built in one place.
 *
 *   <save>/liveupdate.mounts, liveupdate.lock   the mount table (persist.c)
 *   <save>/volumes/<file>                        downloaded and released volumes
 *   <save>/downloads/<file>.part(.json)          transfers in progress (net/)
 *   <save>/update/                               the update manager's files (update/)
 *
 * Every path under the save directory is made by lu__save_path, every
 * volume's mount URI by lu_volume_uri, so a folder is renamed in one line.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

static const char *const area_names[] = {
    [LU_SAVE_ROOT] = "",
    [LU_SAVE_VOLUMES] = "volumes",
    [LU_SAVE_DOWNLOADS] = "downloads",
    [LU_SAVE_UPDATE] = "update",
};

lu_status lu__save_path(const lu_context *ctx, lu_save_area area, const char *file, bool create,
                        char *out, size_t cap, lu_error *err)
{
    if (!ctx->save_dir) return lu__fail(err, LU_INVAL, "the context has no save directory");
    const char *sub = area_names[area];
    int n = sub[0] ? snprintf(out, cap, "%s/%s", ctx->save_dir, sub) : snprintf(out, cap, "%s", ctx->save_dir);
    if (n < 0 || (size_t)n >= cap) return lu__fail(err, LU_INVAL, "path too long under '%s'", ctx->save_dir);
    if (create) LU_TRY(lu__fs_mkdirs(out, err));
    if (!file) return LU_OK;
    size_t used = (size_t)n;
    n = snprintf(out + used, cap - used, "/%s", file);
    if (n < 0 || (size_t)n >= cap - used)
        return lu__fail(err, LU_INVAL, "path too long: '%s/%s'", out, file);
    return LU_OK;
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
