/* cases_read.c -- reads and mounts against the limits of the design
 * (docs/BENCHMARKS.md, "Issue 17: reads and mounts"), not against a peer:
 *
 *   read_limit   every entry of the mixed zip (100 MB; --quick 8 MB) through
 *                lu_read, against the same entries read with one pread each
 *                at data offsets found beforehand, libdeflate for the
 *                deflated ones, CRC-32 for all, into a fresh buffer each
 *                (what a whole-entry read returns). MB/s, bar >= 0.9.
 *   read_small   20,000 (--quick 2,000) small stored entries: lu_read
 *                against one pread each at the known offset into a fresh
 *                buffer plus its CRC-32. ns per entry, bar <= 1.5.
 *   mount_limit  lu_mount_add of a 100,000-entry zip (--quick 10,000)
 *                against reading its central directory once (one pread),
 *                hashing every name with the library's hash and inserting
 *                each into an open-addressing table. ns per entry, bar <= 2.
 *
 * Reads are timed after one pass over every entry (the first read of an
 * entry checks its local header and learns where its data is; the bars are
 * about the reads after). Times are this thread's CPU time (the files are
 * in the page cache, nothing waits; it holds on a shared machine where wall
 * time does not); medians of b->size.reps repetitions, ours and the limit
 * alternating.
 */
#include <fcntl.h>
#include <libdeflate.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define XXH_INLINE_ALL
#include <xxhash.h>

#include "liveupdate/liveupdate.h"
#include "lubench.h"

/* The library's path hash (engine/core/hash.h, inline there): XXH3 folded
 * to 32 bits. The limit hashes with it. */
static uint32_t path_hash(const char *s, size_t len)
{
    uint64_t h = XXH3_64bits(s, len);
    return (uint32_t)(h ^ (h >> 32));
}

#define REPS_MAX LUBENCH_MAX_REPS

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void die(const char *what)
{
    fprintf(stderr, "lubench: %s\n", what);
    exit(1);
}

static void full_pread(int fd, void *buf, size_t n, uint64_t off)
{
    for (size_t got = 0; got < n;) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r <= 0) die("short read");
        got += (size_t)r;
    }
}

/* The central directory of a zip lubench wrote (no comment; from 65,535
 * entries on, a zip64 end record right before its locator): its offset,
 * size and entry count from the end records. */
static void find_cd(int fd, uint64_t *off, uint64_t *size, uint64_t *count)
{
    struct stat sb;
    unsigned char end[22 + 20 + 56];
    if (fstat(fd, &sb) != 0 || sb.st_size < 22) die("not a zip");
    size_t have = sb.st_size < (off_t)sizeof end ? (size_t)sb.st_size : sizeof end;
    full_pread(fd, end + sizeof end - have, have, (uint64_t)sb.st_size - have);
    const unsigned char *e = end + sizeof end - 22, *loc = e - 20, *e64 = loc - 56;
    if (le(e, 4) != 0x06054b50u) die("no end record where lubench's zips have it");
    *count = le(e + 10, 2);
    *size = le(e + 12, 4);
    *off = le(e + 16, 4);
    if (have == sizeof end && le(loc, 4) == 0x07064b50u && le(e64, 4) == 0x06064b50u) {
        *count = le(e64 + 32, 8);
        *size = le(e64 + 40, 8);
        *off = le(e64 + 48, 8);
    }
}

/* One entry with where its data is, found beforehand. */
typedef struct known {
    char path[128];   /* "/" + the stored name */
    uint64_t off, csize, usize;
    uint32_t crc;
    unsigned method;
} known;

/* Every file entry of `zip` in central-directory order, its data offset
 * from its local header. */
static known *list_known(const char *zip, size_t *n)
{
    int fd = open(zip, O_RDONLY);
    if (fd < 0) die("cannot open an input zip");
    uint64_t off, size, count;
    find_cd(fd, &off, &size, &count);
    unsigned char *cd = malloc(size);
    known *k = calloc(count ? count : 1, sizeof *k);
    if (!cd || !k) die("out of memory");
    full_pread(fd, cd, size, off);
    size_t m = 0;
    for (uint64_t pos = 0; pos + 46 <= size;) {
        const unsigned char *p = cd + pos;
        unsigned nlen = (unsigned)le(p + 28, 2);
        if (nlen && p[46 + nlen - 1] != '/' && nlen + 2 <= sizeof k->path) {
            known *e = &k[m++];
            e->path[0] = '/';
            memcpy(e->path + 1, p + 46, nlen);
            e->method = (unsigned)le(p + 10, 2);
            e->crc = (uint32_t)le(p + 16, 4);
            e->csize = le(p + 20, 4);
            e->usize = le(p + 24, 4);
            unsigned char h[30];
            full_pread(fd, h, sizeof h, le(p + 42, 4));
            e->off = le(p + 42, 4) + 30 + le(h + 26, 2) + le(h + 28, 2);
        }
        pos += 46 + nlen + le(p + 30, 2) + le(p + 32, 2);
    }
    free(cd);
    close(fd);
    *n = m;
    return k;
}

