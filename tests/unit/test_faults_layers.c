/* test_faults_layers.c -- fault injection by counter (faults.h) above the
 * core: the download install (HTTP from a server on 127.0.0.1), the update
 * manager (check, staging, apply, confirm; apply of a staged release at a
 * start; rollback at a start), the version document and the manifest
 * parsers, and a console session.
 *
 * Each operation runs for N = 1, 2, ... with allocation number N failing
 * (the context's allocator and cJSON's), transient (only N) and persistent
 * (N and every later one), then I/O call number N failing (every field of
 * lu_io_hooks), transient with EIO and persistent with ENOSPC, until it
 * completes without reaching the fault. After each run: a failure has a
 * status and a message, the files on disk hold the old or the new state,
 * a context and update manager reopen with no problem, and the operation
 * then succeeds without faults. Under ASan a leak fails the run.
 */
#include <arpa/inet.h>
#include <cjson/cJSON.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sys/socket.h>

#include "faults.h"
#include "helpers.h"
#include "../../engine/console/console_internal.h"
#include "liveupdate/console.h"
#include "liveupdate/crypto.h"
#include "liveupdate/download.h"
#include "liveupdate/manifest.h"
#include "liveupdate/release.h"
#include "liveupdate/updater.h"

/* ---- the fault kinds -------------------------------------------------- */

typedef struct kind {
    const char *name;
    bool alloc;
    int mode, err_no;
} kind;

static const kind KINDS[] = {
    {"allocation, transient", true, FAULT_TRANSIENT, 0},
    {"allocation, persistent", true, FAULT_PERSISTENT, 0},
    {"I/O EIO, transient", false, FAULT_TRANSIENT, EIO},
    {"I/O ENOSPC, persistent", false, FAULT_PERSISTENT, ENOSPC},
};
static const kind *K;
static lu_io_hooks fio;

/* Opens a context with the fault hooks of kind K installed (faults are
 * armed later); NULL `k` opens a plain one. Asserts success. */
static lu_context *open_ctx(const char *save, const char *base, const kind *k)
{
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    cfg.base_uri = base;
    fio = faults_io();
    if (k && k->alloc) cfg.allocator = &faults_allocator;
    if (k && !k->alloc) cfg.io = &fio;
    lu_context *ctx = NULL;
    lu_error err;
    cr_assert_eq(lu_context_open(&cfg, &ctx, &err), LU_OK, "open: %s", err.message);
    return ctx;
}

/* Runs op(n) for n = 1, 2, ... under kind k until it succeeds without
 * reaching its fault; check(n, ok) after each. Returns the points run. */
static long fault_loop(const char *what, int k, bool (*op)(long n), void (*check)(long n, bool ok), long min_points)
{
    K = &KINDS[k];
    fail_errno = K->err_no;
    cJSON_Hooks hooks = {f_cjson_malloc, free};
    if (K->alloc) cJSON_InitHooks(&hooks);   /* test process only: cJSON's hooks are global */
    long n;
    for (n = 1; n < 20000; n++) {
        bool ok = op(n);
        faults_disarm();
        bool reached = faults_reached();
        check(n, ok);
        if (ok && !reached) break;
    }
    cJSON_InitHooks(NULL);
    cr_log_info("%s, %s faults: %ld points, each survived", what, K->name, n - 1);
    cr_assert_gt(n, min_points, "%s reached only %ld fault points", what, n - 1);
    return n - 1;
}

/* Calls lu_update until *flag is set; counts calls, so a lost completion
 * fails the test instead of hanging it. */
static void pump(lu_context *ctx, const bool *flag, long n, const char *what)
{
    for (int i = 0; i < 40000 && !*flag; i++) {
        lu_update(ctx);
        if (!*flag) usleep(500);
    }
    cr_assert(*flag, "fault %ld (%s): %s never completed", n, K ? K->name : "-", what);
}

static bool same_file(const char *path, const char *data, size_t len)
{
    size_t got;
    char *have = th_read_file(path, &got);
    return have && got == len && memcmp(have, data, len) == 0;
}

/* ---- fixtures ----------------------------------------------------------- */

static char *base_uri, *old_zip, *new_zip, *doc_url, *vol_old, *vol_new;
static size_t vol_old_len, vol_new_len;
static int http_port;
static _Atomic int http_partials;   /* 206 answers sent */

