-- lutool_release_spec.lua -- `lutool release` on lutool bundle's output (the
-- folder to upload: game.zip under a content-derived name, release.json,
-- signatures; idempotent, earlier releases kept, -o), every refusal (nothing
-- written), the folder-of-zips form, and `lutool bundle` copying the
-- [liveupdate] public_key file so a signed game starts from its own bundle.
local H = require("helpers")
local json = require("dkjson")

local lutool, q = H.lutool, H.quote

local PROJECT = [[
[project]
title = Release Spec
version = 1.0
[bootstrap]
main_script = /main/main.lua
]]

local MAIN = "function update(self) end\n"

-- Bundles a project (game.project text `ini`, main script `main`) into a
-- fresh folder; returns the bundle folder and the project folder.
local function bundle(ini, main, args)
  local proj = H.project(ini or PROJECT, {["main/main.lua"] = main or MAIN})
  local out = H.tmpdir() .. "/bundle"
  local code, _, e = lutool("bundle " .. q(proj) .. " -o " .. q(out) .. " " .. (args or ""))
  assert.are.equal(0, code, e)
  return out, proj
end

local ls = H.ls

local function keygen()
  local keys = H.tmpdir() .. "/keys"
  assert.are.equal(0, (lutool("keygen -o " .. q(keys))))
  return keys
end

-- Checks `file`.sig against `file` with the public key file `pub` using
-- Python's cryptography (an implementation other than the library's).
-- Returns true/false, or nil when the module is not installed.
local function ed25519_ok(pub, file)
  if not H.sh("python3 -c 'import cryptography' 2>/dev/null") then return nil end
  return (H.sh("python3 -c " .. q([[
import sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
pub = bytes.fromhex(open(sys.argv[1]).read().strip())
sig = bytes.fromhex(open(sys.argv[2] + ".sig").read().strip())
Ed25519PublicKey.from_public_bytes(pub).verify(sig, open(sys.argv[2], "rb").read())
]]) .. " " .. q(pub) .. " " .. q(file) .. " 2>/dev/null"))
end

