# SPDX-License-Identifier: GPL-2.0-only
#
# xenshm: one plain Makefile for the whole tree.
#
#   make            build libraries, programs and tools into $(BUILD)
#   make unit       Check unit tests (fast)
#   make check      unit tests plain, under ASan+UBSan and under valgrind, lint (cppcheck,
#                   clang-tidy), schema doc check, a fuzzing smoke run, the Xen lab
#   make lab-check  the Xen lab alone (boots Xen 4.17 under QEMU)
#   make demo       the main job: the lab demo on real Xen
#   make bench      ring benchmark -> docs/bench/ring.{md,json}
#   make coverage   line coverage of common/
#   make fuzz       libFuzzer harnesses for every guest-facing parser (FUZZ_SECONDS each, 60)
#   make deps       install the Debian packages the build and tests need
#   make install DESTDIR= PREFIX=/usr/local

PREFIX ?= /usr/local
VERSION := 0.1.0
DESTDIR ?=
BUILD ?= build
CC ?= gcc
SAN ?=
COV ?=

PKGS_XEN := xenstore xengnttab xenevtchn xencontrol
XEN_CFLAGS = $(shell pkg-config --cflags $(PKGS_XEN) 2>/dev/null)
XEN_LIBS = $(shell pkg-config --libs $(PKGS_XEN) 2>/dev/null)
CHECK_CFLAGS = $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS = $(shell pkg-config --libs check 2>/dev/null)

CFLAGS ?= -O2 -g
WARN := -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Wno-missing-field-initializers
ALL_CFLAGS := -std=gnu11 $(WARN) -D_GNU_SOURCE -pthread -fPIC \
	-Icommon/include -Ifrontend/include -I$(BUILD)/gen $(CFLAGS)
LDFLAGS ?=
ALL_LDFLAGS := -pthread $(LDFLAGS)

ifneq ($(SAN),)
ALL_CFLAGS += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
ALL_LDFLAGS += -fsanitize=address,undefined
endif
ifneq ($(COV),)
ALL_CFLAGS += --coverage -O0
ALL_LDFLAGS += --coverage
endif

# ---- sources, by layer ----
COMMON_SRCS := common/ring.c common/blkif.c common/chan.c common/ctrl.c common/segdir.c common/xenops_util.c common/xspath.c
FAKE_SRCS := common/xenops_fake.c common/xenops_fake_xs.c common/xenops_fake_gnt.c \
	common/xenops_fake_evtchn.c
REAL_SRCS := common/xenops_real.c
# libxlutil, for the admin CLI only (not the guest library).
XLCFG_SRC := common/xlcfg_real.c
DAEMON_SRCS := dom0/pool.c dom0/policy.c dom0/peers.c dom0/storm.c dom0/lograte.c dom0/envcheck.c dom0/devdirs.c dom0/daemon.c backend/device.c backend/spin.c backend/reclaim.c backend/chan.c \
	backend/mfstore.c backend/pgrant.c backend/memflex.c
