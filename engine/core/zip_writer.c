/* zip_writer.c -- writing zip volumes with minizip, reproducibly.
 *
 * Used by the bundler and by tests that need the library's own zips. Every
 * entry gets a fixed timestamp (1980-01-01) and fixed attributes, so the same
 * entries in the same order give byte-identical files. Files larger than
 * 4 GiB - 1 are written as zip64 entries. From 65,535 entries on, the end
 * of the file gets a zip64 end record and locator (add_zip64_end): minizip
 * 1.1 writes only 0xFFFF in the classic record's counts there, which
 * APPNOTE 4.4.1.4 says means "see the zip64 end record".
 *
 * zstd entries (zip method 93): minizip 1.1 refuses any method but stored
 * and deflate, so the frame (libzstd, one ZSTD_compressCCtx call: the same
 * bytes for the same input and level) is written as a raw stored entry with
 * its real CRC and size, and the method and version-needed fields of its
 * local header and central record are patched to 93 and 6.3 once minizip
 * has closed the file. The writer records each such entry's local-header
 * offset and the central directory's start to find them. A frame that is
 * not smaller than the data is not used: the entry is stored.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <libdeflate.h>
#include <minizip/zip.h>
#define ZSTD_STATIC_LINKING_ONLY   /* ZSTD_createCCtx_advanced: zstd allocates through the writer's env */
#include <zstd.h>
#include <zstd_errors.h>

#include "internal.h"

#define METHOD_ZSTD 93
#define VERSION_ZSTD 63   /* "version needed to extract" for method 93 (APPNOTE 4.4.3.2: 6.3) */

struct lu_zip_writer {
    zipFile zf;
    char *path;
    const lu_env *env;
    lu_env own_env;
    zlib_filefunc64_def io;
    open64_file_func open_fn;   /* minizip's own fopen64 wrapper */
    voidpf stream;              /* its stream, for ztell64 */
    uint64_t entries;           /* entries added, in central-directory order */
    struct patch {
        uint64_t entry, local;  /* the zstd entry's index and local-header offset */
    } *patches;
    size_t npatches, cap;
};

static voidpf ZCALLBACK open_tracked(voidpf opaque, const void *filename, int mode)
{
    lu_zip_writer *w = opaque;
    w->stream = w->open_fn(NULL, filename, mode);
    return w->stream;
}

static uint64_t tell(lu_zip_writer *w)
{
    return (uint64_t)w->io.ztell64_file(NULL, w->stream);
}

lu_status lu_zip_writer_open(const char *path, lu_zip_writer **out, lu_error *err)
{
    *out = NULL;
    lu_env env = lu__default_env();
    lu_zip_writer *w = lu__calloc(&env, 1, sizeof *w);
    if (!w) return lu__fail(err, LU_MEM_ERROR, "out of memory creating '%s'", path);
    w->own_env = env;
    w->env = &w->own_env;
    w->path = lu__strdup(w->env, path);
    fill_fopen64_filefunc(&w->io);
    w->open_fn = w->io.zopen64_file;
    w->io.zopen64_file = open_tracked;
    w->io.opaque = w;
    w->zf = w->path ? zipOpen2_64(path, APPEND_STATUS_CREATE, NULL, &w->io) : NULL;
    if (!w->zf) {
        lu__free(w->env, w->path);
        lu__free(&env, w);
        return lu__fail(err, LU_IO_ERROR, "cannot create zip '%s'", path);
    }
    *out = w;
    return LU_OK;
}

static void file_info(zip_fileinfo *zi)
{
    memset(zi, 0, sizeof *zi);
    zi->tmz_date.tm_year = 1980;
    zi->tmz_date.tm_mday = 1;
    zi->external_fa = 0100644u << 16;
}

/* Writes `len` bytes of the open entry in chunks minizip's unsigned takes. */
static bool write_all(lu_zip_writer *w, const void *data, size_t len)
{
    const char *p = data;
    for (size_t done = 0; done < len;) {
        unsigned chunk = len - done > (1u << 30) ? (1u << 30) : (unsigned)(len - done);
        if (zipWriteInFileInZip(w->zf, p + done, chunk) != ZIP_OK) return false;
        done += chunk;
    }
    return true;
}

lu_status lu_zip_writer_add(lu_zip_writer *w, const char *name, const void *data, size_t len,
                            int level, lu_error *err)
{
    zip_fileinfo zi;
    file_info(&zi);
    int method = level == 0 ? 0 : Z_DEFLATED;
    int zip64 = len >= 0xffffffffu;
    if (zipOpenNewFileInZip64(w->zf, name, &zi, NULL, 0, NULL, 0, NULL, method,
                              level < 0 ? Z_DEFAULT_COMPRESSION : level, zip64) != ZIP_OK)
        return lu__fail(err, LU_IO_ERROR, "'%s': cannot add entry '%s'", w->path, name);
    if (!write_all(w, data, len)) {
        zipCloseFileInZip(w->zf);
        return lu__fail(err, LU_IO_ERROR, "'%s': cannot write entry '%s'", w->path, name);
    }
    if (zipCloseFileInZip(w->zf) != ZIP_OK)
        return lu__fail(err, LU_IO_ERROR, "'%s': cannot finish entry '%s'", w->path, name);
    w->entries++;
    return LU_OK;
}

