/* zip.c -- the "zip" archive backend: our own central-directory parser and
 * entry reader (APPNOTE 6.3; no minizip on the read side).
 *
 * Open (zip_open) finds the end-of-central-directory record by a backward
 * search over the whole legal window (22 bytes plus a 65,535-byte comment),
 * follows a zip64 locator to the zip64 end record (at its recorded offset,
 * or right before the locator when bytes precede the archive), and computes
 * the prefix as minizip does: where the central directory actually ends
 * minus where the end record says it ends (self-extracting executables, a
 * zip appended to anything; `zip -A` output has a prefix of 0). It reads
 * the central directory in windows of 256 KiB (cd_reader) and walks every
 * record in it:
 * extra-field areas may end in 1-3 stray bytes (zipalign), zip64 extra
 * fields supply the sizes and offsets marked 0xFFFFFFFF, the prefix is
 * added to every local-header offset. The records present are the truth;
 * an end record whose count disagrees with them is refused (an archive of
 * more than 65,535 entries without zip64 records, whose 16-bit count
 * wrapped or saturated at 0xFFFF, is accepted, as Info-ZIP does). Then,
 * sorted by offset, every entry's local header, name and compressed data
 * must end before the next entry's local header, and the last before the
 * central directory: overlapping entries (CPython's overlap zip bomb) are
 * refused at mount. Open also refuses what docs/FORMATS.md calls unsafe: encrypted
 * entries, symlinks, unsupported methods (names and sizes are checked by
 * engine/core/entries.c), and split archives (an end record naming another
 * disk is read only when every entry's local header is in this file). The
 * nearest end record that describes a central directory wins, so one
 * inside a comment is passed over, and so are locator-like bytes before a
 * classic end record that needs no zip64 record. docs/FORMATS.md lists the
 * rules and messages.
 *
 * At mount nothing per entry is kept but its locator: the file offset of
 * its central record and the room its local extra field has before the
 * data would overlap the next entry (LOC_SLACK_BITS), so a mount costs no
 * more memory than the entry table. The first read of an entry
 * (read_first) re-reads the central record (46 bytes; its extra field
 * only for zip64 values), then the local header and name in one pread,
 * checks the name against the central directory's and the local extra
 * length against the room, then reads the data; what later reads need
 * (data offset, method, compressed size, CRC) is then kept in a per-entry
 * side array (zip_known, 16 bytes an entry, allocated at the volume's
 * first read), so every later read is one pread: the stored bytes straight
 * into the result, or the deflated bytes in one pread and one libdeflate
 * call that must produce exactly the declared size (trailing bytes after
 * the end of the deflate stream are accepted, as every other reader does),
 * or the zstd bytes (method 93: one or more frames, skippable frames
 * allowed) in one libzstd call that must end exactly at the compressed
 * size and produce exactly the declared size; the CRC (libdeflate's) is
 * checked at every read. All I/O goes through the context's pread hook
 * (lu_io_hooks) on one file descriptor opened at mount time, so a volume
 * replaced or deleted on disk keeps serving the bytes it was mounted with,
 * and any number of threads read one volume at once. Mounting walks the
 * records once (read_directory); entries.c checks the names.
 *
 * The same walk, with no entry table, gives a zip's layout (zip_layout.h:
 * every record's offset, span and fields, for deltas), from a file or
 * from its last bytes in memory (zip_state.win: a read before them fails
 * and says where the bytes needed start).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <libdeflate.h>
#include <zlib.h>
#define ZSTD_STATIC_LINKING_ONLY   /* ZSTD_createDCtx_advanced: zstd allocates through the volume's env */
#include <zstd.h>
#include <zstd_errors.h>

#include "archive.h"
#include "zip_layout.h"

#define ZIP_METHOD_ZSTD 93
#define EOCD_SIZE 22
#define EOCD_WINDOW (EOCD_SIZE + 65535)   /* the record and the longest comment */
#define EOCD_FIRST 4096                    /* the end searched first (find_end) */
#define LOC64_SIZE 20
#define EOCD64_SIZE 56
#define CEN_SIZE 46
#define CEN_NAMEBUF LU_ERROR_MAX   /* a name in a message: no longer than the message */
#define LOC_SIZE 30
#define SIG_LOC 0x04034b50u
#define SIG_CEN 0x02014b50u
#define SIG_EOCD 0x06054b50u
#define SIG_EOCD64 0x06064b50u
#define SIG_LOC64 0x07064b50u
#define SIG_DIGSIG 0x05054b50u
#define SIG_SPLIT 0x08074b50u

/* An entry's locator: where its central-directory record is in the file
 * (high 48 bits) and how many bytes of local extra field its data may start
 * after before it overlaps the next entry (low 16 bits, saturated). */
#define LOC_SLACK_BITS 16
#define LOC_SLACK_MAX 0xffffu

/* What a read needs of an entry, learned at its first read (every check
 * passed) so that later reads make one pread: `where` is the data's file
 * offset (below 2^48) | the method << KNOWN_METHOD_SHIFT, 0 while unknown
 * (data never starts at 0); `sums` is the CRC-32 | the compressed size
 * << 32 (an entry whose compressed size needs more than 32 bits is never
 * learned: it is read the long way, which costs nothing next to 4 GiB).
 * Written with relaxed `sums` then release `where`, read acquire `where`
 * then relaxed `sums`, so threads may learn one entry at once. */
typedef struct zip_known {
    _Atomic uint64_t where, sums;
} zip_known;

#define KNOWN_METHOD_SHIFT 48
#define KNOWN_OFFSET_MASK ((UINT64_C(1) << KNOWN_METHOD_SHIFT) - 1)

typedef struct zip_state {
    const lu_env *env;
    int fd;
    uint64_t file_size;
    char *path;
    uint64_t prefix;   /* bytes before the archive, added to local-header offsets */
    int open_errno;    /* while opening: a read of a signature failed with this (not EOF) */
    size_t files;      /* entries in the table (what `known` is indexed by) */
    /* one zip_known per entry, allocated at the volume's first read (so a
     * mount costs no more memory than its entry table); NULL until then */
    zip_known *_Atomic known;
    /* a libdeflate decompressor kept between reads (taken and given back
     * with atomic exchanges; a reader that finds none allocates one) */
    struct libdeflate_decompressor *_Atomic inflater;
    /* lu__zip_layout_mem: the file's bytes from win_from to its end are at
     * win, and there is no descriptor; a read that starts before win_from
     * fails (errno ENODATA) and lowers *need to its offset */
    const unsigned char *win;
    uint64_t win_from;
    uint64_t *need;
    /* lu__zip_layout_*: read_directory keeps each record here (and adds
     * no entries: the table is NULL) */
    lu_zip_layout *lay;
} zip_state;

/* Where the central directory is, from the end records. */
typedef struct zip_end {
    uint64_t pos;        /* the end record (the zip64 one when present) */
    uint64_t count;      /* entries declared */
    uint64_t cd_off;     /* as recorded */
    uint64_t cd_size;
    uint64_t cd_start;   /* actual: cd_off + prefix */
    uint64_t prefix;     /* bytes before the archive */
    uint64_t disk;       /* the disk this file is: every entry must start on it */
    bool zip64;
} zip_end;

/* The n-byte little-endian number at p (n is 2, 4 or 8 at every call, so
 * the compiler makes each one a load). */
static inline uint64_t le(const unsigned char *p, int n)
{
    uint64_t lo = (uint64_t)p[0] | (uint64_t)p[1] << 8;
    if (n == 2) return lo;
    lo |= (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
    if (n == 4) return lo;
    return lo | (uint64_t)p[4] << 32 | (uint64_t)p[5] << 40 | (uint64_t)p[6] << 48 | (uint64_t)p[7] << 56;
}

/* Reads n bytes at `off` through the context's I/O hooks (lu__pread), or
 * from the window of a layout read from memory (see zip_state.win).
 * False with errno set on an I/O error, errno 0 at the end of the file. */
static bool pread_full(const zip_state *z, void *buf, size_t n, uint64_t off)
{
    if (z->win) {
        if (off < z->win_from) {
            if (off < *z->need) *z->need = off;
            errno = ENODATA;
            return false;
        }
        if (off > z->file_size || z->file_size - off < n) {
            errno = 0;
            return false;
        }
        memcpy(buf, z->win + (off - z->win_from), n);
        return true;
    }
    size_t got = 0;
    while (got < n) {
        long r = lu__pread(z->env, z->fd, (char *)buf + got, n - got, off + got);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0) errno = 0;   /* end of file, not an I/O error */
        if (r <= 0) return false;
        got += (size_t)r;
    }
    return true;
}

/* Whether the signature `sig` is at `off`. A read that fails with an I/O
 * error (not the end of the file) is recorded in z->open_errno: the
 * caller reports LU_IO_ERROR, not a format error, since the volume may
 * read at the next attempt (context.c holds such a mount). */
