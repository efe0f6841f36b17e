"""Plugins: every hook, the registry rules, where plugins come from, their errors, and the CLI around them.

Sample plugins live in ``tests/plugins/``. A test loads a fresh copy of one with
``load_sample``, registers it for that test only and unregisters it in ``finally``;
tests of plugin folders copy the samples they need into ``tmp_path``.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType

import click
import numpy as np
import pytest
from click.testing import CliRunner, Result

from surveyengine import DataError, PluginError, QuestionnaireError, hookspecs
from surveyengine.build import build
from surveyengine.cli import cli
from surveyengine.data import load_responses
from surveyengine.errors import ExitCode
from surveyengine.interfaces import Scorer
from surveyengine.plugins import DEFAULT_PLUGINS, DISABLE_ENV, ENTRY_POINT_GROUP, get_plugin_manager
from surveyengine.registry import Registry
from surveyengine.resources import resource_dir
from surveyengine.schema import questionnaire_schema
from surveyengine.study import load_study

SAMPLES = Path(__file__).parent / "plugins"
DOCS = Path(__file__).parents[1] / "docs" / "plugins.md"

HOOKS = sorted(
    name for name, function in inspect.getmembers(hookspecs, inspect.isfunction)
    if getattr(function, "surveyengine_spec", None) is not None
)


# --- helpers -------------------------------------------------------------------------------------


def load_module(path: Path, prefix: str = "surveyengine_test_samples") -> ModuleType:
    """A fresh module object for the file at ``path`` (not added to sys.modules)."""
    spec = importlib.util.spec_from_file_location(f"{prefix}.{path.stem}", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def load_sample(name: str) -> ModuleType:
    return load_module(SAMPLES / f"{name}.py")


def plugins_folder(folder: Path, *names: str) -> Path:
    """``folder`` holding copies of the named sample plugins."""
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(SAMPLES / f"{name}.py", folder / f"{name}.py")
    return folder


def invoke(*args: object) -> Result:
    return CliRunner().invoke(cli, [str(arg) for arg in args])


def init_study(folder: Path) -> Path:
    """A study made by ``surveyengine init`` with 200 simulated respondents."""
    result = invoke("init", folder, "--n", 200)
    assert result.exit_code == 0, result.output
    return folder


def with_study_plugins(study: Path, *names: str) -> Path:
    """Give the study a ``plugins:`` folder holding the named sample plugins."""
    plugins_folder(study / "plugins", *names)
    config = study / "surveyengine.yaml"
    config.write_text(config.read_text(encoding="utf-8") + "plugins: plugins\n", encoding="utf-8")
    return study / "plugins"


def replace_in(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def hooks_of(path: Path) -> list[str]:
    """The hooks a plugin module implements, found from its @hookimpl markers."""
    module = load_module(path, "surveyengine_test_builtins")
    return sorted(name for name, value in vars(module).items()
                  if getattr(value, "surveyengine_impl", None) is not None)


@pytest.fixture
def study(tmp_path: Path) -> Path:
    return init_study(tmp_path / "study")


# --- one test (at least) per hook ----------------------------------------------------------------


def test_hook_surveyengine_register_readers_adds_reader(pm, tmp_path):
    plugin = load_sample("sample_reader")
    pm.register(plugin, "sample_reader")
    try:
        readers = pm.registry("readers")
        assert "sample-pipe" in readers and "csv" in readers
        assert readers.owner("sample-pipe") == "sample_reader"
        data = tmp_path / "answers.sample"
        data.write_text('#surveyengine-sample\nrespondent_id|q1|comment\n"R1"|5|"fine | thanks"\n"R2"|3|""\n',
                        encoding="utf-8")
        raw = readers.get("sample-pipe")().read(data, {})
        assert raw.table.column_names == ["respondent_id", "q1", "comment"]
        assert raw.table.column("q1").to_pylist() == [5, 3]
        assert raw.table.column("comment").to_pylist() == ["fine | thanks", ""]
        assert raw.first_row == 3
    finally:
        pm.unregister(plugin)
    assert "sample-pipe" not in pm.registry("readers")


def test_hook_surveyengine_detect_reader_answers_for_its_format(pm):
    plugin = load_sample("sample_reader")
    pm.register(plugin, "sample_reader")
    try:
        detect = pm.hook.surveyengine_detect_reader
        assert detect(path=Path("wave1.sample"), options={}) == "sample-pipe"
        assert detect(path=Path("wave1.csv"), options={}) == "csv"  # the built-in still answers for its own
        assert detect(path=Path("wave1.xyz"), options={}) is None
    finally:
        pm.unregister(plugin)
    assert pm.hook.surveyengine_detect_reader(path=Path("wave1.sample"), options={}) is None


def test_hook_surveyengine_detect_reader_reads_study_data_in_made_up_format(pm, study):
    import pyarrow.csv as pacsv

    from_csv = load_responses(load_study(study, pm), pm)
    table = pacsv.read_csv(study / "data" / "responses.csv",
                           convert_options=pacsv.ConvertOptions(strings_can_be_null=False))
    sink = study / "data" / "responses.sample"
    with sink.open("wb") as out:
        out.write(b"#surveyengine-sample\n")
        pacsv.write_csv(table, out, pacsv.WriteOptions(delimiter="|"))
    (study / "data" / "responses.csv").unlink()
    replace_in(study / "surveyengine.yaml", "data/*.csv", "data/*.sample")

    with pytest.raises(DataError, match=r"no reader for '\.sample' files"):
        load_responses(load_study(study, pm), pm)
    plugin = load_sample("sample_reader")
    pm.register(plugin, "sample_reader")
    try:
        responses = load_responses(load_study(study, pm), pm)
        assert responses.n == 200
        assert [Path(name).name for name in responses.files] == ["responses.sample"]
        assert responses.account()["rows_excluded"] == 0
        np.testing.assert_array_equal(responses.answers, from_csv.answers)  # NaN equals NaN here
        assert responses.text.keys() == from_csv.text.keys()
        for item_id, comments in responses.text.items():
            assert comments.tolist() == from_csv.text[item_id].tolist()
    finally:
        pm.unregister(plugin)


def test_hook_surveyengine_register_scorers_adds_metric(pm, study, tmp_path):
    plugin = load_sample("sample_scorer")
    pm.register(plugin, "sample_scorer")
    try:
        scorers = pm.registry("scorers")
        assert scorers.owner("sample-base") == "sample_scorer"
        report = build(load_study(study, pm), pm, tmp_path / "site", ("html",), use_cache=False)
        items = report.results.total.items
        assert items and all("sample_base" in metrics for metrics in items.values())
        for metrics in items.values():
            assert metrics["sample_base"].value == metrics["sample_base"].base
        assert any("mean" in metrics for metrics in items.values())  # the built-in scorer still runs
    finally:
        pm.unregister(plugin)


def test_hook_surveyengine_register_weighters_adds_method(pm, study):
    questionnaire = study / "questionnaire.yaml"
    replace_in(questionnaire, "method: relative-weights", "method: sample-first-driver")
    with pytest.raises(QuestionnaireError, match="sample-first-driver"):
        load_study(study, pm)
    plugin = load_sample("sample_weighter")
    pm.register(plugin, "sample_weighter")
    try:
        weighters = pm.registry("weighters")
        assert weighters.owner("sample-first-driver") == "sample_weighter"
        corr = np.array([[1.0, 0.5, 0.6], [0.5, 1.0, 0.4], [0.6, 0.4, 1.0]])
        weighter = weighters.get("sample-first-driver")()
        assert weighter.fit(corr, 0, [1, 2]) is weighter
        assert weighter.importance_.tolist() == [1.0, 0.0]
        assert weighter.r2_ == pytest.approx(0.25)
        assert "sample-first-driver" in json.dumps(questionnaire_schema(pm))
        assert load_study(study, pm).questionnaire.index.method == "sample-first-driver"
    finally:
        pm.unregister(plugin)


def test_hook_surveyengine_register_outputs_writes_file(pm, study, tmp_path):
    plugin = load_sample("sample_output")
    pm.register(plugin, "sample_output")
    try:
        assert pm.registry("outputs").owner("sample-dump") == "sample_output"
        out = tmp_path / "site"
        report = build(load_study(study, pm), pm, out, ("sample-dump",))
        written = json.loads((out / "sample-results.json").read_text(encoding="utf-8"))
        assert written["respondents"] == 200 == report.results.respondents
        assert [item["id"] for item in written["items"]] == [item.id for item in report.results.items]
        assert sorted(p.name for p in out.iterdir()) == ["sample-results.json"]
        assert report.files == [Path("sample-results.json")]
    finally:
        pm.unregister(plugin)


def test_hook_surveyengine_register_exporters_adds_export_format(pm, study, tmp_path, monkeypatch):
    plugin = load_sample("sample_exporter")
    pm.register(plugin, "sample_exporter")
    try:
        exporters = pm.registry("exporters")
        assert exporters.owner("sample-items") == "sample_exporter"
        assert {"xlsform", "surveyjs", "html"} <= set(exporters)
        content = exporters.get("sample-items")().export(load_study(study, pm).questionnaire, "zh")
        assert content.decode("utf-8").startswith("hw_quality\t您对爱车的做工")
    finally:
        pm.unregister(plugin)
    monkeypatch.chdir(tmp_path)  # the default file name is the questionnaire id and the extension
    result = invoke("export", study, "--to", "sample-items", "--plugins-dir", plugins_folder(tmp_path / "p",
                                                                                             "sample_exporter"))
    assert result.exit_code == 0, result.output
    assert (tmp_path / "auto-dealer.items.txt").read_text(encoding="utf-8").startswith("hw_quality\tHow satisfied")


def test_hook_surveyengine_register_commands_adds_command(pm):
    plugin = load_sample("sample_command")
    pm.register(plugin, "sample_command")
    try:
        group = click.Group("surveyengine")
        pm.call("surveyengine_register_commands", cli=group)
        assert "sample-hello" in group.commands
        result = CliRunner().invoke(group, ["sample-hello", "tester"])
        assert result.exit_code == 0, result.output
        assert result.stdout == "hello tester from a plugin\n"
    finally:
        pm.unregister(plugin)


def test_hook_surveyengine_register_models_adds_estimator(pm, tmp_path):
    root = tmp_path / "acsi"
    assert CliRunner().invoke(cli, ["init", str(root), "--example", "acsi", "--n", "400"]).exit_code == 0
    default = build(load_study(root, get_plugin_manager(entry_points=False)), get_plugin_manager(entry_points=False),
                    tmp_path / "default", ("json",)).results.model
    replace_in(root / "questionnaire.yaml", "  scheme: path\n  bootstrap: 500", "  method: sample-centroid\n  bootstrap: 0")
    with pytest.raises(QuestionnaireError, match="unknown structural-model method 'sample-centroid'; installed: pls"):
        load_study(root, get_plugin_manager(entry_points=False))
    plugin = load_sample("sample_model")
    pm.register(plugin, "sample_model")
    try:
        assert pm.registry("models").owner("sample-centroid") == "sample_model"
        report = build(load_study(root, pm), pm, tmp_path / "site", ("json",))
        model = report.results.model
        assert model["method"] == "sample-centroid" and model["estimated"] and model["bootstrap"] is None
        assert [p["coefficient"] for p in model["paths"]] != [p["coefficient"] for p in default["paths"]]
    finally:
        pm.unregister(plugin)


# --- every hook is tested and documented ---------------------------------------------------------


def test_hookspecs_found():
    assert len(HOOKS) >= 6
    assert all(hook.startswith("surveyengine_") for hook in HOOKS)


@pytest.mark.parametrize("hook", HOOKS)
def test_every_hook_has_a_test_and_a_docs_section(hook):
    tests = [name for name, value in globals().items()
             if name.startswith(f"test_hook_{hook}_") and callable(value)]
    assert tests, f"tests/test_plugins.py has no test_hook_{hook}_<case>"
    docs = DOCS.read_text(encoding="utf-8")
    assert re.search(rf"^##\s+`?{hook}`?\s*$", docs, re.MULTILINE), f"docs/plugins.md has no '## {hook}' section"


# --- the registry --------------------------------------------------------------------------------


def test_registry_rejects_duplicate_id_naming_both_plugins(pm):
    plugin = load_sample("sample_duplicate")
    pm.register(plugin, "sample_duplicate")
    try:
        with pytest.raises(PluginError) as caught:
            pm.registry("scorers")
        message = str(caught.value)
        assert "'mean'" in message
        assert "plugin sample_duplicate" in message and "plugin mean_scorer" in message
    finally:
        pm.unregister(plugin)
    assert "mean" in pm.registry("scorers")


def test_registry_rejects_component_lacking_protocol_attributes(pm):
    plugin = load_sample("sample_incomplete")
    pm.register(plugin, "sample_incomplete")
    try:
        with pytest.raises(PluginError, match=r"plugin sample_incomplete: scorer 'sample-incomplete' "
                                              r"\(NoScoreScorer\) lacks score required of a Scorer"):
            pm.registry("scorers")
    finally:
        pm.unregister(plugin)


@pytest.mark.parametrize("ident", ["TopBox", "top_box", "top-", "-top", "", None, 3])
def test_registry_rejects_id_not_kebab_case(ident):
    component = type("BadScorer", (), {"id": ident, "description": "x", "score": lambda self, stats, study: {}})
    with pytest.raises(PluginError, match="needs an 'id' in kebab-case"):
        Registry("scorer", Scorer).add(component)


def test_registry_accepts_complete_component():
    registry: Registry[Scorer] = Registry("scorer", Scorer)
    component = type("TopBoxScorer", (), {"id": "top-box-2", "description": "x", "score": lambda s, a, b: {}})
    assert registry.add(component) is component
    assert list(registry) == ["top-box-2"] and registry.owner("top-box-2") == "<direct call>"
    with pytest.raises(PluginError, match=r"unknown scorer 'nps'; installed: top-box-2"):
        registry.get("nps")


# --- errors inside hooks -------------------------------------------------------------------------


def test_exception_in_hook_becomes_plugin_error_naming_plugin_and_hook(pm):
    plugin = load_sample("sample_raises")
    pm.register(plugin, "sample_raises")
    try:
        with pytest.raises(PluginError) as caught:
            pm.registry("scorers")
        assert str(caught.value) == ("plugin sample_raises failed in surveyengine_register_scorers: "
                                     "RuntimeError: sample failure inside the hook")
        assert isinstance(caught.value.__cause__, RuntimeError)
        assert caught.value.exit_code == ExitCode.PLUGIN_ERROR
    finally:
        pm.unregister(plugin)


def test_unregister_forgets_plugin_and_its_components(pm):
    plugin = load_sample("sample_scorer")
    pm.register(plugin, "sample_scorer")
    try:
        assert "sample-base" in pm.registry("scorers")
        assert "sample_scorer" in [info.name for info in pm.plugin_infos()]
    finally:
        pm.unregister(plugin)
    assert "sample-base" not in pm.registry("scorers")
    assert "sample_scorer" not in pm.origins
    assert "sample_scorer" not in [info.name for info in pm.plugin_infos()]


# --- where plugins come from ---------------------------------------------------------------------


def test_builtins_are_registered_in_order(pm):
    names = [info.name for info in pm.plugin_infos()]
    assert names == list(DEFAULT_PLUGINS)
    assert {info.source for info in pm.plugin_infos()} == {"built-in"}


def test_plugins_folder_loads_py_files(tmp_path):
    folder = plugins_folder(tmp_path / "plugins", "sample_scorer", "sample_weighter")
    (folder / "_helpers.py").write_text("raise RuntimeError('files starting with _ are not plugins')\n")
    (folder / "notes.txt").write_text("not a plugin\n")
    pm = get_plugin_manager([folder], entry_points=False)
    infos = {info.name: info for info in pm.plugin_infos()}
    assert list(infos)[-2:] == ["sample_scorer", "sample_weighter"]  # after the built-ins, sorted
    assert infos["sample_scorer"].source == "plugins folder"
    assert infos["sample_scorer"].path == str(folder / "sample_scorer.py")
    assert infos["sample_scorer"].hooks == ["surveyengine_register_scorers"]
    assert "_helpers" not in infos and "notes" not in infos
    assert pm.registry("scorers").owner("sample-base") == "sample_scorer"
    assert pm.registry("weighters").owner("sample-first-driver") == "sample_weighter"


def test_plugins_folder_import_error_names_file_and_line(tmp_path):
    folder = plugins_folder(tmp_path / "plugins", "sample_import_error")
    path = folder / "sample_import_error.py"
    line = next(number for number, text in enumerate(path.read_text().splitlines(), 1)
                if text.startswith("import surveyengine_no_such_module"))
    with pytest.raises(PluginError) as caught:
        get_plugin_manager([folder], entry_points=False)
    error = caught.value
    assert (error.location.path, error.location.line) == (str(path), line)
    assert str(error).startswith(f"{path}:{line}: plugin failed to import: ModuleNotFoundError")
    assert "surveyengine_no_such_module" in str(error)


def test_plugins_folder_syntax_error_names_file_and_line(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    (folder / "typo.py").write_text("from surveyengine import hookimpl\n\n\ndef broken(:\n    pass\n")
    with pytest.raises(PluginError) as caught:
        get_plugin_manager([folder], entry_points=False)
    assert caught.value.location.line == 4
    assert str(caught.value).startswith(f"{folder / 'typo.py'}:4: plugin failed to import: SyntaxError")


def test_plugins_folder_unknown_hook_is_plugin_error(tmp_path):
    folder = plugins_folder(tmp_path / "plugins", "sample_unknown_hook")
    with pytest.raises(PluginError, match=r"^plugin sample_unknown_hook implements an unknown hook") as caught:
        get_plugin_manager([folder], entry_points=False)
    assert "surveyengine_register_scorer'" in str(caught.value)


def test_missing_plugins_folder_is_plugin_error(tmp_path):
    with pytest.raises(PluginError, match="plugins folder not found"):
        get_plugin_manager([tmp_path / "nowhere"], entry_points=False)


def test_plugins_folder_may_not_reuse_a_loaded_name(tmp_path):
    folder = tmp_path / "plugins"
    folder.mkdir()
    shutil.copyfile(SAMPLES / "sample_scorer.py", folder / "mean_scorer.py")
    with pytest.raises(PluginError, match=r"a plugin named 'mean_scorer' is already loaded \(built-in\)"):
        get_plugin_manager([folder], entry_points=False)


def test_disable_env_blocks_builtin(monkeypatch, tmp_path):
    monkeypatch.setenv(DISABLE_ENV, "mean_scorer, sample_weighter")
    pm = get_plugin_manager(entry_points=False)
    assert not pm.has_plugin("mean_scorer") and pm.is_blocked("mean_scorer")
    assert "mean" not in pm.registry("scorers")
    assert "csv" in pm.registry("readers")

    # With the built-in blocked, a folder plugin may take over its id; blocked folder plugins are skipped.
    folder = plugins_folder(tmp_path / "plugins", "sample_duplicate", "sample_weighter")
    pm = get_plugin_manager([folder], entry_points=False)
    assert pm.registry("scorers").owner("mean") == "sample_duplicate"
    assert not pm.has_plugin("sample_weighter")

    listed = json.loads(invoke("plugins", "--format", "json").stdout)
    assert "mean_scorer" not in [plugin["name"] for plugin in listed["plugins"]]


def make_distribution(site: Path, dist: str, version: str, entry_name: str, module: str, source: str) -> None:
    """An installed distribution as a dist-info folder on ``site``, with one ``surveyengine`` entry point."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n", encoding="utf-8")
    (info / "entry_points.txt").write_text(f"[{ENTRY_POINT_GROUP}]\n{entry_name} = {module}\n", encoding="utf-8")
    (site / f"{module}.py").write_text(source, encoding="utf-8")


