-- update_flows_spec.lua -- the app-update flows of docs/UPDATES.md as a studio copies
-- them: examples/app_update (uni-app's wgt flow, download = ask: a modal
-- that may decline; a mandatory release skips it) and examples/wechat_update
-- (WeChat's UpdateManager callbacks on the automatic start-up check) in
-- every start mode: async, sync, sync against a stalled server, periodic,
-- stale, prefer_local_from, min_version (blocked), and a release whose init
-- raises. The examples run unchanged through lurun against a real nginx;
-- releases are published as docs/UPDATES.md says (lutool bundle, lutool
-- release <bundle> -o <upload folder>). The assertions are on what the
-- player sees: the lines the examples print.
local H = require("helpers")

local FREQ = " --set display.update_frequency=200"

-- Publishes content version `version` of `example` into `www`: the
-- example's content/ with `files` laid over it (default: its
-- releases/1.1, with the title naming `version`), bundled and released
-- with `opts` (lutool release options). Returns the volume's file name.
local function publish(www, example, version, files, opts)
  local src, bundle = H.tmpdir(), H.tmpdir() .. "/bundle"
  local game = H.root .. "/examples/" .. example
  assert(H.sh("cp " .. H.quote(game .. "/game.project") .. " " .. H.quote(src) .. " && cp -R " ..
              H.quote(game .. "/content") .. " " .. H.quote(src .. "/content")))
  if not files then
    assert(H.sh("cp -R " .. H.quote(game .. "/releases/1.1/.") .. " " .. H.quote(src .. "/content/")))
    files = {["main/title.txt"] = "content " .. version .. ", from the update server\n"}
  end
  H.tree(src .. "/content", files)
  local code, out, err = H.lutool("bundle " .. H.quote(src) .. " -o " .. H.quote(bundle))
  assert(code == 0, out .. err)
  code, out, err = H.lutool("release " .. H.quote(bundle) .. " --version " .. version .. " -o " .. H.quote(www) ..
                            " " .. (opts or ""))
  assert(code == 0, out .. err)
  return H.read(www .. "/release.json"):match('"file":%s*"([^"]+)"')
end

