/* store.c -- the content-addressed store of downloaded volumes.
 *
 * <save>/volumes/sha256/<hex>.zip (and <hex>.zip.sig) are hard links to
 * volumes installed in <save>/volumes/ under their own names (a release's
 * rel-<version>-<file>, a download's <file>), added once the bytes were
 * verified against that SHA-256. A later download of the same bytes, under
 * any name, links the stored file into place instead of fetching it
 * (net/download.c, which re-hashes it first). Mounts never name a store
 * path: the store only finds bytes, the named files keep them. So the
 * store's garbage rule is the file system's own: an entry whose link count
 * is 1 has no other name left (its release was collected, its download
 * pruned or replaced) and is deleted.
 *
 * A file system without hard links (link() fails) simply has no store:
 * every download fetches its bytes, as before. Nothing here reports an
 * error to a caller: the store only ever saves work. Linked files share
 * their bytes, so nothing may ever write into an installed volume in place:
 * new bytes always arrive as a new file renamed over the old name.
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

/* 64 lowercase hex digits then ".zip" or ".zip.sig". */
static bool store_name(const char *n)
{
    for (int i = 0; i < 64; i++)
        if (!((n[i] >= '0' && n[i] <= '9') || (n[i] >= 'a' && n[i] <= 'f'))) return false;
    return strcmp(n + 64, ".zip") == 0 || strcmp(n + 64, ".zip.sig") == 0;
}

lu_status lu__store_path(const lu_context *ctx, const char *sha256, bool sig, char *out, size_t cap)
{
    char file[80];
    if (!sha256 || strlen(sha256) != 64) return LU_INVAL;
    snprintf(file, sizeof file, "%s.zip%s", sha256, sig ? ".sig" : "");
    for (char *c = file; *c; c++)
        if (*c >= 'A' && *c <= 'F') *c = (char)(*c - 'A' + 'a');
    if (!store_name(file)) return LU_INVAL;
    return lu__save_path(ctx, LU_SAVE_STORE, file, false, out, cap, NULL);
}

/* Makes `to` a hard link to `from`, replacing what `to` was (through
 * <to>.tmp and a rename, so `to` is never missing). */
static void link_one(const lu_context *ctx, const char *from, const char *to)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", to);
    ctx->env.io.unlink(ctx->env.io.ud, tmp);
    if (link(from, tmp) != 0) {
        lu__log(&ctx->env, LU_LOG_DEBUG, "store: cannot link '%s' as '%s': %s", from, tmp, strerror(errno));
        return;
    }
    if (ctx->env.io.rename(ctx->env.io.ud, tmp, to) != 0) ctx->env.io.unlink(ctx->env.io.ud, tmp);
}

void lu__store_add(lu_context *ctx, const char *path, const char *sha256, bool sig)
{
    char zip[PATH_MAX], sigp[PATH_MAX], from_sig[PATH_MAX + 8], dir[PATH_MAX];
    if (lu__store_path(ctx, sha256, false, zip, sizeof zip) != LU_OK ||
        lu__store_path(ctx, sha256, true, sigp, sizeof sigp) != LU_OK ||
        lu__save_path(ctx, LU_SAVE_STORE, NULL, true, dir, sizeof dir, NULL) != LU_OK)
        return;
    /* The entry follows the newest file of these bytes, so it lives as long
     * as that file does; the signature first, as a volume's always goes. A
     * signature already stored stays when this file came without one: it
     * signs the same bytes. */
    snprintf(from_sig, sizeof from_sig, "%s.sig", path);
    if (sig) link_one(ctx, from_sig, sigp);
    link_one(ctx, path, zip);
}

lu_status lu__store_install(lu_context *ctx, const char *from, const char *to, lu_error *err)
{
    /* the temporary link lives in the store's folder, where a crash's
     * leftover is collected (never in volumes/, among the game's files) */
    char dir[PATH_MAX], tmp[PATH_MAX + NAME_MAX + 8];
    const char *base = strrchr(to, '/');
    LU_TRY(lu__save_path(ctx, LU_SAVE_STORE, NULL, true, dir, sizeof dir, err));
    if (snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, base ? base + 1 : to) >= (int)sizeof tmp)
        return lu__fail(err, LU_INVAL, "path too long: '%s'", to);
    ctx->env.io.unlink(ctx->env.io.ud, tmp);
    if (link(from, tmp) != 0) {
        int e = errno;
        return lu__fail(err, lu__errno_status(e) == LU_NO_SPACE ? LU_NO_SPACE : LU_IO_ERROR,
                        "cannot link '%s' as '%s': %s", from, tmp, strerror(e));
    }
    /* the bytes were fsynced when first installed; the rename and the
     * folder's fsync make the new name durable */
    lu_status st = lu__fs_install(&ctx->env, tmp, to, err);
    if (st != LU_OK) ctx->env.io.unlink(ctx->env.io.ud, tmp);
    return st;
}

size_t lu__store_collect(lu_context *ctx)
{
    char dir[PATH_MAX];
    if (lu__save_path(ctx, LU_SAVE_STORE, NULL, false, dir, sizeof dir, NULL) != LU_OK) return 0;
    DIR *d = opendir(dir);
    if (!d) return 0;
    size_t n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        size_t len = strlen(de->d_name);
        /* a link_one() temporary left by a crash would keep its bytes forever */
        bool tmp = len > 4 && strcmp(de->d_name + len - 4, ".tmp") == 0;
        if (!tmp && !store_name(de->d_name)) continue;
        char path[PATH_MAX + NAME_MAX + 2];
        struct stat sb;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (lstat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || (!tmp && sb.st_nlink != 1)) continue;
        if (ctx->env.io.unlink(ctx->env.io.ud, path) == 0) {
            lu__log(&ctx->env, LU_LOG_DEBUG, "store: deleted '%s' (no volume uses it)", path);
            n++;
        }
    }
    closedir(d);
    return n;
}
