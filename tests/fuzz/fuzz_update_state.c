/* fuzz_update_state.c -- bytes as <save>/update/state.json, then the update
 * manager opens on that save directory the way lurun starts it: the state
 * is read, a trial is rolled back or goes on, releases for another binary
 * are dropped, a staged release is applied, the state is written again.
 * Two release volumes are at hand (volumes/rel-1.1-content.zip and
 * rel-2.0-content.zip) so that states naming them get past the mount.
 * docs/UPDATES.md: a corrupt state is moved aside, never a crash; the mount table
 * is then as the state says or as before. Everything is reset per input. */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <sys/stat.h>

#include "liveupdate/liveupdate.h"
#include "liveupdate/updater.h"
#include "fuzz.h"

static char save[300], base_zip[400];

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag;
    if (ftw->level > 0) remove(path);
    return 0;
}

static void make_zip(const char *path, const char *text)
{
    lu_zip_writer *w;
    lu_error err;
    if (lu_zip_writer_open(path, &w, &err) != LU_OK || lu_zip_writer_add(w, "x.txt", text, strlen(text), 6, &err) != LU_OK ||
        lu_zip_writer_close(w, &err) != LU_OK)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!save[0]) {
        snprintf(save, sizeof save, "%s/save", fuzz_dir());
        snprintf(base_zip, sizeof base_zip, "%s/base.zip", fuzz_dir());
        make_zip(base_zip, "base");
    }
    nftw(save, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
    char p[512];
    mkdir(save, 0755);
    snprintf(p, sizeof p, "%s/volumes", save);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/volumes/rel-1.1-content.zip", save);
    make_zip(p, "1.1");
    snprintf(p, sizeof p, "%s/volumes/rel-2.0-content.zip", save);
    make_zip(p, "2.0");
    snprintf(p, sizeof p, "%s/update", save);
    mkdir(p, 0755);
    snprintf(p, sizeof p, "%s/update/state.json", save);
    fuzz_write(p, data, size);

    char base[450];
    snprintf(base, sizeof base, "zip:%s", base_zip);
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    cfg.base_uri = base;
    cfg.io = &fuzz_no_fsync;
    lu_context *ctx;
    lu_error err;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) abort();
    lu_updater_config ucfg;
    lu_updater_config_init(&ucfg);
    ucfg.local_version = "1.0";
    ucfg.binary_version = "1.0";
    if (lu_updater_open(ctx, &ucfg, &err) == LU_OK) {
        lu_updater_info info;
        if (lu_updater_get_info(ctx, &info, &err) != LU_OK) abort();
        void *buf;
        size_t len;
        if (lu_read(ctx, "/x.txt", &buf, &len, &err) != LU_OK) abort();   /* some content is always served */
        lu_free(ctx, buf);
        if (size & 1) lu_updater_confirm(ctx, &err);
        else lu_updater_run_ended(ctx, "fuzz: the run failed", &err);
    } else if (err.status == LU_OK || !err.message[0]) {
        abort();
    }
    lu_context_close(ctx);
    /* what this start left must open again without being moved aside */
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) abort();
    lu_status st = lu_updater_open(ctx, &ucfg, &err);
    for (size_t i = 0; st == LU_OK && i < lu_startup_report_count(ctx); i++) {
        lu_report_item it;
        lu_startup_report_get(ctx, i, &it);
        if (strcmp(it.name, "update/state.json") == 0) abort();
    }
    lu_context_close(ctx);
    return 0;
}
