# Build and install mptcpize-rs.
#
#   make                          build (release) and render the man pages and completions
#   make install                  install under PREFIX (default /usr/local)
#   make install PREFIX=/usr DESTDIR=/tmp/stage
#   make uninstall
#   make deb                      the Debian package (cargo-deb) in target/debian/
#   make rpm                      the RPM (cargo-generate-rpm) in target/generate-rpm/
#
# The launcher is compiled with MPTCPIZE_LIBDIR=$(PREFIX)/lib/mptcpize-rs, the
# place it looks for the shim when it is not beside it or in ../lib/mptcpize-rs/.
# It is linked statically (crt-static, for this one binary only: the examples
# must stay dynamic to be preloaded): it sits in front of every program it
# starts, and a static launcher skips the dynamic loader's symbol binding,
# two thirds of its start-up (see the README's Benchmarks), and runs on any
# glibc. The preload libraries are linked to load on glibc 2.17+ (see
# preload-link/).
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
# The libraries' private directory (the RPM sets /usr/lib64/mptcpize-rs).
LIBDIR   := $(PREFIX)/lib/mptcpize-rs
MANDIR   := $(PREFIX)/share/man/man1
BASHDIR  := $(PREFIX)/share/bash-completion/completions
ZSHDIR   := $(PREFIX)/share/zsh/vendor-completions
FISHDIR  := $(PREFIX)/share/fish/vendor_completions.d
ASSETS   := $(BUILD_DIR)/assets

# The preload libraries: their cargo packages, and the files they build.
LIB_PACKAGES := mptcpize-shim mptcpize-report
LIBS         := libmptcpize.so libmptcpize_report.so

.PHONY: all build assets install uninstall deb rpm

all: build assets

build:
ifneq ($(BUILD),no)
	$(CARGO) build --release $(addprefix -p ,$(LIB_PACKAGES))
	MPTCPIZE_LIBDIR=$(LIBDIR) $(CARGO) rustc --release -p mptcpize-rs --bin mptcpize-rs -- -C target-feature=+crt-static
endif

# Man pages and completions, rendered by the launcher from its clap definition.
assets: build
	rm -rf $(ASSETS)
	$(BUILD_DIR)/mptcpize-rs generate-assets $(ASSETS)

install: assets
	install -D -m 0755 $(INSTALL_STRIP) $(BUILD_DIR)/mptcpize-rs $(DESTDIR)$(BINDIR)/mptcpize-rs
	install -d $(DESTDIR)$(LIBDIR)
	install -m 0644 $(INSTALL_STRIP) $(addprefix $(BUILD_DIR)/,$(LIBS)) $(DESTDIR)$(LIBDIR)/
	install -d $(DESTDIR)$(MANDIR)
	install -m 0644 $(ASSETS)/man/*.1 $(DESTDIR)$(MANDIR)/
	install -D -m 0644 $(ASSETS)/completions/mptcpize-rs.bash $(DESTDIR)$(BASHDIR)/mptcpize-rs
	install -D -m 0644 $(ASSETS)/completions/_mptcpize-rs $(DESTDIR)$(ZSHDIR)/_mptcpize-rs
	install -D -m 0644 $(ASSETS)/completions/mptcpize-rs.fish $(DESTDIR)$(FISHDIR)/mptcpize-rs.fish

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/mptcpize-rs $(addprefix $(DESTDIR)$(LIBDIR)/,$(LIBS))
	-rmdir $(DESTDIR)$(LIBDIR)
	rm -f $(DESTDIR)$(MANDIR)/mptcpize-rs.1 $(DESTDIR)$(MANDIR)/mptcpize-rs-*.1
	rm -f $(DESTDIR)$(BASHDIR)/mptcpize-rs $(DESTDIR)$(ZSHDIR)/_mptcpize-rs $(DESTDIR)$(FISHDIR)/mptcpize-rs.fish

# The packages hold what `make install` stages under target/package/ for
# /usr (their layouts in launcher/Cargo.toml), man pages compressed.
PKG := target/package

deb:
	rm -rf $(PKG)/deb
	$(MAKE) install PREFIX=/usr DESTDIR=$(CURDIR)/$(PKG)/deb
	gzip -9n $(PKG)/deb/usr/share/man/man1/*.1
	$(CARGO) deb -p mptcpize-rs --no-build --no-strip

# Fedora's layout: the libraries in /usr/lib64/mptcpize-rs (compiled into
# the launcher), zsh completions in site-functions.
rpm:
	rm -rf $(PKG)/rpm
	$(MAKE) install PREFIX=/usr LIBDIR=/usr/lib64/mptcpize-rs \
	    ZSHDIR=/usr/share/zsh/site-functions DESTDIR=$(CURDIR)/$(PKG)/rpm
	gzip -9n $(PKG)/rpm/usr/share/man/man1/*.1
	$(CARGO) generate-rpm -p launcher
