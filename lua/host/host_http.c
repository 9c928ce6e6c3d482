/* host_http.c -- Defold's `http.request` in lurun, on the library's
 * transfer loop (lu_transfer_add, liveupdate/download.h): requests advance
 * in lu_update() with the volume downloads, once per frame, so the game
 * loop never waits on the network, and they use the same TLS settings.
 *
 *   http.request(url, method, callback[, headers[, post_data[, options]]])
 *       -> request id
 *   callback(self, id, response), response = {status, response, headers,
 *       path, error}
 *   options: timeout (seconds), path (stream the body to this file)
 *
 * http:, https: (certificates verified) and file: URLs. file: answers 200
 * when the file was read and 404 when it does not exist, so the same
 * script runs against a local folder. With options.path the body goes to
 * "<path>.part" and is renamed over <path> only after a 2xx answer; on a
 * 304 the existing file is kept; on anything else the .part is removed.
 * A transfer that fails (no connection, timeout) has status 0 and `error`.
 */
#include <curl/curl.h>
#include <lauxlib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "host.h"
#include "liveupdate/download.h"
#include "liveupdate_lua.h"

typedef struct req {
    struct req *next;
    lu_http *owner;
    CURL *easy;
    int id, cb_ref, self_ref;
    char *script_url;
    char *path, *part;
    FILE *out;
    char *body;
    size_t body_len, body_cap;
    char *hdrs;          /* response headers: "name\0value\0"..., names lower-case */
    size_t hdrs_len, hdrs_cap;
    struct curl_slist *req_headers;
    char *post;
    bool is_file;
    bool easy_done;      /* out of the transfer loop already */
    char errbuf[CURL_ERROR_SIZE];
    char *url;
} req;

struct lu_http {
    lu_context *ctx;
    req *reqs;
    int next_id;
    lua_State *L;
};

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    req *r = ud;
    size_t len = size * n;
    if (r->out) return fwrite(data, 1, len, r->out);
    if (r->body_len + len + 1 > r->body_cap) {
        size_t cap = r->body_cap ? r->body_cap : 16384;
        while (cap < r->body_len + len + 1) cap *= 2;
        char *b = realloc(r->body, cap);
        if (!b) return 0;
        r->body = b;
        r->body_cap = cap;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    return len;
}

/* Collects "Name: value" lines in C memory (lower-case names); a new
 * status line starts afresh. libcurl runs this inside its transfer, so it
 * touches no Lua (a Lua error would unwind through libcurl): complete()
 * builds the headers table after the transfer. Out of memory fails the
 * transfer (returning less than `len`). */
static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    req *r = ud;
    size_t len = size * n;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        r->hdrs_len = 0;
        return len;
    }
    char *colon = memchr(data, ':', len);
    if (!colon) return len;
    char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    size_t nlen = (size_t)(colon - data), vlen = (size_t)(end - v);
    size_t need = r->hdrs_len + nlen + vlen + 2;
    if (need > r->hdrs_cap) {
        size_t cap = r->hdrs_cap ? r->hdrs_cap : 1024;
        while (cap < need) cap *= 2;
        char *grown = realloc(r->hdrs, cap);
        if (!grown) return 0;
        r->hdrs = grown;
        r->hdrs_cap = cap;
    }
    char *out = r->hdrs + r->hdrs_len;
    for (size_t i = 0; i < nlen; i++) out[i] = (char)(data[i] >= 'A' && data[i] <= 'Z' ? data[i] + 32 : data[i]);
    out[nlen] = '\0';
    memcpy(out + nlen + 1, v, vlen);
    out[nlen + 1 + vlen] = '\0';
    r->hdrs_len = need;
    return len;
}

/* Pushes the headers on_header collected as a table {name = value}. */
static void push_headers(lua_State *L, const req *r)
{
    lua_newtable(L);
    for (size_t at = 0; at < r->hdrs_len;) {
        const char *name = r->hdrs + at;
        const char *value = name + strlen(name) + 1;
        lua_pushstring(L, value);
        lua_setfield(L, -2, name);
        at = (size_t)(value - r->hdrs) + strlen(value) + 1;
    }
}

static void req_free(lu_http *http, req *r)
{
    if (r->easy) {
        if (!r->easy_done) lu_transfer_remove(http->ctx, r->easy);
        curl_easy_cleanup(r->easy);
    }
    if (r->out) fclose(r->out);
    if (r->part) remove(r->part);
    luaL_unref(http->L, LUA_REGISTRYINDEX, r->cb_ref);
    luaL_unref(http->L, LUA_REGISTRYINDEX, r->self_ref);
    curl_slist_free_all(r->req_headers);
    free(r->script_url);
    free(r->url);
    free(r->path);
    free(r->part);
    free(r->body);
    free(r->hdrs);
    free(r->post);
    free(r);
}

static void on_done(void *ud, void *easy, int curl_code);

static lu_http *http_of(lu_host *h)
{
    if (!h->http) {
        lu_http *http = calloc(1, sizeof *http);
        if (!http) return NULL;
        http->ctx = h->ctx;
        http->L = h->L;
        http->next_id = 1;
        h->http = http;
    }
    return h->http;
}

