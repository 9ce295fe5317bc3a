"""The bottom layer: settings, database, scheduler, the broker and Faust app, logs and metrics.

Everything above (signals, models, triggers, outreach, retain) may import from here; nothing here
imports from them.
"""
