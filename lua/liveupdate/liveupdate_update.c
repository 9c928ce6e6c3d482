/* liveupdate_update.c -- liveupdate.get_update_manager() (docs/UPDATES.md) over the
 * library's update manager (liveupdate/updater.h).
 *
 *   local um = liveupdate.get_update_manager()
 *   um.on_check_for_update(function(self, res) end)  res = {has_update, version, mandatory}
 *   um.on_update_ready(function(self, res) end)      res = {version}
 *   um.on_update_failed(function(self, res) end)     res = {status, message}
 *   um.check() -> true | nil, message, status
 *   um.download() -> true | nil, message, status   ([update] download = ask:
 *       fetch the release the last check offered)
 *   um.apply_update() -> true | nil, message, status   (lurun then restarts
 *       the script world on the new content)
 *   um.confirm() -> true | nil, message, status
 *   um.set_version_compare(function(a, b) return -1|0|1 end)
 *   um.get_info() -> {current, previous, staged, remote, min_version,
 *       prefer_local_from, on_trial, checking, update_pending, offered,
 *       mandatory, blocked = {required, current} | nil, local_preferred,
 *       binary, last_status, last_message}
 *   um.last_rollback -> {version, reason} | nil
 *   um.version -> the content version in use
 *
 * Every method answers nil, message, LIVEUPDATE_NOT_INITIALIZED once the
 * module has no context (after shutdown()), before looking at its
 * arguments; get_update_manager answers so with live update off.
 *
 * Events that happened before a handler was registered (a start-up check in
 * sync mode, a failure) are delivered in order from the next poll() after
 * the handler is set: a script loses none by registering late. Each fact
 * is told once and only while true: a stored "update ready" whose release
 * is no longer the staged one (it was applied at start-up, say) is dropped,
 * and a stored check result naming the version in use says has_update =
 * false.
 */
#include <lauxlib.h>
#include <stdlib.h>
#include <string.h>

#include "liveupdate/release.h"
#include "liveupdate/updater.h"
#include "liveupdate_state.h"

enum { EV_CHECK, EV_READY, EV_FAILED, EV_COUNT };

/* Pushes the result table of an event. */
static void push_result(lua_State *L, const lu_updater_event *ev)
{
    lua_createtable(L, 0, 2);
    if (ev->kind == LU_UPDATER_FAILED) {
        lu_lua__set_int(L, "status", ev->status);
        lu_lua__set_str(L, "message", ev->message ? ev->message : "");
        return;
    }
    if (ev->kind == LU_UPDATER_CHECKED) {
        lu_lua__set_bool(L, "has_update", ev->has_update);
        lu_lua__set_bool(L, "mandatory", ev->mandatory);
    }
    if (ev->version) {
        lu_lua__set_str(L, "version", ev->version);
    }
}

static int kind_index(lu_updater_event_kind k)
{
    return k == LU_UPDATER_CHECKED ? EV_CHECK : k == LU_UPDATER_READY ? EV_READY : EV_FAILED;
}

/* Each fact once, and only while true (the result table is on top): an
 * "update ready" is told only while that release is the staged one; a
 * check naming the version in use has no update; a "below min_version"
 * failure is dropped once the content is no longer below it. */
static bool still_true(state *st, int i)
{
    lua_State *L = st->L;
    lu_updater_info in;
    lu_error err;
    if (lu_updater_get_info(st->ctx, &in, &err) != LU_OK) return true;
    if (i == EV_FAILED) {   /* "below min_version" is stale once the release came */
        lua_getfield(L, -1, "status");
        bool stale = lua_tointeger(L, -1) == LU_VERSION_MISMATCH && !in.blocked;
        lua_pop(L, 1);
        return !stale;
    }
    lua_getfield(L, -1, "version");
    const char *v = lua_tostring(L, -1);
    bool staged = v && in.staged && strcmp(v, in.staged) == 0;
    bool current = v && strcmp(v, in.current) == 0;
    lua_pop(L, 1);
    if (i == EV_READY) return staged;
    if (current) {
        lua_pushboolean(L, 0);
        lua_setfield(L, -2, "has_update");
    }
    return true;
}

