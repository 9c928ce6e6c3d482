/* snapshot.c -- immutable views of the mount table with their merged index.
 *
 * A snapshot lists the mounts in lookup order (priority descending, later
 * add first among equals) and one hash index over the union of their
 * entries, in which each path appears once, pointing at the entry of the
 * mount that serves it. A lookup is one hash, one directory step and a
 * compare of the hashes of one cache line of one bucket (its home group),
 * whatever the number of mounts.
 *
 * The index is an extendible hash (internal.h): a directory of buckets
 * indexed by the top bits of the hash. A mount change derives the next
 * snapshot from the current one (lu__snapshot_next): it copies the
 * directory (or only the runs the last change wrote, into a block that
 * holds the directory before it) and only the buckets the changed mounts'
 * entries fall in, so an add or a remove costs its own entries, not every
 * mounted one. Slots keep the full hash and the path's offset in its
 * mount's name pool (plus the mount's base, given in granule ranges), so a
 * hit reaches the path through one small table and compares it, and the
 * entry from the position stored before the path. A slot's LU_SLOT_SHADOWS
 * bit says the entry may hide a lower mount's entry of that path: removing
 * a mount looks
 * for the next server of a path only when it is set. Snapshots are never
 * modified once published (cell.c publishes them); the buckets they share
 * are freed in order (lu__snapshot_follow), and so are the mount
 * references: a derived snapshot retains only the mounts it adds and
 * inherits the others' references from its predecessor (internal.h,
 * lu_snapshot), so a change does not read every mount.
 */
#include <pthread.h>
#include <string.h>

#include "internal.h"

/* ---- mounts --------------------------------------------------------- */

lu_mount *lu__mount_new(const lu_env *env, const char *name, const char *uri, int priority,
                        uint64_t seq, bool persist, lu_archive *archive)
{
    lu_mount *m = lu__calloc(env, 1, sizeof *m);
    if (!m) return NULL;
    m->name = lu__strdup(env, name);
    m->uri = lu__strdup(env, uri);
    if (!m->name || !m->uri) {
        lu__free(env, m->name);
        lu__free(env, m->uri);
        lu__free(env, m);
        return NULL;
    }
    atomic_init(&m->refs, 1);
    m->priority = priority;
    m->seq = seq;
    m->persist = persist;
    m->archive = archive;
    lu__archive_retain(archive);
    return m;
}

void lu__mount_retain(lu_mount *m)
{
    atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
}

void lu__mount_release(const lu_env *env, lu_mount *m)
{
    if (!m || atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1) return;
    lu__archive_release(m->archive);
    lu__free(env, m->name);
    lu__free(env, m->uri);
    lu__free(env, m);
}

/* ---- snapshots ------------------------------------------------------ */

#define MAX_FILL LU_BUCKET_SLOTS              /* a full bucket splits before it takes one more */
#define FULL_FILL (LU_BUCKET_SLOTS * 3 / 4)   /* a full build fills to 3/4 at most, on average */
#define MAX_DEPTH 27                          /* 2^27 directory entries (1 GiB) at most */
#define MAX_GRANULES ((((size_t)1 << 31) - 2) >> LU_ID_SHIFT)   /* ids are 31 bits: 32,767 granules */

/* The bucket fields kept in its groups' spare bytes (lu_group). */
static inline uint32_t bucket_count(const lu_bucket *b)
{
    return b->g[0].total;
}

static inline uint64_t bucket_gen(const lu_bucket *b)
{
    return b->g[0].id[LU_GROUP_SLOTS] | (uint64_t)b->g[1].id[LU_GROUP_SLOTS] << 32;
}

static inline void bucket_set_gen(lu_bucket *b, uint64_t gen)
{
    b->g[0].id[LU_GROUP_SLOTS] = (uint32_t)gen;
    b->g[1].id[LU_GROUP_SLOTS] = (uint32_t)(gen >> 32);
}

/* Sets the id of slot `at` (lu__bucket_find's group << 3 | index). */
static inline void slot_set_id(lu_bucket *b, int at, uint32_t id)
{
    b->g[at >> 3].id[at & 7] = id;
}

/* Lookup order, the one rule: higher priority first, then the later add. */
static bool ranks_before(int pa, uint64_t sa, int pb, uint64_t sb)
{
    return pa != pb ? pa > pb : sa > sb;
}

static bool before(const lu_mount *a, const lu_mount *b)
{
    return ranks_before(a->priority, a->seq, b->priority, b->seq);
}

/* before() on the keys the snapshots keep. */
static bool key_before(const lu_mount_key *a, const lu_mount_key *b)
{
    return ranks_before(a->priority, a->seq, b->priority, b->seq);
}

static lu_mount_key key_of(const lu_mount *m)
{
    return (lu_mount_key){m->seq, m->priority, lu__mount_name_hash(m->name)};
}

static void release_all(const lu_env *env, lu_mount *const *m, size_t n)
{
    for (size_t i = 0; i < n; i++) lu__mount_release(env, m[i]);
}

/* Appends m to the list *a (n used, room *cap); false when out of memory.
 * A change lists few mounts here: the list starts small. */
static bool list_push(const lu_env *env, lu_mount ***a, size_t *n, size_t *cap, lu_mount *m)
{
    if (*n == *cap) {
        size_t c = *cap ? *cap * 2 : 4;
        lu_mount **g = lu__realloc(env, *a, c * sizeof *g);
        if (!g) return false;
        *a = g;
        *cap = c;
    }
    (*a)[(*n)++] = m;
    return true;
}

/* A mount's ids are the offsets of its paths in its name pool, so it
 * takes a granule per LU_ID_GRANULE bytes of the pool. */
static size_t granules_of(const lu_mount *m)
{
    size_t c = m->archive->entries.pool_len;
    return c ? (c + LU_ID_GRANULE - 1) >> LU_ID_SHIFT : 1;
}

static void set_depth(lu_snapshot *s, uint32_t depth)
{
    s->depth = depth;
    s->shift = 32 - depth;
}

/* ---- the bucket pool -------------------------------------------------- */

