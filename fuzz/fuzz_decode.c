/*
 * fuzz_decode: the pure parsing layer, no sockets. The input is a frame:
 * bh_header_decode() must either refuse it with a named reason or accept a
 * header that bh_header_encode() reproduces byte for byte; the payload is
 * then unpacked the way the channel does it (its arena, its retry when the
 * arena must grow, a small cap that must refuse without crashing) and, for
 * every registered type, with protobuf-c's allocator, where a message that
 * decodes must re-encode to bytes that decode to the same bytes again.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/arena.h"
#include "common/flat.h"
#include "common/internal.h"
#include "fuzz/fuzz.h"

static bh_registry *reg;
static uint8_t *buf1, *buf2;
/* Packed output can exceed the input (defaults made explicit): room for a lot. */
#define PACK_ROOM (8u * BH_MAX_MESSAGE)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	buf1 = malloc(PACK_ROOM);
	buf2 = malloc(PACK_ROOM);
	if (bh_fuzz_registry_create(&reg) < 0 || !buf1 || !buf2)
		bh_fuzz_fail("cannot set up the harness");
	return 0;
}

/*
 * Decodes like the channel: arena, and retries while the arena asks to grow.
 * What protobuf-c's own allocator decodes must decode here too, unless it
 * needs more than the cap.
 */
static void channel_unpack(const bh_msg_type_info *info, size_t cap, const uint8_t *p, size_t n)
{
	ProtobufCMessage *plain;
	bh_arena a;
	const ProtobufCMessage *m;

	bh__arena_init(&a, cap);
	if (bh__arena_reset(&a) < 0)
		bh_fuzz_fail("out of memory");
	m = protobuf_c_message_unpack(info->desc, &a.allocator, n, p);
	while (!m && bh__arena_can_grow(&a) && bh__arena_reset(&a) == 0)
		m = protobuf_c_message_unpack(info->desc, &a.allocator, n, p);
	if (!m) {
		plain = protobuf_c_message_unpack(info->desc, NULL, n, p);
		BH_FUZZ_CHECK(!plain || a.want > a.cap,
			      "%s decodes, but not in an arena of %zu bytes (wanted %zu)",
			      info->desc->name, a.size, a.want);
		if (plain)
			protobuf_c_message_free_unpacked(plain, NULL);
	}
	if (m) {
		size_t len = protobuf_c_message_get_packed_size(m);

		BH_FUZZ_CHECK(len <= PACK_ROOM, "re-encoded size %zu", len);
		BH_FUZZ_CHECK(protobuf_c_message_pack(m, buf1) == len, "pack size changed");
	}
	bh__arena_fini(&a);
}

/*
 * protobuf-c 1.4 accepts field number 0 when its tag is spelled with an
 * overlong varint (80 00), keeps it as an unknown field, and then refuses
 * the one-byte tag its own encoder writes for it. Harmless to bulkhead,
 * which never reads unknown fields, but it breaks the round trip below.
 */
static int has_field_zero(const ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (size_t i = 0; i < m->n_unknown_fields; i++) {
		if (m->unknown_fields[i].tag == 0)
			return 1;
	}
	for (unsigned i = 0; i < d->n_fields && depth < 64; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const uint8_t *member = (const uint8_t *)m + f->offset;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n;
			const ProtobufCMessage *const *arr;

			memcpy(&n, (const uint8_t *)m + f->quantifier_offset, sizeof n);
			memcpy(&arr, member, sizeof arr);
			for (size_t k = 0; k < n; k++) {
				if (arr[k] && has_field_zero(arr[k], depth + 1))
					return 1;
			}
		} else {
			const ProtobufCMessage *sub;

			if ((f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) &&
			    *(const uint32_t *)((const uint8_t *)m + f->quantifier_offset) != f->id)
				continue;
			memcpy(&sub, member, sizeof sub);
			if (sub && has_field_zero(sub, depth + 1))
				return 1;
		}
	}
	return 0;
}

/* unpack, pack, unpack, pack: the two packed forms must be equal. */
static void round_trip(const ProtobufCMessageDescriptor *desc, const uint8_t *p, size_t n)
{
	ProtobufCMessage *m1 = protobuf_c_message_unpack(desc, NULL, n, p), *m2;
	size_t l1, l2;

	if (!m1)
		return;
	l1 = protobuf_c_message_get_packed_size(m1);
	BH_FUZZ_CHECK(l1 <= PACK_ROOM, "%s: re-encoded size %zu", desc->name, l1);
	BH_FUZZ_CHECK(protobuf_c_message_pack(m1, buf1) == l1, "%s: pack size changed", desc->name);
	if (has_field_zero(m1, 0)) {
		protobuf_c_message_free_unpacked(m1, NULL);
		return;
	}
	protobuf_c_message_free_unpacked(m1, NULL);
	m2 = protobuf_c_message_unpack(desc, NULL, l1, buf1);
	BH_FUZZ_CHECK(m2 != NULL, "%s: re-encoded message does not decode", desc->name);
	l2 = protobuf_c_message_get_packed_size(m2);
	BH_FUZZ_CHECK(l2 == l1 && protobuf_c_message_pack(m2, buf2) == l2 &&
			      memcmp(buf1, buf2, l1) == 0,
		      "%s: encoding not stable (%zu then %zu bytes)", desc->name, l1, l2);
	protobuf_c_message_free_unpacked(m2, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bh_header h;
	int r = bh_header_decode(data, size, &h);
	const uint8_t *payload = size >= BH_HEADER_SIZE ? data + BH_HEADER_SIZE : data;
	size_t plen = size >= BH_HEADER_SIZE ? size - BH_HEADER_SIZE : size;

	if (r == 0) {
		uint8_t again[BH_HEADER_SIZE];
		const bh_msg_type_info *info = bh_registry_lookup(reg, h.type);

		bh_header_encode(&h, again);
		BH_FUZZ_CHECK(memcmp(again, data, BH_HEADER_SIZE) == 0, "header does not re-encode");
		BH_FUZZ_CHECK(h.payload_len == plen && h.nfds <= BH_MAX_FDS, "accepted a bad header");
		if (info) {
			bh_channel_limits lim;

			bh_channel_limits_default(&lim);
			channel_unpack(info, lim.max_arena, payload, plen);
			channel_unpack(info, 4096, payload, plen);
		}
	} else {
		BH_FUZZ_CHECK(r < 0 && -r < BH_BAD_REASON_COUNT &&
				      strcmp(bh_bad_reason_name(r), "unknown reason") != 0,
			      "bh_header_decode returned %d", r);
	}
	/* Nothing larger ever reaches a decoder: the channel refuses it first. */
	if (plen > BH_MAX_PAYLOAD)
		return 0;
	for (size_t i = 0; i < bh_registry_count(reg); i++) {
		const bh_msg_type_info *info = bh_registry_at(reg, i);
		const bh_flat *plan = bh__registry_flat(info);
		const char *why;

		round_trip(info->desc, payload, plen);
		/* The channel's fast path must agree with protobuf-c both ways. */
		if (plan && (why = bh_fuzz_flat_check(plan, payload, plen, NULL)) != NULL)
			bh_fuzz_fail("%s: %s", info->desc->name, why);
	}
	return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed)
{
	return bh_fuzz_mutate(reg, data, size, max, seed);
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *a, size_t asize, const uint8_t *b, size_t bsize,
				 uint8_t *out, size_t max, unsigned seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *a, size_t asize, const uint8_t *b, size_t bsize,
				 uint8_t *out, size_t max, unsigned seed)
{
	return bh_fuzz_crossover(reg, a, asize, b, bsize, out, max, seed);
}