static bool sig_at(zip_state *z, uint64_t off, uint32_t sig)
{
    unsigned char b[4];
    if (off > z->file_size || z->file_size - off < 4) return false;
    if (pread_full(z, b, 4, off)) return le(b, 4) == sig;
    if (errno && !z->open_errno) z->open_errno = errno;
    return false;
}

/* ---- the end records ------------------------------------------------ */

static lu_status split_archive(const zip_state *z, uint64_t disk, lu_error *err)
{
    return lu__fail(err, LU_FORMAT_ERROR, "'%s': split archive (disk %llu of %llu) is not supported", z->path,
                    (unsigned long long)disk + 1, (unsigned long long)disk + 1);
}

/* Reads the zip64 end record the locator at `loc` points to into `out`;
 * LU_NOT_FOUND (no message) when there is none. */
static lu_status read_end64(zip_state *z, const unsigned char *loc, uint64_t loc_pos, zip_end *out,
                            lu_error *err)
{
    uint64_t disk = le(loc + 4, 4), at = le(loc + 8, 8), disks = le(loc + 16, 4);
    if (disk != 0 || disks > 1) return split_archive(z, disks ? disks - 1 : disk, err);
    /* at its recorded offset, or (bytes in front) right before the locator */
    if (at > loc_pos || loc_pos - at < EOCD64_SIZE || !sig_at(z, at, SIG_EOCD64)) {
        if (loc_pos < EOCD64_SIZE || !sig_at(z, loc_pos - EOCD64_SIZE, SIG_EOCD64)) return LU_NOT_FOUND;
        at = loc_pos - EOCD64_SIZE;
    }
    unsigned char r[EOCD64_SIZE];
    if (!pread_full(z, r, sizeof r, at))
        return lu__fail(err, LU_IO_ERROR, "'%s': cannot read the zip64 end record", z->path);
    uint64_t this_disk = le(r + 16, 4), cd_disk = le(r + 20, 4);
    if (cd_disk != this_disk) return split_archive(z, this_disk, err);
    out->disk = this_disk;
    out->pos = at;
    out->count = le(r + 32, 8);
    out->cd_size = le(r + 40, 8);
    out->cd_off = le(r + 48, 8);
    out->zip64 = true;
    return LU_OK;
}

/* Checks the end record `r` at file offset `pos` (tail holds the `avail`
 * bytes before it) and fills `out`. */
static lu_status try_end(zip_state *z, const unsigned char *r, uint64_t pos, const unsigned char *before,
                         size_t avail, zip_end *out, lu_error *err)
{
    memset(out, 0, sizeof *out);
    uint64_t disk = le(r + 4, 2), cd_disk = le(r + 6, 2);
    out->pos = pos;
    out->count = le(r + 10, 2);
    out->cd_size = le(r + 12, 4);
    out->cd_off = le(r + 16, 4);
    unsigned char loc[LOC64_SIZE];
    bool have_loc = false;
    if (avail >= LOC64_SIZE) {
        memcpy(loc, before + avail - LOC64_SIZE, LOC64_SIZE);
        have_loc = le(loc, 4) == SIG_LOC64;
    } else if (pos >= LOC64_SIZE) {
        if (pread_full(z, loc, LOC64_SIZE, pos - LOC64_SIZE)) have_loc = le(loc, 4) == SIG_LOC64;
        else if (errno && !z->open_errno) z->open_errno = errno;
    }
    lu_status st = have_loc ? read_end64(z, loc, pos - LOC64_SIZE, out, err) : LU_NOT_FOUND;
    /* locator-like bytes naming other disks (in a file comment, say)
     * before a classic record of disk 0 that needs no zip64 record: passed
     * over, as Info-ZIP does; a real split entry is still refused below */
    if (st == LU_FORMAT_ERROR && !z->open_errno && disk == 0 && cd_disk == 0 && out->count != 0xffffu &&
        out->cd_size != 0xffffffffu && out->cd_off != 0xffffffffu)
        st = LU_NOT_FOUND;
    if (st == LU_NOT_FOUND && have_loc &&
        (out->count == 0xffffu || out->cd_size == 0xffffffffu || out->cd_off == 0xffffffffu))
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': the zip64 end record is not at offset %llu, where its locator "
                        "puts it, nor before the locator", z->path, (unsigned long long)le(loc + 8, 8));
    if (st == LU_NOT_FOUND) {
        /* no locator, or locator-like bytes (in a name, say) before a
         * classic record that needs none: the classic record it is */
        if (cd_disk != disk) return split_archive(z, disk, err);
        out->disk = disk;
    } else if (st != LU_OK) {
        return st;
    }
    if (out->cd_size > out->pos || out->cd_off > out->pos - out->cd_size)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': the central directory (offset %llu, %llu bytes) does not end "
                        "before the end record at %llu", z->path, (unsigned long long)out->cd_off,
                        (unsigned long long)out->cd_size, (unsigned long long)out->pos);
    out->prefix = out->pos - out->cd_off - out->cd_size;
    /* Bytes between the central directory and the end record, rather than
     * before the archive (Go's archive/zip makes the same call). */
    if (out->prefix && sig_at(z, out->cd_off, SIG_CEN)) {
        if (sig_at(z, out->cd_off + out->cd_size, SIG_CEN))
            return lu__fail(err, LU_FORMAT_ERROR, "'%s': the end record's central-directory size (%llu bytes) "
                            "stops before more entry records", z->path, (unsigned long long)out->cd_size);
        out->prefix = 0;
    }
    out->cd_start = out->cd_off + out->prefix;
    if ((out->count || out->cd_size) && !sig_at(z, out->cd_start, SIG_CEN))
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': no central directory at offset %llu, where the end record "
                        "puts it", z->path, (unsigned long long)out->cd_start);
    return LU_OK;
}

/* Tries the end-record signatures at tail[0, from) (file offset base +
 * i), nearest the end first: true when one decided the search (usable, or
 * a memory or read error) with *first its status; else *first (and *err)
 * keep the reason the nearest one was unusable, if any was found. */
static bool scan_end(zip_state *z, const unsigned char *tail, uint64_t base, size_t from, zip_end *out,
                     lu_status *first, lu_error *err)
{
    for (size_t i = from; i-- > 0;) {
        if (tail[i] != 'P' || le(tail + i, 4) != SIG_EOCD) continue;
        lu_error why;
        lu_status st = try_end(z, tail + i, base + i, tail, i, out, &why);
        if (z->open_errno)
            st = lu__fail(&why, LU_IO_ERROR, "'%s': cannot read the end records: %s", z->path, strerror(z->open_errno));
        if (st == LU_OK || st == LU_MEM_ERROR || st == LU_IO_ERROR) {
            if (st != LU_OK && err) *err = why;
            *first = st;
            return true;
        }
        if (*first == LU_NOT_FOUND) {
            if (err) *err = why;
            *first = st;
        }
    }
    return false;
}

/* Finds the end record nearest the end of the file that describes a
 * central directory. LU_NOT_FOUND (no message) when there is no end-record
 * signature at all; otherwise the reason the nearest one is unusable. The
 * last EOCD_FIRST bytes are searched first, from the stack (an archive
 * without a long comment ends there); the rest of the window (the longest
 * comment) only when they hold no usable record. */
static lu_status find_end(zip_state *z, zip_end *out, lu_error *err)
{
    if (z->file_size < EOCD_SIZE) return LU_NOT_FOUND;
    size_t w = z->file_size < EOCD_WINDOW ? (size_t)z->file_size : EOCD_WINDOW;
    size_t near = w < EOCD_FIRST ? w : EOCD_FIRST;
    unsigned char last[EOCD_FIRST];
    lu_status first = LU_NOT_FOUND;
    if (!pread_full(z, last, near, z->file_size - near))
        return lu__fail(err, LU_IO_ERROR, "'%s': cannot read the end of the file", z->path);
    if (scan_end(z, last, z->file_size - near, near - EOCD_SIZE + 1, out, &first, err) || near == w) return first;
    uint64_t base = z->file_size - w;
    unsigned char *tail = lu__malloc(z->env, w);
    if (!tail) return lu__fail(err, LU_MEM_ERROR, "'%s': out of memory", z->path);
    if (!pread_full(z, tail, w, base)) {
        lu__free(z->env, tail);
        return lu__fail(err, LU_IO_ERROR, "'%s': cannot read the end of the file", z->path);
    }
    scan_end(z, tail, base, w - near, out, &first, err);   /* the offsets before the `near` bytes */
    lu__free(z->env, tail);
    return first;
}

/* ---- the central directory ------------------------------------------ */

