/* host_url.c -- Defold's URL objects, for msg (host_msg.c) and
 * collectionproxy (host_proxy.c).
 *
 *   msg.url() -> URL object of the running script; msg.url(str) parses
 *       "[socket:][path][#fragment]" (relative to the running script);
 *       msg.url(socket, path, fragment) builds one (nil parts as Defold:
 *       a nil socket is the running script's; with it a nil path is the
 *       script's, and with both a nil fragment is the script's).
 *
 * A URL object is a userdata holding socket, path and fragment as strings;
 * `url.socket`, `url.path`, `url.fragment` read as hashes (nil when
 * absent) and can be assigned a string, hash or nil; tostring gives
 * "url: [socket:/path#fragment]"; two URL objects of the same value are
 * equal (==).
 */
#include <lauxlib.h>
#include <stdio.h>
#include <string.h>

#include "host.h"
#include "liveupdate_lua.h"

/* ---- URL objects ----------------------------------------------------- */

#define URL_META "lurun.url"
enum { U_SOCKET = 1, U_PATH = 2, U_FRAGMENT = 3 };

/* Splits "socket:path#fragment" into the three parts (each NULL when
 * absent) on the stack: pushes exactly three values. */
static void push_parts(lua_State *L, const char *url)
{
    const char *colon = strchr(url, ':'), *frag = strchr(url, '#');
    if (colon && frag && colon > frag) colon = NULL;
    if (colon) lua_pushlstring(L, url, (size_t)(colon - url));
    else lua_pushnil(L);
    const char *path = colon ? colon + 1 : url;
    size_t plen = frag ? (size_t)(frag - path) : strlen(path);
    if (plen) lua_pushlstring(L, path, plen);
    else lua_pushnil(L);
    if (frag && frag[1]) lua_pushstring(L, frag + 1);
    else lua_pushnil(L);
}

/* Pops socket, path, fragment (strings or nil) into a new URL object. */
static void new_url(lua_State *L)
{
    lua_newuserdatauv(L, 0, 3);
    luaL_setmetatable(L, URL_META);
    lua_insert(L, -4);
    for (int i = U_FRAGMENT; i >= U_SOCKET; i--) lua_setiuservalue(L, -(i + 1), i);
}

void lu_host_push_url(lua_State *L, const char *url)
{
    push_parts(L, url ? url : "");
    new_url(L);
}

/* Writes the URL object at idx as "socket:path#fragment" into buf (NULL
 * when it does not fit). */
static const char *url_string(lua_State *L, int idx, char *buf, size_t cap)
{
    const char *part[3];
    for (int i = 0; i < 3; i++) {
        lua_getiuservalue(L, idx, U_SOCKET + i);
        part[i] = lua_tostring(L, -1);   /* the uservalue keeps the string alive */
        lua_pop(L, 1);
    }
    int n = snprintf(buf, cap, "%s%s%s%s%s", part[0] ? part[0] : "", part[0] ? ":" : "", part[1] ? part[1] : "",
                     part[2] ? "#" : "", part[2] ? part[2] : "");
    return n >= 0 && (size_t)n < cap ? buf : NULL;
}

const char *lu_host_to_url_string(lua_State *L, int idx, char *buf, size_t cap)
{
    if (luaL_testudata(L, idx, URL_META)) return url_string(L, idx, buf, cap);
    const char *s = lu_lua_to_hashed(L, idx);
    if (!s) return NULL;
    int n = snprintf(buf, cap, "%s", s);
    return n >= 0 && (size_t)n < cap ? buf : NULL;
}

/* The uservalue slot of field `socket`, `path` or `fragment`; raises as
 * Defold does for any other key. */
static int url_field(lua_State *L, int arg)
{
    const char *k = lua_tostring(L, arg);
    if (k && strcmp(k, "socket") == 0) return U_SOCKET;
    if (k && strcmp(k, "path") == 0) return U_PATH;
    if (k && strcmp(k, "fragment") == 0) return U_FRAGMENT;
    return luaL_error(L, "msg.url only has fields socket, path, fragment.");
}

static int url_index(lua_State *L)
{
    int f = url_field(L, 2);
    if (lua_getiuservalue(L, 1, f) == LUA_TNIL) return 1;
    lu_lua_push_hash(L, lua_tostring(L, -1));
    return 1;
}

static int url_newindex(lua_State *L)
{
    int f = url_field(L, 2);
    if (lua_isnil(L, 3)) {
        lua_pushnil(L);
    } else {
        const char *s = lu_lua_to_hashed(L, 3);
        if (!s) return luaL_argerror(L, 3, "string, hash or nil expected");
        if (f == U_PATH && s[0] && s[0] != '/') lua_pushfstring(L, "/%s", s);
        else lua_pushstring(L, s);
    }
    lua_setiuservalue(L, 1, f);
    return 0;
}

static int url_tostring(lua_State *L)
{
    char buf[1200];
    lua_pushfstring(L, "url: [%s]", url_string(L, 1, buf, sizeof buf) ? buf : "(too long)");
    return 1;
}

