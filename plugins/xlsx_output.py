"""``results.xlsx``: a formatted workbook for clients who live in Excel (needs the ``xlsx`` extra, openpyxl).

Sheets: one league table per segment (both CSIs, their ranks, the test against
the rest of the parent, flags), the drivers (importance of every model of every
group), the priorities, the items of the total, the account of rows, and one sheet
per banner of the study config (a value column and a significance-letter column
per banner column). The
tables are those of the CSV output (``surveyengine.tables``); text from the data
is made formula-safe as there, and no cell is ever a formula.
"""

from __future__ import annotations

from surveyengine import hookimpl
from surveyengine.tables import (
    account_table,
    banner_grid,
    importance_table,
    item_table,
    league_table,
    priority_table,
    safe_cell,
)
from surveyengine.workbook import add_sheet, new_workbook, save

ONE_DECIMAL = "0.0"
THREE_DECIMALS = "0.000"
WHOLE = "#,##0"
FORMATS = {
    **dict.fromkeys(("csi", "ci_low", "ci_high", "csi_equal", "vs_rest", "performance", "mean", "sd", "score",
                     "top_box", "bottom_box", "gap", "expectation_met", "base_eff", "model_base"), ONE_DECIMAL),
    **dict.fromkeys(("p", "r2", "importance", "weight", "gain"), THREE_DECIMALS),
    **dict.fromkeys(("base", "count", "rank", "rank_csi", "rank_csi_equal", "rank_change", "priority"), WHOLE),
}


class XlsxOutput:
    id = "xlsx"
    description = "results.xlsx: league tables per segment, drivers, priorities, items, account, banners (openpyxl)."
    depends_only_on_results = True  # its files are copied from the cache when the results are unchanged

    def write(self, results, study, out_dir):
        workbook = new_workbook()
        for segment in results.segments:
            add_sheet(workbook, f"League {segment.label}", league_table(results, segment.id), formats=FORMATS,
                      text=safe_cell, freeze="C2")
        add_sheet(workbook, "Drivers", importance_table(results), formats=FORMATS, text=safe_cell, freeze="H2")
        add_sheet(workbook, "Priorities", priority_table(results), formats=FORMATS, text=safe_cell, freeze="H2")
        add_sheet(workbook, "Items", item_table(results), formats=FORMATS, text=safe_cell, freeze="B2")
        add_sheet(workbook, "Account", account_table(results), formats=FORMATS, text=safe_cell)
        for banner in results.banners:
            sheet = add_sheet(workbook, f"Banner {banner['id']}", banner_grid(banner), text=safe_cell, freeze="C2")
            for row, statistic in enumerate(["base", "base"] + [r["statistic"] for r in banner["rows"]], start=2):
                number_format = WHOLE if statistic == "base" else ONE_DECIMAL
                for cell in sheet[row][2:]:
                    if isinstance(cell.value, (int, float)):
                        cell.number_format = number_format
        workbook.properties.title = results.study.get("title", "")
        path = out_dir / "results.xlsx"
        save(workbook, path)
        return [path.relative_to(out_dir)]


@hookimpl
def surveyengine_register_outputs(registry):
    registry.add(XlsxOutput)
