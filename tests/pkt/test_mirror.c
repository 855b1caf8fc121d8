// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_mirror.c - the dataplane's selection and conntrack, held to what
 * userspace says they do (BPF_PROG_TEST_RUN on the built programs; root).
 *
 *   mirror     thousands of random flows: the backend the programs pick is
 *              the one the userspace mirror (maglev.c) names, every time
 *   conntrack  TCP states through a handshake, FIN and RST; per-state
 *              timeouts; affinity; backend removal; flows that keep their
 *              backend through table switches, in tc and XDP
 *
 * Every packet's output is checked byte for byte against its input with
 * only the translated address and port changed, checksums from scratch.
 */
#include <errno.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include <cmocka.h>

#include "../lib/xorshift.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "maglev.h"
#include "maps.h"
#include "pkt.h"
#include "svcbpf.bpf.skel.h"
#include "svcbpf.h"

#define M SVCBPF_MAGLEV_M
#define MIRROR_TCP_FLOWS 10000
#define MIRROR_UDP_FLOWS 2000
#define MIRROR_XDP_FLOWS 2000
/* Both directions of every mirror flow, with room to spare. */
#define CT_ENTRIES 65536

#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10
#define TCP_FIN_ACK 0x11
#define TCP_PSH_ACK 0x18
#define TCP_SYN_ACK 0x12
#define TCP_RST_ACK 0x14

#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP
#define ACTIVE SVCBPF_BE_ACTIVE
#define DRAINING SVCBPF_BE_DRAINING

static struct svcbpf_bpf *skel;
static struct dp_maps maps;

/* Mixed weights, one draining and one weight-0 backend: the mirror services. */
static struct be_rec mix_be[] = {
	{ 101, { 0x0af40a01, 8080, 0 }, 1, ACTIVE }, { 102, { 0x0af40a02, 8080, 0 }, 1, ACTIVE },
	{ 103, { 0x0af40a03, 8080, 0 }, 2, ACTIVE }, { 104, { 0x0af40a04, 8080, 0 }, 3, ACTIVE },
	{ 105, { 0x0af40a05, 8080, 0 }, 5, ACTIVE }, { 106, { 0x0af40a06, 8080, 0 }, 3, DRAINING },
	{ 107, { 0x0af40a07, 8080, 0 }, 0, ACTIVE },
};
static struct be_rec mix_udp_be[] = {
	{ 111, { 0x0af40b01, 5353, 0 }, 1, ACTIVE }, { 112, { 0x0af40b02, 5353, 0 }, 1, ACTIVE },
	{ 113, { 0x0af40b03, 5353, 0 }, 2, ACTIVE }, { 114, { 0x0af40b04, 5353, 0 }, 3, ACTIVE },
	{ 115, { 0x0af40b05, 5353, 0 }, 5, ACTIVE }, { 116, { 0x0af40b06, 5353, 0 }, 3, DRAINING },
	{ 117, { 0x0af40b07, 5353, 0 }, 0, ACTIVE },
};
/* Conntrack states and timeouts. */
static struct be_rec ct_be[] = {
	{ 121, { 0x0af40c01, 8443, 0 }, 1, ACTIVE },
	{ 122, { 0x0af40c02, 8443, 0 }, 1, ACTIVE },
	{ 123, { 0x0af40c03, 8443, 0 }, 1, ACTIVE },
};
static struct be_rec ctu_be[] = {
	{ 131, { 0x0af40d01, 5353, 0 }, 1, ACTIVE },
	{ 132, { 0x0af40d02, 5353, 0 }, 1, ACTIVE },
};
/* Client-IP affinity. */
static struct be_rec aff_be[] = {
	{ 141, { 0x0af40e01, 8080, 0 }, 1, ACTIVE }, { 142, { 0x0af40e02, 8080, 0 }, 1, ACTIVE },
	{ 143, { 0x0af40e03, 8080, 0 }, 1, ACTIVE }, { 144, { 0x0af40e04, 8080, 0 }, 1, ACTIVE },
	{ 145, { 0x0af40e05, 8080, 0 }, 1, ACTIVE },
};
/* Table switches under tracked flows: the last two join later. */
static struct be_rec stick_be[] = {
	{ 151, { 0x0af40f01, 8080, 0 }, 1, ACTIVE }, { 152, { 0x0af40f02, 8080, 0 }, 1, ACTIVE },
	{ 153, { 0x0af40f03, 8080, 0 }, 1, ACTIVE }, { 154, { 0x0af40f04, 8080, 0 }, 1, ACTIVE },
	{ 155, { 0x0af40f05, 8080, 0 }, 1, ACTIVE }, { 156, { 0x0af40f06, 8080, 0 }, 1, ACTIVE },
};
/* Backend removal (with affinity, so affinity entries name it too). */
static struct be_rec rm_be[] = {
	{ 161, { 0x0af41001, 8080, 0 }, 1, ACTIVE },
	{ 162, { 0x0af41002, 8080, 0 }, 1, ACTIVE },
	{ 163, { 0x0af41003, 8080, 0 }, 1, ACTIVE },
	{ 164, { 0x0af41004, 8080, 0 }, 1, ACTIVE },
};

#define NBE(a) (sizeof(a) / sizeof((a)[0]))

static struct svc_rec svc_mix = { 10, { 0x0a60010a, 80, TCP }, 0, NBE(mix_be), mix_be };
static struct svc_rec svc_mix_udp = { 11, { 0x0a60010b, 53, UDP }, 0, NBE(mix_udp_be), mix_udp_be };
static struct svc_rec svc_ct = { 12, { 0x0a60010c, 443, TCP }, 0, NBE(ct_be), ct_be };
static struct svc_rec svc_ctu = { 13, { 0x0a60010d, 5353, UDP }, 0, NBE(ctu_be), ctu_be };
static struct svc_rec svc_aff = { 14,
				  { 0x0a60010e, 80, TCP },
				  SVCBPF_AFFINITY_TIMEOUT,
				  NBE(aff_be),
				  aff_be };
static struct svc_rec svc_stick = { 15, { 0x0a60010f, 80, TCP }, 0, 4, stick_be };
static struct svc_rec svc_rm = { 16,
				 { 0x0a600110, 80, TCP },
				 SVCBPF_AFFINITY_TIMEOUT,
				 NBE(rm_be),
				 rm_be };

enum prog { TC_IN, TC_EG, XDP_IN };
static const char *const prog_name[] = { "tc ingress", "tc egress", "xdp" };

