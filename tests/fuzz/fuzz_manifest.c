/* fuzz_manifest.c -- bytes as /liveupdate.manifest.json and as
 * liveupdate/catalog.json (the same "volumes" shape, parsed by
 * lu_catalog_parse). */
#include "fuzz.h"
#include "liveupdate/manifest.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lu_manifest *m;
    lu_error err;
    if (lu_catalog_parse((const char *)data, size, &m, &err) == LU_OK) lu_manifest_free(m);
    if (lu_manifest_parse((const char *)data, size, &m, &err) != LU_OK) return 0;
    for (size_t i = 0; i < m->nproxies; i++) {
        const lu_manifest_proxy *p = lu_manifest_find_proxy(m, m->proxies[i].id);
        for (size_t k = 0; p && k < p->nproxies; k++) lu_manifest_find_proxy(m, p->proxies[k]);
    }
    lu_manifest_free(m);
    return 0;
}
