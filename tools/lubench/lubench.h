/* lubench.h -- what the parts of lubench share: sizes, timing, inputs,
 * the report line (docs/BENCHMARKS.md).
 */
#ifndef LUBENCH_H
#define LUBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The most repetitions of a case (--reps): the cases keep their timings
 * in arrays of this size. */
#define LUBENCH_MAX_REPS 15

/* Sizes of one run: full (docs/BENCHMARKS.md) or --quick (a smoke run). */
typedef struct bench_sizes {
    int lookup_mounts, lookup_entries, lookup_probes;
    int mount_entries;
    uint64_t read_bytes;
    int startup_mounts, startup_entries;
    int proxy_resources;
    uint64_t download_bytes;
    int reps;
} bench_sizes;

typedef struct bench {
    bench_sizes size;
    char dir[512];            /* scratch folder, removed at exit */
    const char *bin_dir;      /* where lubench runs from (for nothing but messages) */
    int ok, miss;
} bench;

/* report.c. Monotonic seconds. */
double bench_now(void);

/* CPU seconds of the calling thread: a case whose work never waits (files
 * in the page cache) times this, so a descheduled slice on a shared machine
 * lands on nobody's cost. */
double bench_cpu_now(void);

/* Median of n values (sorts them). */
double bench_median(double *v, int n);

/* Prints one case line, exactly:
 *   case <name>: ours=<v> <unit> peer=<v> <unit> ratio=<r> bar=<op><bar> <ok|MISS>
 * `op` is "<=" (ratio at most bar) or ">=" (at least). Counts ok/miss. */
void bench_report(bench *b, const char *name, double ours, double peer, const char *unit, const char *op,
                  double bar);

/* inputs.c: zips written with the library's writer into b->dir. */
/* `entries` small stored entries named <prefix>/<i>.txt (i from 0). */
int bench_zip_small(const char *path, const char *prefix, int entries, bool version_file, const char *vname);
/* About `bytes` of mixed content: half text-like (deflated), half random (stored). */
int bench_zip_mixed(const char *path, uint64_t bytes);
/* The same Defold-like text entries (about `bytes` in all) twice, as the bundler
 * writes them: deflated (level 6) into one zip, zstd (LU_ZIP_ZSTD_LEVEL)
 * into the other. */
int bench_zip_text_pair(const char *deflate_path, const char *zstd_path, uint64_t bytes);
/* One stored entry of `bytes` random bytes. */
int bench_zip_big(const char *path, uint64_t bytes);

/* serve.c: nginx serving `root` on a free loopback port; with `log`, an
 * access log <dir>/access.log of "<status> <uri> <bytes sent>" lines.
 * Returns the port, or 0 after saying why. */
int bench_nginx_start(bench *b, const char *root, bool log);
void bench_nginx_stop(bench *b);

/* cases.c */
void bench_lookup(bench *b);
void bench_mount(bench *b);
void bench_memory(bench *b);
void bench_read(bench *b);
void bench_read_zstd(bench *b);
void bench_startup(bench *b);
void bench_missing(bench *b);
void bench_download(bench *b);

/* cases_stream.c */
void bench_stream_heap(bench *b);
/* curves.c: lubench --curves <out_dir> (docs/BENCHMARKS.md): writes
 * add.dat, open.dat and lookup.dat into out_dir (made when missing; its
 * parent must exist), tiny sizes when `quick`. Returns 0, or 1 after
 * printing what failed. */
int bench_curves(bench *b, const char *out_dir, bool quick);

/* cases_missing.c */
void bench_missing_nested(bench *b);
/* cases_startup.c: open with many persisted mounts against opening the
 * volumes and building one index. */
void bench_startup_limit(bench *b);
/* cases_threads.c */
void bench_threads(bench *b);
/* cases_read.c: reads and mounts against the limits of the design */
void bench_read_limit(bench *b);
void bench_read_small(bench *b);
void bench_mount_limit(bench *b);
/* cases_update.c: the bytes a content release moves from nginx against
 * the bytes of the entries it changed */
void bench_update_bytes(bench *b);
/* cases_index.c: the merged index against a bare hash probe and its own first adds */
void bench_lookup_probe(bench *b);
void bench_add_growth(bench *b);

#endif