/* A mount change copies a bucket for each of its entries and, one change
 * later, frees the buckets it replaced: a malloc and a free per entry, each
 * on a cold heap chunk. Instead the replaced buckets go to a pool shared by
 * the context's snapshots, and the next derivation copies into them.
 *
 * The buckets themselves are carved from blocks the pool allocates (slabs,
 * freed with the pool; lu__block_alloc), not allocated one by one: at a
 * million entries the buckets take some 34 MB, and each entry a change
 * adds reaches a bucket on a page of its own. With 4 KiB pages that is a
 * TLB miss for each, and under a hypervisor's nested paging a miss walks
 * two page tables; on 2 MiB pages the last of 1,024 adds cost 1.1 times
 * the first instead of 1.9 (docs/BENCHMARKS.md). Large slabs from the
 * default allocator are mapped for the purpose with 2 MiB pages asked
 * for; an engine's allocator serves them like any other block. Slabs
 * double as the pool grows, up to 4 MiB (two such pages), so the room a
 * slab has not used yet stays under that; a build from scratch takes one
 * slab of what it needs. A bucket is never given back
 * alone: the pool keeps every spare, so a context's index memory is the
 * most it has held, until the context closes. */

#define SLAB_MIN 64                    /* buckets in the smallest slab (16 KB) */
#define SLAB_MAX ((size_t)4 << 20)     /* bytes in the largest, but for a build that needs more */

struct lu_bucket_pool {
    pthread_mutex_t lock;   /* lu__snapshot_free may run on any reader thread */
    atomic_long refs;       /* one per snapshot */
    /* the spare buckets, an array grown on demand (a context that only
     * ever mounted once has none); taken whole by a derivation while it
     * runs (lu_snapshot.spare) */
    lu_bucket **spares;
    size_t nspares, spares_cap;
    /* the slabs (freed with the pool) and the unused end of the newest;
     * only the snapshot being built carves (the context's write lock) */
    struct lu_slab {
        void *block;
        size_t bytes;
    } *slabs;
    size_t nslabs, slabs_cap;
    char *carve;
    size_t carve_left;   /* buckets left to carve there */
    size_t carved;       /* buckets carved in all (the tests read it) */
    /* A directory block for the next derivation (a change copies the whole
     * directory: a new block each time would be new pages each time), and
     * the generation of the snapshot whose directory it holds (0: none, a
     * snapshot never published): when that is the new one's predecessor's
     * predecessor, only the runs its predecessor wrote are copied. */
    lu_bucket **dir;
    size_t dir_cap;
    uint64_t dir_gen;
};

static struct lu_bucket_pool *pool_new(const lu_env *env)
{
    struct lu_bucket_pool *p = lu__calloc(env, 1, sizeof *p);
    if (!p) return NULL;
    if (pthread_mutex_init(&p->lock, NULL) != 0) {
        lu__free(env, p);
        return NULL;
    }
    atomic_init(&p->refs, 1);
    return p;
}

static void pool_release(const lu_env *env, struct lu_bucket_pool *p)
{
    if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1) return;
    for (size_t i = 0; i < p->nslabs; i++) lu__block_free(env, p->slabs[i].block, p->slabs[i].bytes);   /* every bucket */
    lu__free(env, p->slabs);
    lu__free(env, p->spares);
    lu__free(env, p->dir);
    pthread_mutex_destroy(&p->lock);
    lu__free(env, p);
}

/* Grows the spare array *a (room *cap, n used) to hold `need` more; false
 * when out of memory (the buckets that find no room stay in their slabs,
 * unused, until the pool goes). */
static bool spares_grow(const lu_env *env, lu_bucket ***a, size_t *cap, size_t n, size_t need)
{
    if (n + need <= *cap) return true;
    size_t c = *cap ? *cap : 64;
    while (c < n + need) c *= 2;
    lu_bucket **g = lu__realloc(env, *a, c * sizeof *g);
    if (!g) return false;
    *a = g;
    *cap = c;
    return true;
}

/* Adds the n buckets at `b` to the pool's spares (those that find no
 * room when out of memory stay unused in their slabs). */
static void pool_put(const lu_env *env, struct lu_bucket_pool *p, lu_bucket *const *b, size_t n)
{
    if (!n) return;
    pthread_mutex_lock(&p->lock);
    spares_grow(env, &p->spares, &p->spares_cap, p->nspares, n);
    size_t k = p->spares_cap - p->nspares < n ? p->spares_cap - p->nspares : n;
    if (k) memcpy(p->spares + p->nspares, b, k * sizeof *b);
    p->nspares += k;
    pthread_mutex_unlock(&p->lock);
}

/* A new slab with room for `want` buckets when that is more than
 * SLAB_MAX bytes hold, else for as many as the pool carved so far (at
 * least SLAB_MIN, at most SLAB_MAX bytes' worth); false when out of
 * memory. */
static bool slab_new(const lu_env *env, struct lu_bucket_pool *p, size_t want)
{
    const size_t cap = (SLAB_MAX - 64) / sizeof(lu_bucket);
    size_t n = want;
    if (want <= cap) {
        n = p->carved > want ? p->carved : want;
        if (n < SLAB_MIN) n = SLAB_MIN;
        if (n > cap) n = cap;
    }
    if (n > (SIZE_MAX - 64) / sizeof(lu_bucket)) return false;
    if (p->nslabs == p->slabs_cap) {
        size_t c = p->slabs_cap ? 2 * p->slabs_cap : 8;
        struct lu_slab *g = lu__realloc(env, p->slabs, c * sizeof *g);
        if (!g) return false;
        p->slabs = g;
        p->slabs_cap = c;
    }
    size_t bytes = n * sizeof(lu_bucket) + 64;
    char *b = lu__block_alloc(env, bytes);
    if (!b) return false;
    p->slabs[p->nslabs++] = (struct lu_slab){b, bytes};
    p->carve = (char *)(((uintptr_t)b + 63) & ~(uintptr_t)63);   /* buckets start on a cache line */
    p->carve_left = n;
    return true;
}

/* A bucket from the newest slab (a new one when it is used up, with room
 * for `want`), or NULL when out of memory. */
static lu_bucket *bucket_carve(const lu_env *env, struct lu_bucket_pool *p, size_t want)
{
    if (!p->carve_left && !slab_new(env, p, want)) return NULL;
    lu_bucket *b = (lu_bucket *)(void *)p->carve;
    p->carve += sizeof(lu_bucket);
    p->carve_left--;
    p->carved++;
    return b;
}

/* Keeps the directory block `dir` (room for cap entries; the directory of
 * generation `gen`, 0 if none) in the pool when it is newer than the one
 * there, or as new and larger; frees the other. */
