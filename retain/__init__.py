"""retain: proactive outreach and churn prevention on customer event streams.

This package is the composition root: settings, database, broker, Faust app, HTTP API, CLI,
scheduler and simulator. The pure domain code lives in ``signals``, ``models``, ``triggers`` and
``outreach``.
"""

__version__ = "0.1.0"
