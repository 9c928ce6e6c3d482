/* internal.h -- declarations shared by the modules of libliveupdate.
 *
 * Nothing here is public API. Each group names the file that defines it.
 */
#ifndef LU_INTERNAL_H
#define LU_INTERNAL_H

#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "liveupdate/liveupdate.h"

/* What archive backends see (lu_env and lu_entries opaque, lu_entry, the
 * memory, error and entry calls they may make) comes first. */
#include "archive.h"

/* ---- environment handed to every module (context.c) ----------------- */

typedef struct lu_env {
    lu_allocator alloc;
    lu_io_hooks io;
    lu_log_fn log;
    void *log_ud;
    uint64_t max_uncompressed;
} lu_env;

/* ---- memory (alloc.c) ----------------------------------------------- */

/* lu__malloc, lu__calloc, lu__free, lu__strdup: archive.h */
void *lu__realloc(const lu_env *env, void *p, size_t n);
char *lu__strndup(const lu_env *env, const char *s, size_t n);
lu_allocator lu__default_allocator(void);
/* A block of n bytes of long-lived index memory (the bucket pool's slabs):
 * with the default allocator, a block of 2 MiB or more is mapped for the
 * purpose, aligned to 2 MiB, and 2 MiB pages are asked for before any
 * page is touched (Linux, MADV_HUGEPAGE: the kernel backs it with them
 * where it has them); any other block, or any block of an engine's
 * allocator, is lu__malloc's. NULL when out of memory. Thread-safe as
 * the allocator is. Give it back with lu__block_free and the same n. */
void *lu__block_alloc(const lu_env *env, size_t n);
void lu__block_free(const lu_env *env, void *p, size_t n);   /* accepts NULL */
lu_io_hooks lu__default_io(void);
/* `given` with every NULL field set to the POSIX call's default. */
lu_io_hooks lu__io_complete(const lu_io_hooks *given);
/* An environment with the default allocator and I/O, no logger. */
lu_env lu__default_env(void);

/* ---- errors (status.c) ---------------------------------------------- */

/* lu__fail, lu__errno_status, lu__error_prefix: archive.h */
lu_status lu__vfail(lu_error *err, lu_status status, const char *fmt, va_list ap);
void lu__log(const lu_env *env, lu_log_level level, const char *fmt, ...) LU_PRINTF(3, 4);

/* LU_TRY: archive.h */

/* ---- hashing (hash.h) ----------------------------------------------- */

/* The few functions every lookup runs: inlined whatever the compiler's
 * size heuristics would choose (a call costs a lookup nanoseconds). */
#if defined(__GNUC__)
#define LU_ALWAYS_INLINE inline __attribute__((always_inline))
#else
#define LU_ALWAYS_INLINE inline
#endif

#include "hash.h"   /* lu__hash_path */
/* The hash of canonical path `path` (`len` bytes, the first a '/'): of the
 * bytes after the '/', which are the entry's name as a volume stores it,
 * so a mount hashes each name where it reads it (lu_entry.hash). */
static LU_ALWAYS_INLINE uint32_t lu__hash_canonical(const char *path, size_t len)
{
    return lu__hash_path(path + 1, len - 1);
}
/* Whether the n-byte component at p is empty, "." or "..". */
static inline bool lu__bad_component(const char *p, size_t n)
{
    return n == 0 || (n <= 2 && p[0] == '.' && (n == 1 || p[1] == '.'));
}

/* lu_path_check's rules (names.c) in one pass over the n bytes of `path`
 * (NUL-terminated at n): whether it is a valid resource path; when not,
 * lu_path_check gives the message. Inline: every lookup runs it. */
static LU_ALWAYS_INLINE bool lu__path_valid(const char *path, size_t n)
{
    size_t start = 1, i = 1;
    if (n == 0 || path[0] != '/') return false;
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* 8 bytes at a time (inside the string: its length is known): a word
     * with a backslash refuses the path, and each '/' ends a component */
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7full, ones = 0x0101010101010101ull;
    for (; i + 8 <= n; i += 8) {
        uint64_t v;
        memcpy(&v, path + i, 8);
        uint64_t xs = v ^ (ones * '/'), xb = v ^ (ones * '\\');
        if (~(((xb & low7) + low7) | xb | low7)) return false;   /* exactly the zero bytes, as 0x80 */
        for (uint64_t slash = ~(((xs & low7) + low7) | xs | low7); slash; slash &= slash - 1) {
            size_t at = i + (size_t)__builtin_ctzll(slash) / 8;
            if (lu__bad_component(path + start, at - start)) return false;
            start = at + 1;
        }
    }
#endif
    for (; i < n; i++) {
        if (path[i] == '\\') return false;
        if (path[i] != '/') continue;
        if (lu__bad_component(path + start, i - start)) return false;
        start = i + 1;
    }
    return !lu__bad_component(path + start, n - start);
}

/* lu__path_valid that also measures the path (*len). */
static LU_ALWAYS_INLINE bool lu__path_scan(const char *path, size_t *len)
{
    *len = strlen(path);
    return lu__path_valid(path, *len);
}

/* ---- entry tables (entries.c) --------------------------------------- */

/* lu_entry: archive.h */

struct lu_entries {
    const lu_env *env;
    lu_entry *items;     /* in the order the backend added them */
    size_t count, cap;
    char *pool;
    size_t pool_len, pool_cap;
    /* the positions of the items in path order, built at the first query
     * that needs it (lu__entries_order), then kept; NULL until then */
    uint32_t *_Atomic order;
    /* its paths are known to be unique (lu__entries_unique, or the index
     * build that met every one of them); set once, by the thread that
     * opened the volume or by the first build that indexes it, before
     * the volume is published */
    bool unique;
};

