"""Running the SQL models on Spark (`--engine spark`, DESIGN §10).

DuckDB still reads and checks the input; Spark runs the same model files, translated from the
DuckDB dialect by SQLGlot, so there is one copy of the logic. Everything crosses between the two
engines as Parquet under the run's work folder, which is also what a cluster would need.
"""

from __future__ import annotations

import atexit
import os
import re
import shutil
import signal
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import duckdb
import sqlglot
from sqlglot.errors import ErrorLevel

from pipelines.contracts import INPUT_KINDS
from pipelines.sqlfiles import MODEL_ORDER, VIEW_MODELS, model_sql

try:
    from py4j.protocol import Py4JError
    from pyspark.errors import PySparkException
    from pyspark.sql import DataFrame, SparkSession
    from pyspark.sql import functions as F
except ImportError as error:  # pragma: no cover - depends on the environment
    raise ImportError(
        "--engine spark needs PySpark: install the spark extra: pip install -e '.[spark]'"
    ) from error

OUTPUT_MODEL = "classification"
OUTPUT_DIR = "spark_classification"
SHUFFLE_PARTITIONS = 8
# where Spark runs the models unless its spark-defaults.conf names a master: this machine's cores
LOCAL_MASTER = "local[*]"

# Spark's default profile logs every stage at INFO/WARN to stderr, over our progress display.
# The gateway's logger is set too: when its level differs from the root's, Spark prints a banner.
_LOG4J2 = """\
rootLogger.level = error
rootLogger.appenderRef.stderr.ref = console
logger.gateway.name = org.apache.spark.api.python.PythonGatewayServer
logger.gateway.level = error
# a job cancelled by Ctrl-C is logged as a failed write, with its Java trace; a real failure
# reaches the run as an exception, told in one line
logger.writer.name = org.apache.spark.sql.execution.datasources.FileFormatWriter
logger.writer.level = off
appender.console.type = Console
appender.console.name = console
appender.console.target = SYSTEM_ERR
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = %d{HH:mm:ss} %p %c{1}: %m%n%ex
"""

_session: SparkSession | None = None
# what Spark raises when a job fails (PySpark's errors, and Py4J's for the JVM side)
SPARK_ERRORS: tuple[type[Exception], ...] = (PySparkException, Py4JError)


class SparkUnavailableError(RuntimeError):
    """No Spark session could be started; the message says what it needs."""


def failure_line(error: BaseException) -> str:
    """Spark's message in one line: Py4J's first line names only the call that failed
    ("An error occurred while calling o42.parquet."), so the Java exception's is taken."""
    lines = [line.strip().removeprefix(": ") for line in str(error).splitlines() if line.strip()]
    told = [
        line
        for line in lines
        if not line.startswith(("An error occurred while calling", "at ", "..."))
    ]
    return (told or lines or [type(error).__name__])[0]


def spark_defaults(environ: dict[str, str] | None = None) -> dict[str, str]:
    """The settings of Spark's own `spark-defaults.conf` (in `SPARK_CONF_DIR`, else
    `SPARK_HOME/conf`), as spark-submit reads them: a name, then its value, `#` a comment."""
    environ = dict(os.environ) if environ is None else environ
    folder = environ.get("SPARK_CONF_DIR") or (
        str(Path(environ["SPARK_HOME"]) / "conf") if environ.get("SPARK_HOME") else None
    )
    if folder is None:
        return {}
    try:
        text = (Path(folder) / "spark-defaults.conf").read_text(encoding="utf-8")
    except OSError:
        return {}
    settings: dict[str, str] = {}
    for line in text.splitlines():
        # as java.util.Properties reads a line: a name, then whitespace, `=` or `:`, then a value
        found = re.match(r"([^\s=:]+)\s*[\s=:]\s*(.*)", line.strip())
        if found and not line.strip().startswith(("#", "!")):
            settings[found[1]] = found[2].strip()
    return settings


