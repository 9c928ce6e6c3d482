/* host_proxy.c -- collection proxies in lurun, and the `collectionproxy`
 * module.
 *
 * A proxy (declared in game.project or the bundle's manifest) loads a
 * collection: a text file whose lines `script: "/path/to/x.lua"` name the
 * scripts it instantiates. Messages follow Defold: load/async_load (answered
 * by proxy_loaded), init, enable, disable, final, unload (answered by
 * proxy_unloaded); misuse is logged with Defold's wording. Loading a proxy
 * whose resources are not all mounted fails the way Defold fails: an error
 * is logged, the collection is not loaded and no proxy_loaded is sent.
 *
 *   collectionproxy.missing_resources(proxy[, {recursive=true}]) -> {path...}
 *   collectionproxy.get_resources(proxy) -> {path...}: Defold's rule, {}
 *       while the proxy's excluded resources are not all mounted
 *   collectionproxy.set_collection(proxy[, collection]) -> true, 0 |
 *       false, RESULT_LOADING | RESULT_ALREADY_LOADED | RESULT_NOT_EXCLUDED
 *       (Defold 1.13): the proxy loads another collection from now on
 *       (nil: its own again). When the manifest declares a proxy whose
 *       root collection that is, that proxy's resources are the ones
 *       checked and loaded.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"

/* The manifest proxy whose resources `mp` loads now: the one declaring
 * set_collection's collection as its root, else `mp` itself. */
static const lu_manifest_proxy *effective(const lu_host *h, const lu_manifest_proxy *mp, const lu_proxy_rt *rt)
{
    if (!rt || !rt->collection) return mp;
    for (size_t i = 0; i < h->manifest->nproxies; i++)
        if (strcmp(h->manifest->proxies[i].collection, rt->collection) == 0) return &h->manifest->proxies[i];
    return mp;
}

static lu_proxy_rt *find_runtime(const lu_host *h, const char *id)
{
    for (size_t i = 0; i < h->nproxies; i++)
        if (strcmp(h->proxies[i].id, id) == 0) return &h->proxies[i];
    return NULL;
}

/* The runtime state of proxy `id`, created on first use (NULL when out of
 * memory). */
static lu_proxy_rt *runtime(lu_host *h, const char *id)
{
    lu_proxy_rt *found = find_runtime(h, id);
    if (found) return found;
    lu_proxy_rt *grown = realloc(h->proxies, (h->nproxies + 1) * sizeof *grown);
    if (!grown) return NULL;
    h->proxies = grown;
    lu_proxy_rt *p = &h->proxies[h->nproxies++];
    memset(p, 0, sizeof *p);
    p->id = strdup(id);
    return p;
}

static void log_error(const char *fmt, const char *coll)
{
    fprintf(stderr, "ERROR:GAMESYS: ");
    fprintf(stderr, fmt, coll);
    fputc('\n', stderr);
}

/* The proxy's own URL as its sender: the owner's object + "#id". */
static void proxy_url(const char *owner, const char *id, char *buf, size_t cap)
{
    const char *hash = owner ? strchr(owner, '#') : NULL;
    int n = hash ? (int)(hash - owner) : (owner ? (int)strlen(owner) : 0);
    snprintf(buf, cap, "%.*s#%s", n, owner ? owner : "", id);
}

static bool load_script(void *ud, const char *path, const char *url)
{
    const void *const *args = ud;   /* {h, proxy id} */
    return lu_host_load_script((lu_host *)args[0], path, url, (const char *)args[1]) != NULL;
}

/* Instantiates the scripts named by the collection file (`collection`,
 * proxy `mp`'s own or the one set_collection gave it). */
static bool load_collection(lu_host *h, const lu_manifest_proxy *mp, const char *collection)
{
    void *data;
    size_t size;
    lu_error err;
    if (lu_read(h->ctx, collection, &data, &size, &err) != LU_OK) {
        fprintf(stderr, "ERROR:GAMESYS: The collection %s could not be loaded: %s\n", collection, err.message);
        return false;
    }
    const void *args[2] = {h, mp->id};
    bool ok = lu_host_collection_scripts(mp->id, data, load_script, (void *)args);
    lu_free(h->ctx, data);
    return ok;
}

static void call_all(lu_host *h, const char *proxy, const char *fn)
{
    for (size_t i = 0; i < h->nscripts; i++) {
        lu_script *s = &h->scripts[i];
        if (!s->proxy || strcmp(s->proxy, proxy) != 0) continue;
        if (strcmp(fn, "init") == 0) s->initialized = true;
        if (strcmp(fn, "final") == 0) s->finalized = true;
        lu_host_call(h, &h->scripts[i], fn, 0);
    }
}

