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

/* ---- the version file under faults: pruning and the version floor ------ */

static char *vsave, *vzip, *vuri;

/* A save dir with volumes/v.zip (version 5, with /version_v.json)
 * mounted as "v". */
static void make_versioned(void)
{
    vsave = th_tempdir();
    char *vols = th_path(vsave, "volumes");
    cr_assert_eq(mkdir(vols, 0755), 0);
    vzip = th_path(vols, "v.zip");
    th_make_zip(vzip, (const char *[]){"version_v.json", "{\"version\": 5}", "v.txt", "v", NULL});
    vuri = "zip:volumes/v.zip";
}

static lu_context *open_versioned(const lu_allocator *alloc, const lu_io_hooks *io, int prune, lu_error *err)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = vsave;
    cfg.allocator = alloc;
    cfg.io = io;
    cfg.prune_stale = prune;
    cfg.minimum_version = 3;
    lu_context *ctx = NULL;
    lu_status st = lu_context_open(&cfg, &ctx, err);
    if (st != LU_OK) cr_assert(err->message[0], "a failure has a message");
    return ctx;
}

/* Pruning at open with allocation or I/O call N failing: volume v (version
 * 5, above the minimum 3) is never pruned and its file never deleted. A
 * version file that could not be parsed for want of memory used to count
 * as unreadable, so the volume was pruned and deleted. */
static void prune_loop(bool alloc, int mode)
{
    make_versioned();
    lu_error err;
    lu_context *ctx = open_versioned(NULL, NULL, 0, &err);
    cr_assert_eq(lu_mount_add(ctx, "v", vuri, 1, 0, &err), LU_OK, "%s", err.message);
    lu_context_close(ctx);
    lu_io_hooks io = faults_io();
    fail_errno = EIO;
    cJSON_Hooks hooks = {f_cjson_malloc, free};
    if (alloc) cJSON_InitHooks(&hooks);
    long n;
    for (n = 1; n < 10000; n++) {
        faults_arm(n, mode);
        ctx = open_versioned(alloc ? &faults_allocator : NULL, alloc ? NULL : &io, 1, &err);
        faults_disarm();
        bool ok = ctx != NULL;
        if (ctx) lu_context_close(ctx);
        cr_assert(th_exists(vzip), "fault %ld: a current volume was deleted by pruning", n);
        ctx = open_versioned(NULL, NULL, 1, &err);
        cr_assert_not_null(ctx, "fault %ld: %s", n, err.message);
        cr_assert_str_eq(th_read(ctx, "/v.txt"), "v", "fault %ld: a current volume was pruned", n);
        cr_assert_eq(lu_startup_report_count(ctx), 0, "fault %ld", n);
        lu_context_close(ctx);
        if (ok && !faults_reached()) break;
    }
    cJSON_InitHooks(NULL);
    cr_log_info("pruning at open, %s %s faults: %ld points, each survived", alloc ? "allocation" : "I/O",
                fault_mode_names[mode], n - 1);
    cr_assert_gt(n, alloc ? 20 : 2);
}

Test(faults, pruning_never_removes_a_current_volume_for_a_failed_allocation, .timeout = 300)
{
    prune_loop(true, FAULT_TRANSIENT);
}

Test(faults, pruning_never_removes_a_current_volume_when_allocation_stays_failed, .timeout = 300)
{
    prune_loop(true, FAULT_PERSISTENT);
}

Test(faults, pruning_never_removes_a_current_volume_for_an_io_failure, .timeout = 300)
{
    prune_loop(false, FAULT_PERSISTENT);
}

/* lu_mount_add under the version floor, allocation N failing: it mounts v
 * (version 5, minimum 3) or fails without calling it below the minimum. */
