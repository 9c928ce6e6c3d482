/* alloc.c -- allocation through the context's allocator hooks.
 *
 * Every allocation the library makes goes through here, so an engine can
 * supply its own allocator and tests can make allocation number N fail.
 * The index's large blocks (lu__block_alloc) are mapped for the purpose
 * when the allocator is the default one, so they can be asked for 2 MiB
 * pages; an engine's allocator serves them as any other block.
 * The same file holds the default file-system hooks (lu_io_hooks), so
 * tests can make I/O call number N fail too.
 * (cJSON and minizip allocate with the C library; see docs/ARCHITECTURE.md.)
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#if defined(__linux__)
#include <sys/mman.h>
#endif

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

#if defined(__linux__) && defined(MADV_HUGEPAGE)
#define BLOCK_MAPPED ((size_t)2 << 20)   /* blocks from this size are mapped */
#define HUGE_PAGE ((size_t)2 << 20)

/* Whether a block of n bytes is mapped: the default allocator's, large. */
static bool block_mapped(const lu_env *env, size_t n)
{
    return env->alloc.realloc_fn == std_realloc && n >= BLOCK_MAPPED;
}

static size_t huge_round(size_t n)
{
    return (n + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
}
#endif

void *lu__block_alloc(const lu_env *env, size_t n)
{
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (block_mapped(env, n)) {
        if (n > SIZE_MAX - 2 * HUGE_PAGE) return NULL;
        /* aligned to 2 MiB: map 2 MiB more, give back the ends */
        size_t len = huge_round(n);
        char *m = mmap(NULL, len + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (m == MAP_FAILED) return NULL;
        char *a = (char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
        if (a > m) munmap(m, (size_t)(a - m));
        if (m + len + HUGE_PAGE > a + len) munmap(a + len, (size_t)(m + len + HUGE_PAGE - (a + len)));
        (void)madvise(a, len, MADV_HUGEPAGE);   /* before any page is touched: advice, the kernel may ignore it */
        return a;
    }
#endif
    return lu__malloc(env, n);
}

void lu__block_free(const lu_env *env, void *p, size_t n)
{
    if (!p) return;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
    if (block_mapped(env, n)) {
        munmap(p, huge_round(n));
        return;
    }
#endif
    lu__free(env, p);
}

static int io_open(void *ud, const char *path, int flags, int mode)
{
    (void)ud;
    return open(path, flags, mode);
}
static long io_read(void *ud, int fd, void *buf, size_t n)
{
    (void)ud;
    return read(fd, buf, n);
}
static long io_write(void *ud, int fd, const void *buf, size_t n)
{
    (void)ud;
    return write(fd, buf, n);
}
static int io_fsync(void *ud, int fd)
{
    (void)ud;
    return fsync(fd);
}
static int io_rename(void *ud, const char *from, const char *to)
{
    (void)ud;
    return rename(from, to);
}
static int io_close(void *ud, int fd)
{
    (void)ud;
    return close(fd);
}

static int io_mkdir(void *ud, const char *path, int mode)
{
    (void)ud;
    return mkdir(path, (mode_t)mode);
}
static int io_unlink(void *ud, const char *path)
{
    (void)ud;
    return unlink(path);
}
static int io_ftruncate(void *ud, int fd, long long length)
{
    (void)ud;
    return ftruncate(fd, (off_t)length);
}
static long io_pread(void *ud, int fd, void *buf, size_t n, long long offset)
{
    (void)ud;
    return pread(fd, buf, n, (off_t)offset);
}

lu_io_hooks lu__default_io(void)
{
    lu_io_hooks io = {io_open, io_read, io_write, io_fsync, io_rename, io_close, NULL,
                      io_mkdir, io_unlink, io_ftruncate, io_pread};
    return io;
}

lu_io_hooks lu__io_complete(const lu_io_hooks *given)
{
    lu_io_hooks io = *given, def = lu__default_io();
    if (!io.open) io.open = def.open;
    if (!io.read) io.read = def.read;
    if (!io.write) io.write = def.write;
    if (!io.fsync) io.fsync = def.fsync;
    if (!io.rename) io.rename = def.rename;
    if (!io.close) io.close = def.close;
    if (!io.mkdir) io.mkdir = def.mkdir;
    if (!io.unlink) io.unlink = def.unlink;
    if (!io.ftruncate) io.ftruncate = def.ftruncate;
    if (!io.pread) io.pread = def.pread;
    return io;
}

long lu__pread(const lu_env *env, int fd, void *buf, size_t n, uint64_t offset)
{
    if (!env->io.pread) return pread(fd, buf, n, (off_t)offset);   /* an environment built without hooks */
    return env->io.pread(env->io.ud, fd, buf, n, (long long)offset);
}

lu_env lu__default_env(void)
{
    lu_env env = {lu__default_allocator(), lu__default_io(), NULL, NULL, 0};
    return env;
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

void lu_free(lu_context *ctx, void *ptr)
{
    if (ctx && ptr) lu__free(&ctx->env, ptr);
}
