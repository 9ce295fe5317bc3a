"""The outbox: one row per engaging decision, claimed, drafted, consent-checked and sent once."""
