/* fuzz_project.c -- bytes as game.project, then every typed read, the
 * schema check (before and after a --set) and every value as a glob
 * against every key. */
#include "fuzz.h"
#include "liveupdate/manifest.h"
#include "liveupdate/project.h"

static void ignore(void *ud, const char *message)
{
    (void)ud;
    (void)message;
}

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
        const char *value;
        lu_project_key_at(p, i, &value);
        for (size_t k = 0; k < lu_project_count(p) && k < 16; k++) lu_glob_match(value, lu_project_key_at(p, k, NULL));
    }
    lu_project_check(p, ignore, NULL, &err);
    lu_project_set_assignment(p, (const char *)"a.b=c", &err);
    lu_project_set_assignment(p, (const char *)"proxy.x.exlude=c", &err);
    lu_project_check(p, ignore, NULL, &err);
    lu_project_free(p);
    return 0;
}
