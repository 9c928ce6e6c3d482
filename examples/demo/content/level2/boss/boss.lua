-- boss.lua -- a nested proxy of level2, in the same volume.
function init(self)
	print("boss: the dragon of the castle appears (" .. sys.load_resource("/level2/boss/dragon.txt"):gsub("\n", "") .. ")")
	msg.post("main:/main#script", "level_done")
end
