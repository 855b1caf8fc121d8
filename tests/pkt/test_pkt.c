// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_pkt.c - the built BPF programs, run on crafted frames through
 * BPF_PROG_TEST_RUN (needs root). Maps are filled by the same reconciler the
 * CLI uses. Each translated frame is compared byte for byte with the input
 * plus the expected rewrite, whose checksums are computed from scratch; the
 * expected backend comes from the userspace mirror of the flow hash.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include <cmocka.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "maglev.h"
#include "maps.h"
#include "pkt.h"
#include "svcbpf.bpf.skel.h"
#include "svcbpf.h"

#define CLIENT 0x0af40005 /* 10.244.0.5 */
#define VIP_TCP 0x0a600032 /* 10.96.0.50 */
#define VIP_UDP 0x0a60000a /* 10.96.0.10 */
#define VIP_EMPTY 0x0a600063 /* 10.96.0.99: no backends */

static struct svcbpf_bpf *skel;
static struct dp_maps maps;

static struct be_rec tcp_be[] = {
	{ 11, { 0x0af4010a, 8080, IPPROTO_TCP }, 1, SVCBPF_BE_ACTIVE }, /* 10.244.1.10 */
	{ 12, { 0x0af4020f, 8080, IPPROTO_TCP }, 1, SVCBPF_BE_ACTIVE }, /* 10.244.2.15 */
	{ 13, { 0x0af40314, 8080, IPPROTO_TCP }, 1, SVCBPF_BE_ACTIVE }, /* 10.244.3.20 */
	{ 14, { 0x0af40419, 8080, IPPROTO_TCP }, 1, SVCBPF_BE_ACTIVE }, /* 10.244.4.25 */
};
static struct be_rec udp_be[] = {
	{ 21, { 0x0af4010a, 53, IPPROTO_UDP }, 1, SVCBPF_BE_ACTIVE },
};
static struct svc_rec svc_tcp = { .id = 1,
				  .addr = { VIP_TCP, 80, IPPROTO_TCP },
				  .nbe = 3,
				  .be = tcp_be };
static struct svc_rec svc_udp = { .id = 2,
				  .addr = { VIP_UDP, 53, IPPROTO_UDP },
				  .nbe = 1,
				  .be = udp_be };
static struct svc_rec svc_empty = { .id = 3, .addr = { VIP_EMPTY, 80, IPPROTO_TCP } };

enum prog { TC_IN, TC_EG, XDP_IN };
static const char *const prog_name[] = { "tc ingress", "tc egress", "xdp" };

static int prog_fd(enum prog p)
{
	return bpf_program__fd(p == TC_IN ? skel->progs.svcbpf_tc_ingress :
			       p == TC_EG ? skel->progs.svcbpf_tc_egress :
					    skel->progs.svcbpf_xdp_ingress);
}

/* The verdict meaning "let it through" for @p. */
static int pass_verdict(enum prog p)
{
	/* tc passes with TC_ACT_UNSPEC: the next tcx program or filter runs too. */
	return p == XDP_IN ? XDP_PASS : TC_ACT_UNSPEC;
}

static int drop_verdict(enum prog p)
{
	return p == XDP_IN ? XDP_DROP : TC_ACT_SHOT;
}

/* Run @p on @in; returns the program's verdict (the run itself must work). */
static int run(enum prog p, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = PKT_MAX, .repeat = 1);
	int err = bpf_prog_test_run_opts(prog_fd(p), &o);

	if (err)
		fail_msg("%s: BPF_PROG_TEST_RUN on %zu bytes failed: %s", prog_name[p], len,
			 strerror(errno));
	*out_len = o.data_size_out;
	return (int)o.retval;
}

static void flush_ct(void)
{
	struct ct_key key;

	while (!bpf_map_get_next_key(maps.ct, NULL, &key))
		bpf_map_delete_elem(maps.ct, &key);
}

static uint64_t counter(enum svcbpf_counter c)
{
	struct counter_value v[SVCBPF_CNT_MAX];

	assert_int_equal(dp_read_counters(&maps, v), 0);
	return v[c].packets;
}

