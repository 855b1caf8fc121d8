#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""gen.py - the rule sets and batch files bench/run.sh loads, for N services x 10 backends.

    gen.py --services N --updates R --out DIR

writes, for one size N (stdlib only, deterministic):

  DIR/ipt-full.rules        iptables-restore input, kube-proxy iptables-mode layout (nat table)
  DIR/ipt-add-K.rules       kube-proxy's partial sync (--noflush) adding backend K to the
  DIR/ipt-del-K.rules         measured service / removing it again (K = 1..R)
  DIR/ipt-min-add-K.rules   the same change with the changed chains only (no KUBE-SERVICES
  DIR/ipt-min-del-K.rules     rewrite): a lower bound, for comparison
  DIR/nft-full.nft          nft -f input, kube-proxy nftables-mode layout (one transaction)
  DIR/nft-add-K.nft         one transaction adding / removing backend K
  DIR/nft-del-K.nft
  DIR/sb-full.batch         svcbpf batch input: N x 'svc add VIP:PORT --backend ...' (10 each)
  DIR/sb-clear.batch        N x 'svc del VIP:PORT'
  DIR/sb-add-K.batch        'backend add VIP:PORT IP:PORT' (one line)
  DIR/sb-del-K.batch        'backend del VIP:PORT IP:PORT'
  DIR/sb-add-K.args         the same as CLI arguments, one a line
  DIR/sb-del-K.args
  DIR/meta.json             what was generated: counts, the measured service's position

The measured service is 10.96.0.50:80 -> 10.244.1.10..19:8080 (the bench pod's ten
addresses), placed at index N // 2 (the middle of KUBE-SERVICES: an average position). The
other services are 10.97.x.y:80 with 10 backends each at fake, unique addresses in
10.244.16.0 - 10.244.255.255 (the port is 8080, then 8081 once the addresses run out); no
traffic goes to them. Backend K of the updates is 10.244.15.K:8080 (fake, never sent to).

NodePorts (externalTrafficPolicy Cluster): only the measured service has one, 30000 + its
index modulo 2768. The iptables rules get
KUBE-NODEPORTS / KUBE-EXT-X, the nft rules the service-nodeports map and external-X chains,
the batch file --nodeport; meta.json gives measured_nodeport.
"""

import argparse
import base64
import hashlib
import json
import os

BACKENDS = 10
VIP = "10.96.0.50"
PORT = 80
POD_PORT = 8080
POD_IPS = ["10.244.1.%d" % (10 + j) for j in range(BACKENDS)]
MASQ_MARK = "0x4000"
NODEPORT_MIN = 30000
NODEPORT_MAX = 32767


def ip_str(n):
    return "%d.%d.%d.%d" % (n >> 24 & 255, n >> 16 & 255, n >> 8 & 255, n & 255)


def ip_int(s):
    a, b, c, d = (int(x) for x in s.split("."))
    return a << 24 | b << 16 | c << 8 | d


FAKE_BASE = ip_int("10.244.16.0")
FAKE_SPAN = ip_int("10.245.0.0") - FAKE_BASE  # 61440 addresses
OTHER_VIP_BASE = ip_int("10.97.0.1")


def services(n):
    """[(name, vip, port, [(ip, port)...])] in KUBE-SERVICES order; and the measured index."""
    mid = n // 2
    out = []
    k = 0
    other = 0
    for i in range(n):
        if i == mid:
            out.append(("bench/http", VIP, PORT, [(ip, POD_PORT) for ip in POD_IPS]))
            continue
        bes = []
        for _ in range(BACKENDS):
            bes.append((ip_str(FAKE_BASE + k % FAKE_SPAN), POD_PORT + k // FAKE_SPAN))
            k += 1
        out.append(("ns%d/svc%d" % (other // 1000, other), ip_str(OTHER_VIP_BASE + other), PORT, bes))
        other += 1
    return out, mid


def nodeports(n, mid):
    """{index: nodePort}: only the measured service has one, 30000 + its index modulo the
    NodePort range (every service having one would not fit above 2768 services, and would
    change what the control-plane and memory rows measure)."""
    span = NODEPORT_MAX - NODEPORT_MIN + 1
    return {mid: NODEPORT_MIN + mid % span}


def update_backend(k):
    return ("10.244.15.%d" % k, POD_PORT)


def h16(*parts):
    """kube-proxy's chain-name hash: base32 of sha256, 16 characters."""
    d = hashlib.sha256("".join(parts).encode()).digest()
    return base64.b32encode(d)[:16].decode()


