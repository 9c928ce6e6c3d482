/* test_index.c -- the merged index (engine/core/snapshot.c): snapshots derived
 * change by change serve what a from-scratch model says, a change copies only
 * what it touches (into recycled buckets), held snapshots survive many changes, the hash spreads, and
 * the one-pass path check agrees with lu_path_check.
 */
#include "helpers.h"
#if defined(__linux__)
#include <sys/mman.h>
#endif
#include <unistd.h>
#include "internal.h"

static char *vols;

static void setup(void)
{
    vols = th_tempdir();
}

TestSuite(index, .init = setup);

/* A small deterministic generator (the sequences must not depend on libc). */
static uint32_t rnd(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return (uint32_t)(*s >> 33);
}

#define UNIVERSE 160
#define NVOLS 10
#define NNAMES 8

/* Writes the zip `file` in the test's folder from {name, content, ...,
 * NULL}; returns its mount URI "zip:<path>" (kept until the test ends). */
static char *write_zip(const char *file, const char **entries)
{
    char *p = th_path(vols, file);
    th_make_zip(p, entries);
    char *uri = malloc(strlen(p) + 8);
    sprintf(uri, "zip:%s", p);
    return TH_KEEP(uri);
}

/* Volume k holds about half the universe's paths p<i>.txt, chosen at random,
 * each with the content "v<k>". */
static char *make_volume(int k, uint64_t *seed, bool has[UNIVERSE])
{
    const char **e = calloc(2 * UNIVERSE + 1, sizeof *e);
    char (*names)[16] = calloc(UNIVERSE, sizeof *names);
    char content[16];
    snprintf(content, sizeof content, "v%d", k);
    size_t n = 0;
    for (int i = 0; i < UNIVERSE; i++) {
        has[i] = rnd(seed) % 2;
        if (!has[i]) continue;
        snprintf(names[i], sizeof names[i], "p%d.txt", i);
        e[n++] = names[i];
        e[n++] = content;
    }
    e[n] = NULL;
    char file[32];
    snprintf(file, sizeof file, "vol%d.zip", k);
    char *uri = write_zip(file, e);
    free(e);
    free(names);
    return uri;
}

typedef struct model_mount {
    bool on;
    int vol, prio;
    uint64_t seq;
} model_mount;

/* Every path of the universe: served as the model says (exists, and by
 * which mount), and lu_list_paths lists exactly the served ones. */
static void check_model(lu_context *ctx, const model_mount *mm, bool has[NVOLS][UNIVERSE], int step)
{
    size_t served = 0;
    for (int i = 0; i < UNIVERSE; i++) {
        int best = -1;
        for (int n = 0; n < NNAMES; n++) {
            if (!mm[n].on || !has[mm[n].vol][i]) continue;
            if (best < 0 || mm[n].prio > mm[best].prio || (mm[n].prio == mm[best].prio && mm[n].seq > mm[best].seq))
                best = n;
        }
        char path[32];
        snprintf(path, sizeof path, "/p%d.txt", i);
        cr_assert_eq(lu_exists(ctx, path), best >= 0, "step %d: %s exists %d, model %d", step, path,
                     lu_exists(ctx, path), best >= 0);
        lu_stat_info si;
        lu_error err;
        lu_status st = lu_stat(ctx, path, &si, &err);
        if (best < 0) {
            cr_assert_eq(st, LU_NOT_FOUND, "step %d: %s", step, path);
            continue;
        }
        served++;
        char want[16];
        snprintf(want, sizeof want, "m%d", best);
        cr_assert_eq(st, LU_OK, "step %d: %s: %s", step, path, err.message);
        cr_assert_str_eq(si.mount, want, "step %d: %s served by %s, model says %s", step, path, si.mount, want);
    }
    char **list;
    size_t count;
    lu_error err;
    cr_assert_eq(lu_list_paths(ctx, "/", NULL, &list, &count, &err), LU_OK, "%s", err.message);
    cr_assert_eq(count, served, "step %d: %zu listed, %zu served", step, count, served);
    lu_free(ctx, list);
    cr_assert_eq(ctx->current ? ctx->current->entries : 0, served, "step %d: the index counts its paths", step);
}

