/* updater.c -- the update manager: releases checked, staged, applied,
 * confirmed or rolled back (contract: liveupdate/updater.h).
 *
 * State (<save>/update/state.json, crash-safe writes):
 *   current, previous, staged: {"version", "volumes": [{"name", "file",
 *   "priority"}]} or null; "trial": the current version while it is not
 *   confirmed; "failed": versions rolled back; "last_rollback": {"version",
 *   "reason"}; "update_pending", "last_run", "last_check".
 *
 * Crash safety: a release change is one lu_mounts_apply (the mounts file)
 * followed by one state write. A crash between them leaves a state that
 * still says "staged" or "trial"; the next start repeats the same change,
 * which is idempotent (same names, same files). A state write checks every
 * call that builds the JSON, so a failed allocation fails the write (the old
 * file stays) instead of writing a state without, say, "trial".
 *
 * Memory: everything here is allocated through the context's lu_env.
 */
#include <ctype.h>
#include <dirent.h>
#include <strings.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "internal.h"
#include "liveupdate/crypto.h"
#include "liveupdate/download.h"
#include "liveupdate/http.h"
#include "liveupdate/manifest.h"
#include "liveupdate/release.h"
#include "liveupdate/updater.h"
#include "release_internal.h"

typedef struct rel_vol {
    char *name, *file;
    int priority;
    bool check_manifest;   /* staging: no SHA-256 given; check entries against its manifest */
} rel_vol;

typedef struct release {
    char *version;    /* NULL: no release (the base bundle's content) */
    char *bmin, *bmax;  /* the store binaries it is made for (inclusive), or NULL */
    rel_vol *vols;
    size_t n;
} release;

/* A package that failed verification: not fetched again until the
 * document (its text, or the HEAD answer) changes. */
typedef struct refusal {
    char *version, *doc;
} refusal;

#define REFUSED_MAX 16

typedef struct lu_updater lu_updater;

struct lu_updater {
    lu_context *ctx;
    char *url, *local_version, *binary;
    bool ask;
    char *head_url, *version_headers, *head_volume;
    /* the HEAD request in flight */
    int head_id;              /* the HEAD request in flight, or 0 */
    int verify_signature, retries;
    long timeout_ms;
    lu_updater_event_fn on_event;
    void *ud;
    lu_version_compare_fn compare;
    void *compare_ud;
    char dir[PATH_MAX];          /* <save>/update */
    release current, previous, staged, staging;
    char *trial;                 /* version on trial, or NULL */
    bool trial_running;          /* a run on trial has not ended cleanly (yet) */
    char *trial_failure;         /* why the release on trial failed, or NULL */
    refusal *refused;
    size_t nrefused;
    char doc_id[LU_SHA256_HEX];  /* identity of the last document or HEAD answer */
    bool offered;                /* ask: a newer release is offered, not downloaded */
    bool download_wanted;        /* ask: download() came while a check was running */
    char ready_told[LU_VERSION_MAX + 1]; /* the release whose READY this run emitted */
    bool retrying;               /* the check running is a backoff retry (poll hook) */
    char check_told[LU_VERSION_MAX + 3]; /* "<has_update><version>" of the last CHECKED */
    bool blocked_reported;       /* this run told the script it is below min_version */
    double retry_at, backoff;    /* blocked: the next retry (monotonic s), its delay */
    char crash_note[PATH_MAX + 32];
    char **failed;
    size_t nfailed;
    char *rollback_version, *rollback_reason;
    bool update_pending;
    long long last_run, last_check, prev_run;
    /* a check in progress */
    bool checking;
    int pending;                 /* staging downloads not finished */
    lu_status stage_status;
    char stage_msg[LU_ERROR_MAX];
    lu_release *remote;
    lu_status last_status;
    char last_message[LU_ERROR_MAX];
};

static void updater_free(lu_context *ctx, void *state);

/* The update manager is a layer above the core: its state hangs off the
 * context from lu_updater_open until lu_context_close (or a failed open). */
static int updater_poll(lu_context *ctx, void *state);
static const lu_layer_ops update_layer = {"update", 3, updater_poll, updater_free};

static lu_updater *updater(const lu_context *ctx)
{
    return lu__layer_state(ctx, &update_layer);
}

void lu_updater_config_init(lu_updater_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->local_version = "0";
    cfg->verify_signature = -1;
    cfg->timeout_ms = 30000;
    cfg->retries = 3;
}

/* ---- releases and state --------------------------------------------- */

static void release_clear(const lu_env *env, release *r)
{
    for (size_t i = 0; i < r->n; i++) {
        lu__free(env, r->vols[i].name);
        lu__free(env, r->vols[i].file);
    }
    lu__free(env, r->vols);
    lu__free(env, r->version);
    lu__free(env, r->bmin);
    lu__free(env, r->bmax);
    memset(r, 0, sizeof *r);
}

static void release_move(const lu_env *env, release *to, release *from)
{
    release_clear(env, to);
    *to = *from;
    memset(from, 0, sizeof *from);
}

static int cmp_versions(const lu_updater *u, const char *a, const char *b)
{
    return u->compare ? u->compare(u->compare_ud, a, b) : lu_version_compare(a, b);
}

static const char *current_version(const lu_updater *u)
{
    return u->current.version ? u->current.version : u->local_version;
}

static bool has_failed(const lu_updater *u, const char *v)
{
    for (size_t i = 0; i < u->nfailed; i++)
        if (strcmp(u->failed[i], v) == 0) return true;
    return false;
}

/* Adds `item` under `key` (to an array when key is NULL); on any failure
 * (item NULL, no memory) deletes it and returns false. */
static bool add_item(cJSON *to, const char *key, cJSON *item)
{
    if (item && (key ? cJSON_AddItemToObject(to, key, item) : cJSON_AddItemToArray(to, item))) return true;
    cJSON_Delete(item);
    return false;
}

/* A release as JSON (null when there is none); NULL when out of memory. */
static cJSON *release_json(const release *r)
{
    if (!r->version) return cJSON_CreateNull();
    cJSON *o = cJSON_CreateObject(), *arr = NULL;
    bool ok = o && cJSON_AddStringToObject(o, "version", r->version) &&
              (!r->bmin || cJSON_AddStringToObject(o, "binary_min", r->bmin)) &&
              (!r->bmax || cJSON_AddStringToObject(o, "binary_max", r->bmax)) &&
              (arr = cJSON_AddArrayToObject(o, "volumes")) != NULL;
    for (size_t i = 0; ok && i < r->n; i++) {
        cJSON *v = cJSON_CreateObject();
        ok = v && cJSON_AddStringToObject(v, "name", r->vols[i].name) &&
             cJSON_AddStringToObject(v, "file", r->vols[i].file) &&
             cJSON_AddNumberToObject(v, "priority", r->vols[i].priority);
        if (ok) ok = add_item(arr, NULL, v);
        else cJSON_Delete(v);
    }
    if (ok) return o;
    cJSON_Delete(o);
    return NULL;
}

/* Reads a release object: LU_OK, LU_FORMAT_ERROR (malformed) or
 * LU_MEM_ERROR. On failure *r may be partly filled (release_clear it). */
