# Build and install mptcpize-rs.
#
#   make                          build (release) and render the man pages and completions
#   make install                  install under PREFIX (default /usr/local)
#   make install PREFIX=/usr DESTDIR=/tmp/stage
#   make uninstall
#   make deb                      build the Debian package (cargo-deb) into target/debian/
#
# The launcher is compiled with MPTCPIZE_LIBDIR=$(PREFIX)/lib/mptcpize-rs, the
# place it looks for the shim when it is not beside it or in ../lib/mptcpize-rs/.
# It is linked statically (crt-static, for this one binary only: the examples
# must stay dynamic to be preloaded): it sits in front of every program it
# starts, and a static launcher skips the dynamic loader's symbol binding,
# two thirds of its start-up (see the README's Benchmarks).
# BUILD=no installs what BUILD_DIR already holds without building (the tests
# use it with their own debug build). The binary and the shim are installed
# stripped (INSTALL_STRIP= keeps their symbols).

PREFIX   ?= /usr/local
DESTDIR  ?=
CARGO    ?= cargo
BUILD    ?= yes
BUILD_DIR ?= target/release
INSTALL_STRIP ?= -s

BINDIR   := $(PREFIX)/bin
LIBDIR   := $(PREFIX)/lib/mptcpize-rs
MANDIR   := $(PREFIX)/share/man/man1
BASHDIR  := $(PREFIX)/share/bash-completion/completions
ZSHDIR   := $(PREFIX)/share/zsh/vendor-completions
FISHDIR  := $(PREFIX)/share/fish/vendor_completions.d
ASSETS   := $(BUILD_DIR)/assets

.PHONY: all build assets install uninstall deb

all: build assets

build:
ifneq ($(BUILD),no)
	MPTCPIZE_LIBDIR=$(LIBDIR) $(CARGO) build --release -p mptcpize-shim -p mptcpize-report
	MPTCPIZE_LIBDIR=$(LIBDIR) $(CARGO) rustc --release -p mptcpize-rs --bin mptcpize-rs -- -C target-feature=+crt-static
endif

# Man pages and completions, rendered by the launcher from its clap definition.
assets: build
	rm -rf $(ASSETS)
	$(BUILD_DIR)/mptcpize-rs generate-assets $(ASSETS)

install: assets
	install -D -m 0755 $(INSTALL_STRIP) $(BUILD_DIR)/mptcpize-rs $(DESTDIR)$(BINDIR)/mptcpize-rs
	install -D -m 0644 $(INSTALL_STRIP) $(BUILD_DIR)/libmptcpize.so $(DESTDIR)$(LIBDIR)/libmptcpize.so
	install -D -m 0644 $(INSTALL_STRIP) $(BUILD_DIR)/libmptcpize_report.so $(DESTDIR)$(LIBDIR)/libmptcpize_report.so
	install -d $(DESTDIR)$(MANDIR)
	install -m 0644 $(ASSETS)/man/*.1 $(DESTDIR)$(MANDIR)/
	install -D -m 0644 $(ASSETS)/completions/mptcpize-rs.bash $(DESTDIR)$(BASHDIR)/mptcpize-rs
	install -D -m 0644 $(ASSETS)/completions/_mptcpize-rs $(DESTDIR)$(ZSHDIR)/_mptcpize-rs
	install -D -m 0644 $(ASSETS)/completions/mptcpize-rs.fish $(DESTDIR)$(FISHDIR)/mptcpize-rs.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mptcpize-rs $(DESTDIR)$(LIBDIR)/libmptcpize.so $(DESTDIR)$(LIBDIR)/libmptcpize_report.so
	-rmdir $(DESTDIR)$(LIBDIR)
	rm -f $(DESTDIR)$(MANDIR)/mptcpize-rs.1 $(DESTDIR)$(MANDIR)/mptcpize-rs-*.1
	rm -f $(DESTDIR)$(BASHDIR)/mptcpize-rs $(DESTDIR)$(ZSHDIR)/_mptcpize-rs $(DESTDIR)$(FISHDIR)/mptcpize-rs.fish

# The package installs to /usr: build for that prefix, then let cargo-deb
# (cargo install cargo-deb) package the files listed in launcher/Cargo.toml.
deb:
	$(MAKE) PREFIX=/usr assets
	gzip -9n -c $(ASSETS)/man/mptcpize-rs.1 > $(ASSETS)/man/mptcpize-rs.1.gz
	for p in $(ASSETS)/man/mptcpize-rs-*.1; do gzip -9n -c $$p > $$p.gz; done
	$(CARGO) deb -p mptcpize-rs --no-build
