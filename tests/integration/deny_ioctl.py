#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Run CMD with some ioctl requests refused (EINVAL), like a kernel or a
seccomp policy that lacks them, to exercise msbnetd's TAP fallbacks.

  usage: deny_ioctl.py REQUEST[=ARG] [REQUEST[=ARG] ...] -- CMD [ARGS]

REQUEST and ARG are numbers (0x... allowed); with ARG only that exact third
argument is refused.  A seccomp filter is installed (no_new_privs first),
inherited by CMD and its children, then CMD is exec'd.
"""
import ctypes
import os
import platform
import struct
import sys

# (seccomp audit arch, ioctl syscall number) per machine.
ARCHES = {"x86_64": (0xC000003E, 16), "aarch64": (0xC00000B7, 29)}
PR_SET_NO_NEW_PRIVS, PR_SET_SECCOMP, SECCOMP_MODE_FILTER = 38, 22, 2
RET_ALLOW, RET_ERRNO, EINVAL = 0x7FFF0000, 0x00050000, 22
LD_W_ABS, JEQ_K, RET_K = 0x20, 0x15, 0x06
OFF_NR, OFF_ARCH, OFF_ARG1, OFF_ARG2 = 0, 4, 24, 32  # low words (little-endian)


def insn(code, jt, jf, k):
    return struct.pack("HBBI", code, jt, jf, k)


def program(arch, nr, rules):
    # Each rule: ld arg1; jeq req ? next : skip; [ld arg2; jeq arg ? deny : skip]; ...
    body = [insn(LD_W_ABS, 0, 0, OFF_ARCH), None, insn(LD_W_ABS, 0, 0, OFF_NR), None]
    for req, arg in rules:
        body.append(insn(LD_W_ABS, 0, 0, OFF_ARG1))
        if arg is None:
            body.append(insn(JEQ_K, 0, 1, req))
            body.append(insn(RET_K, 0, 0, RET_ERRNO | EINVAL))
        else:
            body.append(insn(JEQ_K, 0, 3, req))
            body.append(insn(LD_W_ABS, 0, 0, OFF_ARG2))
            body.append(insn(JEQ_K, 0, 1, arg))
            body.append(insn(RET_K, 0, 0, RET_ERRNO | EINVAL))
    body.append(insn(RET_K, 0, 0, RET_ALLOW))
    allow = len(body) - 1
    body[1] = insn(JEQ_K, 0, allow - 2, arch)  # wrong arch: allow
    body[3] = insn(JEQ_K, 0, allow - 4, nr)  # not ioctl: allow
    return b"".join(body), len(body)


def main():
    if "--" not in sys.argv:
        sys.exit(__doc__)
    sep = sys.argv.index("--")
    specs, cmd = sys.argv[1:sep], sys.argv[sep + 1:]
    if not specs or not cmd:
        sys.exit(__doc__)
    if platform.machine() not in ARCHES:
        sys.exit("deny_ioctl.py: unsupported machine " + platform.machine())
    rules = []
    for s in specs:
        req, _, arg = s.partition("=")
        rules.append((int(req, 0), int(arg, 0) if arg else None))
    arch, nr = ARCHES[platform.machine()]
    code, n = program(arch, nr, rules)
    buf = ctypes.create_string_buffer(code, len(code))

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    prog = Fprog(n, ctypes.addressof(buf))
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 or \
            libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.byref(prog), 0, 0) != 0:
        sys.exit("deny_ioctl.py: cannot install the filter: " + os.strerror(ctypes.get_errno()))
    os.execvp(cmd[0], cmd)


if __name__ == "__main__":
    main()
