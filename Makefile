# zonehop: the targets a newcomer needs. `make help` lists them.
SHELL := bash
.DEFAULT_GOAL := help

VENV ?= $(CURDIR)/.venv
export ZONEHOP_VENV := $(VENV)
# cargo-lambda runs zig from the same virtualenv.
export PATH := $(VENV)/bin:$(PATH)
CARGO_LAMBDA := $(VENV)/bin/cargo-lambda
# The twelve functions: every folder under functions/ with a binary (core and zonehop are the
# libraries); tests/state_machine.rs holds them to zonehop_core::access::FUNCTION_NAMES, the
# template's functions and the ASL's tasks.
FUNCTIONS := $(sort $(patsubst functions/%/src/main.rs,%,$(wildcard functions/*/src/main.rs)))
LAMBDA_PORT ?= 9000
# make bench-functions: the functions it measures, and its two reference binaries.
BENCH_FNS ?= $(FUNCTIONS)
BENCH_REFS := ref-hello ref-bare-sdk

.PHONY: help setup build build-lambda fmt lint lint-infra test test-unit bench-properties bench-sync bench-verify bench-functions watch invoke rehearse rehearse-fleet deploy

help: ## List the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-14s %s\n", $$1, $$2}'

setup: ## Install what builds and tests need (apt packages, .venv with moto/cargo-lambda/octoDNS, rustup target)
	bash scripts/setup.sh

build: ## Build the workspace (debug)
	cargo build --workspace --all-targets

build-lambda: setup ## Build every function for Lambda (provided.al2023, arm64, release)
	$(CARGO_LAMBDA) lambda build --release --arm64 $(addprefix --bin ,$(FUNCTIONS))

fmt: ## Format the code
	cargo fmt --all

lint: lint-infra ## fmt check + clippy with warnings as errors + the infra linters
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

lint-infra: ## Lint the state machine and both templates (asl-validator, cfn-lint, sam validate; offline)
	bash scripts/lint-infra.sh

test-unit: ## Unit tests of the core and the library (no emulator, no sockets)
	cargo nextest run -p zonehop-core -p zonehop

bench-properties: ## The core's property tests with 20,000 cases each (functions/core/tests/properties.rs)
	PROPTEST_CASES=20000 cargo nextest run --release -p zonehop-core --test properties

test: setup lint ## Everything: fmt, clippy, unit tests, integration tests against moto server and the DNS world
	cargo nextest run --workspace --no-run
	scripts/in-netns cargo nextest run --workspace --no-fail-fast --offline

bench-sync: setup ## Sync a 10,000-record zone on moto; compare with octoDNS in the same run (prints figures)
	cargo bench -p zonehop-tests --bench sync

bench-verify: setup ## verify-zones at 1,000 and 10,000 RRsets on 2x4 knotd servers against dnsperf's ceiling on the same servers, and its API reads against a bare pager (prints figures; BENCH_SIZES=10000, BENCH_RUNS=3, BENCH_IN_FLIGHT=)
	cargo bench -p zonehop-tests --bench verify --no-run
	scripts/in-netns cargo bench -p zonehop-tests --bench verify --offline

bench-functions: setup ## Each function's binary sizes, init, RSS, AssumeRole and connections cold and warm, against two reference binaries; prints figures (BENCH_FNS="a b", BENCH_RUNS=30, BENCH_ARM64=0)
	cargo build -p zonehop-bench-functions
	cargo build --release $(addprefix --bin ,$(BENCH_FNS) $(BENCH_REFS))
	$(if $(filter 0,$(BENCH_ARM64)),,$(CARGO_LAMBDA) lambda build --release --arm64 $(addprefix --bin ,$(BENCH_FNS) $(BENCH_REFS)))
	BENCH_ONLY="$(BENCH_FNS)" BENCH_SKIP_BUILD=1 CARGO_NET_OFFLINE=true scripts/in-netns cargo run -q --offline -p zonehop-bench-functions

watch: setup ## Serve every function on the Lambda Invoke API (127.0.0.1:$(LAMBDA_PORT))
	$(CARGO_LAMBDA) lambda watch -A 127.0.0.1 -P $(LAMBDA_PORT)

invoke: ## Invoke one function on `make watch`: make invoke FN=sync-records
	$(CARGO_LAMBDA) lambda invoke $(FN) -A 127.0.0.1 -P $(LAMBDA_PORT) --data-file tests/events/$(FN).json

rehearse-fleet: setup ## A fleet of domains in one execution of the fleet state machine (N=50 generated zones, or ZONES=dir/ of DOMAIN.json exports; CONCURRENCY=, RATE= requests/s per account emulated, 0: none; PACE= each function's requests/s per account, default 2); prints succeeded/failed/rolled back, calls/s per account, wall vs sum; report in REPORT_DIR (target/rehearsal-fleet)
	cargo build --workspace --bins
	CARGO_NET_OFFLINE=true scripts/in-netns cargo run -q --offline -p zonehop-rehearse --bin rehearse-fleet -- $(if $(ZONES),--zones $(ZONES),--n $(or $(N),10)) $(if $(CONCURRENCY),--concurrency $(CONCURRENCY)) $(if $(RATE),--rate $(RATE)) $(if $(BURST),--burst $(BURST)) $(if $(PACE),--pace $(PACE))

deploy: setup ## Build every function with SAM (cargo lambda, arm64) and deploy the tooling stack
	$(VENV)/bin/sam build -t infra/template.yaml --beta-features
	$(VENV)/bin/sam deploy --guided --capabilities CAPABILITY_IAM CAPABILITY_AUTO_EXPAND

rehearse: setup ## A whole local migration of the example zone through the state machine (ZONE=export.json DOMAIN=... KEEP=a.example.com,b.example.com for your own; REGISTRAR=manual, route53domains or route53zone, else chosen from DOMAIN; FAULTS=a,b,... injects faults, README "Faults"); report in REPORT_DIR (target/rehearsal)
	cargo build --workspace --bins
	CARGO_NET_OFFLINE=true scripts/in-netns cargo run -q --offline -p zonehop-rehearse --bin rehearse -- $(if $(ZONE),--zone $(ZONE)) $(if $(DOMAIN),--domain $(DOMAIN)) $(if $(KEEP),--keep $(KEEP)) $(if $(REGISTRAR),--registrar $(REGISTRAR)) $(if $(REQUEST),--request $(REQUEST)) $(if $(FAULTS),--faults $(FAULTS)) $(if $(AGAIN),--again $(AGAIN))
