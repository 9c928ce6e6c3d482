/* zip_layout.h -- where each entry of a zip lies, byte for byte: what the
 * zip backend (zip.c) offers beyond the archive interface, for the delta
 * downloader (engine/net/delta.c), which copies the unchanged entries of an
 * old volume and fetches only the changed ones of a new one.
 *
 * A layout is read from a file on disk, or from the last bytes of a file
 * held in memory (the end of a volume fetched with a Range request): the
 * same parser as a mount (zip.c's end-record search and central-directory
 * walk, with its structural checks: overlapping entries, records that run
 * past the directory, wrong counts are refused), but no entry table is
 * built, so names are not judged (the volume is mounted, and judged, once
 * it is whole).
 */
#ifndef LU_ZIP_LAYOUT_H
#define LU_ZIP_LAYOUT_H

#include "archive.h"

/* One central-directory record (a file or a directory entry), zip64
 * fields applied: what must agree for two volumes to hold the same bytes
 * for an entry. */
typedef struct lu_zip_record {
    uint64_t local;    /* the file offset of its local header (bytes before the archive included) */
    uint64_t span;     /* bytes from there to the next local header, or to the central directory */
    uint64_t csize, usize;
    uint32_t crc;
    uint16_t version;  /* version needed to extract */
    uint16_t flags, method, time, date;
    uint32_t name;     /* its name: `nlen` bytes at the layout's names + name (not NUL-terminated) */
    uint32_t nlen;
} lu_zip_record;

typedef struct lu_zip_layout {
    size_t count;          /* records, in file order (by local-header offset) */
    lu_zip_record *rec;
    char *names;
    uint64_t size;         /* the file's size */
    uint64_t cd_start;     /* where the central directory starts: every record's span ends at or before it */
} lu_zip_layout;

/* Reads the layout of the zip at `path`. Returns LU_OK and *out (free it
 * with lu__zip_layout_free), or LU_NOT_FOUND (no such file), LU_IO_ERROR,
 * LU_FORMAT_ERROR / LU_UNSAFE_ARCHIVE (the message says why, as a mount's
 * would), LU_MEM_ERROR; *out NULL on failure. Thread-safe. */
lu_status lu__zip_layout_file(const lu_env *env, const char *path, lu_zip_layout **out, lu_error *err);

/* Reads the layout of a zip of `size` bytes whose last `len` bytes are at
 * `tail` (the caller's; not kept). `name` names the file in messages.
 * Returns LU_OK and *out as lu__zip_layout_file does. When the end records
 * or the central directory lie (partly) before the bytes given, returns
 * LU_IO_ERROR with *need_from set to the lowest offset it needed: the
 * caller fetches the bytes from there and calls again (a directory larger
 * than the tail it fetched, an archive comment longer than it). Otherwise
 * *need_from is set to UINT64_MAX. Thread-safe. */
lu_status lu__zip_layout_mem(const lu_env *env, const char *name, const void *tail, size_t len, uint64_t size,
                             lu_zip_layout **out, uint64_t *need_from, lu_error *err);

/* Frees a layout. Accepts NULL. */
void lu__zip_layout_free(const lu_env *env, lu_zip_layout *lay);

#endif
