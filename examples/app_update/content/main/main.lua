-- The uni-app wgt hot-update flow on liveupdate's update manager, with the
-- player's consent ([update] download = ask: nothing is downloaded before
-- the player says yes):
--   1. check the version document        (uni.request of the version API)
--   2. ask the player                     (uni.showModal; skipped when the
--                                           release is mandatory: a forced update)
--   3. download the release               (uni.downloadFile of the .wgt)
--   4. apply it                           (plus.runtime.install)
--   5. restart on it                      (plus.runtime.restart)
-- and, on the new content, confirm() so the release is kept. Answering
-- "later" downloads nothing; the game goes on with the content it has and
-- the next check (the next start) asks again.
--
-- Copy the callbacks; the lines marked "demo" only make the example end by
-- itself so examples/run_update_example.sh can run it twice.

local um
local declined = false

local function say(...) print("app_update: " .. string.format(...)) end

-- uni.showModal({title: "Update", content: "Download version X now?"}): a
-- real game shows a dialog; here the answer is [app] accept_update (1 yes,
-- 0 later).
local function ask_player(version)
  local yes = sys.get_config_int("app.accept_update", 1) == 1
  say("version %s is available. Download it? -> %s", version, yes and "yes" or "later")
  return yes
end

local function download()
  local ok, message = um.download()
  if not ok then say("could not start the download: %s", message) end
end

function init(self)
  um = liveupdate.get_update_manager()
  say("running content %s: %s", um.version, (sys.load_resource("/main/title.txt"):gsub("\n$", "")))
  if um.last_rollback then
    say("release %s was rolled back: %s", um.last_rollback.version, um.last_rollback.reason)
  end
  if um.get_info().on_trial then
    -- the new content started: keep it (a real game would confirm after
    -- its first scene rendered; until then a crash rolls it back)
    assert(um.confirm())
    say("content %s confirmed; nothing left to do", um.version)
    sys.exit(0)   -- demo
    return
  end
  um.on_check_for_update(function(self, res)
    if not res.has_update then
      say("content is up to date (server has %s)", tostring(res.version))
      sys.exit(0)   -- demo
    elseif res.mandatory then
      -- uni-app's forced update: no question, no "later"
      say("version %s is required: downloading it", res.version)
      download()
    elseif ask_player(res.version) then
      download()
    else
      say("carrying on with content %s; you will be asked again next time", um.version)
      declined = true
    end
  end)
  um.on_update_ready(function(self, res)
    say("version %s downloaded and verified; installing and restarting", res.version)
    assert(um.apply_update())
  end)
  um.on_update_failed(function(self, res)
    say("update failed (%d): %s; carrying on with %s", res.status, res.message, um.version)
    sys.exit(0)   -- demo
  end)
  say("checking for a new version")
  assert(um.check())
end

function update(self, dt)
  -- demo: after "later" the game plays on; the example ends once the update
  -- manager is idle (nothing is being downloaded behind the player's back)
  if declined and not um.get_info().checking then sys.exit(0) end
end
