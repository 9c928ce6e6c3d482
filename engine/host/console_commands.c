/* console_commands.c -- the debug-console commands lurun adds to the library's
 * (liveupdate/console.h): missing [proxy], downloads, update (the update
 * manager's settings and state), status.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "host.h"
#include "liveupdate/console.h"
#include "liveupdate/download.h"
#include "liveupdate/updater.h"
#include "../console/console_json.h"

/* `missing` alone: every proxy with how many of its resources (nested
 * proxies included) no mount serves. */
static lu_status missing_all(lu_host *h, int json, lu_console_out *out, lu_error *err)
{
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    bool whole = arr != NULL;
    size_t np = h->manifest ? h->manifest->nproxies : 0;
    for (size_t i = 0; i < np; i++) {
        const lu_manifest_proxy *p = &h->manifest->proxies[i];
        char **missing;
        size_t n;
        lu_status st = lu_manifest_missing(h->ctx, h->manifest, p->id, 1, &missing, &n, err);
        if (st != LU_OK) {
            cJSON_Delete(arr);
            return st;
        }
        lu_free(h->ctx, missing);
        if (json) {
            cJSON *o = cJSON_CreateObject();
            whole = lu__console_append_item(arr, o,
                                o && cJSON_AddStringToObject(o, "proxy", p->id) &&
                                    cJSON_AddNumberToObject(o, "missing", (double)n) &&
                                    (!p->volume || cJSON_AddStringToObject(o, "volume", p->volume))) &&
                    whole;
        } else {
            lu_console_printf(out, "  %-20s %zu missing%s%s%s\n", p->id, n, n && p->volume ? "; they ship in volume '" : "",
                              n && p->volume ? p->volume : "", n && p->volume ? "'" : "");
        }
    }
    if (json) lu__console_put_json_whole(out, arr, whole);
    else lu_console_printf(out, "%zu proxy(ies); missing <proxy> lists the paths\n", np);
    return LU_OK;
}

/* The commands that take no argument: one more is a usage error, as the
 * library's commands answer it. */
static lu_status no_args(int argc, const char *name, lu_error *err)
{
    if (argc == 1) return LU_OK;
    err->status = LU_INVAL;
    snprintf(err->message, sizeof err->message, "usage: %s (it takes no argument)", name);
    return LU_INVAL;
}

static lu_status cmd_missing(void *ud, int argc, char **argv, int json, lu_console_out *out, lu_error *err)
{
    lu_host *h = ud;
    if (argc == 1) return missing_all(h, json, out, err);
    if (argc != 2) {
        err->status = LU_INVAL;
        snprintf(err->message, sizeof err->message, "usage: missing [proxy]");
        return LU_INVAL;
    }
    char **missing;
    size_t n;
    lu_status st = lu_manifest_missing(h->ctx, h->manifest, argv[1], 1, &missing, &n, err);
    if (st != LU_OK) return st;
    const lu_manifest_proxy *p = lu_manifest_find_proxy(h->manifest, argv[1]);
    if (json) {
        cJSON *o = cJSON_CreateObject(), *arr = cJSON_AddArrayToObject(o, "missing");
        bool whole = arr && cJSON_AddStringToObject(o, "proxy", p->id);
        for (size_t i = 0; i < n; i++) whole = lu__console_append_item(arr, cJSON_CreateString(missing[i]), true) && whole;
        if (p->volume) whole = whole && cJSON_AddStringToObject(o, "volume", p->volume);
        lu__console_put_json_whole(out, o, whole);
    } else if (n == 0) {
        lu_console_printf(out, "proxy '%s': nothing is missing (%zu resources, nested proxies included)\n", p->id,
                          p->nresources);
    } else {
        for (size_t i = 0; i < n; i++) lu_console_printf(out, "  %s\n", missing[i]);
        lu_console_printf(out, "proxy '%s': %zu resource(s) missing%s%s%s\n", p->id, n,
                          p->volume ? "; they ship in volume '" : "", p->volume ? p->volume : "", p->volume ? "'" : "");
    }
    lu_free(h->ctx, missing);
    return LU_OK;
}

