-- delta_spec.lua -- entry-level deltas (docs/DOWNLOADS.md, "Deltas") from
-- stock Lua against nginx and the S3-compatible server on 127.0.0.1: a new
-- version of a mounted volume fetches its central directory and its changed
-- entries with Range requests, copies the rest from the old file, and is
-- verified as a whole download is. Every fall-back (no Range support, a
-- damaged old file, a file replaced on the server between two requests, a
-- tampered range) is checked in nginx's access log, which lists
-- "<status> <uri> <bytes sent>" per request.
local H = require("helpers")

local fresh, run_until = H.fresh_liveupdate, H.run_until

local ENTRIES, EACH = 200, 100 * 1024
local NAME = #"level/part000.bin"

-- Writes `path`: a zip of ENTRIES stored entries of EACH pseudo-random
-- bytes ("level/partNNN.bin", fixed times, as a reproducible bundler writes
-- them) and version_levels.json; the entries listed in `changed` (a set of
-- indexes) get other bytes, `tamper` other bytes again. Returns the bytes
-- the changed entries take in the file (local headers included).
local function make(path, changed, version, tamper)
  local list = {}
  for i in pairs(changed or {}) do list[#list + 1] = i end
  local t = {}
  for i in pairs(tamper or {}) do t[#t + 1] = i end
  local p = io.popen(("python3 - %s %d %d %d '%s' '%s' <<'EOF'\n"):format(H.quote(path), ENTRIES, EACH, version,
    table.concat(list, ","), table.concat(t, ",")) .. [[
import random, sys, zipfile
path, n, each, version = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
changed = {int(x) for x in sys.argv[5].split(",") if x}
tamper = {int(x) for x in sys.argv[6].split(",") if x}
moved = 0
with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
    for i in range(n):
        seed = i + (1000 if i in changed else 0) + (5000 if i in tamper else 0)
        name = "level/part%03d.bin" % i
        z.writestr(zipfile.ZipInfo(name, (2020, 1, 1, 0, 0, 0)), random.Random(seed).randbytes(each))
        if i in changed: moved += 30 + len(name) + each
    z.writestr(zipfile.ZipInfo("version_levels.json", (2020, 1, 1, 0, 0, 0)), '{"version": %d}' % version)
print(moved)
EOF]])
  local moved = tonumber(p:read("l"))
  p:close()
  return moved
end

-- The requests nginx logged for `uri`: {status, bytes} in order.
local function transfers(ngdir, uri)
  local t = {}
  for l in (H.read(ngdir .. "/access.log") or ""):gmatch("[^\n]+") do
    local st, u, n = l:match("^(%d+) (%S+) (%d+)")
    if u == uri then t[#t + 1] = {tonumber(st), tonumber(n)} end
  end
  return t
end

local function bytes_of(list)
  local n = 0
  for _, r in ipairs(list) do n = n + r[2] end
  return n
end

local function entry(www, file, name)
  local path = www .. "/" .. file
  return {name = name or "levels", file = file, size = #H.read(path), sha256 = H.sha256(path), priority = 10}
end

-- Ten of 200 entries changed (every 20th, from the 5th).
local function ten()
  local c = {}
  for i = 5, ENTRIES - 1, 20 do c[i] = true end
  return c
end

describe("deltas", function()
  local lu, save, www, base, stop, ngdir

  local function serve(opts)
    base, stop, _, ngdir = H.nginx(www, false, opts)
  end

  before_each(function()
    lu = fresh()
    save, www = H.tmpdir(), H.tmpdir()
    H.zip(www .. "/base.zip", {["title.txt"] = "base"})
  end)

  after_each(function()
    lu.shutdown()
    if stop then stop() end
    stop = nil
  end)

  local function start()
    assert(lu.init({save_dir = save, base = "zip:" .. www .. "/base.zip", http_url = base}))
  end

  local function fetch(e)
    local result, message, called = nil, nil, false
    local handle, err, st = lu.download_volume(e, {url = base .. "/" .. e.file}, function(self, name, r, m)
      called, result, message = true, r, m
    end)
    if not handle then return st, err end
    run_until(lu, function() return called end, 60)
    assert.is_true(called, "the callback never ran")
    return result, message
  end

  -- Starts downloading `e` and polls until its callback, calling
  -- watch(download) after each poll with its get_downloads() entry (nil
  -- once it is gone) and its handle. Returns the result and message.
  local function fetch_watching(e, watch)
    local result, message, called = nil, nil, false
    local handle = assert(lu.download_volume(e, {url = base .. "/" .. e.file}, function(self, name, r, m)
      called, result, message = true, r, m
    end))
    run_until(lu, function()
      local mine
      for _, d in ipairs(lu.get_downloads()) do if d.handle == handle then mine = d end end
      if not called then watch(mine, handle) end
      return called
    end, 60)
    assert.is_true(called, "the callback never ran")
    return result, message
  end

  -- levels-1.zip downloaded and mounted as "levels"; levels-2.zip (the
  -- `changed` entries new) on the server; returns its entry and the
  -- changed entries' bytes.
  local function two_versions(changed)
    make(www .. "/levels-1.zip", {}, 1)
    local moved = make(www .. "/levels-2.zip", changed, 2)
    start()
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch(entry(www, "levels-1.zip"))))
    assert.are.equal("levels", lu.which("/level/part005.bin"))
    return entry(www, "levels-2.zip"), moved
  end

  local function part(i)
    return lu.load_resource(("/level/part%03d.bin"):format(i))
  end

  it("download_volume of a newer version fetches its directory and the changed entries alone", function()
    serve()
    local v2, moved = two_versions(ten())
    local r, m = fetch(v2)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    local got = transfers(ngdir, "/levels-2.zip")
    -- the tail, then one range per changed entry (each 100 KiB apart)
    assert.are.equal(11, #got)
    for _, t in ipairs(got) do assert.are.equal(206, t[1]) end
    local sent = bytes_of(got)
    assert.is_true(sent <= moved * 1.1 + 64 * 1024, ("sent %d for %d changed"):format(sent, moved))
    assert.is_true(sent < v2.size / 10, ("sent %d of %d"):format(sent, v2.size))
    -- the new content, byte for byte, mounted in place of the old
    assert.are.equal(v2.sha256, H.sha256(save .. "/volumes/levels-2.zip"))
    assert.is_nil(H.read(save .. "/volumes/levels-1.zip"))
    assert.are.equal(H.sha256(www .. "/levels-2.zip"), H.sha256(save .. "/volumes/levels-2.zip"))
    assert.are.equal('{"version": 2}', lu.load_resource("/version_levels.json"))
    assert.are.equal(EACH, #part(25))
  end)

  it("a new version published under the old one's file name is a delta too", function()
    serve()
    make(www .. "/levels.zip", {}, 1)
    start()
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch(entry(www, "levels.zip"))))
    local moved = make(www .. "/levels.zip", ten(), 2)   -- replaced on the server, same name
    local v2 = entry(www, "levels.zip")
    local before = #transfers(ngdir, "/levels.zip")
    local r, m = fetch(v2)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    local got = transfers(ngdir, "/levels.zip")
    assert.are.equal(11, #got - before)
    local sent = 0
    for i = before + 1, #got do sent = sent + got[i][2] end
    assert.is_true(sent <= moved * 1.1 + 64 * 1024, ("sent %d for %d changed"):format(sent, moved))
    assert.are.equal(v2.sha256, H.sha256(save .. "/volumes/levels.zip"))
    assert.are.equal('{"version": 2}', lu.load_resource("/version_levels.json"))
    assert.are.equal(EACH, #part(25))
  end)

  it("a server without Range support sends the whole file, in the first response", function()
    serve({extra = "max_ranges 0;"})
    local v2 = two_versions(ten())
    local r, m = fetch(v2)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    local got = transfers(ngdir, "/levels-2.zip")
    assert.are.same({{200, v2.size}}, got)
    assert.are.equal(v2.sha256, H.sha256(save .. "/volumes/levels-2.zip"))
  end)

  it("an old volume damaged on disk costs one whole download, never a wrong volume", function()
    serve()
    local v2 = two_versions(ten())
    -- a flipped byte in an entry both versions share (part 100's data)
    local old = save .. "/volumes/levels-1.zip"
    local f = assert(io.open(old, "r+b"))
    f:seek("set", 100 * (30 + NAME + EACH) + 30 + NAME + 500)
    local b = f:read(1)
    f:seek("cur", -1)
    f:write(string.char((b:byte() + 1) % 256))
    f:close()
    local r, m = fetch(v2)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    local got = transfers(ngdir, "/levels-2.zip")
    assert.are.equal(200, got[#got][1])
    assert.are.equal(v2.size, got[#got][2])
    assert.are.equal(v2.sha256, H.sha256(save .. "/volumes/levels-2.zip"))
    -- an old file that is not a zip any more: no delta is tried
    make(www .. "/levels-3.zip", {[7] = true}, 3)
    f = assert(io.open(save .. "/volumes/levels-2.zip", "r+b"))
    f:seek("end", -22)
    f:write(string.rep("\0", 22))
    f:close()
    local v3 = entry(www, "levels-3.zip")
    r, m = fetch(v3)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.same({{200, v3.size}}, transfers(ngdir, "/levels-3.zip"))
  end)

  it("a tampered range fails the hash: nothing is installed and the old volume stays", function()
    serve()
    local v2 = two_versions(ten())
    -- the server's file has other bytes in a changed entry than the catalog's hash says
    make(www .. "/levels-2.zip", ten(), 2, {[45] = true})
    local r, m = fetch(v2)
    assert.are.equal(lu.LIVEUPDATE_HASH_MISMATCH, r, m)
    assert.is_nil(H.read(save .. "/volumes/levels-2.zip"))
    assert.are.equal("levels", lu.which("/level/part005.bin"))
    assert.are.equal(EACH, #part(5))
    assert.is_not_nil(H.read(save .. "/volumes/levels-1.zip"))
    -- the delta, then one whole download, both refused
    local got = transfers(ngdir, "/levels-2.zip")
    assert.are.equal(200, got[#got][1])
  end)

  it("a file replaced on the server between two ranges is fetched whole, never spliced", function()
    -- ranges slowed down, so the file can be replaced between two of them
    serve({extra = "location = /levels-2.zip { if ($http_range) { set $limit_rate 300k; } }"})
    local v2 = two_versions(ten())
    local done, result = false, nil
    assert(lu.download_volume(v2, {url = base .. "/levels-2.zip"}, function(self, name, r) done, result = true, r end))
    -- once the tail and a range are in, the file is published again (a new mtime: a new ETag)
    run_until(lu, function() return #transfers(ngdir, "/levels-2.zip") >= 2 end, 60)
    assert.is_true(#transfers(ngdir, "/levels-2.zip") >= 2)
    assert(os.execute("touch -d '2030-01-01 00:00:00' " .. H.quote(www .. "/levels-2.zip")))
    run_until(lu, function() return done end, 120)
    assert.are.equal(lu.LIVEUPDATE_OK, result)
    local got = transfers(ngdir, "/levels-2.zip")
    assert.are.equal(200, got[#got][1])
    assert.are.equal(v2.size, got[#got][2])
    assert.is_true(#got < 11, "ranges went on after the ETag changed")
    assert.are.equal(v2.sha256, H.sha256(save .. "/volumes/levels-2.zip"))
  end)

  it("a delta killed with SIGKILL mid-assembly resumes where its .part ends, byte for byte", function()
    serve({extra = "location = /levels-2.zip { if ($http_range) { set $limit_rate 300k; } }"})
    local v2, moved = two_versions(ten())
    lu.shutdown()   -- the child opens the save directory
    local work = H.tmpdir()
    H.write(work .. "/child.lua", ([[local lu = require("liveupdate")
      assert(lu.init{save_dir = arg[1], base = %q, http_url = %q})
      assert(lu.download_volume({name = "levels", file = "levels-2.zip", size = %d, sha256 = %q}, nil,
                                function() os.exit(3) end))
      while true do lu.poll(); os.execute("sleep 0.01") end]]):format("zip:" .. www .. "/base.zip", base, v2.size,
                                                                       v2.sha256))
    -- the child is this interpreter's kind: under the asan suite it loads the
    -- asan module, so it needs the sanitizer runtimes this process has
    -- preloaded (commands a spec starts run without them: LU_CHILD_ENV)
    local preload = os.getenv("LD_PRELOAD") or ""
    local p = io.popen(("env LD_PRELOAD=%s ASAN_OPTIONS=detect_leaks=0 lua5.4 %s %s >%s 2>&1 & echo $!"):format(
      H.quote(preload), H.quote(work .. "/child.lua"), H.quote(save), H.quote(work .. "/child.log")))
    local pid = p:read("l"):match("%d+")
    p:close()
    -- killed once its .part holds the first 45 entries: 3 ranges fetched, 42 entries copied
    local part = save .. "/downloads/levels-2.zip.part"
    for _ = 1, 6000 do
      if #(H.read(part) or "") >= 45 * (30 + NAME + EACH) then break end
      os.execute("sleep 0.01")
    end
    local kept = #(H.read(part) or "")
    assert(os.execute("kill -9 " .. pid), "the child had ended: " .. (H.read(work .. "/child.log") or ""))
    for _ = 1, 500 do   -- gone (its save-directory lock with it)
      if not os.execute("kill -0 " .. pid .. " 2>/dev/null") then break end
      os.execute("sleep 0.01")
    end
    assert.is_true(kept >= 45 * (30 + NAME + EACH), "the child assembled " .. kept .. " bytes")
    assert.is_not_nil(H.read(save .. "/downloads/levels-2.zip.part.json"))
    local before = #transfers(ngdir, "/levels-2.zip")
    start()
    local r, m = fetch(v2)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal(v2.sha256, H.sha256(save .. "/volumes/levels-2.zip"))
    -- after the restart: the tail again, then only the ranges not yet fetched
    local got = transfers(ngdir, "/levels-2.zip")
    local after = #got - before
    assert.is_true(after <= 1 + 8, ("%d requests after the restart"):format(after))
    local ranges = 0
    for i = 1, #got do if got[i][2] ~= 64 * 1024 then ranges = ranges + got[i][2] end end
    assert.is_true(ranges <= moved + EACH, ("%d bytes of ranges for %d changed"):format(ranges, moved))
    assert.is_nil(H.read(part))
  end)

  it("progress, get_downloads and the console's downloads count the bytes that travel and those saved", function()
    -- ranges slowed down, so the console finds the game's delta in flight
    serve({extra = "location ~ ^/levels-[23]\\.zip$ { if ($http_range) { set $limit_rate 300k; } }"})
    local v2 = two_versions(ten())
    local calls, seen = {}, nil
    assert(lu.download_volume(v2, {url = base .. "/levels-2.zip", progress = function(self, name, done, total)
      calls[#calls + 1] = {done, total}
    end}, function(self, name, r) calls.result = r end))
    run_until(lu, function()
      for _, d in ipairs(lu.get_downloads()) do if d.saved > 0 and not seen then seen = d end end
      return calls.result ~= nil
    end, 60)
    assert.are.equal(lu.LIVEUPDATE_OK, calls.result)
    local last = calls[#calls]
    assert.are.equal(1090006, last[2], "the total is what the delta fetches")
    assert.are.equal(last[2], last[1])
    for _, c in ipairs(calls) do assert.is_true(c[1] <= c[2]) end
    assert.is_not_nil(seen, "get_downloads never showed the delta")
    assert.are.equal(1090006, seen.total)
    assert.are.equal(v2.size - 1090006, seen.saved)
    assert.is_true(seen.received >= 65536 and seen.received <= seen.total)
    -- the same in a running game, through the console
    lu.shutdown()
    make(www .. "/levels-3.zip", {[17] = true, [18] = true, [150] = true}, 3)
    local v3 = entry(www, "levels-3.zip")
    local game = H.project("[project]\ntitle = Delta\n", {["main/main.lua"] = ([[
function init(self)
  liveupdate.add_mount("levels", %q, 10, function()
    liveupdate.download_volume({name = "levels", file = "levels-3.zip", url = %q, size = %d, sha256 = %q}, nil,
                               function() end)
  end)
end
function update(self) end]]):format("zip:" .. save .. "/volumes/levels-2.zip", base .. "/levels-3.zip", v3.size,
                                    v3.sha256)})
    local port, _, gstop = H.console_game(game)
    local text
    for _ = 1, 1000 do   -- until the delta has planned (each try is a console round trip)
      local p = io.popen(H.quote(H.lutool_bin) .. " console " .. port .. " downloads 2>/dev/null")
      text = p:read("a")
      p:close()
      if text:find("delta:", 1, true) then break end
    end
    gstop()
    assert.matches("vol%d+ +[%d.]+ %a+ of +[%d.]+ %a+ +receiving +try 1  levels%-3%.zip  http://%S+  %(delta: %d+%.%d MiB saved%)", text)
  end)

  it("with a public key, the assembled file's signature is checked: a bad one installs nothing", function()
    serve()
    local keys = H.tmpdir() .. "/k"
    assert.are.equal(0, (H.lutool("keygen -o " .. H.quote(keys))))
    make(www .. "/levels-1.zip", {}, 1)
    make(www .. "/levels-2.zip", ten(), 2)
    for _, f in ipairs({"levels-1.zip", "levels-2.zip"}) do
      assert.are.equal(0, (H.lutool("sign " .. H.quote(www .. "/" .. f) .. " --key " .. H.quote(keys .. ".sec"))))
    end
    assert(lu.init({save_dir = save, base = "zip:" .. www .. "/base.zip", http_url = base, public_key = keys .. ".pub"}))
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch(entry(www, "levels-1.zip"))))
    -- a signature of other bytes: the delta is assembled and verified, then refused
    local good = H.read(www .. "/levels-2.zip.sig")
    H.write(www .. "/levels-2.zip.sig", H.read(www .. "/levels-1.zip.sig"))
    local v2 = entry(www, "levels-2.zip")
    local r, m = fetch(v2)
    assert.are.equal(lu.LIVEUPDATE_SIGNATURE_MISMATCH, r, m)
    assert.is_nil(H.read(save .. "/volumes/levels-2.zip"))
    assert.are.equal('{"version": 1}', lu.load_resource("/version_levels.json"))
    -- its own signature: installed, with the signature beside it, from a delta
    H.write(www .. "/levels-2.zip.sig", good)
    local before = #transfers(ngdir, "/levels-2.zip")
    local seen = 0
    r, m = fetch_watching(v2, function(d) if d then seen = math.max(seen, d.received) end end)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal(11, #transfers(ngdir, "/levels-2.zip") - before)
    -- the bytes that travelled, each counted once: the tail and the 10 ranges
    assert.are.equal(1090006, seen)
    assert.are.equal(good, H.read(save .. "/volumes/levels-2.zip.sig"))
    assert.are.equal('{"version": 2}', lu.load_resource("/version_levels.json"))
  end)

  it("a .part a delta finished (but did not install) is resumed: the tail again, no range", function()
    serve()
    local v2 = two_versions(ten())
    -- what a delta leaves when it stops after writing its tail (a signature
    -- fetch that failed, a full disk at the last write): the whole new file
    -- as the .part, and its sidecar naming the old file and the tail's start
    local old = save .. "/volumes/levels-1.zip"
    local p = io.popen("stat -c '%d:%i:%s:%.9Y' " .. H.quote(old))
    local id = p:read("l")
    p:close()
    local etag = H.head(base .. "/levels-2.zip"):match('[Ee][Tt]ag: *("[^"]*")')
    assert.is_not_nil(etag)
    assert(os.execute("mkdir -p " .. H.quote(save .. "/downloads")))
    H.write(save .. "/downloads/levels-2.zip.part", H.read(www .. "/levels-2.zip"))
    H.write(save .. "/downloads/levels-2.zip.part.json", ('{"url":"%s","etag":%q,"last_modified":"","size":%d,' ..
      '"sha256":"%s","delta":{"base":"%s","tail_from":%d}}'):format(base .. "/levels-2.zip", etag, v2.size,
      v2.sha256, id, v2.size - 65536))
    local before = #transfers(ngdir, "/levels-2.zip")   -- (the HEAD above)
    local r, m = fetch(v2)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    local got = transfers(ngdir, "/levels-2.zip")
    assert.are.equal(before + 1, #got)
    assert.are.same({206, 65536}, got[#got])
    assert.are.equal(v2.sha256, H.sha256(save .. "/volumes/levels-2.zip"))
  end)

  it("a delta cancelled mid-range and republished meanwhile starts over as a delta", function()
    serve({extra = "location = /levels-2.zip { if ($http_range) { set $limit_rate 300k; } }"})
    local v2 = two_versions(ten())
    local r, m = fetch_watching(v2, function(d, handle)
      if d and d.received > 300000 then assert(lu.cancel_download(handle)) end
    end)
    assert.are.equal(lu.LIVEUPDATE_CANCELLED, r, m)
    assert.is_not_nil(H.read(save .. "/downloads/levels-2.zip.part.json"))
    local before = #transfers(ngdir, "/levels-2.zip")
    -- the same bytes published again: a new mtime, a new ETag
    assert(os.execute("touch -d '2031-01-01 00:00:00' " .. H.quote(www .. "/levels-2.zip")))
    r, m = fetch(v2)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    local got = transfers(ngdir, "/levels-2.zip")
    for i = before + 1, #got do assert.are.equal(206, got[i][1], "request " .. i) end
    assert.are.equal(11, #got - before, "a new delta: the tail and 10 ranges")
    assert.are.equal(v2.sha256, H.sha256(save .. "/volumes/levels-2.zip"))
  end)

  it("a range that fails on the server is retried as a delta, and resumed once the server is well", function()
    -- the third changed entry (45) answers 503 until the server is reconfigured
    local at = 45 * (30 + NAME + EACH)
    local dir = H.tmpdir()
    local port
    base, stop, _, ngdir, port = H.nginx(www, false, {dir = dir, extra = ([[
      location = /levels-2.zip { if ($http_range ~ "^bytes=%d-") { return 503; } }]]):format(at)})
    local v2, moved = two_versions(ten())
    local result, message = nil, nil
    local done = false
    assert(lu.download_volume(v2, {url = base .. "/levels-2.zip", retries = 2}, function(self, name, r, m)
      done, result, message = true, r, m
    end))
    run_until(lu, function() return done end, 60)
    assert.are.equal(lu.LIVEUPDATE_NETWORK_ERROR, result, message)
    local got = transfers(ngdir, "/levels-2.zip")
    local failed, whole = 0, 0
    for _, t in ipairs(got) do
      if t[1] == 503 then failed = failed + 1 end
      if t[1] == 200 then whole = whole + 1 end
    end
    assert.are.equal(3, failed, "the first try and 2 retries, each a delta")
    assert.are.equal(0, whole)
    assert.is_not_nil(H.read(save .. "/downloads/levels-2.zip.part.json"))
    -- the server is well again (same port): the delta resumes from its .part
    stop()
    base, stop, _, ngdir = H.nginx(www, false, {dir = dir, port = port})
    local r, m = fetch(v2)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal(v2.sha256, H.sha256(save .. "/volumes/levels-2.zip"))
    local ranges = 0
    for _, t in ipairs(transfers(ngdir, "/levels-2.zip")) do
      if t[1] == 206 and t[2] ~= 64 * 1024 then ranges = ranges + t[2] end
    end
    assert.is_true(ranges <= moved, ("%d bytes of ranges for %d changed"):format(ranges, moved))
  end)

  it("more than half the file changed: one whole download", function()
    serve()
    local c = {}
    for i = 0, ENTRIES - 1, 2 do c[i] = true end
    local v2 = two_versions(c)
    local r, m = fetch(v2)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    local got = transfers(ngdir, "/levels-2.zip")
    assert.are.equal(2, #got)                    -- the tail, then the whole file
    assert.are.equal(206, got[1][1])
    assert.are.same({200, v2.size}, got[2])
  end)

  -- The issue's release through the update manager: 1.1 brings "levels"
  -- (200 entries) and "other" whole; 1.2 changes 10 entries of levels and
  -- lists other with the same bytes. `publish(file)` makes www/<file>
  -- reachable under `base`; `requests()` lists what the server logged so
  -- far: {uri, status, bytes}. Checks what 1.2 moved and that the game
  -- runs it.
  local function issue_release(publish, requests)
    make(www .. "/levels-1.1.zip", {}, 1)
    local moved = make(www .. "/levels-1.2.zip", ten(), 2)
    local other = {}
    for i = 0, 59 do other[("o/%02d.txt"):format(i)] = ("other %d "):format(i):rep(3000) end
    H.zip(www .. "/other.zip", other)
    for _, f in ipairs({"levels-1.1.zip", "levels-1.2.zip", "other.zip"}) do publish(f) end
    local function document(version, levels)
      local list = {}
      for _, e in ipairs({levels, entry(www, "other.zip", "other")}) do
        list[#list + 1] = ('{"name": "%s", "file": "%s", "size": %d, "sha256": "%s", "priority": 10}'):format(
          e.name, e.file, e.size, e.sha256)
      end
      H.write(www .. "/release.json", ('{"version": "%s", "volumes": [%s]}'):format(version, table.concat(list, ", ")))
      publish("release.json")
    end
    document("1.1", entry(www, "levels-1.1.zip"))
    assert(lu.init({save_dir = save, base = "zip:" .. www .. "/base.zip", http_url = base,
                    update = {url = base .. "/release.json", local_version = "1.0"}}))
    local um = assert(lu.get_update_manager())
    local events = {}
    um.on_update_ready(function(self, res) events[#events + 1] = {"ready", res.version} end)
    um.on_update_failed(function(self, res) events[#events + 1] = {"failed", res.status, res.message} end)
    local function check()
      events = {}
      assert(um.check())
      run_until(lu, function() return #events > 0 end, 60)
      return events[#events]
    end
    assert.are.same({"ready", "1.1"}, check())
    assert(um.apply_update())
    assert(um.confirm())
    local before = #requests()
    document("1.2", entry(www, "levels-1.2.zip"))
    assert.are.same({"ready", "1.2"}, check())
    assert(um.apply_update())
    assert(um.confirm())
    local sent, levels, others = 0, 0, 0
    local all = requests()
    for i = before + 1, #all do
      local u, st, n = table.unpack(all[i])
      sent = sent + n
      if u == "levels-1.2.zip" then levels = levels + 1; assert.are.equal(206, st) end
      if u == "other.zip" then others = others + 1 end
    end
    assert.are.equal(0, others)
    assert.are.equal(11, levels)
    assert.is_true(sent <= moved * 1.1 + 128 * 1024, ("sent %d for %d changed"):format(sent, moved))
    -- the game runs the new content
    assert.are.equal('{"version": 2}', lu.load_resource("/version_levels.json"))
    assert.are.equal(H.sha256(www .. "/levels-1.2.zip"), H.sha256(save .. "/volumes/rel-1.2-levels-1.2.zip"))
    assert.are.equal(other["o/07.txt"], lu.load_resource("/o/07.txt"))
    return sent, moved
  end

  it("a release that changes 10 of 200 entries of one volume moves those and its documents, nothing else", function()
    serve()
    issue_release(function() end, function()
      local t = {}
      for l in (H.read(ngdir .. "/access.log") or ""):gmatch("[^\n]+") do
        local st, u, n = l:match("^(%d+) /(%S+) (%d+)")
        t[#t + 1] = {u, tonumber(st), tonumber(n)}
      end
      return t
    end)
  end)

  it("the same release from the S3-compatible server", function()
    local s3, s3stop, put, log = H.s3rver(nil, {log = true})
    stop = s3stop
    base = s3 .. "/bucket"
    assert.are.equal(200, put("/bucket"))
    local units = {b = 1, kb = 1024, mb = 1024 * 1024}
    issue_release(function(f) assert.are.equal(200, put("/bucket/" .. f, www .. "/" .. f)) end, function()
      -- "<key> <status> <ms>ms <size>" per request, the size rounded ("97.66kb"); uploads are not counted
      local t = {}
      for k, st, n, unit in (H.read(log) or ""):gmatch("/?([%w%.%-]+) (%d+) %d+ms ([%d%.]+)(%a+)") do
        if not (st == "200" and n == "0") then t[#t + 1] = {k, tonumber(st), math.ceil(tonumber(n) * units[unit:lower()])} end
      end
      return t
    end)
  end)

  it("works the same from the S3-compatible server", function()
    local s3, s3stop, put, log = H.s3rver(nil, {log = true})
    stop = s3stop
    base = s3 .. "/bucket"
    assert.are.equal(200, put("/bucket"))
    make(www .. "/levels-1.zip", {}, 1)
    make(www .. "/levels-2.zip", ten(), 2)
    assert.are.equal(200, put("/bucket/levels-1.zip", www .. "/levels-1.zip"))
    assert.are.equal(200, put("/bucket/levels-2.zip", www .. "/levels-2.zip"))
    start()
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch(entry(www, "levels-1.zip"))))
    local v2 = entry(www, "levels-2.zip")
    local r, m = fetch(v2)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal(v2.sha256, H.sha256(save .. "/volumes/levels-2.zip"))
    -- s3rver logs "<key> <status> <ms>ms <size>" per request (the size
    -- rounded, as "97.7kb"): the upload, then the tail and 10 ranges
    local got = {}
    for st in (H.read(log) or ""):gmatch("levels%-2%.zip (%d+) %d+ms") do got[#got + 1] = tonumber(st) end
    assert.are.same({200, 206, 206, 206, 206, 206, 206, 206, 206, 206, 206, 206}, got)
  end)
end)

describe("a delta on a full disk", function()
  it("reports NO_SPACE, keeps its .part, and resumes once there is room", function()
    local mnt = H.tmpdir()
    if not H.sh("mount -t tmpfs -o size=24m tmpfs " .. H.quote(mnt) .. " 2>/dev/null") then
      error("cannot mount a tmpfs (the disk-full test needs root)")
    end
    local lu = fresh()
    local www = H.tmpdir()
    local base, stop, _, ngdir = H.nginx(www)
    local ok, err = pcall(function()
      H.zip(www .. "/base.zip", {["title.txt"] = "base"})
      make(www .. "/levels-1.zip", {}, 1)
      local moved = make(www .. "/levels-2.zip", ten(), 2)
      local v2 = entry(www, "levels-2.zip")
      assert(lu.init({save_dir = mnt .. "/save", base = "zip:" .. www .. "/base.zip", http_url = base}))
      -- the old version mounted from outside the save directory (the disk is the save directory's)
      local mounted = false
      assert(lu.add_mount("levels", "zip:" .. www .. "/levels-1.zip", 10, function() mounted = true end))
      run_until(lu, function() return mounted end)
      local done, r, m = false, nil, nil
      local cb = function(_, _, rr, mm) done, r, m = true, rr, mm end
      assert.is_number(lu.download_volume(v2, nil, cb))   -- the start's free-space check passes
      -- then something else fills the disk: 10 MiB left for the 20 MB the delta assembles
      assert(H.sh("head -c 12582912 /dev/zero > " .. H.quote(mnt .. "/filler")))
      run_until(lu, function() return done end, 60)
      assert.are.equal(lu.LIVEUPDATE_NO_SPACE, r, m)
      assert.matches("levels%-2%.zip%.part", m)
      assert.are.equal("levels", lu.which("/level/part005.bin"))
      assert.are.equal('{"version": 1}', lu.load_resource("/version_levels.json"))
      assert.is_nil(H.read(mnt .. "/save/volumes/levels-2.zip"))
      local kept = #(H.read(mnt .. "/save/downloads/levels-2.zip.part") or "")
      assert.is_true(kept > 5000000, "kept " .. kept)
      -- room again: the delta resumes from its .part
      os.remove(mnt .. "/filler")
      done = false
      assert.is_number(lu.download_volume(v2, nil, cb))
      run_until(lu, function() return done end, 60)
      assert.are.equal(lu.LIVEUPDATE_OK, r, m)
      assert.are.equal(v2.sha256, H.sha256(mnt .. "/save/volumes/levels-2.zip"))
      local ranges = 0
      for _, t in ipairs(transfers(ngdir, "/levels-2.zip")) do
        if t[2] ~= 64 * 1024 then ranges = ranges + t[2] end
      end
      assert.is_true(ranges <= moved + EACH, ("%d bytes of ranges for %d changed"):format(ranges, moved))
    end)
    lu.shutdown()
    stop()
    H.sh("umount " .. H.quote(mnt))
    assert(ok, err)
  end)
end)
