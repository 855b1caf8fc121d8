# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# svcbpf: clang builds the BPF object, bpftool embeds it in a skeleton, and
# the one `build/svcbpf` binary carries it. `make V=1` shows the commands.
#
#   make            build build/svcbpf
#   make demo       install deps, build, run the seed's flow in namespaces (root)
#   make test       install deps, build, run every test: unit, packet, CLI, e2e, bench smoke
#   make bench      svcbpf against the floor, iptables and nftables (root; bench/README.md)
#   make check      clang-format and clang --analyze
#   make deps       install the Debian packages the build and tests need

.DELETE_ON_ERROR:
.DEFAULT_GOAL := all

CC	   ?= gcc
CLANG	   ?= clang
LLVM_STRIP ?= llvm-strip
BPFTOOL	   ?= bpftool
BUILD	   ?= build

ARCH_INC   := /usr/include/$(shell $(CC) -dumpmachine)
CFLAGS	   ?= -O2 -g
CFLAGS	   += -std=gnu11 -Wall -Wextra -Werror -Wno-missing-field-initializers \
	      -Wno-format-truncation -Iinclude -Iuser -I$(BUILD)
# Hardening, as Debian's dpkg-buildflags with hardening=+all.
CFLAGS	   += -fstack-protector-strong -fstack-clash-protection -fPIE -Wformat -Wformat-security
LDFLAGS	   += -pie -Wl,-z,relro -Wl,-z,now
ifeq ($(SAN),1)
# `make SAN=1 BUILD=build-san`: the same code under AddressSanitizer and UBSan.
CFLAGS	   += -O1 -fsanitize=address,undefined -fno-sanitize-recover=undefined \
	      -fno-omit-frame-pointer
LDFLAGS	   += -fsanitize=address,undefined
else
CFLAGS	   += -D_FORTIFY_SOURCE=2
endif
BPF_CFLAGS := -g -O2 -target bpf -mcpu=v3 -Wall -Iinclude -I$(ARCH_INC) $(BPF_EXTRA_CFLAGS)
LDLIBS	   := -lbpf -lelf -lz -lsqlite3 -ljansson -lfyaml -lmicrohttpd

ifeq ($(V),1)
Q   :=
msg :=
else
Q   := @
msg = @printf '  %-8s %s\n' '$(1)' '$(2)';
endif

