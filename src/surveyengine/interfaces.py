"""The protocols that plugin components follow.

A component is a class with a unique kebab-case ``id`` (what YAML and the CLI
name) and a one-line ``description``; registries check the protocol when a
plugin adds it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, runtime_checkable

if TYPE_CHECKING:
    import numpy as np

    from .data import RawTable
    from .model import Questionnaire
    from .results import Metric, Results
    from .study import Study
    from .views import View


@runtime_checkable
class Reader(Protocol):
    """Reads one response file into a :class:`~surveyengine.data.RawTable` of named columns."""

    id: ClassVar[str]
    description: ClassVar[str]
    extensions: ClassVar[tuple[str, ...]]

    def read(self, path: Path, options: dict[str, Any]) -> RawTable: ...


@runtime_checkable
class Scorer(Protocol):
    """Computes metrics for every group of a view at once, from merged statistics only.

    ``score`` returns :class:`~surveyengine.results.Metric` objects whose arrays
    have one entry per group of ``view`` (a total, the waves, the dealers ...).
    """

    id: ClassVar[str]
    description: ClassVar[str]

    def score(self, view: View, study: Study) -> list[Metric]: ...


@runtime_checkable
class Weighter(Protocol):
    """Derives importance of drivers from a correlation matrix (scikit-learn style).

    ``__init__`` only stores parameters (the questionnaire's ``index.options.<id>``);
    ``fit(corr, target, drivers)`` sets ``importance_`` (one value per driver, in
    ``drivers`` order) and ``r2_`` and returns ``self``. A weighter whose class sets
    ``stacks = True`` also takes a stack ``(..., k, k)`` and keeps the leading axes
    in ``importance_`` and ``r2_``, so every unit and bootstrap draw is one call;
    others are fitted matrix by matrix. Optional: ``standard_error_`` (sampling
    error of a sampled method), ``warnings_`` (sentences for the report).
    """

    id: ClassVar[str]
    description: ClassVar[str]

    def fit(self, corr: np.ndarray, target: int, drivers: list[int]) -> Weighter: ...


@runtime_checkable
class StructuralModel(Protocol):
    """Estimates a structural equation model from the indicators' correlation matrices (stacks ``(..., k, k)``).

    ``__init__`` takes the questionnaire's ``model`` settings (``scheme``, ``tolerance``,
    ``max_iterations``); ``fit(corr, blocks, paths)`` returns a
    :class:`~surveyengine.pls.PLSFit`-shaped result: ``weights`` and ``loadings`` per
    construct, ``coefficients`` (i -> j at ``[i, j]``), ``r2``, ``total_effects``,
    ``iterations`` and ``converged``, all keeping the leading axes of ``corr``.
    """

    id: ClassVar[str]
    description: ClassVar[str]

    def fit(self, corr: np.ndarray, blocks: list[list[int]], paths: np.ndarray) -> Any: ...


@runtime_checkable
class Output(Protocol):
    """Writes the results in one format into the output folder.

    An output may set ``depends_only_on_results = True`` when its files are a function of the results and
    the study config alone (not of the theme, the clock or anything else): a rebuild of unchanged results
    then copies its files from the last build instead of calling ``write``. It may define a static
    ``check(study)`` raising a ``DataError`` when it cannot write (a missing library): the build calls it
    before reading any data.
    """

    id: ClassVar[str]
    description: ClassVar[str]

    def write(self, results: Results, study: Study, out_dir: Path) -> list[Path]: ...


@runtime_checkable
class Exporter(Protocol):
    """Writes a questionnaire in another platform's format, for fieldwork (``surveyengine export``).

    ``export(questionnaire, language)`` returns the file's bytes; ``language`` is
    the form's default language (one of ``questionnaire.languages``); formats that
    hold translations include every language. ``extension`` ends the default file
    name, e.g. ``".xlsx"``.
    """

    id: ClassVar[str]
    description: ClassVar[str]
    extension: ClassVar[str]

    def export(self, questionnaire: Questionnaire, language: str) -> bytes: ...
