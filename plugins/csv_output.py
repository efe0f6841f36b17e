"""Tidy CSV tables (UTF-8): metrics, distributions, importance, priorities, account and exclusions."""

from __future__ import annotations

from surveyengine import hookimpl
from surveyengine.tables import (
    account_table,
    banner_table,
    distribution_table,
    exclusion_table,
    importance_table,
    metric_table,
    priority_table,
    to_arrow,
)


class CsvOutput:
    id = "csv"
    description = ("Tidy CSV tables (UTF-8): metrics, distributions, importance, priorities, account, exclusions, "
                   "banners; formula-looking text escaped.")
    depends_only_on_results = True  # its files are copied from the cache when the results are unchanged

    def write(self, results, study, out_dir):
        import pyarrow.csv as pacsv

        folder = out_dir / "tables"
        folder.mkdir(exist_ok=True)
        tables = {"metrics": metric_table(results), "distributions": distribution_table(results),
                  "importance": importance_table(results), "priorities": priority_table(results),
                  "account": account_table(results), "exclusions": exclusion_table(results)}
        if results.banners:
            tables["banners"] = banner_table(results)
        for name, columns in tables.items():
            pacsv.write_csv(to_arrow(columns), str(folder / f"{name}.csv"))
        return [p.relative_to(out_dir) for p in sorted(folder.iterdir())]


@hookimpl
def surveyengine_register_outputs(registry):
    registry.add(CsvOutput)
