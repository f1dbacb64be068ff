"""kitrain's ``paper`` text rules against the original ``diff_lines``, on edits of held-out articles.

Runs the original scripts' own ``sentence_tokenize`` / ``diff_lines`` (read from your checkout of
trokhymovych/KI_multilingual_training, ``modules/data_collection.py``; nothing of it ships with
kitrain) with fuzzywuzzy 0.18 as the original environment had it (pure Python, no
python-Levenshtein; ``pip install fuzzywuzzy==0.18.0`` in a scratch environment), with one change:
the two sets it pairs sentences from are iterated in sorted order, as kitrain does, instead of in
the order of ``PYTHONHASHSEED``. Edits are made from the articles of ``wikitext_articles.jsonl.gz``
that ``edit_pairs.jsonl.gz`` does not use (a word reversed, a sentence added, removed, replaced by
junk; seeded), and each is diffed by mwedittypes 3 once: the texts the original would keep from its
tree diff are compared with ``plain_edit_diff(..., text_rules="paper")``, and the collection's
changed-span ``edit_diff`` with the plain one. Also compares ``diff_lines`` alone on paragraph
pairs. Prints one JSON line; exits 1 when the text rules differ (a changed-span difference is
reported, not fatal: it is the cut-off's, not the rules').

    python benchmarks/original_text_rules.py --original PATH/modules/data_collection.py [--seed 7]
"""

from __future__ import annotations

import argparse
import ast
import difflib
import gzip
import itertools
import json
import random
import re
import sys
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mwedittypes import StructuredEditTypes  # noqa: E402

from kitrain.diff import FUZZY_THRESHOLD, diff_lines, edit_diff, plain_edit_diff  # noqa: E402

SHARED = Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def original_functions(path: str) -> dict:
    """The original's three text functions, compiled from its source, set order made sorted."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # fuzzywuzzy warns that python-Levenshtein is absent
        from fuzzywuzzy import fuzz
    source = Path(path).read_text(encoding="utf-8")
    wanted = {"sentence_tokenize", "flatten_list", "diff_lines"}
    code = "\n\n".join(ast.get_source_segment(source, node) for node in ast.parse(source).body
                       if isinstance(node, ast.FunctionDef) and node.name in wanted)
    fixed = code.replace("itertools.product(deleted, added)", "itertools.product(sorted(deleted), sorted(added))") \
        .replace("list(added - seen), list(deleted - seen)", "sorted(added - seen), sorted(deleted - seen)")
    if fixed.count("sorted(") != 4:
        raise SystemExit(f"{path}: diff_lines is not the one this check knows (set iteration not found)")
    namespace = {"re": re, "difflib": difflib, "itertools": itertools, "fuzz": fuzz,
                 "FUZZY_THRESHOLD": FUZZY_THRESHOLD, "List": list, "Any": object, "Set": set}
    exec(compile(fixed, path, "exec"), namespace)  # noqa: S102 - the user's checkout of the original
    return namespace


def original_texts(functions: dict, prev: str, curr: str) -> tuple[list, list, list]:
    differ = StructuredEditTypes("wikitext", prev, curr, lang="en")
    differ.get_diff()
    added = [n["text"] for n in differ.tree_diff["insert"] if n["type"] == "Text"]
    deleted = [n["text"] for n in differ.tree_diff["remove"] if n["type"] == "Text"]
    changed: list = []
    for node in differ.tree_diff["change"]:
        if node["prev"]["type"] == node["curr"]["type"] == "Text":
            a, d, c = functions["diff_lines"](node["prev"]["text"], node["curr"]["text"])
            added.extend(a)
            deleted.extend(d)
            changed.extend(c)
    return added, deleted, [tuple(c) for c in changed]


def edits(articles: list[dict], rng: random.Random):
    for article in articles:
        text = article["wikitext"]
        sentences = list(re.finditer(r"[^.\n]{20,200}\.", text))
        for kind in ("word", "insert", "remove", "junk"):
            if not sentences:
                break
            match = rng.choice(sentences)
            sentence = match.group(0)
            if kind == "word":
                words = sentence.split()
                i = rng.randrange(len(words))
                words[i] = words[i][::-1]
                new = " ".join(words)
            elif kind == "insert":
                new = sentence + " This is an inserted sentence about nothing at all!"
            elif kind == "remove":
                new = ""
            else:
                new = "LOL " * 5 + "."
            yield article["title"], kind, text, text[: match.start()] + new + text[match.end():]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--original", required=True, help="the original's modules/data_collection.py")
    parser.add_argument("--articles", default=str(SHARED / "wikitext_articles.jsonl.gz"))
    parser.add_argument("--pairs", default=str(SHARED / "edit_pairs.jsonl.gz"),
                        help="benchmark pairs whose articles are left out")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    functions = original_functions(args.original)
    with gzip.open(args.articles, "rt", encoding="utf-8") as handle:
        articles = [json.loads(line) for line in handle]
    with gzip.open(args.pairs, "rt", encoding="utf-8") as handle:
        used = {json.loads(line)["article"] for line in handle}
    held_out = [a for a in articles if a["title"] not in used and len(a["wikitext"]) > 2000]
    rng = random.Random(args.seed)
    total, differ, span_differ = 0, [], []
    for title, kind, prev, curr in edits(held_out, rng):
        ours = plain_edit_diff(prev, curr, "en", "paper")
        total += 1
        if (ours.texts_insert, ours.texts_removed, ours.texts_change) != original_texts(functions, prev, curr):
            differ.append([title, kind])
        # what a collection computes: the changed-span diff, which must equal the plain one
        if edit_diff(prev, curr, "en", text_rules="paper") != ours:
            span_differ.append([title, kind])
    line_pairs, line_differ = 0, 0
    for article in held_out:
        paragraphs = [p for p in article["wikitext"].split("\n") if len(p) > 80]
        for _ in range(10 if len(paragraphs) >= 2 else 0):
            a, b = rng.sample(paragraphs, 2)
            old, new = a + "\n" + b, a.replace(".", ". Also.", 1) + "\n" + b[: len(b) // 2]
            line_pairs += 1
            mine = diff_lines(old, new, "paper")
            theirs = functions["diff_lines"](old, new)
            line_differ += (list(mine[0]), list(mine[1]), [tuple(c) for c in mine[2]]) != \
                (list(theirs[0]), list(theirs[1]), [tuple(c) for c in theirs[2]])
    result = {"benchmark": "original_text_rules", "articles": len(held_out), "edits": total,
              "texts_equal": total - len(differ), "differ": differ[:20],
              "collection_diff_equal": total - len(span_differ), "collection_diff_differs": span_differ[:20],
              "diff_lines_pairs": line_pairs,
              "diff_lines_equal": line_pairs - line_differ, "seed": args.seed}
    print(json.dumps(result))  # noqa: T201
    return 1 if differ or line_differ else 0


if __name__ == "__main__":
    sys.exit(main())
