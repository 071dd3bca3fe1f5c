# gowsgi: `make serve` builds and serves the demo application on
# http://127.0.0.1:8000; `make test` runs the whole test suite. Both install
# the Debian packages they need when run as root (else they print the
# command to run).

GO        ?= go
BIN       := bin/gowsgi
# The Python to embed, as a pkg-config name: python3-embed is the system's
# default Python 3; e.g. PYTHON_PC=python-3.12-embed picks another one.
PYTHON_PC ?= python3-embed

# Building needs a C compiler and the Python development files.
BUILD_PACKAGES := gcc libc6-dev pkg-config python3-dev
# The tests serve real frameworks from Debian's packages and their current
# releases from PyPI (virtualenvs: python3-venv), and run the gateways behind
# real front servers (nginx, lighttpd). PYTHON_BUILD_PACKAGES build the newer
# Python that Django 6 needs.
PYTHON_BUILD_PACKAGES := make xz-utils libssl-dev libffi-dev zlib1g-dev libsqlite3-dev libbz2-dev liblzma-dev uuid-dev
TEST_PACKAGES  := curl python3-flask python3-django nginx-light lighttpd iproute2 python3-venv $(PYTHON_BUILD_PACKAGES)
# make test-sanitize builds against Debian's debug Python (Py_DEBUG) with
# ASan and UBSan (docs/reliability.md).
SANITIZE_PACKAGES := python3.11-dbg libpython3.11-dbg
# The benchmark runs the other servers (uWSGI from Debian, the rest from
# PyPI in a virtualenv) and the load generators (wrk; oha, built with cargo,
# for Granian's own method).
BENCH_PACKAGES := wrk util-linux procps uwsgi-core uwsgi-plugin-python3 python3-venv

# The frameworks' current releases (testdata/frameworks/requirements-*.txt)
# run on Debian's Python 3.11 and on Python $(NEW_PYTHON), built from the
# source package of Debian $(NEW_PYTHON_SUITE) into bin/ (Django 6 needs
# Python 3.12 or newer), each in a virtualenv under bin/ kept between runs.
# cmd/gowsgi's frameworks tests expect them at these paths.
NEW_PYTHON       := 3.13
NEW_PYTHON_SUITE := trixie
NEW_PYTHON_DIR   := bin/python$(NEW_PYTHON)
# The benchmark's servers and Flask (bench/requirements.txt), and oha.
BENCH_VENV       := bin/venv-bench
OHA_VERSION      := 1.16.0

ifeq ($(PYTHON_PC)$(PKG_CONFIG_PATH),python3-embed)
GOFLAGS_PYTHON :=
else
# Another Python (another .pc name, or PKG_CONFIG_PATH): give cgo its flags
# instead of the built-in pkg-config line. Go's build cache keys on
# CGO_CFLAGS and CGO_LDFLAGS, not on PKG_CONFIG_PATH, so this also keeps
# a build for one Python from reusing objects compiled for another.
export CGO_CFLAGS  := -O2 -g $(shell pkg-config --cflags $(PYTHON_PC) 2>/dev/null)
export CGO_LDFLAGS := -O2 -g $(shell pkg-config --libs $(PYTHON_PC) 2>/dev/null)
GOFLAGS_PYTHON := -tags gowsgi_python_flags
endif

# The directory of the embedded Python's libpython: gowsgi checks at start
# that the library it loaded is from there, and for a Python outside the
# system's library directories (pyenv, conda, /opt) the binary's run path
# points there, so the dynamic loader does not take the system's libpython
# of the same name instead.
PYTHON_LIBDIR := $(shell pkg-config --variable=libdir $(PYTHON_PC) 2>/dev/null)
LDFLAGS_PYTHON := -X github.com/gowsgi/gowsgi/internal/core.pythonLibDir=$(PYTHON_LIBDIR)
ifeq ($(filter /usr/lib% /lib% /usr/local/lib%,$(PYTHON_LIBDIR)),)
LDFLAGS_PYTHON += -r $(PYTHON_LIBDIR)
endif

.PHONY: all build serve test fuzz test-sanitize bench soak deps test-deps bench-deps frameworks bench-venv check-go check-python clean

all: build

build: deps
	$(GO) build $(GOFLAGS_PYTHON) -ldflags "$(LDFLAGS_PYTHON)" -o $(BIN) ./cmd/gowsgi

serve: build
	./$(BIN) demo

test: deps test-deps frameworks
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(GOFLAGS_PYTHON) ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(GOFLAGS_PYTHON) ./...
	@# -count=1: the servers the tests start read testdata's Python files
	@# and a gowsgi built apart, which Go's test cache does not see change.
	$(GO) test $(GOFLAGS_PYTHON) -race -count=1 -timeout 30m ./...

