/* crash.h -- what the SIGKILL tests of the update layers share.
 *
 * A tiny HTTP/1.1 file server in a forked process (GET and HEAD, an ETag,
 * Range with If-Range, Connection: close; it dies with the test), and the
 * kill driver. The driver forks a child that does the work under test with
 * lu_io_hooks that report every completed open, write, fsync, rename and
 * close as one byte on a pipe. For each kill the parent draws a number of
 * completed operations N, waits until the child reported N of them and
 * kills it: half of the kills land exactly after operation N (the child
 * waits there), the other half at a random moment after it, while the
 * child runs on. Kill points are counted in the child's own operations, not
 * in wall-clock time, so the tests hold on a busy machine. A rename onto
 * "state.json" first appends the new text to a log (the parent checks that
 * the file after a kill is the old text or one the child wrote).
 */
#ifndef LU_TEST_CRASH_H
#define LU_TEST_CRASH_H

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <time.h>

#include "helpers.h"

/* ---- the HTTP server ------------------------------------------------- */

static inline void cs_send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) continue;
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

/* One request on `fd`: serves root/<path>. The body goes out in 4 KiB
 * pieces so the client writes its .part in many steps. */
static inline void cs_serve_one(int fd, const char *root)
{
    char req[8192];
    size_t got = 0;
    while (got < sizeof req - 1) {
        ssize_t r = recv(fd, req + got, sizeof req - 1 - got, 0);
        if (r <= 0) return;
        got += (size_t)r;
        req[got] = '\0';
        if (strstr(req, "\r\n\r\n")) break;
    }
    char method[8], path[1024];
    if (sscanf(req, "%7s %1023s", method, path) != 2 || strstr(path, "..")) return;
    char *q = strchr(path, '?');
    if (q) *q = '\0';
    char file[PATH_MAX];
    snprintf(file, sizeof file, "%s%s", root, path);
    struct stat sb;
    char head[1024];
    int fin = stat(file, &sb) == 0 && S_ISREG(sb.st_mode) ? open(file, O_RDONLY) : -1;
    if (fin < 0) {
        snprintf(head, sizeof head, "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
        cs_send_all(fd, head, strlen(head));
        return;
    }
    char etag[64];
    snprintf(etag, sizeof etag, "\"%llx-%llx\"", (unsigned long long)sb.st_size,
             (unsigned long long)sb.st_mtim.tv_sec * 1000000000ull + (unsigned long long)sb.st_mtim.tv_nsec);
    unsigned long long from = 0;
    const char *range = strcasestr(req, "\r\nRange: bytes=");
    const char *ifr = strcasestr(req, "\r\nIf-Range: ");
    bool partial = range && sscanf(range + 15, "%llu-", &from) == 1 && from < (unsigned long long)sb.st_size &&
                   (!ifr || strncmp(ifr + 12, etag, strlen(etag)) == 0);
    if (!partial) from = 0;
    unsigned long long len = (unsigned long long)sb.st_size - from;
    if (partial)
        snprintf(head, sizeof head,
                 "HTTP/1.1 206 Partial Content\r\nContent-Length: %llu\r\nContent-Range: bytes %llu-%llu/%llu\r\n"
                 "ETag: %s\r\nConnection: close\r\n\r\n",
                 len, from, (unsigned long long)sb.st_size - 1, (unsigned long long)sb.st_size, etag);
    else
        snprintf(head, sizeof head, "HTTP/1.1 200 OK\r\nContent-Length: %llu\r\nETag: %s\r\nConnection: close\r\n\r\n",
                 len, etag);
    cs_send_all(fd, head, strlen(head));
    if (strcmp(method, "HEAD") != 0) {
        char buf[4096];
        lseek(fin, (off_t)from, SEEK_SET);
        ssize_t r;
        while ((r = read(fin, buf, sizeof buf)) > 0) cs_send_all(fd, buf, (size_t)r);
    }
    close(fin);
}

/* Starts the server on a loopback port for the files under `root`; returns
 * its base URL ("http://127.0.0.1:<port>"). The server process is killed
 * when the test process ends. */
static inline const char *cs_http_server(const char *root)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    cr_assert(s >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    cr_assert_eq(bind(s, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(s, 64), 0);
    cr_assert_eq(getsockname(s, (struct sockaddr *)&a, &alen), 0);
    pid_t parent = getpid();
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent) _exit(0);
        for (;;) {
            int c = accept(s, NULL, NULL);
            if (c < 0) continue;
            cs_serve_one(c, root);
            close(c);
        }
    }
    close(s);
    static char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", ntohs(a.sin_port));
    return url;
}

/* ---- the child's io hooks ---------------------------------------------- */

static struct {
    int report;            /* pipe to the parent */
    long ops, stop_at;     /* completed operations; wait for the kill after this one (0: never) */
    const char *state_log; /* texts renamed onto state.json, each followed by a NUL, or NULL */
} cs_child;

static inline void cs_done_op(void)
{
    char b = 'o';
    if (write(cs_child.report, &b, 1) != 1) _exit(90);
    if (++cs_child.ops == cs_child.stop_at)
        for (;;) pause();
}

/* The child reports one of its own steps ('C') or the end of its work ('D'). */
static inline void cs_mark(char what)
{
    if (write(cs_child.report, &what, 1) != 1) _exit(91);
}

