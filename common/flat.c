/* Encoding and decoding of flat messages without protobuf-c's generic passes (see flat.h). */
#include <string.h>

#include "common/flat.h"

enum { WIRE_VARINT = 0, WIRE_64BIT = 1, WIRE_32BIT = 5 };

/* The wire type protobuf-c writes for a scalar type, or -1 for the others. */
static int wire_of(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_BOOL:
	case PROTOBUF_C_TYPE_ENUM:
		return WIRE_VARINT;
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return WIRE_64BIT;
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		return WIRE_32BIT;
	default:
		return -1;
	}
}

int bh__flat_plan(const ProtobufCMessageDescriptor *desc, bh_flat *out)
{
	uint32_t max = 0;

	/* Fixed-width values are copied as they lie in memory. */
	if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
		return 0;
	if (!desc || desc->magic != PROTOBUF_C__MESSAGE_DESCRIPTOR_MAGIC || !desc->message_init ||
	    desc->n_fields > BH_FLAT_MAX_FIELD)
		return 0;
	memset(out, 0, sizeof *out);
	out->desc = desc;
	for (unsigned i = 0; i < desc->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &desc->fields[i];
		int wire = wire_of(f->type);
		bh_flat_field *ff = &out->fields[i];

		if (wire < 0 || f->id < 1 || f->id > BH_FLAT_MAX_FIELD || out->by_number[f->id] ||
		    (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) || f->offset >= desc->sizeof_message)
			return 0;
		if (f->label == PROTOBUF_C_LABEL_OPTIONAL) {
			/* protobuf-c reads the has_ flag for optional scalars; without one it is not ours. */
			if (f->quantifier_offset == 0 || f->quantifier_offset >= desc->sizeof_message)
				return 0;
			ff->has_offset = f->quantifier_offset;
		} else if (f->label != PROTOBUF_C_LABEL_NONE) {
			/* Required fields need protobuf-c's presence check; repeated ones its arrays. */
			return 0;
		}
		ff->offset = f->offset;
		ff->type = (uint8_t)f->type;
		ff->key = (uint8_t)(f->id << 3 | (unsigned)wire);
		out->by_number[f->id] = (uint8_t)(i + 1);
		max += 1 + (wire == WIRE_64BIT ? 8 : wire == WIRE_32BIT ? 4 : 10);
	}
	out->nfields = (uint8_t)desc->n_fields;
	out->max_packed = max;
	return 1;
}

size_t bh__flat_value_size(uint8_t type)
{
	return wire_of(type) == WIRE_64BIT || type == PROTOBUF_C_TYPE_INT64 ||
			       type == PROTOBUF_C_TYPE_SINT64 || type == PROTOBUF_C_TYPE_UINT64
		       ? 8
		       : 4;
}

static uint8_t *put_varint(uint8_t *o, uint64_t v)
{
	while (v >= 0x80) {
		*o++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*o++ = (uint8_t)v;
	return o;
}

/*
 * Writes one field the way protobuf-c's required_field_pack() does, or
 * nothing when protobuf-c would skip it: a proto3 field at zero (field_is_zeroish
 * compares floats with ==, so -0.0 is skipped too), an optional one without has_.
 */
static uint8_t *pack_field(const bh_flat_field *f, const uint8_t *m, uint8_t *o)
{
	const uint8_t *v = m + f->offset;
	uint32_t u32;
	uint64_t u64;
	float fl;
	double db;
	int present = 1;

	if (f->has_offset) {
		protobuf_c_boolean has;

		memcpy(&has, m + f->has_offset, sizeof has);
		if (!has)
			return o;
	}
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_ENUM:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_BOOL:
		memcpy(&u32, v, 4);
		present = u32 != 0;
		break;
	case PROTOBUF_C_TYPE_FLOAT:
		memcpy(&fl, v, 4);
		present = fl != 0;
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		memcpy(&db, v, 8);
		present = db != 0;
		break;
	default:
		memcpy(&u64, v, 8);
		present = u64 != 0;
		break;
	}
	if (!present && !f->has_offset)
		return o;
	*o++ = f->key;
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_ENUM:
		/* Negative values go out sign-extended to ten bytes. */
		memcpy(&u32, v, 4);
		return put_varint(o, (uint64_t)(int64_t)(int32_t)u32);
	case PROTOBUF_C_TYPE_SINT32:
		memcpy(&u32, v, 4);
		return put_varint(o, (u32 << 1) ^ (uint32_t)((int32_t)u32 >> 31));
	case PROTOBUF_C_TYPE_UINT32:
		memcpy(&u32, v, 4);
		return put_varint(o, u32);
	case PROTOBUF_C_TYPE_BOOL:
		memcpy(&u32, v, 4);
		*o++ = u32 != 0;
		return o;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_UINT64:
		memcpy(&u64, v, 8);
		return put_varint(o, u64);
	case PROTOBUF_C_TYPE_SINT64:
		memcpy(&u64, v, 8);
		return put_varint(o, (u64 << 1) ^ (uint64_t)((int64_t)u64 >> 63));
	case PROTOBUF_C_TYPE_FIXED32:
	case PROTOBUF_C_TYPE_SFIXED32:
	case PROTOBUF_C_TYPE_FLOAT:
		memcpy(o, v, 4);
		return o + 4;
	default: /* the 64-bit fixed types and double */
		memcpy(o, v, 8);
		return o + 8;
	}
}

