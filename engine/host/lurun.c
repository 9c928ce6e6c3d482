/* lurun.c -- the game runtime: runs a Defold-style Lua game against the
 * liveupdate library (docs/RUNTIME.md).
 *
 *   lurun <bundle-dir|project-dir> [--save-dir D] [--frames N]
 *         [--console PORT] [--set section.key=value]...
 *
 * Reads game.project, opens the context (base mount, persisted mounts),
 * builds or reads the manifest, loads [bootstrap] main_script through the
 * mounts and runs a fixed-step frame loop: liveupdate callbacks and HTTP
 * completions, update(self, dt) of every running script, then message
 * dispatch. Stops at sys.exit(code), after --frames N, SIGINT or SIGTERM
 * (at the end of the frame), or at the first unhandled Lua error (reported
 * with file and line; exit status 1).
 *
 * The game's manifest is the base bundle's (or the project's) with the
 * /liveupdate.manifest.json of every mounted volume laid over it, lowest
 * priority first, so a hot release brings its new levels; it is rebuilt
 * when a release is applied while the game runs.
 *
 * While a release is on trial, how the run ends is told to the update
 * manager (engine/host/update_policy.c): a Lua error, a non-zero exit code
 * (also through os.exit) or a crash signal fails the release, with the real
 * reason, before the process dies.
 */
#include <errno.h>
#include <stdarg.h>
#include <lauxlib.h>
#include <limits.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <signal.h>
#include <string.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "liveupdate/console.h"
#include "liveupdate/crypto.h"
#include "liveupdate/updater.h"
#include "liveupdate_lua.h"
#include "options.h"

/* ---- signals ----------------------------------------------------------
 * A signal handler reaches no context, so these two are the process's
 * own state (lurun is a program, not the library): the crash note's path
 * (written once before the handlers are installed, read-only after) and
 * the stop request of SIGINT/SIGTERM. */
static char crash_note[PATH_MAX + 64];
static volatile sig_atomic_t stop_requested;

/* SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT: one line for the next start's
 * rollback (only async-signal-safe calls), then the default action. */
