# SPDX-License-Identifier: Apache-2.0
"""targets.py — msbnet's performance targets, judged from the benchmarks' JSON
files (peers.sh, udp_rr.sh, dns_qps.sh, rss.sh, conn_rate.sh, each run with
OUT=...): prints one row per target with msbnet's value, the best peer's, the
ratio, the target and PASS/MISS; optionally merges everything into one JSON
file and draws a bar chart with gnuplot.

  targets.py [--out ALL.json] [--png CHART.png] [--meta KEY=VALUE]... SECTION=FILE...
  SECTION: peers, udp_rr, dns_qps, rss, conn_rate (only those given are judged)
  targets.py --from ALL.json [--png CHART.png]   judge (and draw) a merged file again

"Best peer" is the best of slirp4netns, pasta and pasta_root in that row (DNS:
dnsmasq asked directly; RSS: absolute limits, slirp4netns shown for scale).
"""
import json
import os
import subprocess
import sys
import tempfile

PEERS = ("slirp4netns", "pasta", "pasta_root")
SERIES = ("msbnet",) + PEERS  # the chart's bars, in this order
FLOWS_TARGET = 65536


def judge(ratio, op, target):
    if ratio is None:
        return "n/a"
    if op == ">=":
        return "PASS" if ratio >= target else "MISS"
    if op == "<=":
        return "PASS" if ratio <= target else "MISS"
    return "PASS" if target[0] <= ratio <= target[1] else "MISS"  # "within"


def med(sec, key):
    v = (sec or {}).get(key)
    return v["median"] if v else None


def relative(label, short, sec, key, op, target, refs=PEERS, higher=True):
    """msbnet against the best of refs, as the ratio msbnet / best."""
    vals = {s: med(sec, key.format(s)) for s in ("msbnet",) + tuple(refs)}
    got = {s: vals[s] for s in refs if vals[s]}
    best = (max if higher else min)(got, key=got.get) if got else None
    ref = vals[best] if best else None
    ratio = vals["msbnet"] / ref if vals["msbnet"] and ref else None
    return dict(measure=label, short=short, value=vals["msbnet"], ref=best, ref_value=ref,
                ratio=ratio, op=op, target=target, result=judge(ratio, op, target),
                bars={s: v / ref for s, v in vals.items() if v and ref and s in SERIES})


def absolute(label, short, value, op, limit, unit, peer_value=None):
    """msbnet against a fixed limit; slirp4netns's value for scale."""
    return dict(measure=label, short=short, value=value, ref="slirp4netns" if peer_value else None,
                ref_value=peer_value, ratio=None, op=op, target=limit, unit=unit,
                result=judge(value, op, limit),
                bars={s: v / limit for s, v in (("msbnet", value), ("slirp4netns", peer_value)) if v})


def rows(d):
    out = []
    p = d.get("peers")
    if p is not None:
        for mtu in (1500, 65520):
            out.append(relative("TCP guest->host, MTU %d, Gbit/s" % mtu, "TCP guest->host|MTU %d" % mtu, p,
                                "{}/%d/tput_g2h" % mtu, ">=", 2.0))
        for mtu in (1500, 65520):
            out.append(relative("TCP host->guest, MTU %d, Gbit/s" % mtu, "TCP host->guest|MTU %d" % mtu, p,
                                "{}/%d/tput_h2g" % mtu, ">=", 1.2))
        out.append(relative("TCP connections/s (new connection per request), MTU 1500",
                            "TCP conn/s|MTU 1500", p, "{}/1500/crr", ">=", 1.5))
        out.append(relative("1-byte TCP round trip p50, MTU 1500, us (lower is better)",
                            "TCP RTT p50|(lower: better)", p, "{}/1500/rtt_p50", "<=", 0.8, higher=False))
    u = d.get("udp_rr")
    if u is not None:
        sizes = sorted({int(k.split("_")[-1]) for k in u if k.startswith("msbnet/rr_")}) or [64]
        for size in sizes:
            out.append(relative("UDP round trips/s, %d B" % size, "UDP round trips/s|%d B" % size, u,
                                "{}/rr_%d" % size, ">=", 1.2))
    q = d.get("dns_qps")
    if q is not None:
        out.append(relative("DNS queries/s, 32 outstanding (vs dnsmasq directly)", "DNS queries/s|32 outstanding", q,
                            "{}/qps_w32", ">=", 0.8, refs=("direct",)))
        out[-1]["bars"].update({s: v / out[-1]["ref_value"] for s in PEERS
                                if (v := med(q, s + "/qps_w32")) and out[-1]["ref_value"]})
    r = d.get("rss")
    if r is not None:
        kib = lambda s, k: med(r, "%s/%s" % (s, k))
        mib = lambda v: v / 1024 if v else None
        out.append(absolute("RSS idle, MiB", "RSS idle / 8 MiB|(lower: better)", mib(kib("msbnet", "idle_kib")), "<=", 8.0,
                            "MiB", mib(kib("slirp4netns", "idle_kib"))))
        out.append(absolute("RSS per idle TCP flow, KiB", "RSS per flow|/ 16 KiB (lower: better)", kib("msbnet", "per_flow_kib"),
                            "<=", 16.0, "KiB", kib("slirp4netns", "per_flow_kib")))
        row = absolute("TCP flows held at once (established in I)", "flows held|/ %d" % FLOWS_TARGET,
                       kib("msbnet", "flows_held"), ">=", FLOWS_TARGET, "",
                       kib("slirp4netns", "flows_held"))
        asked, nofile = kib("msbnet", "flows"), kib("limits", "nofile")
        if asked is not None and asked < FLOWS_TARGET:
            row["result"], row["note"] = "n/a", "rss.sh ran %d flows, not %d" % (asked, FLOWS_TARGET)
        elif row["result"] == "MISS" and nofile and nofile < FLOWS_TARGET + 4096:
            row["note"] = "this machine caps descriptors at %d (RLIMIT_NOFILE)" % nofile
        out.append(row)
    c = d.get("conn_rate")
    if c is not None:
        total = relative("Sustained connections/s (client-first close), all", "sustained conn/s|all",
                         c, "{}/conn_total", ">=", 1.5)
        ratio = med(c, "msbnet/conn_ratio")
        bars = {s: v for s in SERIES if (v := med(c, s + "/conn_ratio"))}
        out.append(dict(measure="Sustained connections/s, last / first window", short="sustained conn/s|last / first",
                        value=ratio, ref=None, ref_value=None, ratio=ratio, op="within",
                        target=(0.8, 1.2), result=judge(ratio, "within", (0.8, 1.2)), bars=bars))
        out.append(total)
    return out


