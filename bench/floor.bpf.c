// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * floor.bpf.c - the per-packet floor for `make bench`: svcbpf's own parser,
 * then pass. What any translating program must at least spend; svcbpf's
 * programs are measured against it.
 */
#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>

#include "parse.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int floor_tc(struct __sk_buff *skb)
{
	struct pkt4 p = { .len = skb->len };

	parse_pkt4((void *)(long)skb->data, (void *)(long)skb->data_end, &p);
	return TC_ACT_OK;
}

SEC("xdp")
int floor_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct pkt4 p = { .len = data_end - data };

	parse_pkt4(data, data_end, &p);
	return XDP_PASS;
}
