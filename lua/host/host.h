/* host.h -- what lurun shares with its Defold-style Lua host modules.
 *
 * lurun (engine/host/lurun.c) owns one lu_host per run: the liveupdate
 * context, the parsed game.project, the script instances, the message
 * queue, collection proxies and HTTP requests in flight. Each host module
 * (lua/host_*.c) opens one Lua table (sys, msg, json, http,
 * collectionproxy, timer) or global function (hash, pprint) and finds the host
 * through the registry, never through a C global.
 */
#ifndef LU_HOST_H
#define LU_HOST_H

#include <lua.h>
#include <stdbool.h>

#include "liveupdate/liveupdate.h"
#include "liveupdate/manifest.h"
#include "liveupdate/project.h"

typedef struct lu_http lu_http;         /* host_http.c */

typedef struct lu_message {
    struct lu_message *next;
    char *to;            /* URL as posted, resolved at dispatch */
    char *sender;        /* URL of the posting script */
    char *id;            /* message id as a string */
    int table_ref;       /* registry ref of the message table (or LUA_REFNIL) */
} lu_message;

typedef struct lu_script {
    char *url;           /* "main:/main#script" */
    char *path;          /* resource path of the script */
    int self_ref;        /* the instance table */
    int env_ref;         /* the script's lifecycle functions (a table) */
    bool initialized, finalized;
    char *proxy;         /* id of the proxy that loaded it, or NULL for main */
} lu_script;

typedef enum lu_proxy_state {
    LU_PROXY_UNLOADED, LU_PROXY_LOADED, LU_PROXY_INITIALIZED, LU_PROXY_ENABLED
} lu_proxy_state;

typedef struct lu_proxy_rt {
    char *id;
    lu_proxy_state state;
    char *owner;         /* URL that sent "load": receives proxy_loaded/unloaded */
    char *collection;    /* collectionproxy.set_collection's collection, or NULL */
} lu_proxy_rt;

/* What the module's calls that change or download answer with
 * [liveupdate] enabled = 0 (status LIVEUPDATE_NOT_INITIALIZED). */
#define LU_HOST_OFF_MESSAGE "live update is off: [liveupdate] enabled = 0 in game.project"

typedef struct lu_host {
    lua_State *L;
    lu_context *ctx;
    lu_project *project;
    lu_manifest *manifest;   /* base manifest (bundle) or built from the project */
    char *project_dir;
    char *save_root;         /* where sys.get_save_file puts app folders */
    const char *save_suffix; /* after each app folder's name: " (project)" in a project run without --save-dir */
    bool bundled;
    bool live_update_off;    /* [liveupdate] enabled = 0: base content only, no save dir for the context */
    bool exit_requested;
    int exit_code;
    long frame;
    double dt;
    lu_message *queue, *queue_tail;
    lu_script *scripts;
    size_t nscripts;
    lu_proxy_rt *proxies;
    size_t nproxies;
    lu_http *http;
    const char *current_url; /* URL of the script running now (sender of posts) */
    int script_errors;       /* Lua errors reported so far */
    char first_error[600];   /* "<where>: <message>" of the first one (or a script that failed to load) */
    bool main_from_base;     /* load the next script from the base bundle (blocked start) */
    /* the update manager's settings ([update]; engine/host/update_policy.c) */
    bool update_on;
    long long check_interval_s, trial_frames;
    long long trial_seen;    /* error-free frames since the release on trial was applied */
    bool blocked;            /* below min_version: the base bundle's main script runs */
    bool restart_pending;    /* the host applied a release: restart the scripts on it */
    bool reboot_pending;     /* sys.reboot(): restart the scripts on the same content */
    double next_check;       /* monotonic seconds of the next periodic check */
} lu_host;

/* The host of a Lua state (NULL outside lurun). */
lu_host *lu_host_get(lua_State *L);
void lu_host_set(lua_State *L, lu_host *h);

/* Reports a Lua error (message on top of the stack, popped) as lurun does:
 * "lurun: <where>: <message>" on stderr; counts it. */
void lu_host_report_error(lu_host *h, const char *where);

/* Calls the function on the stack below nargs arguments with a traceback
 * handler. Returns true on success; on error reports it (where = what was
 * running) and returns false. */
bool lu_host_pcall(lu_host *h, int nargs, int nresults, const char *where);

/* Openers: each pushes its module table (or function). */
int lu_host_open_sys(lua_State *L);
int lu_host_open_msg(lua_State *L);
int lu_host_open_json(lua_State *L);
int lu_host_open_http(lua_State *L);
int lu_host_open_collectionproxy(lua_State *L);
int lu_host_open_timer(lua_State *L);
/* Registers the globals Defold scripts expect: hash, hash_to_hex, pprint. */
void lu_host_open_globals(lua_State *L);

/* Hashes are the module's: lu_lua_push_hash, lu_lua_to_hashed
 * (liveupdate_lua.h). */

/* URL objects (host_url.c): registers their metatable (idempotent); the
 * msg.url function. */
void lu_host_url_init(lua_State *L);
int lu_host_msg_url(lua_State *L);
/* Pushes a URL object for "socket:path#fragment"
 * (missing parts are nil). */
