/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * monitor.bpf.h - events for `svcbpf monitor`, through a ring buffer.
 *
 * A listener asks for event types and renews its request every second
 * (struct svcbpf_mon); while no request stands, an event costs one array
 * lookup and a branch. While one does, each CPU sends at most its rate a
 * second; what the limit or a full ring holds back is counted (MON_LOST).
 */
#ifndef SVCBPF_MONITOR_BPF_H
#define SVCBPF_MONITOR_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#include "lb.bpf.h"
#include "maps.bpf.h"
#include "parse.bpf.h"

/* Room for an event of @type, if a listener wants one and the rate allows it. */
static __always_inline struct svcbpf_event *mon_reserve(__u8 type)
{
	struct svcbpf_event *ev;
	struct svcbpf_mon *ctl;
	struct mon_window *w;
	__u32 zero = 0;
	__u64 now;

	ctl = bpf_map_lookup_elem(&svcbpf_mon_v1, &zero);
	if (!ctl || !(ctl->events & (1u << type)))
		return NULL;
	now = bpf_ktime_get_coarse_ns();
	if (age_ns(now, ctl->until_ns) > 0)
		return NULL;
	w = bpf_map_lookup_elem(&svcbpf_mon_rl, &zero);
	if (!w)
		return NULL;
	if (age_ns(now, w->start_ns) >= (__s64)NS_PER_SEC) {
		w->start_ns = now;
		w->sent = 0;
	}
	if (w->sent >= ctl->rate) {
		counter_add(SVCBPF_CNT_MON_LOST, 0);
		return NULL;
	}
	ev = bpf_ringbuf_reserve(&svcbpf_evt_v1, sizeof(*ev), 0);
	if (!ev) {
		counter_add(SVCBPF_CNT_MON_LOST, 0);
		return NULL;
	}
	w->sent++;
	return ev;
}

/*
 * Tell listeners what happened to @p (as it arrived) at @hook: translated
 * to @nat (NULL: not translated), or passed or dropped for @reason.
 */
static __always_inline void mon_event(__u8 type, __u8 hook, __u32 ifindex, const struct pkt4 *p,
				      const struct nat4 *nat, __u8 reason)
{
	struct svcbpf_event *ev = mon_reserve(type);

	if (!ev)
		return;
	ev->ts_ns = bpf_ktime_get_ns();
	ev->type = type;
	ev->hook = hook;
	ev->proto = p->proto;
	ev->reason = reason;
	ev->ifindex = ifindex;
	ev->saddr = p->saddr;
	ev->daddr = p->daddr;
	ev->sport = p->sport;
	ev->dport = p->dport;
	ev->nat_addr = nat ? nat->addr : 0;
	ev->nat_port = nat ? nat->port : 0;
	ev->tcp_flags = p->tcp_flags;
	ev->pad = 0;
	ev->svc_id = nat ? nat->svc_id : 0;
	ev->backend_id = nat ? nat->be_id : 0;
	ev->len = p->len;
	bpf_ringbuf_submit(ev, 0);
}

#endif /* SVCBPF_MONITOR_BPF_H */
