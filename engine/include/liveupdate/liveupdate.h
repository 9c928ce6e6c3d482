/* liveupdate.h -- public C API of libliveupdate: contexts, mounts, lookups.
 *
 * A context (lu_context) owns a save directory, a table of mounted volumes
 * (zip files and directories, each with a name, a priority and a URI) and one
 * merged index that answers "which mount serves this resource path" in O(1).
 * The table persists in <save>/liveupdate.mounts (see docs/FORMATS.md).
 *
 * Conventions, for every function below unless its comment says otherwise:
 *  - Fallible calls return an lu_status; LU_OK (0) is success, every failure
 *    is negative. When `err` is non-NULL it receives the same status and a
 *    message naming what failed (path, mount name, zip entry).
 *  - On failure nothing changed: not the mount table, not the files on disk.
 *  - Lookups and reads (lu_exists, lu_stat, lu_read, lu_read_from,
 *    lu_list_paths, lu_mounts_get, lu_open) are thread-safe and lock-free with
 *    respect to each other and to mount changes. Mount changes (add/remove)
 *    may be called from any thread; they are serialized inside the context.
 *  - Strings are UTF-8, NUL-terminated. The library writes nothing to stdout.
 */
#ifndef LIVEUPDATE_H
#define LIVEUPDATE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Version as an integer that compares: 0xMMmmpp. */
#define LU_VERSION_NUM 0x000100
#define LU_VERSION_STR "0.1.0"
#define LU_AT_LEAST_VERSION(x) (LU_VERSION_NUM >= (x))

/* The version of the library linked at run time, which can differ from the
 * LU_VERSION_STR / LU_VERSION_NUM a caller was compiled against when the
 * library is a shared one. lu_version returns its LU_VERSION_STR ("0.1.0"),
 * lu_version_number its LU_VERSION_NUM (0xMMmmpp). Never fail; static
 * storage; thread-safe; need no context. */
const char *lu_version(void);
unsigned lu_version_number(void);

/* Status codes. Append-only: values never change once released. The first
 * block has the values of Defold's liveupdate.LIVEUPDATE_* constants. */
typedef enum lu_status {
    LU_OK = 0,
    LU_INVALID_HEADER = -1,
    LU_MEM_ERROR = -2,
    LU_INVALID_RESOURCE = -3,
    LU_VERSION_MISMATCH = -4,
    LU_ENGINE_VERSION_MISMATCH = -5,
    LU_SIGNATURE_MISMATCH = -6,
    LU_SCHEME_MISMATCH = -7,
    LU_BUNDLED_RESOURCE_MISMATCH = -8,
    LU_FORMAT_ERROR = -9,
    LU_IO_ERROR = -10,
    LU_INVAL = -11,
    LU_NOT_INITIALIZED = -12,
    /* ours */
    LU_NAME_EXISTS = -13,
    LU_NOT_FOUND = -14,
    LU_LOCKED = -15,
    LU_NO_SPACE = -16,
    LU_NETWORK_ERROR = -17,
    LU_TIMEOUT = -18,
    LU_CANCELLED = -19,
    LU_HASH_MISMATCH = -20,
    LU_UNSAFE_ARCHIVE = -21,
    LU_UNKNOWN = -1000
} lu_status;

/* Size of the message buffer in lu_error. A message that would not fit ends
 * in "..." so truncation is never silent. */
#define LU_ERROR_MAX 4096

/* Caller-owned error record filled by fallible calls. */
typedef struct lu_error {
    lu_status status;
    char message[LU_ERROR_MAX];
} lu_error;

/* Returns the constant's name without prefix ("NAME_EXISTS"), or "UNKNOWN"
 * for a value that is not a status. Never fails; static storage. */
const char *lu_status_name(int status);

/* ------------------------------------------------------------------ */
/* Embedding hooks                                                     */

