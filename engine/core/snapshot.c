/* snapshot.c -- immutable views of the mount table with their merged index.
 *
 * A snapshot lists the mounts in lookup order (priority descending, later
 * add first among equals) and one open-addressing hash table over the union
 * of their entries, in which each path appears once, pointing at the entry
 * of the mount that serves it. A lookup is one hash and a short probe,
 * whatever the number of mounts. Mount changes build a new snapshot and
 * publish it (cell.c); snapshots are never modified.
 */
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

static bool before(const lu_mount *a, const lu_mount *b)
{
    return a->priority != b->priority ? a->priority > b->priority : a->seq > b->seq;
}

void lu__snapshot_free(lu_snapshot *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->nmounts; i++) lu__mount_release(s->env, s->mounts[i]);
    lu__free(s->env, s->mounts);
    lu__free(s->env, s->bases);
    lu__free(s->env, s->index);
    lu__free(s->env, s);
}

/* Maps a global id (0-based) to its mount and entry. */
static void decode(const lu_snapshot *s, uint32_t id, const lu_mount **m, const lu_entry **e)
{
    size_t lo = 0, hi = s->nmounts;   /* last mount whose base <= id */
    while (hi - lo > 1) {
        size_t mid = (lo + hi) / 2;
        if (s->bases[mid] <= id) lo = mid;
        else hi = mid;
    }
    *m = s->mounts[lo];
    *e = &(*m)->archive->entries.items[id - s->bases[lo]];
}

static bool same_path(const lu_mount *m, const lu_entry *e, const char *path, size_t len)
{
    const char *name = lu__entry_name(&m->archive->entries, e);
    return strncmp(name, path, len) == 0 && name[len] == '\0';
}

bool lu__snapshot_find(const lu_snapshot *s, const char *path, size_t len, const lu_mount **m,
                       const lu_entry **e)
{
    if (!s->index) return false;
    uint32_t h = lu__hash_path(path, len);
    for (size_t i = h & s->mask;; i = (i + 1) & s->mask) {
        const struct lu_slot *slot = &s->index[i];
        if (slot->id == 0) return false;
        if (slot->hash != h) continue;
        decode(s, slot->id - 1, m, e);
        if (same_path(*m, *e, path, len)) return true;
    }
}

static lu_status build_index(lu_snapshot *s, lu_error *err)
{
    size_t total = 0;
    for (size_t i = 0; i < s->nmounts; i++) {
        s->bases[i] = (uint32_t)total;
        total += s->mounts[i]->archive->entries.count;
        if (total >= UINT32_MAX / 2)
            return lu__fail(err, LU_INVAL, "more than %u resources mounted", UINT32_MAX / 2);
    }
    if (total == 0) return LU_OK;
    /* open addressing, load factor at most 3/4: 8-byte slots, about 11-21
     * bytes per resource (docs/BENCHMARKS.md, memory) with short probes */
    size_t cap = 16;
    while (cap * 3 < total * 4) cap *= 2;
    s->index = lu__calloc(s->env, cap, sizeof *s->index);
    if (!s->index) return lu__fail(err, LU_MEM_ERROR, "out of memory for the index of %zu resources", total);
    s->mask = cap - 1;
    for (size_t mi = 0; mi < s->nmounts; mi++) {
        const lu_mount *m = s->mounts[mi];
        const lu_entries *t = &m->archive->entries;
        for (size_t k = 0; k < t->count; k++) {
            const lu_entry *e = &t->items[k];
            const char *path = lu__entry_name(t, e);
            size_t len = strlen(path);
            size_t i = e->hash & s->mask;
            bool shadowed = false;
            for (; s->index[i].id; i = (i + 1) & s->mask) {
                if (s->index[i].hash != e->hash) continue;
                const lu_mount *om;
                const lu_entry *oe;
                decode(s, s->index[i].id - 1, &om, &oe);
                if (same_path(om, oe, path, len)) {
                    shadowed = true;
                    break;
                }
            }
            if (shadowed) continue;
            s->index[i].hash = e->hash;
            s->index[i].id = s->bases[mi] + (uint32_t)k + 1;
            s->entries++;
        }
    }
    return LU_OK;
}

lu_status lu__snapshot_build(const lu_env *env, lu_mount *const *mounts, size_t n,
                             lu_snapshot **out, lu_error *err)
{
    *out = NULL;
    lu_status st = LU_OK;
    lu_snapshot *s = lu__calloc(env, 1, sizeof *s);
    if (!s) return lu__fail(err, LU_MEM_ERROR, "out of memory building the mount table");
    s->env = env;
    s->mounts = lu__calloc(env, n ? n : 1, sizeof *s->mounts);
    s->bases = lu__calloc(env, n ? n : 1, sizeof *s->bases);
    if (!s->mounts || !s->bases) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory building the mount table");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {   /* insertion sort: n is small */
        size_t j = i;
        while (j > 0 && before(mounts[i], s->mounts[j - 1])) {
            s->mounts[j] = s->mounts[j - 1];
            j--;
        }
        s->mounts[j] = mounts[i];
        lu__mount_retain(mounts[i]);
        s->nmounts++;
    }
    st = build_index(s, err);
    if (st != LU_OK) goto cleanup;
    *out = s;
    s = NULL;
cleanup:
    lu__snapshot_free(s);
    return st;
}

lu_mount *lu__snapshot_mount(const lu_snapshot *s, const char *name)
{
    for (size_t i = 0; i < s->nmounts; i++)
        if (strcmp(s->mounts[i]->name, name) == 0) return s->mounts[i];
    return NULL;
}
