// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* cmd_stats.c - placeholder until its command is built (this session). */
#include "cli.h"

int do_stats(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return usage_err("stats: not built yet");
}

int do_dump(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return usage_err("dump: not built yet");
}
