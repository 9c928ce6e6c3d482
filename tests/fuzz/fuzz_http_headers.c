/* fuzz_http_headers.c -- bytes as the header block of an HTTP response,
 * one line at a time as libcurl hands them over (status lines of redirects
 * and 100 answers included): what lu_http requests keep (http.c), what a
 * volume download keeps to resume (ETag, Last-Modified, Content-Range,
 * download.c) and the Content-Range check, and what the update manager
 * reads from a HEAD answer (version, SHA-256, validators; updater.c).
 * Aborts when the kept headers are not the ones given, in order. */
#include "fuzz.h"
#include "../../engine/net/net_internal.h"
#include "../../engine/update/release_internal.h"

static void check_list(const lu__http_headers *h, const lu_http_header *list)
{
    for (size_t i = 0; i < h->n; i++) {
        const char *n = list[i].name, *v = list[i].value;
        if (!n[0] || strchr(n, ':')) abort();
        for (const char *c = n; *c; c++)
            if (*c >= 'A' && *c <= 'Z') abort();
        size_t vl = strlen(v);
        if (vl && (v[0] == ' ' || v[0] == '\t' || v[vl - 1] == ' ' || v[vl - 1] == '\r' || v[vl - 1] == '\n')) abort();
        if (v + vl + 1 > h->buf + h->len) abort();
    }
}

static void check_safe(const char *s, size_t cap)
{
    if (strlen(s) >= cap) abort();
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || *s == 0x7f) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lu_env env = lu__default_env();
    lu__http_headers h = {0};
    char etag[LU__ETAG_CAP] = "", lm[LU__LAST_MODIFIED_CAP] = "", cr[LU__CONTENT_RANGE_CAP] = "";
    const char *p = (const char *)data, *end = p + size;
    size_t kept = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t len = nl ? (size_t)(nl - p) + 1 : (size_t)(end - p);
        /* libcurl's buffer is not NUL-terminated: give each line its own */
        char *line = malloc(len ? len : 1);
        memcpy(line, p, len);
        const char *name, *value;
        size_t nlen, vlen;
        if (lu__header_is_status(line, len)) kept = 0;
        else if (lu__header_split(line, len, &name, &nlen, &value, &vlen)) kept++;
        if (!lu__http_headers_line(&env, &h, line, len)) abort();
        lu__download_header(line, len, etag, lm, cr);
        free(line);
        p += len;
    }
    if (h.n != kept) abort();
    check_safe(etag, sizeof etag);
    check_safe(lm, sizeof lm);
    check_safe(cr, sizeof cr);
    uint64_t first, last, total;
    if (lu__content_range_parse(cr, &first, &last, &total) && (first > last || last >= total)) abort();
    lu_http_header *list = lu__http_headers_list(&env, &h);
    if (h.n && !list) abort();
    check_list(&h, list);
    lu__head_meta meta;
    lu__head_meta_read(list, h.n, "x-oss-meta-version-name,x-amz-meta-version", &meta);
    lu__head_meta_read(list, h.n, " X-Version , ,etag,,", &meta);
    if (strlen(meta.version) > LU_VERSION_MAX || strlen(meta.sha256) >= LU_SHA256_HEX) abort();
    lu_version_valid(meta.version);
    lu__free(&env, list);
    lu__free(&env, h.buf);
    return 0;
}
