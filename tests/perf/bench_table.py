"""What the perf scripts' reports share: their results files (one
"column key value" line per measurement and round) and the Markdown tables
they print."""


def load(path):
    """The results as {(column, key): value}: the median of the rounds,
    except "lost*" keys, which are summed."""
    res = {}
    for line in open(path):
        col, key, v = line.split()
        res.setdefault((col, key), []).append(float(v))
    return {k: (sum(v) if k[1].startswith("lost") else sorted(v)[len(v) // 2])
            for k, v in res.items()}


def print_table(head, rows):
    """head and rows as a Markdown table, columns padded to their widest cell."""
    wd = [max(len(x[i]) for x in [head] + rows) for i in range(len(head))]

    def fmt(r):
        return "| " + " | ".join(c.ljust(wd[i]) for i, c in enumerate(r)) + " |"

    print(fmt(head))
    print("|" + "|".join("-" * (x + 2) for x in wd) + "|")
    for r in rows:
        print(fmt(r))
