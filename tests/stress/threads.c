/* threads.c -- readers on several threads while another thread adds,
 * replaces and removes mounts (docs/ARCHITECTURE.md, docs/FORMATS.md). Built for the asan and tsan
 * configurations by tools/test; exits non-zero on any wrong read or
 * sanitizer report.
 *
 * Every volume vK holds /shared.bin (64 KiB of the byte 'A'+K) and
 * /own_K.txt. A reader must always get a whole /shared.bin of one volume,
 * never a mix, and never an error: the base volume keeps serving it when
 * no vK is mounted; lu_read_from(vK, /own_K.txt) gives its bytes or
 * "not found" (vK not mounted), the volume's path order built by
 * whichever reader asks first.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "liveupdate/liveupdate.h"

#define NVOL 8
#define NREADERS 3
#define SHARED_SIZE 65536

static lu_context *ctx;
static char uris[NVOL][512];
static atomic_int stop;
static atomic_long reads, failures;

static void fail(const char *what)
{
    fprintf(stderr, "threads: %s\n", what);
    atomic_fetch_add(&failures, 1);
}

static void make_volume(const char *path, char fill, const char *own)
{
    static char buf[SHARED_SIZE];
    memset(buf, fill, sizeof buf);
    lu_zip_writer *w;
    lu_error err;
    if (lu_zip_writer_open(path, &w, &err) != LU_OK ||
        lu_zip_writer_add(w, "shared.bin", buf, sizeof buf, 1, &err) != LU_OK ||
        (own && lu_zip_writer_add(w, own, own, strlen(own), 6, &err) != LU_OK) ||
        lu_zip_writer_close(w, &err) != LU_OK) {
        fprintf(stderr, "threads: cannot write %s: %s\n", path, err.message);
        exit(2);
    }
}

static void *reader(void *arg)
{
    unsigned seed = (unsigned)(uintptr_t)arg;
    while (!atomic_load(&stop)) {
        void *data;
        size_t size;
        lu_error err;
        if (lu_read(ctx, "/shared.bin", &data, &size, &err) != LU_OK) {
            fail(err.message);
            continue;
        }
        const char *p = data;
        if (size != SHARED_SIZE || (p[0] != 'Z' && (p[0] < 'A' || p[0] >= 'A' + NVOL)))
            fail("wrong /shared.bin");
        for (size_t i = 1; i < size; i++)
            if (p[i] != p[0]) {
                fail("/shared.bin mixes two volumes");
                break;
            }
        lu_free(ctx, data);
        char own[32];
        snprintf(own, sizeof own, "/own_%d.txt", rand_r(&seed) % NVOL);
        lu_stat_info si;
        if (lu_exists(ctx, own) && lu_stat(ctx, own, &si, &err) == LU_OK && si.size != strlen(own) - 1)
            fail("wrong size for own file");
        /* a per-volume read: each new mount's path order is built by the
         * first reader that asks, readers racing to publish it */
        int k = rand_r(&seed) % NVOL;
        char mount[8];
        snprintf(mount, sizeof mount, "v%d", k);
        snprintf(own, sizeof own, "/own_%d.txt", k);
        lu_status st = lu_read_from(ctx, mount, own, &data, &size, &err);
        if (st == LU_OK) {
            if (size != strlen(own) - 1 || memcmp(data, own + 1, size) != 0) fail("lu_read_from: wrong bytes");
            lu_free(ctx, data);
        } else if (st != LU_NOT_FOUND) {
            fail(err.message);
        }
        if (rand_r(&seed) % 64 == 0) {
            char **paths;
            size_t n;
            if (lu_list_paths(ctx, "/", NULL, &paths, &n, &err) != LU_OK || n < 1) fail("list failed");
            else lu_free(ctx, paths);
            lu_mount_info *m;
            if (lu_mounts_get(ctx, &m, &n, &err) != LU_OK) fail("mounts_get failed");
            else lu_free(ctx, m);
        }
        atomic_fetch_add(&reads, 1);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    int changes = argc > 1 ? atoi(argv[1]) : 2000;
    long min_reads = argc > 2 ? atol(argv[2]) : 20000;
    char dir[] = "/tmp/lustress.XXXXXX";
    if (!mkdtemp(dir)) return 2;
    char base[600];
    snprintf(base, sizeof base, "zip:%s/base.zip", dir);
    make_volume(base + 4, 'Z', NULL);
    for (int i = 0; i < NVOL; i++) {
        char own[32];
        snprintf(own, sizeof own, "own_%d.txt", i);
        snprintf(uris[i], sizeof uris[i], "zip:%s/v%d.zip", dir, i);
        make_volume(uris[i] + 4, (char)('A' + i), own);
    }
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.base_uri = base;   /* no save dir: the table churns in memory */
    lu_error err;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) {
        fprintf(stderr, "threads: open: %s\n", err.message);
        return 2;
    }
    pthread_t th[NREADERS];
    for (int i = 0; i < NREADERS; i++) pthread_create(&th[i], NULL, reader, (void *)(uintptr_t)(i + 1));
    unsigned seed = 42;
    int c = 0;
    for (; c < changes || (atomic_load(&reads) < min_reads && c < 100 * changes); c++) {
        int k = rand_r(&seed) % NVOL;
        char name[8];
        snprintf(name, sizeof name, "v%d", k);
        lu_status st = lu_mount_add(ctx, name, uris[k], rand_r(&seed) % 4, 0, &err);
        if (st == LU_NAME_EXISTS) {
            if (rand_r(&seed) % 2) st = lu_mount_remove(ctx, name, &err);
            else st = lu_mount_add(ctx, name, uris[k], rand_r(&seed) % 4, LU_MOUNT_REPLACE, &err);
        }
        if (st != LU_OK) fail(err.message);
        if (c >= changes) usleep(100);   /* let the readers catch up */
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < NREADERS; i++) pthread_join(th[i], NULL);
    lu_context_close(ctx);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "threads: could not remove %s\n", dir);
    printf("threads: %d mount changes, %ld reads on %d threads, %ld failures\n", c,
           atomic_load(&reads), NREADERS, atomic_load(&failures));
    return atomic_load(&failures) ? 1 : 0;
}