static void send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0) return;
        p += w;
        n -= (size_t)w;
    }
}

/* A one-file HTTP server: every GET gets the new volume with ETag "v2";
 * a Range whose If-Range is "v2" gets a 206 of the rest. */
static void *http_main(void *arg)
{
    int ls = (int)(intptr_t)arg;
    for (;;) {
        int c = accept(ls, NULL, NULL);
        if (c < 0) continue;
        char req[4096];
        size_t got = 0;
        while (got < sizeof req - 1) {
            ssize_t r = recv(c, req + got, sizeof req - 1 - got, 0);
            if (r <= 0) break;
            got += (size_t)r;
            req[got] = '\0';
            if (strstr(req, "\r\n\r\n")) break;
        }
        char hdr[256];
        size_t from = 0;
        const char *range = strcasestr(req, "\r\nRange: bytes=");
        if (range && strcasestr(req, "\r\nIf-Range: \"v2\"")) from = strtoull(range + 15, NULL, 10);
        if (from >= vol_new_len) from = 0;
        if (from) http_partials++;
        int hl = from ? snprintf(hdr, sizeof hdr,
                                 "HTTP/1.1 206 Partial Content\r\nContent-Length: %zu\r\nContent-Range: bytes %zu-%zu/%zu\r\n"
                                 "ETag: \"v2\"\r\nConnection: close\r\n\r\n",
                                 vol_new_len - from, from, vol_new_len - 1, vol_new_len)
                      : snprintf(hdr, sizeof hdr,
                                 "HTTP/1.1 200 OK\r\nContent-Length: %zu\r\nETag: \"v2\"\r\nConnection: close\r\n\r\n",
                                 vol_new_len);
        send_all(c, hdr, (size_t)hl);
        if (strncmp(req, "HEAD", 4) != 0) send_all(c, vol_new + from, vol_new_len - from);
        close(c);
    }
    return NULL;
}

static void start_http(void)
{
    int ls = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    cr_assert_eq(bind(ls, (struct sockaddr *)&a, sizeof a), 0);
    cr_assert_eq(listen(ls, 16), 0);
    socklen_t al = sizeof a;
    getsockname(ls, (struct sockaddr *)&a, &al);
    http_port = ntohs(a.sin_port);
    pthread_t t;
    cr_assert_eq(pthread_create(&t, NULL, http_main, (void *)(intptr_t)ls), 0);
    pthread_detach(t);
}

static char *keep_printf(const char *fmt, const char *a, const char *b)
{
    char buf[PATH_MAX * 2];
    snprintf(buf, sizeof buf, fmt, a, b);
    return TH_KEEP(strdup(buf));
}

static void setup(void)
{
    char *dir = th_tempdir();
    char *base = th_path(dir, "base.zip"), *rel = th_path(dir, "content-1.1.zip");
    th_make_zip(base, (const char *[]){"x.txt", "old", NULL});
    th_make_zip(rel, (const char *[]){"x.txt", "new", NULL});
    base_uri = keep_printf("zip:%s%s", base, "");
    old_zip = base;
    new_zip = rel;
    char sha[LU_SHA256_HEX];
    uint64_t size;
    lu_error err;
    cr_assert_eq(lu_sha256_file(rel, sha, &size, &err), LU_OK);
    char doc[PATH_MAX * 2];
    int len = snprintf(doc, sizeof doc,
                       "{\"version\": \"1.1\", \"volumes\": [{\"name\": \"content\", \"url\": \"file://%s\", "
                       "\"size\": %llu, \"sha256\": \"%s\", \"priority\": 10}]}",
                       rel, (unsigned long long)size, sha);
    th_write_file(th_path(dir, "release.json"), doc, (size_t)len);
    doc_url = keep_printf("file://%s/%s", dir, "release.json");
    /* the download's volume, old and new */
    char *vo = th_path(dir, "v-old.zip"), *vn = th_path(dir, "v-new.zip");
    th_make_zip(vo, (const char *[]){"v.txt", "old volume", NULL});
    th_make_zip(vn, (const char *[]){"v.txt", "new volume", "w.txt", "more", NULL});
    vol_old = th_read_file(vo, &vol_old_len);
    vol_new = th_read_file(vn, &vol_new_len);
    start_http();
}

