/* liveupdate/http.h -- HTTP(S) requests on the context's transfer loop.
 *
 * A request runs beside the volume downloads (liveupdate/download.h) on one
 * loop that lu_update() advances, so the game's frame never waits on the
 * network, and it shares their rules: http:, https: (certificates verified,
 * lu_config ca_file) and, on request, file: URLs; at most 5 redirects, to
 * http: or https: only. lurun's http.request and the update manager's HEAD
 * check are built on it. No libcurl type appears here.
 *
 * Thread-safety: like lu_update(), call these from the thread that calls
 * lu_update(); callbacks run there, from lu_update().
 */
#ifndef LIVEUPDATE_HTTP_H
#define LIVEUPDATE_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "liveupdate/liveupdate.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One response header: the name in lower case, the value trimmed. */
typedef struct lu_http_header {
    const char *name;
    const char *value;
} lu_http_header;

/* What a finished request got. Valid during the callback only. */
typedef struct lu_http_response {
    int id;
    long status;            /* HTTP status; for file: URLs 200 (read) or 404 (missing);
                               0 when the transfer failed */
    lu_status result;       /* LU_OK when an answer arrived (whatever its status), else
                               LU_TIMEOUT, LU_NETWORK_ERROR, LU_IO_ERROR (the path),
                               LU_MEM_ERROR */
    const char *error;      /* why the transfer failed (result != LU_OK), or NULL */
    const char *body;       /* the body in memory (NUL-terminated; "" with a path) */
    size_t body_len;
    const lu_http_header *headers;  /* the final response's, in order */
    size_t nheaders;
    const char *path;       /* the body is at this path (a 2xx answer, or a 304 that
                               keeps the file there), else NULL */
    uint64_t size;          /* Content-Length of the final response, or 0 */
} lu_http_response;

typedef void (*lu_http_done_fn)(void *ud, const lu_http_response *res);
/* Progress of a request: the body bytes received so far and the expected
 * total (Content-Length, -1 when unknown). */
typedef void (*lu_http_progress_fn)(void *ud, int id, uint64_t received, int64_t total);

typedef struct lu_http_request {
    const char *url;                  /* required */
    const char *method;               /* "GET" (default), "HEAD", "POST", "PUT", ... */
    const char *const *headers;       /* "Name: value" lines, NULL-terminated, or NULL */
    const void *body;                 /* sent as is (copied), or NULL */
    size_t body_len;
    long timeout_ms;                  /* whole request; 0: no limit but the stall rule */
    long stall_ms;                    /* fail when no byte arrives for this long (default 30000) */
    int allow_file;                   /* accept file: URLs (default 0) */
    const char *path;                 /* stream the body into "<path>.part", renamed over
                                         <path> after a 2xx answer; NULL: in memory */
    uint64_t max_body;                /* in-memory body limit (default 64 MiB) */
    lu_http_done_fn done;             /* required */
    void *ud;
    lu_http_progress_fn progress;     /* optional: from lu_update(), whenever more of the
                                         body arrived since the last call (at most once per
                                         lu_update), and once more before `done` when the
                                         last bytes were not yet reported; never after
                                         `done`, never from inside libcurl */
} lu_http_request;

/* Fills `req` with the defaults (GET, no limit, in memory). Never fails. */
void lu_http_request_init(lu_http_request *req);

/* Starts a request; *id gets its number (> 0). `done` runs exactly once from
 * a later lu_update(), unless lu_http_cancel or lu_context_close comes first.
 * Strings and the body are copied. Returns LU_OK, LU_INVAL (no URL or
 * callback, a scheme other than http:/https: (and file: when allowed), a
 * method with spaces, a path with HEAD), LU_IO_ERROR (the .part file cannot be created),
 * LU_MEM_ERROR, LU_UNKNOWN (libcurl refused). */
lu_status lu_http_start(lu_context *ctx, const lu_http_request *req, int *id, lu_error *err);

/* Stops request `id` without its callback (a .part file is removed).
 * Returns LU_OK or LU_NOT_FOUND. */
lu_status lu_http_cancel(lu_context *ctx, int id, lu_error *err);

/* Progress of request `id`: bytes received so far and the expected total
 * (-1 when unknown). Returns LU_OK or LU_NOT_FOUND. */
lu_status lu_http_progress(lu_context *ctx, int id, uint64_t *have, int64_t *total, lu_error *err);

#ifdef __cplusplus
}
#endif

#endif
