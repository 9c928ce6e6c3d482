/* test_cell.c -- the publication cell (engine/core/cell.c, docs/ARCHITECTURE.md
 * "Concurrency"): readers on several threads during thousands of mount
 * changes get only valid answers (run under ASan: no use after free, no
 * leak); a snapshot is freed -- its removed volume closed -- exactly
 * when the last reader holding it releases, on whichever CPU, from
 * whichever thread, across any number of publishes; a writer waits for a
 * slot only while every slot is held; and the per-CPU counts (plain adds
 * in restartable sequences where the system offers them) stay exact with
 * many more threads than CPUs. Counts work, never time.
 */
#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "helpers.h"
#include "internal.h"

static char *dir;

static void setup(void)
{
    dir = th_tempdir();
}

TestSuite(cell, .init = setup);

static char *uri_of(const char *path)
{
    char *u = malloc(strlen(path) + 5);
    TH_KEEP(u);
    sprintf(u, "zip:%s", path);
    return u;
}

static void add(lu_context *ctx, const char *name, const char *uri)
{
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, name, uri, 1, LU_MOUNT_REPLACE | LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s",
                 err.message);
}

static void drop(lu_context *ctx, const char *name)
{
    lu_error err;
    cr_assert_eq(lu_mount_remove(ctx, name, &err), LU_OK, "%s", err.message);
}

/* Whether a descriptor of this process is open on `path` (deleted or not). */
static bool fd_open_on(const char *path)
{
    DIR *d = opendir("/proc/self/fd");
    cr_assert_not_null(d);
    char link[PATH_MAX + 16], target[PATH_MAX + 16];
    bool found = false;
    for (struct dirent *de; !found && (de = readdir(d));) {
        snprintf(link, sizeof link, "/proc/self/fd/%s", de->d_name);
        ssize_t n = readlink(link, target, sizeof target - 1);
        if (n < 0) continue;
        target[n] = '\0';
        found = strncmp(target, path, strlen(path)) == 0 &&
                (target[strlen(path)] == '\0' || strcmp(target + strlen(path), " (deleted)") == 0);
    }
    closedir(d);
    return found;
}

/* ---- readers during churn --------------------------------------------- */

#define NVOL 6
#define NREADERS 2
#define CHANGES 3000        /* mount changes (each one publish) */
#define MIN_READS 2000      /* per reader, after the changes are done */

static lu_context *churn_ctx;
static atomic_int churn_done;

typedef struct churn_reader {
    unsigned seed;
    long reads, wrong;
} churn_reader;

/* Every answer must be one a published table gives: /shared.txt from the
 * base ("base") or from one volume ("vol K"); /own_K.txt, when found,
 * holds "own K". */
static void *churn_read(void *arg)
{
    churn_reader *r = arg;
    long after = 0;
    while (!atomic_load(&churn_done) || after++ < MIN_READS) {
        void *data;
        size_t size;
        lu_error err;
        if (lu_read(churn_ctx, "/shared.txt", &data, &size, &err) != LU_OK) r->wrong++;
        else {
            const char *p = data;
            bool ok = (size == 4 && memcmp(p, "base", 4) == 0) ||
                      (size == 5 && memcmp(p, "vol ", 4) == 0 && p[4] >= '0' && p[4] < '0' + NVOL);
            r->wrong += !ok;
            lu_free(churn_ctx, data);
        }
        int k = (int)(rand_r(&r->seed) % NVOL);
        char own[32], want[16];
        snprintf(own, sizeof own, "/own_%d.txt", k);
        snprintf(want, sizeof want, "own %d", k);
        if (lu_read(churn_ctx, own, &data, &size, &err) == LU_OK) {
            r->wrong += size != strlen(want) || memcmp(data, want, size) != 0;
            lu_free(churn_ctx, data);
        } else if (err.status != LU_NOT_FOUND) r->wrong++;
        (void)lu_exists(churn_ctx, own);
        lu_stat_info si;
        if (lu_stat(churn_ctx, "/shared.txt", &si, &err) != LU_OK || (si.size != 4 && si.size != 5)) r->wrong++;
        r->reads++;
    }
    return NULL;
}

