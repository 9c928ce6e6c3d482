/* liveupdate_download.c -- liveupdate.download_volume and friends (docs/DOWNLOADS.md)
 * over the library's downloader (liveupdate/download.h).
 *
 *   download_volume(name_or_entry, options, callback) -> handle
 *                                                     | nil, message, status
 *       name_or_entry: a volume name of the base manifest's catalog, or a
 *           table {name, file|url, size, sha256, priority[, version]}
 *           (get_volumes_for's entries are such tables)
 *       options (may be nil): url (the whole URL), base_url (folder URL,
 *           default init's http_url / lurun's game.http_url), progress =
 *           function(self, name, done, total), timeout (seconds without a
 *           byte), retries, max_size, verify_signature (default: when a
 *           public key is configured)
 *       callback(self, name, result, message) from poll(): result
 *           LIVEUPDATE_OK once the verified volume is in <save>/volumes/
 *           and mounted as `name` at its priority (replacing a mount of
 *           that name), else the status and why; nothing is mounted then.
 *
 * The version floor (lu_version_floor_check): when the entry gives a
 * version below the game's minimum, download_volume returns nil, message,
 * LIVEUPDATE_VERSION_MISMATCH and fetches nothing. The downloader applies
 * the floor again to the verified file's own version file before it is
 * installed: a file it refuses is deleted, never installed, so the file of
 * that name a mount may be reading stays as it was.
 *   cancel_download(handle) -> true | nil, message, status
 *   get_downloads() -> {{handle, file, url, done, total, attempt, state}, ...}
 *
 * Before init every function answers nil, message, NOT_INITIALIZED, and so
 * do download_volume and cancel_download with live update off. A
 * wrong argument type, an unknown catalog name, an unknown option or no
 * URL to fetch from raise "bad argument #n to 'download_volume' (...)";
 * refusals at start (a version below the floor, a download of the same
 * file in progress, no disk space, no save directory) return nil,
 * message, status.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <limits.h>
#include <string.h>

#include "liveupdate/download.h"
#include "liveupdate_lua.h"
#include "liveupdate_state.h"

/* The library runs these from lu_update (liveupdate.poll), outside any
 * libcurl callback; the Lua part runs inside lu_lua__protected, so not even
 * an out-of-memory error unwinds through the downloader. */
typedef struct progress_args {
    pending *p;
    uint64_t done, total;
} progress_args;

static int progress_body(lua_State *L)
{
    const progress_args *a = lua_touserdata(L, 1);
    lu_lua__push_mount_name(a->p->st, L, a->p->name);
    lua_pushinteger(L, (lua_Integer)a->done);
    lua_pushinteger(L, (lua_Integer)a->total);
    lu_lua__call(a->p->st, a->p->progress_ref, a->p->self_ref, 3);
    return 0;
}

static void on_progress(void *ud, int id, uint64_t done, uint64_t total)
{
    (void)id;
    pending *p = ud;
    if (p->dead || p->orphan || p->progress_ref == LUA_NOREF) return;
    progress_args a = {p, done, total};
    lu_lua__protected(p->st, progress_body, &a);
}

typedef struct done_args {
    state *st;
    int cb, self;
    const char *name;
    const lu_error *err;
} done_args;

static int done_body(lua_State *L)
{
    const done_args *a = lua_touserdata(L, 1);
    lu_lua__push_mount_name(a->st, L, a->name);
    lua_pushinteger(L, a->err->status);
    if (a->err->status == LU_OK) lua_pushnil(L);
    else lua_pushstring(L, a->err->message);
    lu_lua__call(a->st, a->cb, a->self, 3);
    return 0;
}

/* The download finished: mount it (on success), then tell the script. The
 * record is freed here; a dead one (the module let go of its context)
 * mounts nothing and runs no Lua. */