/* Runs handler `i` with each stored result, oldest first, if both exist. */
static void deliver(state *st, int i)
{
    lua_State *L = st->L;
    if (st->um_handler[i] == LUA_NOREF || st->um_result[i] == LUA_NOREF) return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->um_result[i]);
    luaL_unref(L, LUA_REGISTRYINDEX, st->um_result[i]);
    st->um_result[i] = LUA_NOREF;
    lua_Integer n = luaL_len(L, -1);
    for (lua_Integer k = 1; k <= n; k++) {
        lua_rawgeti(L, -1, k);
        if (!still_true(st, i)) {
            lua_pop(L, 1);
            continue;
        }
        lu_lua__call(st, st->um_handler[i], st->um_self[i], 1);
    }
    lua_pop(L, 1);
}

typedef struct event_args {
    state *st;
    const lu_updater_event *ev;
} event_args;

/* Queues the event's result for its handler, then delivers (inside
 * lu_lua__protected: the updater runs this from lu_update). */
static int event_body(lua_State *L)
{
    const event_args *a = lua_touserdata(L, 1);
    state *st = a->st;
    const lu_updater_event *ev = a->ev;
    int i = kind_index(ev->kind);
    if (st->um_result[i] == LUA_NOREF) {
        lua_newtable(L);
        st->um_result[i] = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->um_result[i]);
    push_result(L, ev);
    lua_rawseti(L, -2, luaL_len(L, -2) + 1);
    lua_pop(L, 1);
    deliver(st, i);
    return 0;
}

void lu_lua__updater_event(state *st, const lu_updater_event *ev)
{
    event_args a = {st, ev};
    lu_lua__protected(st, event_body, &a);
}

static void on_event(void *ud, const lu_updater_event *ev)
{
    lu_lua__updater_event(ud, ev);
}

void lu_lua__update_failed(state *st, lu_status status, const char *message)
{
    lu_updater_event ev = {.kind = LU_UPDATER_FAILED, .status = status, .message = message};
    on_event(st, &ev);
}

void lu_lua__deliver_update_events(state *st)
{
    for (int i = 0; i < EV_COUNT; i++) deliver(st, i);
}

typedef struct compare_args {
    state *st;
    const char *a, *b;
    int result;
} compare_args;

/* Runs the script's compare (inside lu_lua__protected). */
static int compare_body(lua_State *L)
{
    compare_args *c = lua_touserdata(L, 1);
    state *st = c->st;
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->um_compare);
    lua_pushstring(L, c->a);
    lua_pushstring(L, c->b);
    if (lua_pcall(L, 2, 1, 0) != LUA_OK) {   /* kept for poll() to raise; compare as usual */
        if (st->error_ref == LUA_NOREF) st->error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        else lua_pop(L, 1);
        return 0;
    }
    if (lua_isnumber(L, -1)) c->result = lua_tonumber(L, -1) < 0 ? -1 : lua_tonumber(L, -1) > 0 ? 1 : 0;
    lua_pop(L, 1);
    return 0;
}

int lu_lua__compare(state *st, const char *a, const char *b)
{
    compare_args c = {st, a, b, 2};
    if (st && st->um_compare != LUA_NOREF) lu_lua__protected(st, compare_body, &c);
    return c.result != 2 ? c.result : lu_version_compare(a, b);
}

static int compare_with_lua(void *ud, const char *a, const char *b)
{
    return lu_lua__compare(ud, a, b);
}

void lu_lua__updater_hooks(state *st, lu_updater_config *cfg)
{
    cfg->on_event = on_event;
    cfg->ud = st;
    cfg->compare = compare_with_lua;
    cfg->compare_ud = st;
}

static int set_handler(lua_State *L, int i)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    luaL_unref(L, LUA_REGISTRYINDEX, st->um_handler[i]);
    luaL_unref(L, LUA_REGISTRYINDEX, st->um_self[i]);
    lua_pushvalue(L, 1);
    st->um_handler[i] = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->self_ref);
    st->um_self[i] = luaL_ref(L, LUA_REGISTRYINDEX);
    return 0;
}

static int l_on_check(lua_State *L) { return set_handler(L, EV_CHECK); }
static int l_on_ready(lua_State *L) { return set_handler(L, EV_READY); }
static int l_on_failed(lua_State *L) { return set_handler(L, EV_FAILED); }