@pytest.fixture
def site_packages(tmp_path, monkeypatch):
    """A folder on sys.path for made-up distributions; their modules are forgotten afterwards."""
    site = tmp_path / "site-packages"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    before = set(sys.modules)
    yield site
    for name in set(sys.modules) - before:
        if getattr(sys.modules[name], "__file__", None) and str(site) in str(sys.modules[name].__file__):
            del sys.modules[name]


def test_entry_point_plugin_is_loaded(site_packages, monkeypatch):
    make_distribution(site_packages, "surveyengine-sample-ep", "1.2.3", "sample_ep", "surveyengine_sample_ep",
                      (SAMPLES / "sample_command.py").read_text(encoding="utf-8"))

    assert not get_plugin_manager(entry_points=False).has_plugin("sample_ep")
    result = invoke("plugins", "--format", "json")
    assert result.exit_code == 0, result.output
    plugins = {plugin["name"]: plugin for plugin in json.loads(result.stdout)["plugins"]}
    assert plugins["sample_ep"] == {"name": "sample_ep", "source": "entry point", "version": "1.2.3",
                                    "path": "surveyengine-sample-ep", "hooks": ["surveyengine_register_commands"]}
    assert list(plugins).index("sample_ep") > max(list(plugins).index(name) for name in DEFAULT_PLUGINS)

    text = invoke("plugins").stdout
    assert "sample_ep 1.2.3 (entry point: surveyengine-sample-ep)" in text

    # The command it registers is part of the real CLI (found when the name is not a built-in command).
    monkeypatch.setattr(cli, "commands", dict(cli.commands))
    monkeypatch.setattr(cli, "_plugin_commands_loaded", False)
    result = invoke("sample-hello", "entry point")
    assert result.exit_code == 0, result.output
    assert result.stdout == "hello entry point from a plugin\n"