static int prog_fd(enum prog p)
{
	return bpf_program__fd(p == TC_IN ? skel->progs.svcbpf_tc_ingress :
			       p == TC_EG ? skel->progs.svcbpf_tc_egress :
					    skel->progs.svcbpf_xdp_ingress);
}

static int pass_verdict(enum prog p)
{
	return p == XDP_IN ? XDP_PASS : TC_ACT_UNSPEC;
}

static uint64_t counter(enum svcbpf_counter c)
{
	struct counter_value v[SVCBPF_CNT_MAX];

	assert_int_equal(dp_read_counters(&maps, v), 0);
	return v[c].packets;
}

/* Every key of @fd (key size @ksz) read first, then deleted: no rescans. */
static void map_flush(int fd, size_t ksz)
{
	uint8_t *keys = malloc((size_t)(CT_ENTRIES + 1) * ksz);
	size_t n = 0;

	assert_non_null(keys);
	if (!bpf_map_get_next_key(fd, NULL, keys)) {
		n = 1;
		while (n <= CT_ENTRIES &&
		       !bpf_map_get_next_key(fd, keys + (n - 1) * ksz, keys + n * ksz))
			n++;
	}
	for (size_t i = 0; i < n; i++)
		bpf_map_delete_elem(fd, keys + i * ksz);
	assert_int_not_equal(bpf_map_get_next_key(fd, NULL, keys), 0);
	free(keys);
}

static void sync_svc(const struct svc_rec *r)
{
	char err[ERR_LEN];

	if (dp_sync_service(&maps, r, err))
		fail_msg("dp_sync_service: %s", err);
	assert_true(dp_service_programmed(&maps, r));
}

/* The service's Maglev table as userspace builds it. */
struct mirror {
	const struct svc_rec *r;
	uint32_t table[M];
};

static void mirror_init(struct mirror *mi, const struct svc_rec *r)
{
	mi->r = r;
	assert_true(maglev_build_svc(r, M, mi->table) > 0);
}

/* The backend the mirror picks for a new flow @s. */
static const struct be_rec *mirror_pick(const struct mirror *mi, const struct pkt_spec *s)
{
	struct l4addr client = { s->saddr, s->sport, s->proto };
	struct l4addr svc = { s->daddr, s->dport, s->proto };
	uint32_t slot = maglev_slot(&client, &svc, M);

	for (size_t i = 0; i < mi->r->nbe; i++)
		if ((uint32_t)mi->r->be[i].id == mi->table[slot])
			return &mi->r->be[i];
	fail_msg("slot %u names backend %u, not one of service %lld's", slot, mi->table[slot],
		 (long long)mi->r->id);
	return NULL;
}

static const struct be_rec *be_by_id(const struct svc_rec *r, uint32_t id)
{
	for (size_t i = 0; i < r->nbe; i++)
		if ((uint32_t)r->be[i].id == id)
			return &r->be[i];
	return NULL;
}

static bool l4_eq(const struct l4addr *a, const struct l4addr *b)
{
	return a->ip == b->ip && a->port == b->port;
}

/* A packet of @r from @client:@sport with @flags (TCP) or a datagram (UDP). */
static struct pkt_spec to_svc(const struct svc_rec *r, uint32_t client, uint16_t sport,
			      uint8_t flags)
{
	return (struct pkt_spec){ .saddr = client,
				  .daddr = r->addr.ip,
				  .sport = sport,
				  .dport = r->addr.port,
				  .proto = r->addr.proto,
				  .tcp_flags = flags,
				  .payload = (uint16_t)(r->addr.proto == UDP ? 32 : 0) };
}

/* The reply to @s from backend @be. */
static struct pkt_spec reply_of(const struct pkt_spec *s, const struct l4addr *be, uint8_t flags)
{
	return (struct pkt_spec){ .saddr = be->ip,
				  .daddr = s->saddr,
				  .sport = be->port,
				  .dport = s->sport,
				  .proto = s->proto,
				  .tcp_flags = flags,
				  .payload = (uint16_t)(s->proto == UDP ? 16 : 0) };
}

/*
 * Run @p on @s. It must pass with checksums that verify and nothing changed
 * but the address and port on the destination (@dst) or source side, which
 * are returned. An untranslated packet returns its own address.
 */
static struct l4addr xlate(enum prog p, const struct pkt_spec *s, bool dst)
{
	uint8_t in[PKT_MAX], out[PKT_MAX], exp[PKT_MAX];
	size_t len = pkt_build(in, s);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = in, .data_size_in = (__u32)len,
		    .data_out = out, .data_size_out = PKT_MAX, .repeat = 1);
	struct l4addr got = { 0, 0, s->proto };
	uint16_t *ports;

	/* A complete checksum that looks like a seed goes to tc: change the window. */
	for (int i = 0; p == XDP_IN && s->proto == TCP && pkt_l4_looks_seed(in) && i < 4; i++) {
		((struct tcphdr *)pkt_l4(in))->window ^= htons(1);
		pkt_fill_csums(in, s);
	}
	if (bpf_prog_test_run_opts(prog_fd(p), &o))
		fail_msg("%s: BPF_PROG_TEST_RUN failed: %s", prog_name[p], strerror(errno));
	if ((int)o.retval != pass_verdict(p))
		fail_msg("%s :%u->:%u: verdict %d", prog_name[p], s->sport, s->dport, o.retval);
	assert_int_equal(o.data_size_out, len);
	ports = (uint16_t *)pkt_l4(out);
	got.ip = ntohl(dst ? pkt_ip(out)->daddr : pkt_ip(out)->saddr);
	got.port = ntohs(dst ? ports[1] : ports[0]);

	memcpy(exp, in, len);
	ports = (uint16_t *)pkt_l4(exp);
	if (dst) {
		pkt_ip(exp)->daddr = htonl(got.ip);
		ports[1] = htons(got.port);
	} else {
		pkt_ip(exp)->saddr = htonl(got.ip);
		ports[0] = htons(got.port);
	}
	pkt_fill_csums(exp, s);
	if (memcmp(out, exp, len))
		fail_msg("%s :%u->:%u: more changed than the %s address", prog_name[p], s->sport,
			 s->dport, dst ? "destination" : "source");
	if (!pkt_csums_ok(out))
		fail_msg("%s :%u->:%u: checksums do not verify", prog_name[p], s->sport, s->dport);
	return got;
}

/* Send @s and check it is translated to backend @be. */
static void expect_dnat(enum prog p, const struct pkt_spec *s, const struct be_rec *be)
{
	struct l4addr got = xlate(p, s, true);

	if (!l4_eq(&got, &be->addr))
		fail_msg("%s :%u: sent to %08x:%u, expected backend %lld at %08x:%u", prog_name[p],
			 s->sport, got.ip, got.port, (long long)be->id, be->addr.ip, be->addr.port);
}

