#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Style check 1, the layer rule of plugin/src/: code only depends downwards,
# so each folder can be read, tested and replaced knowing only the folders
# below it.  Ranks: lib 0, model 1, proto and proto/tcp 2, stack 3, api 4.
#
# For every tracked .c/.h in plugin/src/<folder>/, each #include "X":
#   - is folder-qualified: X is "<folder>/<file>" for a folder of the table,
#     the public "msbnet/msbnet.h", or lwIP's "lwip/..." (found by the
#     compiler through pkg-config, so not looked up here);
#   - names a tracked file (plugin/src/X, or plugin/include/X for msbnet/);
#   - never names a folder of a higher rank than the includer's;
# a project header is never included with <> (which would dodge all this);
# and no include cycle crosses a folder: on the file-level include graph, an
# include of a file in another folder must not lead back to the includer.
#
# Usage: layers.py [REPO_ROOT]   (exit 1 on any violation, each printed as
# path:line: what is wrong)
import os
import re
import subprocess
import sys
from collections import deque

RANK = {"lib": 0, "model": 1, "proto": 2, "proto/tcp": 2, "tls": 2, "stack": 3, "api": 4}
SRC = "plugin/src/"
INCLUDE = re.compile(r'^\s*#\s*include\s*(["<])([^">]+)[">]')


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    tracked = set(subprocess.run(["git", "-C", root, "ls-files"], check=True,
                                 capture_output=True, text=True).stdout.splitlines())
    files = sorted(f for f in tracked if f.startswith(SRC) and f.endswith((".c", ".h")))
    problems, edges = [], {}  # edges: file -> [(included file, line)]
    for path in files:
        folder = os.path.dirname(path[len(SRC):])
        if folder not in RANK:
            problems.append(f"{path}:1: folder '{folder}' has no rank in the layer table")
            continue
        edges[path] = []
        with open(f"{root}/{path}", encoding="utf-8") as f:
            for n, line in enumerate(f, 1):
                m = INCLUDE.match(line)
                if m:
                    why = judge(folder, m.group(1), m.group(2), tracked, edges[path], n)
                    if why:
                        problems.append(f"{path}:{n}: {m.group(0).strip()}: {why}")
    problems += cycles(edges)
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


def judge(folder, quote, name, tracked, out, n):
    """Why the include of NAME from FOLDER breaks the rule (None if it does
    not); an include of a project file is added to OUT as an edge."""
    target = os.path.dirname(name)
    if quote == "<":
        return "a project header in <>; use quotes" if target in RANK or name == "msbnet/msbnet.h" else None
    if name.startswith("lwip/"):
        return None
    if name == "msbnet/msbnet.h":
        return None if "plugin/include/" + name in tracked else "names no tracked file"
    if target not in RANK:
        return 'not folder-qualified (write "lib/x.h", "model/x.h", ...)'
    if SRC + name not in tracked:
        return "names no tracked file"
    out.append((SRC + name, n))
    if RANK[target] > RANK[folder]:
        return f"'{folder}' (rank {RANK[folder]}) includes '{target}' (rank {RANK[target]}): only equal or lower ranks"
    return None


def cycles(edges):
    """path:line for each include into another folder that leads back."""
    found = []
    for src in sorted(edges):
        for dst, n in edges[src]:
            if os.path.dirname(dst) != os.path.dirname(src):
                path = route(edges, dst, src)
                if path:
                    found.append(f"{src}:{n}: include cycle across folders: " + " -> ".join([src] + path))
    return found


def route(edges, start, goal):
    """The include chain from START to GOAL (breadth first), or None."""
    came = {start: None}
    todo = deque([start])
    while todo:
        at = todo.popleft()
        if at == goal:
            chain = []
            while at:
                chain.append(at)
                at = came[at]
            return chain[::-1]
        for nxt, _ in edges.get(at, []):
            if nxt not in came:
                came[nxt] = at
                todo.append(nxt)
    return None


if __name__ == "__main__":
    main()
