"""The fold's memory of recent ``event_id`` values: fixed-width digests in a few flat strings.

See ``signals.customer_fold`` ("Duplicates") for the sizes and the collision bound.
"""

from __future__ import annotations

import binascii
import hashlib
from typing import Any

DIGEST_CHARS = 12  # base64 of a 9-byte digest: fixed width, no padding


def event_digest(event_id: str) -> str:
    """The fixed-width form in which the dedup window remembers an ``event_id``."""
    return binascii.b2a_base64(hashlib.blake2b(event_id.encode(), digest_size=9).digest(), newline=False).decode()


def in_chunk(chunk: str, digest: str) -> bool:
    """Whether ``digest`` is one of the fixed-width digests concatenated in ``chunk``."""
    pos = chunk.find(digest)
    while pos >= 0:
        if pos % DIGEST_CHARS == 0:  # an unaligned hit straddles two digests: not a match
            return True
        pos = chunk.find(digest, pos + 1)
    return False


def upgrade_seen(chunks: list[Any]) -> list[str]:
    """Chunks of an older state (dicts of raw ids) as digest strings, order kept."""
    return [c if isinstance(c, str) else "".join(event_digest(k) for k in c) for c in chunks]