static inline int cs_open(void *ud, const char *path, int flags, int mode)
{
    (void)ud;
    int fd = open(path, flags, mode);
    int e = errno;
    cs_done_op();
    errno = e;
    return fd;
}
static inline long cs_read(void *ud, int fd, void *buf, size_t n)
{
    (void)ud;
    return read(fd, buf, n);
}
static inline long cs_write(void *ud, int fd, const void *buf, size_t n)
{
    (void)ud;
    long w = write(fd, buf, n);
    int e = errno;
    cs_done_op();
    errno = e;
    return w;
}
static inline int cs_fsync(void *ud, int fd)
{
    (void)ud;
    int rc = fsync(fd);
    int e = errno;
    cs_done_op();
    errno = e;
    return rc;
}
static inline int cs_rename(void *ud, const char *from, const char *to)
{
    (void)ud;
    size_t tl = strlen(to);
    if (cs_child.state_log && tl >= 11 && strcmp(to + tl - 11, "/state.json") == 0) {
        /* log the text before it can be in place */
        int in = open(from, O_RDONLY), out = open(cs_child.state_log, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (in < 0 || out < 0) _exit(92);
        char buf[4096];
        ssize_t r;
        while ((r = read(in, buf, sizeof buf)) > 0)
            if (write(out, buf, (size_t)r) != r) _exit(93);
        if (write(out, "", 1) != 1) _exit(93);
        close(in);
        close(out);
    }
    int rc = rename(from, to);
    int e = errno;
    cs_done_op();
    errno = e;
    return rc;
}
static inline int cs_close(void *ud, int fd)
{
    (void)ud;
    int rc = close(fd);
    int e = errno;
    cs_done_op();
    errno = e;
    return rc;
}

static const lu_io_hooks cs_hooks = {
    .open = cs_open, .read = cs_read, .write = cs_write, .fsync = cs_fsync, .rename = cs_rename, .close = cs_close};

/* ---- the parent's side --------------------------------------------------- */

typedef struct cs_run {
    long ops;    /* operations the child completed before the kill (at least) */
    int steps;   /* 'C' marks before the kill */
    bool done;   /* the child finished its work ('D') */
} cs_run;

/* Forks a child that runs `work(arg)` with cs_hooks reporting to the
 * parent, then waits to be killed. The parent kills it after `kill_after`
 * operations (exactly there when `exact`, else a little later while it
 * runs on) or once it finished; -1: only once it finished. Asserts that the
 * child died of the kill, not of a failure of its own (exit code = where). */
static inline cs_run cs_run_child(void (*work)(void *), void *arg, long kill_after, bool exact, const char *state_log,
                           int kill_no, unsigned seed)
{
    int fds[2];
    cr_assert_eq(pipe(fds), 0);
    pid_t pid = fork();
    cr_assert(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        cs_child.report = fds[1];
        cs_child.ops = 0;
        cs_child.stop_at = exact ? kill_after : 0;
        cs_child.state_log = state_log;
        work(arg);
        cs_mark('D');
        for (;;) pause();
    }
    close(fds[1]);
    cs_run run = {0};
    for (;;) {
        if (kill_after >= 0 && run.ops >= kill_after) break;
        char b;
        ssize_t r = read(fds[0], &b, 1);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) break;
        if (b == 'o') run.ops++;
        else if (b == 'C') run.steps++;
        else if (b == 'D') {
            run.done = true;
            break;
        }
    }
    /* a random moment inside the operations that follow (only spreads the
     * kills; nothing depends on it) */
    if (!exact && !run.done) usleep((useconds_t)(rand() % 1500));
    kill(pid, SIGKILL);
    int status;
    waitpid(pid, &status, 0);
    /* what the child reported before it died counts too */
    char b;
    while (read(fds[0], &b, 1) == 1) {
        if (b == 'o') run.ops++;
        else if (b == 'C') run.steps++;
        else if (b == 'D') run.done = true;
    }
    close(fds[0]);
    cr_assert(WIFSIGNALED(status), "kill %d (seed %u): the child failed by itself with exit code %d", kill_no, seed,
              WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    return run;
}

/* The kills to make (LU_CRASH_KILLS overrides) and the seed (LU_CRASH_SEED). */
static inline int cs_kills(int dflt)
{
    const char *env = getenv("LU_CRASH_KILLS");
    return env ? atoi(env) : dflt;
}
static inline unsigned cs_seed(void)
{
    const char *env = getenv("LU_CRASH_SEED");
    unsigned seed = env ? (unsigned)strtoul(env, NULL, 10) : (unsigned)time(NULL) ^ (unsigned)getpid();
    srand(seed);
    return seed;
}

/* True when `path` holds exactly `len` bytes equal to `data`. */
static inline bool cs_file_is(const char *path, const char *data, size_t len)
{
    size_t n;
    char *got = th_read_file(path, &n);
    return got && n == len && memcmp(got, data, len) == 0;
}

/* Removes a directory tree (a save directory between rounds). */
static inline void cs_rmrf(const char *dir)
{
    char cmd[PATH_MAX + 16];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    cr_assert_eq(system(cmd), 0);
}

/* A zip of one entry /x.txt = `text` followed by `pad` pseudo-random,
 * incompressible bytes in /pad.bin (no NUL: th_make_zip takes strings). */
static inline void cs_make_volume(const char *path, const char *text, size_t pad, unsigned seed)
{
    char *bytes = malloc(pad + 1);
    for (size_t i = 0; i < pad; i++) {
        seed = seed * 1103515245u + 12345u;
        bytes[i] = (char)(1 + (seed >> 16) % 255);
    }
    bytes[pad] = '\0';
    th_make_zip(path, (const char *[]){"x.txt", text, "pad.bin", bytes, NULL});
    free(bytes);
}

#endif