/* One central-directory record, its zip64 fields applied. */
typedef struct cen {
    unsigned made_by, flags, method, nlen, xlen;
    uint32_t crc, ext_attr;
    uint64_t csize, usize, local, disk;
    const unsigned char *name, *extra;
    /* the name NUL-terminated, for messages: made from `name` into
     * `namebuf` (CEN_NAMEBUF bytes; a longer name is cut, as the message
     * would cut it) when a message needs it (cen_name) */
    const char *cname;
    char *namebuf;
} cen;

/* The record's name NUL-terminated (for a message). */
static const char *cen_name(cen *c)
{
    if (!c->cname) {
        size_t n = c->nlen < CEN_NAMEBUF ? c->nlen : CEN_NAMEBUF - 1;
        memcpy(c->namebuf, c->name, n);
        c->namebuf[n] = '\0';
        c->cname = c->namebuf;
    }
    return c->cname;
}

/* Applies the zip64 extra field (id 1) to the fields that hold their
 * maximum, in the order usize, csize, offset, disk. Up to 3 stray bytes
 * after the last field are ignored (zipalign leaves them). */
static lu_status cen_extra(const zip_state *z, cen *c, lu_error *err)
{
    bool nu = c->usize == 0xffffffffu, nc = c->csize == 0xffffffffu, no = c->local == 0xffffffffu;
    bool nd = c->disk == 0xffffu, found = false;
    const unsigned char *x = c->extra;
    size_t len = c->xlen;
    for (size_t i = 0; len - i >= 4;) {
        unsigned id = (unsigned)le(x + i, 2), n = (unsigned)le(x + i + 2, 2);
        if (n > len - i - 4)
            return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': extra field 0x%04x of %u bytes runs past "
                            "the entry's %zu-byte extra area", z->path, cen_name(c), id, n, len);
        if (id == 1 && !found) {
            found = true;
            unsigned need = 8u * (nu + nc + no) + 4u * nd;
            if (n < need)
                return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': zip64 extra field of %u bytes, %u needed",
                                z->path, cen_name(c), n, need);
            const unsigned char *f = x + i + 4;
            if (nu) c->usize = le(f, 8), f += 8;
            if (nc) c->csize = le(f, 8), f += 8;
            if (no) c->local = le(f, 8), f += 8;
            if (nd) c->disk = le(f, 4);
        }
        i += 4 + n;
    }
    /* A lone usize of 0xFFFFFFFF may be real (an old zip32 writer); a
     * compressed size or an offset of 0xFFFFFFFF without zip64 never is. */
    if (!found && (nc || no))
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': %s marked as zip64 (0xFFFFFFFF) but no zip64 "
                        "extra field", z->path, cen_name(c), nc ? "compressed size" : "local-header offset");
    return LU_OK;
}

/* The fixed fields of the record at `p` (CEN_SIZE bytes), before zip64. */
static void cen_fields(const unsigned char *p, cen *c)
{
    c->made_by = (unsigned)le(p + 4, 2);
    c->flags = (unsigned)le(p + 8, 2);
    c->method = (unsigned)le(p + 10, 2);
    c->crc = (uint32_t)le(p + 16, 4);
    c->csize = le(p + 20, 4);
    c->usize = le(p + 24, 4);
    c->nlen = (unsigned)le(p + 28, 2);
    c->xlen = (unsigned)le(p + 30, 2);
    c->disk = le(p + 34, 2);
    c->ext_attr = (uint32_t)le(p + 38, 4);
    c->local = le(p + 42, 4);
    c->name = p + CEN_SIZE;
    c->extra = c->name + c->nlen;
}

/* Parses the whole record at `p`; `namebuf` (CEN_NAMEBUF bytes) receives the
 * name when a message needs it. */
static lu_status cen_parse(const zip_state *z, const unsigned char *p, cen *c, char *namebuf, lu_error *err)
{
    cen_fields(p, c);
    c->cname = NULL;
    c->namebuf = namebuf;
    if (c->xlen == 0 && c->csize != 0xffffffffu && c->local != 0xffffffffu) return LU_OK;   /* cen_extra's answer */
    return cen_extra(z, c, err);
}

/* Whether read_data decodes `method` (the one list of supported methods):
 * stored, deflate, zstd. */
static bool method_supported(unsigned method)
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

static bool is_symlink(const cen *c)
{
    return (c->made_by >> 8) == 3 && ((c->ext_attr >> 16) & 0170000) == 0120000;
}

/* Checks one record against docs/FORMATS.md's rules and adds a file entry to `tb`. */
static lu_status cen_add(zip_state *z, cen *c, uint64_t locator, lu_entries *tb, lu_error *err)
{
    const char *name = (const char *)c->name;   /* nlen bytes, not NUL-terminated */
    size_t len = c->nlen;
    if (c->flags & 1) return lu__fail(err, LU_UNSAFE_ARCHIVE, "'%s': entry '%s' is encrypted", z->path, cen_name(c));
    if (is_symlink(c))
        return lu__fail(err, LU_UNSAFE_ARCHIVE, "'%s': entry '%s' is a symlink (not followed)", z->path, cen_name(c));
    bool is_dir = len > 0 && name[len - 1] == '/' && c->usize == 0;
    if (is_dir) {
        if (lu__entry_name_check(name, len - 1, NULL) == LU_OK) return LU_OK;
        /* a directory entry "../x/" is as unsafe as a file entry */
        lu_error why;
        lu__entry_name_check(name, len - 1, &why);
        return lu__fail(err, LU_UNSAFE_ARCHIVE, "'%s': directory %s (entry '%s')", z->path, why.message, cen_name(c));
    }
    if (!method_supported(c->method))
        return lu__fail(err, LU_FORMAT_ERROR,
                        "'%s': entry '%s' uses compression method %s (%u), which is not supported "
                        "(stored, deflate and zstd are)", z->path, cen_name(c), method_name((int)c->method), c->method);
    lu_status st = lu__entries_add(tb, name, len, c->usize, locator, err);
    if (st != LU_OK) lu__error_prefix(err, "'%s'", z->path);
    return st;
}

/* The declared count agrees with the records present; an archive of more
 * than 65,535 entries without zip64 records may carry the count modulo
 * 65,536 or 0xFFFF (Info-ZIP reads those). */
static bool count_agrees(const zip_end *end, uint64_t found)
{
    if (end->count == found) return true;
    return !end->zip64 && found > 0xffffu && (end->count == 0xffffu || end->count == (found & 0xffffu));
}

/* One record in file order, for the overlap checks. */
typedef struct by_offset {
    uint64_t local, cen;   /* local-header offset; record's offset in the central directory */
    uint64_t csize;
    uint32_t index;        /* the record's position in the central directory */
    uint32_t nlen;         /* its name's length */
    size_t entry;          /* its entry in the table (NO_ENTRY: a directory) */
} by_offset;

#define NO_ENTRY SIZE_MAX

static int cmp_offset(const void *a, const void *b)
{
    const by_offset *x = a, *y = b;
    return x->local < y->local ? -1 : x->local > y->local ? 1 : x->index < y->index ? -1 : x->index > y->index;
}

/* The name of the record at `cen` in the central directory, for a
 * message: read again from the file (the walk keeps only a window of the
 * directory), "?" when that read fails. */
static void name_of(const zip_state *z, const zip_end *end, uint64_t cen, char *out, size_t cap)
{
    unsigned char len[2];
    strcpy(out, "?");
    if (!pread_full(z, len, sizeof len, end->cd_start + cen + 28)) return;
    size_t n = (size_t)le(len, 2);
    if (n >= cap) n = cap - 1;
    if (!pread_full(z, out, n, end->cd_start + cen + CEN_SIZE)) {
        strcpy(out, "?");
        return;
    }
    out[n] = '\0';
}

/* Checks that entry `r`'s local header, name and compressed data end at or
 * before `bound` (the next entry's local header in file order, `next`, or
 * the central directory when `next` is NULL), and adds to its locator the
 * room left for its local extra field (see LOC_SLACK_BITS). */
static lu_status check_one(zip_state *z, const by_offset *r, const by_offset *next, const zip_end *end,
                           lu_entries *tb, lu_error *err)
{
    uint64_t bound = next ? next->local : end->cd_start;
    uint64_t head = LOC_SIZE + (uint64_t)r->nlen;
    if (r->local <= bound && bound - r->local >= head && bound - r->local - head >= r->csize) {
        uint64_t room = bound - r->local - head - r->csize;
        if (r->entry != NO_ENTRY) lu__entries_item(tb, r->entry)->locator |= room < LOC_SLACK_MAX ? room : LOC_SLACK_MAX;
        return LU_OK;
    }
    char a[256], b[256];
    name_of(z, end, r->cen, a, sizeof a);
    if (!next)
        return lu__fail(err, LU_UNSAFE_ARCHIVE, "'%s': entry '%s' overlaps the central directory (local header "
                        "at %llu, %llu bytes of data, directory at %llu)", z->path, a,
                        (unsigned long long)r->local, (unsigned long long)r->csize,
                        (unsigned long long)end->cd_start);
    name_of(z, end, next->cen, b, sizeof b);
    return lu__fail(err, LU_UNSAFE_ARCHIVE, "'%s': entry '%s' overlaps entry '%s' (local headers at %llu and "
                    "%llu, %llu bytes of data)", z->path, a, b, (unsigned long long)r->local,
                    (unsigned long long)next->local, (unsigned long long)r->csize);
}

