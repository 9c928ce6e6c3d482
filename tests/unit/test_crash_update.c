/* test_crash_update.c -- crash consistency of downloads and updates (docs/DOWNLOADS.md, docs/UPDATES.md, docs/TESTING.md).
 *
 * SIGKILL at counted points (crash.h: the child reports every completed
 * open, write, fsync, rename and close through the io hooks; the parent
 * kills after a random number of them) during:
 *  - a download installed into volumes/ and mounted: after each kill the
 *    volume is absent or complete, never partial under its final name; the
 *    .part is a prefix of the file and its sidecar whole (the next child
 *    resumes or restarts from them and must succeed); the mounts file has
 *    the volume or not, and has it only when the file is complete;
 *  - release 1.2 staged from a local HTTP server over a confirmed release
 *    1.1, applied, failed and rolled back: a fresh context and update
 *    manager find 1.1 (confirmed, served) or 1.2 (on trial, served, 1.1 its
 *    previous release), never the bundled content; state.json is the old
 *    text or one the child wrote, and every file it names is there, whole;
 *    nothing partial is under volumes/;
 *  - the update state writes of runs that start and end cleanly while a
 *    release is on trial: state.json is the old text or a new one, and the
 *    next start keeps the trial or rolls it back as that text says.
 * The kills of each test default to 200 (LU_CRASH_KILLS overrides; the
 * seed is logged and LU_CRASH_SEED replays it).
 */
#include <cjson/cJSON.h>
#include <dirent.h>

#include "crash.h"
#include "liveupdate/crypto.h"
#include "liveupdate/download.h"
#include "liveupdate/updater.h"

#define PAD 300000  /* incompressible bytes in each served volume: several writes of the .part */

static const char *server;     /* http://127.0.0.1:<port> */
static char *root;             /* what it serves */
static char *vol_data;         /* the served volume's bytes */
static size_t vol_len;
static char vol_sha[LU_SHA256_HEX];

/* Serves vol.zip (x.txt = "new") and version.json naming it as release 1.1. */
static void start_server(void)
{
    root = th_tempdir();
    char *vol = th_path(root, "vol.zip");
    cs_make_volume(vol, "new", PAD, 7);
    vol_data = th_read_file(vol, &vol_len);
    lu_sha256_hex(vol_data, vol_len, vol_sha);
    char doc[512];
    snprintf(doc, sizeof doc,
             "{\"version\": \"1.1\", \"volumes\": [{\"name\": \"content\", \"file\": \"vol.zip\", \"size\": %zu, "
             "\"sha256\": \"%s\", \"priority\": 10}]}",
             vol_len, vol_sha);
    th_write_file(th_path(root, "version.json"), doc, strlen(doc));
    server = cs_http_server(root);
}

static lu_context *child_open(const char *save, const char *base)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    cfg.base_uri = base;
    cfg.io = &cs_hooks;
    lu_context *ctx = NULL;
    lu_error err;
    /* the previous child is reaped before this one starts; a retry only
     * covers a slow release of its lock */
    for (int tries = 0; lu_context_open(&cfg, &ctx, &err) == LU_LOCKED && tries < 1000; tries++) usleep(1000);
    if (!ctx) _exit(3);
    return ctx;
}

static bool dir_has_only(const char *dir, const char *allowed, const char *also, char *found, size_t cap)
{
    DIR *d = opendir(dir);
    if (!d) return true;
    struct dirent *e;
    bool ok = true;
    while ((e = readdir(d)))
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, allowed) &&
            !(also && strcmp(e->d_name, also) == 0)) {
            snprintf(found, cap, "%s", e->d_name);
            ok = false;
        }
    closedir(d);
    return ok;
}

/* ---- the download install ---------------------------------------------- */

typedef struct dl_child {
    const char *save;
    lu_status status;
    bool finished;
} dl_child;

static void dl_done(void *ud, int id, const char *path, const lu_error *err)
{
    (void)id, (void)path;
    dl_child *c = ud;
    c->status = err->status;
    c->finished = true;
}

