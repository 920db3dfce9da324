"""Z85 (RFC 32) and the CURVE key tools, against the test vectors of docs/wire.md §10."""

from __future__ import annotations

import argparse
import os

import pytest
from hypothesis import given
from hypothesis import strategies as st

import zloop
from zloop import keys, z85
from zloop.errors import ZMQError

# (hex, Z85) from RFC 32 and the libzmq zmq_curve man page (docs/wire.md §10).
VECTORS = [
    ("864FD26FB559F75B", b"HelloWorld"),
    (
        "8E0BDD697628B91D8F245587EE95C5B04D48963F79259877B49CD9063AEAD3B7",
        b"JTKVSB%%)wK0E.X)V>+}o?pNmC{O&4W4b!Ni{Lh6",
    ),
    (
        "BB88471D65E2659B30C55A5321CEBB5AAB2B70A398645C26DCA2B2FCB43FC518",
        b"Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID",
    ),
    (
        "7BB864B489AFA3671FBE69101F94B38972F24816DFB01B51656B3FEC8DFD0888",
        b"D:)Q[IlAW!ahhC2ac:9*A}h:p?([4%wOTJ%JR%cs",
    ),
    (
        "54FCBA24E93249969316FB617C872BB0C1D1FF14800427C594CBFACF1BC2D652",
        b"rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7",
    ),
]
CLIENT_PUBLIC, CLIENT_SECRET = VECTORS[2][1], VECTORS[3][1]
SERVER_PUBLIC, SERVER_SECRET = VECTORS[4][1], VECTORS[1][1]


@pytest.mark.parametrize(("hexdata", "text"), VECTORS)
def test_z85_vectors_encode_and_decode(hexdata: str, text: bytes) -> None:
    assert z85.encode(bytes.fromhex(hexdata)) == text
    assert z85.decode(text) == bytes.fromhex(hexdata)
    assert z85.decode(text.decode()) == bytes.fromhex(hexdata)


@given(st.binary(max_size=64).map(lambda b: b[: len(b) - len(b) % 4]))
def test_z85_round_trips(data: bytes) -> None:
    text = z85.encode(data)
    assert len(text) == len(data) * 5 // 4
    assert set(text) <= set(z85.ALPHABET)
    assert z85.decode(text) == data


def test_z85_matches_pyzmq() -> None:
    zmq_utils = pytest.importorskip("zmq.utils.z85")
    data = os.urandom(32)
    assert z85.encode(data) == zmq_utils.encode(data)
    assert z85.decode(zmq_utils.encode(data)) == data


@pytest.mark.parametrize("bad", [b"abc", b"12345"])
def test_z85_encode_rejects_lengths_not_multiple_of_four(bad: bytes) -> None:
    with pytest.raises(ValueError, match="multiple of 4"):
        z85.encode(bad)


@pytest.mark.parametrize("bad", [b"Hell", b"Hello World", b"Hell\x00", "Hellé", b"#####"])
def test_z85_decode_rejects_bad_text(bad: bytes | str) -> None:
    # Wrong length, a character outside the alphabet, non-ASCII, and "#####" = 85^5-1 > 2^32.
    with pytest.raises(ValueError):
        z85.decode(bad)


def test_curve_public_of_the_test_keys() -> None:
    pytest.importorskip("nacl")
    assert zloop.curve_public(CLIENT_SECRET) == CLIENT_PUBLIC
    assert zloop.curve_public(SERVER_SECRET) == SERVER_PUBLIC
    assert zloop.curve_public(z85.decode(SERVER_SECRET)) == SERVER_PUBLIC


def test_curve_keypair_is_a_fresh_matching_pair() -> None:
    pytest.importorskip("nacl")
    public, secret = zloop.curve_keypair()
    assert len(public) == len(secret) == 40
    assert zloop.curve_public(secret) == public
    assert zloop.curve_keypair() != (public, secret)
    assert zloop.has("curve")


def test_curve_keys_agree_with_pyzmq() -> None:
    zmq = pytest.importorskip("zmq")
    if not zmq.has("curve"):
        pytest.skip("libzmq without CURVE")
    public, secret = zmq.curve_keypair()
    assert zloop.curve_public(secret) == public


@pytest.mark.parametrize(
    "value",
    [z85.decode(SERVER_PUBLIC), SERVER_PUBLIC, SERVER_PUBLIC + b"\x00", SERVER_PUBLIC.decode()],
)
def test_key_from_option_accepts_libzmq_forms(value: bytes | str) -> None:
    assert keys.key_from_option(value) == z85.decode(SERVER_PUBLIC)


@pytest.mark.parametrize(
    "value", [b"", b"x" * 31, b"#" * 40, b"~" * 40, SERVER_PUBLIC + b"x", b"x" * 33]
)
def test_key_from_option_rejects_other_values(value: bytes) -> None:
    with pytest.raises(ZMQError) as info:
        keys.key_from_option(value)
    assert info.value.errno == zloop.EINVAL


def test_missing_pynacl_gives_a_clear_error(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "nacl", None)
    monkeypatch.setitem(sys.modules, "nacl.bindings", None)
    assert not zloop.has("curve")
    with pytest.raises(ImportError, match=r'PyNaCl.*"curve" extra.*zloop-zmq\[curve\]'):
        zloop.curve_keypair()
    from zloop.protocol.curve import CurveMechanism

    with pytest.raises(ImportError, match="PyNaCl"):
        CurveMechanism(server=True, public_key=bytes(32), secret_key=bytes(32))


def test_keygen_prints_a_pair(capsys: pytest.CaptureFixture[str]) -> None:
    pytest.importorskip("nacl")
    from zloop.__main__ import main

    assert main(["keygen"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "== CURVE PUBLIC KEY ==" and out[2] == "== CURVE SECRET KEY =="
    assert zloop.curve_public(out[3].encode()) == out[1].encode()


def test_keygen_writes_certificates_pyzmq_can_load(tmp_path: os.PathLike[str]) -> None:
    pytest.importorskip("nacl")
    zmq_auth = pytest.importorskip("zmq.auth")
    args = argparse.Namespace(name="server", directory=str(tmp_path))
    assert keys.keygen(args) == 0
    public, secret = zmq_auth.load_certificate(os.path.join(tmp_path, "server.key_secret"))
    assert secret is not None and zloop.curve_public(secret) == public
    public_only, none = zmq_auth.load_certificate(os.path.join(tmp_path, "server.key"))
    assert public_only == public and none is None
