#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""pressure.py - conntrack pressure and SYN floods, for tests/e2e/70-pressure.bats (stdlib).

Every wait is bounded, every socket has a timeout; times are time.monotonic().

    pressure.py hold HOST PORT --conns K --dir D [--rounds R] [--interval S]
                [--idle-conns I --idle-skip PREFIX,...] [--snmp-ns NS,...]
                [--udp-host H --udp-port P --udp-flows U --udp-sport-base B]
                [--ct-map PIN] [-- SVCBPF_CMD...]
        opens K (+ I) HTTP/1.1 connections to HOST:PORT (one GET each: the pod that answers is
        the connection's "first" pod), and U unconnected UDP sockets bound to the client
        ports B..B+U-1 (one datagram each to H:P, H defaults to HOST). Writes D/ready (a JSON
        list of the TCP client ports, their first pods and groups), then does rounds: a GET
        on every live connection and a datagram from every UDP socket, one at a time; a
        failed flow is not asked again. A round starts at most every
        --interval seconds, until R rounds, D/stop or --max-seconds. Each round is tagged
        with the phase named in D/phase; D/progress holds "<phase> <rounds in it> <rounds>".
        The I idle connections are asked only in rounds whose phase does not start with one
        of the --idle-skip prefixes. Before each round (and once after the last) a
        probe reads the pinned conntrack map --ct-map (bpf(2) BPF_MAP_LOOKUP_BATCH: entries
        by direction, and for each held flow whether its client-side (FWD) and reply-side
        (REV) entries are there) and the counters ('SVCBPF_CMD status -o json'), so a round's
        figures say what survived since the last round and what the round re-created. The
        snmp counters (/proc/net/snmp, netstat) of the client's namespace and of the
        --snmp-ns ones are read after opening, after the last round and after closing; the
        connections are closed one at a time, each waiting for the server's FIN.
        Prints a JSON summary: rounds (phase, start, duration, answers by kind, probe), each
        connection's group, first pod, the pods that answered it and how it ended (error
        kind, round), the UDP flows likewise, how the closes went, and the snmp deltas.
    pressure.py fill HOST PORT --flows F --ct-map PIN [--step S]
        one datagram (answered from HOST:PORT, else it fails) from each of F new client ports,
        one at a time; the conntrack map's entries every S flows: how full the table gets
        before the LRU evicts. Prints a JSON summary.
    pressure.py synflood HOST PORT --count S --src-net A.B.0.0/16 [--pps R] [--max-seconds T]
        sends S TCP SYNs to HOST:PORT from random source addresses in --src-net and random
        source ports (a raw IPv4 socket, IP_HDRINCL; the TCP checksum is computed, the
        kernel fills the IP checksum), as fast as it can or at R a second; stops after S SYNs
        or T seconds.
        Prints "sent=N seconds=F rate=R errors=E".
