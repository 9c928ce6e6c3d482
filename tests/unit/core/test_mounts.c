/* test_mounts.c -- the mount table (docs/ARCHITECTURE.md) and lookups (docs/FORMATS.md). */
#include <pthread.h>

#include "helpers.h"

static char *save;
static char *vols;

static void setup(void)
{
    save = th_tempdir();
    vols = th_tempdir();
}

TestSuite(mounts, .init = setup);

/* Makes <vols>/<file> with entries (name, content, ..., NULL). */
static char *zip_at(const char *file, const char *const *entries)
{
    char *p = th_path(vols, file);
    th_make_zip(p, entries);
    return p;
}

static char *uri_of(const char *scheme, const char *path)
{
    char *u = malloc(strlen(scheme) + strlen(path) + 2);
    TH_KEEP(u);
    sprintf(u, "%s:%s", scheme, path);
    return u;
}

static lu_status add(lu_context *ctx, const char *name, const char *uri, int prio, unsigned flags,
                     lu_error *err)
{
    return lu_mount_add(ctx, name, uri, prio, flags, err);
}

Test(mounts, higher_priority_serves_and_tie_goes_to_latest)
{
    char *a = zip_at("a.zip", (const char *[]){"x.txt", "from a", "only_a.txt", "A", NULL});
    char *b = zip_at("b.zip", (const char *[]){"x.txt", "from b", NULL});
    char *c = zip_at("c.zip", (const char *[]){"x.txt", "from c", NULL});
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(add(ctx, "a", uri_of("zip", a), 5, 0, &err), LU_OK, "%s", err.message);
    cr_assert_eq(add(ctx, "b", uri_of("zip", b), 10, 0, &err), LU_OK, "%s", err.message);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "from b");
    cr_assert_eq(add(ctx, "c", uri_of("zip", c), 10, 0, &err), LU_OK, "%s", err.message);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "from c", "equal priority: latest added wins");
    cr_assert_str_eq(th_read(ctx, "/only_a.txt"), "A");
    lu_stat_info si;
    cr_assert_eq(lu_stat(ctx, "/x.txt", &si, &err), LU_OK);
    cr_assert_str_eq(si.mount, "c");
    cr_assert_eq(si.size, 6);
    lu_mount_info *m;
    size_t n;
    cr_assert_eq(lu_mounts_get(ctx, &m, &n, &err), LU_OK);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(m[0].name, "c");
    cr_assert_str_eq(m[1].name, "b");
    cr_assert_str_eq(m[2].name, "a");
    cr_assert_eq(m[2].priority, 5);
    cr_assert_str_eq(m[2].format, "zip");
    cr_assert_eq(m[2].entries, 2);
    lu_free(ctx, m);
    cr_assert_eq(lu_mount_remove(ctx, "c", &err), LU_OK);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "from b", "removal takes effect at once");
    cr_assert_eq(lu_mount_remove(ctx, "b", &err), LU_OK);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "from a");
    lu_context_close(ctx);
}

Test(mounts, builtin_mounts_are_below_user_mounts_and_reserved)
{
    char *base = zip_at("base.zip", (const char *[]){"x.txt", "base", "b.txt", "only base", NULL});
    char *u = zip_at("u.zip", (const char *[]){"x.txt", "user", NULL});
    lu_context *ctx = th_open(save, uri_of("zip", base));
    lu_error err;
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "base");
    cr_assert_eq(add(ctx, "u", uri_of("zip", u), 0, 0, &err), LU_OK, "%s", err.message);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "user", "priority 0 beats _base at -10");
    cr_assert_str_eq(th_read(ctx, "/b.txt"), "only base");
    cr_assert_eq(add(ctx, "_mine", uri_of("zip", u), 1, 0, &err), LU_INVAL);
    cr_assert(strstr(err.message, "reserved"), "%s", err.message);
    cr_assert_eq(lu_mount_remove(ctx, "_base", &err), LU_INVAL);
    cr_assert(strstr(err.message, "built in"), "%s", err.message);
    cr_assert_eq(add(ctx, "neg", uri_of("zip", u), -1, 0, &err), LU_INVAL);
    cr_assert(strstr(err.message, "negative"), "%s", err.message);
    lu_mount_info *m;
    size_t n;
    cr_assert_eq(lu_mounts_get(ctx, &m, &n, &err), LU_OK);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(m[1].name, "_base");
    cr_assert_eq(m[1].priority, -10);
    lu_free(ctx, m);
    lu_context_close(ctx);
}

