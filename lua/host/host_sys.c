/* host_sys.c -- Defold's `sys` module as lurun provides it (a Linux
 * desktop build of Defold is the model where Defold depends on the
 * platform; docs/RUNTIME.md lists the choices):
 *   sys.load_resource(path) -> data | nil, message   (through the mounts)
 *   sys.get_save_file(app, file) -> absolute path (creates the app folder;
 *       app "" is the save root itself, file "" the folder with a final "/";
 *       a project run without --save-dir names the folder "<app> (project)",
 *       as its save directory, so it never sees a bundle run's files)
 *   sys.get_config(key[, default]) (Defold's old name of get_config_string)
 *   sys.get_config_string / get_config_int / get_config_number /
 *       get_config_boolean(key[, default])
 *   sys.exists(path) -> bool             (a file system path, not a resource)
 *   sys.save(file, table) -> true; sys.load(file) -> table ({} if no file)
 *   sys.get_sys_info([{ignore_secure}]) / sys.get_engine_info()
 *   sys.get_application_path() -> the game's directory
 *   sys.exit(code), sys.reboot(...) (restarts the script world)
 * Config keys are "section.key" of game.project (with --set overrides).
 * A value of the wrong type raises an error naming file, line and key.
 *
 * sys.save's file format (ours; Defold's is not documented): the line
 * "LURUN-SAVE 1\n", then one table encoded as
 *   T<count>\n then <count> key/value pairs, each an encoded value
 *   S<len>:<bytes>  string      H<len>:<bytes>  hash (by its string)
 *   I<integer>;     N<%.17g>;   B0 / B1         integer, float, boolean
 * Keys may be strings, numbers, booleans or hashes; values those or tables
 * (nested up to 64 deep, no cycles). Anything else raises naming the key.
 * The file is written to "<file>.tmp<pid>", flushed to disk and renamed
 * over the file, so a crash leaves the old file or the new one, whole.
 */
#include <errno.h>
#include <lauxlib.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "host.h"
#include "liveupdate_lua.h"

#define SAVE_MAGIC "LURUN-SAVE 1\n"
#define SAVE_DEPTH 64

static lu_host *host(lua_State *L)
{
    lu_host *h = lu_host_get(L);
    if (!h) luaL_error(L, "sys: not running inside lurun");
    return h;
}

static int l_load_resource(lua_State *L)
{
    lu_host *h = host(L);
    const char *path = luaL_checkstring(L, 1);
    void *data;
    size_t size;
    lu_error err;
    if (lu_read(h->ctx, path, &data, &size, &err) != LU_OK) {
        lua_pushnil(L);
        lua_pushstring(L, err.message);
        return 2;
    }
    lua_pushlstring(L, data, size);
    lu_free(h->ctx, data);
    return 1;
}

static int l_get_save_file(lua_State *L)
{
    lu_host *h = host(L);
    const char *app = luaL_checkstring(L, 1);
    const char *file = luaL_checkstring(L, 2);
    if (strchr(app, '/') || strcmp(app, "..") == 0 || strcmp(app, ".") == 0)
        return luaL_argerror(L, 1, "application id must be a plain folder name");
    if (file[0] == '/' || strstr(file, ".."))
        return luaL_argerror(L, 2, "file name must be relative and stay inside the folder");
    const char *suffix = h->save_suffix ? h->save_suffix : "";
    const char *dir = app[0] ? lua_pushfstring(L, "%s/%s%s", h->save_root, app, suffix) : h->save_root;
    struct stat sb;
    if (stat(dir, &sb) != 0 && mkdir(dir, 0755) != 0)
        return luaL_error(L, "sys.get_save_file: cannot create '%s': %s", dir, strerror(errno));
    lua_pushfstring(L, "%s/%s", dir, file);
    return 1;
}

static int l_get_config_string(lua_State *L)
{
    lu_host *h = host(L);
    const char *v = lu_project_get(h->project, luaL_checkstring(L, 1));
    if (v) lua_pushstring(L, v);
    else if (lua_isnoneornil(L, 2)) lua_pushnil(L);
    else lua_pushstring(L, luaL_checkstring(L, 2));
    return 1;
}

