/* entries.c -- the entry table every archive backend fills.
 *
 * Backends report each entry as stored in the volume; this file applies the
 * name-safety rules of docs/FORMATS.md once for all formats (absolute names, "..",
 * ".", empty components, backslashes, NUL, oversized declarations),
 * stores canonical paths ("/a/b.png") in one string pool, each after the
 * 4-byte position of its entry in the table (lu__entry_at), and rejects
 * duplicate names (lu__entries_unique: a hash set of the entries, built
 * and dropped by the check; the path order when the set meets a
 * duplicate or too many probes; a volume about to be mounted is checked
 * by the index build instead, snapshot.c). The table stays in the order
 * the backend added the entries: a mount needs no sort. Per-volume queries by path (lu_read_from,
 * listings) use a sorted order of the table, a permutation built at the
 * first such query (a radix sort on the bytes after the prefix every path
 * shares) and kept with the table; one-off lookups (a volume's version
 * file, its manifest) scan the table's hashes instead.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "internal.h"

void lu__entries_init(lu_entries *t, const lu_env *env)
{
    memset(t, 0, sizeof *t);
    atomic_init(&t->order, NULL);
    t->env = env;
}

void lu__entries_free(lu_entries *t)
{
    if (!t->env) return;
    lu__free(t->env, t->items);
    lu__free(t->env, t->pool);
    lu__free(t->env, atomic_load_explicit(&t->order, memory_order_acquire));
    atomic_store_explicit(&t->order, NULL, memory_order_relaxed);
    t->items = NULL;
    t->pool = NULL;
    t->count = t->cap = t->pool_len = t->pool_cap = 0;
}

/* The bytes name_problem stops at. */
static const unsigned char name_special[256] = {['\0'] = 1, ['\\'] = 1, ['/'] = 1};

/* Why a component of n bytes at p is unsafe, or NULL. */
static const char *component_problem(const char *p, size_t n)
{
    if (n == 0) return "empty path component";
    if (n <= 2 && p[0] == '.' && (n == 1 || p[1] == '.')) return n == 1 ? "'.' path component" : "'..' path component";
    return NULL;
}

/* Why a stored name is unsafe, or NULL when it is fine: the rule itself,
 * one pass over the bytes that stops only at NUL, backslash and '/'
 * (most names never come here: name_surely_safe passes them first); when
 * a name has several problems the first of these is reported: empty,
 * NUL, backslash, absolute, drive letter, the first bad component. */
static const char *name_problem(const char *s, size_t len)
{
    if (len == 0) return "empty name";
    bool backslash = false;
    const char *component = NULL;   /* the first bad component's problem */
    size_t start = 0;                /* where the current component starts */
    for (size_t i = 0; i < len; i++) {
        if (!name_special[(unsigned char)s[i]]) continue;
        if (s[i] == '\0') return "NUL byte in name";
        if (s[i] == '\\') {
            backslash = true;
            continue;
        }
        if (!component) component = component_problem(s + start, i - start);
        start = i + 1;
    }
    if (backslash) return "backslash in name";
    if (s[0] == '/') return "absolute path";
    if (len >= 2 && s[1] == ':') return "drive-letter path";
    return component ? component : component_problem(s + start, len - start);
}

/* True when the stored name certainly passes name_problem: no NUL or
 * backslash, no component that is empty or starts with '.', no drive
 * letter. Most names pass, 16 bytes at a time (SSE2; else 8) with no
 * branch per byte or per component; a name that does not (including
 * every name with a component such as ".config", which is safe) goes to
 * name_problem. */
static bool name_surely_safe(const char *s, size_t len)
{
    if (len == 0 || s[len - 1] == '/' || (len >= 2 && s[1] == ':')) return false;
#if defined(__SSE2__)
    /* 16 bytes at a time, the last 16 again when len is not a multiple
     * (a name under 16 bytes from a zero-filled copy, its tail masked) */
    const __m128i nul = _mm_setzero_si128(), bs = _mm_set1_epi8('\\'), sl = _mm_set1_epi8('/'),
                  dot = _mm_set1_epi8('.');
    unsigned keep = 0xffff;
    char tiny[16];
    if (len < 16) {
        memset(tiny, 0, sizeof tiny);
        memcpy(tiny, s, len);
        keep = (1u << len) - 1;
    }
    for (size_t at = 0;; at += 16) {
        if (len >= 16 && at + 16 > len) at = len - 16;
        __m128i v = _mm_loadu_si128((const __m128i *)(len < 16 ? tiny : s + at));
        unsigned bad = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, nul), _mm_cmpeq_epi8(v, bs)));
        unsigned slash = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, sl));
        unsigned dots = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, dot));
        /* a '/' or '.' right after a '/'; byte -1 counts as a '/' */
        unsigned before = slash << 1 | (at == 0 || s[at - 1] == '/');
        if ((bad | ((slash | dots) & before)) & keep) return false;
        if (len < 16 || at + 16 >= len) return true;
    }
