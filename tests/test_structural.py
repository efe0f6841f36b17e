"""The structural model (PLS path modelling) through a build, its validation, weighted PLS, the construct indices,
the bootstrap, and measurement quality. Published reference figures are in test_pls_reference.py."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from surveyengine.build import build
from surveyengine.cli import cli
from surveyengine.importance import wishart_correlations
from surveyengine.measurement import assess, htmt, principal_loadings
from surveyengine.pls import fit_pls
from surveyengine.study import load_study

MOBI = Path(__file__).resolve().parents[2] / "shared" / "reference-data" / "ecsi-mobi.csv"
BLOCKS = {"IMAG": ["IMAG1", "IMAG2", "IMAG3", "IMAG4", "IMAG5"], "CUEX": ["CUEX1", "CUEX2", "CUEX3"],
          "PERQ": [f"PERQ{i}" for i in range(1, 8)], "PERV": ["PERV1", "PERV2"], "CUSA": ["CUSA1", "CUSA2", "CUSA3"],
          "CUSCO": ["CUSCO"], "CUSL": ["CUSL1", "CUSL2", "CUSL3"]}
PATHS = {"IMAG": ["CUEX", "CUSA", "CUSL"], "CUEX": ["PERQ", "PERV", "CUSA"], "PERQ": ["PERV", "CUSA"],
         "PERV": ["CUSA"], "CUSA": ["CUSCO", "CUSL"], "CUSCO": ["CUSL"]}


def mobi_model() -> tuple[np.ndarray, list[list[int]], np.ndarray]:
    if not MOBI.exists():
        pytest.skip("../shared/reference-data is not beside the repository")
    rows = pd.read_csv(MOBI).iloc[:, 1:]
    columns = [c for block in BLOCKS.values() for c in block]
    data = rows[columns].to_numpy(float)
    names = list(BLOCKS)
    blocks, start = [], 0
    for block in BLOCKS.values():
        blocks.append(list(range(start, start + len(block))))
        start += len(block)
    paths = np.zeros((len(names), len(names)), dtype=bool)
    for source, targets in PATHS.items():
        for target in targets:
            paths[names.index(source), names.index(target)] = True
    return data, blocks, paths


def weighted_corr(data: np.ndarray, w: np.ndarray) -> np.ndarray:
    cov = np.cov(data, rowvar=False, aweights=w)
    d = np.sqrt(np.diag(cov))
    return cov / np.outer(d, d)


def test_weighted_pls_equals_pls_on_the_rows_the_weights_stand_for() -> None:
    """Weighted PLS: a respondent with weight 2 counts as two identical respondents."""
    data, blocks, paths = mobi_model()
    w = np.ones(len(data))
    w[:80] = 2.0
    weighted = fit_pls(weighted_corr(data, w), blocks, paths)
    duplicated = fit_pls(np.corrcoef(np.vstack([data, data[:80]]), rowvar=False), blocks, paths)
    np.testing.assert_allclose(weighted.coefficients, duplicated.coefficients, atol=1e-10)
    for a, b in zip(weighted.weights, duplicated.weights):
        np.testing.assert_allclose(a, b, atol=1e-10)
    plain = fit_pls(np.corrcoef(data, rowvar=False), blocks, paths)
    assert np.abs(plain.coefficients - weighted.coefficients).max() > 1e-3  # the weights did matter


def test_a_stack_of_matrices_is_fitted_slice_by_slice() -> None:
    data, blocks, paths = mobi_model()
    first, second = np.corrcoef(data[:150], rowvar=False), np.corrcoef(data[100:], rowvar=False)
    both = fit_pls(np.stack([first, second]), blocks, paths)
    for k, corr in enumerate((first, second)):
        alone = fit_pls(corr, blocks, paths)
        np.testing.assert_allclose(both.coefficients[k], alone.coefficients, atol=1e-9)
        np.testing.assert_allclose(both.r2[k], alone.r2, atol=1e-9)
    assert both.converged.all()


def test_total_effects_add_the_indirect_paths() -> None:
    data, blocks, paths = mobi_model()
    fit = fit_pls(np.corrcoef(data, rowvar=False), blocks, paths)
    b = fit.coefficients
    names = list(BLOCKS)
    i, j = names.index("IMAG"), names.index("CUSL")
    # IMAG -> CUSL directly, through CUSA, through CUEX -> CUSA, ... : (I - B)^-1 - I sums every path
    walks = sum(np.linalg.matrix_power(b, n) for n in range(1, len(names)))
    assert fit.total_effects[i, j] == pytest.approx(walks[i, j], abs=1e-12)
    assert fit.total_effects[i, j] != pytest.approx(b[i, j], abs=1e-3)


def test_the_parametric_bootstrap_agrees_with_a_row_bootstrap_on_mobi() -> None:
    """Standard errors of the path coefficients: Wishart draws of the correlation matrix against resampled
    respondents. On these 250 real, skewed ten-point answers the normal-theory draws give smaller standard
    errors: measured 0.58-1.08 times the row bootstrap's, median about 0.8 (docs/methodology.md says so)."""
    data, blocks, paths = mobi_model()
    corr = np.corrcoef(data, rowvar=False)
    rng = np.random.default_rng(3)
    picks = rng.integers(0, len(data), size=(400, len(data)))
    rows = fit_pls(np.stack([np.corrcoef(data[p], rowvar=False) for p in picks]), blocks, paths)
    draws = fit_pls(wishart_correlations(corr[None], np.array([len(data) - 1.0]), 400, rng)[0], blocks, paths)
    se_rows, se_wishart = rows.coefficients.std(axis=0), draws.coefficients.std(axis=0)
    on = paths
    ratio = se_wishart[on] / se_rows[on]
    assert np.all((ratio > 0.5) & (ratio < 1.25)), ratio
    assert 0.7 < np.median(ratio) < 0.95, ratio


