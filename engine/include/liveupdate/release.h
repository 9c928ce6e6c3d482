/* release.h -- content releases: the remote version document of the update
 * manager (docs/UPDATES.md) and dotted version strings.
 *
 * The document, JSON at [update] url:
 *   {"version": "1.4.0",
 *    "volumes": [{"name": "forest", "url": "https://.../forest.zip"
 *                 (or "file": "forest.zip", beside the document),
 *                 "size": 1234, "sha256": "<64 hex>", "priority": 10}],
 *    "min_version": "1.2.0", "prefer_local_from": "1.3.0", "mandatory": false,
 *    "binary": {"min": "1.0", "max": "1.9"}}
 * Format details: docs/FORMATS.md.
 */
#ifndef LIVEUPDATE_RELEASE_H
#define LIVEUPDATE_RELEASE_H

#include "liveupdate/liveupdate.h"

#ifdef __cplusplus
extern "C" {
#endif

#define LU_VERSION_MAX 64

typedef struct lu_release_volume {
    char *name;        /* a mount name (lu_mount_name_check) */
    char *url;         /* absolute URL, or NULL when `file` is given */
    char *file;        /* plain file name: from "file", or the URL's last component */
    char *sha256;      /* 64 lower-case hex characters */
    uint64_t size;
    int priority;      /* default 10 */
} lu_release_volume;

typedef struct lu_release {
    char *version;             /* required */
    char *min_version;         /* or NULL */
    char *prefer_local_from;   /* or NULL */
    int mandatory;
    /* The store binaries ([project] version of the bundle) the release is
     * made for, inclusive; NULL: no bound on that side. "binary": "1.2" sets
     * both. */
    char *binary_min, *binary_max;
    lu_release_volume *volumes;
    size_t nvolumes;
} lu_release;

/* Parses a version document. Versions must be 1-64 characters of
 * [0-9A-Za-z.+-]; "min_version" may not be above "version", nor
 * binary "min" above "max"; there is at least one volume, and every volume
 * needs a valid name (distinct), "url" or a plain "file", a whole "size"
 * >= 0 and a 64-hex "sha256" (a package is verified before it is used).
 * Returns LU_OK
 * and *out (free with lu_release_free), LU_FORMAT_ERROR naming the field,
 * LU_MEM_ERROR. Thread-safe. There is no context here, so the memory comes
 * from the C library's allocator, not a context's lu_config.allocator. */
lu_status lu_release_parse(const char *json, size_t len, lu_release **out, lu_error *err);

void lu_release_free(lu_release *r);   /* accepts NULL */

/* 1 when `v` is a version string as above. */
int lu_version_valid(const char *v);

/* Compares dotted versions: <0, 0, >0 as a is older, equal, newer.
 * Components split on '.'; two all-digit components compare as numbers of
 * any length ("1.10.0" > "1.9.3"), others byte-wise; missing components
 * are "0" ("1.2" == "1.2.0"). Never fails. */
int lu_version_compare(const char *a, const char *b);

#ifdef __cplusplus
}
#endif

#endif