static void dir_give(const lu_env *env, struct lu_bucket_pool *p, lu_bucket **dir, size_t cap, uint64_t gen)
{
    pthread_mutex_lock(&p->lock);
    if (!p->dir || gen > p->dir_gen || (gen == p->dir_gen && cap > p->dir_cap)) {
        lu_bucket **d = p->dir;
        p->dir = dir;
        p->dir_cap = cap;
        p->dir_gen = gen;
        dir = d;
    }
    pthread_mutex_unlock(&p->lock);
    lu__free(env, dir);
}

/* A directory block with room for `need` entries: the pool's when it is
 * large enough, else a new one. Sets *cap and *gen (what it holds, as
 * dir_give). NULL when out of memory. */
static lu_bucket **dir_take(const lu_env *env, struct lu_bucket_pool *p, size_t need, size_t *cap, uint64_t *gen)
{
    lu_bucket **d = NULL;
    *gen = 0;
    pthread_mutex_lock(&p->lock);
    if (p->dir && p->dir_cap >= need) {
        d = p->dir;
        *cap = p->dir_cap;
        *gen = p->dir_gen;
        p->dir = NULL;
        p->dir_cap = 0;
        p->dir_gen = 0;
    }
    pthread_mutex_unlock(&p->lock);
    if (!d && (d = lu__malloc(env, need * sizeof *d))) *cap = need;
    return d;
}

#define DLOG_MAX ((size_t)1 << 16)   /* runs logged at most; a larger change copies the whole directory */

/* Logs that s wrote the directory run at `first` of 2^lg entries. A run
 * can be logged more than once (a bucket copied, then split): once the
 * runs cover as many entries as the directory has, copying it whole is
 * cheaper, and the log is given up. */
static void dlog_add(lu_snapshot *s, size_t first, uint32_t lg)
{
    if (s->dlog_lost) return;
    s->dlog_entries += (size_t)1 << lg;
    if (s->dlog_entries >= (size_t)1 << s->depth) {
        s->dlog_lost = true;
        return;
    }
    if (s->ndlog == s->dlog_cap) {
        size_t c = s->dlog_cap ? s->dlog_cap * 2 : 1024;
        uint32_t *g = c <= DLOG_MAX ? lu__realloc(s->env, s->dlog, c * sizeof *g) : NULL;
        if (!g) {
            s->dlog_lost = true;
            return;
        }
        s->dlog = g;
        s->dlog_cap = c;
    }
    s->dlog[s->ndlog++] = (uint32_t)first << 5 | lg;   /* first < 2^MAX_DEPTH = 2^27 */
}

/* Brings `to`, the directory of prev's predecessor, up to prev's: copies
 * the runs prev wrote. */
static size_t dir_replay(lu_bucket **to, const lu_snapshot *prev)
{
    size_t copied = 0;
    for (size_t i = 0; i < prev->ndlog; i++) {
        if (i + 16 < prev->ndlog) __builtin_prefetch(&to[prev->dlog[i + 16] >> 5], 1);
        size_t first = prev->dlog[i] >> 5, run = (size_t)1 << (prev->dlog[i] & 31);
        memcpy(to + first, prev->dir + first, run * sizeof *to);
        copied += run;
    }
    return copied;
}

/* Takes the pool's spare buckets, their array and all, as s's. */
static void spare_take(lu_snapshot *s)
{
    struct lu_bucket_pool *p = s->pool;
    pthread_mutex_lock(&p->lock);
    s->spare = p->spares;
    s->nspare = p->nspares;
    s->spare_cap = p->spares_cap;
    p->spares = NULL;
    p->nspares = p->spares_cap = 0;
    pthread_mutex_unlock(&p->lock);
}

/* Gives s's unused spares and their array back to the pool. */
static void spare_return(lu_snapshot *s)
{
    struct lu_bucket_pool *p = s->pool;
    if (!s->spare) return;
    pthread_mutex_lock(&p->lock);
    bool took = !p->spares;
    if (took) {
        p->spares = s->spare;
        p->nspares = s->nspare;
        p->spares_cap = s->spare_cap;
    }
    pthread_mutex_unlock(&p->lock);
    if (!took) {   /* a freed snapshot's buckets made the pool a new array meanwhile */
        pool_put(s->env, p, s->spare, s->nspare);
        lu__free(s->env, s->spare);
    }
    s->spare = NULL;
    s->nspare = s->spare_cap = 0;
}

/* Keeps bucket b (may be NULL), made by this derivation and replaced in
 * it, or not used, as a spare. */
static void spare_push(lu_snapshot *s, lu_bucket *b)
{
    if (b && spares_grow(s->env, &s->spare, &s->spare_cap, s->nspare, 1)) s->spare[s->nspare++] = b;
}

/* Whether s is the last snapshot holding its pool: what it frees would go
 * to a pool about to go, with its slabs. */
static bool pool_going(const lu_snapshot *s)
{
    return atomic_load_explicit(&s->pool->refs, memory_order_acquire) == 1;
}

/* Makes room for `n` more buckets than s has spares in one slab, for a
 * build that knows how many it needs (a new slab of that size, when the
 * newest has too little room left). False when out of memory. */
static bool bucket_reserve(lu_snapshot *s, size_t n)
{
    struct lu_bucket_pool *p = s->pool;
    if (n <= s->nspare) return true;
    n -= s->nspare;
    return p->carve_left >= n || slab_new(s->env, p, n);
}

/* An uninitialized bucket: a spare, else a new one. The spares are an
 * array, not a list: the bucket four pops ahead is fetched (for writing)
 * while this one is filled, where a list's next link was a miss each. */
static lu_bucket *bucket_alloc(lu_snapshot *s)
{
    if (!s->nspare) return bucket_carve(s->env, s->pool, 1);
    lu_bucket *b = s->spare[--s->nspare];
    if (s->nspare >= 4) {
        const char *n = (const char *)s->spare[s->nspare - 4];
        for (size_t o = 0; o < sizeof *b; o += 64) __builtin_prefetch(n + o, 1);
    }
    return b;
}

/* Gives the pool the buckets of the directory (each once) that this
 * snapshot made, or all when `all`. */
static void free_buckets(lu_snapshot *s, bool all)
{
    if (!s->dir || pool_going(s)) return;
    size_t n = (size_t)1 << s->depth, k = 0;
    lu_bucket *batch[256];
    for (size_t i = 0; i < n;) {   /* a bucket of depth d fills 2^(depth-d) entries in a row */
        lu_bucket *b = s->dir[i];
        i += (size_t)1 << (s->depth - lu__bucket_depth(b));
        if (!all && bucket_gen(b) != s->gen) continue;
        batch[k++] = b;
        if (k == sizeof batch / sizeof batch[0]) pool_put(s->env, s->pool, batch, k), k = 0;
    }
    pool_put(s->env, s->pool, batch, k);
}