/* The conntrack keys of flow @s (as ct4_key and ct4_reply_key build them). */
static struct ct_key fwd_key(const struct pkt_spec *s)
{
	struct ct_key k;

	memset(&k, 0, sizeof(k));
	k.saddr = htonl(s->saddr);
	k.daddr = htonl(s->daddr);
	k.sport = htons(s->sport);
	k.dport = htons(s->dport);
	k.proto = s->proto;
	k.dir = SVCBPF_CT_FWD;
	return k;
}

static struct ct_key rev_key(const struct pkt_spec *s, const struct l4addr *be)
{
	struct ct_key k;

	memset(&k, 0, sizeof(k));
	k.saddr = htonl(be->ip);
	k.daddr = htonl(s->saddr);
	k.sport = htons(be->port);
	k.dport = htons(s->sport);
	k.proto = s->proto;
	k.dir = SVCBPF_CT_REV;
	return k;
}

static struct ct_value ct_get(const struct ct_key *k)
{
	struct ct_value v;

	if (bpf_map_lookup_elem(maps.ct, k, &v))
		fail_msg("no conntrack entry %08x:%u -> %08x:%u dir %u", ntohl(k->saddr),
			 ntohs(k->sport), ntohl(k->daddr), ntohs(k->dport), k->dir);
	return v;
}

static bool ct_has(const struct ct_key *k)
{
	struct ct_value v;

	return !bpf_map_lookup_elem(maps.ct, k, &v);
}

/* Both entries of flow @s on @be are in @state. */
static void expect_states(const struct pkt_spec *s, const struct be_rec *be, uint8_t fwd,
			  uint8_t rev)
{
	struct ct_key fk = fwd_key(s), rk = rev_key(s, &be->addr);
	struct ct_value f = ct_get(&fk), r = ct_get(&rk);

	if (f.state != fwd || r.state != rev)
		fail_msg(":%u: states FWD %u REV %u, expected %u %u", s->sport, f.state, r.state,
			 fwd, rev);
	assert_int_equal(f.backend_id, be->id);
	assert_int_equal(r.backend_id, be->id);
}

/* Make the entry at @k look @secs seconds idle. */
static void ct_backdate(const struct ct_key *k, uint64_t secs)
{
	struct ct_value v = ct_get(k);

	v.last_seen = dp_now_ns() - secs * 1000000000ull;
	assert_int_equal(bpf_map_update_elem(maps.ct, k, &v, BPF_EXIST), 0);
}

static struct aff_key aff_key_of(uint32_t client, const struct svc_rec *r)
{
	struct aff_key k;

	memset(&k, 0, sizeof(k));
	k.client = htonl(client);
	k.svc_id = (uint32_t)r->id;
	return k;
}

/* The backend the client's affinity names, 0 when it has none. */
static uint32_t aff_backend(uint32_t client, const struct svc_rec *r)
{
	struct aff_key k = aff_key_of(client, r);
	struct aff_value v;

	return bpf_map_lookup_elem(maps.aff, &k, &v) ? 0 : v.backend_id;
}

/* Is a binomial share @p_flow of @n draws within 5 sigma of @p? */
static bool share_ok(double p_flow, double p, size_t n)
{
	double d = p_flow - p;

	return d * d <= 25.0 * p * (1.0 - p) / (double)n + 1e-12;
}

/*
 * @nflows random new flows (distinct clients in 10.244.0.0/16, source ports
 * 1024-65535) through @p: each must go where the mirror says. Prints the
 * backend shares against the table's slot shares.
 */
static void mirror_run(enum prog p, const struct svc_rec *r, size_t nflows, uint8_t flags,
		       uint64_t seed, const char *what)
{
	static uint8_t used[65536];
	static struct mirror mi;
	size_t flows[16] = { 0 }, slots[16] = { 0 }, mismatches = 0;
	uint64_t new_before = counter(SVCBPF_CNT_DNAT_NEW);
	char line[1024];
	int off;

	assert_true(r->nbe <= 16);
	mirror_init(&mi, r);
	for (uint32_t s = 0; s < M; s++) {
		const struct be_rec *be = be_by_id(r, mi.table[s]);

		assert_non_null(be);
		slots[be - r->be]++;
	}
	memset(used, 0, sizeof(used));
	rng_seed(seed);
	for (size_t i = 0; i < nflows; i++) {
		uint32_t host;
		struct pkt_spec s;
		const struct be_rec *want;
		struct l4addr got;
		struct ct_value v;
		struct ct_key k;
		int tries = 0;

		do {
			host = rng() & 0xffff;
			assert_true(++tries < 1000);
		} while (used[host]);
		used[host] = 1;
		s = to_svc(r, 0x0af40000 | host, (uint16_t)(1024 + rng() % (65536 - 1024)), flags);
		want = mirror_pick(&mi, &s);
		got = xlate(p, &s, true);
		k = fwd_key(&s);
		if (!l4_eq(&got, &want->addr) || bpf_map_lookup_elem(maps.ct, &k, &v) ||
		    v.backend_id != want->id) {
			if (mismatches++ < 5)
				print_message("# mismatch: %08x:%u -> backend %08x:%u, mirror %lld "
					      "(%08x:%u)\n",
					      s.saddr, s.sport, got.ip, got.port,
					      (long long)want->id, want->addr.ip, want->addr.port);
			continue;
		}
		flows[want - r->be]++;
	}
	off = snprintf(line, sizeof(line),
		       "# mirror %s: %zu flows, %zu mismatches, backend shares:", what, nflows,
		       mismatches);
	for (size_t b = 0; b < r->nbe && off > 0 && (size_t)off < sizeof(line); b++)
		off += snprintf(line + off, sizeof(line) - (size_t)off,
				" %lld(w%u%s) %zu=%.1f%%/%.1f%%", (long long)r->be[b].id,
				r->be[b].weight, r->be[b].state == DRAINING ? ",draining" : "",
				flows[b], 100.0 * flows[b] / nflows, 100.0 * slots[b] / M);
	print_message("%s (flows=share/slot share)\n", line);
	assert_int_equal(mismatches, 0);
	assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), new_before + nflows);
	for (size_t b = 0; b < r->nbe; b++) {
		double p_slot = (double)slots[b] / M, p_flow = (double)flows[b] / nflows;

		/* Draining and weight-0 backends own no slot and take no new flow. */
		if (r->be[b].state != ACTIVE || !r->be[b].weight) {
			assert_int_equal(slots[b], 0);
			assert_int_equal(flows[b], 0);
			continue;
		}
		assert_true(slots[b] > 0);
		assert_true(share_ok(p_flow, p_slot, nflows));
	}
}

