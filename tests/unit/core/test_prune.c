/* test_prune.c -- version-file pruning at start-up (docs/FORMATS.md) and the
 * volumes folder, and a prune that removes only the mounts it judged. */
#include "helpers.h"
#include "internal.h"

static char *save, *outside;

static void setup(void)
{
    save = th_tempdir();
    outside = th_tempdir();
    mkdir(th_path(save, "volumes"), 0755);
}

TestSuite(prune, .init = setup);

static void add(lu_context *ctx, const char *name, const char *path)
{
    char uri[PATH_MAX + 8];
    snprintf(uri, sizeof uri, "zip:%s", path);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, name, uri, 1, 0, &err), LU_OK, "%s", err.message);
}

static lu_context *reopen(int prune, long long minimum)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    cfg.prune_stale = prune;
    cfg.minimum_version = minimum;
    lu_context *ctx;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    return ctx;
}

static const lu_report_item *find_report(lu_context *ctx, const char *name, lu_report_item *it)
{
    for (size_t i = 0; i < lu_startup_report_count(ctx); i++) {
        lu_startup_report_get(ctx, i, it);
        if (strcmp(it->name, name) == 0) return it;
    }
    return NULL;
}

Test(prune, stale_volumes_are_removed_reported_and_deleted_only_inside_volumes)
{
    char *cur = th_path(th_path(save, "volumes"), "cur.zip");
    char *old = th_path(th_path(save, "volumes"), "old.zip");
    char *none = th_path(th_path(save, "volumes"), "none.zip");
    char *ext = th_path(outside, "ext.zip");
    /* "borrow" has no version file of its own, but "lender" carries one for it */
    char *borrow = th_path(th_path(save, "volumes"), "borrow.zip");
    char *lender = th_path(outside, "lender.zip");
    th_make_zip(cur, (const char *[]){"version_cur.json", "{\"version\": 3}", "a.txt", "cur", NULL});
    th_make_zip(old, (const char *[]){"version_old.json", "{\"version\": 1}", NULL});
    th_make_zip(none, (const char *[]){"x.txt", "no version file", NULL});
    th_make_zip(ext, (const char *[]){"version_ext.json", "{\"version\": 1}", NULL});
    th_make_zip(borrow, (const char *[]){"b.txt", "b", NULL});
    th_make_zip(lender, (const char *[]){"version_lender.json", "{\"version\": 5}",
                                         "version_borrow.json", "{\"version\": 5}", NULL});
    lu_context *ctx = th_open(save, NULL);
    add(ctx, "cur", cur);
    add(ctx, "old", old);
    add(ctx, "none", none);
    add(ctx, "ext", ext);
    add(ctx, "borrow", borrow);
    add(ctx, "lender", lender);
    lu_context_close(ctx);

    ctx = reopen(1, 2);
    lu_mount_info *m;
    size_t n;
    lu_error err;
    lu_mounts_get(ctx, &m, &n, &err);
    cr_assert_eq(n, 2, "only cur and lender survive");
    for (size_t i = 0; i < n; i++)
        cr_assert(strcmp(m[i].name, "cur") == 0 || strcmp(m[i].name, "lender") == 0, "%s kept", m[i].name);
    lu_free(ctx, m);
    lu_report_item it;
    cr_assert_not_null(find_report(ctx, "old", &it));
    cr_assert_str_eq(it.action, "pruned");
    cr_assert_eq(it.status, LU_VERSION_MISMATCH);
    cr_assert(strstr(it.message, "version 1 is older than the minimum 2"), "%s", it.message);
    cr_assert_not_null(find_report(ctx, "none", &it));
    cr_assert(strstr(it.message, "no /version_none.json"), "%s", it.message);
    cr_assert_not_null(find_report(ctx, "borrow", &it), "the version file of another mount does not count");
    cr_assert_not_null(find_report(ctx, "ext", &it));
    cr_assert_null(strstr(it.message, "deleted"), "files outside volumes/ are not deleted: %s", it.message);
    cr_assert_not(th_exists(old), "stale files inside volumes/ are deleted");
    cr_assert_not(th_exists(none));
    cr_assert(th_exists(ext), "a volume outside the save dir's volumes/ stays on disk");
    cr_assert(th_exists(cur));
    lu_context_close(ctx);

    ctx = reopen(0, 0);
    cr_assert_eq(th_mount_count(ctx), 2, "the pruning was persisted");
    lu_context_close(ctx);
}

