"""Local HTTP servers that speak the provider APIs retain calls (SendGrid v3, Twilio Messages)."""