static lu_status release_read(const lu_env *env, const cJSON *o, release *r)
{
    memset(r, 0, sizeof *r);
    if (!o || cJSON_IsNull(o)) return LU_OK;
    const char *ver = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, "version"));
    const cJSON *vols = cJSON_GetObjectItemCaseSensitive(o, "volumes"), *it;
    if (!ver || !lu_version_valid(ver) || !cJSON_IsArray(vols)) return LU_FORMAT_ERROR;
    const char *bounds[2] = {"binary_min", "binary_max"};
    char **to[2] = {&r->bmin, &r->bmax};
    for (int i = 0; i < 2; i++) {
        const cJSON *b = cJSON_GetObjectItemCaseSensitive(o, bounds[i]);
        if (!b) continue;
        if (!cJSON_IsString(b) || !lu_version_valid(b->valuestring)) return LU_FORMAT_ERROR;
        if (!(*to[i] = lu__strdup(env, b->valuestring))) return LU_MEM_ERROR;
    }
    r->vols = lu__calloc(env, (size_t)cJSON_GetArraySize(vols) + 1, sizeof *r->vols);
    r->version = lu__strdup(env, ver);
    if (!r->vols || !r->version) return LU_MEM_ERROR;
    cJSON_ArrayForEach(it, vols) {
        const char *name = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "name"));
        const char *file = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "file"));
        const cJSON *prio = cJSON_GetObjectItemCaseSensitive(it, "priority");
        lu_error e;
        if (!name || !file || lu_mount_name_check(name, &e) != LU_OK || lu_file_name_check(file, &e) != LU_OK ||
            !cJSON_IsNumber(prio) || prio->valuedouble < 0 || prio->valuedouble > 2147483647.0)
            return LU_FORMAT_ERROR;
        rel_vol *v = &r->vols[r->n++];
        v->name = lu__strdup(env, name);
        v->file = lu__strdup(env, file);
        v->priority = (int)prio->valuedouble;
        if (!v->name || !v->file) return LU_MEM_ERROR;
    }
    return LU_OK;
}

/* Writes state.json from memory. Every cJSON call is checked: when one
 * fails the write fails (LU_MEM_ERROR) and the old file stays, because a
 * state missing a field ("trial" above all) would be read as a different,
 * wrong state at the next start. */
static lu_status state_write(lu_updater *u, lu_error *err)
{
    cJSON *o = cJSON_CreateObject(), *failed = NULL, *rb = NULL, *refused = NULL;
    bool ok = o && cJSON_AddStringToObject(o, "binary", u->binary) &&
              add_item(o, "current", release_json(&u->current)) &&
              add_item(o, "previous", release_json(&u->previous)) &&
              add_item(o, "staged", release_json(&u->staged)) &&
              (u->trial ? cJSON_AddStringToObject(o, "trial", u->trial) : cJSON_AddNullToObject(o, "trial")) &&
              cJSON_AddBoolToObject(o, "trial_running", u->trial_running) &&
              (u->trial_failure ? cJSON_AddStringToObject(o, "trial_failure", u->trial_failure)
                                : cJSON_AddNullToObject(o, "trial_failure")) &&
              (failed = cJSON_AddArrayToObject(o, "failed")) != NULL &&
              (refused = cJSON_AddArrayToObject(o, "refused")) != NULL;
    for (size_t i = 0; ok && i < u->nfailed; i++) ok = add_item(failed, NULL, cJSON_CreateString(u->failed[i]));
    for (size_t i = 0; ok && i < u->nrefused; i++) {
        cJSON *r = cJSON_CreateObject();
        ok = r && cJSON_AddStringToObject(r, "version", u->refused[i].version) &&
             cJSON_AddStringToObject(r, "doc", u->refused[i].doc);
        if (ok) ok = add_item(refused, NULL, r);
        else cJSON_Delete(r);
    }
    if (ok && u->rollback_version)
        ok = (rb = cJSON_AddObjectToObject(o, "last_rollback")) != NULL &&
             cJSON_AddStringToObject(rb, "version", u->rollback_version) &&
             cJSON_AddStringToObject(rb, "reason", u->rollback_reason ? u->rollback_reason : "");
    else if (ok)
        ok = cJSON_AddNullToObject(o, "last_rollback") != NULL;
    ok = ok && cJSON_AddBoolToObject(o, "update_pending", u->update_pending) &&
         cJSON_AddNumberToObject(o, "last_run", (double)u->last_run) &&
         cJSON_AddNumberToObject(o, "last_check", (double)u->last_check);
    char *text = ok ? cJSON_Print(o) : NULL;
    cJSON_Delete(o);
    if (!text) return lu__fail(err, LU_MEM_ERROR, "update state: out of memory");
    lu_status st = lu__fs_write_atomic(&u->ctx->env, u->dir, "state.json", text, strlen(text), err);
    cJSON_free(text);
    return st;
}

/* Frees what state_read loaded and empties it. */
static void state_clear(lu_updater *u)
{
    const lu_env *env = &u->ctx->env;
    release_clear(env, &u->current);
    release_clear(env, &u->previous);
    release_clear(env, &u->staged);
    for (size_t i = 0; i < u->nfailed; i++) lu__free(env, u->failed[i]);
    lu__free(env, u->failed);
    for (size_t i = 0; i < u->nrefused; i++) {
        lu__free(env, u->refused[i].version);
        lu__free(env, u->refused[i].doc);
    }
    lu__free(env, u->refused);
    lu__free(env, u->trial);
    lu__free(env, u->trial_failure);
    lu__free(env, u->rollback_version);
    lu__free(env, u->rollback_reason);
    u->failed = NULL;
    u->refused = NULL;
    u->nfailed = u->nrefused = 0;
    u->trial = u->trial_failure = u->rollback_version = u->rollback_reason = NULL;
    u->trial_running = false;
}

/* Loads state.json; LU_NOT_FOUND when there is none, LU_FORMAT_ERROR when
 * it is corrupt, LU_MEM_ERROR (not corrupt: nothing may move it aside). */