/* THE mirror test: 10 000 TCP connections, each where userspace says. */
static void test_mirror_tcp(void **state)
{
	(void)state;
	mirror_run(TC_IN, &svc_mix, MIRROR_TCP_FLOWS, TCP_SYN, 0x5eed0001, "tcp SYN, tc");
}

static void test_mirror_udp(void **state)
{
	(void)state;
	mirror_run(TC_IN, &svc_mix_udp, MIRROR_UDP_FLOWS, 0, 0x5eed0002, "udp, tc");
}

/* Flows first seen mid-stream (their entries gone) pick in XDP the same way. */
static void test_mirror_xdp(void **state)
{
	(void)state;
	mirror_run(XDP_IN, &svc_mix, MIRROR_XDP_FLOWS, TCP_ACK, 0x5eed0003, "tcp ACK, xdp");
}

/* A handshake, data, FIN, and the states both entries go through. */
static void test_ct_tcp_states(void **state)
{
	static struct mirror mi;
	struct pkt_spec s = to_svc(&svc_ct, 0x0af41401, 40000, TCP_SYN), r;
	const struct l4addr vip = svc_ct.addr;
	const struct be_rec *be;
	uint64_t new0 = counter(SVCBPF_CNT_DNAT_NEW), est0 = counter(SVCBPF_CNT_DNAT_EST);
	uint64_t rev0 = counter(SVCBPF_CNT_REVNAT);
	struct l4addr got;

	(void)state;
	mirror_init(&mi, &svc_ct);
	be = mirror_pick(&mi, &s);
	expect_dnat(TC_IN, &s, be);
	expect_states(&s, be, SVCBPF_CT_NEW, SVCBPF_CT_NEW);
	assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), new0 + 1);

	/* A retransmitted SYN is the same connection. */
	expect_dnat(TC_IN, &s, be);
	assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), new0 + 1);
	assert_int_equal(counter(SVCBPF_CNT_DNAT_EST), est0 + 1);
	expect_states(&s, be, SVCBPF_CT_NEW, SVCBPF_CT_NEW);

	/* SYN-ACK: translated back, the reply side still NEW. */
	r = reply_of(&s, &be->addr, TCP_SYN_ACK);
	got = xlate(TC_EG, &r, false);
	assert_true(l4_eq(&got, &vip));
	assert_int_equal(counter(SVCBPF_CNT_REVNAT), rev0 + 1);
	expect_states(&s, be, SVCBPF_CT_NEW, SVCBPF_CT_NEW);

	/* The client's ACK establishes its side, the backend's ACK the other. */
	s.tcp_flags = TCP_ACK;
	expect_dnat(TC_IN, &s, be);
	expect_states(&s, be, SVCBPF_CT_ESTABLISHED, SVCBPF_CT_NEW);
	r.tcp_flags = TCP_ACK;
	got = xlate(TC_EG, &r, false);
	assert_true(l4_eq(&got, &vip));
	expect_states(&s, be, SVCBPF_CT_ESTABLISHED, SVCBPF_CT_ESTABLISHED);

	/* Data, through XDP too. */
	s.tcp_flags = TCP_PSH_ACK;
	s.payload = 200;
	expect_dnat(XDP_IN, &s, be);
	expect_dnat(TC_IN, &s, be);
	expect_states(&s, be, SVCBPF_CT_ESTABLISHED, SVCBPF_CT_ESTABLISHED);
	s.payload = 0;

	/* The client's FIN: both sides closing; later ACKs do not reopen it. */
	s.tcp_flags = TCP_FIN_ACK;
	expect_dnat(TC_IN, &s, be);
	expect_states(&s, be, SVCBPF_CT_CLOSING, SVCBPF_CT_CLOSING);
	r.tcp_flags = TCP_FIN_ACK;
	got = xlate(TC_EG, &r, false);
	assert_true(l4_eq(&got, &vip));
	s.tcp_flags = TCP_ACK;
	expect_dnat(XDP_IN, &s, be);
	expect_states(&s, be, SVCBPF_CT_CLOSING, SVCBPF_CT_CLOSING);
	assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), new0 + 1);

	/* A SYN on the closing tuple: the client reused its port, a new flow. */
	s.tcp_flags = TCP_SYN;
	expect_dnat(TC_IN, &s, be);
	assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), new0 + 2);
	expect_states(&s, be, SVCBPF_CT_NEW, SVCBPF_CT_NEW);

	/* The backend's FIN closes both sides as well. */
	s.tcp_flags = TCP_ACK;
	expect_dnat(TC_IN, &s, be);
	r.tcp_flags = TCP_FIN_ACK;
	xlate(TC_EG, &r, false);
	expect_states(&s, be, SVCBPF_CT_CLOSING, SVCBPF_CT_CLOSING);
	/* A RST after a FIN: closed. */
	r.tcp_flags = TCP_RST;
	got = xlate(TC_EG, &r, false);
	assert_true(l4_eq(&got, &vip));
	expect_states(&s, be, SVCBPF_CT_CLOSED, SVCBPF_CT_CLOSED);
}

/*
 * A connection idle for longer than the fin timeout (but not the tcp one)
 * still closes cleanly both ways: a FIN refreshes the other side's entry as
 * it moves it to closing, so the peer's FIN-ACK is still translated back,
 * and the last ACK still reaches the same backend.
 */
