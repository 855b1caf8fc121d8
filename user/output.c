// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* output.c - plain and JSON printing through one set of calls. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jansson.h>

#include "output.h"

#define OUT_MAX_DEPTH 16

bool json_output;
static json_t *stack[OUT_MAX_DEPTH];
static int depth = -1;
static bool error_printed;
static const char *err_prefix = "";

void p_err_prefix(const char *prefix)
{
	err_prefix = prefix ? prefix : "";
}

void out_begin(bool json)
{
	json_output = json;
	depth = -1;
	error_printed = false;
	if (json) {
		stack[0] = json_object();
		depth = 0;
	}
}

int out_end(void)
{
	int ret = 0;

	if (!json_output || depth < 0)
		return 0;
	if (!error_printed) {
		if (json_dumpf(stack[0], stdout, JSON_INDENT(2) | JSON_PRESERVE_ORDER) ||
		    fputc('\n', stdout) == EOF)
			ret = -EIO;
	}
	json_decref(stack[0]);
	depth = -1;
	return ret;
}

void json_output_suspend(void)
{
	if (depth >= 0)
		json_decref(stack[0]);
	depth = -1;
}

/* Put @v under @key in the current container (or append if it is an array). */
static void json_put(const char *key, json_t *v)
{
	json_t *cur = stack[depth];

	if (json_is_array(cur))
		json_array_append_new(cur, v);
	else
		json_object_set_new(cur, key ? key : "?", v);
}

static void json_push(const char *key, json_t *v)
{
	if (depth + 1 >= OUT_MAX_DEPTH) {
		json_decref(v);
		return;
	}
	json_incref(v);
	json_put(key, v);
	stack[++depth] = v;
	json_decref(v);
}

void out_open_object(const char *key)
{
	if (json_output)
		json_push(key, json_object());
}

void out_close_object(void)
{
	if (json_output && depth > 0)
		depth--;
}

void out_open_array(const char *key)
{
	if (json_output)
		json_push(key, json_array());
}

void out_close_array(void)
{
	if (json_output && depth > 0)
		depth--;
}

void out_string(enum out_type t, const char *key, const char *fmt, const char *value)
{
	if (json_output) {
		if (t != PRINT_FP)
			json_put(key, json_string(value));
	} else if (t != PRINT_JSON) {
		printf(fmt, value);
	}
}

void out_uint(enum out_type t, const char *key, const char *fmt, uint64_t value)
{
	if (json_output) {
		if (t != PRINT_FP)
			json_put(key, json_integer((json_int_t)value));
	} else if (t != PRINT_JSON) {
		printf(fmt, value);
	}
}

void out_bool(enum out_type t, const char *key, const char *fmt, bool value)
{
	if (json_output) {
		if (t != PRINT_FP)
			json_put(key, json_boolean(value));
	} else if (t != PRINT_JSON) {
		printf(fmt, value ? "yes" : "no");
	}
}

void out_null(enum out_type t, const char *key, const char *fmt, const char *plain)
{
	if (json_output) {
		if (t != PRINT_FP)
			json_put(key, json_null());
	} else if (t != PRINT_JSON) {
		printf(fmt, plain);
	}
}

void out_fp(const char *fmt, ...)
{
	va_list ap;

	if (json_output)
		return;
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
}

void p_err(const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	size_t n = strnlen(err_prefix, sizeof(msg) / 2);

	memcpy(msg, err_prefix, n);
	va_start(ap, fmt);
	vsnprintf(msg + n, sizeof(msg) - n, fmt, ap);
	va_end(ap);

	if (json_output && !error_printed) {
		json_t *err;

		/* What users typed may not be UTF-8, and JSON must be. */
		for (char *c = msg; *c; c++)
			if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
				*c = '?';
		err = json_pack("{s:s}", "error", msg);

		fflush(stdout);
		json_dumpf(err, stdout, JSON_COMPACT);
		fputc('\n', stdout);
		json_decref(err);
		error_printed = true;
		return;
	}
	fflush(stdout);
	fprintf(stderr, "svcbpf: %s\n", msg);
}

void p_info(const char *fmt, ...)
{
	va_list ap;

	if (json_output)
		return;
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

const char *fmt_bytes(char buf[16], uint64_t v)
{
	static const char units[] = "KMGT";
	double d = (double)v;
	int u = -1;

	while (d >= 1024 && u < 3) {
		d /= 1024;
		u++;
	}
	if (u < 0)
		snprintf(buf, 16, "%lluB", (unsigned long long)v);
	else
		snprintf(buf, 16, "%.1f%ciB", d, units[u]);
	return buf;
}

const char *fmt_count(char buf[16], uint64_t v)
{
	static const char units[] = "KMGTP";
	double d = (double)v;
	int u = -1;

	if (v < 100000) {
		snprintf(buf, 16, "%llu", (unsigned long long)v);
		return buf;
	}
	do {
		d /= 1000;
		u++;
	} while (d >= 1000 && u < 4);
	snprintf(buf, 16, "%.1f%c", d, units[u]);
	return buf;
}

bool out_use_color(void)
{
	static int on = -1;

	if (on < 0) {
		const char *nc = getenv("NO_COLOR");

		on = isatty(STDOUT_FILENO) && !(nc && *nc);
	}
	return on && !json_output;
}

const char *out_color(enum out_color c)
{
	static const char *const esc[] = {
		[COLOR_NONE] = "\033[0m",    [COLOR_RED] = "\033[31m", [COLOR_GREEN] = "\033[32m",
		[COLOR_YELLOW] = "\033[33m", [COLOR_BOLD] = "\033[1m", [COLOR_DIM] = "\033[2m",
	};

	return out_use_color() ? esc[c] : "";
}
