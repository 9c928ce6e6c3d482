/* rebind.c -- a host that re-binds the Lua module while requests are in
 * flight (tools/test runs it under ASan).
 *
 * Pending records (lua/liveupdate/liveupdate_state.h) belong to the context
 * they were registered with and live until it delivers or drops them. This
 * host registers an add_mount (and a download), then re-binds the module
 * (lu_lua_use_context), calls shutdown() from Lua, or closes the Lua state,
 * and lets the context deliver: a record freed by the re-binding would be
 * a heap-use-after-free in the mount-done handler. Also hands the requests
 * of one Lua state to a fresh one (lu_lua_move_requests, as lurun does at
 * a script-world restart) and closes the old state before delivery. Also checks that a
 * request registered after a re-binding still reaches its callback.
 * Usage: lu_lua_rebind; exit 0 and "rebind: ok" on success.
 */
#include <lauxlib.h>
#include <lualib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "liveupdate_lua.h"

static int failures;

static void check(int ok, const char *what)
{
    if (!ok) {
        fprintf(stderr, "rebind: FAILED: %s\n", what);
        failures++;
    }
}

static void run(lua_State *L, const char *code)
{
    if (luaL_dostring(L, code) != LUA_OK) {
        fprintf(stderr, "rebind: Lua error: %s\n", lua_tostring(L, -1));
        lua_pop(L, 1);
        failures++;
    }
}

/* Calls lu_update until it ran `want` completions (giving up after about a
 * minute: a hang guard, not a speed bar). */
static int pump(lu_context *ctx, int want)
{
    int ran = 0;
    struct timespec ts = {0, 10 * 1000 * 1000};
    for (int i = 0; i < 6000 && ran < want; i++) {
        ran += lu_update(ctx);
        if (ran < want) nanosleep(&ts, NULL);
    }
    return ran;
}

static lua_State *open_lua(lu_context *ctx)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    luaL_requiref(L, "liveupdate", luaopen_liveupdate, 1);
    lua_pop(L, 1);
    lu_lua_use_context(L, ctx, NULL);
    return L;
}

static int global_int(lua_State *L, const char *name)
{
    lua_getglobal(L, name);
    int v = (int)lua_tointeger(L, -1);
    lua_pop(L, 1);
    return v;
}

int main(void)
{
    char dir[] = "/tmp/lu_rebind_XXXXXX";
    const char *tmp = getenv("TMPDIR");
    char tmpl[4096];
    snprintf(tmpl, sizeof tmpl, "%s/lu_rebind_XXXXXX", tmp && *tmp ? tmp : "/tmp");
    char *save = mkdtemp(tmpl);
    if (!save) save = mkdtemp(dir);
    if (!save) {
        perror("mkdtemp");
        return 1;
    }
    lu_config cfg;
    lu_config_init(&cfg);
    cfg.save_dir = save;
    lu_context *ctx;
    lu_error err;
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) {
        fprintf(stderr, "rebind: %s\n", err.message);
        return 1;
    }
    static const char add[] =
        "called = 0\n"
        "assert(liveupdate.add_mount('a', 'zip:/nonexistent/a.zip', 1,"
        "  function() called = called + 1 end) == liveupdate.LIVEUPDATE_OK)\n";

    /* 1. re-bound with a request in flight: the context delivers a record
     * the module no longer runs a callback for */
    lua_State *L = open_lua(ctx);
    run(L, add);
    lu_lua_use_context(L, ctx, NULL);
    check(pump(ctx, 1) == 1, "the context delivers the add_mount after a re-bind");
    check(global_int(L, "called") == 0, "no callback after a re-bind");
    /* a request registered after the re-binding still reaches its callback */
    run(L, add);
    pump(ctx, 1);
    run(L, "liveupdate.poll()");
    check(global_int(L, "called") == 1, "a request after the re-bind runs its callback");

    /* 1b. the same with a download (file: URL) and its progress callback */
    char vol[4200];
    snprintf(vol, sizeof vol, "%s/v.zip", save);
    FILE *f = fopen(vol, "wb");
    if (!f) return 1;
    fputs("not a zip, but the download itself succeeds", f);
    fclose(f);
    lua_pushfstring(L, "file://%s", vol);
    lua_setglobal(L, "vol_url");
    run(L, "called = 0\n"
           "assert(liveupdate.download_volume({name = 'v', url = vol_url}, {progress = function() called = called + 1 end},"
           "  function() called = called + 1 end))\n");
    lu_lua_use_context(L, ctx, NULL);
    check(pump(ctx, 1) == 1, "the context delivers the download after a re-bind");
    check(global_int(L, "called") == 0, "no download callback after a re-bind");

    /* 2. shutdown() from Lua with a request in flight (a context the host owns) */
    run(L, add);
    run(L, "liveupdate.shutdown()");
    check(pump(ctx, 1) == 1, "the context delivers the add_mount after shutdown()");
    check(global_int(L, "called") == 0, "no callback after shutdown()");

    /* 3. lua_close with a request in flight: the host closes the context
     * afterwards without updating it (liveupdate_lua.h) */
    lu_lua_use_context(L, ctx, NULL);
    run(L, add);
    lua_close(L);
    lu_context_close(ctx);

    /* 3b. a script-world restart (lurun): a fresh Lua state takes the
     * requests in flight of the old one, which is closed before the context
     * delivers them; then the fresh state is closed with one still in
     * flight (its records go with it) */
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) return 1;
    L = open_lua(ctx);
    run(L, add);
    run(L, add);
    lua_State *fresh = open_lua(ctx);
    check(lu_lua_move_requests(L, fresh) == 0, "the requests move to the fresh state");
    lua_close(L);
    check(pump(ctx, 2) == 2, "the context delivers both after the old state closed");
    run(fresh, add);
    pump(ctx, 1);
    run(fresh, "liveupdate.poll()");
    check(global_int(fresh, "called") == 1, "a request of the fresh state runs its callback");
    L = open_lua(ctx);
    run(fresh, add);
    check(lu_lua_move_requests(fresh, L) == 0, "moved again");
    lua_close(fresh);
    lua_close(L);
    lu_context_close(ctx);

    /* 4. an owned context (init) closed by shutdown() and by __gc with a
     * request in flight */
    if (lu_context_open(&cfg, &ctx, &err) != LU_OK) return 1;
    L = open_lua(ctx);
    lua_pushfstring(L, "%s/owned", save);   /* the host's context holds `save` */
    lua_setglobal(L, "save");
    run(L, "liveupdate.shutdown(); assert(liveupdate.init{save_dir = save})\n"
           "liveupdate.add_mount('b', 'zip:/nonexistent/b.zip', 1, function() end)\n"
           "liveupdate.shutdown(); assert(liveupdate.init{save_dir = save})\n"
           "liveupdate.add_mount('b', 'zip:/nonexistent/b.zip', 1, function() end)\n");
    lua_close(L);
    lu_context_close(ctx);

    if (failures) return 1;
    printf("rebind: ok\n");
    return 0;
}
