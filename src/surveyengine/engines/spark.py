"""Spark as an engine: local mode in this process's own JVM, or a cluster through Spark Connect.

Spark's Python workers check each partition's rows and run the numpy pass on them (``map_partitions``,
``stream.summarise_partitions``). A study with a speeding check or raking takes the other engines' SQL
instead (DuckDB-dialect SQL from ``stats/sql_backend.py`` and ``rules.py``), transpiled by sqlglot; for it this
module materialises the one temporary table and rewrites each conditional aggregate into the form Spark runs
fastest (``spark_forms``, measured by ``engine_forms_spark`` in ``benchmarks/run.py``).

Where Spark runs comes from ``env`` or ``profile`` (never the study YAML), like any connection string:
``local[*]`` (the default), ``local[2]``, or ``sc://host:15002/;token=...`` for Spark Connect. A local
session starts a JVM once per process (about 7 s) and is kept for the next build; it listens on loopback
only, without the web UI, logs errors only, and has a bounded driver heap. A session already active in
the process (a notebook's, the tests') is used as it is, so its temporary views can be sources.
"""

from __future__ import annotations

import os
import re
import socket
import warnings
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import DataError
from . import Engine, _profile, missing_extra

if TYPE_CHECKING:
    import pyarrow as pa

    from ..model import Source
    from ..study import Study

DEFAULT_URL = "local[*]"
MERGE_ON_DRIVER = 4  # partitions whose payloads the driver takes as they are; beyond, a worker merges them first
ARROW_BATCH_ROWS = "spark.sql.execution.arrow.maxRecordsPerBatch"
CONNECT_PORT = 15002  # Spark Connect's default
# A local session's settings; a profile's ``conf:`` overrides them (e.g. spark.driver.memory: 4g).
LOCAL_CONF = {
    "spark.app.name": "surveyengine",
    "spark.ui.enabled": "false",
    "spark.ui.showConsoleProgress": "false",
    "spark.driver.memory": "1g",
    "spark.driver.bindAddress": "127.0.0.1",
    "spark.driver.host": "127.0.0.1",
    "spark.sql.shuffle.partitions": "4",  # the GROUP BYs return thousands of rows, not millions
    "spark.sql.session.timeZone": "UTC",
}
_PANDAS_WARNING = "PySpark does not yet fully support pandas"


def _kind_of_spark(kind: Any) -> str:
    from pyspark.sql import types

    if isinstance(kind, types.BooleanType):
        return "boolean"
    if isinstance(kind, (types.ByteType, types.ShortType, types.IntegerType, types.LongType)):
        return "integer"
    if isinstance(kind, (types.FloatType, types.DoubleType, types.DecimalType)):
        return "float"
    if isinstance(kind, (types.StringType, types.CharType, types.VarcharType)):
        return "string"
    if isinstance(kind, types.NullType):
        return "null"
    return "other"


def _log4j_file() -> str:
    return str(resources.files("surveyengine.engines").joinpath("spark-log4j2.properties"))


def _quiet_python_loggers() -> None:
    """pyspark logs every failed query as JSON on stderr; the error reaches the user as a message instead."""
    import logging

    from pyspark.logger import PySparkLogger

    for name in ("SQLQueryContextLogger", "DataFrameQueryContextLogger"):
        PySparkLogger.getLogger(name).setLevel(logging.CRITICAL)


def local_session(url: str, conf: dict[str, str] | None = None) -> Any:
    """The process's Spark session: the active one, else a new local one with the quiet, loopback settings."""
    warnings.filterwarnings("ignore", message=_PANDAS_WARNING)
    from pyspark.sql import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    settings = {**LOCAL_CONF, "spark.driver.extraJavaOptions": f"-Dlog4j2.configurationFile=file:{_log4j_file()}",
                **(conf or {})}
    builder = SparkSession.builder.master(url)
    for key, value in settings.items():
        builder = builder.config(key, str(value))
    session = builder.getOrCreate()
    session.sparkContext.setLogLevel("ERROR")
    return session


