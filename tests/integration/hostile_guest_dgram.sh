#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A hostile guest against msbnet's datagram paths: a UDP session flood from
# thousands of source ports, a DNS flood of binary-label names under a
# denied suffix (none may reach the upstream dnsmasq) and of names no
# resolver answers (the in-flight cap), and an IPv4 fragment flood (never
# completed, overlapping, tiny).  msbnetd runs `tap --netns` on G; the raw
# frames come from hostile_frames.py on tap0 while a legitimate 8 MiB
# transfer loops over the guest's IPv6.  Each attack must show in its
# counter, keep RSS bounded and GetStatus under 100 ms; the table at the
# end gives the figures.
#   usage: hostile_guest_dgram.sh PATH_TO_MSBNETD PATH_TO_MSBNETCTL
set -uo pipefail
msbnetd=$(realpath "${1:?usage: hostile_guest_dgram.sh MSBNETD MSBNETCTL}")
msbnetctl=$(realpath "${2:?usage: hostile_guest_dgram.sh MSBNETD MSBNETCTL}")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/topology.sh"
topo_require curl jq /usr/bin/python3 timeout sha256sum dnsmasq
topo_up || exit 1
source "$here/../lib/checks.sh"
source "$here/hostile_guest_lib.sh"

MAX_UDP=256
REASM_MAX=64 REASM_BYTES=262144
hg_setup || exit 1
# A network I drops silently: a resolver there never answers.
ip -n "$TOPO_I" route add blackhole 198.18.1.0/24 || exit 1
topo_start_dnsmasq_i --address=/notblocked.test/198.18.0.1 || exit 1
dnslog=$TOPO_DIR/logs/dnsmasq-i-53.queries.log
topo_bg I ilisten "$HG_PY" "$here/hostile_listen.py" count 9999
for ((i = 0; i < 100; i++)); do grep -q listening "$TOPO_DIR/logs/ilisten.log" && break; sleep 0.05; done
hg_start "{\"policy\": \"deny@suffix=blocked.test, $HG_POLICY\", \"max_udp_sessions\": $MAX_UDP,
  \"dns_query_timeout_ms\": 2000, \"reasm_max_datagrams\": $REASM_MAX,
  \"reasm_max_bytes\": $REASM_BYTES, \"reasm_timeout_s\": 3}" || exit 1
hg_baseline 3

# wait_gauge JQ WANT SECS: until the gauge (msbnetctl --json metrics) is at most WANT.
wait_gauge() {
    local v deadline=$((SECONDS + $3))
    while ((SECONDS < deadline)); do
        v=$("$msbnetctl" --socket "$HG_SOCK" --json metrics | jq "$1")
        [[ ${v:-x} =~ ^[0-9]+$ ]] && ((v <= $2)) && return 0
        sleep 0.1
    done
    bad "settled $1" "still ${v:-?} after $3 s"
}

# --- 4. UDP session flood --------------------------------------------------------
# 5000 datagrams to I, each from a new source port: one session each, at
# most max_udp_sessions at once, the least recently active recycled.
hg_phase udpflood
hg_frames udpflood 198.18.0.1 9999 5000
hg_phase_end
d_open=$(hg_delta udpflood .udp.sessions_opened)
d_recy=$(hg_delta udpflood .udp.sessions_recycled)
peak_sess=$(hg_peak udpflood udp.sessions)
# Every datagram relayed: the listener in I logs each (bounded wait).
for ((i = 0; i < 100; i++)); do
    n_i=$(grep -c "FLOOD" "$TOPO_DIR/logs/ilisten.log")
    ((n_i >= 5000)) && break
    sleep 0.1
done
hg_expect udpflood_sessions_opened "$d_open" -eq 5000
hg_expect udpflood_sessions_capped "$(hg_value udpflood .udp.sessions)" -le $MAX_UDP
hg_expect udpflood_sessions_capped_peak "${peak_sess:-x}" -le $MAX_UDP
hg_expect udpflood_sessions_recycled "$d_recy" -ge $((5000 - MAX_UDP))
hg_expect udpflood_every_datagram_relayed "$n_i" -eq 5000
hg_check_phase udpflood $((4096 + MAX_UDP))
hg_row udpflood "sessions<=$peak_sess (cap $MAX_UDP) opened+$d_open recycled+$d_recy, I got $n_i"

# --- 5. DNS floods -----------------------------------------------------------------
# A control first: a name under no rule is forwarded and answered, and the
# upstream's log shows it (so an empty log below means something).
hg_frames dnsquery "$GW4" 20 notblocked.test
expect dns_control_answered "rcodes 0:20" "rcodes $(out rcodes)"
for ((i = 0; i < 50; i++)); do grep -q 'notblocked\.test' "$dnslog" && break; sleep 0.1; done
hg_expect dns_control_reached_upstream "$(grep -c 'query\[A\] notblocked\.test' "$dnslog")" -ge 1