void lu__entries_init(lu_entries *t, const lu_env *env);
void lu__entries_free(lu_entries *t);
/* lu__entries_add, lu__entry_name_check, lu__entry_path: archive.h */
/* Ends the filling: gives back the growth's slack; then, when `check`,
 * lu__entries_unique. */
lu_status lu__entries_finish(lu_entries *t, bool check, lu_error *err);
/* Rejects duplicate paths unless t->unique, then sets it: LU_OK;
 * LU_UNSAFE_ARCHIVE naming the smallest duplicated path ("entry '/x':
 * duplicate name" without the '/'); LU_MEM_ERROR. Once t->unique is set
 * it only reads it (any thread); before, it is for the thread that opened
 * the table or indexes it, the volume not published yet. */
lu_status lu__entries_unique(lu_entries *t, lu_error *err);
/* The canonical path of an entry (lu__entry_path without the call). */
static inline const char *lu__entry_name(const lu_entries *t, const lu_entry *e)
{
    return t->pool + e->name;
}
/* The position in its table of the entry whose path is `name` (a path in
 * a table's pool): each path is stored after these 4 bytes. */
static inline uint32_t lu__entry_at(const char *name)
{
    uint32_t i;
    memcpy(&i, name - 4, sizeof i);
    return i;
}
/* The positions of a finished table's entries in path order (count of
 * them), built at the first call and kept with the table (4 bytes an
 * entry); NULL when out of memory. Thread-safe: threads that call it at
 * once may each sort, one order is kept. */
const uint32_t *lu__entries_order(const lu_entries *t);
/* The entry of a finished table whose path is `path` (`len` bytes), or
 * NULL: a binary search of the path order, built for the purpose at the
 * first call (for repeated per-volume lookups: lu_read_from). */
const lu_entry *lu__entries_find(const lu_entries *t, const char *path, size_t len);
/* The same answer without building the order: a scan of the entries'
 * hashes when the table has none yet (one lookup in a volume: its version
 * file, its manifest). */
const lu_entry *lu__entries_find_once(const lu_entries *t, const char *path, size_t len);
/* The place in `order` (lu__entries_order) of the first entry whose path is >= prefix. */
size_t lu__entries_lower_bound(const lu_entries *t, const uint32_t *order, const char *prefix, size_t len);

/* ---- archives (archive.c and the backends in archives/) ----------------------------- */

typedef struct lu_archive {
    atomic_long refs;
    const lu_env *env;
    const lu_archive_ops *ops;
    void *state;
    char *path;
    lu_entries entries;
} lu_archive;

/* Opens the volume at `path` with the backend for `scheme` ("zip", "dir").
 * Returns LU_OK and *out with one reference; LU_SCHEME_MISMATCH for an
 * unknown scheme or a file not in that format; the backend's failure. */
lu_status lu__archive_open(const lu_env *env, const char *scheme, const char *path,
                           lu_archive **out, lu_error *err);
/* lu__archive_open without the check for duplicate paths, for a volume
 * about to be mounted: the index build that takes it checks them
 * (snapshot.c: a first mount as its entries go in, any other with
 * lu__entries_unique), so a volume with a duplicate is never mounted.
 * Whoever else reads its table first calls lu__entries_unique. */
lu_status lu__archive_open_to_mount(const lu_env *env, const char *scheme, const char *path,
                                    lu_archive **out, lu_error *err);
/* lu__entries_unique on a's table, the message after its path as
 * lu__archive_open gives it. */
lu_status lu__archive_unique(lu_archive *a, lu_error *err);
void lu__archive_retain(lu_archive *a);
void lu__archive_release(lu_archive *a);   /* accepts NULL */
/* Reads entry `e` into a new buffer of e->size + 1 bytes (NUL-terminated). */
lu_status lu__archive_read(lu_archive *a, const lu_entry *e, void **data, lu_error *err);
/* Opens a streaming file on entry `e` of `a` served as mount `mount`
 * (stream.c; lu_open after its lookup): the file holds a reference to `a`.
 * Messages start with "mount '<mount>'". Returns what lu_open returns. */
lu_status lu__file_open_entry(lu_archive *a, const lu_entry *e, const char *mount, lu_file **out, lu_error *err);

/* ---- paths and URIs (uri.c) ----------------------------------------- */

typedef struct lu_uri {
    char given[8];      /* the scheme as written: "zip", "dir" or "file" */
    char format[8];     /* the backend: "zip" or "dir" ("file:" is a directory) */
    char *path;         /* absolute, allocated */
} lu_uri;

/* Parses `uri`; a relative path is joined to `save_dir` (which may be NULL,
 * then relative paths are LU_INVAL). Returns LU_OK, LU_SCHEME_MISMATCH,
 * LU_INVAL, LU_MEM_ERROR. */
lu_status lu__uri_parse(const lu_env *env, const char *uri, const char *save_dir, lu_uri *out,
                        lu_error *err);
void lu__uri_free(const lu_env *env, lu_uri *u);
/* The form stored in the mounts file: the path made relative when inside
 * `save_dir`. Returns an allocated string or NULL (no memory). */
char *lu__uri_for_storage(const lu_env *env, const lu_uri *u, const char *save_dir);

/* ---- mounts and snapshots (snapshot.c) ------------------------------ */

typedef struct lu_mount {
    atomic_long refs;
    char *name;
    char *uri;          /* storage form */
    int priority;
    uint64_t seq;       /* add order; later wins among equal priorities */
    bool persist;
    lu_archive *archive;
} lu_mount;

