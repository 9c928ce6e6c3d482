/* liveupdate_hash.c -- Defold's hash values, shared by the module and the
 * runtime's `hash` global (lua/host/host_core.c).
 *
 * A hash is an interned userdata printing as "hash: [name]": equal strings
 * give the same value, so `name == hash("level")` and hashes as table keys
 * work as in Defold. The module accepts a mount name as a string or a hash,
 * and gives names back as hashes when the game speaks Defold 1.13
 * (liveupdate_lua.h, lu_lua_set_defold_api). A leaf: it calls no other file
 * of the module.
 */
#include <lauxlib.h>

#include "liveupdate_lua.h"

#define HASH_META "liveupdate.hash"
#define HASH_INTERN "liveupdate.hash.intern"

static int hash_tostring(lua_State *L)
{
    lua_getiuservalue(L, 1, 1);
    lua_pushfstring(L, "hash: [%s]", lua_tostring(L, -1));
    return 1;
}

static int hash_concat(lua_State *L)
{
    luaL_tolstring(L, 1, NULL);
    luaL_tolstring(L, 2, NULL);
    lua_concat(L, 2);
    return 1;
}

/* The metatable and the intern table, created on first use. */
static void ensure(lua_State *L)
{
    if (luaL_newmetatable(L, HASH_META)) {
        lua_pushcfunction(L, hash_tostring);
        lua_setfield(L, -2, "__tostring");
        lua_pushcfunction(L, hash_concat);
        lua_setfield(L, -2, "__concat");
        lua_pushliteral(L, "hash");
        lua_setfield(L, -2, "__name");
        lua_newtable(L);
        lua_setfield(L, LUA_REGISTRYINDEX, HASH_INTERN);
    }
    lua_pop(L, 1);
}

void lu_lua_push_hash(lua_State *L, const char *s)
{
    ensure(L);
    lua_getfield(L, LUA_REGISTRYINDEX, HASH_INTERN);
    if (lua_getfield(L, -1, s) != LUA_TNIL) {
        lua_remove(L, -2);
        return;
    }
    lua_pop(L, 1);
    lua_newuserdatauv(L, 0, 1);
    lua_pushstring(L, s);
    lua_setiuservalue(L, -2, 1);
    luaL_setmetatable(L, HASH_META);
    lua_pushvalue(L, -1);
    lua_setfield(L, -3, s);
    lua_remove(L, -2);
}

const char *lu_lua_to_hashed(lua_State *L, int idx)
{
    if (lua_type(L, idx) == LUA_TSTRING) return lua_tostring(L, idx);
    if (!luaL_testudata(L, idx, HASH_META)) return NULL;
    lua_getiuservalue(L, idx, 1);
    const char *s = lua_tostring(L, -1);
    lua_pop(L, 1);   /* the interned userdata keeps the string alive */
    return s;
}
