#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""The VMM side of msbnetd's stream transport (QEMU -netdev stream, libkrun
unixstream, passt's protocol: each frame after a 4-byte big-endian length),
played from the guest namespace with a real TAP device standing in for the
guest's virtio-net card.

  bridge TAP SOCKET [OPT]  attach to the existing TAP device, connect to
                           SOCKET and move frames both ways until either
                           side closes; print "connected" once connected.
                           OPT=N: after N frames towards msbnetd, send half of
                           the next frame and exit (a VMM dying mid-frame).
                           OPT=slow: a 32 KiB receive buffer read 16 KiB at a
                           time with a pause, so msbnetd finds it full.
  garbage SOCKET LEN       connect, send the length LEN (and a few bytes), and
                           wait up to 5 s: print "closed" when msbnetd drops
                           the connection, "open" when it does not
  probe SOCKET             connect while another VMM is connected: print
                           "closed" when msbnetd closes it, "open" otherwise
  spawn TAP CMD...         a socketpair: run CMD with one end (every "{fd}" in
                           CMD becomes its number, as libkrun/QEMU pass a
                           pre-connected socket), bridge TAP to the other end
                           until SIGTERM; prints "child PID" and "connected".
                           On SIGTERM the VMM goes away: its end is shut
                           down and, once CMD has exited (20 s at most),
                           "child exited STATUS" is printed (negative: the
                           signal that killed it)
"""
import fcntl
import os
import signal
import socket
import struct
import subprocess
import sys
import threading
import time

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
MAX_FRAME = 65538
HDR = struct.Struct("!I")


def open_tap(name):
    fd = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", name.encode(), IFF_TAP | IFF_NO_PI))
    return fd


def connect(path, rcvbuf=4 << 20):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.connect(path)
    return s


def tap_to_socket(tap, s, cut, done):
    """One frame per TAP read; the length prefix and the frame in one send."""
    sent = 0
    try:
        while True:
            frame = os.read(tap, MAX_FRAME)
            if cut is not None and sent == cut:
                whole = HDR.pack(len(frame)) + frame
                s.sendall(whole[: len(whole) // 2])
                print("cut after %d frames" % sent, flush=True)
                return
            s.sendall(HDR.pack(len(frame)) + frame)
            sent += 1
    except OSError:
        pass
    finally:
        done.set()


def socket_to_tap(tap, s, done, slow=False):
    """Reassembles frames across arbitrary read boundaries."""
    buf = bytearray()
    try:
        while True:
            if slow:
                time.sleep(0.001)
            chunk = s.recv(16384 if slow else 1 << 20)
            if not chunk:
                return
            buf += chunk
            off = 0
            while len(buf) - off >= 4:
                (n,) = HDR.unpack_from(buf, off)
                if n < 14 or n > MAX_FRAME:
                    print("bad length %d from msbnetd" % n, flush=True)
                    return
                if len(buf) - off < 4 + n:
                    break
                try:
                    os.write(tap, buf[off + 4 : off + 4 + n])
                except OSError:
                    pass  # the guest's link is down: its loss, like a real NIC
                off += 4 + n
            del buf[:off]
    except OSError:
        pass
    finally:
        done.set()


def bridge(tap_name, path, opt, s=None):
    tap = open_tap(tap_name)
    slow = opt == "slow"
    cut = int(opt) if opt and not slow else None
    s = s or connect(path, 32768 if slow else 4 << 20)
    print("connected", flush=True)
    done = threading.Event()
    for target, args in ((tap_to_socket, (tap, s, cut, done)), (socket_to_tap, (tap, s, done, slow))):
        threading.Thread(target=target, args=args, daemon=True).start()
    done.wait()
    print("bridge ended", flush=True)
    os._exit(0)  # the other thread may sit in a blocking read


def wait_closed(s, secs=5.0):
    s.settimeout(secs)
    try:
        while True:
            if not s.recv(65536):
                return "closed"
    except socket.timeout:
        return "open"
    except OSError:
        return "closed"


def main(argv):
    cmd, args = argv[1], argv[2:]
    if cmd == "bridge":
        bridge(args[0], args[1], args[2] if len(args) > 2 else None)
    elif cmd == "garbage":
        s = connect(args[0])
        s.sendall(HDR.pack(int(args[1], 0)) + b"\0" * 20)
        print(wait_closed(s), flush=True)
    elif cmd == "spawn":
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        child_args = [a.replace("{fd}", str(theirs.fileno())) for a in args[1:]]
        child = subprocess.Popen(child_args, pass_fds=[theirs.fileno()])
        theirs.close()
        print("child %d" % child.pid, flush=True)

        def vmm_gone(*_):
            ours.shutdown(socket.SHUT_RDWR)
            try:
                print("child exited %d" % child.wait(20), flush=True)
            except subprocess.TimeoutExpired:
                print("child still running 20 s after its VMM went away", flush=True)
            os._exit(0)

        signal.signal(signal.SIGTERM, vmm_gone)
        bridge(args[0], None, None, ours)
    elif cmd == "probe":
        print(wait_closed(connect(args[0]), 2.0), flush=True)
    else:
        sys.exit("unknown command " + cmd)


if __name__ == "__main__":
    main(sys.argv)
