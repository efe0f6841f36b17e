"""Questionnaire exports (``surveyengine export``), each checked by the platform's own reader.

- XLSForm: converted to an XForm by pyxform (what ODK Central and KoboToolbox run);
- SurveyJS: loaded by survey-core under node (npm-installed into a temporary folder),
  its JSON errors listed and its visibleIf conditions run;
- HTML: parsed by html.parser;
- the round trip: responses named as KoboToolbox exports them (group paths, ';'
  delimiter, its own metadata columns) build the same results as the original names.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from click.testing import CliRunner, Result

from surveyengine import questionnaire as qn
from surveyengine.cli import cli
from surveyengine.conditions import Dialect, parse, translate
from surveyengine.data import platform_columns
from surveyengine.resources import resource_dir
from test_report_formats import Tags as Page

DEALER = resource_dir("questionnaires") / "auto-dealer" / "questionnaire.yaml"
EPOCH = {"SOURCE_DATE_EPOCH": "1767225600"}


def run(*args: object) -> Result:
    result = CliRunner().invoke(cli, [str(a) for a in args], env=EPOCH, catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def export(tmp_path: Path, fmt: str, *extra: object, source: Path = DEALER) -> Path:
    out = tmp_path / f"form-{fmt}{ {'xlsform': '.xlsx', 'surveyjs': '.json', 'html': '.html'}[fmt]}"
    result = run("export", source, "--to", fmt, "--out", out, *extra)
    assert result.exit_code == 0, result.output
    return out


@pytest.fixture(scope="module")
def dealer():
    return qn.load(DEALER).questionnaire


def sheet_rows(path: Path, name: str) -> list[dict[str, object]]:
    rows = list(openpyxl.load_workbook(path)[name].iter_rows(values_only=True))
    return [dict(zip(rows[0], row)) for row in rows[1:]]


def kobo_names(form: Path) -> dict[str, str]:
    """Question name -> the column KoboToolbox exports it as: its group path, read from the XLSForm's survey sheet."""
    names, groups = {}, []
    for row in sheet_rows(form, "survey"):
        if row["type"] == "begin_group":
            groups.append(row["name"])
        elif row["type"] == "end_group":
            groups.pop()
        else:
            names[row["name"]] = "/".join([*groups, row["name"]])
    return names


# ------------------------------------------------------------------------------------ conditions


XPATH = Dialect(ref="${%s}", negate="not(%s)", answered="%s != ''")


@pytest.mark.parametrize("condition, expected", [
    ("complained == 1", "${complained} = 1"),
    ("recommend <= 6", "${recommend} <= 6"),
    ("visit_type in [2, 3] and age >= 18", "(${visit_type} = 2 or ${visit_type} = 3) and ${age} >= 18"),
    ("a != 'x'", "(${a} != '' and ${a} != 'x')"),
    ("not (a == 1 or b > c)", "not(${A1} = 1 or ${b} > ${c})"),
    ("a not in [1, 2]", "(${A1} != '' and ${A1} != 1 and ${A1} != 2)"),
    ("1 < a <= 5", "1 < ${A1} and ${A1} <= 5"),
    ("a == -1 or (b == 2 and c == 3)", "${A1} = -1 or (${b} = 2 and ${c} = 3)"),
])
def test_translate_writes_conditions_in_xpath(condition, expected):
    names = {"a": "A1"} if "A1" in expected else {}
    assert translate(parse(condition), XPATH, names) == expected


# ------------------------------------------------------------------------------------ XLSForm


