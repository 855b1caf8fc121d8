// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* loader.c - bpffs, the embedded object, tcx and XDP links (see loader.h). */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/if_link.h>
#include <linux/magic.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <net/if_arp.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "loader.h"
#include "maps.h"
#include "svcbpf.bpf.skel.h"
#include "svcbpf.h"

/* linux-libc-dev 6.1 predates tcx (6.6); the running kernel has it. */
#ifndef BPF_TCX_INGRESS
#define BPF_TCX_INGRESS 46
#define BPF_TCX_EGRESS 47
#endif
#define LINK_TYPE_XDP 6
#define LINK_TYPE_TCX 11

#define BPFFS_DEFAULT "/sys/fs/bpf"
#define LINKS_DIR "links"

enum hook_id { HOOK_TC_INGRESS, HOOK_TC_EGRESS, HOOK_XDP, HOOK_MAX };

static const char *const hook_names[HOOK_MAX] = { "tc_ingress", "tc_egress", "xdp" };
static const int hook_attach_type[HOOK_MAX] = { BPF_TCX_INGRESS, BPF_TCX_EGRESS, BPF_XDP };

static int fail(char err[ERR_LEN], int e, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, ERR_LEN, fmt, ap);
	va_end(ap);
	return e > 0 ? -e : e;
}

bool have_privileges(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3 };
	struct __user_cap_data_struct data[2] = {};
	__u64 eff;

	if (geteuid() == 0)
		return true;
	if (syscall(SYS_capget, &hdr, data))
		return false;
	eff = ((__u64)data[1].effective << 32) | data[0].effective;
#define HAS(c) (eff & (1ULL << (c)))
	return HAS(CAP_SYS_ADMIN) || (HAS(39 /* CAP_BPF */) && HAS(CAP_NET_ADMIN));
#undef HAS
}

static bool is_bpffs(const char *path)
{
	struct statfs st;

	return !statfs(path, &st) && st.f_type == BPF_FS_MAGIC;
}

/* The directory holding @pin_dir (its bpffs mount point candidate). */
static void parent_of(const char *path, char out[PATH_MAX])
{
	char *slash;

	snprintf(out, PATH_MAX, "%s", path);
	while ((slash = strrchr(out, '/')) && slash[1] == '\0' && slash != out)
		*slash = '\0';
	slash = strrchr(out, '/');
	if (!slash)
		snprintf(out, PATH_MAX, ".");
	else if (slash == out)
		out[1] = '\0';
	else
		*slash = '\0';
}

/* The parent of @pid, or 0. */
static pid_t parent_pid(pid_t pid)
{
	char path[64], buf[512], *p;
	int ppid = 0;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	/* "pid (comm) state ppid ...": comm may hold spaces and parentheses. */
	if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
		sscanf(p + 1, " %*c %d", &ppid);
	fclose(f);
	return ppid;
}

/*
 * `ip netns exec` runs us in a private mount namespace with a fresh /sys,
 * where a bpffs we mounted would vanish with the command. Join the mount
 * namespace the user typed the command in: that of the nearest ancestor in
 * another mount namespace (the network namespace is separate and stays).
 * Returns 0 when there is none or it was joined, -errno when joining failed.
 */
static int join_outer_mntns(char err[ERR_LEN])
{
	struct stat self, other;
	char cwd[PATH_MAX], path[64];
	pid_t pid = getpid();
	int fd = -1;

	if (stat("/proc/self/ns/mnt", &self))
		return 0;
	for (int depth = 0; depth < 64 && (pid = parent_pid(pid)) > 0; depth++) {
		snprintf(path, sizeof(path), "/proc/%d/ns/mnt", pid);
		if (stat(path, &other))
			return 0;
		if (other.st_ino != self.st_ino || other.st_dev != self.st_dev) {
			fd = open(path, O_RDONLY | O_CLOEXEC);
			break;
		}
	}
	if (fd < 0)
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		cwd[0] = '\0';
	if (setns(fd, CLONE_NEWNS)) {
		int e = errno;

		close(fd);
		return fail(err, e,
			    "bpffs is not mounted in this mount namespace (ip netns exec?) "
			    "and joining the outer one failed: %s; run svcbpf under "
			    "'nsenter --net=/run/netns/NAME' instead",
			    strerror(e));
	}
	close(fd);
	if (cwd[0] && chdir(cwd))
		(void)!chdir("/");
	return 0;
}

int bpffs_prepare(const char *pin_dir, bool create, char err[ERR_LEN])
{
	char parent[PATH_MAX];
	int ret;

	parent_of(pin_dir, parent);
	if (!is_bpffs(parent) && !is_bpffs(pin_dir)) {
		ret = join_outer_mntns(err);
		if (ret)
			return ret;
	}
	if (!is_bpffs(parent) && !is_bpffs(pin_dir)) {
		struct stat st;

		/*
		 * No pin dir: nothing loaded. One that exists elsewhere is a
		 * mistake (--pin-dir /tmp/x) that must not pass for "not loaded".
		 */
		if (!create && stat(pin_dir, &st))
			return -ENOENT;
		if (!create)
			return fail(err, ENOTDIR, "pin dir %s is not on a bpf filesystem", pin_dir);
		if (stat(parent, &st))
			return fail(err, errno, "cannot create pin dir %s: %s: %s", pin_dir, parent,
				    strerror(errno));
		if (!S_ISDIR(st.st_mode))
			return fail(err, ENOTDIR, "cannot create pin dir %s: %s is not a directory",
				    pin_dir, parent);
		/* Mount bpffs only where it belongs, never over an arbitrary directory. */
		if (strcmp(parent, BPFFS_DEFAULT))
			return fail(err, ENOTDIR,
				    "pin dir %s is not on a bpf filesystem (mount -t bpf bpf %s)",
				    pin_dir, parent);
		if (mount("bpf", BPFFS_DEFAULT, "bpf", 0, "mode=0700"))
			return fail(err, errno, "cannot mount bpffs at %s: %s", BPFFS_DEFAULT,
				    strerror(errno));
	}
	if (!create) {
		struct stat st;

		return stat(pin_dir, &st) ? -ENOENT : 0;
	}
	if (mkdir(pin_dir, 0700) && errno != EEXIST)
		return fail(err, errno, "cannot create pin dir %s: %s", pin_dir, strerror(errno));
	return 0;
}