typedef enum lu_log_level { LU_LOG_DEBUG, LU_LOG_INFO, LU_LOG_WARN, LU_LOG_ERROR } lu_log_level;

/* Logger: called from the thread that caused the event; must be thread-safe
 * if the context is used from several threads. */
typedef void (*lu_log_fn)(void *ud, lu_log_level level, const char *message);

/* Allocator hooks. realloc(ud, NULL, n) allocates; free(ud, NULL) is a no-op.
 * All three must be thread-safe. */
typedef struct lu_allocator {
    void *(*realloc_fn)(void *ud, void *ptr, size_t size);
    void (*free_fn)(void *ud, void *ptr);
    void *ud;
} lu_allocator;

/* File-system hooks for the calls that make persistence crash-safe. Each
 * behaves like the POSIX call of the same name (return value and errno).
 * Tests use them to make call number N fail; an engine may route them
 * through its own file layer. Must be thread-safe. A NULL field means the
 * POSIX call, so a struct filled only up to `ud` (or zero-initialised and
 * partly set) keeps working once the caller is compiled against this
 * header (the struct grew: code built against an older header passes a
 * shorter struct and must be rebuilt). The fields after `ud` were added later: the
 * folders the library creates (save dir, volumes/, update/, downloads/),
 * the files it deletes (temporaries, a download's .part and sidecar, old
 * releases, the crash note), the truncation of a restarted .part, the
 * read-back of a resumed .part for its hash, every read of a zip
 * volume (pread: its end records and central directory at mount, its
 * entries at lu_read and through lu_open) and every read of a file of a
 * dir: volume go through them. */
typedef struct lu_io_hooks {
    int (*open)(void *ud, const char *path, int flags, int mode);
    long (*read)(void *ud, int fd, void *buf, size_t n);
    long (*write)(void *ud, int fd, const void *buf, size_t n);
    int (*fsync)(void *ud, int fd);
    int (*rename)(void *ud, const char *from, const char *to);
    int (*close)(void *ud, int fd);
    void *ud;
    int (*mkdir)(void *ud, const char *path, int mode);
    int (*unlink)(void *ud, const char *path);
    int (*ftruncate)(void *ud, int fd, long long length);
    long (*pread)(void *ud, int fd, void *buf, size_t n, long long offset);
} lu_io_hooks;

/* ------------------------------------------------------------------ */
/* Context                                                             */

typedef struct lu_context lu_context;

/* Options for lu_context_open. Initialise with lu_config_init, then set what
 * you need. Strings are copied by lu_context_open. */
typedef struct lu_config {
    const char *save_dir;       /* created if missing; NULL = no persistence, no lock */
    const char *base_uri;       /* mounted as "_base" (priority -10), or NULL */
    const char *builtin_uri;    /* mounted as "_builtin" (priority -5), or NULL */
    int mount_on_start;         /* load <save>/liveupdate.mounts at open (default 1) */
    uint64_t max_uncompressed;  /* largest declared entry size accepted (default 1 GiB) */
    lu_log_fn log;              /* default: no logging */
    void *log_ud;
    const lu_allocator *allocator; /* default: the C library's (the index's blocks of 2 MiB or more
                                      mapped, with 2 MiB pages asked for; docs/ARCHITECTURE.md); copied */
    const lu_io_hooks *io;      /* default: the POSIX calls (also for each NULL field); copied */
    int prune_stale;            /* at open, prune mounts older than minimum_version (default 0) */
    long long minimum_version;  /* see lu_prune_stale and lu_version_floor_check */
    const unsigned char *public_key; /* 32-byte Ed25519 key for signed downloads, or NULL; copied */
    const char *ca_file;        /* PEM bundle for HTTPS downloads; NULL = the system's */
    int max_downloads;          /* transfers at once (liveupdate/download.h; default 2) */
} lu_config;

/* Fills `cfg` with the defaults. Never fails. */
void lu_config_init(lu_config *cfg);

