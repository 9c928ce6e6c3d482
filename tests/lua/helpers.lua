-- helpers.lua -- shared by the busted specs: temporary folders, files,
-- zips (Info-ZIP), running lurun, and a real nginx on 127.0.0.1.
local M = {}

M.root = os.getenv("LU_ROOT") or "."
M.lurun = os.getenv("LU_LURUN") or (M.root .. "/build/bin/lurun")
-- Prepended to lurun's command line unquoted (tools/test sets sanitizer options here).
M.lurun_prefix = os.getenv("LU_LURUN_PREFIX") or ""
M.lutool_bin = os.getenv("LU_LUTOOL") or (M.root .. "/build/bin/lutool")

local function sh(cmd)
  local ok, _, code = os.execute(cmd)
  return ok == true, code
end
M.sh = sh

function M.quote(s) return "'" .. tostring(s):gsub("'", "'\\''") .. "'" end

-- LU_CHILD_ENV (tools/test's asan run, e.g. "env -u LD_PRELOAD
-- ASAN_OPTIONS=detect_leaks=0"): every command a spec starts runs under it,
-- so the interpreter is leak-checked with the sanitizer runtime preloaded
-- while zip, nginx, python and the shells it starts are not (lurun gets its
-- own options through LU_LURUN_PREFIX). Installed once per process: busted
-- loads this file again for every spec file, and a second wrapper would
-- quote every command twice (the mark lives in the registry, which busted's
-- insulation does not restore).
local child_env = os.getenv("LU_CHILD_ENV")
local registry = debug.getregistry()
if child_env and child_env ~= "" and not registry.lu_child_env_installed then
  registry.lu_child_env_installed = true
  local execute, popen = os.execute, io.popen
  local function wrap(cmd) return child_env .. " sh -c " .. M.quote(cmd) end
  os.execute = function(cmd)
    if cmd == nil then return execute() end
    return execute(wrap(cmd))
  end
  io.popen = function(cmd, mode) return popen(wrap(cmd), mode) end
end

function M.tmpdir()
  local p = io.popen("mktemp -d " .. M.quote((os.getenv("TMPDIR") or "/tmp") .. "/luspec.XXXXXX"))
  local d = p:read("*l")
  p:close()
  return d
end

function M.write(path, text)
  local dir = path:match("^(.*)/[^/]*$")
  if dir then sh("mkdir -p " .. M.quote(dir)) end
  local f = assert(io.open(path, "wb"))
  f:write(text)
  f:close()
end

function M.read(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local s = f:read("*a")
  f:close()
  return s
end

function M.exists(path) return M.read(path) ~= nil end

-- Writes files = {["rel/path"] = "text"} under dir.
function M.tree(dir, files)
  for rel, text in pairs(files) do M.write(dir .. "/" .. rel, text) end
end

-- Zips the files of `files` (written to a scratch folder) into zip_path with Info-ZIP.
function M.zip(zip_path, files)
  local src = M.tmpdir()
  M.tree(src, files)
  os.remove(zip_path)
  assert(sh("cd " .. M.quote(src) .. " && zip -X -q -r " .. M.quote(zip_path) .. " ."), "zip failed")
end

-- A project directory: game.project text plus content files.
function M.project(project_ini, content)
  local dir = M.tmpdir()
  M.write(dir .. "/game.project", project_ini)
  M.tree(dir .. "/content", content or {})
  return dir
end

-- Runs lurun; returns exit code, stdout, stderr.
function M.run(dir, args)
  local out, err = os.tmpname(), os.tmpname()
  local cmd = M.lurun_prefix .. " " .. M.quote(M.lurun) .. " " .. M.quote(dir) .. " " .. (args or "") ..
              " >" .. M.quote(out) .. " 2>" .. M.quote(err)
  local _, code = sh(cmd)
  local o, e = M.read(out), M.read(err)
  os.remove(out); os.remove(err)
  return code, o, e
end

-- Runs lutool with `args` (shell words); returns exit code, stdout, stderr.
function M.lutool(args)
  local out, err = os.tmpname(), os.tmpname()
  local _, code = sh(M.quote(M.lutool_bin) .. " " .. args .. " >" .. M.quote(out) .. " 2>" .. M.quote(err))
  local o, e = M.read(out), M.read(err)
  os.remove(out); os.remove(err)
  return code, o, e
end

-- Hex SHA-256 of a file (sha256sum).
function M.sha256(path)
  local p = io.popen("sha256sum " .. M.quote(path))
  local s = p:read("l"):match("^(%x+)")
  p:close()
  return s
end

-- Starts nginx serving `root` on a loopback port; returns the base URL, a
-- stop function, the certificate (tls) and nginx's folder (access.log
-- there lists "<status> <uri> <bytes sent>" per request). opts: port (reuse
-- one, e.g. to restart a server mid-download), limit_rate ("64k"), extra
-- (nginx directives for the server block).
-- /status/500 and /status/403 answer those statuses.
function M.nginx(root, tls, opts)
  opts = opts or {}
  local dir = opts.dir or M.tmpdir()
  local listen = ""
  if tls then
    if not M.exists(dir .. "/cert.pem") then
      assert(sh("openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 -keyout " ..
                M.quote(dir .. "/key.pem") .. " -out " .. M.quote(dir .. "/cert.pem") .. " 2>/dev/null"))
    end
    listen = " ssl; ssl_certificate " .. dir .. "/cert.pem; ssl_certificate_key " .. dir .. "/key.pem"
  end
  local rate = opts.limit_rate and ("limit_rate " .. opts.limit_rate .. ";") or ""
  for _ = 1, (opts.port and 50 or 20) do
    local port = opts.port or math.random(20000, 45000)
    M.write(dir .. "/nginx.conf", ([[
user root;
worker_processes 1;
error_log %s/error.log;
pid %s/nginx.pid;
events { worker_connections 64; }
http {
  log_format st '$status $uri $body_bytes_sent';
  access_log %s/access.log st;
  client_body_temp_path %s/body; proxy_temp_path %s/proxy; fastcgi_temp_path %s/fcgi;
  uwsgi_temp_path %s/uwsgi; scgi_temp_path %s/scgi;
  types { application/zip zip; application/json json; text/plain txt; }
  server {
    listen 127.0.0.1:%d%s; root %s; %s
    location = /echo { return 200 "$request_method $http_x_test $content_length"; }
    %s
    location = /status/500 { return 500; }
    location = /status/403 { return 403; }
  }
}
]]):format(dir, dir, dir, dir, dir, dir, dir, dir, port, listen, root, rate, opts.extra or ""))
    if sh("nginx -c " .. M.quote(dir .. "/nginx.conf") .. " -p " .. M.quote(dir) .. " 2>/dev/null") then
      local stop = function()
        local pid = (M.read(dir .. "/nginx.pid") or ""):match("%d+")
        sh("nginx -c " .. M.quote(dir .. "/nginx.conf") .. " -p " .. M.quote(dir) .. " -s stop 2>/dev/null")
        -- wait until the master has exited, so the port can be reused
        for _ = 1, 100 do
          if not pid or not sh("kill -0 " .. pid .. " 2>/dev/null") then break end
          sh("sleep 0.05")
        end
      end
      return ((tls and "https" or "http") .. "://127.0.0.1:%d"):format(port), stop, dir .. "/cert.pem", dir, port
    end
    if opts.port then sh("sleep 0.1") end
  end
  error("could not start nginx (is it installed? tools/setup installs nginx-light)")
end

-- A TCP server on 127.0.0.1 that accepts connections and never answers
-- (a stalled server, for timeouts). Returns its port and a stop function.
function M.stalled_server()
  local p = io.popen([[python3 -c "
import os, socket, sys, time
s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(8)
print(s.getsockname()[1], os.getpid(), flush=True)
conns = []
t = time.time() + 60
while time.time() < t:
    conns.append(s.accept()[0])
" & ]])
  local line = p:read("*l")
  p:close()
  local port, pid = line:match("(%d+) (%d+)")
  return tonumber(port), function() os.execute("kill " .. pid .. " 2>/dev/null") end
end

-- The lines of `out` that start with `tag` (a game's printed events).
function M.lines(out, tag)
  local t = {}
  for l in out:gmatch("[^\n]+") do
    if l:sub(1, #tag) == tag then t[#t + 1] = l end
  end
  return t
end

-- Runs curl with `args` (shell words), no sanitizer preload; returns the
-- HTTP status (a number) and the body.
function M.curl(args)
  local out = os.tmpname()
  local q = io.popen("env LD_PRELOAD= curl -s -o " .. M.quote(out) .. " -w '%{http_code}' " .. args)
  local code = tonumber(q:read("*a"):match("%d+"))
  q:close()
  local body = M.read(out)
  os.remove(out)
  return code, body
end

-- The response headers of an anonymous HEAD of `url`, as sent (name case kept).
function M.head(url)
  local p = io.popen("env LD_PRELOAD= curl -s -I " .. M.quote(url))
  local s = p:read("a")
  p:close()
  return s
end

-- Starts s3rver, an S3-compatible server (npm, pinned in tools/node and
-- installed into build/node by tools/setup), on 127.0.0.1 on a port the
-- kernel picks, keeping its buckets in `dir` (a new folder when nil). Waits,
-- polling a bounded number of times, until it lists its buckets. Returns the
-- base URL, a stop function, and put(path, file, headers): a PUT of `file`
-- (nil: no body) to base .. path, signed with AWS SigV4 as s3rver's default
-- account S3RVER/S3RVER; put("/bucket") creates a bucket,
-- put("/bucket/key", file, {["x-amz-meta-version"] = "1.1"}) uploads an
-- object with user metadata. put returns the HTTP status (a number) and body.
-- What s3rver 3.7.1 does (docs/TESTING.md): no ACLs, so anonymous HEAD and
-- GET (and PUT) work without making anything public; a signed request must
-- carry x-amz-content-sha256 and name a known access key, but the V4
-- signature itself is not checked; user metadata comes back as lower-case
-- x-amz-meta-* headers, as S3 returns it. opts.log: keep s3rver's log
-- (a line 'Stored object "<key>" in bucket ...' per stored object, in
-- order); its path is the fourth result.
function M.s3rver(dir, opts)
  local bin = M.root .. "/build/node/node_modules/s3rver/bin/s3rver.js"
  assert(M.exists(bin), "s3rver is not installed (" .. bin .. "): run tools/setup")
  dir = dir or M.tmpdir()
  local log = M.tmpdir() .. "/s3rver.log"
  -- no LD_PRELOAD: the asan suite preloads the sanitizer runtimes for lua5.4, not for node or curl
  local p = io.popen("env LD_PRELOAD= node " .. M.quote(bin) .. " -d " .. M.quote(dir) ..
                     " -a 127.0.0.1 -p 0" .. ((opts or {}).log and "" or " --silent") .. " </dev/null >" .. M.quote(log) .. " 2>&1 & echo $!")
  local pid = p:read("*l"):match("%d+")
  p:close()
  local function alive() return sh("kill -0 " .. pid .. " 2>/dev/null") end
  local function stop()
    sh("kill " .. pid .. " 2>/dev/null")
    for _ = 1, 200 do
      if not alive() then break end
      sh("sleep 0.05")
    end
  end
  local http = M.curl
  local port
  for _ = 1, 600 do                       -- node prints the port once it listens
    port = (M.read(log) or ""):match("listening on 127%.0%.0%.1:(%d+)")
    if port or not alive() then break end
    sh("sleep 0.05")
  end
  local base = port and ("http://127.0.0.1:" .. port)
  local up = false
  for _ = 1, (base and 200 or 0) do
    if http(M.quote(base .. "/")) == 200 then up = true; break end
    if not alive() then break end
    sh("sleep 0.05")
  end
  if not up then
    stop()
    error("s3rver did not start: " .. (M.read(log) or "no output"))
  end
  local function put(path, file, headers)
    local args = {"-X PUT --aws-sigv4 aws:amz:us-east-1:s3 --user S3RVER:S3RVER",
                  "-H x-amz-content-sha256:UNSIGNED-PAYLOAD"}
    for k, v in pairs(headers or {}) do args[#args + 1] = "-H " .. M.quote(k .. ": " .. v) end
    if file then args[#args + 1] = "--upload-file " .. M.quote(file) end
    args[#args + 1] = M.quote(base .. path)
    return http(table.concat(args, " "))
  end
  return base, stop, put, log
end

-- Requests for `uri` in the access log of the nginx whose folder is
-- `ngdir` (H.nginx's fourth result), so far.
function M.requests(ngdir, uri)
  local n = 0
  for l in (M.read(ngdir .. "/access.log") or ""):gmatch("[^\n]+") do
    if l:match("^%d+ (%S+)") == uri then n = n + 1 end
  end
  return n
end

-- The file names in `dir`, sorted ({} when it does not exist).
function M.ls(dir)
  local p = io.popen("ls -A " .. M.quote(dir) .. " 2>/dev/null")
  local t = {}
  for l in p:lines() do t[#t + 1] = l end
  p:close()
  table.sort(t)
  return t
end

-- The update manager's release files (rel-*) in <save>/volumes, sorted.
function M.release_files(save)
  local t = {}
  for _, f in ipairs(M.ls(save .. "/volumes")) do if f:match("^rel%-") then t[#t + 1] = f end end
  return t
end

-- The content-addressed store's entries (<save>/volumes/sha256), sorted.
function M.store_files(save)
  return M.ls(save .. "/volumes/sha256")
end

-- The liveupdate module loaded afresh (a spec's own, after a shutdown).
function M.fresh_liveupdate()
  package.loaded.liveupdate = nil
  return require("liveupdate")
end

-- Polls `lu` until `done()` is true, for at most `seconds` (default 20).
function M.run_until(lu, done, seconds)
  local deadline = os.time() + (seconds or 20)
  while not done() and os.time() <= deadline do
    lu.poll()
    os.execute("sleep 0.01")
  end
end

-- A TCP port on 127.0.0.1 that is free now (the kernel's pick).
function M.free_port()
  local p = io.popen([[python3 -c "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); print(s.getsockname()[1])"]])
  local port = tonumber(p:read("l"))
  p:close()
  return port
end

-- Starts lurun on the game in `dir` with its console on; waits (a bounded
-- number of tries) until `lutool console PORT status` answers. opts: port
-- (default a free one; give it to restart a game on the port it had), save
-- (default a new folder), mounts (written as the save folder's
-- liveupdate.mounts first). Returns port, save folder, stop() (kills the
-- game and waits until it is gone).
function M.console_game(dir, opts)
  opts = opts or {}
  local port, save = opts.port or M.free_port(), opts.save or M.tmpdir()
  if opts.mounts then M.write(save .. "/liveupdate.mounts", opts.mounts) end
  local p = io.popen(M.lurun_prefix .. " " .. M.quote(M.lurun) .. " " .. M.quote(dir) .. " --save-dir " .. M.quote(save) ..
    " --console " .. port .. " --frames 100000 >/dev/null 2>" .. M.quote(save .. "/lurun.err") .. " & echo $!")
  local pid = p:read("l")
  p:close()
  for _ = 1, 200 do
    if sh(M.quote(M.lutool_bin) .. " console " .. port .. " status >/dev/null 2>&1") then break end
    sh("sleep 0.05")
  end
  return port, save, function()
    sh("kill " .. pid .. " 2>/dev/null")
    for _ = 1, 100 do
      if not sh("kill -0 " .. pid .. " 2>/dev/null") then break end
      sh("sleep 0.05")
    end
  end
end

return M