static lu_status state_read(lu_updater *u, lu_error *err)
{
    const lu_env *env = &u->ctx->env;
    char path[PATH_MAX + 16], *text = NULL;
    size_t len;
    snprintf(path, sizeof path, "%s/state.json", u->dir);
    LU_TRY(lu__fs_read_all(env, path, &text, &len, err));
    cJSON *o;
    lu_status parsed = lu__json_parse_stored(text, len, path, &o, err);
    lu__free(env, text);
    if (parsed != LU_OK) return parsed;
    const cJSON *failed = cJSON_GetObjectItemCaseSensitive(o, "failed"), *it;
    const cJSON *rb = cJSON_GetObjectItemCaseSensitive(o, "last_rollback");
    const cJSON *trial = cJSON_GetObjectItemCaseSensitive(o, "trial");
    const cJSON *tfail = cJSON_GetObjectItemCaseSensitive(o, "trial_failure");
    const cJSON *refused = cJSON_GetObjectItemCaseSensitive(o, "refused");
    lu_status st = cJSON_IsObject(o) ? LU_OK : LU_FORMAT_ERROR;
    if (st == LU_OK) st = release_read(env, cJSON_GetObjectItemCaseSensitive(o, "current"), &u->current);
    if (st == LU_OK) st = release_read(env, cJSON_GetObjectItemCaseSensitive(o, "previous"), &u->previous);
    if (st == LU_OK) st = release_read(env, cJSON_GetObjectItemCaseSensitive(o, "staged"), &u->staged);
    if (st == LU_OK && !((!failed || cJSON_IsArray(failed)) && (!trial || cJSON_IsNull(trial) || cJSON_IsString(trial))))
        st = LU_FORMAT_ERROR;
    if (st == LU_OK && !((!tfail || cJSON_IsNull(tfail) || cJSON_IsString(tfail)) && (!refused || cJSON_IsArray(refused))))
        st = LU_FORMAT_ERROR;
    if (st == LU_OK && cJSON_IsString(trial) && !(u->trial = lu__strdup(env, trial->valuestring))) st = LU_MEM_ERROR;
    if (st == LU_OK && cJSON_IsString(tfail) && !(u->trial_failure = lu__strdup(env, tfail->valuestring)))
        st = LU_MEM_ERROR;
    if (st == LU_OK && refused) {
        u->refused = lu__calloc(env, (size_t)cJSON_GetArraySize(refused) + 1, sizeof *u->refused);
        if (!u->refused) st = LU_MEM_ERROR;
        cJSON_ArrayForEach(it, refused) {
            if (st != LU_OK) break;
            const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "version"));
            const char *d = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(it, "doc"));
            if (!v || !d) {
                st = LU_FORMAT_ERROR;
                break;
            }
            refusal *r = &u->refused[u->nrefused];
            r->version = lu__strdup(env, v);
            r->doc = lu__strdup(env, d);
            u->nrefused++;
            if (!r->version || !r->doc) st = LU_MEM_ERROR;
        }
    }
    if (st == LU_OK && failed) {
        u->failed = lu__calloc(env, (size_t)cJSON_GetArraySize(failed) + 1, sizeof *u->failed);
        if (!u->failed) st = LU_MEM_ERROR;
        cJSON_ArrayForEach(it, failed) {
            if (st != LU_OK) break;
            if (!cJSON_IsString(it)) st = LU_FORMAT_ERROR;
            else if (!(u->failed[u->nfailed] = lu__strdup(env, it->valuestring))) st = LU_MEM_ERROR;
            else u->nfailed++;
        }
    }
    if (st == LU_OK && cJSON_IsObject(rb)) {
        const char *v = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rb, "version"));
        const char *r = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rb, "reason"));
        if ((v && !(u->rollback_version = lu__strdup(env, v))) || (r && !(u->rollback_reason = lu__strdup(env, r))))
            st = LU_MEM_ERROR;
    }
    bool ok = st == LU_OK;
    if (ok) {
        u->update_pending = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "update_pending"));
        /* a trial written before "trial_running" existed ran unconfirmed */
        const cJSON *tr = cJSON_GetObjectItemCaseSensitive(o, "trial_running");
        u->trial_running = tr ? cJSON_IsTrue(tr) : u->trial != NULL;
        const cJSON *lr = cJSON_GetObjectItemCaseSensitive(o, "last_run"), *lc = cJSON_GetObjectItemCaseSensitive(o, "last_check");
        if (cJSON_IsNumber(lr) && lr->valuedouble >= 0 && lr->valuedouble < 1e15) u->last_run = (long long)lr->valuedouble;
        if (cJSON_IsNumber(lc) && lc->valuedouble >= 0 && lc->valuedouble < 1e15) u->last_check = (long long)lc->valuedouble;
    }
    cJSON_Delete(o);
    if (st == LU_MEM_ERROR) return lu__fail(err, LU_MEM_ERROR, "out of memory reading '%s'", path);
    return ok ? LU_OK : lu__fail(err, LU_FORMAT_ERROR, "'%s' is not a valid update state", path);
}

/* Replaces *dst with `owned` (which may be NULL), freeing the old string. */
static void set_str(const lu_env *env, char **dst, char *owned)
{
    lu__free(env, *dst);
    *dst = owned;
}

/* ---- release changes ------------------------------------------------ */

/* Mounts `to` and unmounts what of `from` it does not replace, in one write. */
static lu_status switch_release(lu_updater *u, const release *to, const release *from, lu_error *err)
{
    const lu_env *env = &u->ctx->env;
    lu_mount_spec *add = lu__calloc(env, to->n + 1, sizeof *add);
    const char **remove = lu__calloc(env, from->n + 1, sizeof *remove);
    char (*uris)[300] = lu__calloc(env, to->n + 1, sizeof *uris);
    lu_status st = LU_OK;
    size_t nremove = 0;
    if (!add || !remove || !uris) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory switching releases");
        goto cleanup;
    }
    for (size_t i = 0; i < to->n; i++) {
        if ((st = lu_volume_uri(to->vols[i].file, uris[i], sizeof uris[i], err)) != LU_OK) goto cleanup;
        add[i] = (lu_mount_spec){to->vols[i].name, uris[i], to->vols[i].priority};
    }
    for (size_t i = 0; i < from->n; i++) remove[nremove++] = from->vols[i].name;
    st = lu_mounts_apply(u->ctx, add, to->n, remove, nremove, err);
cleanup:
    lu__free(env, add);
    lu__free(env, (void *)remove);
    lu__free(env, uris);
    return st;
}

/* Deletes <save>/volumes/rel-* files no kept release uses, then the store
 * entries no file uses any more. */
static void collect_garbage(lu_updater *u)
{
    char vdir[PATH_MAX];
    lu__save_path(u->ctx, LU_SAVE_VOLUMES, NULL, false, vdir, sizeof vdir, NULL);
    DIR *d = opendir(vdir);
    if (!d) return;
    const release *keep[] = {&u->current, &u->previous, &u->staged, &u->staging};
    struct dirent *de;
    while ((de = readdir(d))) {
        if (strncmp(de->d_name, LU_RELEASE_FILE_PREFIX, strlen(LU_RELEASE_FILE_PREFIX)) != 0) continue;
        bool used = false;
        for (size_t k = 0; k < 4 && !used; k++)
            for (size_t i = 0; i < keep[k]->n && !used; i++) used = strcmp(keep[k]->vols[i].file, de->d_name) == 0;
        size_t len = strlen(de->d_name);
        if (!used && len > 4 && strcmp(de->d_name + len - 4, ".sig") == 0) {
            char base[NAME_MAX + 1];
            snprintf(base, sizeof base, "%.*s", (int)(len - 4), de->d_name);
            for (size_t k = 0; k < 4 && !used; k++)
                for (size_t i = 0; i < keep[k]->n && !used; i++) used = strcmp(keep[k]->vols[i].file, base) == 0;
        }
        if (used) continue;
        char path[PATH_MAX + NAME_MAX + 2];
        snprintf(path, sizeof path, "%s/%s", vdir, de->d_name);
        if (u->ctx->env.io.unlink(u->ctx->env.io.ud, path) == 0) lu__log(&u->ctx->env, LU_LOG_INFO, "update: deleted old release file '%s'", path);
    }
    closedir(d);
    lu__store_collect(u->ctx);   /* bytes no release file uses any more */
}

/* Staged -> current (on trial). The release it replaces becomes the
 * previous one (what a failed trial rolls back to) only when it was
 * confirmed: over an unconfirmed trial, the previous release stays, so a
 * rollback never lands on content that did not prove itself. What the new
 * state needs is allocated before the mounts change; when the state write
 * fails, the mounts are switched back and memory restored, so nothing
 * changed (state.json still says "staged"). */
static lu_status apply_staged(lu_updater *u, lu_error *err)
{
    const lu_env *env = &u->ctx->env;
    char *trial = lu__strdup(env, u->staged.version);
    if (!trial) return lu__fail(err, LU_MEM_ERROR, "update: out of memory applying %s", u->staged.version);
    lu_status st = switch_release(u, &u->staged, &u->current, err);
    if (st != LU_OK) {
        lu__free(env, trial);
        return st;
    }
    /* the old state, kept until the new one is written */
    release old_current = u->current, old_previous = u->previous, old_staged = u->staged;
    char *old_trial = u->trial, *old_failure = u->trial_failure;
    bool old_running = u->trial_running, over_trial = u->trial != NULL;
    if (!over_trial) u->previous = old_current;   /* over a trial, the previous release stays */
    u->current = old_staged;
    memset(&u->staged, 0, sizeof u->staged);
    u->trial = trial;
    u->trial_failure = NULL;
    u->trial_running = true;
    st = state_write(u, err);
    if (st != LU_OK) {
        lu_error rerr;
        if (switch_release(u, &old_current, &old_staged, &rerr) != LU_OK)
            lu__log(env, LU_LOG_ERROR, "update: applying %s: could not switch back: %s", old_staged.version, rerr.message);
        u->staged = old_staged;
        u->current = old_current;
        u->previous = old_previous;
        u->trial = old_trial;
        u->trial_failure = old_failure;
        u->trial_running = old_running;
        lu__free(env, trial);
        return st;
    }
    if (over_trial) {
        lu__log(env, LU_LOG_INFO, "update: release %s replaces %s, which was on trial", old_staged.version,
                old_current.version);
        release_clear(env, &old_current);
    } else {
        release_clear(env, &old_previous);
    }
    lu__free(env, old_trial);
    lu__free(env, old_failure);
    u->ctx->env.io.unlink(u->ctx->env.io.ud, u->crash_note);
    lu__log(env, LU_LOG_INFO, "update: release %s applied (on trial until confirmed)", u->current.version);
    collect_garbage(u);
    return LU_OK;
}

