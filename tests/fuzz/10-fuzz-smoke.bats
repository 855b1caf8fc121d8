#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# CI's short smoke of the libFuzzer harnesses (tests/fuzz/fuzz_*.c, built by
# `make tests` into build/fuzz/ with ASan and UBSan): each one replays its
# whole seed corpus (the regression seeds of every bug found so far), then
# fuzzes for FUZZ_SMOKE_SECONDS (15) over a copy of it in a temp dir. Any
# crash, leak, UB report, timeout or broken invariant fails the test, with
# the reproducer's path and how to replay it. `make fuzz` is the long run.

FUZZ_REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
FUZZ_BUILD=${FUZZ_BUILD:-$FUZZ_REPO/build/fuzz}
FUZZ_SMOKE_SECONDS=${FUZZ_SMOKE_SECONDS:-15}

setup_file() {
	FUZZ_TMP=$(mktemp -d "${TMPDIR:-/tmp}/svcbpf-fuzz-smoke.XXXXXX")
	export FUZZ_TMP
}

teardown_file() {
	# Kept when a test failed: its logs and reproducers are there.
	[ -z "$FUZZ_TMP" ] || [ -e "$FUZZ_TMP/failed" ] || rm -rf "$FUZZ_TMP"
}

# fuzz_smoke NAME MAXLEN: replay corpus/NAME, then fuzz it for FUZZ_SMOKE_SECONDS.
fuzz_smoke() {
	local name=$1 maxlen=$2 bin="$FUZZ_BUILD/fuzz_$1" seeds="$FUZZ_REPO/tests/fuzz/corpus/$1"
	local dir="$FUZZ_TMP/$1" dict=() rc=0 found seed

	[ -x "$bin" ] || {
		echo "no $bin: build it with 'make tests'" >&2
		return 1
	}
	[ -n "$(ls "$seeds")" ] || {
		echo "no seeds in $seeds" >&2
		return 1
	}
	mkdir -p "$dir/corpus" "$dir/art"
	cp "$seeds"/* "$dir/corpus/"
	[ -f "$FUZZ_REPO/tests/fuzz/$1.dict" ] && dict=(-dict="$FUZZ_REPO/tests/fuzz/$1.dict")

	# Every seed once, as its own file: a failure names the seed.
	timeout -k 5 60 "$bin" -timeout=25 -rss_limit_mb=2048 -artifact_prefix="$dir/art/" \
		"$seeds"/* >"$dir/replay.log" 2>&1 || rc=$?
	if [ "$rc" != 0 ]; then
		touch "$FUZZ_TMP/failed"
		seed=$(sed -n 's/^Running: //p' "$dir/replay.log" | tail -n 1)
		echo "fuzz_$name failed (exit $rc) on a seed:" >&2
		grep -E 'FUZZ_CHECK|ERROR:|runtime error|SUMMARY' "$dir/replay.log" | tail -n 8 >&2
		echo "reproducer: $seed (replay: $bin $seed)" >&2
		echo "full log: $dir/replay.log" >&2
		return 1
	fi

	rc=0
	timeout -k 5 $((FUZZ_SMOKE_SECONDS + 60)) "$bin" -max_total_time="$FUZZ_SMOKE_SECONDS" \
		-timeout=25 -rss_limit_mb=2048 -max_len="$maxlen" "${dict[@]}" \
		-artifact_prefix="$dir/art/" -print_final_stats=1 "$dir/corpus" >"$dir/fuzz.log" 2>&1 || rc=$?
	found=$(ls "$dir/art" 2>/dev/null)
	if [ "$rc" != 0 ] || [ -n "$found" ]; then
		touch "$FUZZ_TMP/failed"
		echo "fuzz_$name failed (exit $rc) while fuzzing:" >&2
		grep -E 'FUZZ_CHECK|ERROR:|runtime error|SUMMARY' "$dir/fuzz.log" | tail -n 12 >&2
		for f in $found; do
			echo "reproducer: $dir/art/$f (replay: $bin $dir/art/$f)" >&2
		done
		echo "full log: $dir/fuzz.log" >&2
		return 1
	fi
	# It did fuzz: libFuzzer's final count of inputs run.
	grep -qE '^stat::number_of_executed_units: *[1-9]' "$dir/fuzz.log" || {
		touch "$FUZZ_TMP/failed"
		echo "fuzz_$name ran no inputs:" >&2
		tail -n 20 "$dir/fuzz.log" >&2
		return 1
	}
}

@test "fuzz smoke: address, port, CIDR and flag parsers" {
	fuzz_smoke addr 256
}

@test "fuzz smoke: manifest reader, decoder and controller" {
	fuzz_smoke manifest 16384
}

@test "fuzz smoke: store loader" {
	fuzz_smoke store 65536
}

@test "fuzz smoke: batch files through the CLI into a store" {
	fuzz_smoke batch 4096
}
