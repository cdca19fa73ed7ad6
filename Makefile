# Quick start: `make demo`, `make test`. Both set up .venv themselves.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: venv system-deps test lint format demo bench dist clean

venv: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test,uv,hsm,s3]'
	touch $(STAMP)

lint: venv
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: venv
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# The hosts and key hardware the tests run for real: nginx, a SoftHSM2 token
# and OpenSC's pkcs11-tool (Debian packages; installed as root when missing).
SYSTEM_DEPS := nginx:nginx softhsm2-util:softhsm2 pkcs11-tool:opensc
system-deps:
	@missing=""; for dep in $(SYSTEM_DEPS); do \
	  command -v $${dep%%:*} >/dev/null || [ -x /usr/sbin/$${dep%%:*} ] || missing="$$missing $${dep#*:}"; \
	done; \
	if [ -z "$$missing" ]; then exit 0; fi; \
	if [ "$$(id -u)" != 0 ] || ! command -v apt-get >/dev/null; then \
	  echo "make system-deps: missing$$missing: run 'sudo apt-get install -y$$missing'"; exit 1; fi; \
	echo "make system-deps: installing$$missing"; \
	apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing

# Bytecode first: the tests start tufpip and repo-sign hundreds of times, and
# where PYTHONDONTWRITEBYTECODE is set each start would compile them again.
# Then two workers (the machine's two cores), stealing work from each other so
# that one long test does not hold the other worker idle.
test: lint system-deps
	@$(BIN)/python -m compileall -q client contract repo_tools
	@start=$$(date +%s); status=0; \
	$(BIN)/python -m pytest -q -n 2 --dist worksteal --durations=10 || status=$$?; \
	echo "make test: wall time $$(( $$(date +%s) - start )) s"; exit $$status

# The fast tier: lint and the unit-marked modules (tests/conftest.py), under a minute.
test-unit: lint
	$(BIN)/python -m pytest -q -n 2 -m 'unit and not network'

# The main job: mirror real packages from the upstream index into the demo
# repository (keys/, metadata/, targets/ here) with a sync policy, as cron
# would, serve a copy on loopback, install from it with tufpip, then tamper
# with a served file and watch tufpip refuse it.
DEMO := .demo
DEMO_REQUIREMENTS ?= requests
DEMO_COOLDOWN_DAYS ?= 3
demo: venv
	@set -eu; export PATH="$(CURDIR)/$(BIN):$$PATH" REPO_SIGN_PASSPHRASE=demo-only-passphrase \
	  TUFPIP_HOME="$(CURDIR)/$(DEMO)/home"; rm -rf $(DEMO); mkdir -p $(DEMO); \
	echo "== 1. repo-sign: sync '$(DEMO_REQUIREMENTS)' into the demo repository from a policy"; \
	[ -f repo-sign.toml ] || repo-sign init --root-keys 3 --root-threshold 2; \
	reqs=$$(printf '"%s", ' $(DEMO_REQUIREMENTS)); \
	printf '[sync]\nrequirements = [%s]\ncooldown-days = $(DEMO_COOLDOWN_DAYS)\n' "$${reqs%, }" \
	  > $(DEMO)/sync.toml; \
	cat $(DEMO)/sync.toml; \
	repo-sign sync --policy $(DEMO)/sync.toml; \
	repo-sign verify; repo-sign status; \
	echo "== 2. serve a copy of metadata/ and targets/ with a plain static web server"; \
	mkdir -p $(DEMO)/www; cp -r metadata targets $(DEMO)/www/; \
	port=$$(python -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'); \
	python -m http.server --bind 127.0.0.1 --directory $(DEMO)/www $$port >$(DEMO)/server.log 2>&1 & \
	server=$$!; trap 'kill $$server' EXIT; sleep 0.5; \
	echo "== 3. tufpip: trust the repository's root and install into a fresh virtual environment"; \
	tufpip init http://127.0.0.1:$$port --root metadata/1.root.json; \
	python -m venv $(DEMO)/venv; \
	tufpip install --python $(DEMO)/venv/bin/python $(DEMO_REQUIREMENTS); \
	$(DEMO)/venv/bin/python -c 'import requests; print("imported requests", requests.__version__)'; \
	echo "== 4. an attacker replaces bytes of the requests wheel on the server"; \
	wheel=$$(ls $(DEMO)/www/targets/packages/requests/*.whl | head -1); \
	python -c 'import sys; p=sys.argv[1]; b=bytearray(open(p,"rb").read()); b[100]^=1; open(p,"wb").write(b)' $$wheel; \
	export TUFPIP_HOME="$(CURDIR)/$(DEMO)/home2"; \
	tufpip init http://127.0.0.1:$$port --root metadata/1.root.json; \
	python -m venv $(DEMO)/venv2; \
	if tufpip install --python $(DEMO)/venv2/bin/python $(DEMO_REQUIREMENTS); then \
	  echo "DEMO FAILED: the tampered wheel was installed"; exit 1; fi; \
	if $(DEMO)/venv2/bin/python -c 'import requests' 2>/dev/null; then \
	  echo "DEMO FAILED: requests is importable"; exit 1; fi; \
	echo "== tufpip refused the tampered file and installed nothing: demo complete"

# tufpip is not on a public index: teams install it from this wheel, pinned
# by the sha256 printed here (docs/client.md), or sign it into their repository.
dist: venv
	rm -rf dist
	$(BIN)/python -m build --no-isolation --outdir dist .
	@cd dist && $(CURDIR)/$(BIN)/python -c 'import hashlib, pathlib; \
	[print(hashlib.sha256(p.read_bytes()).hexdigest(), p.name) for p in sorted(pathlib.Path().iterdir())]'

bench: venv
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m benchmarks

clean:
	rm -rf $(VENV) build dist *.egg-info