def _token_of(url: str) -> list[str]:
    return re.findall(r";\s*token=([^;]+)", url)


class SparkEngine(Engine):
    """A Spark session (classic local, or Spark Connect) running the transpiled statements."""

    dialect = "spark"

    def __init__(self, name: str, url: str | None = None, conf: dict[str, str] | None = None) -> None:
        self.url = url or DEFAULT_URL
        super().__init__(name, (self.url, *_token_of(self.url)))
        warnings.filterwarnings("ignore", message=_PANDAS_WARNING)
        try:
            import pyspark  # noqa: F401
        except ImportError:
            raise missing_extra("spark") from None
        self.remote = self.url.startswith("sc://")
        self.persisted: dict[str, Any] = {}  # temporary tables: name -> the persisted DataFrame
        self.views: list[str] = []
        try:
            if self.remote:
                self.session = self._connect(self.url)
            else:
                self.session = local_session(self.url, conf)
            _quiet_python_loggers()
        except DataError:
            raise
        except ImportError as exc:  # Spark Connect's client needs grpcio and friends: the extra has them
            raise DataError(f"{missing_extra('spark')} ({exc.name} is missing)") from None
        except Exception as exc:
            raise self.error(exc, "cannot start Spark") from None

    def _connect(self, url: str) -> Any:
        """A Spark Connect session; a server that does not answer is named at once (the client would retry
        for minutes)."""
        from pyspark.sql.connect.session import SparkSession as RemoteSession

        address = urlsplit(url.split(";", 1)[0])
        try:
            with socket.create_connection((address.hostname or "localhost", address.port or CONNECT_PORT),
                                          timeout=10):
                pass
        except OSError as exc:
            raise self.error(exc, "cannot connect") from None
        return RemoteSession.builder.remote(url).create()

    def translate(self, sql: str) -> str:
        return spark_forms(super().translate(sql))

    def _arrow(self, sql: str) -> pa.Table:
        return self.session.sql(sql).toArrow()

    def _execute(self, sql: str) -> None:
        self.session.sql(sql)  # DDL runs when it is issued

    def execute(self, sql: str) -> None:
        """``CREATE TEMP TABLE name AS ...`` is a persisted DataFrame under a temporary view (Spark SQL has no
        temporary tables, and a view would rerun the rules for every query that reads it)."""
        table = re.fullmatch(r"CREATE TEMP TABLE (\w+) AS (.*)", sql, flags=re.DOTALL)
        dropped = re.fullmatch(r"DROP TABLE IF EXISTS (\w+)", sql)
        view = re.match(r"CREATE OR REPLACE TEMP VIEW (\w+) ", sql)
        if not (table or dropped):
            if view:
                self.views.append(view[1])
            return super().execute(sql)
        self.queries += 1
        try:
            if dropped:  # only this session's temporary view: never a catalog table of that name
                self._release(dropped[1])
                return
            assert table is not None
            self._materialise(table[1], self.translate(table[2]))
        except Exception as exc:
            raise self.error(exc, "the engine failed") from None

    def _materialise(self, name: str, sql: str) -> None:
        """A temporary view of the query's rows, computed now, once, and cut from its plan (localCheckpoint),
        so that the queries reading it are planned as on a stored table.

        A ``WITH`` query is built stage by stage, each stage analysed once as a temporary view: Spark's
        analyzer resolves one level of nesting per pass over the whole plan, so the rules' 30-odd stages of a
        few hundred columns took over a minute to analyse as one statement (seconds this way).
        """
        import sqlglot

        tree = sqlglot.parse_one(sql, read="spark")
        key = "with_" if "with_" in tree.args else "with"
        with_ = tree.args.get(key)
        stages = [(cte.alias, cte.this.sql(dialect="spark")) for cte in with_.expressions] if with_ else []
        tree.set(key, None)
        try:
            for stage, body in stages:
                self.session.sql(body).createOrReplaceTempView(stage)
            frame = self.session.sql(tree.sql(dialect="spark")).localCheckpoint(eager=True)
        finally:  # a Spark Connect plan names the views until it runs: dropped only once it has
            for stage, _ in stages:
                self.session.catalog.dropTempView(stage)
        frame.createOrReplaceTempView(name)
        self.persisted[name] = frame

    def map_partitions(self, sql: str, function: Any, merge: Any) -> list[bytes]:
        """``function`` (a partition's Arrow batches -> one row: ``first_file``, ``first_row``, ``payload``) run by
        Spark's Python workers over each partition of the query's rows (``mapInArrow``); the payloads, in data
        order. Beyond ``MERGE_ON_DRIVER`` partitions, ``merge`` (rows of that shape -> one) runs first in one
        worker, which takes the payloads one at a time in data order, so the driver receives one payload, not
        one per partition (each can be a hundred MB: a study's statistics)."""
        self.queries += 1
        shape = "first_file long, first_row long, payload binary"
        try:
            staged = self.session.sql(self.translate(sql)).mapInArrow(function, shape).localCheckpoint(eager=True)
            self.partitions = staged.count()
            if self.partitions > MERGE_ON_DRIVER:
                previous = self.session.conf.get(ARROW_BATCH_ROWS, None)
                self.session.conf.set(ARROW_BATCH_ROWS, "1")
                try:
                    staged = staged.repartition(1).sortWithinPartitions("first_file", "first_row") \
                        .mapInArrow(merge, shape).localCheckpoint(eager=True)
                finally:
                    if previous is None:
                        self.session.conf.unset(ARROW_BATCH_ROWS)
                    else:
                        self.session.conf.set(ARROW_BATCH_ROWS, previous)
            payloads = staged.toArrow()
        except Exception as exc:
            raise self.error(exc, "the engine failed") from None
        order = sorted(range(payloads.num_rows), key=lambda k: (payloads.column("first_file")[k].as_py(),
                                                                payloads.column("first_row")[k].as_py()))
        column = payloads.column("payload")
        return [column[k].as_py() for k in order]

    def _release(self, name: str) -> None:
        self.persisted.pop(name, None)  # its blocks go when the session collects it
        self.session.catalog.dropTempView(name)

    def schema(self, relation: str) -> dict[str, str]:
        self.queries += 1
        try:
            fields = self.session.sql(self.translate(f"SELECT * FROM {relation} AS source_rows LIMIT 0")).schema
        except Exception as exc:
            raise self.error(exc, "cannot read the source") from None
        return {field.name: _kind_of_spark(field.dataType) for field in fields}

    def close(self) -> None:
        """Drop this build's views and tables; a local session (and its JVM) stays for the next build."""
        try:
            if self.remote:
                self.session.stop()
                return
            for name in [*self.views, *self.persisted]:
                self._release(name)
        except Exception:  # the session is gone (a JVM out of memory): the error that ended the build is the news
            pass


