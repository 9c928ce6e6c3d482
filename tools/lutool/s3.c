/* s3.c -- one signed request to S3-compatible object storage through
 * libcurl's AWS Signature V4 (contract: s3.h).
 *
 * What is ours and what is libcurl's: the key's percent-encoding (SigV4's
 * canonical URI: every byte but A-Z a-z 0-9 - . _ ~ and '/'), the
 * x-amz-content-sha256 header (the caller's payload hash) and the session
 * token header are ours; the canonical request, the string to sign, the key
 * derivation, x-amz-date and the Authorization header are libcurl's.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include <curl/curl.h>

#include "s3.h"

/* The first bytes of an answer's body kept for its error message. */
#define BODY_KEEP 4096

typedef struct exchange {
    lutool_s3_reply *out;
    char body[BODY_KEEP + 1];
    size_t body_len;
} exchange;

static bool unreserved(unsigned char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '~';
}

/* SigV4's canonical URI form of an object key, which S3 decodes back to
 * the key: the unreserved bytes and '/' as they are, every other byte %XX. */
static bool encode_key(const char *key, char *out, size_t cap)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t n = 0;
    for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
        if (n + 4 > cap) return false;
        if (unreserved(*p) || *p == '/') {
            out[n++] = (char)*p;
        } else {
            out[n++] = '%';
            out[n++] = hex[*p >> 4];
            out[n++] = hex[*p & 15];
        }
    }
    if (n >= cap) return false;
    out[n] = '\0';
    return true;
}

bool lutool_s3_url(const lutool_s3 *s3, const char *key, char *buf, size_t cap)
{
    const char *sep = strstr(s3->endpoint, "://");
    if (!sep) return false;
    int scheme = (int)(sep + 3 - s3->endpoint);
    const char *host = sep + 3;
    int host_len = (int)strcspn(host, "/");
    char enc[3 * 1024 + 1];
    if (strlen(key) > 1024 || !encode_key(key, enc, sizeof enc)) return false;
    int n = s3->virtual_host
                ? snprintf(buf, cap, "%.*s%s.%.*s/%s", scheme, s3->endpoint, s3->bucket, host_len, host, enc)
                : snprintf(buf, cap, "%.*s%.*s/%s/%s", scheme, s3->endpoint, host_len, host, s3->bucket, enc);
    return n > 0 && (size_t)n < cap;
}

/* Copies the value of header line `line` (len bytes) into dst when its
 * name is `name`, trimmed of spaces and the line end. */
static bool header_value(const char *line, size_t len, const char *name, char *dst, size_t cap)
{
    size_t nl = strlen(name);
    if (len <= nl || line[nl] != ':' || strncasecmp(line, name, nl) != 0) return false;
    const char *v = line + nl + 1, *end = line + len;
    while (v < end && (*v == ' ' || *v == '\t')) v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' ' || end[-1] == '\t')) end--;
    size_t n = (size_t)(end - v);
    if (n >= cap) n = 0;   /* too long to be what we look for: treated as absent */
    memcpy(dst, v, n);
    dst[n] = '\0';
    return true;
}

static bool all_hex64(const char *s)
{
    if (strlen(s) != 64) return false;
    for (; *s; s++)
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) return false;
    return true;
}

static size_t on_header(char *data, size_t size, size_t n, void *user)
{
    exchange *x = user;
    size_t len = size * n;
    char v[80];
    if (len >= 5 && memcmp(data, "HTTP/", 5) == 0) {   /* a new answer (after a 100 Continue): start over */
        x->out->has_length = false;
        x->out->meta_sha256[0] = x->out->meta_version[0] = '\0';
    } else if (header_value(data, len, "content-length", v, sizeof v)) {
        char *end;
        unsigned long long l = strtoull(v, &end, 10);
        x->out->has_length = *v && !*end;
        x->out->length = l;
    } else if (header_value(data, len, "x-amz-meta-sha256", v, sizeof v) ||
               header_value(data, len, "x-oss-meta-sha256", v, sizeof v)) {
        if (all_hex64(v)) memcpy(x->out->meta_sha256, v, 65);
    } else if (header_value(data, len, "x-amz-meta-version", v, sizeof v) ||
               header_value(data, len, "x-oss-meta-version", v, sizeof v)) {
        if (strlen(v) < sizeof x->out->meta_version) memcpy(x->out->meta_version, v, strlen(v) + 1);
    }
    return len;
}

static size_t on_body(char *data, size_t size, size_t n, void *user)
{
    exchange *x = user;
    size_t len = size * n, room = BODY_KEEP - x->body_len;
    memcpy(x->body + x->body_len, data, len < room ? len : room);
    x->body_len += len < room ? len : room;
    return len;
}

static size_t on_read(char *buf, size_t size, size_t n, void *user)
{
    FILE *f = user;
    size_t got = fread(buf, 1, size * n, f);
    return got == 0 && ferror(f) ? CURL_READFUNC_ABORT : got;
}

static int on_seek(void *user, curl_off_t offset, int origin)
{
    return fseeko(user, (off_t)offset, origin) == 0 ? CURL_SEEKFUNC_OK : CURL_SEEKFUNC_FAIL;
}

