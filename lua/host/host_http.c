/* host_http.c -- Defold's `http.request` in lurun, on the library's HTTP
 * requests (liveupdate/http.h): they advance in lu_update() with the volume
 * downloads, once per frame, so the game loop never waits on the network,
 * and they share the downloads' protocol, redirect and TLS rules.
 *
 *   http.request(url, method, callback[, headers[, post_data[, options]]])
 *       -> request id
 *   callback(self, id, response), response = {status, response, headers,
 *       path, error}
 *   options: timeout (seconds), path (stream the body to this file),
 *       report_progress (boolean)
 *
 * With report_progress, as in Defold, the callback is also called while
 * the body arrives, with response = {bytes_received = n, bytes_total = m,
 * url = url} and no status (bytes_total is -1 when the server sent no
 * Content-Length); at most once per frame, and at least once before the
 * final response when a body came. The final response has no bytes_*.
 *
 * http:, https: (certificates verified) and file: URLs. file: answers 200
 * when the file was read and 404 when it does not exist, so the same
 * script runs against a local folder. With options.path the body goes to
 * "<path>.part" and is renamed over <path> only after a 2xx answer; on a
 * 304 the existing file is kept; on anything else the .part is removed.
 * A transfer that fails (no connection, timeout) has status 0 and `error`.
 * The library builds the response after the transfer, outside libcurl, and
 * the Lua table and callback run in a protected call.
 */
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "host.h"
#include "liveupdate/http.h"
#include "liveupdate_lua.h"

typedef struct req {
    struct req *next;
    lu_http *owner;
    int id, cb_ref, self_ref;
    char *script_url, *url, *path;
} req;

struct lu_http {
    lu_context *ctx;
    req *reqs;
    lua_State *L;
};

static void req_free(lu_http *http, req *r)
{
    luaL_unref(http->L, LUA_REGISTRYINDEX, r->cb_ref);
    luaL_unref(http->L, LUA_REGISTRYINDEX, r->self_ref);
    free(r->script_url);
    free(r->url);
    free(r->path);
    free(r);
}

static lu_http *http_of(lu_host *h)
{
    if (!h->http) {
        lu_http *http = calloc(1, sizeof *http);
        if (!http) return NULL;
        http->ctx = h->ctx;
        http->L = h->L;
        h->http = http;
    }
    return h->http;
}

/* The request headers as "Name: value" lines (NULL-terminated, on the Lua
 * stack as a userdata so a raise frees them). */
static const char **get_headers(lua_State *L, int idx)
{
    if (lua_isnoneornil(L, idx)) return NULL;
    luaL_checktype(L, idx, LUA_TTABLE);
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        n += lua_type(L, -2) == LUA_TSTRING && lua_isstring(L, -1);
        lua_pop(L, 1);
    }
    const char **lines = lua_newuserdatauv(L, (n + 1) * sizeof *lines, 0);
    int holder = lua_gettop(L);
    lua_newtable(L);   /* keeps the formatted strings alive */
    size_t i = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_isstring(L, -1) && i < n) {
            lines[i] = lua_pushfstring(L, "%s: %s", lua_tostring(L, -2), lua_tostring(L, -1));
            lua_rawseti(L, holder + 1, (lua_Integer)++i);
        }
        lua_pop(L, 1);
    }
    lines[i] = NULL;
    return lines;   /* the userdata and the table stay on the stack until the call returns */
}

static void on_done(void *ud, const lu_http_response *res);
static void on_progress(void *ud, int id, uint64_t received, int64_t total);