def svc_chain(name, port):
    return "KUBE-SVC-" + h16(name, "tcp", str(port))


def ext_chain(name, port):
    return "KUBE-EXT-" + h16(name, "tcp", str(port))


def sep_chain(name, port, ip, bport):
    return "KUBE-SEP-" + h16(name, "tcp", str(port), "%s:%d" % (ip, bport))


# ------------------------------------------------------------------------------- iptables

IPT_HEAD_CHAINS = ["KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ"]


def ipt_top_chain_lines():
    return [":%s - [0:0]" % c for c in IPT_HEAD_CHAINS]


def ipt_top_rules():
    """KUBE-MARK-MASQ and KUBE-POSTROUTING as kube-proxy writes them on every sync."""
    return [
        "-A KUBE-MARK-MASQ -j MARK --or-mark %s" % MASQ_MARK,
        "-A KUBE-POSTROUTING -m mark ! --mark %s/%s -j RETURN" % (MASQ_MARK, MASQ_MARK),
        "-A KUBE-POSTROUTING -j MARK --xor-mark %s" % MASQ_MARK,
        '-A KUBE-POSTROUTING -m comment --comment "kubernetes service traffic requiring SNAT" '
        "-j MASQUERADE --random-fully",
    ]


def ipt_services_rules(svcs):
    rules = []
    for name, vip, port, _ in svcs:
        rules.append(
            '-A KUBE-SERVICES -m comment --comment "%s cluster IP" -m tcp -p tcp -d %s/32 '
            "--dport %d -j %s" % (name, vip, port, svc_chain(name, port))
        )
    rules.append(
        '-A KUBE-SERVICES -m comment --comment "kubernetes service nodeports; NOTE: this must '
        'be the last rule in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS'
    )
    return rules


def ipt_nodeport_rules(svcs, nps):
    """KUBE-NODEPORTS, rewritten in full on every sync (as KUBE-SERVICES)."""
    rules = []
    for i, (name, _, port, _) in enumerate(svcs):
        if i in nps:
            rules.append('-A KUBE-NODEPORTS -m comment --comment %s -m tcp -p tcp --dport %d '
                         "-j %s" % (name, nps[i], ext_chain(name, port)))
    return rules


def ipt_service_chains(name, port, bes, nodeport=None):
    """(chain lines, rules) of one service: KUBE-SVC-X and its KUBE-SEP-Y chains, and its
    KUBE-EXT-X chain when it has a NodePort (externalTrafficPolicy Cluster: masquerade)."""
    sc = svc_chain(name, port)
    chains = [":%s - [0:0]" % sc]
    rules = []
    if nodeport is not None:
        ec = ext_chain(name, port)
        chains.append(":%s - [0:0]" % ec)
        rules.append('-A %s -m comment --comment "masquerade traffic for %s external '
                     'destinations" -j KUBE-MARK-MASQ' % (ec, name))
        rules.append("-A %s -j %s" % (ec, sc))
    n = len(bes)
    for i, (ip, bport) in enumerate(bes):
        ep = sep_chain(name, port, ip, bport)
        chains.append(":%s - [0:0]" % ep)
        stat = ""
        if i < n - 1:
            stat = " -m statistic --mode random --probability %0.10f" % (1.0 / (n - i))
        rules.append(
            '-A %s -m comment --comment "%s -> %s:%d"%s -j %s' % (sc, name, ip, bport, stat, ep)
        )
    for ip, bport in bes:
        ep = sep_chain(name, port, ip, bport)
        rules.append('-A %s -m comment --comment %s -s %s/32 -j KUBE-MARK-MASQ' % (ep, name, ip))
        rules.append(
            "-A %s -m comment --comment %s -m tcp -p tcp -j DNAT --to-destination %s:%d"
            % (ep, name, ip, bport)
        )
    return chains, rules


