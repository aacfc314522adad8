#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A hostile guest against msbnet's TCP: a SYN flood over many ports (to I,
# to a blackholed network in I, to H's own addresses), an out-of-order
# flood on hand-made connections, and one-byte / small segments into a
# server that never reads (per flow, then many flows against a 1 MiB
# tcp_buffer_max_bytes).  msbnetd runs `tap --netns` on G; the raw frames
# come from hostile_frames.py on tap0 while a legitimate 8 MiB transfer
# loops over the guest's IPv6.  Each attack must show in its counter, keep
# RSS bounded and `msbnetctl status` under 100 ms; the table at the end
# gives the figures.
#   usage: hostile_guest_tcp.sh PATH_TO_MSBNETD PATH_TO_MSBNETCTL
set -uo pipefail
msbnetd=$(realpath "${1:?usage: hostile_guest_tcp.sh MSBNETD MSBNETCTL}")
msbnetctl=$(realpath "${2:?usage: hostile_guest_tcp.sh MSBNETD MSBNETCTL}")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/topology.sh"
topo_require curl jq /usr/bin/python3 timeout sha256sum
topo_up || exit 1
source "$here/../lib/checks.sh"
source "$here/hostile_guest_lib.sh"

MAX_FLOWS=1024
# The SYN flood fills the guest's flow table: its own legitimate connects
# are refused then, and only then.
HG_CAP_PHASES=synflood
BUDGET=$((1 << 20))
hg_setup || exit 1
# A network I drops silently: connects to it hang until connect_timeout_ms.
ip -n "$TOPO_I" route add blackhole 198.18.1.0/24 || exit 1
topo_bg I sink "$HG_PY" "$here/hostile_listen.py" sink 9100 4096
topo_bg H hlisten "$HG_PY" "$here/hostile_listen.py" count 1500
for n in sink hlisten; do
    for ((i = 0; i < 100; i++)); do grep -q listening "$TOPO_DIR/logs/$n.log" && break; sleep 0.05; done
done
hg_start "{\"policy\": \"$HG_POLICY\", \"max_flows\": $MAX_FLOWS, \"connect_timeout_ms\": 6000,
  \"tcp_buffer_max_bytes\": $BUDGET}" || exit 1
hg_baseline 3

# Waits (bounded) until the TCP flow gauge is back to the legitimate
# transfer's one flow at most.
flows_settle() {
    local f deadline=$((SECONDS + 25))
    while ((SECONDS < deadline)); do
        f=$("$msbnetctl" --socket "$HG_SOCK" metrics | awk '$1 == "tcp.flows" {print $2}')
        [[ ${f:-9} -le 1 ]] && return 0
        sleep 0.1
    done
    bad "$1_flows_released" "tcp.flows still $f"
}

# --- 1. SYN flood ----------------------------------------------------------------
# 2000 SYNs each: a blackholed network in I (held until the 6 s connect
# timeout, longer than the flood takes even slowed down: these fill the
# table, so at least 2000 - max_flows of them meet the cap), closed ports of I (refused at once), and
# H's own addresses in both families (the host group: refused by policy;
# the range leaves out 53, which the policy allows to the host group and
# msbnet's own DNS server answers).
hg_phase synflood
hg_frames synflood 8000 198.18.1.7:1000-2999 198.18.0.1:20000-21999 198.18.0.2:1000-2999 "[fd42::2]:1000-2999"
syn_secs=$(out seconds)
hg_phase_end
flows_settle synflood
d_cap=$(hg_delta synflood .drops.tcp_flow_cap)
d_denied=$(hg_delta synflood .tcp.denied)
d_hostlocal=$(hg_delta synflood .policy.host_local)
d_refused=$(hg_delta synflood .tcp.connects_refused)
peak_flows=$(hg_peak synflood tcp.flows)
hg_expect synflood_flow_cap_counted "$d_cap" -ge $((2000 - MAX_FLOWS))
hg_expect synflood_flows_capped "${peak_flows:-x}" -le "$MAX_FLOWS"
hg_expect synflood_table_filled "${peak_flows:-0}" -ge $((MAX_FLOWS * 9 / 10))
hg_expect synflood_host_addresses_denied "$d_denied" -eq 4000
hg_expect synflood_host_addresses_host_local "$d_hostlocal" -eq 4000
hg_expect synflood_closed_ports_refused "$d_refused" -ge 1
hg_expect synflood_nothing_reached_h "$(grep -c '^tcp ' "$TOPO_DIR/logs/hlisten.log")" -eq 0
hg_check_phase synflood $((4096 + MAX_FLOWS))
hg_row synflood "flows<=$peak_flows tcp_flow_cap+$d_cap denied+$d_denied host_local+$d_hostlocal refused+$d_refused (${syn_secs}s, $(out rst) RST back)"
syn_rss=$(hg_peak synflood rss_kb)

# --- 2. out-of-order flood -------------------------------------------------------
# 20 connections, each 3000 one-byte segments ahead of the next expected
# byte: lwIP queues 64 per flow, the rest are dropped at the edge; the
# missing byte then releases exactly those 64.
hg_phase ooseq
hg_frames ooseq 198.18.0.1 9100 20 3000
hg_phase_end
flows_settle ooseq
d_oo=$(hg_delta ooseq .tcp.ooseq_dropped)
hg_expect ooseq_dropped_counted "$d_oo" -eq $((20 * (3000 - 64)))
acks=$(out acked_after_fill)
if [[ $(tr ' ' '\n' <<<"$acks" | sort -u) == 65 ]]; then ok ooseq_queue_kept_64_per_flow
else bad ooseq_queue_kept_64_per_flow "acknowledged after the fill: $acks"; fi
hg_check_phase ooseq $((4096 + 20 * 64 * 2))
hg_row ooseq "ooseq_dropped+$d_oo (20 flows x 3000 segs), ack after fill 65 each"

