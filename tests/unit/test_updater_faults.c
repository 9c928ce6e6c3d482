/* test_updater_faults.c -- the update state survives a failed allocation.
 *
 * A release staged by an earlier run is applied when the update manager
 * opens, and goes on trial: state.json must say "trial" so that the next
 * start, if the game never confirmed, rolls it back. Here allocation number
 * N (the library's allocator and cJSON's, one counter) fails during that
 * open, for every N. After each, two more starts without confirm() must end
 * on the old content with the release recorded as rolled back, and no start
 * may serve the release without it being on trial. Before the state writer
 * checked its cJSON calls, a failure while adding "trial" wrote a state
 * without it, and the release was kept as if confirmed.
 */
#include <cjson/cJSON.h>

#include "faults.h"
#include "helpers.h"
#include "liveupdate/updater.h"

static const char *base_zip, *release_zip;

static void setup(void)
{
    char *dir = th_tempdir();
    base_zip = th_path(dir, "base.zip");
    release_zip = th_path(dir, "content-1.1.zip");
    th_make_zip(base_zip, (const char *[]){"x.txt", "old", NULL});
    th_make_zip(release_zip, (const char *[]){"x.txt", "new", NULL});
}

TestSuite(updater_faults, .init = setup);

/* A save directory where an earlier run staged release 1.1 (one volume,
 * "content", which replaces /x.txt). */

static lu_context *open_context(const char *save, const lu_allocator *alloc)
{
    char base[PATH_MAX + 8];
    snprintf(base, sizeof base, "zip:%s", base_zip);
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    cfg.base_uri = base;
    cfg.allocator = alloc;
    lu_context *ctx = NULL;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "open: %s", err.message);
    return ctx;
}

static lu_status open_updater(lu_context *ctx, lu_error *err)
{
    lu_updater_config ucfg;
    lu_updater_config_init(&ucfg);
    ucfg.local_version = "1.0";
    return lu_updater_open(ctx, &ucfg, err);
}

/* What a start sees: true when it serves release 1.1's /x.txt. Checks
 * that it never does so outside a trial. */
static bool serves_release(lu_context *ctx, bool updater_open, long n, int start)
{
    bool fresh = strcmp(th_read(ctx, "/x.txt"), "new") == 0;
    if (!fresh || !updater_open) return fresh;
    lu_updater_info info;
    lu_error err;
    cr_assert_eq(lu_updater_get_info(ctx, &info, &err), LU_OK);
    cr_assert_str_eq(info.current, "1.1", "fault %ld, start %d: 1.1 is mounted but the state says %s", n, start,
                     info.current);
    cr_assert(info.on_trial, "fault %ld, start %d: release 1.1 is served but not on trial (it would never roll back)",
              n, start);
    return fresh;
}

Test(updater_faults, a_failed_allocation_never_confirms_a_trial, .timeout = 300)
{
    lu_allocator alloc = {f_realloc, f_free, NULL};
    cJSON_Hooks hooks = {f_cjson_malloc, free};
    cJSON_InitHooks(&hooks);   /* test process only: cJSON's hooks are global */
    long n;
    for (n = 1; n < 100000; n++) {
        char *save = th_staged_save_dir(release_zip);
        lu_error err = {LU_OK, ""};

        /* start 1: the staged release is applied while allocation n fails */
        lu_context *ctx = open_context(save, &alloc);
        counter = 0;
        fail_at = n;
        lu_status st = open_updater(ctx, &err);
        long used = counter;
        fail_at = 0;
        if (st != LU_OK) cr_assert(err.message[0], "fault %ld: a failure has a message", n);
        bool ever = serves_release(ctx, st == LU_OK, n, 1);
        lu_context_close(ctx);   /* the game stops without confirm() */

        /* starts 2 and 3: no faults, no confirm() */
        for (int start = 2; start <= 3; start++) {
            ctx = open_context(save, NULL);
            cr_assert_eq(open_updater(ctx, &err), LU_OK, "fault %ld, start %d: %s", n, start, err.message);
            ever |= serves_release(ctx, true, n, start);
            if (start == 3) {
                lu_updater_info info;
                cr_assert_eq(lu_updater_get_info(ctx, &info, &err), LU_OK);
                cr_assert_str_eq(th_read(ctx, "/x.txt"), "old", "fault %ld: release 1.1 was never rolled back", n);
                cr_assert_str_eq(info.current, "1.0", "fault %ld", n);
                if (ever)
                    cr_assert(info.rollback_version && strcmp(info.rollback_version, "1.1") == 0,
                              "fault %ld: 1.1 was served and is not recorded as rolled back", n);
            }
            lu_context_close(ctx);
        }
        if (st == LU_OK && used < n) break;   /* ran to the end without reaching the fault */
    }
    cJSON_InitHooks(NULL);
    cr_log_info("update state allocation faults: %ld points, each rolled back", n - 1);
    cr_assert_gt(n, 20, "opening the update manager allocates");
}

/* The start that must roll a release back fails allocation number N (the
 * library's and cJSON's). Reading state.json is part of that start: when
 * cJSON ran out of memory there, the good state used to be moved aside as
 * corrupt, the trial forgotten, and release 1.1 kept mounted for good. Now
 * the open fails and leaves the state as it was; the next start rolls back. */
Test(updater_faults, a_failed_allocation_never_skips_a_rollback, .timeout = 300)
{
    lu_allocator alloc = {f_realloc, f_free, NULL};
    cJSON_Hooks hooks = {f_cjson_malloc, free};
    cJSON_InitHooks(&hooks);
    long n;
    for (n = 1; n < 100000; n++) {
        char *save = th_staged_save_dir(release_zip);
        lu_error err = {LU_OK, ""};
        /* start 1: the staged release is applied and goes on trial; no confirm() */
        lu_context *ctx = open_context(save, NULL);
        cr_assert_eq(open_updater(ctx, &err), LU_OK, "%s", err.message);
        cr_assert(serves_release(ctx, true, n, 1));
        lu_context_close(ctx);
        /* start 2: the rollback, with allocation n failing */
        ctx = open_context(save, &alloc);
        counter = 0;
        fail_at = n;
        lu_status st = open_updater(ctx, &err);
        long used = counter;
        fail_at = 0;
        if (st != LU_OK) cr_assert(err.message[0], "fault %ld: a failure has a message", n);
        if (st == LU_OK) cr_assert_str_eq(th_read(ctx, "/x.txt"), "old", "fault %ld: start 2 did not roll back", n);
        else serves_release(ctx, false, n, 2);
        lu_context_close(ctx);
        /* start 3: no faults; 1.1 is gone and recorded as rolled back */
        ctx = open_context(save, NULL);
        cr_assert_eq(open_updater(ctx, &err), LU_OK, "fault %ld, start 3: %s", n, err.message);
        lu_updater_info info;
        cr_assert_eq(lu_updater_get_info(ctx, &info, &err), LU_OK);
        cr_assert_str_eq(th_read(ctx, "/x.txt"), "old", "fault %ld: release 1.1 was never rolled back", n);
        cr_assert(info.rollback_version && strcmp(info.rollback_version, "1.1") == 0,
                  "fault %ld: 1.1 is not recorded as rolled back", n);
        lu_context_close(ctx);
        if (st == LU_OK && used < n) break;
    }
    cJSON_InitHooks(NULL);
    cr_log_info("rollback allocation faults: %ld points, each rolled back", n - 1);
    cr_assert_gt(n, 10, "a rollback allocates");
}
