"""The examples in the outreach delivery modules' docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib

import pytest


@pytest.mark.parametrize("module", [
    "outreach.consent.policy", "outreach.channels.rate_limit", "outreach.outbox.backoff", "outreach.reputation_verdict",
    "outreach.webhooks.sms_keywords", "outreach.outbox.send_verdicts",
])
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0
