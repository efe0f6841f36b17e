"""Reading response data: encodings, delimiters, validation, exclusions and the account of every row.

Every test builds a real study in ``tmp_path`` from the tiny questionnaire and CSV in
``tests/data/data/`` and reads it through the plugin manager, as ``surveyengine build`` does.
"""

from __future__ import annotations

import csv
import io
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from surveyengine.data import Exclusion, Responses, load_responses
from surveyengine.errors import DataError
from surveyengine.plugins import get_plugin_manager
from surveyengine.study import load_study

DATA = Path(__file__).parent / "data" / "data"
RESPONSES = Path("data") / "responses.csv"
ITEMS = ("quality", "price", "staff", "speed", "overall", "complained", "age")
NAN = np.nan
# tests/data/data/responses.csv as read: price of R2 is 9 and complained of R5 is 9 (missing codes)
EXPECTED = np.array([
    [5, 4, 5, 4, 5, 2, 34],
    [3, NAN, 4, NAN, 4, 1, 51],
    [1, 2, 2, 1, 2, 1, NAN],
    [4, 4, 5, 5, 5, 2, 29],
    [2, 3, 3, 2, 3, NAN, 62],
])
COMMENTS = ["Great, friendly staff", '等了很久。\n第二行 "引号"', "<b>bold</b>", "", 'He said "no", twice\nand left']


@pytest.fixture(scope="module")
def pm():
    return get_plugin_manager(entry_points=False)


def sample_rows() -> list[list[str]]:
    with open(DATA / "responses.csv", encoding="utf-8", newline="") as handle:
        return [list(row) for row in csv.reader(handle)]


def to_csv(rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def set_cell(rows: list[list[str]], respondent: str, column: str, value: str) -> list[list[str]]:
    rows = [list(r) for r in rows]
    index = rows[0].index(column)
    next(r for r in rows[1:] if r[0] == respondent)[index] = value
    return rows


def make_study(root: Path, files: dict[str, str | bytes] | None = None, *, config_extra: str = "",
               frequency: str = "month", pattern: str = "data/*.csv") -> Path:
    """A study folder: the mini questionnaire, its config and the given data files (default: the sample)."""
    root.mkdir(parents=True, exist_ok=True)
    questionnaire = (DATA / "questionnaire.yaml").read_text(encoding="utf-8")
    assert "frequency: month" in questionnaire
    (root / "questionnaire.yaml").write_text(questionnaire.replace("frequency: month", f"frequency: {frequency}"),
                                             encoding="utf-8")
    config = (DATA / "surveyengine.yaml").read_text(encoding="utf-8")
    assert "data/*.csv" in config
    (root / "surveyengine.yaml").write_text(config.replace("data/*.csv", pattern) + config_extra, encoding="utf-8")
    data = root / "data"
    if data.exists():
        shutil.rmtree(data)
    data.mkdir()
    if files is None:
        shutil.copyfile(DATA / "responses.csv", data / "responses.csv")
    for name, content in (files or {}).items():
        target = data / name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            target.write_text(content, encoding="utf-8", newline="")
    return root


def read(root: Path, pm) -> Responses:
    return load_responses(load_study(root, pm), pm)


def assert_account_adds_up(responses: Responses) -> None:
    account = responses.account()
    assert account["rows_read"] == account["rows_used"] + account["rows_excluded"]
    assert account["rows_used"] == responses.n
    assert sum(f["read"] for f in account["files"].values()) == account["rows_read"]
    for name, per_file in account["files"].items():
        excluded = sum(1 for e in responses.exclusions if e.file == name)
        assert per_file["read"] == per_file["used"] + per_file["excluded"], name
        assert per_file["excluded"] == excluded, name


# ---------------------------------------------------------------------------------------- reading


def test_sample_is_read_into_the_documented_layout(tmp_path: Path, pm, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    responses = read(make_study(tmp_path), pm)
    assert responses.items == ITEMS
    assert responses.answers.dtype == np.float32  # small whole numbers: exact, half the memory of float64
    np.testing.assert_array_equal(responses.answers, EXPECTED)
    assert responses.ids.tolist() == ["R1", "R2", "R3", "R4", "R5"]
    assert responses.segment_labels == {"region": ["East", "North", "South"]}
    assert responses.segments["region"].tolist() == [1, 2, 1, 2, 0]
    assert responses.wave_labels == ["2025-12", "2026-01", "2026-02", "2026-03"]
    assert responses.wave is not None and responses.wave.tolist() == [1, 2, 3, 3, 0]
    assert responses.weights is None
    assert responses.text["comment"].tolist() == COMMENTS
    assert responses.files == [str(RESPONSES)]
    assert responses.source_row.tolist() == [2, 3, 4, 5, 6]
    assert responses.exclusions == [] and responses.findings == []
    assert responses.account()["rows_read"] == 5


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "gb18030"])
def test_encodings_read_back_to_identical_arrays(tmp_path: Path, pm, encoding: str) -> None:
    reference = read(make_study(tmp_path / "reference"), pm)
    content = (DATA / "responses.csv").read_text(encoding="utf-8").encode(encoding)
    if encoding == "utf-8-sig":
        assert content.startswith(b"\xef\xbb\xbf")
    if encoding == "gb18030":
        with pytest.raises(UnicodeDecodeError):
            content.decode("utf-8")  # the reader really has to fall back
    responses = read(make_study(tmp_path / encoding, {"responses.csv": content}), pm)
    assert responses.items == reference.items
    np.testing.assert_array_equal(responses.answers, reference.answers)
    assert responses.ids.tolist() == reference.ids.tolist()
    assert responses.segment_labels == reference.segment_labels
    assert responses.wave_labels == reference.wave_labels
    assert responses.text["comment"].tolist() == COMMENTS


