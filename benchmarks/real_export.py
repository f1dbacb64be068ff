"""Check the dumps source on a real MediaWiki export: every eligible revision, both texts, the diff.

Takes a ``pages-meta-history`` export written by MediaWiki (``dumpBackup.php --full``,
Special:Export with history, or a Wikimedia dump part), derives the ``mediawiki_history`` lines of
its revisions (identity reverts found by sha1, IP editors anonymous) and writes them in one of the
published TSV layouts with the project's dump writer, lays both out as ``--dumps-dir`` expects and
collects the whole history with ``kitrain collect``'s code (``--source dumps``). Then checks:

- every eligible revision (article namespace, with a parent, both texts in the export) is collected,
  with both texts found in the XML, and exactly the others are counted as missing text;
- its labels are the reverts the history lines say;
- its edit diff (action counts and texts) equals one plain ``StructuredEditTypes`` call on the
  same two texts, taken straight from the export, not from the reader.

Prints a summary, then one JSON line; exits 1 when a check fails.

    python benchmarks/real_export.py --xml EXPORT.xml [--lang en] [--layout 78] [--compress bz2]
"""

from __future__ import annotations

import argparse
import bz2
import datetime as dt
import json
import logging
import lzma
import shutil
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pandas as pd  # noqa: E402

from kitrain.collect import run_collect  # noqa: E402
from kitrain.config import CollectConfig  # noqa: E402
from kitrain.diff import plain_edit_diff  # noqa: E402
from kitrain.dumps import first_full_history_day  # noqa: E402
from kitrain.languages import wiki_db  # noqa: E402
from kitrain.paths import RunPaths  # noqa: E402
from kitrain.schema import HISTORY_DUMP_LAYOUTS, LABEL  # noqa: E402
from kitrain.spark import get_spark  # noqa: E402
from tests.dumpfiles import history_from_export, write_history_lines  # noqa: E402


def read_export(path: str) -> str:
    opener = {".bz2": bz2.open, ".xz": lzma.open}.get(Path(path).suffix, open)
    with opener(path, "rt", encoding="utf-8") as handle:
        return handle.read()


