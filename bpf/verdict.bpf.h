/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * verdict.bpf.h - what helpers return.
 *
 * Helpers never return a bare -1: they return SVCBPF_CONTINUE (go on),
 * SVCBPF_PASS (not ours: leave the packet exactly as it came),
 * SVCBPF_REJECT (for a service with no backend: answer the client with a
 * reset or an ICMP error), a pass reason (leave it untouched, but count
 * why) or a negative drop reason.
 * Reasons are enum svcbpf_counter values; only the entry points turn them
 * into a counter update and a hook verdict.
 */
#ifndef SVCBPF_VERDICT_BPF_H
#define SVCBPF_VERDICT_BPF_H

#define SVCBPF_CONTINUE 0
#define SVCBPF_PASS 1
#define SVCBPF_REJECT 2

#define VERDICT_REASON_FLAG 0x100
#define VERDICT_PASS(cnt) (VERDICT_REASON_FLAG | (cnt))
#define VERDICT_DROP(cnt) (-(VERDICT_REASON_FLAG | (cnt)))

#define verdict_is_drop(ret) ((ret) < 0)
#define verdict_reason(ret) (((ret) < 0 ? -(ret) : (ret)) & 0xff)
#define verdict_has_reason(ret) ((((ret) < 0 ? -(ret) : (ret)) & VERDICT_REASON_FLAG) != 0)

#endif /* SVCBPF_VERDICT_BPF_H */
