#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# Install the Debian packages svcbpf's build, tests and demo need (as root,
# without sudo). Does nothing when they are all present.
set -euo pipefail

pkgs=(
	make gcc clang llvm pkg-config
	libbpf-dev libelf-dev zlib1g-dev bpftool
	libsqlite3-dev libjansson-dev libfyaml-dev libcmocka-dev
	# svcbpf agent's /metrics, and the parser its test checks the exposition with
	libmicrohttpd-dev python3-prometheus-client
	iproute2 ethtool socat curl bats jq perl python3 procps util-linux
	# the fuzzers (clang's libFuzzer and sanitizer runtimes) and memcheck
	libclang-rt-14-dev valgrind
	# make bench (and its smoke test): the other dataplanes and the traffic tools
	nginx-light iperf3 gnuplot-nox nftables iptables conntrack
)

missing=()
for p in "${pkgs[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing+=("$p")
done
((${#missing[@]})) || exit 0

if [[ $(id -u) -ne 0 ]]; then
	echo "deps: missing packages: ${missing[*]}; run as root to install them" >&2
	exit 1
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# The bench runs its own nginx inside a pod namespace; never one on the machine's port 80.
if [[ " ${missing[*]} " == *" nginx-light "* ]] && [[ -d /run/systemd/system ]]; then
	systemctl disable --now nginx >/dev/null 2>&1 || true
fi
