/* archive.h -- the interface every archive backend (one file each in
 * archives/) implements, versioned so old backends are recognised.
 *
 * A backend knows how to open one volume format, describe its entries into a
 * shared entry table (engine/entries.c does the name-safety checks, sorting
 * and duplicate detection for all formats) and read one entry by the locator
 * it recorded. Lookups never reach a backend: the engine's merged index
 * answers them. Included by engine/internal.h, which defines lu_env,
 * lu_entries and lu_entry.
 */
#ifndef LU_ARCHIVE_H
#define LU_ARCHIVE_H

#define LU_ARCHIVE_INTERFACE_VERSION 1

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
} lu_archive_ops;

extern const lu_archive_ops lu__archive_zip;
extern const lu_archive_ops lu__archive_dir;

#endif
