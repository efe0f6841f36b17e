"""The statistics pass inside real engines (DuckDB, PostgreSQL, Spark) against the in-memory numpy pass.

Counts and moments must agree exactly (sums to 1e-9 relative). The numpy pass forms its cross-products
from float32 products (see stats/numpy_backend.py) while the engines sum in DOUBLE, so cross-products
agree to 1e-6 relative, and the numbers in results.json to 1e-3 (item-level regressions in small units
amplify that float32 noise). The engine's are the exact ones: they equal float64 products to 1e-12.

PostgreSQL runs as a throwaway cluster made with Debian's initdb / pg_ctl on a free local port, Spark as one
local[2] session (one JVM) for the module. Without them these tests skip, saying how to install them; under
CI=true they fail instead.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveyengine.build import summarise
from surveyengine.errors import DataError
from surveyengine.plugins import get_plugin_manager
from surveyengine.study import load_study

duckdb = pytest.importorskip("duckdb", reason="pip install 'surveyengine[duckdb]'")

EXACT = ("n", "sum_w", "sum_w2", "count", "wsum", "wsum2", "sum", "sumsq", "freq", "freq_n", "gap_count",
         "gap_wsum", "gap_wsum2", "gap_sum", "gap_sumsq", "gap_met", "split_count", "split_wsum", "split_wsum2",
         "split_sum", "split_sumsq")
CROSS = ("xx", "xm", "x2m", "mm")


def _summary(root: Path, engine: str | None = None) -> Any:
    pm = get_plugin_manager(entry_points=False)
    study = load_study(root, pm)
    study.engine = engine
    return summarise(study, pm, lambda message: None, use_cache=False)[0]


def assert_same_summary(memory: Any, engine: Any, source: str | None = None) -> None:
    """Equal statistics, labels, account, exclusions, findings and comments; ``source`` names the engine
    source that stands for the memory build's one data file."""
    a, b = memory.stats, engine.stats
    for name in EXACT:
        x, y = getattr(a.cells, name), getattr(b.cells, name)
        assert x.shape == y.shape, name
        np.testing.assert_allclose(y, x, rtol=1e-9, atol=1e-9, err_msg=name)
    for name in ("n", "count", "freq_n", "gap_count", "split_count", "mm"):
        if name != "mm":
            assert np.array_equal(getattr(a.cells, name), getattr(b.cells, name)), name
    for name in CROSS:
        np.testing.assert_allclose(getattr(b.cells, name), getattr(a.cells, name), rtol=1e-6, atol=1e-6)
        if a.units is not None:
            np.testing.assert_allclose(getattr(b.units, name), getattr(a.units, name), rtol=1e-6, atol=1e-6)
        assert (a.replicates is None) == (b.replicates is None)
        if a.replicates is not None:  # the same replicate groups: a hash of the respondent id in both
            np.testing.assert_allclose(getattr(b.replicates, name), getattr(a.replicates, name), rtol=1e-6,
                                       atol=1e-6, err_msg=name)
    assert a.cells.segment_codes.keys() == b.cells.segment_codes.keys()
    for key in a.cells.segment_codes:
        assert np.array_equal(a.cells.segment_codes[key], b.cells.segment_codes[key])
    assert np.array_equal(a.cells.wave_codes, b.cells.wave_codes)
    assert np.array_equal(a.unit_of_cell, b.unit_of_cell)
    assert a.banners.keys() == b.banners.keys()
    for question, cells in a.banners.items():  # the banner pass by answers: the same definition in the engine
        for name in EXACT:
            np.testing.assert_allclose(getattr(b.banners[question], name), getattr(cells, name), rtol=1e-9,
                                       atol=1e-9, err_msg=f"{question} {name}")
        for name in CROSS:  # float32 products of factor scores over a whole answer group: ~1e-6 relative
            np.testing.assert_allclose(getattr(b.banners[question], name), getattr(cells, name), rtol=1e-5,
                                       atol=1e-6, err_msg=f"{question} {name}")
        assert np.array_equal(cells.segment_codes[question], b.banners[question].segment_codes[question])
    assert memory.labels == engine.labels
    rename = {next(iter(memory.account["files"])): source} if source else {}
    account = {**memory.account, "files": {rename.get(k, k): v for k, v in memory.account["files"].items()}}
    assert engine.account == account
    memory_exclusions = [{**e, "file": rename.get(e["file"], e["file"])} for e in memory.exclusions]
    assert engine.exclusions == memory_exclusions
    shown = [(str(p.message), p.location.row, p.location.column, p.severity) for p in memory.findings]
    assert [(str(p.message), p.location.row, p.location.column, p.severity) for p in engine.findings] == shown
    assert memory.bad_rows == engine.bad_rows
    if memory.comments is not None:
        assert engine.comments.text == memory.comments.text
        for name, values in memory.comments.arrays().items():
            np.testing.assert_array_equal(engine.comments.arrays()[name], values, err_msg=name)


def assert_same_summary_but_the_latest_comments(memory: Any, engine: Any, latest: int) -> None:
    """``assert_same_summary``, where the engine kept only the ``latest`` comments of the build from files."""
    comments = memory.comments
    assert len(engine.comments) == latest < len(comments)
    assert engine.comments.text == comments.text[:latest]
    for name, values in comments.arrays().items():
        np.testing.assert_array_equal(engine.comments.arrays()[name], values[:latest], err_msg=name)
    memory.comments = engine.comments = None
    assert_same_summary(memory, engine)


# --------------------------------------------------------------------------- the demo study

@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from click.testing import CliRunner

    from surveyengine.cli import cli

    root = tmp_path_factory.mktemp("engines") / "demo"
    assert CliRunner().invoke(cli, ["init", str(root)]).exit_code == 0
    config = yaml.safe_load((root / "surveyengine.yaml").read_text())
    config["output"]["formats"] = ["json"]
    (root / "surveyengine.yaml").write_text(yaml.safe_dump(config))
    return root