Test(mounts, name_rules)
{
    lu_error err;
    cr_assert_eq(lu_mount_name_check("level-1.v2_x", &err), LU_OK);
    cr_assert_eq(lu_mount_name_check("", &err), LU_INVAL);
    cr_assert_eq(lu_mount_name_check("a/b", &err), LU_INVAL);
    cr_assert_eq(lu_mount_name_check("sp ace", &err), LU_INVAL);
    char long_name[66];
    memset(long_name, 'a', 65);
    long_name[65] = 0;
    cr_assert_eq(lu_mount_name_check(long_name, &err), LU_INVAL);
    long_name[64] = 0;
    cr_assert_eq(lu_mount_name_check(long_name, &err), LU_OK);
}

Test(mounts, duplicate_name_fails_unless_replace)
{
    char *a = zip_at("a.zip", (const char *[]){"x.txt", "one", NULL});
    char *b = zip_at("b.zip", (const char *[]){"x.txt", "two", NULL});
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(add(ctx, "lvl", uri_of("zip", a), 1, 0, &err), LU_OK);
    cr_assert_eq(add(ctx, "lvl", uri_of("zip", b), 1, 0, &err), LU_NAME_EXISTS);
    cr_assert(strstr(err.message, "lvl"), "%s", err.message);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "one");
    /* replace with a broken volume: the old one stays */
    cr_assert_eq(add(ctx, "lvl", "zip:/nonexistent/x.zip", 1, LU_MOUNT_REPLACE, &err), LU_NOT_FOUND);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "one");
    cr_assert_eq(add(ctx, "lvl", uri_of("zip", b), 3, LU_MOUNT_REPLACE, &err), LU_OK, "%s", err.message);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "two");
    cr_assert_eq(th_mount_count(ctx), 1);
    lu_context_close(ctx);
}

/* Defold 1.13 scripts add their mounts again at every start: the same
 * name, URI (absolute or save-relative spelling) and priority is LU_OK and
 * opens nothing (the volume may even be unreadable now); another priority
 * is still LU_NAME_EXISTS. */
Test(mounts, same_mount_again_is_ok_and_reopens_nothing)
{
    char *voldir = th_path(save, "volumes");
    mkdir(voldir, 0755);
    char *zp = th_path(voldir, "pack.zip");
    th_make_zip(zp, (const char *[]){"p.txt", "pack", NULL});
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(add(ctx, "pack", uri_of("zip", zp), 2, 0, &err), LU_OK, "%s", err.message);
    char *away = th_path(save, "away.zip");
    cr_assert_eq(rename(zp, away), 0);   /* reopening would fail: LU_NOT_FOUND */
    cr_assert_eq(add(ctx, "pack", uri_of("zip", zp), 2, 0, &err), LU_OK, "%s", err.message);
    cr_assert_eq(add(ctx, "pack", "zip:volumes/pack.zip", 2, 0, &err), LU_OK, "%s", err.message);
    cr_assert_str_eq(th_read(ctx, "/p.txt"), "pack");
    cr_assert_eq(add(ctx, "pack", uri_of("zip", zp), 3, 0, &err), LU_NAME_EXISTS);
    cr_assert_eq(add(ctx, "pack", uri_of("dir", voldir), 2, 0, &err), LU_NAME_EXISTS);
    cr_assert_eq(th_mount_count(ctx), 1);
    lu_context_close(ctx);
}

typedef struct same_add {
    lu_context *ctx;
    const char *uri;
    pthread_barrier_t *gate;
    int not_ok;
} same_add;

