"""Delivery channels behind one small port: SendGrid e-mail, Twilio SMS and the local sink."""