Test(index, random_adds_removes_and_replaces_serve_what_a_model_says)
{
    uint64_t seed = 17;
    static bool has[NVOLS][UNIVERSE];
    char *uri[NVOLS];
    for (int k = 0; k < NVOLS; k++) uri[k] = make_volume(k, &seed, has[k]);
    lu_context *ctx = th_open(NULL, NULL);
    model_mount mm[NNAMES] = {{0}};
    uint64_t seq = 0;
    size_t incremental = 0;
    for (int step = 0; step < 400; step++) {
        int n = (int)(rnd(&seed) % NNAMES), vol = (int)(rnd(&seed) % NVOLS), prio = (int)(rnd(&seed) % 3);
        char name[8];
        snprintf(name, sizeof name, "m%d", n);
        lu_error err;
        bool had = ctx->current && ctx->current->dir;   /* the old snapshot is freed by the change */
        uint64_t gen = had ? ctx->current->gen : 0;
        size_t dirsize = had ? (size_t)1 << ctx->current->depth : 0;
        if (!mm[n].on) {   /* add */
            cr_assert_eq(lu_mount_add(ctx, name, uri[vol], prio, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
            mm[n] = (model_mount){true, vol, prio, ++seq};
        } else if (rnd(&seed) % 2) {   /* remove */
            cr_assert_eq(lu_mount_remove(ctx, name, &err), LU_OK, "%s", err.message);
            mm[n].on = false;
        } else {   /* replace: another volume and priority under the same name */
            cr_assert_eq(lu_mount_add(ctx, name, uri[vol], prio, LU_MOUNT_REPLACE | LU_MOUNT_NO_PERSIST, &err),
                         LU_OK, "%s", err.message);
            mm[n] = (model_mount){true, vol, prio, ++seq};
        }
        if (had && ctx->current && ctx->current->derived && ctx->current->dir && ctx->current->gen == gen + 1 &&
            ctx->current->nretired < dirsize)
            incremental++;
        check_model(ctx, mm, has, step);
    }
    cr_assert_gt(incremental, 100, "most changes derived the index (%zu of 400)", incremental);
    lu_context_close(ctx);
}

/* A volume of n entries: <prefix>/<i>.txt holding "x", or when `named`
 * <prefix>/<i as 5 digits>.txt holding its own path. Returns its URI. */
static char *make_entries(const char *file, const char *prefix, int n, bool named)
{
    const char **e = calloc(2 * (size_t)n + 1, sizeof *e);
    char (*names)[64] = calloc((size_t)n, sizeof *names);
    for (int i = 0; i < n; i++) {
        snprintf(names[i], sizeof names[i], named ? "%s/%05d.txt" : "%s/%d.txt", prefix, i);
        e[2 * i] = names[i];
        e[2 * i + 1] = named ? names[i] : "x";
    }
    char *uri = write_zip(file, e);
    free(e);
    free(names);
    return uri;
}

/* n entries named <prefix>/<i>.txt */
static char *make_sized(const char *file, const char *prefix, int n)
{
    return make_entries(file, prefix, n, false);
}

/* Makes n volumes <tag><k>.zip (k < n) of `entries` entries each under
 * <tag><k>/; their URIs go to u[k]. */
static void make_series(char **u, int n, const char *tag, int entries)
{
    for (int k = 0; k < n; k++) {
        char file[32], prefix[16];
        snprintf(file, sizeof file, "%s%d.zip", tag, k);
        snprintf(prefix, sizeof prefix, "%s%d", tag, k);
        u[k] = make_sized(file, prefix, entries);
    }
}

/* A context with "base" mounted at priority 0: n entries under /a/ in the
 * volume `file`. */
static lu_context *with_base(const char *file, int n)
{
    lu_context *ctx = th_open(NULL, NULL);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "base", make_sized(file, "a", n), 0, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s",
                 err.message);
    return ctx;
}

/* Mounts eight volumes of 2,000 entries, <tag>0 to <tag>7, each serving
 * /<tag><k>/<i>.txt at priority 1. */
static void mount_eight(lu_context *ctx, const char *tag)
{
    lu_error err;
    for (int k = 0; k < 8; k++) {
        char name[32], file[40];
        snprintf(name, sizeof name, "%s%d", tag, k);
        snprintf(file, sizeof file, "%s.zip", name);
        cr_assert_eq(lu_mount_add(ctx, name, make_sized(file, name, 2000), 1, LU_MOUNT_NO_PERSIST, &err), LU_OK,
                     "%s", err.message);
    }
}

/* Asserts that every path of mount_eight's volumes under `tag` is served. */
static void eight_served(lu_context *ctx, const char *tag)
{
    for (int k = 0; k < 8; k++)
        for (int i = 0; i < 2000; i++) {
            char p[48];
            snprintf(p, sizeof p, "/%s%d/%d.txt", tag, k, i);
            cr_assert(lu_exists(ctx, p), "%s", p);
        }
}

/* Adds volume `uri` as "small" (priority 2) and removes it, `rounds`
 * times, each change derived from the one before. */
static void add_and_remove(lu_context *ctx, const char *uri, int rounds)
{
    lu_error err;
    for (int round = 0; round < rounds; round++) {
        cr_assert_eq(lu_mount_add(ctx, "small", uri, 2, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
        cr_assert(ctx->current->derived);
        cr_assert_eq(lu_mount_remove(ctx, "small", &err), LU_OK, "%s", err.message);
    }
}

/* The work of a change is counted in buckets: the old table replaced none
 * but rebuilt them all. */
Test(index, an_add_or_remove_copies_only_the_buckets_its_entries_touch)
{
    lu_context *ctx = th_open(NULL, NULL);
    lu_error err;
    mount_eight(ctx, "big");
    lu_snapshot *prev = ctx->current;
    size_t nbuckets = 0;
    for (size_t i = 0; i < ((size_t)1 << prev->depth); i += (size_t)1 << (prev->depth - lu__bucket_depth(prev->dir[i])))
        nbuckets++;
    cr_assert_gt(nbuckets, 200, "16,000 entries make over 200 buckets (%zu)", nbuckets);
    cr_assert_eq(lu_mount_add(ctx, "small", make_sized("small.zip", "s", 10), 2, LU_MOUNT_NO_PERSIST, &err), LU_OK,
                 "%s", err.message);
    cr_assert(ctx->current->derived);
    cr_assert_leq(ctx->current->nretired, 10, "10 entries copy at most 10 buckets, not %zu", ctx->current->nretired);
    cr_assert_eq(lu_mount_remove(ctx, "small", &err), LU_OK, "%s", err.message);
    cr_assert_leq(ctx->current->nretired, 10, "removing them copies at most 10 buckets, not %zu",
                  ctx->current->nretired);
    cr_assert_eq(ctx->current->entries, 16000);
    cr_assert(lu_exists(ctx, "/big3/1999.txt"));
    cr_assert(!lu_exists(ctx, "/s/3.txt"));
    lu_context_close(ctx);
}

/* Counts the allocations of a bucket's size. */
static atomic_long bucket_allocs;
static atomic_size_t watched_size;   /* allocations of this size are counted too */
static atomic_long watched_allocs;

static void *counting_realloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    if (!ptr && size == sizeof(lu_bucket)) atomic_fetch_add(&bucket_allocs, 1);
    if (!ptr && size && size == atomic_load(&watched_size)) atomic_fetch_add(&watched_allocs, 1);
    return realloc(ptr, size);
}

static void counting_free(void *ud, void *ptr)
{
    (void)ud;
    free(ptr);
}

/* A context without a save dir whose every allocation goes through `al`. */
static lu_context *open_with_allocator(const lu_allocator *al)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.allocator = al;
    lu_context *ctx = NULL;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    return ctx;
}

/* A context whose allocations are counted (counting_realloc; the
 * allocator is copied at open) with mount_eight's volumes under `tag`. */
static lu_context *counted_eight(const char *tag)
{
    lu_allocator al = {counting_realloc, counting_free, NULL};
    lu_context *ctx = open_with_allocator(&al);
    mount_eight(ctx, tag);
    return ctx;
}

/* A change copies the buckets it touches into the ones an earlier change
 * replaced (the context's pool), not into new ones; and buckets come from
 * the pool's slabs, never from an allocation of their own. */
Test(index, a_change_copies_into_the_buckets_earlier_changes_replaced)
{
    lu_context *ctx = counted_eight("pool");
    lu_error err;
    const char *small = make_sized("pool_small.zip", "q", 100);
    add_and_remove(ctx, small, 3);   /* the first rounds fill the pool */
    atomic_store(&bucket_allocs, 0);
    size_t carved = lu__snapshot_buckets_carved(ctx->current);
    cr_assert_eq(lu_mount_add(ctx, "small", small, 2, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    cr_assert(ctx->current->derived);
    cr_assert_gt(ctx->current->nretired, 50, "100 entries copy over 50 buckets (%zu)", ctx->current->nretired);
    size_t made = lu__snapshot_buckets_carved(ctx->current) - carved;
    cr_assert_lt(made, 10, "%zu copies made %zu new buckets", ctx->current->nretired, made);
    cr_assert_eq(atomic_load(&bucket_allocs), 0, "a bucket allocated on its own");
    cr_assert(lu_exists(ctx, "/q/99.txt"));
    cr_assert(lu_exists(ctx, "/pool7/1999.txt"));
    lu_context_close(ctx);
}

/* The bucket pool's large slabs, with the default allocator, are blocks
 * mapped for the purpose with 2 MiB pages asked for (madvise
 * MADV_HUGEPAGE, shown as "hg" among a mapping's VmFlags, whether or not
 * the kernel then has such pages to give): a volume of 100,000 entries
 * needs 8,192 buckets (2.1 MB) in its first build. */
Test(index, the_default_allocator_asks_huge_pages_for_large_bucket_slabs)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (access("/sys/kernel/mm/transparent_hugepage", F_OK) != 0) cr_skip_test("a kernel without 2 MiB pages");
    lu_context *ctx = th_open(NULL, NULL);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "big", make_sized("huge.zip", "h", 100000), 1, LU_MOUNT_NO_PERSIST, &err), LU_OK,
                 "%s", err.message);
    cr_assert_geq(lu__snapshot_buckets_carved(ctx->current), 8192);
    FILE *f = fopen("/proc/self/smaps", "r");   /* its size reads as 0: read to the end */
    cr_assert_not_null(f);
    size_t len = 0, cap = 1 << 20;
    char *smaps = malloc(cap);
    for (size_t got; (got = fread(smaps + len, 1, cap - len - 1, f)) > 0;)
        if ((len += got) + 1 == cap) smaps = realloc(smaps, cap *= 2);
    fclose(f);
    smaps[len] = '\0';
    bool advised = false;
    for (const char *l = smaps; l && *l && !advised; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (strncmp(l, "VmFlags:", 8) == 0) {
            const char *end = strchr(l, '\n');
            for (const char *f = l + 8; f + 2 <= (end ? end : l + strlen(l)); f++)
                if (f[-1] == ' ' && f[0] == 'h' && f[1] == 'g' && (f[2] == ' ' || f[2] == '\n')) advised = true;
        }
    free(smaps);
    cr_assert(advised, "no mapping asked for huge pages");
    lu_context_close(ctx);
#endif
}

/* A change copies the directory into the block the snapshot before the
 * current one left when it was freed, not into a new block each time (at a
 * million entries that was 512 KiB of new pages per change). */
Test(index, a_change_copies_the_directory_into_the_block_a_freed_snapshot_left)
{
    lu_context *ctx = counted_eight("dir");
    const char *small = make_sized("dir_small.zip", "r", 50);
    add_and_remove(ctx, small, 1);
    uint32_t depth = ctx->current->depth;
    atomic_store(&watched_allocs, 0);
    atomic_store(&watched_size, ((size_t)1 << depth) * sizeof(lu_bucket *));
    add_and_remove(ctx, small, 6);
    atomic_store(&watched_size, 0);
    cr_assert_eq(ctx->current->depth, depth, "no change doubled the directory");
    cr_assert_eq(atomic_load(&watched_allocs), 0, "12 changes allocated %ld directories",
                 atomic_load(&watched_allocs));
    cr_assert(lu_exists(ctx, "/dir7/1999.txt") && !lu_exists(ctx, "/r/1.txt"));
    lu_context_close(ctx);
}

/* A change does not copy the whole directory: the block the snapshot
 * before the current one left holds that snapshot's directory, so copying
 * the runs the current one wrote brings it up to date (at a million
 * entries the directory is 1 MiB, an add of 1,000 entries writes about
 * 3,000 of its 131,072 entries). */
Test(index, a_change_copies_only_the_directory_runs_the_change_before_it_wrote)
{
    lu_context *ctx = th_open(NULL, NULL);
    mount_eight(ctx, "runs");
    const char *small = make_sized("runs_small.zip", "r", 50);
    add_and_remove(ctx, small, 2);
    size_t dirsize = (size_t)1 << ctx->current->depth;
    cr_assert_gt(dirsize, 256);
    for (int round = 0; round < 4; round++) {
        add_and_remove(ctx, small, 1);
        cr_assert_lt(ctx->current->dir_copied, dirsize / 4, "round %d: copied %zu of %zu directory entries", round,
                     ctx->current->dir_copied, dirsize);
        eight_served(ctx, "runs");
    }
    /* a change that touches most buckets logs runs (copies, then splits of
     * the copies) covering more entries than the directory has: the next
     * change copies it whole instead */
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "wide", make_sized("runs_wide.zip", "w", 4000), 2, LU_MOUNT_NO_PERSIST, &err),
                 LU_OK, "%s", err.message);
    cr_assert(ctx->current->derived);
    dirsize = (size_t)1 << ctx->current->depth;
    cr_assert_eq(lu_mount_add(ctx, "small", small, 2, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    cr_assert_leq(ctx->current->dir_copied, dirsize, "copied %zu entries of a directory of %zu",
                  ctx->current->dir_copied, dirsize);
    eight_served(ctx, "runs");
    cr_assert(lu_exists(ctx, "/w/3999.txt") && lu_exists(ctx, "/r/1.txt"));
    lu_context_close(ctx);
}

/* Asserts that every /<prefix><k>/<i>.txt for k in [k0, k1) and i < n is
 * served. */
static void all_served(lu_context *ctx, int k0, int k1, int n)
{
    for (int k = k0; k < k1; k++)
        for (int i = 0; i < n; i++) {
            char p[32];
            snprintf(p, sizeof p, "/x%d/%d.txt", k, i);
            cr_assert(lu_exists(ctx, p), "%s", p);
        }
}

/* With readers holding older snapshots, the pool's block can be a
 * directory several changes old: then it is copied whole, not patched
 * with the last change's runs only (which would serve the buckets of the
 * changes between, without what they added). */
Test(index, a_directory_block_older_than_the_change_before_is_copied_whole)
{
    lu_context *ctx = with_base("obase.zip", 6000);
    lu_error err;
    char *u[5];
    make_series(u, 5, "x", 40);
    cr_assert_eq(lu_mount_add(ctx, "x0", u[0], 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    uint32_t depth = ctx->current->depth;   /* no change below doubles it: the blocks stay the same size */
    unsigned sh1, sh2;
    lu_snapshot *r1 = lu__cell_acquire(&ctx->cell, &sh1);
    cr_assert_eq(lu_mount_add(ctx, "x1", u[1], 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    lu_snapshot *r2 = lu__cell_acquire(&ctx->cell, &sh2);
    cr_assert_eq(lu_mount_add(ctx, "x2", u[2], 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_mount_add(ctx, "x3", u[3], 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    lu_bucket **old = r1->dir;
    lu__cell_release(&ctx->cell, r1, sh1);   /* its block, three changes old, goes to the pool */
    cr_assert_eq(lu_mount_add(ctx, "x4", u[4], 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    cr_assert(ctx->current->dir == old, "the change took the old block");
    cr_assert(ctx->current->derived);
    cr_assert_eq(ctx->current->depth, depth);
    cr_assert_eq(ctx->current->dir_copied, (size_t)1 << depth, "copied whole");
    all_served(ctx, 0, 5, 40);
    lu__cell_release(&ctx->cell, r2, sh2);
    cr_assert_eq(lu_mount_add(ctx, "x0", u[0], 2, LU_MOUNT_REPLACE | LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s",
                 err.message);
    all_served(ctx, 0, 5, 40);
    cr_assert(lu_exists(ctx, "/a/2999.txt"));
    lu_context_close(ctx);
}

/* An allocator that fails its fail_at-th allocation (counting from the
 * last reset), then succeeds again. */
static long fail_at = -1, nallocs, nfailed;

static void *failing_realloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    if (size && fail_at >= 0 && ++nallocs == fail_at) {
        nfailed++;
        return NULL;
    }
    return realloc(ptr, size);
}

/* Every allocation of a derived add failed in turn: each failure is an
 * error that leaves the table serving what it served (a failure between
 * the id table and the directory walked a directory never filled in), and
 * the add then succeeds. */
Test(index, a_derived_change_that_runs_out_of_memory_leaves_the_table_as_it_was)
{
    lu_allocator al = {failing_realloc, counting_free, NULL};
    lu_context *ctx = open_with_allocator(&al);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "big", make_sized("oom_big.zip", "b", 2000), 1, LU_MOUNT_NO_PERSIST, &err), LU_OK,
                 "%s", err.message);
    const char *small = make_sized("oom_small.zip", "s", 20);
    long failures = 0;
    for (long f = 1;; f++) {
        nallocs = 0;
        nfailed = 0;
        fail_at = f;
        lu_status st = lu_mount_add(ctx, "small", small, 2, LU_MOUNT_NO_PERSIST, &err);
        fail_at = -1;
        if (st == LU_OK) {
            if (nfailed == 0) break;   /* no allocation left to fail */
            cr_assert_eq(lu_mount_remove(ctx, "small", &err), LU_OK, "%s", err.message);
            continue;
        }
        failures++;
        cr_assert(lu_exists(ctx, "/b/1999.txt"), "allocation %ld", f);
        cr_assert(!lu_exists(ctx, "/s/0.txt"), "allocation %ld", f);
    }
    cr_assert_gt(failures, 3);
    cr_assert(ctx->current->derived, "the add was derived, not rebuilt");
    cr_assert(lu_exists(ctx, "/s/19.txt") && lu_exists(ctx, "/b/0.txt"));
    lu_context_close(ctx);
}

Test(index, removing_a_shadowing_mount_serves_the_lower_one_again)
{
    lu_context *ctx = th_open(NULL, NULL);
    lu_error err;
    /* enough below for every change to be derived, not rebuilt */
    cr_assert_eq(lu_mount_add(ctx, "base", make_sized("base.zip", "a", 1000), 0, LU_MOUNT_NO_PERSIST, &err), LU_OK);
    cr_assert_eq(lu_mount_add(ctx, "low", make_sized("low.zip", "s", 50), 1, LU_MOUNT_NO_PERSIST, &err), LU_OK);
    cr_assert_eq(lu_mount_add(ctx, "mid", make_sized("mid.zip", "s", 50), 2, LU_MOUNT_NO_PERSIST, &err), LU_OK);
    cr_assert_eq(lu_mount_add(ctx, "top", make_sized("top.zip", "s", 25), 3, LU_MOUNT_NO_PERSIST, &err), LU_OK);
    lu_stat_info si;
    cr_assert_eq(lu_stat(ctx, "/s/7.txt", &si, &err), LU_OK);
    cr_assert_str_eq(si.mount, "top");
    cr_assert_eq(lu_mount_remove(ctx, "top", &err), LU_OK);
    cr_assert(ctx->current->derived);
    cr_assert_eq(lu_stat(ctx, "/s/7.txt", &si, &err), LU_OK);
    cr_assert_str_eq(si.mount, "mid");
    cr_assert_eq(lu_mount_remove(ctx, "mid", &err), LU_OK);
    cr_assert_eq(lu_stat(ctx, "/s/7.txt", &si, &err), LU_OK);
    cr_assert_str_eq(si.mount, "low", "the next server's own shadow bit was set: it shadowed 'low'");
    cr_assert_eq(lu_mount_remove(ctx, "low", &err), LU_OK);
    cr_assert(!lu_exists(ctx, "/s/7.txt"));
    cr_assert_eq(ctx->current->entries, 1000);
    lu_context_close(ctx);
}

/* A volume of n entries under `prefix` whose contents are their own paths. */
static char *make_named(const char *file, const char *prefix, int n)
{
    return make_entries(file, prefix, n, true);
}

/* Every entry of mount `name` (n entries under prefix) is served with its
 * own content and its position is stored before its path. */
static void check_named(lu_context *ctx, const char *name, const char *prefix, int n)
{
    const lu_mount *m = lu__snapshot_mount(ctx->current, name);
    cr_assert_not_null(m);
    const lu_entries *t = &m->archive->entries;
    cr_assert_eq(t->count, (size_t)n);
    for (size_t i = 0; i < t->count; i++)
        cr_assert_eq(lu__entry_at(lu__entry_name(t, &t->items[i])), i, "entry %zu", i);
    for (int i = 0; i < n; i += 7) {
        char path[64];
        snprintf(path, sizeof path, "/%s/%05d.txt", prefix, i);
        void *data;
        size_t size;
        lu_error err;
        cr_assert_eq(lu_read(ctx, path, &data, &size, &err), LU_OK, "%s", err.message);
        cr_assert_eq(size, strlen(path) - 1);
        cr_assert_eq(memcmp(data, path + 1, size), 0, "%s served another entry's bytes", path);
        lu_free(ctx, data);
    }
}

/* A slot's id is its path's offset in the mount's name pool: a mount whose
 * paths span several id granules (64 KiB of pool each) is served right, in
 * a full build and in derived changes that reuse the granules a removed
 * mount freed. */
Test(index, a_slot_reaches_its_entry_through_its_path_across_id_granules)
{
    lu_context *ctx = th_open(NULL, NULL);
    lu_error err;
    const char *pa = "granules/a-directory-name-long-enough", *pc = "granules/c-directory-name-long-enough";
    cr_assert_eq(lu_mount_add(ctx, "a", make_named("ga.zip", pa, 5000), 1, LU_MOUNT_NO_PERSIST, &err), LU_OK,
                 "%s", err.message);
    const lu_mount *ma = lu__snapshot_mount(ctx->current, "a");
    cr_assert_gt(ma->archive->entries.pool_len, 3 * LU_ID_GRANULE, "the paths span over three granules");
    check_named(ctx, "a", pa, 5000);
    cr_assert_eq(lu_mount_add(ctx, "base", make_sized("gbase.zip", "base", 30000), 0, LU_MOUNT_NO_PERSIST, &err),
                 LU_OK, "%s", err.message);
    cr_assert_eq(lu_mount_remove(ctx, "a", &err), LU_OK, "%s", err.message);
    cr_assert(ctx->current->derived);
    cr_assert_eq(lu_mount_add(ctx, "c", make_named("gc.zip", pc, 4000), 2, LU_MOUNT_NO_PERSIST, &err), LU_OK,
                 "%s", err.message);
    cr_assert(ctx->current->derived, "a derived add, placed in the granules 'a' left");
    check_named(ctx, "c", pc, 4000);
    cr_assert(!lu_exists(ctx, "/granules/a-directory-name-long-enough/00001.txt"));
    cr_assert(lu_exists(ctx, "/base/29999.txt"));
    lu_context_close(ctx);
}

/* The ids limit: 32,767 mounts at once (each takes a granule at least),
 * refused beyond with a message that says so. */
Test(index, at_most_32767_mounts_are_indexed_at_once)
{
    lu_env env = lu__default_env();
    env.max_uncompressed = 1u << 20;
    const char *uri = make_sized("limit.zip", "l", 3);
    lu_archive *a;
    lu_error err;
    cr_assert_eq(lu__archive_open(&env, "zip", uri + 4, &a, &err), LU_OK, "%s", err.message);
    size_t n = 32768;
    lu_mount **ms = calloc(n, sizeof *ms);
    for (size_t i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof name, "m%zu", i);
        ms[i] = lu__mount_new(&env, name, uri, 1, i + 1, false, a);
        cr_assert_not_null(ms[i]);
    }
    lu_snapshot *s = NULL;
    cr_assert_eq(lu__snapshot_build(&env, ms, n, &s, &err), LU_INVAL);
    cr_assert_null(s);
    cr_assert(strstr(err.message, "32768 mounts: at most 32767") != NULL, "%s", err.message);
    cr_assert_eq(lu__snapshot_build(&env, ms, n - 1, &s, &err), LU_OK, "%s", err.message);
    cr_assert_eq(s->entries, 3, "one path served, by the first mount in lookup order");
    lu__snapshot_free(s);
    for (size_t i = 0; i < n; i++) lu__mount_release(&env, ms[i]);
    free(ms);
    lu__archive_release(a);
}

static long refs_of(const lu_mount *m)
{
    return atomic_load(&((lu_mount *)m)->refs);
}

/* A change takes a reference only on the mounts it adds: the mounts it
 * keeps are borrowed from the snapshot before, whose references pass on
 * when it is destroyed, and it releases only the mounts the next one
 * dropped. Derived changes (a small volume added to large ones), a list
 * out of the previous order, a snapshot never published and a full
 * build from a predecessor keep the counts right. */
Test(index, a_change_takes_references_only_on_its_own_mounts)
{
    lu_env env = lu__default_env();
    env.max_uncompressed = 1u << 20;
    const char *big = make_sized("refs_big.zip", "r", 100), *small = make_sized("refs_small.zip", "r", 5);
    lu_mount *m[4];
    lu_error err;
    for (int i = 0; i < 4; i++) {   /* priorities 4, 3, 2, 1: lookup order a, b, c, d; a and b large */
        char name[8];
        const char *uri = i < 2 ? big : small;
        lu_archive *arc;
        snprintf(name, sizeof name, "%c", 'a' + i);
        cr_assert_eq(lu__archive_open(&env, "zip", uri + 4, &arc, &err), LU_OK, "%s", err.message);
        m[i] = lu__mount_new(&env, name, uri, 4 - i, (uint64_t)i + 1, false, arc);
        lu__archive_release(arc);
    }
    lu_snapshot *s1, *s2, *s3, *s4, *x;
    cr_assert_eq(lu__snapshot_next(&env, NULL, (lu_mount *[]){m[0], m[1]}, 2, &s1, &err), LU_OK, "%s", err.message);
    lu__snapshot_follow(NULL, s1);
    cr_assert_eq(refs_of(m[0]), 2);
    cr_assert_eq(refs_of(m[1]), 2);
    /* a, b kept, c added (derived: a few of s1's buckets copied): only c gains a reference */
    cr_assert_eq(lu__snapshot_next(&env, s1, (lu_mount *[]){m[0], m[1], m[2]}, 3, &s2, &err), LU_OK);
    cr_assert_lt(s2->nretired, (size_t)1 << s1->depth, "derived, not built from scratch");
    cr_assert_eq(refs_of(m[0]), 2, "a kept mount is borrowed, not retained");
    cr_assert_eq(refs_of(m[2]), 2);
    cr_assert_eq(s2->mount_entries, 205);
    lu__snapshot_follow(s1, s2);
    /* never published: freeing it releases d only */
    cr_assert_eq(lu__snapshot_next(&env, s2, (lu_mount *[]){m[0], m[1], m[2], m[3]}, 4, &x, &err), LU_OK);
    cr_assert_lt(x->nretired, (size_t)1 << s2->depth, "derived, not built from scratch");
    cr_assert_eq(refs_of(m[3]), 2);
    lu__snapshot_free(x);
    cr_assert_eq(refs_of(m[3]), 1);
    cr_assert_eq(refs_of(m[0]), 2);
    /* c removed (derived); the list given out of order (b before a) */
    cr_assert_eq(lu__snapshot_next(&env, s2, (lu_mount *[]){m[1], m[0]}, 2, &s3, &err), LU_OK);
    cr_assert_lt(s3->nretired, (size_t)1 << s2->depth, "derived, not built from scratch");
    cr_assert_eq(s3->nmounts, 2);
    cr_assert(s3->mounts[0] == m[0] && s3->mounts[1] == m[1], "sorted into lookup order");
    cr_assert_eq(s3->mount_entries, 200);
    lu__snapshot_follow(s2, s3);
    lu__snapshot_free(s1);   /* its references pass to s2 */
    cr_assert_eq(refs_of(m[0]), 3, "a, found out of order, was retained by s3 as well");
    cr_assert_eq(refs_of(m[1]), 2);
    cr_assert_eq(refs_of(m[2]), 2);
    lu__snapshot_free(s2);   /* releases what s3 dropped: c, and a (s3 holds its own) */
    cr_assert_eq(refs_of(m[2]), 1, "a removed mount is released when the snapshots that had it are gone");
    cr_assert_eq(refs_of(m[0]), 2);
    cr_assert_eq(refs_of(m[1]), 2);
    const lu_mount *fm;
    const lu_entry *fe;
    cr_assert(lu__snapshot_find(s3, "/r/4.txt", 8, lu__hash_canonical("/r/4.txt", 8), &fm, &fe));
    cr_assert(fm == m[0], "a (priority 4) serves the path");
    cr_assert(lu__snapshot_mount(s3, "b") == m[1]);
    cr_assert_null(lu__snapshot_mount(s3, "c"));
    /* everything removed (a full build from s3): the last snapshot releases what it holds */
    cr_assert_eq(lu__snapshot_next(&env, s3, NULL, 0, &s4, &err), LU_OK);
    lu__snapshot_follow(s3, s4);
    lu__snapshot_free(s3);
    cr_assert_eq(refs_of(m[0]), 1);
    cr_assert_eq(refs_of(m[1]), 1);
    lu__snapshot_free(s4);
    for (int i = 0; i < 4; i++) {
        cr_assert_eq(refs_of(m[i]), 1, "mount %d", i);
        lu__mount_release(&env, m[i]);
    }
}

/* "m25758" and "m84625" have the same name hash (found by a search):
 * every lookup of a mount by name (add, the same add again, remove, a
 * batch, the removal of many) tells them apart by the name itself. */
Test(index, mounts_whose_names_share_a_hash_are_told_apart)
{
    cr_assert_eq(lu__mount_name_hash("m25758"), lu__mount_name_hash("m84625"), "the two names collide");
    lu_context *ctx = th_open(NULL, NULL);
    lu_error err;
    char *ua = make_sized("ca.zip", "ca", 3), *ub = make_sized("cb.zip", "cb", 3);
    cr_assert_eq(lu_mount_add(ctx, "m25758", ua, 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_mount_add(ctx, "m84625", ub, 2, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_mount_add(ctx, "m84625", ub, 2, LU_MOUNT_NO_PERSIST, &err), LU_OK, "the same mount again");
    cr_assert_eq(lu_mount_add(ctx, "m25758", ub, 1, LU_MOUNT_NO_PERSIST, &err), LU_NAME_EXISTS);
    cr_assert(strstr(err.message, "ca.zip") != NULL, "names m25758's volume: %s", err.message);
    cr_assert_eq(lu_mount_remove(ctx, "m25758", &err), LU_OK, "%s", err.message);
    cr_assert(!lu_exists(ctx, "/ca/0.txt"));
    cr_assert(lu_exists(ctx, "/cb/0.txt"));
    const char *gone[] = {"m84625"};
    lu_mount_spec back = {"m25758", ua, 1};
    cr_assert_eq(lu_mounts_apply(ctx, &back, 1, gone, 1, &err), LU_OK, "%s", err.message);
    cr_assert(lu_exists(ctx, "/ca/0.txt"));
    cr_assert(!lu_exists(ctx, "/cb/0.txt"));
    cr_assert_eq(lu_mount_add(ctx, "m84625", ub, 2, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    const char *one[] = {"m84625"};
    bool removed[1];
    cr_assert_eq(lu__mount_remove_many(ctx, one, NULL, 1, removed, &err), LU_OK, "%s", err.message);
    cr_assert(removed[0]);
    cr_assert(lu_exists(ctx, "/ca/0.txt"));
    cr_assert(!lu_exists(ctx, "/cb/0.txt"));
    lu_context_close(ctx);
}

/* "/c/53327" and "/c/101476" have the same 32-bit hash (found by a search
 * over "c/<n>"): looking up the longer one compares it with the shorter,
 * the last path of its pool, and must read no byte past that path's end
 * (ASan reports it), and answer no. A volume may hold both: the mount's
 * duplicate check compares the names of entries whose hashes are equal. */
Test(index, a_full_hash_collision_with_a_shorter_path_reads_nothing_past_it)
{
    cr_assert_eq(lu__hash_canonical("/c/53327", 8), lu__hash_canonical("/c/101476", 9), "the two paths collide");
    const char *uri = write_zip("collide.zip", (const char *[]){"c/53327", "short", NULL});
    lu_context *ctx = th_open(NULL, NULL);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "c", uri, 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    cr_assert(lu_exists(ctx, "/c/53327"));
    cr_assert(!lu_exists(ctx, "/c/101476"));
    cr_assert(!lu_exists(ctx, "/c/5332"));
    const char *both = write_zip("both.zip", (const char *[]){"c/101476", "long", "c/53327", "short", NULL});
    cr_assert_eq(lu_mount_add(ctx, "both", both, 2, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    void *data;
    size_t size;
    cr_assert_eq(lu_read(ctx, "/c/101476", &data, &size, &err), LU_OK, "%s", err.message);
    cr_assert_eq(size, 4);
    cr_assert_eq(memcmp(data, "long", 4), 0);
    lu_free(ctx, data);
    cr_assert_eq(lu_read(ctx, "/c/53327", &data, &size, &err), LU_OK, "%s", err.message);
    cr_assert_eq(memcmp(data, "short", 5), 0);
    lu_free(ctx, data);
    lu_context_close(ctx);
}

/* Readers may hold a snapshot through any number of changes (ASan: nothing
 * they see is freed under them); they are released out of order. */
Test(index, snapshots_held_across_many_changes_stay_valid)
{
    lu_context *ctx = with_base("hbase.zip", 3000);
    lu_error err;
    char *u[4];
    make_series(u, 4, "h", 300);
    enum { HOLD = 12 };
    lu_snapshot *held[HOLD] = {0};
    int held_k[HOLD];
    unsigned shard[HOLD] = {0};
    for (int step = 0; step < 240; step++) {
        int k = step % 4;
        char name[8];
        snprintf(name, sizeof name, "h%d", k);
        if ((step / 4) % 2 == 0)
            cr_assert_eq(lu_mount_add(ctx, name, u[k], k, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
        else
            cr_assert_eq(lu_mount_remove(ctx, name, &err), LU_OK, "%s", err.message);
        if (step % 20 == 0) {   /* hold one; release an older one, not the oldest */
            int slot = (step / 20) % HOLD;
            if (held[slot]) lu__cell_release(&ctx->cell, held[slot], shard[slot]);
            held[slot] = lu__cell_acquire(&ctx->cell, &shard[slot]);
            held_k[slot] = (step / 4) % 2 == 0 ? k : -1;
        }
    }
    for (int i = 0; i < HOLD; i++) {
        if (!held[i]) continue;
        const lu_mount *m;
        const lu_entry *e;
        cr_assert(lu__snapshot_find(held[i], "/a/2999.txt", 11, lu__hash_canonical("/a/2999.txt", 11), &m, &e));
        cr_assert_str_eq(m->name, "base");
        if (held_k[i] >= 0) {
            char p[32];
            snprintf(p, sizeof p, "/h%d/299.txt", held_k[i]);
            cr_assert(lu__snapshot_find(held[i], p, strlen(p), lu__hash_canonical(p, strlen(p)), &m, &e),
                      "held snapshot %d still serves %s", i, p);
        }
    }
    for (int i = HOLD - 1; i >= 0; i--)
        if (held[i]) lu__cell_release(&ctx->cell, held[i], shard[i]);
    lu_context_close(ctx);
}

/* The directory takes the hash's top bits and a bucket's home group its
 * bottom bits: both must spread Defold-like paths evenly (within 6 standard
 * deviations of a uniform count in every bin). */
Test(index, the_hash_spreads_top_and_bottom_bits)
{
    enum { N = 65536, BINS = 256 };
    static unsigned top[BINS], low[BINS];
    for (int i = 0; i < N; i++) {
        char p[64];
        int len = snprintf(p, sizeof p, "/assets/level%d/sprite_%d.texturec", i % 37, i);
        uint32_t h = lu__hash_path(p, (size_t)len);
        top[h >> 24]++;
        low[h & (BINS - 1)]++;
    }
    double mean = (double)N / BINS, limit = 6 * 16.0;   /* sd = sqrt(256) = 16 */
    for (int b = 0; b < BINS; b++) {
        cr_assert_lt(top[b] > mean ? top[b] - mean : mean - top[b], limit, "top bin %d: %u", b, top[b]);
        cr_assert_lt(low[b] > mean ? low[b] - mean : mean - low[b], limit, "low bin %d: %u", b, low[b]);
    }
    cr_assert_neq(lu__hash_path("/a", 2), lu__hash_path("/b", 2));
}

/* A volume's entries stay in the order the volume lists them: a mount
 * sorts nothing. One-off lookups (lu__entries_find_once: a version file,
 * a manifest) scan; the path order is built at the first per-volume query
 * that needs it (lu_read_from, a listing) and answers as a sorted table. */
Test(index, the_path_order_is_built_at_the_first_query_that_needs_it)
{
    const char *uri = write_zip("unsorted.zip", (const char *[]){"m/2.txt", "2", "b.txt", "b", "a/z.txt", "z",
                                                                 "m/10.txt", "10", "a.txt", "a", NULL});
    lu_env env = lu__default_env();
    env.max_uncompressed = 1u << 20;
    lu_archive *a = NULL;
    lu_error err;
    cr_assert_eq(lu__archive_open(&env, "zip", uri + 4, &a, &err), LU_OK, "%s", err.message);
    const lu_entries *t = &a->entries;
    cr_assert_str_eq(lu__entry_name(t, &t->items[0]), "/m/2.txt", "the volume's order");
    cr_assert_str_eq(lu__entry_name(t, &t->items[4]), "/a.txt");
    for (size_t i = 0; i < t->count; i++)
        cr_assert_eq(lu__entry_at(lu__entry_name(t, &t->items[i])), i, "entry %zu: its position", i);
    cr_assert_null(atomic_load(&((lu_entries *)t)->order), "opening sorts nothing");
    cr_assert_eq(lu__entries_find_once(t, "/a/z.txt", 8), &t->items[2]);
    cr_assert_null(lu__entries_find_once(t, "/a/z", 4));
    cr_assert_null(lu__entries_find_once(t, "/m/2.txt/", 9));
    cr_assert_null(atomic_load(&((lu_entries *)t)->order), "a one-off lookup sorts nothing");
    cr_assert_eq(lu__entries_find(t, "/m/10.txt", 9), &t->items[3]);
    const uint32_t *order = atomic_load(&((lu_entries *)t)->order);
    cr_assert_not_null(order, "a per-volume lookup builds the order");
    const char *sorted[] = {"/a.txt", "/a/z.txt", "/b.txt", "/m/10.txt", "/m/2.txt"};
    for (size_t i = 0; i < 5; i++) cr_assert_str_eq(lu__entry_name(t, &t->items[order[i]]), sorted[i]);
    cr_assert_eq(lu__entries_order(t), order, "built once");
    cr_assert_eq(lu__entries_lower_bound(t, order, "/m/", 3), 3);
    cr_assert_eq(lu__entries_find_once(t, "/b.txt", 6), &t->items[1], "answered from the order now");
    lu__archive_release(a);

    lu_context *ctx = th_open(NULL, NULL);
    cr_assert_eq(lu_mount_add(ctx, "u", uri, 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    char **paths;
    size_t n;
    cr_assert_eq(lu_list_paths(ctx, "/m/", "u", &paths, &n, &err), LU_OK, "%s", err.message);
    cr_assert_eq(n, 2);
    cr_assert_str_eq(paths[0], "/m/10.txt");
    cr_assert_str_eq(paths[1], "/m/2.txt");
    lu_free(ctx, paths);
    void *data;
    size_t size;
    cr_assert_eq(lu_read_from(ctx, "u", "/a/z.txt", &data, &size, &err), LU_OK, "%s", err.message);
    cr_assert_eq(memcmp(data, "z", 1), 0);
    lu_free(ctx, data);
    cr_assert_eq(lu_read_from(ctx, "u", "/a/z", &data, &size, &err), LU_NOT_FOUND);
    lu_context_close(ctx);
}

/* The duplicate check's hash set cannot be made slow: 4,000 names chosen
 * so that all hash into 1/16 of the set's slots (one long probe run) make
 * it give up and the path order answer, so the volume opens with its
 * order built; with a duplicate it is refused. Of several duplicated
 * paths the smallest is named, whatever the volume's order. */
Test(index, the_duplicate_check_stays_linear_and_names_the_smallest_duplicate)
{
    enum { N = 4000, CAP = 8192 };   /* the set's size for N entries */
    const char **entries = calloc(2 * N + 3, sizeof *entries);
    char (*names)[16] = calloc(N + 1, sizeof *names);
    int found = 0;
    for (unsigned k = 0; found < N; k++) {
        int len = snprintf(names[found], sizeof names[found], "x/%u", k);
        if ((lu__hash_path(names[found], (size_t)len) & (CAP - 1)) < CAP / 16) found++;
    }
    for (int i = 0; i < N; i++) entries[2 * i] = names[i], entries[2 * i + 1] = "d";
    lu_env env = lu__default_env();
    env.max_uncompressed = 1u << 20;
    lu_archive *a = NULL;
    lu_error err;
    const char *uri = write_zip("crowded.zip", entries);
    cr_assert_eq(lu__archive_open(&env, "zip", uri + 4, &a, &err), LU_OK, "%s", err.message);
    cr_assert_not_null(atomic_load(&a->entries.order), "the set gave up: the path order answered");
    cr_assert_eq(a->entries.count, N);
    lu__archive_release(a);
    entries[2 * N] = names[N / 2], entries[2 * N + 1] = "again";
    uri = write_zip("crowded_dup.zip", entries);
    cr_assert_eq(lu__archive_open(&env, "zip", uri + 4, &a, &err), LU_UNSAFE_ARCHIVE);
    char want[64];
    snprintf(want, sizeof want, "entry '%s': duplicate name", names[N / 2]);
    cr_assert(strstr(err.message, want), "%s", err.message);
    uri = write_zip("two_dups.zip", (const char *[]){"z/q", "1", "b.txt", "2", "z/q", "3", "b.txt", "4", NULL});
    cr_assert_eq(lu__archive_open(&env, "zip", uri + 4, &a, &err), LU_UNSAFE_ARCHIVE);
    cr_assert(strstr(err.message, "entry 'b.txt': duplicate name"), "%s", err.message);
    free(names);
    free(entries);
}

/* The mounts file's bytes, or "" when there is none. */
static char *mounts_file(const char *save)
{
    char *f = th_read_file(th_path(save, "liveupdate.mounts"), NULL);
    return f ? f : "";
}

/* lu_mount_add of `uri` as "d" is refused for the duplicate "b.txt",
 * mounting nothing and leaving the mounts file as it was. */
static void refused_for_b(lu_context *ctx, const char *uri, const char *save, const char *why)
{
    size_t had = ctx->current ? ctx->current->nmounts : 0;
    char *before = mounts_file(save);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "d", uri, 5, 0, &err), LU_UNSAFE_ARCHIVE, "%s: %s", why, err.message);
    cr_assert(strstr(err.message, "entry 'b.txt': duplicate name"), "%s: %s", why, err.message);
    cr_assert_eq(ctx->current ? ctx->current->nmounts : 0, had, "%s", why);
    cr_assert(!lu_exists(ctx, "/z/q"), "%s", why);
    cr_assert_str_eq(mounts_file(save), before, "%s: the mounts file changed", why);
}

/* 31 names whose hashes share their top 27 bits (found by a search of
 * "h/<n>"): more than a bucket of the deepest directory holds (28), so an
 * index build of them fails ("too many resource paths share a hash
 * prefix"). */
#define NCROWDED 31
static const char *const crowded[NCROWDED] = {
    "h/0", "h/438212275", "h/672630967", "h/813662515", "h/1411658563", "h/1440657431", "h/1449057431",
    "h/2058493675", "h/2070860293", "h/2183331967", "h/2384549997", "h/2694742111", "h/3548978639",
    "h/4446704029", "h/4828983779", "h/63477050", "h/98935394", "h/124628394", "h/166645722", "h/276687118",
    "h/290098798", "h/340560836", "h/451142910", "h/895590156", "h/1068839172", "h/1104587340",
    "h/1482033214", "h/1675693202", "h/2059786166", "h/5107241012", "h/5304595454"};

/* A volume lu_mount_add opens is checked for duplicate paths by the index
 * build that takes it (lu__archive_open_to_mount): as its entries go in
 * when it is the first mount, by a pass over its table otherwise. Either
 * way it is refused, naming its smallest duplicated path as
 * lu__archive_open does: into an empty table; into a rebuilt table where
 * it is not the first mount; added to a table (a derived change); when
 * its only duplicate is served by a mount above it (the index alone
 * cannot tell that from shadowing); with a minimum version (its version
 * file, duplicated too, is read before the index is built: checked
 * first, or the first copy, below the minimum, is read); and when the
 * build fails before it meets the duplicate (crowded hashes). A first
 * mount without duplicates leaves its table marked checked. */
Test(index, a_volume_with_a_duplicate_path_is_refused_however_it_is_indexed)
{
    char *dup = write_zip("dups.zip", (const char *[]){"z/q", "1", "b.txt", "2", "version_d.json",
                                                       "{\"version\": 1}", "z/q", "3", "b.txt", "4",
                                                       "version_d.json", "{\"version\": 5}", NULL});
    char *shadowed = write_zip("dup_b.zip", (const char *[]){"b.txt", "1", "z/q", "2", "b.txt", "3", NULL});
    const char *entries[2 * NCROWDED + 5] = {NULL};
    for (int i = 0; i < NCROWDED; i++) entries[2 * i] = crowded[i], entries[2 * i + 1] = "c";
    char *crowd = write_zip("crowd.zip", entries);
    const char **tail = entries + 2 * NCROWDED;
    tail[0] = "b.txt", tail[1] = "1", tail[2] = "b.txt", tail[3] = "2";
    char *crowd_dup = write_zip("crowd_dup.zip", entries);
    char *save = th_tempdir();
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    lu_context *ctx = NULL;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    refused_for_b(ctx, dup, save, "into an empty table");
    cr_assert_eq(lu_mount_add(ctx, "c", crowd, 5, LU_MOUNT_NO_PERSIST, &err), LU_INVAL, "the crowded names alone");
    cr_assert(strstr(err.message, "share a hash prefix"), "%s", err.message);
    refused_for_b(ctx, crowd_dup, save, "a build that fails first");
    cr_assert_eq(lu_mount_add(ctx, "top", write_zip("top.zip", (const char *[]){"b.txt", "top", NULL}), 9, 0, &err),
                 LU_OK, "%s", err.message);
    cr_assert(ctx->current->mounts[0]->archive->entries.unique, "the build checked it");
    refused_for_b(ctx, dup, save, "rebuilt, not first");
    cr_assert_eq(lu_mount_add(ctx, "base", make_sized("base.zip", "a", 1000), 0, 0, &err), LU_OK, "%s", err.message);
    refused_for_b(ctx, dup, save, "derived");
    refused_for_b(ctx, shadowed, save, "its only duplicate served by a mount above");
    lu_context_close(ctx);
    cfg.minimum_version = 3;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "%s", err.message);
    refused_for_b(ctx, dup, save, "with a minimum version");
    lu_context_close(ctx);
}

/* The largest block an allocator was asked for (largest_realloc). */
static atomic_size_t largest;
static void *largest_realloc(void *ud, void *ptr, size_t size)
{
    (void)ud;
    for (size_t was = atomic_load(&largest); size > was && !atomic_compare_exchange_weak(&largest, &was, size);) {}
    return realloc(ptr, size);
}

/* Paths whose hashes share most of their bits (the hash is public) are
 * refused without a directory doubled for each shared bit: 31 of them
 * would have made it 2^27 entries (1 GiB); the directory is capped at 8
 * entries a path (or 2^16). */
Test(index, paths_crowding_one_hash_prefix_are_refused_without_a_huge_directory)
{
    const char *entries[2 * NCROWDED + 1] = {NULL};
    for (int i = 0; i < NCROWDED; i++) entries[2 * i] = crowded[i], entries[2 * i + 1] = "c";
    lu_allocator al = {largest_realloc, counting_free, NULL};
    lu_context *ctx = open_with_allocator(&al);
    atomic_store(&largest, 0);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "c", write_zip("crowded_prefix.zip", entries), 1, LU_MOUNT_NO_PERSIST, &err), LU_INVAL);
    cr_assert(strstr(err.message, "share a hash prefix"), "%s", err.message);
    cr_assert_leq(atomic_load(&largest), (size_t)1 << 20, "a block of %zu bytes", atomic_load(&largest));
    lu_context_close(ctx);
}

/* The bucket serving canonical path `path` in ctx's index. */
static const lu_bucket *bucket_of(lu_context *ctx, const char *path)
{
    uint32_t h = lu__hash_canonical(path, strlen(path));
    return ctx->current->dir[lu__snapshot_dir_index(ctx->current, h)];
}

/* Each group of bucket bk counts exactly the paths placed after it whose
 * home is it or a group before it (wrapping), and the bucket its slots. */
static void check_passes(const lu_bucket *bk, const char *when)
{
    int want[LU_BUCKET_GROUPS] = {0}, total = 0;
    for (uint32_t g = 0; g < LU_BUCKET_GROUPS; g++)
        for (uint32_t i = 0; i < bk->g[g].count; i++, total++)
            for (uint32_t p = lu__bucket_home(bk->g[g].hash[i]); p != g; p = (p + 1) % LU_BUCKET_GROUPS) want[p]++;
    for (int g = 0; g < LU_BUCKET_GROUPS; g++)
        cr_assert_eq(bk->g[g].over, want[g], "%s: group %d counts %d passes, %d went past it", when, g, bk->g[g].over,
                     want[g]);
    cr_assert_eq(bk->g[0].total, total, "%s", when);
}

/* Whether each of crowded[from..to) is served (want) or not. */
static void crowd_served(lu_context *ctx, int from, int to, bool want, const char *when)
{
    for (int i = from; i < to; i++) {
        char p[32];
        snprintf(p, sizeof p, "/%s", crowded[i]);
        cr_assert_eq(lu_exists(ctx, p), want, "%s: %s", when, p);
        lu_stat_info si;
        lu_error err;
        cr_assert_eq(lu_stat(ctx, p, &si, &err), want ? LU_OK : LU_NOT_FOUND, "%s: %s", when, p);
    }
}

/* A bucket's groups overflow into each other (a path goes to the next
 * group with room, and the groups it passes count it): 28 paths of one
 * hash prefix fill a bucket whole, and adding and removing half of them
 * (changes derived from the one before, on a table with other paths)
 * serves exactly the paths mounted each time, the passes counted down
 * with the paths removed. */
Test(index, a_bucket_whose_groups_overflow_serves_its_paths_through_changes)
{
    const char *half[2][2 * 14 + 1] = {{NULL}};
    for (int i = 0; i < 28; i++) half[i / 14][2 * (i % 14)] = crowded[i], half[i / 14][2 * (i % 14) + 1] = "c";
    char *a = write_zip("crowd_a.zip", half[0]), *b = write_zip("crowd_b.zip", half[1]);
    lu_context *ctx = with_base("base.zip", 1000);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "a", a, 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_mount_add(ctx, "b", b, 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    cr_assert(ctx->current->derived, "the adds were derived changes");
    char p0[32];
    snprintf(p0, sizeof p0, "/%s", crowded[0]);
    const lu_bucket *bk = bucket_of(ctx, p0);
    cr_assert_eq(bk->g[0].total, 28, "one bucket holds the 28");
    int over = 0;
    for (int g = 0; g < LU_BUCKET_GROUPS; g++) {
        cr_assert_eq(bk->g[g].count, LU_GROUP_SLOTS, "group %d is full", g);
        over += bk->g[g].over;
    }
    cr_assert_gt(over, 0, "some path went past its home group");
    check_passes(bk, "both mounted");
    crowd_served(ctx, 0, 28, true, "both mounted");
    crowd_served(ctx, 28, NCROWDED, false, "never mounted");
    for (int round = 0; round < 3; round++) {
        const char *gone = round % 2 ? "b" : "a";
        cr_assert_eq(lu_mount_remove(ctx, gone, &err), LU_OK, "%s", err.message);
        cr_assert(ctx->current->derived);
        crowd_served(ctx, round % 2 ? 0 : 14, round % 2 ? 14 : 28, true, "the other half kept");
        crowd_served(ctx, round % 2 ? 14 : 0, round % 2 ? 28 : 14, false, "the half removed");
        check_passes(bucket_of(ctx, p0), "half removed");
        cr_assert_eq(lu_mount_add(ctx, gone, round % 2 ? b : a, 1, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s",
                     err.message);
        crowd_served(ctx, 0, 28, true, "mounted again");
        check_passes(bucket_of(ctx, p0), "mounted again");
    }
    cr_assert(lu_exists(ctx, "/a/999.txt"));
    lu_context_close(ctx);
}

/* lu__group_match (two 16-byte compares where SSE2 is) gives exactly the
 * slots in use whose hash is the one asked, whatever the count, `over`
 * and the bucket fields beside the hashes hold. */
Test(index, a_group_match_is_the_slots_in_use_with_the_hash)
{
    uint64_t seed = 29;
    for (int round = 0; round < 20000; round++) {
        _Alignas(64) lu_group g;   /* as a bucket's groups are */
        memset(&g, 0, sizeof g);
        uint32_t pick[3] = {rnd(&seed), rnd(&seed) % 4, 0xffffffffu};
        for (int i = 0; i < LU_GROUP_SLOTS; i++) g.hash[i] = pick[rnd(&seed) % 3];
        g.count = (uint8_t)(rnd(&seed) % (LU_GROUP_SLOTS + 1));
        g.over = (uint8_t)rnd(&seed), g.depth = (uint8_t)rnd(&seed), g.total = (uint8_t)rnd(&seed);
        uint32_t want_hash = rnd(&seed) % 2 ? pick[rnd(&seed) % 3] : (uint32_t)(g.count | g.over << 8 | g.depth << 16 | (uint32_t)g.total << 24);
        uint32_t want = 0;
        for (uint32_t i = 0; i < g.count; i++) want |= (uint32_t)(g.hash[i] == want_hash) << i;
        cr_assert_eq(lu__group_match(&g, want_hash), want, "round %d", round);
    }
}

/* Entry names: the 16-byte screen a mount runs first (entries.c) accepts
 * no name the full check refuses, whatever the offsets of '/', '.', '\\',
 * ':' and NUL (a name it does not accept goes to the full check, so the
 * two agree on every name). */
Test(index, the_entry_name_screen_accepts_only_what_the_full_check_accepts)
{
    const char alphabet[] = "//..ab\\:";
    lu_env env = lu__default_env();
    env.max_uncompressed = 1u << 20;
    uint64_t seed = 23;
    size_t accepted = 0;
    for (int k = 0; k < 40000; k++) {
        char p[80];
        size_t n = rnd(&seed) % 70;
        for (size_t j = 0; j < n; j++) p[j] = alphabet[rnd(&seed) % (sizeof alphabet - 1)];
        for (size_t j = 0; j < n && rnd(&seed) % 2; j++) p[j] = 'a';   /* longer safe stretches too */
        if (n && rnd(&seed) % 64 == 0) p[rnd(&seed) % n] = '\0';
        lu_entries t;
        lu__entries_init(&t, &env);
        lu_error e1, e2;
        lu_status added = lu__entries_add(&t, p, n, 1, 0, &e1), checked = lu__entry_name_check(p, n, &e2);
        cr_assert_eq(added, checked, "name %d (%zu bytes): the two disagree", k, n);
        if (added != LU_OK) cr_assert_str_eq(e1.message, e2.message);
        accepted += added == LU_OK;
        lu__entries_free(&t);
    }
    cr_assert_gt(accepted, 1000, "the names cover accepted ones too");
}

Test(index, the_one_pass_path_check_agrees_with_lu_path_check)
{
    const char *paths[] = {"/a", "/a/b.png", "/", "//", "/a/", "/./a", "/a/.", "/a/..", "/../a", "/a\\b", "a", "",
                           "/..a", "/.a", "/a/.../b", "/a//b", "/a.", "/.", "/..", "/a/b/c/d/e/f.txt", "\\", "/é/x"};
    for (size_t i = 0; i < sizeof paths / sizeof *paths; i++) {
        size_t len = 99;
        bool ok = lu__path_scan(paths[i], &len);
        cr_assert_eq(len, strlen(paths[i]), "'%s': length", paths[i]);
        cr_assert_eq(ok, lu_path_check(paths[i], strlen(paths[i]), NULL) == LU_OK, "'%s': the two disagree", paths[i]);
    }
    /* random paths of 1-40 bytes over the bytes the rules turn on, so the
     * scan's 8-byte steps meet '/', '.', '\\' at every offset */
    const char alphabet[] = "//..ab\\";
    uint64_t seed = 17;
    for (int k = 0; k < 20000; k++) {
        char p[48];
        size_t n = 1 + rnd(&seed) % 40;
        for (size_t j = 0; j < n; j++) p[j] = alphabet[rnd(&seed) % (sizeof alphabet - 1)];
        if (rnd(&seed) % 8) p[0] = '/';
        p[n] = '\0';
        size_t len = 99;
        bool ok = lu__path_scan(p, &len);
        cr_assert_eq(len, n, "'%s': length", p);
        cr_assert_eq(ok, lu_path_check(p, n, NULL) == LU_OK, "'%s': the two disagree", p);
    }
    lu_context *ctx = th_open(NULL, NULL);
    lu_error err;
    void *data;
    size_t size;
    cr_assert_eq(lu_read(ctx, "/a/../b", &data, &size, &err), LU_INVAL);
    cr_assert_str_eq(err.message, "resource path '/a/../b' has an empty, '.' or '..' component");
    cr_assert_eq(lu_read(ctx, "/a\\b", &data, &size, &err), LU_INVAL);
    cr_assert_str_eq(err.message, "resource path '/a\\b' contains a backslash");
    cr_assert_eq(lu_read(ctx, NULL, &data, &size, &err), LU_INVAL);
    cr_assert_str_eq(err.message, "missing resource path");
    lu_context_close(ctx);
}
