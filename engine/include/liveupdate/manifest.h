/* manifest.h -- the game's manifest: resources, collection proxies, volumes.
 *
 * The bundler writes it as /liveupdate.manifest.json into the base bundle
 * (format: docs/FORMATS.md). lurun reads it from the base mount, or builds
 * it in memory from game.project and the content tree when it runs a
 * project directory. Collection proxy ids are normalised: "#level1",
 * "main:/loader#level1" and "level1" all name proxy "level1".
 */
#ifndef LIVEUPDATE_MANIFEST_H
#define LIVEUPDATE_MANIFEST_H

#include "liveupdate/liveupdate.h"
#include "liveupdate/project.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lu_manifest_resource {
    char *path;
    uint64_t size;
    char *sha256;          /* hex, or "" when not computed (project runs) */
} lu_manifest_resource;

typedef struct lu_manifest_proxy {
    char *id;
    char *collection;      /* resource path of the root collection */
    char **resources;      /* resource paths the proxy needs (its collection included) */
    size_t nresources;
    char **proxies;        /* ids of nested proxies */
    size_t nproxies;
    int excluded;          /* its resources ship in `volume`, not in the base */
    char *volume;          /* volume name, or NULL */
} lu_manifest_proxy;

typedef struct lu_manifest_volume {
    char *name, *file, *sha256;
    uint64_t size;
    long long version;
    int priority;
} lu_manifest_volume;

typedef struct lu_manifest {
    lu_manifest_resource *resources;
    size_t nresources;
    lu_manifest_proxy *proxies;
    size_t nproxies;
    lu_manifest_volume *volumes;
    size_t nvolumes;
    /* Private (manifest.c): proxy lookup by id, built by the functions that
     * make or change a manifest. NULL in a manifest built by hand (or when
     * memory ran out building it): lookups then scan the proxies. */
    struct lu__proxy_index *proxy_index;
} lu_manifest;

/* Parses manifest JSON. LU_FORMAT_ERROR names the field that is wrong.
 * A manifest belongs to no context: it and its strings come from the C
 * library's allocator, and lu_manifest_free frees them (also for
 * lu_catalog_parse and lu_manifest_from_project). */
lu_status lu_manifest_parse(const char *json, size_t len, lu_manifest **out, lu_error *err);

/* Parses a volume catalog (liveupdate/catalog.json: {"version": 1,
 * "volumes": [...]}) into a manifest that has only `volumes`.
 * LU_FORMAT_ERROR names the field that is wrong; LU_MEM_ERROR. */
lu_status lu_catalog_parse(const char *json, size_t len, lu_manifest **out, lu_error *err);

/* Builds a manifest from game.project's [proxy.<id>] sections over the
 * resource paths `paths` (with `sizes`) of a content tree. Proxy
 * `resources` are glob patterns separated by spaces or commas ('*' within
 * a path component, '**' across components); `proxies` lists nested proxy
 * ids; `exclude` and `volume` as in docs/BUNDLER.md. LU_FORMAT_ERROR for a bad
 * section (naming it), LU_NOT_FOUND for a missing collection. */
lu_status lu_manifest_from_project(const lu_project *p, char *const *paths, const uint64_t *sizes,
                                   size_t n, lu_manifest **out, lu_error *err);

void lu_manifest_free(lu_manifest *m);   /* accepts NULL */

/* Lays `top` over `m`: each resource (by path), proxy (by id) and volume
 * (by name) of `top` replaces the one of `m` or is added (how a hot
 * release's manifest adds and changes levels over the bundled one). Takes
 * `top` in every case (it is freed). Returns LU_OK, or LU_MEM_ERROR with `m`
 * unchanged in content (the order of its resources may have changed). */
lu_status lu_manifest_overlay(lu_manifest *m, lu_manifest *top, lu_error *err);

/* The proxy named by `id` in any accepted form, or NULL (the first of
 * that id). One hash probe in a manifest from the functions above. */
const lu_manifest_proxy *lu_manifest_find_proxy(const lu_manifest *m, const char *id);

/* Normalises a proxy id ("main:/loader#level1" -> "level1") into buf. */
void lu_manifest_proxy_id(const char *id, char *buf, size_t cap);

/* The paths of `proxy`'s resources that no mount of `ctx` serves now, in
 * manifest order, nested proxies included when `recursive`: the proxy's own
 * resources first, then each nested proxy's in the order listed, depth
 * first; each proxy is visited once (cycles are safe) and each path appears
 * once, where it first occurs. The work is linear: one lu_exists per
 * resource of the visited proxies, one hash probe per nested id. *out is one
 * allocation (free with lu_free(ctx, ...)) of *count pointers and the strings.
 * Returns LU_OK, LU_NOT_FOUND (unknown proxy), LU_MEM_ERROR. Thread-safe
 * for one manifest shared by threads that do not change it. */
lu_status lu_manifest_missing(lu_context *ctx, const lu_manifest *m, const char *proxy,
                              int recursive, char ***out, size_t *count, lu_error *err);

/* Checks the zip volume at `path` (absolute, or relative to the working
 * directory) against its own /liveupdate.manifest.json: it must open
 * (the safety checks of docs/FORMATS.md), and every entry but the manifest and
 * /version_*.json files must be listed with its size and SHA-256 (an
 * empty sha256 checks the size only). Listed resources the volume lacks
 * are allowed. Reads the whole volume: call it off the game's thread
 * (lu_task_async). Thread-safe.
 * Returns LU_OK; LU_FORMAT_ERROR (not a zip, no manifest, a bad manifest,
 * a corrupt entry); LU_UNSAFE_ARCHIVE; LU_NOT_FOUND; LU_HASH_MISMATCH (an
 * entry not listed, or of another size or hash: named in the message);
 * LU_IO_ERROR; LU_MEM_ERROR. */
lu_status lu_manifest_verify_volume(lu_context *ctx, const char *path, lu_error *err);

/* 1 when a path matches a glob pattern ('*' within a component, '**' any
 * number of components, '?' one character). */
int lu_glob_match(const char *pattern, const char *path);

#ifdef __cplusplus
}
#endif

#endif
