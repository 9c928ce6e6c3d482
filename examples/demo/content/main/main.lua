-- main.lua -- the demo's main script: play two levels whose content is not
-- in the base bundle. For each level it asks which resources are missing,
-- finds the volumes that hold them in the catalog, downloads and mounts
-- them, then loads the level.

local LEVELS = {"level1", "level2"}

local function say(fmt, ...) print(string.format(fmt, ...)) end

local function print_mounts()
	say("  %-10s %8s  %s", "mount", "priority", "uri")
	for _, m in ipairs(liveupdate.get_mounts()) do
		say("  %-10s %8d  %s", m.name, m.priority, m.uri)
	end
end

local function fail(fmt, ...)
	say("demo: FAILED: " .. fmt, ...)
	sys.exit(1)
end

-- Downloads one catalog entry into the save dir's volumes/ folder and mounts it.
local function fetch_volume(self, vol, level)
	local url = self.http_url .. "/" .. vol.file
	local path = liveupdate.volume_path(vol.file)
	say("demo: downloading volume '%s' (%d bytes, version %d) from %s", vol.name, vol.size, vol.version, url)
	http.request(url, "GET", function(self, _, response)
		if response.status ~= 200 then
			fail("download of %s gave status %d %s", url, response.status, response.error or "")
		end
		liveupdate.add_mount(vol.name, "zip:" .. path, vol.priority, function(self, name, uri, result, message)
			if result ~= liveupdate.LIVEUPDATE_OK then fail("mounting %s: %s", name, message) end
			say("demo: mounted '%s' at priority %d", name, vol.priority)
			self.pending = self.pending - 1
			if self.pending == 0 then msg.post("#", "play", {level = level}) end
		end)
	end, nil, nil, {path = path})
end

function init(self)
	self.http_url = sys.get_config_string("game.http_url")
	say("demo: started with minimum volume version %d; mounts:", sys.get_config_int("game.minimum_lu_version"))
	print_mounts()
	for _, r in ipairs(liveupdate.get_startup_report()) do
		say("demo: at start-up, mount '%s' was %s: %s", r.name, r.action, r.message)
	end
	self.queue = {table.unpack(LEVELS)}
	msg.post("#", "next_level")
end

function on_message(self, message_id, message, sender)
	if message_id == hash("next_level") then
		local level = table.remove(self.queue, 1)
		if not level then
			say("demo: all levels played; mounts now:")
			print_mounts()
			if sys.get_config_int("demo.keep_running", 0) == 1 then
				-- lurun --set demo.keep_running=1: left running for the debug
				-- console (docs/CONSOLE.md); SIGINT or SIGTERM stops it
				say("demo: still running (demo.keep_running = 1)")
				return
			end
			sys.exit(0)
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
		if #volumes == 0 then fail("no volume in the catalog provides %s", missing[1]) end
		self.pending = #volumes
		for _, vol in ipairs(volumes) do fetch_volume(self, vol, level) end
	elseif message_id == hash("proxy_loaded") then
		msg.post(sender, "enable")
	elseif message_id == hash("level_done") then
		msg.post("#" .. self.current, "unload")
	elseif message_id == hash("proxy_unloaded") then
		msg.post("#", "next_level")
	end
end
