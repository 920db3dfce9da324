"""The ``zloop`` command itself: version, help without markup, errors as one line, keygen."""

from __future__ import annotations

import argparse
import re
import stat
from pathlib import Path

import pytest
from zl_cli import run

import zloop
from zloop import keys
from zloop.cli import build_parser

COMMANDS = ["demo", "selfcheck", "bench", "proxy", "monitor", "send", "recv", "keygen", "version"]


def test_version() -> None:
    for flag in ("--version", "-V"):
        proc = run(flag)
        assert proc.returncode == 0
        assert proc.stdout.strip() == (
            f"zloop {zloop.__version__} (ZeroMQ wire protocol and API of libzmq 4.3.5)"
        )
    assert run("version").stdout.strip() == zloop.__version__


def test_no_command_prints_help() -> None:
    proc = run()
    assert proc.returncode == 2
    assert proc.stdout.startswith("usage: zloop")
    for command in COMMANDS:
        assert re.search(rf"^\s+{command}\s", proc.stdout, re.M), command


@pytest.mark.parametrize("command", [[], *([c] for c in COMMANDS), ["bench", "local-thr"]])
def test_help_has_no_restructuredtext_markup(command: list[str]) -> None:
    text = run(*command, "--help").stdout
    assert text.startswith("usage: zloop")
    for markup in ("``", ":mod:", ":class:", ":func:", ":data:"):
        assert markup not in text, (command, markup)


def test_every_command_is_registered() -> None:
    parser = build_parser()
    (commands,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    assert sorted(commands.choices) == sorted(COMMANDS)


@pytest.mark.skipif(not keys.has_curve(), reason="keygen needs PyNaCl (the curve extra)")
class TestKeygen:
    def test_refuses_to_overwrite_without_force(self, tmp_path: Path) -> None:
        assert run("keygen", "me", "-d", str(tmp_path)).returncode == 0
        secret_file = tmp_path / "me.key_secret"
        before = secret_file.read_bytes()
        proc = run("keygen", "me", "-d", str(tmp_path))
        assert proc.returncode == 1
        assert proc.stderr.strip() == (
            f"zloop keygen: {secret_file} exists (a secret key); use --force to replace it"
        )
        assert secret_file.read_bytes() == before
        forced = run("keygen", "me", "-d", str(tmp_path), "--force")
        assert forced.returncode == 0, forced.stderr
        assert secret_file.read_bytes() != before
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600

    def test_refuses_when_only_the_public_file_exists(self, tmp_path: Path) -> None:
        (tmp_path / "me.key").write_text("someone else's\n")
        proc = run("keygen", "me", "-d", str(tmp_path))
        assert proc.returncode == 1
        assert "me.key exists (a public key); use --force" in proc.stderr
        assert not (tmp_path / "me.key_secret").exists()

    def test_a_secret_file_is_never_world_readable(self, tmp_path: Path) -> None:
        secret_file = tmp_path / "me.key_secret"
        secret_file.write_text("old\n")
        secret_file.chmod(0o644)
        assert run("keygen", "me", "-d", str(tmp_path), "--force").returncode == 0
        assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600

    @pytest.mark.parametrize("where", ["a_file/sub", "a_file"])
    def test_bad_directory_is_one_line(self, tmp_path: Path, where: str) -> None:
        (tmp_path / "a_file").write_text("not a directory\n")
        proc = run("keygen", "me", "-d", str(tmp_path / where))
        assert proc.returncode == 1
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
        assert proc.stderr.startswith(f"zloop keygen: cannot write to {tmp_path / where}")
        assert proc.stderr.rstrip().endswith("Not a directory")

    def test_certificates_load_in_pyzmq(self, tmp_path: Path) -> None:
        zmq_auth = pytest.importorskip("zmq.auth")
        assert run("keygen", "peer", "-d", str(tmp_path)).returncode == 0
        public, secret = zmq_auth.load_certificate(str(tmp_path / "peer.key_secret"))
        assert secret is not None and zloop.curve_public(secret) == public