/* Opens a context: creates the save directory if needed, takes its lock
 * (<save>/liveupdate.lock), mounts the built-in volumes, then (when
 * mount_on_start) the persisted mounts. A persisted mount whose volume is
 * missing, corrupt or unsafe is dropped (the mounts file rewritten without
 * it); one that fails to open for a passing reason (LU_IO_ERROR such as too
 * many open files, LU_MEM_ERROR) is "kept": not mounted, left in the mounts
 * file and tried again at the next start. Both are recorded in the start-up
 * report; a corrupt mounts file is moved aside and reported. None of these
 * makes the open fail. One merged index is built over every mount that
 * opened, and the mounts file is written at most once (with prune_stale,
 * the stale mounts are left out of that index and that write).
 * Returns LU_OK and *out, or LU_LOCKED when another context or process holds
 * the save directory, LU_IO_ERROR, LU_MEM_ERROR, or the failing built-in
 * mount's status. On failure *out is NULL. */
lu_status lu_context_open(const lu_config *cfg, lu_context **out, lu_error *err);

/* Closes a context: waits for an in-flight asynchronous add to finish, drops
 * queued completions without calling them, closes the volumes and releases
 * the lock. No other call on `ctx` may be running or start once close has
 * begun, with one exception: a callback that lu_update() runs may close the
 * context; no further callback runs, and the close completes when that
 * lu_update() returns (`ctx` must not be used after it). Accepts NULL. */
void lu_context_close(lu_context *ctx);

/* Delivers completions of asynchronous calls on the calling thread (the
 * game's main loop): lu_mount_add_async's, and those of downloads and other
 * transfers, whose work also advances here (liveupdate/download.h). Returns
 * how many callbacks ran. Call it from one thread. */
int lu_update(lu_context *ctx);

/* Frees memory the library returned to the caller (lu_read, lu_read_from,
 * lu_mounts_get, lu_list_paths, lu_downloads_get). Accepts NULL. */
void lu_free(lu_context *ctx, void *ptr);

/* ------------------------------------------------------------------ */
/* Mounts                                                              */

#define LU_NAME_MAX 64
#define LU_BASE_MOUNT "_base"
#define LU_BUILTIN_MOUNT "_builtin"
#define LU_BASE_PRIORITY (-10)
#define LU_BUILTIN_PRIORITY (-5)

/* Flags for lu_mount_add. */
#define LU_MOUNT_REPLACE 1u  /* an existing mount of that name is swapped atomically */
#define LU_MOUNT_NO_PERSIST 2u /* not written to the mounts file (tools, tests) */
/* With LU_MOUNT_REPLACE: the replaced mount's volume file (and its .sig) is
 * deleted once the mounts file no longer names it, when it lies directly in
 * <save>/volumes/, is not an update-manager release file (rel-*), and no
 * other mount, loaded or held in the mounts file, uses it. For a download
 * that replaces a volume under a new file name (download_volume), so every
 * content update does not leave the old bytes behind. */
#define LU_MOUNT_DELETE_REPLACED 4u

/* Description of a mount as returned by lu_mounts_get. */
typedef struct lu_mount_info {
    const char *name;
    const char *uri;      /* as given, or relative to the save dir when inside it */
    int priority;
    const char *path;     /* absolute file-system path of the volume */
    const char *format;   /* "zip" or "dir" */
    size_t entries;       /* number of resources in the volume */
} lu_mount_info;

/* Validates a user mount name: 1-64 bytes of [A-Za-z0-9_.-], not starting
 * with '_'. Returns LU_OK or LU_INVAL with a message. Thread-safe. */
lu_status lu_mount_name_check(const char *name, lu_error *err);

/* The longest plain file name (a volume in <save>/volumes/, a download). */
#define LU_FILE_NAME_MAX 200

