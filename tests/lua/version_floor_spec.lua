-- version_floor_spec.lua -- the version floor through the stock-Lua module
-- against a real nginx: with minimum_version 2, download_volume refuses a
-- catalog entry of version 1 before any request, refuses (and deletes) a
-- download whose own version file is below the floor without ever putting it
-- in place of the file a mount of that name reads, add_mount refuses a
-- zip below it, the mounts file stays as it was; volumes at and above the
-- floor mount, and a minimum of 0 changes nothing. (tools/demo's four runs
-- through lurun: examples_spec.lua.)
local H = require("helpers")

local fresh, run_until = H.fresh_liveupdate, H.run_until

-- Writes <dir>/<name>.zip holding a.txt and (unless version is nil) its
-- /version_<name>.json; returns the catalog entry.
local function volume(dir, name, version, text)
  local path = dir .. "/" .. name .. ".zip"
  local files = {["level/" .. name .. ".txt"] = text or name}
  if version then files["version_" .. name .. ".json"] = ('{"version": %d}'):format(version) end
  H.zip(path, files)
  return {name = name, file = name .. ".zip", size = #H.read(path), sha256 = H.sha256(path),
          version = version or 0, priority = 10}
end

-- The base zip's manifest with `entries` as the catalog.
local function base_with_catalog(www, entries)
  local parts = {}
  for i, e in ipairs(entries) do
    parts[i] = ('{"name": "%s", "file": "%s", "size": %d, "sha256": "%s", "version": %d, "priority": %d}')
      :format(e.name, e.file, e.size, e.sha256, e.catalog_version or e.version, e.priority)
  end
  H.zip(www .. "/base.zip", {["x.txt"] = "base",
    ["liveupdate.manifest.json"] = '{"resources": [], "volumes": [' .. table.concat(parts, ", ") .. ']}'})
end

local function requests(nginx_dir, uri)
  local n = 0
  for line in (H.read(nginx_dir .. "/access.log") or ""):gmatch("[^\n]+") do
    if line:find(" " .. uri .. " ", 1, true) then n = n + 1 end
  end
  return n
end

