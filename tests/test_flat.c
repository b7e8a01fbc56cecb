/*
 * The channel's fast path for flat messages (common/flat.c) against
 * protobuf-c, which stays the definition of the encoding: which shapes get
 * a plan, byte-identical packing for random values of every scalar kind,
 * identical decoding of everything the fast decoder accepts, and that it
 * does accept the plain shape (else the fast path would be dead code that
 * no other test notices).
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "bulkhead.pb-c.h"
#include "common/flat.h"
#include "flat_test.pb-c.h"
#include "flat_test2.pb-c.h"
#include "fuzz/fuzz.h"

#define ROUNDS 20000

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static void *no_alloc(void *ud, size_t size)
{
	(void)ud;
	(void)size;
	return NULL;
}

static void no_free(void *ud, void *p)
{
	(void)ud;
	(void)p;
}

static const ProtobufCMessageDescriptor *const flat_types[] = {
	&bhflat__scalars__descriptor, &bhflat__shuffled__descriptor, &bhflat__empty__descriptor,
	&bhflat2__optional__descriptor, &bh__heartbeat__descriptor, &bh__surface_attach__descriptor,
	&bh__frame_release__descriptor,
};

static void test_plans(void **state)
{
	static const ProtobufCMessageDescriptor *const not_flat[] = {
		&bhflat__far__descriptor,    &bhflat__texty__descriptor, &bhflat__listy__descriptor,
		&bhflat__choosy__descriptor, &bhflat2__required__descriptor, &bh__hello__descriptor,
		&bh__crash_report__descriptor, &bh__frame_ready__descriptor,
	};
	bh_flat plan;

	(void)state;
	for (size_t i = 0; i < sizeof flat_types / sizeof *flat_types; i++)
		assert_int_equal(bh__flat_plan(flat_types[i], &plan), 1);
	for (size_t i = 0; i < sizeof not_flat / sizeof *not_flat; i++)
		assert_int_equal(bh__flat_plan(not_flat[i], &plan), 0);
	assert_int_equal(bh__flat_plan(&bhflat__scalars__descriptor, &plan), 1);
	assert_int_equal(plan.nfields, 14);
	/* A one-byte tag each, and ten-byte varints (8 fields), 4 (3) or 8 (3) bytes of value. */
	assert_int_equal(plan.max_packed, 8 * 11 + 3 * 5 + 3 * 9);
	assert_int_equal(plan.by_number[14], 0);
	assert_int_not_equal(plan.by_number[15], 0);
}

/* A value with the edges packing cares about: zero, -0.0, NaN, negative, all bits. */
static void random_value(uint8_t type, uint8_t *v)
{
	static const double doubles[] = { 0.0, -0.0, 1.0, -1.5, 1e300, NAN, INFINITY };
	static const float floats[] = { 0.0f, -0.0f, 1.0f, -2.5f, NAN, -INFINITY };
	uint64_t x = rnd();
	size_t n = bh__flat_value_size(type);

	switch (rnd() % 6) {
	case 0:
		x = 0;
		break;
	case 1:
		x = (uint64_t)-(int64_t)(rnd() % 300); /* small negatives and zero */
		break;
	case 2:
		x >>= rnd() % 64; /* every varint length */
		break;
	case 3:
		if (type == PROTOBUF_C_TYPE_DOUBLE) {
			memcpy(v, &doubles[rnd() % 7], 8);
			return;
		}
		if (type == PROTOBUF_C_TYPE_FLOAT) {
			memcpy(v, &floats[rnd() % 6], 4);
			return;
		}
		break;
	default:
		break;
	}
	/* protobuf_c_boolean is an int: 2 and -1 are true too. */
	if (type == PROTOBUF_C_TYPE_BOOL && rnd() % 2)
		x = (uint64_t)(int64_t)(int)(rnd() % 4) - 1;
	memcpy(v, &x, n);
}

static void random_message(const bh_flat *plan, ProtobufCMessage *m)
{
	plan->desc->message_init(m);
	for (unsigned i = 0; i < plan->nfields; i++) {
		const bh_flat_field *f = &plan->fields[i];

		if (rnd() % 4)
			random_value(f->type, (uint8_t *)m + f->offset);
		if (f->has_offset) {
			protobuf_c_boolean has = (protobuf_c_boolean)(rnd() % 3 != 0);

			memcpy((uint8_t *)m + f->has_offset, &has, sizeof has);
		}
	}
}

static void test_pack_matches_protobuf_c(void **state)
{
	(void)state;
	for (size_t t = 0; t < sizeof flat_types / sizeof *flat_types; t++) {
		bh_flat plan;
		ProtobufCMessage *m = calloc(1, flat_types[t]->sizeof_message);

		assert_non_null(m);
		assert_int_equal(bh__flat_plan(flat_types[t], &plan), 1);
		for (int i = 0; i < ROUNDS; i++) {
			const char *why;

			random_message(&plan, m);
			why = bh_fuzz_flat_check_pack(&plan, m);
			if (why)
				fail_msg("%s, round %d: %s", flat_types[t]->name, i, why);
		}
		free(m);
	}
}