/* Downloads vol.zip into <save>/volumes and mounts it as "vol". */
static void download_work(void *arg)
{
    dl_child *c = arg;
    lu_context *ctx = child_open(c->save, NULL);
    char url[256];
    snprintf(url, sizeof url, "%s/vol.zip", server);
    lu_download_request req;
    lu_download_request_init(&req);
    req.url = url;
    req.file = "vol.zip";
    req.size = vol_len;
    req.sha256 = vol_sha;
    req.retries = 0;
    req.done = dl_done;
    req.ud = c;
    int id;
    lu_error err;
    if (lu_download_start(ctx, &req, &id, &err) != LU_OK) _exit(10);
    for (long i = 0; !c->finished; i++) {
        if (i > 2000000) _exit(11);
        if (lu_update(ctx) == 0) usleep(100);
    }
    if (c->status != LU_OK) _exit(12);
    cs_mark('C');
    char uri[PATH_MAX + 32];
    snprintf(uri, sizeof uri, "zip:%s/volumes/vol.zip", c->save);
    if (lu_mount_add(ctx, "vol", uri, 5, 0, &err) != LU_OK) _exit(13);
}

static char *vol2_data;   /* release 1.2's volume (x.txt = "newer") */
static size_t vol2_len;

/* The store's folder may hold a served volume's bytes under their SHA-256
 * (whole: a hard link to an installed file) and a crash's temporary link
 * (whole too: links are made to finished files only); nothing else. */
static void store_check(const char *save, int k, unsigned seed)
{
    char *dir = th_path(save, "volumes/sha256");
    DIR *d = opendir(dir);
    if (!d) return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        size_t len = strlen(e->d_name);
        bool tmp = len > 4 && strcmp(e->d_name + len - 4, ".tmp") == 0;
        char *path = th_path(dir, e->d_name), sha[LU_SHA256_HEX] = "", name[80];
        if (cs_file_is(path, vol_data, vol_len)) memcpy(sha, vol_sha, sizeof sha);
        else if (vol2_data && cs_file_is(path, vol2_data, vol2_len)) lu_sha256_hex(vol2_data, vol2_len, sha);
        cr_assert(sha[0], "kill %d (seed %u): the store's '%s' is not whole", k, seed, e->d_name);
        snprintf(name, sizeof name, "%s.zip", sha);
        cr_assert(tmp || strcmp(e->d_name, name) == 0, "kill %d (seed %u): the store holds '%s'", k, seed, e->d_name);
    }
    closedir(d);
}

/* After a kill: checks the files and the mounts; returns true when the
 * volume is mounted (then unmounts it and deletes it, for the next round;
 * on even rounds its store entry goes too, so kills fall both in a real
 * download and in an install from the store). */
