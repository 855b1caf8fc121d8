// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_pkt.c - the built BPF programs, run on crafted frames through
 * BPF_PROG_TEST_RUN (needs root). Maps are filled by the same reconciler the
 * CLI uses. Each translated frame is compared byte for byte with the input
 * plus the expected rewrite, whose checksums are computed from scratch; the
 * expected backend comes from the userspace mirror of the flow hash.
 *
 * Traffic from outside (issue 8): NodePort, masquerade (conntrack's four
 * entries, ports), hairpin, externalTrafficPolicy Local, source ranges, and
 * ICMP errors about translated flows (outer and quoted headers). The node
 * address maps are written here: test runs come in on ifindex 1 (lo), the
 * only interface in ifa, so whatever the FIB lookup says a masqueraded
 * client leaves as ifa[1] (the ingress interface's address).
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

#ifndef BPF_F_TEST_SKB_CHECKSUM_COMPLETE
#define BPF_F_TEST_SKB_CHECKSUM_COMPLETE (1U << 2)
#endif

/*
 * Run @p on @in with test-run @flags; returns the program's verdict (the
 * run itself must work). With BPF_F_TEST_SKB_CHECKSUM_COMPLETE the skb
 * carries the sum of its bytes, and the kernel fails the run (EBADMSG)
 * unless skb->csum still sums the packet the program left.
 */
static int run_flags(enum prog p, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len,
		     __u32 flags)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = PKT_MAX, .repeat = 1, .flags = flags);
	int err = bpf_prog_test_run_opts(prog_fd(p), &o);

	if (err)
		fail_msg("%s: BPF_PROG_TEST_RUN on %zu bytes%s failed: %s", prog_name[p], len,
			 flags ? " (CHECKSUM_COMPLETE)" : "", strerror(errno));
	*out_len = o.data_size_out;
	return (int)o.retval;
}

static int run(enum prog p, const uint8_t *in, size_t len, uint8_t *out, size_t *out_len)
{
	return run_flags(p, in, len, out, out_len, 0);
}

static void flush_ct(void)
{
	struct ct_value *vals;
	struct ct_key *keys;
	size_t n;

	/* Read all, then delete: restarting the walk after each delete is quadratic. */
	assert_int_equal(dp_ct_read(&maps, &keys, &vals, &n), 0);
	assert_int_equal(dp_ct_delete(&maps, keys, n), n);
	free(keys);
	free(vals);
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

/*
 * Run @p (with test-run @flags) on @s and check it comes out translated to
 * @to (dst or src side).
 */
static void check_nat_flags(enum prog p, const struct pkt_spec *s, bool dst,
			    const struct l4addr *to, __u32 flags)
{
	uint8_t in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];
	size_t len = pkt_build(in, s), out_len;
	char what[96];

	snprintf(what, sizeof(what), "%s %s :%u->:%u%s", prog_name[p],
		 s->proto == IPPROTO_TCP ? "tcp" : "udp", s->sport, s->dport,
		 flags ? " (CHECKSUM_COMPLETE)" : "");
	assert_int_equal(run_flags(p, in, len, out, &out_len, flags), pass_verdict(p));
	expected_nat(exp, in, len, dst, to, s);
	assert_frames_equal(out, out_len, exp, len, what);
	if (!pkt_csums_ok(out))
		fail_msg("%s: checksums do not verify", what);
}

static void check_nat(enum prog p, const struct pkt_spec *s, bool dst, const struct l4addr *to)
{
	check_nat_flags(p, s, dst, to, 0);
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

/* ------------------------------------------------------- traffic from outside */

#define NODE_IP 0xcb007101 /* 203.0.113.1: the node's address (ifindex 1, lo in test runs) */
#define NODE_IP2 0xc6336401 /* 198.51.100.1: another address on the same interface */
#define OUTSIDE 0xc000020a /* 192.0.2.10: a client outside the cluster */
#define OUTSIDE2 0xc6120001 /* 198.18.0.1: outside the LoadBalancer's source ranges */
#define ROUTER 0xc0000201 /* 192.0.2.1: a router on the path to the client */
#define EXT_IP 0xc6336408 /* 198.51.100.8: an external IP, externalTrafficPolicy Local */
#define LB_IP 0xc6336407 /* 198.51.100.7: a LoadBalancer IP with source ranges */
#define VIP_HAIRPIN 0x0a600064 /* 10.96.0.100: one backend, 10.244.1.10:8080 */
#define POD 0x0af4010a /* 10.244.1.10 */
#define NP_FLAGS (SVCBPF_SVC_EXTERNAL | SVCBPF_SVC_MASQ)

static struct be_rec np_be[] = {
	{ 31, { 0x0af4010a, 8080, IPPROTO_TCP }, 1, SVCBPF_BE_ACTIVE },
	{ 32, { 0x0af4020f, 8080, IPPROTO_TCP }, 1, SVCBPF_BE_ACTIVE },
	{ 33, { 0x0af40314, 8080, IPPROTO_TCP }, 1, SVCBPF_BE_ACTIVE },
};
static struct be_rec np_udp_be[] = {
	{ 34, { 0x0af4010a, 53, IPPROTO_UDP }, 1, SVCBPF_BE_ACTIVE },
	{ 35, { 0x0af4020f, 53, IPPROTO_UDP }, 1, SVCBPF_BE_ACTIVE },
};
static struct be_rec np1_be[] = { { 36, { 0x0af4050a, 8080, IPPROTO_TCP }, 1, SVCBPF_BE_ACTIVE } };
static struct be_rec hp_be[] = { { 37, { POD, 8080, IPPROTO_TCP }, 1, SVCBPF_BE_ACTIVE } };
static struct be_rec local_be[] = { { 38, { POD, 8443, IPPROTO_TCP }, 1, SVCBPF_BE_ACTIVE } };
static struct be_rec lb_be[] = { { 39, { 0x0af4020f, 8080, IPPROTO_TCP }, 1, SVCBPF_BE_ACTIVE } };
static struct be_rec out_be[] = { { 40, { POD, 8080, IPPROTO_TCP }, 1, SVCBPF_BE_ACTIVE } };
static struct cidr4 lb_ranges[] = { { 0xc0000200, 24 }, { 0x0a000000, 8 } };

/* NodePort 30080/tcp and 30053/udp, externalTrafficPolicy Cluster. */
static struct svc_rec svc_np = { .id = 20,
				 .addr = { 0, 30080, IPPROTO_TCP },
				 .nbe = 3,
				 .be = np_be,
				 .flags = NP_FLAGS };
static struct svc_rec svc_np_udp = { .id = 21,
				     .addr = { 0, 30053, IPPROTO_UDP },
				     .nbe = 2,
				     .be = np_udp_be,
				     .flags = NP_FLAGS };
/* NodePort 30081/tcp with one backend: every masquerade port is that backend's. */
static struct svc_rec svc_np1 = { .id = 22,
				  .addr = { 0, 30081, IPPROTO_TCP },
				  .nbe = 1,
				  .be = np1_be,
				  .flags = NP_FLAGS };
static struct svc_rec svc_hp = { .id = 23,
				 .addr = { VIP_HAIRPIN, 80, IPPROTO_TCP },
				 .nbe = 1,
				 .be = hp_be };
/* externalTrafficPolicy Local: no backend on this node, and one. */
static struct svc_rec svc_local_empty = { .id = 24,
					  .addr = { EXT_IP, 80, IPPROTO_TCP },
					  .flags = SVCBPF_SVC_EXTERNAL | SVCBPF_SVC_LOCAL };
static struct svc_rec svc_local = { .id = 25,
				    .addr = { EXT_IP, 443, IPPROTO_TCP },
				    .nbe = 1,
				    .be = local_be,
				    .flags = SVCBPF_SVC_EXTERNAL | SVCBPF_SVC_LOCAL };
/* A LoadBalancer IP with loadBalancerSourceRanges 192.0.2.0/24 and 10.0.0.0/8. */
static struct svc_rec svc_lb = { .id = 26,
				 .addr = { LB_IP, 80, IPPROTO_TCP },
				 .nbe = 1,
				 .be = lb_be,
				 .flags = NP_FLAGS,
				 .ranges = lb_ranges,
				 .nranges = 2 };
/* A "NodePort" outside 30000-32767 (no store makes one): the dataplane must not answer it. */
static struct svc_rec svc_np_out = { .id = 27,
				     .addr = { 0, 29999, IPPROTO_TCP },
				     .nbe = 1,
				     .be = out_be,
				     .flags = NP_FLAGS };

/* The XDP program's metadata word on a frame it translated (svcbpf.bpf.c). */
#define XDP_MARK_TRANSLATED 0x5ec0b9f1u

static struct pkt_spec tcp_from(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport)
{
	return (struct pkt_spec){
		.saddr = saddr, .daddr = daddr, .sport = sport, .dport = dport, .proto = IPPROTO_TCP
	};
}

/* The conntrack entry @saddr:@sport -> @daddr:@dport (@dir); fails the test when absent. */
static struct ct_value ct_get(uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport,
			      uint8_t proto, uint8_t dir, const char *what)
{
	struct ct_key k = { .saddr = htonl(saddr),
			    .daddr = htonl(daddr),
			    .sport = htons(sport),
			    .dport = htons(dport),
			    .proto = proto,
			    .dir = dir };
	struct ct_value v;

	if (bpf_map_lookup_elem(maps.ct, &k, &v))
		fail_msg("%s: no %s conntrack entry %08x:%u -> %08x:%u", what,
			 dir == SVCBPF_CT_FWD ? "FWD" : "REV", saddr, sport, daddr, dport);
	return v;
}

static size_t ct_count(void)
{
	struct ct_value *vals;
	struct ct_key *keys;
	size_t n;

	assert_int_equal(dp_ct_read(&maps, &keys, &vals, &n), 0);
	free(keys);
	free(vals);
	return n;
}

static void assert_ct(const struct ct_value *v, uint32_t addr, uint16_t port, uint8_t flags,
		      const char *what)
{
	if (ntohl(v->addr) != addr || ntohs(v->port) != port || v->flags != flags)
		fail_msg("%s: entry says %08x:%u flags %#x, expected %08x:%u flags %#x", what,
			 ntohl(v->addr), ntohs(v->port), v->flags, addr, port, flags);
}

/*
 * XDP drops @in: its bytes come out unchanged, after the cleared metadata
 * word when XDP had made room for its mark (connection starts from outside).
 */
static void check_xdp_dropped(const uint8_t *in, size_t len, const char *what)
{
	uint8_t out[PKT_MAX];
	size_t out_len, meta;
	uint32_t mark = 0;

	if (run(XDP_IN, in, len, out, &out_len) != XDP_DROP)
		fail_msg("xdp: %s: not dropped", what);
	meta = out_len - len;
	if (meta != 0 && meta != sizeof(mark))
		fail_msg("xdp: %s: %zu bytes out of %zu", what, out_len, len);
	memcpy(&mark, out, meta);
	if (mark)
		fail_msg("xdp: %s: dropped but marked translated", what);
	assert_frames_equal(out + meta, len, in, len, what);
}

/*
 * XDP on @s, a connection start from outside: translated there to @to, the
 * frame preceded by the 4-byte mark that tells tc to leave it alone.
 */
static void check_nat_xdp_marked(const struct pkt_spec *s, const struct l4addr *to)
{
	uint8_t in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];
	size_t len = pkt_build(in, s), out_len;
	uint32_t mark;

	assert_int_equal(run(XDP_IN, in, len, out, &out_len), XDP_PASS);
	if (out_len != len + sizeof(mark))
		fail_msg("xdp: %zu bytes out of %zu: no metadata mark", out_len, len);
	memcpy(&mark, out, sizeof(mark));
	assert_int_equal(mark, XDP_MARK_TRANSLATED);
	expected_nat(exp, in, len, true, to, s);
	assert_frames_equal(out + sizeof(mark), len, exp, len, "xdp connection start from outside");
	assert_true(pkt_csums_ok(out + sizeof(mark)));
}