static void on_crash(int sig)
{
    const char *name = sig == SIGSEGV ? "SIGSEGV" : sig == SIGBUS ? "SIGBUS" : sig == SIGFPE ? "SIGFPE"
                     : sig == SIGILL ? "SIGILL" : "SIGABRT";
    int fd = crash_note[0] ? open(crash_note, O_WRONLY | O_CREAT | O_TRUNC, 0644) : -1;
    if (fd >= 0) {
        static const char pre[] = "the game crashed with signal ";
        char num[8];
        int n = 0;
        for (int v = sig; v > 0 && n < 7; v /= 10) num[n++] = (char)('0' + v % 10);
        ssize_t w = write(fd, pre, sizeof pre - 1);
        while (n > 0) w = write(fd, &num[--n], 1);
        w = write(fd, " (", 2);
        w = write(fd, name, strlen(name));
        w = write(fd, ")\n", 2);
        (void)w;
        close(fd);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

/* SIGINT, SIGTERM: stop at the end of the frame (a clean end); a second
 * one, or one while the loop hangs, kills as usual. */
static void on_stop(int sig)
{
    if (stop_requested) {
        signal(sig, SIG_DFL);
        raise(sig);
        return;
    }
    stop_requested = 1;
}

static void install_signals(lu_host *h)
{
    const char *note = h->update_on ? lu_updater_crash_note_path(h->ctx) : NULL;
    if (note && strlen(note) < sizeof crash_note) memcpy(crash_note, note, strlen(note) + 1);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sigemptyset(&sa.sa_mask);
    sa.sa_handler = on_stop;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    if (!crash_note[0]) return;
    sa.sa_handler = on_crash;
    sa.sa_flags = SA_RESETHAND;
    const int crash[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
    for (size_t i = 0; i < sizeof crash / sizeof crash[0]; i++) sigaction(crash[i], &sa, NULL);
}

typedef struct options {
    const char *dir;
    const char *save_dir;
    int console_port;     /* -1: from game.project */
    long frames;          /* -1: until sys.exit */
    const char **sets;
    int nsets;
} options;

static void usage(FILE *f)
{
    fprintf(f,
            "usage: lurun <bundle-dir|project-dir> [--save-dir DIR] [--frames N] [--console PORT]\n"
            "             [--set section.key=value]...   |   lurun --help | --version\n"
            "Runs the game in DIR: a bundle (game.project + game.zip, made by lutool bundle)\n"
            "or a project (game.project + its content_root folder).\n");
}

/* Returns LUOPT_RUN, or the exit status (0 after --help or --version, 2
 * after a usage error): tools/common/options.h's rule. */
static int parse_args(int argc, char **argv, options *o)
{
    memset(o, 0, sizeof *o);
    long long frames = -1, port = -1;
    o->sets = calloc((size_t)argc, sizeof *o->sets);
    if (!o->sets) return fprintf(stderr, "lurun: out of memory\n"), 1;
    const luopt opts[] = {
        LUOPT_STR("--save-dir", &o->save_dir),
        LUOPT_NUM("--frames", &frames, 0, INT_MAX),
        LUOPT_NUM("--console", &port, 0, 65535),
        LUOPT_STRS("--set", o->sets, &o->nsets),
    };
    const luopt_cmd cmd = {"lurun", "lurun", usage, opts, sizeof opts / sizeof *opts, &o->dir, 1, NULL};
    int status = luopt_parse(&cmd, argc - 1, argv + 1);
    if (status != LUOPT_RUN) return status;
    if (!o->dir) return luopt_usage_error("lurun", "missing <bundle-dir|project-dir>");
    o->frames = (long)frames;
    o->console_port = (int)port;
    return LUOPT_RUN;
}

/* snprintf that refuses to truncate: false (and a message) when the path
 * does not fit. */
static bool path_fmt(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static bool path_fmt(char *buf, size_t cap, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, cap, fmt, ap);
    va_end(ap);
    if (n < 0 || (size_t)n >= cap) {
        fprintf(stderr, "lurun: path too long (%d bytes): %.80s...\n", n, buf);
        return false;
    }
    return true;
}

static bool file_exists(const char *p)
{
    struct stat sb;
    return stat(p, &sb) == 0;
}

/* Save directory: --save-dir, else $XDG_DATA_HOME/<title>, else
 * ~/.local/share/<title>; a project run's default is "<title> (project)"
 * there, so it never serves what a bundle run of the game downloaded.
 * sys.get_save_file uses the same root (and suffix, host_sys.c). */
static bool save_paths(lu_host *h, const options *o, char *save, size_t cap)
{
    const char *title = lu_project_get(h->project, "project.title");
    if (!title || !*title) title = "unnamed";
    char safe[256];
    snprintf(safe, sizeof safe, "%s", title);
    for (char *c = safe; *c; c++)
        if (*c == '/' || *c == '\\') *c = '_';
    char root[PATH_MAX];
    if (o->save_dir) {
        /* absolute, so paths handed to scripts (sys.get_save_file) mean the
         * same thing as URIs, which are relative to the save dir */
        char cwd[PATH_MAX];
        bool rel = o->save_dir[0] != '/';
        if (rel && !getcwd(cwd, sizeof cwd)) return false;
        if (!path_fmt(save, cap, "%s%s%s", rel ? cwd : "", rel ? "/" : "", o->save_dir) ||
            !path_fmt(root, sizeof root, "%s", save))
            return false;
    } else {
        const char *xdg = getenv("XDG_DATA_HOME"), *home = getenv("HOME");
        bool ok;
        if (xdg && *xdg) ok = path_fmt(root, sizeof root, "%s", xdg);
        else if (home && *home) ok = path_fmt(root, sizeof root, "%s/.local/share", home);
        else {
            fprintf(stderr, "lurun: neither XDG_DATA_HOME nor HOME is set; pass --save-dir\n");
            return false;
        }
        h->save_suffix = h->bundled ? "" : " (project)";
        if (!ok || !path_fmt(save, cap, "%s/%s%s", root, safe, h->save_suffix)) return false;
    }
    h->save_root = strdup(root);
    return h->save_root != NULL;
}

static bool open_context(lu_host *h, const options *o, const char *absdir)
{
    char base[PATH_MAX + 8], save[PATH_MAX], zip[PATH_MAX];
    if (!path_fmt(zip, sizeof zip, "%s/game.zip", absdir)) return false;
    h->bundled = file_exists(zip);
    const char *root = lu_project_get(h->project, "project.content_root");
    if (h->bundled ? !path_fmt(base, sizeof base, "zip:%s", zip)
                   : !path_fmt(base, sizeof base, "dir:%s/%s", absdir, root && *root ? root : "content"))
        return false;
    if (!save_paths(h, o, save, sizeof save)) return false;
    /* A bundle's volumes sit in its liveupdate/ folder: that is where
     * game.http_url points when the project leaves it empty. */
    const char *url = lu_project_get(h->project, "game.http_url");
    char deflt[PATH_MAX + 32];
    lu_error uerr;
    if (h->bundled && (!url || !*url) &&
        (!path_fmt(deflt, sizeof deflt, "file://%s/liveupdate", absdir) ||
         lu_project_set(h->project, "game.http_url", deflt, &uerr) != LU_OK))
        return false;
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    cfg.base_uri = base;
    lu_error err;
    long long v;
    bool on;
    /* [liveupdate] enabled = 0: the context gets no save directory, so its
     * persisted mounts are neither loaded, pruned nor written (the file
     * stays as it was for the next enabled build); the module refuses the
     * calls that change or download (open_lua) and no update manager
     * starts (lu_host_update_start). docs/RUNTIME.md. */
    if (lu_project_get_bool(h->project, "liveupdate.enabled", true, &on, &err) != LU_OK) goto bad_config;
    h->live_update_off = !on;
    if (h->live_update_off) {
        cfg.save_dir = NULL;
        fprintf(stderr, "lurun: live update is off ([liveupdate] enabled = 0): the base content only\n");
    }
    if (lu_project_get_bool(h->project, "liveupdate.mount_on_start", true, &on, &err) != LU_OK) goto bad_config;
    cfg.mount_on_start = on;
    if (lu_project_get_int(h->project, "liveupdate.max_uncompressed", (long long)cfg.max_uncompressed, &v, &err) != LU_OK)
        goto bad_config;
    cfg.max_uncompressed = (uint64_t)v;
    if (lu_project_get_bool(h->project, "liveupdate.prune_stale", false, &on, &err) != LU_OK) goto bad_config;
    cfg.prune_stale = on;
    const char *min_key = lu_project_get(h->project, "liveupdate.minimum_version_key");
    if (lu_project_get_int(h->project, min_key ? min_key : "game.minimum_lu_version", 0, &v, &err) != LU_OK)
        goto bad_config;
    cfg.minimum_version = v;
    if (lu_project_get_int(h->project, "liveupdate.max_downloads", 2, &v, &err) != LU_OK) goto bad_config;
    cfg.max_downloads = (int)(v > 0 && v <= 64 ? v : 2);
    /* public_key and ca_file: hex text or a path, relative to the game folder */
    unsigned char key[32];
    char keypath[PATH_MAX], capath[PATH_MAX];
    const char *pk = lu_project_get(h->project, "liveupdate.public_key");
    if (pk && *pk) {
        if (strlen(pk) != 64 && pk[0] != '/' && path_fmt(keypath, sizeof keypath, "%s/%s", absdir, pk)) pk = keypath;
        if (lu_public_key_parse(pk, key, &err) != LU_OK) goto bad_config;
        cfg.public_key = key;
    }
    const char *ca = lu_project_get(h->project, "liveupdate.ca_file");
    if (ca && *ca) {
        if (ca[0] != '/' && path_fmt(capath, sizeof capath, "%s/%s", absdir, ca)) ca = capath;
        cfg.ca_file = ca;
    }
    if (lu_context_open(&cfg, &h->ctx, &err) != LU_OK) {
        fprintf(stderr, "lurun: cannot start: %s\n", err.message);
        return false;
    }
    for (size_t i = 0; i < lu_startup_report_count(h->ctx); i++) {
        lu_report_item it;
        lu_startup_report_get(h->ctx, i, &it);
        fprintf(stderr, "lurun: start-up: %s mount '%s' (%s): %s\n", it.action, it.name, it.uri, it.message);
    }
    return true;
bad_config:
    fprintf(stderr, "lurun: %s\n", err.message);
    return false;
}

static int by_priority(const void *a, const void *b)
{
    int pa = ((const lu_mount_info *)a)->priority, pb = ((const lu_mount_info *)b)->priority;
    return (pa > pb) - (pa < pb);
}

/* Lays the manifest of every mounted volume over h->manifest, lowest
 * priority first (a release's game volume brings its levels). A volume
 * without one adds nothing; one that does not parse is reported and
 * skipped. */
static bool overlay_mounts(lu_host *h)
{
    lu_mount_info *mi;
    size_t n;
    lu_error err;
    if (lu_mounts_get(h->ctx, &mi, &n, &err) != LU_OK) {
        fprintf(stderr, "lurun: manifest: %s\n", err.message);
        return false;
    }
    qsort(mi, n, sizeof *mi, by_priority);
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        if (strcmp(mi[i].name, LU_BASE_MOUNT) == 0) continue;
        void *data;
        size_t size;
        lu_manifest *top;
        if (lu_read_from(h->ctx, mi[i].name, "/liveupdate.manifest.json", &data, &size, &err) != LU_OK) continue;
        lu_status st = lu_manifest_parse(data, size, &top, &err);
        lu_free(h->ctx, data);
        if (st == LU_OK) st = lu_manifest_overlay(h->manifest, top, &err);
        if (st == LU_MEM_ERROR) ok = false;
        if (st != LU_OK) fprintf(stderr, "lurun: manifest of mount '%s': %s\n", mi[i].name, err.message);
    }
    lu_free(h->ctx, mi);
    return ok;
}

/* Bundle: the base mount's /liveupdate.manifest.json. Project: built from
 * game.project over the content tree, so nothing is missing. Then the
 * mounted volumes' manifests over it. */
static bool load_manifest(lu_host *h)
{
    lu_error err;
    lu_status st;
    if (h->bundled) {
        void *data;
        size_t size;
        st = lu_read_from(h->ctx, LU_BASE_MOUNT, "/liveupdate.manifest.json", &data, &size, &err);
        if (st == LU_NOT_FOUND) return (h->manifest = calloc(1, sizeof *h->manifest)) != NULL && overlay_mounts(h);
        if (st == LU_OK) {
            st = lu_manifest_parse(data, size, &h->manifest, &err);
            lu_free(h->ctx, data);
        }
    } else {
        char **paths = NULL;
        size_t n = 0;
        st = lu_list_paths(h->ctx, "/", LU_BASE_MOUNT, &paths, &n, &err);
        uint64_t *sizes = st == LU_OK ? calloc(n + 1, sizeof *sizes) : NULL;
        for (size_t i = 0; sizes && i < n; i++) {
            lu_stat_info si;
            if (lu_stat(h->ctx, paths[i], &si, NULL) == LU_OK) sizes[i] = si.size;
        }
        if (st == LU_OK) st = lu_manifest_from_project(h->project, paths, sizes, n, &h->manifest, &err);
        free(sizes);
        lu_free(h->ctx, paths);
    }
    if (st != LU_OK) fprintf(stderr, "lurun: manifest: %s\n", err.message);
    return st == LU_OK && overlay_mounts(h);
}

/* os.exit(code): the run's end is told to the update manager first (a
 * non-zero code fails a release on trial), then Lua's own os.exit. */
static int l_os_exit(lua_State *L)
{
    lu_host *h = lu_host_get(L);
    int code = lua_isboolean(L, 1) ? (lua_toboolean(L, 1) ? 0 : 1) : (int)luaL_optinteger(L, 1, 0);
    if (h) lu_host_update_end(h, code);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 1);
    lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
    return lua_gettop(L);
}

/* A Lua state for a script world, bound to the host's context: the
 * standard libraries (os.exit wrapped), Defold's globals and host modules,
 * the module `liveupdate` speaking [liveupdate] defold_api. */
static lua_State *open_lua(lu_host *h)
{
    lua_State *L = luaL_newstate();
    if (!L) return NULL;
    luaL_openlibs(L);
    lua_getglobal(L, "os");
    lua_getfield(L, -1, "exit");
    lua_pushcclosure(L, l_os_exit, 1);
    lua_setfield(L, -2, "exit");
    lua_pop(L, 1);
    lu_host_set(L, h);
    lu_host_open_globals(L);
    lu_host_scripts_init(L);
    static const struct {
        const char *name;
        lua_CFunction open;
    } mods[] = {
        {"liveupdate", luaopen_liveupdate}, {"sys", lu_host_open_sys},
        {"msg", lu_host_open_msg},          {"json", lu_host_open_json},
        {"http", lu_host_open_http},        {"collectionproxy", lu_host_open_collectionproxy},
        {"timer", lu_host_open_timer},
        {"resource", luaopen_liveupdate_resource},   /* Defold <= 1.3's legacy aliases */
    };
    for (size_t i = 0; i < sizeof mods / sizeof mods[0]; i++) {
        luaL_requiref(L, mods[i].name, mods[i].open, 1);
        lua_pop(L, 1);
    }
    lu_lua_use_context(L, h->ctx, h->manifest);   /* NULL at the first start: run() sets it after the update start-up */
    const char *url = lu_project_get(h->project, "game.http_url");
    if (url && *url) lu_lua_set_http_url(L, url);
    const char *api = lu_project_get(h->project, "liveupdate.defold_api");
    if (api && *api) lu_lua_set_defold_api(L, api);   /* checked in main() */
    if (h->live_update_off && lu_lua_set_live_update_off(L, LU_HOST_OFF_MESSAGE) != 0) {
        lua_close(L);
        return NULL;
    }
    return L;
}

/* liveupdate.poll() from C, so callback errors are reported like others. */
static bool poll_liveupdate(lu_host *h)
{
    lua_getglobal(h->L, "liveupdate");
    lua_getfield(h->L, -1, "poll");
    lua_remove(h->L, -2);
    return lu_host_pcall(h, 0, 0, "a liveupdate callback");
}

static bool update_scripts(lu_host *h, double dt)
{
    for (size_t i = 0; i < h->nscripts && !h->exit_requested; i++) {
        lu_script *s = &h->scripts[i];
        bool running = !s->proxy;
        for (size_t k = 0; s->proxy && k < h->nproxies; k++)
            running |= strcmp(h->proxies[k].id, s->proxy) == 0 && h->proxies[k].state == LU_PROXY_ENABLED;
        if (!running || s->finalized) continue;
        lua_pushnumber(h->L, dt);
        if (!lu_host_call(h, s, "update", 1)) return false;
    }
    return true;
}

static void sleep_until(struct timespec *next, double step)
{
    next->tv_nsec += (long)(step * 1e9);
    while (next->tv_nsec >= 1000000000L) {
        next->tv_nsec -= 1000000000L;
        next->tv_sec++;
    }
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, next, NULL) == EINTR) {}
}

