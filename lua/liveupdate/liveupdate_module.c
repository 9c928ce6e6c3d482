/* liveupdate_module.c -- the Lua `liveupdate` module (docs/LUA_API.md).
 *
 * Lua API (Defold's, plus §12.1):
 *   add_mount(name, uri, priority, callback[, {replace=bool}]) -> status
 *       callback(self, name, uri, result, message), run from poll();
 *       result LIVEUPDATE_VERSION_MISMATCH for a volume below the game's
 *       minimum (the version floor, applied by lu_mount_add_async)
 *   remove_mount(name) -> status, message
 *   get_mounts() -> {{name, uri, priority}, ...} in lookup order
 *   is_built_with_excluded_files() -> boolean
 *   init{save_dir, base, builtin, mount_on_start, max_uncompressed,
 *        prune_stale, minimum_version, public_key (hex or a file of hex),
 *        ca_file, http_url, max_downloads, update = {url, local_version,
 *        head_url, version_header, head_volume, binary_version,
 *        download = "auto" | "ask"}}
 *       -> true | nil, message, status
 *   poll() -> number of callbacks run
 *   exists(path) -> boolean;  which(path) -> mount name | nil
 *   load_resource(path) -> string | nil, message, status
 *   open(path) -> file (read, seek, close) | nil, message, status:
 *       liveupdate_file.c
 *   list(prefix[, mount]) -> {path, ...} | nil, message, status
 *   get_startup_report() -> {{name, uri, action, status, message}, ...}
 *   shutdown() -> true (callbacks of requests in flight never run)
 *   get_volumes_for(proxy) -> catalog entries of the volumes holding what
 *       the proxy (and its nested proxies) misses: {name, file, size,
 *       sha256, version, priority}
 *   get_catalog() -> every catalog entry of the base manifest
 *   volume_path(file) -> <save>/volumes/<file> | nil, message, status
 *   download_volume, cancel_download, get_downloads: liveupdate_download.c
 *   get_update_manager: liveupdate_update.c
 *   LIVEUPDATE_* status constants; _VERSION = "liveupdate <LU_VERSION_STR>".
 *
 * Two error channels, as in Lua's own libraries: a caller's mistake (wrong
 * argument type, negative priority, reserved or malformed name, missing
 * callback, unknown option) raises "bad argument #n to 'f' (...)", with
 * Defold's wording inside where Defold has one; a failure of the
 * environment returns a status (and a message), or nil, message, status.
 * Without a context (before init or a host's lu_lua_use_context, after
 * shutdown) every function but init answers nil, message,
 * LIVEUPDATE_NOT_INITIALIZED before looking at its arguments; add_mount and
 * remove_mount, whose Defold shape is a status number, answer
 * LIVEUPDATE_NOT_INITIALIZED, message (docs/LUA_API.md has the table).
 * A host that turned live update off (lu_lua_set_live_update_off: lurun's
 * [liveupdate] enabled = 0) keeps its context for the reads (get_mounts,
 * exists, which, load_resource, list, get_volumes_for...), and the calls
 * that change or download (add_mount, remove_mount, init, download_volume,
 * cancel_download, get_update_manager, the legacy stores) answer the same
 * way with the host's message (lu_lua__can_change).
 *
 * The module's state is one userdata kept as an upvalue of every function
 * and in the registry (for hosts); require creates no globals.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "liveupdate/crypto.h"
#include "liveupdate/manifest.h"
#include "liveupdate/updater.h"
#include "liveupdate_lua.h"
#include "liveupdate_state.h"

/* Lets go of the context: closes it when owned (its undelivered requests
 * are dropped with it, so their records are freed); the records of a
 * context the host keeps are only marked dead and wait for it. */
