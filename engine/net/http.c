/* http.c -- HTTP(S) requests on the context's transfer loop (contract:
 * liveupdate/http.h).
 *
 * A request is an easy handle with the shared defaults (transfer.c) run by
 * the loop in download.c. libcurl's callbacks only copy bytes into the
 * request (body, "name\0value\0" header pairs); everything the caller sees
 * is built after the transfer, in lu_update(), so no caller code runs inside
 * libcurl. A body streamed to a path goes to "<path>.part" through the
 * context's I/O hooks and is renamed over the path only after a 2xx answer.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "liveupdate/http.h"
#include "net_internal.h"

typedef struct hreq {
    struct hreq *next;
    lu_context *ctx;
    int id;
    CURL *easy;
    struct curl_slist *out_headers;
    char *url, *method, *path, *part, *send;
    int fd;                         /* the .part while receiving, or -1 */
    bool is_file, too_big, no_memory;
    int write_errno;                /* why writing the .part failed, or 0 */
    char *body;
    size_t body_len, body_cap;
    uint64_t max_body;
    lu__http_headers hdrs;          /* of the response so far */
    lu_http_done_fn done;
    lu_http_progress_fn progress;
    void *ud;
    uint64_t reported;              /* body bytes told to `progress` so far */
    char errbuf[CURL_ERROR_SIZE];
} hreq;

typedef struct http_state {
    hreq *list;
    int next_id;
} http_state;

static void http_close(lu_context *ctx, void *state);
static int http_poll(lu_context *ctx, void *state);

/* Requests are a layer of their own above the loop: closed before it. */
static const lu_layer_ops http_layer = {"http", 2, http_poll, http_close};

void lu_http_request_init(lu_http_request *req)
{
    memset(req, 0, sizeof *req);
    req->method = "GET";
    req->stall_ms = 30000;
    req->max_body = UINT64_C(64) << 20;
}

/* Grows *buf to hold `need` bytes. False when out of memory. */
static bool grow(const lu_env *env, char **buf, size_t *cap, size_t need)
{
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 1024;
    while (n < need) n *= 2;
    char *b = lu__realloc(env, *buf, n);
    if (!b) return false;
    *buf = b;
    *cap = n;
    return true;
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    hreq *r = ud;
    size_t len = size * n;
    const lu_io_hooks *io = &r->ctx->env.io;
    if (r->fd >= 0) {
        for (size_t done = 0; done < len;) {
            long w = io->write(io->ud, r->fd, data + done, len - done);
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                r->write_errno = w < 0 ? errno : EIO;
                return 0;
            }
            done += (size_t)w;
        }
        return len;
    }
    if (r->body_len + len > r->max_body) {
        r->too_big = true;
        return 0;
    }
    if (!grow(&r->ctx->env, &r->body, &r->body_cap, r->body_len + len + 1)) {
        r->no_memory = true;
        return 0;
    }
    memcpy(r->body + r->body_len, data, len);
    r->body_len += len;
    return len;
}

bool lu__http_headers_line(const lu_env *env, lu__http_headers *h, const char *line, size_t len)
{
    size_t nlen, vlen;
    const char *name, *value;
    if (lu__header_is_status(line, len)) {   /* a new response: a redirect, a 100 */
        h->len = h->n = 0;
        return true;
    }
    if (!lu__header_split(line, len, &name, &nlen, &value, &vlen)) return true;
    if (!grow(env, &h->buf, &h->cap, h->len + nlen + vlen + 2)) return false;
    char *out = h->buf + h->len;
    for (size_t i = 0; i < nlen; i++) out[i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ? name[i] + 32 : name[i]);
    out[nlen] = '\0';
    memcpy(out + nlen + 1, value, vlen);
    out[nlen + 1 + vlen] = '\0';
    h->len += nlen + vlen + 2;
    h->n++;
    return true;
}

lu_http_header *lu__http_headers_list(const lu_env *env, const lu__http_headers *h)
{
    lu_http_header *list = h->n ? lu__calloc(env, h->n, sizeof *list) : NULL;
    size_t at = 0;
    for (size_t i = 0; list && i < h->n; i++) {
        list[i].name = h->buf + at;
        list[i].value = list[i].name + strlen(list[i].name) + 1;
        at = (size_t)(list[i].value - h->buf) + strlen(list[i].value) + 1;
    }
    return list;
}

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
    hreq *r = ud;
    size_t len = size * n;
    if (!lu__http_headers_line(&r->ctx->env, &r->hdrs, line, len)) {
        r->no_memory = true;
        return 0;
    }
    return len;
}

