// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * change.c - the one path every change takes: lock, write the store in one
 * transaction, check that the result fits the maps, commit, then reconcile
 * the maps of the services it touched. A batch (`svcbpf batch`) collects
 * the changes its lines parse to and applies them all in one transaction.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "cli.h"
#include "output.h"
#include "svcbpf.h"

#define LOCK_FILE "lock"
#define LOCK_TIMEOUT_MS 30000
/* Present while a committed change may not be in the maps yet (see maps_behind_set()). */
#define BEHIND_FILE "maps-behind"
/* Past this many changes, read the store once and batch the map writes. */
#define RECONCILE_BULK 64

/* Where changes go instead of the store while a batch is being parsed. */
static struct change_list *collecting;
struct apply_stats apply_stats;

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

void change_free(struct change *c)
{
	free(c->be);
	c->be = NULL;
	c->nbe = 0;
	free(c->ranges);
	c->ranges = NULL;
	c->nranges = 0;
}

void change_collect(struct change_list *into)
{
	collecting = into;
}

bool change_collecting(void)
{
	return collecting != NULL;
}

void change_list_free(struct change_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		change_free(&l->c[i]);
	free(l->c);
	l->c = NULL;
	l->n = l->cap = 0;
}

static void lock_timeout(int sig)
{
	(void)sig; /* only to interrupt flock() */
}

/*
 * Wait for the lock in the kernel, not by polling: a polling waiter sleeps
 * through the moment the holder lets go, while a newcomer takes the lock,
 * so under contention some waited seconds (eight changers: p99 1.7 s, max
 * 4 s polling; 0.6 s and 0.7 s blocked, at the same rate). SIGALRM, without
 * SA_RESTART, bounds the wait; it repeats every 100 ms past the deadline, so
 * one that fires before flock() sleeps cannot leave it waiting for good.
 */
static int lock_wait(int fd)
{
	struct sigaction sa = { .sa_handler = lock_timeout }, old;
	struct itimerval it = {
		.it_value = { .tv_sec = LOCK_TIMEOUT_MS / 1000 },
		.it_interval = { .tv_usec = 100000 },
	};
	int ret, err;

	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, &old))
		return -errno;
	setitimer(ITIMER_REAL, &it, NULL);
	ret = flock(fd, LOCK_EX);
	err = errno;
	setitimer(ITIMER_REAL, &(struct itimerval){ 0 }, NULL);
	sigaction(SIGALRM, &old, NULL);
	return ret ? -(err == EINTR ? EWOULDBLOCK : err) : 0;
}

/* Serialise changers: the store transaction and the map update they cause. */
int cli_lock(void)
{
	char path[4096];
	int fd, ret = store_mkdir(cli.state_dir);

	if (ret) {
		p_err("cannot create state directory %s: %s", cli.state_dir, strerror(-ret));
		return ret;
	}
	snprintf(path, sizeof(path), "%s/%s", cli.state_dir, LOCK_FILE);
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		p_err("cannot open %s: %s", path, strerror(errno));
		return -errno;
	}
	ret = flock(fd, LOCK_EX | LOCK_NB) ? -errno : 0;
	if (ret == -EWOULDBLOCK)
		ret = lock_wait(fd);
	if (ret) {
		p_err("cannot lock %s: %s", path,
		      ret == -EWOULDBLOCK ? "held by another svcbpf for 30 s" : strerror(-ret));
		close(fd);
		return -EAGAIN;
	}
	return fd;
}

/*
 * A change commits the store, then writes the maps: killed in between (or
 * failing there), it leaves maps that lag the store, and the next change
 * would reconcile only the services it touches itself. So a marker file is
 * made before every commit and removed once the maps agree again; whoever
 * takes the lock next and finds it rebuilds every map from the store, as
 * 'svcbpf sync' does. Made before the commit, it may outlive a change killed
 * before its commit: that costs one needless full sync, never a missed one.
 * Not synced to disk: a machine that goes down loses the pinned maps too,
 * and 'svcbpf load' fills them whole.
 */
