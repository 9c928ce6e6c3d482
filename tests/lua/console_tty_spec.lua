-- console_tty_spec.lua -- `lutool console` in a real terminal: tmux runs the
-- client on a private server (-L), the spec types with send-keys and reads
-- the screen with capture-pane, polling a bounded number of times. Blank
-- lines and Ctrl-D, Tab completion of commands, mounts, proxies and
-- resource paths asked from the game, history kept through Ctrl-C and a
-- killed client, reconnection to a restarted game, a quoted path with a
-- space.
local H = require("helpers")

local SOCKET = "lu_tty_" .. tostring(os.time()) .. "_" .. tostring(math.random(1, 1e9))
local TRIES = 200   -- polls of the screen, 0.05 s apart

local function tmux(args)
  local p = io.popen("tmux -L " .. SOCKET .. " -f /dev/null " .. args .. " 2>&1")
  local out = p:read("a")
  p:close()
  return out
end

local function screen(name) return tmux("capture-pane -p -t " .. name) end

-- Waits until the screen of `name` holds `text` (plain) `count` times or
-- more; returns the screen. Fails with the screen after TRIES polls.
local function wait_for(name, text, count)
  count = count or 1
  local s
  for _ = 1, TRIES do
    s = screen(name)
    local n, from = 0, 1
    while true do
      local at = s:find(text, from, true)
      if not at then break end
      n, from = n + 1, at + #text
    end
    if n >= count then return s end
    H.sh("sleep 0.05")
  end
  error(("screen of %s never showed %q %d time(s):\n%s"):format(name, text, count, s))
end

local function keys(name, ...)
  local a = {}
  for i, k in ipairs({...}) do a[i] = H.quote(k) end
  tmux("send-keys -t " .. name .. " " .. table.concat(a, " "))
end

local function type_line(name, text) keys(name, "-l", text); keys(name, "Enter") end

