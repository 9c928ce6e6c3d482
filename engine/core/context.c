/* context.c -- opening and closing a context, the start-up report, lu_update.
 *
 * Open order (SPEC §5): save directory and its lock, built-in mounts, then
 * the persisted mounts. A persisted volume that fails to open is dropped and
 * reported; a corrupt mounts file is moved aside and reported; the game
 * always starts with at least its built-in mounts.
 */
#include <string.h>
#include <unistd.h>

#include "internal.h"

void lu_config_init(lu_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->mount_on_start = 1;
    cfg->max_uncompressed = UINT64_C(1) << 30;
    cfg->max_downloads = 2;
}

void lu__report_add(lu_context *ctx, const char *name, const char *uri, const char *action,
                    const lu_error *err)
{
    lu__log(&ctx->env, LU_LOG_WARN, "start-up: %s '%s' (%s): %s", action, name, uri ? uri : "",
            err->message);
    lu_report_entry *r = lu__realloc(&ctx->env, ctx->report, (ctx->nreport + 1) * sizeof *r);
    if (!r) return;   /* the log line above still says it */
    ctx->report = r;
    r = &ctx->report[ctx->nreport];
    r->name = lu__strdup(&ctx->env, name);
    r->uri = lu__strdup(&ctx->env, uri ? uri : "");
    r->action = lu__strdup(&ctx->env, action);
    r->message = lu__strdup(&ctx->env, err->message);
    r->status = err->status;
    if (!r->name || !r->uri || !r->action || !r->message) {
        lu__free(&ctx->env, r->name);
        lu__free(&ctx->env, r->uri);
        lu__free(&ctx->env, r->action);
        lu__free(&ctx->env, r->message);
        return;
    }
    ctx->nreport++;
}

size_t lu_startup_report_count(const lu_context *ctx)
{
    return ctx->nreport;
}

lu_status lu_startup_report_get(const lu_context *ctx, size_t i, lu_report_item *out)
{
    if (i >= ctx->nreport) return LU_INVAL;
    const lu_report_entry *r = &ctx->report[i];
    out->name = r->name;
    out->uri = r->uri;
    out->action = r->action;
    out->status = r->status;
    out->message = r->message;
    return LU_OK;
}

/* Mounts what liveupdate.mounts lists. Never fails the open. */
static void load_persisted(lu_context *ctx)
{
    lu_saved_mount *saved = NULL;
    size_t n = 0, dropped = 0;
    lu_error err;
    lu_status st = lu__persist_read(&ctx->env, ctx->save_dir, &saved, &n, &err);
    if (st == LU_NOT_FOUND) return;
    if (st != LU_OK) {
        char *moved = NULL;
        lu_error merr;
        if (lu__persist_move_aside(&ctx->env, ctx->save_dir, &moved, &merr) == LU_OK)
            lu__error_prefix(&err, "moved aside to '%s'", moved);
        else
            lu__error_prefix(&err, "%s", merr.message);
        lu__report_add(ctx, "liveupdate.mounts", NULL, "moved_aside", &err);
        lu__free(&ctx->env, moved);
        return;
    }
    /* The file is in lookup order: add from the back so that among equal
     * priorities the first listed stays first. */
    for (size_t i = n; i-- > 0;) {
        st = lu__mount_add_internal(ctx, saved[i].name, saved[i].uri, saved[i].priority,
                                    LU_MOUNT_NO_PERSIST, false, &err);
        if (st != LU_OK) {
            lu__report_add(ctx, saved[i].name, saved[i].uri, "dropped", &err);
            dropped++;
        }
    }
    lu__persist_free(&ctx->env, saved, n);
    /* Mounts loaded from the file are persistent; flag them and, if some
     * were dropped, write the file without them. */
    pthread_mutex_lock(&ctx->write_lock);
    for (size_t i = 0; ctx->current && i < ctx->current->nmounts; i++)
        if (ctx->current->mounts[i]->name[0] != '_') ctx->current->mounts[i]->persist = true;
    if (dropped && ctx->current &&
        lu__persist_write(&ctx->env, ctx->save_dir, ctx->current, &err) != LU_OK)
        lu__log(&ctx->env, LU_LOG_WARN, "start-up: could not rewrite the mounts file: %s",
                err.message);
    pthread_mutex_unlock(&ctx->write_lock);
}

