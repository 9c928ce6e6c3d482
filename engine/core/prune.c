/* prune.c -- start-up pruning of stale volumes (docs/FORMATS.md).
 *
 * Each mount's version file is read from that mount alone (version.c), so
 * two volumes never answer for each other (the reason Defold's manual needs
 * unique names). A mount is stale when that file is missing or unreadable
 * or older than the minimum; version.c's floor keeps such a volume from
 * being mounted again at run time. Files are deleted only inside
 * <save>/volumes/: a volume the game mounted from anywhere else is
 * unmounted, never removed from disk. The update manager's release volumes
 * (LU_RELEASE_FILE_PREFIX files there) are left alone: their versions are
 * the update manager's.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

typedef struct candidate {
    char name[LU_NAME_MAX + 1];
    char *uri, *path;
    lu_archive *archive;   /* a reference, held while the version is read */
} candidate;

/* Whether volume `name` (archive `a`) is stale, the reason in buf: 1 when
 * it is (no version file, one that is not {"version": N}, or a version
 * below `minimum`), 0 when it is current, -1 when its version file could
 * not be read (out of memory, a read error): that says nothing about the
 * volume, which is kept; *failed gets that failure's status. */
static int stale_reason(lu_archive *a, const char *name, long long minimum, char *buf, size_t cap, lu_status *failed)
{
    long long version;
    lu_status st = lu__volume_version(a, name, &version, buf, cap);
    if (st == LU_NOT_FOUND || st == LU_FORMAT_ERROR) return 1;
    *failed = st;
    if (st != LU_OK) return -1;
    if (version < minimum) snprintf(buf, cap, "version %lld is older than the minimum %lld", version, minimum);
    return version < minimum;
}

/* True when `path` is a regular file inside <save>/volumes/. */
static bool in_volumes_dir(const lu_context *ctx, const char *path)
{
    char vol[PATH_MAX], dir[PATH_MAX], real[PATH_MAX];
    if (lu__save_path(ctx, LU_SAVE_VOLUMES, NULL, false, dir, sizeof dir, NULL) != LU_OK) return false;
    if (!realpath(dir, vol) || !realpath(path, real)) return false;
    size_t n = strlen(vol);
    struct stat sb;
    return strncmp(real, vol, n) == 0 && real[n] == '/' && stat(real, &sb) == 0 && S_ISREG(sb.st_mode);
}

lu_status lu_prune_stale(lu_context *ctx, long long minimum, size_t *pruned, lu_error *err)
{
    if (pruned) *pruned = 0;
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    unsigned shard;
    lu_snapshot *s = lu__cell_acquire(&ctx->cell, &shard);
    size_t n = 0;
    candidate *c = lu__calloc(&ctx->env, s ? s->nmounts + 1 : 1, sizeof *c);
    for (size_t i = 0; c && s && i < s->nmounts; i++) {
        const lu_mount *m = s->mounts[i];
        if (m->name[0] == '_') continue;
        snprintf(c[n].name, sizeof c[n].name, "%s", m->name);
        c[n].uri = lu__strdup(&ctx->env, m->uri);
        c[n].path = lu__strdup(&ctx->env, m->archive->path);
        c[n].archive = m->archive;
        lu__archive_retain(m->archive);
        n++;
    }
    lu__cell_release(&ctx->cell, s, shard);
    if (!c) return lu__fail(err, LU_MEM_ERROR, "out of memory pruning");
    lu_status result = LU_OK;
    for (size_t i = 0; i < n; i++) {
        char why[600];
        if (!c[i].uri || !c[i].path) continue;
        bool deletable = in_volumes_dir(ctx, c[i].path);
        const char *base = strrchr(c[i].path, '/');
        base = base ? base + 1 : c[i].path;
        if (deletable && strncmp(base, LU_RELEASE_FILE_PREFIX, strlen(LU_RELEASE_FILE_PREFIX)) == 0) continue;
        lu_status failed = LU_OK;
        int stale = stale_reason(c[i].archive, c[i].name, minimum, why, sizeof why, &failed);
        if (stale < 0) result = lu__fail(err, failed, "pruning '%s' (kept): %s", c[i].name, why);
        if (stale <= 0) continue;
        lu_error e2;
        lu_status st = lu_mount_remove(ctx, c[i].name, &e2);
        if (st != LU_OK) {
            result = lu__fail(err, st, "pruning '%s': %s", c[i].name, e2.message);
            continue;
        }
        char note[300] = "";
        if (deletable && ctx->env.io.unlink(ctx->env.io.ud, c[i].path) == 0) snprintf(note, sizeof note, "; deleted %s", c[i].path);
        else if (deletable) snprintf(note, sizeof note, "; could not delete %s: %s", c[i].path, strerror(errno));
        lu__fail(&e2, LU_VERSION_MISMATCH, "%s%s", why, note);
        lu__report_add(ctx, c[i].name, c[i].uri, "pruned", &e2);
        if (pruned) (*pruned)++;
    }
    for (size_t i = 0; i < n; i++) {
        lu__free(&ctx->env, c[i].uri);
        lu__free(&ctx->env, c[i].path);
        lu__archive_release(c[i].archive);
    }
    lu__free(&ctx->env, c);
    return result;
}
