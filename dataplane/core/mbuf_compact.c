/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * Compacting a received chain (mbuf_compact.h).
 */
#include <errno.h>
#include <string.h>

#include <spate/assert.h>

#include "mbuf_compact.h"

int
sp_mbuf_chain_compact(struct rte_mbuf **chain, uint32_t off, struct rte_mempool *pool)
{
	struct rte_mbuf *in = *chain, *src = in, *head = NULL, *tail = NULL;
	uint32_t room = rte_pktmbuf_data_room_size(pool) - RTE_PKTMBUF_HEADROOM;
	uint32_t len, n;

	SP_VERIFY(off <= in->data_len);
	len = in->pkt_len - off;
	n = (len + room - 1) / room;
	if (n > RTE_MBUF_MAX_NB_SEGS) {
		return -ENOMEM;
	}
	/* all or nothing: take every new mbuf before touching the old chain */
	for (uint32_t i = 0; i < n; i++) {
		struct rte_mbuf *m = rte_pktmbuf_alloc(pool);

		if (m == NULL) {
			rte_pktmbuf_free(head);
			return -ENOMEM;
		}
		if (head == NULL) {
			head = m;
		} else {
			tail->next = m;
		}
		tail = m;
	}
	if (head == NULL) {
		return 0; /* nothing held: keep the chain as it is */
	}
	head->nb_segs = (uint16_t)n;
	head->pkt_len = len;
	for (struct rte_mbuf *dst = head; dst != NULL; dst = dst->next) {
		uint32_t want = SP_MIN(room, len);

		dst->data_len = (uint16_t)want;
		len -= want;
		for (uint32_t done = 0; done < want;) {
			uint32_t k = SP_MIN(want - done, (uint32_t)src->data_len - off);

			memcpy(rte_pktmbuf_mtod_offset(dst, uint8_t *, done),
			       rte_pktmbuf_mtod_offset(src, const uint8_t *, off), k);
			done += k;
			off += k;
			if (off == src->data_len) {
				src = src->next;
				off = 0;
			}
		}
	}
	SP_VERIFY(len == 0);
	rte_pktmbuf_free(in);
	*chain = head;
	return 0;
}
