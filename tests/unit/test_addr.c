// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* test_addr.c - what users type: addresses, ports, protocols, numbers. */
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "addr.h"

struct good {
	const char *in;
	bool proto_ok;
	uint32_t ip;
	uint16_t port;
	uint8_t proto;
};

static void test_valid(void **state)
{
	static const struct good cases[] = {
		{ "10.96.0.50:80", true, 0x0a600032, 80, IPPROTO_TCP },
		{ "10.96.0.10:53/udp", true, 0x0a60000a, 53, IPPROTO_UDP },
		{ "10.96.0.10:53/UDP", true, 0x0a60000a, 53, IPPROTO_UDP },
		{ "10.96.0.50:80/tcp", true, 0x0a600032, 80, IPPROTO_TCP },
		{ "10.244.1.10:8080", false, 0x0af4010a, 8080, IPPROTO_TCP },
		{ "0.0.0.0:1", true, 0, 1, IPPROTO_TCP },
		{ "255.255.255.255:65535", true, 0xffffffff, 65535, IPPROTO_TCP },
	};
	char err[ERR_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct l4addr a;

		if (parse_l4addr(cases[i].in, cases[i].proto_ok, &a, err))
			fail_msg("'%s' refused: %s", cases[i].in, err);
		assert_int_equal(a.ip, cases[i].ip);
		assert_int_equal(a.port, cases[i].port);
		assert_int_equal(a.proto, cases[i].proto);
	}
}

static void test_invalid(void **state)
{
	static const char *const bad[] = {
		"10.96.0.300:80",
		":80",
		"10.96.0.50:0",
		"10.96.0.50:65536",
		"10.96.0.50:-1",
		"10.96.0.50:+80",
		"10.96.0.50:0x50",
		"10.96.0.50:080",
		"010.96.0.50:80",
		"0x0a.96.0.50:80",
		"10.96.50:80",
		"10.96.0.50",
		"10.96.0.50:",
		"10.96.0.50:80x",
		"10.96.0.50:80/sctp",
		"10.96.0.50:80/",
		"10.96.0.50 :80",
		" 10.96.0.50:80",
		"10.96.0.50:80:81",
		"",
		"10.96.0.50:99999999999",
		"10.96.0.50.1:80",
		"a.b.c.d:80",
		"10.96.0.50:8 0",
	};
	char err[ERR_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct l4addr a;

		err[0] = '\0';
		if (!parse_l4addr(bad[i], true, &a, err))
			fail_msg("'%s' accepted", bad[i]);
		/* The message names what was typed. */
		if (!strstr(err, bad[i]))
			fail_msg("error for '%s' does not name it: %s", bad[i], err);
	}
}

static void test_backend_has_no_protocol(void **state)
{
	struct l4addr a;
	char err[ERR_LEN];

	(void)state;
	assert_int_equal(parse_l4addr("10.244.1.10:8080/udp", false, &a, err), -EINVAL);
	assert_non_null(strstr(err, "no protocol"));
}

static void test_u32(void **state)
{
	char err[ERR_LEN];
	uint32_t v;

	(void)state;
	assert_int_equal(parse_u32("65536", "size", 1, 1 << 24, &v, err), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(parse_u32("0", "size", 1, 10, &v, err), -EINVAL);
	assert_int_equal(parse_u32("11", "size", 1, 10, &v, err), -EINVAL);
	assert_non_null(strstr(err, "1-10"));
	assert_int_equal(parse_u32("1e3", "size", 1, 10000, &v, err), -EINVAL);
	assert_int_equal(parse_u32("99999999999", "size", 1, 10, &v, err), -EINVAL);
	assert_int_equal(parse_u32("", "size", 0, 10, &v, err), -EINVAL);
}

static void test_format_round_trip(void **state)
{
	const char *in[] = { "10.96.0.50:80/tcp", "10.96.0.10:53/udp", "1.2.3.4:65535/tcp" };
	char buf[ADDR_STR_LEN], err[ERR_LEN];

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		struct l4addr a;

		assert_int_equal(parse_l4addr(in[i], true, &a, err), 0);
		assert_string_equal(fmt_l4addr(buf, &a, true), in[i]);
	}
}

static void test_cidr(void **state)
{
	static const struct {
		const char *in;
		uint32_t ip;
		uint8_t len;
	} good[] = {
		{ "10.0.0.0/8", 0x0a000000, 8 },
		{ "192.0.2.0/24", 0xc0000200, 24 },
		{ "0.0.0.0/0", 0, 0 },
		{ "203.0.113.7/32", 0xcb007107, 32 },
		{ "172.16.0.0/12", 0xac100000, 12 },
	};
	static const char *const bad[] = {
		"10.0.0.0",
		"10.0.0.0/",
		"10.0.0.0/33",
		"10.0.0.0/08",
		"10.0.0.0/-1",
		"10.0.0.0/+8",
		"10.0.0.0/8x",
		"/8",
		"10.0.0/8",
		"010.0.0.0/8",
		"10.0.0.0/8/8",
		"10.0.0.0 /8",
		"",
		"10.0.0.0/100",
	};
	char err[ERR_LEN], buf[ADDR_STR_LEN];
	struct cidr4 c;

	(void)state;
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		if (parse_cidr4(good[i].in, &c, err))
			fail_msg("'%s' refused: %s", good[i].in, err);
		assert_int_equal(c.ip, good[i].ip);
		assert_int_equal(c.len, good[i].len);
		/* Printed back as typed. */
		assert_string_equal(fmt_cidr4(buf, &c), good[i].in);
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (!parse_cidr4(bad[i], &c, err))
			fail_msg("'%s' accepted", bad[i]);
		if (!strstr(err, bad[i]))
			fail_msg("error for '%s' does not name it: %s", bad[i], err);
	}
	/* Host bits set: Kubernetes refuses these, so does svcbpf. */
	assert_int_equal(parse_cidr4("10.0.0.1/8", &c, err), -EINVAL);
	assert_string_equal(err, "invalid CIDR '10.0.0.1/8': host bits set");
	assert_int_equal(parse_cidr4("192.0.2.128/24", &c, err), -EINVAL);
	assert_int_equal(parse_cidr4("0.0.0.1/0", &c, err), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_invalid),
		cmocka_unit_test(test_backend_has_no_protocol),
		cmocka_unit_test(test_u32),
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_cidr),
	};

	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