static bool dl_check(const char *save, int k, unsigned seed, bool *had_part)
{
    char *vols = th_path(save, "volumes"), *vol = th_path(vols, "vol.zip");
    char *part = th_path(save, "downloads/vol.zip.part"), *meta = th_path(save, "downloads/vol.zip.part.json");
    char found[256];
    cr_assert(dir_has_only(vols, "vol.zip", "sha256", found, sizeof found), "kill %d (seed %u): volumes/ holds '%s'",
              k, seed, found);
    store_check(save, k, seed);
    bool installed = th_exists(vol);
    if (installed)
        cr_assert(cs_file_is(vol, vol_data, vol_len), "kill %d (seed %u): a partial or wrong file is in place as %s",
                  k, seed, vol);
    size_t n;
    char *p = th_read_file(part, &n);
    *had_part = p && n > 0;
    if (p)
        cr_assert(n <= vol_len && memcmp(p, vol_data, n) == 0,
                  "kill %d (seed %u): the .part (%zu bytes) is not a prefix of the file", k, seed, n);
    char *m = th_read_file(meta, &n);
    if (m) {
        cJSON *j = cJSON_ParseWithLength(m, n);
        cr_assert(j && cJSON_GetStringValue(cJSON_GetObjectItem(j, "url")),
                  "kill %d (seed %u): the sidecar is not whole: '%s'", k, seed, m);
        cJSON_Delete(j);
    }
    lu_context *ctx = th_open(save, NULL);
    cr_assert_eq(lu_startup_report_count(ctx), 0, "kill %d (seed %u): the reopen reported a problem", k, seed);
    size_t mounts = th_mount_count(ctx);
    cr_assert(mounts <= 1);
    if (mounts == 1) {
        cr_assert(installed, "kill %d (seed %u): mounted without the file", k, seed);
        cr_assert_str_eq(th_read(ctx, "/x.txt"), "new", "kill %d (seed %u)", k, seed);
        lu_error err;
        cr_assert_eq(lu_mount_remove(ctx, "vol", &err), LU_OK, "%s", err.message);
        cr_assert_eq(unlink(vol), 0);
        if (k % 2 == 0) {
            char entry[PATH_MAX];
            snprintf(entry, sizeof entry, "%s/volumes/sha256/%s.zip", save, vol_sha);
            unlink(entry);
        }
    }
    lu_context_close(ctx);
    return mounts == 1;
}

Test(crash, sigkill_during_download_install_leaves_no_partial_volume, .timeout = 900, .init = start_server)
{
    char *save = th_tempdir();
    unsigned seed = cs_seed();
    int kills = cs_kills(200);
    dl_child c = {save, LU_OK, false};
    bool part;
    /* a whole run counts the operations to draw kill points from */
    cs_run full = cs_run_child(download_work, &c, -1, false, NULL, -1, seed);
    cr_assert(full.done && full.ops > 20, "a download and a mount take %ld operations", full.ops);
    cr_assert(dl_check(save, -1, seed, &part));
    int mounted = 0, installed_only = 0, resumed = 0, stored = 0;
    for (int k = 0; k < kills; k++) {
        bool exact = rand() % 2;
        long at = 1 + rand() % full.ops;
        char *vol = th_path(save, "volumes/vol.zip");
        bool resume = th_exists(th_path(save, "downloads/vol.zip.part.json"));
        char entry[PATH_MAX];
        snprintf(entry, sizeof entry, "%s/volumes/sha256/%s.zip", save, vol_sha);
        stored += th_exists(entry);
        cs_run r = cs_run_child(download_work, &c, at, exact, NULL, k, seed);
        cr_assert(r.ops >= at || r.done, "kill %d (seed %u): the child stopped after %ld operations", k, seed, r.ops);
        bool was_installed = th_exists(vol);
        if (dl_check(save, k, seed, &part)) mounted++;
        else if (was_installed) {
            installed_only++;
            unlink(vol);   /* the next child downloads it again */
        }
        resumed += resume;
    }
    cr_log_info("download install: %d kills (%ld operations a run; %d after the mount, %d between install and "
                "mount, %d children resumed a .part, %d found the bytes in the store) (seed %u)",
                kills, full.ops, mounted, installed_only, resumed, stored, seed);
    cr_assert(stored > 0 && stored < kills, "kills fall in downloads and in installs from the store (%d of %d)", stored,
              kills);
}

/* ---- a release staged, applied and rolled back ---------------------------- */

static char *base_uri(void)
{
    static char uri[PATH_MAX + 8];
    if (!uri[0]) {
        char *base = th_path(th_tempdir(), "base.zip");
        th_make_zip(base, (const char *[]){"x.txt", "old", NULL});
        snprintf(uri, sizeof uri, "zip:%s", base);
    }
    return uri;
}

typedef struct up_child {
    const char *save, *base;
    int event;   /* 0 none yet, 1 READY, 2 FAILED */
} up_child;

static void on_event(void *ud, const lu_updater_event *ev)
{
    up_child *c = ud;
    if (ev->kind == LU_UPDATER_READY) c->event = 1;
    else if (ev->kind == LU_UPDATER_FAILED) c->event = 2;
}