static void *add_same(void *arg)
{
    same_add *a = arg;
    for (int i = 0; i < 200; i++) {
        lu_error err;
        pthread_barrier_wait(a->gate);
        a->not_ok += lu_mount_add(a->ctx, "p", a->uri, 5, 0, &err) != LU_OK;
        pthread_barrier_wait(a->gate);
        if (i % 2 == 0) lu_mount_remove(a->ctx, "p", &err);   /* both threads: one removes, one gets NOT_FOUND */
        pthread_barrier_wait(a->gate);
    }
    return NULL;
}

/* Two threads adding the same mount at once both get LU_OK: the second is
 * "the same mount again", also when the first won the race inside. */
Test(mounts, the_same_mount_from_two_threads_at_once)
{
    char *zp = zip_at("race.zip", (const char *[]){"r.txt", "race", NULL});
    lu_context *ctx = th_open(save, NULL);
    pthread_barrier_t gate;
    pthread_barrier_init(&gate, NULL, 2);
    same_add a = {ctx, uri_of("zip", zp), &gate, 0}, b = a;
    pthread_t ta, tb;
    pthread_create(&ta, NULL, add_same, &a);
    pthread_create(&tb, NULL, add_same, &b);
    pthread_join(ta, NULL);
    pthread_join(tb, NULL);
    pthread_barrier_destroy(&gate);
    cr_assert_eq(a.not_ok + b.not_ok, 0, "%d adds of the same mount failed", a.not_ok + b.not_ok);
    cr_assert_str_eq(th_read(ctx, "/r.txt"), "race");
    lu_context_close(ctx);
}

Test(mounts, uri_schemes_and_relative_paths)
{
    char *voldir = th_path(save, "volumes");
    mkdir(voldir, 0755);
    char *zp = th_path(voldir, "rel.zip");
    th_make_zip(zp, (const char *[]){"r.txt", "relative", NULL});
    char *d = th_path(vols, "tree");
    mkdir(d, 0755);
    char *sub = th_path(d, "sub");
    mkdir(sub, 0755);
    char *f = th_path(sub, "f.txt");
    th_write_file(f, "in dir", 6);
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(add(ctx, "rel", "zip:volumes/rel.zip", 1, 0, &err), LU_OK, "%s", err.message);
    cr_assert_str_eq(th_read(ctx, "/r.txt"), "relative");
    cr_assert_eq(add(ctx, "d", uri_of("dir", d), 1, 0, &err), LU_OK, "%s", err.message);
    cr_assert_str_eq(th_read(ctx, "/sub/f.txt"), "in dir");
    cr_assert_eq(add(ctx, "f", uri_of("file", d), 1, 0, &err), LU_OK, "%s", err.message);
    cr_assert_eq(add(ctx, "x", "http://example.com/a.zip", 1, 0, &err), LU_SCHEME_MISMATCH);
    cr_assert(strstr(err.message, "http"), "%s", err.message);
    cr_assert_eq(add(ctx, "y", "noscheme", 1, 0, &err), LU_SCHEME_MISMATCH);
    cr_assert_eq(add(ctx, "z", uri_of("zip", d), 1, 0, &err), LU_SCHEME_MISMATCH,
                 "a directory is not a zip: %s", err.message);
    cr_assert_eq(add(ctx, "w", uri_of("dir", zp), 1, 0, &err), LU_SCHEME_MISMATCH,
                 "a zip is not a directory: %s", err.message);
    cr_assert_eq(add(ctx, "m", "zip:missing.zip", 1, 0, &err), LU_NOT_FOUND);
    cr_assert(strstr(err.message, "missing.zip"), "%s", err.message);
    cr_assert_eq(th_mount_count(ctx), 3);
    lu_mount_info *m;
    size_t n;
    cr_assert_eq(lu_mounts_get(ctx, &m, &n, &err), LU_OK);
    int saw_rel = 0;
    for (size_t i = 0; i < n; i++)
        if (strcmp(m[i].name, "rel") == 0) {
            cr_assert_str_eq(m[i].uri, "zip:volumes/rel.zip");
            cr_assert_str_eq(m[i].path, zp);
            saw_rel = 1;
        }
    cr_assert(saw_rel);
    lu_free(ctx, m);
    lu_context_close(ctx);
}