# --------------------------------------------------------------------------- the aggregate forms

def spark_forms(sql: str) -> str:
    """Spark SQL with each conditional sum in the form Spark ran fastest (``engine_forms_spark``):
    ``SUM(v) FILTER (WHERE c)`` for ``SUM(v * CAST(c AS INT))`` and ``COUNT_IF(c)`` for ``SUM(CAST(c AS
    INT))``, and DOUBLE literals for decimal ones (Spark types ``1.0`` as DECIMAL, whose sums were 9x slower).
    Rows where ``c`` is unknown count in neither form."""
    import sqlglot
    from sqlglot import exp

    def rewrite(node: exp.Expression) -> exp.Expression:
        if not isinstance(node, exp.Sum):
            return node
        if _is_mask(node.this):
            return exp.CountIf(this=node.this.this.copy())
        factors = _factors(node.this)
        masks = [f for f in factors if _is_mask(f)]
        if len(factors) < 2 or len(masks) != 1:
            return node
        value: exp.Expression | None = None
        for factor in factors:
            if factor is not masks[0]:
                value = factor.copy() if value is None else exp.Mul(this=value, expression=factor.copy())
        return exp.Filter(this=exp.Sum(this=value), expression=exp.Where(this=masks[0].this.copy()))

    statements = []
    for tree in sqlglot.parse(sql, read="spark"):
        if tree is None:
            continue
        tree = tree.transform(rewrite)
        tree = tree.transform(_double_literal).transform(_float_division)
        statements.append(tree.sql(dialect="spark"))
    return ";\n".join(statements)


