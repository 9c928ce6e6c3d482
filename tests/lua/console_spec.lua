-- console_spec.lua -- the debug console over real TCP against a running
-- lurun: every command in text and JSON, bad and oversized lines, blank
-- lines, quoting, a client that disconnects mid-command, many clients at
-- once, the frame count advancing while clients talk, and lutool console's
-- exit status (its terminal side: console_tty_spec.lua).
local H = require("helpers")
local json = require("dkjson")

local LUTOOL = H.lutool_bin

local function capture(cmd)
  local out, err = os.tmpname(), os.tmpname()
  local _, code = H.sh(cmd .. " >" .. H.quote(out) .. " 2>" .. H.quote(err))
  local o, e = H.read(out), H.read(err)
  os.remove(out); os.remove(err)
  return code, o, e
end

local function console(port, cmd)
  return capture(H.quote(LUTOOL) .. " console " .. port .. " " .. cmd)
end

local function start_game(dir, mounts) return H.console_game(dir, {mounts = mounts}) end

local GAME = [[
[project]
title = Console Spec
[proxy.level1]
collection = /level1/level1.collection
resources = /level1/**
[game]
minimum_lu_version = 2
]]

describe("debug console", function()
  local dir, vols, port, save, stop

  setup(function()
    dir = H.project(GAME, {["main/main.lua"] = "function update(self) end",
                           ["level1/level1.collection"] = "", ["level1/a.txt"] = "aaaa"})
    vols = H.tmpdir()
    H.zip(vols .. "/v.zip", {["level1/a.txt"] = "from the volume", ["version_v.json"] = '{"version": 3}'})
    H.zip(vols .. "/old.zip", {["x.txt"] = "x", ["version_old.json"] = '{"version": 1}'})
    -- a volume that carries the version files of the names it is mounted as
    H.zip(vols .. "/any.zip", {["y.txt"] = "y", ["version_kept.json"] = '{"version": 2}',
                               ["version_x2.json"] = '{"version": 2}'})
    -- the version floor keeps a version-1 volume from being added now, so
    -- the one `prune` removes comes from the mounts file of an earlier run
    port, save, stop = start_game(dir, '{"version":1,"mounts":[{"name":"old","uri":"zip:' .. vols ..
                                       '/old.zip","priority":1}]}')
  end)

  teardown(function() stop() end)

  it("answers every command in text", function()
    local code, out = console(port, "help")
    assert.are.equal(0, code)
    for _, c in ipairs({"mounts", "which", "ls", "missing", "add", "remove", "prune", "downloads", "update", "report"}) do
      assert.matches("\n  " .. c, "\n" .. out, 1, true)
    end
    code, out = console(port, "add v zip:" .. vols .. "/v.zip 5")
    assert.are.equal(0, code)
    assert.matches("mounted 'v'", out)
    code, out = console(port, "mounts")
    assert.are.equal(0, code)
    assert.matches("NAME   PRIORITY  FORMAT   ENTRIES  URI\n", out, 1, true)
    assert.matches("v             5  zip            2  zip:" .. vols .. "/v.zip", out, 1, true)
    code, out = console(port, "which /level1/a.txt")
    assert.are.equal(0, code)
    assert.are.equal("/level1/a.txt is served by mount 'v' (15 B)\n", out)
    code, out = console(port, "ls /level1/")
    assert.are.equal(0, code)
    assert.matches("15 B  v             /level1/a.txt", out, 1, true)
    code, out = console(port, "ls / --mount _base")
    assert.matches("4 B  _base         /level1/a.txt", out, 1, true)
    code, out = console(port, "missing level1")
    assert.are.equal(0, code)
    assert.matches("nothing is missing", out)
    code, out = console(port, "missing")
    assert.are.equal(0, code)
    assert.are.equal("  level1               0 missing\n1 proxy(ies); missing <proxy> lists the paths\n", out)
    code, out = console(port, "downloads")
    assert.are.equal("0 transfer(s) in flight (0 http.request, 0 volume download(s))\n", out)
    code, out = console(port, "update")
    assert.matches("not configured", out)
    code, out = console(port, "report")
    assert.are.equal("nothing to report\n", out)
    local err
    code, out, err = console(port, "add old zip:" .. vols .. "/old.zip 1")
    assert.are.equal(1, code)
    assert.matches("VERSION_MISMATCH", err, 1, true)
    assert.matches("volume 'old' is version 1, below the game's minimum 2", err, 1, true)
    code, out = console(port, "prune")
    assert.are.equal(0, code)
    assert.matches("pruned 1 mount%(s%) older than version 2", out)
    assert.matches("pruned      old", out, 1, true)
    code, out = console(port, "remove v")
    assert.are.equal(0, code)
    assert.matches("removed 'v'", out)
  end)

  it("answers every command in JSON", function()
    console(port, "add v zip:" .. vols .. "/v.zip 5")
    local function ask(cmd)
      local code, out = console(port, cmd .. " --json")
      assert.are.equal(0, code, cmd)
      local doc = json.decode(out)
      assert.is_true(doc.ok, cmd)
      return doc.result
    end
    assert.is_true(#ask("help") >= 12)
    local mounts = ask("mounts")
    assert.are.equal("v", mounts[1].name)
    assert.are.equal(2, mounts[1].entries)
    assert.are.equal("v", ask("which /level1/a.txt").mount)
    assert.are.equal(15, ask("ls /level1/")[1].size)
    assert.are.same({}, ask("missing level1").missing)
    assert.are.same({{proxy = "level1", missing = 0}}, ask("missing"))
    assert.are.same({}, ask("downloads"))
    assert.is_false(ask("update").configured)
    assert.are.equal("old", ask("report")[1].name)
    assert.are.same({}, ask("prune"))
    assert.is_number(ask("status").frame)
    assert.are.equal("v", ask("remove v"))
    assert.are.equal("x2", ask("add x2 zip:" .. vols .. "/any.zip 1"))
    console(port, "remove x2")
    local code, out = console(port, "which /nope --json")
    assert.are.equal(1, code)
    local doc = json.decode(out)
    assert.is_false(doc.ok)
    assert.are.equal("NOT_FOUND", doc.status)
  end)

  it("gives errors for bad commands without hurting the game", function()
    local code, _, err = console(port, "bogus")
    assert.are.equal(1, code)
    assert.matches("unknown command 'bogus'", err)
    code, _, err = console(port, "add _x zip:/a.zip 1")
    assert.are.equal(1, code)
    assert.matches("reserved", err)
    code, _, err = console(port, "add y zip:" .. vols .. "/v.zip notanumber")
    assert.are.equal(1, code)
    assert.matches("not an integer", err)
    code, _, err = console(port, "which")
    assert.matches("usage: which <path>", err)
    code, _, err = console(port, "remove nothing")
    assert.matches("NOT_FOUND", err)
    for _, c in ipairs({"status", "downloads", "update"}) do
      code, _, err = console(port, c .. " extra")
      assert.are.equal(1, code, c)
      assert.are.equal("error: INVAL usage: " .. c .. " (it takes no argument)\n", err, c)
    end
    local _, out = capture("python3 " .. H.quote(H.root .. "/tests/lua/console_probe.py") .. " " .. port .. " oversized")
    assert.matches("^%%%% error INVAL line longer than 4096 bytes\n", out)
    assert.matches("frame %d+", out)
    _, out = capture("python3 " .. H.quote(H.root .. "/tests/lua/console_probe.py") .. " " .. port .. " nul")
    assert.matches("NUL byte", out)
    _, out = capture("python3 " .. H.quote(H.root .. "/tests/lua/console_probe.py") .. " " .. port .. " disconnect")
    assert.matches("frame %d+", out)
  end)

  it("serves many clients at once while the frame count keeps advancing", function()
    local _, out = capture("python3 " .. H.quote(H.root .. "/tests/lua/console_probe.py") .. " " .. port .. " many 25")
    local frames = {}
    for l in out:gmatch("[^\n]+") do
      local f = l:match('"frame":(%d+)')
      if f then frames[#frames + 1] = tonumber(f) end
    end
    assert.are.equal(25, #frames)
    local _, a = console(port, "status --json")
    os.execute("sleep 0.3")
    local _, b = console(port, "status --json")
    assert.is_true(json.decode(b).result.frame > json.decode(a).result.frame, "the game loop keeps running")
  end)

  it("changes made through the console persist like the Lua API's", function()
    assert.are.equal(0, (console(port, "add kept zip:" .. vols .. "/any.zip 7")))
    assert.matches('"name":"kept"', H.read(save .. "/liveupdate.mounts"), 1, true)
    console(port, "remove kept")
    assert.is_nil(H.read(save .. "/liveupdate.mounts"):find('"kept"', 1, true))
  end)

  local function probe_send(...)
    local args = {}
    for i, l in ipairs({...}) do args[i] = H.quote(l) end
    local code, out = capture("python3 " .. H.quote(H.root .. "/tests/lua/console_probe.py") .. " " .. port .. " send " ..
                              table.concat(args, " "))
    return code, out
  end

  it("answers a blank or whitespace-only line from a raw client, and the next command still works", function()
    local code, out = probe_send("", "   ", "\t \r", "--json", "status")
    assert.are.equal(0, code, out)
    assert.matches('^%%%% ok\n%%%% ok\n%%%% ok\n{"ok":true,"result":null}\n%%%% ok\nConsole Spec: frame %d+', out)
  end)

  it("splits words with quotes and backslashes, so a path with a space can be added", function()
    local spaced = vols .. "/my volumes"
    H.sh("mkdir -p " .. H.quote(spaced))
    H.zip(spaced .. "/v 2.zip", {["level1/a.txt"] = "spaced volume", ["version_sp.json"] = '{"version": 3}',
                                ["version_sp2.json"] = '{"version": 3}'})
    local code, out = probe_send('add sp "zip:' .. spaced .. '/v 2.zip" 9', "which /level1/a.txt", "remove 'sp'",
                                 "add sp zip:" .. spaced:gsub(" ", "\\ ") .. "/v\\ 2.zip 9",
                                 [[which "/level1/"'a.txt' --json]], [[remove s"p" --json]], [["--json"]])
    assert.are.equal(0, code, out)
    assert.are.equal("mounted 'sp' (zip:" .. spaced .. "/v 2.zip) at priority 9; persisted\n%% ok\n" ..
                   "/level1/a.txt is served by mount 'sp' (13 B)\n%% ok\nremoved 'sp'; persisted\n%% ok\n" ..
                   "mounted 'sp' (zip:" .. spaced .. "/v 2.zip) at priority 9; persisted\n%% ok\n" ..
                   '{"ok":true,"result":{"path":"/level1/a.txt","mount":"sp","size":13}}\n%% ok\n' ..
                   '{"ok":true,"result":"sp"}\n%% ok\n' ..
                   "%% error INVAL unknown command '--json' (try help)\n", out)
    -- lutool console with several words sends each as one word, quoting it
    code, out = console(port, "add sp2 " .. H.quote("zip:" .. spaced .. "/v 2.zip") .. " 9")
    assert.are.equal(0, code)
    assert.matches("mounted 'sp2' (zip:" .. spaced .. "/v 2.zip)", out, 1, true)
    -- and one argument as a whole command line
    code, out = console(port, H.quote('which "/level1/a.txt"'))
    assert.are.equal("/level1/a.txt is served by mount 'sp2' (13 B)\n", out)
    assert.are.equal(0, (console(port, "remove sp2")))
  end)

  it("answers an unterminated quote or a trailing backslash with an error line, not a hang", function()
    local code, out = probe_send('which "/level1/a.txt', "which 'x", "which x\\", "status")
    assert.are.equal(0, code, out)
    assert.matches('^%%%% error INVAL unterminated " quote\n%%%% error INVAL unterminated \' quote\n' ..
                   "%%%% error INVAL the line ends in a backslash %(nothing to escape%)\nConsole Spec: frame %d+", out)
    local err
    code, out, err = console(port, H.quote('which "/level1/a.txt'))
    assert.are.equal(1, code)
    assert.are.equal("error: INVAL unterminated \" quote\n", err)
  end)

  it("exits non-zero in one-shot mode on an error line or when the game is not there", function()
    local code, out, err = console(port, "which /nope")
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.are.equal("error: NOT_FOUND no mount serves '/nope'\n", err)
    code, out = console(port, "which /level1/a.txt")
    assert.are.equal(0, code, out)
    local gone = H.free_port()
    code, out, err = console(gone, "status")
    assert.are.equal(1, code)
    assert.matches("cannot connect to 127.0.0.1:" .. gone .. ": Connection refused (is lurun running with --console " ..
                   gone .. "?)", err, 1, true)
    code, _, err = capture(H.quote(LUTOOL) .. " console nope status")
    assert.are.equal(2, code)
    assert.matches("'nope' is not [host:]port", err, 1, true)
    code, _, err = capture(H.quote(LUTOOL) .. " console --history")
    assert.are.equal(2, code)
    assert.matches("option --history needs a value", err, 1, true)
  end)

  it("skips blank lines read from a pipe and gives the last command's status", function()
    -- (timeout: a client that waits for an answer to the blank line fails instead of hanging)
    local code, out = capture("printf '\\n   \\nstatus\\n\\t\\n' | timeout 20 " .. H.quote(LUTOOL) .. " console " .. port)
    assert.are.equal(0, code)
    assert.matches("^Console Spec: frame %d+", out)
    code = capture("printf 'status\\nwhich /nope\\n' | " .. H.quote(LUTOOL) .. " console " .. port)
    assert.are.equal(1, code)
  end)

  it("never sends a hidden command: a line break inside a one-shot argument, or a piped line too long", function()
    -- one-shot: "status<newline>add ..." would have run the add unseen
    local code, out, err = console(port, H.quote("status\nadd hidden zip:" .. vols .. "/any.zip 5"))
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.matches("argument 1 holds a line break; send one command at a time", err, 1, true)
    -- piped: a line longer than the client reads at once was split and its tail sent
    code, out, err = capture("python3 -c \"print('which /' + 'x' * 8184 + 'status')\" | " .. H.quote(LUTOOL) ..
                             " console " .. port)
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("line longer than 4096 bytes (not sent)", err, 1, true)
    _, out = console(port, "mounts")
    assert.is_nil(out:find("hidden", 1, true))
  end)

  it("refuses a priority out of range instead of wrapping it", function()
    for _, p in ipairs({"4294967306", "99999999999999999999", "-1"}) do
      local code, _, err = console(port, "add pr zip:" .. vols .. "/any.zip " .. p)
      assert.are.equal(1, code, p)
      assert.matches("priority '" .. p .. "' is out of range (0..2147483647)", err, 1, true)
    end
    local code, _, err = console(port, "add pr zip:" .. vols .. "/any.zip ' 7'")
    assert.are.equal(1, code)
    assert.matches("priority ' 7' is not an integer", err, 1, true)
  end)

  it("keeps the protocol in step when a resource name holds a line starting with %%", function()
    H.zip(vols .. "/nl.zip", {["nl/a\n%% ok\nb.txt"] = "x", ["version_nl.json"] = '{"version": 3}'})
    assert.are.equal(0, (console(port, "add nl zip:" .. vols .. "/nl.zip 3")))
    local code, out = probe_send("ls /nl/", "status")
    assert.are.equal(0, code, out)
    -- the body line is " %% ok": the one answer ends once, and status answers status
    assert.matches("/nl/a\n %%%% ok\nb.txt\n1 resource%(s%) under /nl/\n%%%% ok\nConsole Spec: frame %d+", out)
    assert.are.equal(0, (console(port, "remove nl")))
  end)

  it("answers --json with valid JSON even for names that are not UTF-8", function()
    local py = "import json,socket,sys; s=socket.create_connection(('127.0.0.1'," .. port .. "),timeout=10); " ..
               "f=s.makefile('rwb'); f.write(b'which /\\xff\\xc3x --json\\n'); f.flush(); " ..
               "d=json.loads(f.readline().decode('utf-8')); print(d['ok'], d['status'], d['error'])"
    local code, out, err = capture("python3 -c " .. H.quote(py))
    assert.are.equal(0, code, err)
    assert.are.equal("False NOT_FOUND no mount serves '/\u{FFFD}\u{FFFD}x'\n", out)
  end)

  it("serves a client that floods commands a bounded share per frame", function()
    local _, out = capture("python3 " .. H.quote(H.root .. "/tests/lua/console_probe.py") .. " " .. port .. " flood 3000")
    local answers, frames = out:match("answers (%d+) frames (%d+)")
    assert.are.equal("3000", answers, out)
    -- at most 256 answers (plus what one read brought) a frame: 3,000 take several frames
    assert.is_true(tonumber(frames) >= 5, out)
  end)

  it("is off unless asked, and binds 127.0.0.1 only", function()
    local code, _, err = H.run(dir, "--save-dir " .. H.quote(H.tmpdir()) .. " --frames 2")
    assert.are.equal(0, code)
    assert.is_nil(err:find("console listening", 1, true))
    local _, out = capture("ss -ltn")
    assert.matches("127.0.0.1:" .. port, out, 1, true)
    assert.is_nil(out:find("0.0.0.0:" .. port, 1, true))
  end)
end)

describe("debug console with [liveupdate] enabled = 0", function()
  it("refuses add, remove and prune as liveupdate.add_mount does, and leaves the mounts file as it was", function()
    local dir = H.project(GAME .. "[liveupdate]\nenabled = 0\n",
                          {["main/main.lua"] = "function update(self) end", ["level1/level1.collection"] = "",
                           ["level1/a.txt"] = "aaaa"})
    local vols = H.tmpdir()
    H.zip(vols .. "/v.zip", {["level1/a.txt"] = "from the volume", ["version_v.json"] = '{"version": 3}'})
    local mounts = '{"version":1,"mounts":[{"name":"v","uri":"zip:' .. vols .. '/v.zip","priority":1}]}'
    local port, save, stop = H.console_game(dir, {mounts = mounts})
    local ok, e = pcall(function()
      for _, cmd in ipairs({"add v2 zip:" .. vols .. "/v.zip 5", "remove v", "prune"}) do
        local code, out, err = console(port, cmd)
        assert.are.equal(1, code, cmd)
        assert.are.equal("", out, cmd)
        assert.are.equal("error: NOT_INITIALIZED live update is off: [liveupdate] enabled = 0 in game.project\n", err, cmd)
      end
      local _, out = console(port, "which /level1/a.txt")
      assert.matches("served by mount '_base'", out, 1, true)
      assert.are.equal(mounts, H.read(save .. "/liveupdate.mounts"))
    end)
    stop()
    assert(ok, e)
  end)
end)
