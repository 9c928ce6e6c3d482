/* delta.c -- which bytes of a new volume must be fetched, and which can be
 * copied from the old volume of the same name on disk (docs/DOWNLOADS.md,
 * "Deltas").
 *
 * Both volumes are described by their zip layouts (archives/zip_layout.h):
 * the old one read from its file, the new one from its last bytes (fetched
 * with a Range request: the end records and the central directory). A
 * record of the new volume is unchanged when the old volume has a record of
 * the same name with the same version, flags, method, DOS time and date,
 * CRC-32, sizes and span (local header, data and anything up to the next
 * local header): its bytes are copied from the old file. Everything else
 * below the tail the caller holds is fetched: changed and new entries, and
 * any bytes before the first entry. Fetches closer than LU__DELTA_GAP are
 * merged (a request costs more than a few KiB), and so are the closest ones
 * while there are more than LU__DELTA_RANGES. The assembled file is
 * checked against the volume's SHA-256 by the caller, so a plan built on a
 * damaged old file, or on a CRC-32 collision, costs a whole download, never
 * a wrong volume.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net_internal.h"

/* An old record with its layout (qsort's comparator has no context): the
 * old file's records sorted by name, for a binary search per new record. */
typedef struct by_name {
    const lu_zip_layout *lay;
    const lu_zip_record *r;
} by_name;

static int cmp_name(const lu_zip_layout *la, const lu_zip_record *a, const lu_zip_layout *lb, const lu_zip_record *b)
{
    uint32_t n = a->nlen < b->nlen ? a->nlen : b->nlen;
    int c = memcmp(la->names + a->name, lb->names + b->name, n);
    if (c) return c;
    return a->nlen < b->nlen ? -1 : a->nlen > b->nlen;
}

static int cmp_by_name(const void *x, const void *y)
{
    const by_name *a = x, *b = y;
    return cmp_name(a->lay, a->r, b->lay, b->r);
}

/* Whether `a` (of the new volume) holds the same bytes as `b` (of the old). */
static bool same_record(const lu_zip_record *a, const lu_zip_record *b)
{
    return a->span == b->span && a->csize == b->csize && a->usize == b->usize && a->crc == b->crc &&
           a->version == b->version && a->flags == b->flags && a->method == b->method && a->time == b->time &&
           a->date == b->date;
}

/* The old record holding the new record `r`'s bytes, or NULL. */
static const lu_zip_record *find_same(const by_name *old, size_t n, const lu_zip_layout *neu, const lu_zip_record *r)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = cmp_name(old[mid].lay, old[mid].r, neu, r);
        if (c == 0) return same_record(r, old[mid].r) ? old[mid].r : NULL;
        if (c < 0) lo = mid + 1;
        else hi = mid;
    }
    return NULL;
}

/* Appends [at, at + len) from `from` (LU__DELTA_FETCH: fetched), merged
 * with the last op when it continues it. ops has room (see plan_make). */
static void push(lu__delta_plan *p, uint64_t at, uint64_t len, uint64_t from)
{
    if (!len) return;
    if (p->n) {
        lu__delta_op *last = &p->ops[p->n - 1];
        bool fetch = from == LU__DELTA_FETCH, last_fetch = last->from == LU__DELTA_FETCH;
        if (last->at + last->len == at && fetch == last_fetch && (fetch || last->from + last->len == from)) {
            last->len += len;
            return;
        }
    }
    p->ops[p->n++] = (lu__delta_op){at, len, from};
}

/* The copies from ops[i] on, up to the next fetch (or the end): *len
 * bytes in all; returns the index after them. */
static size_t copy_run(const lu__delta_op *ops, size_t n, size_t i, uint64_t *len)
{
    *len = 0;
    while (i < n && ops[i].from != LU__DELTA_FETCH) *len += ops[i++].len;
    return i;
}

/* Rebuilds p->ops with runs of copies between two fetches fetched instead
 * (the three become one fetch): every run of at most `gap` bytes, or, when
 * `take` is non-NULL, the runs whose first op i has take[i] set. */
static void absorb(lu__delta_plan *p, uint64_t gap, const bool *take)
{
    size_t n = p->n;
    p->n = 0;   /* ops are rewritten in place: push never writes past the op being read */
    for (size_t i = 0; i < n;) {
        lu__delta_op op = p->ops[i];
        if (op.from == LU__DELTA_FETCH) {
            push(p, op.at, op.len, op.from);
            i++;
            continue;
        }
        uint64_t run;
        size_t j = copy_run(p->ops, n, i, &run);
        if (i > 0 && j < n && (take ? take[i] : run <= gap)) {
            push(p, op.at, run, LU__DELTA_FETCH);
        } else {
            for (size_t k = i; k < j; k++) {
                lu__delta_op c = p->ops[k];
                push(p, c.at, c.len, c.from);
            }
        }
        i = j;
    }
}

/* A run of copies between two fetches: its length and first op. */
typedef struct run {
    uint64_t len;
    size_t first;
} run;

static int cmp_run(const void *x, const void *y)
{
    const run *a = x, *b = y;
    if (a->len != b->len) return a->len < b->len ? -1 : 1;
    return a->first < b->first ? -1 : a->first > b->first;
}

/* Counts what the plan moves. */
static void totals(lu__delta_plan *p)
{
    p->fetch = p->copy = 0;
    p->ranges = 0;
    for (size_t i = 0; i < p->n; i++) {
        if (p->ops[i].from == LU__DELTA_FETCH) p->fetch += p->ops[i].len, p->ranges++;
        else p->copy += p->ops[i].len;
    }
}

/* At most LU__DELTA_RANGES fetches: the shortest copies between fetches
 * are fetched until so. */
