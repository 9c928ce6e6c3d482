-- legacy_api_spec.lua -- Defold <= 1.12's legacy live-update API
-- (store_resource, store_manifest, store_archive, get_current_manifest,
-- is_using_liveupdate_data, the resource.* aliases): from stock lua5.4,
-- and under lurun with the manual's own loader script, unchanged, against
-- nginx.
local H = require("helpers")

local FIXTURES = H.root .. "/tests/fixtures/defold/manual/"   -- SOURCES.md one level up names each

local function fresh()
  package.loaded.liveupdate = nil
  package.loaded["liveupdate.resource"] = nil
  return require("liveupdate"), require("liveupdate.resource")
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

local function sha256(text)
  local path = os.tmpname()
  H.write(path, text)
  local s = H.sha256(path)
  os.remove(path)
  return s
end

-- Every file under dir with its SHA-256, one "path sha" line each, sorted:
-- "the disk is unchanged" is this string being equal.
local function snapshot(dir)
  local p = io.popen("cd " .. H.quote(dir) .. " && find . -type f ! -name liveupdate.lock -print0 | sort -z | xargs -0 -r sha256sum")
  local s = p:read("a")
  p:close()
  return s
end

local function manifest_json(resources)
  local items = {}
  for _, r in ipairs(resources) do
    items[#items + 1] = ('{"path":"%s","size":%d,"sha256":"%s"}'):format(r.path, #r.data, r.sha or sha256(r.data))
  end
  return '{"version":1,"resources":[' .. table.concat(items, ",") .. '],"proxies":[],"volumes":[]}'
end

-- A zip volume: its files plus /liveupdate.manifest.json listing them
-- (`lie` = {path = data} lists other bytes than the zip holds).
local function volume(zip, files, lie)
  local res, content = {}, {}
  for path, data in pairs(files) do
    res[#res + 1] = {path = "/" .. path, data = (lie or {})[path] or data}
    content[path] = data
  end
  content["liveupdate.manifest.json"] = manifest_json(res)
  H.zip(zip, content)
end

describe("legacy API from stock Lua", function()
  local lu, res, save, base
  local A = "level one data"

  before_each(function()
    lu, res = fresh()
    save, base = H.tmpdir(), H.tmpdir()
    -- the base bundle: its manifest lists /level1/a.txt, which it lacks
    H.write(base .. "/liveupdate.manifest.json", manifest_json({{path = "/level1/a.txt", data = A}}))
    H.write(base .. "/main/main.lua", "-- main")
    assert(lu.init{save_dir = save, base = "dir:" .. base})
  end)

  after_each(function() lu.shutdown() end)

  it("has the legacy functions in liveupdate and as resource.* aliases with the LIVEUPDATE_* constants", function()
    for _, name in ipairs{"get_current_manifest", "is_using_liveupdate_data", "store_resource", "store_manifest",
                          "store_archive"} do
      assert.are.equal("function", type(lu[name]), name)
      assert.are.equal(lu[name], res[name], name)
    end
    for k, v in pairs(lu) do
      if k:match("^LIVEUPDATE_") then assert.are.equal(v, res[k], k) end
    end
    assert.are.equal(0, res.LIVEUPDATE_OK)
    assert.are.equal(-3, res.LIVEUPDATE_INVALID_RESOURCE)
    assert.is_nil(res.add_mount)   -- only the legacy functions are aliased, as in Defold
    assert.are.equal("number", type(lu.get_current_manifest()))
    assert.are.equal(lu.get_current_manifest(), res.get_current_manifest())
  end)

  it("store_resource takes a resource path or the hex SHA-256, checks the data and mounts the legacy folder", function()
    assert.is_false(lu.is_using_liveupdate_data())
    local got = {}
    local cb = function(self, hexdigest, status, message) got[#got + 1] = {hexdigest, status, message} end
    assert.is_true(lu.store_resource(lu.get_current_manifest(), A, "/level1/a.txt", cb))
    assert.are.equal(1, wait(lu, 1))
    assert.are.same({"/level1/a.txt", true, nil}, got[1])
    assert.are.equal(A, lu.load_resource("/level1/a.txt"))
    assert.are.equal("liveupdate", lu.which("/level1/a.txt"))
    assert.are.equal(A, H.read(save .. "/liveupdate-legacy/level1/a.txt"))
    local m = lu.get_mounts()[1]
    assert.are.same({"liveupdate", 10}, {m.name, m.priority})
    assert.matches("^dir:", m.uri)
    assert.is_true(lu.is_using_liveupdate_data())
    -- by digest (upper case too), the answer names the digest as given
    local digest = sha256(A):upper()
    assert.is_true(res.store_resource(res.get_current_manifest(), A, digest, cb))
    wait(lu, 1)
    assert.are.same({digest, true, nil}, got[2])
  end)

  it("store_resource refuses data that does not match, or a digest the manifest lacks, and changes nothing", function()
    local before = snapshot(save)
    local got = {}
    local cb = function(self, hexdigest, status, message) got[#got + 1] = {hexdigest, status, message} end
    lu.store_resource(1, "tampered data!", "/level1/a.txt", cb)
    lu.store_resource(1, A, sha256("something else"), cb)
    lu.store_resource(1, A, "/level1/none.txt", cb)
    lu.store_resource(1, A, "not a digest", cb)
    assert.are.equal(4, wait(lu, 4))
    for i, g in ipairs(got) do assert.is_false(g[2], i) end
    assert.matches("'/level1/a.txt': the data's sha256 is", got[1][3], 1, true)
    assert.matches("no resource has sha256", got[2][3], 1, true)
    assert.matches("resource '/level1/none.txt' is not in the manifest", got[3][3], 1, true)
    assert.matches("neither a resource path nor a hex SHA%-256", got[4][3])
    assert.are.equal(before, snapshot(save))
    assert.is_false(lu.exists("/level1/a.txt"))
    assert.is_false(lu.is_using_liveupdate_data())
  end)

  it("store_manifest refuses what is not our manifest JSON (Defold's .dmanifest included) and keeps a good one", function()
    local before = snapshot(save)
    local got = {}
    local cb = function(self, status, message) got[#got + 1] = {status, message} end
    assert.is_true(lu.store_manifest("\10\20\8\1\18\4bogus", cb))   -- protobuf-looking bytes
    assert.is_true(res.store_manifest("{}", cb))
    wait(lu, 2)
    assert.are.equal(lu.LIVEUPDATE_FORMAT_ERROR, got[1][1])
    assert.matches("Defold's .dmanifest is not accepted", got[1][2], 1, true)
    assert.are.equal(lu.LIVEUPDATE_FORMAT_ERROR, got[2][1])
    assert.are.equal(before, snapshot(save))
    -- a manifest with a resource the base one lacks: store_resource finds it
    local B = "level two data"
    lu.store_manifest(manifest_json({{path = "/level2/b.txt", data = B}}), cb)
    wait(lu, 1)
    assert.are.same({lu.LIVEUPDATE_OK, nil}, got[3])
    local stored
    lu.store_resource(1, B, sha256(B), function(self, h, ok, msg) stored = {ok, msg} end)
    wait(lu, 1)
    assert.are.same({true, nil}, stored)
    assert.are.equal(B, lu.load_resource("/level2/b.txt"))
  end)

  it("store_archive verifies, mounts the archive as 'liveupdate' at 10, moves it in and drops the previous one", function()
    local dl = H.tmpdir()
    volume(dl .. "/one.zip", {["level1/a.txt"] = A})
    volume(dl .. "/two.zip", {["level1/a.txt"] = "second edition"})
    local got = {}
    local cb = function(self, path, status, message) got[#got + 1] = {path, status, message} end
    assert.is_true(lu.store_archive(dl .. "/one.zip", cb))
    wait(lu, 1)
    assert.are.same({dl .. "/one.zip", true, nil}, got[1])
    assert.are.equal(A, lu.load_resource("/level1/a.txt"))
    assert.is_false(H.exists(dl .. "/one.zip"))   -- moved into the save directory
    local m = lu.get_mounts()[1]
    assert.are.same({"liveupdate", 10}, {m.name, m.priority})
    local first = m.uri:match("liveupdate%-%x+%.zip$")
    assert.is_truthy(H.exists(save .. "/volumes/" .. first))
    assert.is_true(lu.is_using_liveupdate_data())
    assert.is_true(res.store_archive(dl .. "/two.zip", cb, {verify = true}))
    wait(lu, 1)
    assert.are.same({dl .. "/two.zip", true, nil}, got[2])
    assert.are.equal("second edition", lu.load_resource("/level1/a.txt"))
    assert.are.equal(2, #lu.get_mounts())   -- replaced, not added
    assert.is_false(H.exists(save .. "/volumes/" .. first))
    -- a restart keeps it (persisted like any mount)
    lu.shutdown()
    assert(lu.init{save_dir = save, base = "dir:" .. base})
    assert.are.equal("second edition", lu.load_resource("/level1/a.txt"))
  end)

  it("store_archive of a corrupted archive fails, mounts nothing and changes nothing on disk", function()
    local dl = H.tmpdir()
    volume(dl .. "/bad.zip", {["level1/a.txt"] = A}, {["level1/a.txt"] = "what the manifest promised"})
    H.write(dl .. "/junk.zip", "this is not a zip file")
    local before, dl_before = snapshot(save), snapshot(dl)
    local got = {}
    local cb = function(self, path, status, message) got[#got + 1] = {path, status, message} end
    lu.store_archive(dl .. "/bad.zip", cb)
    lu.store_archive(dl .. "/junk.zip", cb, {verify = false})   -- no hash check, but still not a zip
    lu.store_archive(dl .. "/absent.zip", cb)
    assert.are.equal(3, wait(lu, 3))
    assert.are.same({dl .. "/bad.zip", false}, {got[1][1], got[1][2]})
    assert.matches("failed verification: .*'/level1/a.txt'", got[1][3])
    assert.is_false(got[2][2]); assert.is_string(got[2][3])
    assert.is_false(got[3][2]); assert.is_string(got[3][3])
    assert.are.equal(before, snapshot(save))
    assert.are.equal(dl_before, snapshot(dl))
    assert.are.equal(1, #lu.get_mounts())
    assert.is_false(lu.is_using_liveupdate_data())
  end)

  it("store_archive without verification mounts an archive whose manifest lies", function()
    local dl = H.tmpdir()
    volume(dl .. "/lying.zip", {["level1/a.txt"] = A}, {["level1/a.txt"] = "other"})
    local ok
    lu.store_archive(dl .. "/lying.zip", function(self, path, status) ok = status end, {verify = false})
    wait(lu, 1)
    assert.is_true(ok)
    assert.are.equal(A, lu.load_resource("/level1/a.txt"))
  end)

  it("store_resource does not write into an archive store_archive mounted (Defold cannot either)", function()
    local dl = H.tmpdir()
    volume(dl .. "/one.zip", {["level1/other.txt"] = "x"})
    lu.store_archive(dl .. "/one.zip", function() end)
    wait(lu, 1)
    local before = snapshot(save)
    local got
    lu.store_resource(1, A, "/level1/a.txt", function(self, h, ok, msg) got = {ok, msg} end)
    wait(lu, 1)
    assert.is_false(got[1])
    assert.matches('remove_mount%("liveupdate"%)', got[2])
    assert.are.equal(before, snapshot(save))
  end)

  it("raises on caller mistakes and answers NOT_INITIALIZED before init", function()
    assert.has_error(function() lu.store_resource(1, A, "/level1/a.txt") end)
    assert.has_error(function() lu.store_resource(1, nil, "/level1/a.txt", function() end) end)
    assert.has_error(function() lu.store_manifest(nil, function() end) end)
    assert.has_error(function() lu.store_archive("/x.zip", function() end, {verfy = true}) end, "bad argument #3 to 'store_archive' (unknown option 'verfy')")
    assert.has_error(function() lu.store_archive("/x.zip") end)
    lu.shutdown()
    local v, msg, st = lu.store_archive("/x.zip", function() end)
    assert.is_nil(v); assert.matches("not initialized", msg); assert.are.equal(lu.LIVEUPDATE_NOT_INITIALIZED, st)
    v, msg, st = res.is_using_liveupdate_data()
    assert.is_nil(v); assert.are.equal(lu.LIVEUPDATE_NOT_INITIALIZED, st)
    assert(lu.init{save_dir = save, base = "dir:" .. base})
  end)
end)

describe("legacy API under lurun", function()
  local PROJECT = [[
[project]
title = Legacy Game
[bootstrap]
main_script = /main/main.lua
[display]
update_frequency = 1000
[proxy.proxy]
collection = /level1/level1.collection
resources = /level1/**
exclude = 1
volume = level1
[volume.level1]
version = 1
priority = 10
]]
  local LEVEL = {
    ["level1/level1.collection"] = 'name: "level1"\nscript: "/level1/level1.lua"\n',
    ["level1/level1.lua"] = 'function init(self) print("level1 init", sys.load_resource("/level1/mona.txt")) end\n' ..
                            'function update(self) sys.exit(0) end\n',
    ["level1/mona.txt"] = "a high resolution image",
  }

  -- Bundles a project whose main script is `main`; returns the bundle folder.
  local function bundle(main, content)
    local files = {["main/main.lua"] = main}
    for k, v in pairs(LEVEL) do files[k] = v end
    for k, v in pairs(content or {}) do files[k] = v end
    local proj, out = H.project(PROJECT, files), H.tmpdir()
    local code, _, err = H.lutool("bundle " .. H.quote(proj) .. " -o " .. H.quote(out))
    assert.are.equal(0, code, err)
    return out
  end

  local function run(dir, save, args, env)
    local saved = H.lurun_prefix
    H.lurun_prefix = (env or "") .. " " .. saved
    local code, out, err = H.run(dir, "--save-dir " .. H.quote(save) .. " " .. (args or ""))
    H.lurun_prefix = saved
    return code, out, err
  end

  -- the per-resource loader as published: docs/manuals/en (2017-03-21), docs/en
  -- (2017-03-28 to 2023-04-11, the same bytes throughout) and its Chinese translation
  for _, file in ipairs({"2017-03-21-198e638e-en-live-update-1.lua", "2017-03-28-f68ca068-en-live-update-1.lua",
                         "2020-09-21-bc45873b-zh-live-update-1.lua"}) do
  it("runs the manual's per-resource loader unchanged (" .. file .. "): store_resource of every missing resource, then load", function()
    local main = assert(H.read(FIXTURES .. file))
    local out_dir = bundle(main)
    -- the manual's bucket, https://my-game-bucket.s3.amazonaws.com/my-resources/, served by
    -- nginx (a certificate for that host) behind a CONNECT proxy
    local host = "my-game-bucket.s3.amazonaws.com"
    local ngdir, www = H.tmpdir(), H.tmpdir()
    assert(H.sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=" .. host ..
                " -addext subjectAltName=DNS:" .. host .. " -keyout " .. H.quote(ngdir .. "/key.pem") ..
                " -out " .. H.quote(ngdir .. "/cert.pem") .. " 2>/dev/null"))
    for path, data in pairs(LEVEL) do H.write(www .. "/my-resources/" .. path, data) end
    local _, stop, ca, _, port = H.nginx(www, true, {dir = ngdir})
    local portfile = H.tmpdir() .. "/proxy.port"
    local p = io.popen("python3 " .. H.quote(H.root .. "/tests/lua/connect_proxy.py") .. " " .. port .. " " ..
                       H.quote(portfile) .. " >/dev/null 2>&1 & echo $!")
    local pid = p:read("l")
    p:close()
    for _ = 1, 200 do
      if H.exists(portfile) then break end
      H.sh("sleep 0.02")
    end
    local save = H.tmpdir()
    local env = "https_proxy=http://127.0.0.1:" .. H.read(portfile) .. " HTTPS_PROXY= no_proxy= NO_PROXY="
    local code, out, err = run(out_dir, save, "--frames 20000 --set liveupdate.ca_file=" .. H.quote(ca), env)
    -- a second start: the stored resources are mounted, nothing is fetched again
    local code2, out2, err2 = run(out_dir, save, "--frames 20000 --set liveupdate.ca_file=" .. H.quote(ca), env)
    H.sh("kill " .. pid)
    local log = H.read(ngdir .. "/access.log") or ""
    stop()
    assert.are.equal(0, code, err)
    -- every excluded resource was stored (the script prints each), then the level ran
    local n = 0
    for path in pairs(LEVEL) do
      assert.matches("Resource data stored: /" .. path:gsub("%p", "%%%0") .. "\n", out)
      n = n + 1
    end
    assert.matches("level1 init\ta high resolution image\n", out, 1, true)
    assert.matches("CONNECT " .. host .. ":443", H.read(portfile .. ".log"), 1, true)
    local fetched = select(2, log:gsub("200 /my%-resources/level1/", ""))
    assert.are.equal(n, fetched)
    assert.are.equal(0, code2, err2)
    assert.is_nil(out2:match("Resource data stored"))
    assert.matches("level1 init\ta high resolution image\n", out2, 1, true)
  end)
  end

  it("the manual's store_manifest callback gets LIVEUPDATE_FORMAT_ERROR for a bad buffer", function()
    local cb = assert(H.read(FIXTURES .. "2018-06-07-01d77f52-en-live-update-3.lua"))
    -- the published fragment defines store_manifest_cb; the driver after it calls it as the manual does
    local main = cb .. [[
function init(self)
    print("using", resource.is_using_liveupdate_data(), liveupdate.is_using_liveupdate_data())
    resource.store_manifest("not a manifest", store_manifest_cb)
end
function update(self) self.n = (self.n or 0) + 1 if self.n == 50 then sys.exit(0) end end
]]
    local out_dir = bundle(main)
    local code, out, err = run(out_dir, H.tmpdir(), "--frames 1000")
    assert.are.equal(0, code, err)
    assert.are.equal("using\tfalse\tfalse\nFailed to store manifest, status: \t-9\n", out)
  end)

  it("store_archive from a script: a good archive loads the level, a corrupted one leaves everything as it was", function()
    local main = [[
local function store_archive_cb(self, path, status)
    print("stored", path:match("[^/]+$"), status, resource.is_using_liveupdate_data())
    if status == true then
        msg.post("#proxy", "load")
    else
        sys.exit(3)
    end
end
function init(self)
    print("missing", #collectionproxy.missing_resources("#proxy"), resource.is_using_liveupdate_data())
    resource.store_archive(sys.get_config_string("test.archive"), store_archive_cb, {verify = true})
end
function on_message(self, message_id, message, sender)
    if message_id == hash("proxy_loaded") then
        msg.post(sender, "init")
        msg.post(sender, "enable")
    end
end
]]
    local out_dir = bundle(main)
    local dl = H.tmpdir()
    H.sh("cp " .. H.quote(out_dir .. "/liveupdate/level1.zip") .. " " .. H.quote(dl .. "/good.zip"))
    -- a volume whose mona.txt is not what its manifest says
    volume(dl .. "/bad.zip", {["level1/mona.txt"] = "a high resolution imagE"},
           {["level1/mona.txt"] = "a high resolution image"})
    local save = H.tmpdir()
    local code, out = run(out_dir, save, "--frames 1000 --set test.archive=" .. H.quote(dl .. "/bad.zip"))
    assert.are.equal(3, code)
    assert.are.equal("missing\t3\tfalse\nstored\tbad.zip\tfalse\tfalse\n", out)
    assert.is_true(H.exists(dl .. "/bad.zip"))
    local after = snapshot(save)
    -- nothing of the legacy store appeared (lurun keeps its own files there)
    assert.is_nil(after:match("liveupdate%-legacy") or after:match("volumes/") or after:match("%.tmp"))
    local err
    code, out, err = run(out_dir, save, "--frames 1000 --set test.archive=" .. H.quote(dl .. "/good.zip"))
    assert.are.equal(0, code, err)
    assert.are.equal("missing\t3\tfalse\nstored\tgood.zip\ttrue\ttrue\nlevel1 init\ta high resolution image\n", out)
    assert.is_false(H.exists(dl .. "/good.zip"))
  end)
end)