lu_mount *lu__mount_new(const lu_env *env, const char *name, const char *uri, int priority,
                        uint64_t seq, bool persist, lu_archive *archive);
void lu__mount_retain(lu_mount *m);
void lu__mount_release(const lu_env *env, lu_mount *m);

/* The merged index (snapshot.c) is an extendible hash: a directory of
 * 2^depth bucket pointers indexed by the top bits of a path's hash. A
 * slot keeps the full 32-bit hash and a global id: the offset of the path
 * in its mount's name pool, plus the mount's base. Bases are handed out in
 * granules (LU_ID_GRANULE bytes of pool), so a slot reaches its path
 * through one small table indexed by id >> LU_ID_SHIFT, and a hit loads
 * the bucket's line and the path, nothing between (the entry's position
 * is stored before the path). A bucket is four groups of slots, each a
 * cache line of its own (buckets are carved on line boundaries). A path
 * goes to the group its hash's two low bits name, or when that one is
 * full to the next with room, and the groups it passes count it (`over`):
 * a lookup compares its hash with the seven hashes of its home group at
 * once (lu__group_match) and goes on to the next group only when the
 * group's `over` says a path went past it. So a lookup reads one line of
 * the bucket, hit or miss, unless its group overflowed, with no branch on
 * each slot. A change copies the directory (or the runs the last change
 * wrote: lu_snapshot.dlog) and only the buckets it touches (copy on
 * write); the others are shared with the previous snapshot. */
#define LU_GROUP_SLOTS 7
#define LU_BUCKET_GROUPS 4
#define LU_BUCKET_SLOTS (LU_GROUP_SLOTS * LU_BUCKET_GROUPS)
#define LU_ID_SHIFT 16
#define LU_ID_GRANULE (1u << LU_ID_SHIFT)
#define LU_SLOT_SHADOWS 0x80000000u   /* slot id bit: the entry may hide a lower mount's */

/* One cache line: the hashes in its first 32 bytes, the count and the
 * `over` in the last lane of those, then the ids. The bucket's own fields
 * live in the spare bytes of its groups: its depth and its slot count in
 * group 0's, its generation in the word after the ids (id[LU_GROUP_SLOTS])
 * of groups 0 (low half) and 1. */
typedef struct lu_group {
    uint32_t hash[LU_GROUP_SLOTS];   /* slots [0, count) */
    uint8_t count;     /* slots in use */
    uint8_t over;      /* paths whose home is this group or one before it, placed after it */
    uint8_t depth;     /* group 0: the bucket's local depth (the top `depth` bits of its hashes are equal) */
    uint8_t total;     /* group 0: the bucket's slots in use */
    uint32_t id[LU_GROUP_SLOTS + 1];   /* global path id + 1, | LU_SLOT_SHADOWS; then a bucket field */
} lu_group;

typedef struct lu_bucket {
    lu_group g[LU_BUCKET_GROUPS];
} lu_bucket;
_Static_assert(sizeof(lu_group) == 64 && offsetof(lu_group, count) == 28,
               "lu__group_match reads a group's first 32 bytes as 8 hashes");
_Static_assert(sizeof(lu_bucket) == 256, "a bucket is four cache lines");

/* A bucket's local depth. */
static inline uint32_t lu__bucket_depth(const lu_bucket *b)
{
    return b->g[0].depth;
}

/* What an id granule belongs to: its mount's entries and pool, and the mount's first id. */
typedef struct lu_granule {
    const lu_entry *items;
    const char *pool;
    lu_mount *mount;
    uint32_t base;
} lu_granule;

/* What a snapshot keeps of each of its mounts, in the mounts' order, so
 * that a change sorts and a name lookup scans contiguous keys instead of
 * reading every mount. */
typedef struct lu_mount_key {
    uint64_t seq;
    int priority;
    uint32_t name_hash;   /* lu__hash_path of its name */
} lu_mount_key;

/* An immutable view: mounts in lookup order and the merged index. */
typedef struct lu_snapshot {
    const lu_env *env;
    uint32_t slot;
    size_t nmounts;
    lu_mount **mounts;
    lu_mount_key *keys;    /* keys[i] is mounts[i]'s */
    size_t mount_entries;  /* the entries of all mounts (paths counted once per mount) */
    uint64_t max_seq;      /* the highest sequence among its mounts */
    /* Mount references. A snapshot made from a predecessor (`derived`)
     * borrows the mounts they share: it takes a reference only on its new
     * mounts (`fresh`), and when the predecessor is destroyed its
     * references on the shared mounts pass to this one; it releases only
     * those this one did not borrow (`dropped`). So a change touches its
     * own mounts, not every mounted one. A snapshot with no predecessor
     * has every mount fresh. */
    lu_mount **fresh;
    size_t nfresh, fresh_cap;
    lu_mount **dropped;
    size_t ndropped, dropped_cap;
    uint32_t *bases;       /* global id of each mount's pool start (granule-aligned) */
    lu_granule *granules;  /* by id >> LU_ID_SHIFT; mount NULL when free */
    size_t ngranules;
    lu_bucket **dir;       /* 2^depth buckets; NULL when nothing is mounted */
    size_t dir_cap;        /* entries the dir's block has room for (>= 2^depth) */
    /* The directory runs this snapshot wrote (each first << 5 | log2 of
     * its length) since its predecessor's directory, so that the next
     * change can bring an older block up to date instead of copying it all;
     * `dlog_lost` when they are not all there (a new or doubled directory,
     * more runs than the log keeps, or as many entries as the directory
     * has: then a whole copy is cheaper). */
    uint32_t *dlog;
    size_t ndlog, dlog_cap;
    size_t dlog_entries;   /* the directory entries the logged runs cover */
    bool dlog_lost;
    size_t dir_copied;     /* directory entries copied from its predecessor's (the work; tests) */
    uint32_t depth;
    uint32_t shift;        /* 32 - depth: a hash's bucket is dir[(uint64_t)h >> shift] */
    size_t entries;        /* distinct paths served */
    uint64_t gen;
    /* Buckets shared between snapshots are freed in order: a published
     * snapshot holds a link to its successor (lu__snapshot_follow), so it is
     * destroyed only after every older one; then the buckets it replaced
     * (`retired`) are no longer seen by anyone. `links` counts the owner's
     * hold and the predecessor's. A derived snapshot never followed is
     * discarded: only the buckets it made are freed. */
    atomic_long links;
    struct lu_snapshot *next;
    bool derived, followed;
    bool alone;            /* its successor was built from scratch: shares none of its buckets */
    lu_bucket **retired;
    size_t nretired, retired_cap;
    /* Freed buckets are recycled: retired ones go to a pool shared by the
     * context's snapshots (snapshot.c), which a derivation takes whole as
     * its `spare` array and hands back what it did not use. The pool also
     * keeps the directory block of the last snapshot freed, for the next
     * derivation to copy into. */
    struct lu_bucket_pool *pool;
    lu_bucket **spare;     /* the pool's array of spares while this one is built */
    size_t nspare, spare_cap;
} lu_snapshot;

