#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
# Style check 5, READMEs: the documentation points at things that exist, and
# every source folder of the plugin explains each of its files, so a reader
# can find their way from a README to the code and back.
#
# Rules:
#   - every relative link [text](path) or [text](path#anchor) (images too)
#     in a tracked *.md resolves, from the .md's folder (or from the top for
#     "/path"), to a tracked file or to a folder holding tracked files.
#     Ignored: links with a scheme (http:, https:, mailto:, ...), pure
#     "#anchor" links, and anything inside `code` or a fenced code block;
#     the anchor itself is not checked;
#   - each folder plugin/src/<folder>/ holding .c/.h files has a tracked
#     README.md that names each of them (its file name, e.g. "ring.c").
#
# Usage: readmes.py [REPO_ROOT]   (exit 1 on any violation, each printed as
# path:line: what is wrong)
import posixpath
import re
import subprocess
import sys
from urllib.parse import unquote

LINK = re.compile(r'\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+"[^"]*")?\s*\)')
SRC = "plugin/src/"


def links(path, text, tracked, folders):
    """path:line for each relative link of the .md at PATH that leads nowhere."""
    fenced = False
    for n, line in enumerate(text.split("\n"), 1):
        if re.match(r"\s*(```|~~~)", line):
            fenced = not fenced
            continue
        if fenced:
            continue
        for target in LINK.findall(re.sub(r"`[^`]*`", "", line)):
            if re.match(r"[A-Za-z][A-Za-z0-9+.-]*:", target) or target.startswith("#"):
                continue
            rel = unquote(target.split("#")[0].split("?")[0])
            base = "" if rel.startswith("/") else posixpath.dirname(path)
            where = posixpath.normpath(posixpath.join(base, rel.lstrip("/")))
            if where not in tracked and where not in folders:
                yield f"{path}:{n}: link '{target}' leads to no tracked file or folder"


def folder_readmes(root, tracked):
    """path:line for each plugin/src folder whose README misses a file."""
    by_folder = {}
    for f in sorted(tracked):
        if f.startswith(SRC) and f.endswith((".c", ".h")):
            by_folder.setdefault(posixpath.dirname(f), []).append(posixpath.basename(f))
    for folder, names in sorted(by_folder.items()):
        readme = f"{folder}/README.md"
        if readme not in tracked:
            yield f"{readme}:1: missing: {folder}/ needs a README naming its {len(names)} .c/.h files"
            continue
        with open(f"{root}/{readme}", encoding="utf-8") as f:
            text = f.read()
        for name in names:
            if not re.search(r"(?<![\w.-])" + re.escape(name) + r"(?!\w)", text):
                yield f"{readme}:1: does not name {name}"


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else "."
    tracked = set(subprocess.run(["git", "-C", root, "ls-files"], check=True,
                                 capture_output=True, text=True).stdout.split("\n")) - {""}
    folders = {"."} | {posixpath.dirname(f) for f in tracked}
    folders |= {p for d in list(folders) for p in parents(d)}
    bad = []
    for md in sorted(f for f in tracked if f.endswith(".md")):
        with open(f"{root}/{md}", encoding="utf-8") as f:
            bad += links(md, f.read(), tracked, folders)
    bad += folder_readmes(root, tracked)
    for line in bad:
        print(line)
    sys.exit(1 if bad else 0)


def parents(d):
    while d:
        d = posixpath.dirname(d)
        yield d or "."


if __name__ == "__main__":
    main()