static void on_done(void *ud, int id, const char *path, const lu_error *err)
{
    (void)id;
    (void)path;
    pending *p = ud;
    state *st = p->st;
    if (p->dead) {
        lu_lua__pending_free(p);
        return;
    }
    lu_error merr = *err;
    if (err->status == LU_OK &&
        lu_mount_add(p->ctx, p->name, p->uri, p->priority, LU_MOUNT_REPLACE | LU_MOUNT_DELETE_REPLACED, &merr) == LU_OK)
        merr.status = LU_OK;
    if (p->orphan) {   /* mounted for the scripts of a new Lua state; nobody to tell */
        lu_lua__pending_free(p);
        return;
    }
    char name[sizeof p->name];
    memcpy(name, p->name, sizeof name);
    done_args a = {st, p->cb_ref, p->self_ref, name, &merr};
    p->cb_ref = p->self_ref = LUA_NOREF;
    lu_lua__pending_free(p);
    lu_lua__protected(st, done_body, &a);
    luaL_unref(st->L, LUA_REGISTRYINDEX, a.cb);
    luaL_unref(st->L, LUA_REGISTRYINDEX, a.self);
}

/* Reads field `k` of the table at `idx` as a string (NULL when absent). */
static const char *field_string(lua_State *L, int idx, const char *k, const char *what)
{
    int t = lua_getfield(L, idx, k);
    const char *s = NULL;
    if (t == LUA_TSTRING) s = lua_tostring(L, -1);
    else if (t != LUA_TNIL) luaL_argerror(L, idx, lua_pushfstring(L, "%s.%s must be a string", what, k));
    lua_pop(L, 1);   /* the table keeps the string alive */
    return s;
}

static lua_Integer field_int(lua_State *L, int idx, const char *k, lua_Integer def, const char *what)
{
    int t = lua_getfield(L, idx, k);
    lua_Integer v = def;
    if (t != LUA_TNIL) {
        if (!lua_isinteger(L, -1) || lua_tointeger(L, -1) < 0)
            luaL_argerror(L, idx, lua_pushfstring(L, "%s.%s must be a whole number >= 0", what, k));
        v = lua_tointeger(L, -1);
    }
    lua_pop(L, 1);
    return v;
}

