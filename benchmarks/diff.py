"""Edit-diff speed: kitrain's diff against the plain way and against parsing alone.

(a) kitrain's ``edit_diff`` (only the span of changed sections is parsed and diffed), (b) the plain
way: one ``StructuredEditTypes`` call on the whole pair with the same text rules
(``plain_edit_diff``), (c) mwparserfromhell parsing prev and curr only, and with ``--ceiling`` (d) the bound of any cut at
section boundaries: the plain diff of only the sections that differ, each pair of them on its own
where both texts have as many sections, else the span between the equal leading and trailing
sections, with no guard (its output is not checked: it is a bound on time, not a diff). Checks that (a) equals (b)
on every pair and fails if not, under each text rule set (``--text-rules``, default both: the
paper's and multiscript), in elapsed or CPU time (``--clock``). Logs median ms per revision and
revisions per second per core by the pairs' size bucket, and the total time of each method and
their ratio per page-size band (the size of the page before the edit, UTF-8 bytes of ``prev``,
KB = 1000 bytes; ``--band-edges``), since the total is dominated by the longest pages. Ends with
one JSON line (the top-level figures are the first rule set's; ``by_rules`` has each).

The pairs are read from ``--pairs``, by default ``../shared/data/edit_pairs.jsonl.gz`` (180 real
article pairs); nothing is generated when it is absent.

    python benchmarks/diff.py [--pairs ../shared/data/edit_pairs.jsonl.gz] [--lang en] [--text-rules paper]
                              [--band-edges 10 30 60 120] [--clock wall|cpu] [--ceiling]
"""

from __future__ import annotations

import argparse
import gzip
import json
import logging
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import mwparserfromhell  # noqa: E402

from kitrain.diff import TEXT_RULES, edit_diff, equal_ends, plain_edit_diff, split_sections  # noqa: E402

DEFAULT_PAIRS = Path(__file__).resolve().parent.parent.parent / "shared" / "data" / "edit_pairs.jsonl.gz"
# The shared pairs come from 15 articles of 4.0-6.2, 21.8-23.7, 41.7-42.7, 72.1-87.6 and 154-169 KB
# (3 each, nominally 5, 20, 40, 80 and 160 KB). Edges at 10/40/80/160 KB would cut the 80 and the
# 160 KB groups in two (80.0 and 164.2 KB articles); these sit between the groups, near the
# geometric means of neighbouring nominal sizes, so each band holds one group of articles.
DEFAULT_BAND_EDGES_KB = (10, 30, 60, 120)

log = logging.getLogger("benchmarks.diff")


def page_kb(pair: dict) -> float:
    """The pair's page size: the page before the edit, UTF-8 bytes of ``prev``, in KB of 1000 bytes."""
    return len(pair["prev"].encode("utf-8")) / 1000


def size_bands(edges_kb) -> list[tuple[str, float, float]]:
    """``(label, low, high)`` for the bands between ascending edges; a page of ``low <= kb < high``."""
    edges = [float(e) for e in edges_kb]
    if any(b <= a for a, b in zip(edges, edges[1:])) or (edges and edges[0] <= 0):
        raise ValueError(f"band edges must be positive and ascending: {edges_kb}")
    bounds = [0.0, *edges, float("inf")]
    out = []
    for low, high in zip(bounds, bounds[1:]):
        if low == 0 and high == float("inf"):
            label = "all"
        elif low == 0:
            label = f"<{high:g} KB"
        elif high == float("inf"):
            label = f">={low:g} KB"
        else:
            label = f"{low:g}-{high:g} KB"
        out.append((label, low, high))
    return out


def band_of(kb: float, edges_kb) -> str:
    """The label of the band holding a page of ``kb`` KB."""
    return next(label for label, low, high in size_bands(edges_kb) if low <= kb < high)


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def changed_sections(prev: str, curr: str) -> list[tuple[str, str]]:
    """The least a diff at section granularity must parse: each pair of differing sections where
    both texts have as many sections, else the one span between the equal leading and trailing
    sections. No guard: an unsafe cut is allowed, so this bounds every section-level cut-off."""
    ps, cs = split_sections(prev), split_sections(curr)
    if len(ps) == len(cs):
        return [(a, b) for a, b in zip(ps, cs) if a != b]
    lead, trail = equal_ends(ps, cs)
    return [("".join(ps[lead:len(ps) - trail]), "".join(cs[lead:len(cs) - trail]))]


def sections_only(prev: str, curr: str, lang: str, rules: str) -> None:
    for p, c in changed_sections(prev, curr):
        plain_edit_diff(p, c, lang, rules)


def timed(clock, fn, *args):
    start = clock()
    result = fn(*args)
    return result, clock() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", default=str(DEFAULT_PAIRS), help="JSON lines with prev, curr, bucket")
    parser.add_argument("--lang", default="en")
    parser.add_argument("--text-rules", nargs="+", choices=TEXT_RULES, default=list(TEXT_RULES),
                        help="the diff's text rule sets to measure (default: both)")
    parser.add_argument("--band-edges", type=float, nargs="*", default=list(DEFAULT_BAND_EDGES_KB),
                        help="edges (KB) of the page-size bands of the per-band ratios (default: %(default)s)")
    parser.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                        help="wall: elapsed time; cpu: this process's CPU time, less moved by other work on "
                             "a shared machine (the diff runs in this one thread)")
    parser.add_argument("--ceiling", action="store_true",
                        help="also time the plain diff of the changed sections alone: the bound of any "
                             "cut at section boundaries (column 'sections', ratio 'ceiling')")
    args = parser.parse_args()
    try:
        size_bands(args.band_edges)
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    log.setLevel(logging.INFO)
    if not Path(args.pairs).is_file():
        sys.exit(f"no pairs file {args.pairs}: pass --pairs (JSON lines with prev, curr and optionally bucket)")
    opener = gzip.open if args.pairs.endswith(".gz") else open
    with opener(args.pairs, "rt", encoding="utf-8") as handle:
        pairs = [json.loads(line) for line in handle]
    log.info("%d pairs from %s", len(pairs), args.pairs)

    load_start = os.getloadavg()[0]
    results = {rules: measure(pairs, args.lang, rules, args.band_edges, CLOCKS[args.clock], args.ceiling)
               for rules in args.text_rules}
    first = results[args.text_rules[0]]
    load = [round(load_start, 2), round(os.getloadavg()[0], 2)]  # other work on the machine
    print(json.dumps({**first, "clock": args.clock, "load_avg_1m": load, "by_rules": results}))  # noqa: T201
    failed = {rules: r["pairs"] - r["identical"] for rules, r in results.items() if r["identical"] != r["pairs"]}
    if failed:
        sys.exit(f"kitrain's diff differs from the plain diff: {failed} pair(s) by text rules")