/* The backend the userspace mirror of the selection (maglev.c) picks for @s. */
static const struct be_rec *mirror_pick(const struct pkt_spec *s, const struct svc_rec *r)
{
	static uint32_t table[SVCBPF_MAGLEV_M];
	struct l4addr client = { s->saddr, s->sport, s->proto };
	struct l4addr svc = { s->daddr, s->dport, s->proto };
	uint32_t slot = maglev_slot(&client, &svc, SVCBPF_MAGLEV_M);

	assert_true(maglev_build_svc(r, SVCBPF_MAGLEV_M, table) > 0);
	for (size_t i = 0; i < r->nbe; i++)
		if ((uint32_t)r->be[i].id == table[slot])
			return &r->be[i];
	fail_msg("slot %u names backend %u, not one of the service's", slot, table[slot]);
	return NULL;
}

/* Input with daddr/dport (or saddr/sport) set to @a, checksums from scratch. */
static void expected_nat(uint8_t *exp, const uint8_t *in, size_t len, bool dst,
			 const struct l4addr *a, const struct pkt_spec *s)
{
	uint16_t *ports;

	memcpy(exp, in, len);
	ports = (uint16_t *)pkt_l4(exp);
	if (dst) {
		pkt_ip(exp)->daddr = htonl(a->ip);
		ports[1] = htons(a->port);
	} else {
		pkt_ip(exp)->saddr = htonl(a->ip);
		ports[0] = htons(a->port);
	}
	pkt_fill_csums(exp, s);
}

static void assert_frames_equal(const uint8_t *got, size_t got_len, const uint8_t *exp,
				size_t exp_len, const char *what)
{
	if (got_len != exp_len)
		fail_msg("%s: length %zu, expected %zu", what, got_len, exp_len);
	for (size_t i = 0; i < exp_len; i++)
		if (got[i] != exp[i])
			fail_msg("%s: byte %zu is 0x%02x, expected 0x%02x", what, i, got[i],
				 exp[i]);
}

/* Run @p on @s and check it comes out translated to @to (dst or src side). */
static void check_nat(enum prog p, const struct pkt_spec *s, bool dst, const struct l4addr *to)
{
	uint8_t in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];
	size_t len = pkt_build(in, s), out_len;
	char what[96];

	snprintf(what, sizeof(what), "%s %s :%u->:%u", prog_name[p],
		 s->proto == IPPROTO_TCP ? "tcp" : "udp", s->sport, s->dport);
	assert_int_equal(run(p, in, len, out, &out_len), pass_verdict(p));
	expected_nat(exp, in, len, dst, to, s);
	assert_frames_equal(out, out_len, exp, len, what);
	if (!pkt_csums_ok(out))
		fail_msg("%s: checksums do not verify", what);
}

/* Run @p on @s and check the frame is untouched, with verdict @verdict. */
static void check_untouched(enum prog p, const uint8_t *in, size_t len, int verdict,
			    const char *what)
{
	uint8_t out[PKT_MAX];
	size_t out_len;
	char msg[128];

	snprintf(msg, sizeof(msg), "%s: %s", prog_name[p], what);
	if (run(p, in, len, out, &out_len) != verdict)
		fail_msg("%s: unexpected verdict", msg);
	assert_frames_equal(out, out_len, in, len, msg);
}

static struct pkt_spec syn(uint16_t sport)
{
	return (struct pkt_spec){ .saddr = CLIENT,
				  .daddr = VIP_TCP,
				  .sport = sport,
				  .dport = 80,
				  .proto = IPPROTO_TCP,
				  .payload = 0 };
}

static struct pkt_spec dgram(uint16_t sport)
{
	return (struct pkt_spec){ .saddr = CLIENT,
				  .daddr = VIP_UDP,
				  .sport = sport,
				  .dport = 53,
				  .proto = IPPROTO_UDP,
				  .payload = 29 };
}

