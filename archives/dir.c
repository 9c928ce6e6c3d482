/* dir.c -- the "dir" archive backend: a directory tree as a volume.
 *
 * Open walks the tree once (regular files only; symlinks are not followed,
 * so a volume cannot reach outside its folder) and records every file with
 * its size. Reads open the file relative to the directory descriptor taken
 * at mount time. The index is a picture of the tree at mount time: a file
 * that changed size since is reported, not half-read; remount to pick up
 * new files.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"

#define DIR_MAX_DEPTH 64

typedef struct dir_state {
    const lu_env *env;   /* reads go through its I/O hooks */
    int fd;
    char *path;
} dir_state;

static void dir_close(const lu_env *env, void *state)
{
    dir_state *d = state;
    if (!d) return;
    if (d->fd >= 0) close(d->fd);
    lu__free(env, d->path);
    lu__free(env, d);
}

/* Adds the files below `dfd` (whose relative name is rel[0..rlen)). */
static lu_status walk(const lu_env *env, const char *root, int dfd, char *rel, size_t rlen,
                      int depth, lu_entries *tb, lu_error *err)
{
    if (depth > DIR_MAX_DEPTH)
        return lu__fail(err, LU_UNSAFE_ARCHIVE, "'%s': deeper than %d levels at '%.*s'", root,
                        DIR_MAX_DEPTH, (int)rlen, rel);
    lu_status st = LU_OK;
    DIR *dir = fdopendir(dfd);
    if (!dir) {
        int e = errno;
        close(dfd);
        return lu__fail(err, LU_IO_ERROR, "'%s': cannot list '%.*s': %s", root, (int)rlen, rel,
                        strerror(e));
    }
    struct dirent *de;
    while (st == LU_OK && (de = readdir(dir)) != NULL) {
        const char *n = de->d_name;
        if (strcmp(n, ".") == 0 || strcmp(n, "..") == 0) continue;
        size_t nlen = strlen(n);
        if (rlen + nlen + 2 > 4096) {
            st = lu__fail(err, LU_INVAL, "'%s': path too long under '%.*s'", root, (int)rlen, rel);
            break;
        }
        struct stat sb;
        if (fstatat(dirfd(dir), n, &sb, AT_SYMLINK_NOFOLLOW) != 0) continue; /* vanished */
        size_t l = rlen;
        if (l) rel[l++] = '/';
        memcpy(rel + l, n, nlen + 1);
        if (S_ISREG(sb.st_mode)) {
            st = lu__entries_add(tb, rel, l + nlen, (uint64_t)sb.st_size, 0, err);
            if (st != LU_OK) lu__error_prefix(err, "'%s'", root);
        } else if (S_ISDIR(sb.st_mode)) {
            int sub = openat(dirfd(dir), n, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (sub < 0) {
                int e = errno;
                st = lu__fail(err, LU_IO_ERROR, "'%s': cannot open '%s': %s", root, rel,
                              strerror(e));
            } else {
                st = walk(env, root, sub, rel, l + nlen, depth + 1, tb, err);
            }
        }
        rel[rlen] = '\0';
    }
    closedir(dir);
    return st;
}

static lu_status dir_open(const lu_env *env, const char *path, lu_entries *tb, void **state,
                          int *claimed, lu_error *err)
{
    lu_status st = LU_OK;
    char *rel = NULL;
    *claimed = 0;
    dir_state *d = lu__calloc(env, 1, sizeof *d);
    if (!d) return lu__fail(err, LU_MEM_ERROR, "'%s': out of memory", path);
    d->fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (d->fd < 0) {
        int e = errno;
        st = e == ENOTDIR ? lu__fail(err, LU_SCHEME_MISMATCH, "'%s' is not a directory", path)
                          : lu__fail(err, lu__errno_status(e), "cannot open directory '%s': %s",
                                     path, strerror(e));
        goto cleanup;
    }
    *claimed = 1;
    d->env = env;
    d->path = lu__strdup(env, path);
    rel = lu__malloc(env, 4096);
    int walk_fd = dup(d->fd);
    if (!d->path || !rel || walk_fd < 0) {
        if (walk_fd >= 0) close(walk_fd);
        st = lu__fail(err, LU_MEM_ERROR, "'%s': out of memory", path);
        goto cleanup;
    }
    rel[0] = '\0';
    st = walk(env, path, walk_fd, rel, 0, 0, tb, err);
    if (st != LU_OK) goto cleanup;
    *state = d;
    d = NULL;
cleanup:
    lu__free(env, rel);
    dir_close(env, d);
    return st;
}

static lu_status dir_read(void *state, const lu_entries *tb, const lu_entry *e, void *buf,
                          lu_error *err)
{
    dir_state *d = state;
    const char *rel = lu__entry_path(tb, e) + 1;
    lu_status st = LU_OK;
    int fd = openat(d->fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int e2 = errno;
        st = lu__fail(err, lu__errno_status(e2) == LU_NOT_FOUND ? LU_NOT_FOUND : LU_IO_ERROR,
                      "'%s': cannot open '%s': %s", d->path, rel, strerror(e2));
        goto cleanup;
    }
    if ((uint64_t)sb.st_size != e->size) {
        st = lu__fail(err, LU_FORMAT_ERROR,
                      "'%s': '%s' changed size since it was mounted (%llu, now %llu bytes); "
                      "remount to see the new file",
                      d->path, rel, (unsigned long long)e->size, (unsigned long long)sb.st_size);
        goto cleanup;
    }
    uint64_t got = 0;
    while (got < e->size) {
        long r = lu__pread(d->env, fd, (char *)buf + got, (size_t)(e->size - got), got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            st = lu__fail(err, LU_IO_ERROR, "'%s': reading '%s' failed: %s", d->path, rel,
                          r < 0 ? strerror(errno) : "file shrank");
            goto cleanup;
        }
        got += (uint64_t)r;
    }
cleanup:
    if (fd >= 0) close(fd);
    return st;
}

/* ---- streams (interface version 2): the file opened once, read by pread */

typedef struct dir_stream {
    const lu_env *env;
    int fd;
    uint64_t pos, size;
    const char *root, *rel;   /* the volume's state and table outlive the stream */
} dir_stream;

static void dir_stream_close(void *stream)
{
    dir_stream *s = stream;
    if (!s) return;
    if (s->fd >= 0) close(s->fd);
    lu__free(s->env, s);
}

static lu_status dir_stream_open(const lu_env *env, void *state, const lu_entries *tb, const lu_entry *e,
                                 void **stream, lu_error *err)
{
    dir_state *d = state;
    *stream = NULL;
    dir_stream *s = lu__calloc(env, 1, sizeof *s);
    const char *rel = lu__entry_path(tb, e) + 1;
    if (!s) return lu__fail(err, LU_MEM_ERROR, "'%s': '%s': out of memory", d->path, rel);
    *s = (dir_stream){env, -1, 0, e->size, d->path, rel};
    lu_status st = LU_OK;
    struct stat sb;
    s->fd = openat(d->fd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (s->fd < 0 || fstat(s->fd, &sb) != 0) {
        int e2 = errno;
        st = lu__fail(err, lu__errno_status(e2) == LU_NOT_FOUND ? LU_NOT_FOUND : LU_IO_ERROR,
                      "'%s': cannot open '%s': %s", d->path, rel, strerror(e2));
    } else if ((uint64_t)sb.st_size != e->size) {
        st = lu__fail(err, LU_FORMAT_ERROR,
                      "'%s': '%s' changed size since it was mounted (%llu, now %llu bytes); "
                      "remount to see the new file",
                      d->path, rel, (unsigned long long)e->size, (unsigned long long)sb.st_size);
    }
    if (st != LU_OK) {
        dir_stream_close(s);
        return st;
    }
    *stream = s;
    return LU_OK;
}

static lu_status dir_stream_read(void *stream, void *buf, size_t cap, size_t *got, lu_error *err)
{
    dir_stream *s = stream;
    *got = 0;
    size_t want = s->size - s->pos < cap ? (size_t)(s->size - s->pos) : cap;
    while (*got < want) {
        long r = lu__pread(s->env, s->fd, (char *)buf + *got, want - *got, s->pos + *got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            *got = 0;
            return lu__fail(err, LU_IO_ERROR, "'%s': reading '%s' failed: %s", s->root, s->rel,
                            r < 0 ? strerror(errno) : "file shrank");
        }
        *got += (size_t)r;
    }
    s->pos += *got;
    return LU_OK;
}

static lu_status dir_stream_seek(void *stream, uint64_t offset, lu_error *err)
{
    ((dir_stream *)stream)->pos = offset;
    return LU_OK;
}

const lu_archive_ops lu__archive_dir = {
    LU_ARCHIVE_INTERFACE_VERSION, "dir", dir_open, dir_read, dir_close,
    dir_stream_open, dir_stream_read, dir_stream_seek, dir_stream_close,
};
