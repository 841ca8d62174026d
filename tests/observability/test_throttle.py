"""A warning about a lasting condition is said once, then once per interval, with a count."""

from __future__ import annotations

from wsgiserver.observability.throttle import Throttle


def test_said_at_first_then_once_per_interval_with_what_was_held_back() -> None:
    throttle = Throttle(60.0)
    assert throttle.due(1000.0) == 0  # the first time: at once, nothing held back
    assert [throttle.due(1000.0 + t) for t in (0.1, 30.0, 59.9)] == [None, None, None]
    assert throttle.due(1060.0) == 3  # the interval passed: due, with the three held back
    assert throttle.due(1061.0) is None
    assert throttle.due(2000.0) == 1
    assert throttle.due(2060.0) == 0
