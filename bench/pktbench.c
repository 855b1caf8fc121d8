// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * pktbench - per-packet cost of the built programs, by BPF_PROG_TEST_RUN.
 *
 * The maps hold N services of B backends each (programmed by the same
 * reconciler as the CLI, into private unpinned maps). Each packet is run
 * once per call and timed by the kernel (the `duration` of a one-repeat
 * run), because with repeat > 1 the kernel reruns the program on the packet
 * it has already rewritten: every run after the first would measure a
 * non-service packet. New flows use distinct source ports; established
 * flows replay the same packets once conntrack holds them. The floor is
 * svcbpf's own parser followed by a pass (bench/floor.bpf.c), timed the
 * same way, so the fixed timing overhead cancels in the ratios.
 *
 * Prints one JSON object: ns per packet, median, p10 and p90, per case.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <jansson.h>

#include "floor.bpf.skel.h"
#include "loader.h"
#include "maps.h"
#include "pkt.h"
#include "svcbpf.bpf.skel.h"
#include "svcbpf.h"

#define CLIENT 0x0af40005 /* 10.244.0.5 */

struct opts {
	uint32_t services;
	uint32_t backends;
	uint32_t runs;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* ns of one run of @fd on @frame, as the kernel timed it; 0 on failure. */
static uint32_t run_once(int fd, const uint8_t *frame, size_t len)
{
	uint8_t out[PKT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = sizeof(out), .repeat = 1);

	if (bpf_prog_test_run_opts(fd, &o))
		return 0;
	return o.duration;
}

/* Median and spread of @ns[0..n) as a JSON object. */
static json_t *summary(uint32_t *ns, size_t n)
{
	qsort(ns, n, sizeof(*ns), cmp_u32);
	return json_pack("{s:I, s:I, s:I, s:I}", "median", (json_int_t)ns[n / 2], "p10",
			 (json_int_t)ns[n / 10], "p90", (json_int_t)ns[n * 9 / 10], "runs",
			 (json_int_t)n);
}

/* Service @i: 10.96.0.0/12 + i, port 80; backend j of it in 10.244.0.0/16. */
static uint32_t vip_of(uint32_t i)
{
	return 0x0a600000 + 1 + i;
}

static int program(const struct dp_maps *m, const struct opts *o)
{
	struct be_rec *be = calloc(o->backends, sizeof(*be));
	char err[ERR_LEN];
	int ret = 0;

	if (!be)
		return -ENOMEM;
	for (uint32_t i = 0; i < o->services && !ret; i++) {
		struct svc_rec r = { .id = i + 1,
				     .addr = { vip_of(i), 80, IPPROTO_TCP },
				     .nbe = o->backends,
				     .be = be };

		for (uint32_t j = 0; j < o->backends; j++)
			be[j] = (struct be_rec){
				.id = (int64_t)i * o->backends + j + 1,
				.addr = { 0x0af40000 + ((i * o->backends + j) % 65000) + 256, 8080,
					  IPPROTO_TCP },
				.weight = 1
			};
		ret = dp_sync_service(m, &r, err);
		if (ret)
			fprintf(stderr, "pktbench: %s\n", err);
	}
	free(be);
	return ret;
}

/* Time @fd over @runs frames from @spec with source ports 1024.. (one run each). */
static json_t *measure(int fd, struct pkt_spec spec, uint32_t runs, bool vary_port)
{
	uint32_t *ns = calloc(runs, sizeof(*ns));
	uint8_t frame[PKT_MAX];
	size_t n = 0;
	json_t *j;

	if (!ns)
		return json_null();
	for (uint32_t r = 0; r < runs; r++) {
		size_t len;
		uint32_t d;

		if (vary_port) {
			spec.saddr = CLIENT + (r >> 16);
			spec.sport = (uint16_t)(1024 + (r & 0xffff) % 64000);
		}
		len = pkt_build(frame, &spec);
		d = run_once(fd, frame, len);
		if (d)
			ns[n++] = d;
	}
	j = n ? summary(ns, n) : json_null();
	free(ns);
	return j;
}

static void flush_ct(int fd)
{
	struct ct_key key;

	while (!bpf_map_get_next_key(fd, NULL, &key))
		bpf_map_delete_elem(fd, &key);
}

static int usage(void)
{
	fprintf(stderr, "Usage: pktbench [--services N] [--backends B] [--runs R]\n");
	return 2;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "services", required_argument, NULL, 's' },
		{ "backends", required_argument, NULL, 'b' },
		{ "runs", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .services = 1, .backends = 10, .runs = 20000 };
	struct svcbpf_bpf *skel = NULL;
	struct floor_bpf *floor = NULL;
	struct pkt_spec syn, est, other, xdp_new;
	struct dp_maps m;
	json_t *res, *tc, *xdp, *fl;
	int c, ret = 1;

	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		unsigned long v;
		char *end;

