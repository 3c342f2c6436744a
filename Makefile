# The two commands a new user needs: `make run` and `make test`. Everything else is optional.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Python 3.12 matches the Lambda runtime in template.yaml. pyenv keeps it off PATH here,
# and SAM's build looks for `python3.12` on PATH: put the real interpreter first.
PY312_BIN := $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin) $(wildcard /usr/local/bin/python3.12) )
ifneq ($(PY312_BIN),)
export PATH := $(patsubst %/python3.12,%,$(PY312_BIN)):$(PATH)
endif
export UV_PYTHON_DOWNLOADS := never
export UV_PYTHON := 3.12

UV_VERSION := 0.13.9
UV := .local/tools/bin/uv
RUN := $(UV) run --frozen

.PHONY: help env run test lint typecheck migrate trail history aws-tools layer-requirements build clean invoke
.PHONY: verify load token

help:
	@echo "make run        local stack: Postgres + migrations + reference service + API on :3000"
	@echo "make test       lint, type-check and the whole test suite (what CI runs)"
	@echo "make migrate    apply migrations to DATABASE_URL"
	@echo "make token CUSTOMER=cust-7788 | AGENT=1   a development bearer token for the running stack"
	@echo "make trail CONVERSATION=conv-001   a conversation's audit trail"
	@echo "make history CUSTOMER=cust-7788    a customer's history"
	@echo "make invoke FN=PolicyLookupFunction EVENT=events/policy_lookup_ok.json   Docker-free sam local invoke"
	@echo "make verify     verify the audit hash chains (exit 1 if broken)"
	@echo "make load       load with faults: Postgres restart + upstream kill, figures printed"
	@echo "make load PGBOUNCER=1   the same through PgBouncer (RDS Proxy stand-in), restarted mid-run"
	@echo "make bench      cold init, warm overhead, connections, sizes, audit throughput (bench/RESULTS.md)"

.local/tools/bin/uv:
	python3 -m venv .local/tools
	.local/tools/bin/pip install --quiet "uv==$(UV_VERSION)"

.venv/.synced: pyproject.toml uv.lock | $(UV)
	$(UV) sync --frozen
	@touch $@

env: .venv/.synced

run: env
	$(RUN) python -m devstack.run

# aws-tools: the suite runs sam validate, cfn-lint, checkov and sam build (tests/deploy);
# pgbouncer: the RDS Proxy stand-in (tests/deploy/test_pgbouncer.py), installed when absent.
test: env aws-tools pgbouncer lint typecheck
	$(RUN) pytest

.PHONY: pgbouncer
pgbouncer:
	@tools/pgbouncer.sh

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

# Load with faults (Postgres restart, upstream kill); prints the figures. PGBOUNCER=1 puts
# PgBouncer (transaction pooling, the RDS Proxy stand-in) in front of Postgres and restarts it.
load: env $(if $(PGBOUNCER),pgbouncer)
	$(RUN) python -m devstack.load $(if $(PGBOUNCER),--pgbouncer)

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

# Bedrock action-group schemas, generated from the FastAPI apps; a test fails when they drift.
.PHONY: action-group-schemas
action-group-schemas: env
	$(RUN) python -m devstack.action_group_schema

# The claim-intake state machine on moto against the local stack; prints each execution.
.PHONY: workflow
RUNS ?= 3
workflow: env
	$(RUN) python -m devstack.run_workflow --runs $(RUNS)

# Performance figures (not part of `make test`): builds, then measures the built artifacts and
# the warm path side by side; prints the tables and writes bench/RESULTS.md. Exits 0 whatever
# the figures. The X-Ray SDK is for the "obvious implementation" baseline only, never the layer.
BENCH_XRAY := .local/bench/xray
$(BENCH_XRAY)/.installed: bench/requirements-xray.txt | $(UV)
	$(UV) pip install -q --python 3.12 --no-deps --target $(BENCH_XRAY) -r bench/requirements-xray.txt
	@touch $@

.PHONY: bench
bench: env build $(BENCH_XRAY)/.installed
	$(RUN) python -m bench $(BENCH_ARGS)
