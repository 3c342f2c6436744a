# The two commands a new user needs: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12 matches the Lambda runtime in template.yaml. tools/find-python.sh picks it: a
# python3.12 from pyenv or PATH, else "3.12" for uv to download (when UV_PYTHON_DOWNLOADS
# allows), else it says in one line what to install. SAM's build looks for `python3.12` on
# PATH: the found interpreter's directory goes first. A UV_PYTHON of the user's wins.
PYTHON_312 := $(shell $(SHELL) tools/find-python.sh 2>/dev/null)
ifneq ($(filter /%,$(PYTHON_312)),)
export PATH := $(patsubst %/,%,$(dir $(PYTHON_312))):$(PATH)
endif
UV_PYTHON ?= $(or $(PYTHON_312),3.12)
export UV_PYTHON

UV_VERSION := 0.13.9
UV := .local/tools/bin/uv
RUN := $(UV) run --frozen

.PHONY: help env run test lint typecheck migrate trail history aws-tools layer-requirements build clean invoke
.PHONY: verify load token reset

# `make help` lists every target: the lines below starting with "##".
help:
	@sed -n 's/^## \{0,1\}//p' $(MAKEFILE_LIST)

## The two commands a newcomer needs:
##   make run        local stack: Postgres + migrations + reference service + API on :3000
##                   (PORT=3100 REFERENCE_PORT=8181 choose other ports; DATABASE_URL another server/database)
##   make test       lint, type-check and the whole test suite (what CI runs)
## While `make run` runs:
##   make token CUSTOMER=cust-7788 | AGENT=1   a development bearer token for the running stack
##   make trail CONVERSATION=conv-001          a conversation's audit trail
##   make history CUSTOMER=cust-7788           a customer's history
##   make verify     verify the audit hash chains (exit 1 if broken)
##   make invoke FN=PolicyLookupFunction EVENT=events/policy_lookup_ok.json   Docker-free sam local invoke
##   make workflow   the claim-intake state machine (moto) against a local stack (RUNS=3)
## Local data and set-up:
##   make reset      drop the local database (audit, idempotency, reference claims); make run re-creates it
##   make migrate    apply migrations to DATABASE_URL
##   make env        .venv from uv.lock (make run and make test do it)
##   make aws-tools  SAM CLI and checkov in .local/aws-tools (make test does it)
##   make browser-tools   playwright-core in tools/browser for the API page test (make test does it)
##   make clean      remove .venv, build output and caches
## Checks and builds:
##   make lint       ruff check + ruff format --check
##   make typecheck  mypy --strict
##   make build      sam build for this machine's architecture, layer precompiled
##   make layer-requirements     layers/common/requirements.txt from uv.lock
##   make action-group-schemas   the Bedrock action-group schemas from the FastAPI apps
##   make upstream-schema        schemas/upstream.openapi.json from the reference service
## Figures (not part of make test):
##   make load       load with faults: Postgres restart + upstream kill, figures printed
##   make bench      cold init, warm overhead, connections, sizes, audit throughput
##                   (writes bench/out/RESULTS-<time>.md; BENCH_OUT=bench/RESULTS.md updates the committed one)

.local/tools/bin/uv:
	python3 -m venv .local/tools
	.local/tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: pyproject.toml uv.lock | $(UV)
	@$(SHELL) tools/find-python.sh >/dev/null
	$(UV) sync --frozen
	@touch $@

env: .venv/.synced

PORT ?= 3000
REFERENCE_PORT ?= 8081
run: env
	$(RUN) python -m devstack.run --port $(PORT) --reference-port $(REFERENCE_PORT)

reset: env
	@$(RUN) python -m devstack.reset

# aws-tools: the suite runs sam validate --lint, checkov and sam build (tests/deploy).
# browser-tools: playwright-core drives Debian's chromium for the API page (tests/newcomer).
test: env aws-tools browser-tools lint typecheck
	$(RUN) pytest

# System packages (chromium, node, a PostgreSQL server's binaries, ...): tools/ci-prereqs.sh.
BROWSER_TOOLS := tools/browser/node_modules/.installed
$(BROWSER_TOOLS): tools/browser/package.json tools/browser/package-lock.json
	@command -v npm >/dev/null || { echo "make test needs Node.js and npm (see README, Quick start; tools/ci-prereqs.sh installs them)"; exit 1; }
	npm ci --prefix tools/browser --no-audit --no-fund --loglevel=error
	@touch $@

.PHONY: browser-tools
browser-tools: $(BROWSER_TOOLS)

lint: env
	$(RUN) ruff check .
	$(RUN) ruff format --check .

typecheck: env
	$(RUN) mypy layers/common/insurance_agent devstack reference_service ops functions bench

