# The two commands of the README: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
DEMO_DIR ?= demo
DEMO_LANGUAGES ?= en uk ar ja hi

.PHONY: demo test test-fast check-java clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is required")'
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test,airflow]'
	touch $(STAMP)

check-java:
	@command -v java >/dev/null 2>&1 || [ -x "$$JAVA_HOME/bin/java" ] || { \
	  echo "Java 17 is required by Spark: install it (Debian/Ubuntu: sudo apt-get install openjdk-17-jre-headless; macOS: brew install openjdk@17) or set JAVA_HOME." >&2; exit 1; }

DEMO_STEPS ?= 30
DEMO_ITERATIONS ?= 300
DEMO_SPARK_MASTER ?= local[*]
RUN := $(DEMO_DIR)/runs/2022-07

# An Airflow home inside the repository (ignored by git): SQLite, the DAG folder, the Spark
# connection of the embedded default and the venv's spark-submit on PATH.
AIRFLOW_HOME_DIR := $(CURDIR)/.airflow
AIRFLOW_ENV := AIRFLOW_HOME=$(AIRFLOW_HOME_DIR) AIRFLOW__CORE__DAGS_FOLDER=$(CURDIR)/dags \
  AIRFLOW__CORE__LOAD_EXAMPLES=False \
  AIRFLOW_CONN_SPARK_DEFAULT='{"conn_type":"spark","host":"$(DEMO_SPARK_MASTER)"}' \
  PATH="$(CURDIR)/$(VENV)/bin:$$PATH" HF_HUB_OFFLINE=1 KITRAIN_RETRY_DELAY_S=10
comma := ,
empty :=
space := $(empty) $(empty)
DEMO_LANGUAGES_JSON := [$(subst $(space),$(comma),$(patsubst %,"%",$(strip $(DEMO_LANGUAGES))))]
# The month starting 2022-07-01 (logical date 2022-08-01 of a manual run): the paper's snapshot and
# windows. The texts come from the default text source, the content history table's copy.
DEMO_CONF := {"languages": $(DEMO_LANGUAGES_JSON), "source": "parquet", \
  "source_dir": "$(CURDIR)/$(DEMO_DIR)/source", "run_dir": "$(CURDIR)/$(DEMO_DIR)/runs/{snapshot}", \
  "models_dir": "$(CURDIR)/$(DEMO_DIR)/models", \
  "snapshot": "2022-07", "base_model": "tiny", \
  "finetune_max_steps": $(DEMO_STEPS), "max_length": 128, "classifier_iterations": $(DEMO_ITERATIONS), \
  "min_language_rows": 20, "device": "cpu", \
  "variants": ["all+base", "all+mlm", "all+user", "all+user+mlm", "anon+base", "anon+mlm", "anon+user", "anon+user+mlm"]}

# The main job: demo data for five languages of different scripts, then the whole Airflow DAG
# (airflow dags test: every task in this process's order, Spark through spark-submit on local[*],
# the tiny model, few steps and iterations). Offline: no model hub is asked.
demo: $(STAMP) check-java
	$(PY) -m kitrain demo-data --out $(DEMO_DIR)/source --languages $(DEMO_LANGUAGES)
	$(AIRFLOW_ENV) $(VENV)/bin/airflow db migrate > $(DEMO_DIR)/airflow-db-migrate.log 2>&1 \
	  || { tail -n 40 $(DEMO_DIR)/airflow-db-migrate.log; exit 1; }
	$(AIRFLOW_ENV) $(VENV)/bin/airflow pools set spark 2 "concurrent Spark collections" > /dev/null
	$(AIRFLOW_ENV) $(VENV)/bin/airflow pools set gpu 1 "one slot per GPU of the gpu workers" > /dev/null
	@echo "running the DAG ki_multilingual_training (log: $(DEMO_DIR)/airflow-dags-test.log) ..."
	@$(AIRFLOW_ENV) $(VENV)/bin/airflow dags test ki_multilingual_training 2022-08-01 \
	  --conf '$(DEMO_CONF)' > $(DEMO_DIR)/airflow-dags-test.log 2>&1 \
	  || { grep -E "ERROR|Error|error:" $(DEMO_DIR)/airflow-dags-test.log | tail -n 20; exit 1; }
	@$(AIRFLOW_ENV) $(PY) -m kitrain.airflow_report $(CURDIR)/$(RUN)

# The whole suite (CI runs it): at most 12 minutes on 2 cores. Two pytest processes side by side,
# one per core: the tests whose work runs in processes of their own (the real scheduler, airflow
# dags test and their spark-submits, the Hive metastore's JVM), none of them using the shared Spark
# session, and everything else (one shared Spark session). The split keeps the two about equally
# long; one after the other they take about 14 minutes.
SECOND_TESTS := tests/test_scheduler.py tests/test_dag_run.py tests/test_hive_source.py
test: $(STAMP) check-java
	@mkdir -p build
	@echo "pytest $(SECOND_TESTS) in the background (log: build/test-second.log); the rest here"
	@$(PY) -m pytest $(SECOND_TESTS) > build/test-second.log 2>&1 & second=$$!; \
	  $(PY) -m pytest $(foreach f,$(SECOND_TESTS),--ignore=$(f)); rest=$$?; \
	  wait $$second; second_rc=$$?; \
	  echo "---- $(SECOND_TESTS) (build/test-second.log) ----"; cat build/test-second.log; \
	  test $$rest -eq 0 && test $$second_rc -eq 0

# The edit-test loop: the unit tests only (no Spark session, no subprocess of the whole command
# line, no Airflow run), under 3 minutes on 2 cores; needs no Java.
test-fast: $(STAMP)
	$(PY) -m pytest -m "not spark and not slow"

clean:
	rm -rf $(DEMO_DIR) .pytest_cache