/* Whether the local header at `off` is there and names the entry: an
 * archive whose disk numbers are wrong but which holds every entry itself
 * (Info-ZIP and Python read those), not a part of a split archive. */
static bool local_matches(zip_state *z, uint64_t off, const cen *c)
{
    unsigned char h[LOC_SIZE + 256];
    if (c->nlen > 256 || off > z->file_size) return false;
    if (!pread_full(z, h, LOC_SIZE + c->nlen, off)) {
        if (errno && !z->open_errno) z->open_errno = errno;
        return false;
    }
    return le(h, 4) == SIG_LOC && le(h + 26, 2) == c->nlen && memcmp(h + LOC_SIZE, c->name, c->nlen) == 0;
}

/* A walk over the central directory, read in windows of CD_WINDOW bytes
 * (a window holds the longest record there can be, so always the one
 * being walked): a mount's only transient memory stays small and in
 * cache however large the directory (6.6 MB at 100,000 entries, each
 * page of it a page fault when fresh). */
#define CD_WINDOW (256u << 10)
_Static_assert(CD_WINDOW >= CEN_SIZE + 3 * 65535, "a window holds any record");

typedef struct cd_reader {
    zip_state *z;
    const zip_end *end;
    unsigned char *buf;   /* directory bytes [at, at + have) */
    size_t cap;           /* buf's room */
    uint64_t at, have;
    uint64_t n;           /* records walked */
} cd_reader;

/* An empty window of min(CD_WINDOW, the directory) bytes; false when out of memory. */
static bool cd_open(cd_reader *r, zip_state *z, const zip_end *end)
{
    *r = (cd_reader){z, end, NULL, 0, 0, 0, 0};
    r->cap = end->cd_size < CD_WINDOW ? (size_t)end->cd_size + 1 : CD_WINDOW;
    r->buf = lu__malloc(z->env, r->cap);
    return r->buf != NULL;
}

static void cd_close(cd_reader *r)
{
    lu__free(r->z->env, r->buf);
    r->buf = NULL;
}

/* *q gets directory bytes [pos, pos + need) (need <= cd_size - pos, and
 * no more than a record: the window's room), read into the window from
 * pos on when it does not hold them. LU_IO_ERROR when the read fails. */
static lu_status cd_window(cd_reader *r, uint64_t pos, size_t need, const unsigned char **q, lu_error *err)
{
    if (pos >= r->at && pos - r->at <= r->have && need <= r->have - (pos - r->at)) {
        *q = r->buf + (pos - r->at);
        return LU_OK;
    }
    uint64_t rest = r->end->cd_size - pos;
    size_t want = rest < r->cap ? (size_t)rest : r->cap;
    r->have = 0;
    if (!pread_full(r->z, r->buf, want, r->end->cd_start + pos))
        return lu__fail(err, LU_IO_ERROR, "'%s': cannot read the central directory", r->z->path);
    r->at = pos;
    r->have = want;
    *q = r->buf;
    return LU_OK;
}

/* The record of the walk at directory offset `pos`: LU_OK and *p, *len
 * (the record's bytes, valid until the next call), or *p NULL at the end
 * of the directory (a trailing digital-signature record allowed);
 * LU_FORMAT_ERROR when the bytes there are not a record that lies inside
 * the directory; cd_window's failures. */
static lu_status cd_next(cd_reader *r, uint64_t pos, const unsigned char **p, size_t *len, lu_error *err)
{
    uint64_t size = r->end->cd_size;
    const unsigned char *q;
    *p = NULL;
    if (pos >= size) return LU_OK;
    if (pos >= r->at && pos + CEN_SIZE <= r->at + r->have)   /* the usual record is in the window: no call */
        q = r->buf + (pos - r->at);
    else
        LU_TRY(cd_window(r, pos, size - pos < CEN_SIZE ? (size_t)(size - pos) : CEN_SIZE, &q, err));
    if (size - pos >= 6 && le(q, 4) == SIG_DIGSIG && size - pos - 6 == le(q + 4, 2)) return LU_OK;
    if (size - pos < CEN_SIZE || le(q, 4) != SIG_CEN)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': central directory: the bytes after entry %llu (offset %llu "
                        "of %llu) are not an entry record", r->z->path, (unsigned long long)r->n,
                        (unsigned long long)pos, (unsigned long long)size);
    uint64_t n = CEN_SIZE + le(q + 28, 2) + le(q + 30, 2) + le(q + 32, 2);
    if (n > size - pos)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': central directory: record %llu runs past its end", r->z->path,
                        (unsigned long long)r->n + 1);
    if (pos + n > r->at + r->have) LU_TRY(cd_window(r, pos, (size_t)n, &q, err));
    *p = q;
    *len = (size_t)n;
    r->n++;
    return LU_OK;
}

/* The overlap check when the central directory is not in file order (the
 * walk checked the records as they came while they were): every record
 * again, sorted by local-header offset; what the walk set is undone
 * first. Each record's entry is found by its locator (entries are added
 * in directory order; directories, and records after a failed add, are
 * not). */
static lu_status check_overlaps(zip_state *z, cd_reader *r, size_t n, const zip_end *end, lu_entries *tb,
                                lu_error *err)
{
    by_offset *o = lu__malloc(z->env, (n ? n : 1) * sizeof *o);
    if (!o) return lu__fail(err, LU_MEM_ERROR, "'%s': out of memory", z->path);
    size_t items = tb ? lu__entries_count(tb) : 0, next_item = 0;
    for (size_t j = 0; j < items; j++) lu__entries_item(tb, j)->locator &= ~(uint64_t)LOC_SLACK_MAX;
    lu_status st = LU_OK;
    uint64_t pos = 0;
    size_t i = 0;
    for (r->n = 0; i < n; i++) {
        const unsigned char *p;
        size_t len;
        st = cd_next(r, pos, &p, &len, err);   /* the walk passed them all: only a read can fail */
        if (st != LU_OK) {
            lu__free(z->env, o);
            return st;
        }
        if (!p) break;
        cen c;
        cen_fields(p, &c);
        c.cname = "";
        c.namebuf = NULL;
        cen_extra(z, &c, NULL);   /* passed at the walk */
        size_t entry = NO_ENTRY;
        if (next_item < items && lu__entries_item(tb, next_item)->locator >> LOC_SLACK_BITS == end->cd_start + pos)
            entry = next_item++;
        o[i] = (by_offset){c.local + end->prefix, pos, c.csize, (uint32_t)i, c.nlen, entry};
        pos += len;
    }
    n = i;
    qsort(o, n, sizeof *o, cmp_offset);
    for (size_t k = 0; k < n && st == LU_OK; k++)
        st = check_one(z, &o[k], k + 1 < n ? &o[k + 1] : NULL, end, tb, err);
    lu__free(z->env, o);
    return st;
}

/* Checks the record `c` (at directory offset `pos`) beyond its own fields
 * and adds its entry unless an earlier add failed (*add_failed, the
 * failure in *add_err); *entry gets the entry's position or NO_ENTRY. */
static lu_status cen_take(zip_state *z, const zip_end *end, cen *c, uint64_t pos, lu_entries *tb,
                          lu_status *add_failed, lu_error *add_err, size_t *entry, lu_error *err)
{
    *entry = NO_ENTRY;
    if (c->disk != end->disk && !local_matches(z, c->local + end->prefix, c)) {
        if (z->open_errno)
            return lu__fail(err, LU_IO_ERROR, "'%s': entry '%s': cannot read its local header: %s", z->path,
                            cen_name(c), strerror(z->open_errno));
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': split archive (disk %llu of %llu) is not supported: entry "
                        "'%s' starts on disk %llu", z->path, (unsigned long long)end->disk + 1,
                        (unsigned long long)end->disk + 1, cen_name(c), (unsigned long long)c->disk + 1);
    }
    if (c->local >= end->cd_off)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': local header offset %llu is not before the "
                        "central directory (%llu)", z->path, cen_name(c), (unsigned long long)c->local,
                        (unsigned long long)end->cd_off);
    if (tb && *add_failed == LU_OK) {
        size_t before = lu__entries_count(tb);
        *add_failed = cen_add(z, c, (end->cd_start + pos) << LOC_SLACK_BITS, tb, add_err);
        if (lu__entries_count(tb) > before) *entry = before;
    }
    return LU_OK;
}

/* ---- layouts (zip_layout.h) ------------------------------------------ */