# A bearer token signed with the running stack's key: curl -H "Authorization: Bearer $$(make -s token CUSTOMER=cust-7788)"
token: env
	@$(RUN) python -m devstack.tokens $(if $(AGENT),agent,customer $(CUSTOMER))

migrate: env
	$(RUN) python -m devstack.migrate

trail: env
	$(RUN) python -m ops trail --conversation "$(CONVERSATION)"

history: env
	$(RUN) python -m ops history --customer "$(CUSTOMER)"

# Exits 1 on a broken audit chain: fit for a schedule.
verify: env
	$(RUN) python -m ops verify --all

# Load with faults (Postgres restart, upstream kill); prints the figures.
load: env
	$(RUN) python -m devstack.load

# AWS tools live in environments of their own, installed from hash-locked requirements
# (tools/aws-tools/*.txt) by tools/aws-tools.sh, which prints its progress.
AWS_TOOLS := .local/aws-tools
SAM := $(AWS_TOOLS)/sam/bin/sam
CHECKOV := $(AWS_TOOLS)/checkov/bin/checkov

$(AWS_TOOLS)/.installed: tools/aws-tools.sh $(wildcard tools/aws-tools/*.txt) | $(UV)
	@tools/aws-tools.sh $(UV) $(AWS_TOOLS)
	@touch $@

aws-tools: $(AWS_TOOLS)/.installed

# The layer's pins come from uv.lock: one source of versions.
LAYER_REQUIREMENTS ?= layers/common/requirements.txt
layer-requirements: | $(UV)
	@( echo "# Generated from uv.lock by \`make layer-requirements\`; do not edit. boto3 comes with the Lambda runtime."; \
	   $(UV) export --frozen --no-dev --no-hashes --no-emit-project --no-header --no-annotate \
	     --format requirements-txt ) > $(LAYER_REQUIREMENTS)

# Without a container; for the host architecture so the artifacts can be loaded here.
ARCH ?= $(shell uname -m | sed 's/aarch64/arm64/')
# The layer is then precompiled (devstack/layer_bytecode.py): cold starts import bytecode
# instead of compiling every module. Run the same step after any `sam build` before deploying.
build: aws-tools env
	$(SAM) build --parameter-overrides Architecture=$(ARCH)
	$(RUN) python -m devstack.layer_bytecode .aws-sam/build/CommonLayer/python

# Docker-free `sam local invoke`: one event through one function in a clean process, against
# the stack `make run` started. BUILT=1 runs the `make build` artifacts instead of the source;
# REPEAT=N sends the event N times to the one process (REPORT lines on stderr: init, warm).
FN ?= PolicyLookupFunction
EVENT ?= events/policy_lookup_ok.json
invoke: env
	$(RUN) python -m devstack.invoke $(FN) $(EVENT) $(if $(BUILT),--built .aws-sam/build) $(if $(REPEAT),--repeat $(REPEAT))

clean:
	rm -rf .venv .aws-sam .mypy_cache .ruff_cache .pytest_cache

# The upstream contract: the reference service's OpenAPI document; a test fails when it drifts.
.PHONY: upstream-schema
upstream-schema: env
	$(RUN) python -m reference_service.schema

# Bedrock action-group schemas, generated from the FastAPI apps; a test fails when they drift.
.PHONY: action-group-schemas
action-group-schemas: env
	$(RUN) python -m devstack.action_group_schema

# MCP tool definitions (schemas/mcp/<target>.tools.json), generated from the pydantic contract;
# a test fails when they drift.
.PHONY: mcp-schemas
mcp-schemas: env
	$(RUN) python -m devstack.mcp_tool_schema

# The claim-intake state machine on moto against the local stack; prints each execution.
.PHONY: workflow
RUNS ?= 3
workflow: env
	$(RUN) python -m devstack.run_workflow --runs $(RUNS)

# Performance figures (not part of `make test`): builds, then measures the built artifacts and
# the warm path side by side; prints the tables and writes them to BENCH_OUT. Exits 0 whatever
# the figures. The X-Ray SDK is for the "obvious implementation" baseline only, never the layer.
BENCH_XRAY := .local/bench/xray
$(BENCH_XRAY)/.installed: bench/requirements-xray.txt | $(UV)
	$(UV) pip install -q --python $(UV_PYTHON) --no-deps --target $(BENCH_XRAY) -r bench/requirements-xray.txt
	@touch $@

# A new file each run: the committed bench/RESULTS.md changes only when BENCH_OUT names it.
BENCH_OUT ?= bench/out/RESULTS-$(shell date -u +%Y%m%dT%H%M%SZ).md
.PHONY: bench
bench: env build $(BENCH_XRAY)/.installed
	$(RUN) python -m bench --results $(BENCH_OUT) $(BENCH_ARGS)
