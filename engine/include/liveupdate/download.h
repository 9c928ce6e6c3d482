/* download.h -- downloading volumes into the save directory (docs/DOWNLOADS.md).
 *
 * Transfers run on libcurl's multi interface and advance inside lu_update(),
 * which never blocks: a game calls it once per frame. A download writes
 * <save>/downloads/<file>.part with a sidecar <file>.part.json recording the
 * URL, the server's validator (ETag or Last-Modified) and the expected size
 * and SHA-256. An interrupted download resumes (Range + If-Range) only when
 * all of them still match, so bytes of two versions are never spliced. The
 * SHA-256 is computed while receiving; size, hash and (when the context has
 * a public key and the request asks) the Ed25519 signature "<url>.sig" are
 * checked before the file is renamed to <save>/volumes/<file>. Transient
 * failures (connection refused or reset, truncated body, timeout, HTTP 5xx)
 * are retried with exponential backoff; at most `max_downloads` transfers
 * run at once (lu_config), the rest wait in order.
 *
 * Mounting the result is the caller's step (liveupdate.download_volume does
 * it); the file is complete and verified when `done` reports LU_OK.
 *
 * Thread-safety: call these from the thread that calls lu_update().
 */
#ifndef LIVEUPDATE_DOWNLOAD_H
#define LIVEUPDATE_DOWNLOAD_H

#include "liveupdate/liveupdate.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Progress: bytes received so far (resumed bytes included) and the total
 * (0 when unknown); for a delta, once it has planned, the bytes it has
 * received of those it fetches (its tail and ranges; nothing moves while
 * it copies). Runs from lu_update(). */
typedef void (*lu_download_progress_fn)(void *ud, int id, uint64_t done, uint64_t total);

/* Completion: runs once from lu_update(), with `err->status` LU_OK and
 * `path` the verified file, or the failure (path NULL). */
typedef void (*lu_download_done_fn)(void *ud, int id, const char *path, const lu_error *err);

typedef struct lu_download_request {
    const char *url;          /* http:, https: or file: */
    const char *file;         /* plain file name: <save>/volumes/<file> (and the .part's name) */
    const char *dest;         /* or NULL; an absolute path to install to instead */
    uint64_t size;            /* expected size; 0 = not known */
    const char *sha256;       /* expected hex SHA-256, or NULL */
    int verify_signature;     /* 1: fetch "<url>.sig" and check it (needs a public key);
                                 0: do not; -1 (default): when the context has a public key */
    uint64_t max_size;        /* refuse larger bodies (default 1 GiB) */
    long timeout_ms;          /* give up a transfer when no byte arrives for this long (default 30000) */
    long connect_timeout_ms;  /* default 10000 */
    int retries;              /* transient failures retried this many times (default 3) */
    long backoff_ms;          /* first retry delay, doubled each time, at most 8 s (default 250) */
    lu_download_progress_fn progress;
    lu_download_done_fn done;
    void *ud;
    const char *floor_name;   /* or NULL; the mount name the file is for: the verified file must
                                 pass the context's version floor for that name (its own
                                 /version_<name>.json at least minimum_version) before it is
                                 installed, else it is deleted, never installed, and `done`
                                 gets LU_VERSION_MISMATCH; a file it would replace stays. A
                                 file the check cannot open or read (LU_IO_ERROR,
                                 LU_MEM_ERROR) is deleted too: the next try downloads it
                                 again */
    const char *base;         /* or NULL; a zip on disk this file is a newer version of (the
                                 volume of the same name it replaces). With `sha256` and `size`
                                 set and an http(s) URL, the download fetches the new file's
                                 central directory first, copies the entries the two share from
                                 `base` and fetches only the others with Range requests; the
                                 assembled file is checked as a whole download is. Whenever a
                                 delta cannot be made or does not pay (no Range support, `base`
                                 missing or damaged, the server's file changed, more than half
                                 the file changed), the whole file is downloaded instead, with
                                 the reason logged (docs/DOWNLOADS.md, "Deltas") */
} lu_download_request;

/* Fills `req` with the defaults. Never fails. */
void lu_download_request_init(lu_download_request *req);

/* Queues a download; `*id` (> 0) names it. Checks at once: a save directory
 * exists, `file` is a plain name, the URL scheme, a public key when
 * `verify_signature`, no other download of the same file, and (when the
 * size is known and no file of that size is in place or in the store)
 * free disk space for what is left to fetch. When the download would
 * start (from lu_update()), a request with `sha256` and no `dest` is first
 * settled from bytes already on the device, with no request: the file in
 * place, the store's entry (<save>/volumes/sha256/), or a mounted zip of
 * that size, each hashed and checked as a download is (signature, version
 * floor); `done` then reports LU_OK (or the floor's refusal) as usual.
 * Otherwise, with a `base`, the download may be a delta (see `base`).
 * Returns LU_OK (the result arrives through `done`), LU_INVAL,
 * LU_NAME_EXISTS (that file is downloading), LU_NO_SPACE, LU_IO_ERROR,
 * LU_MEM_ERROR. Strings are copied. */
lu_status lu_download_start(lu_context *ctx, const lu_download_request *req, int *id, lu_error *err);

/* The file of the zip volume mounted as `name`: what
 * lu_download_request.base wants for a newer version of that volume
 * (download_volume and the update manager use it). Copies the path into
 * `out`. Returns LU_OK, LU_NOT_FOUND (no such mount, or not a zip: no
 * message), LU_INVAL (`cap` too small), LU_MEM_ERROR. Thread-safe. */
lu_status lu_download_base(lu_context *ctx, const char *name, char *out, size_t cap, lu_error *err);

/* Cancels download `id`: its transfer stops now, the .part file and its
 * sidecar stay (a later download of the same file resumes), and `done`
 * runs from the next lu_update() with LU_CANCELLED. Returns LU_OK or
 * LU_NOT_FOUND (no such download in progress). */
lu_status lu_download_cancel(lu_context *ctx, int id, lu_error *err);

/* A download in progress, as lu_downloads_get returns it. */
typedef struct lu_download_info {
    int id;
    const char *url, *file;
    uint64_t done, total;     /* bytes received of those this download will receive (what
                                 `progress` reports): for a delta, the bytes it fetches (its
                                 total known once it has planned); else the file's bytes in
                                 the .part, of its size */
    int attempt;              /* 1 for the first try */
    const char *state;        /* "queued", "waiting" (retry backoff), "receiving", "signature" */
    uint64_t received;        /* bytes received over the network for this file since the
                                 download started (every request: a delta's tail and ranges,
                                 a whole download) */
    uint64_t saved;           /* bytes of the file a delta copies from the old volume instead
                                 of fetching them; 0 for a whole download */
} lu_download_info;

/* Copies the downloads in progress into one allocation (*out, free with
 * lu_free) and *count. Returns LU_OK or LU_MEM_ERROR. */
lu_status lu_downloads_get(lu_context *ctx, lu_download_info **out, size_t *count, lu_error *err);

/* Other HTTP(S) requests run on the same loop: liveupdate/http.h. */

#ifdef __cplusplus
}
#endif

#endif
