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

#endif
