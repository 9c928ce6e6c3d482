/* host_json.c -- Defold's `json` module on cJSON: json.encode(value),
 * json.decode(text). Both raise a Lua error naming the problem (bad JSON
 * with its position, a value that cannot be encoded) as Defold does.
 *
 * decode: objects become tables, arrays become sequences (1-based), null
 * becomes nil (json.null is not exposed, as in Defold). The whole string
 * must be the value (white space around it only); a string with the escape
 * \u0000 raises (cJSON's strings end at a NUL, so it would be cut short).
 * encode: a table with keys 1..n only is an array, the empty table is an
 * object; other keys must be strings or numbers.
 */
#include <lauxlib.h>
#include <math.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "host.h"
#include "liveupdate_lua.h"

#define MAX_DEPTH 200

static int depth_of(const cJSON *j)
{
    int d = 0;
    for (const cJSON *c = j->child; c; c = c->next) {
        int k = depth_of(c);
        if (k > d) d = k;
    }
    return d + 1;
}

static void push_json(lua_State *L, const cJSON *j, int depth)
{
    luaL_checkstack(L, 3, "json.decode: nesting too deep");
    if (cJSON_IsObject(j)) {
        lua_createtable(L, 0, cJSON_GetArraySize(j));
        for (const cJSON *c = j->child; c; c = c->next) {
            push_json(L, c, depth + 1);
            lua_setfield(L, -2, c->string);
        }
    } else if (cJSON_IsArray(j)) {
        lua_createtable(L, cJSON_GetArraySize(j), 0);
        lua_Integer i = 1;
        for (const cJSON *c = j->child; c; c = c->next) {
            push_json(L, c, depth + 1);
            lua_rawseti(L, -2, i++);
        }
    } else if (cJSON_IsString(j)) {
        lua_pushstring(L, j->valuestring);
    } else if (cJSON_IsNumber(j)) {
        double d = j->valuedouble;
        if (d == floor(d) && fabs(d) < 9007199254740992.0) lua_pushinteger(L, (lua_Integer)d);
        else lua_pushnumber(L, d);
    } else if (cJSON_IsBool(j)) {
        lua_pushboolean(L, cJSON_IsTrue(j));
    } else {
        lua_pushnil(L);
    }
}

/* The 1-based position of the first \u0000 escape of a text cJSON parsed
 * (so every backslash starts an escape inside a string), or 0. cJSON's
 * strings end at their first NUL: decoding one would silently cut the
 * string there. */
static size_t nul_escape(const char *text, size_t len)
{
    for (size_t i = 0; i + 1 < len; i++) {
        if (text[i] != '\\') continue;
        if (text[i + 1] == 'u' && len - i >= 6 && memcmp(text + i + 2, "0000", 4) == 0) return i + 1;
        i++;   /* the escaped character: "\\\\" is one escape */
    }
    return 0;
}

static int l_decode(lua_State *L)
{
    size_t len;
    const char *text = luaL_checklstring(L, 1, &len);
    const char *end = NULL;
    /* the whole string: its NUL (Lua keeps one after the bytes) must end
     * the value, so trailing bytes and an embedded NUL are refused */
    cJSON *j = cJSON_ParseWithLengthOpts(text, len + 1, &end, 1);
    if (j && end != text + len) {   /* defensive: cJSON skips a NUL as white space */
        cJSON_Delete(j);
        j = NULL;
    }
    if (!j) {
        size_t at = end && end >= text ? (size_t)(end - text) : 0;
        if (at > len) at = len;
        return luaL_error(L, "json.decode: invalid JSON at byte %d near '%s'", (int)at + 1,
                          lua_pushlstring(L, text + at, len - at > 20 ? 20 : len - at));
    }
    if (depth_of(j) > MAX_DEPTH) {
        cJSON_Delete(j);
        return luaL_error(L, "json.decode: nesting deeper than %d levels", MAX_DEPTH);
    }
    size_t nul = nul_escape(text, len);   /* all of text is the value */
    if (nul) {
        cJSON_Delete(j);
        return luaL_error(L, "json.decode: a string with \\u0000 (a NUL character) at byte %d is not supported",
                          (int)nul);
    }
    push_json(L, j, 0);
    cJSON_Delete(j);
    return 1;
}

