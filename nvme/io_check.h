/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Request validation shared by the storage backends (private to nvme/). A request comes from
 * code above the seam and is never trusted: a bad one is refused with -EINVAL at submit, so
 * the real backend and the simulator refuse exactly the same requests.
 */
#ifndef SP_NVME_IO_CHECK_H
#define SP_NVME_IO_CHECK_H

#include <errno.h>
#include <stdint.h>

#include "io.h"

/* Largest single transfer: well below the kernel's MAX_RW_COUNT, so never a short transfer. */
#define SP_IO_MAX_LEN (1u << 30)

/* 0 when req may go to a queue with n_files files of logical block block[file], else -EINVAL. */
static inline int
sp_io_req_check(const struct sp_io_req *req, unsigned n_files, const uint32_t *block)
{
	if (req->file < 0 || (unsigned)req->file >= n_files) {
		return -EINVAL;
	}
	if (req->op == SP_IO_FLUSH) {
		/* offset, buf and len mean nothing to a flush; flags must be clear */
		return req->flags == 0 ? 0 : -EINVAL;
	}
	if (req->op == SP_IO_ZERO) {
		/* no buffer: a range of the file, in whole blocks */
		uint32_t zb = block[req->file];

		if (req->flags != 0 || req->len == 0 || req->len > SP_IO_MAX_LEN ||
		    req->len % zb != 0 || req->offset % zb != 0 ||
		    req->offset > (uint64_t)INT64_MAX - req->len) {
			return -EINVAL;
		}
		return 0;
	}
	if (req->op != SP_IO_WRITE && req->op != SP_IO_READ) {
		return -EINVAL;
	}
	if ((req->flags & ~SP_IO_F_DSYNC) != 0 || (req->op == SP_IO_READ && req->flags != 0)) {
		return -EINVAL;
	}
	uint32_t bs = block[req->file];
	if (req->buf == NULL || req->len == 0 || req->len > SP_IO_MAX_LEN) {
		return -EINVAL;
	}
	if (req->len % bs != 0 || req->offset % bs != 0 || (uintptr_t)req->buf % bs != 0) {
		return -EINVAL;
	}
	if (req->offset > UINT64_MAX - req->len || req->offset > (uint64_t)INT64_MAX) {
		return -EINVAL;
	}
	return 0;
}

#endif /* SP_NVME_IO_CHECK_H */
