"""Drafting: the request as plain data, LLM and template drafters, and ``compose`` (draft -> guardrails)."""
