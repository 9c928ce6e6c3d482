/* test_batch.c -- context open and pruning as batches: open builds ONE
 * index over the built-in and every persisted mount and writes the mounts
 * file at most once (dropped and pruned mounts together); lu_prune_stale
 * removes every stale mount with one index build and one mounts-file
 * write, which comes before any volume file is deleted.
 *
 * Index builds are counted by the context's commit counter (internal.h:
 * one per table published); mounts-file writes by the renames onto
 * liveupdate.mounts seen through lu_io_hooks; the order of the write and
 * the deletions by the sequence of those calls. Work is counted, never time.
 */
#include <errno.h>

#include "helpers.h"
#include "internal.h"

#define N 24

static char *save, *vols;
static char *zpath[N];

/* Calls seen through the hooks: renames onto liveupdate.mounts and unlinks
 * of volume files, each with its place in the sequence of both. */
static struct {
    int writes, unlinks;
    int last_write, first_unlink;   /* sequence numbers; 0: none */
    int seq;
    bool fail_writes;
} seen;

static bool is_mounts_file(const char *p)
{
    const char *base = strrchr(p, '/');
    return strcmp(base ? base + 1 : p, "liveupdate.mounts") == 0;
}

static int h_rename(void *ud, const char *from, const char *to)
{
    (void)ud;
    if (is_mounts_file(to)) {
        if (seen.fail_writes) {
            errno = EIO;
            return -1;
        }
        seen.writes++;
        seen.last_write = ++seen.seq;
    }
    return rename(from, to);
}

static int h_unlink(void *ud, const char *p)
{
    (void)ud;
    if (strstr(p, ".zip")) {
        seen.unlinks++;
        if (!seen.first_unlink) seen.first_unlink = ++seen.seq;
    }
    return unlink(p);
}

static const lu_io_hooks hooks = {.rename = h_rename, .unlink = h_unlink};

static void reset_seen(void)
{
    memset(&seen, 0, sizeof seen);
}

static void setup(void)
{
    save = th_tempdir();
    vols = th_path(save, "volumes");
    mkdir(vols, 0755);
    reset_seen();
}

TestSuite(batch, .init = setup);

/* Volumes v0..v(N-1) in <save>/volumes, each with its version file (odd
 * ones version 1, even ones version 5), its own file and /same.txt naming
 * it; added with priority i % 3 and closed: the mounts file lists them. */
static void make_table(void)
{
    char name[16], file[32], vfile[32], body[32];
    lu_context *ctx = th_open(save, NULL);
    for (int i = 0; i < N; i++) {
        snprintf(name, sizeof name, "v%d", i);
        snprintf(file, sizeof file, "v%d.zip", i);
        snprintf(vfile, sizeof vfile, "version_v%d.json", i);
        snprintf(body, sizeof body, "{\"version\": %d}", i % 2 ? 1 : 5);
        zpath[i] = th_path(vols, file);
        th_make_zip(zpath[i], (const char *[]){vfile, body, "same.txt", name, "own.txt", name, NULL});
        char uri[PATH_MAX + 8];
        snprintf(uri, sizeof uri, "zip:%s", zpath[i]);
        lu_error err;
        cr_assert_eq(lu_mount_add(ctx, name, uri, i % 3, 0, &err), LU_OK, "%s", err.message);
    }
    lu_context_close(ctx);
}

static lu_context *open_with(int prune, long long minimum, const lu_allocator *alloc)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    cfg.base_uri = "zip:volumes/base.zip";
    cfg.io = &hooks;
    cfg.allocator = alloc;
    cfg.prune_stale = prune;
    cfg.minimum_version = minimum;
    th_make_zip(th_path(vols, "base.zip"), (const char *[]){"base.txt", "base", "same.txt", "base", NULL});
    lu_context *ctx = NULL;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    return ctx;
}