def ipt_full(svcs, nps):
    chains = ipt_top_chain_lines()
    rules = [
        '-A PREROUTING -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A OUTPUT -m comment --comment "kubernetes service portals" -j KUBE-SERVICES',
        '-A POSTROUTING -m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    ]
    rules += ipt_top_rules()
    rules += ipt_services_rules(svcs)
    rules += ipt_nodeport_rules(svcs, nps)
    for i, (name, _, port, bes) in enumerate(svcs):
        c, r = ipt_service_chains(name, port, bes, nps.get(i))
        chains += c
        rules += r
    return "*nat\n" + "\n".join(chains + rules) + "\nCOMMIT\n"


def ipt_partial(svcs, nps, mid, bes_new, removed, minimal):
    """kube-proxy's partial sync (iptables-restore --noflush): the top-level chains are
    always declared (which flushes them) and KUBE-SERVICES is rewritten in full with one rule
    per service (kube-proxy writes those before it decides to skip unchanged services); then
    the changed service's chains, and -X for an endpoint chain no longer used.
    minimal=True writes the changed service's chains only."""
    name, _, port, _ = svcs[mid]
    chains, rules = [], []
    if not minimal:
        chains += ipt_top_chain_lines()
        rules += ipt_top_rules()
        rules += ipt_services_rules(svcs)
        rules += ipt_nodeport_rules(svcs, nps)
    c, r = ipt_service_chains(name, port, bes_new, nps.get(mid))
    chains += c
    rules += r
    for ip, bport in removed:
        ep = sep_chain(name, port, ip, bport)
        chains.append(":%s - [0:0]" % ep)
        rules.append("-X %s" % ep)
    return "*nat\n" + "\n".join(chains + rules) + "\nCOMMIT\n"


# ------------------------------------------------------------------------------- nftables

NFT_TABLE = "ip kube-proxy"


def nft_svc_chain(name, port):
    return "service-%s-%s/tcp/p%d" % (h16(name, "tcp", str(port))[:8], name, port)


def nft_ext_chain(name, port):
    return "external-%s-%s/tcp/p%d" % (h16(name, "tcp", str(port))[:8], name, port)


def nft_ep_chain(name, port, ip, bport):
    return "endpoint-%s-%s/tcp/p%d__%s/%d" % (
        h16(name, "tcp", str(port), ip, str(bport))[:8], name, port, ip, bport)


def q(s):
    """A chain name as nft 1.0.6 takes it: bare (it refuses a quoted chain name)."""
    return s


def nft_service(name, vip, port, bes, nodeport=None):
    """Commands for one service: endpoint chains, then the service chain with its vmap, and
    its external chain (masquerade, then the service chain) when it has a NodePort."""
    cmds = []
    for ip, bport in bes:
        ep = q(nft_ep_chain(name, port, ip, bport))
        cmds.append("add chain %s %s" % (NFT_TABLE, ep))
        cmds.append("add rule %s %s ip saddr %s jump mark-for-masquerade" % (NFT_TABLE, ep, ip))
        cmds.append("add rule %s %s meta l4proto tcp dnat to %s:%d" % (NFT_TABLE, ep, ip, bport))
    sc = q(nft_svc_chain(name, port))
    cmds.append("add chain %s %s" % (NFT_TABLE, sc))
    vmap = ", ".join("%d : goto %s" % (i, q(nft_ep_chain(name, port, ip, bport)))
                     for i, (ip, bport) in enumerate(bes))
    cmds.append("add rule %s %s numgen random mod %d vmap { %s }" % (NFT_TABLE, sc, len(bes), vmap))
    if nodeport is not None:
        ec = q(nft_ext_chain(name, port))
        cmds.append("add chain %s %s" % (NFT_TABLE, ec))
        cmds.append("add rule %s %s jump mark-for-masquerade" % (NFT_TABLE, ec))
        cmds.append("add rule %s %s goto %s" % (NFT_TABLE, ec, sc))
    return cmds


def nft_full(svcs, nps):
    t = NFT_TABLE
    cmds = [
        "add table %s { comment \"rules for kube-proxy\" ; }" % t,
        "add chain %s nat-prerouting { type nat hook prerouting priority dstnat ; }" % t,
        "add chain %s nat-output { type nat hook output priority -100 ; }" % t,
        "add chain %s nat-postrouting { type nat hook postrouting priority srcnat ; }" % t,
        "add chain %s mark-for-masquerade" % t,
        "add chain %s masquerading" % t,
        "add chain %s services" % t,
        "add map %s service-ips { type ipv4_addr . inet_proto . inet_service : verdict ; "
        "comment \"ClusterIP, ExternalIP and LoadBalancer IP traffic\" ; }" % t,
        "add map %s service-nodeports { type inet_proto . inet_service : verdict ; "
        "comment \"NodePort traffic\" ; }" % t,
        "add rule %s nat-prerouting jump services" % t,
        "add rule %s nat-output jump services" % t,
        "add rule %s nat-postrouting jump masquerading" % t,
        "add rule %s mark-for-masquerade mark set mark or %s" % (t, MASQ_MARK),
        "add rule %s masquerading mark and %s == 0 return" % (t, MASQ_MARK),
        "add rule %s masquerading mark set mark xor %s" % (t, MASQ_MARK),
        "add rule %s masquerading masquerade fully-random" % t,
        "add rule %s services ip daddr . meta l4proto . th dport vmap @service-ips" % t,
        # nodePortAddresses unset (every local address): kube-proxy's last rule of services.
        "add rule %s services fib daddr type local ip daddr != 127.0.0.0/8 "
        "meta l4proto . th dport vmap @service-nodeports" % t,
    ]
    for i, (name, vip, port, bes) in enumerate(svcs):
        cmds += nft_service(name, vip, port, bes, nps.get(i))
    # Elements last, in one command per 1000 (as knftables batches them into the transaction).
    elems = ["%s . tcp . %d : goto %s" % (vip, port, q(nft_svc_chain(name, port)))
             for name, vip, port, _ in svcs]
    for i in range(0, len(elems), 1000):
        cmds.append("add element %s service-ips { %s }" % (t, ", ".join(elems[i:i + 1000])))
    elems = ["tcp . %d : goto %s" % (nps[i], q(nft_ext_chain(name, port)))
             for i, (name, _, port, _) in enumerate(svcs) if i in nps]
    for i in range(0, len(elems), 1000):
        cmds.append("add element %s service-nodeports { %s }" % (t, ", ".join(elems[i:i + 1000])))
    return "\n".join(cmds) + "\n"


def nft_change(svcs, mid, bes_new, removed):
    """One transaction, as kube-proxy's nftables mode does for a changed service: new
    endpoint chains, the service chain flushed and rewritten, unused endpoint chains deleted."""
    name, vip, port, _ = svcs[mid]
    t = NFT_TABLE
    cmds = []
    for ip, bport in bes_new:
        ep = q(nft_ep_chain(name, port, ip, bport))
        cmds.append("add chain %s %s" % (t, ep))
    # Re-create only the chain that is new (adding an existing chain is a no-op, but its
    # rules would be appended twice).
    new_eps = [b for b in bes_new if b not in svcs[mid][3]]
    for ip, bport in new_eps:
        ep = q(nft_ep_chain(name, port, ip, bport))
        cmds.append("add rule %s %s ip saddr %s jump mark-for-masquerade" % (t, ep, ip))
        cmds.append("add rule %s %s meta l4proto tcp dnat to %s:%d" % (t, ep, ip, bport))
    sc = q(nft_svc_chain(name, port))
    cmds.append("flush chain %s %s" % (t, sc))
    vmap = ", ".join("%d : goto %s" % (i, q(nft_ep_chain(name, port, ip, bport)))
                     for i, (ip, bport) in enumerate(bes_new))
    cmds.append("add rule %s %s numgen random mod %d vmap { %s }" % (t, sc, len(bes_new), vmap))
    for ip, bport in removed:
        ep = q(nft_ep_chain(name, port, ip, bport))
        cmds.append("flush chain %s %s" % (t, ep))
        cmds.append("delete chain %s %s" % (t, ep))
    return "\n".join(cmds) + "\n"


# ------------------------------------------------------------------------------- svcbpf


def sb_full(svcs, nps):
    lines = ["# %d services x %d backends" % (len(svcs), BACKENDS)]
    for i, (_, vip, port, bes) in enumerate(svcs):
        np = " --nodeport %d" % nps[i] if i in nps else ""
        lines.append("svc add %s:%d %s%s" % (vip, port, " ".join("--backend %s:%d" % b for b in bes),
                                             np))
    return "\n".join(lines) + "\n"


def sb_clear(svcs):
    return "\n".join("svc del %s:%d" % (vip, port) for _, vip, port, _ in svcs) + "\n"


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--services", type=int, required=True)
    ap.add_argument("--updates", type=int, default=3)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()
    if a.services < 1 or a.updates < 1 or a.updates > 250:
        ap.error("--services >= 1, --updates 1..250")
    os.makedirs(a.out, exist_ok=True)
    svcs, mid = services(a.services)
    name, vip, port, base = svcs[mid]
    nps = nodeports(a.services, mid)
    p = lambda f: os.path.join(a.out, f)  # noqa: E731

    write(p("ipt-full.rules"), ipt_full(svcs, nps))
    write(p("nft-full.nft"), nft_full(svcs, nps))
    write(p("sb-full.batch"), sb_full(svcs, nps))
    write(p("sb-clear.batch"), sb_clear(svcs))
    for k in range(1, a.updates + 1):
        nb = update_backend(k)
        added = base + [nb]
        for minimal, pre in ((False, "ipt"), (True, "ipt-min")):
            write(p("%s-add-%d.rules" % (pre, k)), ipt_partial(svcs, nps, mid, added, [], minimal))
            # The removal runs against the state the add left: the service has 11 backends.
            s2 = list(svcs)
            s2[mid] = (name, vip, port, added)
            write(p("%s-del-%d.rules" % (pre, k)), ipt_partial(s2, nps, mid, base, [nb], minimal))
        write(p("nft-add-%d.nft" % k), nft_change(svcs, mid, added, []))
        s2 = list(svcs)
        s2[mid] = (name, vip, port, added)
        write(p("nft-del-%d.nft" % k), nft_change(s2, mid, base, [nb]))
        write(p("sb-add-%d.batch" % k), "backend add %s:%d %s:%d\n" % (vip, port, *nb))
        write(p("sb-del-%d.batch" % k), "backend del %s:%d %s:%d\n" % (vip, port, *nb))
        write(p("sb-add-%d.args" % k), "backend\nadd\n%s:%d\n%s:%d\n" % (vip, port, *nb))
        write(p("sb-del-%d.args" % k), "backend\ndel\n%s:%d\n%s:%d\n" % (vip, port, *nb))
    meta = {
        "services": len(svcs),
        "backends_per_service": BACKENDS,
        "backends_total": sum(len(s[3]) for s in svcs),
        "measured_service": "%s:%d" % (vip, port),
        "measured_index": mid,
        "measured_backends": ["%s:%d" % b for b in base],
        "kube_services_rules": len(svcs) + 1,
        "measured_nodeport": nps[mid],
        "nodeports": len(nps),
        "updates": a.updates,
    }
    write(p("meta.json"), json.dumps(meta, indent=1) + "\n")


if __name__ == "__main__":
    main()