static lu_context *open_context(void)
{
    lu_config cfg;
    lu_config_init(&cfg);
    lu_context *ctx = NULL;
    lu_error err;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) die(err.message);
    return ctx;
}

static void mount(lu_context *ctx, const char *zip)
{
    char uri[700];
    snprintf(uri, sizeof uri, "zip:%s", zip);
    lu_error err;
    if (lu_mount_add(ctx, "v", uri, 1, LU_MOUNT_NO_PERSIST, &err) != LU_OK) die(err.message);
}

/* CPU seconds to lu_read every entry of `k`. */
static double read_ours(lu_context *ctx, const known *k, size_t n)
{
    lu_error err;
    double t = bench_cpu_now();
    for (size_t i = 0; i < n; i++) {
        void *data;
        size_t len;
        if (lu_read(ctx, k[i].path, &data, &len, &err) != LU_OK) die(err.message);
        lu_free(ctx, data);
    }
    return bench_cpu_now() - t;
}

/* CPU seconds to read every entry of `k` at its known offset: one pread
 * (into the result when stored, into `*in` when deflated, then libdeflate),
 * the CRC-32, a fresh result buffer per entry. */
static double read_limit(int fd, const known *k, size_t n, struct libdeflate_decompressor *d, unsigned char **in,
                         size_t *in_cap)
{
    double t = bench_cpu_now();
    for (size_t i = 0; i < n; i++) {
        const known *e = &k[i];
        unsigned char *out = malloc(e->usize + 1);
        if (!out) die("out of memory");
        if (e->method == 0) {
            full_pread(fd, out, e->usize, e->off);
        } else {
            if (e->csize > *in_cap) {
                free(*in);
                *in_cap = e->csize;
                if (!(*in = malloc(*in_cap))) die("out of memory");
            }
            full_pread(fd, *in, e->csize, e->off);
            if (libdeflate_deflate_decompress(d, *in, e->csize, out, e->usize, NULL) != LIBDEFLATE_SUCCESS)
                die("the limit's inflate failed");
        }
        if ((uint32_t)libdeflate_crc32(0, out, e->usize) != e->crc) die("the limit's CRC differs");
        free(out);
    }
    return bench_cpu_now() - t;
}

/* ours and the limit over `zip`, reps times each, warmed up once; the
 * medians in seconds, total bytes and entries in *bytes and *n. */
static void read_both(bench *b, const char *zip, double *ours, double *limit, uint64_t *bytes, size_t *n)
{
    known *k = list_known(zip, n);
    lu_context *ctx = open_context();
    mount(ctx, zip);
    int fd = open(zip, O_RDONLY);
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    unsigned char *in = NULL;
    size_t in_cap = 0;
    if (fd < 0 || !d) die("cannot set up the read limit");
    *bytes = 0;
    for (size_t i = 0; i < *n; i++) *bytes += k[i].usize;
    read_ours(ctx, k, *n);   /* every entry's first read */
    read_limit(fd, k, *n, d, &in, &in_cap);
    double o[REPS_MAX], l[REPS_MAX];
    for (int r = 0; r < b->size.reps; r++) {
        o[r] = read_ours(ctx, k, *n);
        l[r] = read_limit(fd, k, *n, d, &in, &in_cap);
    }
    *ours = bench_median(o, b->size.reps);
    *limit = bench_median(l, b->size.reps);
    free(in);
    libdeflate_free_decompressor(d);
    close(fd);
    lu_context_close(ctx);
    free(k);
}

void bench_read_limit(bench *b)
{
    char zip[600];
    snprintf(zip, sizeof zip, "%s/mixed_limit.zip", b->dir);
    if (bench_zip_mixed(zip, b->size.read_bytes)) exit(1);
    double ours, limit;
    uint64_t bytes;
    size_t n;
    read_both(b, zip, &ours, &limit, &bytes, &n);
    bench_report(b, "read_limit", (double)bytes / ours / 1e6, (double)bytes / limit / 1e6, "MB/s", ">=", 0.9);
}

