// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * k8s_yaml.c - manifests (YAML or JSON) to JSON documents (see k8s.h).
 *
 * libfyaml parses each document; the node tree is then converted to jansson
 * here rather than by libfyaml's resolver, so that scalars follow YAML 1.2's
 * core schema exactly, aliases are expanded under a node budget (a
 * "billion laughs" file is refused instead of exhausting memory), and a
 * recursive alias is an error rather than an endless copy. Merge keys
 * ("<<") are applied here too: explicit keys win, then earlier sources.
 *
 * libfyaml's diagnostics are collected, never printed: the first error
 * becomes "FILE:LINE:COL: message".
 */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <libfyaml.h>

#include "k8s.h"

#define YAML_MAX_DEPTH 256 /* nesting, counting alias expansions */
#define YAML_MAX_NODES (1u << 20) /* JSON values per document, after alias expansion */
#define YAML_MAX_LIST_DEPTH 8 /* a List inside a List inside ... */
#define YAML_MAX_FILE (64 << 20) /* bytes */
/*
 * A manifest's limit, kube-apiserver's on one request body (cmd_k8s.c checks
 * files before they are read; this catches pipes).
 */
#define YAML_MAX_MANIFEST (3u << 20)
/* Text of every string and key made, aliases expanded, over one k8s_read_files() call. */
#define YAML_MAX_TEXT (256u << 20)

/* What is left of YAML_MAX_TEXT in this call (the CLI reads manifests on one thread). */
static size_t text_left;
#define TAG_PREFIX "tag:yaml.org,2002:"

/* One document being converted. */
struct conv {
	const char *file;
	char *err;
	int line; /* the document's first line, for errors without a position */
	size_t budget;
	int depth;
	struct fy_node *stack[YAML_MAX_DEPTH]; /* the nodes being converted: alias cycles */
};

/* The first token of @n (its own for scalars and aliases), or NULL (e.g. "{}"). */
static const struct fy_mark *node_mark(struct fy_node *n, int depth)
{
	struct fy_node_pair *p;
	struct fy_node *c;
	void *it = NULL;

	if (!n || depth > 16)
		return NULL;
	switch (fy_node_get_type(n)) {
	case FYNT_SCALAR: {
		struct fy_token *t = fy_node_get_scalar_token(n);

		return t ? fy_token_start_mark(t) : NULL;
	}
	case FYNT_MAPPING:
		p = fy_node_mapping_iterate(n, &it);
		return p ? node_mark(fy_node_pair_key(p), depth + 1) : NULL;
	case FYNT_SEQUENCE:
		c = fy_node_sequence_iterate(n, &it);
		return c ? node_mark(c, depth + 1) : NULL;
	}
	return NULL;
}

/* Copy @s into @buf as one printable line (for error messages). */
static const char *printable(char *buf, size_t size, const char *s, size_t len)
{
	size_t o = 0;

	for (size_t i = 0; i < len && o + 4 < size; i++)
		buf[o++] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
	if (o + 4 >= size && len > o)
		o += (size_t)snprintf(buf + o, size - o, "...");
	buf[o] = '\0';
	return buf;
}

/* "FILE:LINE:COL: message" at @n (the document's line when @n has no position). */
static int __attribute__((format(printf, 3, 4)))
conv_fail(struct conv *c, struct fy_node *n, const char *fmt, ...)
{
	const struct fy_mark *m = node_mark(n, 0);
	char msg[ERR_LEN];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (m)
		snprintf(c->err, ERR_LEN, "%s:%d:%d: %s", c->file, m->line + 1, m->column + 1, msg);
	else
		snprintf(c->err, ERR_LEN, "%s:%d:1: %s", c->file, c->line, msg);
	return -EINVAL;
}

static bool is_digits(const char *s, const char *digits)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!strchr(digits, *s))
			return false;
	return true;
}

/* YAML 1.2 core schema integers: [-+]?[0-9]+, 0o[0-7]+, 0x[0-9a-fA-F]+. */
static bool core_int(const char *s, json_int_t *v, bool *overflow)
{
	const char *d = s + (*s == '-' || *s == '+');
	unsigned long long u;
	int base = 10;
	char *end;

	*overflow = false;
	if (!strncmp(s, "0o", 2) && is_digits(s + 2, "01234567")) {
		base = 8;
		d = s + 2;
	} else if (!strncmp(s, "0x", 2) && is_digits(s + 2, "0123456789abcdefABCDEF")) {
		base = 16;
		d = s + 2;
	} else if (!is_digits(d, "0123456789")) {
		return false;
	}
	errno = 0;
	u = strtoull(d, &end, base);
	if (errno == ERANGE || *end || u > (unsigned long long)INT64_MAX + (*s == '-')) {
		*overflow = true;
		return true;
	}
	*v = *s == '-' ? (json_int_t)(0 - u) : (json_int_t)u;
	return true;
}

