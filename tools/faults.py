#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""faults.py - fault injection for tests/e2e/60-faults.bats (stdlib only).

Runs in the node namespace (the caller uses nsenter); the svcbpf command line comes after
"--" (the binary with its --pin-dir and --state-dir). Every wait is bounded.

    faults.py kill --manifests DIR --sentinel VIP:PORT --out F [--iterations N] -- CMD...
        SIGKILL at random points: each iteration picks a change (svc add with several
        backends, backend add, backend del, svc del, apply -f of a manifest of several
        Services and Pods, delete -f), learns the state it must leave by running it on a copy
        of the store with no maps (the "new" state; ids are deterministic, so exact), runs it
        for real and SIGKILLs it after a random delay (0 to 1.5 times the median time of a
        command, measured first; every other delay in the later part, where the commit and
        the map writes are), then checks that the store is exactly the old or the new
        state. It records whether the maps lag the store, runs the next command (in turn: an
        ordinary change of another service, a refused change, 'svcbpf sync') and checks that
        the maps then agree exactly with the store. Goes on past N (up to 2 N) until
        --min-behind kills left the maps behind. Prints a JSON summary; exits 1 on any
        violation.
    faults.py worker --id P --ops N --out F [--seed S] -- CMD...
        one of the concurrent changers: N mixed changes (svc add, svc del, backend add,
        backend del) of its own service and of its own backends of the shared service, one
        JSON line each: the change, the exit code it must have (from its own history, which
        no other process can change: see below), the exit code it had, start and end times.
    faults.py conc-check --logs F... -- CMD...
        replays the workers' logs into the state they imply, compares it with the store and
        the maps; prints a JSON summary (ops, ops/s, latencies); exits 1 on any difference.
    faults.py maps-check -- CMD...
        the maps against the store (as kill does after each repair); prints the differences.

