/* mount_table.c -- adding and removing mounts, synchronously or on a worker.
 *
 * A change opens what it needs first (the slow part, outside any lock), then
 * under the context's write lock builds the next snapshot, persists it and
 * publishes it. Any failure before the publish leaves the table and the
 * mounts file as they were. Asynchronous adds run the same code on one
 * worker thread; their completions wait in a queue that lu_update()
 * drains on the caller's thread (lu__jobs_deliver). Every add made at run
 * time passes the version floor (version.c) before the table changes.
 * The same worker runs lu_task_async's tasks, in one queue with the adds,
 * so a task queued after an add sees the add done.
 */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"

/* An asynchronous add, or a task (lu_task_async: `work`/`task_done` and its
 * argument block `arg`, allocated with the job). */
struct lu_job {
    lu_job *next;
    char *name, *uri;
    int priority;
    unsigned flags;
    lu_mount_done_fn done;
    void *ud;
    lu_error err;
    bool is_task;
    lu_task_fn work;
    lu_task_done_fn task_done;
    void *arg;
};

static lu_status check_args(const char *name, int priority, lu_error *err)
{
    LU_TRY(lu_mount_name_check(name, err));
    if (priority < 0)
        return lu__fail(err, LU_INVAL, "mount '%s': priority %d is negative", name, priority);
    return LU_OK;
}

/* Drops the held entries (context.c) that table `s` replaced or `forget`
 * removed, once the file without them is written. Write lock held. */
static void settle_held(lu_context *ctx, const lu_snapshot *s, const char *const *forget, size_t nforget)
{
    size_t k = 0;
    for (size_t i = 0; i < ctx->nheld; i++) {
        if (lu__persist_held_stays(s, &ctx->held[i], forget, nforget)) {
            ctx->held[k++] = ctx->held[i];
            continue;
        }
        lu__free(&ctx->env, ctx->held[i].name);
        lu__free(&ctx->env, ctx->held[i].uri);
    }
    ctx->nheld = k;
}

/* Builds (from the current snapshot: the cost follows the change),
 * persists and publishes the table `mounts[0..n)`; the mounts file
 * also keeps the held entries except those named in `forget`. Write lock
 * held. */
static lu_status commit(lu_context *ctx, lu_mount *const *mounts, size_t n, bool persist,
                        const char *const *forget, size_t nforget, lu_error *err)
{
    lu_snapshot *s = NULL;
    LU_TRY(lu__snapshot_next(&ctx->env, ctx->current, mounts, n, &s, err));
    ctx->commits++;
    if ((persist || nforget) && ctx->save_dir) {
        lu_status st = lu__persist_write(&ctx->env, ctx->save_dir, s, ctx->held, ctx->nheld, forget, nforget, err);
        if (st != LU_OK) {
            lu__snapshot_free(s);
            return st;
        }
        settle_held(ctx, s, forget, nforget);
    }
    lu__snapshot_follow(ctx->current, s);
    lu__cell_publish(&ctx->cell, s);
    ctx->current = s;
    return LU_OK;
}

/* Whether `name` is a held entry's. Write lock held. */
static bool is_held(const lu_context *ctx, const char *name)
{
    for (size_t i = 0; i < ctx->nheld; i++)
        if (strcmp(ctx->held[i].name, name) == 0) return true;
    return false;
}

/* Current mounts minus `skip` into a new array (write lock held). */
static lu_mount **current_except(lu_context *ctx, const lu_mount *skip, size_t extra, size_t *n)
{
    size_t have = ctx->current ? ctx->current->nmounts : 0;
    lu_mount **list = lu__calloc(&ctx->env, have + extra + 1, sizeof *list);
    *n = 0;
    if (!list) return NULL;
    for (size_t i = 0; i < have; i++)
        if (ctx->current->mounts[i] != skip) list[(*n)++] = ctx->current->mounts[i];
    return list;
}

