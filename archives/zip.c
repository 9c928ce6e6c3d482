/* zip.c -- the "zip" archive backend, on minizip.
 *
 * Open reads the central directory once (minizip parses it), records for
 * every entry its central-directory offset as the locator, and rejects what
 * SPEC §6 calls unsafe: encrypted entries, symlinks, unsupported methods
 * (stored, deflate and zstd are read; names and sizes are checked by
 * engine/entries.c). Reads position minizip
 * with our own code (read_own): the central-directory record at the stored
 * offset (never a name search), the local header, then the stored bytes in
 * one pread, or the deflated bytes in one pread and one libdeflate call that
 * must consume them all and produce exactly the declared size (zstd, method
 * 93: one or more zstd frames, one libzstd call under the same rule), then
 * the CRC (libdeflate's, with the CPU's carry-less multiply). That is about
 * twice minizip's speed (docs/BENCHMARKS.md) and closes the forged-prefix
 * gap minizip leaves. minizip's own read path remains for archives with
 * bytes before them (self-extracting executables), where offsets shift.
 *
 * Zip64 entries whose central-directory record overflows (0xFFFFFFFF in a
 * size or offset field, values in the zip64 extra field): Debian's minizip
 * 1.1 compares those fields against a 64-bit -1 and never applies the extra
 * field, so it reports 4 GiB - 1 and cannot read the entry. For those
 * entries this backend parses the zip64 extra field itself (read_own does
 * the rest); the locator's top bit marks them.
 *
 * All minizip I/O goes through one file descriptor opened at mount time,
 * read with pread() through small per-handle buffers, so a volume replaced
 * or deleted on disk keeps serving the bytes it was mounted with, and
 * several threads read one volume at once, each with its own unzFile taken
 * from a small pool.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libdeflate.h>
#include <minizip/unzip.h>
#define ZSTD_STATIC_LINKING_ONLY   /* ZSTD_createDCtx_advanced: zstd allocates through the volume's env */
#include <zstd.h>
#include <zstd_errors.h>

#include "archive.h"

#define ZIP_POOL_MAX 8
#define ZIP64_OWN_READ (UINT64_C(1) << 63)   /* locator flag: only read_own() can read it */
#define ZIP_BUF 4096
#define ZIP_METHOD_ZSTD 93

typedef struct zip_state {
    const lu_env *env;
    int fd;
    uint64_t file_size;
    char *path;
    zlib_filefunc64_def io;
    pthread_mutex_t lock;    /* guards pool/npool only */
    unzFile pool[ZIP_POOL_MAX];
    size_t npool;
} zip_state;

/* ---- pread-backed stream for minizip -------------------------------- */

typedef struct zstream {
    int fd;
    uint64_t pos, size;
    uint64_t buf_off;
    size_t buf_len;
    int error;
    unsigned char buf[ZIP_BUF];
} zstream;

static voidpf ZCALLBACK zs_open(voidpf opaque, const void *filename, int mode)
{
    (void)filename;
    zip_state *z = opaque;
    if ((mode & ZLIB_FILEFUNC_MODE_READWRITEFILTER) != ZLIB_FILEFUNC_MODE_READ) return NULL;
    zstream *s = lu__malloc(z->env, sizeof *s);
    if (!s) return NULL;
    s->fd = z->fd;
    s->pos = 0;
    s->size = z->file_size;
    s->buf_off = 0;
    s->buf_len = 0;
    s->error = 0;
    return s;
}

static bool zs_pread_all(zstream *s, void *dst, size_t n, uint64_t off, size_t *got)
{
    *got = 0;
    while (*got < n) {
        ssize_t r = pread(s->fd, (char *)dst + *got, n - *got, (off_t)(off + *got));
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            s->error = errno;
            return false;
        }
        if (r == 0) break;
        *got += (size_t)r;
    }
    return true;
}

static uLong ZCALLBACK zs_read(voidpf opaque, voidpf stream, void *buf, uLong size)
{
    (void)opaque;
    zstream *s = stream;
    size_t done = 0, got;
    while (done < size) {
        if (s->pos >= s->buf_off && s->pos < s->buf_off + s->buf_len) {
            size_t avail = (size_t)(s->buf_off + s->buf_len - s->pos);
            size_t n = avail < size - done ? avail : size - done;
            memcpy((char *)buf + done, s->buf + (s->pos - s->buf_off), n);
            done += n;
            s->pos += n;
            continue;
        }
        if (size - done >= ZIP_BUF) {   /* large read: straight into the caller's buffer */
            if (!zs_pread_all(s, (char *)buf + done, size - done, s->pos, &got)) break;
            done += got;
            s->pos += got;
            break;
        }
        if (!zs_pread_all(s, s->buf, ZIP_BUF, s->pos, &got) || got == 0) break;
        s->buf_off = s->pos;
        s->buf_len = got;
    }
    return (uLong)done;
}

