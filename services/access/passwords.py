"""Password hashes: argon2id with OWASP's parameters for new hashes; scrypt hashes written by earlier versions still
verify and are replaced at the account's next successful sign-in."""
from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

# OWASP Password Storage Cheat Sheet, argon2id: m = 19 MiB, t = 2, p = 1 (about 20-40 ms here).
HASHER = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1, hash_len=32, salt_len=16, type=Type.ID)
LEGACY_SCHEME = "scrypt"
# Verified against when there is no hash to check (an unknown name, an identity-provider account), so such a sign-in
# costs what a wrong password costs and its timing does not tell which names exist.
_DUMMY_HASH = HASHER.hash(secrets.token_urlsafe(24))


@dataclass(frozen=True)
class PasswordCheck:
    matches: bool
    needs_rehash: bool = False  # a match against a legacy or weaker hash: store hash_password(password) instead


def hash_password(password: str) -> str:
    return HASHER.hash(password)


def check_password(password: str, stored: str | None) -> PasswordCheck:
    """Whether `password` matches `stored`, doing the same work when there is nothing to match."""
    if stored and stored.startswith(LEGACY_SCHEME + "$"):
        return PasswordCheck(_legacy_scrypt_matches(password, stored), needs_rehash=True)
    if not stored or not stored.startswith("$argon2"):
        _verify_argon2(_DUMMY_HASH, password)
        return PasswordCheck(False)
    if not _verify_argon2(stored, password):
        return PasswordCheck(False)
    return PasswordCheck(True, needs_rehash=HASHER.check_needs_rehash(stored))


def _verify_argon2(stored: str, password: str) -> bool:
    try:
        return HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _legacy_scrypt_matches(password: str, stored: str) -> bool:
    """`scrypt$n$r$p$salt$digest` (base64), as written before argon2id."""
    try:
        _, n, r, p, salt, digest = stored.split("$")
        candidate = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), dklen=32, n=int(n), r=int(r),
                                   p=int(p), maxmem=64 * 1024 * 1024)
        return hmac.compare_digest(candidate, base64.b64decode(digest))
    except (ValueError, TypeError):
        return False


def legacy_scrypt_hash(password: str) -> str:
    """A hash as earlier versions wrote it (for tests of the upgrade path)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, dklen=32, n=2 ** 14, r=8, p=1)
    return f"{LEGACY_SCHEME}$16384$8$1${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"
