/* test_faults.c -- fault injection by counter, the SQLite way (faults.h):
 * allocation number 1, 2, 3 ... fails, then file-system call number 1, 2,
 * 3 ... fails, each in the transient mode (that call only) and the
 * persistent one (every call from N on), through opening a context, adding
 * and removing mounts, lu_mounts_apply and persisting. After each, the call
 * returns an error with a message (no crash; under ASan, no leak) and a
 * reopen finds a table the sequence passes through.
 */
#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>

#include "faults.h"
#include "helpers.h"

static char *save, *uri_a, *uri_b;

static void setup(void)
{
    save = th_tempdir();
    char *vols = th_tempdir(), *a = th_path(vols, "a.zip"), *b = th_path(vols, "b.zip");
    th_make_zip(a, (const char *[]){"x.txt", "A", NULL});
    th_make_zip(b, (const char *[]){"x.txt", "B", NULL});
    uri_a = malloc(strlen(a) + 5);
    uri_b = malloc(strlen(b) + 5);
    sprintf(uri_a, "zip:%s", a);
    sprintf(uri_b, "zip:%s", b);
    TH_KEEP(uri_a);
    TH_KEEP(uri_b);
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "a", uri_a, 1, 0, &err), LU_OK);
    lu_context_close(ctx);
}

TestSuite(faults, .init = setup);

/* The operation under test: open, add b, remove a, then in one change
 * (lu_mounts_apply) add a back and remove b. Returns true when every step
 * succeeded. */
static bool operation(const lu_allocator *alloc, const lu_io_hooks *io)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    cfg.allocator = alloc;
    cfg.io = io;
    lu_context *ctx = NULL;
    lu_error err;
    long saved_fail_at = fail_at;
    fail_at = 0;   /* reading the file for the check below is not a counted call */
    char *before = th_read_file(th_path(save, "liveupdate.mounts"), NULL);
    fail_at = saved_fail_at;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) {
        cr_assert_null(ctx);
        cr_assert(err.message[0], "a failure has a message");
        /* a failed open leaves the mounts file exactly as it was: a fault
         * while reading it is no reason to move it aside */
        fail_at = 0;
        char *after = th_read_file(th_path(save, "liveupdate.mounts"), NULL);
        cr_assert(after && strcmp(before, after) == 0, "fault %ld: a failed open changed the mounts file (%s)",
                  saved_fail_at, err.message);
        free(after);
        free(before);
        return false;
    }
    free(before);
    bool ok = lu_mount_add(ctx, "b", uri_b, 2, 0, &err) == LU_OK;
    if (ok) ok = lu_mount_remove(ctx, "a", &err) == LU_OK;
    if (ok) {
        lu_mount_spec back = {"a", uri_a, 3};
        const char *gone[] = {"b"};
        ok = lu_mounts_apply(ctx, &back, 1, gone, 1, &err) == LU_OK;
    }
    if (!ok) cr_assert(err.message[0], "a failure has a message");
    ok = ok && lu_startup_report_count(ctx) == 0;
    lu_context_close(ctx);
    return ok;
}

/* After a run: the table is {a}, {a,b} or {b}; the file is never corrupt. */
static void check_table(long n)
{
    fail_at = 0;
    lu_context *ctx = th_open(save, NULL);
    cr_assert_eq(lu_startup_report_count(ctx), 0, "fault %ld: reopen found a problem", n);
    lu_mount_info *m;
    size_t cnt;
    lu_error err;
    lu_mounts_get(ctx, &m, &cnt, &err);
    bool a = false, b = false;
    for (size_t i = 0; i < cnt; i++) {
        a |= strcmp(m[i].name, "a") == 0;
        b |= strcmp(m[i].name, "b") == 0;
    }
    lu_free(ctx, m);
    cr_assert(cnt >= 1 && cnt <= 2 && (a || b), "fault %ld: table has %zu mounts", n, cnt);
    lu_context_close(ctx);
}

