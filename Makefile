# Two commands on a fresh machine: `make run` and `make test`. Needs Python 3.11+ (with venv), make and curl.
SHELL := /bin/bash
.DEFAULT_GOAL := help
export PYTHONPATH := $(CURDIR)/platform:$(CURDIR)
export DJANGO_SETTINGS_MODULE := madoguchi.settings

UV_VERSION := 0.13.9
UV := .tools/bin/uv
PY := .venv/bin/python
PYTHON ?= python3

.PHONY: help install run test lint typecheck unit browser-deps bench bench-deps profile stop messages clean restore-check k8s-deps ops-deps prod-local prod-local-stop

help:
	@echo "make run    start PostgreSQL (embedded unless DATABASE_URL), migrate, demo cities, serve :8000"
	@echo "make test   lint, type-check and the whole test suite"
	@echo "make restore-check  restore each city's latest nightly dump into a scratch database and compare it"
	@echo "make bench  benchmarks, written to bench/report.md (PART=tenancy|latency|rush|issuance|http, or nginx|scale: only on request)"
	@echo "make profile PAGE=/book/pickup/ [N=500 HOST=ageo.localhost]   where a page's time goes (cProfile)"
	@echo "make stop   stop the embedded PostgreSQL"
	@echo "make prod-local       nginx (TLS) + PgBouncer + gunicorn + worker + beat with production settings, https :8443"
	@echo "make prod-local-stop  stop everything make prod-local started"

# uv is bootstrapped from PyPI into .tools/ (no curl-pipe-sh: the machine may reach only package registries).
$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"

.venv/.synced: $(UV) uv.lock pyproject.toml
	$(UV) sync --frozen --python "$$($(PYTHON) -c 'import sys; print(sys.executable)')"
	@touch $@

install: .venv/.synced

run: install
	$(PY) -m madoguchi.localrun

stop: install
	$(PY) -m madoguchi.embedded stop

# lint-imports: the layer contracts of pyproject.toml's [tool.importlinter] (docs/architecture.md, "Layers").
lint: install
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/lint-imports --no-cache

typecheck: install
	.venv/bin/mypy platform tenants apps base tests conftest.py manage.py ops/prod_local.py ops/backup/rehearse.py

# Chromium for the browser tests: Debian's package, installed with apt as root; elsewhere the tests skip visibly.
browser-deps:
	@# Debian's chromium (browser tests) and the IPAex fonts (embedded in notice PDFs; without them the PDFs use
	@# reportlab's built-in Japanese CID fonts, which viewers must supply).
	@need=""; [ -x /usr/bin/chromium ] || need="chromium"; \
	[ -f /usr/share/fonts/opentype/ipaexfont-mincho/ipaexm.ttf ] || need="$$need fonts-ipaexfont"; \
	if [ -z "$$need" ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's $$need"; \
		(apt-get install -y -qq $$need >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null && apt-get install -y -qq $$need >/dev/null)) || \
		echo "NOTICE: $$need could not be installed; browser tests will be skipped, PDFs use CID fonts"; \
	else echo "NOTICE: not root or no apt: $$need missing (browser tests skipped, PDFs use CID fonts)"; fi

# kubectl (its built-in kustomize renders ops/k8s/ for tests/ops/test_k8s_manifests.py): Debian's `kubectl`
# package, installed with apt as root like browser-deps; without it those tests are skipped with the reason.
k8s-deps:
	@if command -v kubectl >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's kubectl"; \
		(apt-get install -y -qq kubectl >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null && apt-get install -y -qq kubectl >/dev/null)) || \
		echo "NOTICE: kubectl could not be installed; the Kubernetes manifest tests will be skipped"; \
	else echo "NOTICE: not root or no apt: kubectl missing (the Kubernetes manifest tests are skipped)"; fi

# nginx and PgBouncer (make prod-local and its test) and ClamAV's daemon (the virus scanner of uploads): Debian's
# packages, installed with apt as root like browser-deps; elsewhere the tests that need them skip with the reason.
# Debian starts a package's service on install where it can: nginx and PgBouncer are stopped again (the tests and
# make prod-local run their own on other ports).
ops-deps:
	@need=""; for cmd in nginx:nginx pgbouncer:pgbouncer clamd:clamav-daemon; do 		command -v $${cmd%%:*} >/dev/null || [ -x /usr/sbin/$${cmd%%:*} ] || need="$$need $${cmd##*:}"; done; 	if [ -z "$$need" ]; then :; 	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then 		echo "installing Debian's$$need"; 		(apt-get install -y -qq $$need >/dev/null 2>&1 || 		 (apt-get update -qq >/dev/null && apt-get install -y -qq $$need >/dev/null)) || 		echo "NOTICE:$$need could not be installed; the tests that need them will be skipped"; 		for service in nginx pgbouncer; do 			case "$$need" in *" $$service"*) service $$service stop >/dev/null 2>&1 || true;; esac; done; 	else echo "NOTICE: not root or no apt:$$need missing (the tests that need them are skipped)"; fi

