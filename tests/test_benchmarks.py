"""The benchmark scripts still run against the library (tiny inputs, no timing asserted): a changed
signature in kitrain must not leave a benchmark that fails only when someone measures."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

from kitrain.paths import RunPaths
from tests.conftest import REPO

pytestmark = pytest.mark.slow


def run_benchmark(script: str, *args: str) -> dict:
    """Run ``benchmarks/<script>`` and return its last line, the JSON result."""
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_diff_benchmark(tmp_path):
    pairs = tmp_path / "pairs.jsonl.gz"
    page = "".join(f"== Section {i} ==\nText of section {i} with a [[link]].\n\n" for i in range(30))
    edits = [(page, page.replace("section 12 with", "section 12, now longer, with")),
             (page, page + "== New ==\nA new section.{{citation needed}}\n"),
             (page, page.replace("== Section 3 ==\nText of section 3 with a [[link]].\n\n", ""))]
    with gzip.open(pairs, "wt", encoding="utf-8") as handle:
        for prev, curr in edits:
            handle.write(json.dumps({"prev": prev, "curr": curr, "bucket": "5KB"}) + "\n")
    result = run_benchmark("diff.py", "--pairs", str(pairs))
    assert result["pairs"] == 3 and result["identical"] == 3 and result["text_rules"] == "paper"
    assert min(result["kitrain_s"], result["plain_s"], result["parse_s"]) > 0
    assert {rules: r["identical"] for rules, r in result["by_rules"].items()} == {"paper": 3, "multiscript": 3}


@pytest.mark.spark
def test_collect_benchmark():
    result = run_benchmark("collect.py", "--revisions", "300", "--memory-sizes")
    assert result["revisions"] == 300 and result["arrow_rev_per_s"] > 0 and result["row_udf_rev_per_s"] > 0


def test_features_and_finetune_benchmarks(demo_features):
    run_dir = str(demo_features[0])
    scoring = run_benchmark("features.py", "--corpus", RunPaths(run_dir).prepared("train"),
                            "--size", "tiny", "--limit", "40", "--device", "cpu")
    assert scoring["texts"] > 0 and scoring["max_abs_diff_fp32"] < 1e-4
    training = run_benchmark("finetune.py", "--run-dir", run_dir, "--target", "inserts", "--size", "tiny",
                             "--steps", "14")
    assert training["kitrain_samples_per_s"] > 0 and training["baseline_samples_per_s"] > 0


@pytest.mark.spark
def test_real_export_check(tmp_path):
    from tests.dumpfiles import export_xml

    def revision(rev_id, parent, text, **extra):
        return {"revision_id": rev_id, "revision_parent_id": parent, "revision_text": text,
                "revision_timestamp": f"2022-07-0{rev_id} 10:00:00.0", "page_title": "Page",
                "page_namespace": 0, "user_text": "Editor", "user_id": 3, **extra}

    page = "== One ==\nA first paragraph.\n\n== Two ==\nA second one, with a [[link]].\n"
    revisions = [revision(1, None, page), revision(2, 1, page.replace("first", "silly"), user_text="192.0.2.1",
                                                      user_id=None),
                 revision(3, 2, page), revision(4, 3, page + "\n== Three ==\nMore.{{citation needed}}\n"),
                 revision(5, 4, None)]  # a deleted text: not eligible, and none of its children is there
    talk = [{**revision(6, None, "talk"), "page_namespace": 1}, {**revision(7, 6, "talk 2"), "page_namespace": 1}]
    export = tmp_path / "export.xml"
    export.write_text(export_xml({1: revisions, 2: talk}, "enwiki"), encoding="utf-8")
    result = run_benchmark("real_export.py", "--xml", str(export), "--layout", "74")
    assert result["ok"] and (result["revisions"], result["article_revisions"], result["anonymous"]) == (7, 5, 1)
    # 2, 3 and 4 are eligible; 2 was reverted by 3; 5 lacks its text and is counted missing
    assert (result["eligible"], result["collected"], result["eligible_reverted"]) == (3, 3, 1)
    assert result["missing_text"] == result["lacking_text_in_export"] == 1
    assert result["xml_dump"] == "20220801"
