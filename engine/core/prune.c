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
 * the update manager's. A pass decides every stale mount first, then
 * removes them all in one change (one index build, one mounts-file write)
 * and only then deletes their files; at open, context.c leaves the stale
 * ones out of its one index build instead.
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
    int priority;
    uint64_t seq;
    size_t index;          /* in the mounts given to lu__stale_find */
    bool deletable;
    char why[600];
} candidate;

struct lu_stale {
    candidate *c;          /* the stale ones first, in lookup order */
    const char **names;
    uint64_t *seqs;        /* each one's mount seq: prune removes that mount, not a later one */
    size_t n;
};

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
/* Lookup order: priority descending, the later add first among equals. */
static int lookup_order(const void *pa, const void *pb)
{
    const candidate *a = pa, *b = pb;
    if (a->priority != b->priority) return a->priority > b->priority ? -1 : 1;
    return a->seq > b->seq ? -1 : a->seq < b->seq;
}

static void candidate_free(lu_context *ctx, candidate *c)
{
    lu__free(&ctx->env, c->uri);
    lu__free(&ctx->env, c->path);
    lu__archive_release(c->archive);
    c->uri = c->path = NULL;
    c->archive = NULL;
}

void lu__stale_free(lu_context *ctx, lu_stale *p)
{
    if (!p) return;
    for (size_t i = 0; i < p->n; i++) candidate_free(ctx, &p->c[i]);
    lu__free(&ctx->env, p->c);
    lu__free(&ctx->env, p->names);
    lu__free(&ctx->env, p->seqs);
    lu__free(&ctx->env, p);
}

size_t lu__stale_count(const lu_stale *p)
{
    return p ? p->n : 0;
}

const char *const *lu__stale_names(const lu_stale *p)
{
    return p->names;
}

const uint64_t *lu__stale_seqs(const lu_stale *p)
{
    return p->seqs;
}

lu_status lu__stale_find(lu_context *ctx, lu_mount *const *mounts, size_t n, long long minimum, bool *marks,
                         lu_stale **out, lu_error *err)
{
    *out = NULL;
    lu_stale *p = lu__calloc(&ctx->env, 1, sizeof *p);
    if (p) p->c = lu__calloc(&ctx->env, n + 1, sizeof *p->c);
    if (p) p->names = lu__calloc(&ctx->env, n + 1, sizeof *p->names);
    if (p) p->seqs = lu__calloc(&ctx->env, n + 1, sizeof *p->seqs);
    if (!p || !p->c || !p->names || !p->seqs) {
        lu__stale_free(ctx, p);
        return lu__fail(err, LU_MEM_ERROR, "out of memory pruning");
    }
    candidate *c = p->c;
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        const lu_mount *m = mounts[i];
        if (m->name[0] == '_') continue;
        snprintf(c[k].name, sizeof c[k].name, "%s", m->name);
        c[k].uri = lu__strdup(&ctx->env, m->uri);
        c[k].path = lu__strdup(&ctx->env, m->archive->path);
        c[k].archive = m->archive;
        lu__archive_retain(m->archive);
        c[k].priority = m->priority;
        c[k].seq = m->seq;
        c[k].index = i;
        k++;
    }
    qsort(c, k, sizeof *c, lookup_order);   /* the report lists them as the table does */
    lu_status result = LU_OK;
    for (size_t i = 0; i < k; i++) {
        int stale = 0;
        if (!c[i].uri || !c[i].path)
            result = lu__fail(err, LU_MEM_ERROR, "pruning '%s' (kept): out of memory", c[i].name);
        else {
            c[i].deletable = lu__in_volumes_dir(ctx, c[i].path, false);
            const char *base = strrchr(c[i].path, '/');
            base = base ? base + 1 : c[i].path;
            if (!(c[i].deletable && strncmp(base, LU_RELEASE_FILE_PREFIX, strlen(LU_RELEASE_FILE_PREFIX)) == 0)) {
                lu_status failed = LU_OK;
                stale = stale_reason(c[i].archive, c[i].name, minimum, c[i].why, sizeof c[i].why, &failed);
                if (stale < 0) result = lu__fail(err, failed, "pruning '%s' (kept): %s", c[i].name, c[i].why);
            }
        }
        lu__archive_release(c[i].archive);   /* judged: not read again */
        c[i].archive = NULL;
        if (stale <= 0) {
            candidate_free(ctx, &c[i]);
            continue;
        }
        if (marks) marks[c[i].index] = true;
        if (p->n != i) c[p->n] = c[i];   /* the stale ones move to the front, in order */
        p->n++;
    }
    for (size_t j = 0; j < p->n; j++) {
        p->names[j] = c[j].name;
        p->seqs[j] = c[j].seq;
    }
    if (p->n) *out = p;
    else lu__stale_free(ctx, p);
    return result;
}

size_t lu__stale_settle(lu_context *ctx, const lu_stale *p, const bool *removed)
{
    size_t done = 0;
    for (size_t j = 0; p && j < p->n; j++) {
        const candidate *c = &p->c[j];
        if (removed && !removed[j]) continue;
        char note[300] = "";
        if (c->deletable && ctx->env.io.unlink(ctx->env.io.ud, c->path) == 0)
            snprintf(note, sizeof note, "; deleted %s", c->path);
        else if (c->deletable)
            snprintf(note, sizeof note, "; could not delete %s: %s", c->path, strerror(errno));
        lu_error e2;
        lu__fail(&e2, LU_VERSION_MISMATCH, "%s%s", c->why, note);
        lu__report_add(ctx, c->name, c->uri, "pruned", &e2);
        done++;
    }
    if (done) lu__store_collect(ctx);   /* stored bytes only the deleted files used */
    return done;
}

/* Decides every stale mount first, then removes them all in one change
 * (one index build, one mounts-file write), and only then deletes their
 * files: a crash between the two leaves no mount naming a deleted file. */
lu_status lu_prune_stale(lu_context *ctx, long long minimum, size_t *pruned, lu_error *err)
{
    if (pruned) *pruned = 0;
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    unsigned shard;
    lu_snapshot *s = lu__cell_acquire(&ctx->cell, &shard);
    lu_stale *p = NULL;
    lu_status result = lu__stale_find(ctx, s ? s->mounts : NULL, s ? s->nmounts : 0, minimum, NULL, &p, err);
    lu__cell_release(&ctx->cell, s, shard);
    if (!p) return result;
    size_t n = p->n;
    bool *removed = lu__calloc(&ctx->env, n, sizeof *removed);
    lu_error e2;
    lu_status st = removed ? lu__mount_remove_many(ctx, p->names, p->seqs, n, removed, &e2)
                           : lu__fail(&e2, LU_MEM_ERROR, "out of memory");
    if (st != LU_OK) {
        result = n > 1 ? lu__fail(err, st, "pruning '%s' and %zu more: %s", p->names[0], n - 1, e2.message)
                       : lu__fail(err, st, "pruning '%s': %s", p->names[0], e2.message);
    } else {
        for (size_t j = 0; j < n; j++)   /* removed or replaced by another thread meanwhile: left as it is */
            if (!removed[j])
                result = lu__fail(err, LU_NOT_FOUND, "pruning '%s': the mount judged stale was removed or replaced "
                                  "meanwhile (left as it is)", p->names[j]);
        size_t done = lu__stale_settle(ctx, p, removed);
        if (pruned) *pruned = done;
    }
    lu__free(&ctx->env, removed);
    lu__stale_free(ctx, p);
    return result;
}
