-- WeChat's UpdateManager callbacks on liveupdate's update manager:
--   const updateManager = wx.getUpdateManager()
--   updateManager.onCheckForUpdate(res => res.hasUpdate)
--   updateManager.onUpdateReady(() => wx.showModal(... updateManager.applyUpdate()))
--   updateManager.onUpdateFailed(() => ...)
-- The check itself started before this script ran ([update] mode = async);
-- results that arrived earlier are delivered once the handlers are set.

local function say(...) print("wechat_update: " .. string.format(...)) end

function init(self)
  local updateManager = liveupdate.get_update_manager()
  say("running content %s: %s", updateManager.version, (sys.load_resource("/main/title.txt"):gsub("\n$", "")))
  updateManager.on_check_for_update(function(self, res)
    say("onCheckForUpdate: hasUpdate = %s", tostring(res.has_update))
    if not res.has_update then sys.exit(0) end
  end)
  updateManager.on_update_ready(function(self, res)
    -- wx.showModal({title: "Update", content: "Restart to use the new version?"}) -> confirm
    say("onUpdateReady: %s is ready; restart now? -> yes", res.version)
    updateManager.apply_update()
  end)
  updateManager.on_update_failed(function(self, res)
    say("onUpdateFailed: %s", res.message)
    sys.exit(0)
  end)
  self.frames = 0
end

function update(self, dt)
  -- after a restart on the new content, the runtime confirms it after
  -- [update] trial_frames frames; then this run is done
  self.frames = self.frames + 1
  local um = liveupdate.get_update_manager()
  if um.version ~= "1.0" and not um.get_info().on_trial then
    say("content %s kept after %d frames", um.version, self.frames)
    sys.exit(0)
  end
end
