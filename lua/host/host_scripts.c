/* host_scripts.c -- script instances: loading Lua scripts through the
 * mounts (so a volume can replace a script) and calling their lifecycle
 * functions init, update, on_message, final; and `require` of game modules
 * through the mounts.
 *
 * As in Defold (shared_state, its default), every script and module runs
 * in one global environment: a global set by one script is seen by the
 * others and by modules. A script's lifecycle functions are global
 * definitions taken out of the globals right after its chunk ran, so two
 * scripts may both define `init`; `self` is per instance. Errors are
 * reported with the script's resource path and line
 * ("/main/main.lua:12: ...").
 *
 * `require "a.b"` looks in package.preload, then for the resource
 * /a/b.lua through the mounts (a volume that updates a module wins by
 * priority, like any resource), never in the file system, as Defold. While
 * the content is blocked below min_version, modules come from the base
 * bundle, like the main script.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "liveupdate_lua.h"

#define SELF_URLS "lurun.self_urls"

/* Defold's lifecycle functions of a script */
static const char *const lifecycle[] = {"init",      "final",        "update",   "fixed_update",
                                        "late_update", "on_message", "on_input", "on_reload", NULL};

static void clear_lifecycle(lua_State *L)
{
    for (int i = 0; lifecycle[i]; i++) {
        lua_pushnil(L);
        lua_setglobal(L, lifecycle[i]);
    }
}

/* The searcher: "a.b" -> the resource /a/b.lua through the mounts. */
static int search_mounts(lua_State *L)
{
    lu_host *h = lu_host_get(L);
    const char *name = luaL_checkstring(L, 1);
    if (!h || !h->ctx) return 0;
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    luaL_addchar(&b, '/');
    for (const char *c = name; *c; c++) luaL_addchar(&b, *c == '.' ? '/' : *c);
    luaL_addstring(&b, ".lua");
    luaL_pushresult(&b);
    const char *path = lua_tostring(L, -1);
    void *data;
    size_t size;
    lu_error err;
    lu_status st = h->blocked ? lu_read_from(h->ctx, LU_BASE_MOUNT, path, &data, &size, &err)
                              : lu_read(h->ctx, path, &data, &size, &err);
    if (st == LU_NOT_FOUND || st == LU_INVAL) {
        lua_pushfstring(L, "no resource '%s' in the mounts", path);
        return 1;
    }
    if (st != LU_OK) return luaL_error(L, "error loading module '%s' from %s: %s", name, path, err.message);
    lua_pushfstring(L, "@%s", path);
    int rc = luaL_loadbufferx(L, data, size, lua_tostring(L, -1), "t");
    lu_free(h->ctx, data);
    if (rc != LUA_OK)
        return luaL_error(L, "error loading module '%s' from %s:\n\t%s", name, path, lua_tostring(L, -1));
    lua_pushvalue(L, -3);   /* the path: the loader's second argument */
    return 2;
}

void lu_host_scripts_init(lua_State *L)
{
    /* package.preload, then the mounts; never the file system (Defold
     * loads modules from the game's archives only: a module that a game
     * finds next to it on a developer's machine would be missing when it
     * ships) */
    lua_getglobal(L, "package");
    lua_getfield(L, -1, "searchers");
    for (lua_Integer i = (lua_Integer)luaL_len(L, -1); i >= 2; i--) {
        lua_pushnil(L);
        lua_rawseti(L, -2, i);
    }
    lua_pushcfunction(L, search_mounts);
    lua_rawseti(L, -2, 2);
    lua_pop(L, 2);
    lua_newtable(L);
    lua_createtable(L, 0, 1);
    lua_pushliteral(L, "k");
    lua_setfield(L, -2, "__mode");
    lua_setmetatable(L, -2);
    lua_setfield(L, LUA_REGISTRYINDEX, SELF_URLS);
}

const char *lu_host_sender(lu_host *h)
{
    if (h->current_url) return h->current_url;
    /* a liveupdate callback: the script is the one whose self it got */
    lua_State *L = h->L;
    lua_getfield(L, LUA_REGISTRYINDEX, SELF_URLS);
    lu_lua_push_self(L);
    lua_rawget(L, -2);
    const char *url = lua_tostring(L, -1);
    lu_script *s = url ? lu_host_find_script(h, url) : NULL;
    lua_pop(L, 2);
    return s ? s->url : NULL;
}

lu_script *lu_host_find_script(lu_host *h, const char *url)
{
    for (size_t i = 0; i < h->nscripts; i++)
        if (strcmp(h->scripts[i].url, url) == 0) return &h->scripts[i];
    return NULL;
}

