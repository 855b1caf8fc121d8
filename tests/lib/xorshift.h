/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* xorshift.h - xorshift64*: the tests' random numbers, the same sequence on every libc. */
#ifndef SVCBPF_TEST_XORSHIFT_H
#define SVCBPF_TEST_XORSHIFT_H

#include <stdint.h>

static uint64_t rng_state;

static inline void rng_seed(uint64_t seed)
{
	rng_state = seed ? seed : 1;
}

static inline uint32_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}

#endif /* SVCBPF_TEST_XORSHIFT_H */
