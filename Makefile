# The two commands of the README: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
DEMO_LANGUAGES ?= en uk ar ja hi

.PHONY: demo test check-java clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

check-java:
	@command -v java >/dev/null 2>&1 || [ -x "$$JAVA_HOME/bin/java" ] || { \
	  echo "Java 17 is required by Spark: install it (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17) or set JAVA_HOME." >&2; exit 1; }

RUN := $(DEMO_DIR)/run
TARGETS := inserts removes changes title
DEMO_STEPS ?= 30
DEMO_ITERATIONS ?= 300

# The main job (until the Airflow DAG lands): demo data for five languages, collected in both modes,
# prepared, a tiny base model built from its own corpus, the four models fine-tuned for a few steps,
# the classifier features, the eight CatBoost variants and the evaluation report. Offline: no model
# hub is asked.
demo: $(STAMP) check-java
	$(PY) -m kitrain demo-data --out $(DEMO_DIR)/source --languages $(DEMO_LANGUAGES)
	@set -e; for lang in $(DEMO_LANGUAGES); do \
	  for mode in train test; do \
	    $(PY) -m kitrain collect -l $$lang -m $$mode -uc 1 --source parquet \
	      --source-dir $(DEMO_DIR)/source --run-dir $(RUN) --master 'local[2]'; \
	  done; \
	done
	$(PY) -m kitrain prepare --run-dir $(RUN)
	HF_HUB_OFFLINE=1 $(PY) -m kitrain tiny-model --out $(RUN)/base-model --corpus $(RUN)/prepared/train
	@set -e; for target in $(TARGETS); do \
	  HF_HUB_OFFLINE=1 $(PY) -m kitrain finetune --run-dir $(RUN) --target $$target \
	    --base-model $(RUN)/base-model --max-steps $(DEMO_STEPS) --max-length 128; \
	done
	HF_HUB_OFFLINE=1 $(PY) -m kitrain features --run-dir $(RUN)
	$(PY) -m kitrain train --run-dir $(RUN) --all-variants --iterations $(DEMO_ITERATIONS)
	$(PY) -m kitrain evaluate --run-dir $(RUN)
	$(PY) -m kitrain bundle --run-dir $(RUN)
	@echo "demo run: $(RUN)  report: $(RUN)/report/index.html  bundle: $(RUN)/bundle"

test: $(STAMP) check-java
	$(PY) -m pytest

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
