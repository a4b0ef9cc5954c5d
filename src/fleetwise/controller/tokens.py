"""API tokens: hashing with scrypt and constant-time verification.

A stored hash reads ``scrypt$<log2 n>$<r>$<p>$<salt>$<digest>`` (salt and digest in
unpadded URL-safe base64), so the cost parameters travel with the hash and can be
raised later without invalidating old hashes. Only hashes are ever stored; tokens
themselves are never logged or kept.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from fleetwise.errors import ParameterError

__all__ = [
    "DEFAULT_LOG2_N",
    "MIN_LOG2_N",
    "MIN_TOKEN_LENGTH",
    "TokenHash",
    "generate_token",
    "hash_token",
]

SCHEME = "scrypt"
DEFAULT_LOG2_N = 14
MIN_LOG2_N = 10
MAX_LOG2_N = 20
MIN_TOKEN_LENGTH = 16
MAX_TOKEN_LENGTH = 512
_SALT_BYTES = 16
_DIGEST_BYTES = 32


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(token: str, salt: bytes, log2_n: int, r: int, p: int) -> bytes:
    n = 1 << log2_n
    return hashlib.scrypt(
        token.encode("utf-8"),
        salt=salt,
        n=n,
        r=r,
        p=p,
        dklen=_DIGEST_BYTES,
        maxmem=256 * n * r + (1 << 20),
    )


@dataclass(frozen=True, slots=True)
class TokenHash:
    """A parsed token hash; :meth:`verify` compares a presented token in constant time."""

    log2_n: int
    r: int
    p: int
    salt: bytes
    digest: bytes

    @classmethod
    def parse(cls, text: str) -> TokenHash:
        """Read a hash produced by :func:`hash_token`; anything else is a ParameterError."""
        parts = text.strip().split("$")
        if len(parts) != 6 or parts[0] != SCHEME:
            raise ParameterError(
                "a token hash must look like scrypt$14$8$1$<salt>$<digest> "
                "(make one with `fleetwise controller hash-token`)"
            )
        try:
            log2_n, r, p = (int(x) for x in parts[1:4])
            salt, digest = _b64decode(parts[4]), _b64decode(parts[5])
        except (ValueError, binascii.Error):
            raise ParameterError("a token hash has malformed numbers or base64 fields") from None
        if not MIN_LOG2_N <= log2_n <= MAX_LOG2_N or not 1 <= r <= 32 or not 1 <= p <= 16:
            raise ParameterError(
                f"token hash cost out of range: log2 n must be {MIN_LOG2_N}-{MAX_LOG2_N}, "
                "r 1-32 and p 1-16"
            )
        if len(salt) < 8 or len(digest) != _DIGEST_BYTES:
            raise ParameterError("a token hash needs a salt of 8+ bytes and a 32-byte digest")
        return cls(log2_n, r, p, salt, digest)

    def verify(self, token: str) -> bool:
        """Whether ``token`` is the one this hash was made from."""
        if not token or len(token) > MAX_TOKEN_LENGTH:
            return False
        candidate = _scrypt(token, self.salt, self.log2_n, self.r, self.p)
        return hmac.compare_digest(candidate, self.digest)

    def __str__(self) -> str:
        return "$".join(
            (
                SCHEME,
                str(self.log2_n),
                str(self.r),
                str(self.p),
                _b64encode(self.salt),
                _b64encode(self.digest),
            )
        )


def hash_token(token: str, *, log2_n: int = DEFAULT_LOG2_N, r: int = 8, p: int = 1) -> TokenHash:
    """Hash ``token`` with a fresh random salt."""
    if len(token) < MIN_TOKEN_LENGTH:
        raise ParameterError(f"a token needs at least {MIN_TOKEN_LENGTH} characters")
    if len(token) > MAX_TOKEN_LENGTH:
        raise ParameterError(f"a token may have at most {MAX_TOKEN_LENGTH} characters")
    if token != token.strip() or any(c.isspace() for c in token):
        raise ParameterError("a token must not contain spaces")
    salt = secrets.token_bytes(_SALT_BYTES)
    parsed = TokenHash(log2_n, r, p, salt, b"\0" * _DIGEST_BYTES)
    TokenHash.parse(str(parsed))  # checks the cost parameters
    return TokenHash(log2_n, r, p, salt, _scrypt(token, salt, log2_n, r, p))


def generate_token() -> str:
    """A new random token (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)
