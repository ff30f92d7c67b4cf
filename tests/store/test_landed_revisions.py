"""A revision that has landed is never changed: a store a build migrated with it keeps what its
file did then, and a later change under the same id reaches no such store (the stores 0019 and
0020 mend). `store/migrations/landed.sha256` holds each landed revision's file by its hash."""

from __future__ import annotations

import hashlib

import pytest

from store.database import MIGRATIONS

VERSIONS = MIGRATIONS / "versions"
LANDED = MIGRATIONS / "landed.sha256"


def landed() -> dict[str, str]:
    """Each landed revision's file name and the SHA-256 of its text."""
    lines = LANDED.read_text(encoding="utf-8").splitlines()
    pairs = (line.split() for line in lines if line.strip() and not line.startswith("#"))
    return {name: digest for digest, name in pairs}


def revision_files() -> list[str]:
    return sorted(path.name for path in VERSIONS.glob("*.py") if path.name != "__init__.py")


@pytest.mark.parametrize("name", sorted(landed()))
def test_a_landed_revision_is_as_it_landed(name: str) -> None:
    digest = hashlib.sha256((VERSIONS / name).read_bytes()).hexdigest()

    assert digest == landed()[name], (
        f"{name} changed after it landed: a store migrated with it keeps what it did; put the "
        "change in a new revision, or, for a change no store holds (a comment), record its new "
        f"hash in {LANDED.name}"
    )


def test_every_revision_is_recorded_as_it_lands() -> None:
    assert revision_files() == sorted(landed()), f"record a new revision's hash in {LANDED.name}"
