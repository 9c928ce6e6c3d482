/* faults.h -- fault injection by counter, the SQLite way, for the tests.
 *
 * One counter counts the calls a test routes through here: the library's
 * allocator (f_realloc, f_free), cJSON's (f_cjson_malloc, installed with
 * cJSON_InitHooks) and the file-system hooks (faults_io(): every field of
 * lu_io_hooks). Set fail_at = N and
 *   fail_mode = FAULT_TRANSIENT   only call N fails (the default);
 *   fail_mode = FAULT_PERSISTENT  call N and every later one fails, as a
 *                                 full disk or a dead allocator would.
 * I/O failures set errno to fail_errno (EIO unless set). `counter` says how
 * many calls were made, `faults_hit` how many were failed. A loop runs the
 * operation for N = 1, 2, ... until it succeeds with counter < N (the fault
 * was never reached): faults_reached() says so. fail_at = 0 turns it off.
 * Counters are atomic: the library's threads and the test share them.
 * Included by the test files that inject faults.
 */
#ifndef LU_TEST_FAULTS_H
#define LU_TEST_FAULTS_H

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "liveupdate/liveupdate.h"

enum { FAULT_TRANSIENT, FAULT_PERSISTENT };

static _Atomic long counter, fail_at, faults_hit;
static _Atomic int fail_mode, fail_errno;

static const char *const fault_mode_names[] = {"transient", "persistent"};

/* Starts run number n in `mode`: the counter from zero, call n fails. */
static inline void faults_arm(long n, int mode)
{
    counter = 0;
    faults_hit = 0;
    fail_mode = mode;
    fail_at = n;
}

/* Stops injecting; returns how many calls were counted. */
static inline long faults_disarm(void)
{
    fail_at = 0;
    return counter;
}

static inline bool should_fail(void)
{
    long at = fail_at;
    if (at <= 0) return false;
    long c = ++counter;
    bool fail = fail_mode == FAULT_PERSISTENT ? c >= at : c == at;
    if (fail) faults_hit++;
    return fail;
}

/* True when the last armed run reached its fault (a call was failed). */
static inline bool faults_reached(void)
{
    return faults_hit > 0;
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

static const lu_allocator faults_allocator = {f_realloc, f_free, NULL};

/* ---- the failing lu_io_hooks -------------------------------------- */

#define FAULTS_FAILING(call) (should_fail() ? (errno = fail_errno ? fail_errno : EIO, -1) : (call))
static int f_open(void *ud, const char *p, int fl, int mode) { (void)ud; return FAULTS_FAILING(open(p, fl, mode)); }
static long f_read(void *ud, int fd, void *b, size_t n) { (void)ud; return FAULTS_FAILING(read(fd, b, n)); }
static long f_write(void *ud, int fd, const void *b, size_t n) { (void)ud; return FAULTS_FAILING(write(fd, b, n)); }
static int f_fsync(void *ud, int fd) { (void)ud; return FAULTS_FAILING(fsync(fd)); }
static int f_rename(void *ud, const char *a, const char *b) { (void)ud; return FAULTS_FAILING(rename(a, b)); }
/* a failed close still closes (as POSIX says for EIO): no descriptor leaks */
static int f_close(void *ud, int fd)
{
    (void)ud;
    int r = close(fd);
    return should_fail() ? (errno = fail_errno ? fail_errno : EIO, -1) : r;
}
static int f_mkdir(void *ud, const char *p, int mode) { (void)ud; return FAULTS_FAILING(mkdir(p, (mode_t)mode)); }
static int f_unlink(void *ud, const char *p) { (void)ud; return FAULTS_FAILING(unlink(p)); }
static int f_ftruncate(void *ud, int fd, long long n) { (void)ud; return FAULTS_FAILING(ftruncate(fd, (off_t)n)); }
static long f_pread(void *ud, int fd, void *b, size_t n, long long off)
{
    (void)ud;
    return FAULTS_FAILING(pread(fd, b, n, (off_t)off));
}

/* Every hook of lu_io_hooks, each counted and failed as set above. */
static inline lu_io_hooks faults_io(void)
{
    lu_io_hooks io = {f_open, f_read, f_write, f_fsync, f_rename, f_close, NULL,
                      f_mkdir, f_unlink, f_ftruncate, f_pread};
    return io;
}

#endif