def test_entry_point_import_error_names_distribution(site_packages):
    make_distribution(site_packages, "surveyengine-sample-broken", "0.4", "sample_broken",
                      "surveyengine_sample_broken", "import surveyengine_no_such_module\n")
    with pytest.raises(PluginError, match=r"plugin 'sample_broken' from surveyengine-sample-broken 0\.4 "
                                          r"failed to import: ModuleNotFoundError"):
        get_plugin_manager()
    get_plugin_manager(entry_points=False)  # not loaded without entry points


def test_plugin_registered_last_is_called_first(pm, tmp_path):
    csv = Path("responses.csv")
    assert pm.hook.surveyengine_detect_reader(path=csv, options={}) == "csv"

    # A plugins-folder detector is registered after the built-ins, so it is asked first and wins.
    folder = plugins_folder(tmp_path / "plugins", "sample_detect_csv")
    overridden = get_plugin_manager([folder], entry_points=False)
    assert overridden.call("surveyengine_detect_reader", path=csv, options={}) == "sample-csv-claimed"

    # Between two ordinary implementations only the order decides: files load sorted, the last one wins.
    for stem in ("a_claims", "b_claims"):
        (folder / f"{stem}.py").write_text(
            "from surveyengine import hookimpl\n\n\n@hookimpl\ndef surveyengine_detect_reader(path):\n"
            f"    return {stem!r}\n", encoding="utf-8")
    both = get_plugin_manager([folder], entry_points=False)
    assert [info.name for info in both.plugin_infos()][-3:] == ["a_claims", "b_claims", "sample_detect_csv"]
    assert both.call("surveyengine_detect_reader", path=Path("x.any"), options={}) == "b_claims"
    (folder / "sample_detect_csv.py").unlink()
    assert get_plugin_manager([folder], entry_points=False).call(
        "surveyengine_detect_reader", path=csv, options={}) == "b_claims"

    plugin = load_sample("sample_detect_csv")
    pm.register(plugin, "sample_detect_csv")
    try:
        assert pm.hook.surveyengine_detect_reader(path=csv, options={}) == "sample-csv-claimed"
    finally:
        pm.unregister(plugin)
    assert pm.hook.surveyengine_detect_reader(path=csv, options={}) == "csv"