/*
 * A masqueraded flow, all the way: @s (client C:c -> frontend F:f) at tc
 * ingress is sent to the mirror's backend P:p, destination only; the four
 * conntrack entries of include/svcbpf.h; at tc egress it leaves as
 * @masq:n; the backend's reply P:p -> @masq:n comes back in to C:c, and
 * leaves from F:f. Every frame byte for byte, checksums from scratch.
 * Returns the masquerade port n.
 */
static uint16_t masq_roundtrip(const struct pkt_spec *s, const struct svc_rec *r, uint32_t masq,
			       const char *what)
{
	const struct be_rec *be = mirror_pick(s, r);
	uint32_t P = be->addr.ip, C = s->saddr;
	uint16_t p = be->addr.port, c = s->sport, n;
	uint64_t dnat = counter(SVCBPF_CNT_DNAT_NEW), snat = counter(SVCBPF_CNT_SNAT);
	uint64_t unsnat = counter(SVCBPF_CNT_UNSNAT), revnat = counter(SVCBPF_CNT_REVNAT);
	size_t entries = ct_count();
	struct pkt_spec t = *s, rep = *s;
	struct ct_value v;

	check_nat(TC_IN, s, true, &be->addr);
	assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), dnat + 1);

	/* FWD C:c -> F:f: the backend, and the client's masquerade. */
	v = ct_get(C, c, s->daddr, s->dport, s->proto, SVCBPF_CT_FWD, what);
	assert_ct(&v, P, p, SVCBPF_CT_F_MASQ, what);
	assert_int_equal(ntohl(v.nat_addr), masq);
	n = ntohs(v.nat_port);
	if (n < SVCBPF_SNAT_PORT_MIN)
		fail_msg("%s: masquerade port %u outside %u-%u", what, n, SVCBPF_SNAT_PORT_MIN,
			 SVCBPF_SNAT_PORT_MAX);
	assert_int_equal(v.backend_id, be->id);
	assert_int_equal(v.svc_id, r->id);
	assert_int_equal(v.state, s->proto == IPPROTO_TCP ? SVCBPF_CT_NEW : SVCBPF_CT_ESTABLISHED);
	/* REV P:p -> C:c: replies leave from the frontend the client addressed. */
	v = ct_get(P, p, C, c, s->proto, SVCBPF_CT_REV, what);
	assert_ct(&v, s->daddr, s->dport, 0, what);
	assert_int_equal(v.nat_addr, 0);
	assert_int_equal(v.nat_port, 0);
	/* REV C:c -> P:p: the client's packets leave as the node's. */
	v = ct_get(C, c, P, p, s->proto, SVCBPF_CT_REV, what);
	assert_ct(&v, masq, n, SVCBPF_CT_F_SNAT, what);
	/* FWD P:p -> node:n: the backend's replies come back to the client. */
	v = ct_get(P, p, masq, n, s->proto, SVCBPF_CT_FWD, what);
	assert_ct(&v, C, c, SVCBPF_CT_F_SNAT, what);
	assert_int_equal(v.backend_id, be->id);
	assert_int_equal(v.svc_id, r->id);
	assert_int_equal(ct_count(), entries + 4);

	/* The translated packet leaves for the backend as the node's. */
	t.daddr = P;
	t.dport = p;
	check_nat(TC_EG, &t, false, &(struct l4addr){ masq, n, s->proto });
	check_nat_flags(TC_EG, &t, false, &(struct l4addr){ masq, n, s->proto },
			BPF_F_TEST_SKB_CHECKSUM_COMPLETE);
	assert_int_equal(counter(SVCBPF_CNT_SNAT), snat + 2);

	/* The backend's reply comes in to the node's port: back to the client. */
	rep.saddr = P;
	rep.sport = p;
	rep.daddr = masq;
	rep.dport = n;
	rep.tcp_flags = 0x12;
	rep.payload = s->proto == IPPROTO_UDP ? 40 : 0;
	check_nat(TC_IN, &rep, true, &(struct l4addr){ C, c, s->proto });
	check_nat_flags(TC_IN, &rep, true, &(struct l4addr){ C, c, s->proto },
			BPF_F_TEST_SKB_CHECKSUM_COMPLETE);
	assert_int_equal(counter(SVCBPF_CNT_UNSNAT), unsnat + 2);

	/* And leaves toward the client from the frontend. */
	rep.daddr = C;
	rep.dport = c;
	check_nat(TC_EG, &rep, false, &(struct l4addr){ s->daddr, s->dport, s->proto });
	check_nat_flags(TC_EG, &rep, false, &(struct l4addr){ s->daddr, s->dport, s->proto },
			BPF_F_TEST_SKB_CHECKSUM_COMPLETE);
	assert_int_equal(counter(SVCBPF_CNT_REVNAT), revnat + 2);
	print_message("%s: %08x:%u -> backend %08x:%u as %08x:%u\n", what, C, c, P, p, masq, n);
	return n;
}