/* Builds a snapshot over `mounts` (sorted here into lookup order; each gets
 * a reference) from scratch, in time linear in their entries: one build
 * for many mounts. Returns LU_OK, LU_MEM_ERROR, or LU_INVAL when more than
 * 2^31 resources are mounted. Free with lu__snapshot_free. */
lu_status lu__snapshot_build(const lu_env *env, lu_mount *const *mounts, size_t n,
                             lu_snapshot **out, lu_error *err);
/* The snapshot after `prev` (may be NULL) for the table `mounts`: derived
 * from `prev` by removing and adding only the mounts that differ, in time
 * following their entries (a full build when they are most of the table).
 * It retains only the mounts `prev` does not have and borrows the others
 * (lu_snapshot): list them in prev's order, or each mount out of that order
 * costs a scan of prev's list and a reference of its own. Same returns as
 * lu__snapshot_build. Until lu__snapshot_follow, freeing it leaves `prev`
 * intact, and `prev` must outlive it (it holds the borrowed mounts).
 * Write lock held; `prev` must be the newest. */
lu_status lu__snapshot_next(const lu_env *env, lu_snapshot *prev, lu_mount *const *mounts, size_t n,
                            lu_snapshot **out, lu_error *err);
/* The buckets carved from the slabs of s's pool so far: the index's new
 * bucket memory (the tests read it). Write lock held. */
size_t lu__snapshot_buckets_carved(const lu_snapshot *s);
/* Records that `s` succeeds `prev`, just before `s` is published: `s` is
 * destroyed only after `prev`, and takes over its references. `prev` is
 * the snapshot `s` was made from: NULL only when it was made from none.
 * Write lock held. */
void lu__snapshot_follow(lu_snapshot *prev, lu_snapshot *s);
/* The path a slot id names: the id is its offset in its mount's pool,
 * found through the granule table (*g gets the granule). */
static LU_ALWAYS_INLINE const char *lu__snapshot_name(const lu_snapshot *s, uint32_t id, const lu_granule **g)
{
    uint32_t gid = (id & ~LU_SLOT_SHADOWS) - 1;
    *g = &s->granules[gid >> LU_ID_SHIFT];
    return (*g)->pool + (gid - (*g)->base);
}

/* Whether slot id `id` names `path` (len bytes). Byte by byte, stopping at
 * the first difference: after a full hash collision the stored path may be
 * shorter than `len` and end its pool's block, so nothing past its NUL is
 * read (the paths are short: a library call costs more than the loop). */
static LU_ALWAYS_INLINE bool lu__snapshot_names(const lu_snapshot *s, uint32_t id, const char *path, size_t len)
{
    const lu_granule *g;
    const char *name = lu__snapshot_name(s, id, &g);
    for (size_t i = 0; i < len; i++)
        if (name[i] != path[i]) return false;
    return name[len] == '\0';
}

/* The directory entry of hash `hash`: its top `depth` bits. */
static LU_ALWAYS_INLINE size_t lu__snapshot_dir_index(const lu_snapshot *s, uint32_t hash)
{
    return (size_t)((uint64_t)hash >> s->shift);
}

/* The group of a bucket where hash `hash` is looked up first. */
static LU_ALWAYS_INLINE uint32_t lu__bucket_home(uint32_t hash)
{
    return hash & (LU_BUCKET_GROUPS - 1);
}

/* The group after group gi, the last followed by the first. */
static LU_ALWAYS_INLINE uint32_t lu__group_next(uint32_t gi)
{
    return (gi + 1) & (LU_BUCKET_GROUPS - 1);
}

/* Starts fetching the group where hash `hash` is looked up, so that a
 * lookup can check its path while the line comes in. */
static LU_ALWAYS_INLINE void lu__snapshot_prefetch(const lu_snapshot *s, uint32_t hash)
{
    if (s->dir) __builtin_prefetch(&s->dir[lu__snapshot_dir_index(s, hash)]->g[lu__bucket_home(hash)]);
}

/* The slots of group g whose hash is `hash`: bit i for slot i, among the
 * slots in use. Two 16-byte compares where SSE2 is (every x86-64): the
 * eighth lane (count, `over`, and the bucket's depth and total) is
 * dropped with the slots past count. */