/* The debug console, when --console or [liveupdate] console_port asks. */
static bool open_console(lu_host *h, const options *o, lu_console **out)
{
    *out = NULL;
    long long port = o->console_port, min;
    lu_error err;
    if (port < 0 && lu_project_get_int(h->project, "liveupdate.console_port", 0, &port, &err) != LU_OK) {
        fprintf(stderr, "lurun: %s\n", err.message);
        return false;
    }
    if (port <= 0 && o->console_port != 0) return true;   /* off */
    if (lu_console_open(h->ctx, (int)port, out, &err) != LU_OK) {
        fprintf(stderr, "lurun: %s\n", err.message);
        return false;
    }
    const char *min_key = lu_project_get(h->project, "liveupdate.minimum_version_key");
    if (lu_project_get_int(h->project, min_key ? min_key : "game.minimum_lu_version", 0, &min, &err) == LU_OK)
        lu_console_set_prune_minimum(*out, min);
    lu_host_console_register(h, *out);
    fprintf(stderr, "lurun: console listening on 127.0.0.1:%d\n", lu_console_port(*out));
    return true;
}

static void free_queue(lu_host *h)
{
    while (h->queue) {
        lu_message *m = h->queue;
        h->queue = m->next;
        free(m->to);
        free(m->sender);
        free(m->id);
        free(m);
    }
    h->queue_tail = NULL;
}

