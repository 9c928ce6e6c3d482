/* lutool.h -- the commands of lutool, one file each in tools/lutool/.
 *
 * Each command takes the arguments after its name, prints what it did to
 * stdout and errors to stderr ("lutool <command>: ..."), and returns the
 * process exit status: 0 on success, 1 on a failure, 2 on bad arguments.
 */
#ifndef LUTOOL_H
#define LUTOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "liveupdate/liveupdate.h"
#include "liveupdate/manifest.h"
#include "options.h"   /* tools/common: the option rule every command follows */

#define LUTOOL_MANIFEST "/liveupdate.manifest.json"

int lutool_bundle(int argc, char **argv);
int lutool_inspect(int argc, char **argv);
int lutool_verify(int argc, char **argv);
int lutool_release(int argc, char **argv);
int lutool_publish(int argc, char **argv);
int lutool_keygen(int argc, char **argv);
int lutool_sign(int argc, char **argv);
int lutool_console(int argc, char **argv);

/* args.c. Creates the folder `path` and its missing parents (mode 0755; an
 * existing folder is fine). Returns 0, or prints "lutool <cmd>: cannot
 * create ..." and returns 1. */
int lutool_mkdir_p(const char *cmd, const char *path);

/* args.c. Reads the rest of the open file `f` into *text (malloc'd, NUL-
 * terminated, never NULL on success; free it) and *len. Returns 0, or -1
 * on a read error or out of memory (*text is then NULL). Does not close f. */
int lutool_read_all(FILE *f, char **text, size_t *len);

/* open_volume.c. Each prints its error as "lutool <cmd>: ..." and
 * returns 1, or returns 0. */

/* True when `path` is a directory. */
bool lutool_is_dir(const char *path);

/* Opens the zip at `zip` as the _base mount of a new context without a save
 * directory. *out: close with lu_context_close. */
int lutool_open_zip(const char *cmd, const char *zip, lu_context **out);

/* Reads and parses the zip's /liveupdate.manifest.json; *out is NULL (and
 * the return 0) when the zip has none. Free with lu_manifest_free. */
int lutool_read_manifest(const char *cmd, lu_context *ctx, const char *zip, lu_manifest **out);

/* Parses <bundle_dir>/liveupdate/catalog.json; *out is NULL (and the
 * return 0) when there is no catalog. Free with lu_manifest_free. */
int lutool_read_catalog(const char *cmd, const char *bundle_dir, lu_manifest **out);

enum { LUTOOL_VOLUME_OK, LUTOOL_VOLUME_MISSING, LUTOOL_VOLUME_MISMATCH };

/* Compares <bundle_dir>/liveupdate/<v->file> (its full path goes to `path`)
 * with the catalog entry's size and sha256. Returns one of the values
 * above; `why` gets "OK", "MISSING" or "MISMATCH (...)". */
int lutool_check_volume(const char *bundle_dir, const lu_manifest_volume *v, char *path, size_t cap,
                        char *why, size_t why_cap);

/* "512 B", "1.5 KiB", "3.2 MiB", "1.07 GiB". */
void lutool_human_size(uint64_t n, char *buf, size_t cap);

#endif
