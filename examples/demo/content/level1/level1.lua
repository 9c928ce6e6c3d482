-- level1.lua -- the forest level; ships in volume "forest".
function init(self)
	local map = sys.load_resource("/level1/map.txt")
	print(string.format("level1: the forest (%s), served by '%s'", map:gsub("\n", ""), liveupdate.which("/level1/map.txt")))
	msg.post("main:/main#script", "level_done")
end