static lu_status open_updater(lu_context *ctx, up_child *c, lu_error *err)
{
    char url[256];
    snprintf(url, sizeof url, "%s/version.json", server);
    lu_updater_config ucfg;
    lu_updater_config_init(&ucfg);
    ucfg.url = url;
    ucfg.local_version = "1.0";
    ucfg.retries = 0;
    ucfg.on_event = on_event;
    ucfg.ud = c;
    return lu_updater_open(ctx, &ucfg, err);
}

/* The bytes a release file must hold, or NULL for a name no release has. */
static const char *release_file_data(const char *file, size_t *len)
{
    if (strcmp(file, "rel-1.1-vol.zip") == 0) return *len = vol_len, vol_data;
    if (strcmp(file, "rel-1.2-vol2.zip") == 0) return *len = vol2_len, vol2_data;
    return NULL;
}

/* A save directory where release `version` (file rel-<version>-vol.zip)
 * was staged by an earlier run; `confirmed`: a start applied and confirmed
 * it, else a start applied it and its run ended cleanly (on trial). */
static char *release_save_dir(up_child *c, bool confirmed)
{
    char *save = th_tempdir();
    cr_assert_eq(mkdir(th_path(save, "volumes"), 0755), 0);
    cr_assert_eq(mkdir(th_path(save, "update"), 0755), 0);
    th_write_file(th_path(save, "volumes/rel-1.1-vol.zip"), vol_data, vol_len);
    static const char state[] =
        "{\"current\": null, \"previous\": null, \"staged\": {\"version\": \"1.1\", \"volumes\": "
        "[{\"name\": \"content\", \"file\": \"rel-1.1-vol.zip\", \"priority\": 10}]}, \"trial\": null, "
        "\"failed\": [], \"last_rollback\": null, \"update_pending\": false, \"last_run\": 0, \"last_check\": 0}";
    th_write_file(th_path(save, "update/state.json"), state, sizeof state - 1);
    lu_context *ctx = th_open(save, c->base);
    lu_error err;
    cr_assert_eq(open_updater(ctx, c, &err), LU_OK, "%s", err.message);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "new");
    if (confirmed) cr_assert_eq(lu_updater_confirm(ctx, &err), LU_OK, "%s", err.message);
    else cr_assert_eq(lu_updater_run_ended(ctx, NULL, &err), LU_OK, "%s", err.message);
    lu_context_close(ctx);
    return save;
}

/* From whatever state the last child left (release 1.1 confirmed at the
 * start of a round): stages release 1.2 from the server, applies it, ends
 * the run with a failure and starts again, which rolls 1.2 back to 1.1. */
static void release_work(void *arg)
{
    up_child *c = arg;
    lu_error err;
    lu_context *ctx = child_open(c->save, c->base);
    if (open_updater(ctx, c, &err) != LU_OK) _exit(20);
    lu_updater_info info;
    if (lu_updater_get_info(ctx, &info, &err) != LU_OK) _exit(21);
    if (strcmp(info.current, "1.1") == 0 && !info.rollback_version) {
        c->event = 0;
        if (lu_updater_check(ctx, &err) != LU_OK) _exit(22);
        for (long i = 0; !c->event; i++) {
            if (i > 2000000) _exit(23);
            if (lu_update(ctx) == 0) usleep(100);
        }
        if (c->event != 1) _exit(24);
        cs_mark('C');
        if (lu_updater_apply(ctx, &err) != LU_OK) _exit(25);
        cs_mark('C');
        if (lu_updater_get_info(ctx, &info, &err) != LU_OK) _exit(21);
    }
    if (info.on_trial) {
        if (lu_updater_run_ended(ctx, "crash test: the release failed", &err) != LU_OK) _exit(26);
        cs_mark('C');
    }
    lu_context_close(ctx);
    ctx = child_open(c->save, c->base);
    if (open_updater(ctx, c, &err) != LU_OK) _exit(27);   /* the rollback */
    lu_context_close(ctx);
}

