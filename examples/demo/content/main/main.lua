-- main.lua -- the demo's main script: play two levels whose content is not
-- in the base bundle, and take content updates through the update manager.
--
-- For each level it asks which resources are missing, finds the volumes
-- that hold them in the catalog and downloads them with
-- liveupdate.download_volume: checked against the catalog's size and
-- SHA-256 (and signature, with a public key), installed in the save
-- directory and mounted; a text progress bar shows each transfer.
--
-- With an [update] url (tools/demo sets one), lurun checks for a new
-- release at start-up: a newer one is downloaded, verified and staged while
-- the game plays, and used at the next start. A release brings a new
-- catalog; a mounted level volume older than the catalog's entry is
-- downloaded again before the levels are played. The level volumes of
-- release R are fetched from <game.http_url>/R/, those of the bundled
-- content from <game.http_url>/ (the file names are the catalog's, the
-- same in every release).

local LEVELS = {"level1", "level2"}
local BAR = 24

local function say(fmt, ...) print(string.format(fmt, ...)) end

local function print_mounts()
	say("  %-10s %8s  %s", "mount", "priority", "uri")
	for _, m in ipairs(liveupdate.get_mounts()) do
		say("  %-10s %8d  %s", m.name, m.priority, m.uri)
	end
end

-- sys.exit ends the run after this frame: callers return at once.
local function fail(fmt, ...)
	say("demo: FAILED: " .. fmt, ...)
	sys.exit(1)
end

-- One line per quarter of the transfer: the same in a terminal and a log.
local function bar_line(name, done, total)
	local pct = total > 0 and math.floor(done * 100 / total) or 100
	local fill = math.floor(BAR * pct / 100)
	say("demo:   %-8s [%s%s] %3d%%  %d/%d bytes", name, string.rep("#", fill), string.rep(".", BAR - fill), pct, done, total)
	return pct
end

-- Where the level volumes of the content in use are.
local function volume_base(self)
	if self.um and self.um.version ~= self.bundled_version then
		return self.http_url .. "/" .. self.um.version
	end
	return self.http_url
end

-- Downloads (verified), installs and mounts one catalog entry, then calls done().
local function fetch_volume(self, vol, done)
	local base = volume_base(self)
	say("demo: downloading volume '%s' (%d bytes, version %d) from %s/%s", vol.name, vol.size, vol.version, base, vol.file)
	local quarter = 0
	local handle, message = liveupdate.download_volume(vol.name, {
		base_url = base,
		progress = function(self, name, got, total)
			total = total > 0 and total or vol.size
			local pct = total > 0 and math.floor(got * 100 / total) or 0
			if pct // 25 > quarter then
				quarter = pct // 25
				bar_line(name, got, total)
			end
		end,
	}, function(self, name, result, message)
		if result ~= liveupdate.LIVEUPDATE_OK then return fail("volume '%s': %s", name, message) end
		if quarter < 4 then bar_line(name, vol.size, vol.size) end
		say("demo: volume '%s' verified (sha256 %s...) and mounted at priority %d", name, vol.sha256:sub(1, 12), vol.priority)
		done()
	end)
	if not handle then return fail("cannot download volume '%s': %s", vol.name, message) end
	bar_line(vol.name, 0, vol.size)   -- the callbacks run from later frames
end

-- The version a mounted volume says it is (its /version_<name>.json), or nil.
local function mounted_version(name)
	local text = liveupdate.load_resource("/version_" .. name .. ".json")
	return text and json.decode(text).version
end

