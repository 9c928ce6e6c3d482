-- defold_compat_spec.lua -- what Defold's two API generations need from
-- lurun and the module: mount names as strings or hashes ([liveupdate]
-- defold_api), the same mount added again at every start (1.13), URIs as
-- mounted, game modules through `require`, one shared global environment,
-- collectionproxy.get_resources / set_collection. The published scripts
-- themselves run in defold_scripts_spec.lua.
local H = require("helpers")

local function project(api, extra)
  return "[project]\ntitle = Compat\n[bootstrap]\nmain_script = /main/main.lua\n[display]\nupdate_frequency = 1000\n" ..
         (api and ("[liveupdate]\ndefold_api = " .. api .. "\n") or "") .. (extra or "")
end

local function run(dir, save, args)
  return H.run(dir, "--save-dir " .. H.quote(save) .. " " .. (args or "--frames 20000"))
end

describe("Defold API generations", function()
  local vols
  setup(function()
    vols = H.tmpdir()
    H.zip(vols .. "/pack.zip", {["pack/a.txt"] = "from the pack", ["version_pack.json"] = '{"version": 1}'})
  end)

  local MAIN = [[
function init(self)
  local r = liveupdate.add_mount(hash("pack"), "zip:]] .. "VOLS" .. [[/pack.zip", 5, function(self, name, uri, result)
    print("callback", type(name), tostring(name), name == hash("pack"), name == "pack", result)
    for _, m in ipairs(liveupdate.get_mounts()) do
      if m.priority >= 0 then print("mount", tostring(m.name), m.name == hash("pack"), m.uri, m.priority) end
    end
    print("remove", liveupdate.remove_mount(hash("pack")))
    print("removed", #liveupdate.get_mounts())
    sys.exit(0)
  end)
  print("add", r)
end
]]

  it("1.12 (the default): names in as strings or hashes, out as strings", function()
    local dir = H.project(project(nil), {["main/main.lua"] = (MAIN:gsub("VOLS", vols))})
    local code, out, err = run(dir, H.tmpdir())
    assert.are.equal(0, code, err)
    assert.are.equal("add\t0\ncallback\tstring\tpack\tfalse\ttrue\t0\nmount\tpack\tfalse\tzip:" .. vols ..
                     "/pack.zip\t5\nremove\t0\tnil\nremoved\t1\n", out)
  end)

  it("1.13: names out as hashes, so `mount.name == hash(name)` holds", function()
    local dir = H.project(project("1.13"), {["main/main.lua"] = (MAIN:gsub("VOLS", vols))})
    local code, out, err = run(dir, H.tmpdir())
    assert.are.equal(0, code, err)
    assert.are.equal("add\t0\ncallback\tuserdata\thash: [pack]\ttrue\tfalse\t0\nmount\thash: [pack]\ttrue\tzip:" ..
                     vols .. "/pack.zip\t5\nremove\t0\tnil\nremoved\t1\n", out)
  end)

  it("a defold_api other than 1.12 or 1.13 stops lurun with the key named", function()
    local dir = H.project(project("1.14"), {["main/main.lua"] = "function init() sys.exit(0) end"})
    local code, _, err = run(dir, H.tmpdir())
    assert.are.equal(1, code)   -- a game.project mistake: a failed start-up, as every schema error
    assert.matches("liveupdate.defold_api: '1.14' is not one of 1.12, 1.13", err, 1, true)
  end)

  it("a 1.13 script adds its mount at every start: OK each time, the URI as mounted; another priority is NAME_EXISTS", function()
    local save = H.tmpdir()
    H.write(save .. "/mygame/pack.zip", H.read(vols .. "/pack.zip"))
    local main = [[
function init(self)
  local path = sys.get_save_file("mygame", "pack.zip")
  local prio = tonumber(sys.get_config_string("game.prio", "10"))
  liveupdate.add_mount("pack", "zip:" .. path, prio, function(self, name, uri, result, message)
    print("result", result, message)
    for _, m in ipairs(liveupdate.get_mounts()) do
      if m.name == hash("pack") then print("uri", m.uri == "zip:" .. path, m.priority) end
    end
    print("served", liveupdate.which("/pack/a.txt"), sys.load_resource("/pack/a.txt"))
    sys.exit(0)
  end)
end
]]
    local dir = H.project(project("1.13", "[game]\nprio = 10\n"), {["main/main.lua"] = main})
    local code, out, err = run(dir, save)
    assert.are.equal(0, code, err)
    assert.are.equal("result\t0\tnil\nuri\ttrue\t10\nserved\tpack\tfrom the pack\n", out)
    -- persisted relative to the save directory
    assert.matches('"uri":"zip:mygame/pack.zip"', H.read(save .. "/liveupdate.mounts"), 1, true)
    -- the second start: the mount came back from the mounts file and is added again
    code, out, err = run(dir, save)
    assert.are.equal(0, code, err)
    assert.are.equal("result\t0\tnil\nuri\ttrue\t10\nserved\tpack\tfrom the pack\n", out)
    -- another priority: NAME_EXISTS, and the mount stays as it was
    code, out, err = run(dir, save, "--frames 20000 --set game.prio=11")
    assert.are.equal(0, code, err)
    assert.matches("^result\t%-13\ta mount named 'pack' exists %(zip:mygame/pack.zip, priority 10%)", out)
    assert.matches("uri\ttrue\t10\nserved\tpack\tfrom the pack\n", out, 1, true)
  end)

  it("the same mount again is refused below the game's minimum version, like any add", function()
    local save = H.tmpdir()
    H.write(save .. "/liveupdate.mounts",
            '{"version":1,"mounts":[{"name":"pack","uri":"zip:' .. vols .. '/pack.zip","priority":5}]}')
    local main = [[
function init(self)
  liveupdate.add_mount("pack", "zip:]] .. vols .. [[/pack.zip", 5, function(self, name, uri, result, message)
    print(result == liveupdate.LIVEUPDATE_VERSION_MISMATCH, message)
    sys.exit(0)
  end)
end
]]
    local dir = H.project(project("1.12", "[game]\nminimum_lu_version = 2\n"), {["main/main.lua"] = main})
    local code, out, err = run(dir, save)
    assert.are.equal(0, code, err)
    assert.matches("^true\tmount 'pack' not added: volume 'pack' is version 1, below the game's minimum 2", out)
  end)

  it("stock Lua: init{defold_api = \"1.13\"} gives names as hashes; a wrong value is a caller mistake", function()
    local lu = require("liveupdate")
    local save = H.tmpdir()
    assert.has_error(function() lu.init{save_dir = save, defold_api = "2"} end,
                     "bad argument #1 to 'init' (option 'defold_api' must be \"1.12\" or \"1.13\")")
    assert.is_true(lu.init{save_dir = save, defold_api = "1.13"})
    local got
    lu.add_mount("pack", "zip:" .. vols .. "/pack.zip", 1, function(_, name, _, result) got = {tostring(name), result} end)
    for _ = 1, 2000 do
      if lu.poll() > 0 then break end
      os.execute("sleep 0.01")
    end
    assert.are.same({"hash: [pack]", 0}, got)
    local m = lu.get_mounts()[1]
    assert.are.equal("hash: [pack]", tostring(m.name))
    -- a hash from get_mounts is accepted back, as Defold 1.13 scripts pass it
    assert.are.same({"/pack/a.txt", "/version_pack.json"}, lu.list("/", m.name))
    assert.are.equal(0, lu.remove_mount(m.name))
    lu.shutdown()
  end)
end)

describe("the module outside lurun, as Defold 1.13 scripts use it", function()
  it("a relative save_dir: get_mounts gives absolute URIs, and any spelling of one path is the same mount", function()
    local lu = require("liveupdate")
    local save = H.tmpdir()
    local src = H.tmpdir() .. "/p.zip"
    H.zip(src, {["p.txt"] = "p", ["version_p.json"] = '{"version": 1}'})
    H.write(save .. "/volumes/p.zip", H.read(src))
    local p = io.popen("realpath --relative-to=. " .. H.quote(save))
    local rel = p:read("l")
    p:close()
    assert.is_nil(rel:match("^/"))
    assert.is_true(lu.init{save_dir = rel})
    local results = {}
    local function cb(_, name, _, result, message) results[#results + 1] = tostring(result) .. " " .. tostring(message) end
    local function wait(n)
      for _ = 1, 3000 do
        lu.poll()
        if #results >= n then return end
        os.execute("sleep 0.01")
      end
    end
    lu.add_mount("p", "zip:volumes/p.zip", 5, cb)
    wait(1)
    local m = lu.get_mounts()[1]
    assert.are.equal("zip:" .. save .. "/volumes/p.zip", m.uri)
    -- the URI get_mounts gave, and other spellings of the same file
    lu.add_mount(m.name, m.uri, 5, cb)
    lu.add_mount("p", "zip:./volumes//p.zip", 5, cb)
    wait(3)
    assert.are.same({"0 nil", "0 nil", "0 nil"}, results)
    -- download_volume takes a hash as the entry's name; with 1.13 the progress callback gets one too
    lu.shutdown()
    assert.is_true(lu.init{save_dir = rel, defold_api = "1.13"})
    H.zip(src, {["q.txt"] = "q"})
    H.write(save .. "/www/q.zip", H.read(src))
    local got = {}
    local hp = lu.get_mounts()[1].name   -- hash: [p], the only way to a hash without lurun
    assert.are.equal("userdata", type(hp))
    assert.is_truthy(lu.download_volume({name = hp, url = "file://" .. save .. "/www/q.zip"},
      {progress = function(_, name) got.progress = tostring(name) end},
      function(_, name, result) got.done = tostring(name) .. " " .. result end))
    for _ = 1, 3000 do
      lu.poll()
      if got.done then break end
      os.execute("sleep 0.01")
    end
    assert.are.same({progress = "hash: [p]", done = "hash: [p] 0"}, got)
    assert.are.equal("q", lu.load_resource("/q.txt"))
    lu.shutdown()
  end)
end)

describe("Defold's script world", function()
  it("require loads game modules through the mounts, and a volume at a higher priority updates one", function()
    local vols = H.tmpdir()
    H.zip(vols .. "/mods.zip", {["lib/util.lua"] = "local M = {} function M.who() return 'util from the volume, sees ' .. tostring(SHARED) end return M\n"})
    local main = [[
SHARED = "a global of main.lua"
local util = require "lib.util"
function init(self)
  print(util.who(), package.loaded["lib.util"] == util)
  print(pcall(require, "lib.nosuch"))
  if not liveupdate.which("/lib/util.lua"):find("mods") then
    liveupdate.add_mount("mods", "zip:]] .. vols .. [[/mods.zip", 10, function() sys.exit(0) end)
  else
    sys.exit(0)
  end
end
]]
    local dir = H.project(project(nil), {["main/main.lua"] = main,
      ["lib/util.lua"] = "local M = {} function M.who() return 'util from the base, sees ' .. tostring(SHARED) end return M\n"})
    local save = H.tmpdir()
    local code, out, err = run(dir, save)
    assert.are.equal(0, code, err)
    local first, second = out:match("^([^\n]*)\n([^\n]*)\n")
    assert.are.equal("util from the base, sees a global of main.lua\ttrue", first)
    assert.matches("^false\tmodule 'lib.nosuch' not found:", second)
    assert.matches("no resource '/lib/nosuch.lua' in the mounts", out, 1, true)
    code, out, err = run(dir, save)
    assert.are.equal(0, code, err)
    assert.matches("^util from the volume, sees a global of main.lua\ttrue\n", out)
  end)

  it("require never reads the file system, as Defold (a module next to the game is not the game's)", function()
    local fsdir = H.tmpdir()
    H.write(fsdir .. "/fsmod.lua", "return 'from the file system'")
    local main = [[
function init(self)
  package.path = "]] .. fsdir .. [[/?.lua"
  print(pcall(require, "fsmod"))
  print(require("string") == string)
  sys.exit(0)
end
]]
    local dir = H.project(project(nil), {["main/main.lua"] = main})
    local code, out, err = run(dir, H.tmpdir())
    assert.are.equal(0, code, err)
    assert.matches("^false\tmodule 'fsmod' not found:\n\tno field package.preload%['fsmod'%]\n\tno resource '/fsmod.lua' in the mounts\ntrue\n$", out)
  end)

  it("a download in flight when the scripts restart (sys.reboot) is still verified and mounted", function()
    local www = H.tmpdir()
    H.zip(www .. "/big.zip", {["big/data.bin"] = string.rep("0123456789abcdef", 40000), ["version_big.json"] = '{"version": 1}'})
    local base, stop = H.nginx(www, false, {limit_rate = "100k"})
    local main = [[
function init(self)
  local marker = sys.get_save_file("t", "booted")
  if not sys.exists(marker) then
    sys.save(marker, {})
    print("boot 1", liveupdate.download_volume({name = "big", url = "]] .. base .. [[/big.zip", priority = 5}, nil,
      function() print("the first boot's callback ran") end) ~= nil)
    sys.reboot()
  else
    print("boot 2")
  end
end
function update(self)
  if liveupdate.which("/big/data.bin") == "big" then print("mounted", #sys.load_resource("/big/data.bin")) sys.exit(0) end
end
]]
    local dir = H.project(project(nil), {["main/main.lua"] = main})
    local code, out, err = run(dir, H.tmpdir(), "--frames 200000")
    stop()
    assert.are.equal(0, code, err)
    assert.are.equal("boot 1\ttrue\nboot 2\nmounted\t640000\n", out)
    assert.matches("sys.reboot: restarting the scripts", err, 1, true)
  end)

  it("scripts share one global environment; each keeps its own lifecycle functions and self", function()
    local ini = project(nil, "[proxy.level1]\ncollection = /level1/level1.collection\nresources = /level1/**\n")
    local dir = H.project(ini, {
      ["main/main.lua"] = [[
counter = 0
function helper() return "main's helper" end
function init(self) self.name = "main"; counter = counter + 1; msg.post("#level1", "load") end
function on_message(self, id, message, sender)
  if id == hash("proxy_loaded") then msg.post(sender, "enable") end
  if id == hash("done") then print("main", self.name, counter, init == nil, message.seen) sys.exit(0) end
end
]],
      ["level1/level1.collection"] = 'name: "level1"\nscript: "/level1/level1.lua"\n',
      ["level1/level1.lua"] = [[
function init(self)
  self.name = "level"
  counter = counter + 1
  msg.post("main:/main#script", "done", {seen = helper() .. " " .. counter})
end
]]})
    local code, out, err = run(dir, H.tmpdir())
    assert.are.equal(0, code, err)
    assert.are.equal("main\tmain\t2\ttrue\tmain's helper 2\n", out)
  end)
end)

describe("collectionproxy in Defold 1.13", function()
  local PROXIES = [[
[proxy.level1]
collection = /level1/level1.collection
resources = /level1/**
exclude = 1
volume = levels
[proxy.level2]
collection = /level2/level2.collection
resources = /level2/**
exclude = 1
volume = levels
[proxy.menu]
collection = /menu/menu.collection
]]
  local function bundle(main)
    local dir = H.project(project("1.13", PROXIES .. "[volume.levels]\nversion = 1\npriority = 10\n"), {
      ["main/main.lua"] = main,
      ["level1/level1.collection"] = 'name: "level1"\nscript: "/level1/level1.lua"\n',
      ["level1/level1.lua"] = "function init(self) print('level1 runs') end\n",
      ["level2/level2.collection"] = 'name: "level2"\nscript: "/level2/level2.lua"\n',
      ["level2/level2.lua"] = "function init(self) print('level2 runs') end\n",
      ["menu/menu.collection"] = 'name: "menu"\n'})
    local out = H.tmpdir()
    local code, _, err = H.lutool("bundle " .. H.quote(dir) .. " -o " .. H.quote(out))
    assert.are.equal(0, code, err)
    return out
  end

  local function levels_zip(out)
    local zips = io.popen("ls " .. H.quote(out .. "/liveupdate")):read("a")
    local file = zips:match("([^\n]*levels[^\n]*%.zip)")
    assert.is_truthy(file, zips)
    return out .. "/liveupdate/" .. file
  end

  it("get_resources is {} until the level's volume is mounted, then lists its resources", function()
    local out = bundle([[
function init(self)
  print("before", #collectionproxy.get_resources("#level1"), #collectionproxy.get_resources(msg.url("#menu")))
  liveupdate.add_mount("levels", "zip:" .. sys.get_config_string("game.levels"), 10, function(self, name, uri, result)
    local res = collectionproxy.get_resources("#level1")
    table.sort(res)
    print("after", result, table.concat(res, " "))
    sys.exit(0)
  end)
end
]])
    local code, stdout, err = H.run(out, "--save-dir " .. H.quote(H.tmpdir()) .. " --frames 20000 --set game.levels=" ..
                                    H.quote(levels_zip(out)))
    assert.are.equal(0, code, err)
    assert.are.equal("before\t0\t1\nafter\t0\t/level1/level1.collection /level1/level1.lua\n", stdout)
  end)

  it("set_collection: an excluded, unloaded proxy loads another collection; others answer why not", function()
    local out = bundle([[
function init(self)
  print("menu", collectionproxy.set_collection("#menu", "/level2/level2.collection"))
  print("menu is RESULT_NOT_EXCLUDED", select(2, collectionproxy.set_collection("#menu", "/level2/level2.collection")) == collectionproxy.RESULT_NOT_EXCLUDED)
  print("relative", pcall(collectionproxy.set_collection, "#level1", "level2.collection"))
  print("level1", collectionproxy.set_collection("#level1", "/level2/level2.collection"))
  liveupdate.add_mount("levels", "zip:" .. sys.get_config_string("game.levels"), 10, function(self)
    msg.post("#level1", "load")
  end)
end
function on_message(self, id, message, sender)
  if id == hash("proxy_loaded") then
    print("loaded; again:", select(2, collectionproxy.set_collection("#level1", nil)) == collectionproxy.RESULT_ALREADY_LOADED)
    msg.post(sender, "enable")
    msg.post("#", "quit")
  elseif id == hash("quit") then
    sys.exit(0)
  end
end
]])
    local code, stdout, err = H.run(out, "--save-dir " .. H.quote(H.tmpdir()) .. " --frames 20000 --set game.levels=" ..
                                    H.quote(levels_zip(out)))
    assert.are.equal(0, code, err)
    assert.are.equal("menu\tfalse\t3\nmenu is RESULT_NOT_EXCLUDED\ttrue\n" ..
                     "relative\tfalse\tbad argument #2 to 'collectionproxy.set_collection' (collection resource path (\"/level/x.collection\") expected)\n" ..
                     "level1\ttrue\t0\nloaded; again:\ttrue\nlevel2 runs\n", stdout)
  end)
end)