def test_xlsform_has_survey_choices_and_settings(tmp_path, dealer):
    form = export(tmp_path, "xlsform")
    survey = {row["name"]: row for row in sheet_rows(form, "survey")}
    assert survey["hw_quality"]["type"] == "integer"
    assert survey["hw_quality"]["constraint"] == "(. >= 1 and . <= 10) or . = 97 or . = 98 or . = 99"
    assert survey["hw_quality"]["label::English (en)"].startswith("How satisfied are you with the build quality")
    assert survey["hw_quality"]["label::Chinese (zh)"].startswith("您对爱车的做工")
    assert "1 = Very dissatisfied" in survey["hw_quality"]["hint::English (en)"]
    assert survey["as_booking"]["relevant"] == "${serviced} = 1"
    assert survey["low_reason"]["relevant"] == "${recommend} <= 6"
    assert survey["complaint_channel"]["type"] == "select_multiple complaint_channel"
    assert survey["overall"]["required"] == "yes"
    assert survey["month"]["type"] == "calculate"
    groups = [row["name"] for row in sheet_rows(form, "survey") if row["type"] == "begin_group"]
    assert groups == [f.id for f in dealer.walk_factors()]
    choices = sheet_rows(form, "choices")
    assert {(c["list_name"], str(c["name"])) for c in choices} >= {("yesno", "1"), ("yesno", "2"), ("yesno", "9"),
                                                                    ("segment_dealer", "101")}
    settings = sheet_rows(form, "settings")[0]
    assert settings == {"form_title": "Dealer sales and service satisfaction survey", "form_id": "auto-dealer",
                        "version": "2026.1", "default_language": "English (en)"}
    names = [row["name"] for row in sheet_rows(form, "survey") if row["type"] not in ("begin_group", "end_group")]
    assert names.index("serviced") < names.index("as_booking")  # the screening question is asked first


def test_xlsform_converts_with_pyxform(tmp_path, dealer):
    pyxform = pytest.importorskip("pyxform.xls2xform")
    form = export(tmp_path, "xlsform", "--language", "zh")
    converted = pyxform.convert(xlsform=str(form))
    assert converted.warnings == []
    xform = converted.xform
    for item in dealer.all_items():
        assert re.search(rf'<bind nodeset="/data/([a-z_]+/)*{item.id}"', xform), item.id
    assert '<bind nodeset="/data/product/hardware/hw_quality" type="int"' in xform
    assert 'relevant=" /data/serviced  = 1"' in xform
    assert 'constraint="(. &gt;= 1 and . &lt;= 10) or . = 97 or . = 98 or . = 99"' in xform
    assert re.findall(r"<translation[^>]*>", xform) == ['<translation lang="Chinese (zh)" default="true()">',
                                                         '<translation lang="English (en)">']
    assert "非常不满意" in xform and "Very dissatisfied" in xform


def test_xlsform_rejects_a_column_that_is_no_variable_name(tmp_path):
    source = tmp_path / "q.yaml"
    text = DEALER.read_text(encoding="utf-8").replace("../library/common.yaml", str(DEALER.parents[1] / "library"
                                                                                     / "common.yaml"))
    source.write_text(text.replace("          - id: hw_reliability\n", "          - id: hw_reliability\n"
                                   "            column: 'Q2 reliability'\n"), encoding="utf-8")
    result = run("export", source, "--to", "xlsform", "--out", tmp_path / "f.xlsx")
    assert result.exit_code == 2
    assert "not: 'Q2 reliability'" in result.output


# ------------------------------------------------------------------------------------ SurveyJS


CHECK_JS = r"""
const Survey = require("survey-core");
const json = JSON.parse(require("fs").readFileSync(process.argv[2], "utf8"));
const model = new Survey.Model(json);
const visible = (name) => model.getQuestionByName(name).isVisible;
const out = {errors: (model.jsonErrors || []).map(e => e.message || String(e)),
             questions: model.getAllQuestions().map(q => q.name), pages: model.pages.map(p => p.name),
             title: model.title, visible: {}};
out.visible.before = visible("as_booking");
model.setValue("serviced", 1); out.visible.serviced_yes = visible("as_booking");
model.setValue("serviced", 2); out.visible.serviced_no = visible("as_booking");
model.setValue("recommend", 9); out.visible.promoter_reason = visible("low_reason");
model.setValue("recommend", 3); out.visible.detractor_reason = visible("low_reason");
model.locale = "zh-cn"; out.title_zh = model.title;
console.log(JSON.stringify(out));
"""


