// SPDX-License-Identifier: GPL-2.0
/*
 * connbench.c - new TCP connections per second, one short HTTP request on each.
 *
 *   connbench --dst IP --port P [--seconds S] [--warmup S] [--conns C] [--threads T]
 *             [--src-base IP --src-count K [--src-start I]] [--timeout-ms MS]
 *
 * Each of T threads keeps C/T connections in flight with epoll: a non-blocking connect(),
 * "GET / HTTP/1.1" with "Connection: close", read until the server closes, close(), and
 * start the next one. A connection's latency runs from connect() to the end of the answer,
 * so it includes the handshake: the SYN is the packet a service dataplane translates with
 * its full lookup. (wrk starts its clock after the handshake; ab reports whole ms.)
 *
 * With --src-base/--src-count, connection i binds source address base + (start + i) % K
 * (IP_BIND_ADDRESS_NO_PORT: the port is still chosen at connect time), so a run of more
 * connections than one address has ports never reuses a 4-tuple: every connection is a new
 * flow for a conntrack, none a stale entry's.
 *
 * Prints one JSON object: conns, errors (failed connects, timeouts, answers not "HTTP/1.x
 * 200"), seconds, rate (conns/s), lat_us {p50, p90, p99, max, mean}. Exits 1 on bad usage
 * or when no connection completed.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

#define MAX_THREADS 16
#define MAX_CONNS 4096
#define MAX_SAMPLES (8u << 20)

struct opts {
	struct in_addr dst;
	uint16_t port;
	double seconds, warmup;
	int conns, threads, timeout_ms;
	uint32_t src_base; /* host order; 0: no bind */
	uint32_t src_count, src_start;
};

struct conn {
	int fd;
	int state; /* 0 idle, 1 connecting, 2 reading */
	uint64_t start_ns;
	size_t got;
	char head[16];
};

struct worker {
	int id;
	const struct opts *o;
	uint64_t t_begin, t_measure, t_end; /* ns */
	uint64_t done, errors, next_src;
	uint64_t *lat; /* ns, samples of the measured window */
	size_t nlat, caplat;
	pthread_t thread;
};

static const char request[] = "GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n";

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

static void conn_close(int ep, struct conn *c)
{
	if (c->fd >= 0) {
		epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
	}
	c->fd = -1;
	c->state = 0;
}

/* Start a connection in slot @c; 0, or -1 when the socket could not even be created. */
static int conn_start(struct worker *w, int ep, struct conn *c)
{
	const struct opts *o = w->o;
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(o->port),
				  .sin_addr = o->dst };
	struct epoll_event ev = { .events = EPOLLOUT, .data.ptr = c };
	int one = 1;

	c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd < 0)
		return -1;
	if (o->src_count) {
		uint32_t i = (o->src_start + (uint32_t)(w->next_src++ * o->threads + w->id)) %
			     o->src_count;
		struct sockaddr_in src = { .sin_family = AF_INET,
					   .sin_addr.s_addr = htonl(o->src_base + i) };

		setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
		if (bind(c->fd, (struct sockaddr *)&src, sizeof(src)) < 0)
			goto fail;
	}
	c->start_ns = now_ns();
	c->got = 0;
	if (connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS)
		goto fail;
	c->state = 1;
	if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0)
		goto fail;
	return 0;
fail:
	close(c->fd);
	c->fd = -1;
	c->state = 0;
	w->errors++;
	return 0;
}

static void record(struct worker *w, uint64_t start, uint64_t end)
{
	if (start < w->t_measure || end > w->t_end)
		return; /* warm-up, or finished after the window */
	w->done++;
	if (w->nlat < w->caplat)
		w->lat[w->nlat++] = end - start;
}