Test(mounts, failure_leaves_table_and_file_unchanged)
{
    char *a = zip_at("a.zip", (const char *[]){"x.txt", "one", NULL});
    char *bad = th_path(vols, "bad.zip");
    th_write_file(bad, "PK\x03\x04 this is not really a zip", 30);
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(add(ctx, "a", uri_of("zip", a), 1, 0, &err), LU_OK);
    char *mf = th_path(save, "liveupdate.mounts");
    char *before = th_read_file(mf, NULL);
    cr_assert_eq(add(ctx, "bad", uri_of("zip", bad), 1, 0, &err), LU_FORMAT_ERROR);
    cr_assert(strstr(err.message, "bad.zip"), "%s", err.message);
    cr_assert_str_eq(th_read_file(mf, NULL), before);
    cr_assert_eq(th_mount_count(ctx), 1);
    cr_assert_eq(lu_mount_remove(ctx, "nope", &err), LU_NOT_FOUND);
    cr_assert_str_eq(th_read_file(mf, NULL), before);
    lu_context_close(ctx);
}

Test(mounts, canonical_paths_only)
{
    char *a = zip_at("a.zip", (const char *[]){"d/x.txt", "one", NULL});
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(add(ctx, "a", uri_of("zip", a), 1, 0, &err), LU_OK);
    cr_assert(lu_exists(ctx, "/d/x.txt"));
    const char *bad[] = {"d/x.txt", "/d//x.txt", "/d/./x.txt", "/d/../d/x.txt", "/d\\x.txt", "", "/"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        cr_assert_not(lu_exists(ctx, bad[i]), "'%s' must not resolve", bad[i]);
        void *data;
        size_t size;
        cr_assert_eq(lu_read(ctx, bad[i], &data, &size, &err), LU_INVAL, "'%s'", bad[i]);
    }
    cr_assert_eq(lu_path_check("/a\0b", 4, &err), LU_INVAL);
    void *data;
    size_t size;
    cr_assert_eq(lu_read(ctx, "/d/y.txt", &data, &size, &err), LU_NOT_FOUND);
    cr_assert(strstr(err.message, "/d/y.txt"), "%s", err.message);
    lu_context_close(ctx);
}

Test(mounts, list_by_prefix_serves_each_path_once)
{
    char *a = zip_at("a.zip", (const char *[]){"lvl/a.txt", "A1", "lvl/b.txt", "B1", "other/c.txt", "C", NULL});
    char *b = zip_at("b.zip", (const char *[]){"lvl/a.txt", "A2", "lvl/z.txt", "Z", NULL});
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(add(ctx, "a", uri_of("zip", a), 1, 0, &err), LU_OK);
    cr_assert_eq(add(ctx, "b", uri_of("zip", b), 2, 0, &err), LU_OK);
    char **paths;
    size_t n;
    cr_assert_eq(lu_list_paths(ctx, "/lvl/", NULL, &paths, &n, &err), LU_OK);
    cr_assert_eq(n, 3);
    cr_assert_str_eq(paths[0], "/lvl/a.txt");
    cr_assert_str_eq(paths[1], "/lvl/b.txt");
    cr_assert_str_eq(paths[2], "/lvl/z.txt");
    lu_free(ctx, paths);
    cr_assert_eq(lu_list_paths(ctx, "/", "a", &paths, &n, &err), LU_OK);
    cr_assert_eq(n, 3);
    lu_free(ctx, paths);
    cr_assert_eq(lu_list_paths(ctx, "/", "nope", &paths, &n, &err), LU_NOT_FOUND);
    cr_assert_eq(lu_list_paths(ctx, "lvl", NULL, &paths, &n, &err), LU_INVAL);
    lu_context_close(ctx);
}