/* Frees what the snapshot holds, except its buckets, retired list and
 * mount references; `published`: its directory is that of its generation. */
static void free_shell(lu_snapshot *s, bool published)
{
    lu__free(s->env, s->mounts);
    lu__free(s->env, s->keys);
    lu__free(s->env, s->fresh);
    lu__free(s->env, s->dropped);
    lu__free(s->env, s->bases);
    lu__free(s->env, s->granules);
    if (s->dir && s->pool) dir_give(s->env, s->pool, s->dir, s->dir_cap, published ? s->gen : 0);
    else lu__free(s->env, s->dir);
    lu__free(s->env, s->dlog);
    lu__free(s->env, s->retired);
    if (s->pool) spare_return(s);
    pool_release(s->env, s->pool);
    lu__free(s->env, s);
}

/* Frees a snapshot never published: its own mounts' references and the
 * buckets it made (what it shares, its predecessor still owns). */
static void discard(lu_snapshot *s)
{
    release_all(s->env, s->fresh, s->nfresh);
    free_buckets(s, false);
    free_shell(s, false);
}

void lu__snapshot_free(lu_snapshot *s)
{
    if (s && s->derived && !s->followed) {
        discard(s);
        return;
    }
    /* destroy in order: each destroyed snapshot drops its link on the next */
    while (s && atomic_fetch_sub_explicit(&s->links, 1, memory_order_acq_rel) == 1) {
        lu_snapshot *next = s->next;
        /* the retired buckets go to the pool */
        if (!pool_going(s)) pool_put(s->env, s->pool, s->retired, s->nretired);
        if (!next || s->alone) free_buckets(s, true);   /* nothing shares its buckets */
        /* its references pass to the next, but for the mounts the next dropped */
        if (next && next->derived) release_all(s->env, next->dropped, next->ndropped);
        else release_all(s->env, s->mounts, s->nmounts);
        free_shell(s, true);
        s = next;
    }
}

void lu__snapshot_follow(lu_snapshot *prev, lu_snapshot *s)
{
    s->followed = true;
    if (!prev) return;
    prev->alone = !s->derived;   /* built from scratch: shares no bucket with prev */
    atomic_fetch_add_explicit(&s->links, 1, memory_order_relaxed);
    prev->next = s;
}

/* The slot id of entry `e` of the mount whose ids start at `base`: its
 * path's offset in the mount's pool, + 1 (0 is an empty slot). */
static inline uint32_t path_id(uint32_t base, const lu_entry *e)
{
    return base + e->name + 1;
}

/* The id of entry `e` of mount mi. */
static uint32_t id_of(const lu_snapshot *s, size_t mi, const lu_entry *e)
{
    return path_id(s->bases[mi], e);
}

/* Maps a slot id to its mount and entry (the entry's position is stored
 * before its path: lu__entry_at). */
static inline void decode(const lu_snapshot *s, uint32_t id, const lu_mount **m, const lu_entry **e)
{
    const lu_granule *g;
    const char *name = lu__snapshot_name(s, id, &g);
    *m = g->mount;
    *e = g->items + lu__entry_at(name);
}

bool lu__snapshot_find(const lu_snapshot *s, const char *path, size_t len, uint32_t hash,
                       const lu_mount **m, const lu_entry **e)
{
    uint32_t id = lu__snapshot_probe(s, path, len, hash);
    if (id) decode(s, id, m, e);
    return id != 0;
}

/* ---- building the index ---------------------------------------------- */

static lu_bucket *bucket_new(lu_snapshot *s, uint32_t depth)
{
    lu_bucket *b = bucket_alloc(s);
    if (b) {
        memset(b, 0, sizeof *b);
        b->g[0].depth = (uint8_t)depth;
        bucket_set_gen(b, s->gen);
    }
    return b;
}

static bool retire(lu_snapshot *s, lu_bucket *b)
{
    if (bucket_gen(b) == s->gen) {   /* made by this build: no one else sees it */
        spare_push(s, b);
        return true;
    }
    if (s->nretired == s->retired_cap) {
        size_t cap = s->retired_cap ? s->retired_cap * 2 : 64;
        lu_bucket **r = lu__realloc(s->env, s->retired, cap * sizeof *r);
        if (!r) return false;
        s->retired = r;
        s->retired_cap = cap;
    }
    s->retired[s->nretired++] = b;
    return true;
}

/* Points the directory entries of the bucket at `idx` (depth d) to `b`. */
static void dir_fill(lu_snapshot *s, size_t idx, uint32_t d, lu_bucket *b)
{
    size_t run = (size_t)1 << (s->depth - d), first = idx & ~(run - 1);
    for (size_t i = 0; i < run; i++) s->dir[first + i] = b;
    dlog_add(s, first, s->depth - d);
}

/* The bucket at `idx`, made writable in this snapshot (copied if shared). */
static lu_bucket *own(lu_snapshot *s, size_t idx, lu_error *err)
{
    lu_bucket *b = s->dir[idx];
    if (bucket_gen(b) == s->gen) return b;
    lu_bucket *c = bucket_alloc(s);
    if (!c || !retire(s, b)) {
        spare_push(s, c);
        lu__fail(err, LU_MEM_ERROR, "out of memory updating the index");
        return NULL;
    }
    memcpy(c, b, sizeof *c);
    bucket_set_gen(c, s->gen);
    dir_fill(s, idx, lu__bucket_depth(b), c);
    return c;
}

/* Empties slot `at` (group << 3 | index): the group's last slot moves
 * into it, and the groups its path passed count one less. */
static void slot_delete(lu_bucket *b, int at)
{
    lu_group *g = &b->g[at >> 3];
    uint32_t i = (uint32_t)at & 7, last = --g->count;
    for (uint32_t gi = lu__bucket_home(g->hash[i]); gi != (uint32_t)at >> 3; gi = lu__group_next(gi)) b->g[gi].over--;
    g->hash[i] = g->hash[last];
    g->id[i] = g->id[last];
    g->hash[last] = g->id[last] = 0;
    b->g[0].total--;
}

/* Puts a slot in bucket b, which has room (fewer than LU_BUCKET_SLOTS):
 * in its home group, or the first after it with room, each group passed
 * counting it. */
