// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_pkt.c - the built BPF programs, run on crafted frames through
 * BPF_PROG_TEST_RUN (needs root). Maps are filled by the same reconciler the
 * CLI uses. Each translated frame is compared byte for byte with the input
 * plus the expected rewrite, whose checksums are computed from scratch; the
 * expected backend comes from the userspace mirror of the flow hash.
 */
#define _GNU_SOURCE /* sched_setaffinity */
#include <errno.h>
#include <sched.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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
static struct svc_rec svc_empty_udp = { .id = 4, .addr = { VIP_EMPTY, 53, IPPROTO_UDP } };

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

/*
 * The LRU may evict a flow's reply entry alone. The client's next packet puts
 * it back from the forward entry, on either hook, so the backend's replies
 * are still translated instead of reaching the client raw (and reset).
 */
static void test_reply_entry_restored(void **state)
{
	const struct l4addr vip = { VIP_TCP, 80, IPPROTO_TCP };
	static const enum prog hooks[] = { TC_IN, XDP_IN };

	(void)state;
	for (size_t i = 0; i < sizeof(hooks) / sizeof(hooks[0]); i++) {
		uint16_t port = (uint16_t)(40080 + i);
		struct pkt_spec s = syn(port), r;
		const struct be_rec *be = mirror_pick(&s, &svc_tcp);
		struct ct_key k = { .saddr = htonl(be->addr.ip),
				    .daddr = htonl(CLIENT),
				    .sport = htons(be->addr.port),
				    .dport = htons(port),
				    .proto = IPPROTO_TCP,
				    .dir = SVCBPF_CT_REV };
		struct ct_value v;

		check_nat(TC_IN, &s, true, &be->addr);
		assert_int_equal(bpf_map_delete_elem(maps.ct, &k), 0);
		s.tcp_flags = 0x10; /* the client's next packet: an ACK with data */
		s.payload = 64;
		check_nat(hooks[i], &s, true, &be->addr);
		if (bpf_map_lookup_elem(maps.ct, &k, &v))
			fail_msg("%s: the reply entry was not restored", prog_name[hooks[i]]);
		assert_int_equal(ntohl(v.addr), VIP_TCP);
		assert_int_equal(ntohs(v.port), 80);
		assert_int_equal(v.backend_id, be->id);
		assert_int_equal(v.svc_id, svc_tcp.id);
		r = (struct pkt_spec){ .saddr = be->addr.ip,
				       .daddr = CLIENT,
				       .sport = be->addr.port,
				       .dport = port,
				       .proto = IPPROTO_TCP,
				       .tcp_flags = 0x10,
				       .payload = 100 };
		check_nat(TC_EG, &r, false, &vip);
	}
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

/* REVIEW: the old service flow (still ESTABLISHED in ct) sends one more ACK after the direct SYN. */
static void test_late_packet_keeps_direct_connection(void **state)
{
	struct pkt_spec s = syn(40071), direct, reply;
	const struct be_rec *be = mirror_pick(&s, &svc_tcp);
	uint8_t in[PKT_MAX];
	size_t len;

	(void)state;
	check_nat(TC_IN, &s, true, &be->addr);
	s.tcp_flags = 0x10;
	s.payload = 10;
	check_nat(TC_IN, &s, true, &be->addr); /* established */
	direct = (struct pkt_spec){ .saddr = CLIENT,
				    .daddr = be->addr.ip,
				    .sport = 40071,
				    .dport = be->addr.port,
				    .proto = IPPROTO_TCP };
	len = pkt_build(in, &direct);
	check_untouched(TC_IN, in, len, pass_verdict(TC_IN), "a direct SYN");
	/* a late segment of the old service flow */
	check_nat(TC_IN, &s, true, &be->addr);
	reply = (struct pkt_spec){ .saddr = be->addr.ip,
				   .daddr = CLIENT,
				   .sport = be->addr.port,
				   .dport = 40071,
				   .proto = IPPROTO_TCP,
				   .tcp_flags = 0x12 };
	len = pkt_build(in, &reply);
	check_untouched(TC_EG, in, len, pass_verdict(TC_EG),
			"direct reply after a late service packet");
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

/*
 * The reply to a request to a service without backends: the request's
 * Ethernet addresses swapped and a fresh IPv4 header (no options, TOS 0,
 * id 0, DF, TTL 64) from the ClusterIP back to the client, carrying @l4len
 * bytes of @proto. Returns where the L4 header goes.
 */
static uint8_t *reply_headers(uint8_t *exp, const uint8_t *in, uint8_t proto, size_t l4len)
{
	const struct ethhdr *req_eth = (const struct ethhdr *)in;
	const struct iphdr *req_ip = (const struct iphdr *)(in + ETH_HLEN);
	struct ethhdr *eth = (struct ethhdr *)exp;
	struct iphdr *ip = pkt_ip(exp);

	memset(exp, 0, ETH_HLEN + sizeof(*ip) + l4len);
	memcpy(eth->h_dest, req_eth->h_source, ETH_ALEN);
	memcpy(eth->h_source, req_eth->h_dest, ETH_ALEN);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons((uint16_t)(sizeof(*ip) + l4len));
	ip->frag_off = htons(0x4000); /* DF */
	ip->ttl = 64;
	ip->protocol = proto;
	ip->saddr = req_ip->daddr;
	ip->daddr = req_ip->saddr;
	return exp + ETH_HLEN + sizeof(*ip);
}

/* Run tc ingress on a request to a service without backends: the reply comes back redirected. */
static size_t run_reject(const uint8_t *in, size_t len, uint8_t *out, const char *what)
{
	size_t out_len;
	int ret = run(TC_IN, in, len, out, &out_len);

	if (ret != TC_ACT_REDIRECT)
		fail_msg("%s: verdict %d, expected TC_ACT_REDIRECT (%d)", what, ret,
			 TC_ACT_REDIRECT);
	if (!pkt_csums_ok(out))
		fail_msg("%s: the reply's checksums do not verify from scratch", what);
	return out_len;
}

/*
 * TCP to a service without backends gets a reset built from the request
 * (RFC 793, "Reset Generation"): with ACK, RST seq = its ack_seq; without,
 * RST|ACK seq 0, ack = seq + data + SYN + FIN. Options and data are cut.
 */
static void test_reject_tcp(void **state)
{
	const struct {
		const char *what;
		uint8_t flags, opt_words, doff;
		uint16_t payload, pad; /* payload: after the 20-byte TCP header */
		uint32_t seq, ack_seq; /* the request's */
		uint8_t rst_flags;
		uint32_t rst_seq, rst_ack;
	} cases[] = {
		{ "SYN", 0x02, 0, 5, 0, 0, 0x01020304, 0, 0x14, 0, 0x01020305 },
		{ "SYN with data and IP options", 0x02, 3, 5, 10, 0, 0x01020304, 0, 0x14, 0,
		  0x0102030f },
		{ "SYN with TCP options and data", 0x02, 0, 8, 30, 0, 0x01020304, 0, 0x14, 0,
		  0x01020317 },
		{ "SYN with Ethernet padding", 0x02, 0, 5, 0, 6, 0x01020304, 0, 0x14, 0,
		  0x01020305 },
		{ "SYN, the acknowledgment wraps", 0x02, 0, 5, 0, 0, 0xffffffff, 0, 0x14, 0, 0 },
		{ "PSH|ACK with data", 0x18, 0, 5, 100, 0, 0x01020304, 0xa0b0c0d0, 0x04, 0xa0b0c0d0,
		  0 },
		{ "ACK, IHL 15", 0x10, 10, 5, 20, 0, 0x01020304, 0x55667788, 0x04, 0x55667788, 0 },
		{ "FIN|ACK", 0x11, 0, 5, 0, 0, 0x01020304, 0x11223344, 0x04, 0x11223344, 0 },
		{ "FIN with data, no ACK", 0x01, 0, 5, 5, 0, 0x01020304, 0, 0x14, 0, 0x0102030a },
		{ "no flags at all, data", 0x00, 0, 5, 7, 0, 0x01020304, 0, 0x14, 0, 0x0102030b },
	};
	uint64_t rejects = counter(SVCBPF_CNT_REJECT), dnat = counter(SVCBPF_CNT_DNAT_NEW);
	uint8_t in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt_spec s = syn((uint16_t)(41000 + i));
		struct tcphdr *req, *th;
		size_t len, out_len;
		char what[96];

		snprintf(what, sizeof(what), "reset for %s", cases[i].what);
		s.daddr = VIP_EMPTY;
		s.opt_words = cases[i].opt_words;
		s.payload = cases[i].payload;
		len = pkt_build(in, &s);
		req = (struct tcphdr *)pkt_l4(in);
		((uint8_t *)req)[13] = cases[i].flags;
		req->doff = cases[i].doff;
		req->seq = htonl(cases[i].seq);
		req->ack_seq = htonl(cases[i].ack_seq);
		pkt_fill_csums(in, &s);
		memset(in + len, 0, cases[i].pad); /* padding past the IP length */
		len += cases[i].pad;

		th = (struct tcphdr *)reply_headers(exp, in, IPPROTO_TCP, sizeof(*th));
		th->source = htons(80);
		th->dest = htons(s.sport);
		th->seq = htonl(cases[i].rst_seq);
		th->ack_seq = htonl(cases[i].rst_ack);
		th->doff = 5;
		((uint8_t *)th)[13] = cases[i].rst_flags;
		pkt_fill_csums(exp, NULL);

		out_len = run_reject(in, len, out, what);
		assert_frames_equal(out, out_len, exp, ETH_HLEN + 40, what);
	}
	assert_int_equal(counter(SVCBPF_CNT_REJECT), rejects + sizeof(cases) / sizeof(cases[0]));
	assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), dnat);
}

