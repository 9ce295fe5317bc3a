"""Contact points (e-mail address, phone number): normalised, and hashed with a key.

Suppressions are stored by keyed hash only, so they survive an erasure request: the address is
gone, yet a later send to the same address hashes to the same value and is still refused. A keyed
hash (HMAC), not a plain one, so a stolen table cannot be reversed by hashing a phone book.
"""

from __future__ import annotations

import hashlib
import hmac

import phonenumbers


class InvalidContactPoint(ValueError):
    """An address that cannot be normalised for its channel."""


def normalise_email(address: str) -> str:
    """Lower-cased, trimmed e-mail address (mailbox providers treat addresses case-insensitively)."""
    cleaned = address.strip().lower()
    if "@" not in cleaned or cleaned.startswith("@") or cleaned.endswith("@"):
        raise InvalidContactPoint("not an e-mail address")
    return cleaned


def normalise_phone(number: str) -> str:
    """E.164 form of an international phone number (``+4915112345678``)."""
    try:
        parsed = phonenumbers.parse(number.strip(), None)
    except phonenumbers.NumberParseException as exc:
        raise InvalidContactPoint("not an international phone number") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise InvalidContactPoint("not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise(channel: str, address: str) -> str:
    """The canonical form of ``address`` for ``channel`` (``email`` or ``sms``)."""
    if channel == "email":
        return normalise_email(address)
    if channel == "sms":
        return normalise_phone(address)
    raise InvalidContactPoint(f"unknown channel {channel!r}")


def contact_hash(key: bytes, channel: str, address: str) -> str:
    """HMAC-SHA256 of the normalised address, hex; the same person hashes the same on every send."""
    message = f"{channel}\x1f{normalise(channel, address)}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def mask(address: str) -> str:
    """A log-safe stand-in for an address (never log the address itself)."""
    return f"<{len(address)} chars>"
