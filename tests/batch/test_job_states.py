"""Who may move a batch job where: UpdateJobStatus's rules and the engine's running decisions."""

from __future__ import annotations

import pytest

from dockyard.batch import job_states as s

ALL = [
    s.NEW,
    s.PREPARING,
    s.SUSPENDED,
    s.READY,
    s.ACTIVE,
    s.PAUSING,
    s.PAUSED,
    s.COMPLETING,
    s.COMPLETE,
    s.CANCELLING,
    s.CANCELLED,
    s.FAILING,
    s.FAILED,
]


@pytest.mark.parametrize("current", ALL)
def test_ready_only_from_suspended(current: str) -> None:
    assert s.requested(current, s.READY) == (s.READY if current == s.SUSPENDED else None)


@pytest.mark.parametrize("current", ALL)
def test_cancel_from_anything_not_ending(current: str) -> None:
    ending = {s.COMPLETE, s.CANCELLED, s.FAILED, s.CANCELLING, s.COMPLETING, s.FAILING}
    assert s.requested(current, s.CANCELLED) == (None if current in ending else s.CANCELLING)


RUNNING = [
    (
        "items left, capacity",
        dict(executed=10, failed=1, pending=5, starved=False, current=s.ACTIVE),
        s.ACTIVE,
    ),
    ("nothing left", dict(executed=10, failed=9, pending=0, starved=False, current=s.ACTIVE), s.COMPLETING),
    ("starved", dict(executed=0, failed=0, pending=5, starved=True, current=s.ACTIVE), s.PAUSING),
    ("still starved", dict(executed=0, failed=0, pending=5, starved=True, current=s.PAUSING), s.PAUSED),
    ("capacity back", dict(executed=0, failed=0, pending=5, starved=False, current=s.PAUSED), s.ACTIVE),
    (
        "over the threshold",
        dict(executed=1000, failed=501, pending=5, starved=False, current=s.ACTIVE),
        s.FAILING,
    ),
    (
        "at the threshold",
        dict(executed=1000, failed=500, pending=5, starved=False, current=s.ACTIVE),
        s.ACTIVE,
    ),
    (
        "too few executed to fail",
        dict(executed=999, failed=999, pending=5, starved=False, current=s.ACTIVE),
        s.ACTIVE,
    ),
]


@pytest.mark.parametrize(("facts", "wanted"), [c[1:] for c in RUNNING], ids=[c[0] for c in RUNNING])
def test_while_running(facts: dict[str, object], wanted: str) -> None:
    assert s.while_running(**facts) == wanted  # type: ignore[arg-type]