def test_measurement_quality_by_hand() -> None:
    rng = np.random.default_rng(4)
    latent = rng.normal(size=(2000, 2))
    latent[:, 1] = 0.5 * latent[:, 0] + np.sqrt(0.75) * latent[:, 1]
    loadings = np.array([0.9, 0.8, 0.7, 0.3])
    items = np.column_stack([latent[:, 0:1] * loadings + rng.normal(size=(2000, 4)) * np.sqrt(1 - loadings**2),
                             latent[:, 1:2] * 0.8 + rng.normal(size=(2000, 3)) * 0.6])
    corr = np.corrcoef(items, rowvar=False)
    cov = np.cov(items, rowvar=False)
    out = assess(["a", "b"], [["a1", "a2", "a3", "a4"], ["b1", "b2", "b3"]], corr, cov)
    a = out["blocks"][0]
    lam = principal_loadings(corr[:4, :4])
    assert a["composite_reliability"] == pytest.approx(lam.sum() ** 2 / (lam.sum() ** 2 + (1 - lam**2).sum()),
                                                       rel=1e-5)
    assert a["ave"] == pytest.approx(np.mean(lam**2), rel=1e-5)
    k = 4
    assert a["alpha"] == pytest.approx(k / (k - 1) * (1 - np.trace(cov[:4, :4]) / cov[:4, :4].sum()), rel=1e-5)
    assert any("'a4'" in flag for flag in a["flags"])  # the item planted with loading 0.3
    assert not out["blocks"][1]["flags"]
    ratio = htmt(corr, [[0, 1, 2, 3], [4, 5, 6]])[0, 1]
    assert 0.4 < ratio < 0.7 and out["htmt"][0]["htmt"] == pytest.approx(ratio, rel=1e-5)  # latent r = 0.5


# --------------------------------------------------------------------------- through a build


@pytest.fixture(scope="module")
def acsi(tmp_path_factory) -> tuple[dict, Path]:
    from surveyengine.plugins import get_plugin_manager

    root = tmp_path_factory.mktemp("acsi") / "study"
    result = CliRunner().invoke(cli, ["init", str(root), "--example", "acsi", "--n", "2000"])
    assert result.exit_code == 0, result.output
    pm = get_plugin_manager(entry_points=False)
    report = build(load_study(root, pm), pm, root / "site", ("json",), use_cache=False)
    return json.loads((report.out_dir / "results.json").read_text(encoding="utf-8")), root


def test_the_acsi_example_estimates_its_model(acsi) -> None:
    results, _ = acsi
    model = results["model"]
    assert model["estimated"] and model["converged"] and model["method"] == "pls" and model["scheme"] == "path"
    assert model["bootstrap"] == {"draws": 500, "converged": 500, "kind": "replicate groups"}
    assert len(model["paths"]) == 12
    for path in model["paths"]:
        assert path["ci_low"] <= path["coefficient"] <= path["ci_high"] and path["se"] > 0
    satisfaction = next(c for c in model["constructs"] if c["id"] == "satisfaction")
    assert satisfaction["endogenous"] and 0.3 < satisfaction["r2"] < 1
    assert [i["id"] for i in satisfaction["items"]] == ["sat1", "sat2", "sat3"]
    for construct in model["constructs"]:
        assert sum(i["unstandardized_weight"] for i in construct["items"]) == pytest.approx(1, abs=1e-5)


