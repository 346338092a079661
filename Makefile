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

# C libraries the package links (GMP for exact big integers, SQLite for the durable state). zlib1g-dev only for the
# test bundle's link: swift-nio-extras asks for -lz, but fibd deflates with the zlib copy inside that package, and
# fibd's own link finds an empty libz.so first (scripts/no-system-zlib, see Package.swift), so it does not load libz. No libsystemd: FibSystemd speaks sd_notify, socket
# activation and journald's protocols itself, so that neither the daemon nor each worker loads libsystemd and the
# libraries it pulls in (libgcrypt, liblz4, libzstd...).
DEB_PACKAGES := libgmp-dev zlib1g-dev libsqlite3-dev
# The browser tests drive Debian's chromium through its chromedriver (nothing downloaded at test time).
BROWSER_DEB_PACKAGES := chromium chromium-driver
# What packaging needs: man page lint, the .deb and its dependencies, the systemd container tests. libsystemd-dev,
# manpages-dev and curl only for their man pages: the lint test resolves fibd(8)'s cross references (sd_notify(3),
# sd_listen_fds(3), posix_spawn(3), flock(2), curl(1)) against the system's pages; fibd links no libsystemd.
PACKAGING_DEB_PACKAGES := mandoc dpkg-dev systemd-container debootstrap libsystemd-dev manpages-dev curl
PY_MODULES := pytest openapi_spec_validator selenium schemathesis
# schemathesis fuzzes the API from its OpenAPI document (Tests/e2e/test_fuzz.py); pinned so its checks do not drift.
PY_PACKAGES := pytest openapi-spec-validator selenium schemathesis==4.32.5

# The house style (4-space indent, 120 columns) when the repository carries no .swift-format of its own.
SWIFT_FORMAT_CONFIG := $(if $(wildcard .swift-format),.swift-format,{"version":1,"indentation":{"spaces":4},"lineLength":120})

DEBUG_BINARY := $(CURDIR)/.build/debug/fibd
RELEASE_BINARY := $(CURDIR)/.build/release/fibd

.PHONY: all deps build release run test lint unit e2e assets browser-test packaging-test systemd-test install install-files deb clean \
    bench bench-smoke bench-deps

# Where `make install` puts things: PREFIX=/usr for a system install; DESTDIR stages it (packages).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
SYSCONFDIR ?= /etc
# systemd reads units from /usr/local/lib/systemd/system too; Debian's own are in /lib/systemd/system.
UNITDIR ?= $(if $(filter /usr,$(PREFIX)),/lib/systemd/system,$(PREFIX)/lib/systemd/system)
DEB_DIR := $(CURDIR)/.build/deb
# The binary `make install` copies (tests install the debug one).
INSTALL_BINARY ?= $(RELEASE_BINARY)

all: build

## deps: install only what is missing (Debian packages as root or with sudo, Python packages with pip).
deps:
	@missing=""; \
	for pkg in $(DEB_PACKAGES) $(PACKAGING_DEB_PACKAGES) $(BROWSER_DEB_PACKAGES); do \
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

## packaging-test: the units (systemd-analyze verify and security), the man pages (mandoc lint, every option).
packaging-test: build deb
	FIBD_BINARY=$(DEBUG_BINARY) FIBD_DEB=$(DEB_DIR)/fibd.deb $(PYTHON) -m pytest -q -p no:cacheprovider Tests/packaging

## systemd-test: the .deb under a real systemd (PID 1 in a container booted with systemd-nspawn).
systemd-test: deb
	FIBD_DEB=$(DEB_DIR)/fibd.deb $(PYTHON) -m pytest -q -p no:cacheprovider Tests/systemd

## test: lint, unit tests, end-to-end tests, packaging checks, the .deb under systemd.
test: deps lint build
	$(SWIFT) test --skip-build
	FIBD_BINARY=$(DEBUG_BINARY) $(PYTHON) -m pytest -q -p no:cacheprovider Tests/e2e
	$(MAKE) --no-print-directory browser-test packaging-test systemd-test bench-smoke

## bench: fibd (release build) against the Dask peer, every scenario, in one run; writes bench/RESULTS.md.
## `make bench QUICK=1` is a short run (under two minutes), written to bench/RESULTS-quick.md. See bench/README.md.
BENCH_VENV := $(CURDIR)/bench/.venv
BENCH_PYTHON := $(BENCH_VENV)/bin/python
bench: release bench-deps
	$(BENCH_PYTHON) bench/bench.py $(if $(QUICK),--quick) --fibd $(RELEASE_BINARY)

## bench-smoke: one iteration of each scenario against the debug build, no figures checked (part of make test).
bench-smoke: build bench-deps
	$(BENCH_PYTHON) bench/bench.py --smoke --fibd $(DEBUG_BINARY)

## bench-deps: wrk from Debian and the peer's virtual environment (bench/.venv, pinned), only when missing.
bench-deps:
	@missing=""; command -v wrk >/dev/null 2>&1 || missing="wrk"; \
	$(PYTHON) -c 'import ensurepip, venv' >/dev/null 2>&1 || missing="$$missing python3-venv"; \
	if [ -n "$$missing" ]; then \
	    if [ "$$(id -u)" -eq 0 ]; then sudo=""; else sudo="sudo"; fi; \
	    echo "bench: installing$$missing"; \
	    $$sudo apt-get update && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends $$missing; \
	fi
	@if ! cmp -s bench/requirements.txt $(BENCH_VENV)/requirements.installed; then \
	    echo "bench: installing the peer into $(BENCH_VENV)"; \
	    [ -x $(BENCH_PYTHON) ] || $(PYTHON) -m venv $(BENCH_VENV); \
	    $(BENCH_PYTHON) -m pip install --quiet --disable-pip-version-check -r bench/requirements.txt; \
	    cp bench/requirements.txt $(BENCH_VENV)/requirements.installed; \
	fi

