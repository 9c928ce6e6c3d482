/* host_sys.c -- Defold's `sys` module as lurun provides it:
 *   sys.load_resource(path) -> data | nil, message   (through the mounts)
 *   sys.get_save_file(app, file) -> absolute path (creates the app folder)
 *   sys.get_config_int(key[, default]) / get_config_number / get_config_string
 *   sys.exit(code)
 * Config keys are "section.key" of game.project (with --set overrides).
 * A value of the wrong type raises an error naming file, line and key.
 */
#include <lauxlib.h>
#include <string.h>
#include <sys/stat.h>

#include "host.h"

static lu_host *host(lua_State *L)
{
    lu_host *h = lu_host_get(L);
    if (!h) luaL_error(L, "sys: not running inside lurun");
    return h;
}

static int l_load_resource(lua_State *L)
{
    lu_host *h = host(L);
    const char *path = luaL_checkstring(L, 1);
    void *data;
    size_t size;
    lu_error err;
    if (lu_read(h->ctx, path, &data, &size, &err) != LU_OK) {
        lua_pushnil(L);
        lua_pushstring(L, err.message);
        return 2;
    }
    lua_pushlstring(L, data, size);
    lu_free(h->ctx, data);
    return 1;
}

static int l_get_save_file(lua_State *L)
{
    lu_host *h = host(L);
    const char *app = luaL_checkstring(L, 1);
    const char *file = luaL_checkstring(L, 2);
    if (!app[0] || strchr(app, '/') || strcmp(app, "..") == 0 || strcmp(app, ".") == 0)
        return luaL_argerror(L, 1, "application id must be a plain folder name");
    if (!file[0] || file[0] == '/' || strstr(file, ".."))
        return luaL_argerror(L, 2, "file name must be relative and stay inside the folder");
    lua_pushfstring(L, "%s/%s", h->save_root, app);
    const char *dir = lua_tostring(L, -1);
    struct stat sb;
    if (stat(dir, &sb) != 0 && mkdir(dir, 0755) != 0)
        return luaL_error(L, "sys.get_save_file: cannot create '%s'", dir);
    lua_pushfstring(L, "%s/%s", dir, file);
    return 1;
}

static int l_get_config_string(lua_State *L)
{
    lu_host *h = host(L);
    const char *v = lu_project_get(h->project, luaL_checkstring(L, 1));
    if (v) lua_pushstring(L, v);
    else if (lua_isnoneornil(L, 2)) lua_pushnil(L);
    else lua_pushstring(L, luaL_checkstring(L, 2));
    return 1;
}

static int l_get_config_int(lua_State *L)
{
    lu_host *h = host(L);
    const char *key = luaL_checkstring(L, 1);
    lua_Integer def = luaL_optinteger(L, 2, 0);
    long long v;
    lu_error err;
    if (lu_project_get_int(h->project, key, def, &v, &err) != LU_OK) return luaL_error(L, "%s", err.message);
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

static int l_get_config_number(lua_State *L)
{
    lu_host *h = host(L);
    const char *key = luaL_checkstring(L, 1);
    lua_Number def = luaL_optnumber(L, 2, 0);
    double v;
    lu_error err;
    if (lu_project_get_number(h->project, key, def, &v, &err) != LU_OK) return luaL_error(L, "%s", err.message);
    lua_pushnumber(L, v);
    return 1;
}

static int l_exit(lua_State *L)
{
    lu_host *h = host(L);
    h->exit_code = (int)luaL_checkinteger(L, 1);
    h->exit_requested = true;
    return 0;
}

int lu_host_open_sys(lua_State *L)
{
    static const luaL_Reg f[] = {
        {"load_resource", l_load_resource},
        {"get_save_file", l_get_save_file},
        {"get_config_string", l_get_config_string},
        {"get_config_int", l_get_config_int},
        {"get_config_number", l_get_config_number},
        {"exit", l_exit},
        {NULL, NULL},
    };
    luaL_newlib(L, f);
    return 1;
}