def test_construct_indices_apply_unstandardized_weights_to_each_groups_item_means(acsi) -> None:
    results, root = acsi
    model = results["model"]
    rows = pd.read_csv(root / "data" / "responses.csv")
    columns = {"sat1": "CUSA1", "sat2": "CUSA2", "sat3": "CUSA3"}
    satisfaction = next(c for c in model["constructs"] if c["id"] == "satisfaction")
    weights = {i["id"]: i["unstandardized_weight"] for i in satisfaction["items"]}

    def index(frame: pd.DataFrame) -> float:
        means = {item: pd.to_numeric(frame[column], errors="coerce").where(lambda x: x.between(1, 10)).mean()
                 for item, column in columns.items()}
        return sum(weights[i] * (means[i] - 1) for i in weights) / sum(weights[i] * 9 for i in weights) * 100

    assert results["total"]["model"]["indices"]["satisfaction"] == pytest.approx(index(rows), rel=2e-4)
    for wave in results["waves"]:  # waves have no model of their own: the total's weights on their means
        assert wave["model"]["source"] == "total"
    operators = next(s for s in results["segments"] if s["id"] == "operator")["units"]
    for unit in operators:
        assert unit["model"]["source"] == "own" and set(unit["model"]["coefficients"]) == {
            f"{p['from']}->{p['to']}" for p in model["paths"]}


def test_measurement_quality_of_factors_and_constructs(acsi) -> None:
    measurement = acsi[0]["measurement"]
    assert measurement["thresholds"]["htmt"] == 0.85
    factors = {b["id"]: b for b in measurement["factors"]["blocks"]}
    constructs = {b["id"]: b for b in measurement["constructs"]["blocks"]}
    assert {"image", "expectations", "quality", "value", "loyalty"} <= set(factors)
    assert set(constructs) == {"image", "expectations", "quality", "value", "satisfaction", "complaints", "loyalty"}
    model = {c["id"]: c for c in acsi[0]["model"]["constructs"]}
    assert [i["loading"] for i in constructs["image"]["items"]] == [i["loading"] for i in model["image"]["items"]]
    for block in constructs.values():
        for flag in block["flags"]:
            assert "below" in flag or "above" in flag


def test_a_broken_model_is_reported_with_its_place(tmp_path: Path) -> None:
    root = tmp_path / "study"
    assert CliRunner().invoke(cli, ["init", str(root), "--example", "acsi", "--n", "50"]).exit_code == 0
    path = root / "questionnaire.yaml"
    text = path.read_text(encoding="utf-8")
    text = text.replace("    complaints: [loyalty]\n", "    complaints: [loyalty, imagee]\n    loyalty: [image]\n")
    text = text.replace("    - {id: complaints, factor: complaints}\n",
                        "    - {id: complaints, factor: complaints}\n    - {id: empty}\n")
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(root)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    lines = text.splitlines()
    empty = next(n for n, line in enumerate(lines, 1) if "{id: empty}" in line)
    assert f"questionnaire.yaml:{empty}:7: construct 'empty' has no items" in result.output
    assert "path to unknown construct 'imagee' (did you mean 'image'?)" in result.output
    assert "the paths form a cycle: image -> expectations -> quality -> value -> satisfaction -> complaints " \
           "-> loyalty -> image" in result.output


def test_an_unknown_model_method_is_reported_with_its_place(tmp_path: Path) -> None:
    root = tmp_path / "study"
    assert CliRunner().invoke(cli, ["init", str(root), "--example", "acsi", "--n", "50"]).exit_code == 0
    path = root / "questionnaire.yaml"
    text = path.read_text(encoding="utf-8").replace("model:\n", "model:\n  method: plss\n", 1)
    path.write_text(text, encoding="utf-8")
    result = CliRunner().invoke(cli, ["validate", str(root)])
    assert result.exit_code == 2 and "Traceback" not in result.output
    line = text.splitlines().index("  method: plss") + 1
    assert f"questionnaire.yaml:{line}:11: unknown structural-model method 'plss' (did you mean 'pls'?); " \
           "installed: pls" in result.output
