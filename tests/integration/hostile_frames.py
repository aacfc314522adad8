#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""A hostile guest for the hostile_guest*.sh tests: writes crafted Ethernet
frames on the guest's tap0 with an AF_PACKET socket (the guest kernel's
IPv4 address is flushed, so it answers nothing of this) and reads what
msbnet answers.

  hostile_frames.py IFACE COMMAND ARGS...

  synflood N ADDR:LO-HI...   N SYNs, one per (ADDR, port) round-robin over the
                             targets, each from a new source port; counts the RSTs
                             and SYN-ACKs that come back
  ooseq HOST PORT FLOWS SEGS FLOWS hand-made connections; on each SEGS 1-byte
                             segments ahead of the next expected byte, then the
                             missing byte: prints what lwIP acknowledged then
  trickle HOST PORT FLOWS SIZE SECS [PREFIX]   FLOWS connections to a server that
                             never reads; SIZE-byte segments as fast as the window
                             allows, for SECS (the first PREFIX bytes in 1200-byte
                             ones): prints the bytes acknowledged per flow
  udpflood HOST PORT N       N datagrams, each from a new source port
  dnsflood RESOLVER N SUFFIX N queries for names of binary labels under SUFFIX
                             (text form over 253 characters); prints the answers
                             by rcode and the slowest answer
  dnsquery RESOLVER N NAME   N queries for NAME (a control); answers by rcode
  fragflood HOST PORT N      N IPv4 datagrams with overlapping fragments, N/10 of
                             300 tiny fragments, N whose fragments never complete,
                             then one complete fragmented datagram (tag WHOLE)
  spoof HOST PORT            ARP, NDP, IPv4 and IPv6 frames with another source MAC,
                             another source address, or claiming the gateway
  local PORT ADDR...         a TCP SYN, a UDP datagram (to 53: a DNS query) and an
                             ICMP echo to each ADDR: prints one verdict line per
                             (ADDR, protocol): rst/synack, unreachable/CODE or
                             answer/rcodeN, reply, or silent (nothing in 1 s)

