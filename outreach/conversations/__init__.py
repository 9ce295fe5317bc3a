"""Customers' replies: inbound on both channels, threading, triage, escalation, the inbox's data.

Pure parts: ``triage`` (what a reply means, its priority), ``keywords`` (the keyword baseline),
``corpus`` (the generated training replies), ``thread_links`` (reply addresses, Message-IDs),
``inbound_email`` (SendGrid Inbound Parse fields -> one reply), ``measures`` (time to first human
answer, share answered). Adapters: ``classifier`` (scikit-learn, trained from ``corpus``),
``llm_triage`` (the official openai client), ``records`` / ``service`` / ``escalations`` (SQL),
``inbound`` (what both webhooks do with a reply), ``answers`` (suggested and human answers, sent
through the outbox).
"""