TestSuite(faults_layers, .init = setup, .timeout = 600);

/* ---- the download install ------------------------------------------------- */

typedef struct done_box {
    bool called;
    lu_status status;
    char message[LU_ERROR_MAX];
} done_box;

static void on_done(void *ud, int id, const char *path, const lu_error *err)
{
    (void)id, (void)path;
    done_box *b = ud;
    b->called = true;
    b->status = err->status;
    snprintf(b->message, sizeof b->message, "%s", err->message);
}

static char *dl_save;
static bool dl_resume;   /* each run resumes a .part of half the volume */
static char dl_url[64], dl_sha[LU_SHA256_HEX];

/* What a download cut in the middle leaves: half the volume in the .part
 * and the sidecar naming the server's validator. */
static void leave_half_part(void)
{
    char *dls = th_path(dl_save, "downloads");
    mkdir(dls, 0755);
    th_write_file(th_path(dls, "v.zip.part"), vol_new, vol_new_len / 2);
    char meta[512];
    int len = snprintf(meta, sizeof meta,
                       "{\"url\":\"%s\",\"etag\":\"\\\"v2\\\"\",\"last_modified\":\"\",\"size\":%zu,\"sha256\":\"%s\"}",
                       dl_url, vol_new_len, dl_sha);
    th_write_file(th_path(dls, "v.zip.part.json"), meta, (size_t)len);
}

static lu_status download(lu_context *ctx, done_box *box, long n, lu_error *err)
{
    const char *url = dl_url, *sha = dl_sha;
    lu_download_request req;
    lu_download_request_init(&req);
    req.url = url;
    req.file = "v.zip";
    req.size = vol_new_len;
    req.sha256 = sha;
    req.retries = 0;
    req.done = on_done;
    req.ud = box;
    int id;
    lu_status st = lu_download_start(ctx, &req, &id, err);
    if (st != LU_OK) return st;
    pump(ctx, &box->called, n, "the download");
    if (box->status != LU_OK) {
        err->status = box->status;
        snprintf(err->message, sizeof err->message, "%s", box->message);
    }
    return box->status;
}

static bool op_download(long n)
{
    if (n == 1) {
        dl_save = th_tempdir();
        mkdir(th_path(dl_save, "volumes"), 0755);
        th_write_file(th_path(dl_save, "volumes/v.zip"), vol_old, vol_old_len);
        snprintf(dl_url, sizeof dl_url, "http://127.0.0.1:%d/v.zip", http_port);
        char *vn = th_path(dl_save, "v-new");
        th_write_file(vn, vol_new, vol_new_len);
        lu_error e;
        cr_assert_eq(lu_sha256_file(vn, dl_sha, NULL, &e), LU_OK);
        unlink(vn);
    }
    if (dl_resume) leave_half_part();
    lu_context *ctx = open_ctx(dl_save, NULL, K);
    done_box box = {0};
    lu_error err = {LU_OK, ""};
    faults_arm(n, K->mode);
    lu_status st = download(ctx, &box, n, &err);
    faults_disarm();
    if (st != LU_OK) cr_assert(err.message[0], "fault %ld: status %s without a message", n, lu_status_name(st));
    lu_context_close(ctx);
    return st == LU_OK;
}

static void check_download(long n, bool ok)
{
    const char *vol = th_path(dl_save, "volumes/v.zip");
    bool is_new = same_file(vol, vol_new, vol_new_len), is_old = same_file(vol, vol_old, vol_old_len);
    cr_assert(is_new || is_old, "fault %ld (%s): volumes/v.zip is neither the old volume nor the new one", n, K->name);
    cr_assert(!ok || is_new, "fault %ld: the download succeeded but the old volume is in place", n);
    /* a clean reopen, and the download without faults */
    lu_context *ctx = open_ctx(dl_save, NULL, NULL);
    cr_assert_eq(lu_startup_report_count(ctx), 0, "fault %ld: the reopen found a problem", n);
    done_box box = {0};
    lu_error err;
    cr_assert_eq(download(ctx, &box, n, &err), LU_OK, "fault %ld: the next download failed: %s", n, err.message);
    cr_assert(same_file(vol, vol_new, vol_new_len), "fault %ld", n);
    lu_context_close(ctx);
    th_write_file(vol, vol_old, vol_old_len);   /* the next run replaces the old volume again */
}

