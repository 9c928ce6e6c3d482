/* fuzz_sys_load.c -- bytes as a save file lurun's sys.load reads
 * ("LURUN-SAVE 1", lua/host/host_sys.c): the player's disk, so anything.
 * Each input is written to a file and loaded in a fresh Lua state inside
 * lua_pcall: a raised error is a normal outcome, but it must be sys.load's
 * own message. What loads must save, and load back equal (the same keys,
 * values of the same type and subtype, hashes the same hash). The state is
 * closed per input, so a leak shows. The files live in /dev/shm when there
 * is one: sys.save fsyncs, which durability tests care about, not this. */
#include <lauxlib.h>
#include <lualib.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "host.h"

/* sys.load and sys.save never ask for the host; host_core.c is not linked */
lu_host *lu_host_get(lua_State *L)
{
    (void)L;
    return NULL;
}

static const char check[] =
    "local sys, path, copy = ...\n"
    "local function same(a, b)\n"
    "  if type(a) ~= type(b) then return false end\n"
    "  if type(a) == 'number' then\n"
    "    return math.type(a) == math.type(b) and (a == b or (a ~= a and b ~= b))\n"
    "  end\n"
    "  if type(a) ~= 'table' then return rawequal(a, b) end\n"
    "  for k, v in pairs(a) do if not same(v, rawget(b, k)) then return false end end\n"
    "  for k in pairs(b) do if rawget(a, k) == nil then return false end end\n"
    "  return true\n"
    "end\n"
    "local ok, t = pcall(sys.load, path)\n"
    "if not ok then\n"
    "  assert(type(t) == 'string' and t:find('^sys%.load: ') and t:find(path, 1, true), t)\n"
    "  return\n"
    "end\n"
    "assert(type(t) == 'table')\n"
    "assert(sys.save(copy, t) == true)\n"
    "assert(same(t, sys.load(copy)), 'saved and loaded back, not the same')\n";

static char dir[64];
static char in_path[96], copy_path[96];

static void cleanup(void)
{
    unlink(in_path);
    unlink(copy_path);
    rmdir(dir);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!dir[0]) {
        struct stat sb;
        snprintf(dir, sizeof dir, "%s/lufuzz_sys.XXXXXX", stat("/dev/shm", &sb) == 0 ? "/dev/shm" : "/tmp");
        if (!mkdtemp(dir)) abort();
        snprintf(in_path, sizeof in_path, "%s/in", dir);
        snprintf(copy_path, sizeof copy_path, "%s/copy", dir);
        atexit(cleanup);
    }
    fuzz_write(in_path, data, size);
    lua_State *L = luaL_newstate();
    if (!L) abort();
    luaL_openlibs(L);
    if (luaL_loadbufferx(L, check, sizeof check - 1, "=check", "t") != LUA_OK) abort();
    lu_host_open_sys(L);
    lua_pushstring(L, in_path);
    lua_pushstring(L, copy_path);
    if (lua_pcall(L, 3, 0, 0) != LUA_OK) {
        fprintf(stderr, "sys_load: %s\n", lua_tostring(L, -1));
        abort();
    }
    lua_close(L);
    return 0;
}