# The embedded PostgreSQL is stopped afterwards if this run started it, whatever the result.
test: install browser-deps k8s-deps ops-deps
	@was=$$($(PY) -m madoguchi.embedded status); rc=0; \
	$(MAKE) --no-print-directory lint typecheck unit || rc=$$?; \
	if [ -z "$$DATABASE_URL" ] && [ "$$was" != running ]; then $(PY) -m madoguchi.embedded stop; fi; \
	exit $$rc

unit: install
	$(PY) -m pytest --cov --cov-report=term:skip-covered

# The production layout on this machine (ops/prod_local.py; ops/README.md, "Local production stack"): returns once
# everything answers over https and prints the URLs; `make prod-local` again restarts it cleanly.
prod-local: install ops-deps
	$(PY) ops/prod_local.py start

prod-local-stop: install
	$(PY) ops/prod_local.py stop

# Restore each city's newest dump (manage.py city_dump) into a scratch database and compare it with its manifest.
restore-check: install
	$(PY) manage.py restore_check

# wrk for the bench's http part: Debian's package, installed with apt as root (like browser-deps); without it the
# part still runs and its rows say "wrk missing".
bench-deps:
	@if [ -x /usr/bin/wrk ] || command -v wrk >/dev/null; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
		echo "installing Debian's wrk"; \
		(apt-get install -y -qq wrk >/dev/null 2>&1 || \
		 (apt-get update -qq >/dev/null && apt-get install -y -qq wrk >/dev/null)) || \
		echo "NOTICE: wrk could not be installed; the bench's http rows will say \"wrk missing\""; \
	else echo "NOTICE: not root or no apt: wrk missing (the bench's http rows will say so)"; fi

bench: install bench-deps
	@was=$$($(PY) -m madoguchi.embedded status); rc=0; \
	$(PY) bench/run.py $(if $(PART),--part $(PART)) || rc=$$?; \
	if [ -z "$$DATABASE_URL" ] && [ "$$was" != running ]; then $(PY) -m madoguchi.embedded stop; fi; \
	exit $$rc

# cProfile of one page over N requests through the test client, in a database of its own (bench/profiler.py).
# HOST only from the command line (some shells export HOST as the machine's name).
PAGE ?= /book/pickup/
N ?= 500
profile: install
	@was=$$($(PY) -m madoguchi.embedded status); rc=0; \
	$(PY) bench/profiler.py --page '$(PAGE)' -n $(N) $(if $(filter command line,$(origin HOST)),--host '$(HOST)') || rc=$$?; \
	if [ -z "$$DATABASE_URL" ] && [ "$$was" != running ]; then $(PY) -m madoguchi.embedded stop; fi; \
	exit $$rc

messages: install
	$(PY) manage.py makemessages -l ja -l en --ignore=.venv --ignore=.tools --ignore=.data
	$(PY) manage.py compilemessages --ignore=.venv --ignore=.tools

clean: stop
	rm -rf .data

# Security audit, not part of `make test` (docs/security.md, "Vulnerability management"): static analysis of our
# code (bandit, medium severity and up; offline), then the locked dependencies against known vulnerabilities
# (pip-audit; needs PyPI's JSON API, or AUDIT_SERVICE=osv where api.osv.dev is reachable). --strict: a package
# that could not be checked fails the audit instead of counting as clean.
AUDIT_SERVICE ?= pypi
.PHONY: audit
audit: install
	.venv/bin/bandit -r platform tenants apps base -x '*/tests/*,*/migrations/*' -ll -q
	@mkdir -p .data
	$(UV) export --frozen --format requirements-txt --no-emit-project --quiet -o .data/requirements-audit.txt
	.venv/bin/pip-audit --requirement .data/requirements-audit.txt --disable-pip --require-hashes --strict \
		--vulnerability-service $(AUDIT_SERVICE) --progress-spinner off