def java_problem(environ: dict[str, str] | None = None) -> str | None:
    """Why Spark could not start its JVM here, or None: a `JAVA_HOME` with no `bin/java` (which
    spark-submit takes before any java on PATH), or no Java at all."""
    environ = dict(os.environ) if environ is None else environ
    home = environ.get("JAVA_HOME")
    if home:
        if not os.access(Path(home) / "bin" / "java", os.X_OK):
            return (
                f"JAVA_HOME ({home}) holds no bin/java: point it at a Java 17 or later, or unset "
                "it to use the java on PATH"
            )
        return None
    if shutil.which("java", path=environ.get("PATH")) is None:
        return "Spark needs Java 17 or later: no java on PATH, and JAVA_HOME is not set"
    return None


def spark_session(
    shuffle_partitions: int | None = None, java_options: tuple[str, ...] = ()
) -> SparkSession:
    """The process's Spark session (UTC, no UI), made once: on the master that Spark's own
    `spark-defaults.conf` names, else on this machine's cores, bound to localhost alone.

    `shuffle_partitions` sets how many partitions a join or aggregation shuffles into (default:
    spark-defaults.conf's `spark.sql.shuffle.partitions`, else `SHUFFLE_PARTITIONS`, for a
    machine's few cores); given for a session that already runs, it changes that session.
    `java_options` go to the JVM when the session starts (e.g. `-XX:TieredStopAtLevel=1`, which
    halves the warm-up of a short session but slows a long one); a running session ignores them.
    """
    global _session
    if _session is None:
        configured = spark_defaults()
        _session = _start_session(configured, java_options)
        if "spark.sql.shuffle.partitions" not in configured:
            shuffle_partitions = shuffle_partitions or SHUFFLE_PARTITIONS
    if shuffle_partitions:
        _session.conf.set("spark.sql.shuffle.partitions", str(shuffle_partitions))
    return _session


def stop_spark_session() -> None:
    """Stop the process's Spark session, if one was started; the next call starts a new one."""
    global _session
    if _session is not None:
        _session.stop()
        _session = None


def _start_session(configured: dict[str, str], java_options: tuple[str, ...]) -> SparkSession:
    problem = java_problem()
    if problem is not None:
        raise SparkUnavailableError(problem)
    master = configured.get("spark.master", LOCAL_MASTER)
    local = master.startswith("local")
    if local:
        # read by spark-submit when it starts the JVM; keeps Spark off every other interface
        # (a cluster's executors must reach the driver, so its address is Spark's to choose)
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    # any Python worker Spark starts runs this interpreter, not whichever python3 is on PATH
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    # Spark's own files (log settings, an empty warehouse it insists on) go to a temp folder
    # made for this session alone, which no other user can have made or written before it
    spark_scratch = Path(tempfile.mkdtemp(prefix="ownership-spark-"))
    atexit.register(shutil.rmtree, spark_scratch, ignore_errors=True)
    log_config = spark_scratch / "log4j2.properties"
    log_config.write_text(_LOG4J2, encoding="utf-8")
    builder: Any = SparkSession.builder
    try:
        with warnings.catch_warnings():
            # PySpark warns about pandas versions as it starts; scoring hands it no pandas frame
            warnings.filterwarnings(
                "ignore", "PySpark does not yet fully support pandas", FutureWarning
            )
            builder = builder.master(master).appName("ownership-scoring")
            if local:
                builder = builder.config("spark.driver.host", "127.0.0.1").config(
                    "spark.driver.bindAddress", "127.0.0.1"
                )
            session: SparkSession = (
                builder.config("spark.ui.enabled", "false")
                .config("spark.ui.showConsoleProgress", "false")
                .config("spark.sql.session.timeZone", "UTC")
                # DuckDB fails on overflow and bad casts, not returning null; so does ANSI mode
                .config("spark.sql.ansi.enabled", "true")
                .config("spark.sql.warehouse.dir", str(spark_scratch / "warehouse"))
                .config(
                    "spark.driver.extraJavaOptions",
                    " ".join((f"-Dlog4j2.configurationFile={log_config.as_uri()}", *java_options)),
                )
                .getOrCreate()
            )
    except Exception as error:  # Py4J and PySpark raise several kinds here
        raise SparkUnavailableError(
            f"could not start a Spark session on {master} ({failure_line(error)}); Spark needs "
            "Java 17 or later on PATH or in JAVA_HOME"
        ) from error
    return session


