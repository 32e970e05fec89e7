"""The ``hash`` module (Wippy's ``en/lua/security/hash.md``): digests, HMACs, FNV-1, PBKDF2.

Pure functions of their arguments, so workflows may use them.  PBKDF2's
work is bounded (iterations and key length), as the page says.
"""

from __future__ import annotations

import hashlib
import hmac
from importlib import resources
from typing import Any

from actors import errors
from actors.lua.modules import Caller, register_module

__all__ = ["MAX_PBKDF2_ITERATIONS", "MAX_PBKDF2_KEY_LENGTH"]

MAX_PBKDF2_ITERATIONS = 10_000_000
MAX_PBKDF2_KEY_LENGTH = 1024
"""The longest key ``hash.pbkdf2`` derives (bytes)."""

_DIGESTS = {"md5": hashlib.md5, "sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


def _bytes(value: Any, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise errors.Error(errors.INVALID, f"hash.{what}: expected a string")


def _digest(caller: Caller, algorithm: str, data: Any, raw: Any = None) -> str | bytes:
    digest = _DIGESTS[algorithm](_bytes(data, algorithm)).digest()
    return digest if raw is True else digest.hex()


def _hmac(caller: Caller, algorithm: str, data: Any, secret: Any, raw: Any = None) -> str | bytes:
    if not isinstance(secret, (str, bytes)):
        raise errors.Error(errors.INVALID, f"hash.hmac_{algorithm}: the secret must be a string")
    mac = hmac.new(
        _bytes(secret, f"hmac_{algorithm}"), _bytes(data, f"hmac_{algorithm}"), _DIGESTS[algorithm]
    )
    digest = mac.digest()
    return digest if raw is True else digest.hex()


def _fnv(caller: Caller, bits: int, data: Any) -> int | float:
    """FNV-1 (multiply, then xor), as Go's hash/fnv New32 and New64."""
    if bits == 32:
        value, prime, mask = 0x811C9DC5, 0x01000193, 0xFFFFFFFF
    else:
        value, prime, mask = 0xCBF29CE484222325, 0x100000001B3, 0xFFFFFFFFFFFFFFFF
    for byte in _bytes(data, f"fnv{bits}"):
        value = ((value * prime) & mask) ^ byte
    # Wippy's Lua numbers are 64-bit floats: a 64-bit hash arrives as the nearest one.
    return value if bits == 32 else float(value)


def _pbkdf2(
    caller: Caller, password: Any, salt: Any, iterations: Any, key_length: Any, algorithm: Any = None
) -> bytes:
    password_bytes = _bytes(password, "pbkdf2")
    salt_bytes = _bytes(salt, "pbkdf2")
    if not password_bytes or not salt_bytes:
        raise errors.Error(errors.INVALID, "hash.pbkdf2: password and salt must not be empty")
    if (
        isinstance(iterations, bool)
        or not isinstance(iterations, int)
        or not 1 <= iterations <= MAX_PBKDF2_ITERATIONS
    ):
        raise errors.Error(errors.INVALID, f"hash.pbkdf2: iterations must be 1 to {MAX_PBKDF2_ITERATIONS}")
    if (
        isinstance(key_length, bool)
        or not isinstance(key_length, int)
        or not 1 <= key_length <= MAX_PBKDF2_KEY_LENGTH
    ):
        raise errors.Error(
            errors.INVALID, f"hash.pbkdf2: key_length must be 1 to {MAX_PBKDF2_KEY_LENGTH} bytes"
        )
    name = "sha256" if algorithm is None else algorithm
    if name not in ("sha256", "sha512"):
        raise errors.Error(errors.INVALID, f"hash.pbkdf2: unsupported hash {name!r} (sha256 or sha512)")
    return hashlib.pbkdf2_hmac(name, password_bytes, salt_bytes, iterations, key_length)


register_module(
    "hash",
    resources.files(__package__) / "hash.lua",
    {"digest": _digest, "hmac": _hmac, "fnv": _fnv, "pbkdf2": _pbkdf2},
    in_workflows=True,
)