static int pin_path(char out[PATH_MAX], const char *pin_dir, const char *ifname, const char *hook)
{
	int n;

	if (hook)
		n = snprintf(out, PATH_MAX, "%s/" LINKS_DIR "/%s/%s", pin_dir, ifname, hook);
	else if (ifname)
		n = snprintf(out, PATH_MAX, "%s/" LINKS_DIR "/%s", pin_dir, ifname);
	else
		n = snprintf(out, PATH_MAX, "%s/" LINKS_DIR, pin_dir);
	return n >= PATH_MAX ? -ENAMETOOLONG : 0;
}

/* Is @fd a BPF link (not a program)? The kernel says so in fdinfo. */
static bool is_link(int fd)
{
	char path[64], line[128];
	bool link = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return true;
	while (!link && fgets(line, sizeof(line), f))
		link = !strncmp(line, "link_type:", 10);
	fclose(f);
	return link;
}

static int link_info(int fd, struct bpf_link_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	return bpf_obj_get_info_by_fd(fd, info, &len) ? -errno : 0;
}

/* The map's current max_entries when it is pinned, else 0. */
static uint32_t pinned_max_entries(const char *pin_dir, const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.max_entries = 0;
	close(fd);
	return info.max_entries;
}

/*
 * Size @map: what is pinned wins (maps are reused, with their entries);
 * asking for another size while pinned is refused rather than ignored.
 */
static int size_map(struct bpf_map *map, const char *pin_dir, uint32_t want, uint32_t dflt,
		    uint32_t extra, const char *opt, char err[ERR_LEN])
{
	uint32_t pinned = pinned_max_entries(pin_dir, bpf_map__name(map));

	if (pinned && want && want + extra != pinned)
		return fail(err, EEXIST,
			    "cannot resize %s to %u: pinned with %u entries (unload to resize)",
			    opt, want, pinned - extra);
	return bpf_map__set_max_entries(map, pinned ? pinned : (want ? want : dflt) + extra);
}

/*
 * The settings this load writes: what is pinned (@old, zero when nothing
 * is), with the options given on top. The Maglev size is fixed while loaded.
 */
static int settings(const char *pin_dir, const struct load_opts *o, struct svcbpf_cfg *cfg,
		    struct svcbpf_cfg *old, char err[ERR_LEN])
{
	char path[PATH_MAX];
	__u32 zero = 0;
	int fd;

	memset(old, 0, sizeof(*old));
	snprintf(path, sizeof(path), "%s/%s", pin_dir, SVCBPF_MAP_CFG);
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		if (bpf_map_lookup_elem(fd, &zero, old))
			memset(old, 0, sizeof(*old));
		close(fd);
	}
	if (old->maglev_m && o->maglev_m && o->maglev_m != old->maglev_m)
		return fail(err, EEXIST,
			    "cannot resize --maglev-size to %u: pinned with %u (unload to resize)",
			    o->maglev_m, old->maglev_m);
	*cfg = (struct svcbpf_cfg){
		.maglev_m = old->maglev_m ? old->maglev_m : SVCBPF_MAGLEV_M,
		.ct_timeout_syn = old->ct_timeout_syn ? old->ct_timeout_syn : SVCBPF_CT_TIMEOUT_SYN,
		.ct_timeout_tcp = old->ct_timeout_tcp ? old->ct_timeout_tcp : SVCBPF_CT_TIMEOUT_TCP,
		.ct_timeout_fin = old->ct_timeout_fin ? old->ct_timeout_fin : SVCBPF_CT_TIMEOUT_FIN,
		.ct_timeout_udp = old->ct_timeout_udp ? old->ct_timeout_udp : SVCBPF_CT_TIMEOUT_UDP,
	};
	if (o->maglev_m)
		cfg->maglev_m = o->maglev_m;
	if (o->ct_timeout_syn)
		cfg->ct_timeout_syn = o->ct_timeout_syn;
	if (o->ct_timeout_tcp)
		cfg->ct_timeout_tcp = o->ct_timeout_tcp;
	if (o->ct_timeout_fin)
		cfg->ct_timeout_fin = o->ct_timeout_fin;
	if (o->ct_timeout_udp)
		cfg->ct_timeout_udp = o->ct_timeout_udp;
	return 0;
}

static int silent_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	(void)fmt;
	(void)ap;
	return 0;
}

static int debug_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	(void)level;
	return vfprintf(stderr, fmt, ap);
}

