-- lurun_spec.lua -- the runtime and its host modules, end to end: each case
-- writes a small game, runs build/bin/lurun on it and checks what it printed
-- and its exit status.
local H = require("helpers")

local PROJECT = [[
[project]
title = Spec Game
[bootstrap]
main_script = /main/main.lua
[display]
update_frequency = 1000
[game]
minimum_lu_version = 0
ratio = 0.5
label = hello
]]

local function game(main, extra_content, ini)
  local content = {["main/main.lua"] = main}
  for k, v in pairs(extra_content or {}) do content[k] = v end
  return H.project(ini or PROJECT, content)
end

local function run(dir, args)
  local save = H.tmpdir()
  local code, out, err = H.run(dir, "--save-dir " .. H.quote(save) .. " " .. (args or ""))
  return code, out, err, save
end

describe("lurun", function()
  it("runs init, update, on_message and final, and exits with sys.exit's code", function()
    local dir = game([[
function init(self) print("init"); self.frames = 0; msg.post("#", "ping", {n = 41}) end
function on_message(self, id, message, sender)
  print("message", id == hash("ping"), message.n + 1, sender == msg.url())
end
function update(self, dt)
  self.frames = self.frames + 1
  if self.frames == 1 then print("dt", string.format("%.4f", dt)) end
  if self.frames == 3 then sys.exit(5) end
end
function final(self) print("final", self.frames) end
]])
    local code, out = run(dir)
    assert.are.equal(5, code)
    assert.are.equal("init\nmessage\ttrue\t42\ttrue\ndt\t0.0010\nfinal\t3\n", out)
  end)

  it("stops after --frames and runs final", function()
    local dir = game("function update(self) self.n = (self.n or 0) + 1 end function final(self) print('frames', self.n) end")
    local code, out = run(dir, "--frames 7")
    assert.are.equal(0, code)
    assert.are.equal("frames\t7\n", out)
  end)

  it("reports Lua errors with file and line and exits non-zero", function()
    local dir = game("function init(self)\n  local x = nil\n  return x.field\nend\n")
    local code, _, err = run(dir)
    assert.are_not.equal(0, code)
    assert.matches("/main/main.lua:3:", err)
    dir = game("function on_message(self) error('bad message') end\nfunction init(self) msg.post('#', 'x') end\n")
    code, _, err = run(dir, "--frames 5")
    assert.are_not.equal(0, code)
    assert.matches("/main/main.lua:1: bad message", err)
    dir = game("local x = = 1\n")
    code, _, err = run(dir)
    assert.are_not.equal(0, code)
    assert.matches("/main/main.lua:1:", err)
  end)

  it("keeps running when the script handles its own error", function()
    local dir = game("function init(self) local ok, e = pcall(error, 'handled') print(ok, e) sys.exit(0) end")
    local code, out = run(dir)
    assert.are.equal(0, code)
    assert.are.equal("false\thandled\n", out)
  end)

  it("rejects bad command lines and bad projects", function()
    local code, _, err = H.run("/nonexistent/dir", "")
    assert.are_not.equal(0, code); assert.matches("/nonexistent/dir", err)
    local dir = game("")
    code, _, err = H.run(dir, "--frames x")
    assert.are.equal(2, code); assert.matches("%-%-frames", err)
    code, _, err = H.run(dir, "--bogus")
    assert.are.equal(2, code); assert.matches("unknown option '%-%-bogus'", err)
    local out
    code, out = H.run(dir, "--version")     -- the library's run-time version (lu_version)
    assert.are.equal(0, code); assert.matches("^lurun %(liveupdate%) %d+%.%d+%.%d+\n$", out)
    code, _, err = H.run(dir, "--set nodot=1")
    assert.are.equal(2, code); assert.matches("nodot", err)
    local bad = H.project("[project]\ntitle = x\nthis line is wrong\n", {["main/main.lua"] = ""})
    code, _, err = H.run(bad, "--frames 1")
    assert.are_not.equal(0, code); assert.matches("game.project:3:", err)
    code, _, err = run(game("", nil, PROJECT:gsub("/main/main.lua", "/main/missing.lua")), "--frames 1")
    assert.are_not.equal(0, code); assert.matches("/main/missing.lua", err)
  end)

  it("sys reads game.project with --set overrides and type errors naming file, line and key", function()
    local dir = game([[
function init(self)
  print(sys.get_config_int("game.minimum_lu_version"), sys.get_config_number("game.ratio"),
        sys.get_config_string("game.label"), sys.get_config_string("game.none"),
        sys.get_config_int("game.none", 9), sys.get_config_string("game.none", "dflt"))
  print(pcall(sys.get_config_int, "game.label"))
  sys.exit(0)
end
]])
    local code, out = run(dir, "--set game.minimum_lu_version=7 --set game.extra=1")
    assert.are.equal(0, code)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal("7\t0.5\thello\tnil\t9\tdflt", lines[1])
    assert.matches("^false\t.*game.project:10: game.label: 'hello' is not an integer", lines[2])
  end)

  it("sys.load_resource reads through the mounts and sys.get_save_file is under the save root", function()
    local dir = game([[
function init(self)
  print(sys.load_resource("/data/a.txt"))
  print(sys.load_resource("/data/none.txt"))
  print(sys.get_save_file("mygame", "levels.zip"))
  print(pcall(sys.get_save_file, "../up", "x"))
  sys.exit(0)
end
]], {["data/a.txt"] = "payload"})
    local code, out, _, save = run(dir)
    assert.are.equal(0, code)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal("payload", lines[1])
    assert.matches("^nil\tno mount serves '/data/none.txt'", lines[2])
    assert.are.equal(save .. "/mygame/levels.zip", lines[3])
    assert.matches("^false", lines[4])
  end)

  it("hash, hash_to_hex, pprint and json behave as in Defold", function()
    local dir = game([[
function init(self)
  local t = {}
  t[hash("k")] = 1
  print(hash("a") == hash("a"), hash("a") ~= hash("b"), t[hash("k")], tostring(hash("x")), #hash_to_hex("x"))
  local v = json.decode('{"a":[1,2,{"b":true}],"s":"x","f":1.5,"n":null}')
  print(v.a[2], v.a[3].b, v.s, v.f, v.n)
  print(json.encode({1, 2, 3}), json.encode({}), json.encode("q\"uote"))
  print(json.decode(json.encode({k = {x = 1}})).k.x)
  print(pcall(json.decode, '{"a": }'))
  print(pcall(json.encode, {f = print}))
  pprint({x = 1})
  print(pcall(json.decode, '{"a": 1} trailing'))
  print(pcall(json.decode, '{"a": 1}\0{"b": 2}'))
  print(pcall(json.decode, '["cut\\u0000here"]'))
  print(json.decode('["\\\\u0000", " {\\"a\\"} "]')[1], json.decode(' 7 \n'))
  sys.exit(0)
end
]])
    local code, out = run(dir)
    assert.are.equal(0, code)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal("true\ttrue\t1\thash: [x]\t16", lines[1])
    assert.are.equal("2\ttrue\tx\t1.5\tnil", lines[2])
    assert.are.equal('[1,2,3]\t{}\t"q\\"uote"', lines[3])
    assert.are.equal("1", lines[4])
    assert.matches("^false\t.*json.decode: invalid JSON at byte", lines[5])
    assert.matches("^false\t.*cannot encode a function", lines[6])
    assert.matches("^DEBUG:SCRIPT: {", lines[7])
    -- the whole string is the value; a \u0000 would cut a string short: refused
    local rest = {}
    for i = #lines - 3, #lines do rest[#rest + 1] = lines[i] end
    assert.matches("^false\t.*json.decode: invalid JSON at byte 10 near 'trailing'$", rest[1])
    assert.matches("^false\t.*json.decode: invalid JSON at byte 10 near '{\"b\": 2}'$", rest[2])
    assert.matches("^false\t.*json.decode: a string with \\u0000 %(a NUL character%) at byte 6 is not supported", rest[3])
    assert.are.equal("\\u0000\t7", rest[4])
  end)

  it("msg.post raises for an unknown receiver", function()
    local dir = game("function init(self) print(pcall(msg.post, 'main:/nowhere#x', 'hi')) sys.exit(0) end")
    local code, out = run(dir)
    assert.are.equal(0, code)
    assert.matches("Could not send message 'hi' from 'main:/main#script' to 'main:/nowhere#x'", out)
  end)

  it("mounts added in one run are there in the next, and the main script is read through them", function()
    local vols = H.tmpdir()
    H.zip(vols .. "/patch.zip", {["main/main.lua"] = "function init(self) print('patched main') sys.exit(0) end"})
    local dir = game(([[
function init(self)
  liveupdate.add_mount("patch", "zip:%s/patch.zip", 10, function(self, name, uri, result, message)
    print("mounted", name, result, message, self.tag)
    sys.exit(0)
  end)
  self.tag = "mine"
end
]]):format(vols))
    local save = H.tmpdir()
    local code, out = H.run(dir, "--save-dir " .. H.quote(save))
    assert.are.equal(0, code)
    assert.are.equal("mounted\tpatch\t0\tnil\tmine\n", out)
    code, out = H.run(dir, "--save-dir " .. H.quote(save))
    assert.are.equal(0, code)
    assert.are.equal("patched main\n", out)
  end)

  it("a relative --save-dir works for both URIs and sys.get_save_file paths", function()
    local vols, cwd = H.tmpdir(), H.tmpdir()
    local dir = game([[
function init(self)
  local path = sys.get_save_file("app", "v.zip")
  local f = io.open(path, "wb") f:write(sys.load_resource("/payload.zip")) f:close()
  liveupdate.add_mount("v", "zip:" .. path, 1, function(self, name, uri, result, message)
    print(result, message, sys.load_resource("/in_volume.txt")) sys.exit(0)
  end)
end
]], {["payload.zip"] = ""})
    H.zip(dir .. "/content/payload.zip", {["in_volume.txt"] = "inside"})
    local ok = H.sh("cd " .. H.quote(cwd) .. " && " .. H.quote(H.lurun) .. " " .. H.quote(dir) ..
                    " --save-dir rel/save --frames 5000 > out.txt 2>&1")
    assert.is_true(ok, H.read(cwd .. "/out.txt"))
    assert.are.equal("0\tnil\tinside\n", H.read(cwd .. "/out.txt"))
    assert.matches('"uri":"zip:app/v.zip"', H.read(cwd .. "/rel/save/liveupdate.mounts"), 1, true)
  end)

  it("an error inside a liveupdate callback stops the game with file and line", function()
    local vols = H.tmpdir()
    H.zip(vols .. "/v.zip", {["x.txt"] = "x"})
    local dir = game(("function init(self)\n liveupdate.add_mount('v', 'zip:%s/v.zip', 1, function()\n error('cb failed')\n end)\nend\n"):format(vols))
    local code, _, err = run(dir, "--frames 5000")
    assert.are_not.equal(0, code)
    assert.matches("/main/main.lua:3: cb failed", err)
  end)

  it("http.request fetches from nginx, streams to a file, and maps file URLs to 200/404", function()
    local www = H.tmpdir()
    H.write(www .. "/hello.txt", "hello over http")
    H.write(www .. "/blob.bin", string.rep("z", 300000))
    local base, stop = H.nginx(www)
    local target = H.tmpdir() .. "/blob.bin"
    local dir = game(([[
local pending = 5
local function done() pending = pending - 1 if pending == 0 then sys.exit(0) end end
function init(self)
  http.request("%s/hello.txt", "GET", function(self, id, r)
    print("get", r.status, r.response, r.headers["content-length"]) done() end)
  http.request("%s/none.txt", "GET", function(self, id, r) print("404", r.status) done() end)
  http.request("%s/blob.bin", "GET", function(self, id, r)
    local f = io.open(r.path, "rb") local n = #f:read("a") f:close()
    print("path", r.status, r.path == "%s", n, r.response) done() end, nil, nil, {path = "%s"})
  http.request("file://%s/hello.txt", "GET", function(self, id, r) print("file", r.status, r.response) done() end)
  http.request("file://%s/nothing.txt", "GET", function(self, id, r) print("file404", r.status) done() end)
end
]]):format(base, base, base, target, target, www, www))
    local code, out, err = run(dir, "--frames 5000")
    stop()
    assert.are.equal(0, code, err)
    assert.matches("get\t200\thello over http\t15\n", out, 1, true)
    assert.matches("404\t404\n", out, 1, true)
    assert.matches("path\t200\ttrue\t300000\t\n", out, 1, true)
    assert.matches("file\t200\thello over http\n", out, 1, true)
    assert.matches("file404\t404\n", out, 1, true)
    assert.is_nil(H.read(target .. ".part"))
  end)

  it("http.request sends methods, headers and a body", function()
    local base, stop = H.nginx(H.tmpdir())
    local dir = game(([[
function init(self)
  http.request("%s/echo", "POST", function(self, id, r)
    print(r.status, r.response) sys.exit(0) end, {["X-Test"] = "yes"}, "twelve bytes")
end
]]):format(base))
    local code, out = run(dir, "--frames 5000")
    stop()
    assert.are.equal(0, code)
    assert.are.equal("200\tPOST yes 12\n", out)
  end)

  it("msg.url names the running script and resolves relative URLs", function()
    local dir = game("function init(self) print(msg.url(), msg.url('#'), msg.url('#other'), msg.url('a:/b#c')) sys.exit(0) end")
    local code, out = run(dir)
    assert.are.equal(0, code)
    assert.are.equal("url: [main:/main#script]\turl: [main:/main#script]\turl: [main:/main#other]\turl: [a:/b#c]\n", out)
  end)

  it("http.request verifies HTTPS certificates", function()
    local www = H.tmpdir()
    H.write(www .. "/s.txt", "secret")
    local base, stop = H.nginx(www, true)
    local dir = game(([[
function init(self)
  http.request("%s/s.txt", "GET", function(self, id, r)
    print(r.status, r.response == "", r.error) sys.exit(0) end)
end
]]):format(base))
    local code, out = run(dir, "--frames 5000")
    stop()
    assert.are.equal(0, code)
    assert.matches("^0\ttrue\t.*certificate", out)
  end)

  it("http.request reports a refused connection and a stalled server with status 0 and error", function()
    local port, stop = H.stalled_server()
    local dir = game(([[
local pending = 2
function init(self)
  local function cb(self, id, r) print(r.status, r.error ~= nil) pending = pending - 1 if pending == 0 then sys.exit(0) end end
  http.request("http://127.0.0.1:1/none", "GET", cb)
  http.request("http://127.0.0.1:%d/slow", "GET", cb, nil, nil, {timeout = 0.3})
end
]]):format(port))
    local code, out = run(dir, "--frames 5000")
    stop()
    assert.are.equal(0, code)
    assert.are.equal("0\ttrue\n0\ttrue\n", out)
  end)
end)

describe("collection proxies", function()
  local PROXY_PROJECT = PROJECT .. [[
[proxy.level1]
collection = /level1/level1.collection
resources = /level1/**
exclude = 1
volume = levels
]]
  local LEVEL = {
    ["level1/level1.collection"] = 'name: "level1"\nscript: "/level1/level1.lua"\n',
    ["level1/level1.lua"] = [[
function init(self) print("level init") end
function update(self) if not self.u then self.u = true print("level update") end end
function final(self) print("level final") end
]],
    ["level1/tex.png"] = "png",
  }
  local MAIN = [[
function init(self)
  print("missing", #collectionproxy.missing_resources("#level1"), #collectionproxy.get_resources("#level1"))
  msg.post("#level1", "load")
end
function on_message(self, id, message, sender)
  if id == hash("proxy_loaded") then
    print("loaded", sender)
    msg.post(sender, "init")
    msg.post(sender, "enable")
    self.t = 0
  elseif id == hash("proxy_unloaded") then
    print("unloaded") sys.exit(0)
  end
end
function update(self) if self.t then self.t = self.t + 1 if self.t == 3 then msg.post("#level1", "unload") end end end
]]

  it("load, init, enable and unload a proxy in a project run (nothing missing)", function()
    local dir = game(MAIN, LEVEL, PROXY_PROJECT)
    local code, out, err = run(dir, "--frames 100")
    assert.are.equal(0, code, err)
    assert.are.equal("missing\t0\t3\nloaded\turl: [main:/main#level1]\nlevel init\nlevel update\nlevel final\nunloaded\n", out)
  end)

  it("misuse is logged with Defold's wording", function()
    local dir = game("function init(self) msg.post('#level1', 'enable') msg.post('#level1', 'unload') sys.exit(0) end", LEVEL, PROXY_PROJECT)
    local code, _, err = run(dir)
    assert.are.equal(0, code)
    assert.matches("The collection /level1/level1.collection could not be initialized since it has not been loaded.", err, 1, true)
    assert.matches("could not be unloaded since it was never loaded", err, 1, true)
  end)

  it("an unknown proxy is a caller mistake", function()
    local dir = game("function init(self) print(pcall(collectionproxy.missing_resources, '#nope')) sys.exit(0) end", LEVEL, PROXY_PROJECT)
    local code, out = run(dir)
    assert.are.equal(0, code)
    assert.matches("^false\t.*no collection proxy '#nope'", out)
  end)

  -- A bundle made by hand (the bundler comes with lutool): base without the
  -- level's files, a manifest that lists them, and the volume that has them.
  local function hand_bundle()
    local dir, vols = H.tmpdir(), H.tmpdir()
    H.write(dir .. "/game.project", PROXY_PROJECT)
    local manifest = [[{"resources":[{"path":"/main/main.lua","size":1},{"path":"/level1/level1.collection","size":1},
      {"path":"/level1/level1.lua","size":1},{"path":"/level1/tex.png","size":1}],
      "proxies":[{"id":"level1","collection":"/level1/level1.collection","excluded":true,"volume":"levels",
      "resources":["/level1/level1.collection","/level1/level1.lua","/level1/tex.png"]}]}]]
    H.zip(dir .. "/game.zip", {["main/main.lua"] = [[
function init(self)
  local missing = collectionproxy.missing_resources("#level1")
  print("missing", #missing, missing[1])
  if #missing > 0 then
    msg.post("#level1", "load")  -- fails: logged, no proxy_loaded
    liveupdate.add_mount("levels", "zip:]] .. vols .. [[/levels.zip", 10, function(self, name, uri, result)
      print("mounted", result, #collectionproxy.missing_resources("#level1"))
      msg.post("#level1", "load")
    end)
  else
    msg.post("#level1", "load")
  end
end
function on_message(self, id, message, sender)
  if id == hash("proxy_loaded") then print("loaded") sys.exit(0) end
end
]], ["liveupdate.manifest.json"] = manifest})
    local level = {}
    for k, v in pairs(LEVEL) do level[k] = v end
    H.zip(vols .. "/levels.zip", level)
    return dir
  end

  it("a proxy with missing resources fails to load until its volume is mounted", function()
    local dir = hand_bundle()
    local save = H.tmpdir()
    local code, out, err = H.run(dir, "--save-dir " .. H.quote(save) .. " --frames 5000")
    assert.are.equal(0, code, err)
    assert.are.equal("missing\t3\t/level1/level1.collection\nmounted\t0\t0\nloaded\n", out)
    assert.matches("ERROR:GAMESYS: The collection /level1/level1.collection could not be loaded: 3 of its resources are missing", err, 1, true)
    code, out = H.run(dir, "--save-dir " .. H.quote(save) .. " --frames 5000")
    assert.are.equal(0, code)
    assert.are.equal("missing\t0\tnil\nloaded\n", out, "the second run finds the persisted mount")
  end)
end)

describe("[liveupdate] enabled = 0", function()
  -- The main script prints what it reads, then mounts the patch when the
  -- base serves /data.txt; with live update off it tries every call that
  -- changes or downloads and prints their answers.
  local MAIN = [[
local function names()
  local t = {}
  for _, m in ipairs(liveupdate.get_mounts()) do t[#t + 1] = m.name end
  return table.concat(t, ",")
end
function init(self)
  self.frames = 0
  print("data", sys.load_resource("/data.txt"), liveupdate.which("/data.txt"), names())
  print("load_resource", liveupdate.load_resource("/data.txt"), liveupdate.exists("/data.txt"))
  if liveupdate.which("/data.txt") ~= "_base" then sys.exit(0) return end
  local status, message = liveupdate.add_mount("patch", "zip:%s", 10, function(self, name, uri, result)
    print("mounted", name, result)
    sys.exit(0)
  end)
  print("add_mount", status, message)
  if status == 0 then return end
  print("remove_mount", liveupdate.remove_mount("patch"))
  print("download_volume", liveupdate.download_volume("patch", {url = "file:///nowhere/patch.zip"},
                                                      function() print("callback ran") end))
  print("get_update_manager", liveupdate.get_update_manager())
  print("store_archive", liveupdate.store_archive("/nowhere.zip", function() print("callback ran") end))
  print("init", liveupdate.init({}))
  print("NOT_INITIALIZED", liveupdate.LIVEUPDATE_NOT_INITIALIZED)
  self.off = true
end
function update(self)
  self.frames = self.frames + 1
  if self.off and self.frames == 3 then sys.exit(0) end   -- a callback ran by now would have printed
end
]]
  local function ini(enabled)
    return PROJECT .. "[liveupdate]\nenabled = " .. enabled .. "\n[update]\nurl = file:///nowhere/release.json\n"
  end

  it("runs the base alone, keeps the persisted mounts file as it was, refuses changes; enabled = 1 finds them again",
     function()
    local vols, save = H.tmpdir(), H.tmpdir()
    H.zip(vols .. "/patch.zip", {["data.txt"] = "from the volume"})
    local dir = game(MAIN:format(vols .. "/patch.zip"), {["data.txt"] = "from the base"},
                     PROJECT .. "[liveupdate]\nenabled = 1\n")
    local code, out, err = H.run(dir, "--save-dir " .. H.quote(save) .. " --frames 5000")
    assert.are.equal(0, code, err)
    assert.matches("mounted\tpatch\t0\n", out, 1, true)
    local mounts = H.read(save .. "/liveupdate.mounts")
    assert.matches('"patch"', mounts, 1, true)

    H.write(dir .. "/game.project", ini("0"))
    code, out, err = H.run(dir, "--save-dir " .. H.quote(save))
    assert.are.equal(0, code, err)
    local msg = "live update is off: [liveupdate] enabled = 0 in game.project"
    assert.are.equal(table.concat({
      "data\tfrom the base\t_base\t_base",
      "load_resource\tfrom the base\ttrue",
      "add_mount\t-12\t" .. msg,
      "remove_mount\t-12\t" .. msg,
      "download_volume\tnil\t" .. msg .. "\t-12",
      "get_update_manager\tnil\t" .. msg .. "\t-12",
      "store_archive\tnil\t" .. msg .. "\t-12",
      "init\tnil\t" .. msg .. "\t-12",
      "NOT_INITIALIZED\t-12",
    }, "\n") .. "\n", out)
    assert.matches("lurun: live update is off ([liveupdate] enabled = 0): the base content only", err, 1, true)
    assert.is_nil(err:find("lurun: update", 1, true))   -- no update manager, though [update] url is set
    assert.is_false(H.sh("test -e " .. H.quote(save .. "/update")))
    assert.are.equal(mounts, H.read(save .. "/liveupdate.mounts"))   -- byte for byte

    H.write(dir .. "/game.project", ini("1"):gsub("%[update%]\nurl = [^\n]*\n", ""))
    code, out, err = H.run(dir, "--save-dir " .. H.quote(save))
    assert.are.equal(0, code, err)
    assert.are.equal("data\tfrom the volume\tpatch\tpatch,_base\nload_resource\tfrom the volume\ttrue\n", out)
  end)
end)
