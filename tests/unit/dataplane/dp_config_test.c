/* SPDX-License-Identifier: BSD-3-Clause */
/* Unit tests for dataplane/dp_config.c: the key table, setters, file parsing, validation. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../sp_test.h"

#include "dp_config.h"

static void
test_defaults(void **state)
{
	struct sp_dp_config c;
	char err[256];

	(void)state;
	sp_cfg_defaults(&c);
	assert_string_equal(c.name, "spate");
	assert_int_equal(c.workers, 1);
	assert_true(c.no_pci);
	assert_true(c.huge);
	assert_int_equal(c.idle, SP_IDLE_SLEEP);
	assert_int_equal(c.steering, SP_STEER_AUTO);
	assert_string_equal(c.port_vdev[0], "net_tap0,iface=sp0");
	assert_string_equal(c.port_vdev[1], "");
	assert_int_equal(sp_cfg_validate(&c, err, sizeof(err)), 0);
	assert_true(sp_cfg_key_count() > 10);
}

static void
test_set_types(void **state)
{
	struct sp_dp_config c;
	char err[256];

	(void)state;
	sp_cfg_defaults(&c);
	assert_int_equal(sp_cfg_set(&c, "workers", "4", err, sizeof(err)), 0);
	assert_int_equal(c.workers, 4);
	assert_int_equal(sp_cfg_set(&c, "workers", "0", err, sizeof(err)), -ERANGE);
	assert_non_null(strstr(err, "outside"));
	assert_int_equal(c.workers, 4);
	assert_int_equal(sp_cfg_set(&c, "workers", "17", err, sizeof(err)), -ERANGE);
	assert_int_equal(sp_cfg_set(&c, "workers", "-1", err, sizeof(err)), -EINVAL);
	assert_int_equal(sp_cfg_set(&c, "workers", "3x", err, sizeof(err)), -EINVAL);
	assert_int_equal(sp_cfg_set(&c, "workers", "", err, sizeof(err)), -EINVAL);
	assert_int_equal(sp_cfg_set(&c, "workers", "99999999999999999999999", err, sizeof(err)),
			 -EINVAL);
	assert_int_equal(sp_cfg_set(&c, "no_pci", "off", err, sizeof(err)), 0);
	assert_false(c.no_pci);
	assert_int_equal(sp_cfg_set(&c, "no_pci", "maybe", err, sizeof(err)), -EINVAL);
	assert_int_equal(sp_cfg_set(&c, "idle", "spin", err, sizeof(err)), 0);
	assert_int_equal(c.idle, SP_IDLE_SPIN);
	assert_int_equal(sp_cfg_set(&c, "idle", "nap", err, sizeof(err)), -EINVAL);
	assert_int_equal(sp_cfg_set(&c, "steering", "off", err, sizeof(err)), 0);
	assert_int_equal(c.steering, SP_STEER_OFF);
	assert_int_equal(sp_cfg_set(&c, "steering", "on", err, sizeof(err)), 0);
	assert_int_equal(c.steering, SP_STEER_ON);
	assert_int_equal(sp_cfg_set(&c, "steering", "auto", err, sizeof(err)), 0);
	assert_int_equal(c.steering, SP_STEER_AUTO);
	assert_int_equal(sp_cfg_set(&c, "steering", "yes", err, sizeof(err)), -EINVAL);
	assert_int_equal(c.steering, SP_STEER_AUTO);
	assert_int_equal(sp_cfg_set(&c, "nonsense", "1", err, sizeof(err)), -ENOENT);
	assert_non_null(strstr(err, "nonsense"));
}

static void
test_string_bounds(void **state)
{
	struct sp_dp_config c;
	char err[256];
	char big[SP_PATH_MAX_BYTES + 8];

	(void)state;
	sp_cfg_defaults(&c);
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_int_equal(sp_cfg_set(&c, "run_dir", big, err, sizeof(err)), -ENAMETOOLONG);
	assert_string_equal(c.run_dir, "/run/spate/spate");
	big[SP_PATH_MAX_BYTES - 1] = '\0';
	assert_int_equal(sp_cfg_set(&c, "run_dir", big, err, sizeof(err)), 0);
	assert_int_equal(strlen(c.run_dir), SP_PATH_MAX_BYTES - 1);
}

static void
test_kv_and_file(void **state)
{
	struct sp_dp_config c;
	char err[256];
	const char *text = "# comment\n\n  workers = 2   # two\nport1 = net_memif0,role=server\n"
			   "port1_ipv4=198.19.0.2/16\r\n";
	const char *bad = "workers = 2\nthis line is wrong\n";

	(void)state;
	sp_cfg_defaults(&c);
	assert_int_equal(sp_cfg_set_kv(&c, "mem_mb=512", err, sizeof(err)), 0);
	assert_int_equal(c.mem_mb, 512);
	assert_int_equal(sp_cfg_set_kv(&c, "mem_mb", err, sizeof(err)), -EINVAL);
	assert_int_equal(sp_cfg_set_kv(&c, "=5", err, sizeof(err)), -EINVAL);
	assert_int_equal(sp_cfg_parse_text(&c, text, strlen(text), err, sizeof(err)), 0);
	assert_int_equal(c.workers, 2);
	assert_string_equal(c.port_vdev[1], "net_memif0,role=server");
	assert_string_equal(c.port_ipv4[1], "198.19.0.2/16");
	assert_int_equal(sp_cfg_parse_text(&c, bad, strlen(bad), err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "line 2"));
	assert_int_equal(sp_cfg_load_file(&c, "/nonexistent/spate.conf", err, sizeof(err)),
			 -ENOENT);
}

static void
test_ipv4_prefix(void **state)
{
	uint32_t a;
	uint8_t l;

	(void)state;
	assert_int_equal(sp_cfg_parse_ipv4_prefix("198.18.0.2/24", &a, &l), 0);
	assert_int_equal(l, 24);
	assert_int_equal(((const uint8_t *)&a)[0], 198);
	assert_int_equal(((const uint8_t *)&a)[3], 2);
	assert_int_equal(sp_cfg_parse_ipv4_prefix("198.18.0.2", &a, &l), -EINVAL);
	assert_int_equal(sp_cfg_parse_ipv4_prefix("198.18.0.2/0", &a, &l), -EINVAL);
	assert_int_equal(sp_cfg_parse_ipv4_prefix("198.18.0.2/33", &a, &l), -EINVAL);
	assert_int_equal(sp_cfg_parse_ipv4_prefix("198.18.0/24", &a, &l), -EINVAL);
	assert_int_equal(sp_cfg_parse_ipv4_prefix("/24", &a, &l), -EINVAL);
	assert_int_equal(sp_cfg_parse_ipv4_prefix("1.2.3.4/2x", &a, &l), -EINVAL);
}

static void
test_validate(void **state)
{
	struct sp_dp_config c;
	char err[256];

	(void)state;
	sp_cfg_defaults(&c);
	assert_int_equal(sp_cfg_set(&c, "port0_ipv4", "bogus", err, sizeof(err)), 0);
	assert_int_equal(sp_cfg_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "port0_ipv4"));
	assert_int_equal(sp_cfg_set(&c, "port0", "", err, sizeof(err)), 0);
	assert_int_equal(sp_cfg_validate(&c, err, sizeof(err)), -EINVAL);
	assert_non_null(strstr(err, "no port"));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),     cmocka_unit_test(test_set_types),
		cmocka_unit_test(test_string_bounds), cmocka_unit_test(test_kv_and_file),
		cmocka_unit_test(test_ipv4_prefix),  cmocka_unit_test(test_validate),
	};
	return cmocka_run_group_tests_name("dp_config", tests, NULL, NULL);
}
