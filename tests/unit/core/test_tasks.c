/* test_tasks.c -- lu_task_async (work on the context's worker, in queue
 * order with asynchronous adds, its completion from lu_update with a copy
 * of the caller's argument block; nothing runs after a close) and the
 * save-directory files (lu_save_file_write / _copy / _path: durable, the
 * folders created, bad relative paths refused, nothing left on failure). */
#include <pthread.h>

#include "helpers.h"

static char *save;

static void setup(void)
{
    save = th_tempdir();
}

TestSuite(tasks, .init = setup);

typedef struct rec {
    int worker_saw_mount;   /* the work ran after the add queued before it */
    pthread_t worker;
    char text[32];
} rec;

static lu_status work(lu_context *ctx, void *arg, lu_error *err)
{
    rec *r = arg;
    r->worker = pthread_self();
    r->worker_saw_mount = lu_exists(ctx, "/a.txt");
    if (strcmp(r->text, "fail") == 0) {
        err->status = LU_IO_ERROR;
        snprintf(err->message, sizeof err->message, "failed on purpose");
        return LU_IO_ERROR;
    }
    snprintf(r->text, sizeof r->text, "done");
    return LU_OK;
}

typedef struct seen {
    int calls;
    lu_status status;
    char text[32], message[64];
    pthread_t worker;
} seen;

static void done(void *ud, void *arg, const lu_error *err)
{
    seen *s = ud;
    const rec *r = arg;
    s->calls++;
    s->status = err->status;
    snprintf(s->text, sizeof s->text, "%s", r ? r->text : "");
    snprintf(s->message, sizeof s->message, "%.63s", err->message);
    if (r) s->worker = r->worker;
}

static void mount_done(void *ud, const char *name, const char *uri, const lu_error *err)
{
    (void)ud, (void)name, (void)uri, (void)err;
}

static int drain(lu_context *ctx, const seen *s, int want)
{
    for (int i = 0; i < 60000 && s->calls < want; i++) {   /* a hang guard, not a speed bar */
        lu_update(ctx);
        usleep(1000);
    }
    return s->calls;
}

Test(tasks, work_runs_on_the_worker_after_earlier_adds_and_done_gets_its_copy)
{
    char *zip = th_path(save, "v.zip");
    th_make_zip(zip, (const char *[]){"a.txt", "A", NULL});
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    char uri[PATH_MAX + 8];
    snprintf(uri, sizeof uri, "zip:%s", zip);
    cr_assert_eq(lu_mount_add_async(ctx, "v", uri, 1, 0, mount_done, NULL, &err), LU_OK, "%s", err.message);
    rec r = {0};
    snprintf(r.text, sizeof r.text, "start");
    seen s = {0};
    cr_assert_eq(lu_task_async(ctx, work, &r, sizeof r, done, &s, &err), LU_OK, "%s", err.message);
    snprintf(r.text, sizeof r.text, "changed");   /* the task has its own copy */
    cr_assert_eq(drain(ctx, &s, 1), 1);
    cr_assert_eq(s.status, LU_OK);
    cr_assert_str_eq(s.text, "done");
    cr_assert_str_eq(s.message, "");
    cr_assert(!pthread_equal(s.worker, pthread_self()), "the work ran on the worker");
    /* the add queued first was done when the work ran */
    lu_update(ctx);
    cr_assert(lu_exists(ctx, "/a.txt"));
    lu_context_close(ctx);
}

Test(tasks, a_failing_work_reaches_done_with_its_status_and_message)
{
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    rec r = {0};
    snprintf(r.text, sizeof r.text, "fail");
    seen s = {0};
    cr_assert_eq(lu_task_async(ctx, work, &r, sizeof r, done, &s, &err), LU_OK);
    cr_assert_eq(drain(ctx, &s, 1), 1);
    cr_assert_eq(s.status, LU_IO_ERROR);
    cr_assert_str_eq(s.message, "failed on purpose");
    lu_context_close(ctx);
}

Test(tasks, no_work_only_defers_done_and_a_close_drops_it)
{
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    seen s = {0};
    cr_assert_eq(lu_task_async(ctx, NULL, NULL, 0, done, &s, &err), LU_OK);
    cr_assert_eq(s.calls, 0, "never from the call itself");
    cr_assert_eq(drain(ctx, &s, 1), 1);
    cr_assert_eq(s.status, LU_OK);
    cr_assert_eq(lu_task_async(ctx, NULL, NULL, 0, NULL, NULL, &err), LU_OK);   /* no completion at all */
    for (int i = 0; i < 20; i++) lu_update(ctx);
    seen never = {0};
    cr_assert_eq(lu_task_async(ctx, NULL, "x", 2, done, &never, &err), LU_OK);
    lu_context_close(ctx);   /* queued, undelivered: dropped (and freed: ASan) */
    cr_assert_eq(never.calls, 0);
    cr_assert_eq(lu_task_async(NULL, NULL, NULL, 0, done, &s, &err), LU_NOT_INITIALIZED);
}

Test(tasks, save_files_are_written_and_copied_durably_under_the_save_directory)
{
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(lu_save_file_write(ctx, "legacy/level1/a.txt", "hello", 5, &err), LU_OK, "%s", err.message);
    char *a = th_path(save, "legacy/level1/a.txt");
    size_t len;
    char *text = th_read_file(a, &len);
    cr_assert_eq(len, 5);
    cr_assert_eq(memcmp(text, "hello", 5), 0);
    cr_assert_eq(lu_save_file_write(ctx, "legacy/level1/a.txt", "again", 5, &err), LU_OK);   /* over the old one */
    cr_assert_str_eq(th_read_file(a, NULL), "again");
    cr_assert_eq(lu_save_file_copy(ctx, a, "volumes/copy.txt", &err), LU_OK, "%s", err.message);
    cr_assert_str_eq(th_read_file(th_path(save, "volumes/copy.txt"), NULL), "again");
    cr_assert(th_exists(a), "the source stays");
    cr_assert(!th_exists(th_path(save, "volumes/copy.txt.tmp")));
    char path[PATH_MAX];
    cr_assert_eq(lu_save_file_path(ctx, "legacy/x", path, sizeof path, &err), LU_OK);
    cr_assert_str_eq(path, th_path(save, "legacy/x"));
    lu_context_close(ctx);
}

Test(tasks, bad_save_paths_are_refused_and_a_failed_copy_leaves_nothing)
{
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    const char *bad[] = {"", "../escape.txt", "a/../../b", "/abs", "a//b", "a/./b", NULL};
    for (int i = 0; bad[i]; i++)
        cr_assert_eq(lu_save_file_write(ctx, bad[i], "x", 1, &err), LU_INVAL, "'%s'", bad[i]);
    cr_assert_eq(lu_save_file_copy(ctx, th_path(save, "absent"), "volumes/c.txt", &err), LU_NOT_FOUND);
    cr_assert(!th_exists(th_path(save, "volumes/c.txt")));
    cr_assert(!th_exists(th_path(save, "volumes/c.txt.tmp")));
    lu_context_close(ctx);
    lu_config cfg;   /* no save directory */
    lu_config_init(&cfg);
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK);
    cr_assert_eq(lu_save_file_write(ctx, "a.txt", "x", 1, &err), LU_INVAL);
    cr_assert_eq(lu_save_file_write(NULL, "a.txt", "x", 1, &err), LU_NOT_INITIALIZED);
    lu_context_close(ctx);
}
