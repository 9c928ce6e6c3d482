-- tool_options_spec.lua -- the one option rule of lutool (every command;
-- console's command words after [host:]port are the game's), lurun and lubench (tools/common/options.c, docs/BUNDLER.md "Tool
-- options"): --version and --help everywhere, --opt=value, "--", a missing
-- value named as such, unknown options, flags that take no value, strictly
-- parsed numbers with the exact message; lubench --only checking each case
-- name; lutool keygen keeping an existing key unless --force.
local H = require("helpers")

local q = H.quote
local bin_dir = H.lutool_bin:match("^(.*)/[^/]*$") or "."
local lubench_bin = os.getenv("LU_LUBENCH") or (bin_dir .. "/lubench")

-- Runs `cmd` (a shell command line) in `cwd` (or here); returns exit code,
-- stdout, stderr.
local function run(cmd, cwd)
  local out, err = os.tmpname(), os.tmpname()
  local _, code = H.sh((cwd and "cd " .. q(cwd) .. " && " or "") .. cmd .. " >" .. q(out) .. " 2>" .. q(err))
  local o, e = H.read(out), H.read(err)
  os.remove(out); os.remove(err)
  return code, o, e
end

local function lutool(args, cwd) return run(q(H.lutool_bin) .. " " .. args, cwd) end
local function lurun(args, cwd) return run(H.lurun_prefix .. " " .. q(H.lurun) .. " " .. args, cwd) end
local function lubench(args) return run(q(lubench_bin) .. " " .. args) end

local tools = {lutool = lutool, lurun = lurun, lubench = lubench}
-- lubench's cases in the order of tools/lubench/main.c's table (its usage errors list them)
local LUBENCH_CASES = "lookup mount read read_zstd startup missing_resources download memory stream_heap " ..
                      "missing_nested startup_limit threads read_limit read_small mount_limit lookup_probe add_growth " ..
                      "update_bytes"

-- The library's version (LU_VERSION_STR), what every --version prints.
local function version()
  local f = assert(io.open(H.root .. "/engine/include/liveupdate/liveupdate.h"))
  local v = f:read("a"):match('#define LU_VERSION_STR "([^"]+)"')
  f:close()
  return v
end

-- Asserts a usage error: exit 2, nothing on stdout, and stderr exactly
-- "<prefix>: <msg> (<prefix> --help)".
local function usage_error(tool, args, prefix, msg, cwd)
  local code, o, e = tools[tool](args, cwd)
  assert.are.equal(2, code, args .. ": " .. e)
  assert.are.equal("", o, args)
  assert.are.equal(prefix .. ": " .. msg .. " (" .. prefix .. " --help)\n", e, args)
end

-- A game that exits at its first frame (lurun's successful run).
local function game()
  return H.project("[project]\ntitle = Options Spec\n[bootstrap]\nmain_script = /main/main.lua\n",
                   {["main/main.lua"] = "function init(self) print('ran') sys.exit(0) end\n"})
end

local COMMANDS = {"bundle", "inspect", "verify", "publish", "keygen", "sign"}   -- release has its own --version V

describe("tool options", function()
  it("--version prints '<tool> (liveupdate) <version>' and exits 0, also after a command", function()
    local want = version()
    local lines = {
      {lutool, "--version", "lutool"}, {lurun, "--version", "lurun"}, {lubench, "--version", "lubench"},
      {lurun, "some/dir --frames 3 --version", "lurun"}, {lubench, "--quick --version", "lubench"},
    }
    for _, c in ipairs(COMMANDS) do lines[#lines + 1] = {lutool, c .. " --version", "lutool"} end
    lines[#lines + 1] = {lutool, "console --version", "lutool"}
    for _, l in ipairs(lines) do
      local code, o, e = l[1](l[2])
      assert.are.equal(0, code, l[2] .. ": " .. e)
      assert.are.equal(l[3] .. " (liveupdate) " .. want .. "\n", o, l[2])
    end
    -- lutool release's own --version takes the release's version
    usage_error("lutool", "release --version", "lutool release", "option --version needs a value")
  end)

  it("--help and -h print the usage to stdout and exit 0, even after a mistake, but not after --", function()
    local lines = {{lutool, "--help", "usage: lutool <command>"}, {lurun, "-h", "usage: lurun "},
                   {lubench, "--help", "usage: lubench "}, {lubench, "--bogus -h", "usage: lubench "},
                   {lutool, "console -h", "usage: lutool console"}}
    for _, c in ipairs(COMMANDS) do
      lines[#lines + 1] = {lutool, c .. " -h", "usage: lutool " .. c}
      lines[#lines + 1] = {lutool, c .. " --bogus --help", "usage: lutool " .. c}
    end
    for _, l in ipairs(lines) do
      local code, o, e = l[1](l[2])
      assert.are.equal(0, code, l[2] .. ": " .. e)
      assert.are.equal(l[3], o:sub(1, #l[3]), l[2])
      assert.are.equal("", e, l[2])
    end
    -- after "--", --help is an argument: here a file inspect cannot open
    local code, o, e = lutool("inspect -- --help", H.tmpdir())
    assert.are.equal(1, code, o)
    assert.truthy(e:find("'--help'", 1, true), e)
    usage_error("lutool", "keygen --help=1", "lutool keygen", "option --help takes no value")
  end)

  it("--opt=value is --opt value", function()
    local dir = H.tmpdir()
    assert.are.equal(0, (lutool("keygen -o=" .. q(dir .. "/k"))))
    H.write(dir .. "/f", "signed bytes\n")
    local code, _, e = lutool("sign " .. q(dir .. "/f") .. " --key=" .. q(dir .. "/k.sec"))
    assert.are.equal(0, code, e)
    assert.is_true(H.exists(dir .. "/f.sig"))
    H.zip(dir .. "/z.zip", {["a.txt"] = "a"})
    code, _, e = lutool("sign " .. q(dir .. "/z.zip") .. " --key " .. q(dir .. "/k.sec"))
    assert.are.equal(0, code, e)
    code, _, e = lutool("verify " .. q(dir .. "/z.zip") .. " --key=" .. q(dir .. "/k.pub"))
    assert.are.equal(0, code, e)
    local o
    code, o, e = lurun(q(game()) .. " --frames=5 --console=0 --save-dir=" .. q(dir .. "/save"))
    assert.are.equal(0, code, e)
    assert.are.equal("ran\n", o)
    code, o, e = lubench("--quick --only=lookup --reps=1")
    assert.are.equal(0, code, e)
    assert.truthy(o:find("\ncase lookup: ", 1, true), o)
    usage_error("lubench", "--only=nosuch", "lubench", "--only: unknown case 'nosuch'; the cases are: " .. LUBENCH_CASES)
  end)

  it("-- ends the options: what follows is an argument, even when it starts with -", function()
    local dir = H.tmpdir()
    assert.are.equal(0, (lutool("keygen -o " .. q(dir .. "/k"))))
    H.write(dir .. "/-f", "a file named like an option\n")
    local code, _, e = lutool("sign --key " .. q(dir .. "/k.sec") .. " -- -f", dir)
    assert.are.equal(0, code, e)
    assert.is_true(H.exists(dir .. "/-f.sig"))
    local g = game()
    assert.is_true(H.sh("mv " .. q(g) .. " " .. q(dir .. "/-game")))
    local o
    code, o, e = lurun("--frames 5 --save-dir save -- -game", dir)
    assert.are.equal(0, code, e)
    assert.are.equal("ran\n", o)
    usage_error("lubench", "-- --version", "lubench", "unexpected argument '--version'")
    usage_error("lurun", "dir -- --version", "lurun", "unexpected argument '--version'")   -- a second game dir
  end)

  it("a missing value is named as such, not as an unknown option", function()
    usage_error("lutool", "verify x.zip --key", "lutool verify", "option --key needs a value")
    usage_error("lutool", "sign f --key", "lutool sign", "option --key needs a value")
    usage_error("lutool", "keygen -o", "lutool keygen", "option -o needs a value")
    usage_error("lutool", "keygen -o --force", "lutool keygen", "option -o needs a value")
    usage_error("lutool", "bundle p -o=", "lutool bundle", "option -o needs a value")
    usage_error("lurun", "dir --frames", "lurun", "option --frames needs a value")
    usage_error("lurun", "dir --save-dir --frames 1", "lurun", "option --save-dir needs a value")
    usage_error("lurun", "dir --set", "lurun", "option --set needs a value")
    usage_error("lubench", "--only", "lubench", "option --only needs a value")
    usage_error("lubench", "--reps", "lubench", "option --reps needs a value")
  end)

  it("an empty value or argument is a usage error, never the current or the root folder", function()
    -- `-o "$OUT"` with OUT unset: "" as a folder made lutool bundle write /game.zip
    local proj = game()
    local cwd = H.tmpdir()
    usage_error("lutool", "bundle " .. q(proj) .. " -o ''", "lutool bundle", "option -o needs a value", cwd)
    usage_error("lutool", "release " .. q(proj) .. " --version 1 -o ''", "lutool release", "option -o needs a value", cwd)
    usage_error("lutool", "keygen -o ''", "lutool keygen", "option -o needs a value", cwd)
    usage_error("lurun", q(proj) .. " --save-dir ''", "lurun", "option --save-dir needs a value", cwd)
    usage_error("lutool", "inspect ''", "lutool inspect", "an empty argument where a file or folder is expected", cwd)
    usage_error("lurun", "''", "lurun", "an empty argument where a file or folder is expected", cwd)
    local p = io.popen("ls -A " .. q(cwd))
    assert.are.equal("", p:read("a"), "nothing written where the tools ran")
    p:close()
  end)

  it("an unknown option, a flag given a value and a second argument are usage errors (exit 2)", function()
    usage_error("lutool", "--bogus", "lutool", "unknown option '--bogus'")
    usage_error("lutool", "nosuch", "lutool", "unknown command 'nosuch'")
    usage_error("lutool", "inspect x.zip --bogus", "lutool inspect", "unknown option '--bogus'")
    usage_error("lutool", "verify x.zip -x", "lutool verify", "unknown option '-x'")
    usage_error("lutool", "keygen -o k --bogus=1", "lutool keygen", "unknown option '--bogus'")
    usage_error("lutool", "bundle p -o out --bogus", "lutool bundle", "unknown option '--bogus'")
    usage_error("lutool", "release d --version 1 --bogus", "lutool release", "unknown option '--bogus'")
    usage_error("lurun", "dir --bogus=1", "lurun", "unknown option '--bogus'")
    usage_error("lubench", "--bogus", "lubench", "unknown option '--bogus'")
    usage_error("lutool", "console --bogus 7000", "lutool console", "unknown option '--bogus'")
    usage_error("lutool", "console", "lutool console", "missing [host:]port")
    usage_error("lutool", "console --history", "lutool console", "option --history needs a value")
    usage_error("lutool", "console 7000x", "lutool console", "'7000x' is not [host:]port (a port from 1 to 65535)")
    usage_error("lutool", "console 0", "lutool console", "'0' is not [host:]port (a port from 1 to 65535)")
    usage_error("lutool", "keygen -o k --force=1", "lutool keygen", "option --force takes no value")
    usage_error("lutool", "release d --version 1 --mandatory=yes", "lutool release", "option --mandatory takes no value")
    usage_error("lubench", "--quick=1", "lubench", "option --quick takes no value")
    usage_error("lutool", "sign a b --key k", "lutool sign", "unexpected argument 'b'")
    usage_error("lurun", "a b", "lurun", "unexpected argument 'b'")
    usage_error("lubench", "extra", "lubench", "unexpected argument 'extra'")
  end)

  it("numbers are whole, unsigned, range checked, and the error names the option and the value", function()
    local nan = {"abc", "12abc", "-1", "+5", " 5", "1.5", "0x10"}
    local cases = {
      {"lurun", "dir --frames ", "lurun", "--frames", "0..2147483647", {"2147483648", "99999999999"}},
      {"lurun", "dir --console ", "lurun", "--console", "0..65535", {"65536", "99999999999999999999"}},
      {"lubench", "--reps ", "lubench", "--reps", "1..15", {"0", "16", "99999999999999999999"}},
      {"lutool", "release d --version 1 --priority ", "lutool release", "--priority", "0..2147483647",
       {"2147483648", "99999999999999999999"}},
    }
    for _, c in ipairs(cases) do
      for _, v in ipairs(nan) do
        usage_error(c[1], c[2] .. q(v), c[3], c[4] .. ": '" .. v .. "' is not a whole number")
      end
      for _, v in ipairs(c[6]) do
        usage_error(c[1], c[2] .. v, c[3], c[4] .. ": '" .. v .. "' is out of range (" .. c[5] .. ")")
      end
    end
  end)

  it("lubench --only checks every name it is given and runs only those", function()
    local known = LUBENCH_CASES
    usage_error("lubench", "--quick --only nosuch", "lubench", "--only: unknown case 'nosuch'; the cases are: " .. known)
    usage_error("lubench", "--quick --only lookup,nosuch", "lubench",
                "--only: unknown case 'nosuch'; the cases are: " .. known)
    usage_error("lubench", "--quick --only nosuch,lookup", "lubench",
                "--only: unknown case 'nosuch'; the cases are: " .. known)
    local code, o, e = lubench("--quick --only mount,lookup --reps 1")
    assert.are.equal(0, code, e)
    local ran = {}
    for name in o:gmatch("\ncase ([%w_]+):") do ran[#ran + 1] = name end
    assert.are.same({"lookup", "mount"}, ran)
  end)

  it("lubench --quick --curves writes three files of two numbers a line, and runs no case", function()
    local dir = H.tmpdir() .. "/curves"   -- made by lubench
    local code, o, e = lubench("--quick --curves " .. q(dir))
    assert.are.equal(0, code, e)
    assert.falsy(o:find("\ncase ", 1, true), o)
    assert.truthy(o:find("\ncurves: 3 written to ", 1, true), o)
    local want = {add = 16, open = 4, lookup = 4}   -- k = 1..16; 1, 2, 4, 8 mounts; 4 sizes
    for name, rows in pairs(want) do
      local text = H.read(dir .. "/" .. name .. ".dat")
      assert.truthy(text, name)
      local lines = {}
      for line in text:gmatch("[^\n]+") do lines[#lines + 1] = line end
      assert.matches("^# %S+ +%S+$", lines[1])
      assert.are.equal(rows + 1, #lines, name)
      local last = 0
      for i = 2, #lines do
        local x, y = lines[i]:match("^(%S+) (%S+)$")
        assert.truthy(tonumber(x) and tonumber(y), name .. ": " .. lines[i])
        assert.is_true(tonumber(x) > last and tonumber(y) >= 0, name .. ": " .. lines[i])
        last = tonumber(x)
      end
    end
    usage_error("lubench", "--curves", "lubench", "option --curves needs a value")
    usage_error("lubench", "--curves=", "lubench", "option --curves needs a value")
    usage_error("lubench", "--quick --curves " .. q(dir) .. " --only lookup", "lubench",
                "--curves runs no case: --only and --reps do not apply")
    code, _, e = lubench("--quick --curves " .. q(dir .. "/no/such/parent"))
    assert.are.equal(1, code)
    assert.matches("lubench: %-%-curves: .*no/such/parent: No such file or directory", e)
  end)

  it("keygen creates the folder, keeps an existing key unless --force, and --force replaces both", function()
    local dir = H.tmpdir() .. "/new/keys"
    local k = dir .. "/k"
    local code, _, e = lutool("keygen -o " .. q(k))
    assert.are.equal(0, code, e)
    local sec, pub = H.read(k .. ".sec"), H.read(k .. ".pub")
    assert.are.equal(129, #sec)
    assert.are.equal(65, #pub)
    local o
    code, o, e = lutool("keygen -o " .. q(k))
    assert.are.equal(1, code)
    assert.are.equal("", o)
    assert.are.equal("lutool keygen: '" .. k .. ".sec' exists: not replacing a key (--force replaces it)\n", e)
    assert.are.equal(sec, H.read(k .. ".sec"))
    assert.are.equal(pub, H.read(k .. ".pub"))
    -- the public key alone is kept too
    os.remove(k .. ".sec")
    code, _, e = lutool("keygen -o " .. q(k))
    assert.are.equal(1, code)
    assert.truthy(e:find("'" .. k .. ".pub' exists", 1, true), e)
    assert.is_nil(H.read(k .. ".sec"))
    assert.are.equal(pub, H.read(k .. ".pub"))
    -- --force makes a new pair
    H.write(k .. ".sec", sec)
    code, _, e = lutool("keygen --force -o " .. q(k))
    assert.are.equal(0, code, e)
    local sec2, pub2 = H.read(k .. ".sec"), H.read(k .. ".pub")
    assert.are.equal(129, #sec2)
    assert.are_not.equal(sec, sec2)
    assert.are_not.equal(pub, pub2)
    local p = io.popen("stat -c %a " .. q(k .. ".sec"))
    assert.are.equal("600", p:read("l"))
    p:close()
  end)
end)
