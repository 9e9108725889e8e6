// SPDX-License-Identifier: GPL-2.0-only
/*
 * libFuzzer: the control-message parser, on bytes a guest (or a hostile
 * host) wrote into the control ring.  Input byte 0 picks the sender; the
 * rest is the message.  Whatever parses must encode back to a message that
 * parses to the same thing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "xenshm/ctrl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct xshm_ctrl_msg msg, again;
	uint8_t buf[XSHM_CTRL_MSG_MAX];
	enum xshm_ctrl_origin from;

	if (size < 1)
		return 0;
	from = (data[0] & 1) ? XSHM_FROM_HOST : XSHM_FROM_GUEST;
	if (xshm_ctrl_parse(data + 1, size - 1, from, &msg))
		return 0;
	ssize_t n = xshm_ctrl_encode(&msg, buf, sizeof(buf));
	if (n < 0)
		abort(); /* a parsed message must encode */
	if (xshm_ctrl_parse(buf, (size_t)n, from, &again))
		abort();
	if (memcmp(&msg.hdr, &again.hdr, sizeof(msg.hdr)) ||
	    memcmp(&msg.u, &again.u, xshm_ctrl_body_size(msg.hdr.type)))
		abort();
	return 0;
}