/* NodePort, externalTrafficPolicy Cluster: DNAT, masquerade, and the reply both ways back. */
static void test_nodeport_masq(void **state)
{
	struct pkt_spec s = tcp_from(OUTSIDE, 40000, NODE_IP, 30080);
	struct pkt_spec u = { .saddr = OUTSIDE,
			      .daddr = NODE_IP,
			      .sport = 40001,
			      .dport = 30053,
			      .proto = IPPROTO_UDP,
			      .payload = 29 };

	(void)state;
	masq_roundtrip(&s, &svc_np, NODE_IP, "nodeport tcp");
	/* The client's next packet goes through XDP too, to the same backend. */
	s.tcp_flags = 0x10;
	s.payload = 100;
	check_nat(XDP_IN, &s, true, &mirror_pick(&s, &svc_np)->addr);

	masq_roundtrip(&u, &svc_np_udp, NODE_IP, "nodeport udp");
	u.sport = 40002;
	u.udp_no_csum = true;
	masq_roundtrip(&u, &svc_np_udp, NODE_IP, "nodeport udp, no checksum");

	/*
	 * Another of the node's addresses: the masquerade address is still the
	 * interface's (maps.ifa), the reply leaves from the address the client used.
	 */
	s = tcp_from(OUTSIDE, 40003, NODE_IP2, 30080);
	masq_roundtrip(&s, &svc_np, NODE_IP, "nodeport on a second node address");
}

/*
 * A masqueraded flow's traffic counts once to its service and backend: the
 * client's packet as it comes in, the reply as it leaves; the masquerade
 * steps in between (SNAT out, UNSNAT in) only in their global counters.
 */
static void test_masq_stats(void **state)
{
	struct pkt_spec s = tcp_from(OUTSIDE, 40200, NODE_IP, 30081), t, r;
	const struct be_rec *be = &np1_be[0];
	struct lb_stats s0 = svc_stats((uint32_t)svc_np1.id), b0 = be_stats((uint32_t)be->id), s1,
			b1;
	uint8_t in[PKT_MAX];
	size_t len = pkt_build(in, &s), rlen;
	struct ct_value v;

	(void)state;
	check_nat(TC_IN, &s, true, &be->addr);
	v = ct_get(OUTSIDE, 40200, NODE_IP, 30081, IPPROTO_TCP, SVCBPF_CT_FWD, "stats");
	t = tcp_from(OUTSIDE, 40200, be->addr.ip, be->addr.port);
	check_nat(TC_EG, &t, false, &(struct l4addr){ NODE_IP, ntohs(v.nat_port), IPPROTO_TCP });
	r = tcp_from(be->addr.ip, be->addr.port, NODE_IP, ntohs(v.nat_port));
	r.tcp_flags = 0x12;
	r.payload = 33;
	rlen = pkt_build(in, &r);
	check_nat(TC_IN, &r, true, &(struct l4addr){ OUTSIDE, 40200, IPPROTO_TCP });
	r.daddr = OUTSIDE;
	r.dport = 40200;
	check_nat(TC_EG, &r, false, &(struct l4addr){ NODE_IP, 30081, IPPROTO_TCP });
	s1 = svc_stats((uint32_t)svc_np1.id);
	b1 = be_stats((uint32_t)be->id);
	assert_stats_delta(&s0, &s1, 1, len, 1, rlen, 1, 0, "masqueraded flow, service");
	assert_stats_delta(&b0, &b1, 1, len, 1, rlen, 1, 0, "masqueraded flow, backend");
}

/* Only the node's addresses answer a NodePort, and only in 30000-32767. */
static void test_nodeport_not_ours(void **state)
{
	const struct pkt_spec cases[] = {
		tcp_from(OUTSIDE, 40010, 0xc0000263, 30080), /* 192.0.2.99: not a node address */
		tcp_from(OUTSIDE, 40011, 0x0af40001, 30080), /* 10.244.0.1: not in maps.nip */
		tcp_from(OUTSIDE, 40012, NODE_IP, 29999), /* a 0.0.0.0:29999 entry exists */
		tcp_from(OUTSIDE, 40013, NODE_IP, 32768),
		tcp_from(OUTSIDE, 40014, NODE_IP, 30099), /* in range, no such NodePort */
		tcp_from(OUTSIDE, 40015, NODE_IP, 30053), /* the UDP NodePort, over TCP */
	};
	uint64_t dnat = counter(SVCBPF_CNT_DNAT_NEW);
	uint8_t in[PKT_MAX];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len = pkt_build(in, &cases[i]);
		char what[64];

		snprintf(what, sizeof(what), "SYN to %08x:%u", cases[i].daddr, cases[i].dport);
		for (enum prog p = TC_IN; p <= XDP_IN; p++)
			check_untouched(p, in, len, pass_verdict(p), what);
	}
	assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), dnat);
	assert_int_equal(ct_count(), 0);
}

/*
 * 0.0.0.0 is how the service map keys a NodePort, not a node address: a
 * packet addressed to it (never routed, but anyone on the link can send
 * one) must not reach the NodePort's backends.
 */
static void test_nodeport_zero_address(void **state)
{
	struct pkt_spec s = tcp_from(OUTSIDE, 40016, 0, 30080);
	uint8_t in[PKT_MAX];
	size_t len = pkt_build(in, &s);

	(void)state;
	for (enum prog p = TC_IN; p <= XDP_IN; p++)
		check_untouched(p, in, len, pass_verdict(p), "SYN to 0.0.0.0:30080");
	assert_int_equal(ct_count(), 0);
}

/*
 * XDP takes new flows to external frontends (a complete checksum), marked
 * for tc; a seed-like checksum goes to tc untouched.
 */
