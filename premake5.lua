-- premake5.lua -- the one build definition of liveupdate.
-- Works under premake5 (`premake5 gmake2`) and Debian's premake4
-- (`premake4 --file=premake5.lua gmake`); tools/build runs it.
-- Configurations: release (default), debug, asan (ASan+UBSan), tsan (ThreadSanitizer,
-- used by the concurrency test). Outputs: build/bin, build/lib for release,
-- build/<config>/bin and build/<config>/lib for the others.

local is_premake4 = _PREMAKE_VERSION ~= nil and _PREMAKE_VERSION:sub(1, 1) == "4"

local function outdirs(kind)
    configuration "release"
        targetdir("build/" .. kind)
        objdir "build/obj/release"
    for _, c in ipairs({"debug", "asan", "tsan"}) do
        configuration(c)
            targetdir("build/" .. c .. "/" .. kind)
            objdir("build/obj/" .. c)
    end
    configuration {}
end

solution "liveupdate"
    location "build/make"
    configurations { "release", "debug", "asan", "tsan" }
    flags { "Symbols" }   -- keep symbols (premake4 strips otherwise): sanitizer reports and profiles need them
    language "C"
    includedirs { "engine/include", "engine/core", "archives" }
    defines { "_GNU_SOURCE" }
    buildoptions { "-std=c11", "-Wall", "-Wextra", "-Wno-unused-parameter", "-fPIC",
                   "-Werror=int-conversion", "-Werror=incompatible-pointer-types",
                   "-Werror=implicit-function-declaration" }

    configuration "release"
        buildoptions { "-O2", "-g" }
        defines { "NDEBUG" }
    configuration "debug"
        buildoptions { "-O0", "-g" }
    configuration "asan"
        buildoptions { "-O1", "-g", "-fno-omit-frame-pointer", "-fsanitize=address,undefined",
                       "-fno-sanitize-recover=undefined" }
        linkoptions { "-fsanitize=address,undefined" }
    configuration "tsan"
        buildoptions { "-O1", "-g", "-fsanitize=thread" }
        linkoptions { "-fsanitize=thread" }
    configuration {}

-- The core alone (engine/core + archives/): build/lib/libliveupdate_core.a. It needs
-- no network or crypto library; lu_core_tests links it and nothing above it.
project "liveupdate_core"
    kind "StaticLib"
    files { "engine/core/*.c", "archives/*.c" }
    outdirs "lib"

-- The library users link: every layer of engine/ (docs/ARCHITECTURE.md).
project "liveupdate"
    kind "StaticLib"
    files { "engine/core/*.c", "archives/*.c", "engine/crypto/*.c", "engine/net/*.c",
            "engine/update/*.c", "engine/content/*.c", "engine/console/*.c" }
    outdirs "lib"

-- The library's version, from LU_VERSION_STR in its public header: the shared
-- library's file name and SONAME carry its major number.
local function library_version()
    local f = assert(io.open("engine/include/liveupdate/liveupdate.h", "r"))
    local text = f:read("*a")
    f:close()
    return assert(text:match('#define%s+LU_VERSION_STR%s+"(%d+%.%d+%.%d+)"'),
                  "premake5.lua: no LU_VERSION_STR in engine/include/liveupdate/liveupdate.h")
end
local lu_major = library_version():match("^(%d+)")

-- The shared library: build/lib/libliveupdate.so.<major>, SONAME the same, made
-- of every object of libliveupdate.a (the same objects, not compiled twice) and
-- exporting only the public lu_ names (engine/liveupdate.map). No
-- build/lib/libliveupdate.so: -lliveupdate keeps finding the static library
-- (the tests and the programs below link it); tools/install makes the links.
project "liveupdate_shared"
    kind "SharedLib"
    targetname "liveupdate"
    targetextension(".so." .. lu_major)
    links { "liveupdate" }   -- builds libliveupdate.a first
    linkoptions { "-Wl,--whole-archive", "-l:libliveupdate.a", "-Wl,--no-whole-archive",
                  "-Wl,-soname,libliveupdate.so." .. lu_major,
                  "-Wl,--version-script=../../engine/liveupdate.map", "-Wl,-z,defs" }
    links { "curl", "minizip", "deflate", "zstd", "z", "cjson", "crypto", "pthread" }
    -- where -l:libliveupdate.a is found (premake5 links sibling libraries by
    -- path and adds no -L for them)
    configuration "release"
        libdirs { "build/lib" }
    for _, c in ipairs({"debug", "asan", "tsan"}) do
        configuration(c)
            libdirs { "build/" .. c .. "/lib" }
    end
    configuration {}
    outdirs "lib"

local function program(name, srcs, extra_links, extra_includes)
    project(name)
        kind "ConsoleApp"
        files(srcs)
        includedirs(extra_includes or {})
        links { "liveupdate" }
        links(extra_links or {})
        links { "curl", "minizip", "deflate", "zstd", "z", "cjson", "crypto", "pthread" }
        outdirs "bin"
