-- download_spec.lua -- liveupdate.download_volume against a real nginx on
-- 127.0.0.1 (and small Python servers for faults nginx will not produce):
-- verified downloads, resume after a cut connection, a changed file between
-- attempts, every failure leaving the mounts as they were, cancel, the
-- concurrency limit, signatures, HTTPS, and a full disk.
local H = require("helpers")

local function fresh()
  package.loaded.liveupdate = nil
  return require("liveupdate")
end

-- Polls until `done()` is true, for at most `seconds`; returns frames run.
local function run_until(lu, done, seconds)
  local frames, deadline = 0, os.time() + (seconds or 20)
  while not done() and os.time() <= deadline do
    lu.poll()
    frames = frames + 1
    os.execute("sleep 0.01")
  end
  return frames
end

-- Pseudo-random bytes (incompressible enough that a zip stays big).
local function noise(n, seed)
  local t, x = {}, seed or 7
  for i = 1, n do
    x = (x * 1103515245 + 12345) % 2147483648
    t[i] = string.char(x % 251)
  end
  return table.concat(t)
end

-- Writes volume zip `name` into `dir` with content `files` (zip -0, so its
-- size is predictable); returns {name, file, size, sha256, priority}.
local function volume(dir, name, files, priority)
  local path = dir .. "/" .. name .. ".zip"
  local src = H.tmpdir()
  H.tree(src, files)
  os.remove(path)
  assert(H.sh("cd " .. H.quote(src) .. " && zip -0 -X -q -r " .. H.quote(path) .. " ."))
  return {name = name, file = name .. ".zip", size = #H.read(path), sha256 = H.sha256(path),
          priority = priority or 10}
end

-- A Python HTTP server on 127.0.0.1 that misbehaves as `mode` says:
-- "reset" (closes the connection with a TCP reset), "truncate" (promises
-- 100000 bytes, sends 1000, closes), "badrange" (a first answer cut half-way
-- with an ETag, then a 206 to the resume that starts at byte 0 instead of
-- where the client stopped). Returns its base URL and a stop function.
local function bad_server(mode)
  local script = H.tmpdir() .. "/bad.py"
  H.write(script, [[
import os, socket, struct, sys, time
mode = sys.argv[1]
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(('127.0.0.1', 0)); s.listen(8)
print(s.getsockname()[1], os.getpid(), flush=True)
end = time.time() + 60
while time.time() < end:
    c, _ = s.accept()
    req = c.recv(65536)
    if mode == "reset":
        c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    elif mode == "badrange" and b"\r\nRange:" not in req:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nETag: \"e1\"\r\n\r\n" + b"y" * 50000)
    elif mode == "badrange":
        c.sendall(b"HTTP/1.1 206 Partial Content\r\nContent-Length: 100000\r\nETag: \"e1\"\r\n"
                  b"Content-Range: bytes 0-99999/100000\r\n\r\n" + b"y" * 100000)
    else:
        c.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nETag: \"x\"\r\n\r\n" + b"z" * 1000)
    c.close()
]])
  local p = io.popen("python3 " .. H.quote(script) .. " " .. mode .. " &")
  local line = p:read("*l")
  p:close()
  local port, pid = line:match("(%d+) (%d+)")
  return "http://127.0.0.1:" .. port, function() os.execute("kill " .. pid .. " 2>/dev/null") end
end

