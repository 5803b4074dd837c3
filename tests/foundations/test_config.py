"""Config loading and validation errors: fail before work, name field and fix."""

from __future__ import annotations

from pathlib import Path

import pytest

from star.config import StarConfig, field_help, load_config
from star.errors import ConfigError


def test_embedded_default_is_valid_and_is_the_arithmetic_task() -> None:
    config = load_config(None)
    assert config.task.name == "arithmetic" and config.model == "tiny" and config.rounds == 3


def test_overrides_apply_dotted_fields() -> None:
    config = load_config(None, {"sampling.temperature": 0.3, "rounds": 1})
    assert config.sampling.temperature == 0.3 and config.rounds == 1


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"sampling.temperature": -1}, "sampling.temperature"),
        ({"sampling.samples_per_problem": 0}, "sampling.samples_per_problem"),
        ({"training.init_from": "scratch"}, "training.init_from"),
        ({"accept": "vibes"}, "accept"),
        ({"sampling.temprature": 0.5}, "sampling.temprature"),
        ({"run_name": "has space"}, "run_name"),
        ({"task.name": "nosuchtask"}, "task"),
    ],
)
def test_bad_values_name_the_field(overrides: dict, field: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, overrides)
    message = str(info.value)
    assert f"`{field}" in message and "star config-help" in message


def test_min_digits_above_max_digits_is_rejected() -> None:
    with pytest.raises(ConfigError, match="min_digits"):
        load_config(None, {"task.min_digits": 4, "task.max_digits": 2})


def test_missing_and_malformed_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config(tmp_path / "nope.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("rounds: [1,\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(bad)
    listy = tmp_path / "list.yaml"
    listy.write_text("- 1\n- 2\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(listy)


def test_every_field_has_help_text() -> None:
    rows = field_help()
    assert len(rows) > 30
    missing = [name for name, _default, text in rows if not text.strip()]
    assert missing == []


def test_example_configs_validate() -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    files = sorted(examples.glob("*.yaml"))
    assert files, "examples/ must hold configs"
    for path in files:
        assert isinstance(load_config(path), StarConfig)


def test_cli_rejects_a_bad_value_with_exit_code_2_before_any_work(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from star.cli import cli, register_commands

    register_commands()
    result = CliRunner().invoke(cli, ["run", "--set", "sampling.temperature=-1", "--db",
                                      f"sqlite:///{tmp_path}/star.db"])
    assert result.exit_code == 2
    assert "sampling.temperature" in result.output and "star config-help" in result.output
    assert not (tmp_path / "star.db").exists()  # failed before touching the store
    bad_set = CliRunner().invoke(cli, ["run", "--set", "novalue"])
    assert bad_set.exit_code == 2 and "FIELD=VALUE" in bad_set.output


def test_config_help_lists_fields() -> None:
    from click.testing import CliRunner

    from star.cli import cli, register_commands

    register_commands()
    result = CliRunner().invoke(cli, ["config-help"], terminal_width=200)
    assert result.exit_code == 0 and "sampling.temperature" in result.output


def test_batch_size_must_be_a_multiple_of_micro_batch_size() -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, {"training.batch_size": 8, "training.micro_batch_size": 3})
    message = str(info.value)
    assert "training.batch_size (8)" in message and "training.micro_batch_size (3)" in message
    assert "set batch_size to 6" in message


def test_micro_batching_fields_default_to_no_accumulation() -> None:
    training = load_config(None).training
    assert (training.micro_batch_size, training.max_length, training.gradient_checkpointing) == (None, None, None)
    assert load_config(None, {"training.batch_size": 8, "training.micro_batch_size": 2}).training.micro_batch_size == 2


@pytest.mark.parametrize("storage", ["star_runs", "/mnt/shared/runs", "s3://bucket/prefix", "gs://bucket",
                                     "file:///tmp/star_runs", "s3://bucket/p?endpoint_override=127.0.0.1:9000"])
def test_storage_takes_a_folder_or_a_uri(storage: str) -> None:
    assert load_config(None, {"storage": storage}).storage == storage


@pytest.mark.parametrize(("storage", "reason"), [
    ("ftps3://bucket/prefix", "unknown scheme 'ftps3'; use a local folder, s3://"),
    ("memory://runs", "memory:// lives inside one process"),
    ("s3://", "it names no bucket; write s3://BUCKET/PREFIX"),
    ("s3:bucket/prefix", "it looks like a URI without '//'; write s3://bucket/prefix"),
    ("", "it is empty"),
])
def test_an_unusable_storage_is_refused_with_the_fix(storage: str, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, {"storage": storage})
    message = str(info.value)
    assert "`storage`: " in message and reason in message, message


def test_cli_refuses_an_unknown_storage_scheme_before_any_work(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from star.cli import cli, register_commands

    register_commands()
    result = CliRunner().invoke(cli, ["run", "--storage", "nosuch://b/p", "--db", f"sqlite:///{tmp_path}/s.db"])
    assert result.exit_code == 2, result.output
    assert "unknown scheme 'nosuch'" in result.output
    assert not (tmp_path / "s.db").exists()  # refused before the store was opened


ONE_GPU = {"colocate": True, "generators.gpus_per_generator": 1, "trainer.gpus": 1}


def test_colocate_is_off_by_default_and_takes_one_shared_gpu() -> None:
    assert load_config(None).colocate is False
    config = load_config(None, ONE_GPU)
    assert config.colocate and config.generators.gpu_memory_utilization == 0.85  # the default fits
    assert load_config(None, {**ONE_GPU, "generators.gpu_memory_utilization": 0.9}).colocate


@pytest.mark.parametrize(("overrides", "says"), [
    ({"generators.gpus_per_generator": 0}, ["needs GPU engines", "Sleep mode is not supported on current platform",
                                            "set generators.gpus_per_generator to 1"]),
    ({"trainer.gpus": 0}, ["needs trainer.gpus: 1"]),
    ({"trainer.gpus": 2, "generators.count": 2}, ["trainer.gpus is 2", "Ray Train group with its own placement group"]),
    ({"generators.gpus_per_generator": 2}, ["generators.gpus_per_generator is 2", "set both to 1"]),
    ({"generators.count": 3}, ["set generators.count to 1 (it is 3)"]),
    ({"generators.gpu_memory_utilization": 0.95}, ["gpu_memory_utilization is 0.95", "set it to 0.9 or less"]),
])
def test_colocate_refuses_what_cannot_share_one_gpu_and_names_the_fix(overrides: dict, says: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(None, {**ONE_GPU, **overrides})
    message = str(info.value)
    assert all(part in message for part in says), message
    assert "or set colocate: false" in message or "gpu_memory_utilization" in message, message
    load_config(None, {**ONE_GPU, **overrides, "colocate": False})  # the same sections are fine apart
