/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * spate-control's log: abnormal and lifecycle events, one line each on stderr with a UTC
 * timestamp, the level and the pid. Counters and status live elsewhere (STYLE.md §14).
 */
#ifndef SPATE_CONTROL_CTL_LOG_H
#define SPATE_CONTROL_CTL_LOG_H

#include <spate/compiler.h>

enum sp_ctl_log_level {
	SP_CTL_LOG_ERR = 0,
	SP_CTL_LOG_WARN = 1,
	SP_CTL_LOG_INFO = 2,
	SP_CTL_LOG_DEBUG = 3,
};

/* Messages above this level are dropped. Default SP_CTL_LOG_INFO. */
void sp_ctl_log_set_level(enum sp_ctl_log_level level);

SP_PRINTF(2, 3) void sp_ctl_log(enum sp_ctl_log_level level, const char *fmt, ...);

#define SP_CTL_ERR(...) sp_ctl_log(SP_CTL_LOG_ERR, __VA_ARGS__)
#define SP_CTL_WARN(...) sp_ctl_log(SP_CTL_LOG_WARN, __VA_ARGS__)
#define SP_CTL_INFO(...) sp_ctl_log(SP_CTL_LOG_INFO, __VA_ARGS__)
#define SP_CTL_DEBUG(...) sp_ctl_log(SP_CTL_LOG_DEBUG, __VA_ARGS__)

#endif /* SPATE_CONTROL_CTL_LOG_H */
