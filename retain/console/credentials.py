"""Password hashing (scrypt, stdlib), random tokens and their digests, and the role model. Pure.

A password hash reads ``scrypt$n$r$p$salt$hash`` (hex), so the cost can be raised later while old
hashes still verify. API tokens and session ids are 32 random bytes: a SHA-256 digest is stored,
and comparison happens on digests with ``hmac.compare_digest``.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from functools import lru_cache

# scrypt cost: n=2**14, r=8 takes about 30-50 ms and 16 MiB per check (OWASP's minimum is n=2**17 with
# r=8 for new systems at 128 MiB; 2**14 keeps logins fast on a 2-core box and is stored per hash).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 200  # longer is refused at creation and never matches at login
# User names: what the form, the API and the CLI all accept (ASCII, no spaces: safe in logs, URLs, audit rows).
USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"
USERNAME_RULE = "a user name is 1-64 characters of A-Z, a-z, 0-9 and _ . @ -"

ROLES = ("viewer", "editor", "approver", "admin")
# What each role may do: everyone reads; editors change rules; approvers decide drafts; admins all.
PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "editor": frozenset({"read", "rules"}),
    "approver": frozenset({"read", "approve"}),
    "admin": frozenset({"read", "rules", "approve", "admin"}),
}


def check_username(name: str) -> str:
    """``name`` when it is a valid user name, else ValueError saying what one looks like."""
    if not isinstance(name, str) or not re.fullmatch(USERNAME_PATTERN, name):
        raise ValueError(USERNAME_RULE)
    return name


def hash_password(password: str, *, n: int = SCRYPT_N, r: int = SCRYPT_R, p: int = SCRYPT_P) -> str:
    """A salted scrypt hash of ``password`` with its parameters, as one string."""
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValueError(f"password must be at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValueError(f"password must be at most {MAX_PASSWORD_LENGTH} characters")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=n, r=r, p=p, maxmem=64 * 1024 * 1024, dklen=32)
    return f"scrypt${n}${r}${p}${salt.hex()}${digest.hex()}"


def verify_password(password: str, stored: str) -> bool:
    """True when ``password`` matches the stored hash (constant-time compare)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        candidate = hashlib.scrypt(password.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                                   maxmem=64 * 1024 * 1024, dklen=len(digest) // 2)
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(candidate.hex(), digest)


@lru_cache(maxsize=1)
def dummy_hash() -> str:
    """A hash of a random password with today's parameters: verified for unknown names so they cost the same."""
    return hash_password(new_secret())


def new_secret() -> str:
    """A fresh random secret (session id, API token, CSRF token): 43 URL-safe characters."""
    return secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """The SHA-256 hex digest under which a token or session id is stored."""
    return hashlib.sha256(secret.encode()).hexdigest()


def allowed(role: str, permission: str) -> bool:
    """True when ``role`` carries ``permission``."""
    return permission in PERMISSIONS.get(role, frozenset())