static LU_ALWAYS_INLINE uint32_t lu__group_match(const lu_group *g, uint32_t hash)
{
#if defined(__SSE2__)
    const __m128i k = _mm_set1_epi32((int)hash);
    const __m128i *p = (const __m128i *)(const void *)g;
    __m128i lo = _mm_cmpeq_epi32(_mm_loadu_si128(p), k), hi = _mm_cmpeq_epi32(_mm_loadu_si128(p + 1), k);
    uint32_t m = (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(lo)) | (uint32_t)_mm_movemask_ps(_mm_castsi128_ps(hi)) << 4;
#else
    uint32_t m = 0;
    for (uint32_t i = 0; i < LU_GROUP_SLOTS; i++) m |= (uint32_t)(g->hash[i] == hash) << i;
#endif
    return m & ((1u << g->count) - 1);
}

/* The lowest slot in mask m (not 0), and m without it. */
static LU_ALWAYS_INLINE uint32_t lu__mask_next(uint32_t *m)
{
    uint32_t i;
#if defined(__GNUC__)
    i = (uint32_t)__builtin_ctz(*m);
#else
    for (i = 0; !(*m >> i & 1); i++) {}
#endif
    *m &= *m - 1;
    return i;
}

/* The slot of bucket b holding canonical path `path` (len bytes, hash
 * `hash`), as group << 3 | index, or -1: its home group, and the next
 * ones while a path went past. */
static LU_ALWAYS_INLINE int lu__bucket_find(const lu_snapshot *s, const lu_bucket *b, const char *path, size_t len,
                                            uint32_t hash)
{
    uint32_t gi = lu__bucket_home(hash);
    for (uint32_t n = 0; n < LU_BUCKET_GROUPS; n++, gi = lu__group_next(gi)) {
        const lu_group *g = &b->g[gi];
        for (uint32_t m = lu__group_match(g, hash); m;) {
            uint32_t i = lu__mask_next(&m);
            if (lu__snapshot_names(s, g->id[i], path, len)) return (int)(gi << 3 | i);
        }
        if (!g->over) break;
    }
    return -1;
}

/* The id in slot `at` of bucket b (lu__bucket_find). */
static LU_ALWAYS_INLINE uint32_t lu__bucket_id(const lu_bucket *b, int at)
{
    return b->g[at >> 3].id[at & 7];
}

/* The slot id serving canonical path `path` (len bytes, lu__hash_canonical
 * `hash`) in s's index, 0 when no mount serves it: one directory step and
 * a compare of one group's hashes (more only where it overflowed).
 * Inline: every lookup starts here. */
static LU_ALWAYS_INLINE uint32_t lu__snapshot_probe(const lu_snapshot *s, const char *path, size_t len, uint32_t hash)
{
    if (!s->dir) return 0;
    const lu_bucket *b = s->dir[lu__snapshot_dir_index(s, hash)];
    int at = lu__bucket_find(s, b, path, len, hash);
    return at < 0 ? 0 : lu__bucket_id(b, at);
}

/* Drops the owner's hold (the cell's, or the builder's before publishing). */
void lu__snapshot_free(lu_snapshot *s);
/* Finds the serving mount of a canonical path whose lu__hash_canonical is
 * `hash`; returns false if none. */
bool lu__snapshot_find(const lu_snapshot *s, const char *path, size_t len, uint32_t hash,
                       const lu_mount **m, const lu_entry **e);
lu_mount *lu__snapshot_mount(const lu_snapshot *s, const char *name);
/* The hash a snapshot keeps of a mount's name (lu_mount_key.name_hash). */
uint32_t lu__mount_name_hash(const char *name);
/* Whether s's mount i is named `name` (its lu__mount_name_hash
 * `name_hash`): the kept hash first, the name only when they agree. */
bool lu__snapshot_mount_is(const lu_snapshot *s, size_t i, const char *name, uint32_t name_hash);

/* The published snapshot, with lock-free acquire and release (cell.c;
 * the reader's side is inline in cell.h). */
#include "cell.h"

/* Readies `c` (zeroed by it): LU_MEM_ERROR when out of memory. */
lu_status lu__cell_init(lu_snapshot_cell *c, const lu_env *env, lu_error *err);
/* Publishes `s` (may be NULL; never published before) and retires the old
 * one, freed once no reader holds it. Writers must be serialized by the
 * caller. */
void lu__cell_publish(lu_snapshot_cell *c, lu_snapshot *s);
/* Publishes nothing, frees every snapshot and the counts. No reader may
 * hold a snapshot any more. Safe on a cell whose init failed. */
void lu__cell_fini(lu_snapshot_cell *c);

/* ---- persistence (persist.c) ---------------------------------------- */

typedef struct lu_saved_mount {
    char *name;
    char *uri;
    int priority;
    /* held entries only (context.c): ctx->next_seq when the volume failed
     * to open; a mount of equal priority with a seq up to this one was
     * listed after the entry, any later one goes before it */
    uint64_t seq;
} lu_saved_mount;

/* Whether a held entry (a persisted mount whose volume failed to open
 * for a passing reason at start-up: context.c) stays in the mounts file
 * beside table `s`: not when a mount of that name is in `s` (it replaced
 * the entry) or the name is in `forget` (it was removed). */
bool lu__persist_held_stays(const lu_snapshot *s, const lu_saved_mount *h, const char *const *forget,
                            size_t nforget);
/* Writes the persistent mounts of `s`, and the held entries that stay,
 * each placed among them by priority, crash-safely to
 * <dir>/liveupdate.mounts. */