# make fuzz runs each fuzz target for $(FUZZTIME), one after another
# (scripts/fuzz); what a target finds stays in its package's
# testdata/fuzz/ as a failing input. The engine's target needs the build
# (Python).
FUZZTIME ?= 1m
FUZZ_TARGETS := .:FuzzEngine internal/h1:FuzzParse internal/h1:FuzzHeadEnd internal/h1:FuzzChunked \
	internal/fcgi:FuzzReader internal/fcgi:FuzzParams internal/uwsgi:FuzzVars internal/proxyproto:FuzzHeader \
	internal/core:FuzzEnvironFromCGI internal/core:FuzzRepeats \
	internal/config:FuzzTOML internal/config:FuzzParseInt

fuzz: deps
	scripts/fuzz $(FUZZTIME) $(GO) $(GOFLAGS_PYTHON) -- $(FUZZ_TARGETS)

test-sanitize: deps test-deps
	@scripts/ensure-packages $(SANITIZE_PACKAGES)
	scripts/test-sanitize

# make bench BASELINE=COMMIT also runs gowsgi as built from that commit
# beside the current one, to show what the changes since cost or gain.
bench: build bench-deps bench-venv bin/oha/bin/oha
ifneq ($(BASELINE),)
	./bench/build-baseline $(BASELINE) bin/gowsgi-before
	./bench/run -out docs/benchmarks.md -baseline bin/gowsgi-before -baseline-name $(BASELINE)
else
	./bench/run -out docs/benchmarks.md
endif
	./bench/granian-method -out docs/granian-method.md

# make soak: gowsgi under a mixed load (bench/soak) with a HUP every 2
# minutes and a kill -9 every 5 for SOAK_DURATION; it fails on a request
# lost beyond a killed worker's, memory that grows, descriptors that leak.
# Workers replaced every 2 minutes never live long enough for a memory
# slope to mean anything, so the same load runs again for
# SOAK_LONG_DURATION without HUP or kill: its workers' slopes are bounded.
# docs/reliability.md has a run.
SOAK_DURATION ?= 30m
SOAK_LONG_DURATION ?= $(SOAK_DURATION)
soak: build
	@scripts/ensure-packages python3-flask
	$(GO) build -o bin/soak ./bench/soak
	./bin/soak -duration $(SOAK_DURATION)
	./bin/soak -duration $(SOAK_LONG_DURATION) -hup 0 -kill 0

deps: check-go
	@scripts/ensure-packages $(BUILD_PACKAGES)
	@$(MAKE) --no-print-directory check-python

test-deps:
	@scripts/ensure-packages $(TEST_PACKAGES)

bench-deps:
	@scripts/ensure-packages $(BENCH_PACKAGES)

# PyPI's releases of Flask, Django and Falcon for the tests, and the
# Python $(NEW_PYTHON) they also run on; each step fails in one line when its
# registry cannot be reached.
frameworks: test-deps
	@scripts/make-venv /usr/bin/python3 bin/venv-frameworks-3.11 testdata/frameworks/requirements-3.11.txt
	@scripts/build-python $(NEW_PYTHON) $(NEW_PYTHON_SUITE) $(NEW_PYTHON_DIR)
	@scripts/make-venv $(NEW_PYTHON_DIR)/bin/python$(NEW_PYTHON) bin/venv-frameworks-$(NEW_PYTHON) testdata/frameworks/requirements-$(NEW_PYTHON).txt

bench-venv: bench-deps
	@scripts/make-venv /usr/bin/python3 $(BENCH_VENV) bench/requirements.txt

bin/oha/bin/oha:
	@command -v cargo >/dev/null 2>&1 || { echo "the Granian method's load generator oha needs cargo (Rust)"; exit 1; }
	cargo install --locked --root bin/oha oha@$(OHA_VERSION)

check-go:
	@command -v $(GO) >/dev/null 2>&1 || { echo "gowsgi needs Go 1.26 or newer with cgo: https://go.dev/dl/"; exit 1; }

check-python:
	@pkg-config --exists $(PYTHON_PC) || { \
		echo "pkg-config cannot find $(PYTHON_PC).pc: install the Python development files"; \
		echo "(Debian/Ubuntu: apt-get install python3-dev pkg-config), or set PKG_CONFIG_PATH"; \
		echo "to the directory holding your Python's $(PYTHON_PC).pc"; exit 1; }

clean:
	rm -rf bin
