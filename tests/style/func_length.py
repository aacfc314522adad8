#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Style check 2, function length: no C function body in plugin/, server/ or
# client/ is longer than 60 lines, so each function can be read on one
# screen and named for one job.  A long help text is a static string, not a
# function full of puts().
#
# Counted: the lines strictly between a function's opening "{" and its
# closing "}", both alone at column 0 (the project's format).  The format is
# verified, not assumed: every function body found by brace matching (with
# comments, strings and preprocessor lines ignored) must open and close at
# column 0, or the function is reported as unmeasurable; only a body that
# opens and closes on its signature's line (a one-liner) is exempt.
#
# Usage: func_length.py [REPO_ROOT]   (tracked files only; exit 1 on any
# violation, each printed as path:line: what is wrong)
import re
import subprocess
import sys

MAX_LINES = 60
DIRS = ("plugin/", "server/", "client/")


def code_only(text):
    """The text with comments, string/char literals, preprocessor lines and
    C++-only blocks blanked, line breaks kept (line numbers stay valid)."""
    def blank(m):
        return re.sub(r"[^\n]", " ", m.group(0))
    text = re.sub(r"^[ \t]*#[ \t]*if(def)?[ \t]+(defined\()?__cplusplus.*?^[ \t]*#[ \t]*endif",
                  blank, text, flags=re.S | re.M)
    text = re.sub(r'/\*.*?\*/|//[^\n]*|"(\\.|[^"\\\n])*"|\'(\\.|[^\'\\\n])*\'',
                  blank, text, flags=re.S)
    return re.sub(r"^[ \t]*#([^\n]*\\\n)*[^\n]*", blank, text, flags=re.M)


def check(path, text):
    """Yield (line, message) for each function of TEXT that is too long or
    not laid out with its braces at column 0."""
    lines = code_only(text).split("\n")
    depth, start = 0, None  # start: (line index, col) of the open body
    for i, line in enumerate(lines):
        for col, ch in enumerate(line):
            if ch == "{":
                if depth == 0:
                    before = "\n".join(lines[max(0, i - 3):i] + [line[:col]]).rstrip()
                    start = (i, col) if before.endswith(")") else None
                depth += 1
            elif ch == "}":
                depth -= 1
                if depth == 0 and start:
                    (o, ocol), start = start, None
                    name = function_name(lines, o, ocol)
                    if o == i:
                        continue  # a one-line function: short by construction
                    if ocol != 0 or lines[o].strip() != "{" or col != 0:
                        yield o + 1, f"{name}: body braces not alone at column 0 " \
                            "(the length rule counts from a '{' line to a '}' line)"
                    elif i - o - 1 > MAX_LINES:
                        yield o + 1, f"{name}: body is {i - o - 1} lines (max {MAX_LINES})"
    if depth != 0:
        yield len(lines), "braces do not balance; cannot measure functions"


def function_name(lines, brace, col):
    """The identifier before the first '(' of the signature ending at the
    '{' at (BRACE, COL); the signature's first line starts at column 0."""
    j = brace if col else brace - 1
    while j > 0 and not lines[j][:1].strip():
        j -= 1
    m = re.search(r"(\w+)\s*\(", " ".join(lines[j:brace + 1]))
    return m.group(1) if m else "?"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    files = subprocess.run(["git", "-C", root, "ls-files", "--", "*.c", "*.h"],
                           check=True, capture_output=True, text=True).stdout.splitlines()
    bad = 0
    for path in files:
        if path.startswith(DIRS):
            with open(f"{root}/{path}", encoding="utf-8") as f:
                for line, msg in check(path, f.read()):
                    print(f"{path}:{line}: {msg}")
                    bad += 1
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
