/* release_internal.h -- the version document through a given environment
 * (release.c), for the update manager (updater.c), and the update
 * manager's reading of a HEAD answer (updater.c, for its fuzz target).
 * Not public API.
 */
#ifndef LU_RELEASE_INTERNAL_H
#define LU_RELEASE_INTERNAL_H

#include "internal.h"
#include "liveupdate/crypto.h"
#include "liveupdate/http.h"
#include "liveupdate/release.h"

/* lu_release_parse, allocating through `env`; free the result with
 * lu__release_free and the same env. */
lu_status lu__release_parse(const lu_env *env, const char *json, size_t len, lu_release **out, lu_error *err);
void lu__release_free(const lu_env *env, lu_release *r);   /* accepts NULL */

/* The name a release's volume is stored under in <save>/volumes/:
 * "rel-<version>-<file>", which must itself pass lu_file_name_check (so a
 * document whose names cannot be stored is refused when it is read, not
 * when its download starts). Returns LU_OK or LU_INVAL with the reason. */
lu_status lu__release_file_name(const char *version, const char *file, char *out, size_t cap,
                                lu_error *err);

/* What the update manager takes from a HEAD answer (updater.c): the value
 * of a header named in `version_headers` (comma-separated names, any
 * case), of x-oss-meta-sha256 / x-amz-meta-sha256, ETag and Last-Modified,
 * each without surrounding quotes and only when it fits ("" otherwise; of
 * repeated headers the last that fits wins). Does not allocate; never fails. */
typedef struct lu__head_meta {
    char version[LU_VERSION_MAX + 1], sha256[LU_SHA256_HEX], etag[256], modified[128];
} lu__head_meta;
void lu__head_meta_read(const lu_http_header *headers, size_t n, const char *version_headers, lu__head_meta *out);

#endif
