"""Edit-diff speed: kitrain's diff against the plain way and against parsing alone.

(a) kitrain's ``edit_diff`` (only the span of changed sections is parsed and diffed), (b) the plain
way: one ``StructuredEditTypes`` call on the whole pair with the same text rules
(``plain_edit_diff``), (c) mwparserfromhell parsing prev and curr only. Checks that (a) equals (b)
on every pair and fails if not, under each text rule set (``--text-rules``, default both: the
paper's and multiscript). Prints median ms per revision and revisions per second per core by size
bucket, then one JSON line (the top-level figures are the first rule set's; ``by_rules`` has each).

    python benchmarks/diff.py [--pairs ../shared/data/edit_pairs.jsonl.gz] [--lang en] [--text-rules paper]
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mwparserfromhell  # noqa: E402

from kitrain.diff import TEXT_RULES, edit_diff, plain_edit_diff  # noqa: E402

DEFAULT_PAIRS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "edit_pairs.jsonl.gz"


def timed(fn, *args):
    start = time.perf_counter()
    result = fn(*args)
    return result, time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default=str(DEFAULT_PAIRS), help="JSON lines with prev, curr, bucket")
    parser.add_argument("--lang", default="en")
    parser.add_argument("--text-rules", nargs="+", choices=TEXT_RULES, default=list(TEXT_RULES),
                        help="the diff's text rule sets to measure (default: both)")
    args = parser.parse_args()
    opener = gzip.open if args.pairs.endswith(".gz") else open
    with opener(args.pairs, "rt", encoding="utf-8") as handle:
        pairs = [json.loads(line) for line in handle]

    results = {rules: measure(pairs, args.lang, rules) for rules in args.text_rules}
    first = results[args.text_rules[0]]
    print(json.dumps({**first, "by_rules": results}))  # noqa: T201
    failed = {rules: r["pairs"] - r["identical"] for rules, r in results.items() if r["identical"] != r["pairs"]}
    if failed:
        sys.exit(f"kitrain's diff differs from the plain diff: {failed} pair(s) by text rules")


def measure(pairs: list[dict], lang: str, rules: str) -> dict:
    times: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    identical, mismatches = 0, []
    for i, pair in enumerate(pairs):
        ours, t_a = timed(edit_diff, pair["prev"], pair["curr"], lang, None, rules)
        plain, t_b = timed(plain_edit_diff, pair["prev"], pair["curr"], lang, rules)
        _, t_c = timed(lambda p, c: (mwparserfromhell.parse(p, skip_style_tags=True),
                                     mwparserfromhell.parse(c, skip_style_tags=True)),
                       pair["prev"], pair["curr"])
        bucket = pair.get("bucket", "all")
        for name, seconds in (("kitrain", t_a), ("plain", t_b), ("parse", t_c)):
            times[name][bucket].append(seconds)
        if ours == plain:
            identical += 1
        else:
            mismatches.append((i, pair.get("edit"), bucket))

    buckets = sorted(times["plain"], key=lambda b: (len(b), b))
    print(f"text rules: {rules}")  # noqa: T201
    print(f"{'bucket':>8} {'kitrain ms':>11} {'plain ms':>9} {'parse ms':>9} {'kitrain rev/s':>14} {'plain rev/s':>12}")  # noqa: T201
    for bucket in buckets:
        med = {n: statistics.median(times[n][bucket]) * 1000 for n in ("kitrain", "plain", "parse")}
        print(f"{bucket:>8} {med['kitrain']:11.1f} {med['plain']:9.1f} {med['parse']:9.1f} "  # noqa: T201
              f"{1000 / med['kitrain']:14.1f} {1000 / med['plain']:12.1f}")
    totals = {n: sum(sum(v) for v in times[n].values()) for n in ("kitrain", "plain", "parse")}
    return {
        "benchmark": "diff", "text_rules": rules, "pairs": len(pairs), "kitrain_s": round(totals["kitrain"], 3),
        "plain_s": round(totals["plain"], 3), "parse_s": round(totals["parse"], 3),
        "speedup": round(totals["plain"] / totals["kitrain"], 2), "identical": identical,
        "mismatches": mismatches[:20],
    }


if __name__ == "__main__":
    main()
