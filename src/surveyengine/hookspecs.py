"""Every hook a surveyengine plugin may implement.

Hooks are named ``surveyengine_<verb>_<noun>``: ``register_*`` hooks add
components to a registry, ``detect_*`` hooks answer a question (the first
non-None answer wins). Implement them in a module with
``from surveyengine import hookimpl``; arguments are passed by keyword, and an
implementation may accept only the arguments it needs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from pathlib import Path

    import click

    from .registry import Registry

hookspec = pluggy.HookspecMarker("surveyengine")


@hookspec
def surveyengine_register_readers(registry: Registry) -> None:
    """Add response-data readers.

    Runs once, when the readers are first needed. Call ``registry.add(ReaderClass)``;
    the class follows :class:`surveyengine.interfaces.Reader`.
    """


@hookspec(firstresult=True)
def surveyengine_detect_reader(path: Path, options: dict[str, Any]) -> str | None:
    """Choose the reader for a data file whose format the study config does not declare.

    Runs once per data file. ``path`` is the file, ``options`` its options from the
    study config. Return a reader id, or None to let other plugins decide.
    Stops at first non-None result.
    """


@hookspec
def surveyengine_register_scorers(registry: Registry) -> None:
    """Add scorers: metrics computed from the merged cell statistics.

    Runs once per build. Call ``registry.add(ScorerClass)``; the class follows
    :class:`surveyengine.interfaces.Scorer`.
    """


@hookspec
def surveyengine_register_weighters(registry: Registry) -> None:
    """Add weighters: methods that derive driver importance from moments.

    Runs once per validation or build. Call ``registry.add(WeighterClass)``; the
    class follows :class:`surveyengine.interfaces.Weighter`. Its ``id`` is what
    ``index.method`` names in the questionnaire.
    """


@hookspec
def surveyengine_register_models(registry: Registry) -> None:
    """Add structural-model estimators (PLS path modelling, ...).

    Runs once per validation or build. Call ``registry.add(ModelClass)``; the
    class follows :class:`surveyengine.interfaces.StructuralModel`. Its ``id`` is
    what ``model.method`` names in the questionnaire.
    """


@hookspec
def surveyengine_register_outputs(registry: Registry) -> None:
    """Add output formats (html, json, ...), chosen with ``build --format``.

    Runs once per build. Call ``registry.add(OutputClass)``; the class follows
    :class:`surveyengine.interfaces.Output`.
    """


@hookspec
def surveyengine_register_commands(cli: click.Group) -> None:
    """Add commands to the ``surveyengine`` command line.

    Runs when the CLI starts. Use ``@cli.command()`` as in click.
    """
