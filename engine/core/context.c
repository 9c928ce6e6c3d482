/* context.c -- opening and closing a context, lu_update, and the hooks
 * through which the layers above the core attach to it.
 *
 * Open order (docs/ARCHITECTURE.md, "Persistence and start-up"): save directory and its lock, built-in mounts, then
 * the persisted mounts. A persisted volume that fails to open is dropped and
 * reported; a corrupt mounts file is moved aside and reported; the game
 * always starts with at least its built-in mounts. Every volume is opened
 * first and start-up pruning judged before ONE index is built over them all
 * and the mounts file written at most once (publish_opening).
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
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

/* ---- layers ------------------------------------------------------------ */

lu_status lu__layer_attach(lu_context *ctx, const lu_layer_ops *ops, void *state, lu_error *err)
{
    for (int i = 0; i < LU_LAYERS_MAX; i++)
        if (ctx->layers[i].ops == ops)
            return lu__fail(err, LU_INVAL, "the %s layer is attached already", ops->name);
    for (int i = 0; i < LU_LAYERS_MAX; i++)
        if (!ctx->layers[i].ops) {
            ctx->layers[i].ops = ops;
            ctx->layers[i].state = state;
            return LU_OK;
        }
    return lu__fail(err, LU_MEM_ERROR, "no room to attach the %s layer", ops->name);
}

void *lu__layer_state(const lu_context *ctx, const lu_layer_ops *ops)
{
    for (int i = 0; ctx && i < LU_LAYERS_MAX; i++)
        if (ctx->layers[i].ops == ops) return ctx->layers[i].state;
    return NULL;
}

void *lu__layer_detach(lu_context *ctx, const lu_layer_ops *ops)
{
    for (int i = 0; i < LU_LAYERS_MAX; i++)
        if (ctx->layers[i].ops == ops) {
            void *state = ctx->layers[i].state;
            ctx->layers[i].ops = NULL;
            ctx->layers[i].state = NULL;
            return state;
        }
    return NULL;
}

/* Closes the attached layers, the highest level first. */
static void layers_close(lu_context *ctx)
{
    for (;;) {
        int best = -1;
        for (int i = 0; i < LU_LAYERS_MAX; i++)
            if (ctx->layers[i].ops && (best < 0 || ctx->layers[i].ops->level > ctx->layers[best].ops->level))
                best = i;
        if (best < 0) return;
        /* still attached while it closes: its own calls look the state up */
        const lu_layer_ops *ops = ctx->layers[best].ops;
        if (ops->close) ops->close(ctx, ctx->layers[best].state);
        ctx->layers[best].ops = NULL;
        ctx->layers[best].state = NULL;
    }
}

static void context_free(lu_context *ctx);

int lu_update(lu_context *ctx)
{
    if (!ctx) return 0;
    ctx->update_depth++;
    int ran = lu__jobs_deliver(ctx);
    /* a poll hook may attach or detach a layer: look each slot up afresh */
    for (int i = 0; i < LU_LAYERS_MAX && !ctx->close_requested; i++) {
        const lu_layer_ops *ops = ctx->layers[i].ops;
        if (ops && ops->poll) ran += ops->poll(ctx, ctx->layers[i].state);
    }
    if (--ctx->update_depth == 0 && ctx->close_requested) context_free(ctx);
    return ran;
}

/* ---- options ------------------------------------------------------------ */

const lu_config *lu__options(const lu_context *ctx)
{
    return &ctx->options;
}

/* Copies `cfg` into ctx->options: strings and the key into one allocation
 * (ctx->options_copy); allocator and io are in ctx->env already. */
