/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Scratch files for the storage benchmarks (bench_io, bench_store): programs, never tests.
 */
#ifndef SP_BENCH_FILE_H
#define SP_BENCH_FILE_H

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/*
 * Write and sync the whole file once, so that the runs overwrite allocated, written blocks
 * (a fresh sparse file measures the file system's allocation, not the device).
 */
static inline int
bench_file_layout(const char *path, uint64_t size)
{
	static uint8_t chunk[1u << 20];
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	int err = 0;

	if (fd < 0) {
		return -errno;
	}
	memset(chunk, 0x5a, sizeof(chunk));
	for (uint64_t off = 0; off < size && err == 0; off += sizeof(chunk)) {
		if (pwrite(fd, chunk, sizeof(chunk), (off_t)off) != (ssize_t)sizeof(chunk)) {
			err = errno != 0 ? -errno : -EIO;
		}
	}
	if (err == 0 && fsync(fd) != 0) {
		err = -errno;
	}
	close(fd);
	return err;
}

#endif /* SP_BENCH_FILE_H */