/* Core schema floats: [-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)? (.inf, .nan apart). */
static bool core_float(const char *s)
{
	const char *p = s + (*s == '-' || *s == '+');
	size_t n;

	n = strspn(p, "0123456789");
	p += n;
	if (*p == '.') {
		size_t f = strspn(p + 1, "0123456789");

		if (!n && !f)
			return false;
		p += 1 + f;
	} else if (!n) {
		return false;
	}
	if (*p == 'e' || *p == 'E') {
		p++;
		p += *p == '-' || *p == '+';
		n = strspn(p, "0123456789");
		if (!n)
			return false;
		p += n;
	}
	return !*p;
}

static bool one_of(const char *s, const char *a, const char *b, const char *c)
{
	return !strcmp(s, a) || !strcmp(s, b) || !strcmp(s, c);
}

static bool core_null(const char *s)
{
	return !*s || one_of(s, "null", "Null", "NULL") || !strcmp(s, "~");
}

/*
 * A core schema float. JSON has no infinity: one too large for a double
 * (1e400) is refused by name, as Kubernetes' JSON encoder refuses +Inf,
 * rather than left to json_real(), whose NULL would read as out of memory.
 */
static json_t *real_json(struct conv *c, struct fy_node *n, const char *s)
{
	double d = strtod(s, NULL);
	char shown[64];

	if (isfinite(d))
		return json_real(d);
	conv_fail(c, n, "'%s' is out of range for a number",
		  printable(shown, sizeof(shown), s, strlen(s)));
	return NULL;
}

/*
 * A plain (or explicitly tagged) scalar by the core schema. @want is the
 * tag's type ("int", ...) or NULL to resolve by content. JSON has no
 * infinity or NaN: an untagged .inf or .nan stays a string.
 */
static json_t *core_scalar(struct conv *c, struct fy_node *n, const char *s, size_t len,
			   const char *want)
{
	char buf[128], shown[64];
	json_int_t iv = 0;
	bool overflow = false, is_int;

	if (len >= sizeof(buf) || memchr(s, '\0', len)) {
		if (!want || !strcmp(want, "str"))
			return json_stringn(s, len);
		goto bad;
	}
	memcpy(buf, s, len);
	buf[len] = '\0';
	is_int = core_int(buf, &iv, &overflow);
	if (!want) {
		if (core_null(buf))
			return json_null();
		if (one_of(buf, "true", "True", "TRUE"))
			return json_true();
		if (one_of(buf, "false", "False", "FALSE"))
			return json_false();
		if (is_int && !overflow)
			return json_integer(iv);
		if (is_int || core_float(buf))
			return real_json(c, n, buf);
		return json_stringn(s, len);
	}
	if (!strcmp(want, "str"))
		return json_stringn(s, len);
	if (!strcmp(want, "null") && core_null(buf))
		return json_null();
	if (!strcmp(want, "bool") && one_of(buf, "true", "True", "TRUE"))
		return json_true();
	if (!strcmp(want, "bool") && one_of(buf, "false", "False", "FALSE"))
		return json_false();
	if (!strcmp(want, "int") && is_int && !overflow)
		return json_integer(iv);
	if (!strcmp(want, "float") && (is_int || core_float(buf)))
		return real_json(c, n, buf);
bad:
	conv_fail(c, n, "'%s' is not a valid !!%s", printable(shown, sizeof(shown), s, len), want);
	return NULL;
}

/* What a tag asks for: "str", "int", "float", "bool", "null", or NULL (resolve). */
static const char *tag_type(struct fy_node *n, bool *quoted)
{
	static const char *const types[] = { "str", "int", "float", "bool", "null" };
	size_t tl = 0;
	const char *tag = fy_node_get_tag(n, &tl);

	if (!tag)
		return NULL;
	/* The non-specific tag "!" makes any scalar a string. */
	if (tl == 1 && tag[0] == '!')
		return "str";
	if (tl > strlen(TAG_PREFIX) && !strncmp(tag, TAG_PREFIX, strlen(TAG_PREFIX))) {
		const char *t = tag + strlen(TAG_PREFIX);
		size_t l = tl - strlen(TAG_PREFIX);

		for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
			if (strlen(types[i]) == l && !strncmp(t, types[i], l)) {
				*quoted = false;
				return types[i];
			}
	}
	/* Other tags (!!binary, application tags) do not change the value. */
	return NULL;
}

