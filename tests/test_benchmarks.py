"""The benchmark scripts still run against the library (tiny inputs, no timing asserted): a changed
signature in kitrain must not leave a benchmark that fails only when someone measures. The logic
that needs no timing (run order, summaries, size bands) is checked on written-out values."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

from benchmarks.collect import alternating_order, summarize
from benchmarks.diff import DEFAULT_BAND_EDGES_KB, band_of, changed_sections, page_kb, size_bands
from kitrain.paths import RunPaths
from tests.conftest import REPO

SHARED_PAIRS = REPO.parent / "shared" / "data" / "edit_pairs.jsonl.gz"
ISSUE_EDGES_KB = (10, 40, 80, 160)


def run_benchmark(script: str, *args: str) -> dict:
    """Run ``benchmarks/<script>`` and return its last line, the JSON result."""
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / script), *args], cwd=REPO,
                          capture_output=True, text=True, timeout=900,
                          env={**os.environ, "HF_HUB_OFFLINE": "1"})
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slow
def test_diff_benchmark(tmp_path):
    pairs = tmp_path / "pairs.jsonl.gz"
    page = "".join(f"== Section {i} ==\nText of section {i} with a [[link]].\n\n" for i in range(30))
    edits = [(page, page.replace("section 12 with", "section 12, now longer, with")),
             (page, page + "== New ==\nA new section.{{citation needed}}\n"),
             (page, page.replace("== Section 3 ==\nText of section 3 with a [[link]].\n\n", ""))]
    with gzip.open(pairs, "wt", encoding="utf-8") as handle:
        for prev, curr in edits:
            handle.write(json.dumps({"prev": prev, "curr": curr, "bucket": "5KB"}) + "\n")
    assert 1 < len(page.encode()) / 1000 < 10  # the page lies in the band 1-10 KB of the edges below
    result = run_benchmark("diff.py", "--pairs", str(pairs), "--band-edges", "1", "10", "--clock", "cpu",
                           "--ceiling")
    assert result["clock"] == "cpu" and len(result["load_avg_1m"]) == 2
    assert result["pairs"] == 3 and result["identical"] == 3 and result["text_rules"] == "paper"
    assert min(result["kitrain_s"], result["plain_s"], result["parse_s"], result["sections_s"]) > 0
    assert result["ceiling"] > 0
    assert {rules: r["identical"] for rules, r in result["by_rules"].items()} == {"paper": 3, "multiscript": 3}
    assert result["band_edges_kb"] == [1.0, 10.0]
    for rules in result["by_rules"].values():
        bands = rules["bands"]
        assert [(b["band"], b["low_kb"], b["high_kb"], b["pairs"]) for b in bands] == [
            ("<1 KB", 0.0, 1.0, 0), ("1-10 KB", 1.0, 10.0, 3), (">=10 KB", 10.0, None, 0)]
        assert all(set(b) == {"band", "low_kb", "high_kb", "pairs", "kitrain_s", "plain_s", "parse_s",
                              "sections_s", "speedup", "ceiling", "share_of_plain_s"} for b in bands)
        empty, full = bands[0], bands[1]
        assert empty["speedup"] is None and empty["kitrain_s"] == empty["plain_s"] == empty["share_of_plain_s"] == 0
        # the one band holding every pair carries the totals
        for name in ("kitrain_s", "plain_s", "parse_s", "sections_s"):
            assert full[name] == pytest.approx(rules[name], abs=2e-3)
        assert full["speedup"] > 0 and full["share_of_plain_s"] == 1.0


def test_changed_sections_is_the_least_a_section_cut_parses():
    lead, a, b, c = "Lead.\n", "== A ==\nOne.\n", "== B ==\nTwo.\n", "== C ==\nThree.\n"
    b2, c2 = "== B ==\nTwo, more.\n", "== C ==\nThree, more.\n"
    # as many sections: each differing pair on its own, equal ones between them left out
    assert changed_sections(lead + a + b + c, lead + a + b2 + c2) == [(b, b2), (c, c2)]
    assert changed_sections(lead + a + b + c, lead + a + b + c) == []
    # a section removed: the span between the equal ends, with no guard
    assert changed_sections(lead + a + b + c, lead + a + c) == [(b, "")]
    assert changed_sections(lead + a + c, lead + a + b + c) == [("", b)]
    # no guard: a cut inside a template that spans sections is made all the same
    assert changed_sections("{{box\n" + a + b + "}}\n", "{{box\n" + a + b2 + "}}\n") == [(b + "}}\n", b2 + "}}\n")]


def test_diff_benchmark_without_pairs_file(tmp_path):
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "diff.py"), "--pairs", str(tmp_path / "none.gz")],
                          cwd=REPO, capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "no pairs file" in done.stderr and not done.stdout


def test_size_bands():
    assert size_bands(ISSUE_EDGES_KB) == [("<10 KB", 0.0, 10.0), ("10-40 KB", 10.0, 40.0), ("40-80 KB", 40.0, 80.0),
                                          ("80-160 KB", 80.0, 160.0), (">=160 KB", 160.0, float("inf"))]
    assert [label for label, _, _ in size_bands(DEFAULT_BAND_EDGES_KB)] == [
        "<10 KB", "10-30 KB", "30-60 KB", "60-120 KB", ">=120 KB"]
    assert band_of(100, ISSUE_EDGES_KB) == "80-160 KB"
    assert band_of(100, DEFAULT_BAND_EDGES_KB) == "60-120 KB"
    # a band holds its lower edge, not its upper one
    assert [band_of(kb, ISSUE_EDGES_KB) for kb in (0.0, 9.999, 10, 79.999, 80, 160, 1e6)] == [
        "<10 KB", "<10 KB", "10-40 KB", "40-80 KB", "80-160 KB", ">=160 KB", ">=160 KB"]
    assert size_bands(()) == [("all", 0.0, float("inf"))] and band_of(5, ()) == "all"  # no edges: one band
    for bad in ((40, 10), (10, 10), (0, 10), (-1,)):
        with pytest.raises(ValueError):
            size_bands(bad)


def test_page_kb_counts_utf8_bytes_of_prev():
    assert page_kb({"prev": "a" * 100_000, "curr": ""}) == 100.0
    assert page_kb({"prev": "é" * 500, "curr": "a" * 10**6}) == 1.0  # 2 bytes each; the edited text does not count
    assert band_of(page_kb({"prev": "x" * 100_000, "curr": ""}), ISSUE_EDGES_KB) == "80-160 KB"


@pytest.mark.skipif(not SHARED_PAIRS.is_file(),
                    reason="needs ../shared/data/edit_pairs.jsonl.gz (absent from a fresh clone)")
def test_default_bands_keep_the_shared_size_groups_whole():
    """Why the default edges are not 10/40/80/160: on the shared pairs, each default band holds one
    nominal size group whole (36 pairs), while 80 and 160 KB cut the 80 and 160 KB groups."""
    with gzip.open(SHARED_PAIRS, "rt", encoding="utf-8") as handle:
        pairs = [json.loads(line) for line in handle]
    by_band: dict[str, set[str]] = {}
    for pair in pairs:
        by_band.setdefault(band_of(page_kb(pair), DEFAULT_BAND_EDGES_KB), set()).add(pair["bucket"])
    assert by_band == {"<10 KB": {"5KB"}, "10-30 KB": {"20KB"}, "30-60 KB": {"40KB"}, "60-120 KB": {"80KB"},
                       ">=120 KB": {"160KB"}}
    issue = {}
    for pair in pairs:
        issue.setdefault(band_of(page_kb(pair), ISSUE_EDGES_KB), set()).add(pair["bucket"])
    assert issue["80-160 KB"] == {"80KB", "160KB"}


def test_alternating_order():
    assert alternating_order(4) == [("row_udf", "arrow"), ("arrow", "row_udf"), ("row_udf", "arrow"),
                                    ("arrow", "row_udf")]
    assert [v for pair in alternating_order(3) for v in pair] == [
        "row_udf", "arrow", "arrow", "row_udf", "row_udf", "arrow"]  # ABBA AB
    for repeats in range(1, 9):
        pairs = alternating_order(repeats)
        assert len(pairs) == repeats and all(sorted(pair) == ["arrow", "row_udf"] for pair in pairs)
        firsts = [pair[0] for pair in pairs]
        if repeats % 2 == 0:  # each variant runs first in as many pairs as the other
            assert firsts.count("arrow") == firsts.count("row_udf") == repeats // 2
        else:  # the first named leads in one pair more
            assert firsts.count("row_udf") == firsts.count("arrow") + 1
    with pytest.raises(ValueError):
        alternating_order(0)


def test_summarize():
    pairs = alternating_order(3)
    summary = summarize({"row_udf": [100.0, 110.0, 90.0], "arrow": [120.0, 110.0, 99.0]}, pairs)
    assert summary == {
        "row_udf_rev_per_s": 100.0, "row_udf_rev_per_s_runs": [100.0, 110.0, 90.0],
        "row_udf_rev_per_s_min": 90.0, "row_udf_rev_per_s_max": 110.0,
        "arrow_rev_per_s": 110.0, "arrow_rev_per_s_runs": [120.0, 110.0, 99.0],
        "arrow_rev_per_s_min": 99.0, "arrow_rev_per_s_max": 120.0,
        "speedup": 1.1,  # ratio of the medians, 110 / 100
        "speedup_pairs": [1.2, 1.0, 1.1], "speedup_min": 1.0, "speedup_max": 1.2,
    }


@pytest.mark.slow
@pytest.mark.spark
def test_collect_benchmark():
    # one pair after the warm-up: three runs (the order and the summaries are checked above)
    result = run_benchmark("collect.py", "--revisions", "300", "--repeats", "1", "--memory-sizes")
    assert result["revisions"] == 300 and result["arrow_rev_per_s"] > 0 and result["row_udf_rev_per_s"] > 0
    assert result["repeats"] == 1 and result["order"] == ["row_udf", "arrow"]
    assert result["warmup"]["variant"] == "arrow" and result["warmup"]["rows"] == result["arrow_rows"] > 0
    assert result["arrow_rows"] == result["row_udf_rows"]
    for variant in ("arrow", "row_udf"):
        assert len(result[f"{variant}_rev_per_s_runs"]) == len(result[f"{variant}_s_runs"]) == 1
        assert (result[f"{variant}_rev_per_s_min"] <= result[f"{variant}_rev_per_s"]
                <= result[f"{variant}_rev_per_s_max"])
    assert len(result["speedup_pairs"]) == 1 and result["speedup_min"] <= result["speedup_max"]
    assert len(result["load_avg_1m"]) == 2


@pytest.mark.slow
def test_features_and_finetune_benchmarks(demo_features):
    run_dir = str(demo_features[0])
    scoring = run_benchmark("features.py", "--corpus", RunPaths(run_dir).prepared("train"),
                            "--size", "tiny", "--limit", "40", "--device", "cpu")
    assert scoring["texts"] > 0 and scoring["max_abs_diff_fp32"] < 1e-4
    training = run_benchmark("finetune.py", "--run-dir", run_dir, "--target", "inserts", "--size", "tiny",
                             "--steps", "14", "--nproc", "1")
    assert training["kitrain_samples_per_s"] > 0 and training["baseline_samples_per_s"] > 0
    # the same fine-tuning under torchrun (one gloo process here), measured the same way
    assert training["torchrun_processes"] == 1 and training["trainer_samples_per_s_torchrun"] > 0
    assert training["torchrun_ratio"] > 0


@pytest.mark.slow
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


def test_scale_growth_exponents():
    # y = n ** k gives exponent k: time linear (10x rows, 10x seconds), memory flat
    from benchmarks.scale import growth

    results = [{"rows": 100_000, "wall_s": 30.0, "peak_rss_mb": 900.0},
               {"rows": 1_000_000, "wall_s": 300.0, "peak_rss_mb": 900.0}]
    assert growth(results) == [{"from": 100_000, "to": 1_000_000, "time_exponent": 1.0,
                                "memory_exponent": 0.0, "memory_ratio": 1.0}]


def test_scale_benchmark_data_is_in_the_prepared_format():
    # the synthetic rows carry every prepared column with prepare's types, so the stages read them
    # as they read a real run's; the 92-entry actions map is there in full
    from benchmarks.scale import PREPARED_SCHEMA, synthetic_rows
    from kitrain.features import INPUT_COLUMNS
    from kitrain.schema import ACTION_KEYS, COLLECTED_COLUMNS

    table = synthetic_rows(50, "uk", seed=1)
    assert table.schema == PREPARED_SCHEMA and table.num_rows == 50
    assert table.column_names == [name for name, _ in COLLECTED_COLUMNS] + ["is_balanced", "is_text_train"]
    assert set(INPUT_COLUMNS) <= set(table.column_names)
    assert [k for k, _ in table["actions"][0].as_py()] == list(ACTION_KEYS)
    assert table["revision_id"].to_pylist() == sorted(set(table["revision_id"].to_pylist()))


@pytest.mark.slow
def test_scale_benchmark_runs(tmp_path):
    result = run_benchmark("scale.py", "--stage", "features", "--rows", "120", "--shard-rows", "20",
                           "--workdir", str(tmp_path / "scale"))
    (one,) = result["results"]
    # 48, 36, 24 and 12 rows for the four languages: 3 + 2 + 2 + 1 shards of at most 20 rows
    assert one["rows"] == 120 and one["shards"] == {"train": 8}
    assert one["peak_rss_mb"] > 0 and one["wall_s"] > 0 and result["growth"] == []
    result = run_benchmark("scale.py", "--stage", "train", "--rows", "400", "800", "--iterations", "5",
                           "--workdir", str(tmp_path / "train"))
    small, large = result["results"]
    # about half the rows are the text models' (is_text_train = 1): the classifier never sees them
    assert 100 < small["classifier_rows"] < 300 and small["matrix_mb"] > 0 and small["peak_over_matrix"] > 0
    assert [g["from"] for g in result["growth"]] == [400]


@pytest.mark.slow
def test_scale_benchmark_measures_the_gates_rescoring(tmp_path):
    # the current model (a bundle of the tiny model) rescores every row of a prepared hold-out,
    # one shard a language here (four languages), and both models are measured on them
    result = run_benchmark("scale.py", "--stage", "compare", "--rows", "200",
                           "--workdir", str(tmp_path / "compare"))
    (one,) = result["results"]
    assert one["compared_rows"] == 200 and one["shards"] == 4 and one["peak_rss_mb"] > 0
    assert (tmp_path / "compare" / "compare-200" / "report" / "gate.json").is_file()
