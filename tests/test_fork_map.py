"""refaug.workers.fork_map: results in order, the inherited state, and recycled processes."""

from __future__ import annotations

import os

import pytest

from refaug.workers import fork_map


def _square_with_pid(state: dict, part: int) -> tuple[int, int]:
    return part * part + state["offset"], os.getpid()


@pytest.mark.parametrize("recycle", [None, 1, 2])
def test_fork_map_keeps_order_and_state(recycle):
    parts = list(range(7))
    out = list(fork_map(_square_with_pid, parts, workers=2, state={"offset": 10}, recycle=recycle))
    assert [v for v, _ in out] == [p * p + 10 for p in parts]
    assert all(pid != os.getpid() for _, pid in out)


def test_recycle_forks_fresh_processes_per_wave():
    """With recycle=1 and two workers, parts 0-1, 2-3 and 4-5 run in three waves of new forks:
    no process outlives its wave."""
    out = list(fork_map(_square_with_pid, list(range(6)), workers=2, state={"offset": 0}, recycle=1))
    waves = [{pid for _, pid in out[i : i + 2]} for i in range(0, 6, 2)]
    assert not (waves[0] & waves[1]) and not (waves[1] & waves[2]) and not (waves[0] & waves[2])
    # without recycling at most the two processes take all six parts
    kept = list(fork_map(_square_with_pid, list(range(6)), workers=2, state={"offset": 0}))
    assert len({pid for _, pid in kept}) <= 2


def test_fork_map_of_nothing():
    assert list(fork_map(_square_with_pid, [], workers=2, state={"offset": 0}, recycle=1)) == []