# --- the command line ----------------------------------------------------------------------------


def test_cli_plugins_lists_every_builtin_with_its_hooks():
    result = invoke("plugins")
    assert result.exit_code == 0, result.output
    blocks: dict[str, str] = {}
    name = ""
    for line in result.stdout.splitlines():
        if line and not line.startswith(" ") and "(" in line:
            name = line.split(" ", 1)[0]
            blocks[name] = line
        elif name and line.startswith(" "):
            blocks[name] += " " + line.strip()
        else:
            name = ""
    folder = resource_dir("plugins")
    for stem in DEFAULT_PLUGINS:
        assert f"(built-in: {folder / (stem + '.py')})" in blocks[stem]
        hooks = hooks_of(folder / f"{stem}.py")
        assert hooks
        listed = blocks[stem].split("hooks:", 1)[1].replace(" ", "").split(",")
        assert sorted(listed) == hooks, stem

    data = json.loads(invoke("plugins", "--format", "json").stdout)
    by_name = {plugin["name"]: plugin for plugin in data["plugins"]}
    for stem in DEFAULT_PLUGINS:
        assert by_name[stem]["source"] == "built-in"
        assert by_name[stem]["hooks"] == hooks_of(folder / f"{stem}.py")
    assert {"csv", "mean", "equal", "relative-weights", "html"} <= {
        entry["id"] for entries in data["components"].values() for entry in entries}


