/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * EAL for unit tests and fuzzers: no hugepages, no PCI, no shared config files, quiet logs,
 * one lcore. Memory comes from anonymous mappings, so ASan and parallel test runs are fine.
 */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <rte_eal.h>
#include <rte_errno.h>

#include "sp_test.h"

static char g_runtime_dir[512];

static int
eal_rm(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* EAL leaves its runtime directory behind even with --no-shconf: remove it at exit. */
static void
eal_cleanup(void)
{
	rte_eal_cleanup();
	if (g_runtime_dir[0] != '\0') {
		(void)nftw(g_runtime_dir, eal_rm, 8, FTW_DEPTH | FTW_PHYS);
	}
}

void
sp_test_eal_init(const char *prog)
{
	char prefix[64];
	char *argv[] = {
		(char *)prog, "--no-huge", "--no-pci", "--no-shconf", "-m", "128",
		"--log-level", "2", "-l", "0", "--file-prefix", prefix, "--no-telemetry", NULL,
	};
	int argc = (int)(sizeof(argv) / sizeof(argv[0])) - 1;

	snprintf(prefix, sizeof(prefix), "sptest-%ld", (long)getpid());
	if (rte_eal_init(argc, argv) < 0) {
		fprintf(stderr, "%s: EAL init failed: %s\n", prog, rte_strerror(rte_errno));
		abort();
	}
	snprintf(g_runtime_dir, sizeof(g_runtime_dir), "%s", rte_eal_get_runtime_dir());
	atexit(eal_cleanup);
}