/* The reason a trial failed, as the last run left it: the failure it
 * recorded, else the crash note a signal handler wrote, else what is
 * known (it neither confirmed nor ended cleanly). */
static void trial_reason(lu_updater *u, char *out, size_t cap)
{
    char note[512] = "";
    FILE *f = u->trial_failure ? NULL : fopen(u->crash_note, "rb");
    if (f) {
        size_t n = fread(note, 1, sizeof note - 1, f);
        fclose(f);
        note[n] = 0;
        note[strcspn(note, "\r\n")] = 0;
    }
    const char *back = u->previous.version ? u->previous.version : u->local_version;
    if (u->trial_failure)
        snprintf(out, cap, "release %s failed on trial: %.3000s; back to %s", u->current.version, u->trial_failure, back);
    else if (note[0])
        snprintf(out, cap, "release %s failed on trial: %s; back to %s", u->current.version, note, back);
    else
        snprintf(out, cap,
                 "release %s was on trial and the game stopped without confirm() or a clean exit "
                 "(killed, hung or crashed); back to %s",
                 u->current.version, back);
}

/* The release on trial never confirmed: back to the previous one. What
 * the new state needs is allocated before the mounts change; when the state
 * write fails after the switch, state.json still says "trial", so the next
 * start rolls back again. */
static lu_status roll_back(lu_updater *u, lu_error *err)
{
    const lu_env *env = &u->ctx->env;
    char reason[LU_ERROR_MAX];
    trial_reason(u, reason, sizeof reason);
    bool known = has_failed(u, u->current.version);
    char *version = lu__strdup(env, u->current.version), *why = lu__calloc(env, 1, LU_ERROR_MAX);
    if (why) snprintf(why, LU_ERROR_MAX, "%s", reason);
    char *failed = known ? NULL : lu__strdup(env, u->current.version);
    char **grown = known ? u->failed : lu__realloc(env, u->failed, (u->nfailed + 2) * sizeof *grown);
    if (grown) u->failed = grown;
    lu_status st = version && why && (known || (failed && grown))
                       ? switch_release(u, &u->previous, &u->current, err)
                       : lu__fail(err, LU_MEM_ERROR, "update: out of memory rolling back %s", u->current.version);
    if (st != LU_OK && st != LU_MEM_ERROR && u->previous.version) {
        /* the previous release cannot be mounted (its file is gone or
         * damaged): the failed release still goes, to the bundled content */
        release none = {0};
        lu_error e2;
        if (switch_release(u, &none, &u->current, &e2) == LU_OK) {
            size_t len = strlen(why);
            snprintf(why + len, LU_ERROR_MAX - len, " (it could not be mounted: %.300s; back to the bundled content %s)",
                     err ? err->message : "", u->local_version);
            snprintf(reason, sizeof reason, "%s", why);
            release_clear(env, &u->previous);
            st = LU_OK;
        }
    }
    if (st != LU_OK) {
        lu__free(env, version);
        lu__free(env, why);
        lu__free(env, failed);
        return st;
    }
    if (failed) u->failed[u->nfailed++] = failed;
    set_str(env, &u->rollback_version, version);
    set_str(env, &u->rollback_reason, why);
    set_str(env, &u->trial, NULL);
    set_str(env, &u->trial_failure, NULL);
    u->trial_running = false;
    u->ctx->env.io.unlink(u->ctx->env.io.ud, u->crash_note);
    release_move(env, &u->current, &u->previous);
    lu_error rep = {.status = LU_VERSION_MISMATCH};
    snprintf(rep.message, sizeof rep.message, "%s", reason);
    lu__report_add(u->ctx, u->rollback_version, NULL, "rolled_back", &rep);
    return state_write(u, err);
}

static bool binary_fits(const lu_updater *u, const char *bmin, const char *bmax)
{
    return (!bmin || cmp_versions(u, u->binary, bmin) >= 0) && (!bmax || cmp_versions(u, u->binary, bmax) <= 0);
}

/* Why a stored release may not run on this binary, or NULL when it may:
 * made for another binary, or not newer than the bundled content (a store
 * update brought newer content). */
static const char *unfit(const lu_updater *u, const release *r, char *why, size_t cap)
{
    if (!r->version) return NULL;
    if (!binary_fits(u, r->bmin, r->bmax))
        snprintf(why, cap, "release %s was made for store binary %s%s%s, this is %s", r->version,
                 r->bmin ? r->bmin : "*", r->bmin && r->bmax && strcmp(r->bmin, r->bmax) == 0 ? "" : "..",
                 r->bmin && r->bmax && strcmp(r->bmin, r->bmax) == 0 ? "" : r->bmax ? r->bmax : "*", u->binary);
    else if (cmp_versions(u, r->version, u->local_version) <= 0)
        snprintf(why, cap, "release %s is not newer than the bundled content %s", r->version, u->local_version);
    else
        return NULL;
    return why;
}

/* Start-up after a store update: releases that may not run on this binary
 * are dropped (the current one's mounts removed in one write, its trial
 * ended, the previous release with it; files collected by the caller).
 * Each drop is a start-up report item. */
static lu_status drop_unfit(lu_updater *u, lu_error *err)
{
    const lu_env *env = &u->ctx->env;
    char why[LU_ERROR_MAX];
    release *rs[] = {&u->staged, &u->current};
    for (int i = 0; i < 2; i++) {
        if (!unfit(u, rs[i], why, sizeof why)) continue;
        if (rs[i] == &u->current) {
            release none = {0};
            LU_TRY(switch_release(u, &none, &u->current, err));
            release_clear(env, &u->previous);
            set_str(env, &u->trial, NULL);
            set_str(env, &u->trial_failure, NULL);
            u->trial_running = false;
        }
        lu__log(env, LU_LOG_INFO, "update: %s: dropped", why);
        lu_error rep = {.status = LU_VERSION_MISMATCH};
        snprintf(rep.message, sizeof rep.message, "%s", why);
        lu__report_add(u->ctx, rs[i]->version, NULL, "dropped", &rep);
        release_clear(env, rs[i]);
    }
    if (unfit(u, &u->previous, why, sizeof why)) release_clear(env, &u->previous);
    return LU_OK;
}

/* ---- checking and staging ------------------------------------------- */

static void emit(lu_updater *u, lu_updater_event_kind kind, int has_update, const char *version, lu_status st,
                 const char *msg)
{
    if (!u->on_event) return;
    lu_updater_event ev = {kind, has_update, u->remote && u->remote->mandatory, version, st, msg};
    u->on_event(u->ud, &ev);
}

static double mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The content in use is below the last document's min_version. */
static bool is_blocked(const lu_updater *u)
{
    return u->remote && u->remote->min_version && cmp_versions(u, current_version(u), u->remote->min_version) < 0;
}

/* Once per run while blocked: one FAILED (LU_VERSION_MISMATCH) event. */
static void report_blocked(lu_updater *u, const char *detail)
{
    if (u->blocked_reported || !is_blocked(u)) return;
    u->blocked_reported = true;
    char msg[LU_ERROR_MAX];
    snprintf(msg, sizeof msg, "content %s is below the required min_version %s; the new release %s: %.3500s",
             current_version(u), u->remote->min_version, u->remote->version, detail);
    lu__log(&u->ctx->env, LU_LOG_WARN, "update: %s", msg);
    emit(u, LU_UPDATER_FAILED, 0, NULL, LU_VERSION_MISMATCH, msg);
}

