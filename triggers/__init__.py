"""Trigger rules and contact policy: from a Signal to stored Decisions.

Pure core: ``rule`` (the YAML rule model and its JSON Schema), ``loader`` (files -> ``RuleSet``
with file:line errors), ``ruleset`` (fingerprints, ``diff``, the hot-swappable ``RuleBook``),
``conditions`` and ``matcher`` (which rules a signal matches), ``policy`` (the ordered contact
policy), ``decision`` (``decide`` and the ``Decision`` record), ``signal_context`` (customer
facts, consent and features carried by a signal), ``decision_history`` (contact history from
decisions), ``backtest`` (replaying history through the same code), ``explain`` (timelines).

Adapters: ``records`` and ``service`` (tables and idempotent storage), ``decision_stage`` (one
batch: decide, store, schedule), ``agents`` (the Faust agent and the reload timer), ``reload``
(hot reload with audit), ``deferred`` (quiet-hours jobs in the scheduler), ``cli`` and
``backtest_cli`` (``retain rules``).
"""