Test(faults_layers, download_install_alloc_transient) { fault_loop("download install", 0, op_download, check_download, 20); }
Test(faults_layers, download_install_alloc_persistent) { fault_loop("download install", 1, op_download, check_download, 20); }
Test(faults_layers, download_install_io_transient) { fault_loop("download install", 2, op_download, check_download, 8); }
Test(faults_layers, download_install_io_persistent) { fault_loop("download install", 3, op_download, check_download, 8); }

/* the same, resuming a .part (read back for its hash through pread, then a 206 of the rest) */
static bool op_download_resume(long n)
{
    dl_resume = true;
    return op_download(n);
}

Test(faults_layers, download_resume_alloc_transient) { fault_loop("download resume", 0, op_download_resume, check_download, 20); cr_assert_gt(http_partials, 0, "no .part was resumed"); }
Test(faults_layers, download_resume_alloc_persistent) { fault_loop("download resume", 1, op_download_resume, check_download, 20); cr_assert_gt(http_partials, 0, "no .part was resumed"); }
Test(faults_layers, download_resume_io_transient) { fault_loop("download resume", 2, op_download_resume, check_download, 8); cr_assert_gt(http_partials, 0, "no .part was resumed"); }
Test(faults_layers, download_resume_io_persistent) { fault_loop("download resume", 3, op_download_resume, check_download, 8); cr_assert_gt(http_partials, 0, "no .part was resumed"); }

/* ---- the update manager -------------------------------------------------- */

typedef struct event_box {
    bool done;
    lu_updater_event_kind kind;
    lu_status status;
    char message[LU_ERROR_MAX];
} event_box;

static void on_event(void *ud, const lu_updater_event *ev)
{
    event_box *b = ud;
    if (ev->kind == LU_UPDATER_CHECKED && ev->has_update) return;   /* READY or FAILED follows */
    b->done = true;
    b->kind = ev->kind;
    b->status = ev->status;
    snprintf(b->message, sizeof b->message, "%s", ev->message ? ev->message : "");
}

static lu_status open_updater(lu_context *ctx, event_box *box, lu_error *err)
{
    lu_updater_config ucfg;
    lu_updater_config_init(&ucfg);
    ucfg.url = doc_url;
    ucfg.local_version = "1.0";
    ucfg.retries = 0;
    ucfg.on_event = on_event;
    ucfg.ud = box;
    return lu_updater_open(ctx, &ucfg, err);
}

/* A check that stages release 1.1, then apply and confirm. */
static lu_status check_apply_confirm(lu_context *ctx, event_box *box, long n, lu_error *err)
{
    lu_status st = lu_updater_check(ctx, err);
    if (st != LU_OK) return st;
    pump(ctx, &box->done, n, "the update check");
    if (box->kind == LU_UPDATER_FAILED) {
        cr_assert(box->message[0], "fault %ld: a FAILED event without a message", n);
        err->status = box->status;
        snprintf(err->message, sizeof err->message, "%s", box->message);
        return box->status;
    }
    cr_assert_eq(box->kind, LU_UPDATER_READY, "fault %ld: the check found no release (event %d)", n, box->kind);
    st = lu_updater_apply(ctx, err);
    return st != LU_OK ? st : lu_updater_confirm(ctx, err);
}

/* After a faulty run on `save`: state.json whole (or absent), a clean
 * reopen with no moved-aside file, mounts and state agreeing; then the
 * update finished without faults. Returns the final content ("new", or
 * "old" when 1.1 was rolled back, which a trial left unconfirmed earns). */
