// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * health.c - kube-proxy's healthCheckNodePort server (pkg/proxy/healthcheck,
 * service_health.go) in `svcbpf agent`.
 *
 * A load balancer in front of a Service with externalTrafficPolicy Local
 * asks each node http://NODE:healthCheckNodePort/ whether to send it
 * traffic: 200 while the node has a ready local endpoint and its proxy is
 * healthy, else 503, with the count in the body and in the
 * X-Load-Balancing-Endpoint-Weight header. Here "healthy" means the
 * dataplane is loaded and no change was left half-way (maps_behind() with
 * nobody finishing it), and the store could be read.
 *
 * One thread, plain sockets and poll(): every second the store is read and
 * decoded afresh (the controller computes the local endpoints), listeners are
 * opened and closed to match, and requests in between are answered from that
 * result. Each connection gets one response and is closed.
 */
#define _GNU_SOURCE /* accept4 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "health.h"
#include "k8s_ctl.h"
#include "maps.h"
#include "store.h"

#define HEALTH_REFRESH_MS 1000
#define HEALTH_MAX_CONNS 64
/* A request that has not been answered by then is dropped (a checker waits a few seconds). */
#define HEALTH_CONN_TIMEOUT_MS 5000
#define HEALTH_REQ_MAX 4096
#define HEALTH_RESP_MAX 2048

/* One health check the store asks for, and its listener. */
struct hc_entry {
	char ns[K8S_NAME_LEN];
	char name[K8S_NAME_LEN];
	uint16_t port;
	size_t local; /* ready local endpoints at the last refresh */
	int fd; /* listening socket; -1: the port could not be bound (retried) */
	bool logged; /* the bind failure was reported */
};

/* One client connection: its request as read so far, then its response. */
struct hc_conn {
	int fd; /* -1: a free slot */
	uint16_t port;
	bool writing;
	uint64_t deadline; /* ms, monotonic */
	size_t in_len, out_len, out_off;
	char in[HEALTH_REQ_MAX];
	char out[HEALTH_RESP_MAX];
};

struct health {
	struct hc_entry *e;
	size_t n, cap;
	struct hc_conn conn[HEALTH_MAX_CONNS];
	size_t nconn;
	bool proxy_healthy;
	char last_err[ERR_LEN]; /* the refresh error last reported; "" after a success */
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void conn_close(struct health *h, struct hc_conn *c)
{
	close(c->fd);
	c->fd = -1;
	h->nconn--;
}

static void entry_close(struct health *h, struct hc_entry *e)
{
	if (e->fd < 0)
		return;
	/* As kube-proxy closes its server: the listener and its connections. */
	for (size_t i = 0; i < HEALTH_MAX_CONNS; i++)
		if (h->conn[i].fd >= 0 && h->conn[i].port == e->port)
			conn_close(h, &h->conn[i]);
	close(e->fd);
	e->fd = -1;
	fprintf(stderr, "svcbpf: closed the health check of %s/%s on 0.0.0.0:%u\n", e->ns, e->name,
		e->port);
}

/* Listen on 0.0.0.0:port; a failure is reported once per entry and retried. */
static void entry_listen(struct hc_entry *e)
{
	struct sockaddr_in sa = {
		.sin_family = AF_INET,
		.sin_port = htons(e->port),
		.sin_addr.s_addr = htonl(INADDR_ANY),
	};
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	/* SO_REUSEADDR as Go's listeners: TIME_WAIT does not block a reopen; a listener does. */
	if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) || listen(fd, 128)) {
		if (!e->logged)
			fprintf(stderr,
				"svcbpf: cannot serve the health check of %s/%s on 0.0.0.0:%u: %s "
				"(retrying every second)\n",
				e->ns, e->name, e->port, strerror(errno));
		e->logged = true;
		if (fd >= 0)
			close(fd);
		return;
	}
	e->fd = fd;
	e->logged = false;
	fprintf(stderr, "svcbpf: serving the health check of %s/%s on 0.0.0.0:%u\n", e->ns, e->name,
		e->port);
}

static const struct k8s_health *want_find(const struct k8s_health *w, size_t n, const char *ns,
					  const char *name)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(w[i].ns, ns) && !strcmp(w[i].name, name))
			return &w[i];
	return NULL;
}

