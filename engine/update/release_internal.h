/* release_internal.h -- the version document through a given environment
 * (release.c), for the update manager (updater.c). Not public API.
 */
#ifndef LU_RELEASE_INTERNAL_H
#define LU_RELEASE_INTERNAL_H

#include "internal.h"
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

#endif