/* True when `text` is `old` or one of the NUL-separated texts in `log`. */
static bool old_or_logged(const char *text, size_t len, const char *old, size_t old_len, const char *log,
                          size_t log_len)
{
    if (!text) return !old;
    if (old && len == old_len && memcmp(text, old, len) == 0) return true;
    for (size_t at = 0; log && at < log_len;) {
        size_t n = strlen(log + at);
        if (n == len && memcmp(log + at, text, len) == 0) return true;
        at += n + 1;
    }
    return false;
}

/* Every volume file a release in the state names is in volumes/ and whole. */
static void check_state_files(const char *save, const char *text, int k, unsigned seed)
{
    cJSON *j = cJSON_Parse(text);
    cr_assert(j, "kill %d (seed %u): state.json does not parse", k, seed);
    const char *keys[] = {"current", "previous", "staged"};
    for (int i = 0; i < 3; i++) {
        cJSON *vols = cJSON_GetObjectItem(cJSON_GetObjectItem(j, keys[i]), "volumes"), *v;
        cJSON_ArrayForEach(v, vols)
        {
            const char *file = cJSON_GetStringValue(cJSON_GetObjectItem(v, "file"));
            cr_assert(file, "kill %d (seed %u): a volume without a file in %s", k, seed, keys[i]);
            size_t len = 0;
            const char *data = release_file_data(file, &len);
            char *path = th_path(th_path(save, "volumes"), file);
            cr_assert(data && cs_file_is(path, data, len),
                      "kill %d (seed %u): state.json's %s release names '%s', which is %s", k, seed, keys[i], file,
                      th_exists(path) ? "not the whole file" : "missing");
        }
    }
    cJSON_Delete(j);
}

/* What a restart after a kill finds; returns true when the round is over
 * (1.2 rolled back to 1.1). *found_new: the state after the kill named 1.2
 * current. */
static bool release_check(up_child *c, const char *old, size_t old_len, const char *log, int k, unsigned seed,
                          bool *found_new)
{
    char *state = th_path(c->save, "update/state.json");
    size_t len = 0, log_len = 0;
    char *text = th_read_file(state, &len);
    char *logged = log ? th_read_file(log, &log_len) : NULL;
    if (log)
        cr_assert(old_or_logged(text, len, old, old_len, logged, log_len),
                  "kill %d (seed %u): state.json is neither the old text nor one the child wrote:\n%s", k, seed, text);
    cr_assert(text, "kill %d (seed %u): state.json is gone", k, seed);
    check_state_files(c->save, text, k, seed);
    cJSON *j = cJSON_Parse(text);
    const char *cur = cJSON_GetStringValue(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "current"), "version"));
    *found_new = cur && strcmp(cur, "1.2") == 0;
    cJSON_Delete(j);
    DIR *d = opendir(th_path(c->save, "volumes"));
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.') continue;
        if (strcmp(e->d_name, "sha256") == 0) {
            store_check(c->save, k, seed);
            continue;
        }
        size_t n = 0;
        const char *data = release_file_data(e->d_name, &n);
        cr_assert(data, "kill %d (seed %u): volumes/ holds '%s'", k, seed, e->d_name);
        cr_assert(cs_file_is(th_path(th_path(c->save, "volumes"), e->d_name), data, n),
                  "kill %d (seed %u): %s is in place but not whole", k, seed, e->d_name);
    }
    closedir(d);
    lu_context *ctx = th_open(c->save, c->base);
    cr_assert_eq(lu_startup_report_count(ctx), 0, "kill %d (seed %u): the reopen reported a problem", k, seed);
    lu_error err;
    cr_assert_eq(open_updater(ctx, c, &err), LU_OK, "kill %d (seed %u): the update manager: %s", k, seed, err.message);
    for (size_t i = 0; i < lu_startup_report_count(ctx); i++) {
        lu_report_item it;
        cr_assert_eq(lu_startup_report_get(ctx, i, &it), LU_OK);
        cr_assert_str_neq(it.action, "moved_aside", "kill %d (seed %u): %s was moved aside: %s", k, seed, it.name,
                          it.message);
    }
    lu_updater_info info;
    cr_assert_eq(lu_updater_get_info(ctx, &info, &err), LU_OK);
    const char *x = th_read(ctx, "/x.txt");
    if (strcmp(info.current, "1.2") == 0) {
        cr_assert_str_eq(x, "newer", "kill %d (seed %u): release 1.2 is current but not served", k, seed);
        cr_assert(info.on_trial, "kill %d (seed %u): release 1.2 is served outside a trial", k, seed);
        cr_assert_str_eq(info.previous, "1.1", "kill %d (seed %u): 1.2 would roll back to %s", k, seed,
                         info.previous ? info.previous : "the bundled content");
    } else {
        cr_assert_str_eq(info.current, "1.1", "kill %d (seed %u): the previous release was lost", k, seed);
        cr_assert_str_eq(x, "new", "kill %d (seed %u): 1.1 is current but '%s' is served", k, seed, x);
        cr_assert(!info.on_trial, "kill %d (seed %u): the confirmed 1.1 is on trial again", k, seed);
    }
    bool over = strcmp(info.current, "1.1") == 0 && info.rollback_version && strcmp(info.rollback_version, "1.2") == 0;
    lu_context_close(ctx);   /* no confirm: a trial rolls back at the next start */
    return over;
}

