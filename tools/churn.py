#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""churn.py - traffic under backend churn, for tests/e2e/40-churn.bats (stdlib only).

Every wait is bounded, every socket has a timeout; times are time.monotonic() (CLOCK_MONOTONIC,
the same clock in every process and network namespace), so the logs of a client in one
namespace and of the churner in another can be compared.

    churn.py traffic HOST PORT --pods IP,... --out F --stop-file F [--clients N]
        N client threads, each looping: a new TCP connection, one HTTP GET, close, until the
        stop file appears. One JSON line a request in --out: start "a", connected "k", end
        "e", client port, "mss" and the answering pod (or the error). Before the loop it
        connects straight to each --pods IP:PORT and learns the TCP MSS each pod advertises
        (the test gives each pod its own 'advmss'): the MSS a ClusterIP connection reads at
        connect time names the backend that accepted it, even when the request then fails.
    churn.py churn VIP:PORT --stable IP:PORT --churned IP:PORT,... --changes N --out F -- CMD...
        applies N random valid changes to the service's backend set through CMD (the svcbpf
        command line): backend add, del, drain, undrain, weight, and 'svc add' replacing the
        set. The stable backend is never removed, drained or set to weight 0, so the service
        always has a backend for new flows. One JSON line a change: before "t0" and after "t1"
        the command, its exit code, the backends it removed and the set it leaves.
    churn.py check --requests F --changes F
        judges a traffic log against a churn log; prints one key=value summary line, then the
        offending requests, and exits 1 if any of these happened:
          unattributed  a failed request whose backend (by MSS) was not removed between its
                        start and its failure, or a connection that could not be opened;
          switched      a request answered by another pod than the one that accepted it;
          stray         a connection accepted by a backend that, from the request's start
                        until connected, never was in the set, active and of weight > 0;
          wrong-client  an answer naming another client address than the request's own.
    churn.py hold HOST PORT --conns N --dir D [--interval S]
        opens N HTTP/1.1 connections (one GET each), writes D/ready, then every --interval does
        one GET on each live connection, tagged with the phase named in D/phase ("pause"
        phases do no round); D/progress holds "<phase> <rounds in it> <rounds in all>",
        written after each round and when a pause phase begins (no request is in flight then).
        Stops when D/stop appears; prints a JSON summary: each connection's client port,
        first pod, the pods that answered it in each phase, and how it ended.
    churn.py udp HOST PORT --sport P [--count N]
        N datagrams from the fixed client port P, one at a time; one line each:
        "reply=<pod>/<ip> from=IP:PORT" or "reply= from= error=timeout".
