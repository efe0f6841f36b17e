"""The ``surveyengine`` command line.

Only this module turns :class:`~surveyengine.errors.SurveyEngineError` into a
message and an exit status, without a traceback (``--debug`` shows it). Heavy
libraries are imported inside the commands that use them, so ``--help`` and
``validate`` start fast.
"""

from __future__ import annotations

import json
import shutil
import sys
import traceback
from pathlib import Path
from typing import Any

import click

from . import __version__
from .errors import ExitCode, Problem, QuestionnaireError, SurveyEngineError

DEFAULT_SIMULATED_N = 3000


class _Failure(click.ClickException):
    def __init__(self, error: SurveyEngineError, debug: bool) -> None:
        super().__init__(str(error))
        self.error = error
        self.exit_code = int(error.exit_code)
        self.debug = debug

    def show(self, file: Any = None) -> None:
        stream = file or sys.stderr
        if self.debug:
            cause = self.error.__cause__ or self.error
            traceback.print_exception(type(cause), cause, cause.__traceback__, file=stream)
        if isinstance(self.error, QuestionnaireError):
            for problem in self.error.problems:
                click.echo(str(problem), file=stream)
            errors = sum(p.severity == "error" for p in self.error.problems)
            warnings = len(self.error.problems) - errors
            click.echo(f"{_plural(errors, 'error')}, {_plural(warnings, 'warning')}", file=stream)
        else:
            click.echo(f"Error: {self.error}", file=stream)


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


class SurveyEngineGroup(click.Group):
    """Turns input errors into messages; adds commands that plugins register."""

    _plugin_commands_loaded = False

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except SurveyEngineError as error:
            raise _Failure(error, bool(ctx.meta.get("surveyengine.debug"))) from error

    def _load_plugin_commands(self) -> None:
        if self._plugin_commands_loaded:
            return
        self._plugin_commands_loaded = True
        from .plugins import get_plugin_manager

        try:
            pm = get_plugin_manager()
            pm.call("surveyengine_register_commands", cli=self)
        except SurveyEngineError as error:
            click.echo(f"Error: {error}", err=True)
            sys.exit(int(error.exit_code))

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_plugin_commands()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        command = super().get_command(ctx, name)
        if command is None:
            self._load_plugin_commands()
            command = super().get_command(ctx, name)
        return command