/* Make the entries @want: close what went or moved first, so its port is free to reuse. */
static int entries_sync(struct health *h, const struct k8s_health *want, size_t n)
{
	for (size_t i = 0; i < h->n;) {
		struct hc_entry *e = &h->e[i];
		const struct k8s_health *w = want_find(want, n, e->ns, e->name);

		if (w && w->port == e->port) {
			i++;
			continue;
		}
		entry_close(h, e);
		h->e[i] = h->e[--h->n];
	}
	for (size_t i = 0; i < n; i++) {
		struct hc_entry *e = NULL;

		for (size_t j = 0; j < h->n && !e; j++)
			if (!strcmp(h->e[j].ns, want[i].ns) && !strcmp(h->e[j].name, want[i].name))
				e = &h->e[j];
		if (!e) {
			if (h->n == h->cap) {
				size_t cap = h->cap ? 2 * h->cap : 8;
				struct hc_entry *ne = realloc(h->e, cap * sizeof(*ne));

				if (!ne)
					return -ENOMEM;
				h->e = ne;
				h->cap = cap;
			}
			e = &h->e[h->n++];
			memset(e, 0, sizeof(*e));
			snprintf(e->ns, sizeof(e->ns), "%s", want[i].ns);
			snprintf(e->name, sizeof(e->name), "%s", want[i].name);
			e->port = want[i].port;
			e->fd = -1;
		}
		e->local = want[i].local_endpoints;
		if (e->fd < 0)
			entry_listen(e);
	}
	return 0;
}

/*
 * The dataplane translates what the store says: it is loaded, and no change
 * stopped between its commit and its map writes (the maps-behind mark
 * without a change holding the lock to finish it).
 */
static bool proxy_healthy(void)
{
	struct dp_maps m;
	int ret = maps_open(cli.pin_dir, &m);

	maps_close(&m);
	if (ret)
		return false;
	/* Behind, then not in progress, then still behind: not a change that just ended. */
	return !(maps_behind() && !change_in_progress() && maps_behind());
}

/* Read the store and compute every health check; 0 or -errno with @err set. */
static int health_read(struct k8s_health **hc, size_t *n, char err[ERR_LEN])
{
	char node[K8S_NAME_LEN];
	struct store *st = NULL;
	struct k8s_set set;
	int ret;

	ret = store_open(cli.state_dir, &st, err);
	if (ret)
		return ret;
	ret = k8s_node_name(st, node, sizeof(node));
	if (ret) {
		snprintf(err, ERR_LEN, "cannot read this node's name: %s", strerror(-ret));
		goto out;
	}
	ret = k8s_set_load(st, &set, err);
	if (ret)
		goto out;
	ret = k8s_health_checks(&set, node, hc, n);
	if (ret)
		snprintf(err, ERR_LEN, "cannot compute the health checks: %s", strerror(-ret));
	k8s_set_free(&set);
out:
	store_close(st);
	return ret;
}

/*
 * One refresh. When the store cannot be read, the listeners stay as they
 * were and answer 503 (serviceProxyHealthy false); the error is reported
 * once, until a refresh succeeds.
 */
static void health_refresh(struct health *h)
{
	struct k8s_health *hc = NULL;
	char err[ERR_LEN] = "";
	size_t n = 0;
	int ret = health_read(&hc, &n, err);

	if (!ret)
		ret = entries_sync(h, hc, n);
	free(hc);
	if (ret && !err[0])
		snprintf(err, ERR_LEN, "%s", strerror(-ret));
	if (ret) {
		h->proxy_healthy = false;
		if (strcmp(err, h->last_err))
			fprintf(stderr, "svcbpf: health checks: %s (answering 503, retrying)\n",
				err);
		snprintf(h->last_err, sizeof(h->last_err), "%s", err);
		return;
	}
	h->last_err[0] = '\0';
	h->proxy_healthy = proxy_healthy();
}

/* @s as the inside of a JSON string (names are DNS names; this keeps an odd store valid JSON). */
static void json_str(char *dst, size_t len, const char *s)
{
	size_t o = 0;

	for (; *s && o + 7 < len; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			o += (size_t)snprintf(dst + o, len - o, "\\%c", c);
		else if (c < 0x20)
			o += (size_t)snprintf(dst + o, len - o, "\\u%04x", c);
		else
			dst[o++] = (char)c;
	}
	dst[o] = '\0';
}