Test(cell, readers_get_valid_answers_during_thousands_of_changes, .timeout = 600)
{
    char *uris[NVOL];
    for (int k = 0; k < NVOL; k++) {
        char file[32], content[16], own[32], owntext[16];
        snprintf(file, sizeof file, "v%d.zip", k);
        snprintf(content, sizeof content, "vol %d", k);
        snprintf(own, sizeof own, "own_%d.txt", k);
        snprintf(owntext, sizeof owntext, "own %d", k);
        char *p = th_path(dir, file);
        th_make_zip(p, (const char *[]){"shared.txt", content, own, owntext, NULL});
        uris[k] = uri_of(p);
    }
    char *base = th_path(dir, "base.zip");
    th_make_zip(base, (const char *[]){"shared.txt", "base", NULL});
    lu_context *ctx = th_open(dir, NULL);
    lu_error err;
    cr_assert_eq(lu_mount_add(ctx, "base", uri_of(base), 0, LU_MOUNT_NO_PERSIST, &err), LU_OK, "%s", err.message);
    churn_ctx = ctx;
    atomic_store(&churn_done, 0);
    churn_reader r[NREADERS];
    pthread_t t[NREADERS];
    for (int i = 0; i < NREADERS; i++) {
        r[i] = (churn_reader){(unsigned)i + 1, 0, 0};
        cr_assert_eq(pthread_create(&t[i], NULL, churn_read, &r[i]), 0);
    }
    /* adds, replaces (a name to another volume) and removes */
    unsigned seed = 99;
    bool mounted[NVOL] = {false};
    for (int c = 0; c < CHANGES; c++) {
        int k = (int)(rand_r(&seed) % NVOL);
        char name[16];
        snprintf(name, sizeof name, "m%d", k);
        if (mounted[k] && rand_r(&seed) % 2) {
            drop(ctx, name);
            mounted[k] = false;
        } else {
            add(ctx, name, uris[rand_r(&seed) % NVOL]);
            mounted[k] = true;
        }
    }
    atomic_store(&churn_done, 1);
    long reads = 0;
    for (int i = 0; i < NREADERS; i++) {
        pthread_join(t[i], NULL);
        cr_expect_eq(r[i].wrong, 0, "reader %d: %ld wrong answers of %ld", i, r[i].wrong, r[i].reads);
        cr_expect_geq(r[i].reads, MIN_READS);
        reads += r[i].reads;
    }
    lu_context_close(ctx);
    for (int k = 0; k < NVOL; k++) cr_expect_not(fd_open_on(uris[k] + 4), "volume %d still open after close", k);
    cr_log_info("cell churn: %d changes, %ld reads", CHANGES, reads);
}

/* ---- a snapshot is freed by its last reader ---------------------------- */

typedef struct hold {
    lu_context *ctx;
    int cpu;                 /* -1: wherever it runs */
    lu_snapshot *s;
    unsigned shard;
} hold;

static void pin(int cpu)
{
    if (cpu < 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    pthread_setaffinity_np(pthread_self(), sizeof set, &set);
}

static void *take(void *arg)
{
    hold *h = arg;
    pin(h->cpu);
    h->s = lu__cell_acquire(&h->ctx->cell, &h->shard);
    return NULL;
}

static void *give_back(void *arg)
{
    hold *h = arg;
    pin(h->cpu);
    lu__cell_release(&h->ctx->cell, h->s, h->shard);
    return NULL;
}

static void on_thread(void *(*fn)(void *), hold *h)
{
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, fn, h), 0);
    pthread_join(t, NULL);
}

/* Mounts the volume "gone.zip" (one entry), takes `n` holds of that
 * snapshot on threads pinned to CPUs 0, 1, 0, ..., then removes it and
 * publishes `publishes` more tables (another mount added and removed). */