"""

import argparse
import ctypes
import errno
import ipaddress
import json
import os
import random
import resource
import socket
import struct
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from podserver import http_get  # noqa: E402  (the topology's one HTTP client)
from churn import err_kind, now  # noqa: E402  (the same clock and error names as churn)

CT_FWD, CT_REV = 1, 2  # enum svcbpf_ct_dir (include/svcbpf.h)


def snmp(ns=None):
    """{'Tcp': {...}, 'Udp': {...}, 'IpExt': {...}, ...} of this network namespace, or of the
    named one (/run/netns/NS)."""
    out = {}
    text = ""
    for f in ("/proc/net/snmp", "/proc/net/netstat"):
        if ns:
            text += subprocess.run(["nsenter", "--net=/run/netns/" + ns, "cat", f],
                                   stdout=subprocess.PIPE, check=True, timeout=10).stdout.decode()
        else:
            with open(f) as fh:
                text += fh.read()
    lines = text.splitlines()
    for head, vals in zip(lines[::2], lines[1::2]):
        name, keys = head.split(":", 1)
        out[name] = dict(zip(keys.split(), map(int, vals.split(":", 1)[1].split())))
    return out


SNMP_KEYS = {"Tcp": ("ActiveOpens", "PassiveOpens", "AttemptFails", "EstabResets", "OutRsts",
                     "InErrs", "RetransSegs"),
             "Udp": ("InDatagrams", "NoPorts", "InErrors", "OutDatagrams"),
             "TcpExt": ("SyncookiesSent", "ListenDrops", "TCPAbortOnData", "TCPAbortOnClose",
                        "TCPChallengeACK"),
             "IpExt": ("InNoRoutes",)}


def snmp_delta(a, b):
    return {"%s%s" % (p, k): b[p][k] - a[p][k] for p, ks in SNMP_KEYS.items() for k in ks
            if p in a and k in a[p]}


# ----------------------------------------------------------------------------- probe

class BpfMap:
    """A pinned BPF map read with the bpf(2) syscall: BPF_OBJ_GET, then BPF_MAP_LOOKUP_BATCH.
    A batch walks the hash buckets in order, so a read racing a flood sees each bucket once
    (bpftool's get_next_key walk restarts from the first bucket whenever the key it stands
    on was evicted, and counts entries several times)."""

    SYS_BPF = {"x86_64": 321, "aarch64": 280}
    OBJ_GET, OBJ_GET_INFO_BY_FD, MAP_LOOKUP_BATCH = 7, 15, 24

    def __init__(self, pin):
        self.ct = ctypes
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.nr = self.SYS_BPF.get(os.uname().machine)
        if self.nr is None:
            raise ValueError("bpf(2): unknown syscall number on %s" % os.uname().machine)
        path = ctypes.create_string_buffer(pin.encode())
        attr = ctypes.create_string_buffer(struct.pack("=QII", ctypes.addressof(path), 0, 0),
                                           128)
        self.fd = self._bpf(self.OBJ_GET, attr, "BPF_OBJ_GET " + pin)
        info = ctypes.create_string_buffer(128)
        attr = ctypes.create_string_buffer(struct.pack("=IIQ", self.fd, 128,
                                                       ctypes.addressof(info)), 128)
        self._bpf(self.OBJ_GET_INFO_BY_FD, attr, "BPF_OBJ_GET_INFO_BY_FD")
        _, _, self.ksz, self.vsz, self.max = struct.unpack_from("=IIIII", info.raw)

    def _bpf(self, cmd, attr, what):
        self.libc.syscall.restype = self.ct.c_long
        rc = self.libc.syscall(self.ct.c_long(self.nr), self.ct.c_long(cmd), attr,
                               self.ct.c_long(len(attr.raw)))
        if rc < 0:
            e = self.ct.get_errno()
            raise OSError(e, "%s: %s" % (what, os.strerror(e)))
        return rc

    def keys(self):
        """Every key, as bytes."""
        ct = self.ct
        n = self.max + 64
        keys = ct.create_string_buffer(n * self.ksz)
        vals = ct.create_string_buffer(n * self.vsz)
        in_b, out_b = ct.c_uint32(0), ct.c_uint32(0)
        out, first = [], True
        while True:
            attr = ct.create_string_buffer(struct.pack(
                "=QQQQIIQQ", 0 if first else ct.addressof(in_b), ct.addressof(out_b),
                ct.addressof(keys), ct.addressof(vals), n, self.fd, 0, 0), 128)
            try:
                self._bpf(self.MAP_LOOKUP_BATCH, attr, "BPF_MAP_LOOKUP_BATCH")
                done = False
            except OSError as e:
                if e.errno != errno.ENOENT:
                    raise
                done = True
            count = struct.unpack_from("=I", attr.raw, 32)[0]
            out += [keys.raw[i * self.ksz:(i + 1) * self.ksz] for i in range(count)]
            if done:
                return out
            first = False
            in_b.value = out_b.value

    def close(self):
        os.close(self.fd)


def ct_dump(pin):
    """{(saddr, daddr, sport, dport, proto, dir)} of every entry of the pinned ct map."""
    m = BpfMap(pin)
    try:
        keys = m.keys()
    finally:
        m.close()
    out = set()
    for k in keys:
        s, d = socket.inet_ntoa(k[0:4]), socket.inet_ntoa(k[4:8])
        sp, dp = struct.unpack("!HH", k[8:12])
        out.add((s, d, sp, dp, k[12], k[13]))
    return out


def counters(cmd):
    p = subprocess.run(cmd + ["status", "-o", "json"], stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, timeout=30)
    if p.returncode:
        raise ValueError("status: %s" % p.stderr.decode().strip())
    d = json.loads(p.stdout)
    ct = [m for m in d.get("maps", []) if m["name"].startswith("svcbpf_ct")]
    c = {k: v["packets"] for k, v in d.get("counters", {}).items()}
    c["ct_entries_status"] = ct[0]["entries"] if ct else -1
    return c


class Prober:
    """Conntrack and counters between rounds, as seen from outside the dataplane: how many
    entries the map holds, and for each group of held flows how many still have their
    client-side (FWD) and reply-side (REV) entries."""

    def __init__(self, pin, cmd, client_ip):
        self.pin, self.cmd, self.client_ip = pin, cmd, client_ip
        self.last = None

    def probe(self, groups):
        """groups: name -> (flows, service port, protocol)."""
        if not self.pin and not self.cmd:
            return None
        t = now()
        r = {}
        if self.pin:
            ents = ct_dump(self.pin)
            # FWD key: client -> service; REV key: backend -> client.
            fwd = {(e[0], e[2], e[3], e[4]) for e in ents if e[5] == CT_FWD}
            rev = {(e[1], e[3], e[4]) for e in ents if e[5] == CT_REV}
            r["ct_entries"] = len(ents)
            r["ct_fwd"] = sum(1 for e in ents if e[5] == CT_FWD)
            r["ct_rev"] = r["ct_entries"] - r["ct_fwd"]
            for name, (flows, port, proto) in groups.items():
                live = [f for f in flows if not f["end"]]
                has_f = [(self.client_ip, f["sport"], port, proto) in fwd for f in live]
                has_r = [(self.client_ip, f["sport"], proto) in rev for f in live]
                r[name] = {"live": len(live), "fwd": sum(has_f), "rev": sum(has_r),
                           "fwd_only": sum(1 for a, b in zip(has_f, has_r) if a and not b),
                           "rev_only": sum(1 for a, b in zip(has_f, has_r) if b and not a)}
        if self.cmd:
            c = counters(self.cmd)
            r["ct_entries_status"] = c.pop("ct_entries_status")
            if self.last:
                r["delta"] = {k: v - self.last.get(k, 0) for k, v in c.items()
                              if v != self.last.get(k, 0)}
            r["counters"] = c
            self.last = c
        r["probe_ms"] = round((now() - t) * 1000, 1)
        return r


# ----------------------------------------------------------------------------- hold

def read_phase(d):
    try:
        with open(os.path.join(d, "phase")) as f:
            return f.read().strip() or "start"
    except OSError:
        return "start"


def udp_ask(u, host, port):
    """One datagram from the flow's socket; its reply as "podN", or raise."""
    u["sock"].sendto(b"pressure", (host, port))
    data, src = u["sock"].recvfrom(2048)
    if src != (host, port):
        raise ValueError("reply from %s:%d" % src)
    return data.decode(errors="replace").split()[0]


