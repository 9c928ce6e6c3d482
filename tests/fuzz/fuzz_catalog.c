/* fuzz_catalog.c -- bytes as liveupdate/catalog.json on its own (the
 * volume list a game downloads from): lu_catalog_parse, then what its users
 * do with each entry (the file name checked and turned into a volume URI),
 * then the catalog laid over a base manifest as a release's is. */
#include "fuzz.h"
#include "liveupdate/manifest.h"

static const char base_json[] =
    "{\"resources\": [{\"path\": \"/a.txt\", \"size\": 1}], \"proxies\": [],"
    " \"volumes\": [{\"name\": \"forest\", \"file\": \"forest.zip\", \"size\": 3, \"version\": 1}]}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lu_manifest *cat, *base;
    lu_error err;
    if (lu_catalog_parse((const char *)data, size, &cat, &err) != LU_OK) {
        if (err.status == LU_OK || !err.message[0]) abort();   /* a refusal always says why */
        return 0;
    }
    if (cat->nresources || cat->nproxies) abort();             /* a catalog holds volumes only */
    for (size_t i = 0; i < cat->nvolumes; i++) {
        const lu_manifest_volume *v = &cat->volumes[i];
        if (!v->name || !v->file || !v->sha256) abort();
        char uri[512];
        if (lu_file_name_check(v->file, &err) == LU_OK) lu_volume_uri(v->file, uri, sizeof uri, &err);
        lu_mount_name_check(v->name, &err);
    }
    if (lu_manifest_parse(base_json, sizeof base_json - 1, &base, &err) != LU_OK) abort();
    size_t before = base->nvolumes;
    if (lu_manifest_overlay(base, cat, &err) == LU_OK && base->nvolumes < before) abort();
    lu_manifest_free(base);
    return 0;
}