def test_cli_plugins_dir_lists_folder_plugins(tmp_path):
    folder = plugins_folder(tmp_path / "plugins", "sample_scorer", "sample_output")
    result = invoke("plugins", "--plugins-dir", folder, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    by_name = {plugin["name"]: plugin for plugin in data["plugins"]}
    assert by_name["sample_scorer"]["source"] == "plugins folder"
    assert by_name["sample_scorer"]["path"] == str(folder / "sample_scorer.py")
    description = "Number of answers per item (a sample plugin for the tests)."
    assert {"id": "sample-base", "plugin": "sample_scorer", "description": description} in data["components"]["scorers"]
    assert "sample-dump" in [entry["id"] for entry in data["components"]["outputs"]]

    text = invoke("plugins", "--plugins-dir", folder).stdout
    assert f"sample_scorer (plugins folder: {folder / 'sample_scorer.py'})" in text
    assert "hooks: surveyengine_register_scorers" in text


def test_cli_plugins_dir_import_error(tmp_path):
    folder = plugins_folder(tmp_path / "plugins", "sample_import_error")
    result = invoke("plugins", "--plugins-dir", folder)
    assert result.exit_code == ExitCode.PLUGIN_ERROR
    assert f"{folder / 'sample_import_error.py'}:" in result.stderr
    assert "Traceback" not in result.output


def test_cli_build_runs_study_plugins(tmp_path):
    study = init_study(tmp_path / "study")
    folder = with_study_plugins(study, "sample_scorer", "sample_output")

    listed = invoke("plugins", "--plugins-dir", folder)
    assert listed.exit_code == 0, listed.output
    assert "sample_scorer (plugins folder" in listed.stdout and "sample-base" in listed.stdout

    out = tmp_path / "site"
    result = invoke("build", study, "--format", "html,sample-dump", "--out", out)
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output
    assert (out / "index.html").is_file()
    written = json.loads((out / "sample-results.json").read_text(encoding="utf-8"))
    assert written["respondents"] == 200
    items = written["total"]["items"]
    assert items and all(metrics["sample_base"]["value"] == metrics["sample_base"]["base"]
                         for metrics in items.values())


def test_cli_build_plugin_error_exits_3_without_traceback(tmp_path):
    study = init_study(tmp_path / "study")
    with_study_plugins(study, "sample_raises")
    result = invoke("build", study, "--out", tmp_path / "site")
    assert result.exit_code == ExitCode.PLUGIN_ERROR == 3, result.output
    assert isinstance(result.exception, SystemExit)
    assert ("Error: plugin sample_raises failed in surveyengine_register_scorers: "
            "RuntimeError: sample failure inside the hook") in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "site").exists()