static lu_status options_copy(lu_context *ctx, const lu_config *cfg, lu_error *err)
{
    const char *strs[] = {cfg->save_dir, cfg->base_uri, cfg->builtin_uri, cfg->ca_file};
    size_t need = cfg->public_key ? 32 : 0;
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) need += strs[i] ? strlen(strs[i]) + 1 : 0;
    ctx->options = *cfg;
    ctx->options.allocator = NULL;
    ctx->options.io = NULL;
    if (!need) return LU_OK;
    char *p = ctx->options_copy = lu__malloc(&ctx->env, need);
    if (!p) return lu__fail(err, LU_MEM_ERROR, "out of memory opening a context");
    if (cfg->public_key) {
        memcpy(p, cfg->public_key, 32);
        ctx->options.public_key = (const unsigned char *)p;
        p += 32;
    }
    const char **dst[] = {&ctx->options.save_dir, &ctx->options.base_uri, &ctx->options.builtin_uri,
                          &ctx->options.ca_file};
    for (size_t i = 0; i < sizeof strs / sizeof *strs; i++) {
        if (!strs[i]) continue;
        size_t n = strlen(strs[i]) + 1;
        memcpy(p, strs[i], n);
        *dst[i] = p;
        p += n;
    }
    return LU_OK;
}

/* Whether a volume's failure to open may pass by itself (memory, an I/O
 * error, too many open files): then its mount is held, not dropped. A
 * missing, corrupt or unsafe volume is dropped. */
static bool passing(lu_status st)
{
    return st == LU_MEM_ERROR || st == LU_IO_ERROR;
}

/* The volumes a context opens with, gathered for its one index build
 * (publish_opening). */
typedef struct opening {
    lu_mount *builtin[2];
    size_t nbuiltin;
    lu_saved_mount *saved;   /* the mounts file's entries, in its order */
    lu_mount **mounted;      /* mounted[i]: saved[i] opened; NULL when held or dropped */
    size_t n;                /* entries of saved and mounted */
    size_t dropped;          /* dropped entries (saved[i].name NULL): the file is rewritten */
} opening;

static void opening_free(lu_context *ctx, opening *o)
{
    for (size_t i = 0; i < o->nbuiltin; i++) lu__mount_release(&ctx->env, o->builtin[i]);
    for (size_t i = 0; o->mounted && i < o->n; i++) lu__mount_release(&ctx->env, o->mounted[i]);
    lu__free(&ctx->env, o->mounted);
    lu__persist_free(&ctx->env, o->saved, o->n);
}

/* Opens what liveupdate.mounts lists, into `o`; nothing is published yet.
 * A corrupt file is moved aside and a volume that is missing or corrupt is
 * dropped (both reported), and the open goes on; a volume that failed to
 * open for a passing reason is held: reported as "kept", left in the file
 * (ctx->held, publish_opening) and tried again at the next start. A file
 * that could not be read or parsed for want of memory or through an I/O
 * error is not corrupt: the open fails and the file stays exactly as it
 * was. */
static lu_status load_persisted(lu_context *ctx, opening *o, lu_error *out_err)
{
    lu_saved_mount *saved = NULL;
    size_t n = 0;
    lu_error err;
    lu_status st = lu__persist_read(&ctx->env, ctx->save_dir, &saved, &n, &err);
    if (st == LU_NOT_FOUND) return LU_OK;
    if (st != LU_OK && st != LU_FORMAT_ERROR) {
        *out_err = err;
        lu__error_prefix(out_err, "the mounts file is kept as it was");
        return st;
    }
    if (st != LU_OK) {
        char *moved = NULL;
        lu_error merr;
        if (lu__persist_move_aside(&ctx->env, ctx->save_dir, &moved, &merr) == LU_OK)
            lu__error_prefix(&err, "moved aside to '%s'", moved ? moved : "liveupdate.mounts.corrupt-*");
        else
            lu__error_prefix(&err, "%s", merr.message);
        lu__report_add(ctx, "liveupdate.mounts", NULL, "moved_aside", &err);
        lu__free(&ctx->env, moved);
        return LU_OK;
    }
    o->saved = saved;
    o->n = n;
    o->mounted = lu__calloc(&ctx->env, n + 1, sizeof *o->mounted);
    if (!o->mounted)
        return lu__fail(out_err, LU_MEM_ERROR, "out of memory opening %zu persisted mounts; the mounts file is kept as it was", n);
    /* The file is in lookup order: open from the back so that among equal
     * priorities the first listed stays first (the later seq). Mounts
     * loaded from the file are persistent. */
    for (size_t i = n; i-- > 0;) {
        st = lu__mount_open(ctx, saved[i].name, saved[i].uri, saved[i].priority, true, &o->mounted[i], &err);
        if (st == LU_OK) continue;
        if (passing(st)) {
            saved[i].seq = ctx->next_seq;   /* its place among mounts of its priority */
            lu__error_prefix(&err, "kept in the mounts file for the next start");
            lu__report_add(ctx, saved[i].name, saved[i].uri, "kept", &err);
        } else {
            lu__report_add(ctx, saved[i].name, saved[i].uri, "dropped", &err);
            lu__free(&ctx->env, saved[i].name);
            lu__free(&ctx->env, saved[i].uri);
            saved[i].name = saved[i].uri = NULL;
            o->dropped++;
        }
    }
    return LU_OK;
}