static lu_status limit_ranges(const lu_env *env, lu__delta_plan *p, lu_error *err)
{
    if (p->ranges <= LU__DELTA_RANGES) return LU_OK;
    run *runs = lu__malloc(env, p->n * sizeof *runs);
    bool *take = lu__calloc(env, p->n, sizeof *take);
    if (!runs || !take) {
        lu__free(env, runs);
        lu__free(env, take);
        return lu__fail(err, LU_MEM_ERROR, "delta: out of memory");
    }
    size_t k = 0;
    for (size_t i = 0; i < p->n;) {
        uint64_t len;
        size_t j = copy_run(p->ops, p->n, i, &len);
        if (j == i) i++;                                                /* a fetch */
        else if (i > 0 && j < p->n) runs[k++] = (run){len, i}, i = j;   /* copies between two fetches */
        else i = j;
    }
    qsort(runs, k, sizeof *runs, cmp_run);
    /* each run fetched instead joins two fetches into one */
    for (size_t i = 0; i < p->ranges - LU__DELTA_RANGES; i++) take[runs[i].first] = true;
    absorb(p, 0, take);
    lu__free(env, runs);
    lu__free(env, take);
    totals(p);
    return LU_OK;
}

lu_status lu__delta_plan_make(const lu_env *env, const lu_zip_layout *old, const lu_zip_layout *neu,
                              uint64_t tail_from, lu__delta_plan *out, lu_error *err)
{
    memset(out, 0, sizeof *out);
    out->size = neu->size;
    out->tail_from = tail_from < neu->size ? tail_from : neu->size;
    out->entries = neu->count;
    by_name *index = lu__malloc(env, (old->count ? old->count : 1) * sizeof *index);
    /* at most: the bytes before the first entry, one op per record, the
     * bytes from the last span to the tail */
    out->ops = lu__malloc(env, (neu->count + 2) * sizeof *out->ops);
    if (!index || !out->ops) {
        lu__free(env, index);
        lu__delta_plan_free(env, out);
        return lu__fail(err, LU_MEM_ERROR, "delta: out of memory");
    }
    for (size_t i = 0; i < old->count; i++) index[i] = (by_name){old, &old->rec[i]};
    qsort(index, old->count, sizeof *index, cmp_by_name);
    uint64_t end = out->tail_from, at = 0;
    for (size_t i = 0; i < neu->count && at < end; i++) {
        const lu_zip_record *r = &neu->rec[i];
        push(out, at, (r->local < end ? r->local : end) - at, LU__DELTA_FETCH);   /* bytes before it */
        if (r->local >= end) {
            at = end;
            break;
        }
        uint64_t len = r->span < end - r->local ? r->span : end - r->local;
        const lu_zip_record *same = find_same(index, old->count, neu, r);
        if (!same) out->changed++;
        push(out, r->local, len, same ? same->local : LU__DELTA_FETCH);
        at = r->local + len;
    }
    push(out, at, end - at, LU__DELTA_FETCH);   /* the central directory's start, when not in the tail */
    lu__free(env, index);
    absorb(out, LU__DELTA_GAP, NULL);
    totals(out);
    return limit_ranges(env, out, err);
}

void lu__delta_plan_free(const lu_env *env, lu__delta_plan *p)
{
    if (!p) return;
    lu__free(env, p->ops);
    p->ops = NULL;
    p->n = 0;
}

bool lu__delta_worth(const lu__delta_plan *p, char *why, size_t cap)
{
    uint64_t moved = p->fetch + (p->size - p->tail_from);
    if (moved <= p->size / 2) return true;
    if (why)
        snprintf(why, cap, "a delta would fetch %llu of its %llu bytes (%zu of %zu entries changed)",
                 (unsigned long long)moved, (unsigned long long)p->size, p->changed, p->entries);
    return false;
}

bool lu__delta_may(uint64_t size)
{
    return size / 2 >= LU__DELTA_TAIL;
}

uint64_t lu__delta_tail_next(uint64_t size, uint64_t tail_from, uint64_t need)
{
    uint64_t held = size - tail_from, doubled = tail_from > held ? tail_from - held : 0;
    return need < doubled ? need : doubled;
}

lu_status lu__delta_copy(const lu_env *env, int old_fd, uint64_t from, uint64_t len, int out_fd, lu__sha256 *hs,
                         lu_error *err)
{
    const lu_io_hooks *io = &env->io;
    size_t cap = 256 * 1024;
    unsigned char *buf = lu__malloc(env, cap);
    if (!buf) return lu__fail(err, LU_MEM_ERROR, "delta: out of memory");
    lu_status st = LU_OK;
    while (len && st == LU_OK) {
        size_t n = len < cap ? (size_t)len : cap;
        long r = lu__pread(env, old_fd, buf, n, from);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            int e = r < 0 ? errno : 0;
            st = lu__fail(err, e ? lu__errno_status(e) : LU_FORMAT_ERROR, "the old volume %s at offset %llu",
                          e ? strerror(e) : "ends", (unsigned long long)from);
            break;
        }
        for (long done = 0; done < r && st == LU_OK;) {
            long w = io->write(io->ud, out_fd, buf + done, (size_t)(r - done));
            if (w < 0 && errno == EINTR) continue;
            if (w <= 0) {
                int e = w < 0 ? errno : EIO;
                st = lu__fail(err, lu__errno_status(e), "cannot write the assembled volume: %s", strerror(e));
            } else {
                done += w;
            }
        }
        if (st == LU_OK && hs) lu__sha256_update(hs, buf, (size_t)r);
        from += (uint64_t)r;
        len -= (uint64_t)r;
    }
    lu__free(env, buf);
    return st;
}
