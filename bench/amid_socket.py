#!/usr/bin/env python3
"""Times amid's answers on its Unix socket, alternating with the amictl command
that asks the same, for bench/*.sh.

  amid_socket.py --socket PATH --action DescribeInstances [--params JSON]
                 [--cli 'amictl describe-instances'] (--count N | --until FILE)
                 [--min N] [--pause S] [--max-seconds S]

Each round sends one request on a connection kept open (docs/PROTOCOL.md: one
JSON request per line, one answer per line) and times it from the write of the
request to the last byte of the answer: the daemon's own answer time, without
any client start-up. Then, with --cli, it runs that command once (output to
/dev/null) and times the process from fork to exit: what a user waits for.
Prints one line per measurement, "socket<TAB>seconds" or "cli<TAB>seconds", and
on stderr a summary (rounds, errors, the number of results in the last answer
and its size in bytes, newline included).
Stops after --count rounds, or once --until's file exists (at least --min
rounds, at most --max-seconds). Exits 1 if any answer was an error.
"""
import argparse
import json
import os
import shlex
import socket
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", default=os.environ.get("AMID_SOCKET"))
    ap.add_argument("--action", required=True)
    ap.add_argument("--params", default="{}")
    ap.add_argument("--cli")
    ap.add_argument("--count", type=int)
    ap.add_argument("--until")
    ap.add_argument("--min", type=int, default=1)
    ap.add_argument("--pause", type=float, default=0.0)
    ap.add_argument("--max-seconds", type=float, default=600.0)
    a = ap.parse_args()
    if not a.socket or (a.count is None and a.until is None):
        ap.error("need --socket (or AMID_SOCKET) and --count or --until")
    request = (json.dumps({"Version": 1, "Action": a.action, "Parameters": json.loads(a.params)}) + "\n").encode()
    cli = shlex.split(a.cli) if a.cli else None

    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(a.socket)
    buf = b""

    def ask():
        nonlocal buf
        t0 = time.perf_counter()
        sock.sendall(request)
        while b"\n" not in buf:
            chunk = sock.recv(1 << 20)
            if not chunk:
                raise SystemExit("amid closed the connection")
            buf += chunk
        t1 = time.perf_counter()
        line, _, buf = buf.partition(b"\n")
        return t1 - t0, line

    rounds = errors = 0
    last = None
    last_bytes = 0
    start = time.monotonic()
    out = sys.stdout
    while True:
        if a.count is not None and rounds >= a.count:
            break
        if a.until is not None and rounds >= a.min and os.path.exists(a.until):
            break
        if time.monotonic() - start > a.max_seconds:
            print(f"amid_socket: stopped after {a.max_seconds} s", file=sys.stderr)
            break
        dt, line = ask()
        last_bytes = len(line) + 1
        answer = json.loads(line)
        if "Error" in answer:
            errors += 1
            print(f"amid_socket: {a.action}: {answer['Error']}", file=sys.stderr)
        last = answer.get("Response")
        out.write(f"socket\t{dt:.6f}\n")
        if cli:
            t0 = time.perf_counter()
            rc = subprocess.call(cli, stdout=subprocess.DEVNULL)
            dt = time.perf_counter() - t0
            if rc != 0:
                errors += 1
                print(f"amid_socket: {a.cli} exited {rc}", file=sys.stderr)
            out.write(f"cli\t{dt:.6f}\n")
        out.flush()
        rounds += 1
        if a.pause:
            time.sleep(a.pause)
    results = ""
    if isinstance(last, dict):
        for key in ("Images", "Reservations", "Volumes", "Tags"):
            if key in last:
                n = len(last[key])
                if key == "Reservations":
                    n = sum(len(r.get("Instances", [])) for r in last[key])
                    key = "Instances"
                results = f", {n} {key} in the last answer"
    print(f"amid_socket: {a.action}: {rounds} rounds, {errors} errors{results} ({last_bytes} bytes)", file=sys.stderr)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
