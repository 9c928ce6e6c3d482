/* transfer.c -- the libcurl settings every transfer of the library shares,
 * and the one parser of response header lines.
 *
 * Downloads, HTTP requests (http.request in lurun, the update manager's
 * HEAD check) all get their handles' defaults here, so a protocol, redirect
 * or TLS rule is changed in one place. A leaf of the net layer.
 */
#include <pthread.h>
#include <string.h>

#include "net_internal.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_start_rc;

static void curl_start_once(void)
{
    curl_start_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

lu_status lu__curl_start(lu_error *err)
{
    pthread_once(&curl_once, curl_start_once);
    if (curl_start_rc != CURLE_OK) return lu__fail(err, LU_UNKNOWN, "libcurl failed to start");
    return LU_OK;
}

void lu__curl_defaults(const lu_context *ctx, CURL *e, bool allow_file, char *errbuf)
{
    const char *ca = lu__options(ctx)->ca_file;
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
    if (ca) curl_easy_setopt(e, CURLOPT_CAINFO, ca);
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, allow_file ? "http,https,file" : "http,https");
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(e, CURLOPT_PROTOCOLS,
                     (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS | (allow_file ? CURLPROTO_FILE : 0)));
    curl_easy_setopt(e, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
    if (errbuf) errbuf[0] = '\0';
}

bool lu__header_is_status(const char *line, size_t len)
{
    return len >= 5 && memcmp(line, "HTTP/", 5) == 0;
}

bool lu__header_split(const char *line, size_t len, const char **name, size_t *name_len,
                      const char **value, size_t *value_len)
{
    if (lu__header_is_status(line, len) || memchr(line, '\0', len)) return false;
    const char *colon = memchr(line, ':', len);
    if (!colon || colon == line) return false;
    const char *v = colon + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) end--;
    *name = line;
    *name_len = (size_t)(colon - line);
    *value = v;
    *value_len = (size_t)(end - v);
    return true;
}