#elif defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    const uint64_t low7 = 0x7f7f7f7f7f7f7f7full, ones = 0x0101010101010101ull;
#define EQ(v, c) (~(((((v) ^ (ones * (c))) & low7) + low7) | ((v) ^ (ones * (c))) | low7))
    /* bad: a NUL, a backslash, or a '/' or '.' right after a '/' (byte -1
     * counts as a '/': an absolute path, a leading '.'); each flag 0x80 */
#define BAD(v, before) (EQ(v, 0) | EQ(v, '\\') | ((EQ(v, '/') | EQ(v, '.')) & ((EQ(v, '/') << 8) | (before))))
    uint64_t bad = 0, v, before = 0x80;
    size_t i = 0;
    for (; i + 8 <= len; i += 8) {
        memcpy(&v, s + i, 8);
        bad |= BAD(v, before);
        before = EQ(v, '/') >> 56;
    }
    if (i < len) {
        if (len >= 8) {   /* the last 8 bytes again, the byte before them known */
            memcpy(&v, s + len - 8, 8);
            bad |= BAD(v, s[len - 9] == '/' ? 0x80u : 0u);
        } else {
            v = 0;
            memcpy(&v, s, len);
            bad |= BAD(v, before) & (~0ull >> (64 - 8 * len));
        }
    }
#undef BAD
#undef EQ
    return bad == 0;
#else
    (void)s;
    return false;
#endif
}

static void printable_name(const char *s, size_t len, char *out, size_t cap)
{
    size_t o = 0;
    for (size_t i = 0; i < len && o + 5 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) o += (size_t)snprintf(out + o, cap - o, "\\x%02x", c);
        else out[o++] = (char)c;
    }
    out[o] = '\0';
}

lu_status lu__entry_name_check(const char *stored, size_t len, lu_error *err)
{
    const char *why = name_problem(stored, len);
    if (!why) return LU_OK;
    char shown[512];
    printable_name(stored, len, shown, sizeof shown);
    return lu__fail(err, LU_UNSAFE_ARCHIVE, "entry '%s': %s", shown, why);
}

static bool grow(const lu_env *env, void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap) return true;
    size_t n = *cap ? *cap : 64;
    while (n < need) n *= 2;
    void *q = lu__realloc(env, *p, n * elem);
    if (!q) return false;
    *p = q;
    *cap = n;
    return true;
}

lu_status lu__entries_add(lu_entries *t, const char *stored, size_t len, uint64_t size,
                          uint64_t locator, lu_error *err)
{
    if (!name_surely_safe(stored, len)) LU_TRY(lu__entry_name_check(stored, len, err));
    if (size > t->env->max_uncompressed)
        return lu__fail(err, LU_UNSAFE_ARCHIVE,
                        "entry '%.*s': declared size %llu exceeds the limit of %llu bytes",
                        (int)len, stored, (unsigned long long)size,
                        (unsigned long long)t->env->max_uncompressed);
    /* the entry's position, '/', the name, NUL */
    if (t->pool_len + len + 6 > UINT32_MAX || t->count >= UINT32_MAX - 1)
        return lu__fail(err, LU_UNSAFE_ARCHIVE, "volume has too many or too long names");
    if (!grow(t->env, (void **)&t->items, &t->cap, t->count + 1, sizeof *t->items) ||
        !grow(t->env, (void **)&t->pool, &t->pool_cap, t->pool_len + len + 6, 1))
        return lu__fail(err, LU_MEM_ERROR, "out of memory indexing entry '%.*s'", (int)len, stored);
    lu_entry *e = &t->items[t->count++];
    e->locator = locator;
    e->size = size;
    e->name = (uint32_t)t->pool_len + 4;
    char *dst = t->pool + e->name;
    uint32_t at = (uint32_t)(t->count - 1);
    memcpy(dst - 4, &at, sizeof at);
    dst[0] = '/';
    memcpy(dst + 1, stored, len);
    dst[len + 1] = '\0';
    e->hash = lu__hash_path(stored, len);   /* lu__hash_canonical(dst, len + 1), from the bytes read */
    t->pool_len += len + 6;
    return LU_OK;
}