static void test_nodeport_xdp(void **state)
{
	struct pkt_spec s = tcp_from(OUTSIDE, 40020, NODE_IP, 30080);
	const struct be_rec *be = mirror_pick(&s, &svc_np);
	uint64_t dnat = counter(SVCBPF_CNT_DNAT_NEW), defer = counter(SVCBPF_CNT_XDP_DEFER);
	uint8_t in[PKT_MAX];
	struct ct_value v;
	size_t len;

	(void)state;
	check_nat_xdp_marked(&s, &be->addr);
	assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), dnat + 1);
	v = ct_get(OUTSIDE, 40020, NODE_IP, 30080, IPPROTO_TCP, SVCBPF_CT_FWD, "xdp nodeport");
	assert_ct(&v, be->addr.ip, be->addr.port, SVCBPF_CT_F_MASQ, "xdp nodeport");
	assert_int_equal(ntohl(v.nat_addr), NODE_IP);
	assert_int_equal(ct_count(), 4);
	/* It leaves as the node's, like one tc translated. */
	check_nat(TC_EG,
		  &(struct pkt_spec){ OUTSIDE, be->addr.ip, 40020, be->addr.port, IPPROTO_TCP },
		  false, &(struct l4addr){ NODE_IP, ntohs(v.nat_port), IPPROTO_TCP });

	/* UDP with and without a checksum. */
	for (int i = 0; i < 2; i++) {
		struct pkt_spec u = { .saddr = OUTSIDE,
				      .daddr = NODE_IP,
				      .sport = (uint16_t)(40021 + i),
				      .dport = 30053,
				      .proto = IPPROTO_UDP,
				      .payload = 17,
				      .udp_no_csum = i };

		check_nat_xdp_marked(&u, &mirror_pick(&u, &svc_np_udp)->addr);
	}
	assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), dnat + 3);

	s.sport = 40030;
	s.l4_seed = true;
	len = pkt_build(in, &s);
	check_untouched(XDP_IN, in, len, XDP_PASS, "nodeport SYN with a seed-like checksum");
	assert_int_equal(counter(SVCBPF_CNT_XDP_DEFER), defer + 1);
	assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), dnat + 3);
}

/* 1000 flows from one client address: 1000 masquerade ports, all distinct, in range. */
static void test_masq_ports_unique(void **state)
{
	static uint8_t used[65536];
	const struct be_rec *be = &np1_be[0];
	struct ct_value *vals;
	struct ct_key *keys;
	size_t n, snat = 0, masq = 0;

	(void)state;
	memset(used, 0, sizeof(used));
	for (uint16_t port = 20000; port < 21000; port++) {
		struct pkt_spec s = tcp_from(OUTSIDE, port, NODE_IP, 30081);

		check_nat(TC_IN, &s, true, &be->addr);
	}
	assert_int_equal(dp_ct_read(&maps, &keys, &vals, &n), 0);
	for (size_t i = 0; i < n; i++) {
		uint16_t dport = ntohs(keys[i].dport);

		if (keys[i].dir == SVCBPF_CT_FWD && (vals[i].flags & SVCBPF_CT_F_SNAT)) {
			assert_int_equal(ntohl(keys[i].saddr), be->addr.ip);
			assert_int_equal(ntohs(keys[i].sport), be->addr.port);
			assert_int_equal(ntohl(keys[i].daddr), NODE_IP);
			if (dport < SVCBPF_SNAT_PORT_MIN) /* the top is 65535 */
				fail_msg("masquerade port %u outside the range", dport);
			if (used[dport]++)
				fail_msg("masquerade port %u given twice", dport);
			snat++;
		}
		if (keys[i].dir == SVCBPF_CT_FWD && (vals[i].flags & SVCBPF_CT_F_MASQ)) {
			/* The client's entry names the port its incoming entry holds. */
			assert_int_equal(ntohl(vals[i].nat_addr), NODE_IP);
			ct_get(be->addr.ip, be->addr.port, NODE_IP, ntohs(vals[i].nat_port),
			       IPPROTO_TCP, SVCBPF_CT_FWD, "the client's masquerade port");
			masq++;
		}
	}
	free(keys);
	free(vals);
	print_message("1000 flows from one address: %zu masquerade ports, %zu entries\n", snat, n);
	assert_int_equal(snat, 1000);
	assert_int_equal(masq, 1000);
	assert_int_equal(n, 4000);
}

/*
 * A client's own port is kept when it is in the masquerade range and free
 * (as Linux's NAT keeps it); another client on the same port gets another.
 */
static void test_masq_keeps_port(void **state)
{
	const struct be_rec *be = &np1_be[0];
	struct pkt_spec s = tcp_from(OUTSIDE, 45000, NODE_IP, 30081);
	struct ct_value v;

	(void)state;
	check_nat(TC_IN, &s, true, &be->addr);
	v = ct_get(OUTSIDE, 45000, NODE_IP, 30081, IPPROTO_TCP, SVCBPF_CT_FWD, "first client");
	assert_int_equal(ntohs(v.nat_port), 45000);
	s = tcp_from(OUTSIDE2, 45000, NODE_IP, 30081);
	check_nat(TC_IN, &s, true, &be->addr);
	v = ct_get(OUTSIDE2, 45000, NODE_IP, 30081, IPPROTO_TCP, SVCBPF_CT_FWD, "second client");
	assert_int_not_equal(ntohs(v.nat_port), 45000);
	assert_in_range(ntohs(v.nat_port), SVCBPF_SNAT_PORT_MIN, SVCBPF_SNAT_PORT_MAX);
}

/* Fill every masquerade port of @be on the node address with a flow in @state, seen @age_s ago. */
static void fill_snat_ports(const struct be_rec *be, uint8_t state, uint64_t age_s)
{
	uint64_t now = dp_now_ns();

	for (uint32_t port = SVCBPF_SNAT_PORT_MIN; port <= SVCBPF_SNAT_PORT_MAX; port++) {
		struct ct_key k = { .saddr = htonl(be->addr.ip),
				    .daddr = htonl(NODE_IP),
				    .sport = htons(be->addr.port),
				    .dport = htons((uint16_t)port),
				    .proto = IPPROTO_TCP,
				    .dir = SVCBPF_CT_FWD };
		struct ct_value v = { .addr = htonl(0xc0000264), /* 192.0.2.100 */
				      .port = htons((uint16_t)port),
				      .state = state,
				      .flags = SVCBPF_CT_F_SNAT,
				      .backend_id = (uint32_t)be->id,
				      .svc_id = (uint32_t)svc_np1.id,
				      .last_seen = now - age_s * 1000000000ULL };

		assert_int_equal(bpf_map_update_elem(maps.ct, &k, &v, BPF_ANY), 0);
	}
}

/*
 * No free masquerade port for the backend: the new flow is dropped and
 * counted (tc and XDP), and leaves no entry. Ports of flows that expired
 * or were reset are taken over.
 */
static void test_masq_ports_exhausted(void **state)
{
	const struct be_rec *be = &np1_be[0];
	const uint32_t range = SVCBPF_SNAT_PORT_MAX - SVCBPF_SNAT_PORT_MIN + 1;
	struct pkt_spec s = tcp_from(OUTSIDE, 30000, NODE_IP, 30081);
	uint64_t drops = counter(SVCBPF_CNT_DROP_SNAT);
	struct lb_stats s0 = svc_stats((uint32_t)svc_np1.id), s1;
	uint8_t in[PKT_MAX];
	struct ct_value v;
	size_t len;

	(void)state;
	fill_snat_ports(be, SVCBPF_CT_ESTABLISHED, 0);
	assert_int_equal(ct_count(), range);
	len = pkt_build(in, &s);
	check_untouched(TC_IN, in, len, TC_ACT_SHOT, "SYN with every masquerade port taken");
	check_xdp_dropped(in, len, "SYN with every masquerade port taken");
	assert_int_equal(counter(SVCBPF_CNT_DROP_SNAT), drops + 2);
	s1 = svc_stats((uint32_t)svc_np1.id);
	assert_int_equal(s1.drops - s0.drops, 2);
	assert_int_equal(s1.flows - s0.flows, 0);
	assert_int_equal(ct_count(), range);

	/* Every one expired (a SYN timeout and more ago): one is taken over. */
	fill_snat_ports(be, SVCBPF_CT_NEW, SVCBPF_CT_TIMEOUT_SYN + 5);
	check_nat(TC_IN, &s, true, &be->addr);
	v = ct_get(OUTSIDE, 30000, NODE_IP, 30081, IPPROTO_TCP, SVCBPF_CT_FWD, "taken over");
	v = ct_get(be->addr.ip, be->addr.port, NODE_IP, ntohs(v.nat_port), IPPROTO_TCP,
		   SVCBPF_CT_FWD, "the expired port taken over");
	assert_ct(&v, OUTSIDE, 30000, SVCBPF_CT_F_SNAT, "the expired port taken over");
	assert_int_equal(ct_count(), range + 3);

	/* Live but reset (CLOSED): taken over too. */
	flush_ct();
	fill_snat_ports(be, SVCBPF_CT_CLOSED, 0);
	s.sport = 30001;
	check_nat(TC_IN, &s, true, &be->addr);
	v = ct_get(OUTSIDE, 30001, NODE_IP, 30081, IPPROTO_TCP, SVCBPF_CT_FWD, "taken over");
	v = ct_get(be->addr.ip, be->addr.port, NODE_IP, ntohs(v.nat_port), IPPROTO_TCP,
		   SVCBPF_CT_FWD, "the reset port taken over");
	assert_ct(&v, OUTSIDE, 30001, SVCBPF_CT_F_SNAT, "the reset port taken over");
	assert_int_equal(counter(SVCBPF_CNT_DROP_SNAT), drops + 2);
}

