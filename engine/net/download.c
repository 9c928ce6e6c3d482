/* download.c -- resumable, verified volume downloads on libcurl's multi
 * interface, advanced by lu_update() (contract: liveupdate/download.h).
 *
 * Each download is a small state machine: QUEUED (waiting for a free slot
 * or for its retry time), a delta's TAIL, RANGE and COPY when it has a
 * base (see "deltas" below), BODY (receiving into <file>.part), SIG (fetching
 * "<url>.sig" into memory), then finished: a result waits in the list until
 * lu_update() runs its callback. Files: <save>/downloads/<file>.part, its
 * sidecar <file>.part.json ({"url", "etag", "last_modified", "size",
 * "sha256"}, written crash-safely before the first byte of a response is
 * kept) and, when verified, <save>/volumes/<file> (plus <file>.sig).
 *
 * Resume rule: a .part is continued only when its sidecar names the same
 * URL, size and SHA-256 and holds a validator; the request then carries
 * Range and If-Range. A server whose validator changed answers 200 with the
 * whole new file, and the .part is truncated and restarted rather than
 * spliced. The SHA-256 state is rebuilt from the kept bytes before resuming.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <curl/curl.h>

#include "../crypto/crypto_internal.h"
#include "net_internal.h"
#include "liveupdate/crypto.h"
#include "liveupdate/download.h"

/* A delta (TAIL, RANGE, COPY) comes before BODY: see "deltas" below. */
enum phase { QUEUED, TAIL, RANGE, COPY, BODY, SIG, FINISHED };

typedef struct dl {
    struct dl *next;
    lu_context *ctx;
    int id, attempt;
    enum phase phase;
    char *url, *file, *sha256, *floor_name;
    char part[PATH_MAX], meta[PATH_MAX], final[PATH_MAX];
    lu_download_request req;      /* callbacks and limits (strings above) */
    long long next_try_ms;
    CURL *easy;
    struct curl_slist *headers;
    int fd;                        /* the .part while receiving */
    lu__sha256 *hs;
    uint64_t have, range_from, total, reported, flushed;
    bool response_started, sidecar_written, cancelled;
    long http_code;
    char etag[LU__ETAG_CAP], last_modified[LU__LAST_MODIFIED_CAP], content_range[LU__CONTENT_RANGE_CAP];
    lu_status abort_status;        /* set by a callback that stopped the transfer */
    char abort_msg[LU_ERROR_MAX];
    char sig[160];
    size_t sig_len;
    char got_sha256[LU_SHA256_HEX];  /* the received bytes' hash, once checked */
    /* a delta from req.base (see "deltas" below) */
    char *base;                    /* the old volume on disk, or NULL */
    bool whole;                    /* no (more) delta: the whole file is fetched */
    int base_fd;
    lu_zip_layout *old_lay;
    unsigned char *tail;           /* the new file's bytes [tail_from, size) */
    uint64_t tail_from;
    uint64_t want_from, want_to;   /* the range being fetched */
    int rounds;                    /* tail requests made */
    char delta_etag[LU__ETAG_CAP], delta_lm[LU__LAST_MODIFIED_CAP];   /* the tail's validator */
    char delta_why[LU_ERROR_MAX];  /* set by a callback: the delta stops, the whole file is fetched */
    lu__delta_plan plan;
    size_t op;                     /* plan ops done */
    uint64_t op_done;              /* bytes of ops[op] done */
    uint64_t received_now;         /* bytes of the current tail request received */
    char base_id[96];              /* the old file's identity (base_identity), for a resume */
    bool resuming;                 /* a delta's .part and sidecar were found: resume_have bytes kept */
    uint64_t received;             /* bytes the network brought, every request (lu_download_info) */
    uint64_t to_receive;           /* a planned delta: `received` once its ranges are in; else 0 */
    uint64_t resume_have, resume_tail_from;
    lu_error result;
    char errbuf[CURL_ERROR_SIZE];
} dl;

typedef struct lu_downloads lu_downloads;

/* A transfer someone else set up (lu__xfer_add: HTTP requests, http.c). */
typedef struct xfer {
    struct xfer *next;
    CURL *easy;
    lu__xfer_done_fn done;
    void *ud;
} xfer;

static int downloads_poll(lu_context *ctx, void *state);
static void downloads_close(lu_context *ctx, void *state);

/* The net layer's per-context state (lu_downloads), attached to the core
 * on first use; lu_update() polls it and lu_context_close() closes it. */
static const lu_layer_ops net_layer = {"net", 1, downloads_poll, downloads_close};

static lu_downloads *downloads(const lu_context *ctx)
{
    return lu__layer_state(ctx, &net_layer);
}

static int max_downloads(const lu_context *ctx)
{
    int n = lu__options(ctx)->max_downloads;
    return n > 0 ? n : 2;
}

struct lu_downloads {
    CURLM *multi;
    dl *list;
    xfer *others;
    int next_id;
};

static long long now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void lu_download_request_init(lu_download_request *req)
{
    memset(req, 0, sizeof *req);
    req->max_size = UINT64_C(1) << 30;
    req->timeout_ms = 30000;
    req->connect_timeout_ms = 10000;
    req->retries = 3;
    req->backoff_ms = 250;
    req->verify_signature = -1;
}

/* ---- files ---------------------------------------------------------- */

static void set_result(dl *d, lu_status st, const char *fmt, ...) LU_PRINTF(3, 4);
static void set_result(dl *d, lu_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    lu__vfail(&d->result, st, fmt, ap);
    va_end(ap);
}

/* unlink through the context's lu_io_hooks */
static void remove_file(const lu_context *ctx, const char *path)
{
    ctx->env.io.unlink(ctx->env.io.ud, path);
}

static void remove_part(dl *d)
{
    remove_file(d->ctx, d->part);
    remove_file(d->ctx, d->meta);
}

/* Writes the sidecar for the response now starting (crash-safe; every
 * cJSON call checked, so a sidecar is whole or not written). */
static lu_status write_sidecar(lu_context *ctx, dl *d, lu_error *err)
{
    bool delta = d->old_lay != NULL;   /* a delta: its validator, the old file and the tail's start */
    cJSON *j = cJSON_CreateObject(), *x;
    bool ok = j && cJSON_AddStringToObject(j, "url", d->url) &&
              cJSON_AddStringToObject(j, "etag", delta ? d->delta_etag : d->etag) &&
              cJSON_AddStringToObject(j, "last_modified", delta ? d->delta_lm : d->last_modified) &&
              cJSON_AddNumberToObject(j, "size", (double)d->req.size) &&
              cJSON_AddStringToObject(j, "sha256", d->sha256 ? d->sha256 : "") &&
              (!delta || ((x = cJSON_AddObjectToObject(j, "delta")) && cJSON_AddStringToObject(x, "base", d->base_id) &&
                          cJSON_AddNumberToObject(x, "tail_from", (double)d->tail_from)));
    char *text = ok ? cJSON_PrintUnformatted(j) : NULL;
    cJSON_Delete(j);
    if (!text) return lu__fail(err, LU_MEM_ERROR, "out of memory writing '%s'", d->meta);
    char dir[PATH_MAX];
    LU_TRY(lu__save_path(ctx, LU_SAVE_DOWNLOADS, NULL, false, dir, sizeof dir, err));
    const char *name = strrchr(d->meta, '/') + 1;
    lu_status st = lu__fs_write_atomic(&ctx->env, dir, name, text, strlen(text), err);
    cJSON_free(text);
    return st;
}

/* A validator goes into an If-Range request header: no control bytes. */
static bool header_safe(const char *s)
{
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) return false;
    return true;
}

/* What both resume rules check of the parsed sidecar `j` (see
 * lu__download_sidecar_resumes); copies the validators out when true. */
static bool sidecar_names(const cJSON *j, const char *url, const char *sha256, uint64_t size,
                          char etag_out[LU__ETAG_CAP], char last_modified_out[LU__LAST_MODIFIED_CAP])
{
    const char *u = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "url"));
    const char *etag = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "etag"));
    const char *lm = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "last_modified"));
    const char *sha = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(j, "sha256"));
    const cJSON *sz = cJSON_GetObjectItemCaseSensitive(j, "size");
    bool ok = u && etag && lm && sha && cJSON_IsNumber(sz) && strcmp(u, url) == 0 &&
              strcmp(sha, sha256 ? sha256 : "") == 0 && sz->valuedouble == (double)size && (etag[0] || lm[0]) &&
              strlen(etag) < LU__ETAG_CAP && strlen(lm) < LU__LAST_MODIFIED_CAP && header_safe(etag) && header_safe(lm);
    if (ok) {
        snprintf(etag_out, LU__ETAG_CAP, "%s", etag);
        snprintf(last_modified_out, LU__LAST_MODIFIED_CAP, "%s", lm);
    }
    return ok;
}

bool lu__download_sidecar_resumes(const char *text, size_t len, const char *url, const char *sha256, uint64_t size,
                                  char etag_out[LU__ETAG_CAP], char last_modified_out[LU__LAST_MODIFIED_CAP])
{
    cJSON *j = cJSON_ParseWithLength(text, len);
    bool ok = j && !cJSON_GetObjectItemCaseSensitive(j, "delta") &&   /* a delta's .part is no whole download's */
              sidecar_names(j, url, sha256, size, etag_out, last_modified_out);
    cJSON_Delete(j);
    return ok;
}

