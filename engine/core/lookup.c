/* lookup.c -- resource lookups and reads through the published snapshot.
 *
 * Every call checks and measures the path in one pass (lu__path_valid),
 * hashes it (XXH3), acquires the current snapshot (a plain add on its
 * CPU's counters: cell.h), answers from its merged index, and releases it;
 * nothing here takes a lock, so readers on many threads never wait for
 * each other or for a mount change. lu_exists, the call made most, hashes
 * and starts fetching the index's bucket before it checks the path, so
 * that the check runs while the line comes in. A path the scan refuses
 * goes through lu_path_check for its message.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int lu_exists(lu_context *ctx, const char *path)
{
    if (!ctx || !path || path[0] != '/') return 0;
    /* hash, hold the snapshot and fetch the bucket first: the path check
     * runs while the bucket's line comes in */
    size_t len = strlen(path);
    uint32_t h = lu__hash_canonical(path, len);
    unsigned shard;
    lu_snapshot *s = lu__cell_acquire(&ctx->cell, &shard);
    if (s) lu__snapshot_prefetch(s, h);
    int found = s && lu__path_valid(path, len) && lu__snapshot_probe(s, path, len, h) != 0;
    lu__cell_release(&ctx->cell, s, shard);
    return found;
}

/* The length of a valid resource path, or lu_path_check's failure. */
static lu_status checked_len(const char *path, size_t *len, lu_error *err)
{
    if (path && lu__path_scan(path, len)) return LU_OK;
    LU_TRY(lu_path_check(path, path ? *len : 0, err));
    return lu__fail(err, LU_INVAL, "resource path '%s' is not valid", path);   /* the two rules disagree */
}

lu_status lu__find(lu_context *ctx, const char *path, lu_snapshot **sp, unsigned *shard, const lu_mount **m,
                   const lu_entry **e, lu_error *err)
{
    size_t len = 0;
    *sp = NULL;
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    LU_TRY(checked_len(path, &len, err));
    uint32_t h = lu__hash_canonical(path, len);
    lu_snapshot *s = lu__cell_acquire(&ctx->cell, shard);
    if (!s || !lu__snapshot_find(s, path, len, h, m, e)) {
        lu__cell_release(&ctx->cell, s, *shard);
        return lu__fail(err, LU_NOT_FOUND, "no mount serves '%s'", path);
    }
    *sp = s;
    return LU_OK;
}

lu_status lu_stat(lu_context *ctx, const char *path, lu_stat_info *out, lu_error *err)
{
    lu_snapshot *s;
    unsigned shard;
    const lu_mount *m;
    const lu_entry *e;
    LU_TRY(lu__find(ctx, path, &s, &shard, &m, &e, err));
    out->size = e->size;
    snprintf(out->mount, sizeof out->mount, "%s", m->name);
    lu__cell_release(&ctx->cell, s, shard);
    return LU_OK;
}

static lu_status read_entry(lu_context *ctx, lu_snapshot *s, unsigned shard, const lu_mount *m, const lu_entry *e,
                            void **data, size_t *size, lu_error *err)
{
    lu_status st = lu__archive_read(m->archive, e, data, err);
    if (st == LU_OK) *size = (size_t)e->size;
    else lu__error_prefix(err, "mount '%s'", m->name);
    lu__cell_release(&ctx->cell, s, shard);
    return st;
}

lu_status lu_read(lu_context *ctx, const char *path, void **data, size_t *size, lu_error *err)
{
    *data = NULL;
    *size = 0;
    lu_snapshot *s;
    unsigned shard;
    const lu_mount *m;
    const lu_entry *e;
    LU_TRY(lu__find(ctx, path, &s, &shard, &m, &e, err));
    return read_entry(ctx, s, shard, m, e, data, size, err);
}

