"""The subscription tries: unit tests and a model-based check against a naive dict model."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from zloop.patterns.trie import MultiTrie, RmResult, Trie


def test_trie_prefix_match_and_empty_matches_all() -> None:
    trie = Trie()
    assert not trie.check(b"abc")
    assert trie.add(b"ab")
    assert trie.check(b"ab") and trie.check(b"abc") and not trie.check(b"a")
    assert not trie.check(b"")
    assert trie.add(b"")
    assert trie.check(b"") and trie.check(b"zzz")
    assert sorted(trie) == [b"", b"ab"]


def test_trie_reference_counts() -> None:
    trie = Trie()
    assert trie.add(b"A") is True
    assert trie.add(b"A") is False
    assert trie.count(b"A") == 2 and len(trie) == 1
    assert trie.rm(b"A") is False  # one reference left
    assert trie.check(b"A1")
    assert trie.rm(b"A") is True  # the last one
    assert not trie.check(b"A1")
    assert trie.rm(b"A") is False  # unknown
    assert trie.rm(b"nope") is False
    assert len(trie) == 0 and list(trie) == []


def test_trie_prunes_and_keeps_neighbours() -> None:
    trie = Trie()
    trie.add(b"abc")
    trie.add(b"abd")
    trie.add(b"a")
    assert trie.rm(b"abc")
    assert trie.check(b"abd!") and trie.check(b"a") and trie.check(b"abc")  # via b"a"
    assert trie.rm(b"a")
    assert not trie.check(b"abc") and trie.check(b"abd")
    assert trie.rm(b"abd")
    assert trie._root.children == {}  # every branch pruned


def test_trie_binary_topics() -> None:
    trie = Trie()
    trie.add(b"\x00\xff")
    assert trie.check(b"\x00\xff\x01") and not trie.check(b"\x00\xfe")
    assert list(trie) == [b"\x00\xff"]


def test_multitrie_sets_per_prefix() -> None:
    m: MultiTrie[str] = MultiTrie()
    assert m.add(b"A", "p1") is True
    assert m.add(b"A", "p1") is False  # idempotent per subscriber
    assert m.add(b"A", "p2") is False
    assert m.add(b"", "p3") is True
    assert m.match(b"A1") == {"p1", "p2", "p3"}
    assert m.match(b"B") == {"p3"}
    assert m.rm(b"A", "p1") is RmResult.VALUES_REMAIN
    assert m.rm(b"A", "p1") is RmResult.NOT_FOUND
    assert m.rm(b"X", "p1") is RmResult.NOT_FOUND
    assert m.rm(b"A", "p2") is RmResult.LAST_VALUE_REMOVED
    assert m.match(b"A1") == {"p3"}
    assert list(m) == [b""]


def test_multitrie_rm_value_reports_prefixes() -> None:
    m: MultiTrie[str] = MultiTrie()
    for prefix in (b"b", b"a", b"c"):
        m.add(prefix, "gone")
    m.add(b"a", "stays")
    uniq: list[bytes] = []
    m.rm_value("gone", uniq.append)
    assert uniq == [b"b", b"c"]  # b"a" is still wanted by "stays"
    assert m.match(b"abc") == {"stays"} and m.match(b"b") == set()
    every: list[bytes] = []
    m.add(b"x", "stays")
    m.add(b"x", "other")
    m.rm_value("stays", every.append, only_last=False)
    assert every == [b"a", b"x"]
    assert m.prefixes_of("stays") == set() and m.prefixes_of("other") == {b"x"}
    assert len(m) == 1


TOPICS = [b"", b"a", b"ab", b"abc", b"b", b"ba", b"\x00", b"\x00a"]
topics = st.sampled_from(TOPICS)
datas = st.binary(max_size=5).map(lambda d: d.replace(b"\x01", b"a"))


@settings(max_examples=300, deadline=None)
@given(st.lists(st.tuples(st.booleans(), topics), max_size=40), st.lists(datas, max_size=10))
def test_trie_against_model(ops: list[tuple[bool, bytes]], probes: list[bytes]) -> None:
    trie = Trie()
    model: dict[bytes, int] = {}
    for add, topic in ops:
        if add:
            assert trie.add(topic) == (model.get(topic, 0) == 0)
            model[topic] = model.get(topic, 0) + 1
        else:
            count = model.get(topic, 0)
            assert trie.rm(topic) == (count == 1)
            if count:
                model[topic] = count - 1
        live = {t for t, c in model.items() if c}
        assert sorted(trie) == sorted(live)
        assert len(trie) == len(live)
    live = {t for t, c in model.items() if c}
    for data in [*probes, *TOPICS, *(t + b"z" for t in TOPICS)]:
        assert trie.check(data) == any(data.startswith(t) for t in live)
    for topic in live:
        assert trie.check(topic + b"\xff")


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["add", "rm", "drop"]), topics, st.integers(0, 3)), max_size=40
    ),
    st.lists(datas, max_size=10),
)
def test_multitrie_against_model(ops: list[tuple[str, bytes, int]], probes: list[bytes]) -> None:
    m: MultiTrie[int] = MultiTrie()
    model: dict[bytes, set[int]] = {}
    for op, topic, pipe in ops:
        if op == "add":
            assert m.add(topic, pipe) == (not model.get(topic))
            model.setdefault(topic, set()).add(pipe)
        elif op == "rm":
            wanted = model.get(topic, set())
            expected = (
                RmResult.NOT_FOUND
                if pipe not in wanted
                else RmResult.VALUES_REMAIN
                if len(wanted) > 1
                else RmResult.LAST_VALUE_REMOVED
            )
            assert m.rm(topic, pipe) is expected
            wanted.discard(pipe)
        else:
            mine = sorted(t for t, ps in model.items() if pipe in ps)
            uniq = [t for t in mine if model[t] == {pipe}]
            reported: list[bytes] = []
            m.rm_value(pipe, reported.append)
            assert reported == uniq
            for t in mine:
                model[t].discard(pipe)
        assert sorted(m) == sorted(t for t, ps in model.items() if ps)
    for data in [*probes, *model]:
        expected_pipes = set().union(*(ps for t, ps in model.items() if data.startswith(t)))
        assert m.match(data) == expected_pipes