bool lu__download_sidecar_delta(const char *text, size_t len, const char *url, const char *sha256, uint64_t size,
                                 const char *base_id, uint64_t *tail_from, char etag_out[LU__ETAG_CAP],
                                 char last_modified_out[LU__LAST_MODIFIED_CAP])
{
    cJSON *j = cJSON_ParseWithLength(text, len);
    const cJSON *x = cJSON_GetObjectItemCaseSensitive(j, "delta");
    const char *b = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(x, "base"));
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(x, "tail_from");
    bool ok = j && b && b[0] && strcmp(b, base_id) == 0 && cJSON_IsNumber(t) && t->valuedouble > 0 &&
              t->valuedouble < (double)size && t->valuedouble == (double)(uint64_t)t->valuedouble &&
              sidecar_names(j, url, sha256, size, etag_out, last_modified_out);
    if (ok) *tail_from = (uint64_t)t->valuedouble;
    cJSON_Delete(j);
    return ok;
}

/* True when the sidecar describes this request and has a validator; fills
 * the validator fields for If-Range. */
static bool sidecar_matches(lu_context *ctx, dl *d)
{
    char *text = NULL;
    size_t len;
    lu_error err;
    if (lu__fs_read_all(&ctx->env, d->meta, &text, &len, &err) != LU_OK) return false;
    bool ok = lu__download_sidecar_resumes(text, len, d->url, d->sha256, d->req.size, d->etag, d->last_modified);
    lu__free(&ctx->env, text);
    return ok;
}

/* Hashes the bytes already in the .part into d->hs; false on a read error. */
static bool rehash_part(dl *d, uint64_t n)
{
    const lu_io_hooks *io = &d->ctx->env.io;
    unsigned char buf[65536];
    uint64_t done = 0;
    while (done < n) {
        long r = io->pread(io->ud, d->fd, buf, n - done < sizeof buf ? (size_t)(n - done) : sizeof buf, (long long)done);
        if (r <= 0) return false;
        lu__sha256_update(d->hs, buf, (size_t)r);
        done += (uint64_t)r;
    }
    return true;
}

/* Moves the verified .part (and its .sig) into the volumes folder through
 * lu__fs_install: fsync, rename, folder fsync. The version floor comes
 * first (a refused file is deleted and never replaces the file a mount
 * reads); then the signature, so a volume is never in place without the
 * signature it was checked against; when the volume's move fails, that
 * signature is removed again. */
static lu_status install(lu_context *ctx, dl *d, lu_error *err)
{
    char sig_path[PATH_MAX + 8], sig_part[PATH_MAX + 8];
    snprintf(sig_path, sizeof sig_path, "%s.sig", d->final);
    snprintf(sig_part, sizeof sig_part, "%s.sig", d->part);
    lu_status st;
    if (d->floor_name && (st = lu__version_floor_file(ctx, d->floor_name, "zip", d->part, err)) != LU_OK) {
        remove_part(d);
        remove_file(ctx, sig_part);
        lu__error_prefix(err, "'%s' is not installed", d->file);
        return st;
    }
    char vdir[PATH_MAX];
    snprintf(vdir, sizeof vdir, "%s", d->final);
    *strrchr(vdir, '/') = '\0';
    LU_TRY(lu__fs_mkdirs(&ctx->env, vdir, err));
    if (d->sig_len && (st = lu__fs_install(&ctx->env, sig_part, sig_path, err)) != LU_OK) {
        remove_file(ctx, sig_part);
        return st;
    }
    if ((st = lu__fs_install(&ctx->env, d->part, d->final, err)) != LU_OK) {
        if (d->sig_len) remove_file(ctx, sig_path);
        return st;
    }
    remove_file(ctx, d->meta);
    if (!d->req.dest) {   /* volumes only (a destination elsewhere, say a document, is not stored) */
        lu__store_add(ctx, d->final, d->got_sha256, d->sig_len > 0);
        lu__store_collect(ctx);   /* the bytes this file replaced may have no other name now */
    }
    return LU_OK;
}

/* ---- curl callbacks ------------------------------------------------- */

/* Copies the value when the header is `want` and the value fits (and is
 * safe to send back in a request header). */
static void header_value(const char *name, size_t nlen, const char *v, size_t vlen, const char *want,
                         char *out, size_t cap)
{
    if (nlen != strlen(want) || strncasecmp(name, want, nlen) != 0) return;
    for (size_t i = 0; i < vlen; i++)
        if ((unsigned char)v[i] < 0x20 || v[i] == 0x7f) return;
    if (vlen < cap) snprintf(out, cap, "%.*s", (int)vlen, v);
}

void lu__download_header(const char *line, size_t len, char etag[LU__ETAG_CAP],
                         char last_modified[LU__LAST_MODIFIED_CAP], char content_range[LU__CONTENT_RANGE_CAP])
{
    size_t nlen, vlen;
    const char *name, *v;
    if (lu__header_is_status(line, len)) {   /* a new response (redirects, 100) */
        etag[0] = last_modified[0] = content_range[0] = '\0';
    } else if (lu__header_split(line, len, &name, &nlen, &v, &vlen)) {
        header_value(name, nlen, v, vlen, "ETag", etag, LU__ETAG_CAP);
        header_value(name, nlen, v, vlen, "Last-Modified", last_modified, LU__LAST_MODIFIED_CAP);
        header_value(name, nlen, v, vlen, "Content-Range", content_range, LU__CONTENT_RANGE_CAP);
    }
}

/* Reads decimal digits into *out; the end, or NULL (none, or over 2^64-1). */
static const char *digits(const char *s, uint64_t *out)
{
    uint64_t n = 0;
    const char *start = s;
    for (; *s >= '0' && *s <= '9'; s++) {
        if (n > (UINT64_MAX - (uint64_t)(*s - '0')) / 10) return NULL;
        n = n * 10 + (uint64_t)(*s - '0');
    }
    *out = n;
    return s == start ? NULL : s;
}

bool lu__content_range_parse(const char *value, uint64_t *first, uint64_t *last, uint64_t *total)
{
    if (strncmp(value, "bytes ", 6) != 0) return false;
    const char *s = value + 6;
    while (*s == ' ') s++;
    if (!(s = digits(s, first)) || *s++ != '-' || !(s = digits(s, last)) || *s++ != '/') return false;
    if (s[0] == '*' && s[1] == '\0') *total = UINT64_MAX;
    else if (!(s = digits(s, total)) || *s || *last >= *total) return false;
    return *first <= *last;
}

static size_t on_header(char *line, size_t size, size_t n, void *ud)
{
    dl *d = ud;
    size_t len = size * n;
    if (d->phase == BODY || d->phase == TAIL || d->phase == RANGE || lu__header_is_status(line, len))
        lu__download_header(line, len, d->etag, d->last_modified, d->content_range);
    return len;
}

static size_t abort_with(dl *d, lu_status st, const char *fmt, ...) LU_PRINTF(3, 4);
static size_t abort_with(dl *d, lu_status st, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    d->abort_status = st;
    vsnprintf(d->abort_msg, sizeof d->abort_msg, fmt, ap);
    va_end(ap);
    return 0;   /* what a curl callback returns to stop the transfer */
}

/* The first body bytes of a response: decide between keeping the .part
 * (206 to our Range), restarting it (200) or ignoring the body (errors). */
static bool start_response(lu_context *ctx, dl *d)
{
    curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &d->http_code);
    bool is_file = strncasecmp(d->url, "file:", 5) == 0;
    if (is_file) d->http_code = 200;
    d->response_started = true;
    if (d->http_code == 206 && d->range_from > 0) {
        /* the part must continue exactly where ours ends: "bytes N-M/T" */
        uint64_t start, last, whole;
        if (!lu__content_range_parse(d->content_range, &start, &last, &whole) || start != d->range_from) {
            abort_with(d, LU_NETWORK_ERROR, "'%s': the server resumed at '%s', not at byte %llu", d->url,
                       d->content_range, (unsigned long long)d->range_from);
            return false;
        }
        curl_off_t len = -1;
        curl_easy_getinfo(d->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
        d->total = len >= 0 ? d->range_from + (uint64_t)len : d->req.size;
    } else if (d->http_code == 200) {
        if (d->have > 0) {                 /* the validator changed: start over */
            lu__log(&ctx->env, LU_LOG_INFO, "download '%s': the server's file changed; starting over", d->url);
            if (ctx->env.io.ftruncate(ctx->env.io.ud, d->fd, 0) != 0 || lseek(d->fd, 0, SEEK_SET) != 0) return false;
            lu__sha256_reset(d->hs);
            d->have = d->range_from = d->flushed = 0;
        }
        curl_off_t len = -1;
        curl_easy_getinfo(d->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T, &len);
        d->total = len >= 0 ? (uint64_t)len : d->req.size;
    } else {
        return true;                       /* an error answer: its body is not kept */
    }
    if (!is_file) {
        lu_error err;
        if (write_sidecar(ctx, d, &err) != LU_OK) {
            abort_with(d, err.status, "%s", err.message);
            return false;
        }
    }
    d->sidecar_written = true;
    return true;
}

static void delta_drop(lu_context *ctx, dl *d);

/* Starts writing back the .part every 8 MiB, so the fsync before the
 * rename has little left to do (Linux; elsewhere the fsync does it all).
 * Called after every write to it: a body, a delta's ranges, copies and
 * tail. */
static void write_back(dl *d)
{
    if (d->have - d->flushed >= (8u << 20)) {
#ifdef SYNC_FILE_RANGE_WRITE
        sync_file_range(d->fd, (off_t)d->flushed, (off_t)(d->have - d->flushed), SYNC_FILE_RANGE_WRITE);
#endif
        d->flushed = d->have;
    }
}

