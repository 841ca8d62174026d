"""`wsgiserver.testing.serving` and `RunningServer`: options, per-server capture, errors."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import pytest
import requests

from tests.embedding.apps import Environ, UnixHTTPConnection, get, hello, noisy
from wsgiserver.config.options import Config
from wsgiserver.server.server import Server
from wsgiserver.testing import TEST_GRACEFUL_TIMEOUT, AppError, Capture, RunningServer, serving
from wsgiserver.types import StartResponse


def test_serves_on_a_free_loopback_port() -> None:
    with serving(hello) as srv:
        assert srv.host == "127.0.0.1"
        assert srv.port > 0
        assert srv.address == ("127.0.0.1", srv.port)
        assert srv.url == f"http://127.0.0.1:{srv.port}"
        response = requests.get(srv.url + "/a", timeout=10)
        assert response.text == "hello |/a"
    srv.stop()  # idempotent


def test_server_options_pass_through() -> None:
    with serving(hello, threads=1, max_threads=2, root_path="/app", max_body_size=4) as srv:
        assert srv.server.config.threads == 1
        assert requests.get(srv.url + "/x", timeout=10).text == "hello /app|/x"
        assert requests.post(srv.url, data=b"too long", timeout=10).status_code == 413


def test_a_config_combines_with_keyword_options() -> None:
    # serving() adds its own bind (a str): with config= that used to fail with an error
    # about a bind the test never passed, and so did Server(config=..., bind="...").
    config = Config(threads=2, max_body_size=4)
    with Server(hello, config=config, bind="127.0.0.1:0") as server:
        assert (server.config.threads, server.config.bind) == (2, ("127.0.0.1:0",))
    with serving(hello, config=config) as srv:
        assert srv.host == "127.0.0.1"
        assert srv.port > 0  # the testing default, not Config's 8000
        assert srv.server.config.threads == 2  # config= wins over the testing default
        assert srv.server.config.graceful_timeout == TEST_GRACEFUL_TIMEOUT
        assert requests.post(srv.url, data=b"too long", timeout=10).status_code == 413
    with serving(hello, config=Config(threads=3), threads=1, bind=["127.0.0.1:0"]) as srv:
        assert srv.server.config.threads == 1  # a keyword wins over config=
        assert get(srv.host, srv.port, "/k") == (200, b"hello |/k")


def test_wildcard_bind_gives_a_loopback_url() -> None:
    with serving(hello, bind="0.0.0.0:0") as srv:
        assert srv.host == "0.0.0.0"
        assert srv.url == f"http://127.0.0.1:{srv.port}"
        assert get("127.0.0.1", srv.port)[0] == 200


def test_unix_socket(tmp_path: Path) -> None:
    path = str(tmp_path / "app.sock")
    with serving(hello, bind=f"unix:{path}") as srv:
        assert srv.address == path
        assert srv.url == "http+unix://" + quote(path, safe="")
        conn = UnixHTTPConnection(path)
        conn.request("GET", "/u")
        assert conn.getresponse().read() == b"hello |/u"
        conn.close()


def test_captures_wsgi_errors_and_access_records() -> None:
    with serving(noisy) as srv:
        assert get(srv.host, srv.port, "/one") == (200, b"ok")
        assert get(srv.host, srv.port, "/two?q=1") == (200, b"ok")
        records = srv.wait_for_requests(2)
        # Each record is written just after its response went out: the client may already
        # have asked for /two (on another connection, served by another thread) by then.
        assert sorted((r.method, r.target, r.status) for r in records) == [
            ("GET", "/one", 200),
            ("GET", "/two?q=1", 200),
        ]
        assert srv.errors_text() == "noisy /one\nnoisy /two\n"
        lines = srv.access_lines("common")
        assert any('"GET /one HTTP/1.1" 200 2' in line for line in lines)
        assert all(line.startswith("127.0.0.1 - - [") for line in srv.access_lines())
        with pytest.raises(ValueError, match="fmt"):
            srv.access_lines("{no_such_field}")
    assert len(srv.access_records) == 2
    assert srv.log_records == []


def test_access_records_taken_are_let_go() -> None:
    # They were kept for the server's life (about 3 KiB each): a session-wide server grew.
    with serving(hello) as srv:
        for path in ("/a", "/b"):
            assert get(srv.host, srv.port, path)[0] == 200
        srv.wait_for_requests(2)
        assert sorted(r.target for r in srv.take_access_records()) == ["/a", "/b"]
        assert srv.access_records == []
        assert srv.access_lines() == []
        assert srv.take_access_records() == []
        assert get(srv.host, srv.port, "/c")[0] == 200
        assert [r.target for r in srv.wait_for_requests(1)] == ["/c"]  # counted from the take
    assert [r.target for r in srv.take_access_records()] == ["/c"]


def test_waiting_for_requests_a_stopped_server_cannot_serve_fails_at_once() -> None:
    # It waited out its whole timeout. (The timeout here is far longer than the test's.)
    with serving(hello) as srv:
        assert get(srv.host, srv.port)[0] == 200
        srv.wait_for_requests(1)
    assert len(srv.wait_for_requests(1, timeout=3600)) == 1
    with pytest.raises(RuntimeError, match=r"^1 of 2 requests finished, and the server has"):
        srv.wait_for_requests(2, timeout=3600)


def test_waiting_for_requests_after_the_servers_own_shutdown_fails_at_once() -> None:
    # Stopped by `server.shutdown()` (as tests of the server itself do), not `stop()`.
    with serving(hello) as srv:
        srv.server.shutdown()
        with pytest.raises(RuntimeError, match=r"^0 of 1 requests finished"):
            srv.wait_for_requests(1, timeout=3600)


def test_a_stop_wakes_a_wait_for_requests_it_makes_hopeless() -> None:
    running = RunningServer.start(hello)
    outcome: list[BaseException] = []

    def wait() -> None:
        try:
            running.wait_for_requests(1, timeout=3600)
        except BaseException as exc:
            outcome.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    running.stop()
    waiter.join(60)
    assert not waiter.is_alive()
    [error] = outcome
    assert isinstance(error, RuntimeError)


def test_user_supplied_errors_stream_is_used(tmp_path: Path) -> None:
    with (tmp_path / "errors.txt").open("w") as stream, serving(noisy, errors=stream) as srv:
        get(srv.host, srv.port, "/f")
        srv.wait_for_requests(1)
        assert srv.errors_text() == ""
    assert (tmp_path / "errors.txt").read_text() == "noisy /f\n"


def test_capture_is_per_server_side_by_side() -> None:
    servers = [RunningServer.start(noisy, threads=1) for _ in range(5)]
    try:
        for round_ in range(2):
            for i, srv in enumerate(servers):
                assert get(srv.host, srv.port, f"/s{i}r{round_}")[0] == 200
        bad = servers[2]
        assert get(bad.host, bad.port, "/boom")[0] == 500
        for i, srv in enumerate(servers):
            expected = [f"/s{i}r0", f"/s{i}r1"] + (["/boom"] if srv is bad else [])
            # A record ends after its response is sent: the next request, on a thread the
            # pool added, may end first.
            records = srv.wait_for_requests(len(expected))
            assert sorted(r.target for r in records) == sorted(expected)
            assert srv.errors_text() == "".join(f"noisy {p}\n" for p in expected)
            assert bool(srv.log_records) is (srv is bad)
        assert "ZeroDivisionError" in bad.log_text()
        [error] = bad.take_app_errors()
        assert isinstance(error, ZeroDivisionError)
    finally:
        for srv in servers:
            srv.stop()


def test_a_capture_closed_twice_leaves_the_others_capturing() -> None:
    # The log router counts the captures using it: a second close() of one used to count
    # it out twice, and the router left while another server still ran (its logs lost).
    other = RunningServer.start(noisy)
    try:
        done = Capture()
        done.start()
        done.close()
        done.close()
        assert get(other.host, other.port, "/boom")[0] == 500
        other.wait_for_requests(1)
        assert "ZeroDivisionError" in other.log_text()
        other.take_app_errors()
    finally:
        other.stop()


def test_app_error_is_raised_at_stop_when_asked() -> None:
    srv = RunningServer.start(noisy, raise_app_errors=True)
    assert get(srv.host, srv.port, "/boom")[0] == 500
    assert get(srv.host, srv.port, "/boom")[0] == 500
    with pytest.raises(ZeroDivisionError) as caught:
        srv.stop()
    assert any("1 more app errors" in note for note in caught.value.__notes__)


def test_app_errors_taken_by_the_test_are_not_raised() -> None:
    with serving(noisy, raise_app_errors=True) as srv:
        assert get(srv.host, srv.port, "/boom")[0] == 500
        [error] = srv.take_app_errors()
        assert isinstance(error, ZeroDivisionError)
        assert srv.take_app_errors() == []
    assert "ZeroDivisionError: integer division or modulo by zero" in srv.log_text()


def test_app_errors_are_kept_but_not_raised_by_default() -> None:
    with serving(noisy) as srv:
        assert get(srv.host, srv.port, "/boom")[0] == 500
    assert [type(e) for e in srv.take_app_errors()] == [ZeroDivisionError]


def test_base_exception_from_the_app_is_raised_as_app_error() -> None:
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        raise SystemExit(3)

    with pytest.raises(AppError) as caught, serving(app, raise_app_errors=True) as srv:
        assert get(srv.host, srv.port)[0] == 500
    assert isinstance(caught.value.__cause__, SystemExit)


def _fail_after_an_app_error(srv: RunningServer, own: BaseException) -> None:
    assert get(srv.host, srv.port, "/boom")[0] == 500
    srv.wait_for_requests(1)
    raise own


@pytest.mark.parametrize("own", [AssertionError("the test's own"), KeyboardInterrupt()])
def test_the_blocks_own_exception_is_not_replaced_by_an_app_error(own: BaseException) -> None:
    # It was: Ctrl-C in such a test became an ordinary failure (the run went on), and a
    # pytest.raises() around the block saw the app's ZeroDivisionError.
    with pytest.raises(type(own)) as caught, serving(noisy, raise_app_errors=True) as srv:
        _fail_after_an_app_error(srv, own)
    assert caught.value is own
    [note] = caught.value.__notes__
    assert "stop() raised ZeroDivisionError" in note
    assert "ZeroDivisionError" in srv.log_text()


def test_an_app_raising_stop_iteration_comes_out_of_the_block_as_itself() -> None:
    # Not as "RuntimeError: generator raised StopIteration" (PEP 479, when serving() was a
    # generator-based context manager).
    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        raise StopIteration

    with pytest.raises(StopIteration), serving(app, raise_app_errors=True) as srv:
        assert get(srv.host, srv.port)[0] == 500


def test_error_escaping_the_serving_thread_is_reraised(monkeypatch: pytest.MonkeyPatch) -> None:
    server = Server(hello, bind="127.0.0.1:0")

    def broken() -> None:
        raise RuntimeError("housekeeper died")

    monkeypatch.setattr(server, "_housekeep", broken)
    running = RunningServer(server)
    with pytest.raises(RuntimeError, match="housekeeper died"):
        running.stop()


def test_started_from_a_non_main_thread() -> None:
    results: list[object] = []

    def in_thread() -> None:
        try:
            with serving(hello) as srv:
                results.append(get(srv.host, srv.port, "/t"))
        except BaseException as exc:
            results.append(exc)

    thread = threading.Thread(target=in_thread)
    thread.start()
    thread.join()
    assert results == [(200, b"hello |/t")]


def test_many_servers_at_once() -> None:
    servers = [RunningServer.start(hello, threads=1, root_path=f"/{i}") for i in range(20)]
    try:
        for i, srv in enumerate(servers):
            assert get(srv.host, srv.port) == (200, f"hello /{i}|/".encode())
        assert len({srv.port for srv in servers}) == 20
    finally:
        for srv in servers:
            srv.stop()


def test_stop_from_inside_a_request_asks_for_the_stop_and_the_response_goes_out() -> None:
    # Joining there would wait for that very request: the call used to hang until
    # graceful_timeout and then cut the request off.
    holder: list[RunningServer] = []

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        holder[0].stop()
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"bye"]

    with serving(app, graceful_timeout=60) as running:
        holder.append(running)
        response = requests.get(running.url, timeout=10)
        assert (response.status_code, response.text) == (200, "bye")
    assert running.server.worker_threads() == set()  # the test's own stop joined them


def test_a_second_stop_meanwhile_returns_once_the_server_has_stopped() -> None:
    gate = threading.Event()
    entered = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> list[bytes]:
        entered.set()
        assert gate.wait(10)
        start_response("200 OK", [])
        return [b"done"]

    running = RunningServer.start(app)
    client = threading.Thread(target=requests.get, args=(running.url,), kwargs={"timeout": 10})
    client.start()
    assert entered.wait(10)
    left_running: list[set[threading.Thread]] = []
    called = threading.Semaphore(0)

    def stop() -> None:
        called.release()
        running.stop()
        left_running.append(running.server.worker_threads())

    stoppers = [threading.Thread(target=stop) for _ in range(2)]
    for stopper in stoppers:
        stopper.start()
    assert called.acquire(timeout=10)
    assert called.acquire(timeout=10)
    gate.set()  # the request finishes; the stop can end
    for stopper in stoppers:
        stopper.join(10)
    client.join(10)
    assert left_running == [set(), set()]  # neither returned with threads still serving


def test_a_request_cut_off_at_stop_is_reported_when_asked() -> None:
    # A stream the client still reads when the test stops the server: after the testing
    # graceful_timeout (5 s by default, 0.3 s here) its connection is closed under it.
    streaming = threading.Event()

    def app(environ: Environ, start_response: StartResponse) -> Iterator[bytes]:
        start_response("200 OK", [("Content-Type", "text/event-stream")])
        for _ in range(1000):  # bounded: long enough to outlive the graceful timeout
            streaming.set()
            yield b"data: tick\n\n"
            threading.Event().wait(0.01)  # pacing the stream, not synchronisation

    for raising in (True, False):
        streaming.clear()
        running = RunningServer.start(app, graceful_timeout=0.3, raise_app_errors=raising)
        with requests.get(running.url, stream=True, timeout=10):
            assert streaming.wait(10)
            if raising:
                with pytest.raises(AppError, match=r"1 request\(s\) still running at stop"):
                    running.stop()
            else:
                running.stop()  # said in the log only


def test_serving_starts_only_when_entered_and_serves_a_decorated_function() -> None:
    # Returned started, a serving(app) never entered left a server and its threads running,
    # and a decorator (what a contextmanager-based helper is too) raised TypeError.
    before = {t for t in threading.enumerate() if t.name.startswith("wsgiserver")}
    context = serving(hello)
    assert {t for t in threading.enumerate() if t.name.startswith("wsgiserver")} == before
    seen: list[int] = []

    @serving(hello)
    def use_it() -> None:
        seen.append(1)

    use_it()
    assert seen == [1]
    with context as srv:
        assert get(srv.host, srv.port)[0] == 200