static const char *finish_update(const char *save, long n, bool must_be_new)
{
    char *state = th_read_file(th_path(save, "update/state.json"), NULL);
    if (state) {
        cJSON *j = cJSON_Parse(state);
        cr_assert(cJSON_IsObject(j), "fault %ld (%s): update/state.json is not whole: %s", n, K->name, state);
        cJSON_Delete(j);
    }
    lu_context *ctx = open_ctx(save, base_uri, NULL);
    event_box box = {0};
    lu_error err;
    cr_assert_eq(open_updater(ctx, &box, &err), LU_OK, "fault %ld (%s): the clean reopen failed: %s", n, K->name,
                 err.message);
    for (size_t i = 0; i < lu_startup_report_count(ctx); i++) {
        lu_report_item it;
        lu_startup_report_get(ctx, i, &it);
        cr_assert(strcmp(it.action, "moved_aside") != 0, "fault %ld (%s): %s was moved aside: %s", n, K->name, it.name,
                  it.message);
    }
    lu_updater_info info;
    cr_assert_eq(lu_updater_get_info(ctx, &info, &err), LU_OK);
    bool fresh = strcmp(th_read(ctx, "/x.txt"), "new") == 0;
    cr_assert_eq(fresh, strcmp(info.current, "1.1") == 0, "fault %ld (%s): serves %s but the state says %s", n, K->name,
                 fresh ? "1.1" : "1.0", info.current);
    cr_assert(!must_be_new || (fresh && !info.on_trial), "fault %ld: a run that succeeded left %s%s", n, info.current,
              info.on_trial ? " on trial" : "");
    if (info.on_trial) cr_assert_eq(lu_updater_confirm(ctx, &err), LU_OK, "fault %ld: confirm: %s", n, err.message);
    bool rolled_back = info.rollback_version && strcmp(info.rollback_version, "1.1") == 0;
    if (!fresh && !rolled_back) {
        memset(&box, 0, sizeof box);
        cr_assert_eq(check_apply_confirm(ctx, &box, n, &err), LU_OK, "fault %ld (%s): the next update failed: %s", n,
                     K->name, err.message);
        fresh = true;
    }
    cr_assert_str_eq(th_read(ctx, "/x.txt"), fresh ? "new" : "old");
    lu_context_close(ctx);
    /* and a start after that keeps it, with nothing on trial */
    ctx = open_ctx(save, base_uri, NULL);
    cr_assert_eq(open_updater(ctx, &box, &err), LU_OK, "fault %ld: %s", n, err.message);
    cr_assert_eq(lu_updater_get_info(ctx, &info, &err), LU_OK);
    cr_assert(!info.on_trial);
    cr_assert_str_eq(th_read(ctx, "/x.txt"), fresh ? "new" : "old", "fault %ld (%s)", n, K->name);
    lu_context_close(ctx);
    return fresh ? "new" : "old";
}

static char *upd_save;
static lu_status upd_status;

/* check, staging, apply, confirm in one run, from a save dir with no update state */
static bool op_check(long n)
{
    upd_save = th_tempdir();
    lu_context *ctx = open_ctx(upd_save, base_uri, K);
    event_box box = {0};
    lu_error err = {LU_OK, ""};
    faults_arm(n, K->mode);
    lu_status st = open_updater(ctx, &box, &err);
    if (st == LU_OK) st = check_apply_confirm(ctx, &box, n, &err);
    faults_disarm();
    if (st != LU_OK) cr_assert(err.message[0], "fault %ld (%s): status %s without a message", n, K->name, lu_status_name(st));
    lu_context_close(ctx);
    upd_status = st;
    return st == LU_OK;
}

static void check_update(long n, bool ok)
{
    finish_update(upd_save, n, ok);
}

Test(faults_layers, update_check_stage_apply_alloc_transient) { fault_loop("update check, staging, apply, confirm", 0, op_check, check_update, 50); }
Test(faults_layers, update_check_stage_apply_alloc_persistent) { fault_loop("update check, staging, apply, confirm", 1, op_check, check_update, 50); }
Test(faults_layers, update_check_stage_apply_io_transient) { fault_loop("update check, staging, apply, confirm", 2, op_check, check_update, 10); }
Test(faults_layers, update_check_stage_apply_io_persistent) { fault_loop("update check, staging, apply, confirm", 3, op_check, check_update, 10); }


/* a start applies the staged release; the run confirms it */
static bool op_apply_at_start(long n)
{
    upd_save = th_staged_save_dir(new_zip);
    lu_context *ctx = open_ctx(upd_save, base_uri, K);
    event_box box = {0};
    lu_error err = {LU_OK, ""};
    faults_arm(n, K->mode);
    lu_status st = open_updater(ctx, &box, &err);
    if (st == LU_OK) st = lu_updater_confirm(ctx, &err);
    faults_disarm();
    if (st != LU_OK) cr_assert(err.message[0], "fault %ld (%s): status %s without a message", n, K->name, lu_status_name(st));
    lu_context_close(ctx);
    return st == LU_OK;
}

