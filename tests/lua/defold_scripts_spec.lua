-- defold_scripts_spec.lua -- Defold's own live-update scripts, run
-- unchanged under lurun against nginx.
--
-- The scripts are tests/fixtures/defold/ (byte for byte from defold/doc's
-- manuals in every language since 2017, defold/defold's API reference and
-- a public library; tests/fixtures/defold/SOURCES.md names the commit and
-- lines of each). Each case builds the game the script was written for: a
-- main collection whose script is the published text, a proxy "level1"
-- excluded into the volume "liveupdate", the volume published on nginx as
-- the manual's liveupdate.zip. The level's own script prints where it was
-- served from and ends the run. Scripts that only define a function
-- (remove_old_mounts) get a few lines appended after the published text to
-- call it; the published text itself is never changed.
local H = require("helpers")

local FIXTURES = (os.getenv("LU_ROOT") or "../..") .. "/tests/fixtures/defold"

local function fixture(rel)
  local text = H.read(FIXTURES .. "/" .. rel)
  assert(text, "missing fixture " .. rel)
  return text
end

local function ls(dir)
  local t = {}
  local p = io.popen("ls " .. H.quote(dir) .. " 2>/dev/null")
  for l in p:lines() do t[#t + 1] = l end
  p:close()
  return t
end

local LEVEL_SCRIPT = [[
function init(self)
  print("level1: running, served by " .. tostring(liveupdate.which("/level1/level1.lua")))
  sys.exit(0)
end
]]

local function project_ini(opts)
  return ([[
[project]
title = Defold Manual
[bootstrap]
main_script = /main/main.lua
[display]
update_frequency = 1000
[game]
http_url = %s
minimum_lu_version = %d
[liveupdate]
defold_api = %s
%s[volume.liveupdate]
version = %d
priority = 10
]]):format(opts.url, opts.minimum or 1, opts.api or "1.12", opts.proxies or [[
[proxy.level1]
collection = /level1/level1.collection
resources = /level1/**
exclude = 1
volume = liveupdate
]], opts.version or 1)
end

-- Bundles the game around `main` (the main script's text) and publishes
-- its volume on `www` as <name>.zip. Returns the bundle folder.
local function build(main, opts)
  local dir = H.project(project_ini(opts), {
    ["main/main.lua"] = main,
    ["level1/level1.collection"] = 'name: "level1"\nscript: "/level1/level1.lua"\n',
    ["level1/level1.lua"] = opts.level_script or LEVEL_SCRIPT,
    ["level1/level1.txt"] = "level 1, version " .. (opts.version or 1),
  })
  for k, v in pairs(opts.extra or {}) do H.write(dir .. "/content/" .. k, v) end
  local out = H.tmpdir()
  local code, _, err = H.lutool("bundle " .. H.quote(dir) .. " -o " .. H.quote(out))
  assert(code == 0, err)
  local vol
  for _, f in ipairs(ls(out .. "/liveupdate")) do if f:match("^liveupdate.*%.zip$") then vol = f end end
  assert(vol, "the bundle has no liveupdate volume")
  H.write(opts.www .. "/" .. (opts.publish_as or "liveupdate.zip"), H.read(out .. "/liveupdate/" .. vol))
  return out
end

local function run(bundle, save, args)
  return H.run(bundle, "--save-dir " .. H.quote(save) .. " --frames 20000 " .. (args or ""))
end

-- lurun with environment variables (an HTTP proxy for scripts that name a
-- host of the internet).
local function run_env(env, bundle, save, args)
  local out, err = os.tmpname(), os.tmpname()
  local cmd = "env " .. env .. " " .. H.lurun_prefix .. " " .. H.quote(H.lurun) .. " " .. H.quote(bundle) ..
              " --save-dir " .. H.quote(save) .. " " .. (args or "") .. " >" .. H.quote(out) .. " 2>" .. H.quote(err)
  local _, code = H.sh(cmd)
  local o, e = H.read(out), H.read(err)
  os.remove(out); os.remove(err)
  return code, o, e
end

describe("Defold's published live-update scripts", function()
  local www, base, stop, ngdir
  setup(function()
    www = H.tmpdir()
    base, stop, _, ngdir = H.nginx(www)
  end)
  teardown(function() stop() end)

  local function requests() return H.requests(ngdir, "/liveupdate.zip") end

  -- The 2026 level loaders: download when get_resources says {}, mount,
  -- load. Three starts: the download; a restart that finds the mount
  -- persisted; a raised minimum that prunes it, so the script downloads the
  -- newer volume the studio published.
  local function three_starts(file, api)
    local main = fixture("manual/" .. file)
    local bundle = build(main, {url = base, api = api, www = www})
    local save = H.tmpdir()
    local before = requests()
    local code, out, err = run(bundle, save)
    assert.are.equal(0, code, err)
    assert.are.equal("level1: running, served by liveupdate\n", out, err)
    assert.are.equal(1, requests() - before, "one download")
    assert.is_truthy(H.exists(save .. "/mygame/liveupdate.zip"), "where the script downloaded it")

    code, out, err = run(bundle, save)
    assert.are.equal(0, code, err)
    assert.are.equal("level1: running, served by liveupdate\n", out, err)
    assert.are.equal(1, requests() - before, "the second start downloads nothing: the mount persisted")

    -- version 2 of the game: minimum 2, the studio publishes volume version 2
    local bundle2 = build(main, {url = base, api = api, www = www, minimum = 2, version = 2})
    code, out, err = run(bundle2, save, "--set liveupdate.prune_stale=1")
    assert.are.equal(0, code, err)
    assert.are.equal("level1: running, served by liveupdate\n", out, err)
    assert.are.equal(2, requests() - before, "the stale volume was pruned and the new one downloaded")
    return out, err
  end

  -- every published 2026 loader, in every language: get_resources era
  local loaders = {}
  for _, f in ipairs(ls(FIXTURES .. "/manual")) do
    local text = H.read(FIXTURES .. "/manual/" .. f)
    if text:find("collectionproxy.get_resources", 1, true) and text:find("function on_message", 1, true) and
       text:find("download_archive", 1, true) and load(text) then
      loaders[#loaders + 1] = {f, text:find("mount.name == name_hash", 1, true) and "1.13" or "1.12"}
    end
  end

  it("finds the 2026 loaders among the fixtures (en, es, ko, pl, pt, ru, zh; 1.12 and 1.13 generations)", function()
    assert.is_true(#loaders >= 25, "found " .. #loaders)
    local apis = {}
    for _, l in ipairs(loaders) do apis[l[2]] = (apis[l[2]] or 0) + 1 end
    assert.is_true(apis["1.12"] >= 8 and apis["1.13"] >= 8)
  end)

  for _, l in ipairs(loaders) do
    it(l[1] .. " (defold_api " .. l[2] .. "): downloads, finds its mount persisted, downloads again after a prune", function()
      three_starts(l[1], l[2])
    end)
  end

  it("the current manual's loader mounts an archive already on disk, and deletes a refused one and downloads again", function()
    local file = "2026-07-14-39972393-en-live-update-scripting-4.lua"
    local main = fixture("manual/" .. file)
    local bundle = build(main, {url = base, api = "1.13", www = www})
    local save = H.tmpdir()
    -- a stale archive (version 0: no version file) where the script keeps it
    local stale = H.tmpdir() .. "/stale.zip"
    H.zip(stale, {["level1/level1.lua"] = "print('stale')"})
    H.write(save .. "/mygame/liveupdate.zip", H.read(stale))
    local before = requests()
    local code, out, err = run(bundle, save, "--set game.minimum_lu_version=1")
    assert.are.equal(0, code, err)
    assert.are.equal("level1: running, served by liveupdate\n", out)
    assert.are.equal(1, requests() - before, "refused, removed, downloaded")
  end)

  it("the 2025 loader (missing_resources, `if #missing_resources then`) loops as its published bug makes it do in Defold", function()
    local bundle = build(fixture("manual/2025-04-16-e138e6aa-en-live-update-scripting-2.lua"),
                         {url = base, api = "1.12", www = www})
    local before = requests()
    local code, out, err = run(bundle, H.tmpdir(), "--frames 3000")
    -- `#missing_resources` is a number, always true in Lua: it downloads and
    -- mounts again and again and never sends "load"; nothing crashes
    assert.are.equal(0, code, err)
    assert.are.equal("", out)
    assert.is_true(requests() - before >= 2, "downloads again")
  end)

  it("the 2024 loader stops at its published bug (an undefined function), with file and line", function()
    local bundle = build(fixture("manual/2024-01-11-ce434409-en-live-update-scripting-2.lua"),
                         {url = base, api = "1.12", www = www})
    local code, _, err = run(bundle, H.tmpdir())
    assert.are_not.equal(0, code)
    assert.matches("/main/main.lua:%d+: attempt to call a nil value %(global 'get_lu_archive_for_level'%)", err)
  end)

  -- remove_old_mounts: the published function, then (appended) a call
  local CALL = "\n-- appended by the test, after the published text:\n" ..
               "function init(self)\n  remove_old_mounts()\n" ..
               "  local names = {}\n" ..
               "  for _, m in ipairs(liveupdate.get_mounts()) do names[#names + 1] = tostring(m.name) end\n" ..
               "  print(table.concat(names, ' '))\n  sys.exit(0)\nend\n"

  local function with_mounts(mounts, save)
    local vols, list = H.tmpdir(), {}
    for name, version in pairs(mounts) do
      local files = {["x_" .. name .. ".txt"] = name}
      if version then files["version_" .. name:gsub("%-", "_") .. ".json"] = '{"version": ' .. version .. '}' end
      H.zip(vols .. "/" .. name .. ".zip", files)
      list[#list + 1] = ('{"name":"%s","uri":"zip:%s/%s.zip","priority":%d}'):format(name, vols, name, #list + 1)
    end
    H.write(save .. "/liveupdate.mounts", '{"version":1,"mounts":[' .. table.concat(list, ",") .. ']}')
  end

  it("remove_old_mounts (2026-07, hash names) removes the packs below the minimum, keeps the others (1.13)", function()
    local bundle = build(fixture("manual/2026-07-10-ad3b77a9-en-live-update-scripting-1.lua") .. CALL,
                         {url = base, api = "1.13", www = www, minimum = 2})
    local save = H.tmpdir()
    with_mounts({["level-pack"] = 1, ["season-pack"] = 3, ["extra"] = false}, save)
    local code, out, err = run(bundle, save)
    assert.are.equal(0, code, err)
    -- level-pack: version 1 < 2; extra: no version file (version 0)
    assert.are.equal("hash: [season-pack] hash: [_base]\n", out)
  end)

  it("remove_old_mounts (2026-07, translated: [hash(\"liveupdate\")]) in every language", function()
    for _, f in ipairs(ls(FIXTURES .. "/manual")) do
      local text = H.read(FIXTURES .. "/manual/" .. f)
      if f:match("%-1%.lua$") and text:find('[hash("liveupdate")]', 1, true) then
        local bundle = build(text .. CALL, {url = base, api = "1.13", www = www, minimum = 2})
        local save = H.tmpdir()
        with_mounts({["liveupdate"] = 1}, save)
        local code, out, err = run(bundle, save)
        assert.are.equal(0, code, f .. ": " .. err)
        assert.are.equal("hash: [_base]\n", out, f)
      end
    end
  end)

  it("remove_old_mounts (2024, string names) raises on the base mount as Defold does", function()
    local bundle = build(fixture("manual/2024-01-11-ce434409-en-live-update-scripting-1.lua") .. CALL,
                         {url = base, api = "1.12", www = www, minimum = 2})
    local save = H.tmpdir()
    with_mounts({["liveupdate"] = 3}, save)
    local code, _, err = run(bundle, save)
    assert.are_not.equal(0, code)
    assert.matches("Cannot remove base mounts: _base", err, 1, true)
  end)

  it("the API reference's add_mount / remove_mount / get_mounts examples (1.12 and 1.13)", function()
    for _, api in ipairs({"1.12", "1.13"}) do
      local body = fixture("apiref/liveupdate-add_mount-1.lua")
      local main = "function init(self)\n" .. body .. "\n" .. fixture("apiref/liveupdate-get_mounts-1.lua") ..
                   "\n" .. fixture("apiref/liveupdate-remove_mount-1.lua") .. "\nsys.exit(0)\nend\n"
      local bundle = build(main, {url = base, api = api, www = www})
      local code, out, err = run(bundle, H.tmpdir())
      assert.are.equal(0, code, err)
      assert.matches("DEBUG:SCRIPT: ", out, 1, true)
    end
  end)

  it("reszip (indiesoftby/defold-liveupdate-reszip), a module-based library: downloads, mounts, loads; a new file name replaces the old one", function()
    local driver = [[
-- the library's native extension gives this table on every platform; request_file exists only on HTML5
liveupdate_reszip_ext = {}
local reszip = require "liveupdate_reszip.reszip"
local ZIP = sys.get_config_string("game.zip_name", "resources.zip")

function init(self)
  local missing = collectionproxy.missing_resources("#level1")
  if not reszip.version_match(ZIP) or next(missing) ~= nil then
    reszip.load_and_mount_zip(sys.get_config_string("game.http_url") .. "/liveupdate.zip", {
      filename = ZIP, delete_old_file = true,
      on_finish = function(self, err)
        if err then print("ERROR: " .. err) sys.exit(1) end
        msg.post("#level1", "load")
      end})
  else
    msg.post("#level1", "load")
  end
end

function on_message(self, message_id, message, sender)
  if message_id == hash("proxy_loaded") then msg.post(sender, "enable") end
end
]]
    local lib = fixture("library/defold-liveupdate-reszip/liveupdate_reszip/reszip.lua")
    -- reszip mounts the archive as "reszip", which carries no
    -- /version_reszip.json: a game using it sets no minimum volume version
    local bundle = build(driver, {url = base, api = "1.12", www = www, minimum = 0,
                                  extra = {["liveupdate_reszip/reszip.lua"] = lib}})
    local save = H.tmpdir()
    local before = requests()
    local code, out, err = run(bundle, save)
    assert.are.equal(0, code, out .. err)
    assert.are.equal("level1: running, served by reszip\n", out)
    local app = save .. "/Defold Manual"
    assert.is_truthy(H.exists(app .. "/resources.zip"), table.concat(ls(save), " "))
    code, out, err = run(bundle, save)
    assert.are.equal(0, code, err)
    assert.are.equal("level1: running, served by reszip\n", out)
    assert.are.equal(1, requests() - before)
    -- the next game version names its archive differently: reszip removes
    -- the old mount and deletes the old file it finds through mount.uri
    code, out, err = run(bundle, save, "--set game.zip_name=resources-2.zip")
    assert.are.equal(0, code, err)
    assert.are.equal("level1: running, served by reszip\n", out)
    assert.are.equal(2, requests() - before)
    assert.is_falsy(H.exists(app .. "/resources.zip"), "the old archive was deleted through mount.uri")
    assert.is_truthy(H.exists(app .. "/resources-2.zip"))
  end)

  -- The API reference's examples (defold/defold doc comments). Message
  -- examples are a script's on_message: the published text is the script,
  -- and a few lines appended after it start the level the way the example
  -- expects another script to ("start_level" and the like).
  local PROXY = "[proxy.proxy]\ncollection = /level1/level1.collection\nresources = /level1/**\nexclude = 1\nvolume = liveupdate\n"

  local function example_game(main, extra_opts)
    local opts = {url = base, api = "1.13", www = www, proxies = PROXY}
    for k, v in pairs(extra_opts or {}) do opts[k] = v end
    local bundle = build(main, opts)
    local save = H.tmpdir()
    -- the level's volume mounted as a previous run left it
    H.write(save .. "/liveupdate.zip", H.read(www .. "/liveupdate.zip"))
    H.write(save .. "/liveupdate.mounts",
            '{"version":1,"mounts":[{"name":"liveupdate","uri":"zip:liveupdate.zip","priority":10}]}')
    return bundle, save
  end

  for _, ex in ipairs({{"load", "start_level"}, {"async_load", "start_level"}, {"enable", "start_level"},
                       {"init", "load_level"}}) do
    it("collectionproxy." .. ex[1] .. " example: the proxy loads and its level runs", function()
      local main = fixture("apiref/collectionproxy-" .. ex[1] .. "-1.lua") ..
                   "\n-- appended by the test: another script asks for the level\n" ..
                   "function init(self) msg.post('#', '" .. ex[2] .. "') end\n"
      local bundle, save = example_game(main)
      local code, out, err = run(bundle, save)
      assert.are.equal(0, code, err)
      assert.are.equal("level1: running, served by liveupdate\n", out)
    end)
  end

  it("collectionproxy unload example (disable, final, unload; proxy_unloaded)", function()
    local main = fixture("apiref/collectionproxy-unload-1.lua") .. [[

-- appended by the test: load and enable the level first, end it, and stop at "level_ended"
local published = on_message
function on_message(self, message_id, message, sender)
  if message_id == hash("proxy_loaded") then
    msg.post(sender, "enable")
    msg.post("#", "end_level")
  elseif message_id == hash("level_ended") then
    print("level_ended")
    sys.exit(0)
  else
    published(self, message_id, message, sender)
  end
end
function init(self) msg.post("#proxy", "load") end
]]
    -- this level stays: it says when it starts and ends
    local bundle, save = example_game(main, {level_script =
      "function init(self) print('level1 runs') end\nfunction final(self) print('level1 final') end\n"})
    local code, out, err = run(bundle, save)
    assert.are.equal(0, code, err)
    assert.are.equal("level1 runs\nlevel1 final\nlevel_ended\n", out)
  end)

  it("collectionproxy.get_resources example: nothing before the volume is mounted, the paths after", function()
    local main = fixture("apiref/collectionproxy-get_resources-1.lua") .. [[

-- appended by the test
function init(self)
  print_resources(self, "#proxy")
  print("--")
  liveupdate.add_mount("liveupdate", "zip:" .. sys.get_config_string("game.lu_zip"), 10, function(self)
    print_resources(self, "#proxy")
    sys.exit(0)
  end)
end
]]
    local bundle = build(main, {url = base, api = "1.13", www = www, proxies = PROXY})
    local code, out, err = run(bundle, H.tmpdir(), "--set game.lu_zip=" .. H.quote(www .. "/liveupdate.zip"))
    assert.are.equal(0, code, err)
    assert.are.equal("--\nResource: /level1/level1.collection\nResource: /level1/level1.lua\nResource: /level1/level1.txt\n", out)
  end)

  it("collectionproxy.set_collection example (1.13): the proxy loads the Live Update collection", function()
    local body = fixture("apiref/collectionproxy-set_collection-1.lua")
    -- the example's statements, run once the volume with /LU/3.collectionc is mounted
    local main = "function init(self)\n  liveupdate.add_mount('liveupdate', 'zip:' .. sys.get_config_string('game.lu_zip'), 10, function(self)\n" ..
                 body .. "\n  end)\nend\n"
    local proxies = "[proxy.collectionproxy]\ncollection = /level1/level1.collection\nresources = /level1/**\nexclude = 1\nvolume = liveupdate\n" ..
                    "[proxy.lu3]\ncollection = /LU/3.collectionc\nresources = /LU/**\nexclude = 1\nvolume = liveupdate\n"
    local bundle = build(main, {url = base, api = "1.13", www = www, proxies = proxies, extra = {
      ["LU/3.collectionc"] = 'name: "lu3"\nscript: "/LU/lu3.lua"\n',
      ["LU/lu3.lua"] = "function init(self) print('LU/3 runs, served by ' .. liveupdate.which('/LU/lu3.lua')) sys.exit(0) end\n"}})
    local code, out, err = run(bundle, H.tmpdir(), "--set game.lu_zip=" .. H.quote(www .. "/liveupdate.zip"))
    assert.are.equal(0, code, err)
    assert.are.equal("The collection has been changed to /LU/3.collectionc\nLU/3 runs, served by liveupdate\n", out)
  end)

  it("timer.delay examples: once after a second; every second, cancelled after 10 calls", function()
    local main = "function init(self)\n" .. fixture("apiref/timer-delay-1.lua") .. "\n" .. fixture("apiref/timer-delay-2.lua") ..
                 "\n  timer.delay(12, false, function() sys.exit(0) end) -- appended: end the run\nend\n"
    local bundle = build(main, {url = base, www = www})
    -- unpaced frames of 1/60 s: 12 s of game time in a moment
    local code, out, err = run(bundle, H.tmpdir(), "--set display.update_frequency=0")
    assert.are.equal(0, code, err)
    local lines = {}
    for l in out:gmatch("[^\n]+") do lines[#lines + 1] = l end
    assert.are.equal(11, #lines, out)
    assert.are.equal("print in one second", lines[1] == "print in one second" and lines[1] or lines[2])
    assert.are.equal("Call #\t10", lines[#lines])
  end)

  it("http.request example with report_progress, unchanged (its www.google.com reached through an HTTP proxy: nginx)", function()
    local page = string.rep("Defold progress ", 40000)
    H.write(www .. "/index.html", page)
    local main = "-- the game's own progress bar, which the example calls\n" ..
                 "local calls = 0\nfunction update_my_progress_bar(self, p) calls = calls + 1 if p == 1 then print('progress done', calls > 0) end end\n" ..
                 fixture("apiref/http-request-1.lua") ..
                 "\n-- appended by the test: end the run once the answer came (the example pprints its headers last)\n" ..
                 "local pp = pprint\npprint = function(...) pp(...) sys.exit(0) end\n"
    local bundle = build(main, {url = base, www = www})
    local code, out, err = run_env("http_proxy=" .. base, bundle, H.tmpdir(), "--frames 200000 --set display.update_frequency=0")
    assert.are.equal(0, code, err)
    assert.matches("progress done\ttrue\n200\n" .. page:sub(1, 40), out, 1, true)
  end)

  it("liveupdate.store_resource example (legacy API): every missing resource fetched from its example.defold.com:8000 and stored", function()
    local main = fixture("apiref/liveupdate-store_resource-1.lua") .. [[

-- appended by the test: fetch what level1 misses, then load it once nothing is missing
local published_init = init
function init(self)
  published_init(self)
  load_resources(self, "#level1")
end
function update(self)
  if not self.loading and #collectionproxy.missing_resources("#level1") == 0 then
    self.loading = true
    msg.post("#level1", "load")
  end
end
function on_message(self, message_id, message, sender)
  if message_id == hash("proxy_loaded") then msg.post(sender, "enable") end
end
]]
    local bundle = build(main, {url = base, www = www, minimum = 0})
    -- the loose resources, as Defold's bundler exports them for this flow
    H.write(www .. "/level1/level1.collection", 'name: "level1"\nscript: "/level1/level1.lua"\n')
    H.write(www .. "/level1/level1.lua", LEVEL_SCRIPT)
    H.write(www .. "/level1/level1.txt", "level 1, version 1")
    local code, out, err = run_env("http_proxy=" .. base, bundle, H.tmpdir())
    assert.are.equal(0, code, err)
    assert.matches("Successfully stored resource: /level1/level1.lua\n", out, 1, true)
    assert.matches("level1: running, served by liveupdate\n$", out)
  end)
end)
