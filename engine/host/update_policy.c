/* update_policy.c -- how lurun starts with the update manager (docs/UPDATES.md).
 *
 * [update] url (or head_url with version_header and head_volume: the
 * version from a HEAD request's metadata header), mode (async|sync),
 * download (auto|ask), sync_timeout_ms (3000), check_interval_s (3600),
 * stale_after_days (7), trial_frames (600), version_compare (a Lua file of
 * the game returning the compare hook), local_version (the base content's
 * version; default [project] version, else "0"). [project] version is the
 * binary's version.
 *
 * Before the main script loads: the manager opens (rolling back a release
 * whose trial failed, dropping releases made for another store build,
 * applying one staged by an earlier run). Then, with a URL, a check starts.
 * In async mode the game starts at once and a new release is used at the
 * next start (or at once after apply_update()). Start-up waits, pumping
 * lu_update(), for at most sync_timeout_ms when mode = sync, when the last
 * check found an update it had not staged yet, when the game has not run
 * for stale_after_days, or when the content is below the document's
 * min_version: until the release is staged (then applied before the first
 * script runs), the check finds nothing to download, it fails, or the
 * content is at or above prefer_local_from. Content still below
 * min_version after the wait runs the base bundle's main script with
 * get_info().blocked; the script hears of it once; the updater retries
 * with backoff and the release is applied, and the scripts restarted, when
 * it arrives. Every frame whose scripts ran without an error counts for
 * the trial of a release; how the run ends (error, exit code, clean) is
 * told to the manager. Never a blocked game.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <lauxlib.h>

#include "host.h"
#include "liveupdate/release.h"
#include "liveupdate/updater.h"
#include "liveupdate_lua.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static bool get_int(lu_host *h, const char *key, long long def, long long *out)
{
    lu_error err;
    if (lu_project_get_int(h->project, key, def, out, &err) == LU_OK) return true;
    fprintf(stderr, "lurun: %s\n", err.message);
    return false;
}

/* [update] version_compare: a Lua file in the game's content returning
 * function(a, b) -> <0, 0, >0. It decides every comparison from the
 * manager's opening on (rollback, store-update drops, sync start-up,
 * min_version), as um.set_version_compare does later. A file that cannot
 * be loaded is reported and the dotted comparison stays: a broken hook
 * must not stop the game from starting (or from being fixed by an update). */
static void load_compare(lu_host *h, const char *path)
{
    void *data;
    size_t size;
    lu_error err;
    if (lu_read(h->ctx, path, &data, &size, &err) != LU_OK) {
        fprintf(stderr, "lurun: [update] version_compare: %s; comparing versions as dotted numbers\n", err.message);
        return;
    }
    char chunk[1100];
    snprintf(chunk, sizeof chunk, "@%s", path);
    int rc = luaL_loadbufferx(h->L, data, size, chunk, "t");
    lu_free(h->ctx, data);
    if (rc == LUA_OK) rc = lua_pcall(h->L, 0, 1, 0);
    if (rc != LUA_OK || !lua_isfunction(h->L, -1)) {
        fprintf(stderr, "lurun: [update] version_compare: %s %s; comparing versions as dotted numbers\n", path,
                rc != LUA_OK ? lua_tostring(h->L, -1) : "does not return a function");
        lua_pop(h->L, 1);
        return;
    }
    lu_lua_set_version_compare(h->L);
}

/* Pumps lu_update() until the start-up check settles or the deadline: the
 * release is staged (then applied before the first script runs), the check
 * finds nothing to download (or only offers it: download = ask), it fails,
 * or the content in use is at or above prefer_local_from. Below min_version
 * it waits for the release the whole time (the updater retries failed
 * checks with backoff). */