static void slot_put(lu_bucket *b, uint32_t hash, uint32_t id)
{
    uint32_t gi = lu__bucket_home(hash);
    for (; b->g[gi].count == LU_GROUP_SLOTS; gi = lu__group_next(gi)) b->g[gi].over++;
    lu_group *g = &b->g[gi];
    g->hash[g->count] = hash;
    g->id[g->count] = id;
    g->count++;
    b->g[0].total++;
}

/* The slot of bucket b (as lu__bucket_find) whose id, shadow bit aside,
 * is `id` (its path's hash `hash`), or -1. By id, not by name: a removed
 * mount's granules are cleared before its paths leave the index, so a
 * slot of its path cannot reach the name. */
static int slot_of_id(const lu_bucket *b, uint32_t hash, uint32_t id)
{
    uint32_t gi = lu__bucket_home(hash);
    for (uint32_t n = 0; n < LU_BUCKET_GROUPS; n++, gi = lu__group_next(gi)) {
        const lu_group *g = &b->g[gi];
        for (uint32_t m = lu__group_match(g, hash); m;) {
            uint32_t i = lu__mask_next(&m);
            if ((g->id[i] & ~LU_SLOT_SHADOWS) == id) return (int)(gi << 3 | i);
        }
        if (!g->over) break;
    }
    return -1;
}

/* The deepest directory the table's entries may need: 2^16 entries, or
 * 8 times as many as its paths (a full build makes one for 10.5 to 21).
 * Random hashes never come near: MAX_FILL + 1 paths would have to share
 * that many bits. A volume made of paths whose hashes share most of their
 * bits (the hash is public) would otherwise double the directory up to
 * 2^MAX_DEPTH entries, 1 GiB, for 29 paths. */
static uint32_t depth_cap(const lu_snapshot *s)
{
    uint32_t d = 16;
    while (d < MAX_DEPTH && ((size_t)1 << d) < 8 * s->mount_entries) d++;
    return d;
}

/* Splits the bucket at `idx` in two (doubling the directory when needed). */
static lu_status split(lu_snapshot *s, size_t idx, lu_error *err)
{
    lu_bucket *b = s->dir[idx];
    if (lu__bucket_depth(b) >= MAX_DEPTH || (lu__bucket_depth(b) == s->depth && s->depth >= depth_cap(s)))
        return lu__fail(err, LU_INVAL, "too many resource paths share a hash prefix (over %u)", MAX_FILL);
    if (lu__bucket_depth(b) == s->depth) {
        size_t n = (size_t)1 << s->depth;
        lu_bucket **d = lu__malloc(s->env, 2 * n * sizeof *d);
        if (!d) return lu__fail(err, LU_MEM_ERROR, "out of memory growing the index");
        for (size_t i = 0; i < 2 * n; i++) d[i] = s->dir[i >> 1];
        lu__free(s->env, s->dir);
        s->dir = d;
        s->dir_cap = 2 * n;
        s->dlog_lost = true;   /* every position moved */
        set_depth(s, s->depth + 1);
        idx *= 2;
    }
    uint32_t depth = lu__bucket_depth(b);
    lu_bucket *lo = bucket_new(s, depth + 1), *hi = bucket_new(s, depth + 1);
    if (!lo || !hi) {
        spare_push(s, lo);
        spare_push(s, hi);
        return lu__fail(err, LU_MEM_ERROR, "out of memory growing the index");
    }
    uint32_t bit = 31 - depth;
    for (uint32_t gi = 0; gi < LU_BUCKET_GROUPS; gi++) {
        const lu_group *g = &b->g[gi];
        for (uint32_t i = 0; i < g->count; i++) slot_put((g->hash[i] >> bit) & 1 ? hi : lo, g->hash[i], g->id[i]);
    }
    size_t run = (size_t)1 << (s->depth - depth), first = idx & ~(run - 1);
    for (size_t i = 0; i < run; i++) s->dir[first + i] = i < run / 2 ? lo : hi;
    dlog_add(s, first, s->depth - depth);
    if (!retire(s, b)) {
        /* keep the old bucket in place: undo */
        for (size_t i = 0; i < run; i++) s->dir[first + i] = b;
        spare_push(s, lo);
        spare_push(s, hi);
        return lu__fail(err, LU_MEM_ERROR, "out of memory growing the index");
    }
    return LU_OK;
}

/* Entries go to random buckets of a table larger than the caches: the
 * loops over a mount's entries fetch the directory entry 24 entries ahead
 * and the whole bucket 12 ahead (a new entry copies it), so the misses
 * overlap instead of queuing. Always inlined: GCC takes a function whose
 * only effect is a prefetch for one without effects and drops the call
 * before it would inline it, and then no prefetch is made at all (so it
 * was until 2026-12-02: docs/BENCHMARKS.md). */
static LU_ALWAYS_INLINE void prefetch_ahead(const lu_snapshot *s, const lu_entries *t, size_t k)
{
    if (k + 24 < t->count) __builtin_prefetch(&s->dir[lu__snapshot_dir_index(s, t->items[k + 24].hash)]);
    if (k + 12 < t->count) {
        const char *b = (const char *)s->dir[lu__snapshot_dir_index(s, t->items[k + 12].hash)];
        for (size_t o = 0; o < sizeof(lu_bucket); o += 64) __builtin_prefetch(b + o);
    }
}

/* Where `path` (hash h) is in the index: its bucket's dir index and slot,
 * or -1. */
static int find_slot(const lu_snapshot *s, const char *path, size_t len, uint32_t h, size_t *idx)
{
    *idx = lu__snapshot_dir_index(s, h);
    return lu__bucket_find(s, s->dir[*idx], path, len, h);
}

/* Adds mount `m` (index mi in lookup order) to the index: each path it has
 * goes to it unless a mount before it serves that path. Its paths are
 * checked for duplicates first, if they have not been: here a path met
 * twice may be another mount's (lu__archive_open_to_mount). */
