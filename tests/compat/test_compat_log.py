"""``log.handlers.PUBHandler`` / ``TopicLogger`` and ``python -m <pkg>.log`` on pyzmq and zloop.

The handler publishes on an XPUB: receiving the SUB's subscription first is the synchronisation
(no slow-joiner race), and a PUBHandler accepts any socket.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import select
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import pytest
from zl_testing import DEADLINE, DEADLINE_MS

import zloop


def _handlers(impl: Any) -> Any:
    return importlib.import_module(f"{impl.__name__}.log.handlers")


class Wire:
    """An XPUB for the handler and a SUB reading what it publishes."""

    def __init__(self, impl: Any, ctx: Any, topic: bytes = b"") -> None:
        self.pub = ctx.socket(impl.XPUB)
        self.pub.linger = 0
        port = self.pub.bind_to_random_port("tcp://127.0.0.1")
        self.sub = ctx.socket(impl.SUB)
        self.sub.linger = 0
        self.sub.rcvtimeo = DEADLINE_MS
        self.sub.setsockopt(impl.SUBSCRIBE, topic)
        self.sub.connect(f"tcp://127.0.0.1:{port}")
        self.pub.rcvtimeo = DEADLINE_MS
        assert self.pub.recv() == b"\x01" + topic  # the subscription is in place

    def recv(self) -> list[bytes]:
        return [bytes(f) for f in self.sub.recv_multipart()]


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    log = logging.getLogger(f"compat.log.{time.monotonic_ns()}")
    log.propagate = False
    log.setLevel(logging.DEBUG)
    yield log
    for handler in list(log.handlers):
        log.removeHandler(handler)


def _line() -> int:
    frame = inspect.currentframe()
    assert frame is not None and frame.f_back is not None
    return frame.f_back.f_lineno


def test_topics_and_default_formats(impl: Any, impl_ctx: Any, logger: logging.Logger) -> None:
    wire = Wire(impl, impl_ctx)
    handler = _handlers(impl).PUBHandler(wire.pub)
    assert handler.socket is wire.pub and handler.ctx is impl_ctx and handler.root_topic == ""
    logger.addHandler(handler)
    logger.info("plain %s", "info")
    assert wire.recv() == [b"INFO", b"plain info\n"]
    line = _line() + 1
    logger.warning("db.pool::%d left", 3)
    assert wire.recv() == [b"WARNING.db.pool", b"WARNING test_compat_log.py:%d - 3 left\n" % line]
    handler.root_topic = b"app"  # bytes are decoded
    assert handler.root_topic == "app"
    line = _line() + 1
    logger.error("broken")
    assert wire.recv() == [
        b"app.ERROR",
        b"ERROR test_compat_log.py:%d - broken - None\n" % line,
    ]
    line = _line() + 1
    logger.debug("x::y::z")  # only the first :: splits
    assert wire.recv() == [b"app.DEBUG.x", b"DEBUG test_compat_log.py:%d - y::z\n" % line]
    logger.critical("::no subtopic")
    assert wire.recv()[0] == b"app.CRITICAL"


def test_other_handlers_see_the_record_unchanged(
    impl: Any, impl_ctx: Any, logger: logging.Logger
) -> None:
    wire = Wire(impl, impl_ctx)
    logger.addHandler(_handlers(impl).PUBHandler(wire.pub, root_topic="r"))
    seen: list[str] = []
    collector = logging.Handler()
    collector.emit = lambda record: seen.append(record.getMessage())  # type: ignore[method-assign]
    logger.addHandler(collector)
    logger.info("sub::message %d", 1)
    assert wire.recv() == [b"r.INFO.sub", b"message 1\n"]
    assert seen == ["sub::message 1"]


def test_set_formatter_per_level_and_for_all(
    impl: Any, impl_ctx: Any, logger: logging.Logger
) -> None:
    wire = Wire(impl, impl_ctx)
    handler = _handlers(impl).PUBHandler(wire.pub)
    logger.addHandler(handler)
    handler.setFormatter(logging.Formatter("<%(message)s>"), logging.INFO)
    logger.info("one")
    logger.warning("two")
    assert [wire.recv()[1], wire.recv()[1][:7]] == [b"<one>", b"WARNING"]
    handler.setFormatter(logging.Formatter("%(levelname)s|%(message)s"))
    logger.warning("three")
    logger.debug("four")
    assert [wire.recv()[1], wire.recv()[1]] == [b"WARNING|three", b"DEBUG|four"]


def test_subscribers_filter_by_root_topic_and_level(
    impl: Any, impl_ctx: Any, logger: logging.Logger
) -> None:
    wire = Wire(impl, impl_ctx, topic=b"svc.ERROR")
    logger.addHandler(_handlers(impl).PUBHandler(wire.pub, root_topic="svc"))
    logger.warning("not this")
    logger.error("db::this one")
    topic, text = wire.recv()  # the warning, sent first, was filtered out
    assert topic == b"svc.ERROR.db" and text.endswith(b" - this one - None\n")


def test_handler_binds_an_address(impl: Any, impl_ctx: Any, logger: logging.Logger) -> None:
    handler = _handlers(impl).PUBHandler("tcp://127.0.0.1:*", context=impl_ctx)
    assert handler.ctx is impl_ctx and handler.socket.type == impl.PUB
    sub = impl_ctx.socket(impl.SUB)
    sub.linger = 0
    sub.setsockopt(impl.SUBSCRIBE, b"")
    sub.connect(handler.socket.last_endpoint.decode())
    logger.addHandler(handler)
    # A PUB drops what is published before the subscription arrives: publish until one lands.
    deadline = time.monotonic() + DEADLINE
    while not sub.poll(20):
        assert time.monotonic() < deadline, "no record arrived"
        logger.info("hello")
    assert sub.recv_multipart() == [b"INFO", b"hello\n"]
    handler.socket.close(linger=0)
    sub.close()


def test_topic_logger_log(impl: Any, impl_ctx: Any) -> None:
    handlers = _handlers(impl)
    assert handlers.TOPIC_DELIM == "::"
    logging.setLoggerClass(handlers.TopicLogger)
    try:
        log = logging.getLogger(f"compat.topic.{impl.__name__}.{time.monotonic_ns()}")
    finally:
        logging.setLoggerClass(logging.Logger)
    assert isinstance(log, handlers.TopicLogger)
    log.propagate = False
    log.setLevel(logging.DEBUG)
    wire = Wire(impl, impl_ctx)
    handler = handlers.PUBHandler(wire.pub)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log.addHandler(handler)
    log.log(logging.WARNING, "net.tcp", "%d retries", 2)
    assert wire.recv() == [b"WARNING.net.tcp", b"2 retries"]
    if impl is zloop:
        log.debug("a.b", "debug %s", "text")
        log.error("c", "error")
        log.critical("d", "critical")
        assert [wire.recv(), wire.recv(), wire.recv()] == [
            [b"DEBUG.a.b", b"debug text"],
            [b"ERROR.c", b"error"],
            [b"CRITICAL.d", b"critical"],
        ]
    else:
        # pyzmq 27's generated level methods are broken (each ends in ``fatal``, which calls the
        # overridden ``critical`` with one argument): zloop's log at their own level instead.
        with pytest.raises(TypeError):
            log.debug("a.b", "debug")


def test_custom_level(impl: Any, impl_ctx: Any, logger: logging.Logger) -> None:
    """A level without a formatter: zloop uses the nearest standard level below; pyzmq's format
    raises KeyError, which goes to ``handleError`` and nothing is sent (a difference)."""
    wire = Wire(impl, impl_ctx)
    handler = _handlers(impl).PUBHandler(wire.pub)
    errors: list[logging.LogRecord] = []
    handler.handleError = errors.append  # type: ignore[method-assign,assignment]
    logger.addHandler(handler)
    logger.log(25, "between info and warning")
    if impl is zloop:
        assert wire.recv() == [b"Level 25", b"between info and warning\n"]
        assert errors == []
    else:
        assert len(errors) == 1
        logger.info("next")  # what arrives next is this one: the level-25 record was not sent
        assert wire.recv() == [b"INFO", b"next\n"]


@pytest.mark.parametrize("package", ["zloop", pytest.param("zmq", marks=pytest.mark.interop)])
def test_log_watcher_prints_records(package: str) -> None:
    impl: Any = importlib.import_module(package)
    ctx = impl.Context()
    watcher = None
    try:
        handler = _handlers(impl).PUBHandler("tcp://127.0.0.1:*", context=ctx, root_topic="w")
        url = handler.socket.last_endpoint.decode()
        log = logging.getLogger(f"compat.watch.{package}")
        log.propagate = False
        log.setLevel(logging.INFO)
        log.addHandler(handler)
        watcher = subprocess.Popen(
            [sys.executable, "-u", "-m", f"{package}.log", url, "--separator", " :: "],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert watcher.stdout is not None
        deadline = time.monotonic() + 30
        while True:  # publish until the watcher's subscription has arrived and it prints
            assert time.monotonic() < deadline, "the watcher printed nothing"
            log.info("sub::watched")
            if select.select([watcher.stdout], [], [], 0.05)[0]:
                break
        assert watcher.stdout.readline() == "w.INFO.sub :: watched\n"
        log.removeHandler(handler)
    finally:
        if watcher is not None:
            watcher.kill()
            watcher.wait(DEADLINE)
        ctx.destroy(linger=0)
