/* fuzz_console_line.c -- bytes as what a console client sends: lines,
 * partial lines, NULs, oversized lines, every command and its arguments. */
#include <sys/stat.h>

#include "fuzz.h"
#include "../../engine/console/console_internal.h"
#include "internal.h"
#include "liveupdate/console.h"

static lu_context *ctx;
static lu_console *console;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lu_error err;
    if (!ctx) {
        char dir[300], file[400];
        snprintf(dir, sizeof dir, "%s/vol", fuzz_dir());
        snprintf(file, sizeof file, "%s/a.txt", dir);
        if (mkdir(dir, 0755) != 0) abort();
        fuzz_write(file, (const uint8_t *)"a", 1);
        char base[320];
        snprintf(base, sizeof base, "dir:%s", dir);
        lu_config cfg;
        lu_config_init(&cfg);
        cfg.base_uri = base;
        if (lu_context_open(&cfg, &ctx, &err) != LU_OK || lu_console_open(ctx, 0, &console, &err) != LU_OK) abort();
    }
    char *out = NULL;
    lu__console_answer(console, (const char *)data, size, &out);
    lu_free(ctx, out);
    /* undo what an "add" may have done, so runs stay independent */
    lu_mount_info *m;
    size_t n;
    if (lu_mounts_get(ctx, &m, &n, &err) == LU_OK) {
        for (size_t i = 0; i < n; i++)
            if (m[i].name[0] != '_') lu_mount_remove(ctx, m[i].name, &err);
        lu_free(ctx, m);
    }
    return 0;
}
