#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# A hostile guest that lies about who it is or where it goes: frames from
# another source MAC, from addresses not its own (a neighbour, the gateway,
# I), ARP and NDP claiming the gateway's address; then TCP, UDP and ICMP to
# the host's own addresses and every loopback/unspecified spelling, with a
# listener on every address of H (TCP and UDP, 0.0.0.0 and ::) that must
# see nothing; the loopback spellings again under `allow@any`.  msbnetd
# runs `tap --netns` on G; frames come from hostile_frames.py on tap0
# while a legitimate 8 MiB transfer loops over the guest's IPv6.
#   usage: hostile_guest_spoof.sh PATH_TO_MSBNETD PATH_TO_MSBNETCTL
set -uo pipefail
msbnetd=$(realpath "${1:?usage: hostile_guest_spoof.sh MSBNETD MSBNETCTL}")
msbnetctl=$(realpath "${2:?usage: hostile_guest_spoof.sh MSBNETD MSBNETCTL}")
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/topology.sh"
topo_require curl jq /usr/bin/python3 timeout sha256sum
topo_up || exit 1
source "$here/../lib/checks.sh"
source "$here/hostile_guest_lib.sh"

hg_setup || exit 1
topo_bg I ilisten "$HG_PY" "$here/hostile_listen.py" count 9999
# H: every address, both transports, a port of its own and 53 (which
# msbnet's DNS interception and TCP/53 server take for themselves).
topo_bg H hlisten "$HG_PY" "$here/hostile_listen.py" count 7777 53
for n in ilisten hlisten; do
    for ((i = 0; i < 100; i++)); do grep -q listening "$TOPO_DIR/logs/$n.log" && break; sleep 0.05; done
done
hg_start "{\"policy\": \"$HG_POLICY\"}" || exit 1
hg_baseline 3

# --- 7. spoofing --------------------------------------------------------------------
# 200 rounds of: 5 frames from other MACs (another one, the gateway's); 6
# IP packets from addresses not the guest's (a neighbour, the gateway, I,
# the gateway's IPv6, I's IPv6, a documentation address) and a SYN from the
# gateway's address in each family; 3 ARP frames claiming the gateway's address or asking
# from another; an NDP advertisement for the gateway's address from it.
hg_phase spoof
hg_frames spoof 198.18.0.1 9999
hg_phase_end
d_mac=$(hg_delta spoof .drops.eth_spoofed_mac)
d_src=$(hg_delta spoof .drops.ip_spoofed_src)
d_arp=$(hg_delta spoof .drops.arp_ignored)
d_bad=$(hg_delta spoof .drops.ip_bad_dst)
hg_expect spoof_other_mac_dropped "$d_mac" -eq "$(out sent_spoofed_mac)"
hg_expect spoof_other_address_dropped "$d_src" -eq "$(out sent_spoofed_src)"
hg_expect spoof_arp_claims_ignored "$d_arp" -ge 400
hg_expect spoof_no_udp_session_opened "$(hg_delta spoof .udp.sessions_opened)" -eq 0
sleep 0.5 # what was relayed would have reached I by now (a 0-count check has no event to wait for)
hg_expect spoof_nothing_reached_i "$(grep -cE 'SPOOF|^tcp ' "$TOPO_DIR/logs/ilisten.log")" -eq 0
hg_check_phase spoof 4096
hg_row spoof "eth_spoofed_mac+$d_mac ip_spoofed_src+$d_src arp_ignored+$d_arp ip_bad_dst+$d_bad, ARP replies $(out arp_replies)"

# --- 8. the host's own addresses and loopback, every spelling ----------------------
loopback=(127.0.0.1 0.0.0.0 :: ::ffff:127.0.0.1 ::ffff:0.0.0.0 ::127.0.0.1 64:ff9b::7f00:1 2002:7f00:1::)
hostaddrs=(198.18.0.2 fd42::2 198.18.0.255 ::ffff:198.18.0.2)
# probe PHASE PORT ADDR...: each ADDR refused at once (TCP RST, UDP
# unreachable) within 1 s, and no echo reply; the slowest refusal in SLOWEST.
# On port 53 msbnet itself answers: UDP/53 to any address is its DNS
# interception (an answer, whatever its rcode, means it never reached H),
# and TCP/53 to the host group is its own DNS server (a SYN-ACK from it).
# The H listener on 53 proves that nothing was passed on.
probe() {
    local phase=$1 port=$2 a proto line ms
    shift 2
    hg_frames local "$port" "$@"
    SLOWEST=0
    for a in "$@"; do
        for proto in tcp udp icmp; do
            line=$(grep -m1 "^local $a $proto " <<<"$OUT")
            case $proto in
            tcp) [[ $line == *" rst "* || ($port == 53 && $line == *" synack "*) ]] && ms=${line##* } || ms=x ;;
            udp) [[ $line == *" unreachable/"* || ($port == 53 && $line == *" answer/"*) ]] && ms=${line##* } || ms=x ;;
            icmp) [[ $line == *" silent" ]] && ms=0 || ms=x ;;
            esac
            if [[ $ms =~ ^[0-9]+$ && $ms -lt 1000 ]]; then
                ((ms > SLOWEST)) && SLOWEST=$ms
            else
                bad "${phase}_${proto}_refused $a:$port" "${line:-no verdict: $OUT}"
                continue
            fi
            ok "${phase}_${proto}_refused $a:$port ($line)"
        done
    done
}
hg_phase local
probe local 7777 "${loopback[@]}" "${hostaddrs[@]}"
slow_local=$SLOWEST
probe local 53 "${loopback[@]}" "${hostaddrs[@]}"
hg_phase_end
d_lo=$(hg_delta local .policy.refused_loopback) d_hl=$(hg_delta local .policy.host_local)
# Each address three times on port 7777 (TCP, UDP, ICMP); on port 53 the
# loopback spellings again (the host group's DNS is allowed by the policy).
hg_expect local_loopback_refused_before_rules "$d_lo" -ge $((${#loopback[@]} * 3))
hg_expect local_host_addresses_host_local "$d_hl" -ge $((${#hostaddrs[@]} * 3))
hg_check_phase local 4096
hg_row local "refused_loopback+$d_lo host_local+$d_hl, refused within $slow_local ms (port 7777)"

# Under allow@any the loopback spellings are still refused, before any rule.
"$msbnetctl" --socket "$HG_SOCK" policy set --rules "allow@any" >/dev/null || bad allowany_policy_set "msbnetctl failed"
hg_phase allowany
probe allowany 7777 "${loopback[@]}"
hg_phase_end
d_lo=$(hg_delta allowany .policy.refused_loopback)
hg_expect allowany_loopback_refused_before_rules "$d_lo" -eq $((${#loopback[@]} * 3))
hg_check_phase allowany 4096
hg_row allowany "refused_loopback+$d_lo under allow@any, refused within $SLOWEST ms"

sleep 0.5 # as above: nothing to wait for when nothing may arrive
hg_expect nothing_reached_any_h_listener "$(grep -cE '^(tcp|udp) ' "$TOPO_DIR/logs/hlisten.log")" -eq 0
hg_stop
checks_done