/* Whether mount `name` exists: not at all, as the same mount (this URI in
 * its stored form and this priority), or as another. Defold 1.13 scripts
 * add their mounts again at every start: the same mount again is not an
 * error and reopens nothing (docs/ARCHITECTURE.md); another one with the name is
 * LU_NAME_EXISTS, decided before any file is opened. */
typedef enum { MOUNT_ABSENT, MOUNT_SAME, MOUNT_OTHER } mount_match;

static bool same_mount(const lu_mount *m, const char *stored, int priority)
{
    return m->priority == priority && strcmp(m->uri, stored) == 0;
}

static lu_status name_exists(lu_error *err, const char *name, const lu_mount *m)
{
    return lu__fail(err, LU_NAME_EXISTS, "a mount named '%s' exists (%s, priority %d); remove it or pass replace", name,
                    m->uri, m->priority);
}

static mount_match match_mount(lu_context *ctx, const char *name, const char *stored, int priority, lu_status *st,
                               lu_error *err)
{
    unsigned shard;
    lu_snapshot *s = lu__cell_acquire(&ctx->cell, &shard);
    const lu_mount *m = s ? lu__snapshot_mount(s, name) : NULL;
    mount_match r = !m ? MOUNT_ABSENT : same_mount(m, stored, priority) ? MOUNT_SAME : MOUNT_OTHER;
    if (r == MOUNT_OTHER) *st = name_exists(err, name, m);
    /* a volume below the game's minimum is never added, not even again (it
     * may be mounted from an earlier run's mounts file, until a prune) */
    if (r == MOUNT_SAME && (*st = lu__version_floor(ctx, name, m->archive, err)) != LU_OK)
        lu__error_prefix(err, "mount '%s' not added", name);
    lu__cell_release(&ctx->cell, s, shard);
    return r;
}

/* LU_MOUNT_DELETE_REPLACED: deletes the volume file of `old`, a mount this
 * add has just replaced (the new snapshot is published and the mounts file
 * written), when nothing else uses it (see the flag). Write lock held. */
static void delete_replaced(lu_context *ctx, const lu_mount *old)
{
    const char *path = old->archive->path, *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    if (!lu__in_volumes_dir(ctx, path, true) ||
        strncmp(base, LU_RELEASE_FILE_PREFIX, strlen(LU_RELEASE_FILE_PREFIX)) == 0)
        return;
    for (size_t i = 0; ctx->current && i < ctx->current->nmounts; i++)
        if (strcmp(ctx->current->mounts[i]->archive->path, path) == 0) return;
    for (size_t i = 0; i < ctx->nheld; i++)
        if (strcmp(ctx->held[i].uri, old->uri) == 0) return;
    char sig[PATH_MAX + 8];
    snprintf(sig, sizeof sig, "%s.sig", path);
    if (ctx->env.io.unlink(ctx->env.io.ud, path) == 0)
        lu__log(&ctx->env, LU_LOG_INFO, "mount '%s': deleted '%s', which the mount it replaced used", old->name, path);
    ctx->env.io.unlink(ctx->env.io.ud, sig);
    lu__store_collect(ctx);
}

