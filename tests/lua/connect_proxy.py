#!/usr/bin/env python3
"""connect_proxy.py TARGET_PORT PORT_FILE -- an HTTP CONNECT proxy for specs.

Defold's manual scripts fetch from hard-coded https:// hosts (an S3 bucket).
lurun run with https_proxy=http://127.0.0.1:<port> asks this proxy to
CONNECT there; every tunnel goes to 127.0.0.1:TARGET_PORT (nginx with a
certificate for that host), so the script runs unchanged and TLS is still
verified (against the spec's CA file). Writes its port to PORT_FILE, logs
"CONNECT <host:port>" lines to PORT_FILE.log, and runs until killed (the
spec kills it by its pid).
"""
import os
import socket
import sys
import threading


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def handle(client, target_port, log):
    head = b""
    while b"\r\n\r\n" not in head:
        chunk = client.recv(4096)
        if not chunk:
            client.close()
            return
        head += chunk
    line = head.split(b"\r\n", 1)[0].decode("latin-1")
    with open(log, "a") as f:
        f.write(line + "\n")
    if not line.startswith("CONNECT "):
        client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
        client.close()
        return
    upstream = socket.create_connection(("127.0.0.1", target_port))
    client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
    rest = head.split(b"\r\n\r\n", 1)[1]
    if rest:
        upstream.sendall(rest)
    threading.Thread(target=pipe, args=(client, upstream), daemon=True).start()
    threading.Thread(target=pipe, args=(upstream, client), daemon=True).start()


def main():
    target_port, port_file = int(sys.argv[1]), sys.argv[2]
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    with open(port_file + ".tmp", "w") as f:
        f.write(str(server.getsockname()[1]))
    os.rename(port_file + ".tmp", port_file)
    while True:
        client, _ = server.accept()
        threading.Thread(target=handle, args=(client, target_port, port_file + ".log"), daemon=True).start()


if __name__ == "__main__":
    main()