/*
 * Hairpin: a pod sent to itself through its service is masqueraded as the
 * node (it would drop a packet from its own address); another client is not.
 */
static void test_hairpin(void **state)
{
	struct pkt_spec s = tcp_from(POD, 45000, VIP_HAIRPIN, 80);
	struct pkt_spec t = tcp_from(CLIENT, 45001, VIP_HAIRPIN, 80);
	uint8_t in[PKT_MAX];
	struct ct_value v;
	size_t len;

	(void)state;
	masq_roundtrip(&s, &svc_hp, NODE_IP, "hairpin");

	check_nat(TC_IN, &t, true, &hp_be[0].addr);
	v = ct_get(CLIENT, 45001, VIP_HAIRPIN, 80, IPPROTO_TCP, SVCBPF_CT_FWD, "another client");
	assert_ct(&v, POD, 8080, 0, "another client");
	assert_int_equal(v.nat_addr, 0);
	assert_int_equal(ct_count(), 4 + 2);
	t.daddr = POD;
	t.dport = 8080;
	len = pkt_build(in, &t);
	check_untouched(TC_EG, in, len, pass_verdict(TC_EG), "another client's packet, leaving");
}

/*
 * externalTrafficPolicy Local: no backend on this node drops (no reset,
 * no ICMP: the client's load balancer tries another node); with one, the
 * client's address is kept.
 */
static void test_local_policy(void **state)
{
	struct pkt_spec s = tcp_from(OUTSIDE, 46000, EXT_IP, 80);
	uint64_t drops = counter(SVCBPF_CNT_DROP_NO_LOCAL), rejects = counter(SVCBPF_CNT_REJECT);
	struct lb_stats s0 = svc_stats((uint32_t)svc_local_empty.id), s1;
	uint8_t in[PKT_MAX];
	struct ct_value v;
	size_t len;

	(void)state;
	len = pkt_build(in, &s);
	check_untouched(TC_IN, in, len, TC_ACT_SHOT, "Local, no local backend");
	check_xdp_dropped(in, len, "Local, no local backend");
	s.proto = IPPROTO_UDP; /* no UDP frontend: not ours */
	len = pkt_build(in, &s);
	check_untouched(TC_IN, in, len, pass_verdict(TC_IN), "Local, other protocol");
	assert_int_equal(counter(SVCBPF_CNT_DROP_NO_LOCAL), drops + 2);
	assert_int_equal(counter(SVCBPF_CNT_REJECT), rejects);
	s1 = svc_stats((uint32_t)svc_local_empty.id);
	assert_int_equal(s1.drops - s0.drops, 2);
	assert_int_equal(ct_count(), 0);

	s = tcp_from(OUTSIDE, 46001, EXT_IP, 443);
	check_nat(TC_IN, &s, true, &local_be[0].addr);
	v = ct_get(OUTSIDE, 46001, EXT_IP, 443, IPPROTO_TCP, SVCBPF_CT_FWD, "Local");
	assert_ct(&v, POD, 8443, 0, "Local");
	assert_int_equal(ct_count(), 2);
	s.daddr = POD;
	s.dport = 8443;
	len = pkt_build(in, &s);
	check_untouched(TC_EG, in, len, pass_verdict(TC_EG), "Local keeps the client's address");
	/* The reply leaves from the external IP. */
	check_nat(TC_EG,
		  &(struct pkt_spec){ POD, OUTSIDE, 8443, 46001, IPPROTO_TCP, .tcp_flags = 0x12 },
		  false, &(struct l4addr){ EXT_IP, 443, IPPROTO_TCP });
	/* A pod sent to itself is masqueraded all the same (hairpin). */
	s = tcp_from(POD, 46003, EXT_IP, 443);
	masq_roundtrip(&s, &svc_local, NODE_IP, "Local, hairpin");
	/* XDP too: a new flow with a complete checksum, translated there, not masqueraded. */
	s = tcp_from(OUTSIDE, 46002, EXT_IP, 443);
	check_nat_xdp_marked(&s, &local_be[0].addr);
	v = ct_get(OUTSIDE, 46002, EXT_IP, 443, IPPROTO_TCP, SVCBPF_CT_FWD, "Local, xdp");
	assert_ct(&v, POD, 8443, 0, "Local, xdp");
}

/* loadBalancerSourceRanges: clients in a range pass, others are dropped and counted. */
static void test_source_ranges(void **state)
{
	const struct {
		uint32_t client;
		bool allowed;
	} cases[] = {
		{ OUTSIDE, true }, /* 192.0.2.10 in 192.0.2.0/24 */
		{ 0xc00002ff, true }, /* 192.0.2.255 */
		{ 0x0a0b0c0d, true }, /* 10.11.12.13 in 10.0.0.0/8 */
		{ OUTSIDE2, false }, /* 198.18.0.1 */
		{ 0xc0000300, false }, /* 192.0.3.0: next to the /24 */
		{ 0x0b000001, false }, /* 11.0.0.1 */
	};
	uint64_t drops = counter(SVCBPF_CNT_DROP_SOURCE_RANGE);
	struct lb_stats s0 = svc_stats((uint32_t)svc_lb.id), s1;
	struct src_key k = { .prefixlen = 64, .svc_id = (uint32_t)svc_lb.id };
	uint8_t in[PKT_MAX], one;
	size_t denied = 0;

	(void)state;
	/* The reconciler wrote the ranges and the flag. */
	k.addr = htonl(OUTSIDE);
	assert_int_equal(bpf_map_lookup_elem(maps.src, &k, &one), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt_spec s = tcp_from(cases[i].client, (uint16_t)(47000 + i), LB_IP, 80);
		size_t len = pkt_build(in, &s);

		if (cases[i].allowed) {
			check_nat(TC_IN, &s, true, &lb_be[0].addr);
			s.sport = (uint16_t)(47100 + i);
			check_nat_xdp_marked(&s, &lb_be[0].addr);
			continue;
		}
		check_untouched(TC_IN, in, len, TC_ACT_SHOT, "client outside the source ranges");
		check_xdp_dropped(in, len, "client outside the source ranges");
		s.tcp_flags = 0x10; /* not only connection starts */
		len = pkt_build(in, &s);
		check_xdp_dropped(in, len, "client outside the ranges, an ACK");
		denied += 3;
	}
	assert_int_equal(counter(SVCBPF_CNT_DROP_SOURCE_RANGE), drops + denied);
	s1 = svc_stats((uint32_t)svc_lb.id);
	assert_int_equal(s1.drops - s0.drops, denied);
	assert_int_equal(s1.flows - s0.flows, 6);
}

/* ------------------------------------------------------------- ICMP errors */