/* libzstd allocates through the writer's allocator. */
static void *zstd_alloc(void *opaque, size_t n)
{
    return lu__malloc(opaque, n);
}

static void zstd_free(void *opaque, void *p)
{
    lu__free(opaque, p);
}

/* Compresses `data` into one zstd frame at `level`. Returns LU_OK with
 * *frame (lu__free it) and *flen, or LU_OK with *frame NULL when the frame
 * would not be smaller than the data, or LU_MEM_ERROR. */
static lu_status zstd_frame(lu_zip_writer *w, const char *name, const void *data, size_t len, int level,
                            void **frame, size_t *flen, lu_error *err)
{
    *frame = NULL;
    ZSTD_customMem mem = {zstd_alloc, zstd_free, (void *)w->env};
    ZSTD_CCtx *c = ZSTD_createCCtx_advanced(mem);
    size_t cap = ZSTD_compressBound(len);
    void *buf = c ? lu__malloc(w->env, cap) : NULL;
    lu_status st = LU_OK;
    if (!buf) {
        st = lu__fail(err, LU_MEM_ERROR, "'%s': entry '%s': out of memory", w->path, name);
    } else {
        size_t n = ZSTD_compressCCtx(c, buf, cap, data, len, level);
        if (ZSTD_isError(n))
            st = lu__fail(err, ZSTD_getErrorCode(n) == ZSTD_error_memory_allocation ? LU_MEM_ERROR : LU_IO_ERROR,
                          "'%s': entry '%s': zstd: %s", w->path, name, ZSTD_getErrorName(n));
        else if (n < len) {
            *frame = buf;
            *flen = n;
            buf = NULL;
        }
    }
    lu__free(w->env, buf);
    ZSTD_freeCCtx(c);
    return st;
}

static lu_status add_zstd(lu_zip_writer *w, const char *name, const void *data, size_t len, int level,
                          lu_error *err)
{
    void *frame;
    size_t flen;
    LU_TRY(zstd_frame(w, name, data, len, level, &frame, &flen, err));
    if (!frame) return lu_zip_writer_add(w, name, data, len, 0, err);   /* does not shrink: stored */
    if (w->npatches == w->cap) {
        size_t cap = w->cap ? 2 * w->cap : 16;
        struct patch *p = lu__realloc(w->env, w->patches, cap * sizeof *p);
        if (!p) {
            lu__free(w->env, frame);
            return lu__fail(err, LU_MEM_ERROR, "'%s': entry '%s': out of memory", w->path, name);
        }
        w->patches = p;
        w->cap = cap;
    }
    zip_fileinfo zi;
    file_info(&zi);
    uint64_t local = tell(w);
    lu_status st = LU_OK;
    if (zipOpenNewFileInZip2_64(w->zf, name, &zi, NULL, 0, NULL, 0, NULL, 0, 0, 1, len >= 0xffffffffu) != ZIP_OK)
        st = lu__fail(err, LU_IO_ERROR, "'%s': cannot add entry '%s'", w->path, name);
    else if (!write_all(w, frame, flen)) {
        zipCloseFileInZipRaw64(w->zf, len, 0);
        st = lu__fail(err, LU_IO_ERROR, "'%s': cannot write entry '%s'", w->path, name);
    } else if (zipCloseFileInZipRaw64(w->zf, len, (uLong)libdeflate_crc32(0, data, len)) != ZIP_OK)
        st = lu__fail(err, LU_IO_ERROR, "'%s': cannot finish entry '%s'", w->path, name);
    lu__free(w->env, frame);
    if (st != LU_OK) return st;
    w->patches[w->npatches++] = (struct patch){w->entries, local};
    w->entries++;
    return LU_OK;
}

lu_status lu_zip_writer_add_method(lu_zip_writer *w, const char *name, const void *data, size_t len,
                                   int method, int level, lu_error *err)
{
    switch (method) {
    case LU_ZIP_STORED:
        return lu_zip_writer_add(w, name, data, len, 0, err);
    case LU_ZIP_DEFLATE:
        if (level == 0 || level < -1 || level > 9)
            return lu__fail(err, LU_INVAL, "'%s': entry '%s': deflate level %d (1-9, or -1)", w->path, name, level);
        return lu_zip_writer_add(w, name, data, len, level, err);
    case LU_ZIP_ZSTD:
        if (level == 0 || level < -1 || level > ZSTD_maxCLevel())
            return lu__fail(err, LU_INVAL, "'%s': entry '%s': zstd level %d (1-%d, or -1)", w->path, name, level,
                            ZSTD_maxCLevel());
        return add_zstd(w, name, data, len, level < 0 ? LU_ZIP_ZSTD_LEVEL : level, err);
    default:
        return lu__fail(err, LU_INVAL, "'%s': entry '%s': compression method %d is not one the writer makes",
                        w->path, name, method);
    }
}

