-- update_spec.lua -- the update manager from stock Lua (liveupdate.so)
-- against nginx on 127.0.0.1: check, stage, apply at the next start or at
-- once, trial and rollback, failed versions not retried, garbage
-- collection, signed documents, bad volumes, and the compare hook.
local H = require("helpers")

local fresh, run_until = H.fresh_liveupdate, H.run_until

-- Publishes release `version` in www: its volumes (name -> {files}) as
-- zips, and release.json naming them (by file, beside the document).
local function publish(www, version, volumes, extra)
  local list = {}
  for name, files in pairs(volumes) do
    local file = name .. "-" .. version .. ".zip"
    H.zip(www .. "/" .. file, files)
    list[#list + 1] = ('{"name": "%s", "file": "%s", "size": %d, "sha256": "%s", "priority": 10}'):format(
      name, file, #H.read(www .. "/" .. file), H.sha256(www .. "/" .. file))
  end
  H.write(www .. "/release.json", ('{"version": "%s", "volumes": [%s]%s}'):format(
    version, table.concat(list, ", "), extra or ""))
end

describe("update manager (stock Lua)", function()
  local lu, save, www, base, stop, events

  before_each(function()
    lu = fresh()
    save, www = H.tmpdir(), H.tmpdir()
    H.zip(www .. "/base.zip", {["title.txt"] = "base 1.0"})
    base, stop = H.nginx(www)
    events = {}
  end)

  after_each(function()
    lu.shutdown()
    stop()
  end)

  local function start(extra)
    local o = {save_dir = save, base = "zip:" .. www .. "/base.zip",
               update = {url = base .. "/release.json", local_version = "1.0"}}
    for k, v in pairs(extra or {}) do o[k] = v end
    assert(lu.init(o))
    local um = assert(lu.get_update_manager())
    um.on_check_for_update(function(self, res) events[#events + 1] = {"check", res.has_update, res.version} end)
    um.on_update_ready(function(self, res) events[#events + 1] = {"ready", res.version} end)
    um.on_update_failed(function(self, res) events[#events + 1] = {"failed", res.status, res.message} end)
    return um
  end

  local function check(um)
    events = {}
    assert(um.check())
    run_until(lu, function()
      local last = events[#events]
      return last and (last[1] == "ready" or last[1] == "failed" or (last[1] == "check" and not last[2]))
    end)
    return events
  end

  it("stages a newer release, applies it at the next start, keeps it once confirmed", function()
    publish(www, "1.1", {forest = {["forest.txt"] = "trees", ["title.txt"] = "release 1.1"}})
    local um = start()
    assert.are.equal("1.0", um.version)
    local ev = check(um)
    assert.are.same({{"check", true, "1.1"}, {"ready", "1.1"}}, ev)
    assert.are.equal("base 1.0", lu.load_resource("/title.txt"))   -- not applied yet
    assert.are.equal("1.1", um.get_info().staged)
    lu.shutdown()
    um = start()                                                   -- cold start applies it
    assert.are.equal("1.1", um.version)
    assert.are.equal("release 1.1", lu.load_resource("/title.txt"))
    assert.is_true(um.get_info().on_trial)
    assert(um.confirm())
    lu.shutdown()
    um = start()
    assert.are.equal("1.1", um.version)
    assert.is_false(um.get_info().on_trial)
    assert.is_nil(um.last_rollback)
    assert.are.same({check = true}, {check = #check(um) == 1 and not events[1][2]})   -- nothing newer
  end)

  it("rolls back a release that never confirmed and does not retry it", function()
    publish(www, "1.1", {forest = {["title.txt"] = "release 1.1"}})
    local um = start()
    check(um)
    lu.shutdown()
    um = start()                                        -- 1.1 applied, on trial
    assert.are.equal("release 1.1", lu.load_resource("/title.txt"))
    lu.shutdown()                                       -- stops without confirm()
    um = start()
    assert.are.equal("1.0", um.version)
    assert.are.equal("base 1.0", lu.load_resource("/title.txt"))
    assert.are.equal("1.1", um.last_rollback.version)
    assert.matches("without confirm%(%) or a clean exit", um.last_rollback.reason)
    local report = lu.get_startup_report()
    assert.are.equal("rolled_back", report[#report].action)
    assert.are.same({{"check", false, "1.1"}}, check(um))   -- the failed version is not retried
    publish(www, "1.2", {forest = {["title.txt"] = "release 1.2"}})
    local ev = check(um)                                     -- a new remote version is
    assert.are.same({"ready", "1.2"}, ev[#ev])
  end)

  it("apply_update switches at once, all volumes together, and old releases are deleted", function()
    publish(www, "1.1", {a = {["a.txt"] = "a1"}, b = {["b.txt"] = "b1"}})
    local um = start()
    check(um)
    assert(um.apply_update())
    assert.are.equal("a1", lu.load_resource("/a.txt"))
    assert.are.equal("b1", lu.load_resource("/b.txt"))
    assert(um.confirm())
    publish(www, "1.2", {a = {["a.txt"] = "a2"}, c = {["c.txt"] = "c2"}})
    check(um)
    assert(um.apply_update())
    assert.are.equal("a2", lu.load_resource("/a.txt"))
    assert.is_nil(lu.which("/b.txt"))                    -- 1.1's volume b went with it
    assert.are.equal("c2", lu.load_resource("/c.txt"))
    assert(um.confirm())
    publish(www, "1.3", {a = {["a.txt"] = "a3"}})
    check(um)
    assert(um.apply_update())
    assert(um.confirm())
    local files = H.release_files(save)
    -- current (1.3) and previous (1.2) kept; 1.1 deleted
    assert.are.same({"rel-1.2-a-1.2.zip", "rel-1.2-c-1.2.zip", "rel-1.3-a-1.3.zip"}, files)
    -- the store keeps the bytes of those three files and nothing else
    local want = {}
    for _, f in ipairs(files) do want[#want + 1] = H.sha256(save .. "/volumes/" .. f) .. ".zip" end
    table.sort(want)
    assert.are.same(want, H.store_files(save))
    local ok, msg, st = um.apply_update()
    assert.is_nil(ok); assert.are.equal(lu.LIVEUPDATE_NOT_FOUND, st); assert.matches("no release is staged", msg)
  end)

  it("reports failures and stages nothing: a bad volume hash, a missing document, a tampered signature", function()
    H.zip(www .. "/v.zip", {["v.txt"] = "v"})
    H.write(www .. "/release.json", ('{"version": "1.1", "volumes": [{"name": "v", "file": "v.zip", "size": %d, ' ..
      '"sha256": "%s"}]}'):format(#H.read(www .. "/v.zip"), string.rep("ab", 32)))
    local um = start()
    local ev = check(um)
    assert.are.equal("failed", ev[#ev][1])
    assert.are.equal(lu.LIVEUPDATE_HASH_MISMATCH, ev[#ev][2])
    assert.matches("release 1.1: .*v.zip': sha256", ev[#ev][3])
    assert.is_nil(um.get_info().staged)
    os.remove(www .. "/release.json")
    ev = check(um)
    assert.are.same({"failed", lu.LIVEUPDATE_NOT_FOUND}, {ev[1][1], ev[1][2]})
    H.write(www .. "/release.json", "{not json")
    ev = check(um)
    assert.are.same({"failed", lu.LIVEUPDATE_FORMAT_ERROR}, {ev[1][1], ev[1][2]})
    lu.shutdown()
    -- signed documents
    local keys = H.tmpdir() .. "/k"
    assert.are.equal(0, (H.lutool("keygen -o " .. H.quote(keys))))
    publish(www, "1.1", {v = {["v.txt"] = "v"}})
    assert.are.equal(0, (H.lutool("sign " .. H.quote(www .. "/release.json") .. " --key " .. H.quote(keys .. ".sec"))))
    assert.are.equal(0, (H.lutool("sign " .. H.quote(www .. "/v-1.1.zip") .. " --key " .. H.quote(keys .. ".sec"))))
    um = start({public_key = keys .. ".pub"})
    ev = check(um)
    assert.are.same({"ready", "1.1"}, ev[#ev])
    publish(www, "1.2", {v = {["v.txt"] = "v2"}})        -- release.json changed, old .sig
    ev = check(um)
    assert.are.same({"failed", lu.LIVEUPDATE_SIGNATURE_MISMATCH}, {ev[1][1], ev[1][2]})
    assert.are.equal("1.1", um.get_info().staged)
  end)

  it("lets a Lua hook replace the version comparison, and rejects a bad local version", function()
    publish(www, "0.9", {v = {["v.txt"] = "v"}})
    local um = start()
    assert.are.same({{"check", false, "0.9"}}, check(um))
    um.set_version_compare(function(a, b) return a == b and 0 or (a == "0.9" and 1 or -1) end)
    local ev = check(um)
    assert.are.same({"ready", "0.9"}, ev[#ev])
    lu.shutdown()
    local ok, msg = lu.init({save_dir = save, update = {url = base .. "/release.json", local_version = "1 0"}})
    assert.is_nil(ok)
    assert.matches("not a version string", msg)
  end)

  it("survives a corrupt state file: moved aside and reported", function()
    local um = start()
    lu.shutdown()
    H.write(save .. "/update/state.json", "{\"current\": 12")
    um = start()
    assert.are.equal("1.0", um.version)
    local report = lu.get_startup_report()
    assert.are.equal("moved_aside", report[1].action)
    -- kept for a bug report, under the name the message gives (the one move-aside rule)
    local moved = report[1].message:match("moved aside to '([^']+)'")
    assert.is_truthy(moved, report[1].message)
    assert.matches("/update/state%.json%.corrupt%-%d+T%d+Z", moved)
    assert.are.equal("{\"current\": 12", H.read(moved))
  end)
  -- A state write that fails: a directory where the temporary file goes
  -- (root ignores permissions).
  local function block_state(on)
    os.execute((on and "mkdir " or "rmdir ") .. H.quote(save .. "/update/state.json.tmp"))
  end

  it("apply_update() whose state write fails changes nothing: mounts, memory, files", function()
    publish(www, "1.1", {forest = {["title.txt"] = "release 1.1"}})
    local um = start()
    check(um)
    lu.shutdown()
    um = start()
    assert(um.confirm())                                -- 1.1 confirmed
    publish(www, "1.2", {forest = {["title.txt"] = "release 1.2"}})
    check(um)
    block_state(true)
    local ok, msg = um.apply_update()
    block_state(false)
    assert.is_nil(ok, msg)
    assert.are.equal("release 1.1", lu.load_resource("/title.txt"))
    assert.are.equal("1.1", um.version)
    assert.is_false(um.get_info().on_trial)
    assert.are.equal("1.2", um.get_info().staged)
    assert.is_truthy(H.exists(save .. "/volumes/rel-1.1-forest-1.1.zip"))   -- not collected
    assert(um.apply_update())                           -- and it can be applied after all
    assert.are.equal("release 1.2", lu.load_resource("/title.txt"))
  end)

  it("a release applied over an unconfirmed trial never makes that trial the rollback target", function()
    publish(www, "1.1", {forest = {["title.txt"] = "release 1.1"}})
    local um = start()
    check(um)
    lu.shutdown()
    um = start()                                        -- 1.1 on trial, unconfirmed
    publish(www, "1.2", {forest = {["title.txt"] = "release 1.2"}})
    check(um)
    assert(um.apply_update())                           -- 1.2 over the 1.1 trial
    lu.shutdown()                                       -- 1.2 never confirmed
    um = start()
    assert.are.equal("1.0", um.version)                 -- back to confirmed content, not to 1.1
    assert.are.equal("base 1.0", lu.load_resource("/title.txt"))
  end)

  it("tells 'update ready' once, not at every check", function()
    publish(www, "1.1", {forest = {["title.txt"] = "release 1.1"}})
    local um = start()
    assert.are.same({{"check", true, "1.1"}, {"ready", "1.1"}}, check(um))
    events = {}
    assert(um.check())
    run_until(lu, function() return #events > 0 end)
    for _ = 1, 20 do lu.poll() end
    assert.are.same({{"check", true, "1.1"}}, events)
  end)

  it("rolls back to the bundled content when the previous release's file is gone", function()
    publish(www, "1.1", {forest = {["title.txt"] = "release 1.1"}})
    local um = start()
    check(um)
    lu.shutdown()
    um = start()
    assert(um.confirm())
    publish(www, "1.2", {forest = {["title.txt"] = "release 1.2"}})
    check(um)
    lu.shutdown()
    um = start()                                        -- 1.2 on trial
    lu.shutdown()                                       -- never confirmed
    os.remove(save .. "/volumes/rel-1.1-forest-1.1.zip")
    um = start()
    assert.are.equal("1.0", um.version)
    assert.are.equal("base 1.0", lu.load_resource("/title.txt"))
    assert.are.equal("1.2", um.last_rollback.version)
    assert.matches("could not be mounted", um.last_rollback.reason)
  end)

  it("download = ask: download() during a running check is kept, not dropped", function()
    publish(www, "1.1", {forest = {["title.txt"] = "release 1.1"}})
    local um = start({update = {url = base .. "/release.json", local_version = "1.0", download = "ask"}})
    events = {}
    assert(um.check())
    assert(um.download())                               -- the player said yes before the answer came
    run_until(lu, function() return events[#events] and events[#events][1] == "ready" end)
    assert.are.same({{"check", true, "1.1"}, {"ready", "1.1"}}, events)
  end)
end)

describe("update manager with HEAD metadata (stock Lua)", function()
  it("reads the version from x-amz-meta-version, stages the one volume, checks the sha256 header", function()
    local lu = fresh()
    local www, save = H.tmpdir(), H.tmpdir()
    H.zip(www .. "/base.zip", {["title.txt"] = "base 1.0"})
    H.zip(www .. "/content.zip", {["title.txt"] = "bucket 2.0"})
    local sha = H.sha256(www .. "/content.zip")
    local base, stop, _, ndir = H.nginx(www, false, {extra = ([[
      location = /content.zip { add_header x-amz-meta-version "2.0"; add_header x-amz-meta-sha256 "%s"; }
      location = /noversion.zip { alias %s/content.zip; }
      location = /badsha.zip { alias %s/content.zip; add_header x-amz-meta-version "3.0";
                               add_header x-amz-meta-sha256 "%s"; }
      location = /loop.zip { return 302 /loop.zip; }
      location = /tofile.zip { return 302 file:///etc/hostname; }]]):format(sha, www, www, string.rep("0", 64))})
    local ok, err = pcall(function()
      local function start(head)
        assert(lu.init({save_dir = save, base = "zip:" .. www .. "/base.zip",
                        update = {head_url = base .. head, local_version = "1.0"}}))
        local um = lu.get_update_manager()
        local ev = {}
        um.on_check_for_update(function(_, res) ev[#ev + 1] = {"check", res.has_update, res.version} end)
        um.on_update_ready(function(_, res) ev[#ev + 1] = {"ready", res.version} end)
        um.on_update_failed(function(_, res) ev[#ev + 1] = {"failed", res.status, res.message} end)
        assert(um.check())
        run_until(lu, function()
          local l = ev[#ev]
          return l and (l[1] ~= "check" or not l[2])
        end)
        return um, ev
      end
      local um, ev = start("/content.zip")
      assert.are.same({{"check", true, "2.0"}, {"ready", "2.0"}}, ev)
      assert(um.apply_update())
      assert.are.equal("bucket 2.0", lu.load_resource("/title.txt"))
      assert.are.equal("content", lu.which("/title.txt"))
      assert(um.confirm())
      lu.shutdown()
      um, ev = start("/noversion.zip")
      assert.are.equal("failed", ev[1][1])
      assert.are.equal(lu.LIVEUPDATE_FORMAT_ERROR, ev[1][2])
      assert.matches("no valid version in the headers x%-oss%-meta%-version%-name,x%-amz%-meta%-version", ev[1][3])
      lu.shutdown()
      um, ev = start("/badsha.zip")
      assert.are.equal("failed", ev[#ev][1])
      assert.are.equal(lu.LIVEUPDATE_HASH_MISMATCH, ev[#ev][2])
      assert.are.equal("2.0", um.version)
      -- the HEAD request has the downloads' libcurl rules: at most 5 redirects,
      -- and only to http or https (it used to follow a redirect loop without limit)
      lu.shutdown()
      um, ev = start("/loop.zip")
      assert.are.equal("failed", ev[#ev][1])
      assert.are.equal(lu.LIVEUPDATE_NETWORK_ERROR, ev[#ev][2])
      assert.matches("redirect", ev[#ev][3]:lower())
      local _, loops = H.read(ndir .. "/access.log"):gsub("302 /loop%.zip", "")
      assert.are.equal(6, loops)
      lu.shutdown()
      um, ev = start("/tofile.zip")
      assert.are.equal("failed", ev[#ev][1])
      assert.are.equal(lu.LIVEUPDATE_NETWORK_ERROR, ev[#ev][2])
      assert.matches("protocol", ev[#ev][3]:lower())   -- refused, not followed to a local file
      assert.are.equal("2.0", um.version)
    end)
    lu.shutdown()
    stop()
    assert(ok, err)
  end)
end)

describe("update manager under SIGKILL", function()
  it("a start killed while it applies or rolls back a release leaves mounts and state that agree", function()
    local lu = fresh()
    local www, work = H.tmpdir(), H.tmpdir()
    H.zip(www .. "/base.zip", {["title.txt"] = "base 1.0"})
    publish(www, "1.1", {content = {["title.txt"] = "release 1.1"}, extra = {["extra.txt"] = "x"}})
    local cfg = {base = "zip:" .. www .. "/base.zip",
                 update = {url = "file://" .. www .. "/release.json", local_version = "1.0"}}
    local function open(save)
      local o = {save_dir = save}
      for k, v in pairs(cfg) do o[k] = v end
      assert(lu.init(o))
      return lu.get_update_manager()
    end
    -- snapshot A: 1.1 staged (the next start applies it); B: 1.1 on trial (the next start rolls back)
    local snap_a, snap_b = work .. "/a", work .. "/b"
    local um = open(snap_a)
    local ready = false
    um.on_update_ready(function() ready = true end)
    assert(um.check())
    run_until(lu, function() return ready end)
    assert.is_true(ready)
    lu.shutdown()
    assert(H.sh("cp -a " .. H.quote(snap_a) .. " " .. H.quote(snap_b)))
    open(snap_b)
    lu.shutdown()
    local child = ([[local lu = require("liveupdate")
      assert(lu.init{save_dir = arg[1], base = %q, update = {url = %q, local_version = "1.0"}})
      print("opened")]]):format(cfg.base, cfg.update.url)
    H.write(work .. "/child.lua", child)
    local save = work .. "/save"
    local finished, kills = 0, 200
    for i = 1, kills do
      local snap = (i % 2 == 1) and snap_a or snap_b
      assert(H.sh("rm -rf " .. H.quote(save) .. " && cp -a " .. H.quote(snap) .. " " .. H.quote(save)))
      local delay = ("%.4f"):format(math.random() * 0.012)
      local p = io.popen(("lua5.4 %s %s & pid=$!; sleep %s; kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null"):format(
        H.quote(work .. "/child.lua"), H.quote(save), delay))
      if (p:read("a") or ""):find("opened") then finished = finished + 1 end
      p:close()
      um = open(save)
      local title = lu.load_resource("/title.txt")
      local want = um.version == "1.1" and "release 1.1" or "base 1.0"
      assert.are.equal(want, title, "kill " .. i .. " (after " .. delay .. " s)")
      assert.are.equal(um.version == "1.1", lu.which("/extra.txt") == "extra", "kill " .. i)
      for _, r in ipairs(lu.get_startup_report()) do
        assert.are_not.equal("moved_aside", r.action, "kill " .. i .. ": " .. r.message)
        assert.are_not.equal("dropped", r.action, "kill " .. i .. ": " .. r.message)
      end
      lu.shutdown()
    end
    print(("\n  SIGKILL: %d starts killed at random, %d of them finished first; every reopen consistent"):format(
      kills, finished))
    assert.is_true(finished < kills, "no kill landed before the start finished")
  end)
end)