/* Charge @len bytes of text made from @n; false (@c failed) when the call is over budget. */
static bool charge_text(struct conv *c, struct fy_node *n, size_t len)
{
	if (len > text_left) {
		conv_fail(c, n,
			  "manifests too large: more than %u MiB of text (with aliases expanded)",
			  YAML_MAX_TEXT >> 20);
		return false;
	}
	text_left -= len;
	return true;
}

static json_t *scalar_json(struct conv *c, struct fy_node *n)
{
	enum fy_node_style st = fy_node_get_style(n);
	bool quoted = st != FYNS_PLAIN;
	const char *want = tag_type(n, &quoted);
	size_t len = 0;
	const char *s = fy_node_get_scalar(n, &len);
	json_t *v;

	if (!s)
		s = "";
	if (!charge_text(c, n, len))
		return NULL;
	if (quoted)
		v = json_stringn(s, len);
	else
		v = core_scalar(c, n, s, len, want);
	if (!v && !c->err[0])
		conv_fail(c, n, "invalid UTF-8 in a string");
	return v;
}

static json_t *node_json(struct conv *c, struct fy_node *n);

/* Merge mapping @src (converted) into @obj: keys @obj has already win. */
static int merge_into(struct conv *c, json_t *obj, struct fy_node *src)
{
	const char *k;
	size_t klen;
	json_t *m, *v;

	m = node_json(c, src);
	if (!m)
		return -EINVAL;
	if (!json_is_object(m)) {
		json_decref(m);
		return conv_fail(c, src, "a merge key ('<<') takes a mapping or a list of them");
	}
	for (void *it = json_object_iter(m); it; it = json_object_iter_next(m, it)) {
		k = json_object_iter_key(it);
		klen = json_object_iter_key_len(it);
		v = json_object_iter_value(it);
		if (!json_object_getn(obj, k, klen) && json_object_setn(obj, k, klen, v)) {
			json_decref(m);
			return conv_fail(c, src, "out of memory");
		}
	}
	json_decref(m);
	return 0;
}

static int merge_all(struct conv *c, json_t *obj, struct fy_node **srcs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		struct fy_node *s = srcs[i],
			       *r = fy_node_is_alias(s) ? fy_node_resolve_alias(s) : s;

		if (r && fy_node_is_sequence(r)) {
			struct fy_node *item;
			void *it = NULL;

			/* In a list of sources, the first one to give a key wins. */
			while ((item = fy_node_sequence_iterate(r, &it)))
				if (merge_into(c, obj, item))
					return -EINVAL;
		} else if (merge_into(c, obj, s)) {
			return -EINVAL;
		}
	}
	return 0;
}

static bool is_merge_key(struct fy_node *k)
{
	size_t len, tl = 0;
	const char *s = fy_node_get_scalar(k, &len);
	const char *tag = fy_node_get_tag(k, &tl);

	if (!s || len != 2 || memcmp(s, "<<", 2))
		return false;
	if (tag)
		return tl == strlen(TAG_PREFIX "merge") && !memcmp(tag, TAG_PREFIX "merge", tl);
	return fy_node_get_style(k) == FYNS_PLAIN;
}