/* A check or staging failed. While blocked, the check is retried with
 * backoff (1 s doubling to 60 s, +-25% jitter, from the poll hook) and the
 * script hears of it once per run; otherwise it gets the failure. */
static void fail_check(lu_updater *u, lu_status st, const char *msg)
{
    u->checking = false;
    u->retrying = false;
    u->last_status = st;
    snprintf(u->last_message, sizeof u->last_message, "%s", msg);
    lu__log(&u->ctx->env, LU_LOG_WARN, "update: %s", msg);
    if (!is_blocked(u)) {
        emit(u, LU_UPDATER_FAILED, 0, NULL, st, msg);
        return;
    }
    u->backoff = u->backoff <= 0 ? 1.0 : u->backoff * 2 > 60 ? 60 : u->backoff * 2;
    double jitter = 0.75 + 0.5 * ((double)(lu__hash_path(msg, strlen(msg)) ^ (uint32_t)time(NULL)) / 4294967295.0);
    u->retry_at = mono_now() + u->backoff * jitter;
    lu__log(&u->ctx->env, LU_LOG_INFO, "update: below min_version: next check in %.1f s", u->backoff * jitter);
    report_blocked(u, msg);
}

/* Failures that will fail again with the same bytes. */
static bool permanent(lu_status st)
{
    return st == LU_HASH_MISMATCH || st == LU_SIGNATURE_MISMATCH || st == LU_FORMAT_ERROR ||
           st == LU_UNSAFE_ARCHIVE || st == LU_INVALID_HEADER || st == LU_SCHEME_MISMATCH;
}

static bool was_refused(const lu_updater *u, const char *version)
{
    for (size_t i = 0; i < u->nrefused; i++)
        if (strcmp(u->refused[i].version, version) == 0 && strcmp(u->refused[i].doc, u->doc_id) == 0) return true;
    return false;
}

/* Records that the package of `version` under the current document failed
 * verification (the oldest record goes beyond REFUSED_MAX). */
static void refuse(lu_updater *u, const char *version)
{
    const lu_env *env = &u->ctx->env;
    if (was_refused(u, version)) return;
    char *v = lu__strdup(env, version), *d = lu__strdup(env, u->doc_id);
    refusal *grown = lu__realloc(env, u->refused, (u->nrefused + 1) * sizeof *grown);
    if (grown) u->refused = grown;
    if (!v || !d || !grown) {
        lu__free(env, v);
        lu__free(env, d);
        return;
    }
    if (u->nrefused == REFUSED_MAX) {
        lu__free(env, u->refused[0].version);
        lu__free(env, u->refused[0].doc);
        memmove(u->refused, u->refused + 1, --u->nrefused * sizeof *u->refused);
    }
    u->refused[u->nrefused++] = (refusal){v, d};
}

/* A package without a SHA-256 from the document or the headers: every entry
 * is checked against its own /liveupdate.manifest.json (lu_manifest_verify_volume). */
static lu_status verify_package(lu_updater *u, const char *path, lu_error *err)
{
    return lu_manifest_verify_volume(u->ctx, path, err);
}

/* A staging that ran out of disk space: its partial downloads are deleted.
 * Kept for a resume, they would hold the disk full, and the next start
 * could write neither the update state nor the game's own files. */
static void discard_parts(lu_updater *u)
{
    for (size_t i = 0; i < u->staging.n; i++) {
        const char *file = u->staging.vols[i].file;
        char part[PATH_MAX], name[LU_FILE_NAME_MAX + 16];
        static const char *const suffix[] = {".part", ".part.json", ".part.sig"};
        for (size_t k = 0; file && k < sizeof suffix / sizeof *suffix; k++) {
            snprintf(name, sizeof name, "%s%s", file, suffix[k]);
            if (lu__save_path(u->ctx, LU_SAVE_DOWNLOADS, name, false, part, sizeof part, NULL) == LU_OK &&
                u->ctx->env.io.unlink(u->ctx->env.io.ud, part) == 0)
                lu__log(&u->ctx->env, LU_LOG_INFO, "update: out of disk space: deleted '%s'", part);
        }
    }
}

static void on_volume(void *ud, int id, const char *path, const lu_error *err)
{
    (void)id;
    lu_updater *u = ud;
    lu_error verr = {LU_OK, ""};
    if (err->status == LU_OK && path) {
        const char *base = strrchr(path, '/');
        base = base ? base + 1 : path;
        for (size_t i = 0; i < u->staging.n; i++)
            if (u->staging.vols[i].check_manifest && u->staging.vols[i].file && strcmp(u->staging.vols[i].file, base) == 0 &&
                verify_package(u, path, &verr) != LU_OK) {
                lu__error_prefix(&verr, "'%s'", base);
                u->ctx->env.io.unlink(u->ctx->env.io.ud, path);   /* never applied, never mistaken for a verified file */
                err = &verr;
            }
    }
    if (err->status != LU_OK && u->stage_status == LU_OK) {
        u->stage_status = err->status;
        snprintf(u->stage_msg, sizeof u->stage_msg, "release %s: %.3900s", u->staging.version, err->message);
    }
    if (--u->pending > 0) return;
    u->download_wanted = false;
    if (u->stage_status != LU_OK) {
        if (u->stage_status == LU_NO_SPACE) discard_parts(u);
        if (permanent(u->stage_status)) {
            refuse(u, u->staging.version);
            u->update_pending = false;   /* nothing to wait for at the next start */
            lu_error werr;
            if (state_write(u, &werr) != LU_OK) lu__log(&u->ctx->env, LU_LOG_WARN, "update: %s", werr.message);
        }
        release_clear(&u->ctx->env, &u->staging);
        fail_check(u, u->stage_status, u->stage_msg);
        return;
    }
    release_move(&u->ctx->env, &u->staged, &u->staging);
    u->update_pending = false;
    u->checking = false;
    u->offered = false;
    u->last_status = LU_OK;
    u->backoff = 0;
    lu_error werr;
    if (state_write(u, &werr) != LU_OK) {
        fail_check(u, werr.status, werr.message);
        return;
    }
    lu__log(&u->ctx->env, LU_LOG_INFO, "update: release %s is staged", u->staged.version);
    snprintf(u->ready_told, sizeof u->ready_told, "%s", u->staged.version);
    emit(u, LU_UPDATER_READY, 1, u->staged.version, LU_OK, NULL);
}

/* The document's folder URL + file, for volumes given by "file". */
static void volume_url(const lu_updater *u, const lu_release_volume *v, char *out, size_t cap)
{
    if (v->url) {
        snprintf(out, cap, "%s", v->url);
        return;
    }
    const char *slash = strrchr(u->url, '/');
    int keep = slash ? (int)(slash - u->url) : (int)strlen(u->url);
    snprintf(out, cap, "%.*s/%s", keep, u->url, v->file);
}

