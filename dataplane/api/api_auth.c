/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Credentials for the API: the key table is loaded once on the main lcore at boot (the
 * operator's file, config key credentials_file) and shared read-only by every worker's SigV4
 * verifier. A missing or malformed file is not fatal: the dataplane starts and refuses every
 * request with UnrecognizedClientException, so the operator sees the cause in the log and in
 * the answers rather than a dead endpoint.
 */
#include <rte_log.h>

#include <spate/assert.h>
#include <spate/err.h>

#include "../sigv4/sigv4.h"
#include "api_internal.h"

#define RTE_LOGTYPE_SPATE RTE_LOGTYPE_USER1

int
sp_api_auth_load(struct sp_api_global *g)
{
	char err[SP_SIGV4_ERR_MAX];
	int rc;

	g->keys = NULL;
	if (g->credentials_file[0] == '\0') {
		RTE_LOG(WARNING, SPATE,
			"api: no credentials_file: every request will be refused\n");
		return 0;
	}
	rc = sp_sigv4_keys_load(g->credentials_file, g->account_id, &g->keys, err, sizeof(err));
	if (rc != 0) {
		RTE_LOG(WARNING, SPATE,
			"api: credentials not loaded (%s): every request will be "
			"refused\n",
			err);
		g->keys = NULL;
		return 0;
	}
	RTE_LOG(INFO, SPATE, "api: %u access key(s) from %s\n", sp_sigv4_keys_count(g->keys),
		g->credentials_file);
	SP_VERIFY(sp_sigv4_keys_count(g->keys) >= 1);
	return 0;
}

void
sp_api_auth_free(struct sp_api_global *g)
{
	sp_sigv4_keys_free(g->keys);
	g->keys = NULL;
}