def _factors(node: Any) -> list[Any]:
    from sqlglot import exp

    while isinstance(node, exp.Paren):
        node = node.this
    if isinstance(node, exp.Mul):
        return _factors(node.this) + _factors(node.expression)
    return [node]


def _is_mask(node: Any) -> bool:
    """``CAST(<comparison> AS INT)``: 1 where a condition holds, 0 where not, NULL where unknown."""
    from sqlglot import exp

    return isinstance(node, exp.Cast) and node.to.is_type("int") and isinstance(node.this, exp.Predicate)


def _float_division(node: Any) -> Any:
    """DuckDB divides FLOATs in FLOAT; Spark's ``/`` is always DOUBLE. Rounding the DOUBLE quotient of two
    FLOATs to FLOAT gives the FLOAT quotient exactly (DOUBLE has more than twice FLOAT's precision), so the
    factor scores equal numpy's float32 scores bit for bit."""
    from sqlglot import exp

    if isinstance(node, exp.Div) and any(isinstance(side, exp.Cast) and side.to.is_type("float")
                                         for side in (node.this, node.expression)):
        return exp.Cast(this=node.copy(), to=exp.DataType.build("float"))
    return node


def _double_literal(node: Any) -> Any:
    from sqlglot import exp

    if isinstance(node, exp.Literal) and not node.is_string and re.fullmatch(r"\d+\.\d*", node.this):
        parent = node.parent
        if not (isinstance(parent, exp.Cast)):  # an explicit CAST(1.0 AS FLOAT) keeps its type
            return exp.Cast(this=node.copy(), to=exp.DataType.build("double"))
    return node


# --------------------------------------------------------------------------- sources

_GLOB = re.compile(r"([\\{}\[\]*?])")


def spark_relation(study: Study, source: Source) -> tuple[str, list[str]]:
    """(the source as a DuckDB-dialect relation that transpiles to Spark SQL, the file names of its rows).

    Parquet files on this machine are read one by one, each with its index and Spark's row index, so that
    messages name the file and row as a build from the files does; a path with a scheme (``s3://``,
    ``abfss://``, ``dbfs:/``) is read by the cluster as one relation whose rows are numbered like a table's.
    """
    from ..stats.sql_backend import ident
    from . import describe, parquet_files

    if source.path and (source.table or source.query):
        raise DataError("a spark source names Parquet files in 'path' or a 'table' or 'query', not both",
                        str(study.config_path))
    if not source.path:
        relation = f"({source.query})" if source.query else ".".join(
            ident(part) for part in (source.table or "").split("."))
        return relation, [describe(source)]
    if re.match(r"^[a-zA-Z][a-zA-Z0-9+.-]*:", source.path):
        return f"{ident('parquet')}.{ident(source.path)}", [describe(source)]
    paths = parquet_files(study, source.path)
    literal = [_GLOB.sub(r"\\\1", str(Path(p).resolve())) for p in paths]  # no glob: exactly this file
    reads = [f"SELECT *, {k} AS __file, _metadata.row_index + 1 AS __row FROM {ident('parquet')}.{ident(path)} AS p{k}"
             for k, path in enumerate(literal)]
    return f"({' UNION ALL '.join(reads)})", [study.display(p) for p in paths]


def spark_engine(study: Study, source: Source, name: str, url: str | None) -> SparkEngine:
    conf = {}
    if source.profile:
        conf = {str(k): str(v) for k, v in dict(_profile(study, source).get("conf") or {}).items()}
    return SparkEngine(name, url, conf)