static void final_all(lu_host *h)
{
    for (size_t i = h->nscripts; i-- > 0;)
        if (h->scripts[i].initialized && !h->scripts[i].finalized) {
            h->scripts[i].finalized = true;
            lu_host_call(h, &h->scripts[i], "final", 0);
        }
}

/* The manifest again, over the mounts as they are now (a release came or
 * went); on failure the game keeps the one it had. */
static void rebuild_manifest(lu_host *h)
{
    lu_manifest *old = h->manifest;
    h->manifest = NULL;
    if (!load_manifest(h)) {
        lu_manifest_free(h->manifest);
        h->manifest = old;
        return;
    }
    lu_lua_set_manifest(h->L, h->manifest);
    lu_manifest_free(old);
}

/* Loads the main script through the mounts (from the base bundle while the
 * content is blocked below min_version) and runs its init. */
static bool start_world(lu_host *h, const char *main_script)
{
    h->main_from_base = h->blocked;
    lu_script *main_s = lu_host_load_script(h, main_script, "main:/main#script", NULL);
    if (!main_s) return false;
    main_s->initialized = true;
    return lu_host_call(h, main_s, "init", 0) && lu_host_dispatch(h);
}

/* apply_update() or sys.reboot(): the script world ends (final on every
 * script, proxies unloaded, queue, HTTP requests and timers dropped) and
 * starts again on the mounts as they are now, in a fresh Lua state, so no
 * global and no package.loaded module of the previous content survives.
 * The context and its mounts stay; add_mount and download_volume requests
 * still in flight complete without their callbacks. */
