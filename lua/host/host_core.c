/* host_core.c -- lurun's host plumbing: finding the host from Lua, error
 * reports with file and line, and the globals Defold scripts expect
 * (hash, hash_to_hex, pprint).
 *
 * Hashes are the module's (lua/liveupdate/liveupdate_hash.c): interned
 * userdata printing as "hash: [name]", so `message_id ==
 * hash("proxy_loaded")`, hashes as table keys and hash mount names work as
 * in Defold.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "liveupdate_lua.h"

#define HOST_KEY "lurun.host"

lu_host *lu_host_get(lua_State *L)
{
    lua_getfield(L, LUA_REGISTRYINDEX, HOST_KEY);
    lu_host *h = lua_touserdata(L, -1);
    lua_pop(L, 1);
    return h;
}

void lu_host_set(lua_State *L, lu_host *h)
{
    lua_pushlightuserdata(L, h);
    lua_setfield(L, LUA_REGISTRYINDEX, HOST_KEY);
}

void lu_host_report_error(lu_host *h, const char *where)
{
    const char *msg = lua_tostring(h->L, -1);
    fprintf(stderr, "lurun: error in %s: %s\n", where, msg ? msg : "(error object is not a string)");
    if (!h->first_error[0])
        snprintf(h->first_error, sizeof h->first_error, "Lua error in %.150s at frame %ld: %.400s", where, h->frame,
                 msg ? msg : "(error object is not a string)");
    lua_pop(h->L, 1);
    h->script_errors++;
}

static int traceback(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    if (!msg) msg = lua_pushfstring(L, "(error object is a %s value)", luaL_typename(L, 1));
    luaL_traceback(L, L, msg, 1);
    return 1;
}

bool lu_host_pcall(lu_host *h, int nargs, int nresults, const char *where)
{
    lua_State *L = h->L;
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, traceback);
    lua_insert(L, base);
    int rc = lua_pcall(L, nargs, nresults, base);
    lua_remove(L, base);
    if (rc == LUA_OK) return true;
    lu_host_report_error(h, where);
    return false;
}

/* ---- hashes --------------------------------------------------------- */

static uint64_t fnv64(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    return h;
}

static int l_hash(lua_State *L)
{
    const char *s = lu_lua_to_hashed(L, 1);
    if (!s) return luaL_argerror(L, 1, "string expected");
    lu_lua_push_hash(L, s);
    return 1;
}

static int l_hash_to_hex(lua_State *L)
{
    const char *s = lu_lua_to_hashed(L, 1);
    if (!s) return luaL_argerror(L, 1, "hash expected");
    char buf[17];
    snprintf(buf, sizeof buf, "%016llx", (unsigned long long)fnv64(s));
    lua_pushstring(L, buf);
    return 1;
}

/* ---- pprint --------------------------------------------------------- */

static void pp(lua_State *L, luaL_Buffer *b, int idx, int depth)
{
    idx = lua_absindex(L, idx);
    if (lua_type(L, idx) != LUA_TTABLE || depth > 8) {
        if (lua_type(L, idx) == LUA_TSTRING) {
            luaL_addchar(b, '"');
            luaL_addstring(b, lua_tostring(L, idx));
            luaL_addchar(b, '"');
        } else {
            luaL_tolstring(L, idx, NULL);
            luaL_addvalue(b);
        }
        return;
    }
    luaL_addstring(b, "{\n");
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        for (int i = 0; i <= depth; i++) luaL_addstring(b, "  ");
        luaL_tolstring(L, -2, NULL);
        luaL_addvalue(b);
        luaL_addstring(b, " = ");
        pp(L, b, -1, depth + 1);
        luaL_addstring(b, ",\n");
        lua_pop(L, 1);
    }
    for (int i = 0; i < depth; i++) luaL_addstring(b, "  ");
    luaL_addchar(b, '}');
}

static int l_pprint(lua_State *L)
{
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 1; i <= n; i++) {
        if (i > 1) luaL_addstring(&b, ", ");
        pp(L, &b, i, 0);
    }
    luaL_pushresult(&b);
    printf("DEBUG:SCRIPT: %s\n", lua_tostring(L, -1));
    fflush(stdout);
    return 0;
}

void lu_host_open_globals(lua_State *L)
{
    lua_register(L, "hash", l_hash);
    lua_register(L, "hash_to_hex", l_hash_to_hex);
    lua_register(L, "pprint", l_pprint);
}