static int l_request(lua_State *L)
{
    lu_host *h = lu_host_get(L);
    if (!h) return luaL_error(L, "http.request: not running inside lurun");
    const char *url = luaL_checkstring(L, 1);
    const char *method = luaL_checkstring(L, 2);
    luaL_checktype(L, 3, LUA_TFUNCTION);
    size_t post_len = 0;
    const char *post = luaL_optlstring(L, 5, NULL, &post_len);
    double timeout = 0;
    const char *path = NULL;
    bool report_progress = false;
    if (!lua_isnoneornil(L, 6)) {
        luaL_checktype(L, 6, LUA_TTABLE);
        if (lua_getfield(L, 6, "timeout") != LUA_TNIL) timeout = luaL_checknumber(L, -1);
        lua_pop(L, 1);
        if (lua_getfield(L, 6, "path") != LUA_TNIL) path = luaL_checkstring(L, -1);
        /* the string stays on the stack until the call returns: a number
         * converted here has no other reference */
        lua_getfield(L, 6, "report_progress");
        report_progress = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    const char **headers = get_headers(L, 4);
    lu_http *http = http_of(h);
    req *r = http ? calloc(1, sizeof *r) : NULL;
    if (!r) return luaL_error(L, "http.request: out of memory");
    r->owner = http;
    r->cb_ref = r->self_ref = LUA_NOREF;
    r->url = strdup(url);
    r->path = path ? strdup(path) : NULL;
    r->script_url = lu_host_sender(h) ? strdup(lu_host_sender(h)) : NULL;
    if (!r->url || (path && !r->path) || (lu_host_sender(h) && !r->script_url)) {
        req_free(http, r);
        return luaL_error(L, "http.request: out of memory");
    }
    lu_http_request hr;
    lu_http_request_init(&hr);
    hr.url = url;
    hr.method = method;
    hr.headers = headers;
    hr.body = post;
    hr.body_len = post_len;
    hr.timeout_ms = timeout > 0 ? (long)(timeout * 1000) : 0;
    hr.stall_ms = hr.timeout_ms > 0 ? hr.timeout_ms : 60000;
    hr.allow_file = 1;
    hr.path = path;
    hr.done = on_done;
    hr.progress = report_progress ? on_progress : NULL;
    hr.ud = r;
    /* references first: luaL_ref can raise, and a started request must be
     * listed (lu_host_http_free cancels what is listed) */
    lua_pushvalue(L, 3);
    r->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lu_lua_push_self(L);
    r->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lu_error err;
    if (lu_http_start(http->ctx, &hr, &r->id, &err) != LU_OK) {
        req_free(http, r);
        return luaL_error(L, "http.request: %s", err.message);
    }
    r->next = http->reqs;
    http->reqs = r;
    lua_pushinteger(L, r->id);
    return 1;
}

typedef struct response {
    lu_host *h;
    req *r;
    const lu_http_response *res;   /* NULL: a progress report */
    uint64_t received;
    int64_t total;
} response;

/* Builds the response table and runs the callback (inside a protected
 * call: this runs from lu_update, inside the library). */
static int complete_body(lua_State *L)
{
    const response *a = lua_touserdata(L, 1);
    req *r = a->r;
    const lu_http_response *res = a->res;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->cb_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->self_ref);
    lua_pushinteger(L, r->id);
    lua_createtable(L, 0, 5);
    if (!res) {
        lua_pushinteger(L, (lua_Integer)a->received);
        lua_setfield(L, -2, "bytes_received");
        lua_pushinteger(L, (lua_Integer)a->total);
        lua_setfield(L, -2, "bytes_total");
        lua_pushstring(L, r->url);
        lua_setfield(L, -2, "url");
    } else {
        lua_pushinteger(L, res->status);
        lua_setfield(L, -2, "status");
        lua_createtable(L, 0, (int)res->nheaders);
        for (size_t i = 0; i < res->nheaders; i++) {
            lua_pushstring(L, res->headers[i].value);
            lua_setfield(L, -2, res->headers[i].name);
        }
        lua_setfield(L, -2, "headers");
        if (res->path) {
            lua_pushstring(L, res->path);
            lua_setfield(L, -2, "path");
        }
        lua_pushlstring(L, res->body, res->body_len);
        lua_setfield(L, -2, "response");
        if (res->error) {
            lua_pushstring(L, res->error);
            lua_setfield(L, -2, "error");
        }
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->self_ref);
    lu_lua_set_self(L, -1);
    lua_pop(L, 1);
    lu_host_pcall(a->h, 3, 0, "http.request callback");
    return 0;
}

/* Runs the callback as the script that made the request. */
static void call_back(lu_host *h, const response *a)
{
    lua_State *L = h->L;
    const char *prev = h->current_url;
    lu_script *s = a->r->script_url ? lu_host_find_script(h, a->r->script_url) : NULL;
    h->current_url = s ? s->url : NULL;
    lua_pushcfunction(L, complete_body);   /* no allocation: a light C function */
    lua_pushlightuserdata(L, (void *)a);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) lu_host_report_error(h, "http.request callback");
    h->current_url = prev;
}

/* More of the body arrived (from lu_update, through liveupdate.poll). */
static void on_progress(void *ud, int id, uint64_t received, int64_t total)
{
    (void)id;
    req *r = ud;
    lu_host *h = lu_host_get(r->owner->L);
    response a = {h, r, NULL, received, total};
    call_back(h, &a);
}

/* A request finished (from lu_update, through liveupdate.poll). */
static void on_done(void *ud, const lu_http_response *res)
{
    req *r = ud;
    lu_http *http = r->owner;
    lu_host *h = lu_host_get(http->L);
    req **pp = &http->reqs;
    while (*pp && *pp != r) pp = &(*pp)->next;
    if (*pp) *pp = r->next;
    response a = {h, r, res, 0, 0};
    call_back(h, &a);
    req_free(http, r);
}

size_t lu_host_http_list(lu_host *h, lu_http_transfer *out, size_t max)
{
    size_t n = 0;
    for (req *r = h->http ? h->http->reqs : NULL; r && n < max; r = r->next) {
        uint64_t have = 0;
        int64_t total = -1;
        if (lu_http_progress(h->http->ctx, r->id, &have, &total, NULL) != LU_OK) continue;
        out[n++] = (lu_http_transfer){r->id, r->url, r->path, (long long)have, (long long)total};
    }
    return n;
}

void lu_host_http_free(lu_host *h)
{
    lu_http *http = h->http;
    if (!http) return;
    while (http->reqs) {
        req *r = http->reqs;
        http->reqs = r->next;
        lu_http_cancel(http->ctx, r->id, NULL);
        req_free(http, r);
    }
    free(http);
    h->http = NULL;
}

int lu_host_open_http(lua_State *L)
{
    static const luaL_Reg f[] = {{"request", l_request}, {NULL, NULL}};
    luaL_newlib(L, f);
    return 1;
}