/* Room in z->lay for every record the directory can hold (one per 46
 * bytes) and their names (fewer bytes than the directory), so lay_add
 * never allocates. */
static bool lay_reserve(zip_state *z, const zip_end *end)
{
    size_t most = (size_t)(end->cd_size / CEN_SIZE);
    z->lay->rec = lu__malloc(z->env, (most ? most : 1) * sizeof *z->lay->rec);
    z->lay->names = lu__malloc(z->env, end->cd_size ? (size_t)end->cd_size : 1);
    z->lay->cd_start = end->cd_start;
    return z->lay->rec && z->lay->names;
}

/* Keeps the record at `p` (parsed into `c`, zip64 fields applied). */
static void lay_add(lu_zip_layout *lay, const unsigned char *p, const cen *c, const zip_end *end)
{
    size_t used = lay->count ? lay->rec[lay->count - 1].name + lay->rec[lay->count - 1].nlen : 0;
    memcpy(lay->names + used, c->name, c->nlen);
    lay->rec[lay->count++] = (lu_zip_record){
        .local = c->local + end->prefix, .csize = c->csize, .usize = c->usize, .crc = c->crc,
        .version = (uint16_t)le(p + 6, 2), .flags = (uint16_t)c->flags, .method = (uint16_t)c->method,
        .time = (uint16_t)le(p + 12, 2), .date = (uint16_t)le(p + 14, 2), .name = (uint32_t)used,
        .nlen = c->nlen};
}

/* Reads the central directory `end` describes into `tb`: one pass over
 * its records (cd_reader, a window at a time): each record checked, and
 * added unless an earlier record failed cen_add's checks; while the
 * records come in file order (what every writer we know of does), each
 * entry is checked against the next one for overlaps as the walk goes
 * (check_one, which completes each entry's locator), otherwise
 * check_overlaps does it after. The walk goes on to the end after a
 * failure, checking only that the records lie inside the directory, and
 * reports in this order: a directory that is not a sequence of records,
 * a count that disagrees with the end record, the first record that
 * failed its checks, an overlap, a failure of cen_add's checks; so a
 * volume with several faults reports the same one whichever came first. */
static lu_status read_directory(zip_state *z, const zip_end *end, lu_entries *tb, lu_error *err)
{
    lu_status st = LU_OK, record = LU_OK, add_failed = LU_OK, overlap = LU_OK;
    lu_error record_err, add_err, overlap_err;
    cd_reader r;
    char namebuf[CEN_NAMEBUF];   /* on the stack: a mount allocates nothing it does not keep but the window */
    bool in_order = true;   /* the records so far are in file order */
    /* the record before and this one, in turn in two slots: a struct
     * copy per record stalled on the stores that had just written it */
    by_offset pair[2] = {{0}}, *prev = &pair[0];
    if (!cd_open(&r, z, end)) {
        st = lu__fail(err, LU_MEM_ERROR, "'%s': out of memory", z->path);
        goto cleanup;
    }
    /* room for the entries the end record declares (at most what fits) */
    uint64_t declared = end->count < end->cd_size / CEN_SIZE ? end->count : end->cd_size / CEN_SIZE;
    if (tb) lu__entries_reserve(tb, (size_t)declared, (size_t)(end->cd_size - declared * CEN_SIZE));
    if (z->lay && !lay_reserve(z, end)) {
        st = lu__fail(err, LU_MEM_ERROR, "'%s': out of memory", z->path);
        goto cleanup;
    }
    uint64_t pos = 0;
    for (;;) {
        const unsigned char *p;
        size_t len;
        st = cd_next(&r, pos, &p, &len, err);
        if (st != LU_OK) goto cleanup;
        if (!p) break;
        if (r.n > UINT32_MAX) {
            st = lu__fail(err, LU_UNSAFE_ARCHIVE, "'%s': volume has too many entries", z->path);
            goto cleanup;
        }
        if (record == LU_OK) {
            cen c;
            size_t entry;
            lu_status s = cen_parse(z, p, &c, namebuf, &record_err);
            if (s == LU_OK) s = cen_take(z, end, &c, pos, tb, &add_failed, &add_err, &entry, &record_err);
            if (s != LU_OK) record = s;
            else {
                if (z->lay) lay_add(z->lay, p, &c, end);
                by_offset *here = prev == &pair[0] ? &pair[1] : &pair[0];
                *here = (by_offset){c.local + end->prefix, pos, c.csize, (uint32_t)(r.n - 1), c.nlen, entry};
                if (r.n > 1 && in_order) {
                    if (here->local <= prev->local) in_order = false;
                    else if (overlap == LU_OK) overlap = check_one(z, prev, here, end, tb, &overlap_err);
                }
                prev = here;
            }
        }
        pos += len;
    }
    if (!count_agrees(end, r.n)) {
        st = lu__fail(err, LU_FORMAT_ERROR, "'%s': the end record declares %llu entries but the central "
                      "directory holds %llu", z->path, (unsigned long long)end->count, (unsigned long long)r.n);
        goto cleanup;
    }
    if (record != LU_OK) {
        st = record;
        if (err) *err = record_err;
        goto cleanup;
    }
    if (!in_order) st = check_overlaps(z, &r, (size_t)r.n, end, tb, err);
    else if (overlap != LU_OK) {
        st = overlap;
        if (err) *err = overlap_err;
    } else if (r.n > 0) st = check_one(z, prev, NULL, end, tb, err);
    if (st == LU_OK && add_failed != LU_OK) {
        st = add_failed;
        if (err) *err = add_err;
    }
cleanup:
    cd_close(&r);
    return st;
}

/* ---- entry data ----------------------------------------------------- */

/* A read of entry data that came up short: an I/O error (pread_full set
 * errno) is LU_IO_ERROR, since the volume may read at the next attempt;
 * the file ending early is LU_FORMAT_ERROR. */
static lu_status short_read(const zip_state *z, const char *name, lu_error *err)
{
    if (errno)
        return lu__fail(err, LU_IO_ERROR, "'%s': entry '%s': cannot read its data: %s", z->path, name, strerror(errno));
    return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': data ends early", z->path, name);
}

static lu_status size_mismatch(zip_state *z, const char *name, lu_error *err)
{
    return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': compressed data does not match the declared size",
                    z->path, name);
}

/* Inflates a whole deflated entry with libdeflate: the compressed bytes in
 * one read, one call that must end the deflate stream at exactly e->size
 * bytes (bytes after the stream's end are ignored, as other readers do). */
