"""The HTTP/2 scenarios: h2load's command lines and output, server commands, failed requests.

h2load itself is replaced by a small script that prints a report as h2load 1.52 does and
writes its request log, so these tests need neither h2load nor a server.
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from bench import h2load
from bench.environment import Environment
from bench.report import scenario_table
from bench.results import Result
from bench.runner import Settings, judge, run_one, scenario_load, server_command
from bench.scenarios import SCENARIOS
from bench.servers import SERVERS
from tests.bench.helpers import run

# h2load 1.52's report after a timed run (-D), trimmed of its progress lines.
REPORT = """\
Application protocol: h2c
Main benchmark duration is over for thread #0. Stopping all clients.
Stopped all clients for thread #0

finished in 3.00s, 5925.00 req/s, 208.83KB/s
requests: 17775 total, 17875 started, 17775 done, {ok} succeeded, {failed} failed, \
{errored} errored, {timeout} timeout
status codes: {ok} 2xx, 0 3xx, {c4} 4xx, {c5} 5xx
traffic: 626.51KB (641543) total, 87.68KB (89788) headers (space savings 94.79%), \
225.66KB (231075) data
                     min         max         mean         sd        +/- sd
time for request:      696us    691.09ms     15.40ms     69.76ms    95.39%
time for connect:      301us       410us       362us        35us    60.00%
time to 1st byte:    28.97ms    462.16ms    236.36ms    159.55ms    60.00%
req/s           :     334.98     1108.22      592.45      222.70    80.00%
"""


def report(
    ok: int = 17775, failed: int = 0, errored: int = 0, timeout: int = 0, c4: int = 0, c5: int = 0
) -> str:
    return REPORT.format(ok=ok, failed=failed, errored=errored, timeout=timeout, c4=c4, c5=c5)


def log(durations_us: list[int]) -> str:
    """h2load's --log-file: start time (µs since the epoch), status, duration (µs)."""
    return "".join(f"{1796625370606746 + i}\t200\t{d}\n" for i, d in enumerate(durations_us))


def test_command_pins_h2load_and_asks_for_connections_times_streams() -> None:
    cmd = h2load.command(
        Path("/usr/bin/h2load"),
        1,
        "http://127.0.0.1:8000/echo",
        10,
        10,
        9.6,
        Path("/tmp/x/requests.log"),
        ("x-expect-length: 65536",),
        Path("/tmp/x/body.bin"),
    )
    assert cmd == [
        "taskset", "-c", "1", "/usr/bin/h2load",
        "-t", "1", "-c", "10", "-m", "10", "-D", "10", "-N", "5",
        "--log-file=/tmp/x/requests.log",
        "-H", "x-expect-length: 65536",
        "-d", "/tmp/x/body.bin",
        "http://127.0.0.1:8000/echo",
    ]  # fmt: skip


def test_a_get_has_no_body_and_a_short_run_lasts_a_second() -> None:
    cmd = h2load.command(Path("h2load"), 1, "http://h/", 10, 10, 0.2, Path("l"))
    assert "-d" not in cmd
    assert "-H" not in cmd
    assert cmd[cmd.index("-D") + 1] == "1"


def test_report_and_log_make_one_result() -> None:
    durations = [1000 * n for n in range(1, 101)]  # 1 ms .. 100 ms
    found = h2load.parse(report(), list(reversed(durations)))
    assert (found.requests, found.seconds, found.requests_per_sec) == (17775, 3.0, 5925.0)
    # nearest rank: the 50th, 75th, 90th and 99th of 100 sorted durations
    assert found.percentiles_ms == {"50": 50.0, "75": 75.0, "90": 90.0, "99": 99.0}
    assert (found.p50_ms, found.p99_ms, found.latency_max_ms) == (50.0, 99.0, 100.0)
    assert found.latency_avg_ms == pytest.approx(50.5)
    assert (found.failed, found.non_2xx_3xx, found.total_socket_errors) == (0, 0, 0)
    assert h2load.failure(found) is None


def test_failed_requests_are_counted_and_named() -> None:
    found = h2load.parse(
        report(ok=17000, failed=775, errored=70, timeout=5, c4=200, c5=500), [1000, 2000]
    )
    assert (found.requests, found.failed, found.non_2xx_3xx) == (17000, 775, 700)
    assert found.socket_errors == {"errored": 70, "timeout": 5}
    assert h2load.failure(found) == (
        "775 requests failed (70 errored, 5 timed out, 700 with status 4xx/5xx); 17,000 succeeded"
    )


def test_a_run_that_completed_nothing_says_what_failed() -> None:
    # h2load against a closed port: it exits 0, reports in µs and logs nothing.
    text = report(ok=0, failed=2, errored=2).replace("finished in 3.00s", "finished in 200us")
    with pytest.raises(
        h2load.H2loadError, match=r"no request; requests: 17775 total, .* 2 failed, 2 errored"
    ):
        h2load.parse(text, [])


def test_output_that_is_not_a_report_is_an_error() -> None:
    with pytest.raises(h2load.H2loadError, match="unexpected h2load output"):
        h2load.parse("h2load: unrecognized option '--bogus'\n", [1000])


def test_the_log_gives_durations_and_refuses_other_lines() -> None:
    assert h2load.durations_us(log([2824, 2886, 17])) == [2824, 2886, 17]
    assert h2load.durations_us("") == []
    with pytest.raises(h2load.H2loadError, match="unexpected h2load log line"):
        h2load.durations_us("1796625370606746\t200\n")


def test_body_file_holds_the_posted_bytes(tmp_path: Path) -> None:
    path = h2load.body_file(tmp_path, 65536)
    assert path.read_bytes() == b"x" * 65536