static void test_ct_idle_close(void **state)
{
	static struct mirror mi;
	const struct be_rec *be;
	struct pkt_spec s, r;
	struct ct_key fk, rk;
	struct l4addr src;
	int round;

	(void)state;
	mirror_init(&mi, &svc_ct);
	for (round = 0; round < 2; round++) {
		/* Round 0: the client closes first; round 1: the backend does. */
		s = to_svc(&svc_ct, 0x0af41601, (uint16_t)(42100 + round), TCP_SYN);
		be = mirror_pick(&mi, &s);
		expect_dnat(TC_IN, &s, be);
		s.tcp_flags = TCP_ACK;
		expect_dnat(TC_IN, &s, be);
		r = reply_of(&s, &be->addr, TCP_ACK);
		src = xlate(TC_EG, &r, false);
		assert_true(l4_eq(&src, &svc_ct.addr));
		expect_states(&s, be, SVCBPF_CT_ESTABLISHED, SVCBPF_CT_ESTABLISHED);

		fk = fwd_key(&s);
		rk = rev_key(&s, &be->addr);
		ct_backdate(&fk, SVCBPF_CT_TIMEOUT_FIN + 5);
		ct_backdate(&rk, SVCBPF_CT_TIMEOUT_FIN + 5);
		if (round == 0) {
			s.tcp_flags = TCP_FIN_ACK;
			expect_dnat(TC_IN, &s, be);
			r.tcp_flags = TCP_FIN_ACK;
			src = xlate(TC_EG, &r, false);
			assert_true(l4_eq(&src, &svc_ct.addr));
		} else {
			r.tcp_flags = TCP_FIN_ACK;
			src = xlate(TC_EG, &r, false);
			assert_true(l4_eq(&src, &svc_ct.addr));
			s.tcp_flags = TCP_FIN_ACK;
			expect_dnat(TC_IN, &s, be);
		}
		expect_states(&s, be, SVCBPF_CT_CLOSING, SVCBPF_CT_CLOSING);
		s.tcp_flags = TCP_ACK;
		expect_dnat(TC_IN, &s, be);
	}
}

/* A RST from either side closes both; a SYN after it is a new flow. */
static void test_ct_tcp_rst(void **state)
{
	static struct mirror mi;
	const struct l4addr vip = svc_ct.addr;

	(void)state;
	mirror_init(&mi, &svc_ct);
	for (int from_backend = 0; from_backend <= 1; from_backend++) {
		struct pkt_spec s =
			to_svc(&svc_ct, 0x0af41402, (uint16_t)(41000 + from_backend), TCP_SYN);
		const struct be_rec *be = mirror_pick(&mi, &s);
		struct pkt_spec r = reply_of(&s, &be->addr, TCP_SYN_ACK);
		uint64_t new0 = counter(SVCBPF_CNT_DNAT_NEW);
		struct l4addr got;

		expect_dnat(TC_IN, &s, be);
		xlate(TC_EG, &r, false);
		s.tcp_flags = TCP_ACK;
		expect_dnat(TC_IN, &s, be);
		r.tcp_flags = TCP_ACK;
		xlate(TC_EG, &r, false);
		expect_states(&s, be, SVCBPF_CT_ESTABLISHED, SVCBPF_CT_ESTABLISHED);
		if (from_backend) {
			r.tcp_flags = TCP_RST;
			got = xlate(TC_EG, &r, false);
			assert_true(l4_eq(&got, &vip));
		} else {
			s.tcp_flags = TCP_RST_ACK;
			expect_dnat(TC_IN, &s, be);
		}
		expect_states(&s, be, SVCBPF_CT_CLOSED, SVCBPF_CT_CLOSED);
		assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), new0 + 1);

		/* Non-SYN stragglers stay with the closed flow. */
		s.tcp_flags = TCP_ACK;
		expect_dnat(TC_IN, &s, be);
		expect_states(&s, be, SVCBPF_CT_CLOSED, SVCBPF_CT_CLOSED);
		assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), new0 + 1);

		s.tcp_flags = TCP_SYN;
		expect_dnat(TC_IN, &s, be);
		assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), new0 + 2);
		expect_states(&s, be, SVCBPF_CT_NEW, SVCBPF_CT_NEW);
	}
}

/* Short, distinct timeouts, so a wrong choice of timeout shows. */
static const struct svcbpf_cfg short_cfg = { .maglev_m = M,
					     .ct_timeout_syn = 20,
					     .ct_timeout_tcp = 40,
					     .ct_timeout_fin = 10,
					     .ct_timeout_udp = 30 };

static int restore_cfg(void **state)
{
	const struct svcbpf_cfg def = { .maglev_m = M,
					.ct_timeout_syn = SVCBPF_CT_TIMEOUT_SYN,
					.ct_timeout_tcp = SVCBPF_CT_TIMEOUT_TCP,
					.ct_timeout_fin = SVCBPF_CT_TIMEOUT_FIN,
					.ct_timeout_udp = SVCBPF_CT_TIMEOUT_UDP };

	(void)state;
	return dp_cfg_write(&maps, &def);
}

/*
 * Flow @s (already in state @st) idle just under @timeout: still tracked;
 * just over: the next packet @next is a new flow, in state @new_state.
 */
static void check_expiry(struct pkt_spec *s, const struct be_rec *be, uint8_t next,
			 uint32_t timeout, uint8_t new_state, const char *what)
{
	struct ct_key fk = fwd_key(s);
	uint64_t new0 = counter(SVCBPF_CNT_DNAT_NEW), est0 = counter(SVCBPF_CNT_DNAT_EST);
	uint8_t st = ct_get(&fk).state;

	s->tcp_flags = next;
	ct_backdate(&fk, timeout - 2);
	expect_dnat(TC_IN, s, be);
	if (counter(SVCBPF_CNT_DNAT_EST) != est0 + 1 || counter(SVCBPF_CNT_DNAT_NEW) != new0)
		fail_msg("%s: idle %us of %us (state %u): not treated as tracked", what,
			 timeout - 2, timeout, st);
	/* That packet may have moved the state (an ACK establishes): put it back. */
	{
		struct ct_value v = ct_get(&fk);

		v.state = st;
		assert_int_equal(bpf_map_update_elem(maps.ct, &fk, &v, BPF_EXIST), 0);
	}
	ct_backdate(&fk, timeout + 2);
	expect_dnat(TC_IN, s, be);
	if (counter(SVCBPF_CNT_DNAT_NEW) != new0 + 1)
		fail_msg("%s: idle %us of %us (state %u): not treated as a new flow", what,
			 timeout + 2, timeout, st);
	assert_int_equal(ct_get(&fk).state, new_state);
	assert_true(dp_now_ns() - ct_get(&fk).last_seen < 5000000000ull);
}