static char *held_volume(lu_context *ctx, hold *h, int n, int publishes)
{
    char *gone = th_path(dir, "gone.zip"), *other = th_path(dir, "other.zip");
    th_make_zip(gone, (const char *[]){"g.txt", "held", NULL});
    th_make_zip(other, (const char *[]){"o.txt", "other", NULL});
    add(ctx, "gone", uri_of(gone));
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    for (int i = 0; i < n; i++) {
        h[i] = (hold){ctx, cpus > 1 ? i % 2 : -1, NULL, 0};
        on_thread(take, &h[i]);
        cr_assert_not_null(h[i].s);
        cr_assert_eq(h[i].s, h[0].s, "one snapshot");
    }
    drop(ctx, "gone");
    cr_assert_not(lu_exists(ctx, "/g.txt"));
    for (int p = 0; p < publishes; p++) {
        if (p % 2) drop(ctx, "other");
        else add(ctx, "other", uri_of(other));
    }
    cr_assert(unlink(gone) == 0);
    cr_assert(fd_open_on(gone), "the held snapshot keeps its volume open");
    return gone;
}

/* The held snapshot still serves its volume: its entry reads whole. */
static void read_held(const hold *h)
{
    const lu_mount *m;
    const lu_entry *e;
    cr_assert(lu__snapshot_find(h->s, "/g.txt", 6, lu__hash_canonical("/g.txt", 6), &m, &e));
    void *data;
    lu_error err;
    cr_assert_eq(lu__archive_read(m->archive, e, &data, &err), LU_OK, "%s", err.message);
    cr_assert_eq(memcmp(data, "held", 4), 0);
    lu__free(h->s->env, data);
}

Test(cell, snapshot_freed_when_its_one_reader_releases_after_many_publishes)
{
    lu_context *ctx = th_open(dir, NULL);
    hold h[1];
    char *gone = held_volume(ctx, h, 1, 9);
    read_held(&h[0]);
    on_thread(give_back, &h[0]);
    cr_assert_not(fd_open_on(gone), "the last release frees the snapshot and closes the volume");
    lu_context_close(ctx);
}

Test(cell, snapshot_freed_only_when_the_last_of_its_readers_releases)
{
    lu_context *ctx = th_open(dir, NULL);
    hold h[3];
    char *gone = held_volume(ctx, h, 3, 5);
    /* taken on CPUs 0, 1, 0; released in another order, each on the other
     * CPU than it was taken on (a release must count on the shard of its
     * acquisition, not on the one it runs on) */
    int order[3] = {0, 2, 1};
    for (int i = 0; i < 3; i++) {
        hold *x = &h[order[i]];
        read_held(x);
        x->cpu = x->cpu < 0 ? -1 : 1 - x->cpu;
        on_thread(give_back, x);
        if (i < 2) cr_assert(fd_open_on(gone), "freed with %d readers still holding it", 2 - i);
    }
    cr_assert_not(fd_open_on(gone), "the last release frees the snapshot");
    lu_context_close(ctx);
}

Test(cell, unheld_snapshot_freed_at_the_next_publish)
{
    lu_context *ctx = th_open(dir, NULL);
    char *gone = th_path(dir, "gone.zip");
    th_make_zip(gone, (const char *[]){"g.txt", "held", NULL});
    add(ctx, "gone", uri_of(gone));
    /* lookups on both CPUs leave counts on two shards, all released */
    hold h[2];
    for (int i = 0; i < 2; i++) {
        h[i] = (hold){ctx, sysconf(_SC_NPROCESSORS_ONLN) > 1 ? i : -1, NULL, 0};
        on_thread(take, &h[i]);
        on_thread(give_back, &h[i]);
    }
    cr_assert(unlink(gone) == 0);
    cr_assert(fd_open_on(gone));
    drop(ctx, "gone");
    cr_assert_not(fd_open_on(gone), "no reader holds it: the writer's transfer frees it");
    lu_context_close(ctx);
}

/* ---- the per-CPU counts ------------------------------------------------- */

