#!/usr/bin/env python3
"""console_probe.py PORT CASE -- raw-socket cases for console_spec.lua.

CASE is one of:
  oversized   a 10,000-byte line, then `status` on the same connection
  nul         a line with a NUL byte, then `status`
  disconnect  a half-sent command, the connection dropped; then `status`
              on a new connection
  many N      N connections at once, each asks `status --json`
  flood N     N `status --json` lines sent at once before reading any
              answer; prints how many answers came and over how many
              distinct frames ("answers A frames F")
  send L...   each argument L as one line (a newline added), on one
              connection, as a raw client (nc) would send it; one answer
              is read per line (a line that got none hangs until timeout)
Prints one line per answer, as received (status lines included).
"""
import socket
import sys


def answer(f):
    lines = []
    while True:
        line = f.readline().decode()
        if not line:
            lines.append("<closed>")
            return lines
        lines.append(line.rstrip("\n"))
        if line.startswith("%% "):
            return lines


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    return s, s.makefile("rwb")


def main():
    port, case = int(sys.argv[1]), sys.argv[2]
    if case in ("oversized", "nul"):
        s, f = connect(port)
        f.write(b"x" * 10000 + b"\n" if case == "oversized" else b"sta\0tus\n")
        f.flush()
        print("\n".join(answer(f)))
        f.write(b"status\n")
        f.flush()
        print("\n".join(answer(f)))
    elif case == "disconnect":
        s, f = connect(port)
        f.write(b"mou")
        f.flush()
        s.close()
        s, f = connect(port)
        f.write(b"status\n")
        f.flush()
        print("\n".join(answer(f)))
    elif case == "send":
        s, f = connect(port)
        for line in sys.argv[3:]:
            f.write(line.encode() + b"\n")
            f.flush()
            print("\n".join(answer(f)))
    elif case == "flood":
        n = int(sys.argv[3])
        s, f = connect(port)
        f.write(b"status --json\n" * n)
        f.flush()
        frames = set()
        for _ in range(n):
            for line in answer(f):
                if line.startswith("{"):
                    frames.add(line.split('"frame":')[1].split(",")[0].split("}")[0])
        print("answers %d frames %d" % (n, len(frames)))
    elif case == "many":
        conns = [connect(port) for _ in range(int(sys.argv[3]))]
        for _, f in conns:
            f.write(b"status --json\n")
            f.flush()
        for _, f in conns:
            print("\n".join(answer(f)))


main()