static void behind_path(char *buf, size_t len)
{
	snprintf(buf, len, "%s/%s", cli.state_dir, BEHIND_FILE);
}

bool maps_behind(void)
{
	char path[4096];

	behind_path(path, sizeof(path));
	return access(path, F_OK) == 0;
}

bool change_in_progress(void)
{
	char path[4096];
	bool held;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", cli.state_dir, LOCK_FILE);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	held = flock(fd, LOCK_SH | LOCK_NB) && errno == EWOULDBLOCK;
	close(fd); /* lets go of the shared lock, if it got it */
	return held;
}

static int maps_behind_set(void)
{
	char path[4096];
	int fd;

	behind_path(path, sizeof(path));
	fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0) {
		int err = errno;

		p_err("cannot create %s: %s", path, strerror(err));
		return -err;
	}
	close(fd);
	return 0;
}

void maps_behind_clear(void)
{
	char path[4096];

	behind_path(path, sizeof(path));
	unlink(path);
}

/* Every map rebuilt from the committed store: 0, or -errno with @err set. */
static int resync_all(struct store *s, const struct dp_maps *m, char err[ERR_LEN])
{
	struct model md;
	int ret = store_load(s, &md);

	if (ret) {
		snprintf(err, ERR_LEN, "cannot read the store: %s", store_errmsg(s));
		return ret;
	}
	ret = dp_sync_all(m, &md, err);
	model_free(&md);
	return ret;
}

static uint32_t map_capacity(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.max_entries;
}

/* Does the store, changed by @c[0..n), fit the maps? Reports and returns -E2BIG if not. */
static int check_capacity(struct store *s, const struct dp_maps *m, const struct change *c,
			  size_t n, const char *what)
{
	size_t nsvc, nbe, nranges;
	bool ranges = false;
	uint32_t cap;

	for (size_t i = 0; i < n; i++) {
		if (c[i].op != CHANGE_BE_ADD && c[i].op != CHANGE_SVC_SET)
			continue;
		if (store_svc_nbe(s, &c[i].svc, &nbe)) {
			p_err("cannot read the store: %s", store_errmsg(s));
			return -EIO;
		}
		if (nbe > SVCBPF_MAX_SVC_BACKENDS) {
			p_err("%scannot %s: more than %d backends for one service", c[i].where,
			      what, SVCBPF_MAX_SVC_BACKENDS);
			return -E2BIG;
		}
		/* Every backend must be able to own a slot. */
		if (m->svc >= 0 && nbe > m->maglev_m) {
			p_err("%scannot %s: %zu backends, more than the %u Maglev slots "
			      "(--maglev-size)",
			      c[i].where, what, nbe, m->maglev_m);
			return -E2BIG;
		}
	}
	if (m->svc < 0)
		return 0;
	for (size_t i = 0; i < n; i++)
		ranges |= c[i].nranges > 0;
	/* Source ranges: counted only when a change has some (a scan of the services). */
	if (ranges && m->src >= 0) {
		if (store_range_count(s, &nranges)) {
			p_err("cannot read the store: %s", store_errmsg(s));
			return -EIO;
		}
		cap = map_capacity(m->src);
		if (nranges > cap) {
			p_err("cannot %s: source range map full (%u entries)", what, cap);
			return -E2BIG;
		}
	}
	if (store_counts(s, &nsvc, &nbe)) {
		p_err("cannot read the store: %s", store_errmsg(s));
		return -EIO;
	}
	cap = map_capacity(m->svc);
	if (nsvc > cap) {
		p_err("cannot %s: service map full (%u entries; raise --max-services)", what, cap);
		return -E2BIG;
	}
	/* The backend map keeps room for one service's whole set while it switches. */
	cap = map_capacity(m->be);
	cap = cap > SVCBPF_BE_HEADROOM ? cap - SVCBPF_BE_HEADROOM : 0;
	if (nbe > cap) {
		p_err("cannot %s: backend map full (%u entries; raise --max-backends)", what, cap);
		return -E2BIG;
	}
	return 0;
}