# Bytes, not segments: 100 window-scaled connections (lwIP's receive
# window is 2 MiB then) each get 63 full segments past a one-byte hole,
# 9.2 MB in all.  lwIP's queues count against the 1 MiB budget with what
# msbnet buffers: past it, out-of-order segments are dropped at the edge
# (the guest resends them once the hole is filled).  Before they counted,
# all 9.2 MB stayed in msbnetd (its RSS grew by ~11 MB).
OO_FLOWS=100 OO_SEGS=63 MSS=1460
hg_phase ooseqbytes
hg_frames ooseqbytes 198.18.0.1 9100 $OO_FLOWS $OO_SEGS $MSS
hg_phase_end
flows_settle ooseqbytes
d_oo=$(hg_delta ooseqbytes .tcp.ooseq_dropped)
peak_held=$(hg_peak ooseqbytes tcp.lwip_held_bytes)
peak_buf=$(hg_peak ooseqbytes tcp.buffered_bytes)
kept=$(out kept_segments_total)
# Each flow may add a segment beyond the budget on each side (lwIP's and
# msbnet's): the sum of the two peaks bounds what was held at any time.
hg_expect ooseqbytes_held_at_most_budget_plus_two_segments_per_flow \
    $((${peak_held:-BUDGET} + ${peak_buf:-0})) -le $((BUDGET + 2 * OO_FLOWS * MSS))
hg_expect ooseqbytes_budget_filled "${peak_held:-0}" -ge $((BUDGET * 8 / 10))
hg_expect ooseqbytes_dropped_counted "$d_oo" -ge $((OO_FLOWS * OO_SEGS - (BUDGET + 2 * OO_FLOWS * MSS) / MSS))
hg_expect ooseqbytes_kept_within_budget "${kept:-x}" -le $(((BUDGET + 2 * OO_FLOWS * MSS) / MSS))
hg_expect ooseqbytes_kept_some "${kept:-0}" -ge $((BUDGET * 8 / 10 / MSS))
hg_expect ooseqbytes_lwip_held_back_to_zero "$(hg_value ooseqbytes .tcp.lwip_held_bytes)" -eq 0
hg_check_phase ooseqbytes $((4096 + 2 * BUDGET / 1024))
hg_row ooseqbytes "lwip_held<=$peak_held ooseq_dropped+$d_oo kept $kept segs ($OO_FLOWS flows x $OO_SEGS x $MSS B)"

# --- 3. small segments into a server that never reads ---------------------------
# One flow of one-byte segments: merged into 4 KiB buffers, never more
# than the window (64 KiB) held for it.  The first 40 KB go in 1200-byte
# segments: the host's socket buffers take that much before the server's
# silence shows, and 40,000 one-byte frames more would test nothing new.
hg_phase small1
hg_frames trickle 198.18.0.1 9100 1 1 15 40000
hg_phase_end
flows_settle small1
d_merged=$(hg_delta small1 .tcp.small_segments_merged)
peak_buf=$(hg_peak small1 tcp.buffered_bytes)
hg_expect small1_segments_merged "$d_merged" -ge 1000
hg_expect small1_buffered_within_window "${peak_buf:-x}" -le 65535
hg_expect small1_window_filled "${peak_buf:-0}" -ge 32768
hg_check_phase small1 $((4096 + 64))
hg_row small1 "small_segments_merged+$d_merged buffered<=$peak_buf (1 flow, $(out acked_total) B acked)"

# 40 flows of 512-byte segments (still "small": merged) against the 1 MiB
# budget: 40 windows would hold 2.5 MiB; the budget holds, the rest waits
# in lwIP (recv_deferred).  512 rather than 1 byte only to fill 40 windows
# in seconds: the budget counts bytes, whatever the segment size.
hg_phase budget
hg_frames trickle 198.18.0.1 9100 40 512 12
hg_phase_end
flows_settle budget
d_def=$(hg_delta budget .tcp.recv_deferred)
d_merged=$(hg_delta budget .tcp.small_segments_merged)
peak_buf=$(hg_peak budget tcp.buffered_bytes)
hg_expect budget_recv_deferred "$d_def" -ge 1
hg_expect budget_segments_merged "$d_merged" -ge 1000
# Past the budget a flow holding nothing still takes one segment (at most
# the MSS, 1460 here: two of these 512-byte ones fit), never the gap and
# out-of-order queue lwIP hands over after a loss (tens of KiB at once).
hg_expect budget_buffered_at_most_budget_plus_a_segment_per_flow "${peak_buf:-x}" -le $((BUDGET + 40 * 1460))
hg_expect budget_buffered_near_budget "${peak_buf:-0}" -ge $((BUDGET * 9 / 10))
hg_check_phase budget $((4096 + BUDGET * 5 / 4 / 1024 + 40))
hg_row budget "recv_deferred+$d_def merged+$d_merged buffered<=$peak_buf (budget $BUDGET, 40 flows)"
hg_expect buffered_bytes_back_to_zero "$(hg_value budget .tcp.buffered_bytes)" -eq 0
hg_expect no_bad_transition "$(hg_value budget .tcp.bad_transition)" -eq 0

hg_stop
checks_done
