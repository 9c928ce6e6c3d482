-- lutool_verify_spec.lua -- `lutool inspect` and `lutool verify` on a real
-- bundle: what inspect reports, and every kind of damage verify must catch
-- (a flipped byte, a changed entry with a valid CRC, an extra entry, a
-- replaced volume, a tampered signature, the wrong key), plus --help and
-- exit statuses of every command.
local H = require("helpers")

local lutool = H.lutool

local PROJECT = [[
[project]
title = Verify Spec
[bootstrap]
main_script = /main/main.lua
[proxy.level1]
collection = /level1/level1.collection
resources = /level1/**
exclude = 1
volume = forest
[volume.forest]
version = 3
priority = 10
]]

local CONTENT = {
  ["main/main.lua"] = "-- main\n",
  ["level1/level1.collection"] = "collection level1\n",
  ["level1/map.txt"] = string.rep("forest map row\n", 200),
}

-- Rewrites zip `path` with Python's zipfile: `entry` gets `text` (a valid
-- CRC), or, with add = true, a new entry is appended.
local function repack(path, entry, text, add)
  local script = H.tmpdir() .. "/repack.py"
  H.write(script, [[
import sys, zipfile
path, entry, text, add = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
with zipfile.ZipFile(path) as z:
    items = [(i, z.read(i.filename)) for i in z.infolist()]
with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as z:
    for info, data in items:
        if info.filename == entry and not add:
            data = text.encode()
        z.writestr(info.filename, data)
    if add:
        z.writestr(entry, text)
]])
  assert(H.sh("python3 " .. H.quote(script) .. " " .. H.quote(path) .. " " .. H.quote(entry) .. " " ..
              H.quote(text) .. " " .. (add and "1" or "0")))
end

-- Flips one byte in the middle of `entry`'s stored data (found with zipfile).
local function flip_byte(path, entry)
  local script = H.tmpdir() .. "/flip.py"
  H.write(script, [[
import struct, sys, zipfile
path, entry = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(path) as z:
    info = z.getinfo(entry)
with open(path, "r+b") as f:
    f.seek(info.header_offset + 26)
    n, m = struct.unpack("<HH", f.read(4))
    at = info.header_offset + 30 + n + m + info.compress_size // 2
    f.seek(at)
    b = f.read(1)
    f.seek(at)
    f.write(bytes([b[0] ^ 0x55]))
]])
  assert(H.sh("python3 " .. H.quote(script) .. " " .. H.quote(path) .. " " .. H.quote(entry)))
end

local function copy(from, to)
  assert(H.sh("cp " .. H.quote(from) .. " " .. H.quote(to)))
end

describe("lutool inspect and verify", function()
  local work, out, keys

  before_each(function()
    work = H.tmpdir()
    local proj = H.project(PROJECT, CONTENT)
    keys = work .. "/k"
    assert.equal(0, (lutool("keygen -o " .. H.quote(keys))))
    out = work .. "/out"
    local code, _, e = lutool("bundle " .. H.quote(proj) .. " -o " .. H.quote(out) .. " --sign " .. H.quote(keys .. ".sec"))
    assert.equal(0, code, e)
  end)

  it("inspect lists entries, the manifest, the version file and the catalog", function()
    local code, o = lutool("inspect " .. H.quote(out))
    assert.equal(0, code)
    assert.truthy(o:find("/main/main.lua", 1, true))
    assert.truthy(o:find("/level1/map.txt", 1, true))
    assert.truthy(o:find("manifest: 3 resource(s), 1 proxy(ies), 1 volume(s)", 1, true), o)
    assert.truthy(o:find("proxy level1%s+2 resource%(s%), excluded, volume forest"), o)
    assert.truthy(o:find("/version_forest.json: version 3", 1, true), o)
    assert.truthy(o:find("forest%s+forest.zip%s+.-OK"), o)
    assert.truthy(o:find("2.9 KiB", 1, true), o) -- map.txt: 3000 bytes
  end)

  it("inspect reports a missing and a mismatched volume", function()
    os.remove(out .. "/liveupdate/forest.zip")
    local code, o = lutool("inspect " .. H.quote(out))
    assert.equal(0, code)
    assert.truthy(o:find("forest.zip.-MISSING"), o)
    H.zip(out .. "/liveupdate/forest.zip", {["x.txt"] = "x"})
    code, o = lutool("inspect " .. H.quote(out))
    assert.equal(0, code)
    assert.truthy(o:find("forest.zip.-MISMATCH %(size"), o)
  end)

  it("verify passes an intact bundle, with and without the key", function()
    local code, o = lutool("verify " .. H.quote(out))
    assert.equal(0, code, o)
    assert.truthy(o:find("verify: " .. out .. ": OK (", 1, true), o)
    code, o = lutool("verify " .. H.quote(out) .. " --key " .. H.quote(keys .. ".pub"))
    assert.equal(0, code, o)
    assert.truthy(o:find("signatures OK", 1, true), o)
    code, o = lutool("verify " .. H.quote(out .. "/liveupdate/forest.zip") .. " --key " .. H.quote(keys .. ".pub"))
    assert.equal(0, code, o)
    assert.truthy(o:find("2 checked against the manifest", 1, true), o)
  end)

  it("verify catches a flipped byte in an entry and names the entry", function()
    local vol = out .. "/liveupdate/forest.zip"
    flip_byte(vol, "level1/map.txt")
    local code, o = lutool("verify " .. H.quote(vol))
    assert.equal(1, code, o)
    assert.truthy(o:find("PROBLEM: .-level1/map.txt.-corrupt"), o)
    assert.truthy(o:find("problem%(s%)\n$"), o)
    code, o = lutool("verify " .. H.quote(out))
    assert.equal(1, code, o)
    assert.truthy(o:find("volume 'forest': MISMATCH", 1, true), o)
  end)

  it("verify catches changed content with a valid CRC, and an extra entry", function()
    local vol = out .. "/liveupdate/forest.zip"
    repack(vol, "level1/map.txt", "a different map\n")
    local code, o = lutool("verify " .. H.quote(vol))
    assert.equal(1, code, o)
    assert.truthy(o:find("/level1/map.txt: size 16, manifest says 3000", 1, true), o)
    copy(out .. "/game.zip", work .. "/g.zip")
    repack(work .. "/g.zip", "main/main.lua", "-- evil\n")
    code, o = lutool("verify " .. H.quote(work .. "/g.zip"))
    assert.equal(1, code, o)
    assert.truthy(o:find("/main/main.lua: sha256 %x+, manifest says %x+"), o)
    copy(out .. "/game.zip", work .. "/g2.zip")
    repack(work .. "/g2.zip", "main/extra.lua", "print(1)", true)
    code, o = lutool("verify " .. H.quote(work .. "/g2.zip"))
    assert.equal(1, code, o)
    assert.truthy(o:find("/main/extra.lua: not in the manifest", 1, true), o)
  end)

  it("verify catches a volume the manifest lists but the zip lacks", function()
    copy(out .. "/game.zip", work .. "/g.zip")
    local script = H.tmpdir() .. "/drop.py"
    H.write(script, [[
import sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z:
    items = [(i.filename, z.read(i.filename)) for i in z.infolist() if i.filename != "main/main.lua"]
with zipfile.ZipFile(sys.argv[1], "w") as z:
    for n, d in items: z.writestr(n, d)
]])
    assert(H.sh("python3 " .. H.quote(script) .. " " .. H.quote(work .. "/g.zip")))
    local code, o = lutool("verify " .. H.quote(work .. "/g.zip"))
    assert.equal(1, code, o)
    assert.truthy(o:find("/main/main.lua: in the manifest but not in the zip", 1, true), o)
    assert.falsy(o:find("/level1/map.txt: in the manifest", 1, true), o) -- ships in the volume
  end)

  it("verify catches a replaced volume, a tampered signature and the wrong key", function()
    local vol = out .. "/liveupdate/forest.zip"
    local sig = H.read(vol .. ".sig")
    H.write(vol .. ".sig", (sig:sub(1, 10) == "0000000000" and "1111111111" or "0000000000") .. sig:sub(11))
    local code, o = lutool("verify " .. H.quote(out) .. " --key " .. H.quote(keys .. ".pub"))
    assert.equal(1, code, o)
    assert.truthy(o:find("does not match its signature", 1, true), o)
    code = lutool("verify " .. H.quote(out)) -- without --key signatures are not read
    assert.equal(0, code)
    H.write(vol .. ".sig", sig)
    assert.equal(0, (lutool("keygen -o " .. H.quote(work .. "/other"))))
    code, o = lutool("verify " .. H.quote(vol) .. " --key " .. H.quote(work .. "/other.pub"))
    assert.equal(1, code, o)
    assert.truthy(o:find("does not match its signature", 1, true), o)
    os.remove(vol .. ".sig")
    code, o = lutool("verify " .. H.quote(vol) .. " --key " .. H.quote(keys .. ".pub"))
    assert.equal(1, code, o)
    assert.truthy(o:find("no valid signature", 1, true), o)
    -- a different but valid zip in place of the volume, signed with the right key
    H.zip(vol, {["level1/map.txt"] = "swapped"})
    assert.equal(0, (lutool("sign " .. H.quote(vol) .. " --key " .. H.quote(keys .. ".sec"))))
    code, o = lutool("verify " .. H.quote(out) .. " --key " .. H.quote(keys .. ".pub"))
    assert.equal(1, code, o)
    assert.truthy(o:find("volume 'forest': MISMATCH", 1, true), o)
  end)

  it("release writes a signed version document for a folder of volumes", function()
    local dir = work .. "/server"
    assert(H.sh("mkdir -p " .. H.quote(dir) .. " && cp " .. H.quote(out .. "/liveupdate/forest.zip") .. " " .. H.quote(dir)))
    H.zip(dir .. "/castle.zip", {["c.txt"] = "c"})
    local code, o, e = lutool("release " .. H.quote(dir) .. " --version 2.0.1 --min-version 2.0 --priority 7 --sign " ..
                              H.quote(keys .. ".sec"))
    assert.are.equal(0, code, e)
    assert.truthy(o:find("lists 2 volume(s) for version 2.0.1 (signed)", 1, true), o)
    local doc = require("dkjson").decode(H.read(dir .. "/release.json"))
    assert.are.equal("2.0.1", doc.version)
    assert.are.equal("2.0", doc.min_version)
    assert.are.same({"castle", "forest"}, {doc.volumes[1].name, doc.volumes[2].name})
    assert.are.equal(H.sha256(dir .. "/forest.zip"), doc.volumes[2].sha256)
    assert.are.equal(7, doc.volumes[1].priority)
    for _, f in ipairs({"release.json", "castle.zip", "forest.zip"}) do assert.truthy(H.exists(dir .. "/" .. f .. ".sig"), f) end
    for _, f in ipairs({"castle.zip", "forest.zip"}) do
      assert.are.equal(0, (lutool("verify " .. H.quote(dir .. "/" .. f) .. " --key " .. H.quote(keys .. ".pub"))), f)
    end
    code, _, e = lutool("release " .. H.quote(dir) .. " --version '1 0'")
    assert.are.equal(1, code)
    assert.truthy(e:find("'1 0' is not a version", 1, true), e)
    H.zip(dir .. "/_bad.zip", {["x"] = "x"})
    code, _, e = lutool("release " .. H.quote(dir) .. " --version 3")
    assert.are.equal(1, code)
    assert.truthy(e:find("_bad.zip: mount name '_bad' is reserved", 1, true), e)
    assert.are.equal(2, (lutool("release " .. H.quote(dir))))
  end)

  -- keygen wrote libsodium's 64-byte secret key (seed, then public key)
  -- before liveupdate moved to libcrypto: such a file still signs, to the
  -- byte; one whose halves do not belong together signs nothing
  it("sign and bundle --sign take the key files keygen wrote before, and refuse mismatched ones", function()
    local seed = "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
    local pub = "4fd099ccd47d7893dfe9ec24414ecb0d9b5420232aad30d91c465be33cbe65c4"
    H.write(work .. "/old.sec", seed .. pub .. "\n")
    local file = work .. "/volume.zip"
    H.write(file, "liveupdate: a volume signed with libsodium 1.0.18 before the switch to libcrypto\n")
    assert.equal(0, (lutool("sign " .. H.quote(file) .. " --key " .. H.quote(work .. "/old.sec"))))
    assert.equal("64e645406d64ab6ec7743424b5ca1d8766c5ae52ab4277dc62f240fdb6b9e4a3"
      .. "dc06f04514137618b74e539bb2a3823a209ee51c74bd95ced759761997161701\n", H.read(file .. ".sig"))
    os.remove(file .. ".sig")
    H.write(work .. "/mixed.sec", seed .. "5" .. pub:sub(2) .. "\n")
    local code, _, e = lutool("sign " .. H.quote(file) .. " --key " .. H.quote(work .. "/mixed.sec"))
    assert.equal(1, code)
    assert.truthy(e:find("mixed.sec", 1, true) and e:find("public key", 1, true), e)
    assert.is_nil(H.read(file .. ".sig"))
    code, _, e = lutool("bundle " .. H.quote(H.project(PROJECT, CONTENT)) .. " -o " .. H.quote(work .. "/out2")
      .. " --sign " .. H.quote(work .. "/mixed.sec"))
    assert.equal(1, code)
    assert.truthy(e:find("mixed.sec", 1, true), e)
  end)

  it("every command has --help (exit 0); bad arguments exit 2; a missing file exits 1", function()
    for _, cmd in ipairs({"bundle", "inspect", "verify", "release", "keygen", "sign", "console"}) do
      local code, o = lutool(cmd .. " --help")
      assert.equal(0, code, cmd)
      assert.truthy(o:find("usage: lutool " .. cmd, 1, true), cmd)
    end
    assert.equal(0, (lutool("--help")))
    -- --version prints the library's run-time version (lu_version), the
    -- LU_VERSION_STR of liveupdate.h
    local hf = assert(io.open(H.root .. "/engine/include/liveupdate/liveupdate.h"))
    local want = hf:read("a"):match('#define LU_VERSION_STR "([^"]+)"')
    hf:close()
    local vcode, vo = lutool("--version")
    assert.equal(0, vcode)
    assert.equal("lutool (liveupdate) " .. want .. "\n", vo)
    assert.equal(2, (lutool("")))
    assert.equal(2, (lutool("frobnicate")))
    assert.equal(2, (lutool("inspect")))
    assert.equal(2, (lutool("inspect a b")))
    assert.equal(2, (lutool("verify --bogus x")))
    assert.equal(2, (lutool("verify")))
    local code, _, e = lutool("verify " .. H.quote(work .. "/nope.zip"))
    assert.equal(1, code)
    assert.truthy(e:find("nope.zip", 1, true), e)
    code, _, e = lutool("inspect " .. H.quote(work .. "/nope.zip"))
    assert.equal(1, code)
    assert.truthy(e:find("lutool inspect: .-nope.zip"), e)
    code, _, e = lutool("verify " .. H.quote(out) .. " --key " .. H.quote(work .. "/nokey.pub"))
    assert.equal(1, code)
    assert.truthy(e:find("nokey.pub", 1, true), e)
  end)
end)