/*
 * A service a Kubernetes Service made changes only through that object
 * (apply, delete); one the CLI made is not the controller's to take.
 */
static int check_owner(struct store *s, const struct change *c, const char *svc)
{
	char owner[512];
	int rc = store_svc_owner(s, &c->svc, owner, sizeof(owner));

	if (rc < 0) {
		p_err("cannot read the store: %s", store_errmsg(s));
		return rc;
	}
	/* A CLI service on a Service's ClusterIP would block that Service's next apply. */
	if (!rc && !c->owner[0] && c->op == CHANGE_SVC_SET) {
		rc = store_vip_used(s, c->svc.ip, owner, sizeof(owner));
		if (rc < 0) {
			p_err("cannot read the store: %s", store_errmsg(s));
			return rc;
		}
		if (rc && owner[0]) {
			p_err("%scannot add %s: its address is Service %s's ClusterIP", c->where,
			      svc, owner);
			return -EPERM;
		}
		rc = 0;
	}
	if (rc && strcmp(owner, c->owner)) {
		p_err(c->owner[0] ?
			      "%scannot program Service %s: %s belongs to Service %s" :
			      "%scannot change %.0s%s: it belongs to Service %s (use apply or "
			      "delete)",
		      c->where, c->owner, svc, owner);
		return -EPERM;
	}
	if (!rc && c->owner[0] && c->op == CHANGE_SVC_SET &&
	    store_svc_exists(s, &c->svc, &(size_t){ 0 }) == 1) {
		p_err("%scannot program Service %s: %s was added with 'svcbpf svc add'", c->where,
		      c->owner, svc);
		return -EEXIST;
	}
	return 0;
}

/* The flags of a NodePort frontend `svc add --nodeport` makes: kube-proxy's default policy. */
#define NODEPORT_FLAGS (SVCBPF_SVC_EXTERNAL | SVCBPF_SVC_MASQ)

/* Note @svc for the reconcile: a frontend the change made, changed or deleted on its own. */
static int touch(struct change_list *touched, const struct l4addr *svc)
{
	struct change t = { .op = CHANGE_SVC_SET, .svc = *svc, .nodeport = -1 };

	if (change_list_add(touched, &t)) {
		p_err("out of memory");
		return -ENOMEM;
	}
	return 0;
}

/* "0.0.0.0:30080/tcp (NodePort of 10.96.0.51:80/tcp)": who holds a frontend, for errors. */
static void frontend_name(struct store *s, const struct l4addr *who, char *buf, size_t len)
{
	char a[ADDR_STR_LEN], b[ADDR_STR_LEN], owner[512];
	struct l4addr parent;

	if (!who->proto) {
		snprintf(buf, len, "a Service's healthCheckNodePort");
		return;
	}
	fmt_l4addr(a, who, true);
	if (store_svc_parent(s, who, &parent) == 1)
		snprintf(buf, len, "%s (NodePort of %s)", a, fmt_l4addr(b, &parent, true));
	else if (store_svc_owner(s, who, owner, sizeof(owner)) == 1)
		snprintf(buf, len, "%s (Service %s)", a, owner);
	else
		snprintf(buf, len, "%s", a);
}

/*
 * NodePort @port for @c->svc: 1 when free or already its own, 0 when another
 * frontend (either protocol) has it (@who set), -EIO.
 */
static int nodeport_free(struct store *s, const struct change *c, uint16_t port, struct l4addr *who)
{
	struct l4addr parent, other = { 0, port, 0 };
	int rc = store_nodeport_used(s, port, who);

	if (rc <= 0)
		return rc < 0 ? rc : 1;
	rc = store_svc_parent(s, who, &parent);
	if (rc < 0)
		return rc;
	if (!rc || l4addr_cmp(&parent, &c->svc))
		return 0;
	/* Its own (same protocol): the other protocol's row is someone else's. */
	other.proto = who->proto == IPPROTO_TCP ? IPPROTO_UDP : IPPROTO_TCP;
	rc = store_svc_exists(s, &other, &(size_t){ 0 });
	if (rc == 1)
		*who = other;
	return rc < 0 ? rc : !rc;
}

