#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The VMM side of msbnetd's datagram transport (vfkit, libkrun unixgram:
one frame per datagram from a socket bound to its own path, optionally
announced by a first datagram "VFKT"), played from the guest namespace with
a real TAP device standing in for the guest's virtio-net card.

  bridge TAP SOCKET OWN [FLAGS]  bind OWN, send "VFKT" to SOCKET, then move
                                 frames between TAP and SOCKET; prints
                                 "connected".  FLAGS (comma-separated):
                                 novfkt - no handshake; junk - right after the
                                 handshake send a 10-byte and a 70000-byte
                                 datagram (msbnetd must drop and count both)
  send OWN SOCKET SIZE [COUNT]   bind OWN and send COUNT (1) SIZE-byte datagrams
  spawn TAP CMD...               a datagram socketpair: CMD gets one end ("{fd}"
                                 in CMD becomes its number), TAP is bridged to
                                 the other; prints "child PID", "connected",
                                 and "child exited STATUS" (then exits)
"""
import fcntl
import os
import socket
import struct
import subprocess
import sys
import threading

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
MAX_FRAME = 65538


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def bound(own):
    if os.path.exists(own):
        os.unlink(own)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    s.bind(own)
    return s


def tap_to_socket(tap, s, path, done):
    try:
        while True:
            frame = os.read(tap, MAX_FRAME)
            while True:
                try:
                    if path is None:
                        s.send(frame)  # a connected socketpair
                    else:
                        s.sendto(frame, path)
                    break
                except BlockingIOError:
                    continue  # msbnetd's queue is full: wait for room
    except OSError as e:
        print("tap->socket ended: %s" % e, flush=True)
    finally:
        done.set()


def socket_to_tap(tap, s, done):
    try:
        while True:
            frame = s.recv(1 << 17)
            try:
                os.write(tap, frame)
            except OSError:
                pass  # the guest's link is down: its loss, like a real NIC
    except OSError as e:
        print("socket->tap ended: %s" % e, flush=True)
    finally:
        done.set()


def bridge(tap_name, path, own, flags, s=None):
    tap = open_tap(tap_name)
    s = s or bound(own)
    if "novfkt" not in flags:
        s.sendto(b"VFKT", path)
    if "junk" in flags:
        s.sendto(b"\0" * 10, path)
        s.sendto(b"\0" * 70000, path)
    print("connected", flush=True)
    done = threading.Event()
    for target, args in ((tap_to_socket, (tap, s, path, done)), (socket_to_tap, (tap, s, done))):
        threading.Thread(target=target, args=args, daemon=True).start()
    done.wait()
    os._exit(0)


def main(argv):
    sys.setswitchinterval(0.0002)  # two busy threads: hand the GIL over quickly
    cmd, args = argv[1], argv[2:]
    if cmd == "bridge":
        bridge(args[0], args[1], args[2], args[3].split(",") if len(args) > 3 else [])
    elif cmd == "spawn":
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
        child_args = [a.replace("{fd}", str(theirs.fileno())) for a in args[1:]]
        child = subprocess.Popen(child_args, pass_fds=[theirs.fileno()])
        theirs.close()
        print("child %d" % child.pid, flush=True)

        # The child reaped as soon as it ends, its status said: a datagram
        # socketpair has no end of file, so the bridge alone would notice
        # only at the guest's next frame, and until then the child would
        # stay a zombie that `kill -0` still finds.
        def reap():
            print("child exited %d" % child.wait(), flush=True)
            os._exit(0)

        threading.Thread(target=reap, daemon=True).start()
        bridge(args[0], None, None, ["novfkt"], ours)
    elif cmd == "send":
        s = bound(args[0])
        for _ in range(int(args[3]) if len(args) > 3 else 1):
            s.sendto(b"\0" * int(args[2]), args[1])
        print("sent", flush=True)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