def spark_sql(name: str) -> str:
    """The model `name` in Spark SQL, translated from the DuckDB original by SQLGlot."""
    statements = sqlglot.transpile(
        model_sql(name), read="duckdb", write="spark", unsupported_level=ErrorLevel.RAISE
    )
    if len(statements) != 1:
        raise ValueError(f"model {name} must hold one statement, found {len(statements)}")
    return statements[0]


def score_checked(
    con: duckdb.DuckDBPyConnection,
    work_dir: Path,
    params: dict[str, int],
    step: Callable[[str], None],
) -> Path:
    """Run every model on Spark over the checked tables in `con`; write the classification.

    `con` is the DuckDB connection holding `checked_<kind>`; the result lands as Parquet in
    `work_dir / OUTPUT_DIR`, the folder returned. `step` is called with `model <name>` after
    each model.
    """
    spark = spark_session()
    with _interrupt_cancels_jobs(spark) as interrupted:
        for kind in INPUT_KINDS:
            source = _export_checked(con, kind, work_dir / "checked")
            spark.read.parquet(_uri(source)).createOrReplaceTempView(f"checked_{kind}")
        _run_params_frame(spark, params).createOrReplaceTempView("run_params")
        for name in MODEL_ORDER:
            if interrupted:
                raise KeyboardInterrupt
            frame = spark.sql(spark_sql(name))
            if name not in VIEW_MODELS:
                frame = _materialise(spark, frame, _model_dir(work_dir, name))
            frame.createOrReplaceTempView(name)
            step(f"model {name}")
    return work_dir / OUTPUT_DIR


@contextmanager
def _interrupt_cancels_jobs(spark: SparkSession) -> Iterator[list[int]]:
    """Ctrl-C cancels the Spark jobs running, and the block then ends in KeyboardInterrupt.

    PySpark's own handler cancels them from the signal handler, on the main thread, which is
    most likely inside a Py4J call just then: Py4J finds its socket read re-entered and logs
    tracebacks (to the root logger) before the interrupt comes through. Here they are cancelled
    from a thread of their own, and the call the main thread was in returns, failed."""
    interrupted: list[int] = []
    if threading.current_thread() is not threading.main_thread():
        yield interrupted  # signals reach the main thread only
        return

    def cancel(number: int, _frame: object) -> None:
        interrupted.append(number)
        threading.Thread(target=_cancel_jobs, args=(spark,), daemon=True).start()

    previous = signal.signal(signal.SIGINT, cancel)
    try:
        yield interrupted
    except Exception:
        if interrupted:  # the job the interrupt cancelled
            raise KeyboardInterrupt from None
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
    if interrupted:
        raise KeyboardInterrupt


def _cancel_jobs(spark: SparkSession) -> None:
    with suppress(Exception):  # a session stopping meanwhile has nothing left to cancel
        spark.sparkContext.cancelAllJobs()


def _export_checked(con: duckdb.DuckDBPyConnection, kind: str, folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{kind}.parquet"
    con.table(f"checked_{kind}").filter("reject_reason is null").write_parquet(str(target))
    return target


def _run_params_frame(spark: SparkSession, params: dict[str, int]) -> DataFrame:
    """One row of literals, planned in the JVM: a frame made from Python rows would start
    Python workers for every model that reads it."""
    return spark.range(1).select(
        *(F.lit(value).cast("bigint").alias(name) for name, value in params.items())
    )


def _model_dir(work_dir: Path, name: str) -> Path:
    return work_dir / OUTPUT_DIR if name == OUTPUT_MODEL else work_dir / "spark_models" / name


def _materialise(spark: SparkSession, frame: DataFrame, folder: Path) -> DataFrame:
    # Written to Parquet and read back rather than cached: the later models then plan against a
    # file, not the whole lineage; nothing is recomputed if memory runs short or an executor
    # is lost; and it is the same on a cluster, where the work folder is shared storage.
    frame.write.mode("overwrite").parquet(_uri(folder))
    return spark.read.parquet(_uri(folder))


def _uri(path: Path) -> str:
    """A path as Spark is to read it: a `file://` URI, on the disk DuckDB wrote it to, never on
    the cluster's default file system (`fs.defaultFS`, HDFS on a YARN cluster)."""
    return path.resolve().as_uri()