Addresses (env, defaults slot 0): G4 G6 GW4 GW6.  Output: "key value" lines.
Frames are paced by msbnet itself: after every BATCH frames an ARP request
for the gateway goes out and the next batch waits for its reply, which
comes only once msbnet has read everything before it, so the TAP's queue
(500 frames) never overflows however slow msbnet is (a sanitizer build, a
loaded machine): a frame the kernel drops tests nothing.  The TAP's drops
are reported as "tap_drops N" all the same.
"""
import os
import random
import socket
import struct
import sys
import time

from syn_probe import csum  # the Internet checksum, shared with the SYN probe

ETH_P_ALL = 0x0003
G4 = os.environ.get("G4", "100.96.0.2")
G6 = os.environ.get("G6", "fd42:6d73:62::2")
GW4 = os.environ.get("GW4", "100.96.0.1")
GW6 = os.environ.get("GW6", "fd42:6d73:62::1")
BATCH = 128  # frames between two syncs: far below the TAP's 500, room for the guest's own
OUTGOING = 4  # PACKET_OUTGOING: our own frames, seen again


def v6(a):
    return ":" in a


def aton(a):
    return socket.inet_pton(socket.AF_INET6 if v6(a) else socket.AF_INET, a)


def pseudo(src, dst, proto, length):
    s, d = aton(src), aton(dst)
    if len(s) == 16:
        return s + d + struct.pack("!I3xB", length, proto)
    return s + d + struct.pack("!BBH", 0, proto, length)


def ip_packet(src, dst, proto, payload, ident=None, frag=0x4000, ttl=64):
    """An IPv4 or IPv6 packet around payload (IPv4 frag = flags|offset word)."""
    if v6(dst):
        return 0x86DD, struct.pack("!IHBB16s16s", 6 << 28, len(payload), proto, ttl,
                                   aton(src), aton(dst)) + payload
    ident = random.getrandbits(16) if ident is None else ident
    h = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, ttl, proto, 0,
                    aton(src), aton(dst))
    return 0x0800, h[:10] + struct.pack("!H", csum(h)) + h[12:] + payload


def tcp_segment(src, dst, sport, dport, seq, ack, flags, data=b"", win=65535, opts=b""):
    off = (20 + len(opts)) // 4
    h = struct.pack("!HHIIBBHHH", sport, dport, seq & 0xFFFFFFFF, ack & 0xFFFFFFFF, off << 4,
                    flags, win, 0, 0) + opts
    c = csum(pseudo(src, dst, 6, len(h) + len(data)) + h + data)
    return ip_packet(src, dst, 6, h[:16] + struct.pack("!H", c) + h[18:] + data)


def udp_datagram(src, dst, sport, dport, data, raw=False):
    h = struct.pack("!HHHH", sport, dport, 8 + len(data), 0)
    c = csum(pseudo(src, dst, 17, 8 + len(data)) + h + data) or 0xFFFF
    seg = h[:6] + struct.pack("!H", c) + data
    return seg if raw else ip_packet(src, dst, 17, seg)


def icmp_echo(src, dst, ident, seq):
    data = b"hostile-echo"
    if v6(dst):
        h = struct.pack("!BBHHH", 128, 0, 0, ident, seq) + data
        c = csum(pseudo(src, dst, 58, len(h)) + h)
        return ip_packet(src, dst, 58, h[:2] + struct.pack("!H", c) + h[4:])
    h = struct.pack("!BBHHH", 8, 0, 0, ident, seq) + data
    return ip_packet(src, dst, 1, h[:2] + struct.pack("!H", csum(h)) + h[4:])


def mac_bytes(text):
    return bytes(int(x, 16) for x in text.split(":"))


class Link:
    """The guest's tap0, raw: paced sends, parsed receives."""

    def __init__(self, iface):
        self.iface = iface
        self.s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
        self.s.setsockopt(socket.SOL_SOCKET, 33, 16 << 20)  # SO_RCVBUFFORCE: keep every answer
        self.s.bind((iface, 0))
        self.s.setblocking(False)
        with open("/sys/class/net/%s/address" % iface) as f:
            self.mac = mac_bytes(f.read().strip())
        self.drops_file = "/sys/class/net/%s/statistics/tx_dropped" % iface
        self.drops0 = self.tap_drops()
        self.sent = 0
        self.syncs_late = 0
        self.backlog = []  # frames read while waiting for a sync, for frames()
        self.gwmac = None
        self.gwmac = self.arp_gateway()

    def tap_drops(self):
        with open(self.drops_file) as f:
            return int(f.read())

    def send_raw(self, frame):
        while True:
            try:
                self.s.send(frame)
                break
            except BlockingIOError:
                time.sleep(0.001)
        self.sent += 1
        if self.sent % BATCH == 0 and self.gwmac:
            self.sync()

    def arp_request(self):
        return b"\xff" * 6 + self.mac + b"\x08\x06" + struct.pack(
            "!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, 1, self.mac, aton(G4), b"\0" * 6, aton(GW4))

    def sync(self):
        """Waits (up to 30 s) until msbnet answered an ARP request sent now:
        it has read every frame sent before.  The wait is long because giving
        up early is what overflows the TAP: the next batch would go out
        behind a msbnet still busy (a sanitizer build beside another flood),
        and this sync's late reply would then release the one after it."""
        self.s.send(self.arp_request())
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                fr, addr = self.s.recvfrom(65535)
            except BlockingIOError:
                time.sleep(0.0002)
                continue
            if addr[2] == OUTGOING:
                continue
            if self.is_sync_reply(fr):
                return
            self.backlog.append(fr)
        self.syncs_late += 1

    @staticmethod
    def is_sync_reply(fr):
        """The gateway's ARP reply to G4, ours: a reply to a request inside
        the batch (spoof asks from another sender address, and msbnet
        answers) must not end the wait, or the next batch goes out behind
        a msbnet still reading this one."""
        return (fr[12:14] == b"\x08\x06" and fr[20:22] == b"\x00\x02"
                and fr[28:32] == aton(GW4) and fr[38:42] == aton(G4))

    def send(self, et_pkt, src_mac=None, dst_mac=None):
        et, pkt = et_pkt
        self.send_raw((dst_mac or self.gwmac) + (src_mac or self.mac) + struct.pack("!H", et) + pkt)

    def frames(self, timeout=0.0):
        """Frames received (not our own) until nothing came for `timeout` s."""
        out, self.backlog = self.backlog, []
        deadline = time.time() + timeout
        while True:
            try:
                fr, addr = self.s.recvfrom(65535)
            except BlockingIOError:
                if time.time() >= deadline:
                    return out
                time.sleep(0.001)
                continue
            if addr[2] != OUTGOING:
                out.append(fr)

    def arp_gateway(self):
        for _ in range(20):
            self.send_raw(self.arp_request())
            for fr in self.frames(0.1):
                if fr[12:14] == b"\x08\x06" and fr[20:22] == b"\x00\x02" and fr[28:32] == aton(GW4):
                    return fr[22:28]
        sys.exit("no ARP reply from the gateway %s" % GW4)

    def report(self):
        print("frames_sent", self.sent)
        print("syncs_late", self.syncs_late)
        print("tap_drops", self.tap_drops() - self.drops0, flush=True)


def parse(fr):
    """(src, dst, proto, l4 bytes) of an IP frame, else None."""
    et = fr[12:14]
    if et == b"\x08\x00":
        ihl = (fr[14] & 15) * 4
        tot = struct.unpack("!H", fr[16:18])[0]
        return (socket.inet_ntoa(fr[26:30]), socket.inet_ntoa(fr[30:34]), fr[23],
                fr[14 + ihl:14 + tot])
    if et == b"\x86\xdd":
        plen = struct.unpack("!H", fr[18:20])[0]
        return (socket.inet_ntop(socket.AF_INET6, fr[22:38]),
                socket.inet_ntop(socket.AF_INET6, fr[38:54]), fr[20], fr[54:54 + plen])
    return None


def tcp_of(fr):
    """(src, sport, dport, seq, ack, flags, win, payload len) of a TCP frame."""
    p = parse(fr)
    if not p or p[2] != 6 or len(p[3]) < 20:
        return None
    t = p[3]
    sport, dport, seq, ack, off, flags, win = struct.unpack("!HHIIBBH", t[:16])
    return p[0], sport, dport, seq, ack, flags, win, len(t) - (off >> 4) * 4


def ms_since(t0):
    return int((time.time() - t0) * 1000)


# ---------------------------------------------------------------- TCP

class Conn:
    """One hand-made connection from the guest's IPv4 address."""

    def __init__(self, link, host, port, sport, syn_opts=b""):
        self.link, self.host, self.port, self.sport = link, host, port, sport
        self.syn_opts = syn_opts
        self.isn = random.getrandbits(32)
        self.snd_una = self.snd_nxt = self.snd_max = (self.isn + 1) & 0xFFFFFFFF
        self.rcv_nxt = None
        self.wnd = 0
        self.last_progress = time.time()

    def seg(self, seq, flags, data=b""):
        opts = self.syn_opts if flags & 0x02 else b""
        self.link.send(tcp_segment(G4, self.host, self.sport, self.port, seq,
                                   self.rcv_nxt or 0, flags, data, opts=opts))
        end = (seq + len(data)) & 0xFFFFFFFF
        if data and 0 < (end - self.snd_max) & 0xFFFFFFFF < 1 << 31:
            self.snd_max = end

    def on(self, t):
        """Takes one parsed TCP frame for this connection."""
        _, _, _, seq, ack, flags, win, _ = t
        if flags & 0x04:
            raise SystemExit("connection %d reset by msbnet" % self.sport)
        if flags & 0x12 == 0x12 and self.rcv_nxt is None:
            self.rcv_nxt = (seq + 1) & 0xFFFFFFFF
        if flags & 0x10:
            # Up to the highest byte ever sent: after a resend from snd_una
            # the ACK for what went before still counts.
            if (ack - self.snd_una) & 0xFFFFFFFF <= (self.snd_max - self.snd_una) & 0xFFFFFFFF:
                if ack != self.snd_una:
                    self.last_progress = time.time()
                self.snd_una = ack
                if (ack - self.snd_nxt) & 0xFFFFFFFF < 1 << 31:
                    self.snd_nxt = ack
            self.wnd = win

    def acked(self):
        return (self.snd_una - self.isn - 1) & 0xFFFFFFFF


def dispatch(link, conns, timeout):
    by_port = {c.sport: c for c in conns}
    for fr in link.frames(timeout):
        t = tcp_of(fr)
        if t and t[0] == conns[0].host and t[2] in by_port:
            by_port[t[2]].on(t)


# MSS 1460, NOP, window scale 7: the guest offers to scale, so lwIP's
# 2 MiB receive window applies to it.
WSCALE_OPTS = struct.pack("!BBH", 2, 4, 1460) + b"\x01" + struct.pack("!BBB", 3, 3, 7)


def handshake(link, host, port, n, syn_opts=b""):
    base = 20000 + random.randrange(20000)
    conns = [Conn(link, host, port, base + i, syn_opts) for i in range(n)]
    for c in conns:
        c.seg(c.isn, 0x02)
    deadline = time.time() + 10
    while any(c.rcv_nxt is None for c in conns):
        if time.time() > deadline:
            sys.exit("handshake: %d of %d connections got no SYN-ACK"
                     % (sum(c.rcv_nxt is None for c in conns), n))
        dispatch(link, conns, 0.05)
    for c in conns:
        c.seg(c.snd_nxt, 0x10)
    dispatch(link, conns, 0.1)
    return conns


def close(link, conns, limit=30):
    """Resets every connection, and fails unless each is gone.  lwIP takes
    only a RST at exactly the next byte it expects (RFC 5961), which we may
    not know: our view lags its ACKs, and a RST below its window (or any
    but the exact one while the window is closed) draws no answer at all.
    A bare ACK just below the window always draws an ACK naming that byte,
    and once the connection is gone a RST (no flow): so each round probes
    the open ones and resets each at what its answer names.  A loaded
    machine answers late: rounds go on until every probe meets a RST."""
    open_ = {c.sport: c for c in conns}
    deadline = time.time() + limit
    while open_:
        if time.time() > deadline:
            sys.exit("close: %d of %d connections still open after %d s"
                     % (len(open_), len(conns), limit))
        for c in open_.values():
            c.seg((c.snd_una - 1) & 0xFFFFFFFF, 0x10)
        for fr in link.frames(0.3):
            t = tcp_of(fr)
            if not t or t[0] != conns[0].host or t[2] not in open_:
                continue
            if t[5] & 0x04:
                del open_[t[2]]
            elif t[5] & 0x10:
                c = open_[t[2]]
                c.snd_una = c.snd_nxt = t[4]
                c.seg(t[4], 0x04)


def cmd_synflood(link, n, *targets):
    n = int(n)
    tgts = []
    for t in targets:
        addr, ports = t.rsplit(":", 1)
        lo, hi = (int(x) for x in ports.split("-"))
        tgts.append((addr.strip("[]"), lo, hi))
    rst = synack = 0
    base = 10000 + random.randrange(20000)
    sent_to = {}
    t0 = time.time()
    for i in range(n):
        addr, lo, hi = tgts[i % len(tgts)]
        k = i // len(tgts)
        dport = lo + k % (hi - lo + 1)
        src = G6 if v6(addr) else G4
        sport = base + i % 30000
        link.send(tcp_segment(src, addr, sport, dport, random.getrandbits(32), 0, 0x02))
        sent_to[addr] = sent_to.get(addr, 0) + 1
        if i % 512 == 511:
            for fr in link.frames():
                t = tcp_of(fr)
                if t:
                    rst += bool(t[5] & 0x04)
                    synack += t[5] & 0x12 == 0x12
    for fr in link.frames(1.0):
        t = tcp_of(fr)
        if t:
            rst += bool(t[5] & 0x04)
            synack += t[5] & 0x12 == 0x12
    print("seconds %.1f" % (time.time() - t0))
    for a, k in sent_to.items():
        print("sent_to", a, k)
    print("rst", rst)
    print("synack", synack)


def cmd_ooseq(link, host, port, flows, segs):
    conns = handshake(link, host, int(port), int(flows))
    segs = int(segs)
    for k in range(1, segs + 1):
        for c in conns:
            c.seg(c.snd_una + k, 0x18, b"o")
        if k % 256 == 0:
            link.frames()  # lwIP's duplicate ACKs: drained, not needed
    link.frames(0.2)
    for c in conns:  # the missing byte: lwIP takes it and what it queued after it
        c.snd_nxt = (c.snd_una + segs + 1) & 0xFFFFFFFF
        c.seg(c.snd_una, 0x18, b"o")
    dispatch(link, conns, 0.5)
    print("acked_after_fill", " ".join(str(c.acked()) for c in conns))
    close(link, conns)


def cmd_ooseqbytes(link, host, port, flows, segs, size):
    """Window-scaled connections, each sent `segs` full segments just past
    a one-byte hole: without a bound lwIP holds them all (flows x segs x
    size bytes).  A pause lets the monitor see what is held; then the hole
    is filled and the ACKs say how much of each queue was kept."""
    conns = handshake(link, host, int(port), int(flows), WSCALE_OPTS)
    segs, size = int(segs), int(size)
    for k in range(segs):
        for c in conns:
            c.seg(c.snd_una + 1 + k * size, 0x18, b"q" * size)
        link.frames()  # lwIP's duplicate ACKs: drained, not needed
    link.frames(1.5)
    for c in conns:
        c.snd_max = (c.snd_una + 1 + segs * size) & 0xFFFFFFFF
        c.seg(c.snd_una, 0x18, b"q")
    dispatch(link, conns, 1.0)
    acked = [c.acked() for c in conns]
    print("acked_after_fill", " ".join(str(a) for a in acked))
    print("kept_segments_total", sum((a - 1) // size for a in acked))
    close(link, conns)


def cmd_trickle(link, host, port, flows, size, secs, prefix="0"):
    conns = handshake(link, host, int(port), int(flows))
    end, prefix, small = time.time() + float(secs), int(prefix), int(size)
    while time.time() < end:
        busy = False
        for c in conns:
            # The first PREFIX bytes in 1200-byte segments: what the host's
            # socket buffers take anyway, so the small ones meet a slow host.
            size = 1200 if (c.snd_nxt - c.isn - 1) & 0xFFFFFFFF < prefix else small
            data = b"t" * size
            if time.time() - c.last_progress > 0.5 and c.snd_nxt != c.snd_una:
                c.snd_nxt = c.snd_una  # no progress: send again from the first unacked byte
                c.last_progress = time.time()
            for _ in range(8):
                inflight = (c.snd_nxt - c.snd_una) & 0xFFFFFFFF
                if inflight + size > c.wnd:
                    break
                c.seg(c.snd_nxt, 0x18, data)
                c.snd_nxt = (c.snd_nxt + size) & 0xFFFFFFFF
                busy = True
        dispatch(link, conns, 0 if busy else 0.05)
    print("acked", " ".join(str(c.acked()) for c in conns))
    print("acked_total", sum(c.acked() for c in conns))
    print("final_windows", " ".join(str(c.wnd) for c in conns))
    close(link, conns)


# ---------------------------------------------------------------- UDP, DNS, fragments

def cmd_udpflood(link, host, port, n):
    src = G6 if v6(host) else G4
    unreach = 0
    for i in range(int(n)):
        link.send(udp_datagram(src, host, 1024 + i % 60000, int(port), b"FLOOD %d" % i))
    for fr in link.frames(0.5):
        p = parse(fr)
        unreach += bool(p and p[2] in (1, 58))
    print("icmp_errors", unreach)


def dns_query(qid, labels):
    q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for lab in labels:
        q += bytes([len(lab)]) + lab
    return q + b"\0" + struct.pack("!HH", 1, 1)


def binary_name(suffix, i):
    """Labels of bytes a text form must escape (dots, NUL, high bytes),
    then the suffix: 3 x 63 wire bytes, 700+ characters as text."""
    rnd = random.Random(i)
    labels = [bytes(rnd.choice(b".\0\\\xff\x80 ABC") for _ in range(63)) for _ in range(3)]
    return labels + [x.encode() for x in suffix.split(".")]


def dns_run(link, resolver, queries):
    """Sends (id, labels) queries to resolver:53; {rcode: n}, the slowest ms."""
    src = G6 if v6(resolver) else G4
    sport = 30000 + random.randrange(20000)
    sent, answers = {}, {}
    slowest = 0

    def read(timeout):
        nonlocal slowest
        for fr in link.frames(timeout):
            p = parse(fr)
            if not p or p[2] != 17 or len(p[3]) < 20 or p[3][2:4] != struct.pack("!H", sport):
                continue
            qid = struct.unpack("!H", p[3][8:10])[0]
            if qid in sent and qid not in answers:
                answers[qid] = p[3][11] & 15
                slowest = max(slowest, ms_since(sent[qid]))

    for qid, labels in queries:
        sent[qid] = time.time()
        link.send(udp_datagram(src, resolver, sport, 53, dns_query(qid, labels)))
        if len(sent) % 256 == 0:
            read(0)
    deadline = time.time() + 8
    while len(answers) < len(sent) and time.time() < deadline:
        read(0.2)
    by = {}
    for r in answers.values():
        by[r] = by.get(r, 0) + 1
    print("queries", len(sent))
    print("answers", len(answers))
    print("rcodes", " ".join("%d:%d" % kv for kv in sorted(by.items())) or "none")
    print("slowest_ms", slowest)


def text_len(labels):
    """Length of a name's presentation form (\\DDD for what is not plain)."""
    plain = lambda c: 0x20 < c < 0x7F and c not in b".\\"
    return len(labels) - 1 + sum(1 if plain(c) else 4 for lab in labels for c in lab)


def cmd_dnsflood(link, resolver, n, suffix):
    qs = [(i, binary_name(suffix, i)) for i in range(int(n))]
    print("name_text_chars_min", min(text_len(q[1]) for q in qs))
    dns_run(link, resolver, qs)


def cmd_dnsquery(link, resolver, n, name):
    dns_run(link, resolver, [(i, [x.encode() for x in name.split(".")]) for i in range(int(n))])


def frag(host, ident, off, more, data):
    return ip_packet(G4, host, 17, data, ident=ident, frag=(0x2000 if more else 0) | (off // 8))


def cmd_fragflood(link, host, port, n):
    n = int(n)
    for i in range(n):  # overlapping: the second starts inside the first
        link.send(frag(host, 20000 + i, 0, True, b"O" * 1000))
        link.send(frag(host, 20000 + i, 504, True, b"O" * 1000))
    for i in range(n // 10):  # tiny: 300 8-byte fragments each, past 256 pieces
        for k in range(300):
            link.send(frag(host, 40000 + i, k * 8, True, b"tinytiny"))
    chunk = b"F" * 1480
    for i in range(n):  # never complete: 20 fragments with MF, no last one;
        for k in range(20):  # the last of them are still pending at the end
            link.send(frag(host, i, k * 1480, True, chunk))
    # One honest datagram afterwards: 3000 bytes in three fragments.
    whole = udp_datagram(G4, host, 4242, int(port), b"WHOLE" + b"w" * 2995, raw=True)
    for off in range(0, len(whole), 1480):
        link.send(frag(host, 60000, off, off + 1480 < len(whole), whole[off:off + 1480]))
    link.frames(0.3)


# ---------------------------------------------------------------- spoofing, local

def cmd_spoof(link, host, port):
    port = int(port)
    other_mac = mac_bytes("02:00:00:00:00:99")
    gw_mac = link.gwmac
    n_mac = n_src = n_arp = 0

    def arp(op, smac, sip, tip, ethsrc):
        body = struct.pack("!HHBBH6s4s6s4s", 1, 0x0800, 6, 4, op, smac, aton(sip), b"\0" * 6,
                           aton(tip))
        link.send((0x0806, body), src_mac=ethsrc, dst_mac=b"\xff" * 6)

    for i in range(200):
        # Another source MAC: ARP, IPv4 UDP, IPv6 UDP, a TCP SYN.
        arp(1, other_mac, G4, GW4, other_mac)
        link.send(udp_datagram(G4, host, 5000 + i, port, b"SPOOF mac"), src_mac=other_mac)
        link.send(udp_datagram(G6, "fd42::1", 5000 + i, port, b"SPOOF mac6"), src_mac=other_mac)
        link.send(tcp_segment(G4, host, 5000 + i, port, 1, 0, 0x02), src_mac=other_mac)
        # The gateway's own MAC as source.
        link.send(udp_datagram(G4, host, 5000 + i, port, b"SPOOF gwmac"), src_mac=gw_mac)
        n_mac += 5
        # The guest's MAC, another source address: a neighbour, the gateway, I itself.
        for src in ("100.96.0.3", GW4, host):
            link.send(udp_datagram(src, host, 5000 + i, port, b"SPOOF src"))
            n_src += 1
        for src in (GW6, "fd42::1", "2001:db8::1"):
            link.send(udp_datagram(src, "fd42::1", 5000 + i, port, b"SPOOF src6"))
            n_src += 1
        for src in (GW4, GW6):
            link.send(tcp_segment(src, "fd42::1" if v6(src) else host, 5000 + i, port, 1, 0, 0x02))
            n_src += 1
        # ARP claiming the gateway's address (announcement, reply) and
        # asking for it from another sender address.
        arp(1, link.mac, GW4, GW4, link.mac)
        arp(2, link.mac, GW4, G4, link.mac)
        arp(1, link.mac, "100.96.0.3", GW4, link.mac)
        n_arp += 3
        # NDP: a neighbour advertisement for the gateway's address from the guest.
        na = struct.pack("!BBHI16s", 136, 0, 0, 0x20000000, aton(GW6)) + b"\x02\x01" + link.mac
        c = csum(pseudo(GW6, "ff02::1", 58, len(na)) + na)
        na = na[:2] + struct.pack("!H", c) + na[4:]
        link.send(ip_packet(GW6, "ff02::1", 58, na, ttl=255), dst_mac=b"\x33\x33\x00\x00\x00\x01")
        n_src += 1
    answers = 0
    for fr in link.frames(0.5):
        if fr[12:14] == b"\x08\x06" and fr[20:22] == b"\x00\x02":
            answers += 1
    print("sent_spoofed_mac", n_mac)
    print("sent_spoofed_src", n_src)
    print("sent_arp_claims", n_arp)
    print("arp_replies", answers)


def cmd_local(link, port, *addrs):
    port = int(port)
    for n, dst in enumerate(addrs):
        src = G6 if v6(dst) else G4
        sport = 45000 + n
        t0 = time.time()
        link.send(tcp_segment(src, dst, sport, port, random.getrandbits(32), 0, 0x02))
        # To port 53 a real query (msbnet's DNS interception takes UDP/53 to
        # any address; its verdict is an answer, never a relayed datagram).
        payload = dns_query(n, [b"local", b"test"]) if port == 53 else b"LOCAL"
        link.send(udp_datagram(src, dst, sport, port, payload))
        link.send(icmp_echo(src, dst, sport, 1))
        got = {"tcp": "silent", "udp": "silent", "icmp": "silent"}
        while time.time() - t0 < 1.0 and "silent" in (got["tcp"], got["udp"]):
            for fr in link.frames(0.02):
                p = parse(fr)
                if not p or socket.inet_pton(*fam(p[0])) != socket.inet_pton(*fam(dst)) and p[2] not in (1, 58):
                    continue
                ms = ms_since(t0)
                l4 = p[3]
                if p[2] == 6 and len(l4) >= 20 and struct.unpack("!H", l4[2:4])[0] == sport:
                    got["tcp"] = ("rst %d" % ms) if l4[13] & 0x04 else ("synack %d" % ms)
                elif p[2] in (1, 58) and l4[0] in (0, 129):
                    got["icmp"] = "reply %d" % ms
                elif p[2] in (1, 58) and l4[0] in (3, 1):
                    got["udp"] = "unreachable/%d %d" % (l4[1], ms)
                elif p[2] == 17 and len(l4) >= 12 and struct.unpack("!H", l4[2:4])[0] == sport:
                    got["udp"] = "answer/rcode%d %d" % (l4[11] & 15, ms)
        for proto in ("tcp", "udp", "icmp"):
            print("local", dst, proto, got[proto], flush=True)


def fam(a):
    return (socket.AF_INET6, a) if v6(a) else (socket.AF_INET, a)


def main():
    iface, cmd, args = sys.argv[1], sys.argv[2], sys.argv[3:]
    link = Link(iface)
    globals()["cmd_" + cmd](link, *args)
    link.report()


if __name__ == "__main__":
    main()
