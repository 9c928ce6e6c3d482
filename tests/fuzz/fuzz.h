/* fuzz.h -- shared by the fuzz targets (tests/fuzz/fuzz_*.c).
 *
 * Each target defines LLVMFuzzerTestOneInput. Built with clang's libFuzzer
 * by tools/fuzz, or with replay_main.c into a plain program that replays a
 * corpus (the normal test suite does that for tests/fuzz/corpus/<target>).
 */
#ifndef LU_FUZZ_H
#define LU_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A scratch directory that lives as long as the process. */
static inline const char *fuzz_dir(void)
{
    static char dir[64];
    if (!dir[0]) {
        snprintf(dir, sizeof dir, "/tmp/lufuzz.XXXXXX");
        if (!mkdtemp(dir)) abort();
    }
    return dir;
}

static inline void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    if (!f) abort();
    if (size && fwrite(data, 1, size, f) != size) abort();
    fclose(f);
}

#ifdef LIVEUPDATE_H
#include <fcntl.h>

/* The POSIX calls without fsync: for targets that write the save directory
 * on every input, durability is not what is tested and fsync would be most
 * of the time spent. */
static inline int fuzz_io_open(void *ud, const char *path, int flags, int mode) { (void)ud; return open(path, flags, mode); }
static inline long fuzz_io_read(void *ud, int fd, void *buf, size_t n) { (void)ud; return (long)read(fd, buf, n); }
static inline long fuzz_io_write(void *ud, int fd, const void *buf, size_t n) { (void)ud; return (long)write(fd, buf, n); }
static inline int fuzz_io_fsync(void *ud, int fd) { (void)ud, (void)fd; return 0; }
static inline int fuzz_io_rename(void *ud, const char *from, const char *to) { (void)ud; return rename(from, to); }
static inline int fuzz_io_close(void *ud, int fd) { (void)ud; return close(fd); }
static const lu_io_hooks fuzz_no_fsync = {fuzz_io_open, fuzz_io_read, fuzz_io_write, fuzz_io_fsync,
                                          fuzz_io_rename, fuzz_io_close, NULL};
#endif

#endif