Test(mounts, read_from_one_mount_ignores_the_merged_index)
{
    char *a = zip_at("a.zip", (const char *[]){"version.json", "{\"version\": 1}", NULL});
    char *b = zip_at("b.zip", (const char *[]){"version.json", "{\"version\": 2}", NULL});
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(add(ctx, "a", uri_of("zip", a), 1, 0, &err), LU_OK);
    cr_assert_eq(add(ctx, "b", uri_of("zip", b), 2, 0, &err), LU_OK);
    void *data;
    size_t size;
    cr_assert_eq(lu_read_from(ctx, "a", "/version.json", &data, &size, &err), LU_OK);
    cr_assert_str_eq(data, "{\"version\": 1}");
    lu_free(ctx, data);
    cr_assert_eq(lu_read_from(ctx, "a", "/none.json", &data, &size, &err), LU_NOT_FOUND);
    cr_assert_eq(lu_read_from(ctx, "zz", "/version.json", &data, &size, &err), LU_NOT_FOUND);
    lu_context_close(ctx);
}

Test(mounts, a_volume_replaced_on_disk_keeps_serving_what_was_mounted)
{
    char *a = zip_at("a.zip", (const char *[]){"x.txt", "original", NULL});
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(add(ctx, "a", uri_of("zip", a), 1, 0, &err), LU_OK);
    unlink(a);
    th_make_zip(a, (const char *[]){"x.txt", "replaced on disk", NULL});
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "original");
    lu_context_close(ctx);
}

static int done_calls;
static lu_status done_status;
static char done_name[80];

static void on_done(void *ud, const char *name, const char *uri, const lu_error *err)
{
    (void)uri;
    cr_assert_eq(ud, &done_calls);
    done_calls++;
    done_status = err->status;
    snprintf(done_name, sizeof done_name, "%s", name);
}

Test(mounts, async_add_completes_on_update)
{
    char *a = zip_at("a.zip", (const char *[]){"x.txt", "async", NULL});
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    done_calls = 0;
    cr_assert_eq(lu_mount_add_async(ctx, "a", uri_of("zip", a), 1, 0, on_done, &done_calls, &err), LU_OK);
    cr_assert_eq(lu_mount_add_async(ctx, "bad", "zip:/nope.zip", 1, 0, on_done, &done_calls, &err), LU_OK);
    cr_assert_eq(lu_mount_add_async(ctx, "_x", "zip:/nope.zip", 1, 0, on_done, &done_calls, &err), LU_INVAL,
                 "bad arguments fail at once");
    for (int i = 0; i < 60000 && done_calls < 2; i++) {   /* a hang guard, not a speed bar */
        lu_update(ctx);
        usleep(1000);
    }
    cr_assert_eq(done_calls, 2);
    cr_assert_str_eq(done_name, "bad");
    cr_assert_eq(done_status, LU_NOT_FOUND);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "async");
    lu_context_close(ctx);
}

Test(mounts, close_with_pending_async_work_is_safe)
{
    char *a = zip_at("a.zip", (const char *[]){"x.txt", "async", NULL});
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    done_calls = 0;
    for (int i = 0; i < 20; i++) {
        char name[16];
        snprintf(name, sizeof name, "m%d", i);
        cr_assert_eq(lu_mount_add_async(ctx, name, uri_of("zip", a), 1, LU_MOUNT_NO_PERSIST, on_done,
                                        &done_calls, &err), LU_OK);
    }
    lu_context_close(ctx);
    cr_assert_eq(done_calls, 0, "no callbacks after close");
}

Test(mounts, several_contexts_in_one_process)
{
    char *save2 = th_tempdir();
    char *a = zip_at("a.zip", (const char *[]){"x.txt", "A", NULL});
    char *b = zip_at("b.zip", (const char *[]){"x.txt", "B", NULL});
    lu_context *c1 = th_open(save, NULL), *c2 = th_open(save2, NULL);
    lu_error err;
    cr_assert_eq(add(c1, "a", uri_of("zip", a), 1, 0, &err), LU_OK);
    cr_assert_eq(add(c2, "b", uri_of("zip", b), 1, 0, &err), LU_OK);
    cr_assert_str_eq(th_read(c1, "/x.txt"), "A");
    cr_assert_str_eq(th_read(c2, "/x.txt"), "B");
    lu_context_close(c1);
    lu_context_close(c2);
}

