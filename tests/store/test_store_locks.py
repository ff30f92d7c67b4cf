"""A store-wide lock: one process at a time does what it guards, on either dialect."""

from __future__ import annotations

import pytest

from store.database import StoreLockHeldError, held_alone_on_store

KEY = 0x7465_7374  # a key of this test's own


def test_a_second_holder_is_refused_at_once_and_the_lock_is_free_once_released(
    database_url: str,
) -> None:
    with (
        held_alone_on_store(database_url, KEY, "test.lock"),
        pytest.raises(StoreLockHeldError),
        held_alone_on_store(database_url, KEY, "test.lock"),
    ):
        pass

    with held_alone_on_store(database_url, KEY, "test.lock"):
        pass