static int ok_or_fail(lua_State *L, lu_status s, const lu_error *err)
{
    if (s != LU_OK) return lu_lua__fail_err(L, err);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_check(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    lu_error err;
    return ok_or_fail(L, lu_updater_check(st->ctx, &err), &err);
}

static int l_download(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    lu_error err;
    return ok_or_fail(L, lu_updater_download(st->ctx, &err), &err);
}

static int l_apply(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    lu_error err;
    lu_status s = lu_updater_apply(st->ctx, &err);
    if (s == LU_OK) st->restart_requested = true;
    return ok_or_fail(L, s, &err);
}

static int l_confirm(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    lu_error err;
    return ok_or_fail(L, lu_updater_confirm(st->ctx, &err), &err);
}

void lu_lua__set_compare(state *st, lua_State *L)
{
    luaL_unref(L, LUA_REGISTRYINDEX, st->um_compare);
    st->um_compare = luaL_ref(L, LUA_REGISTRYINDEX);
}

static int l_set_compare(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    luaL_checktype(L, 1, LUA_TFUNCTION);
    lua_pushvalue(L, 1);
    lu_lua__set_compare(st, L);
    return 0;
}

static int l_get_info(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    lu_updater_info in;
    lu_error err;
    if (lu_updater_get_info(st->ctx, &in, &err) != LU_OK) return lu_lua__fail_err(L, &err);
    lua_createtable(L, 0, 12);
    lu_lua__set_str(L, "current", in.current);
    lu_lua__set_str(L, "previous", in.previous);
    lu_lua__set_str(L, "staged", in.staged);
    lu_lua__set_str(L, "remote", in.remote);
    lu_lua__set_str(L, "min_version", in.min_version);
    lu_lua__set_str(L, "prefer_local_from", in.prefer_local_from);
    lu_lua__set_bool(L, "on_trial", in.on_trial);
    lu_lua__set_bool(L, "checking", in.checking);
    lu_lua__set_bool(L, "update_pending", in.update_pending);
    lu_lua__set_bool(L, "offered", in.offered);
    lu_lua__set_bool(L, "mandatory", in.mandatory);
    lu_lua__set_bool(L, "local_preferred", in.local_preferred);
    lu_lua__set_str(L, "binary", in.binary);
    if (in.blocked) {
        lua_createtable(L, 0, 2);
        lu_lua__set_str(L, "required", in.min_version);
        lu_lua__set_str(L, "current", in.current);
        lua_setfield(L, -2, "blocked");
    }
    lu_lua__set_int(L, "last_status", in.last_status);
    lu_lua__set_str(L, "last_message", in.last_message[0] ? in.last_message : NULL);
    return 1;
}

/* um.last_rollback and um.version, computed when read. */
static int um_index(lua_State *L)
{
    state *st = lu_lua__state(L);
    const char *k = luaL_checkstring(L, 2);
    lu_updater_info in;
    lu_error err;
    if (!st->ctx || lu_updater_get_info(st->ctx, &in, &err) != LU_OK) return 0;
    if (strcmp(k, "version") == 0) {
        lua_pushstring(L, in.current);
        return 1;
    }
    if (strcmp(k, "last_rollback") == 0 && in.rollback_version) {
        lua_createtable(L, 0, 2);
        lu_lua__set_str(L, "version", in.rollback_version);
        lu_lua__set_str(L, "reason", in.rollback_reason);
        return 1;
    }
    return 0;
}

int lu_lua__get_update_manager(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!lu_lua__can_change(st)) return lu_lua__not_initialized(L);
    lu_updater_info in;
    lu_error err;
    if (lu_updater_get_info(st->ctx, &in, &err) != LU_OK)
        return lu_lua__fail(L, LU_INVAL, "no update manager: set [update] url (lurun) or init{update = {...}}");
    static const luaL_Reg methods[] = {
        {"on_check_for_update", l_on_check}, {"on_update_ready", l_on_ready}, {"on_update_failed", l_on_failed},
        {"check", l_check},                  {"apply_update", l_apply},       {"confirm", l_confirm},
        {"download", l_download},
        {"set_version_compare", l_set_compare}, {"get_info", l_get_info},     {NULL, NULL},
    };
    lua_createtable(L, 0, 10);
    lua_pushvalue(L, lua_upvalueindex(1));
    luaL_setfuncs(L, methods, 1);
    lua_createtable(L, 0, 1);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushcclosure(L, um_index, 1);
    lua_setfield(L, -2, "__index");
    lua_setmetatable(L, -2);
    return 1;
}
