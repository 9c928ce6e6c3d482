/* test_staging_space.c -- a disk that fills up while a release is staged (docs/UPDATES.md, docs/TESTING.md).
 *
 * The save directory is a small tmpfs (the tests run as root; skipped
 * where a tmpfs cannot be mounted). Release 1.1 is staged, applied and
 * confirmed; release 1.2 is larger than the free space. Staging it fails
 * with LU_NO_SPACE and a message naming the file, whether the document
 * gives the size (refused before a byte is fetched) or not (the write of
 * the .part fails): release 1.1 stays current and served, its file whole,
 * state.json names only files that are there, nothing of 1.2 is under
 * volumes/, and its partial download is deleted: kept for a resume, it
 * held the disk full and the next start could not write the update state
 * (the update manager did not open). Once the tmpfs is made larger,
 * staging 1.2 succeeds and it applies.
 */
#include <cjson/cJSON.h>
#include <dirent.h>
#include <sys/mount.h>

#include "crash.h"
#include "liveupdate/crypto.h"
#include "liveupdate/updater.h"

static char *root, *small_data, *big_data;
static size_t small_len, big_len;
static char small_sha[LU_SHA256_HEX], big_sha[LU_SHA256_HEX];
static const char *server;

typedef struct events {
    int kind;   /* 0 none yet, 1 READY, 2 FAILED */
    lu_status status;
    char message[LU_ERROR_MAX];
} events;

static void on_event(void *ud, const lu_updater_event *ev)
{
    events *e = ud;
    if (ev->kind == LU_UPDATER_READY) e->kind = 1;
    if (ev->kind == LU_UPDATER_FAILED) {
        e->kind = 2;
        e->status = ev->status;
        snprintf(e->message, sizeof e->message, "%s", ev->message);
    }
}

/* version.json names release `version` with one volume `file`. */
static void publish(const char *version, const char *file, size_t size, const char *sha)
{
    char doc[512];
    snprintf(doc, sizeof doc,
             "{\"version\": \"%s\", \"volumes\": [{\"name\": \"content\", \"file\": \"%s\", \"size\": %zu, "
             "\"sha256\": \"%s\", \"priority\": 10}]}",
             version, file, size, sha);
    th_write_file(th_path(root, "version.json"), doc, strlen(doc));
}

static lu_context *open_all(const char *save, const char *base, events *ev)
{
    lu_context *ctx = th_open(save, base);
    char url[256];
    snprintf(url, sizeof url, "%s/version.json", server);
    lu_updater_config ucfg;
    lu_updater_config_init(&ucfg);
    ucfg.url = url;
    ucfg.local_version = "1.0";
    ucfg.retries = 0;
    ucfg.on_event = on_event;
    ucfg.ud = ev;
    lu_error err;
    cr_assert_eq(lu_updater_open(ctx, &ucfg, &err), LU_OK, "%s", err.message);
    return ctx;
}

static void check_and_wait(lu_context *ctx, events *ev)
{
    lu_error err;
    ev->kind = 0;
    cr_assert_eq(lu_updater_check(ctx, &err), LU_OK, "%s", err.message);
    for (long i = 0; !ev->kind; i++) {
        cr_assert_lt(i, 2000000, "the check never ended");
        if (lu_update(ctx) == 0) usleep(200);
    }
}

/* Release 1.1 is current and whole, nothing of 1.2 is staged or in
 * volumes/, and its partial download is gone. */
static void check_previous_intact(const char *save, lu_context *ctx, const char *when)
{
    lu_updater_info info;
    lu_error err;
    cr_assert_eq(lu_updater_get_info(ctx, &info, &err), LU_OK);
    cr_assert_str_eq(info.current, "1.1", "%s", when);
    cr_assert_null(info.staged, "%s: %s is staged", when, info.staged);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "v1.1", "%s", when);
    char *vols = th_path(save, "volumes");
    cr_assert(cs_file_is(th_path(vols, "rel-1.1-small.zip"), small_data, small_len), "%s: 1.1's file", when);
    DIR *d = opendir(vols);
    struct dirent *e;
    while ((e = readdir(d)))
        cr_assert(e->d_name[0] == '.' || strcmp(e->d_name, "rel-1.1-small.zip") == 0 || strcmp(e->d_name, "sha256") == 0,
                  "%s: volumes/ holds '%s'", when, e->d_name);
    closedir(d);
    /* the store holds 1.1's bytes (a link: no space of its own), nothing of 1.2 */
    char entry[PATH_MAX];
    snprintf(entry, sizeof entry, "%s/volumes/sha256/%s.zip", save, small_sha);
    cr_assert(cs_file_is(entry, small_data, small_len), "%s: the store's entry of 1.1", when);
    snprintf(entry, sizeof entry, "%s/volumes/sha256/%s.zip", save, big_sha);
    cr_assert(!th_exists(entry), "%s: the store holds bytes of 1.2", when);
    cr_assert(!th_exists(th_path(save, "downloads/rel-1.2-big.zip.part")) &&
                  !th_exists(th_path(save, "downloads/rel-1.2-big.zip.part.json")),
              "%s: the partial download is still there, holding the disk full", when);
    char *state = th_read_file(th_path(save, "update/state.json"), NULL);
    cJSON *j = cJSON_Parse(state);
    cr_assert(j, "%s: state.json parses", when);
    const char *keys[] = {"current", "previous", "staged"};
    for (int i = 0; i < 3; i++) {
        cJSON *v;
        cJSON_ArrayForEach(v, cJSON_GetObjectItem(cJSON_GetObjectItem(j, keys[i]), "volumes"))
        {
            const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(v, "file"));
            cr_assert(file && th_exists(th_path(vols, file)), "%s: state.json's %s names the missing '%s'", when,
                      keys[i], file);
        }
    }
    cJSON_Delete(j);
}

