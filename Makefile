# spoke-batches: `make run` runs the main job, `make test` runs the tests. Both build what is
# missing first, including the wasm32-wasip2 target.

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
CARGO ?= cargo
export CARGO_TARGET_DIR ?= $(CURDIR)/target

# Strategy components go to strategies/dist/<name>.wasm, the folder the host loads by default.
DIST := strategies/dist
GUEST_OUT := $(CARGO_TARGET_DIR)/wasm32-wasip2/guest
STRATEGIES := $(patsubst strategies/%/Cargo.toml,%,$(wildcard strategies/*/Cargo.toml))
TEST_COMPONENTS := $(patsubst tests/components/%/Cargo.toml,%,$(wildcard tests/components/*/Cargo.toml))
# JavaScript and TypeScript strategies (strategies/<name>/package.json) build into the same
# folder with the JavaScript template's toolchain (strategies/js-vetted-texters/build.mjs). The
# tests also take them, and the JavaScript test components, from JS_OUT.
JS_STRATEGIES := $(patsubst strategies/%/package.json,%,$(wildcard strategies/*/package.json))
JS_TEST_COMPONENTS := $(patsubst tests/components/%/package.json,%,$(wildcard tests/components/*/package.json))
JS_BUILD := strategies/js-vetted-texters/build.mjs
JS_OUT := $(CARGO_TARGET_DIR)/js-strategies
# The bridge's end-to-end test serves the Rust strategies only: the debug host takes 25-60 s to
# compile each JavaScript component, which the e2e test does not exercise.
RUST_ONLY := $(CARGO_TARGET_DIR)/rust-strategies
HOST := $(CARGO_TARGET_DIR)/release/spoke-batches

# The main job's database and address (override on the command line: make run LISTEN=...).
DATABASE_URL ?= sqlite://spoke-batches.sqlite
LISTEN ?= 127.0.0.1:8080
DEMO_CONTACTS ?= 5000
# The demo campaign is small: its progress is counted every 2 s (the service's default is 30 s), so
# the dashboard follows each batch requested with the printed curl.
PROGRESS_INTERVAL_MS ?= 2000

.PHONY: all build host strategies rust-strategies js-install js-strategies test-components bridge-deps test lint run dev seed bench toolchain check-names clean

all: build

build: strategies host

toolchain:
	@rustup target list --installed | grep -qx wasm32-wasip2 || rustup target add wasm32-wasip2

