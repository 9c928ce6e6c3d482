-- examples_spec.lua -- the examples/ games run on lurun, as a user runs them.
local H = require("helpers")

-- as its README says: lutool bundle
local function bundle()
  local out = H.tmpdir() .. "/bundle"
  assert(H.sh(H.quote(H.lutool_bin) .. " bundle " .. H.quote(H.root .. "/examples/defold_manual") .. " -o " ..
              H.quote(out) .. " >/dev/null"))
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

  it("a raised minimum refuses the old archive instead of mounting it again", function()
    local out, save = bundle(), H.tmpdir()
    local code, stdout, stderr = H.run(out, "--save-dir " .. H.quote(save) .. FAST)
    assert.are.equal(0, code, stderr)
    code, stdout = H.run(out, "--save-dir " .. H.quote(save) .. FAST .. " --set game.minimum_lu_version=2")
    assert.are.equal(0, code)
    assert.are.equal("Failed to mount archive\tmount 'liveupdate' not added: volume 'liveupdate' is version 1, "
      .. "below the game's minimum 2\n", stdout)
    assert.is_nil(H.read(save .. "/liveupdate.mounts"):find('"liveupdate"', 1, true), "nothing is mounted")
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

describe("the demo game (examples/demo)", function()
  local LUTOOL = H.lutool_bin

  local function demo_bundle()
    local out = H.tmpdir() .. "/demo"
    assert(H.sh(H.quote(LUTOOL) .. " bundle " .. H.quote(H.root .. "/examples/demo") .. " -o " .. H.quote(out) .. " >/dev/null"))
    return out
  end

  local function lines(s)
    local t = {}
    for l in s:gmatch("[^\n]+") do t[#t + 1] = l end
    return t
  end

  local function count(s, pat)
    local n = 0
    for _ in s:gmatch(pat) do n = n + 1 end
    return n
  end

  -- tools/demo's server folder: the level volumes of content 1 at its root,
  -- release.json from `lutool release`; publish_v2 adds content 2 (its
  -- release, its level volumes in 2/)
  local function demo_server(out)
    local server = H.tmpdir() .. "/server"
    assert(H.sh("mkdir -p " .. H.quote(server) .. " && cp " .. H.quote(out) .. "/liveupdate/* " .. H.quote(server)))
    assert(H.sh(H.quote(LUTOOL) .. " release " .. H.quote(out) .. " --version 1 -o " .. H.quote(server) .. " >/dev/null"))
    return server
  end

  local function publish_v2(server)
    local dir2, out2 = H.tmpdir() .. "/project-v2", H.tmpdir() .. "/demo-v2"
    assert(H.sh(H.quote(H.root .. "/examples/demo/v2/make_project.sh") .. " " .. H.quote(dir2)))
    assert(H.sh(H.quote(LUTOOL) .. " bundle " .. H.quote(dir2) .. " -o " .. H.quote(out2) .. " >/dev/null"))
    assert(H.sh(H.quote(LUTOOL) .. " release " .. H.quote(out2) .. " --version 2 -o " .. H.quote(server) .. " >/dev/null"))
    assert(H.sh("mkdir -p " .. H.quote(server .. "/2") .. " && cp " .. H.quote(out2) .. "/liveupdate/* " .. H.quote(server .. "/2")))
  end

  -- tools/demo's five runs, on one save directory, with the update manager;
  -- serve(server) gives the base URL of the server folder and a stop function
  local function five_runs(serve)
    local out, save = demo_bundle(), H.tmpdir()
    local server = demo_server(out)
    local base, stop = serve(server)
    -- the script ends each run itself once the levels are played and the
    -- update check settled; the frame cap only stops a hung run
    local args = "--save-dir " .. H.quote(save) .. " --set display.update_frequency=1000 --frames 60000" ..
                 " --set game.http_url=" .. base ..
                 " --set update.url=" .. base .. "/release.json"
    local code, stdout, stderr = H.run(out, args)
    assert.are.equal(0, code, stdout .. stderr)
    assert.are.equal(2, count(stdout, "demo: downloading volume"))
    assert.matches("from " .. base .. "/forest.zip", stdout, 1, true)
    -- the progress bar, from empty to full, and the verified install
    assert.matches("demo:   forest   [........................]   0%  0/", stdout, 1, true)
    assert.matches("demo:   castle   [########################] 100%  ", stdout, 1, true)
    assert.matches("demo: volume 'forest' verified (sha256 ", stdout, 1, true)
    assert.matches("demo: update: content 1 is up to date (the server has 1)", stdout, 1, true)
    assert.matches("level1: the forest (trees, a river and a bridge), served by 'forest'", stdout, 1, true)
    assert.matches("boss: the dragon of the castle appears", stdout, 1, true)
    assert.matches("  castle           20  zip:" .. save .. "/volumes/castle.zip", stdout, 1, true)
    assert.is_truthy(H.exists(save .. "/volumes/forest.zip"))

    code, stdout = H.run(out, args)
    assert.are.equal(0, code)
    assert.are.equal(0, count(stdout, "downloading"), "the second run downloads nothing")
    assert.matches("level2: all its resources are available", stdout, 1, true)

    -- content 2 is published; the check finds it and stages it, the game plays content 1
    publish_v2(server)
    code, stdout, stderr = H.run(out, args)
    assert.are.equal(0, code, stdout .. stderr)
    assert.matches("demo: update: version 2 downloaded and verified; it will be used at the next start", stdout, 1, true)
    assert.are.equal(0, count(stdout, "demo: downloading volume"))
    assert.matches("level1: the forest (trees, a river and a bridge)", stdout, 1, true)

    -- the next start applies it; its catalog names version-2 level volumes
    code, stdout, stderr = H.run(out, args)
    assert.are.equal(0, code, stdout .. stderr)
    assert.matches("demo: started: content 2,", stdout, 1, true)
    assert.matches("demo: volume 'forest' is version 1, the catalog of content 2 has version 2", stdout, 1, true)
    assert.are.equal(2, count(stdout, "demo: downloading volume '%w+' %(%d+ bytes, version 2%)"), "the version-2 volumes are fetched")
    assert.matches("from " .. base .. "/2/castle.zip", stdout, 1, true)
    assert.matches("level1: the forest (trees, a river, a bridge and a new windmill), served by 'forest'", stdout, 1, true)
    assert.matches("boss: the dragon of the castle appears (red, 60 metres long, breathes fire)", stdout, 1, true)
    assert.matches("demo: content 2 played every level: confirmed", stdout, 1, true)
    assert.are.equal("demo: all levels played; mounts now:", lines(stdout)[#lines(stdout) - 5])

    -- the fifth run: release 2 and its volumes persisted, nothing is fetched
    code, stdout, stderr = H.run(out, args)
    assert.are.equal(0, code, stderr)
    assert.are.equal(0, count(stdout, "downloading"), "the fifth run downloads nothing")
    assert.matches("demo: started: content 2,", stdout, 1, true)
    assert.matches("level1: the forest (trees, a river, a bridge and a new windmill)", stdout, 1, true)
    assert.matches("demo: update: content 2 is up to date (the server has 2)", stdout, 1, true)
    stop()
  end

  it("downloads both volumes verified, plays both levels, then takes content 2 through the update manager", function()
    five_runs(function(server) return "file://" .. server, function() end end)
  end)

  it("does the same from nginx with --set game.http_url (tools/demo --set game.http_url=...)", function()
    local stop_nginx
    local ok, err = pcall(five_runs, function(server)
      local base, stop = H.nginx(server)
      stop_nginx = stop
      return base, stop
    end)
    if not ok and stop_nginx then stop_nginx() end
    assert(ok, err)
  end)

  it("raising the minimum without new volumes does not churn: the old volumes are pruned and refused", function()
    local out, save = demo_bundle(), H.tmpdir()
    local code, stdout, stderr = H.run(out, "--save-dir " .. H.quote(save) .. FAST)
    assert.are.equal(0, code, stderr)
    -- the catalog still lists the version-1 volumes: download_volume
    -- refuses the entry before fetching a byte and the demo stops (it
    -- cannot play the level)
    code, stdout = H.run(out, "--save-dir " .. H.quote(save) .. FAST .. " --set game.minimum_lu_version=2")
    assert.are.equal(1, code)
    assert.matches("mount 'forest' was pruned: version 1 is older than the minimum 2", stdout, 1, true)
    assert.matches("demo: FAILED: cannot download volume 'forest': volume 'forest' is version 1, below the game's minimum 2",
      stdout, 1, true)
    assert.are.equal(0, count(stdout, "demo:   forest   %["), "nothing was fetched")
    local mounts = H.read(save .. "/liveupdate.mounts")
    assert.is_nil(mounts:find('"forest"', 1, true), "nothing was mounted: " .. mounts)
    -- so the next start has nothing to prune: no churn
    code, stdout = H.run(out, "--save-dir " .. H.quote(save) .. FAST .. " --set game.minimum_lu_version=2")
    assert.are.equal(0, count(stdout, "pruned"))
  end)

  it("downloads from nginx with --set game.http_url", function()
    local out, save = demo_bundle(), H.tmpdir()
    local base, stop = H.nginx(out .. "/liveupdate")
    local code, stdout, stderr = H.run(out, "--save-dir " .. H.quote(save) .. FAST .. " --set game.http_url=" .. base)
    stop()
    assert.are.equal(0, code, stderr)
    assert.matches("from " .. base .. "/forest.zip", stdout, 1, true)
    assert.matches("boss: the dragon", stdout, 1, true)
  end)

  it("run as a project directory, nothing is missing", function()
    local code, stdout, stderr = H.run(H.root .. "/examples/demo", "--save-dir " .. H.quote(H.tmpdir()) .. FAST)
    assert.are.equal(0, code, stderr)
    assert.are.equal(0, count(stdout, "downloading"))
    assert.matches("level1: all its resources are available", stdout, 1, true)
  end)
end)

describe("update examples (examples/run_update_example.sh, file:// URL, no server)", function()
  -- update_flows_spec.lua runs the same examples against nginx in every start mode
  local function run_example(name, args, runs)
    local bin = H.lutool_bin:match("^(.*)/[^/]+$")
    local p = io.popen("RUNS=" .. (runs or 2) .. " " .. H.quote(H.root .. "/examples/run_update_example.sh") .. " " ..
                       name .. " " .. H.quote(bin) .. " " .. (args or "") .. " 2>&1")
    local out = p:read("a")
    local ok = p:close()
    return ok, out
  end

  it("app_update (uni-app wgt flow): check, ask, download, apply, restart, confirm; then up to date", function()
    local ok, out = run_example("app_update")
    assert.is_true(ok, out)
    assert.are.equal([[
-- run 1
app_update: running content 1.0: content 1.0, shipped with the game
app_update: checking for a new version
app_update: version 1.1 is available. Download it? -> yes
app_update: version 1.1 downloaded and verified; installing and restarting
app_update: running content 1.1: content 1.1, from the update server
app_update: content 1.1 confirmed; nothing left to do
-- run 2
app_update: running content 1.1: content 1.1, from the update server
app_update: checking for a new version
app_update: content is up to date (server has 1.1)
]], out)
  end)

  it("app_update answered 'later': nothing installed, asked again at the next start", function()
    local ok, out = run_example("app_update", "--set app.accept_update=0")
    assert.is_true(ok, out)
    local run = [[
app_update: running content 1.0: content 1.0, shipped with the game
app_update: checking for a new version
app_update: version 1.1 is available. Download it? -> later
app_update: carrying on with content 1.0; you will be asked again next time
]]
    assert.are.equal("-- run 1\n" .. run .. "-- run 2\n" .. run, out)
  end)

  it("wechat_update (UpdateManager callbacks): automatic check, ready, apply, kept after the trial", function()
    local ok, out = run_example("wechat_update")
    assert.is_true(ok, out)
    assert.are.equal([[
-- run 1
wechat_update: running content 1.0: content 1.0, shipped with the game
wechat_update: onCheckForUpdate: hasUpdate = true
wechat_update: onUpdateReady: 1.1 is ready; restart now? -> yes
wechat_update: running content 1.1: content 1.1, from the update server
wechat_update: content 1.1 kept after 30 error-free frames
-- run 2
wechat_update: running content 1.1: content 1.1, from the update server
wechat_update: onCheckForUpdate: hasUpdate = false
]], out)
  end)

  it("wechat_update in sync mode: starts on 1.1 and hears no 'ready' for it", function()
    local ok, out = run_example("wechat_update", "--set update.mode=sync", 1)
    assert.is_true(ok, out)
    assert.are.equal([[
-- run 1
wechat_update: running content 1.1: content 1.1, from the update server
wechat_update: onCheckForUpdate: hasUpdate = false
wechat_update: content 1.1 kept after 30 error-free frames
]], out)
  end)
end)