/* Attach @prog_fd at @hook of @ifindex, or swap it into the pinned link. */
/*
 * Kernels before 6.6 have no tcx links: there the tc programs go into a
 * clsact qdisc as filters (handle and priority fixed, so an upgrade is an
 * atomic BPF_TC_F_REPLACE), and the pin holds the program instead of a
 * link. SVCBPF_TC_ATTACH=clsact forces this path (to test it, or to sit
 * beside tools that only list tc filters).
 */
#define CLSACT_HANDLE 1
#define CLSACT_PRIO 0x5bf

static bool clsact_forced(void)
{
	const char *v = getenv("SVCBPF_TC_ATTACH");

	return v && !strcmp(v, "clsact");
}

/* libbpf rejects options whose padding is not zero: build them in place, memset first. */
static void clsact_hook(struct bpf_tc_hook *h, unsigned int ifindex, enum hook_id hook)
{
	memset(h, 0, sizeof(*h));
	h->sz = sizeof(*h);
	h->ifindex = (int)ifindex;
	h->attach_point = hook == HOOK_TC_EGRESS ? BPF_TC_EGRESS : BPF_TC_INGRESS;
}

/* Put @prog_fd at @hook of @ifindex as a clsact filter (replacing ours) and pin it. */
static int clsact_attach(const char *path, const char *ifname, unsigned int ifindex,
			 enum hook_id hook, int prog_fd, char err[ERR_LEN])
{
	struct bpf_tc_hook h, q;
	LIBBPF_OPTS(bpf_tc_opts, o, .prog_fd = prog_fd, .handle = CLSACT_HANDLE,
		    .priority = CLSACT_PRIO, .flags = BPF_TC_F_REPLACE);
	int created, ret;

	/*
	 * libbpf makes the clsact qdisc only when asked for both directions. One
	 * that exists already answers EEXIST or (some kernels) EINVAL: either
	 * way the attach below says whether there is a usable one.
	 */
	clsact_hook(&h, ifindex, hook);
	clsact_hook(&q, ifindex, hook);
	q.attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS;
	created = bpf_tc_hook_create(&q);
	ret = bpf_tc_attach(&h, &o);
	if (ret)
		return fail(err, ret, "cannot attach %s to %s (clsact%s): %s", hook_names[hook],
			    ifname, created && created != -EEXIST ? ", no qdisc" : "",
			    strerror(-ret));
	unlink(path);
	if (bpf_obj_pin(prog_fd, path)) {
		ret = -errno;
		o.prog_fd = 0;
		o.prog_id = 0;
		o.flags = 0;
		bpf_tc_detach(&h, &o);
		return fail(err, ret, "cannot pin %s: %s", path, strerror(-ret));
	}
	return 0;
}

/* The id of the program in our clsact filter at @hook of @ifindex, or 0. */
static uint32_t clsact_prog_id(unsigned int ifindex, enum hook_id hook)
{
	struct bpf_tc_hook h;
	LIBBPF_OPTS(bpf_tc_opts, o, .handle = CLSACT_HANDLE, .priority = CLSACT_PRIO);

	clsact_hook(&h, ifindex, hook);
	return ifindex && !bpf_tc_query(&h, &o) ? o.prog_id : 0;
}

static int attach_hook(const char *pin_dir, const char *ifname, unsigned int ifindex,
		       enum hook_id hook, int prog_fd, char err[ERR_LEN])
{
	struct bpf_link_info info;
	char path[PATH_MAX];
	int fd, ret;

	pin_path(path, pin_dir, ifname, hook_names[hook]);
	fd = bpf_obj_get(path);
	if (fd >= 0 && hook != HOOK_XDP && !is_link(fd)) {
		/* A pinned program, not a link: attached through clsact. */
		close(fd);
		return clsact_attach(path, ifname, ifindex, hook, prog_fd, err);
	}
	if (fd >= 0) {
		/* An upgrade: swap the program in the live link, atomically. */
		if (!link_info(fd, &info) && info.xdp.ifindex == ifindex) {
			ret = bpf_link_update(fd, prog_fd, NULL) ? -errno : 0;
			close(fd);
			if (ret)
				return fail(err, ret, "cannot replace the %s program on %s: %s",
					    hook_names[hook], ifname, strerror(-ret));
			return 0;
		}
		/* The device went away (or is another one now): start afresh. */
		close(fd);
		unlink(path);
	}

	if (hook != HOOK_XDP && clsact_forced())
		return clsact_attach(path, ifname, ifindex, hook, prog_fd, err);
	fd = bpf_link_create(prog_fd, (int)ifindex, hook_attach_type[hook], NULL);
	if (fd < 0 && hook != HOOK_XDP && errno == EINVAL)
		return clsact_attach(path, ifname, ifindex, hook, prog_fd, err); /* no tcx */
	if (fd < 0) {
		ret = -errno;
		if (hook == HOOK_XDP && ret == -EBUSY)
			return fail(err, ret,
				    "cannot attach XDP to %s: another XDP program is "
				    "attached",
				    ifname);
		return fail(err, ret, "cannot attach %s to %s: %s", hook_names[hook], ifname,
			    strerror(-ret));
	}
	ret = bpf_obj_pin(fd, path) ? -errno : 0;
	close(fd); /* on failure this detaches it again */
	if (ret)
		return fail(err, ret, "cannot pin %s: %s", path, strerror(-ret));
	return 0;
}

