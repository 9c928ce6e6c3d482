-- bundle_spec.lua -- `lutool bundle`: content assignment, manifests, version
-- files, the catalog, reproducible output and every error it reports.
local H = require("helpers")
local json = require("dkjson")

local lutool = H.lutool

local function entries(zip)
  local p = io.popen("unzip -Z1 " .. H.quote(zip))
  local t = {}
  for l in p:lines() do t[#t + 1] = l end
  p:close()
  table.sort(t)
  return t
end

local function unzip_text(zip, entry)
  local p = io.popen("unzip -p " .. H.quote(zip) .. " " .. H.quote(entry))
  local s = p:read("a")
  p:close()
  return s
end

local sha256 = H.sha256

local PROJECT = [[
[project]
title = Bundle Spec
[bootstrap]
main_script = /main/main.lua
[proxy.menu]
collection = /menu/menu.collection
resources = /menu/**, /shared/ui.txt
[proxy.level1]
collection = /level1/level1.collection
resources = /level1/** /shared/**
exclude = 1
volume = forest
[proxy.level2]
collection = /level2/level2.collection
resources = /level2/*, /shared/rock.txt
exclude = 1
volume = castle
proxies = boss
[proxy.boss]
collection = /level2/boss/boss.collection
resources = /level2/boss/**
exclude = 1
volume = castle
[volume.forest]
version = 3
priority = 10
[volume.castle]
version = 7
priority = 20
]]

local CONTENT = {
  ["main/main.lua"] = "-- main",
  ["menu/menu.collection"] = "menu", ["menu/bg.txt"] = "bg",
  ["level1/level1.collection"] = "l1", ["level1/tree.txt"] = "tree",
  ["level2/level2.collection"] = "l2", ["level2/wall.txt"] = "wall",
  ["level2/boss/boss.collection"] = "b", ["level2/boss/dragon.txt"] = "dragon",
  ["shared/ui.txt"] = "ui", ["shared/rock.txt"] = "rock",
  ["loose.txt"] = "needed by no proxy",
}

describe("lutool bundle", function()
  local proj, out, code, stdout, stderr

  setup(function()
    proj = H.project(PROJECT, CONTENT)
    out = H.tmpdir() .. "/out"
    code, stdout, stderr = lutool("bundle " .. H.quote(proj) .. " -o " .. H.quote(out))
  end)

  it("succeeds and says what it wrote", function()
    assert.are.equal(0, code, stderr)
    assert.matches("game.zip: 5 of 12 resources in the base", stdout, 1, true)
    assert.matches("volume 'castle', 5 resources, version 7, priority 20", stdout, 1, true)
  end)

  it("puts a resource in the base unless only excluded proxies need it", function()
    assert.are.same({"liveupdate.manifest.json", "loose.txt", "main/main.lua", "menu/bg.txt",
                     "menu/menu.collection", "shared/ui.txt"}, entries(out .. "/game.zip"))
    assert.are.same({"level1/level1.collection", "level1/tree.txt", "liveupdate.manifest.json", "shared/rock.txt",
                     "version_forest.json"}, entries(out .. "/liveupdate/forest.zip"))
    -- rock.txt: needed by level1 (forest) and level2 (castle), both excluded: in both
    assert.are.same({"level2/boss/boss.collection", "level2/boss/dragon.txt", "level2/level2.collection",
                     "level2/wall.txt", "liveupdate.manifest.json", "shared/rock.txt", "version_castle.json"},
                    entries(out .. "/liveupdate/castle.zip"))
    assert.matches("/shared/ui.txt is needed by excluded proxy 'level1' and by proxy 'menu', so it stays in the base",
                   stderr, 1, true)
  end)

  it("writes the base manifest: every resource with size and sha256, proxies, the catalog", function()
    local m = json.decode(unzip_text(out .. "/game.zip", "liveupdate.manifest.json"))
    assert.are.equal(12, #m.resources)
    for _, r in ipairs(m.resources) do
      assert.are.equal(#CONTENT[r.path:sub(2)], r.size, r.path)
      assert.are.equal(64, #r.sha256)
    end
    local by_id = {}
    for _, p in ipairs(m.proxies) do by_id[p.id] = p end
    assert.is_false(by_id.menu.excluded)
    assert.is_true(by_id.level2.excluded)
    assert.are.equal("castle", by_id.level2.volume)
    assert.are.same({"boss"}, by_id.level2.proxies)
    assert.are.same({"/level2/level2.collection", "/level2/wall.txt", "/shared/rock.txt"}, by_id.level2.resources)
    assert.are.equal(2, #m.volumes)
    assert.are.equal("castle", m.volumes[1].name)
    assert.are.equal("castle.zip", m.volumes[1].file)
    assert.are.equal(sha256(out .. "/liveupdate/castle.zip"), m.volumes[1].sha256)
    assert.are.equal(7, m.volumes[1].version)
    assert.are.equal(20, m.volumes[1].priority)
    local catalog = json.decode(H.read(out .. "/liveupdate/catalog.json"))
    assert.are.same(m.volumes, catalog.volumes)
  end)

  it("gives each volume its own manifest and version file", function()
    assert.are.same({version = 3}, json.decode(unzip_text(out .. "/liveupdate/forest.zip", "version_forest.json")))
    local vm = json.decode(unzip_text(out .. "/liveupdate/castle.zip", "liveupdate.manifest.json"))
    assert.are.equal(5, #vm.resources)
    local ids = {}
    for _, p in ipairs(vm.proxies) do ids[#ids + 1] = p.id end
    table.sort(ids)
    assert.are.same({"boss", "level2"}, ids)
    assert.are.equal(H.read(proj .. "/game.project"), H.read(out .. "/game.project"))
  end)

  it("is reproducible: the same input gives byte-identical output", function()
    local again = H.tmpdir() .. "/again"
    assert.are.equal(0, (lutool("bundle " .. H.quote(proj) .. " -o " .. H.quote(again))))
    for _, f in ipairs({"game.zip", "game.project", "liveupdate/forest.zip", "liveupdate/castle.zip",
                        "liveupdate/catalog.json"}) do
      assert.is_true(H.sh("cmp -s " .. H.quote(out .. "/" .. f) .. " " .. H.quote(again .. "/" .. f)), f)
    end
  end)

  it("rebundling into the same folder removes volumes that no longer exist", function()
    local p2 = H.project(PROJECT:gsub("volume = forest", "volume = castle"), CONTENT)
    local o2 = H.tmpdir() .. "/o2"
    assert.are.equal(0, (lutool("bundle " .. H.quote(proj) .. " -o " .. H.quote(o2))))
    assert.are.equal(0, (lutool("bundle " .. H.quote(p2) .. " -o " .. H.quote(o2))))
    assert.is_nil(H.read(o2 .. "/liveupdate/forest.zip"))
  end)

  it("signs volumes and the catalog with --sign", function()
    local keys = H.tmpdir()
    assert.are.equal(0, (lutool("keygen -o " .. H.quote(keys .. "/k"))))
    assert.are.equal(64, #H.read(keys .. "/k.pub"):gsub("%s", ""))
    local o3 = H.tmpdir() .. "/signed"
    local c, so, se = lutool("bundle " .. H.quote(proj) .. " -o " .. H.quote(o3) .. " --sign " .. H.quote(keys .. "/k.sec"))
    assert.are.equal(0, c, se)
    assert.matches("signed", so)
    for _, f in ipairs({"forest.zip.sig", "castle.zip.sig", "catalog.json.sig"}) do
      assert.are.equal(128, #H.read(o3 .. "/liveupdate/" .. f):gsub("%s", ""), f)
    end
    c, _, se = lutool("bundle " .. H.quote(proj) .. " -o " .. H.quote(o3) .. " --sign " .. H.quote(keys .. "/k.pub"))
    assert.are.equal(1, c)
    assert.matches("k.pub' must hold 128 hex characters", se)
  end)
end)

-- The compression method of every entry of a zip (from its central directory).
local function methods(zip)
  local p = io.popen("python3 -c " .. H.quote([[
import sys, zipfile
for i in zipfile.ZipFile(sys.argv[1]).infolist(): print(i.filename, i.compress_type)
]]) .. " " .. H.quote(zip))
  local t = {}
  for l in p:lines() do
    local name, m = l:match("^(.-) (%d+)$")
    t[name] = tonumber(m)
  end
  p:close()
  return t
end

describe("lutool bundle with [bundle] compression = zstd", function()
  local out = H.tmpdir() .. "/out"
  local big = string.rep("a level's compressible text, line after line\n", 200)
  local content = {}
  for k, v in pairs(CONTENT) do content[k] = v end
  content["menu/bg.txt"] = big
  content["level1/tree.txt"] = big .. "tree"
  -- the game: reads a base resource, mounts the forest volume from the bundle, reads a volume resource
  content["main/main.lua"] = [[
function init(self)
  print("base", #sys.load_resource("/menu/bg.txt"))
  liveupdate.add_mount("forest", "zip:]] .. out .. [[/liveupdate/forest.zip", 10, function(self, name, uri, result)
    local data = sys.load_resource("/level1/tree.txt")
    print("mounted", result, #data, data:sub(-4))
    sys.exit(0)
  end)
end
]]
  local function bundle(ini, dest)
    return lutool("bundle " .. H.quote(H.project(ini, content)) .. " -o " .. H.quote(dest))
  end

  it("writes zstd entries (method 93) that lurun mounts and serves; deflate stays the default", function()
    local code, _, err = bundle(PROJECT .. "[bundle]\ncompression = zstd\n", out)
    assert.are.equal(0, code, err)
    local base, forest = methods(out .. "/game.zip"), methods(out .. "/liveupdate/forest.zip")
    assert.are.equal(93, base["menu/bg.txt"])
    assert.are.equal(93, base["liveupdate.manifest.json"])
    assert.are.equal(93, forest["level1/tree.txt"])
    assert.are.equal(0, forest["level1/level1.collection"], "2 bytes do not shrink: stored")
    local save = H.tmpdir()
    local c, o, e = H.run(out, "--save-dir " .. H.quote(save) .. " --frames 5000")
    assert.are.equal(0, c, e)
    assert.are.equal("base\t" .. #big .. "\nmounted\t0\t" .. (#big + 4) .. "\ttree\n", o)
    local deflated = H.tmpdir() .. "/d"
    assert.are.equal(0, (bundle(PROJECT, deflated)))
    assert.are.equal(8, methods(deflated .. "/game.zip")["menu/bg.txt"])
    assert.is_true(#H.read(out .. "/game.zip") < #H.read(deflated .. "/game.zip"))
  end)

  it("is reproducible, and [volume.<name>] compression overrides [bundle] for one volume", function()
    local again = H.tmpdir() .. "/again"
    assert.are.equal(0, (bundle(PROJECT .. "[bundle]\ncompression = zstd\n", again)))
    assert.are.equal(sha256(out .. "/game.zip"), sha256(again .. "/game.zip"))
    assert.are.equal(sha256(out .. "/liveupdate/forest.zip"), sha256(again .. "/liveupdate/forest.zip"))
    local mixed = H.tmpdir() .. "/mixed"
    local ini = PROJECT:gsub("%[volume.forest%]\n", "[volume.forest]\ncompression = deflate\n")
    assert.are.equal(0, (bundle(ini .. "[bundle]\ncompression = zstd\n", mixed)))
    assert.are.equal(93, methods(mixed .. "/game.zip")["menu/bg.txt"])
    assert.are.equal(8, methods(mixed .. "/liveupdate/forest.zip")["level1/tree.txt"])
    ini = PROJECT:gsub("%[volume.forest%]\n", "[volume.forest]\ncompression = zstd\n")
    assert.are.equal(0, (bundle(ini, mixed)))
    assert.are.equal(8, methods(mixed .. "/game.zip")["menu/bg.txt"])
    assert.are.equal(93, methods(mixed .. "/liveupdate/forest.zip")["level1/tree.txt"])
  end)
end)

describe("lutool bundle errors", function()
  local function bundle_err(ini, content)
    local proj = H.project(ini, content or CONTENT)
    local c, _, e = lutool("bundle " .. H.quote(proj) .. " -o " .. H.quote(H.tmpdir() .. "/o"))
    return c, e
  end

  it("names file, line and key for a bad game.project", function()
    local c, e = bundle_err("[project]\ntitle = x\n[volume.v]\nversion = one\n[proxy.p]\ncollection = /menu/menu.collection\nexclude = 1\nvolume = v\n")
    assert.are.equal(1, c)
    assert.matches("game.project:4: volume.v.version: 'one' is not an integer", e)
    c, e = bundle_err("[project]\ngarbage line\n")
    assert.are.equal(1, c)
    assert.matches("game.project:2:", e)
  end)

  it("names file, line and key for an unknown compression, before writing anything", function()
    local out = H.tmpdir() .. "/o"
    local proj = H.project(PROJECT .. "[bundle]\ncompression = lz4\n", CONTENT)
    local c, _, e = lutool("bundle " .. H.quote(proj) .. " -o " .. H.quote(out))
    assert.are.equal(1, c)
    local line = select(2, PROJECT:gsub("\n", "")) + 2
    assert.matches("game.project:" .. line .. ": bundle.compression: 'lz4' is not one of deflate, zstd", e, 1, true)
    assert.is_false(H.exists(out .. "/game.zip"))
    c, e = bundle_err((PROJECT:gsub("%[volume.castle%]\n", "[volume.castle]\ncompression = Zstd\n")))
    assert.are.equal(1, c)
    assert.matches("game.project:%d+: volume.castle.compression: 'Zstd' is not one of deflate, zstd", e)
  end)

  it("reports a missing collection", function()
    local c, e = bundle_err("[project]\ntitle = x\n[proxy.p]\ncollection = /nowhere.collection\n")
    assert.are.equal(1, c)
    assert.matches("%[proxy.p%] collection '/nowhere.collection' is not in the content", e)
  end)

  it("reports an excluded proxy without a volume, or with an undeclared one", function()
    local c, e = bundle_err("[project]\ntitle = x\n[proxy.p]\ncollection = /menu/menu.collection\nexclude = 1\n")
    assert.are.equal(1, c)
    assert.matches("%[proxy.p%] has exclude = 1 but no volume", e)
    c, e = bundle_err("[project]\ntitle = x\n[proxy.p]\ncollection = /menu/menu.collection\nexclude = 1\nvolume = v\n")
    assert.are.equal(1, c)
    assert.matches("there is no %[volume.v%]", e)
  end)

  it("reports an unknown nested proxy", function()
    local c, e = bundle_err("[project]\ntitle = x\n[proxy.p]\ncollection = /menu/menu.collection\nproxies = ghost\n")
    assert.are.equal(1, c)
    assert.matches("proxies = ghost, but there is no %[proxy.ghost%]", e)
  end)

  it("with [bundle] strict = 1, a resource no proxy needs is an error", function()
    local c, e = bundle_err(PROJECT .. "[bundle]\nstrict = 1\n")
    assert.are.equal(1, c)
    assert.matches("/loose.txt is needed by no proxy", e, 1, true)
    c = bundle_err(PROJECT .. "[bundle]\nstrict = 1\nbase = /loose.txt\n")
    assert.are.equal(0, c)
  end)

  it("rejects bad arguments and unsafe content names", function()
    assert.are.equal(2, (lutool("bundle")))
    assert.are.equal(2, (lutool("bundle x -o y --nope")))
    assert.are.equal(0, (lutool("bundle --help")))
    local c, _, e = lutool("bundle /nonexistent -o " .. H.quote(H.tmpdir()))
    assert.are.equal(1, c)
    assert.matches("/nonexistent", e)
    c, e = bundle_err("[project]\ntitle = x\n", {["a\\b.txt"] = "x"})
    assert.are.equal(1, c)
    assert.matches("backslash", e)
  end)
end)