/*
 * No answer, and no translation either: a reset (RFC 793 never answers
 * one), or a source that names no single host (RFC 1122 3.2.2).
 */
static void test_reject_not_answered(void **state)
{
	const struct {
		const char *what;
		uint32_t saddr;
		uint8_t proto, flags;
	} cases[] = {
		{ "RST", CLIENT, IPPROTO_TCP, 0x04 },
		{ "RST|ACK", CLIENT, IPPROTO_TCP, 0x14 },
		{ "SYN from 0.0.0.0", 0, IPPROTO_TCP, 0x02 },
		{ "SYN from 255.255.255.255", 0xffffffff, IPPROTO_TCP, 0x02 },
		{ "UDP from 224.0.0.5", 0xe0000005, IPPROTO_UDP, 0 },
		{ "UDP from 240.0.0.1", 0xf0000001, IPPROTO_UDP, 0 },
	};
	uint64_t rejects = counter(SVCBPF_CNT_REJECT);
	uint64_t drops = counter(SVCBPF_CNT_DROP_NO_BACKEND);
	uint8_t in[PKT_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt_spec s = cases[i].proto == IPPROTO_TCP ? syn(41100) : dgram(41100);
		size_t len;

		s.saddr = cases[i].saddr;
		s.daddr = VIP_EMPTY;
		s.tcp_flags = cases[i].flags;
		len = pkt_build(in, &s);
		check_untouched(TC_IN, in, len, drop_verdict(TC_IN), cases[i].what);
	}
	assert_int_equal(counter(SVCBPF_CNT_REJECT), rejects);
	assert_int_equal(counter(SVCBPF_CNT_DROP_NO_BACKEND),
			 drops + sizeof(cases) / sizeof(cases[0]));
}

