#!/usr/bin/env python3
"""Holds connections to amid open without sending a request, for bench/scale.sh.

  hold_connections.py SOCKET COUNT READY_FILE RELEASE_FILE

Opens COUNT connections to amid's socket, then checks on one more that amid
answers a request (amid admits connections in the order they come, so all COUNT
are in by then; a refusal ends this with an error), creates READY_FILE, and
holds everything open until RELEASE_FILE exists.
"""
import os
import socket
import sys
import time


def main():
    path, count, ready, release = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
    held = []
    for _ in range(count):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(path)
        held.append(s)
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.connect(path)
    probe.sendall(b'{"Version":1,"Action":"DescribeImages","Parameters":{}}\n')
    answer = probe.makefile().readline()
    if not answer or '"Error"' in answer:
        sys.exit("hold_connections.py: amid did not admit them all: " + answer.strip())
    open(ready, "w").close()
    while not os.path.exists(release):
        time.sleep(0.05)


if __name__ == "__main__":
    main()