lu_status lu__mount_add_internal(lu_context *ctx, const char *name, const char *uri,
                                 int priority, unsigned flags, bool builtin, lu_error *err)
{
    lu_status st = LU_OK;
    lu_uri u;
    lu_archive *a = NULL;
    lu_mount *m = NULL, **list = NULL;
    char *stored = NULL;
    bool locked = false;
    st = lu__uri_parse(&ctx->env, uri, ctx->save_dir, &u, err);
    if (st != LU_OK) goto cleanup;
    stored = lu__uri_for_storage(&ctx->env, &u, ctx->save_dir);
    if (!stored) {
        st = lu__fail(err, LU_MEM_ERROR, "mount '%s': out of memory", name);
        goto cleanup;
    }
    if (!(flags & LU_MOUNT_REPLACE) && match_mount(ctx, name, stored, priority, &st, err) != MOUNT_ABSENT)
        goto cleanup;   /* the same again: LU_OK */
    st = lu__archive_open_to_mount(&ctx->env, u.format, u.path, &a, err);   /* the index checks its paths */
    if (st != LU_OK) {
        lu__error_prefix(err, "mount '%s'", name);
        goto cleanup;
    }
    if (!builtin && !(flags & LU__MOUNT_RESTORED) && (st = lu__version_floor(ctx, name, a, err)) != LU_OK) {
        lu__error_prefix(err, "mount '%s' not added", name);
        goto cleanup;
    }
    pthread_mutex_lock(&ctx->write_lock);
    locked = true;
    lu_mount *old = ctx->current ? lu__snapshot_mount(ctx->current, name) : NULL;
    if (old && !(flags & LU_MOUNT_REPLACE)) {   /* added by another thread meanwhile */
        if (!same_mount(old, stored, priority)) st = name_exists(err, name, old);
        goto cleanup;   /* the same mount: LU_OK */
    }
    bool persist = !builtin && !(flags & LU_MOUNT_NO_PERSIST);
    m = lu__mount_new(&ctx->env, name, stored, priority, ++ctx->next_seq, persist, a);
    size_t n = 0;
    list = current_except(ctx, old, 1, &n);
    if (!m || !list) {
        st = lu__fail(err, LU_MEM_ERROR, "mount '%s': out of memory", name);
        goto cleanup;
    }
    list[n++] = m;
    if (old) lu__mount_retain(old);   /* the commit may free the snapshot that held it */
    st = commit(ctx, list, n, persist || (old && old->persist) || is_held(ctx, name), NULL, 0, err);
    if (st != LU_OK) lu__error_prefix(err, "mount '%s' not added", name);
    else lu__log(&ctx->env, LU_LOG_INFO, "mounted '%s' (%s, priority %d, %zu entries)", name,
                 stored, priority, a->entries.count);
    if (st == LU_OK && old && (flags & LU_MOUNT_DELETE_REPLACED)) delete_replaced(ctx, old);
    if (old) lu__mount_release(&ctx->env, old);
cleanup:
    if (locked) pthread_mutex_unlock(&ctx->write_lock);
    lu__free(&ctx->env, list);
    lu__mount_release(&ctx->env, m);
    lu__archive_release(a);
    lu__free(&ctx->env, stored);
    lu__uri_free(&ctx->env, &u);
    return st;
}

lu_status lu__mount_open(lu_context *ctx, const char *name, const char *uri, int priority, bool persist,
                         lu_mount **out, lu_error *err)
{
    *out = NULL;
    lu_uri u;
    lu_archive *a = NULL;
    lu_status st = lu__uri_parse(&ctx->env, uri, ctx->save_dir, &u, err);
    if (st != LU_OK) return st;
    char *stored = lu__uri_for_storage(&ctx->env, &u, ctx->save_dir);
    if (!stored) st = lu__fail(err, LU_MEM_ERROR, "mount '%s': out of memory", name);
    else if ((st = lu__archive_open(&ctx->env, u.format, u.path, &a, err)) != LU_OK)
        lu__error_prefix(err, "mount '%s'", name);
    else if (!(*out = lu__mount_new(&ctx->env, name, stored, priority, ++ctx->next_seq, persist, a)))
        st = lu__fail(err, LU_MEM_ERROR, "mount '%s': out of memory", name);
    lu__archive_release(a);
    lu__free(&ctx->env, stored);
    lu__uri_free(&ctx->env, &u);
    return st;
}

lu_status lu__mounts_add_many(lu_context *ctx, lu_mount *const *fresh, size_t n, bool persist, lu_error *err)
{
    pthread_mutex_lock(&ctx->write_lock);
    size_t have = 0;
    lu_mount **list = current_except(ctx, NULL, n, &have);
    lu_status st = LU_OK;
    if (!list) st = lu__fail(err, LU_MEM_ERROR, "out of memory adding %zu mounts", n);
    else {
        memcpy(list + have, fresh, n * sizeof *fresh);
        st = commit(ctx, list, have + n, persist, NULL, 0, err);
    }
    for (size_t i = 0; st == LU_OK && i < n; i++)
        lu__log(&ctx->env, LU_LOG_INFO, "mounted '%s' (%s, priority %d, %zu entries)", fresh[i]->name,
                fresh[i]->uri, fresh[i]->priority, fresh[i]->archive->entries.count);
    pthread_mutex_unlock(&ctx->write_lock);
    lu__free(&ctx->env, list);
    return st;
}