/*
 * The NodePort @c asks for: its own port when given; when 0, the one the
 * service has, else a random free one (as Kubernetes allocates). 0 with
 * the error reported, or the port.
 */
static int nodeport_pick(struct store *s, const struct change *c, const char *svc)
{
	const uint32_t span = SVCBPF_NODEPORT_MAX - SVCBPF_NODEPORT_MIN + 1;
	char name[ADDR_STR_LEN + 600];
	struct l4addr *kids = NULL, who;
	uint32_t start;
	size_t nkids;
	int rc;

	if (c->nodeport > 0) {
		rc = nodeport_free(s, c, (uint16_t)c->nodeport, &who);
		if (rc == 0) {
			frontend_name(s, &who, name, sizeof(name));
			p_err("%scannot add %s: nodePort %d is in use by %s", c->where, svc,
			      c->nodeport, name);
		}
		return rc == 1 ? c->nodeport : 0;
	}
	/* Added again without a port: the one it has stays (kubectl apply does the same). */
	if (store_svc_children(s, &c->svc, &kids, &nkids))
		goto io;
	rc = nkids ? kids[0].port : 0;
	free(kids);
	if (rc)
		return rc;
	if (getrandom(&start, sizeof(start), 0) != sizeof(start))
		start = (uint32_t)now_us() ^ (uint32_t)getpid();
	for (uint32_t i = 0; i < span; i++) {
		uint16_t port = (uint16_t)(SVCBPF_NODEPORT_MIN + (start + i) % span);

		rc = store_nodeport_used(s, port, &who);
		if (rc < 0)
			goto io;
		if (!rc)
			return port;
	}
	p_err("%scannot add %s: no free nodePort in %d-%d", c->where, svc, SVCBPF_NODEPORT_MIN,
	      SVCBPF_NODEPORT_MAX);
	return 0;
io:
	p_err("cannot read the store: %s", store_errmsg(s));
	return 0;
}

/*
 * Make @svc's NodePort frontends follow it: the one on @port (0: none) gets
 * its backends and affinity, any other goes. Each is noted in @touched.
 */
static int nodeport_follow(struct store *s, const struct change *c, int port,
			   struct change_list *touched, const char *svc)
{
	struct l4addr *kids = NULL, want = { 0, (uint16_t)port, c->svc.proto };
	struct svc_rec rec = { 0 };
	size_t nkids = 0;
	int ret = store_svc_children(s, &c->svc, &kids, &nkids);

	for (size_t i = 0; !ret && i < nkids; i++) {
		if (port < 0 && !i)
			want = kids[0]; /* a backend change: the port it has */
		else if (!port || l4addr_cmp(&kids[i], &want))
			ret = store_svc_del(s, &kids[i]);
		if (!ret)
			ret = touch(touched, &kids[i]);
	}
	if (!ret && (port > 0 || (port < 0 && nkids))) {
		ret = store_load_svc(s, &c->svc, &rec);
		if (!ret) {
			struct svc_opts o = { .affinity = rec.affinity,
					      .flags = NODEPORT_FLAGS,
					      .parent = c->svc };

			ret = store_svc_set(s, &want, &o, rec.be, rec.nbe);
		}
		if (!ret)
			ret = touch(touched, &want);
		svc_rec_free(&rec);
	}
	free(kids);
	if (ret && ret != -ENOMEM)
		p_err("%scannot change the NodePort of %s: %s", c->where, svc, store_errmsg(s));
	return ret;
}

/*
 * Write one change into the open transaction; reports errors. Frontends it
 * changes besides its own (NodePorts) are added to @touched. A NodePort
 * allocated here is left in @c->nodeport.
 */
