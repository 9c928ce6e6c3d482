/* faults.h -- the counting allocator of the fault-injection tests, the
 * SQLite way: set fail_at = N and the Nth allocation (the library's
 * allocator and, with f_cjson_malloc installed through cJSON_InitHooks,
 * cJSON's) fails. `counter` says how many were made. Included by the test
 * files that inject faults (test_faults.c, test_updater_faults.c).
 */
#ifndef LU_TEST_FAULTS_H
#define LU_TEST_FAULTS_H

#include <stdbool.h>
#include <stdlib.h>

static long counter, fail_at;

static bool should_fail(void)
{
    return fail_at > 0 && ++counter == fail_at;
}

static void *f_realloc(void *ud, void *p, size_t n)
{
    (void)ud;
    if (should_fail()) return NULL;
    return realloc(p, n ? n : 1);
}

static void f_free(void *ud, void *p)
{
    (void)ud;
    free(p);
}

static void *f_cjson_malloc(size_t n)
{
    return should_fail() ? NULL : malloc(n);
}

#endif