static void state_close(lua_State *L, state *st)
{
    if (st->owns_manifest) lu_manifest_free(st->manifest);
    st->manifest = NULL;
    st->owns_manifest = 0;
    lu_context *dropped = st->owned ? st->ctx : NULL;
    lu_lua__files_close(st);   /* before their context may close */
    if (dropped) lu_context_close(dropped);
    lu_lua__pending_release(st, dropped);
    st->ctx = NULL;
    st->owned = 0;
    free(st->http_url);
    st->http_url = NULL;
    for (int i = 0; i < 3; i++) {
        luaL_unref(L, LUA_REGISTRYINDEX, st->um_handler[i]);
        luaL_unref(L, LUA_REGISTRYINDEX, st->um_self[i]);
        luaL_unref(L, LUA_REGISTRYINDEX, st->um_result[i]);
        st->um_handler[i] = st->um_self[i] = st->um_result[i] = LUA_NOREF;
    }
    luaL_unref(L, LUA_REGISTRYINDEX, st->um_compare);
    st->um_compare = LUA_NOREF;
    st->restart_requested = false;
}

static int state_gc(lua_State *L)
{
    state *st = luaL_checkudata(L, 1, STATE_KEY);
    state_close(L, st);
    free(st->off_message);
    st->off_message = NULL;
    /* The Lua world ends: the host closes its context next without
     * updating it (liveupdate_lua.h), so no record is delivered any more. */
    lu_lua__pending_free_all(st);
    luaL_unref(L, LUA_REGISTRYINDEX, st->self_ref);
    st->self_ref = LUA_NOREF;
    return 0;
}

/* ---- mounts --------------------------------------------------------- */

typedef struct mount_done {
    state *st;
    int cb, self;
    const char *name, *uri;
    const lu_error *err;
} mount_done;

/* Runs the add_mount callback (inside lu_lua__protected). */
static int mount_done_body(lua_State *L)
{
    const mount_done *d = lua_touserdata(L, 1);
    lu_lua__push_mount_name(d->st, L, d->name);
    lua_pushstring(L, d->uri);
    lua_pushinteger(L, d->err->status);
    if (d->err->status == LU_OK) lua_pushnil(L);
    else lua_pushstring(L, d->err->message);
    lu_lua__call(d->st, d->cb, d->self, 4);
    return 0;
}

/* The context delivers an add_mount (from lu_update): the record is freed
 * here; a dead one runs no Lua. */
static void on_mount_done(void *ud, const char *name, const char *uri, const lu_error *err)
{
    pending *p = ud;
    mount_done d = {p->st, p->cb_ref, p->self_ref, name, uri, err};
    bool live = !p->dead && !p->orphan;
    p->cb_ref = p->self_ref = LUA_NOREF;
    lu_lua__pending_free(p);
    if (live) lu_lua__protected(d.st, mount_done_body, &d);
    luaL_unref(d.st->L, LUA_REGISTRYINDEX, d.cb);
    luaL_unref(d.st->L, LUA_REGISTRYINDEX, d.self);
}

static void check_name(lua_State *L, int arg, const char *name)
{
    lu_error err;
    if (lu_mount_name_check(name, &err) != LU_OK) luaL_argerror(L, arg, err.message);
}

/* add_mount and remove_mount answer a status number (Defold's shape), so
 * before init (or with live update off) they answer the number, then the
 * message. */
static int not_initialized_status(lua_State *L)
{
    lua_pushinteger(L, LU_NOT_INITIALIZED);
    lua_pushstring(L, lu_lua__not_initialized_message(lu_lua__state(L)));
    return 2;
}

static int l_add_mount(lua_State *L)
{
    static const char *const options[] = {"replace", NULL};
    state *st = lu_lua__state(L);
    if (!lu_lua__can_change(st)) return not_initialized_status(L);
    const char *name = lu_lua__check_mount_name(L, 1);
    luaL_checkstring(L, 2);
    lua_Integer prio = luaL_checkinteger(L, 3);
    luaL_argcheck(L, prio >= 0, 3, lua_pushfstring(L, "Priority needs to be a positive number: %d", (int)prio));
    luaL_argcheck(L, prio <= 0x7fffffff, 3, lua_pushfstring(L, "Priority is too large: %I", prio));
    luaL_argcheck(L, name[0] != '_', 1, lua_pushfstring(L, "Name must not start with '_': %s", name));
    check_name(L, 1, name);
    luaL_checktype(L, 4, LUA_TFUNCTION);
    lu_lua__check_options(L, 5, 5, "", options);
    const char *uri = lua_tostring(L, 2);
    unsigned flags = 0;
    if (!lua_isnoneornil(L, 5)) {
        if (lua_getfield(L, 5, "replace") != LUA_TNIL && lua_toboolean(L, -1)) flags |= LU_MOUNT_REPLACE;
        lua_pop(L, 1);
    }
    pending *p = lu_lua__pending_new(L, st, 4);
    lu_error err;
    lu_status s = lu_mount_add_async(st->ctx, name, uri, (int)prio, flags, on_mount_done, p, &err);
    if (s != LU_OK) lu_lua__pending_free(p);
    lua_pushinteger(L, s);
    return 1;
}

