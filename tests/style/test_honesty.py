#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Style check 7, test honesty: a test must be able to fail.  Three ways a
# test passes without having checked anything are refused:
#
# (a) "|| true" or "|| :" in tests/integration/*.sh or tests/lib/*.sh hides
#     a failure.  Allowed only when every command it guards (the whole
#     and-or list and pipeline before it, back to ";", "(", "$(", "{" or a
#     keyword) is cleanup or diagnostics: kill, rm, rmdir, wait, umount,
#     "ip ... del/delete/flush", "ip netns pids" (listing what to kill), or
#     cat/sed/tail/head writing to stderr (">&2", a log dumped on failure).
# (b) An integration script (tests/integration/*.sh but not *_lib.sh) that
#     starts msbnetd must check how it ended.  It starts msbnetd when a line
#     runs "$msbnetd" with a daemon subcommand (run, tap, stream, dgram;
#     after an optional "--plugin X"), or calls a library function that
#     does (checks.sh's guest).  It checks how it ended when it calls a
#     reaper -- a function in the script or in tests/lib/*.sh or
#     tests/integration/*_lib.sh whose body both waits ("wait") and greps
#     for "Sanitizer" (checks.sh's msbnetd_done), or that calls a reaper
#     (checks.sh's msbnetd_stop and guest) -- or reaps inline: a "wait"
#     line with a "Sanitizer" line within the next 5 lines.
# (c) A CUnit test (static void test_*(void) in tests/unit/*.c, registered
#     as {"name", test_x} or with CU_add_test) must call an assertion:
#     CU_ASSERT*, CU_FAIL*, CU_PASS, CU_TEST*, or a function or macro of its
#     file or of tests/unit/*.h that (directly or through another) does.
#     Comments and strings do not count.
#
# Usage: test_honesty.py [REPO_ROOT]   (exit 1 on any violation, each
# printed as path:line: what is wrong)
import re
import subprocess
import sys

# ---- (a) || true ----------------------------------------------------------
MASK = re.compile(r"\|\|\s*(true|:)(?=\s*($|[;)&|}`]))")
STATEMENT = re.compile(r".*(;|\$\(|\(|\{|`|\b(then|do|else|if|while|until)\s)")
CLEANUP = re.compile(r"(kill|rm|rmdir|wait|umount)\b|ip\b.*\b(del|delete|flush)\b|ip\s+netns\s+pids\b")
DUMP = re.compile(r"(cat|sed|tail|head)\b.*>&2")


def masked_commands(line):
    """For each '|| true' on LINE, the names of the commands it hides the
    status of (empty when they are all cleanup)."""
    for m in MASK.finditer(line):
        before = line[:m.start()]
        stmt = STATEMENT.match(before)
        stmt = before[stmt.end():] if stmt else before
        cmds = [re.sub(r"^\s*!?\s*(\w+=\S*\s+)*", "", c).strip() for c in re.split(r"&&|\|\|?", stmt)]
        yield [c.split()[0] for c in cmds if c and not (CLEANUP.match(c) or DUMP.match(c))]


def code(line):
    """LINE without its shell comment (a '#' after a blank or at the start)."""
    return re.sub(r"(^|\s)#.*", "", line)


def check_masks(root, scripts):
    for path in scripts:
        for n, line in enumerate(read(root, path).split("\n"), 1):
            for cmds in masked_commands(code(line)):
                if cmds:
                    yield (f"{path}:{n}: '|| true' hides the status of {', '.join(cmds)} "
                           "(allowed after cleanup only: kill, rm, rmdir, wait, umount, ip ... del)")


# ---- (b) msbnetd's exit status ---------------------------------------------
START = re.compile(r'\$\{?msbnetd\}?"?\s+(--plugin\s+\S+\s+)?(run|tap|stream|dgram)\b')


def shell_functions(text):
    """{name: body} of the functions defined in shell TEXT."""
    funcs, name = {}, None
    for line in text.split("\n"):
        m = re.match(r"(\w+)\s*\(\)\s*\{(.*)", line)
        if m and not name:
            name, funcs[m.group(1)] = m.group(1), m.group(2)
            if re.search(r"\}\s*$", m.group(2)):
                name = None
        elif name:
            funcs[name] += "\n" + code(line)
            name = None if line.startswith("}") else name
    return funcs


def calls(line, names):
    return any(re.search(r"(^|[;&|(]|\$\(|\bthen|\bdo)\s*" + n + r"(\s|$)", line) for n in names)


