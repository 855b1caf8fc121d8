/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * output.h - one printer for plain and JSON output (after iproute2's
 * json_print.h): each field is printed once, with a key for JSON and a
 * format for people; PRINT_FP/PRINT_JSON restrict a field to one of them.
 */
#ifndef SVCBPF_OUTPUT_H
#define SVCBPF_OUTPUT_H

#include <stdbool.h>
#include <stdint.h>

enum out_type {
	PRINT_ANY,
	PRINT_FP, /* plain output only */
	PRINT_JSON, /* JSON output only */
};

extern bool json_output;

void out_begin(bool json);
int out_end(void); /* writes the JSON document; returns 0 or -errno */
/* The command prints its own document (get -o json|yaml): out_end() prints nothing. */
void json_output_suspend(void);

void out_open_object(const char *key);
void out_close_object(void);
void out_open_array(const char *key);
void out_close_array(void);

void out_string(enum out_type t, const char *key, const char *fmt, const char *value);
void out_uint(enum out_type t, const char *key, const char *fmt, uint64_t value);
void out_bool(enum out_type t, const char *key, const char *fmt, bool value);
void out_null(enum out_type t, const char *key, const char *fmt, const char *plain);
/* Free text for people; nothing in JSON. */
void out_fp(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Numbers for people. 1536 -> "1.5KiB" (bytes, binary units, "B" below 1 KiB). */
const char *fmt_bytes(char buf[16], uint64_t v);
/* Counts: exact below 100000, then decimal units, as iptables -v: 1234567 -> "1.2M". */
const char *fmt_count(char buf[16], uint64_t v);

/* Colour for people: stdout a terminal, NO_COLOR unset, not JSON. */
enum out_color { COLOR_NONE, COLOR_RED, COLOR_GREEN, COLOR_YELLOW, COLOR_BOLD, COLOR_DIM };
bool out_use_color(void);
/* The escape for @c, or "" when colour is off; COLOR_NONE resets. */
const char *out_color(enum out_color c);

/* The one error reporter: "svcbpf: ..." on stderr, or {"error": ...} in JSON. */
void p_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Put @prefix ("FILE:LINE: ") before every error until it is reset with NULL. */
void p_err_prefix(const char *prefix);
/* A note for people on stderr; silent under JSON. */
void p_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

#endif /* SVCBPF_OUTPUT_H */
