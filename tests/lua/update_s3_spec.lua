-- update_s3_spec.lua -- the object-storage flow of docs/UPDATES.md
-- ("Without a document: HEAD metadata") end to end through lurun against
-- s3rver, an S3-compatible server started on 127.0.0.1 (H.s3rver). The
-- packages are `lutool bundle` output (game.zip, with its
-- /liveupdate.manifest.json) uploaded as <bucket>/content.zip with signed
-- PUTs carrying x-amz-meta-version (and x-amz-meta-sha256); the game reads
-- them anonymously, as a public bucket is read. Cases: the S3 spelling of
-- user metadata and the default version_header list, an async start that
-- stages the release for the next start, the sha256 header right and wrong,
-- a newer object picked up by a later check, and a corrupt package without
-- a sha256 header (checked entry by entry against its own manifest).
local H = require("helpers")

local BUCKET = "liveupdate-games"
local OBJECT = "/" .. BUCKET .. "/content.zip"

-- test.exit_on: "any" (the default) exits on the first ready or failed
-- event, "none" never exits (the run ends after --frames), a version exits
-- when that version is ready.
local MAIN = [[
local um
function init(self)
  um = liveupdate.get_update_manager()
  local exit_on = sys.get_config_string("test.exit_on", "any")
  print("start", um.version, sys.load_resource("/title.txt"))
  if um.last_rollback then print("rollback", um.last_rollback.version, um.last_rollback.reason) end
  um.on_check_for_update(function(self, res) print("check", res.has_update, res.version) end)
  um.on_update_ready(function(self, res)
    print("ready", res.version)
    if exit_on == "any" or exit_on == res.version then sys.exit(0) end
  end)
  um.on_update_failed(function(self, res)
    print("failed", res.status, res.message)
    if exit_on == "any" then sys.exit(0) end
  end)
end
]]

-- The installed game: version 1.0, base content "base 1.0".
local function project(dir, update)
  H.write(dir .. "/game.project", ([[
[project]
title = Update S3 Spec
version = 1.0
[bootstrap]
main_script = /main/main.lua
[display]
update_frequency = 200
[update]
%s
]]):format(update))
  H.write(dir .. "/content/main/main.lua", MAIN)
  H.write(dir .. "/content/title.txt", "base 1.0")
end

-- Builds release `version` as a studio does (`lutool bundle`); returns the
-- path of its game.zip, the package to upload.
local function package(version)
  local dir = H.project(([[
[project]
title = Update S3 Spec
version = %s
[bootstrap]
main_script = /main/main.lua
]]):format(version), {["main/main.lua"] = MAIN, ["title.txt"] = "release " .. version})
  local out = H.tmpdir() .. "/bundle"
  local code, stdout, stderr = H.lutool("bundle " .. H.quote(dir) .. " -o " .. H.quote(out))
  assert(code == 0, "lutool bundle: " .. tostring(stdout) .. tostring(stderr))
  return out .. "/game.zip"
end

local lines = H.lines

local head = H.head

