-- project_schema_spec.lua -- game.project mistakes are named, never silent:
-- lutool bundle and lurun hold game.project (and lurun --set) to the schema
-- of docs/BUNDLER.md "game.project keys"; the bundler refuses globs that
-- match nothing, a missing main script or collection and symbolic links; a
-- project run and a bundle run of one game keep separate save directories.
local H = require("helpers")

local function unzip_list(zip)
  local p = io.popen("unzip -Z1 " .. H.quote(zip))
  local t = {}
  for l in p:lines() do t[l] = true end
  p:close()
  return t
end

local CONTENT = {
  ["main/main.lua"] = "function init(self) print('main ran') sys.exit(0) end",
  ["level1/level1.collection"] = "",
  ["level1/tree.txt"] = "tree",
}

-- A game.project with one proxy whose [proxy.level1] body is `proxy`
-- (after its collection line) and `extra` appended.
local function ini(proxy, extra)
  return "[project]\ntitle = Schema Spec\n[bootstrap]\nmain_script = /main/main.lua\n" ..
         "[proxy.level1]\ncollection = /level1/level1.collection\nresources = /level1/**\n" .. proxy ..
         "[volume.levels]\nversion = 1\n" .. (extra or "")
end
-- line numbers in ini(): [proxy.level1] body starts at line 8

local function bundle(project_text, content)
  local proj = H.project(project_text, content or CONTENT)
  local out = H.tmpdir() .. "/out"
  local code, stdout, stderr = H.lutool("bundle " .. H.quote(proj) .. " -o " .. H.quote(out))
  return code, stdout, stderr, out, proj
end

describe("game.project schema: lutool bundle", function()
  it("refuses a misspelt key in an owned section, naming file, line, key and the nearest key", function()
    local code, _, err, out = bundle(ini("exlude = 1\nvolume = levels\n"))
    assert.are.equal(1, code)
    assert.matches("game.project:8: unknown key 'exlude' in [proxy.level1] (did you mean 'exclude'?)", err, 1, true)
    assert.is_false(H.exists(out .. "/game.zip"))
  end)

  it("refuses a boolean that is not 0, 1, true or false (no spelling of 'no' means yes)", function()
    for _, v in ipairs({"maybe", "no", "yes"}) do
      local code, _, err = bundle(ini("exclude = " .. v .. "\nvolume = levels\n"))
      assert.are.equal(1, code, v)
      assert.matches("game.project:8: proxy.level1.exclude: '" .. v .. "' is not a boolean (1, 0, true or false)",
                     err, 1, true)
    end
  end)

  it("ships a proxy with exclude = false in the base bundle", function()
    local code, stdout, err, out = bundle(ini("exclude = false\nvolume = levels\n"))
    assert.are.equal(0, code, err)
    local base = unzip_list(out .. "/game.zip")
    assert.is_true(base["level1/tree.txt"])
    assert.is_true(base["level1/level1.collection"])
    assert.matches("lists 0 volume(s)", stdout, 1, true)
    -- and true excludes it
    code, stdout, err, out = bundle(ini("exclude = true\nvolume = levels\n"))
    assert.are.equal(0, code, err)
    assert.is_nil(unzip_list(out .. "/game.zip")["level1/tree.txt"])
    assert.is_true(unzip_list(out .. "/liveupdate/levels.zip")["level1/tree.txt"])
  end)

  it("refuses an unknown key in [update]", function()
    local code, _, err = bundle(ini("", "[update]\nurl = http://x/release.json\nmdoe = sync\n"))
    assert.are.equal(1, code)
    assert.matches("game.project:12: unknown key 'mdoe' in [update] (did you mean 'mode'?)", err, 1, true)
  end)

  it("warns about a section named close to an owned one, and bundles", function()
    local code, _, err = bundle(ini("", "[liveupdat]\nprune_stale = 1\n[display]\nwidth = 960\n"))
    assert.are.equal(0, code, err)
    assert.matches("game.project:11: warning: section [liveupdat] is not one liveupdate reads (did you mean " ..
                   "[liveupdate]?)", err, 1, true)
    assert.is_nil(err:find("display", 1, true))
  end)

  it("refuses a resources pattern that matches nothing, naming proxy, pattern, file and line", function()
    local text = ini(""):gsub("resources = /level1/%*%*", "resources = /level1/** /levl2/*")
    local code, _, err = bundle(text)
    assert.are.equal(1, code)
    assert.matches("game.project:7: [proxy.level1] resources pattern '/levl2/*' matches no file in the content",
                   err, 1, true)
  end)

  it("refuses a [proxy.*] section without its collection (its exclude = 1 was ignored: the level shipped in the base)",
     function()
    local text = ini("") .. "[proxy.boss]\nresources = /level1/tree.txt\nexclude = 1\nvolume = levels\n"
    local code, _, err, out = bundle(text)
    assert.are.equal(1, code)
    assert.matches("[proxy.boss] needs collection = /path/to.collection", err, 1, true)
    assert.is_false(H.exists(out .. "/game.zip"))
  end)

  it("refuses a missing main script and a missing collection", function()
    local code, _, err = bundle((ini(""):gsub("/main/main.lua", "/main/mian.lua")))
    assert.are.equal(1, code)
    assert.matches("game.project:4: [bootstrap] main_script = /main/mian.lua is not in the content", err, 1, true)
    code, _, err = bundle((ini(""):gsub("/level1/level1.collection", "/level1/level1.colection")))
    assert.are.equal(1, code)
    assert.matches("game.project:6: [proxy.level1] collection '/level1/level1.colection' is not in the content",
                   err, 1, true)
  end)

  it("refuses symbolic links under the content root, saying whether they leave it", function()
    local outside = H.tmpdir() .. "/secret.txt"
    H.write(outside, "not the game's")
    local proj = H.project(ini(""), CONTENT)
    assert(H.sh("ln -s " .. H.quote(outside) .. " " .. H.quote(proj .. "/content/level1/secret.txt")))
    local code, _, err = H.lutool("bundle " .. H.quote(proj) .. " -o " .. H.quote(H.tmpdir() .. "/o"))
    assert.are.equal(1, code)
    assert.matches("content/level1/secret.txt is a symbolic link to '" .. outside .. "', which leaves the content root",
                   err, 1, true)
    os.remove(proj .. "/content/level1/secret.txt")
    assert(H.sh("ln -s tree.txt " .. H.quote(proj .. "/content/level1/alias.txt")))
    code, _, err = H.lutool("bundle " .. H.quote(proj) .. " -o " .. H.quote(H.tmpdir() .. "/o"))
    assert.are.equal(1, code)
    assert.matches("content/level1/alias.txt is a symbolic link to 'tree.txt', inside the content root", err, 1, true)
    os.remove(proj .. "/content/level1/alias.txt")
    code, _, err = H.lutool("bundle " .. H.quote(proj) .. " -o " .. H.quote(H.tmpdir() .. "/o"))
    assert.are.equal(0, code, err)
  end)
end)