Test(prune, without_prune_stale_nothing_is_removed)
{
    char *old = th_path(th_path(save, "volumes"), "old.zip");
    th_make_zip(old, (const char *[]){"version_old.json", "{\"version\": 1}", NULL});
    lu_context *ctx = th_open(save, NULL);
    add(ctx, "old", old);
    lu_context_close(ctx);
    ctx = reopen(0, 99);
    cr_assert_eq(th_mount_count(ctx), 1);
    size_t pruned = 9;
    lu_error err;
    cr_assert_eq(lu_prune_stale(ctx, 1, &pruned, &err), LU_OK);
    cr_assert_eq(pruned, 0, "version 1 is not older than 1");
    cr_assert_eq(lu_prune_stale(ctx, 2, &pruned, &err), LU_OK);
    cr_assert_eq(pruned, 1);
    cr_assert_eq(th_mount_count(ctx), 0);
    lu_context_close(ctx);
}

Test(prune, bad_version_files_count_as_stale)
{
    const char *bodies[] = {"not json", "{\"version\": \"3\"}", "{}", "[3]"};
    for (int i = 0; i < 4; i++) {
        char name[16], file[32];
        snprintf(name, sizeof name, "v%d", i);
        snprintf(file, sizeof file, "version_%s.json", name);
        char *p = th_path(outside, name);
        th_make_zip(p, (const char *[]){file, bodies[i], NULL});
        lu_context *ctx = th_open(save, NULL);
        add(ctx, name, p);
        size_t pruned;
        lu_error err;
        cr_assert_eq(lu_prune_stale(ctx, 0, &pruned, &err), LU_OK);
        cr_assert_eq(pruned, 1, "body '%s'", bodies[i]);
        lu_context_close(ctx);
    }
}

Test(prune, volume_path)
{
    lu_context *ctx = th_open(save, NULL);
    char buf[PATH_MAX];
    lu_error err;
    cr_assert_eq(lu_volume_path(ctx, "levels.zip", buf, sizeof buf, &err), LU_OK);
    cr_assert_str_eq(buf, th_path(th_path(save, "volumes"), "levels.zip"));
    cr_assert_eq(lu_volume_path(ctx, "../x.zip", buf, sizeof buf, &err), LU_INVAL);
    cr_assert_eq(lu_volume_path(ctx, "..", buf, sizeof buf, &err), LU_INVAL);
    cr_assert_eq(lu_volume_path(ctx, "a.zip", buf, 8, &err), LU_INVAL);
    lu_context_close(ctx);
}

/* A prune removes the very mount it judged: one replaced by another
 * thread between the judgement and the removal (here, by the test between
 * the two internal steps lu_prune_stale takes) stays mounted, and its
 * volume is not deleted. */