static void test_tc_tcp_syn_dnat(void **state)
{
	struct pkt_spec s = syn(40000);
	uint64_t before = counter(SVCBPF_CNT_DNAT_NEW);
	struct ct_key k = { .saddr = htonl(CLIENT),
			    .daddr = htonl(VIP_TCP),
			    .sport = htons(40000),
			    .dport = htons(80),
			    .proto = IPPROTO_TCP,
			    .dir = SVCBPF_CT_FWD };
	const struct be_rec *be = mirror_pick(&s, &svc_tcp);
	struct ct_value v;

	(void)state;
	check_nat(TC_IN, &s, true, &be->addr);
	assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), before + 1);
	assert_int_equal(bpf_map_lookup_elem(maps.ct, &k, &v), 0);
	assert_int_equal(v.backend_id, be->id);
	assert_int_equal(v.svc_id, svc_tcp.id);
	/* The reverse entry the reply will need. */
	k = (struct ct_key){ .saddr = htonl(be->addr.ip),
			     .daddr = htonl(CLIENT),
			     .sport = htons(be->addr.port),
			     .dport = htons(40000),
			     .proto = IPPROTO_TCP,
			     .dir = SVCBPF_CT_REV };
	assert_int_equal(bpf_map_lookup_elem(maps.ct, &k, &v), 0);
	assert_int_equal(ntohl(v.addr), VIP_TCP);
	assert_int_equal(ntohs(v.port), 80);
}

static void test_tc_udp_dnat(void **state)
{
	struct pkt_spec s = dgram(5353);

	(void)state;
	check_nat(TC_IN, &s, true, &udp_be[0].addr);
	s.udp_no_csum = true; /* stays "no checksum" */
	s.sport = 5354;
	check_nat(TC_IN, &s, true, &udp_be[0].addr);
}

static void test_reply_reverse_nat(void **state)
{
	const struct l4addr vip = { VIP_TCP, 80, IPPROTO_TCP };
	const struct l4addr vip_udp = { VIP_UDP, 53, IPPROTO_UDP };
	struct pkt_spec s = syn(40001), r;
	const struct be_rec *be = mirror_pick(&s, &svc_tcp);
	uint64_t before = counter(SVCBPF_CNT_REVNAT);

	(void)state;
	check_nat(TC_IN, &s, true, &be->addr);
	r = (struct pkt_spec){ .saddr = be->addr.ip,
			       .daddr = CLIENT,
			       .sport = be->addr.port,
			       .dport = 40001,
			       .proto = IPPROTO_TCP,
			       .tcp_flags = 0x12,
			       .payload = 100 };
	check_nat(TC_EG, &r, false, &vip);
	assert_int_equal(counter(SVCBPF_CNT_REVNAT), before + 1);

	s = dgram(6000);
	check_nat(TC_IN, &s, true, &udp_be[0].addr);
	r = (struct pkt_spec){ .saddr = udp_be[0].addr.ip,
			       .daddr = CLIENT,
			       .sport = 53,
			       .dport = 6000,
			       .proto = IPPROTO_UDP,
			       .payload = 5 };
	check_nat(TC_EG, &r, false, &vip_udp);
}

/* Traffic that is not for a service, or not a reply, leaves as it came. */
static void test_not_for_a_service(void **state)
{
	const struct pkt_spec cases[] = {
		{ CLIENT, 0x0af4010a, 40000, 8080, IPPROTO_TCP }, /* a pod, directly */
		{ CLIENT, VIP_TCP, 40000, 81, IPPROTO_TCP }, /* the VIP, other port */
		{ CLIENT, VIP_TCP, 40000, 80, IPPROTO_UDP }, /* the VIP, other protocol */
		{ CLIENT, VIP_UDP, 40000, 53, IPPROTO_TCP },
		{ 0x0af4010a, CLIENT, 8080, 40000, IPPROTO_TCP }, /* untracked "reply" */
	};
	uint8_t in[PKT_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = pkt_build(in, &cases[i]);

		for (enum prog p = TC_IN; p <= XDP_IN; p++)
			check_untouched(p, in, len, pass_verdict(p), "not for a service");
	}
	/* Not IPv4 at all: ARP and IPv6 ethertypes. */
	{
		size_t len = pkt_build(in, &cases[1]);

		((struct ethhdr *)in)->h_proto = htons(ETH_P_ARP);
		check_untouched(TC_IN, in, len, pass_verdict(TC_IN), "ARP");
		((struct ethhdr *)in)->h_proto = htons(ETH_P_IPV6);
		check_untouched(XDP_IN, in, len, XDP_PASS, "IPv6 ethertype");
	}
}

