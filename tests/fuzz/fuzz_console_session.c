/* fuzz_console_session.c -- bytes as what one console client sends over a
 * real socket, in chunks, to the console lurun runs: the library's
 * commands (engine/console/server.c) and lurun's own (missing, downloads,
 * update, status: engine/host/console_commands.c) against one context with
 * a save directory, a base volume and two persisted mounts, a manifest with
 * proxies and an open update manager. Lines share the session: a mount
 * added by one line is listed, read through and removed by the next ones,
 * and a line cut by a chunk boundary is joined as the server receives it.
 * The first byte picks the chunk size; the rest is the stream. After each
 * input the mount table is put back as it was (the save dir's mounts file
 * with it), so inputs stay independent. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include "host.h"
#include "fuzz.h"
#include "liveupdate/console.h"
#include "liveupdate/updater.h"

/* lurun's http.request transfers live in its Lua host (host_http.c): none
 * here, so "downloads" lists the volume downloads only. */
size_t lu_host_http_list(lu_host *h, lu_http_transfer *out, size_t max)
{
    (void)h, (void)out, (void)max;
    return 0;
}

static lu_host host;
static lu_console *console;
static char dlc_uri[400], patch_uri[400];

static const char project_text[] =
    "[project]\ntitle = Fuzz\n\n[update]\nurl = http://127.0.0.1:9/release.json\nmode = async\n";
static const char manifest_json[] =
    "{\"resources\": [{\"path\": \"/main/main.lua\", \"size\": 4}, {\"path\": \"/level1/level1.collection\", \"size\": 30},"
    " {\"path\": \"/level1/a.txt\", \"size\": 1}, {\"path\": \"/level2/b.txt\", \"size\": 1}],"
    " \"proxies\": [{\"id\": \"level1\", \"collection\": \"/level1/level1.collection\","
    " \"resources\": [\"/level1/level1.collection\", \"/level1/a.txt\"], \"proxies\": [\"level2\"]},"
    " {\"id\": \"level2\", \"collection\": \"/level2/level2.collection\", \"resources\": [\"/level2/b.txt\"],"
    " \"proxies\": [], \"excluded\": true, \"volume\": \"forest\"}],"
    " \"volumes\": [{\"name\": \"forest\", \"file\": \"forest.zip\", \"size\": 10, \"version\": 2}]}";

static void mkfile(const char *dir, const char *rel, const char *text)
{
    char p[600];
    snprintf(p, sizeof p, "%s/%s", dir, rel);
    char *slash = strrchr(p, '/');
    *slash = '\0';
    mkdir(p, 0755);
    *slash = '/';
    fuzz_write(p, (const uint8_t *)text, strlen(text));
}

static void setup(void)
{
    char base[300], dlc[300], save[300], zip[300], base_uri[320];
    lu_error err;
    snprintf(base, sizeof base, "%s/base", fuzz_dir());
    snprintf(dlc, sizeof dlc, "%s/dlc", fuzz_dir());
    snprintf(save, sizeof save, "%s/save", fuzz_dir());
    snprintf(zip, sizeof zip, "%s/patch.zip", fuzz_dir());
    mkdir(base, 0755);
    mkdir(dlc, 0755);
    mkdir(save, 0755);
    mkfile(base, "main/main.lua", "-- m");
    mkfile(base, "game.project", project_text);
    mkfile(dlc, "level1/level1.collection", "script: \"/level1/level1.lua\"\n");
    mkfile(dlc, "level1/a.txt", "a");
    mkfile(dlc, "version_dlc.json", "{\"version\": 3}");   /* prune keeps the mounts that have one */
    lu_zip_writer *w;
    if (lu_zip_writer_open(zip, &w, &err) != LU_OK || lu_zip_writer_add(w, "level2/b.txt", "b", 1, 6, &err) != LU_OK ||
        lu_zip_writer_add(w, "version_patch.json", "{\"version\": 3}", 14, 6, &err) != LU_OK ||
        lu_zip_writer_close(w, &err) != LU_OK)
        abort();
    snprintf(base_uri, sizeof base_uri, "dir:%s", base);
    snprintf(dlc_uri, sizeof dlc_uri, "dir:%s", dlc);
    snprintf(patch_uri, sizeof patch_uri, "zip:%s", zip);
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.base_uri = base_uri;
    cfg.save_dir = save;
    cfg.io = &fuzz_no_fsync;
    if (lu_context_open(&cfg, &host.ctx, &err) != LU_OK) abort();
    if (lu_mount_add(host.ctx, "dlc", dlc_uri, 20, 0, &err) != LU_OK ||
        lu_mount_add(host.ctx, "patch", patch_uri, 30, 0, &err) != LU_OK)
        abort();
    if (lu_project_parse("game.project", project_text, sizeof project_text - 1, &host.project, &err) != LU_OK ||
        lu_manifest_parse(manifest_json, sizeof manifest_json - 1, &host.manifest, &err) != LU_OK)
        abort();
    lu_updater_config ucfg;
    lu_updater_config_init(&ucfg);
    ucfg.url = "http://127.0.0.1:9/release.json";   /* never checked: no lu_update() runs */
    ucfg.local_version = "1.0";
    if (lu_updater_open(host.ctx, &ucfg, &err) != LU_OK) abort();
    host.update_on = true;
    host.frame = 42;
    if (lu_console_open(host.ctx, 0, &console, &err) != LU_OK) abort();
    lu_host_console_register(&host, console);
}

