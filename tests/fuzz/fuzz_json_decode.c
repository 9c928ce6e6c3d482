/* fuzz_json_decode.c -- bytes as the text lurun's json.decode reads
 * (lua/host/host_json.c; a game feeds it HTTP response bodies). Each input
 * gets a fresh Lua state and runs inside lua_pcall: a raised error is a
 * normal outcome, but it must be json.decode's own message. What decodes
 * must encode (or raise encode's message, e.g. for 1e999) and what encodes
 * must decode again. The state is closed per input, so a leak shows. */
#include <lauxlib.h>
#include <lualib.h>

#include "fuzz.h"
#include "host.h"

static const char check[] =
    "local json, s = ...\n"
    "local ok, v = pcall(json.decode, s)\n"
    "if not ok then\n"
    "  assert(type(v) == 'string' and v:find('^json%.decode: '), v)\n"
    "  return\n"
    "end\n"
    "local ok2, text = pcall(json.encode, v)\n"
    "if not ok2 then assert(text:find('^json%.encode: cannot encode'), text) return end\n"
    "json.decode(text)\n";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    lua_State *L = luaL_newstate();
    if (!L) abort();
    luaL_openlibs(L);
    if (luaL_loadbufferx(L, check, sizeof check - 1, "=check", "t") != LUA_OK) abort();
    lu_host_open_json(L);
    lua_pushlstring(L, (const char *)data, size);
    if (lua_pcall(L, 2, 0, 0) != LUA_OK) {
        fprintf(stderr, "json_decode: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_close(L);
    return 0;
}