/* As Defold: "text" .. url gives "text[socket:path#fragment]". */
static int url_concat(lua_State *L)
{
    char buf[1200];
    for (int i = 1; i <= 2; i++) {
        if (luaL_testudata(L, i, URL_META)) lua_pushfstring(L, "[%s]", url_string(L, i, buf, sizeof buf) ? buf : "");
        else luaL_tolstring(L, i, NULL);
    }
    lua_concat(L, 2);
    return 1;
}

static int url_eq(lua_State *L)
{
    bool same = luaL_testudata(L, 1, URL_META) && luaL_testudata(L, 2, URL_META);
    for (int i = U_SOCKET; same && i <= U_FRAGMENT; i++) {
        lua_getiuservalue(L, 1, i);
        lua_getiuservalue(L, 2, i);
        same = lua_rawequal(L, -1, -2);
        lua_pop(L, 2);
    }
    lua_pushboolean(L, same);
    return 1;
}

/* The running script's URL split into its parts (three values). */
static void push_self_parts(lua_State *L)
{
    lu_host *h = lu_host_get(L);
    push_parts(L, h && lu_host_sender(h) ? lu_host_sender(h) : "");
}

/* msg.url(str): "#" or nil the running script, "." its game object,
 * "#x" a component of it, "path#x" or "socket:path#x" as written (a path
 * without "/" is an id in the running script's collection). */
static void url_from_string(lua_State *L, const char *str)
{
    int top = lua_gettop(L);
    push_self_parts(L);   /* top+1 socket, top+2 path, top+3 fragment */
    if (!str || strcmp(str, "#") == 0 || !str[0]) {
        new_url(L);
        return;
    }
    if (strcmp(str, ".") == 0) {
        lua_pop(L, 1);
        lua_pushnil(L);
        new_url(L);
        return;
    }
    push_parts(L, str);   /* top+4..top+6 */
    bool has_socket = !lua_isnil(L, top + 4), has_path = !lua_isnil(L, top + 5);
    if (has_socket) lua_copy(L, top + 4, top + 1);
    if (has_path) {
        const char *p = lua_tostring(L, top + 5);
        if (p[0] != '/') lua_pushfstring(L, "/%s", p);
        else lua_pushvalue(L, top + 5);
        lua_replace(L, top + 2);
    } else if (has_socket) {
        lua_pushnil(L);
        lua_replace(L, top + 2);
    }
    lua_copy(L, top + 6, top + 3);
    lua_settop(L, top + 3);
    new_url(L);
}

/* msg.url(socket, path, fragment), Defold's rules for nil parts. */
static void url_from_parts(lua_State *L)
{
    const char *part[3];
    for (int i = 0; i < 3; i++) {
        part[i] = lua_isnil(L, i + 1) ? NULL : lu_lua_to_hashed(L, i + 1);
        if (!lua_isnil(L, i + 1) && !part[i]) luaL_argerror(L, i + 1, "string, hash or nil expected");
    }
    if (part[0] && !part[1] && part[2]) luaL_error(L, "Can't resolve id with specified socket and fragment.");
    int top = lua_gettop(L);
    push_self_parts(L);
    if (part[0]) lua_pushstring(L, part[0]);
    else lua_pushvalue(L, top + 1);
    if (part[1] && part[1][0]) {
        if (part[1][0] == '/') lua_pushstring(L, part[1]);
        else lua_pushfstring(L, "/%s", part[1]);
    } else if (!part[0]) {
        lua_pushvalue(L, top + 2);
    } else {
        lua_pushnil(L);
    }
    if (part[2]) lua_pushstring(L, part[2]);
    else if (!part[0] && !part[1]) lua_pushvalue(L, top + 3);
    else lua_pushnil(L);
    new_url(L);
}

int lu_host_msg_url(lua_State *L)
{
    int n = lua_gettop(L);
    if (n <= 1) {
        if (n == 1 && luaL_testudata(L, 1, URL_META)) {   /* a copy */
            char buf[1200];
            if (!url_string(L, 1, buf, sizeof buf)) return luaL_argerror(L, 1, "URL too long");
            lu_host_push_url(L, buf);
            return 1;
        }
        const char *s = lua_isnoneornil(L, 1) ? NULL : lu_lua_to_hashed(L, 1);
        if (n == 1 && !lua_isnil(L, 1) && !s) return luaL_argerror(L, 1, "URL string expected");
        url_from_string(L, s);
        return 1;
    }
    if (n != 3)
        return luaL_error(L, "Only msg.url(), msg.url(\"[socket:][path][#fragment]\") or msg.url(socket, path, "
                             "fragment) is supported.");
    url_from_parts(L);
    return 1;
}

void lu_host_url_init(lua_State *L)
{
    static const luaL_Reg meta[] = {
        {"__index", url_index}, {"__newindex", url_newindex}, {"__tostring", url_tostring},
        {"__concat", url_concat}, {"__eq", url_eq}, {NULL, NULL},
    };
    if (luaL_newmetatable(L, URL_META)) {
        luaL_setfuncs(L, meta, 0);
        lua_pushliteral(L, "url");
        lua_setfield(L, -2, "__name");
    }
    lua_pop(L, 1);
}
