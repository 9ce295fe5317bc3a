"""Suite-wide defaults.

Services started by tests must not train a bootstrap risk model each time (that is tested once,
in tests/integration/test_notebook.py); tests that need a model build or inject one.
"""

import os

os.environ.setdefault("RETAIN_MODEL_BOOTSTRAP", "false")
