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
static inline int fuzz_io_fsync(void *ud, int fd) { (void)ud, (void)fd; return 0; }
static const lu_io_hooks fuzz_no_fsync = {.fsync = fuzz_io_fsync};   /* NULL fields: the POSIX calls */
#endif

#endif
