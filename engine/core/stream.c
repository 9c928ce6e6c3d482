/* stream.c -- streaming reads: lu_open, lu_read_some, lu_seek,
 * lu_file_size, lu_file_tell, lu_close.
 *
 * A file is the serving mount's volume (one archive reference, not the
 * snapshot, so mount changes and the snapshots' reclamation go on while it
 * is open) plus a stream of the volume's backend (archives/archive.h,
 * interface version 2: the backend decodes, seeks and checks the CRC). A
 * backend of interface version 1 has no streams: its entry is read whole at
 * lu_open and served from memory. The position and the first failure are
 * kept here, so a failed stream is never used again.
 */
#include <stdio.h>
#include <string.h>

#include "internal.h"

struct lu_file {
    const lu_env *env;
    lu_archive *archive;      /* one reference, released by lu_close */
    const lu_entry *entry;    /* in archive->entries */
    void *stream;             /* the backend's, or NULL with `whole` */
    unsigned char *whole;     /* a version-1 backend's entry, read at open */
    uint64_t pos;
    lu_status failed;         /* LU_OK, or the first failure (final) */
    char mount[LU_NAME_MAX + 1];
};

static bool can_stream(const lu_archive *a)
{
    return a->ops->version >= 2 && a->ops->stream_open && a->ops->stream_read && a->ops->stream_seek &&
           a->ops->stream_close;
}

lu_status lu__file_open_entry(lu_archive *a, const lu_entry *e, const char *mount, lu_file **out, lu_error *err)
{
    *out = NULL;
    const lu_env *env = a->env;
    lu_file *f = lu__calloc(env, 1, sizeof *f);
    if (!f) return lu__fail(err, LU_MEM_ERROR, "mount '%s': out of memory opening '%s'", mount, lu__entry_name(&a->entries, e));
    f->env = env;
    f->entry = e;
    snprintf(f->mount, sizeof f->mount, "%s", mount);
    lu_status st = can_stream(a) ? a->ops->stream_open(env, a->state, &a->entries, e, &f->stream, err)
                                 : lu__archive_read(a, e, (void **)&f->whole, err);
    if (st != LU_OK) {
        lu__error_prefix(err, "mount '%s'", mount);
        lu__free(env, f);
        return st;
    }
    lu__archive_retain(a);
    f->archive = a;
    *out = f;
    return LU_OK;
}

lu_status lu_open(lu_context *ctx, const char *path, lu_file **out, lu_error *err)
{
    if (out) *out = NULL;
    if (!ctx) return lu__fail(err, LU_NOT_INITIALIZED, "no context");
    if (!out) return lu__fail(err, LU_INVAL, "lu_open: no place for the file");
    unsigned shard;
    lu_snapshot *s;
    const lu_mount *m;
    const lu_entry *e;
    LU_TRY(lu__find(ctx, path, &s, &shard, &m, &e, err));
    lu_status st = lu__file_open_entry(m->archive, e, m->name, out, err);
    lu__cell_release(&ctx->cell, s, shard);
    return st;
}

/* The file's failure again, for a call after it failed. */
static lu_status failed_before(const lu_file *f, lu_error *err)
{
    return lu__fail(err, f->failed, "mount '%s': '%s': an earlier read failed (%s); close the file", f->mount,
                    lu__entry_name(&f->archive->entries, f->entry), lu_status_name(f->failed));
}

static lu_status check_result(lu_file *f, lu_status st, lu_error *err)
{
    if (st == LU_OK) return st;
    f->failed = st;
    lu__error_prefix(err, "mount '%s'", f->mount);
    return st;
}

lu_status lu_read_some(lu_file *f, void *buf, size_t cap, size_t *got, lu_error *err)
{
    if (got) *got = 0;
    if (!f || !got || (!buf && cap)) return lu__fail(err, LU_INVAL, "lu_read_some: no file, buffer or count");
    if (f->failed != LU_OK) return failed_before(f, err);
    if (f->whole) {
        uint64_t left = f->entry->size - f->pos;
        size_t n = left < cap ? (size_t)left : cap;
        if (n) memcpy(buf, f->whole + f->pos, n);
        f->pos += n;
        *got = n;
        return LU_OK;
    }
    size_t n = 0;
    lu_status st = f->archive->ops->stream_read(f->stream, buf, cap, &n, err);
    if (st != LU_OK) return check_result(f, st, err);
    f->pos += n;
    *got = n;
    return LU_OK;
}

lu_status lu_seek(lu_file *f, uint64_t offset, lu_error *err)
{
    if (!f) return lu__fail(err, LU_INVAL, "lu_seek: no file");
    if (f->failed != LU_OK) return failed_before(f, err);
    if (offset > f->entry->size)
        return lu__fail(err, LU_INVAL, "mount '%s': '%s': cannot seek to %llu, past its end (%llu bytes)", f->mount,
                        lu__entry_name(&f->archive->entries, f->entry), (unsigned long long)offset,
                        (unsigned long long)f->entry->size);
    if (!f->whole) {
        lu_status st = f->archive->ops->stream_seek(f->stream, offset, err);
        if (st != LU_OK) return check_result(f, st, err);
    }
    f->pos = offset;
    return LU_OK;
}

uint64_t lu_file_size(const lu_file *f)
{
    return f ? f->entry->size : 0;
}

uint64_t lu_file_tell(const lu_file *f)
{
    return f ? f->pos : 0;
}

void lu_close(lu_file *f)
{
    if (!f) return;
    if (f->stream) f->archive->ops->stream_close(f->stream);
    lu__free(f->env, f->whole);
    lu__archive_release(f->archive);
    lu__free(f->env, f);
}