"""

import argparse
import bisect
import errno
import json
import os
import random
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from podserver import ClosedEarly, http_get  # noqa: E402  (the topology's one HTTP client)


def now():
    return time.monotonic()


def err_kind(e):
    """A short name for a client-side socket error."""
    if isinstance(e, socket.timeout):
        return "timeout"
    if isinstance(e, ConnectionResetError):
        return "reset"
    if isinstance(e, ConnectionRefusedError):
        return "refused"
    if isinstance(e, ClosedEarly):
        return "closed"
    if isinstance(e, OSError) and e.errno:
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__


def parse_answer(body):
    """'pod1 10.244.1.10 client=10.244.0.5:40000' -> (pod, ip, client)."""
    w = body.split()
    client = w[2][len("client="):] if len(w) >= 3 and w[2].startswith("client=") else ""
    return (w[0] if w else "", w[1] if len(w) > 1 else "", client)


def tcp_maxseg(sock):
    return sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)


# ----------------------------------------------------------------------------- traffic

def calibrate(pods, port, timeout):
    """MSS -> pod IP, from one direct connection to each pod."""
    by_mss = {}
    for ip in pods:
        with socket.create_connection((ip, port), timeout=timeout) as s:
            s.settimeout(timeout)
            mss = tcp_maxseg(s)
            pod, pip, _ = parse_answer(http_get(s, ip))
        if pip != ip:
            raise ValueError("calibration: %s:%d answered as %s %s" % (ip, port, pod, pip))
        if mss in by_mss:
            raise ValueError("calibration: %s and %s both advertise MSS %d (give each pod "
                             "its own advmss)" % (by_mss[mss], ip, mss))
        by_mss[mss] = ip
    return by_mss


def one_request(host, port, connect_timeout, timeout):
    rec = {"a": now()}
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(connect_timeout)
    try:
        try:
            s.connect((host, port))
        except OSError as e:
            rec.update(e=now(), err="connect-" + err_kind(e))
            return rec
        rec["k"] = now()
        s.settimeout(timeout)
        rec["sport"] = s.getsockname()[1]
        rec["mss"] = tcp_maxseg(s)
        try:
            pod, ip, client = parse_answer(http_get(s, host))
            rec.update(pod=pod, ip=ip, client=client)
        except OSError as e:
            rec["err"] = err_kind(e)
        rec["e"] = now()
    finally:
        s.close()
    return rec


def cmd_traffic(args):
    pods = [p for p in args.pods.split(",") if p]
    by_mss = calibrate(pods, args.pod_port, args.timeout)
    lock = threading.Lock()
    records = []
    deadline = now() + args.max_seconds
    stop = threading.Event()

    def client(n):
        while not stop.is_set():
            rec = one_request(args.host, args.port, args.connect_timeout, args.timeout)
            rec["c"] = n
            with lock:
                records.append(rec)
            if args.gap:
                time.sleep(args.gap)

    threads = [threading.Thread(target=client, args=(n,), daemon=True)
               for n in range(args.clients)]
    for t in threads:
        t.start()
    while not stop.is_set():
        with lock:
            done = len(records)
        with open(args.progress + ".tmp", "w") as f:
            f.write("%d\n" % done)
        os.replace(args.progress + ".tmp", args.progress)
        if os.path.exists(args.stop_file) or now() > deadline:
            stop.set()
        else:
            time.sleep(0.1)
    for t in threads:
        t.join(timeout=args.connect_timeout + args.timeout + 2)
    with lock:
        recs = list(records)
    with open(args.out, "w") as f:
        f.write(json.dumps({"calibration": {str(k): v for k, v in by_mss.items()},
                            "host": args.host, "port": args.port,
                            "stopped_by": "stop-file" if os.path.exists(args.stop_file)
                            else "max-seconds"}) + "\n")
        for r in recs:
            f.write(json.dumps(r) + "\n")
    failed = sum(1 for r in recs if "err" in r)
    print("requests=%d failed=%d" % (len(recs), failed))
    return 0


# ----------------------------------------------------------------------------- churn

class Churner:
    """The backend set as the churner made it: IP:PORT -> [weight, "active"|"draining"]."""

    def __init__(self, args):
        self.vip = args.service
        self.stable = args.stable
        self.churned = [b for b in args.churned.split(",") if b]
        self.cmd = args.cmd
        self.rng = random.Random(args.seed)
        self.set = {b: [1, "active"] for b in [self.stable] + self.churned}
        self.log = open(args.out, "w")
        self.counts = {}
        self.failed = 0
        self.i = 0

    def record(self, rec):
        self.log.write(json.dumps(rec) + "\n")
        self.log.flush()

    def run(self, op, argv, removed, new_set):
        t0 = now()
        try:
            p = subprocess.run(self.cmd + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               timeout=30)
            rc, out = p.returncode, p.stdout.decode(errors="replace").strip()
        except subprocess.TimeoutExpired:
            rc, out = -1, "timed out after 30 s"
        t1 = now()
        self.i += 1
        if rc == 0:
            self.set = new_set
            self.counts[op] = self.counts.get(op, 0) + 1
        else:
            self.failed += 1
            removed = []
        self.record({"i": self.i, "op": op, "argv": argv, "t0": t0, "t1": t1, "rc": rc,
                     "out": out[-300:], "removed": [b.split(":")[0] for b in removed],
                     "set": self.set})

    def step(self):
        present = [b for b in self.churned if b in self.set]
        absent = [b for b in self.churned if b not in self.set]
        active = [b for b in present if self.set[b][1] == "active"]
        draining = [b for b in present if self.set[b][1] == "draining"]
        choices = [("add", 4, absent), ("del", 4, present), ("drain", 3, active),
                   ("undrain", 3, draining), ("weight", 4, present + [self.stable]),
                   ("replace", 2, [None])]
        choices = [(op, w, c) for op, w, c in choices if c]
        op = self.rng.choices([c[0] for c in choices], [c[1] for c in choices])[0]
        cands = [c for o, _, c in choices if o == op][0]
        be = self.rng.choice(cands)
        new = {b: list(v) for b, v in self.set.items()}
        if op == "add":
            w = self.rng.randint(1, 3)
            new[be] = [w, "active"]
            self.run(op, ["backend", "add", self.vip, "%s,weight=%d" % (be, w)], [], new)
        elif op == "del":
            del new[be]
            self.run(op, ["backend", "del", self.vip, be], [be], new)
        elif op in ("drain", "undrain"):
            new[be][1] = "draining" if op == "drain" else "active"
            self.run(op, ["backend", op, self.vip, be], [], new)
        elif op == "weight":
            w = self.rng.randint(1 if be == self.stable else 0, 3)
            new[be][0] = w
            self.run(op, ["backend", "weight", self.vip, be, str(w)], [], new)
        else:
            # 'svc add' replaces the set: the backends given stay (active again, with the
            # weight given), the others leave.
            keep = [b for b in self.churned if self.rng.random() < 0.6]
            new = {self.stable: [self.rng.randint(1, 3), "active"]}
            for b in keep:
                new[b] = [self.rng.randint(0, 3), "active"]
            argv = ["svc", "add", self.vip]
            for b, (w, _) in new.items():
                argv += ["--backend", "%s,weight=%d" % (b, w)]
            self.run(op, argv, [b for b in present if b not in new], new)


def cmd_churn(args):
    if not args.cmd:
        raise ValueError("churn: the svcbpf command line goes after --")
    c = Churner(args)
    c.record({"i": 0, "op": "initial", "t0": 0.0, "t1": 0.0, "rc": 0, "removed": [],
              "set": c.set})
    deadline = now() + args.max_seconds
    while c.i < args.changes and now() < deadline:
        c.step()
        if args.pause:
            time.sleep(args.pause)
    c.log.close()
    print("changes=%d failed=%d %s" % (c.i, c.failed,
                                       " ".join("%s=%d" % kv for kv in sorted(c.counts.items()))))
    return 0


# ----------------------------------------------------------------------------- check

def takes_new_flows(state):
    """The backend IPs of a set that may get new flows."""
    return {b.split(":")[0] for b, (w, st) in state.items() if st == "active" and w > 0}


def cmd_check(args):
    with open(args.requests) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    head, reqs = lines[0], lines[1:]
    by_mss = {int(k): v for k, v in head["calibration"].items()}
    with open(args.changes) as f:
        changes = [json.loads(line) for line in f if line.strip()]
    applied = [c for c in changes if c["rc"] == 0]
    eligible = [takes_new_flows(c["set"]) for c in applied]
    removals = [c for c in applied if c["removed"]]
    t0s, t1s = [c["t0"] for c in applied], [c["t1"] for c in applied]  # one change at a time

    def allowed(a, k):
        # The sets that may have been in force from a to k: from the last change finished
        # before a to the last one started before k.
        j0 = max(bisect.bisect_right(t1s, a) - 1, 0)
        j1 = max(bisect.bisect_right(t0s, k) - 1, 0)
        out = set()
        for j in range(j0, j1 + 1):
            out |= eligible[j]
        return out

    def removed_during(ip, a, e):
        return [c for c in removals if ip in c["removed"] and c["t0"] <= e and c["t1"] >= a]

    name = {r["ip"]: r["pod"] for r in reqs if "pod" in r}
    name.update({ip: name.get(ip, ip) for ip in by_mss.values()})
    bad = {"unattributed": [], "switched": [], "stray": [], "wrong-client": []}
    fail_by_pod = {}
    answered_by = {}
    for r in reqs:
        acc = by_mss.get(r.get("mss"))
        if "err" in r:
            who = name.get(acc, "unknown")
            fail_by_pod[who] = fail_by_pod.get(who, 0) + 1
            if not acc or not removed_during(acc, r["a"], r["e"]):
                bad["unattributed"].append(r)
            continue
        answered_by[r["pod"]] = answered_by.get(r["pod"], 0) + 1
        if r["ip"] != acc:
            bad["switched"].append(r)
        if r["ip"] not in allowed(r["a"], r["k"]):
            r["allowed"] = sorted(allowed(r["a"], r["k"]))
            bad["stray"].append(r)
        if r["client"].rpartition(":")[2] != str(r["sport"]):
            bad["wrong-client"].append(r)
    failed = sum(fail_by_pod.values())
    kinds = {}
    for r in reqs:
        if "err" in r:
            kinds[r["err"]] = kinds.get(r["err"], 0) + 1
    first, last = applied[1]["t0"] if len(applied) > 1 else 0, applied[-1]["t1"]
    during = sum(1 for r in reqs if first <= r["a"] <= last)
    ops = {}
    for c in applied[1:]:
        ops[c["op"]] = ops.get(c["op"], 0) + 1
    print("requests=%d answered=%d failed=%d attributed=%d unattributed=%d switched=%d "
          "stray=%d wrong_client=%d changes=%d changes_failed=%d removals=%d ops=%s "
          "answered_by=%s failed_by=%s failed_kinds=%s during=%d clients=%d" %
          (len(reqs), len(reqs) - failed, failed, failed - len(bad["unattributed"]),
           len(bad["unattributed"]), len(bad["switched"]), len(bad["stray"]),
           len(bad["wrong-client"]), len(changes) - 1, len(changes) - len(applied),
           len(removals), ",".join("%s:%d" % kv for kv in sorted(ops.items())),
           ",".join("%s:%d" % kv for kv in sorted(answered_by.items())),
           ",".join("%s:%d" % kv for kv in sorted(fail_by_pod.items())),
           ",".join("%s:%d" % kv for kv in sorted(kinds.items())), during,
           len({r.get("c") for r in reqs})))
    for what, rs in bad.items():
        for r in rs[:5]:
            print("%s: %s" % (what, json.dumps(r, sort_keys=True)))
    for c in changes:
        if c["rc"] != 0:
            print("change failed: %s" % json.dumps(c, sort_keys=True))
    return 1 if any(bad.values()) or len(applied) != len(changes) else 0


# ----------------------------------------------------------------------------- hold

def read_phase(d):
    try:
        with open(os.path.join(d, "phase")) as f:
            return f.read().strip() or "start"
    except OSError:
        return "start"


def cmd_hold(args):
    conns = []
    deadline = now() + args.max_seconds
    for _ in range(args.conns):
        s = socket.create_connection((args.host, args.port), timeout=args.timeout)
        s.settimeout(args.timeout)
        pod, _, client = parse_answer(http_get(s, args.host))
        conns.append({"sock": s, "sport": s.getsockname()[1], "first": pod, "client": client,
                      "answers": {}, "end": None})
    with open(os.path.join(args.dir, "ready"), "w") as f:
        f.write(json.dumps([{"sport": c["sport"], "pod": c["first"]} for c in conns]) + "\n")
    rounds, total, acked = {}, 0, None
    last = now() - args.interval

    def progress(phase):
        tmp = os.path.join(args.dir, "progress.tmp")
        with open(tmp, "w") as f:
            f.write("%s %d %d\n" % (phase, rounds.get(phase, 0), total))
        os.replace(tmp, os.path.join(args.dir, "progress"))

    while not os.path.exists(os.path.join(args.dir, "stop")) and now() < deadline:
        phase = read_phase(args.dir)
        if phase.startswith("pause"):
            if acked != phase:  # no request is in flight from here on
                progress(phase)
                acked = phase
            time.sleep(0.02)
            continue
        if now() - last < args.interval:
            time.sleep(0.02)
            continue
        last = now()
        for c in conns:
            if c["end"]:
                continue
            t = now()
            try:
                pod, _, _ = parse_answer(http_get(c["sock"], args.host))
            except OSError as e:
                c["end"] = {"phase": phase, "error": err_kind(e),
                            "after_ms": round((now() - t) * 1000, 1)}
                c["sock"].close()
                continue
            a = c["answers"].setdefault(phase, {})
            a[pod] = a.get(pod, 0) + 1
        rounds[phase] = rounds.get(phase, 0) + 1
        total += 1
        progress(phase)
    for c in conns:
        if not c["end"]:
            c["sock"].close()
    print(json.dumps({"rounds": rounds, "total_rounds": total,
                      "stopped_by": "stop-file" if now() < deadline else "max-seconds",
                      "conns": [{k: v for k, v in c.items() if k != "sock"} for c in conns]}))
    return 0


# ----------------------------------------------------------------------------- udp

def cmd_udp(args):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)  # unconnected: any source is seen
    s.bind(("0.0.0.0", args.sport))
    s.settimeout(args.timeout)
    rc = 0
    for _ in range(args.count):
        s.sendto(b"hello", (args.host, args.port))
        try:
            data, src = s.recvfrom(2048)
        except socket.timeout:
            print("reply= from= error=timeout", flush=True)
            rc = 1
            continue
        print("reply=%s from=%s:%d" % (data.decode(errors="replace").strip().replace(" ", "/"),
                                       src[0], src[1]), flush=True)
    s.close()
    return rc


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd_name", required=True)

    tp = sub.add_parser("traffic")
    tp.add_argument("host")
    tp.add_argument("port", type=int)
    tp.add_argument("--pods", required=True, help="pod IPs to learn the MSS of, a,b,c")
    tp.add_argument("--pod-port", type=int, default=8080)
    tp.add_argument("--clients", type=int, default=4)
    tp.add_argument("--gap", type=float, default=0.0, help="seconds between a client's requests")
    tp.add_argument("--out", required=True)
    tp.add_argument("--progress", required=True)
    tp.add_argument("--stop-file", required=True)
    tp.add_argument("--max-seconds", type=float, default=120.0)
    tp.add_argument("--connect-timeout", type=float, default=8.0)
    tp.add_argument("--timeout", type=float, default=3.0, help="for the answer, once connected")
    tp.set_defaults(func=cmd_traffic)

    cp = sub.add_parser("churn")
    cp.add_argument("service")
    cp.add_argument("--stable", required=True)
    cp.add_argument("--churned", required=True)
    cp.add_argument("--changes", type=int, default=300)
    cp.add_argument("--seed", type=int, default=1)
    cp.add_argument("--pause", type=float, default=0.0)
    cp.add_argument("--max-seconds", type=float, default=120.0)
    cp.add_argument("--out", required=True)
    cp.set_defaults(func=cmd_churn)

    kp = sub.add_parser("check")
    kp.add_argument("--requests", required=True)
    kp.add_argument("--changes", required=True)
    kp.set_defaults(func=cmd_check)

    hp = sub.add_parser("hold")
    hp.add_argument("host")
    hp.add_argument("port", type=int)
    hp.add_argument("--conns", type=int, default=30)
    hp.add_argument("--interval", type=float, default=0.5)
    hp.add_argument("--dir", required=True)
    hp.add_argument("--max-seconds", type=float, default=60.0)
    hp.add_argument("--timeout", type=float, default=2.0)
    hp.set_defaults(func=cmd_hold)

    up = sub.add_parser("udp")
    up.add_argument("host")
    up.add_argument("port", type=int)
    up.add_argument("--sport", type=int, required=True)
    up.add_argument("--count", type=int, default=1)
    up.add_argument("--timeout", type=float, default=2.0)
    up.set_defaults(func=cmd_udp)

    rest = []
    if "--" in argv:  # churn's svcbpf command line
        rest = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    args = p.parse_args(argv)
    args.cmd = rest
    try:
        return args.func(args)
    except (OSError, ValueError) as e:
        print("error=%s" % str(e).replace(" ", "_"))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
