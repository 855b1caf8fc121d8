// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fuzz_batch.c - `svcbpf batch FILE` (user/cmd_batch.c) on the input as the
 * file: its line splitter, then every command a line can hold (svc
 * add|del|list|explain, backend add|del|drain|undrain|weight: the flag and
 * argument parsers of user/cmd_svc.c) and the change path (user/change.c)
 * into a real store, in a private state directory. The pin directory does
 * not exist, so svcbpf counts as not loaded: the store alone, no maps.
 *
 * Every input starts from the same store (three services, one owned by a
 * Service object), so a reproducer replays alone. Invariants:
 *   - the exit code is 0 or 1;
 *   - a failed batch leaves the store file byte for byte as it was;
 *   - what a successful one wrote reads back (store_load()) within the
 *     dataplane's ranges: what the CLI writes, the CLI can read.
 */
#include "fuzz_util.h"

#include <errno.h>
#include <netinet/in.h>

#include "cli.h"
#include "svcbpf.h"

static char state_dir[128], pin_dir[128], batch_path[160], db_path[160];
static uint8_t *template;
static size_t template_len;

static void clear_state(void)
{
	static const char *const files[] = { STORE_FILE, STORE_FILE "-wal", STORE_FILE "-shm" };
	char path[200];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", state_dir, files[i]);
		unlink(path);
	}
}

/* The store file's bytes (malloc'ed), or NULL when there is none. */
static uint8_t *read_db(size_t *len)
{
	FILE *f = fopen(db_path, "rb");
	uint8_t *buf;
	long n;

	if (!f)
		return NULL;
	FUZZ_CHECK(!fseek(f, 0, SEEK_END) && (n = ftell(f)) >= 0, "store size");
	rewind(f);
	buf = malloc((size_t)n + 1);
	FUZZ_CHECK(buf && fread(buf, 1, (size_t)n, f) == (size_t)n, "store read");
	fclose(f);
	*len = (size_t)n;
	return buf;
}

static int run_batch(void)
{
	char *argv[] = { batch_path, NULL };

	return do_batch(1, argv);
}

static void check_store(void)
{
	char err[ERR_LEN], a[ADDR_STR_LEN];
	struct store *s;
	struct model m;
	int r;

	FUZZ_CHECK(!store_open(state_dir, &s, err), "store_open after a batch: %s", err);
	r = store_load(s, &m);
	FUZZ_CHECK(!r, "the store a batch wrote does not read back (%d): %s", r, store_errmsg(s));
	for (size_t i = 0; i < m.n; i++) {
		FUZZ_CHECK(m.svc[i].nbe <= SVCBPF_MAX_SVC_BACKENDS, "%s: %zu backends",
			   fmt_l4addr(a, &m.svc[i].addr, true), m.svc[i].nbe);
		for (size_t b = 0; b < m.svc[i].nbe; b++)
			FUZZ_CHECK(m.svc[i].be[b].addr.ip != m.svc[i].addr.ip,
				   "%s: a backend at the service address",
				   fmt_l4addr(a, &m.svc[i].addr, true));
	}
	model_free(&m);
	store_close(s);
}

/*
 * SQLite churns megabytes through malloc per open store: ASan's default 256 MB
 * quarantine would make every input fault in fresh pages (20 ms an input on
 * this VM). 16 MB still holds many inputs' worth of freed memory for
 * use-after-free reports. ASAN_OPTIONS overrides it.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=16";
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	static const char setup[] = "svc add 10.96.0.50:80/tcp --backend 10.244.1.2:8080 --backend "
				    "10.244.2.2:8080,weight=3 --affinity client-ip,timeout=600\n"
				    "svc add 10.96.0.53:53/udp --backend 10.244.1.3:53\n"
				    "backend drain 10.96.0.53:53/udp 10.244.1.3:53\n"
				    "svc add 10.96.0.60:443 --backend 10.244.1.4:8443\n";
	int ret;

	(void)argc;
	(void)argv;
	fuzz_setup();
	snprintf(state_dir, sizeof(state_dir), "%s/state", fuzz_dir);
	snprintf(batch_path, sizeof(batch_path), "%s/batch", fuzz_dir);
	snprintf(db_path, sizeof(db_path), "%s/" STORE_FILE, state_dir);
	/* Never a real pin dir: under bpffs, but one nobody made (svcbpf "not loaded"). */
	snprintf(pin_dir, sizeof(pin_dir), "/sys/fs/bpf/svcbpf-fuzz-absent-%d", (int)getpid());
	cli.state_dir = state_dir;
	cli.pin_dir = pin_dir;
	if (!getenv("FUZZ_VERBOSE"))
		stdout = fopen("/dev/null", "w"); /* svc list inside a batch */
	FUZZ_CHECK(stdout, "/dev/null");
	fuzz_write(batch_path, (const uint8_t *)setup, strlen(setup));
	ret = run_batch();
	FUZZ_CHECK(ret == 0, "the setup batch failed");
	template = read_db(&template_len);
	FUZZ_CHECK(template, "no store after the setup batch");
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *after;
	size_t len;
	int ret;

	clear_state();
	fuzz_write(db_path, template, template_len);
	fuzz_write(batch_path, data, size);
	ret = run_batch();
	FUZZ_CHECK(ret == EXIT_OK || ret == EXIT_FAIL, "batch exited %d", ret);
	if (ret) {
		after = read_db(&len);
		FUZZ_CHECK(after && len == template_len && !memcmp(after, template, len),
			   "a failed batch changed the store file");
		free(after);
	} else {
		check_store();
	}
	return 0;
}
