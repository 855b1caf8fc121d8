// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* cmd_monitor.c - placeholder until its command is built (this session). */
#include "cli.h"

int do_monitor(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return usage_err("monitor: not built yet");
}