static void test_ct_expiry(void **state)
{
	static struct mirror mi, miu;
	struct pkt_spec s;
	const struct be_rec *be;

	(void)state;
	assert_int_equal(dp_cfg_write(&maps, &short_cfg), 0);
	mirror_init(&mi, &svc_ct);
	mirror_init(&miu, &svc_ctu);

	/* NEW: the SYN timeout; a retransmitted SYN after it starts over. */
	s = to_svc(&svc_ct, 0x0af41501, 42000, TCP_SYN);
	be = mirror_pick(&mi, &s);
	expect_dnat(TC_IN, &s, be);
	check_expiry(&s, be, TCP_SYN, short_cfg.ct_timeout_syn, SVCBPF_CT_NEW, "syn");

	/* ESTABLISHED: the TCP timeout; a flow seen again mid-stream is established. */
	s = to_svc(&svc_ct, 0x0af41501, 42001, TCP_SYN);
	be = mirror_pick(&mi, &s);
	expect_dnat(TC_IN, &s, be);
	s.tcp_flags = TCP_ACK;
	expect_dnat(TC_IN, &s, be);
	expect_states(&s, be, SVCBPF_CT_ESTABLISHED, SVCBPF_CT_NEW);
	check_expiry(&s, be, TCP_ACK, short_cfg.ct_timeout_tcp, SVCBPF_CT_ESTABLISHED,
		     "established");

	/* CLOSING: the FIN timeout. */
	s = to_svc(&svc_ct, 0x0af41501, 42002, TCP_SYN);
	be = mirror_pick(&mi, &s);
	expect_dnat(TC_IN, &s, be);
	s.tcp_flags = TCP_FIN_ACK;
	expect_dnat(TC_IN, &s, be);
	expect_states(&s, be, SVCBPF_CT_CLOSING, SVCBPF_CT_CLOSING);
	check_expiry(&s, be, TCP_ACK, short_cfg.ct_timeout_fin, SVCBPF_CT_ESTABLISHED, "closing");

	/* UDP: the UDP timeout. */
	s = to_svc(&svc_ctu, 0x0af41501, 42003, 0);
	be = mirror_pick(&miu, &s);
	expect_dnat(TC_IN, &s, be);
	check_expiry(&s, be, 0, short_cfg.ct_timeout_udp, SVCBPF_CT_ESTABLISHED, "udp");

	/* An expired reverse entry translates nothing; a live one does. */
	s = to_svc(&svc_ct, 0x0af41501, 42004, TCP_SYN);
	be = mirror_pick(&mi, &s);
	expect_dnat(TC_IN, &s, be);
	s.tcp_flags = TCP_ACK;
	expect_dnat(TC_IN, &s, be);
	{
		struct pkt_spec r = reply_of(&s, &be->addr, TCP_ACK);
		struct ct_key rk = rev_key(&s, &be->addr);
		uint64_t rev0 = counter(SVCBPF_CNT_REVNAT);
		struct l4addr got;

		/* The reverse side is still NEW (no reply yet): the SYN timeout. */
		ct_backdate(&rk, short_cfg.ct_timeout_syn - 2);
		got = xlate(TC_EG, &r, false);
		assert_true(l4_eq(&got, &svc_ct.addr));
		assert_int_equal(counter(SVCBPF_CNT_REVNAT), rev0 + 1);
		ct_backdate(&rk, short_cfg.ct_timeout_tcp + 2);
		got = xlate(TC_EG, &r, false);
		assert_true(l4_eq(&got, &be->addr));
		assert_int_equal(counter(SVCBPF_CNT_REVNAT), rev0 + 1);
	}
}

/* Make client @client's affinity to @r look @secs seconds idle. */
static void aff_backdate(uint32_t client, const struct svc_rec *r, uint64_t secs)
{
	struct aff_key k = aff_key_of(client, r);
	struct aff_value v;

	assert_int_equal(bpf_map_lookup_elem(maps.aff, &k, &v), 0);
	v.last_seen = dp_now_ns() - secs * 1000000000ull;
	assert_int_equal(bpf_map_update_elem(maps.aff, &k, &v, BPF_EXIST), 0);
}

/* @s with the first source port from @from on that Maglev sends elsewhere than @avoid. */
static void port_not_on(const struct mirror *mi, struct pkt_spec *s, uint16_t from,
			const struct be_rec *avoid)
{
	for (uint16_t port = from; port < from + 1000; port++) {
		s->sport = port;
		if (mirror_pick(mi, s)->id != avoid->id)
			return;
	}
	fail_msg("no port in %u..%u that Maglev sends elsewhere", from, from + 999);
}

/* One client's connections share a backend; others spread; expiry and drain end it. */
static void test_affinity(void **state)
{
	static struct mirror mi, mid;
	struct be_rec drained_be[NBE(aff_be)];
	struct svc_rec drained = svc_aff;
	const uint32_t client = 0x0af43201;
	const struct be_rec *first, *be, *other;
	struct pkt_spec s, tracked;
	size_t elsewhere = 0, seen[NBE(aff_be)] = { 0 }, distinct = 0;
	uint64_t new0, est0;

	(void)state;
	sync_svc(&svc_aff);
	mirror_init(&mi, &svc_aff);
	s = to_svc(&svc_aff, client, 30000, TCP_SYN);
	first = mirror_pick(&mi, &s);
	for (uint16_t i = 0; i < 50; i++) {
		s.sport = (uint16_t)(30000 + i);
		elsewhere += mirror_pick(&mi, &s) != first;
		expect_dnat(TC_IN, &s, first);
	}
	/* Without affinity most of them would have gone elsewhere. */
	assert_true(elsewhere > 20);
	assert_int_equal(aff_backend(client, &svc_aff), first->id);

	/* Other clients: their own Maglev choices. */
	for (uint32_t c = 0; c < 50; c++) {
		s = to_svc(&svc_aff, 0x0af43300 + c, 30000, TCP_SYN);
		be = mirror_pick(&mi, &s);
		expect_dnat(TC_IN, &s, be);
		assert_int_equal(aff_backend(s.saddr, &svc_aff), be->id);
		if (!seen[be - aff_be]++)
			distinct++;
	}
	print_message("# affinity: 50 flows of one client all on backend %lld (Maglev alone would "
		      "have sent %zu elsewhere); 50 other clients over %zu of 5 backends\n",
		      (long long)first->id, elsewhere, distinct);
	assert_true(distinct >= 4);

	/* Idle just under the timeout: still held. */
	aff_backdate(client, &svc_aff, svc_aff.affinity - 2);
	s = to_svc(&svc_aff, client, 0, TCP_SYN);
	port_not_on(&mi, &s, 31000, first);
	expect_dnat(TC_IN, &s, first);

	/* Idle past it: the next new flow takes the Maglev choice, and keeps it. */
	aff_backdate(client, &svc_aff, svc_aff.affinity + 2);
	port_not_on(&mi, &s, (uint16_t)(s.sport + 1), first);
	be = mirror_pick(&mi, &s);
	new0 = counter(SVCBPF_CNT_DNAT_NEW);
	expect_dnat(TC_IN, &s, be);
	assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), new0 + 1);
	assert_int_equal(aff_backend(client, &svc_aff), be->id);
	tracked = s;
	port_not_on(&mi, &s, 33000, be);
	expect_dnat(TC_IN, &s, be);

	/* Its backend draining: new flows go elsewhere, the tracked one stays. */
	memcpy(drained_be, aff_be, sizeof(aff_be));
	drained_be[be - aff_be].state = DRAINING;
	drained.be = drained_be;
	sync_svc(&drained);
	mirror_init(&mid, &drained);
	s.sport = 34000;
	other = &aff_be[mirror_pick(&mid, &s) - drained_be];
	assert_int_not_equal(other->id, be->id);
	expect_dnat(TC_IN, &s, other);
	assert_int_equal(aff_backend(client, &svc_aff), other->id);
	s.sport = 34001;
	expect_dnat(TC_IN, &s, other);
	est0 = counter(SVCBPF_CNT_DNAT_EST);
	tracked.tcp_flags = TCP_ACK;
	expect_dnat(TC_IN, &tracked, be);
	expect_dnat(XDP_IN, &tracked, be);
	assert_int_equal(counter(SVCBPF_CNT_DNAT_EST), est0 + 2);
	sync_svc(&svc_aff);
}

