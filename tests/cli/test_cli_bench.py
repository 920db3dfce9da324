"""``zloop bench``: libzmq's perf-tool roles against libzmq and zloop peers, and the suite.

No timing is asserted: the tests check that each role speaks the perf tools' wire behaviour (socket
types, bind/connect sides, sizes, counts), reports in their format, and that the suite prints
its table, plot and JSON. Speed itself lives in the benchmark.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from zl_cli import Tool, run

DEADLINE_MS = 20_000


def sock(ctx: Any, impl: Any, kind: str) -> Any:
    s = ctx.socket(getattr(impl, kind))
    s.setsockopt(impl.LINGER, DEADLINE_MS)
    s.setsockopt(impl.RCVTIMEO, DEADLINE_MS)
    s.setsockopt(impl.SNDTIMEO, DEADLINE_MS)
    return s


def test_local_thr_receives_from_a_remote_thr_peer(impl: Any, impl_ctx: Any) -> None:
    with Tool("bench", "local-thr", "tcp://127.0.0.1:*", "16", "300", "--timeout", "20") as tool:
        push = sock(impl_ctx, impl, "PUSH")  # what libzmq's remote_thr is
        push.connect(tool.bound())
        for _ in range(300):
            push.send(b"y" * 16)
        lines = tool.lines(4)
        assert lines[:2] == ["message size: 16 [B]", "message count: 300"]
        assert re.fullmatch(r"mean throughput: \d+ \[msg/s\]", lines[2])
        assert re.fullmatch(r"mean throughput: \d+\.\d{3} \[Mb/s\]", lines[3])
        assert tool.wait() == 0


def test_remote_thr_sends_to_a_local_thr_peer(impl: Any, impl_ctx: Any) -> None:
    pull = sock(impl_ctx, impl, "PULL")  # what libzmq's local_thr is
    pull.bind("tcp://127.0.0.1:*")
    where = pull.getsockopt(impl.LAST_ENDPOINT).decode()
    proc = run("bench", "remote-thr", where, "100", "250", "--timeout", "20")
    assert proc.returncode == 0, proc.stderr
    assert [len(pull.recv()) for _ in range(250)] == [100] * 250
    assert not pull.poll(100)


def test_local_lat_echoes_a_remote_lat_peer(impl: Any, impl_ctx: Any) -> None:
    with Tool("bench", "local-lat", "tcp://127.0.0.1:*", "32", "40", "--timeout", "20") as tool:
        req = sock(impl_ctx, impl, "REQ")  # what libzmq's remote_lat is
        req.connect(tool.bound())
        for i in range(40):
            req.send(b"%032d" % i)
            assert req.recv() == b"%032d" % i
        assert tool.wait() == 0


def test_remote_lat_times_round_trips_to_a_local_lat_peer(impl: Any, impl_ctx: Any) -> None:
    rep = sock(impl_ctx, impl, "REP")  # what libzmq's local_lat is
    rep.bind("tcp://127.0.0.1:*")
    where = rep.getsockopt(impl.LAST_ENDPOINT).decode()
    sizes: list[int] = []

    def echo() -> None:
        for _ in range(40):
            msg = rep.recv()
            sizes.append(len(msg))
            rep.send(msg)

    thread = threading.Thread(target=echo)
    thread.start()
    try:
        proc = run("bench", "remote-lat", where, "64", "40", "--timeout", "20")
    finally:
        thread.join(30)
    assert proc.returncode == 0, proc.stderr
    assert sizes == [64] * 40
    lines = proc.stdout.splitlines()
    assert lines[:2] == ["message size: 64 [B]", "roundtrip count: 40"]
    assert re.fullmatch(r"average latency: \d+\.\d{3} \[us\]", lines[2])
    assert lines[3].startswith("round trip p50: ") and lines[4].startswith("round trip p99: ")


@pytest.mark.interop
@pytest.mark.parametrize(("local", "remote"), [("zloop", "pyzmq"), ("pyzmq", "zloop")])
def test_both_roles_as_processes_across_implementations(local: str, remote: str) -> None:
    """Two ``zloop bench`` processes, one of them playing its role with libzmq (``--impl``)."""
    with Tool(
        "bench", "local-thr", "ipc://@zloop-bench-roles", "1024", "500", "--impl", local
    ) as receiver:
        where = receiver.bound()
        sender = run(
            "bench", "remote-thr", where, "1024", "500", "--impl", remote, "--timeout", "20"
        )
        assert sender.returncode == 0, sender.stderr
        assert receiver.lines(2) == ["message size: 1024 [B]", "message count: 500"]
        assert receiver.wait() == 0


def test_a_message_of_the_wrong_size_fails_local_thr(impl: Any, impl_ctx: Any) -> None:
    with Tool("bench", "local-thr", "tcp://127.0.0.1:*", "16", "10", "--timeout", "20") as tool:
        push = sock(impl_ctx, impl, "PUSH")
        push.connect(tool.bound())
        push.send(b"too long for sixteen bytes")
        assert tool.wait() == 1
        _, err = tool.rest()
        assert "expected 16-byte messages, got 26 bytes" in err and "Traceback" not in err


def test_role_errors_are_one_line() -> None:
    proc = run("bench", "local-thr", "nowhere", "16", "10")
    assert proc.returncode == 2
    assert proc.stderr.startswith("zloop bench: nowhere: ") and "Traceback" not in proc.stderr
    quiet = run("bench", "remote-lat", "tcp://127.0.0.1:1", "16", "10", "--timeout", "0.3")
    assert quiet.returncode == 1
    assert "no reply for 300 ms (is local-lat running?)" in quiet.stderr


@pytest.mark.interop
@pytest.mark.timeout(120)
def test_suite_table_plot_and_json(tmp_path: Path) -> None:
    svg, data = tmp_path / "thr.svg", tmp_path / "thr.json"
    proc = run(
        "bench",
        "--quick",
        "--sizes",
        "16,1k",
        "--transports",
        "tcp",
        "--count",
        "300",
        "--lat-count",
        "50",
        "--plot",
        str(svg),
        "--json",
        str(data),
        timeout=100,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert "zloop beside pyzmq (libzmq)" in out
    assert "transport/size  zloop msg/s  zloop MB/s  pyzmq msg/s  pyzmq MB/s  zloop/pyzmq" in out
    assert re.search(r"^tcp 16 B +[\d.]+[kM]? +[\d.]+ +[\d.]+[kM]? +[\d.]+ +[\d.]+$", out, re.M)
    assert re.search(r"^tcp 1 KiB ", out, re.M)
    assert "PAIR round-trip latency" in out and re.search(r"^tcp 16 B +pyzmq ", out, re.M)
    assert f"plot written to {svg}" in out
    # Progress: one numbered line per run on stderr.
    assert re.search(r"\[4/4\] throughput pyzmq tcp +1 KiB x 300 \.\.\. ", proc.stderr)
    assert "[2/2] latency pyzmq tcp" in proc.stderr
    root = ET.parse(svg).getroot()
    names = [el.findtext("{http://www.w3.org/2000/svg}title") for el in root.iter()]
    assert {"zloop tcp", "pyzmq tcp"} <= {n for n in names if n}
    record = json.loads(data.read_text())
    assert {(r["impl"], r["size"]) for r in record["throughput"]} == {
        ("zloop", 16),
        ("pyzmq", 16),
        ("zloop", 1024),
        ("pyzmq", 1024),
    }
    assert all(r["msg_per_s"] > 0 and not r["error"] for r in record["throughput"])
    assert {r["impl"] for r in record["latency"]} == {"zloop", "pyzmq"}


@pytest.mark.timeout(120)
def test_suite_png_plot(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png = tmp_path / "thr.png"
    proc = run(
        "bench",
        "--quick",
        "--no-pyzmq",
        "--no-latency",
        "--sizes",
        "16,4k",
        "--transports",
        "ipc",
        "--count",
        "200",
        "--plot",
        str(png),
        timeout=100,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def run_without(blocked: set[str], *args: str) -> subprocess.CompletedProcess[str]:
    """``zloop ARGS`` in an interpreter where ``blocked`` packages cannot be found."""
    code = (
        "import sys, importlib.util\n"
        f"BLOCKED = {sorted(blocked)!r}\n"
        "class Blocked:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in BLOCKED:\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Blocked())\n"
        "_find = importlib.util.find_spec\n"
        "def find_spec(name, package=None):\n"
        "    try:\n"
        "        return _find(name, package)\n"
        "    except ModuleNotFoundError:\n"
        "        return None\n"
        "importlib.util.find_spec = find_spec\n"
        "from zloop.cli import main\n"
        f"sys.exit(main({list(args)!r}))\n"
    )
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=100)


@pytest.mark.timeout(120)
def test_suite_without_pyzmq_measures_zloop_alone() -> None:
    proc = run_without(
        {"zmq"},
        "bench",
        "--quick",
        "--sizes",
        "16",
        "--transports",
        "tcp",
        "--count",
        "200",
        "--lat-count",
        "30",
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "zloop only (pyzmq is not installed: pip install pyzmq to compare)" in proc.stdout
    assert re.search(r"^tcp 16 B +[\d.]+[kM]? +[\d.]+ +- +- +-$", proc.stdout, re.M), proc.stdout


def test_png_without_matplotlib_names_the_extra(tmp_path: Path) -> None:
    proc = run_without({"matplotlib"}, "bench", "--plot", str(tmp_path / "x.png"))
    assert proc.returncode == 2
    assert 'install zloop\'s "plot" extra (pip install "zloop-zmq[plot]")' in proc.stderr
    assert "Traceback" not in proc.stderr


# -- the event-loop adapter rows (zloop bench --adapters) -------------------------------------------


def test_adapter_options_parse() -> None:
    from zloop.cli import build_parser

    parser = build_parser()
    plain = parser.parse_args(["bench"])
    assert not plain.adapters and not plain.adapters_only and plain.loops is None
    assert plain.sizes is None  # each section then takes its own default sizes
    args = parser.parse_args(
        ["bench", "--adapters", "--loops", "asyncio, gevent", "--sizes", "16,64k,1M"]
    )
    assert args.adapters and args.loops == ["asyncio", "gevent"]
    assert args.sizes == (16, 64 * 1024, 1024 * 1024)
    assert parser.parse_args(["bench", "--adapters-only"]).adapters_only


def test_an_unknown_loop_is_refused_with_the_known_ones() -> None:
    proc = run("bench", "--loops", "asyncio,nosuch")
    assert proc.returncode == 2
    assert "'nosuch': the loops are asyncio, trio, gevent, tornado, anyio-asyncio" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_adapters_only_has_no_plot(tmp_path: Path) -> None:
    proc = run("bench", "--adapters-only", "--plot", str(tmp_path / "x.svg"))
    assert proc.returncode == 2
    assert "the plot draws the socket throughput rows" in proc.stderr


@pytest.mark.interop
@pytest.mark.timeout(120)
def test_adapters_quick_run_adds_their_rows_and_json(tmp_path: Path) -> None:
    data = tmp_path / "bench.json"
    proc = run(
        "bench",
        "--quick",
        "--adapters",
        "--loops",
        "asyncio",
        "--sizes",
        "16",
        "--transports",
        "tcp",
        "--count",
        "500",
        "--no-latency",
        "--json",
        str(data),
        timeout=100,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    out = proc.stdout
    assert re.search(r"^tcp 16 B ", out, re.M)  # the socket rows still run beside them
    assert "== adapter receive throughput: 16 B messages over tcp, 500 per run ==" in out
    assert re.search(
        r"^asyncio +zloop\.adapters\.asyncio: [\d.]+[kM]? +zmq\.asyncio: [\d.]+[kM]? +[\d.]+$",
        out,
        re.M,
    ), out
    assert "round trips through the adapters" not in out  # --no-latency
    assert "[2/2] adapters 16 B x 500 zmq.asyncio ... " in proc.stderr
    record = json.loads(data.read_text())
    assert {r["impl"] for r in record["throughput"]} == {"zloop", "pyzmq"}
    rows = record["adapters"]["throughput"]
    assert [(r["row"], r["size"], r["count"]) for r in rows] == [
        ("zloop.adapters.asyncio", 16, 500),
        ("zmq.asyncio", 16, 500),
    ]
    assert all(r["msg_per_s"] > 0 and not r["error"] and not r["skipped"] for r in rows)
    assert record["adapters"]["rtt"] == []


@pytest.mark.timeout(120)
def test_adapter_rows_without_their_loop_are_skipped_with_the_reason(tmp_path: Path) -> None:
    data = tmp_path / "bench.json"
    proc = run_without(
        {"trio"},
        "bench",
        "--adapters-only",
        "--loops",
        "trio",
        "--sizes",
        "16",
        "--no-latency",
        "--json",
        str(data),
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert re.search(
        r"^trio +zloop\.adapters\.trio: skipped \(trio is not installed\) +"
        r"zmq\.asyncio: skipped \(trio is not installed\) +-$",
        proc.stdout,
        re.M,
    ), proc.stdout
    assert "tcp 16 B" not in proc.stdout  # --adapters-only: no socket rows
    rows = json.loads(data.read_text())["adapters"]["throughput"]
    assert [r["skipped"] for r in rows] == ["trio is not installed"] * 2
    assert all(r["msg_per_s"] is None for r in rows)


@pytest.mark.timeout(120)
def test_adapter_rows_without_pyzmq_are_skipped_with_the_reason() -> None:
    proc = run_without({"zmq"}, "bench", "--adapters-only", "--loops", "asyncio", "--quick")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    reason = "skipped (pyzmq is not installed)"
    assert f"zloop.adapters.asyncio: {reason}" in proc.stdout
    assert f"zloop (blocking): {reason}" in proc.stdout