static int l_get_config_int(lua_State *L)
{
    lu_host *h = host(L);
    const char *key = luaL_checkstring(L, 1);
    lua_Integer def = luaL_optinteger(L, 2, 0);
    long long v;
    lu_error err;
    if (lu_project_get_int(h->project, key, def, &v, &err) != LU_OK) return luaL_error(L, "%s", err.message);
    lua_pushinteger(L, (lua_Integer)v);
    return 1;
}

static int l_get_config_number(lua_State *L)
{
    lu_host *h = host(L);
    const char *key = luaL_checkstring(L, 1);
    lua_Number def = luaL_optnumber(L, 2, 0);
    double v;
    lu_error err;
    if (lu_project_get_number(h->project, key, def, &v, &err) != LU_OK) return luaL_error(L, "%s", err.message);
    lua_pushnumber(L, v);
    return 1;
}

static int l_get_config_boolean(lua_State *L)
{
    lu_host *h = host(L);
    const char *key = luaL_checkstring(L, 1);
    if (!lua_isnoneornil(L, 2)) luaL_checktype(L, 2, LUA_TBOOLEAN);
    bool v;
    lu_error err;
    if (lu_project_get_bool(h->project, key, lua_toboolean(L, 2), &v, &err) != LU_OK)
        return luaL_error(L, "%s", err.message);
    lua_pushboolean(L, v);
    return 1;
}

static int l_exists(lua_State *L)
{
    struct stat sb;
    lua_pushboolean(L, stat(luaL_checkstring(L, 1), &sb) == 0);
    return 1;
}

/* ---- sys.save / sys.load -------------------------------------------- */

/* Appends the key at `idx` to a message ("key 'x'", "key 3"). */
static const char *key_name(lua_State *L, int idx)
{
    const char *s = lu_lua_to_hashed(L, idx);
    if (s) return lua_pushfstring(L, "'%s'", s);
    return lua_pushfstring(L, "%s", luaL_tolstring(L, idx, NULL));
}

/* The encoding grows in a userdata (freed by __gc, so a raise in the
 * middle of a table leaks nothing) while the table is walked. */
typedef struct savebuf {
    char *p;
    size_t len, cap;
} savebuf;

static int savebuf_gc(lua_State *L)
{
    savebuf *b = lua_touserdata(L, 1);
    free(b->p);
    b->p = NULL;
    return 0;
}

static void put(lua_State *L, savebuf *b, const void *data, size_t n)
{
    if (b->len + n > b->cap) {
        size_t cap = b->cap ? b->cap : 4096;
        while (cap < b->len + n) cap *= 2;
        char *p = realloc(b->p, cap);
        if (!p) luaL_error(L, "sys.save: out of memory");
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, data, n);
    b->len += n;
}

static void putf(lua_State *L, savebuf *b, const char *fmt, long long n)
{
    char num[32];
    int k = snprintf(num, sizeof num, fmt, n);
    put(L, b, num, (size_t)k);
}

static void save_value(lua_State *L, savebuf *b, int idx, int depth, int key_idx, bool is_key);

static void save_table(lua_State *L, savebuf *b, int idx, int depth, int key_idx)
{
    idx = lua_absindex(L, idx);
    if (depth > SAVE_DEPTH) {
        const char *k = key_idx ? key_name(L, key_idx) : "(top)";
        luaL_error(L, "sys.save: tables nested deeper than %d (a cycle?) at key %s", SAVE_DEPTH, k);
    }
    luaL_checkstack(L, 4, "sys.save");
    long long n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        n++;
        lua_pop(L, 1);
    }
    putf(L, b, "T%lld\n", n);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int k = lua_absindex(L, -2), v = lua_absindex(L, -1);
        save_value(L, b, k, depth, k, true);
        save_value(L, b, v, depth, k, false);
        lua_pop(L, 1);
    }
}