/* The names of the mounts in lookup order, space-separated. */
static char *table(lu_context *ctx)
{
    lu_mount_info *m;
    size_t n;
    lu_error err;
    cr_assert_eq(lu_mounts_get(ctx, &m, &n, &err), LU_OK);
    char *out = TH_KEEP(calloc(1, n * 8 + 1));
    for (size_t i = 0; i < n; i++) {
        strcat(out, m[i].name);
        if (i + 1 < n) strcat(out, " ");
    }
    lu_free(ctx, m);
    return out;
}

/* The same table as one mount at a time would make: priority descending,
 * the later add first among equals; `skip(i)` leaves v<i> out. */
static char *expected(bool (*skip)(int))
{
    char *out = TH_KEEP(calloc(1, N * 8 + 8));
    for (int p = 2; p >= 0; p--)
        for (int i = N - 1; i >= 0; i--)
            if (i % 3 == p && !(skip && skip(i))) sprintf(out + strlen(out), "v%d ", i);
    strcat(out, "_base");
    return out;
}

/* Where mount `name` is in the full table's lookup order. */
static long place(const char *name)
{
    char all[N * 8 + 16], needle[32];
    snprintf(all, sizeof all, " %s ", expected(NULL));
    snprintf(needle, sizeof needle, " %s ", name);
    const char *at = strstr(all, needle);
    cr_assert_not_null(at, "%s", name);
    return at - all;
}

static bool odd(int i)
{
    return i % 2;
}

static size_t report_count(lu_context *ctx, const char *action)
{
    size_t k = 0;
    lu_report_item it;
    for (size_t i = 0; i < lu_startup_report_count(ctx); i++) {
        lu_startup_report_get(ctx, i, &it);
        k += strcmp(it.action, action) == 0;
    }
    return k;
}

Test(batch, open_builds_one_index_over_every_persisted_mount_and_writes_nothing)
{
    make_table();
    lu_context *ctx = open_with(0, 0, NULL);
    cr_assert_eq(ctx->commits, 1, "one index build at open, built-in mount included (%llu)",
                 (unsigned long long)ctx->commits);
    cr_assert_eq(seen.writes, 0, "nothing to rewrite");
    cr_assert_str_eq(table(ctx), expected(NULL), "the order of one add at a time");
    cr_assert_str_eq(th_read(ctx, "/same.txt"), "v23", "priority 2, added last");
    cr_assert_str_eq(th_read(ctx, "/base.txt"), "base");
    cr_assert_eq(lu_startup_report_count(ctx), 0);
    lu_context_close(ctx);
}

Test(batch, dropped_mounts_are_written_out_once_with_one_index_build)
{
    make_table();
    char *before = th_read_file(th_path(save, "liveupdate.mounts"), NULL);
    for (int i = 1; i < N; i += 2) unlink(zpath[i]);
    lu_context *ctx = open_with(0, 0, NULL);
    cr_assert_eq(ctx->commits, 1);
    cr_assert_eq(seen.writes, 1, "one rewrite for %d dropped mounts (%d)", N / 2, seen.writes);
    cr_assert_eq(report_count(ctx, "dropped"), N / 2);
    cr_assert_str_eq(table(ctx), expected(odd));
    lu_context_close(ctx);
    char *after = th_read_file(th_path(save, "liveupdate.mounts"), NULL);
    cr_assert_str_neq(after, before);
    cr_assert_null(strstr(after, "\"v1\""), "%s", after);
    reset_seen();
    ctx = open_with(0, 0, NULL);
    cr_assert_eq(seen.writes, 0, "the rewritten file drops nothing more");
    cr_assert_str_eq(table(ctx), expected(odd));
    lu_context_close(ctx);
}

