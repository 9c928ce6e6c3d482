-- host_modules_spec.lua -- lurun's Defold host functions beyond the basics
-- (issue 13 item 7): sys (exists, get_config*, save/load, get_sys_info,
-- get_engine_info, get_application_path, get_save_file("", ""), reboot),
-- timer, msg.url objects and http.request's report_progress. Each case
-- writes a small game, runs build/bin/lurun on it and checks its output.
local H = require("helpers")

-- update_frequency 0: dt is 1/60 and frames do not sleep
local PROJECT = [[
[project]
title = Host Game
[bootstrap]
main_script = /main/main.lua
[display]
update_frequency = 0
[game]
minimum_lu_version = 0
label = hello
on = 1
off = false
yes = true
zero = 0
weird = yes
]]

local function game(main, extra, ini)
  local content = {["main/main.lua"] = main}
  for k, v in pairs(extra or {}) do content[k] = v end
  return H.project(ini or PROJECT, content)
end

local function run(dir, args, save)
  save = save or H.tmpdir()
  local code, out, err = H.run(dir, "--save-dir " .. H.quote(save) .. " " .. (args or ""))
  return code, out, err, save
end

local function realpath(p)
  local f = io.popen("cd " .. H.quote(p) .. " && pwd -P")
  local r = f:read("*l")
  f:close()
  return r
end

