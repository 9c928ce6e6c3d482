/* liveupdate_file.c -- liveupdate.open(path): a resource read in pieces
 * (lu_open), as a file-like userdata shaped like liolib's files:
 *
 *   f:read(n)      up to n bytes (fewer only at the end), nil at the end;
 *                  f:read(0) is "" before the end, nil at it
 *   f:read("a")    the rest ("" at the end); "*a" too
 *   f:seek([whence[, offset]])  whence "set", "cur" (default) or "end";
 *                  returns the new position
 *   f:close()      true; __close (to-be-closed variables) and __gc close too
 *   tostring(f)    "liveupdate file (0x...)" or "liveupdate file (closed)"
 *
 * Runtime failures (a CRC mismatch at the end, corrupt data, a seek past the
 * end) return nil, message, status; a failed read is final (lu_read_some).
 * Caller mistakes raise: a bad argument, and any use of a closed file
 * ("attempt to use a closed file", as liolib says). The module's shutdown()
 * (and a host's rebinding) closes the files opened through it, since their
 * context may close: each file is linked into the module's state, which
 * its userdata keeps alive as its user value.
 */
#include <lauxlib.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "liveupdate_state.h"

#define FILE_KEY "liveupdate.file"
#define CHUNK (64u << 10)

struct lu_lua_file {
    lu_file *f;                      /* NULL once closed */
    struct lu_lua_file *next, **prev;
};

static void unlink_file(struct lu_lua_file *lf)
{
    if (lf->prev) {
        *lf->prev = lf->next;
        if (lf->next) lf->next->prev = lf->prev;
    }
    lf->next = NULL;
    lf->prev = NULL;
}

static void close_file(struct lu_lua_file *lf)
{
    lu_close(lf->f);
    lf->f = NULL;
    unlink_file(lf);
}

void lu_lua__files_close(state *st)
{
    while (st->files) close_file(st->files);
}

static struct lu_lua_file *check_open(lua_State *L)
{
    struct lu_lua_file *lf = luaL_checkudata(L, 1, FILE_KEY);
    if (!lf->f) luaL_error(L, "attempt to use a closed file");
    return lf;
}

static int fail_err(lua_State *L, const lu_error *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err->message);
    lua_pushinteger(L, err->status);
    return 3;
}

/* Reads up to `n` bytes (all that is left when `all`) onto the stack: nil
 * at the end for a count (the read that reaches the end ran the checks). */
static int read_bytes(lua_State *L, lu_file *f, lua_Integer n, bool all)
{
    uint64_t size = lu_file_size(f), at = lu_file_tell(f);
    if (!all && at >= size) {
        if (n > 0 || size == 0) {   /* a 0-byte read at the end: an empty entry's checks run here */
            char c;
            size_t got;
            lu_error err;
            if (lu_read_some(f, &c, 1, &got, &err) != LU_OK) return fail_err(L, &err);
        }
        lua_pushnil(L);
        return 1;
    }
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    uint64_t want = all ? size - at : (uint64_t)n, have = 0;
    lu_error err;
    while (have < want) {
        size_t ask = want - have < CHUNK ? (size_t)(want - have) : CHUNK, got;
        char *p = luaL_prepbuffsize(&b, ask);
        if (lu_read_some(f, p, ask, &got, &err) != LU_OK) return fail_err(L, &err);
        if (got == 0) break;
        luaL_addsize(&b, got);
        have += got;
    }
    if (all && want == 0) {   /* "a" at the end: "" (and an empty entry's checks) */
        char c;
        size_t got;
        if (lu_read_some(f, &c, 1, &got, &err) != LU_OK) return fail_err(L, &err);
    }
    luaL_pushresult(&b);
    return 1;
}

static int f_read(lua_State *L)
{
    struct lu_lua_file *lf = check_open(L);
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_Integer n = luaL_checkinteger(L, 2);
        luaL_argcheck(L, n >= 0, 2, "byte count must not be negative");
        return read_bytes(L, lf->f, n, false);
    }
    static const char *const formats[] = {"a", "*a", NULL};
    luaL_checkoption(L, 2, NULL, formats);
    return read_bytes(L, lf->f, 0, true);
}

static int f_seek(lua_State *L)
{
    static const char *const whences[] = {"set", "cur", "end", NULL};
    struct lu_lua_file *lf = check_open(L);
    int whence = luaL_checkoption(L, 2, "cur", whences);
    lua_Integer offset = luaL_optinteger(L, 3, 0);
    lua_Integer base = whence == 0 ? 0 : whence == 1 ? (lua_Integer)lu_file_tell(lf->f) : (lua_Integer)lu_file_size(lf->f);
    lu_error err;
    if ((offset < 0 && base + offset < 0) || (offset > 0 && base > LUA_MAXINTEGER - offset)) {
        err.status = LU_INVAL;
        snprintf(err.message, sizeof err.message, "cannot seek to %lld%+lld: %s", (long long)base, (long long)offset,
                 offset < 0 ? "before the start" : "past the largest offset a Lua integer holds");
        return fail_err(L, &err);
    }
    if (lu_seek(lf->f, (uint64_t)(base + offset), &err) != LU_OK) return fail_err(L, &err);
    lua_pushinteger(L, (lua_Integer)lu_file_tell(lf->f));
    return 1;
}

static int f_close(lua_State *L)
{
    close_file(check_open(L));
    lua_pushboolean(L, 1);
    return 1;
}

static int f_gc(lua_State *L)
{
    struct lu_lua_file *lf = luaL_checkudata(L, 1, FILE_KEY);
    if (lf->f) close_file(lf);
    return 0;
}

static int f_tostring(lua_State *L)
{
    struct lu_lua_file *lf = luaL_checkudata(L, 1, FILE_KEY);
    if (lf->f) lua_pushfstring(L, "liveupdate file (%p)", (void *)lf->f);
    else lua_pushliteral(L, "liveupdate file (closed)");
    return 1;
}

static const luaL_Reg methods[] = {
    {"read", f_read},
    {"seek", f_seek},
    {"close", f_close},
    {NULL, NULL},
};

static const luaL_Reg metamethods[] = {
    {"__gc", f_gc},
    {"__close", f_gc},
    {"__tostring", f_tostring},
    {NULL, NULL},
};

int lu_lua__open_file(lua_State *L)
{
    state *st = lu_lua__state(L);
    if (!st->ctx) return lu_lua__not_initialized(L);
    const char *path = luaL_checkstring(L, 1);
    struct lu_lua_file *lf = lua_newuserdatauv(L, sizeof *lf, 1);
    memset(lf, 0, sizeof *lf);
    lua_pushvalue(L, lua_upvalueindex(1));   /* the state lives as long as its files */
    lua_setiuservalue(L, -2, 1);
    if (luaL_newmetatable(L, FILE_KEY)) {
        luaL_setfuncs(L, metamethods, 0);
        luaL_newlib(L, methods);
        lua_setfield(L, -2, "__index");
        lua_pushliteral(L, "liveupdate file");
        lua_setfield(L, -2, "__name");
    }
    lua_setmetatable(L, -2);
    lu_error err;
    lu_file *f;
    if (lu_open(st->ctx, path, &f, &err) != LU_OK) return lu_lua__fail_err(L, &err);
    lf->f = f;
    lf->next = st->files;
    lf->prev = &st->files;
    if (st->files) st->files->prev = &lf->next;
    st->files = lf;
    return 1;
}
