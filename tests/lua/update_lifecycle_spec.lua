-- update_lifecycle_spec.lua -- where a shipped game's update life gets
-- messy, through lurun against nginx with real processes: a late
-- apply_update() still puts the release on trial; the rollback says the real
-- reason (Lua error, exit code, crash signal); a store update replaces an
-- older hot release; each fact is told once; download = ask lets the player
-- decline; below min_version the base bundle's script runs, retries back
-- off and the release is applied when it arrives; mandatory and the compare
-- hook reach the script and the start-up; a corrupt package published
-- without a SHA-256 is never applied nor fetched again; a release adds a
-- level.
local H = require("helpers")

-- The base game's main script. Prints one tagged line per fact (stdout
-- unbuffered, so a test can follow a running game).
local MAIN = [[
io.stdout:setvbuf("no")
local um
local frames, ready = 0, false
local mode = sys.get_config_string("test.behaviour", "")
function init(self)
  um = liveupdate.get_update_manager()
  local info = um.get_info()
  print("start", um.version, sys.load_resource("/title.txt"))
  if info.blocked then print("blocked", info.blocked.required, info.blocked.current) end
  if um.last_rollback then print("rollback", um.last_rollback.version, um.last_rollback.reason) end
  um.on_check_for_update(function(self, res)
    print("check", res.has_update, res.version, res.mandatory)
    if mode == "decline" and res.has_update then print("declined") end
    if mode == "accept" and res.has_update then print("download", um.download()) end
  end)
  um.on_update_ready(function(self, res)
    print("ready", res.version)
    if mode == "apply" then assert(um.apply_update()) end
    ready = true
  end)
  um.on_update_failed(function(self, res) print("failed", res.status, res.message) end)
end
function update(self, dt)
  frames = frames + 1
  if mode == "late" and ready and frames == 30 then print("late apply", um.apply_update()) end
end
]]

local function project(dir, update, version, title)
  H.write(dir .. "/game.project", ([[
[project]
title = Update Lifecycle Spec
version = %s
[bootstrap]
main_script = /main/main.lua
[display]
update_frequency = 200
[update]
%s
]]):format(version or "1.0", update))
  H.write(dir .. "/content/main/main.lua", MAIN)
  H.write(dir .. "/content/title.txt", title or "base 1.0")
end