/* Puts the mount table back: only _base, dlc (20) and patch (30). */
static void restore_mounts(void)
{
    lu_error err;
    lu_mount_info *m;
    size_t n;
    if (lu_mounts_get(host.ctx, &m, &n, &err) != LU_OK) abort();
    bool have_dlc = false, have_patch = false;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(m[i].name, "dlc") == 0 && m[i].priority == 20 && strcmp(m[i].uri, dlc_uri) == 0) have_dlc = true;
        else if (strcmp(m[i].name, "patch") == 0 && m[i].priority == 30 && strcmp(m[i].uri, patch_uri) == 0) have_patch = true;
        else if (m[i].name[0] != '_' && lu_mount_remove(host.ctx, m[i].name, &err) != LU_OK) abort();
    }
    lu_free(host.ctx, m);
    if (!have_dlc && lu_mount_add(host.ctx, "dlc", dlc_uri, 20, 0, &err) != LU_OK) abort();
    if (!have_patch && lu_mount_add(host.ctx, "patch", patch_uri, 30, 0, &err) != LU_OK) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!console) setup();
    if (size == 0) return 0;
    size_t chunk = 1 + (size_t)data[0] * 19;   /* 1 .. 4846 bytes per send */
    data++, size--;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)lu_console_port(console))};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int fd = -1;
    /* the server closes each session first, so its side of every past one
     * waits in TIME_WAIT: a connect may find no free local port for a while */
    for (int tries = 0; fd < 0; tries++) {
        if (tries == 1000 || (fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) abort();
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) break;
        if (errno != EADDRNOTAVAIL && errno != EAGAIN) abort();
        close(fd);
        fd = -1;
        usleep(1000);
    }
    char buf[65536];
    size_t sent = 0;
    bool eof = false, shut = false;
    for (int rounds = 0; !eof; rounds++) {
        if (rounds > 100000) abort();   /* the server never closed the session: a hang */
        if (sent < size) {
            size_t n = size - sent < chunk ? size - sent : chunk;
            ssize_t w = send(fd, data + sent, n, MSG_DONTWAIT | MSG_NOSIGNAL);
            if (w > 0) sent += (size_t)w;
        }
        if (sent == size && !shut) shut = shutdown(fd, SHUT_WR) == 0;   /* also when nothing was sent */
        lu_console_poll(console);
        struct pollfd p = {fd, POLLIN, 0};
        while (poll(&p, 1, 0) == 1) {
            ssize_t r = recv(fd, buf, sizeof buf, MSG_DONTWAIT);
            if (r <= 0) {
                eof = r == 0 || (errno != EAGAIN && errno != EINTR);
                break;
            }
        }
    }
    close(fd);
    restore_mounts();
    return 0;
}
