/* test_manifest_missing.c -- lu_manifest_missing over nested proxies: the
 * answer (order, each path once) and the work, counted (never timed):
 * each proxy visited once through cycles and diamonds, one lu_exists per
 * resource of a visited proxy, one lookup per nested id; and proxy
 * lookups through the manifest's index after parse, overlay and a
 * project build.
 */
#include "helpers.h"
#include "liveupdate/manifest.h"
#include "liveupdate/project.h"
#include "../../engine/content/project_internal.h"

/* A cycle (a -> b -> d -> b, b -> a), a diamond (a -> b -> d, a -> c -> d),
 * an unknown id, ids in every accepted form, resources shared between
 * proxies. /a2 and /c1 are mounted. */
static const char GRAPH[] =
    "{\"resources\": [], \"proxies\": ["
    "{\"id\": \"a\", \"collection\": \"/a1\", \"resources\": [\"/a1\", \"/shared\", \"/a2\"], \"proxies\": [\"#b\", \"main:/loader#c\"]},"
    "{\"id\": \"b\", \"collection\": \"/b1\", \"resources\": [\"/b1\", \"/shared\"], \"proxies\": [\"d\", \"a\"]},"
    "{\"id\": \"c\", \"collection\": \"/c1\", \"resources\": [\"/c1\"], \"proxies\": [\"d\"]},"
    "{\"id\": \"d\", \"collection\": \"/d1\", \"resources\": [\"/d1\", \"/a1\"], \"proxies\": [\"b\", \"nope\"]}]}";

