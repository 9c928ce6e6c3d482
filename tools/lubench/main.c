/* main.c -- lubench: liveupdate against its peers (docs/BENCHMARKS.md).
 *
 *   lubench [--quick] [--only <case>[,<case>...]] [--reps N]
 *   lubench [--quick] --curves <out-dir>
 *
 * Generates its inputs in a temporary folder, runs every case for
 * liveupdate and for the peer in the same process (PhysicsFS, zlib, our
 * own exists()) or the same run (`curl -o` against nginx), prints one line
 * per case and a last line "bench: N ok, N miss". --quick uses small inputs
 * (a smoke run in the test suite; its figures mean little); the full run is
 * the one docs/BENCHMARKS.md records. --only runs the named cases (each
 * name checked: a misspelt one is an error, not an empty run); --reps sets
 * the repetitions whose median counts. --curves runs no case: it writes
 * the growth curves (curves.c) as data files into <out-dir> for
 * tools/benchplot. Options follow tools/common/options.h.
 * Exit status 0 whatever the bars say (1 when a case cannot run, 2 on bad
 * arguments).
 */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lubench.h"
#include "options.h"

static const struct {
    const char *name;
    void (*run)(bench *);
} cases[] = {
    {"lookup", bench_lookup},   {"mount", bench_mount},
    {"read", bench_read},       {"read_zstd", bench_read_zstd}, {"startup", bench_startup},
    {"missing_resources", bench_missing}, {"download", bench_download},
    {"memory", bench_memory},
    {"stream_heap", bench_stream_heap},
    {"missing_nested", bench_missing_nested},
    {"startup_limit", bench_startup_limit},
    {"threads", bench_threads},
    {"read_limit", bench_read_limit}, {"read_small", bench_read_small}, {"mount_limit", bench_mount_limit},
    {"lookup_probe", bench_lookup_probe}, {"add_growth", bench_add_growth},
    {"update_bytes", bench_update_bytes},
};

#define NCASES (sizeof cases / sizeof cases[0])

static void usage(FILE *f)
{
    fprintf(f, "usage: lubench [--quick] [--only <case>[,<case>...]] [--reps N]\n"
               "       lubench [--quick] --curves <out-dir>\ncases:");
    for (size_t k = 0; k < NCASES; k++) fprintf(f, " %s", cases[k].name);
    fprintf(f, "\n--reps: repetitions of each case, 1 to %d (the median counts; default 5, --quick 3)\n"
               "One line per case: case <name>: ours=... peer=... ratio=... bar=... ok|MISS\n"
               "--curves: instead of the cases, write add.dat, open.dat and lookup.dat (two columns each)\n"
               "into <out-dir> for tools/benchplot (--quick: tiny sizes)\n", LUBENCH_MAX_REPS);
}

/* Marks in run[] the cases the comma-separated `only` names (every case
 * when NULL). Returns 0, or 2 after naming a case that is not one. */
static int choose(const char *only, bool run[NCASES])
{
    for (size_t k = 0; k < NCASES; k++) run[k] = !only;
    for (const char *s = only; s && *s;) {
        size_t len = strcspn(s, ",");
        size_t k = 0;
        while (k < NCASES && !(strlen(cases[k].name) == len && strncmp(s, cases[k].name, len) == 0)) k++;
        if (k == NCASES) {
            fprintf(stderr, "lubench: --only: unknown case '%.*s'; the cases are:", (int)len, s);
            for (k = 0; k < NCASES; k++) fprintf(stderr, " %s", cases[k].name);
            fprintf(stderr, " (lubench --help)\n");
            return 2;
        }
        run[k] = true;
        s += len + (s[len] == ',');
    }
    return only && !*only ? luopt_usage_error("lubench", "option --only needs a value") : 0;
}

int main(int argc, char **argv)
{
    /* Freed memory stays in the process (blocks under 32 MiB come from
     * the heap, which is never trimmed): a case measures the work of the
     * code, not when glibc handed pages back to the kernel and the next
     * allocation faulted them in again (about 15 us a page on the VMs we
     * run on: the same mount measured 0.3x to 7.6x its limit depending on
     * which side freed a large block last). docs/BENCHMARKS.md, "Heap". */
#if !defined(__SANITIZE_ADDRESS__) && !defined(__SANITIZE_THREAD__)
    /* (a sanitizer's allocator takes no mallopt, and its figures mean
     * nothing anyway: there lubench runs for its checks only) */
    if (mallopt(M_MMAP_THRESHOLD, 32 << 20) != 1 || mallopt(M_TRIM_THRESHOLD, -1) != 1) {
        /* 32 MiB: the largest threshold glibc takes (HEAP_MAX_SIZE / 2 on 64 bits) */
        fprintf(stderr, "lubench: mallopt refused to keep freed memory\n");
        return 1;
    }
#endif
    bench b;
    memset(&b, 0, sizeof b);
    bool quick = false, run[NCASES];
    const char *only = NULL, *curves = NULL;
    long long reps = 0;
    const luopt opts[] = {
        LUOPT_BOOL("--quick", &quick),
        LUOPT_STR("--only", &only),
        LUOPT_NUM("--reps", &reps, 1, LUBENCH_MAX_REPS),
        LUOPT_STR("--curves", &curves),
    };
    const luopt_cmd line = {"lubench", "lubench", usage, opts, sizeof opts / sizeof *opts, NULL, 0, NULL};
    int status = luopt_parse(&line, argc - 1, argv + 1);
    if (status != LUOPT_RUN) return status;
    if ((status = choose(only, run))) return status;
    if (curves && !*curves) return luopt_usage_error("lubench", "option --curves needs a value");
    if (curves && (only || reps)) return luopt_usage_error("lubench", "--curves runs no case: --only and --reps do not apply");
    b.size = quick ? (bench_sizes){8, 500, 50000, 2000, 8u << 20, 8, 200, 2000, 16u << 20, 3}
                   : (bench_sizes){64, 2000, 400000, 20000, 100u << 20, 32, 2000, 10000, 200u << 20, 5};
    if (reps) b.size.reps = (int)reps;
    const char *tmp = getenv("TMPDIR");
    snprintf(b.dir, sizeof b.dir, "%s/lubench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(b.dir)) {
        perror("lubench: mkdtemp");
        return 1;
    }
    printf("lubench: %s %s, inputs in %s\n", quick ? "quick" : "full", curves ? "curves" : "run", b.dir);
    fflush(stdout);
    int rc = 0;
    if (curves) {
        rc = bench_curves(&b, curves, quick);
    } else {
        for (size_t k = 0; k < NCASES; k++)
            if (run[k]) cases[k].run(&b);
        printf("bench: %d ok, %d miss\n", b.ok, b.miss);
    }
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", b.dir);
    return system(cmd) == 0 ? rc : 1;
}
