/* net_internal.h -- what the files of the net layer share (never installed).
 *
 * transfer.c: libcurl's process-wide start, the defaults every easy handle
 * gets, and the one parser of response header lines. download.c: the
 * context's transfer loop (a curl multi handle polled by lu_update) that
 * downloads and HTTP requests (http.c) run on.
 */
#ifndef LU_NET_INTERNAL_H
#define LU_NET_INTERNAL_H

#include <curl/curl.h>

#include "internal.h"

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
 * "Name: value" header (a status line, the blank end line). The value is
 * trimmed of spaces, tabs and CR/LF. Does not allocate. */
bool lu__header_split(const char *line, size_t len, const char **name, size_t *name_len,
                      const char **value, size_t *value_len);

/* True when `line` starts a new response ("HTTP/..."): after a redirect or
 * a 100 Continue, the headers collected so far belong to the old one. */
bool lu__header_is_status(const char *line, size_t len);

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

#endif