size_t bh__flat_pack(const bh_flat *plan, const ProtobufCMessage *m, uint8_t *out)
{
	uint8_t *o = out;

	for (unsigned i = 0; i < plan->nfields; i++)
		o = pack_field(&plan->fields[i], (const uint8_t *)m, o);
	return (size_t)(o - out);
}

ProtobufCMessage *bh__flat_unpack(const bh_flat *plan, ProtobufCAllocator *alloc, size_t len,
				  const uint8_t *data)
{
	const uint8_t *p = data, *end = data + len;
	ProtobufCMessage *m;
	uint8_t *base;

	m = alloc->alloc(alloc->allocator_data, plan->desc->sizeof_message);
	if (!m)
		return NULL;
	plan->desc->message_init(m);
	base = (uint8_t *)m;
	while (p < end) {
		unsigned key = *p++, idx;
		const bh_flat_field *f;
		uint8_t *v;

		/* Multi-byte tags (and so field number 0 spelled long) are protobuf-c's to judge. */
		if (key & 0x80)
			goto refuse;
		idx = plan->by_number[key >> 3];
		if (!idx || plan->fields[idx - 1].key != key)
			goto refuse;
		f = &plan->fields[idx - 1];
		v = base + f->offset;
		if ((key & 7) == WIRE_VARINT) {
			uint64_t x = 0;
			unsigned bits = 0, i = 0;
			uint8_t b;

			/* Up to ten bytes, as protobuf-c scans; the bits past 64 fall away. */
			do {
				if (p == end || i == 10)
					goto refuse;
				b = *p++;
				bits |= b & 0x7fu;
				x |= (uint64_t)(b & 0x7f) << (7 * i);
				i++;
			} while (b & 0x80);
			switch (f->type) {
			case PROTOBUF_C_TYPE_BOOL: {
				/* protobuf-c: true if any payload bit of any byte is set. */
				protobuf_c_boolean t = bits != 0;

				memcpy(v, &t, sizeof t);
				break;
			}
			case PROTOBUF_C_TYPE_SINT32: {
				uint32_t z = (uint32_t)x;
				int32_t s = (int32_t)(z >> 1) ^ -(int32_t)(z & 1);

				memcpy(v, &s, 4);
				break;
			}
			case PROTOBUF_C_TYPE_SINT64: {
				int64_t s = (int64_t)(x >> 1) ^ -(int64_t)(x & 1);

				memcpy(v, &s, 8);
				break;
			}
			case PROTOBUF_C_TYPE_INT64:
			case PROTOBUF_C_TYPE_UINT64:
				memcpy(v, &x, 8);
				break;
			default: { /* int32, uint32, enum: the low 32 bits */
				uint32_t lo = (uint32_t)x;

				memcpy(v, &lo, 4);
				break;
			}
			}
		} else {
			size_t n = (key & 7) == WIRE_64BIT ? 8 : 4;

			if ((size_t)(end - p) < n)
				goto refuse;
			memcpy(v, p, n);
			p += n;
		}
		if (f->has_offset) {
			protobuf_c_boolean t = 1;

			memcpy(base + f->has_offset, &t, sizeof t);
		}
	}
	return m;

refuse:
	alloc->free(alloc->allocator_data, m);
	return NULL;
}