static int change_write(struct store *s, struct change *c, struct change_list *touched)
{
	char svc[ADDR_STR_LEN], be[ADDR_STR_LEN], parent_name[ADDR_STR_LEN];
	struct l4addr parent;
	bool cli_change = !c->owner[0];
	int ret = 0, missing = 0, port = -1;

	fmt_l4addr(svc, &c->svc, true);
	if (c->nbe)
		fmt_l4addr(be, &c->be[0].addr, false);
	ret = check_owner(s, c, svc);
	if (ret)
		return ret;
	/* A NodePort `svc add --nodeport` made changes only with its service. */
	if (cli_change) {
		ret = store_svc_parent(s, &c->svc, &parent);
		if (ret < 0) {
			p_err("cannot read the store: %s", store_errmsg(s));
			return ret;
		}
		if (ret) {
			p_err("%scannot change %s: it is the NodePort of %s (change that service)",
			      c->where, svc, fmt_l4addr(parent_name, &parent, true));
			return -EPERM;
		}
	}
	switch (c->op) {
	case CHANGE_SVC_SET:
		if (cli_change && c->nodeport >= 0) {
			port = nodeport_pick(s, c, svc);
			if (!port)
				return -EINVAL;
		}
		ret = store_svc_set(s, &c->svc,
				    &(struct svc_opts){ .affinity = c->affinity,
							.flags = c->flags,
							.ranges = c->ranges,
							.nranges = c->nranges },
				    c->be, c->nbe);
		if (!ret)
			ret = store_svc_owner_set(s, &c->svc, c->owner[0] ? c->owner : NULL);
		if (ret == -EINVAL)
			p_err("%scannot add %s: flags 0x%x: unknown bits", c->where, svc, c->flags);
		else if (ret)
			p_err("%scannot add %s: %s", c->where, svc, store_errmsg(s));
		/* Added again: a NodePort moves to the port given, or goes without one. */
		if (!ret && cli_change)
			ret = nodeport_follow(s, c, port < 0 ? 0 : port, touched, svc);
		if (!ret && port > 0)
			c->nodeport = port;
		return ret;
	case CHANGE_SVC_DEL:
		/* Its NodePorts go with it (store_svc_del): the maps must hear of them. */
		if (cli_change) {
			struct l4addr *kids = NULL;
			size_t nkids = 0;

			ret = store_svc_children(s, &c->svc, &kids, &nkids);
			for (size_t i = 0; !ret && i < nkids; i++)
				ret = touch(touched, &kids[i]);
			free(kids);
			if (ret == -EIO)
				p_err("cannot read the store: %s", store_errmsg(s));
			if (ret)
				return ret;
		}
		ret = store_svc_del(s, &c->svc);
		if (ret == -ENOENT)
			p_err("%scannot delete %s: no such service", c->where, svc);
		else if (ret)
			p_err("%scannot delete %s: %s", c->where, svc, store_errmsg(s));
		return ret;
	case CHANGE_BE_ADD:
		ret = store_be_add(s, &c->svc, &c->be[0]);
		if (ret == -ENOENT)
			p_err("%scannot add backend %s: no service %s", c->where, be, svc);
		else if (ret == -EEXIST)
			p_err("%scannot add backend %s: already a backend of %s", c->where, be,
			      svc);
		else if (ret)
			p_err("%scannot add backend %s to %s: %s", c->where, be, svc,
			      store_errmsg(s));
		break;
	case CHANGE_BE_DEL:
		ret = store_be_del(s, &c->svc, &c->be[0].addr, &missing);
		if (ret == -ENOENT)
			p_err(missing ? "%scannot delete backend %s: no service %s" :
					"%scannot delete backend %s: not a backend of %s",
			      c->where, be, svc);
		else if (ret)
			p_err("%scannot delete backend %s of %s: %s", c->where, be, svc,
			      store_errmsg(s));
		break;
	case CHANGE_BE_SET:
		ret = store_be_update(s, &c->svc, &c->be[0].addr, c->weight, c->state, &missing);
		if (ret == -ENOENT)
			p_err(missing ? "%scannot change backend %s: no service %s" :
					"%scannot change backend %s: not a backend of %s",
			      c->where, be, svc);
		else if (ret)
			p_err("%scannot change backend %s of %s: %s", c->where, be, svc,
			      store_errmsg(s));
		break;
	}
	/* A backend change: its NodePort takes the same backend set, in this transaction. */
	if (!ret && cli_change)
		ret = nodeport_follow(s, c, -1, touched, svc);
	return ret;
}

