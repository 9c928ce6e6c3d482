/* archive.h -- all an archive backend sees of the library: the interface
 * every backend (one file each in archives/) implements, versioned so old
 * backends are recognised, and the few core calls a backend may make.
 *
 * A backend knows how to open one volume format, describe its entries into a
 * shared entry table (engine/core/entries.c does the name-safety checks,
 * and duplicate detection for all formats) and read one entry by the
 * locator it recorded. Lookups never reach a backend: the core's merged
 * index answers them. The environment and the entry table are opaque here;
 * engine/core/internal.h defines them and includes this header.
 */
#ifndef LU_ARCHIVE_H
#define LU_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "liveupdate/liveupdate.h"

#if defined(__GNUC__)
#define LU_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define LU_PRINTF(a, b)
#endif

/* 1: open, read, close. 2: the stream ops at the end of lu_archive_ops
 * (the core reads their fields only from a backend of version 2 or more,
 * so a version-1 backend, whose struct ends at `close`, still works: its
 * entries are streamed from a whole read, engine/core/stream.c). */
#define LU_ARCHIVE_INTERFACE_VERSION 2

/* The context's allocator, I/O hooks and limits (opaque to a backend). */
typedef struct lu_env lu_env;

/* One resource of a volume: what a backend records and later reads by. */
typedef struct lu_entry {
    uint64_t locator;   /* backend-defined (zip: central record offset, see zip.c) */
    uint64_t size;      /* uncompressed size */
    uint32_t name;      /* offset of the canonical path in the table's pool */
    uint32_t hash;      /* lu__hash_path of the stored name (the canonical path after its '/') */
} lu_entry;

/* The entry table a backend fills (opaque to a backend). */
typedef struct lu_entries lu_entries;

/* ---- what a backend may call (engine/core) ------------------------------ */

/* Memory through the context's allocator (alloc.c). */
void *lu__malloc(const lu_env *env, size_t n);
void *lu__calloc(const lu_env *env, size_t count, size_t n);
void lu__free(const lu_env *env, void *p);
char *lu__strdup(const lu_env *env, const char *s);

/* pread(2) through the context's I/O hooks (lu_io_hooks.pread; alloc.c):
 * the same return value and errno. Thread-safe as the hook is. */
long lu__pread(const lu_env *env, int fd, void *buf, size_t n, uint64_t offset);

/* Sets err (when non-NULL) and returns status (status.c). */
lu_status lu__fail(lu_error *err, lu_status status, const char *fmt, ...) LU_PRINTF(3, 4);
/* Maps an errno value to a status (ENOENT -> NOT_FOUND, ENOSPC -> NO_SPACE, ...). */
lu_status lu__errno_status(int e);
/* Prefixes err->message with "prefix: " (context for a callee's message). */
void lu__error_prefix(lu_error *err, const char *fmt, ...) LU_PRINTF(2, 3);

/* Early return on failure, the PhysicsFS way. */
#define LU_TRY(expr)                          \
    do {                                      \
        lu_status lu__s = (expr);             \
        if (lu__s != LU_OK) return lu__s;     \
    } while (0)

/* Adds an entry named as stored in the archive (no leading '/'); `len` bytes,
 * which may hold a NUL (rejected). Checks the name (docs/FORMATS.md) and the declared
 * size against the context's max_uncompressed. Returns LU_OK,
 * LU_UNSAFE_ARCHIVE (the message names the entry), LU_MEM_ERROR (entries.c). */
lu_status lu__entries_add(lu_entries *t, const char *stored, size_t len, uint64_t size,
                          uint64_t locator, lu_error *err);
/* Makes room for `count` entries whose stored names take `name_bytes` in
 * all, when the backend knows them before adding (an upper bound is fine:
 * the slack is given back). Only spares the table's growth; a failure to
 * allocate is reported by lu__entries_add. */
