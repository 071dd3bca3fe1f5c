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
# The tests serve real frameworks from Debian's packages, and run the
# gateways behind real front servers (nginx, lighttpd).
TEST_PACKAGES  := python3-flask python3-django nginx-light lighttpd iproute2
# The benchmark runs the other servers and the load generator.
BENCH_PACKAGES := wrk util-linux procps uwsgi-core uwsgi-plugin-python3 python3-gunicorn python3-waitress

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
LDFLAGS_PYTHON := -X github.com/gowsgi/gowsgi.pythonLibDir=$(PYTHON_LIBDIR)
ifeq ($(filter /usr/lib% /lib% /usr/local/lib%,$(PYTHON_LIBDIR)),)
LDFLAGS_PYTHON += -r $(PYTHON_LIBDIR)
endif

.PHONY: all build serve test bench deps test-deps bench-deps check-go check-python clean

all: build

build: deps
	$(GO) build $(GOFLAGS_PYTHON) -ldflags "$(LDFLAGS_PYTHON)" -o $(BIN) ./cmd/gowsgi

serve: build
	./$(BIN) demo

test: deps test-deps
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet $(GOFLAGS_PYTHON) ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 $(GOFLAGS_PYTHON) ./...
	$(GO) test $(GOFLAGS_PYTHON) -race -timeout 30m ./...

bench: build bench-deps
	./bench/run -out docs/benchmarks.md

deps: check-go
	@scripts/ensure-packages $(BUILD_PACKAGES)
	@$(MAKE) --no-print-directory check-python

test-deps:
	@scripts/ensure-packages $(TEST_PACKAGES)

bench-deps:
	@scripts/ensure-packages $(BENCH_PACKAGES)

check-go:
	@command -v $(GO) >/dev/null 2>&1 || { echo "gowsgi needs Go 1.26 or newer with cgo: https://go.dev/dl/"; exit 1; }

check-python:
	@pkg-config --exists $(PYTHON_PC) || { \
		echo "pkg-config cannot find $(PYTHON_PC).pc: install the Python development files"; \
		echo "(Debian/Ubuntu: apt-get install python3-dev pkg-config), or set PKG_CONFIG_PATH"; \
		echo "to the directory holding your Python's $(PYTHON_PC).pc"; exit 1; }

clean:
	rm -rf bin
