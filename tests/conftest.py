"""Shared fixtures."""

from __future__ import annotations

import pytest

from surveyengine.plugins import PluginManager, get_plugin_manager


@pytest.fixture
def pm() -> PluginManager:
    """A new plugin manager with the built-in plugins and no entry points."""
    return get_plugin_manager(entry_points=False)