describe("game.project schema: [liveupdate] enabled", function()
  it("is a boolean: 1 and 0 bundle (volumes and all), anything else is an error naming the key", function()
    for _, v in ipairs({"1", "0"}) do
      local code, _, err, out = bundle(ini("exclude = 1\nvolume = levels\n", "[liveupdate]\nenabled = " .. v .. "\n"))
      assert.are.equal(0, code, err)
      assert.is_true(H.exists(out .. "/liveupdate/levels.zip"), v)
      assert.is_nil(unzip_list(out .. "/game.zip")["level1/tree.txt"], v)
    end
    local code, _, err = bundle(ini("", "[liveupdate]\nenabled = maybe\n"))
    assert.are.equal(1, code)
    assert.matches("game.project:11: liveupdate.enabled: 'maybe' is not a boolean (1, 0, true or false)", err, 1, true)
    local proj = H.project(ini(""), CONTENT)
    local out
    code, out, err = H.run(proj, "--save-dir " .. H.quote(H.tmpdir()) .. " --set liveupdate.enabled=maybe")
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.matches("liveupdate.enabled (set on the command line): 'maybe' is not a boolean", err, 1, true)
  end)
end)

describe("game.project schema: lurun", function()
  it("stops at a mistake in game.project, run on a project or on its bundle, before any script runs", function()
    local proj = H.project(ini("exclude = 1\nvolume = levels\n", "[liveupdate]\nconsole_port = 70000\n"), CONTENT)
    local code, out, err = H.run(proj, "--save-dir " .. H.quote(H.tmpdir()))
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("game.project:13: liveupdate.console_port: '70000' is not an integer from 0 to 65535", err, 1, true)
    -- the bundle's copy of the file, fixed by hand into a mistake
    local good = H.project(ini("exclude = 1\nvolume = levels\n"), CONTENT)
    local bdir = H.tmpdir() .. "/b"
    assert.are.equal(0, (H.lutool("bundle " .. H.quote(good) .. " -o " .. H.quote(bdir))))
    H.write(bdir .. "/game.project", H.read(bdir .. "/game.project"):gsub("exclude = 1", "exclude = no"))
    code, out, err = H.run(bdir, "--save-dir " .. H.quote(H.tmpdir()))
    assert.are.equal(1, code)
    assert.are.equal("", out)
    assert.matches("proxy.level1.exclude: 'no' is not a boolean", err, 1, true)
  end)

  it("refuses a misspelt --set key with the suggestion (exit status 2), and takes a right one", function()
    local proj = H.project(ini(""), CONTENT)
    local code, out, err = H.run(proj, "--save-dir " .. H.quote(H.tmpdir()) .. " --set liveupdate.prune_stal=1")
    assert.are.equal(2, code)
    assert.are.equal("", out)
    assert.matches("--set liveupdate.prune_stal: unknown key 'prune_stal' in [liveupdate] (did you mean " ..
                   "'prune_stale'?)", err, 1, true)
    code, _, err = H.run(proj, "--save-dir " .. H.quote(H.tmpdir()) .. " --set liveupdat.prune_stale=1")
    assert.are.equal(2, code)
    assert.matches("[liveupdat] is not a section liveupdate reads (did you mean [liveupdate]?)", err, 1, true)
    code, _, err = H.run(proj, "--save-dir " .. H.quote(H.tmpdir()) .. " --set update.mode=later")
    assert.are.equal(2, code)
    assert.matches("update.mode (set on the command line): 'later' is not one of async, sync", err, 1, true)
    -- spaces around '=' as in the file: the key is update.mode, not "update.mode "
    code, _, err = H.run(proj, "--save-dir " .. H.quote(H.tmpdir()) .. " --set 'update.mode = later'")
    assert.are.equal(2, code)
    assert.matches("update.mode (set on the command line): 'later' is not one of async, sync", err, 1, true)
    code, out, err = H.run(proj, "--save-dir " .. H.quote(H.tmpdir()) ..
                           " --set liveupdate.prune_stale=true --set game.my_setting=1")
    assert.are.equal(0, code, err)
    assert.are.equal("main ran\n", out)
  end)
end)