static void detach_hook(const char *pin_dir, const char *ifname, enum hook_id hook)
{
	char path[PATH_MAX];
	int fd;

	pin_path(path, pin_dir, ifname, hook_names[hook]);
	fd = bpf_obj_get(path);
	if (fd >= 0 && hook != HOOK_XDP && !is_link(fd)) {
		/* clsact: the filter holds the program, the pin only names it. */
		unsigned int ifindex = if_nametoindex(ifname);
		struct bpf_prog_info pinfo = {};
		__u32 len = sizeof(pinfo);

		if (!bpf_obj_get_info_by_fd(fd, &pinfo, &len) &&
		    clsact_prog_id(ifindex, hook) == pinfo.id) {
			struct bpf_tc_hook h;
			LIBBPF_OPTS(bpf_tc_opts, o, .handle = CLSACT_HANDLE,
				    .priority = CLSACT_PRIO);

			clsact_hook(&h, ifindex, hook);
			bpf_tc_detach(&h, &o);
		}
	}
	if (fd >= 0)
		close(fd);
	unlink(path);
}

/*
 * Pins of earlier map layouts (version 0.1: per-table slot map, conntrack
 * without TCP state; counters before reject_no_backend). A load replaces
 * them; their names never come back.
 */
static const char *const legacy_pins[] = { "svcbpf_svc_v1", "svcbpf_slot_v1", "svcbpf_ct_v1",
					   "svcbpf_cnt_v1", "svcbpf_cnt_v2",  "svcbpf_cnt_v3",
					   "svcbpf_ct_v2" };

/*
 * Carry the tracked flows of an earlier conntrack map over to the new one,
 * so an upgrade keeps every connection on its backend: same key, and the
 * value's first 24 bytes as they were (v2: all of it; the masquerade
 * fields came after), but for 0.1's, which kept no TCP state (taken as
 * established).
 */
static void migrate_legacy_ct(const char *pin_dir, const struct dp_maps *m)
{
	static const char *const old[] = { "svcbpf_ct_v1", "svcbpf_ct_v2" };

	for (size_t i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
		struct ct_key key, next;
		char path[PATH_MAX];
		bool first = true;
		size_t n = 0;
		int fd;

		snprintf(path, sizeof(path), "%s/%s", pin_dir, old[i]);
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		while (n++ < SVCBPF_CT_SIZE * 64ULL &&
		       !bpf_map_get_next_key(fd, first ? NULL : &key, &next)) {
			struct ct_value v = { 0 };

			first = false;
			key = next;
			if (bpf_map_lookup_elem(fd, &key, &v))
				continue;
			v.nat_addr = 0;
			v.nat_port = 0;
			v.pad = 0;
			if (i == 0) {
				v.state = SVCBPF_CT_ESTABLISHED;
				v.flags = 0;
			}
			bpf_map_update_elem(m->ct, &key, &v, BPF_NOEXIST);
		}
		close(fd);
	}
}

static void unlink_legacy(const char *pin_dir)
{
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(legacy_pins) / sizeof(legacy_pins[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, legacy_pins[i]);
		unlink(path);
	}
}

static int list_ifaces(const char *pin_dir, char (**out)[IF_NAMESIZE], int *n);

/*
 * Over an earlier layout, every interface it is attached to moves to the
 * new programs in this one load: one left behind would keep reading maps
 * nothing updates any more.
 */
static int check_legacy(const char *pin_dir, char *const *ifnames, int n, char err[ERR_LEN])
{
	char(*loaded)[IF_NAMESIZE] = NULL;
	int nloaded, ret;

	if (!pinned_max_entries(pin_dir, legacy_pins[0]) &&
	    !pinned_max_entries(pin_dir, "svcbpf_ct_v2"))
		return 0;
	ret = list_ifaces(pin_dir, &loaded, &nloaded);
	for (int i = 0; !ret && i < nloaded; i++) {
		bool named = false;

		for (int j = 0; j < n && !named; j++)
			named = !strcmp(loaded[i], ifnames[j]);
		if (!named)
			ret = fail(
				err, EINVAL,
				"cannot upgrade: an earlier svcbpf is attached to %s too; load all "
				"its interfaces at once",
				loaded[i]);
	}
	free(loaded);
	return ret;
}

/* The maps of a loaded @skel, as the reconciler takes them. */
static struct dp_maps maps_of(const struct svcbpf_bpf *skel, uint32_t maglev_m)
{
	return (struct dp_maps){
		.svc = bpf_map__fd(skel->maps.svcbpf_svc_v2),
		.be = bpf_map__fd(skel->maps.svcbpf_be_v1),
		.mag = bpf_map__fd(skel->maps.svcbpf_mag_v1),
		.ct = bpf_map__fd(skel->maps.svcbpf_ct_v3),
		.cnt = bpf_map__fd(skel->maps.svcbpf_cnt_v4),
		.sst = bpf_map__fd(skel->maps.svcbpf_sst_v1),
		.bst = bpf_map__fd(skel->maps.svcbpf_bst_v1),
		.evt = bpf_map__fd(skel->maps.svcbpf_evt_v1),
		.mon = bpf_map__fd(skel->maps.svcbpf_mon_v1),
		.sync = bpf_map__fd(skel->maps.svcbpf_sync_v1),
		.aff = bpf_map__fd(skel->maps.svcbpf_aff_v1),
		.cfg = bpf_map__fd(skel->maps.svcbpf_cfg_v1),
		.src = bpf_map__fd(skel->maps.svcbpf_src_v1),
		.nip = bpf_map__fd(skel->maps.svcbpf_nip_v1),
		.ifa = bpf_map__fd(skel->maps.svcbpf_ifa_v1),
		.maglev_m = maglev_m,
	};
}