-- Mounted level volumes older than the catalog's entries (a release's new catalog).
local function stale_volumes()
	local mounted, stale = {}, {}
	for _, m in ipairs(liveupdate.get_mounts()) do mounted[tostring(m.name)] = true end
	for _, vol in ipairs(liveupdate.get_catalog()) do
		local have = mounted[vol.name] and mounted_version(vol.name)
		if have and have < vol.version then stale[#stale + 1] = {vol = vol, have = have} end
	end
	return stale
end

-- Ends the run once the levels are played and the update check has settled.
local function maybe_finish(self)
	if not self.played or not self.update_settled then return end
	if self.um and self.um.get_info().on_trial then
		-- the new release ran every level: keep it
		assert(self.um.confirm())
		say("demo: content %s played every level: confirmed", self.um.version)
	end
	say("demo: all levels played; mounts now:")
	print_mounts()
	if sys.get_config_int("demo.keep_running", 0) == 1 then
		-- lurun --set demo.keep_running=1: left running for the debug
		-- console (docs/CONSOLE.md); SIGINT or SIGTERM stops it
		say("demo: still running (demo.keep_running = 1)")
		return
	end
	sys.exit(0)
end

local function watch_updates(self)
	local um = self.um
	if um.last_rollback then
		say("demo: release %s was rolled back: %s", um.last_rollback.version, um.last_rollback.reason)
	end
	um.on_check_for_update(function(self, res)
		if res.has_update then
			say("demo: update: version %s is published; downloading it while the game plays", res.version)
		else
			say("demo: update: content %s is up to date (the server has %s)", um.version, tostring(res.version))
			self.update_settled = true
			maybe_finish(self)
		end
	end)
	um.on_update_ready(function(self, res)
		say("demo: update: version %s downloaded and verified; it will be used at the next start", res.version)
		self.update_settled = true
		maybe_finish(self)
	end)
	um.on_update_failed(function(self, res)
		say("demo: update: no new content (%s); carrying on with %s", res.message, um.version)
		self.update_settled = true
		maybe_finish(self)
	end)
end

function init(self)
	self.http_url = sys.get_config_string("game.http_url")
	self.bundled_version = sys.get_config_string("project.version", "0")
	self.um = liveupdate.get_update_manager()   -- nil without an [update] url
	self.update_settled = self.um == nil
	say("demo: started: content %s, minimum volume version %d; mounts:", self.um and self.um.version or self.bundled_version,
		sys.get_config_int("game.minimum_lu_version"))
	print_mounts()
	for _, r in ipairs(liveupdate.get_startup_report()) do
		say("demo: at start-up, mount '%s' was %s: %s", r.name, r.action, r.message)
	end
	if self.um then watch_updates(self) end
	self.queue = {table.unpack(LEVELS)}
	local stale = stale_volumes()
	if #stale == 0 then
		msg.post("#", "next_level")
		return
	end
	self.pending = #stale
	for _, s in ipairs(stale) do
		say("demo: volume '%s' is version %d, the catalog of content %s has version %d", s.vol.name, s.have,
			self.um and self.um.version or self.bundled_version, s.vol.version)
		fetch_volume(self, s.vol, function()
			self.pending = self.pending - 1
			if self.pending == 0 then msg.post("#", "next_level") end
		end)
	end
end

function on_message(self, message_id, message, sender)
	if message_id == hash("next_level") then
		local level = table.remove(self.queue, 1)
		if not level then
			self.played = true
			maybe_finish(self)
			return
		end
		msg.post("#", "play", {level = level})
	elseif message_id == hash("play") then
		local level = message.level
		local missing = collectionproxy.missing_resources("#" .. level, {recursive = true})
		if #missing == 0 then
			say("demo: %s: all its resources are available, loading it", level)
			self.current = level
			msg.post("#" .. level, "load")
			return
		end
		local volumes = liveupdate.get_volumes_for("#" .. level)
		say("demo: %s: %d resources missing (e.g. %s); the catalog says volume(s): %s", level, #missing,
			missing[1], table.concat((function() local t = {} for i, v in ipairs(volumes) do t[i] = v.name end return t end)(), ", "))
		if #volumes == 0 then return fail("no volume in the catalog provides %s", missing[1]) end
		self.pending = #volumes
		for _, vol in ipairs(volumes) do
			fetch_volume(self, vol, function()
				self.pending = self.pending - 1
				if self.pending == 0 then msg.post("#", "play", {level = level}) end
			end)
		end
	elseif message_id == hash("proxy_loaded") then
		msg.post(sender, "enable")
	elseif message_id == hash("level_done") then
		msg.post("#" .. self.current, "unload")
	elseif message_id == hash("proxy_unloaded") then
		msg.post("#", "next_level")
	end
end
