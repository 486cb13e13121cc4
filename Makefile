# lakeops — every command a person types. `make demo` and `make test` are the only two needed on
# a fresh clone: each runs `setup` itself.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV        := .venv
PY          := $(VENV)/bin/python
CARGO_LAMBDA:= $(VENV)/bin/cargo-lambda
SAM         := $(VENV)/bin/sam
CFN_LINT    := $(VENV)/bin/cfn-lint
CHECKOV     := $(VENV)/checkov/bin/checkov
STAMP       := $(VENV)/.installed
FUNCTIONS   := query-cost-watcher query-cost-feed long-query-killer row-count-reconciler log-subscription-transformer alert-notifier
FN          ?= long-query-killer
EVENT       ?= $(if $(filter alert-notifier,$(FN)),events/sqs-alert-notifier.json,$(if $(filter query-cost-feed,$(FN)),events/sqs-query-events.json,events/schedule-$(FN).json))
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export SAM_CLI_TELEMETRY := 0
# The template uses Fn::ForEach (AWS::LanguageExtensions); the SAM CLI expands it locally for
# build / deploy only when asked.
export SAM_CLI_ENABLE_LANGUAGE_EXTENSIONS := 1

.PHONY: help setup build audit test tests-unit tests-emulator tests-integ cards lint fmt dashboards demo tests-demo demo-screenshot bench-scale simulate-day bench-transformer bench-cold-start bench-log-layout fuzz-transformer fuzz-libfuzzer check-config invoke package deploy clean settings-doc

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/' | column -t -s $$'\t'

$(STAMP): requirements-dev.txt requirements-checkov.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --upgrade pip
	$(VENV)/bin/pip install --quiet -r requirements-dev.txt
	python3 -m venv $(VENV)/checkov
	$(VENV)/checkov/bin/pip install --quiet -r requirements-checkov.txt
	touch $(STAMP)

setup: $(STAMP) ## local Python venvs: pinned moto (emulator), cargo-lambda, SAM CLI, cfn-lint, checkov (idempotent)

build: ## debug build of the five functions
	cargo build --workspace --bins

lint: setup ## rustfmt, clippy -D warnings, sam validate --lint, cfn-lint, checkov, IAM actions = code calls, one feature set for every cargo command, dashboards and docs/settings.md up to date, docs links resolve, house limits (file and function length, import circles), sam build can read the template, the stack the template creates in the emulator's CloudFormation is the template's
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	$(SAM) validate --lint --template infra/template.yaml --region us-east-1
	$(CFN_LINT) infra/template.yaml
	$(CHECKOV) --config-file infra/.checkov.yaml -f infra/template.yaml
	$(PY) scripts/check_iam.py
	$(PY) scripts/check_harness.py
	$(PY) scripts/check_buildable.py
	$(PY) scripts/check_stack.py
	python3 scripts/check_features.py
	$(PY) scripts/dashboards.py --check
	python3 scripts/settings_doc.py --check
	python3 scripts/check_links.py
	python3 scripts/check_house.py
	python3 scripts/test_deploy.py

dashboards: setup ## regenerate the CloudWatch (in infra/template.yaml) and Grafana (infra/grafana/) dashboards from scripts/dashboards.py
	$(PY) scripts/dashboards.py

settings-doc: ## regenerate docs/settings.md from the config code's doc comments (make lint fails when it is stale)
	python3 scripts/settings_doc.py

fmt: ## format the code
	cargo fmt --all

tests-unit: ## pure logic and SDK-behaviour (aws-smithy-mocks) tests, and a quick run of the transformer's stable fuzzer
	cargo test --workspace --exclude lakeops-e2e
	cargo run -q -p log-subscription-transformer --example decoder_fuzz -- --runs 20000 --seed 7
	cargo run -q -p row-count-reconciler --bin check-config -- functions/row-count-reconciler/checks.example.yaml

tests-emulator: setup ## the local emulator keeps AWS's documented limits and fault shapes (pytest + boto3; docs/emulator-contract.md)
	$(PY) -m pytest -q tests/emulator

tests-integ: setup build ## end-to-end: functions under cargo lambda watch against the local emulator
	cargo test -p lakeops-e2e --test e2e -- --test-threads=1

# Chromium from Debian (no browser download: playwright-core drives /usr/bin/chromium).
CHROMIUM    := /usr/bin/chromium
CARDS_NPM   := tests/cards/node_modules/.installed

$(CHROMIUM):
	@[ "$$(id -u)" = 0 ] || { echo "make cards needs Debian's chromium: apt-get install chromium fonts-dejavu-core (as root)"; exit 1; }
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core >/dev/null

$(CARDS_NPM): tests/cards/package.json tests/cards/package-lock.json
	npm ci --prefix tests/cards --no-audit --no-fund --loglevel=error
	touch $@

cards: $(CHROMIUM) $(CARDS_NPM) ## the Teams Adaptive Card of every alert kind, rendered by Microsoft's renderer (npm adaptivecards) in headless Chromium; fails on any renderer warning; PNGs in OUT (default target/cards/png; docs/cards: OUT=docs/cards)
	cargo run -q -p alert-notifier --example cards -- target/cards
	node tests/cards/render.mjs target/cards/teams $(or $(OUT),target/cards/png)