/* All conntrack entries of one backend id, and affinity entries naming it. */
static void count_refs(uint32_t id, const struct l4addr *a, size_t *ct, size_t *ct_addr,
		       size_t *aff)
{
	struct ct_key *ck;
	struct ct_value *cv;
	struct aff_key k, next;
	size_t n, guard = 0;
	bool first = true;

	*ct = *ct_addr = *aff = 0;
	assert_int_equal(dp_ct_read(&maps, &ck, &cv, &n), 0);
	for (size_t i = 0; i < n; i++) {
		/* A closed TCP reply entry only lets in-flight replies back for the fin timeout. */
		if (ck[i].dir == SVCBPF_CT_REV && ck[i].proto == IPPROTO_TCP &&
		    cv[i].state == SVCBPF_CT_CLOSED)
			continue;
		*ct += cv[i].backend_id == id;
		if (ck[i].dir == SVCBPF_CT_FWD)
			*ct_addr += cv[i].addr == htonl(a->ip) && cv[i].port == htons(a->port);
		else
			*ct_addr += ck[i].saddr == htonl(a->ip) && ck[i].sport == htons(a->port);
	}
	free(ck);
	free(cv);
	while (!bpf_map_get_next_key(maps.aff, first ? NULL : &k, &next) && guard++ < CT_ENTRIES) {
		struct aff_value v;

		if (!bpf_map_lookup_elem(maps.aff, &next, &v) && v.backend_id == id)
			(*aff)++;
		k = next;
		first = false;
	}
}

/* A removed backend leaves nothing behind; its flows move to live backends. */
static void test_remove_backend(void **state)
{
	static struct mirror mi, mis;
	struct pkt_spec flows[40];
	const struct be_rec *on[40];
	struct be_rec rest[NBE(rm_be)];
	struct svc_rec shrunk = svc_rm;
	const struct be_rec *victim, *early;
	size_t nv = 0, n = 0, ct, ct_addr, aff;
	uint64_t new0;
	uint32_t vid;
	struct backend_value bv;
	int moved_xdp = 0;

	(void)state;
	sync_svc(&svc_rm);
	mirror_init(&mi, &svc_rm);
	for (uint32_t i = 0; i < 40; i++) {
		flows[i] = to_svc(&svc_rm, 0x0af43c00 + i, (uint16_t)(43000 + i), TCP_SYN);
		on[i] = mirror_pick(&mi, &flows[i]);
		expect_dnat(TC_IN, &flows[i], on[i]);
		flows[i].tcp_flags = TCP_ACK;
		expect_dnat(TC_IN, &flows[i], on[i]);
	}
	victim = on[0];
	vid = (uint32_t)victim->id;
	for (size_t i = 0; i < 40; i++)
		nv += on[i] == victim;
	assert_true(nv >= 2 && nv < 40);
	count_refs(vid, &victim->addr, &ct, &ct_addr, &aff);
	assert_int_equal(ct, 2 * nv);
	assert_int_equal(aff, nv);

	for (size_t i = 0; i < NBE(rm_be); i++)
		if (rm_be[i].id != victim->id)
			rest[n++] = rm_be[i];
	shrunk.be = rest;
	shrunk.nbe = n;
	sync_svc(&shrunk);
	mirror_init(&mis, &shrunk);
	/*
	 * dp_remove_backends frees the backend entry first and its conntrack
	 * entries after: a packet in between (flow 0's) is re-balanced already.
	 */
	assert_int_equal(bpf_map_delete_elem(maps.be, &vid), 0);
	new0 = counter(SVCBPF_CNT_DNAT_NEW);
	early = mirror_pick(&mis, &flows[0]);
	expect_dnat(TC_IN, &flows[0], early);
	assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), new0 + 1);
	assert_int_equal(dp_remove_backends(&maps, &vid, 1), 0);
	assert_int_equal(bpf_map_lookup_elem(maps.be, &vid, &bv), -ENOENT);
	count_refs(vid, &victim->addr, &ct, &ct_addr, &aff);
	assert_int_equal(ct, 0);
	assert_int_equal(ct_addr, 0);
	assert_int_equal(aff, 0);

	/* The others' entries are all still there. */
	for (size_t i = 0; i < 40; i++) {
		struct ct_key fk = fwd_key(&flows[i]), rk = rev_key(&flows[i], &on[i]->addr);

		if (i == 0) {
			/* Re-balanced before the cleanup: its new entries stay. */
			expect_states(&flows[0], early, SVCBPF_CT_ESTABLISHED,
				      SVCBPF_CT_ESTABLISHED);
			assert_true(!ct_has(&rk) || ct_get(&rk).state == SVCBPF_CT_CLOSED);
			assert_int_equal(aff_backend(flows[0].saddr, &svc_rm), early->id);
			continue;
		}
		if (on[i] == victim) {
			assert_false(ct_has(&fk));
			assert_true(!ct_has(&rk) || ct_get(&rk).state == SVCBPF_CT_CLOSED);
			assert_int_equal(aff_backend(flows[i].saddr, &svc_rm), 0);
			continue;
		}
		assert_true(ct_has(&fk));
		assert_true(ct_has(&rk));
		assert_int_equal(aff_backend(flows[i].saddr, &svc_rm), on[i]->id);
	}

	/* The next packet of each flow: the victim's re-balanced, established; others stay. */
	for (size_t i = 0; i < 40; i++) {
		const struct be_rec *to = on[i] == victim ? mirror_pick(&mis, &flows[i]) : on[i];
		bool moves = on[i] == victim && i != 0;
		/* Every other victim flow goes through XDP. */
		enum prog p = moves && (moved_xdp++ & 1) ? XDP_IN : TC_IN;

		new0 = counter(SVCBPF_CNT_DNAT_NEW);
		expect_dnat(p, &flows[i], to);
		assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), new0 + moves);
		if (on[i] == victim) {
			assert_int_not_equal(to->id, vid);
			expect_states(&flows[i], to, SVCBPF_CT_ESTABLISHED, SVCBPF_CT_ESTABLISHED);
		}
	}
	print_message("# removal: backend %u had %zu of 40 flows; all re-balanced, the other %zu "
		      "kept theirs\n",
		      vid, nv, 40 - nv);
	sync_svc(&svc_rm);
}