@pytest.mark.parametrize(("delimiter", "name"), [(";", "responses.csv"), ("\t", "responses.csv"),
                                                 ("\t", "responses.tsv"), ("|", "responses.txt")])
def test_delimiter_is_sniffed(tmp_path: Path, pm, delimiter: str, name: str) -> None:
    rows = set_cell(sample_rows(), "R4", "comment", "a; b\tc | d, e")
    responses = read(make_study(tmp_path, {name: to_csv(rows, delimiter)}, pattern="data/*"), pm)
    assert responses.files[0].endswith(name)
    np.testing.assert_array_equal(responses.answers, EXPECTED)
    assert responses.text["comment"].tolist() == COMMENTS[:3] + ["a; b\tc | d, e"] + COMMENTS[4:]


def test_declared_delimiter_and_encoding_are_used(tmp_path: Path, pm) -> None:
    content = to_csv(sample_rows(), ";").encode("gb18030")
    extra = "\n".join(["data:", "  - path: data/*.csv", "    delimiter: ';'", "    encoding: gb18030", ""])
    root = make_study(tmp_path, {"responses.csv": content})
    config = (root / "surveyengine.yaml").read_text(encoding="utf-8").replace("data:\n  - data/*.csv\n", extra)
    (root / "surveyengine.yaml").write_text(config, encoding="utf-8")
    responses = read(root, pm)
    np.testing.assert_array_equal(responses.answers, EXPECTED)
    assert responses.text["comment"].tolist() == COMMENTS