static void req_free(lu_context *ctx, hreq *r)
{
    const lu_env *env = &ctx->env;
    const lu_io_hooks *io = &env->io;
    if (r->easy) {
        lu__xfer_remove(ctx, r->easy);
        curl_easy_cleanup(r->easy);
    }
    if (r->fd >= 0) io->close(io->ud, r->fd);
    if (r->part) io->unlink(io->ud, r->part);
    curl_slist_free_all(r->out_headers);
    lu__free(env, r->url);
    lu__free(env, r->method);
    lu__free(env, r->path);
    lu__free(env, r->part);
    lu__free(env, r->send);
    lu__free(env, r->body);
    lu__free(env, r->hdrs.buf);
    lu__free(env, r);
}

/* Unlinks request `id` (or the request `r` when id is 0); NULL if absent. */
static hreq *take(http_state *hs, int id, const hreq *r)
{
    for (hreq **p = hs ? &hs->list : NULL; p && *p; p = &(*p)->next)
        if ((id && (*p)->id == id) || *p == r) {
            hreq *found = *p;
            *p = found->next;
            return found;
        }
    return NULL;
}

/* The transfer ended (from lu_update): build the response, run the callback. */
static void on_done(void *ud, CURL *easy, CURLcode rc)
{
    hreq *r = ud;
    lu_context *ctx = r->ctx;
    const lu_io_hooks *io = &ctx->env.io;
    take(lu__layer_state(ctx, &http_layer), 0, r);
    lu_http_response res;
    memset(&res, 0, sizeof res);
    res.id = r->id;
    if (r->fd >= 0) {
        if (io->close(io->ud, r->fd) != 0 && rc == CURLE_OK) {
            r->write_errno = errno;
            rc = CURLE_WRITE_ERROR;
        }
        r->fd = -1;
    }
    if (r->is_file) res.status = rc == CURLE_OK ? 200 : rc == CURLE_FILE_COULDNT_READ_FILE ? 404 : 0;
    else if (rc == CURLE_OK) curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &res.status);
    curl_off_t size = -1;
    curl_easy_getinfo(easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &size);
    res.size = size > 0 ? (uint64_t)size : 0;
    char why[CURL_ERROR_SIZE + PATH_MAX + 64];
    if (rc != CURLE_OK && !(r->is_file && res.status == 404)) {
        if (r->write_errno) snprintf(why, sizeof why, "cannot write '%s': %s", r->part, strerror(r->write_errno));
        else if (r->too_big) snprintf(why, sizeof why, "the body is over %llu bytes", (unsigned long long)r->max_body);
        else if (r->no_memory) snprintf(why, sizeof why, "out of memory receiving the response");
        else snprintf(why, sizeof why, "%s", r->errbuf[0] ? r->errbuf : curl_easy_strerror(rc));
        res.error = why;
        res.result = r->write_errno ? (r->write_errno == ENOSPC ? LU_NO_SPACE : LU_IO_ERROR)
                     : r->no_memory ? LU_MEM_ERROR
                     : rc == CURLE_OPERATION_TIMEDOUT ? LU_TIMEOUT : LU_NETWORK_ERROR;
    }
    /* the headers first: a response that cannot be listed whole is a failure,
     * and then nothing replaces the file at the path */
    lu_http_header *h = lu__http_headers_list(&ctx->env, &r->hdrs);
    if (r->hdrs.n && !h && !res.error) {
        res.error = "out of memory listing the response headers";
        res.result = LU_MEM_ERROR;
    }
    res.headers = h;
    res.nheaders = h ? r->hdrs.n : 0;
    if (r->path) {
        bool ok2xx = !res.error && res.status >= 200 && res.status < 300;
        if (ok2xx && io->rename(io->ud, r->part, r->path) == 0) {
            lu__free(&ctx->env, r->part);
            r->part = NULL;
        } else if (ok2xx) {
            snprintf(why, sizeof why, "cannot rename '%s' to '%s': %s", r->part, r->path, strerror(errno));
            res.error = why;
            res.result = LU_IO_ERROR;
            ok2xx = false;
        }
        res.path = ok2xx || (!res.error && res.status == 304) ? r->path : NULL;
        res.body = "";
    } else {
        res.body = r->body ? r->body : "";
        if (r->body) r->body[r->body_len] = '\0';
        res.body_len = r->body_len;
    }
    /* the loop is done with the handle: the callback may start new requests */
    r->easy = NULL;
    /* the last bytes are told before the answer (a small body can arrive
     * whole within one lu_update) unless that callback closes the context */
    curl_off_t got = 0;
    curl_easy_getinfo(easy, CURLINFO_SIZE_DOWNLOAD_T, &got);
    bool told = false;
    if (r->progress && got > 0 && (uint64_t)got != r->reported) {
        r->reported = (uint64_t)got;
        r->progress(r->ud, r->id, r->reported, size >= 0 ? (int64_t)size : -1);
        told = true;
    }
    if (!told || !lu__closing(ctx)) r->done(r->ud, &res);
    lu__free(&ctx->env, h);
    curl_easy_cleanup(easy);
    req_free(ctx, r);
}

