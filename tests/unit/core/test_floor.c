/* test_floor.c -- the version floor (docs/FORMATS.md): a volume below the
 * context's minimum_version is never mounted at run time, by lu_mount_add
 * or lu_mount_add_async, whatever its version file says or lacks; the
 * mounts file stays as it was; what start-up restores is left to pruning;
 * a minimum of 0 changes nothing. */
#include "helpers.h"

static char *save, *vols;

static void setup(void)
{
    save = th_tempdir();
    vols = th_tempdir();
}

TestSuite(floor, .init = setup);

static lu_context *open_min(long long minimum, int prune)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    cfg.minimum_version = minimum;
    cfg.prune_stale = prune;
    lu_context *ctx;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    return ctx;
}

/* A zip in `vols` holding a.txt and, when `body` is non-NULL,
 * version_<vname>.json with that body. */
static char *volume(const char *file, const char *vname, const char *body)
{
    char vfile[96];
    snprintf(vfile, sizeof vfile, "version_%s.json", vname);
    char *path = th_path(vols, file);
    if (body) th_make_zip(path, (const char *[]){"a.txt", file, vfile, body, NULL});
    else th_make_zip(path, (const char *[]){"a.txt", file, NULL});
    return path;
}

static lu_status add(lu_context *ctx, const char *name, const char *path, unsigned flags, lu_error *err)
{
    char uri[PATH_MAX + 8];
    snprintf(uri, sizeof uri, "zip:%s", path);
    return lu_mount_add(ctx, name, uri, 1, flags, err);
}