def lay_out(text: str, rows: list[dict], out: Path, wiki: str, snapshot: str, dump_date: str,
            layout: int, compress: str) -> None:
    write_history_lines(rows, out, wiki, snapshot, split="all-time", columns=layout, compress=True)
    name = f"{wiki}-{dump_date}-pages-meta-history1.xml"
    folder = out / "xmldumps" / wiki / dump_date
    folder.mkdir(parents=True)
    if compress == "bz2":
        (folder / (name + ".bz2")).write_bytes(bz2.compress(text.encode("utf-8")))
    else:
        (folder / name).write_text(text, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--xml", required=True, help="a MediaWiki XML export with full history (.xml, .bz2, .xz)")
    parser.add_argument("--lang", default="en", help="language the revisions are collected as (default en)")
    parser.add_argument("--layout", type=int, default=max(HISTORY_DUMP_LAYOUTS), choices=sorted(HISTORY_DUMP_LAYOUTS),
                        help="TSV layout (fields) of the history lines (default: the newest)")
    parser.add_argument("--compress", choices=("none", "bz2"), default="bz2", help="XML file as written")
    parser.add_argument("--keep", default=None, help="write the dumps and the run here and keep them")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    text = read_export(args.xml)
    wiki = wiki_db(args.lang)
    rows, revisions = history_from_export(text, wiki)
    if not rows:
        raise SystemExit(f"{args.xml}: no revisions")
    first = min(r["timestamp"] for r in revisions.values()).date()
    end = max(r["timestamp"] for r in revisions.values()).date() + dt.timedelta(days=1)
    last = end - dt.timedelta(days=1)
    snapshot = f"{last.year:04d}-{last.month:02d}"
    dump_date = first_full_history_day(end.isoformat()).strftime("%Y%m%d")
    work = Path(args.keep or tempfile.mkdtemp(prefix="kitrain-real-export-"))
    lay_out(text, rows, work / "dumps", wiki, snapshot, dump_date, args.layout, args.compress)

    cfg = CollectConfig(lang=args.lang, mode="train", source="dumps", dumps_dir=str(work / "dumps"),
                        snapshot=snapshot, train_start=first.isoformat(), train_end=end.isoformat(),
                        test_start=max(first, end - dt.timedelta(days=7)).isoformat(),
                        test_end=end.isoformat(), max_records=10_000_000, diff_partitions=2)
    spark = get_spark("kitrain real export check", master="local[2]", scratch_dir=str(work / "scratch"),
                      conf={"spark.sql.shuffle.partitions": "4", "spark.ui.enabled": "false"})
    try:
        report = run_collect(spark, cfg, str(work / "run"))
    finally:
        spark.stop()
    collected = pd.read_parquet(RunPaths(str(work / "run")).collected("all_users", "train", args.lang))
    got = {int(r["revision_id"]): r for r in collected.to_dict("records")}

    eligible = {
        rev_id: rev for rev_id, rev in revisions.items()
        if rev["ns"] == 0 and rev["revision_parent_id"] and rev["text"] is not None
        and revisions.get(rev["revision_parent_id"], {}).get("text") is not None
    }
    # article revisions with a parent whose own or parent text the export lacks (deleted, or a
    # parent older than a partial export): the collection must count each of them as missing text
    lacking = sum(rev["ns"] == 0 and bool(rev["revision_parent_id"]) for rev in revisions.values()) - len(eligible)
    labels = {r["revision_id"]: r["revision_is_identity_reverted"] for r in rows}
    missing = sorted(set(eligible) - set(got))
    extra = sorted(set(got) - set(eligible))
    wrong_label = sorted(i for i in set(eligible) & set(got) if bool(got[i][LABEL]) != labels[i])
    different = []
    for rev_id in sorted(set(eligible) & set(got)):
        plain = plain_edit_diff(revisions[eligible[rev_id]["revision_parent_id"]]["text"],
                                eligible[rev_id]["text"], args.lang)
        row = got[rev_id]
        mine = (dict(row["actions"]), list(row["texts_insert"]), list(row["texts_removed"]),
                [(c["before"], c["after"]) for c in row["texts_change"]])
        theirs = (plain.actions, plain.texts_insert, plain.texts_removed, [tuple(c) for c in plain.texts_change])
        if mine != theirs:
            different.append(rev_id)
    steps = {s["step"]: s for s in report["steps"]}
    result = {
        "export": Path(args.xml).name, "layout": args.layout, "revisions": len(revisions),
        "article_revisions": sum(r["ns"] == 0 for r in revisions.values()),
        "anonymous": sum(r["anonymous"] for r in revisions.values()),
        "reverted": sum(labels.values()), "eligible": len(eligible), "collected": len(got),
        "eligible_reverted": sum(labels[i] for i in eligible), "missing": missing, "extra": extra,
        "wrong_label": wrong_label, "diff_differs": different,
        "missing_text": steps["missing_text"]["dropped"], "lacking_text_in_export": lacking,
        "diff_failures": steps["diff_failures"]["dropped"],
        "xml_dump": report["source"]["xml_dump"], "window": [cfg.train_start, cfg.train_end],
    }
    ok = not (missing or extra or wrong_label or different) and result["missing_text"] == lacking
    print(f"{result['export']}: {result['revisions']} revisions ({result['article_revisions']} in articles, "
          f"{result['anonymous']} by IP editors, {result['reverted']} reverted); {result['eligible']} "
          f"eligible, {result['collected']} collected; missing {len(missing)}, extra {len(extra)}, wrong "
          f"label {len(wrong_label)}, diff differs {len(different)} -> {'OK' if ok else 'FAILED'}")
    print(json.dumps({**result, "ok": ok}))
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
