/* fsutil.c -- the file-system operations the library needs to be crash-safe.
 *
 * lu__fs_write_atomic is the one way a durable file is written: a temporary
 * file, fsync, rename over the old file, fsync of the directory. A crash or
 * a failure at any point leaves the old file or the new one, never a mix.
 * lu__fs_install finishes a file written elsewhere (a download's .part) the
 * same way: fsync, rename, fsync of the directory. Both go through the
 * context's lu_io_hooks.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"

char *lu__path_join(const lu_env *env, const char *dir, const char *name)
{
    size_t dl = strlen(dir);
    while (dl > 1 && dir[dl - 1] == '/') dl--;
    size_t n = dl + 1 + strlen(name) + 1;
    char *p = lu__malloc(env, n);
    if (p) snprintf(p, n, "%.*s/%s", (int)dl, dir, name);
    return p;
}

static lu_status io_fail(lu_error *err, const char *what, const char *path)
{
    int e = errno;
    lu_status st = lu__errno_status(e);
    if (st == LU_NOT_FOUND || st == LU_INVAL) st = LU_IO_ERROR;
    return lu__fail(err, st, "%s '%s': %s", what, path, strerror(e));
}

/* fsyncs a directory so a rename in it is durable. A failure only delays
 * durability (after a power cut the directory holds the old name or the new
 * one), so it is not reported. */
static void sync_dir(const lu_io_hooks *io, const char *dir)
{
    int dfd = io->open(io->ud, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0);
    if (dfd >= 0) {
        io->fsync(io->ud, dfd);
        io->close(io->ud, dfd);
    }
}

lu_status lu__fs_write_atomic(const lu_env *env, const char *dir, const char *name, const void *data,
                              size_t len, lu_error *err)
{
    const lu_io_hooks *io = &env->io;
    char final[PATH_MAX], tmp[PATH_MAX];
    if (snprintf(final, sizeof final, "%s/%s", dir, name) >= (int)sizeof final ||
        snprintf(tmp, sizeof tmp, "%s/%s.tmp", dir, name) >= (int)sizeof tmp)
        return lu__fail(err, LU_INVAL, "path too long: '%s/%s'", dir, name);
    lu_status st = LU_OK;
    int fd = io->open(io->ud, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) return io_fail(err, "cannot create", tmp);
    size_t done = 0;
    while (done < len) {
        long w = io->write(io->ud, fd, (const char *)data + done, len - done);
        if (w < 0 && errno == EINTR) continue;
        if (w < 0) {
            st = io_fail(err, "cannot write", tmp);
            goto cleanup;
        }
        done += (size_t)w;
    }
    if (io->fsync(io->ud, fd) != 0) {
        st = io_fail(err, "cannot fsync", tmp);
        goto cleanup;
    }
    int rc = io->close(io->ud, fd);
    fd = -1;
    if (rc != 0) {
        st = io_fail(err, "cannot close", tmp);
        goto cleanup;
    }
    if (io->rename(io->ud, tmp, final) != 0) {
        st = io_fail(err, "cannot rename over", final);
        goto cleanup;
    }
    /* After the rename the new file is in place and the caller's table must
     * match it, so this counts as success (see sync_dir). */
    sync_dir(io, dir);
    return LU_OK;
cleanup:
    if (fd >= 0) io->close(io->ud, fd);
    if (st != LU_OK) io->unlink(io->ud, tmp);
    return st;
}

lu_status lu__fs_install(const lu_env *env, const char *from, const char *to, lu_error *err)
{
    const lu_io_hooks *io = &env->io;
    char dir[PATH_MAX];
    const char *slash = strrchr(to, '/');
    if (snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - to) : 1, slash ? to : ".") >= (int)sizeof dir)
        return lu__fail(err, LU_INVAL, "path too long: '%s'", to);
    if (slash == to) snprintf(dir, sizeof dir, "/");
    int fd = io->open(io->ud, from, O_RDONLY | O_CLOEXEC, 0);
    int rc = fd >= 0 ? io->fsync(io->ud, fd) : -1, e = errno;
    if (fd >= 0 && io->close(io->ud, fd) != 0 && rc == 0) rc = -1, e = errno;
    if (rc != 0)
        return lu__fail(err, lu__errno_status(e) == LU_NO_SPACE ? LU_NO_SPACE : LU_IO_ERROR, "cannot sync '%s': %s",
                        from, strerror(e));
    if (io->rename(io->ud, from, to) != 0) {
        e = errno;
        return lu__fail(err, lu__errno_status(e) == LU_NO_SPACE ? LU_NO_SPACE : LU_IO_ERROR,
                        "cannot move '%s' to '%s': %s", from, to, strerror(e));
    }
    sync_dir(io, dir);
    return LU_OK;
}