/* Appends received bytes to the .part and the hash: `len`, or 0 with the
 * transfer stopped (a write failed; a full disk is LU_NO_SPACE). */
static size_t append_part(dl *d, const char *data, size_t len)
{
    for (size_t done = 0; done < len;) {
        long w = d->ctx->env.io.write(d->ctx->env.io.ud, d->fd, data + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            int e = errno;
            return abort_with(d, lu__errno_status(e) == LU_NO_SPACE ? LU_NO_SPACE : LU_IO_ERROR,
                              "cannot write '%s': %s", d->part, strerror(e));
        }
        done += (size_t)w;
    }
    lu__sha256_update(d->hs, (const unsigned char *)data, len);
    d->have += len;
    write_back(d);
    return len;
}

/* append_part for bytes the network brought (counted in `received`). */
static size_t append_received(dl *d, const char *data, size_t len)
{
    size_t n = append_part(d, data, len);
    if (n == len) d->received += len;
    return n;
}

/* The first body bytes of a response to a delta's range request (TAIL,
 * RANGE). A 206 must be exactly the range asked for, of a file of the
 * request's size, with the validator the tail came with (a file replaced
 * on the server between two requests is never spliced): otherwise
 * delta_why says why and false stops the transfer (delta_done then
 * fetches the whole file). A 200 is the server ignoring Range: the
 * response is the whole file, so the download goes on as one (BODY), in
 * this response, from byte 0. Other statuses: their body is not kept. */
static bool delta_response(lu_context *ctx, dl *d)
{
    curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &d->http_code);
    d->response_started = true;
    if (d->http_code == 200) {
        lu__log(&ctx->env, LU_LOG_INFO, "download '%s': the server ignores Range requests; taking its whole file",
                d->url);
        if (d->fd < 0) d->fd = ctx->env.io.open(ctx->env.io.ud, d->part, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (d->fd < 0 || ctx->env.io.ftruncate(ctx->env.io.ud, d->fd, 0) != 0 || lseek(d->fd, 0, SEEK_SET) != 0) {
            abort_with(d, LU_IO_ERROR, "cannot write '%s': %s", d->part, strerror(errno));
            return false;
        }
        lu__sha256_reset(d->hs);
        d->have = d->range_from = d->flushed = 0;
        d->whole = true;
        d->to_receive = 0;
        delta_drop(ctx, d);
        d->phase = BODY;
        d->response_started = false;   /* start_response takes it from here */
        return true;
    }
    if (d->http_code != 206) return true;
    uint64_t first, last, total;
    if (!lu__content_range_parse(d->content_range, &first, &last, &total) || first != d->want_from ||
        last + 1 != d->want_to || total != d->req.size) {
        snprintf(d->delta_why, sizeof d->delta_why, "asked for bytes %llu-%llu of %llu, the server sent '%s'",
                 (unsigned long long)d->want_from, (unsigned long long)d->want_to - 1,
                 (unsigned long long)d->req.size, d->content_range);
        return false;
    }
    bool same = d->delta_etag[0] ? strcmp(d->etag, d->delta_etag) == 0 : strcmp(d->last_modified, d->delta_lm) == 0;
    if (d->phase == TAIL && d->rounds == 1 && (!d->resuming || !same)) {   /* the first answer sets the validator */
        if (d->resuming) {   /* republished since the delta stopped: the delta starts over (delta_open_part) */
            lu__log(&ctx->env, LU_LOG_INFO, "download '%s': the server's file changed since the delta was "
                    "interrupted; starting it over", d->url);
            d->resuming = false;
        }
        snprintf(d->delta_etag, sizeof d->delta_etag, "%s", d->etag);
        snprintf(d->delta_lm, sizeof d->delta_lm, "%s", d->etag[0] ? "" : d->last_modified);
        if (!d->delta_etag[0] && !d->delta_lm[0]) {
            snprintf(d->delta_why, sizeof d->delta_why, "the server sends no ETag or Last-Modified");
            return false;
        }
    } else if (!same) {
        snprintf(d->delta_why, sizeof d->delta_why, "the server's file changed between requests (%s, then %s)",
                 d->delta_etag[0] ? d->delta_etag : d->delta_lm, d->delta_etag[0] ? d->etag : d->last_modified);
        return false;
    }
    return true;
}

/* Body bytes of a delta's range request: a tail round goes to the front
 * of the tail buffer, a range onto the end of the .part (hashed). */
static size_t delta_body(dl *d, const char *data, size_t len)
{
    if (d->http_code != 206) return len;
    uint64_t at = d->phase == TAIL ? d->want_from + d->received_now : d->have;
    if (at + len > d->want_to) {
        snprintf(d->delta_why, sizeof d->delta_why, "the server sent more than bytes %llu-%llu",
                 (unsigned long long)d->want_from, (unsigned long long)d->want_to - 1);
        return 0;
    }
    if (d->phase == TAIL) {
        memcpy(d->tail + d->received_now, data, len);
        d->received_now += len;
        d->received += len;
        return len;
    }
    return append_received(d, data, len);
}

static size_t on_body(char *data, size_t size, size_t n, void *ud)
{
    dl *d = ud;
    size_t len = size * n;
    if (d->phase == SIG) {
        if (d->sig_len + len >= sizeof d->sig)
            return abort_with(d, LU_SIGNATURE_MISMATCH, "the signature of '%s' is over %llu bytes", d->url,
                              (unsigned long long)sizeof d->sig);
        memcpy(d->sig + d->sig_len, data, len);
        d->sig_len += len;
        return len;
    }
    if ((d->phase == TAIL || d->phase == RANGE) && !d->response_started && !delta_response(d->ctx, d)) return 0;
    if (d->phase == TAIL || d->phase == RANGE) return delta_body(d, data, len);
    if (!d->response_started && !start_response(d->ctx, d))
        return d->abort_status ? 0 : abort_with(d, LU_IO_ERROR, "cannot truncate '%s'", d->part);
    if (d->http_code != 200 && d->http_code != 206) return len;
    if (d->have + len > d->req.max_size)
        return abort_with(d, LU_FORMAT_ERROR, "'%s' is larger than the maximum of %llu bytes", d->url,
                          (unsigned long long)d->req.max_size);
    if (d->req.size && d->have + len > d->req.size)
        return abort_with(d, LU_HASH_MISMATCH, "'%s' is larger than the expected %llu bytes", d->url,
                          (unsigned long long)d->req.size);
    return append_received(d, data, len);
}

/* ---- attempts -------------------------------------------------------- */

static void end_transfer(lu_downloads *all, dl *d)
{
    if (d->easy) {
        curl_multi_remove_handle(all->multi, d->easy);
        curl_easy_cleanup(d->easy);
        d->easy = NULL;
    }
    curl_slist_free_all(d->headers);
    d->headers = NULL;
    if (d->fd >= 0) d->ctx->env.io.close(d->ctx->env.io.ud, d->fd);   /* a .part: its fsync comes at install */
    d->fd = -1;
}

static void finish(lu_downloads *all, dl *d)
{
    end_transfer(all, d);
    d->phase = FINISHED;
}

static CURL *new_easy(lu_context *ctx, dl *d, const char *url)
{
    CURL *e = curl_easy_init();
    if (!e) return NULL;
    lu__curl_defaults(ctx, e, true, d->errbuf);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_PRIVATE, d);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, d);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, d);
    curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 512L * 1024);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, d->req.connect_timeout_ms);
    /* a stall, not a slow link, is a timeout: under 1 byte/s for timeout_ms */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, (d->req.timeout_ms + 999) / 1000);
    return e;
}

/* Starts the body transfer of an attempt: opens the .part (continuing it
 * when the sidecar allows), sets Range/If-Range, adds the handle. */
static lu_status start_body(lu_context *ctx, dl *d, lu_error *err)
{
    d->response_started = d->sidecar_written = false;
    d->abort_status = LU_OK;
    d->http_code = 0;
    d->errbuf[0] = '\0';
    d->etag[0] = d->last_modified[0] = '\0';
    d->sig_len = 0;
    lu__sha256_reset(d->hs);
    d->have = d->range_from = d->flushed = 0;
    struct stat st;
    bool resume = stat(d->part, &st) == 0 && st.st_size > 0 && sidecar_matches(ctx, d) &&
                  (!d->req.size || (uint64_t)st.st_size < d->req.size);
    d->fd = ctx->env.io.open(ctx->env.io.ud, d->part, O_RDWR | O_CREAT | O_CLOEXEC | (resume ? 0 : O_TRUNC), 0644);
    if (d->fd < 0) return lu__fail(err, LU_IO_ERROR, "cannot open '%s': %s", d->part, strerror(errno));
    if (resume && !rehash_part(d, (uint64_t)st.st_size)) resume = false;
    if (resume) {
        d->have = d->range_from = d->flushed = (uint64_t)st.st_size;
        lseek(d->fd, 0, SEEK_END);
    } else {
        if (ctx->env.io.ftruncate(ctx->env.io.ud, d->fd, 0) != 0)
            return lu__fail(err, LU_IO_ERROR, "cannot truncate '%s': %s", d->part, strerror(errno));
        lu__sha256_reset(d->hs);
        remove_file(ctx, d->meta);
        d->etag[0] = d->last_modified[0] = '\0';
    }
    d->easy = new_easy(ctx, d, d->url);
    if (!d->easy) return lu__fail(err, LU_MEM_ERROR, "out of memory starting '%s'", d->url);
    if (resume) {
        char range[64], ifr[300];
        snprintf(range, sizeof range, "%llu-", (unsigned long long)d->range_from);
        curl_easy_setopt(d->easy, CURLOPT_RANGE, range);
        snprintf(ifr, sizeof ifr, "If-Range: %s", d->etag[0] ? d->etag : d->last_modified);
        d->headers = curl_slist_append(NULL, ifr);
        curl_easy_setopt(d->easy, CURLOPT_HTTPHEADER, d->headers);
        lu__log(&ctx->env, LU_LOG_INFO, "download '%s': resuming at byte %llu", d->url,
                (unsigned long long)d->range_from);
    }
    d->phase = BODY;
    if (curl_multi_add_handle(downloads(ctx)->multi, d->easy) != CURLM_OK)
        return lu__fail(err, LU_MEM_ERROR, "cannot start '%s'", d->url);
    return LU_OK;
}