# The directory, the package name and name() must agree; name() returns the package name, so
# checking the first two here catches a copied template before cargo's own complaint.
check-names:
	@for manifest in strategies/*/Cargo.toml; do \
	  dir=$$(basename "$$(dirname "$$manifest")"); \
	  package=$$(sed -n 's/^name *= *"\(.*\)"/\1/p' "$$manifest" | head -n 1); \
	  if ! [[ "$$dir" =~ ^[a-z][a-z0-9]*(-[a-z0-9]+)*$$ ]]; then \
	    echo "error: strategies/$$dir: a strategy name uses lowercase letters, digits and single '-', starting with a letter; rename the directory" >&2; exit 1; \
	  fi; \
	  if [ "$$package" != "$$dir" ]; then \
	    echo "error: $$manifest names the package \"$$package\" but its directory is \"$$dir\": set name = \"$$dir\" in $$manifest (the directory, the package name and name() must agree)" >&2; exit 1; \
	  fi; \
	done

strategies: rust-strategies js-install
	@for name in $(JS_STRATEGIES); do node $(JS_BUILD) --package "strategies/$$name" $(DIST) || exit 1; done
	@for file in $(DIST)/*.wasm; do name=$$(basename "$$file" .wasm); [ -d "strategies/$$name" ] || rm -f "$$file"; done
	@echo "strategies built into $(DIST)/: $(STRATEGIES) $(JS_STRATEGIES)"

# The Rust strategies only (make dev's rebuild on save; its JavaScript watcher builds the rest).
rust-strategies: toolchain check-names
	$(CARGO) build --profile guest --target wasm32-wasip2 $(addprefix -p ,$(STRATEGIES))
	@mkdir -p $(DIST)
	@for name in $(STRATEGIES); do cp "$(GUEST_OUT)/$${name//-/_}.wasm" "$(DIST)/$$name.wasm.tmp" && mv "$(DIST)/$$name.wasm.tmp" "$(DIST)/$$name.wasm"; done

# Each JavaScript or TypeScript package with a lockfile installs what it pins (npm ci, offline
# from npm's cache after the first time) when the lockfile changed since the last install.
define npm_ci_each
for dir in $(1); do \
  if [ -f "$$dir/package-lock.json" ]; then \
    ( cd "$$dir" && \
      { [ node_modules/.package-lock.json -nt package-lock.json ] || npm ci --no-audit --no-fund --prefer-offline --loglevel=error; } ) \
    || exit 1; \
  fi; \
done
endef

js-install:
	@$(call npm_ci_each,$(addprefix strategies/,$(JS_STRATEGIES)))

# For the tests: the JavaScript and TypeScript strategies as make strategies built them, and the
# JavaScript test components (tests/components/<name>/package.json; qjs-vetted-texters is the
# template built with componentize-qjs), in JS_OUT. build.mjs skips a component newer than its
# sources.
js-strategies: strategies
	@mkdir -p $(JS_OUT)
	@for name in $(JS_STRATEGIES); do cp -p "$(DIST)/$$name.wasm" "$(JS_OUT)/$$name.wasm"; done
	@$(call npm_ci_each,$(addprefix tests/components/,$(JS_TEST_COMPONENTS)))
	@for package in $(addprefix tests/components/,$(JS_TEST_COMPONENTS)); do \
	  node $(JS_BUILD) --package "$$package" "$(JS_OUT)" || exit 1; \
	done

test-components: toolchain
	$(CARGO) build --profile guest --target wasm32-wasip2 $(addprefix -p ,$(TEST_COMPONENTS))

host:
	$(CARGO) build --release -p spoke-batches

# The Spoke bridge (bridge/spoke/, JavaScript): its dependencies come from the lockfile.
bridge-deps:
	cd bridge/spoke && npm ci --no-audit --no-fund --loglevel=error

# Rust tests, then the bridge's unit tests, then its end-to-end test against the debug binary
# the Rust tests built, serving the Rust strategies (on PostgreSQL from TEST_DATABASE_URL; skipped
# without it, except CI).
test: strategies test-components js-strategies bridge-deps
	SPOKE_BATCHES_GUEST_DIR="$(GUEST_OUT)" SPOKE_BATCHES_JS_DIR="$(JS_OUT)" $(CARGO) test -p spoke-batches
	cd bridge/spoke && node --test test/*.test.js
	@rm -rf "$(RUST_ONLY)" && mkdir -p "$(RUST_ONLY)" && for name in $(STRATEGIES); do cp "$(DIST)/$$name.wasm" "$(RUST_ONLY)/"; done
	cd bridge/spoke && SPOKE_BATCHES_BIN="$(CARGO_TARGET_DIR)/debug/spoke-batches" SPOKE_BATCHES_STRATEGIES="$(RUST_ONLY)" \
	  node --test --test-timeout=600000 e2e/bridge.e2e.test.js

lint: toolchain
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --no-deps -p spoke-batches

# The main job: seed a demo into the embedded SQLite database when it is empty, then serve it
# with hot reload. Ctrl-C stops it.
run: build
	@$(HOST) --database-url "$(DATABASE_URL)" seed --if-empty --contacts $(DEMO_CONTACTS)
	$(HOST) --database-url "$(DATABASE_URL)" --strategies $(DIST) serve --listen $(LISTEN) \
	  --progress-interval-ms $(PROGRESS_INTERVAL_MS)

# Like run, and saving a strategy's source rebuilds it; the running service serves the new
# version within seconds. The service rebuilds the Rust strategies (make rust-strategies) and
# compiles only the functions a rebuilt component changed (--incremental-compile); one node
# process watches the JavaScript and TypeScript packages and rebuilds each on save with the
# toolchain kept loaded (build.mjs --watch). Ctrl-C stops both.
dev: build
	@$(HOST) --database-url "$(DATABASE_URL)" seed --if-empty --contacts $(DEMO_CONTACTS)
	@node $(JS_BUILD) --watch $(DIST) & watcher=$$!; trap 'kill $$watcher 2>/dev/null' EXIT; \
	$(HOST) --database-url "$(DATABASE_URL)" --strategies $(DIST) serve --listen $(LISTEN) \
	  --progress-interval-ms $(PROGRESS_INTERVAL_MS) --rebuild-command "$(MAKE) --no-print-directory rust-strategies" \
	  --incremental-compile

# The benchmark suite (release builds); writes bench/RESULTS.md from each benchmark's table.
# PostgreSQL comes from BENCH_DATABASE_URL (default: the local server); each benchmark seeds its
# own schema with `spoke-batches seed` and drops it at the end.
bench: strategies js-strategies
	@rm -rf bench/out
	# One at a time, the database-free one first: each starts on a quiet machine.
	$(CARGO) bench -p spoke-batches --bench sandbox
	$(CARGO) bench -p spoke-batches --bench assign
	$(CARGO) bench -p spoke-batches --bench holdings
	$(CARGO) bench -p spoke-batches --bench service
	$(CARGO) bench -p spoke-batches --bench dashboard
	SPOKE_BATCHES_JS_DIR="$(JS_OUT)" $(CARGO) bench -p spoke-batches --bench javascript
	$(CARGO) bench -p spoke-batches --bench dev_loop
	# 8. The Spoke bridge: bridged requests against Spoke's own query sequence (release binary).
	$(MAKE) --no-print-directory host bridge-deps
	cd bridge/spoke && SPOKE_BATCHES_BIN="$(HOST)" \
	  BENCH_DATABASE_URL="$${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/test}" node bench/bridged.js $(CURDIR)/bench/out/8-bridge.md
	@{ echo "# Benchmark results"; echo; \
	   echo "Machine: $$(nproc) cores, $$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $$(free -g | awk '/^Mem/ {print $$2}') GiB; $$(date -u '+%Y-%m-%d %H:%M UTC'); $$(rustc --version)."; \
	   for section in $$(ls bench/out/*.md | sort -V) bench/decisions.md; do echo; cat "$$section"; done; } > bench/RESULTS.md
	@echo "wrote bench/RESULTS.md"

# A larger demo: make seed DATABASE_URL=postgres://... DEMO_CONTACTS=1000000
seed: host
	$(HOST) --database-url "$(DATABASE_URL)" seed --contacts $(DEMO_CONTACTS)

clean:
	$(CARGO) clean
	rm -rf $(DIST)