/* Validates a plain file name: 1-LU_FILE_NAME_MAX bytes, no '/' or '\\', not
 * starting with '.' (so never "." or ".."). The one rule for every file the
 * library keeps under the save directory: lu_volume_path, downloads and the
 * update manager all apply it. Returns LU_OK or LU_INVAL with the reason.
 * Thread-safe. */
lu_status lu_file_name_check(const char *file, lu_error *err);

/* Mounts the volume at `uri` ("zip:<path>", "dir:<path>", "file:<path>";
 * relative paths are under the save directory) as `name` at `priority`
 * (>= 0), then persists the table. The archive is opened and checked
 * (docs/FORMATS.md) before the table changes. The same name, URI (relative or absolute
 * spelling of one path) and priority again is LU_OK and reopens nothing
 * (Defold 1.13 scripts add their mounts at every start).
 * Returns LU_OK; LU_INVAL (bad name, negative priority, bad path);
 * LU_NAME_EXISTS (the name is mounted with another URI or priority, unless
 * LU_MOUNT_REPLACE); LU_SCHEME_MISMATCH (unknown
 * scheme, or the file is not of the scheme's format); LU_NOT_FOUND (missing
 * volume); LU_FORMAT_ERROR (corrupt zip); LU_UNSAFE_ARCHIVE (unsafe entry,
 * named in the message); LU_VERSION_MISMATCH (the version floor: the
 * context's minimum_version is above 0 and the volume's own
 * /version_<name>.json says less, or is missing or not {"version": N};
 * see lu_version_floor_check); LU_IO_ERROR / LU_NO_SPACE (persisting
 * failed). */
lu_status lu_mount_add(lu_context *ctx, const char *name, const char *uri, int priority,
                       unsigned flags, lu_error *err);

/* Completion callback for lu_mount_add_async, run by lu_update(). `err` holds
 * the status and message (status LU_OK on success); valid during the call. */
typedef void (*lu_mount_done_fn)(void *ud, const char *name, const char *uri,
                                 const lu_error *err);

/* Same as lu_mount_add, but the archive is opened on a worker thread; `done`
 * runs later from lu_update() on the caller's thread. Arguments are checked
 * at once: a bad name or priority returns LU_INVAL here and `done` is never
 * called. Returns LU_OK when queued. */
lu_status lu_mount_add_async(lu_context *ctx, const char *name, const char *uri, int priority,
                             unsigned flags, lu_mount_done_fn done, void *ud, lu_error *err);

/* Removes mount `name` from new lookups at once and persists the table.
 * Readers still using it finish safely; its archive closes after them.
 * The index memory its paths took stays with the context, for the next
 * changes, until the context closes.
 * A mount kept in the mounts file after a passing failure at start-up
 * (lu_context_open) is removed from the file. Adding a mount of a kept
 * mount's name replaces it there.
 * Returns LU_OK, LU_INVAL (reserved or bad name), LU_NOT_FOUND,
 * LU_IO_ERROR / LU_NO_SPACE (persisting failed; the mount stays). */
lu_status lu_mount_remove(lu_context *ctx, const char *name, lu_error *err);

/* One mount of a lu_mounts_apply change. */
typedef struct lu_mount_spec {
    const char *name, *uri;
    int priority;
} lu_mount_spec;

/* Changes several mounts with one mounts-file write: removes the mounts
 * named in `remove` (names not mounted are skipped) and adds `add`
 * (replacing mounts of the same names). Every volume is opened before the
 * table changes; the new table becomes visible to lookups at once, all of
 * it or none of it (a crash leaves the old file or the new one). This is how
 * a content release is applied or rolled back.
 * Returns LU_OK; LU_INVAL (a bad or repeated name, negative priority);
 * the status of a volume that fails to open (named in the message);
 * LU_IO_ERROR / LU_NO_SPACE (persisting failed; nothing changed). */
lu_status lu_mounts_apply(lu_context *ctx, const lu_mount_spec *add, size_t nadd, const char *const *remove,
                          size_t nremove, lu_error *err);

