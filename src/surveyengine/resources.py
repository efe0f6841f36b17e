"""Where the packaged folders (built-in plugins, themes, example questionnaires, schema) are.

A wheel carries them inside the package (``pyproject.toml`` force-includes
them); an editable install or a checkout finds them at the top of the repository.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

_IN_WHEEL = {"plugins": "builtins", "themes": "themes", "questionnaires": "questionnaires", "schema": "schema"}


def resource_dir(name: str) -> Path:
    """The folder ``plugins``, ``themes``, ``questionnaires`` or ``schema``."""
    packaged = Path(str(resources.files("surveyengine"))) / _IN_WHEEL[name]
    if packaged.is_dir():
        return packaged
    checkout = Path(__file__).resolve().parents[2] / name
    if checkout.is_dir():
        return checkout
    raise FileNotFoundError(f"surveyengine is installed without its '{name}' folder (looked in {packaged})")