/* An entry's sort key: the 8 bytes of its path after the prefix all paths
 * share (`skip` bytes), big-endian, zero-padded where the path ends (no
 * path holds a NUL), so keys order as strcmp does; equal keys with a
 * nonzero last byte need the rest of the paths compared. */
typedef struct sort_key {
    uint64_t key;
    uint32_t index;
} sort_key;

static uint64_t key_of(const char *s, const char *end)
{
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (end - s >= 8) {   /* one load; the bytes from the first NUL on cleared */
        uint64_t v;
        memcpy(&v, s, 8);
        uint64_t zero = (v - 0x0101010101010101ull) & ~v & 0x8080808080808080ull;   /* lowest: the first NUL */
        if (zero) {
            int n = __builtin_ctzll(zero) / 8;
            v = n ? v & (~0ull >> (64 - 8 * n)) : 0;
        }
        return __builtin_bswap64(v);
    }
#else
    (void)end;
#endif
    uint64_t k = 0;
    int i = 0;
    for (; i < 8 && s[i]; i++) k = k << 8 | (unsigned char)s[i];
    return i ? k << (8 * (8 - i)) : 0;   /* the path ends where the common prefix does */
}

/* Sorts keys[lo, hi) with equal keys by the rest of their paths (after
 * skip + 8 bytes): insertion sort, these runs are short unless the paths
 * are made to share 8 bytes after their common prefix, when it is a
 * bottom-up merge sort through `tmp`. */
static void sort_run(const lu_entries *t, sort_key *k, sort_key *tmp, size_t n, size_t skip)
{
    const char *pool = t->pool;
#define REST(x) (pool + t->items[(x).index].name + skip + 8)
    if (n <= 16) {
        for (size_t i = 1; i < n; i++) {
            sort_key v = k[i];
            size_t j = i;
            while (j > 0 && strcmp(REST(k[j - 1]), REST(v)) > 0) k[j] = k[j - 1], j--;
            k[j] = v;
        }
        return;
    }
    sort_key *src = k, *dst = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, o = lo;
            while (i < mid && j < hi) dst[o++] = strcmp(REST(src[j]), REST(src[i])) < 0 ? src[j++] : src[i++];
            while (i < mid) dst[o++] = src[i++];
            while (j < hi) dst[o++] = src[j++];
        }
        sort_key *x = src;
        src = dst;
        dst = x;
    }
    if (src != k) memcpy(k, src, n * sizeof *k);
#undef REST
}

/* The table's order by path: a stable LSD radix sort on the 8-byte keys
 * after the common prefix (a byte position where every key has the same
 * byte costs no pass), then runs of equal keys by the rest of their paths.
 * O(n) for the usual volume instead of O(n log n) strcmp calls. Returns
 * the positions of the entries in path order (allocated), or NULL when
 * out of memory. */