void lu__entries_reserve(lu_entries *t, size_t count, size_t name_bytes);
/* Checks a stored entry name alone (the rules lu__entries_add applies). */
lu_status lu__entry_name_check(const char *stored, size_t len, lu_error *err);
/* The canonical path ("/a/b.png") of entry `e` of table `t` (entries.c). */
const char *lu__entry_path(const lu_entries *t, const lu_entry *e);
/* How many entries table `t` holds, and the position (0 to count - 1) of
 * its entry `e`: the order the backend added them in, which never changes,
 * so a backend can keep side data per entry, indexed by it, for its reads. */
size_t lu__entries_count(const lu_entries *t);
size_t lu__entry_index(const lu_entries *t, const lu_entry *e);
/* Entry number i (0 to count - 1) of a table being filled, in the order
 * the entries were added: a backend may complete its locator before the
 * open returns. */
lu_entry *lu__entries_item(lu_entries *t, size_t i);

/* ---- the interface ---------------------------------------------------- */

typedef struct lu_archive_ops {
    /* LU_ARCHIVE_INTERFACE_VERSION at the time the backend was written. */
    unsigned version;
    /* URI scheme served: "zip", "dir". */
    const char *format;
    /* Opens `path`. Sets *claimed to 1 as soon as the file is known to be in
     * this format, so a caller can tell "not mine" (claimed 0) from "mine,
     * but broken" (claimed 1, precise message). Adds every entry to `tb`
     * with lu__entries_add and stores the backend state in *state.
     * Returns LU_OK, or a failure with a message naming the path and, where
     * relevant, the entry; on failure *state is left NULL. */
    lu_status (*open)(const lu_env *env, const char *path, lu_entries *tb, void **state,
                      int *claimed, lu_error *err);
    /* Reads entry `e` (exactly e->size bytes) into `buf`. Must be safe to
     * call from several threads at once. Returns LU_OK, LU_FORMAT_ERROR
     * (CRC, corrupt data, size differs), LU_IO_ERROR. */
    lu_status (*read)(void *state, const lu_entries *tb, const lu_entry *e, void *buf,
                      lu_error *err);
    /* Frees the state. Accepts NULL. */
    void (*close)(const lu_env *env, void *state);

    /* ---- interface version 2: streaming reads (engine/core/stream.c) ----
     * A stream reads one entry in pieces with memory that does not grow with
     * the entry (compressed entries: a decoder and a 64 KiB input buffer).
     * One stream is used by one thread at a time; streams of one volume may
     * be used on several threads at once, beside `read`. The volume's state
     * outlives its streams (the core holds the archive). NULL in a backend
     * that cannot stream (the core then reads the entry whole). */

    /* Opens a stream on entry `e` at position 0. Returns LU_OK and *stream,
     * or LU_MEM_ERROR, LU_FORMAT_ERROR (bad local header...), LU_IO_ERROR,
     * naming the entry; *stream NULL on failure. */
    lu_status (*stream_open)(const lu_env *env, void *state, const lu_entries *tb, const lu_entry *e,
                             void **stream, lu_error *err);
    /* Reads up to `cap` bytes at the stream's position into `buf`; *got is
     * 0 only at the end of the entry. When the bytes from 0 to the end have
     * passed in order (read or decoded while seeking), the reader checks
     * what it can (zip: the CRC-32; compressed data ending exactly at the
     * declared size) and fails the read that reaches the end: LU_OK,
     * LU_FORMAT_ERROR, LU_IO_ERROR, LU_MEM_ERROR, naming the entry. After a
     * failure the stream's position is unspecified; the core stops using it. */
    lu_status (*stream_read)(void *stream, void *buf, size_t cap, size_t *got, lu_error *err);
    /* Moves to `offset` (at most e->size; the core checks). Compressed
     * entries decode forward to it (from the start for a backward move), so
     * a seek can fail as stream_read does. */
    lu_status (*stream_seek)(void *stream, uint64_t offset, lu_error *err);
    /* Frees the stream. Accepts NULL. */
    void (*stream_close)(void *stream);
} lu_archive_ops;

extern const lu_archive_ops lu__archive_zip;
extern const lu_archive_ops lu__archive_dir;

#endif
