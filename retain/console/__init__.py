"""The operator console: pages and JSON API for rules, approvals, messages, customers and results."""