# 3000 queries for binary-label names under blocked.test, to the gateway's
# resolver and to a resolver of the guest's choosing: every one REFUSED
# by the name rule, none forwarded.
hg_phase dnsdeny
hg_frames dnsflood "$GW4" 3000 blocked.test
r_gw=$(out rcodes) slow_gw=$(out slowest_ms) chars=$(out name_text_chars_min)
hg_frames dnsflood 198.18.1.53 3000 blocked.test
r_any=$(out rcodes) slow_any=$(out slowest_ms)
hg_phase_end
expect dnsdeny_gateway_resolver_all_refused "rcodes 5:3000" "rcodes $r_gw"
expect dnsdeny_chosen_resolver_all_refused "rcodes 5:3000" "rcodes $r_any"
hg_expect dnsdeny_names_over_253_chars "${chars:-0}" -gt 253
hg_expect dnsdeny_name_denied_counted "$(hg_delta dnsdeny .dns.name_denied)" -eq 6000
hg_expect dnsdeny_nothing_forwarded "$(hg_delta dnsdeny .dns.forwarded)" -eq 0
hg_expect dnsdeny_upstream_saw_none "$(grep -cE 'query\[[A-Z]+\] (.*\.)?blocked\.test ' "$dnslog")" -eq 0
hg_expect dnsdeny_refused_within_1s "${slow_gw:-x}" -lt 1000
hg_check_phase dnsdeny 4096
hg_row dnsdeny "name_denied+$(hg_delta dnsdeny .dns.name_denied) forwarded+$(hg_delta dnsdeny .dns.forwarded), names >= $chars chars, refused within ${slow_gw}/${slow_any} ms"

# 1000 queries for an allowed name to a resolver that never answers: at
# most 256 in flight, the rest SERVFAIL at once; the rest at the timeout.
hg_phase dnsinflight
hg_frames dnsquery 198.18.1.53 1000 slow.test
r_fl=$(out rcodes)
hg_phase_end
wait_gauge .dns.in_flight 0 10
peak_fl=$(hg_peak dnsinflight dns.in_flight)
d_cap=$(hg_delta dnsinflight .dns.in_flight_cap)
expect dnsinflight_all_answered_servfail "rcodes 2:1000" "rcodes $r_fl"
hg_expect dnsinflight_capped "${peak_fl:-x}" -le 256
hg_expect dnsinflight_cap_counted "$d_cap" -ge $((1000 - 256))
hg_check_phase dnsinflight $((4096 + 256 * 4))
hg_row dnsinflight "in_flight<=$peak_fl in_flight_cap+$d_cap upstream_timeouts+$(hg_delta dnsinflight .dns.upstream_timeouts)"

# --- 6. fragment flood --------------------------------------------------------------
# 300 datagrams of 20 fragments that never end, 300 with overlapping
# fragments, 30 of 300 8-byte fragments, then one honest 3000-byte datagram
# in three fragments, which must still arrive.
hg_phase frags
hg_frames fragflood 198.18.0.1 9999 300
hg_phase_end
wait_gauge .reassembly.pending 0 10
d_cap=$(hg_delta frags .drops.reasm_cap) d_ovl=$(hg_delta frags .drops.reasm_overlap)
d_to=$(hg_delta frags .drops.reasm_timeout) d_mal=$(hg_delta frags .drops.reasm_malformed)
snap_end=$TOPO_DIR/frags.settled.json
hg_snap "$snap_end"
d_to=$(jq -n --slurpfile a "$snap_end" --slurpfile b "$TOPO_DIR/frags.before.json" '$a[0].drops.reasm_timeout - $b[0].drops.reasm_timeout')
peak_pend=$(hg_peak frags reassembly.pending) peak_bytes=$(hg_peak frags reassembly.bytes)
hg_expect frags_pending_capped "${peak_pend:-x}" -le $REASM_MAX
hg_expect frags_bytes_capped "${peak_bytes:-x}" -le $REASM_BYTES
hg_expect frags_cap_evictions_counted "$d_cap" -ge 1
hg_expect frags_overlaps_counted "$d_ovl" -ge 1
hg_expect frags_timeouts_counted "$d_to" -ge 1
for ((i = 0; i < 50; i++)); do grep -q WHOLE "$TOPO_DIR/logs/ilisten.log" && break; sleep 0.1; done
hg_expect frags_honest_datagram_still_reassembled "$(grep -c WHOLE "$TOPO_DIR/logs/ilisten.log")" -eq 1
hg_expect frags_nothing_else_delivered "$(grep -c "b'FFFF\|b'OOOO\|b'tiny" "$TOPO_DIR/logs/ilisten.log")" -eq 0
hg_check_phase frags $((4096 + 2 * REASM_BYTES / 1024))
hg_row frags "pending<=$peak_pend bytes<=$peak_bytes reasm_cap+$d_cap overlap+$d_ovl malformed+$d_mal timeout+$d_to"

hg_stop
checks_done