static uint32_t *sort_order(const lu_entries *t)
{
    size_t n = t->count;
    uint32_t *order = lu__malloc(t->env, (n ? n : 1) * sizeof *order);
    if (!order) return NULL;
    if (n < 2) {
        if (n) order[0] = 0;
        return order;
    }
    const char *first = t->pool + t->items[0].name;
    size_t skip = strlen(first);
    for (size_t i = 1; i < n && skip; i++) {
        const char *p = t->pool + t->items[i].name;
        if (strncmp(p, first, skip) == 0) continue;
        size_t j = 0;
        while (j < skip && p[j] == first[j]) j++;
        skip = j;
    }
    /* 8-bit digits (8 passes at most), 16-bit ones (4) for large tables */
    int bits = n >= 32768 ? 16 : 8, digits = 64 / bits;
    size_t radix = (size_t)1 << bits;
    uint64_t mask = radix - 1;
    sort_key *k = lu__malloc(t->env, n * sizeof *k), *tmp = lu__malloc(t->env, n * sizeof *tmp);
    uint32_t *count = lu__calloc(t->env, (size_t)digits * radix, sizeof *count);
    bool ok = k && tmp && count;
    if (ok) {
        for (size_t i = 0; i < n; i++) {
            k[i] = (sort_key){key_of(t->pool + t->items[i].name + skip, t->pool + t->pool_len), (uint32_t)i};
            for (int d = 0; d < digits; d++) count[(size_t)d * radix + ((k[i].key >> (bits * d)) & mask)]++;
        }
        sort_key *src = k, *dst = tmp;
        for (int d = 0; d < digits; d++) {
            uint32_t *c = count + (size_t)d * radix;
            int shift = bits * d;
            if (c[(src[0].key >> shift) & mask] == n) continue;   /* one digit value: nothing moves */
            uint32_t at = 0;
            for (size_t v = 0; v < radix; v++) {
                uint32_t m = c[v];
                c[v] = at;
                at += m;
            }
            for (size_t i = 0; i < n; i++) dst[c[(src[i].key >> shift) & mask]++] = src[i];
            sort_key *x = src;
            src = dst;
            dst = x;
        }
        for (size_t lo = 0, hi; lo < n; lo = hi) {
            for (hi = lo + 1; hi < n && src[hi].key == src[lo].key; hi++) {}
            if (hi - lo > 1 && (src[lo].key & 0xff)) sort_run(t, src + lo, dst + lo, hi - lo, skip);
        }
        for (size_t i = 0; i < n; i++) order[i] = src[i].index;
    }
    lu__free(t->env, count);
    lu__free(t->env, tmp);
    lu__free(t->env, k);
    if (ok) return order;
    lu__free(t->env, order);
    return NULL;
}

const uint32_t *lu__entries_order(const lu_entries *t)
{
    lu_entries *w = (lu_entries *)t;   /* the order is a cache: the table itself does not change */
    uint32_t *order = atomic_load_explicit(&w->order, memory_order_acquire);
    if (order) return order;
    uint32_t *mine = sort_order(t);
    if (!mine) return NULL;
    if (atomic_compare_exchange_strong_explicit(&w->order, &order, mine, memory_order_acq_rel, memory_order_acquire))
        return mine;
    lu__free(t->env, mine);   /* another thread published its order first */
    return order;
}

void lu__entries_reserve(lu_entries *t, size_t count, size_t name_bytes)
{
    /* a failure leaves the growth to lu__entries_add, which reports it */
    if (count <= UINT32_MAX && count > t->count) grow(t->env, (void **)&t->items, &t->cap, count, sizeof *t->items);
    size_t pool = name_bytes + 6 * count;
    if (pool <= UINT32_MAX && pool > t->pool_len) grow(t->env, (void **)&t->pool, &t->pool_cap, pool, 1);
}

/* Gives back the slack of the growth; a failed shrink keeps the larger
 * block, which is still valid. */
static void shrink(lu_entries *t)
{
    if (t->count && t->count < t->cap) {
        void *p = lu__realloc(t->env, t->items, t->count * sizeof *t->items);
        if (p) t->items = p, t->cap = t->count;
    }
    if (t->pool_len && t->pool_len < t->pool_cap) {
        void *p = lu__realloc(t->env, t->pool, t->pool_len);
        if (p) t->pool = p, t->pool_cap = t->pool_len;
    }
}

/* The smallest duplicated path's entry, found in the path order (equal
 * paths are neighbours there), which is then kept as the table's order;
 * count when the paths are unique. *ok is false when out of memory. */
static size_t duplicate_in_order(lu_entries *t, bool *ok)
{
    const uint32_t *order = lu__entries_order(t);
    if (!order) {
        *ok = false;
        return t->count;
    }
    for (size_t i = 1; i < t->count; i++)
        if (t->items[order[i - 1]].hash == t->items[order[i]].hash &&
            strcmp(t->pool + t->items[order[i - 1]].name, t->pool + t->items[order[i]].name) == 0)
            return order[i];
    return t->count;
}

/* An entry whose path another entry has, or count: an open-addressing set
 * of the entries by their hash, names compared only when the hashes are
 * equal. The hash is public, so a volume can be made whose names all
 * probe into one run: past DUP_PROBES probes an entry on average the set
 * gives up and the path order answers (O(n) whatever the names). The
 * order answers a duplicate too, so the one reported is always the
 * smallest duplicated path. *ok is false when out of memory. */
