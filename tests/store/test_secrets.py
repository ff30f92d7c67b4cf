"""The key that seals stored secrets lives outside the database."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from store.secrets import SecretCipher, SecretKeyError, load_cipher


def test_a_secret_goes_in_sealed_and_comes_out_whole() -> None:
    cipher = SecretCipher([Fernet.generate_key().decode()])

    token = cipher.encrypt("s3cret-value")

    assert "s3cret-value" not in token
    assert cipher.decrypt(token) == "s3cret-value"


def test_a_key_file_is_made_on_first_use_readable_by_its_owner_only(tmp_path: Path) -> None:
    key_file = tmp_path / "var" / "secret.key"

    token = load_cipher(None, key_file).encrypt("s3cret")

    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert load_cipher(None, key_file).decrypt(token) == "s3cret"
    assert list(key_file.parent.iterdir()) == [key_file]


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    key_file = tmp_path / "secret.key"
    key_file.write_text(Fernet.generate_key().decode())
    key_file.chmod(0o644)

    with pytest.raises(SecretKeyError, match="chmod 600"):
        load_cipher(None, key_file)


def test_a_key_setting_wins_over_the_file(tmp_path: Path) -> None:
    key = Fernet.generate_key().decode()

    token = load_cipher(key, tmp_path / "secret.key").encrypt("s3cret")

    assert not (tmp_path / "secret.key").exists()
    assert SecretCipher([key]).decrypt(token) == "s3cret"


def test_keys_rotate_newest_first() -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    sealed_under_old = SecretCipher([old]).encrypt("s3cret")

    rotating = load_cipher(f"{new},{old}", Path("unused"))

    assert rotating.decrypt(sealed_under_old) == "s3cret"
    assert SecretCipher([new]).decrypt(rotating.rotate(sealed_under_old)) == "s3cret"


def test_a_malformed_key_is_refused_with_a_way_to_make_one() -> None:
    with pytest.raises(SecretKeyError, match="generate_key"):
        SecretCipher(["not-a-key"])