int dp_load_unpinned(struct svcbpf_bpf *skel, struct dp_maps *m)
{
	struct svcbpf_cfg cfg = { .maglev_m = SVCBPF_MAGLEV_M,
				  .ct_timeout_syn = SVCBPF_CT_TIMEOUT_SYN,
				  .ct_timeout_tcp = SVCBPF_CT_TIMEOUT_TCP,
				  .ct_timeout_fin = SVCBPF_CT_TIMEOUT_FIN,
				  .ct_timeout_udp = SVCBPF_CT_TIMEOUT_UDP };
	struct bpf_map *map;
	int tmpl, ret;

	bpf_object__for_each_map(map, skel->obj)
		bpf_map__set_pin_path(map, NULL);
	tmpl = dp_table_create(cfg.maglev_m);
	if (tmpl < 0)
		return -errno;
	ret = bpf_map__set_inner_map_fd(skel->maps.svcbpf_mag_v1, tmpl);
	skel->rodata->maglev_m = cfg.maglev_m;
	if (!ret)
		ret = svcbpf_bpf__load(skel);
	close(tmpl);
	if (ret)
		return ret;
	*m = maps_of(skel, cfg.maglev_m);
	return dp_cfg_write(m, &cfg);
}

/* Is @ifindex an Ethernet device? The programs parse Ethernet frames. */
static bool is_ethernet(const char *ifname)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool ok;

	if (fd < 0)
		return true; /* cannot tell: let the attach decide */
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ok = ioctl(fd, SIOCGIFHWADDR, &ifr) || ifr.ifr_hwaddr.sa_family == ARPHRD_ETHER;
	close(fd);
	return ok;
}

/* Does the store fit the maps as sized? */
static int check_fits(const struct svcbpf_bpf *skel, const struct model *md, uint32_t maglev_m,
		      char err[ERR_LEN])
{
	uint32_t max_svc = bpf_map__max_entries(skel->maps.svcbpf_svc_v2);
	uint32_t max_be = bpf_map__max_entries(skel->maps.svcbpf_be_v1) - SVCBPF_BE_HEADROOM;
	size_t nbe = 0;

	for (size_t i = 0; i < md->n; i++) {
		char buf[ADDR_STR_LEN];

		nbe += md->svc[i].nbe;
		if (md->svc[i].nbe > maglev_m)
			return fail(err, E2BIG,
				    "cannot load: %s has %zu backends, more than --maglev-size %u",
				    fmt_l4addr(buf, &md->svc[i].addr, true), md->svc[i].nbe,
				    maglev_m);
	}
	if (md->n > max_svc)
		return fail(err, E2BIG,
			    "cannot load: the store holds %zu services (--max-services %u)", md->n,
			    max_svc);
	if (nbe > max_be)
		return fail(err, E2BIG,
			    "cannot load: the store holds %zu backends (--max-backends %u)", nbe,
			    max_be);
	return 0;
}