/* The sums over every CPU of slot w's acquisitions and releases. */
static void sums(const lu_snapshot_cell *c, uint32_t w, uint64_t *in, uint64_t *out)
{
    *in = atomic_load(&c->shared[w].in);
    *out = atomic_load(&c->shared[w].out);
    for (size_t k = 0; k < c->ncpu; k++) {
        *in += atomic_load(&c->cpu[k * LU_CELL_SLOTS + w].in);
        *out += atomic_load(&c->cpu[k * LU_CELL_SLOTS + w].out);
    }
}

Test(cell, the_per_cpu_fast_path_is_in_use_where_the_system_offers_it)
{
    lu_context *ctx = th_open(dir, NULL);
#if defined(LU_CELL_RSEQ)
    /* x86-64 Linux with glibc >= 2.35 (this project's machines): rseq is
     * registered for every thread and membarrier is there; the plain-add
     * path must be the one the other tests exercise */
    cr_assert(ctx->cell.fast, "rseq area %u bytes: the per-CPU fast path is off", (unsigned)__rseq_size);
    /* after a lookup no critical section is left registered: its
     * descriptor lies in the library, and a Lua module is unloaded with
     * its state (the kernel would fault reading an unmapped descriptor) */
    char *p = th_path(dir, "cs.zip");
    th_make_zip(p, (const char *[]){"a.txt", "a", NULL});
    add(ctx, "cs", uri_of(p));
    cr_assert(lu_exists(ctx, "/a.txt"));
    const struct rseq *r = (const struct rseq *)((char *)__builtin_thread_pointer() + __rseq_offset);
    cr_assert_eq(r->rseq_cs, 0, "a critical section is still registered after the lookup");
#else
    cr_assert_not(ctx->cell.fast);
    cr_log_info("cell: this build counts with atomic adds (no rseq fast path)");
#endif
    lu_context_close(ctx);
}

#define COUNTERS 6           /* threads: three times the CPUs of this project's machines */
#define COUNT_PAIRS 5000000   /* acquisitions and releases each: some 20 ms of CPU a thread, many time slices */

static void *count_pairs(void *arg)
{
    lu_context *ctx = arg;
    for (int i = 0; i < COUNT_PAIRS; i++) {
        unsigned token;
        lu_snapshot *s = lu__cell_acquire(&ctx->cell, &token);
        lu__cell_release(&ctx->cell, s, token);
    }
    return NULL;
}

/* Six threads on two CPUs are preempted and moved between CPUs in the
 * middle of their counts, millions of times over: an add that an rseq
 * critical section did not protect would lose counts (two threads of one
 * CPU adding from the same old value) and the slot's sums would disagree
 * with the number of calls made. */
Test(cell, counts_stay_exact_across_preemption_and_migration, .timeout = 600)
{
    char *p = th_path(dir, "count.zip");
    th_make_zip(p, (const char *[]){"c.txt", "count", NULL});
    lu_context *ctx = th_open(dir, NULL);
    add(ctx, "count", uri_of(p));
    uint32_t w = atomic_load(&ctx->cell.current);
    uint64_t in0, out0, in, out;
    sums(&ctx->cell, w, &in0, &out0);
    pthread_t t[COUNTERS];
    for (int i = 0; i < COUNTERS; i++) cr_assert_eq(pthread_create(&t[i], NULL, count_pairs, ctx), 0);
    for (int i = 0; i < COUNTERS; i++) pthread_join(t[i], NULL);
    sums(&ctx->cell, w, &in, &out);
    cr_assert_eq(in - in0, (uint64_t)COUNTERS * COUNT_PAIRS, "acquisitions counted %llu of %llu",
                 (unsigned long long)(in - in0), (unsigned long long)COUNTERS * COUNT_PAIRS);
    cr_assert_eq(out - out0, (uint64_t)COUNTERS * COUNT_PAIRS, "releases counted %llu of %llu",
                 (unsigned long long)(out - out0), (unsigned long long)COUNTERS * COUNT_PAIRS);
    cr_assert(lu_exists(ctx, "/c.txt"));
    lu_context_close(ctx);
}

