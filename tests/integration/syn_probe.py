#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Send hand-built TCP SYNs out of the guest's interface, bypassing the
guest kernel's routing, and report how msbnet answered each.

The guest's own kernel never sends 127.0.0.1, 0.0.0.0 or ::ffff:127.0.0.1
out of its interface (they mean "this host"), so a hostile guest that wants
msbnet to dial them writes the frames itself; this does the same.

usage: syn_probe.py IFACE SRC4 SRC6 GW4 DST:PORT...
Prints one line per target: "DST PORT rst MS" (a RST came back after MS
milliseconds), "DST PORT synack MS" (it connected: a policy hole), or
"DST PORT silent" (nothing within 1 s)."""
import os
import socket
import struct
import sys
import time

ETH_P_ALL = 0x0003


def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return (~s) & 0xFFFF


def tcp_syn(sport, dport, pseudo):
    hdr = struct.pack("!HHIIBBHHH", sport, dport, 0x12345678, 0, 5 << 4, 0x02, 64240, 0, 0)
    c = csum(pseudo + hdr)
    return hdr[:16] + struct.pack("!H", c) + hdr[18:]


def ipv4_syn(src, dst, sport, dport):
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    tcp = tcp_syn(sport, dport, s + d + struct.pack("!BBH", 0, 6, 20))
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 40, 1, 0x4000, 64, 6, 0, s, d)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    return 0x0800, ip + tcp


def ipv6_syn(src, dst, sport, dport):
    s, d = socket.inet_pton(socket.AF_INET6, src), socket.inet_pton(socket.AF_INET6, dst)
    tcp = tcp_syn(sport, dport, s + d + struct.pack("!I3xB", 20, 6))
    ip = struct.pack("!IHBB16s16s", 6 << 28, 20, 6, 64, s, d)
    return 0x86DD, ip + tcp


def arp_gateway(sock, mac, src4, gw4, deadline):
    req = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, mac, socket.inet_aton(src4),
                      b"\0" * 6, socket.inet_aton(gw4))
    sock.send(b"\xff" * 6 + mac + b"\x08\x06" + req)
    while time.time() < deadline:
        fr = sock.recv(65535)
        if fr[12:14] == b"\x08\x06" and fr[20:22] == b"\x00\x02" and fr[28:32] == socket.inet_aton(gw4):
            return fr[22:28]
    sys.exit("no ARP reply from the gateway")


def tcp_reply(fr, dst, sport):
    """(flags) of a TCP segment from dst to our sport in frame fr, else None."""
    et = fr[12:14]
    if et == b"\x08\x00" and fr[23] == 6:
        ihl = (fr[14] & 15) * 4
        src = socket.inet_ntoa(fr[26:30])
        t = fr[14 + ihl:]
    elif et == b"\x86\xdd" and fr[20] == 6:
        src = socket.inet_ntop(socket.AF_INET6, fr[22:38])
        t = fr[54:]
    else:
        return None
    if len(t) < 20 or struct.unpack("!H", t[2:4])[0] != sport:
        return None
    if socket.inet_pton(*family(src)) != socket.inet_pton(*family(dst)):
        return None
    return t[13]


def family(a):
    return (socket.AF_INET6, a) if ":" in a else (socket.AF_INET, a)


def main():
    iface, src4, src6, gw4 = sys.argv[1:5]
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((iface, 0))
    sock.settimeout(0.05)
    mac = open("/sys/class/net/%s/address" % iface).read().strip()
    mac = bytes(int(x, 16) for x in mac.split(":"))
    gwmac = None
    deadline = time.time() + 2
    while gwmac is None:
        try:
            gwmac = arp_gateway(sock, mac, src4, gw4, deadline)
        except socket.timeout:
            if time.time() > deadline:
                sys.exit("no ARP reply from the gateway")
    for n, target in enumerate(sys.argv[5:]):
        dst, port = target.rsplit(":", 1)
        dst = dst.strip("[]")
        sport = 41000 + n + (os.getpid() % 1000) * 10
        v6 = ":" in dst
        et, pkt = (ipv6_syn(src6, dst, sport, int(port)) if v6
                   else ipv4_syn(src4, dst, sport, int(port)))
        t0 = time.time()
        sock.send(gwmac + mac + struct.pack("!H", et) + pkt)
        verdict = "silent"
        while time.time() - t0 < 1.0:
            try:
                fr = sock.recv(65535)
            except socket.timeout:
                continue
            flags = tcp_reply(fr, dst, sport)
            if flags is None:
                continue
            ms = int((time.time() - t0) * 1000)
            verdict = ("rst %d" % ms) if flags & 0x04 else ("synack %d" % ms)
            break
        print(dst, port, verdict, flush=True)


if __name__ == "__main__":
    main()