static json_t *mapping_json(struct conv *c, struct fy_node *n)
{
	struct fy_node **merges = NULL;
	size_t nmerges = 0;
	json_t *obj = json_object();
	struct fy_node_pair *p;
	void *it = NULL;

	if (!obj) {
		conv_fail(c, n, "out of memory");
		return NULL;
	}
	while ((p = fy_node_mapping_iterate(n, &it))) {
		struct fy_node *k = fy_node_pair_key(p), *rk = k;
		char shown[64];
		const char *ks;
		size_t klen = 0;
		json_t *v;

		if (k && fy_node_is_alias(k))
			rk = fy_node_resolve_alias(k);
		if (!rk || !fy_node_is_scalar(rk)) {
			conv_fail(c, k, "a mapping key must be a scalar");
			goto fail;
		}
		if (is_merge_key(rk)) {
			struct fy_node **nm = realloc(merges, (nmerges + 1) * sizeof(*nm));

			if (!nm) {
				conv_fail(c, k, "out of memory");
				goto fail;
			}
			merges = nm;
			merges[nmerges++] = fy_node_pair_value(p);
			continue;
		}
		ks = fy_node_get_scalar(rk, &klen);
		if (!ks)
			ks = "";
		if (json_object_getn(obj, ks, klen)) {
			conv_fail(c, k, "duplicate key '%s'",
				  printable(shown, sizeof(shown), ks, klen));
			goto fail;
		}
		v = node_json(c, fy_node_pair_value(p));
		if (!v || !charge_text(c, k, klen)) {
			json_decref(v);
			goto fail;
		}
		if (json_object_setn_new(obj, ks, klen, v)) {
			conv_fail(c, k, "invalid UTF-8 in a key");
			goto fail;
		}
	}
	if (merge_all(c, obj, merges, nmerges))
		goto fail;
	free(merges);
	return obj;
fail:
	free(merges);
	json_decref(obj);
	return NULL;
}

static json_t *sequence_json(struct conv *c, struct fy_node *n)
{
	json_t *arr = json_array();
	struct fy_node *item;
	void *it = NULL;

	if (!arr) {
		conv_fail(c, n, "out of memory");
		return NULL;
	}
	while ((item = fy_node_sequence_iterate(n, &it))) {
		json_t *v = node_json(c, item);

		if (!v || json_array_append_new(arr, v)) {
			if (v && !c->err[0])
				conv_fail(c, item, "out of memory");
			json_decref(arr);
			return NULL;
		}
	}
	return arr;
}

/* @n (NULL: an empty value) as JSON, or NULL with c->err set. */
static json_t *node_json(struct conv *c, struct fy_node *n)
{
	json_t *v = NULL;

	if (!n)
		return json_null();
	if (fy_node_is_alias(n)) {
		struct fy_node *t = fy_node_resolve_alias(n);
		char shown[64];
		size_t len = 0;
		const char *name = fy_node_get_scalar(n, &len);

		if (!name)
			name = "";
		if (!t) {
			conv_fail(c, n, "undefined alias '*%s'",
				  printable(shown, sizeof(shown), name, len));
			return NULL;
		}
		for (int i = 0; i < c->depth; i++)
			if (c->stack[i] == t) {
				conv_fail(c, n, "alias '*%s' refers to a node that contains it",
					  printable(shown, sizeof(shown), name, len));
				return NULL;
			}
		n = t;
	}
	if (!c->budget) {
		conv_fail(c, n, "document too large: more than %u values (with aliases expanded)",
			  YAML_MAX_NODES);
		return NULL;
	}
	c->budget--;
	if (c->depth >= YAML_MAX_DEPTH) {
		conv_fail(c, n, "document nested more than %d levels deep", YAML_MAX_DEPTH);
		return NULL;
	}
	c->stack[c->depth++] = n;
	switch (fy_node_get_type(n)) {
	case FYNT_SCALAR:
		v = scalar_json(c, n);
		break;
	case FYNT_MAPPING:
		v = mapping_json(c, n);
		break;
	case FYNT_SEQUENCE:
		v = sequence_json(c, n);
		break;
	}
	c->depth--;
	return v;
}

static int docs_add(struct k8s_docs *out, size_t *cap, const char *file, int index, int line,
		    json_t *json)
{
	struct k8s_doc *d;

	if (out->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 16;
		struct k8s_doc *nd = realloc(out->doc, ncap * sizeof(*nd));

		if (!nd)
			return -ENOMEM;
		out->doc = nd;
		*cap = ncap;
	}
	d = &out->doc[out->n];
	d->file = strdup(file);
	if (!d->file)
		return -ENOMEM;
	d->index = index;
	d->line = line;
	d->json = json;
	out->n++;
	return 0;
}

/*
 * Add document @json (a reference taken), or its items when it is a List:
 * kind "List" (what `kubectl get -o yaml` prints), or "<Kind>List" (what the
 * API returns, its items without kind and apiVersion: given from the list).
 * Items keep their List's file and index; their line is their own (found
 * through @node, the YAML of @json, when it has one; else @line).
 */
