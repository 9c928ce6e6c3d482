/* liveupdate_state.c -- the helpers the Lua module's files share: the
 * state, the "nil, message, status" answer, option-table checks, pending
 * records and running callbacks (liveupdate_state.h).
 *
 * A leaf: liveupdate_module.c, liveupdate_download.c and
 * liveupdate_update.c call it; it calls none of them but the hashes of
 * liveupdate_hash.c (mount names).
 */
#include <lauxlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "liveupdate_lua.h"
#include "liveupdate_state.h"

state *lu_lua__state(lua_State *L)
{
    return (state *)lua_touserdata(L, lua_upvalueindex(1));
}

int lu_lua__fail(lua_State *L, lu_status status, const char *fmt, ...)
{
    va_list ap;
    lua_pushnil(L);
    va_start(ap, fmt);
    lua_pushvfstring(L, fmt, ap);
    va_end(ap);
    lua_pushinteger(L, status);
    return 3;
}

int lu_lua__fail_err(lua_State *L, const lu_error *err)
{
    return lu_lua__fail(L, err->status, "%s", err->message);
}

const char *lu_lua__not_initialized_message(const state *st)
{
    return st->off_message ? st->off_message : LU_LUA_NOT_INITIALIZED_MSG;
}

int lu_lua__not_initialized(lua_State *L)
{
    return lu_lua__fail(L, LU_NOT_INITIALIZED, "%s", lu_lua__not_initialized_message(lu_lua__state(L)));
}

void lu_lua__check_options(lua_State *L, int idx, int arg, const char *prefix, const char *const known[])
{
    if (lua_isnoneornil(L, idx)) return;
    idx = lua_absindex(L, idx);
    if (!lua_istable(L, idx)) {
        if (!prefix[0]) luaL_typeerror(L, arg, "table");
        luaL_argerror(L, arg, lua_pushfstring(L, "option '%s' must be a table, not %s",
                                              lua_pushlstring(L, prefix, strlen(prefix) - 1), luaL_typename(L, idx)));
    }
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        bool ok = false;
        for (int i = 0; known[i] && !ok && lua_type(L, -1) == LUA_TSTRING; i++)
            ok = strcmp(known[i], lua_tostring(L, -1)) == 0;
        if (!ok) {
            const char *k = luaL_tolstring(L, -1, NULL);
            luaL_argerror(L, arg, lua_pushfstring(L, "unknown option '%s%s'", prefix, k));
        }
    }
}

const char *lu_lua__check_mount_name(lua_State *L, int arg)
{
    const char *name = lu_lua_to_hashed(L, arg);
    if (!name) luaL_typeerror(L, arg, "string or hash");
    return name;
}

void lu_lua__push_mount_name(state *st, lua_State *L, const char *name)
{
    if (st->names_as_hashes) lu_lua_push_hash(L, name);
    else lua_pushstring(L, name);
}

void lu_lua__pending_unref(pending *p)
{
    lua_State *L = p->st->L;
    luaL_unref(L, LUA_REGISTRYINDEX, p->cb_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, p->self_ref);
    luaL_unref(L, LUA_REGISTRYINDEX, p->progress_ref);
    p->cb_ref = p->self_ref = p->progress_ref = LUA_NOREF;
}

void lu_lua__pending_free(pending *p)
{
    *p->prev = p->next;
    if (p->next) p->next->prev = p->prev;
    lu_lua__pending_unref(p);
    free(p);
}

pending *lu_lua__pending_new(lua_State *L, state *st, int cb_idx)
{
    pending *p = calloc(1, sizeof *p);
    if (!p) {
        luaL_error(L, "out of memory");
        return NULL;
    }
    p->st = st;
    p->ctx = st->ctx;
    p->cb_ref = p->self_ref = p->progress_ref = LUA_NOREF;
    p->next = st->pending;
    p->prev = &st->pending;
    if (st->pending) st->pending->prev = &p->next;
    st->pending = p;
    lua_pushvalue(L, cb_idx);   /* linked first: a raise here leaves no leak */
    p->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_rawgeti(L, LUA_REGISTRYINDEX, st->self_ref);
    p->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return p;
}


void lu_lua__pending_release(state *st, lu_context *dropped)
{
    for (pending *p = st->pending, *next; p; p = next) {
        next = p->next;
        if (dropped && p->ctx == dropped) {
            lu_lua__pending_free(p);
            continue;
        }
        lu_lua__pending_unref(p);
        p->dead = true;
    }
}

void lu_lua__pending_free_all(state *st)
{
    while (st->pending) lu_lua__pending_free(st->pending);
}

void lu_lua__call(state *st, int fn_ref, int self_ref, int nargs)
{
    lua_State *L = st->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, fn_ref);
    lua_insert(L, -nargs - 1);
    lua_rawgeti(L, LUA_REGISTRYINDEX, self_ref);
    lua_insert(L, -nargs - 1);
    /* While the callback runs, `self` is the one it was registered with, so
     * calls it makes (add_mount, msg.post in lurun) act for that script. */
    int outer_self = st->self_ref;
    st->self_ref = self_ref;
    int rc = lua_pcall(L, nargs + 1, 0, 0);
    st->self_ref = outer_self;
    if (rc != LUA_OK) {
        if (st->error_ref == LUA_NOREF) st->error_ref = luaL_ref(L, LUA_REGISTRYINDEX);
        else lua_pop(L, 1);
    }
}

void lu_lua__protected(state *st, lua_CFunction body, void *ud)
{
    lua_State *L = st->L;
    lua_pushcfunction(L, body);   /* a light C function and a light userdata: no allocation */
    lua_pushlightuserdata(L, ud);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
        if (!st->lost_error[0]) {
            const char *m = lua_tostring(L, -1);
            snprintf(st->lost_error, sizeof st->lost_error, "liveupdate: a callback could not run: %s",
                     m ? m : "(error object is not a string)");
        }
        lua_pop(L, 1);
    }
}