lu_status lu__fs_copy_atomic(const lu_env *env, const char *from, const char *to, lu_error *err)
{
    const lu_io_hooks *io = &env->io;
    char tmp[PATH_MAX];
    if (snprintf(tmp, sizeof tmp, "%s.tmp", to) >= (int)sizeof tmp) return lu__fail(err, LU_INVAL, "path too long: '%s'", to);
    int in = io->open(io->ud, from, O_RDONLY | O_CLOEXEC, 0);
    if (in < 0) {
        int e = errno;
        return lu__fail(err, e == ENOENT ? LU_NOT_FOUND : LU_IO_ERROR, "cannot open '%s': %s", from, strerror(e));
    }
    int out = io->open(io->ud, tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (out < 0) {
        io->close(io->ud, in);
        return io_fail(err, "cannot create", tmp);
    }
    lu_status st = LU_OK;
    char buf[65536];
    for (;;) {
        long r = io->read(io->ud, in, buf, sizeof buf);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            st = io_fail(err, "cannot read", from);
            break;
        }
        if (r == 0) break;
        for (long done = 0; done < r;) {
            long w = io->write(io->ud, out, buf + done, (size_t)(r - done));
            if (w < 0 && errno == EINTR) continue;
            if (w < 0) {
                st = io_fail(err, "cannot write", tmp);
                break;
            }
            done += w;
        }
        if (st != LU_OK) break;
    }
    io->close(io->ud, in);
    if (io->close(io->ud, out) != 0 && st == LU_OK) st = io_fail(err, "cannot close", tmp);
    if (st == LU_OK) st = lu__fs_install(env, tmp, to, err);   /* fsync, rename, directory fsync */
    if (st != LU_OK) io->unlink(io->ud, tmp);
    return st;
}

lu_status lu__fs_read_all(const lu_env *env, const char *path, char **data, size_t *len,
                          lu_error *err)
{
    *data = NULL;
    *len = 0;
    lu_status st = LU_OK;
    char *buf = NULL;
    const lu_io_hooks *io = &env->io;
    int fd = io->open(io->ud, path, O_RDONLY | O_CLOEXEC, 0);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int e = errno;
        st = lu__fail(err, lu__errno_status(e), "cannot open '%s': %s", path, strerror(e));
        goto cleanup;
    }
    size_t cap = (size_t)sb.st_size, n = 0;
    buf = lu__malloc(env, cap + 1);
    if (!buf) {
        st = lu__fail(err, LU_MEM_ERROR, "out of memory reading '%s'", path);
        goto cleanup;
    }
    while (n < cap) {
        long r = io->read(io->ud, fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            int e = errno;
            st = lu__fail(err, LU_IO_ERROR, "cannot read '%s': %s", path, strerror(e));
            goto cleanup;
        }
        if (r == 0) break;
        n += (size_t)r;
    }
    buf[n] = '\0';
    *data = buf;
    *len = n;
    buf = NULL;
cleanup:
    lu__free(env, buf);
    if (fd >= 0) io->close(io->ud, fd);
    return st;
}

lu_status lu__fs_mkdirs(const lu_env *env, const char *path, lu_error *err)
{
    const lu_io_hooks *io = &env->io;
    char p[PATH_MAX];
    struct stat sb;
    if (snprintf(p, sizeof p, "%s", path) >= (int)sizeof p)
        return lu__fail(err, LU_INVAL, "path too long: '%s'", path);
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) return LU_OK;   /* the usual case: nothing to create */
    for (char *s = p + 1;; s++) {
        if (*s == '/' || *s == '\0') {
            char c = *s;
            *s = '\0';
            if (io->mkdir(io->ud, p, 0755) != 0 && errno != EEXIST) {
                int e = errno;
                return lu__fail(err, lu__errno_status(e) == LU_NO_SPACE ? LU_NO_SPACE : LU_IO_ERROR,
                                "cannot create directory '%s': %s", p, strerror(e));
            }
            *s = c;
            if (!c) break;
        }
    }
    if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
        return lu__fail(err, LU_IO_ERROR, "'%s' is not a directory", path);
    return LU_OK;
}

lu_status lu__fs_move_aside(const lu_env *env, const char *dir, const char *name, char **moved_to,
                            lu_error *err)
{
    *moved_to = NULL;
    const lu_io_hooks *io = &env->io;
    char from[PATH_MAX], to[PATH_MAX], stamp[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    if (snprintf(from, sizeof from, "%s/%s", dir, name) >= (int)sizeof from)
        return lu__fail(err, LU_INVAL, "path too long: '%s/%s'", dir, name);
    int i = 0;
    for (; i < 1000; i++) {
        int n = i == 0 ? snprintf(to, sizeof to, "%s.corrupt-%s", from, stamp)
                       : snprintf(to, sizeof to, "%s.corrupt-%s-%d", from, stamp, i);
        if (n >= (int)sizeof to) return lu__fail(err, LU_INVAL, "path too long: '%s'", from);
        if (access(to, F_OK) != 0) break;
    }
    if (i == 1000) return lu__fail(err, LU_IO_ERROR, "cannot move '%s' aside: 1000 copies are there already", from);
    if (io->rename(io->ud, from, to) != 0) return io_fail(err, "cannot move aside", from);
    *moved_to = lu__strdup(env, to);   /* NULL when out of memory: the move happened all the same */
    return LU_OK;
}
