"""The ``crypto`` module's operations: random values, HMAC, AEAD encryption, JWT, PBKDF2.

As Wippy's ``crypto`` module (``en/lua/security/crypto.md``).  Randomness (random
values, encryption nonces) is the caller's, so a workflow records it and a
replay returns the same bytes; everything else is a pure computation.  JWT
``exp``/``nbf`` are checked against the caller's clock (the workflow clock in a
workflow), not the machine's, so a replay reaches the same verdict.

Errors are Wippy's: a bad argument is ``INVALID``, a failed decryption or
verification ``INTERNAL``; none is retryable.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import string
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305

from actors import errors
from actors.lua import stdlib
from actors.lua.modules import Caller

__all__ = ["OPERATIONS"]

MAX_RANDOM = 1_048_576
"""The most bytes ``crypto.random.bytes``/``string`` give at once (Wippy's bound)."""
MAX_ITERATIONS = 10_000_000
MAX_KEY_LENGTH = 1_048_576
_ALPHANUMERIC = (string.ascii_letters + string.digits).encode()
_NONCE = 12
_HMAC = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}


def _invalid(message: str) -> errors.Error:
    return errors.Error(errors.INVALID, message, retryable=False)


def _failed(message: str) -> errors.Error:
    return errors.Error(errors.INTERNAL, message, retryable=False)


def _bytes(value: Any, what: str) -> bytes:
    if isinstance(value, bytes):
        return value
    if isinstance(value, str):
        return value.encode()
    raise _invalid(f"{what} must be a string")


def _count(value: Any, what: str, high: int) -> int:
    if type(value) is not int or not 1 <= value <= high:
        raise _invalid(f"{what} must be an integer from 1 to {high}")
    return value


def _random(caller: Caller, kind: Any, length: Any = None, charset: Any = None) -> Any:
    if kind == "uuid":
        return stdlib.uuid_v4(caller.random_bits(128))
    count = _count(length, f"crypto.random.{kind}: length", MAX_RANDOM)
    raw = caller.random_bytes(count)
    if kind == "bytes":
        return raw
    alphabet = _ALPHANUMERIC if charset is None else _bytes(charset, "crypto.random.string: charset")
    if not alphabet:
        raise _invalid("crypto.random.string: charset is empty")
    return bytes(alphabet[byte % len(alphabet)] for byte in raw)


def _hmac(caller: Caller, algorithm: Any, key: Any, data: Any) -> str:
    secret = _bytes(key, "crypto.hmac: key")
    if not secret:
        raise _invalid("crypto.hmac: key is empty")
    digest = hashlib.sha512 if algorithm == "sha512" else hashlib.sha256
    return hmac.new(secret, _bytes(data, "crypto.hmac: data"), digest).hexdigest()


def _cipher(name: Any, key: bytes) -> AESGCM | ChaCha20Poly1305:
    if name == "aes":
        if len(key) not in (16, 24, 32):
            raise _invalid("crypto: an AES key is 16, 24 or 32 bytes")
        return AESGCM(key)
    if len(key) != 32:
        raise _invalid("crypto: a ChaCha20-Poly1305 key is 32 bytes")
    return ChaCha20Poly1305(key)


def _encrypt(caller: Caller, name: Any, data: Any, key: Any, aad: Any = None) -> bytes:
    cipher = _cipher(name, _bytes(key, "crypto.encrypt: key"))
    nonce = caller.random_bytes(_NONCE)
    associated = None if aad is None else _bytes(aad, "crypto.encrypt: aad")
    return nonce + cipher.encrypt(nonce, _bytes(data, "crypto.encrypt: data"), associated)


def _decrypt(caller: Caller, name: Any, data: Any, key: Any, aad: Any = None) -> bytes:
    cipher = _cipher(name, _bytes(key, "crypto.decrypt: key"))
    sealed = _bytes(data, "crypto.decrypt: data")
    if len(sealed) < _NONCE + 16:
        raise _failed("crypto.decrypt: the data is too short to be ciphertext")
    associated = None if aad is None else _bytes(aad, "crypto.decrypt: aad")
    try:
        return cipher.decrypt(sealed[:_NONCE], sealed[_NONCE:], associated)
    except InvalidTag:
        raise _failed("crypto.decrypt: decryption failed (wrong key, data or aad)") from None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _shown(value: Any) -> str:
    """An argument as the message shows it: a string quoted, anything else by its Lua type."""
    if isinstance(value, str):
        return repr(value)
    return {bytes: "a binary string", dict: "a table", list: "a table", bool: "a boolean"}.get(
        type(value), "a number" if isinstance(value, (int, float)) else "a value"
    )