static lu_status state_get(lu_context *ctx, http_state **out, lu_error *err)
{
    *out = lu__layer_state(ctx, &http_layer);
    if (*out) return LU_OK;
    http_state *hs = lu__calloc(&ctx->env, 1, sizeof *hs);
    if (!hs) return lu__fail(err, LU_MEM_ERROR, "out of memory starting an HTTP request");
    lu_status st = lu__layer_attach(ctx, &http_layer, hs, err);
    if (st != LU_OK) {
        lu__free(&ctx->env, hs);
        return st;
    }
    *out = hs;
    return LU_OK;
}

/* Checks the request; the scheme decides whether file: is in play. */
static lu_status check_request(const lu_http_request *req, bool *is_file, lu_error *err)
{
    if (!req || !req->url || !req->done) return lu__fail(err, LU_INVAL, "an HTTP request needs a URL and a callback");
    *is_file = strncasecmp(req->url, "file:", 5) == 0;
    if (!(strncasecmp(req->url, "http://", 7) == 0 || strncasecmp(req->url, "https://", 8) == 0 ||
          (*is_file && req->allow_file)))
        return lu__fail(err, LU_INVAL, "request URL '%.200s' is not http:%s", req->url,
                        req->allow_file ? ", https: or file:" : " or https:");
    const char *m = req->method ? req->method : "GET";
    if (!m[0] || strpbrk(m, " \t\r\n"))
        return lu__fail(err, LU_INVAL, "request method '%.40s' is not a token", m);
    if (req->path && strcasecmp(m, "HEAD") == 0)
        return lu__fail(err, LU_INVAL, "a HEAD request has no body to store at '%.200s'", req->path);
    return LU_OK;
}

/* Sets up r->easy from the request. False when out of memory. */
static bool setup_easy(lu_context *ctx, hreq *r, const lu_http_request *req)
{
    CURL *e = r->easy;
    lu__curl_defaults(ctx, e, req->allow_file != 0, r->errbuf);
    curl_easy_setopt(e, CURLOPT_URL, r->url);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
    for (const char *const *h = req->headers; h && *h; h++) {
        struct curl_slist *l = curl_slist_append(r->out_headers, *h);
        if (!l) return false;
        r->out_headers = l;
    }
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, r->out_headers);
    if (req->timeout_ms > 0) curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, req->timeout_ms);
    long stall = req->stall_ms > 0 ? req->stall_ms : 30000;
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (stall + 999) / 1000);
    if (strcasecmp(r->method, "HEAD") == 0) curl_easy_setopt(e, CURLOPT_NOBODY, 1L);
    else if (strcasecmp(r->method, "GET") != 0) curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, r->method);
    if (req->body) {
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, r->send);
    }
    return true;
}