def tcp_open(host, port, timeout, group):
    s = socket.create_connection((host, port), timeout=timeout)
    s.settimeout(timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    pod = http_get(s, host).split()[0]
    return {"sock": s, "sport": s.getsockname()[1], "group": group, "first": pod,
            "answers": {}, "end": None}


def tcp_close(c, timeout):
    """Close a connection cleanly: our FIN, then the server's (EOF), within timeout.
    'clean', or the error kind."""
    try:
        c["sock"].shutdown(socket.SHUT_WR)
        c["sock"].settimeout(timeout)
        while c["sock"].recv(4096):
            pass
        return "clean"
    except OSError as e:
        return err_kind(e)
    finally:
        c["sock"].close()


def cmd_hold(args):
    args.udp_host = args.udp_host or args.host
    skip = tuple(p for p in args.idle_skip.split(",") if p)
    deadline = now() + args.max_seconds
    snmp_ns = [n for n in args.snmp_ns.split(",") if n]
    conns, udps = [], []
    t0 = now()
    for i in range(args.conns + args.idle_conns):
        conns.append(tcp_open(args.host, args.port, args.timeout,
                              "active" if i < args.conns else "idle"))
        if now() > deadline:
            raise ValueError("opening %d connections took longer than --max-seconds"
                             % len(conns))
    client_ip = conns[0]["sock"].getsockname()[0] if conns else "0.0.0.0"
    for i in range(args.udp_flows):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("0.0.0.0", args.udp_sport_base + i))
        s.settimeout(args.timeout)
        u = {"sock": s, "sport": args.udp_sport_base + i, "answers": {}, "end": None}
        u["first"] = udp_ask(u, args.udp_host, args.udp_port)
        udps.append(u)
    open_s = now() - t0
    # The counters of the rounds start here: opening is not part of them.
    s0 = {"client": snmp()}
    s0.update({n: snmp(n) for n in snmp_ns})
    with open(os.path.join(args.dir, "ready.tmp"), "w") as f:
        f.write(json.dumps([{"sport": c["sport"], "pod": c["first"], "group": c["group"]}
                            for c in conns]) + "\n")
    os.replace(os.path.join(args.dir, "ready.tmp"), os.path.join(args.dir, "ready"))

    prober = Prober(args.ct_map, args.cmd, client_ip)
    groups = {"active": ([c for c in conns if c["group"] == "active"], args.port, 6),
              "idle": ([c for c in conns if c["group"] == "idle"], args.port, 6),
              "udp": (udps, args.udp_port, 17)}
    rounds, per_phase = [], {}
    last = now() - args.interval

    def progress(phase):
        tmp = os.path.join(args.dir, "progress.tmp")
        with open(tmp, "w") as f:
            f.write("%s %d %d\n" % (phase, per_phase.get(phase, 0), len(rounds)))
        os.replace(tmp, os.path.join(args.dir, "progress"))

    def one(flow, ask):
        t = now()
        try:
            pod = ask()
        except (OSError, ValueError) as e:
            flow["end"] = {"round": len(rounds), "error": err_kind(e),
                           "after_ms": round((now() - t) * 1000, 1)}
            return "failed"
        flow["answers"][pod] = flow["answers"].get(pod, 0) + 1
        return "ok" if pod == flow["first"] else "moved"

    stopped_by = "rounds"
    while len(rounds) < args.rounds:
        if os.path.exists(os.path.join(args.dir, "stop")):
            stopped_by = "stop-file"
            break
        if now() > deadline:
            stopped_by = "max-seconds"
            break
        if now() - last < args.interval:
            time.sleep(0.005)
            continue
        phase = read_phase(args.dir)
        last = now()
        rec = {"phase": phase, "t": round(last - t0, 3), "probe": prober.probe(groups)}
        t = now()
        res = {}
        for c in conns:
            if c["end"] or (c["group"] == "idle" and skip and phase.startswith(skip)):
                continue
            r = one(c, lambda c=c: http_get(c["sock"], args.host).split()[0])
            k = "%s_%s" % (c["group"], r)
            res[k] = res.get(k, 0) + 1
        for u in udps:
            if u["end"]:
                continue
            r = one(u, lambda u=u: udp_ask(u, args.udp_host, args.udp_port))
            res["udp_" + r] = res.get("udp_" + r, 0) + 1
        rec["asked"] = res
        rec["dur"] = round(now() - t, 3)
        rounds.append(rec)
        per_phase[phase] = per_phase.get(phase, 0) + 1
        progress(phase)
    final = prober.probe(groups)
    s1 = {"client": snmp()}
    s1.update({n: snmp(n) for n in snmp_ns})
    # Close cleanly one at a time, so each FIN exchange finds its conntrack entries.
    closes = {}
    for c in conns:
        if not c["end"]:
            k = tcp_close(c, args.timeout)
            closes[k] = closes.get(k, 0) + 1
        else:
            c["sock"].close()
    for u in udps:
        u["sock"].close()
    s2 = {"client": snmp()}
    s2.update({n: snmp(n) for n in snmp_ns})

    def flows(fs):
        return [{k: v for k, v in f.items() if k != "sock"} for f in fs]

    print(json.dumps({"conns_opened": len(conns), "udp_flows": len(udps),
                      "open_seconds": round(open_s, 3), "rounds": rounds, "final": final,
                      "stopped_by": stopped_by, "closes": closes,
                      "snmp": {n: snmp_delta(s0[n], s1[n]) for n in s0},
                      "snmp_close": {n: snmp_delta(s1[n], s2[n]) for n in s0},
                      "conns": flows(conns), "udp": flows(udps)}))
    return 0