test: setup lint tests-emulator build tests-unit cards tests-demo tests-integ ## everything CI runs: lint, unit, SDK, card rendering, the demo's report and end-to-end tests

demo: setup build $(CARDS_NPM) ## run the functions against a seeded local data lake, deliver their alerts to a local chat receiver, print what happened, and write target/demo/report.html (the posts as cards)
	cargo run --quiet -p lakeops-e2e --bin demo

tests-demo: demo $(CHROMIUM) ## make demo, then its report opened in headless Chromium: fails unless every post renders as its card
	node tests/cards/check-report.mjs target/demo/report.html $(or $(OUT),target/demo/report.png) $(HEIGHT)

demo-screenshot: ## refresh the README's screenshot of the demo report (docs/demo-report.png)
	$(MAKE) tests-demo OUT=docs/demo-report.png HEIGHT=1500

bench-scale: setup build ## the Athena guardrails at 10,000 and 1,000,000 queries/day over 100 workgroups: calls, wall time, missed alerts, DynamoDB cost (docs/benchmarks.md; VOLUMES="10000 1000000")
	LAKEOPS_INVOKE_TIMEOUT_SECS=900 cargo run --quiet -p lakeops-e2e --bin bench_scale -- $(or $(VOLUMES),10000 1000000)

simulate-day: setup ## a day in a busy account, simulated: the cost watcher's and the killer's decisions over memory adapters for 24 simulated hours under faults, judged by an oracle (VOLUME=1000000 SEED=7 HOURS=24; SIM_FAULTS=0 for none)
	cargo run --quiet -p lakeops-e2e --bin simulate_day -- $(or $(VOLUME),1000000) $(or $(SEED),7) $(or $(HOURS),24)

bench-transformer: ## the transformer vs the floor and a Python baseline, and its peak memory (release build; docs/benchmarks.md)
	cargo run --release -q -p log-subscription-transformer --example transformer_bench

bench-log-layout: setup ## bytes stored and bytes a query reads: gzip JSON lines vs Parquet by source_type (pyarrow; docs/benchmarks.md)
	$(VENV)/bin/pip install --quiet -r requirements-bench.txt
	cargo run --release -q -p log-subscription-transformer --example log_layout -- target/log-layout
	$(PY) scripts/bench/log_layout.py target/log-layout

bench-cold-start: setup ## each function's init time, first invoke and peak memory: fresh release processes against the emulator (docs/benchmarks.md)
	cargo build --release -q $(addprefix --bin ,$(FUNCTIONS))
	cargo run -q -p lakeops-e2e --bin cold_start

fuzz-transformer: ## the transformer's stable-Rust fuzzer: RUNS inputs broken at every layer, no panic allowed (docs/benchmarks.md)
	cargo run --release -q -p log-subscription-transformer --example decoder_fuzz -- --runs $(or $(RUNS),1000000) --seed $(or $(SEED),1)

FUZZ_DIR := functions/log-subscription-transformer/fuzz
fuzz-libfuzzer: ## coverage-guided fuzzing (cargo-fuzz / libFuzzer on the stable toolchain): targets decoder and classify, RUNS executions each (default 10,000,000; docs/benchmarks.md)
	command -v cargo-fuzz >/dev/null || cargo install --locked cargo-fuzz@0.13.2
	cd $(FUZZ_DIR) && for t in decoder classify; do \
	  mkdir -p corpus/$$t && \
	  RUSTC_BOOTSTRAP=1 cargo fuzz run -O -s none $$t corpus/$$t seeds/$$t -- \
	    -runs=$(or $(RUNS),10000000) -max_len=16384 -rss_limit_mb=4096 -timeout=10 -print_final_stats=1 || exit 1; \
	done

audit: ## the log blind-spot audit of the account your AWS credentials reach: every Lambda function whose failures lakeops cannot see, and why (read-only; exit 1 if any; docs/logs.md)
	cargo run --quiet -p lakeops --bin log-audit

check-config: ## validate a reconciler checks file as the function does, every problem with its line: make check-config FILE=checks.yaml
	cargo run -q -p row-count-reconciler --bin check-config -- $(or $(FILE),functions/row-count-reconciler/checks.example.yaml)

invoke: setup build ## invoke one function against a fresh emulator: make invoke FN=long-query-killer EVENT=events/...
	cargo run --quiet -p lakeops-e2e --bin demo -- --only $(FN) --event $(EVENT)

package: setup ## arm64 release zips in target/lambda/<fn>/bootstrap.zip
	$(CARGO_LAMBDA) lambda build --release --arm64 --output-format zip $(addprefix --bin ,$(FUNCTIONS))
	@for f in $(FUNCTIONS); do ls -l target/lambda/$$f/bootstrap.zip; done

deploy: setup ## asks where alerts go, budgets, timezone and killer mode (saved in infra/samconfig.toml; YES=1 asks nothing, PARAMS='Name=value ...' sets others), then sam build (rust-cargolambda, arm64) and sam deploy
	$(PY) scripts/deploy.py

clean: ## remove build output (keeps the venv)
	cargo clean
	rm -rf infra/.aws-sam