/*
 * UDP to a service without backends gets ICMP port unreachable (type 3,
 * code 3) quoting the request's IP header, options included, and the first
 * 8 bytes of its data, unchanged (RFC 792).
 */
static void test_reject_udp(void **state)
{
	const struct {
		const char *what;
		uint16_t payload, pad;
		uint8_t opt_words;
		bool no_csum;
	} cases[] = {
		{ "a DNS-sized datagram", 29, 0, 0, false },
		{ "an empty datagram (the reply is longer)", 0, 0, 0, false },
		{ "IP options, IHL 15", 3, 0, 10, false },
		{ "IP options, IHL 6", 100, 0, 1, false },
		{ "a large datagram", 1400, 0, 0, false },
		{ "no UDP checksum", 12, 0, 0, true },
		{ "Ethernet padding", 0, 10, 0, false },
	};
	uint64_t rejects = counter(SVCBPF_CNT_REJECT);
	uint8_t in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt_spec s = dgram((uint16_t)(41200 + i));
		size_t len, out_len, quote = 20 + 4u * cases[i].opt_words + 8;
		uint8_t *icmp;
		char what[96];

		snprintf(what, sizeof(what), "ICMP port unreachable for %s", cases[i].what);
		s.daddr = VIP_EMPTY;
		s.payload = cases[i].payload;
		s.opt_words = cases[i].opt_words;
		s.udp_no_csum = cases[i].no_csum;
		len = pkt_build(in, &s);
		memset(in + len, 0, cases[i].pad);
		len += cases[i].pad;

		icmp = reply_headers(exp, in, IPPROTO_ICMP, 8 + quote);
		icmp[0] = 3; /* destination unreachable */
		icmp[1] = 3; /* port unreachable */
		memcpy(icmp + 8, in + ETH_HLEN, quote);
		pkt_fill_csums(exp, NULL);

		out_len = run_reject(in, len, out, what);
		assert_frames_equal(out, out_len, exp, ETH_HLEN + 20 + 8 + quote, what);
		if (memcmp(out + ETH_HLEN + 28, in + ETH_HLEN, quote))
			fail_msg("%s: the quoted header differs from the request's", what);
	}
	assert_int_equal(counter(SVCBPF_CNT_REJECT), rejects + sizeof(cases) / sizeof(cases[0]));
}