lu_status lu__mount_remove_many(lu_context *ctx, const char *const *names, const uint64_t *seqs, size_t n,
                                bool *removed, lu_error *err)
{
    lu_status st = LU_OK;
    pthread_mutex_lock(&ctx->write_lock);
    size_t have = ctx->current ? ctx->current->nmounts : 0, k = 0, nforget = 0;
    lu_mount **list = lu__calloc(&ctx->env, have + 1, sizeof *list);
    const char **forget = lu__calloc(&ctx->env, n + 1, sizeof *forget);
    uint32_t *hashes = lu__calloc(&ctx->env, n + 1, sizeof *hashes);
    bool persist = false, any = false;
    for (size_t j = 0; j < n; j++) removed[j] = false;
    if (!list || !forget || !hashes) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory removing %zu mounts", n);
        goto cleanup;
    }
    for (size_t j = 0; j < n; j++) hashes[j] = lu__mount_name_hash(names[j]);
    for (size_t i = 0; i < have; i++) {
        lu_mount *m = ctx->current->mounts[i];
        size_t j = 0;
        while (j < n && (!lu__snapshot_mount_is(ctx->current, i, names[j], hashes[j]) || (seqs && m->seq != seqs[j])))
            j++;
        if (j == n) list[k++] = m;
        else {
            removed[j] = any = true;
            persist |= m->persist;
        }
    }
    for (size_t j = 0; j < n && !seqs; j++)
        if (is_held(ctx, names[j])) {   /* in the mounts file only: taken out of it */
            forget[nforget++] = names[j];
            removed[j] = any = true;
        }
    if (any) st = commit(ctx, list, k, persist, forget, nforget, err);
    if (st != LU_OK) {
        for (size_t j = 0; j < n; j++) removed[j] = false;
        lu__error_prefix(err, "%zu mounts not removed", n);
    } else if (any) {
        lu__log(&ctx->env, LU_LOG_INFO, "mount table changed: %zu removed in one write", have - k + nforget);
    }
cleanup:
    pthread_mutex_unlock(&ctx->write_lock);
    lu__free(&ctx->env, list);
    lu__free(&ctx->env, forget);
    lu__free(&ctx->env, hashes);
    return st;
}

lu_status lu_mount_add(lu_context *ctx, const char *name, const char *uri, int priority,
                       unsigned flags, lu_error *err)
{
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    LU_TRY(check_args(name, priority, err));
    flags &= LU_MOUNT_REPLACE | LU_MOUNT_NO_PERSIST | LU_MOUNT_DELETE_REPLACED;   /* not the internal bits */
    return lu__mount_add_internal(ctx, name, uri, priority, flags, false, err);
}

lu_status lu_mount_remove(lu_context *ctx, const char *name, lu_error *err)
{
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    if (name && name[0] == '_')
        return lu__fail(err, LU_INVAL, "mount '%s' is built in and cannot be removed", name);
    LU_TRY(lu_mount_name_check(name, err));
    lu_status st = LU_OK;
    lu_mount **list = NULL;
    pthread_mutex_lock(&ctx->write_lock);
    lu_mount *old = ctx->current ? lu__snapshot_mount(ctx->current, name) : NULL;
    bool held = is_held(ctx, name);   /* not mounted, but in the mounts file: removed from it */
    if (!old && !held) {
        st = lu__fail(err, LU_NOT_FOUND, "no mount named '%s'", name);
        goto cleanup;
    }
    size_t n = 0;
    list = current_except(ctx, old, 0, &n);
    if (!list) {
        st = lu__fail(err, LU_MEM_ERROR, "removing mount '%s': out of memory", name);
        goto cleanup;
    }
    st = commit(ctx, list, n, old && old->persist, held ? &name : NULL, held ? 1 : 0, err);
    if (st != LU_OK) lu__error_prefix(err, "mount '%s' not removed", name);
cleanup:
    pthread_mutex_unlock(&ctx->write_lock);
    lu__free(&ctx->env, list);
    return st;
}

