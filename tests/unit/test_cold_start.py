"""The container's init runs with the cyclic collector paused, and leaves it as it found it."""

from __future__ import annotations

import gc

import pytest
from insurance_agent.cold_start import init_phase


@pytest.fixture
def collector():
    was_enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()
    else:
        gc.disable()


def test_init_phase_pauses_the_collector_then_freezes_what_init_built(collector):
    gc.enable()
    gc.unfreeze()

    with init_phase():
        assert not gc.isenabled()
        built = [object() for _ in range(10)]  # noqa: F841 -- alive through the freeze

    assert gc.isenabled()
    assert gc.get_freeze_count() > 0


def test_init_phase_leaves_a_paused_collector_paused_even_when_init_fails(collector):
    gc.disable()

    with pytest.raises(RuntimeError), init_phase():
        raise RuntimeError("import failed")

    assert not gc.isenabled()