static lu_status start_sig(lu_context *ctx, dl *d, lu_error *err)
{
    char url[PATH_MAX + 8];
    snprintf(url, sizeof url, "%s.sig", d->url);
    d->sig_len = 0;
    d->abort_status = LU_OK;
    d->errbuf[0] = '\0';
    d->phase = SIG;
    d->easy = new_easy(ctx, d, url);
    if (!d->easy || curl_multi_add_handle(downloads(ctx)->multi, d->easy) != CURLM_OK)
        return lu__fail(err, LU_MEM_ERROR, "cannot start '%s'", url);
    return LU_OK;
}

/* Transient: worth another attempt (keeping the .part for a resume). */
static bool transient(CURLcode rc, long code)
{
    switch (rc) {
    case CURLE_OK: return code >= 500 || code == 408 || code == 429;
    case CURLE_COULDNT_CONNECT: case CURLE_COULDNT_RESOLVE_HOST: case CURLE_OPERATION_TIMEDOUT:
    case CURLE_PARTIAL_FILE: case CURLE_RECV_ERROR: case CURLE_SEND_ERROR: case CURLE_GOT_NOTHING:
        return true;
    default: return false;
    }
}

/* Checks the received body: size, SHA-256. */
static lu_status check_body(dl *d, lu_error *err)
{
    char hex[LU_SHA256_HEX];
    lu__sha256_final_hex(d->hs, hex);
    if (d->req.size && d->have != d->req.size)
        return lu__fail(err, LU_HASH_MISMATCH, "'%s': received %llu bytes, expected %llu", d->url,
                        (unsigned long long)d->have, (unsigned long long)d->req.size);
    if (d->sha256 && strcasecmp(hex, d->sha256) != 0)
        return lu__fail(err, LU_HASH_MISMATCH, "'%s': sha256 %s, expected %s", d->url, hex, d->sha256);
    memcpy(d->got_sha256, hex, sizeof hex);
    return LU_OK;
}

/* Verifies the fetched signature over the .part. */
static lu_status check_sig(lu_context *ctx, dl *d, lu_error *err)
{
    char sig_part[PATH_MAX + 8], dir[PATH_MAX];
    snprintf(sig_part, sizeof sig_part, "%s.sig", d->part);
    snprintf(dir, sizeof dir, "%s", d->part);
    *strrchr(dir, '/') = '\0';
    LU_TRY(lu__fs_write_atomic(&ctx->env, dir, strrchr(sig_part, '/') + 1, d->sig, d->sig_len, err));
    lu_status st = lu_verify_file_signature(d->part, lu__options(ctx)->public_key, err);
    if (st != LU_OK) {
        remove_file(ctx, sig_part);
        lu__error_prefix(err, "download '%s'", d->url);
    }
    return st;
}

/* Where bytes already on disk were found (from_store). */
enum found { IN_PLACE, STORED, MOUNTED };

/* Copies `src` into the .part, hashing as it goes (d->hs, d->have), and
 * its .sig (when signatures are checked) into d->sig. False when it cannot
 * be read or written, or has no signature to check. For a file the
 * library does not own: what is installed is this copy, hashed as written,
 * never the outside file itself (which a tool may rewrite in place). */
