"""Starting and stopping servers leaves no thread and no file descriptor behind."""

from __future__ import annotations

import os
import threading

from tests.embedding.apps import get, hello, noisy
from wsgiserver.contrib.webtest import StopableWSGIServer
from wsgiserver.testing import serving

CYCLES = 100


def _counts() -> tuple[int, int]:
    return threading.active_count(), len(os.listdir("/proc/self/fd"))


def test_serving_cycles_return_to_baseline() -> None:
    with serving(hello) as srv:  # warm-up: imports, logging handler, caches
        get(srv.host, srv.port)
    baseline = _counts()
    for _ in range(CYCLES):
        with serving(hello) as srv:
            assert get(srv.host, srv.port)[0] == 200
    assert _counts() == baseline


def test_cycles_with_app_errors_and_several_listeners_return_to_baseline() -> None:
    baseline = _counts()
    for _ in range(CYCLES // 4):
        with serving(noisy, bind=["127.0.0.1:0", "127.0.0.1:0"], threads=2) as srv:
            assert get(srv.host, srv.port, "/boom")[0] == 500
            assert len(srv.take_app_errors()) == 1
    assert _counts() == baseline


def test_webtest_dropin_cycles_return_to_baseline() -> None:
    baseline = _counts()
    for _ in range(CYCLES // 4):
        server = StopableWSGIServer.create(hello)
        assert get(server.host, server.port)[0] == 200
        server.shutdown()
    assert _counts() == baseline