end

-- The Lua module for stock lua5.4: build/lib/liveupdate.so (require "liveupdate").
project "liveupdate_lua"
    kind "SharedLib"
    targetname "liveupdate"
    targetprefix ""
    files { "lua/liveupdate/*.c" }
    includedirs { "/usr/include/lua5.4", "lua/liveupdate" }
    links { "liveupdate", "curl", "minizip", "deflate", "zstd", "z", "cjson", "crypto", "pthread" }
    linkoptions { "-Wl,--version-script=../../lua/liveupdate/liveupdate_lua.map" }
    outdirs "lib"

-- The runtime: build/bin/lurun (engine/host) with the module (lua/liveupdate) and the
-- Defold-style host modules (lua/host).
project "lurun"
    kind "ConsoleApp"
    files { "engine/host/*.c", "lua/liveupdate/*.c", "lua/host/*.c", "tools/common/options.c" }
    includedirs { "/usr/include/lua5.4", "lua/liveupdate", "lua/host", "tools/common" }
    links { "liveupdate", "lua5.4", "curl", "minizip", "deflate", "zstd", "z", "cjson", "crypto", "pthread", "m", "dl" }
    outdirs "bin"

-- tools/common/options.c, compiled into lurun, lutool and lubench: the one
-- command-line rule of the three programs (docs/BUNDLER.md, "Tool options").

-- The tool: build/bin/lutool (bundle, inspect, verify, keygen, sign, console).
project "lutool"
    kind "ConsoleApp"
    files { "tools/lutool/*.c", "tools/common/options.c" }
    includedirs { "tools/common" }
    links { "liveupdate", "curl", "minizip", "deflate", "zstd", "z", "cjson", "crypto", "edit", "pthread" }
    outdirs "bin"

-- The benchmark: build/bin/lubench (docs/BENCHMARKS.md).
project "lubench"
    kind "ConsoleApp"
    files { "tools/lubench/*.c", "tools/common/options.c" }
    includedirs { "tools/common" }
    links { "liveupdate", "physfs", "curl", "minizip", "deflate", "zstd", "z", "cjson", "crypto", "pthread" }
    outdirs "bin"

-- Tests (tests/): Criterion unit tests and the concurrency stress test.
-- (lua/host and Lua's headers for test_faults_console_host.c, which builds
-- engine/host/console_commands.c against a stub host; nothing of Lua is linked)
-- (tools/lutool/s3.c for test_s3_sigv4.c: lutool publish's signed requests)
program("lu_tests", { "tests/unit/*.c", "tools/lutool/s3.c" }, { "criterion" }, { "tests/unit", "lua/host", "/usr/include/lua5.4" })

-- The core's unit tests, linked against the core library only: proof that it
-- builds and works without libcurl or a crypto library.
project "lu_core_tests"
    kind "ConsoleApp"
    files { "tests/unit/core/*.c" }
    includedirs { "tests/unit" }
    links { "liveupdate_core", "criterion", "minizip", "deflate", "zstd", "z", "cjson", "pthread" }
    outdirs "bin"
program("lu_stress_threads", { "tests/stress/threads.c" })

-- A C host of the Lua module (tests/lua_host): re-binding with requests in flight.
project "lu_lua_rebind"
    kind "ConsoleApp"
    files { "tests/lua_host/rebind.c", "lua/liveupdate/*.c" }
    includedirs { "/usr/include/lua5.4", "lua/liveupdate" }
    links { "liveupdate", "lua5.4", "curl", "minizip", "deflate", "zstd", "z", "cjson", "crypto", "pthread", "m", "dl" }
    outdirs "bin"

-- Fuzz targets (tests/fuzz) as plain programs that replay a corpus; tools/fuzz
-- builds the same sources with clang's libFuzzer.
-- Every tests/fuzz/fuzz_<target>.c is a target. Targets of lurun's parts
-- also build the one file of engine/host or lua/host they test (with the Lua
-- headers; those that need a Lua state link liblua5.4 too); tools/fuzz has
-- the same lists.
local fuzz_extra = {
    collection = { "lua/host/host_collection.c" },
    console_session = { "engine/host/console_commands.c" },
    json_decode = { "lua/host/host_json.c", "lua/liveupdate/liveupdate_hash.c" },
    sys_load = { "lua/host/host_sys.c", "lua/liveupdate/liveupdate_hash.c" },
}
local fuzz_lua = { json_decode = true, sys_load = true }
for _, f in ipairs(os.matchfiles("tests/fuzz/fuzz_*.c")) do
    local t = f:match("fuzz_([%w_]+)%.c$")
    local srcs = { f, "tests/fuzz/replay_main.c" }
    for _, x in ipairs(fuzz_extra[t] or {}) do table.insert(srcs, x) end
    program("fuzz_" .. t .. "_replay", srcs, fuzz_lua[t] and { "lua5.4", "m", "dl" } or nil,
            { "/usr/include/lua5.4", "lua/host", "lua/liveupdate" })
end