static lu_status add_mount(lu_snapshot *s, size_t mi, lu_error *err)
{
    const lu_mount *m = s->mounts[mi];
    const lu_entries *t = &m->archive->entries;
    if (!t->unique) LU_TRY(lu__archive_unique(m->archive, err));
    for (size_t k = 0; k < t->count; k++) {
        prefetch_ahead(s, t, k);
        const lu_entry *e = &t->items[k];
        const char *path = lu__entry_name(t, e);
        size_t len = strlen(path), idx;
        uint32_t id = id_of(s, mi, e);
        int at = find_slot(s, path, len, e->hash, &idx);
        if (at >= 0) {
            uint32_t old = lu__bucket_id(s->dir[idx], at);
            const lu_mount *om;
            const lu_entry *oe;
            decode(s, old, &om, &oe);
            uint32_t now = before(m, om) ? (id | LU_SLOT_SHADOWS) : (old | LU_SLOT_SHADOWS);
            if (now == old) continue;
            lu_bucket *b = own(s, idx, err);
            if (!b) return LU_MEM_ERROR;
            slot_set_id(b, at, now);
            continue;
        }
        while (bucket_count(s->dir[idx]) >= MAX_FILL) {
            LU_TRY(split(s, idx, err));
            idx = lu__snapshot_dir_index(s, e->hash);
        }
        lu_bucket *b = own(s, idx, err);
        if (!b) return LU_MEM_ERROR;
        slot_put(b, e->hash, id);
        s->entries++;
    }
    return LU_OK;
}

/* A path met twice in volume `a` as its entries went in: the volume is
 * refused, naming its smallest duplicated path as lu__archive_open would. */
static lu_status duplicate_met(lu_archive *a, lu_error *err)
{
    lu_status st = lu__archive_unique(a, err);
    return st != LU_OK ? st : lu__fail(err, LU_UNSAFE_ARCHIVE, "'%s': duplicate names", a->path);
}

/* add_mount for the first mount of a build from scratch: no other path is
 * in the index yet, so each entry goes in without a search, and every
 * bucket is this build's own. Two entries of one path have one hash, so
 * the second meets the first in its bucket: a volume whose paths were not
 * checked (lu__archive_open_to_mount) is checked here for the price of a
 * compare of its bucket's hashes, instead of a pass over a set as large as
 * its table. */
static lu_status add_first(lu_snapshot *s, lu_error *err)
{
    lu_archive *a = s->mounts[0]->archive;
    lu_entries *t = &a->entries;
    const uint32_t base = s->bases[0];
    const bool checked = t->unique;
    for (size_t k = 0; k < t->count; k++) {
        if (k + 32 < t->count) {   /* the bucket's count (group 0) and the entry's home group */
            uint32_t ah = t->items[k + 32].hash;
            const lu_bucket *ab = s->dir[lu__snapshot_dir_index(s, ah)];
            __builtin_prefetch(ab, 1);
            __builtin_prefetch(&ab->g[lu__bucket_home(ah)], 1);
        }
        uint32_t h = t->items[k].hash;
        size_t idx = lu__snapshot_dir_index(s, h);
        while (bucket_count(s->dir[idx]) >= MAX_FILL) {
            LU_TRY(split(s, idx, err));
            idx = lu__snapshot_dir_index(s, h);
        }
        lu_bucket *b = s->dir[idx];
        if (!checked) {
            const char *path = lu__entry_name(t, &t->items[k]);
            if (lu__bucket_find(s, b, path, strlen(path), h) >= 0) return duplicate_met(a, err);
        }
        slot_put(b, h, path_id(base, &t->items[k]));
    }
    if (!checked) t->unique = true;   /* written only when no other thread can see t */
    s->entries += t->count;
    return LU_OK;
}

/* Sorts `mounts` into s->mounts (lookup order) with their keys. The
 * mounts `prev` (may be NULL) has are borrowed, with its keys: callers
 * list them in prev's order, so one forward walk of prev's list finds
 * them without reading a mount, and a mount made after all of prev's
 * (a higher sequence) is new without a search (any other order is still
 * correct: a mount not found ahead is taken as new). The others are
 * retained (`fresh`); prev's mounts not borrowed are `dropped`. */
static lu_status take_mounts(lu_snapshot *s, const lu_snapshot *prev, lu_mount *const *mounts, size_t n,
                             lu_error *err)
{
    size_t np = prev ? prev->nmounts : 0, p = 0;
    s->mounts = lu__calloc(s->env, n ? n : 1, sizeof *s->mounts);
    s->keys = lu__calloc(s->env, n ? n : 1, sizeof *s->keys);
    s->bases = lu__calloc(s->env, n ? n : 1, sizeof *s->bases);
    if (!s->mounts || !s->keys || !s->bases) goto oom;
    s->mount_entries = prev ? prev->mount_entries : 0;
    for (size_t i = 0; i < n; i++) {
        lu_mount *m = mounts[i];
        lu_mount_key k;
        size_t q = p;
        if (q < np && prev->mounts[q] != m && m->seq > prev->max_seq) q = np;   /* newer than all of prev's */
        while (q < np && prev->mounts[q] != m) q++;
        if (q < np) {
            for (; p < q; p++) {
                if (!list_push(s->env, &s->dropped, &s->ndropped, &s->dropped_cap, prev->mounts[p])) goto oom;
                s->mount_entries -= prev->mounts[p]->archive->entries.count;
            }
            k = prev->keys[p++];
        } else {
            if (!list_push(s->env, &s->fresh, &s->nfresh, &s->fresh_cap, m)) goto oom;
            lu__mount_retain(m);
            k = key_of(m);
            s->mount_entries += m->archive->entries.count;
        }
        size_t j = i;   /* insertion sort: the list comes nearly sorted */
        while (j > 0 && key_before(&k, &s->keys[j - 1])) {
            s->mounts[j] = s->mounts[j - 1];
            s->keys[j] = s->keys[j - 1];
            j--;
        }
        s->mounts[j] = m;
        s->keys[j] = k;
        s->nmounts++;
        if (k.seq > s->max_seq) s->max_seq = k.seq;
    }
    for (; p < np; p++) {
        if (!list_push(s->env, &s->dropped, &s->ndropped, &s->dropped_cap, prev->mounts[p])) goto oom;
        s->mount_entries -= prev->mounts[p]->archive->entries.count;
    }
    return LU_OK;
oom:
    return lu__fail(err, LU_MEM_ERROR, "out of memory building the mount table");
}

/* A new snapshot sharing `pool` (a new pool when NULL), holding its spares. */
static lu_snapshot *snapshot_new(const lu_env *env, uint64_t gen, struct lu_bucket_pool *pool)
{
    lu_snapshot *s = lu__calloc(env, 1, sizeof *s);
    if (!s) return NULL;
    s->env = env;
    s->gen = gen;
    atomic_init(&s->links, 1);
    if (pool) atomic_fetch_add_explicit(&pool->refs, 1, memory_order_relaxed);
    else if (!(pool = pool_new(env))) {
        lu__free(env, s);
        return NULL;
    }
    s->pool = pool;
    spare_take(s);
    return s;
}

