/* main.c -- lubench: liveupdate against its peers (SPEC §14).
 *
 *   lubench [--quick] [--only <case>]
 *
 * Generates its inputs in a temporary folder, runs every case for
 * liveupdate and for the peer in the same process (PhysicsFS, zlib, our
 * own exists()) or the same run (`curl -o` against nginx), prints one line
 * per case and a last line "bench: N ok, N miss". --quick uses small inputs
 * (a smoke run in the test suite; its figures mean little); the full run is
 * the one docs/BENCHMARKS.md records. Exit status 0 whatever the bars say
 * (1 when a case cannot run).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lubench.h"

static const struct {
    const char *name;
    void (*run)(bench *);
} cases[] = {
    {"lookup", bench_lookup},   {"mount", bench_mount},
    {"read", bench_read},       {"read_zstd", bench_read_zstd}, {"startup", bench_startup},
    {"missing_resources", bench_missing}, {"download", bench_download},
    {"memory", bench_memory},
};

int main(int argc, char **argv)
{
    bench b;
    memset(&b, 0, sizeof b);
    bool quick = false;
    const char *only = NULL;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0) quick = true;
        else if (strcmp(argv[i], "--only") == 0 && i + 1 < argc) only = argv[++i];
        else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: lubench [--quick] [--only <case>]\ncases:");
            for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) printf(" %s", cases[k].name);
            printf("\nOne line per case: case <name>: ours=... peer=... ratio=... bar=... ok|MISS\n");
            return 0;
        } else {
            fprintf(stderr, "lubench: unexpected argument '%s' (lubench --help)\n", argv[i]);
            return 2;
        }
    }
    b.size = quick ? (bench_sizes){8, 500, 50000, 2000, 8u << 20, 8, 200, 2000, 16u << 20, 3}
                   : (bench_sizes){64, 2000, 400000, 20000, 100u << 20, 32, 2000, 10000, 200u << 20, 5};
    const char *tmp = getenv("TMPDIR");
    snprintf(b.dir, sizeof b.dir, "%s/lubench.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(b.dir)) {
        perror("lubench: mkdtemp");
        return 1;
    }
    printf("lubench: %s run, inputs in %s\n", quick ? "quick" : "full", b.dir);
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++)
        if (!only || strcmp(only, cases[k].name) == 0) cases[k].run(&b);
    printf("bench: %d ok, %d miss\n", b.ok, b.miss);
    char cmd[600];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", b.dir);
    return system(cmd) == 0 ? 0 : 1;
}