# ----------------------------------------------------------------------------- fill

def cmd_fill(args):
    """UDP flows one at a time into an empty table; the map's entries every --step flows."""
    socks, steps = [], []
    try:
        for i in range(args.flows):
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            socks.append(s)
            s.bind(("0.0.0.0", args.sport_base + i))
            s.settimeout(args.timeout)
            udp_ask({"sock": s}, args.host, args.port)
            if (i + 1) % args.step == 0 or i + 1 == args.flows:
                steps.append({"flows": i + 1, "entries": len(ct_dump(args.ct_map))})
    finally:
        for s in socks:
            s.close()
    first = next((st["flows"] for st in steps if st["entries"] < 2 * st["flows"]), 0)
    print(json.dumps({"steps": steps, "max_entries": max(st["entries"] for st in steps),
                      "first_short_at_flows": first}))
    return 0


# ----------------------------------------------------------------------------- synflood

def csum_add(*words):
    s = sum(words)
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def cmd_synflood(args):
    net = ipaddress.ip_network(args.src_net)
    if net.num_addresses < 256:
        raise ValueError("--src-net %s: want at least a /24" % net)
    base, span = int(net.network_address) + 1, net.num_addresses - 2
    dst = socket.inet_aton(args.host)
    rng = random.Random(args.seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)  # IP_HDRINCL
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 22)
    # TCP SYN: dport, seq (random per packet is not needed: the source varies), data offset
    # 5, SYN, window 64240. Its checksum over the pseudo header and the header: the constant
    # part summed once, the source address and port added per packet.
    dwords = struct.unpack("!HH", dst)
    const = csum_add(dwords[0], dwords[1], 6, 20, args.port, 0x1234, 0x5678, 0x5002, 64240)
    deadline = now() + args.max_seconds
    sent = errors = 0
    t0 = now()
    addr = (args.host, 0)
    while sent + errors < args.count:
        if (sent & 63) == 0:
            t = now()
            if t > deadline:
                break
            # Paced: no more than --pps a second on average (checked every 64 SYNs).
            if args.pps and sent > args.pps * (t - t0):
                time.sleep(min(sent / args.pps - (t - t0), 0.1))
        src = base + rng.randrange(span)
        sport = 1024 + rng.randrange(64512)
        c = 0xFFFF - csum_add(const, src >> 16, src & 0xFFFF, sport)
        pkt = struct.pack("!BBHHHBBHI4sHHIIBBHHH", 0x45, 0, 40, 0, 0, 64, 6, 0, src, dst,
                          sport, args.port, 0x12345678, 0, 0x50, 0x02, 64240, c, 0)
        try:
            s.sendto(pkt, addr)
            sent += 1
        except OSError as e:
            if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                raise
            errors += 1
            time.sleep(0.0005)
    secs = now() - t0
    print("sent=%d seconds=%.3f rate=%d errors=%d" % (sent, secs, sent / secs if secs else 0,
                                                      errors))
    return 0