static void wait_for_release(lu_host *h, long long timeout_ms)
{
    double deadline = now_s() + (double)timeout_ms / 1000.0;
    lu_updater_info in;
    lu_error err;
    while (now_s() < deadline) {
        lu_update(h->ctx);
        if (lu_updater_get_info(h->ctx, &in, &err) != LU_OK) return;
        if (in.staged && in.remote && strcmp(in.staged, in.remote) == 0) {
            if (lu_updater_apply(h->ctx, &err) == LU_OK)
                fprintf(stderr, "lurun: update: release %s applied at start-up\n", in.staged);
            else
                fprintf(stderr, "lurun: update: %s\n", err.message);
            return;
        }
        if (!in.blocked && !in.checking && (in.remote || in.last_status != LU_OK)) return;
        if (!in.blocked && in.local_preferred) {
            fprintf(stderr, "lurun: update: %s >= prefer_local_from %s: starting with it\n", in.current,
                    in.prefer_local_from);
            return;
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "lurun: update: start-up wait ended after %lld ms; starting with the local content\n", timeout_ms);
}

bool lu_host_update_start(lu_host *h)
{
    const char *url = lu_project_get(h->project, "update.url");
    const char *mode = lu_project_get(h->project, "update.mode");
    const char *download = lu_project_get(h->project, "update.download");
    const char *compare = lu_project_get(h->project, "update.version_compare");
    const char *local = lu_project_get(h->project, "update.local_version");
    const char *binary = lu_project_get(h->project, "project.version");
    if (!local || !*local) local = binary;
    long long timeout_ms, stale_days;
    if (!get_int(h, "update.sync_timeout_ms", 3000, &timeout_ms) || !get_int(h, "update.stale_after_days", 7, &stale_days) ||
        !get_int(h, "update.check_interval_s", 3600, &h->check_interval_s) ||
        !get_int(h, "update.trial_frames", 600, &h->trial_frames))
        return false;
    if (mode && *mode && strcmp(mode, "async") != 0 && strcmp(mode, "sync") != 0) {
        fprintf(stderr, "lurun: game.project: [update] mode must be async or sync, not '%s'\n", mode);
        return false;
    }
    if (download && *download && strcmp(download, "auto") != 0 && strcmp(download, "ask") != 0) {
        fprintf(stderr, "lurun: game.project: [update] download must be auto or ask, not '%s'\n", download);
        return false;
    }
    const char *head = lu_project_get(h->project, "update.head_url");
    if ((!url || !*url) && (!head || !*head)) return true;   /* no [update] url: no update manager */
    if (h->live_update_off) return true;                     /* [liveupdate] enabled = 0: none either */
    lu_updater_config cfg;
    lu_updater_config_init(&cfg);
    cfg.url = url && *url ? url : NULL;
    cfg.head_url = head && *head ? head : NULL;
    cfg.version_headers = lu_project_get(h->project, "update.version_header");
    cfg.head_volume = lu_project_get(h->project, "update.head_volume");
    if (cfg.version_headers && !*cfg.version_headers) cfg.version_headers = NULL;
    if (cfg.head_volume && !*cfg.head_volume) cfg.head_volume = NULL;
    if (local && *local) cfg.local_version = local;
    if (binary && lu_version_valid(binary)) cfg.binary_version = binary;
    cfg.ask = download && strcmp(download, "ask") == 0;
    lu_lua_updater_config(&h->L, &cfg);   /* follows h->L across script-world restarts */
    if (compare && *compare) load_compare(h, compare);
    lu_error err;
    size_t reported = lu_startup_report_count(h->ctx);
    if (lu_updater_open(h->ctx, &cfg, &err) != LU_OK) {
        fprintf(stderr, "lurun: update manager: %s\n", err.message);
        return false;
    }
    for (size_t i = reported; i < lu_startup_report_count(h->ctx); i++) {   /* a rollback, a drop, a corrupt state */
        lu_report_item it;
        lu_startup_report_get(h->ctx, i, &it);
        fprintf(stderr, "lurun: start-up: %s '%s': %s\n", it.action, it.name, it.message);
    }
    h->update_on = true;
    h->trial_seen = 0;
    h->next_check = now_s() + (double)h->check_interval_s;
    lu_updater_info in;
    lu_updater_get_info(h->ctx, &in, &err);
    bool stale = stale_days > 0 && stale_days <= LLONG_MAX / 86400 && in.last_run > 0 &&
                 (long long)time(NULL) - in.last_run > stale_days * 86400;   /* more days than that: never stale */
    bool sync = (mode && strcmp(mode, "sync") == 0) || in.update_pending || stale || in.blocked;
    if (sync && !in.blocked && in.local_preferred) sync = false;
    if (lu_updater_check(h->ctx, &err) != LU_OK) {
        fprintf(stderr, "lurun: update: %s\n", err.message);
        return true;
    }
    if (!sync) return true;
    fprintf(stderr, "lurun: update: checking before start-up (%s)\n",
            in.blocked ? "below min_version" : in.update_pending ? "an update is pending" : stale ? "stale" : "sync mode");
    wait_for_release(h, timeout_ms);
    lu_updater_get_info(h->ctx, &in, &err);
    if (in.blocked) {
        char msg[200];
        snprintf(msg, sizeof msg, "did not arrive within the start-up wait of %lld ms; retrying in the background", timeout_ms);
        fprintf(stderr, "lurun: update: content %s is below min_version %s: the base bundle's main script runs\n",
                in.current, in.min_version);
        lu_updater_report_blocked(h->ctx, msg, &err);
        h->blocked = true;
    }
    return true;
}

void lu_host_update_lua(lu_host *h)
{
    const char *compare = lu_project_get(h->project, "update.version_compare");
    if (h->update_on && compare && *compare) load_compare(h, compare);
}

void lu_host_update_frame(lu_host *h)
{
    if (!h->update_on) return;
    lu_updater_info in;
    lu_error err;
    if (lu_updater_get_info(h->ctx, &in, &err) != LU_OK) return;
    /* blocked: the release is applied as soon as it arrives */
    if (h->blocked && in.staged && in.remote && strcmp(in.staged, in.remote) == 0) {
        if (lu_updater_apply(h->ctx, &err) == LU_OK) {
            fprintf(stderr, "lurun: update: release %s arrived: applied\n", in.staged);
            h->blocked = false;
            h->restart_pending = true;
        } else {
            fprintf(stderr, "lurun: update: %s\n", err.message);
        }
    }
    if (h->check_interval_s > 0 && now_s() >= h->next_check) {
        h->next_check = now_s() + (double)h->check_interval_s;
        if (!in.checking) lu_updater_check(h->ctx, &err);
    }
}

/* After a frame whose scripts all ran without an error: the trial counts
 * such frames of the release since it was applied (not while the base
 * bundle's script stands in for it below min_version). */
void lu_host_update_frame_done(lu_host *h)
{
    lu_updater_info in;
    lu_error err;
    if (!h->update_on || h->blocked || h->script_errors || h->trial_frames <= 0) return;
    if (lu_updater_get_info(h->ctx, &in, &err) != LU_OK || !in.on_trial) return;
    if (++h->trial_seen < h->trial_frames) return;
    if (lu_updater_confirm(h->ctx, &err) == LU_OK)
        fprintf(stderr, "lurun: update: release %s confirmed after %lld frames\n", in.current, h->trial_seen);
    else
        fprintf(stderr, "lurun: update: %s\n", err.message);
}

/* How the run ended, for a release on trial (see lu_updater_run_ended). */
void lu_host_update_end(lu_host *h, int code)
{
    if (!h->update_on) return;
    char why[700];
    const char *failure = NULL;
    if (h->script_errors) failure = h->first_error[0] ? h->first_error : "a Lua error";
    else if (code != 0) {
        snprintf(why, sizeof why, "the game exited with code %d at frame %ld", code, h->frame);
        failure = why;
    }
    lu_error err;
    if (lu_updater_run_ended(h->ctx, failure, &err) != LU_OK) fprintf(stderr, "lurun: update: %s\n", err.message);
}
