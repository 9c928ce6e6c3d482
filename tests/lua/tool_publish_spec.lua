-- tool_publish_spec.lua -- `lutool publish` (docs/BUNDLER.md, "Publishing
-- to object storage") against s3rver, an S3-compatible server started on
-- 127.0.0.1 (H.s3rver), with credentials from the environment as a studio's
-- CI passes them. What is checked: the objects stored and their order from
-- s3rver's own log (volumes and signatures before release.json), the
-- metadata the HEAD flow reads back, a second run and a later release
-- uploading only what changed, the store build playing the published
-- release (signatures verified) and reading the --head-alias object through
-- head_url, and every refusal before the first upload (the bucket stays
-- empty). s3rver accepts any signature; the signing itself is checked
-- against AWS's examples in tests/unit/test_s3_sigv4.c.
local H = require("helpers")

local BUCKET = "games"
local CREDS = "AWS_ACCESS_KEY_ID=S3RVER AWS_SECRET_ACCESS_KEY=S3RVER"

-- Runs `lutool publish <args>` with `envs` (default: s3rver's account) and
-- none of the caller's AWS settings.
local function publish(args, envs)
  local out, err = os.tmpname(), os.tmpname()
  local _, code = H.sh("env -u AWS_REGION -u AWS_DEFAULT_REGION -u AWS_ENDPOINT_URL -u AWS_ENDPOINT_URL_S3 " ..
                       "-u AWS_SESSION_TOKEN " .. (envs or CREDS) .. " " .. H.quote(H.lutool_bin) ..
                       " publish " .. args .. " >" .. H.quote(out) .. " 2>" .. H.quote(err))
  local o, e = H.read(out), H.read(err)
  os.remove(out); os.remove(err)
  return code, o, e
end

-- The keys s3rver stored, in order, from its log (from line `from` on).
local function stored(log, from)
  local t = {}
  for key in (H.read(log) or ""):gmatch('Stored object "([^"]+)"') do t[#t + 1] = key end
  return {table.unpack(t, (from or 0) + 1)}
end

local curl, head = H.curl, H.head

local MAIN = [[
function init(self)
  local um = liveupdate.get_update_manager()
  print("start", um.version, sys.load_resource("/title.txt"))
  um.on_update_ready(function(self, res) print("ready", res.version) sys.exit(0) end)
  um.on_update_failed(function(self, res) print("failed", res.status, res.message) sys.exit(0) end)
end
]]

-- A studio folder: a key pair, and the game's project at version 1.0 with
-- `update` as its [update] section. Returns the folder.
local function studio(update)
  local dir = H.tmpdir()
  local code, out, err = H.lutool("keygen -o " .. H.quote(dir .. "/release"))
  assert(code == 0, "keygen: " .. tostring(out) .. tostring(err))
  H.write(dir .. "/mygame/game.project", ([[
[project]
title = Publish Spec
version = 1.0
[liveupdate]
public_key = %s
[bootstrap]
main_script = /main/main.lua
[display]
update_frequency = 200
[update]
%s
]]):format(dir .. "/release.pub", update or ""))
  H.write(dir .. "/mygame/content/main/main.lua", MAIN)
  H.write(dir .. "/mygame/content/title.txt", "store 1.0")
  return dir
end

-- Bundles the project with `title` as its content and makes release
-- `version` from it; returns the release folder.
local function release(dir, title, version, extra)
  H.write(dir .. "/mygame/content/title.txt", title)
  local out = dir .. "/build/" .. version
  local code, o, e = H.lutool("bundle " .. H.quote(dir .. "/mygame") .. " -o " .. H.quote(out) ..
                              " --sign " .. H.quote(dir .. "/release.sec"))
  assert(code == 0, "bundle: " .. tostring(o) .. tostring(e))
  code, o, e = H.lutool("release " .. H.quote(out) .. " --version " .. version .. " --sign " ..
                        H.quote(dir .. "/release.sec") .. " " .. (extra or ""))
  assert(code == 0, "release: " .. tostring(o) .. tostring(e))
  return out .. "/release"
end

local lines = H.lines

local function files(dir)
  local p = io.popen("ls " .. H.quote(dir))
  local t = {}
  for l in p:lines() do t[#t + 1] = l end
  p:close()
  return t
end

describe("lutool publish to s3rver", function()
  local base, stop, put, log

  before_each(function()
    base, stop, put, log = H.s3rver(nil, {log = true})
    assert.are.equal(200, (put("/" .. BUCKET)))
  end)
  after_each(function() stop() end)

  it("uploads volumes and signatures before release.json; a second run uploads nothing; the store build plays it", function()
    local dir = studio()
    local rel = release(dir, "release 1.1", "1.1")
    local zip
    for _, f in ipairs(files(rel)) do zip = f:match("^game%-%x+%.zip$") or zip end
    assert.is_not_nil(zip)
    local code, out, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. "/mygame/live --endpoint " .. base)
    assert.are.equal(0, code, err)
    local keys = stored(log)
    assert.are.same({"mygame/live/" .. zip .. ".sig", "mygame/live/" .. zip,
                     "mygame/live/release.json.sig", "mygame/live/release.json"}, keys)
    assert.matches("4 uploaded", out, 1, true)
    -- every object reads back anonymously, byte for byte, with its hash as metadata
    for _, f in ipairs({zip, zip .. ".sig", "release.json", "release.json.sig"}) do
      local status, body = curl(H.quote(base .. "/" .. BUCKET .. "/mygame/live/" .. f))
      assert.are.equal(200, status, f)
      assert.are.equal(H.read(rel .. "/" .. f), body, f)
      assert.matches("\nx%-amz%-meta%-sha256: " .. H.sha256(rel .. "/" .. f) .. "\r\n", head(base .. "/" .. BUCKET ..
                     "/mygame/live/" .. f))
    end
    -- the content-named zip may be cached for good; the document must be revalidated
    assert.matches("\nCache%-Control: public, max%-age=31536000, immutable\r\n", head(base .. "/" .. BUCKET ..
                   "/mygame/live/" .. zip))
    assert.matches("\nCache%-Control: no%-cache\r\n", head(base .. "/" .. BUCKET .. "/mygame/live/release.json"))
    assert.matches("\nContent%-Type: application/json\r\n", head(base .. "/" .. BUCKET .. "/mygame/live/release.json"))
    -- again: every object is there with the same hash, nothing is sent
    code, out, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. "/mygame/live/ --endpoint " .. base)
    assert.are.equal(0, code, err)
    assert.are.equal(4, #lines(out, "unchanged "), out)
    assert.matches("0 uploaded", out, 1, true)
    assert.are.equal(4, #stored(log))
    -- the store build (with the public key) finds, verifies and stages 1.1 from the bucket
    local store = H.tmpdir() .. "/store"
    assert.are.equal(0, (H.lutool("bundle " .. H.quote(dir .. "/mygame") .. " -o " .. H.quote(store))))
    local save = H.tmpdir()
    local url = "--set update.url=" .. base .. "/" .. BUCKET .. "/mygame/live/release.json"
    code, out, err = H.run(store, "--save-dir " .. H.quote(save) .. " --frames 3000 " .. url)
    assert.are.equal(0, code, err)
    assert.matches("ready\t1.1", out, 1, true)
    code, out, err = H.run(store, "--save-dir " .. H.quote(save) .. " --frames 20 " .. url)
    assert.are.equal(0, code, err)
    assert.matches("start\t1.1\trelease 1.1", out, 1, true)
  end)

  it("a later release uploads its new volume and the document; the previous volume stays for clients still on it", function()
    local dir = studio()
    local rel = release(dir, "release 1.1", "1.1")
    assert.are.equal(0, (publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base)))
    assert.are.equal(4, #stored(log))
    local rel2 = release(dir, "release 1.2", "1.2")
    local code, out, err = publish(H.quote(rel2) .. " s3://" .. BUCKET .. " --endpoint " .. base)
    assert.are.equal(0, code, err)
    local keys = stored(log, 4)
    assert.are.equal(4, #keys, out)
    assert.matches("^game%-%x+%.zip%.sig$", keys[1])
    assert.matches("^game%-%x+%.zip$", keys[2])
    assert.are.equal("release.json", keys[4])
    local status, doc = curl(H.quote(base .. "/" .. BUCKET .. "/release.json"))
    assert.are.equal(200, status)
    assert.matches('"version":%s*"1.2"', doc)
    for _, f in ipairs(files(rel)) do   -- 1.1's files are still served
      assert.are.equal(200, (curl("-I " .. H.quote(base .. "/" .. BUCKET .. "/" .. f))), f)
    end
    -- a release that keeps its volume (only the document changes) sends the document alone
    code, out, err = H.lutool("release " .. H.quote(dir .. "/build/1.2") .. " --version 1.2.1 --sign " ..
                              H.quote(dir .. "/release.sec"))
    assert.are.equal(0, code, err)
    code, out, err = publish(H.quote(rel2) .. " s3://" .. BUCKET .. " --endpoint " .. base)
    assert.are.equal(0, code, err)
    assert.are.same({"release.json.sig", "release.json"}, stored(log, 8))
    assert.are.equal(2, #lines(out, "unchanged "), out)
  end)

  it("--head-alias: the one package again under a fixed name with x-amz-meta-version and sha256, which head_url reads", function()
    local dir = studio()
    local rel = release(dir, "release 1.1", "1.1")
    local code, out, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. "/g --endpoint " .. base ..
                                   " --head-alias latest.zip")
    assert.are.equal(0, code, err)
    local keys = stored(log)
    assert.are.equal(6, #keys, out)
    assert.are.same({"g/latest.zip.sig", "g/latest.zip", "g/release.json.sig", "g/release.json"},
                    {keys[3], keys[4], keys[5], keys[6]})
    local zip = keys[2]:match("^g/(.*)$")
    assert.are.equal("g/" .. zip .. ".sig", keys[1])
    local hdr = head(base .. "/" .. BUCKET .. "/g/latest.zip")
    assert.matches("\nx%-amz%-meta%-version: 1%.1\r\n", hdr)
    assert.matches("\nx%-amz%-meta%-sha256: " .. H.sha256(rel .. "/" .. zip) .. "\r\n", hdr)
    assert.matches("\nCache%-Control: no%-cache\r\n", hdr)
    assert.are.equal(H.read(rel .. "/" .. zip), select(2, curl(H.quote(base .. "/" .. BUCKET .. "/g/latest.zip"))))
    assert.are.equal(H.read(rel .. "/" .. zip .. ".sig"),
                     select(2, curl(H.quote(base .. "/" .. BUCKET .. "/g/latest.zip.sig"))))
    -- the store build in the HEAD flow (the signature checked too)
    local store = H.tmpdir() .. "/store"
    H.write(dir .. "/mygame/content/title.txt", "store 1.0")
    assert.are.equal(0, (H.lutool("bundle " .. H.quote(dir .. "/mygame") .. " -o " .. H.quote(store))))
    local save = H.tmpdir()
    local url = "--set update.head_url=" .. base .. "/" .. BUCKET .. "/g/latest.zip"
    code, out, err = H.run(store, "--save-dir " .. H.quote(save) .. " --frames 3000 " .. url)
    assert.are.equal(0, code, err)
    assert.matches("start\t1.0\tstore 1.0", out, 1, true)
    assert.matches("ready\t1.1", out, 1, true)
    code, out, err = H.run(store, "--save-dir " .. H.quote(save) .. " --frames 20 " .. url)
    assert.are.equal(0, code, err)
    assert.matches("start\t1.1\trelease 1.1", out, 1, true)
    -- a second publish of the same release keeps the alias (same bytes, same version)
    code, out = publish(H.quote(rel) .. " s3://" .. BUCKET .. "/g --endpoint " .. base .. " --head-alias latest.zip")
    assert.are.equal(0, code)
    assert.are.equal(6, #stored(log), out)
  end)

  it("a folder of zips: reused names go up no-cache, each signature first, with a warning when bytes change", function()
    local dir = studio()
    release(dir, "release 1.1", "1.1")
    local folder = H.tmpdir()
    os.execute("cp " .. H.quote(dir .. "/build/1.1/game.zip") .. " " .. H.quote(folder .. "/content.zip"))
    local code, out, err = H.lutool("release " .. H.quote(folder) .. " --version 1.1 --sign " ..
                                    H.quote(dir .. "/release.sec"))
    assert.are.equal(0, code, err)
    code, out, err = publish(H.quote(folder) .. " s3://" .. BUCKET .. " --endpoint " .. base)
    assert.are.equal(0, code, err)
    assert.are.same({"content.zip.sig", "content.zip", "release.json.sig", "release.json"}, stored(log))
    assert.matches("\nCache%-Control: no%-cache\r\n", head(base .. "/" .. BUCKET .. "/content.zip"))
    assert.are.equal("", err)
    -- the next release under the same name: sent again, with the warning
    release(dir, "release 1.2", "1.2")
    os.execute("cp " .. H.quote(dir .. "/build/1.2/game.zip") .. " " .. H.quote(folder .. "/content.zip"))
    code, out, err = H.lutool("release " .. H.quote(folder) .. " --version 1.2 --sign " ..
                              H.quote(dir .. "/release.sec"))
    assert.are.equal(0, code, err)
    code, out, err = publish(H.quote(folder) .. " s3://" .. BUCKET .. " --endpoint " .. base)
    assert.are.equal(0, code, err)
    assert.are.same({"content.zip.sig", "content.zip", "release.json.sig", "release.json"}, stored(log, 4))
    assert.matches("warning: content.zip holds other bytes", err, 1, true)
    assert.are.equal(H.read(folder .. "/content.zip"), select(2, curl(H.quote(base .. "/" .. BUCKET .. "/content.zip"))))
  end)

  describe("refuses before the first upload", function()
    local function empty_bucket()
      local status, body = curl(H.quote(base .. "/" .. BUCKET))
      assert.are.equal(200, status)
      assert.is_nil(body:match("<Key>"), body)
      assert.are.same({}, stored(log))
    end

    it("a release folder that does not match its release.json", function()
      local dir = studio()
      local rel = release(dir, "release 1.1", "1.1")
      local zip
      for _, f in ipairs(files(rel)) do zip = f:match("^game%-%x+%.zip$") or zip end
      -- a volume's .sig missing from a signed release
      os.rename(rel .. "/" .. zip .. ".sig", rel .. "/moved.sig")
      local code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base)
      assert.are.equal(1, code)
      assert.matches(zip .. ".sig", err, 1, true)
      os.rename(rel .. "/moved.sig", rel .. "/" .. zip .. ".sig")
      -- a volume changed after lutool release
      local f = io.open(rel .. "/" .. zip, "ab"); f:write("x"); f:close()
      code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base)
      assert.are.equal(1, code)
      assert.matches(zip, err, 1, true)
      assert.matches("lutool release again", err, 1, true)
      -- the volume missing
      os.remove(rel .. "/" .. zip)
      code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base)
      assert.are.equal(1, code)
      assert.matches("is not in", err, 1, true)
      -- no release.json
      code, _, err = publish(H.quote(dir .. "/mygame") .. " s3://" .. BUCKET .. " --endpoint " .. base)
      assert.are.equal(1, code)
      assert.matches("release.json", err, 1, true)
      -- a damaged release.json, and one naming a file outside the folder
      H.write(rel .. "/release.json", '{"version": "1.1", "volumes": [')
      code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base)
      assert.are.equal(1, code)
      assert.matches("release.json", err, 1, true)
      H.write(rel .. "/release.json", '{"version": "1.1", "volumes": [{"name": "game", "file": "../x.zip", ' ..
              '"size": 1, "sha256": "' .. string.rep("0", 64) .. '"}]}')
      code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base)
      assert.are.equal(1, code)
      assert.matches("release.json", err, 1, true)
      empty_bucket()
    end)

    it("--head-alias with more than one volume, or on the document's name", function()
      local folder = H.tmpdir()
      H.write(folder .. "/a.zip", "not read")
      local dir = studio()
      release(dir, "x", "1.1")
      for _, v in ipairs({"a", "b"}) do
        os.execute("cp " .. H.quote(dir .. "/build/1.1/game.zip") .. " " .. H.quote(folder .. "/" .. v .. ".zip"))
      end
      assert.are.equal(0, (H.lutool("release " .. H.quote(folder) .. " --version 2")))
      local code, _, err = publish(H.quote(folder) .. " s3://" .. BUCKET .. " --endpoint " .. base ..
                                   " --head-alias latest.zip")
      assert.are.equal(1, code)
      assert.matches("one package", err, 1, true)
      local rel = dir .. "/build/1.1/release"
      code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base .. " --head-alias release.json")
      assert.are.equal(1, code)
      assert.matches("version document", err, 1, true)
      code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base .. " --head-alias a/b.zip")
      assert.are.equal(2, code)
      assert.matches("plain file name", err, 1, true)
      local zip
      for _, f in ipairs(files(rel)) do zip = f:match("^game%-%x+%.zip$") or zip end
      code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base .. " --head-alias " .. zip)
      assert.are.equal(1, code)
      assert.matches("own file", err, 1, true)
      -- the volume's signature: the alias would replace it with the zip
      code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base .. " --head-alias " ..
                             zip .. ".sig")
      assert.are.equal(1, code)
      assert.matches("would both be uploaded as '" .. zip .. ".sig'", err, 1, true)
      empty_bucket()
    end)

    it("bad arguments and no credentials", function()
      local dir = studio()
      local rel = release(dir, "release 1.1", "1.1")
      for _, case in ipairs({
        {"s3:/" .. BUCKET, "s3://"}, {"http://" .. BUCKET, "s3://"}, {"s3://", "names no bucket"},
        {"s3://bad*bucket", "bucket name"}, {"s3://" .. BUCKET .. "/a//b", "'.' or '..'"},
        {"s3://" .. BUCKET .. "/a/../b", "'.' or '..'"},
      }) do
        local code, _, err = publish(H.quote(rel) .. " " .. H.quote(case[1]) .. " --endpoint " .. base)
        assert.are.equal(2, code, case[1])
        assert.matches(case[2], err, 1, true)
      end
      local code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint ftp://x")
      assert.are.equal(2, code)
      assert.matches("http(s)://host[:port]", err, 1, true)
      code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base .. "/path")
      assert.are.equal(2, code)
      code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base .. " --addressing dns")
      assert.are.equal(2, code)
      assert.matches("path or virtual", err, 1, true)
      -- userinfo in the endpoint would drop the bucket from a virtual-host URL
      code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " ..
                             base:gsub("//", "//u:p@") .. " --addressing virtual")
      assert.are.equal(2, code)
      -- a bucket that cannot be a host name, in the host name
      code, _, err = publish(H.quote(rel) .. " s3://My_Bucket --endpoint " .. base .. " --addressing virtual")
      assert.are.equal(2, code)
      assert.matches("--addressing path", err, 1, true)
      -- regions libcurl would cut (it reads 63 characters) or that break the credential scope
      for _, region in ipairs({string.rep("r", 64), "us:east", "a/b"}) do
        code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base .. " --region " ..
                               H.quote(region))
        assert.are.equal(2, code, region)
        assert.matches("not a region", err, 1, true)
      end
      code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base, "AWS_ACCESS_KEY_ID=S3RVER")
      assert.are.equal(1, code)
      assert.matches("AWS_SECRET_ACCESS_KEY", err, 1, true)
      -- a credential goes into a header line: a line break in it would add headers
      code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base,
                             CREDS .. [[ AWS_SESSION_TOKEN="$(printf 'a\r\nX-Injected: 1')"]])
      assert.are.equal(1, code)
      assert.matches("AWS_SESSION_TOKEN holds a control character", err, 1, true)
      code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint " .. base,
                             [[AWS_SECRET_ACCESS_KEY=S3RVER AWS_ACCESS_KEY_ID="$(printf 'S3RVER\nX: 1')"]])
      assert.are.equal(1, code)
      assert.matches("AWS_ACCESS_KEY_ID holds a control character", err, 1, true)
      code, _, err = publish(H.quote(rel))
      assert.are.equal(2, code)
      empty_bucket()
    end)
  end)

  it("a missing bucket or a server that is down: exit 1, naming what failed, and the document is not sent", function()
    local dir = studio()
    local rel = release(dir, "release 1.1", "1.1")
    local code, _, err = publish(H.quote(rel) .. " s3://nosuchbucket/p --endpoint " .. base)
    assert.are.equal(1, code)
    assert.matches("NoSuchBucket", err, 1, true)
    assert.matches("release.json was not uploaded", err, 1, true)
    -- port 1: privileged, nothing of the tests listens there
    code, _, err = publish(H.quote(rel) .. " s3://" .. BUCKET .. " --endpoint http://127.0.0.1:1")
    assert.are.equal(1, code)
    assert.matches("127.0.0.1:1", err, 1, true)
    assert.are.same({}, stored(log))
  end)
