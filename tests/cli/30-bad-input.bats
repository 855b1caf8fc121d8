#!/usr/bin/env bats
# SPDX-License-Identifier: GPL-2.0
#
# Bad input, one case a test: every case exits 1, prints nothing on stdout and exactly one
# line on stderr, "svcbpf: ..." naming the problem (each case asserts its message), and
# leaves the state byte for byte as it was: the sha256 of every file of the state
# directories (the SQLite store, the lock), the file tree under the temp dir and the pin
# dirs, and every pinned map (ids, sizes, entries, the Maglev tables inside the outer map)
# and link (program ids) as bpftool dumps them.
#
# Most cases run against a loaded fixture (setup_file) with services from the CLI and from
# manifests, so that "unchanged" means something; the "maps full" cases against a second
# one loaded with tiny maps. Runs in a network namespace of its own with one veth pair
# (IPv6 off: no packet ever moves a counter), private pin and state dirs; no traffic.
#
# Limits decided here (kubectl's where it has one):
# - a manifest file holds at most 3 MiB, kube-apiserver's limit on one request body
#   ("Request entity too large"); a 50 MB one is refused before it is parsed;
# - input holding no object svcbpf handles is an error, as kubectl's "no objects passed
#   to apply"; a NUL byte is binary data, refused (the parser would stop at it);
# - deleting a service, backend or object that does not exist is an error (kubectl
#   delete, ipvsadm -D), and so is unloading what is not loaded;
# - an option that takes one value, given twice, is an error (not "the last one wins").

bats_require_minimum_version 1.5.0

load ../lib/cli

# Three helpers as ../lib/e2e has them, here: loading it (and tools/topo.sh, and the
# pyenv lookup of a Python) costs each of these ~100 short tests more than the case.
e2e_fail() {
	printf 'FAIL: %s\n' "$*" >&2
	return 1
}

# assert_eq WHAT EXPECTED ACTUAL
assert_eq() {
	[ "$2" = "$3" ] && return 0
	printf 'FAIL: %s\n  expected: %s\n  actual:   %s\n' "$1" "$2" "$3" >&2
	return 1
}

# assert_match WHAT ERE ACTUAL
assert_match() {
	[[ $3 =~ $2 ]] && return 0
	printf 'FAIL: %s\n  expected to match: %s\n  actual:            %s\n' "$1" "$2" "$3" >&2
	return 1
}

setup_file() {
	cli_ns_setup bad ipv6-off
	# Pin dirs are svcbpf-$CLI_ID-main|full|own: "-" ends the id, so that snapshot()'s glob
	# never takes in another run's (sbbad12 and sbbad123); cli_ns_teardown removes them.
	export MAIN_PIN="$CLI_PIN-main" MAIN_STATE="$CLI_TMP/state-main"
	export FULL_PIN="$CLI_PIN-full" FULL_STATE="$CLI_TMP/state-full"
	export SVCBPF_PIN_DIR="$MAIN_PIN" SVCBPF_STATE_DIR="$MAIN_STATE"
	# Inputs (manifests, batch files, scratch dirs) live apart from the state snapshot() reads.
	export M="$CLI_TMP/inputs"
	mkdir "$M"

	# The main fixture: two CLI services, a Service with a Pod, loaded with small tables.
	cat >"$M/web.yaml" <<-EOF
		apiVersion: v1
		kind: Service
		metadata:
		  name: web
		spec:
		  clusterIP: 10.96.0.60
		  selector:
		    app: web
		  ports:
		  - port: 80
		    targetPort: 8080
		---
		apiVersion: v1
		kind: Pod
		metadata:
		  name: web-1
		  labels:
		    app: web
		status:
		  podIP: 10.244.3.30
		  conditions:
		  - type: Ready
		    status: "True"
	EOF
	fixture_ok svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --backend 10.244.2.15:8080
	fixture_ok svc add 10.96.0.10:53/udp --backend 10.244.1.10:53 --affinity client-ip
	fixture_ok apply -f "$M/web.yaml"
	fixture_ok load eth0 --maglev-size 251

	# The full fixture: 2 services and 3 backends, all the maps hold.
	SVCBPF_PIN_DIR=$FULL_PIN SVCBPF_STATE_DIR=$FULL_STATE fixture_ok \
		svc add 10.96.0.1:80 --backend 10.244.1.1:80
	SVCBPF_PIN_DIR=$FULL_PIN SVCBPF_STATE_DIR=$FULL_STATE fixture_ok \
		svc add 10.96.0.2:80 --backend 10.244.1.2:80 --backend 10.244.1.3:80
	SVCBPF_PIN_DIR=$FULL_PIN SVCBPF_STATE_DIR=$FULL_STATE fixture_ok \
		load eth1 --max-services 2 --max-backends 3 --maglev-size 251
}

