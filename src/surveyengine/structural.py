"""The structural model (ACSI / ECSI) and measurement quality, from the item block's cross-products.

The questionnaire's ``model`` declares constructs (each measured by rating
items) and paths. The estimator plugin (``model.method``, PLS by default) fits
it from the indicators' pairwise correlations — weighted when respondents are —
for the total and for every segment unit whose base reaches ``model.min_base``.
Standard errors and intervals come from the same parametric bootstrap as
importance (correlation matrices redrawn from their Wishart distribution; see
``importance.py``): the total's model by default, every unit's with
``bootstrap_units``. Draws that do not converge are left out and counted.

The ACSI-style 0-100 index of each construct uses its unstandardized outer
weights ``w̃_i = w_i / sd_i``, normalised to sum 1:
``index = Σ w̃_i (x̄_i − lo_i) / Σ w̃_i (hi_i − lo_i) · 100``. A group without a
model of its own (a small unit, a wave, a unit in a wave) applies the total's
weights to its own item means, so every group has indices on one yardstick.

The measurement quality of the constructs (reliability, AVE, HTMT) is in
``measurement.py``, which uses the loadings estimated here.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from .importance import block_correlations, wishart_correlations
from .plugins import plugin_errors
from .regression import nearest_correlation
from .results import clean, clean_array

if TYPE_CHECKING:
    from .model import Questionnaire
    from .plugins import PluginManager
    from .study import Study
    from .views import View

@dataclass(frozen=True)
class Layout:
    """The model as index arrays: constructs, their indicators (item ids, in one list), the paths."""

    constructs: tuple[str, ...]
    labels: tuple[str, ...]
    indicators: tuple[str, ...]
    blocks: tuple[tuple[int, ...], ...]  # per construct: positions in ``indicators``
    paths: np.ndarray  # (c, c) bool, i -> j

    def path_names(self) -> list[tuple[int, int]]:
        return [(int(i), int(j)) for i, j in zip(*np.nonzero(self.paths))]


def layout_of(q: Questionnaire, available: set[str]) -> Layout | None:
    if q.model is None:
        return None
    constructs, labels, indicators, blocks = [], [], [], []
    factor_labels = {f.id: f.label for f in q.walk_factors()}
    for construct in q.model.constructs:
        items = [i for i in q.construct_items(construct) if i in available]
        constructs.append(construct.id)
        label = construct.label or factor_labels.get(construct.factor or construct.id)
        labels.append(q.text(label) if label is not None else construct.id)
        blocks.append(tuple(range(len(indicators), len(indicators) + len(items))))
        indicators.extend(items)
    position = {c: k for k, c in enumerate(constructs)}
    paths = np.zeros((len(constructs), len(constructs)), dtype=bool)
    for source, targets in q.model.paths.items():
        for target in targets:
            paths[position[source], position[target]] = True
    return Layout(tuple(constructs), tuple(labels), tuple(indicators), tuple(blocks), paths)


def _unstandardized(weights: list[np.ndarray], sds: np.ndarray,
                    blocks: tuple[tuple[int, ...], ...]) -> list[np.ndarray]:
    """Per construct: outer weights on the items' own scales, normalised to sum 1."""
    out = []
    for w, block in zip(weights, blocks):
        raw = w / sds[..., list(block)]
        out.append(raw / raw.sum(axis=-1, keepdims=True))
    return out