/* Copies the mount table in lookup order (built-in mounts included) into
 * one allocation: *out (free with lu_free) and *count. Returns LU_OK or
 * LU_MEM_ERROR. */
lu_status lu_mounts_get(lu_context *ctx, lu_mount_info **out, size_t *count, lu_error *err);

/* The version floor (docs/FORMATS.md): a volume below the context's
 * minimum_version is never mounted at run time, so a volume that start-up
 * pruning removes cannot come back. lu_mount_add and lu_mount_add_async
 * apply the floor to the volume's own /version_<name>.json; this call
 * applies it to a version known before the volume is at hand (a catalog
 * entry's), so a download can be refused before it starts. The floor holds
 * only when minimum_version is above 0 (at 0 or below every volume mounts,
 * as before the floor existed).
 * Returns LU_OK when minimum_version <= 0 or `version` >= minimum_version;
 * LU_VERSION_MISMATCH ("volume '<name>' is version V, below the game's
 * minimum M"); LU_NOT_INITIALIZED for a NULL context. Thread-safe. */
lu_status lu_version_floor_check(lu_context *ctx, const char *name, long long version, lu_error *err);

/* Version pruning (docs/FORMATS.md): for every user mount, reads
 * /version_<name>.json {"version": N} from that mount itself (never
 * through the merged index) and removes the mount when the file is
 * missing or not {"version": N} or N < minimum_version. Every stale mount
 * is decided first, then all are removed in one change (one index build,
 * one mounts-file write), and only then are their files deleted: a crash
 * leaves no mount naming a deleted file. A removed volume's file is
 * deleted only when it lies inside <save>/volumes/. Each removal is added
 * to the start-up report (action "pruned", status LU_VERSION_MISMATCH).
 * *pruned (may be NULL) gets the number removed. A volume whose version
 * file cannot be read for another reason (out of memory, a read error) is
 * kept. Only the very mount judged is removed: one that another thread
 * removed or replaced (same name, another volume) between the judgement
 * and the removal is left as it is, and its file kept (LU_NOT_FOUND, the
 * message names it). Returns LU_OK, or the status of the removal when it
 * could not be persisted (then no mount was removed and no file deleted),
 * or of a mount that could not be judged or was changed meanwhile (the
 * rest still ran). */
lu_status lu_prune_stale(lu_context *ctx, long long minimum_version, size_t *pruned, lu_error *err);

/* The absolute path <save>/volumes/<file> (the folder is created), where
 * downloaded volumes belong. `file` must pass lu_file_name_check. Returns LU_OK,
 * LU_INVAL (bad name, no save dir, or `cap` too small), LU_IO_ERROR. */
lu_status lu_volume_path(lu_context *ctx, const char *file, char *out, size_t cap, lu_error *err);

/* The mount URI of <save>/volumes/<file>: "zip:volumes/<file>" (relative
 * URIs are under the save directory). Returns LU_OK, or LU_INVAL for a name
 * lu_file_name_check refuses or a `cap` too small. Thread-safe. */
lu_status lu_volume_uri(const char *file, char *out, size_t cap, lu_error *err);

/* The absolute path of <save>/<rel> into `out` (nothing is created).
 * `rel` as for lu_save_file_write. Returns LU_OK, or LU_INVAL (bad `rel`,
 * no save directory, `cap` too small). Thread-safe. */
lu_status lu_save_file_path(lu_context *ctx, const char *rel, char *out, size_t cap, lu_error *err);

/* Writes `len` bytes to <save>/<rel> durably (a temporary file, fsync,
 * rename, a directory fsync; lu_io_hooks apply), creating the folders on
 * the way. `rel` is a relative path whose "/"-prefixed form passes
 * lu_path_check ("liveupdate-legacy/level1/a.png"). On failure the old
 * file (if any) is as it was. Returns LU_OK; LU_INVAL (bad `rel`, no save
 * directory, path too long); LU_IO_ERROR / LU_NO_SPACE. Thread-safe for
 * different files. */
