// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* test_store.c - the SQLite store: changes, ids, transactions, errors. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "store.h"

static const struct l4addr svc = { 0x0a600032, 80, IPPROTO_TCP };
static const struct l4addr svc_udp = { 0x0a60000a, 53, IPPROTO_UDP };
static const struct l4addr b1 = { 0x0af4010a, 8080, IPPROTO_TCP };
static const struct l4addr b2 = { 0x0af4020f, 8080, IPPROTO_TCP };
static const struct l4addr b3 = { 0x0af40314, 8080, IPPROTO_TCP };

static char dir[64];

/* The backend set @a[0..n) at weight 1, no affinity: what `svc add` with plain backends writes. */
static int svc_set(struct store *s, const struct l4addr *sv, const struct l4addr *a, size_t n)
{
	struct be_rec be[8] = { 0 };

	for (size_t i = 0; i < n && i < 8; i++) {
		be[i].addr = a[i];
		be[i].weight = 1;
	}
	return store_svc_set(s, sv, NULL, be, n);
}

static int be_add(struct store *s, const struct l4addr *sv, const struct l4addr *a)
{
	struct be_rec be = { .addr = *a, .weight = 1 };

	return store_be_add(s, sv, &be);
}

static int open_fresh(void **state)
{
	struct store *s;
	char err[ERR_LEN];

	snprintf(dir, sizeof(dir), "/tmp/svcbpf-test-store.XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	if (store_open(dir, &s, err)) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	*state = s;
	return 0;
}

static int close_and_remove(void **state)
{
	char path[128];

	store_close(*state);
	snprintf(path, sizeof(path), "%s/%s", dir, STORE_FILE);
	unlink(path);
	rmdir(dir);
	return 0;
}

static void test_set_replaces_and_keeps_ids(void **state)
{
	struct store *s = *state;
	struct l4addr set1[] = { b1, b2 }, set2[] = { b2, b3 };
	struct svc_rec r;
	int64_t b2_id;

	assert_int_equal(svc_set(s, &svc, set1, 2), 0);
	assert_int_equal(store_load_svc(s, &svc, &r), 0);
	assert_int_equal(r.nbe, 2);
	b2_id = r.be[1].id;
	svc_rec_free(&r);

	/* The same command again changes nothing (idempotent scripts). */
	assert_int_equal(svc_set(s, &svc, set1, 2), 0);
	assert_int_equal(store_load_svc(s, &svc, &r), 0);
	assert_int_equal(r.nbe, 2);
	assert_int_equal(r.be[1].id, b2_id);
	svc_rec_free(&r);

	/* A new set: b1 goes, b3 comes, b2 keeps its id (its flows stay). */
	assert_int_equal(svc_set(s, &svc, set2, 2), 0);
	assert_int_equal(store_load_svc(s, &svc, &r), 0);
	assert_int_equal(r.nbe, 2);
	assert_int_equal(r.be[0].addr.ip, b2.ip);
	assert_int_equal(r.be[0].id, b2_id);
	assert_int_equal(r.be[1].addr.ip, b3.ip);
	assert_true(r.be[1].id > b2_id);
	svc_rec_free(&r);
}

static void test_backend_add_del(void **state)
{
	struct store *s = *state;
	struct svc_rec r;
	int missing;

	assert_int_equal(be_add(s, &svc, &b1), -ENOENT);
	assert_int_equal(svc_set(s, &svc, NULL, 0), 0);
	assert_int_equal(be_add(s, &svc, &b1), 0);
	assert_int_equal(be_add(s, &svc, &b1), -EEXIST);
	assert_int_equal(be_add(s, &svc, &b2), 0);
	assert_int_equal(store_be_del(s, &svc, &b3, &missing), -ENOENT);
	assert_false(missing);
	assert_int_equal(store_be_del(s, &svc_udp, &b1, &missing), -ENOENT);
	assert_true(missing);
	assert_int_equal(store_be_del(s, &svc, &b1, &missing), 0);
	assert_int_equal(store_load_svc(s, &svc, &r), 0);
	assert_int_equal(r.nbe, 1);
	assert_int_equal(r.be[0].addr.ip, b2.ip);
	svc_rec_free(&r);
}

static void test_delete_cascades(void **state)
{
	struct store *s = *state;
	struct l4addr set[] = { b1, b2, b3 };
	size_t nsvc, nbe, per;

	assert_int_equal(svc_set(s, &svc, set, 3), 0);
	assert_int_equal(svc_set(s, &svc_udp, set, 1), 0);
	assert_int_equal(store_counts(s, &nsvc, &nbe), 0);
	assert_int_equal(nsvc, 2);
	assert_int_equal(nbe, 4);
	assert_int_equal(store_svc_nbe(s, &svc, &per), 0);
	assert_int_equal(per, 3);
	assert_int_equal(store_svc_del(s, &svc), 0);
	assert_int_equal(store_svc_del(s, &svc), -ENOENT);
	/* The counters follow cascading deletes. */
	assert_int_equal(store_counts(s, &nsvc, &nbe), 0);
	assert_int_equal(nsvc, 1);
	assert_int_equal(nbe, 1);
	assert_int_equal(store_svc_nbe(s, &svc, &per), 0);
	assert_int_equal(per, 0);
}

static void test_rollback_changes_nothing(void **state)
{
	struct store *s = *state;
	struct l4addr set[] = { b1 };
	struct model m;

	assert_int_equal(store_begin(s), 0);
	assert_int_equal(svc_set(s, &svc, set, 1), 0);
	store_rollback(s);
	assert_int_equal(store_load(s, &m), 0);
	assert_int_equal(m.n, 0);
	model_free(&m);

	assert_int_equal(store_begin(s), 0);
	assert_int_equal(svc_set(s, &svc, set, 1), 0);
	assert_int_equal(store_commit(s), 0);
	assert_int_equal(store_load(s, &m), 0);
	assert_int_equal(m.n, 1);
	model_free(&m);
}

static void test_ids_never_reused(void **state)
{
	struct store *s = *state;
	struct svc_rec r;
	int64_t first;

	assert_int_equal(svc_set(s, &svc, &b1, 1), 0);
	assert_int_equal(store_load_svc(s, &svc, &r), 0);
	first = r.id;
	svc_rec_free(&r);
	assert_int_equal(store_svc_del(s, &svc), 0);
	assert_int_equal(svc_set(s, &svc, &b1, 1), 0);
	assert_int_equal(store_load_svc(s, &svc, &r), 0);
	assert_true(r.id > first);
	svc_rec_free(&r);
}

static void test_model_is_ordered(void **state)
{
	struct store *s = *state;
	struct model m;

	assert_int_equal(svc_set(s, &svc, &b1, 1), 0);
	assert_int_equal(svc_set(s, &svc_udp, &b1, 1), 0);
	assert_int_equal(store_load(s, &m), 0);
	assert_int_equal(m.n, 2);
	/* By address: the reconciler binary-searches it. */
	assert_int_equal(m.svc[0].addr.ip, svc_udp.ip);
	assert_int_equal(m.svc[1].addr.ip, svc.ip);
	model_free(&m);
}

static void test_corrupt_store_is_refused(void **state)
{
	char d[] = "/tmp/svcbpf-test-corrupt.XXXXXX", path[96], err[ERR_LEN];
	struct store *s;
	FILE *f;

	(void)state;
	assert_non_null(mkdtemp(d));
	snprintf(path, sizeof(path), "%s/%s", d, STORE_FILE);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("this is not a database, just text that is long enough to be a header....\n", f);
	fclose(f);
	assert_true(store_open(d, &s, err) < 0);
	assert_non_null(strstr(err, path));
	unlink(path);
	rmdir(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_set_replaces_and_keeps_ids, open_fresh,
						close_and_remove),
		cmocka_unit_test_setup_teardown(test_backend_add_del, open_fresh, close_and_remove),
		cmocka_unit_test_setup_teardown(test_delete_cascades, open_fresh, close_and_remove),
		cmocka_unit_test_setup_teardown(test_rollback_changes_nothing, open_fresh,
						close_and_remove),
		cmocka_unit_test_setup_teardown(test_ids_never_reused, open_fresh,
						close_and_remove),
		cmocka_unit_test_setup_teardown(test_model_is_ordered, open_fresh,
						close_and_remove),
		cmocka_unit_test(test_corrupt_store_is_refused),
	};

	return cmocka_run_group_tests_name("store", tests, NULL, NULL);
}