static int add_doc(struct conv *c, struct k8s_docs *out, size_t *cap, int index, int line,
		   json_t *json, struct fy_node *node, int depth)
{
	struct fy_node *items_node = NULL;
	void *it = NULL;
	const char *kind = json_string_value(json_object_get(json, "kind"));
	size_t klen = kind ? strlen(kind) : 0;
	json_t *items = json_object_get(json, "items");
	json_t *item;
	size_t i;
	int ret;

	if (!json_is_object(json) || klen < 4 || strcmp(kind + klen - 4, "List") ||
	    (klen > 4 && !json_is_array(items))) {
		ret = docs_add(out, cap, c->file, index, line, json);
		if (ret)
			json_decref(json);
		return ret;
	}
	if (items && !json_is_null(items) && !json_is_array(items)) {
		json_decref(json);
		snprintf(c->err, ERR_LEN, "%s:%d:1: items: a List's items must be a list", c->file,
			 line);
		return -EINVAL;
	}
	if (depth >= YAML_MAX_LIST_DEPTH) {
		json_decref(json);
		snprintf(c->err, ERR_LEN, "%s:%d:1: Lists nested too deep", c->file, line);
		return -EINVAL;
	}
	if (node && fy_node_is_mapping(node))
		items_node = fy_node_mapping_lookup_by_string(node, "items", strlen("items"));
	if (items_node && fy_node_is_alias(items_node))
		items_node = fy_node_resolve_alias(items_node);
	if (items_node && !fy_node_is_sequence(items_node))
		items_node = NULL;
	for (i = 0; i < json_array_size(items); i++) {
		/* The YAML sequence has the items in the same order. */
		struct fy_node *item_node = items_node ? fy_node_sequence_iterate(items_node, &it) :
							 NULL;
		const struct fy_mark *m = node_mark(item_node, 0);

		item = json_array_get(items, i);
		if (json_is_null(item))
			continue;
		if (klen > 4 && json_is_object(item)) {
			json_t *api = json_object_get(json, "apiVersion");

			if (!json_object_get(item, "kind"))
				json_object_set_new(item, "kind", json_stringn(kind, klen - 4));
			if (!json_object_get(item, "apiVersion") && json_is_string(api))
				json_object_set(item, "apiVersion", api);
		}
		if (item_node && fy_node_is_alias(item_node))
			item_node = fy_node_resolve_alias(item_node);
		ret = add_doc(c, out, cap, index, m ? m->line + 1 : line, json_incref(item),
			      item_node, depth + 1);
		if (ret) {
			json_decref(json);
			return ret;
		}
	}
	json_decref(json);
	return 0;
}

static void diag_discard(struct fy_diag *diag, void *user, const char *buf, size_t len)
{
	(void)diag;
	(void)user;
	(void)buf;
	(void)len;
}

/* The first error libfyaml collected, as "FILE:LINE:COL: message". */
static void diag_error(struct fy_diag *diag, const char *file, char err[ERR_LEN])
{
	struct fy_diag_error *e;
	void *it = NULL;

	while ((e = fy_diag_errors_iterate(diag, &it))) {
		char msg[256];

		if (e->type < FYET_ERROR || !e->msg)
			continue;
		printable(msg, sizeof(msg), e->msg, strlen(e->msg));
		snprintf(err, ERR_LEN, "%s:%d:%d: %s", file, e->line > 0 ? e->line : 1,
			 e->column > 0 ? e->column : 1, msg);
		return;
	}
	snprintf(err, ERR_LEN, "%s: invalid YAML", file);
}

/*
 * Where @buf stops being UTF-8 (overlong forms, surrogates and code points
 * past U+10FFFF included), or @len. libfyaml would quietly drop such bytes.
 */