static lu_status cmd_downloads(void *ud, int argc, char **argv, int json, lu_console_out *out, lu_error *err)
{
    lu_host *h = ud;
    (void)argv;
    if (no_args(argc, "downloads", err) != LU_OK) return err->status;
    lu_http_transfer t[64];
    size_t n = lu_host_http_list(h, t, 64);
    cJSON *arr = json ? cJSON_CreateArray() : NULL;
    bool whole = arr != NULL;
    for (size_t i = 0; i < n; i++) {
        char d[32], tot[32];
        if (json) {
            cJSON *o = cJSON_CreateObject();
            whole = lu__console_append_item(arr, o,
                                o && cJSON_AddStringToObject(o, "kind", "http") &&
                                    cJSON_AddNumberToObject(o, "id", t[i].id) &&
                                    cJSON_AddStringToObject(o, "url", t[i].url) &&
                                    (!t[i].path || cJSON_AddStringToObject(o, "path", t[i].path)) &&
                                    cJSON_AddNumberToObject(o, "done", (double)t[i].done) &&
                                    cJSON_AddNumberToObject(o, "total", (double)t[i].total)) &&
                    whole;
        } else {
            lu_console_printf(out, "#%-4d %10s of %-10s %s\n", t[i].id, lu_console_size((uint64_t)t[i].done, d, sizeof d),
                              t[i].total < 0 ? "?" : lu_console_size((uint64_t)t[i].total, tot, sizeof tot), t[i].url);
        }
    }
    lu_download_info *v = NULL;
    size_t nv = 0;
    lu_status st = lu_downloads_get(h->ctx, &v, &nv, err);
    if (st != LU_OK) {
        cJSON_Delete(arr);
        return st;
    }
    for (size_t i = 0; i < nv; i++) {
        char d[32], tot[32];
        if (json) {
            cJSON *o = cJSON_CreateObject();
            whole = lu__console_append_item(arr, o,
                                o && cJSON_AddStringToObject(o, "kind", "volume") &&
                                    cJSON_AddNumberToObject(o, "id", v[i].id) &&
                                    cJSON_AddStringToObject(o, "url", v[i].url) &&
                                    cJSON_AddStringToObject(o, "file", v[i].file) &&
                                    cJSON_AddNumberToObject(o, "done", (double)v[i].done) &&
                                    cJSON_AddNumberToObject(o, "total", (double)v[i].total) &&
                                    cJSON_AddNumberToObject(o, "attempt", v[i].attempt) &&
                                    cJSON_AddStringToObject(o, "state", v[i].state) &&
                                    cJSON_AddNumberToObject(o, "received", (double)v[i].received) &&
                                    cJSON_AddNumberToObject(o, "saved", (double)v[i].saved)) &&
                    whole;
        } else {
            char sv[32], delta[64] = "";
            if (v[i].saved)
                snprintf(delta, sizeof delta, "  (delta: %s saved)", lu_console_size(v[i].saved, sv, sizeof sv));
            lu_console_printf(out, "vol%-3d %10s of %-10s %-9s try %d  %s  %s%s\n", v[i].id,
                              lu_console_size(v[i].done, d, sizeof d),
                              v[i].total ? lu_console_size(v[i].total, tot, sizeof tot) : "?", v[i].state,
                              v[i].attempt, v[i].file, v[i].url, delta);
        }
    }
    lu_free(h->ctx, v);
    if (json) lu__console_put_json_whole(out, arr, whole);
    else lu_console_printf(out, "%zu transfer(s) in flight (%zu http.request, %zu volume download(s))\n", n + nv, n, nv);
    return LU_OK;
}