describe("the version floor", function()
  local lu, save, www, stops

  before_each(function()
    lu = fresh()
    save, www, stops = H.tmpdir(), H.tmpdir(), {}
  end)

  after_each(function()
    lu.shutdown()
    for _, stop in ipairs(stops) do stop() end
  end)

  local function serve()
    local base, stop, _, dir = H.nginx(www)
    stops[#stops + 1] = stop
    return base, dir
  end

  local function init(extra)
    local o = {save_dir = save, base = "zip:" .. www .. "/base.zip"}
    for k, v in pairs(extra or {}) do o[k] = v end
    assert(lu.init(o))
  end

  local function fetch(entry)
    local result, message, called = nil, nil, false
    local handle, err, st = lu.download_volume(entry, nil, function(self, name, r, m)
      called, result, message = true, r, m
    end)
    if not handle then return st, err, false end
    run_until(lu, function() return called end)
    assert.is_true(called, "the callback never ran")
    return result, message, true
  end

  local function mount(name, uri, opts)
    local result, message, called = nil, nil, false
    assert.are.equal(lu.LIVEUPDATE_OK, lu.add_mount(name, uri, 10, function(self, n, u, r, m)
      called, result, message = true, r, m
    end, opts))
    run_until(lu, function() return called end)
    assert.is_true(called)
    return result, message
  end

  it("download_volume refuses a catalog entry below the minimum before any request", function()
    local forest = volume(www, "forest", 1)
    base_with_catalog(www, {forest})
    local url, nginx_dir = serve()
    init({http_url = url, minimum_version = 2})
    local handle, message, status = lu.download_volume("forest", nil, function() error("no callback") end)
    assert.is_nil(handle)
    assert.are.equal(lu.LIVEUPDATE_VERSION_MISMATCH, status)
    assert.are.equal("volume 'forest' is version 1, below the game's minimum 2", message)
    -- the same with the table get_catalog / get_volumes_for give
    handle, message, status = lu.download_volume(lu.get_catalog()[1], nil, function() error("no callback") end)
    assert.is_nil(handle)
    assert.are.equal(lu.LIVEUPDATE_VERSION_MISMATCH, status)
    for _ = 1, 20 do lu.poll() end
    assert.are.same({}, lu.get_downloads())
    assert.are.equal(0, requests(nginx_dir, "/forest.zip"), "not a byte was fetched")
    assert.is_nil(H.read(save .. "/volumes/forest.zip"))
    assert.are.equal(1, #lu.get_mounts(), "only the base")
    assert.is_nil(H.read(save .. "/liveupdate.mounts"))
  end)

  it("a download whose own version file is below the minimum is not mounted and not kept", function()
    -- the catalog claims version 2; the file itself says 1
    local forest = volume(www, "forest", 1)
    forest.catalog_version = 2
    base_with_catalog(www, {forest})
    local url, nginx_dir = serve()
    init({http_url = url, minimum_version = 2})
    local r, m, started = fetch("forest")
    assert.is_true(started)
    assert.are.equal(lu.LIVEUPDATE_VERSION_MISMATCH, r, m)
    assert.matches("volume 'forest' is version 1, below the game's minimum 2", m, 1, true)
    assert.are.equal(1, requests(nginx_dir, "/forest.zip"))
    assert.is_nil(lu.which("/level/forest.txt"))
    assert.is_nil(H.read(save .. "/volumes/forest.zip"), "the refused file is deleted")
    assert.is_nil(H.read(save .. "/liveupdate.mounts"))
    -- an entry that gives no version is judged by the file alone
    r, m = fetch({name = "forest", file = "forest.zip", size = forest.size, sha256 = forest.sha256})
    assert.are.equal(lu.LIVEUPDATE_VERSION_MISMATCH, r, m)
    assert.is_nil(H.read(save .. "/volumes/forest.zip"))
  end)

  it("a refused download never replaces the file a mounted volume of that name reads", function()
    local good = volume(www, "forest", 3, "version three")
    base_with_catalog(www, {good})
    local url = serve()
    init({http_url = url, minimum_version = 2})
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch("forest")))
    local kept = H.read(save .. "/volumes/forest.zip")
    -- the origin now serves a version-1 forest.zip under the same file name,
    -- asked for with an entry that gives no version
    local old = volume(www, "forest", 1, "version one")
    local r, m = fetch({name = "forest", file = "forest.zip", size = old.size, sha256 = old.sha256})
    assert.are.equal(lu.LIVEUPDATE_VERSION_MISMATCH, r, m)
    assert.matches("'forest.zip' is not installed: volume 'forest' is version 1", m, 1, true)
    assert.are.equal(kept, H.read(save .. "/volumes/forest.zip"), "the mounted file is untouched")
    assert.are.equal("version three", lu.load_resource("/level/forest.txt"))
    -- and after a restart the persisted mount still opens and serves it
    lu.shutdown()
    lu = fresh()
    init({http_url = url, minimum_version = 2})
    assert.are.same({}, lu.get_startup_report())
    assert.are.equal("version three", lu.load_resource("/level/forest.txt"))
  end)

  it("download_volume mounts a volume at or above the minimum", function()
    local forest = volume(www, "forest", 2)
    local castle = volume(www, "castle", 3)
    base_with_catalog(www, {forest, castle})
    local url = serve()
    init({http_url = url, minimum_version = 2})
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch("forest")))
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch("castle")))
    assert.are.equal("forest", lu.which("/level/forest.txt"))
    assert.are.equal("castle", lu.which("/level/castle.txt"))
  end)

  it("add_mount refuses a zip below the minimum; the mounts file stays as it was", function()
    H.zip(www .. "/base.zip", {["x.txt"] = "base"})
    volume(www, "cur", 2, "current")
    volume(www, "old", 1)
    volume(www, "none", nil)
    init({minimum_version = 2})
    assert.are.equal(lu.LIVEUPDATE_OK, (mount("cur", "zip:" .. www .. "/cur.zip")))
    local before = H.read(save .. "/liveupdate.mounts")
    local r, m = mount("old", "zip:" .. www .. "/old.zip")
    assert.are.equal(lu.LIVEUPDATE_VERSION_MISMATCH, r)
    assert.are.equal("mount 'old' not added: volume 'old' is version 1, below the game's minimum 2", m)
    r, m = mount("none", "zip:" .. www .. "/none.zip")
    assert.are.equal(lu.LIVEUPDATE_VERSION_MISMATCH, r)
    assert.matches("no /version_none.json, so it counts as below the game's minimum 2", m, 1, true)
    -- replace: the current mount of that name stays
    r = mount("cur", "zip:" .. www .. "/old.zip", {replace = true})
    assert.are.equal(lu.LIVEUPDATE_VERSION_MISMATCH, r)
    assert.are.equal("current", lu.load_resource("/level/cur.txt"))
    assert.are.equal(2, #lu.get_mounts())
    assert.are.equal(before, H.read(save .. "/liveupdate.mounts"))
  end)

  it("with a minimum of 0 every volume mounts, as before the floor", function()
    local forest = volume(www, "forest", 1)
    base_with_catalog(www, {forest})
    volume(www, "none", nil)
    init({http_url = "file://" .. www})
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch("forest")))
    assert.are.equal(lu.LIVEUPDATE_OK, (mount("none", "zip:" .. www .. "/none.zip")))
    assert.are.equal(3, #lu.get_mounts())
  end)
end)
