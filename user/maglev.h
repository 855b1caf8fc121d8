/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * maglev.h - Maglev consistent hashing (Eisenbud et al., NSDI 2016), the
 * table builder the dataplane's tables come from, and the mirror of the
 * dataplane's choice (`svcbpf svc explain`, and the tests that hold the two
 * to agreement).
 *
 * Every backend walks its own permutation of the M slots (offset and skip
 * from a hash of its address, not its id, so a backend set gives the same
 * table on every node and after every restart); in turns, each claims its
 * next free slot until all M are taken. A backend of weight w takes w/wmax
 * turns per round. Equal weights give each of N backends floor(M/N) or
 * ceil(M/N) slots. Removing one of N backends moves its own 1/N of the
 * slots and, at M = 16381, 0.5-1.7% of the others (tests/unit/test_maglev.c
 * measures it for N = 2..1000); adding one is alike.
 */
#ifndef SVCBPF_MAGLEV_H
#define SVCBPF_MAGLEV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"
#include "store.h"

struct maglev_backend {
	uint32_t id; /* what the table's slots hold; never 0 */
	uint32_t ip; /* host order: the permutation's seed */
	uint16_t port;
	uint16_t weight; /* 0: no slots */
};

/* Is @m a prime in [SVCBPF_MAGLEV_M_MIN, SVCBPF_MAGLEV_M_MAX]? */
bool maglev_m_valid(uint32_t m);

/*
 * Fill @table[0..m) from @be[0..n) (any order). Returns how many backends
 * own slots; 0 (table all zero) when none has a weight. -ENOMEM.
 */
int maglev_build(const struct maglev_backend *be, size_t n, uint32_t m, uint32_t *table);

/* The same for a service's record: active backends with a weight. */
int maglev_build_svc(const struct svc_rec *r, uint32_t m, uint32_t *table);

/* The slot a new flow from @client to @svc hashes to (the dataplane's hash). */
uint32_t maglev_slot(const struct l4addr *client, const struct l4addr *svc, uint32_t m);

#endif /* SVCBPF_MAGLEV_H */