static void floor_loop(int mode)
{
    make_versioned();
    cJSON_Hooks hooks = {f_cjson_malloc, free};
    cJSON_InitHooks(&hooks);
    long n;
    for (n = 1; n < 10000; n++) {
        lu_error err;
        lu_context *ctx = open_versioned(&faults_allocator, NULL, 0, &err);
        faults_arm(n, mode);
        lu_status st = lu_mount_add(ctx, "v", vuri, 1, 0, &err);
        faults_disarm();
        if (st != LU_OK) {
            cr_assert(err.message[0], "fault %ld: no message", n);
            cr_assert_neq(st, LU_VERSION_MISMATCH, "fault %ld: a volume above the minimum was refused: %s", n, err.message);
        }
        lu_context_close(ctx);
        ctx = open_versioned(NULL, NULL, 0, &err);
        cr_assert_eq(th_mount_count(ctx), st == LU_OK ? 1u : 0u, "fault %ld: the mounts file disagrees with the answer", n);
        lu_mount_remove(ctx, "v", &err);
        lu_context_close(ctx);
        if (st == LU_OK && !faults_reached()) break;
    }
    cJSON_InitHooks(NULL);
    cr_log_info("version floor at mount add, %s allocation faults: %ld points, each survived", fault_mode_names[mode], n - 1);
    cr_assert_gt(n, 10);
}

Test(faults, the_version_floor_never_refuses_a_current_volume_for_a_failed_allocation, .timeout = 300)
{
    floor_loop(FAULT_TRANSIENT);
}

Test(faults, the_version_floor_never_refuses_a_current_volume_when_allocation_stays_failed, .timeout = 300)
{
    floor_loop(FAULT_PERSISTENT);
}

/* ---- lu_io_hooks: a NULL field is the POSIX call ----------------------- */

static _Atomic long mkdirs_seen, unlinks_seen;
static int count_mkdir(void *ud, const char *p, int mode)
{
    (void)ud;
    mkdirs_seen++;
    return mkdir(p, (mode_t)mode);
}
static int count_unlink(void *ud, const char *p)
{
    (void)ud;
    unlinks_seen++;
    return unlink(p);
}

/* Hooks set only in part (the six of the first version, or just mkdir and
 * unlink) work; the folders the library creates and the files it deletes
 * go through mkdir and unlink. */
Test(faults, io_hooks_set_in_part_use_the_posix_calls_for_the_rest)
{
    lu_io_hooks first_six = {.open = f_open, .read = f_read, .write = f_write, .fsync = f_fsync, .rename = f_rename,
                             .close = f_close, .ud = NULL};
    lu_io_hooks only_new = {0};
    only_new.mkdir = count_mkdir;
    only_new.unlink = count_unlink;
    const lu_io_hooks *sets[] = {&first_six, &only_new};
    for (int i = 0; i < 2; i++) {
        char *dir = th_path(th_tempdir(), "save/nested");
        lu_config cfg;
        lu_config_init(&cfg);
        cfg.save_dir = dir;
        cfg.io = sets[i];
        lu_context *ctx = NULL;
        lu_error err;
        cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "set %d: %s", i, err.message);
        cr_assert_eq(lu_mount_add(ctx, "a", uri_a, 1, 0, &err), LU_OK, "set %d: %s", i, err.message);
        char path[PATH_MAX];
        cr_assert_eq(lu_volume_path(ctx, "x.zip", path, sizeof path, &err), LU_OK);   /* creates volumes/ */
        lu_context_close(ctx);
        ctx = th_open(dir, NULL);
        cr_assert_eq(th_mount_count(ctx), 1);
        lu_context_close(ctx);
    }
    cr_assert_geq(mkdirs_seen, 3, "save, save/nested and volumes/ are made through the mkdir hook (%ld)", (long)mkdirs_seen);
    /* a failed write removes its temporary file through the unlink hook */
    lu_io_hooks failing = {0};
    failing.fsync = f_fsync;
    failing.unlink = count_unlink;
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    cfg.io = &failing;
    lu_context *ctx = NULL;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    unlinks_seen = 0;
    fail_errno = EIO;
    faults_arm(1, FAULT_PERSISTENT);
    cr_assert_neq(lu_mount_add(ctx, "b", uri_b, 2, 0, &err), LU_OK);
    faults_disarm();
    cr_assert_geq(unlinks_seen, 1, "the temporary file is removed through the unlink hook");
    cr_assert(!th_exists(th_path(save, "liveupdate.mounts.tmp")));
    lu_context_close(ctx);
}