@click.group(cls=SurveyEngineGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="surveyengine")
@click.option("--debug", is_flag=True, help="Show tracebacks of errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Customer-satisfaction questionnaires as YAML, scored and published as static report sites.

    \b
    Start:  surveyengine init demo && surveyengine build demo
    Docs:   docs/questionnaire.md, docs/plugins.md
    """
    ctx.meta["surveyengine.debug"] = debug


def _manager(plugins_dirs: tuple[Path, ...] = ()) -> Any:
    from .plugins import get_plugin_manager

    return get_plugin_manager(plugins_dirs)


def _study(target: Path, extra_plugins: tuple[Path, ...] = ()) -> tuple[Any, Any]:
    from .study import load_config, load_study

    root, _, config, _ = load_config(target)
    dirs = tuple(extra_plugins) + ((root / config.plugins,) if config.plugins else ())
    pm = _manager(dirs)
    return load_study(target, pm), pm


def _print_problems(problems: list[Problem]) -> None:
    for problem in problems:
        click.echo(str(problem), err=True)


plugins_dir_option = click.option(
    "--plugins-dir", "plugins_dirs", multiple=True, type=click.Path(file_okay=False, path_type=Path),
    help="Also load the plugins (*.py) in this folder. Repeatable.")
study_argument = click.argument("study", default=".", type=click.Path(path_type=Path))


@cli.command()
@study_argument
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Report format.")
@click.option("--strict", is_flag=True, help="Fail on warnings too.")
@click.option("--engine", type=click.Choice(["auto", "memory", "duckdb"]), default="auto", show_default=True,
              help="Where the data are read (as for build); through DuckDB only the first 10,000 excluded rows "
                   "are listed.")
@plugins_dir_option
def validate(study: Path, fmt: str, strict: bool, engine: str, plugins_dirs: tuple[Path, ...]) -> None:
    """Check the questionnaire, the study config and, if configured, the response data.

    STUDY is a study folder (with surveyengine.yaml) or a questionnaire file.
    Exit status 0 when valid, 2 when not.
    """
    from .study import load_config

    root, config_path, config, raw = load_config(study)
    loaded, pm = _study(study, plugins_dirs)
    loaded.engine = None if engine == "memory" else engine
    problems = list(loaded.warnings)
    account = None
    if raw is not None and config.data:
        from .build import engine_source

        source = engine_source(loaded)
        if source is not None:  # big Parquet files: streamed by DuckDB, never held in memory
            from .engines.summary import summarise

            summary = summarise(loaded, source)
            problems.extend(summary.findings)
            account = {**summary.account, "exclusions": summary.exclusions}
        else:
            from .data import load_responses

            responses = load_responses(loaded, pm)
            problems.extend(responses.findings)
            account = responses.account()
            account["exclusions"] = [e.as_dict() for e in responses.exclusions]
    failed = strict and bool(problems)
    if fmt == "json":
        click.echo(json.dumps({
            "valid": not failed,
            "questionnaire": loaded.questionnaire.id,
            "files": [loaded.display(f) for f in loaded.files],
            "problems": [p.as_dict() for p in problems],
            "account": account,
        }, indent=2, ensure_ascii=False))
    else:
        _print_problems(problems)
        q = loaded.questionnaire
        items = sum(1 for _ in q.all_items())
        factors = sum(1 for _ in q.walk_factors())
        click.echo(f"{loaded.display(loaded.questionnaire_path)}: questionnaire '{q.id}' is valid "
                   f"({items} items in {factors} factors, {len(q.segments)} segments, "
                   f"{_plural(len(problems), 'warning')})")
        if account is not None:
            click.echo(f"data: {account['rows_read']:,} rows read, {account['rows_used']:,} used, "
                       f"{account['rows_excluded']:,} excluded, {account['answers_set_missing']:,} answers set missing")
            for reason, count in account["excluded_by_reason"].items():
                click.echo(f"  excluded: {count:,} {reason}")
            for rule, count in account["findings_by_rule"].items():
                click.echo(f"  finding: {count:,} {rule.replace('_', ' ')}")
            for check, count in account["flagged"].items():
                click.echo(f"  flagged: {count:,} {check}")
            weighting = account.get("weighting") or {}
            if weighting:
                click.echo(f"  weights: raked in {weighting['iterations']} iterations "
                           f"({'converged' if weighting['converged'] else 'NOT converged'}), efficiency "
                           f"{weighting['efficiency']:.1%}, effective base {weighting['effective_n']:,.0f}")
    if failed:
        click.echo(f"--strict: {_plural(len(problems), 'warning')} count as errors", err=True)
        sys.exit(int(ExitCode.INVALID_INPUT))


@cli.command()
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), help="Write to this file instead of stdout.")
@plugins_dir_option
def schema(out: Path | None, plugins_dirs: tuple[Path, ...]) -> None:
    """Print the JSON Schema of questionnaires (for editor autocompletion)."""
    from .schema import questionnaire_schema

    text = json.dumps(questionnaire_schema(_manager(plugins_dirs)), indent=2, ensure_ascii=False) + "\n"
    if out is None:
        click.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        click.echo(f"wrote {out}", err=True)


@cli.command()
@click.argument("questionnaire", type=click.Path(path_type=Path))
@click.option("--n", "n", type=click.IntRange(1), default=DEFAULT_SIMULATED_N, show_default=True,
              help="Number of respondents.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed: same seed, same file.")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True,
              help="File to write; its extension picks the format: .csv, .tsv, .parquet, .jsonl, .xlsx or .sav.")
@click.option("--encoding", default="utf-8", show_default=True,
              help="Text encoding of .csv and .tsv files, e.g. gb18030 or utf-8-sig (UTF-8 with a BOM).")
@click.option("--units", "units_text", metavar="SEGMENT=N,...",
              help="How many units a segment has, e.g. region=50,dealer=500 (codes are generated).")
@click.option("--plant-faults", is_flag=True,
              help="Make four items faulty (wrong factor, pure noise, near-duplicate, ceiling), to try "
                   "'surveyengine diagnose'; the truth file lists them under 'planted'.")
def simulate(questionnaire: Path, n: int, seed: int, out: Path, encoding: str, units_text: str | None,
             plant_faults: bool) -> None:
    """Write synthetic responses that follow QUESTIONNAIRE, and a truth file beside them.

    OUT's extension picks the format. The truth file (OUT with .truth.json)
    holds the true driver weights the answers were generated from.
    """
    from . import questionnaire as qn
    from .errors import DataError
    from .simulate import simulate as run, write_truth
    from .writers import write, writer_for

    for option, check in (("'--out'", "utf-8"), ("'--encoding'", encoding)):
        try:
            writer_for(out, check)  # before simulating: an unknown extension or encoding fails at once
        except DataError as error:
            raise click.BadParameter(error.message, param_hint=option) from None
    units: dict[str, int] = {}
    for part in filter(None, (p.strip() for p in (units_text or "").split(","))):
        name, _, count = part.partition("=")
        if not count.strip().isdigit() or int(count) < 1:
            raise click.BadParameter(f"'{part}' is not SEGMENT=N with N a whole number above 0",
                                     param_hint="'--units'")
        units[name.strip()] = int(count)
    loaded = qn.load(questionnaire)
    segments = {s.id for s in loaded.questionnaire.segments}
    for name in units:
        if name not in segments:
            raise click.BadParameter(f"no segment '{name}' in the questionnaire (it has: "
                                     f"{', '.join(sorted(segments)) or 'none'})", param_hint="'--units'")
    if plant_faults:
        from .simulate import plan_faults

        if not plan_faults(loaded.questionnaire):
            raise click.BadParameter("faults need two driver factors with four or more rating items each",
                                     param_hint="'--plant-faults'")
    columns, truth = run(loaded.questionnaire, n, seed, units, faults=plant_faults)
    write(columns, out, encoding, questionnaire=loaded.questionnaire)
    truth_path = out.with_suffix(".truth.json")
    write_truth(truth, truth_path)
    click.echo(f"wrote {n:,} responses to {out} and the truth to {truth_path}", err=True)


@cli.command()
@study_argument
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="Output folder [config: output.dir].")
@click.option("--format", "formats", help="Comma-separated output formats, e.g. html,json [config: output.formats].")
@click.option("--base-url", help="Subpath the site is published under [config: output.base_url].")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors (for CI).")
@click.option("--strict", is_flag=True, help="Fail on any warning.")
@click.option("--no-cache", is_flag=True, help="Read the data and compute the statistics even if they are unchanged.")
@click.option("--engine", type=click.Choice(["auto", "memory", "duckdb"]), default="auto", show_default=True,
              help="Where the data are read: in memory, or streamed from the Parquet files by DuckDB (larger than "
                   "memory); auto: DuckDB for Parquet files over 100 MB when the duckdb extra is installed.")
@plugins_dir_option
def build(study: Path, out: Path | None, formats: str | None, base_url: str | None, quiet: bool, strict: bool,
          no_cache: bool, engine: str, plugins_dirs: tuple[Path, ...]) -> None:
    """Build the report site of STUDY (a study folder or a questionnaire file)."""
    from .build import build as run

    loaded, pm = _study(study, plugins_dirs)
    loaded.engine = None if engine == "memory" else engine
    if base_url is not None:
        output = loaded.config.output.model_copy(update={"base_url": base_url})
        loaded.config = loaded.config.model_copy(update={"output": output})
    if not quiet:
        _print_problems(loaded.warnings)
    if strict and loaded.warnings:
        raise QuestionnaireError(loaded.warnings)
    chosen = tuple(f.strip() for f in formats.split(",") if f.strip()) if formats else loaded.config.output.formats
    outputs = pm.registry("outputs")
    unknown = [f for f in chosen if f not in outputs]
    if formats and unknown:  # a wrong option is a usage error, as 'export --to' makes it (exit 2)
        raise click.BadParameter(f"unknown format '{unknown[0]}'; installed: {', '.join(outputs)}",
                                 param_hint="'--format'")
    out_dir = out if out is not None else loaded.root / loaded.config.output.dir
    report = run(loaded, pm, out_dir, chosen,
                 progress=None if quiet else (lambda message: click.echo(f"... {message}", err=True)),
                 use_cache=not no_cache)
    summary = report.summary
    if summary.findings and not quiet:
        _print_problems(summary.findings[:20])
        if len(summary.findings) > 20:
            click.echo(f"... and {len(summary.findings) - 20:,} more findings "
                       "(surveyengine validate --format json lists them)", err=True)
    if strict and (summary.findings or summary.bad_rows):
        click.echo(f"--strict: {len(summary.findings):,} findings and {summary.bad_rows:,} rows excluded for bad data",
                   err=True)
        sys.exit(int(ExitCode.INVALID_INPUT))
    if not quiet:
        account = report.results.account
        click.echo(f"built {len(report.files)} files into {out_dir} from {account['rows_used']:,} responses "
                   f"({account['rows_excluded']:,} rows excluded)")


@cli.command()
@study_argument
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", help="Report format.")
@click.option("--strict", is_flag=True, help="Exit with status 1 when anything is flagged (to gate a questionnaire in CI).")
@click.option("--no-cache", is_flag=True, help="Read the data and compute the statistics even if they are unchanged.")
@plugins_dir_option
def diagnose(study: Path, fmt: str, strict: bool, no_cache: bool, plugins_dirs: tuple[Path, ...]) -> None:
    """Questionnaire health report: reliability, factor structure, driver strength, item quality.

    STUDY is a study folder with data. Needs the diagnose extra (pip install 'surveyengine[diagnose]')
    for the confirmatory factor analysis. Exit status 1 with --strict when any item or factor is flagged.
    """
    from .build import summarise
    from .diagnostics import EXTRA_HINT, semopy_available
    from .errors import DataError
    from .scoring import score

    if not semopy_available():
        click.echo(f"Error: {EXTRA_HINT}", err=True)
        sys.exit(int(ExitCode.FAILED))
    loaded, pm = _study(study, plugins_dirs)
    if not loaded.config.data:
        raise DataError("the study has no data files: nothing to diagnose", str(loaded.config_path))
    summary, _ = summarise(loaded, pm, lambda message: None, use_cache=not no_cache)
    results = score(loaded, summary.stats, summary.labels, summary.account, pm, summary.exclusions, cfa=True)
    report = results.diagnostics
    if not report or not report.get("reliability"):
        raise DataError("no factor has two or more answered rating items: nothing to diagnose",
                        str(loaded.questionnaire_path))
    flags = report["flags"]
    if fmt == "json":
        click.echo(json.dumps({"questionnaire": loaded.questionnaire.id, "respondents": results.respondents,
                               "passed": not flags, **report}, indent=2, ensure_ascii=False, sort_keys=True))
    else:
        _print_diagnostics(loaded, results.respondents, report)
    if strict and flags:
        click.echo(f"--strict: {_plural(len(flags), 'flag')}", err=True)
        sys.exit(int(ExitCode.FAILED))


def _number(value: Any, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def _print_diagnostics(loaded: Any, respondents: int, report: dict[str, Any]) -> None:
    q = loaded.questionnaire
    language = loaded.language
    base = report.get("base")
    click.echo(f"questionnaire '{q.id}': {respondents:,} respondents"
               + (f", {base:,.0f} behind the smallest item correlation" if base is not None else ""))
    click.echo("reliability (total): alpha raw / standardized, omega total, items")
    for entry in report["reliability"]:
        click.echo(f"  {entry['id']:<24} {_number(entry['alpha'])} / {_number(entry['alpha_standardized'])}"
                   f"   omega {_number(entry['omega_total'])}   {len(entry['items'])} items")
    for segment in report["segments"]:
        alphas = [f["alpha"] for unit in segment["units"] for f in unit["factors"].values() if f["alpha"] is not None]
        if alphas:
            click.echo(f"  segment {segment['segment']}: {len(segment['units'])} units with a base of "
                       f"{segment['min_base']} or more, alpha {min(alphas):.3f} to {max(alphas):.3f}")
    cfa = report["cfa"]
    if cfa.get("estimated"):
        click.echo(f"confirmatory factor analysis (ML, n = {cfa['n']:,.0f}): chi-square {cfa['chi2']:.3f} on "
                   f"{cfa['df']} df, CFI {_number(cfa['cfi'])}, TLI {_number(cfa['tli'])}, RMSEA "
                   f"{_number(cfa['rmsea'])} (90% CI {_number(cfa['rmsea_low'])}-{_number(cfa['rmsea_high'])}), "
                   f"SRMR {_number(cfa['srmr'])}")
    else:
        click.echo(f"confirmatory factor analysis: not estimated ({cfa.get('note', 'no factor structure')})")
    efa = report.get("efa") or {}
    if efa:
        click.echo(f"exploratory hint: parallel analysis suggests {efa['parallel']['suggested']} factors; "
                   f"the questionnaire declares {len(efa['factors'])}")
    flags = report["flags"]
    if not flags:
        click.echo("no flags: every item measures its factor by these checks")
        return
    click.echo(f"{_plural(len(flags), 'flag')}:")
    for entry in flags:
        where = entry["item"] or entry["factor"] or q.id
        text = entry["advice"].get(language) or next(iter(entry["advice"].values()))
        click.echo(f"  [{entry['kind']}] {where}: {text}")


@cli.command()
@study_argument
@click.option("--import", "imports", multiple=True, type=click.Path(dir_okay=False, path_type=Path),
              help="A hand-codes file (CSV or XLSX: respondent_id, item, codes) to add to coding/hand/. Repeatable.")
@click.option("--export", type=click.Path(dir_okay=False, path_type=Path),
              help="Write the least certain comments, with suggested codes, to this CSV or XLSX for hand-coding.")
@click.option("--export-n", type=click.IntRange(1), default=200, show_default=True,
              help="How many comments to export.")
@click.option("--full", is_flag=True, help="Code every comment again, not only those new since the codes file.")
@click.option("--themes", type=click.IntRange(0, 50), default=0, show_default=True,
              help="Discover this many themes (NMF topics) in the comments no code was assigned to; "
                   "writes coding/themes.json.")
@click.option("--quiet", "-q", is_flag=True, help="Print nothing but errors.")
@plugins_dir_option
def code(study: Path, imports: tuple[Path, ...], export: Path | None, export_n: int, full: bool, themes: int,
         quiet: bool, plugins_dirs: tuple[Path, ...]) -> None:
    """Code the comments of STUDY into the questionnaire's codeframes (docs/coding.md).

    Hand codes (coding/hand/) win, then the codeframe's rules, then a classifier trained on the
    hand codes. Writes coding/codes.csv and coding/quality.json (cross-validated precision, recall
    and F1 per code); `build` reads them.
    """
    from .coding import CALIBRATION_MIN, code_study

    loaded, pm = _study(study, plugins_dirs)
    say = (lambda message: None) if quiet else (lambda message: click.echo(f"... {message}", err=True))
    report = code_study(loaded, pm, imports, export, export_n, say, full, themes)
    if quiet:
        return
    coded = report.coded
    sources: dict[str, int] = {}
    for value in coded.source:
        if value:
            sources[value] = sources.get(value, 0) + 1
    for path in report.imported:
        click.echo(f"imported hand codes: {path}")
    click.echo(f"coded {report.comments:,} comments ({coded.new:,} new): "
               + ", ".join(f"{k} {v:,}" for k, v in sorted(sources.items())) + f" -> {report.codes_path}")
    for frame_id, quality in coded.quality.items():
        click.echo(f"codeframe '{frame_id}': {quality.get('hand_coded', 0):,} hand-coded comments; "
                   + (quality["note"] if quality.get("note") else
                      f"cross-validated macro-F1 {_fmt(quality.get('macro_f1'))} ("
                      + ", ".join(f"{lang} {_fmt(v['macro_f1'])}" for lang, v in quality.get("languages", {}).items())
                      + ")"))
        click.echo(f"  {'code':24} {'method':6} {'examples':>8} {'precision':>9} {'recall':>7} {'F1':>6}")
        for code_id, entry in quality.get("codes", {}).items():
            click.echo(f"  {code_id:24} {entry['method']:6} {entry['examples']:>8} {_fmt(entry.get('precision')):>9} "
                       f"{_fmt(entry.get('recall')):>7} {_fmt(entry.get('f1')):>6}"
                       + (f"  {entry['note']}" if entry.get("note") else ""))
        fit = quality.get("calibration") or {}
        if fit.get("decisions"):
            raw = [c for c, e in quality.get("codes", {}).items() if e["method"] == "model" and not e.get("calibrated")]
            click.echo(f"  model probabilities, cross-validated: Brier {_fmt(fit['brier'])}, calibration error (ECE) "
                       f"{_fmt(fit['ece'])}" + (f"; not calibrated (fewer than {CALIBRATION_MIN} hand-coded "
                                                 f"comments with or without): {', '.join(raw)}" if raw else ""))
    if report.themes is not None:
        click.echo(f"themes in the comments without a code (coding/themes.json): {len(report.themes)}")
        for topic in report.themes:
            click.echo(f"  {topic['language']} {topic['topic']}. {', '.join(topic['terms'])} "
                       f"({topic['comments']:,} comments)")
            for example in topic["examples"]:
                click.echo(f"       \"{one_line(example, 100)}\"")
    if export is not None:
        click.echo(f"exported the {report.exported:,} least certain comments to {export}: fill 'codes' "
                   f"(ids separated by ';', '-' for none), then: surveyengine code --import {export.name}")


def one_line(text: str, limit: int) -> str:
    """Respondent text for the terminal: its first ``limit`` characters, control characters (escape
    sequences, line breaks) shown as spaces, so a comment cannot move the cursor or recolour the screen."""
    return "".join(c if c.isprintable() else " " for c in text[:limit])


def _fmt(value: Any) -> str:
    return "-" if value is None else f"{value:.2f}"


@cli.command()
@click.argument("questionnaire", type=click.Path(path_type=Path))
@click.option("--to", "fmt", required=True, metavar="FORMAT",
              help="Export format: xlsform, surveyjs, html (surveyengine plugins lists the exporters).")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path),
              help="File to write. Default: the questionnaire id and the format's extension, in this folder.")
@click.option("--language", help="The form's default language (html: its only one). Default: the questionnaire's first.")
@plugins_dir_option
def export(questionnaire: Path, fmt: str, out: Path | None, language: str | None,
           plugins_dirs: tuple[Path, ...]) -> None:
    """Write QUESTIONNAIRE in a fieldwork platform's format (a questionnaire file or a study folder)."""
    from .plugins import plugin_errors

    loaded, pm = _study(questionnaire, plugins_dirs)
    exporters = pm.registry("exporters")
    if fmt not in exporters:
        raise click.BadParameter(f"unknown format '{fmt}'; installed: {', '.join(exporters) or 'none'}",
                                 param_hint="'--to'")
    exporter = exporters.get(fmt)
    with plugin_errors(f"exporter '{fmt}'", exporters.owner(fmt)):
        content = exporter().export(loaded.questionnaire, language or loaded.questionnaire.language)
    target = out if out is not None else Path(f"{loaded.questionnaire.id}{exporter.extension}")
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    click.echo(f"wrote {target}", err=True)


@cli.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--example", type=click.Choice(["auto-dealer", "hotel", "acsi"]), default="auto-dealer",
              show_default=True, help="Which example questionnaire to start from.")