static void save_value(lua_State *L, savebuf *b, int idx, int depth, int key_idx, bool is_key)
{
    const char *hs;
    switch (lua_type(L, idx)) {
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        putf(L, b, "S%lld:", (long long)len);
        put(L, b, s, len);
        return;
    }
    case LUA_TNUMBER:
        if (lua_isinteger(L, idx)) {
            putf(L, b, "I%lld;", (long long)lua_tointeger(L, idx));
        } else {
            char num[64];
            int k = snprintf(num, sizeof num, "N%.17g;", (double)lua_tonumber(L, idx));
            put(L, b, num, (size_t)k);
        }
        return;
    case LUA_TBOOLEAN:
        put(L, b, lua_toboolean(L, idx) ? "B1" : "B0", 2);
        return;
    case LUA_TTABLE:
        if (!is_key) {
            save_table(L, b, idx, depth + 1, key_idx);
            return;
        }
        break;
    case LUA_TUSERDATA:
        if ((hs = lu_lua_to_hashed(L, idx))) {
            putf(L, b, "H%lld:", (long long)strlen(hs));
            put(L, b, hs, strlen(hs));
            return;
        }
        break;
    default:
        break;
    }
    const char *what = luaL_typename(L, idx);
    const char *k = key_idx ? key_name(L, key_idx) : "(top)";
    luaL_error(L, "sys.save: cannot save a %s %s at key %s (strings, numbers, booleans, hashes and tables only)",
               what, is_key ? "key" : "value", k);
}

static int l_save(lua_State *L)
{
    const char *file = luaL_checkstring(L, 1);
    luaL_checktype(L, 2, LUA_TTABLE);
    lua_settop(L, 2);
    /* encode first: a raise leaves nothing on disk */
    savebuf *b = lua_newuserdatauv(L, sizeof *b, 0);
    memset(b, 0, sizeof *b);
    if (luaL_newmetatable(L, "lurun.savebuf")) {
        lua_pushcfunction(L, savebuf_gc);
        lua_setfield(L, -2, "__gc");
    }
    lua_setmetatable(L, -2);
    put(L, b, SAVE_MAGIC, strlen(SAVE_MAGIC));
    save_table(L, b, 2, 0, 0);
    const char *tmp = lua_pushfstring(L, "%s.tmp%d", file, (int)getpid());
    FILE *f = fopen(tmp, "wb");
    if (!f) return luaL_error(L, "Could not write to the file %s: %s", file, strerror(errno));
    bool ok = fwrite(b->p, 1, b->len, f) == b->len && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int e = errno;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, file) != 0) {
        if (ok) e = errno;
        unlink(tmp);
        return luaL_error(L, "Could not write to the file %s: %s", file, strerror(e));
    }
    lua_pushboolean(L, 1);
    return 1;
}

typedef struct reader {
    const char *file, *p, *start, *end;
} reader;

static int corrupt(lua_State *L, const reader *r, const char *what)
{
    return luaL_error(L, "sys.load: '%s' is not a file sys.save wrote (%s at byte %d)", r->file, what,
                      (int)(r->p - r->start));
}

static long long read_int(lua_State *L, reader *r, char stop)
{
    const char *q = r->p;
    bool neg = q < r->end && *q == '-';
    if (neg) q++;
    if (q >= r->end || *q < '0' || *q > '9') corrupt(L, r, "a number expected");
    unsigned long long v = 0;
    while (q < r->end && *q >= '0' && *q <= '9') {
        if (v > (unsigned long long)LLONG_MAX / 10) corrupt(L, r, "a number out of range");
        v = v * 10 + (unsigned long long)(*q++ - '0');
    }
    if (q >= r->end || *q != stop) corrupt(L, r, "a bad number");
    if (v > (unsigned long long)LLONG_MAX + neg) corrupt(L, r, "a number out of range");
    r->p = q + 1;
    return neg ? (long long)(0 - v) : (long long)v;
}

static void load_value(lua_State *L, reader *r, int depth);