static void start_staging(lu_updater *u)
{
    const lu_env *env = &u->ctx->env;
    const lu_release *r = u->remote;
    release_clear(env, &u->staging);
    u->staging.vols = lu__calloc(env, r->nvolumes + 1, sizeof *u->staging.vols);
    u->staging.version = lu__strdup(env, r->version);
    /* made for the binaries the document names, else for this one */
    u->staging.bmin = lu__strdup(env, r->binary_min || r->binary_max ? (r->binary_min ? r->binary_min : "0") : u->binary);
    u->staging.bmax = r->binary_min || r->binary_max ? (r->binary_max ? lu__strdup(env, r->binary_max) : NULL)
                                                     : lu__strdup(env, u->binary);
    if (!u->staging.vols || !u->staging.version || !u->staging.bmin ||
        (!u->staging.bmax && (r->binary_max || !(r->binary_min || r->binary_max)))) {
        release_clear(env, &u->staging);
        fail_check(u, LU_MEM_ERROR, "update: out of memory");
        return;
    }
    u->checking = true;
    u->stage_status = LU_OK;
    u->pending = 1;            /* held until every download is queued */
    for (size_t i = 0; i < r->nvolumes; i++) {
        const lu_release_volume *v = &r->volumes[i];
        rel_vol *s = &u->staging.vols[u->staging.n++];
        char file[LU_FILE_NAME_MAX + 1], url[4096];
        lu_error nerr;
        if (lu__release_file_name(r->version, v->file, file, sizeof file, &nerr) != LU_OK) {
            on_volume(u, 0, NULL, &nerr);
            continue;
        }
        s->name = lu__strdup(env, v->name);
        s->file = lu__strdup(env, file);
        s->priority = v->priority;
        s->check_manifest = !v->sha256;
        if (!s->name || !s->file) {
            on_volume(u, 0, NULL, &(lu_error){LU_MEM_ERROR, "out of memory"});
            continue;
        }
        /* bytes already here (an interrupted staging, an earlier release,
         * download_volume) are found by the downloader when the download
         * would start: no request */
        lu_error e;
        volume_url(u, v, url, sizeof url);
        lu_download_request req;
        lu_download_request_init(&req);
        req.url = url;
        req.file = file;
        req.size = v->size;
        req.sha256 = v->sha256;
        req.verify_signature = u->verify_signature;
        req.timeout_ms = u->timeout_ms;
        req.retries = u->retries;
        req.done = on_volume;
        req.ud = u;
        char base[PATH_MAX];   /* the volume of that name mounted now: a delta from it */
        if (lu_download_base(u->ctx, v->name, base, sizeof base, NULL) == LU_OK) req.base = base;
        int id;
        u->pending++;
        if (lu_download_start(u->ctx, &req, &id, &e) != LU_OK) on_volume(u, 0, NULL, &e);
    }
    lu_error none = {LU_OK, ""};
    on_volume(u, 0, NULL, &none);   /* releases the hold */
}

static void release_checked(lu_updater *u, lu_release *r);

static void on_document(void *ud, int id, const char *path, const lu_error *err)
{
    (void)id;
    lu_updater *u = ud;
    if (err->status != LU_OK) {
        fail_check(u, err->status, err->message);
        return;
    }
    char *text = NULL;
    size_t len;
    lu_error e;
    lu_release *r = NULL;
    if (lu__fs_read_all(&u->ctx->env, path, &text, &len, &e) != LU_OK ||
        lu__release_parse(&u->ctx->env, text, len, &r, &e) != LU_OK) {
        lu__free(&u->ctx->env, text);
        char msg[LU_ERROR_MAX];
        snprintf(msg, sizeof msg, "'%.1000s': %.2900s", u->url, e.message);
        fail_check(u, e.status, msg);
        return;
    }
    lu_sha256_hex(text, len, u->doc_id);
    lu__free(&u->ctx->env, text);
    release_checked(u, r);
}

/* A release the server offers (from the document or a HEAD): compare,
 * report, stage when newer (with `ask`: when the script says so). Takes
 * `r`. */
static void release_checked(lu_updater *u, lu_release *r)
{
    lu__release_free(&u->ctx->env, u->remote);
    u->remote = r;
    u->last_check = (long long)time(NULL);
    u->offered = false;
    const char *cur = current_version(u);
    bool newer = cmp_versions(u, r->version, cur) > 0;
    bool failed = has_failed(u, r->version);
    bool refused = newer && !failed && was_refused(u, r->version);
    bool fits = binary_fits(u, r->binary_min, r->binary_max);
    char why[LU_ERROR_MAX] = "";
    if (newer && failed) snprintf(why, sizeof why, "release %s was rolled back before; not retried", r->version);
    else if (refused)
        snprintf(why, sizeof why, "release %s failed verification before; not fetched again until the document changes",
                 r->version);
    else if (newer && !fits)
        snprintf(why, sizeof why, "release %s targets store binaries %s..%s, this is %s", r->version,
                 r->binary_min ? r->binary_min : "*", r->binary_max ? r->binary_max : "*", u->binary);
    if (why[0]) lu__log(&u->ctx->env, LU_LOG_INFO, "update: %s", why);
    bool has_update = newer && !failed && !refused && fits;
    bool staged = u->staged.version && strcmp(u->staged.version, r->version) == 0;
    bool blocked = is_blocked(u);
    bool wait = has_update && !staged && u->ask && !blocked && !u->download_wanted;
    u->download_wanted = false;
    u->update_pending = has_update && !staged && !wait;
    u->offered = wait;
    lu_error werr;
    if (state_write(u, &werr) != LU_OK) {
        fail_check(u, werr.status, werr.message);
        return;
    }
    u->checking = false;
    u->last_status = LU_OK;
    if (!has_update && why[0]) {
        u->last_status = refused ? LU_HASH_MISMATCH : LU_VERSION_MISMATCH;
        snprintf(u->last_message, sizeof u->last_message, "%s", why);
    }
    /* a backoff retry re-tells nothing the script heard already */
    char told[LU_VERSION_MAX + 3];
    snprintf(told, sizeof told, "%d%s", has_update, r->version);
    bool retold = u->retrying && strcmp(told, u->check_told) == 0;
    u->retrying = false;
    snprintf(u->check_told, sizeof u->check_told, "%s", told);
    if (!retold) emit(u, LU_UPDATER_CHECKED, has_update, r->version, LU_OK, NULL);
    if (!has_update) {
        if (blocked) report_blocked(u, why[0] ? why : "is not newer than the content in use");
        return;
    }
    if (staged) {   /* told once per run, not at every check */
        if (strcmp(u->ready_told, r->version) != 0) {
            snprintf(u->ready_told, sizeof u->ready_told, "%s", r->version);
            emit(u, LU_UPDATER_READY, 1, r->version, LU_OK, NULL);
        }
        return;
    }
    if (!wait) start_staging(u);
}

/* ---- the HEAD-metadata variant ---------------------------------------- */

/* True when `name` (lower case) is one of the comma-separated `names`. */
static bool name_in(const char *name, const char *names)
{
    size_t nl = strlen(name);
    for (const char *n = names; *n;) {
        size_t k = strcspn(n, ",");
        while (k && n[k - 1] == ' ') k--;
        if (k == nl && strncasecmp(n, name, nl) == 0) return true;
        n += strcspn(n, ",");
        while (*n == ',' || *n == ' ') n++;
    }
    return false;
}

/* Copies a header value without surrounding quotes when it fits. */
static void copy_value(const char *v, char *out, size_t cap)
{
    const char *end = v + strlen(v);
    while (v < end && *v == '"') v++;
    while (end > v && end[-1] == '"') end--;
    if ((size_t)(end - v) < cap) snprintf(out, cap, "%.*s", (int)(end - v), v);
}

void lu__head_meta_read(const lu_http_header *headers, size_t n, const char *version_headers, lu__head_meta *out)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++) {
        if (name_in(headers[i].name, version_headers)) copy_value(headers[i].value, out->version, sizeof out->version);
        else if (name_in(headers[i].name, "x-oss-meta-sha256,x-amz-meta-sha256"))
            copy_value(headers[i].value, out->sha256, sizeof out->sha256);
        else if (name_in(headers[i].name, "etag")) copy_value(headers[i].value, out->etag, sizeof out->etag);
        else if (name_in(headers[i].name, "last-modified")) copy_value(headers[i].value, out->modified, sizeof out->modified);
    }
}

