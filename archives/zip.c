/* zip.c -- the "zip" archive backend, on minizip.
 *
 * Open reads the central directory once (minizip parses it), records for
 * every entry its central-directory offset as the locator, and rejects what
 * SPEC §6 calls unsafe: encrypted entries, symlinks, unsupported methods
 * (names and sizes are checked by engine/entries.c). Reads position minizip
 * directly at the stored offset (unzSetOffset64, never a name search) and
 * let it check the CRC on close.
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
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <minizip/unzip.h>

#include "../engine/internal.h"

#define ZIP_POOL_MAX 8
#define ZIP_BUF 4096

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
    uint64_t base = origin == ZLIB_FILEFUNC_SEEK_SET ? 0
                  : origin == ZLIB_FILEFUNC_SEEK_CUR ? s->pos
                                                      : s->size;
    uint64_t to = base + off;
    if (to < base || to > s->size) return -1;
    s->pos = to;
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

/* Walks the central directory into `tb`. */
static lu_status index_entries(zip_state *z, unzFile uf, lu_entries *tb, lu_error *err)
{
    unz_global_info64 gi;
    if (unzGetGlobalInfo64(uf, &gi) != UNZ_OK)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': unreadable end of central directory", z->path);
    char *name = lu__malloc(z->env, 65536);
    if (!name) return lu__fail(err, LU_MEM_ERROR, "'%s': out of memory", z->path);
    lu_status st = LU_OK;
    uint64_t seen = 0;
    int rc = gi.number_entry ? unzGoToFirstFile(uf) : UNZ_END_OF_LIST_OF_FILE;
    while (rc == UNZ_OK) {
        unz_file_info64 fi;
        if (unzGetCurrentFileInfo64(uf, &fi, name, 65535, NULL, 0, NULL, 0) != UNZ_OK) {
            st = lu__fail(err, LU_FORMAT_ERROR, "'%s': corrupt central directory at entry %llu",
                          z->path, (unsigned long long)seen);
            goto cleanup;
        }
        size_t len = fi.size_filename;
        name[len] = '\0';
        seen++;
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
        if (!is_dir) {
            if (fi.compression_method != 0 && fi.compression_method != Z_DEFLATED) {
                st = lu__fail(err, LU_FORMAT_ERROR,
                              "'%s': entry '%s' uses unsupported compression method %lu", z->path,
                              name, fi.compression_method);
                goto cleanup;
            }
            st = lu__entries_add(tb, name, len, fi.uncompressed_size, unzGetOffset64(uf), err);
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
    lu_status st = LU_OK;
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