static uLong ZCALLBACK zs_write(voidpf opaque, voidpf stream, const void *buf, uLong size)
{
    (void)opaque, (void)stream, (void)buf, (void)size;
    return 0;
}

static ZPOS64_T ZCALLBACK zs_tell(voidpf opaque, voidpf stream)
{
    (void)opaque;
    return ((zstream *)stream)->pos;
}

static long ZCALLBACK zs_seek(voidpf opaque, voidpf stream, ZPOS64_T off, int origin)
{
    (void)opaque;
    zstream *s = stream;
    /* minizip seeks backwards with SEEK_CUR and a negative offset passed
     * through the unsigned ZPOS64_T */
    int64_t delta = (int64_t)off;
    int64_t base = origin == ZLIB_FILEFUNC_SEEK_SET ? 0
                 : origin == ZLIB_FILEFUNC_SEEK_CUR ? (int64_t)s->pos
                                                     : (int64_t)s->size;
    if (origin == ZLIB_FILEFUNC_SEEK_SET && off > s->size) return -1;
    int64_t to = base + delta;
    if (to < 0 || (uint64_t)to > s->size) return -1;
    s->pos = (uint64_t)to;
    return 0;
}

static int ZCALLBACK zs_close(voidpf opaque, voidpf stream)
{
    zip_state *z = opaque;
    lu__free(z->env, stream);
    return 0;
}

static int ZCALLBACK zs_error(voidpf opaque, voidpf stream)
{
    (void)opaque;
    return ((zstream *)stream)->error;
}

/* ---- handle pool ---------------------------------------------------- */

static unzFile pool_get(zip_state *z)
{
    unzFile uf = NULL;
    pthread_mutex_lock(&z->lock);
    if (z->npool) uf = z->pool[--z->npool];
    pthread_mutex_unlock(&z->lock);
    return uf ? uf : unzOpen2_64(z->path, &z->io);
}

static void pool_put(zip_state *z, unzFile uf)
{
    pthread_mutex_lock(&z->lock);
    if (z->npool < ZIP_POOL_MAX) {
        z->pool[z->npool++] = uf;
        uf = NULL;
    }
    pthread_mutex_unlock(&z->lock);
    if (uf) unzClose(uf);
}

/* ---- backend -------------------------------------------------------- */

static void zip_close(const lu_env *env, void *state)
{
    zip_state *z = state;
    if (!z) return;
    for (size_t i = 0; i < z->npool; i++) unzClose(z->pool[i]);
    pthread_mutex_destroy(&z->lock);
    if (z->fd >= 0) close(z->fd);
    lu__free(env, z->path);
    lu__free(env, z);
}

static bool is_symlink(const unz_file_info64 *fi)
{
    return (fi->version >> 8) == 3 && ((fi->external_fa >> 16) & 0170000) == 0120000;
}

/* ---- zip64 records minizip 1.1 does not apply ---------------------- */

typedef struct zip64_sizes {
    uint64_t usize, csize, offset;
} zip64_sizes;

static bool overflows(const unz_file_info64 *fi)
{
    return fi->uncompressed_size == 0xffffffffu || fi->compressed_size == 0xffffffffu;
}

static uint64_t le(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

/* Fills the fields flagged as overflowing from the zip64 extra field (id 1),
 * which holds them in the order usize, csize, offset. */
static bool parse_zip64_extra(const unsigned char *x, size_t len, bool u, bool c, bool o, zip64_sizes *out)
{
    for (size_t i = 0; i + 4 <= len;) {
        unsigned id = (unsigned)le(x + i, 2), n = (unsigned)le(x + i + 2, 2);
        if (i + 4 + n > len) return false;
        if (id == 1) {
            const unsigned char *f = x + i + 4, *end = f + n;
            if (u && (f + 8 > end || ((out->usize = le(f, 8)), f += 8, false))) return false;
            if (c && (f + 8 > end || ((out->csize = le(f, 8)), f += 8, false))) return false;
            if (o && (f + 8 > end || ((out->offset = le(f, 8)), f += 8, false))) return false;
            return true;
        }
        i += 4 + n;
    }
    return false;
}

static bool pread_full(int fd, void *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) return false;
        got += (size_t)r;
    }
    return true;
}