static lu_status mount_builtin(lu_context *ctx, const char *name, const char *uri, int prio,
                               lu_error *err)
{
    if (!uri) return LU_OK;
    lu_status st = lu__mount_add_internal(ctx, name, uri, prio, LU_MOUNT_NO_PERSIST, true, err);
    if (st != LU_OK) lu__error_prefix(err, "built-in mount '%s'", name);
    return st;
}

lu_status lu_context_open(const lu_config *cfg, lu_context **out, lu_error *err)
{
    *out = NULL;
    lu_status st = LU_OK;
    lu_context *ctx = NULL;
    lu_env env = lu__default_env();
    if (!cfg) return lu__fail(err, LU_INVAL, "missing configuration");
    if (cfg->allocator) env.alloc = *cfg->allocator;
    if (cfg->io) env.io = *cfg->io;
    env.log = cfg->log;
    env.log_ud = cfg->log_ud;
    env.max_uncompressed = cfg->max_uncompressed;
    ctx = lu__calloc(&env, 1, sizeof *ctx);
    if (!ctx) return lu__fail(err, LU_MEM_ERROR, "out of memory opening a context");
    ctx->env = env;
    ctx->lock_fd = -1;
    lu__cell_init(&ctx->cell);
    pthread_mutex_init(&ctx->write_lock, NULL);
    pthread_mutex_init(&ctx->queue_lock, NULL);
    pthread_cond_init(&ctx->queue_cond, NULL);
    if (cfg->save_dir) {
        if (!cfg->save_dir[0]) {
            st = lu__fail(err, LU_INVAL, "empty save directory");
            goto cleanup;
        }
        ctx->save_dir = lu__strdup(&ctx->env, cfg->save_dir);
        if (!ctx->save_dir) {
            st = lu__fail(err, LU_MEM_ERROR, "out of memory opening a context");
            goto cleanup;
        }
        st = lu__fs_mkdirs(ctx->save_dir, err);
        if (st != LU_OK) goto cleanup;
        st = lu__lock_take(ctx->save_dir, &ctx->lock_fd, err);
        if (st != LU_OK) goto cleanup;
    }
    if (cfg->public_key) {
        memcpy(ctx->public_key, cfg->public_key, sizeof ctx->public_key);
        ctx->has_public_key = true;
    }
    ctx->max_downloads = cfg->max_downloads > 0 ? cfg->max_downloads : 2;
    if (cfg->ca_file && !(ctx->ca_file = lu__strdup(&ctx->env, cfg->ca_file))) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory opening a context");
        goto cleanup;
    }
    st = mount_builtin(ctx, LU_BASE_MOUNT, cfg->base_uri, LU_BASE_PRIORITY, err);
    if (st != LU_OK) goto cleanup;
    st = mount_builtin(ctx, LU_BUILTIN_MOUNT, cfg->builtin_uri, LU_BUILTIN_PRIORITY, err);
    if (st != LU_OK) goto cleanup;
    if (ctx->save_dir && cfg->mount_on_start) load_persisted(ctx);
    if (cfg->prune_stale) {
        lu_error perr;
        if (lu_prune_stale(ctx, cfg->minimum_version, NULL, &perr) != LU_OK)
            lu__log(&ctx->env, LU_LOG_WARN, "start-up: %s", perr.message);
    }
    *out = ctx;
    ctx = NULL;
cleanup:
    lu_context_close(ctx);
    return st;
}

void lu_context_close(lu_context *ctx)
{
    if (!ctx) return;
    lu__downloads_shutdown(ctx);
    lu__updater_free(ctx);
    lu__jobs_shutdown(ctx);
    lu__cell_publish(&ctx->cell, NULL);
    ctx->current = NULL;
    for (size_t i = 0; i < ctx->nreport; i++) {
        lu__free(&ctx->env, ctx->report[i].name);
        lu__free(&ctx->env, ctx->report[i].uri);
        lu__free(&ctx->env, ctx->report[i].action);
        lu__free(&ctx->env, ctx->report[i].message);
    }
    lu__free(&ctx->env, ctx->report);
    if (ctx->lock_fd >= 0) close(ctx->lock_fd);
    pthread_cond_destroy(&ctx->queue_cond);
    pthread_mutex_destroy(&ctx->queue_lock);
    pthread_mutex_destroy(&ctx->write_lock);
    lu__free(&ctx->env, ctx->save_dir);
    lu__free(&ctx->env, ctx->ca_file);
    lu_env env = ctx->env;
    lu__free(&env, ctx);
}

void lu_free(lu_context *ctx, void *ptr)
{
    if (ctx && ptr) lu__free(&ctx->env, ptr);
}