static int cmp_change_svc(const void *a, const void *b)
{
	const struct l4addr *x = &((const struct change *)a)->svc;
	const struct l4addr *y = &((const struct change *)b)->svc;

	return l4addr_cmp(x, y);
}

/* Bring the maps of @svc in line with the committed store. */
static int reconcile_one(struct store *s, const struct dp_maps *m, const struct l4addr *svc)
{
	struct svc_rec rec;
	char err[ERR_LEN];
	int ret = store_load_svc(s, svc, &rec);

	if (ret == -ENOENT) {
		ret = dp_remove_service(m, svc);
		if (ret)
			p_err("store updated, maps not (run 'svcbpf sync'): %s", strerror(-ret));
		return ret;
	}
	if (ret) {
		p_err("cannot read the store: %s", store_errmsg(s));
		return ret;
	}
	ret = dp_sync_service(m, &rec, err);
	if (ret)
		p_err("store updated, maps not (run 'svcbpf sync'): %s", err);
	svc_rec_free(&rec);
	return ret;
}

static int cmp_rec_addr(const void *key, const void *rec)
{
	const struct l4addr *x = key, *y = &((const struct svc_rec *)rec)->addr;

	return l4addr_cmp(x, y);
}

/*
 * Reconcile the services of @c[0..n) (sorted by service) from one read of the
 * whole store, programming the new ones with batched map writes.
 */
static int reconcile_many(struct store *s, const struct dp_maps *m, const struct change *c,
			  size_t n)
{
	const struct svc_rec **recs = calloc(n, sizeof(*recs));
	struct model md;
	char err[ERR_LEN];
	size_t k = 0;
	int ret;

	if (!recs)
		return -ENOMEM;
	ret = store_load(s, &md);
	if (ret) {
		p_err("cannot read the store: %s", store_errmsg(s));
		free(recs);
		return ret;
	}
	/* Removals here, additions after (dp_sync_services): they free room first. */
	for (size_t i = 0; i < n; i++) {
		const struct svc_rec *r;
		int r2;

		if (i && !cmp_change_svc(&c[i - 1], &c[i]))
			continue;
		r = bsearch(&c[i].svc, md.svc, md.n, sizeof(*md.svc), cmp_rec_addr);
		if (r) {
			recs[k++] = r;
		} else if ((r2 = dp_remove_service(m, &c[i].svc))) {
			p_err("store updated, maps not (run 'svcbpf sync'): %s", strerror(-r2));
			ret = ret ? ret : r2;
		}
	}
	int r3 = dp_sync_services(m, recs, k, err);

	if (r3) {
		p_err("store updated, maps not (run 'svcbpf sync'): %s", err);
		ret = ret ? ret : r3;
	}
	model_free(&md);
	free(recs);
	return ret;
}

static int collect(struct change *c, size_t n)
{
	struct change_list *l = collecting;

	if (l->n + n > l->cap) {
		size_t cap = (l->n + n) * 2;
		struct change *nc = realloc(l->c, cap * sizeof(*nc));

		if (!nc) {
			p_err("out of memory");
			return EXIT_FAIL;
		}
		l->c = nc;
		l->cap = cap;
	}
	/* The list takes the backend and range arrays over. */
	memcpy(&l->c[l->n], c, n * sizeof(*c));
	l->n += n;
	for (size_t i = 0; i < n; i++) {
		c[i].be = NULL;
		c[i].ranges = NULL;
	}
	return EXIT_OK;
}