static void load_table(lua_State *L, reader *r, int depth)
{
    if (depth > SAVE_DEPTH) corrupt(L, r, "tables nested too deep");
    long long n = read_int(L, r, '\n');
    if (n < 0 || n > r->end - r->p) corrupt(L, r, "a bad table size");
    luaL_checkstack(L, 4, "sys.load");
    lua_createtable(L, 0, n < 1024 ? (int)n : 1024);
    for (long long i = 0; i < n; i++) {
        load_value(L, r, depth);
        if (lua_isnil(L, -1) || lua_istable(L, -1) || (lua_type(L, -1) == LUA_TNUMBER && isnan(lua_tonumber(L, -1))))
            corrupt(L, r, "a bad key");
        load_value(L, r, depth);
        lua_rawset(L, -3);
    }
}

static void load_value(lua_State *L, reader *r, int depth)
{
    if (r->p >= r->end) corrupt(L, r, "the file ends early");
    char tag = *r->p++;
    switch (tag) {
    case 'S':
    case 'H': {
        long long len = read_int(L, r, ':');
        if (len < 0 || len > r->end - r->p) corrupt(L, r, "a string longer than the file");
        if (tag == 'S') lua_pushlstring(L, r->p, (size_t)len);
        else {
            /* a hash's name is a C string: sys.save never writes a NUL in
             * one, and hashing the name up to it would load another hash */
            if (memchr(r->p, '\0', (size_t)len)) corrupt(L, r, "a NUL byte in a hash name");
            lua_pushlstring(L, r->p, (size_t)len);
            lu_lua_push_hash(L, lua_tostring(L, -1));
            lua_remove(L, -2);
        }
        r->p += len;
        return;
    }
    case 'I':
        lua_pushinteger(L, (lua_Integer)read_int(L, r, ';'));
        return;
    case 'N': {
        const char *semi = memchr(r->p, ';', (size_t)(r->end - r->p));
        char num[64];
        if (!semi || semi - r->p >= (long)sizeof num) corrupt(L, r, "a bad number");
        memcpy(num, r->p, (size_t)(semi - r->p));
        num[semi - r->p] = '\0';
        char *endp;
        double d = strtod(num, &endp);
        if (endp == num || *endp) corrupt(L, r, "a bad number");
        lua_pushnumber(L, d);
        r->p = semi + 1;
        return;
    }
    case 'B':
        if (r->p >= r->end || (*r->p != '0' && *r->p != '1')) corrupt(L, r, "a bad boolean");
        lua_pushboolean(L, *r->p++ == '1');
        return;
    case 'T':
        load_table(L, r, depth + 1);
        return;
    default:
        r->p--;
        corrupt(L, r, "an unknown value tag");
    }
}

static int l_load(lua_State *L)
{
    const char *file = luaL_checkstring(L, 1);
    FILE *f = fopen(file, "rb");
    if (!f) {
        if (errno == ENOENT) {   /* as Defold: no file, an empty table */
            lua_newtable(L);
            return 1;
        }
        return luaL_error(L, "Could not read from the file %s: %s", file, strerror(errno));
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    char chunk[8192];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) luaL_addlstring(&b, chunk, n);
    bool bad = ferror(f) != 0;
    fclose(f);
    if (bad) return luaL_error(L, "Could not read from the file %s", file);
    luaL_pushresult(&b);
    size_t len;
    const char *data = lua_tolstring(L, -1, &len);
    reader r = {file, data, data, data + len};
    size_t mlen = strlen(SAVE_MAGIC);
    if (len < mlen || memcmp(data, SAVE_MAGIC, mlen) != 0) return corrupt(L, &r, "no LURUN-SAVE header");
    r.p += mlen;
    if (r.p >= r.end || *r.p++ != 'T') return corrupt(L, &r, "a table expected");
    load_table(L, &r, 0);   /* the top table is depth 0, as sys.save counts */
    if (r.p != r.end) return corrupt(L, &r, "bytes after the table");
    return 1;
}

/* ---- information ---------------------------------------------------- */

static void set_str(lua_State *L, const char *k, const char *v)
{
    lua_pushstring(L, v);
    lua_setfield(L, -2, k);
}

