"""Passwords, token digests and the role model."""

from __future__ import annotations

import pytest

from retain.console.credentials import ROLES, allowed, digest, hash_password, new_secret, verify_password

FAST = {"n": 2**10, "r": 8, "p": 1}  # cheap parameters: these tests check behaviour, not cost


def test_hash_verifies_only_the_same_password():
    stored = hash_password("correct horse battery", **FAST)
    assert stored.startswith("scrypt$1024$8$1$")
    assert verify_password("correct horse battery", stored)
    assert not verify_password("correct horse batterx", stored)


def test_same_password_hashes_differently_each_time():
    assert hash_password("correct horse battery", **FAST) != hash_password("correct horse battery", **FAST)


@pytest.mark.parametrize("stored", [
    "",  # empty column
    "bcrypt$12$abc",  # another scheme
    "scrypt$1024$8$1$zz$00",  # not hex
    "scrypt$x$8$1$00$00",  # not a number
])
def test_malformed_hashes_never_verify(stored):
    assert not verify_password("anything at all", stored)


def test_short_passwords_are_refused():
    with pytest.raises(ValueError, match="at least 10"):
        hash_password("short")


def test_secrets_are_random_and_digests_stable():
    a, b = new_secret(), new_secret()
    assert a != b and len(a) >= 40
    assert digest(a) == digest(a) != digest(b)
    assert len(digest(a)) == 64


@pytest.mark.parametrize(("role", "permission", "expected"), [
    ("viewer", "read", True),
    ("viewer", "rules", False),
    ("viewer", "approve", False),
    ("editor", "rules", True),
    ("editor", "approve", False),  # editing rules does not let one approve drafts
    ("approver", "approve", True),
    ("approver", "rules", False),
    ("approver", "admin", False),
    ("admin", "admin", True),
    ("nobody", "read", False),  # unknown roles get nothing
])
def test_permissions(role, permission, expected):
    assert allowed(role, permission) is expected


def test_every_role_can_read():
    assert all(allowed(role, "read") for role in ROLES)
