"""The static report site: themes, templates, Markdown, and an atomic, deterministic build."""

from .builder import build_site
from .themes import Theme, installed_themes, load_theme

__all__ = ["Theme", "build_site", "installed_themes", "load_theme"]