/* Marks the granules of mount mi (base already set) in s->granules. */
static void claim(lu_snapshot *s, size_t mi)
{
    lu_mount *m = s->mounts[mi];
    size_t g0 = s->bases[mi] >> LU_ID_SHIFT, ng = granules_of(m);
    for (size_t g = g0; g < g0 + ng; g++)
        s->granules[g] = (lu_granule){m->archive->entries.items, m->archive->entries.pool, m, s->bases[mi]};
}

static lu_status build_from_scratch(lu_snapshot *s, lu_error *err)
{
    size_t total = 0, ng = 0;
    if (s->nmounts > MAX_GRANULES)   /* each mount takes a granule at least */
        return lu__fail(err, LU_INVAL, "%zu mounts: at most %zu can be mounted at once", s->nmounts, MAX_GRANULES);
    for (size_t i = 0; i < s->nmounts; i++) {
        s->bases[i] = (uint32_t)(ng << LU_ID_SHIFT);
        ng += granules_of(s->mounts[i]);
        total += s->mounts[i]->archive->entries.count;
        if (ng > MAX_GRANULES)
            return lu__fail(err, LU_INVAL, "the mounted resource paths exceed %zu MiB (each mount's paths counted "
                            "in whole granules of %u KiB)", (MAX_GRANULES << LU_ID_SHIFT) >> 20, LU_ID_GRANULE >> 10);
    }
    if (total == 0) return LU_OK;
    s->granules = lu__calloc(s->env, ng, sizeof *s->granules);
    if (!s->granules) return lu__fail(err, LU_MEM_ERROR, "out of memory for the index of %zu resources", total);
    s->ngranules = ng;
    for (size_t i = 0; i < s->nmounts; i++) claim(s, i);
    /* buckets filled to at most 3/4 on average (a bucket holds 28 slots
     * of 8 bytes in 256): about 12-24 bytes per resource
     * (docs/BENCHMARKS.md, memory) */
    uint32_t depth = 0;
    while (((size_t)FULL_FILL << depth) < total && depth < MAX_DEPTH) depth++;
    size_t n = (size_t)1 << depth;
    s->dir = lu__calloc(s->env, n, sizeof *s->dir);
    if (!s->dir) return lu__fail(err, LU_MEM_ERROR, "out of memory for the index of %zu resources", total);
    s->dir_cap = n;
    s->dlog_lost = true;
    set_depth(s, depth);
    /* all in one slab when the spares are few, with room for the few
     * buckets that overflow and split (about 1 in 20 at a build's
     * highest fill, far fewer below it),
     * or a new slab, as large as the pool, would take them */
    bool room = bucket_reserve(s, n + n / 16);
    for (size_t i = 0; i < n; i++)
        if (!room || !(s->dir[i] = bucket_new(s, depth))) {
            while (i > 0) spare_push(s, s->dir[--i]);
            lu__free(s->env, s->dir);
            s->dir = NULL;
            return lu__fail(err, LU_MEM_ERROR, "out of memory for the index of %zu resources", total);
        }
    for (size_t mi = 0; mi < s->nmounts; mi++) LU_TRY(mi == 0 ? add_first(s, err) : add_mount(s, mi, err));
    return LU_OK;
}

/* A full build with `prev`'s generation sequence (prev may be NULL). */
static lu_status full_build(const lu_env *env, const lu_snapshot *prev, lu_mount *const *mounts, size_t n,
                            lu_snapshot **out, lu_error *err)
{
    *out = NULL;
    lu_snapshot *s = snapshot_new(env, prev ? prev->gen + 1 : 1, prev ? prev->pool : NULL);
    if (!s) return lu__fail(err, LU_MEM_ERROR, "out of memory building the mount table");
    lu_status st = take_mounts(s, prev, mounts, n, err);
    if (st == LU_OK) st = build_from_scratch(s, err);
    if (st != LU_OK && st != LU_MEM_ERROR) {
        /* a volume not checked yet whose duplicate the build did not reach
         * (it failed first: paths crowding one hash prefix, the limits) is
         * refused for the duplicate, as lu__archive_open would refuse it */
        for (size_t i = 0; i < n; i++) {
            lu_error dup;
            if (!mounts[i]->archive->entries.unique && lu__archive_unique(mounts[i]->archive, &dup) != LU_OK) {
                st = LU_UNSAFE_ARCHIVE;
                if (err) *err = dup;
                break;
            }
        }
    }
    if (st != LU_OK) {
        discard(s);
        return st;
    }
    if (prev && prev->dir) {
        /* every bucket of prev is replaced: freed once prev and older are gone */
        s->derived = true;
        size_t nb = (size_t)1 << prev->depth;
        for (size_t i = 0; i < nb; i += (size_t)1 << (prev->depth - lu__bucket_depth(prev->dir[i])))
            if (!retire(s, prev->dir[i])) {
                s->nretired = 0;
                discard(s);
                return lu__fail(err, LU_MEM_ERROR, "out of memory building the mount table");
            }
    } else if (prev) {
        s->derived = true;
    }
    spare_return(s);
    *out = s;
    return LU_OK;
}

lu_status lu__snapshot_build(const lu_env *env, lu_mount *const *mounts, size_t n,
                             lu_snapshot **out, lu_error *err)
{
    return full_build(env, NULL, mounts, n, out, err);
}

/* Removes mount R (base bR, gone from s->mounts) from the index: each path
 * it served goes to the next kept mount that has it, if any. */
static lu_status remove_mount(lu_snapshot *s, const lu_mount *r, uint32_t base, const bool *kept,
                              lu_error *err)
{
    const lu_entries *t = &r->archive->entries;
    for (size_t k = 0; k < t->count; k++) {
        prefetch_ahead(s, t, k);
        const lu_entry *e = &t->items[k];
        uint32_t id = path_id(base, e);
        size_t idx = lu__snapshot_dir_index(s, e->hash);
        const lu_bucket *rb = s->dir[idx];
        int at = slot_of_id(rb, e->hash, id);
        if (at < 0) continue;   /* shadowed: another mount serves it */
        uint32_t now = 0;
        if (lu__bucket_id(rb, at) & LU_SLOT_SHADOWS) {   /* find the next server, and whether it shadows */
            const char *path = lu__entry_name(t, e);
            size_t len = strlen(path);
            for (size_t mi = 0; mi < s->nmounts; mi++) {
                const lu_entry *f = kept[mi] ? lu__entries_find(&s->mounts[mi]->archive->entries, path, len) : NULL;
                if (!f) continue;
                if (now) {
                    now |= LU_SLOT_SHADOWS;
                    break;
                }
                now = id_of(s, mi, f);
            }
        }
        lu_bucket *b = own(s, idx, err);
        if (!b) return LU_MEM_ERROR;
        if (now) slot_set_id(b, at, now);
        else {
            slot_delete(b, at);
            s->entries--;
        }
    }
    return LU_OK;
}

