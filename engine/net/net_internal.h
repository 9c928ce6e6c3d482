/* net_internal.h -- what the files of the net layer share (never installed).
 *
 * transfer.c: libcurl's process-wide start, the defaults every easy handle
 * gets, and the one parser of response header lines. download.c: the
 * context's transfer loop (a curl multi handle polled by lu_update) that
 * downloads and HTTP requests (http.c) run on. delta.c: which bytes of a
 * new volume to fetch and which to copy from the old one.
 */
#ifndef LU_NET_INTERNAL_H
#define LU_NET_INTERNAL_H

#include <curl/curl.h>

#include "../crypto/crypto_internal.h"
#include "internal.h"
#include "zip_layout.h"
#include "liveupdate/http.h"

/* ---- transfer.c --------------------------------------------------------- */

/* Starts libcurl once per process (thread-safe). Returns LU_OK or
 * LU_UNKNOWN when libcurl cannot start. */
lu_status lu__curl_start(lu_error *err);

/* Sets what every handle of the library shares, whoever made it:
 * protocols (http, https and, when `allow_file`, file; redirects to http and
 * https only), at most 5 redirects, TLS peer and host verification with the
 * context's CA file (lu_config ca_file), no signals, a 10 s connect timeout,
 * `errbuf` (CURL_ERROR_SIZE bytes) for libcurl's message. Never fails. */
void lu__curl_defaults(const lu_context *ctx, CURL *easy, bool allow_file, char *errbuf);

/* Splits one response header line. Returns false for a line that is no
 * "Name: value" header (a status line, the blank end line, a line with a
 * NUL byte: its name or value would be cut short where they are kept as C
 * strings, and the pairs after it misread). The value is
 * trimmed of spaces, tabs and CR/LF. Does not allocate. */
bool lu__header_split(const char *line, size_t len, const char **name, size_t *name_len,
                      const char **value, size_t *value_len);

/* True when `line` starts a new response ("HTTP/..."): after a redirect or
 * a 100 Continue, the headers collected so far belong to the old one. */
bool lu__header_is_status(const char *line, size_t len);

/* ---- http.c: the response headers a request collects ----------------- */

/* "name\0value\0" pairs, names in lower case, `n` of them. */
typedef struct lu__http_headers {
    char *buf;
    size_t len, cap, n;
} lu__http_headers;

/* Takes one response header line: a status line ("HTTP/...") empties the
 * set (a redirect or a 100 came before the answer), a "Name: value" line
 * (lu__header_split) is added, any other line is ignored. False when out
 * of memory (the set is unchanged). */
bool lu__http_headers_line(const lu_env *env, lu__http_headers *h, const char *line, size_t len);

/* The set as h->n headers pointing into h->buf: one allocation through
 * `env` (lu__free it); NULL when the set is empty or out of memory. */
lu_http_header *lu__http_headers_list(const lu_env *env, const lu__http_headers *h);

/* ---- download.c: what decides a resume (fuzzed: tests/fuzz) ----------- */

#define LU__ETAG_CAP 256
#define LU__LAST_MODIFIED_CAP 128
#define LU__CONTENT_RANGE_CAP 128

/* True when the sidecar text (<file>.part.json) describes a download of
 * `url` with `sha256` (NULL: none) and `size` (0: unknown) and holds a
 * validator (ETag or Last-Modified) that fits and has no control bytes,
 * and is not a delta's; then copies the validators out (for If-Range). Does not allocate
 * through a context (cJSON's allocator only); never fails otherwise. */
bool lu__download_sidecar_resumes(const char *text, size_t len, const char *url, const char *sha256, uint64_t size,
                                  char etag[LU__ETAG_CAP], char last_modified[LU__LAST_MODIFIED_CAP]);

/* The same for an interrupted delta (its sidecar has a "delta" member,
 * which lu__download_sidecar_resumes refuses): true when the sidecar names
 * `url`, `sha256` and `size`, holds a validator, and was written for the
 * old file whose identity (its device, inode, size and modification
 * time, as download.c writes them) is `base_id`; then copies out the
 * validators and where the tail started (*tail_from, below `size`). */
bool lu__download_sidecar_delta(const char *text, size_t len, const char *url, const char *sha256, uint64_t size,
                                 const char *base_id, uint64_t *tail_from, char etag_out[LU__ETAG_CAP],
                                 char last_modified_out[LU__LAST_MODIFIED_CAP]);

/* One response header line of a volume download: a status line clears the
 * three values; ETag, Last-Modified and Content-Range (any case) are kept
 * when they fit and have no control bytes. Does not allocate. */
void lu__download_header(const char *line, size_t len, char etag[LU__ETAG_CAP],
                         char last_modified[LU__LAST_MODIFIED_CAP], char content_range[LU__CONTENT_RANGE_CAP]);

