#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""conns.py - many TCP connections from one client, all held open at once, then one HTTP
request on each (the e2e masquerade test: tests/e2e/90-external.bats).

    conns.py HOST PORT [--count 1000] [--parallel 16] [--rate R] [--deadline 60]
                       [--answers FILE]
    conns.py HOST PORT --serial [--count N] [--timeout 2]

Phase 1 opens COUNT connections to HOST:PORT (at most PARALLEL handshakes in flight at a
time, at most R new ones a second) and keeps every one open. A server with a short listen
backlog (podserver.py has socketserver's 5) drops the SYNs of a burst it has not accepted
yet, and each costs a 1 s retransmit: --rate paces the burst. Phase 2 starts only once phase 1 is over: each open
connection sends "GET / HTTP/1.1" and reads its answer (tools/podserver.py's port 8080:
"<pod> <ip> client=<peer ip>:<peer port>"). Everything is closed at the end.

Prints one line of key=value pairs:

    opened=1000 answered=1000 errors=0 peers=1000 connect_max_ms=12 open_s=0.91 ask_s=0.40
    pods=pod3:1000 error_kinds=

opened: connections established in phase 1; answered: answers read in phase 2; errors:
connections that failed in either phase (error_kinds: exception name:count); peers: distinct
client addresses (ip:port) the servers reported; connect_max_ms: the slowest handshake (over
1000 ms means a SYN was retransmitted). With --answers, each answer is written to FILE, one a
line. Exit 0 when every connection was answered, 1 otherwise. The whole run is bounded by
--deadline seconds.

--serial instead makes COUNT connections one after the other, each opened, asked once and
closed within --timeout seconds (what a loop of curls does, without a process each), and
prints each answer, or "FAIL <error> <text>" for a connection that got none; it stops after
3 failures.
"""

import argparse
import asyncio
import collections
import sys
import time


async def _open(host, port, sem, deadline, stats, start_at):
    await asyncio.sleep(max(0.0, start_at - time.monotonic()))
    async with sem:
        t0 = time.monotonic()
        r, w = await asyncio.wait_for(asyncio.open_connection(host, port),
                                      timeout=max(0.1, deadline - t0))
        stats["connect_max"] = max(stats["connect_max"], time.monotonic() - t0)
        return r, w


async def _ask(host, r, w):
    w.write(("GET / HTTP/1.1\r\nHost: %s\r\n\r\n" % host).encode())
    await w.drain()
    head = await r.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        k, _, v = line.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v)
    body = await r.readexactly(length)
    return body.decode(errors="replace").strip()


async def run(args):
    start = time.monotonic()
    deadline = start + args.deadline
    sem = asyncio.Semaphore(args.parallel)
    stats = {"connect_max": 0.0}
    kinds = collections.Counter()

    gap = 1.0 / args.rate if args.rate > 0 else 0.0
    opened = await asyncio.gather(*[_open(args.host, args.port, sem, deadline, stats,
                                          start + i * gap)
                                    for i in range(args.count)], return_exceptions=True)
    conns = []
    for o in opened:
        if isinstance(o, BaseException):
            kinds[type(o).__name__] += 1
        else:
            conns.append(o)
    t_open = time.monotonic()

    async def ask(rw):
        return await asyncio.wait_for(_ask(args.host, *rw),
                                      timeout=max(0.1, deadline - time.monotonic()))

    answers = await asyncio.gather(*[ask(c) for c in conns], return_exceptions=True)
    t_ask = time.monotonic()
    for _r, w in conns:
        w.close()
    for _r, w in conns:
        try:
            await asyncio.wait_for(w.wait_closed(), timeout=1)
        except (OSError, asyncio.TimeoutError):
            pass

    good = []
    for a in answers:
        if isinstance(a, BaseException):
            kinds[type(a).__name__] += 1
        else:
            good.append(a)
    peers = set()
    pods = collections.Counter()
    for a in good:
        words = a.split()
        pods[words[0] if words else "?"] += 1
        for word in words:
            if word.startswith("client="):
                peers.add(word[len("client="):])
    if args.answers:
        with open(args.answers, "w") as f:
            for a in good:
                f.write(a + "\n")
    print("opened=%d answered=%d errors=%d peers=%d connect_max_ms=%d open_s=%.2f ask_s=%.2f "
          "pods=%s error_kinds=%s" %
          (len(conns), len(good), sum(kinds.values()), len(peers),
           stats["connect_max"] * 1000, t_open - start, t_ask - t_open,
           ",".join("%s:%d" % kv for kv in sorted(pods.items())),
           ",".join("%s:%d" % kv for kv in sorted(kinds.items()))))
    return 0 if len(good) == args.count else 1


def run_serial(args):
    """--serial: one connection at a time (open, one GET, close), as many curls would do."""
    import socket
    fails = 0
    for _ in range(args.count):
        try:
            with socket.create_connection((args.host, args.port), timeout=args.timeout) as s:
                s.settimeout(args.timeout)
                s.sendall(("GET / HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" %
                           args.host).encode())
                buf = b""
                while True:
                    chunk = s.recv(4096)
                    if not chunk:
                        break
                    buf += chunk
            head, sep, body = buf.partition(b"\r\n\r\n")
            if not sep or not head.startswith(b"HTTP/1.1 200"):
                raise ValueError("no complete answer (%d bytes)" % len(buf))
            print(body.decode(errors="replace").strip(), flush=True)
        except (OSError, ValueError) as e:
            print("FAIL %s %s" % (type(e).__name__, str(e).replace("\n", " ")), flush=True)
            fails += 1
            if fails >= 3:
                break
    return 0 if fails == 0 else 1


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("host")
    p.add_argument("port", type=int)
    p.add_argument("--count", type=int, default=1000)
    p.add_argument("--parallel", type=int, default=16, help="handshakes in flight at a time")
    p.add_argument("--rate", type=float, default=0.0,
                   help="new connections a second at most (0: as fast as handshakes go)")
    p.add_argument("--deadline", type=float, default=60.0, help="seconds for the whole run")
    p.add_argument("--answers", help="write each answer to this file, one a line")
    p.add_argument("--serial", action="store_true",
                   help="one connection at a time instead; print each answer, or FAIL")
    p.add_argument("--timeout", type=float, default=2.0,
                   help="--serial: seconds each connection may take")
    args = p.parse_args(argv)
    if args.count < 1 or args.parallel < 1:
        p.error("--count and --parallel must be at least 1")
    if args.serial:
        return run_serial(args)
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
