/* test_crash.c -- crash consistency of the mounts file (SPEC §5, §15).
 *
 * A child process adds and removes mounts in a fixed cycle as fast as it
 * can; the parent kills it with SIGKILL at a random moment, then reopens the
 * save directory and checks the table is one the cycle passes through (the
 * old or the new one, never a mix, an empty or a corrupt file). At least
 * 500 kills (LU_CRASH_KILLS overrides).
 */
#include <signal.h>
#include <time.h>

#include "helpers.h"

#define NVOL 6

static char *vol_uri[NVOL];

/* The cycle: add m0..m5 (priority = index), then remove m0..m5, forever. */
static void child_loop(const char *save)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    lu_context *ctx = NULL;
    lu_error err;
    for (int tries = 0; lu_context_open(&cfg, &ctx, &err) == LU_LOCKED && tries < 1000; tries++)
        usleep(1000);
    if (!ctx) _exit(3);
    for (;;) {
        /* Continue the cycle from whatever state the last child left. */
        size_t n = 0;
        lu_mount_info *m;
        lu_mounts_get(ctx, &m, &n, &err);
        int have[NVOL] = {0};
        for (size_t i = 0; i < n; i++) have[m[i].name[1] - '0'] = 1;
        lu_free(ctx, m);
        int next_add = -1, next_remove = -1;
        for (int i = 0; i < NVOL; i++) {
            if (have[i] && next_remove < 0) next_remove = i;
            if (!have[i] && next_add < 0) next_add = i;
        }
        char name[16];
        /* Adding phase while the set is m0..mk with k < 5, else removing. */
        bool adding = n < NVOL && (n == 0 || have[0]);
        if (adding) {
            snprintf(name, sizeof name, "m%d", next_add);
            if (lu_mount_add(ctx, name, vol_uri[next_add], next_add, 0, &err) != LU_OK) _exit(4);
        } else {
            snprintf(name, sizeof name, "m%d", next_remove);
            if (lu_mount_remove(ctx, name, &err) != LU_OK) _exit(5);
        }
    }
}

/* A valid state is {m0..mk} (adding phase) or {mj..m5} (removing phase). */
static void check_state(const char *save, int kill_no)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    lu_context *ctx = NULL;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "kill %d: reopen: %s", kill_no, err.message);
    cr_assert_eq(lu_startup_report_count(ctx), 0, "kill %d: reopen reported a problem", kill_no);
    lu_mount_info *m;
    size_t n;
    lu_mounts_get(ctx, &m, &n, &err);
    int have[NVOL] = {0};
    for (size_t i = 0; i < n; i++) {
        int k = m[i].name[1] - '0';
        cr_assert(k >= 0 && k < NVOL, "kill %d: unknown mount %s", kill_no, m[i].name);
        cr_assert_eq(m[i].priority, k, "kill %d: %s has priority %d", kill_no, m[i].name, m[i].priority);
        have[k] = 1;
    }
    lu_free(ctx, m);
    int first = -1, last = -1;
    for (int i = 0; i < NVOL; i++)
        if (have[i]) {
            if (first < 0) first = i;
            last = i;
        }
    if (n > 0) {
        cr_assert_eq((size_t)(last - first + 1), n, "kill %d: mounts not contiguous", kill_no);
        cr_assert(first == 0 || last == NVOL - 1, "kill %d: state m%d..m%d is not in the cycle",
                  kill_no, first, last);
    }
    lu_context_close(ctx);
}

Test(crash, sigkill_during_mount_writes_leaves_old_or_new_table, .timeout = 600)
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
    unsigned seed = (unsigned)time(NULL);
    srand(seed);
    int changed = 0;
    char *last = NULL;
    for (int k = 0; k < kills; k++) {
        pid_t pid = fork();
        cr_assert(pid >= 0);
        if (pid == 0) child_loop(save);
        usleep(500 + (useconds_t)(rand() % 6000));
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        cr_assert(WIFSIGNALED(status), "kill %d (seed %u): child exited by itself with %d", k, seed,
                  WEXITSTATUS(status));
        check_state(save, k);
        char *now = th_read_file(th_path(save, "liveupdate.mounts"), NULL);
        if (now && (!last || strcmp(now, last) != 0)) changed++;
        free(last);
        last = now;
    }
    cr_log_info("%d kills, the table changed between %d of them (seed %u)", kills, changed, seed);
    cr_assert_gt(changed, kills / 4, "children must get real work done between kills");
}