/* Cut a service packet at every length: never rewritten, never dropped. */
static void test_truncated(void **state)
{
	struct pkt_spec specs[] = { syn(40002), dgram(40003) };
	uint8_t in[PKT_MAX];

	(void)state;
	specs[0].opt_words = 2;
	for (size_t k = 0; k < 2; k++) {
		size_t len = pkt_build(in, &specs[k]);

		for (size_t cut = ETH_HLEN; cut < len; cut++) {
			char what[64];

			/* The packet claims more than it has (IP length says @len). */
			if (cut >= len - specs[k].payload && specs[k].payload)
				continue; /* headers complete: only the payload is short */
			snprintf(what, sizeof(what), "cut at %zu of %zu", cut, len);
			/* The kernel test-runs an IPv4 skb only with a whole IP header. */
			if (cut >= ETH_HLEN + sizeof(struct iphdr))
				check_untouched(TC_IN, in, cut, pass_verdict(TC_IN), what);
			check_untouched(XDP_IN, in, cut, XDP_PASS, what);
		}
	}
}

static void test_ip_options(void **state)
{
	struct pkt_spec s = syn(40004);

	(void)state;
	for (uint8_t words = 1; words <= 10; words++) {
		s.opt_words = words;
		s.sport = (uint16_t)(40004 + words);
		check_nat(TC_IN, &s, true, &mirror_pick(&s, &svc_tcp)->addr);
		flush_ct();
		s.tcp_flags = 0x10; /* XDP leaves connection starts to tc */
		check_nat(XDP_IN, &s, true, &mirror_pick(&s, &svc_tcp)->addr);
		s.tcp_flags = 0;
	}
}

static void test_fragments(void **state)
{
	const uint16_t frags[] = { 0x2000 /* MF: first */, 0x00b9 /* last, offset */,
				   0x20b9 /* middle */ };
	struct pkt_spec s = dgram(40010);
	uint64_t before = counter(SVCBPF_CNT_PASS_FRAGMENT);
	uint8_t in[PKT_MAX];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		size_t len;

		s.frag = frags[i];
		len = pkt_build(in, &s);
		check_untouched(TC_IN, in, len, pass_verdict(TC_IN), "fragment");
		check_untouched(XDP_IN, in, len, XDP_PASS, "fragment");
	}
	assert_int_equal(counter(SVCBPF_CNT_PASS_FRAGMENT), before + 6);
}

static void test_malformed(void **state)
{
	uint64_t before = counter(SVCBPF_CNT_PASS_MALFORMED);
	struct pkt_spec s = syn(40020);
	uint8_t in[PKT_MAX];
	size_t len;

	(void)state;
	len = pkt_build(in, &s);
	pkt_ip(in)->ihl = 4;
	check_untouched(TC_IN, in, len, pass_verdict(TC_IN), "IHL 4");
	len = pkt_build(in, &s);
	pkt_ip(in)->tot_len = htons(1400);
	check_untouched(TC_IN, in, len, pass_verdict(TC_IN), "IP length past the frame");
	len = pkt_build(in, &s);
	((struct tcphdr *)pkt_l4(in))->doff = 4;
	check_untouched(XDP_IN, in, len, XDP_PASS, "TCP data offset 4");
	len = pkt_build(in, &s);
	((struct tcphdr *)pkt_l4(in))->doff = 15;
	check_untouched(TC_IN, in, len, pass_verdict(TC_IN), "TCP data offset past the packet");
	len = pkt_build(in, &s);
	pkt_ip(in)->version = 6;
	check_untouched(TC_IN, in, len, pass_verdict(TC_IN), "IP version 6 in an IPv4 frame");
	assert_int_equal(counter(SVCBPF_CNT_PASS_MALFORMED), before + 5);
}

/* XDP and tc must produce the same bytes for the TCP packets XDP translates. */
static void test_xdp_matches_tc(void **state)
{
	(void)state;
	srand(42);
	for (int i = 0; i < 200; i++) {
		struct pkt_spec s = syn((uint16_t)(1024 + rand() % 60000));

		s.tcp_flags = i & 1 ? 0x10 : 0x18; /* ACK, PSH|ACK: not connection starts */
		s.saddr = 0x0af40000 | (uint32_t)(rand() & 0xffff);
		s.payload = (uint16_t)(rand() % 1200);
		s.opt_words = (uint8_t)(rand() % 3);
		check_nat(TC_IN, &s, true, &mirror_pick(&s, &svc_tcp)->addr);
		flush_ct();
		check_nat(XDP_IN, &s, true, &mirror_pick(&s, &svc_tcp)->addr);
		flush_ct();
	}
}

