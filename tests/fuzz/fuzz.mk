# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#
# libFuzzer harnesses (included by the top-level Makefile).
#
#   make tests                      builds them into $(BUILD)/fuzz/ with the rest
#   make fuzz [FUZZ_TIME=600]       runs each for FUZZ_TIME seconds (default 60), then
#                                   the packet fuzzer (build/tests/test_pktfuzz) as long
#
# Every user/*.c is built again here with clang under libFuzzer's coverage,
# AddressSanitizer and UBSan (into $(BUILD)/fuzz/obj/, never the gcc-built
# libsvcbpf.a); user/main.c with its main() renamed, since libFuzzer has one.
# A run works on a copy of the seed corpus in $(BUILD)/fuzz/corpus/, so what
# it finds stays out of the tree; crashes land in $(BUILD)/fuzz/artifacts/.

FUZZ_NAMES   := addr manifest store batch
FUZZ_DIR     := $(BUILD)/fuzz
FUZZ_OBJDIR  := $(FUZZ_DIR)/obj
FUZZ_SAN     := -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
FUZZ_CFLAGS  := -std=gnu11 -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) -Wall -Wextra -Werror \
		-Wno-missing-field-initializers -Iinclude -Iuser -I$(BUILD)
FUZZ_LIB_OBJS := $(patsubst user/%.c,$(FUZZ_OBJDIR)/%.o,$(wildcard user/*.c))
FUZZ_LIB     := $(FUZZ_OBJDIR)/libsvcbpf-fuzz.a
FUZZ_TIME    ?= 60
# Per-harness input bound: an argument, a manifest, a store file, a batch file.
FUZZ_MAXLEN_addr     := 256
FUZZ_MAXLEN_manifest := 16384
FUZZ_MAXLEN_store    := 65536
FUZZ_MAXLEN_batch    := 4096

FUZZ_BINS += $(patsubst %,$(FUZZ_DIR)/fuzz_%,$(FUZZ_NAMES))

$(FUZZ_DIR) $(FUZZ_OBJDIR):
	$(Q)mkdir -p $@

$(FUZZ_OBJDIR)/main.o: user/main.c $(USER_HDRS) $(SKEL) | $(FUZZ_OBJDIR)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -Dmain=svcbpf_main -c $< -o $@

$(FUZZ_OBJDIR)/%.o: user/%.c $(USER_HDRS) $(SKEL) | $(FUZZ_OBJDIR)
	$(call msg,FUZZ-CC,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@
	$(Q)$(AR) rcs $@ $^

# A harness may #include a user/*.c to reach its static parsers: it then
# defines that file's symbols itself, and the archive's copy is never pulled.
$(FUZZ_DIR)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz_util.h $(FUZZ_LIB) $(USER_HDRS) $(SKEL) \
		    | $(FUZZ_DIR)
	$(call msg,FUZZ-LD,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) $< $(FUZZ_LIB) $(LDLIBS) -o $@

# Each harness for FUZZ_TIME seconds over a copy of its seeds (new finds are
# kept in build/ between runs), then the packet fuzzer for as long. Stops at
# the first crash, leak or UB report; the reproducer is in $(FUZZ_DIR)/artifacts/.
fuzz: $(FUZZ_BINS)
	$(Q)mkdir -p $(FUZZ_DIR)/artifacts
	$(Q)set -e; for hm in $(foreach n,$(FUZZ_NAMES),$(n):$(FUZZ_MAXLEN_$(n))); do \
		h=$${hm%%:*}; maxlen=$${hm#*:}; \
		mkdir -p $(FUZZ_DIR)/corpus/$$h; \
		cp -n tests/fuzz/corpus/$$h/* $(FUZZ_DIR)/corpus/$$h/ 2>/dev/null || true; \
		dict=; [ -f tests/fuzz/$$h.dict ] && dict=-dict=tests/fuzz/$$h.dict; \
		echo "fuzz: $$h for $(FUZZ_TIME) s"; \
		log=$(FUZZ_DIR)/fuzz_$$h.log; \
		if ! $(FUZZ_DIR)/fuzz_$$h -max_total_time=$(FUZZ_TIME) -timeout=25 -rss_limit_mb=2048 \
			-max_len=$$maxlen $$dict -print_final_stats=1 \
			-artifact_prefix=$(FUZZ_DIR)/artifacts/$$h- $(FUZZ_DIR)/corpus/$$h >$$log 2>&1; then \
			tail -n 60 $$log; echo "fuzz: $$h failed (log: $$log)"; exit 1; \
		fi; \
		grep -E '^#[0-9]+[[:space:]]+DONE|^stat::number_of_executed_units' $$log || true; \
	done
	$(Q)if [ -x $(BUILD)/tests/test_pktfuzz ]; then \
		echo "fuzz: packets for $(FUZZ_TIME) s"; \
		PKTFUZZ_SECONDS=$(FUZZ_TIME) $(BUILD)/tests/test_pktfuzz; \
	else \
		echo "fuzz: no $(BUILD)/tests/test_pktfuzz; packet fuzzer skipped"; \
	fi

.PHONY: fuzz
