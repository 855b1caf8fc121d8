/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * fuzz_util.h - what the libFuzzer harnesses share: a private scratch
 * directory (removed at exit), writing an input to a file there, the CLI's
 * error output kept quiet, and FUZZ_CHECK, which turns a broken invariant
 * into a crash libFuzzer saves as a reproducer.
 *
 * Header-only: each harness is one translation unit with its own copy.
 */
#ifndef SVCBPF_FUZZ_UTIL_H
#define SVCBPF_FUZZ_UTIL_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The real stderr: FUZZ_CHECK writes there even when the CLI's errors go to /dev/null. */
static FILE *fuzz_err;
static char fuzz_dir[64];

static __attribute__((format(printf, 3, 4), noreturn)) void fuzz_fail(const char *file, int line,
								      const char *fmt, ...)
{
	va_list ap;

	fprintf(fuzz_err ? fuzz_err : stderr, "FUZZ_CHECK failed at %s:%d: ", file, line);
	va_start(ap, fmt);
	vfprintf(fuzz_err ? fuzz_err : stderr, fmt, ap);
	va_end(ap);
	fputc('\n', fuzz_err ? fuzz_err : stderr);
	fflush(NULL);
	abort();
}

/* An invariant: abort (a crash with the input saved) when @cond is false. */
#define FUZZ_CHECK(cond, ...)                                       \
	do {                                                        \
		if (!(cond))                                        \
			fuzz_fail(__FILE__, __LINE__, __VA_ARGS__); \
	} while (0)

/* Remove directory @dir (a scratch dir of this or an ended harness) and what it holds. */
static void fuzz_rm_tree(const char *dir)
{
	char path[300];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			if (unlink(path) && (errno == EISDIR || errno == EPERM))
				fuzz_rm_tree(path); /* fuzz_batch's state directory */
		}
	closedir(d);
	rmdir(dir);
}

static void fuzz_rm_dir(void)
{
	if (fuzz_dir[0])
		fuzz_rm_tree(fuzz_dir);
}

/*
 * A crash ends the process with _exit(), past atexit(): scratch dirs of
 * harnesses that are gone (their pid is in the name) are removed here.
 */
static void fuzz_rm_stale(const char *base)
{
	struct dirent *de;
	char path[300];
	DIR *d = opendir(base);
	int pid;

	if (!d)
		return;
	while ((de = readdir(d)))
		if (sscanf(de->d_name, "svcbpf-fuzz-%d-", &pid) == 1 && pid > 0 && kill(pid, 0) &&
		    errno == ESRCH) {
			snprintf(path, sizeof(path), "%s/%s", base, de->d_name);
			fuzz_rm_tree(path);
		}
	closedir(d);
}

/*
 * A private directory for this process's files, in /dev/shm when there is
 * one (a tmpfs: the store harness writes a file per input), removed at exit.
 * The CLI's own errors go to /dev/null unless FUZZ_VERBOSE is set: invalid
 * input is the common case and its message is no finding.
 */
static void fuzz_setup(void)
{
	static const char *const bases[] = { "/dev/shm", "/tmp" };

	fuzz_err = stderr;
	for (size_t i = 0; i < sizeof(bases) / sizeof(bases[0]) && !fuzz_dir[0]; i++) {
		fuzz_rm_stale(bases[i]);
		snprintf(fuzz_dir, sizeof(fuzz_dir), "%s/svcbpf-fuzz-%d-XXXXXX", bases[i],
			 (int)getpid());
		if (!mkdtemp(fuzz_dir))
			fuzz_dir[0] = '\0';
	}
	if (!fuzz_dir[0]) {
		perror("fuzz: mkdtemp");
		exit(1);
	}
	atexit(fuzz_rm_dir);
	if (!getenv("FUZZ_VERBOSE")) {
		FILE *null = fopen("/dev/null", "w");

		fuzz_err = fdopen(dup(2), "w");
		if (!fuzz_err || !null) {
			perror("fuzz: /dev/null");
			exit(1);
		}
		setvbuf(fuzz_err, NULL, _IONBF, 0);
		stderr = null;
	}
}

/* @path (under fuzz_dir) holding exactly @data[0..size). */
static __attribute__((unused)) void fuzz_write(const char *path, const uint8_t *data, size_t size)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	FUZZ_CHECK(fd >= 0, "cannot create %s", path);
	for (size_t off = 0; off < size;) {
		ssize_t n = write(fd, data + off, size - off);

		FUZZ_CHECK(n > 0, "cannot write %s", path);
		off += (size_t)n;
	}
	close(fd);
}

/* @data as a NUL-terminated string (up to its first NUL); free() it. */
static __attribute__((unused)) char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	FUZZ_CHECK(s, "out of memory");
	memcpy(s, data, size);
	s[size] = '\0';
	return s;
}

#endif /* SVCBPF_FUZZ_UTIL_H */