static lu_status size_mismatch(zip_state *z, const char *name, lu_error *err)
{
    return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': compressed data does not match the declared size",
                    z->path, name);
}

/* Inflates a whole deflated entry with libdeflate: the compressed bytes in
 * one read, one call that must consume all of them and produce exactly
 * e->size bytes. */
static lu_status inflate_whole(zip_state *z, const char *name, uint64_t off, uint64_t csize, const lu_entry *e,
                               void *buf, lu_error *err)
{
    unsigned char *in = lu__malloc(z->env, csize ? (size_t)csize : 1);
    struct libdeflate_decompressor *d = libdeflate_alloc_decompressor();
    lu_status st = LU_OK;
    if (!in || !d) {
        st = lu__fail(err, LU_MEM_ERROR, "'%s': entry '%s': out of memory", z->path, name);
        goto cleanup;
    }
    if (!pread_full(z->fd, in, (size_t)csize, off)) {
        st = lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': data ends early", z->path, name);
        goto cleanup;
    }
    size_t used = 0, produced = 0;
    enum libdeflate_result r = libdeflate_deflate_decompress_ex(d, in, (size_t)csize, buf, (size_t)e->size, &used, &produced);
    if (r == LIBDEFLATE_BAD_DATA)
        st = lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': corrupt compressed data", z->path, name);
    else if (r != LIBDEFLATE_SUCCESS || used != csize || produced != e->size)
        st = size_mismatch(z, name, err);
cleanup:
    libdeflate_free_decompressor(d);
    lu__free(z->env, in);
    return st;
}

/* The compression methods read_data decodes: stored, deflate, zstd. */
static bool method_supported(int method)
{
    return method == 0 || method == Z_DEFLATED || method == ZIP_METHOD_ZSTD;
}

/* A method's name for messages (APPNOTE 4.4.5 and the zstd registration). */
static const char *method_name(int method)
{
    switch (method) {
    case 1: return "shrink";
    case 2: case 3: case 4: case 5: return "reduce";
    case 6: return "implode";
    case 9: return "deflate64";
    case 10: return "PKWARE DCL implode";
    case 12: return "bzip2";
    case 14: return "lzma";
    case 16: return "IBM z/OS CMPSC";
    case 18: return "IBM TERSE";
    case 19: return "IBM LZ77";
    case 20: return "zstd (deprecated id 20)";
    case 95: return "xz";
    case 96: return "jpeg";
    case 97: return "wavpack";
    case 98: return "ppmd";
    case 99: return "AE-x encryption";
    default: return "unknown";
    }
}

/* libzstd allocates through the volume's allocator. */
static void *zstd_alloc(void *opaque, size_t n)
{
    return lu__malloc(opaque, n);
}

static void zstd_free(void *opaque, void *p)
{
    lu__free(opaque, p);
}

static lu_status zstd_fail(zip_state *z, const char *name, size_t r, lu_error *err)
{
    if (ZSTD_getErrorCode(r) == ZSTD_error_dstSize_tooSmall) return size_mismatch(z, name, err);
    if (ZSTD_getErrorCode(r) == ZSTD_error_memory_allocation)
        return lu__fail(err, LU_MEM_ERROR, "'%s': entry '%s': out of memory", z->path, name);
    if (ZSTD_getErrorCode(r) == ZSTD_error_frameParameter_windowTooLarge)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': zstd frame behind padding asks for a window "
                        "over 8 MiB", z->path, name);
    return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': corrupt zstd data (%s)", z->path, name,
                    ZSTD_getErrorName(r));
}

/* Streams zstd frames from `off` into buf; used when csize is larger than
 * any compressor makes for e->size bytes (skippable frames, padding), so
 * that a hostile csize is not buffered. Output past e->size is an error.
 * The stream keeps a window buffer of the frame's declared window size:
 * windows up to 8 MiB (2^23, what levels up to 19 use) are accepted, so a
 * small entry cannot make it allocate libzstd's default limit of 128 MiB. */
