"""Password and secret hashing with pwdlib (Argon2id)."""

from __future__ import annotations

from functools import lru_cache

from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher


@lru_cache(maxsize=1)
def _hasher() -> PasswordHash:
    return PasswordHash((Argon2Hasher(),))


def hash_secret(secret: str) -> str:
    """Argon2id hash of a password or device secret (PHC string)."""
    return _hasher().hash(secret)


def verify_secret(secret: str, hashed: str | None) -> bool:
    """True when ``secret`` matches ``hashed``; False for no hash or a malformed one."""
    if not hashed:
        return False
    try:
        return _hasher().verify(secret, hashed)
    except Exception:
        return False