lu_status lu__persist_write(const lu_env *env, const char *dir, const lu_snapshot *s, const lu_saved_mount *held,
                            size_t nheld, const char *const *forget, size_t nforget, lu_error *err);
/* Reads <dir>/liveupdate.mounts. LU_NOT_FOUND when absent, LU_FORMAT_ERROR
 * when corrupt (message says where). *out in lookup order. */
lu_status lu__persist_read(const lu_env *env, const char *dir, lu_saved_mount **out, size_t *n,
                           lu_error *err);
void lu__persist_free(const lu_env *env, lu_saved_mount *m, size_t n);
/* Moves a corrupt mounts file aside (lu__fs_move_aside); *moved_to gets the new name. */
lu_status lu__persist_move_aside(const lu_env *env, const char *dir, char **moved_to,
                                 lu_error *err);
/* Takes <dir>/liveupdate.lock. Returns the fd or LU_LOCKED / LU_IO_ERROR. */
lu_status lu__lock_take(const char *dir, int *fd, lu_error *err);

/* ---- JSON syntax (json_check.c) ---------------------------------------- */

/* True when `text` is one JSON value (RFC 8259, nesting at most cJSON's
 * limit) followed by nothing but white space. Does not allocate: a file
 * that passes but that cJSON could not parse was not corrupt, cJSON ran
 * out of memory. */
bool lu__json_syntax_ok(const char *text, size_t len);

/* Parses a file's text that the library wrote (the mounts file, the update
 * state) with cJSON. Returns LU_OK and *out (free with cJSON_Delete),
 * LU_FORMAT_ERROR when the text is not JSON (the file is corrupt; the
 * message names `path` and the byte), LU_MEM_ERROR when it is but cJSON
 * ran out of memory (the file is good: nothing may move it aside). */
struct cJSON;
lu_status lu__json_parse_stored(const char *text, size_t len, const char *path, struct cJSON **out,
                                lu_error *err);

/* ---- version files and the version floor (version.c) ------------------ */

/* Parses {"version": N} (N an integer); false when it is not that. */
bool lu__parse_version_file(const char *data, size_t len, long long *version);

/* Reads volume `name`'s own /version_<name>.json from archive `a` (never
 * another volume's). Returns LU_OK and *version; LU_NOT_FOUND (no such
 * file), LU_FORMAT_ERROR (not {"version": <integer>}), LU_MEM_ERROR or the
 * read's failure, with the reason in `why`. Only LU_NOT_FOUND and
 * LU_FORMAT_ERROR say the volume is stale; any other failure says nothing
 * about it. */
lu_status lu__volume_version(lu_archive *a, const char *name, long long *version, char *why,
                             size_t cap);

/* The version floor for a volume about to be mounted at run time as
 * `name`: LU_OK when the context's minimum_version is 0 or less, or the
 * volume's version file says at least that minimum; LU_VERSION_MISMATCH
 * when it says less, or is missing or not {"version": N} (what start-up
 * pruning removes); a read failure's own status. */
lu_status lu__version_floor(lu_context *ctx, const char *name, lu_archive *a, lu_error *err);

/* The same floor for a volume still on its way in: opens the `format`
 * archive at `path` (a verified download before it is installed), checks
 * it as lu__version_floor does, and closes it. Returns what that returns,
 * or the open's failure. */
lu_status lu__version_floor_file(lu_context *ctx, const char *name, const char *format, const char *path,
                                 lu_error *err);

/* ---- file helpers (fsutil.c) ---------------------------------------- */

/* Writes `len` bytes to <dir>/<name> through <name>.tmp, fsync, rename and a
 * directory fsync. On failure the old file is untouched. */
lu_status lu__fs_write_atomic(const lu_env *env, const char *dir, const char *name, const void *data,
                              size_t len, lu_error *err);
/* Installs a file already written in full: fsyncs `from`, renames it to
 * `to` and fsyncs `to`'s directory, through env->io. Returns LU_OK,
 * LU_IO_ERROR or LU_NO_SPACE (then `to` is as before). */
lu_status lu__fs_install(const lu_env *env, const char *from, const char *to, lu_error *err);
/* Copies the file `from` to `to` through <to>.tmp, then as lu__fs_install
 * (fsync, rename, directory fsync), all through env->io. On failure `to` is
 * as before and the temporary file is gone; `from` is never changed.
 * Returns LU_OK, LU_NOT_FOUND (no `from`), LU_INVAL, LU_IO_ERROR, LU_NO_SPACE. */
lu_status lu__fs_copy_atomic(const lu_env *env, const char *from, const char *to, lu_error *err);
/* Reads a whole file into a NUL-terminated buffer. */
lu_status lu__fs_read_all(const lu_env *env, const char *path, char **data, size_t *len,
                          lu_error *err);
lu_status lu__fs_mkdirs(const lu_env *env, const char *path, lu_error *err);
char *lu__path_join(const lu_env *env, const char *dir, const char *name);
/* Renames <dir>/<name> to <dir>/<name>.corrupt-<UTC stamp>[-N] (a file the
 * library cannot read is kept for a bug report, never deleted), through
 * env->io. Returns LU_OK once the file was renamed, with *moved_to the new
 * path (allocated; NULL when that allocation failed), or the failure with
 * *moved_to NULL and the file where it was. */
lu_status lu__fs_move_aside(const lu_env *env, const char *dir, const char *name, char **moved_to,
                            lu_error *err);

/* ---- the content-addressed store (store.c) ------------------------------ */

/* <save>/volumes/sha256/<hex>.zip[.sig] for a 64-hex SHA-256 (any case)
 * into out. LU_OK, or LU_INVAL (not 64 hex digits, no save directory, too
 * long). */