Test(prune, a_mount_replaced_after_the_judgement_is_left_as_it_is)
{
    char *old = th_path(th_path(save, "volumes"), "old.zip");
    char *fresh = th_path(th_path(save, "volumes"), "fresh.zip");
    th_make_zip(old, (const char *[]){"version_lvl.json", "{\"version\": 1}", "a.txt", "old", NULL});
    th_make_zip(fresh, (const char *[]){"version_lvl.json", "{\"version\": 7}", "a.txt", "fresh", NULL});
    lu_context *ctx = th_open(save, NULL);
    add(ctx, "lvl", old);
    lu_stale *p = NULL;
    lu_error err;
    cr_assert_eq(lu__stale_find(ctx, ctx->current->mounts, ctx->current->nmounts, 5, NULL, &p, &err), LU_OK);
    cr_assert_eq(lu__stale_count(p), 1);
    char uri[PATH_MAX + 8];
    snprintf(uri, sizeof uri, "zip:%s", fresh);
    cr_assert_eq(lu_mount_add(ctx, "lvl", uri, 1, LU_MOUNT_REPLACE, &err), LU_OK, "%s", err.message);
    bool removed[1];
    cr_assert_eq(lu__mount_remove_many(ctx, lu__stale_names(p), lu__stale_seqs(p), 1, removed, &err), LU_OK);
    cr_assert(!removed[0], "the mount judged is gone; its replacement is not the one judged");
    cr_assert_eq(lu__stale_settle(ctx, p, removed), 0);
    lu__stale_free(ctx, p);
    void *data;
    size_t size;
    cr_assert_eq(lu_read(ctx, "/a.txt", &data, &size, &err), LU_OK, "%s", err.message);
    cr_assert_eq(memcmp(data, "fresh", 5), 0);
    lu_free(ctx, data);
    cr_assert_eq(access(fresh, F_OK), 0);
    lu_context_close(ctx);
    ctx = reopen(0, 0);
    cr_assert_eq(th_mount_count(ctx), 1, "the replacement stays persisted");
    lu_context_close(ctx);
}

/* Every allocation of a prune fails in turn: each run either prunes the
 * stale mount, or fails with a message and keeps it mounted; never an
 * LU_OK that kept it. */
static long prune_fail_at = -1, prune_allocs;

static void *prune_failing_realloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    if (size && prune_fail_at >= 0 && prune_allocs++ == prune_fail_at) return NULL;
    return realloc(ptr, size);
}

static void prune_free(void *ud, void *ptr)
{
    (void)ud;
    free(ptr);
}

Test(prune, every_allocation_failing_in_turn_keeps_or_prunes_never_silently_keeps)
{
    char *old = th_path(outside, "stale.zip");
    char *keep = th_path(outside, "keep.zip");
    th_make_zip(old, (const char *[]){"version_stale.json", "{\"version\": 1}", NULL});
    th_make_zip(keep, (const char *[]){"version_keep.json", "{\"version\": 9}", NULL});
    lu_allocator al = {prune_failing_realloc, prune_free, NULL};
    bool pruned_once = false;
    for (long k = 0; k < 400; k++) {
        lu_config cfg;
        lu_config_init(&cfg);
        cfg.allocator = &al;
        lu_context *ctx;
        lu_error err;
        prune_fail_at = -1;
        cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
        char uri[PATH_MAX + 8];
        snprintf(uri, sizeof uri, "zip:%s", old);
        cr_assert_eq(lu_mount_add(ctx, "stale", uri, 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
        snprintf(uri, sizeof uri, "zip:%s", keep);
        cr_assert_eq(lu_mount_add(ctx, "keep", uri, 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
        prune_allocs = 0;
        prune_fail_at = k;
        size_t pruned = 0;
        lu_status st = lu_prune_stale(ctx, 5, &pruned, &err);
        bool failed = prune_allocs > k;   /* allocation k was reached and failed */
        prune_fail_at = -1;
        size_t count = th_mount_count(ctx);
        if (st == LU_OK) {
            cr_assert_eq(pruned, 1, "allocation %ld failed and the prune said OK", k);
            cr_assert_eq(count, 1, "allocation %ld failed: LU_OK, yet the stale mount is still mounted", k);
        } else {
            cr_assert_neq(err.message[0], '\0', "allocation %ld: a failure without a message", k);
            cr_assert(count == 1 || count == 2);
        }
        lu_context_close(ctx);
        if (!failed) {
            pruned_once = st == LU_OK;
            break;
        }
    }
    cr_assert(pruned_once, "a run with no allocation failing prunes");
}
