"""The examples in the trigger modules' docstrings run and hold."""

from __future__ import annotations

import doctest
import importlib
import textwrap

import pytest

import triggers.rule
from triggers.loader import parse_rule_text


@pytest.mark.parametrize("module", ["triggers.decision", "triggers.policy.consent", "triggers.policy.quiet_hours",
                                    "triggers.policy.escalation"])
def test_docstring_examples(module):
    result = doctest.testmod(importlib.import_module(module))
    assert result.attempted > 0 and result.failed == 0


def test_the_annotated_rule_example_is_valid():
    example = textwrap.dedent(triggers.rule.__doc__.split("::", 1)[1])
    rules, errors = parse_rule_text(example, "triggers/rule.py")
    assert errors == []
    assert [r.id for r in rules] == ["shipping-delay-notice"]