end)

-- A server that refuses an upload (an S3 policy denying the key, say): the
-- run stops there and never sends release.json. s3rver cannot be told to
-- refuse one object, so a small server on 127.0.0.1 answers every HEAD 404,
-- stores every .sig and refuses every other PUT (403), and logs each
-- request line.
describe("lutool publish, an upload refused", function()
  it("stops at the first failure: no later object, no release.json", function()
    local dir = studio()
    local rel = release(dir, "release 1.1", "1.1")
    local reqlog = H.tmpdir() .. "/requests.log"
    local p = io.popen("python3 -c " .. H.quote([[
import http.server, sys
log = open(sys.argv[1], "a")
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def answer(self, code, body=b""):
        log.write(self.command + " " + self.path + "\n"); log.flush()
        self.send_response(code)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD": self.wfile.write(body)
    def do_HEAD(self): self.answer(404)
    def do_PUT(self):
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path.endswith(".sig"): self.answer(200)
        else: self.answer(403, b"<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>")
s = http.server.HTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2] + ".tmp", "w").write(str(s.server_address[1]))
import os; os.rename(sys.argv[2] + ".tmp", sys.argv[2])
s.serve_forever()
]]) .. " " .. H.quote(reqlog) .. " " .. H.quote(reqlog .. ".port") .. " >/dev/null 2>&1 & echo $!")
    local pid = p:read("l")
    p:close()
    local port
    for _ = 1, 600 do                       -- python writes its port once it listens
      port = H.read(reqlog .. ".port")
      if port then break end
      H.sh("sleep 0.05")
    end
    if not port then os.execute("kill " .. pid .. " 2>/dev/null") end
    assert(port, "the refusing server did not start")
    local code, _, err = publish(H.quote(rel) .. " s3://b/p --endpoint http://127.0.0.1:" .. port)
    os.execute("kill " .. pid .. " 2>/dev/null")
    assert.are.equal(1, code)
    assert.matches("AccessDenied: Access Denied", err, 1, true)
    assert.matches("release.json was not uploaded", err, 1, true)
    -- the volume's signature went up before it: the message says it was replaced
    assert.matches("p/game%-%x+%.zip%.sig was replaced already", err)
    local reqs = {}
    for l in (H.read(reqlog) or ""):gmatch("[^\n]+") do reqs[#reqs + 1] = l end
    assert.are.equal(4, #reqs, table.concat(reqs, "\n"))
    assert.matches("^HEAD /b/p/game%-%x+%.zip%.sig$", reqs[1])
    assert.matches("^PUT /b/p/game%-%x+%.zip%.sig$", reqs[2])
    assert.matches("^HEAD /b/p/game%-%x+%.zip$", reqs[3])
    assert.matches("^PUT /b/p/game%-%x+%.zip$", reqs[4])
  end)
end)
