/* fuzz_project.c -- bytes as game.project, then every typed read. */
#include "fuzz.h"
#include "liveupdate/project.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lu_project *p;
    lu_error err;
    if (lu_project_parse("game.project", (const char *)data, size, &p, &err) != LU_OK) return 0;
    for (size_t i = 0; i < lu_project_count(p); i++) {
        const char *key = lu_project_key_at(p, i, NULL);
        long long n;
        double d;
        lu_project_get_int(p, key, 0, &n, &err);
        lu_project_get_number(p, key, 0, &d, &err);
    }
    lu_project_set_assignment(p, (const char *)"a.b=c", &err);
    lu_project_free(p);
    return 0;
}