static lu_status unzstd_stream(zip_state *z, ZSTD_DCtx *d, const char *name, uint64_t off, uint64_t csize,
                               const lu_entry *e, void *buf, lu_error *err)
{
    if (ZSTD_isError(ZSTD_DCtx_setParameter(d, ZSTD_d_windowLogMax, 23)))
        return lu__fail(err, LU_MEM_ERROR, "'%s': entry '%s': cannot set up zstd", z->path, name);
    unsigned char in[1 << 16], spare;
    ZSTD_outBuffer out = {buf, (size_t)e->size, 0};
    size_t r = 1;
    for (uint64_t done_in = 0; done_in < csize;) {
        size_t n = csize - done_in < sizeof in ? (size_t)(csize - done_in) : sizeof in;
        if (!pread_full(z->fd, in, n, off + done_in))
            return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': data ends early", z->path, name);
        done_in += n;
        ZSTD_inBuffer ib = {in, n, 0};
        while (ib.pos < ib.size) {
            ZSTD_outBuffer extra = {&spare, 1, 0};   /* declared size reached: no more output allowed */
            r = ZSTD_decompressStream(d, out.pos < out.size ? &out : &extra, &ib);
            if (ZSTD_isError(r)) return zstd_fail(z, name, r, err);
            if (extra.pos) return size_mismatch(z, name, err);
        }
    }
    return r == 0 && out.pos == e->size ? LU_OK : size_mismatch(z, name, err);
}

/* Decodes a zstd entry (method 93: one or more zstd frames, skippable
 * frames allowed): the compressed bytes in one read and one
 * ZSTD_decompressDCtx call, which fails unless the frames end exactly at
 * csize; it must produce exactly e->size bytes. */
static lu_status unzstd(zip_state *z, const char *name, uint64_t off, uint64_t csize, const lu_entry *e,
                        void *buf, lu_error *err)
{
    ZSTD_customMem mem = {zstd_alloc, zstd_free, (void *)z->env};
    ZSTD_DCtx *d = ZSTD_createDCtx_advanced(mem);
    if (!d) return lu__fail(err, LU_MEM_ERROR, "'%s': entry '%s': out of memory", z->path, name);
    lu_status st = LU_OK;
    unsigned char *in = NULL, none;
    if (csize > ZSTD_compressBound((size_t)e->size)) {
        st = unzstd_stream(z, d, name, off, csize, e, buf, err);
        goto cleanup;
    }
    in = lu__malloc(z->env, csize ? (size_t)csize : 1);
    if (!in) {
        st = lu__fail(err, LU_MEM_ERROR, "'%s': entry '%s': out of memory", z->path, name);
        goto cleanup;
    }
    if (!pread_full(z->fd, in, (size_t)csize, off)) {
        st = lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': data ends early", z->path, name);
        goto cleanup;
    }
    size_t r = ZSTD_decompressDCtx(d, e->size ? buf : &none, (size_t)e->size, in, (size_t)csize);
    if (ZSTD_isError(r)) st = zstd_fail(z, name, r, err);
    else if (r != e->size) st = size_mismatch(z, name, err);
cleanup:
    lu__free(z->env, in);
    ZSTD_freeDCtx(d);
    return st;
}

/* Inflates, decodes or copies csize bytes at `off` into exactly e->size
 * bytes, by the entry's method (one method_supported accepts). */