/* An HTTP date (RFC 9110 IMF-fixdate), whatever the locale. */
static void http_date(char *buf, size_t len)
{
	static const char *const wd[] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
	static const char *const mon[] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
					   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	snprintf(buf, len, "%s, %02d %s %04d %02d:%02d:%02d GMT", wd[tm.tm_wday], tm.tm_mday,
		 mon[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/*
 * kube-proxy's answer, byte for byte in body and headers (any method and
 * path; HEAD without the body): 200 with a local endpoint and a healthy
 * proxy, else 503.
 */
static void conn_respond(struct health *h, struct hc_conn *c, const struct hc_entry *e)
{
	char ns[2 * K8S_NAME_LEN], name[2 * K8S_NAME_LEN], date[64], body[HEALTH_RESP_MAX / 2];
	bool ok = e->local && h->proxy_healthy;
	bool head = !strncmp(c->in, "HEAD ", 5);
	int blen, len;

	json_str(ns, sizeof(ns), e->ns);
	json_str(name, sizeof(name), e->name);
	http_date(date, sizeof(date));
	blen = snprintf(
		body, sizeof(body),
		"{\n\t\"service\": {\n\t\t\"namespace\": \"%s\",\n\t\t\"name\": \"%s\"\n\t},"
		"\n\t\"localEndpoints\": %zu,\n\t\"serviceProxyHealthy\": %s\n}",
		ns, name, e->local, h->proxy_healthy ? "true" : "false");
	if (blen < 0 || (size_t)blen >= sizeof(body))
		blen = 0;
	len = snprintf(c->out, sizeof(c->out),
		       "HTTP/1.1 %s\r\nContent-Type: application/json\r\n"
		       "X-Content-Type-Options: nosniff\r\n"
		       "X-Load-Balancing-Endpoint-Weight: %zu\r\nDate: %s\r\n"
		       "Content-Length: %d\r\nConnection: close\r\n\r\n%s",
		       ok ? "200 OK" : "503 Service Unavailable", e->local, date, blen,
		       head ? "" : body);
	c->out_len = len < 0 ? 0 : (size_t)len >= sizeof(c->out) ? sizeof(c->out) - 1 : (size_t)len;
	c->out_off = 0;
	c->writing = true;
}

/* A request whose header does not fit: Go's answer to one, then close. */
static void conn_too_large(struct hc_conn *c)
{
	static const char resp[] = "HTTP/1.1 431 Request Header Fields Too Large\r\n"
				   "Content-Type: text/plain; charset=utf-8\r\n"
				   "Connection: close\r\n\r\n"
				   "431 Request Header Fields Too Large";

	memcpy(c->out, resp, sizeof(resp) - 1);
	c->out_len = sizeof(resp) - 1;
	c->out_off = 0;
	c->writing = true;
}

static struct hc_entry *entry_of_port(struct health *h, uint16_t port)
{
	for (size_t i = 0; i < h->n; i++)
		if (h->e[i].fd >= 0 && h->e[i].port == port)
			return &h->e[i];
	return NULL;
}

/* Read what came, answer once the header is complete, write what is pending. */
static void conn_event(struct health *h, struct hc_conn *c)
{
	struct hc_entry *e;
	ssize_t r;

	if (!c->writing) {
		r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - 1 - c->in_len, 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			return;
		if (r <= 0) {
			conn_close(h, c);
			return;
		}
		c->in_len += (size_t)r;
		c->in[c->in_len] = '\0';
		if (strstr(c->in, "\r\n\r\n") || strstr(c->in, "\n\n")) {
			e = entry_of_port(h, c->port);
			if (!e) {
				conn_close(h, c);
				return;
			}
			conn_respond(h, c, e);
		} else if (c->in_len == sizeof(c->in) - 1) {
			conn_too_large(c);
		} else {
			return;
		}
	}
	r = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r > 0)
		c->out_off += (size_t)r;
	if (r <= 0 || c->out_off == c->out_len)
		conn_close(h, c);
}

static void accept_all(struct health *h, const struct hc_entry *e, uint64_t now)
{
	for (size_t i = 0; i < HEALTH_MAX_CONNS && h->nconn < HEALTH_MAX_CONNS; i++) {
		struct hc_conn *c = &h->conn[i];
		int fd;

		if (c->fd >= 0)
			continue;
		fd = accept4(e->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		c->fd = fd;
		c->port = e->port;
		c->writing = false;
		c->deadline = now + HEALTH_CONN_TIMEOUT_MS;
		c->in_len = 0;
		c->in[0] = '\0';
		h->nconn++;
	}
}

static void health_free(struct health *h)
{
	for (size_t i = 0; i < HEALTH_MAX_CONNS; i++)
		if (h->conn[i].fd >= 0)
			conn_close(h, &h->conn[i]);
	for (size_t i = 0; i < h->n; i++)
		if (h->e[i].fd >= 0)
			close(h->e[i].fd);
	free(h->e);
}

int health_serve(int sig_fd)
{
	struct health *h = calloc(1, sizeof(*h));
	size_t nl, np, cap = 0;
	struct pollfd *pfd = NULL;
	size_t *lidx = NULL, *cidx = NULL;
	uint64_t next = 0, now;
	int ret = 0, timeout;

	if (!h)
		return -ENOMEM;
	for (size_t i = 0; i < HEALTH_MAX_CONNS; i++)
		h->conn[i].fd = -1;
	h->proxy_healthy = true;
	for (;;) {
		now = now_ms();
		if (now >= next) {
			health_refresh(h);
			next = now + HEALTH_REFRESH_MS;
			now = now_ms();
		}
		if (1 + h->n + HEALTH_MAX_CONNS > cap) {
			size_t ncap = 1 + h->n + HEALTH_MAX_CONNS;
			struct pollfd *np_ = realloc(pfd, ncap * sizeof(*pfd));
			size_t *nl_ = np_ ? realloc(lidx, ncap * sizeof(*lidx)) : NULL;
			size_t *nc_ = nl_ ? realloc(cidx, ncap * sizeof(*cidx)) : NULL;

			pfd = np_ ? np_ : pfd;
			lidx = nl_ ? nl_ : lidx;
			cidx = nc_ ? nc_ : cidx;
			if (!nc_) {
				ret = -ENOMEM;
				break;
			}
			cap = ncap;
		}
		timeout = (int)(next > now ? next - now : 0);
		pfd[0] = (struct pollfd){ .fd = sig_fd, .events = POLLIN };
		np = 1;
		nl = 0;
		/* Full: new connections wait in the listeners' backlogs. */
		for (size_t i = 0; h->nconn < HEALTH_MAX_CONNS && i < h->n; i++) {
			if (h->e[i].fd < 0)
				continue;
			lidx[nl++] = i;
			pfd[np++] = (struct pollfd){ .fd = h->e[i].fd, .events = POLLIN };
		}
		for (size_t i = 0; i < HEALTH_MAX_CONNS; i++) {
			struct hc_conn *c = &h->conn[i];

			if (c->fd < 0)
				continue;
			if (c->deadline <= now) {
				conn_close(h, c);
				continue;
			}
			if (c->deadline - now < (uint64_t)timeout)
				timeout = (int)(c->deadline - now);
			cidx[np - 1 - nl] = i;
			pfd[np++] = (struct pollfd){ .fd = c->fd,
						     .events = c->writing ? POLLOUT : POLLIN };
		}
		if (poll(pfd, np, timeout) < 0) {
			if (errno == EINTR)
				continue;
			ret = -errno;
			break;
		}
		if (pfd[0].revents) {
			struct signalfd_siginfo si;

			if (read(sig_fd, &si, sizeof(si)) < 0 && errno != EAGAIN) {
				ret = -errno;
				break;
			}
			break;
		}
		now = now_ms();
		/* Connections first: accepting may reuse a slot a closed one freed. */
		for (size_t k = 1 + nl; k < np; k++)
			if (pfd[k].revents)
				conn_event(h, &h->conn[cidx[k - 1 - nl]]);
		for (size_t k = 0; k < nl; k++)
			if (pfd[1 + k].revents)
				accept_all(h, &h->e[lidx[k]], now);
	}
	health_free(h);
	free(h);
	free(pfd);
	free(lidx);
	free(cidx);
	return ret;
}
