-- level2.lua -- the castle level; ships in volume "castle" with its nested
-- boss proxy, which it loads itself.
function init(self)
	print(string.format("level2: the castle (%s)", sys.load_resource("/level2/map.txt"):gsub("\n", "")))
	msg.post("#boss", "load")
end

function on_message(self, message_id, message, sender)
	if message_id == hash("proxy_loaded") then msg.post(sender, "enable") end
end
