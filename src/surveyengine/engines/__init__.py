"""Responses in a database engine: connections, and the statistics pass pushed down into it.

A study's ``source:`` names an engine and a table, a view or a query (or, for DuckDB, Parquet files).
The SQL is generated once, in DuckDB's dialect (``stats/sql_backend.py`` for the statistics,
``engines/rules.py`` for the data rules), and transpiled by sqlglot for every other engine, so there is one
definition and no SQL written per dialect; each engine's own driver runs it (no Ibis: its conditional
aggregates compile to ``FILTER (WHERE ...)``, which DuckDB runs many times slower than plain sums).

Credentials never come from the study folder: ``env`` names an environment variable holding the
connection string, ``profile`` an entry of the profiles file (``$SURVEYENGINE_PROFILES``, else
``~/.config/surveyengine/profiles.yaml``), which must lie outside the study folder. Messages name the
source (``postgres:public.responses``), never the connection string; driver messages are scrubbed of it.
"""

from __future__ import annotations

import glob
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import DataError

if TYPE_CHECKING:
    import pyarrow as pa

    from ..model import Source
    from ..study import Study

ENGINES = ("duckdb", "postgres", "spark")
EXTRA = {"duckdb": "duckdb", "postgres": "postgres", "spark": "spark"}
PROFILES_ENV = "SURVEYENGINE_PROFILES"


def missing_extra(engine: str) -> DataError:
    return DataError(f"the {engine} engine needs its driver: pip install 'surveyengine[{EXTRA.get(engine, engine)}]'")


def describe(source: Source) -> str:
    """How messages and the row account name a source (never with its credentials)."""
    what = source.table or ("query" if source.query else source.path or "")
    return f"{source.engine}:{what}"


class Engine:
    """A connection that runs DuckDB-dialect SQL (transpiled where needed) and returns Arrow tables."""

    dialect = "duckdb"
    # runs in this process: the statistics pass reads its rows as Arrow batches (no network in between)
    # instead of aggregating in SQL (stats/sql_backend.py says why)
    in_process = False

    def __init__(self, name: str, secrets: tuple[str, ...] = ()) -> None:
        self.name = name  # the source as messages show it
        self.secrets = tuple(s for s in secrets if s)
        self.queries = 0  # statements run (the docs promise a fixed number per build)

    def translate(self, sql: str) -> str:
        if self.dialect == "duckdb":
            return sql
        import sqlglot

        return ";\n".join(sqlglot.transpile(sql, read="duckdb", write=self.dialect))

    def scrub(self, text: str) -> str:
        for secret in sorted(self.secrets, key=len, reverse=True):
            text = text.replace(secret, "***")
        return re.sub(r"(password\s*=\s*)\S+", r"\1***", text, flags=re.IGNORECASE)

    def error(self, exc: BaseException, doing: str) -> DataError:
        first = self.scrub(str(exc)).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return DataError(f"{doing}: {first}", self.name)

    def arrow(self, sql: str) -> pa.Table:
        self.queries += 1
        try:
            return self._arrow(self.translate(sql))
        except DataError:
            raise
        except Exception as exc:  # a driver's error: bad SQL for this engine, a lost connection
            raise self.error(exc, "the engine failed") from None

    def execute(self, sql: str) -> None:
        self.queries += 1
        try:
            self._execute(self.translate(sql))
        except Exception as exc:
            raise self.error(exc, "the engine failed") from None

    def batches(self, sql: str, rows: int) -> Iterator[pa.RecordBatch]:
        """The result as Arrow record batches of about ``rows`` rows (engines that run in this process)."""
        self.queries += 1
        try:
            yield from self._batches(self.translate(sql), rows)
        except Exception as exc:
            raise self.error(exc, "the engine failed") from None

    def _batches(self, sql: str, rows: int) -> Iterator[pa.RecordBatch]:  # pragma: no cover
        raise NotImplementedError

    def _arrow(self, sql: str) -> pa.Table:  # pragma: no cover - every engine has its own
        raise NotImplementedError

    def _execute(self, sql: str) -> None:  # pragma: no cover
        raise NotImplementedError

    def schema(self, relation: str) -> dict[str, str]:
        """Column name -> kind (integer, float, boolean, string, other) of a relation, in order."""
        raise NotImplementedError

    def close(self) -> None:
        pass