teardown_file() {
	if [ -n "${CLI_NS:-}" ]; then
		svb unload >/dev/null 2>&1 || true
		SVCBPF_PIN_DIR=$FULL_PIN svb unload >/dev/null 2>&1 || true
	fi
	cli_ns_teardown
}

# A test that broke the store (corruption cases) gives it back to the next one.
teardown() {
	if [ -e "$M/store.orig" ]; then
		cp "$M/store.orig" "$MAIN_STATE/svcbpf.db"
		rm -f "$M/store.orig"
	fi
	if [ -e "/sys/fs/bpf/svcbpf-$CLI_ID-own" ]; then
		SVCBPF_PIN_DIR="/sys/fs/bpf/svcbpf-$CLI_ID-own" svb unload >/dev/null 2>&1 || true
	fi
}

# svb ARGS...: svcbpf in the test namespace, bounded in time.
svb() {
	timeout -k 2 60 nsenter --net="/run/netns/$CLI_NS" "$SVCBPF_BIN" "$@"
}

fixture_ok() {
	local out
	out=$(svb "$@" 2>&1) || e2e_fail "fixture: svcbpf $* failed: $out"
}

# The whole persistent state, as bytes: the state dirs' files, the file trees, and every
# pinned map and link of every pin dir of this file (the fixtures', and any a case might
# create). bpftool runs in batch mode: one process for the maps and links, one for the
# Maglev tables the outer maps hold.
snapshot() {
	local m id cmds="" out
	{
		find "$CLI_TMP" /sys/fs/bpf/svcbpf-"$CLI_ID"-* -path "$M" -prune -o \
			-printf '%p %y %m\n' 2>/dev/null | sort
		find "$CLI_TMP" -path "$M" -prune -o -type f -exec sha256sum {} + | sort -k2
		for m in /sys/fs/bpf/svcbpf-"$CLI_ID"-*/svcbpf_*; do
			[ -e "$m" ] || continue
			cmds+="map show pinned $m"$'\n'
			# A ring buffer has no entries to dump, and bpftool's batch stops after trying.
			# The counters count every packet the interface gets (IPv6 neighbour
			# discovery too): no command controls them.
			[[ $m == */svcbpf_evt_* || $m == */svcbpf_cnt_* ]] || cmds+="map dump pinned $m"$'\n'
		done
		for m in /sys/fs/bpf/svcbpf-"$CLI_ID"-*/links/*/*; do
			[ -e "$m" ] && cmds+="link show pinned $m"$'\n'
		done
		if [ -n "$cmds" ]; then
			out=$(bpftool -j batch file - <<<"$cmds" 2>&1)
			echo "$out"
			# The Maglev tables: the outer maps hold their ids (little-endian bytes).
			cmds=""
			for id in $(jq -r '.[]? | select(.command[1] == "dump" and
				(.command[3] | endswith("/svcbpf_mag_v1"))) |
				.output[].value | reverse | map(ltrimstr("0x")) | join("")' <<<"$out"); do
				cmds+="map dump id $((16#$id))"$'\n'
			done
			[ -z "$cmds" ] || bpftool -j batch file - <<<"$cmds" 2>&1
		fi
	} </dev/null
	true
}

# The state before a case: bad input changes nothing, so it is the state the last case
# left (checked then), or a fresh snapshot the first time and when the test changed the
# state on purpose (BAD_FRESH=1: a corrupted store). Halves the cost of a case.
snap_cache() {
	echo "$BATS_FILE_TMPDIR/snapshot"
}

before_state() {
	if [ -z "${BAD_FRESH:-}" ] && [ -e "$(snap_cache)" ]; then
		cat "$(snap_cache)"
	else
		snapshot
	fi
}

# check_bad PATTERN BEFORE WHAT: the last run failed as a bad input must.
check_bad() {
	local pattern=$1 before=$2 what=$3 after
	after=$(snapshot)
	[ -n "${BAD_FRESH:-}" ] || printf '%s\n' "$after" >"$(snap_cache)"
	assert_eq "exit code of '$what' (stderr: $stderr)" 1 "$status"
	assert_eq "stdout of '$what'" "" "$output"
	assert_eq "stderr lines of '$what' ($stderr)" 1 "${#stderr_lines[@]}"
	assert_match "error of '$what'" "^svcbpf: " "$stderr"
	assert_match "error of '$what'" "$pattern" "$stderr"
	[ "$before" = "$after" ] || e2e_fail "state changed by '$what':
$(diff <(echo "$before") <(echo "$after") | head -20)"
}

# bad PATTERN ARGS...: svcbpf ARGS fails with one line matching PATTERN, nothing changed.
bad() {
	local pattern=$1 before
	shift
	before=$(before_state)
	run --separate-stderr svb "$@"
	check_bad "$pattern" "$before" "svcbpf $*"
}

# bad_in FILE PATTERN ARGS...: the same, with stdin from FILE.
bad_in() {
	local in=$1 pattern=$2 before
	shift 2
	before=$(before_state)
	run --separate-stderr svb "$@" <"$in"
	check_bad "$pattern" "$before" "svcbpf $* <$in"
}

# bad_run PATTERN CMD...: any command line running svcbpf (unshare, setpriv).
bad_run() {
	local pattern=$1 before
	shift
	before=$(before_state)
	run --separate-stderr "$@"
	check_bad "$pattern" "$before" "$*"
}

# ------------------------------------------------------------------ addresses and ports

@test "address: octet out of range 10.96.0.300:80" {
	bad "invalid address '10.96.0.300:80': '10.96.0.300' is not an IPv4 address" \
		svc add 10.96.0.300:80 --backend 10.244.1.10:8080
}

@test "address: no IP ':80'" {
	bad "invalid address ':80': missing or bad IPv4 address" svc add :80
}

@test "address: port 0" {
	bad "port 0 out of range 1-65535" svc add 10.96.0.50:0 --backend 10.244.1.10:8080
}

@test "address: port 65536" {
	bad "port 65536 out of range 1-65535" svc add 10.96.0.50:65536 --backend 10.244.1.10:8080
}

@test "address: port 4294967376 (2^32 + 80) is not port 80" {
	bad "port 4294967376 out of range 1-65535" svc add 10.96.0.50:4294967376
}

@test "address: port -1" {
	bad "invalid address '10.96.0.50:-1': port must be a decimal number 1-65535" \
		svc add 10.96.0.50:-1 --backend 10.244.1.10:8080
}

@test "address: hex IP 0x0a.0x60.0.50" {
	bad "'0x0a.0x60.0.50' is not an IPv4 address" svc add 0x0a.0x60.0.50:80
}

@test "address: octal IP 012.96.0.50" {
	bad "'012.96.0.50' is not an IPv4 address" svc add 012.96.0.50:80
}

@test "address: short IP 10.96.50" {
	bad "'10.96.50' is not an IPv4 address" svc add 10.96.50:80
}

@test "address: hex port 0x50" {
	bad "invalid address '10.96.0.50:0x50': port must be a decimal" svc add 10.96.0.50:0x50
}

@test "address: octal port 080" {
	bad "invalid address '10.96.0.50:080': port must be a decimal" svc add 10.96.0.50:080
}

@test "address: trailing garbage 80abc" {
	bad "invalid address '10.96.0.50:80abc': port must be a decimal" svc add 10.96.0.50:80abc
}

@test "address: a second port 80:90" {
	bad "invalid address '10.96.0.50:80:90': port must be a decimal" svc add 10.96.0.50:80:90
}

@test "address: no port" {
	bad "invalid address '10.96.0.50': expected IP:PORT" svc add 10.96.0.50
}

@test "address: unknown protocol sctp" {
	bad "unknown protocol 'sctp' \(tcp or udp\)" svc add 10.96.0.50:80/sctp
}

@test "address: empty protocol" {
	bad "unknown protocol '' \(tcp or udp\)" svc del 10.96.0.50:80/
}

@test "address: multicast VIP" {
	bad "invalid service address '224.0.0.1:80': not a unicast address" svc add 224.0.0.1:80
}

@test "backend: port 65536" {
	bad "invalid address '10.244.1.10:65536': port 65536 out of range" \
		svc add 10.96.0.50:80 --backend 10.244.1.10:65536
}

@test "backend: equal to the VIP" {
	bad "invalid backend '10.96.0.50:8080': 10.96.0.50 is the service address itself" \
		svc add 10.96.0.50:80 --backend 10.96.0.50:8080
}

@test "backend: loopback" {
	bad "invalid backend '127.0.0.1:8080': not a unicast address" \
		backend add 10.96.0.50:80 127.0.0.1:8080
}

@test "backend: with a protocol" {
	bad "a backend takes no protocol" svc add 10.96.0.50:80 --backend 10.244.1.10:8080/udp
}

@test "backend: weight 10001" {
	bad "invalid weight '10001': must be 0-10000" \
		backend weight 10.96.0.50:80 10.244.1.10:8080 10001
}

@test "batch: a bad line 3 applies nothing of lines 1 and 2" {
	printf '%s\n' "svc del 10.96.0.50:80" "svc add 10.96.0.51:80 --backend 10.244.1.10:80" \
		"backend add 10.96.0.10:53/udp 10.244.1.11:65536" >"$M/batch.txt"
	bad "$M/batch.txt:3: invalid address '10.244.1.11:65536': port 65536 out of range" \
		batch "$M/batch.txt"
}

# ------------------------------------------------------------------ flags

@test "flags: missing VIP:PORT" {
	bad "svc add: missing VIP:PORT" svc add --backend 10.244.1.10:8080
}

@test "flags: --backend without a value" {
	bad "--backend needs IP:PORT" svc add 10.96.0.50:80 --backend
}

@test "flags: --backend= empty" {
	bad "--backend needs IP:PORT" svc add 10.96.0.50:80 --backend=
}

@test "flags: unknown option" {
	bad "svc add: unknown option '--bogus'" svc add 10.96.0.50:80 --bogus
}

@test "flags: the same backend twice" {
	bad "backend 10.244.2.15:8080 given twice" \
		svc add 10.96.0.50:80 --backend 10.244.2.15:8080 --backend 10.244.2.15:8080
}

@test "flags: --affinity twice" {
	bad "svc add: --affinity given twice" \
		svc add 10.96.0.50:80 --backend 10.244.1.10:8080 --affinity none --affinity client-ip
}

@test "flags: --affinity timeout 0" {
	bad "invalid affinity 'client-ip,timeout=0': invalid affinity timeout '0': must be 1-86400" \
		svc add 10.96.0.50:80 --affinity client-ip,timeout=0
}

@test "flags: svc explain --proto twice" {
	bad "svc explain: --proto given twice" \
		svc explain 10.96.0.50:80 --from 10.0.0.1:5000 --proto tcp --proto udp
}

@test "flags: svc explain --from twice" {
	bad "svc explain: --from given twice" \
		svc explain 10.96.0.50:80 --from 10.0.0.1:5000 --from 10.0.0.2:5000
}

@test "flags: svc explain without --from" {
	bad "svc explain: needs VIP:PORT and --from IP:PORT" svc explain 10.96.0.50:80
}

@test "flags: load --maglev-size twice" {
	bad "load: --maglev-size given twice" load eth0 --maglev-size 251 --maglev-size 251
}

@test "flags: load --max-services twice" {
	bad "load: --max-services given twice" load eth0 --max-services 4 --max-services 8
}

@test "flags: load --xdp twice" {
	bad "load: --xdp given twice" load eth0 --xdp --xdp
}

@test "flags: load --ct-size without a number" {
	bad "--ct-size needs a number" load eth0 --ct-size
}

@test "flags: --pin-dir twice" {
	bad "--pin-dir given twice" --pin-dir "$MAIN_PIN" --pin-dir "$FULL_PIN" svc list
}

@test "flags: --state-dir twice" {
	bad "--state-dir given twice" --state-dir "$MAIN_STATE" svc list --state-dir "$FULL_STATE"
}

@test "flags: the output format twice" {
	bad "the output format \(-o\) given twice" -o plain svc list -j
}

@test "flags: apply --service-cidr twice" {
	bad "apply: --service-cidr given twice" \
		apply -f "$M/web.yaml" --service-cidr 10.96.0.0/12 --service-cidr 10.0.0.0/8
}

@test "flags: get -n twice" {
	bad "get: the namespace \(-n\) given twice" get services -n default --namespace=kube-system
}

# ------------------------------------------------------------------ what is not there

@test "missing: svc del of a service that does not exist" {
	bad "cannot delete 10.96.0.99:80/tcp: no such service" svc del 10.96.0.99:80
}

@test "missing: svc del of the right address with the wrong protocol" {
	bad "cannot delete 10.96.0.50:80/udp: no such service" svc del 10.96.0.50:80/udp
}

@test "missing: backend del of a backend the service does not have" {
	bad "cannot delete backend 10.244.9.9:8080: not a backend of 10.96.0.50:80/tcp" \
		backend del 10.96.0.50:80 10.244.9.9:8080
}

@test "missing: backend del on a service that does not exist" {
	bad "cannot delete backend 10.244.1.10:8080: no service 10.96.0.99:80/tcp" \
		backend del 10.96.0.99:80 10.244.1.10:8080
}

@test "missing: delete service NAME that does not exist" {
	bad "Service default/nope: not found" delete service nope
}

@test "missing: unload when nothing is loaded" {
	export SVCBPF_PIN_DIR="/sys/fs/bpf/svcbpf-$CLI_ID-own"
	bad "nothing is loaded \(no pins in $SVCBPF_PIN_DIR\)" unload
}

@test "missing: unload of an interface that is not loaded" {
	bad "eth1 is not loaded" unload eth1
}

@test "missing: load on an interface that does not exist" {
	bad "cannot load on eth9: no such interface" load eth0 eth9
}

# ------------------------------------------------------------------ sizes and full maps

@test "sizes: --ct-size 1 (too small to hold a flow's two entries)" {
	bad "invalid ct-size '1': must be 2-67108864" load eth0 --ct-size 1
}

@test "sizes: --ct-size 0x100" {
	bad "invalid ct-size '0x100': not a decimal number" load eth0 --ct-size 0x100
}

@test "sizes: --maglev-size 1000 is not a prime" {
	bad "invalid --maglev-size 1000: not a prime" load eth0 --maglev-size 1000
}

@test "sizes: resize while pinned" {
	bad "cannot resize --max-services to 8: pinned with 65536 entries" \
		load eth0 --max-services 8
}

@test "full: service map (2 of 2)" {
	export SVCBPF_PIN_DIR=$FULL_PIN SVCBPF_STATE_DIR=$FULL_STATE
	bad "cannot add 10.96.0.3:80/tcp: service map full \(2 entries; raise --max-services\)" \
		svc add 10.96.0.3:80 --backend 10.244.1.1:80
}

@test "full: backend map (3 of 3)" {
	export SVCBPF_PIN_DIR=$FULL_PIN SVCBPF_STATE_DIR=$FULL_STATE
	bad "backend map full \(3 entries; raise --max-backends\)" \
		backend add 10.96.0.1:80 10.244.1.4:80
}

@test "full: service map, through a manifest" {
	export SVCBPF_PIN_DIR=$FULL_PIN SVCBPF_STATE_DIR=$FULL_STATE
	bad "cannot apply: service map full \(2 entries; raise --max-services\)" \
		apply -f "$M/web.yaml"
}

# backends N: "--backend IP:PORT" N times, N distinct pod addresses, into the array args
# (awk: a loop in a test body is slow under bats' debug trap).
backends() {
	mapfile -t args < <(awk -v n="$1" 'BEGIN { for (i = 1; i <= n; i++)
		printf "--backend\n10.245.%d.%d:8080\n", int(i / 250), i % 250 + 1 }')
}

@test "full: more backends (252) than the Maglev table's 251 slots" {
	local args
	backends 252
	bad "cannot add 10.96.0.50:80/tcp: 252 backends, more than the 251 Maglev slots" \
		svc add 10.96.0.50:80 "${args[@]}"
}

@test "full: more backends (4097) than a service may have (4096)" {
	local args
	backends 4097
	bad "cannot add 10.96.0.50:80: 4097 backends, at most 4096" \
		svc add 10.96.0.50:80 "${args[@]}"
}

@test "full: a full (LRU) conntrack makes no command fail" {
	local ct out
	export SVCBPF_PIN_DIR="/sys/fs/bpf/svcbpf-$CLI_ID-own" SVCBPF_STATE_DIR="$M/own"
	fixture_ok svc add 10.96.0.2:80 --backend 10.244.1.2:80 --backend 10.244.1.3:80
	fixture_ok load eth1 --ct-size 2
	ct=$SVCBPF_PIN_DIR/svcbpf_ct_v3
	# Four flows to 10.244.1.2 (backend id 1) into a map of 2: LRU evicts, never refuses.
	for i in 1 2 3 4; do
		bpftool map update pinned "$ct" \
			key hex 0a 00 00 0$i 0a 60 00 02 13 88 00 50 06 01 00 00 \
			value hex 0a f4 01 02 00 50 01 00 01 00 00 00 01 00 00 00 \
			00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00 ||
			e2e_fail "bpftool could not write conntrack"
	done
	out=$(bpftool -j map dump pinned "$ct" | jq length)
	assert_eq "conntrack entries (max 2)" 2 "$out"
	for cmd in "ct list" "status" "svc list" "svc explain 10.96.0.2:80 --from 10.0.0.1:5000" \
		"svc add 10.96.0.3:80 --backend 10.244.1.4:80" \
		"backend add 10.96.0.2:80 10.244.1.5:80" "backend del 10.96.0.2:80 10.244.1.2:80" \
		"sync" "ct flush 10.96.0.2:80" "svc del 10.96.0.3:80"; do
		# shellcheck disable=SC2086 # the words of the command
		run svb $cmd
		assert_eq "exit of 'svcbpf $cmd' with conntrack full ($output)" 0 "$status"
	done
	fixture_ok unload
}

# ------------------------------------------------------------------ bpffs, state directory

@test "bpffs: load with a pin dir that is not on bpffs creates nothing" {
	mkdir -p "$M/notbpf"
	bad "pin dir $M/notbpf/pins is not on a bpf filesystem \(mount -t bpf bpf $M/notbpf\)" \
		--pin-dir "$M/notbpf/pins" load eth0
	[ -z "$(ls -A "$M/notbpf")" ] || e2e_fail "a refused load created $(ls -A "$M/notbpf")"
}

@test "bpffs: a change with an existing pin dir that is not on bpffs is refused" {
	mkdir -p "$M/notbpf2"
	bad "pin dir $M/notbpf2 is not on a bpf filesystem" \
		--pin-dir "$M/notbpf2" svc add 10.96.0.51:80 --backend 10.244.1.10:8080
}

@test "bpffs: a pin dir under a regular file" {
	: >"$M/afile"
	bad "cannot create pin dir $M/afile/pins: $M/afile is not a directory" \
		--pin-dir "$M/afile/pins" load eth0
}

@test "bpffs: a read-only bpffs" {
	mkdir -p "$M/robpf"
	# shellcheck disable=SC2016 # expanded by the inner shell
	bad_run "cannot create pin dir $M/robpf/pins: Read-only file system" \
		unshare -m sh -c 'mount -t bpf -o ro bpf "$1" &&
			exec timeout -k 2 60 nsenter --net="/run/netns/$CLI_NS" "$SVCBPF_BIN" \
			--pin-dir "$1/pins" load eth0' sh "$M/robpf"
}

@test "state dir: read-only, a change" {
	# shellcheck disable=SC2016 # expanded by the inner shell
	bad_run "cannot open $MAIN_STATE/lock: Read-only file system" \
		unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" &&
			exec timeout -k 2 60 nsenter --net="/run/netns/$CLI_NS" "$SVCBPF_BIN" \
			svc add 10.96.0.51:80 --backend 10.244.1.10:8080' sh "$MAIN_STATE"
}

@test "state dir: read-only, a read" {
	# shellcheck disable=SC2016 # expanded by the inner shell
	bad_run "cannot open the store in $MAIN_STATE: the state directory is not writable \(Read-only file system\)" \
		unshare -m sh -c 'mount --bind "$1" "$1" && mount -o remount,ro,bind "$1" &&
			exec timeout -k 2 60 nsenter --net="/run/netns/$CLI_NS" "$SVCBPF_BIN" \
			svc list' sh "$MAIN_STATE"
}

@test "state dir: a regular file" {
	: >"$M/statefile"
	bad "cannot open $M/statefile/lock: Not a directory" \
		--state-dir "$M/statefile" svc add 10.96.0.51:80
	[ -f "$M/statefile" ] && [ ! -s "$M/statefile" ] || e2e_fail "the state file was changed"
}

@test "store: truncated SQLite file" {
	cp "$MAIN_STATE/svcbpf.db" "$M/store.orig"
	BAD_FRESH=1
	truncate -s 8192 "$MAIN_STATE/svcbpf.db"
	bad "cannot read store $MAIN_STATE/svcbpf.db: database disk image is malformed" \
		svc add 10.96.0.51:80 --backend 10.244.1.10:8080
}

@test "store: truncated SQLite file, load" {
	cp "$MAIN_STATE/svcbpf.db" "$M/store.orig"
	BAD_FRESH=1
	truncate -s 8192 "$MAIN_STATE/svcbpf.db"
	bad "cannot read store $MAIN_STATE/svcbpf.db: database disk image is malformed" load eth0
}

@test "store: a file of garbage" {
	cp "$MAIN_STATE/svcbpf.db" "$M/store.orig"
	BAD_FRESH=1
	head -c 32768 "$SVCBPF_BIN" >"$MAIN_STATE/svcbpf.db"
	bad "cannot read store $MAIN_STATE/svcbpf.db: file is not a database" svc list
}

@test "store: the fixture is whole again after the corruption cases" {
	# The corruption cases copy the store aside and put it back (teardown): the fixture
	# must be whole again, programmed as before.
	run svb svc list -o json
	assert_eq "svc list after the corruption cases" 0 "$status"
	run jq -r '[.services[] | "\(.address):\(.port)/\(.protocol)=\(.state)"] | join(" ")' \
		<<<"$output"
	assert_eq "services" \
		"10.96.0.10:53/udp=programmed 10.96.0.50:80/tcp=programmed 10.96.0.60:80/tcp=programmed" \
		"$output"
}

# ------------------------------------------------------------------ privileges

@test "non-root: svc add" {
	bad_run "needs root \(or CAP_BPF and CAP_NET_ADMIN\)" \
		setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$SVCBPF_BIN" svc add 10.96.0.51:80 --backend 10.244.1.10:8080
}

@test "non-root: load" {
	bad_run "needs root \(or CAP_BPF and CAP_NET_ADMIN\)" nsenter --net="/run/netns/$CLI_NS" \
		setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$SVCBPF_BIN" load eth0
}

@test "non-root: apply" {
	bad_run "needs root \(or CAP_BPF and CAP_NET_ADMIN\)" \
		setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all \
		"$SVCBPF_BIN" apply -f "$M/web.yaml"
}

@test "non-root: unload, with CAP_BPF but not CAP_NET_ADMIN" {
	bad_run "needs root \(or CAP_BPF and CAP_NET_ADMIN\)" \
		setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all,+bpf \
		--ambient-caps=+bpf "$SVCBPF_BIN" unload
}

# ------------------------------------------------------------------ manifests

@test "manifest: not YAML" {
	printf 'kind: Service\nmetadata: name: web: [\n' >"$M/notyaml.yaml"
	bad "$M/notyaml.yaml:2:[0-9]+: " apply -f "$M/notyaml.yaml"
}

@test "manifest: JSON cut short" {
	printf '{"apiVersion": "v1", "kind": "Service",\n "metadata": {"name": "x"' >"$M/cut.json"
	bad "$M/cut.json:[0-9]+:[0-9]+: " apply -f "$M/cut.json"
}

@test "manifest: binary garbage (not UTF-8)" {
	printf '\xff\xfe\x80\x81kind\xc3\x28: Service\n' >"$M/garbage.yaml"
	bad "$M/garbage.yaml:1:1: invalid UTF-8" apply -f "$M/garbage.yaml"
}

@test "manifest: a binary (the start of the svcbpf executable)" {
	head -c 65536 "$SVCBPF_BIN" >"$M/prog.yaml"
	bad "$M/prog.yaml:1:[0-9]+: a NUL byte: binary data, not YAML or JSON" apply -f "$M/prog.yaml"
}

@test "manifest: a NUL byte after a valid Service applies nothing" {
	{
		printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: nul\nspec:\n'
		printf '  ports:\n  - port: 80\n\0garbage: [\n'
	} >"$M/nul.yaml"
	bad "$M/nul.yaml:8:1: a NUL byte: binary data" apply -f "$M/nul.yaml"
}

# big_manifest: one valid Service of 50 MB (an annotation), in $M/big.yaml.
big_manifest() {
	[ -e "$M/big.yaml" ] && return 0
	{
		printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: big\n  annotations:\n    a: "'
		head -c $((50 * 1000 * 1000)) /dev/zero | tr '\0' x
		printf '"\nspec:\n  ports:\n  - port: 80\n'
	} >"$M/big.yaml"
}

@test "manifest: 50 MB is refused before it is parsed" {
	local t0
	big_manifest
	t0=$SECONDS
	bad "^svcbpf: $M/big.yaml: 5000[0-9]{4} bytes, more than the 3 MiB a manifest may have \(kube-apiserver's request limit\)$" \
		apply -f "$M/big.yaml"
	((SECONDS - t0 < 10)) || e2e_fail "refusing 50 MB took $((SECONDS - t0)) s"
}

@test "manifest: 50 MB on stdin is refused" {
	big_manifest
	bad_in "$M/big.yaml" "^svcbpf: -: 5000[0-9]{4} bytes, more than the 3 MiB" apply -f -
	rm -f "$M/big.yaml"
}

# pipe_in FILE ARGS...: svcbpf ARGS reading FILE from a pipe.
pipe_in() {
	cat "$1" | svb "${@:2}"
}

# bad_pipe FILE PATTERN ARGS...: the same, with FILE piped in (no size known up front).
bad_pipe() {
	local in=$1 pattern=$2 before
	shift 2
	before=$(before_state)
	run --separate-stderr pipe_in "$in" "$@"
	check_bad "$pattern" "$before" "cat $in | svcbpf $*"
}

@test "manifest: 50 MB and a NUL byte through a pipe are refused too" {
	big_manifest
	bad_pipe "$M/big.yaml" "^svcbpf: -: more than the 3 MiB a manifest may have" apply -f -
	rm -f "$M/big.yaml"
	{
		printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: nul\nspec:\n'
		printf '  ports:\n  - port: 80\n\0garbage: [\n'
	} >"$M/nul.yaml"
	bad_pipe "$M/nul.yaml" "^svcbpf: -:8:1: a NUL byte: binary data" apply -f -
}

@test "manifest: nested 10000 deep (flow)" {
	{
		printf 'a: '
		head -c 10000 /dev/zero | tr '\0' '['
		head -c 10000 /dev/zero | tr '\0' ']'
		printf '\n'
	} >"$M/deep.yaml"
	bad "$M/deep.yaml:1:[0-9]+: Max depth \([0-9]+\) exceeded" apply -f "$M/deep.yaml"
}

@test "manifest: nested 10000 deep (mappings in a Service's labels)" {
	{
		printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: deep\n  labels: '
		printf '{a: %.0s' $(seq 10000)
		printf '1'
		printf '}%.0s' $(seq 10000)
		printf '\n'
	} >"$M/deepblock.yaml"
	bad "$M/deepblock.yaml:5:[0-9]+: Max depth \([0-9]+\) exceeded" apply -f "$M/deepblock.yaml"
}

@test "manifest: a billion laughs (aliases that expand 9^10 times)" {
	{
		printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: lol\n  annotations:\n'
		printf '    a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
		local prev=a n
		for n in b c d e f g h i j; do
			printf '    %s: &%s [*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s,*%s]\n' "$n" "$n" \
				$prev $prev $prev $prev $prev $prev $prev $prev $prev
			prev=$n
		done
		printf 'spec:\n  ports:\n  - port: 80\n'
	} >"$M/lol.yaml"
	bad "$M/lol.yaml:[0-9]+:[0-9]+: document too large: more than [0-9]+ values \(with aliases expanded\)" \
		apply -f "$M/lol.yaml"
}

@test "manifest: port: \"eighty\"" {
	printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n  - port: "eighty"\n' \
		>"$M/eighty.yaml"
	bad "$M/eighty.yaml: document 1 \(line 1\): spec.ports\[0\].port: expected a number, got a string" \
		apply -f "$M/eighty.yaml"
}

@test "manifest: ports: {}" {
	printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports: {}\n' \
		>"$M/portsmap.yaml"
	bad "spec.ports: expected a list, got an object" apply -f "$M/portsmap.yaml"
}

@test "manifest: port 70000" {
	printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  ports:\n  - port: 70000\n' \
		>"$M/port70000.yaml"
	bad "spec.ports\[0\].port: must be 1-65535, not 70000" apply -f "$M/port70000.yaml"
}

@test "manifest: a document that is a list" {
	printf -- '- 1\n- 2\n' >"$M/list.yaml"
	bad "$M/list.yaml: document 1 \(line 1\): document: expected an object, got a list" \
		apply -f "$M/list.yaml"
}

@test "manifest: unknown kind, nothing else" {
	printf 'apiVersion: v1\nkind: Frobnicator\nmetadata:\n  name: x\n' >"$M/frob.yaml"
	bad "no objects to apply: $M/frob.yaml: document 1: Frobnicator/x: svcbpf does not handle this kind" \
		apply -f "$M/frob.yaml"
}

@test "manifest: empty (comments only)" {
	printf '# nothing here\n---\n' >"$M/empty.yaml"
	bad "no objects passed to apply" apply -f "$M/empty.yaml"
}

@test "manifest: no metadata" {
	printf 'apiVersion: v1\nkind: Service\nspec:\n  ports:\n  - port: 80\n' >"$M/nometa.yaml"
	bad "document 1 \(line 1\): metadata: required" apply -f "$M/nometa.yaml"
}

@test "manifest: no apiVersion" {
	printf 'kind: Service\nmetadata:\n  name: x\n' >"$M/noapi.yaml"
	bad "document 1 \(line 1\): apiVersion: required" apply -f "$M/noapi.yaml"
}

@test "manifest: clusterIP outside the service CIDR" {
	printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  clusterIP: 10.200.0.1\n  ports:\n  - port: 80\n' \
		>"$M/cidr.yaml"
	bad "spec.clusterIP: 10.200.0.1 is not in the service CIDR" apply -f "$M/cidr.yaml"
}

@test "manifest: clusterIP a CLI service has" {
	printf 'apiVersion: v1\nkind: Service\nmetadata:\n  name: x\nspec:\n  clusterIP: 10.96.0.50\n  ports:\n  - port: 80\n' \
		>"$M/taken.yaml"
	bad "spec.clusterIP: 10.96.0.50 is already allocated to a service added with 'svcbpf svc add'" \
		apply -f "$M/taken.yaml"
}

@test "manifest: the same Service twice" {
	bad "given twice \(first in $M/web.yaml: document 1" apply -f "$M/web.yaml" -f "$M/web.yaml"
}

@test "manifest: a file that does not exist" {
	bad "cannot read $M/nope.yaml: No such file or directory" apply -f "$M/nope.yaml"
}

@test "manifest: -f without a file" {
	bad "apply: -f needs a file, a directory or -" apply -f
}

# ------------------------------------------------------------------ the harness itself

@test "harness: the snapshot sees one map entry and one store change (last: moves the state)" {
	local a b aff="$MAIN_PIN/svcbpf_aff_v1"
	a=$(snapshot)
	# A client affinity (client 10.0.0.1, service 1 -> backend 1), written behind svcbpf's back.
	bpftool map update pinned "$aff" key hex 0a 00 00 01 01 00 00 00 \
		value hex 01 00 00 00 00 00 00 00 00 00 00 00 00 00 00 00
	b=$(snapshot)
	[ "$a" != "$b" ] || e2e_fail "the snapshot missed a map entry"
	bpftool map delete pinned "$aff" key hex 0a 00 00 01 01 00 00 00
	assert_eq "snapshot once the entry is gone" "$a" "$(snapshot)"
	rm -f "$(snap_cache)" # from here the state moves on purpose
	run svb backend weight 10.96.0.50:80 10.244.1.10:8080 2
	assert_eq "a weight change ($output)" 0 "$status"
	b=$(snapshot)
	[ "$a" != "$b" ] || e2e_fail "the snapshot missed a weight change"
}