/* The text between <tag> and </tag> in the kept body, or NULL. */
static const char *xml_text(const char *body, const char *tag, int *len)
{
    char open[32], close[32];
    snprintf(open, sizeof open, "<%s>", tag);
    snprintf(close, sizeof close, "</%s>", tag);
    const char *a = strstr(body, open);
    const char *b = a ? strstr(a, close) : NULL;
    if (!b) return NULL;
    a += strlen(open);
    *len = (int)(b - a);
    return a;
}

static void error_from_body(exchange *x)
{
    x->body[x->body_len] = '\0';
    int cl = 0, ml = 0;
    const char *code = xml_text(x->body, "Code", &cl), *msg = xml_text(x->body, "Message", &ml);
    if (code)
        snprintf(x->out->error, sizeof x->out->error, "HTTP %ld %.*s: %.*s", x->out->status, cl, code,
                 msg ? ml : 0, msg ? msg : "");
    else
        snprintf(x->out->error, sizeof x->out->error, "HTTP %ld", x->out->status);
}

bool lutool_s3_request(const lutool_s3 *s3, const char *method, const char *key, const char *body,
                       const char *payload_sha256, const char *const *headers, lutool_s3_reply *out)
{
    memset(out, 0, sizeof *out);
    char url[4096], provider[160], line[160];
    if (!lutool_s3_url(s3, key, url, sizeof url)) {
        snprintf(out->error, sizeof out->error, "the URL of key '%s' is too long or the endpoint '%s' has no scheme",
                 key, s3->endpoint);
        return false;
    }
    if (snprintf(provider, sizeof provider, "aws:amz:%s:s3", s3->region) >= (int)sizeof provider) {
        snprintf(out->error, sizeof out->error, "region '%s' is too long", s3->region);
        return false;
    }
    FILE *f = NULL;
    struct stat st;
    if (body && (!(f = fopen(body, "rb")) || fstat(fileno(f), &st) != 0)) {
        snprintf(out->error, sizeof out->error, "cannot read '%s'", body);
        if (f) fclose(f);
        return false;
    }
    exchange *x = calloc(1, sizeof *x);
    CURL *c = curl_easy_init();
    struct curl_slist *hl = NULL, *ct = NULL;
    bool ok = x && c;
    if (x) x->out = out;
    snprintf(line, sizeof line, "x-amz-content-sha256: %s", payload_sha256);
    ok = ok && (hl = curl_slist_append(hl, line));
    if (ok && s3->session_token) {   /* a token has no fixed length: its line is made to fit */
        static const char name[] = "x-amz-security-token: ";
        size_t tl = strlen(s3->session_token);
        char *tok = malloc(sizeof name + tl);
        struct curl_slist *t = NULL;
        if (tok) {
            memcpy(tok, name, sizeof name - 1);
            memcpy(tok + sizeof name - 1, s3->session_token, tl + 1);
            t = curl_slist_append(hl, tok);
            free(tok);
        }
        ok = t != NULL;
        if (t) hl = t;
    }
    for (size_t i = 0; ok && headers && headers[i]; i++) {
        struct curl_slist *t = curl_slist_append(hl, headers[i]);
        ok = t != NULL;
        if (t) hl = t;
    }
    if (ok && s3->connect_to) ok = (ct = curl_slist_append(NULL, s3->connect_to)) != NULL;
    if (!ok) {
        snprintf(out->error, sizeof out->error, "out of memory");
    } else {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_AWS_SIGV4, provider);
        curl_easy_setopt(c, CURLOPT_USERNAME, s3->access_key);
        curl_easy_setopt(c, CURLOPT_PASSWORD, s3->secret_key);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
        if (ct) curl_easy_setopt(c, CURLOPT_CONNECT_TO, ct);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(c, CURLOPT_USERAGENT, "lutool (liveupdate)");
        curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(c, CURLOPT_HEADERDATA, x);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, x);
        if (s3->stall_s > 0) {   /* a stall, not a slow upload of a big volume, ends the request */
            curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, s3->stall_s);
            curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 1L);
            curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, s3->stall_s);
        }
        if (strcmp(method, "HEAD") == 0) {
            curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
        } else if (f) {
            curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
            curl_easy_setopt(c, CURLOPT_READFUNCTION, on_read);
            curl_easy_setopt(c, CURLOPT_READDATA, f);
            curl_easy_setopt(c, CURLOPT_SEEKFUNCTION, on_seek);
            curl_easy_setopt(c, CURLOPT_SEEKDATA, f);
            curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, (curl_off_t)st.st_size);
            if (strcmp(method, "PUT") != 0) curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        } else if (strcmp(method, "GET") != 0) {
            curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
        }
        CURLcode rc = curl_easy_perform(c);
        if (rc == CURLE_OK) {
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
            if (out->status >= 300) error_from_body(x);
        } else {
            snprintf(out->error, sizeof out->error, "%s: %s %.200s", curl_easy_strerror(rc), method, url);
            ok = false;
        }
    }
    curl_slist_free_all(hl);
    curl_slist_free_all(ct);
    curl_easy_cleanup(c);
    free(x);
    if (f) fclose(f);
    return ok;
}