lu_status lu_save_file_write(lu_context *ctx, const char *rel, const void *data, size_t len, lu_error *err);

/* Copies the file `from` to <save>/<rel> durably, as lu_save_file_write
 * does (read in blocks; `from` is left as it is). Same returns, plus
 * LU_NOT_FOUND when `from` cannot be opened. */
lu_status lu_save_file_copy(lu_context *ctx, const char *from, const char *rel, lu_error *err);

/* ------------------------------------------------------------------ */
/* Tasks on the worker                                                 */

/* The work of a lu_task_async task: runs on the context's worker thread, in
 * queue order with asynchronous adds (lu_mount_add_async) and other tasks,
 * and may call the thread-safe functions of this header (lu_mount_add,
 * lu_read_from, lu_save_file_write...). `arg` is the task's copy of the
 * caller's argument block (NULL when it has no bytes). Returns the task's
 * status; fills `err` on failure. */
typedef lu_status (*lu_task_fn)(lu_context *ctx, void *arg, lu_error *err);

/* A task's completion, run by lu_update() on its caller's thread with the
 * work's status and message (LU_OK when `work` was NULL). `arg` is the
 * argument block (as the work left it; NULL when it has no bytes), valid
 * during the call. */
typedef void (*lu_task_done_fn)(void *ud, void *arg, const lu_error *err);

/* Queues `work` (NULL: nothing to do, `done` is only deferred to a later
 * lu_update()) with a copy of the `arg_len` bytes at `arg` (may be NULL
 * when arg_len is 0; the copy is aligned for any type). `done` (may be
 * NULL) runs once from lu_update(); when the context closes first it never
 * runs (as for lu_mount_add_async), and the copy is freed either way.
 * Returns LU_OK when queued; LU_MEM_ERROR (nothing queued, `done` never
 * runs); LU_NOT_INITIALIZED for a NULL context. Thread-safe, as
 * lu_mount_add_async is. */
lu_status lu_task_async(lu_context *ctx, lu_task_fn work, const void *arg, size_t arg_len, lu_task_done_fn done,
                        void *ud, lu_error *err);

/* ------------------------------------------------------------------ */
/* Start-up report                                                     */

typedef struct lu_report_item {
    const char *name;     /* mount name, or the mounts file for "moved_aside" */
    const char *uri;
    const char *action;   /* "dropped", "kept", "moved_aside", "pruned" */
    lu_status status;
    const char *message;
} lu_report_item;

/* Number of items in the start-up report, and item i (valid until the
 * context closes). Returns LU_OK or LU_INVAL for an index out of range. */
size_t lu_startup_report_count(const lu_context *ctx);
lu_status lu_startup_report_get(const lu_context *ctx, size_t i, lu_report_item *out);

/* ------------------------------------------------------------------ */
/* Lookups and reads                                                   */

/* Checks that `path` is canonical (docs/FORMATS.md): starts with '/', no empty, "."
 * or ".." components, no backslash; `len` bytes (no NUL inside). Returns
 * LU_OK or LU_INVAL with the reason. Thread-safe. */
lu_status lu_path_check(const char *path, size_t len, lu_error *err);

/* Returns 1 when some mount serves `path`, else 0 (also for a path that is
 * not canonical). */
int lu_exists(lu_context *ctx, const char *path);

/* Resource facts. */
typedef struct lu_stat_info {
    uint64_t size;
    char mount[LU_NAME_MAX + 1];  /* name of the serving mount */
} lu_stat_info;

/* Fills *out for `path`. Returns LU_OK, LU_INVAL (not canonical) or
 * LU_NOT_FOUND. */
lu_status lu_stat(lu_context *ctx, const char *path, lu_stat_info *out, lu_error *err);