static int l_remove_mount(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!lu_lua__can_change(st)) return not_initialized_status(L);
    const char *name = lu_lua__check_mount_name(L, 1);
    luaL_argcheck(L, name[0] != '_', 1, lua_pushfstring(L, "Cannot remove base mounts: %s", name));
    check_name(L, 1, name);
    lu_error err;
    lu_status s = lu_mount_remove(st->ctx, name, &err);
    lua_pushinteger(L, s);
    if (s == LU_OK) lua_pushnil(L);
    else lua_pushstring(L, err.message);
    return 2;
}

static int l_get_mounts(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    lu_mount_info *m;
    size_t n;
    lu_error err;
    if (lu_mounts_get(st->ctx, &m, &n, &err) != LU_OK) return lu_lua__fail_err(L, &err);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 3);
        lu_lua__push_mount_name(st, L, m[i].name);
        lua_setfield(L, -2, "name");
        /* the URI as the script can use it: absolute, even for a volume the
         * mounts file keeps relative to the save directory (docs/FORMATS.md) */
        const char *colon = strchr(m[i].uri, ':');
        lua_pushfstring(L, "%s%s", lua_pushlstring(L, m[i].uri, colon ? (size_t)(colon - m[i].uri + 1) : 0), m[i].path);
        lua_setfield(L, -3, "uri");
        lua_pop(L, 1);
        lu_lua__set_int(L, "priority", m[i].priority);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lu_free(st->ctx, m);
    return 1;
}

/* True when the base bundle's manifest lists an excluded proxy. */
static int l_is_built_with_excluded_files(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    int excluded = 0;
    void *data;
    size_t size;
    lu_error err;
    if (lu_read_from(st->ctx, LU_BASE_MOUNT, "/liveupdate.manifest.json", &data, &size, &err) == LU_OK) {
        lu_manifest *m;
        if (lu_manifest_parse(data, size, &m, &err) == LU_OK) {
            for (size_t i = 0; i < m->nproxies; i++) excluded |= m->proxies[i].excluded;
            lu_manifest_free(m);
        }
        lu_free(st->ctx, data);
    }
    lua_pushboolean(L, excluded);
    return 1;
}

/* ---- volumes and the catalog ---------------------------------------- */

/* Reads the base bundle's manifest (for the catalog); absent is fine. */
static void load_base_manifest(state *st)
{
    void *data;
    size_t size;
    lu_error err;
    if (lu_read_from(st->ctx, LU_BASE_MOUNT, "/liveupdate.manifest.json", &data, &size, &err) != LU_OK) return;
    if (lu_manifest_parse(data, size, &st->manifest, &err) == LU_OK) st->owns_manifest = 1;
    lu_free(st->ctx, data);
}

