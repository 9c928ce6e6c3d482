/* test_release.c -- the update manager's version document and dotted
 * version comparison (liveupdate/release.h). */
#include "helpers.h"
#include "liveupdate/release.h"

#define SHA "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define VOL "{\"name\": \"a\", \"file\": \"a.zip\", \"size\": 1, \"sha256\": \"" SHA "\"}"

Test(release, versions_compare_as_dotted_integers)
{
    cr_expect_gt(lu_version_compare("1.10.0", "1.9.3"), 0);
    cr_expect_lt(lu_version_compare("1.9.3", "1.10.0"), 0);
    cr_expect_eq(lu_version_compare("1.2", "1.2.0"), 0);
    cr_expect_eq(lu_version_compare("1.02", "1.2"), 0);
    cr_expect_gt(lu_version_compare("2", "1.99.99"), 0);
    cr_expect_gt(lu_version_compare("1.0.0.1", "1.0"), 0);
    cr_expect_gt(lu_version_compare("1.123456789012345678901234567890", "1.99999999999999999999"), 0);
    cr_expect_gt(lu_version_compare("1.2.0-rc2", "1.2.0-rc1"), 0);   /* non-numeric: byte-wise */
    cr_expect_eq(lu_version_compare("3.1", "3.1"), 0);
    cr_expect(lu_version_valid("1.4.0") && lu_version_valid("2024.06.01-b") && lu_version_valid("1+build.5"));
    cr_expect(!lu_version_valid("") && !lu_version_valid("1 2") && !lu_version_valid("1/2") && !lu_version_valid(NULL));
}

Test(release, a_full_document_parses)
{
    const char *doc = "{\"version\": \"1.4.0\", \"min_version\": \"1.2.0\", \"prefer_local_from\": \"1.3.0\","
                      " \"mandatory\": true, \"volumes\": ["
                      "{\"name\": \"forest\", \"url\": \"https://cdn.example.com/r/forest.zip?sig=1\", \"size\": 12,"
                      " \"sha256\": \"" SHA "\", \"priority\": 20},"
                      "{\"name\": \"castle\", \"file\": \"castle.zip\", \"size\": 0, \"sha256\": \"" SHA "\"}]}";
    lu_release *r;
    lu_error err;
    cr_assert_eq(lu_release_parse(doc, strlen(doc), &r, &err), LU_OK, "%s", err.message);
    cr_expect_str_eq(r->version, "1.4.0");
    cr_expect_str_eq(r->min_version, "1.2.0");
    cr_expect_str_eq(r->prefer_local_from, "1.3.0");
    cr_expect(r->mandatory);
    cr_assert_eq(r->nvolumes, 2);
    cr_expect_str_eq(r->volumes[0].file, "forest.zip");
    cr_expect_str_eq(r->volumes[0].url, "https://cdn.example.com/r/forest.zip?sig=1");
    cr_expect_eq(r->volumes[0].priority, 20);
    cr_expect_eq(r->volumes[0].size, 12);
    cr_expect_null(r->volumes[1].url);
    cr_expect_eq(r->volumes[1].priority, 10);
    lu_release_free(r);
}