/* Every slot but one held by readers: the writer's next publish waits for
 * a release (it never frees what a reader holds), and every held snapshot
 * is freed by its release. */
Test(cell, a_writer_waits_for_a_free_slot_and_frees_each_held_snapshot_on_release, .timeout = 600)
{
    char *gone = th_path(dir, "gone.zip"), *other = th_path(dir, "other.zip");
    th_make_zip(gone, (const char *[]){"g.txt", "held", NULL});
    th_make_zip(other, (const char *[]){"o.txt", "other", NULL});
    lu_context *ctx = th_open(dir, NULL);
    add(ctx, "gone", uri_of(gone));
    /* hold the snapshot with "gone" (slot 1), then publish and hold the
     * next, up to slot LU_CELL_SLOTS - 2; the last publish fills the last slot */
    hold h[LU_CELL_SLOTS - 2];
    for (int i = 0; i < LU_CELL_SLOTS - 2; i++) {
        h[i] = (hold){ctx, -1, NULL, 0};
        on_thread(take, &h[i]);
        cr_assert_not_null(h[i].s);
        if (i == 0) drop(ctx, "gone");
        else if (i % 2) add(ctx, "other", uri_of(other));
        else drop(ctx, "other");
    }
    /* every slot is taken now: held by a reader, or published; release the
     * first on another thread while a publish waits for a slot */
    cr_assert(unlink(gone) == 0);
    cr_assert(fd_open_on(gone));
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, give_back, &h[0]), 0);
    add(ctx, "other", uri_of(other));   /* returns once h[0]'s slot is free */
    pthread_join(t, NULL);
    cr_assert_not(fd_open_on(gone), "the release freed the snapshot that held the removed volume");
    for (int i = 1; i < LU_CELL_SLOTS - 2; i++) on_thread(give_back, &h[i]);
    for (uint32_t w = 1; w < LU_CELL_SLOTS; w++) {
        uint64_t in, out;
        sums(&ctx->cell, w, &in, &out);
        cr_assert_eq(in, out, "slot %u: %llu acquisitions, %llu releases", w, (unsigned long long)in,
                     (unsigned long long)out);
        if (w != atomic_load(&ctx->cell.current)) cr_assert_null(ctx->cell.held[w], "slot %u still holds a snapshot", w);
    }
    lu_context_close(ctx);
}

#if defined(LU_CELL_RSEQ)
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

/* Makes membarrier fail with EPERM in this process from now on (Criterion
 * runs each test in a process of its own). */
static void forbid_membarrier(void)
{
    struct sock_filter f[] = {
        BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
        BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_membarrier, 0, 1),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (EPERM & SECCOMP_RET_DATA)),
        BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
    };
    struct sock_fprog prog = {(unsigned short)(sizeof f / sizeof f[0]), f};
    cr_assert_eq(prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), 0);
    cr_assert_eq(prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog), 0, "seccomp: %s", strerror(errno));
    cr_assert_neq(syscall(SYS_membarrier, 0, 0, 0), 0, "membarrier still works");
}

/* A sandbox that forbids membarrier after the context opened (its fast
 * path chosen): the writer's barrier falls back to a TLB shootdown, held
 * snapshots are still freed by their last release, and nothing hangs. */
Test(cell, a_sandbox_that_forbids_membarrier_later_still_frees_retired_snapshots, .timeout = 120)
{
    lu_context *ctx = th_open(dir, NULL);
    cr_assert(ctx->cell.fast);
    forbid_membarrier();
    hold h[1];
    char *gone = held_volume(ctx, h, 1, 3 * LU_CELL_SLOTS);   /* more publishes than slots */
    read_held(&h[0]);
    on_thread(give_back, &h[0]);
    cr_assert_not(fd_open_on(gone), "the last release freed the snapshot");
    cr_assert_not_null(ctx->cell.tlb_block, "the fallback barrier was not used");
    cr_assert_not(ctx->cell.barrier_failed);
    lu_context_close(ctx);
}
#endif