/* XDP leaves a service without backends to tc, which answers; it drops nothing itself. */
static void test_reject_xdp_defers(void **state)
{
	uint64_t defer = counter(SVCBPF_CNT_XDP_DEFER), drops = counter(SVCBPF_CNT_DROP_NO_BACKEND);
	struct pkt_spec s = syn(41300);
	uint8_t in[PKT_MAX];
	size_t len;

	(void)state;
	s.daddr = VIP_EMPTY;
	s.tcp_flags = 0x10; /* XDP sees a service's established packets */
	len = pkt_build(in, &s);
	check_untouched(XDP_IN, in, len, XDP_PASS, "ACK to a service without backends");
	s.tcp_flags = 0x04;
	len = pkt_build(in, &s);
	check_untouched(XDP_IN, in, len, XDP_PASS, "RST to a service without backends");
	assert_int_equal(counter(SVCBPF_CNT_XDP_DEFER), defer + 2);
	assert_int_equal(counter(SVCBPF_CNT_DROP_NO_BACKEND), drops);
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

/* ------------------------------------------------------------ observability */

static struct lb_stats svc_stats(uint32_t id)
{
	struct lb_stats st;

	assert_int_equal(dp_stats_read(maps.sst, id, &st), 0);
	return st;
}

static struct lb_stats be_stats(uint32_t id)
{
	struct lb_stats st;

	assert_int_equal(dp_stats_read(maps.bst, id, &st), 0);
	return st;
}

/* The counters of @a moved by exactly the given amounts to become @b. */
static void assert_stats_delta(const struct lb_stats *a, const struct lb_stats *b, uint64_t pkts,
			       uint64_t bytes, uint64_t replies, uint64_t reply_bytes,
			       uint64_t flows, uint64_t drops, const char *what)
{
	if (b->packets - a->packets != pkts || b->bytes - a->bytes != bytes ||
	    b->reply_packets - a->reply_packets != replies ||
	    b->reply_bytes - a->reply_bytes != reply_bytes || b->flows - a->flows != flows ||
	    b->drops - a->drops != drops)
		fail_msg("%s: moved by packets %llu bytes %llu replies %llu reply bytes %llu "
			 "flows %llu drops %llu; expected %llu %llu %llu %llu %llu %llu",
			 what, (unsigned long long)(b->packets - a->packets),
			 (unsigned long long)(b->bytes - a->bytes),
			 (unsigned long long)(b->reply_packets - a->reply_packets),
			 (unsigned long long)(b->reply_bytes - a->reply_bytes),
			 (unsigned long long)(b->flows - a->flows),
			 (unsigned long long)(b->drops - a->drops), (unsigned long long)pkts,
			 (unsigned long long)bytes, (unsigned long long)replies,
			 (unsigned long long)reply_bytes, (unsigned long long)flows,
			 (unsigned long long)drops);
}

/* Every translated packet counts once, to its service and its backend; new flows once. */
static void test_stats_exact(void **state)
{
	const struct be_rec *be;
	struct lb_stats s0 = svc_stats(2), b0 = be_stats(21), s1, b1;
	struct pkt_spec d = dgram(6000), r;
	uint8_t in[PKT_MAX];
	size_t len = pkt_build(in, &d);
	const int n = 25;

	(void)state;
	for (int i = 0; i < n; i++) {
		d = dgram((uint16_t)(6000 + i));
		check_nat(TC_IN, &d, true, &udp_be[0].addr);
		r = (struct pkt_spec){ .saddr = udp_be[0].addr.ip,
				       .daddr = CLIENT,
				       .sport = 53,
				       .dport = (uint16_t)(6000 + i),
				       .proto = IPPROTO_UDP,
				       .payload = 29 };
		check_nat(TC_EG, &r, false, &(struct l4addr){ VIP_UDP, 53, IPPROTO_UDP });
	}
	/* The first flow again: tracked, one more packet, no new flow. */
	d = dgram(6000);
	check_nat(TC_IN, &d, true, &udp_be[0].addr);
	s1 = svc_stats(2);
	b1 = be_stats(21);
	assert_stats_delta(&s0, &s1, n + 1, (n + 1) * len, n, n * len, n, 0, "udp service");
	assert_stats_delta(&b0, &b1, n + 1, (n + 1) * len, n, n * len, n, 0, "udp backend");

	/* TCP: a SYN (tc), its ACK in tc and in XDP; a SYN in XDP goes to tc uncounted. */
	d = syn(41000);
	be = mirror_pick(&d, &svc_tcp);
	s0 = svc_stats(1);
	b0 = be_stats((uint32_t)be->id);
	len = pkt_build(in, &d);
	check_nat(TC_IN, &d, true, &be->addr);
	d.tcp_flags = 0x10;
	check_nat(TC_IN, &d, true, &be->addr);
	check_nat(XDP_IN, &d, true, &be->addr);
	d.tcp_flags = 0x02;
	d.sport = 41001;
	pkt_build(in, &d);
	check_untouched(XDP_IN, in, len, XDP_PASS, "SYN left to tc");
	s1 = svc_stats(1);
	b1 = be_stats((uint32_t)be->id);
	assert_stats_delta(&s0, &s1, 3, 3 * len, 0, 0, 1, 0, "tcp service");
	assert_stats_delta(&b0, &b1, 3, 3 * len, 0, 0, 1, 0, "tcp backend");
}

/* A packet to a service without a backend counts as that service's drop. */
static void test_stats_reject(void **state)
{
	struct pkt_spec d = syn(42000);
	struct lb_stats s0 = svc_stats(3), s1;
	uint64_t rejects = counter(SVCBPF_CNT_REJECT);
	uint8_t in[PKT_MAX], out[PKT_MAX];
	size_t len, out_len;

	(void)state;
	d.daddr = VIP_EMPTY;
	len = pkt_build(in, &d);
	for (int i = 0; i < 4; i++)
		assert_int_equal(run(TC_IN, in, len, out, &out_len), TC_ACT_REDIRECT);
	s1 = svc_stats(3);
	assert_stats_delta(&s0, &s1, 0, 0, 0, 0, 0, 4, "empty service");
	assert_int_equal(counter(SVCBPF_CNT_REJECT), rejects + 4);
}

/* Counters come and go with their service and backends; a re-sync keeps them. */
static void test_stats_lifecycle(void **state)
{
	struct be_rec be[] = { { 901, { 0x0af4050a, 8080, IPPROTO_TCP }, 1, SVCBPF_BE_ACTIVE } };
	struct svc_rec r = {
		.id = 900, .addr = { 0x0a600070, 80, IPPROTO_TCP }, .nbe = 1, .be = be
	};
	struct pkt_spec d = syn(43000);
	struct lb_stats st;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(dp_stats_read(maps.sst, 900, &st), -ENOENT);
	assert_int_equal(dp_sync_service(&maps, &r, err), 0);
	d.daddr = 0x0a600070;
	check_nat(TC_IN, &d, true, &be[0].addr);
	assert_int_equal(dp_sync_service(&maps, &r, err), 0);
	assert_int_equal(svc_stats(900).flows, 1);
	assert_int_equal(be_stats(901).flows, 1);
	assert_int_equal(dp_remove_service(&maps, &r.addr), 0);
	assert_int_equal(dp_remove_backends(&maps, &(uint32_t){ 901 }, 1), 0);
	assert_int_equal(dp_stats_read(maps.sst, 900, &st), -ENOENT);
	assert_int_equal(dp_stats_read(maps.bst, 901, &st), -ENOENT);
}

struct mon_seen {
	struct svcbpf_event ev[64];
	int n;
};

static int mon_collect(void *ctx, void *data, size_t size)
{
	struct mon_seen *m = ctx;

	assert_int_equal(size, sizeof(struct svcbpf_event));
	if (m->n < (int)(sizeof(m->ev) / sizeof(m->ev[0])))
		memcpy(&m->ev[m->n], data, sizeof(m->ev[0]));
	m->n++;
	return 0;
}

/* Turn the monitor switch to @events (bits of enum svcbpf_event_type) for @secs seconds. */
static void mon_set(uint32_t events, int64_t secs, uint32_t rate)
{
	struct svcbpf_mon ctl = { .until_ns = dp_now_ns() + secs * 1000000000LL,
				  .events = events,
				  .rate = rate };

	if (secs <= 0)
		ctl.until_ns = events ? dp_now_ns() - 1000000000ULL : 0;
	assert_int_equal(bpf_map_update_elem(maps.mon, &(__u32){ 0 }, &ctl, BPF_ANY), 0);
}

static int mon_drain(struct ring_buffer *rb, struct mon_seen *seen)
{
	seen->n = 0;
	assert_true(ring_buffer__consume(rb) >= 0);
	return seen->n;
}

/*
 * The monitor: nothing while nobody listens (or the lease ran out); each
 * event type when asked, with the packet's addresses and what it became;
 * at most the rate a second on a CPU, the rest counted as lost.
 */
static void test_monitor_events(void **state)
{
	const uint32_t all = (1u << SVCBPF_EV_MAX) - 2;
	struct mon_seen seen = { 0 };
	struct ring_buffer *rb = ring_buffer__new(maps.evt, mon_collect, &seen, NULL);
	struct pkt_spec d = syn(44000), r;
	const struct be_rec *be = mirror_pick(&d, &svc_tcp);
	uint8_t in[PKT_MAX], out[PKT_MAX];
	size_t len, out_len;
	struct svcbpf_event *e;
	cpu_set_t cpu;
	uint64_t lost;

	(void)state;
	assert_non_null(rb);
	/* One CPU: the rate is per CPU. */
	CPU_ZERO(&cpu);
	CPU_SET(0, &cpu);
	assert_int_equal(sched_setaffinity(0, sizeof(cpu), &cpu), 0);

	/* Off, and expired: no event. */
	mon_set(0, 0, 0);
	check_nat(TC_IN, &d, true, &be->addr);
	mon_set(all, -1, 1000);
	d.sport = 44001;
	be = mirror_pick(&d, &svc_tcp);
	check_nat(TC_IN, &d, true, &be->addr);
	assert_int_equal(mon_drain(rb, &seen), 0);

	/* A new flow, its first reply, its second (trace only), and a tracked packet. */
	mon_set((1u << SVCBPF_EV_NEW) | (1u << SVCBPF_EV_REPLY), 3, 1000);
	d.sport = 44002;
	be = mirror_pick(&d, &svc_tcp);
	len = pkt_build(in, &d);
	check_nat(TC_IN, &d, true, &be->addr);
	r = (struct pkt_spec){ .saddr = be->addr.ip,
			       .daddr = CLIENT,
			       .sport = be->addr.port,
			       .dport = 44002,
			       .proto = IPPROTO_TCP,
			       .tcp_flags = 0x12 };
	check_nat(TC_EG, &r, false, &(struct l4addr){ VIP_TCP, 80, IPPROTO_TCP });
	r.tcp_flags = 0x10;
	check_nat(TC_EG, &r, false, &(struct l4addr){ VIP_TCP, 80, IPPROTO_TCP });
	d.tcp_flags = 0x10;
	check_nat(TC_IN, &d, true, &be->addr);
	assert_int_equal(mon_drain(rb, &seen), 2);
	e = &seen.ev[0];
	assert_int_equal(e->type, SVCBPF_EV_NEW);
	assert_int_equal(e->hook, SVCBPF_HOOK_TC_INGRESS);
	assert_int_equal(e->proto, IPPROTO_TCP);
	assert_int_equal(ntohl(e->saddr), CLIENT);
	assert_int_equal(ntohs(e->sport), 44002);
	assert_int_equal(ntohl(e->daddr), VIP_TCP);
	assert_int_equal(ntohs(e->dport), 80);
	assert_int_equal(ntohl(e->nat_addr), be->addr.ip);
	assert_int_equal(ntohs(e->nat_port), be->addr.port);
	assert_int_equal(e->svc_id, svc_tcp.id);
	assert_int_equal(e->backend_id, be->id);
	assert_int_equal(e->len, len);
	assert_int_equal(e->tcp_flags, 0x02);
	assert_true(e->ts_ns > 0);
	e = &seen.ev[1];
	assert_int_equal(e->type, SVCBPF_EV_REPLY);
	assert_int_equal(e->hook, SVCBPF_HOOK_TC_EGRESS);
	assert_int_equal(ntohl(e->saddr), be->addr.ip);
	assert_int_equal(ntohl(e->nat_addr), VIP_TCP);
	assert_int_equal(ntohs(e->nat_port), 80);
	assert_int_equal(e->svc_id, svc_tcp.id);
	assert_int_equal(e->backend_id, be->id);

	/* Trace: every translated packet, both ways, XDP too. */
	mon_set((1u << SVCBPF_EV_DNAT) | (1u << SVCBPF_EV_REVNAT), 3, 1000);
	check_nat(TC_IN, &d, true, &be->addr);
	check_nat(XDP_IN, &d, true, &be->addr);
	check_nat(TC_EG, &r, false, &(struct l4addr){ VIP_TCP, 80, IPPROTO_TCP });
	assert_int_equal(mon_drain(rb, &seen), 3);
	assert_int_equal(seen.ev[0].type, SVCBPF_EV_DNAT);
	assert_int_equal(seen.ev[1].type, SVCBPF_EV_DNAT);
	assert_int_equal(seen.ev[1].hook, SVCBPF_HOOK_XDP);
	assert_int_equal(seen.ev[2].type, SVCBPF_EV_REVNAT);

	/* A reject, and a fragment passed untranslated, with their reasons. */
	mon_set(all, 3, 1000);
	d = syn(44003);
	d.daddr = VIP_EMPTY;
	len = pkt_build(in, &d);
	assert_int_equal(run(TC_IN, in, len, out, &out_len), TC_ACT_REDIRECT);
	d = dgram(44004);
	d.frag = 0x2000; /* MF */
	len = pkt_build(in, &d);
	check_untouched(TC_IN, in, len, TC_ACT_UNSPEC, "fragment");
	assert_int_equal(mon_drain(rb, &seen), 2);
	assert_int_equal(seen.ev[0].type, SVCBPF_EV_REJECT);
	assert_int_equal(seen.ev[0].reason, SVCBPF_CNT_REJECT);
	assert_int_equal(seen.ev[0].svc_id, svc_empty.id);
	assert_int_equal(ntohl(seen.ev[0].daddr), VIP_EMPTY);
	assert_int_equal(seen.ev[1].type, SVCBPF_EV_SKIP);
	assert_int_equal(seen.ev[1].reason, SVCBPF_CNT_PASS_FRAGMENT);

	/*
	 * The rate: 3 a second on this CPU; the other 7 new flows are counted
	 * lost. The events above used this second's window: wait for the next.
	 */
	usleep(1100 * 1000);
	lost = counter(SVCBPF_CNT_MON_LOST);
	mon_set(1u << SVCBPF_EV_NEW, 3, 3);
	for (int i = 0; i < 10; i++) {
		d = syn((uint16_t)(44100 + i));
		check_nat(TC_IN, &d, true, &mirror_pick(&d, &svc_tcp)->addr);
	}
	/* A window may have begun mid-run: at most two windows' worth. */
	int sent = mon_drain(rb, &seen);

	assert_true(sent >= 3 && sent <= 6);
	assert_int_equal(counter(SVCBPF_CNT_MON_LOST) - lost, (uint64_t)(10 - sent));
	mon_set(0, 0, 0);
	ring_buffer__free(rb);
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
	bpf_map__set_max_entries(skel->maps.svcbpf_ct_v3, 4096);
	if (dp_load_unpinned(skel, &maps)) {
		fprintf(stderr, "cannot load the BPF object (root needed)\n");
		return -1;
	}
	/* New services go through the batched path (what `load` and big batches use). */
	if (dp_sync_services(&maps,
			     (const struct svc_rec *const[]){ &svc_tcp, &svc_udp, &svc_empty,
							      &svc_empty_udp },
			     4, err)) {
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
		cmocka_unit_test_setup(test_reply_entry_restored, setup_test),
		cmocka_unit_test_setup(test_not_for_a_service, setup_test),
		cmocka_unit_test_setup(test_truncated, setup_test),
		cmocka_unit_test_setup(test_ip_options, setup_test),
		cmocka_unit_test_setup(test_fragments, setup_test),
		cmocka_unit_test_setup(test_malformed, setup_test),
		cmocka_unit_test_setup(test_xdp_matches_tc, setup_test),
		cmocka_unit_test_setup(test_xdp_defers_seed, setup_test),
		cmocka_unit_test_setup(test_xdp_leaves_starts_to_tc, setup_test),
		cmocka_unit_test_setup(test_direct_connection_forgets_stale_reply, setup_test),
		cmocka_unit_test_setup(test_late_packet_keeps_direct_connection, setup_test),
		cmocka_unit_test_setup(test_reject_tcp, setup_test),
		cmocka_unit_test_setup(test_reject_not_answered, setup_test),
		cmocka_unit_test_setup(test_reject_udp, setup_test),
		cmocka_unit_test_setup(test_reject_xdp_defers, setup_test),
		cmocka_unit_test_setup(test_flow_sticks, setup_test),
		cmocka_unit_test_setup(test_spread, setup_test),
		cmocka_unit_test_setup(test_stats_exact, setup_test),
		cmocka_unit_test_setup(test_stats_reject, setup_test),
		cmocka_unit_test_setup(test_stats_lifecycle, setup_test),
		cmocka_unit_test_setup(test_monitor_events, setup_test),
	};

	return cmocka_run_group_tests_name("packet", tests, setup_group, teardown_group);
}