static void conn_event(struct worker *w, int ep, struct conn *c, uint32_t events)
{
	char buf[4096];
	ssize_t n;

	if (c->state == 1) {
		int err = 0;
		socklen_t len = sizeof(err);
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = c };

		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err || (events & (EPOLLERR | EPOLLHUP))) {
			w->errors++;
			conn_close(ep, c);
			return;
		}
		if (write(c->fd, request, sizeof(request) - 1) != (ssize_t)sizeof(request) - 1) {
			w->errors++;
			conn_close(ep, c);
			return;
		}
		c->state = 2;
		epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev);
		return;
	}
	for (;;) {
		n = read(c->fd, buf, sizeof(buf));
		if (n > 0) {
			if (c->got < sizeof(c->head)) {
				size_t k = sizeof(c->head) - c->got;

				memcpy(c->head + c->got, buf, (size_t)n < k ? (size_t)n : k);
			}
			c->got += n;
			continue;
		}
		if (n < 0 && errno == EAGAIN)
			return;
		break;
	}
	/* EOF (or an error): the server has answered and closed. */
	if (n == 0 && c->got >= 12 && !memcmp(c->head, "HTTP/1.", 7) &&
	    !memcmp(c->head + 8, " 200", 4))
		record(w, c->start_ns, now_ns());
	else if (now_ns() >= w->t_measure)
		w->errors++;
	conn_close(ep, c);
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	const struct opts *o = w->o;
	int per = o->conns / o->threads + (w->id < o->conns % o->threads);
	struct conn *cs = calloc(per, sizeof(*cs));
	struct epoll_event evs[256];
	uint64_t timeout = (uint64_t)o->timeout_ms * 1000000ull, last_scan = 0;
	int ep = epoll_create1(EPOLL_CLOEXEC);

	if (!cs || ep < 0) {
		free(cs);
		if (ep >= 0)
			close(ep);
		w->errors++;
		return NULL;
	}
	for (int i = 0; i < per; i++)
		cs[i].fd = -1;
	for (;;) {
		uint64_t t = now_ns();

		if (t >= w->t_end)
			break;
		for (int i = 0; i < per; i++)
			if (!cs[i].state && conn_start(w, ep, &cs[i]) < 0)
				w->errors++;
		int n = epoll_wait(ep, evs, 256, 20);

		for (int i = 0; i < n; i++)
			conn_event(w, ep, evs[i].data.ptr, evs[i].events);
		t = now_ns();
		if (t - last_scan > 50000000ull) {
			last_scan = t;
			for (int i = 0; i < per; i++) {
				if (cs[i].state && t - cs[i].start_ns > timeout) {
					w->errors++;
					conn_close(ep, &cs[i]);
				}
			}
		}
	}
	for (int i = 0; i < per; i++)
		conn_close(ep, &cs[i]);
	close(ep);
	free(cs);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *v, size_t n, double p)
{
	size_t i;

	if (!n)
		return 0;
	i = (size_t)(p / 100.0 * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1] / 1000.0;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: connbench --dst IP --port P [--seconds S] [--warmup S] [--conns C]\n"
		"                 [--threads T] [--src-base IP --src-count K [--src-start I]]\n"
		"                 [--timeout-ms MS]\n");
	exit(1);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "dst", 1, 0, 'd' },
		{ "port", 1, 0, 'p' },
		{ "seconds", 1, 0, 's' },
		{ "warmup", 1, 0, 'w' },
		{ "conns", 1, 0, 'c' },
		{ "threads", 1, 0, 't' },
		{ "src-base", 1, 0, 'b' },
		{ "src-count", 1, 0, 'k' },
		{ "src-start", 1, 0, 'i' },
		{ "timeout-ms", 1, 0, 'T' },
		{ 0, 0, 0, 0 },
	};
	struct opts o = {
		.seconds = 5, .warmup = 0.5, .conns = 16, .threads = 2, .timeout_ms = 3000
	};
	struct worker w[MAX_THREADS] = { 0 };
	struct in_addr a;
	uint64_t done = 0, errors = 0, t0;
	size_t nlat = 0;
	uint64_t *all;
	double sum = 0, secs;
	int c, have_dst = 0;

	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (inet_pton(AF_INET, optarg, &o.dst) != 1)
				usage();
			have_dst = 1;
			break;
		case 'p':
			o.port = (uint16_t)atoi(optarg);
			break;
		case 's':
			o.seconds = atof(optarg);
			break;
		case 'w':
			o.warmup = atof(optarg);
			break;
		case 'c':
			o.conns = atoi(optarg);
			break;
		case 't':
			o.threads = atoi(optarg);
			break;
		case 'b':
			if (inet_pton(AF_INET, optarg, &a) != 1)
				usage();
			o.src_base = ntohl(a.s_addr);
			break;
		case 'k':
			o.src_count = (uint32_t)atoi(optarg);
			break;
		case 'i':
			o.src_start = (uint32_t)atoi(optarg);
			break;
		case 'T':
			o.timeout_ms = atoi(optarg);
			break;
		default:
			usage();
		}
	}
	if (!have_dst || !o.port || o.seconds <= 0 || o.seconds > 600 || o.warmup < 0 ||
	    o.threads < 1 || o.threads > MAX_THREADS || o.conns < o.threads ||
	    o.conns > MAX_CONNS || o.timeout_ms < 1 || (o.src_count && !o.src_base))
		usage();

	t0 = now_ns();
	for (int i = 0; i < o.threads; i++) {
		w[i].id = i;
		w[i].o = &o;
		w[i].t_begin = t0;
		w[i].t_measure = t0 + (uint64_t)(o.warmup * 1e9);
		w[i].t_end = w[i].t_measure + (uint64_t)(o.seconds * 1e9);
		w[i].caplat = MAX_SAMPLES / o.threads;
		w[i].lat = malloc(w[i].caplat * sizeof(uint64_t));
		if (!w[i].lat || pthread_create(&w[i].thread, NULL, worker_run, &w[i])) {
			fprintf(stderr, "connbench: cannot start thread %d\n", i);
			return 1;
		}
	}
	for (int i = 0; i < o.threads; i++) {
		pthread_join(w[i].thread, NULL);
		done += w[i].done;
		errors += w[i].errors;
		nlat += w[i].nlat;
	}
	all = malloc((nlat ? nlat : 1) * sizeof(uint64_t));
	if (!all)
		return 1;
	nlat = 0;
	for (int i = 0; i < o.threads; i++) {
		memcpy(all + nlat, w[i].lat, w[i].nlat * sizeof(uint64_t));
		nlat += w[i].nlat;
		free(w[i].lat);
	}
	qsort(all, nlat, sizeof(uint64_t), cmp_u64);
	for (size_t i = 0; i < nlat; i++)
		sum += all[i] / 1000.0;
	secs = o.seconds;
	printf("{\"conns\": %llu, \"errors\": %llu, \"seconds\": %.3f, \"rate\": %.1f, "
	       "\"lat_us\": {\"p50\": %.1f, \"p90\": %.1f, \"p99\": %.1f, \"max\": %.1f, "
	       "\"mean\": %.1f}}\n",
	       (unsigned long long)done, (unsigned long long)errors, secs, done / secs,
	       pct(all, nlat, 50), pct(all, nlat, 90), pct(all, nlat, 99),
	       nlat ? all[nlat - 1] / 1000.0 : 0, nlat ? sum / nlat : 0);
	free(all);
	return done ? 0 : 1;
}