/* Fills `reply` with message `id` from the proxy to `sender`. */
static void set_reply(lu_proxy_reply *reply, const char *id, const char *sender, const char *proxy)
{
    reply->id = id;
    snprintf(reply->to, sizeof reply->to, "%s", sender ? sender : "");
    proxy_url(sender, proxy, reply->from, sizeof reply->from);
}

static bool do_load(lu_host *h, const lu_manifest_proxy *mp, lu_proxy_rt *rt, const char *sender,
                    lu_proxy_reply *reply)
{
    char **missing;
    size_t n;
    lu_error err;
    const lu_manifest_proxy *from = effective(h, mp, rt);
    const char *collection = rt->collection ? rt->collection : mp->collection;
    if (lu_manifest_missing(h->ctx, h->manifest, from->id, 0, &missing, &n, &err) == LU_OK && n > 0) {
        fprintf(stderr,
                "ERROR:GAMESYS: The collection %s could not be loaded: %zu of its resources are "
                "missing (first: %s); mount the volume that holds them first\n",
                collection, n, missing[0]);
        lu_free(h->ctx, missing);
        return true;
    } else if (n == 0) {
        lu_free(h->ctx, missing);
    }
    if (!load_collection(h, mp, collection)) {
        lu_host_unload_scripts_of(h, mp->id);
        return false;
    }
    rt->state = LU_PROXY_LOADED;
    free(rt->owner);
    rt->owner = strdup(sender);
    set_reply(reply, "proxy_loaded", sender, mp->id);
    return true;
}

bool lu_host_proxy_message(lu_host *h, const char *id, const char *msg, const char *sender, lu_proxy_reply *reply)
{
    reply->id = NULL;
    const lu_manifest_proxy *mp = lu_manifest_find_proxy(h->manifest, id);
    lu_proxy_rt *rt = mp ? runtime(h, mp->id) : NULL;
    if (!rt) return true;
    const char *coll = mp->collection;
    if (strcmp(msg, "load") == 0 || strcmp(msg, "async_load") == 0) {
        if (rt->state != LU_PROXY_UNLOADED) {
            log_error("The collection %s could not be loaded since it was already.", coll);
            return true;
        }
        return do_load(h, mp, rt, sender, reply);
    }
    if (strcmp(msg, "unload") == 0) {
        if (rt->state == LU_PROXY_UNLOADED) {
            log_error("The collection %s could not be unloaded since it was never loaded.", coll);
            return true;
        }
        if (rt->state >= LU_PROXY_INITIALIZED) call_all(h, mp->id, "final");
        lu_host_unload_scripts_of(h, mp->id);
        rt->state = LU_PROXY_UNLOADED;
        set_reply(reply, "proxy_unloaded", sender, mp->id);
        return true;
    }
    if (strcmp(msg, "init") == 0 || strcmp(msg, "enable") == 0) {
        bool enable = msg[0] == 'e';
        if (rt->state == LU_PROXY_UNLOADED) {
            log_error("The collection %s could not be initialized since it has not been loaded.", coll);
        } else if (!enable && rt->state >= LU_PROXY_INITIALIZED) {
            log_error("The collection %s could not be initialized since it has been already.", coll);
        } else if (enable && rt->state == LU_PROXY_ENABLED) {
            log_error("The collection %s could not be enabled since it is already.", coll);
        } else {
            if (rt->state == LU_PROXY_LOADED) {
                rt->state = LU_PROXY_INITIALIZED;
                call_all(h, mp->id, "init");
            }
            if (enable) rt->state = LU_PROXY_ENABLED;
        }
        return true;
    }
    if (strcmp(msg, "disable") == 0) {
        if (rt->state != LU_PROXY_ENABLED) log_error("The collection %s could not be disabled since it is not enabled.", coll);
        else rt->state = LU_PROXY_INITIALIZED;
        return true;
    }
    if (strcmp(msg, "final") == 0) {
        if (rt->state < LU_PROXY_INITIALIZED) {
            log_error("The collection %s could not be finalized since it was never initialized.", coll);
        } else {
            call_all(h, mp->id, "final");
            rt->state = LU_PROXY_LOADED;
        }
        return true;
    }
    return true;   /* other messages (set_time_step, ...) are accepted and ignored */
}

void lu_host_free_proxies(lu_host *h)
{
    for (size_t i = 0; i < h->nproxies; i++) {
        free(h->proxies[i].id);
        free(h->proxies[i].owner);
        free(h->proxies[i].collection);
    }
    free(h->proxies);
    h->proxies = NULL;
    h->nproxies = 0;
}

