"""Devices (``zmq.devices``, ``zmq.device``, ``monitored_queue``) on pyzmq and zloop side by side.

Every scenario forwards between real sockets: REQ -> device -> REP and back, with the monitor or
control sockets the device has. Monitors are PUSH/PULL (any type works; a PUB would need the slow
subscriber handled). Thread devices take the test's context (``context_factory``) and end when it
is terminated; process devices make their own context in the child and are terminated at the end.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from zl_testing import DEADLINE, DEADLINE_MS

import zloop

pytestmark = pytest.mark.timeout(60)


def _devices(impl: Any) -> Any:
    return importlib.import_module(f"{impl.__name__}.devices")


def _req_rep(impl: Any, ctx: Any, front: str, back: str) -> tuple[Any, Any]:
    req, rep = ctx.socket(impl.REQ), ctx.socket(impl.REP)
    for sock in (req, rep):
        sock.linger = 0
        sock.rcvtimeo = DEADLINE_MS
    req.connect(front)
    rep.connect(back)
    return req, rep


def _round_trip(req: Any, rep: Any, body: bytes) -> None:
    req.send(body)
    assert rep.recv() == body
    rep.send(body + b" back")
    assert req.recv() == body + b" back"


def _reader(impl: Any, ctx: Any, addr: str) -> Any:
    pull = ctx.socket(impl.PULL)
    pull.linger = 0
    pull.rcvtimeo = DEADLINE_MS
    pull.connect(addr)
    return pull


@pytest.fixture
def term_ctx(impl: Any) -> Iterator[Any]:
    """A context the test terminates itself (the devices' sockets must close for term to end)."""
    context = impl.Context()
    yield context
    if not context.closed:
        context.destroy(linger=0)


def _stop(ctx: Any, dev: Any) -> None:
    """Close the test's sockets first (term waits for them), then terminate: the device ends."""
    ctx.term()
    dev.join(DEADLINE)
    assert dev.done


def test_constants_and_device_type(impl: Any) -> None:
    assert (impl.STREAMER, impl.FORWARDER, impl.QUEUE) == (1, 2, 3)
    assert impl.DeviceType.QUEUE == impl.QUEUE and impl.DeviceType(2).name == "FORWARDER"
    assert _devices(impl).DeviceType is impl.DeviceType


def test_device_needs_socket_types(impl: Any) -> None:
    devices = _devices(impl)
    with pytest.raises(TypeError, match="in_type"):
        devices.Device(impl.QUEUE)
    with pytest.raises(TypeError, match="out_type"):
        devices.Device(impl.QUEUE, impl.ROUTER)
    dev = devices.ThreadDevice(impl.QUEUE, impl.ROUTER, impl.DEALER)
    assert (dev.device_type, dev.in_type, dev.out_type, dev.daemon) == (3, 6, 5, True)
    assert isinstance(dev, devices.Device)
    assert devices.ProcessDevice.context_factory is impl.Context


def test_thread_device_queue_forwards_and_ends_on_term(impl: Any, term_ctx: Any) -> None:
    devices = _devices(impl)
    dev = devices.ThreadDevice(impl.QUEUE, impl.ROUTER, impl.DEALER)
    dev.context_factory = lambda: term_ctx
    dev.setsockopt_in(impl.LINGER, 0)
    dev.setsockopt_out(impl.LINGER, 0)
    front = dev.bind_in_to_random_port("tcp://127.0.0.1")
    back = dev.bind_out_to_random_port("tcp://127.0.0.1")
    assert front != back
    dev.start()
    req, rep = _req_rep(impl, term_ctx, f"tcp://127.0.0.1:{front}", f"tcp://127.0.0.1:{back}")
    for i in range(3):
        _round_trip(req, rep, b"job %d" % i)
    req.close()
    rep.close()
    assert not dev.done
    _stop(term_ctx, dev)
    assert not dev.launcher.is_alive()


def test_device_runs_in_the_calling_thread(impl: Any, term_ctx: Any) -> None:
    """``Device.start()`` runs the proxy where it is called and returns once the context ends."""
    devices = _devices(impl)
    dev = devices.Device(impl.QUEUE, impl.PULL, impl.PUSH)
    dev.context_factory = lambda: term_ctx
    dev.bind_in("inproc://compat-device-in")
    dev.bind_out("inproc://compat-device-out")
    dev.setsockopt_in(impl.LINGER, 0)
    dev.setsockopt_out(impl.LINGER, 0)
    runner = threading.Thread(target=dev.start, daemon=True)
    runner.start()
    push, pull = term_ctx.socket(impl.PUSH), term_ctx.socket(impl.PULL)
    pull.rcvtimeo = DEADLINE_MS
    push.connect("inproc://compat-device-in")  # inproc connect before bind works in both
    pull.connect("inproc://compat-device-out")
    push.send(b"through")
    assert pull.recv() == b"through"
    push.close(linger=0)
    pull.close(linger=0)
    term_ctx.term()
    runner.join(DEADLINE)
    assert not runner.is_alive() and dev.done


def test_thread_proxy_copies_to_the_monitor(impl: Any, term_ctx: Any) -> None:
    devices = _devices(impl)
    dev = devices.ThreadProxy(impl.ROUTER, impl.DEALER, impl.PUSH)
    dev.context_factory = lambda: term_ctx
    for setopt in (dev.setsockopt_in, dev.setsockopt_out, dev.setsockopt_mon):
        setopt(impl.LINGER, 0)
    front = dev.bind_in_to_random_port("tcp://127.0.0.1")
    back = dev.bind_out_to_random_port("tcp://127.0.0.1")
    mon = dev.bind_mon_to_random_port("tcp://127.0.0.1")
    dev.start()
    monitor = _reader(impl, term_ctx, f"tcp://127.0.0.1:{mon}")
    req, rep = _req_rep(impl, term_ctx, f"tcp://127.0.0.1:{front}", f"tcp://127.0.0.1:{back}")
    _round_trip(req, rep, b"watched")
    request, reply = monitor.recv_multipart(), monitor.recv_multipart()
    assert request[-2:] == [b"", b"watched"] and len(request) == 3  # [routing id, b"", body]
    assert reply[-2:] == [b"", b"watched back"]
    for sock in (req, rep, monitor):
        sock.close()
    _stop(term_ctx, dev)


def test_thread_proxy_steerable_terminate(impl: Any, term_ctx: Any) -> None:
    devices = _devices(impl)
    dev = devices.ThreadProxySteerable(impl.PULL, impl.PUSH, impl.PUSH, impl.PAIR)
    assert dev.ctrl_type == impl.PAIR and dev.mon_type == impl.PUSH
    dev.context_factory = lambda: term_ctx
    for setopt in (dev.setsockopt_in, dev.setsockopt_out, dev.setsockopt_mon, dev.setsockopt_ctrl):
        setopt(impl.LINGER, 0)
    dev.bind_in("inproc://compat-steer-in")
    dev.bind_out("inproc://compat-steer-out")
    dev.bind_mon("inproc://compat-steer-mon")
    dev.bind_ctrl("inproc://compat-steer-ctrl")
    dev.start()
    push, pull = term_ctx.socket(impl.PUSH), term_ctx.socket(impl.PULL)
    pull.rcvtimeo = DEADLINE_MS
    push.connect("inproc://compat-steer-in")
    pull.connect("inproc://compat-steer-out")
    monitor = _reader(impl, term_ctx, "inproc://compat-steer-mon")
    push.send(b"steered")
    assert pull.recv() == b"steered"
    assert monitor.recv() == b"steered"
    control = term_ctx.socket(impl.PAIR)
    control.linger = 0
    control.connect("inproc://compat-steer-ctrl")
    control.send(b"TERMINATE")
    dev.join(DEADLINE)
    assert dev.done and not dev.launcher.is_alive()
    for sock in (push, pull, monitor, control):
        sock.close(linger=0)


def test_device_function_is_a_proxy(impl: Any, term_ctx: Any) -> None:
    front, back = term_ctx.socket(impl.PULL), term_ctx.socket(impl.PUSH)
    front.bind("inproc://compat-fn-in")
    back.bind("inproc://compat-fn-out")
    raised: list[BaseException] = []

    def run() -> None:
        try:
            impl.device(impl.STREAMER, front, back)
        except BaseException as exc:
            raised.append(exc)
        finally:
            front.close(linger=0)
            back.close(linger=0)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    push, pull = term_ctx.socket(impl.PUSH), term_ctx.socket(impl.PULL)
    pull.rcvtimeo = DEADLINE_MS
    push.connect("inproc://compat-fn-in")
    pull.connect("inproc://compat-fn-out")
    push.send(b"streamed")
    assert pull.recv() == b"streamed"
    push.close(linger=0)
    pull.close(linger=0)
    term_ctx.term()
    thread.join(DEADLINE)
    assert not thread.is_alive()
    assert len(raised) == 1 and isinstance(raised[0], impl.ContextTerminated)


def test_monitored_queue_prefixes_each_direction(impl: Any, term_ctx: Any) -> None:
    devices = _devices(impl)
    ins, outs, mons = (term_ctx.socket(t) for t in (impl.ROUTER, impl.DEALER, impl.PUSH))
    front = ins.bind_to_random_port("tcp://127.0.0.1")
    back = outs.bind_to_random_port("tcp://127.0.0.1")
    mon = mons.bind_to_random_port("tcp://127.0.0.1")
    thread = _run_queue(devices, ins, outs, mons, b"IN", b"OUT")
    monitor = _reader(impl, term_ctx, f"tcp://127.0.0.1:{mon}")
    req, rep = _req_rep(impl, term_ctx, f"tcp://127.0.0.1:{front}", f"tcp://127.0.0.1:{back}")
    _round_trip(req, rep, b"q")
    request, reply = monitor.recv_multipart(), monitor.recv_multipart()
    assert request[0] == b"IN" and request[2:] == [b"", b"q"]
    assert reply[0] == b"OUT" and reply[2:] == [b"", b"q back"]
    assert request[1] == reply[1]  # the client's routing id, as the ROUTER saw it
    for sock in (req, rep, monitor):
        sock.close(linger=0)
    term_ctx.term()
    thread.join(DEADLINE)
    assert not thread.is_alive()


def _run_queue(devices: Any, ins: Any, outs: Any, mons: Any, *prefixes: bytes) -> threading.Thread:
    def run() -> None:
        try:
            devices.monitored_queue(ins, outs, mons, *prefixes)
        except Exception:
            pass  # ContextTerminated: the test terminated the context
        finally:
            for sock in (ins, outs, mons):
                sock.close(linger=0)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread


def test_monitored_queue_between_two_routers_swaps_ids(impl: Any, term_ctx: Any) -> None:
    """ROUTER in and out: the first two frames trade places, so ``[peer, body]`` sent by a DEALER
    on one side reaches the DEALER named ``peer`` on the other as ``[sender, body]``."""
    devices = _devices(impl)
    ins, outs, mons = (term_ctx.socket(t) for t in (impl.ROUTER, impl.ROUTER, impl.PUSH))
    front = ins.bind_to_random_port("tcp://127.0.0.1")
    back = outs.bind_to_random_port("tcp://127.0.0.1")
    mon = mons.bind_to_random_port("tcp://127.0.0.1")
    # The worker must be known to the out ROUTER before the job is routed to it: wait for its
    # handshake on the ROUTER's side (the ROUTER learns the peer before its next send).
    out_events = outs.get_monitor_socket(impl.EVENT_HANDSHAKE_SUCCEEDED)
    out_events.rcvtimeo = DEADLINE_MS
    client, worker = term_ctx.socket(impl.DEALER), term_ctx.socket(impl.DEALER)
    client.setsockopt(impl.IDENTITY, b"client")
    worker.setsockopt(impl.IDENTITY, b"worker")
    for sock in (client, worker):
        sock.linger = 0
        sock.rcvtimeo = DEADLINE_MS
    worker.connect(f"tcp://127.0.0.1:{back}")
    out_events.recv_multipart()
    out_events.close(linger=0)
    thread = _run_queue(devices, ins, outs, mons)
    monitor = _reader(impl, term_ctx, f"tcp://127.0.0.1:{mon}")
    client.connect(f"tcp://127.0.0.1:{front}")
    client.send_multipart([b"worker", b"job"])
    assert worker.recv_multipart() == [b"client", b"job"]
    worker.send_multipart([b"client", b"done"])
    assert client.recv_multipart() == [b"worker", b"done"]
    assert monitor.recv_multipart() == [b"in", b"worker", b"client", b"job"]
    assert monitor.recv_multipart() == [b"out", b"client", b"worker", b"done"]
    for sock in (client, worker, monitor):
        sock.close(linger=0)
    term_ctx.term()
    thread.join(DEADLINE)
    assert not thread.is_alive()


def test_monitored_queue_prefixes_must_be_bytes(impl: Any, ctx: Any) -> None:
    devices = _devices(impl)
    c = impl.Context() if impl is not zloop else ctx
    try:
        socks = [c.socket(t) for t in (impl.ROUTER, impl.DEALER, impl.PUB)]
        with pytest.raises(TypeError, match="in_prefix"):
            devices.monitored_queue(*socks, "in", b"out")
        for sock in socks:
            sock.close(linger=0)
    finally:
        if c is not ctx:
            c.destroy(linger=0)


def test_thread_monitored_queue_device(impl: Any, term_ctx: Any) -> None:
    devices = _devices(impl)
    dev = devices.ThreadMonitoredQueue(impl.ROUTER, impl.DEALER, impl.PUSH, b"A", b"B")
    dev.context_factory = lambda: term_ctx
    for setopt in (dev.setsockopt_in, dev.setsockopt_out, dev.setsockopt_mon):
        setopt(impl.LINGER, 0)
    front = dev.bind_in_to_random_port("tcp://127.0.0.1")
    back = dev.bind_out_to_random_port("tcp://127.0.0.1")
    mon = dev.bind_mon_to_random_port("tcp://127.0.0.1")
    dev.start()
    monitor = _reader(impl, term_ctx, f"tcp://127.0.0.1:{mon}")
    req, rep = _req_rep(impl, term_ctx, f"tcp://127.0.0.1:{front}", f"tcp://127.0.0.1:{back}")
    _round_trip(req, rep, b"m")
    assert [monitor.recv_multipart()[0], monitor.recv_multipart()[0]] == [b"A", b"B"]
    for sock in (req, rep, monitor):
        sock.close()
    _stop(term_ctx, dev)


@pytest.mark.parametrize("kind", ["ProcessDevice", "ProcessProxy", "ProcessMonitoredQueue"])
def test_process_devices_forward(impl: Any, ctx: Any, kind: str) -> None:
    """The device runs in a child process with a context of its own; the parent talks to it over
    tcp and terminates the process at the end."""
    devices = _devices(impl)
    if kind == "ProcessDevice":
        dev = devices.ProcessDevice(impl.QUEUE, impl.ROUTER, impl.DEALER)
    else:
        dev = getattr(devices, kind)(impl.ROUTER, impl.DEALER, impl.PUSH)
        mon = dev.bind_mon_to_random_port("tcp://127.0.0.1")
    front = dev.bind_in_to_random_port("tcp://127.0.0.1")
    back = dev.bind_out_to_random_port("tcp://127.0.0.1")
    c = ctx if impl is zloop else impl.Context()
    dev.start()
    try:
        assert dev.launcher.pid is not None
        if kind != "ProcessDevice":  # first: a PUSH monitor without a reader blocks the proxy
            monitor = _reader(impl, c, f"tcp://127.0.0.1:{mon}")
        req, rep = _req_rep(impl, c, f"tcp://127.0.0.1:{front}", f"tcp://127.0.0.1:{back}")
        _round_trip(req, rep, b"across processes")
        if kind != "ProcessDevice":
            first = monitor.recv_multipart()
            assert first[-1] == b"across processes"
            if kind == "ProcessMonitoredQueue":
                assert first[0] == b"in"
    finally:
        dev.launcher.terminate()
        dev.join(DEADLINE)
        if c is not ctx:
            c.destroy(linger=0)
    assert dev.launcher.exitcode is not None


def test_green_device_serves_while_other_greenlets_run() -> None:
    """zloop.green's device, proxy and proxy_steerable wait as greenlets (pyzmq's green device does
    too; its proxy blocks the OS thread, so only the device is compared)."""
    gevent = pytest.importorskip("gevent")
    for package in ("zloop", "zmq"):
        green = importlib.import_module(f"{package}.green")
        ctx = green.Context()
        try:
            front, back = ctx.socket(green.ROUTER), ctx.socket(green.DEALER)
            front.bind(f"inproc://{package}-green-front")
            back.bind(f"inproc://{package}-green-back")
            device = gevent.spawn(green.device, green.QUEUE, front, back)
            req, rep = ctx.socket(green.REQ), ctx.socket(green.REP)
            req.connect(f"inproc://{package}-green-front")
            rep.connect(f"inproc://{package}-green-back")
            server = gevent.spawn(lambda rep=rep: rep.send(rep.recv() + b" green"))
            req.send(b"hello")
            with gevent.Timeout(DEADLINE):
                assert req.recv() == b"hello green"
            server.join(DEADLINE)
            device.kill()
        finally:
            ctx.destroy(linger=0)


def test_green_proxy_steerable_terminates() -> None:
    gevent = pytest.importorskip("gevent")
    green = importlib.import_module("zloop.green")
    ctx = green.Context()
    try:
        front, back, control = (ctx.socket(t) for t in (green.PULL, green.PUSH, green.PAIR))
        front.bind("inproc://gps-front")
        back.bind("inproc://gps-back")
        control.bind("inproc://gps-ctrl")
        proxy = gevent.spawn(green.proxy_steerable, front, back, None, control)
        push, pull, steer = (ctx.socket(t) for t in (green.PUSH, green.PULL, green.PAIR))
        push.connect("inproc://gps-front")
        pull.connect("inproc://gps-back")
        steer.connect("inproc://gps-ctrl")
        push.send(b"x")
        with gevent.Timeout(DEADLINE):
            assert pull.recv() == b"x"
        steer.send(b"TERMINATE")
        assert proxy.get(timeout=DEADLINE) == 0
    finally:
        ctx.destroy(linger=0)


_NON_DAEMON = """
import threading
import {package} as zmq
from {package}.devices import ThreadDevice

ctx = zmq.Context()


class Dev(ThreadDevice):
    def run(self):
        try:
            super().run()
        finally:
            print("device ended", flush=True)


dev = Dev(zmq.QUEUE, zmq.PULL, zmq.PUSH)
dev.context_factory = lambda: ctx
dev.bind_in("inproc://in")
dev.bind_out("inproc://out")
dev.daemon = False
dev.start()


def stop_after_main():
    threading.main_thread().join()  # returns once the main thread finished, at interpreter exit
    ctx.term()


threading.Thread(target=stop_after_main, daemon=True).start()
print("main done", flush=True)
"""


@pytest.mark.parametrize("package", ["zloop", pytest.param("zmq", marks=pytest.mark.interop)])
def test_non_daemon_thread_device_is_waited_for_at_exit(package: str) -> None:
    """``daemon = False``: the interpreter waits for the device at exit (here it ends when a
    daemon thread terminates the context once the main thread is done)."""
    import subprocess
    import sys

    proc = subprocess.run(
        [sys.executable, "-c", _NON_DAEMON.format(package=package)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split("\n")[:2] == ["main done", "device ended"]