static void set_headers(lua_State *L, req *r, int idx)
{
    if (lua_isnoneornil(L, idx)) return;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING && lua_isstring(L, -1)) {
            lua_pushfstring(L, "%s: %s", lua_tostring(L, -2), lua_tostring(L, -1));
            r->req_headers = curl_slist_append(r->req_headers, lua_tostring(L, -1));
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

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
    if (!lua_isnoneornil(L, 6)) {
        luaL_checktype(L, 6, LUA_TTABLE);
        if (lua_getfield(L, 6, "timeout") != LUA_TNIL) timeout = luaL_checknumber(L, -1);
        lua_pop(L, 1);
        if (lua_getfield(L, 6, "path") != LUA_TNIL) path = luaL_checkstring(L, -1);
        lua_pop(L, 1);   /* options table keeps the string alive */
    }
    lu_http *http = http_of(h);
    req *r = http ? calloc(1, sizeof *r) : NULL;
    if (!r) return luaL_error(L, "http.request: out of memory");
    r->owner = http;
    r->cb_ref = r->self_ref = LUA_NOREF;
    r->easy = curl_easy_init();
    r->id = http->next_id++;
    r->is_file = strncasecmp(url, "file:", 5) == 0;
    r->url = strdup(url);
    lua_pushvalue(L, 3);
    r->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lu_lua_push_self(L);
    r->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    r->script_url = lu_host_sender(h) ? strdup(lu_host_sender(h)) : NULL;
    set_headers(L, r, 4);
    if (path) {
        r->path = strdup(path);
        r->part = malloc(strlen(path) + 6);
        if (r->part) sprintf(r->part, "%s.part", path);
        r->out = r->part ? fopen(r->part, "wb") : NULL;
        if (!r->out) {
            free(r->part);
            r->part = NULL;
            req_free(http, r);
            return luaL_error(L, "http.request: cannot write '%s.part'", path);
        }
    }
    CURL *e = r->easy;
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https,file");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, r->errbuf);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->req_headers);
    if (timeout > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)(timeout * 1000));
    if (strcasecmp(method, "HEAD") == 0) curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcasecmp(method, "GET") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, method);
    if (post) {
        r->post = malloc(post_len + 1);
        if (r->post) memcpy(r->post, post, post_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE, (long)post_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->post);
    }
    lu_error err;
    if (lu_transfer_add(http->ctx, e, on_done, r, &err) != LU_OK) {
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
    long status;
    bool has_path;       /* the body is at r->path (2xx, or 304 keeping it) */
    const char *error;   /* transfer error, or NULL */
} response;

/* Builds the response table and runs the callback (inside a protected
 * call: complete() runs from lu_update, inside the library). */
static int complete_body(lua_State *L)
{
    const response *a = lua_touserdata(L, 1);
    req *r = a->r;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->cb_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->self_ref);
    lua_pushinteger(L, r->id);
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, a->status);
    lua_setfield(L, -2, "status");
    push_headers(L, r);
    lua_setfield(L, -2, "headers");
    if (r->path) {
        if (a->has_path) {
            lua_pushstring(L, r->path);
            lua_setfield(L, -2, "path");
        }
        lua_pushliteral(L, "");
    } else {
        lua_pushlstring(L, r->body ? r->body : "", r->body_len);
    }
    lua_setfield(L, -2, "response");
    if (a->error) {
        lua_pushstring(L, a->error);
        lua_setfield(L, -2, "error");
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->self_ref);
    lu_lua_set_self(L, -1);
    lua_pop(L, 1);
    lu_host_pcall(a->h, 3, 0, "http.request callback");
    return 0;
}

/* Finishes the file, then runs the callback. */
static void complete(lu_host *h, req *r, CURLcode rc)
{
    lua_State *L = h->L;
    response a = {h, r, 0, false, NULL};
    if (r->out) {
        if (fclose(r->out) != 0 && rc == CURLE_OK) rc = CURLE_WRITE_ERROR;
        r->out = NULL;
    }
    if (r->is_file) a.status = rc == CURLE_OK ? 200 : rc == CURLE_FILE_COULDNT_READ_FILE ? 404 : 0;
    else if (rc == CURLE_OK) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &a.status);
    if (r->path) {
        bool ok2xx = a.status >= 200 && a.status < 300;
        if (ok2xx && rename(r->part, r->path) == 0) {
            free(r->part);
            r->part = NULL;
        }
        a.has_path = ok2xx || a.status == 304;
    }
    if (rc != CURLE_OK && !(r->is_file && a.status == 404)) a.error = r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc);
    const char *prev = h->current_url;
    lu_script *s = r->script_url ? lu_host_find_script(h, r->script_url) : NULL;
    h->current_url = s ? s->url : NULL;
    lua_pushcfunction(L, complete_body);   /* no allocation: a light C function */
    lua_pushlightuserdata(L, &a);
    if (lua_pcall(L, 1, 0, 0) != LUA_OK) lu_host_report_error(h, "http.request callback");
    h->current_url = prev;
}

/* A request finished (from lu_update, through liveupdate.poll). */
static void on_done(void *ud, void *easy, int curl_code)
{
    (void)easy;
    req *r = ud;
    lu_http *http = r->owner;
    lu_host *h = lu_host_get(http->L);
    req **pp = &http->reqs;
    while (*pp && *pp != r) pp = &(*pp)->next;
    if (*pp) *pp = r->next;
    complete(h, r, (CURLcode)curl_code);
    r->easy_done = true;
    req_free(http, r);
}

size_t lu_host_http_list(lu_host *h, lu_http_transfer *out, size_t max)
{
    size_t n = 0;
    for (req *r = h->http ? h->http->reqs : NULL; r && n < max; r = r->next, n++) {
        curl_off_t done = 0, total = -1;
        curl_easy_getinfo(r->easy, CURLINFO_SIZE_DOWNLOAD_T, &done);
        curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &total);
        out[n] = (lu_http_transfer){r->id, r->url, r->path, (long long)done, (long long)total};
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
