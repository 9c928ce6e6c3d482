/* test_cell.c -- the publication cell (engine/core/cell.c, docs/ARCHITECTURE.md
 * "Concurrency"): readers on several threads during thousands of mount
 * changes get only valid answers (run under ASan: no use after free, no
 * leak), and a snapshot is freed -- its removed volume closed -- exactly
 * when the last reader holding it releases, on whichever shard, from
 * whichever thread, across any number of publishes. Counts work, never time.
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
