-- store_spec.lua -- the content-addressed store (<save>/volumes/sha256),
-- from stock Lua against nginx on 127.0.0.1, counting nginx's requests:
-- a release's unchanged volume is never fetched again, download_volume
-- finds bytes an earlier release or download brought, a damaged store entry
-- is downloaded again, a signature check needs a stored signature, the
-- version floor refuses stored bytes as it refuses downloaded ones, and the
-- store keeps only bytes some volume file still uses.
local H = require("helpers")

local fresh, run_until = H.fresh_liveupdate, H.run_until

-- Writes www/<file> as a zip of `files`; returns its catalog entry.
local function volume(www, name, file, files, extra)
  H.zip(www .. "/" .. file, files)
  local e = {name = name, file = file, size = #H.read(www .. "/" .. file), sha256 = H.sha256(www .. "/" .. file),
             priority = 10}
  for k, v in pairs(extra or {}) do e[k] = v end
  return e
end

-- The inode number of `path` (two names of one file share it).
local function inode(path)
  local f = io.popen("stat -c %i " .. H.quote(path))
  local n = f:read("l")
  f:close()
  return n
end

-- release.json for `version` listing the entries.
local function document(www, version, entries)
  local list = {}
  for _, e in ipairs(entries) do
    list[#list + 1] = ('{"name": "%s", "file": "%s", "size": %d, "sha256": "%s", "priority": 10}'):format(
      e.name, e.file, e.size, e.sha256)
  end
  H.write(www .. "/release.json", ('{"version": "%s", "volumes": [%s]}'):format(version, table.concat(list, ", ")))
end