static void put_le(unsigned char *p, uint64_t v, int n)
{
    for (int i = 0; i < n; i++) p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

static void put16(unsigned char *p, unsigned v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
}

static bool pio(int fd, bool write, void *buf, size_t n, uint64_t off)
{
    for (size_t done = 0; done < n;) {
        ssize_t r = write ? pwrite(fd, (char *)buf + done, n - done, (off_t)(off + done))
                          : pread(fd, (char *)buf + done, n - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        done += (size_t)r;
    }
    return true;
}

/* Marks the zstd entries as method 93 (see the file comment): the central
 * directory from `cd` to the end of the file is read, patched and written
 * back, and each entry's local header is patched in place. */
static lu_status patch_methods(lu_zip_writer *w, uint64_t cd, lu_error *err)
{
    int fd = open(w->path, O_RDWR | O_CLOEXEC);
    off_t end = fd >= 0 ? lseek(fd, 0, SEEK_END) : -1;
    size_t n = end >= 0 && (uint64_t)end >= cd ? (size_t)((uint64_t)end - cd) : 0;
    unsigned char *tail = n ? lu__malloc(w->env, n) : NULL;
    lu_status st = LU_OK;
    if (fd < 0 || !tail || !pio(fd, false, tail, n, cd)) {
        st = fd >= 0 && n && !tail ? lu__fail(err, LU_MEM_ERROR, "'%s': out of memory", w->path)
                                   : lu__fail(err, LU_IO_ERROR, "'%s': cannot reopen the zip to mark its zstd entries",
                                              w->path);
        goto cleanup;
    }
    size_t pos = 0, next = 0;
    for (uint64_t i = 0; i < w->entries && next < w->npatches; i++) {
        if (pos + 46 > n || le(tail + pos, 4) != 0x02014b50) break;
        size_t len = 46 + (size_t)le(tail + pos + 28, 2) + (size_t)le(tail + pos + 30, 2) + (size_t)le(tail + pos + 32, 2);
        if (i == w->patches[next].entry) {
            uint64_t local = w->patches[next].local, at = le(tail + pos + 42, 4);
            unsigned char lh[10];
            if ((at != 0xffffffffu && at != local) || !pio(fd, false, lh, sizeof lh, local) || le(lh, 4) != 0x04034b50)
                break;
            put16(lh + 4, VERSION_ZSTD);
            put16(lh + 8, METHOD_ZSTD);
            if (!pio(fd, true, lh, sizeof lh, local)) break;
            put16(tail + pos + 6, VERSION_ZSTD);
            put16(tail + pos + 10, METHOD_ZSTD);
            next++;
        }
        pos += len;
    }
    if (next != w->npatches || !pio(fd, true, tail, n, cd))
        st = lu__fail(err, LU_IO_ERROR, "'%s': cannot mark its zstd entries (unexpected central directory)", w->path);
cleanup:
    lu__free(w->env, tail);
    if (fd >= 0 && close(fd) != 0 && st == LU_OK)
        st = lu__fail(err, LU_IO_ERROR, "'%s': cannot finish the zip: %s", w->path, strerror(errno));
    return st;
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
         le(tail + 20, 4) == 0x06054b50u;
    if (ok && le(tail, 4) != 0x07064b50u) {
        const unsigned char *eocd = tail + 20;
        uint64_t cd_size = le(eocd + 12, 4), cd_off = le(eocd + 16, 4), at = (uint64_t)size - 22;
        memset(out, 0, sizeof out);
        put_le(out, 0x06064b50u, 4);
        put_le(out + 4, 44, 8);           /* size of the rest of the record */
        put_le(out + 12, 45, 2);          /* made by, needed: 4.5 */
        put_le(out + 14, 45, 2);
        put_le(out + 24, w->entries, 8);    /* entries on this disk, in all */
        put_le(out + 32, w->entries, 8);
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
    uint64_t cd = tell(w);
    if (zipClose(w->zf, NULL) != ZIP_OK)
        st = lu__fail(err, LU_IO_ERROR, "'%s': cannot finish the zip", w->path);
    if (st == LU_OK && w->npatches) st = patch_methods(w, cd, err);
    if (st == LU_OK && w->entries >= 0xffff) st = add_zip64_end(w, err);
    lu_env env = w->own_env;
    lu__free(&env, w->patches);
    lu__free(&env, w->path);
    lu__free(&env, w);
    return st;
}