Test(crash, sigkill_during_release_apply_and_rollback_finds_old_or_new, .timeout = 900, .init = start_server)
{
    unsigned seed = cs_seed();
    int kills = cs_kills(200);
    /* the server now offers release 1.2 */
    char *vol2 = th_path(root, "vol2.zip");
    cs_make_volume(vol2, "newer", PAD, 8);
    vol2_data = th_read_file(vol2, &vol2_len);
    char sha[LU_SHA256_HEX], doc[512];
    lu_sha256_hex(vol2_data, vol2_len, sha);
    snprintf(doc, sizeof doc,
             "{\"version\": \"1.2\", \"volumes\": [{\"name\": \"content\", \"file\": \"vol2.zip\", \"size\": %zu, "
             "\"sha256\": \"%s\", \"priority\": 10}]}",
             vol2_len, sha);
    th_write_file(th_path(root, "version.json"), doc, strlen(doc));
    char *logdir = th_tempdir(), *log = th_path(logdir, "state.log");
    up_child c = {NULL, base_uri(), 0};
    c.save = release_save_dir(&c, true);
    cs_run full = cs_run_child(release_work, &c, -1, false, NULL, -1, seed);
    cr_assert(full.done && full.steps == 3 && full.ops > 20, "a whole round: %d steps, %ld operations", full.steps,
              full.ops);
    bool found_new;
    cr_assert(release_check(&c, NULL, 0, NULL, -1, seed, &found_new), "a whole round rolls 1.2 back");
    cs_rmrf(c.save);
    c.save = release_save_dir(&c, true);
    int rounds = 0, served_new = 0;
    for (int k = 0; k < kills; k++) {
        size_t old_len = 0;
        char *old = th_read_file(th_path(c.save, "update/state.json"), &old_len);
        unlink(log);
        bool exact = rand() % 2;
        long at = 1 + rand() % full.ops;
        cs_run r = cs_run_child(release_work, &c, at, exact, log, k, seed);
        cr_assert(r.ops >= at || r.done, "kill %d (seed %u): the child stopped after %ld operations", k, seed, r.ops);
        if (release_check(&c, old, old_len, log, k, seed, &found_new)) {
            rounds++;
            cs_rmrf(c.save);
            c.save = release_save_dir(&c, true);
        }
        served_new += found_new;
    }
    cr_log_info("release apply and rollback: %d kills (%ld operations a round, %d rounds completed, %d kills found "
                "release 1.2 current) (seed %u)",
                kills, full.ops, rounds, served_new, seed);
}