/* Reads the whole resource from the mount that serves it into a new buffer
 * (*data, free with lu_free; one NUL byte is appended beyond *size). The
 * zip entry's CRC is checked. Returns LU_OK, LU_INVAL, LU_NOT_FOUND,
 * LU_FORMAT_ERROR (CRC mismatch, corrupt data, size differs from the
 * declared one), LU_IO_ERROR, LU_MEM_ERROR. On failure *data is NULL. */
lu_status lu_read(lu_context *ctx, const char *path, void **data, size_t *size, lu_error *err);

/* Same as lu_read, but only from mount `mount` (not through the merged
 * index). LU_NOT_FOUND when that mount does not exist or lacks the path. */
lu_status lu_read_from(lu_context *ctx, const char *mount, const char *path, void **data,
                       size_t *size, lu_error *err);

/* Lists the resource paths served under `prefix` ("/" for all; a prefix
 * that is a directory should end in '/'), sorted, each once (the serving
 * mount's). When `mount` is non-NULL only that mount's entries are listed.
 * *out is one allocation (free with lu_free) holding *count string pointers
 * followed by the strings. Returns LU_OK, LU_INVAL, LU_NOT_FOUND (unknown
 * mount), LU_MEM_ERROR. */
lu_status lu_list_paths(lu_context *ctx, const char *prefix, const char *mount, char ***out,
                        size_t *count, lu_error *err);

/* ------------------------------------------------------------------ */
/* Streaming reads                                                     */

/* An open resource read in pieces (PhysicsFS's openRead/readBytes/seek):
 * memory that does not grow with the resource. Created by lu_open, freed
 * by lu_close. */
typedef struct lu_file lu_file;

/* Opens `path` for reading from the mount that serves it now (the same
 * lookup as lu_read). The file keeps that volume open, not the whole
 * mount table: removing or replacing the mount while the file is open is
 * safe, and the file goes on reading the bytes it opened. Memory: a few
 * hundred bytes for a stored zip entry or a file of a "dir:" volume,
 * about 110 KiB for a deflated entry (zlib's state and window and a
 * 64 KiB input buffer), libzstd's state plus the frame's window (at most
 * the entry's size, and 8 MiB) and 64 KiB for a zstd entry; all through the
 * context's allocator.
 * Returns LU_OK and *out (close it with lu_close); LU_INVAL (not a
 * canonical path); LU_NOT_FOUND naming the path (no mount serves it; a
 * zip's directory entries are not resources); LU_FORMAT_ERROR (a bad
 * local header, naming the entry); LU_IO_ERROR; LU_MEM_ERROR;
 * LU_NOT_INITIALIZED for a NULL context. On failure *out is NULL.
 * Thread-safe, as lu_read is. Every file must be closed before its
 * context is (lu_context_close). */
lu_status lu_open(lu_context *ctx, const char *path, lu_file **out, lu_error *err);

/* Reads up to `cap` bytes at the file's position into `buf` and advances
 * the position by *got. *got is 0 only at the end of the file (or when
 * `cap` is 0); fewer than `cap` bytes may come before the end (a
 * compressed entry hands over what one decoding step gives). The first
 * time every byte from 0 to the end has passed in order (read, or decoded
 * by lu_seek), the zip entry's CRC-32 is checked, and that compressed data
 * ends exactly at the declared size: a mismatch fails the read that
 * reaches the end. After a seek that skipped bytes of a stored entry the
 * check waits until a read has covered them (seek back and read on).
 * Returns LU_OK; LU_FORMAT_ERROR (CRC mismatch, corrupt compressed data,
 * a size that differs from the declared one), LU_IO_ERROR, LU_MEM_ERROR,
 * each naming the mount and the entry; LU_INVAL for a NULL file, or a NULL
 * `buf` with `cap` > 0. A failure is final: *got is 0 and every later
 * lu_read_some and lu_seek on the file returns the same status (close it;
 * lu_file_tell is unchanged). One thread at a time per file; different
 * files may be read on different threads at once. */