static uint8_t *put_varint(uint8_t *o, uint64_t v, unsigned pad)
{
	unsigned n = 0;

	do {
		*o++ = (uint8_t)((v & 0x7f) | (v >= 0x80 ? 0x80 : 0));
		v >>= 7;
		n++;
	} while (v);
	/* Overlong: the same value with zero groups after it, up to ten bytes in all. */
	while (pad-- && n < 10) {
		o[-1] |= 0x80;
		*o++ = 0;
		n++;
	}
	return o;
}

static unsigned wire_of_key(uint8_t key)
{
	return key & 7u;
}

/* A field as protobuf-c writes it, or with an overlong varint: the fast decoder's shape. */
static uint8_t *put_clean(const bh_flat *plan, uint8_t *o)
{
	const bh_flat_field *f = &plan->fields[rnd() % plan->nfields];
	uint64_t x = rnd() >> (rnd() % 64);

	*o++ = f->key;
	switch (wire_of_key(f->key)) {
	case 0:
		if (rnd() % 8 == 0)
			x = (uint64_t)-(int64_t)(rnd() % 5);
		return put_varint(o, x, rnd() % 4 == 0 ? (unsigned)(rnd() % 10) : 0);
	case 1:
		memcpy(o, &x, 8);
		return o + 8;
	default:
		memcpy(o, &x, 4);
		return o + 4;
	}
}

/* Something the fast decoder must leave to protobuf-c, or a clean field. */
static uint8_t *put_dirty(const bh_flat *plan, uint8_t *o, uint8_t *end)
{
	unsigned number = (unsigned)(rnd() % 18);
	uint64_t x = rnd();

	switch (rnd() % 8) {
	case 0: /* any number, any wire type (known, unknown, groups, length-prefixed) */
		if (number < 16) {
			*o++ = (uint8_t)(number << 3 | (rnd() % 8));
		} else {
			*o++ = (uint8_t)(0x80 | (number & 15) << 3 | (rnd() % 8));
			*o++ = (uint8_t)(number >> 4);
		}
		break;
	case 1: /* a known field's tag spelled long */
		if (plan->nfields) {
			*o++ = plan->fields[rnd() % plan->nfields].key | 0x80;
			*o++ = 0;
		}
		break;
	case 2: /* field number 0, short and long */
		*o++ = (uint8_t)(rnd() % 8);
		break;
	case 3: /* a varint too long for protobuf-c */
		for (int i = 0; i < 11; i++)
			*o++ = 0x81;
		*o++ = 0;
		break;
	case 4: /* a length prefix and its bytes */
		*o++ = (uint8_t)(((rnd() % 15) + 1) << 3 | 2);
		*o++ = 3;
		memcpy(o, &x, 3);
		o += 3;
		break;
	default: /* random bytes */
		for (unsigned i = 0, n = (unsigned)(rnd() % 6); i < n; i++)
			*o++ = (uint8_t)rnd();
		break;
	}
	return o < end ? o : end;
}

static void check(const bh_flat *plan, const uint8_t *buf, size_t len, int must_accept)
{
	int fast;
	const char *why = bh_fuzz_flat_check(plan, buf, len, &fast);

	if (why)
		fail_msg("%s, %zu bytes: %s", plan->desc->name, len, why);
	if (must_accept && !fast)
		fail_msg("%s: the fast decoder refused %zu bytes of plain fields", plan->desc->name, len);
}

static void test_unpack_matches_protobuf_c(void **state)
{
	uint8_t buf[512];

	(void)state;
	for (size_t t = 0; t < sizeof flat_types / sizeof *flat_types; t++) {
		bh_flat plan;
		int accepted = 0;

		assert_int_equal(bh__flat_plan(flat_types[t], &plan), 1);
		for (int i = 0; i < ROUNDS; i++) {
			uint8_t *o = buf;
			unsigned n = (unsigned)(rnd() % 8);
			int dirty = (int)(rnd() % 2);

			for (unsigned k = 0; k < n; k++) {
				if (dirty && rnd() % 3 == 0)
					o = put_dirty(&plan, o, buf + sizeof buf);
				else if (plan.nfields)
					o = put_clean(&plan, o);
			}
			/* Sometimes cut the last field short. */
			if (dirty && o > buf && rnd() % 4 == 0)
				o -= 1 + rnd() % (size_t)(o - buf);
			check(&plan, buf, (size_t)(o - buf), !dirty);
			if (dirty) {
				int fast;

				(void)bh_fuzz_flat_check(&plan, buf, (size_t)(o - buf), &fast);
				accepted += fast;
			}
		}
		/* Dirty inputs include clean ones (no dirty field drawn, or an empty one). */
		assert_true(accepted > 0);
	}
}

