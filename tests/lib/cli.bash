# SPDX-License-Identifier: GPL-2.0
#
# The fixture of the CLI test files (tests/cli/*.bats): a network namespace of the file's
# own with one veth pair, a private pin dir and a temp dir, made by setup_file and removed
# by teardown_file. No traffic is sent; the e2e files build real topologies (tools/topo.sh).
#
#	load ../lib/cli
#	setup_file() { cli_ns_setup cli; ...the file's own...; }
#	teardown_file() { ...the file's own unloads...; cli_ns_teardown; }

# cli_ns_setup TAG [ipv6-off]: skips the file unless root; then exports
#   CLI_ID            sbTAG<pid>, this run's id ("sbcli1234")
#   CLI_NS            CLI_ID-node, the namespace, with eth0 <-> eth1, both up
#   CLI_TMP           a fresh /tmp/svcbpf-TAG.XXXXXX
#   CLI_PIN           /sys/fs/bpf/svcbpf-CLI_ID; teardown also removes CLI_PIN-*, so a file
#                     may keep several pin dirs (the "-" ends the id: sbbad12-* never takes
#                     in sbbad123's)
#   SVCBPF_PIN_DIR    CLI_PIN, SVCBPF_STATE_DIR CLI_TMP/state (a file may override both)
#   SVCBPF_BIN        the svcbpf under test ($SVCBPF, else build/svcbpf)
# With ipv6-off, IPv6 is disabled in the namespace before the links exist: no router or
# neighbour solicitation ever moves a counter.
cli_ns_setup() {
	local tag=$1 opt=${2:-}

	[ "$(id -u)" = 0 ] || skip "needs root"
	export CLI_ID="sb$tag$$"
	export CLI_NS="$CLI_ID-node"
	CLI_TMP=$(mktemp -d "/tmp/svcbpf-$tag.XXXXXX")
	export CLI_TMP
	export CLI_PIN="/sys/fs/bpf/svcbpf-$CLI_ID"
	export SVCBPF_PIN_DIR="$CLI_PIN"
	export SVCBPF_STATE_DIR="$CLI_TMP/state"
	export SVCBPF_BIN="${SVCBPF:-$BATS_TEST_DIRNAME/../../build/svcbpf}"
	ip netns add "$CLI_NS"
	if [ "$opt" = ipv6-off ]; then
		ip netns exec "$CLI_NS" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 \
			net.ipv6.conf.default.disable_ipv6=1
	fi
	ip -n "$CLI_NS" link add eth0 type veth peer name eth1
	ip -n "$CLI_NS" link set eth0 up
	ip -n "$CLI_NS" link set eth1 up
}

# cli_ns_teardown: removes the namespace (and with it the veth pair and whatever is attached),
# the pin dirs and the temp dir cli_ns_setup made, by name. Idempotent; never fails, also
# when setup_file was skipped or stopped half way.
cli_ns_teardown() {
	[ -n "${CLI_ID:-}" ] || return 0
	ip netns del "$CLI_NS" 2>/dev/null || true
	rm -rf "/sys/fs/bpf/svcbpf-$CLI_ID" "/sys/fs/bpf/svcbpf-$CLI_ID"-* 2>/dev/null || true
	[ -z "${CLI_TMP:-}" ] || rm -rf "$CLI_TMP" 2>/dev/null || true
	return 0
}

# sb ARGS...: svcbpf in the test namespace; sets $status, $output and $lines (bats run).
sb() {
	run nsenter --net="/run/netns/$CLI_NS" "$SVCBPF_BIN" "$@"
}

# cli_bad PATTERN ARGS...: `svcbpf ARGS` fails with exit 1 and one output line matching PATTERN,
# and leaves the state exactly as it was: the calling file's `snapshot` before and after.
cli_bad() {
	local pattern=$1 before after
	shift
	before=$(snapshot)
	sb "$@"
	after=$(snapshot)
	assert_eq "exit code of 'svcbpf $*' ($output)" 1 "$status"
	assert_eq "lines of output of 'svcbpf $*' ($output)" 1 "${#lines[@]}"
	assert_match "error of 'svcbpf $*'" "$pattern" "$output"
	assert_eq "state after 'svcbpf $*'" "$before" "$after"
}
