/* zip_writer.c -- writing zip volumes with minizip, reproducibly.
 *
 * Used by the bundler and by tests that need the library's own zips. Every
 * entry gets a fixed timestamp (1980-01-01) and fixed attributes, so the same
 * entries in the same order give byte-identical files. Files larger than
 * 4 GiB - 1 are written as zip64 entries. From 65,535 entries on, the end
 * of the file gets a zip64 end record and locator (add_zip64_end): minizip
 * 1.1 writes only 0xFFFF in the classic record's counts there, which
 * APPNOTE 4.4.1.4 says means "see the zip64 end record".
 */
#include <stdio.h>
#include <string.h>

#include <minizip/zip.h>

#include "internal.h"

struct lu_zip_writer {
    zipFile zf;
    char *path;
    const lu_env *env;
    lu_env own_env;
    uint64_t count;   /* entries added */
};

lu_status lu_zip_writer_open(const char *path, lu_zip_writer **out, lu_error *err)
{
    *out = NULL;
    lu_env env = lu__default_env();
    lu_zip_writer *w = lu__calloc(&env, 1, sizeof *w);
    if (!w) return lu__fail(err, LU_MEM_ERROR, "out of memory creating '%s'", path);
    w->own_env = env;
    w->env = &w->own_env;
    w->path = lu__strdup(w->env, path);
    w->zf = w->path ? zipOpen64(path, APPEND_STATUS_CREATE) : NULL;
    if (!w->zf) {
        lu__free(w->env, w->path);
        lu__free(&env, w);
        return lu__fail(err, LU_IO_ERROR, "cannot create zip '%s'", path);
    }
    *out = w;
    return LU_OK;
}

lu_status lu_zip_writer_add(lu_zip_writer *w, const char *name, const void *data, size_t len,
                            int level, lu_error *err)
{
    zip_fileinfo zi;
    memset(&zi, 0, sizeof zi);
    zi.tmz_date.tm_year = 1980;
    zi.tmz_date.tm_mday = 1;
    zi.external_fa = 0100644u << 16;
    int method = level == 0 ? 0 : Z_DEFLATED;
    int zip64 = len >= 0xffffffffu;
    if (zipOpenNewFileInZip64(w->zf, name, &zi, NULL, 0, NULL, 0, NULL, method,
                              level < 0 ? Z_DEFAULT_COMPRESSION : level, zip64) != ZIP_OK)
        return lu__fail(err, LU_IO_ERROR, "'%s': cannot add entry '%s'", w->path, name);
    const char *p = data;
    size_t done = 0;
    while (done < len) {
        unsigned chunk = len - done > (1u << 30) ? (1u << 30) : (unsigned)(len - done);
        if (zipWriteInFileInZip(w->zf, p + done, chunk) != ZIP_OK) {
            zipCloseFileInZip(w->zf);
            return lu__fail(err, LU_IO_ERROR, "'%s': cannot write entry '%s'", w->path, name);
        }
        done += chunk;
    }
    if (zipCloseFileInZip(w->zf) != ZIP_OK)
        return lu__fail(err, LU_IO_ERROR, "'%s': cannot finish entry '%s'", w->path, name);
    w->count++;
    return LU_OK;
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Replaces the classic end record minizip wrote last (no comment) with a
 * zip64 end record, its locator and a classic record of 0xFFFF counts,
 * unless minizip wrote zip64 records itself (a directory past 4 GiB). */
static lu_status add_zip64_end(lu_zip_writer *w, lu_error *err)
{
    FILE *f = fopen(w->path, "r+b");
    unsigned char tail[42], out[56 + 20 + 22];
    bool ok = f && fseek(f, 0, SEEK_END) == 0;
    long size = ok ? ftell(f) : -1;
    ok = ok && size >= 42 && fseek(f, size - 42, SEEK_SET) == 0 && fread(tail, 1, 42, f) == 42 &&
         get_le(tail + 20, 4) == 0x06054b50u;
    if (ok && get_le(tail, 4) != 0x07064b50u) {
        const unsigned char *eocd = tail + 20;
        uint64_t cd_size = get_le(eocd + 12, 4), cd_off = get_le(eocd + 16, 4), at = (uint64_t)size - 22;
        memset(out, 0, sizeof out);
        put_le(out, 0x06064b50u, 4);
        put_le(out + 4, 44, 8);           /* size of the rest of the record */
        put_le(out + 12, 45, 2);          /* made by, needed: 4.5 */
        put_le(out + 14, 45, 2);
        put_le(out + 24, w->count, 8);    /* entries on this disk, in all */
        put_le(out + 32, w->count, 8);
        put_le(out + 40, cd_size, 8);
        put_le(out + 48, cd_off, 8);
        put_le(out + 56, 0x07064b50u, 4);
        put_le(out + 64, at, 8);          /* where the zip64 end record starts */
        put_le(out + 72, 1, 4);           /* disks */
        memcpy(out + 76, eocd, 22);
        put_le(out + 76 + 8, 0xffff, 2);
        put_le(out + 76 + 10, 0xffff, 2);
        ok = fseek(f, (long)at, SEEK_SET) == 0 && fwrite(out, 1, sizeof out, f) == sizeof out;
    }
    if (f && fclose(f) != 0) ok = false;
    return ok ? LU_OK : lu__fail(err, LU_IO_ERROR, "'%s': cannot write the zip64 end record", w->path);
}

lu_status lu_zip_writer_close(lu_zip_writer *w, lu_error *err)
{
    if (!w) return LU_OK;
    lu_status st = LU_OK;
    if (zipClose(w->zf, NULL) != ZIP_OK)
        st = lu__fail(err, LU_IO_ERROR, "'%s': cannot finish the zip", w->path);
    else if (w->count >= 0xffff)
        st = add_zip64_end(w, err);
    lu_env env = w->own_env;
    lu__free(&env, w->path);
    lu__free(&env, w);
    return st;
}
