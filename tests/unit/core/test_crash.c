/* test_crash.c -- crash consistency of the mounts file (docs/FORMATS.md, docs/TESTING.md).
 *
 * A child process adds and removes mounts in a fixed cycle of twelve
 * tables and reports each completed change through a pipe. For every kill
 * the parent draws a number of changes N, waits until the child has
 * reported N of them, and kills it with SIGKILL at a random moment inside
 * change N+1 (the child stops after that change, so the kill can also land
 * just after it). The parent then reopens the save directory and checks
 * that the table is exactly N or N+1 steps past the one before: never a
 * mix, an empty or a corrupt file, and never a change lost or replayed.
 * Progress is counted in the child's completed writes, not in wall-clock
 * time, so the test holds on a busy machine. At least 500 kills
 * (LU_CRASH_KILLS overrides).
 */
#include <errno.h>
#include <signal.h>
#include <time.h>

#include "helpers.h"

#define NVOL 6
#define NSTATE (2 * NVOL) /* {}, {m0}, …, {m0..m5}, {m1..m5}, …, {m5} */
#define MAX_STEPS 4       /* completed changes the parent waits for, at most */

static char *vol_uri[NVOL];

/* The position of a table in the cycle, or -1 if the cycle never has it:
 * {m0..m(k-1)} is k (0..6), {mj..m5} with j = 1..5 is 6 + j. */
static int cycle_index(const int have[NVOL], size_t n)
{
    int first = -1, last = -1;
    for (int i = 0; i < NVOL; i++)
        if (have[i]) {
            if (first < 0) first = i;
            last = i;
        }
    if (n == 0) return 0;
    if ((size_t)(last - first + 1) != n) return -1;
    if (first == 0) return (int)n;
    if (last == NVOL - 1) return NVOL + first;
    return -1;
}

/* Makes `changes` changes along the cycle, writing one byte to `report`
 * after each, then waits to be killed. */
static void child_run(const char *save, int changes, int report)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    lu_context *ctx = NULL;
    lu_error err;
    /* The previous child is reaped before this one starts, so its lock is
     * gone; a retry only covers a slow release of the lock by the kernel. */
    for (int tries = 0; lu_context_open(&cfg, &ctx, &err) == LU_LOCKED && tries < 1000; tries++)
        usleep(1000);
    if (!ctx) _exit(3);
    for (int c = 0; c < changes; c++) {
        /* Continue the cycle from whatever state the last child left. */
        size_t n = 0;
        lu_mount_info *m;
        if (lu_mounts_get(ctx, &m, &n, &err) != LU_OK) _exit(6);
        int have[NVOL] = {0};
        for (size_t i = 0; i < n; i++) have[m[i].name[1] - '0'] = 1;
        lu_free(ctx, m);
        int idx = cycle_index(have, n);
        if (idx < 0) _exit(7);
        char name[16];
        if (idx < NVOL) { /* adding phase: add m<idx> */
            snprintf(name, sizeof name, "m%d", idx);
            if (lu_mount_add(ctx, name, vol_uri[idx], idx, 0, &err) != LU_OK) _exit(4);
        } else { /* removing phase: remove the lowest */
            snprintf(name, sizeof name, "m%d", idx - NVOL);
            if (lu_mount_remove(ctx, name, &err) != LU_OK) _exit(5);
        }
        char done = 'w';
        if (write(report, &done, 1) != 1) _exit(8);
    }
    for (;;) pause();
}

/* Reopens the save dir, checks the table is one of the cycle and returns
 * its index. */
static int check_state(const char *save, int kill_no, unsigned seed)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    lu_context *ctx = NULL;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "kill %d (seed %u): reopen: %s", kill_no,
                 seed, err.message);
    cr_assert_eq(lu_startup_report_count(ctx), 0, "kill %d (seed %u): reopen reported a problem",
                 kill_no, seed);
    lu_mount_info *m;
    size_t n;
    cr_assert_eq(lu_mounts_get(ctx, &m, &n, &err), LU_OK);
    int have[NVOL] = {0};
    for (size_t i = 0; i < n; i++) {
        int k = m[i].name[1] - '0';
        cr_assert(k >= 0 && k < NVOL, "kill %d (seed %u): unknown mount %s", kill_no, seed, m[i].name);
        cr_assert_eq(m[i].priority, k, "kill %d (seed %u): %s has priority %d", kill_no, seed,
                     m[i].name, m[i].priority);
        have[k] = 1;
    }
    lu_free(ctx, m);
    lu_context_close(ctx);
    int idx = cycle_index(have, n);
    cr_assert(idx >= 0, "kill %d (seed %u): a table of %zu mounts that is not in the cycle", kill_no,
              seed, n);
    return idx;
}

/* Reads exactly `count` bytes from `fd`; false at end of file. */
static bool read_reports(int fd, int count)
{
    char buf[MAX_STEPS];
    int got = 0;
    while (got < count) {
        ssize_t r = read(fd, buf, (size_t)(count - got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        got += (int)r;
    }
    return true;
}

Test(crash, sigkill_during_mount_writes_leaves_old_or_new_table, .timeout = 900)
{
    char *save = th_tempdir(), *vols = th_tempdir();
    for (int i = 0; i < NVOL; i++) {
        char file[32];
        snprintf(file, sizeof file, "v%d.zip", i);
        char *p = th_path(vols, file);
        th_make_zip(p, (const char *[]){"x.txt", file, NULL});
        vol_uri[i] = malloc(strlen(p) + 5);
        TH_KEEP(vol_uri[i]);
        sprintf(vol_uri[i], "zip:%s", p);
    }
    const char *env = getenv("LU_CRASH_KILLS");
    int kills = env ? atoi(env) : 500;
    const char *env_seed = getenv("LU_CRASH_SEED");
    unsigned seed = env_seed ? (unsigned)strtoul(env_seed, NULL, 10) : (unsigned)time(NULL);
    srand(seed);
    int state = 0, writes = 0, landed_after = 0;
    for (int k = 0; k < kills; k++) {
        int steps = rand() % (MAX_STEPS + 1);
        int fds[2];
        cr_assert_eq(pipe(fds), 0);
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_run(save, steps + 1, fds[1]);
        }
        close(fds[1]);
        bool ok = read_reports(fds[0], steps);
        /* A random moment inside change steps+1: a short random pause
         * (the pause only spreads the kills; nothing depends on it). */
        if (ok) usleep((useconds_t)(rand() % 2000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        close(fds[0]);
        cr_assert(WIFSIGNALED(status), "kill %d (seed %u): child exited by itself with %d", k, seed,
                  WEXITSTATUS(status));
        cr_assert(ok, "kill %d (seed %u): child died before reporting %d changes", k, seed, steps);
        int now = check_state(save, k, seed);
        int moved = (now - state + NSTATE) % NSTATE;
        cr_assert(moved == steps || moved == (steps + 1) % NSTATE,
                  "kill %d (seed %u): %d changes completed, one in flight, but the table moved %d "
                  "steps (from %d to %d)",
                  k, seed, steps, moved, state, now);
        if (moved != steps) landed_after++;
        writes += moved;
        state = now;
    }
    cr_log_info("%d kills, %d durable changes, %d kills after the change in flight completed (seed %u)",
                kills, writes, landed_after, seed);
}
