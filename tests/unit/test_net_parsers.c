/* test_net_parsers.c -- what the downloader and HTTP requests take from a
 * server or from the save directory before a transfer (the entries the
 * fuzz targets http_headers and download_meta drive): response header
 * lines, Content-Range, and the sidecar that decides a resume. Each test
 * is a defect the fuzz work found. */
#include "helpers.h"
#include "../../engine/net/net_internal.h"

#define URL "http://127.0.0.1:8080/level2.zip"

/* A sidecar is written by the downloader, but lives in the save directory:
 * its validator goes into the If-Range header of the next request, so one
 * with a line break would add request headers. Such a sidecar is not
 * resumed (the .part starts over). */
Test(net_parsers, a_sidecar_validator_with_control_bytes_is_not_resumed)
{
    char etag[LU__ETAG_CAP], lm[LU__LAST_MODIFIED_CAP];
    const char *good = "{\"url\":\"" URL "\",\"etag\":\"\\\"e1\\\"\",\"last_modified\":\"\",\"size\":0,\"sha256\":\"\"}";
    cr_assert(lu__download_sidecar_resumes(good, strlen(good), URL, NULL, 0, etag, lm));
    cr_expect_str_eq(etag, "\"e1\"");
    const char *crlf = "{\"url\":\"" URL "\",\"etag\":\"\\\"e1\\\"\\r\\nX-Injected: 1\",\"last_modified\":\"\",\"size\":0,\"sha256\":\"\"}";
    cr_expect_not(lu__download_sidecar_resumes(crlf, strlen(crlf), URL, NULL, 0, etag, lm));
    const char *lm_tab = "{\"url\":\"" URL "\",\"etag\":\"\",\"last_modified\":\"Tue,\\t01 Dec\",\"size\":0,\"sha256\":\"\"}";
    cr_expect_not(lu__download_sidecar_resumes(lm_tab, strlen(lm_tab), URL, NULL, 0, etag, lm));
}

/* The same for what a server sends: a validator with control bytes is not
 * kept, so it is neither written to the sidecar nor sent back. */
Test(net_parsers, a_response_validator_with_control_bytes_is_not_kept)
{
    char etag[LU__ETAG_CAP] = "", lm[LU__LAST_MODIFIED_CAP] = "", cr[LU__CONTENT_RANGE_CAP] = "";
    static const char line[] = "ETag: \"a\rb\"\r\n";
    lu__download_header(line, sizeof line - 1, etag, lm, cr);
    cr_expect_str_eq(etag, "");
    static const char ok[] = "etag:  \"a b\" \r\n";
    lu__download_header(ok, sizeof ok - 1, etag, lm, cr);
    cr_expect_str_eq(etag, "\"a b\"");
    static const char status[] = "HTTP/1.1 200 OK\r\n";
    lu__download_header(status, sizeof status - 1, etag, lm, cr);
    cr_expect_str_eq(etag, "", "a new response forgets the old validators");
}

/* Content-Range was read with sscanf("bytes %llu-"): a sign, a number that
 * wraps around, and anything after the first number passed. */