static bool copy_into_part(lu_context *ctx, dl *d, const char *src)
{
    const lu_io_hooks *io = &ctx->env.io;
    char sig_path[PATH_MAX + 8];
    snprintf(sig_path, sizeof sig_path, "%s.sig", src);
    d->sig_len = 0;
    if (d->req.verify_signature) {
        FILE *f = fopen(sig_path, "rb");
        if (!f) return false;
        d->sig_len = fread(d->sig, 1, sizeof d->sig - 1, f);
        bool whole = feof(f) && !ferror(f);
        fclose(f);
        if (!whole || d->sig_len == 0) return false;
    }
    int in = io->open(io->ud, src, O_RDONLY | O_CLOEXEC, 0);
    if (in < 0) return false;
    remove_part(d);   /* a fresh file, never a resumed or linked one */
    d->fd = io->open(io->ud, d->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    lu__sha256_reset(d->hs);
    d->have = 0;
    bool ok = d->fd >= 0;
    unsigned char buf[65536];
    while (ok) {
        long r = io->read(io->ud, in, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            ok = r == 0;
            break;
        }
        for (long done = 0; ok && done < r;) {
            long w = io->write(io->ud, d->fd, buf + done, (size_t)(r - done));
            if (w < 0 && errno == EINTR) continue;
            ok = w > 0;
            if (ok) done += w;
        }
        lu__sha256_update(d->hs, buf, (size_t)r);
        d->have += (uint64_t)r;
    }
    io->close(io->ud, in);
    if (d->fd >= 0) io->close(io->ud, d->fd);
    d->fd = -1;
    if (!ok) remove_part(d);
    return ok;
}

/* Tries one file that may hold the request's bytes. Its size first (a
 * stat), then its SHA-256; its .sig when signatures are checked; the
 * version floor as install() checks it. A file in place or in the store is
 * used as it is (a hard link: no copy); a MOUNTED file inside
 * <save>/volumes (one from before the store) is linked too; one outside it
 * (the base bundle) is copied into the .part and installed as a download
 * is. True when that settled the download (d->result: installed, or
 * refused by the floor); false to try the next source or download. */
static bool try_found(lu_context *ctx, dl *d, const char *p, enum found kind)
{
    struct stat sb;
    lu_error e;
    if (stat(p, &sb) != 0 || !S_ISREG(sb.st_mode) || (d->req.size && (uint64_t)sb.st_size != d->req.size)) return false;
    if (kind == MOUNTED && !lu__in_volumes_dir(ctx, p, true)) {
        if (!copy_into_part(ctx, d, p)) return false;
        if (check_body(d, &e) != LU_OK || (d->req.verify_signature && check_sig(ctx, d, &e) != LU_OK)) {
            remove_part(d);
            return false;
        }
        if (install(ctx, d, &e) != LU_OK) {   /* the floor, or the disk */
            d->result = e;
            return true;
        }
        set_result(d, LU_OK, "'%s' copied from '%s' (the same bytes): nothing downloaded", d->final, p);
        lu__log(&ctx->env, LU_LOG_INFO, "download '%s': the same bytes are mounted from '%s'; copied, nothing downloaded",
                d->url, p);
        return true;
    }
    char hex[LU_SHA256_HEX];
    uint64_t size = 0;
    if (lu_sha256_file(p, hex, &size, &e) != LU_OK) return false;
    if (strcasecmp(hex, d->sha256) != 0 || (d->req.size && size != d->req.size)) {
        if (kind == STORED) {
            lu__log(&ctx->env, LU_LOG_WARN, "store: '%s' does not hold the bytes its name says; removed", p);
            remove_file(ctx, p);
        }
        return false;
    }
    if (d->req.verify_signature && lu_verify_file_signature(p, lu__options(ctx)->public_key, &e) != LU_OK) return false;
    if (d->floor_name && lu__version_floor_file(ctx, d->floor_name, "zip", p, &e) != LU_OK) {
        d->result = e;
        lu__error_prefix(&d->result, "'%s' is not installed", d->file);
        return true;
    }
    if (kind != IN_PLACE) {
        /* the signature first, then the volume, as install() orders them;
         * a volume that cannot be moved takes its new signature away again */
        char sig_from[PATH_MAX + 8], sig_to[PATH_MAX + 8], vdir[PATH_MAX];
        snprintf(sig_from, sizeof sig_from, "%s.sig", p);
        snprintf(sig_to, sizeof sig_to, "%s.sig", d->final);
        snprintf(vdir, sizeof vdir, "%s", d->final);
        *strrchr(vdir, '/') = '\0';
        lu_status st = lu__fs_mkdirs(&ctx->env, vdir, &e);
        if (st == LU_OK && d->req.verify_signature) st = lu__store_install(ctx, sig_from, sig_to, &e);
        if (st == LU_OK && (st = lu__store_install(ctx, p, d->final, &e)) != LU_OK && d->req.verify_signature)
            remove_file(ctx, sig_to);
        if (st != LU_OK) {
            lu__log(&ctx->env, LU_LOG_WARN, "download '%s': %s; downloading it instead", d->url, e.message);
            return false;
        }
    }
    remove_part(d);   /* an interrupted download of this file is not needed any more */
    lu__store_add(ctx, d->final, hex, d->req.verify_signature);
    lu__store_collect(ctx);
    set_result(d, LU_OK, "'%s' was already here (sha256 %.16s...): nothing downloaded", d->final, hex);
    lu__log(&ctx->env, LU_LOG_INFO, "download '%s': the same bytes are already here (%s); nothing downloaded", d->url,
            kind == IN_PLACE ? "in place" : kind == STORED ? "the store" : p);
    return true;
}

/* Are the bytes of a volume download (no explicit destination) already
 * here? In order: the file in place, the store's entry for the request's
 * SHA-256 (store.c; a damaged one is removed), then any mounted zip volume
 * of exactly the request's size (the base bundle, a volume installed
 * before there was a store). Runs from lu_update() when the download would
 * start; true when that settled it. */
static bool from_store(lu_context *ctx, dl *d)
{
    char stored[PATH_MAX];
    if (!d->sha256 || d->req.dest) return false;
    if (try_found(ctx, d, d->final, IN_PLACE)) return true;
    if (lu__store_path(ctx, d->sha256, false, stored, sizeof stored) == LU_OK && try_found(ctx, d, stored, STORED))
        return true;
    lu_mount_info *m = NULL;
    size_t n = 0;
    lu_error e;
    if (!d->req.size || lu_mounts_get(ctx, &m, &n, &e) != LU_OK) return false;
    bool done = false;
    for (size_t i = 0; i < n && !done; i++)
        if (m[i].path && strcmp(m[i].format, "zip") == 0 && strcmp(m[i].path, d->final) != 0 &&
            (!d->base || strcmp(m[i].path, d->base) != 0))   /* a delta's old file: not the new bytes */
            done = try_found(ctx, d, m[i].path, MOUNTED);
    lu_free(ctx, m);
    return done;
}

/* Whether from_store may settle the download without fetching: a file of
 * the request's size in place or in the store (a stat each, no hashing).
 * Then lu_download_start does not ask for free space it may not need. */
static bool maybe_here(lu_context *ctx, const dl *d)
{
    char stored[PATH_MAX];
    struct stat sb;
    if (!d->sha256 || d->req.dest || !d->req.size) return false;
    if (stat(d->final, &sb) == 0 && (uint64_t)sb.st_size == d->req.size) return true;
    return lu__store_path(ctx, d->sha256, false, stored, sizeof stored) == LU_OK && stat(stored, &sb) == 0 &&
           (uint64_t)sb.st_size == d->req.size;
}

/* Schedules another attempt, or fails with `st`/`msg`. */
static void retry_or_fail(lu_context *ctx, dl *d, lu_status st, const char *msg)
{
    end_transfer(downloads(ctx), d);
    d->to_receive = 0;   /* a new attempt plans (and counts) again */
    if (d->attempt <= d->req.retries && !d->cancelled) {
        long delay = d->req.backoff_ms;
        for (int i = 1; i < d->attempt && delay < 8000; i++) delay *= 2;
        if (delay > 8000) delay = 8000;
        lu__log(&ctx->env, LU_LOG_INFO, "download '%s': attempt %d failed (%s); retrying in %ld ms", d->url,
                d->attempt, msg, delay);
        d->attempt++;
        d->phase = QUEUED;
        d->next_try_ms = now_ms() + delay;
        return;
    }
    if (d->attempt > 1) set_result(d, st, "%s (after %d attempts)", msg, d->attempt);
    else set_result(d, st, "%s", msg);
    finish(downloads(ctx), d);
}

/* The .part holds the request's bytes (check_body passed): the
 * signature next, or the install. */
static void body_verified(lu_context *ctx, dl *d)
{
    lu_error err;
    end_transfer(downloads(ctx), d);
    if (d->req.verify_signature) {
        if (start_sig(ctx, d, &err) != LU_OK) {
            d->result = err;
            finish(downloads(ctx), d);
        }
        return;
    }
    if (install(ctx, d, &err) != LU_OK) d->result = err;
    else set_result(d, LU_OK, "downloaded '%s'", d->final);
    finish(downloads(ctx), d);
}

static void body_done(lu_context *ctx, dl *d, CURLcode rc)
{
    char msg[LU_ERROR_MAX];
    lu_error err;
    if (d->abort_status != LU_OK) {         /* a limit, a full disk, a failed write */
        if (d->abort_status != LU_NO_SPACE) remove_part(d);
        set_result(d, d->abort_status, "%s", d->abort_msg);
        finish(downloads(ctx), d);
        return;
    }
    if (rc == CURLE_FILE_COULDNT_READ_FILE) {
        set_result(d, LU_NOT_FOUND, "'%s': no such file", d->url);
        remove_part(d);
        finish(downloads(ctx), d);
        return;
    }
    if (rc != CURLE_OK) {
        snprintf(msg, sizeof msg, "'%s': %s", d->url, d->errbuf[0] ? d->errbuf : curl_easy_strerror(rc));
        lu_status st = rc == CURLE_OPERATION_TIMEDOUT ? LU_TIMEOUT : LU_NETWORK_ERROR;
        if (transient(rc, 0)) retry_or_fail(ctx, d, st, msg);
        else {
            set_result(d, st, "%s", msg);
            finish(downloads(ctx), d);
        }
        return;
    }
    if (!d->response_started) start_response(ctx, d);   /* an empty body */
    if (d->http_code == 416) {                /* our range is past the end: start over */
        remove_part(d);
        retry_or_fail(ctx, d, LU_NETWORK_ERROR, "range not satisfiable");
        return;
    }
    if (d->http_code != 200 && d->http_code != 206) {
        snprintf(msg, sizeof msg, "'%s': HTTP %ld", d->url, d->http_code);
        if (transient(rc, d->http_code)) retry_or_fail(ctx, d, LU_NETWORK_ERROR, msg);
        else {
            set_result(d, d->http_code == 404 || d->http_code == 410 ? LU_NOT_FOUND : LU_NETWORK_ERROR, "%s", msg);
            finish(downloads(ctx), d);
        }
        return;
    }
    if (check_body(d, &err) != LU_OK) {
        remove_part(d);                       /* wrong bytes are never resumed */
        set_result(d, err.status, "%s", err.message);
        finish(downloads(ctx), d);
        return;
    }
    body_verified(ctx, d);
}

static void sig_done(lu_context *ctx, dl *d, CURLcode rc)
{
    lu_error err;
    long code = 0;
    curl_easy_getinfo(d->easy, CURLINFO_RESPONSE_CODE, &code);
    if (strncasecmp(d->url, "file:", 5) == 0 && rc == CURLE_OK) code = 200;
    if (d->abort_status != LU_OK) {
        remove_part(d);
        set_result(d, d->abort_status, "%s", d->abort_msg);
    } else if (rc != CURLE_OK || code != 200) {
        if (rc == CURLE_OK || rc == CURLE_FILE_COULDNT_READ_FILE) {
            remove_part(d);
            set_result(d, LU_SIGNATURE_MISMATCH, "no signature for '%s' (%s.sig: %s)", d->url, d->url,
                       rc == CURLE_OK ? "HTTP error" : "no such file");
        } else {
            char msg[LU_ERROR_MAX];
            snprintf(msg, sizeof msg, "'%s.sig': %s", d->url, d->errbuf[0] ? d->errbuf : curl_easy_strerror(rc));
            retry_or_fail(ctx, d, rc == CURLE_OPERATION_TIMEDOUT ? LU_TIMEOUT : LU_NETWORK_ERROR, msg);
            return;
        }
    } else if (check_sig(ctx, d, &err) != LU_OK) {
        remove_part(d);
        d->result = err;
    } else if (install(ctx, d, &err) != LU_OK) {
        d->result = err;
    } else {
        set_result(d, LU_OK, "downloaded '%s' (signature verified)", d->final);
    }
    finish(downloads(ctx), d);
}


/* ---- deltas (delta.c; docs/DOWNLOADS.md, "Deltas") -------------------
 *
 * A download with a base (the old volume of the same name on disk), a
 * sha256 and a size first fetches the new file's end (TAIL: its end
 * records and central directory, more rounds when the layout asks), plans
 * which bytes to copy from the base and which to fetch, then assembles the
 * .part in file order: copies in slices from lu_update() (COPY), one
 * request per fetched range (RANGE), the tail last. The assembled file is
 * checked as a whole download is. Anything that goes wrong (no Range
 * support, a base that is missing or not a zip, a file changed on the
 * server, a plan not worth it, assembled bytes that do not match) falls
 * back to one whole download, with the reason logged; a 200 to a range
 * request is taken as that whole download. A full disk fails the download
 * (LU_NO_SPACE) as it fails a whole one. A delta's sidecar (written before
 * its first byte) names the old file and the tail's start: an interrupted
 * delta is resumed as a delta (delta_open_part), never as a whole
 * download. */

static void delta_drop(lu_context *ctx, dl *d)
{
    lu__free(&ctx->env, d->tail);
    d->tail = NULL;
    lu__zip_layout_free(&ctx->env, d->old_lay);
    d->old_lay = NULL;
    lu__delta_plan_free(&ctx->env, &d->plan);
    if (d->base_fd >= 0) ctx->env.io.close(ctx->env.io.ud, d->base_fd);
    d->base_fd = -1;
}

/* Stops the delta and queues the whole download (same attempt, next poll). */
static void delta_fallback(lu_context *ctx, dl *d, const char *why)
{
    lu__log(&ctx->env, LU_LOG_INFO, "download '%s': no delta (%s); downloading the whole file", d->url, why);
    delta_drop(ctx, d);
    end_transfer(downloads(ctx), d);
    remove_part(d);
    d->to_receive = 0;
    d->whole = true;
    d->resuming = false;
    d->phase = QUEUED;
    d->next_try_ms = 0;
}

/* Whether this download starts as a delta: a base that reads as a zip, a
 * sha256 and size that make a delta worth trying, an http(s) URL, and no
 * .part a whole download would resume (that costs less). A .part an
 * interrupted delta from the same old file left is resumed (resuming). */
static bool delta_wanted(lu_context *ctx, dl *d)
{
    struct stat st, bs;
    if (!d->base || d->whole || !d->sha256 || !lu__delta_may(d->req.size) || strncasecmp(d->url, "file:", 5) == 0)
        return false;
    bool part = stat(d->part, &st) == 0 && st.st_size > 0;
    if (part && sidecar_matches(ctx, d)) return false;
    lu_error e;
    d->base_fd = ctx->env.io.open(ctx->env.io.ud, d->base, O_RDONLY | O_CLOEXEC, 0);
    if (d->base_fd >= 0 && fstat(d->base_fd, &bs) == 0)
        snprintf(d->base_id, sizeof d->base_id, "%llu:%llu:%llu:%lld.%09ld", (unsigned long long)bs.st_dev,
                 (unsigned long long)bs.st_ino, (unsigned long long)bs.st_size, (long long)bs.st_mtim.tv_sec,
                 (long)bs.st_mtim.tv_nsec);
    char *text = NULL;
    size_t len;
    d->delta_etag[0] = d->delta_lm[0] = '\0';   /* the tail's, or a resumed delta's from its sidecar */
    if (d->base_fd < 0) d->base_id[0] = '\0';
    d->resuming = part && d->base_id[0] && lu__fs_read_all(&ctx->env, d->meta, &text, &len, &e) == LU_OK &&
                  lu__download_sidecar_delta(text, len, d->url, d->sha256, d->req.size, d->base_id,
                                             &d->resume_tail_from, d->delta_etag, d->delta_lm);
    lu__free(&ctx->env, text);
    if (d->resuming) d->resume_have = (uint64_t)st.st_size;
    if (d->base_fd < 0 || lu__zip_layout_file(&ctx->env, d->base, &d->old_lay, &e) != LU_OK) {
        if (d->base_fd < 0) lu__fail(&e, LU_IO_ERROR, "cannot open '%s': %s", d->base, strerror(errno));
        lu__log(&ctx->env, LU_LOG_INFO, "download '%s': no delta from the old volume (%s); downloading the whole file",
                d->url, e.message);
        delta_drop(ctx, d);
        d->resuming = false;
        d->whole = true;
        return false;
    }
    return true;
}

/* Requests bytes [from, to) of the new file in phase TAIL or RANGE. */
static lu_status start_range(lu_context *ctx, dl *d, enum phase ph, uint64_t from, uint64_t to, lu_error *err)
{
    d->response_started = false;
    d->abort_status = LU_OK;
    d->http_code = 0;
    d->errbuf[0] = d->delta_why[0] = '\0';
    d->etag[0] = d->last_modified[0] = d->content_range[0] = '\0';
    d->want_from = from;
    d->want_to = to;
    d->received_now = 0;
    d->phase = ph;
    d->easy = new_easy(ctx, d, d->url);
    if (!d->easy) return lu__fail(err, LU_MEM_ERROR, "out of memory starting '%s'", d->url);
    char range[64];
    snprintf(range, sizeof range, "%llu-%llu", (unsigned long long)from, (unsigned long long)to - 1);
    curl_easy_setopt(d->easy, CURLOPT_RANGE, range);
    if (curl_multi_add_handle(downloads(ctx)->multi, d->easy) != CURLM_OK)
        return lu__fail(err, LU_MEM_ERROR, "cannot start '%s'", d->url);
    return LU_OK;
}

/* Asks for the tail's next round: bytes [from, tail_from), the tail held
 * so far kept after them. */
static lu_status start_tail(lu_context *ctx, dl *d, uint64_t from, lu_error *err)
{
    unsigned char *t = lu__malloc(&ctx->env, (size_t)(d->req.size - from));
    if (!t) return lu__fail(err, LU_MEM_ERROR, "out of memory starting '%s'", d->url);
    if (d->tail) memcpy(t + (d->tail_from - from), d->tail, (size_t)(d->req.size - d->tail_from));
    lu__free(&ctx->env, d->tail);
    d->tail = t;
    d->rounds++;
    return start_range(ctx, d, TAIL, from, d->tail_from, err);
}

/* Goes on with the plan: copies (at most LU__DELTA_SLICE bytes a call, the
 * rest at the next poll, phase COPY), starts the next range request, or,
 * with every op done, appends the tail and checks the whole. */
static void delta_advance(lu_context *ctx, dl *d)
{
    uint64_t budget = LU__DELTA_SLICE;
    lu_error e;
    while (d->op < d->plan.n) {
        const lu__delta_op *op = &d->plan.ops[d->op];
        if (op->from == LU__DELTA_FETCH) {   /* (op_done > 0 only for a range a resume continues) */
            if (start_range(ctx, d, RANGE, op->at + d->op_done, op->at + op->len, &e) != LU_OK)
                delta_fallback(ctx, d, e.message);
            d->op_done = 0;
            return;
        }
        if (!budget) {
            d->phase = COPY;
            return;
        }
        uint64_t n = op->len - d->op_done < budget ? op->len - d->op_done : budget;
        if (lu__delta_copy(&ctx->env, d->base_fd, op->from + d->op_done, n, d->fd, d->hs, &e) != LU_OK) {
            if (e.status != LU_NO_SPACE) {   /* the old file: fetch the whole file instead */
                delta_fallback(ctx, d, e.message);
                return;
            }
            /* a full disk, as for a whole download: the .part (every byte of it
             * the new file's) and its sidecar stay for a resume */
            set_result(d, LU_NO_SPACE, "'%s': %s", d->part, e.message);
            finish(downloads(ctx), d);
            return;
        }
        d->have += n;
        write_back(d);
        budget -= n;
        if ((d->op_done += n) == op->len) d->op++, d->op_done = 0;
    }
    size_t tail = (size_t)(d->req.size - d->tail_from);
    if (append_part(d, (const char *)d->tail, tail) != tail) {   /* the tail last */
        if (d->abort_status != LU_NO_SPACE) remove_part(d);   /* as for a whole download */
        set_result(d, d->abort_status, "%s", d->abort_msg);
        finish(downloads(ctx), d);
        return;
    }
    if (check_body(d, &e) != LU_OK) {
        lu__error_prefix(&e, "the assembled file does not match (the old volume may be damaged)");
        delta_fallback(ctx, d, e.message);
        return;
    }
    lu__log(&ctx->env, LU_LOG_INFO, "download '%s': assembled from '%s' with %llu bytes fetched of %llu",
            d->url, d->base, (unsigned long long)(d->plan.fetch + (d->req.size - d->tail_from)),
            (unsigned long long)d->req.size);
    delta_drop(ctx, d);
    body_verified(ctx, d);
}

/* Opens the .part for the plan: an interrupted delta's, when the plan
 * is the one it was made by (the same old file and tail start; the
 * validators matched the tail), rehashed and continued where it ends;
 * else a new one, its sidecar written first (crash-safe: a delta's
 * sidecar is never taken for a whole download's, and names the old file
 * and the tail's start a resume must find again). */
static lu_status delta_open_part(lu_context *ctx, dl *d, lu_error *err)
{
    d->op = 0;
    d->op_done = 0;
    d->have = d->flushed = 0;
    lu__sha256_reset(d->hs);
    /* (bytes past the tail's start, a tail written before a failure, are
     * written again from the tail held now) */
    uint64_t keep = d->resume_have < d->plan.tail_from ? d->resume_have : d->plan.tail_from;
    if (d->resuming && d->plan.tail_from == d->resume_tail_from) {
        d->fd = ctx->env.io.open(ctx->env.io.ud, d->part, O_RDWR | O_CLOEXEC, 0);
        if (d->fd >= 0 && rehash_part(d, keep) && lseek(d->fd, (off_t)keep, SEEK_SET) >= 0 &&
            ctx->env.io.ftruncate(ctx->env.io.ud, d->fd, (long long)keep) == 0) {
            d->have = d->flushed = keep;
            while (d->op < d->plan.n && d->plan.ops[d->op].at + d->plan.ops[d->op].len <= d->have) d->op++;
            if (d->op < d->plan.n) d->op_done = d->have - d->plan.ops[d->op].at;
            lu__log(&ctx->env, LU_LOG_INFO, "download '%s': resuming a delta at byte %llu", d->url,
                    (unsigned long long)d->have);
            return LU_OK;
        }
        if (d->fd >= 0) ctx->env.io.close(ctx->env.io.ud, d->fd);
        d->fd = -1;
        lu__sha256_reset(d->hs);
        d->have = d->flushed = 0;
    }
    d->resuming = false;
    d->fd = ctx->env.io.open(ctx->env.io.ud, d->part, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (d->fd < 0) return lu__fail(err, LU_IO_ERROR, "cannot open '%s': %s", d->part, strerror(errno));
    return write_sidecar(ctx, d, err);
}

/* A tail round arrived: asks for more when the layout needs it (up to 4
 * rounds and LU__DELTA_TAIL_MAX bytes), else plans, and starts the
 * assembly when the plan is worth it. */
static void delta_plan(lu_context *ctx, dl *d)
{
    lu_zip_layout *neu;
    uint64_t need;
    lu_error e;
    char why[LU_ERROR_MAX];
    if (lu__zip_layout_mem(&ctx->env, d->url, d->tail, (size_t)(d->req.size - d->tail_from), d->req.size, &neu,
                           &need, &e) != LU_OK) {
        uint64_t from = need != UINT64_MAX ? lu__delta_tail_next(d->req.size, d->tail_from, need) : 0;
        if (need != UINT64_MAX && d->rounds < 4 && d->req.size - from <= LU__DELTA_TAIL_MAX) {
            if (start_tail(ctx, d, from, &e) != LU_OK) delta_fallback(ctx, d, e.message);
            return;
        }
        delta_fallback(ctx, d, need != UINT64_MAX ? "its central directory is too large" : e.message);
        return;
    }
    lu_status st = lu__delta_plan_make(&ctx->env, d->old_lay, neu, d->tail_from, &d->plan, &e);
    lu__zip_layout_free(&ctx->env, neu);
    if (st != LU_OK) {
        delta_fallback(ctx, d, e.message);
        return;
    }
    if (!lu__delta_worth(&d->plan, why, sizeof why)) {
        delta_fallback(ctx, d, why);
        return;
    }
    if (delta_open_part(ctx, d, &e) != LU_OK) {
        delta_fallback(ctx, d, e.message);
        return;
    }
    uint64_t left = 0;   /* what the ranges still bring (a resume has some in its .part) */
    for (size_t i = d->op; i < d->plan.n; i++)
        if (d->plan.ops[i].from == LU__DELTA_FETCH) left += d->plan.ops[i].len - (i == d->op ? d->op_done : 0);
    d->to_receive = d->received + left;
    lu__log(&ctx->env, LU_LOG_INFO, "download '%s': a delta from '%s': %zu of %zu entries changed, %llu bytes "
            "in %zu ranges to fetch, %llu to copy", d->url, d->base, d->plan.changed, d->plan.entries,
            (unsigned long long)d->plan.fetch, d->plan.ranges, (unsigned long long)d->plan.copy);
    delta_advance(ctx, d);
}

/* A delta's request (TAIL or RANGE) ended. */
static void delta_done(lu_context *ctx, dl *d, CURLcode rc)
{
    char why[LU_ERROR_MAX];
    if (d->abort_status != LU_OK) {   /* a write failed: as for a whole download */
        if (d->abort_status != LU_NO_SPACE) remove_part(d);
        set_result(d, d->abort_status, "%s", d->abort_msg);
        finish(downloads(ctx), d);
        return;
    }
    uint64_t got = d->phase == TAIL ? d->received_now : d->have - d->want_from;
    if (d->delta_why[0]) snprintf(why, sizeof why, "%s", d->delta_why);
    else if (rc != CURLE_OK) snprintf(why, sizeof why, "%s", d->errbuf[0] ? d->errbuf : curl_easy_strerror(rc));
    else if (d->http_code != 206) snprintf(why, sizeof why, "HTTP %ld to a range request", d->http_code);
    else if (got != d->want_to - d->want_from)
        snprintf(why, sizeof why, "%llu bytes of a %llu-byte range", (unsigned long long)got,
                 (unsigned long long)(d->want_to - d->want_from));
    else why[0] = '\0';
    bool again = why[0] && !d->delta_why[0] && (rc != CURLE_OK ? transient(rc, 0) : transient(rc, d->http_code));
    if (again) {   /* a network blip: the attempt is retried as a delta, resuming from the .part */
        char msg[LU_ERROR_MAX];
        snprintf(msg, sizeof msg, "'%s': %s", d->url, why);
        delta_drop(ctx, d);
        retry_or_fail(ctx, d, rc == CURLE_OPERATION_TIMEDOUT ? LU_TIMEOUT : LU_NETWORK_ERROR, msg);
        return;
    }
    if (why[0]) {
        delta_fallback(ctx, d, why);
        return;
    }
    curl_multi_remove_handle(downloads(ctx)->multi, d->easy);
    curl_easy_cleanup(d->easy);
    d->easy = NULL;
    if (d->phase == TAIL) {
        d->tail_from = d->want_from;
        delta_plan(ctx, d);
    } else {
        d->op++;
        delta_advance(ctx, d);
    }
}

/* Starts an attempt: a delta when delta_wanted, else the whole file. */
static lu_status start_attempt(lu_context *ctx, dl *d, lu_error *err)
{
    d->to_receive = 0;
    if (!delta_wanted(ctx, d)) return start_body(ctx, d, err);
    d->tail_from = d->req.size;
    d->rounds = 0;
    d->have = 0;
    lu_status st = start_tail(ctx, d, d->req.size > LU__DELTA_TAIL ? d->req.size - LU__DELTA_TAIL : 0, err);
    if (st != LU_OK) {
        end_transfer(downloads(ctx), d);
        delta_drop(ctx, d);
        d->whole = true;
        return start_body(ctx, d, err);
    }
    return LU_OK;
}

/* ---- the public calls ------------------------------------------------ */

static void dl_free(lu_context *ctx, dl *d)
{
    end_transfer(downloads(ctx), d);
    delta_drop(ctx, d);
    lu__free(&ctx->env, d->base);
    lu__free(&ctx->env, d->url);
    lu__free(&ctx->env, d->file);
    lu__free(&ctx->env, d->sha256);
    lu__free(&ctx->env, d->floor_name);
    lu__sha256_free(d->hs);
    lu__free(&ctx->env, d);
}

/* The context's transfer loop, created on first use. */
static lu_status loop_start(lu_context *ctx, lu_error *err)
{
    LU_TRY(lu__curl_start(err));
    if (downloads(ctx)) return LU_OK;
    lu_downloads *all = lu__calloc(&ctx->env, 1, sizeof *all);
    if (!all || !(all->multi = curl_multi_init())) {
        lu__free(&ctx->env, all);
        return lu__fail(err, LU_MEM_ERROR, "out of memory starting a transfer");
    }
    lu_status st = lu__layer_attach(ctx, &net_layer, all, err);
    if (st != LU_OK) {
        curl_multi_cleanup(all->multi);
        lu__free(&ctx->env, all);
    }
    return st;
}

lu_status lu__xfer_add(lu_context *ctx, CURL *easy, lu__xfer_done_fn done, void *ud, lu_error *err)
{
    LU_TRY(loop_start(ctx, err));
    xfer *x = lu__calloc(&ctx->env, 1, sizeof *x);
    if (!x) return lu__fail(err, LU_MEM_ERROR, "out of memory starting a transfer");
    x->easy = easy;
    x->done = done;
    x->ud = ud;
    if (curl_multi_add_handle(downloads(ctx)->multi, x->easy) != CURLM_OK) {
        lu__free(&ctx->env, x);
        return lu__fail(err, LU_UNKNOWN, "libcurl refused a transfer");
    }
    x->next = downloads(ctx)->others;
    downloads(ctx)->others = x;
    return LU_OK;
}

/* Unlinks the record of `easy` from the others list (NULL if absent). */
static xfer *take_other(lu_downloads *all, const void *easy)
{
    for (xfer **p = all ? &all->others : NULL; p && *p; p = &(*p)->next)
        if ((*p)->easy == easy) {
            xfer *x = *p;
            *p = x->next;
            return x;
        }
    return NULL;
}

void lu__xfer_remove(lu_context *ctx, CURL *easy)
{
    xfer *x = take_other(downloads(ctx), easy);
    if (!x) return;
    curl_multi_remove_handle(downloads(ctx)->multi, x->easy);
    lu__free(&ctx->env, x);
}

lu_status lu_download_start(lu_context *ctx, const lu_download_request *req, int *id, lu_error *err)
{
    *id = 0;
    if (!lu__save_dir(ctx)) return lu__fail(err, LU_INVAL, "downloads need a save directory");
    if (!req->url || !(strncasecmp(req->url, "http://", 7) == 0 || strncasecmp(req->url, "https://", 8) == 0 ||
                       strncasecmp(req->url, "file://", 7) == 0))
        return lu__fail(err, LU_INVAL, "download URL '%s' is not http:, https: or file:", req->url ? req->url : "");
    if (req->dest && req->dest[0] != '/')
        return lu__fail(err, LU_INVAL, "download destination '%s' must be an absolute path", req->dest);
    if (lu_file_name_check(req->file, err) != LU_OK) {
        lu__error_prefix(err, "download");
        return LU_INVAL;
    }
    if (req->sha256 && strlen(req->sha256) != 64)
        return lu__fail(err, LU_INVAL, "download '%s': sha256 must be 64 hex characters", req->file);
    if (req->verify_signature > 0 && !lu__options(ctx)->public_key)
        return lu__fail(err, LU_INVAL, "download '%s': a signature check needs a public key", req->file);
    if (req->size && req->max_size && req->size > req->max_size)
        return lu__fail(err, LU_INVAL, "download '%s': size %llu is over the maximum %llu", req->file,
                        (unsigned long long)req->size, (unsigned long long)req->max_size);
    LU_TRY(loop_start(ctx, err));
    if (lu_crypto_init(err) != LU_OK) return err->status;
    for (dl *o = downloads(ctx)->list; o; o = o->next)
        if (o->phase != FINISHED && strcmp(o->file, req->file) == 0)
            return lu__fail(err, LU_NAME_EXISTS, "'%s' is already downloading (download %d)", req->file, o->id);
    char dir[PATH_MAX];
    LU_TRY(lu__save_path(ctx, LU_SAVE_DOWNLOADS, NULL, true, dir, sizeof dir, err));
    dl *d = lu__calloc(&ctx->env, 1, sizeof *d);
    if (!d) return lu__fail(err, LU_MEM_ERROR, "out of memory starting a download");
    d->fd = -1;
    d->base_fd = -1;
    d->ctx = ctx;
    d->req = *req;
    d->url = lu__strdup(&ctx->env, req->url);
    d->file = lu__strdup(&ctx->env, req->file);
    d->sha256 = req->sha256 ? lu__strdup(&ctx->env, req->sha256) : NULL;
    d->floor_name = req->floor_name ? lu__strdup(&ctx->env, req->floor_name) : NULL;
    d->base = req->base ? lu__strdup(&ctx->env, req->base) : NULL;
    if (!d->req.max_size) d->req.max_size = UINT64_C(1) << 30;
    if (d->req.timeout_ms <= 0) d->req.timeout_ms = 30000;
    if (d->req.connect_timeout_ms <= 0) d->req.connect_timeout_ms = 10000;
    if (d->req.backoff_ms <= 0) d->req.backoff_ms = 250;
    if (d->req.verify_signature < 0) d->req.verify_signature = lu__options(ctx)->public_key != NULL;
    if (snprintf(d->part, sizeof d->part, "%s/%s.part", dir, req->file) >= (int)sizeof d->part ||
        snprintf(d->meta, sizeof d->meta, "%s/%s.part.json", dir, req->file) >= (int)sizeof d->meta ||
        (req->dest ? snprintf(d->final, sizeof d->final, "%s", req->dest) >= (int)sizeof d->final
                   : lu__save_path(ctx, LU_SAVE_VOLUMES, req->file, false, d->final, sizeof d->final, NULL) != LU_OK)) {
        dl_free(ctx, d);
        return lu__fail(err, LU_INVAL, "download '%s': the save directory path is too long", req->file);
    }
    if (!d->url || !d->file || (req->sha256 && !d->sha256) || (req->floor_name && !d->floor_name) ||
        (req->base && !d->base) ||
        !(d->hs = lu__sha256_new())) {
        dl_free(ctx, d);
        return lu__fail(err, LU_MEM_ERROR, "out of memory starting a download");
    }
    d->id = ++downloads(ctx)->next_id;
    d->attempt = 1;
    dl **tail = &downloads(ctx)->list;
    /* free space for what is left to fetch, plus 1 MiB of slack (none when
     * the bytes may already be here: from_store decides at the start) */
    struct statvfs vfs;
    struct stat pst;
    uint64_t kept = stat(d->part, &pst) == 0 ? (uint64_t)pst.st_size : 0;
    if (req->size && !maybe_here(ctx, d) && statvfs(dir, &vfs) == 0) {
        uint64_t avail = (uint64_t)vfs.f_bavail * vfs.f_frsize;
        uint64_t need = (req->size > kept ? req->size - kept : 0) + (UINT64_C(1) << 20);
        if (avail < need) {
            lu_status st = lu__fail(err, LU_NO_SPACE, "download '%s' needs %llu bytes in '%s', %llu are free",
                                    req->file, (unsigned long long)need, dir, (unsigned long long)avail);
            dl_free(ctx, d);
            return st;
        }
    }
    d->phase = QUEUED;
    while (*tail) tail = &(*tail)->next;
    *tail = d;
    *id = d->id;
    return LU_OK;
}

/* What `progress` and lu_downloads_get report as done of total: a
 * planned delta's received bytes of those it fetches; else the .part's
 * bytes of the file's size. */
static void progress_of(const dl *d, uint64_t *done, uint64_t *total)
{
    if (d->to_receive) {
        *done = d->received;
        *total = d->to_receive;
    } else {
        *done = d->have;
        *total = d->total ? d->total : d->req.size;
    }
}

lu_status lu_download_base(lu_context *ctx, const char *name, char *out, size_t cap, lu_error *err)
{
    lu_mount_info *m = NULL;
    size_t n = 0;
    LU_TRY(lu_mounts_get(ctx, &m, &n, err));
    lu_status st = LU_NOT_FOUND;
    for (size_t i = 0; i < n && st == LU_NOT_FOUND; i++)
        if (strcmp(m[i].name, name) == 0 && m[i].path && strcmp(m[i].format, "zip") == 0)
            st = snprintf(out, cap, "%s", m[i].path) < (int)cap
                     ? LU_OK
                     : lu__fail(err, LU_INVAL, "the path of mount '%s' is over %zu bytes", name, cap);
    lu_free(ctx, m);
    return st;
}

lu_status lu_download_cancel(lu_context *ctx, int id, lu_error *err)
{
    for (dl *d = downloads(ctx) ? downloads(ctx)->list : NULL; d; d = d->next)
        if (d->id == id && d->phase != FINISHED) {
            d->cancelled = true;
            set_result(d, LU_CANCELLED, "download '%s' cancelled", d->url);
            finish(downloads(ctx), d);
            return LU_OK;
        }
    return lu__fail(err, LU_NOT_FOUND, "no download %d in progress", id);
}

lu_status lu_downloads_get(lu_context *ctx, lu_download_info **out, size_t *count, lu_error *err)
{
    *out = NULL;
    *count = 0;
    size_t n = 0, strings = 0;
    for (dl *d = downloads(ctx) ? downloads(ctx)->list : NULL; d; d = d->next)
        if (d->phase != FINISHED) {
            n++;
            strings += strlen(d->url) + strlen(d->file) + 2;
        }
    if (!n) return LU_OK;
    lu_download_info *info = lu__malloc(&ctx->env, n * sizeof *info + strings);
    if (!info) return lu__fail(err, LU_MEM_ERROR, "out of memory listing downloads");
    char *s = (char *)(info + n);
    size_t i = 0;
    long long now = now_ms();
    for (dl *d = downloads(ctx)->list; d; d = d->next) {
        if (d->phase == FINISHED) continue;
        lu_download_info *o = &info[i++];
        o->id = d->id;
        o->url = strcpy(s, d->url);
        s += strlen(s) + 1;
        o->file = strcpy(s, d->file);
        s += strlen(s) + 1;
        progress_of(d, &o->done, &o->total);
        o->received = d->received;
        o->saved = d->to_receive ? d->plan.copy : 0;
        o->attempt = d->attempt;
        o->state = d->phase == BODY || d->phase == TAIL || d->phase == RANGE || d->phase == COPY ? "receiving"
                   : d->phase == SIG ? "signature"
                   : d->next_try_ms > now ? "waiting" : "queued";
    }
    *out = info;
    *count = n;
    return LU_OK;
}

static int downloads_poll(lu_context *ctx, void *state)
{
    lu_downloads *all = state;
    long long now = now_ms();
    int active = 0;
    for (dl *d = all->list; d; d = d->next)
        active += d->phase != QUEUED && d->phase != FINISHED;
    for (dl *d = all->list; d && !lu__closing(ctx); d = d->next)
        if (d->phase == COPY) delta_advance(ctx, d);   /* the next slice of a delta's copies */
    for (dl *d = all->list; d && active < max_downloads(ctx); d = d->next) {
        if (d->phase != QUEUED || d->next_try_ms > now) continue;
        if (d->attempt == 1 && !d->whole && from_store(ctx, d)) {   /* the bytes are here: no request */
            finish(all, d);
            continue;
        }
        lu_error err;
        if (start_attempt(ctx, d, &err) != LU_OK) {
            d->result = err;
            finish(all, d);
            continue;
        }
        active++;
    }
    int running, ran = 0;
    curl_multi_perform(all->multi, &running);
    /* progress (before completions, so a finished body reports its end) */
    for (dl *d = all->list; d && !lu__closing(ctx); d = d->next)
        if (d->req.progress && ((d->phase == BODY && d->response_started) || d->phase == RANGE || d->phase == COPY)) {
            uint64_t done, total;
            progress_of(d, &done, &total);
            if (done == d->reported) continue;
            d->reported = done;
            d->req.progress(d->req.ud, d->id, done, total);
        }
    CURLMsg *m;
    int left;
    /* A callback may close the context (lu_context_close from inside
     * lu_update): then nothing more is delivered; the close frees the rest. */
    while (!lu__closing(ctx) && (m = curl_multi_info_read(all->multi, &left))) {
        if (m->msg != CURLMSG_DONE) continue;
        xfer *x = take_other(all, m->easy_handle);
        if (x) {
            CURLcode rc = m->data.result;
            curl_multi_remove_handle(all->multi, x->easy);
            x->done(x->ud, x->easy, rc);
            lu__free(&ctx->env, x);
            ran++;
            continue;
        }
        dl *d;
        curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&d);
        CURLcode rc = m->data.result;
        if (d->phase == BODY) body_done(ctx, d, rc);
        else if (d->phase == SIG) sig_done(ctx, d, rc);
        else if (d->phase == TAIL || d->phase == RANGE) delta_done(ctx, d, rc);
    }
    /* completions, unlinked first: a callback may start or cancel downloads */
    dl *finished = NULL, **tail = &finished;
    for (dl **p = &all->list; *p;) {
        if ((*p)->phase == FINISHED) {
            dl *d = *p;
            *p = d->next;
            d->next = NULL;
            *tail = d;
            tail = &d->next;
        } else {
            p = &(*p)->next;
        }
    }
    while (finished) {
        dl *d = finished;
        finished = d->next;
        if (d->req.done && !lu__closing(ctx)) {
            d->req.done(d->req.ud, d->id, d->result.status == LU_OK ? d->final : NULL, &d->result);
            ran++;
        }
        dl_free(ctx, d);
    }
    return ran;
}

/* Stops every transfer (keeping .part files) without callbacks. */
static void downloads_close(lu_context *ctx, void *state)
{
    lu_downloads *all = state;
    while (all->others) {           /* their owners clean the handles up */
        xfer *x = all->others;
        all->others = x->next;
        curl_multi_remove_handle(all->multi, x->easy);
        lu__free(&ctx->env, x);
    }
    while (all->list) {
        dl *d = all->list;
        all->list = d->next;
        dl_free(ctx, d);
    }
    curl_multi_cleanup(all->multi);
    lu__free(&ctx->env, all);
}