-- The example's own lines ("<example>: " stripped), in order.
local function said(out, example)
  local t = {}
  for l in (out or ""):gmatch("[^\n]+") do
    local s = l:match("^" .. example .. ": (.*)$")
    if s then t[#t + 1] = s end
  end
  return t
end

local requests, rel_files = H.requests, H.release_files

local function count(list, pattern)
  local n = 0
  for _, l in ipairs(list) do if l:match(pattern) then n = n + 1 end end
  return n
end

-- lurun started in the background (a game that runs while the server
-- changes). wait(pred) polls its output a bounded number of times.
local function spawn(dir, args)
  local outf, errf = os.tmpname(), os.tmpname()
  H.sh(H.lurun_prefix .. " " .. H.quote(H.lurun) .. " " .. H.quote(dir) .. " " .. args .. " >" .. H.quote(outf) ..
       " 2>" .. H.quote(errf) .. " & echo $! > " .. H.quote(outf .. ".pid"))
  local pid = H.read(outf .. ".pid"):match("%d+")
  local p = {}
  function p.out() return H.read(outf) or "" end
  function p.err() return H.read(errf) or "" end
  function p.alive() return H.sh("kill -0 " .. pid .. " 2>/dev/null") end
  function p.wait(pred)
    for _ = 1, 600 do                 -- at most 30 s
      if pred(p.out()) then return true end
      H.sh("sleep 0.05")
    end
    return false
  end
  function p.exited()
    for _ = 1, 600 do
      if not p.alive() then return true end
      H.sh("sleep 0.05")
    end
    return false
  end
  function p.stop()
    H.sh("kill " .. pid .. " 2>/dev/null")
    p.exited()
    os.remove(outf); os.remove(errf); os.remove(outf .. ".pid")
  end
  return p
end

describe("update flows: the examples as a studio copies them", function()
  local www, save, base, stop, ngdir

  before_each(function()
    www, save = H.tmpdir(), H.tmpdir()
    base, stop, _, ngdir = H.nginx(www)
  end)
  after_each(function() stop() end)

  local function run(example, args)
    return H.run(H.root .. "/examples/" .. example, "--save-dir " .. H.quote(save) .. " --set update.url=" .. base ..
                 "/release.json" .. FREQ .. " " .. (args or "--frames 2000"))
  end

  describe("app_update (uni-app wgt flow, download = ask)", function()
    local ACCEPTED = {
      "running content 1.0: content 1.0, shipped with the game",
      "checking for a new version",
      "version 1.1 is available. Download it? -> yes",
      "version 1.1 downloaded and verified; installing and restarting",
      "running content 1.1: content 1.1, from the update server",
      "content 1.1 confirmed; nothing left to do",
    }
    local UP_TO_DATE = {
      "running content 1.1: content 1.1, from the update server",
      "checking for a new version",
      "content is up to date (server has 1.1)",
    }
    local DECLINED = {
      "running content 1.0: content 1.0, shipped with the game",
      "checking for a new version",
      "version 1.1 is available. Download it? -> later",
      "carrying on with content 1.0; you will be asked again next time",
    }

    it("accepted: downloads after the yes, applies, restarts on 1.1, confirms; the next start is up to date", function()
      local zip = publish(www, "app_update", "1.1")
      local code, out, err = run("app_update")
      assert.are.equal(0, code, err)
      assert.are.same(ACCEPTED, said(out, "app_update"))
      assert.matches("restarting the scripts on the new content", err, 1, true)
      assert.are.equal(1, requests(ngdir, "/" .. zip))
      code, out, err = run("app_update")
      assert.are.equal(0, code, err)
      assert.are.same(UP_TO_DATE, said(out, "app_update"))   -- confirmed: no trial, no rollback
      assert.are.equal(1, requests(ngdir, "/" .. zip))
    end)

    it("declined: nothing is downloaded nor installed, the next start asks again, then a yes works", function()
      local zip = publish(www, "app_update", "1.1")
      for _ = 1, 2 do
        -- the demo quits only once the update manager is idle: a download
        -- behind the player's back would be in the log by then
        local code, out, err = run("app_update", "--frames 2000 --set app.accept_update=0")
        assert.are.equal(0, code, err)
        assert.are.same(DECLINED, said(out, "app_update"))
        assert.are.equal(0, requests(ngdir, "/" .. zip))
        assert.are.same({}, rel_files(save))
      end
      assert.are.equal(2, requests(ngdir, "/release.json"))
      local code, out, err = run("app_update")
      assert.are.equal(0, code, err)
      assert.are.same(ACCEPTED, said(out, "app_update"))
      code, out = run("app_update")
      assert.are.same(UP_TO_DATE, said(out, "app_update"))
    end)

    it("a mandatory release skips the question (uni-app's forced update)", function()
      publish(www, "app_update", "1.1", nil, "--mandatory")
      local code, out, err = run("app_update", "--frames 2000 --set app.accept_update=0")
      assert.are.equal(0, code, err)
      assert.are.same({
        "running content 1.0: content 1.0, shipped with the game",
        "checking for a new version",
        "version 1.1 is required: downloading it",
        "version 1.1 downloaded and verified; installing and restarting",
        "running content 1.1: content 1.1, from the update server",
        "content 1.1 confirmed; nothing left to do",
      }, said(out, "app_update"))
    end)
  end)

  describe("wechat_update (UpdateManager callbacks)", function()
    local R10 = "running content 1.0: content 1.0, shipped with the game"
    local R11 = "running content 1.1: content 1.1, from the update server"

    it("async: starts on 1.0, hears of 1.1, restarts on it, keeps it; the next start has no update", function()
      local zip = publish(www, "wechat_update", "1.1")
      local code, out, err = run("wechat_update")
      assert.are.equal(0, code, err)
      assert.are.same({R10, "onCheckForUpdate: hasUpdate = true", "onUpdateReady: 1.1 is ready; restart now? -> yes",
                       R11, "content 1.1 kept after 30 error-free frames"}, said(out, "wechat_update"))
      code, out, err = run("wechat_update")
      assert.are.equal(0, code, err)
      assert.are.same({R11, "onCheckForUpdate: hasUpdate = false"}, said(out, "wechat_update"))
      assert.are.equal(1, requests(ngdir, "/" .. zip))
    end)

    it("async, restart later: the release starts at the next cold start and is not announced again", function()
      publish(www, "wechat_update", "1.1")
      local code, out, err = run("wechat_update", "--frames 2000 --set app.restart_now=0")
      assert.are.equal(0, code, err)
      assert.are.same({R10, "onCheckForUpdate: hasUpdate = true",
                       "onUpdateReady: 1.1 is ready; restart now? -> later (it starts next time)"},
                      said(out, "wechat_update"))
      code, out, err = run("wechat_update", "--frames 2000 --set app.restart_now=0")
      assert.are.equal(0, code, err)
      assert.are.same({R11, "onCheckForUpdate: hasUpdate = false", "content 1.1 kept after 30 error-free frames"},
                      said(out, "wechat_update"))
    end)

    it("sync: the release is applied before the first script runs, which hears no 'ready' for it", function()
      publish(www, "wechat_update", "1.1")
      local code, out, err = run("wechat_update", "--frames 2000 --set update.mode=sync --set update.sync_timeout_ms=10000")
      assert.are.equal(0, code, err)
      assert.are.same({R11, "onCheckForUpdate: hasUpdate = false", "content 1.1 kept after 30 error-free frames"},
                      said(out, "wechat_update"))
      assert.matches("release 1.1 applied at start-up", err, 1, true)
      code, out = run("wechat_update", "--frames 2000 --set update.mode=sync")
      assert.are.same({R11, "onCheckForUpdate: hasUpdate = false"}, said(out, "wechat_update"))
    end)

    it("sync against a server that never answers: starts on the local content after sync_timeout_ms", function()
      local port, stop_stall = H.stalled_server()
      local t0 = os.time()
      local code, out, err = H.run(H.root .. "/examples/wechat_update", "--save-dir " .. H.quote(save) ..
        (" --set update.url=http://127.0.0.1:%d/release.json"):format(port) ..
        " --set update.mode=sync --set update.sync_timeout_ms=400" .. FREQ .. " --frames 40")
      stop_stall()
      assert.are.equal(0, code, err)
      assert.are.same({R10}, said(out, "wechat_update"))      -- playing; the check is still waiting
      assert.matches("start-up wait ended after 400 ms; starting with the local content", err, 1, true)
      assert.is_true(os.time() - t0 <= 5)
    end)

    it("check_interval_s: a release published while the game runs is found by a periodic check", function()
      publish(www, "wechat_update", "1.0", {})           -- the server has what the game has
      local p = spawn(H.root .. "/examples/wechat_update", "--save-dir " .. H.quote(save) .. " --set update.url=" ..
                      base .. "/release.json" .. FREQ .. " --set update.check_interval_s=1 --set app.quit_when_done=0" ..
                      " --frames 12000")
      local first = p.wait(function(o) return o:find("hasUpdate = false", 1, true) end)
      publish(www, "wechat_update", "1.1")
      local kept = first and p.wait(function(o) return o:find("kept after", 1, true) end)
      local out, err = p.out(), p.err()
      p.stop()
      assert.is_true(kept, out .. err)
      local lines, story = said(out, "wechat_update"), {}
      assert.are.same({R10, "onCheckForUpdate: hasUpdate = false"}, {lines[1], lines[2]})
      for _, l in ipairs(lines) do if l ~= "onCheckForUpdate: hasUpdate = false" then story[#story + 1] = l end end
      assert.are.same({R10, "onCheckForUpdate: hasUpdate = true", "onUpdateReady: 1.1 is ready; restart now? -> yes",
                       R11, "content 1.1 kept after 30 error-free frames"}, story)
      assert.is_true(requests(ngdir, "/release.json") >= 2)
    end)

    it("stale: a game not started for stale_after_days waits for the release and starts on it", function()
      publish(www, "wechat_update", "1.0", {})
      local code, out, err = run("wechat_update")
      assert.are.equal(0, code, err)
      assert.are.same({R10, "onCheckForUpdate: hasUpdate = false"}, said(out, "wechat_update"))
      publish(www, "wechat_update", "1.1")
      local state = H.read(save .. "/update/state.json")
      H.write(save .. "/update/state.json", (state:gsub('"last_run":%s*%d+', '"last_run": 1000')))
      code, out, err = run("wechat_update")
      assert.are.equal(0, code, err)
      assert.matches("checking before start-up (stale)", err, 1, true)
      assert.are.same({R11, "onCheckForUpdate: hasUpdate = false", "content 1.1 kept after 30 error-free frames"},
                      said(out, "wechat_update"))
    end)

    it("prefer_local_from: recent enough content starts at once in sync mode; the release follows", function()
      publish(www, "wechat_update", "1.1", nil, "--prefer-local-from 1.0")
      local code, out, err = run("wechat_update", "--frames 2000 --set update.mode=sync --set update.sync_timeout_ms=10000")
      assert.are.equal(0, code, err)
      assert.matches("1.0 >= prefer_local_from 1.0: starting with it", err, 1, true)
      local lines = said(out, "wechat_update")
      local READY = "onUpdateReady: 1.1 is ready; restart now? -> yes"
      -- in the order they happened: the start-up check's result (stored
      -- before init) comes before a "ready" of the first poll
      assert.are.same({R10, "onCheckForUpdate: hasUpdate = true", READY, R11, "content 1.1 kept after 30 error-free frames"}, lines)
    end)

    it("min_version: older content shows the 'please update' screen, told once, until the release arrives", function()
      local zip = publish(www, "wechat_update", "1.1", nil, "--min-version 1.1")
      assert(H.sh("mkdir " .. H.quote(www .. "/hidden") .. " && mv " .. H.quote(www .. "/" .. zip) .. " " ..
                  H.quote(www .. "/hidden/")))
      local BLOCKED = "please update: version 1.1 is required, this is 1.0; downloading it..."
      -- the first start learns the floor from the document, while it plays
      local code, out, err = run("wechat_update", "--frames 200")
      assert.are.equal(0, code, err)
      local lines = said(out, "wechat_update")
      assert.are.equal(R10, lines[1])
      assert.are.equal(1, count(lines, "^onUpdateFailed: "), out)
      assert.are.equal(1, count(lines, "^please update: "), out)
      -- the next start is blocked: the base game's script shows the screen at
      -- once; one failure for the whole start, however often the runtime retries
      local before = requests(ngdir, "/release.json")
      code, out, err = run("wechat_update", "--frames 600 --set update.sync_timeout_ms=1000")  -- then 3 s of frames
      assert.are.equal(0, code, err)
      assert.matches("below min_version", err, 1, true)
      lines = said(out, "wechat_update")
      assert.are.same({R10, BLOCKED}, {lines[1], lines[2]})
      assert.are.equal(1, count(lines, "^onUpdateFailed: .*below the required min_version 1%.1.*HTTP 404"), out)
      assert.are.equal(1, count(lines, "^onUpdateFailed: "), out)
      assert.are.equal(1, count(lines, "^onCheckForUpdate: "), out)   -- retries re-tell nothing
      assert.are.equal(0, count(lines, "^running content 1%.1"))
      local fetched = requests(ngdir, "/release.json") - before
      assert.is_true(fetched >= 1 and fetched <= 5, "document fetched " .. fetched .. " times in 3 s")
      -- the release appears while the screen is up: the game restarts on it
      local p = spawn(H.root .. "/examples/wechat_update", "--save-dir " .. H.quote(save) .. " --set update.url=" ..
                      base .. "/release.json" .. FREQ .. " --set update.sync_timeout_ms=1000 --frames 12000")
      local shown = p.wait(function(o) return o:find("please update", 1, true) end)
      assert(H.sh("mv " .. H.quote(www .. "/hidden/" .. zip) .. " " .. H.quote(www .. "/")))
      local done = shown and p.exited()
      out, err = p.out(), p.err()
      p.stop()
      assert.is_true(done, out .. err)
      lines = said(out, "wechat_update")
      assert.are.same({R10, BLOCKED}, {lines[1], lines[2]})
      assert.are.equal(1, count(lines, "^onUpdateFailed: "), out)
      assert.are.same({"onUpdateReady: 1.1 is ready; it is required: restarting", R11,
                       "content 1.1 kept after 30 error-free frames"}, {lines[#lines - 2], lines[#lines - 1], lines[#lines]})
      assert.matches("release 1.1 arrived: applied", err, 1, true)
    end)

    it("a release whose init raises is undone at the next start, which says why", function()
      local main = H.read(H.root .. "/examples/wechat_update/content/main/main.lua")
      local zip = publish(www, "wechat_update", "1.1", {
        ["main/title.txt"] = "content 1.1, from the update server\n",
        ["main/main.lua"] = main .. '\nlocal init_1_0 = init\nfunction init(self)\n  init_1_0(self)\n' ..
                            '  error("level 2 is missing from this release")\nend\n'})
      local code, out, err = run("wechat_update")
      assert.are.equal(1, code, err)                      -- the Lua error ends the run
      assert.are.same({R10, "onCheckForUpdate: hasUpdate = true", "onUpdateReady: 1.1 is ready; restart now? -> yes", R11},
                      said(out, "wechat_update"))
      assert.matches("level 2 is missing from this release", err, 1, true)
      code, out, err = run("wechat_update")
      assert.are.equal(0, code, err)
      local lines = said(out, "wechat_update")
      assert.are.equal(3, #lines, out)
      assert.are.equal(R10, lines[1])
      assert.matches("^the update to 1%.1 was undone: release 1%.1 failed on trial: Lua error in .*" ..
                     "level 2 is missing from this release", lines[2])
      assert.are.equal("onCheckForUpdate: hasUpdate = false", lines[3])   -- not offered again
      assert.are.equal(1, requests(ngdir, "/" .. zip))
    end)
  end)
end)
