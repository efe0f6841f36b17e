"""Sample plugin that adds the command ``surveyengine sample-hello``."""

from __future__ import annotations

import click

from surveyengine import hookimpl


@hookimpl
def surveyengine_register_commands(cli):
    @cli.command(name="sample-hello")
    @click.argument("name", default="world")
    def sample_hello(name):
        """Say hello (a sample plugin command)."""
        click.echo(f"hello {name} from a plugin")
