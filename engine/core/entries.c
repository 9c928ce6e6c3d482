/* entries.c -- the sorted entry table every archive backend fills.
 *
 * Backends report each entry as stored in the volume; this file applies the
 * name-safety rules of docs/FORMATS.md once for all formats (absolute names, "..",
 * ".", empty components, backslashes, NUL, oversized declarations),
 * stores canonical paths ("/a/b.png") in one string pool, sorts the table
 * and rejects duplicate names. A sorted table gives per-volume lookups by
 * binary search without a second index.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

void lu__entries_init(lu_entries *t, const lu_env *env)
{
    memset(t, 0, sizeof *t);
    t->env = env;
}

void lu__entries_free(lu_entries *t)
{
    if (!t->env) return;
    lu__free(t->env, t->items);
    lu__free(t->env, t->pool);
    t->items = NULL;
    t->pool = NULL;
    t->count = t->cap = t->pool_len = t->pool_cap = 0;
}

/* Why a stored name is unsafe, or NULL when it is fine. */
static const char *name_problem(const char *s, size_t len)
{
    if (len == 0) return "empty name";
    if (memchr(s, '\0', len)) return "NUL byte in name";
    if (memchr(s, '\\', len)) return "backslash in name";
    if (s[0] == '/') return "absolute path";
    if (len >= 2 && s[1] == ':') return "drive-letter path";
    size_t start = 0;
    for (size_t i = 0; i <= len; i++) {
        if (i < len && s[i] != '/') continue;
        size_t n = i - start;
        if (n == 0) return "empty path component";
        if (n == 1 && s[start] == '.') return "'.' path component";
        if (n == 2 && s[start] == '.' && s[start + 1] == '.') return "'..' path component";
        start = i + 1;
    }
    return NULL;
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
    LU_TRY(lu__entry_name_check(stored, len, err));
    if (size > t->env->max_uncompressed)
        return lu__fail(err, LU_UNSAFE_ARCHIVE,
                        "entry '%.*s': declared size %llu exceeds the limit of %llu bytes",
                        (int)len, stored, (unsigned long long)size,
                        (unsigned long long)t->env->max_uncompressed);
    if (t->pool_len + len + 2 > UINT32_MAX || t->count >= UINT32_MAX - 1)
        return lu__fail(err, LU_UNSAFE_ARCHIVE, "volume has too many or too long names");
    if (!grow(t->env, (void **)&t->items, &t->cap, t->count + 1, sizeof *t->items) ||
        !grow(t->env, (void **)&t->pool, &t->pool_cap, t->pool_len + len + 2, 1))
        return lu__fail(err, LU_MEM_ERROR, "out of memory indexing entry '%.*s'", (int)len, stored);
    lu_entry *e = &t->items[t->count++];
    e->locator = locator;
    e->size = size;
    e->name = (uint32_t)t->pool_len;
    char *dst = t->pool + t->pool_len;
    dst[0] = '/';
    memcpy(dst + 1, stored, len);
    dst[len + 1] = '\0';
    e->hash = lu__hash_path(dst, len + 1);
    t->pool_len += len + 2;
    return LU_OK;
}

static int cmp(const lu_entries *t, const lu_entry *a, const lu_entry *b)
{
    return strcmp(t->pool + a->name, t->pool + b->name);
}

/* Bottom-up merge sort (stable, O(n log n), needs the pool as context). */
static bool sort_entries(lu_entries *t)
{
    size_t n = t->count;
    if (n < 2) return true;
    lu_entry *tmp = lu__malloc(t->env, n * sizeof *tmp);
    if (!tmp) return false;
    lu_entry *src = t->items, *dst = tmp;
    for (size_t w = 1; w < n; w *= 2) {
        for (size_t lo = 0; lo < n; lo += 2 * w) {
            size_t mid = lo + w < n ? lo + w : n, hi = lo + 2 * w < n ? lo + 2 * w : n;
            size_t i = lo, j = mid, k = lo;
            while (i < mid && j < hi) dst[k++] = cmp(t, &src[j], &src[i]) < 0 ? src[j++] : src[i++];
            while (i < mid) dst[k++] = src[i++];
            while (j < hi) dst[k++] = src[j++];
        }
        lu_entry *s = src;
        src = dst;
        dst = s;
    }
    if (src != t->items) memcpy(t->items, src, n * sizeof *tmp);
    lu__free(t->env, tmp);
    return true;
}

/* Gives back the slack of the doubling growth; a failed shrink keeps the
 * larger block, which is still valid. */
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

lu_status lu__entries_finish(lu_entries *t, lu_error *err)
{
    shrink(t);
    if (!sort_entries(t)) return lu__fail(err, LU_MEM_ERROR, "out of memory sorting entries");
    for (size_t i = 1; i < t->count; i++)
        if (cmp(t, &t->items[i - 1], &t->items[i]) == 0)
            return lu__fail(err, LU_UNSAFE_ARCHIVE, "entry '%s': duplicate name",
                            t->pool + t->items[i].name + 1);
    return LU_OK;
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

size_t lu__entries_lower_bound(const lu_entries *t, const char *prefix, size_t len)
{
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cmp_key(t->pool + t->items[mid].name, prefix, len) < 0) lo = mid + 1;
        else hi = mid;
    }
    return lo;
}

const lu_entry *lu__entries_find(const lu_entries *t, const char *path, size_t len)
{
    size_t i = lu__entries_lower_bound(t, path, len);
    if (i < t->count && cmp_key(t->pool + t->items[i].name, path, len) == 0) return &t->items[i];
    return NULL;
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
