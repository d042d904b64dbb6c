/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Timestamped log lines on stderr for spate-control. Each line is formatted in full and
 * written with one call, so lines never interleave. Single-threaded: the level is a plain
 * global.
 */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "ctl_log.h"

static enum sp_ctl_log_level g_ctl_log_level = SP_CTL_LOG_INFO;

static const char *const g_ctl_log_names[] = {"ERROR", "WARN", "INFO", "DEBUG"};

void
sp_ctl_log_set_level(enum sp_ctl_log_level level)
{
	g_ctl_log_level = level;
}

void
sp_ctl_log(enum sp_ctl_log_level level, const char *fmt, ...)
{
	char line[1024];
	struct timespec ts;
	struct tm tm;
	va_list ap;

	if (level > g_ctl_log_level) {
		return;
	}
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(line, sizeof(line),
			 "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ spate-control[%d] %s: ",
			 tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, (int)getpid(), g_ctl_log_names[level]);

	if (n < 0 || (size_t)n >= sizeof(line)) {
		return;
	}
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	if (m < 0) {
		return;
	}
	size_t len = (size_t)n + (size_t)m;

	if (len > sizeof(line) - 2) {
		len = sizeof(line) - 2;
	}
	line[len++] = '\n';
	ssize_t w = write(STDERR_FILENO, line, len);
	(void)w;
}