int change_list_add(struct change_list *l, const struct change *c)
{
	struct change copy = *c;

	copy.be = NULL;
	copy.ranges = NULL;
	if (c->nbe) {
		copy.be = malloc(c->nbe * sizeof(*copy.be));
		if (!copy.be)
			return -ENOMEM;
		memcpy(copy.be, c->be, c->nbe * sizeof(*copy.be));
	}
	if (c->nranges) {
		copy.ranges = malloc(c->nranges * sizeof(*copy.ranges));
		if (!copy.ranges) {
			free(copy.be);
			return -ENOMEM;
		}
		memcpy(copy.ranges, c->ranges, c->nranges * sizeof(*copy.ranges));
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 16;
		struct change *nc = realloc(l->c, cap * sizeof(*nc));

		if (!nc) {
			free(copy.be);
			free(copy.ranges);
			return -ENOMEM;
		}
		l->c = nc;
		l->cap = cap;
	}
	l->c[l->n++] = copy;
	return 0;
}

/*
 * NodePorts allocated by the committed change (@alloc[i]: @c[i] asked for
 * one): "10.96.0.50:80/tcp nodePort 31234", a line each; in JSON the
 * service and port, or in a batch a "nodeports" array of them.
 */
static void report_allocated(const struct change *c, size_t n, const bool *alloc)
{
	char buf[ADDR_STR_LEN];
	bool batch = false;

	for (size_t i = 0; i < n; i++)
		batch |= alloc[i] && c[i].where[0];
	if (batch)
		out_open_array("nodeports");
	for (size_t i = 0; i < n; i++) {
		if (!alloc[i] || c[i].nodeport <= 0)
			continue;
		if (batch)
			out_open_object(NULL);
		out_string(PRINT_ANY, "service", "%s", fmt_l4addr(buf, &c[i].svc, true));
		out_uint(PRINT_ANY, "nodeport", " nodePort %lu\n", (uint64_t)c[i].nodeport);
		if (batch)
			out_close_object();
	}
	if (batch)
		out_close_array();
}

int cli_apply(struct change *c, size_t n, const char *what)
{
	return cli_apply_with(c, n, what, NULL, NULL);
}

