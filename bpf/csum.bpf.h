/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * csum.bpf.h - Internet checksum arithmetic for the XDP path.
 *
 * tc rewrites through bpf_l3/l4_csum_replace(), which know skb->ip_summed.
 * XDP cannot see ip_summed, so it updates checksums itself (RFC 1624,
 * HC' = ~(~HC + ~m + m')) and only on packets whose L4 checksum is known to
 * be complete: see csum_l4_is_seed(). All values are 16-bit words exactly as
 * they sit in the packet; the one's complement sum is byte-order neutral, so
 * no swapping is needed.
 */
#ifndef SVCBPF_CSUM_BPF_H
#define SVCBPF_CSUM_BPF_H

#include <stdbool.h>
#include <linux/types.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

/* Fold a 32-bit one's complement sum to 16 bits (not inverted). */
static __always_inline __u16 csum_fold32(__u32 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)sum;
}

/* Sum of the two 16-bit halves of a 32-bit word, as the packet holds it. */
static __always_inline __u32 csum_word32(__be32 w)
{
	return ((__u32)w & 0xffff) + ((__u32)w >> 16);
}

/* RFC 1624 update of *@check for a 32-bit field changing @from -> @to. */
static __always_inline void csum_replace4(__sum16 *check, __be32 from, __be32 to)
{
	__u32 sum = (__u16) ~*check;

	sum += csum_word32(~from) + csum_word32(to);
	*check = (__sum16)~csum_fold32(sum);
}

/* RFC 1624 update of *@check for a 16-bit field changing @from -> @to. */
static __always_inline void csum_replace2(__sum16 *check, __be16 from, __be16 to)
{
	__u32 sum = (__u16) ~*check;

	sum += (__u16)~from + (__u16)to;
	*check = (__sum16)~csum_fold32(sum);
}

/*
 * Does the L4 checksum field hold only the pseudo-header sum? That is what a
 * CHECKSUM_PARTIAL packet carries (the "seed" the device or the kernel
 * finishes later). Rewriting such a packet with RFC 1624 arithmetic corrupts
 * it, and XDP cannot tell it apart from a complete checksum that happens to
 * hold the same value, so the XDP path leaves every seed-like packet to tc.
 * @saddr/@daddr network order, @l4_len host order, @check as found.
 */
static __always_inline bool csum_l4_is_seed(__be32 saddr, __be32 daddr, __u8 proto, __u16 l4_len,
					    __sum16 check)
{
	__u32 sum = csum_word32(saddr) + csum_word32(daddr) + bpf_htons(proto) + bpf_htons(l4_len);

	return (__u16)check == csum_fold32(sum);
}

#endif /* SVCBPF_CSUM_BPF_H */