lu_status lu_mounts_apply(lu_context *ctx, const lu_mount_spec *add, size_t nadd, const char *const *remove,
                          size_t nremove, lu_error *err)
{
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    for (size_t i = 0; i < nadd; i++) {
        LU_TRY(check_args(add[i].name, add[i].priority, err));
        for (size_t k = 0; k < i; k++)
            if (strcmp(add[i].name, add[k].name) == 0)
                return lu__fail(err, LU_INVAL, "mount '%s' is added twice in one change", add[i].name);
    }
    for (size_t i = 0; i < nremove; i++) LU_TRY(lu_mount_name_check(remove[i], err));
    lu_status st = LU_OK;
    lu_mount **fresh = lu__calloc(&ctx->env, nadd + 1, sizeof *fresh), **list = NULL;
    uint32_t *hashes = NULL;
    bool locked = false;
    if (!fresh) return lu__fail(err, LU_MEM_ERROR, "out of memory changing mounts");
    /* open every volume before touching the table */
    for (size_t i = 0; i < nadd; i++) {
        lu_uri u;
        lu_archive *a = NULL;
        char *stored = NULL;
        st = lu__uri_parse(&ctx->env, add[i].uri, ctx->save_dir, &u, err);
        if (st != LU_OK) goto cleanup;
        st = lu__archive_open(&ctx->env, u.format, u.path, &a, err);
        if (st == LU_OK && !(stored = lu__uri_for_storage(&ctx->env, &u, ctx->save_dir)))
            st = lu__fail(err, LU_MEM_ERROR, "out of memory");
        if (st == LU_OK && !(fresh[i] = lu__mount_new(&ctx->env, add[i].name, stored, add[i].priority, 0, true, a)))
            st = lu__fail(err, LU_MEM_ERROR, "out of memory");
        lu__archive_release(a);
        lu__free(&ctx->env, stored);
        lu__uri_free(&ctx->env, &u);
        if (st != LU_OK) {
            lu__error_prefix(err, "mount '%s'", add[i].name);
            goto cleanup;
        }
    }
    pthread_mutex_lock(&ctx->write_lock);
    locked = true;
    size_t have = ctx->current ? ctx->current->nmounts : 0, n = 0, nnames = nremove + nadd;
    list = lu__calloc(&ctx->env, have + nadd + 1, sizeof *list);
    hashes = lu__calloc(&ctx->env, nnames + 1, sizeof *hashes);
    if (!list || !hashes) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory changing mounts");
        goto cleanup;
    }
    /* the mounts named in the change are dropped: removed, or replaced */
    for (size_t k = 0; k < nnames; k++) hashes[k] = lu__mount_name_hash(k < nremove ? remove[k] : add[k - nremove].name);
    for (size_t i = 0; i < have; i++) {
        bool drop = false;
        for (size_t k = 0; k < nnames && !drop; k++)
            drop = lu__snapshot_mount_is(ctx->current, i, k < nremove ? remove[k] : add[k - nremove].name, hashes[k]);
        if (!drop) list[n++] = ctx->current->mounts[i];
    }
    for (size_t i = 0; i < nadd; i++) {
        fresh[i]->seq = ++ctx->next_seq;
        list[n++] = fresh[i];
    }
    st = commit(ctx, list, n, true, remove, nremove, err);
    if (st != LU_OK) lu__error_prefix(err, "mounts not changed");
    else lu__log(&ctx->env, LU_LOG_INFO, "mount table changed: %zu added, %zu removed in one write", nadd, nremove);
