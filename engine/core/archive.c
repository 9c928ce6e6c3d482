/* archive.c -- an opened volume: backend state plus its entry table.
 *
 * Chooses the backend for a URI scheme, checks the backend's interface
 * version, and reference-counts the result: every snapshot that lists the
 * volume holds a reference, so a removed volume closes only after the last
 * reader of the last snapshot that had it lets go.
 */
#include <string.h>

#include "internal.h"

static const lu_archive_ops *const formats[] = {&lu__archive_zip, &lu__archive_dir};

static lu_status archive_open(const lu_env *env, const char *scheme, const char *path, bool check,
                              lu_archive **out, lu_error *err)
{
    *out = NULL;
    const lu_archive_ops *ops = NULL;
    for (size_t i = 0; i < sizeof formats / sizeof formats[0]; i++)
        if (strcmp(formats[i]->format, scheme) == 0) ops = formats[i];
    if (!ops) return lu__fail(err, LU_SCHEME_MISMATCH, "unknown volume scheme '%s'", scheme);
    if (ops->version > LU_ARCHIVE_INTERFACE_VERSION)
        return lu__fail(err, LU_ENGINE_VERSION_MISMATCH, "backend '%s' needs interface %u",
                        scheme, ops->version);
    lu_status st = LU_OK;
    int claimed = 0;
    lu_archive *a = lu__calloc(env, 1, sizeof *a);
    if (!a) return lu__fail(err, LU_MEM_ERROR, "'%s': out of memory", path);
    atomic_init(&a->refs, 1);
    a->env = env;
    a->ops = ops;
    lu__entries_init(&a->entries, env);
    a->path = lu__strdup(env, path);
    if (!a->path) {
        st = lu__fail(err, LU_MEM_ERROR, "'%s': out of memory", path);
        goto cleanup;
    }
    st = ops->open(env, path, &a->entries, &a->state, &claimed, err);
    if (st != LU_OK) goto cleanup;
    st = lu__entries_finish(&a->entries, check, err);
    if (st != LU_OK) {   /* the same prefix as lu__archive_unique's */
        lu__error_prefix(err, "'%s'", path);
        goto cleanup;
    }
    *out = a;
    a = NULL;
cleanup:
    lu__archive_release(a);
    return st;
}

lu_status lu__archive_open(const lu_env *env, const char *scheme, const char *path,
                           lu_archive **out, lu_error *err)
{
    return archive_open(env, scheme, path, true, out, err);
}

lu_status lu__archive_open_to_mount(const lu_env *env, const char *scheme, const char *path,
                                    lu_archive **out, lu_error *err)
{
    return archive_open(env, scheme, path, false, out, err);
}

lu_status lu__archive_unique(lu_archive *a, lu_error *err)
{
    lu_status st = lu__entries_unique(&a->entries, err);
    if (st != LU_OK) lu__error_prefix(err, "'%s'", a->path);
    return st;
}

void lu__archive_retain(lu_archive *a)
{
    atomic_fetch_add_explicit(&a->refs, 1, memory_order_relaxed);
}

void lu__archive_release(lu_archive *a)
{
    if (!a || atomic_fetch_sub_explicit(&a->refs, 1, memory_order_acq_rel) != 1) return;
    const lu_env *env = a->env;
    a->ops->close(env, a->state);
    lu__entries_free(&a->entries);
    lu__free(env, a->path);
    lu__free(env, a);
}

lu_status lu__archive_read(lu_archive *a, const lu_entry *e, void **data, lu_error *err)
{
    *data = NULL;
    if (e->size >= SIZE_MAX)
        return lu__fail(err, LU_MEM_ERROR, "'%s': entry too large", lu__entry_name(&a->entries, e));
    char *buf = lu__malloc(a->env, (size_t)e->size + 1);
    if (!buf)
        return lu__fail(err, LU_MEM_ERROR, "out of memory reading '%s' (%llu bytes)",
                        lu__entry_name(&a->entries, e), (unsigned long long)e->size);
    lu_status st = a->ops->read(a->state, &a->entries, e, buf, err);
    if (st != LU_OK) {
        lu__free(a->env, buf);
        return st;
    }
    buf[e->size] = '\0';
    *data = buf;
    return LU_OK;
}
