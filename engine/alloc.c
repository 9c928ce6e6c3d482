/* alloc.c -- allocation through the context's allocator hooks.
 *
 * Every allocation the library makes goes through here, so an engine can
 * supply its own allocator and tests can make allocation number N fail.
 * (cJSON and minizip allocate with the C library; see docs/ARCHITECTURE.md.)
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

static void *std_realloc(void *ud, void *p, size_t n)
{
    (void)ud;
    return realloc(p, n ? n : 1);
}

static void std_free(void *ud, void *p)
{
    (void)ud;
    free(p);
}

lu_allocator lu__default_allocator(void)
{
    lu_allocator a = {std_realloc, std_free, NULL};
    return a;
}

void *lu__malloc(const lu_env *env, size_t n)
{
    return env->alloc.realloc_fn(env->alloc.ud, NULL, n);
}

void *lu__calloc(const lu_env *env, size_t count, size_t n)
{
    if (n && count > SIZE_MAX / n) return NULL;
    void *p = lu__malloc(env, count * n);
    if (p) memset(p, 0, count * n);
    return p;
}

void *lu__realloc(const lu_env *env, void *p, size_t n)
{
    return env->alloc.realloc_fn(env->alloc.ud, p, n);
}

void lu__free(const lu_env *env, void *p)
{
    if (p) env->alloc.free_fn(env->alloc.ud, p);
}

char *lu__strndup(const lu_env *env, const char *s, size_t n)
{
    char *d = lu__malloc(env, n + 1);
    if (!d) return NULL;
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *lu__strdup(const lu_env *env, const char *s)
{
    return lu__strndup(env, s, strlen(s));
}
