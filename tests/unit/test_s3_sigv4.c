/* test_s3_sigv4.c -- lutool publish's requests (tools/lutool/s3.c) signed
 * as AWS signs them.
 *
 * s3rver, the S3-compatible server of the Lua tests, accepts any
 * signature, so the signing is checked here against AWS's published
 * Signature V4 examples for S3 (the S3 API reference, "Signature
 * Calculations for the Authorization Header: Transferring Payload in a
 * Single Chunk": GET Object and PUT Object; the "GET Bucket (List Objects)"
 * example is not used: lutool sends no query strings). The requests go
 * through lutool_s3_request and libcurl to a one-shot server on 127.0.0.1
 * (curl's connect-to, so the Host header stays AWS's example host), which
 * keeps what it received. The examples' date is sent as x-amz-date, which
 * libcurl signs instead of the clock's.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <strings.h>
#include <sys/socket.h>

#include <curl/curl.h>

#include "helpers.h"
#include "../../tools/lutool/s3.h"

#define EXAMPLE_HOST "examplebucket.s3.amazonaws.com"
#define EXAMPLE_CREDENTIAL "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request"

/* One request, answered with `answer`; what came in is in `request`. */
typedef struct server {
    int fd, port;
    const char *answer;
    char request[16384];
    size_t len;
    pthread_t thread;
} server;

static const char *find_header(const char *req, const char *name, char *out, size_t cap)
{
    size_t nl = strlen(name);
    for (const char *l = strstr(req, "\r\n"); l && l[2] != '\r'; l = strstr(l + 2, "\r\n")) {
        const char *h = l + 2;
        if (strncasecmp(h, name, nl) == 0 && h[nl] == ':') {
            h += nl + 1;
            while (*h == ' ') h++;
            size_t n = strcspn(h, "\r");
            if (n >= cap) n = cap - 1;
            memcpy(out, h, n);
            out[n] = '\0';
            return out;
        }
    }
    return NULL;
}

static void *serve(void *arg)
{
    server *s = arg;
    int c = accept(s->fd, NULL, NULL);
    if (c < 0) return NULL;
    size_t want = 0;
    bool continued = false;
    for (;;) {
        ssize_t got = recv(c, s->request + s->len, sizeof s->request - 1 - s->len, 0);
        if (got <= 0) break;
        s->len += (size_t)got;
        s->request[s->len] = '\0';
        const char *end = strstr(s->request, "\r\n\r\n");
        if (!end) continue;
        char v[64];
        size_t head = (size_t)(end + 4 - s->request);
        want = head + (find_header(s->request, "content-length", v, sizeof v) ? strtoul(v, NULL, 10) : 0);
        if (!continued && find_header(s->request, "expect", v, sizeof v)) {
            continued = true;
            send(c, "HTTP/1.1 100 Continue\r\n\r\n", 25, 0);
        }
        if (s->len >= want) break;
    }
    send(c, s->answer, strlen(s->answer), 0);
    shutdown(c, SHUT_WR);
    char drain[256];
    while (recv(c, drain, sizeof drain, 0) > 0) {}
    close(c);
    return NULL;
}

static server *start(const char *answer)
{
    server *s = TH_KEEP(calloc(1, sizeof *s));
    s->answer = answer;
    s->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(s->fd, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s->fd, 1), 0);
    socklen_t al = sizeof a;
    getsockname(s->fd, (struct sockaddr *)&a, &al);
    s->port = ntohs(a.sin_port);
    cr_assert_eq(pthread_create(&s->thread, NULL, serve, s), 0);
    return s;
}

static void finish(server *s)
{
    pthread_join(s->thread, NULL);
    close(s->fd);
}

#define OK_EMPTY "HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