class StructuralStage:
    def __init__(self, study: Study, pm: PluginManager, layout: Layout):
        self.study = study
        self.q = study.questionnaire
        self.settings = self.q.model
        assert self.settings is not None
        self.layout = layout
        registry = pm.registry("models")
        method = self.settings.method
        self.owner = registry.owner(method) if method in registry else None
        cls = registry.get(method)
        with plugin_errors(f"model '{method}'", self.owner):
            self.estimator = cls(scheme=self.settings.scheme, tolerance=self.settings.tolerance,
                                 max_iterations=self.settings.max_iterations)

    def _fit(self, matrices: np.ndarray) -> Any:
        with plugin_errors(f"model '{self.settings.method}'", self.owner):
            return self.estimator.fit(matrices, [list(b) for b in self.layout.blocks], self.layout.paths)

    def fit_view(self, view: View, key: str, total: bool) -> dict[str, Any] | None:
        """The model for every group of ``view`` with enough respondents (the total: whenever possible)."""
        found = block_correlations(view, self.layout.indicators, "item")
        if found is None:
            return None
        corr, base = found
        k = len(self.layout.indicators)
        finite = np.isfinite(corr).all(axis=(1, 2))
        usable = finite & (base >= (k + 2 if total else max(self.settings.min_base, k + 2)))
        result: dict[str, Any] = {"usable": usable, "base": base}
        if not usable.any():
            return result
        matrices, repaired = nearest_correlation(corr[usable])
        result["fit"] = self._fit(matrices)
        result["repaired"] = repaired
        if self.settings.bootstrap and (total or self.settings.bootstrap_units):
            result["bootstrap"] = self._bootstrap(matrices, base[usable], key)
        return result

    def _bootstrap(self, matrices: np.ndarray, base: np.ndarray, key: str) -> dict[str, Any]:
        rng = np.random.default_rng([self.q.index.seed, *key.encode(), *b"model"])
        draws = self.settings.bootstrap
        groups = matrices.shape[0]
        coefficients, r2, weights, loadings, converged = [], [], [], [], []
        step = max(1, 20000 // max(draws, 1))  # groups per batch: bounds memory to some 20,000 matrices
        for start in range(0, groups, step):
            chunk = wishart_correlations(matrices[start:start + step], np.maximum(base[start:start + step] - 1, 1.0),
                                         draws, rng)
            fitted = self._fit(chunk)
            coefficients.append(fitted.coefficients)
            r2.append(fitted.r2)
            weights.append(np.concatenate(fitted.weights, axis=-1))
            loadings.append(np.concatenate(fitted.loadings, axis=-1))
            converged.append(np.asarray(fitted.converged))
        ok = np.concatenate(converged)
        out = {"draws": draws, "converged": ok.sum(axis=1)}
        for name, parts in (("coefficients", coefficients), ("r2", r2), ("weights", weights), ("loadings", loadings)):
            values = np.concatenate(parts)
            values = np.where(ok.reshape(ok.shape + (1,) * (values.ndim - 2)), values, np.nan)
            with warnings.catch_warnings():  # an exogenous construct's R² is NaN in every draw: so are its bounds
                warnings.simplefilter("ignore", RuntimeWarning)
                out[name] = {"se": np.nanstd(values, axis=1, ddof=1),
                             "low": np.nanpercentile(values, 2.5, axis=1),
                             "high": np.nanpercentile(values, 97.5, axis=1)}
        return out

    # ------------------------------------------------------------------ indices

    def indices(self, view: View, weights: list[np.ndarray]) -> np.ndarray:
        """The 0-100 index of every construct per group: the unstandardized weights ``weights`` (per construct,
        (groups, block) or (block,)) applied to the group's own item means."""
        cells = view.cells
        names = cells.variables
        means = cells.mean()[:, [names.index(i) for i in self.layout.indicators]]
        low = np.array([self.q.scale_of(self.q.item(i)).min for i in self.layout.indicators], dtype=np.float64)
        high = np.array([self.q.scale_of(self.q.item(i)).max for i in self.layout.indicators], dtype=np.float64)
        out = np.full((view.groups, len(self.layout.constructs)), np.nan)
        for c, (block, w) in enumerate(zip(self.layout.blocks, weights)):
            columns = list(block)
            w = np.broadcast_to(w, (view.groups, len(columns)))
            with np.errstate(invalid="ignore"):
                out[:, c] = (np.einsum("gi,gi->g", w, means[:, columns] - low[columns])
                             / np.einsum("gi,i->g", w, high[columns] - low[columns]) * 100)
        return out

    def item_sds(self, view: View) -> np.ndarray:
        names = view.cells.variables
        return np.sqrt(view.cells.variance()[:, [names.index(i) for i in self.layout.indicators]])


def _paths_dict(layout: Layout, values: np.ndarray) -> dict[str, Any]:
    return {f"{layout.constructs[i]}->{layout.constructs[j]}": clean(float(values[i, j]))
            for i, j in layout.path_names()}


def estimate(study: Study, pm: PluginManager, views: dict[str, View]) -> tuple[dict[str, Any], dict[str, list[dict]]]:
    """The ``model`` section of the results and, per view name, each group's ``model`` entry."""
    q = study.questionnaire
    total_view = views["total"]
    plan = total_view.cells.plan
    if q.model is None or plan is None or total_view.cross is None:
        return {}, {}
    available = {plan.variables[v] for v in total_view.cross.variables}
    layout = layout_of(q, available)
    assert layout is not None
    stage = StructuralStage(study, pm, layout)
    total = stage.fit_view(total_view, "total", True)
    if total is None or "fit" not in total:
        return {"constructs": list(layout.constructs), "estimated": False,
                "note": "too few respondents with every indicator for a structural model"}, {}
    fitted = total["fit"]
    sds = stage.item_sds(total_view)
    total_weights = [w[0] for w in _unstandardized(fitted.weights, sds, layout.blocks)]
    per_view: dict[str, list[dict[str, Any]]] = {}
    for name, view in views.items():
        if name == "total":
            continue
        own = stage.fit_view(view, name, False) if name.startswith("segment:") and not view.by_wave else None
        weights: list[np.ndarray] = [np.broadcast_to(w, (view.groups, w.size)).copy() for w in total_weights]
        source = ["total"] * view.groups
        if own is not None and "fit" in own:
            rows = np.flatnonzero(own["usable"])
            unit_weights = _unstandardized(own["fit"].weights, stage.item_sds(view)[rows], layout.blocks)
            for c, w in enumerate(unit_weights):
                weights[c][rows] = w
            for r in rows:
                source[r] = "own"
        values = stage.indices(view, weights)
        entries = []
        for g in range(view.groups):
            entry: dict[str, Any] = {"source": source[g],
                                     "indices": dict(zip(layout.constructs, clean_array(values[g])))}
            entries.append(entry)
        if own is not None and "fit" in own:
            for position, g in enumerate(np.flatnonzero(own["usable"])):
                fit = own["fit"]
                entries[g].update({"base": clean(own["base"][g]),
                                   "coefficients": _paths_dict(layout, fit.coefficients[position]),
                                   "r2": {c: clean(v) for c, v in zip(layout.constructs, fit.r2[position])
                                          if np.isfinite(v)},
                                   "converged": bool(np.asarray(fit.converged)[position])})
        per_view[name] = entries
    per_view["total"] = [{"source": "own", "indices": dict(zip(layout.constructs,
                                                                 clean_array(stage.indices(total_view,
                                                                                           total_weights)[0])))}]
    return _model_section(q, layout, total, total_weights), per_view


def _model_section(q: Questionnaire, layout: Layout, total: dict[str, Any],
                   unstandardized: list[np.ndarray]) -> dict[str, Any]:
    fit = total["fit"]
    boot = total.get("bootstrap")
    settings = q.model
    assert settings is not None
    paths = []
    for i, j in layout.path_names():
        entry = {"from": layout.constructs[i], "to": layout.constructs[j],
                 "coefficient": clean(fit.coefficients[0, i, j]),
                 "total_effect": clean(fit.total_effects[0, i, j])}
        if boot is not None:
            entry.update({"se": clean(boot["coefficients"]["se"][0, i, j]),
                          "ci_low": clean(boot["coefficients"]["low"][0, i, j]),
                          "ci_high": clean(boot["coefficients"]["high"][0, i, j])})
        paths.append(entry)
    constructs = []
    offset = 0
    for c, (construct, label, block) in enumerate(zip(layout.constructs, layout.labels, layout.blocks)):
        items = []
        for position, item_index in enumerate(block):
            item: dict[str, Any] = {"id": layout.indicators[item_index],
                                    "weight": clean(fit.weights[c][0, position]),
                                    "unstandardized_weight": clean(unstandardized[c][position]),
                                    "loading": clean(fit.loadings[c][0, position])}
            if boot is not None:
                for name in ("weights", "loadings"):
                    short = name[:-1]
                    item[f"{short}_se"] = clean(boot[name]["se"][0, offset + position])
                    item[f"{short}_ci_low"] = clean(boot[name]["low"][0, offset + position])
                    item[f"{short}_ci_high"] = clean(boot[name]["high"][0, offset + position])
            items.append(item)
        offset += len(block)
        entry = {"id": construct, "label": label, "items": items,
                 "endogenous": bool(layout.paths[:, c].any()),
                 "r2": clean(fit.r2[0, c]) if np.isfinite(fit.r2[0, c]) else None}
        if boot is not None and np.isfinite(fit.r2[0, c]):
            entry.update({"r2_ci_low": clean(boot["r2"]["low"][0, c]), "r2_ci_high": clean(boot["r2"]["high"][0, c])})
        constructs.append(entry)
    return {
        "method": settings.method, "scheme": settings.scheme, "tolerance": settings.tolerance,
        "max_iterations": settings.max_iterations, "iterations": int(fit.iterations),
        "converged": bool(np.all(fit.converged)), "estimated": True, "base": clean(total["base"][0]),
        "repaired": bool(total["repaired"][0]),
        "bootstrap": {"draws": boot["draws"], "converged": int(boot["converged"][0])} if boot is not None else None,
        "constructs": constructs, "paths": paths,
        "latent_correlations": {a: {b: clean(fit.latent_correlations[0, i, j]) for j, b in enumerate(layout.constructs)}
                                for i, a in enumerate(layout.constructs)},
    }