/* What an ICMP error quotes: the packet it is about, and how much of it. */
struct quote_case {
	const char *what;
	uint8_t proto;
	uint16_t payload; /* the quoted packet's */
	uint16_t l4_quoted; /* L4 bytes quoted; 0: all of them */
	bool no_csum; /* UDP checksum 0 */
	uint8_t opt_words; /* the quoted packet's IPv4 options */
};

static const struct quote_case quote_cases[] = {
	{ "TCP, 8 bytes of a full segment", IPPROTO_TCP, 1400, 8, false, 0 },
	{ "TCP, the whole SYN", IPPROTO_TCP, 0, 0, false, 0 },
	{ "TCP, the header of a full segment", IPPROTO_TCP, 1400, 20, false, 0 },
	{ "TCP, 8 bytes, quoted IP options", IPPROTO_TCP, 100, 8, false, 3 },
	{ "TCP, the header, quoted IP options", IPPROTO_TCP, 100, 20, false, 1 },
	{ "UDP, the whole datagram", IPPROTO_UDP, 29, 0, false, 0 },
	{ "UDP, the whole datagram, odd length", IPPROTO_UDP, 7, 0, false, 0 },
	{ "UDP, the whole datagram, no checksum", IPPROTO_UDP, 29, 0, true, 0 },
	{ "UDP, 8 bytes of a large datagram", IPPROTO_UDP, 1400, 8, false, 0 },
	{ "UDP, 8 bytes, no checksum", IPPROTO_UDP, 1400, 8, true, 2 },
};

/* The quoted packet of @qc, from @saddr:@sport to @daddr:@dport. */
static struct pkt_spec quote_spec(const struct quote_case *qc, uint32_t saddr, uint16_t sport,
				  uint32_t daddr, uint16_t dport)
{
	return (struct pkt_spec){ .saddr = saddr,
				  .daddr = daddr,
				  .sport = sport,
				  .dport = dport,
				  .proto = qc->proto,
				  .opt_words = qc->opt_words,
				  .payload = qc->payload,
				  .tcp_flags = 0x18,
				  .udp_no_csum = qc->no_csum };
}

/* Build the ICMP error @e quoting @q as @qc says; returns its length. */
static size_t build_icmp(uint8_t *f, const struct icmp_spec *e, const struct pkt_spec *q,
			 const struct quote_case *qc)
{
	uint8_t qf[PKT_MAX];
	size_t qlen = pkt_build(qf, q) - ETH_HLEN, ihl = 20 + 4u * q->opt_words;

	if (qc->l4_quoted && ihl + qc->l4_quoted < qlen)
		qlen = ihl + qc->l4_quoted;
	return pkt_build_icmp(f, e, qf, qlen);
}

/*
 * Run @p on the ICMP error @e quoting @q and check it comes out as @xe
 * quoting @xq (@q with its addresses and ports translated, every checksum
 * summed from scratch over the whole quoted packet): byte for byte; the
 * checksums verify; the quoted TCP/UDP checksum is @q's updated
 * incrementally for the address and port changes (UDP 0 stays 0).
 */
static void check_icmp(enum prog p, const struct icmp_spec *e, const struct pkt_spec *q,
		       const struct icmp_spec *xe, const struct pkt_spec *xq,
		       const struct quote_case *qc, const char *scenario)
{
	uint8_t in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];
	size_t len = build_icmp(in, e, q, qc), out_len;
	uint64_t xlate = counter(SVCBPF_CNT_ICMP_XLATE);
	uint8_t *qi, *qo;
	char what[160];
	int ret;

	snprintf(what, sizeof(what), "%s: %s, %s", prog_name[p], scenario, qc->what);
	assert_int_equal(build_icmp(exp, xe, xq, qc), len);
	ret = run(p, in, len, out, &out_len);
	if (ret != pass_verdict(p))
		fail_msg("%s: verdict %d", what, ret);
	assert_frames_equal(out, out_len, exp, len, what);
	if (!pkt_icmp_csums_ok(out))
		fail_msg("%s: checksums do not verify from scratch", what);
	/* Again on a CHECKSUM_COMPLETE skb: the same bytes, and skb->csum still right. */
	ret = run_flags(p, in, len, out, &out_len, BPF_F_TEST_SKB_CHECKSUM_COMPLETE);
	if (ret != pass_verdict(p))
		fail_msg("%s (CHECKSUM_COMPLETE): verdict %d", what, ret);
	assert_frames_equal(out, out_len, exp, len, what);
	assert_int_equal(counter(SVCBPF_CNT_ICMP_XLATE), xlate + 2);

	/* The quoted L4 checksum, when quoted: an incremental update of the input's. */
	qi = pkt_icmp_quote_frame(in);
	qo = pkt_icmp_quote_frame(out);
	if (pkt_icmp_quote_len(in) >= pkt_ip(qi)->ihl * 4u + (q->proto == IPPROTO_TCP ? 18 : 8)) {
		uint16_t want = *pkt_l4_check(qi);

		if (want || q->proto == IPPROTO_TCP) {
			want = csum_update(want, &pkt_ip(qi)->saddr, &pkt_ip(qo)->saddr, 8);
			want = csum_update(want, pkt_l4(qi), pkt_l4(qo), 4);
			if (!want && q->proto == IPPROTO_UDP)
				want = 0xffff;
		}
		if (*pkt_l4_check(qo) != want)
			fail_msg("%s: quoted L4 checksum %04x, incremental update gives %04x", what,
				 ntohs(*pkt_l4_check(qo)), ntohs(want));
	}
}

/* Open a tracked flow: @s at tc ingress; returns its backend. */
static const struct be_rec *open_flow(const struct pkt_spec *s, const struct svc_rec *r)
{
	const struct be_rec *be = mirror_pick(s, r);

	check_nat(TC_IN, s, true, &be->addr);
	return be;
}

/*
 * A ClusterIP flow C:c -> VIP:v -> P:p. (a) tc ingress: a router's
 * fragmentation needed (MTU 1280) to VIP about the reply VIP:v -> C:c goes
 * to P, quoting P:p -> C:c. (b) tc egress: P's port unreachable to C about
 * C:c -> P:p comes from VIP, quoting C:c -> VIP:v.
 */
static void test_icmp_clusterip(void **state)
{
	uint64_t xlate = counter(SVCBPF_CNT_ICMP_XLATE);

	(void)state;
	for (size_t i = 0; i < sizeof(quote_cases) / sizeof(quote_cases[0]); i++) {
		const struct quote_case *qc = &quote_cases[i];
		uint16_t c = (uint16_t)(48000 + i);
		struct pkt_spec s = qc->proto == IPPROTO_TCP ? syn(c) : dgram(c), q, xq;
		const struct svc_rec *r = qc->proto == IPPROTO_TCP ? &svc_tcp : &svc_udp;
		const struct be_rec *be = open_flow(&s, r);
		uint32_t P = be->addr.ip, V = s.daddr;
		uint16_t p = be->addr.port, v = s.dport;
		struct icmp_spec e = { ROUTER, V, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1280 };
		struct icmp_spec xe = { ROUTER, P, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1280 };

		q = quote_spec(qc, V, v, CLIENT, c);
		xq = quote_spec(qc, P, p, CLIENT, c);
		check_icmp(TC_IN, &e, &q, &xe, &xq, qc, "(a) fragmentation needed to the VIP");
		e.opt_words = xe.opt_words = 2; /* the router's IP options */
		check_icmp(TC_IN, &e, &q, &xe, &xq, qc, "(a) with outer IP options");

		e = (struct icmp_spec){ P, CLIENT, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH };
		xe = (struct icmp_spec){ V, CLIENT, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH };
		q = quote_spec(qc, CLIENT, c, P, p);
		xq = quote_spec(qc, CLIENT, c, V, v);
		check_icmp(TC_EG, &e, &q, &xe, &xq, qc, "(b) the backend's port unreachable");
		e.type = xe.type = 11; /* time exceeded, from a router on the pod's side */
		e.code = xe.code = 0;
		e.saddr = 0x0af40001;
		check_icmp(TC_EG, &e, &q, &xe, &xq, qc, "(b) time exceeded from a router");
		e.type = xe.type = 12; /* parameter problem */
		e.mtu = xe.mtu = 0x0800; /* its pointer (byte 4), as the 16 bits at 6-7 hold it */
		check_icmp(TC_EG, &e, &q, &xe, &xq, qc, "(b) parameter problem");
	}
	print_message(
		"ICMP errors about ClusterIP flows: %llu translated runs (half on CHECKSUM_COMPLETE skbs), %zu quotes\n",
		(unsigned long long)(counter(SVCBPF_CNT_ICMP_XLATE) - xlate),
		sizeof(quote_cases) / sizeof(quote_cases[0]));
}