def _engine_study(demo: Path, folder: Path, source: dict[str, Any]) -> Path:
    shutil.copytree(demo, folder, ignore=shutil.ignore_patterns("data", "site", ".surveyengine-cache"))
    config = yaml.safe_load((folder / "surveyengine.yaml").read_text())
    del config["data"]
    config["source"] = source
    (folder / "surveyengine.yaml").write_text(yaml.safe_dump(config))
    return folder


def _duckdb_from_csv(csv: Path, database: Path) -> None:
    with duckdb.connect(str(database)) as connection:
        connection.execute(f"CREATE TABLE responses AS SELECT * FROM read_csv('{csv}')")


@pytest.fixture(params=["batches", "sql"])
def duckdb_statistics(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """DuckDB's two ways to a summary: its rows streamed through the file checks and the numpy pass (the
    default, in this process), and the rules and statistics as SQL, as PostgreSQL runs them (the same SQL,
    checked on DuckDB too)."""
    from surveyengine import engines

    monkeypatch.setattr(engines.DuckDBEngine, "in_process", request.param == "batches")
    return str(request.param)


def test_demo_statistics_from_duckdb_equal_numpy(demo: Path, tmp_path: Path, duckdb_statistics: str) -> None:
    _duckdb_from_csv(demo / "data" / "responses.csv", tmp_path / "responses.duckdb")
    root = _engine_study(demo, tmp_path / "study", {"engine": "duckdb", "path": "../responses.duckdb",
                                                    "table": "responses"})
    memory, engine = _summary(demo), _summary(root)
    assert_same_summary(memory, engine, "duckdb:responses")
    if duckdb_statistics == "sql":
        assert_exact_cross_products(demo, engine)


def assert_exact_cross_products(demo: Path, engine: Any) -> None:
    """The engine's item-block cross-products equal float64 products of the same answers and factor scores."""
    from surveyengine import stats
    from surveyengine.data import load_responses
    from surveyengine.stats.numpy_backend import cell_keys

    pm = get_plugin_manager(entry_points=False)
    responses = load_responses(load_study(demo, pm), pm)
    plan = stats.plan_for(load_study(demo, pm).questionnaire, responses.items)
    scores = stats.factor_scores(responses, plan).astype(np.float64)
    values = np.concatenate([responses.answers.astype(np.float64), scores], axis=1)[:, list(plan.item_block)]
    cell, unit_of_cell, _, _ = cell_keys(responses)
    unit = unit_of_cell[cell]
    z = np.nan_to_num(values)
    exact = np.stack([z[unit == u].T @ z[unit == u] for u in range(unit_of_cell.max() + 1)])
    np.testing.assert_allclose(engine.stats.units.xx, exact, rtol=1e-12)


def _numbers_close(a: Any, b: Any, path: str = "") -> None:
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for key in a:
            _numbers_close(a[key], b[key], f"{path}/{key}")
    elif isinstance(a, list):
        assert len(a) == len(b), path
        for k, (x, y) in enumerate(zip(a, b)):
            _numbers_close(x, y, f"{path}[{k}]")
    elif isinstance(a, float) and isinstance(b, float):
        assert b == pytest.approx(a, rel=1e-3, abs=1e-5), path
    else:
        assert a == b, path


def test_demo_build_from_duckdb_gives_the_same_results(demo: Path, tmp_path: Path) -> None:
    from click.testing import CliRunner

    from surveyengine.cli import cli

    _duckdb_from_csv(demo / "data" / "responses.csv", tmp_path / "responses.duckdb")
    root = _engine_study(demo, tmp_path / "study", {"engine": "duckdb", "path": "../responses.duckdb",
                                                    "table": "responses"})
    for folder in (demo, root):
        result = CliRunner().invoke(cli, ["build", str(folder), "--quiet", "--no-cache"])
        assert result.exit_code == 0, result.output
    files = json.loads((demo / "site" / "results.json").read_text())
    engine = json.loads((root / "site" / "results.json").read_text())
    # the recorded source differs; the total's bootstrap uses the same replicate groups (hashed ids) in both
    for results in (files, engine):
        results["account"]["files"] = list(results["account"]["files"].values())
    _numbers_close(files, engine)


def test_rows_streamed_in_small_batches_across_files_equal_numpy(demo: Path, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """DuckDB streams the rows through the file checks in batches smaller than a file and crossing from one
    file to the next, with ids repeated across batches and files, out-of-range codes and the comments cut to
    the latest few: the same summary as the build from the same files."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from surveyengine.engines import stream

    table = pacsv.read_csv(demo / "data" / "responses.csv")
    first, second = table.slice(0, 700), table.slice(700)
    again = table.slice(100, 40)  # ids seen in the first file, answered again in the second
    rating = next(name for name in table.column_names if name.startswith("hw_"))
    bad = pa.array([9] * 40, type=table.schema.field(rating).type)
    again = again.set_column(again.column_names.index(rating), rating, bad)
    second = pa.concat_tables([second.slice(0, 300), again, second.slice(300)])
    root = tmp_path / "study"
    shutil.copytree(demo, root, ignore=shutil.ignore_patterns("data", "site", ".surveyengine-cache"))
    (root / "data").mkdir()
    pq.write_table(first, root / "data" / "part-1.parquet", row_group_size=256)
    pq.write_table(second, root / "data" / "part-2.parquet", row_group_size=256)
    config = yaml.safe_load((root / "surveyengine.yaml").read_text())
    config["data"] = ["data/*.parquet"]
    config["validation"] = {**config.get("validation", {}), "out_of_range": "exclude"}
    (root / "surveyengine.yaml").write_text(yaml.safe_dump(config))
    memory = _summary(root)
    assert memory.account["excluded_by_reason"]  # the repeated ids and bad codes are there to be found
    del config["data"]
    config["source"] = {"engine": "duckdb", "path": "data/*.parquet", "max_comments": 25}
    (root / "surveyengine.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setattr(stream, "BATCH_ROWS", 97)
    monkeypatch.setattr(stream, "PASS_ROWS", 150)
    engine = _summary(root)
    assert_same_summary_but_the_latest_comments(memory, engine, 25)


# --------------------------------------------------------------------------- random data, every rule

VALUES = st.sampled_from(["1", "2", "3", "4", "5", "5", "4", "9", "7", "", "", "x", "2.5"])


@st.composite
def samples(draw: Any) -> list[dict[str, str]]:
    n = draw(st.integers(1, 40))
    rows = []
    for k in range(n):
        rows.append({
            "respondent_id": draw(st.sampled_from([f"R{k}", f"R{k}", f"R{k}", "R1", ""])),
            "region": draw(st.sampled_from(["North", "South", "East", "Ö-West", ""])),
            "date": draw(st.sampled_from(["2026-01-15", "2026-02-03", "2026-03", "bad", ""])),
            **{item: draw(VALUES) for item in ("quality", "price", "staff", "speed", "overall")},
            "complained": draw(st.sampled_from(["1", "2", "9", "", "3"])),
            "age": draw(st.sampled_from(["34", "", "abc", "61.5"])),
            "weight": draw(st.sampled_from(["1", "0.5", "2.25", "0", "-1", ""])),
            "comment": draw(st.sampled_from(["", "fine", "  ", "很好", "slow <b>"])),
        })
    return rows


def _mini(root: Path, rows: list[dict[str, str]], config: dict[str, Any]) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from surveyengine.yamlio import load_file
    from tests.conftest import DATA, _plain

    questionnaire = _plain(load_file(DATA / "questionnaire.yaml"))
    questionnaire["weights"] = {"column": "weight"}
    questionnaire["outcomes"]["complaint"] = {"item": "complained", "yes": [1]}
    questionnaire["questions"][3]["when"] = "complained == 1"  # the comment only after a complaint
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    (root / "questionnaire.yaml").write_text(yaml.safe_dump(questionnaire, allow_unicode=True))
    settings_ = {"questionnaire": "questionnaire.yaml", "data": ["data/*.parquet"], **config}
    (root / "surveyengine.yaml").write_text(yaml.safe_dump(settings_))
    columns = {name: [row[name] for row in rows] for name in rows[0]}
    pq.write_table(pa.table({k: pa.array(v, type=pa.string()) for k, v in columns.items()}),
                   root / "data" / "responses.parquet")
    return root


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=samples(), policy=st.sampled_from(["missing", "exclude"]))
def test_random_data_through_duckdb_equals_numpy(tmp_path: Path, rows: list[dict[str, str]], policy: str,
                                                 duckdb_statistics: str) -> None:
    root = _mini(tmp_path / f"s{abs(hash(str(rows))) % 10**8}", rows,
                 {"validation": {"out_of_range": policy, "not_a_number": policy, "unknown_code": policy,
                                 "not_asked": policy, "unexpected_column": "warn"},
                  "quality": {"straightlining": "exclude", "straightlining_min_items": 2}})
    old = os.getcwd()
    os.chdir(root)
    try:
        try:
            memory = _summary(root)
        except DataError as error:  # nothing usable: the engine says so too
            with pytest.raises(DataError) as raised:
                _summary(root, "duckdb")
            assert "no usable responses" in str(error) and "no usable responses" in str(raised.value)
            return
        engine = _summary(root, "duckdb")
        assert_same_summary(memory, engine)
    finally:
        os.chdir(old)


# --------------------------------------------------------------------------- bad input, secrets, extras

def _duck_source(tmp_path: Path, demo: Path, table_sql: str, source: dict[str, Any]) -> Path:
    with duckdb.connect(str(tmp_path / "db.duckdb")) as connection:
        connection.execute(table_sql.format(csv=demo / "data" / "responses.csv"))
    return _engine_study(demo, tmp_path / "study", {"engine": "duckdb", "path": "../db.duckdb", **source})


def test_missing_table_and_column_are_named(demo: Path, tmp_path: Path) -> None:
    root = _duck_source(tmp_path, demo, "CREATE TABLE responses AS SELECT * EXCLUDE (dealer) FROM read_csv('{csv}')",
                        {"table": "responses"})
    with pytest.raises(DataError, match=r"missing column 'dealer'") as error:
        _summary(root)
    assert error.value.location.path == "duckdb:responses"
    config = yaml.safe_load((root / "surveyengine.yaml").read_text())
    config["source"]["table"] = "responsez"
    (root / "surveyengine.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(DataError, match="responsez"):
        _summary(root)


def test_type_mismatch_is_a_finding_as_from_files(demo: Path, tmp_path: Path) -> None:
    root = _duck_source(tmp_path, demo, "CREATE TABLE responses AS SELECT * REPLACE (CASE WHEN respondent_id = "
                        "'R0000002' THEN 'lots' ELSE CAST(hw_quality AS VARCHAR) END AS hw_quality) "
                        "FROM read_csv('{csv}')", {"table": "responses"})
    engine = _summary(root)
    assert engine.account["findings_by_rule"] == {"not_a_number": 1}
    assert [p.message for p in engine.findings] == ["'lots' not a number; answer set missing"]


def test_credentials_stay_out_of_messages(demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("psycopg", reason="pip install 'surveyengine[postgres]'")
    with socket.socket() as probe:  # a port nobody listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SE_TEST_PG", f"postgresql://analyst:s3cret-pw@127.0.0.1:{port}/survey")
    root = _engine_study(demo, tmp_path / "study", {"engine": "postgres", "env": "SE_TEST_PG", "table": "responses"})
    with pytest.raises(DataError) as error:
        _summary(root)
    assert "s3cret-pw" not in str(error.value) and "cannot connect" in str(error.value)
    assert "postgres:responses" in str(error.value)
    monkeypatch.delenv("SE_TEST_PG")
    with pytest.raises(DataError, match="SE_TEST_PG"):
        _summary(root)


def test_a_missing_driver_names_its_extra(demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _engine_study(demo, tmp_path / "study", {"engine": "duckdb", "path": "x.duckdb", "table": "t"})
    (root / "x.duckdb").write_bytes(b"")
    monkeypatch.setitem(sys.modules, "duckdb", None)
    with pytest.raises(DataError, match=r"pip install 'surveyengine\[duckdb\]'"):
        _summary(root)


# --------------------------------------------------------------------------- PostgreSQL

def _pg_bin() -> Path | None:
    found = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return found[-1].parent if found else None


@pytest.fixture(scope="module")
def postgres(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """A throwaway PostgreSQL cluster on a free local port; its connection string."""
    pytest.importorskip("psycopg", reason="pip install 'surveyengine[postgres]'")
    binaries = _pg_bin()
    if binaries is None:
        message = "PostgreSQL is not installed: apt-get install postgresql (Debian) to run these tests"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    folder = Path(tempfile.mkdtemp(prefix="surveyengine-pg-"))  # not under pytest's folder: the server's user
    data, sockets = folder / "data", folder / "run"
    sockets.mkdir()
    runner: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the cluster as the postgres user Debian creates
        runner = ["runuser", "-u", "postgres", "--"]
        shutil.chown(folder, "postgres")
        shutil.chown(sockets, "postgres")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    subprocess.run([*runner, str(binaries / "initdb"), "-D", str(data), "-U", "surveyengine", "--auth=trust",
                    "-E", "UTF8", "--locale=C"], check=True, capture_output=True)
    subprocess.run([*runner, str(binaries / "pg_ctl"), "-D", str(data), "-w", "-l", str(folder / "log"), "-o",
                    f"-p {port} -k {sockets} -c listen_addresses=127.0.0.1 -c fsync=off", "start"],
                   check=True, capture_output=True)
    try:
        yield f"postgresql://surveyengine@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*runner, str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)


def _pg_table(dsn: str, csv: Path, name: str = "responses") -> None:
    import psycopg

    with duckdb.connect() as connection:
        schema = connection.execute(f"DESCRIBE SELECT * FROM read_csv('{csv}')").fetchall()
    types = {"BIGINT": "bigint", "DOUBLE": "double precision", "VARCHAR": "text", "DATE": "date"}
    columns = ", ".join(f'"{c[0]}" {types.get(c[1], "text")}' for c in schema)
    with psycopg.connect(dsn, autocommit=True) as connection:
        connection.execute(f'DROP TABLE IF EXISTS "{name}"')
        connection.execute(f'CREATE TABLE "{name}" ({columns})')
        with connection.cursor().copy(f'COPY "{name}" FROM STDIN WITH (FORMAT csv, HEADER true)') as copy:
            copy.write(csv.read_bytes())


def test_demo_statistics_from_postgres_equal_numpy(demo: Path, tmp_path: Path, postgres: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    _pg_table(postgres, demo / "data" / "responses.csv")
    monkeypatch.setenv("SE_PG", postgres)
    root = _engine_study(demo, tmp_path / "study", {"engine": "postgres", "env": "SE_PG", "table": "responses"})
    memory, engine = _summary(demo), _summary(root)
    assert_same_summary(memory, engine, "postgres:responses")


def test_random_data_through_postgres_equals_numpy(tmp_path: Path, postgres: str,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import psycopg

    rows = [{"respondent_id": f"R{k % 37}", "region": ["North", "South", "", "East"][k % 4],
             "date": ["2026-01-15", "2026-02", "bad"][k % 3],
             **{item: ["1", "5", "9", "7", "", "x", "3"][(k * m) % 7]
                for m, item in enumerate(("quality", "price", "staff", "speed", "overall"), start=1)},
             "complained": ["1", "2", "9", ""][k % 4], "age": ["34", "", "abc"][k % 3],
             "weight": ["1", "0.5", "2.25", "0"][k % 4], "comment": ["", "fine", "很好"][k % 3]}
            for k in range(120)]
    root = _mini(tmp_path / "mini", rows, {"validation": {"not_asked": "exclude"},
                                           "quality": {"straightlining_min_items": 2}})
    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS mini")
        connection.execute("CREATE TABLE mini (" + ", ".join(f'"{c}" text' for c in rows[0]) + ", row_no bigint)")
        with connection.cursor().copy("COPY mini FROM STDIN") as copy:
            for k, row in enumerate(rows):
                copy.write_row([*row.values(), k + 1])
    monkeypatch.chdir(root)
    memory = _summary(root)
    config = yaml.safe_load((root / "surveyengine.yaml").read_text())
    del config["data"]
    config["source"] = {"engine": "postgres", "env": "SE_PG", "table": "mini", "row_column": "row_no"}
    (root / "surveyengine.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("SE_PG", postgres)
    engine = _summary(root)
    assert_same_summary(memory, engine, "postgres:mini")


def test_postgres_engine_takes_a_fixed_number_of_queries(demo: Path, tmp_path: Path, postgres: str,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    from surveyengine import engines

    _pg_table(postgres, demo / "data" / "responses.csv")
    monkeypatch.setenv("SE_PG", postgres)
    root = _engine_study(demo, tmp_path / "study", {"engine": "postgres", "env": "SE_PG", "table": "responses"})
    seen: list[int] = []
    original = engines.Engine.close

    def close(self: Any) -> None:
        seen.append(self.queries)
        original(self)

    monkeypatch.setattr(engines.PostgresEngine, "close", close)
    _summary(root)
    banner_questions = {block["question"] for banner in yaml.safe_load((demo / "surveyengine.yaml").read_text())
                        ["banners"] for block in banner["columns"] if "question" in block}
    # whatever the number of segments, waves and items; one more per question that banner columns answer
    assert seen and seen[0] <= 13 + len(banner_questions), seen


# --------------------------------------------------------------------------- raking on aggregated margins

def _raking_rows(n: int = 240) -> list[dict[str, str]]:
    rng = np.random.default_rng(11)
    rows = []
    for k in range(n):
        region = ["North", "North", "South", "East"][int(rng.integers(0, 4))]
        rows.append({"respondent_id": f"R{k}", "region": region, "date": ["2026-01-15", "2026-02-03"][k % 2],
                     **{item: str(rng.integers(1, 6)) for item in ("quality", "price", "staff", "speed", "overall")},
                     "complained": "1" if rng.random() < (0.5 if region == "North" else 0.2) else "2",
                     "age": "40", "weight": ["1", "0.5", "2.25"][k % 3], "comment": ""})
    return rows


def _raking_study(root: Path, rows: list[dict[str, str]], within: bool = False) -> Path:
    root = _mini(root, rows, {})
    questionnaire = yaml.safe_load((root / "questionnaire.yaml").read_text())
    shares = [{"variable": "region", "shares": {"North": 0.3, "South": 0.4, "East": 0.3}},
              {"variable": "complained", "shares": {1: 0.25, 2: 0.75}}]
    if within:
        shares = [{**s, "within": "region"} for s in shares[1:]]
    questionnaire["weights"] = {"rake": shares}
    (root / "questionnaire.yaml").write_text(yaml.safe_dump(questionnaire, allow_unicode=True))
    return root


@pytest.mark.parametrize("within", [False, True])
def test_raking_through_duckdb_equals_numpy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, within: bool,
                                            duckdb_statistics: str) -> None:
    root = _raking_study(tmp_path / "rake", _raking_rows(), within)
    monkeypatch.chdir(root)
    memory, engine = _summary(root), _summary(root, "duckdb")
    assert memory.account["weighting"]["method"] == "rake"
    for key, value in memory.account["weighting"].items():  # Kish's numbers from the cells: equal to 1e-15
        assert engine.account["weighting"][key] == (pytest.approx(value, rel=1e-12) if isinstance(value, float)
                                                    else value), key
    engine.account["weighting"] = memory.account["weighting"]
    assert_same_summary(memory, engine)


def test_rows_without_a_raking_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      duckdb_statistics: str) -> None:
    """Streamed from DuckDB, a row that does not answer a raking item is excluded and listed as from files;
    with the rules in SQL (every other engine) it stops the build with a count."""
    rows = _raking_rows()
    rows[7]["complained"] = ""
    rows[200]["complained"] = ""
    root = _raking_study(tmp_path / "rake", rows, within=True)
    monkeypatch.chdir(root)
    if duckdb_statistics == "sql":
        with pytest.raises(DataError, match=r"2 used rows have no answer to a raking variable \(complained\)"):
            _summary(root, "duckdb")
        return
    memory, engine = _summary(root), _summary(root, "duckdb")
    assert memory.account["excluded_by_reason"] == {"complained: no answer to a raking variable": 2}
    for key, value in memory.account["weighting"].items():
        assert engine.account["weighting"][key] == (pytest.approx(value, rel=1e-12) if isinstance(value, float)
                                                    else value), key
    engine.account["weighting"] = memory.account["weighting"]
    assert_same_summary(memory, engine)


def test_speeding_through_duckdb_equals_numpy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The speeding check compares with the median duration of every kept row, which the stream finds in a
    pass of its own before the rows are counted: in batches of 50 rows, the same flags and exclusions."""
    from surveyengine.engines import stream

    rows = _raking_rows(300)
    rng = np.random.default_rng(5)
    for k, row in enumerate(rows):
        row["duration"] = "" if k % 37 == 0 else str(int(rng.integers(60, 900)))
    root = _mini(tmp_path / "speed", rows, {"quality": {"speeding": "exclude", "duration_column": "duration"}})
    monkeypatch.chdir(root)
    monkeypatch.setattr(stream, "BATCH_ROWS", 50)
    memory, engine = _summary(root), _summary(root, "duckdb")
    assert memory.account["excluded_by_reason"].get("quality: speeding", 0) > 0
    assert_same_summary(memory, engine)


def _postgres_source(root: Path, postgres: str, table: str, rows: list[dict[str, str]],
                     monkeypatch: pytest.MonkeyPatch) -> None:
    """``rows`` as the PostgreSQL table ``table`` (text columns and a row number), made the study's source."""
    import psycopg

    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute(f"DROP TABLE IF EXISTS {table}")
        connection.execute(f"CREATE TABLE {table} (" + ", ".join(f'"{c}" text' for c in rows[0]) + ", row_no bigint)")
        with connection.cursor().copy(f"COPY {table} FROM STDIN") as copy:
            for k, row in enumerate(rows):
                copy.write_row([*row.values(), k + 1])
    config = yaml.safe_load((root / "surveyengine.yaml").read_text())
    del config["data"]
    config["source"] = {"engine": "postgres", "env": "SE_PG", "table": table, "row_column": "row_no"}
    (root / "surveyengine.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.setenv("SE_PG", postgres)


def test_raking_through_postgres_equals_numpy(tmp_path: Path, postgres: str, monkeypatch: pytest.MonkeyPatch) -> None:
    rows = _raking_rows()
    root = _raking_study(tmp_path / "rake", rows, within=True)
    monkeypatch.chdir(root)
    memory = _summary(root)
    _postgres_source(root, postgres, "raking", rows, monkeypatch)
    engine = _summary(root)
    for key, value in memory.account["weighting"].items():
        assert engine.account["weighting"][key] == (pytest.approx(value, rel=1e-12) if isinstance(value, float)
                                                    else value), key
    engine.account["weighting"] = memory.account["weighting"]
    assert_same_summary(memory, engine, "postgres:raking")


# --------------------------------------------------------------------------- Spark

def test_spark_gets_the_fast_aggregate_forms(demo: Path) -> None:
    """The cell statistics as Spark runs them: FILTER / COUNT_IF and DOUBLE masks (engine_forms_spark)."""
    sqlglot = pytest.importorskip("sqlglot", reason="pip install 'surveyengine[spark]'")
    from surveyengine import stats
    from surveyengine.data import load_responses
    from surveyengine.engines.spark import spark_forms
    from surveyengine.stats import sql_backend

    pm = get_plugin_manager(entry_points=False)
    study = load_study(demo, pm)
    plan = stats.plan_for(study.questionnaire, load_responses(study, pm).items)
    duckdb_sql = sql_backend.cell_query(plan, sql_backend.Relation("used", 2, True))
    assert "AS INTEGER)" in duckdb_sql  # DuckDB's masked products
    spark_sql = spark_forms(sqlglot.transpile(duckdb_sql, read="duckdb", write="spark")[0])
    assert "AS INT)" not in spark_sql
    assert spark_sql.count("FILTER(WHERE") == len(plan.discrete) * plan.values + len(plan.gaps)
    assert spark_sql.count("COUNT_IF(") == len(plan.discrete) * plan.values
    assert "ELSE 1.0 END" not in spark_sql and "ELSE CAST(1.0 AS DOUBLE) END" in spark_sql


@pytest.fixture(scope="module")
def spark() -> Any:
    """One local Spark session (local[2], loopback only) for these tests: its JVM starts once, in about 7 s.
    Without pyspark or Java these tests skip, saying how to install them; under CI=true they fail instead."""
    message = None
    try:
        import pyspark  # noqa: F401
    except ImportError:
        message = "pyspark is not installed: pip install 'surveyengine[spark]' to run these tests"
    if message is None and shutil.which("java") is None and not os.environ.get("JAVA_HOME"):
        message = "Java is not installed: apt-get install openjdk-17-jre-headless (Debian) to run these tests"
    if message is not None:
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from surveyengine.engines.spark import local_session

    with socket.socket() as probe:  # the same JVM also serves Spark Connect, on a free loopback port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    session = local_session("local[2]", {"spark.plugins": "org.apache.spark.sql.connect.SparkConnectPlugin",
                                         "spark.connect.grpc.binding.address": "127.0.0.1",
                                         "spark.connect.grpc.binding.port": str(port)})
    session.connect_url = f"sc://127.0.0.1:{port}"  # type: ignore[attr-defined]
    try:
        yield session
    finally:
        session.stop()


def _spark_study(root: Path, rows: list[dict[str, str]], source: dict[str, Any], config: dict[str, Any]) -> Path:
    """The mini study from files, and the same study whose source is Spark."""
    _mini(root / "files", rows, config)
    engine = _mini(root / "spark", rows, config)
    settings_ = yaml.safe_load((engine / "surveyengine.yaml").read_text())
    del settings_["data"]
    settings_["source"] = source
    (engine / "surveyengine.yaml").write_text(yaml.safe_dump(settings_))
    return root


FIXED_ROWS = [{"respondent_id": f"R{k % 37}", "region": ["North", "South", "", "East"][k % 4],
               "date": ["2026-01-15", "2026-02", "bad"][k % 3],
               **{item: ["1", "5", "9", "7", "", "x", "3"][(k * m) % 7]
                  for m, item in enumerate(("quality", "price", "staff", "speed", "overall"), start=1)},
               "complained": ["1", "2", "9", ""][k % 4], "age": ["34", "", "abc"][k % 3],
               "weight": ["1", "0.5", "2.25", "0"][k % 4], "comment": ["", "fine", "很好"][k % 3]}
              for k in range(120)]


def _summary_in(root: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The summary of a study run from its folder, so that files are named as the study names them."""
    monkeypatch.chdir(root)
    return _summary(root)


def test_statistics_from_spark_parquet_equal_numpy(tmp_path: Path, spark: Any, monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    """Parquet read by Spark: every statistic, the row account, findings named by file and row, comments."""
    root = _spark_study(tmp_path, FIXED_ROWS, {"engine": "spark", "path": "data/responses.parquet"},
                        {"validation": {"not_asked": "exclude"}, "quality": {"straightlining_min_items": 2}})
    memory, engine = _summary_in(root / "files", monkeypatch), _summary_in(root / "spark", monkeypatch)
    assert_same_summary(memory, engine)
    assert engine.account["findings_by_rule"]["not_a_number"] > 0  # 'x' in a numeric column: a finding, no guess


def test_spark_with_speeding_runs_the_rules_in_sql(tmp_path: Path, spark: Any, monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    """A speeding check needs the median duration before any row counts: Spark then runs the rules and the
    statistics as SQL (engines/rules.py, stats/sql_backend.py), which must agree with the files too."""
    from surveyengine.engines import stream

    rows = [{**row, "duration": ["", "300", "40", "610", "95"][k % 5]} for k, row in enumerate(FIXED_ROWS)]
    root = _spark_study(tmp_path, rows, {"engine": "spark", "path": "data/responses.parquet"},
                        {"quality": {"speeding": "exclude", "duration_column": "duration",
                                     "straightlining_min_items": 2}})
    called = []
    monkeypatch.setattr(stream, "summarise_partitions", lambda *args: called.append(args))
    memory, engine = _summary_in(root / "files", monkeypatch), _summary_in(root / "spark", monkeypatch)
    assert not called and memory.account["excluded_by_reason"].get("quality: speeding")
    assert_same_summary(memory, engine)


def test_spark_partitions_settle_repeated_ids_and_merge_as_one_pass(tmp_path: Path, spark: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Rows split among several partitions (small row groups, small splits): ids repeated across partitions are
    settled on the driver in file and row order, partitions merge in data order, comments cut to the latest:
    the same summary as from the files."""
    import pyarrow.parquet as pq

    from surveyengine.engines.spark import MERGE_ON_DRIVER, SparkEngine

    root = _spark_study(tmp_path, FIXED_ROWS, {"engine": "spark", "path": "data/responses.parquet",
                                               "max_comments": 5},
                        {"validation": {"not_asked": "exclude"}, "quality": {"straightlining_min_items": 2}})
    table = pq.read_table(root / "spark" / "data" / "responses.parquet")
    pq.write_table(table, root / "spark" / "data" / "responses.parquet", row_group_size=16)
    payloads: list[int] = []
    original = SparkEngine.map_partitions

    def counted(self: Any, sql: str, function: Any, merge: Any) -> list[bytes]:
        found = original(self, sql, function, merge)
        payloads.append(self.partitions)
        return found

    monkeypatch.setattr(SparkEngine, "map_partitions", counted)
    spark.conf.set("spark.sql.files.maxPartitionBytes", "1024")
    spark.conf.set("spark.sql.files.openCostInBytes", "0")
    try:
        memory, engine = _summary_in(root / "files", monkeypatch), _summary_in(root / "spark", monkeypatch)
    finally:
        spark.conf.unset("spark.sql.files.maxPartitionBytes")
        spark.conf.unset("spark.sql.files.openCostInBytes")
    assert payloads and payloads[0] > MERGE_ON_DRIVER  # several partitions, merged by a worker first
    assert memory.account["excluded_by_reason"]  # repeated ids among them
    assert_same_summary_but_the_latest_comments(memory, engine, 5)


def test_spark_without_any_comment_gives_an_empty_comment_table(tmp_path: Path, spark: Any,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """Found by hypothesis: with no comment at all the partitions' empty tables were dropped, and the summary
    had no comment table where the build from files has an empty one."""
    rows = [{**row, "comment": ""} for row in FIXED_ROWS[:12]]
    root = _spark_study(tmp_path, rows, {"engine": "spark", "path": "data/responses.parquet"}, {})
    memory, engine = _summary_in(root / "files", monkeypatch), _summary_in(root / "spark", monkeypatch)
    assert memory.comments is not None and len(memory.comments) == 0
    assert_same_summary(memory, engine)


def test_statistics_from_a_spark_table_equal_numpy(tmp_path: Path, spark: Any) -> None:
    """A table (here a temporary view of this session) with a column numbering the rows for messages."""
    root = _spark_study(tmp_path, FIXED_ROWS, {"engine": "spark", "table": "mini_responses", "row_column": "row_no"},
                        {"quality": {"straightlining_min_items": 2}})
    from pyspark.sql import functions

    frame = spark.read.parquet(str(root / "files" / "data" / "responses.parquet"))
    frame.withColumn("row_no", functions.monotonically_increasing_id() + 1).createOrReplaceTempView("mini_responses")
    memory, engine = _summary(root / "files"), _summary(root / "spark")
    assert_same_summary(memory, engine, "spark:mini_responses")


@settings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=samples(), policy=st.sampled_from(["missing", "exclude"]))
def test_random_data_through_spark_equals_numpy(tmp_path: Path, spark: Any, monkeypatch: pytest.MonkeyPatch,
                                                rows: list[dict[str, str]], policy: str) -> None:
    root = _spark_study(tmp_path / f"s{abs(hash(str(rows))) % 10**8}", rows,
                        {"engine": "spark", "path": "data/responses.parquet"},
                        {"validation": {"out_of_range": policy, "not_a_number": policy, "unknown_code": policy,
                                        "not_asked": policy, "unexpected_column": "warn"},
                         "quality": {"straightlining": "exclude", "straightlining_min_items": 2}})
    try:
        memory = _summary_in(root / "files", monkeypatch)
    except DataError as error:  # nothing usable: the engine says so too
        with pytest.raises(DataError) as raised:
            _summary_in(root / "spark", monkeypatch)
        assert "no usable responses" in str(error) and "no usable responses" in str(raised.value)
        return
    assert_same_summary(memory, _summary_in(root / "spark", monkeypatch))


def test_statistics_through_spark_connect_equal_numpy(tmp_path: Path, spark: Any,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The same pass through a Spark Connect client (the test session's JVM serves it)."""
    root = _spark_study(tmp_path, FIXED_ROWS, {"engine": "spark", "env": "SE_SPARK", "table": "connect_rows",
                                               "row_column": "row_no"}, {"quality": {"straightlining_min_items": 2}})
    from pyspark.sql import functions

    frame = spark.read.parquet(str(root / "files" / "data" / "responses.parquet"))
    frame.withColumn("row_no", functions.monotonically_increasing_id() + 1).createOrReplaceGlobalTempView(
        "connect_rows")
    monkeypatch.setenv("SE_SPARK", spark.connect_url)
    config = yaml.safe_load((root / "spark" / "surveyengine.yaml").read_text())
    config["source"]["table"] = "global_temp.connect_rows"  # a Connect session sees global views, not ours
    (root / "spark" / "surveyengine.yaml").write_text(yaml.safe_dump(config))
    memory, engine = _summary(root / "files"), _summary(root / "spark")
    assert_same_summary(memory, engine, "spark:global_temp.connect_rows")


def test_spark_errors_name_the_source(tmp_path: Path, spark: Any) -> None:
    rows = [{k: v for k, v in row.items() if k != "region"} for row in FIXED_ROWS]
    root = _spark_study(tmp_path, FIXED_ROWS, {"engine": "spark", "table": "no_region"}, {})
    spark.createDataFrame(rows).createOrReplaceTempView("no_region")
    with pytest.raises(DataError, match=r"missing column 'region'") as error:
        _summary(root / "spark")
    assert error.value.location.path == "spark:no_region"
    config = yaml.safe_load((root / "spark" / "surveyengine.yaml").read_text())
    config["source"]["table"] = "responsez"
    (root / "spark" / "surveyengine.yaml").write_text(yaml.safe_dump(config))
    with pytest.raises(DataError, match="spark:responsez.*responsez"):
        _summary(root / "spark")


def test_spark_connect_refused_keeps_the_token_out(demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                   ) -> None:
    pytest.importorskip("pyspark", reason="pip install 'surveyengine[spark]'")
    with socket.socket() as probe:  # a port nobody listens on: the connection is refused
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("SE_SPARK", f"sc://127.0.0.1:{port}/;token=s3cret-token")
    root = _engine_study(demo, tmp_path / "study", {"engine": "spark", "env": "SE_SPARK", "table": "responses"})
    with pytest.raises(DataError) as error:
        _summary(root)
    assert "s3cret-token" not in str(error.value) and "cannot connect" in str(error.value)
    assert "spark:responses" in str(error.value) and "refused" in str(error.value)


def test_build_from_spark_gives_the_same_results(tmp_path: Path, spark: Any, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:
    from click.testing import CliRunner

    from surveyengine.cli import cli

    root = _spark_study(tmp_path, FIXED_ROWS, {"engine": "spark", "path": "data/responses.parquet"},
                        {"output": {"formats": ["json"]}, "quality": {"straightlining_min_items": 2}})
    for folder in (root / "files", root / "spark"):
        monkeypatch.chdir(folder)  # files named as the study names them: data/responses.parquet in both
        result = CliRunner().invoke(cli, ["build", ".", "--quiet", "--no-cache"])
        assert result.exit_code == 0, result.output
    files = json.loads((root / "files" / "site" / "results.json").read_text())
    engine = json.loads((root / "spark" / "site" / "results.json").read_text())
    _numbers_close(files, engine)


@pytest.mark.slow
def test_demo_statistics_from_spark_equal_numpy(demo: Path, tmp_path: Path, spark: Any) -> None:
    """The demo study through Spark's Python workers (the numpy pass per partition, like DuckDB's stream, so the
    cross-products are float32 products as in memory: equal to 1e-6, not float64-exact as SQL sums are)."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    pq.write_table(pacsv.read_csv(demo / "data" / "responses.csv"), tmp_path / "responses.parquet")
    root = _engine_study(demo, tmp_path / "study", {"engine": "spark", "path": "../responses.parquet"})
    memory, engine = _summary(demo), _summary(root)
    assert_same_summary(memory, engine, next(iter(engine.account["files"])))


def test_a_build_from_postgres_leaves_a_users_table_named_clean_alone(tmp_path: Path, postgres: str,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """The rules' temporary table is called 'clean'; a permanent table of that name is the user's."""
    import psycopg

    rows = _raking_rows(40)
    root = _mini(tmp_path / "study", rows, {})
    with psycopg.connect(postgres, autocommit=True) as connection:
        connection.execute("DROP TABLE IF EXISTS clean")
        connection.execute("CREATE TABLE clean (kept text)")
        connection.execute("INSERT INTO clean VALUES ('mine')")
    _postgres_source(root, postgres, "answers", rows, monkeypatch)
    monkeypatch.chdir(root)
    for _ in range(2):  # twice: the second build must not find the first's table either
        assert _summary(root).account["rows_used"] == 40
    with psycopg.connect(postgres, autocommit=True) as connection:
        assert connection.execute("SELECT kept FROM clean").fetchall() == [("mine",)]
        connection.execute("DROP TABLE clean")


def test_engine_auto_streams_big_parquet_through_duckdb_and_caches(tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    """``--engine auto`` (the default) reads Parquet files above the size limit through DuckDB, small ones in
    memory; files read by DuckDB are cached like files read in memory, under a key of their own (DuckDB keeps
    only the latest comments)."""
    from click.testing import CliRunner

    from surveyengine import build
    from surveyengine.cli import cli

    root = _raking_study(tmp_path / "auto", _raking_rows())
    config = yaml.safe_load((root / "surveyengine.yaml").read_text())
    config["output"] = {"formats": ["json"]}
    (root / "surveyengine.yaml").write_text(yaml.safe_dump(config))
    monkeypatch.chdir(root)

    def run() -> str:
        result = CliRunner().invoke(cli, ["build", "."])
        assert result.exit_code == 0, result.output
        return result.output

    first = run()
    assert "through duckdb" not in first and "reading responses" in first
    in_memory = json.loads((root / "site" / "results.json").read_text())
    monkeypatch.setattr(build, "AUTO_DUCKDB_BYTES", 0)
    second = run()
    assert "reading the Parquet files through duckdb" in second and "using the cache" not in second
    assert "statistics unchanged: using the cache" in run()
    streamed = json.loads((root / "site" / "results.json").read_text())
    for results in (in_memory, streamed):
        del results["generated"]
    _numbers_close(in_memory, streamed)


def test_validate_through_duckdb_gives_the_account_from_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                              ) -> None:
    from click.testing import CliRunner

    from surveyengine.cli import cli

    rows = _raking_rows()
    rows[3]["quality"] = "7"
    rows[5]["respondent_id"] = rows[4]["respondent_id"]
    root = _mini(tmp_path / "validate", rows, {"validation": {"out_of_range": "exclude"}})
    monkeypatch.chdir(root)
    reports = []
    for engine in ("memory", "duckdb"):
        result = CliRunner().invoke(cli, ["validate", ".", "--format", "json", "--engine", engine])
        assert result.exit_code == 0, result.output
        reports.append(json.loads(result.stdout))
    memory, streamed = reports
    assert memory["account"]["rows_excluded"] == 2 and memory["account"]["exclusions"]
    assert streamed == memory
