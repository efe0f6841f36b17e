"""Reader plugins and writers: every format reads back to identical arrays; each reader's own rules.

Files are written with :mod:`surveyengine.writers` (or by hand where a test needs a broken file)
into a real study in ``tmp_path`` and read through the plugin manager, as ``surveyengine build``
reads them.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from surveyengine import questionnaire as qn
from surveyengine.cli import cli
from surveyengine.data import Responses, load_responses
from surveyengine.errors import DataError
from surveyengine.plugins import get_plugin_manager
from surveyengine.simulate import HOSTILE_COMMENTS, simulate
from surveyengine.study import load_study
from surveyengine.writers import EXCEL_MAX_ROWS, PARQUET_ROW_GROUP, WRITERS, write, write_csv, write_xlsx

REPO = Path(__file__).resolve().parents[1]
DEALER = REPO / "questionnaires" / "auto-dealer" / "questionnaire.yaml"
LIBRARY = REPO / "questionnaires" / "library" / "common.yaml"
MINI = Path(__file__).parent / "data" / "data"
N = 800
SEED = 11

# name -> (file name, encoding): the variants of the round trip
VARIANTS = {
    "csv-utf8": ("responses.csv", "utf-8"),
    "csv-utf8-bom": ("responses.csv", "utf-8-sig"),
    "csv-gb18030": ("responses.csv", "gb18030"),
    "tsv": ("responses.tsv", "utf-8"),
    "xlsx": ("responses.xlsx", "utf-8"),
    "parquet": ("responses.parquet", "utf-8"),
    "sav": ("responses.sav", "utf-8"),
    "jsonl": ("responses.jsonl", "utf-8"),
}
HEADER_IS_ROW_1 = {".csv", ".tsv", ".xlsx"}  # else the first record is row 1


@pytest.fixture(scope="module")
def pm():
    return get_plugin_manager(entry_points=False)


def study_folder(root: Path, data: Any, *, questionnaire: Path = DEALER, extra: str = "") -> Path:
    """A study: a copy of the questionnaire (and the example library) and a config whose ``data:`` is ``data``."""
    (root / "questionnaire").mkdir(parents=True, exist_ok=True)
    shutil.copyfile(questionnaire, root / "questionnaire" / "questionnaire.yaml")
    if questionnaire == DEALER:
        (root / "library").mkdir(exist_ok=True)
        shutil.copyfile(LIBRARY, root / "library" / "common.yaml")
    (root / "data").mkdir(exist_ok=True)
    (root / "surveyengine.yaml").write_text(
        f"questionnaire: questionnaire/questionnaire.yaml\ndata: {json.dumps(data, ensure_ascii=False)}\n{extra}",
        encoding="utf-8")
    return root


def read(root: Path, pm) -> Responses:
    return load_responses(load_study(root, pm), pm)


def same_account(account: dict[str, Any]) -> dict[str, Any]:
    """The account without file names (they differ by format)."""
    return {**account, "files": list(account["files"].values())}


def assert_identical(responses: Responses, reference: Responses) -> None:
    assert responses.items == reference.items
    assert responses.answers.dtype == reference.answers.dtype
    np.testing.assert_array_equal(responses.answers, reference.answers)  # NaN == NaN here
    assert responses.ids.tolist() == reference.ids.tolist()
    assert responses.segment_labels == reference.segment_labels
    for segment, codes in reference.segments.items():
        np.testing.assert_array_equal(responses.segments[segment], codes)
    assert responses.wave_labels == reference.wave_labels
    np.testing.assert_array_equal(responses.wave, reference.wave)
    assert list(responses.text) == list(reference.text)
    for item_id in reference.text:
        assert responses.texts(item_id) == reference.texts(item_id), item_id
    assert same_account(responses.account()) == same_account(reference.account())
    assert [(p.location.column, p.message) for p in responses.findings] == \
           [(p.location.column, p.message) for p in reference.findings]


# ------------------------------------------------------------------------------- the round trip


@pytest.fixture(scope="module")
def dealer():
    return qn.load(DEALER).questionnaire


@pytest.fixture(scope="module")
def demo(dealer) -> dict[str, np.ndarray]:
    columns, _ = simulate(dealer, N, seed=SEED)
    return columns


@pytest.fixture(scope="module")
def round_trip(tmp_path_factory: pytest.TempPathFactory, pm, dealer, demo) -> dict[str, tuple[Path, Responses]]:
    """Each variant written to its own study and read back."""
    out = {}
    for name, (file_name, encoding) in VARIANTS.items():
        root = study_folder(tmp_path_factory.mktemp(name), [{"path": f"data/{file_name}"}])
        write(demo, root / "data" / file_name, encoding, questionnaire=dealer)
        out[name] = (root / "data" / file_name, read(root, pm))
    return out


def test_reference_is_the_simulated_data(round_trip, dealer, demo) -> None:
    _, reference = round_trip["csv-utf8"]
    assert reference.n == N and reference.exclusions == []
    assert reference.ids.tolist() == demo["respondent_id"].tolist()
    for segment in dealer.segments:
        labels = np.asarray(reference.segment_labels[segment.id], dtype=object)[reference.segments[segment.id]]
        assert labels.tolist() == demo[segment.data_column].tolist()
    waves = np.asarray(reference.wave_labels, dtype=object)[reference.wave]
    assert waves.tolist() == demo["month"].tolist()
    for item_id in reference.text:
        assert reference.texts(item_id) == demo[dealer.item(item_id).data_column].tolist()
    assert any("\n" in text for text in reference.texts("comment"))  # multi-line comments
    assert {t for item_id in reference.text for t in reference.texts(item_id)} & set(HOSTILE_COMMENTS)
    for k, item_id in enumerate(reference.items):
        item = dealer.item(item_id)
        expected = np.asarray(demo[item.data_column], dtype=float).copy()
        missing = dealer.scales[item.scale].missing if item.scale else dealer.choices[item.choices].missing
        expected[np.isin(expected, list(missing))] = np.nan
        np.testing.assert_array_equal(reference.answers[:, k], expected.astype(np.float32), err_msg=item_id)


@pytest.mark.parametrize("variant", [v for v in VARIANTS if v != "csv-utf8"])
def test_every_format_reads_back_to_identical_arrays(round_trip, variant: str) -> None:
    path, responses = round_trip[variant]
    assert_identical(responses, round_trip["csv-utf8"][1])
    assert responses.files == [str(path)]
    first = 2 if path.suffix in HEADER_IS_ROW_1 else 1
    assert responses.source_row.tolist() == list(range(first, first + N))


def test_the_variants_are_really_different_files(round_trip) -> None:
    raw = {name: path.read_bytes() for name, (path, _) in round_trip.items()}
    assert raw["csv-utf8-bom"] == b"\xef\xbb\xbf" + raw["csv-utf8"]
    with pytest.raises(UnicodeDecodeError):
        raw["csv-gb18030"].decode("utf-8")  # the reader really falls back to GB18030
    assert raw["csv-gb18030"].decode("gb18030") == raw["csv-utf8"].decode("utf-8")
    assert raw["tsv"].split(b"\n", 1)[0].count(b"\t") == raw["csv-utf8"].split(b"\n", 1)[0].count(b",")
    assert len(set(raw.values())) == len(raw)


def test_sav_value_labels_reach_the_responses(round_trip, dealer) -> None:
    _, responses = round_trip["sav"]
    labels = responses.value_labels
    assert labels["dealer"]["101"] == "Hengtong Motors Beijing Chaoyang"  # text codes keep their text
    assert labels["region"] == {str(code): dealer.text(text) for code, text in dealer.segments[0].labels.items()}
    assert labels["overall"] == {"1": "Very dissatisfied", "10": "Very satisfied", "97": "Not applicable",
                                 "98": "Refused", "99": "Don't know"}
    assert labels["gender"]["2"] == "Female"  # a choice list with number codes
    assert "comment" not in labels and "respondent_id" not in labels
    for variant in ("csv-utf8", "parquet", "jsonl", "xlsx"):
        assert round_trip[variant][1].value_labels == {}


def test_files_of_every_format_read_as_one_data_set(tmp_path: Path, pm, dealer, demo, round_trip) -> None:
    """One file per wave, the formats taking turns: one data set, each row traced to its file and row."""
    waves = sorted(set(demo["month"].tolist()))
    assert len(waves) >= len(VARIANTS)
    root = study_folder(tmp_path, ["data/*"])
    expected_ids, expected_rows, names = [], [], []
    for index, wave in enumerate(waves):
        variant = list(VARIANTS)[index % len(VARIANTS)]
        file_name, encoding = VARIANTS[variant]
        name = f"wave-{wave}{Path(file_name).suffix}"
        mask = demo["month"] == wave
        write({column: values[mask] for column, values in demo.items()}, root / "data" / name, encoding,
              questionnaire=dealer)
        first = 2 if Path(name).suffix in HEADER_IS_ROW_1 else 1
        expected_ids += demo["respondent_id"][mask].tolist()
        expected_rows += list(range(first, first + int(mask.sum())))
        names.append(name)
    responses = read(root, pm)
    assert [Path(f).name for f in responses.files] == names
    assert responses.ids.tolist() == expected_ids
    assert responses.source_row.tolist() == expected_rows
    for row in range(responses.n):  # each row's file holds its wave
        assert Path(responses.files[responses.source_file[row]]).stem == \
               f"wave-{responses.wave_labels[responses.wave[row]]}"
    account = responses.account()
    assert account["rows_read"] == account["rows_used"] == N
    assert [f["read"] for f in account["files"].values()] == [int((demo["month"] == w).sum()) for w in waves]
    # the same answers as the single file, row by row
    _, reference = round_trip["csv-utf8"]
    position = {ident: k for k, ident in enumerate(reference.ids.tolist())}
    order = np.array([position[ident] for ident in expected_ids])
    np.testing.assert_array_equal(responses.answers, reference.answers[order])
    for item_id in reference.text:
        assert responses.texts(item_id) == np.asarray(reference.texts(item_id), dtype=object)[order].tolist()
    for segment, codes in reference.segments.items():
        assert responses.segment_labels[segment] == reference.segment_labels[segment]
        np.testing.assert_array_equal(responses.segments[segment], codes[order])


# ------------------------------------------------------------------------------ what the writers keep


def mini_columns() -> dict[str, np.ndarray]:
    """tests/data/data/responses.csv as writer columns: numbers as floats (NaN for empty), the rest as text."""
    with open(MINI / "responses.csv", encoding="utf-8", newline="") as handle:
        header, *rows = list(csv.reader(handle))
    columns: dict[str, np.ndarray] = {}
    for index, name in enumerate(header):
        values = [row[index] for row in rows]
        if name in ("quality", "price", "staff", "speed", "overall", "complained", "age"):
            columns[name] = np.array([float(v) if v else np.nan for v in values])
        else:
            columns[name] = np.array(values, dtype=object)
    return columns


def mini_study(root: Path, data: Any = "data/*", extra: str = "") -> Path:
    """A study of the tiny questionnaire in tests/data/data; ``data`` is one entry of its ``data:`` list."""
    return study_folder(root, [data], questionnaire=MINI / "questionnaire.yaml", extra=extra)


@pytest.mark.parametrize("suffix", list(WRITERS))
def test_leading_zeros_survive_every_format(tmp_path: Path, pm, suffix: str) -> None:
    columns = mini_columns()
    columns["respondent_id"] = np.array(["007", "7", "0042", "42", "00"], dtype=object)
    columns["region"] = np.array(["0101", "101", "0101", "01", "101"], dtype=object)
    root = mini_study(tmp_path)
    write(columns, root / "data" / f"responses{suffix}")
    responses = read(root, pm)
    assert responses.exclusions == []
    assert responses.ids.tolist() == ["007", "7", "0042", "42", "00"]
    assert responses.segment_labels["region"] == ["01", "0101", "101"]
    assert responses.segments["region"].tolist() == [1, 2, 1, 0, 2]


def test_whole_numbers_are_written_as_integers(tmp_path: Path) -> None:
    import openpyxl
    import pyreadstat

    columns = mini_columns()
    columns["weight"] = np.array([0.5, 1.25, 1.0, 2.0, np.nan])
    for suffix in WRITERS:
        write(columns, tmp_path / f"r{suffix}")
    lines = (tmp_path / "r.csv").read_text(encoding="utf-8").splitlines()
    assert lines[1].startswith('"R1","North","2026-01-15",5,4,5,4,5,2,34,') and lines[1].endswith(",0.5")
    assert lines[2].startswith('"R2","South","2026-02-03",3,9,4,,4,1,51,')  # missing is empty
    schema = pq.read_schema(tmp_path / "r.parquet")
    assert str(schema.field("quality").type) == "int64" and str(schema.field("weight").type) == "double"
    assert str(schema.field("respondent_id").type) == "string"
    first = json.loads((tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()[0])
    assert first["quality"] == 5 and isinstance(first["quality"], int) and first["weight"] == 0.5
    third = json.loads((tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()[2])
    assert third["age"] is None and third["comment"] == "<b>bold</b>" and third["weight"] == 1.0
    assert json.loads((tmp_path / "r.jsonl").read_text(encoding="utf-8").splitlines()[3])["comment"] == ""
    sheet = openpyxl.load_workbook(tmp_path / "r.xlsx", read_only=True)["responses"]
    row = next(sheet.iter_rows(min_row=2, max_row=2, values_only=True))
    assert row[:4] == ("R1", "North", "2026-01-15", 5) and type(row[3]) is int
    _, meta = pyreadstat.read_sav(str(tmp_path / "r.sav"), metadataonly=True)
    assert meta.original_variable_types["quality"] == "F1.0" and meta.original_variable_types["age"] == "F2.0"
    assert meta.original_variable_types["respondent_id"].startswith("A")


def test_xlsx_text_is_never_a_formula(tmp_path: Path, pm) -> None:
    columns = mini_columns()
    columns["comment"] = np.array(['=HYPERLINK("http://example.invalid","x")', "=1+1", "+cmd", "@SUM(1)", ""],
                                  dtype=object)
    root = mini_study(tmp_path)
    write(columns, root / "data" / "responses.xlsx")
    assert read(root, pm).texts("comment") == columns["comment"].tolist()


def test_parquet_row_groups(tmp_path: Path) -> None:
    n = PARQUET_ROW_GROUP * 2 + 5
    write({"respondent_id": np.array([f"R{i}" for i in range(n)], dtype=object),
           "quality": np.tile([1.0, 2.0, 3.0, np.nan, 5.0], n // 5)}, tmp_path / "big.parquet")
    metadata = pq.ParquetFile(tmp_path / "big.parquet").metadata
    assert [metadata.row_group(i).num_rows for i in range(metadata.num_row_groups)] == [
        PARQUET_ROW_GROUP, PARQUET_ROW_GROUP, 5]


def test_excel_row_limit_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="do not fit in an Excel sheet"):
        write_xlsx({"respondent_id": np.zeros(EXCEL_MAX_ROWS, dtype=object)}, tmp_path / "r.xlsx")


def test_unknown_extension_and_encoding_are_clear_errors(tmp_path: Path) -> None:
    columns = mini_columns()
    with pytest.raises(DataError) as caught:
        write(columns, tmp_path / "r.xls")
    assert "cannot write '.xls' files" in str(caught.value)
    assert all(suffix in str(caught.value) for suffix in (".csv", ".tsv", ".parquet", ".jsonl", ".xlsx", ".sav"))
    with pytest.raises(DataError, match="unknown encoding 'klingon'"):
        write(columns, tmp_path / "r.csv", "klingon")
    with pytest.raises(DataError, match="applies to .csv and .tsv files only"):
        write(columns, tmp_path / "r.parquet", "gb18030")
    with pytest.raises(DataError, match="cannot write '等' in encoding 'latin-1'"):
        write_csv(columns, tmp_path / "r.csv", "latin-1")
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------------- reader specifics


def xlsx_with_sheets(path: Path, columns: dict[str, np.ndarray]) -> None:
    """The responses sheet second, after a notes sheet, as analysts' workbooks often are."""
    import openpyxl

    write_xlsx(columns, path)
    workbook = openpyxl.load_workbook(path)
    notes = workbook.create_sheet("notes", 0)
    notes.append(["Fieldwork notes"])
    workbook.save(path)


