#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""report.py - turn bench/run.sh's raw measurements into the table, results.json and a chart.

    report.py --meta META.json --raw RAW.jsonl --notes NOTES.jsonl --extra EXTRA.jsonl
              --elapsed SECONDS --out DIR

RAW.jsonl holds one line per repeat: {"size", "column", "figure", "value"}. EXTRA.jsonl holds
gen.py's meta per size ({"size", "gen"}) and build/pktbench's JSON ({"size", "pktbench"}).
Writes DIR/results.json, DIR/results.txt (the table, also printed by run.sh) and, for
gnuplot, DIR/results.gp with DIR/results-*.dat (run.sh runs gnuplot and removes them).
Stdlib only.
"""

import argparse
import json
import math
import os
import statistics

COLUMNS = ["floor", "iptables", "nftables", "svcbpf_tc", "svcbpf_xdp"]
TITLES = {"floor": "floor", "iptables": "iptables", "nftables": "nftables",
          "svcbpf_tc": "svcbpf tc", "svcbpf_xdp": "svcbpf xdp"}
SB = ("svcbpf_tc", "svcbpf_xdp")

# (figure, label, unit, better, scale) in table order; scale converts the raw unit for display.
ROWS = [
    ("pkt_floor_ns", "per packet: parse-and-pass prog", "ns", "lo", 1),
    ("pkt_new_ns", "per packet: new flow", "ns", "lo", 1),
    ("pkt_est_ns", "per packet: established flow", "ns", "lo", 1),
    ("pkt_nonsvc_ns", "per packet: not a service", "ns", "lo", 1),
    ("conn_rate", "new connections/s (16 in flight)", "conn/s", "hi", 1),
    ("conn_p50_us", "  latency p50 (16 in flight)", "us", "lo", 1),
    ("conn_p99_us", "  latency p99 (16 in flight)", "us", "lo", 1),
    ("lat1_p50_us", "  latency p50 (1 in flight)", "us", "lo", 1),
    ("lat1_p99_us", "  latency p99 (1 in flight)", "us", "lo", 1),
    ("bulk_gbps", "bulk throughput (iperf3)", "Gbit/s", "hi", 1),
    ("np_conn_rate", "NodePort: new connections/s (16)", "conn/s", "hi", 1),
    ("np_conn_p50_us", "  NodePort latency p50 (16)", "us", "lo", 1),
    ("np_conn_p99_us", "  NodePort latency p99 (16)", "us", "lo", 1),
    ("np_bulk_gbps", "NodePort: bulk throughput", "Gbit/s", "hi", 1),
    ("exec_s", "start a process (/bin/true)", "ms", "lo", 1e3),
    ("program_s", "program N services from empty", "ms", "lo", 1e3),
    ("update_s", "change 1 backend", "ms", "lo", 1e3),
    ("update_alt_s", "change 1 backend (alternative)", "ms", "lo", 1e3),
    ("mem_kernel_bytes", "kernel memory for N (meminfo)", "MiB", "lo", 1 / 1048576),
    ("mem_kernel_per_svc", "  per service (delta of sizes)", "B", "lo", 1),
    ("mem_map_per_svc", "svcbpf map memory per service", "B", "lo", 1),
    ("mem_map_per_be", "svcbpf map memory per backend", "B", "lo", 1),
    ("mem_map_total_bytes", "svcbpf map memory, all maps", "MiB", "lo", 1 / 1048576),
]
# Figures for which svcbpf xdp shares svcbpf tc's number (the same maps, the same CLI).
SHARED_SB = {"program_s", "update_s", "update_alt_s", "mem_kernel_bytes", "mem_kernel_per_svc",
             "mem_map_per_svc", "mem_map_per_be", "mem_map_total_bytes"}
# /proc/meminfo is machine-wide: a delta below this is other activity, not the rules.
NOISE_BYTES = 1 << 20
# Figures whose spread is summarised in the noise line (the traffic figures).
NOISE_FIGS = ("conn_rate", "conn_p50_us", "lat1_p50_us", "bulk_gbps", "np_conn_rate",
              "np_bulk_gbps")


def stats(vals):
    vals = sorted(v for v in vals if v is not None and not (isinstance(v, float) and math.isnan(v)))
    if not vals:
        return None
    s = {"median": statistics.median(vals), "min": vals[0], "max": vals[-1], "n": len(vals),
         "values": vals}
    if len(vals) >= 4:
        q = statistics.quantiles(vals, n=4)
        s["p25"], s["p75"] = q[0], q[2]
    s["spread_pct"] = (100.0 * (vals[-1] - vals[0]) / abs(s["median"])) if s["median"] else 0.0
    return s


def from_value(v, n=1, spread=None):
    """A stats dict for a derived single number."""
    if v is None:
        return None
    s = {"median": v, "min": v, "max": v, "n": n, "values": [v], "spread_pct": 0.0,
         "derived": True}
    if spread:
        s.update(spread)
    return s


# ------------------------------------------------------------------------------- pktbench


def flatten(d, path=()):
    if isinstance(d, dict):
        for k, v in d.items():
            yield from flatten(v, path + (str(k).lower(),))
    elif isinstance(d, (int, float)) and not isinstance(d, bool):
        yield path, float(d)


CASES = {
    "new": ("new",),
    "est": ("est", "tracked"),
    "nonsvc": ("non", "nosvc", "no_svc", "pass", "miss", "other"),
}


def pkt_lookup(doc, want_floor, hook, case):
    """Find the median (and p10/p90) for a hook and case among pktbench's keys, whatever their
    exact spelling: a path mentions the hook, the case (or 'floor') and a statistic."""
    best = {}
    for path, v in flatten(doc):
        joined = "/".join(path)
        words = joined.replace("-", "_").replace("/", "_").split("_")
        if hook not in words and not any(w.startswith(hook) for w in words):
            continue
        is_floor = "floor" in joined
        if want_floor != is_floor:
            continue
        if not want_floor and not any(c in joined for c in CASES[case]):
            continue
        if not want_floor and case != "nonsvc" and any(c in joined for c in CASES["nonsvc"][:3]):
            continue  # "non_service" must not count as "new" or "est"
        leaf = path[-1]
        for stat, names in (("median", ("median", "p50", "ns", "ns_per_pkt", "mean")),
                            ("p10", ("p10",)), ("p90", ("p90",))):
            if leaf in names or leaf.endswith("_" + names[0]):
                best.setdefault(stat, v)
        if len(path) == 1 and "median" not in best:
            best.setdefault("median", v)
    return best


def pkt_figures(doc):
    """{(column, figure): stats} from one pktbench document: its documented layout
    ({tc|xdp: {new_flow|established|non_service: {median, p10, p90}}, floor: {tc|xdp: ...}}),
    else whatever keys name the hook, the case and a statistic."""
    out = {}
    known = (("new", "new_flow"), ("est", "established"), ("nonsvc", "non_service"))
    if all(isinstance(doc.get(h), dict) for h in ("tc", "xdp", "floor")):
        for hook, col in (("tc", "svcbpf_tc"), ("xdp", "svcbpf_xdp")):
            f = doc["floor"].get(hook)
            if isinstance(f, dict) and "median" in f:
                out[(col, "pkt_floor_ns")] = from_value(f["median"], spread=p1090(f))
            for case, key in known:
                f = doc[hook].get(key)
                if isinstance(f, dict) and "median" in f:
                    out[(col, "pkt_%s_ns" % case)] = from_value(f["median"], spread=p1090(f))
        if out:
            return out
    for hook, col in (("tc", "svcbpf_tc"), ("xdp", "svcbpf_xdp")):
        f = pkt_lookup(doc, True, hook, None)
        if "median" in f:
            out[(col, "pkt_floor_ns")] = from_value(f["median"], spread=p1090(f))
        for case in CASES:
            f = pkt_lookup(doc, False, hook, case)
            if "median" in f:
                out[(col, "pkt_%s_ns" % case)] = from_value(f["median"], spread=p1090(f))
    return out


def p1090(f):
    if "p10" in f and "p90" in f:
        return {"min": f["p10"], "max": f["p90"], "spread_kind": "p10-p90",
                "spread_pct": 100.0 * (f["p90"] - f["p10"]) / f["median"] if f["median"] else 0}
    return None


# ------------------------------------------------------------------------------- formatting


def fmt_num(v):
    if v is None:
        return "-"
    a = abs(v)
    if a >= 1e6:
        return "%.3gM" % (v / 1e6)
    if a >= 1e4:
        return "%.3gk" % (v / 1e3)
    if a >= 100:
        return "%.0f" % v
    if a >= 10:
        return "%.1f" % v
    if a >= 1:
        return "%.2f" % v
    return "%.3g" % v


def fmt_cell(s, scale, ratio=None):
    if s is None:
        return "n/a"
    if s.get("below_noise"):
        return "<1MiB: noise"
    txt = fmt_num(s["median"] * scale)
    if s.get("spread_kind"):
        txt += " [%s-%s]" % (fmt_num(s["min"] * scale), fmt_num(s["max"] * scale))
    elif s.get("n", 1) > 1:
        txt += " ±%.0f%%" % (s["spread_pct"] / 2)
    if ratio is not None:
        txt += " %s×" % fmt_ratio(ratio)
    return txt


def fmt_ratio(r):
    if r is None:
        return ""
    if r >= 100:
        return "%.0f" % r
    if r >= 10:
        return "%.1f" % r
    return "%.2f" % r


def ratio(a, b):
    if a is None or b is None or not b["median"] or a.get("below_noise") or b.get("below_noise"):
        return None
    return a["median"] / b["median"]


# ------------------------------------------------------------------------------- main


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--meta", required=True)
    ap.add_argument("--raw", required=True)
    ap.add_argument("--notes", required=True)
    ap.add_argument("--extra", required=True)
    ap.add_argument("--elapsed", type=float, default=0)
    ap.add_argument("--out", required=True)
    a = ap.parse_args()

    meta = json.load(open(a.meta))
    sizes = meta["sizes"]
    raw = {}
    for line in open(a.raw):
        if line.strip():
            r = json.loads(line)
            raw.setdefault((r["size"], r["column"], r["figure"]), []).append(r["value"])
    notes = [json.loads(x) for x in open(a.notes) if x.strip()]
    gen, pkt = {}, {}
    for line in open(a.extra):
        if not line.strip():
            continue
        r = json.loads(line)
        if "gen" in r:
            gen[r["size"]] = r["gen"]
        if "pktbench" in r:
            pkt[r["size"]] = r["pktbench"]

    # figures[size][column][figure] = stats
    figures = {n: {c: {} for c in COLUMNS} for n in sizes}
    for (n, c, f), vals in raw.items():
        if n in figures and c in figures[n]:
            s = stats(vals)
            if s is not None:
                figures[n][c][f] = s
            elif f not in figures[n][c]:
                figures[n][c][f] = None
    for n in sizes:
        if n in pkt:
            for (c, f), s in pkt_figures(pkt[n]).items():
                figures[n][c][f] = s

    def med(n, c, f):
        s = figures[n][c].get(f)
        return s["median"] if s else None

    # Derived memory figures. Kernel memory (meminfo) per service: the delta between this size
    # and the previous one over the services added (the first size: from empty).
    svc_count = {n: gen.get(n, {}).get("services", n) for n in sizes}
    be_count = {n: gen.get(n, {}).get("backends_total", 10 * n) for n in sizes}
    for c in ("iptables", "nftables", "svcbpf_tc"):
        prev_n, prev_m = None, None
        for n in sizes:
            m = med(n, c, "mem_kernel_bytes")
            if m is not None:
                d = m if prev_m is None else m - prev_m
                v = d / max(1, svc_count[n] - (svc_count[prev_n] if prev_n else 0))
                figures[n][c]["mem_kernel_per_svc"] = from_value(v)
                if abs(d) < NOISE_BYTES:
                    figures[n][c]["mem_kernel_per_svc"]["below_noise"] = True
                if abs(m) < NOISE_BYTES:
                    figures[n][c]["mem_kernel_bytes"]["below_noise"] = True
                prev_n, prev_m = n, m
        # svcbpf map memory (memlock, the kernel's accounting per map): per service (its entry
        # in the service map, its Maglev map entry and table) and per backend (its entry), from
        # empty to N at the same map sizes.
    for n in sizes:
        c = figures[n]["svcbpf_tc"]
        svc, be, mag = (med(n, "svcbpf_tc", k) for k in
                        ("mem_svc_map_bytes", "mem_be_map_bytes", "mem_maglev_map_bytes"))
        if svc is not None and mag is not None:
            c["mem_map_per_svc"] = from_value((svc + mag) / svc_count[n])
        if be is not None:
            c["mem_map_per_be"] = from_value(be / be_count[n])

    # ---------------------------------------------------------------- table
    lines = []
    m = meta["machine"]
    t = meta["tools"]
    lines.append("svcbpf bench: scale %s, %d repeat(s) per figure, %s, %s, %d CPUs, kernel %s, %s"
                 % (meta["scale"], meta["repeats"], meta["date"], m["cpu"], m["cpus"],
                    m["kernel"], m["os"]))
    lines.append("tools: %s; %s; %s; %s; svcbpf %s%s" % (
        t["iptables"], t["nft"], t["nginx"], t["iperf3"], t["svcbpf_git"],
        "" if t.get("svcbpf_batch") else " (no 'svcbpf batch': CLI loop)"))
    lines.append("cells: median ±half the min-max spread of the repeats (per packet: [p10-p90]),"
                 " then the ratio to the floor; right: svcbpf / iptables and / nftables.")
    lines.append("       n/a: does not apply or not measured (see notes); ↓ lower is better, "
                 "↑ higher is better. Guide: bench/README.md")
    head = ["figure", "unit"] + [TITLES[c] for c in COLUMNS] + ["tc/ipt", "tc/nft", "xdp/ipt",
                                                                 "xdp/nft"]
    for n in sizes:
        gm = gen.get(n, {})
        lines.append("")
        lines.append("== %d service%s x 10 backends (the measured service %s is rule %d of %d "
                     "in KUBE-SERVICES and entry %d of %d in service-ips) ==" % (
                         svc_count[n], "" if svc_count[n] == 1 else "s",
                         gm.get("measured_service", "10.96.0.50:80"),
                         gm.get("measured_index", 0) + 1, svc_count[n] + 1,
                         gm.get("measured_index", 0) + 1, svc_count[n]))
        rows = [head]
        for fig, label, unit, better, scale in ROWS:
            cells = {c: figures[n][c].get(fig) for c in COLUMNS}
            if all(v is None for v in cells.values()) and fig not in ("pkt_new_ns", "conn_rate"):
                continue
            if fig in SHARED_SB:
                cells["svcbpf_xdp"] = cells["svcbpf_tc"]
            out = [label, unit + (" ↓" if better == "lo" else " ↑")]
            for c in COLUMNS:
                s = cells[c]
                if fig in SHARED_SB and c == "svcbpf_xdp":
                    out.append("= tc" if s is not None else "n/a")
                    continue
                if fig.startswith("pkt_") and fig != "pkt_floor_ns" and c in SB:
                    r = ratio(s, figures[n][c].get("pkt_floor_ns"))
                elif c != "floor" and not fig.startswith("pkt_"):
                    r = ratio(s, cells["floor"])
                else:
                    r = None
                out.append(fmt_cell(s, scale, r))
            for sbc in SB:
                for oc in ("iptables", "nftables"):
                    if fig in SHARED_SB and sbc == "svcbpf_xdp":
                        out.append("")
                        continue
                    r = ratio(cells[sbc], cells[oc])
                    out.append(fmt_ratio(r) + "×" if r is not None else "")
            rows.append(out)
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]
        for r in rows:
            lines.append("  ".join(
                (x.ljust(widths[i]) if i < 2 else x.rjust(widths[i])) for i, x in enumerate(r)
            ).rstrip())

    # ---------------------------------------------------------------- noise and notes
    spreads = []
    for n in sizes:
        for c in COLUMNS:
            for f in NOISE_FIGS:
                s = figures[n][c].get(f)
                if s and s["n"] >= 2:
                    spreads.append((s["spread_pct"], n, c, f))
    floor_rates = [med(n, "floor", "conn_rate") for n in sizes if med(n, "floor", "conn_rate")]
    drift = (100.0 * (max(floor_rates) - min(floor_rates)) / statistics.median(floor_rates)
             if len(floor_rates) >= 2 else None)
    noise = {}
    if spreads:
        spreads.sort()
        worst = spreads[-1]
        noise = {"median_spread_pct": statistics.median(x[0] for x in spreads),
                 "max_spread_pct": worst[0],
                 "max_spread_at": {"size": worst[1], "column": worst[2], "figure": worst[3]}}
        label = {f: l.strip() for f, l, *_ in ROWS}.get(worst[3], worst[3])
        noise_line = ("noise: the traffic figures' repeats spread %.1f%% (median of their "
                      "min-max spreads; worst %.0f%%: %s, %s, %d services)"
                      % (noise["median_spread_pct"], worst[0], TITLES[worst[2]], label,
                         worst[1]))
    else:
        noise_line = "noise: one repeat per figure: no spread measured"
    if drift is not None:
        noise["floor_conn_rate_drift_pct"] = drift
        noise_line += "; the floor's connection rate drifted %.1f%% across sizes" % drift
    lines.append("")
    lines.append(noise_line + ".")
    share = []
    for n in sizes:
        newf, trk, dfr = (med(n, "svcbpf_xdp", f) for f in
                          ("sb_new_flows", "sb_tracked", "sb_xdp_deferred"))
        if newf is not None and trk is not None and dfr is not None and newf + trk > 0:
            share.append("%.0f%% at %d" % (100.0 * dfr / (newf + trk), n))
            figures[n]["svcbpf_xdp"]["xdp_deferred_share"] = from_value(dfr / (newf + trk))
    if share:
        lines.append("svcbpf xdp: share of the service packets XDP left to tc (CHECKSUM_PARTIAL "
                     "seeds from the client's stack on a veth, see bench/README.md): %s."
                     % ", ".join(share))
    for nt in notes:
        lines.append("note [%s %s]: %s" % (nt["size"], nt["column"], nt["note"]))
    lines.append("elapsed: %.0f s" % a.elapsed)
    table = "\n".join(lines) + "\n"

    # ---------------------------------------------------------------- json
    res = dict(meta)
    res["elapsed_s"] = a.elapsed
    res["columns"] = COLUMNS
    res["rows"] = [{"figure": f, "label": l.strip(), "unit": u, "better": "lower" if b == "lo"
                    else "higher", "display_scale": s} for f, l, u, b, s in ROWS]
    res["generated"] = {str(n): gen.get(n) for n in sizes}
    res["pktbench_raw"] = {str(n): pkt.get(n) for n in sizes}
    res["results"] = {str(n): figures[n] for n in sizes}
    ratios = {}
    for n in sizes:
        rn = {}
        for fig, *_ in ROWS:
            cells = {c: figures[n][c].get(fig) for c in COLUMNS}
            if fig in SHARED_SB:
                cells["svcbpf_xdp"] = cells["svcbpf_tc"]
            d = {}
            for c in COLUMNS[1:]:
                base = (figures[n][c].get("pkt_floor_ns") if fig.startswith("pkt_")
                        else cells["floor"])
                if fig != "pkt_floor_ns":
                    d["%s/floor" % c] = ratio(cells[c], base)
            for sbc in SB:
                for oc in ("iptables", "nftables"):
                    d["%s/%s" % (sbc, oc)] = ratio(cells[sbc], cells[oc])
            rn[fig] = {k: v for k, v in d.items() if v is not None}
        ratios[str(n)] = rn
    res["ratios"] = ratios
    res["noise"] = noise
    res["notes"] = notes
    os.makedirs(a.out, exist_ok=True)
    with open(os.path.join(a.out, "results.json"), "w") as f:
        json.dump(res, f, indent=1)
        f.write("\n")
    with open(os.path.join(a.out, "results.txt"), "w") as f:
        f.write(table)
    write_gnuplot(a.out, sizes, svc_count, figures, meta)


def write_gnuplot(out, sizes, svc_count, figures, meta):
    def dat(name, series):
        """series: [(title, column, figure, scale)]; only those with a number are kept."""
        path = os.path.join(out, "results-%s.dat" % name)
        kept = [sr for sr in series
                if any(figures[n][sr[1]].get(sr[2]) for n in sizes)]
        with open(path, "w") as f:
            f.write("# services " + " ".join('"%s"' % s[0] for s in kept) + "\n")
            for n in sizes:
                vals = []
                for _, c, fig, scale in kept:
                    s = figures[n][c].get(fig)
                    vals.append("%g" % (s["median"] * scale) if s else "NaN")
                f.write("%d %s\n" % (svc_count[n], " ".join(vals)))
        return os.path.basename(path), [s[0] for s in kept]

    traffic = [(TITLES[c], c) for c in COLUMNS]
    panels = [
        ("new connections/s (16 in flight)", "conn/s", False,
         dat("conn", [(t, c, "conn_rate", 1) for t, c in traffic])),
        ("connection latency p99 (16 in flight)", "µs", False,
         dat("p99", [(t, c, "conn_p99_us", 1) for t, c in traffic])),
        ("bulk throughput (iperf3)", "Gbit/s", False,
         dat("bulk", [(t, c, "bulk_gbps", 1) for t, c in traffic])),
        ("program N services x 10 backends", "ms", True,
         dat("prog", [("iptables", "iptables", "program_s", 1e3),
                      ("nftables", "nftables", "program_s", 1e3),
                      ("svcbpf", "svcbpf_tc", "program_s", 1e3)])),
        ("change 1 backend with N services", "ms", True,
         dat("upd", [("iptables partial restore", "iptables", "update_s", 1e3),
                     ("iptables changed chains only", "iptables", "update_alt_s", 1e3),
                     ("nftables", "nftables", "update_s", 1e3),
                     ("svcbpf CLI", "svcbpf_tc", "update_s", 1e3),
                     ("svcbpf batch", "svcbpf_tc", "update_alt_s", 1e3)])),
        ("per packet (BPF\\_PROG\\_TEST\\_RUN)", "ns", False,
         dat("pkt", [("tc new flow", "svcbpf_tc", "pkt_new_ns", 1),
                     ("tc established", "svcbpf_tc", "pkt_est_ns", 1),
                     ("tc not a service", "svcbpf_tc", "pkt_nonsvc_ns", 1),
                     ("tc parse-and-pass", "svcbpf_tc", "pkt_floor_ns", 1),
                     ("xdp new flow", "svcbpf_xdp", "pkt_new_ns", 1),
                     ("xdp established", "svcbpf_xdp", "pkt_est_ns", 1),
                     ("xdp parse-and-pass", "svcbpf_xdp", "pkt_floor_ns", 1)])),
    ]
    gp = [
        "set terminal pngcairo size 1500,900 font ',9'",
        "set output 'results.png'",
        "set datafile missing 'NaN'",
        "set multiplot layout 2,3 title 'svcbpf bench (%s, %s, kernel %s): cost against the "
        "number of services'" % (meta["scale"], meta["date"], meta["machine"]["kernel"]),
        "set logscale x 10",
        "set xlabel 'services (10 backends each)'",
        "set key top left font ',8' box opaque",
        "set grid",
        "set xrange [0.5:%g]" % (max(svc_count.values()) * 2),
    ]
    for title, unit, logy, (fname, names) in panels:
        gp.append("set title '%s'" % title)
        gp.append("set ylabel '%s'" % unit)
        gp.append("set logscale y" if logy else "unset logscale y")
        gp.append("set yrange [*:*]" if logy else "set yrange [0:*]")
        if not names:
            gp += ["set yrange [0:1]", "set label 1 'not measured' at graph 0.5,0.5 center",
                   "plot 2 notitle", "unset label 1"]
            continue
        plots = ["'%s' using 1:%d with linespoints lw 2 title '%s'" % (fname, i + 2, nm)
                 for i, nm in enumerate(names)]
        gp.append("plot " + ", \\\n     ".join(plots))
    gp.append("unset multiplot")
    with open(os.path.join(out, "results.gp"), "w") as f:
        f.write("\n".join(gp) + "\n")


if __name__ == "__main__":
    main()