@click.option("--n", "n", type=click.IntRange(1), default=DEFAULT_SIMULATED_N, show_default=True,
              help="Simulated respondents.")
@click.option("--force", is_flag=True, help="Write into a folder that is not empty.")
def init(directory: Path, example: str, n: int, force: bool) -> None:
    """Create a working study in DIRECTORY: config, questionnaire, simulated responses, a commentary page."""
    from .scaffold import scaffold

    if directory.exists() and any(directory.iterdir()) and not force:
        raise click.UsageError(f"{directory} is not empty (use --force to write into it)")
    written = scaffold(directory, example, n)
    for path in written:
        click.echo(f"  {path}", err=True)
    click.echo(f"created a study from the {example} example in {directory}; next: surveyengine build {directory}")


@cli.command(name="plugins")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@plugins_dir_option
def plugins_command(fmt: str, plugins_dirs: tuple[Path, ...]) -> None:
    """List loaded plugins: where each came from, its version, its hooks and what it registers."""
    pm = _manager(plugins_dirs)
    infos = pm.plugin_infos()
    components: dict[str, list[dict[str, str]]] = {}
    for kind in ("readers", "scorers", "weighters", "models", "outputs", "exporters"):
        registry = pm.registry(kind)
        components[kind] = [{"id": ident, "plugin": registry.owner(ident),
                             "description": getattr(cls, "description", "")} for ident, cls in registry.items()]
    if fmt == "json":
        click.echo(json.dumps({"plugins": [i.as_dict() for i in infos], "components": components}, indent=2))
        return
    width = shutil.get_terminal_size((100, 20)).columns
    for info in infos:
        version = f" {info.version}" if info.version else ""
        click.echo(f"{info.name}{version} ({info.source}{': ' + info.path if info.path else ''})")
        click.echo(click.wrap_text(", ".join(info.hooks), width, initial_indent="    hooks: ",
                                   subsequent_indent="           "))
    for kind, entries in components.items():
        click.echo(f"\n{kind}:")
        for entry in entries:
            click.echo(f"  {entry['id']:<18} {entry['description']}  [{entry['plugin']}]")