static bool restart_world(lu_host *h, const char *main_script, const char *why)
{
    fprintf(stderr, "lurun: %s\n", why);
    final_all(h);
    lua_State *fresh = open_lua(h);
    if (!fresh) {
        fprintf(stderr, "lurun: cannot restart the scripts: out of memory\n");
        return false;
    }
    lu_host_free_scripts(h);
    lu_host_free_proxies(h);
    free_queue(h);
    lu_host_http_free(h);
    lu_host_timers_free(h);
    lu_lua_move_requests(h->L, fresh);
    lua_close(h->L);
    h->L = fresh;
    h->current_url = NULL;
    lu_host_update_lua(h);
    h->trial_seen = 0;
    /* still below min_version after the apply? (not when the release came) */
    lu_updater_info in;
    lu_error err;
    if (h->blocked && lu_updater_get_info(h->ctx, &in, &err) == LU_OK) h->blocked = in.blocked;
    rebuild_manifest(h);
    return start_world(h, main_script);
}

static int run(lu_host *h, const options *o)
{
    const char *main_script = lu_project_get(h->project, "bootstrap.main_script");
    if (!main_script) main_script = "/main/main.lua";
    double freq;
    lu_error err;
    if (lu_project_get_number(h->project, "display.update_frequency", 60, &freq, &err) != LU_OK) {
        fprintf(stderr, "lurun: %s\n", err.message);
        return 1;
    }
    double dt = 1.0 / (freq > 0 ? freq : 60);
    lu_console *console;
    if (!open_console(h, o, &console)) return 1;
    if (!lu_host_update_start(h)) {
        lu_console_close(console);
        return 1;
    }
    install_signals(h);
    /* once the update manager has applied, rolled back or dropped a release */
    if (!load_manifest(h)) {
        lu_console_close(console);
        return 1;
    }
    lu_lua_set_manifest(h->L, h->manifest);
    bool ok = start_world(h, main_script);
    if (!ok && h->nscripts == 0) {
        lu_console_close(console);
        lu_host_update_end(h, 1);
        return 1;
    }
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    for (h->frame = 0; ok && !h->exit_requested && !stop_requested && (o->frames < 0 || h->frame < o->frames);
         h->frame++) {
        ok = poll_liveupdate(h);
        if (ok && (lu_lua_take_restart(h->L) || h->restart_pending)) {
            h->restart_pending = h->reboot_pending = false;
            ok = restart_world(h, main_script, "update applied: restarting the scripts on the new content");
        } else if (ok && h->reboot_pending) {
            h->reboot_pending = false;
            ok = restart_world(h, main_script, "sys.reboot: restarting the scripts");
        }
        if (ok && h->script_errors == 0) lu_host_update_frame(h);
        lu_console_poll(console);
        if (ok && h->script_errors == 0) lu_host_timers_frame(h, dt);   /* before update(), as Defold */
        ok = ok && h->script_errors == 0 && update_scripts(h, dt) && lu_host_dispatch(h);
        if (ok) lu_host_update_frame_done(h);
        if (freq > 0) sleep_until(&next, dt);
    }
    if (stop_requested) fprintf(stderr, "lurun: stopped by a signal at frame %ld\n", h->frame);
    final_all(h);
    lu_console_close(console);
    int code = h->exit_code;
    if (h->script_errors) {
        fprintf(stderr, "lurun: stopped after %d Lua error(s) at frame %ld\n", h->script_errors, h->frame);
        code = h->exit_code ? h->exit_code : 1;
    }
    lu_host_update_end(h, code);
    return code;
}

