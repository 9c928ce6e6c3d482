/* liveupdate_state.h -- the Lua module's state and the helpers its files
 * share (liveupdate_state.c, a leaf: the other files call it, it calls
 * none of them; liveupdate_module.c: mounts, lookups, init;
 * liveupdate_download.c: download_volume; liveupdate_update.c: the update
 * manager). Not a public header: hosts use liveupdate_lua.h.
 */
#ifndef LIVEUPDATE_STATE_H
#define LIVEUPDATE_STATE_H

#include <lua.h>
#include <stdbool.h>

#include "liveupdate/liveupdate.h"
#include "liveupdate/manifest.h"

#define STATE_KEY "liveupdate.state"

typedef struct pending pending;
struct lu_lua_file;

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
    bool names_as_hashes;   /* defold_api 1.13: mount names given back as hashes */
    char lost_error[200];   /* a callback that could not even start (out of
                               memory): poll() raises this when non-empty */
    char *off_message;      /* the host turned live update off (lurun:
                               [liveupdate] enabled = 0): the calls that
                               change or download answer NOT_INITIALIZED
                               with this message; NULL: on */
    struct lu_lua_file *files; /* open liveupdate.open files (liveupdate_file.c) */
} state;

/* A callback waiting for an asynchronous result (add_mount, download).
 * The record is the `ud` of a request of context `ctx`, so it belongs to
 * that context: it lives until the context delivers it (the completion
 * frees it) or drops it (closing an owned context frees its records; the
 * state's __gc frees the rest, as the Lua world ends). Re-binding the
 * module or shutdown() only marks a record dead: its Lua references are
 * released and its completion runs no Lua. */
struct pending {
    pending *next, **prev;   /* in st->pending, live and dead alike */
    state *st;
    lu_context *ctx;         /* the context the request was made on */
    bool dead;               /* the module moved on: deliver nothing */
    bool orphan;             /* its scripts are gone (a host's restart): the work
                                completes (a download is mounted), no Lua runs */
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

#define LU_LUA_NOT_INITIALIZED_MSG "liveupdate is not initialized: call liveupdate.init{...} first"

/* The state, from upvalue 1 of a module function. */
state *lu_lua__state(lua_State *L);

/* The runtime-failure answer: pushes nil, the formatted message and
 * `status`; returns 3. Raises only on out-of-memory. */
int lu_lua__fail(lua_State *L, lu_status status, const char *fmt, ...);

/* lu_lua__fail with err's status and message. */
int lu_lua__fail_err(lua_State *L, const lu_error *err);

/* nil, "liveupdate is not initialized...", LIVEUPDATE_NOT_INITIALIZED
 * (with st->off_message instead when the host turned live update off). */
int lu_lua__not_initialized(lua_State *L);

/* The message of a NOT_INITIALIZED answer: st->off_message, else
 * LU_LUA_NOT_INITIALIZED_MSG. */
const char *lu_lua__not_initialized_message(const state *st);

/* True when the calls that change mounts or download may run: a context
 * is bound and the host has not turned live update off. The others (reads
 * against the mounts) only need st->ctx. */
static inline bool lu_lua__can_change(const state *st)
{
    return st->ctx && !st->off_message;
}

/* Checks that every key of the option table at stack index `idx` (argument
 * `arg` of the function, or a table inside it) is one of `known`
 * (NULL-terminated); raises "bad argument #arg to 'fn' (unknown option
 * '<prefix><key>')" otherwise, or when the value is not a table. Accepts
 * nil/none (no options). */
void lu_lua__check_options(lua_State *L, int idx, int arg, const char *prefix, const char *const known[]);

/* Mount names (liveupdate_state.c): the name at argument `arg` (a string
 * or a hash), raising "bad argument" for anything else; and the push of a
 * name as the scripts' Defold generation wants it (a string, or a hash with
 * defold_api 1.13). */
const char *lu_lua__check_mount_name(lua_State *L, int arg);
void lu_lua__push_mount_name(state *st, lua_State *L, const char *name);

/* A pending record of context st->ctx for the function at `cb_idx` and the
 * current self, linked into st->pending. Raises a Lua error when out of
 * memory. */
pending *lu_lua__pending_new(lua_State *L, state *st, int cb_idx);

/* Unlinks and frees `p` with its references. Never raises. */
void lu_lua__pending_free(pending *p);

/* Releases p's Lua references (callback, self, progress) in p->st->L.
 * Never raises. */
void lu_lua__pending_unref(pending *p);

/* The module lets go of its records: those of `dropped` (a context just
 * closed, which delivers nothing any more; may be NULL) are freed, the
 * others are marked dead and wait for their context. Never raises. */
void lu_lua__pending_release(state *st, lu_context *dropped);

/* Frees every record (the state is being collected). Never raises. */
void lu_lua__pending_free_all(state *st);

/* Calls the function `fn_ref` with self `self_ref` and the `nargs` values
 * on top of st->L's stack (popped); `self` is current during the call. An
 * error is kept for poll() to raise. May raise on out-of-memory only: run
 * it from a Lua C function or inside lu_lua__protected. */
void lu_lua__call(state *st, int fn_ref, int self_ref, int nargs);

/* Runs `body` (a lua_CFunction getting `ud` as light userdata argument 1)
 * in protected mode on st->L: for completions the library runs from
 * lu_update, so no Lua error ever unwinds through library code. An error
 * of `body` itself (out of memory) is kept in st->lost_error for poll().
 * Never raises. */
void lu_lua__protected(state *st, lua_CFunction body, void *ud);

/* liveupdate_update.c: the manager's table; runs results waiting for a
 * handler; fills the event and compare hooks of an updater config. */
int lu_lua__get_update_manager(lua_State *L);
void lu_lua__deliver_update_events(state *st);
/* Pops the function on top of L's stack into the update manager's compare
 * hook (replacing the one set before). */
void lu_lua__set_compare(state *st, lua_State *L);
void lu_lua__update_failed(state *st, lu_status status, const char *message);
struct lu_updater_config;
void lu_lua__updater_hooks(state *st, struct lu_updater_config *cfg);
/* What those hooks do, for a state found at each call (a host's hooks
 * follow its current Lua state): queue and deliver an event; compare two
 * versions (the script's hook, else lu_version_compare; st may be NULL). */
struct lu_updater_event;
void lu_lua__updater_event(state *st, const struct lu_updater_event *ev);
int lu_lua__compare(state *st, const char *a, const char *b);

/* liveupdate_file.c: liveupdate.open(path), and the close of every file
 * still open (when the module lets go of its context). Never raises. */
int lu_lua__open_file(lua_State *L);
void lu_lua__files_close(state *st);

/* The functions of liveupdate_download.c. */
int lu_lua__download_volume(lua_State *L);
int lu_lua__cancel_download(lua_State *L);
int lu_lua__get_downloads(lua_State *L);

/* The functions of liveupdate_legacy.c (Defold <= 1.12's legacy API). */
int lu_lua__get_current_manifest(lua_State *L);
int lu_lua__is_using_liveupdate_data(lua_State *L);
int lu_lua__store_resource(lua_State *L);
int lu_lua__store_manifest(lua_State *L);
int lu_lua__store_archive(lua_State *L);

#endif
