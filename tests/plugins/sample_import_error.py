"""Sample plugin that fails to import: the module it needs does not exist."""

from __future__ import annotations

from surveyengine import hookimpl

import surveyengine_no_such_module  # noqa: F401  (the line the error must name)


@hookimpl
def surveyengine_register_scorers(registry):
    pass
