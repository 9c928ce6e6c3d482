-- update_recipe_spec.lua -- docs/UPDATES.md's "Publishing a release" run
-- exactly as written: its three shell blocks (a key, the store build, a
-- release) in a studio folder with lutool on PATH, the game.project lines
-- it shows, then the store build played against nginx serving the upload
-- folder: the release is verified (signatures included), staged, and the
-- next start runs it.
local H = require("helpers")

-- The fenced blocks of `lang` in the section headed `heading`.
local function blocks(doc, heading, lang)
  local section = doc:match("\n## " .. heading:gsub("%p", "%%%0") .. "\n(.-)\n## ")
  assert(section, "no section '" .. heading .. "' in docs/UPDATES.md")
  local t = {}
  for code in section:gmatch("```" .. lang .. "\n(.-)```") do t[#t + 1] = code end
  return t
end

describe("docs/UPDATES.md publishing recipe", function()
  it("runs as written and the store build plays the release it publishes", function()
    local doc = assert(H.read(H.root .. "/docs/UPDATES.md"))
    local sh = blocks(doc, "Publishing a release", "sh")
    local ini = blocks(doc, "Publishing a release", "ini")
    assert.are.equal(3, #sh)
    assert.are.equal(1, #ini)
    local studio = H.tmpdir()
    local bindir = H.lutool_bin:match("^(.*)/[^/]*$")
    local function run_block(i)
      H.write(studio .. "/block.sh", "set -eu\n" .. sh[i])
      local ok = H.sh("cd " .. H.quote(studio) .. " && PATH=" .. H.quote(bindir) .. ":\"$PATH\" bash block.sh")
      assert.is_true(ok, "block " .. i .. " failed:\n" .. sh[i])
    end
    -- the game: the doc's game.project lines plus what any game has
    H.write(studio .. "/mygame/game.project", ini[1] .. [[
[bootstrap]
main_script = /main/main.lua
[display]
update_frequency = 200
]])
    H.write(studio .. "/mygame/content/main/main.lua", [[
function init(self)
  local um = liveupdate.get_update_manager()
  print("start", um.version, sys.load_resource("/title.txt"))
  um.on_update_ready(function(self, res) print("ready", res.version) end)
  um.on_update_failed(function(self, res) print("failed", res.status, res.message) end)
end
]])
    H.write(studio .. "/mygame/content/title.txt", "store 1.0")
    run_block(1)                                       -- the key
    run_block(2)                                       -- the store build
    H.write(studio .. "/mygame/content/title.txt", "release 1.1")
    run_block(3)                                       -- the release
    -- "upload build/1.1/release/": nginx serves exactly that folder
    local base, stop = H.nginx(studio .. "/build/1.1/release")
    local save = H.tmpdir()
    local function play()
      return H.run(studio .. "/build/store", "--save-dir " .. H.quote(save) .. " --frames 300 --set update.url=" ..
                   base .. "/release.json")
    end
    local code, out, err = play()
    local code2, out2, err2 = play()
    stop()
    assert.are.equal(0, code, err)
    assert.matches("start\t1.0\tstore 1.0", out, 1, true)
    assert.matches("ready\t1.1", out, 1, true)
    assert.are.equal(0, code2, err2)
    assert.matches("start\t1.1\trelease 1.1", out2, 1, true)
    -- the upload folder holds the content-named package, the document and their signatures
    local p = io.popen("ls " .. H.quote(studio .. "/build/1.1/release"))
    local files = p:read("a")
    p:close()
    assert.matches("game%-%x+%.zip\n", files)
    assert.matches("game%-%x+%.zip%.sig\n", files)
    assert.matches("release%.json\n", files)
    assert.matches("release%.json%.sig\n", files)
  end)
end)