FRONT_SRCS := frontend/shm.c frontend/shm_init.c frontend/mempipe.c
SCHEMA_LIB_SRCS := xenstore-schema/schema.c xenstore-schema/match.c
# The admin CLI, shared by the xenshm binary and the unit tests.
CLI_SRCS := tools/cli.c tools/cli_memflex.c tools/cli_create.c tools/cli_move.c tools/cli_schema.c tools/cli_top.c tools/cfgspec.c
SCHEMA_SRC := xenstore-schema/xenshm.schema
UNIT_SRCS := $(wildcard test/unit/*.c)
LAB_TOOL_SRCS := $(wildcard tools/xenlab/src/*.c)
FUZZ_SRCS := $(wildcard test/fuzz/fuzz_*.c)
FUZZ_LIB_SRCS := common/blkif.c common/ring.c common/ctrl.c common/segdir.c common/xenops_util.c dom0/pool.c \
	dom0/peers.c tools/cfgspec.c xenstore-schema/schema.c xenstore-schema/match.c

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

COMMON_LIB := $(BUILD)/lib/libxenshm-common.a
FAKE_LIB := $(BUILD)/lib/libxenshm-fake.a
REAL_LIB := $(BUILD)/lib/libxenshm-xen.a
DAEMON_LIB := $(BUILD)/lib/libxenshmd.a
FRONT_LIB := $(BUILD)/lib/libxenshm.a
FRONT_SONAME := libxenshm.so.0
FRONT_SO := $(BUILD)/lib/libxenshm.so.$(VERSION)
XENSHMD_BIN := $(BUILD)/bin/xenshmd
XENSHM_BIN := $(BUILD)/bin/xenshm
XSGEN := $(BUILD)/bin/xsgen
GEN_HDR := $(BUILD)/gen/xenshm/xspaths.h
# The schema's text, built into xenshm for schema-check.
GEN_SCHEMA_TEXT := $(BUILD)/gen/schema_text.c
GEN_SCHEMA_OBJ := $(BUILD)/obj/gen/schema_text.o
UNIT_BIN := $(BUILD)/test/unit-tests
BENCH_BIN := $(BUILD)/bin/xenshm-bench
PIPEBENCH_BIN := $(BUILD)/bin/mempipe-bench
MEMPIPE_BIN := $(BUILD)/bin/mempipe
LAB_BINS := $(patsubst tools/xenlab/src/%.c,$(BUILD)/lab/%,$(LAB_TOOL_SRCS))

.PHONY: all unit unit-asan check lab-check lab-shell demo bench coverage deps install clean \
	schema-doc schema-doc-check fuzz fuzz-smoke fuzz-seeds unit-valgrind lint install-check
.DELETE_ON_ERROR:

all: $(COMMON_LIB) $(FAKE_LIB) $(REAL_LIB) $(DAEMON_LIB) $(FRONT_LIB) $(FRONT_SO) $(XENSHMD_BIN) $(XENSHM_BIN) \
	$(UNIT_BIN) $(BENCH_BIN) $(PIPEBENCH_BIN) $(MEMPIPE_BIN) $(LAB_BINS)

# ---- generated XenStore path builders ----
$(XSGEN): $(call obj,xenstore-schema/xsgen.c $(SCHEMA_LIB_SRCS))
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^

$(GEN_HDR): $(SCHEMA_SRC) $(XSGEN)
	@mkdir -p $(@D)
	$(XSGEN) header $(SCHEMA_SRC) > $@.tmp && mv $@.tmp $@

$(GEN_SCHEMA_TEXT): $(SCHEMA_SRC) $(XSGEN)
	@mkdir -p $(@D)
	$(XSGEN) ctext $(SCHEMA_SRC) > $@.tmp && mv $@.tmp $@

$(GEN_SCHEMA_OBJ): $(GEN_SCHEMA_TEXT)
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

# Everything that includes xspaths.h must wait for it.
$(call obj,$(COMMON_SRCS) $(DAEMON_SRCS) $(FRONT_SRCS) $(UNIT_SRCS) $(LAB_TOOL_SRCS) \
	dom0/xenshmd.c tools/xenshm.c $(CLI_SRCS)): $(GEN_HDR)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(call obj,$(REAL_SRCS) $(XLCFG_SRC)): ALL_CFLAGS += $(XEN_CFLAGS)
$(call obj,$(UNIT_SRCS)): ALL_CFLAGS += $(CHECK_CFLAGS)

$(COMMON_LIB): $(call obj,$(COMMON_SRCS) $(SCHEMA_LIB_SRCS))
$(FAKE_LIB): $(call obj,$(FAKE_SRCS))
$(REAL_LIB): $(call obj,$(REAL_SRCS))
$(DAEMON_LIB): $(call obj,$(DAEMON_SRCS))
$(FRONT_LIB): $(call obj,$(FRONT_SRCS))
$(BUILD)/lib/%.a:
	@mkdir -p $(@D)
	rm -f $@ && ar rcs $@ $^

$(UNIT_BIN): $(call obj,$(UNIT_SRCS) $(CLI_SRCS) $(XLCFG_SRC) tools/replay.c) $(GEN_SCHEMA_OBJ) \
	  $(DAEMON_LIB) $(FRONT_LIB) $(FAKE_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CHECK_LIBS) -lxlutil

$(BENCH_BIN): $(call obj,tools/bench/bench.c tools/bench/ring_bench.c tools/bench/mempipe_bench.c) \
	  $(DAEMON_LIB) $(FRONT_LIB) $(FAKE_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ -lpthread

# Runs in guests: bound at load time like the lab programs.
# The libxenvchan baseline is the one bench file that sees a Xen header (vchan_transport.h).
$(call obj,tools/bench/vchan_transport.c): ALL_CFLAGS += $(shell pkg-config --cflags xenvchan 2>/dev/null)
$(PIPEBENCH_BIN): $(call obj,tools/bench/pipe_bench.c tools/bench/vchan_transport.c) $(FRONT_LIB) $(REAL_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -Wl,-z,now -o $@ $^ $(XEN_LIBS) $(shell pkg-config --libs xenvchan 2>/dev/null || echo -lxenvchan)

$(MEMPIPE_BIN): $(call obj,tools/mempipe.c tools/replay.c) $(FRONT_LIB) $(REAL_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -Wl,-z,now -o $@ $^ $(XEN_LIBS)

# The guest library, shared: its own code, the real Xen layer and the common parts it uses.
$(FRONT_SO): $(call obj,$(FRONT_SRCS) $(REAL_SRCS) $(COMMON_SRCS))
	@mkdir -p $(@D)
	$(CC) -shared -Wl,-soname,$(FRONT_SONAME) $(ALL_LDFLAGS) -o $@ $^ $(XEN_LIBS)

$(XENSHMD_BIN): $(call obj,dom0/xenshmd.c) $(DAEMON_LIB) $(REAL_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(XEN_LIBS)

$(XENSHM_BIN): $(call obj,tools/xenshm.c $(CLI_SRCS) $(XLCFG_SRC)) $(GEN_SCHEMA_OBJ) \
	  $(DAEMON_LIB) $(REAL_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(XEN_LIBS) -lxlutil

# Lab programs run inside Xen guests: real Xen layer, bound at load time
# (a swapping guest must not resolve symbols lazily, see docs/xenlab.md).
$(BUILD)/lab/%: $(BUILD)/obj/tools/xenlab/src/%.o $(FRONT_LIB) $(REAL_LIB) $(COMMON_LIB)
	@mkdir -p $(@D)
	$(CC) $(ALL_LDFLAGS) -Wl,-z,now -o $@ $^ $(XEN_LIBS)

# ---- tests ----
unit: $(UNIT_BIN)
	CK_DEFAULT_TIMEOUT=60 $(UNIT_BIN)

unit-asan:
	$(MAKE) BUILD=build/asan SAN=1 CFLAGS="-O1 -g" unit

schema-doc: $(XSGEN)
	$(XSGEN) doc $(SCHEMA_SRC) > docs/xenstore-paths.md

schema-doc-check: $(XSGEN)
	@$(XSGEN) doc $(SCHEMA_SRC) | diff -u docs/xenstore-paths.md - \
	  || { echo "docs/xenstore-paths.md is stale: run 'make schema-doc'"; exit 1; }
	@echo "schema: docs/xenstore-paths.md matches $(SCHEMA_SRC)"

check: all unit unit-asan unit-valgrind lint schema-doc-check install-check fuzz-smoke lab-check

# Check's fork mode would hide the children from valgrind.
unit-valgrind: $(UNIT_BIN)
	CK_FORK=no valgrind -q --error-exitcode=3 --leak-check=full \
	  --errors-for-leak-kinds=definite,indirect $(UNIT_BIN)

LINT_SRCS = $(COMMON_SRCS) $(FAKE_SRCS) $(REAL_SRCS) $(XLCFG_SRC) $(DAEMON_SRCS) $(FRONT_SRCS) \
	$(SCHEMA_LIB_SRCS) xenstore-schema/xsgen.c tools/xenshm.c $(CLI_SRCS) tools/mempipe.c tools/replay.c dom0/xenshmd.c $(LAB_TOOL_SRCS) \
	$(wildcard tools/bench/*.c)
# Configuration and the reason for every disabled check: .clang-tidy.
lint: $(GEN_HDR)
	cppcheck --quiet --std=c11 --enable=warning,performance,portability --error-exitcode=1 \
	  --inline-suppr -D_GNU_SOURCE -Icommon/include -Ifrontend/include -I$(BUILD)/gen \
	  common dom0 backend frontend tools xenstore-schema test
	clang-tidy --quiet $(LINT_SRCS) -- -std=gnu11 -D_GNU_SOURCE -Icommon/include \
	  -Ifrontend/include -I$(BUILD)/gen $(XEN_CFLAGS)
	@echo "lint: cppcheck and clang-tidy found nothing"

lab-check: all
	tools/xenlab/lab check

lab-shell: all
	tools/xenlab/lab shell

demo: all
	tools/xenlab/lab demo

bench: $(BENCH_BIN)
	$(BENCH_BIN) ring --md docs/bench/ring.md --json docs/bench/ring.json
	$(BENCH_BIN) mempipe --md docs/bench/mempipe-path.md --json docs/bench/mempipe-path.json --mib 8192

# ---- fuzzing (clang's libFuzzer; the harnesses link only the parsers they test) ----
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_CFLAGS := -std=gnu11 -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	-D_GNU_SOURCE -Icommon/include -Ifrontend/include -I$(BUILD)/gen
FUZZ_BINS := $(patsubst test/fuzz/%.c,$(BUILD)/fuzz/%,$(FUZZ_SRCS))

$(BUILD)/fuzz/fuzz_%: test/fuzz/fuzz_%.c test/fuzz/script.h $(FUZZ_LIB_SRCS) $(GEN_HDR) $(GEN_SCHEMA_TEXT)
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(FUZZ_LIB_SRCS) $(GEN_SCHEMA_TEXT)

fuzz: $(FUZZ_BINS)
	tools/fuzz.sh $(BUILD)/fuzz $(FUZZ_SECONDS)

fuzz-smoke: $(FUZZ_BINS)
	tools/fuzz.sh $(BUILD)/fuzz 10

# Regenerate the checked-in seed corpora.
fuzz-seeds: $(COMMON_LIB)
	@mkdir -p $(BUILD)/fuzz
	$(CC) $(ALL_CFLAGS) -o $(BUILD)/fuzz/make_seeds test/fuzz/make_seeds.c $(COMMON_LIB)
	$(BUILD)/fuzz/make_seeds test/fuzz/corpus

coverage:
	rm -rf build/cov
	$(MAKE) BUILD=build/cov COV=1 CFLAGS="-O0 -g" unit
	gcovr --root . --filter common/ --object-directory build/cov/obj --print-summary \
	  --txt build/cov/coverage.txt
	@cat build/cov/coverage.txt

deps:
	tools/install-deps.sh

MAN_PAGES := docs/man/xenshm.8 docs/man/xenshmd.8 docs/man/libxenshm.3 docs/man/xenshm.cfg.5

install: all
	install -d $(DESTDIR)$(PREFIX)/lib/pkgconfig $(DESTDIR)$(PREFIX)/include/xenshm \
	  $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/sbin $(DESTDIR)$(PREFIX)/share/man/man8 \
	  $(DESTDIR)$(PREFIX)/share/man/man3 $(DESTDIR)$(PREFIX)/share/man/man5 $(DESTDIR)$(PREFIX)/lib/systemd/system \
	  $(DESTDIR)/etc/modprobe.d $(DESTDIR)/etc/modules-load.d
	install -m 0644 $(COMMON_LIB) $(REAL_LIB) $(FRONT_LIB) $(DESTDIR)$(PREFIX)/lib/
	install -m 0755 $(FRONT_SO) $(DESTDIR)$(PREFIX)/lib/
	ln -sf libxenshm.so.$(VERSION) $(DESTDIR)$(PREFIX)/lib/$(FRONT_SONAME)
	ln -sf $(FRONT_SONAME) $(DESTDIR)$(PREFIX)/lib/libxenshm.so
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' tools/libxenshm.pc.in \
	  > $(DESTDIR)$(PREFIX)/lib/pkgconfig/libxenshm.pc
	install -m 0755 $(XENSHMD_BIN) $(XENSHM_BIN) $(DESTDIR)$(PREFIX)/sbin/
	install -m 0644 frontend/include/xenshm/shm.h frontend/include/xenshm/mempipe.h common/include/xenshm/xenops.h common/include/xenshm/ring.h \
	  common/include/xenshm/ctrl.h common/include/xenshm/xspath.h $(GEN_HDR) \
	  $(DESTDIR)$(PREFIX)/include/xenshm/
	install -m 0755 $(BENCH_BIN) $(PIPEBENCH_BIN) $(MEMPIPE_BIN) $(DESTDIR)$(PREFIX)/bin/
	install -m 0644 docs/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -m 0644 docs/man/*.3 $(DESTDIR)$(PREFIX)/share/man/man3/
	install -m 0644 docs/man/*.5 $(DESTDIR)$(PREFIX)/share/man/man5/
	sed -e 's|@SBINDIR@|$(PREFIX)/sbin|' tools/systemd/xenshmd.service \
	  > $(DESTDIR)$(PREFIX)/lib/systemd/system/xenshmd.service
	install -m 0644 tools/systemd/modprobe-xenshm.conf $(DESTDIR)/etc/modprobe.d/xenshm.conf
	install -m 0644 tools/systemd/modules-load-xenshm.conf $(DESTDIR)/etc/modules-load.d/xenshm.conf

# Install into a scratch root and build a program against it through pkg-config.
install-check:
	rm -rf $(BUILD)/install-check
	$(MAKE) -s install DESTDIR=$(CURDIR)/$(BUILD)/install-check PREFIX=/usr
	tools/install-check.sh $(CURDIR)/$(BUILD)/install-check

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