/* Sets ctx->held to the entries of o->saved that stay in the mounts file
 * without being mounted, in file order: the held ones, and with `all` the
 * opened ones too. The strings stay o->saved's until hold_settle. */
static lu_status hold(lu_context *ctx, opening *o, bool all, lu_error *err)
{
    size_t k = 0;
    for (size_t i = 0; i < o->n; i++) k += o->saved[i].name && (all || !o->mounted[i]);
    lu_saved_mount *h = k ? lu__calloc(&ctx->env, k, sizeof *h) : NULL;
    if (k && !h) return lu__fail(err, LU_MEM_ERROR, "out of memory opening a context");
    k = 0;
    for (size_t i = 0; i < o->n; i++)
        if (o->saved[i].name && (all || !o->mounted[i])) {
            h[k] = o->saved[i];
            if (o->mounted[i]) h[k].seq = o->mounted[i]->seq;   /* its place, as if it had failed to open */
            k++;
        }
    lu__free(&ctx->env, ctx->held);   /* the array only */
    ctx->held = h;
    ctx->nheld = k;
    return LU_OK;
}

/* The context owns the held entries' strings from now on. */
static void hold_settle(opening *o, bool all)
{
    for (size_t i = 0; i < o->n; i++)
        if (o->saved[i].name && (all || !o->mounted[i])) o->saved[i].name = o->saved[i].uri = NULL;
}

/* Publishes what `o` opened with ONE index build, after start-up pruning
 * (cfg->prune_stale) has judged the restored mounts, and writes the mounts
 * file at most once: when a mount was dropped or pruned, before the pruned
 * volumes' files are deleted (a crash in between leaves no mount naming a
 * deleted file). A failed write leaves the stale mounts mounted and their
 * files in place (logged). If no index over them all can be built, the
 * restored mounts are all kept for the next start and the built-in ones
 * published alone. Fails only when the built-in mounts cannot be
 * published, or on a small allocation (the mounts file as it was). */