lu_status lu__store_path(const lu_context *ctx, const char *sha256, bool sig, char *out, size_t cap);
/* Adds the installed, verified volume `path` (and `path`.sig when `sig`)
 * to the store under `sha256` by hard links, replacing an entry already
 * there (same bytes, another file: the entry follows the newest).
 * Never fails: a file system without links has no store (logged). */
void lu__store_add(lu_context *ctx, const char *path, const char *sha256, bool sig);
/* Puts the stored file `from` in place as `to` (replacing it): a hard link
 * in the store's folder (<basename>.tmp), then as lu__fs_install. LU_OK, LU_INVAL, LU_IO_ERROR or
 * LU_NO_SPACE (then `to` is as before). */
lu_status lu__store_install(lu_context *ctx, const char *from, const char *to, lu_error *err);
/* Deletes the store's entries no other file name refers to (link count
 * 1); returns how many. Run after volumes are deleted or replaced. */
size_t lu__store_collect(lu_context *ctx);

/* ---- the save directory's layout (layout.c) --------------------------- */

typedef enum lu_save_area {
    LU_SAVE_ROOT,       /* <save> */
    LU_SAVE_VOLUMES,    /* <save>/volumes */
    LU_SAVE_DOWNLOADS,  /* <save>/downloads */
    LU_SAVE_UPDATE,     /* <save>/update */
    LU_SAVE_STORE,      /* <save>/volumes/sha256: the content-addressed store (store.c) */
} lu_save_area;

/* <save>/<area>[/<file>] into out; the area's folder is created first when
 * `create`. `file` (may be NULL) is used as given: check it with
 * lu_file_name_check first. Returns LU_OK, LU_INVAL (no save dir, or the
 * path does not fit `cap`), LU_IO_ERROR (create). */
struct lu_context;
lu_status lu__save_path(const struct lu_context *ctx, lu_save_area area, const char *file,
                        bool create, char *out, size_t cap, lu_error *err);
/* True when `path` (resolved) is a regular file inside <save>/volumes/
 * (directly inside it when `top_only`): the files the library may delete. */
bool lu__in_volumes_dir(const struct lu_context *ctx, const char *path, bool top_only);
/* The save directory, or NULL when the context has none. */
const char *lu__save_dir(const struct lu_context *ctx);

/* The update manager's release volumes are <save>/volumes/rel-<version>-<file>
 * (engine/update/release.c names them, its garbage collection finds them by
 * this prefix). They are versioned by the update manager's state, not by
 * /version_<name>.json, so start-up pruning leaves them alone (prune.c). */
#define LU_RELEASE_FILE_PREFIX "rel-"

/* ---- the context (context.c, mount_table.c, lookup.c) ---------------- */

#include <pthread.h>

typedef struct lu_job lu_job;          /* mount_table.c */

typedef struct lu_report_entry {
    char *name, *uri, *action, *message;
    lu_status status;
} lu_report_entry;

/* ---- layers above the core (context.c) -------------------------------
 *
 * The core knows no layer above it. A layer (net/, update/) that keeps
 * per-context state attaches it with its own const ops; lu_update() then
 * calls its poll hook and lu_context_close() its close hook (highest level
 * first). All on the thread that calls lu_update(). */

#define LU_LAYERS_MAX 4

typedef struct lu_layer_ops {
    const char *name;   /* for messages: "net", "update" */
    int level;          /* close order: a higher level closes first */
    /* Advances the layer's work and runs its callbacks; returns how many
     * ran. May be NULL. */
    int (*poll)(struct lu_context *ctx, void *state);
    /* Frees the state without running callbacks. */
    void (*close)(struct lu_context *ctx, void *state);
} lu_layer_ops;

struct lu_context {
    lu_env env;
    char *save_dir;                 /* NULL: no persistence */
    int lock_fd;
    lu_snapshot_cell cell;          /* what readers see */
    pthread_mutex_t write_lock;     /* serializes mount changes */
    lu_snapshot *current;           /* the published snapshot; writers only */
    uint64_t next_seq;
    /* tables committed (mount_table.c: one index build and publish each):
     * writers only; read by the tests and lubench to count builds */
    uint64_t commits;
    lu_report_entry *report;
    size_t nreport;
    /* persisted mounts whose volume failed to open at start-up for a
     * passing reason (memory, I/O): not mounted, kept in the mounts file
     * for the next start (lu__persist_held_stays); writers only */
    lu_saved_mount *held;
    size_t nheld;
    /* asynchronous adds: one worker, a job queue and a completion queue */
    pthread_mutex_t queue_lock;
    pthread_cond_t queue_cond;
    pthread_t worker;
    bool worker_started, stopping;
    lu_job *jobs, *jobs_tail, *done, *done_tail;
    /* the configuration as the caller gave it, its strings and key copied,
     * for the layers above the core to read (lu__options) */
    lu_config options;
    char *options_copy;
    /* lu_update calls running (a callback may call lu_update again) and a
     * lu_context_close that came from a callback inside one: the close
     * happens when the outermost lu_update returns; until then no further
     * callback runs */
    int update_depth;
    bool close_requested;
    /* the layers attached above the core (lu__layer_attach) */
    struct lu_layer_slot {
        const struct lu_layer_ops *ops;
        void *state;
    } layers[LU_LAYERS_MAX];
};

/* True once lu_context_close was called from a callback inside lu_update:
 * a poll hook stops delivering callbacks (it frees what it would have
 * delivered without calling it) and returns. Inline: the worker's queue,
 * the net layer and the context all read the same flag. */
static inline bool lu__closing(const lu_context *ctx)
{
    return ctx->close_requested;
}