@pytest.fixture(scope="session")
def survey_core(tmp_path_factory) -> Path:
    """A folder with survey-core installed from npm, and the check script; skipped without node and npm."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to load the SurveyJS form in survey-core")
    folder = tmp_path_factory.mktemp("survey-core")
    install = subprocess.run(["npm", "install", "--no-audit", "--no-fund", "--silent", "survey-core"], cwd=folder,
                             capture_output=True, text=True, timeout=300)
    if install.returncode != 0:
        pytest.skip(f"npm install survey-core failed: {install.stderr[-500:]}")
    (folder / "check.js").write_text(CHECK_JS, encoding="utf-8")
    return folder


def test_surveyjs_form_loads_in_survey_core(tmp_path, dealer, survey_core):
    form = export(tmp_path, "surveyjs")
    checked = subprocess.run(["node", "check.js", str(form)], cwd=survey_core, capture_output=True, text=True,
                             timeout=120)
    assert checked.returncode == 0, checked.stderr
    report = json.loads(checked.stdout)
    assert report["errors"] == []
    assert sorted(report["questions"]) == sorted([i.id for i in dealer.all_items()] + ["region", "dealer"])
    assert report["pages"] == ["respondent", "product", "service", "image", "questions"]
    assert report["visible"] == {"before": False, "serviced_yes": True, "serviced_no": False,
                                 "promoter_reason": False, "detractor_reason": True}
    assert report["title"] == "Dealer sales and service satisfaction survey"
    assert report["title_zh"] == "汽车经销商销售与服务满意度调查"


def test_surveyjs_checker_sees_a_broken_form(tmp_path, survey_core):
    form = json.loads(export(tmp_path, "surveyjs").read_text(encoding="utf-8"))
    product = next(page for page in form["pages"] if page["name"] == "product")
    product["elements"][0]["elements"][0]["rateMinimum"] = 1  # misspelt property
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(form), encoding="utf-8")
    checked = subprocess.run(["node", "check.js", str(broken)], cwd=survey_core, capture_output=True, text=True,
                             timeout=120)
    assert "rateMinimum" in " ".join(json.loads(checked.stdout)["errors"])


def test_surveyjs_form_fields(tmp_path):
    form = json.loads(export(tmp_path, "surveyjs", "--language", "zh").read_text(encoding="utf-8"))
    assert form["locale"] == "zh-cn" and form["title"]["default"] == "汽车经销商销售与服务满意度调查"
    elements = {e["name"]: e for page in form["pages"] for e in page["elements"]}
    panels = {e["name"]: e for page in form["pages"] for e in page["elements"] if e.get("type") == "panel"}
    quality = next(e for e in panels["hardware"]["elements"] if e["name"] == "hw_quality")
    assert (quality["type"], quality["rateMin"], quality["rateMax"]) == ("rating", 1, 10)
    assert quality["minRateDescription"] == {"default": "非常不满意", "en": "Very dissatisfied"}
    assert elements["complained"]["type"] == "radiogroup" and elements["complained"]["isRequired"] is True
    assert elements["complaint_channel"]["type"] == "checkbox"
    assert elements["complaint_text"]["visibleIf"] == "{complained} = 1"


# ------------------------------------------------------------------------------------ HTML


def test_html_questionnaire_is_printable_and_standalone(tmp_path, dealer):
    page = Page(export(tmp_path, "html", "--language", "zh").read_text(encoding="utf-8"))
    questions = [attrs for tag, attrs in page.tags if attrs.get("class") == "q"]
    assert len(questions) == sum(1 for _ in dealer.all_items())
    assert ("html", {"lang": "zh"}) in page.tags
    assert not {"script", "link", "img", "iframe"} & {tag for tag, _ in page.tags}
    assert not [a for _, a in page.tags if a.get("src") or a.get("href")]
    words = "".join(page.text)
    assert "汽车经销商销售与服务满意度调查" in words and "仅在以下情况询问: Q1 = 1" in words
    assert "@page" in words  # the print CSS


def test_html_questionnaire_escapes_its_text(tmp_path):
    source = tmp_path / "q.yaml"
    text = DEALER.read_text(encoding="utf-8").replace("../library/common.yaml", str(DEALER.parents[1] / "library"
                                                                                     / "common.yaml"))
    source.write_text(text.replace("en: Was this car your first car,", "en: <script>alert(1)</script> Was this car"),
                      encoding="utf-8")
    page = Page(export(tmp_path, "html", source=source).read_text(encoding="utf-8"))
    assert "script" not in {tag for tag, _ in page.tags}
    assert "<script>alert(1)</script> Was this car" in "".join(page.text)


# ------------------------------------------------------------------------------------ command line


def test_export_errors_are_clear(tmp_path):
    result = run("export", DEALER, "--to", "pdf", "--out", tmp_path / "x")
    assert result.exit_code == 2 and "unknown format 'pdf'; installed: html, surveyjs, xlsform" in result.output
    result = run("export", DEALER, "--to", "xlsform", "--language", "fr", "--out", tmp_path / "x")
    assert result.exit_code == 2 and "language 'fr' is not one of the questionnaire's (en, zh)" in result.output
    result = run("export", tmp_path / "missing.yaml", "--to", "xlsform")
    assert result.exit_code == 2 and "no such file or folder" in result.output
    assert not (tmp_path / "x").exists()


# ------------------------------------------------------------------------------------ round trip


def test_platform_columns_take_the_name_behind_a_group_path():
    present = ["respondent_id", "product/hardware/hw_quality", "service-staff-st_dress", "a/x", "b/x", "_uuid"]
    assert platform_columns(present, ["respondent_id", "hw_quality", "st_dress", "x", "absent"]) == {
        "product/hardware/hw_quality": "hw_quality", "service-staff-st_dress": "st_dress"}  # 'x' is ambiguous


def test_kobo_export_of_the_xlsform_reads_back_to_the_same_results(tmp_path):
    original = tmp_path / "original"
    assert run("init", original, "--n", "600").exit_code == 0
    form = export(tmp_path, "xlsform", source=original)
    names = kobo_names(form)
    assert names["hw_quality"] == "product/hardware/hw_quality"
    kobo = tmp_path / "kobo"
    shutil.copytree(original, kobo)
    data = kobo / "data" / "responses.csv"
    with data.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    assert set(header) <= set(names)  # every column of the data is a question of the form
    multiple = {row["name"] for row in sheet_rows(form, "survey") if str(row["type"]).startswith("select_multiple")}
    for row in rows[1:]:  # Kobo: select_multiple answers separated by spaces
        for index, column in enumerate(header):
            if column in multiple:
                row[index] = row[index].replace(";", " ")
    kobo_header = [names[c] for c in header] + ["meta/instanceID", "_id", "_uuid", "_submission_time", "_index"]
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=";", lineterminator="\n")  # Kobo's default CSV delimiter
    writer.writerow(kobo_header)
    for number, row in enumerate(rows[1:], start=1):
        writer.writerow(row + [f"uuid:{number:08d}", number, f"{number:08d}", "2026-03-01T10:00:00", number])
    data.write_text(buffer.getvalue(), encoding="utf-8")
    assert any("/" in c for c in kobo_header)

    results = {}
    for study in (original, kobo):
        result = run("build", study, "--format", "json", "--strict")  # the platform's own columns warn of nothing
        assert result.exit_code == 0, result.output
        results[study.name] = json.loads((study / "site" / "results.json").read_text(encoding="utf-8"))
    before, after = results["original"], results["kobo"]
    assert after["account"]["rows_used"] == before["account"]["rows_used"] == 600
    for key in ("respondents", "index", "total", "waves", "segments", "items", "factors"):
        assert after[key] == before[key], key