describe("sys", function()
  it("exists checks a file system path", function()
    local dir = game([[
function init(self)
  local f = sys.get_save_file("g", "x.txt")
  print(sys.exists(f))
  local h = io.open(f, "w") h:write("1") h:close()
  print(sys.exists(f), sys.exists(sys.get_application_path()), sys.exists("/main/main.lua"), pcall(sys.exists))
  sys.exit(0)
end
]])
    local code, out, err = run(dir)
    assert.are.equal(0, code, err)
    assert.matches("^false\ntrue\ttrue\tfalse\tfalse\t.*string expected", out)
  end)

  it("get_config is get_config_string's old name; get_config_boolean reads 1/true/0/false", function()
    local dir = game([[
function init(self)
  print(sys.get_config("game.label"), sys.get_config("game.none"), sys.get_config("game.none", "dflt"))
  print(sys.get_config_boolean("game.on"), sys.get_config_boolean("game.off"), sys.get_config_boolean("game.yes"),
        sys.get_config_boolean("game.zero"))
  print(sys.get_config_boolean("game.none"), sys.get_config_boolean("game.none", true), sys.get_config_boolean("game.none", false))
  print(pcall(sys.get_config_boolean, "game.none", "true"))
  print(pcall(sys.get_config_boolean, "game.weird"))
  sys.exit(0)
end
]])
    local code, out, err = run(dir)
    assert.are.equal(0, code, err)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal("hello\tnil\tdflt", lines[1])
    assert.are.equal("true\tfalse\ttrue\tfalse", lines[2])
    assert.are.equal("false\ttrue\tfalse", lines[3])
    assert.matches("^false\t.*boolean expected", lines[4])
    assert.matches("^false\t.*game%.project:14: game%.weird: 'yes' is not a boolean", lines[5])
  end)

  it("get_config_boolean names file, line and key for a --set value that is not a boolean", function()
    local dir = game("function init(self) sys.get_config_boolean('game.on') print(sys.get_config_boolean('game.flag')) end")
    local code, _, err = run(dir, "--set game.flag=maybe")
    assert.are_not.equal(0, code)
    assert.matches("game.flag (set on the command line): 'maybe' is not a boolean", err, 1, true)
  end)

  it("save and load round-trip nested tables of strings, numbers, booleans and hashes", function()
    local dir = game([[
local function same(a, b)
  if type(a) ~= type(b) or math.type(a) ~= math.type(b) then return false end
  if type(a) ~= "table" then return a == b end
  for k, v in pairs(a) do if not same(v, b[k]) then return false end end
  for k in pairs(b) do if a[k] == nil then return false end end
  return true
end
function init(self)
  local t = {
    name = "bin\0ary\nline", n = -42, big = math.maxinteger, small = math.mininteger, f = 0.1, third = 1 / 3,
    inf = math.huge, yes = true, no = false, h = hash("level-pack"), [hash("key")] = "by hash", [7] = "seven",
    [2.5] = "float key", [true] = "bool key", empty = {}, list = {1, 2, {3, {4, {deep = "x"}}}},
  }
  local f = sys.get_save_file("g", "state")
  print(sys.save(f, t))
  local u = sys.load(f)
  print(same(t, u), u.h == hash("level-pack"), u[hash("key")], math.type(u.n), math.type(u.f), u.list[3][2][2].deep)
  print(sys.save(f, {replaced = 1}), sys.load(f).replaced, sys.load(f).name)
  print(next(sys.load(sys.get_save_file("g", "never-saved"))))
  sys.exit(0)
end
]])
    local code, out, err, save = run(dir)
    assert.are.equal(0, code, err)
    assert.are.equal("true\ntrue\ttrue\tby hash\tinteger\tfloat\tx\ntrue\t1\tnil\nnil\n", out)
    -- written whole and atomically: the file, no temporary beside it
    local ls = io.popen("ls -A " .. H.quote(save .. "/g"))
    local files = ls:read("*a")
    ls:close()
    assert.are.equal("state\n", files)
    assert.matches("^LURUN%-SAVE 1\n", H.read(save .. "/g/state"))
  end)

  it("save raises on what it cannot save and leaves the old file; load raises on a corrupt file naming it", function()
    local dir = game([[
function init(self)
  local f = sys.get_save_file("g", "s")
  sys.save(f, {keep = "me"})
  print(pcall(sys.save, f, {a = {b = print}}))
  print(pcall(sys.save, f, {[{}] = 1}))
  local cyc = {} cyc.self = cyc
  print(pcall(sys.save, f, cyc))
  print(pcall(sys.save, f, "not a table"))
  print(pcall(sys.save, "/nonexistent/dir/file", {}))
  print(sys.load(f).keep)
  local h = io.open(f, "rb") local data = h:read("a") h:close()
  h = io.open(f, "wb") h:write(data:sub(1, #data - 2)) h:close()
  print(pcall(sys.load, f))
  h = io.open(f, "wb") h:write("garbage") h:close()
  print(pcall(sys.load, f))
  sys.exit(0)
end
]])
    local code, out, err = run(dir)
    assert.are.equal(0, code, err)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.matches("^false\t.*cannot save a function value at key 'b'", lines[1])
    assert.matches("^false\t.*cannot save a table key", lines[2])
    assert.matches("^false\t.*nested deeper than 64", lines[3])
    assert.matches("^false\t.*table expected", lines[4])
    assert.matches("^false\t.*Could not write to the file /nonexistent/dir/file", lines[5])
    assert.are.equal("me", lines[6])
    assert.matches("^false\t.*sys%.load: '.*/g/s' is not a file sys%.save wrote", lines[7])
    assert.matches("^false\t.*sys%.load: '.*/g/s' is not a file sys%.save wrote %(no LURUN%-SAVE header", lines[8])
  end)

  it("load refuses a hash name with a NUL byte (it would load as another hash)", function()
    local dir = game([[
function init(self)
  local f = sys.get_save_file("g", "h")
  local h = io.open(f, "wb") h:write("LURUN-SAVE 1\nT1\nS1:hH3:a\0b") h:close()
  print(pcall(sys.load, f))
  h = io.open(f, "wb") h:write("LURUN-SAVE 1\nT1\nS1:hH3:a-b") h:close()
  print(sys.load(f).h == hash("a-b"))
  sys.exit(0)
end
]])
    local code, out, err = run(dir)
    assert.are.equal(0, code, err)
    assert.matches("^false\t.*is not a file sys%.save wrote %(a NUL byte in a hash name at byte 23%)\ntrue\n$", out)
  end)

  it("what save writes, load reads, up to the deepest nesting save takes", function()
    local dir = game([[
local function nest(n) local t = {leaf = n} for _ = 1, n do t = {x = t} end return t end
local function depth(t) local n = 0 while t.x do t = t.x n = n + 1 end return n, t.leaf end
function init(self)
  local f = sys.get_save_file("g", "deep")
  for _, n in ipairs({63, 64, 65}) do
    local ok, e = pcall(sys.save, f, nest(n))
    if ok then print(n, "saved", depth(sys.load(f))) else print(n, "refused", sys.load(f).x ~= nil) end
  end
  sys.exit(0)
end
]])
    local code, out, err = run(dir)
    assert.are.equal(0, code, err)
    -- 64 tables inside the top one is the limit; a refused save keeps the old file
    assert.are.equal("63\tsaved\t63\t63\n64\tsaved\t64\t64\n65\trefused\ttrue\n", out)
  end)

  it("get_save_file('', '') is the save folder; app ids stay plain folder names", function()
    local dir = game([[
function init(self)
  print(sys.get_save_file("", ""))
  print(sys.get_save_file("", "f"))
  print(sys.get_save_file("app", ""))
  print(pcall(sys.get_save_file, "..", "f"))
  print(pcall(sys.get_save_file, "a/b", "f"))
  print(pcall(sys.get_save_file, "app", "../f"))
  sys.exit(0)
end
]])
    local code, out, err, save = run(dir)
    assert.are.equal(0, code, err)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    local root = lines[1]:sub(1, -2)
    assert.are.equal(realpath(save), realpath(root))
    assert.are.equal(root .. "/", lines[1])
    assert.are.equal(root .. "/f", lines[2])
    assert.are.equal(root .. "/app/", lines[3])
    for i = 4, 6 do assert.matches("^false\t", lines[i]) end
  end)

  it("get_sys_info, get_engine_info and get_application_path answer as a Linux desktop build", function()
    local dir = game([[
function init(self)
  local i = sys.get_sys_info()
  print(i.system_name, type(i.system_version), i.system_version ~= "", type(i.api_version), #i.language,
        type(i.device_language), type(i.territory), math.type(i.gmt_offset), i.device_model, i.manufacturer,
        i.device_ident, i.user_agent)
  print(sys.get_sys_info({ignore_secure = true}).system_name, pcall(sys.get_sys_info, "x"))
  local e = sys.get_engine_info()
  print(e.version, type(e.version_sha1), type(e.is_debug))
  print(sys.get_application_path())
  sys.exit(0)
end
]])
    local code, out, err = run(dir)
    assert.are.equal(0, code, err)
    local lines = {}
    for l in out:gmatch("[^\n]*\n") do lines[#lines + 1] = l:sub(1, -2) end
    assert.are.equal("Linux\tstring\ttrue\tstring\t2\tstring\tstring\tinteger\t\t\t\t", lines[1])
    assert.matches("^Linux\tfalse\t.*table expected", lines[2])
    assert.matches("^%d+%.%d+%.%d+\tstring\tboolean$", lines[3])
    assert.are.equal(realpath(dir), lines[4])
  end)

  it("reboot restarts the script world (final, then init again)", function()
    local dir = game([[
function init(self)
  local f = sys.get_save_file("g", "boots")
  local t = sys.load(f)
  t.n = (t.n or 0) + 1
  sys.save(f, t)
  print("init", t.n)
  if t.n < 3 then sys.reboot("--config=bootstrap.main_collection=/x.collectionc") else sys.exit(0) end
end
function final(self) print("final") end
]])
    local code, out, err = run(dir, "--frames 50")
    assert.are.equal(0, code, err)
    assert.are.equal("init\t1\nfinal\ninit\t2\nfinal\ninit\t3\nfinal\n", out)
    dir = game("function init(self) print(pcall(sys.reboot, {})) sys.exit(0) end")
    code, out = run(dir)
    assert.are.equal(0, code)
    assert.matches("^false\t.*string expected", out)
  end)
end)

describe("timer", function()
  it("delay fires with frame dt before update, as the creating script, keeping a repeating timer's phase", function()
    local dir = game([[
function init(self)
  self.name = "main"
  self.n = 0
  timer.delay(0, false, function(self, handle, elapsed)
    print("zero", self.name, math.type(handle), string.format("%.3f", elapsed))
    msg.post("#", "from_timer")
  end)
  self.h = timer.delay(2.4 / 60, true, function(self, handle, elapsed)
    self.n = self.n + 1
    print("tick", self.frame, handle == self.h, string.format("%.3f", elapsed))
    if self.n == 4 then print("cancel", timer.cancel(handle), timer.cancel(handle), timer.get_info(handle)) end
  end)
  local info = timer.get_info(self.h)
  print("info", string.format("%.3f", info.delay), string.format("%.3f", info.time_remaining), info.repeating)
end
function on_message(self, id, message, sender) print("message", id, sender) end
function update(self) self.frame = (self.frame or 0) + 1 if self.frame == 14 then sys.exit(0) end end
]])
    local code, out, err = run(dir)
    assert.are.equal(0, code, err)
    assert.are.equal(table.concat({
      "info\t0.040\t0.040\ttrue",
      "zero\tmain\tinteger\t0.017",
      "message\thash: [from_timer]\turl: [main:/main#script]",
      "tick\t2\ttrue\t0.050",
      "tick\t4\ttrue\t0.033",
      "tick\t7\ttrue\t0.050",
      "tick\t9\ttrue\t0.033",
      "cancel\ttrue\tfalse\tnil",
    }, "\n") .. "\n", out)
  end)

  it("trigger runs the callback now and keeps the timer; handles of ended timers answer false or nil", function()
    local dir = game([[
function init(self)
  local h = timer.delay(10, false, function(self, handle, elapsed) print("cb", string.format("%.1f", elapsed)) end)
  print(timer.trigger(h), timer.get_info(h) ~= nil)
  print(timer.cancel(h), timer.trigger(h), timer.get_info(h), timer.cancel(h))
  local once = timer.delay(0, false, function() print("once") end)
  self.once = once
  print(timer.INVALID_TIMER_HANDLE, timer.cancel(timer.INVALID_TIMER_HANDLE))
  print(pcall(timer.delay, -1, false, print))
  print(pcall(timer.delay, 1, nil, print))
  print(pcall(timer.delay, 1, true, "f"))
end
function update(self)
  print("after", timer.get_info(self.once), timer.cancel(self.once))
  sys.exit(0)
end
]])
    local code, out, err = run(dir)
    assert.are.equal(0, code, err)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal("cb\t0.0", lines[1])
    assert.are.equal("true\ttrue", lines[2])
    assert.are.equal("true\tfalse\tnil\tfalse", lines[3])
    assert.are.equal("4294967295\tfalse", lines[4])
    assert.matches("^false\t.*negative delay", lines[5])
    assert.matches("^false\t.*boolean expected", lines[6])
    assert.matches("^false\t.*function expected", lines[7])
    assert.are.equal("once", lines[8])
    assert.are.equal("after\tnil\tfalse", lines[9])
  end)

  it("a timer callback error is reported with file and line", function()
    local dir = game("function init(self)\n  timer.delay(0, false, function()\n    error('boom')\n  end)\nend\n")
    local code, _, err = run(dir, "--frames 5")
    assert.are_not.equal(0, code)
    assert.matches("/main/main.lua:3: boom", err, 1, true)
    assert.matches("timer callback", err, 1, true)
  end)

  it("timers of a proxy's script wait until it is enabled and die when it is unloaded", function()
    local ini = PROJECT .. [[
[proxy.level1]
collection = /level1/level1.collection
resources = /level1/**
]]
    local dir = game([[
function init(self) msg.post("#level1", "load") self.f = 0 end
function on_message(self, id, message, sender)
  if id == hash("proxy_loaded") then
    msg.post(sender, "init")
    self.loaded = true
  elseif id == hash("proxy_unloaded") then
    print("unloaded") self.gone = 0
  end
end
function update(self)
  if self.loaded then self.f = self.f + 1 end
  if self.f == 3 then print("enable") msg.post("#level1", "enable") end
  if self.f == 6 then msg.post("#level1", "unload") end
  if self.gone then self.gone = self.gone + 1 if self.gone == 5 then sys.exit(0) end end
end
]], {
      ["level1/level1.collection"] = 'script: "/level1/level1.lua"\n',
      ["level1/level1.lua"] = [[
function init(self) print("level init") timer.delay(0, true, function() print("tick") end) end
]],
    }, ini)
    local code, out, err = run(dir, "--frames 100")
    assert.are.equal(0, code, err)
    assert.are.equal("level init\nenable\ntick\ntick\ntick\nunloaded\n", out)
  end)
end)

describe("msg.url", function()
  it("returns URL objects with socket, path and fragment hashes, tostring, == and concatenation", function()
    local dir = game([[
function init(self)
  local u = msg.url()
  print(type(u), u, u.socket == hash("main"), u.path == hash("/main"), u.fragment == hash("script"))
  print(u == msg.url("#"), u == msg.url(), rawequal(u, msg.url()), u == msg.url("#other"), u == "main:/main#script")
  print(msg.url("#other"), msg.url("."), msg.url(".").fragment, msg.url("go"), msg.url("other:/go#c"), msg.url("other:"))
  print(msg.url(nil, nil, "f"), msg.url("s", "/p", "f"), msg.url("s", hash("/p"), nil), msg.url(nil, "go", nil), msg.url(hash("s"), "p", hash("f")))
  print(pcall(msg.url, "s", nil, "f"))
  print(pcall(msg.url, 1, 2))
  print(pcall(function() return u.foo end))
  local v = msg.url()
  v.fragment = "x" v.path = hash("/obj") v.socket = "w"
  print(v, v == u, msg.url(v), msg.url(v) == v)
  v.fragment = nil
  print(v, v.fragment)
  print("to " .. u, u .. " end")
  sys.exit(0)
end
]])
    local code, out, err = run(dir)
    assert.are.equal(0, code, err)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal("userdata\turl: [main:/main#script]\ttrue\ttrue\ttrue", lines[1])
    assert.are.equal("true\ttrue\tfalse\tfalse\tfalse", lines[2])
    assert.are.equal("url: [main:/main#other]\turl: [main:/main]\tnil\turl: [main:/go]\turl: [other:/go#c]\turl: [other:]", lines[3])
    assert.are.equal("url: [main:/main#f]\turl: [s:/p#f]\turl: [s:/p]\turl: [main:/go]\turl: [s:/p#f]", lines[4])
    assert.matches("^false\t.*Can't resolve id with specified socket and fragment", lines[5])
    assert.matches("^false\t.*Only msg.url%(%)", lines[6])
    assert.matches("^false\t.*msg%.url only has fields socket, path, fragment%.", lines[7])
    assert.are.equal("url: [w:/obj#x]\tfalse\turl: [w:/obj#x]\ttrue", lines[8])
    assert.are.equal("url: [w:/obj]\tnil", lines[9])
    assert.are.equal("to [main:/main#script]\t[main:/main#script] end", lines[10])
  end)

  it("msg.post takes URL objects; sender is a URL object a reply can be posted to", function()
    local dir = game([[
function init(self)
  msg.post(msg.url(), "ping", {n = 1})
  msg.post(msg.url(nil, nil, "script"), "ping", {n = 2})
  msg.post(hash("#"), "ping", {n = 3})
  print(pcall(msg.post, msg.url("#nobody"), "ping"))
  print(pcall(msg.post, {}, "ping"))
end
function on_message(self, id, message, sender)
  if id == hash("ping") then
    print("ping", message.n, type(sender), sender, sender == msg.url())
    if message.n == 3 then msg.post(sender, "pong") end
  else
    print(id) sys.exit(0)
  end
end
]])
    local code, out, err = run(dir, "--frames 20")
    assert.are.equal(0, code, err)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.matches("^false\t.*Could not send message 'ping' from 'main:/main#script' to 'main:/main#nobody'", lines[1])
    assert.matches("^false\t.*URL, URL string or hash expected", lines[2])
    assert.are.equal("ping\t1\tuserdata\turl: [main:/main#script]\ttrue", lines[3])
    assert.are.equal("ping\t2\tuserdata\turl: [main:/main#script]\ttrue", lines[4])
    assert.are.equal("ping\t3\tuserdata\turl: [main:/main#script]\ttrue", lines[5])
    assert.are.equal("hash: [pong]", lines[6])
  end)
end)

describe("http.request report_progress", function()
  local SIZE = 3 * 1024 * 1024 + 17
  -- frames of 1 ms here, so --frames bounds the wait in time
  local HTTP_PROJECT = PROJECT:gsub("update_frequency = 0", "update_frequency = 1000")

  local function served()
    local www = H.tmpdir()
    H.write(www .. "/big.bin", string.rep("0123456789abcdef", SIZE // 16) .. string.rep("x", SIZE % 16))
    H.write(www .. "/small.txt", "tiny")
    return www
  end

  it("calls back with bytes_received/bytes_total while the body arrives, then the response", function()
    local www = served()
    local base, stop = H.nginx(www, false, {limit_rate = "8m"})
    local dir = game(([[
local base = %q
function init(self)
  self.seen = {}
  local last = -1
  http.request(base .. "/big.bin", "GET", function(self, id, r)
    if r.bytes_total then
      assert(r.status == nil and r.url == base .. "/big.bin" and r.bytes_received >= last, "bad progress")
      last = r.bytes_received
      self.seen[#self.seen + 1] = r.bytes_received .. "/" .. r.bytes_total
    else
      print("final", r.status, #r.response, r.bytes_received, #self.seen > 1, self.seen[#self.seen])
      http.request(base .. "/small.txt", "GET", function(self, id, r)
        print("small", r.status, r.bytes_received, r.bytes_total, r.response)
        if r.status then
          http.request(base .. "/small.txt", "GET", function(self, id, r) print("plain", r.status, r.bytes_total) sys.exit(0) end)
        end
      end, nil, nil, {report_progress = true})
    end
  end, nil, nil, {report_progress = true})
end
]]):format(base), nil, HTTP_PROJECT)
    local code, out, err = run(dir, "--frames 20000")
    stop()
    assert.are.equal(0, code, err)
    assert.are.equal(("final\t200\t%d\tnil\ttrue\t%d/%d\nsmall\tnil\t4\t4\tnil\nsmall\t200\tnil\tnil\ttiny\nplain\t200\tnil\n")
      :format(SIZE, SIZE, SIZE), out)
  end)

  it("reports progress of a body streamed to options.path", function()
    local www = served()
    local base, stop = H.nginx(www)
    local dir = game(([[
function init(self)
  local path = sys.get_save_file("g", "big.bin")
  http.request(%q, "GET", function(self, id, r)
    if r.bytes_total then self.last = r.bytes_received .. "/" .. r.bytes_total
    else print(r.status, r.path == path, self.last) sys.exit(0) end
  end, nil, nil, {report_progress = true, path = path})
end
]]):format(base .. "/big.bin"), nil, HTTP_PROJECT)
    local code, out, err = run(dir, "--frames 20000")
    stop()
    assert.are.equal(0, code, err)
    assert.are.equal(("200\ttrue\t%d/%d\n"):format(SIZE, SIZE), out)
  end)
end)