describe("download_volume", function()
  local lu, save, www, stops

  before_each(function()
    lu = fresh()
    save, www, stops = H.tmpdir(), H.tmpdir(), {}
    H.zip(www .. "/base.zip", {["x.txt"] = "base"})
  end)

  after_each(function()
    lu.shutdown()
    for _, stop in ipairs(stops) do stop() end
  end)

  local function serve(opts)
    local base, stop, cert, dir, port = H.nginx(www, opts and opts.tls, opts)
    stops[#stops + 1] = stop
    return base, stop, cert, dir, port
  end

  local function init(extra)
    local o = {save_dir = save, base = "zip:" .. www .. "/base.zip"}
    for k, v in pairs(extra or {}) do o[k] = v end
    assert(lu.init(o))
  end

  -- Starts a download and runs the loop until its callback; returns result, message.
  local function fetch(entry, options, seconds)
    local result, message, called = nil, nil, false
    local handle, err, st = lu.download_volume(entry, options, function(self, name, r, m)
      called, result, message = true, r, m
    end)
    if not handle then return st, err end
    run_until(lu, function() return called end, seconds)
    assert.is_true(called, "the callback never ran")
    return result, message
  end

  it("downloads, verifies, installs and mounts a volume, with progress", function()
    local v = volume(www, "forest", {["level1/map.txt"] = noise(50000)}, 20)
    local base = serve()
    init({http_url = base})
    local seen, last = 0, nil
    local r, m = fetch(v, {progress = function(self, name, done, total)
      assert.are.equal("forest", name)
      seen, last = seen + 1, {done, total}
    end})
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.is_true(seen >= 1)
    assert.are.same({v.size, v.size}, last)
    assert.are.equal("forest", lu.which("/level1/map.txt"))
    assert.are.equal(noise(50000), lu.load_resource("/level1/map.txt"))
    assert.are.equal(v.sha256, H.sha256(save .. "/volumes/forest.zip"))
    assert.is_false(H.exists(save .. "/downloads/forest.zip.part"))
    assert.is_false(H.exists(save .. "/downloads/forest.zip.part.json"))
    -- persisted like any mount: a restart serves it without downloading
    lu.shutdown()
    init()
    assert.are.equal("forest", lu.which("/level1/map.txt"))
    -- get_mounts gives the URI as a script can use it (absolute); the mounts
    -- file keeps it relative to the save directory
    assert.are.same({name = "forest", uri = "zip:" .. save .. "/volumes/forest.zip", priority = 20}, lu.get_mounts()[1])
    assert.matches('"uri":"zip:volumes/forest.zip"', H.read(save .. "/liveupdate.mounts"), 1, true)
  end)

  it("resumes after the connection is cut half-way, byte-identical and verified", function()
    local v = volume(www, "big", {["big.bin"] = noise(600000, 3)})
    local base, stop, _, dir, port = serve({limit_rate = "200k"})
    init({http_url = base})
    local result, message
    local got = 0
    local handle = assert(lu.download_volume(v, {retries = 0, progress = function(_, _, done) got = done end},
      function(_, _, r, m) result, message = r, m end))
    assert.is_number(handle)
    run_until(lu, function() return got >= 150000 end, 20)
    stop()                                   -- nginx goes away mid-body
    run_until(lu, function() return result ~= nil end, 20)
    assert.are.equal(lu.LIVEUPDATE_NETWORK_ERROR, result, message)
    assert.is_nil(lu.which("/big.bin"))
    local kept = #H.read(save .. "/downloads/big.zip.part")
    assert.is_true(kept >= 150000 and kept < v.size, "kept " .. kept)
    assert.matches('"etag"', H.read(save .. "/downloads/big.zip.part.json"))
    serve({port = port, dir = dir})          -- same URL again, full speed
    local r, m = fetch(v, {})
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal(v.sha256, H.sha256(save .. "/volumes/big.zip"))
    assert.are.equal(noise(600000, 3), lu.load_resource("/big.bin"))
    local log = H.read(dir .. "/access.log")
    local sent = tonumber(log:match("206 /big.zip (%d+)"))
    assert.is_truthy(sent, log)
    assert.are.equal(v.size - kept, sent)   -- only the rest came over the wire
  end)

  it("restarts instead of splicing when the file changed between attempts", function()
    local v1 = volume(www, "lvl", {["data.bin"] = noise(600000, 1)})
    local base, stop, _, dir, port = serve({limit_rate = "200k"})
    init({http_url = base})
    -- no size or hash given: only the server's validator protects the resume
    local entry = {name = "lvl", file = "lvl.zip", priority = 5}
    local result, got = nil, 0
    lu.download_volume(entry, {retries = 0, progress = function(_, _, d) got = d end},
      function(_, _, r) result = r end)
    run_until(lu, function() return got >= 150000 end, 20)
    stop()
    run_until(lu, function() return result ~= nil end, 20)
    assert.are.equal(lu.LIVEUPDATE_NETWORK_ERROR, result)
    assert.is_true(H.exists(save .. "/downloads/lvl.zip.part"))
    os.execute("sleep 1.1")                  -- a new Last-Modified, so a new ETag
    local v2 = volume(www, "lvl", {["data.bin"] = noise(600000, 2)})
    assert.are_not.equal(v1.sha256, v2.sha256)
    serve({port = port, dir = dir})
    local r, m = fetch(entry, {})
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal(v2.sha256, H.sha256(save .. "/volumes/lvl.zip"))
    assert.are.equal(noise(600000, 2), lu.load_resource("/data.bin"))
    assert.matches("\n?200 /lvl.zip " .. v2.size, H.read(dir .. "/access.log"))
  end)

  it("fails with a status and a message, mounting nothing, on every network fault", function()
    local good = volume(www, "good", {["g.txt"] = "good"})
    local base = serve()
    init({http_url = base})
    assert.are.equal(lu.LIVEUPDATE_OK, (fetch(good, {})))
    local before = lu.get_mounts()
    local frames_before = 0
    local cases = {}
    cases[#cases + 1] = {"404", {name = "v404", url = base .. "/nope.zip"}, lu.LIVEUPDATE_NOT_FOUND, "HTTP 404"}
    cases[#cases + 1] = {"500", {name = "v500", url = base .. "/status/500"}, lu.LIVEUPDATE_NETWORK_ERROR,
                         "HTTP 500 %(after 2 attempts%)"}
    local reset_url, stop_reset = bad_server("reset")
    stops[#stops + 1] = stop_reset
    cases[#cases + 1] = {"reset", {name = "vreset", url = reset_url .. "/r.zip"}, lu.LIVEUPDATE_NETWORK_ERROR,
                         "r.zip"}
    local trunc_url, stop_trunc = bad_server("truncate")
    stops[#stops + 1] = stop_trunc
    cases[#cases + 1] = {"truncated", {name = "vtrunc", url = trunc_url .. "/t.zip"}, lu.LIVEUPDATE_NETWORK_ERROR,
                         "t.zip"}
    local port, stop_stall = H.stalled_server()
    stops[#stops + 1] = stop_stall
    cases[#cases + 1] = {"stalled", {name = "vstall", url = "http://127.0.0.1:" .. port .. "/s.zip"},
                         lu.LIVEUPDATE_TIMEOUT, "s.zip"}
    cases[#cases + 1] = {"wrong sha256", {name = "vsha", file = "good.zip", size = good.size,
                         sha256 = string.rep("0", 64)}, lu.LIVEUPDATE_HASH_MISMATCH, "sha256 %x+, expected 0000"}
    cases[#cases + 1] = {"wrong size", {name = "vsize", file = "good.zip", size = good.size + 1},
                         lu.LIVEUPDATE_HASH_MISMATCH, "received %d+ bytes, expected"}
    cases[#cases + 1] = {"too large", {name = "vmax", file = "good.zip"}, lu.LIVEUPDATE_FORMAT_ERROR,
                         "larger than the maximum of 100 bytes", {max_size = 100}}
    for _, c in ipairs(cases) do
      local opts = c[5] or {}
      opts.retries = opts.retries or 1
      opts.timeout = 1
      local frames = 0
      local result, message
      local h = lu.download_volume(c[2], opts, function(_, _, r, m) result, message = r, m end)
      assert.is_number(h, c[1])
      frames = run_until(lu, function() return result ~= nil end, 20)
      assert.are.equal(c[3], result, c[1] .. ": " .. tostring(message))
      assert.matches(c[4], message, 1, false, c[1])
      assert.is_true(frames > frames_before or frames > 1, c[1] .. ": the loop kept running")
      assert.are.same(before, lu.get_mounts(), c[1])
      assert.are.equal("good", lu.which("/g.txt"))
      assert.is_false(H.exists(save .. "/volumes/" .. (c[2].file or c[2].name .. ".zip")) and c[2].file ~= "good.zip",
                      c[1] .. ": nothing installed")
    end
    assert.are.equal(good.sha256, H.sha256(save .. "/volumes/good.zip"))
  end)

  it("refuses a resume that the server answers from the wrong offset", function()
    init({http_url = "http://127.0.0.1:1"})
    local url, stop_bad = bad_server("badrange")
    stops[#stops + 1] = stop_bad
    local entry = {name = "br", url = url .. "/br.zip"}
    local r, m = fetch(entry, {retries = 0})
    assert.are.equal(lu.LIVEUPDATE_NETWORK_ERROR, r, m)          -- cut half-way
    assert.are.equal(50000, #H.read(save .. "/downloads/br.zip.part"))
    r, m = fetch(entry, {retries = 0})
    assert.are.equal(lu.LIVEUPDATE_NETWORK_ERROR, r, m)
    assert.matches("the server resumed at 'bytes 0%-99999/100000', not at byte 50000", m)
    assert.is_false(H.exists(save .. "/downloads/br.zip.part"))   -- never spliced, never kept
    assert.is_false(H.exists(save .. "/volumes/br.zip"))
    assert.is_nil(lu.which("/y"))
  end)

  it("checks the Ed25519 signature when a public key is configured", function()
    local keys = H.tmpdir() .. "/k"
    assert.are.equal(0, (H.lutool("keygen -o " .. H.quote(keys))))
    local v = volume(www, "signed", {["s.txt"] = "signed"})
    assert.are.equal(0, (H.lutool("sign " .. H.quote(www .. "/signed.zip") .. " --key " .. H.quote(keys .. ".sec"))))
    local base = serve()
    init({http_url = base, public_key = keys .. ".pub"})
    local r, m = fetch(v, {})
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.is_true(H.exists(save .. "/volumes/signed.zip.sig"))
    -- a tampered signature
    local sig = H.read(www .. "/signed.zip.sig")
    H.write(www .. "/signed.zip.sig", (sig:sub(1, 1) == "0" and "1" or "0") .. sig:sub(2))
    -- (no sha256: the same bytes with a valid signature are in the store, store_spec)
    local v2 = {name = "signed2", url = base .. "/signed.zip", size = v.size}
    r, m = fetch(v2, {})
    assert.are.equal(lu.LIVEUPDATE_SIGNATURE_MISMATCH, r, m)
    assert.matches("does not match its signature", m)
    assert.is_nil(lu.which("/s.txt") == "signed2" or nil)
    -- no signature at all
    os.remove(www .. "/signed.zip.sig")
    r, m = fetch({name = "signed3", url = base .. "/signed.zip"}, {})
    assert.are.equal(lu.LIVEUPDATE_SIGNATURE_MISMATCH, r, m)
    assert.matches("no signature", m)
    assert.is_false(H.exists(save .. "/volumes/signed.zip.part"))
    -- explicitly unsigned downloads are still possible
    r, m = fetch({name = "signed4", url = base .. "/signed.zip"}, {verify_signature = false})
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
  end)

  it("verifies HTTPS certificates", function()
    local v = volume(www, "tls", {["t.txt"] = "tls"})
    local base, _, cert = serve({tls = true})
    init({http_url = base})
    local r, m = fetch(v, {retries = 0})
    assert.are.equal(lu.LIVEUPDATE_NETWORK_ERROR, r, m)   -- self-signed: refused
    assert.is_nil(lu.which("/t.txt"))
    lu.shutdown()
    init({http_url = base, ca_file = cert})
    r, m = fetch(v, {})
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal("tls", lu.which("/t.txt"))
  end)

  it("downloads from file:// URLs and the base manifest's catalog", function()
    local v = volume(www, "local", {["l.txt"] = "local"}, 7)
    H.zip(www .. "/base.zip", {["x.txt"] = "base", ["liveupdate.manifest.json"] =
      ('{"resources": [], "volumes": [{"name": "local", "file": "local.zip", "size": %d, "sha256": "%s", ' ..
       '"version": 1, "priority": 7}]}'):format(v.size, v.sha256)})
    init({http_url = "file://" .. www})
    local r, m = fetch("local", nil)
    assert.are.equal(lu.LIVEUPDATE_OK, r, m)
    assert.are.equal("local", lu.which("/l.txt"))
    assert.are.equal(7, lu.get_mounts()[1].priority)
    r, m = fetch({name = "gone", url = "file://" .. www .. "/gone.zip"}, {})
    assert.are.equal(lu.LIVEUPDATE_NOT_FOUND, r, m)
    assert.error_matches(function() lu.download_volume("nope", nil, function() end) end,
                         "^bad argument #1 to '[%w.]*download_volume' %(no volume 'nope' in the catalog%)$")
  end)

  it("lets a callback shut the module down mid-poll: nothing more is delivered, init works again", function()
    local a = volume(www, "a", {["a.txt"] = "a"}, 1)
    local b = volume(www, "b", {["b.txt"] = "b"}, 1)
    init({http_url = "file://" .. www})
    local calls = {}
    local function cb(name)
      return function(self, n, r)
        calls[#calls + 1] = n
        lu.shutdown()                  -- inside poll(), from a library callback
      end
    end
    assert(lu.download_volume({name = "a", file = "a.zip", size = a.size, sha256 = a.sha256}, nil, cb("a")))
    assert(lu.download_volume({name = "b", file = "b.zip", size = b.size, sha256 = b.sha256}, nil, cb("b")))
    -- file:// transfers finish within a few polls; both may finish in the same one
    for _ = 1, 2000 do
      if #calls > 0 then break end
      lu.poll()
      os.execute("sleep 0.005")
    end
    assert.are.equal(1, #calls, "one callback ran, the other was dropped with the context")
    local ok, msg, st = lu.poll()
    assert.is_nil(ok); assert.are.equal(lu.LIVEUPDATE_NOT_INITIALIZED, st, msg)
    init({http_url = "file://" .. www})   -- the save dir's lock was released
    assert.are.equal(calls[1], lu.which("/" .. calls[1] .. ".txt"), "the delivered download was mounted")
  end)

  it("cancels, keeps the .part for a resume, and runs one transfer at a time when told", function()
    local a = volume(www, "a", {["a.bin"] = noise(400000, 5)})
    local b = volume(www, "b", {["b.bin"] = noise(1000, 6)})
    local base = serve({limit_rate = "100k"})
    init({http_url = base, max_downloads = 1})
    local results = {}
    local ha = lu.download_volume(a, nil, function(_, n, r) results[n] = r end)
    local hb = lu.download_volume(b, nil, function(_, n, r) results[n] = r end)
    local hc, msg, st = lu.download_volume(a, nil, function() end)
    assert.is_nil(hc)
    assert.are.equal(lu.LIVEUPDATE_NAME_EXISTS, st, msg)
    lu.poll()
    local states = {}
    for _, d in ipairs(lu.get_downloads()) do states[d.file] = d.state end
    assert.are.same({["a.zip"] = "receiving", ["b.zip"] = "queued"}, states)
    run_until(lu, function()
      local d = lu.get_downloads()[1]
      return d and d.done > 50000
    end, 10)
    assert.is_true(lu.cancel_download(ha))
    local ok, cmsg, cst = lu.cancel_download(ha)
    assert.is_nil(ok); assert.are.equal(lu.LIVEUPDATE_NOT_FOUND, cst, cmsg)
    run_until(lu, function() return results.a and results.b end, 20)
    assert.are.equal(lu.LIVEUPDATE_CANCELLED, results.a)
    assert.are.equal(lu.LIVEUPDATE_OK, results.b)
    assert.is_number(hb)
    assert.is_true(#H.read(save .. "/downloads/a.zip.part") > 50000)
    assert.is_nil(lu.which("/a.bin"))
  end)

  it("raises on caller mistakes", function()
    init({http_url = "http://127.0.0.1:1"})
    local cb = function() end
    assert.has_error(function() lu.download_volume(42, nil, cb) end)
    assert.error_matches(function() lu.download_volume({file = "x.zip"}, nil, cb) end,
                         "^bad argument #1 to '[%w.]*download_volume' %(entry.name is required%)$")
    assert.error_matches(function() lu.download_volume({name = "x", file = "x.zip"}, {timeout = 1, bogus = 1}, cb) end,
                         "^bad argument #2 to '[%w.]*download_volume' %(unknown option 'bogus'%)$")
    assert.error_matches(function() lu.download_volume({name = "x", file = "x.zip"}, {timeout = "soon"}, cb) end,
                         "^bad argument #2 to '[%w.]*download_volume' %(options.timeout must be a whole number >= 0%)$")
    assert.error_matches(function() lu.download_volume({name = "x", file = "x.zip"}, {progress = 1}, cb) end,
                         "bad argument #2 to '[%w.]*download_volume' %(options.progress must be a function%)")
    assert.error_matches(function() lu.download_volume({name = "x"}, nil, cb) end,
                         "bad argument #1 to '[%w.]*download_volume' %(entry needs 'file' or 'url'%)")
    assert.error_matches(function() lu.download_volume({name = "x", file = "x.zip"}, nil, nil) end,
                         "bad argument #3 to '[%w.]*download_volume' %(function expected")
    assert.has_error(function() lu.download_volume({name = "_x", file = "x.zip"}, nil, cb) end)
    assert.has_error(function() lu.download_volume({name = "x", file = "x.zip"}, nil, nil) end)
    assert.has_error(function() lu.download_volume({name = "x", file = "x.zip"}, {timeout = "soon"}, cb) end)
    assert.has_error(function() lu.download_volume({name = "x", file = "x.zip", size = -1}, nil, cb) end)
    local h, m, st = lu.download_volume({name = "x", file = "../x.zip"}, nil, cb)
    assert.is_nil(h); assert.are.equal(lu.LIVEUPDATE_INVAL, st); assert.matches("plain file name", m)
    h, m, st = lu.download_volume({name = "x", url = "ftp://host/x.zip"}, nil, cb)
    assert.is_nil(h); assert.are.equal(lu.LIVEUPDATE_INVAL, st); assert.matches("not http", m)
  end)
end)

describe("download_volume on a full disk", function()
  it("reports NO_SPACE and keeps the previous state", function()
    local mnt = H.tmpdir()
    if not H.sh("mount -t tmpfs -o size=3m tmpfs " .. H.quote(mnt) .. " 2>/dev/null") then
      error("cannot mount a tmpfs (the disk-full test needs root)")
    end
    local lu = fresh()
    local www = H.tmpdir()
    local ok, err = pcall(function()
      H.zip(www .. "/base.zip", {["x.txt"] = "base"})
      local src = H.tmpdir()
      assert(H.sh("head -c 4000000 /dev/urandom > " .. H.quote(src .. "/h.bin") .. " && cd " .. H.quote(src) ..
                  " && zip -0 -q " .. H.quote(www .. "/huge.zip") .. " h.bin"))
      local v = {name = "huge", file = "huge.zip", size = #H.read(www .. "/huge.zip"),
                 sha256 = H.sha256(www .. "/huge.zip"), priority = 10}
      local small = volume(www, "small", {["s.txt"] = "small"})
      local base, stop = H.nginx(www)
      assert(lu.init({save_dir = mnt .. "/save", base = "zip:" .. www .. "/base.zip", http_url = base}))
      local done, r, m = false, nil, nil
      local cb = function(_, _, rr, mm) done, r, m = true, rr, mm end
      assert.is_number(lu.download_volume(small, nil, cb))
      run_until(lu, function() return done end, 20)
      assert.are.equal(lu.LIVEUPDATE_OK, r, m)
      local mounts_file = H.read(mnt .. "/save/liveupdate.mounts")
      -- known size: refused before a byte is fetched
      local h, msg, st = lu.download_volume(v, nil, cb)
      assert.is_nil(h); assert.are.equal(lu.LIVEUPDATE_NO_SPACE, st); assert.matches("needs %d+ bytes", msg)
      -- unknown size: the disk fills while receiving
      done = false
      lu.download_volume({name = "huge", file = "huge.zip"}, {retries = 0}, cb)
      run_until(lu, function() return done end, 20)
      stop()
      assert.are.equal(lu.LIVEUPDATE_NO_SPACE, r, m)
      assert.matches("huge.zip.part", m)
      assert.are.equal("small", lu.which("/s.txt"))
      assert.is_nil(lu.which("/h.bin"))
      assert.are.equal(mounts_file, H.read(mnt .. "/save/liveupdate.mounts"))
      assert.is_false(H.exists(mnt .. "/save/volumes/huge.zip"))
    end)
    lu.shutdown()
    H.sh("umount " .. H.quote(mnt))
    assert(ok, err)
  end)
end)

describe("download_volume in lurun", function()
  it("uses game.http_url and [liveupdate] public_key, reports progress, mounts; refuses a tampered volume", function()
    local www = H.tmpdir()
    local v = volume(www, "forest", {["level1/map.txt"] = noise(300000, 4)}, 10)
    local proj = H.tmpdir()
    assert.are.equal(0, (H.lutool("keygen -o " .. H.quote(proj .. "/k"))))
    assert.are.equal(0, (H.lutool("sign " .. H.quote(www .. "/forest.zip") .. " --key " .. H.quote(proj .. "/k.sec"))))
    local base, stop = H.nginx(www, false, {limit_rate = "300k"})
    local ok, err = pcall(function()
      H.write(proj .. "/game.project", ([[
[project]
title = Download Spec
[bootstrap]
main_script = /main/main.lua
[game]
http_url = %s
[liveupdate]
public_key = k.pub
]]):format(base))
      H.write(proj .. "/content/main/main.lua", ([[
function init(self)
  self.frames, self.progress = 0, 0
  local entry = {name = "forest", file = "forest.zip", size = %d, sha256 = "%s", priority = 10}
  liveupdate.download_volume(entry, {progress = function(self, name, done, total)
    self.progress = self.progress + 1
  end}, function(self, name, result, message)
    print("done", name, result, message, self.frames > 10, self.progress > 1)
    print("serves", liveupdate.which("/level1/map.txt"), #(sys.load_resource("/level1/map.txt") or ""))
    sys.exit(0)
  end)
  print("started", #liveupdate.get_downloads())
end
function update(self, dt) self.frames = self.frames + 1 end
]]):format(v.size, v.sha256))
      local save = H.tmpdir()
      local code, out, e = H.run(proj, "--save-dir " .. H.quote(save) .. " --frames 3000")
      assert.are.equal(0, code, e .. out)
      assert.matches("started\t1", out, 1, true)
      assert.matches("done\tforest\t0\tnil\ttrue\ttrue", out, 1, true)
      assert.matches("serves\tforest\t300000", out, 1, true)
      assert.is_true(H.exists(save .. "/volumes/forest.zip.sig"))
      -- the same game against a tampered volume: refused, nothing mounted
      local bytes = H.read(www .. "/forest.zip")
      H.write(www .. "/forest.zip", bytes:sub(1, 100) .. string.char((bytes:byte(101) + 1) % 256) .. bytes:sub(102))
      local save2 = H.tmpdir()
      code, out, e = H.run(proj, "--save-dir " .. H.quote(save2) .. " --frames 3000")
      assert.are.equal(0, code, e)
      assert.matches("done\tforest\t%-20\t'.-forest.zip': sha256 %x+, expected " .. v.sha256, out)
    end)
    stop()
    assert(ok, err)
  end)
end)