static lu_status inflate_whole(zip_state *z, const char *name, uint64_t off, uint64_t csize, const lu_entry *e,
                               void *buf, lu_error *err)
{
    unsigned char *in = lu__malloc(z->env, csize ? (size_t)csize : 1);
    struct libdeflate_decompressor *d = atomic_exchange_explicit(&z->inflater, NULL, memory_order_acquire);
    if (!d) d = libdeflate_alloc_decompressor();
    lu_status st = LU_OK;
    if (!in || !d) {
        st = lu__fail(err, LU_MEM_ERROR, "'%s': entry '%s': out of memory", z->path, name);
        goto cleanup;
    }
    if (!pread_full(z, in, (size_t)csize, off)) {
        st = short_read(z, name, err);
        goto cleanup;
    }
    size_t used = 0, produced = 0;
    enum libdeflate_result r = libdeflate_deflate_decompress_ex(d, in, (size_t)csize, buf, (size_t)e->size, &used, &produced);
    if (r == LIBDEFLATE_BAD_DATA)
        st = lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': corrupt compressed data", z->path, name);
    else if (r != LIBDEFLATE_SUCCESS || produced != e->size)
        st = size_mismatch(z, name, err);
cleanup:
    if (d) {   /* kept for the next read, unless another reader kept one already */
        struct libdeflate_decompressor *none = NULL;
        if (!atomic_compare_exchange_strong_explicit(&z->inflater, &none, d, memory_order_release,
                                                     memory_order_relaxed))
            libdeflate_free_decompressor(d);
    }
    lu__free(z->env, in);
    return st;
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
        if (!pread_full(z, in, n, off + done_in)) return short_read(z, name, err);
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
    if (!pread_full(z, in, (size_t)csize, off)) {
        st = short_read(z, name, err);
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
        if (!pread_full(z, buf, (size_t)csize, off)) return short_read(z, name, err);
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
    int zr = Z_OK, io_errno = 0;
    zs.next_out = buf;
    uint64_t out_left = e->size;
    while (zr == Z_OK) {
        if (zs.avail_in == 0 && done_in < csize) {
            size_t n = csize - done_in < sizeof in ? (size_t)(csize - done_in) : sizeof in;
            if (!pread_full(z, in, n, off + done_in)) {
                io_errno = errno;
                break;
            }
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
    bool ok = zr == Z_STREAM_END && zs.total_out == e->size;   /* bytes after the stream's end are ignored */
    inflateEnd(&zs);
    if (!ok && io_errno) return lu__fail(err, LU_IO_ERROR, "'%s': entry '%s': cannot read its data: %s", z->path,
                                         name, strerror(io_errno));
    return ok ? LU_OK : size_mismatch(z, name, err);
}

/* ---- backend -------------------------------------------------------- */

static void zip_close(const lu_env *env, void *state)
{
    zip_state *z = state;
    if (!z) return;
    if (z->fd >= 0) close(z->fd);
    libdeflate_free_decompressor(atomic_load_explicit(&z->inflater, memory_order_relaxed));
    lu__free(env, atomic_load_explicit(&z->known, memory_order_relaxed));
    lu__free(env, z->path);
    lu__free(env, z);
}

static lu_status zip_open(const lu_env *env, const char *path, lu_entries *tb, void **state,
                          int *claimed, lu_error *err)
{
    lu_status st = LU_OK;
    *claimed = 0;
    zip_state *z = lu__calloc(env, 1, sizeof *z);
    if (!z) return lu__fail(err, LU_MEM_ERROR, "'%s': out of memory", path);
    z->env = env;
    z->fd = -1;
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
    if (z->file_size >> (64 - LOC_SLACK_BITS)) {   /* 256 TiB: offsets must fit a locator */
        st = lu__fail(err, LU_FORMAT_ERROR, "'%s': a zip of %llu bytes is too large", path,
                      (unsigned long long)z->file_size);
        goto cleanup;
    }
    unsigned char magic[4] = {0};
    bool pk = pread_full(z, magic, 4, 0) && magic[0] == 'P' && magic[1] == 'K';
    zip_end end;
    st = find_end(z, &end, err);
    if (st == LU_NOT_FOUND) {
        if (pk && le(magic, 4) == SIG_SPLIT)
            st = lu__fail(err, LU_FORMAT_ERROR, "'%s': a part of a split archive (it begins with the split "
                          "marker and has no end record), which is not supported", path);
        else if (pk)
            st = lu__fail(err, LU_FORMAT_ERROR, "'%s': corrupt or truncated zip (no end of central directory "
                          "record in its last %llu bytes)", path,
                          (unsigned long long)(z->file_size < EOCD_WINDOW ? z->file_size : EOCD_WINDOW));
        else
            st = lu__fail(err, LU_SCHEME_MISMATCH, "'%s' is not a zip file", path);
        *claimed = pk;
        goto cleanup;
    }
    *claimed = 1;   /* an end-record signature, or read errors on a claimed file */
    if (st != LU_OK) goto cleanup;
    z->prefix = end.prefix;
    st = read_directory(z, &end, tb, err);
    if (st != LU_OK) goto cleanup;
    z->files = lu__entries_count(tb);
    *state = z;
    z = NULL;
cleanup:
    zip_close(env, z);
    return st;
}

/* The entry's central-directory record, re-read at its first read (what
 * later reads need is then in `known`), zip64 fields applied. */
static lu_status read_cen(zip_state *z, const lu_entry *e, const char *name, cen *c, lu_error *err)
{
    uint64_t at = e->locator >> LOC_SLACK_BITS;
    unsigned char h[CEN_SIZE];
    bool got = pread_full(z, h, sizeof h, at);
    if (!got || le(h, 4) != SIG_CEN)
        return !got && errno ? lu__fail(err, LU_IO_ERROR, "'%s': entry '%s': cannot read its central-directory record: %s",
                                z->path, name, strerror(errno))
                     : lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': bad central-directory record", z->path, name);
    cen_fields(h, c);
    c->cname = name;
    c->namebuf = NULL;
    c->extra = NULL;
    lu_status st = LU_OK;
    if (c->usize == 0xffffffffu || c->csize == 0xffffffffu || c->local == 0xffffffffu || c->disk == 0xffffu) {
        unsigned char *x = lu__malloc(z->env, c->xlen ? c->xlen : 1);
        if (!x) return lu__fail(err, LU_MEM_ERROR, "'%s': entry '%s': out of memory", z->path, name);
        c->extra = x;
        if (pread_full(z, x, c->xlen, at + CEN_SIZE + c->nlen)) st = cen_extra(z, c, err);
        else if (errno) st = lu__fail(err, LU_IO_ERROR, "'%s': entry '%s': cannot read its central-directory "
                                      "record: %s", z->path, name, strerror(errno));
        else st = lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': bad central-directory record", z->path, name);
        lu__free(z->env, x);
    }
    if (st == LU_OK && c->usize != e->size)
        st = lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': central-directory record changed", z->path, name);
    return st;
}

/* Entry e's slot in `known`, allocating the array at the volume's first
 * read; NULL when there is no memory for it (reads then take the long way,
 * which is as safe). */
static zip_known *known_slot(zip_state *z, const lu_entries *tb, const lu_entry *e)
{
    size_t i = lu__entry_index(tb, e);
    if (i >= z->files) return NULL;
    zip_known *all = atomic_load_explicit(&z->known, memory_order_acquire);
    if (!all) {
        zip_known *fresh = lu__calloc(z->env, z->files, sizeof *fresh);   /* all-zero: every entry unknown */
        if (!fresh) return NULL;
        if (atomic_compare_exchange_strong_explicit(&z->known, &all, fresh, memory_order_acq_rel,
                                                    memory_order_acquire))
            all = fresh;
        else
            lu__free(z->env, fresh);   /* another reader's array won */
    }
    return &all[i];
}

static lu_status check_crc(const zip_state *z, const char *name, const void *buf, uint64_t size, uint32_t crc,
                           lu_error *err)
{
    if ((uint32_t)libdeflate_crc32(0, buf, (size_t)size) != crc)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': CRC mismatch", z->path, name);
    return LU_OK;
}

/* The offset of entry e's data: its local header read and checked (the
 * signature, the name agreeing with the central record's, the local extra
 * field within the room the overlap check left). LU_IO_ERROR when the read
 * failed, LU_FORMAT_ERROR naming what is wrong, LU_MEM_ERROR. */
static lu_status locate_data(zip_state *z, const lu_entry *e, const char *name, const cen *c, uint64_t *data,
                             lu_error *err)
{
    uint64_t local = c->local + z->prefix;
    size_t nlen = strlen(name);
    unsigned char small[LOC_SIZE + 256], *h = nlen <= 256 ? small : lu__malloc(z->env, LOC_SIZE + nlen);
    if (!h) return lu__fail(err, LU_MEM_ERROR, "'%s': entry '%s': out of memory", z->path, name);
    lu_status st = LU_OK;
    bool got = pread_full(z, h, LOC_SIZE + nlen, local);
    if (!got || le(h, 4) != SIG_LOC) {
        st = !got && errno ? lu__fail(err, LU_IO_ERROR, "'%s': entry '%s': cannot read its local header: %s", z->path, name,
                              strerror(errno))
                   : lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': bad local header", z->path, name);
    } else if (le(h + 26, 2) != nlen || memcmp(h + LOC_SIZE, name, nlen) != 0) {
        size_t ln = (size_t)le(h + 26, 2) < nlen ? (size_t)le(h + 26, 2) : nlen;
        st = lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': the local header names '%.*s' instead", z->path, name,
                      (int)ln, (const char *)h + LOC_SIZE);
    } else if (le(h + 28, 2) > (e->locator & LOC_SLACK_MAX)) {
        st = lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': its data overlaps the next entry or the central "
                      "directory (a local extra field of %u bytes)", z->path, name, (unsigned)le(h + 28, 2));
    }
    *data = st == LU_OK ? local + LOC_SIZE + nlen + le(h + 28, 2) : 0;
    if (h != small) lu__free(z->env, h);
    return st;
}

/* The first read of an entry: its central record, its local header (the
 * signature, the name agreeing with the central record's, the local extra
 * field within the room the overlap check left), then the data. Returns the
 * data offset in *data for `known`. */
static lu_status read_first(zip_state *z, const char *name, const lu_entry *e, void *buf, cen *c, uint64_t *data,
                            lu_error *err)
{
    LU_TRY(read_cen(z, e, name, c, err));
    LU_TRY(locate_data(z, e, name, c, data, err));
    LU_TRY(read_data(z, name, (int)c->method, *data, c->csize, e, buf, err));
    return check_crc(z, name, buf, e->size, c->crc, err);
}

/* One pread when the entry was read before (its data offset, method,
 * compressed size and CRC in `known`), three the first time. The CRC is
 * checked at every read. */
static lu_status zip_read(void *state, const lu_entries *tb, const lu_entry *e, void *buf,
                          lu_error *err)
{
    zip_state *z = state;
    const char *name = lu__entry_path(tb, e) + 1;
    zip_known *k = known_slot(z, tb, e);
    uint64_t where = k ? atomic_load_explicit(&k->where, memory_order_acquire) : 0;
    if (where) {
        uint64_t sums = atomic_load_explicit(&k->sums, memory_order_relaxed);
        LU_TRY(read_data(z, name, (int)(where >> KNOWN_METHOD_SHIFT), where & KNOWN_OFFSET_MASK, sums >> 32, e, buf,
                         err));
        return check_crc(z, name, buf, e->size, (uint32_t)sums, err);
    }
    cen c;
    uint64_t data = 0;
    LU_TRY(read_first(z, name, e, buf, &c, &data, err));
    if (k && c.csize <= UINT32_MAX && data <= KNOWN_OFFSET_MASK) {
        atomic_store_explicit(&k->sums, c.csize << 32 | c.crc, memory_order_relaxed);
        atomic_store_explicit(&k->where, data | (uint64_t)c.method << KNOWN_METHOD_SHIFT, memory_order_release);
    }
    return LU_OK;
}

/* ---- streams (interface version 2) -----------------------------------
 *
 * An entry read in pieces (lu_open, engine/core/stream.c) with memory that
 * does not grow with it: stored data by pread at the data offset; deflated
 * data by zlib's streaming inflate (libdeflate decodes whole buffers only)
 * and zstd by ZSTD_decompressStream, each from a 64 KiB input buffer, all
 * through the volume's allocator. The local header is checked as zip_read
 * checks it. A seek in a stored entry is immediate; in a compressed one it
 * decodes forward, from the start for a backward seek. The CRC-32 covers the
 * bytes from 0 in order (`chain`): reaching the end with an unbroken chain
 * checks it, and for compressed data that the stream ends exactly at the
 * declared size; the read (or seek) that gets there fails otherwise. A
 * stored entry's chain stops at a forward seek and goes on when a later
 * read covers the byte where it stopped.
 */

#define ZS_IN (64u << 10)

typedef struct zip_stream {
    zip_state *z;
    const char *name;       /* the entry's stored name (the table outlives the stream) */
    int method;
    uint64_t data, csize, size, crc_want;
    uint64_t pos;           /* uncompressed position */
    uint64_t chain;         /* bytes from 0 covered by `crc` (== pos while in order) */
    uint32_t crc;
    bool checked;           /* the end checks ran */
    uint64_t in_done;       /* compressed bytes fed from the file */
    unsigned char *in;      /* ZS_IN bytes (compressed methods) */
    z_stream zs;
    bool zs_live, zs_end;
    ZSTD_DCtx *zd;
    ZSTD_inBuffer zin;
    size_t zr;              /* last ZSTD_decompressStream result (0: frame complete) */
} zip_stream;

static voidpf zs_alloc(voidpf opaque, uInt items, uInt size)
{
    return lu__calloc(opaque, items, size);
}

static void zs_free(voidpf opaque, voidpf p)
{
    lu__free(opaque, p);
}


static void zip_stream_close(void *stream)
{
    zip_stream *s = stream;
    if (!s) return;
    const lu_env *env = s->z->env;
    if (s->zs_live) inflateEnd(&s->zs);
    ZSTD_freeDCtx(s->zd);
    lu__free(env, s->in);
    lu__free(env, s);
}

/* Back to position 0 with a fresh decoder. */
static lu_status stream_rewind(zip_stream *s, lu_error *err)
{
    zip_state *z = s->z;
    s->pos = s->chain = 0;
    s->crc = 0;
    s->checked = false;
    s->in_done = 0;
    s->zs_end = false;
    s->zr = 1;
    if (s->method == Z_DEFLATED) {
        if (s->zs_live) inflateEnd(&s->zs);
        s->zs_live = false;
        memset(&s->zs, 0, sizeof s->zs);
        s->zs.zalloc = zs_alloc;
        s->zs.zfree = zs_free;
        s->zs.opaque = (voidpf)z->env;
        int r = inflateInit2(&s->zs, -MAX_WBITS);
        if (r != Z_OK)
            return lu__fail(err, r == Z_MEM_ERROR ? LU_MEM_ERROR : LU_FORMAT_ERROR, "'%s': entry '%s': inflate "
                            "failed to start", z->path, s->name);
        s->zs_live = true;
    } else if (s->method == ZIP_METHOD_ZSTD) {
        s->zin = (ZSTD_inBuffer){s->in, 0, 0};
        if (ZSTD_isError(ZSTD_DCtx_reset(s->zd, ZSTD_reset_session_only)))
            return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': cannot reset zstd", z->path, s->name);
    }
    return LU_OK;
}

static lu_status zip_stream_open(const lu_env *env, void *state, const lu_entries *tb, const lu_entry *e,
                                 void **stream, lu_error *err)
{
    zip_state *z = state;
    *stream = NULL;
    const char *name = lu__entry_path(tb, e) + 1;
    cen c;
    LU_TRY(read_cen(z, e, name, &c, err));
    uint64_t data;
    LU_TRY(locate_data(z, e, name, &c, &data, err));
    if (c.method == 0 && c.csize != e->size)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': stored sizes differ", z->path, name);
    if (!method_supported(c.method))
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s' uses compression method %s (%u), which is not "
                        "supported", z->path, name, method_name((int)c.method), c.method);
    zip_stream *s = lu__calloc(env, 1, sizeof *s);
    if (!s) return lu__fail(err, LU_MEM_ERROR, "'%s': entry '%s': out of memory", z->path, name);
    s->z = z;
    s->name = name;
    s->method = (int)c.method;
    s->data = data;
    s->csize = c.csize;
    s->size = e->size;
    s->crc_want = c.crc;
    lu_status st = LU_OK;
    if (s->method != 0) {
        s->in = lu__malloc(env, ZS_IN);
        if (!s->in) st = lu__fail(err, LU_MEM_ERROR, "'%s': entry '%s': out of memory", z->path, name);
    }
    if (st == LU_OK && s->method == ZIP_METHOD_ZSTD) {
        ZSTD_customMem mem = {zstd_alloc, zstd_free, (void *)env};
        s->zd = ZSTD_createDCtx_advanced(mem);
        if (!s->zd || ZSTD_isError(ZSTD_DCtx_setParameter(s->zd, ZSTD_d_windowLogMax, 23)))
            st = lu__fail(err, LU_MEM_ERROR, "'%s': entry '%s': out of memory", z->path, name);
    }
    if (st == LU_OK) st = stream_rewind(s, err);
    if (st != LU_OK) {
        zip_stream_close(s);
        return st;
    }
    *stream = s;
    return LU_OK;
}

