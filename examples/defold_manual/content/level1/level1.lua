-- level1.lua -- the level that ships in the downloaded archive.
function init(self)
	print("level1: running, served by mount '" .. liveupdate.which("/level1/level1.lua") .. "'")
end
