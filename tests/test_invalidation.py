"""The in-process caches (core/invalidation.py) never keep what a change made stale."""

from __future__ import annotations

import pytest

from core import invalidation
from core.invalidation import Memo


@pytest.fixture
def caching_on(monkeypatch):
    monkeypatch.setattr(invalidation, "caching_enabled", lambda: True)
    monkeypatch.setattr(invalidation._listening, "is_set", lambda: True)


def counting_memo(topic: str, on_load=None) -> tuple[Memo, list[object]]:
    loads: list[object] = []

    def loader(key: object) -> int:
        loads.append(key)
        if on_load:
            on_load(len(loads))
        return len(loads)

    return Memo(topic, loader), loads


def test_a_value_is_loaded_once_until_its_topic_is_invalidated(caching_on, db):
    memo, loads = counting_memo("test-topic")
    assert memo.get("k") == memo.get("k") == 1
    invalidation.invalidate("test-topic")
    assert memo.get("k") == 2
    assert loads == ["k", "k"]


def test_a_load_that_races_a_change_is_returned_but_not_kept(caching_on):
    # The change lands while the first load reads the database: that read may be the old row.
    memo, loads = counting_memo("race-topic", on_load=lambda n: n == 1 and invalidation._bump_locally("race-topic"))
    assert memo.get("k") == 1
    assert memo.get("k") == 2  # read again
    assert memo.get("k") == 2  # and now kept
    assert len(loads) == 2


def test_without_a_live_channel_every_read_goes_to_the_database(monkeypatch):
    monkeypatch.setattr(invalidation, "caching_enabled", lambda: False)
    memo, loads = counting_memo("off-topic")
    memo.get("k"), memo.get("k")
    assert len(loads) == 2


def test_an_invalidation_inside_a_transaction_bumps_now_and_again_at_commit(
    caching_on, db, django_capture_on_commit_callbacks
):
    before = invalidation.generation("tx-topic")
    with django_capture_on_commit_callbacks(execute=True):
        invalidation.invalidate("tx-topic")
        assert invalidation.generation("tx-topic") == before + 1
    assert invalidation.generation("tx-topic") == before + 2


def test_a_lost_invalidation_is_outlived_by_the_max_age(caching_on, settings, monkeypatch):
    """Should a change's publish be lost, a value is still read again after MEMO_MAX_AGE_SECONDS."""
    settings.MEMO_MAX_AGE_SECONDS = 60
    clock = [1000.0]
    monkeypatch.setattr(invalidation.time, "monotonic", lambda: clock[0])
    memo, loads = counting_memo("lost-topic")
    assert memo.get("k") == memo.get("k") == 1
    clock[0] += 59
    assert memo.get("k") == 1
    clock[0] += 2  # no invalidation came
    assert memo.get("k") == 2
    assert loads == ["k", "k"]