local GAME = [[
[project]
title = Tty Spec
[bootstrap]
main_script = /main/main.lua
[proxy.level1]
collection = /level1/level1.collection
resources = /level1/**
]]

describe("lutool console in a terminal", function()
  local dir, port, save, stop, state, sessions = nil, nil, nil, nil, nil, 0

  -- A new tmux session running the client; its history under `state`.
  local function client()
    sessions = sessions + 1
    local name = "c" .. sessions
    tmux("new-session -d -x 200 -y 50 -s " .. name .. " " ..
         H.quote("exec env XDG_STATE_HOME=" .. H.quote(state) .. " " .. H.quote(H.lutool_bin) .. " console " .. port))
    wait_for(name, "lu>")
    return name
  end

  setup(function()
    assert(H.sh("command -v tmux >/dev/null"), "tmux is not installed (tools/setup installs it)")
    dir = H.project(GAME, {["main/main.lua"] = "function update(self) end",
                           ["level1/level1.collection"] = "", ["level1/a.txt"] = "aaaa", ["level1/sub/b.txt"] = "b",
                           ["level1/with space/c.txt"] = "cc", ["quote/it's.txt"] = "q"})
    state = H.tmpdir()
    port, save, stop = H.console_game(dir)
  end)

  teardown(function()
    local uid = io.popen("id -u"):read("l")
    tmux("kill-server")   -- its socket file stays behind: removed too
    os.remove((os.getenv("TMUX_TMPDIR") or "/tmp") .. "/tmux-" .. uid .. "/" .. SOCKET)
    stop()
  end)

  it("gives a fresh prompt for a blank line and runs the next command", function()
    local c = client()
    keys(c, "Enter")
    type_line(c, "   ")
    wait_for(c, "lu>", 3)   -- (capture-pane drops the spaces at the ends of lines)
    type_line(c, "status")
    local s = wait_for(c, "Tty Spec: frame")
    assert.matches("^lu>\nlu>\nlu> status\nTty Spec: frame %d+, project run", s)
    keys(c, "C-d")   -- leaves: the session ends with the client
    local gone = false
    for _ = 1, TRIES do
      if not H.sh("tmux -L " .. SOCKET .. " has-session -t " .. c .. " 2>/dev/null") then gone = true; break end
      H.sh("sleep 0.05")
    end
    assert.is_true(gone, "Ctrl-D did not end the client")
  end)

  it("completes a command name with Tab", function()
    local c = client()
    keys(c, "mou", "Tab")
    wait_for(c, "lu> mounts")
    keys(c, "Enter")
    local s = wait_for(c, "1 mount(s)")
    assert.matches("NAME   PRIORITY  FORMAT   ENTRIES  URI", s, 1, true)
  end)

  it("completes mount and proxy names asked from the game", function()
    local c = client()
    keys(c, "remove _b", "Tab")
    wait_for(c, "lu> remove _base")
    keys(c, "C-c")
    keys(c, "missing l", "Tab", "Enter")
    wait_for(c, "lu> missing level1")
    wait_for(c, "proxy 'level1': nothing is missing")
  end)

  it("completes resource paths asked from the game", function()
    local c = client()
    keys(c, "which /", "Tab")
    local s = wait_for(c, "main/")   -- two candidates: listed
    assert.matches("level1/%s+main/", s)
    keys(c, "l", "Tab")
    wait_for(c, "lu> which /level1/")
    keys(c, "Tab")   -- a.txt, level1.collection, sub/, with space/: listed
    wait_for(c, "with space/")
    keys(c, "w", "Tab")
    wait_for(c, "lu> which /level1/with\\ space/")
    keys(c, "Tab", "Enter")
    s = wait_for(c, "served by mount")
    assert.matches("lu> which /level1/with\\ space/c.txt\n/level1/with space/c.txt is served by mount '_base' (2 B)", s, 1,
                   true)
  end)

  it("completes inside an open single quote, writing a quote in the name as '\\''", function()
    local c = client()
    keys(c, "-l", "which '/quote/i")
    keys(c, "Tab")
    wait_for(c, [[lu> which '/quote/it'\''s.txt']])
    keys(c, "Enter")
    local s = wait_for(c, "served by mount")
    assert.matches("/quote/it's.txt is served by mount '_base' (1 B)", s, 1, true)
  end)

  it("keeps the history in XDG_STATE_HOME through Ctrl-C and a killed client", function()
    local c = client()
    local file = state .. "/liveupdate/console_history"
    type_line(c, "status")
    wait_for(c, "Tty Spec: frame")
    assert.matches("\nstatus\n", (H.read(file) or "(no history file)") .. "\n", 1, true)
    keys(c, "mounts --bogus", "C-c")   -- clears the line, the client stays
    wait_for(c, "lu>", 3)
    type_line(c, "help")
    wait_for(c, "machine-readable")
    local pid = tmux("display-message -p -t " .. c .. " '#{pane_pid}'"):match("%d+")
    H.sh("kill -9 " .. pid)
    local h = H.read(file)
    assert.matches("\nstatus\nhelp", h, 1, true)
    assert.is_nil(h:find("bogus", 1, true))
    local again = client()   -- a new client reads it back
    keys(again, "Up")
    wait_for(again, "lu> help")
  end)

  it("adds a mount whose quoted path has a space", function()
    local vols = H.tmpdir() .. "/my volumes"
    H.sh("mkdir -p " .. H.quote(vols))
    H.zip(vols .. "/v.zip", {["level1/a.txt"] = "from the spaced volume"})
    local c = client()
    type_line(c, 'add spaced "zip:' .. vols .. '/v.zip" 4')
    wait_for(c, "persisted")
    type_line(c, "which /level1/a.txt")
    wait_for(c, "served by mount 'spaced' (22 B)")
    type_line(c, "remove spaced")
    wait_for(c, "removed 'spaced'")
  end)

  it("reconnects when the game restarts", function()
    local c = client()
    type_line(c, "status")
    wait_for(c, "Tty Spec: frame")
    stop()
    type_line(c, "status")
    wait_for(c, "cannot connect to 127.0.0.1:" .. port)
    wait_for(c, "lu (not connected)>")
    port, save, stop = H.console_game(dir, {port = port, save = save})
    type_line(c, "status")
    local s = wait_for(c, "Tty Spec: frame", 2)
    assert.matches("reconnected to 127.0.0.1:" .. port, s, 1, true)
  end)
end)
