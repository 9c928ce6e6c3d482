/* test_host_support.c -- what the library gives lurun's host modules for
 * Defold's API: lu_http_request's progress hook (http.request's
 * report_progress) and lu_project_get_bool (sys.get_config_boolean). */
#include "helpers.h"
#include "liveupdate/http.h"
#include "liveupdate/project.h"

typedef struct seen {
    int progress_calls, done_calls, progress_after_done;
    uint64_t last;
    int64_t total;
    long status;
} seen;

static void on_progress(void *ud, int id, uint64_t received, int64_t total)
{
    seen *s = ud;
    (void)id;
    s->progress_calls++;
    if (s->done_calls) s->progress_after_done++;
    cr_expect_geq(received, s->last, "progress went back from %llu to %llu", (unsigned long long)s->last,
                  (unsigned long long)received);
    s->last = received;
    s->total = total;
}

static void on_done(void *ud, const lu_http_response *res)
{
    seen *s = ud;
    s->done_calls++;
    s->status = res->status;
}

static void fetch(lu_context *ctx, const char *url, bool with_progress, seen *s)
{
    lu_http_request req;
    lu_http_request_init(&req);
    req.url = url;
    req.allow_file = 1;
    req.done = on_done;
    req.progress = with_progress ? on_progress : NULL;
    req.ud = s;
    int id;
    lu_error err;
    cr_assert_eq(lu_http_start(ctx, &req, &id, &err), LU_OK, "%s", err.message);
    for (int i = 0; i < 100000 && !s->done_calls; i++) lu_update(ctx);
    for (int i = 0; i < 10; i++) lu_update(ctx);
    cr_assert_eq(s->done_calls, 1);
}

Test(host_support, http_progress_tells_the_whole_body_before_done)
{
    char *dir = th_tempdir();
    lu_context *ctx = th_open(th_tempdir(), NULL);
    size_t size = 300 * 1024 + 7;
    char *data = TH_KEEP(malloc(size));
    memset(data, 'z', size);
    char *file = th_path(dir, "body.bin");
    th_write_file(file, data, size);
    char url[PATH_MAX + 16];
    snprintf(url, sizeof url, "file://%s", file);
    seen s = {0};
    fetch(ctx, url, true, &s);
    cr_expect_eq(s.status, 200);
    cr_expect_geq(s.progress_calls, 1, "no progress before the answer");
    cr_expect_eq(s.last, (uint64_t)size, "the last progress told %llu of %zu bytes", (unsigned long long)s.last, size);
    cr_expect_eq(s.progress_after_done, 0);
    /* without the hook nothing changes */
    seen plain = {0};
    fetch(ctx, url, false, &plain);
    cr_expect_eq(plain.status, 200);
    cr_expect_eq(plain.progress_calls, 0);
    /* an empty body is not progress */
    char *empty = th_path(dir, "empty");
    th_write_file(empty, "", 0);
    snprintf(url, sizeof url, "file://%s", empty);
    seen none = {0};
    fetch(ctx, url, true, &none);
    cr_expect_eq(none.progress_calls, 0);
    lu_context_close(ctx);
}

Test(host_support, project_booleans_as_defold_writes_them)
{
    const char *text = "[game]\non = 1\nyes = true\noff = 0\nno = false\nodd = yes\nupper = TRUE\n";
    lu_project *p;
    lu_error err;
    cr_assert_eq(lu_project_parse("game.project", text, strlen(text), &p, &err), LU_OK, "%s", err.message);
    bool v;
    cr_expect_eq(lu_project_get_bool(p, "game.on", false, &v, &err), LU_OK);
    cr_expect(v);
    cr_expect_eq(lu_project_get_bool(p, "game.yes", false, &v, &err), LU_OK);
    cr_expect(v);
    cr_expect_eq(lu_project_get_bool(p, "game.off", true, &v, &err), LU_OK);
    cr_expect(!v);
    cr_expect_eq(lu_project_get_bool(p, "game.no", true, &v, &err), LU_OK);
    cr_expect(!v);
    cr_expect_eq(lu_project_get_bool(p, "game.absent", true, &v, &err), LU_OK);
    cr_expect(v);
    cr_expect_eq(lu_project_get_bool(p, "game.odd", false, &v, &err), LU_FORMAT_ERROR);
    cr_expect_str_eq(err.message, "game.project:6: game.odd: 'yes' is not a boolean (1, 0, true or false)");
    cr_expect(!v, "the default stays on an error");
    cr_expect_eq(lu_project_get_bool(p, "game.upper", false, &v, &err), LU_FORMAT_ERROR);
    cr_assert_eq(lu_project_set(p, "game.set", "2", &err), LU_OK);
    cr_expect_eq(lu_project_get_bool(p, "game.set", false, &v, &err), LU_FORMAT_ERROR);
    cr_expect(strstr(err.message, "game.set (set on the command line): '2' is not a boolean") != NULL, "%s", err.message);
    lu_project_free(p);
}
