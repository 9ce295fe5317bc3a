"""The churn-risk model: one feature spec, dataset builder, training, registry and online scorer.

- ``features``: the per-customer fold (``initial_state``, ``on_event``, ``vector``), run online and offline
- ``dataset``: events file -> training table at observation dates, without leakage
- ``train`` / ``calibration`` / ``evaluate``: LightGBM + calibration beside a logistic baseline
- ``registry``: versioned artifacts, gated promotion, ``ensure_model``; ``serving``: ``ServingModel`` hot reload
- ``scorer``: compiled trees for microsecond single-customer scoring with drivers
- ``telco`` / ``simulated`` / ``runs``: the datasets and ready-made training runs; ``cli``: ``retain model``
"""
