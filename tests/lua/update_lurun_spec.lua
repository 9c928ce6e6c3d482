-- update_lurun_spec.lua -- the update manager's start-up modes end to end
-- through lurun against nginx: async (next start, or at once with
-- apply_update), sync with success and with timeout fallback, forced sync
-- (pending update, stale game), min_version, prefer_local_from, and a
-- release that crashes before confirm() rolled back at the next start.
local H = require("helpers")

local MAIN = [[
local um
function init(self)
  um = liveupdate.get_update_manager()
  local mode = sys.get_config_string("test.behaviour", "")
  print("start", um.version, sys.load_resource("/title.txt"))
  if um.last_rollback then print("rollback", um.last_rollback.version, um.last_rollback.reason) end
  if mode == "crash" and um.get_info().on_trial then os.exit(3) end
  local checks = 0
  um.on_check_for_update(function(self, res)
    print("check", res.has_update, res.version)
    checks = checks + 1
    if mode == "periodic" and checks == 2 then sys.exit(0) end
  end)
  um.on_update_ready(function(self, res)
    print("ready", res.version)
    if mode == "apply" then assert(um.apply_update()) elseif mode ~= "wait" then sys.exit(0) end
  end)
  um.on_update_failed(function(self, res)
    print("failed", res.status, res.message)
    if mode ~= "wait" then sys.exit(0) end
  end)
end
]]