static lu_status read_data(zip_state *z, const char *name, int method, uint64_t off, uint64_t csize,
                           const lu_entry *e, void *buf, lu_error *err)
{
    if (method == 0) {
        if (csize != e->size) return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': stored sizes differ", z->path, name);
        if (!pread_full(z->fd, buf, (size_t)csize, off))
            return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': data ends early", z->path, name);
        return LU_OK;
    }
    if (method == ZIP_METHOD_ZSTD) return unzstd(z, name, off, csize, e, buf, err);
    if (method != Z_DEFLATED)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s' uses compression method %s (%d), which is not supported",
                        z->path, name, method_name(method), method);
    /* deflate never grows data much: a larger csize is streamed, not buffered */
    if (csize <= e->size + e->size / 8 + (64u << 10)) return inflate_whole(z, name, off, csize, e, buf, err);
    z_stream zs;
    memset(&zs, 0, sizeof zs);
    if (inflateInit2(&zs, -MAX_WBITS) != Z_OK) return lu__fail(err, LU_MEM_ERROR, "'%s': inflate failed to start", z->path);
    unsigned char in[1 << 16];
    uint64_t done_in = 0;
    int zr = Z_OK;
    zs.next_out = buf;
    uint64_t out_left = e->size;
    while (zr == Z_OK) {
        if (zs.avail_in == 0 && done_in < csize) {
            size_t n = csize - done_in < sizeof in ? (size_t)(csize - done_in) : sizeof in;
            if (!pread_full(z->fd, in, n, off + done_in)) break;
            zs.next_in = in;
            zs.avail_in = (uInt)n;
            done_in += n;
        }
        unsigned char spare;
        if (out_left == 0) {   /* declared size reached: the stream must end now */
            zs.next_out = &spare;
            zs.avail_out = 1;
        } else {
            zs.avail_out = out_left > (1u << 30) ? (1u << 30) : (uInt)out_left;
        }
        uLong before = zs.total_out;
        zr = inflate(&zs, Z_NO_FLUSH);
        if (out_left) out_left -= zs.total_out - before;
        else if (zs.total_out != before) break;
        if (zr == Z_BUF_ERROR && zs.avail_in == 0 && done_in == csize) break;
        if (zr == Z_BUF_ERROR) zr = Z_OK;
    }
    bool ok = zr == Z_STREAM_END && zs.total_out == e->size && done_in == csize && zs.avail_in == 0;
    inflateEnd(&zs);
    return ok ? LU_OK : size_mismatch(z, name, err);
}

/* Reads an entry without minizip (see the file comment). Returns LU_OK, an
 * error, or LU_UNKNOWN without a message when the local header is not where
 * the central directory says (an archive with bytes before it, which
 * minizip's read path accounts for). */
static lu_status read_own(zip_state *z, const lu_entry *e, const char *name, void *buf, lu_error *err)
{
    uint64_t cd = e->locator & ~ZIP64_OWN_READ;
    bool zip64 = (e->locator & ZIP64_OWN_READ) != 0;
    unsigned char h[46], lh[30];
    if (!pread_full(z->fd, h, sizeof h, cd) || le(h, 4) != 0x02014b50)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': bad central-directory record", z->path, name);
    unsigned method = (unsigned)le(h + 10, 2), nlen = (unsigned)le(h + 28, 2), xlen = (unsigned)le(h + 30, 2);
    uint32_t crc = (uint32_t)le(h + 16, 4);
    zip64_sizes zz = {le(h + 24, 4), le(h + 20, 4), le(h + 42, 4)};
    unsigned char *x = lu__malloc(z->env, xlen ? xlen : 1);
    if (!x) return lu__fail(err, LU_MEM_ERROR, "out of memory");
    bool need = zz.usize == 0xffffffffu || zz.csize == 0xffffffffu || zz.offset == 0xffffffffu;
    bool okx = pread_full(z->fd, x, xlen, cd + 46 + nlen) &&
               (!need || parse_zip64_extra(x, xlen, zz.usize == 0xffffffffu, zz.csize == 0xffffffffu,
                                           zz.offset == 0xffffffffu, &zz));
    lu__free(z->env, x);
    if (!okx || zz.usize != e->size)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': bad zip64 extra field", z->path, name);
    bool header = pread_full(z->fd, lh, sizeof lh, zz.offset);
    if (header && le(lh, 4) != 0x04034b50 && !zip64) return LU_UNKNOWN;
    if (!header || le(lh, 4) != 0x04034b50)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': bad local header", z->path, name);
    uint64_t data = zz.offset + 30 + le(lh + 26, 2) + le(lh + 28, 2);
    if (zz.csize > z->file_size || data > z->file_size - zz.csize)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': data runs past the end of the file", z->path, name);
    LU_TRY(read_data(z, name, (int)method, data, zz.csize, e, buf, err));
    if ((uint32_t)libdeflate_crc32(0, buf, (size_t)e->size) != crc)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': CRC mismatch", z->path, name);
    return LU_OK;
}