Test(net_parsers, content_range_is_parsed_strictly)
{
    uint64_t first, last, total;
    cr_assert(lu__content_range_parse("bytes 50000-99999/100000", &first, &last, &total));
    cr_expect(first == 50000 && last == 99999 && total == 100000);
    cr_assert(lu__content_range_parse("bytes 100-199/*", &first, &last, &total));
    cr_expect(first == 100 && total == UINT64_MAX);
    const char *bad[] = {"bytes -18446744073709551516-199/200", "bytes +100-199/200", "bytes 100-", "bytes 100-99/200",
                         "bytes 100-200/200", "bytes 100-199/200x", "bytes 100-199", "bytes 18446744073709551616-1/2",
                         "items 0-1/2", "bytes */200", "bytes 1 -2/3", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        cr_expect_not(lu__content_range_parse(bad[i], &first, &last, &total), "'%s' was accepted", bad[i]);
}

/* Response headers are kept as "name\0value\0" pairs and listed by
 * walking those strings: a header line with a NUL byte made one pair
 * three strings, and every later header was listed with a wrong name
 * (the value of one as the name of the next). */
Test(net_parsers, a_header_line_with_a_nul_byte_is_no_header)
{
    lu_env env = lu__default_env();
    lu__http_headers h = {0};
    static const char nul[] = "x-amz-meta-version\0junk: 9.9\r\n";
    static const char ver[] = "X-Amz-Meta-Version: 1.3\r\n";
    static const char tag[] = "ETag: \"e1\"\r\n";
    cr_assert(lu__http_headers_line(&env, &h, nul, sizeof nul - 1));
    cr_assert(lu__http_headers_line(&env, &h, ver, sizeof ver - 1));
    cr_assert(lu__http_headers_line(&env, &h, tag, sizeof tag - 1));
    cr_assert_eq(h.n, 2);
    lu_http_header *list = lu__http_headers_list(&env, &h);
    cr_assert_not_null(list);
    cr_expect_str_eq(list[0].name, "x-amz-meta-version");
    cr_expect_str_eq(list[0].value, "1.3");
    cr_expect_str_eq(list[1].name, "etag");
    cr_expect_str_eq(list[1].value, "\"e1\"");
    lu__free(&env, list);
    lu__free(&env, h.buf);
}

/* An interrupted delta leaves a .part whose bytes are the new file's
 * first bytes only up to where its plan got: resumed as a whole download
 * (Range from its end) it would splice. Its sidecar's "delta" member makes
 * the whole-download rule refuse it, and the delta rule takes it only for
 * the same old file (identity) and a tail start inside the file. */
Test(net_parsers, a_delta_sidecar_resumes_only_a_delta_from_the_same_old_file)
{
    char etag[LU__ETAG_CAP], lm[LU__LAST_MODIFIED_CAP];
    uint64_t tail_from = 0;
    const char *id = "2049:131:20502150:1796175235.868892765";
    const char *delta = "{\"url\":\"" URL "\",\"etag\":\"\\\"e1\\\"\",\"last_modified\":\"\",\"size\":20502150,"
                        "\"sha256\":\"\",\"delta\":{\"base\":\"2049:131:20502150:1796175235.868892765\","
                        "\"tail_from\":20436614}}";
    cr_expect_not(lu__download_sidecar_resumes(delta, strlen(delta), URL, NULL, 20502150, etag, lm));
    cr_assert(lu__download_sidecar_delta(delta, strlen(delta), URL, NULL, 20502150, id, &tail_from, etag, lm));
    cr_expect_eq(tail_from, 20436614);
    cr_expect_str_eq(etag, "\"e1\"");
    cr_expect_not(lu__download_sidecar_delta(delta, strlen(delta), URL, NULL, 20502150,
                                             "2049:131:20502150:1796175299.000000000", &tail_from, etag, lm),
                  "the old file was replaced since");
    cr_expect_not(lu__download_sidecar_delta(delta, strlen(delta), URL, NULL, 20502151, id, &tail_from, etag, lm));
    const char *outside = "{\"url\":\"" URL "\",\"etag\":\"\\\"e1\\\"\",\"last_modified\":\"\",\"size\":100,"
                          "\"sha256\":\"\",\"delta\":{\"base\":\"x\",\"tail_from\":100}}";
    cr_expect_not(lu__download_sidecar_delta(outside, strlen(outside), URL, NULL, 100, "x", &tail_from, etag, lm));
    const char *whole = "{\"url\":\"" URL "\",\"etag\":\"\\\"e1\\\"\",\"last_modified\":\"\",\"size\":100,\"sha256\":\"\"}";
    cr_expect_not(lu__download_sidecar_delta(whole, strlen(whole), URL, NULL, 100, "x", &tail_from, etag, lm));
}