/* Connection starts and UDP go to tc untouched: tc must see them untranslated. */
static void test_xdp_leaves_starts_to_tc(void **state)
{
	uint64_t before = counter(SVCBPF_CNT_XDP_DEFER);
	struct pkt_spec specs[] = { syn(40060), dgram(40061) };
	uint8_t in[PKT_MAX];

	(void)state;
	for (size_t i = 0; i < 2; i++) {
		size_t len = pkt_build(in, &specs[i]);

		check_untouched(XDP_IN, in, len, XDP_PASS, "a connection start or UDP");
	}
	assert_int_equal(counter(SVCBPF_CNT_XDP_DEFER), before + 2);
}

/*
 * A client's direct connection to a backend, from a port an earlier service
 * flow used: its replies must keep the backend's address, not the service's.
 */
static void test_direct_connection_forgets_stale_reply(void **state)
{
	struct pkt_spec s = syn(40070), direct, reply;
	const struct be_rec *be = mirror_pick(&s, &svc_tcp);
	uint8_t in[PKT_MAX];
	size_t len;

	(void)state;
	check_nat(TC_IN, &s, true, &be->addr); /* the service flow: FWD + REV */
	direct = (struct pkt_spec){ .saddr = CLIENT,
				    .daddr = be->addr.ip,
				    .sport = 40070,
				    .dport = be->addr.port,
				    .proto = IPPROTO_TCP };
	len = pkt_build(in, &direct);
	check_untouched(TC_IN, in, len, pass_verdict(TC_IN), "a direct SYN");
	reply = (struct pkt_spec){ .saddr = be->addr.ip,
				   .daddr = CLIENT,
				   .sport = be->addr.port,
				   .dport = 40070,
				   .proto = IPPROTO_TCP,
				   .tcp_flags = 0x12 };
	len = pkt_build(in, &reply);
	check_untouched(TC_EG, in, len, pass_verdict(TC_EG), "the direct connection's reply");
}

/* A checksum-partial seed: XDP must leave it to tc, untouched. */
static void test_xdp_defers_seed(void **state)
{
	uint64_t before = counter(SVCBPF_CNT_XDP_DEFER);
	struct pkt_spec specs[] = { syn(40030), dgram(40031) };
	uint8_t in[PKT_MAX];

	(void)state;
	specs[0].tcp_flags = 0x10; /* not a connection start: only the seed defers it */
	for (size_t i = 0; i < 2; i++) {
		size_t len;

		specs[i].l4_seed = true;
		len = pkt_build(in, &specs[i]);
		check_untouched(XDP_IN, in, len, XDP_PASS, "seed-like checksum");
	}
	assert_int_equal(counter(SVCBPF_CNT_XDP_DEFER), before + 2);
}

static void test_no_backend(void **state)
{
	uint64_t before = counter(SVCBPF_CNT_DROP_NO_BACKEND);
	struct pkt_spec s = syn(40040);
	uint8_t in[PKT_MAX], out[PKT_MAX];
	size_t len, out_len;

	(void)state;
	s.daddr = VIP_EMPTY;
	len = pkt_build(in, &s);
	assert_int_equal(run(TC_IN, in, len, out, &out_len), drop_verdict(TC_IN));
	s.tcp_flags = 0x10; /* XDP sees a service's established packets */
	len = pkt_build(in, &s);
	assert_int_equal(run(XDP_IN, in, len, out, &out_len), drop_verdict(XDP_IN));
	assert_int_equal(counter(SVCBPF_CNT_DROP_NO_BACKEND), before + 2);
}