cleanup:
    if (locked) pthread_mutex_unlock(&ctx->write_lock);
    for (size_t i = 0; i < nadd; i++) lu__mount_release(&ctx->env, fresh[i]);
    lu__free(&ctx->env, fresh);
    lu__free(&ctx->env, list);
    lu__free(&ctx->env, hashes);
    return st;
}

lu_status lu_mounts_get(lu_context *ctx, lu_mount_info **out, size_t *count, lu_error *err)
{
    *out = NULL;
    *count = 0;
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    unsigned shard;
    lu_snapshot *s = lu__cell_acquire(&ctx->cell, &shard);
    size_t n = s ? s->nmounts : 0, bytes = n * sizeof(lu_mount_info);
    for (size_t i = 0; i < n; i++)
        bytes += strlen(s->mounts[i]->name) + strlen(s->mounts[i]->uri) +
                 strlen(s->mounts[i]->archive->path) + 3;
    lu_mount_info *info = lu__malloc(&ctx->env, bytes ? bytes : 1);
    if (!info) {
        lu__cell_release(&ctx->cell, s, shard);
        return lu__fail(err, LU_MEM_ERROR, "out of memory listing mounts");
    }
    char *p = (char *)(info + n);
    for (size_t i = 0; i < n; i++) {
        const lu_mount *m = s->mounts[i];
        const char *src[3] = {m->name, m->uri, m->archive->path};
        const char **dst[3] = {&info[i].name, &info[i].uri, &info[i].path};
        for (int k = 0; k < 3; k++) {
            size_t len = strlen(src[k]) + 1;
            memcpy(p, src[k], len);
            *dst[k] = p;
            p += len;
        }
        info[i].priority = m->priority;
        info[i].format = m->archive->ops->format;
        info[i].entries = m->archive->entries.count;
    }
    lu__cell_release(&ctx->cell, s, shard);
    *out = info;
    *count = n;
    return LU_OK;
}

/* ---- asynchronous adds ---------------------------------------------- */

static void job_free(lu_context *ctx, lu_job *j)
{
    lu__free(&ctx->env, j->name);
    lu__free(&ctx->env, j->uri);
    lu__free(&ctx->env, j);
}

static void *worker_main(void *arg)
{
    lu_context *ctx = arg;
    pthread_mutex_lock(&ctx->queue_lock);
    for (;;) {
        while (!ctx->jobs && !ctx->stopping) pthread_cond_wait(&ctx->queue_cond, &ctx->queue_lock);
        if (ctx->stopping) break;
        lu_job *j = ctx->jobs;
        ctx->jobs = j->next;
        if (!ctx->jobs) ctx->jobs_tail = NULL;
        pthread_mutex_unlock(&ctx->queue_lock);
        j->err.status = LU_OK;
        j->err.message[0] = '\0';
        if (!j->is_task) lu__mount_add_internal(ctx, j->name, j->uri, j->priority, j->flags, false, &j->err);
        else if (j->work) {
            lu_status ws = j->work(ctx, j->arg, &j->err);
            j->err.status = ws;   /* the returned status is the task's, whatever err says */
            if (ws == LU_OK) j->err.message[0] = '\0';
        }
        j->next = NULL;
        pthread_mutex_lock(&ctx->queue_lock);
        if (ctx->done_tail) ctx->done_tail->next = j;
        else ctx->done = j;
        ctx->done_tail = j;
    }
    pthread_mutex_unlock(&ctx->queue_lock);
    return NULL;
}

/* Appends `j` to the worker's queue (starting the worker on first use), or
 * frees it and fails. */
static lu_status enqueue(lu_context *ctx, lu_job *j, lu_error *err)
{
    lu_status st = LU_OK;
    pthread_mutex_lock(&ctx->queue_lock);
    if (!ctx->worker_started) {
        if (pthread_create(&ctx->worker, NULL, worker_main, ctx) != 0)
            st = lu__fail(err, LU_MEM_ERROR, "cannot start the mount worker thread");
        else ctx->worker_started = true;
    }
    if (st == LU_OK) {
        if (ctx->jobs_tail) ctx->jobs_tail->next = j;
        else ctx->jobs = j;
        ctx->jobs_tail = j;
        pthread_cond_signal(&ctx->queue_cond);
        j = NULL;
    }
    pthread_mutex_unlock(&ctx->queue_lock);
    if (j) job_free(ctx, j);
    return st;
}