#define DUP_PROBES 8
static size_t find_duplicate(lu_entries *t, bool *ok)
{
    size_t n = t->count, cap = 16, budget = DUP_PROBES * n + 64;
    *ok = true;
    if (n < 2) return n;
    while (cap < 2 * n) cap *= 2;
    /* each slot: the hash, and the entry position + 1 (0: empty), so a
     * probe reads the table only when the hashes are equal */
    struct dup_slot {
        uint32_t hash, pos;
    } *set = lu__calloc(t->env, cap, sizeof *set);
    if (!set) return duplicate_in_order(t, ok);
    bool unsure = false;
    for (size_t i = 0; i < n && !unsure; i++) {
        if (i + 32 < n) __builtin_prefetch(&set[t->items[i + 32].hash & (cap - 1)], 1);
        uint32_t h = t->items[i].hash;
        size_t at = h & (cap - 1);
        for (uint32_t o; (o = set[at].pos); at = (at + 1) & (cap - 1)) {
            if ((set[at].hash == h && strcmp(t->pool + t->items[o - 1].name, t->pool + t->items[i].name) == 0) ||
                budget-- == 0) {
                unsure = true;   /* a duplicate, or too many probes */
                break;
            }
        }
        set[at].hash = h;
        set[at].pos = (uint32_t)i + 1;
    }
    lu__free(t->env, set);
    return unsure ? duplicate_in_order(t, ok) : n;
}

lu_status lu__entries_unique(lu_entries *t, lu_error *err)
{
    if (t->unique) return LU_OK;
    bool ok;
    size_t dup = find_duplicate(t, &ok);
    if (!ok) return lu__fail(err, LU_MEM_ERROR, "out of memory checking entry names");
    if (dup < t->count)
        return lu__fail(err, LU_UNSAFE_ARCHIVE, "entry '%s': duplicate name", t->pool + t->items[dup].name + 1);
    t->unique = true;
    return LU_OK;
}

lu_status lu__entries_finish(lu_entries *t, bool check, lu_error *err)
{
    shrink(t);
    if (t->count < 2) t->unique = true;   /* nothing to check, now or at the index */
    return check ? lu__entries_unique(t, err) : LU_OK;
}

/* strcmp(name, key) where key is `len` bytes without NUL. */
static int cmp_key(const char *name, const char *key, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char a = (unsigned char)name[i], b = (unsigned char)key[i];
        if (a != b) return a < b ? -1 : 1;
    }
    return name[len] == '\0' ? 0 : 1;
}

size_t lu__entries_lower_bound(const lu_entries *t, const uint32_t *order, const char *prefix, size_t len)
{
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_key(t->pool + t->items[order[mid]].name, prefix, len) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

const lu_entry *lu__entries_find_once(const lu_entries *t, const char *path, size_t len)
{
    if (len == 0 || path[0] != '/') return NULL;   /* not a canonical path: no entry has it */
    const uint32_t *order = atomic_load_explicit(&((lu_entries *)t)->order, memory_order_acquire);
    if (order) {
        size_t i = lu__entries_lower_bound(t, order, path, len);
        if (i < t->count && cmp_key(t->pool + t->items[order[i]].name, path, len) == 0) return &t->items[order[i]];
        return NULL;
    }
    uint32_t h = lu__hash_canonical(path, len);
    for (size_t i = 0; i < t->count; i++)
        if (t->items[i].hash == h && cmp_key(t->pool + t->items[i].name, path, len) == 0) return &t->items[i];
    return NULL;
}

const lu_entry *lu__entries_find(const lu_entries *t, const char *path, size_t len)
{
    lu__entries_order(t);   /* when out of memory, the scan answers */
    return lu__entries_find_once(t, path, len);
}

const char *lu__entry_path(const lu_entries *t, const lu_entry *e)
{
    return lu__entry_name(t, e);
}

size_t lu__entries_count(const lu_entries *t)
{
    return t->count;
}

size_t lu__entry_index(const lu_entries *t, const lu_entry *e)
{
    return (size_t)(e - t->items);
}

lu_entry *lu__entries_item(lu_entries *t, size_t i)
{
    return &t->items[i];
}
