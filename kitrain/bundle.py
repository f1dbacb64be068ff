"""The published model bundle (``kitrain bundle``) and its verified loading.

``RUN_DIR/bundle/`` holds everything scoring needs and nothing it must trust blindly: the four
language models (safetensors and tokenizers), ``classifier.cbm``, ``features.json``, a model card,
and ``manifest.json`` with the versions, configs, snapshot, languages, feature list, metrics and the
sha256 of every other file. :func:`load_bundle` verifies every checksum before anything is read and
refuses a bundle with a changed, missing or unlisted file, naming it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import platform
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kitrain import __version__
from kitrain.atomic import atomic_dir, read_json, write_json
from kitrain.classifier import FEATURES_FILE, MODEL_FILE
from kitrain.config import CollectConfig
from kitrain.paths import TARGETS, RunPaths
from kitrain.prepare import LEGACY_TEXT_RULES, PrepareError
from kitrain.schema import PRODUCTION_VARIANT, variant_parts

logger = logging.getLogger(__name__)

MANIFEST = "manifest.json"
CARD = "MODEL_CARD.md"
#: Files of a fine-tuned model directory that scoring needs.
MODEL_FILES = ("config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json",
               "special_tokens_map.json", "vocab.txt")


class BundleError(ValueError):
    """A bundle that is incomplete or does not match its manifest."""


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def versions() -> dict[str, str]:
    import catboost
    import mwedittypes
    import mwparserfromhell
    import torch
    import transformers

    return {"kitrain": __version__, "python": platform.python_version(),
            "mwedittypes": mwedittypes.__version__, "mwparserfromhell": mwparserfromhell.__version__,
            "catboost": catboost.__version__, "torch": torch.__version__,
            "transformers": transformers.__version__}


def scoring_max_diff_chars(recorded: dict[str, int | None]) -> int:
    """The diff limit scoring applies: the smallest ``max_diff_chars`` of the run's collections
    (report name -> value; None where a collection did not record one).

    Collections with different limits are logged, and the smallest is taken: an edit one of them
    dropped as too large is never scored. Without any recorded value (collections made before the
    setting existed) the collection's default applies, and that is logged too.
    """
    values = {name: v for name, v in recorded.items() if v is not None}
    if not values:
        logger.info("no collection recorded max_diff_chars: scoring uses the default %d",
                    CollectConfig.max_diff_chars)
        return CollectConfig.max_diff_chars
    smallest = min(values.values())
    if len(set(values.values())) > 1:
        logger.warning("the collections used different max_diff_chars (%s): scoring uses the "
                       "smallest, %d", ", ".join(f"{n}: {v}" for n, v in sorted(values.items())),
                       smallest)
    return smallest


def _collection_facts(paths: RunPaths) -> dict[str, Any]:
    """Snapshots, languages and the diff limit of the run, from the collection quality reports."""
    snapshots, wikitext, languages, text_sources = set(), set(), set(), set()
    content_snapshots: set[int] = set()
    limits: dict[str, int | None] = {}
    root = Path(paths.run_dir, "quality", "collect")
    for report in sorted(root.glob("*/*/*/quality.json")):
        data = json.loads(report.read_text(encoding="utf-8"))
        snapshots.add(data["config"]["snapshot"])
        # collections of older kitrain versions read the wikitext snapshots (the only text table)
        source = "dumps" if data["config"].get("source") == "dumps" else \
            data["config"].get("text_source", "wikitext_history")
        text_sources.add(source)
        if source == "wikitext_history":
            wikitext.add(data["config"]["wikitext_snapshot"])
        # the Iceberg snapshot of the content table the collection read (None off Iceberg)
        if data.get("source", {}).get("content_snapshot_id") is not None:
            content_snapshots.add(data["source"]["content_snapshot_id"])
        languages.add(data["lang"])
        limits[str(report.parent.relative_to(root))] = data["config"].get("max_diff_chars")
    prepared = read_json(paths.prepared_summary()) or {}
    languages.update(prepared.get("languages", {}))
    return {"snapshots": sorted(snapshots), "wikitext_snapshots": sorted(wikitext),
            "text_sources": sorted(text_sources), "content_snapshot_ids": sorted(content_snapshots),
            "languages": sorted(languages), "max_diff_chars": scoring_max_diff_chars(limits)}


_TEXT_SOURCE_NAMES = {"content_history": "the content history table (wmf_content.mediawiki_content_history_v1)",
                     "wikitext_history": "the wikitext table", "dumps": "the XML dumps"}


def _texts(manifest: dict[str, Any]) -> str:
    sources = manifest.get("text_sources") or ["wikitext_history"]
    names = [_TEXT_SOURCE_NAMES.get(s, s) for s in sources]
    if "content_history" in sources and manifest.get("content_snapshot_ids"):
        names[sources.index("content_history")] += (
            f" at Iceberg snapshot(s) {', '.join(map(str, manifest['content_snapshot_ids']))}")
    if "wikitext_history" in sources:
        names[sources.index("wikitext_history")] += (
            f" at snapshot(s) {', '.join(manifest.get('wikitext_snapshots') or []) or 'unknown'}")
    return "; ".join(names)


def model_card(manifest: dict[str, Any], metrics: dict[str, Any] | None) -> str:
    variant = manifest["variant"]
    lines = [
        f"# kitrain revert-risk model ({variant})", "",
        "## Intended use",
        "Scores how likely a Wikipedia revision is to be reverted, to help patrollers prioritise "
        "review. It is a ranking aid for humans, not an automatic judge: do not revert or block on "
        "its score alone.", "",
        "## Data",
        f"- Languages: {', '.join(manifest['languages']) or 'unknown'}",
        f"- History snapshot(s): {', '.join(manifest['snapshots']) or 'unknown'}; texts from: "
        f"{_texts(manifest)}",
        "- Anonymous editors are logged-out editors: IP editors and, since each wiki's rollout "
        "(2024-2026), temporary accounts, whose user features are an IP editor's.",
        "- Label: `revision_is_identity_reverted` (identity reverts), bots and page creations "
        "excluded; see the collection and preparation configs in `manifest.json`.", "",
        "## Metrics",
    ]
    for split, results in (metrics or {}).get("splits", {}).items():
        m = results["variants"].get(variant)
        if not m:
            continue
        u = m["unbalanced"]
        lines += [f"### {split}",
                  f"- ROC AUC {_f(u['all']['roc_auc'])}, PR@R0.75 {_f(u['all']['pr_at_recall'])} "
                  f"(anonymous editors: {_f(u['anonymous']['roc_auc'])}, "
                  f"{_f(u['anonymous']['pr_at_recall'])})", "",
                  "| wiki | n | revert rate | ROC AUC |", "|---|---|---|---|"]
        lines += [f"| {r['wiki_db']} | {r['n']} | {_f(r['revert_rate'])} | {_f(r['roc_auc'])} |"
                  for r in m["per_language"]]
        groups = m.get("editor_groups")
        if groups:
            lines += ["", "| editors | n | ROC AUC | PR@R0.75 | prediction rate |", "|---|---|---|---|---|"]
            lines += [f"| {name} | {g['n']} | {_f(g['roc_auc'])} | {_f(g['pr_at_recall'])} | "
                      f"{_f(g['prediction_rate'])} |" for name, g in groups.items()]
        fair = m["fairness"]
        lines += ["", "Fairness (anonymous vs registered editors): disparate impact "
                  "(P(reverted | anonymous) / P(reverted | registered), the paper's definition) of labels "
                  f"{_f(fair['disparate_impact_labels'])}, of predictions "
                  f"{_f(fair['disparate_impact_predictions'])}; ROC AUC difference "
                  f"{_f(fair['roc_auc_difference'])}.", ""]
    if not metrics:
        lines += ["No evaluation was run before bundling (`kitrain evaluate`).", ""]
    lines += [
        "## Limitations",
        "- Anonymous editors are reverted more often in the data, and the model learns it: check "
        "the fairness figures before using scores across editor groups.",
        "- Quality differs by language; languages with few revisions have wide uncertainty.",
        "- Trained on one snapshot: editing patterns drift, retrain regularly.", "",
    ]
    return "\n".join(lines)


def _f(value: Any) -> str:
    return "–" if value is None else f"{value:.3f}"


def run_bundle(run_dir: str, variant: str = PRODUCTION_VARIANT) -> Path:
    """Assemble ``RUN_DIR/bundle/`` atomically."""
    variant_parts(variant)
    paths = RunPaths(run_dir)
    classifier_dir = Path(paths.classifier(variant))
    if not (classifier_dir / MODEL_FILE).is_file():
        raise PrepareError(f"no trained {variant} classifier in {classifier_dir}: run "
                           f"`kitrain train --variant {variant}` first")
    description = read_json(classifier_dir / FEATURES_FILE)
    metrics = read_json(Path(paths.report(), "metrics.json"))
    target = Path(paths.bundle())
    with atomic_dir(target) as tmp:
        for name in TARGETS:
            source = Path(paths.mlm(name))
            if not (source / "model.safetensors").is_file():
                raise PrepareError(f"no fine-tuned {name} model in {source}: run "
                                   f"`kitrain finetune --target {name}` first")
            (tmp / "mlm" / name).mkdir(parents=True)
            for file in MODEL_FILES:
                if (source / file).is_file():
                    shutil.copy2(source / file, tmp / "mlm" / name / file)
        shutil.copy2(classifier_dir / MODEL_FILE, tmp / "classifier.cbm")
        write_json(tmp / FEATURES_FILE, description)
        manifest = {
            "format": 1,
            "variant": variant,
            "versions": versions(),
            **_collection_facts(paths),
            # the diff's text rules of the collections, which scoring must apply too
            "text_rules": (read_json(paths.prepared_summary()) or {}).get("text_rules") or LEGACY_TEXT_RULES,
            "features": description["features"],
            "categorical": description["categorical"],
            "config": {
                "prepare": (read_json(paths.prepared_summary()) or {}).get("config"),
                "finetune": {t: (read_json(Path(paths.mlm(t), "kitrain_finetune.json")) or {}).get("config")
                             for t in TARGETS},
                "features": (read_json(paths.features_summary()) or {}).get("config"),
                "train": read_json(classifier_dir / "train_config.json"),
            },
            "metrics": {split: results["variants"].get(variant)
                        for split, results in (metrics or {}).get("splits", {}).items()},
        }
        (tmp / CARD).write_text(model_card(manifest, metrics), encoding="utf-8")
        manifest["files"] = {
            str(p.relative_to(tmp)): sha256(p) for p in sorted(tmp.rglob("*")) if p.is_file()
        }
        write_json(tmp / MANIFEST, manifest)
    logger.info("bundle of %s written to %s (%d files)", variant, target, len(manifest["files"]))
    return target


@dataclass(frozen=True)
class Bundle:
    """A verified bundle: its directory and manifest."""

    root: Path
    manifest: dict[str, Any]

    def mlm(self, target: str) -> str:
        return str(self.root / "mlm" / target)

    @property
    def classifier(self) -> Path:
        return self.root / "classifier.cbm"

    def features_config(self, **overrides: Any) -> Any:
        """The text-feature settings the bundled models were scored with at training time
        (maximum length above all), so scoring truncates exactly as training did."""
        from kitrain.config import FeaturesConfig

        recorded = (self.manifest.get("config") or {}).get("features") or {}
        return FeaturesConfig.from_dict({**recorded, **overrides})

    @property
    def text_rules(self) -> str:
        """The diff's text rules the bundled models were trained on (bundles made before the
        choice existed were diffed by the ``multiscript`` rules)."""
        return self.manifest.get("text_rules") or LEGACY_TEXT_RULES

    @property
    def max_diff_chars(self) -> int:
        """The longest changed span scoring diffs: the collections' ``max_diff_chars`` (the
        smallest, where they differed); bundles made before it was recorded get the collection's
        default."""
        recorded = self.manifest.get("max_diff_chars")
        if recorded is None:
            logger.info("bundle %s records no max_diff_chars: using the default %d", self.root,
                        CollectConfig.max_diff_chars)
            return CollectConfig.max_diff_chars
        return int(recorded)

    @property
    def description(self) -> dict[str, Any]:
        return {"features": self.manifest["features"], "categorical": self.manifest["categorical"]}


def load_bundle(root: str | Path) -> Bundle:
    """Verify every file against the manifest; refuse any difference, naming the file."""
    root = Path(root)
    manifest_path = root / MANIFEST
    if not manifest_path.is_file():
        raise BundleError(f"{root} is not a kitrain bundle: no {MANIFEST}")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        listed = manifest["files"]
    except (ValueError, KeyError) as exc:
        raise BundleError(f"{manifest_path} is not a valid manifest: {exc}") from exc
    present = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()} - {MANIFEST}
    for name in sorted(set(listed) - present):
        raise BundleError(f"bundle file missing: {root / name}")
    for name in sorted(present - set(listed)):
        raise BundleError(f"bundle holds a file its manifest does not list: {root / name}")
    for name, expected in sorted(listed.items()):
        if sha256(root / name) != expected:
            raise BundleError(f"bundle file changed since it was bundled (sha256 mismatch): {root / name}")
    return Bundle(root, manifest)