/* Internal lu__mount_add_internal flag: a mount the context restores from
 * the mounts file at open. Start-up pruning, not the version floor, judges
 * its version (mount_table.c, context.c). */
#define LU__MOUNT_RESTORED (1u << 16)

/* Opens the volume and commits it to the table (mount_table.c). Built-in
 * and restored mounts skip the version floor; every other add applies it
 * before the table changes. */
lu_status lu__mount_add_internal(lu_context *ctx, const char *name, const char *uri,
                                 int priority, unsigned flags, bool builtin, lu_error *err);
/* Opens volume `uri` as mount `name` for context open (context.c) without
 * changing the table: no name check, no version floor (the built-in and
 * restored mounts skip it), seq ++ctx->next_seq. Only while the context is
 * being opened: nothing else runs on it yet. Returns LU_OK and *out (one
 * reference), or what the URI or the volume's open failed with (*out NULL). */
lu_status lu__mount_open(lu_context *ctx, const char *name, const char *uri, int priority, bool persist,
                         lu_mount **out, lu_error *err);
/* Publishes the current mounts plus fresh[0..n) (names not in the table:
 * the caller's rule) with one index build; when `persist`, the mounts file
 * (the table's persistent mounts and the held entries) is written once
 * before the publish. Takes the write lock. Returns LU_OK, or the build's
 * or the write's failure with the table and the file as they were
 * (mount_table.c). */
lu_status lu__mounts_add_many(lu_context *ctx, lu_mount *const *fresh, size_t n, bool persist, lu_error *err);
/* Removes the mounts (and held entries) named in names[0..n) (valid user
 * names: the caller checks them) with one index build and at most one
 * mounts-file write, before the publish; removed[j] tells whether
 * names[j] was mounted or held (all false on failure). With seqs (may be
 * NULL) only the very mounts judged are removed: names[j] only while it is
 * still the mount added as seqs[j] (one replaced or removed meanwhile is
 * left as it is, removed[j] false), and held entries are not touched. A
 * name that is neither is no error. Takes the write lock. Returns LU_OK,
 * LU_MEM_ERROR or the write's failure with the table and the file as they
 * were (mount_table.c). */
lu_status lu__mount_remove_many(lu_context *ctx, const char *const *names, const uint64_t *seqs, size_t n,
                                bool *removed, lu_error *err);

/* The stale mounts of one pruning pass (prune.c). lu__stale_find reads the
 * version file of each of mounts[0..n) that is not built in (each from
 * that mount alone) and keeps those below `minimum` (or with no readable
 * {"version": N}) in lookup order; marks[i] (marks may be NULL) is set
 * true for a stale mounts[i]. Returns LU_OK, or the last failure to judge
 * a mount (a version file that could not be read, or LU_MEM_ERROR copying
 * its names: that mount kept, the rest still judged) with *out set, or
 * LU_MEM_ERROR with *out NULL. *out is NULL when nothing is stale.
 * Holds no lock; reads only the mounts given. */
typedef struct lu_stale lu_stale;
lu_status lu__stale_find(lu_context *ctx, lu_mount *const *mounts, size_t n, long long minimum, bool *marks,
                         lu_stale **out, lu_error *err);
size_t lu__stale_count(const lu_stale *p);
/* Their names, in lookup order, and the seq of each mount judged (owned by `p`). */
const char *const *lu__stale_names(const lu_stale *p);
const uint64_t *lu__stale_seqs(const lu_stale *p);
/* Once the mounts file without them is written: deletes the volume file of
 * each stale mount with removed[j] (removed NULL: all) that lies inside
 * <save>/volumes/ and adds its "pruned" report line. Returns how many. */
size_t lu__stale_settle(lu_context *ctx, const lu_stale *p, const bool *removed);
void lu__stale_free(lu_context *ctx, lu_stale *p);   /* accepts NULL */

/* Stops the worker and frees queued jobs and completions (mount_table.c). */
void lu__jobs_shutdown(lu_context *ctx);
/* Runs the callbacks of finished asynchronous adds; returns how many ran
 * (mount_table.c, from lu_update). */
int lu__jobs_deliver(lu_context *ctx);

/* Checks `path`, acquires the current snapshot and finds the entry that
 * serves it (lookup.c). Returns LU_OK with *sp acquired on shard *shard —
 * the caller releases it with lu__cell_release — and *m, *e; or
 * LU_NOT_INITIALIZED (no context), lu_path_check's failure, LU_NOT_FOUND
 * (nothing acquired). */
lu_status lu__find(lu_context *ctx, const char *path, lu_snapshot **sp, unsigned *shard, const lu_mount **m,
                   const lu_entry **e, lu_error *err);

/* Attaches `state` under `ops` (context.c). Returns LU_OK, LU_INVAL when a
 * layer with these ops is attached already, LU_MEM_ERROR when all
 * LU_LAYERS_MAX slots are taken. */
lu_status lu__layer_attach(lu_context *ctx, const lu_layer_ops *ops, void *state, lu_error *err);
/* The state attached under `ops`, or NULL. */
void *lu__layer_state(const lu_context *ctx, const lu_layer_ops *ops);
/* Detaches the layer without calling its close hook; returns its state. */
void *lu__layer_detach(lu_context *ctx, const lu_layer_ops *ops);
/* The configuration the context was opened with (context.c). */
const lu_config *lu__options(const lu_context *ctx);

/* Appends to the start-up report (report.c). */
void lu__report_add(lu_context *ctx, const char *name, const char *uri, const char *action,
                    const lu_error *err);
/* Frees the report's entries (report.c, from lu_context_close). */
void lu__report_free(lu_context *ctx);

#endif