lu_script *lu_host_load_script(lu_host *h, const char *path, const char *url, const char *proxy)
{
    lua_State *L = h->L;
    void *data;
    size_t size;
    lu_error err;
    bool base = h->main_from_base;
    h->main_from_base = false;
    if ((base ? lu_read_from(h->ctx, LU_BASE_MOUNT, path, &data, &size, &err) : lu_read(h->ctx, path, &data, &size, &err)) !=
        LU_OK) {
        fprintf(stderr, "lurun: cannot load script %s: %s\n", path, err.message);
        if (!h->first_error[0])
            snprintf(h->first_error, sizeof h->first_error, "cannot load script %.200s: %.370s", path, err.message);
        h->script_errors++;
        return NULL;
    }
    char chunkname[1100];
    snprintf(chunkname, sizeof chunkname, "@%s", path);
    int rc = luaL_loadbufferx(L, data, size, chunkname, "t");
    lu_free(h->ctx, data);
    if (rc != LUA_OK) {
        lu_host_report_error(h, path);
        return NULL;
    }
    clear_lifecycle(L);
    const char *prev = h->current_url;
    h->current_url = url;
    bool ok = lu_host_pcall(h, 0, 0, path);
    h->current_url = prev;
    /* the script's lifecycle functions, taken out of the shared globals */
    lua_newtable(L);
    for (int i = 0; ok && lifecycle[i]; i++) {
        int t = lua_getglobal(L, lifecycle[i]);
        if (t == LUA_TFUNCTION) lua_setfield(L, -2, lifecycle[i]);
        else {
            if (t != LUA_TNIL) fprintf(stderr, "WARNING:SCRIPT: '%s' is not a function (%s)\n", lifecycle[i], path);
            lua_pop(L, 1);
        }
    }
    clear_lifecycle(L);
    int env_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    if (!ok) {
        luaL_unref(L, LUA_REGISTRYINDEX, env_ref);
        return NULL;
    }
    lu_script *grown = realloc(h->scripts, (h->nscripts + 1) * sizeof *grown);
    if (!grown) {
        luaL_unref(L, LUA_REGISTRYINDEX, env_ref);
        return NULL;
    }
    h->scripts = grown;
    lu_script *s = &h->scripts[h->nscripts++];
    memset(s, 0, sizeof *s);
    s->url = strdup(url);
    s->path = strdup(path);
    s->proxy = proxy ? strdup(proxy) : NULL;
    s->env_ref = env_ref;
    lua_newtable(L);
    lua_getfield(L, LUA_REGISTRYINDEX, SELF_URLS);   /* self table -> URL, for callbacks */
    lua_pushvalue(L, -2);
    lua_pushstring(L, url);
    lua_rawset(L, -3);
    lua_pop(L, 1);
    s->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    return s;
}

bool lu_host_call(lu_host *h, lu_script *s, const char *fn, int nargs)
{
    lua_State *L = h->L;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->env_ref);
    lua_getfield(L, -1, fn);
    lua_remove(L, -2);
    if (!lua_isfunction(L, -1)) {
        lua_pop(L, 1 + nargs);
        return true;
    }
    lua_insert(L, -1 - nargs);
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->self_ref);
    lua_insert(L, -1 - nargs);
    /* remember which script runs: msg.post's sender, add_mount's self */
    const char *prev = h->current_url;
    h->current_url = s->url;
    lua_rawgeti(L, LUA_REGISTRYINDEX, s->self_ref);
    lu_lua_set_self(L, -1);
    lua_pop(L, 1);
    char where[1200];
    snprintf(where, sizeof where, "%s (%s)", s->path, fn);
    bool ok = lu_host_pcall(h, nargs + 1, 0, where);
    h->current_url = prev;
    return ok;
}

static void script_free(lu_host *h, lu_script *s)
{
    luaL_unref(h->L, LUA_REGISTRYINDEX, s->env_ref);
    luaL_unref(h->L, LUA_REGISTRYINDEX, s->self_ref);
    free(s->url);
    free(s->path);
    free(s->proxy);
}

void lu_host_unload_scripts_of(lu_host *h, const char *proxy)
{
    size_t k = 0;
    for (size_t i = 0; i < h->nscripts; i++) {
        if (h->scripts[i].proxy && strcmp(h->scripts[i].proxy, proxy) == 0) script_free(h, &h->scripts[i]);
        else h->scripts[k++] = h->scripts[i];
    }
    h->nscripts = k;
}

void lu_host_free_scripts(lu_host *h)
{
    for (size_t i = 0; i < h->nscripts; i++) script_free(h, &h->scripts[i]);
    free(h->scripts);
    h->scripts = NULL;
    h->nscripts = 0;
}