def measure(pairs: list[dict], lang: str, rules: str, band_edges=DEFAULT_BAND_EDGES_KB,
            clock=time.perf_counter, ceiling: bool = False) -> dict:
    methods = ("kitrain", "plain", "parse") + (("sections",) if ceiling else ())
    times: dict[str, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    by_band: dict[str, dict[str, float]] = defaultdict(lambda: defaultdict(float))
    identical, mismatches = 0, []
    for i, pair in enumerate(pairs):
        ours, t_a = timed(clock, edit_diff, pair["prev"], pair["curr"], lang, None, rules)
        plain, t_b = timed(clock, plain_edit_diff, pair["prev"], pair["curr"], lang, rules)
        _, t_c = timed(clock, lambda p, c: (mwparserfromhell.parse(p, skip_style_tags=True),
                                     mwparserfromhell.parse(c, skip_style_tags=True)),
                       pair["prev"], pair["curr"])
        spent = [t_a, t_b, t_c]
        if ceiling:
            spent.append(timed(clock, sections_only, pair["prev"], pair["curr"], lang, rules)[1])
        bucket = pair.get("bucket", "all")
        band = by_band[band_of(page_kb(pair), band_edges)]
        band["pairs"] += 1
        for name, seconds in zip(methods, spent):
            times[name][bucket].append(seconds)
            band[name] += seconds
        if ours == plain:
            identical += 1
        else:
            mismatches.append((i, pair.get("edit"), bucket))

    buckets = sorted(times["plain"], key=lambda b: (len(b), b))
    log.info("text rules: %s", rules)
    log.info(f"{'bucket':>8} {'kitrain ms':>11} {'plain ms':>9} {'parse ms':>9} {'kitrain rev/s':>14} {'plain rev/s':>12}")
    for bucket in buckets:
        med = {n: statistics.median(times[n][bucket]) * 1000 for n in methods}
        log.info(f"{bucket:>8} {med['kitrain']:11.1f} {med['plain']:9.1f} {med['parse']:9.1f} "
                 f"{1000 / med['kitrain']:14.1f} {1000 / med['plain']:12.1f}")
    totals = {n: sum(sum(v) for v in times[n].values()) for n in methods}

    def ratio(of: dict, name: str) -> float | None:
        return round(of["plain"] / of[name], 2) if of.get(name) else None

    bands = []
    for label, low, high in size_bands(band_edges):
        b = by_band.get(label, {})
        bands.append({
            "band": label, "low_kb": low, "high_kb": None if high == float("inf") else high,
            "pairs": int(b.get("pairs", 0)), **{f"{n}_s": round(b.get(n, 0.0), 3) for n in methods},
            "speedup": ratio(b, "kitrain"),
            **({"ceiling": ratio(b, "sections")} if ceiling else {}),
            "share_of_plain_s": round(b.get("plain", 0.0) / totals["plain"], 3) if totals["plain"] else None,
        })
    log.info("by page size (UTF-8 bytes of prev, KB = 1000 bytes): total seconds")
    extra = f" {'sections s':>10} {'ceiling':>8}" if ceiling else ""
    log.info(f"{'band':>10} {'pairs':>6} {'kitrain s':>10} {'plain s':>9} {'parse s':>9} {'ratio':>7}{extra} {'of plain':>9}")
    for b in bands + [{"band": "total", "pairs": len(pairs), **{f"{n}_s": totals[n] for n in methods},
                       "speedup": ratio(totals, "kitrain"), "ceiling": ratio(totals, "sections"),
                       "share_of_plain_s": 1.0}]:
        if b["pairs"]:
            extra = f" {b['sections_s']:10.2f} {b['ceiling']:7.2f}x" if ceiling else ""
            log.info(f"{b['band']:>10} {b['pairs']:6d} {b['kitrain_s']:10.2f} {b['plain_s']:9.2f} {b['parse_s']:9.2f} "
                     f"{b['speedup']:6.2f}x{extra} {100 * b['share_of_plain_s']:8.1f}%")
    return {
        "benchmark": "diff", "text_rules": rules, "pairs": len(pairs), "kitrain_s": round(totals["kitrain"], 3),
        "plain_s": round(totals["plain"], 3), "parse_s": round(totals["parse"], 3),
        "speedup": ratio(totals, "kitrain"),
        **({"sections_s": round(totals["sections"], 3), "ceiling": ratio(totals, "sections")} if ceiling else {}),
        "identical": identical,
        "mismatches": mismatches[:20], "band_edges_kb": [float(e) for e in band_edges], "bands": bands,
    }

if __name__ == "__main__":
    main()