Test(release, bad_documents_name_the_field)
{
    static const struct {
        const char *doc, *want;
    } cases[] = {
        {"[]", "not a JSON object"},
        {"{\"volumes\": []}", "'version' must be"},
        {"{\"version\": \"1 0\", \"volumes\": []}", "'version' must be"},
        {"{\"version\": \"1\", \"volumes\": {}}", "'volumes' must be an array"},
        {"{\"version\": \"1\", \"volumes\": [], \"min_version\": 3}", "'min_version' must be"},
        {"{\"version\": \"1\", \"volumes\": [{\"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\"}]}", "volumes[0] needs a valid 'name'"},
        {"{\"version\": \"1\", \"volumes\": [{\"name\": \"_x\", \"url\": \"u\", \"size\": 1, \"sha256\": \"" SHA "\"}]}", "volumes[0] needs a valid 'name'"},
        {"{\"version\": \"1\", \"volumes\": [{\"name\": \"a\", \"size\": 1, \"sha256\": \"" SHA "\"}]}", "needs 'url' or 'file'"},
        {"{\"version\": \"1\", \"volumes\": [{\"name\": \"a\", \"file\": \"../a.zip\", \"size\": 1, \"sha256\": \"" SHA "\"}]}", "not a plain file name"},
        {"{\"version\": \"1\", \"volumes\": [{\"name\": \"a\", \"file\": \"a.zip\", \"size\": 1, \"sha256\": \"abc\"}]}", "64-hex 'sha256'"},
        {"{\"version\": \"1\", \"volumes\": [{\"name\": \"a\", \"file\": \"a.zip\", \"size\": -1, \"sha256\": \"" SHA "\"}]}", "whole 'size'"},
        {"{\"version\": \"1\", \"volumes\": [{\"name\": \"a\", \"file\": \"a.zip\", \"size\": 1.5, \"sha256\": \"" SHA "\"}]}", "whole 'size'"},
        {"{\"version\": \"1\", \"volumes\": [{\"name\": \"a\", \"file\": \"a.zip\", \"size\": 1, \"sha256\": \"" SHA "\", \"priority\": -2}]}", "'priority'"},
        {"{\"version\": \"1\", \"volumes\": [{\"name\": \"a\", \"file\": \"a.zip\", \"size\": 1, \"sha256\": \"" SHA "\"},"
         "{\"name\": \"a\", \"file\": \"b.zip\", \"size\": 1, \"sha256\": \"" SHA "\"}]}", "listed twice"},
        /* a release claims a version: it needs content, a floor below it, a sane binary range */
        {"{\"version\": \"1\", \"volumes\": []}", "'volumes' is empty"},
        {"{\"version\": \"1.2\", \"min_version\": \"1.10\", \"volumes\": [" VOL "]}", "'min_version' 1.10 is above 'version' 1.2"},
        {"{\"version\": \"1\", \"binary\": 3, \"volumes\": [" VOL "]}", "'binary' must be"},
        {"{\"version\": \"1\", \"binary\": {\"min\": \"2\", \"max\": \"1.5\"}, \"volumes\": [" VOL "]}", "min 2 is above max 1.5"},
        {"{\"version\": \"1\", \"binary\": {\"min\": \"x y\"}, \"volumes\": [" VOL "]}", "'min' must be a version"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        lu_release *r = (lu_release *)1;
        lu_error err;
        cr_expect_eq(lu_release_parse(cases[i].doc, strlen(cases[i].doc), &r, &err), LU_FORMAT_ERROR, "case %zu", i);
        cr_expect_null(r, "case %zu", i);
        cr_expect(strstr(err.message, cases[i].want) != NULL, "case %zu: '%s' lacks '%s'", i, err.message, cases[i].want);
    }
}

Test(release, the_binary_range_parses)
{
    const char *docs[] = {"{\"version\": \"1.4\", \"binary\": {\"min\": \"1.0\", \"max\": \"1.9\"}, \"volumes\": [" VOL "]}",
                          "{\"version\": \"1.4\", \"binary\": \"1.2\", \"volumes\": [" VOL "]}",
                          "{\"version\": \"1.4\", \"binary\": {\"max\": \"3\"}, \"volumes\": [" VOL "]}",
                          "{\"version\": \"1.4\", \"volumes\": [" VOL "]}"};
    const char *want[][2] = {{"1.0", "1.9"}, {"1.2", "1.2"}, {NULL, "3"}, {NULL, NULL}};
    for (int i = 0; i < 4; i++) {
        lu_release *r;
        lu_error err;
        cr_assert_eq(lu_release_parse(docs[i], strlen(docs[i]), &r, &err), LU_OK, "%d: %s", i, err.message);
        if (want[i][0]) cr_expect_str_eq(r->binary_min, want[i][0]);
        else cr_expect_null(r->binary_min);
        if (want[i][1]) cr_expect_str_eq(r->binary_max, want[i][1]);
        else cr_expect_null(r->binary_max);
        lu_release_free(r);
    }
}