/* AWS's example account, reaching EXAMPLE_HOST at server s. */
static lutool_s3 example(server *s, char *connect_to, size_t cap)
{
    snprintf(connect_to, cap, EXAMPLE_HOST ":80:127.0.0.1:%d", s->port);
    return (lutool_s3){
        .endpoint = "http://s3.amazonaws.com",
        .region = "us-east-1",
        .bucket = "examplebucket",
        .virtual_host = true,
        .access_key = "AKIAIOSFODNN7EXAMPLE",
        .secret_key = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        .connect_to = connect_to,
        .stall_s = 60,
    };
}

/* The Authorization header's three parts, compared one by one (libcurl
 * separates them with ", ", AWS's text with ","; both are valid). */
static void expect_authorization(const char *req, const char *signed_headers, const char *signature)
{
    char auth[1024], want[256];
    cr_assert_not_null(find_header(req, "authorization", auth, sizeof auth), "no Authorization header in:\n%s", req);
    cr_expect(strncmp(auth, "AWS4-HMAC-SHA256 ", 17) == 0, "%s", auth);
    cr_expect_not_null(strstr(auth, EXAMPLE_CREDENTIAL), "%s", auth);
    snprintf(want, sizeof want, "SignedHeaders=%s,", signed_headers);
    cr_expect_not_null(strstr(auth, want), "want %s in %s", want, auth);
    snprintf(want, sizeof want, "Signature=%s", signature);
    cr_expect_not_null(strstr(auth, want), "want %s in %s", want, auth);
}