describe("project run and bundle run", function()
  -- Runs lurun with XDG_DATA_HOME = xdg and no --save-dir.
  local function run_xdg(dir, xdg)
    local o, e = os.tmpname(), os.tmpname()
    local _, code = H.sh("XDG_DATA_HOME=" .. H.quote(xdg) .. " " .. H.lurun_prefix .. " " .. H.quote(H.lurun) .. " " ..
                         H.quote(dir) .. " >" .. H.quote(o) .. " 2>" .. H.quote(e))
    local out, err = H.read(o), H.read(e)
    os.remove(o); os.remove(e)
    return code, out, err
  end

  it("keep separate default save directories: a project run serves its edited content, not the bundle's volume",
     function()
    local main = [[
function init(self)
  print("save", sys.get_save_file("Schema Spec", "f"))
  local data = sys.load_resource("/level1/tree.txt")
  if data then
    print("tree", data)
    sys.exit(0)
  end
  liveupdate.add_mount("levels", "zip:" .. sys.get_application_path() .. "/liveupdate/levels.zip", 10,
    function(self, name, uri, result)
      print("mounted", result, sys.load_resource("/level1/tree.txt"))
      sys.exit(0)
    end)
end
]]
    local content = {["main/main.lua"] = main, ["level1/level1.collection"] = "", ["level1/tree.txt"] = "tree v1"}
    local proj = H.project(ini("exclude = 1\nvolume = levels\n"), content)
    local bdir = H.tmpdir() .. "/bundle"
    assert.are.equal(0, (H.lutool("bundle " .. H.quote(proj) .. " -o " .. H.quote(bdir))))
    local xdg = H.tmpdir()
    -- the bundle: level1 is not in game.zip, so it mounts the volume (persisted)
    local code, out, err = run_xdg(bdir, xdg)
    assert.are.equal(0, code, err)
    assert.are.equal("save\t" .. xdg .. "/Schema Spec/f\nmounted\t0\ttree v1\n", out)
    code, out, err = run_xdg(bdir, xdg)
    assert.are.equal(0, code, err)
    assert.are.equal("save\t" .. xdg .. "/Schema Spec/f\ntree\ttree v1\n", out, "the mount persisted")
    -- the developer edits the level and runs the project folder: the edit shows
    H.write(proj .. "/content/level1/tree.txt", "tree v2")
    code, out, err = run_xdg(proj, xdg)
    assert.are.equal(0, code, err)
    assert.are.equal("save\t" .. xdg .. "/Schema Spec (project)/f\ntree\ttree v2\n", out)
    assert.is_true(H.sh("test -d " .. H.quote(xdg .. "/Schema Spec (project)")))
    -- an explicit --save-dir is used as given, by either run
    local save = H.tmpdir()
    code, out, err = H.run(proj, "--save-dir " .. H.quote(save))
    assert.are.equal(0, code, err)
    assert.are.equal("save\t" .. save .. "/Schema Spec/f\ntree\ttree v2\n", out)
  end)
end)