Test(faults_layers, update_apply_at_start_alloc_transient) { fault_loop("apply at start, confirm", 0, op_apply_at_start, check_update, 20); }
Test(faults_layers, update_apply_at_start_alloc_persistent) { fault_loop("apply at start, confirm", 1, op_apply_at_start, check_update, 20); }
Test(faults_layers, update_apply_at_start_io_transient) { fault_loop("apply at start, confirm", 2, op_apply_at_start, check_update, 8); }
Test(faults_layers, update_apply_at_start_io_persistent) { fault_loop("apply at start, confirm", 3, op_apply_at_start, check_update, 8); }

/* a start rolls back release 1.1, on trial and never confirmed */
static bool op_rollback(long n)
{
    upd_save = th_staged_save_dir(new_zip);
    event_box box = {0};
    lu_error err = {LU_OK, ""};
    lu_context *ctx = open_ctx(upd_save, base_uri, NULL);
    cr_assert_eq(open_updater(ctx, &box, &err), LU_OK, "%s", err.message);   /* applied, on trial */
    cr_assert_str_eq(th_read(ctx, "/x.txt"), "new");
    lu_context_close(ctx);   /* no confirm: the game died */
    ctx = open_ctx(upd_save, base_uri, K);
    faults_arm(n, K->mode);
    lu_status st = open_updater(ctx, &box, &err);
    faults_disarm();
    if (st != LU_OK) cr_assert(err.message[0], "fault %ld (%s): status %s without a message", n, K->name, lu_status_name(st));
    lu_context_close(ctx);
    return st == LU_OK;
}

static void check_rollback(long n, bool ok)
{
    (void)ok;
    cr_assert_str_eq(finish_update(upd_save, n, false), "old", "fault %ld (%s): release 1.1 was never rolled back", n,
                     K->name);
}

Test(faults_layers, update_rollback_alloc_transient) { fault_loop("rollback at start", 0, op_rollback, check_rollback, 20); }
Test(faults_layers, update_rollback_alloc_persistent) { fault_loop("rollback at start", 1, op_rollback, check_rollback, 20); }
Test(faults_layers, update_rollback_io_transient) { fault_loop("rollback at start", 2, op_rollback, check_rollback, 5); }
Test(faults_layers, update_rollback_io_persistent) { fault_loop("rollback at start", 3, op_rollback, check_rollback, 5); }

/* ---- parsing: the manifest, the catalog, the version document ------------ */

static const char MANIFEST[] =
    "{\"resources\": [{\"path\": \"/main/main.lua\", \"size\": 0}, {\"path\": \"/level1/level1.collection\", \"size\": 0},"
    " {\"path\": \"/level1/level1.lua\", \"size\": 0}], \"proxies\": [{\"id\": \"level1\", \"collection\": "
    "\"/level1/level1.collection\", \"excluded\": true, \"volume\": \"liveupdate\", \"resources\": "
    "[\"/level1/level1.collection\", \"/level1/level1.lua\"]}], \"volumes\": [{\"name\": \"liveupdate\", \"file\": "
    "\"liveupdate.zip\", \"version\": 1, \"priority\": 10}]}";
static const char CATALOG[] = "{\"version\": 1, \"volumes\": [{\"name\": \"forest\", \"file\": \"forest.zip\", \"size\": "
                              "1234, \"sha256\": \"ab\", \"version\": 2, \"priority\": 10}]}";
static const char RELEASE[] =
    "{\"version\": \"1.4.0\", \"volumes\": [{\"name\": \"forest\", \"url\": \"https://cdn.example.com/r/forest.zip\", "
    "\"size\": 1234, \"sha256\": \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\", \"priority\": 10}, "
    "{\"name\": \"castle\", \"file\": \"castle.zip\", \"size\": 0, \"sha256\": "
    "\"BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB\"}], \"min_version\": \"1.2.0\", "
    "\"prefer_local_from\": \"1.3.0\", \"binary\": {\"min\": \"1.0\", \"max\": \"2\"}, \"mandatory\": true}";

/* A parse under faults parses the whole document or fails with
 * LU_MEM_ERROR: a good document is never called malformed. */
