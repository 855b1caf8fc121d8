// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* cmd_metrics.c - placeholder until its command is built (this session). */
#include "cli.h"

int do_metrics(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return usage_err("metrics: not built yet");
}

int do_agent(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return usage_err("agent: not built yet");
}
