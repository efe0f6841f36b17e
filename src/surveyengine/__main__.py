"""``python -m surveyengine``: the same command line as ``surveyengine``."""

from surveyengine.cli import main

main()