static bool parsed(long n, const char *what, lu_status st, const lu_error *err)
{
    if (st == LU_OK) return true;
    cr_assert_eq(st, LU_MEM_ERROR, "fault %ld (%s): the %s parse failed with %s: %s", n, K->name, what,
                 lu_status_name(st), err->message);
    cr_assert(err->message[0] && !strstr(err->message, "not a JSON object"), "fault %ld: %s: '%s'", n, what,
              err->message);
    return false;
}

static bool op_parse(long n)
{
    lu_manifest *m = NULL, *c = NULL;
    lu_release *r = NULL;
    lu_error e1 = {LU_OK, ""}, e2 = {LU_OK, ""}, e3 = {LU_OK, ""};
    faults_arm(n, K->mode);
    lu_status s1 = lu_manifest_parse(MANIFEST, sizeof MANIFEST - 1, &m, &e1);
    lu_status s2 = lu_catalog_parse(CATALOG, sizeof CATALOG - 1, &c, &e2);
    lu_status s3 = lu_release_parse(RELEASE, sizeof RELEASE - 1, &r, &e3);
    faults_disarm();
    bool ok1 = parsed(n, "manifest", s1, &e1), ok2 = parsed(n, "catalog", s2, &e2), ok3 = parsed(n, "release", s3, &e3);
    if (ok1) {
        cr_assert(m->nresources == 3 && m->nproxies == 1 && m->proxies[0].nresources == 2 && m->nvolumes == 1 &&
                      strcmp(m->proxies[0].volume, "liveupdate") == 0 && m->volumes[0].version == 1,
                  "fault %ld: the manifest parsed short", n);
    } else {
        cr_assert_null(m);
    }
    if (ok2) cr_assert(c->nvolumes == 1 && c->volumes[0].size == 1234 && c->volumes[0].version == 2, "fault %ld", n);
    else cr_assert_null(c);
    if (ok3) {
        cr_assert(r->nvolumes == 2 && strcmp(r->volumes[1].file, "castle.zip") == 0 && r->mandatory &&
                      strcmp(r->binary_max, "2") == 0 && strcmp(r->prefer_local_from, "1.3.0") == 0,
                  "fault %ld: the version document parsed short", n);
    } else {
        cr_assert_null(r);
    }
    lu_manifest_free(m);
    lu_manifest_free(c);
    lu_release_free(r);
    return ok1 && ok2 && ok3;
}

static void check_nothing(long n, bool ok)
{
    (void)n, (void)ok;
}

Test(faults_layers, parsing_alloc_transient) { fault_loop("manifest, catalog, version document", 0, op_parse, check_nothing, 30); }
Test(faults_layers, parsing_alloc_persistent) { fault_loop("manifest, catalog, version document", 1, op_parse, check_nothing, 30); }

/* ---- the console: a command sequence through one session ------------------ */

static char *con_save, *con_a, *con_b;
#define CON_COMMANDS 8
#define CON_ADD 2      /* "add b", the third command */
#define CON_REMOVE 5   /* "remove a" */
static int con_ran[CON_COMMANDS];   /* per command: 1 ran, 0 failed, -1 no answer */

static void con_reset(void)
{
    lu_context *ctx = open_ctx(con_save, NULL, NULL);
    lu_error err;
    lu_mount_remove(ctx, "b", &err);
    lu_mount_add(ctx, "a", con_a, 1, 0, &err);
    lu_context_close(ctx);
}