static lu_status publish_opening(lu_context *ctx, opening *o, const lu_config *cfg, lu_error *err)
{
    lu_status st = LU_OK;
    lu_stale *stale = NULL;
    lu_mount **list = lu__calloc(&ctx->env, o->nbuiltin + o->n + 1, sizeof *list);
    bool *marks = lu__calloc(&ctx->env, o->n + 1, sizeof *marks);
    bool all_held = false;
    if (!list || !marks) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory opening a context");
        goto cleanup;
    }
    if ((st = hold(ctx, o, false, err)) != LU_OK) goto cleanup;
    size_t nopen = 0;
    for (size_t i = o->n; i-- > 0;)   /* add order */
        if (o->mounted[i]) list[nopen++] = o->mounted[i];
    if (cfg->prune_stale && nopen) {
        lu_error perr;
        if (lu__stale_find(ctx, list, nopen, cfg->minimum_version, marks, &stale, &perr) != LU_OK)
            lu__log(&ctx->env, LU_LOG_WARN, "start-up: %s", perr.message);
    }
    /* the table: the built-in mounts and the restored ones not stale */
    size_t k = 0;
    for (size_t i = 0; i < nopen; i++)
        if (!marks[i]) list[k++] = list[i];
    memmove(list + o->nbuiltin, list, k * sizeof *list);
    for (size_t i = 0; i < o->nbuiltin; i++) list[i] = o->builtin[i];
    k += o->nbuiltin;
    bool write = o->dropped || stale;
    lu_error e;
    st = lu__mounts_add_many(ctx, list, k, write, &e);
    if (st != LU_OK && write) {
        lu__log(&ctx->env, LU_LOG_WARN, "start-up: could not rewrite the mounts file (%zu dropped, %zu stale kept): %s",
                o->dropped, lu__stale_count(stale), e.message);
        if (stale) {   /* not pruned: the whole table, without a write */
            lu__stale_free(ctx, stale);
            stale = NULL;
            k = o->nbuiltin;
            for (size_t i = o->n; i-- > 0;)
                if (o->mounted[i]) list[k++] = o->mounted[i];
        }
        st = lu__mounts_add_many(ctx, list, k, false, &e);
    }
    if (st != LU_OK && k > o->nbuiltin) {
        /* no index over them all: the restored mounts wait for the next start */
        lu__stale_free(ctx, stale);
        stale = NULL;
        if ((st = hold(ctx, o, true, err)) != LU_OK) goto cleanup;
        all_held = true;
        lu__error_prefix(&e, "kept in the mounts file for the next start");
        for (size_t i = o->n; i-- > 0;)
            if (o->mounted[i]) lu__report_add(ctx, o->saved[i].name, o->saved[i].uri, "kept", &e);
        st = lu__mounts_add_many(ctx, o->builtin, o->nbuiltin, false, &e);
        if (st == LU_OK && o->dropped) {
            pthread_mutex_lock(&ctx->write_lock);
            if (lu__persist_write(&ctx->env, ctx->save_dir, ctx->current, ctx->held, ctx->nheld, NULL, 0, &e) != LU_OK)
                lu__log(&ctx->env, LU_LOG_WARN, "start-up: could not rewrite the mounts file: %s", e.message);
            pthread_mutex_unlock(&ctx->write_lock);
        }
    }
    if (st != LU_OK) {
        *err = e;
        lu__error_prefix(err, "built-in mounts");
        goto cleanup;
    }
    if (stale) lu__stale_settle(ctx, stale, NULL);   /* the file without them is written */
cleanup:
    if (st == LU_OK) {
        hold_settle(o, all_held);
    } else {
        lu__free(&ctx->env, ctx->held);   /* the array only: o->saved frees the strings */
        ctx->held = NULL;
        ctx->nheld = 0;
    }
    lu__stale_free(ctx, stale);
    lu__free(&ctx->env, marks);
    lu__free(&ctx->env, list);
    return st;
}

static lu_status open_builtin(lu_context *ctx, opening *o, const char *name, const char *uri, int prio,
                              lu_error *err)
{
    if (!uri) return LU_OK;
    lu_status st = lu__mount_open(ctx, name, uri, prio, false, &o->builtin[o->nbuiltin], err);
    if (st != LU_OK) lu__error_prefix(err, "built-in mount '%s'", name);
    else o->nbuiltin++;
    return st;
}

