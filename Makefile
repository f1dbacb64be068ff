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

# The main job: generate demo data for five languages and collect each in both modes.
demo: $(STAMP) check-java
	$(PY) -m kitrain demo-data --out $(DEMO_DIR)/source --languages $(DEMO_LANGUAGES)
	@set -e; for lang in $(DEMO_LANGUAGES); do \
	  for mode in train test; do \
	    $(PY) -m kitrain collect -l $$lang -m $$mode -uc 1 --source parquet \
	      --source-dir $(DEMO_DIR)/source --run-dir $(DEMO_DIR)/run --master 'local[2]'; \
	  done; \
	done
	@echo "collected data: $(DEMO_DIR)/run/collected  quality reports: $(DEMO_DIR)/run/quality"

test: $(STAMP) check-java
	$(PY) -m pytest

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