static void push_volume(lua_State *L, const lu_manifest_volume *v)
{
    lua_createtable(L, 0, 6);
    lu_lua__set_str(L, "name", v->name);
    lu_lua__set_str(L, "file", v->file);
    lu_lua__set_int(L, "size", (lua_Integer)v->size);
    lua_pushstring(L, v->sha256);
    lua_setfield(L, -2, "sha256");
    lu_lua__set_int(L, "version", (lua_Integer)v->version);
    lu_lua__set_int(L, "priority", v->priority);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The catalog entries of the volumes that hold what `proxy` (and its
 * nested proxies) is missing now, in catalog order. */
static int l_get_volumes_for(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    const char *proxy = lu_lua_to_hashed(L, 1);   /* "level1", "#level1" or hash("level1") */
    if (!proxy) return luaL_typeerror(L, 1, "string or hash");
    const lu_manifest *m = st->manifest;
    luaL_argcheck(L, m && lu_manifest_find_proxy(m, proxy), 1,
                  lua_pushfstring(L, "no collection proxy '%s' in the manifest", proxy));
    /* the volumes of the proxies that miss something (before lu_manifest_missing:
     * running out of Lua memory here raises with nothing to free) */
    const char **needed = lua_newuserdatauv(L, (m->nproxies + 1) * sizeof *needed, 0);
    char **missing;
    size_t n;
    lu_error err;
    if (lu_manifest_missing(st->ctx, m, proxy, 1, &missing, &n, &err) != LU_OK) return lu_lua__fail_err(L, &err);
    /* a volume is needed when an excluded proxy it holds has a missing
     * resource: each resource looked up once in the sorted missing paths,
     * each proxy's volume matched once (no scan of missing x resources) */
    qsort(missing, n, sizeof *missing, cmp_str);
    size_t nneeded = 0;
    for (size_t p = 0; n && p < m->nproxies; p++) {
        const lu_manifest_proxy *px = &m->proxies[p];
        if (!px->excluded || !px->volume) continue;
        bool miss = false;
        for (size_t r = 0; r < px->nresources && !miss; r++)
            miss = bsearch(&px->resources[r], missing, n, sizeof *missing, cmp_str) != NULL;
        if (miss) needed[nneeded++] = px->volume;
    }
    lu_free(st->ctx, missing);   /* `needed` points into the manifest */
    qsort(needed, nneeded, sizeof *needed, cmp_str);
    lua_newtable(L);
    lua_Integer k = 1;
    for (size_t v = 0; v < m->nvolumes; v++) {
        if (!bsearch(&m->volumes[v].name, needed, nneeded, sizeof *needed, cmp_str)) continue;
        push_volume(L, &m->volumes[v]);
        lua_rawseti(L, -2, k++);
    }
    return 1;
}

static int l_get_catalog(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    lua_newtable(L);
    for (size_t v = 0; st->manifest && v < st->manifest->nvolumes; v++) {
        push_volume(L, &st->manifest->volumes[v]);
        lua_rawseti(L, -2, (lua_Integer)v + 1);
    }
    return 1;
}

static int l_volume_path(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    const char *file = luaL_checkstring(L, 1);
    char path[4096];
    lu_error err;
    if (lu_volume_path(st->ctx, file, path, sizeof path, &err) != LU_OK) return lu_lua__fail_err(L, &err);
    lua_pushstring(L, path);
    return 1;
}

/* ---- context -------------------------------------------------------- */

static const char *opt_string(lua_State *L, const char *key)
{
    lua_getfield(L, 1, key);
    const char *s = lua_isnil(L, -1) ? NULL : lua_tostring(L, -1);
    if (!lua_isnil(L, -1) && !lua_isstring(L, -1))
        luaL_argerror(L, 1, lua_pushfstring(L, "option '%s' must be a string", key));
    lua_pop(L, 1);   /* the table keeps the string alive */
    return s;
}

static int l_init(lua_State *L)
{
    static const char *const known[] = {"save_dir", "base", "builtin", "mount_on_start", "max_uncompressed",
                                        "prune_stale", "minimum_version", "public_key", "ca_file",
                                        "http_url", "max_downloads", "update", "defold_api", NULL};
    static const char *const update_known[] = {"url",         "local_version",  "head_url", "version_header",
                                               "head_volume", "binary_version", "download", NULL};
    state *st = lu_lua__state(L);
    luaL_checktype(L, 1, LUA_TTABLE);
    lu_lua__check_options(L, 1, 1, "", known);
    lua_getfield(L, 1, "update");
    lu_lua__check_options(L, -1, 1, "update.", update_known);
    lua_pop(L, 1);
    if (st->off_message) return lu_lua__not_initialized(L);   /* the host turned live update off */
    if (st->ctx) return lu_lua__fail(L, LU_INVAL, "liveupdate is already initialized; call shutdown() first");
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = opt_string(L, "save_dir");
    cfg.base_uri = opt_string(L, "base");
    cfg.builtin_uri = opt_string(L, "builtin");
    if (lua_getfield(L, 1, "mount_on_start") != LUA_TNIL) cfg.mount_on_start = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "max_uncompressed") != LUA_TNIL) {
        lua_Integer n = lua_tointeger(L, -1);
        if (!lua_isinteger(L, -1) || n <= 0) return luaL_argerror(L, 1, "option 'max_uncompressed' must be a positive integer");
        cfg.max_uncompressed = (uint64_t)n;
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "prune_stale") != LUA_TNIL) cfg.prune_stale = lua_toboolean(L, -1);
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "minimum_version") != LUA_TNIL) {
        if (!lua_isinteger(L, -1)) return luaL_argerror(L, 1, "option 'minimum_version' must be an integer");
        cfg.minimum_version = lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    if (lua_getfield(L, 1, "max_downloads") != LUA_TNIL) {
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 1 || lua_tointeger(L, -1) > 64)
            return luaL_argerror(L, 1, "option 'max_downloads' must be an integer from 1 to 64");
        cfg.max_downloads = (int)lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    const char *api = opt_string(L, "defold_api");
    luaL_argcheck(L, !api || lu_lua_defold_api_check(api) == 0, 1,
                  "option 'defold_api' must be \"1.12\" or \"1.13\"");
    cfg.ca_file = opt_string(L, "ca_file");
    const char *http_url = opt_string(L, "http_url");
    static const char *const keys[] = {"url",         "local_version",  "head_url", "version_header",
                                       "head_volume", "binary_version", "download"};
    const char *vals[7] = {NULL};
    if (lua_getfield(L, 1, "update") != LUA_TNIL) {   /* checked before the context opens */
        for (int i = 0; i < 7; i++) {   /* the update table keeps the strings alive */
            int t = lua_getfield(L, -1, keys[i]);
            if (t != LUA_TNIL && t != LUA_TSTRING)
                return luaL_argerror(L, 1, lua_pushfstring(L, "option 'update.%s' must be a string", keys[i]));
            vals[i] = lua_tostring(L, -1);
            lua_pop(L, 1);
        }
    }
    bool has_update = !lua_isnil(L, -1);
    lua_pop(L, 1);
    if (vals[6] && strcmp(vals[6], "auto") != 0 && strcmp(vals[6], "ask") != 0)
        return luaL_argerror(L, 1, "option 'update.download' must be \"auto\" or \"ask\"");
    lu_error err;
    unsigned char key[32];
    const char *pk = opt_string(L, "public_key");
    if (pk) {
        if (lu_public_key_parse(pk, key, &err) != LU_OK) return lu_lua__fail_err(L, &err);
        cfg.public_key = key;
    }
    lu_context *ctx;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) return lu_lua__fail_err(L, &err);
    if (http_url && !(st->http_url = strdup(http_url))) {
        lu_context_close(ctx);
        return lu_lua__fail(L, LU_MEM_ERROR, "out of memory");
    }
    if (has_update) {
        lu_updater_config ucfg;
        lu_updater_config_init(&ucfg);
        ucfg.url = vals[0];
        if (vals[1]) ucfg.local_version = vals[1];
        ucfg.head_url = vals[2];
        ucfg.version_headers = vals[3];
        ucfg.head_volume = vals[4];
        ucfg.binary_version = vals[5];
        ucfg.ask = vals[6] && strcmp(vals[6], "ask") == 0;
        lu_lua__updater_hooks(st, &ucfg);
        lu_status us = lu_updater_open(ctx, &ucfg, &err);
        if (us != LU_OK) {
            lu_context_close(ctx);
            free(st->http_url);
            st->http_url = NULL;
            return lu_lua__fail_err(L, &err);
        }
    }
    st->ctx = ctx;
    st->owned = 1;
    st->names_as_hashes = api && strcmp(api, "1.13") == 0;
    load_base_manifest(st);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_shutdown(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    state_close(L, st);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_poll(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    /* results stored before their handler was set go first, so a script
     * hears its update manager's events in the order they happened */
    lu_lua__deliver_update_events(st);
    int ran = st->ctx ? lu_update(st->ctx) : 0;
    if (st->lost_error[0]) {
        lua_pushstring(L, st->lost_error);
        st->lost_error[0] = '\0';
        return lua_error(L);
    }
    if (st->error_ref != LUA_NOREF) {
        lua_rawgeti(L, LUA_REGISTRYINDEX, st->error_ref);
        luaL_unref(L, LUA_REGISTRYINDEX, st->error_ref);
        st->error_ref = LUA_NOREF;
        return lua_error(L);
    }
    lua_pushinteger(L, ran);
    return 1;
}

static int l_get_startup_report(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    size_t n = lu_startup_report_count(st->ctx);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lu_report_item it;
        lu_startup_report_get(st->ctx, i, &it);
        lua_createtable(L, 0, 5);
        lu_lua__set_str(L, "name", it.name);
        lu_lua__set_str(L, "uri", it.uri);
        lu_lua__set_str(L, "action", it.action);
        lu_lua__set_int(L, "status", it.status);
        lu_lua__set_str(L, "message", it.message);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    return 1;
}

/* ---- resources ------------------------------------------------------ */

static int l_exists(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    const char *path = luaL_checkstring(L, 1);
    lua_pushboolean(L, lu_exists(st->ctx, path));
    return 1;
}

static int l_which(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    const char *path = luaL_checkstring(L, 1);
    lu_stat_info si;
    lu_error err;
    if (lu_stat(st->ctx, path, &si, &err) == LU_OK) lua_pushstring(L, si.mount);
    else lua_pushnil(L);
    return 1;
}

static int l_load_resource(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    const char *path = luaL_checkstring(L, 1);
    void *data;
    size_t size;
    lu_error err;
    if (lu_read(st->ctx, path, &data, &size, &err) != LU_OK) return lu_lua__fail_err(L, &err);
    lua_pushlstring(L, data, size);
    lu_free(st->ctx, data);
    return 1;
}

static int l_list(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    const char *prefix = luaL_optstring(L, 1, "/");
    const char *mount = lua_isnoneornil(L, 2) ? NULL : lu_lua__check_mount_name(L, 2);
    char **paths;
    size_t n;
    lu_error err;
    if (lu_list_paths(st->ctx, prefix, mount, &paths, &n, &err) != LU_OK) return lu_lua__fail_err(L, &err);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, paths[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lu_free(st->ctx, paths);
    return 1;
}

/* ---- module --------------------------------------------------------- */

static const luaL_Reg funcs[] = {
    {"add_mount", l_add_mount},
    {"remove_mount", l_remove_mount},
    {"get_mounts", l_get_mounts},
    {"is_built_with_excluded_files", l_is_built_with_excluded_files},
    {"init", l_init},
    {"poll", l_poll},
    {"exists", l_exists},
    {"which", l_which},
    {"load_resource", l_load_resource},
    {"open", lu_lua__open_file},   /* liveupdate_file.c */
    {"list", l_list},
    {"get_startup_report", l_get_startup_report},
    {"shutdown", l_shutdown},
    {"get_volumes_for", l_get_volumes_for},
    {"get_catalog", l_get_catalog},
    {"volume_path", l_volume_path},
    {"download_volume", lu_lua__download_volume},
    {"cancel_download", lu_lua__cancel_download},
    {"get_downloads", lu_lua__get_downloads},
    {"get_update_manager", lu_lua__get_update_manager},
    {"get_current_manifest", lu_lua__get_current_manifest},   /* liveupdate_legacy.c */
    {"is_using_liveupdate_data", lu_lua__is_using_liveupdate_data},
    {"store_resource", lu_lua__store_resource},
    {"store_manifest", lu_lua__store_manifest},
    {"store_archive", lu_lua__store_archive},
    {NULL, NULL},
};

static const struct {
    const char *name;
    int value;
} constants[] = {
    {"LIVEUPDATE_OK", LU_OK},
    {"LIVEUPDATE_INVALID_HEADER", LU_INVALID_HEADER},
    {"LIVEUPDATE_MEM_ERROR", LU_MEM_ERROR},
    {"LIVEUPDATE_INVALID_RESOURCE", LU_INVALID_RESOURCE},
    {"LIVEUPDATE_VERSION_MISMATCH", LU_VERSION_MISMATCH},
    {"LIVEUPDATE_ENGINE_VERSION_MISMATCH", LU_ENGINE_VERSION_MISMATCH},
    {"LIVEUPDATE_SIGNATURE_MISMATCH", LU_SIGNATURE_MISMATCH},
    {"LIVEUPDATE_SCHEME_MISMATCH", LU_SCHEME_MISMATCH},
    {"LIVEUPDATE_BUNDLED_RESOURCE_MISMATCH", LU_BUNDLED_RESOURCE_MISMATCH},
    {"LIVEUPDATE_FORMAT_ERROR", LU_FORMAT_ERROR},
    {"LIVEUPDATE_IO_ERROR", LU_IO_ERROR},
    {"LIVEUPDATE_INVAL", LU_INVAL},
    {"LIVEUPDATE_NOT_INITIALIZED", LU_NOT_INITIALIZED},
    {"LIVEUPDATE_NAME_EXISTS", LU_NAME_EXISTS},
    {"LIVEUPDATE_NOT_FOUND", LU_NOT_FOUND},
    {"LIVEUPDATE_LOCKED", LU_LOCKED},
    {"LIVEUPDATE_NO_SPACE", LU_NO_SPACE},
    {"LIVEUPDATE_NETWORK_ERROR", LU_NETWORK_ERROR},
    {"LIVEUPDATE_TIMEOUT", LU_TIMEOUT},
    {"LIVEUPDATE_CANCELLED", LU_CANCELLED},
    {"LIVEUPDATE_HASH_MISMATCH", LU_HASH_MISMATCH},
    {"LIVEUPDATE_UNSAFE_ARCHIVE", LU_UNSAFE_ARCHIVE},
    {"LIVEUPDATE_UNKNOWN", LU_UNKNOWN},
};

int luaopen_liveupdate(lua_State *L)
{
    state *st = lua_newuserdatauv(L, sizeof *st, 0);
    memset(st, 0, sizeof *st);
    st->self_ref = LUA_NOREF;
    st->error_ref = LUA_NOREF;
    st->um_compare = LUA_NOREF;
    for (int i = 0; i < 3; i++) st->um_handler[i] = st->um_self[i] = st->um_result[i] = LUA_NOREF;
    lua_rawgeti(L, LUA_REGISTRYINDEX, LUA_RIDX_MAINTHREAD);
    st->L = lua_tothread(L, -1);
    lua_pop(L, 1);
    if (luaL_newmetatable(L, STATE_KEY)) {
        lua_pushcfunction(L, state_gc);
        lua_setfield(L, -2, "__gc");
        lua_pushcfunction(L, state_gc);
        lua_setfield(L, -2, "__close");
    }
    lua_setmetatable(L, -2);
    /* Hosts find the state through a weak registry table, which does not
     * keep it alive: dropping the module closes an owned context. */
    if (lua_getfield(L, LUA_REGISTRYINDEX, STATE_KEY "#instance") != LUA_TTABLE) {
        lua_pop(L, 1);
        lua_createtable(L, 1, 0);
        lua_createtable(L, 0, 1);
        lua_pushliteral(L, "v");
        lua_setfield(L, -2, "__mode");
        lua_setmetatable(L, -2);
        lua_pushvalue(L, -1);
        lua_setfield(L, LUA_REGISTRYINDEX, STATE_KEY "#instance");
    }
    lua_pushvalue(L, -2);
    lua_rawseti(L, -2, 1);
    lua_pop(L, 1);
    luaL_newlibtable(L, funcs);
    lua_pushvalue(L, -2);
    luaL_setfuncs(L, funcs, 1);
    for (size_t i = 0; i < sizeof constants / sizeof constants[0]; i++) {
        lua_pushinteger(L, constants[i].value);
        lua_setfield(L, -2, constants[i].name);
    }
    lua_pushliteral(L, "liveupdate " LU_VERSION_STR);
    lua_setfield(L, -2, "_VERSION");
    lua_remove(L, -2);
    return 1;
}

static state *host_state(lua_State *L)
{
    state *st = NULL;
    if (lua_getfield(L, LUA_REGISTRYINDEX, STATE_KEY "#instance") == LUA_TTABLE) {
        lua_rawgeti(L, -1, 1);
        st = luaL_testudata(L, -1, STATE_KEY);
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
    return st;
}

int lu_lua_use_context(lua_State *L, lu_context *ctx, const lu_manifest *manifest)
{
    state *st = host_state(L);
    if (!st) return -1;
    state_close(L, st);
    st->ctx = ctx;
    st->owned = 0;
    st->manifest = (lu_manifest *)manifest;
    st->owns_manifest = 0;
    return 0;
}

int lu_lua_set_live_update_off(lua_State *L, const char *message)
{
    state *st = host_state(L);
    if (!st) return -1;
    char *copy = message ? strdup(message) : NULL;
    if (message && !copy) return -1;
    free(st->off_message);
    st->off_message = copy;
    return 0;
}

/* The host's hooks: the module of whatever Lua state *ud is now. */
static void routed_event(void *ud, const lu_updater_event *ev)
{
    lua_State *L = *(lua_State *const *)ud;
    state *st = L ? host_state(L) : NULL;
    if (st) lu_lua__updater_event(st, ev);
}

static int routed_compare(void *ud, const char *a, const char *b)
{
    lua_State *L = *(lua_State *const *)ud;
    return lu_lua__compare(L ? host_state(L) : NULL, a, b);
}

void lu_lua_updater_config(lua_State *const *Lp, lu_updater_config *cfg)
{
    cfg->on_event = routed_event;
    cfg->ud = (void *)Lp;
    cfg->compare = routed_compare;
    cfg->compare_ud = (void *)Lp;
}

int lu_lua_move_requests(lua_State *from, lua_State *to)
{
    state *a = host_state(from), *b = host_state(to);
    if (!a || !b) return -1;
    while (a->pending) {
        pending *p = a->pending;
        /* references released in `from`; the work still completes (a
         * download is mounted), no callback runs */
        lu_lua__pending_unref(p);
        p->orphan = !p->dead;
        a->pending = p->next;
        if (p->next) p->next->prev = &a->pending;
        p->st = b;
        p->next = b->pending;
        p->prev = &b->pending;
        if (b->pending) b->pending->prev = &p->next;
        b->pending = p;
    }
    return 0;
}

int lu_lua_defold_api_check(const char *api)
{
    return api && (strcmp(api, "1.12") == 0 || strcmp(api, "1.13") == 0) ? 0 : -1;
}

int lu_lua_set_defold_api(lua_State *L, const char *api)
{
    state *st = host_state(L);
    if (!st || lu_lua_defold_api_check(api) != 0) return -1;
    st->names_as_hashes = strcmp(api, "1.13") == 0;
    return 0;
}

void lu_lua_update_failed(lua_State *L, lu_status status, const char *message)
{
    state *st = host_state(L);
    if (st) lu_lua__update_failed(st, status, message);
}

int lu_lua_set_manifest(lua_State *L, const lu_manifest *manifest)
{
    state *st = host_state(L);
    if (!st) return -1;
    if (st->owns_manifest) lu_manifest_free(st->manifest);
    st->manifest = (lu_manifest *)manifest;
    st->owns_manifest = 0;
    return 0;
}

int lu_lua_set_version_compare(lua_State *L)
{
    state *st = host_state(L);
    if (!st) {
        lua_pop(L, 1);
        return -1;
    }
    lu_lua__set_compare(st, L);
    return 0;
}

bool lu_lua_take_restart(lua_State *L)
{
    state *st = host_state(L);
    if (!st || !st->restart_requested) return false;
    st->restart_requested = false;
    return true;
}

int lu_lua_set_http_url(lua_State *L, const char *url)
{
    state *st = host_state(L);
    if (!st) return -1;
    char *copy = url ? strdup(url) : NULL;
    if (url && !copy) return -1;
    free(st->http_url);
    st->http_url = copy;
    return 0;
}

void lu_lua_set_self(lua_State *L, int idx)
{
    state *st = host_state(L);
    if (!st) return;
    lua_pushvalue(L, idx);
    luaL_unref(L, LUA_REGISTRYINDEX, st->self_ref);
    st->self_ref = lua_isnil(L, -1) ? (lua_pop(L, 1), LUA_REFNIL) : luaL_ref(L, LUA_REGISTRYINDEX);
}

void lu_lua_push_self(lua_State *L)
{
    state *st = host_state(L);
    if (st) lua_rawgeti(L, LUA_REGISTRYINDEX, st->self_ref);
    else lua_pushnil(L);
}