def test_cli_build_plugin_error_with_debug_shows_traceback(tmp_path):
    study = init_study(tmp_path / "study")
    with_study_plugins(study, "sample_raises")
    result = invoke("--debug", "build", study, "--out", tmp_path / "site")
    assert result.exit_code == ExitCode.PLUGIN_ERROR, result.output
    assert "Traceback (most recent call last)" in result.stderr
    assert 'raise RuntimeError("sample failure inside the hook")' in result.stderr
    assert "plugin sample_raises failed in surveyengine_register_scorers" in result.stderr


def test_cli_build_study_plugin_import_error(tmp_path):
    study = init_study(tmp_path / "study")
    folder = with_study_plugins(study, "sample_import_error")
    result = invoke("build", study, "--out", tmp_path / "site")
    assert result.exit_code == ExitCode.PLUGIN_ERROR, result.output
    assert f"{folder / 'sample_import_error.py'}:" in result.stderr
    assert "ModuleNotFoundError" in result.stderr
    assert "Traceback" not in result.output


def test_a_weighter_that_fits_one_matrix_at_a_time_runs_through_a_build(pm, study, tmp_path):
    """A third-party weighter without ``stacks = True`` is fitted matrix by matrix (groups, bootstrap draws)."""
    replace_in(study / "questionnaire.yaml", "method: relative-weights", "method: sample-first-driver")
    plugin = load_sample("sample_weighter")
    pm.register(plugin, "sample_weighter")
    try:
        report = build(load_study(study, pm), pm, tmp_path / "site", ("json",))
        index = report.results.index
        assert index["method"] == "sample-first-driver"
        first, *others = index["drivers"]
        assert index["weights"][first] == 1.0 and all(index["weights"][d] == 0.0 for d in others)
        model = report.results.total.drivers["factors"]
        assert [d["importance"] for d in model["drivers"]] == [1.0] + [0.0] * len(others)
        assert model["drivers"][0]["ci_low"] == model["drivers"][0]["ci_high"] == 1.0  # every draw: all on the first
    finally:
        pm.unregister(plugin)
