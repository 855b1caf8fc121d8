// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* maglev.c - Maglev table builder and the dataplane's slot choice (see maglev.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "maglev.h"
#include "svcbpf.h"

/* Distinct inputs for the two permutation hashes of one backend. */
#define MAGLEV_SEED_OFFSET 0x6f666673u
#define MAGLEV_SEED_SKIP 0x736b6970u

struct walker {
	uint32_t id;
	uint32_t ip;
	uint16_t port;
	uint16_t weight;
	uint32_t pos; /* the next slot of its permutation */
	uint32_t skip;
	uint32_t credit;
};

bool maglev_m_valid(uint32_t m)
{
	if (m < SVCBPF_MAGLEV_M_MIN || m > SVCBPF_MAGLEV_M_MAX)
		return false;
	for (uint32_t d = 2; d * d <= m; d++)
		if (m % d == 0)
			return false;
	return true;
}

/* (pos + skip) % m for pos, skip < m, without a division. */
static inline uint32_t step(uint32_t pos, uint32_t skip, uint32_t m)
{
	pos += skip;
	return pos >= m ? pos - m : pos;
}

static int cmp_walker(const void *a, const void *b)
{
	const struct walker *x = a, *y = b;

	if (x->ip != y->ip)
		return x->ip < y->ip ? -1 : 1;
	return (int)x->port - (int)y->port;
}

int maglev_build(const struct maglev_backend *be, size_t n, uint32_t m, uint32_t *table)
{
	struct walker *w = calloc(n + 1, sizeof(*w));
	uint32_t filled = 0, wmax = 0;
	size_t k = 0;

	if (!w)
		return -ENOMEM;
	memset(table, 0, (size_t)m * sizeof(*table));
	for (size_t i = 0; i < n; i++) {
		uint32_t h1, h2;

		if (!be[i].weight)
			continue;
		h1 = svcbpf_flow_hash(htonl(be[i].ip), MAGLEV_SEED_OFFSET, htons(be[i].port), 0, 0);
		h2 = svcbpf_flow_hash(htonl(be[i].ip), MAGLEV_SEED_SKIP, htons(be[i].port), 0, 0);
		w[k] = (struct walker){ .id = be[i].id,
					.ip = be[i].ip,
					.port = be[i].port,
					.weight = be[i].weight,
					.pos = h1 % m,
					.skip = h2 % (m - 1) + 1 };
		if (be[i].weight > wmax)
			wmax = be[i].weight;
		k++;
	}
	/* The order of turns decides ties: make it the addresses', not the caller's. */
	qsort(w, k, sizeof(*w), cmp_walker);
	while (k && filled < m) {
		for (size_t i = 0; i < k && filled < m; i++) {
			w[i].credit += w[i].weight;
			/* The heaviest backend claims one slot a round, the others in proportion. */
			while (w[i].credit >= wmax && filled < m) {
				/* m is prime and 0 < skip < m: the walk reaches every slot. */
				uint32_t pos = w[i].pos;

				while (table[pos])
					pos = step(pos, w[i].skip, m);
				table[pos] = w[i].id;
				w[i].pos = step(pos, w[i].skip, m);
				w[i].credit -= wmax;
				filled++;
			}
		}
	}
	free(w);
	return (int)k;
}

int maglev_build_svc(const struct svc_rec *r, uint32_t m, uint32_t *table)
{
	struct maglev_backend *be = calloc(r->nbe + 1, sizeof(*be));
	size_t n = 0;
	int ret;

	if (!be)
		return -ENOMEM;
	for (size_t i = 0; i < r->nbe; i++) {
		if (r->be[i].state != SVCBPF_BE_ACTIVE)
			continue;
		be[n++] = (struct maglev_backend){ .id = (uint32_t)r->be[i].id,
						   .ip = r->be[i].addr.ip,
						   .port = r->be[i].addr.port,
						   .weight = r->be[i].weight };
	}
	ret = maglev_build(be, n, m, table);
	free(be);
	return ret;
}

uint32_t maglev_slot(const struct l4addr *client, const struct l4addr *svc, uint32_t m)
{
	return svcbpf_flow_hash(htonl(client->ip), htonl(svc->ip), htons(client->port),
				htons(svc->port), svc->proto) %
	       m;
}