def _kind_of_arrow(kind: Any) -> str:
    import pyarrow as pa

    if pa.types.is_boolean(kind):
        return "boolean"
    if pa.types.is_integer(kind):
        return "integer"
    if pa.types.is_floating(kind) or pa.types.is_decimal(kind):
        return "float"
    if pa.types.is_string(kind) or pa.types.is_large_string(kind):
        return "string"
    if pa.types.is_null(kind):
        return "null"
    return "other"


class DuckDBEngine(Engine):
    dialect = "duckdb"
    in_process = True

    def __init__(self, name: str, database: str = ":memory:", memory_limit: str | None = None) -> None:
        super().__init__(name)
        try:
            import duckdb
        except ImportError:
            raise missing_extra("duckdb") from None
        try:
            self.connection = duckdb.connect(database, read_only=database != ":memory:")
        except Exception as exc:
            raise self.error(exc, "cannot open the DuckDB database") from None
        if memory_limit:
            self.connection.execute(f"SET memory_limit = '{memory_limit}'")
        self.connection.execute("SET preserve_insertion_order = false")
        self.database, self.memory_limit = database, memory_limit

    def apart(self) -> DuckDBEngine:
        """Another connection to the same data; over files, a database of its own, whose memory (DuckDB keeps
        what a big aggregate used) goes back to the system when it closes."""
        return DuckDBEngine(self.name, self.database, self.memory_limit)

    def _arrow(self, sql: str) -> pa.Table:
        return self.connection.sql(sql).to_arrow_table()

    def _execute(self, sql: str) -> None:
        self.connection.execute(sql)

    def _batches(self, sql: str, rows: int) -> Iterator[pa.RecordBatch]:
        yield from self.connection.sql(sql).to_arrow_reader(rows)

    def schema(self, relation: str) -> dict[str, str]:
        table = self.arrow(f"SELECT * FROM {relation} AS source_rows LIMIT 0")
        return {f.name: _kind_of_arrow(f.type) for f in table.schema}

    def close(self) -> None:
        self.connection.close()


_PG_KINDS = {16: "boolean", 20: "integer", 21: "integer", 23: "integer", 700: "float", 701: "float", 1700: "float",
             25: "string", 1042: "string", 1043: "string", 19: "string"}


class PostgresEngine(Engine):
    dialect = "postgres"

    def __init__(self, name: str, dsn: str) -> None:
        super().__init__(name, (dsn, *_password_of(dsn)))
        try:
            import psycopg
        except ImportError:
            raise missing_extra("postgres") from None
        try:
            self.connection = psycopg.connect(dsn, autocommit=True, connect_timeout=10)
        except Exception as exc:
            raise self.error(exc, "cannot connect") from None

    def _arrow(self, sql: str) -> pa.Table:
        import pyarrow as pa

        with self.connection.cursor() as cursor:
            cursor.execute(sql)
            names = [d.name for d in cursor.description]
            kinds = [_PG_KINDS.get(d.type_code, "other") for d in cursor.description]
            rows = cursor.fetchall()
        columns = list(zip(*rows)) if rows else [[] for _ in names]
        arrays = []
        for values, kind in zip(columns, kinds):
            values = list(values)
            if kind == "float" or kind == "integer":
                values = [None if v is None else float(v) if kind == "float" else int(v) for v in values]
            arrays.append(pa.array(values, type={"float": pa.float64(), "integer": pa.int64(),
                                                 "boolean": pa.bool_()}.get(kind)))
        return pa.table(dict(zip(names, arrays))) if names else pa.table({})

    def _execute(self, sql: str) -> None:
        with self.connection.cursor() as cursor:
            cursor.execute(sql)

    def schema(self, relation: str) -> dict[str, str]:
        self.queries += 1
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(self.translate(f"SELECT * FROM {relation} AS source_rows LIMIT 0"))
                return {d.name: _PG_KINDS.get(d.type_code, "other") for d in cursor.description}
        except Exception as exc:
            raise self.error(exc, "cannot read the source") from None

    def close(self) -> None:
        self.connection.close()


