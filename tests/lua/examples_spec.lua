-- examples_spec.lua -- the examples/ games run on lurun, as a user runs them.
local H = require("helpers")

local function bundle()
  local out = H.tmpdir() .. "/bundle"
  assert(H.sh(H.quote(H.root .. "/examples/defold_manual/build_bundle.sh") .. " " .. H.quote(out)))
  return out
end

local FAST = " --set display.update_frequency=1000 --frames 2000"

describe("Defold manual scripts (examples/defold_manual)", function()
  it("download, mount and load the level; the next run downloads nothing", function()
    local out, save = bundle(), H.tmpdir()
    local code, stdout, stderr = H.run(out, "--save-dir " .. H.quote(save) .. FAST)
    assert.are.equal(0, code, stderr)
    assert.are.equal("level1: running, served by mount 'liveupdate'\n", stdout)
    assert.is_truthy(H.exists(save .. "/mygame/liveupdate.zip"))
    -- second run: the mount persisted; with the archive gone from the server
    -- a download attempt would print "Failed to download archive"
    assert(H.sh("rm -rf " .. H.quote(out .. "/liveupdate")))
    code, stdout = H.run(out, "--save-dir " .. H.quote(save) .. FAST)
    assert.are.equal(0, code)
    assert.are.equal("level1: running, served by mount 'liveupdate'\n", stdout)
    -- a raised minimum version: remove_old_mounts drops the mount, so the
    -- loader tries to download again
    code, stdout = H.run(out, "--save-dir " .. H.quote(save) .. FAST .. " --set game.minimum_lu_version=2")
    assert.are.equal(0, code)
    assert.matches("^Failed to download archive", stdout)
  end)

  it("works over HTTP from nginx", function()
    local out, save = bundle(), H.tmpdir()
    local base, stop = H.nginx(out .. "/liveupdate")
    local code, stdout, stderr = H.run(out, "--save-dir " .. H.quote(save) .. FAST .. " --set game.http_url=" .. base)
    stop()
    assert.are.equal(0, code, stderr)
    assert.are.equal("level1: running, served by mount 'liveupdate'\n", stdout)
  end)
end)