int lu_lua__download_volume(lua_State *L)
{
    static const char *const options[] = {"url", "base_url", "progress", "timeout", "retries", "max_size",
                                          "verify_signature", NULL};
    state *st = lu_lua__state(L);
    if (!lu_lua__can_change(st)) return lu_lua__not_initialized(L);
    const lu_manifest_volume *cat = NULL;
    const char *name, *file, *url = NULL, *sha = NULL;
    lua_Integer size = 0, prio = 10, version = 0;
    bool has_version = false;
    if (lu_lua_to_hashed(L, 1)) {   /* a catalog name, as a string or a hash */
        name = lu_lua_to_hashed(L, 1);
        for (size_t i = 0; st->manifest && i < st->manifest->nvolumes; i++)
            if (strcmp(st->manifest->volumes[i].name, name) == 0) cat = &st->manifest->volumes[i];
        if (!cat) return luaL_argerror(L, 1, lua_pushfstring(L, "no volume '%s' in the catalog", name));
        file = cat->file;
        sha = cat->sha256[0] ? cat->sha256 : NULL;
        size = (lua_Integer)cat->size;
        prio = cat->priority;
        version = (lua_Integer)cat->version;
        has_version = true;
    } else {
        luaL_checktype(L, 1, LUA_TTABLE);
        if (lua_getfield(L, 1, "name") != LUA_TNIL && !lu_lua_to_hashed(L, -1))
            luaL_argerror(L, 1, "entry.name must be a string or a hash");
        name = lu_lua_to_hashed(L, -1);   /* the table keeps it alive */
        lua_pop(L, 1);
        if (!name) return luaL_argerror(L, 1, "entry.name is required");
        file = field_string(L, 1, "file", "entry");
        url = field_string(L, 1, "url", "entry");
        sha = field_string(L, 1, "sha256", "entry");
        size = field_int(L, 1, "size", 0, "entry");
        prio = field_int(L, 1, "priority", 10, "entry");
        int t = lua_getfield(L, 1, "version");
        luaL_argcheck(L, t == LUA_TNIL || lua_isinteger(L, -1), 1, "entry.version must be an integer");
        has_version = t != LUA_TNIL;
        version = lua_tointeger(L, -1);
        lua_pop(L, 1);
    }
    lu_error err;
    if (lu_mount_name_check(name, &err) != LU_OK) return luaL_argerror(L, 1, err.message);
    luaL_argcheck(L, prio <= 0x7fffffff, 1, "priority is too large");
    bool has_opts = !lua_isnoneornil(L, 2);
    lu_lua__check_options(L, 2, 2, "", options);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    lu_download_request req;
    lu_download_request_init(&req);
    const char *base = st->http_url;
    if (has_opts) {
        const char *o_url = field_string(L, 2, "url", "options"), *o_base = field_string(L, 2, "base_url", "options");
        if (o_url) url = o_url;
        if (o_base) base = o_base;
        req.timeout_ms = (long)field_int(L, 2, "timeout", 30, "options") * 1000;
        req.retries = (int)field_int(L, 2, "retries", req.retries, "options");
        req.max_size = (uint64_t)field_int(L, 2, "max_size", (lua_Integer)req.max_size, "options");
        if (lua_getfield(L, 2, "verify_signature") != LUA_TNIL) req.verify_signature = lua_toboolean(L, -1);
        lua_pop(L, 1);
        int t = lua_getfield(L, 2, "progress");
        luaL_argcheck(L, t == LUA_TNIL || t == LUA_TFUNCTION, 2, "options.progress must be a function");
        lua_pop(L, 1);
    }
    if (!file && url) {
        const char *slash = strrchr(url, '/');
        file = slash ? slash + 1 : url;
    }
    luaL_argcheck(L, file, 1, "entry needs 'file' or 'url'");
    if (!url) {
        if (!base)
            return luaL_argerror(L, 2, lua_pushfstring(L, "no URL for '%s': pass options.url or set game.http_url", name));
        size_t bl = strlen(base);
        lua_pushfstring(L, "%s%s%s", base, bl && base[bl - 1] == '/' ? "" : "/", file);
        url = lua_tostring(L, -1);
    }
    char uri[sizeof ((pending *)0)->uri];
    if (lu_volume_uri(file, uri, sizeof uri, &err) != LU_OK) return lu_lua__fail_err(L, &err);
    /* the floor, before a byte is fetched */
    if (has_version && lu_version_floor_check(st->ctx, name, (long long)version, &err) != LU_OK)
        return lu_lua__fail_err(L, &err);
    pending *p = lu_lua__pending_new(L, st, 3);
    snprintf(p->name, sizeof p->name, "%s", name);
    snprintf(p->uri, sizeof p->uri, "%s", uri);
    p->priority = (int)prio;
    if (has_opts && lua_getfield(L, 2, "progress") == LUA_TFUNCTION) p->progress_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    else if (has_opts) lua_pop(L, 1);
    req.url = url;
    req.file = file;
    req.size = (uint64_t)size;
    req.sha256 = sha;
    req.progress = on_progress;
    req.done = on_done;
    req.ud = p;
    req.floor_name = p->name;
    char old[PATH_MAX];   /* the volume of that name mounted now: a delta from it */
    if (lu_download_base(st->ctx, name, old, sizeof old, NULL) == LU_OK) req.base = old;
    int id;
    if (lu_download_start(st->ctx, &req, &id, &err) != LU_OK) {
        lu_lua__pending_free(p);
        return lu_lua__fail_err(L, &err);
    }
    lua_pushinteger(L, id);
    return 1;
}

int lu_lua__cancel_download(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!lu_lua__can_change(st)) return lu_lua__not_initialized(L);
    lua_Integer id = luaL_checkinteger(L, 1);
    lu_error err;
    if (id <= 0 || id > 0x7fffffff) return lu_lua__fail(L, LU_NOT_FOUND, "no download %I in progress", id);
    if (lu_download_cancel(st->ctx, (int)id, &err) != LU_OK) return lu_lua__fail_err(L, &err);
    lua_pushboolean(L, 1);
    return 1;
}

int lu_lua__get_downloads(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    lu_download_info *d;
    size_t n;
    lu_error err;
    if (lu_downloads_get(st->ctx, &d, &n, &err) != LU_OK) return lu_lua__fail_err(L, &err);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_createtable(L, 0, 9);
        lu_lua__set_int(L, "handle", d[i].id);
        lu_lua__set_str(L, "file", d[i].file);
        lu_lua__set_str(L, "url", d[i].url);
        lu_lua__set_int(L, "done", (lua_Integer)d[i].done);
        lu_lua__set_int(L, "total", (lua_Integer)d[i].total);
        lu_lua__set_int(L, "attempt", d[i].attempt);
        lu_lua__set_str(L, "state", d[i].state);
        lu_lua__set_int(L, "received", (lua_Integer)d[i].received);
        lu_lua__set_int(L, "saved", (lua_Integer)d[i].saved);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
    lu_free(st->ctx, d);
    return 1;
}