static int l_get_sys_info(lua_State *L)
{
    if (!lua_isnoneornil(L, 1)) luaL_checktype(L, 1, LUA_TTABLE);   /* ignore_secure: nothing is secured on Linux */
    struct utsname u;
    if (uname(&u) != 0) memset(&u, 0, sizeof u);
    /* the locale as LC_ALL, LC_MESSAGES or LANG gives it: "sr_RS.UTF-8@latin" */
    const char *loc = getenv("LC_ALL");
    if (!loc || !*loc) loc = getenv("LC_MESSAGES");
    if (!loc || !*loc) loc = getenv("LANG");
    char lang[8] = "en", terr[8] = "US";
    if (loc && loc[0] >= 'a' && loc[0] <= 'z' && loc[1] >= 'a' && loc[1] <= 'z' &&
        (loc[2] == '\0' || loc[2] == '_' || loc[2] == '.' || loc[2] == '@')) {
        snprintf(lang, sizeof lang, "%.2s", loc);
        terr[0] = '\0';
        if (loc[2] == '_' && loc[3] >= 'A' && loc[3] <= 'Z' && loc[4] >= 'A' && loc[4] <= 'Z')
            snprintf(terr, sizeof terr, "%.2s", loc + 3);
    }
    time_t now = time(NULL);
    struct tm tm;
    long gmtoff = localtime_r(&now, &tm) ? tm.tm_gmtoff : 0;
    lua_createtable(L, 0, 12);
    set_str(L, "device_model", "");
    set_str(L, "manufacturer", "");
    set_str(L, "system_name", "Linux");
    set_str(L, "system_version", u.release);
    set_str(L, "api_version", u.release);
    set_str(L, "language", lang);
    set_str(L, "device_language", lang);
    set_str(L, "territory", terr);
    lua_pushinteger(L, gmtoff / 60);
    lua_setfield(L, -2, "gmt_offset");
    set_str(L, "device_ident", "");
    set_str(L, "user_agent", "");
    return 1;
}

static int l_get_engine_info(lua_State *L)
{
    lua_createtable(L, 0, 3);
    set_str(L, "version", LU_VERSION_STR);
    set_str(L, "version_sha1", "");
#ifdef NDEBUG
    lua_pushboolean(L, 0);
#else
    lua_pushboolean(L, 1);
#endif
    lua_setfield(L, -2, "is_debug");
    return 1;
}

static int l_get_application_path(lua_State *L)
{
    lua_pushstring(L, host(L)->project_dir);
    return 1;
}

static int l_exit(lua_State *L)
{
    lu_host *h = host(L);
    h->exit_code = (int)luaL_checkinteger(L, 1);
    h->exit_requested = true;
    return 0;
}

/* Defold restarts the engine with up to six command-line arguments; lurun
 * restarts the script world (a fresh Lua state, the main script again) at
 * the start of the next frame, with the command line it was started with:
 * the arguments are checked but not applied. */
static int l_reboot(lua_State *L)
{
    lu_host *h = host(L);
    for (int i = 1; i <= 6; i++)
        if (!lua_isnoneornil(L, i)) luaL_checkstring(L, i);
    h->reboot_pending = true;
    return 0;
}

int lu_host_open_sys(lua_State *L)
{
    static const luaL_Reg f[] = {
        {"load_resource", l_load_resource},
        {"get_save_file", l_get_save_file},
        {"get_config", l_get_config_string},
        {"get_config_string", l_get_config_string},
        {"get_config_int", l_get_config_int},
        {"get_config_number", l_get_config_number},
        {"get_config_boolean", l_get_config_boolean},
        {"exists", l_exists},
        {"save", l_save},
        {"load", l_load},
        {"get_sys_info", l_get_sys_info},
        {"get_engine_info", l_get_engine_info},
        {"get_application_path", l_get_application_path},
        {"exit", l_exit},
        {"reboot", l_reboot},
        {NULL, NULL},
    };
    luaL_newlib(L, f);
    return 1;
}
