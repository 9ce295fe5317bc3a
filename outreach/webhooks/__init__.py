"""Inbound HTTP: Twilio SMS replies and status callbacks, SendGrid events, unsubscribe, preferences."""