/* The HEAD answer: a one-volume release, then the usual path. */
static void on_head_done(void *ud, const lu_http_response *res)
{
    lu_updater *u = ud;
    u->head_id = 0;
    lu__head_meta meta;
    lu__head_meta_read(res->headers, res->nheaders, u->version_headers, &meta);
    const char *version = meta.version, *sha = meta.sha256;
    /* the answer's identity: a refused package is fetched again only when it changes */
    char id[1024];
    snprintf(id, sizeof id, "%s|%lld|%s|%s|%s", version, (long long)res->size, sha, meta.etag, meta.modified);
    lu_sha256_hex(id, strlen(id), u->doc_id);
    char msg[LU_ERROR_MAX];
    lu_status st = LU_OK;
    if (res->result != LU_OK) {
        snprintf(msg, sizeof msg, "HEAD '%.1000s': %s", u->head_url, res->error);
        st = res->result;
    } else if (res->status != 200) {
        snprintf(msg, sizeof msg, "HEAD '%.1000s': HTTP %ld", u->head_url, res->status);
        st = res->status == 404 ? LU_NOT_FOUND : LU_NETWORK_ERROR;
    } else if (!lu_version_valid(version)) {
        snprintf(msg, sizeof msg, "HEAD '%.1000s': no valid version in the headers %s", u->head_url, u->version_headers);
        st = LU_FORMAT_ERROR;
    }
    if (st != LU_OK) {
        fail_check(u, st, msg);
        return;
    }
    const lu_env *env = &u->ctx->env;
    lu_release *r = lu__calloc(env, 1, sizeof *r);
    if (r) r->volumes = lu__calloc(env, 1, sizeof *r->volumes);
    const char *slash = strrchr(u->head_url, '/');
    if (r && r->volumes) {
        lu_release_volume *v = &r->volumes[0];
        r->nvolumes = 1;
        r->version = lu__strdup(env, version);
        v->name = lu__strdup(env, u->head_volume);
        v->url = lu__strdup(env, u->head_url);
        v->file = lu__strndup(env, slash ? slash + 1 : u->head_url, strcspn(slash ? slash + 1 : u->head_url, "?#"));
        v->sha256 = strlen(sha) == 64 ? lu__strdup(env, sha) : NULL;
        v->size = res->size;
        v->priority = 10;
    }
    if (!r || !r->volumes || !r->version || !r->volumes[0].name || !r->volumes[0].url || !r->volumes[0].file) {
        lu__release_free(env, r);
        fail_check(u, LU_MEM_ERROR, "update: out of memory");
        return;
    }
    for (char *c = r->volumes[0].sha256; c && *c; c++) *c = (char)tolower((unsigned char)*c);
    release_checked(u, r);
}

static lu_status start_head(lu_updater *u, lu_error *err)
{
    lu_http_request req;
    lu_http_request_init(&req);
    req.url = u->head_url;
    req.method = "HEAD";
    req.timeout_ms = u->timeout_ms;
    req.stall_ms = u->timeout_ms;
    req.done = on_head_done;
    req.ud = u;
    return lu_http_start(u->ctx, &req, &u->head_id, err);
}

/* ---- the public calls ------------------------------------------------ */

/* Frees the update manager (its layer's close hook, and a failed open). */
static void updater_free(lu_context *ctx, void *state)
{
    lu_updater *u = state;
    if (!u) return;
    const lu_env *env = &ctx->env;
    state_clear(u);
    release_clear(env, &u->staging);
    if (u->head_id) lu_http_cancel(ctx, u->head_id, NULL);
    lu__free(env, u->url);
    lu__free(env, u->head_url);
    lu__free(env, u->version_headers);
    lu__free(env, u->head_volume);
    lu__free(env, u->local_version);
    lu__free(env, u->binary);
    lu__release_free(env, u->remote);
    lu__free(env, u);
}

lu_status lu_updater_open(lu_context *ctx, const lu_updater_config *cfg, lu_error *err)
{
    if (!lu__save_dir(ctx)) return lu__fail(err, LU_INVAL, "the update manager needs a save directory");
    if (updater(ctx)) return lu__fail(err, LU_INVAL, "the update manager is already open");
    if (cfg->local_version && !lu_version_valid(cfg->local_version))
        return lu__fail(err, LU_INVAL, "local version '%s' is not a version string", cfg->local_version);
    if (cfg->binary_version && !lu_version_valid(cfg->binary_version))
        return lu__fail(err, LU_INVAL, "binary version '%s' is not a version string", cfg->binary_version);
    const lu_env *env = &ctx->env;
    lu_updater *u = lu__calloc(env, 1, sizeof *u);
    if (!u) return lu__fail(err, LU_MEM_ERROR, "out of memory opening the update manager");
    if (lu__layer_attach(ctx, &update_layer, u, err) != LU_OK) {
        lu__free(env, u);
        return err ? err->status : LU_MEM_ERROR;
    }
    u->ctx = ctx;
    u->url = cfg->url ? lu__strdup(env, cfg->url) : NULL;
    u->head_url = cfg->head_url ? lu__strdup(env, cfg->head_url) : NULL;
    u->version_headers = lu__strdup(env, cfg->version_headers ? cfg->version_headers : "x-oss-meta-version-name,x-amz-meta-version");
    u->head_volume = lu__strdup(env, cfg->head_volume ? cfg->head_volume : "content");
    u->local_version = lu__strdup(env, cfg->local_version ? cfg->local_version : "0");
    u->binary = lu__strdup(env, cfg->binary_version ? cfg->binary_version : u->local_version ? u->local_version : "0");
    u->ask = cfg->ask != 0;
    u->verify_signature = cfg->verify_signature;
    u->timeout_ms = cfg->timeout_ms;
    u->retries = cfg->retries;
    u->on_event = cfg->on_event;
    u->ud = cfg->ud;
    u->compare = cfg->compare;
    u->compare_ud = cfg->compare_ud;
    u->last_status = LU_OK;
    lu_status st = lu__save_path(ctx, LU_SAVE_UPDATE, NULL, false, u->dir, sizeof u->dir, err);
    if (st != LU_OK) goto cleanup;
    lu_error nerr;
    if (lu_mount_name_check(u->head_volume ? u->head_volume : "x", &nerr) != LU_OK) {
        st = lu__fail(err, LU_INVAL, "update: head_volume: %s", nerr.message);
        goto cleanup;
    }
    if ((cfg->url && !u->url) || (cfg->head_url && !u->head_url) || !u->version_headers || !u->head_volume ||
        !u->local_version || !u->binary) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory opening the update manager");
        goto cleanup;
    }
    if ((st = lu__fs_mkdirs(&u->ctx->env, u->dir, err)) != LU_OK) goto cleanup;
    snprintf(u->crash_note, sizeof u->crash_note, "%s/crash-note.txt", u->dir);
    lu_error rerr;
    st = state_read(u, &rerr);
    if (st == LU_FORMAT_ERROR) {
        /* A corrupt state that cannot be moved aside is not overwritten:
         * the updater does not open (the mount table is as before). */
        char *moved = NULL;
        if ((st = lu__fs_move_aside(env, u->dir, "state.json", &moved, err)) != LU_OK) {
            lu__free(env, moved);
            lu__error_prefix(err, "update: the corrupt state");
            goto cleanup;
        }
        lu__error_prefix(&rerr, "moved aside to '%s'", moved ? moved : "state.json.corrupt-*");
        lu__free(env, moved);
        lu__report_add(ctx, "update/state.json", NULL, "moved_aside", &rerr);
        state_clear(u);
    } else if (st == LU_NOT_FOUND) {
        st = LU_OK;   /* the first start: no state yet */
    } else if (st != LU_OK) {
        *err = rerr;
        goto cleanup;
    }
    /* the last document fetched: its min_version and prefer_local_from
     * steer the next start-up before a new check answers */
    char doc[PATH_MAX + 16], *text = NULL;
    size_t len;
    snprintf(doc, sizeof doc, "%s/remote.json", u->dir);
    if (lu__fs_read_all(&ctx->env, doc, &text, &len, &rerr) == LU_OK) {
        lu__release_parse(env, text, len, &u->remote, &rerr);
        lu__free(env, text);
    }
    u->prev_run = u->last_run;
    u->last_run = (long long)time(NULL);
    /* a trial whose last run failed, or neither confirmed nor ended
     * cleanly, is rolled back; one that ended cleanly goes on */
    bool trial = u->trial && u->current.version;
    if (trial && (u->trial_failure || u->trial_running)) st = roll_back(u, err);
    else if (trial) u->trial_running = true;
    else set_str(env, &u->trial, NULL);
    if (st == LU_OK) st = drop_unfit(u, err);
    /* a staged release is applied, over a trial that goes on too (the
     * previous, confirmed release stays what a rollback returns to) */
    if (st == LU_OK && u->staged.version && !has_failed(u, u->staged.version)) st = apply_staged(u, err);
    else if (st == LU_OK) st = state_write(u, err);
    if (st != LU_OK) goto cleanup;
    if (!u->trial) u->ctx->env.io.unlink(u->ctx->env.io.ud, u->crash_note);
    collect_garbage(u);
    return LU_OK;