/* Tracked flows keep their backend through weight changes and backends added or removed. */
static void test_tracked_flows_stick(void **state)
{
	static struct mirror mi, mi2;
	static const uint16_t weights[] = { 5, 1, 3, 2 };
	struct be_rec cur[NBE(stick_be)];
	struct svc_rec r = svc_stick;
	struct pkt_spec flows[200];
	const struct be_rec *on[200];
	uint32_t gone = (uint32_t)stick_be[1].id;
	size_t moved = 0;

	(void)state;
	memcpy(cur, stick_be, sizeof(cur));
	r.be = cur;
	sync_svc(&r);
	mirror_init(&mi, &r);
	for (uint32_t i = 0; i < 200; i++) {
		flows[i] = to_svc(&r, 0x0af44600 + (i & 7), (uint16_t)(44000 + i), TCP_SYN);
		on[i] = &stick_be[mirror_pick(&mi, &flows[i]) - cur];
		expect_dnat(TC_IN, &flows[i], on[i]);
		flows[i].tcp_flags = i & 1 ? TCP_ACK : TCP_PSH_ACK;
	}

	/* 1: new weights. 2: two backends added. 3: one removed (and freed). */
	for (int step = 1; step <= 3; step++) {
		uint64_t est0 = counter(SVCBPF_CNT_DNAT_EST), new0 = counter(SVCBPF_CNT_DNAT_NEW);
		size_t would_move = 0, expect_est = 0, expect_new = 0;

		if (step == 1) {
			for (size_t i = 0; i < 4; i++)
				cur[i].weight = weights[i];
		} else if (step == 2) {
			r.nbe = 6;
		} else {
			memmove(&cur[1], &cur[2], 4 * sizeof(cur[0]));
			r.nbe = 5;
		}
		sync_svc(&r);
		if (step == 3)
			assert_int_equal(dp_remove_backends(&maps, &gone, 1), 0);
		mirror_init(&mi2, &r);
		for (size_t i = 0; i < 200; i++) {
			const struct be_rec *now_be = mirror_pick(&mi2, &flows[i]);
			enum prog first = i & 1 ? XDP_IN : TC_IN, second = i & 1 ? TC_IN : XDP_IN;

			if (step == 3 && on[i]->id == gone) {
				/* Its backend is gone: re-balanced by the new table, then tracked. */
				expect_dnat(first, &flows[i], now_be);
				expect_dnat(second, &flows[i], now_be);
				expect_new++;
				expect_est++;
				moved++;
				continue;
			}
			would_move += now_be->id != on[i]->id;
			expect_dnat(first, &flows[i], on[i]);
			expect_dnat(second, &flows[i], on[i]);
			expect_est += 2;
		}
		/* The table did change under them, or this would prove nothing. */
		assert_true(would_move > 0);
		assert_int_equal(counter(SVCBPF_CNT_DNAT_EST), est0 + expect_est);
		assert_int_equal(counter(SVCBPF_CNT_DNAT_NEW), new0 + expect_new);
		print_message("# table switch %d (%s): %zu of %zu tracked flows would go elsewhere "
			      "as new flows; none moved (tc and xdp)\n",
			      step,
			      step == 1 ? "weights 1,1,1,1 -> 5,1,3,2" :
			      step == 2 ? "2 backends added" :
					  "backend 152 removed",
			      would_move, 200 - expect_new);
		/* A new flow takes the new table. */
		{
			struct pkt_spec s = to_svc(&r, 0x0af44700 + (uint32_t)step, 45000, TCP_SYN);

			expect_dnat(TC_IN, &s, mirror_pick(&mi2, &s));
		}
	}
	assert_true(moved > 0);
	print_message("# %zu flows on the removed backend re-balanced, then tracked\n", moved);
	r = svc_stick;
	sync_svc(&r);
}

static int setup_test(void **state)
{
	(void)state;
	map_flush(maps.ct, sizeof(struct ct_key));
	map_flush(maps.aff, sizeof(struct aff_key));
	return 0;
}

static int setup_group(void **state)
{
	const struct svc_rec *all[] = { &svc_mix, &svc_mix_udp, &svc_ct, &svc_ctu,
					&svc_aff, &svc_stick,	&svc_rm };
	char err[ERR_LEN];

	(void)state;
	skel = svcbpf_bpf__open();
	if (!skel)
		return -1;
	bpf_map__set_max_entries(skel->maps.svcbpf_ct_v3, CT_ENTRIES);
	bpf_map__set_max_entries(skel->maps.svcbpf_aff_v1, 4096);
	if (dp_load_unpinned(skel, &maps)) {
		fprintf(stderr, "cannot load the BPF object (root needed)\n");
		return -1;
	}
	if (dp_sync_services(&maps, all, sizeof(all) / sizeof(all[0]), err)) {
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
		cmocka_unit_test_setup(test_mirror_tcp, setup_test),
		cmocka_unit_test_setup(test_mirror_udp, setup_test),
		cmocka_unit_test_setup(test_mirror_xdp, setup_test),
		cmocka_unit_test_setup(test_ct_tcp_states, setup_test),
		cmocka_unit_test_setup(test_ct_tcp_rst, setup_test),
		cmocka_unit_test_setup(test_ct_idle_close, setup_test),
		cmocka_unit_test_setup_teardown(test_ct_expiry, setup_test, restore_cfg),
		cmocka_unit_test_setup(test_affinity, setup_test),
		cmocka_unit_test_setup(test_remove_backend, setup_test),
		cmocka_unit_test_setup(test_tracked_flows_stick, setup_test),
	};

	return cmocka_run_group_tests_name("mirror", tests, setup_group, teardown_group);
}
