# SPDX-License-Identifier: Apache-2.0
"""What the perf scripts' reports share: their results files (one
"column key value" line per measurement and round) and the Markdown tables
they print."""


def samples(path):
    """{(column, key): [the value of each round]}: numbers where they parse,
    else the text as printed (e.g. conn_rate.sh's per-second series)."""
    res = {}
    for line in open(path):
        col, key, v = line.split()
        try:
            v = float(v)
        except ValueError:
            pass
        res.setdefault((col, key), []).append(v)
    return res


def load(path):
    """The results as {(column, key): value}: the median of the rounds,
    except "lost*" keys, which are summed. Text values are left out."""
    res = {}
    for k, v in samples(path).items():
        v = [x for x in v if isinstance(x, float)]
        if v:
            res[k] = sum(v) if k[1].startswith("lost") else sorted(v)[len(v) // 2]
    return res


def write_json(path, out):
    """The results file as JSON for targets.py: {"column/key": {"median": m,
    "samples": [...]}}, the median as load() computes it (None for text)."""
    import json
    med = load(path)
    json.dump({"%s/%s" % k: {"median": med.get(k), "samples": v} for k, v in samples(path).items()},
              open(out, "w"), indent=1, sort_keys=True)


def print_table(head, rows):
    """head and rows as a Markdown table, columns padded to their widest cell."""
    wd = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]

    def fmt(r):
        return "| " + " | ".join(c.ljust(wd[i]) for i, c in enumerate(r)) + " |"

    print(fmt(head))
    print("|" + "|".join("-" * (x + 2) for x in wd) + "|")
    for r in rows:
        print(fmt(r))
