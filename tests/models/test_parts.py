"""models.parts: one name -> class table per axis, the only list of each axis's names."""

from __future__ import annotations

import dataclasses

import pytest

from models.config import SampleGANConfig
from models.errors import SampleGanError
from models.parts import PARTS, names, part


@pytest.mark.parametrize("axis", sorted(PARTS))
def test_every_name_of_every_axis_resolves_to_a_class(axis):
    for name in names(axis):
        assert isinstance(part(axis, name), type), (axis, name)


def test_every_axis_is_a_config_field_whose_default_is_the_papers_first_name():
    defaults = {field.name: field.default for field in dataclasses.fields(SampleGANConfig)}
    for axis in PARTS:
        assert defaults[axis] == names(axis)[0]


@pytest.mark.parametrize("axis", sorted(PARTS))
def test_the_config_refuses_a_name_the_table_lacks_and_lists_the_table(axis):
    with pytest.raises(SampleGanError, match=f"{axis} must be one of {', '.join(names(axis))}"):
        SampleGANConfig().replace(**{axis: "no-such-part"})