def raise_nofile():
    """Up to 1088 sockets at once: lift the soft open-files limit to the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 4096 if hard == resource.RLIM_INFINITY else min(4096, hard)
    if soft != resource.RLIM_INFINITY and soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))


def main(argv):
    raise_nofile()
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="cmd_name", required=True)

    hp = sub.add_parser("hold")
    hp.add_argument("host")
    hp.add_argument("port", type=int)
    hp.add_argument("--conns", type=int, default=100)
    hp.add_argument("--rounds", type=int, default=5)
    hp.add_argument("--interval", type=float, default=0.0)
    hp.add_argument("--udp-host", default="", help="the UDP service's address (default HOST)")
    hp.add_argument("--udp-port", type=int, default=53)
    hp.add_argument("--udp-flows", type=int, default=0)
    hp.add_argument("--udp-sport-base", type=int, default=41000)
    hp.add_argument("--idle-conns", type=int, default=0,
                    help="more connections, asked only in rounds of phases not in --idle-skip")
    hp.add_argument("--idle-skip", default="", help="phase prefixes, a,b")
    hp.add_argument("--snmp-ns", default="", help="namespaces whose snmp counters to report")
    hp.add_argument("--ct-map", default="", help="the pinned conntrack map, for the probe")
    hp.add_argument("--dir", required=True)
    hp.add_argument("--max-seconds", type=float, default=60.0)
    hp.add_argument("--timeout", type=float, default=2.0)
    hp.set_defaults(func=cmd_hold)

    lp = sub.add_parser("fill")
    lp.add_argument("host")
    lp.add_argument("port", type=int)
    lp.add_argument("--flows", type=int, required=True)
    lp.add_argument("--step", type=int, default=16)
    lp.add_argument("--sport-base", type=int, default=42000)
    lp.add_argument("--ct-map", required=True)
    lp.add_argument("--timeout", type=float, default=2.0)
    lp.set_defaults(func=cmd_fill)

    fp = sub.add_parser("synflood")
    fp.add_argument("host")
    fp.add_argument("port", type=int)
    fp.add_argument("--count", type=int, required=True)
    fp.add_argument("--src-net", required=True)
    fp.add_argument("--seed", type=int, default=1)
    fp.add_argument("--pps", type=float, default=0.0, help="at most this many SYNs a second")
    fp.add_argument("--max-seconds", type=float, default=20.0)
    fp.set_defaults(func=cmd_synflood)

    rest = []
    if "--" in argv:  # hold's svcbpf command line
        rest = argv[argv.index("--") + 1:]
        argv = argv[:argv.index("--")]
    args = p.parse_args(argv)
    args.cmd = rest
    try:
        return args.func(args)
    except (OSError, ValueError, subprocess.SubprocessError) as e:
        print("error=%s" % str(e).replace(" ", "_"))
        return 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
