# The two commands a newcomer runs: `make demo` and `make test`.
# Both bootstrap .venv by themselves (and Debian's tmux for the terminal test).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.readmark-installed

.PHONY: test demo bench clean-venv system-deps

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "readmark needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# tmux drives the real-terminal end-to-end test.
system-deps:
	@command -v tmux >/dev/null 2>&1 || { \
	  echo "installing tmux (Debian package)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq tmux >/dev/null; }

test: $(STAMP) system-deps
	$(PY) -m pytest -q $(PYTEST_ARGS)

demo: $(STAMP)
	$(VENV)/bin/readmark demo $(DEMO_ARGS)

bench: $(STAMP)
	$(PY) -m tests.bench $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV)