/* Parses a Content-Range value "bytes <first>-<last>/<total>" (total "*":
 * *total = UINT64_MAX). False unless it is exactly that, with decimal
 * numbers that fit 64 bits, first <= last and last < total. */
bool lu__content_range_parse(const char *value, uint64_t *first, uint64_t *last, uint64_t *total);

/* ---- download.c: the transfer loop -------------------------------------- */

/* Completion of a handle added with lu__xfer_add: runs from lu_update(),
 * with the handle already out of the loop (its owner cleans it up). */
typedef void (*lu__xfer_done_fn)(void *ud, CURL *easy, CURLcode rc);

/* Runs `easy` on the context's loop. Returns LU_OK, LU_MEM_ERROR,
 * LU_UNKNOWN (libcurl refused the handle). */
lu_status lu__xfer_add(lu_context *ctx, CURL *easy, lu__xfer_done_fn done, void *ud, lu_error *err);

/* Takes `easy` out of the loop before it finished (`done` will not run).
 * Accepts a handle that is not in it. */
void lu__xfer_remove(lu_context *ctx, CURL *easy);

/* ---- delta.c: a new volume from an old one's unchanged entries ------ */

#define LU__DELTA_FETCH UINT64_MAX   /* lu__delta_op.from of bytes to fetch */
#define LU__DELTA_GAP 4096           /* copies this short between two fetches are fetched instead */
#define LU__DELTA_RANGES 64          /* at most this many fetches */
#define LU__DELTA_TAIL (64 * 1024)   /* the end of a new file asked for first (its directory, mostly) */
#define LU__DELTA_TAIL_MAX (16u << 20)   /* a directory larger than this is not held: a whole download */
#define LU__DELTA_SLICE (1u << 20)   /* bytes a delta copies from the old file per step (a few ms) */

/* Bytes [at, at + len) of the new file: copied from the old file at
 * `from`, or fetched (from == LU__DELTA_FETCH). */
typedef struct lu__delta_op {
    uint64_t at, len, from;
} lu__delta_op;

/* How to make the bytes [0, tail_from) of a new volume: ops in file order,
 * each starting where the one before ends, covering them exactly (the
 * caller holds [tail_from, size)). */
typedef struct lu__delta_plan {
    lu__delta_op *ops;
    size_t n;
    uint64_t size, tail_from;
    uint64_t fetch, copy;      /* bytes fetched and copied below tail_from */
    size_t ranges;             /* fetch ops (requests) */
    size_t changed, entries;   /* records below tail_from with no unchanged old twin; records in all */
} lu__delta_plan;

/* Plans the new volume `neu` (its layout from its last size - tail_from
 * bytes) from the old volume `old` (its layout from its file). Returns
 * LU_OK and *out (lu__delta_plan_free it), or LU_MEM_ERROR (*out empty).
 * Any two layouts give a plan: with nothing in common it fetches all. */
lu_status lu__delta_plan_make(const lu_env *env, const lu_zip_layout *old, const lu_zip_layout *neu,
                              uint64_t tail_from, lu__delta_plan *out, lu_error *err);
/* Frees a plan's ops (the struct is the caller's). Accepts NULL. */
void lu__delta_plan_free(const lu_env *env, lu__delta_plan *p);
/* The one rule for when a delta is worth its requests: true when what it
 * fetches, the tail included, is at most half the file. False, with the
 * reason for the log in `why` (when non-NULL), otherwise. */
bool lu__delta_worth(const lu__delta_plan *p, char *why, size_t cap);
/* Whether a file of `size` bytes may be worth a delta at all: its first
 * tail request must be at most half of it (lu__delta_worth's rule). */
bool lu__delta_may(uint64_t size);
/* Where the next tail request of a file of `size` bytes starts, when the
 * bytes from `tail_from` on are held and the layout asked for those from
 * `need`: there, or lower so that at least twice the bytes are held (a
 * zip whose end-record search needs a little more at every round, say
 * fake end records in a comment, takes few rounds). */
uint64_t lu__delta_tail_next(uint64_t size, uint64_t tail_from, uint64_t need);
/* Appends `len` bytes of the old volume's descriptor `old_fd` at offset
 * `from` to `out_fd` (at its position), feeding them to `hs` when
 * non-NULL. LU_OK; LU_FORMAT_ERROR (the old file ends first: the message
 * says where), LU_IO_ERROR / LU_NO_SPACE (a read or write failed),
 * LU_MEM_ERROR. After a failure `out_fd` holds part of the bytes. */
lu_status lu__delta_copy(const lu_env *env, int old_fd, uint64_t from, uint64_t len, int out_fd, lu__sha256 *hs,
                         lu_error *err);

#endif