BPF_HDRS  := $(wildcard bpf/*.h) include/svcbpf.h
USER_HDRS := $(wildcard user/*.h) include/svcbpf.h
LIB_SRCS  := $(filter-out user/main.c,$(wildcard user/*.c))
LIB_OBJS  := $(patsubst user/%.c,$(BUILD)/user/%.o,$(LIB_SRCS))
SKEL	  := $(BUILD)/svcbpf.bpf.skel.h

UNIT_TESTS := $(BUILD)/tests/test_addr $(BUILD)/tests/test_store $(BUILD)/tests/test_maglev \
	      $(BUILD)/tests/test_k8s $(BUILD)/tests/test_k8s_ctl
PKT_TESTS  := $(patsubst tests/pkt/%.c,$(BUILD)/tests/%,$(wildcard tests/pkt/test_*.c))
E2E_TESTS  := $(wildcard tests/cli/*.bats tests/e2e/*.bats tests/fuzz/*.bats tests/bench/*.bats)
# libFuzzer harnesses: tests/fuzz/fuzz.mk adds them to FUZZ_BINS and defines `make fuzz`.
FUZZ_BINS  :=
-include tests/fuzz/fuzz.mk

all: $(BUILD)/svcbpf

$(BUILD) $(BUILD)/user $(BUILD)/tests:
	$(Q)mkdir -p $@

# Debug info stripped (BTF kept): the embedded object shrinks ~50x.
$(BUILD)/svcbpf.bpf.o: bpf/svcbpf.bpf.c $(BPF_HDRS) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@.tmp
	$(Q)$(LLVM_STRIP) -g $@.tmp -o $@
	$(Q)rm -f $@.tmp

$(SKEL): $(BUILD)/svcbpf.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name svcbpf_bpf > $@

$(BUILD)/user/%.o: user/%.c $(USER_HDRS) $(SKEL) | $(BUILD)/user
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

$(BUILD)/libsvcbpf.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)$(AR) rcs $@ $^

$(BUILD)/svcbpf: $(BUILD)/user/main.o $(BUILD)/libsvcbpf.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libsvcbpf.a | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $^ $(LDLIBS) -lcmocka -o $@

$(BUILD)/tests/test_%: tests/pkt/test_%.c tests/pkt/pkt.h $(BUILD)/libsvcbpf.a $(SKEL) \
			 | $(BUILD)/tests
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) $(PKT_SAN) -Itests/pkt $< $(BUILD)/libsvcbpf.a $(LDLIBS) \
		-lcmocka -o $@

# Test frames keep the wire layout (IP header at offset 14, 2 off a word), as
# on a NIC without NET_IP_ALIGN; x86 reads it fine, UBSan would stop at it.
PKT_SAN := $(if $(filter 1,$(SAN)),-fno-sanitize=alignment)

tests: $(UNIT_TESTS) $(PKT_TESTS) $(FUZZ_BINS) $(BUILD)/pktbench $(BUILD)/connbench

# Benchmark tools: the parse-and-pass floor program and the per-packet runner.
$(BUILD)/floor.bpf.o: bench/floor.bpf.c $(BPF_HDRS) | $(BUILD)
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -Ibpf -c $< -o $@.tmp
	$(Q)$(LLVM_STRIP) -g $@.tmp -o $@
	$(Q)rm -f $@.tmp

$(BUILD)/floor.bpf.skel.h: $(BUILD)/floor.bpf.o
	$(call msg,GEN-SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name floor_bpf > $@

$(BUILD)/pktbench: bench/pktbench.c tests/pkt/pkt.h $(BUILD)/libsvcbpf.a $(SKEL) \
		   $(BUILD)/floor.bpf.skel.h
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -Itests/pkt bench/pktbench.c $(BUILD)/libsvcbpf.a $(LDLIBS) -o $@

$(BUILD)/connbench: bench/connbench.c | $(BUILD)
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $(LDFLAGS) -pthread $< -o $@

bench-tools: all $(BUILD)/pktbench $(BUILD)/connbench

# svcbpf against the floor, iptables and nftables, in namespaces (root; bench/README.md).
bench: deps
	$(Q)$(MAKE) --no-print-directory bench-tools
	$(Q)bench/run.sh

deps:
	$(Q)tools/deps.sh

# Every layer through one TAP harness: prove prints the summary CI reads.
test: deps
	$(Q)$(MAKE) --no-print-directory all tests
	$(Q)CMOCKA_MESSAGE_OUTPUT=TAP prove --timer $(UNIT_TESTS) $(PKT_TESTS) $(E2E_TESTS)

# The unit, packet and CLI tests again, against a build under AddressSanitizer
# and UBSan (build/san): a leak, an overflow or undefined behaviour fails them.
SAN_TESTS = $(patsubst $(BUILD)/%,$(BUILD)/san/%,$(UNIT_TESTS) $(PKT_TESTS))
test-san: deps
	$(Q)$(MAKE) --no-print-directory SAN=1 BUILD=$(BUILD)/san all tests
	$(Q)CMOCKA_MESSAGE_OUTPUT=TAP SVCBPF=$(abspath $(BUILD)/san/svcbpf) \
		prove --timer $(SAN_TESTS) $(SAN_CLI_TESTS)

SAN_CLI_TESTS = $(filter-out tests/cli/40-valgrind.bats,$(wildcard tests/cli/*.bats))

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)tools/demo.sh

check: $(SKEL)
	$(Q)clang-format --dry-run --Werror bpf/*.c bpf/*.h user/*.c user/*.h include/*.h \
		tests/unit/*.c tests/pkt/*.c tests/pkt/*.h bench/*.c
	$(Q)for f in $(LIB_SRCS) user/main.c; do \
		$(CLANG) --analyze -Xanalyzer -analyzer-werror -std=gnu11 -Iinclude -Iuser \
			-I$(BUILD) $$f -o /dev/null $(if $(ANALYZE_SKEL),,$(ANALYZE_NO_SKEL_LEAK)) \
			|| exit 1; \
	done

# The generated skeleton frees on error through libbpf, which the analyzer
# cannot see: a false "potential leak" in every file that includes it.
ANALYZE_NO_SKEL_LEAK = $$(case $$f in user/loader.c) \
	echo -Xanalyzer -analyzer-disable-checker=unix.Malloc;; esac)

clean:
	$(Q)rm -rf $(BUILD)

.PHONY: all tests bench-tools bench deps test test-san demo check clean