/* Restores the starting table {a}. */
static void reset(void)
{
    fail_at = 0;
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    lu_mount_remove(ctx, "b", &err);
    lu_mount_add(ctx, "a", uri_a, 1, 0, &err);
    lu_context_close(ctx);
}

static void alloc_loop(int mode)
{
    cJSON_Hooks hooks = {f_cjson_malloc, free};
    cJSON_InitHooks(&hooks);   /* test process only: cJSON's hooks are global */
    long n;
    for (n = 1; n < 100000; n++) {
        faults_arm(n, mode);
        bool ok = operation(&faults_allocator, NULL);
        faults_disarm();
        check_table(n);
        if (ok && !faults_reached()) break;   /* ran to the end without reaching the fault */
        reset();
    }
    cJSON_InitHooks(NULL);
    cr_log_info("%s allocation faults: %ld points, each survived", fault_mode_names[mode], n - 1);
    cr_assert_gt(n, 20, "the operation allocates");
}

Test(faults, every_allocation_failure_is_survived, .timeout = 300)
{
    alloc_loop(FAULT_TRANSIENT);
}

Test(faults, every_persistent_allocation_failure_is_survived, .timeout = 300)
{
    alloc_loop(FAULT_PERSISTENT);
}

static void io_loop(int err_no, int mode)
{
    lu_io_hooks io = faults_io();
    fail_errno = err_no;
    long n;
    for (n = 1; n < 10000; n++) {
        faults_arm(n, mode);
        bool ok = operation(NULL, &io);
        faults_disarm();
        check_table(n);
        if (ok && !faults_reached()) break;
        reset();
    }
    cr_log_info("%s %s faults: %ld points, each survived", fault_mode_names[mode], err_no == EIO ? "EIO" : "ENOSPC", n - 1);
    cr_assert_gt(n, 8, "the operation does file-system calls");
}

Test(faults, every_io_failure_is_survived, .timeout = 300)
{
    io_loop(EIO, FAULT_TRANSIENT);
}

Test(faults, every_disk_full_is_survived, .timeout = 300)
{
    io_loop(ENOSPC, FAULT_TRANSIENT);
}

Test(faults, every_persistent_io_failure_is_survived, .timeout = 300)
{
    io_loop(EIO, FAULT_PERSISTENT);
}

Test(faults, a_disk_that_stays_full_is_survived, .timeout = 300)
{
    io_loop(ENOSPC, FAULT_PERSISTENT);
}

static void *cjson_no_memory(size_t n)
{
    (void)n;
    return NULL;
}

/* cJSON runs out of memory parsing a good mounts file: the open fails with
 * LU_MEM_ERROR, the file is not moved aside, and the next open has it all.
 * (cJSON answers NULL for bad syntax and for no memory alike; the file used
 * to be moved aside as corrupt and every mount lost.) */
Test(faults, a_mounts_file_cjson_cannot_parse_for_memory_is_kept)
{
    char *before = th_read_file(th_path(save, "liveupdate.mounts"), NULL);
    cJSON_Hooks hooks = {cjson_no_memory, free};
    cJSON_InitHooks(&hooks);
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    lu_context *ctx = NULL;
    lu_error err;
    lu_status st = lu_context_open(&cfg, &ctx, &err);
    cJSON_InitHooks(NULL);
    cr_assert_eq(st, LU_MEM_ERROR, "open: %d %s", st, st ? err.message : "");
    cr_expect(strstr(err.message, "kept as it was") && strstr(err.message, "liveupdate.mounts"), "%s", err.message);
    char *after = th_read_file(th_path(save, "liveupdate.mounts"), NULL);
    cr_assert_str_eq(after, before);
    free(after);
    free(before);
    check_table(0);
    ctx = th_open(save, NULL);
    cr_expect_str_eq(th_read(ctx, "/x.txt"), "A");
    lu_context_close(ctx);
}