lu_status lu_read_from(lu_context *ctx, const char *mount, const char *path, void **data,
                       size_t *size, lu_error *err)
{
    *data = NULL;
    *size = 0;
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    size_t len = 0;
    LU_TRY(checked_len(path, &len, err));
    unsigned shard;
    lu_snapshot *s = lu__cell_acquire(&ctx->cell, &shard);
    const lu_mount *m = s && mount ? lu__snapshot_mount(s, mount) : NULL;
    const lu_entry *e = m ? lu__entries_find(&m->archive->entries, path, len) : NULL;
    if (!e) {
        lu__cell_release(&ctx->cell, s, shard);
        return m ? lu__fail(err, LU_NOT_FOUND, "mount '%s' has no '%s'", mount, path)
                 : lu__fail(err, LU_NOT_FOUND, "no mount named '%s'", mount ? mount : "(null)");
    }
    return read_entry(ctx, s, shard, m, e, data, size, err);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Appends the entries of `m` under `prefix` that `m` serves (or all of
 * them when `only` is set) to names[*n]. names has room for all. The
 * volume's path order finds the prefix's range; without it (no memory
 * for it) every entry is tested: the caller sorts the names anyway. */
static void collect(const lu_snapshot *s, const lu_mount *m, bool only, const char *prefix,
                    size_t plen, const char **names, size_t *n)
{
    const lu_entries *t = &m->archive->entries;
    const uint32_t *order = lu__entries_order(t);
    for (size_t i = order ? lu__entries_lower_bound(t, order, prefix, plen) : 0; i < t->count; i++) {
        const lu_entry *e = &t->items[order ? order[i] : i];
        const char *path = lu__entry_name(t, e);
        if (strncmp(path, prefix, plen) != 0) {
            if (order) break;
            continue;
        }
        const lu_mount *sm;
        const lu_entry *se;
        if (only || (lu__snapshot_find(s, path, strlen(path), e->hash, &sm, &se) && se == e)) names[(*n)++] = path;
    }
}

lu_status lu_list_paths(lu_context *ctx, const char *prefix, const char *mount, char ***out,
                        size_t *count, lu_error *err)
{
    *out = NULL;
    *count = 0;
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    if (!prefix || prefix[0] != '/')
        return lu__fail(err, LU_INVAL, "list prefix '%s' must start with '/'", prefix ? prefix : "(null)");
    lu_status st = LU_OK;
    size_t plen = strlen(prefix), n = 0, total = 0, bytes = 0;
    const char **names = NULL;
    unsigned shard;
    lu_snapshot *s = lu__cell_acquire(&ctx->cell, &shard);
    const lu_mount *only = NULL;
    if (mount && !(s && (only = lu__snapshot_mount(s, mount)))) {
        st = lu__fail(err, LU_NOT_FOUND, "no mount named '%s'", mount);
        goto cleanup;
    }
    for (size_t i = 0; s && i < s->nmounts; i++) total += s->mounts[i]->archive->entries.count;
    names = lu__malloc(&ctx->env, (total ? total : 1) * sizeof *names);
    if (!names) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory listing '%s'", prefix);
        goto cleanup;
    }
    if (only) collect(s, only, true, prefix, plen, names, &n);
    else
        for (size_t i = 0; s && i < s->nmounts; i++) collect(s, s->mounts[i], false, prefix, plen, names, &n);
    qsort(names, n, sizeof *names, cmp_str);
    for (size_t i = 0; i < n; i++) bytes += strlen(names[i]) + 1;
    char **res = lu__malloc(&ctx->env, (n + 1) * sizeof *res + bytes);
    if (!res) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory listing '%s'", prefix);
        goto cleanup;
    }
    char *p = (char *)(res + n + 1);
    for (size_t i = 0; i < n; i++) {
        size_t len = strlen(names[i]) + 1;
        memcpy(p, names[i], len);
        res[i] = p;
        p += len;
    }
    res[n] = NULL;
    *out = res;
    *count = n;
cleanup:
    lu__free(&ctx->env, names);
    lu__cell_release(&ctx->cell, s, shard);
    return st;
}
