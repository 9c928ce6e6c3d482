-- WeChat's UpdateManager on liveupdate's update manager:
--   const updateManager = wx.getUpdateManager()
--   updateManager.onCheckForUpdate(res => res.hasUpdate)
--   updateManager.onUpdateReady(() => wx.showModal({content: "Restart now?",
--       success: res => res.confirm && updateManager.applyUpdate()}))
--   updateManager.onUpdateFailed(() => ...)
-- The runtime checks by itself on every cold start ([update] in game.project
-- says how: async, sync with a timeout, periodic, ...); the script only
-- listens. Results that arrived before the handlers were set are delivered
-- once they are, and each fact is told once: when a sync start already
-- applied the new release, this script runs on it and hears no "update
-- ready" for it. Content below the server's min_version is "blocked": the
-- runtime runs the base game's main script (this one) with
-- get_info().blocked, keeps fetching the release in the background and
-- restarts the scripts on it when it arrives; the game shows a "please
-- update" screen meanwhile.
--
-- Copy the callbacks; the lines marked "demo" only make the example end by
-- itself once this run's update story is over (examples/run_update_example.sh).

local updateManager
local shown_blocked = false
local story_told = false   -- demo: nothing more will happen in this run
local trial_seen = false   -- demo: this run started a release on trial
local frames = 0

local function say(...) print("wechat_update: " .. string.format(...)) end

-- The "please update" screen instead of the game: the content is older than
-- the oldest version the server still supports.
local function show_blocked(blocked)
  if shown_blocked then return end
  shown_blocked = true
  say("please update: version %s is required, this is %s; downloading it...", blocked.required, blocked.current)
end

function init(self)
  updateManager = liveupdate.get_update_manager()
  local info = updateManager.get_info()
  say("running content %s: %s", updateManager.version, (sys.load_resource("/main/title.txt"):gsub("\n$", "")))
  if updateManager.last_rollback then
    say("the update to %s was undone: %s", updateManager.last_rollback.version, updateManager.last_rollback.reason)
  end
  if info.blocked then show_blocked(info.blocked) end
  trial_seen = info.on_trial

  updateManager.on_check_for_update(function(self, res)
    say("onCheckForUpdate: hasUpdate = %s", tostring(res.has_update))
    if not res.has_update then story_told = true end   -- demo
  end)
  updateManager.on_update_ready(function(self, res)
    if shown_blocked then
      -- a required update: no question; the runtime applies it and
      -- restarts the scripts on it as soon as it is in
      say("onUpdateReady: %s is ready; it is required: restarting", res.version)
      return
    end
    -- wx.showModal({title: "Update", content: "A new version is ready. Restart now?"});
    -- here the player's answer is [app] restart_now (1 yes, 0 later)
    if sys.get_config_int("app.restart_now", 1) == 1 then
      say("onUpdateReady: %s is ready; restart now? -> yes", res.version)
      assert(updateManager.apply_update())   -- the scripts restart on it
    else
      say("onUpdateReady: %s is ready; restart now? -> later (it starts next time)", res.version)
      story_told = true   -- demo
    end
  end)
  updateManager.on_update_failed(function(self, res)
    say("onUpdateFailed: %s", res.message)
    local blocked = updateManager.get_info().blocked
    if blocked then show_blocked(blocked) else story_told = true end   -- demo: blocked waits for the release
  end)
end

function update(self, dt)
  frames = frames + 1
  local info = updateManager.get_info()
  -- a release on trial is kept (confirmed) by the runtime after [update]
  -- trial_frames frames without an error; a crash before that undoes it
  if trial_seen and not info.on_trial then
    -- (confirmed after the previous frame: this one sees it)
    say("content %s kept after %d error-free frames", updateManager.version, frames - 1)
    trial_seen = false
    story_told = true
  end
  -- demo: end when this run's update story is told, unless [app] quit_when_done = 0
  if story_told and not info.on_trial and not info.checking and not shown_blocked
     and sys.get_config_int("app.quit_when_done", 1) == 1 then
    sys.exit(0)
  end
end