static size_t utf8_valid_len(const unsigned char *buf, size_t len)
{
	size_t i = 0;

	while (i < len) {
		unsigned char c = buf[i];
		size_t n = c < 0x80		  ? 0 :
			   c >= 0xc2 && c <= 0xdf ? 1 :
			   (c & 0xf0) == 0xe0	  ? 2 :
			   c >= 0xf0 && c <= 0xf4 ? 3 :
						    4;
		unsigned int cp;

		if (n == 4 || (n && i + n >= len))
			return i;
		cp = n == 0 ? c : c & (0x3f >> n);
		for (size_t k = 1; k <= n; k++) {
			if ((buf[i + k] & 0xc0) != 0x80)
				return i;
			cp = cp << 6 | (buf[i + k] & 0x3f);
		}
		if ((n == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (n == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return i;
		i += n + 1;
	}
	return len;
}

/* All of @fp, NUL-terminated, or NULL with @err set. */
static char *read_all(FILE *fp, const char *file, size_t *lenp, char err[ERR_LEN])
{
	size_t len = 0, cap = 0, bad;
	const char *what;
	char *buf = NULL;
	int line = 1;

	for (;;) {
		size_t got;

		if (cap - len < 4096) {
			char *nb;

			if (cap >= YAML_MAX_FILE) {
				snprintf(err, ERR_LEN, "cannot read %s: larger than %d MiB", file,
					 YAML_MAX_FILE >> 20);
				free(buf);
				return NULL;
			}
			cap = cap ? cap * 2 : 65536;
			nb = realloc(buf, cap + 1);
			if (!nb) {
				snprintf(err, ERR_LEN, "cannot read %s: out of memory", file);
				free(buf);
				return NULL;
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len, fp);
		len += got;
		if (len > YAML_MAX_MANIFEST) {
			snprintf(err, ERR_LEN,
				 "%s: more than the %u MiB a manifest may have (kube-apiserver's "
				 "request limit)",
				 file, YAML_MAX_MANIFEST >> 20);
			free(buf);
			return NULL;
		}
		if (got)
			continue;
		if (ferror(fp)) {
			snprintf(err, ERR_LEN, "cannot read %s: %s", file, strerror(errno));
			free(buf);
			return NULL;
		}
		break;
	}
	buf[len] = '\0';
	/* YAML has no NUL: the parser would take the first one for the end of the text. */
	bad = strlen(buf);
	what = "a NUL byte: binary data, not YAML or JSON";
	if (bad == len) {
		bad = utf8_valid_len((const unsigned char *)buf, len);
		what = "invalid UTF-8";
	}
	if (bad < len) {
		const char *nl = buf;

		for (const char *p = buf; p < buf + bad; p++)
			if (*p == '\n') {
				line++;
				nl = p + 1;
			}
		snprintf(err, ERR_LEN, "%s:%d:%zu: %s", file, line, (size_t)(buf + bad - nl) + 1,
			 what);
		free(buf);
		return NULL;
	}
	*lenp = len;
	return buf;
}

/* Read the documents of one open file @fp, called @file. */
static int read_fp(FILE *fp, const char *file, struct k8s_docs *out, size_t *cap, char err[ERR_LEN])
{
	struct fy_parse_cfg cfg = { .flags = FYPCF_QUIET | FYPCF_COLLECT_DIAG };
	struct fy_diag_cfg dcfg;
	struct fy_parser *fyp = NULL;
	struct fy_document *fyd;
	struct fy_diag *diag = NULL;
	int index = 0, ret = 0;
	size_t len;
	char *text;

	text = read_all(fp, file, &len, err);
	if (!text)
		return -EINVAL;
	fy_diag_cfg_default(&dcfg);
	dcfg.fp = NULL;
	dcfg.output_fn = diag_discard;
	dcfg.colorize = false;
	diag = fy_diag_create(&dcfg);
	if (!diag)
		goto nomem;
	fy_diag_set_collect_errors(diag, true);
	cfg.diag = diag;
	fyp = fy_parser_create(&cfg);
	if (!fyp || fy_parser_set_string(fyp, text, len))
		goto nomem;
	while ((fyd = fy_parse_load_document(fyp))) {
		struct fy_document_state *fyds = fy_document_get_document_state(fyd);
		struct fy_node *root = fy_document_root(fyd);
		struct conv c = { .file = file, .err = err, .budget = YAML_MAX_NODES };
		const struct fy_mark *m = NULL;
		json_t *json;

		index++;
		/*
		 * The first line of the content: where an implicit document
		 * starts ("{" of JSON, or the first key), the first key after "---".
		 */
		if (fy_document_state_start_implicit(fyds))
			m = fy_document_state_start_mark(fyds);
		if (!m)
			m = node_mark(root, 0);
		if (!m)
			m = fy_document_state_start_mark(fyds);
		c.line = m ? m->line + 1 : 1;
		err[0] = '\0';
		json = node_json(&c, root);
		if (!json) {
			fy_parse_document_destroy(fyp, fyd);
			ret = -EINVAL;
			goto out;
		}
		/* An empty document ("---" alone, or only comments) is no object. */
		if (json_is_null(json)) {
			json_decref(json);
			ret = 0;
		} else {
			ret = add_doc(&c, out, cap, index, c.line, json, root, 0);
		}
		fy_parse_document_destroy(fyp, fyd);
		if (ret) {
			if (ret == -ENOMEM)
				snprintf(err, ERR_LEN, "%s: out of memory", file);
			goto out;
		}
	}
	if (fy_parser_get_stream_error(fyp)) {
		diag_error(diag, file, err);
		ret = -EINVAL;
	}
out:
	fy_parser_destroy(fyp);
	fy_diag_destroy(diag);
	free(text);
	return ret;
nomem:
	snprintf(err, ERR_LEN, "%s: out of memory", file);
	ret = -ENOMEM;
	goto out;
}

static int read_file(const char *path, struct k8s_docs *out, size_t *cap, char err[ERR_LEN])
{
	FILE *fp;
	int ret;

	if (!strcmp(path, "-"))
		return read_fp(stdin, "-", out, cap, err);
	fp = fopen(path, "r");
	if (!fp) {
		ret = -errno;
		snprintf(err, ERR_LEN, "cannot read %s: %s", path, strerror(errno));
		return ret;
	}
	ret = read_fp(fp, path, out, cap, err);
	fclose(fp);
	return ret;
}

static bool manifest_name(const char *name)
{
	static const char *const ext[] = { ".yaml", ".yml", ".json" };
	size_t len = strlen(name);

	for (size_t i = 0; i < sizeof(ext) / sizeof(ext[0]); i++) {
		size_t el = strlen(ext[i]);

		if (len > el && !strcmp(name + len - el, ext[i]))
			return true;
	}
	return false;
}

static int cmp_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The manifests in directory @dir, sorted by name (not recursive). */
static int read_dir(const char *dir, struct k8s_docs *out, size_t *cap, char err[ERR_LEN])
{
	size_t n = 0, ncap = 0, dlen = strlen(dir);
	const char *sep = dlen && dir[dlen - 1] == '/' ? "" : "/";
	char **names = NULL;
	struct dirent *de;
	int ret = 0;
	DIR *d;

	d = opendir(dir);
	if (!d) {
		ret = -errno;
		snprintf(err, ERR_LEN, "cannot read %s: %s", dir, strerror(errno));
		return ret;
	}
	while ((de = readdir(d))) {
		struct stat st;
		size_t plen;
		char *path;

		if (!manifest_name(de->d_name))
			continue;
		plen = dlen + strlen(sep) + strlen(de->d_name) + 1;
		path = malloc(plen);
		if (!path) {
			ret = -ENOMEM;
			break;
		}
		snprintf(path, plen, "%s%s%s", dir, sep, de->d_name);
		/* Files and links to files; a directory called "x.yaml" is not read. */
		if (stat(path, &st) || !S_ISREG(st.st_mode)) {
			free(path);
			continue;
		}
		if (n == ncap) {
			char **nn = realloc(names, (ncap = ncap ? ncap * 2 : 16) * sizeof(*nn));

			if (!nn) {
				free(path);
				ret = -ENOMEM;
				break;
			}
			names = nn;
		}
		names[n++] = path;
	}
	closedir(d);
	if (ret)
		snprintf(err, ERR_LEN, "%s: out of memory", dir);
	else if (n)
		qsort(names, n, sizeof(*names), cmp_name);
	for (size_t i = 0; i < n; i++) {
		if (!ret)
			ret = read_file(names[i], out, cap, err);
		free(names[i]);
	}
	free(names);
	return ret;
}

int k8s_read_files(char *const *paths, size_t n, struct k8s_docs *out, char err[ERR_LEN])
{
	size_t cap = 0;
	int ret = 0;

	out->doc = NULL;
	out->n = 0;
	text_left = YAML_MAX_TEXT;
	for (size_t i = 0; i < n && !ret; i++) {
		struct stat st;

		if (strcmp(paths[i], "-") && !stat(paths[i], &st) && S_ISDIR(st.st_mode))
			ret = read_dir(paths[i], out, &cap, err);
		else
			ret = read_file(paths[i], out, &cap, err);
	}
	if (ret)
		k8s_docs_free(out);
	return ret;
}

void k8s_docs_free(struct k8s_docs *d)
{
	for (size_t i = 0; i < d->n; i++) {
		free(d->doc[i].file);
		json_decref(d->doc[i].json);
	}
	free(d->doc);
	d->doc = NULL;
	d->n = 0;
}