-- Publishes release `version`: one volume "content" holding `files`
-- (default: a new /title.txt), listed in release.json with `extra` fields.
local function publish(www, version, files, extra, url)
  local file = "content-" .. version .. ".zip"
  H.zip(www .. "/" .. file, files or {["title.txt"] = "release " .. version})
  H.write(www .. "/release.json", ('{"version": "%s", "volumes": [{"name": "content", "%s": "%s", "size": %d, ' ..
    '"sha256": "%s", "priority": 10}]%s}'):format(version, url and "url" or "file", url or file,
    #H.read(www .. "/" .. file), H.sha256(www .. "/" .. file), extra or ""))
end

local function lines(out, tag)
  local t = {}
  for l in (out or ""):gmatch("[^\n]+") do
    if l:sub(1, #tag + 1) == tag .. "\t" or l == tag then t[#t + 1] = l end
  end
  return t
end

local requests, rel_files = H.requests, H.release_files

describe("update lifecycle in lurun", function()
  local www, game, save, base, stop, ngdir

  before_each(function()
    www, game, save = H.tmpdir(), H.tmpdir(), H.tmpdir()
    base, stop, _, ngdir = H.nginx(www)
  end)
  after_each(function() stop() end)

  local function run(args)
    return H.run(game, "--save-dir " .. H.quote(save) .. " " .. (args or "--frames 300"))
  end

  it("a late apply_update() puts the release on trial: an init error rolls it back with that error", function()
    project(game, "url = " .. base .. "/release.json\ntrial_frames = 5")
    publish(www, "1.1", {["title.txt"] = "release 1.1",
      ["main/main.lua"] = 'function init(self) print("start", "1.1") error("boom in the new init") end'})
    local code, out, err = run("--frames 300 --set test.behaviour=late")
    assert.are.equal(1, code, err)                 -- applied at frame 30 (> trial_frames), then init raised
    assert.are.same({"late apply\ttrue"}, lines(out, "late apply"))
    assert.are.same({"start\t1.0\tbase 1.0", "start\t1.1"}, lines(out, "start"))
    assert.not_matches("confirmed", err, 1, true)
    code, out, err = run("--frames 20")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.0\tbase 1.0"}, lines(out, "start"))
    local rb = lines(out, "rollback")
    assert.are.equal(1, #rb, out)
    assert.matches("release 1.1 failed on trial: Lua error in .* at frame %d+: .*boom in the new init", rb[1])
    -- a fixed release published afterwards is reached
    publish(www, "1.2")
    code, out, err = run("--frames 300 --set test.behaviour=apply")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.0\tbase 1.0", "start\t1.2\trelease 1.2"}, lines(out, "start"))
  end)

  it("a release that exits with an error code or crashes with a signal is rolled back with that reason", function()
    project(game, "url = " .. base .. "/release.json\ntrial_frames = 0")
    publish(www, "1.1", {["title.txt"] = "release 1.1", ["main/main.lua"] = [[
      function init(self)
        print("start", "1.1")
        sys.exit(7)
      end]]})
    local code, out, err = run()
    assert.matches("ready\t1.1", out, 1, true)
    code, out, err = run("--frames 20")
    assert.are.equal(7, code, err)
    code, out = run("--frames 20")
    assert.matches("rollback\t1.1\trelease 1.1 failed on trial: the game exited with code 7 at frame 0", out, 1, true)
    -- the same release is not retried; a new one crashes with SIGSEGV
    publish(www, "1.2", {["title.txt"] = "release 1.2", ["main/main.lua"] = [[
      function init(self)
        local pid = io.open("/proc/self/stat"):read("*l"):match("^(%d+)")
        os.execute("kill -SEGV " .. pid)
        for i = 1, 1e9 do end
      end]]})
    code, out = run("--frames 300")
    assert.matches("ready\t1.2", out, 1, true)
    code = run("--frames 20")
    assert.are_not.equal(0, code)
    code, out = run("--frames 20")
    assert.matches("rollback\t1.2\trelease 1.2 failed on trial: the game crashed with signal 11 %(SIGSEGV%)", out)
  end)

  it("a clean quit during the trial keeps the release on trial; a killed run rolls it back", function()
    project(game, "url = " .. base .. "/release.json\ntrial_frames = 1000")
    publish(www, "1.1")
    run()
    local code, out = run("--frames 10")           -- quits after 10 frames: still on trial
    assert.are.equal(0, code)
    code, out = run("--frames 10")
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
    assert.are.same({}, lines(out, "rollback"))
    -- killed (SIGKILL) mid-trial: the next start rolls back and says so
    H.sh(H.lurun_prefix .. " timeout -s KILL 1 " .. H.quote(H.lurun) .. " " .. H.quote(game) .. " --save-dir " .. H.quote(save) ..
         " >/dev/null 2>&1")
    code, out = run("--frames 10")
    assert.are.same({"start\t1.0\tbase 1.0"}, lines(out, "start"))
    assert.matches("without confirm%(%) or a clean exit", out)
  end)

  it("a store update drops an older hot release; a document for other binaries is never offered", function()
    project(game, "url = " .. base .. "/release.json\ntrial_frames = 5")
    publish(www, "1.1")
    run()
    local code, out, err = run("--frames 20")
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
    -- store build 1.2: new [project] version, new base content
    project(game, "url = " .. base .. "/release.json\ntrial_frames = 5", "1.2", "base 1.2")
    code, out, err = run("--frames 20")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.2\tbase 1.2"}, lines(out, "start"))
    assert.matches("start-up: dropped '1.1': release 1.1 was made for store binary 1.0, this is 1.2", err, 1, true)
    assert.matches("check\tfalse\t1.1", out, 1, true)
    assert.are.same({}, rel_files(save))             -- its files are collected
    -- a release for binaries 2.x only is not offered to 1.2
    publish(www, "1.3", nil, ', "binary": {"min": "2.0"}')
    code, out, err = run("--frames 50")
    assert.matches("check\tfalse\t1.3", out, 1, true)
    assert.are.same({}, lines(out, "ready"))
    -- a release made for binary 1.2 (no range: the binary that fetched it) ...
    publish(www, "1.4")
    run("--frames 50")
    code, out = run("--frames 20")
    assert.are.same({"start\t1.4\trelease 1.4"}, lines(out, "start"))
    -- ... is dropped under binary 1.3 even though 1.4 is newer than its content
    project(game, "url = " .. base .. "/release.json\ntrial_frames = 5", "1.3", "base 1.3")
    code, out, err = run("--frames 20")
    assert.are.same({"start\t1.3\tbase 1.3"}, lines(out, "start"))
    assert.matches("release 1.4 was made for store binary 1.2, this is 1.3", err, 1, true)
  end)

  it("tells each fact once: after a sync or cold-start apply the script hears of no update to the version it runs",
    function()
    project(game, "url = " .. base .. "/release.json\nmode = sync\nsync_timeout_ms = 5000\ntrial_frames = 5")
    publish(www, "1.1")
    local code, out, err = run("--frames 50 --set test.behaviour=apply")
    assert.are.equal(0, code, err)                    -- assert(um.apply_update()) would have raised
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
    assert.are.same({}, lines(out, "ready"))
    assert.are.same({"check\tfalse\t1.1\tfalse"}, lines(out, "check"))
    -- cold start: staged by one run, applied by the next
    project(game, "url = " .. base .. "/release.json\ntrial_frames = 5")
    publish(www, "1.2")
    run("--frames 100")
    code, out, err = run("--frames 50 --set test.behaviour=apply")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.2\trelease 1.2"}, lines(out, "start"))
    assert.are.same({}, lines(out, "ready"))
  end)

  it("download = ask: a declined update is neither downloaded nor installed; an accepted one is", function()
    project(game, "url = " .. base .. "/release.json\ndownload = ask\ntrial_frames = 5")
    publish(www, "1.1")
    local code, out, err = run("--frames 100 --set test.behaviour=decline")
    assert.are.equal(0, code, err)
    assert.are.same({"check\ttrue\t1.1\tfalse"}, lines(out, "check"))
    assert.are.same({"declined"}, lines(out, "declined"))
    code, out = run("--frames 100 --set test.behaviour=decline")
    assert.are.same({"start\t1.0\tbase 1.0"}, lines(out, "start"))   -- not installed
    assert.are.same({"declined"}, lines(out, "declined"))             -- offered again
    assert.are.equal(0, requests(ngdir, "/content-1.1.zip"))          -- never downloaded
    assert.are.same({}, rel_files(save))
    code, out = run("--frames 100 --set test.behaviour=accept")
    assert.are.same({"download\ttrue"}, lines(out, "download"))
    assert.matches("ready\t1.1", out, 1, true)
    code, out = run("--frames 20")
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
  end)

  it("mandatory reaches the script; the compare hook decides at a sync start too", function()
    project(game, "url = " .. base .. "/release.json\nmode = sync\nsync_timeout_ms = 5000\n" ..
                  "version_compare = /main/cmp.lua")
    H.write(game .. "/content/main/cmp.lua", "return function(a, b) return 0 end   -- every version is the same")
    publish(www, "1.1", nil, ', "mandatory": true, "min_version": "1.1"')
    local code, out, err = run("--frames 50 --set test.behaviour=wait")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.0\tbase 1.0"}, lines(out, "start"))   -- the hook says 1.1 is not newer
    assert.are.same({"check\tfalse\t1.1\ttrue"}, lines(out, "check"))
    assert.are.same({}, lines(out, "blocked"))                       -- nor is 1.0 below min_version 1.1
    assert.not_matches("applied at start-up", err, 1, true)
    -- without the hook, the same start waits for 1.1 and starts on it
    H.write(game .. "/content/main/cmp.lua", "return 42")
    code, out, err = run("--frames 50")
    assert.matches("does not return a function", err, 1, true)
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
  end)

  it("below min_version: the base script runs once blocked, retries back off, the release is applied on arrival",
    function()
    project(game, "url = " .. base .. "/release.json\nsync_timeout_ms = 300\ntrial_frames = 5")
    publish(www, "1.1", {["title.txt"] = "release 1.1",
      ["main/main.lua"] = 'io.stdout:setvbuf("no") function init(self) print("start", "1.1", "release main") end'})
    run()
    local code, out = run("--frames 20")
    assert.are.same({"start\t1.1\trelease main"}, lines(out, "start"))
    -- 1.2 is required, and its volume is not there yet
    publish(www, "1.2", nil, ', "min_version": "1.2"', base .. "/later/content-1.2.zip")
    run("--frames 20")                                 -- fetches the document: the floor is now known
    local before = requests(ngdir, "/release.json")
    code, out = run("--frames 600")                    -- 3 s at 200 frames per second
    assert.are.equal(0, code)
    -- the base bundle's main script (the release's prints "release main"), over the mounts
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
    assert.are.same({"blocked\t1.2\t1.1"}, lines(out, "blocked"))
    assert.are.equal(1, #lines(out, "failed"), out)                   -- once, not once per retry
    local fetched = requests(ngdir, "/release.json") - before
    assert.is_true(fetched >= 1 and fetched <= 4, "document fetched " .. fetched .. " times in 3 s")
    -- the volume appears while the game runs: applied as soon as it arrives
    local outf, errf = os.tmpname(), os.tmpname()
    H.sh(H.lurun_prefix .. " " .. H.quote(H.lurun) .. " " .. H.quote(game) .. " --save-dir " .. H.quote(save) ..
         " --frames 4000 --set test.behaviour=wait >" .. H.quote(outf) .. " 2>" .. H.quote(errf) ..
         " & echo $! > " .. H.quote(outf .. ".pid"))
    for _ = 1, 400 do
      if #lines(H.read(outf), "blocked") > 0 then break end
      H.sh("sleep 0.05")
    end
    assert.are.same({"blocked\t1.2\t1.1"}, lines(H.read(outf), "blocked"))
    H.sh("mkdir -p " .. H.quote(www .. "/later") .. " && cp " .. H.quote(www .. "/content-1.2.zip") .. " " ..
         H.quote(www .. "/later/"))
    local arrived = false
    for _ = 1, 600 do
      if #lines(H.read(outf), "start") >= 2 then arrived = true break end
      H.sh("sleep 0.05")
    end
    H.sh("kill " .. (H.read(outf .. ".pid") or ""):match("%d+") .. " 2>/dev/null")
    out = H.read(outf)
    local e = H.read(errf)
    os.remove(outf); os.remove(errf); os.remove(outf .. ".pid")
    assert.is_true(arrived, out .. e)
    assert.are.same({"start\t1.1\trelease 1.1", "start\t1.2\trelease 1.2"}, lines(out, "start"))
    assert.matches("release 1.2 arrived: applied", e, 1, true)
  end)

  it("below min_version, the script's own apply_update() restarts on the release's main script", function()
    project(game, "url = " .. base .. "/release.json\nsync_timeout_ms = 1\ntrial_frames = 5")
    publish(www, "1.1", {["title.txt"] = "release 1.1",
      ["main/main.lua"] = 'io.stdout:setvbuf("no") function init(self) print("start", "1.1", "release main") end'},
      ', "min_version": "1.1"', base .. "/later/content-1.1.zip")
    run("--frames 50")                                  -- learns the floor; the package is not there yet
    H.sh("mkdir -p " .. H.quote(www .. "/later") .. " && cp " .. H.quote(www .. "/content-1.1.zip") .. " " ..
         H.quote(www .. "/later/"))
    local code, out, err = run("--frames 300 --set test.behaviour=apply")
    assert.are.equal(0, code, err)
    local starts = lines(out, "start")
    assert.are.equal("start\t1.1\trelease main", starts[#starts], out .. err)
  end)

  it("HEAD without a SHA-256: a package whose entries do not match its manifest is never applied nor fetched again",
    function()
    -- the package: a bundle's game.zip whose title changed after the manifest was written
    local proj = H.tmpdir()
    H.write(proj .. "/game.project", "[project]\ntitle = pkg\nversion = 1.1\n[bootstrap]\nmain_script = /main/main.lua\n")
    H.write(proj .. "/content/main/main.lua", MAIN)
    H.write(proj .. "/content/title.txt", "release 1.1")
    local bundle = H.tmpdir() .. "/b"
    local c = H.lutool("bundle " .. H.quote(proj) .. " -o " .. H.quote(bundle))
    assert.are.equal(0, c)
    local x = H.tmpdir()
    assert(H.sh("cd " .. H.quote(x) .. " && unzip -q " .. H.quote(bundle .. "/game.zip") ..
                " && printf 'tampered!!!' > title.txt && zip -X -q -r " .. H.quote(www .. "/content.zip") .. " ."))
    stop()
    base, stop, _, ngdir = H.nginx(www, false, {extra = 'location = /content.zip { add_header x-oss-meta-version-name "1.1"; }'})
    project(game, "head_url = " .. base .. "/content.zip\nmode = sync\nsync_timeout_ms = 5000")
    local code, out, err = run("--frames 20")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.0\tbase 1.0"}, lines(out, "start"))
    local failed = lines(out, "failed")
    assert.are.equal(1, #failed, out)
    assert.matches("^failed\t%-20\t.*entry '/title.txt' has sha256 %x+, its manifest says %x+", failed[1])
    assert.are.same({}, rel_files(save))
    assert.are.equal(2, requests(ngdir, "/content.zip"))              -- one HEAD, one GET
    -- the next start neither applies it nor downloads it again, and does not wait for it
    local gets = requests(ngdir, "/content.zip")
    code, out, err = run("--frames 20")
    assert.are.same({"start\t1.0\tbase 1.0"}, lines(out, "start"))
    assert.are.same({"check\tfalse\t1.1\tfalse"}, lines(out, "check"))
    assert.are.equal(gets + 1, requests(ngdir, "/content.zip"))       -- the HEAD only
    assert.not_matches("wait ended", err, 1, true)                     -- nor waits for it (sync mode)
    -- a good package under the same version is a new answer: fetched and applied
    assert(H.sh("cp " .. H.quote(bundle .. "/game.zip") .. " " .. H.quote(www .. "/content.zip")))
    run("--frames 20")
    code, out = run("--frames 20")
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
  end)

  it("start-up pruning by version files leaves the update manager's release volumes alone", function()
    project(game, "url = " .. base .. "/release.json\ntrial_frames = 5")
    local gp = H.read(game .. "/game.project")
    H.write(game .. "/game.project", gp .. "[game]\nminimum_lu_version = 1\n[liveupdate]\nprune_stale = 1\n")
    publish(www, "1.1")
    run("--frames 100")
    local code, out, err = run("--frames 20")
    assert.are.equal(0, code, err)
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
    code, out, err = run("--frames 20")                 -- and again, after a confirmed trial
    assert.are.same({"start\t1.1\trelease 1.1"}, lines(out, "start"))
    assert.not_matches("pruned", err, 1, true)
  end)

  it("a release can add a level: its manifest comes with it", function()
    project(game, "url = " .. base .. "/release.json\ntrial_frames = 5")
    H.write(game .. "/content/main/main.lua", MAIN .. [[
local old_init = init
function init(self)
  old_init(self)
  print("level9", (pcall(collectionproxy.missing_resources, "#level9")))
end
]])
    local manifest = [[{"resources": [{"path": "/level9/level9.collection", "size": 2, "sha256": ""}],
      "proxies": [{"id": "level9", "collection": "/level9/level9.collection",
                   "resources": ["/level9/level9.collection"], "proxies": [], "excluded": false}]}]]
    publish(www, "1.1", {["title.txt"] = "release 1.1", ["liveupdate.manifest.json"] = manifest,
                          ["level9/level9.collection"] = "{}"})
    local code, out, err = run("--frames 300 --set test.behaviour=apply")
    assert.are.equal(0, code, err)
    assert.are.same({"level9\tfalse", "level9\ttrue"}, lines(out, "level9"))
    code, out = run("--frames 20")
    assert.are.same({"level9\ttrue"}, lines(out, "level9"))
    -- applied at a cold start, and before the first script in sync mode
    for _, mode in ipairs({"async", "sync"}) do
      save = H.tmpdir()
      local gp = H.read(game .. "/game.project")
      H.write(game .. "/game.project", gp:gsub("\nmode = %a+", "") .. "mode = " .. mode .. "\n")
      if mode == "async" then
        code, out = run("--frames 100")                 -- staged only
        assert.are.same({"level9\tfalse"}, lines(out, "level9"))
      end
      code, out, err = run("--frames 20")
      assert.are.equal(0, code, err)
      assert.are.same({"level9\ttrue"}, lines(out, "level9"), mode)
    end
  end)

  it("trial_frames counts frames whose scripts ran: an error in the first update() rolls back", function()
    project(game, "url = " .. base .. "/release.json\ntrial_frames = 1")
    publish(www, "1.1", {["title.txt"] = "release 1.1", ["main/main.lua"] = [[
      function init(self) print("start", "1.1") end
      function update(self, dt) error("boom in the first update") end]]})
    run("--frames 100")
    local code, out, err = run("--frames 20")
    assert.are.equal(1, code, err)
    assert.not_matches("confirmed", err, 1, true)
    code, out = run("--frames 20")
    assert.matches("rollback\t1.1\trelease 1.1 failed on trial: Lua error in .*boom in the first update", out)
  end)
end)