describe("lutool release <bundle-dir>", function()
  it("writes release/ with game.zip under its hash and release.json naming it", function()
    local b = bundle()
    local code, o, e = lutool("release " .. q(b) .. " --version 1.1")
    assert.are.equal(0, code, e)
    local sha = H.sha256(b .. "/game.zip")
    local file = "game-" .. sha:sub(1, 16) .. ".zip"
    assert.are.same({file, "release.json"}, ls(b .. "/release"))
    assert.are.equal(H.read(b .. "/game.zip"), H.read(b .. "/release/" .. file))
    local doc = json.decode(H.read(b .. "/release/release.json"))
    assert.are.equal("1.1", doc.version)
    assert.are.same({{name = "game", file = file, size = #H.read(b .. "/game.zip"), sha256 = sha, priority = 10}},
                    doc.volumes)
    assert.is_false(doc.mandatory)
    assert.is_nil(doc.min_version)
    assert.is_nil(doc.binary)
    assert.truthy(o:find(file, 1, true), o)
    assert.truthy(o:find("release.json lists 1 volume(s) for version 1.1", 1, true), o)
  end)

  it("writes every option, in either --opt V or --opt=V form", function()
    local b = bundle()
    local code, _, e = lutool("release " .. q(b) .. " --version=2.0 --min-version 1.5 --prefer-local-from=1.9 " ..
                              "--mandatory --priority=2147483647 --binary-min 1.0 --binary-max=1.9")
    assert.are.equal(0, code, e)
    local doc = json.decode(H.read(b .. "/release/release.json"))
    assert.are.equal("2.0", doc.version)
    assert.are.equal("1.5", doc.min_version)
    assert.are.equal("1.9", doc.prefer_local_from)
    assert.is_true(doc.mandatory)
    assert.are.equal(2147483647, doc.volumes[1].priority)
    assert.are.same({min = "1.0", max = "1.9"}, doc.binary)
    -- either end of the binary range alone
    assert.are.equal(0, (lutool("release " .. q(b) .. " --version 2.0 --binary-max 3")))
    assert.are.same({max = "3"}, json.decode(H.read(b .. "/release/release.json")).binary)
    assert.are.equal(0, (lutool("release " .. q(b) .. " --version 2.0 --binary-min 1.0.0")))
    assert.are.same({min = "1.0.0"}, json.decode(H.read(b .. "/release/release.json")).binary)
  end)

  it("--sign signs the volume and the document; the signatures verify", function()
    local keys = keygen()
    local b = bundle()
    local code, o, e = lutool("release " .. q(b) .. " --version 1.1 --sign " .. q(keys .. ".sec"))
    assert.are.equal(0, code, e)
    assert.truthy(o:find("(signed)", 1, true), o)
    local file = "game-" .. H.sha256(b .. "/game.zip"):sub(1, 16) .. ".zip"
    assert.are.same({file, file .. ".sig", "release.json", "release.json.sig"}, ls(b .. "/release"))
    local vo
    code, vo = lutool("verify " .. q(b .. "/release/" .. file) .. " --key " .. q(keys .. ".pub"))
    assert.are.equal(0, code, vo)
    assert.truthy(vo:find("signatures OK", 1, true), vo)
    local doc = b .. "/release/release.json"
    local ok = ed25519_ok(keys .. ".pub", doc)
    if ok ~= nil then
      assert.is_true(ok, "release.json.sig does not verify")
      local other = H.tmpdir() .. "/release.json"   -- the same signature over other bytes fails
      H.write(other, H.read(doc):gsub("1%.1", "1.2"))
      H.write(other .. ".sig", H.read(doc .. ".sig"))
      assert.is_false(ed25519_ok(keys .. ".pub", other))
    end
    -- an unsigned rerun removes the signature of the earlier document
    code, o, e = lutool("release " .. q(b) .. " --version 1.2")
    assert.are.equal(0, code, e)
    assert.is_false(H.exists(doc .. ".sig"))
    assert.truthy(o:find("removed", 1, true), o)
  end)

  it("is idempotent, and keeps the files of earlier releases", function()
    local b, proj = bundle()
    assert.are.equal(0, (lutool("release " .. q(b) .. " --version 1.1")))
    local before = {}
    for _, f in ipairs(ls(b .. "/release")) do before[f] = H.read(b .. "/release/" .. f) end
    local code, _, e = lutool("release " .. q(b) .. " --version 1.1")
    assert.are.equal(0, code, e)
    local after = {}
    for _, f in ipairs(ls(b .. "/release")) do after[f] = H.read(b .. "/release/" .. f) end
    assert.are.same(before, after)
    -- new content: a new file beside the old one; release.json names the new one
    local old = "game-" .. H.sha256(b .. "/game.zip"):sub(1, 16) .. ".zip"
    H.write(proj .. "/content/main/main.lua", MAIN .. "-- 1.2\n")
    assert.are.equal(0, (lutool("bundle " .. q(proj) .. " -o " .. q(b))))
    code, _, e = lutool("release " .. q(b) .. " --version 1.2")
    assert.are.equal(0, code, e)
    local new = "game-" .. H.sha256(b .. "/game.zip"):sub(1, 16) .. ".zip"
    assert.are_not.equal(old, new)
    local want = {old, new, "release.json"}
    table.sort(want)
    assert.are.same(want, ls(b .. "/release"))
    assert.are.equal(before[old], H.read(b .. "/release/" .. old))
    local doc = json.decode(H.read(b .. "/release/release.json"))
    assert.are.equal(new, doc.volumes[1].file)
    assert.are.equal(H.sha256(b .. "/release/" .. new), doc.volumes[1].sha256)
  end)

  it("replaces a damaged copy under the hash name", function()
    local b = bundle()
    assert.are.equal(0, (lutool("release " .. q(b) .. " --version 1.1")))
    local file = b .. "/release/game-" .. H.sha256(b .. "/game.zip"):sub(1, 16) .. ".zip"
    H.write(file, "truncated")
    assert.are.equal(0, (lutool("release " .. q(b) .. " --version 1.1")))
    assert.are.equal(H.read(b .. "/game.zip"), H.read(file))
  end)

  it("-o chooses the folder (created with its parents)", function()
    local b = bundle()
    local out = H.tmpdir() .. "/cdn/mygame"
    local code, _, e = lutool("release " .. q(b) .. " --version 1.1 -o " .. q(out))
    assert.are.equal(0, code, e)
    assert.are.same({"game-" .. H.sha256(b .. "/game.zip"):sub(1, 16) .. ".zip", "release.json"}, ls(out))
    assert.is_false(H.exists(b .. "/release/release.json"))
    assert.are.same({"game.project", "game.zip", "liveupdate"}, ls(b))
  end)
end)

describe("lutool release refuses, writing nothing", function()
  local b, zips

  before_each(function()
    b = bundle()
    zips = H.tmpdir()
    H.zip(zips .. "/forest.zip", {["f.txt"] = "f"})
  end)

  -- Runs `lutool release <dir> args` for the bundle and the folder form;
  -- each must exit `want` with `msg` in stderr and write nothing.
  local function refused(args, want, msg)
    for _, dir in ipairs({b, zips}) do
      local before = ls(dir)
      local code, o, e = lutool("release " .. q(dir) .. " " .. args)
      assert.are.equal(want, code, args .. ": " .. o .. e)
      assert.truthy(e:find(msg, 1, true), args .. ": " .. e)
      assert.are.same(before, ls(dir), args)
    end
  end

  it("a --min-version or --prefer-local-from above --version", function()
    refused("--version 1.9 --min-version 1.10", 1, "--min-version 1.10 is above --version 1.9")
    refused("--version 1.2 --prefer-local-from 1.2.1", 1, "--prefer-local-from 1.2.1 is above --version 1.2")
  end)

  it("a --binary-min above --binary-max, or a binary that is not a version", function()
    refused("--version 2 --binary-min 1.10 --binary-max 1.9", 1, "--binary-min 1.10 is above --binary-max 1.9")
    refused("--version 2 --binary-min '1 0'", 1, "'1 0' is not a version")
  end)

  it("a priority that is not a whole number from 0 to INT_MAX (a usage error, exit 2)", function()
    for _, p in ipairs({"abc", "12abc", "-1", " 5", "+5", "1.5"}) do
      refused("--version 2 --priority " .. q(p), 2, "--priority: '" .. p .. "' is not a whole number")
    end
    for _, p in ipairs({"2147483648", "99999999999999999999"}) do
      refused("--version 2 --priority " .. p, 2, "--priority: '" .. p .. "' is out of range (0..2147483647)")
    end
    refused("--version 2 --priority=''", 2, "option --priority needs a value")
  end)

  it("an option without its value (exit 2)", function()
    refused("--version 2 --priority", 2, "option --priority needs a value")
    refused("--version", 2, "option --version needs a value")
    refused("--version 2 --sign --mandatory", 2, "option --sign needs a value")
    refused("--version= 2", 2, "option --version needs a value")
    refused("--version 2 --bogus", 2, "unknown option '--bogus'")
  end)

  it("a release with no volumes", function()
    local empty = H.tmpdir()
    local code, _, e = lutool("release " .. q(empty) .. " --version 1.0")
    assert.are.equal(1, code)
    assert.truthy(e:find("holds no .zip files", 1, true), e)
    assert.are.same({}, ls(empty))
  end)

  it("-o for a folder of zips (exit 2)", function()
    local out = H.tmpdir() .. "/out"
    local code, _, e = lutool("release " .. q(zips) .. " --version 1.0 -o " .. q(out))
    assert.are.equal(2, code)
    assert.truthy(e:find("-o applies to a bundle folder", 1, true), e)
    assert.are.same({"forest.zip"}, ls(zips))
    assert.are.same({}, ls(out))
  end)

  it("a zip whose name is no mount name, before signing the others", function()
    H.zip(zips .. "/zz bad.zip", {["x"] = "x"})   -- sorts after forest.zip
    local keys = keygen()
    local code, _, e = lutool("release " .. q(zips) .. " --version 3 --sign " .. q(keys .. ".sec"))
    assert.are.equal(1, code)
    assert.truthy(e:find("zz bad.zip: mount name 'zz bad'", 1, true), e)
    assert.are.same({"forest.zip", "zz bad.zip"}, ls(zips))
  end)
end)

describe("lutool release <folder-of-zips>", function()
  it("writes release.json beside the zips under their own names, game.zip included", function()
    local dir = H.tmpdir()
    H.zip(dir .. "/game.zip", {["title.txt"] = "t"})   -- no game.project: not a bundle
    H.zip(dir .. "/forest.zip", {["f.txt"] = "f"})
    local code, _, e = lutool("release " .. q(dir) .. " --version=1.1 --priority=7 --binary-min=1.0")
    assert.are.equal(0, code, e)
    assert.are.same({"forest.zip", "game.zip", "release.json"}, ls(dir))
    local doc = json.decode(H.read(dir .. "/release.json"))
    assert.are.same({{name = "forest", file = "forest.zip", size = #H.read(dir .. "/forest.zip"),
                      sha256 = H.sha256(dir .. "/forest.zip"), priority = 7},
                     {name = "game", file = "game.zip", size = #H.read(dir .. "/game.zip"),
                      sha256 = H.sha256(dir .. "/game.zip"), priority = 7}}, doc.volumes)
    assert.are.same({min = "1.0"}, doc.binary)
  end)
end)

describe("lutool bundle and [liveupdate] public_key", function()
  local keys

  before_each(function() keys = keygen() end)

  local function with_key(value)
    return PROJECT .. "[liveupdate]\npublic_key = " .. value .. "\n"
  end

  local function starts(b)
    local code, out, err = H.run(b, "--save-dir " .. q(H.tmpdir()) .. " --frames 1")
    assert.are.equal(0, code, (out or "") .. (err or ""))
  end

  it("copies a key file named relative to the project to the same place in the bundle", function()
    local proj = H.project(with_key("keys/game.pub"), {["main/main.lua"] = MAIN})
    H.write(proj .. "/keys/game.pub", H.read(keys .. ".pub"))
    local b = H.tmpdir() .. "/bundle"
    local code, o, e = lutool("bundle " .. q(proj) .. " -o " .. q(b) .. " --sign " .. q(keys .. ".sec"))
    assert.are.equal(0, code, e)
    assert.truthy(o:find("keys/game.pub: the public key", 1, true), o)
    assert.are.equal(H.read(keys .. ".pub"), H.read(b .. "/keys/game.pub"))
    assert.are.equal(H.read(proj .. "/game.project"), H.read(b .. "/game.project"))
    os.remove(proj .. "/keys/game.pub")   -- the bundle needs nothing from the project folder
    starts(b)
    -- and its release verifies with the bundled key
    assert.are.equal(0, (lutool("release " .. q(b) .. " --version 1.1 --sign " .. q(keys .. ".sec"))))
    local file = "game-" .. H.sha256(b .. "/game.zip"):sub(1, 16) .. ".zip"
    local vcode, vo = lutool("verify " .. q(b .. "/release/" .. file) .. " --key " .. q(b .. "/keys/game.pub"))
    assert.are.equal(0, vcode, vo)
    -- a key given as 64 hex characters names no file: nothing to copy
    local hex = bundle(with_key(H.read(keys .. ".pub"):match("%x+")))
    assert.are.same({"game.project", "game.zip", "liveupdate"}, ls(hex))
    starts(hex)
  end)

  it("copies an absolute key file to the bundle root and names it in the bundle's game.project", function()
    local elsewhere = H.tmpdir() .. "/studio keys/release.pub"
    H.write(elsewhere, H.read(keys .. ".pub"))
    local ini = with_key(elsewhere) .. "[game]\nlabel = kept\n"
    local b = bundle(ini)
    assert.are.equal(H.read(keys .. ".pub"), H.read(b .. "/release.pub"))
    local want = ini:gsub("public_key = [^\n]*", "public_key = release.pub")
    assert.are.equal(want, H.read(b .. "/game.project"))
    os.remove(elsewhere)
    starts(b)
  end)

  it("treats a key path that climbs out of the project like an absolute one", function()
    local root = H.tmpdir()
    H.write(root .. "/shared/game.pub", H.read(keys .. ".pub"))
    local proj = root .. "/game"
    H.write(proj .. "/game.project", with_key("../shared/game.pub"))
    H.write(proj .. "/content/main/main.lua", MAIN)
    local b = root .. "/out"
    local code, _, e = lutool("bundle " .. q(proj) .. " -o " .. q(b))
    assert.are.equal(0, code, e)
    assert.are.equal(H.read(keys .. ".pub"), H.read(b .. "/game.pub"))
    assert.truthy(H.read(b .. "/game.project"):find("public_key = game.pub\n", 1, true))
    os.remove(root .. "/shared/game.pub")
    starts(b)
  end)

  it("refuses a key file that is missing or holds no key, writing nothing", function()
    for _, case in ipairs({{"keys/missing.pub", nil, "cannot open"}, {"/nonexistent/abs.pub", nil, "cannot open"},
                           {"keys/bad.pub", "not a key\n", "must hold 64 hex characters"}}) do
      local proj = H.project(with_key(case[1]), {["main/main.lua"] = MAIN})
      if case[2] then H.write(proj .. "/keys/bad.pub", case[2]) end
      local b = H.tmpdir() .. "/bundle"
      local code, o, e = lutool("bundle " .. q(proj) .. " -o " .. q(b))
      assert.are.equal(1, code, o .. e)
      assert.truthy(e:find("[liveupdate] public_key = " .. case[1], 1, true), e)
      local path = case[1]:sub(1, 1) == "/" and case[1] or proj .. "/" .. case[1]
      assert.truthy(e:find("'" .. path .. "'", 1, true), e)
      assert.truthy(e:find(case[3], 1, true), e)
      assert.are.same({}, ls(b))
    end
  end)

  it("says when an option has no value", function()
    local proj = H.project(PROJECT, {["main/main.lua"] = MAIN})
    local code, _, e = lutool("bundle " .. q(proj) .. " -o")
    assert.are.equal(2, code)
    assert.truthy(e:find("option -o needs a value", 1, true), e)
  end)
end)
