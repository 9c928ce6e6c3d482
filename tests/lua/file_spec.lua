-- file_spec.lua -- liveupdate.open(path) from stock lua5.4: a resource read
-- in pieces through a file-like userdata shaped like liolib's (read, seek,
-- close, __close, __gc, __tostring; lua/liveupdate/liveupdate_file.c).
local H = require("helpers")

local function fresh()
  package.loaded.liveupdate = nil
  return require("liveupdate")
end

-- ~200 KB of text that deflate compresses; and bytes zip stores as they are.
local TEXT = {}
for i = 1, 6000 do TEXT[#TEXT + 1] = string.format("line %05d of a streamed resource\n", i) end
TEXT = table.concat(TEXT)

-- Flips the CRC of every central-directory record of the zip at `path`.
local function spoil_crcs(path)
  local z = H.read(path)
  local out, i = {}, 1
  while true do
    local at = z:find("PK\1\2", i, true)
    if not at then break end
    local crc = at + 16
    out[#out + 1] = z:sub(i, crc - 1) .. string.char(z:byte(crc) ~ 0x5a)
    i = crc + 1
  end
  out[#out + 1] = z:sub(i)
  H.write(path, table.concat(out))
end

describe("liveupdate.open", function()
  local lu, vols

  before_each(function()
    lu = fresh()
    vols = H.tmpdir()
    H.zip(vols .. "/a.zip", {["text.txt"] = TEXT, ["small.txt"] = "hello", ["empty.txt"] = ""})
    local src = H.tmpdir()
    H.write(src .. "/stored.txt", TEXT)
    assert(H.sh("cd " .. H.quote(src) .. " && zip -X -q -0 " .. H.quote(vols .. "/s.zip") .. " stored.txt"))
    assert(lu.init{save_dir = H.tmpdir()})
    assert.are.equal(lu.LIVEUPDATE_OK, lu.add_mount("a", "zip:" .. vols .. "/a.zip", 1, function() end))
    assert.are.equal(lu.LIVEUPDATE_OK, lu.add_mount("s", "zip:" .. vols .. "/s.zip", 1, function() end))
    for _ = 1, 2000 do
      lu.poll()
      if lu.exists("/text.txt") and lu.exists("/stored.txt") then break end
      os.execute("sleep 0.005")
    end
  end)

  after_each(function() lu.shutdown() end)

  for _, path in ipairs({"/text.txt", "/stored.txt"}) do
    it("reads " .. path .. " in pieces as load_resource reads it whole", function()
      local f = assert(lu.open(path))
      local parts = {}
      for _, n in ipairs({1, 7, 4096, 65536}) do parts[#parts + 1] = assert(f:read(n)) end
      assert.are.equal(1 + 7 + 4096 + 65536, #table.concat(parts))
      parts[#parts + 1] = f:read("a")
      assert.are.equal(lu.load_resource(path), table.concat(parts))
      assert.is_nil(f:read(1))          -- nil at the end
      assert.is_nil(f:read(0))
      assert.are.equal("", f:read("a")) -- "" at the end, as liolib
      assert.is_true(f:close())
    end)

    it("seeks " .. path .. " forward, backward and to the end", function()
      local f = assert(lu.open(path))
      assert.are.equal(0, f:seek())
      assert.are.equal(#TEXT, f:seek("end"))
      assert.is_nil(f:read(1))
      assert.are.equal(100000, f:seek("set", 100000))
      assert.are.equal(TEXT:sub(100001, 100010), f:read(10))
      assert.are.equal(100010, f:seek("cur"))
      assert.are.equal(5, f:seek("set", 5))                -- backward
      assert.are.equal(TEXT:sub(6, 20), f:read(15))
      assert.are.equal(#TEXT - 3, f:seek("end", -3))
      assert.are.equal(TEXT:sub(-3), f:read("*a"))
      -- past the end and before the start: nil, message, status; nothing moved
      local v, msg, st = f:seek("end", 1)
      assert.is_nil(v)
      assert.are.equal(lu.LIVEUPDATE_INVAL, st)
      assert.matches("past its end", msg)
      v, msg, st = f:seek("set", -1)
      assert.is_nil(v)
      assert.are.equal(lu.LIVEUPDATE_INVAL, st)
      assert.matches("before the start", msg)
      v, msg, st = f:seek("end", math.maxinteger)          -- the sum would overflow
      assert.is_nil(v)
      assert.are.equal(lu.LIVEUPDATE_INVAL, st)
      assert.matches("past the largest offset", msg)
      assert.are.equal(#TEXT, f:seek())
      f:close()
    end)
  end

  it("answers nil, message, status for a missing path and a directory", function()
    local f, msg, st = lu.open("/missing.txt")
    assert.is_nil(f)
    assert.are.equal(lu.LIVEUPDATE_NOT_FOUND, st)
    assert.matches("/missing.txt", msg, 1, true)
    f, msg, st = lu.open("not/canonical")
    assert.is_nil(f)
    assert.are.equal(lu.LIVEUPDATE_INVAL, st)
  end)

  it("raises for caller mistakes", function()
    assert.has_error(function() lu.open() end)
    local f = assert(lu.open("/small.txt"))
    assert.has_error(function() f:read(-1) end, "bad argument #1 to 'read' (byte count must not be negative)")
    assert.has_error(function() f:read("l") end)
    assert.has_error(function() f:seek("middle") end)
    assert.has_error(function() f.read(42) end)
    f:close()
  end)

  it("raises on any use of a closed file, as liolib does", function()
    local f = assert(lu.open("/small.txt"))
    assert.matches("^liveupdate file %(0x%x+%)$", tostring(f))
    assert.is_true(f:close())
    assert.are.equal("liveupdate file (closed)", tostring(f))
    assert.has_error(function() f:read(1) end, "attempt to use a closed file")
    assert.has_error(function() f:seek() end, "attempt to use a closed file")
    assert.has_error(function() f:close() end, "attempt to use a closed file")
  end)

  it("closes a to-be-closed variable at the end of its scope", function()
    local kept
    do
      local f <close> = assert(lu.open("/small.txt"))
      kept = f
      assert.are.equal("hello", f:read("a"))
    end
    assert.are.equal("liveupdate file (closed)", tostring(kept))
  end)

  it("is closed by the garbage collector, and keeps reading after remove_mount", function()
    local f = assert(lu.open("/text.txt"))
    assert.are.equal(TEXT:sub(1, 10), f:read(10))
    assert.are.equal(lu.LIVEUPDATE_OK, lu.remove_mount("a"))
    assert.is_false(lu.exists("/text.txt"))
    assert.are.equal(TEXT:sub(11), f:read("a"))
    f = nil
    collectgarbage()
    collectgarbage()
    -- many files dropped without close: __gc closes them (no descriptor or memory runs out)
    for _ = 1, 2000 do assert(lu.open("/stored.txt")) end
    collectgarbage()
  end)

  it("reports a CRC mismatch at the read that reaches the end", function()
    spoil_crcs(vols .. "/s.zip")
    assert.are.equal(lu.LIVEUPDATE_OK, lu.add_mount("bad", "zip:" .. vols .. "/s.zip", 5, function() end))
    for _ = 1, 2000 do
      lu.poll()
      if lu.which("/stored.txt") == "bad" then break end
      os.execute("sleep 0.005")
    end
    local f = assert(lu.open("/stored.txt"))
    assert.are.equal(TEXT:sub(1, 1000), f:read(1000))
    local v, msg, st = f:read("a")
    assert.is_nil(v)
    assert.are.equal(lu.LIVEUPDATE_FORMAT_ERROR, st)
    assert.matches("CRC mismatch", msg)
    assert.matches("stored.txt", msg)
    f:close()
  end)

  it("shutdown() closes the files opened through the module", function()
    local f = assert(lu.open("/small.txt"))
    lu.shutdown()
    assert.are.equal("liveupdate file (closed)", tostring(f))
    assert.has_error(function() f:read(1) end, "attempt to use a closed file")
    local v, _, st = lu.open("/small.txt")
    assert.is_nil(v)
    assert.are.equal(lu.LIVEUPDATE_NOT_INITIALIZED, st)
  end)
end)