/*
 * A masqueraded NodePort flow C:c -> N:f -> P:p, leaving as N:n. (c) The
 * pod's port unreachable to N about N:n -> P:p: at tc ingress it goes to C,
 * quoting C:c -> P:p; at tc egress it comes from N, quoting C:c -> N:f.
 * (d) A router's fragmentation needed to N about N:f -> C:c: at tc ingress
 * to P, quoting P:p -> C:c; at tc egress quoting P:p -> N:n, from N, the
 * client's masquerade (as Linux's NAT does the outer source of a related
 * ICMP error: nf_nat_icmp_reply_translation).
 */
static void test_icmp_nodeport(void **state)
{
	uint64_t xlate = counter(SVCBPF_CNT_ICMP_XLATE);

	(void)state;
	for (size_t i = 0; i < sizeof(quote_cases) / sizeof(quote_cases[0]); i++) {
		const struct quote_case *qc = &quote_cases[i];
		uint16_t c = (uint16_t)(49000 + i), f = qc->proto == IPPROTO_TCP ? 30080 : 30053;
		struct pkt_spec s = { .saddr = OUTSIDE,
				      .daddr = NODE_IP,
				      .sport = c,
				      .dport = f,
				      .proto = qc->proto,
				      .payload = 10 };
		const struct svc_rec *r = qc->proto == IPPROTO_TCP ? &svc_np : &svc_np_udp;
		const struct be_rec *be = open_flow(&s, r);
		uint32_t P = be->addr.ip, N = NODE_IP;
		uint16_t p = be->addr.port, n;
		struct icmp_spec e = { P, N, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH };
		struct icmp_spec xe = { P, OUTSIDE, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH };
		struct pkt_spec q, xq;
		struct ct_value v;

		v = ct_get(OUTSIDE, c, N, f, qc->proto, SVCBPF_CT_FWD, "nodeport flow");
		n = ntohs(v.nat_port);
		q = quote_spec(qc, N, n, P, p);
		xq = quote_spec(qc, OUTSIDE, c, P, p);
		check_icmp(TC_IN, &e, &q, &xe, &xq, qc,
			   "(c) the pod's port unreachable to the node");
		e = xe;
		q = xq;
		xe.saddr = N;
		xq = quote_spec(qc, OUTSIDE, c, N, f);
		check_icmp(TC_EG, &e, &q, &xe, &xq, qc, "(c) then leaving for the client");

		e = (struct icmp_spec){ ROUTER, N, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1280 };
		xe = (struct icmp_spec){ ROUTER, P, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1280 };
		q = quote_spec(qc, N, f, OUTSIDE, c);
		xq = quote_spec(qc, P, p, OUTSIDE, c);
		check_icmp(TC_IN, &e, &q, &xe, &xq, qc, "(d) fragmentation needed to the node");
		e = xe;
		q = xq;
		xe.saddr = N;
		xq = quote_spec(qc, P, p, N, n);
		check_icmp(TC_EG, &e, &q, &xe, &xq, qc, "(d) then leaving for the pod");
	}
	print_message(
		"ICMP errors about NodePort flows: %llu translated runs (half on CHECKSUM_COMPLETE skbs), %zu quotes\n",
		(unsigned long long)(counter(SVCBPF_CNT_ICMP_XLATE) - xlate),
		sizeof(quote_cases) / sizeof(quote_cases[0]));
}

/*
 * Not translated, byte for byte: an error about no tracked flow, other ICMP
 * types, a quote too short to hold the ports, a quoted later fragment, an
 * ICMP fragment; and XDP leaves every ICMP error to tc.
 */
static void test_icmp_untouched(void **state)
{
	const struct quote_case *qc = &quote_cases[0];
	struct pkt_spec s = syn(48500), q;
	const struct be_rec *be;
	struct icmp_spec e = { ROUTER, VIP_TCP, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1280 };
	uint64_t xlate = counter(SVCBPF_CNT_ICMP_XLATE);
	uint8_t in[PKT_MAX], qf[PKT_MAX];
	size_t len;

	(void)state;
	be = open_flow(&s, &svc_tcp);

	q = quote_spec(qc, VIP_TCP, 80, CLIENT, 48501); /* another client port: no flow */
	len = build_icmp(in, &e, &q, qc);
	check_untouched(TC_IN, in, len, pass_verdict(TC_IN), "ICMP error about no flow");
	q = quote_spec(qc, CLIENT, 48501, be->addr.ip, be->addr.port);
	e = (struct icmp_spec){ be->addr.ip, CLIENT, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH };
	len = build_icmp(in, &e, &q, qc);
	check_untouched(TC_EG, in, len, pass_verdict(TC_EG), "ICMP error about no flow");

	/* The tracked flow's quotes from here on. */
	q = quote_spec(qc, VIP_TCP, 80, CLIENT, 48500);
	e = (struct icmp_spec){ ROUTER, VIP_TCP, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1280 };
	len = build_icmp(in, &e, &q, qc);
	check_untouched(XDP_IN, in, len, XDP_PASS, "ICMP error in XDP");
	for (uint8_t type = 0; type < 20; type++) {
		if (type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED ||
		    type == ICMP_PARAMETERPROB)
			continue;
		e.type = type; /* echo request, reply, redirect, ... carrying a look-alike quote */
		len = build_icmp(in, &e, &q, qc);
		check_untouched(TC_IN, in, len, pass_verdict(TC_IN), "ICMP, not an error");
	}
	e.type = ICMP_DEST_UNREACH;

	/* Quotes cut short of the ports: the quoted IP header and 0-7 bytes more. */
	pkt_build(qf, &q);
	for (size_t cut = 0; cut < 20 + 8; cut++) {
		char what[64];

		snprintf(what, sizeof(what), "quote of %zu bytes", cut);
		len = pkt_build_icmp(in, &e, qf, cut);
		check_untouched(TC_IN, in, len, pass_verdict(TC_IN), what);
	}
	/* A quoted later fragment has no ports. */
	q.frag = 0x00b9;
	len = build_icmp(in, &e, &q, qc);
	check_untouched(TC_IN, in, len, pass_verdict(TC_IN), "quote of a later fragment");
	q.frag = 0;
	/* The ICMP error itself fragmented. */
	len = build_icmp(in, &e, &q, qc);
	pkt_ip(in)->frag_off = htons(0x2000);
	pkt_fill_csums(in, NULL);
	check_untouched(TC_IN, in, len, pass_verdict(TC_IN), "a fragmented ICMP error");
	assert_int_equal(counter(SVCBPF_CNT_ICMP_XLATE), xlate);
}

/*
 * The LRU evicts entries one by one. A masqueraded flow's client packet
 * puts back the masquerade entries the flow needs: the outgoing one (its
 * packets leave as the node's) and the incoming one (the backend's replies
 * come back to the client).
 */
