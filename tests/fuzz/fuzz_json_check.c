/* fuzz_json_check.c -- lu__json_syntax_ok must never pass a text cJSON
 * refuses (that would turn a corrupt mounts file or update state into a
 * "memory" failure at every start). Aborts when it does. */
#include <cjson/cJSON.h>

#include "fuzz.h"
#include "internal.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!lu__json_syntax_ok((const char *)data, size)) return 0;
    cJSON *doc = cJSON_ParseWithLength((const char *)data, size);
    if (!doc) {
        fprintf(stderr, "json_check passed %zu bytes cJSON refuses\n", size);
        abort();
    }
    cJSON_Delete(doc);
    return 0;
}