/* The update manager: its settings and, when it runs, its state. */
static lu_status cmd_update(void *ud, int argc, char **argv, int json, lu_console_out *out, lu_error *err)
{
    lu_host *h = ud;
    (void)argv;
    if (no_args(argc, "update", err) != LU_OK) return err->status;
    const char *url = lu_project_get(h->project, "update.url");
    const char *mode = lu_project_get(h->project, "update.mode");
    lu_updater_info in;
    lu_error ierr;
    bool on = h->update_on && lu_updater_get_info(h->ctx, &in, &ierr) == LU_OK;
    if (json) {
        cJSON *o = cJSON_CreateObject();
        bool whole = o && cJSON_AddBoolToObject(o, "configured", url && *url) &&
                     (!url || cJSON_AddStringToObject(o, "url", url)) &&
                     cJSON_AddStringToObject(o, "mode", mode ? mode : "async");
        if (on) {
            const char *keys[] = {"current", "previous", "staged", "remote", "min_version", "prefer_local_from",
                                  "rollback_version", "rollback_reason"};
            const char *vals[] = {in.current, in.previous, in.staged, in.remote, in.min_version, in.prefer_local_from,
                                  in.rollback_version, in.rollback_reason};
            for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
                if (vals[i]) whole = whole && cJSON_AddStringToObject(o, keys[i], vals[i]);
            whole = whole && cJSON_AddBoolToObject(o, "on_trial", in.on_trial) &&
                    cJSON_AddBoolToObject(o, "checking", in.checking) &&
                    cJSON_AddBoolToObject(o, "update_pending", in.update_pending) &&
                    cJSON_AddNumberToObject(o, "last_status", in.last_status) &&
                    (!in.last_message[0] || cJSON_AddStringToObject(o, "last_message", in.last_message));
        }
        lu__console_put_json_whole(out, o, whole);
    } else if (!url || !*url) {
        lu_console_printf(out, "update manager: not configured ([update] url is empty)\n");
    } else {
        lu_console_printf(out, "update manager: url %s, mode %s\n", url, mode ? mode : "async");
        if (on) {
            lu_console_printf(out, "  content    %s%s\n", in.current, in.on_trial ? " (on trial until confirm())" : "");
            lu_console_printf(out, "  previous   %s\n", in.previous ? in.previous : "-");
            lu_console_printf(out, "  staged     %s\n", in.staged ? in.staged : "-");
            lu_console_printf(out, "  remote     %s%s\n", in.remote ? in.remote : "(not checked yet)",
                              in.checking ? " (checking now)" : "");
            if (in.last_status != LU_OK) lu_console_printf(out, "  last error %s\n", in.last_message);
            if (in.rollback_version)
                lu_console_printf(out, "  rolled back %s: %s\n", in.rollback_version, in.rollback_reason ? in.rollback_reason : "");
        }
    }
    return LU_OK;
}

static lu_status cmd_status(void *ud, int argc, char **argv, int json, lu_console_out *out, lu_error *err)
{
    lu_host *h = ud;
    (void)argv;
    if (no_args(argc, "status", err) != LU_OK) return err->status;
    const char *title = lu_project_get(h->project, "project.title");
    if (json) {
        cJSON *o = cJSON_CreateObject();
        lu__console_put_json_whole(out, o,
                       o && cJSON_AddNumberToObject(o, "frame", (double)h->frame) &&
                           cJSON_AddStringToObject(o, "title", title ? title : "") &&
                           cJSON_AddBoolToObject(o, "bundled", h->bundled) &&
                           cJSON_AddNumberToObject(o, "scripts", (double)h->nscripts));
    } else {
        lu_console_printf(out, "%s: frame %ld, %s run, %zu script(s) running\n", title ? title : "game", h->frame,
                          h->bundled ? "bundle" : "project", h->nscripts);
    }
    return LU_OK;
}

/* [liveupdate] enabled = 0: the commands that change the mounts answer as
 * liveupdate.add_mount / remove_mount do (docs/RUNTIME.md, "Live update off"). */
static lu_status cmd_off(void *ud, int argc, char **argv, int json, lu_console_out *out, lu_error *err)
{
    (void)ud, (void)argc, (void)argv, (void)json, (void)out;
    err->status = LU_NOT_INITIALIZED;
    snprintf(err->message, sizeof err->message, "%s", LU_HOST_OFF_MESSAGE);
    return LU_NOT_INITIALIZED;
}

void lu_host_console_register(lu_host *h, lu_console *c)
{
    lu_error err;
    if (h->live_update_off) {   /* same names: the help lines stay, the function is replaced */
        lu_console_register(c, "add", "", cmd_off, h, &err);
        lu_console_register(c, "remove", "", cmd_off, h, &err);
        lu_console_register(c, "prune", "", cmd_off, h, &err);
    }
    lu_console_register(c, "missing", "missing [proxy]              resources of a proxy no mount serves", cmd_missing, h, &err);
    lu_console_register(c, "downloads", "downloads                    HTTP transfers in flight, with progress", cmd_downloads, h, &err);
    lu_console_register(c, "update", "update                       the update manager's state", cmd_update, h, &err);
    lu_console_register(c, "status", "status                       the game: frame count, run kind, scripts", cmd_status, h, &err);
}
