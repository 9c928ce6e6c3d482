/* liveupdate_state.h -- the Lua module's state, shared by its files
 * (liveupdate_module.c: mounts, lookups, init; liveupdate_download.c:
 * download_volume). Not a public header: hosts use liveupdate_lua.h.
 */
#ifndef LIVEUPDATE_STATE_H
#define LIVEUPDATE_STATE_H

#include <lua.h>
#include <stdbool.h>

#include "liveupdate/liveupdate.h"
#include "liveupdate/manifest.h"

#define STATE_KEY "liveupdate.state"

typedef struct pending pending;

typedef struct state {
    lu_context *ctx;
    int owned;             /* opened by init(); closed by shutdown()/__gc */
    lu_manifest *manifest; /* the base manifest (catalog of volumes), or NULL */
    int owns_manifest;
    lua_State *L;          /* main thread: callbacks run there */
    int self_ref;          /* current script instance, LUA_NOREF = nil */
    pending *pending;      /* requests whose callback has not run yet */
    int error_ref;         /* first error raised by a callback during poll */
    char *http_url;        /* where download_volume finds volumes, or NULL */
    /* the update manager (liveupdate_update.c): handlers, their selves, the
     * undelivered results of each event kind (Lua arrays), the compare hook */
    int um_handler[3], um_self[3], um_result[3], um_compare;
    bool restart_requested; /* apply_update() ran: the host restarts the scripts */
} state;

/* A callback waiting for an asynchronous result (add_mount, download). */
struct pending {
    pending *next, **prev;
    state *st;
    int cb_ref, self_ref, progress_ref;
    char name[LU_NAME_MAX + 1];   /* download: the mount to create */
    char uri[300];
    int priority;
};

/* Sets field k of the table on top of the stack (a NULL string is left out). */
static inline void lu_lua__set_str(lua_State *L, const char *k, const char *v)
{
    if (!v) return;
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static inline void lu_lua__set_int(lua_State *L, const char *k, lua_Integer v)
{
    lua_pushinteger(L, v);
    lua_setfield(L, -2, k);
}

static inline void lu_lua__set_bool(lua_State *L, const char *k, int v)
{
    lua_pushboolean(L, v);
    lua_setfield(L, -2, k);
}

/* The state, from upvalue 1 of a module function. */
state *lu_lua__state(lua_State *L);

/* Pushes nil, err->message, err->status; returns 3. */
int lu_lua__fail(lua_State *L, const lu_error *err);

/* A pending record for the function at `cb_idx` and the current self,
 * linked into st->pending. Raises a Lua error when out of memory. */
pending *lu_lua__pending_new(lua_State *L, state *st, int cb_idx);

/* Unlinks and frees `p` with its references. */
void lu_lua__pending_free(lua_State *L, pending *p);

/* Calls the function `fn_ref` with self `self_ref` and the `nargs` values
 * on top of st->L's stack (popped); `self` is current during the call. An
 * error is kept for poll() to raise. */
void lu_lua__call(state *st, int fn_ref, int self_ref, int nargs);

/* liveupdate_update.c: the manager's table; runs results waiting for a
 * handler; fills the event and compare hooks of an updater config. */
int lu_lua__get_update_manager(lua_State *L);
void lu_lua__deliver_update_events(state *st);
void lu_lua__update_failed(state *st, lu_status status, const char *message);
struct lu_updater_config;
void lu_lua__updater_hooks(state *st, struct lu_updater_config *cfg);

/* The functions of liveupdate_download.c. */
int lu_lua__download_volume(lua_State *L);
int lu_lua__cancel_download(lua_State *L);
int lu_lua__get_downloads(lua_State *L);

#endif