/* Gives mount mi a free run of granules (first fit, else at the end). */
static bool place(lu_snapshot *s, size_t mi)
{
    size_t need = granules_of(s->mounts[mi]), run = 0, g = 0;
    for (; g < s->ngranules && run < need; g++) run = s->granules[g].mount ? 0 : run + 1;
    if (run < need) {
        g = s->ngranules - run + need;   /* extend the free tail */
        if (g > MAX_GRANULES) return false;
        s->ngranules = g;
    }
    s->bases[mi] = (uint32_t)((g - need) << LU_ID_SHIFT);
    claim(s, mi);
    return true;
}

lu_status lu__snapshot_next(const lu_env *env, lu_snapshot *prev, lu_mount *const *mounts, size_t n,
                            lu_snapshot **out, lu_error *err)
{
    *out = NULL;
    if (!prev || !prev->dir) return full_build(env, prev, mounts, n, out, err);
    lu_snapshot *s = snapshot_new(env, prev->gen + 1, prev->pool);
    if (!s) return lu__fail(err, LU_MEM_ERROR, "out of memory building the mount table");
    s->derived = true;
    bool *kept = NULL;
    size_t *gone = NULL, ngone = 0, changed = 0, total = 0, grow = 0;
    lu_status st = take_mounts(s, prev, mounts, n, err);
    if (st != LU_OK) goto fail;
    kept = lu__calloc(env, s->nmounts + 1, sizeof *kept);
    gone = lu__calloc(env, prev->nmounts + 1, sizeof *gone);
    if (!kept || !gone) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory building the mount table");
        goto fail;
    }
    /* both lists are in lookup order: one walk tells kept, gone and new */
    for (size_t i = 0, j = 0; i < prev->nmounts || j < s->nmounts;) {
        lu_mount *a = i < prev->nmounts ? prev->mounts[i] : NULL, *b = j < s->nmounts ? s->mounts[j] : NULL;
        if (a && a == b) {
            kept[j++] = true;
            s->bases[j - 1] = prev->bases[i++];
        } else if (a && (!b || key_before(&prev->keys[i], &s->keys[j]))) {
            changed += a->archive->entries.count;
            gone[ngone++] = i++;
        } else if (b && (!a || key_before(&s->keys[j], &prev->keys[i]))) {
            changed += b->archive->entries.count;
            grow += granules_of(b);
            j++;
        } else {   /* two mounts in the same place: build from scratch */
            changed = SIZE_MAX / 8;
            break;
        }
    }
    total = s->mount_entries;
    if (changed * 4 >= total) goto rebuild;   /* most of the table changes: a full build costs about as much */
    s->granules = lu__malloc(env, (prev->ngranules + grow + 1) * sizeof *s->granules);
    uint64_t dir_gen;
    s->dir = dir_take(env, s->pool, (size_t)1 << prev->depth, &s->dir_cap, &dir_gen);
    if (!s->granules || !s->dir) {
        lu__free(env, s->dir);   /* not filled yet: free_buckets must not walk it */
        s->dir = NULL;
        st = lu__fail(err, LU_MEM_ERROR, "out of memory building the mount table");
        goto fail;
    }
    if (dir_gen && dir_gen + 1 == prev->gen && !prev->dlog_lost) {
        s->dir_copied = dir_replay(s->dir, prev);
    } else {
        s->dir_copied = (size_t)1 << prev->depth;
        memcpy(s->dir, prev->dir, s->dir_copied * sizeof *s->dir);
    }
    set_depth(s, prev->depth);
    s->entries = prev->entries;
    s->ngranules = prev->ngranules;
    /* the kept mounts keep their granules: prev's table, without the gone */
    memcpy(s->granules, prev->granules, prev->ngranules * sizeof *s->granules);
    memset(s->granules + prev->ngranules, 0, (grow + 1) * sizeof *s->granules);
    for (size_t g = 0; g < ngone; g++) {
        size_t g0 = prev->bases[gone[g]] >> LU_ID_SHIFT;
        memset(s->granules + g0, 0, granules_of(prev->mounts[gone[g]]) * sizeof *s->granules);
    }
    for (size_t j = 0; j < s->nmounts; j++)
        if (!kept[j] && !place(s, j)) goto rebuild;   /* ids too scattered: a full build packs them */
    for (size_t g = 0; g < ngone; g++) {
        st = remove_mount(s, prev->mounts[gone[g]], prev->bases[gone[g]], kept, err);
        if (st != LU_OK) goto fail;
    }
    for (size_t j = 0; j < s->nmounts; j++) {
        if (kept[j]) continue;
        st = add_mount(s, j, err);
        if (st != LU_OK) goto fail;
    }
    lu__free(env, kept);
    lu__free(env, gone);
    spare_return(s);
    *out = s;
    return LU_OK;
rebuild:
    lu__free(env, kept);
    lu__free(env, gone);
    discard(s);
    return full_build(env, prev, mounts, n, out, err);
fail:
    lu__free(env, kept);
    lu__free(env, gone);
    discard(s);
    return st;
}

size_t lu__snapshot_buckets_carved(const lu_snapshot *s)
{
    return s->pool->carved;
}

uint32_t lu__mount_name_hash(const char *name)
{
    return lu__hash_path(name, strlen(name));
}

bool lu__snapshot_mount_is(const lu_snapshot *s, size_t i, const char *name, uint32_t name_hash)
{
    return s->keys[i].name_hash == name_hash && strcmp(s->mounts[i]->name, name) == 0;
}

lu_mount *lu__snapshot_mount(const lu_snapshot *s, const char *name)
{
    uint32_t h = lu__mount_name_hash(name);
    for (size_t i = 0; i < s->nmounts; i++)
        if (lu__snapshot_mount_is(s, i, name, h)) return s->mounts[i];
    return NULL;
}