## assets: compile www/ into Sources/FibServer/Pages/EmbeddedAssets.swift (the e2e tests fail while it is stale).
assets:
	$(PYTHON) scripts/embed-www.py

## browser-test: the pages in headless chromium (screenshots in test-output/).
browser-test: deps build
	FIBD_BINARY=$(DEBUG_BINARY) $(PYTHON) -m pytest -q -p no:cacheprovider Tests/browser

## install: the release binary, the units, the man pages and (unless one is there) the config file.
install: release install-files

# Paths in the units follow BINDIR and SYSCONFDIR.
install-files:
	test -x $(INSTALL_BINARY) || { echo "install: no $(INSTALL_BINARY); run make release" >&2; exit 1; }
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	    $(DESTDIR)$(SYSCONFDIR)/fibd
	install -m 755 $(INSTALL_BINARY) $(DESTDIR)$(BINDIR)/fibd
	for unit in fibd.socket fibd.service; do \
	    sed -e 's|/usr/bin/fibd|$(BINDIR)/fibd|g' -e 's|/etc/fibd/fibd.conf|$(SYSCONFDIR)/fibd/fibd.conf|g' \
	        packaging/$$unit > $(DESTDIR)$(UNITDIR)/$$unit.tmp; \
	    chmod 644 $(DESTDIR)$(UNITDIR)/$$unit.tmp; mv $(DESTDIR)$(UNITDIR)/$$unit.tmp $(DESTDIR)$(UNITDIR)/$$unit; \
	done
	install -m 644 man/fibd.8 $(DESTDIR)$(MANDIR)/man8/fibd.8
	install -m 644 man/fibd.conf.5 $(DESTDIR)$(MANDIR)/man5/fibd.conf.5
	if [ -e $(DESTDIR)$(SYSCONFDIR)/fibd/fibd.conf ]; then \
	    echo "install: keeping $(DESTDIR)$(SYSCONFDIR)/fibd/fibd.conf"; \
	else install -m 644 packaging/fibd.conf $(DESTDIR)$(SYSCONFDIR)/fibd/fibd.conf; fi

## deb: .build/deb/fibd_VERSION_ARCH.deb (and the link .build/deb/fibd.deb), from a staged install with
## PREFIX=/usr; Depends come from the libraries the binary really loads (dpkg-shlibdeps).
# A binary with packed relative relocations (DT_RELR, Package.swift) needs glibc 2.36's loader, which
# dpkg-shlibdeps does not see (no symbol of that version is used): the libc6 minimum is raised by hand.
deb: release
	version=$$($(RELEASE_BINARY) --version | awk '{print $$2}'); \
	arch=$$(dpkg --print-architecture); \
	stage=$(DEB_DIR)/fibd_$${version}_$${arch}; \
	rm -rf "$$stage" && mkdir -p "$$stage/DEBIAN"; \
	$(MAKE) --no-print-directory install-files DESTDIR="$$stage" PREFIX=/usr UNITDIR=/lib/systemd/system >/dev/null; \
	strip --strip-unneeded --remove-section=.comment --remove-section=.note "$$stage/usr/bin/fibd"; \
	gzip -9n "$$stage/usr/share/man/man8/fibd.8" "$$stage/usr/share/man/man5/fibd.conf.5"; \
	install -d "$$stage/usr/share/doc/fibd"; \
	printf 'fibd\n\nCopyright: the fibd developers.\n' > "$$stage/usr/share/doc/fibd/copyright"; \
	chmod 644 "$$stage/usr/share/doc/fibd/copyright"; \
	mkdir -p $(DEB_DIR)/shlibdeps/debian; \
	printf 'Source: fibd\n\nPackage: fibd\nArchitecture: any\n' > $(DEB_DIR)/shlibdeps/debian/control; \
	depends=$$(cd $(DEB_DIR)/shlibdeps && dpkg-shlibdeps -O "$$stage/usr/bin/fibd" | sed -n 's/^shlibs:Depends=//p'); \
	[ -n "$$depends" ] || { echo "deb: dpkg-shlibdeps found no dependencies" >&2; exit 1; }; \
	if readelf -V "$$stage/usr/bin/fibd" | grep -q GLIBC_ABI_DT_RELR; then \
	    depends=$$(printf '%s' "$$depends" | sed -E 's/libc6 \(>= [^)]*\)/libc6 (>= 2.36)/'); \
	fi; \
	size=$$(du -sk --exclude=DEBIAN "$$stage" | cut -f1); \
	sed -e "s/@VERSION@/$$version/" -e "s/@ARCH@/$$arch/" -e "s/@INSTALLED_SIZE@/$$size/" \
	    -e "s/@DEPENDS@/$$depends/" packaging/debian/control.in > "$$stage/DEBIAN/control"; \
	install -m 644 packaging/debian/conffiles "$$stage/DEBIAN/conffiles"; \
	install -m 755 packaging/debian/postinst packaging/debian/prerm packaging/debian/postrm "$$stage/DEBIAN/"; \
	(cd "$$stage" && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' \
	    | sort -z | xargs -0 md5sum) > "$$stage/DEBIAN/md5sums"; \
	dpkg-deb --root-owner-group -Zxz --build "$$stage" $(DEB_DIR)/fibd_$${version}_$${arch}.deb; \
	ln -sfn fibd_$${version}_$${arch}.deb $(DEB_DIR)/fibd.deb; \
	echo "deb: Depends: $$depends"

clean:
	$(SWIFT) package clean
	rm -rf .build Tests/e2e/__pycache__ Tests/browser/__pycache__ test-output Tests/e2e/.pytest_cache .pytest_cache
