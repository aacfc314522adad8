#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Style check 3, purpose line: every C file (.c, .h) under plugin/, server/,
# client/ and tests/ opens by saying what it is for, so a reader knows
# before the first #include why the file exists.
#
# Rule: skipping blank lines and the SPDX licence line, the first line
# starts a comment ("/*" or "//"), and that comment says something besides
# the licence (it has a word once SPDX lines are dropped).
#
# Usage: purpose_line.py [REPO_ROOT]   (exit 1 on any violation, each
# printed as path:line: what is wrong)
import itertools
import re
import subprocess
import sys

DIRS = ("plugin/", "server/", "client/", "tests/")


def first_comment(lines):
    """(line number, None) if the file opens with a comment that says
    something, else (line number, what is wrong)."""
    body = [(n, l) for n, l in enumerate(lines, 1)
            if l.strip() and "SPDX-License-Identifier" not in l]
    if not body:
        return 1, "holds no comment saying what the file is for"
    n, line = body[0]
    if line.startswith("//"):
        text = [l for _, l in itertools.takewhile(lambda b: b[1].startswith("//"), body)]
    elif line.startswith("/*"):
        text = []
        for _, l in body:
            text.append(l)
            if "*/" in l:
                break
    else:
        return n, f"opens with {line.strip()!r}, not a comment saying what the file is for"
    if re.search(r"[A-Za-z]{2}", " ".join(text)):
        return n, None
    return n, "its opening comment holds only the licence, not what the file is for"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    files = subprocess.run(["git", "-C", root, "ls-files", "--", "*.c", "*.h"],
                           check=True, capture_output=True, text=True).stdout.splitlines()
    bad = 0
    for path in files:
        if path.startswith(DIRS):
            with open(f"{root}/{path}", encoding="utf-8") as f:
                n, wrong = first_comment(f.read().split("\n"))
            if wrong:
                print(f"{path}:{n}: {wrong}")
                bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
