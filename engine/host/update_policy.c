/* update_policy.c -- how lurun starts with the update manager (SPEC §9).
 *
 * [update] url (or head_url with version_header and head_volume: the
 * version from a HEAD request's metadata header), mode (async|sync),
 * sync_timeout_ms (3000), check_interval_s
 * (3600), stale_after_days (7), trial_frames (600), local_version (the base
 * content's version; default [project] version, else "0").
 *
 * Before the main script loads: the manager opens (rolling back a release
 * that never confirmed, applying one staged by an earlier run). Then, with a
 * URL, a check starts. In async mode the game starts at once and a new
 * release is used at the next start (or at once after apply_update()). Start-
 * up waits, pumping lu_update(), when mode = sync, when the last check found
 * an update it had not staged yet, or when the game has not run for
 * stale_after_days: until the release is staged (then applied before the
 * first script runs), the check finds nothing, it fails, or sync_timeout_ms
 * pass. A current version at or above the document's prefer_local_from ends
 * the wait at once (the download goes on). A current version below its
 * min_version keeps the wait going (three times the timeout, checking again
 * after failures) and, if that still fails, the script gets
 * on_update_failed with LIVEUPDATE_VERSION_MISMATCH. Never a blocked game.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

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

static bool below(const char *current, const char *bound)
{
    return bound && lu_version_compare(current, bound) < 0;
}

/* Pumps lu_update() until the start-up check settles or the deadline. */
static void wait_for_release(lu_host *h, long long timeout_ms, bool min_unmet)
{
    double start = now_s(), deadline = start + (double)timeout_ms / 1000.0 * (min_unmet ? 3 : 1);
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
        min_unmet = below(in.current, in.min_version);
        if (in.remote && !in.checking && !min_unmet) return;          /* nothing newer, or failed */
        if (in.remote && !min_unmet && in.prefer_local_from &&
            lu_version_compare(in.current, in.prefer_local_from) >= 0) {
            fprintf(stderr, "lurun: update: %s >= prefer_local_from %s: starting with it\n", in.current,
                    in.prefer_local_from);
            return;
        }
        if (!in.checking && in.last_status != LU_OK) {
            if (!min_unmet) return;
            lu_updater_check(h->ctx, &err);                            /* min_version: keep trying */
        }
        struct timespec ts = {0, 5 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "lurun: update: start-up wait ended after %lld ms; starting with the local content\n",
            timeout_ms * (min_unmet ? 3 : 1));
}

bool lu_host_update_start(lu_host *h)
{
    const char *url = lu_project_get(h->project, "update.url");
    const char *mode = lu_project_get(h->project, "update.mode");
    const char *local = lu_project_get(h->project, "update.local_version");
    if (!local || !*local) local = lu_project_get(h->project, "project.version");
    long long timeout_ms, stale_days;
    if (!get_int(h, "update.sync_timeout_ms", 3000, &timeout_ms) || !get_int(h, "update.stale_after_days", 7, &stale_days) ||
        !get_int(h, "update.check_interval_s", 3600, &h->check_interval_s) ||
        !get_int(h, "update.trial_frames", 600, &h->trial_frames))
        return false;
    if (mode && *mode && strcmp(mode, "async") != 0 && strcmp(mode, "sync") != 0) {
        fprintf(stderr, "lurun: game.project: [update] mode must be async or sync, not '%s'\n", mode);
        return false;
    }
    const char *head = lu_project_get(h->project, "update.head_url");
    if ((!url || !*url) && (!head || !*head)) return true;   /* no [update] url: no update manager */
    lu_updater_config cfg;
    lu_updater_config_init(&cfg);
    cfg.url = url && *url ? url : NULL;
    cfg.head_url = head && *head ? head : NULL;
    cfg.version_headers = lu_project_get(h->project, "update.version_header");
    cfg.head_volume = lu_project_get(h->project, "update.head_volume");
    if (cfg.version_headers && !*cfg.version_headers) cfg.version_headers = NULL;
    if (cfg.head_volume && !*cfg.head_volume) cfg.head_volume = NULL;
    if (local && *local) cfg.local_version = local;
    lu_lua_updater_config(h->L, &cfg);
    lu_error err;
    size_t reported = lu_startup_report_count(h->ctx);
    if (lu_updater_open(h->ctx, &cfg, &err) != LU_OK) {
        fprintf(stderr, "lurun: update manager: %s\n", err.message);
        return false;
    }
    for (size_t i = reported; i < lu_startup_report_count(h->ctx); i++) {   /* a rollback, a corrupt state */
        lu_report_item it;
        lu_startup_report_get(h->ctx, i, &it);
        fprintf(stderr, "lurun: start-up: %s '%s': %s\n", it.action, it.name, it.message);
    }
    h->update_on = true;
    h->next_check = now_s() + (double)h->check_interval_s;
    lu_updater_info in;
    lu_updater_get_info(h->ctx, &in, &err);
    bool stale = stale_days > 0 && in.last_run > 0 && (long long)time(NULL) - in.last_run > stale_days * 86400;
    bool min_unmet = below(in.current, in.min_version);   /* from the last document fetched */
    bool sync = (mode && strcmp(mode, "sync") == 0) || in.update_pending || stale || min_unmet;
    if (sync && !min_unmet && in.prefer_local_from && lu_version_compare(in.current, in.prefer_local_from) >= 0)
        sync = false;
    if (lu_updater_check(h->ctx, &err) != LU_OK) {
        fprintf(stderr, "lurun: update: %s\n", err.message);
        return true;
    }
    if (!sync) return true;
    fprintf(stderr, "lurun: update: checking before start-up (%s)\n",
            min_unmet ? "below min_version" : in.update_pending ? "an update is pending" : stale ? "stale" : "sync mode");
    wait_for_release(h, timeout_ms, min_unmet);
    lu_updater_get_info(h->ctx, &in, &err);
    if (below(in.current, in.min_version)) {
        char msg[300];
        snprintf(msg, sizeof msg, "content %s is below the required min_version %s and the new release could not be fetched",
                 in.current, in.min_version);
        fprintf(stderr, "lurun: update: %s\n", msg);
        lu_lua_update_failed(h->L, LU_VERSION_MISMATCH, msg);
    }
    return true;
}

void lu_host_update_frame(lu_host *h)
{
    if (!h->update_on) return;
    lu_updater_info in;
    lu_error err;
    if (lu_updater_get_info(h->ctx, &in, &err) != LU_OK) return;
    if (in.on_trial && h->trial_frames > 0 && h->frame >= h->trial_frames) {
        if (lu_updater_confirm(h->ctx, &err) == LU_OK)
            fprintf(stderr, "lurun: update: release %s confirmed after %lld frames\n", in.current, h->trial_frames);
    }
    if (h->check_interval_s > 0 && now_s() >= h->next_check) {
        h->next_check = now_s() + (double)h->check_interval_s;
        if (!in.checking) lu_updater_check(h->ctx, &err);
    }
}
