"""Programs started by other tools rather than imported: the ``spark-submit`` application of the
collection. Each lives alone in its own file here, because ``spark-submit app.py`` puts the file's
folder first on ``sys.path``, where kitrain's own module names must not shadow anything."""

from pathlib import Path

#: The application file the DAG's ``SparkSubmitOperator`` submits for each language.
SPARK_COLLECT_APP = str(Path(__file__).with_name("spark_collect.py"))
