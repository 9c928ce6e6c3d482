/* fuzz_mounts_file.c -- bytes as <save>/liveupdate.mounts, then a context
 * opens that save dir (docs/FORMATS.md: a corrupt file is moved aside, never a crash). */
#include "fuzz.h"
#include "liveupdate/liveupdate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[256];
    snprintf(path, sizeof path, "%s/liveupdate.mounts", fuzz_dir());
    fuzz_write(path, data, size);
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = fuzz_dir();
    lu_context *ctx;
    lu_error err;
    if (lu_context_open(&cfg, &ctx, &err) == LU_OK) {
        for (size_t i = 0; i < lu_startup_report_count(ctx); i++) {
            lu_report_item it;
            lu_startup_report_get(ctx, i, &it);
            if (strcmp(it.action, "moved_aside") == 0) {
                /* keep the scratch dir small: remove what was moved aside */
                const char *to = strstr(it.message, "moved aside to '");
                if (to) {
                    char p[512];
                    snprintf(p, sizeof p, "%s", to + 16);
                    char *q = strchr(p, '\'');
                    if (q) *q = '\0';
                    unlink(p);
                }
            }
        }
        lu_context_close(ctx);
    }
    unlink(path);
    return 0;
}