static void print_warning(void *ud, const char *message)
{
    (void)ud;
    fprintf(stderr, "lurun: %s\n", message);
}

int main(int argc, char **argv)
{
    options o;
    int status = parse_args(argc, argv, &o);
    if (status != LUOPT_RUN) {
        free(o.sets);
        return status;
    }
    lu_host h;
    memset(&h, 0, sizeof h);
    int code = 1;
    char absdir[PATH_MAX], projfile[PATH_MAX + 16];
    lu_error err;
    if (!realpath(o.dir, absdir)) {
        fprintf(stderr, "lurun: cannot open game directory '%s': %s\n", o.dir, strerror(errno));
        goto cleanup;
    }
    if (!path_fmt(projfile, sizeof projfile, "%s/game.project", absdir)) goto cleanup;
    if (lu_project_load(projfile, &h.project, &err) != LU_OK) {
        fprintf(stderr, "lurun: %s\n", err.message);
        goto cleanup;
    }
    for (int i = 0; i < o.nsets; i++)
        if (lu_project_set_assignment(h.project, o.sets[i], &err) != LU_OK) {
            fprintf(stderr, "lurun: --set: %s\n", err.message);
            code = 2;
            goto cleanup;
        }
    /* the schema: a mistake in the file stops the game (1), one in a --set
     * is a bad command line (2) */
    lu_status checked = lu_project_check(h.project, print_warning, NULL, &err);
    if (checked != LU_OK) {
        fprintf(stderr, "lurun: %s\n", err.message);
        code = checked == LU_INVAL ? 2 : 1;
        goto cleanup;
    }
    h.project_dir = absdir;
    const char *api = lu_project_get(h.project, "liveupdate.defold_api");
    if (api && *api && lu_lua_defold_api_check(api) != 0) {
        fprintf(stderr, "lurun: game.project: [liveupdate] defold_api must be 1.12 or 1.13, not '%s'\n", api);
        code = 2;
        goto cleanup;
    }
    if (!open_context(&h, &o, absdir)) goto cleanup;
    if (!(h.L = open_lua(&h))) {
        fprintf(stderr, "lurun: out of memory\n");
        goto cleanup;
    }
    code = run(&h, &o);
cleanup:
    if (h.L) {
        lu_host_http_free(&h);
        lu_host_timers_free(&h);
        free_queue(&h);
        lu_host_free_scripts(&h);
        lu_host_free_proxies(&h);
        lua_close(h.L);
    }
    lu_manifest_free(h.manifest);
    lu_context_close(h.ctx);
    lu_project_free(h.project);
    free(h.save_root);
    free(o.sets);
    return code;
}