def fmt(v):
    if v is None:
        return "-"
    return "%.0f" % v if abs(v) >= 100 else "%.2f" % v


def target_text(r):
    if r["op"] == "within":
        return "%.1f..%.1f" % r["target"]
    return "%s %g%s" % (r["op"], r["target"], " " + r["unit"] if "unit" in r else "x")


def print_rows(rs):
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from bench_table import print_table
    head = ["measure", "msbnet", "best peer", "ratio", "target", "result"]
    print_table(head, [[r["measure"], fmt(r["value"]),
                        "%s (%s)" % (fmt(r["ref_value"]), r["ref"]) if r["ref"] else "-",
                        "%.2fx" % r["ratio"] if r["ratio"] is not None and r["op"] != "within"
                        else (fmt(r["ratio"]) if r["ratio"] is not None else "-"),
                        target_text(r), r["result"]] for r in rs])
    for r in rs:
        if r.get("note"):
            print("  %s: %s" % (r["measure"], r["note"]))
    n = [r["result"] for r in rs]
    print("%d PASS, %d MISS, %d n/a" % (n.count("PASS"), n.count("MISS"), n.count("n/a")))


def chart(rs, png, title):
    """One cluster per target: each stack's ratio to the best peer (to the
    limit for RSS, last/first for the sustained rate), target lines in red."""
    rs = [r for r in rs if r["bars"]]
    if not rs:
        return
    vals = [v for r in rs for v in r["bars"].values() if v > 0]
    lo, hi = min(vals + [0.5]) / 2, max(vals + [2.0]) * 2
    with tempfile.TemporaryDirectory() as tmp:
        data = os.path.join(tmp, "bars.dat")
        with open(data, "w") as f:
            for r in rs:
                f.write(" ".join("%g" % r["bars"][s] if r["bars"].get(s) else "?" for s in SERIES) + "\n")
        g = ['set terminal pngcairo noenhanced size %d,640 font "sans,9"' % max(900, 130 * len(rs) + 200),
             "set output '%s'" % png.replace("'", ""),
             'set title "%s"' % title.replace('"', "'"),
             "set style data histogram", "set style histogram clustered gap 1",
             "set style fill solid 0.85 border -1", "set boxwidth 0.9", "set key top right",
             "set logscale y", "set yrange [%g:%g]" % (lo, hi), "set grid ytics",
             'set ylabel "ratio to the best peer (log scale)"',
             'set label "RSS: value / limit; sustained last / first: each stack\'s own; red: target"'
             ' at graph 0.01, graph 0.97 left',
             "set datafile missing '?'", "set xtics nomirror",
             "set bmargin 6"]
        tics = []
        for i, r in enumerate(rs):
            tics.append('"%s\\n%s" %d' % (r["short"].replace("|", "\\n"), r["result"], i))
            ts = r["target"] if r["op"] == "within" else (r["target"],)
            if r["op"] != "within" and "unit" in r:
                ts = (1.0,)  # RSS rows are drawn as value / limit
            for t in ts:
                g.append("set arrow from %g,%g to %g,%g nohead lc rgb 'red' lw 3 front"
                         % (i - 0.45, t, i + 0.45, t))
        g.append("set xtics (%s)" % ", ".join(tics))
        colors = ("#1f77b4", "#aaaaaa", "#ff9f40", "#9467bd")
        g.append("plot " + ", ".join("'%s' using %d title '%s' lc rgb '%s'" % (data, j + 1, s, colors[j])
                                     for j, s in enumerate(SERIES))
                 # msbnet's ratio above its bar (the first of 4 + a gap of 1 in each cluster)
                 + ", '%s' using ($0 - 0.3):1:(sprintf('%%.2f', $1)) with labels offset 0,0.6"
                 " font ',8' notitle" % data)
        subprocess.run(["gnuplot"], input="\n".join(g) + "\n", text=True, check=True)


def main(argv):
    out = png = None
    meta, sections = {}, {}
    args = iter(argv)
    for a in args:
        if a == "--out":
            out = next(args)
        elif a == "--png":
            png = next(args)
        elif a == "--from":
            merged = json.load(open(next(args)))
            meta = merged.pop("meta", {})
            merged.pop("targets", None)
            sections.update(merged)
        elif a == "--meta":
            k, _, v = next(args).partition("=")
            meta[k] = v
        else:
            k, _, path = a.partition("=")
            if os.path.exists(path) and os.path.getsize(path):
                sections[k] = json.load(open(path))
            else:
                sections[k] = {}  # the benchmark ran but wrote nothing: its rows say n/a
    rs = rows(sections)
    print_rows(rs)
    if out:
        json.dump(dict(meta=meta, targets=rs, **sections), open(out, "w"), indent=1, sort_keys=True)
    if png:
        chart(rs, png, "msbnet performance targets (%s)" % meta.get("date", ""))


if __name__ == "__main__":
    main(sys.argv[1:])
