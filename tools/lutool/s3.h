/* s3.h -- one signed request to S3-compatible object storage (AWS S3,
 * Aliyun OSS, Tencent COS, MinIO ...) for `lutool publish`.
 *
 * The signature is libcurl's AWS Signature V4 (CURLOPT_AWS_SIGV4,
 * "aws:amz:<region>:s3"). libcurl 7.88 does not send x-amz-content-sha256,
 * which S3 requires on every signed request, so the caller passes the
 * payload's SHA-256 and it goes out as that header; libcurl then signs it
 * with the others and uses it as the payload hash (it never reads the body
 * to hash it). tests/unit/test_s3_sigv4.c checks the result against AWS's
 * published examples.
 *
 * Depends on libcurl only, so the unit tests link this file alone.
 */
#ifndef LUTOOL_S3_H
#define LUTOOL_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where objects go and who signs. Strings are borrowed for the call. */
typedef struct lutool_s3 {
    const char *endpoint;      /* scheme://host[:port], no path: "https://s3.eu-west-1.amazonaws.com" */
    const char *region;        /* the signing region, at most 63 characters: "us-east-1", "cn-hangzhou" */
    const char *bucket;
    bool virtual_host;         /* https://<bucket>.<host>/<key>; false: https://<host>/<bucket>/<key> */
    const char *access_key, *secret_key;
    const char *session_token; /* temporary credentials' x-amz-security-token, or NULL */
    const char *connect_to;    /* NULL, or "HOST:PORT:HOST2:PORT2" as curl's --connect-to: send the
                                  request for HOST:PORT to HOST2:PORT2 (the tests reach AWS's example
                                  host on 127.0.0.1 this way) */
    long stall_s;              /* give up after this many seconds without connecting or without a
                                  byte moving (a big upload may take longer); 0: never */
} lutool_s3;

/* What came back. */
typedef struct lutool_s3_reply {
    long status;               /* the HTTP status; 0 when there was no answer */
    bool has_length;
    uint64_t length;           /* Content-Length of the answer (a HEAD: the object's size) */
    char meta_sha256[65];      /* the x-amz-meta-sha256 header (or OSS's x-oss-meta-sha256), "" when
                                  absent or not 64 lower-case hex */
    char meta_version[65];     /* x-amz-meta-version (or x-oss-meta-version), "" when absent or too long */
    char error[320];           /* after a failure: curl's reason, or S3's "<Code>: <Message>" */
} lutool_s3_reply;

/* The 64 hex digits of SHA-256 of nothing: the payload hash of a request
 * without a body. */
#define LUTOOL_S3_EMPTY_SHA256 "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

/* Sends `method` ("HEAD", "GET", "PUT") for object `key` (a plain key,
 * "mygame/release.json"; it is percent-encoded here as SigV4 requires,
 * '/' kept). `body` (may be NULL: no body) is a file sent as the request
 * body; `payload_sha256` is its SHA-256 in 64 lower-case hex digits
 * (LUTOOL_S3_EMPTY_SHA256 without a body). `headers` (NULL-terminated, may
 * be NULL) are added as given ("x-amz-meta-version: 1.1") and signed.
 *
 * Returns true when an answer came (any status; out->status says which);
 * false, with out->error set, when there was none (cannot connect, TLS,
 * timeout, an unreadable body, out of memory). A status >= 300 also gets
 * out->error from S3's XML error body when it has one. The answer body is
 * not kept. Not thread-safe with respect to curl_global_init, which the
 * caller runs once first; otherwise holds no state between calls. */
bool lutool_s3_request(const lutool_s3 *s3, const char *method, const char *key, const char *body,
                       const char *payload_sha256, const char *const *headers, lutool_s3_reply *out);

/* The URL of `key` ("https://bucket.s3.amazonaws.com/mygame/release.json")
 * into buf (cap bytes, NUL-terminated). Returns false when it does not fit. */
bool lutool_s3_url(const lutool_s3 *s3, const char *key, char *buf, size_t cap);

#endif
