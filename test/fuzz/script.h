/* SPDX-License-Identifier: GPL-2.0-only */
/* A fuzzer input read as a script: little-endian fields taken from the front, zeros past the end. */
#ifndef XENSHM_FUZZ_SCRIPT_H
#define XENSHM_FUZZ_SCRIPT_H

#include <stddef.h>
#include <stdint.h>

struct script {
	const uint8_t *p;
	size_t left;
};

static inline uint64_t take(struct script *s, unsigned int bytes)
{
	uint64_t v = 0;

	for (unsigned int i = 0; i < bytes && s->left; i++, s->p++, s->left--)
		v |= (uint64_t)*s->p << (8 * i);
	return v;
}

#endif