@cli.command()
@study_argument
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; a loopback address unless --public.")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True,
              help="Port to listen on; 0 picks a free one.")
@click.option("--public", is_flag=True, help="Allow a --host other networks can reach (the site shows respondents' "
              "comments to whoever connects).")
@click.option("--interval", type=click.FloatRange(0.05, 60), default=0.5, show_default=True,
              help="Seconds between two looks at the input files.")
@plugins_dir_option
@click.pass_context
def serve(ctx: click.Context, study: Path, host: str, port: int, public: bool, interval: float,
          plugins_dirs: tuple[Path, ...]) -> None:
    """Preview the site of STUDY on a local port, rebuilt whenever an input changes.

    Watches the study config, the questionnaire and its includes, the data
    files, the Markdown pages, the study's plugins and the theme. A rebuild
    that fails prints the error and keeps serving the last good site. The
    site is built into a temporary folder; the study's output folder is left
    alone. Ctrl-C stops (exit status 0).
    """
    from . import serve as preview

    if not public and not preview.is_loopback(host):
        raise click.BadParameter(f"{host} is not a loopback address: others could read the report "
                                 "(add --public if that is what you want)", param_hint="'--host'")
    debug = bool(ctx.meta.get("surveyengine.debug"))
    try:
        preview.serve(study, host, port, load=lambda: _study(study, plugins_dirs),
                      say=lambda message: click.echo(message, err=True), announce=click.echo,
                      report_error=lambda error: _Failure(error, debug).show(), interval=interval)
    except preview.PortInUse as error:
        raise click.BadParameter(str(error), param_hint="'--port'") from None


def main() -> None:
    cli(prog_name="surveyengine")