int cli_apply_with(struct change *c, size_t n, const char *what, change_pre_fn pre, void *ctx)
{
	struct change_list more = { 0 }, touched = { 0 };
	struct change *all = NULL;
	bool *alloc = NULL;
	struct dp_maps m = DP_MAPS_CLOSED;
	struct store *s = NULL;
	uint32_t *gone = NULL;
	char err[ERR_LEN];
	uint64_t t0, t1;
	bool behind = false;
	size_t ngone;
	int lock, ret;

	if (collecting)
		return collect(c, n);
	if (!require_privileges())
		return EXIT_FAIL;
	/* The lock first: `load`, `sync` and `unload` change the maps under it too. */
	lock = cli_lock();
	if (lock < 0)
		return EXIT_FAIL;
	ret = cli_open_maps(&m);
	if (ret && ret != -ENOENT) {
		close(lock);
		return EXIT_FAIL;
	}
	ret = cli_open_store(&s);
	if (ret)
		goto out;
	/* An earlier change committed without finishing its map writes. */
	behind = m.svc >= 0 && maps_behind();
	t0 = now_us();
	if (store_begin(s)) {
		p_err("cannot write the store: %s", store_errmsg(s));
		ret = -EIO;
		goto out;
	}
	/* The controller's changes join the caller's: one transaction, one reconcile. */
	if (pre) {
		ret = pre(s, ctx, &more);
		for (size_t i = 0; i < n && !ret; i++)
			ret = change_list_add(&more, &c[i]);
		c = more.c;
		n = more.n;
	}
	alloc = calloc(n + 1, sizeof(*alloc));
	if (!alloc) {
		p_err("out of memory");
		ret = -ENOMEM;
	}
	for (size_t i = 0; i < n && !ret; i++) {
		alloc[i] = c[i].op == CHANGE_SVC_SET && !c[i].owner[0] && c[i].nodeport == 0;
		ret = change_write(s, &c[i], &touched);
	}
	/* The NodePorts the changes moved along are reconciled (and counted) with them. */
	if (!ret && touched.n) {
		all = malloc((n + touched.n) * sizeof(*all));
		if (!all) {
			p_err("out of memory");
			ret = -ENOMEM;
		} else {
			memcpy(all, c, n * sizeof(*c));
			memcpy(all + n, touched.c, touched.n * sizeof(*c));
		}
	}
	if (!ret)
		ret = check_capacity(s, &m, all ? all : c, all ? n + touched.n : n, what);
	if (!ret && m.svc >= 0 && !behind)
		ret = maps_behind_set();
	if (ret) {
		store_rollback(s);
		/*
		 * This change is refused, but the debt of the earlier one is
		 * still paid: the maps come back in line with the store, which
		 * this change left as it was. (Quietly: the refusal is the
		 * error this command reports; the marker stays if it fails.)
		 */
		if (behind && !resync_all(s, &m, err))
			maps_behind_clear();
		goto out;
	}
	if (store_commit(s)) {
		p_err("cannot commit the store: %s", store_errmsg(s));
		store_rollback(s);
		if (m.svc >= 0 && !behind)
			maps_behind_clear(); /* nothing committed: the maps did not fall behind */
		ret = -EIO;
		goto out;
	}
	t1 = now_us();
	apply_stats.store_us = t1 - t0;
	report_allocated(c, n, alloc);
	if (all) {
		c = all;
		n += touched.n;
	}
	if (m.svc < 0)
		goto out; /* not loaded: programmed at the next `svcbpf load` */

	/*
	 * Each service once, whatever number of lines touched it; removals
	 * before additions (they free room), and every service is tried even
	 * when one fails.
	 */
	qsort(c, n, sizeof(*c), cmp_change_svc);
	if (behind) {
		/* The whole store, this change included; unused backends go by difference. */
		ret = resync_all(s, &m, err);
		if (ret)
			p_err("store updated, maps not (run 'svcbpf sync'): %s", err);
	} else if (n > RECONCILE_BULK) {
		ret = reconcile_many(s, &m, c, n);
	} else {
		for (int pass = 0; pass < 2; pass++) {
			for (size_t i = 0; i < n; i++) {
				size_t nbe;
				int r;

				if (i && !cmp_change_svc(&c[i - 1], &c[i]))
					continue;
				/* Pass 0: services the store no longer has; pass 1: the rest. */
				if ((store_svc_exists(s, &c[i].svc, &nbe) == 0) != (pass == 0))
					continue;
				r = reconcile_one(s, &m, &c[i].svc);
				ret = ret ? ret : r;
			}
		}
	}
	/*
	 * Backends the change dropped: freed now that no table names them. Not
	 * after a failed switch, whose old table may still name them: the
	 * 'svcbpf sync' the error asks for frees them by difference.
	 */
	if (!ret && !behind) {
		ret = store_take_gone(s, &gone, &ngone);
		if (!ret)
			ret = dp_remove_backends(&m, gone, ngone);
		if (ret)
			p_err("store updated, maps not (run 'svcbpf sync'): cannot free "
			      "backends: %s",
			      strerror(-ret));
		free(gone);
	}
	/* The maps agree with the store again (and did not before, or this made the marker). */
	if (!ret)
		maps_behind_clear();
	apply_stats.maps_us = now_us() - t1;
	/* What kube-proxy's sync_proxy_rules_duration_seconds measures: programming the dataplane. */
	dp_sync_observe(&m, apply_stats.maps_us * 1000);
out:
	store_close(s);
	close(lock);
	maps_close(&m);
	change_list_free(&more);
	change_list_free(&touched);
	free(all); /* a shallow copy: the arrays it names belong to @c and @touched */
	free(alloc);
	return ret ? EXIT_FAIL : EXIT_OK;
}
