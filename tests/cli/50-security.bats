#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# What svcbpf leaves on the machine is root's alone: the pin directory tree 0700 with
# pins 0600, the state directory 0700 with the store, its journal and lock 0600, nothing
# group- or world-writable, whatever the caller's umask. The binary is built hardened
# (PIE, full RELRO, stack protector, _FORTIFY_SOURCE), and a user without the
# capabilities gets one clear line. Runs in a namespace of its own with one veth pair;
# no traffic is sent.

load ../lib/e2e
load ../lib/cli

setup_file() {
	cli_ns_setup sec
	chmod 0755 "$CLI_TMP" # the unprivileged user must reach the binary's arguments
}

teardown_file() {
	[ -z "${CLI_NS:-}" ] || nsenter --net="/run/netns/$CLI_NS" "$SVCBPF_BIN" unload \
		>/dev/null 2>&1 || true
	cli_ns_teardown
}

# modes DIR: "MODE TYPE PATH" for everything under DIR, DIR included.
modes() {
	find "$1" -printf '%m %y %p\n' | sort -k3
}

@test "security: pins and store are root's alone (0700/0600), even under umask 000" {
	# A permissive umask is the caller's choice; svcbpf's files must not follow it.
	run bash -c "umask 000; nsenter --net=/run/netns/$CLI_NS $SVCBPF_BIN load eth0"
	assert_eq "load under umask 000 ($output)" 0 "$status"
	run bash -c "umask 000; nsenter --net=/run/netns/$CLI_NS $SVCBPF_BIN \
		svc add 10.96.0.50:80 --backend 10.244.1.10:8080"
	assert_eq "svc add under umask 000 ($output)" 0 "$status"

	local m bad=""
	while read -r mode type path; do
		case $type in
		d) [ "$mode" = 700 ] || bad+="$mode $path (want 700)"$'\n' ;;
		f) [ "$mode" = 600 ] || bad+="$mode $path (want 600)"$'\n' ;;
		*) bad+="$mode $path (a $type: unexpected)"$'\n' ;;
		esac
	done < <(modes "$SVCBPF_PIN_DIR"; modes "$SVCBPF_STATE_DIR")
	assert_eq "modes that are not 0700 directories or 0600 files" "" "$bad"
	m=$(find "$SVCBPF_PIN_DIR" "$SVCBPF_STATE_DIR" \( -perm -g+w -o -perm -o+w \
		-o -perm -o+r -o -perm -g+r -o ! -uid 0 \) -printf '%m %u %p\n')
	assert_eq "group/world permissions or non-root owners" "" "$m"
	# Pins of maps, programs and links alike.
	assert_match "map pins" "svcbpf_svc_v[0-9]+" "$(ls "$SVCBPF_PIN_DIR")"
	assert_match "link pins" "tc_ingress" "$(ls "$SVCBPF_PIN_DIR/links/eth0")"
}

@test "security: a store made group- and world-readable is tightened on the next change" {
	sb load eth0
	assert_eq "load" 0 "$status"
	chmod 0644 "$SVCBPF_STATE_DIR/svcbpf.db"
	sb svc add 10.96.0.51:80 --backend 10.244.1.10:8080
	assert_eq "svc add ($output)" 0 "$status"
	assert_eq "store mode" "600" "$(stat -c %a "$SVCBPF_STATE_DIR/svcbpf.db")"
}

@test "security: without root or CAP_BPF and CAP_NET_ADMIN, one clear line and nothing touched" {
	sb load eth0
	local before after
	before=$(find "$SVCBPF_PIN_DIR" "$SVCBPF_STATE_DIR" -printf '%m %s %T@ %p\n' | sort)
	for cmd in "svc list" "svc add 10.96.0.52:80 --backend 10.244.1.10:8080" "load eth0" \
		"unload" "status"; do
		# shellcheck disable=SC2086
		run nsenter --net="/run/netns/$CLI_NS" setpriv --reuid=65534 --regid=65534 \
			--clear-groups --inh-caps=-all --bounding-set=-all "$SVCBPF_BIN" $cmd
		assert_eq "exit code of '$cmd' as nobody" 1 "$status"
		assert_eq "lines of '$cmd' as nobody ($output)" 1 "${#lines[@]}"
		assert_match "error of '$cmd' as nobody" \
			"^svcbpf: .*needs root \(or CAP_BPF and CAP_NET_ADMIN\)" "$output"
	done
	after=$(find "$SVCBPF_PIN_DIR" "$SVCBPF_STATE_DIR" -printf '%m %s %T@ %p\n' | sort)
	assert_eq "pins and store after the refused commands" "$before" "$after"
}

@test "security: the binary is PIE with full RELRO, stack protector and _FORTIFY_SOURCE" {
	local bin=$BATS_TEST_DIRNAME/../../build/svcbpf
	assert_match "ELF type" "DYN \(Position-Independent Executable file\)" \
		"$(readelf -h "$bin" | grep Type:)"
	assert_contains "GNU_RELRO segment" "GNU_RELRO" "$(readelf -lW "$bin")"
	assert_match "BIND_NOW (full RELRO)" "FLAGS.*BIND_NOW|FLAGS_1.*NOW" "$(readelf -dW "$bin")"
	assert_contains "stack protector" "__stack_chk_fail" "$(readelf -sW --dyn-syms "$bin")"
	assert_match "fortified libc calls" "__[a-z]+_chk" "$(readelf -sW --dyn-syms "$bin")"
	assert_not_contains "executable stack" "RWE" "$(readelf -lW "$bin" | grep GNU_STACK)"
}
