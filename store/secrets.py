"""Encryption of the secrets the store keeps (client secrets, webhook secrets).

The key never lives in the database: it comes from `OWNERSHIP_SECRET_KEY` or from a key file
beside the service, so a leaked database alone reveals no secret.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class SecretKeyError(Exception):
    """The secret key is missing, malformed, unsafe, or does not open a stored secret."""


class SecretCipher:
    """Encrypts with the first key and decrypts with any, so keys can be rotated.

    `OWNERSHIP_SECRET_KEY="NEW,OLD"` reads secrets written under either key; `rotate` rewrites
    a stored token under the newest.
    """

    def __init__(self, keys: list[str]) -> None:
        if not keys:
            raise SecretKeyError("no secret key given")
        try:
            self._fernet = MultiFernet([Fernet(key.strip().encode("ascii")) for key in keys])
        except (ValueError, UnicodeEncodeError) as error:
            raise SecretKeyError(
                "the secret key is not a Fernet key (32 url-safe base64-encoded bytes; "
                "make one with `python -c 'from cryptography.fernet import Fernet; "
                "print(Fernet.generate_key().decode())'`)"
            ) from error

    def encrypt(self, plain: str) -> str:
        return self._fernet.encrypt(plain.encode("utf-8")).decode("ascii")

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode("ascii")).decode("utf-8")
        except InvalidToken as error:
            raise SecretKeyError(
                "the secret key does not open a stored secret (was OWNERSHIP_SECRET_KEY "
                "or the key file changed?)"
            ) from error

    def opens(self, token: str) -> bool:
        """Whether some key opens `token`."""
        try:
            self._fernet.decrypt(token.encode("ascii"))
        except InvalidToken:
            return False
        return True

    def rotate(self, token: str) -> str:
        return self._fernet.rotate(token.encode("ascii")).decode("ascii")


def load_cipher(key: str | None, key_file: Path) -> SecretCipher:
    """The cipher from `key` (comma-separated Fernet keys, newest first) or, without it, from
    `key_file`, which is created with a new key, readable by its owner only, on first use."""
    if key:
        return SecretCipher(key.split(","))
    return SecretCipher(_read_or_create_key_file(key_file).split(","))


def _read_or_create_key_file(path: Path) -> str:
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        descriptor = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as file:
            file.write(Fernet.generate_key() + b"\n")
        try:
            # a link fails if another process made the file meanwhile: then that key wins
            os.link(draft, path)
        except FileExistsError:
            pass
        finally:
            draft.unlink()
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise SecretKeyError(
            f"the key file {path} can be read by others (mode {stat.filemode(mode)}); "
            f"run `chmod 600 {path}`"
        )
    text = path.read_text(encoding="ascii").strip()
    if not text:
        raise SecretKeyError(f"the key file {path} is empty")
    return text