Test(mounts, status_names)
{
    cr_assert_str_eq(lu_status_name(LU_OK), "OK");
    cr_assert_str_eq(lu_status_name(LU_NAME_EXISTS), "NAME_EXISTS");
    cr_assert_str_eq(lu_status_name(-9), "FORMAT_ERROR");
    cr_assert_str_eq(lu_status_name(12345), "UNKNOWN");
    cr_assert_eq(LU_UNSAFE_ARCHIVE, -21);
    cr_assert_eq(LU_NOT_INITIALIZED, -12);
}

Test(mounts, apply_changes_several_mounts_in_one_write_or_none)
{
    char *r1a = zip_at("r1a.zip", (const char *[]){"a.txt", "1a", "s.txt", "r1", NULL});
    char *r1b = zip_at("r1b.zip", (const char *[]){"b.txt", "1b", NULL});
    char *r2a = zip_at("r2a.zip", (const char *[]){"a.txt", "2a", "s.txt", "r2", NULL});
    char *r2c = zip_at("r2c.zip", (const char *[]){"c.txt", "2c", NULL});
    char *bad = th_path(vols, "bad.zip");
    th_write_file(bad, "not a zip at all", 16);
    lu_context *ctx = th_open(save, NULL);
    lu_error err;
    cr_assert_eq(add(ctx, "keep", uri_of("zip", zip_at("k.zip", (const char *[]){"k.txt", "k", NULL})), 1, 0, &err), LU_OK);
    lu_mount_spec r1[] = {{"a", uri_of("zip", r1a), 10}, {"b", uri_of("zip", r1b), 10}};
    cr_assert_eq(lu_mounts_apply(ctx, r1, 2, NULL, 0, &err), LU_OK, "%s", err.message);
    cr_expect_str_eq(th_read(ctx, "/s.txt"), "r1");
    cr_expect_eq(th_mount_count(ctx), 3);
    /* release 2: a is replaced, b goes, c comes; a mount not listed is skipped */
    lu_mount_spec r2[] = {{"a", uri_of("zip", r2a), 10}, {"c", uri_of("zip", r2c), 10}};
    const char *gone[] = {"b", "never-mounted"};
    char *mf = th_path(save, "liveupdate.mounts");
    /* one bad volume: nothing changes, the message names it */
    lu_mount_spec broken[] = {{"a", uri_of("zip", r2a), 10}, {"c", uri_of("zip", bad), 10}};
    char *before = th_read_file(mf, NULL);
    cr_assert_neq(lu_mounts_apply(ctx, broken, 2, gone, 2, &err), LU_OK);
    cr_expect(strstr(err.message, "mount 'c'") && strstr(err.message, "bad.zip"), "%s", err.message);
    cr_expect_str_eq(th_read_file(mf, NULL), before);
    cr_expect_str_eq(th_read(ctx, "/s.txt"), "r1");
    cr_expect(lu_exists(ctx, "/b.txt"));
    /* a repeated name is a caller mistake */
    lu_mount_spec twice[] = {{"a", uri_of("zip", r2a), 10}, {"a", uri_of("zip", r2c), 10}};
    cr_expect_eq(lu_mounts_apply(ctx, twice, 2, NULL, 0, &err), LU_INVAL);
    cr_assert_eq(lu_mounts_apply(ctx, r2, 2, gone, 2, &err), LU_OK, "%s", err.message);
    cr_expect_str_eq(th_read(ctx, "/s.txt"), "r2");
    cr_expect(!lu_exists(ctx, "/b.txt"));
    cr_expect_str_eq(th_read(ctx, "/c.txt"), "2c");
    cr_expect_str_eq(th_read(ctx, "/k.txt"), "k");
    lu_context_close(ctx);
    /* persisted as one table */
    ctx = th_open(save, NULL);
    cr_expect_eq(th_mount_count(ctx), 3);
    cr_expect_str_eq(th_read(ctx, "/a.txt"), "2a");
    cr_expect(!lu_exists(ctx, "/b.txt"));
    lu_context_close(ctx);
}