describe("the content-addressed store", function()
  local lu, save, www, base, stop, ngdir, events

  before_each(function()
    lu = fresh()
    save, www = H.tmpdir(), H.tmpdir()
    H.zip(www .. "/base.zip", {["title.txt"] = "base 1.0"})
    base, stop, _, ngdir = H.nginx(www)
    events = {}
  end)

  after_each(function()
    lu.shutdown()
    stop()
  end)

  local function start(extra)
    local o = {save_dir = save, base = "zip:" .. www .. "/base.zip", http_url = base,
               update = {url = base .. "/release.json", local_version = "1.0"}}
    for k, v in pairs(extra or {}) do o[k] = v end
    assert(lu.init(o))
    local um = assert(lu.get_update_manager())
    um.on_update_ready(function(self, res) events[#events + 1] = {"ready", res.version} end)
    um.on_update_failed(function(self, res) events[#events + 1] = {"failed", res.status, res.message} end)
    um.on_check_for_update(function(self, res)
      if not res.has_update then events[#events + 1] = {"none"} end
    end)
    return um
  end

  local function check(um)
    events = {}
    assert(um.check())
    run_until(lu, function() return #events > 0 end)
    return events[#events]
  end

  local function fetch(entry, options)
    local result, message, called = nil, nil, false
    local handle, err, st = lu.download_volume(entry, options or {}, function(self, name, r, m)
      called, result, message = true, r, m
    end)
    if not handle then return st, err end
    run_until(lu, function() return called end)
    assert.is_true(called, "the callback never ran")
    return result, message
  end

  it("a release's unchanged volume is never fetched again; the store keeps what the releases use", function()
    local big = string.rep("0123456789abcdef", 12500)
    local a1 = volume(www, "a", "a-1.1.zip", {["a.txt"] = "a 1.1"})
    local b = volume(www, "b", "b-1.1.zip", {["b.txt"] = big})
    document(www, "1.1", {a1, b})
    local um = start()
    assert.are.same({"ready", "1.1"}, check(um))
    assert(um.apply_update())
    assert(um.confirm())
    assert.are.equal(1, H.requests(ngdir, "/b-1.1.zip"))
    -- 1.2 changes a; b is listed again with the same bytes
    local a2 = volume(www, "a", "a-1.2.zip", {["a.txt"] = "a 1.2"})
    document(www, "1.2", {a2, b})
    assert.are.same({"ready", "1.2"}, check(um))
    assert.are.equal(1, H.requests(ngdir, "/b-1.1.zip"))      -- not requested again
    assert.are.equal(1, H.requests(ngdir, "/a-1.2.zip"))
    assert(um.apply_update())
    assert(um.confirm())
    assert.are.equal("a 1.2", lu.load_resource("/a.txt"))
    assert.are.equal(big, lu.load_resource("/b.txt"))
    -- the two release files of b share their bytes (one inode, no second copy)
    assert.are.equal(inode(save .. "/volumes/rel-1.1-b-1.1.zip"), inode(save .. "/volumes/rel-1.2-b-1.1.zip"))
    -- 1.3 and 1.4 move on: a1's and b's bytes are collected with their last files
    document(www, "1.3", {volume(www, "a", "a-1.3.zip", {["a.txt"] = "a 1.3"})})
    assert.are.same({"ready", "1.3"}, check(um))
    assert(um.apply_update())
    assert(um.confirm())
    document(www, "1.4", {volume(www, "a", "a-1.4.zip", {["a.txt"] = "a 1.4"})})
    assert.are.same({"ready", "1.4"}, check(um))
    assert(um.apply_update())
    assert(um.confirm())
    local want = {}
    for _, f in ipairs(H.release_files(save)) do want[#want + 1] = H.sha256(save .. "/volumes/" .. f) .. ".zip" end
    table.sort(want)
    assert.are.equal(2, #want)                                 -- 1.4 and 1.3, one volume each
    assert.are.same(want, H.store_files(save))
    -- a cold start with the store intact still reads everything
    lu.shutdown()
    start()
    assert.are.equal("a 1.4", lu.load_resource("/a.txt"))
  end)

  it("download_volume finds bytes a release brought, and its own earlier download, without a request", function()
    local lvl = volume(www, "level", "level-x.zip", {["level.txt"] = "level one"})
    document(www, "1.1", {lvl})
    local um = start()
    assert.are.same({"ready", "1.1"}, check(um))
    assert.are.equal(1, H.requests(ngdir, "/level-x.zip"))
    -- the game also downloads the same bytes as a volume of its own
    local r, m = fetch({name = "level2", file = "level-x.zip", size = lvl.size, sha256 = lvl.sha256})
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal(1, H.requests(ngdir, "/level-x.zip"))
    assert.are.equal("level2", lu.which("/level.txt"))
    assert.are.equal(lvl.sha256, H.sha256(save .. "/volumes/level-x.zip"))
    -- removed, its file deleted, downloaded again: from the store, no request
    assert(lu.remove_mount("level2"))
    os.remove(save .. "/volumes/level-x.zip")
    r, m = fetch({name = "level2", file = "level-x.zip", size = lvl.size, sha256 = lvl.sha256})
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal(1, H.requests(ngdir, "/level-x.zip"))
    assert.are.equal("level one", lu.load_resource("/level.txt"))
    -- without a sha256 the bytes cannot be looked up: a download
    assert(lu.remove_mount("level2"))
    r, m = fetch({name = "level2", file = "level-x.zip"})
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal(2, H.requests(ngdir, "/level-x.zip"))
  end)

  it("bytes of a mounted volume (the base bundle, a file from before the store) are not fetched", function()
    -- a release lists a volume whose bytes are the base bundle's own
    local sz, sha = #H.read(www .. "/base.zip"), H.sha256(www .. "/base.zip")
    H.write(www .. "/copy-of-base.zip", H.read(www .. "/base.zip"))
    document(www, "1.1", {{name = "again", file = "copy-of-base.zip", size = sz, sha256 = sha}})
    local um = start()
    assert.are.same({"ready", "1.1"}, check(um))
    assert.are.equal(0, H.requests(ngdir, "/copy-of-base.zip"))
    assert.are.equal(sha, H.sha256(save .. "/volumes/rel-1.1-copy-of-base.zip"))
    assert.are.same({sha .. ".zip"}, H.store_files(save))
    -- a copy, never a link to a file the library does not own: a tool that
    -- rewrites the bundle in place does not change the verified volume
    assert.are_not.equal(inode(www .. "/base.zip"), inode(save .. "/volumes/rel-1.1-copy-of-base.zip"))
    local f = assert(io.open(www .. "/base.zip", "r+b"))
    f:write("PK junk")
    f:close()
    assert.are.equal(sha, H.sha256(save .. "/volumes/rel-1.1-copy-of-base.zip"))
    -- a volume put in volumes/ by hand (or by an older liveupdate) and mounted
    local old = volume(www, "old", "old.zip", {["o.txt"] = "old bytes"})
    H.write(save .. "/volumes/hand.zip", H.read(www .. "/old.zip"))
    local mounted = false
    assert(lu.add_mount("hand", "zip:" .. save .. "/volumes/hand.zip", 5, function() mounted = true end))
    run_until(lu, function() return mounted end)
    assert.are.equal("hand", lu.which("/o.txt"))
    local r, m = fetch(old)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal(0, H.requests(ngdir, "/old.zip"))
    assert.are.equal("old bytes", lu.load_resource("/o.txt"))
    -- a mounted file of the same size but other bytes is not taken
    local other = volume(www, "other", "other.zip", {["o.txt"] = "new bytes"})
    assert.are.equal(old.size, other.size)
    r, m = fetch(other)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal(1, H.requests(ngdir, "/other.zip"))
  end)

  it("download_volume replacing a volume under a new file name deletes the old file, unless another mount uses it",
     function()
    local v1 = volume(www, "castle", "castle-1.zip", {["c.txt"] = "castle 1"})
    local v2 = volume(www, "castle", "castle-2.zip", {["c.txt"] = "castle 2"})
    local v3 = volume(www, "castle", "castle-3.zip", {["c.txt"] = "castle 3"})
    start()
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch(v1)))
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch(v2)))
    assert.are.equal("castle 2", lu.load_resource("/c.txt"))
    assert.are.same({"castle-2.zip", "sha256"}, H.ls(save .. "/volumes"))
    assert.are.same({v2.sha256 .. ".zip"}, H.store_files(save))
    -- a second mount of castle-2.zip keeps it when castle moves on to 3
    local mounted = false
    assert(lu.add_mount("keep", "zip:" .. save .. "/volumes/castle-2.zip", 1, function() mounted = true end))
    run_until(lu, function() return mounted end)
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch(v3)))
    assert.are.equal("castle 3", lu.load_resource("/c.txt"))
    assert.are.same({"castle-2.zip", "castle-3.zip", "sha256"}, H.ls(save .. "/volumes"))
    -- after a restart, castle-2.zip still serves "keep"
    lu.shutdown()
    start()
    local names = {}
    for _, m in ipairs(lu.get_mounts()) do names[m.name] = m.uri end
    assert.matches("castle%-2%.zip$", names.keep)
    -- add_mount's own replace never deletes files (the script may mount them again)
    mounted = false
    assert(lu.add_mount("keep", "zip:" .. save .. "/volumes/castle-3.zip", 1, function() mounted = true end,
                        {replace = true}))
    run_until(lu, function() return mounted end)
    assert.is_true(H.exists(save .. "/volumes/castle-2.zip"))
  end)

  it("with a public key, a mounted file's bytes are used only with a .sig beside it that verifies", function()
    local keys = H.tmpdir() .. "/k"
    assert.are.equal(0, (H.lutool("keygen -o " .. H.quote(keys))))
    local v = volume(www, "s", "s.zip", {["s.txt"] = "signed"})
    assert.are.equal(0, (H.lutool("sign " .. H.quote(www .. "/s.zip") .. " --key " .. H.quote(keys .. ".sec"))))
    local outside = H.tmpdir()
    H.write(outside .. "/hand.zip", H.read(www .. "/s.zip"))
    start({public_key = keys .. ".pub"})
    local mounted = false
    assert(lu.add_mount("hand", "zip:" .. outside .. "/hand.zip", 1, function() mounted = true end))
    run_until(lu, function() return mounted end)
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch(v)))              -- no .sig beside hand.zip: downloaded
    assert.are.equal(1, H.requests(ngdir, "/s.zip"))
    assert(lu.remove_mount("s"))
    os.remove(save .. "/volumes/s.zip")
    os.remove(save .. "/volumes/s.zip.sig")
    for _, e in ipairs(H.store_files(save)) do os.remove(save .. "/volumes/sha256/" .. e) end
    H.write(outside .. "/hand.zip.sig", H.read(www .. "/s.zip.sig"))
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch(v)))              -- with a good .sig: copied, no request
    assert.are.equal(1, H.requests(ngdir, "/s.zip"))
    assert.are.equal(H.read(www .. "/s.zip.sig"), H.read(save .. "/volumes/s.zip.sig"))
  end)

  it("a second start of the same file waits its turn, and a cancel before the start installs nothing", function()
    local one = volume(www, "x", "x.zip", {["x.txt"] = "ONE"})
    start()
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch(one)))
    assert(lu.remove_mount("x"))
    os.remove(save .. "/volumes/x.zip")                          -- the store still has ONE
    local two = volume(www, "x", "x2.zip", {["x.txt"] = "TWO"})
    two.file = "x.zip"
    two.url = base .. "/x2.zip"
    local results = {}
    local h1 = assert(lu.download_volume(one, {}, function(self, name, r) results[#results + 1] = r end))
    local h2, msg, st = lu.download_volume(two, {}, function() end)
    assert.is_nil(h2)
    assert.are.equal(lu.LIVEUPDATE_NAME_EXISTS, st, msg)
    -- cancelled before the next poll: nothing is installed
    assert(lu.cancel_download(h1))
    run_until(lu, function() return #results > 0 end)
    assert.are.same({lu.LIVEUPDATE_CANCELLED}, results)
    assert.is_false(H.exists(save .. "/volumes/x.zip"))
    assert.is_nil(lu.which("/x.txt"))
  end)

  it("a damaged store entry is removed and the volume downloaded again", function()
    local v = volume(www, "forest", "forest.zip", {["f.txt"] = string.rep("tree ", 4000)})
    start()
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch(v)))
    local stored = save .. "/volumes/sha256/" .. v.sha256 .. ".zip"
    assert.is_true(H.exists(stored))
    assert(lu.remove_mount("forest"))
    lu.shutdown()
    -- the file and its store entry are one inode: damage both, as a disk would
    local f = assert(io.open(stored, "r+b"))
    f:seek("set", 100)
    f:write("XXXX")
    f:close()
    start()
    local r, m = fetch(v)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal(2, H.requests(ngdir, "/forest.zip"))
    assert.are.equal(v.sha256, H.sha256(save .. "/volumes/forest.zip"))
    assert.are.equal(v.sha256, H.sha256(stored))               -- the entry holds the good bytes again
    assert.are.equal(string.rep("tree ", 4000), lu.load_resource("/f.txt"))
  end)

  it("with a public key, stored bytes are used only with a signature that verifies", function()
    local keys = H.tmpdir() .. "/k"
    assert.are.equal(0, (H.lutool("keygen -o " .. H.quote(keys))))
    local v = volume(www, "s", "s.zip", {["s.txt"] = "signed"})
    -- first downloaded with no key: stored without a signature
    start()
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch(v)))
    assert(lu.remove_mount("s"))
    lu.shutdown()
    assert.are.equal(0, (H.lutool("sign " .. H.quote(www .. "/s.zip") .. " --key " .. H.quote(keys .. ".sec"))))
    start({public_key = keys .. ".pub"})
    local r, m = fetch(v)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal(2, H.requests(ngdir, "/s.zip"))           -- no stored signature: downloaded
    assert.is_true(H.exists(save .. "/volumes/sha256/" .. v.sha256 .. ".zip.sig"))
    assert(lu.remove_mount("s"))
    os.remove(save .. "/volumes/s.zip")
    os.remove(save .. "/volumes/s.zip.sig")
    r, m = fetch(v)                                            -- now stored with its signature
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal(2, H.requests(ngdir, "/s.zip"))
    assert.is_true(H.exists(save .. "/volumes/s.zip.sig"))
    -- a stored signature that does not verify is not used
    assert(lu.remove_mount("s"))
    os.remove(save .. "/volumes/s.zip")
    os.remove(save .. "/volumes/s.zip.sig")
    local sigp = save .. "/volumes/sha256/" .. v.sha256 .. ".zip.sig"
    local sig = H.read(sigp)
    os.remove(sigp)
    H.write(sigp, (sig:sub(1, 1) == "0" and "1" or "0") .. sig:sub(2))
    r, m = fetch(v)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal(3, H.requests(ngdir, "/s.zip"))
  end)

  it("the version floor refuses stored bytes as it refuses downloaded ones; pruning collects them", function()
    -- (no version in the entry: the floor reads the volume's own version file)
    local old = volume(www, "lvl", "lvl.zip", {["version_lvl.json"] = '{"version": 3}', ["l.txt"] = "v3"})
    start()
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch(old)))
    assert(lu.remove_mount("lvl"))
    lu.shutdown()
    start({minimum_version = 5})
    -- the same bytes under another file name: found in the store, refused there
    local again = {name = "lvl", file = "lvl-again.zip", url = base .. "/lvl.zip", size = old.size,
                   sha256 = old.sha256}
    local r, m = fetch(again)
    assert.are.equal(lu.LIVEUPDATE_VERSION_MISMATCH, r, m)
    assert.are.equal(1, H.requests(ngdir, "/lvl.zip"))          -- refused without a request
    assert.is_nil(lu.which("/l.txt"))
    assert.is_false(H.exists(save .. "/volumes/lvl-again.zip")) -- nothing linked into place
    r, m = fetch(old)                                            -- and in place
    assert.are.equal(lu.LIVEUPDATE_VERSION_MISMATCH, r, m)
    assert.are.equal(1, H.requests(ngdir, "/lvl.zip"))
    lu.shutdown()
    -- a mounted volume pruned at start-up takes its store entry with it
    start()
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch(old)))
    assert.are.same({old.sha256 .. ".zip"}, H.store_files(save))
    lu.shutdown()
    start({minimum_version = 5, prune_stale = true})
    assert.is_nil(lu.which("/l.txt"))
    assert.is_false(H.exists(save .. "/volumes/lvl.zip"))
    assert.are.same({}, H.store_files(save))
  end)
end)
