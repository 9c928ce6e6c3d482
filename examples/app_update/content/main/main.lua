-- The uni-app wgt flow on liveupdate's update manager:
--   1. check the version document        (uni.request of the version API)
--   2. ask the player                     (uni.showModal)
--   3. download the release               (uni.downloadFile of the .wgt)
--   4. apply it                           (plus.runtime.install)
--   5. restart on it                      (plus.runtime.restart)
-- and, on the new content, confirm() so the release is kept.

local um

local function say(...) print("app_update: " .. string.format(...)) end

function init(self)
  um = liveupdate.get_update_manager()
  say("running content %s: %s", um.version, (sys.load_resource("/main/title.txt"):gsub("\n$", "")))
  if um.last_rollback then
    say("release %s was rolled back: %s", um.last_rollback.version, um.last_rollback.reason)
  end
  if um.get_info().on_trial then
    -- the new content started: keep it (a real game would confirm after
    -- its first scene rendered)
    assert(um.confirm())
    say("content %s confirmed; nothing left to do", um.version)
    sys.exit(0)
    return
  end
  um.on_check_for_update(function(self, res)
    if not res.has_update then
      say("content is up to date (server has %s)", tostring(res.version))
      sys.exit(0)
    elseif sys.get_config_int("app.accept_update", 1) == 1 then
      say("version %s is available. Download it? -> yes", res.version)
    else
      say("version %s is available. Download it? -> later", res.version)
      sys.exit(0)
    end
  end)
  um.on_update_ready(function(self, res)
    say("version %s downloaded and verified; installing and restarting", res.version)
    assert(um.apply_update())
  end)
  um.on_update_failed(function(self, res)
    say("update failed (%d): %s; carrying on with %s", res.status, res.message, um.version)
    sys.exit(0)
  end)
  say("checking for a new version")
  assert(um.check())
end