		if (c == '?' || !optarg)
			return usage();
		v = strtoul(optarg, &end, 10);
		if (*end || v == 0 || v > 1000000)
			return usage();
		if (c == 's')
			o.services = (uint32_t)v;
		else if (c == 'b')
			o.backends = (uint32_t)v;
		else
			o.runs = (uint32_t)v;
	}
	if (o.backends > SVCBPF_MAX_SVC_BACKENDS)
		return usage();

	libbpf_set_print(NULL);
	skel = svcbpf_bpf__open();
	floor = floor_bpf__open_and_load();
	if (!skel || !floor)
		goto fail;
	bpf_map__set_max_entries(skel->maps.svcbpf_svc_v2, o.services + 1);
	bpf_map__set_max_entries(skel->maps.svcbpf_mag_v1, o.services + 1);
	bpf_map__set_max_entries(skel->maps.svcbpf_be_v1, o.services * o.backends + 1);
	bpf_map__set_max_entries(skel->maps.svcbpf_ct_v3, 4 * o.runs + 1024);
	if (dp_load_unpinned(skel, &m))
		goto fail;
	if (program(&m, &o))
		goto fail;

	/* The service in the middle, as the iptables column places its own. */
	syn = (struct pkt_spec){ .saddr = CLIENT,
				 .daddr = vip_of(o.services / 2),
				 .sport = 1024,
				 .dport = 80,
				 .proto = IPPROTO_TCP,
				 .tcp_flags = 0x02 };
	est = syn;
	est.tcp_flags = 0x10;
	est.payload = 64;
	/* Not for a service: a pod's ordinary traffic (an ACK, not a connection start). */
	other = est;
	other.daddr = 0x0af4010a; /* a pod, directly */
	other.dport = 8080;
	/*
	 * XDP leaves connection starts (and UDP) to tc, so its new-flow path runs
	 * on the first packet it sees of a flow it does not track: an ACK.
	 */
	xdp_new = est;
	xdp_new.payload = 0;

	tc = json_object();
	json_object_set_new(tc, "new_flow",
			    measure(bpf_program__fd(skel->progs.svcbpf_tc_ingress), syn, o.runs,
				    true));
	json_object_set_new(tc, "established",
			    measure(bpf_program__fd(skel->progs.svcbpf_tc_ingress), est, o.runs,
				    true));
	json_object_set_new(tc, "non_service",
			    measure(bpf_program__fd(skel->progs.svcbpf_tc_ingress), other, o.runs,
				    false));
	flush_ct(m.ct);
	xdp = json_object();
	json_object_set_new(xdp, "new_flow",
			    measure(bpf_program__fd(skel->progs.svcbpf_xdp_ingress), xdp_new,
				    o.runs, true));
	json_object_set_new(xdp, "established",
			    measure(bpf_program__fd(skel->progs.svcbpf_xdp_ingress), est, o.runs,
				    true));
	json_object_set_new(xdp, "non_service",
			    measure(bpf_program__fd(skel->progs.svcbpf_xdp_ingress), other, o.runs,
				    false));
	fl = json_object();
	json_object_set_new(fl, "tc",
			    measure(bpf_program__fd(floor->progs.floor_tc), syn, o.runs, true));
	json_object_set_new(fl, "xdp",
			    measure(bpf_program__fd(floor->progs.floor_xdp), syn, o.runs, true));

	res = json_pack("{s:I, s:I, s:I, s:s, s:o, s:o, s:o}", "services", (json_int_t)o.services,
			"backends_per_service", (json_int_t)o.backends, "runs", (json_int_t)o.runs,
			"unit", "ns/packet", "tc", tc, "xdp", xdp, "floor", fl);
	json_dumpf(res, stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	putchar('\n');
	json_decref(res);
	ret = 0;
fail:
	if (ret)
		fprintf(stderr,
			"pktbench: cannot load or program the BPF objects (root needed): %s\n",
			strerror(errno));
	svcbpf_bpf__destroy(skel);
	floor_bpf__destroy(floor);
	return ret;
}