lu_status lu_mount_add_async(lu_context *ctx, const char *name, const char *uri, int priority,
                             unsigned flags, lu_mount_done_fn done, void *ud, lu_error *err)
{
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    LU_TRY(check_args(name, priority, err));
    if (!uri) return lu__fail(err, LU_INVAL, "mount '%s': missing URI", name);
    lu_job *j = lu__calloc(&ctx->env, 1, sizeof *j);
    if (!j) return lu__fail(err, LU_MEM_ERROR, "out of memory queuing mount '%s'", name);
    j->name = lu__strdup(&ctx->env, name);
    j->uri = lu__strdup(&ctx->env, uri);
    j->priority = priority;
    j->flags = flags & (LU_MOUNT_REPLACE | LU_MOUNT_NO_PERSIST | LU_MOUNT_DELETE_REPLACED);
    j->done = done;
    j->ud = ud;
    if (!j->name || !j->uri) {
        job_free(ctx, j);
        return lu__fail(err, LU_MEM_ERROR, "out of memory queuing mount '%s'", name);
    }
    return enqueue(ctx, j, err);
}

lu_status lu_task_async(lu_context *ctx, lu_task_fn work, const void *arg, size_t arg_len, lu_task_done_fn done,
                        void *ud, lu_error *err)
{
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    /* the argument block follows the job, at an offset aligned for any type */
    size_t off = (sizeof(lu_job) + _Alignof(max_align_t) - 1) / _Alignof(max_align_t) * _Alignof(max_align_t);
    if (arg_len > SIZE_MAX - off) return lu__fail(err, LU_MEM_ERROR, "task argument of %zu bytes is too large", arg_len);
    lu_job *j = lu__calloc(&ctx->env, 1, off + arg_len);
    if (!j) return lu__fail(err, LU_MEM_ERROR, "out of memory queuing a task of %zu bytes", arg_len);
    j->is_task = true;
    j->work = work;
    j->task_done = done;
    j->ud = ud;
    if (arg_len) {
        j->arg = (char *)j + off;
        memcpy(j->arg, arg, arg_len);
    }
    return enqueue(ctx, j, err);
}

int lu__jobs_deliver(lu_context *ctx)
{
    pthread_mutex_lock(&ctx->queue_lock);
    lu_job *list = ctx->done;
    ctx->done = ctx->done_tail = NULL;
    pthread_mutex_unlock(&ctx->queue_lock);
    int ran = 0;
    while (list) {
        lu_job *j = list;
        list = j->next;
        bool run = !lu__closing(ctx);   /* after a close from a callback: dropped */
        if (run && j->is_task && j->task_done) {
            j->task_done(j->ud, j->arg, &j->err);
            ran++;
        } else if (run && !j->is_task && j->done) {
            j->done(j->ud, j->name, j->uri, &j->err);
            ran++;
        }
        job_free(ctx, j);
    }
    return ran;
}

void lu__jobs_shutdown(lu_context *ctx)
{
    pthread_mutex_lock(&ctx->queue_lock);
    ctx->stopping = true;
    pthread_cond_broadcast(&ctx->queue_cond);
    pthread_mutex_unlock(&ctx->queue_lock);
    if (ctx->worker_started) pthread_join(ctx->worker, NULL);
    ctx->worker_started = false;
    lu_job *lists[2] = {ctx->jobs, ctx->done};
    for (int k = 0; k < 2; k++)
        while (lists[k]) {
            lu_job *j = lists[k];
            lists[k] = j->next;
            job_free(ctx, j);
        }
    ctx->jobs = ctx->jobs_tail = ctx->done = ctx->done_tail = NULL;
}