Test(batch, pruning_at_open_is_one_index_build_and_one_write_before_any_delete)
{
    make_table();
    unlink(zpath[0]);   /* dropped as well: the same single write */
    lu_context *ctx = open_with(1, 2, NULL);
    cr_assert_eq(ctx->commits, 1, "stale mounts never enter the index (%llu builds)",
                 (unsigned long long)ctx->commits);
    cr_assert_eq(seen.writes, 1, "%d writes", seen.writes);
    cr_assert_eq(seen.unlinks, N / 2, "every stale volume file deleted");
    cr_assert_lt(seen.last_write, seen.first_unlink, "the mounts file is written before a volume is deleted");
    cr_assert_eq(report_count(ctx, "pruned"), N / 2);
    cr_assert_eq(report_count(ctx, "dropped"), 1);
    bool (*skip)(int) = odd;
    char *want = expected(skip);
    /* v0 was dropped */
    char *v0 = strstr(want, "v0 ");
    memmove(v0, v0 + 3, strlen(v0 + 3) + 1);
    cr_assert_str_eq(table(ctx), want);
    /* the report lists the pruned ones in lookup order, as the table did */
    lu_report_item it;
    const char *last = NULL;
    for (size_t i = 0; i < lu_startup_report_count(ctx); i++) {
        lu_startup_report_get(ctx, i, &it);
        if (strcmp(it.action, "pruned") != 0) continue;
        cr_assert(strstr(it.message, "version 1 is older than the minimum 2") && strstr(it.message, "deleted"), "%s",
                  it.message);
        if (last) cr_assert_lt(place(last), place(it.name), "%s reported after %s", it.name, last);
        last = TH_KEEP(strdup(it.name));
    }
    for (int i = 1; i < N; i += 2) cr_assert_not(th_exists(zpath[i]));
    lu_context_close(ctx);
    reset_seen();
    ctx = open_with(1, 2, NULL);
    cr_assert_eq(seen.writes, 0, "the pruning was persisted");
    cr_assert_eq(lu_startup_report_count(ctx), 0);
    lu_context_close(ctx);
}

Test(batch, a_failed_write_at_open_prunes_nothing_and_deletes_nothing)
{
    make_table();
    seen.fail_writes = true;
    lu_context *ctx = open_with(1, 2, NULL);
    cr_assert_eq(seen.unlinks, 0);
    cr_assert_eq(report_count(ctx, "pruned"), 0);
    cr_assert_str_eq(table(ctx), expected(NULL), "the stale mounts stay mounted");
    for (int i = 0; i < N; i++) cr_assert(th_exists(zpath[i]));
    lu_context_close(ctx);
}

Test(batch, prune_stale_removes_every_stale_mount_with_one_build_and_one_write)
{
    make_table();
    lu_context *ctx = open_with(0, 0, NULL);
    uint64_t builds = ctx->commits;
    size_t pruned = 0;
    lu_error err;
    cr_assert_eq(lu_prune_stale(ctx, 2, &pruned, &err), LU_OK, "%s", err.message);
    cr_assert_eq(pruned, N / 2);
    cr_assert_eq(ctx->commits - builds, 1, "%llu builds for %d removals",
                 (unsigned long long)(ctx->commits - builds), N / 2);
    cr_assert_eq(seen.writes, 1, "%d mounts-file writes", seen.writes);
    cr_assert_eq(seen.unlinks, N / 2);
    cr_assert_lt(seen.last_write, seen.first_unlink, "the mounts file is written before a volume is deleted");
    cr_assert_str_eq(table(ctx), expected(odd));
    cr_assert_eq(report_count(ctx, "pruned"), N / 2);
    /* nothing stale left: no build, no write */
    builds = ctx->commits;
    cr_assert_eq(lu_prune_stale(ctx, 2, &pruned, &err), LU_OK);
    cr_assert_eq(pruned, 0);
    cr_assert_eq(ctx->commits, builds);
    cr_assert_eq(seen.writes, 1);
    lu_context_close(ctx);
    ctx = th_open(save, NULL);
    cr_assert_eq(th_mount_count(ctx), N / 2, "the removal was persisted");
    lu_context_close(ctx);
}