/* A pread that failed with errno `e` (0: the file ended). */
static lu_status stream_short(const zip_stream *s, int e, lu_error *err)
{
    if (e) return lu__fail(err, LU_IO_ERROR, "'%s': entry '%s': read failed: %s", s->z->path, s->name, strerror(e));
    return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': data ends early", s->z->path, s->name);
}

/* Refills the input buffer from the file when it is empty; *n gets how
 * many bytes are now there (0: the compressed data is all fed). */
static lu_status stream_feed(zip_stream *s, size_t *n, lu_error *err)
{
    *n = 0;
    if (s->in_done >= s->csize) return LU_OK;
    size_t want = s->csize - s->in_done < ZS_IN ? (size_t)(s->csize - s->in_done) : ZS_IN;
    if (!pread_full(s->z, s->in, want, s->data + s->in_done)) return stream_short(s, errno, err);
    s->in_done += want;
    *n = want;
    return LU_OK;
}

/* Gives inflate the next input from the file; the compressed data ending
 * before the stream did is a size mismatch. */
static lu_status stream_refill_z(zip_stream *s, lu_error *err)
{
    size_t n;
    LU_TRY(stream_feed(s, &n, err));
    if (n == 0) return size_mismatch(s->z, s->name, err);
    s->zs.next_in = s->in;
    s->zs.avail_in = (uInt)n;
    return LU_OK;
}

/* Decodes up to `cap` bytes (cap > 0, pos < size) into buf. */
static lu_status stream_inflate(zip_stream *s, unsigned char *buf, size_t cap, size_t *got, lu_error *err)
{
    s->zs.next_out = buf;
    s->zs.avail_out = cap > (1u << 30) ? (1u << 30) : (uInt)cap;
    while (s->zs.avail_out > 0) {
        if (s->zs_end) return size_mismatch(s->z, s->name, err);   /* ended before the declared size */
        if (s->zs.avail_in == 0) LU_TRY(stream_refill_z(s, err));
        int r = inflate(&s->zs, Z_NO_FLUSH);
        if (r == Z_STREAM_END) s->zs_end = true;
        else if (r == Z_MEM_ERROR) return lu__fail(err, LU_MEM_ERROR, "'%s': entry '%s': out of memory", s->z->path, s->name);
        else if (r != Z_OK && r != Z_BUF_ERROR)
            return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': corrupt compressed data", s->z->path, s->name);
        if (s->zs.next_out != buf) break;   /* some output: enough for one read */
    }
    *got = (size_t)(s->zs.next_out - buf);
    return LU_OK;
}

