/*
 * The channel's fast path for "flat" messages: every field a non-repeated
 * scalar (integers of each encoding, bool, enum, float, double) numbered
 * 1..15, outside any oneof, either proto3-style (no presence) or with a
 * has_ flag (proto2 `optional`). Heartbeats, frame notices and most
 * request/reply pairs are like that, and protobuf-c's generic code spends
 * most of its time on what they do not have: a scan pass, slabs, range
 * lookups, a size pass before the pack pass.
 *
 * Contract: bh__flat_pack() writes exactly the bytes protobuf_c_message_pack()
 * writes, and whatever bh__flat_unpack() accepts decodes to exactly what
 * protobuf_c_message_unpack() makes of it. The decoder takes only the plain
 * shape (one-byte tags of known fields, the wire type each field's type is
 * encoded with, complete values); anything else -- unknown fields, other
 * wire types, truncation, overlong varints -- makes it return NULL so that
 * the caller hands the bytes to protobuf-c, which keeps its own rules for
 * them. tests/test_flat.c and fuzz/fuzz_flat.c check both directions
 * against protobuf-c. Not installed.
 */
#ifndef BH_FLAT_H
#define BH_FLAT_H

#include <stddef.h>
#include <stdint.h>

#include <protobuf-c/protobuf-c.h>

#include <bulkhead/protocol.h>

#define BH_FLAT_MAX_FIELD 15u

typedef struct bh_flat_field {
	uint32_t offset;     /* of the value in the message */
	uint32_t has_offset; /* of the has_ flag, 0 when the field has none */
	uint8_t type;        /* ProtobufCType */
	uint8_t key;         /* the one-byte tag: field number << 3 | wire type */
} bh_flat_field;

typedef struct bh_flat {
	const ProtobufCMessageDescriptor *desc;
	uint32_t max_packed;                  /* no packing of this type is longer */
	uint8_t nfields;
	uint8_t by_number[BH_FLAT_MAX_FIELD + 1]; /* field number -> index + 1; 0: none */
	bh_flat_field fields[BH_FLAT_MAX_FIELD];  /* in descriptor order, as protobuf-c packs */
} bh_flat;

/*
 * Builds the plan for `desc` into *out. Returns 1 if the type is flat, 0 if
 * it is not (or the host is not little-endian), and leaves *out unusable then.
 */
int bh__flat_plan(const ProtobufCMessageDescriptor *desc, bh_flat *out);

/* Bytes a scalar of ProtobufCType `type` takes in a message: 8 or 4. */
size_t bh__flat_value_size(uint8_t type);

/*
 * Packs `m` (of the plan's type) into `out`, which has room for
 * plan->max_packed bytes. Returns the length written. `m` must carry no
 * unknown fields: protobuf-c would append them (check n_unknown_fields first).
 */
size_t bh__flat_pack(const bh_flat *plan, const ProtobufCMessage *m, uint8_t *out);

/*
 * Decodes `len` bytes into a message allocated with `alloc` (one block of
 * sizeof_message, freed like any protobuf-c message). Returns NULL if the
 * allocation failed or the bytes are not of the plain shape (the block is
 * then given back to `alloc`): the caller then decodes with
 * protobuf_c_message_unpack(), whose verdict stands.
 */
ProtobufCMessage *bh__flat_unpack(const bh_flat *plan, ProtobufCAllocator *alloc, size_t len,
				  const uint8_t *data);

/*
 * The plan of a type, for an `info` that bh_registry_lookup() or
 * bh_registry_at() returned (no other pointer), or NULL if it is not flat.
 * Owned by the registry.
 */
const bh_flat *bh__registry_flat(const bh_msg_type_info *info);

#endif