static bool op_console(long n)
{
    if (n == 1) {
        con_save = th_tempdir();
        char *vols = th_tempdir(), *a = th_path(vols, "a.zip"), *b = th_path(vols, "b.zip");
        th_make_zip(a, (const char *[]){"x.txt", "A", NULL});
        th_make_zip(b, (const char *[]){"x.txt", "B", "y.txt", "b", NULL});
        con_a = keep_printf("zip:%s%s", a, "");
        con_b = keep_printf("zip:%s%s", b, "");
        con_reset();
    }
    char seq[PATH_MAX * 2];
    int len = snprintf(seq, sizeof seq,
                       "help --json\nmounts --json\nadd b %s 5\nwhich /x.txt --json\nls --json\nremove a --json\n"
                       "report --json\nmounts\n",
                       con_b);
    lu_context *ctx = open_ctx(con_save, NULL, K);
    lu_console *c;
    lu_error err;
    cr_assert_eq(lu_console_open(ctx, 0, &c, &err), LU_OK, "%s", err.message);
    char *out = NULL;
    faults_arm(n, K->mode);
    lu__console_answer(c, seq, (size_t)len, &out);
    faults_disarm();
    /* every line whole: JSON lines parse, status lines name a status and say why */
    int oks = 0, statuses = 0;
    for (int i = 0; i < CON_COMMANDS; i++) con_ran[i] = -1;
    for (char *save = NULL, *line = out ? strtok_r(out, "\n", &save) : NULL; line; line = strtok_r(NULL, "\n", &save)) {
        if (line[0] == '{') {
            cJSON *j = cJSON_Parse(line);
            cr_assert_not_null(j, "fault %ld (%s): a JSON answer is cut: %s", n, K->name, line);
            cr_assert(!cJSON_IsTrue(cJSON_GetObjectItem(j, "ok")) || cJSON_GetObjectItem(j, "result"), "fault %ld", n);
            cJSON_Delete(j);
        } else if (strncmp(line, "%% ", 3) == 0) {
            bool ok = strcmp(line, "%% ok") == 0;
            if (ok) oks++;
            else cr_assert(strncmp(line, "%% error ", 9) == 0 && strlen(line) > 20, "fault %ld: status '%s'", n, line);
            /* answers come in order and stop at one that could not be queued */
            if (statuses < CON_COMMANDS) con_ran[statuses] = ok || strstr(line, "(the command itself ran)");
            statuses++;
        }
    }
    if (K->mode == FAULT_TRANSIENT)
        cr_assert_eq(statuses, CON_COMMANDS, "fault %ld (%s): %d of %d commands answered", n, K->name, statuses,
                     CON_COMMANDS);
    lu_free(ctx, out);
    lu_console_close(c);
    lu_context_close(ctx);
    return oks == CON_COMMANDS;
}

/* The mounts file holds what the answers say: b is there when "add b" ran,
 * a is gone when "remove a" ran (and either, for a command that got no
 * answer); a clean reopen finds no problem. Then back to {a}. */
static void check_console(long n, bool ok)
{
    lu_context *ctx = open_ctx(con_save, NULL, NULL);
    cr_assert_eq(lu_startup_report_count(ctx), 0, "fault %ld (%s): the reopen found a problem", n, K->name);
    lu_mount_info *m;
    size_t cnt;
    lu_error err;
    cr_assert_eq(lu_mounts_get(ctx, &m, &cnt, &err), LU_OK);
    bool a = false, b = false;
    for (size_t i = 0; i < cnt; i++) {
        a |= strcmp(m[i].name, "a") == 0;
        b |= strcmp(m[i].name, "b") == 0;
    }
    lu_free(ctx, m);
    cr_assert(cnt <= 2, "fault %ld (%s): the table has %zu mounts", n, K->name, cnt);
    if (con_ran[CON_ADD] >= 0)
        cr_assert_eq(b, con_ran[CON_ADD] == 1, "fault %ld (%s): 'add b' answered %s but b is %s", n, K->name,
                     con_ran[CON_ADD] ? "ok" : "an error", b ? "mounted" : "not mounted");
    if (con_ran[CON_REMOVE] >= 0)
        cr_assert_eq(a, con_ran[CON_REMOVE] == 0, "fault %ld (%s): 'remove a' answered %s but a is %s", n, K->name,
                     con_ran[CON_REMOVE] ? "ok" : "an error", a ? "mounted" : "not mounted");
    cr_assert(!ok || (b && !a), "fault %ld: every command answered ok but the table is not {b}", n);
    if (a || b) cr_assert_str_eq(th_read(ctx, "/x.txt"), b ? "B" : "A");
    lu_context_close(ctx);
    con_reset();
}

Test(faults_layers, console_alloc_transient) { fault_loop("console session", 0, op_console, check_console, 50); }
Test(faults_layers, console_alloc_persistent) { fault_loop("console session", 1, op_console, check_console, 50); }
Test(faults_layers, console_io_transient) { fault_loop("console session", 2, op_console, check_console, 8); }
Test(faults_layers, console_io_persistent) { fault_loop("console session", 3, op_console, check_console, 8); }
