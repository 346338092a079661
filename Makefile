# fibd: `make run` builds a release binary and serves on 127.0.0.1:8787; `make test` runs every test.
# Works on a fresh Debian 12 with the Swift toolchain in /opt/swift (put on PATH here if it is not already).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := build

SWIFT_TOOLCHAIN_BIN ?= /opt/swift/usr/bin
ifeq ($(shell command -v swift 2>/dev/null),)
export PATH := $(SWIFT_TOOLCHAIN_BIN):$(PATH)
endif

SWIFT ?= swift
PYTHON ?= python3
LISTEN ?= 127.0.0.1:8787

# C libraries the package links (GMP for exact big integers, zlib for HTTP compression) and the e2e tests' Python.
DEB_PACKAGES := libgmp-dev zlib1g-dev
PY_MODULES := pytest openapi_spec_validator
PY_PACKAGES := pytest openapi-spec-validator

# The house style (4-space indent, 120 columns) when the repository carries no .swift-format of its own.
SWIFT_FORMAT_CONFIG := $(if $(wildcard .swift-format),.swift-format,{"version":1,"indentation":{"spaces":4},"lineLength":120})

DEBUG_BINARY := $(CURDIR)/.build/debug/fibd
RELEASE_BINARY := $(CURDIR)/.build/release/fibd

.PHONY: all deps build release run test lint unit e2e clean

all: build

## deps: install only what is missing (Debian packages as root or with sudo, Python packages with pip).
deps:
	@missing=""; \
	for pkg in $(DEB_PACKAGES); do \
	    dpkg -s "$$pkg" >/dev/null 2>&1 || missing="$$missing $$pkg"; \
	done; \
	command -v $(PYTHON) >/dev/null 2>&1 || missing="$$missing python3"; \
	if ! $(PYTHON) -m pip --version >/dev/null 2>&1; then missing="$$missing python3-pip"; fi; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" -eq 0 ]; then sudo=""; \
	    elif command -v sudo >/dev/null 2>&1; then sudo="sudo"; \
	    else echo "deps: need root or sudo to install:$$missing" >&2; exit 1; fi; \
	    echo "deps: installing$$missing"; \
	    $$sudo apt-get update; \
	    $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi; \
	if ! $(PYTHON) -c 'import $(subst $() ,$(comma),$(PY_MODULES))' >/dev/null 2>&1; then \
	    echo "deps: installing Python packages $(PY_PACKAGES)"; \
	    $(PYTHON) -m pip install --quiet $(PY_PACKAGES) \
	        || $(PYTHON) -m pip install --quiet --break-system-packages $(PY_PACKAGES); \
	fi; \
	command -v $(SWIFT) >/dev/null 2>&1 || { echo "deps: no swift on PATH (looked in $(SWIFT_TOOLCHAIN_BIN) too)" >&2; exit 1; }

comma := ,

## build: debug build of everything, tests included.
build: deps
	$(SWIFT) build --build-tests

## release: optimised binary with the Swift runtime linked in (the worker starts faster and smaller).
release: deps
	$(SWIFT) build -c release --static-swift-stdlib

## run: serve in the foreground on $(LISTEN).
run: release
	exec $(RELEASE_BINARY) --listen $(LISTEN)

## lint: swift-format, strict.
lint:
	$(SWIFT) format lint --strict --configuration '$(SWIFT_FORMAT_CONFIG)' -r Sources Tests Package.swift

## unit: Swift Testing and XCTest.
unit: build
	$(SWIFT) test --skip-build

## e2e: the real binary over real sockets.
e2e: build
	FIBD_BINARY=$(DEBUG_BINARY) $(PYTHON) -m pytest -q -p no:cacheprovider Tests/e2e

## test: lint, unit tests, end-to-end tests.
test: deps lint build
	$(SWIFT) test --skip-build
	FIBD_BINARY=$(DEBUG_BINARY) $(PYTHON) -m pytest -q -p no:cacheprovider Tests/e2e

clean:
	$(SWIFT) package clean
	rm -rf .build Tests/e2e/__pycache__ Tests/e2e/.pytest_cache .pytest_cache
