/* fuzz_release_doc.c -- bytes as the update manager's version document,
 * then its versions compared every way (the comparison must be a total
 * order on what the parser accepts: antisymmetric, reflexive). */
#include <stdlib.h>

#include "fuzz.h"
#include "liveupdate/release.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lu_release *r;
    lu_error err;
    if (lu_release_parse((const char *)data, size, &r, &err) != LU_OK) return 0;
    const char *v[3] = {r->version, r->min_version ? r->min_version : "0", r->prefer_local_from ? r->prefer_local_from : ""};
    for (int i = 0; i < 3; i++)
        for (int k = 0; k < 3; k++) {
            int a = lu_version_compare(v[i], v[k]), b = lu_version_compare(v[k], v[i]);
            if ((a > 0) != (b < 0) || (a == 0) != (b == 0)) abort();
        }
    lu_release_free(r);
    return 0;
}