int dp_load(const char *pin_dir, char *const *ifnames, int n, const struct load_opts *o,
	    const struct model *md, bool debug, char err[ERR_LEN])
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir);
	unsigned int ifindex[n > 0 ? n : 1];
	/* What this call attached anew, to take back if a later step fails. */
	bool created[n > 0 ? n : 1][HOOK_MAX];
	struct dp_maps maps = DP_MAPS_CLOSED;
	struct svcbpf_cfg cfg = { 0 }, old_cfg = { 0 };
	struct svcbpf_bpf *skel;
	char path[PATH_MAX];
	int ret, tmpl = -1;
	uint64_t sync_t0;
	bool fresh;

	/* Validate everything before anything is created or attached. */
	for (int i = 0; i < n; i++) {
		if (strlen(ifnames[i]) >= IF_NAMESIZE || strchr(ifnames[i], '/'))
			return fail(err, EINVAL, "invalid interface name '%s'", ifnames[i]);
		ifindex[i] = if_nametoindex(ifnames[i]);
		if (!ifindex[i])
			return fail(err, ENODEV, "cannot load on %s: no such interface",
				    ifnames[i]);
		if (!is_ethernet(ifnames[i]))
			return fail(err, EINVAL, "cannot load on %s: not an Ethernet device",
				    ifnames[i]);
	}
	memset(created, 0, sizeof(created));

	ret = bpffs_prepare(pin_dir, true, err);
	if (ret)
		return ret;
	libbpf_set_print(debug ? debug_print : silent_print);
	/* Nothing of ours pinned, in this layout or an earlier one: a failure undoes it all. */
	fresh = !pinned_max_entries(pin_dir, SVCBPF_MAP_SVC) &&
		!pinned_max_entries(pin_dir, legacy_pins[0]);

	ret = check_legacy(pin_dir, ifnames, n, err);
	if (ret)
		return ret;
	skel = svcbpf_bpf__open_opts(&oo);
	if (!skel)
		return fail(err, errno, "cannot open the BPF object: %s", strerror(errno));
	ret = size_map(skel->maps.svcbpf_svc_v2, pin_dir, o->max_services, SVCBPF_MAX_SERVICES, 0,
		       "--max-services", err);
	if (!ret)
		ret = size_map(skel->maps.svcbpf_be_v1, pin_dir, o->max_backends,
			       SVCBPF_MAX_BACKENDS, SVCBPF_BE_HEADROOM, "--max-backends", err);
	if (!ret)
		ret = size_map(skel->maps.svcbpf_mag_v1, pin_dir, o->max_services,
			       SVCBPF_MAX_SERVICES, 0, "--max-services", err);
	if (!ret)
		ret = size_map(skel->maps.svcbpf_sst_v1, pin_dir, o->max_services,
			       SVCBPF_MAX_SERVICES, 0, "--max-services", err);
	if (!ret)
		ret = size_map(skel->maps.svcbpf_bst_v1, pin_dir, o->max_backends,
			       SVCBPF_MAX_BACKENDS, SVCBPF_BE_HEADROOM, "--max-backends", err);
	if (!ret)
		ret = size_map(skel->maps.svcbpf_ct_v3, pin_dir, o->ct_size, SVCBPF_CT_SIZE, 0,
			       "--ct-size", err);
	if (!ret)
		ret = settings(pin_dir, o, &cfg, &old_cfg, err);
	/*
	 * Tables put in the Maglev map must match its template: M slots. The
	 * template is a map of that size (libbpf 1.1 cannot resize its own),
	 * and the programs know M as a constant.
	 */
	if (!ret) {
		tmpl = dp_table_create(cfg.maglev_m);
		ret = tmpl < 0 ? fail(err, errno, "cannot create a Maglev table: %s",
				      strerror(errno)) :
				 bpf_map__set_inner_map_fd(skel->maps.svcbpf_mag_v1, tmpl);
		skel->rodata->maglev_m = cfg.maglev_m;
	}
	if (!ret)
		ret = check_fits(skel, md, cfg.maglev_m, err);
	if (ret)
		goto out;

	ret = svcbpf_bpf__load(skel);
	if (ret) {
		fail(err, ret, "cannot load the BPF programs: %s%s", strerror(-ret),
		     debug ? "" : " (run with -d for the verifier log)");
		goto out;
	}

	/* Fill the maps before any program can see them. */
	maps = maps_of(skel, cfg.maglev_m);
	ret = dp_cfg_write(&maps, &cfg);
	if (ret) {
		fail(err, ret, "cannot write the settings: %s", strerror(-ret));
		goto out;
	}
	sync_t0 = dp_mono_ns();
	ret = dp_sync_all(&maps, md, err);
	if (ret)
		goto out;
	dp_sync_observe(&maps, dp_mono_ns() - sync_t0);
	migrate_legacy_ct(pin_dir, &maps);

	pin_path(path, pin_dir, NULL, NULL);
	if (mkdir(path, 0700) && errno != EEXIST) {
		ret = fail(err, errno, "cannot create %s: %s", path, strerror(errno));
		goto out;
	}
	for (int i = 0; i < n && !ret; i++) {
		/* XDP last: tc stands behind it before it starts translating. */
		static const enum hook_id order[] = { HOOK_TC_EGRESS, HOOK_TC_INGRESS, HOOK_XDP };
		int fds[HOOK_MAX] = {
			[HOOK_TC_INGRESS] = bpf_program__fd(skel->progs.svcbpf_tc_ingress),
			[HOOK_TC_EGRESS] = bpf_program__fd(skel->progs.svcbpf_tc_egress),
			[HOOK_XDP] = bpf_program__fd(skel->progs.svcbpf_xdp_ingress),
		};

		pin_path(path, pin_dir, ifnames[i], NULL);
		if (mkdir(path, 0700) && errno != EEXIST) {
			ret = fail(err, errno, "cannot create %s: %s", path, strerror(errno));
			break;
		}
		for (size_t k = 0; k < HOOK_MAX && !ret; k++) {
			enum hook_id h = order[k];
			struct stat st;

			if (h == HOOK_XDP && !o->xdp) {
				detach_hook(pin_dir, ifnames[i], HOOK_XDP);
				continue;
			}
			pin_path(path, pin_dir, ifnames[i], hook_names[h]);
			created[i][h] = stat(path, &st) != 0;
			ret = attach_hook(pin_dir, ifnames[i], ifindex[i], h, fds[h], err);
			if (ret)
				created[i][h] = false;
		}
	}
	/* NodePorts answer on the addresses of every attached interface. */
	if (!ret)
		ret = dp_node_addrs_sync(pin_dir, &maps, err);
	if (ret) {
		/* Take back what this call attached; upgrades already done stay. */
		for (int i = 0; i < n; i++) {
			for (int h = HOOK_MAX - 1; h >= 0; h--)
				if (created[i][h])
					detach_hook(pin_dir, ifnames[i], (enum hook_id)h);
			pin_path(path, pin_dir, ifnames[i], NULL);
			rmdir(path);
		}
	}
	if (!ret)
		unlink_legacy(pin_dir);
out:
	/* A failed reload leaves the settings as they were. */
	if (ret && maps.cfg >= 0 && old_cfg.maglev_m)
		dp_cfg_write(&maps, &old_cfg);
	svcbpf_bpf__destroy(skel);
	if (tmpl >= 0)
		close(tmpl);
	if (ret && fresh) {
		char ignored[ERR_LEN];

		/* Pins this call made and nothing uses: as if it never ran. */
		dp_unload(pin_dir, NULL, 0, ignored);
	}
	return ret;
}

/* Delete from the hash map @fd every key of @ksize bytes that @keep does not want. */
static void sweep_map(int fd, size_t ksize, bool (*keep)(const void *key, const void *ctx),
		      const void *ctx)
{
	uint8_t key[8], next[8];
	bool first = true;
	size_t n = 0;

	while (n++ < SVCBPF_NODE_ADDRS * 4 && !bpf_map_get_next_key(fd, first ? NULL : key, next)) {
		first = false;
		memcpy(key, next, ksize);
		if (!keep(key, ctx))
			bpf_map_delete_elem(fd, key);
	}
}