static cJSON *to_json(lua_State *L, int idx, int depth);

/* Raises for anything encode cannot represent, before any cJSON exists,
 * so an error never leaks a half-built tree. */
static void check_encodable(lua_State *L, int idx, int depth)
{
    if (depth > MAX_DEPTH) luaL_error(L, "json.encode: nesting deeper than %d levels (a cycle?)", MAX_DEPTH);
    int t = lua_type(L, idx);
    if (t == LUA_TNUMBER && !isfinite(lua_tonumber(L, idx)))
        luaL_error(L, "json.encode: cannot encode %f", lua_tonumber(L, idx));
    if (t == LUA_TTABLE) {
        luaL_checkstack(L, 4, "json.encode: nesting too deep");
        lua_pushnil(L);
        while (lua_next(L, idx)) {
            int kt = lua_type(L, -2);
            if (kt != LUA_TSTRING && kt != LUA_TNUMBER)
                luaL_error(L, "json.encode: table keys must be strings or numbers, got %s", lua_typename(L, kt));
            check_encodable(L, lua_gettop(L), depth + 1);
            lua_pop(L, 1);
        }
    } else if (t != LUA_TNIL && t != LUA_TBOOLEAN && t != LUA_TNUMBER && t != LUA_TSTRING &&
               !lu_lua_to_hashed(L, idx)) {
        luaL_error(L, "json.encode: cannot encode a %s value", luaL_typename(L, idx));
    }
}

static bool is_array(lua_State *L, int idx, lua_Integer *n)
{
    *n = 0;
    lua_Integer count = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1) {
            lua_pop(L, 1);
            return false;
        }
        count++;
    }
    *n = count;
    return count > 0 && (lua_Integer)lua_rawlen(L, idx) == count;
}

static cJSON *table_to_json(lua_State *L, int idx, int depth)
{
    lua_Integer n;
    if (is_array(L, idx, &n)) {
        cJSON *a = cJSON_CreateArray();
        for (lua_Integer i = 1; a && i <= n; i++) {
            lua_rawgeti(L, idx, i);
            cJSON_AddItemToArray(a, to_json(L, lua_gettop(L), depth + 1));
            lua_pop(L, 1);
        }
        return a;
    }
    cJSON *o = cJSON_CreateObject();
    lua_pushnil(L);
    while (o && lua_next(L, idx)) {
        lua_pushvalue(L, -2);
        const char *key = lua_tostring(L, -1);   /* converts the copy, not the key */
        cJSON_AddItemToObject(o, key, to_json(L, lua_gettop(L) - 1, depth + 1));
        lua_pop(L, 2);
    }
    return o;
}

/* Builds the tree of a value check_encodable accepted; never raises. */
static cJSON *to_json(lua_State *L, int idx, int depth)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL: return cJSON_CreateNull();
    case LUA_TBOOLEAN: return cJSON_CreateBool(lua_toboolean(L, idx));
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) return cJSON_CreateNumber((double)lua_tointeger(L, idx));
        return cJSON_CreateNumber(lua_tonumber(L, idx));
    case LUA_TSTRING: return cJSON_CreateString(lua_tostring(L, idx));
    case LUA_TTABLE: return table_to_json(L, idx, depth);
    default: return cJSON_CreateString(lu_lua_to_hashed(L, idx));
    }
}

static int l_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    lua_settop(L, 1);
    check_encodable(L, 1, 0);
    cJSON *j = to_json(L, 1, 0);
    char *text = j ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) return luaL_error(L, "json.encode: out of memory");
    lua_pushstring(L, text);
    cJSON_free(text);
    return 1;
}

int lu_host_open_json(lua_State *L)
{
    static const luaL_Reg f[] = {{"encode", l_encode}, {"decode", l_decode}, {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}