The store is read straight from SQLite, read-only and while no svcbpf runs: every table and
row, more than any CLI view shows. The maps are read with bpftool from the pins.
"""

import argparse
import json
import os
import random
import shutil
import socket
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import time

BPFTOOL = shutil.which("bpftool") or "/usr/sbin/bpftool"
CMD_TIMEOUT = 60
MARKER = "maps-behind"  # user/change.c: a change committed, its map writes not done

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from churn import now  # noqa: E402  (one monotonic clock for the tools)


def ip_u32(s):
    return struct.unpack("!I", socket.inet_aton(s))[0]


def u32_ip(v):
    return socket.inet_ntoa(struct.pack("!I", v))


# ----------------------------------------------------------------------------- store

def store_dump(state_dir):
    """Every table of the store, rows sorted; the creation time of objects left out (a
    replay on a copy runs at another second)."""
    path = os.path.join(state_dir, "svcbpf.db")
    if not os.path.exists(path):
        return {}
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
    try:
        out = {}
        tables = [r[0] for r in db.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")]
        for t in tables:
            cur = db.execute('SELECT * FROM "%s"' % t)
            cols = [d[0] for d in cur.description]
            rows = [[None if c == "created" else v for c, v in zip(cols, r)] for r in cur]
            out[t] = sorted((json.dumps(r) for r in rows))
        return out
    finally:
        db.close()


def store_model(state_dir):
    """Services and backends as the maps must hold them."""
    path = os.path.join(state_dir, "svcbpf.db")
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=5)
    try:
        svcs = {r[0]: {"id": r[0], "vip": r[1], "port": r[2], "proto": r[3], "affinity": r[4],
                       "be": {}}
                for r in db.execute("SELECT id, vip, port, proto, affinity FROM service")}
        for bid, sid, ip, port, w, st in db.execute(
                "SELECT id, service_id, ip, port, weight, state FROM backend"):
            svcs[sid]["be"][bid] = (ip, port, w, st)
        return svcs
    finally:
        db.close()


def copy_store(src, dst):
    os.makedirs(dst, mode=0o700, exist_ok=True)
    for f in os.listdir(dst):
        os.unlink(os.path.join(dst, f))
    for f in os.listdir(src):
        if f.startswith("svcbpf.db"):
            shutil.copy2(os.path.join(src, f), os.path.join(dst, f))


# ----------------------------------------------------------------------------- maps

def bpftool_dump(*what):
    p = subprocess.run([BPFTOOL, "-j", "map", "dump"] + list(what), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if p.returncode:
        raise RuntimeError("bpftool map dump %s: %s" % (" ".join(what),
                                                         p.stderr.decode().strip()))
    return json.loads(p.stdout or b"[]")


def raw(entry, field):
    return bytes(int(x, 16) for x in entry[field])


def maps_read(pin_dir):
    """The service, backend and Maglev maps, decoded (include/svcbpf.h layouts)."""
    svc = {}
    for e in bpftool_dump("pinned", os.path.join(pin_dir, "svcbpf_svc_v2")):
        k, v = raw(e, "key"), raw(e, "value")
        vip, port, proto = struct.unpack("!IHB", k[:7])
        sid, flags, _, aff = struct.unpack("<IHHI", v[:12])
        svc[(vip, port, proto)] = (sid, aff if flags & 1 else 0)
    be = {}
    for e in bpftool_dump("pinned", os.path.join(pin_dir, "svcbpf_be_v1")):
        k, v = raw(e, "key"), raw(e, "value")
        ip, port = struct.unpack("!IH", v[:6])
        w, st = struct.unpack("<HB", v[6:9])
        be[struct.unpack("<I", k)[0]] = (ip, port, w, st)
    tables = {}
    for e in bpftool_dump("pinned", os.path.join(pin_dir, "svcbpf_mag_v1")):
        sid = struct.unpack("<I", raw(e, "key"))[0]
        inner = struct.unpack("<I", raw(e, "value"))[0]
        t = bpftool_dump("id", str(inner))
        v = raw(t[0], "value")
        tables[sid] = list(struct.unpack("<%dI" % (len(v) // 4), v))
    return svc, be, tables


def maps_diff(state_dir, pin_dir):
    """How the maps differ from the store: [] when they agree exactly. The service map holds
    every service (its id and affinity), the backend map every backend (address, weight,
    state) and nothing else; a service has a Maglev table exactly when one of its backends
    takes new flows, every slot filled, and the slots name exactly those backends."""
    want = store_model(state_dir)
    svc, be, tables = maps_read(pin_dir)
    diff = []
    want_svc = {(s["vip"], s["port"], s["proto"]): (s["id"], s["affinity"])
                for s in want.values()}
    for k in sorted(set(want_svc) | set(svc)):
        if want_svc.get(k) != svc.get(k):
            diff.append("service %s:%d/%d: store %s, map %s" % (u32_ip(k[0]), k[1], k[2],
                                                               want_svc.get(k), svc.get(k)))
    want_be = {b: v for s in want.values() for b, v in s["be"].items()}
    for b in sorted(set(want_be) | set(be)):
        if want_be.get(b) != be.get(b):
            diff.append("backend %d: store %s, map %s" % (b, want_be.get(b), be.get(b)))
    for s in want.values():
        takers = {b for b, (_, _, w, st) in s["be"].items() if w > 0 and st == 0}
        t = tables.pop(s["id"], None)
        if not takers:
            if t is not None:
                diff.append("service id %d: a table, but no backend takes new flows" % s["id"])
        elif t is None:
            diff.append("service id %d: no table, backends %s take new flows" %
                        (s["id"], sorted(takers)))
        elif set(t) != takers:
            diff.append("service id %d: table names %s, its backends taking flows are %s" %
                        (s["id"], sorted(set(t)), sorted(takers)))
    for sid in tables:
        diff.append("table of service id %d, which the store does not have" % sid)
    return diff


# ----------------------------------------------------------------------------- svcbpf

def run(cmd, argv, timeout=CMD_TIMEOUT):
    t0 = now()
    p = subprocess.run(cmd + argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       timeout=timeout)
    return p.returncode, p.stdout.decode(errors="replace").strip(), now() - t0


def with_dirs(cmd, pin_dir, state_dir):
    """CMD with its --pin-dir and --state-dir replaced."""
    out, i = [], 0
    while i < len(cmd):
        if cmd[i] in ("--pin-dir", "--state-dir"):
            i += 2
            continue
        out.append(cmd[i])
        i += 1
    return out[:1] + ["--pin-dir", pin_dir, "--state-dir", state_dir] + out[1:]


def dir_of(cmd, opt):
    return cmd[cmd.index(opt) + 1]


def programmed(cmd):
    """The services 'svc list' does not show as programmed."""
    rc, out, _ = run(cmd, ["svc", "list", "-o", "json"])
    if rc:
        return ["svc list: exit %d: %s" % (rc, out)]
    return ["%s:%d/%s is %s" % (s["address"], s["port"], s["protocol"], s["state"])
            for s in json.loads(out)["services"] if s["state"] != "programmed"]


# ----------------------------------------------------------------------------- kill

KILL_VIPS = ["10.96.4.%d" % n for n in range(1, 5)]
# Three real pods and five addresses that serve nothing (the store and maps do not care).
KILL_POOL = ["10.244.1.10:8080", "10.244.2.15:8080", "10.244.3.20:8080"] + \
    ["10.247.0.%d:8080" % n for n in range(1, 6)]


def kill_op(rng, manifests, model):
    """A change, as argv; backends to add or delete mostly chosen so that it is not refused."""
    vip = rng.choice(KILL_VIPS) + ":80"
    have = set()
    for s in model.values():
        if "%s:%d" % (u32_ip(s["vip"]), s["port"]) == vip:
            have = {"%s:%d" % (u32_ip(ip), port) for ip, port, _, _ in s["be"].values()}
    kind = rng.choices(["svc-add", "backend-add", "backend-del", "svc-del", "apply", "delete"],
                       [30, 15, 15, 10, 22, 8])[0]
    if kind == "svc-add":
        argv = ["svc", "add", vip]
        for b in rng.sample(KILL_POOL, rng.randint(2, 6)):
            argv += ["--backend", "%s,weight=%d" % (b, rng.randint(1, 3))]
        if rng.random() < 0.3:
            argv += ["--affinity", "client-ip"]
        return kind, argv
    if kind in ("backend-add", "backend-del"):
        fit = [b for b in KILL_POOL if (b in have) == (kind == "backend-del")]
        be = rng.choice(fit if fit and rng.random() < 0.8 else KILL_POOL)
        return kind, ["backend", kind.split("-")[1], vip, be]
    if kind == "svc-del":
        return kind, ["svc", "del", vip]
    if kind == "apply":
        return kind, ["apply", "-f", os.path.join(manifests, rng.choice(["a.yaml", "b.yaml"]))]
    return kind, ["delete", "-f", os.path.join(manifests, "a.yaml")]


REPAIRS = ["change", "refused", "sync"]


def repair_argv(i, sentinel):
    kind = REPAIRS[i % len(REPAIRS)]
    if kind == "change":  # an ordinary change of a service the killed one did not touch
        return kind, ["backend", "weight", sentinel, "10.244.1.10:8080", str(1 + i % 2)]
    if kind == "refused":  # a change the store refuses: it must repair the maps all the same
        return kind, ["svc", "del", "10.96.9.9:80"]
    return kind, ["sync"]


def cmd_kill(args):
    cmd = args.cmd
    state, pin = dir_of(cmd, "--state-dir"), dir_of(cmd, "--pin-dir")
    rng = random.Random(args.seed)
    work = tempfile.mkdtemp(prefix="faults-kill.", dir=args.tmp)
    shadow = os.path.join(work, "state")
    shadow_cmd = with_dirs(cmd, os.path.join(work, "no-pins"), shadow)
    log = open(args.out + ".log", "w")
    # How long a change takes here, un-killed: the kill delays span 1.5 times that.
    times = []
    for i in range(10):
        rc, out, t = run(cmd, ["svc", "add", KILL_VIPS[0] + ":80", "--backend",
                               KILL_POOL[i % 3], "--backend", KILL_POOL[3 + i % 5]])
        if rc:
            raise RuntimeError("calibration svc add: %s" % out)
        times.append(t)
    median_ms = statistics.median(times) * 1000
    max_delay = 1.5 * median_ms
    sentinel = args.sentinel
    landed = {}
    kinds = {}
    repairs = {}
    bad = []
    behind_seen = marker_seen = 0
    deadline = now() + args.max_seconds
    it = 0
    # Past --iterations while fewer than --min-behind kills left the maps behind the store
    # (the narrow window between the commit and the map writes), up to twice as many.
    while (it < args.iterations or (behind_seen < args.min_behind and
                                    it < 2 * args.iterations)) and now() < deadline:
        it += 1
        kind, argv = kill_op(rng, args.manifests, store_model(state))
        old = store_dump(state)
        copy_store(state, shadow)
        rc_new, out_new, _ = run(shadow_cmd, argv)
        new = store_dump(shadow)
        # Half the delays anywhere in the command's life, half in its second half, where
        # the commit and the map writes are (process start-up and the store open come first).
        lo = 0 if it % 2 else 0.45 * median_ms
        delay = rng.uniform(lo, max_delay) / 1000
        t0 = now()
        p = subprocess.Popen(cmd + argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        p.kill()
        try:
            rc = p.wait(timeout=CMD_TIMEOUT)
        except subprocess.TimeoutExpired:
            bad.append("iteration %d: %s did not end after SIGKILL" % (it, argv))
            break
        ran_ms = (now() - t0) * 1000
        after = store_dump(state)
        if rc == -9:
            if old == new:
                where = "killed, no store change (refused or same state)"
            elif after == old:
                where = "killed before the commit (old state)"
            elif after == new:
                where = "killed after the commit (new state)"
            else:
                where = "MIX"
        else:
            where = "finished (exit %d)" % rc
            if rc != rc_new:
                bad.append("iteration %d: %s exit %d, on the copy of the store %d (%s)" %
                           (it, argv, rc, rc_new, out_new))
        if after != old and after != new:
            where = "MIX"
            delta = {t: (sorted(set(after.get(t, [])) - set(old.get(t, []))),
                         sorted(set(after.get(t, [])) - set(new.get(t, []))))
                     for t in set(after) | set(old) | set(new)
                     if after.get(t) not in (old.get(t), new.get(t))}
            bad.append("iteration %d: %s killed after %.1f ms: the store is neither the old "
                       "nor the new state: %s" % (it, argv, ran_ms, json.dumps(delta)[:600]))
        if rc != -9 and after != new:
            bad.append("iteration %d: %s exited %d but the store is not the new state" %
                       (it, argv, rc))
        marker = os.path.exists(os.path.join(state, MARKER))
        behind = maps_diff(state, pin)
        if behind:
            behind_seen += 1
            where += ", maps behind"
        marker_seen += marker
        if behind and not marker:
            bad.append("iteration %d: maps lag the store but no marker says so: %s" %
                       (it, behind[:3]))
        landed[where] = landed.get(where, 0) + 1
        kinds[kind] = kinds.get(kind, 0) + 1
        # The next command brings the maps back in line with the store.
        rkind, rargv = repair_argv(it, sentinel)
        rrc, rout, _ = run(cmd, rargv)
        want_rc = 1 if rkind == "refused" else 0
        if rrc != want_rc:
            bad.append("iteration %d: repair '%s': exit %d, expected %d: %s" %
                       (it, " ".join(rargv), rrc, want_rc, rout))
        diff = maps_diff(state, pin) + programmed(cmd)
        if diff:
            bad.append("iteration %d: after '%s' (maps %s before it), the maps differ from "
                       "the store: %s" % (it, " ".join(rargv),
                                          "behind" if behind else "in line", diff[:5]))
        if rkind != "sync" and os.path.exists(os.path.join(state, MARKER)):
            bad.append("iteration %d: marker left after '%s'" % (it, " ".join(rargv)))
        if behind:
            repairs[rkind] = repairs.get(rkind, 0) + 1
        log.write(json.dumps({"i": it, "kind": kind, "argv": argv, "delay_ms": delay * 1000,
                              "ran_ms": ran_ms, "rc": rc, "rc_copy": rc_new, "where": where,
                              "behind": behind[:3], "marker": marker, "repair": rkind,
                              "repair_rc": rrc}) + "\n")
        log.flush()
        if len(bad) >= 5:
            break
    shutil.rmtree(work, ignore_errors=True)
    summary = {"iterations": it, "median_ms": round(median_ms, 1),
               "max_delay_ms": round(max_delay, 1), "kinds": kinds, "landed": landed,
               "maps_behind": behind_seen, "marker_seen": marker_seen,
               "repaired_by": repairs, "violations": bad}
    with open(args.out, "w") as f:
        f.write(json.dumps(summary) + "\n")
    print(json.dumps(summary))
    return 1 if bad else 0


# ----------------------------------------------------------------------------- concurrency

# Each worker P owns service 10.96.1.(P+1):80 and its backends 10.246.P.K:8080, and owns the
# backends 10.245.P.K:8080 of the shared service 10.96.2.1:80 (created before the workers
# start; no worker adds or deletes it, and none restates its set with 'svc add'). No other
# worker touches what a worker owns, and a change touches one owner's things only, so every
# change's outcome (its exit code) and the final state are the same in every order the lock
# may give the workers' changes: the final state is each worker's own history applied in its
# own order. A lost update, a change applied twice, or one refused by a lock timeout shows as
# a wrong exit code or a difference in the final store and maps.
SHARED = "10.96.2.1:80"
POOL_SIZE = 6


def own_vip(p):
    return "10.96.1.%d:80" % (p + 1)


def own_pool(p):
    return ["10.246.%d.%d:8080" % (p, k) for k in range(1, POOL_SIZE + 1)]


def shared_pool(p):
    return ["10.245.%d.%d:8080" % (p, k) for k in range(1, POOL_SIZE + 1)]


def apply_op(st, op):
    """Apply op to st ({vip: {backend: weight}}); return the exit code it must have."""
    kind, svc = op["kind"], op["svc"]
    if kind == "svc-add":
        st[svc] = dict(op["set"])
        return 0
    if kind == "svc-del":
        return 0 if st.pop(svc, None) is not None else 1
    if svc not in st:
        return 1
    if kind == "backend-add":
        if op["be"] in st[svc]:
            return 1
        st[svc][op["be"]] = op["weight"]
        return 0
    if op["be"] not in st[svc]:
        return 1
    del st[svc][op["be"]]
    return 0


def worker_op(rng, p, st):
    own = own_vip(p)
    kind = rng.choices(["svc-add", "svc-del", "backend-add", "backend-del", "shared-add",
                        "shared-del"], [15, 7, 22, 16, 22, 18])[0]
    if kind == "svc-add":
        s = {b: rng.randint(1, 3) for b in rng.sample(own_pool(p), rng.randint(1, 4))}
        argv = ["svc", "add", own]
        for b, w in s.items():
            argv += ["--backend", "%s,weight=%d" % (b, w)]
        return {"kind": kind, "svc": own, "set": s, "argv": argv}
    if kind == "svc-del":
        return {"kind": kind, "svc": own, "argv": ["svc", "del", own]}
    svc, pool = (own, own_pool(p)) if kind.startswith("backend") else (SHARED, shared_pool(p))
    verb = kind.split("-")[1]
    # Mostly a valid change; now and then one the store must refuse.
    have = [b for b in pool if b in st.get(svc, {})]
    lack = [b for b in pool if b not in st.get(svc, {})]
    want = lack if verb == "add" else have
    be = rng.choice(want if want and rng.random() < 0.9 else pool)
    w = rng.randint(1, 3)
    argv = ["backend", verb, svc, "%s,weight=%d" % (be, w) if verb == "add" else be]
    return {"kind": "backend-" + verb, "svc": svc, "be": be, "weight": w, "argv": argv}


def cmd_worker(args):
    rng = random.Random(args.seed * 1000 + args.id)
    st = {SHARED: {}}
    deadline = now() + args.max_seconds
    with open(args.out, "w") as log:
        for i in range(args.ops):
            if now() > deadline:
                break
            op = worker_op(rng, args.id, st)
            expect = apply_op(st, op)
            t0 = time.time()
            try:
                rc, out, _ = run(args.cmd, op["argv"])
            except subprocess.TimeoutExpired:
                rc, out = -1, "timed out after %d s" % CMD_TIMEOUT
            op.update(p=args.id, i=i, expect=expect, rc=rc, t0=t0, t1=time.time(),
                      out=out[-200:] if rc != expect else "")
            log.write(json.dumps(op) + "\n")
            log.flush()
    return 0


def cmd_conc_check(args):
    cmd = args.cmd
    state, pin = dir_of(cmd, "--state-dir"), dir_of(cmd, "--pin-dir")
    ops = []
    for f in args.logs:
        with open(f) as fh:
            ops += [json.loads(line) for line in fh if line.strip()]
    # Replay each worker's history in its order, independently of the workers' own model.
    st = {SHARED: {}}
    wrong = []
    by_p = {}
    for op in sorted(ops, key=lambda o: (o["p"], o["i"])):
        by_p.setdefault(op["p"], []).append(op)
    for p, seq in by_p.items():
        mine = {SHARED: {}}
        for op in seq:
            want = apply_op(mine, op)
            if op["rc"] != want:
                wrong.append(op)
        for svc, bes in mine.items():
            if svc == SHARED:
                st[SHARED].update(bes)
            else:
                st[svc] = bes
    # The store, through the CLI: services, backends, weights, states.
    rc, out, _ = run(cmd, ["svc", "list", "-o", "json"])
    got = {}
    for s in json.loads(out)["services"]:
        got["%s:%d" % (s["address"], s["port"])] = {
            "%s:%d" % (b["address"], b["port"]): b["weight"] for b in s["backends"]
            if b["state"] == "active"}
    store_diff = []
    for svc in sorted(set(st) | set(got)):
        if st.get(svc) != got.get(svc):
            store_diff.append("%s: expected %s, store %s" % (svc, st.get(svc), got.get(svc)))
    diff = maps_diff(state, pin) + programmed(cmd)
    lat = sorted(o["t1"] - o["t0"] for o in ops)
    t_first, t_last = min(o["t0"] for o in ops), max(o["t1"] for o in ops)
    summary = {
        "workers": len(by_p), "ops": len(ops), "ok": sum(o["rc"] == 0 for o in ops),
        "refused_as_expected": sum(o["rc"] == 1 and o["expect"] == 1 for o in ops),
        "wrong_exit": len(wrong), "wrong_examples": wrong[:3],
        "seconds": round(t_last - t_first, 1),
        "ops_per_s": round(len(ops) / (t_last - t_first), 1),
        "latency_ms": {"median": round(lat[len(lat) // 2] * 1000, 1),
                       "p99": round(lat[int(len(lat) * 0.99)] * 1000, 1),
                       "max": round(lat[-1] * 1000, 1)},
        "services": len(got), "shared_backends": len(st[SHARED]),
        "store_diff": store_diff[:5], "maps_diff": diff[:5]}
    print(json.dumps(summary))
    return 1 if wrong or store_diff or diff else 0


def cmd_maps_check(args):
    diff = maps_diff(dir_of(args.cmd, "--state-dir"), dir_of(args.cmd, "--pin-dir"))
    diff += programmed(args.cmd)
    for d in diff:
        print(d)
    return 1 if diff else 0


def main(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd_name", required=True)
    kp = sub.add_parser("kill")
    kp.add_argument("--manifests", required=True)
    kp.add_argument("--sentinel", required=True, help="a service the kills never touch")
    kp.add_argument("--iterations", type=int, default=100)
    kp.add_argument("--max-seconds", type=float, default=90)
    kp.add_argument("--min-behind", type=int, default=3)
    kp.add_argument("--seed", type=int, default=1)
    kp.add_argument("--tmp", default=None)
    kp.add_argument("--out", required=True)
    kp.set_defaults(func=cmd_kill)
    wp = sub.add_parser("worker")
    wp.add_argument("--id", type=int, required=True)
    wp.add_argument("--ops", type=int, default=500)
    wp.add_argument("--seed", type=int, default=1)
    wp.add_argument("--max-seconds", type=float, default=220)
    wp.add_argument("--out", required=True)
    wp.set_defaults(func=cmd_worker)
    cp = sub.add_parser("conc-check")
    cp.add_argument("--logs", nargs="+", required=True)
    cp.set_defaults(func=cmd_conc_check)
    mp = sub.add_parser("maps-check")
    mp.set_defaults(func=cmd_maps_check)
    rest = []
    if "--" in argv:
        rest = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    args = p.parse_args(argv)
    args.cmd = rest
    if not rest:
        p.error("the svcbpf command line goes after --")
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