def _jwt_encode(caller: Caller, payload: Any, key: Any, algorithm: Any = None) -> str:
    alg = algorithm or "HS256"
    if not isinstance(alg, str) or (alg not in _HMAC and alg != "RS256"):  # a table is no algorithm name
        raise _invalid(f"crypto.jwt.encode: algorithm {_shown(alg)} is not one of HS256, HS384, HS512, RS256")
    if payload == {} or payload is None:
        payload = {}
    if not isinstance(payload, dict):
        raise _invalid("crypto.jwt.encode: the payload is a table of claims")
    claims = dict(payload)
    header = {"alg": alg, "typ": "JWT"}
    extra = claims.pop("_header", None)
    if isinstance(extra, dict):
        header.update({k: v for k, v in extra.items() if k != "alg"})
    try:
        signing_input = ".".join(
            _b64(json.dumps(part, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode())
            for part in (header, claims)
        )
    except (TypeError, ValueError) as exc:
        raise _invalid(f"crypto.jwt.encode: the claims are not JSON: {exc}") from None
    secret = _bytes(key, "crypto.jwt.encode: key")
    if not secret:
        raise _invalid("crypto.jwt.encode: key is empty")
    if alg == "RS256":
        try:
            private = serialization.load_pem_private_key(secret, password=None)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise _invalid("crypto.jwt.encode: RS256 needs a PEM private key") from None
        if not isinstance(private, rsa.RSAPrivateKey):
            raise _invalid("crypto.jwt.encode: RS256 needs an RSA private key")
        signature = private.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    else:
        signature = hmac.new(secret, signing_input.encode(), _HMAC[alg]).digest()
    return f"{signing_input}.{_b64(signature)}"


def _jwt_verify(caller: Caller, token: Any, key: Any, algorithm: Any = None, require_exp: Any = None) -> Any:
    alg = algorithm or "HS256"
    if not isinstance(alg, str) or (alg not in _HMAC and alg != "RS256"):  # a table is no algorithm name
        raise _invalid(f"crypto.jwt.verify: algorithm {_shown(alg)} is not one of HS256, HS384, HS512, RS256")
    parts = (token.decode("utf-8", "replace") if isinstance(token, bytes) else str(token)).split(".")
    if len(parts) != 3:
        raise _failed("crypto.jwt.verify: a token has three parts")
    try:
        header = json.loads(_unb64(parts[0]))
        signature = _unb64(parts[2])
        claims = stdlib.json_decode(_unb64(parts[1]).decode())
    except (ValueError, UnicodeDecodeError, errors.Error):
        raise _failed("crypto.jwt.verify: the token is malformed") from None
    if not isinstance(header, dict) or header.get("alg") != alg:
        raise _failed(f"crypto.jwt.verify: the token is not signed with {alg}")
    signing_input = f"{parts[0]}.{parts[1]}".encode()
    secret = _bytes(key, "crypto.jwt.verify: key")
    if alg == "RS256":
        try:
            public = serialization.load_pem_public_key(secret)
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise _invalid("crypto.jwt.verify: RS256 needs a PEM public key") from None
        if not isinstance(public, rsa.RSAPublicKey):
            raise _invalid("crypto.jwt.verify: RS256 needs an RSA public key")
        try:
            public.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise _failed("crypto.jwt.verify: signature is invalid") from None
    elif not hmac.compare_digest(signature, hmac.new(secret, signing_input, _HMAC[alg]).digest()):
        raise _failed("crypto.jwt.verify: signature is invalid")
    if not isinstance(claims, dict):
        raise _failed("crypto.jwt.verify: the claims are not an object")
    now = caller.now_ns() / 1e9
    expires = claims.get("exp")
    if expires is None:
        if require_exp is not False:
            raise _failed("crypto.jwt.verify: the token has no exp claim")
    elif not isinstance(expires, (int, float)) or now >= expires:
        raise _failed("crypto.jwt.verify: token is expired")
    not_before = claims.get("nbf")
    if not_before is not None and (not isinstance(not_before, (int, float)) or now < not_before):
        raise _failed("crypto.jwt.verify: token is not valid yet")
    return claims


def _pbkdf2(
    caller: Caller, password: Any, salt: Any, iterations: Any, key_length: Any, digest: Any = None
) -> bytes:
    name = digest or "sha256"
    if name not in ("sha256", "sha512"):
        raise _invalid("crypto.pbkdf2: hash is sha256 or sha512")
    rounds = _count(iterations, "crypto.pbkdf2: iterations", MAX_ITERATIONS)
    length = _count(key_length, "crypto.pbkdf2: key_length", MAX_KEY_LENGTH)
    return hashlib.pbkdf2_hmac(
        name, _bytes(password, "crypto.pbkdf2: password"), _bytes(salt, "crypto.pbkdf2: salt"), rounds, length
    )


def _compare(caller: Caller, a: Any, b: Any) -> bool:
    return hmac.compare_digest(
        _bytes(a, "crypto.constant_time_compare"), _bytes(b, "crypto.constant_time_compare")
    )


def _random_bytes(caller: Caller, count: Any) -> bytes:
    return caller.random_bytes(stdlib.random_byte_count(count))


OPERATIONS = {
    "random_bytes": _random_bytes,
    "random": _random,
    "hmac": _hmac,
    "encrypt": _encrypt,
    "decrypt": _decrypt,
    "jwt_encode": _jwt_encode,
    "jwt_verify": _jwt_verify,
    "pbkdf2": _pbkdf2,
    "constant_time_compare": _compare,
}