/* AWS: "Example: GET Object" -- the first 10 bytes of test.txt, no body. */
Test(s3_sigv4, aws_example_get_object)
{
    server *s = start(OK_EMPTY);
    char ct[128];
    lutool_s3 s3 = example(s, ct, sizeof ct);
    const char *headers[] = {"Range: bytes=0-9", "x-amz-date: 20130524T000000Z", NULL};
    lutool_s3_reply r;
    cr_assert(lutool_s3_request(&s3, "GET", "test.txt", NULL, LUTOOL_S3_EMPTY_SHA256, headers, &r), "%s", r.error);
    finish(s);
    cr_expect_eq(r.status, 200);
    cr_expect(strncmp(s->request, "GET /test.txt HTTP/1.1\r\n", 24) == 0, "%.60s", s->request);
    char v[128];
    cr_expect_str_eq(find_header(s->request, "host", v, sizeof v), EXAMPLE_HOST);
    cr_expect_str_eq(find_header(s->request, "x-amz-content-sha256", v, sizeof v), LUTOOL_S3_EMPTY_SHA256);
    expect_authorization(s->request, "host;range;x-amz-content-sha256;x-amz-date",
                         "f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

/* AWS: "Example: PUT Object" -- key "test$file.text" ('$' percent-encoded
 * in the canonical URI), a body read from a file, its hash as
 * x-amz-content-sha256, a storage class header signed with the rest. */
Test(s3_sigv4, aws_example_put_object)
{
    server *s = start(OK_EMPTY);
    char ct[128];
    lutool_s3 s3 = example(s, ct, sizeof ct);
    const char *dir = th_tempdir(), *body = th_path(dir, "body.txt");
    th_write_file(body, "Welcome to Amazon S3.", 21);
    const char *headers[] = {"Date: Fri, 24 May 2013 00:00:00 GMT", "x-amz-storage-class: REDUCED_REDUNDANCY",
                             "x-amz-date: 20130524T000000Z", NULL};
    lutool_s3_reply r;
    cr_assert(lutool_s3_request(&s3, "PUT", "test$file.text", body,
                                "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072", headers, &r),
              "%s", r.error);
    finish(s);
    cr_expect_eq(r.status, 200);
    cr_expect(strncmp(s->request, "PUT /test%24file.text HTTP/1.1\r\n", 32) == 0, "%.60s", s->request);
    char v[128];
    cr_expect_str_eq(find_header(s->request, "content-length", v, sizeof v), "21");
    const char *sent = strstr(s->request, "\r\n\r\n");
    cr_assert_not_null(sent);
    cr_expect_str_eq(sent + 4, "Welcome to Amazon S3.", "the body is the file");
    expect_authorization(s->request, "date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class",
                         "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd");
}

/* Keys are percent-encoded byte by byte (UTF-8 included), '/' kept;
 * path-style addressing puts the bucket first; temporary credentials send
 * and sign x-amz-security-token. */
Test(s3_sigv4, keys_are_encoded_and_the_session_token_is_signed)
{
    server *s = start(OK_EMPTY);
    char ct[128];
    snprintf(ct, sizeof ct, "minio.test:9000:127.0.0.1:%d", s->port);
    lutool_s3 s3 = {.endpoint = "http://minio.test:9000/", .region = "eu-central-1", .bucket = "games",
                    .access_key = "AK", .secret_key = "S:with/colon", .session_token = "TOKEN+/=",
                    .connect_to = ct, .stall_s = 60};
    lutool_s3_reply r;
    cr_assert(lutool_s3_request(&s3, "HEAD", "my game/caf\xc3\xa9/v1+2~x.zip", NULL, LUTOOL_S3_EMPTY_SHA256, NULL,
                                &r),
              "%s", r.error);
    finish(s);
    cr_expect(strncmp(s->request, "HEAD /games/my%20game/caf%C3%A9/v1%2B2~x.zip HTTP/1.1\r\n", 53) == 0, "%.80s",
              s->request);
    char v[512];
    cr_expect_str_eq(find_header(s->request, "host", v, sizeof v), "minio.test:9000");
    cr_expect_str_eq(find_header(s->request, "x-amz-security-token", v, sizeof v), "TOKEN+/=");
    cr_assert_not_null(find_header(s->request, "authorization", v, sizeof v));
    cr_expect_not_null(strstr(v, "Credential=AK/"), "%s", v);
    cr_expect_not_null(strstr(v, "/eu-central-1/s3/aws4_request"), "%s", v);
    cr_expect_not_null(strstr(v, "x-amz-security-token"), "the token is signed: %s", v);
    /* a session token of any length (STS tokens have no fixed size) */
    static char token[5000];
    memset(token, 'T', sizeof token - 1);
    s = start(OK_EMPTY);
    snprintf(ct, sizeof ct, "minio.test:9000:127.0.0.1:%d", s->port);
    s3.session_token = token;
    cr_assert(lutool_s3_request(&s3, "HEAD", "k", NULL, LUTOOL_S3_EMPTY_SHA256, NULL, &r), "%s", r.error);
    finish(s);
    static char got[5100];
    cr_assert_not_null(find_header(s->request, "x-amz-security-token", got, sizeof got));
    cr_expect_str_eq(got, token);
    char url[256];
    cr_assert(lutool_s3_url(&s3, "a b/c.zip", url, sizeof url));
    cr_expect_str_eq(url, "http://minio.test:9000/games/a%20b/c.zip");
    s3.virtual_host = true;
    cr_assert(lutool_s3_url(&s3, "a b/c.zip", url, sizeof url));
    cr_expect_str_eq(url, "http://games.minio.test:9000/a%20b/c.zip");
}

/* A HEAD answer's metadata is read whatever the case of the header names,
 * in S3's spelling and OSS's; a malformed sha256 is not taken. */
Test(s3_sigv4, a_head_answer_gives_size_and_metadata)
{
    server *s = start("HTTP/1.1 200 OK\r\nContent-Length: 4124\r\n"
                      "X-Amz-Meta-Sha256: 1d85b70bcced7974f4d63e1c5f4b4636ec1a91242ff0dbbd5ae4164cd3ffb33b\r\n"
                      "x-amz-meta-version:  1.2.3 \r\nConnection: close\r\n\r\n");
    char ct[128];
    lutool_s3 s3 = example(s, ct, sizeof ct);
    lutool_s3_reply r;
    cr_assert(lutool_s3_request(&s3, "HEAD", "latest.zip", NULL, LUTOOL_S3_EMPTY_SHA256, NULL, &r), "%s", r.error);
    finish(s);
    cr_expect_eq(r.status, 200);
    cr_expect(r.has_length);
    cr_expect_eq(r.length, 4124);
    cr_expect_str_eq(r.meta_sha256, "1d85b70bcced7974f4d63e1c5f4b4636ec1a91242ff0dbbd5ae4164cd3ffb33b");
    cr_expect_str_eq(r.meta_version, "1.2.3");

    /* OSS's spelling of the same metadata */
    s = start("HTTP/1.1 200 OK\r\nContent-Length: 7\r\n"
              "x-oss-meta-sha256: 1d85b70bcced7974f4d63e1c5f4b4636ec1a91242ff0dbbd5ae4164cd3ffb33b\r\n"
              "x-oss-meta-version: 2\r\nConnection: close\r\n\r\n");
    s3 = example(s, ct, sizeof ct);
    cr_assert(lutool_s3_request(&s3, "HEAD", "latest.zip", NULL, LUTOOL_S3_EMPTY_SHA256, NULL, &r), "%s", r.error);
    finish(s);
    cr_expect_eq(r.length, 7);
    cr_expect_str_eq(r.meta_sha256, "1d85b70bcced7974f4d63e1c5f4b4636ec1a91242ff0dbbd5ae4164cd3ffb33b");
    cr_expect_str_eq(r.meta_version, "2");

    s = start("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nx-amz-meta-sha256: NOT-HEX\r\nConnection: close\r\n\r\n");
    s3 = example(s, ct, sizeof ct);
    cr_assert(lutool_s3_request(&s3, "HEAD", "latest.zip", NULL, LUTOOL_S3_EMPTY_SHA256, NULL, &r), "%s", r.error);
    finish(s);
    cr_expect_str_eq(r.meta_sha256, "");
}

/* S3's XML error becomes the message; no answer at all is a failure. */
Test(s3_sigv4, errors_name_what_the_server_said)
{
    static const char denied[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>AccessDenied</Code>"
                                 "<Message>Access Denied</Message><RequestId>1</RequestId></Error>";
    char answer[512];
    snprintf(answer, sizeof answer,
             "HTTP/1.1 403 Forbidden\r\nContent-Type: application/xml\r\nContent-Length: %zu\r\n"
             "Connection: close\r\n\r\n%s",
             sizeof denied - 1, denied);
    server *s = start(answer);
    char ct[128];
    lutool_s3 s3 = example(s, ct, sizeof ct);
    lutool_s3_reply r;
    cr_assert(lutool_s3_request(&s3, "GET", "x.zip", NULL, LUTOOL_S3_EMPTY_SHA256, NULL, &r));
    finish(s);
    cr_expect_eq(r.status, 403);
    cr_expect_str_eq(r.error, "HTTP 403 AccessDenied: Access Denied");

    /* a port nothing listens on: the server's socket, closed */
    s = start(OK_EMPTY);
    int port = s->port;
    shutdown(s->fd, SHUT_RDWR);
    finish(s);
    snprintf(ct, sizeof ct, EXAMPLE_HOST ":80:127.0.0.1:%d", port);
    cr_expect_not(lutool_s3_request(&s3, "HEAD", "x.zip", NULL, LUTOOL_S3_EMPTY_SHA256, NULL, &r));
    cr_expect_eq(r.status, 0);
    cr_expect_neq(r.error[0], '\0');

    /* a body that cannot be read: no request */
    cr_expect_not(lutool_s3_request(&s3, "PUT", "x.zip", "/nonexistent/body", LUTOOL_S3_EMPTY_SHA256, NULL, &r));
    cr_expect_not_null(strstr(r.error, "/nonexistent/body"), "%s", r.error);
}
