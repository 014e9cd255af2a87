import pytest

from toylab.config import override, to_dict
from toylab.experiment import ExperimentConfig


def test_override_follows_dotted_paths_and_turns_lists_into_tuples():
    cfg = override(ExperimentConfig(), {"split.coverage": 0.25, "seed": 3,
                                        "task.transforms": ["rot1", "reverse"]})
    assert cfg.split.coverage == 0.25 and cfg.seed == 3
    assert cfg.task.transforms == ("rot1", "reverse")


def test_override_coerces_nested_tuples():
    cfg = override(ExperimentConfig(), {"split.coverage": None,
                                        "split.train_compositions": [["rot3", "rot3"]]})
    assert cfg.split.train_compositions == (("rot3", "rot3"),)


def test_unknown_field_names_the_fields_there_are():
    with pytest.raises(ValueError, match="coverage"):
        override(ExperimentConfig(), {"split.coverag": 0.5})


def test_bad_value_is_a_value_error():
    with pytest.raises(ValueError, match="coverage"):
        override(ExperimentConfig(), {"split.coverage": 1.5})


def test_to_dict_records_the_task_kind():
    data = to_dict(ExperimentConfig())
    assert data["task"]["kind"] == "letters"
    assert isinstance(data["task"]["transforms"], list)