/* Walks the central directory into `tb`. */
static lu_status index_entries(zip_state *z, unzFile uf, lu_entries *tb, lu_error *err)
{
    unz_global_info64 gi;
    if (unzGetGlobalInfo64(uf, &gi) != UNZ_OK)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': unreadable end of central directory", z->path);
    char *name = lu__malloc(z->env, 65536);
    unsigned char *extra = lu__malloc(z->env, 65536);
    if (!name || !extra) {
        lu__free(z->env, name);
        lu__free(z->env, extra);
        return lu__fail(err, LU_MEM_ERROR, "'%s': out of memory", z->path);
    }
    lu_status st = LU_OK;
    uint64_t seen = 0;
    int rc = gi.number_entry ? unzGoToFirstFile(uf) : UNZ_END_OF_LIST_OF_FILE;
    while (rc == UNZ_OK) {
        unz_file_info64 fi;
        if (unzGetCurrentFileInfo64(uf, &fi, name, 65535, extra, 65535, NULL, 0) != UNZ_OK) {
            st = lu__fail(err, LU_FORMAT_ERROR, "'%s': corrupt central directory at entry %llu",
                          z->path, (unsigned long long)seen);
            goto cleanup;
        }
        size_t len = fi.size_filename;
        name[len] = '\0';
        seen++;
        zip64_sizes z64 = {fi.uncompressed_size, fi.compressed_size, 0};
        bool own_read = overflows(&fi);
        if (own_read && !parse_zip64_extra(extra, fi.size_file_extra, fi.uncompressed_size == 0xffffffffu,
                                           fi.compressed_size == 0xffffffffu, false, &z64)) {
            st = lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': missing or bad zip64 extra field", z->path, name);
            goto cleanup;
        }
        fi.uncompressed_size = z64.usize;
        fi.compressed_size = z64.csize;
        if (fi.flag & 1) {
            st = lu__fail(err, LU_UNSAFE_ARCHIVE, "'%s': entry '%s' is encrypted", z->path, name);
            goto cleanup;
        }
        if (is_symlink(&fi)) {
            st = lu__fail(err, LU_UNSAFE_ARCHIVE, "'%s': entry '%s' is a symlink (not followed)",
                          z->path, name);
            goto cleanup;
        }
        bool is_dir = len > 0 && name[len - 1] == '/' && fi.uncompressed_size == 0;
        if (is_dir && lu__entry_name_check(name, len - 1, NULL) != LU_OK) {
            /* a directory entry "../x/" is as unsafe as a file entry */
            lu_error why;
            lu__entry_name_check(name, len - 1, &why);
            st = lu__fail(err, LU_UNSAFE_ARCHIVE, "'%s': directory %s (entry '%s')", z->path, why.message, name);
            goto cleanup;
        }
        if (!is_dir) {
            if (!method_supported((int)fi.compression_method)) {
                st = lu__fail(err, LU_FORMAT_ERROR,
                              "'%s': entry '%s' uses compression method %s (%lu), which is not supported "
                              "(stored, deflate and zstd are)", z->path, name,
                              method_name((int)fi.compression_method), fi.compression_method);
                goto cleanup;
            }
            uint64_t locator = unzGetOffset64(uf) | (own_read ? ZIP64_OWN_READ : 0);
            st = lu__entries_add(tb, name, len, fi.uncompressed_size, locator, err);
            if (st != LU_OK) {
                lu__error_prefix(err, "'%s'", z->path);
                goto cleanup;
            }
        }
        rc = unzGoToNextFile(uf);
    }
    if (rc != UNZ_END_OF_LIST_OF_FILE || seen != gi.number_entry)
        st = lu__fail(err, LU_FORMAT_ERROR,
                      "'%s': central directory is truncated or corrupt (read %llu of %llu entries)",
                      z->path, (unsigned long long)seen, (unsigned long long)gi.number_entry);
cleanup:
    lu__free(z->env, name);
    lu__free(z->env, extra);
    return st;
}

/* minizip refuses a zip with no entries; such a file is only an end of
 * central directory record ("PK\5\6", zero counts and sizes, a comment). */
static bool is_empty_zip(const zip_state *z)
{
    unsigned char eocd[22];
    if (z->file_size < 22 || pread(z->fd, eocd, 22, 0) != 22) return false;
    if (memcmp(eocd, "PK\5\6", 4) != 0) return false;
    for (int i = 4; i < 20; i++)
        if (eocd[i]) return false;
    return z->file_size == 22u + (eocd[20] | (unsigned)eocd[21] << 8);
}

