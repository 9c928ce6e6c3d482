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
    int id, cb_ref, self_ref, headers_ref;
    char *script_url;
    char *path, *part;
    FILE *out;
    char *body;
    size_t body_len, body_cap;
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

/* Collects "Name: value" lines into the response headers table
 * (lower-case names); a new status line starts the table afresh. */
static size_t on_header(char *data, size_t size, size_t n, void *ud)
{
    req *r = ud;
    lua_State *L = r->owner->L;
    size_t len = size * n;
    if (len >= 5 && strncmp(data, "HTTP/", 5) == 0) {
        lua_newtable(L);
        lua_rawseti(L, LUA_REGISTRYINDEX, r->headers_ref);
        return len;
    }
    char *colon = memchr(data, ':', len);
    if (!colon) return len;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->headers_ref);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (char *c = data; c < colon; c++) luaL_addchar(&b, (char)(*c >= 'A' && *c <= 'Z' ? *c + 32 : *c));
    luaL_pushresult(&b);
    char *v = colon + 1, *end = data + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ')) end--;
    lua_pushlstring(L, v, (size_t)(end - v));
    lua_settable(L, -3);
    lua_pop(L, 1);
    return len;
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
    luaL_unref(http->L, LUA_REGISTRYINDEX, r->headers_ref);
    curl_slist_free_all(r->req_headers);
    free(r->script_url);
    free(r->url);
    free(r->path);
    free(r->part);
    free(r->body);
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
    r->cb_ref = r->self_ref = r->headers_ref = LUA_NOREF;
    r->easy = curl_easy_init();
    r->id = http->next_id++;
    r->is_file = strncasecmp(url, "file:", 5) == 0;
    r->url = strdup(url);
    lua_pushvalue(L, 3);
    r->cb_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lu_lua_push_self(L);
    r->self_ref = luaL_ref(L, LUA_REGISTRYINDEX);
    lua_newtable(L);
    r->headers_ref = luaL_ref(L, LUA_REGISTRYINDEX);
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

/* Builds the response table and runs the callback. */
static void complete(lu_host *h, req *r, CURLcode rc)
{
    lua_State *L = h->L;
    long status = 0;
    if (r->out) {
        if (fclose(r->out) != 0 && rc == CURLE_OK) rc = CURLE_WRITE_ERROR;
        r->out = NULL;
    }
    if (r->is_file) status = rc == CURLE_OK ? 200 : rc == CURLE_FILE_COULDNT_READ_FILE ? 404 : 0;
    else if (rc == CURLE_OK) curl_easy_getinfo(r->easy, CURLINFO_RESPONSE_CODE, &status);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->cb_ref);
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->self_ref);
    lua_pushinteger(L, r->id);
    lua_createtable(L, 0, 5);
    lua_pushinteger(L, status);
    lua_setfield(L, -2, "status");
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->headers_ref);
    lua_setfield(L, -2, "headers");
    if (r->path) {
        bool ok2xx = status >= 200 && status < 300;
        if (ok2xx && rename(r->part, r->path) == 0) {
            free(r->part);
            r->part = NULL;
        }
        if (ok2xx || status == 304) {
            lua_pushstring(L, r->path);
            lua_setfield(L, -2, "path");
        }
        lua_pushliteral(L, "");
    } else {
        lua_pushlstring(L, r->body ? r->body : "", r->body_len);
    }
    lua_setfield(L, -2, "response");
    if (rc != CURLE_OK && !(r->is_file && status == 404)) {
        lua_pushstring(L, r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
        lua_setfield(L, -2, "error");
    }
    const char *prev = h->current_url;
    lu_script *s = r->script_url ? lu_host_find_script(h, r->script_url) : NULL;
    h->current_url = s ? s->url : NULL;
    lua_rawgeti(L, LUA_REGISTRYINDEX, r->self_ref);
    lu_lua_set_self(L, -1);
    lua_pop(L, 1);
    lu_host_pcall(h, 3, 0, "http.request callback");
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
