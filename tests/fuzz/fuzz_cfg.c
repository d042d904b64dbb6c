/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * libFuzzer target: arbitrary bytes as a spate-dataplane config file (sp_cfg_parse_text),
 * then as one --set argument. Invariants: no crash or sanitizer report; a rejected input
 * leaves an error message; whatever is accepted still validates as a struct (strings
 * terminated, numbers within their declared bounds).
 */
#include <stdint.h>
#include <string.h>

#include <spate/assert.h>

#include "dp_config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_dp_config c;
	char err[512];
	char kv[1024];
	int rc;

	sp_cfg_defaults(&c);
	err[0] = '\0';
	rc = sp_cfg_parse_text(&c, (const char *)data, size, err, sizeof(err));
	SP_VERIFY(rc == 0 || err[0] != '\0');
	SP_VERIFY(c.workers >= 1 && c.workers <= SP_MAX_WORKERS);
	SP_VERIFY(memchr(c.run_dir, '\0', sizeof(c.run_dir)) != NULL);
	SP_VERIFY(memchr(c.port_vdev[3], '\0', sizeof(c.port_vdev[3])) != NULL);
	(void)sp_cfg_validate(&c, err, sizeof(err));

	if (size < sizeof(kv)) {
		memcpy(kv, data, size);
		kv[size] = '\0';
		(void)sp_cfg_set_kv(&c, kv, err, sizeof(err));
		SP_VERIFY(c.mem_mb >= 32 && c.mem_mb <= 65536);
	}
	return 0;
}