static lu_context *graph_context(void)
{
    char *dir = th_tempdir(), *zip = th_path(dir, "present.zip"), uri[PATH_MAX + 8];
    th_make_zip(zip, (const char *const[]){"a2", "x", "c1", "x", NULL});
    lu_context *ctx = th_open(th_path(dir, "save"), NULL);
    lu_error err;
    snprintf(uri, sizeof uri, "zip:%s", zip);
    cr_assert_eq(lu_mount_add(ctx, "present", uri, 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    return ctx;
}

static lu_manifest *parse(const char *json)
{
    lu_manifest *m = NULL;
    lu_error err;
    cr_assert_eq(lu_manifest_parse(json, strlen(json), &m, &err), LU_OK, "%s", err.message);
    return m;
}

static void expect_paths(char **got, size_t n, const char *const *want, size_t nwant)
{
    cr_assert_eq(n, nwant, "%zu paths, expected %zu", n, nwant);
    for (size_t i = 0; i < n; i++) cr_expect_str_eq(got[i], want[i], "path %zu", i);
    cr_expect_null(got[n]);
}

Test(manifest_missing, cycle_and_diamond_each_proxy_once_in_order)
{
    lu_context *ctx = graph_context();
    lu_manifest *m = parse(GRAPH);
    char **got;
    size_t n;
    lu_error err;
    lu__missing_work w = {0};
    cr_assert_eq(lu__manifest_missing_counted(ctx, m, "#a", 1, &got, &n, &w, &err), LU_OK, "%s", err.message);
    /* depth first in the order listed: a, b, d (b and a seen, nope unknown), c (d seen) */
    expect_paths(got, n, (const char *const[]){"/a1", "/shared", "/b1", "/d1"}, 4);
    cr_expect_eq(w.proxies, 4);
    cr_expect_eq(w.checks, 3 + 2 + 2 + 1);   /* every resource of every proxy, once */
    cr_expect_eq(w.lookups, 2 + 2 + 1 + 2);  /* every nested id, once */
    lu_free(ctx, got);

    /* without the index (a manifest built by hand): ids looked up by
     * scanning, the same answer and the same visits */
    struct lu__proxy_index *ix = m->proxy_index;
    cr_assert_not_null(ix);
    m->proxy_index = NULL;
    w = (lu__missing_work){0};
    cr_assert_eq(lu__manifest_missing_counted(ctx, m, "#a", 1, &got, &n, &w, &err), LU_OK, "%s", err.message);
    expect_paths(got, n, (const char *const[]){"/a1", "/shared", "/b1", "/d1"}, 4);
    cr_expect_eq(w.proxies, 4);
    cr_expect_eq(w.checks, 8);
    lu_free(ctx, got);
    m->proxy_index = ix;

    /* from another root of the cycle: d, b, a, c */
    w = (lu__missing_work){0};
    cr_assert_eq(lu__manifest_missing_counted(ctx, m, "d", 1, &got, &n, &w, &err), LU_OK, "%s", err.message);
    expect_paths(got, n, (const char *const[]){"/d1", "/a1", "/b1", "/shared"}, 4);
    cr_expect_eq(w.proxies, 4);
    lu_free(ctx, got);

    /* not recursive: the proxy's own, no lookups */
    w = (lu__missing_work){0};
    cr_assert_eq(lu__manifest_missing_counted(ctx, m, "a", 0, &got, &n, &w, &err), LU_OK, "%s", err.message);
    expect_paths(got, n, (const char *const[]){"/a1", "/shared"}, 2);
    cr_expect_eq(w.proxies, 1);
    cr_expect_eq(w.checks, 3);
    cr_expect_eq(w.lookups, 0);
    lu_free(ctx, got);

    cr_expect_eq(lu_manifest_missing(ctx, m, "nope", 1, &got, &n, &err), LU_NOT_FOUND);
    cr_expect_null(got);
    lu_manifest_free(m);
    lu_context_close(ctx);
}

/* 2,000 proxies, each nesting every one of the first 8 and its successor
 * (a chain 2,000 deep plus 16,000 edges back): the work stays one visit a
 * proxy, one check a resource, one lookup a nested id. */
Test(manifest_missing, deep_chain_with_back_edges_is_linear)
{
    enum { N = 2000, R = 3, BACK = 8 };
    size_t cap = (size_t)N * 400, len = 0;
    char *json = malloc(cap);
    cr_assert_not_null(json);
    len += (size_t)snprintf(json + len, cap - len, "{\"resources\": [], \"proxies\": [");
    for (int k = 0; k < N; k++) {
        len += (size_t)snprintf(json + len, cap - len, "%s{\"id\": \"p%d\", \"collection\": \"/r/%d/0\", \"resources\": [",
                                k ? "," : "", k, k);
        for (int j = 0; j < R; j++) len += (size_t)snprintf(json + len, cap - len, "%s\"/r/%d/%d\"", j ? "," : "", k, j);
        len += (size_t)snprintf(json + len, cap - len, "], \"proxies\": [");
        for (int j = 0; j < BACK; j++) len += (size_t)snprintf(json + len, cap - len, "\"p%d\",", j);
        len += (size_t)snprintf(json + len, cap - len, "\"p%d\"]}", (k + 1) % N);
    }
    len += (size_t)snprintf(json + len, cap - len, "]}");
    cr_assert_lt(len, cap);
    lu_context *ctx = graph_context();
    lu_manifest *m = parse(json);
    free(json);
    char **got;
    size_t n;
    lu_error err;
    lu__missing_work w = {0};
    cr_assert_eq(lu__manifest_missing_counted(ctx, m, "p0", 1, &got, &n, &w, &err), LU_OK, "%s", err.message);
    cr_expect_eq(n, (size_t)N * R);
    cr_expect_str_eq(got[0], "/r/0/0");
    cr_expect_str_eq(got[R], "/r/1/0");            /* then the chain, in order */
    cr_expect_str_eq(got[n - 1], "/r/1999/2");
    cr_expect_eq(w.proxies, N);
    cr_expect_eq(w.checks, (uint64_t)N * R);
    cr_expect_eq(w.lookups, (uint64_t)N * (BACK + 1));
    lu_free(ctx, got);
    lu_manifest_free(m);
    lu_context_close(ctx);
}

/* lu_manifest_find_proxy: the first of an id, in every form, and the index
 * follows an overlay (a replaced proxy, an added one) and a project build. */
Test(manifest_missing, find_proxy_through_the_index)
{
    lu_manifest *m = parse("{\"resources\": [], \"proxies\": ["
                           "{\"id\": \"x\", \"collection\": \"/1\", \"resources\": [\"/first\"]},"
                           "{\"id\": \"x\", \"collection\": \"/2\", \"resources\": [\"/second\"]},"
                           "{\"id\": \"y\", \"collection\": \"/3\"}]}");
    cr_assert_not_null(m->proxy_index);
    cr_expect_str_eq(lu_manifest_find_proxy(m, "x")->collection, "/1");
    cr_expect_str_eq(lu_manifest_find_proxy(m, "main:/go#y")->collection, "/3");
    cr_expect_null(lu_manifest_find_proxy(m, "z"));
    cr_expect_null(lu_manifest_find_proxy(m, "#"));
    lu_error err;
    cr_assert_eq(lu_manifest_overlay(m, parse("{\"resources\": [], \"proxies\": ["
                                              "{\"id\": \"y\", \"collection\": \"/new-y\"},"
                                              "{\"id\": \"z\", \"collection\": \"/z\"}]}"),
                                     &err),
                 LU_OK, "%s", err.message);
    cr_expect_str_eq(lu_manifest_find_proxy(m, "y")->collection, "/new-y");
    cr_expect_str_eq(lu_manifest_find_proxy(m, "#z")->collection, "/z");
    cr_expect_str_eq(lu_manifest_find_proxy(m, "x")->collection, "/1");
    lu_manifest_free(m);

    /* an overlay that changes a proxy's nesting: the resolved edges follow */
    lu_context *ctx = graph_context();
    m = parse(GRAPH);
    cr_assert_eq(lu_manifest_overlay(m, parse("{\"resources\": [], \"proxies\": ["
                                              "{\"id\": \"a\", \"collection\": \"/a1\", \"resources\": [\"/a1\"], \"proxies\": [\"e\"]},"
                                              "{\"id\": \"e\", \"collection\": \"/e1\", \"resources\": [\"/e1\"], \"proxies\": [\"c\"]}]}"),
                                     &err),
                 LU_OK, "%s", err.message);
    char **got;
    size_t n;
    cr_assert_eq(lu_manifest_missing(ctx, m, "a", 1, &got, &n, &err), LU_OK, "%s", err.message);
    expect_paths(got, n, (const char *const[]){"/a1", "/e1", "/d1", "/b1", "/shared"}, 5);   /* a, e, c, d, b */
    lu_free(ctx, got);
    lu_manifest_free(m);
    lu_context_close(ctx);

    /* a manifest built by hand has no index: lookups scan, with the same answers */
    lu_manifest_proxy px[2] = {{.id = "p", .collection = "/p"}, {.id = "q", .collection = "/q"}};
    lu_manifest hand = {.proxies = px, .nproxies = 2};
    cr_expect_eq(lu_manifest_find_proxy(&hand, "#q"), &px[1]);
    cr_expect_null(lu_manifest_find_proxy(&hand, "r"));

    lu_project *p = NULL;
    const char ini[] = "[proxy.level1]\ncollection = /level1.collection\n";
    cr_assert_eq(lu_project_parse("game.project", ini, sizeof ini - 1, &p, &err), LU_OK, "%s", err.message);
    char *paths[] = {"/level1.collection"};
    lu_manifest *built = NULL;
    cr_assert_eq(lu_manifest_from_project(p, paths, NULL, 1, &built, &err), LU_OK, "%s", err.message);
    cr_expect_not_null(built->proxy_index);
    cr_expect_str_eq(lu_manifest_find_proxy(built, "main:/loader#level1")->id, "level1");
    lu_manifest_free(built);
    lu_project_free(p);
}
