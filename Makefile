# The two commands a newcomer runs: `make demo` and `make test`.
# Both bootstrap .venv by themselves (and Debian's tmux for the terminal test, Node.js
# and npm for the matrix-js-sdk interop test, whose packages come from its lock file).

PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.readmark-installed
INTEROP := tests/interop
NODE_STAMP := $(INTEROP)/node_modules/.readmark-installed

.PHONY: test demo bench clean-venv system-deps

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "readmark needs Python 3.11 or newer")'
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	@touch $(STAMP)

# tmux drives the real-terminal end-to-end test; node and npm run matrix-js-sdk in
# tests/interop. Debian's packages, for whichever is missing, after one apt-get update.
system-deps:
	@missing=""; \
	command -v tmux >/dev/null 2>&1 || missing="$$missing tmux"; \
	command -v node >/dev/null 2>&1 || missing="$$missing nodejs"; \
	command -v npm >/dev/null 2>&1 || missing="$$missing npm"; \
	if [ -n "$$missing" ]; then \
	  echo "installing$$missing (Debian packages)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
	fi

# The interop test's Node packages, exactly as the lock file pins them; again only when
# node_modules is gone (the stamp lives inside it) or the lock file changed.
$(NODE_STAMP): $(INTEROP)/package-lock.json $(INTEROP)/package.json | system-deps
	npm ci --prefix $(INTEROP) --no-audit --no-fund --loglevel=error
	@touch $(NODE_STAMP)

# The suite in TEST_JOBS workers (pytest-xdist; each worker starts its own Synapse and
# every test has its own XDG directories), then the tests marked serial (timing
# properties: deadlines, ratios, a burst's request count) alone on a quiet machine.
# Exit status 5 is "no test selected" (PYTEST_ARGS may pick only one kind). The slowest
# tests are listed at the end of each part (where the suite's time goes).
TEST_JOBS ?= 4
DURATIONS ?= --durations=15 --durations-min=5

test: $(STAMP) system-deps $(NODE_STAMP)
	$(PY) -m pytest -q -n $(TEST_JOBS) -m "not serial" $(DURATIONS) $(PYTEST_ARGS) || [ $$? -eq 5 ]
	$(PY) -m pytest -q -m serial $(DURATIONS) $(PYTEST_ARGS) || [ $$? -eq 5 ]

demo: $(STAMP)
	$(VENV)/bin/readmark demo $(DEMO_ARGS)

bench: $(STAMP)
	$(PY) -m tests.bench $(BENCH_ARGS)

clean-venv:
	rm -rf $(VENV)