void lu_host_push_url(lua_State *L, const char *url);
/* The URL at idx as a string: a URL object ("socket:path#fragment"), a
 * string or a hash (as written, relative URLs are resolved by the
 * receiver). Writes into buf and returns it; NULL when the value is none
 * of those or does not fit in cap bytes. Raises nothing. */
const char *lu_host_to_url_string(lua_State *L, int idx, char *buf, size_t cap);

/* Messages (host_msg.c). Takes ownership of nothing; copies strings. The
 * message table at `table_idx` (0 = none) is referenced. */
bool lu_host_post(lu_host *h, const char *to, const char *id, int table_idx, const char *sender);
/* Delivers every queued message (including ones posted while delivering,
 * up to a bound). Returns false if a Lua error went unhandled. */
bool lu_host_dispatch(lu_host *h);

/* Scripts (host_scripts.c). */
/* Loads the script at resource `path` through the mounts as instance
 * `url`. Returns the new script or NULL (error reported). */
lu_script *lu_host_load_script(lu_host *h, const char *path, const char *url, const char *proxy);
/* Calls `fn` ("init", "update", "final", "on_message") on a script if it
 * defines it; extra arguments are on the stack (popped). */
bool lu_host_call(lu_host *h, lu_script *s, const char *fn, int nargs);
lu_script *lu_host_find_script(lu_host *h, const char *url);
/* Creates the registry tables scripts need; call once after lua_open. */
void lu_host_scripts_init(lua_State *L);
/* URL of the script on whose behalf Lua runs now (also inside liveupdate
 * callbacks), or NULL. */
const char *lu_host_sender(lu_host *h);
void lu_host_free_scripts(lu_host *h);
void lu_host_unload_scripts_of(lu_host *h, const char *proxy);

/* Proxies (host_proxy.c): handles a message to proxy `id`. A message that
 * is answered (load: proxy_loaded, unload: proxy_unloaded) fills `reply`
 * (id NULL otherwise); the caller (host_msg.c, which owns the queue) posts
 * it: the proxies never post themselves, so they do not depend on the
 * queue. Returns false when a script failed while loading. */
typedef struct lu_proxy_reply {
    const char *id;          /* message id to answer with, or NULL */
    char to[1024];           /* the sender of the message */
    char from[1200];         /* the proxy's own URL */
} lu_proxy_reply;
bool lu_host_proxy_message(lu_host *h, const char *id, const char *msg_id, const char *sender,
                           lu_proxy_reply *reply);
void lu_host_free_proxies(lu_host *h);

/* HTTP (host_http.c): requests run on the library's transfer loop
 * (liveupdate/http.h) and finish inside liveupdate.poll(); this frees those
 * still in flight. */
void lu_host_http_free(lu_host *h);
/* Transfers in flight (at most max): id, URL, target path (or NULL),
 * bytes received and expected (-1 when unknown). Strings stay valid until
 * the next poll. */
typedef struct lu_http_transfer {
    int id;
    const char *url, *path;
    long long done, total;
} lu_http_transfer;
size_t lu_host_http_list(lu_host *h, lu_http_transfer *out, size_t max);

/* Timers (host_timer.c, Defold's `timer` module). Once per frame, before
 * the scripts' update(): advances every timer of a running script by dt
 * and calls the callbacks that are due (as the owning script: self,
 * msg.post's sender); timers of a script that was finalized or unloaded
 * are dropped. Errors in callbacks are reported (h->script_errors). */
void lu_host_timers_frame(lu_host *h, double dt);
/* Drops every timer (their Lua references too); before lua_close. */
void lu_host_timers_free(lu_host *h);

/* The update manager in lurun (engine/host/update_policy.c): opens it from
 * [update] and applies the start-up policy (async, sync with timeout,
 * forced sync, min_version, prefer_local_from) before the main script
 * loads; false on a configuration error (printed). */
bool lu_host_update_start(lu_host *h);
/* A fresh Lua state (a script-world restart): loads [update]
 * version_compare into it, from the content mounted now. */
void lu_host_update_lua(lu_host *h);
/* Once per frame: periodic checks and the trial_frames confirmation. */
void lu_host_update_frame(lu_host *h);
/* After a frame in which every script ran without an error: counts it for
 * the trial of a release (confirming it after [update] trial_frames). */
void lu_host_update_frame_done(lu_host *h);
/* Tells the update manager how the run ends (`code`: the exit status):
 * a Lua error or a non-zero code fails a release on trial (the next start
 * rolls it back with that reason); a clean end lets its trial go on. */
void lu_host_update_end(lu_host *h, int code);

/* Collection files (host_collection.c): calls fn(ud, path, url) for each
 * line `script: "<path>"` (leading white space allowed, the path at most
 * 1023 bytes) of the NUL-terminated `text`, in order, with the instance URL
 * "<proxy>:/<file name without extension>#script". Goes on after a call
 * that returns false; returns false when one did. Does not allocate. */
typedef bool (*lu_host_script_fn)(void *ud, const char *path, const char *url);
bool lu_host_collection_scripts(const char *proxy, const char *text, lu_host_script_fn fn, void *ud);

/* Console commands only the runtime can answer (host_console.c). */
struct lu_console;
void lu_host_console_register(lu_host *h, struct lu_console *c);

#endif
