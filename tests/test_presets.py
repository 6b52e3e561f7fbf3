"""Preset files: every shipped one valid, bad ones rejected with the valid keys, user folders,
and the precedence of presets, flags and ``--set``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from clinitui.cli.app import app
from clinitui.config import presets
from clinitui.errors import ConfigError

runner = CliRunner()
SHIPPED = Path(__file__).resolve().parents[1] / "presets"
SHIPPED_FILES = sorted(p for p in SHIPPED.rglob("*.toml"))


@pytest.fixture(autouse=True)
def _no_user_presets(tmp_path, monkeypatch):
    """Tests see the shipped presets plus only what they write to their own config folder."""
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.delenv("CLINITUI_PRESETS_PATH", raising=False)


def user_preset(tmp_path: Path, folder: str, name: str, text: str) -> Path:
    path = tmp_path / "config" / "clinitui" / "presets" / folder / f"{name}.toml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- every shipped preset ---------------------------------------------------------------------------
def test_required_budgets_and_the_study_grid_are_shipped():
    names = {name for (kind, name) in presets.catalogue() if kind == "budget"}
    assert {"p620-2gb", "cpu", "gpu-8gb", "gpu-24gb", "gpu-80gb"} <= names
    grid = list((SHIPPED / "paper").glob("*.toml"))
    assert len(grid) >= 20  # 5 backbones × 4 adapters, plus LoRA on the pre-trained three
    assert presets.packaged_dir() == SHIPPED


@pytest.mark.parametrize("path", SHIPPED_FILES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_shipped_preset_loads_validates_and_resolves(path):
    kind = presets.FOLDERS[path.parent.name]
    preset = presets.load_file(path, kind, "packaged")
    assert preset.description, f"{path} needs a description"
    if kind == "sweep":  # a sweep spec: every trial's config is composed and checked (clinitui/sweep/spec.py)
        from clinitui.sweep.spec import load_file, trials

        assert trials(load_file(path))
        return
    config = presets.resolve(preset)  # the experiments' `uses` parts must exist too
    if kind == "budget":
        assert config.budget.name == path.stem
    if kind == "experiment":
        assert config.name == path.stem
    # option tables name real options of the registered backbone / adapter
    from clinitui.engine.recipes.train import prepare  # noqa: F401  (the same checks a run makes)
    from clinitui.models import registry
    from clinitui.models.classifier import parse_options, resolve_backbone

    backbone_cls, _ = resolve_backbone(config.model.backbone)
    parse_options(backbone_cls, config.model.backbone_options, path.name)
    parse_options(registry.get("adapter", config.model.adapter).cls, config.model.adapter_options, path.name)


def test_the_whole_study_grid_fits_the_p620():
    """The study ran every combination on its 2 GB card: the planner must agree."""
    from clinitui.engine.memory.planner import plan_for_config

    for path in sorted((SHIPPED / "paper").glob("*.toml")):
        config = presets.resolve(presets.load_file(path, "experiment"))
        plan = plan_for_config(config)
        assert config.budget.name == "p620-2gb" and plan.micro_batch < 8 and plan.max_length == 256
        assert plan.estimate.total <= 2 << 30, path.name


def test_shipped_names_are_unique_within_a_kind():
    seen: dict[tuple[str, str], Path] = {}
    for path in SHIPPED_FILES:
        key = (presets.FOLDERS[path.parent.name], path.stem)
        assert key not in seen, f"{path} and {seen[key]} share a name"
        seen[key] = path


# -- bad files -----------------------------------------------------------------------------------------
@pytest.mark.parametrize("folder,text,expected", [
    ("budgets", 'description = "x"\n[budget]\nmemory = 1\n', "unknown key 'budget.memory'"),
    ("budgets", 'description = "x"\n[train]\nepochs = 1\n', "a budget preset cannot set [train]"),
    ("budgets", 'description = "x"\n[budget]\nname = "other"\n', "unknown key 'budget.name'"),
    ("backbones", 'description = "x"\n[train]\nepochs = 3\n', "a backbone preset cannot set it"),
    ("experiments", 'description = "x"\n[train]\nepoch = 3\n', "unknown key 'train.epoch'"),
    ("experiments", 'descripton = "x"\n', "unknown key 'descripton'"),
    ("experiments", 'uses = { model = "x" }\n', "'uses' must be a table of preset names"),
])
def test_unknown_keys_are_rejected_with_the_valid_ones(tmp_path, folder, text, expected):
    path = user_preset(tmp_path, folder, "bad", text)
    with pytest.raises(ConfigError) as err:
        presets.load_file(path, presets.FOLDERS[folder])
    message = str(err.value)
    assert str(path) in message and expected in message and "valid keys:" in message


@pytest.mark.parametrize("text,expected", [
    ('[train]\nlr = "fast"\n', "'train.lr'"),
    ('[train]\nepochs = 0\n', "'train.epochs'"),
    ('[budget]\nprecision = "fp8"\n', "'budget.precision'"),
    ('[model]\nfreeze = "half"\n', "'model.freeze'"),
    ('[train\n', "not valid TOML"),
])
def test_wrong_types_and_values_are_rejected(tmp_path, text, expected):
    path = user_preset(tmp_path, "experiments", "bad", 'description = "x"\n' + text)
    with pytest.raises(ConfigError, match="bad.toml") as err:
        presets.load_file(path, "experiment")
    assert expected in str(err.value)


# -- search path and lookup ----------------------------------------------------------------------------
def test_user_presets_are_found_and_shadow_packaged_ones(tmp_path):
    user_preset(tmp_path, "budgets", "ward-laptop", 'description = "The ward laptop."\n[budget]\ndevice = "cpu"\n'
                'memory_bytes = 4000000000\n')
    user_preset(tmp_path, "budgets", "gpu-8gb", 'description = "Our 8 GB card, minus the display."\n[budget]\n'
                'device = "cuda"\nmemory_bytes = 7000000000\n')
    assert presets.find("ward-laptop").origin == "user"
    shadowed = presets.resolve(presets.find("gpu-8gb"))
    assert shadowed.budget.memory_bytes == 7_000_000_000
    result = runner.invoke(app, ["presets", "list", "--kind", "budget"])
    assert result.exit_code == 0 and "ward-laptop" in result.stdout and "[user]" in result.stdout


def test_presets_path_environment_variable(tmp_path, monkeypatch):
    extra = tmp_path / "site-presets"
    (extra / "adapters").mkdir(parents=True)
    (extra / "adapters" / "wide-grn.toml").write_text(
        'description = "GRN, wider."\n[model]\nadapter = "grn"\nadapter_options = { hidden = 256 }\n')
    monkeypatch.setenv("CLINITUI_PRESETS_PATH", str(extra))
    assert presets.find("wide-grn", "adapter").origin == "CLINITUI_PRESETS_PATH"


def test_unknown_and_misused_names():
    with pytest.raises(ConfigError, match="did you mean 'p620-2gb'"):
        presets.find("p620-2g", "budget")
    with pytest.raises(ConfigError, match="pass it as --budget p620-2gb"):
        presets.load_experiment("p620-2gb")
    assert presets.find("budgets/cpu").kind == "budget"


def test_a_broken_user_file_does_not_hide_the_others(tmp_path):
    user_preset(tmp_path, "budgets", "broken", "[budget\n")
    result = runner.invoke(app, ["presets", "list"])
    assert result.exit_code == 0
    assert "INVALID" in result.stdout and "p620-2gb" in result.stdout


# -- composing a run ------------------------------------------------------------------------------------
def test_precedence_defaults_experiment_parts_flags_set():
    config = presets.compose(preset="paper-camembert-bio-grn")
    assert (config.name, config.model.backbone, config.model.adapter) == ("paper-camembert-bio-grn", "camembert-bio", "grn")
    assert (config.budget.name, config.train.max_length, config.train.epochs) == ("p620-2gb", 256, 10)
    # parts picked by flags beat the experiment; a budget preset replaces the whole budget
    config = presets.compose(preset="paper-camembert-bio-grn", backbone="scratch-tiny", budget="cpu")
    assert config.model.backbone == "scratch-transformer" and config.model.backbone_options == {"size": "tiny"}
    assert (config.budget.name, config.budget.memory_bytes, config.budget.max_micro_batch) == ("cpu", None, 32)
    assert config.train.epochs == 10  # the experiment's training settings stay
    # explicit flags beat presets, --set beats everything
    config = presets.compose(preset="paper-camembert-bio-grn", flags={"train.epochs": 3, "train.max_length": 128},
                             sets=["train.epochs=5", "model.freeze=none", "train.early_stopping=false",
                                   "model.pooling=cls", "train.lr=2e-5", "train.batch_size=8", "train.seed=7"])
    assert (config.train.epochs, config.train.max_length, config.model.freeze) == (5, 128, "none")
    assert (config.train.early_stopping, config.model.pooling, config.train.lr) == (False, "cls", 2e-5)
    assert (config.train.batch_size, config.train.seed) == (8, 7)


def test_a_raw_backbone_name_drops_the_old_backbone_options():
    config = presets.compose(backbone="scratch-small", sets=[])
    assert config.model.backbone_options == {"size": "small"}
    config = presets.compose(preset="quickstart-cpu", backbone="camembert-bio")
    assert config.model.backbone == "camembert-bio" and config.model.backbone_options == {}


def test_set_rejects_unknown_keys_with_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean 'epochs'"):
        presets.compose(sets=["train.epoch=3"])


def test_preset_file_by_path(tmp_path):
    path = tmp_path / "mine.toml"
    path.write_text('description = "Mine."\nuses = { backbone = "scratch-tiny", budget = "cpu" }\n[train]\nepochs = 2\n')
    config = presets.compose(preset=str(path))
    assert (config.name, config.train.epochs, config.budget.name) == ("mine", 2, "cpu")


# -- the CLI ---------------------------------------------------------------------------------------------
def test_presets_list_and_show():
    listing = runner.invoke(app, ["presets", "list", "--json"])
    assert listing.exit_code == 0
    rows = json.loads(listing.stdout)["presets"]
    assert {r["kind"] for r in rows} == {"experiment", "backbone", "adapter", "budget", "sweep"}
    shown = runner.invoke(app, ["presets", "show", "p620-2gb"])
    assert shown.exit_code == 0
    assert "budget.memory_bytes" in shown.stdout and "2147483648" in shown.stdout
    assert "Memory the run may use" in shown.stdout  # each field's description
    experiment = runner.invoke(app, ["presets", "show", "camembert-bio-lora-p620", "--json"])
    data = json.loads(experiment.stdout)
    assert data["uses"]["adapter"] == "lora" and data["values"]["budget.name"] == "p620-2gb"
    assert data["config"]["model"]["adapter"] == "lora"
    full = runner.invoke(app, ["presets", "show", "cpu", "--all"])
    assert "train.weight_decay" in full.stdout


def test_presets_show_unknown_exits_2():
    result = runner.invoke(app, ["presets", "show", "gpu-9gb"])
    assert result.exit_code == 2 and "did you mean" in result.output


def test_train_flags_reach_the_run_config():
    result = runner.invoke(app, ["train", "--preset", "quickstart-cpu", "--backbone", "scratch-tiny", "--adapter", "linear",
                                 "--budget", "gpu-8gb", "--epochs", "2", "--set", "train.epochs=3",
                                 "--set", "train.batch_size=64", "--dry-run", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    config = out["config"]
    assert config["name"] == "quickstart-cpu" and config["model"]["adapter"] == "linear"
    assert config["model"]["backbone_options"] == {"size": "tiny"} and config["train"]["epochs"] == 3
    assert config["budget"]["name"] == "gpu-8gb" and out["plan"]["effective_batch"] == 64
    bad = runner.invoke(app, ["train", "--preset", "quickstart-cpu", "--set", "train.early_stopping=maybe", "--dry-run"])
    assert bad.exit_code == 2 and "train.early_stopping" in bad.output