static lu_status stream_unzstd(zip_stream *s, unsigned char *buf, size_t cap, size_t *got, lu_error *err)
{
    ZSTD_outBuffer out = {buf, cap, 0};
    while (out.pos == 0) {
        if (s->zin.pos == s->zin.size) {
            size_t n;
            LU_TRY(stream_feed(s, &n, err));
            if (n == 0) return size_mismatch(s->z, s->name, err);
            s->zin = (ZSTD_inBuffer){s->in, n, 0};
        }
        s->zr = ZSTD_decompressStream(s->zd, &out, &s->zin);
        if (ZSTD_isError(s->zr)) return zstd_fail(s->z, s->name, s->zr, err);
    }
    *got = out.pos;
    return LU_OK;
}

/* At the end of a compressed entry: the data must end there (no more
 * output; deflate: the stream's end, bytes after it ignored as zip_read
 * does; zstd: complete frames up to exactly csize). */
static lu_status stream_end_check(zip_stream *s, lu_error *err)
{
    unsigned char spare;
    if (s->method == Z_DEFLATED) {
        while (!s->zs_end) {
            if (s->zs.avail_in == 0) LU_TRY(stream_refill_z(s, err));
            s->zs.next_out = &spare;
            s->zs.avail_out = 1;
            int r = inflate(&s->zs, Z_NO_FLUSH);
            if (s->zs.avail_out == 0) return size_mismatch(s->z, s->name, err);
            if (r == Z_STREAM_END) s->zs_end = true;
            else if (r != Z_OK && r != Z_BUF_ERROR)
                return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': corrupt compressed data", s->z->path, s->name);
        }
    } else if (s->method == ZIP_METHOD_ZSTD) {
        for (;;) {
            if (s->zin.pos == s->zin.size) {
                size_t n;
                LU_TRY(stream_feed(s, &n, err));
                if (n == 0) break;
                s->zin = (ZSTD_inBuffer){s->in, n, 0};
            }
            ZSTD_outBuffer extra = {&spare, 1, 0};
            s->zr = ZSTD_decompressStream(s->zd, &extra, &s->zin);
            if (ZSTD_isError(s->zr)) return zstd_fail(s->z, s->name, s->zr, err);
            if (extra.pos) return size_mismatch(s->z, s->name, err);
        }
        if (s->zr != 0) return size_mismatch(s->z, s->name, err);
    }
    return LU_OK;
}

/* Reads at most `cap` bytes at s->pos, extending the CRC chain; the read
 * that reaches the end with the chain whole runs the end checks. */
static lu_status stream_step(zip_stream *s, unsigned char *buf, size_t cap, size_t *got, lu_error *err)
{
    *got = 0;
    uint64_t left = s->size - s->pos;
    size_t want = left < cap ? (size_t)left : cap;
    if (want > 0) {
        if (s->method == 0) {
            if (!pread_full(s->z, buf, want, s->data + s->pos)) return stream_short(s, errno, err);
            *got = want;
        } else if (s->method == Z_DEFLATED) {
            LU_TRY(stream_inflate(s, buf, want, got, err));
        } else {
            LU_TRY(stream_unzstd(s, buf, want, got, err));
        }
        if (s->pos <= s->chain && s->chain < s->pos + *got) {   /* the bytes after the chain's end */
            size_t skip = (size_t)(s->chain - s->pos);
            s->crc = (uint32_t)libdeflate_crc32(s->crc, buf + skip, *got - skip);
            s->chain = s->pos + *got;
        }
        s->pos += *got;
    }
    if (s->pos == s->size && s->chain == s->size && !s->checked) {
        s->checked = true;
        LU_TRY(stream_end_check(s, err));
        if (s->crc != s->crc_want) return lu__fail(err, LU_FORMAT_ERROR, "'%s': entry '%s': CRC mismatch", s->z->path, s->name);
    }
    return LU_OK;
}

static lu_status zip_stream_read(void *stream, void *buf, size_t cap, size_t *got, lu_error *err)
{
    return stream_step(stream, buf, cap, got, err);
}

static lu_status zip_stream_seek(void *stream, uint64_t offset, lu_error *err)
{
    zip_stream *s = stream;
    size_t got;
    if (s->method == 0) {
        s->pos = offset;   /* stored: at once (the CRC chain goes on only from where it stopped) */
    } else {
        if (offset < s->pos) LU_TRY(stream_rewind(s, err));
        unsigned char skip[16 << 10];
        while (s->pos < offset) {
            uint64_t left = offset - s->pos;
            LU_TRY(stream_step(s, skip, left < sizeof skip ? (size_t)left : sizeof skip, &got, err));
            if (got == 0) return size_mismatch(s->z, s->name, err);
        }
    }
    /* a seek that reaches the end with every byte passed in order checks them */
    return offset == s->size ? stream_step(s, NULL, 0, &got, err) : LU_OK;
}

const lu_archive_ops lu__archive_zip = {
    LU_ARCHIVE_INTERFACE_VERSION, "zip", zip_open, zip_read, zip_close,
    zip_stream_open, zip_stream_read, zip_stream_seek, zip_stream_close,
};

/* ---- layouts: the entry points (zip_layout.h) ------------------------- */

static int cmp_record(const void *a, const void *b)
{
    const lu_zip_record *x = a, *y = b;
    return x->local < y->local ? -1 : x->local > y->local;
}

/* Walks the directory of the volume `z` describes into a new layout:
 * read_directory's checks, no entry table; then the records in file order
 * with their spans (read_directory refused overlaps, so each ends at or
 * before the next local header). */
static lu_status layout_scan(zip_state *z, lu_zip_layout **out, lu_error *err)
{
    *out = NULL;
    lu_zip_layout *lay = lu__calloc(z->env, 1, sizeof *lay);
    if (!lay) return lu__fail(err, LU_MEM_ERROR, "'%s': out of memory", z->path);
    lay->size = z->file_size;
    zip_end end;
    lu_status st = find_end(z, &end, err);
    if (st == LU_NOT_FOUND)
        st = lu__fail(err, LU_FORMAT_ERROR, "'%s' is not a zip file (no end of central directory record in its "
                      "last %llu bytes)", z->path,
                      (unsigned long long)(z->file_size < EOCD_WINDOW ? z->file_size : EOCD_WINDOW));
    if (st == LU_OK) {
        z->lay = lay;
        st = read_directory(z, &end, NULL, err);
        z->lay = NULL;
    }
    if (st != LU_OK) {
        lu__zip_layout_free(z->env, lay);
        return st;
    }
    qsort(lay->rec, lay->count, sizeof *lay->rec, cmp_record);
    for (size_t i = 0; i < lay->count; i++)
        lay->rec[i].span = (i + 1 < lay->count ? lay->rec[i + 1].local : lay->cd_start) - lay->rec[i].local;
    *out = lay;
    return LU_OK;
}

lu_status lu__zip_layout_file(const lu_env *env, const char *path, lu_zip_layout **out, lu_error *err)
{
    *out = NULL;
    zip_state z = {.env = env, .path = (char *)path};
    z.fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (z.fd < 0 || fstat(z.fd, &sb) != 0) {
        int e = errno;
        if (z.fd >= 0) close(z.fd);
        return lu__fail(err, lu__errno_status(e), "cannot open zip '%s': %s", path, strerror(e));
    }
    lu_status st = LU_OK;
    if (!S_ISREG(sb.st_mode)) st = lu__fail(err, LU_FORMAT_ERROR, "'%s' is not a regular file, so not a zip", path);
    z.file_size = (uint64_t)sb.st_size;
    if (st == LU_OK) st = layout_scan(&z, out, err);
    close(z.fd);
    return st;
}

lu_status lu__zip_layout_mem(const lu_env *env, const char *name, const void *tail, size_t len, uint64_t size,
                             lu_zip_layout **out, uint64_t *need_from, lu_error *err)
{
    *out = NULL;
    *need_from = UINT64_MAX;
    if (len > size)
        return lu__fail(err, LU_FORMAT_ERROR, "'%s': %zu bytes of its end given for a file of %llu", name, len,
                        (unsigned long long)size);
    zip_state z = {.env = env, .fd = -1, .path = (char *)name, .file_size = size, .win = tail,
                   .win_from = size - len, .need = need_from};
    if (!tail) z.win = (const unsigned char *)"";   /* len 0: still a window */
    lu_status st = layout_scan(&z, out, err);
    if (st == LU_OK) *need_from = UINT64_MAX;
    else if (*need_from != UINT64_MAX) st = LU_IO_ERROR;   /* whatever failed, it had not all it needed */
    return st;
}

void lu__zip_layout_free(const lu_env *env, lu_zip_layout *lay)
{
    if (!lay) return;
    lu__free(env, lay->rec);
    lu__free(env, lay->names);
    lu__free(env, lay);
}