struct node_addrs {
	__be32 addr[SVCBPF_NODE_ADDRS];
	size_t naddr;
	__u32 ifindex[SVCBPF_NODE_ADDRS];
	size_t nif;
};

static bool want_addr(const void *key, const void *ctx)
{
	const struct node_addrs *na = ctx;

	for (size_t i = 0; i < na->naddr; i++)
		if (!memcmp(key, &na->addr[i], sizeof(na->addr[i])))
			return true;
	return false;
}

static bool want_ifindex(const void *key, const void *ctx)
{
	const struct node_addrs *na = ctx;

	for (size_t i = 0; i < na->nif; i++)
		if (!memcmp(key, &na->ifindex[i], sizeof(na->ifindex[i])))
			return true;
	return false;
}

int dp_node_addrs_sync(const char *pin_dir, const struct dp_maps *m, char err[ERR_LEN])
{
	char(*ifs)[IF_NAMESIZE] = NULL;
	struct ifaddrs *ifa0 = NULL;
	struct node_addrs *na;
	int nifs, ret;

	na = calloc(1, sizeof(*na));
	if (!na)
		return fail(err, ENOMEM, "out of memory");
	ret = list_ifaces(pin_dir, &ifs, &nifs);
	if (!ret && getifaddrs(&ifa0))
		ret = -errno;
	if (ret) {
		fail(err, ret, "cannot read the node's addresses: %s", strerror(-ret));
		goto out;
	}
	/* getifaddrs lists an interface's primary address first: the one masquerade uses. */
	for (struct ifaddrs *a = ifa0; a; a = a->ifa_next) {
		__be32 ip;
		__u32 idx;
		bool ours = false;

		if (!a->ifa_addr || a->ifa_addr->sa_family != AF_INET)
			continue;
		for (int i = 0; i < nifs && !ours; i++)
			ours = !strcmp(ifs[i], a->ifa_name);
		idx = if_nametoindex(a->ifa_name);
		if (!ours || !idx || na->naddr == SVCBPF_NODE_ADDRS)
			continue;
		ip = ((struct sockaddr_in *)a->ifa_addr)->sin_addr.s_addr;
		na->addr[na->naddr++] = ip;
		ret = bpf_map_update_elem(m->nip, &ip, &idx, BPF_ANY);
		if (!ret && !want_ifindex(&idx, na)) {
			na->ifindex[na->nif++] = idx;
			ret = bpf_map_update_elem(m->ifa, &idx, &ip, BPF_ANY);
		}
		if (ret) {
			ret = fail(err, errno, "cannot write the node address maps: %s",
				   strerror(errno));
			goto out;
		}
	}
	sweep_map(m->nip, sizeof(__be32), want_addr, na);
	sweep_map(m->ifa, sizeof(__u32), want_ifindex, na);
out:
	if (ifa0)
		freeifaddrs(ifa0);
	free(ifs);
	free(na);
	return ret;
}

static int cmp_ifname(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* Names of the interfaces with pinned links, sorted; caller frees. */
static int list_ifaces(const char *pin_dir, char (**out)[IF_NAMESIZE], int *n)
{
	char path[PATH_MAX];
	struct dirent *de;
	int cap = 0;
	DIR *d;

	*out = NULL;
	*n = 0;
	pin_path(path, pin_dir, NULL, NULL);
	d = opendir(path);
	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.' || strlen(de->d_name) >= IF_NAMESIZE)
			continue;
		if (*n == cap) {
			char(*nb)[IF_NAMESIZE] =
				realloc(*out, (size_t)(cap = cap * 2 + 4) * IF_NAMESIZE);

			if (!nb) {
				closedir(d);
				return -ENOMEM;
			}
			*out = nb;
		}
		snprintf((*out)[(*n)++], IF_NAMESIZE, "%s", de->d_name);
	}
	closedir(d);
	if (*n)
		qsort(*out, (size_t)*n, IF_NAMESIZE, cmp_ifname);
	return 0;
}