local function project(dir, update)
  H.write(dir .. "/game.project", ([[
[project]
title = Update Lurun Spec
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

-- Publishes release `version` (one volume replacing /title.txt).
local function publish(www, version, extra, volume_url)
  local file = "content-" .. version .. ".zip"
  H.zip(www .. "/" .. file, {["title.txt"] = "release " .. version})
  H.write(www .. "/release.json", ('{"version": "%s", "volumes": [{"name": "content", "%s": "%s", "size": %d, ' ..
    '"sha256": "%s", "priority": 10}]%s}'):format(version, volume_url and "url" or "file", volume_url or file,
    #H.read(www .. "/" .. file), H.sha256(www .. "/" .. file), extra or ""))
end

local lines = H.lines

describe("update manager in lurun", function()
  local www, game, save, base, stop

  before_each(function()
    www, game, save = H.tmpdir(), H.tmpdir(), H.tmpdir()
    base, stop = H.nginx(www)
  end)
  after_each(function() stop() end)

  local function run(args)
    local code, out, err = H.run(game, "--save-dir " .. H.quote(save) .. " " .. (args or "--frames 2000"))
    return code, out, err
  end

  it("async: starts at once, stages, uses the release at the next start; confirms after trial_frames", function()
    project(game, "url = " .. base .. "/release.json\ntrial_frames = 5")
    publish(www, "1.1")
    local code, out, err = run()
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.0\tbase 1.0"}, lines(out, "start"))
    assert.matches("check\ttrue\t1.1", out, 1, true)
    assert.matches("ready\t1.1", out, 1, true)
    code, out, err = run("--frames 20 --set test.behaviour=wait")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
    assert.matches("confirmed after 5 frames", err, 1, true)
    code, out = run("--frames 20 --set test.behaviour=wait")
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
    assert.are.same({}, lines(out, "rollback"))
  end)

  it("apply_update restarts the scripts on the new release in the same run", function()
    project(game, "url = " .. base .. "/release.json\ntrial_frames = 0")
    publish(www, "1.1")
    local code, out, err = run("--frames 2000 --set test.behaviour=apply")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.0\tbase 1.0", "start\t1.1\trelease 1.1"}, lines(out, "start"))
    assert.matches("restarting the scripts", err, 1, true)
  end)

  it("sync: waits for the release and starts on it; falls back to local content on timeout", function()
    project(game, "url = " .. base .. "/release.json\nmode = sync\nsync_timeout_ms = 5000")
    publish(www, "1.1")
    local code, out, err = run("--frames 5 --set test.behaviour=wait")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
    assert.matches("applied at start-up", err, 1, true)
    -- a server that never answers: the game still starts, with what it has
    local port, stop_stall = H.stalled_server()
    local save2 = H.tmpdir()
    project(game, ("url = http://127.0.0.1:%d/release.json\nmode = sync\nsync_timeout_ms = 400"):format(port))
    local t0 = os.time()
    code, out, err = H.run(game, "--save-dir " .. H.quote(save2) .. " --frames 5 --set test.behaviour=wait")
    stop_stall()
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.0\tbase 1.0"}, lines(out, "start"))
    assert.matches("start-up wait ended after 400 ms", err, 1, true)
    assert.is_true(os.time() - t0 <= 5)
  end)

  it("forces a sync start when the last check found an update it had not staged, or the game is stale", function()
    project(game, "url = " .. base .. "/release.json")
    publish(www, "1.1")
    local code, out, err = run()
    assert.matches("check\ttrue\t1.1", out, 1, true)
    -- as if the game had stopped after the check, before the volumes arrived
    local state = H.read(save .. "/update/state.json")
    state = state:gsub('"update_pending":%s*false', '"update_pending": true'):gsub('"staged":%s*%b{}', '"staged": null')
    H.write(save .. "/update/state.json", state)
    code, out, err = run("--frames 5 --set test.behaviour=wait")
    assert.are.equal(0, code, err)
    assert.matches("an update is pending", err, 1, true)
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
    -- stale: not run for longer than stale_after_days
    publish(www, "1.2")
    state = H.read(save .. "/update/state.json"):gsub('"last_run":%s*%d+', '"last_run": 1000')
    H.write(save .. "/update/state.json", state)
    code, out, err = run("--frames 5 --set test.behaviour=wait")
    assert.are.equal(0, code, err)
    assert.matches("(stale)", err, 1, true)
    assert.are.same({"start\t1.2\trelease 1.2"}, lines(out, "start"))
  end)

  it("min_version: keeps trying, reports VERSION_MISMATCH if it cannot, starts on the release once it can", function()
    project(game, "url = " .. base .. "/release.json\nsync_timeout_ms = 300")
    publish(www, "1.1", ', "min_version": "1.1"', base .. "/missing.zip")
    local code, out, err = run("--frames 200")
    assert.are.equal(0, code, err)
    -- the volume is not there: one VERSION_MISMATCH naming the real cause
    assert.matches("failed\t%-4\tcontent 1.0 is below the required min_version 1.1; the new release 1.1: .*HTTP 404", out)
    code, out, err = run("--frames 200")
    assert.are.equal(0, code, err)
    assert.matches("below min_version", err, 1, true)
    local failed = lines(out, "failed")                         -- once per start, not once per retry
    assert.are.equal(1, #failed, out)
    assert.matches("^failed\t%-4\tcontent 1.0 is below the required min_version 1.1; the new release 1.1: ", failed[1])
    publish(www, "1.1", ', "min_version": "1.1"')
    code, out, err = run("--frames 5 --set test.behaviour=wait")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
  end)

  it("prefer_local_from: a recent enough local release starts at once even in sync mode", function()
    project(game, "url = " .. base .. "/release.json\nmode = sync\nsync_timeout_ms = 5000")
    publish(www, "1.2", ', "prefer_local_from": "1.0"')
    local code, out, err = run("--frames 2000")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.0\tbase 1.0"}, lines(out, "start"))
    assert.matches("prefer_local_from 1.0: starting with it", err, 1, true)
    assert.matches("ready\t1.2", out, 1, true)                 -- downloaded in the background
  end)

  it("checks again every check_interval_s while the game runs", function()
    project(game, "url = " .. base .. "/release.json\ncheck_interval_s = 1")
    publish(www, "1.0")
    local t0 = os.time()
    local code, out, err = run("--frames 2000 --set test.behaviour=periodic")
    assert.are.equal(0, code, err)
    assert.are.same({"check\tfalse\t1.0", "check\tfalse\t1.0"}, lines(out, "check"))
    assert.is_true(os.time() - t0 >= 1)
  end)

  it("rolls back a release that crashes before confirm() and says why", function()
    project(game, "url = " .. base .. "/release.json\ntrial_frames = 0")
    publish(www, "1.1")
    local code, out, err = run()
    assert.matches("ready\t1.1", out, 1, true)
    code, out, err = run("--set test.behaviour=crash")
    assert.are.equal(3, code, err)                              -- died on 1.1, unconfirmed
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
    code, out, err = run("--frames 2000")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.0\tbase 1.0"}, lines(out, "start"))
    -- the real reason, recorded by the run that died (os.exit(3) in init)
    assert.matches("rollback\t1.1\trelease 1.1 failed on trial: the game exited with code 3 at frame 0", out, 1, true)
    assert.matches("check\tfalse\t1.1", out, 1, true)            -- not retried
    assert.matches("rolled_back", err, 1, true)                  -- in the start-up report
  end)
end)
