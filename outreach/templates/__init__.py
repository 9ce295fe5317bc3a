"""Default message templates (``<language>/<signal_kind>.j2``) and the HTML e-mail layout; data only."""