lu_status lu_http_start(lu_context *ctx, const lu_http_request *req, int *id, lu_error *err)
{
    *id = 0;
    bool is_file = false;
    LU_TRY(check_request(req, &is_file, err));
    LU_TRY(lu__curl_start(err));
    http_state *hs;
    LU_TRY(state_get(ctx, &hs, err));
    const lu_env *env = &ctx->env;
    const lu_io_hooks *io = &env->io;
    lu_status st = LU_MEM_ERROR;
    hreq *r = lu__calloc(env, 1, sizeof *r);
    if (!r) return lu__fail(err, LU_MEM_ERROR, "out of memory starting an HTTP request");
    r->ctx = ctx;
    r->fd = -1;
    r->is_file = is_file;
    r->done = req->done;
    r->progress = req->progress;
    r->ud = req->ud;
    r->max_body = req->max_body ? req->max_body : UINT64_C(64) << 20;
    r->url = lu__strdup(env, req->url);
    r->method = lu__strdup(env, req->method ? req->method : "GET");
    if (req->body && (r->send = lu__malloc(env, req->body_len + 1))) memcpy(r->send, req->body, req->body_len);
    if (req->path && (r->path = lu__strdup(env, req->path)) && (r->part = lu__malloc(env, strlen(req->path) + 6)))
        snprintf(r->part, strlen(req->path) + 6, "%s.part", req->path);
    if (!r->url || !r->method || (req->body && !r->send) || (req->path && !r->part)) goto fail;
    if (r->part) {
        r->fd = io->open(io->ud, r->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (r->fd < 0) {
            int e = errno;
            lu__free(env, r->part);   /* not ours to remove */
            r->part = NULL;
            st = lu__fail(err, e == ENOSPC ? LU_NO_SPACE : LU_IO_ERROR, "cannot create '%s.part': %s", req->path,
                          strerror(e));
            goto fail_set;
        }
    }
    if (!(r->easy = curl_easy_init()) || !setup_easy(ctx, r, req)) goto fail;
    st = lu__xfer_add(ctx, r->easy, on_done, r, err);
    if (st != LU_OK) {
        curl_easy_cleanup(r->easy);
        r->easy = NULL;
        goto fail_set;
    }
    r->id = ++hs->next_id;
    r->next = hs->list;
    hs->list = r;
    *id = r->id;
    return LU_OK;
fail:
    st = lu__fail(err, LU_MEM_ERROR, "out of memory starting an HTTP request to '%.200s'", req->url);
fail_set:
    req_free(ctx, r);
    return st;
}

lu_status lu_http_cancel(lu_context *ctx, int id, lu_error *err)
{
    hreq *r = id > 0 ? take(lu__layer_state(ctx, &http_layer), id, NULL) : NULL;
    if (!r) return lu__fail(err, LU_NOT_FOUND, "no HTTP request %d", id);
    req_free(ctx, r);
    return LU_OK;
}

lu_status lu_http_progress(lu_context *ctx, int id, uint64_t *have, int64_t *total, lu_error *err)
{
    http_state *hs = lu__layer_state(ctx, &http_layer);
    for (hreq *r = hs ? hs->list : NULL; r; r = r->next) {
        if (r->id != id) continue;
        curl_off_t done = 0, size = -1;
        curl_easy_getinfo(r->easy, CURLINFO_SIZE_DOWNLOAD_T, &done);
        curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &size);
        *have = done > 0 ? (uint64_t)done : 0;
        *total = size >= 0 ? (int64_t)size : -1;
        return LU_OK;
    }
    return lu__fail(err, LU_NOT_FOUND, "no HTTP request %d", id);
}

/* From lu_update: tells each request with a progress callback how much
 * more of its body arrived. A callback may cancel or start requests (the
 * walk starts over after each one; a told request is not told again until
 * more bytes come) or close the context (the walk stops). */
static int http_poll(lu_context *ctx, void *state)
{
    http_state *hs = state;
    int ran = 0;
    for (hreq *r = hs->list; r && !lu__closing(ctx);) {
        curl_off_t got = 0, size = -1;
        if (r->progress && r->easy) {
            curl_easy_getinfo(r->easy, CURLINFO_SIZE_DOWNLOAD_T, &got);
            curl_easy_getinfo(r->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &size);
        }
        if (got <= 0 || (uint64_t)got == r->reported) {
            r = r->next;
            continue;
        }
        r->reported = (uint64_t)got;
        r->progress(r->ud, r->id, r->reported, size >= 0 ? (int64_t)size : -1);
        ran++;
        r = hs->list;
    }
    return ran;
}

/* Frees every request without its callback (lu_context_close). */
static void http_close(lu_context *ctx, void *state)
{
    http_state *hs = state;
    while (hs->list) {
        hreq *r = hs->list;
        hs->list = r->next;
        req_free(ctx, r);
    }
    lu__free(&ctx->env, hs);
}
