/* zip_writer.c -- writing zip volumes with minizip, reproducibly.
 *
 * Used by the bundler and by tests that need the library's own zips. Every
 * entry gets a fixed timestamp (1980-01-01) and fixed attributes, so the same
 * entries in the same order give byte-identical files. Files larger than
 * 4 GiB - 1 are written as zip64 entries.
 */
#include <string.h>

#include <minizip/zip.h>

#include "internal.h"

struct lu_zip_writer {
    zipFile zf;
    char *path;
    const lu_env *env;
    lu_env own_env;
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
    return LU_OK;
}

lu_status lu_zip_writer_close(lu_zip_writer *w, lu_error *err)
{
    if (!w) return LU_OK;
    lu_status st = LU_OK;
    if (zipClose(w->zf, NULL) != ZIP_OK)
        st = lu__fail(err, LU_IO_ERROR, "'%s': cannot finish the zip", w->path);
    lu_env env = w->own_env;
    lu__free(&env, w->path);
    lu__free(&env, w);
    return st;
}