Test(floor, a_volume_below_the_minimum_is_refused_and_nothing_changes)
{
    char *cur = volume("cur.zip", "cur", "{\"version\": 3}");
    lu_context *ctx = open_min(2, 0);
    lu_error err;
    cr_assert_eq(add(ctx, "cur", cur, 0, &err), LU_OK, "%s", err.message);
    char *mounts_path = th_path(save, "liveupdate.mounts");
    char *before = th_read_file(mounts_path, NULL);
    cr_assert_not_null(before);

    struct {
        const char *name, *body, *says;
    } cases[] = {
        {"old", "{\"version\": 1}", "volume 'old' is version 1, below the game's minimum 2"},
        {"none", NULL, "volume 'none': the volume has no /version_none.json, so it counts as below the game's minimum 2"},
        {"bad", "{\"version\": \"2\"}", "/version_bad.json is not {\"version\": <integer>}"},
        {"neg", "{\"version\": -5}", "volume 'neg' is version -5, below the game's minimum 2"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char file[32];
        snprintf(file, sizeof file, "%s.zip", cases[i].name);
        char *p = volume(file, cases[i].name, cases[i].body);
        err.status = LU_OK;
        cr_assert_eq(add(ctx, cases[i].name, p, 0, &err), LU_VERSION_MISMATCH, "%s", cases[i].name);
        cr_assert_eq(err.status, LU_VERSION_MISMATCH);
        cr_assert(strstr(err.message, cases[i].says), "%s", err.message);
        cr_assert(strstr(err.message, "not added"), "%s", err.message);
    }
    /* a volume's version file answers for its own name only */
    cr_assert_eq(add(ctx, "other", cur, 0, &err), LU_VERSION_MISMATCH);
    cr_assert(strstr(err.message, "no /version_other.json"), "%s", err.message);
    /* replacing a current mount with an old volume keeps the current one */
    char *old = th_path(vols, "old.zip");
    cr_assert_eq(add(ctx, "cur", old, LU_MOUNT_REPLACE, &err), LU_VERSION_MISMATCH);
    cr_assert_str_eq(th_read(ctx, "/a.txt"), "cur.zip");
    /* the internal flag bits are not the caller's to pass */
    cr_assert_eq(add(ctx, "old", old, 0xffffffffu & ~LU_MOUNT_REPLACE, &err), LU_VERSION_MISMATCH);

    cr_assert_eq(th_mount_count(ctx), 1, "nothing was mounted");
    cr_assert_str_eq(th_read_file(mounts_path, NULL), before, "the mounts file is unchanged");
    lu_context_close(ctx);
}

Test(floor, volumes_at_and_above_the_minimum_mount)
{
    char *at = volume("at.zip", "at", "{\"version\": 2}");
    char *above = volume("above.zip", "above", "{\"version\": 7}");
    lu_context *ctx = open_min(2, 0);
    lu_error err;
    cr_assert_eq(add(ctx, "at", at, 0, &err), LU_OK, "%s", err.message);
    cr_assert_eq(add(ctx, "above", above, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    cr_assert_eq(th_mount_count(ctx), 2);
    lu_context_close(ctx);
}

Test(floor, a_minimum_of_zero_changes_nothing)
{
    char *none = volume("none.zip", "none", NULL);
    char *old = volume("old.zip", "old", "{\"version\": 1}");
    char *neg = volume("neg.zip", "neg", "{\"version\": -3}");
    lu_context *ctx = open_min(0, 0);
    lu_error err;
    cr_assert_eq(add(ctx, "none", none, 0, &err), LU_OK, "%s", err.message);
    cr_assert_eq(add(ctx, "old", old, 0, &err), LU_OK, "%s", err.message);
    cr_assert_eq(add(ctx, "neg", neg, 0, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_version_floor_check(ctx, "x", -100, &err), LU_OK);
    lu_context_close(ctx);
}

typedef struct seen {
    int calls;
    lu_error err;
} seen;

static void on_done(void *ud, const char *name, const char *uri, const lu_error *err)
{
    (void)name;
    (void)uri;
    seen *s = ud;
    s->calls++;
    s->err = *err;
}

Test(floor, asynchronous_adds_are_held_to_the_floor_too)
{
    char *old = volume("old.zip", "old", "{\"version\": 1}");
    char *cur = volume("cur.zip", "cur", "{\"version\": 2}");
    lu_context *ctx = open_min(2, 0);
    seen a = {0}, b = {0};
    lu_error err;
    char uri[PATH_MAX + 8];
    snprintf(uri, sizeof uri, "zip:%s", old);
    cr_assert_eq(lu_mount_add_async(ctx, "old", uri, 1, 0, on_done, &a, &err), LU_OK, "queued");
    snprintf(uri, sizeof uri, "zip:%s", cur);
    cr_assert_eq(lu_mount_add_async(ctx, "cur", uri, 1, 0, on_done, &b, &err), LU_OK);
    for (int i = 0; i < 60000 && (!a.calls || !b.calls); i++) {   /* a hang guard, not a speed bar */
        lu_update(ctx);
        usleep(1000);
    }
    cr_assert_eq(a.calls, 1);
    cr_assert_eq(a.err.status, LU_VERSION_MISMATCH);
    cr_assert(strstr(a.err.message, "volume 'old' is version 1, below the game's minimum 2"), "%s", a.err.message);
    cr_assert_eq(b.calls, 1);
    cr_assert_eq(b.err.status, LU_OK, "%s", b.err.message);
    cr_assert_eq(th_mount_count(ctx), 1);
    lu_context_close(ctx);
}

Test(floor, restored_mounts_are_left_to_pruning)
{
    char *old = volume("old.zip", "old", "{\"version\": 1}");
    lu_context *ctx = open_min(0, 0);
    lu_error err;
    cr_assert_eq(add(ctx, "old", old, 0, &err), LU_OK, "%s", err.message);
    lu_context_close(ctx);
    /* without prune_stale the game judges its volumes itself (Defold's
     * manual): the persisted mount comes back, nothing is reported */
    ctx = open_min(2, 0);
    cr_assert_eq(th_mount_count(ctx), 1);
    cr_assert_eq(lu_startup_report_count(ctx), 0);
    lu_context_close(ctx);
    /* with it, the same rule prunes it */
    ctx = open_min(2, 1);
    cr_assert_eq(th_mount_count(ctx), 0);
    lu_report_item it;
    cr_assert_eq(lu_startup_report_get(ctx, 0, &it), LU_OK);
    cr_assert_str_eq(it.action, "pruned");
    lu_context_close(ctx);
}

Test(floor, a_known_version_is_checked_before_the_volume_exists)
{
    lu_context *ctx = open_min(2, 0);
    lu_error err;
    cr_assert_eq(lu_version_floor_check(ctx, "forest", 2, &err), LU_OK);
    cr_assert_eq(lu_version_floor_check(ctx, "forest", 9, &err), LU_OK);
    cr_assert_eq(lu_version_floor_check(ctx, "forest", 1, &err), LU_VERSION_MISMATCH);
    cr_assert_str_eq(err.message, "volume 'forest' is version 1, below the game's minimum 2");
    cr_assert_eq(lu_version_floor_check(NULL, "forest", 1, &err), LU_NOT_INITIALIZED);
    lu_context_close(ctx);
}