def test_servers_with_http2_get_their_cleartext_http2_command() -> None:
    env = Environment(Path("/venv/bin/python"), Path("/venv/bin"), {})
    settings = Settings()

    def words(server: str, scenario: str) -> list[str]:
        return server_command(SERVERS[server], SCENARIOS[scenario], env, settings, 8000)

    assert words("wsgiserver", "h2") == [*words("wsgiserver", "hello"), "--http2"]
    gunicorn = words("gunicorn", "h2-post")
    assert gunicorn[gunicorn.index("--http-protocols") + 1] == "h2,h1"
    assert gunicorn[gunicorn.index("--http2-cleartext") + 1] == "prior-knowledge"
    # gthread holds a thread per HTTP/2 connection: one for each of h2load's connections
    assert gunicorn[gunicorn.index("--threads") + 1] == str(SCENARIOS["h2"].connections)
    assert words("gunicorn", "hello")[words("gunicorn", "hello").index("--threads") + 1] == "4"
    granian = words("granian", "h2")
    assert granian[granian.index("--http") + 1] == "2"
    for server in ("wsgiserver", "gunicorn", "granian"):
        assert words(server, "h2")[:3] == ["taskset", "-c", "0"]
        http1 = words(server, "hello")
        assert not {"--http2", "--http-protocols", "--http"} & set(http1)


def test_a_server_without_http2_is_not_measured_and_not_started() -> None:
    env = Environment(Path("/nonexistent/python"), Path("/nonexistent"), {})
    for server in ("waitress", "cheroot"):
        result = run_one(SERVERS[server], SCENARIOS["h2"], env, Path("wrk"), Settings())
        assert result.error == "not measured: serves no HTTP/2"
        assert result.port == 0
        assert result.stop is None


def fake_h2load(tmp_path: Path, text: str, durations_us: list[int]) -> Path:
    """An executable that writes ``durations_us`` to the --log-file it is given (none when
    empty, as h2load does) and prints ``text``."""
    script = tmp_path / "h2load"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"lines = {log(durations_us)!r}\n"
        "for arg in sys.argv[1:]:\n"
        "    if arg.startswith('--log-file=') and lines:\n"
        "        open(arg.split('=', 1)[1], 'w').write(lines)\n"
        f"sys.stdout.write({text!r})\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    return script


def test_the_scenario_load_runs_h2load_and_reads_its_log(tmp_path: Path) -> None:
    tool = fake_h2load(tmp_path, report(), [3000, 1000, 2000])
    result = Result("wsgiserver", "h2-post", ["true"], port=8000)
    settings = Settings(h2load=tool)
    work = tmp_path / "work"
    work.mkdir()
    load = scenario_load(SCENARIOS["h2-post"], Path("wrk"), settings, result, work)
    found = load(2.0)
    assert (found.requests, found.p50_ms, found.latency_max_ms) == (17775, 2.0, 3.0)
    assert result.wrk_command[3] == str(tool)
    assert result.wrk_command[-1] == "http://127.0.0.1:8000/echo"
    body = Path(result.wrk_command[result.wrk_command.index("-d") + 1])
    assert body.parent == work
    assert body.stat().st_size == 65536


def test_an_old_log_is_never_read_for_a_run_that_logged_nothing(tmp_path: Path) -> None:
    log_file = tmp_path / "requests.log"
    log_file.write_text(log([1000]))  # left by the warm-up run
    tool = fake_h2load(tmp_path, report(ok=0, failed=100, errored=100), [])
    cmd = h2load.command(tool, 1, "http://127.0.0.1:1/", 10, 10, 1.0, log_file)
    with pytest.raises(h2load.H2loadError, match=r"no request; requests: .* 100 failed"):
        h2load.run(list(cmd[3:]), 1.0, log_file)


def test_h2load_exiting_non_zero_is_an_error(tmp_path: Path) -> None:
    script = tmp_path / "h2load"
    script.write_text("#!/bin/sh\necho 'h2load: no URI given' >&2\nexit 1\n")
    script.chmod(0o755)
    with pytest.raises(h2load.H2loadError, match="exited 1: h2load: no URI given"):
        h2load.run([str(script)], 1.0, tmp_path / "requests.log")


def test_h2load_killed_by_a_signal_says_so(tmp_path: Path) -> None:
    script = tmp_path / "h2load"
    script.write_text(
        "#!/bin/sh\necho 'h2load: ev_epoll.c:134: Assertion failed.' >&2\nkill -ABRT $$\n"
    )
    script.chmod(0o755)
    with pytest.raises(h2load.H2loadError, match="h2load was killed by SIGABRT: h2load: ev_epoll"):
        h2load.run([str(script)], 1.0, tmp_path / "requests.log")


def test_a_run_with_failed_requests_is_a_failure_not_a_number() -> None:
    result = run("gunicorn", 1, 4500.0, scenario="h2")
    assert result.wrk is not None
    result.wrk = h2load.parse(report(ok=17770, failed=5, timeout=5), [1000])
    judge(result)
    assert not result.ok
    assert result.error == (
        "5 requests failed (0 errored, 5 timed out, 0 with status 4xx/5xx); 17,770 succeeded"
    )
    table = scenario_table(SCENARIOS["h2"], [run("wsgiserver", 1, 6000.0), result], 10.0)
    assert "  gunicorn: FAILED: 5 requests failed" in table
    assert "gunicorn    FAILED" in table


def test_a_clean_run_stays_a_number() -> None:
    result = run("granian", 1, 100_000.0, scenario="h2")
    judge(result)
    assert result.ok
    assert result.error is None


def test_the_h2_table_names_its_load_shape() -> None:
    table = scenario_table(SCENARIOS["h2"], [run("wsgiserver", 1, 6000.0)], 10.0)
    title = table.splitlines()[0]
    assert "h2load, 10 h2c connections x 10 streams, 10 s" in title