int dp_unload(const char *pin_dir, char *const *ifnames, int n, char err[ERR_LEN])
{
	static const char *const maps[] = {
		SVCBPF_MAP_SVC,	     SVCBPF_MAP_BE,	 SVCBPF_MAP_MAGLEV,  SVCBPF_MAP_AFF,
		SVCBPF_MAP_CFG,	     SVCBPF_MAP_CT,	 SVCBPF_MAP_CNT,     SVCBPF_MAP_SVC_STATS,
		SVCBPF_MAP_BE_STATS, SVCBPF_MAP_EVENTS,	 SVCBPF_MAP_MON,     SVCBPF_MAP_SYNC,
		SVCBPF_MAP_SRC,	     SVCBPF_MAP_NODE_IP, SVCBPF_MAP_IF_ADDR,
	};
	char(*loaded)[IF_NAMESIZE] = NULL;
	char path[PATH_MAX];
	int nloaded, ret;

	ret = bpffs_prepare(pin_dir, false, err);
	if (ret == -ENOENT)
		return fail(err, ENOENT, "nothing is loaded (no pins in %s)", pin_dir);
	if (ret)
		return ret;
	ret = list_ifaces(pin_dir, &loaded, &nloaded);
	if (ret)
		return fail(err, ret, "cannot read %s: %s", pin_dir, strerror(-ret));

	/* Every named interface must be loaded before anything is detached. */
	for (int i = 0; i < n; i++) {
		bool found = false;

		for (int j = 0; j < nloaded && !found; j++)
			found = !strcmp(ifnames[i], loaded[j]);
		if (!found) {
			free(loaded);
			return fail(err, ENOENT, "%s is not loaded", ifnames[i]);
		}
	}
	for (int i = 0; i < (n ? n : nloaded); i++) {
		const char *ifname = n ? ifnames[i] : loaded[i];

		/* The reverse of load: replies keep their reverse NAT until DNAT stops. */
		detach_hook(pin_dir, ifname, HOOK_XDP);
		detach_hook(pin_dir, ifname, HOOK_TC_INGRESS);
		detach_hook(pin_dir, ifname, HOOK_TC_EGRESS);
		pin_path(path, pin_dir, ifname, NULL);
		rmdir(path);
	}
	free(loaded);

	/* The maps go with the last attachment; until then they follow what is attached. */
	ret = list_ifaces(pin_dir, &loaded, &nloaded);
	free(loaded);
	if (!ret && nloaded) {
		struct dp_maps m;

		ret = maps_open(pin_dir, &m);
		if (!ret)
			ret = dp_node_addrs_sync(pin_dir, &m, err);
		else
			fail(err, ret, "cannot open the maps: %s", strerror(-ret));
		maps_close(&m);
	}
	if (ret || nloaded)
		return ret;
	pin_path(path, pin_dir, NULL, NULL);
	rmdir(path);
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, maps[i]);
		unlink(path);
	}
	unlink_legacy(pin_dir);
	if (rmdir(pin_dir) && errno != ENOENT)
		return fail(err, errno, "cannot remove %s: %s", pin_dir, strerror(errno));
	return 0;
}

static const char *xdp_mode(unsigned int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	if (bpf_xdp_query((int)ifindex, 0, &q))
		return "xdp";
	return q.attach_mode == XDP_ATTACHED_DRV ? "xdp-native" :
	       q.attach_mode == XDP_ATTACHED_SKB ? "xdp-generic" :
						   "xdp";
}

/* The kernel keeps 15 characters of a program's name: give ours in full. */
static void full_prog_name(char out[32], const char *kname)
{
	static const char *const ours[] = { "svcbpf_tc_ingress", "svcbpf_tc_egress",
					    "svcbpf_xdp_ingress" };

	for (size_t i = 0; i < sizeof(ours) / sizeof(ours[0]); i++) {
		if (kname[0] && !strncmp(ours[i], kname, strlen(kname))) {
			snprintf(out, 32, "%s", ours[i]);
			return;
		}
	}
	snprintf(out, 32, "%s", kname);
}

int dp_list_hooks(const char *pin_dir, struct hook_info **out, int *n)
{
	char(*ifs)[IF_NAMESIZE] = NULL;
	int nifs, ret, cap;

	*out = NULL;
	*n = 0;
	ret = list_ifaces(pin_dir, &ifs, &nifs);
	if (ret)
		return ret;
	cap = nifs * HOOK_MAX;
	*out = calloc((size_t)cap + 1, sizeof(**out));
	if (!*out) {
		free(ifs);
		return -ENOMEM;
	}
	for (int i = 0; i < nifs; i++) {
		for (int h = 0; h < HOOK_MAX; h++) {
			struct hook_info *hi = &(*out)[*n];
			struct bpf_prog_info pinfo = {};
			__u32 plen = sizeof(pinfo);
			struct bpf_link_info info;
			char path[PATH_MAX];
			int fd, pfd;

			pin_path(path, pin_dir, ifs[i], hook_names[h]);
			fd = bpf_obj_get(path);
			if (fd < 0)
				continue;
			memset(hi, 0, sizeof(*hi));
			snprintf(hi->ifname, sizeof(hi->ifname), "%s", ifs[i]);
			snprintf(hi->hook, sizeof(hi->hook), "%s", hook_names[h]);
			hi->mode = "tcx";
			if (is_link(fd) && !link_info(fd, &info)) {
				hi->link_id = info.id;
				hi->prog_id = info.prog_id;
				hi->ifindex = info.xdp.ifindex;
			} else if (!bpf_obj_get_info_by_fd(fd, &pinfo, &plen)) {
				/* A pinned program: clsact, attached if our filter runs it. */
				unsigned int ifindex = if_nametoindex(ifs[i]);

				hi->mode = "clsact";
				hi->prog_id = pinfo.id;
				if (clsact_prog_id(ifindex, (enum hook_id)h) == pinfo.id)
					hi->ifindex = ifindex;
				memset(&pinfo, 0, sizeof(pinfo));
				plen = sizeof(pinfo);
			}
			close(fd);
			if (!hi->ifindex)
				hi->mode = "detached";
			else if (h == HOOK_XDP)
				hi->mode = xdp_mode(hi->ifindex);
			pfd = hi->prog_id ? bpf_prog_get_fd_by_id(hi->prog_id) : -1;
			if (pfd >= 0 && !bpf_obj_get_info_by_fd(pfd, &pinfo, &plen)) {
				full_prog_name(hi->prog_name, pinfo.name);
				hi->run_cnt = pinfo.run_cnt;
				hi->run_time_ns = pinfo.run_time_ns;
			}
			if (pfd >= 0)
				close(pfd);
			(*n)++;
		}
	}
	free(ifs);
	return 0;
}