def _password_of(dsn: str) -> list[str]:
    found = re.findall(r"password\s*=\s*(\S+)", dsn, flags=re.IGNORECASE)
    found += re.findall(r"://[^:/@]+:([^@]+)@", dsn)
    return found


def _profile(study: Study, source: Source) -> dict[str, Any]:
    from ..yamlio import load_file

    path = Path(os.environ.get(PROFILES_ENV) or Path.home() / ".config" / "surveyengine" / "profiles.yaml")
    shown = str(path)
    if path.resolve().is_relative_to(study.root.resolve()):
        raise DataError("the profiles file must lie outside the study folder (it holds credentials)", shown)
    if not path.is_file():
        raise DataError(f"no profiles file (set ${PROFILES_ENV} or create it) for profile '{source.profile}'", shown)
    profiles = load_file(path, display=shown)
    entry = profiles.get(source.profile) if hasattr(profiles, "get") else None
    if entry is None:
        raise DataError(f"no profile '{source.profile}' in the profiles file", shown)
    return {str(k): v for k, v in dict(entry).items()}


def _connection_string(study: Study, source: Source) -> str | None:
    if source.env:
        value = os.environ.get(source.env)
        if not value:
            raise DataError(f"environment variable {source.env} (the connection of {describe(source)}) is not set")
        return value
    if source.profile:
        profile = _profile(study, source)
        value = profile.get("url") or profile.get("dsn")
        if value is None and profile.get("env"):
            value = os.environ.get(str(profile["env"]))
        if not value:
            raise DataError(f"profile '{source.profile}' has no 'url'")
        return str(value)
    return None


def parquet_files(study: Study, pattern: str) -> list[Path]:
    full = str(study.root / pattern)
    files = sorted(Path(p) for p in glob.glob(full, recursive=True)) if glob.has_magic(full) else [Path(full)]
    files = [f for f in files if f.is_file()]
    if not files:
        raise DataError(f"no file matches '{pattern}'", str(study.config_path))
    return files


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(study: Study, source: Source) -> tuple[Engine, str, list[str]]:
    """(engine, the source as a SQL relation, the file names of its rows) for a study's source.

    The relation has the source's columns, plus ``__file`` and ``__row`` when the rows come from files
    (Parquet through DuckDB), so that messages name the file and row as a build from the files would.
    """
    name = describe(source)
    engine_id = source.engine
    if engine_id not in ENGINES:
        raise DataError(f"unknown engine '{engine_id}' (known: {', '.join(ENGINES)}; see docs/warehouse.md)",
                        str(study.config_path))
    dsn = _connection_string(study, source)
    if engine_id == "duckdb":
        database = ":memory:"
        files: list[str] = [name]
        if source.path and (source.table or source.query):
            database = str(study.root / source.path)
            if not Path(database).is_file():
                raise DataError("DuckDB database file not found", study.display(Path(database)))
        engine: Engine = DuckDBEngine(name, dsn or database, source.memory_limit)
        if source.path and not (source.table or source.query):
            paths = parquet_files(study, source.path)
            files = [study.display(p) for p in paths]
            listed = ", ".join(_quote(str(p)) for p in paths)
            positions = " ".join(f"WHEN {_quote(str(p))} THEN {k}" for k, p in enumerate(paths))
            relation = (f"(SELECT * EXCLUDE (filename, file_row_number), CASE filename {positions} END AS __file, "
                        f"file_row_number + 1 AS __row FROM read_parquet([{listed}], filename = true, "
                        f"file_row_number = true))")
            return engine, relation, files
    elif engine_id == "postgres":
        if dsn is None:
            raise DataError(f"{name}: name the connection with 'env' (an environment variable) or 'profile'")
        engine = PostgresEngine(name, dsn)
        files = [name]
    else:
        from .spark import spark_engine, spark_relation

        relation, files = spark_relation(study, source)
        return spark_engine(study, source, name, dsn), relation, files
    relation = f"({source.query})" if source.query else ".".join(
        '"' + part.replace('"', '""') + '"' for part in (source.table or "").split("."))
    return engine, relation, files
