"""The `tracking:` config section: defaults, validation errors, and the missing-package check at start."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from star.config import field_help, load_config
from star.errors import ConfigError
from star.tracking.session import check_installed


def test_tracking_is_off_by_default_and_each_backend_has_its_settings() -> None:
    config = load_config(None)
    assert config.tracking.backend == "none"
    tracked = load_config(None, {"tracking.backend": "mlflow", "tracking.mlflow.experiment": "arith",
                                 "tracking.tensorboard.log_dir": "tb", "tracking.wandb.mode": "online"})
    assert tracked.tracking.mlflow.experiment == "arith" and tracked.tracking.tensorboard.log_dir == "tb"
    assert tracked.tracking.wandb.mode == "online" and tracked.tracking.trainer_metrics
    documented = {row[0] for row in field_help()}
    assert {"tracking.backend", "tracking.mlflow.tracking_uri", "tracking.tensorboard.log_dir",
            "tracking.wandb.project", "tracking.wandb.mode"} <= documented


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"tracking.backend": "neptune"}, "tracking.backend"),
        ({"tracking.mlflow.experiment": ""}, "tracking.mlflow.experiment"),
        ({"tracking.mlflow.tracking_url": "sqlite:///m.db"}, "tracking.mlflow.tracking_url"),
        ({"tracking.wandb.mode": "cloud"}, "tracking.wandb.mode"),
        ({"tracking.tensorboard.logdir": "tb"}, "tracking.tensorboard.logdir"),
        ({"tracking.trainer_metrics": "sometimes"}, "tracking.trainer_metrics"),
    ],
)
def test_bad_tracking_values_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, overrides)
    assert f"`{field}`" in str(info.value) and "star config-help" in str(info.value)


@pytest.mark.parametrize(("backend", "module", "package"),
                         [("mlflow", "mlflow", "mlflow-skinny"), ("tensorboard", "tensorboard", "tensorboard"),
                          ("wandb", "wandb", "wandb")])
def test_a_missing_backend_package_names_the_pip_install(monkeypatch, backend, module, package) -> None:
    monkeypatch.setitem(sys.modules, module, None)  # what importlib reports for a package that is not installed
    with pytest.raises(ConfigError) as info:
        check_installed(load_config(None, {"tracking.backend": backend}).tracking)
    message = str(info.value)
    assert f"pip install {package}" in message and "tracking.backend" in message


def test_installed_backends_and_none_pass_the_check() -> None:
    for backend in ("none", "mlflow", "tensorboard", "wandb"):  # the dev extra installs all three
        check_installed(load_config(None, {"tracking.backend": backend}).tracking)


def test_star_run_with_a_missing_tracker_exits_2_before_touching_the_store(monkeypatch, tmp_path: Path) -> None:
    from star.cli import cli, register_commands

    register_commands()
    monkeypatch.setitem(sys.modules, "wandb", None)
    result = CliRunner().invoke(cli, ["run", "--set", "tracking.backend=wandb", "--db",
                                      f"sqlite:///{tmp_path}/star.db"])
    assert result.exit_code == 2, result.output
    assert "pip install wandb" in result.output
    assert not (tmp_path / "star.db").exists()
