-- liveupdate_spec.lua -- the `liveupdate` module from stock lua5.4
-- (build/lib/liveupdate.so): every function and constant, and each error path.
local H = require("helpers")

local function fresh()
  package.loaded.liveupdate = nil
  return require("liveupdate")
end

-- Polls until n callbacks ran (bounded).
local function wait(lu, n)
  local ran = 0
  for _ = 1, 2000 do
    ran = ran + lu.poll()
    if ran >= n then return ran end
    os.execute("sleep 0.005")
  end
  return ran
end

describe("liveupdate module", function()
  local lu, save, vols

  before_each(function()
    lu = fresh()
    save, vols = H.tmpdir(), H.tmpdir()
    H.zip(vols .. "/a.zip", {["x.txt"] = "from a", ["version_a.json"] = '{"version": 2}'})
    H.zip(vols .. "/b.zip", {["x.txt"] = "from b"})
    H.zip(vols .. "/base.zip", {["x.txt"] = "base", ["main/main.lua"] = "-- main"})
  end)

  after_each(function() lu.shutdown() end)

  it("creates no globals", function()
    local before = {}
    for k in pairs(_G) do before[k] = true end
    fresh()
    for k in pairs(_G) do assert.is_true(before[k], "new global " .. k) end
  end)

  it("has Defold's status constants and ours", function()
    local want = {OK = 0, INVALID_HEADER = -1, MEM_ERROR = -2, INVALID_RESOURCE = -3, VERSION_MISMATCH = -4,
      ENGINE_VERSION_MISMATCH = -5, SIGNATURE_MISMATCH = -6, SCHEME_MISMATCH = -7,
      BUNDLED_RESOURCE_MISMATCH = -8, FORMAT_ERROR = -9, IO_ERROR = -10, INVAL = -11, NOT_INITIALIZED = -12,
      NAME_EXISTS = -13, NOT_FOUND = -14, LOCKED = -15, NO_SPACE = -16, NETWORK_ERROR = -17, TIMEOUT = -18,
      CANCELLED = -19, HASH_MISMATCH = -20, UNSAFE_ARCHIVE = -21, UNKNOWN = -1000}
    for name, value in pairs(want) do
      assert.are.equal(value, lu["LIVEUPDATE_" .. name], name)
    end
  end)

  -- Every function of the module table (a new one is covered by itself):
  -- nil, message, NOT_INITIALIZED before init, before any argument check;
  -- add_mount and remove_mount, whose Defold shape is a status number,
  -- answer the number, then the message.
  local NUMBER_FIRST = {add_mount = true, remove_mount = true}
  local function check_not_initialized(name, f, ...)
    local v, msg, st = f(...)
    if NUMBER_FIRST[name] then
      assert.are.equal(lu.LIVEUPDATE_NOT_INITIALIZED, v, name)
      assert.matches("not initialized", msg, 1, true)
    else
      assert.is_nil(v, name)
      assert.are.equal("string", type(msg), name)
      assert.matches("not initialized", msg)
      assert.are.equal(lu.LIVEUPDATE_NOT_INITIALIZED, st, name)
    end
  end

  it("answers NOT_INITIALIZED from every function before init, before checking arguments", function()
    local n = 0
    for name, f in pairs(lu) do
      if type(f) == "function" and name ~= "init" then
        check_not_initialized(name, f)
        check_not_initialized(name, f, {}, -1, "not a function", 42)   -- wrong arguments: still NOT_INITIALIZED
        n = n + 1
      end
    end
    assert.is_true(n >= 18, "functions checked: " .. n)
    -- and again after shutdown()
    assert.is_true(lu.init{save_dir = save})
    assert.is_true(lu.shutdown())
    for name, f in pairs(lu) do
      if type(f) == "function" and name ~= "init" then check_not_initialized(name, f, {}, -1) end
    end
  end)

  it("answers NOT_INITIALIZED from every update manager method once the context is gone", function()
    assert.is_true(lu.init{save_dir = save, update = {url = "http://127.0.0.1:1/release.json"}})
    local um = assert(lu.get_update_manager())
    assert.is_true(lu.shutdown())
    local n = 0
    for name, f in pairs(um) do
      if type(f) == "function" then
        check_not_initialized(name, f)
        check_not_initialized(name, f, 42)
        n = n + 1
      end
    end
    assert.are.equal(9, n)   -- download() included
  end)

  it("has a _VERSION naming the library version", function()
    assert.matches("^liveupdate %d+%.%d+%.%d+", lu._VERSION)
  end)

  it("init opens the context with a base mount and rejects bad options", function()
    assert.is_true(lu.init{save_dir = save, base = "zip:" .. vols .. "/base.zip"})
    local mounts = lu.get_mounts()
    assert.are.same({{name = "_base", uri = "zip:" .. vols .. "/base.zip", priority = -10}}, mounts)
    local ok, msg, st = lu.init{save_dir = save}
    assert.is_nil(ok); assert.matches("already initialized", msg); assert.are.equal(lu.LIVEUPDATE_INVAL, st)
    assert.error_matches(function() lu.init{bogus = 1} end, "bad argument #1 to '[%w.]*init' %(unknown option 'bogus'%)")
    assert.has_error(function() lu.init("x") end)
  end)

  it("init reports a failure as nil, message, status", function()
    local other = fresh()
    assert.is_true(lu.init{save_dir = save})
    local ok, msg, st = other.init{save_dir = save}
    assert.is_nil(ok); assert.matches("in use", msg); assert.are.equal(lu.LIVEUPDATE_LOCKED, st)
    lu.shutdown()
    ok, msg, st = other.init{save_dir = save, base = "zip:" .. vols .. "/missing.zip"}
    assert.is_nil(ok); assert.matches("missing.zip", msg); assert.are.equal(lu.LIVEUPDATE_NOT_FOUND, st)
    other.shutdown()
  end)

  it("add_mount calls back with self, name, uri, result, message", function()
    assert.is_true(lu.init{save_dir = save, base = "zip:" .. vols .. "/base.zip"})
    local got
    local uri = "zip:" .. vols .. "/a.zip"
    assert.are.equal(lu.LIVEUPDATE_OK, lu.add_mount("a", uri, 5, function(...) got = table.pack(...) end))
    assert.are.equal(1, wait(lu, 1))
    assert.are.equal(5, got.n)
    assert.is_nil(got[1]) -- self outside lurun
    assert.are.equal("a", got[2]); assert.are.equal(uri, got[3]); assert.are.equal(0, got[4]); assert.is_nil(got[5])
    assert.are.equal("from a", lu.load_resource("/x.txt"))
    assert.are.equal("a", lu.which("/x.txt"))
    assert.is_true(lu.exists("/x.txt"))
    assert.is_false(lu.exists("/nope"))
    assert.is_nil(lu.which("/nope"))
  end)

  it("add_mount reports runtime failures through the callback with a message", function()
    assert.is_true(lu.init{save_dir = save})
    local results = {}
    local cb = function(self, name, uri, result, message) results[name] = {result, message} end
    lu.add_mount("a", "zip:" .. vols .. "/a.zip", 1, cb)
    wait(lu, 1)
    lu.add_mount("a", "zip:" .. vols .. "/b.zip", 1, cb)
    lu.add_mount("missing", "zip:" .. vols .. "/missing.zip", 1, cb)
    lu.add_mount("web", "http://example.com/x.zip", 1, cb)
    assert.are.equal(3, wait(lu, 3))
    assert.are.equal(lu.LIVEUPDATE_NAME_EXISTS, results.a[1]); assert.matches("'a'", results.a[2])
    assert.are.equal(lu.LIVEUPDATE_NOT_FOUND, results.missing[1]); assert.matches("missing.zip", results.missing[2])
    assert.are.equal(lu.LIVEUPDATE_SCHEME_MISMATCH, results.web[1]); assert.matches("http", results.web[2])
    assert.are.equal(2, #lu.get_mounts() + 1) -- only "a"
  end)

  it("add_mount with replace swaps the volume", function()
    assert.is_true(lu.init{save_dir = save})
    lu.add_mount("a", "zip:" .. vols .. "/a.zip", 1, function() end)
    wait(lu, 1)
    local r
    lu.add_mount("a", "zip:" .. vols .. "/b.zip", 1, function(_, _, _, result) r = result end, {replace = true})
    wait(lu, 1)
    assert.are.equal(0, r)
    assert.are.equal("from b", lu.load_resource("/x.txt"))
  end)

  it("add_mount raises Defold's errors for caller mistakes", function()
    assert.is_true(lu.init{save_dir = save})
    local cb = function() end
    -- Defold's wording, inside Lua's "bad argument" message with the position
    assert.error_matches(function() lu.add_mount("a", "zip:x", -1, cb) end,
                         "^bad argument #3 to '[%w.]*add_mount' %(Priority needs to be a positive number: %-1%)$")
    assert.error_matches(function() lu.add_mount("_a", "zip:x", 1, cb) end,
                         "^bad argument #1 to '[%w.]*add_mount' %(Name must not start with '_': _a%)$")
    assert.error_matches(function() lu.add_mount("a b", "zip:x", 1, cb) end, "bad argument #1 to '[%w.]*add_mount'")
    assert.error_matches(function() lu.add_mount("a", "zip:x", 1, cb, {replace = true, bogus = 1}) end,
                         "bad argument #5 to '[%w.]*add_mount' %(unknown option 'bogus'%)")
    assert.error_matches(function() lu.add_mount("a", "zip:x", 1, nil) end, "bad argument #4 to '[%w.]*add_mount'")
    assert.has_error(function() lu.add_mount("a b", "zip:x", 1, cb) end)
    assert.has_error(function() lu.add_mount("a", "zip:x", 1) end)
    assert.has_error(function() lu.add_mount("a", "zip:x", 1, "nope") end)
    assert.has_error(function() lu.add_mount("a", "zip:x", 1.5, cb) end)
    assert.has_error(function() lu.add_mount(nil, "zip:x", 1, cb) end)
    assert.has_error(function() lu.add_mount("a", "zip:x", 1, cb, "opts") end)
    assert.are.equal(0, #lu.get_mounts())
  end)

  it("checks init's options against a list, with the argument's position", function()
    local function bad(opts, pattern)
      assert.error_matches(function() lu.init(opts) end, "^bad argument #1 to '[%w.]*init' %(" .. pattern .. "%)$")
    end
    bad({save_dir = save, bogus = true}, "unknown option 'bogus'")
    bad({save_dir = save, [1] = "x"}, "unknown option '1'")
    bad({save_dir = save, update = {url = "http://x/r.json", bogus = 1}}, "unknown option 'update.bogus'")
    bad({save_dir = save, update = "http://x/r.json"}, "option 'update' must be a table, not string")
    bad({save_dir = save, update = {url = {}}}, "option 'update.url' must be a string")
    bad({save_dir = {}}, "option 'save_dir' must be a string")
    bad({save_dir = save, max_uncompressed = 0}, "option 'max_uncompressed' must be a positive integer")
    bad({save_dir = save, minimum_version = 1.5}, "option 'minimum_version' must be an integer")
    bad({save_dir = save, max_downloads = 65}, "option 'max_downloads' must be an integer from 1 to 64")
    assert.error_matches(function() lu.init() end, "bad argument #1 to '[%w.]*init' %(table expected, got no value%)")
    -- nothing was opened: init still works
    assert.is_true(lu.init{save_dir = save})
  end)

  it("answers runtime failures with nil, message, status", function()
    assert.is_true(lu.init{save_dir = save})
    local v, msg, st = lu.load_resource("/nope.txt")
    assert.is_nil(v); assert.are.equal("string", type(msg)); assert.are.equal(lu.LIVEUPDATE_NOT_FOUND, st)
    v, msg, st = lu.init{save_dir = save}
    assert.is_nil(v); assert.matches("already initialized", msg); assert.are.equal(lu.LIVEUPDATE_INVAL, st)
    v, msg, st = lu.get_update_manager()
    assert.is_nil(v); assert.matches("no update manager", msg); assert.are.equal(lu.LIVEUPDATE_INVAL, st)
    v, msg, st = lu.cancel_download(12345)
    assert.is_nil(v); assert.matches("no download 12345", msg); assert.are.equal(lu.LIVEUPDATE_NOT_FOUND, st)
  end)

  it("remove_mount returns a status and raises for built-in mounts", function()
    assert.is_true(lu.init{save_dir = save, base = "zip:" .. vols .. "/base.zip"})
    lu.add_mount("a", "zip:" .. vols .. "/a.zip", 1, function() end)
    wait(lu, 1)
    assert.are.equal(lu.LIVEUPDATE_OK, (lu.remove_mount("a")))
    local st, msg = lu.remove_mount("a")
    assert.are.equal(lu.LIVEUPDATE_NOT_FOUND, st); assert.matches("'a'", msg)
    assert.error_matches(function() lu.remove_mount("_base") end,
                         "^bad argument #1 to '[%w.]*remove_mount' %(Cannot remove base mounts: _base%)$")
    assert.has_error(function() lu.remove_mount() end)
  end)

  it("get_mounts lists in lookup order with built-ins", function()
    assert.is_true(lu.init{save_dir = save, base = "zip:" .. vols .. "/base.zip"})
    lu.add_mount("a", "zip:" .. vols .. "/a.zip", 1, function() end)
    lu.add_mount("b", "zip:" .. vols .. "/b.zip", 7, function() end)
    wait(lu, 2)
    local names = {}
    for i, m in ipairs(lu.get_mounts()) do names[i] = m.name .. ":" .. m.priority end
    assert.are.same({"b:7", "a:1", "_base:-10"}, names)
  end)

  it("load_resource and list report failures as nil, message, status", function()
    assert.is_true(lu.init{save_dir = save, base = "zip:" .. vols .. "/base.zip"})
    local v, msg, st = lu.load_resource("/nope.txt")
    assert.is_nil(v); assert.matches("/nope.txt", msg); assert.are.equal(lu.LIVEUPDATE_NOT_FOUND, st)
    v, msg, st = lu.load_resource("relative.txt")
    assert.is_nil(v); assert.are.equal(lu.LIVEUPDATE_INVAL, st)
    assert.are.same({"/main/main.lua", "/x.txt"}, lu.list("/"))
    assert.are.same({"/main/main.lua"}, lu.list("/main/"))
    assert.are.same({"/main/main.lua", "/x.txt"}, lu.list("/", "_base"))
    v, msg, st = lu.list("/", "nope")
    assert.is_nil(v); assert.are.equal(lu.LIVEUPDATE_NOT_FOUND, st)
    assert.has_error(function() lu.load_resource() end)
    assert.has_error(function() lu.exists({}) end)
  end)

  it("mounts persist across shutdown and init, and dropped ones are reported", function()
    assert.is_true(lu.init{save_dir = save})
    H.zip(vols .. "/gone.zip", {["g.txt"] = "g"})
    lu.add_mount("a", "zip:" .. vols .. "/a.zip", 1, function() end)
    lu.add_mount("gone", "zip:" .. vols .. "/gone.zip", 2, function() end)
    wait(lu, 2)
    lu.shutdown()
    os.remove(vols .. "/gone.zip")
    assert.is_true(lu.init{save_dir = save})
    assert.are.equal("a", lu.get_mounts()[1].name)
    local report = lu.get_startup_report()
    assert.are.equal(1, #report)
    assert.are.equal("gone", report[1].name)
    assert.are.equal("dropped", report[1].action)
    assert.are.equal(lu.LIVEUPDATE_NOT_FOUND, report[1].status)
    assert.matches("gone.zip", report[1].message)
    lu.shutdown()
    assert.is_true(lu.init{save_dir = save, mount_on_start = false})
    assert.are.equal(0, #lu.get_mounts())
  end)

  it("an error in a callback is raised by poll and the rest still run", function()
    assert.is_true(lu.init{save_dir = save})
    local second = false
    lu.add_mount("a", "zip:" .. vols .. "/a.zip", 1, function() error("boom in callback") end)
    lu.add_mount("b", "zip:" .. vols .. "/b.zip", 1, function() second = true end)
    os.execute("sleep 0.2")
    local ok, err = pcall(lu.poll)
    assert.is_false(ok)
    assert.matches("boom in callback", err)
    assert.is_true(second)
  end)

  it("max_uncompressed is enforced", function()
    assert.is_true(lu.init{save_dir = save, max_uncompressed = 3})
    local r, m
    lu.add_mount("a", "zip:" .. vols .. "/a.zip", 1, function(_, _, _, result, message) r, m = result, message end)
    wait(lu, 1)
    assert.are.equal(lu.LIVEUPDATE_UNSAFE_ARCHIVE, r)
    assert.matches("exceeds the limit", m)
    assert.has_error(function() lu.shutdown(); lu.init{save_dir = save, max_uncompressed = -1} end)
  end)

  it("is_built_with_excluded_files reads the base manifest", function()
    H.zip(vols .. "/ex.zip", {["liveupdate.manifest.json"] = '{"resources": [], "proxies": [{"id": "l", "collection": "/l.c", "excluded": true}]}'})
    assert.is_true(lu.init{save_dir = save, base = "zip:" .. vols .. "/ex.zip"})
    assert.is_true(lu.is_built_with_excluded_files())
    lu.shutdown()
    assert.is_true(lu.init{save_dir = save, base = "zip:" .. vols .. "/base.zip"})
    assert.is_false(lu.is_built_with_excluded_files())
  end)

  it("get_volumes_for follows nested proxies once each, in catalog order", function()
    local manifest = [[{"resources": [], "proxies": [
      {"id": "main", "collection": "/main.c", "resources": ["/main.c"], "proxies": ["#l1", "main:/loader#l2"]},
      {"id": "l1", "collection": "/l1.c", "resources": ["/l1.c", "/shared.txt"], "excluded": true, "volume": "v1"},
      {"id": "l2", "collection": "/l2.c", "resources": ["/l2.c"], "proxies": ["main", "l1"], "excluded": true, "volume": "v2"},
      {"id": "l3", "collection": "/l3.c", "resources": ["/l3.c"], "excluded": true, "volume": "v3"}],
     "volumes": [{"name": "v3", "file": "v3.zip"}, {"name": "v2", "file": "v2.zip"},
                 {"name": "v1", "file": "v1.zip"}, {"name": "v0", "file": "v0.zip"}]}]]
    H.zip(vols .. "/nested.zip", {["liveupdate.manifest.json"] = manifest, ["main.c"] = "m", ["shared.txt"] = "s"})
    H.zip(vols .. "/l1.zip", {["l1.c"] = "l1"})
    assert.is_true(lu.init{save_dir = save, base = "zip:" .. vols .. "/nested.zip"})
    local function names(t)
      local out = {}
      for i, v in ipairs(t) do out[i] = v.name end
      return out
    end
    assert.are.same({"v2", "v1"}, names(lu.get_volumes_for("main")))
    assert.are.same({"v3"}, names(lu.get_volumes_for("#l3")))
    assert.are.same({"v2", "v1"}, names(lu.get_volumes_for("l2")), "the cycle back to main is cut")
    lu.add_mount("l1", "zip:" .. vols .. "/l1.zip", 1, function() end)
    wait(lu, 1)
    assert.are.same({"v2"}, names(lu.get_volumes_for("main")), "l1's resources are all mounted now")
    assert.are.same({}, names(lu.get_volumes_for("l1")))
    assert.has_error(function() lu.get_volumes_for("nope") end)
  end)

  it("the state userdata closes the context when collected", function()
    assert.is_true(lu.init{save_dir = save})
    lu = nil
    package.loaded.liveupdate = nil
    collectgarbage(); collectgarbage()
    local again = fresh()
    assert.is_true(again.init{save_dir = save}) -- the lock was released
    again.shutdown()
    lu = again
  end)
end)
