"""The consent store: per customer, contact point, channel and topic, with full history."""
