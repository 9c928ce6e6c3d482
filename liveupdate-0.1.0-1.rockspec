-- liveupdate-0.1.0-1.rockspec -- LuaRocks builds and installs the Lua module
-- (require "liveupdate") from this checkout: `luarocks --lua-version 5.4 make`
-- in the repository root runs tools/build release and installs
-- build/lib/liveupdate.so as the tree's lib/lua/5.4/liveupdate.so. The module
-- links libliveupdate.a, so the rock needs no liveupdate library at run time,
-- only the Debian libraries of docs/DEPENDENCIES.md (tools/setup).
-- The version is the library's (LU_VERSION_STR); tests/install/run.sh checks
-- that they agree and that the rock installs with no network.
rockspec_format = "3.0"
package = "liveupdate"
version = "0.1.0-1"
source = {
    -- No published archive yet: `luarocks make` builds the checkout it runs in
    -- and never fetches this.
    url = "git+file://.",
}
description = {
    summary = "Mount, download and verify resource volumes at run time (Defold's liveupdate API)",
    detailed = [[
The liveupdate module: mount zip and folder volumes by name, priority and
URI, download and verify them, and keep them across restarts, with
Defold's liveupdate scripting API. A C11 library underneath.]],
    license = "Zlib",
}
dependencies = {
    "lua >= 5.4, < 5.5",
}
build = {
    type = "command",
    -- only the module and the library it links: no test, benchmark or tool
    -- dependencies (Criterion, PhysicsFS, libedit) needed to install the rock
    build_command = "tools/build release liveupdate_lua",
    install = {
        lib = {
            liveupdate = "build/lib/liveupdate.so",
        },
    },
}