Test(staging_space, a_release_larger_than_the_free_space_fails_with_no_space_and_keeps_the_previous,
     .timeout = 300)
{
    root = th_tempdir();
    char *small = th_path(root, "small.zip"), *big = th_path(root, "big.zip");
    cs_make_volume(small, "v1.1", 1000, 1);
    cs_make_volume(big, "v1.2", 3u << 20, 2);
    small_data = th_read_file(small, &small_len);
    big_data = th_read_file(big, &big_len);
    lu_sha256_hex(small_data, small_len, small_sha);
    lu_sha256_hex(big_data, big_len, big_sha);
    server = cs_http_server(root);
    char *base = th_path(th_tempdir(), "base.zip"), base_uri[PATH_MAX + 8];
    th_make_zip(base, (const char *[]){"x.txt", "old", NULL});
    snprintf(base_uri, sizeof base_uri, "zip:%s", base);

    char *save = th_tempdir();
    if (mount("tmpfs", save, "tmpfs", 0, "size=2m") != 0) cr_skip_test("cannot mount a tmpfs here");
    events ev = {0};
    lu_error err;

    /* release 1.1: staged, applied, confirmed */
    publish("1.1", "small.zip", small_len, small_sha);
    lu_context *ctx = open_all(save, base_uri, &ev);
    check_and_wait(ctx, &ev);
    cr_assert_eq(ev.kind, 1, "1.1: %s", ev.message);
    cr_assert_eq(lu_updater_apply(ctx, &err), LU_OK, "%s", err.message);
    cr_assert_eq(lu_updater_confirm(ctx, &err), LU_OK, "%s", err.message);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "v1.1");

    /* 1.2 with its size known: refused before a byte is fetched */
    publish("1.2", "big.zip", big_len, big_sha);
    check_and_wait(ctx, &ev);
    cr_assert_eq(ev.kind, 2, "1.2 cannot be staged in 2 MiB");
    cr_assert_eq(ev.status, LU_NO_SPACE, "%s: %s", lu_status_name(ev.status), ev.message);
    cr_assert(strstr(ev.message, "big.zip"), "the message names the file: %s", ev.message);
    check_previous_intact(save, ctx, "size known");

    /* 1.2 without a size: the .part's write fails */
    publish("1.2", "big.zip", 0, big_sha);
    check_and_wait(ctx, &ev);
    cr_assert_eq(ev.kind, 2, "1.2 cannot be staged in 2 MiB");
    cr_assert_eq(ev.status, LU_NO_SPACE, "%s: %s", lu_status_name(ev.status), ev.message);
    cr_assert(strstr(ev.message, "big.zip"), "the message names the file: %s", ev.message);
    check_previous_intact(save, ctx, "size unknown");
    lu_context_close(ctx);

    /* a fresh start finds 1.1 */
    ctx = open_all(save, base_uri, &ev);
    cr_assert_eq(lu_startup_report_count(ctx), 0, "the reopen reported a problem");
    check_previous_intact(save, ctx, "reopen");

    /* space freed: staging 1.2 succeeds and it applies */
    cr_assert_eq(mount("tmpfs", save, "tmpfs", MS_REMOUNT, "size=16m"), 0);
    publish("1.2", "big.zip", big_len, big_sha);
    check_and_wait(ctx, &ev);
    cr_assert_eq(ev.kind, 1, "1.2 with space: %s", ev.message);
    cr_assert_eq(lu_updater_apply(ctx, &err), LU_OK, "%s", err.message);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "v1.2");
    cr_assert(cs_file_is(th_path(save, "volumes/rel-1.2-big.zip"), big_data, big_len));
    lu_context_close(ctx);
    umount(save);
}