/* ---- the collectionproxy module -------------------------------------- */

static const lu_manifest_proxy *check_proxy(lua_State *L, lu_host **hp)
{
    lu_host *h = lu_host_get(L);
    if (!h) luaL_error(L, "collectionproxy: not running inside lurun");
    char buf[1024];
    const char *id = lu_host_to_url_string(L, 1, buf, sizeof buf);   /* "#level1", a hash or msg.url(...) */
    if (!id) luaL_argerror(L, 1, "collection proxy URL expected");
    const lu_manifest_proxy *mp = lu_manifest_find_proxy(h->manifest, id);
    if (!mp) luaL_error(L, "collectionproxy: no collection proxy '%s' (declare it as [proxy.<id>] in game.project)", id);
    *hp = h;
    return mp;
}

static void push_paths(lua_State *L, char *const *paths, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, paths[i]);
        lua_rawseti(L, -2, (lua_Integer)i + 1);
    }
}

static int l_missing_resources(lua_State *L)
{
    lu_host *h;
    const lu_manifest_proxy *mp = check_proxy(L, &h);
    mp = effective(h, mp, find_runtime(h, mp->id));
    int recursive = 0;
    if (!lua_isnoneornil(L, 2)) {
        luaL_checktype(L, 2, LUA_TTABLE);
        lua_getfield(L, 2, "recursive");
        recursive = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    char **missing;
    size_t n;
    lu_error err;
    if (lu_manifest_missing(h->ctx, h->manifest, mp->id, recursive, &missing, &n, &err) != LU_OK)
        return luaL_error(L, "collectionproxy.missing_resources: %s", err.message);
    push_paths(L, missing, n);
    lu_free(h->ctx, missing);
    return 1;
}

/* Defold: {} until the resources of the proxy are all mounted (every
 * manual since 2026 downloads when `#get_resources(...) == 0`), then the
 * proxy's resources (paths here, as missing_resources gives). */
static int l_get_resources(lua_State *L)
{
    lu_host *h;
    const lu_manifest_proxy *mp = check_proxy(L, &h);
    mp = effective(h, mp, find_runtime(h, mp->id));
    char **missing;
    size_t n;
    lu_error err;
    if (lu_manifest_missing(h->ctx, h->manifest, mp->id, 0, &missing, &n, &err) != LU_OK)
        return luaL_error(L, "collectionproxy.get_resources: %s", err.message);
    lu_free(h->ctx, missing);
    if (n > 0) lua_newtable(L);
    else push_paths(L, mp->resources, mp->nresources);
    return 1;
}

enum { RESULT_LOADING = 1, RESULT_ALREADY_LOADED = 2, RESULT_NOT_EXCLUDED = 3 };

static int l_set_collection(lua_State *L)
{
    lu_host *h;
    const lu_manifest_proxy *mp = check_proxy(L, &h);
    const char *collection = luaL_optstring(L, 2, NULL);
    luaL_argcheck(L, !collection || collection[0] == '/', 2, "collection resource path (\"/level/x.collection\") expected");
    int code = 0;
    lu_proxy_rt *rt = runtime(h, mp->id);
    if (!rt) return luaL_error(L, "collectionproxy.set_collection: out of memory");
    if (!mp->excluded) code = RESULT_NOT_EXCLUDED;
    else if (rt->state != LU_PROXY_UNLOADED) code = RESULT_ALREADY_LOADED;
    if (code == 0) {
        char *copy = collection && strcmp(collection, mp->collection) != 0 ? strdup(collection) : NULL;
        if (collection && strcmp(collection, mp->collection) != 0 && !copy)
            return luaL_error(L, "collectionproxy.set_collection: out of memory");
        free(rt->collection);
        rt->collection = copy;
    }
    lua_pushboolean(L, code == 0);
    lua_pushinteger(L, code);
    return 2;
}

int lu_host_open_collectionproxy(lua_State *L)
{
    static const luaL_Reg f[] = {
        {"missing_resources", l_missing_resources},
        {"get_resources", l_get_resources},
        {"set_collection", l_set_collection},
        {NULL, NULL},
    };
    luaL_newlib(L, f);
    static const struct {
        const char *name;
        int value;
    } results[] = {{"RESULT_LOADING", RESULT_LOADING},
                   {"RESULT_ALREADY_LOADED", RESULT_ALREADY_LOADED},
                   {"RESULT_NOT_EXCLUDED", RESULT_NOT_EXCLUDED}};
    for (size_t i = 0; i < sizeof results / sizeof results[0]; i++) {
        lua_pushinteger(L, results[i].value);
        lua_setfield(L, -2, results[i].name);
    }
    return 1;
}