lu_status lu_context_open(const lu_config *cfg, lu_context **out, lu_error *err)
{
    *out = NULL;
    lu_status st = LU_OK;
    lu_context *ctx = NULL;
    opening o = {0};
    lu_env env = lu__default_env();
    if (!cfg) return lu__fail(err, LU_INVAL, "missing configuration");
    if (cfg->allocator) env.alloc = *cfg->allocator;
    if (cfg->io) env.io = lu__io_complete(cfg->io);
    env.log = cfg->log;
    env.log_ud = cfg->log_ud;
    env.max_uncompressed = cfg->max_uncompressed;
    ctx = lu__calloc(&env, 1, sizeof *ctx);
    if (!ctx) return lu__fail(err, LU_MEM_ERROR, "out of memory opening a context");
    ctx->env = env;
    ctx->lock_fd = -1;
    pthread_mutex_init(&ctx->write_lock, NULL);
    pthread_mutex_init(&ctx->queue_lock, NULL);
    pthread_cond_init(&ctx->queue_cond, NULL);
    if ((st = lu__cell_init(&ctx->cell, &ctx->env, err)) != LU_OK) goto cleanup;
    if (cfg->save_dir) {
        if (!cfg->save_dir[0]) {
            st = lu__fail(err, LU_INVAL, "empty save directory");
            goto cleanup;
        }
        /* absolute (and below, canonical), so every path the context gives
         * out (lu_mount_info.path, URIs of volumes inside it) is, whatever
         * the working directory */
        char cwd[PATH_MAX];
        if (cfg->save_dir[0] != '/' && !getcwd(cwd, sizeof cwd)) {
            st = lu__fail(err, LU_IO_ERROR, "save directory '%s': cannot read the working directory: %s", cfg->save_dir,
                          strerror(errno));
            goto cleanup;
        }
        ctx->save_dir = cfg->save_dir[0] == '/' ? lu__strdup(&ctx->env, cfg->save_dir)
                                                : lu__path_join(&ctx->env, cwd, cfg->save_dir);
        if (!ctx->save_dir) {
            st = lu__fail(err, LU_MEM_ERROR, "out of memory opening a context");
            goto cleanup;
        }
        st = lu__fs_mkdirs(&ctx->env, ctx->save_dir, err);
        if (st != LU_OK) goto cleanup;
        char real[PATH_MAX];   /* one spelling of it: no "..", no symlink */
        char *canon = realpath(ctx->save_dir, real) ? lu__strdup(&ctx->env, real) : NULL;
        if (canon) {
            lu__free(&ctx->env, ctx->save_dir);
            ctx->save_dir = canon;
        }
        st = lu__lock_take(ctx->save_dir, &ctx->lock_fd, err);
        if (st != LU_OK) goto cleanup;
    }
    st = options_copy(ctx, cfg, err);
    if (st != LU_OK) goto cleanup;
    /* every volume first, then one index build over them all */
    st = open_builtin(ctx, &o, LU_BASE_MOUNT, cfg->base_uri, LU_BASE_PRIORITY, err);
    if (st != LU_OK) goto cleanup;
    st = open_builtin(ctx, &o, LU_BUILTIN_MOUNT, cfg->builtin_uri, LU_BUILTIN_PRIORITY, err);
    if (st != LU_OK) goto cleanup;
    if (ctx->save_dir && cfg->mount_on_start && (st = load_persisted(ctx, &o, err)) != LU_OK) goto cleanup;
    if ((o.nbuiltin || o.n) && (st = publish_opening(ctx, &o, cfg, err)) != LU_OK) goto cleanup;
    opening_free(ctx, &o);
    *out = ctx;
    ctx = NULL;
cleanup:
    if (ctx) opening_free(ctx, &o);   /* before the context (and its allocator) goes */
    lu_context_close(ctx);
    return st;
}

void lu_context_close(lu_context *ctx)
{
    if (!ctx) return;
    if (ctx->update_depth > 0) {   /* from a callback: when lu_update returns */
        ctx->close_requested = true;
        return;
    }
    context_free(ctx);
}

static void context_free(lu_context *ctx)
{
    layers_close(ctx);
    lu__jobs_shutdown(ctx);
    lu__cell_fini(&ctx->cell);
    ctx->current = NULL;
    lu__report_free(ctx);
    lu__persist_free(&ctx->env, ctx->held, ctx->nheld);
    if (ctx->lock_fd >= 0) close(ctx->lock_fd);
    pthread_cond_destroy(&ctx->queue_cond);
    pthread_mutex_destroy(&ctx->queue_lock);
    pthread_mutex_destroy(&ctx->write_lock);
    lu__free(&ctx->env, ctx->save_dir);
    lu__free(&ctx->env, ctx->options_copy);
    lu_env env = ctx->env;
    lu__free(&env, ctx);
}