static void test_masq_entries_restored(void **state)
{
	struct pkt_spec s = tcp_from(OUTSIDE, 40100, NODE_IP, 30080);
	const struct be_rec *be = mirror_pick(&s, &svc_np);
	uint32_t P = be->addr.ip;
	uint16_t p = be->addr.port, n;
	struct ct_key out = { .saddr = htonl(OUTSIDE),
			      .daddr = htonl(P),
			      .sport = htons(40100),
			      .dport = htons(p),
			      .proto = IPPROTO_TCP,
			      .dir = SVCBPF_CT_REV };
	struct ct_key in;
	struct ct_value v;

	(void)state;
	n = masq_roundtrip(&s, &svc_np, NODE_IP, "masquerade before eviction");
	in = (struct ct_key){ .saddr = htonl(P),
			      .daddr = htonl(NODE_IP),
			      .sport = htons(p),
			      .dport = htons(n),
			      .proto = IPPROTO_TCP,
			      .dir = SVCBPF_CT_FWD };
	s.tcp_flags = 0x10;
	s.payload = 20;

	/* Both gone: both back. */
	assert_int_equal(bpf_map_delete_elem(maps.ct, &out), 0);
	assert_int_equal(bpf_map_delete_elem(maps.ct, &in), 0);
	check_nat(TC_IN, &s, true, &be->addr);
	v = ct_get(OUTSIDE, 40100, P, p, IPPROTO_TCP, SVCBPF_CT_REV, "outgoing entry restored");
	assert_ct(&v, NODE_IP, n, SVCBPF_CT_F_SNAT, "outgoing entry restored");
	v = ct_get(P, p, NODE_IP, n, IPPROTO_TCP, SVCBPF_CT_FWD, "incoming entry restored");
	assert_ct(&v, OUTSIDE, 40100, SVCBPF_CT_F_SNAT, "incoming entry restored");

	/* The outgoing one alone. */
	assert_int_equal(bpf_map_delete_elem(maps.ct, &out), 0);
	check_nat(XDP_IN, &s, true, &be->addr);
	v = ct_get(OUTSIDE, 40100, P, p, IPPROTO_TCP, SVCBPF_CT_REV, "outgoing entry restored");
	assert_ct(&v, NODE_IP, n, SVCBPF_CT_F_SNAT, "outgoing entry restored (xdp)");

	/* The incoming one alone: without it the backend's replies reach the node's stack. */
	assert_int_equal(bpf_map_delete_elem(maps.ct, &in), 0);
	check_nat(TC_IN, &s, true, &be->addr);
	v = ct_get(P, p, NODE_IP, n, IPPROTO_TCP, SVCBPF_CT_FWD, "incoming entry restored alone");
	assert_ct(&v, OUTSIDE, 40100, SVCBPF_CT_F_SNAT, "incoming entry restored alone");
}

/* Malformed ICMP errors are never rewritten (DESIGN.md: the dataplane section). */
static void test_icmp_malformed(void **state)
{
	const struct quote_case *qc = &quote_cases[1]; /* the whole SYN */
	struct pkt_spec s = syn(48600), q = quote_spec(qc, VIP_TCP, 80, CLIENT, 48600);
	struct icmp_spec e = { ROUTER, VIP_TCP, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1280 };
	uint64_t xlate = counter(SVCBPF_CNT_ICMP_XLATE);
	uint8_t in[PKT_MAX];
	size_t len;

	(void)state;
	open_flow(&s, &svc_tcp);
	/* The IP length says more than the frame holds (a frame cut short). */
	len = build_icmp(in, &e, &q, qc);
	check_untouched(TC_IN, in, len - 10, pass_verdict(TC_IN), "IP length past the frame");
	/* The IP length ends before the quoted ports: they are Ethernet padding. */
	len = build_icmp(in, &e, &q, qc);
	pkt_ip(in)->tot_len = htons(20 + 8 + 20 + 2);
	pkt_fill_csums(in, NULL);
	check_untouched(TC_IN, in, len, pass_verdict(TC_IN), "quoted ports past the IP length");
	assert_int_equal(counter(SVCBPF_CNT_ICMP_XLATE), xlate);
}

/*
 * An ICMP error is about a flow only when it is addressed as that flow's
 * packets are (Linux: nf_conntrack_inet_error, "outer daddr mismatch"):
 * at ingress to the address the quoted packet came from.
 */
static void test_icmp_outer_mismatch(void **state)
{
	const struct quote_case *qc = &quote_cases[1];
	struct pkt_spec s = syn(48700), q = quote_spec(qc, VIP_TCP, 80, CLIENT, 48700);
	struct icmp_spec e = { ROUTER, 0x0af40909, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1280 };
	const struct be_rec *be;
	uint8_t in[PKT_MAX];
	size_t len;

	(void)state;
	be = open_flow(&s, &svc_tcp);
	len = build_icmp(in, &e, &q, qc);
	check_untouched(TC_IN, in, len, pass_verdict(TC_IN), "ICMP error to another address");
	q = quote_spec(qc, CLIENT, 48700, be->addr.ip, be->addr.port);
	e = (struct icmp_spec){ be->addr.ip, 0x0af40909, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH };
	len = build_icmp(in, &e, &q, qc);
	check_untouched(TC_EG, in, len, pass_verdict(TC_EG), "ICMP error to another client");
}

static const struct svc_rec *const outside_svcs[] = {
	&svc_np, &svc_np_udp, &svc_np1, &svc_hp, &svc_local_empty, &svc_local, &svc_lb, &svc_np_out,
};

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
	/* Room for every masquerade port of a backend, and more. */
	bpf_map__set_max_entries(skel->maps.svcbpf_ct_v3, 65536);
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
	/* Frontends from outside, one by one (each with its own flags and ranges). */
	for (size_t i = 0; i < sizeof(outside_svcs) / sizeof(outside_svcs[0]); i++)
		if (dp_sync_service(&maps, outside_svcs[i], err)) {
			fprintf(stderr, "cannot program a frontend: %s\n", err);
			return -1;
		}
	/* The node's addresses on ifindex 1 (lo: where test runs come in). */
	if (bpf_map_update_elem(maps.nip, &(__be32){ htonl(NODE_IP) }, &(__u32){ 1 }, BPF_ANY) ||
	    bpf_map_update_elem(maps.nip, &(__be32){ htonl(NODE_IP2) }, &(__u32){ 1 }, BPF_ANY) ||
	    bpf_map_update_elem(maps.ifa, &(__u32){ 1 }, &(__be32){ htonl(NODE_IP) }, BPF_ANY)) {
		fprintf(stderr, "cannot write the node address maps: %s\n", strerror(errno));
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
		cmocka_unit_test_setup(test_nodeport_masq, setup_test),
		cmocka_unit_test_setup(test_masq_stats, setup_test),
		cmocka_unit_test_setup(test_nodeport_not_ours, setup_test),
		cmocka_unit_test_setup(test_nodeport_xdp, setup_test),
		cmocka_unit_test_setup(test_masq_ports_unique, setup_test),
		cmocka_unit_test_setup(test_masq_keeps_port, setup_test),
		cmocka_unit_test_setup(test_masq_ports_exhausted, setup_test),
		cmocka_unit_test_setup(test_hairpin, setup_test),
		cmocka_unit_test_setup(test_local_policy, setup_test),
		cmocka_unit_test_setup(test_source_ranges, setup_test),
		cmocka_unit_test_setup(test_icmp_clusterip, setup_test),
		cmocka_unit_test_setup(test_icmp_nodeport, setup_test),
		cmocka_unit_test_setup(test_icmp_untouched, setup_test),
		cmocka_unit_test_setup(test_nodeport_zero_address, setup_test),
		cmocka_unit_test_setup(test_masq_entries_restored, setup_test),
		cmocka_unit_test_setup(test_icmp_malformed, setup_test),
		cmocka_unit_test_setup(test_icmp_outer_mismatch, setup_test),
	};

	return cmocka_run_group_tests_name("packet", tests, setup_group, teardown_group);
}