static lu_status zip_open(const lu_env *env, const char *path, lu_entries *tb, void **state,
                          int *claimed, lu_error *err)
{
    lu_status st = LU_OK;
    unzFile uf = NULL;
    *claimed = 0;
    zip_state *z = lu__calloc(env, 1, sizeof *z);
    if (!z) return lu__fail(err, LU_MEM_ERROR, "'%s': out of memory", path);
    z->env = env;
    z->fd = -1;
    pthread_mutex_init(&z->lock, NULL);
    z->path = lu__strdup(env, path);
    if (!z->path) {
        st = lu__fail(err, LU_MEM_ERROR, "'%s': out of memory", path);
        goto cleanup;
    }
    z->fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (z->fd < 0 || fstat(z->fd, &sb) != 0) {
        int e = errno;
        st = lu__fail(err, lu__errno_status(e), "cannot open zip '%s': %s", path, strerror(e));
        goto cleanup;
    }
    if (!S_ISREG(sb.st_mode)) {
        st = lu__fail(err, LU_SCHEME_MISMATCH, "'%s' is not a regular file, so not a zip", path);
        goto cleanup;
    }
    z->file_size = (uint64_t)sb.st_size;
    unsigned char magic[4] = {0};
    if (pread(z->fd, magic, 4, 0) == 4 && magic[0] == 'P' && magic[1] == 'K') *claimed = 1;
    z->io.zopen64_file = zs_open;
    z->io.zread_file = zs_read;
    z->io.zwrite_file = zs_write;
    z->io.ztell64_file = zs_tell;
    z->io.zseek64_file = zs_seek;
    z->io.zclose_file = zs_close;
    z->io.zerror_file = zs_error;
    z->io.opaque = z;
    uf = unzOpen2_64(path, &z->io);
    if (!uf && is_empty_zip(z)) {
        *claimed = 1;
        *state = z;
        return LU_OK;
    }
    if (!uf) {
        st = *claimed ? lu__fail(err, LU_FORMAT_ERROR,
                                 "'%s': corrupt or truncated zip (no valid end of central directory)",
                                 path)
                      : lu__fail(err, LU_SCHEME_MISMATCH, "'%s' is not a zip file", path);
        goto cleanup;
    }
    *claimed = 1;
    st = index_entries(z, uf, tb, err);
    if (st != LU_OK) goto cleanup;
    z->pool[z->npool++] = uf;
    uf = NULL;
    *state = z;
    z = NULL;
cleanup:
    if (uf) unzClose(uf);
    zip_close(env, z);
    return st;
}

static lu_status zip_read(void *state, const lu_entries *tb, const lu_entry *e, void *buf,
                          lu_error *err)
{
    zip_state *z = state;
    const char *name = lu__entry_path(tb, e) + 1;
    lu_status st = read_own(z, e, name, buf, err);
    if (st != LU_UNKNOWN) return st;
    st = LU_OK;
    bool opened = false;
    unzFile uf = pool_get(z);
    if (!uf) return lu__fail(err, LU_IO_ERROR, "'%s': cannot reopen zip", z->path);
    if (unzSetOffset64(uf, e->locator) != UNZ_OK) {
        st = lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': bad central-directory record",
                      z->path, name);
        goto cleanup;
    }
    if (unzOpenCurrentFile(uf) != UNZ_OK) {
        st = lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': bad local header", z->path, name);
        goto cleanup;
    }
    opened = true;
    uint64_t got = 0;
    while (got < e->size) {
        uint64_t want = e->size - got;
        int r = unzReadCurrentFile(uf, (char *)buf + got, want > (1u << 30) ? (1u << 30) : (unsigned)want);
        if (r < 0) {
            st = lu__fail(err, r == UNZ_ERRNO ? LU_IO_ERROR : LU_FORMAT_ERROR,
                          "'%s': entry '%s': %s", z->path, name,
                          r == UNZ_ERRNO ? "read error" : "corrupt compressed data");
            goto cleanup;
        }
        if (r == 0) {
            st = lu__fail(err, LU_FORMAT_ERROR,
                          "'%s': entry '%s': data ends after %llu of %llu bytes", z->path, name,
                          (unsigned long long)got, (unsigned long long)e->size);
            goto cleanup;
        }
        got += (uint64_t)r;
    }
    opened = false;
    int rc = unzCloseCurrentFile(uf);
    if (rc == UNZ_CRCERROR)
        st = lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': CRC mismatch", z->path, name);
    else if (rc != UNZ_OK)
        st = lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': corrupt data", z->path, name);
cleanup:
    if (opened) unzCloseCurrentFile(uf);
    pool_put(z, uf);
    return st;
}

const lu_archive_ops lu__archive_zip = {
    LU_ARCHIVE_INTERFACE_VERSION, "zip", zip_open, zip_read, zip_close,
};