describe("object-storage HEAD metadata through lurun against s3rver", function()
  local game, save, base, stop, put

  before_each(function()
    game, save = H.tmpdir(), H.tmpdir()
    base, stop, put = H.s3rver()
    assert.are.equal(200, (put("/" .. BUCKET)))
  end)
  after_each(function() stop() end)

  -- Uploads `zip` as the object, with `meta` as its x-amz-meta-* headers.
  local function publish(zip, meta)
    local code, body = put(OBJECT, zip, meta)
    assert.are.equal(200, code, body)
  end

  local function run(args, save_dir)
    return H.run(game, "--save-dir " .. H.quote(save_dir or save) .. " " .. (args or "--frames 6000"))
  end

  it("s3rver: anonymous HEAD and GET; metadata comes back as lower-case x-amz-meta-*, which the default version_header matches", function()
    local zip = package("1.1")
    -- the uploader spells the headers its own way; S3 (and s3rver) store and return them lower-case
    publish(zip, {["X-Amz-Meta-Version"] = "1.1", ["X-Amz-Meta-Sha256"] = H.sha256(zip)})
    local hdr = head(base .. OBJECT)
    assert.matches("^HTTP/1%.1 200", hdr)                          -- no credentials, no public ACL needed
    assert.matches("\nx%-amz%-meta%-version: 1%.1\r\n", hdr)
    assert.matches("\nx%-amz%-meta%-sha256: " .. H.sha256(zip) .. "\r\n", hdr)
    assert.matches("\nContent%-Length: " .. #H.read(zip) .. "\r\n", hdr)
    local got = H.tmpdir() .. "/got.zip"
    assert(H.sh("env LD_PRELOAD= curl -sf -o " .. H.quote(got) .. " " .. H.quote(base .. OBJECT)))
    assert.are.equal(H.read(zip), H.read(got))
    -- the default version_header list (no version_header line) finds it ...
    project(game, "head_url = " .. base .. OBJECT)
    local code, out, err = run()
    assert.are.equal(0, code, err)
    assert.matches("check\ttrue\t1.1", out, 1, true)
    assert.matches("ready\t1.1", out, 1, true)
    -- ... and a name configured in another case too (header names are case-insensitive)
    project(game, "head_url = " .. base .. OBJECT .. "\nversion_header = X-AMZ-META-VERSION")
    code, out, err = run(nil, H.tmpdir())
    assert.are.equal(0, code, err)
    assert.matches("ready\t1.1", out, 1, true)
  end)

  it("async: the first start runs the base and stages 1.1 from x-amz-meta-version; the next start runs 1.1", function()
    project(game, "head_url = " .. base .. OBJECT .. "\ntrial_frames = 5")
    publish(package("1.1"), {["x-amz-meta-version"] = "1.1"})
    local code, out, err = run()
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.0\tbase 1.0"}, lines(out, "start"))
    assert.matches("check\ttrue\t1.1", out, 1, true)
    assert.matches("ready\t1.1", out, 1, true)
    code, out, err = run("--frames 20 --set test.exit_on=none")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
    -- confirmed after trial_frames: it stays
    code, out, err = run("--frames 20 --set test.exit_on=none")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
    assert.are.same({}, lines(out, "rollback"))
  end)

  it("x-amz-meta-sha256: the right hash applies; a wrong one is refused (HASH_MISMATCH) and never applied", function()
    local lu = require("liveupdate")
    local zip = package("1.1")
    project(game, "head_url = " .. base .. OBJECT .. "\ntrial_frames = 5")
    publish(zip, {["x-amz-meta-version"] = "1.1", ["x-amz-meta-sha256"] = string.rep("0", 64)})
    local code, out, err = run()
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.0\tbase 1.0"}, lines(out, "start"))
    assert.are.same({}, lines(out, "ready"))
    local failed = lines(out, "failed")
    assert.are.equal(1, #failed, out)
    assert.are.equal("failed\t" .. lu.LIVEUPDATE_HASH_MISMATCH, failed[1]:match("^failed\t%-?%d+"), out)
    code, out, err = run("--frames 20 --set test.exit_on=none")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.0\tbase 1.0"}, lines(out, "start"))  -- nothing was staged
    -- the same package with its real hash, in a fresh install
    publish(zip, {["x-amz-meta-version"] = "1.1", ["x-amz-meta-sha256"] = H.sha256(zip)})
    local save2 = H.tmpdir()
    code, out, err = run(nil, save2)
    assert.are.equal(0, code, err)
    assert.matches("ready\t1.1", out, 1, true)
    assert.are.same({}, lines(out, "failed"))
    code, out, err = run("--frames 20 --set test.exit_on=none", save2)
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
  end)

  it("a newer object version published later is picked up by the next check", function()
    project(game, "head_url = " .. base .. OBJECT .. "\ntrial_frames = 5")
    local zip = package("1.1")
    publish(zip, {["x-amz-meta-version"] = "1.1", ["x-amz-meta-sha256"] = H.sha256(zip)})
    local code, out, err = run()
    assert.are.equal(0, code, err)
    assert.matches("ready\t1.1", out, 1, true)
    code, out, err = run("--frames 20 --set test.exit_on=none")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
    -- the studio uploads 1.2 over the same key
    zip = package("1.2")
    publish(zip, {["x-amz-meta-version"] = "1.2", ["x-amz-meta-sha256"] = H.sha256(zip)})
    code, out, err = run("--frames 6000 --set test.exit_on=1.2")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
    assert.matches("check\ttrue\t1.2", out, 1, true)
    assert.matches("ready\t1.2", out, 1, true)
    code, out, err = run("--frames 20 --set test.exit_on=none")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.2\trelease 1.2"}, lines(out, "start"))
  end)

  -- A packaging mistake: release 1.1 rebuilt with a changed file (same size,
  -- so a valid zip with valid CRCs and the same Content-Length) but the old
  -- /liveupdate.manifest.json, uploaded without x-amz-meta-sha256: the
  -- runtime checks every entry against the package's own manifest before
  -- staging.
  it("a corrupt package published WITHOUT x-amz-meta-sha256 is never applied: entries are checked against its manifest", function()
    local lu = require("liveupdate")
    local good = package("1.1")
    local work = H.tmpdir()
    assert(H.sh("cd " .. H.quote(work) .. " && unzip -q " .. H.quote(good)))
    assert.are.equal("release 1.1", H.read(work .. "/title.txt"))
    H.write(work .. "/title.txt", "RELEASE 1.1")                  -- same size, other bytes
    local bad = H.tmpdir() .. "/content.zip"
    assert(H.sh("cd " .. H.quote(work) .. " && zip -X -q -r " .. H.quote(bad) .. " ."))
    -- the fixture is what it claims: a sound zip (valid CRCs) carrying the
    -- same manifest, whose title entry has its old size and other bytes
    assert(H.sh("unzip -tq " .. H.quote(bad) .. " >/dev/null"))
    local function entry(zip, name)
      local p = io.popen("unzip -p " .. H.quote(zip) .. " " .. H.quote(name))
      local text = p:read("a")
      p:close()
      return text
    end
    assert.are.equal(entry(good, "liveupdate.manifest.json"), entry(bad, "liveupdate.manifest.json"))
    assert.are.equal(#entry(good, "title.txt"), #entry(bad, "title.txt"))
    assert.are_not.equal(entry(good, "title.txt"), entry(bad, "title.txt"))
    assert.are.equal(0, (H.lutool("verify " .. H.quote(good))))
    local vcode, vout, verr = H.lutool("verify " .. H.quote(bad))
    assert.are_not.equal(0, vcode)
    assert.matches("title.txt", vout .. verr, 1, true)
    project(game, "head_url = " .. base .. OBJECT .. "\ntrial_frames = 5")
    publish(bad, {["x-amz-meta-version"] = "1.1"})
    local code, out, err = run()
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.0\tbase 1.0"}, lines(out, "start"))
    assert.are.same({}, lines(out, "ready"))
    local failed = lines(out, "failed")
    assert.are.equal(1, #failed, out)
    assert.are.equal("failed\t" .. lu.LIVEUPDATE_HASH_MISMATCH, failed[1]:match("^failed\t%-?%d+"), out)
    assert.matches("title.txt", failed[1], 1, true)
    code, out, err = run("--frames 20 --set test.exit_on=none")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.0\tbase 1.0"}, lines(out, "start"))  -- never applied
  end)
end)