/* ---- the update state writes ------------------------------------------ */

/* Runs that start and end cleanly: two state writes each. */
static void state_work(void *arg)
{
    up_child *c = arg;
    lu_error err;
    for (int run = 0; run < 6; run++) {
        lu_context *ctx = child_open(c->save, c->base);
        if (open_updater(ctx, c, &err) != LU_OK) _exit(30);
        cs_mark('C');
        if (lu_updater_run_ended(ctx, NULL, &err) != LU_OK) _exit(31);
        cs_mark('C');
        lu_context_close(ctx);
    }
}

Test(crash, sigkill_during_update_state_writes_finds_old_or_new, .timeout = 900, .init = start_server)
{
    unsigned seed = cs_seed();
    int kills = cs_kills(200);
    char *logdir = th_tempdir(), *log = th_path(logdir, "state.log");
    up_child c = {NULL, base_uri(), 0};
    c.save = release_save_dir(&c, false);
    cs_run full = cs_run_child(state_work, &c, -1, false, NULL, -1, seed);
    cr_assert(full.done && full.steps == 12, "a whole run: %d steps", full.steps);
    int kept = 0, rolled_back = 0;
    for (int k = 0; k < kills; k++) {
        size_t old_len = 0, len = 0, log_len = 0;
        char *old = th_read_file(th_path(c.save, "update/state.json"), &old_len);
        unlink(log);
        bool exact = rand() % 2;
        long at = 1 + rand() % full.ops;
        cs_run r = cs_run_child(state_work, &c, at, exact, log, k, seed);
        cr_assert(r.ops >= at || r.done, "kill %d (seed %u): the child stopped after %ld operations", k, seed, r.ops);
        char *text = th_read_file(th_path(c.save, "update/state.json"), &len);
        char *logged = th_read_file(log, &log_len);
        cr_assert(text && old_or_logged(text, len, old, old_len, logged, log_len),
                  "kill %d (seed %u): state.json is neither the old text nor one the child wrote:\n%s", k, seed, text);
        check_state_files(c.save, text, k, seed);
        cJSON *j = cJSON_Parse(text);
        bool running = cJSON_IsTrue(cJSON_GetObjectItem(j, "trial_running"));
        cJSON_Delete(j);
        /* the restart: a run the kill ended (trial_running) rolls back, a
         * clean end keeps the trial */
        lu_context *ctx = th_open(c.save, c.base);
        lu_error err;
        cr_assert_eq(open_updater(ctx, &c, &err), LU_OK, "kill %d (seed %u): %s", k, seed, err.message);
        lu_updater_info info;
        cr_assert_eq(lu_updater_get_info(ctx, &info, &err), LU_OK);
        if (running) {
            cr_assert_str_eq(info.current, "1.0", "kill %d (seed %u): a killed trial was not rolled back", k, seed);
            cr_assert_str_eq(th_read(ctx, "/x.txt"), "old", "kill %d (seed %u)", k, seed);
            rolled_back++;
        } else {
            cr_assert_str_eq(info.current, "1.1", "kill %d (seed %u): a trial that ended cleanly was rolled back", k,
                             seed);
            cr_assert(info.on_trial);
            cr_assert_str_eq(th_read(ctx, "/x.txt"), "new", "kill %d (seed %u)", k, seed);
            cr_assert_eq(lu_updater_run_ended(ctx, NULL, &err), LU_OK, "%s", err.message);
            kept++;
        }
        lu_context_close(ctx);
        if (running) {
            cs_rmrf(c.save);
            c.save = release_save_dir(&c, false);
        }
    }
    cr_log_info("update state writes: %d kills (%ld operations a run of 12 writes; %d found a clean end and kept "
                "the trial, %d a killed run and rolled back) (seed %u)",
                kills, full.ops, kept, rolled_back, seed);
}
