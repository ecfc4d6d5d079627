# Two commands matter: `make demo` and `make test`. Both build .venv when missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint bench clean install test-deps screenshots

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e '.[dev,google,microsoft,imap,caldav,exchange]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/syncd --home .demo-home demo --out demo-out
	@command -v syncd >/dev/null 2>&1 || echo "(syncd is not on your PATH yet: make install puts it in ~/.local/bin)"

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

# Servers the tests run for real (the IMAP tests start Dovecot on loopback).
test-deps:
	apt-get install -y --no-install-recommends dovecot-imapd

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports

# Every dashboard page at 1440 and 360 px on the demo network, into docs/screenshots/
# (Debian's Chromium through Playwright: apt-get install chromium).
screenshots: $(STAMP)
	$(BIN)/python -m tests.support.screenshots

# Every benchmark at a few-minutes size, one table (bench/run_all.py; misses are marked,
# not fatal). BENCH_ARGS=--write-results also records the table in bench/RESULTS.md.
bench: $(STAMP)
	$(BIN)/python bench/run_all.py $(BENCH_ARGS)

clean:
	rm -rf $(VENV) .demo-home demo-out

# `syncd` on your PATH: pipx or uv when present, else a private venv under
# ~/.local/share/syncd with its command linked into ~/.local/bin.
PREFIX ?= $(HOME)/.local
install:
	@if command -v pipx >/dev/null 2>&1; then pipx install --force '.[google,microsoft]'; \
	elif command -v uv >/dev/null 2>&1; then uv tool install --force '.[google,microsoft]'; \
	else \
		$(PYTHON) -m venv $(PREFIX)/share/syncd/venv && \
		$(PREFIX)/share/syncd/venv/bin/python -m pip install -q --upgrade pip && \
		$(PREFIX)/share/syncd/venv/bin/python -m pip install -q '.[google,microsoft]' && \
		mkdir -p $(PREFIX)/bin && \
		ln -sf $(PREFIX)/share/syncd/venv/bin/syncd $(PREFIX)/bin/syncd && \
		echo "installed $(PREFIX)/bin/syncd"; \
	fi
	@case ":$$PATH:" in *":$(PREFIX)/bin:"*) ;; \
	*) echo "add $(PREFIX)/bin to your PATH, e.g. in ~/.profile: export PATH=\"$(PREFIX)/bin:\$$PATH\"";; esac
