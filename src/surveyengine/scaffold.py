"""``surveyengine init``: a working study folder made from an example questionnaire."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from . import questionnaire as qn
from .resources import resource_dir
from .schema import questionnaire_schema
from .simulate import simulate, write_truth
from .writers import write_csv

SCHEMA_LINE = "# yaml-language-server: $schema="

COMMENTARY = """\
# Commentary

Write the consultant's reading of the results here, in Markdown. This page is
published with the report as it is; respondent comments never go through
Markdown.

- What changed since last wave, and why.
- The two or three drivers to improve first.
"""


# Banner tables of the demo study (docs/banners.md): what a consultant's crosstabs look like.
DEMO_BANNERS = {
    "auto-dealer": """\
banners:
  - id: by_region
    title: {en: CSI and drivers by region and purchase, zh: 按大区与购车类型的满意度}
    columns:
      - segment: region
      - question: purchase_type
        label: {en: Purchase, zh: 购车类型}
    rows: [csi, product, service, image, overall, recommend, as_repair, st_honesty]
    statistics: [mean, top_box]
  - id: by_satisfaction
    title: {en: Satisfied customers vs the others, zh: 满意顾客与其他顾客}
    columns:
      - question: overall
        label: {en: Overall satisfaction, zh: 总体满意度}
        groups:
          - {label: {en: Top box (9-10), zh: 高满意（9-10）}, codes: [9, 10]}
          - {label: {en: Others (1-8), zh: 其他（1-8）}, codes: [1, 2, 3, 4, 5, 6, 7, 8]}
      - question: complained
        label: {en: Complained, zh: 是否投诉}
      - wave: true
        last: 3
    rows: [product, service, image, recommend, repurchase]
    statistics: [mean, top_box, base]
""",
}


def scaffold(directory: Path, example: str, n: int) -> list[Path]:
    source_dir = resource_dir("questionnaires") / example
    source = source_dir / "questionnaire.yaml"
    loaded = qn.load(source)
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []

    text = source.read_text(encoding="utf-8")
    for name in loaded.questionnaire.include:
        library = (source_dir / name).resolve()
        target = directory / "library" / library.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(library, target)
        written.append(target)
        text = text.replace(name, f"library/{library.name}")
    lines = [f"{SCHEMA_LINE}questionnaire.schema.json" if line.startswith(SCHEMA_LINE) else line
             for line in text.splitlines()]
    questionnaire_path = directory / "questionnaire.yaml"
    questionnaire_path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    schema_path = directory / "questionnaire.schema.json"
    schema_path.write_text(json.dumps(questionnaire_schema(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    columns, truth = simulate(loaded.questionnaire, n, seed=1)
    data_path = directory / "data" / "responses.csv"
    write_csv(columns, data_path)
    write_truth(truth, data_path.with_suffix(".truth.json"))
    (directory / "commentary.md").write_text(COMMENTARY, encoding="utf-8")
    config_text = (
        "# surveyengine study: `surveyengine validate` checks it, `surveyengine build` publishes it.\n"
        "questionnaire: questionnaire.yaml\n"
        "data:\n  - data/*.csv\n"
        "pages:\n  - commentary.md\n"
        "output:\n  dir: site\n  formats: [html, json, csv]\n"
        + DEMO_BANNERS.get(example, "")
    )
    (directory / "surveyengine.yaml").write_text(config_text, encoding="utf-8")
    written += [questionnaire_path, schema_path, data_path, data_path.with_suffix(".truth.json"),
                directory / "commentary.md", directory / "surveyengine.yaml"]
    return written