lu_status lu_read_some(lu_file *f, void *buf, size_t cap, size_t *got, lu_error *err);

/* Moves the position to `offset` bytes from the start. Stored zip entries
 * and "dir:" files move at once; compressed entries decode forward to
 * `offset` (from the start for a backward seek), so a seek costs up to the
 * bytes it passes and can fail as lu_read_some does (a seek to the end
 * that decodes every byte runs the end checks). An `offset` past the end
 * (lu_file_size) is an error, not clamped: LU_INVAL naming the entry and its
 * size, the position unchanged. Returns LU_OK, LU_INVAL, or a
 * lu_read_some failure (final, as there). One thread at a time per file. */
lu_status lu_seek(lu_file *f, uint64_t offset, lu_error *err);

/* The resource's size in bytes (its uncompressed size), and the current
 * position (0 to the size). Never fail; 0 for a NULL file. */
uint64_t lu_file_size(const lu_file *f);
uint64_t lu_file_tell(const lu_file *f);

/* Closes the file and lets go of its volume (a removed mount's volume
 * closes now if this was its last user). Accepts NULL. */
void lu_close(lu_file *f);

/* ------------------------------------------------------------------ */
/* Writing zip volumes (bundler, tests)                                */

typedef struct lu_zip_writer lu_zip_writer;

/* Creates (truncates) the zip at `path`. Entries get a fixed timestamp so
 * the same input gives byte-identical output. Returns LU_OK and *out, or
 * LU_IO_ERROR / LU_MEM_ERROR. Not thread-safe per writer. The writer has
 * no context: it allocates with the C library's allocator. */
lu_status lu_zip_writer_open(const char *path, lu_zip_writer **out, lu_error *err);

/* Adds entry `name` (stored as given, e.g. "level1/a.png") with `len` bytes.
 * `level` 0 stores, 1-9 deflates, -1 is zlib's default. Returns LU_OK or
 * LU_IO_ERROR naming the entry. */
lu_status lu_zip_writer_add(lu_zip_writer *w, const char *name, const void *data, size_t len,
                            int level, lu_error *err);

/* Compression methods of lu_zip_writer_add_method (their zip method numbers). */
typedef enum lu_zip_method {
    LU_ZIP_STORED = 0,
    LU_ZIP_DEFLATE = 8,
    LU_ZIP_ZSTD = 93
} lu_zip_method;

/* The zstd level lu_zip_writer_add_method uses for level -1 (the bundler's:
 * docs/BENCHMARKS.md has the ratio and speed it was chosen by). */
#define LU_ZIP_ZSTD_LEVEL 19

/* Adds entry `name` like lu_zip_writer_add, with `method`: LU_ZIP_STORED
 * (`level` ignored), LU_ZIP_DEFLATE (`level` 1-9, -1 zlib's default) or
 * LU_ZIP_ZSTD (`level` 1 to libzstd's maximum, -1 LU_ZIP_ZSTD_LEVEL: one
 * zstd frame, zip method 93). A zstd frame that is not smaller than the
 * data is not used: the entry is stored. The same input gives the same
 * bytes (with one libzstd version). Returns LU_OK, LU_INVAL (unknown method
 * or level, naming the entry), LU_MEM_ERROR or LU_IO_ERROR naming the
 * entry. */
lu_status lu_zip_writer_add_method(lu_zip_writer *w, const char *name, const void *data, size_t len,
                                   int method, int level, lu_error *err);

/* Writes the central directory and frees the writer (even on failure).
 * Accepts NULL. Returns LU_OK or LU_IO_ERROR. */
lu_status lu_zip_writer_close(lu_zip_writer *w, lu_error *err);

#ifdef __cplusplus
}
#endif

#endif
