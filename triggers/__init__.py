"""Trigger rules and contact policy: from a Signal to stored Decisions, as pure code.

``rule`` (the YAML rule model and its JSON Schema), ``loader`` (files -> ``RuleSet`` with
file:line errors), ``ruleset`` (fingerprints, ``diff``, the hot-swappable ``RuleBook``),
``conditions`` and ``matcher`` (which rules a signal matches), ``policy`` (the ordered contact
policy), ``decision`` (``decide`` and the ``Decision`` record), ``cli`` (``retain rules``).
"""