def test_multiline_quoted_comments_survive(tmp_path: Path, pm, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    comment = "line one\nline two, with a comma\r\n\"quoted\" 第三行\n\n"
    rows = set_cell(sample_rows(), "R1", "comment", comment)
    rows = set_cell(rows, "R1", "quality", "oops")  # a finding on the row of a multi-line record
    responses = read(make_study(tmp_path, {"responses.csv": to_csv(rows)}), pm)
    assert responses.n == 5 and responses.account()["rows_read"] == 5
    assert responses.texts("comment")[0] == comment
    assert responses.text["comment"].tolist()[1:] == COMMENTS[1:]
    assert [(p.location.row, p.location.column) for p in responses.findings] == [(2, "quality")]
    np.testing.assert_array_equal(responses.answers[1:], EXPECTED[1:])


def test_ids_and_codes_are_text(tmp_path: Path, pm) -> None:
    """Leading zeros are kept: '007' and '7' are different respondents, '0101' is not dealer 101."""
    rows = set_cell(sample_rows(), "R1", "respondent_id", "007")
    rows = set_cell(rows, "R2", "respondent_id", "7")
    rows = set_cell(rows, "R3", "respondent_id", "3")
    rows = set_cell(rows, "R4", "respondent_id", "4")
    rows = set_cell(rows, "R5", "respondent_id", "5")
    for respondent, region in zip(("007", "7", "3", "4", "5"), ("0101", "101", "0101", "101", "0101")):
        rows = set_cell(rows, respondent, "region", region)
    responses = read(make_study(tmp_path, {"responses.csv": to_csv(rows)}), pm)
    assert responses.exclusions == []
    assert responses.ids.tolist() == ["007", "7", "3", "4", "5"]
    assert responses.segment_labels["region"] == ["0101", "101"]


def test_segment_units_are_trimmed_labels_of_the_rows_used(tmp_path: Path, pm) -> None:
    """' North ' is unit North; a unit seen only on an excluded row (bad wave) is no unit, in CSV and Parquet."""
    rows = set_cell(sample_rows(), "R1", "region", " North ")
    rows = set_cell(rows, "R2", "region", "West")
    rows = set_cell(rows, "R2", "date", "junk")
    csv_responses = read(make_study(tmp_path / "csv", {"responses.csv": to_csv(rows)}), pm)
    table = pa.table({name: [row[k] for row in rows[1:]] for k, name in enumerate(rows[0])})
    parquet = make_study(tmp_path / "parquet", {}, pattern="data/*.parquet")
    pq.write_table(table, parquet / "data" / "responses.parquet")
    for responses in (csv_responses, read(parquet, pm)):
        assert [e.reason for e in responses.exclusions] == ["wave is not a date or a month"]
        assert responses.segment_labels["region"] == ["East", "North", "South"]
        assert [responses.segment_labels["region"][c] for c in responses.segments["region"]] == [
            "North", "North", "South", "East"]


def test_a_file_with_only_its_header_adds_no_rows(tmp_path: Path, pm) -> None:
    header = to_csv(sample_rows()[:1])
    responses = read(make_study(tmp_path / "two", {"a.csv": to_csv(sample_rows()), "b.csv": header}), pm)
    files = responses.account()["files"]
    assert responses.n == 5 and [files[name] for name in files if name.endswith("b.csv")] == [
        {"read": 0, "used": 0, "excluded": 0}]
    np.testing.assert_array_equal(responses.answers, EXPECTED)
    with pytest.raises(DataError, match="no usable responses"):
        read(make_study(tmp_path / "one", {"b.csv": header}), pm)


# ------------------------------------------------------------------------------- errors, findings


def test_missing_column_names_file_column_and_suggestion(tmp_path: Path, pm, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    rows = sample_rows()
    rows[0][rows[0].index("staff")] = "staf"
    with pytest.raises(DataError) as caught:
        read(make_study(tmp_path, {"responses.csv": to_csv(rows)}), pm)
    error = caught.value
    assert error.location.path == str(RESPONSES)
    assert error.location.row == 1
    assert "missing column 'staff'" in error.message
    assert "did you mean 'staf'" in error.message
    assert str(error).startswith(f"{RESPONSES}, row 1, column staff: ")


def test_every_missing_column_is_named(tmp_path: Path, pm) -> None:
    rows = [[cell for k, cell in enumerate(row) if k not in (3, 8)] for row in sample_rows()]  # quality, complained
    with pytest.raises(DataError) as caught:
        read(make_study(tmp_path, {"responses.csv": to_csv(rows)}), pm)
    assert "'quality'" in caught.value.message and "'complained'" in caught.value.message


@pytest.mark.parametrize(("respondent", "column", "value", "row", "why"), [
    ("R3", "quality", "good", 4, "not a number"),
    ("R1", "staff", "4 stars", 2, "not a number"),
    ("R1", "age", "thirty", 2, "not a number"),
    ("R4", "age", "inf", 5, "not a number"),
    ("R4", "quality", "nan", 5, "not a number"),
    ("R1", "price", "7", 2, "outside scale 1-5"),
    ("R5", "speed", "0", 6, "outside scale 1-5"),
    ("R4", "overall", "3.5", 5, "outside scale 1-5"),
    ("R2", "complained", "3", 3, "not a code of choice list 'yesno'"),
])
def test_bad_value_is_set_missing_with_a_problem(tmp_path: Path, pm, monkeypatch, respondent: str, column: str,
                                                  value: str, row: int, why: str) -> None:
    monkeypatch.chdir(tmp_path)
    rows = set_cell(sample_rows(), respondent, column, value)
    responses = read(make_study(tmp_path, {"responses.csv": to_csv(rows)}), pm)
    expected = EXPECTED.copy()
    expected[row - 2, ITEMS.index(column)] = np.nan
    np.testing.assert_array_equal(responses.answers, expected)
    assert responses.n == 5 and responses.exclusions == []  # the row is still used
    assert responses.findings_total == 1
    (problem,) = responses.findings
    assert problem.location.path == str(RESPONSES)
    assert problem.location.row == row
    assert problem.location.column == column
    assert problem.severity == "warning"
    # text quoted, numbers as numbers (a typed reader has already read 'inf' as the number inf)
    shown = repr(value) if why == "not a number" and value != "inf" else value
    assert problem.message == f"{shown} {why}; answer set missing"
    assert str(problem).startswith(f"{RESPONSES}, row {row}, column {column}: ")
    assert responses.account()["answers_set_missing"] == 1


def test_duplicate_respondent_id_is_excluded_where_it_repeats(tmp_path: Path, pm, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    rows = set_cell(sample_rows(), "R4", "respondent_id", "R1")
    responses = read(make_study(tmp_path, {"responses.csv": to_csv(rows)}), pm)
    assert responses.exclusions == [Exclusion(str(RESPONSES), 5, "respondent_id", responses.exclusions[0].reason)]
    assert "duplicate" in responses.exclusions[0].reason and "R1" in responses.exclusions[0].reason
    assert responses.ids.tolist() == ["R1", "R2", "R3", "R5"]
    np.testing.assert_array_equal(responses.answers, EXPECTED[[0, 1, 2, 4]])  # the first occurrence is used
    assert responses.source_row.tolist() == [2, 3, 4, 6]
    assert_account_adds_up(responses)


def test_duplicate_across_files_names_the_second_file(tmp_path: Path, pm, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    rows = sample_rows()
    second = [rows[0], set_cell(rows, "R5", "respondent_id", "R9")[5], rows[2]]  # R9 new, R2 again
    responses = read(make_study(tmp_path, {"a.csv": to_csv(rows), "b.csv": to_csv(second)}), pm)
    b = str(Path("data") / "b.csv")
    assert [(e.file, e.row, e.column) for e in responses.exclusions] == [(b, 3, "respondent_id")]
    assert responses.ids.tolist() == ["R1", "R2", "R3", "R4", "R5", "R9"]
    assert responses.files == [str(Path("data") / "a.csv"), b]
    assert responses.source_file.tolist() == [0, 0, 0, 0, 0, 1]
    account = responses.account()
    assert account["files"][b] == {"read": 2, "used": 1, "excluded": 1}
    assert account["rows_read"] == 7
    assert_account_adds_up(responses)


@pytest.mark.parametrize(("respondent", "column", "value", "reason"), [
    ("R2", "respondent_id", "", "missing respondent id"),
    ("R2", "respondent_id", "   ", "missing respondent id"),
    ("R3", "region", "", "no region"),
    ("R4", "date", "soon", "wave"),
    ("R4", "date", "2026-13-01", "wave"),
    ("R5", "date", "", "wave"),
])
def test_row_without_id_segment_or_wave_is_excluded(tmp_path: Path, pm, monkeypatch, respondent: str, column: str,
                                                     value: str, reason: str) -> None:
    monkeypatch.chdir(tmp_path)
    row = int(respondent[1:]) + 1
    rows = set_cell(sample_rows(), respondent, column, value)
    responses = read(make_study(tmp_path, {"responses.csv": to_csv(rows)}), pm)
    (exclusion,) = responses.exclusions
    assert (exclusion.file, exclusion.row, exclusion.column) == (str(RESPONSES), row, column)
    assert reason in exclusion.reason
    assert exclusion.as_dict() == {"file": str(RESPONSES), "row": row, "column": column, "reason": exclusion.reason,
                                   "rule": exclusion.rule, "kind": "error"}
    assert responses.n == 4 and row not in responses.source_row.tolist()
    account = responses.account()
    assert account["excluded_by_reason"] == {exclusion.reason: 1}
    assert_account_adds_up(responses)


def test_a_row_with_several_faults_is_excluded_once(tmp_path: Path, pm) -> None:
    rows = set_cell(sample_rows(), "R2", "region", "")
    rows = set_cell(rows, "R2", "date", "never")
    rows = set_cell(rows, "R3", "respondent_id", "R2")  # would duplicate R2, but R2 is excluded
    responses = read(make_study(tmp_path, {"responses.csv": to_csv(rows)}), pm)
    assert [(e.row, e.reason) for e in responses.exclusions] == [(3, "no region")]
    assert responses.ids.tolist() == ["R1", "R2", "R4", "R5"]
    assert_account_adds_up(responses)


def test_all_rows_excluded_is_an_error(tmp_path: Path, pm) -> None:
    rows = [row[:1] + [""] + row[2:] if k else row for k, row in enumerate(sample_rows())]
    with pytest.raises(DataError, match="no usable responses"):
        read(make_study(tmp_path, {"responses.csv": to_csv(rows)}), pm)


def test_account_adds_up_per_file(tmp_path: Path, pm, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    rows = sample_rows()
    a = set_cell(set_cell(rows, "R2", "region", ""), "R3", "date", "x")
    b = [rows[0]] + [[f"S{k}"] + row[1:] for k, row in enumerate(rows[1:])] + [rows[1]]  # R1 again: duplicate
    responses = read(make_study(tmp_path, {"a.csv": to_csv(a), "b.csv": to_csv(b)}), pm)
    account = responses.account()
    assert account["rows_read"] == 11
    assert account["rows_used"] == 8
    assert account["rows_excluded"] == 3
    assert account["files"] == {
        str(Path("data") / "a.csv"): {"read": 5, "used": 3, "excluded": 2},
        str(Path("data") / "b.csv"): {"read": 6, "used": 5, "excluded": 1},
    }
    assert sum(account["excluded_by_reason"].values()) == 3
    assert_account_adds_up(responses)


def test_a_file_matched_by_two_data_entries_is_read_once(tmp_path: Path, pm) -> None:
    root = make_study(tmp_path, config_extra="")
    config = (root / "surveyengine.yaml").read_text(encoding="utf-8")
    config = config.replace("  - data/*.csv\n", "  - data/*.csv\n  - data/responses.csv\n")
    (root / "surveyengine.yaml").write_text(config, encoding="utf-8")
    responses = read(root, pm)
    assert len(responses.files) == 1
    assert responses.rows_read == 5 and responses.n == 5 and responses.exclusions == []
    assert_account_adds_up(responses)


# ---------------------------------------------------------------------------------- missing codes


def test_scale_and_choice_missing_codes_become_nan_without_a_problem(tmp_path: Path, pm) -> None:
    rows = set_cell(sample_rows(), "R1", "quality", "9")
    responses = read(make_study(tmp_path, {"responses.csv": to_csv(rows)}), pm)
    assert np.isnan(responses.answers[0, ITEMS.index("quality")])
    assert np.isnan(responses.answers[1, ITEMS.index("price")])  # 9 in the sample
    assert np.isnan(responses.answers[4, ITEMS.index("complained")])  # choice list missing code 9
    assert responses.findings == [] and responses.findings_total == 0


def test_scale_missing_code_is_not_missing_for_a_number_item(tmp_path: Path, pm) -> None:
    rows = set_cell(sample_rows(), "R1", "age", "9")
    responses = read(make_study(tmp_path, {"responses.csv": to_csv(rows)}), pm)
    assert responses.answers[0, ITEMS.index("age")] == 9


def test_config_missing_codes_become_nan_in_every_column(tmp_path: Path, pm) -> None:
    rows = set_cell(sample_rows(), "R1", "quality", "-1")
    rows = set_cell(rows, "R1", "age", "-1")
    rows = set_cell(rows, "R3", "complained", "-1")
    rows = set_cell(rows, "R4", "staff", "NA")
    rows = set_cell(rows, "R4", "age", " NA ")
    rows = set_cell(rows, "R5", "overall", "x")  # not declared: still a problem
    root = make_study(tmp_path, {"responses.csv": to_csv(rows)}, config_extra="missing_codes: [-1, NA]\n")
    responses = read(root, pm)
    expected = EXPECTED.copy()
    for row, column in ((0, "quality"), (0, "age"), (2, "complained"), (3, "staff"), (3, "age"), (4, "overall")):
        expected[row, ITEMS.index(column)] = np.nan
    np.testing.assert_array_equal(responses.answers, expected)
    assert [(p.location.row, p.location.column) for p in responses.findings] == [(6, "overall")]


def test_without_declared_missing_codes_they_are_problems(tmp_path: Path, pm) -> None:
    rows = set_cell(sample_rows(), "R1", "quality", "-1")
    rows = set_cell(rows, "R4", "staff", "NA")
    responses = read(make_study(tmp_path, {"responses.csv": to_csv(rows)}), pm)
    assert sorted((p.location.row, p.location.column) for p in responses.findings) == [(2, "quality"), (5, "staff")]


# ------------------------------------------------------------------------------------------ waves


@pytest.mark.parametrize(("frequency", "label"), [("month", "2026-03"), ("quarter", "2026-Q1"), ("year", "2026")])
@pytest.mark.parametrize("date", ["2026-03-15", "2026-03-15T09:30:00", " 2026-03-15 "])
def test_dates_are_bucketed_into_periods(tmp_path: Path, pm, frequency: str, label: str, date: str) -> None:
    rows = set_cell(sample_rows(), "R1", "date", date)
    responses = read(make_study(tmp_path, {"responses.csv": to_csv(rows)}, frequency=frequency), pm)
    assert responses.exclusions == []
    assert responses.wave is not None
    assert responses.wave_labels[responses.wave[0]] == label


@pytest.mark.parametrize(("frequency", "expected"), [
    ("month", ["2025-12", "2026-01", "2026-02", "2026-03"]),
    ("quarter", ["2025-Q4", "2026-Q1"]),
    ("year", ["2025", "2026"]),
])
def test_wave_labels_are_sorted_periods(tmp_path: Path, pm, frequency: str, expected: list[str]) -> None:
    responses = read(make_study(tmp_path, frequency=frequency), pm)
    assert responses.wave_labels == expected
    dates = ["2026-01-15", "2026-02-03", "2026-03-31", "2026-03-01", "2025-12-24"]  # the sample's
    cut = {"month": 7, "quarter": 4, "year": 4}[frequency]
    quarter = {"01": "Q1", "02": "Q1", "03": "Q1", "12": "Q4"}
    wanted = [d[:cut] + ("-" + quarter[d[5:7]] if frequency == "quarter" else "") for d in dates]
    assert [responses.wave_labels[w] for w in responses.wave] == wanted


@pytest.mark.parametrize(("frequency", "period", "label"), [
    ("month", "2026-03", "2026-03"), ("quarter", "2026-03", "2026-Q1"), ("year", "2026-03", "2026"),
    ("quarter", "2026-Q1", "2026-Q1"), ("quarter", "2026Q4", "2026-Q4"), ("year", "2026-Q2", "2026"),
    ("year", "2026", "2026"),
])
def test_periods_are_read_as_periods(tmp_path: Path, pm, frequency: str, period: str, label: str) -> None:
    rows = set_cell(sample_rows(), "R1", "date", period)
    responses = read(make_study(tmp_path, {"responses.csv": to_csv(rows)}, frequency=frequency), pm)
    assert responses.exclusions == []
    assert responses.wave_labels[responses.wave[0]] == label


# ------------------------------------------------------------------------------------ property


NOT_NUMBERS = ("abc", "five", "x1", "--", "好", "4 stars", "1,5", "#")
OUT_OF_RANGE = ("0", "6", "7", "3.5", "-2", "100")
SCALED = ("quality", "price", "staff", "speed", "overall")


def _base_rows(n: int) -> list[list[str]]:
    header = sample_rows()[0]
    rows = [header]
    for k in range(n):
        rows.append([f"R{k + 1}", ("North", "South", "East")[k % 3], f"2026-0{k % 9 + 1}-1{k % 10}",
                     *[str((k * (j + 2)) % 5 + 1) for j in range(5)], str(k % 2 + 1), str(20 + k),
                     f"comment {k}\nsecond line" if k % 4 == 0 else ""])
    return rows


corruption = st.one_of(
    st.tuples(st.just("cell"), st.integers(0, 99), st.sampled_from(ITEMS), st.sampled_from(NOT_NUMBERS)),
    st.tuples(st.just("cell"), st.integers(0, 99), st.sampled_from(SCALED), st.sampled_from(OUT_OF_RANGE)),
    st.tuples(st.just("cell"), st.integers(0, 99), st.sampled_from(ITEMS), st.just("")),
    st.tuples(st.just("blank id"), st.integers(0, 99), st.just(""), st.just("")),
    st.tuples(st.just("duplicate id"), st.integers(0, 99), st.integers(0, 99), st.just("")),
    st.tuples(st.just("blank segment"), st.integers(0, 99), st.just(""), st.just("")),
    st.tuples(st.just("bad wave"), st.integers(0, 99), st.just(""), st.sampled_from(("later", "2026-13", "Q3"))),
)


@pytest.fixture(scope="module")
def property_study(tmp_path_factory: pytest.TempPathFactory, pm):
    root = make_study(tmp_path_factory.mktemp("property") / "study")
    return load_study(root, pm)


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(n=st.integers(1, 12), corruptions=st.lists(corruption, max_size=12))
def test_property_every_row_is_used_or_excluded_exactly_once(property_study, pm, n, corruptions) -> None:
    rows = _base_rows(n)
    header = rows[0]
    for kind, target, what, value in corruptions:
        row = rows[1 + target % n]
        if kind == "cell":
            row[header.index(what)] = value
        elif kind == "blank id":
            row[0] = ""
        elif kind == "duplicate id":
            row[0] = rows[1 + what % n][0]
        elif kind == "blank segment":
            row[1] = ""
        else:
            row[2] = value
    path = property_study.root / RESPONSES
    path.write_text(to_csv(rows), encoding="utf-8", newline="")

    # what the rules say, worked out independently of data.py
    faulty = [not r[0].strip() or not r[1] or r[2] in ("later", "2026-13", "Q3") for r in rows[1:]]
    seen: set[str] = set()
    expected_used = []
    for k, r in enumerate(rows[1:]):
        if faulty[k]:
            continue
        if r[0] not in seen:
            expected_used.append(k + 2)
        seen.add(r[0])
    bad_cells = sum(1 for r in rows[1:] for column in ITEMS
                    if r[header.index(column)] in NOT_NUMBERS
                    or (column in SCALED and r[header.index(column)] in OUT_OF_RANGE))

    if not expected_used:
        with pytest.raises(DataError, match="no usable responses"):
            load_responses(property_study, pm)
        return
    responses = load_responses(property_study, pm)
    assert_account_adds_up(responses)
    assert responses.rows_read == n
    used = responses.source_row.tolist()
    excluded = [e.row for e in responses.exclusions]
    assert sorted(used + excluded) == list(range(2, n + 2))  # each row once, used or excluded
    assert used == expected_used
    assert len(set(responses.ids.tolist())) == responses.n
    assert responses.findings_total == bad_cells
    # an answer is a valid code or NaN, never the corrupt value
    scaled = responses.answers[:, [ITEMS.index(c) for c in SCALED]]
    assert np.all(np.isnan(scaled) | np.isin(scaled, [1, 2, 3, 4, 5]))
    for index, row_number in enumerate(used):
        source = rows[row_number - 1]
        for j, column in enumerate(ITEMS):
            text = source[header.index(column)]
            value = responses.answers[index, j]
            if text in NOT_NUMBERS or text == "" or (column in SCALED and text in OUT_OF_RANGE):
                assert np.isnan(value), (row_number, column, text)
            else:
                assert value == float(text), (row_number, column, text)