void bench_read_small(bench *b)
{
    char zip[600];
    snprintf(zip, sizeof zip, "%s/small_limit.zip", b->dir);
    if (bench_zip_small(zip, "small", b->size.mount_entries, false, NULL)) exit(1);
    double ours, limit;
    uint64_t bytes;
    size_t n;
    read_both(b, zip, &ours, &limit, &bytes, &n);
    bench_report(b, "read_small", ours / (double)n * 1e9, limit / (double)n * 1e9, "ns/entry", "<=", 1.5);
}

/* CPU seconds for the mount limit: the end record, the central directory
 * read in windows of 64 KiB (as the library reads it: a window stays in
 * cache and needs no fresh pages, where one read of a 6.6 MB directory
 * faults in every page of its buffer), every name hashed and put in an
 * open-addressing table of entry numbers (a power of two at least twice
 * the count). *found gets the entries indexed. */
#define LIMIT_WINDOW (64u << 10)
static double mount_limit_once(const char *zip, size_t *found)
{
    double t = bench_cpu_now();
    int fd = open(zip, O_RDONLY);
    if (fd < 0) die("cannot open the mount zip");
    uint64_t off, size, count;
    find_cd(fd, &off, &size, &count);
    unsigned char *win = malloc(LIMIT_WINDOW);
    size_t cap = 16;
    while (cap < 2 * count) cap *= 2;
    typedef struct slot_entry { uint64_t cen; uint32_t hash, len; } slot_entry;
    slot_entry *entries = malloc(count * sizeof *entries);
    uint32_t *table = calloc(cap, sizeof *table);
    if (!win || !entries || !table) die("out of memory");
    uint64_t at = 0, have = 0;   /* the window holds directory bytes [at, at + have) */
    size_t n = 0;
    for (uint64_t pos = 0; pos + 46 <= size && n < count;) {
        if (pos + 46 > at + have || pos + 46 + le(win + (pos - at) + 28, 2) > at + have) {
            have = size - pos < LIMIT_WINDOW ? size - pos : LIMIT_WINDOW;
            at = pos;
            full_pread(fd, win, (size_t)have, off + pos);
            if (pos + 46 > at + have || pos + 46 + le(win + 28, 2) > at + have)
                die("mount_limit: a central record runs past the directory or the window");
        }
        const unsigned char *p = win + (pos - at);
        uint32_t nlen = (uint32_t)le(p + 28, 2);
        uint32_t h = path_hash((const char *)p + 46, nlen);
        entries[n] = (slot_entry){pos, h, nlen};
        size_t s = h & (cap - 1);
        while (table[s]) s = (s + 1) & (cap - 1);
        table[s] = (uint32_t)++n;
        pos += 46 + nlen + le(p + 30, 2) + le(p + 32, 2);
    }
    free(table);
    free(entries);
    free(win);
    close(fd);
    *found = n;
    return bench_cpu_now() - t;
}

void bench_mount_limit(bench *b)
{
    int entries = 5 * b->size.mount_entries;   /* 100,000; --quick 10,000 */
    char zip[600];
    snprintf(zip, sizeof zip, "%s/mount_limit.zip", b->dir);
    if (bench_zip_small(zip, "assets/level", entries, false, NULL)) exit(1);
    lu_context *ctx = open_context();
    size_t found = 0;
    double o[REPS_MAX], l[REPS_MAX];
    /* three rounds untimed first: the first mounts of a process grow its
     * heap (each page a fault) until it holds a mount and what the one
     * before left; a case run alone measured that growth, not the mount */
    for (int r = -3; r < b->size.reps; r++) {
        lu_error err;
        double t = bench_cpu_now();
        mount(ctx, zip);
        double ours = bench_cpu_now() - t;
        if (!lu_exists(ctx, "/assets/level/7.txt")) die("mount_limit: an entry is missing after the mount");
        if (lu_mount_remove(ctx, "v", &err) != LU_OK) die(err.message);
        double limit = mount_limit_once(zip, &found);
        if (r >= 0) o[r] = ours, l[r] = limit;
    }
    lu_context_close(ctx);
    if (found != (size_t)entries) die("mount_limit: the limit indexed a different number of entries");
    bench_report(b, "mount_limit", bench_median(o, b->size.reps) / entries * 1e9,
                 bench_median(l, b->size.reps) / entries * 1e9, "ns/entry", "<=", 2.0);
}
