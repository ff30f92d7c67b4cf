"""Where Spark runs and with what Java, read before a session starts: its master and other
settings from Spark's own spark-defaults.conf, and a Java it could not start named at once."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("pyspark")

from pipelines.spark_engine import java_problem, spark_defaults


def test_spark_defaults_are_read_from_the_conf_dir_as_spark_submit_reads_them(
    tmp_path: Path,
) -> None:
    (tmp_path / "spark-defaults.conf").write_text(
        "# the cluster\n"
        "spark.master   spark://scoring-cluster:7077\n"
        "\n"
        "spark.driver.memory=6g\n"
        "spark.sql.shuffle.partitions 400\n"
    )

    assert spark_defaults({"SPARK_CONF_DIR": str(tmp_path)}) == {
        "spark.master": "spark://scoring-cluster:7077",
        "spark.driver.memory": "6g",
        "spark.sql.shuffle.partitions": "400",
    }


def test_spark_defaults_separated_by_a_tab_or_a_colon_are_read(tmp_path: Path) -> None:
    (tmp_path / "spark-defaults.conf").write_text("spark.master\tyarn\nspark.driver.memory: 6g\n")

    assert spark_defaults({"SPARK_CONF_DIR": str(tmp_path)}) == {
        "spark.master": "yarn",
        "spark.driver.memory": "6g",
    }


def test_spark_defaults_fall_back_to_spark_homes_conf_folder(tmp_path: Path) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "spark-defaults.conf").write_text("spark.master local[1]\n")

    assert spark_defaults({"SPARK_HOME": str(tmp_path)}) == {"spark.master": "local[1]"}


def test_without_a_spark_defaults_file_nothing_is_configured(tmp_path: Path) -> None:
    assert spark_defaults({}) == {}
    assert spark_defaults({"SPARK_CONF_DIR": str(tmp_path)}) == {}


def test_a_java_home_holding_no_java_is_named(tmp_path: Path) -> None:
    problem = java_problem({"JAVA_HOME": "/nonexistent", "PATH": "/usr/bin:/bin"})

    assert problem is not None
    assert problem.startswith("JAVA_HOME (/nonexistent) holds no bin/java")


def test_no_java_anywhere_is_said(tmp_path: Path) -> None:
    assert java_problem({"PATH": str(tmp_path)}) == (
        "Spark needs Java 17 or later: no java on PATH, and JAVA_HOME is not set"
    )


def test_a_java_home_with_its_java_is_no_problem(tmp_path: Path) -> None:
    java = tmp_path / "bin" / "java"
    java.parent.mkdir()
    java.write_text("#!/bin/sh\n")
    java.chmod(0o755)

    assert java_problem({"JAVA_HOME": str(tmp_path), "PATH": ""}) is None