def check_msbnetd(root, scripts, libraries):
    lib_funcs = {}
    for lib in libraries:
        lib_funcs.update(shell_functions(read(root, lib)))
    starters = [n for n, body in lib_funcs.items() if START.search(body)]
    for path in scripts:
        if path.endswith("_lib.sh") or not path.startswith("tests/integration/"):
            continue
        lines = [code(line) for line in read(root, path).split("\n")]
        funcs = dict(lib_funcs, **shell_functions("\n".join(lines)))
        reapers = [n for n, b in funcs.items() if re.search(r"\bwait\b", b) and "Sanitizer" in b]
        while True:  # a function that calls a reaper reaps too (checks.sh's guest)
            more = [n for n, b in funcs.items() if n not in reapers
                    and any(calls(line, reapers) for line in b.split("\n"))]
            if not more:
                break
            reapers += more
        first = next((n for n, line in enumerate(lines, 1)
                      if START.search(line) or calls(line, starters)), None)
        if first is None:
            continue
        inline = any(re.search(r"\bwait\b", line) and any("Sanitizer" in l for l in lines[i:i + 6])
                     for i, line in enumerate(lines))
        if not inline and not any(calls(line, reapers) for line in lines):
            yield (f"{path}:{first}: starts msbnetd but never checks how it ended "
                   "(wait for it, assert its status and no 'Sanitizer' in its log: e.g. checks.sh's msbnetd_stop)")


# ---- (c) CUnit tests that assert --------------------------------------------
ASSERT = re.compile(r"\bCU_(ASSERT\w*|FAIL\w*|PASS|TEST\w*)\s*\(")


def blank(m):
    return re.sub(r"[^\n]", " ", m.group(0))


def c_definitions(text):
    """{name: body} of the functions and function-like macros of C TEXT,
    comments and strings blanked."""
    text = re.sub(r'/\*.*?\*/|//[^\n]*|"(\\.|[^"\\\n])*"|\'(\\.|[^\'\\\n])*\'', blank, text, flags=re.S)
    defs = {m.group(1): m.group(2) for m in
            re.finditer(r"^[ \t]*#[ \t]*define[ \t]+(\w+)\(((?:[^\n]*\\\n)*[^\n]*)", text, re.M)}
    text = re.sub(r"^[ \t]*#([^\n]*\\\n)*[^\n]*", blank, text, flags=re.M)
    depth, start = 0, None
    for i, ch in enumerate(text):
        if ch == "{":
            if depth == 0:
                m = re.search(r"(\w+)\s*\(([^()]|\([^()]*\))*\)\s*$", text[max(0, i - 400):i])
                start = (m.group(1), i) if m else None
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0 and start:
                defs[start[0]] = text[start[1]:i]
                start = None
    return defs, text


def test_functions(path, code_text):
    """{name: path:line} of the static void test_*(void) of a C file."""
    found = {}
    for m in re.finditer(r"^static\s+void\s+(test_\w+)\s*\(\s*void\s*\)", code_text, re.M):
        line = code_text.count("\n", 0, m.start()) + 1
        found[m.group(1)] = f"{path}:{line}"
    return found


def check_cunit(root, tests, headers):
    shared, shared_tests, found = {}, {}, set()
    for h in headers:
        defs, code_text = c_definitions(read(root, h))
        shared.update(defs)
        shared_tests.update(test_functions(h, code_text))
    for path in tests:
        raw = read(root, path)
        defs, code_text = c_definitions(raw)
        defs = dict(shared, **defs)
        where = dict(shared_tests, **test_functions(path, code_text))
        asserting = {n for n, body in defs.items() if ASSERT.search(body)}
        while True:  # helpers of helpers
            more = {n for n, body in defs.items() if n not in asserting
                    and any(re.search(r"\b" + a + r"\s*\(", body) for a in asserting)}
            if not more:
                break
            asserting |= more
        registered = set(re.findall(r'\{\s*"[^"]*"\s*,\s*(test_\w+)\s*\}', raw))
        registered |= set(re.findall(r"CU_add_test\s*\([^,]*,[^,]*,\s*(test_\w+)\s*\)", raw))
        for name in sorted((registered & where.keys()) - asserting):
            found.add(f"{where[name]}: {name} asserts nothing (no CU_ASSERT/CU_FAIL/CU_PASS, "
                      "no asserting helper)")
    return sorted(found)


# ---- main -------------------------------------------------------------------
def read(root, path):
    with open(f"{root}/{path}", encoding="utf-8") as f:
        return f.read()


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    def tracked(*specs):
        return subprocess.run(["git", "-C", root, "ls-files", "--", *specs], check=True,
                              capture_output=True, text=True).stdout.splitlines()
    scripts = tracked("tests/integration/*.sh", "tests/lib/*.sh")
    libraries = tracked("tests/lib/*.sh", "tests/integration/*_lib.sh")
    bad = list(check_masks(root, scripts))
    bad += check_msbnetd(root, scripts, libraries)
    bad += check_cunit(root, tracked("tests/unit/*.c"), tracked("tests/unit/*.h"))
    for line in bad:
        print(line)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
