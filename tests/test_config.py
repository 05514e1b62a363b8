from pathlib import Path

import pytest

from denoiser.config import ConfigError, ExperimentConfig, load_config


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "c.yaml"
    path.write_text(text)
    return path


def test_defaults_resolve_and_hash_is_stable(tmp_path):
    config = load_config(write(tmp_path, "name: x\n"))
    assert config.model.depth == 3
    assert config.digest() == load_config(write(tmp_path, "name: x\nmodel: {depth: 3}\n")).digest()
    assert config.digest() != load_config(write(tmp_path, "name: x\nmodel: {depth: 5}\n")).digest()


def test_unknown_field_names_the_field_and_the_allowed_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"model\.dept: unknown field; allowed: name, channels, depth"):
        load_config(write(tmp_path, "model: {dept: 3}\n"))


def test_bad_choice_lists_allowed_values(tmp_path):
    with pytest.raises(ConfigError, match=r"model\.depth: 4 is not allowed; allowed: 3, 5, 7"):
        load_config(write(tmp_path, "model: {depth: 4}\n"))
    with pytest.raises(ConfigError, match=r"train\.loss: 'l3' is not allowed; allowed: l1, l2"):
        load_config(write(tmp_path, "train: {loss: l3}\n"))


def test_types_are_checked(tmp_path):
    with pytest.raises(ConfigError, match=r"train\.steps: expected an integer"):
        load_config(write(tmp_path, "train: {steps: many}\n"))
    with pytest.raises(ConfigError, match=r"data\.split: train \+ val \+ test must be 1"):
        load_config(write(tmp_path, "data: {split: {train: 0.9, val: 0.2, test: 0.2}}\n"))


def test_overrides_are_parsed_as_yaml(tmp_path):
    config = load_config(
        write(tmp_path, "name: x\n"), ["train.steps=7", "eval.sigmas=[10, 20]", "model.skip_connections=false"]
    )
    assert config.train.steps == 7
    assert config.eval.sigmas == [10.0, 20.0]
    assert config.model.skip_connections is False
    with pytest.raises(ConfigError, match="--set expects key=value"):
        load_config(write(tmp_path, "name: x\n"), ["train.steps"])


def test_missing_and_invalid_files(tmp_path):
    with pytest.raises(ConfigError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_config(write(tmp_path, "train: [unclosed\n"))
    with pytest.raises(ConfigError, match="must be a mapping"):
        load_config(write(tmp_path, "- a\n- b\n"))


def test_quickstart_config_is_valid():
    config = load_config(Path(__file__).parent.parent / "configs" / "quickstart.yaml")
    assert isinstance(config, ExperimentConfig)
    assert config.data.datasets == ["starter"]


@pytest.mark.parametrize(
    "path", sorted((Path(__file__).resolve().parent.parent / "configs").rglob("*.yaml")), ids=lambda p: p.name
)
def test_every_shipped_config_is_valid(path):
    config = load_config(path)
    assert config.train.steps >= 1 and config.data.datasets


CONFIGS = Path(__file__).resolve().parent.parent / "configs"


@pytest.mark.parametrize("path", sorted(CONFIGS.rglob("*.yaml")), ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_committed_config_validates(path):
    config = load_config(path)
    assert config.name and config.train.steps > 0


@pytest.mark.parametrize("text", ["", "# only a comment\n", "{}\n"])
def test_an_empty_config_is_refused(tmp_path, text):
    with pytest.raises(ConfigError, match="is empty; start from configs/quickstart.yaml"):
        load_config(write(tmp_path, text))


def test_a_yaml_error_names_its_line_and_column(tmp_path):
    with pytest.raises(ConfigError, match="line 4, column 7: mapping values are not allowed here"):
        load_config(write(tmp_path, "name: x\nmodel:\n  depth: 3\n   bad: [1\n"))
