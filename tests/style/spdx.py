#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Style check 6, licence: every tracked source file says under which licence
# it is shared, in the machine-readable SPDX form, and the licence text
# itself is at the top of the repository, so a file copied out of the tree
# still carries its terms.
#
# Rule: each tracked *.c, *.h, *.sh, *.py, *.proto, *.cmake and
# CMakeLists.txt has a line containing "SPDX-License-Identifier: Apache-2.0"
# among its first 3 lines, counted after a "#!" line if it has one; and a
# tracked LICENSE file at the top holds the Apache License 2.0.
#
# Usage: spdx.py [REPO_ROOT]   (exit 1 on any violation, each printed as
# path:line: what is wrong)
import itertools
import subprocess
import sys

TAG = "SPDX-License-Identifier: Apache-2.0"
PATTERNS = ["*.c", "*.h", "*.sh", "*.py", "*.proto", "*.cmake", "CMakeLists.txt",
            "*/CMakeLists.txt"]


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    git = ["git", "-C", root, "ls-files", "--"]
    files = subprocess.run(git + PATTERNS, check=True, capture_output=True, text=True).stdout.splitlines()
    bad = []
    for path in files:
        with open(f"{root}/{path}", encoding="utf-8", errors="replace") as f:
            head = list(itertools.islice(f, 4))
        if head and head[0].startswith("#!"):
            head = head[1:]
        if not any(TAG in line for line in head[:3]):
            bad.append(f"{path}:1: no '{TAG}' in its first 3 lines (after any #! line)")
    if subprocess.run(git + ["LICENSE"], capture_output=True, text=True).stdout.strip() != "LICENSE":
        bad.append("LICENSE:1: missing: the top of the repository needs the Apache-2.0 licence text")
    else:
        with open(f"{root}/LICENSE", encoding="utf-8", errors="replace") as f:
            text = f.read()
        if "Apache License" not in text or "Version 2.0" not in text:
            bad.append("LICENSE:1: is not the Apache License, Version 2.0")
    for line in bad:
        print(line)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