def test_xlsx_sheet_option_picks_the_named_sheet(tmp_path: Path, pm) -> None:
    reference_root = mini_study(tmp_path / "reference", "data/responses.csv")
    shutil.copyfile(MINI / "responses.csv", reference_root / "data" / "responses.csv")
    reference = read(reference_root, pm)
    root = mini_study(tmp_path / "named", {"path": "data/responses.xlsx", "sheet": "responses"})
    xlsx_with_sheets(root / "data" / "responses.xlsx", mini_columns())
    responses = read(root, pm)
    np.testing.assert_array_equal(responses.answers, reference.answers)
    assert responses.ids.tolist() == reference.ids.tolist()
    assert responses.texts("comment") == reference.texts("comment")
    # without the option the first sheet is read, and it is not the data
    root = mini_study(tmp_path / "first", "data/responses.xlsx")
    xlsx_with_sheets(root / "data" / "responses.xlsx", mini_columns())
    with pytest.raises(DataError, match="missing column"):
        read(root, pm)


def test_xlsx_unknown_sheet_lists_the_sheets(tmp_path: Path, pm, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = mini_study(tmp_path, {"path": "data/responses.xlsx", "sheet": "Responses 2026"})
    xlsx_with_sheets(root / "data" / "responses.xlsx", mini_columns())
    with pytest.raises(DataError) as caught:
        read(root, pm)
    assert caught.value.location.path == str(Path("data") / "responses.xlsx")
    assert caught.value.message == "no sheet 'Responses 2026'; the workbook has: notes, responses"


def set_value(columns: dict[str, np.ndarray], column: str, index: int, value: Any) -> dict[str, np.ndarray]:
    columns = dict(columns)
    changed = columns[column].astype(object) if isinstance(value, str) else columns[column].copy()
    changed[index] = value
    columns[column] = changed
    return columns


@pytest.mark.parametrize("suffix", list(WRITERS))
def test_findings_name_the_row_as_the_format_counts_rows(tmp_path: Path, pm, monkeypatch, suffix: str) -> None:
    """CSV, TSV and Excel: the header is row 1. Parquet, SPSS and JSON Lines: the first record is row 1."""
    monkeypatch.chdir(tmp_path)
    columns = set_value(mini_columns(), "quality", 2, 7.0)  # R3: outside the 1-5 scale
    root = mini_study(tmp_path)
    write(columns, root / "data" / f"responses{suffix}")
    responses = read(root, pm)
    (problem,) = responses.findings
    row = 4 if suffix in HEADER_IS_ROW_1 else 3
    assert (problem.location.path, problem.location.row, problem.location.column) == (
        str(Path("data") / f"responses{suffix}"), row, "quality")
    assert problem.message == "7 outside scale 1-5; answer set missing"


def test_xlsx_rows_keep_their_excel_numbers_after_an_empty_row(tmp_path: Path, pm, monkeypatch) -> None:
    import openpyxl
    from openpyxl.styles import Font

    monkeypatch.chdir(tmp_path)
    root = mini_study(tmp_path)
    path = root / "data" / "responses.xlsx"
    write_xlsx(set_value(mini_columns(), "quality", 2, "good"), path)
    workbook = openpyxl.load_workbook(path)
    sheet = workbook["responses"]
    sheet.insert_rows(3)  # an empty row 3: R2 moves to row 4, R3 (quality 'good') to row 5
    sheet["A12"].font = Font(bold=True)  # empty but formatted cells below the data: not rows
    workbook.save(path)
    responses = read(root, pm)
    assert [(p.location.row, p.location.column) for p in responses.findings] == [(5, "quality")]
    assert "'good' not a number" in responses.findings[0].message
    assert [(e.row, e.reason) for e in responses.exclusions] == [(3, "missing respondent id")]
    assert responses.source_row.tolist() == [2, 4, 5, 6, 7]
    assert responses.account()["rows_read"] == 6


def test_jsonl_nested_object_names_the_column(tmp_path: Path, pm, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = mini_study(tmp_path)
    records = [{"respondent_id": f"R{i}", "region": "North", "date": "2026-01-15", "quality": 4, "price": 4,
                "staff": 4, "speed": 4, "overall": 4, "complained": 2, "age": 40,
                "comment": {"text": "fine", "language": "en"} if i == 2 else {}} for i in range(1, 4)]
    (root / "data" / "responses.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records), encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read(root, pm)
    assert caught.value.location.column == "comment"
    assert "comment" in caught.value.message and "nested" in caught.value.message
    assert str(caught.value).startswith(str(Path("data") / "responses.jsonl"))


def test_jsonl_broken_line_names_its_record(tmp_path: Path, pm) -> None:
    root = mini_study(tmp_path)
    write(mini_columns(), root / "data" / "responses.jsonl")
    lines = (root / "data" / "responses.jsonl").read_text(encoding="utf-8").splitlines()
    lines[2] = lines[2].replace('"quality":1', '"quality":one')
    (root / "data" / "responses.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError) as caught:
        read(root, pm)
    assert caught.value.location.row == 3 and "not valid JSON Lines" in caught.value.message


def test_jsonl_missing_numbers_may_be_null_or_absent(tmp_path: Path, pm) -> None:
    root = mini_study(tmp_path)
    write(mini_columns(), root / "data" / "responses.jsonl")
    reference = read(root, pm)
    lines = (root / "data" / "responses.jsonl").read_text(encoding="utf-8").splitlines()
    records = [json.loads(line) for line in lines]
    for record in records:
        for key in [k for k, v in record.items() if v is None]:
            del record[key]  # absent instead of null
    assert any(len(r) < len(json.loads(line)) for r, line in zip(records, lines))
    (root / "data" / "responses.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n"
                                                           for r in records), encoding="utf-8")
    responses = read(root, pm)
    np.testing.assert_array_equal(responses.answers, reference.answers)
    assert responses.texts("comment") == reference.texts("comment")


def to_csv(rows: list[list[str]], delimiter: str = ",") -> str:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def mini_rows() -> list[list[str]]:
    with open(MINI / "responses.csv", encoding="utf-8", newline="") as handle:
        return [list(row) for row in csv.reader(handle)]


@pytest.mark.parametrize("position", ["first", "last"])
def test_csv_text_in_an_int_column_names_that_cell(tmp_path: Path, pm, monkeypatch, position: str) -> None:
    """Codes are parsed as integers while reading; a cell that is not one makes the reader read that
    column again as text, so the finding names that very cell."""
    monkeypatch.chdir(tmp_path)
    header, *rows = mini_rows()
    rows = [[f"{row[0]}-{k}"] + row[1:] for k in range(6000) for row in rows]  # several parse blocks
    target = 0 if position == "first" else len(rows) - 1
    staff = header.index("staff")
    expected = np.array([float(row[staff]) for row in rows], dtype=np.float32)
    rows[target][staff] = "4 stars"
    expected[target] = np.nan
    root = mini_study(tmp_path)
    (root / "data" / "responses.csv").write_text(to_csv([header, *rows]), encoding="utf-8")
    responses = read(root, pm)
    (problem,) = responses.findings
    assert (problem.location.path, problem.location.row, problem.location.column) == (
        str(Path("data") / "responses.csv"), target + 2, "staff")
    assert problem.message == "'4 stars' not a number; answer set missing"
    np.testing.assert_array_equal(responses.column("staff"), expected)
    assert responses.n == len(rows) and responses.exclusions == []


def _random_bytes() -> bytes:
    return b"respondent_id,region\n" + np.random.default_rng(7).bytes(4000) + b"\xff\n"


@pytest.mark.parametrize("content", [
    pytest.param(_random_bytes(), id="random-bytes"),
    pytest.param("respondent_id,comment\nR1,café crème, naïve\n".encode("latin-1"), id="latin-1"),
    pytest.param("respondent_id,comment\nR1,ｱﾝｹｰﾄ,ok\n".encode("shift_jis"), id="shift-jis"),
])
def test_csv_neither_utf8_nor_gb18030_names_the_file(tmp_path: Path, pm, monkeypatch, content: bytes) -> None:
    for encoding in ("utf-8", "gb18030"):
        with pytest.raises(UnicodeDecodeError):
            content.decode(encoding)
    monkeypatch.chdir(tmp_path)
    root = mini_study(tmp_path)
    (root / "data" / "responses.csv").write_bytes(content)
    with pytest.raises(DataError) as caught:
        read(root, pm)
    assert caught.value.location.path == str(Path("data") / "responses.csv")
    assert str(caught.value) == (f"{Path('data') / 'responses.csv'}: file is neither UTF-8 nor GB18030; "
                                 "declare its 'encoding' in the study config")


def test_declared_latin1_is_read(tmp_path: Path, pm) -> None:
    rows = mini_rows()
    comments = ["café crème, naïve ÿ", 'Très "bien"\nzweite Zeile, Grüße', "<b>bold</b>", "", "Ça va"]
    for row, comment in zip(rows[1:], comments):
        row[rows[0].index("comment")] = comment
    root = mini_study(tmp_path)
    (root / "data" / "responses.csv").write_bytes(to_csv(rows).encode("latin-1"))
    with pytest.raises(DataError, match="neither UTF-8 nor GB18030"):
        read(root, pm)  # undeclared, it cannot be read
    mini_study(tmp_path, {"path": "data/*", "encoding": "latin-1"})
    responses = read(root, pm)
    assert responses.texts("comment") == comments
    assert responses.n == 5 and responses.exclusions == []


def test_declared_unknown_encoding_is_a_clear_error(tmp_path: Path, pm, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    root = mini_study(tmp_path, {"path": "data/*", "encoding": "klingon"})
    shutil.copyfile(MINI / "responses.csv", root / "data" / "responses.csv")
    with pytest.raises(DataError) as caught:
        read(root, pm)
    assert str(caught.value) == f"{Path('data') / 'responses.csv'}: unknown encoding 'klingon'"


@pytest.mark.parametrize("delimiter", [";", "\t"])
def test_csv_delimiter_is_sniffed(tmp_path: Path, pm, delimiter: str) -> None:
    reference_root = mini_study(tmp_path / "reference")
    shutil.copyfile(MINI / "responses.csv", reference_root / "data" / "responses.csv")
    reference = read(reference_root, pm)
    rows = mini_rows()
    rows[4][rows[0].index("comment")] = "a, b; c\td"  # R4: every candidate inside a quoted value
    root = mini_study(tmp_path / "sniffed")
    (root / "data" / "responses.csv").write_text(to_csv(rows, delimiter), encoding="utf-8")
    responses = read(root, pm)
    np.testing.assert_array_equal(responses.answers, reference.answers)
    assert responses.ids.tolist() == reference.ids.tolist()
    assert responses.texts("comment") == reference.texts("comment")[:3] + ["a, b; c\td"] + \
        reference.texts("comment")[4:]


# ----------------------------------------------------------------------------------------- the CLI


def run(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.mark.parametrize("suffix", list(WRITERS))
def test_cli_simulate_writes_the_format_of_the_extension(tmp_path: Path, pm, suffix: str) -> None:
    root = study_folder(tmp_path, ["data/*" + suffix])
    out = root / "data" / f"responses{suffix}"
    for attempt in ("first", "second"):
        result = run("simulate", str(DEALER), "--n", "150", "--seed", "5", "--out", str(out))
        assert result.exit_code == 0, result.output
        if attempt == "first":
            first = out.read_bytes()
    assert out.read_bytes() == first  # same questionnaire, n and seed: the same bytes
    assert f"wrote 150 responses to {out}" in result.stderr
    assert json.loads(out.with_suffix(".truth.json").read_text(encoding="utf-8"))["n"] == 150
    responses = read(root, pm)
    assert responses.n == 150 and responses.exclusions == []
    assert responses.ids.tolist() == [f"R{i:07d}" for i in range(1, 151)]
    if suffix != ".csv":  # the same data as the CSV of the same seed
        csv_root = study_folder(tmp_path / "csv", ["data/*.csv"])
        assert run("simulate", str(DEALER), "--n", "150", "--seed", "5", "--out",
                   str(csv_root / "data" / "r.csv")).exit_code == 0
        assert_identical(responses, read(csv_root, pm))


def test_cli_simulate_encoding(tmp_path: Path) -> None:
    out = tmp_path / "r.csv"
    assert run("simulate", str(DEALER), "--n", "50", "--out", str(out), "--encoding", "utf-8-sig").exit_code == 0
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    result = run("simulate", str(DEALER), "--n", "50", "--out", str(tmp_path / "r.parquet"), "--encoding", "gb18030")
    assert result.exit_code == 2
    assert "Invalid value for '--encoding'" in result.stderr and "applies to .csv and .tsv files only" in result.stderr


@pytest.mark.parametrize("name", ["r.xls", "r.json", "responses"])
def test_cli_simulate_unknown_extension_is_a_clear_error(tmp_path: Path, name: str) -> None:
    result = run("simulate", str(DEALER), "--n", "50", "--out", str(tmp_path / name))
    assert result.exit_code == 2
    assert "Invalid value for '--out'" in result.stderr
    assert "cannot write" in result.stderr and ".csv, .tsv, .parquet, .jsonl, .xlsx, .sav" in result.stderr
    assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []  # nothing written, not even the truth file