Test(batch, a_prune_whose_write_fails_removes_and_deletes_nothing)
{
    make_table();
    lu_context *ctx = open_with(0, 0, NULL);
    char *before = th_read_file(th_path(save, "liveupdate.mounts"), NULL);
    seen.fail_writes = true;
    size_t pruned = 9;
    lu_error err;
    cr_assert_eq(lu_prune_stale(ctx, 2, &pruned, &err), LU_IO_ERROR);
    cr_assert(strstr(err.message, "pruning 'v") && strstr(err.message, "more"), "%s", err.message);
    cr_assert_eq(pruned, 0);
    cr_assert_eq(seen.unlinks, 0);
    cr_assert_str_eq(table(ctx), expected(NULL));
    cr_assert_str_eq(th_read_file(th_path(save, "liveupdate.mounts"), NULL), before);
    lu_context_close(ctx);
}

/* An allocator that refuses the next block of index buckets (a slab: a
 * whole number of buckets and 64 bytes to align them) larger than the
 * built-in mount's while armed, then disarms: the buckets the context's
 * one index build asks for (the volumes' own blocks have other sizes). */
static bool refuse_bucket;
static void *bucket_fails(void *ud, void *p, size_t n)
{
    (void)ud;
    if (refuse_bucket && !p && n > 100 * sizeof(lu_bucket) && (n - 64) % sizeof(lu_bucket) == 0) {
        refuse_bucket = false;
        return NULL;
    }
    return realloc(p, n);
}
static void plain_free(void *ud, void *p)
{
    (void)ud;
    free(p);
}

Test(batch, with_no_memory_for_the_one_index_the_restored_mounts_are_kept_for_the_next_start)
{
    char name[16], file[32], path[64];
    lu_context *ctx = th_open(save, NULL);
    for (int i = 0; i < 16; i++) {
        snprintf(name, sizeof name, "b%d", i);
        snprintf(file, sizeof file, "b%d.zip", i);
        lu_zip_writer *w;
        lu_error err;
        cr_assert_eq(lu_zip_writer_open(th_path(vols, file), &w, &err), LU_OK);
        for (int k = 0; k < 600; k++) {
            snprintf(path, sizeof path, "d%d/%d.txt", i, k);
            cr_assert_eq(lu_zip_writer_add(w, path, "x", 1, 0, &err), LU_OK);
        }
        cr_assert_eq(lu_zip_writer_close(w, &err), LU_OK);
        char uri[64];
        snprintf(uri, sizeof uri, "zip:volumes/%s", file);
        cr_assert_eq(lu_mount_add(ctx, name, uri, 1, 0, &err), LU_OK, "%s", err.message);
    }
    lu_context_close(ctx);
    char *before = th_read_file(th_path(save, "liveupdate.mounts"), NULL);
    refuse_bucket = true;
    lu_allocator alloc = {bucket_fails, plain_free, NULL};
    ctx = open_with(0, 0, &alloc);
    cr_assert(!refuse_bucket, "the one build asked for a bucket");
    cr_assert_eq(report_count(ctx, "kept"), 16, "every restored mount is kept");
    cr_assert_str_eq(table(ctx), "_base", "the built-in mount alone");
    cr_assert_str_eq(th_read_file(th_path(save, "liveupdate.mounts"), NULL), before, "the file is as it was");
    /* a change now writes the kept ones back in their places */
    lu_error err;
    cr_assert_eq(lu_mount_remove(ctx, "b3", &err), LU_OK, "%s", err.message);
    lu_context_close(ctx);
    ctx = open_with(0, 0, NULL);
    cr_assert_eq(lu_startup_report_count(ctx), 0);
    cr_assert_str_eq(table(ctx), "b15 b14 b13 b12 b11 b10 b9 b8 b7 b6 b5 b4 b2 b1 b0 _base",
                     "all back but the removed one, in order");
    lu_context_close(ctx);
}