/* A tracked flow keeps its backend while it exists, whatever else changes. */
static void test_flow_sticks(void **state)
{
	struct svc_rec grown = svc_tcp, shrunk = svc_tcp;
	struct be_rec rest[3];
	struct pkt_spec s = syn(40050);
	const struct be_rec *be = mirror_pick(&s, &svc_tcp);
	uint64_t tracked = counter(SVCBPF_CNT_DNAT_EST);
	char err[ERR_LEN];
	size_t n = 0;

	(void)state;
	check_nat(TC_IN, &s, true, &be->addr);
	grown.nbe = 4; /* a fourth backend: the table changes, the flow does not */
	assert_int_equal(dp_sync_service(&maps, &grown, err), 0);
	s.tcp_flags = 0x10;
	check_nat(TC_IN, &s, true, &be->addr);
	check_nat(XDP_IN, &s, true, &be->addr);
	assert_int_equal(counter(SVCBPF_CNT_DNAT_EST), tracked + 2);

	/* Its backend removed: the flow moves to one that exists. */
	for (size_t i = 0; i < 3; i++)
		if (tcp_be[i].id != be->id)
			rest[n++] = tcp_be[i];
	shrunk.be = rest;
	shrunk.nbe = n;
	assert_int_equal(dp_sync_service(&maps, &shrunk, err), 0);
	assert_int_equal(dp_remove_backends(&maps, &(uint32_t){ (uint32_t)be->id }, 1), 0);
	check_nat(TC_IN, &s, true, &mirror_pick(&s, &shrunk)->addr);
	assert_int_equal(dp_sync_service(&maps, &svc_tcp, err), 0);
	assert_int_equal(dp_remove_backends(&maps, &(uint32_t){ 14 }, 1), 0);
	assert_int_equal(bpf_map_lookup_elem(maps.be, &(__u32){ 14 }, &(struct backend_value){}),
			 -ENOENT);
}

/* Many flows: each goes where the mirror says, and every backend gets some. */
static void test_spread(void **state)
{
	size_t hits[3] = { 0 };

	(void)state;
	for (uint16_t port = 20000; port < 20300; port++) {
		struct pkt_spec s = syn(port);
		const struct be_rec *be = mirror_pick(&s, &svc_tcp);

		check_nat(TC_IN, &s, true, &be->addr);
		hits[be - tcp_be]++;
	}
	print_message("spread of 300 flows over 3 backends: %zu %zu %zu\n", hits[0], hits[1],
		      hits[2]);
	for (size_t i = 0; i < 3; i++)
		assert_true(hits[i] > 0);
}

static int setup_test(void **state)
{
	(void)state;
	flush_ct();
	return 0;
}

static int setup_group(void **state)
{
	char err[ERR_LEN];

	(void)state;
	skel = svcbpf_bpf__open();
	if (!skel)
		return -1;
	/* Private, unpinned maps: tests never touch a real pin dir. */
	bpf_map__set_max_entries(skel->maps.svcbpf_ct_v2, 4096);
	if (dp_load_unpinned(skel, &maps)) {
		fprintf(stderr, "cannot load the BPF object (root needed)\n");
		return -1;
	}
	/* New services go through the batched path (what `load` and big batches use). */
	if (dp_sync_services(&maps,
			     (const struct svc_rec *const[]){ &svc_tcp, &svc_udp, &svc_empty }, 3,
			     err)) {
		fprintf(stderr, "cannot program services: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown_group(void **state)
{
	(void)state;
	svcbpf_bpf__destroy(skel);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_tc_tcp_syn_dnat, setup_test),
		cmocka_unit_test_setup(test_tc_udp_dnat, setup_test),
		cmocka_unit_test_setup(test_reply_reverse_nat, setup_test),
		cmocka_unit_test_setup(test_not_for_a_service, setup_test),
		cmocka_unit_test_setup(test_truncated, setup_test),
		cmocka_unit_test_setup(test_ip_options, setup_test),
		cmocka_unit_test_setup(test_fragments, setup_test),
		cmocka_unit_test_setup(test_malformed, setup_test),
		cmocka_unit_test_setup(test_xdp_matches_tc, setup_test),
		cmocka_unit_test_setup(test_xdp_defers_seed, setup_test),
		cmocka_unit_test_setup(test_xdp_leaves_starts_to_tc, setup_test),
		cmocka_unit_test_setup(test_direct_connection_forgets_stale_reply, setup_test),
		cmocka_unit_test_setup(test_no_backend, setup_test),
		cmocka_unit_test_setup(test_flow_sticks, setup_test),
		cmocka_unit_test_setup(test_spread, setup_test),
	};

	return cmocka_run_group_tests_name("packet", tests, setup_group, teardown_group);
}