cleanup:
    updater_free(ctx, lu__layer_detach(ctx, &update_layer));
    return st;
}

lu_status lu_updater_check(lu_context *ctx, lu_error *err)
{
    lu_updater *u = updater(ctx);
    if (!u || (!u->url && !u->head_url)) return lu__fail(err, LU_INVAL, "the update manager has no [update] url");
    if (u->checking) return LU_OK;
    if (!u->url) {
        LU_TRY(start_head(u, err));
        u->checking = true;
        return LU_OK;
    }
    char dest[PATH_MAX + 16];
    snprintf(dest, sizeof dest, "%s/remote.json", u->dir);
    lu_download_request req;
    lu_download_request_init(&req);
    req.url = u->url;
    req.file = "update-document.json";
    req.dest = dest;
    req.max_size = 1 << 20;
    req.verify_signature = u->verify_signature;
    req.timeout_ms = u->timeout_ms;
    req.retries = u->retries;
    req.done = on_document;
    req.ud = u;
    int id;
    LU_TRY(lu_download_start(ctx, &req, &id, err));
    u->checking = true;
    return LU_OK;
}

lu_status lu_updater_download(lu_context *ctx, lu_error *err)
{
    lu_updater *u = updater(ctx);
    if (!u) return lu__fail(err, LU_INVAL, "the update manager is not open");
    if (u->checking) {   /* the running check (or staging) downloads what it finds */
        u->download_wanted = true;
        return LU_OK;
    }
    if (u->remote && u->staged.version && strcmp(u->staged.version, u->remote->version) == 0) return LU_OK;
    if (!u->offered || !u->remote)
        return lu__fail(err, LU_NOT_FOUND, "no newer release is offered (call check() and wait for on_check_for_update)");
    u->offered = false;
    start_staging(u);
    return LU_OK;
}

/* The poll hook: while blocked, the next retry of a failed check. */
static int updater_poll(lu_context *ctx, void *state)
{
    lu_updater *u = state;
    if (!u->retry_at || u->checking || mono_now() < u->retry_at) return 0;
    u->retry_at = 0;
    if (!is_blocked(u)) return 0;
    lu_error err;
    if (lu_updater_check(ctx, &err) != LU_OK) fail_check(u, err.status, err.message);
    else u->retrying = true;
    return 1;
}

lu_status lu_updater_run_ended(lu_context *ctx, const char *failure, lu_error *err)
{
    lu_updater *u = updater(ctx);
    if (!u) return lu__fail(err, LU_INVAL, "the update manager is not open");
    if (!u->trial) return LU_OK;
    const lu_env *env = &ctx->env;
    if (u->trial_failure) return LU_OK;   /* the first failure is the cause */
    char *why = failure ? lu__strdup(env, failure) : NULL;
    if (failure && !why) return lu__fail(err, LU_MEM_ERROR, "update: out of memory recording the trial's failure");
    bool running = u->trial_running;
    u->trial_failure = why;
    u->trial_running = failure != NULL;
    lu_status st = state_write(u, err);
    if (st != LU_OK) {
        u->trial_failure = NULL;
        u->trial_running = running;
        lu__free(env, why);
    }
    return st;
}

lu_status lu_updater_report_blocked(lu_context *ctx, const char *detail, lu_error *err)
{
    lu_updater *u = updater(ctx);
    if (!u) return lu__fail(err, LU_INVAL, "the update manager is not open");
    report_blocked(u, detail ? detail : "could not be fetched");
    return LU_OK;
}

const char *lu_updater_crash_note_path(lu_context *ctx)
{
    lu_updater *u = updater(ctx);
    return u ? u->crash_note : NULL;
}

int lu_updater_compare(lu_context *ctx, const char *a, const char *b)
{
    lu_updater *u = updater(ctx);
    return u ? cmp_versions(u, a, b) : lu_version_compare(a, b);
}

lu_status lu_updater_apply(lu_context *ctx, lu_error *err)
{
    lu_updater *u = updater(ctx);
    if (!u) return lu__fail(err, LU_INVAL, "the update manager is not open");
    if (!u->staged.version) return lu__fail(err, LU_NOT_FOUND, "no release is staged");
    return apply_staged(u, err);
}

lu_status lu_updater_confirm(lu_context *ctx, lu_error *err)
{
    lu_updater *u = updater(ctx);
    if (!u) return lu__fail(err, LU_INVAL, "the update manager is not open");
    if (!u->trial) return LU_OK;
    char *trial = u->trial;   /* back on failure: state.json still says "trial" */
    bool running = u->trial_running;
    u->trial = NULL;
    u->trial_running = false;
    lu_status st = state_write(u, err);
    if (st != LU_OK) {
        u->trial = trial;
        u->trial_running = running;
        return st;
    }
    lu__free(&ctx->env, trial);
    set_str(&ctx->env, &u->trial_failure, NULL);
    u->ctx->env.io.unlink(u->ctx->env.io.ud, u->crash_note);
    lu__log(&ctx->env, LU_LOG_INFO, "update: release %s confirmed", current_version(u));
    collect_garbage(u);
    return LU_OK;
}

lu_status lu_updater_get_info(lu_context *ctx, lu_updater_info *out, lu_error *err)
{
    lu_updater *u = updater(ctx);
    if (!u) return lu__fail(err, LU_INVAL, "the update manager is not open");
    memset(out, 0, sizeof *out);
    out->current = current_version(u);
    out->previous = u->previous.version;
    out->staged = u->staged.version;
    out->remote = u->remote ? u->remote->version : NULL;
    out->min_version = u->remote ? u->remote->min_version : NULL;
    out->prefer_local_from = u->remote ? u->remote->prefer_local_from : NULL;
    out->on_trial = u->trial != NULL;
    out->checking = u->checking;
    out->update_pending = u->update_pending;
    out->offered = u->offered;
    out->mandatory = u->remote && u->remote->mandatory;
    out->blocked = is_blocked(u);
    out->local_preferred = u->remote && u->remote->prefer_local_from &&
                           cmp_versions(u, current_version(u), u->remote->prefer_local_from) >= 0;
    out->binary = u->binary;
    out->last_run = u->prev_run;
    out->last_check = u->last_check;
    out->rollback_version = u->rollback_version;
    out->rollback_reason = u->rollback_reason;
    out->last_status = u->last_status;
    out->last_message = u->last_message;
    return LU_OK;
}