static void test_edges(void **state)
{
	bh_flat s, h;
	/* bool: the only payload bit past bit 63 still makes it true for protobuf-c. */
	static const uint8_t bool_high[] = { 7 << 3, 0x80, 0x80, 0x80, 0x80, 0x80,
					     0x80, 0x80, 0x80, 0x80, 0x02 };
	/* int32 -1 as protobuf-c writes it: sign-extended, ten bytes. */
	static const uint8_t minus_one[] = { 1 << 3, 0xff, 0xff, 0xff, 0xff, 0xff,
					     0xff, 0xff, 0xff, 0xff, 0x01 };
	/* The same field twice: the last one wins. */
	static const uint8_t twice[] = { 3 << 3, 5, 3 << 3, 0x96, 0x01 };
	/* Eleven bytes of varint: protobuf-c refuses, so must the fast decoder. */
	static const uint8_t too_long[] = { 3 << 3, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80,
					    0x80, 0x80, 0x80, 0x80, 0x00 };
	/* Field number 0 spelled long: protobuf-c keeps it as an unknown field. */
	static const uint8_t zero_long[] = { 0x80, 0x00, 0x05 };
	/* A 32-bit value cut short, a varint cut short. */
	static const uint8_t cut32[] = { 9 << 3 | 5, 1, 2, 3 };
	static const uint8_t cut_varint[] = { 3 << 3, 0x80 };
	/* A uint32 field sent as fixed64: protobuf-c refuses the wire type. */
	static const uint8_t wrong_wire[] = { 3 << 3 | 1, 1, 2, 3, 4, 5, 6, 7, 8 };
	struct {
		const uint8_t *p;
		size_t n;
		int fast;
	} cases[] = {
		{ bool_high, sizeof bool_high, 1 },	{ minus_one, sizeof minus_one, 1 },
		{ twice, sizeof twice, 1 },		{ too_long, sizeof too_long, 0 },
		{ zero_long, sizeof zero_long, 0 },	{ cut32, sizeof cut32, 0 },
		{ cut_varint, sizeof cut_varint, 0 },	{ wrong_wire, sizeof wrong_wire, 0 },
		{ (const uint8_t *)"", 0, 1 },
	};
	ProtobufCAllocator heap, none = { .alloc = no_alloc, .free = no_free };
	Bhflat__Scalars *m;

	(void)state;
	bh_fuzz_heap_allocator(&heap);
	assert_int_equal(bh__flat_plan(&bhflat__scalars__descriptor, &s), 1);
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		int fast;
		const char *why = bh_fuzz_flat_check(&s, cases[i].p, cases[i].n, &fast);

		if (why)
			fail_msg("case %zu: %s", i, why);
		assert_int_equal(fast, cases[i].fast);
	}
	/* The values themselves, not only agreement. */
	m = (Bhflat__Scalars *)bh__flat_unpack(&s, &heap, sizeof twice, twice);
	assert_non_null(m);
	assert_int_equal(m->u32, 150);
	protobuf_c_message_free_unpacked(&m->base, &heap);
	m = (Bhflat__Scalars *)bh__flat_unpack(&s, &heap, sizeof minus_one, minus_one);
	assert_non_null(m);
	assert_int_equal(m->i32, -1);
	protobuf_c_message_free_unpacked(&m->base, &heap);
	m = (Bhflat__Scalars *)bh__flat_unpack(&s, &heap, sizeof bool_high, bool_high);
	assert_non_null(m);
	assert_true(m->flag);
	protobuf_c_message_free_unpacked(&m->base, &heap);
	/* No memory: refused, for protobuf-c (and the channel's arena retry) to handle. */
	assert_null(bh__flat_unpack(&s, &none, sizeof twice, twice));
	/* proto2 defaults stay until a field comes, and then has_ is set. */
	assert_int_equal(bh__flat_plan(&bhflat2__optional__descriptor, &h), 1);
	{
		static const uint8_t one[] = { 2 << 3, 3 };
		Bhflat2__Optional *o = (Bhflat2__Optional *)bh__flat_unpack(&h, &heap, sizeof one, one);

		assert_non_null(o);
		assert_int_equal(o->i32, -5);
		assert_false(o->has_i32);
		assert_true(o->has_s64);
		assert_int_equal(o->s64, -2);
		protobuf_c_message_free_unpacked(&o->base, &heap);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_plans),
		cmocka_unit_test(test_pack_matches_protobuf_c),
		cmocka_unit_test(test_unpack_matches_protobuf_c),
		cmocka_unit_test(test_edges),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
