/*
 * The descriptor-driven mutator (fuzz/mutator.c): mutants of every
 * registered type decode (a type registered here, unknown to the mutator,
 * included), field-level mutations produce the edge values they promise,
 * outputs stay within bounds and are reproducible, and envelopes keep their
 * fd prefix in step with the header.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdlib.h>
#include <string.h>

#include "bulkhead.pb-c.h"
#include "fuzz/fuzz.h"
#include "fuzz_test.pb-c.h"
#include "testutil.h"

/* An application type the mutator has never heard of: registering it is all it takes. */
#define T_APP_RECT (BH_MSG_APP_BASE + 0x77)
#define MAXLEN 4096
#define ROUNDS 30000

static bh_registry *make_registry(void)
{
	bh_registry *reg;

	assert_int_equal(bh_fuzz_registry_create(&reg), 0);
	assert_int_equal(bh_registry_add(reg, T_APP_RECT, &bh__rect__descriptor, 0), 0);
	return reg;
}

/* The message a channel would deliver for this frame with nfds = header's, or NULL. */
static ProtobufCMessage *decode_valid(const bh_registry *reg, const uint8_t *p, size_t n,
				      const bh_msg_type_info **info)
{
	bh_header h;

	if (bh_header_decode(p, n, &h) < 0)
		return NULL;
	*info = bh_registry_lookup(reg, h.type);
	if (!*info || h.nfds > (*info)->max_fds || h.nfds < (*info)->min_fds)
		return NULL;
	return protobuf_c_message_unpack((*info)->desc, NULL, h.payload_len, p + BH_HEADER_SIZE);
}

/* A chain of mutants from an empty input, as a fuzzer without seeds would start. */
static void test_every_type_reached(void **state)
{
	bh_registry *reg = make_registry();
	size_t ntypes = bh_registry_count(reg);
	unsigned *per_type = calloc(ntypes, sizeof *per_type);
	uint8_t *buf = malloc(MAXLEN), *keep = malloc(MAXLEN);
	size_t n = 0, keep_n = 0;
	unsigned valid = 0, refused = 0;

	for (unsigned i = 0; i < ROUNDS; i++) {
		const bh_msg_type_info *info;
		ProtobufCMessage *m;

		/* Continue from a valid mutant most of the time, as coverage feedback would. */
		memcpy(buf, keep, keep_n);
		n = bh_fuzz_mutate(reg, buf, keep_n, MAXLEN, i);
		assert_true(n <= MAXLEN);
		m = decode_valid(reg, buf, n, &info);
		if (!m) {
			refused++;
			continue;
		}
		valid++;
		for (size_t k = 0; k < ntypes; k++) {
			if (bh_registry_at(reg, k) == info)
				per_type[k]++;
		}
		protobuf_c_message_free_unpacked(m, NULL);
		if (i % 3 == 0) {
			memcpy(keep, buf, n);
			keep_n = n;
		}
	}
	print_message("%u of %u mutants would be delivered, %u refused\n", valid, ROUNDS, refused);
	for (size_t k = 0; k < ntypes; k++) {
		const bh_msg_type_info *info = bh_registry_at(reg, k);

		if (per_type[k] < 50)
			fail_msg("type %u (%s) delivered only %u times", info->type, info->desc->name,
				 per_type[k]);
	}
	/* Mostly valid, so handlers are reached; broken often enough to test the validator. */
	assert_true(valid > ROUNDS / 2);
	assert_true(refused > ROUNDS / 20);
	free(per_type);
	free(buf);
	free(keep);
	bh_registry_destroy(reg);
}

struct seen {
	int enum_invalid, u32_max, i64_min_or_neg, many_leaves, long_text, dotdot, token16;
	int choice[4], child, unknown_field, has_cleared, map_entry, float_nan;
};

static void look(const Bhfuzz__AllKinds *ak, struct seen *s, int depth)
{
	if (ak->has_color && ak->color != BHFUZZ__COLOR__RED && ak->color != BHFUZZ__COLOR__GREEN &&
	    ak->color != BHFUZZ__COLOR__BLUE)
		s->enum_invalid++;
	if (ak->id == UINT32_MAX || (ak->has_f32 && ak->f32 == UINT32_MAX))
		s->u32_max++;
	if (ak->has_i64 && ak->i64 < 0)
		s->i64_min_or_neg++;
	if (ak->n_r_leaf >= 2)
		s->many_leaves++;
	if (ak->text && strlen(ak->text) >= 255)
		s->long_text++;
	if (ak->text && strstr(ak->text, ".."))
		s->dotdot++;
	if (ak->has_blob && ak->blob.len == BH_TOKEN_SIZE)
		s->token16++;
	if (ak->choice_case >= BHFUZZ__ALL_KINDS__CHOICE_C_U32 &&
	    ak->choice_case <= BHFUZZ__ALL_KINDS__CHOICE_C_BLOB)
		s->choice[ak->choice_case - BHFUZZ__ALL_KINDS__CHOICE_C_U32]++;
	if (ak->base.n_unknown_fields)
		s->unknown_field++;
	if (ak->n_counts)
		s->map_entry++;
	if (ak->has_fl && ak->fl != ak->fl)
		s->float_nan++;
	if (ak->child) {
		s->child++;
		if (depth < 8)
			look(ak->child, s, depth + 1);
	}
}

/* Field-level mutation of the message with every field kind. */
static void test_field_level_edges(void **state)
{
	bh_registry *reg = make_registry();
	uint8_t *buf = malloc(MAXLEN), *keep = malloc(MAXLEN);
	Bhfuzz__AllKinds ak = BHFUZZ__ALL_KINDS__INIT;
	Bhfuzz__Leaf leaf = BHFUZZ__LEAF__INIT;
	bh_header h = { .magic = BH_WIRE_MAGIC, .version = BH_PROTOCOL_VERSION,
			.type = BH_FUZZ_MSG_ALL_KINDS };
	struct seen s = { 0 };
	size_t n, keep_n;

	ak.req_leaf = &leaf;
	h.payload_len = (uint32_t)protobuf_c_message_pack(&ak.base, keep + BH_HEADER_SIZE);
	bh_header_encode(&h, keep);
	keep_n = BH_HEADER_SIZE + h.payload_len;

	for (unsigned i = 0; i < ROUNDS; i++) {
		const bh_msg_type_info *info;
		ProtobufCMessage *m;

		memcpy(buf, keep, keep_n);
		n = bh_fuzz_mutate(reg, buf, keep_n, MAXLEN, i);
		m = decode_valid(reg, buf, n, &info);
		if (!m)
			continue;
		if (info->type == BH_FUZZ_MSG_ALL_KINDS) {
			look((const Bhfuzz__AllKinds *)m, &s, 0);
			if (i % 2 == 0) {
				memcpy(keep, buf, n);
				keep_n = n;
			}
		}
		protobuf_c_message_free_unpacked(m, NULL);
	}
	assert_true(s.enum_invalid > 0);
	assert_true(s.u32_max > 0);
	assert_true(s.i64_min_or_neg > 0);
	assert_true(s.many_leaves > 0);
	assert_true(s.long_text > 0);
	assert_true(s.dotdot > 0);
	assert_true(s.token16 > 0);
	for (int k = 0; k < 4; k++)
		assert_true(s.choice[k] > 0);
	assert_true(s.child > 0);
	assert_true(s.unknown_field > 0);
	assert_true(s.map_entry > 0);
	assert_true(s.float_nan > 0);
	free(buf);
	free(keep);
	bh_registry_destroy(reg);
}

/* Any size, any room (even less than a header), same seed same result. */
static void test_bounds_and_determinism(void **state)
{
	bh_registry *reg = make_registry();
	uint8_t a[256], b[256], in[256], out[256];
	uint64_t x = 88172645463325252ull;

	for (unsigned i = 0; i < 20000; i++) {
		size_t size, max, na, nb;

		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		max = x % sizeof a;
		size = (x >> 16) % (max + 1);
		for (size_t k = 0; k < size; k++)
			in[k] = (uint8_t)(x >> (k % 56));
		if (i % 3 == 0 && size >= BH_HEADER_SIZE) {
			bh_header h = { .magic = BH_WIRE_MAGIC, .version = 1, .type = 1 + (x >> 40) % 18,
					.payload_len = (uint32_t)(size - BH_HEADER_SIZE) };

			bh_header_encode(&h, in);
		}
		memcpy(a, in, size);
		memcpy(b, in, size);
		na = bh_fuzz_mutate(reg, a, size, max, i);
		nb = bh_fuzz_mutate(reg, b, size, max, i);
		assert_true(na <= max);
		assert_int_equal(na, nb);
		assert_memory_equal(a, b, na);
		na = bh_fuzz_mutate_envelope(reg, a, size, max, i);
		assert_true(na <= max);
		na = bh_fuzz_crossover(reg, in, size, b, nb, out, max, i);
		assert_true(na <= max);
		na = bh_fuzz_crossover_envelope(reg, in, size, b, nb, out, max, i);
		assert_true(na <= max);
	}
	bh_registry_destroy(reg);
}

static void test_envelope(void **state)
{
	bh_registry *reg = make_registry();
	uint8_t buf[MAXLEN], keep[MAXLEN];
	bh_fuzz_envelope env;
	size_t n, keep_n;
	unsigned valid = 0, in_step = 0, replies = 0, replies_call = 0;

	/* Parse and build are inverse; short inputs carry fewer fds. */
	memcpy(buf, "\x13\x00\x01\x02" "frame", 9);
	bh_fuzz_envelope_parse(buf, 9, &env);
	assert_int_equal(env.nfds, 3);
	assert_true(env.ctl & BH_FUZZ_CTL_CALL);
	assert_int_equal(env.frame_len, 5);
	assert_memory_equal(env.frame, "frame", 5);
	assert_int_equal(bh_fuzz_envelope_build(&env, keep, sizeof keep), 9);
	assert_memory_equal(keep, buf, 9);
	bh_fuzz_envelope_parse((const uint8_t *)"\x0f\x01", 2, &env);
	assert_int_equal(env.nfds, 1);
	assert_int_equal(env.frame_len, 0);
	bh_fuzz_envelope_parse(NULL, 0, &env);
	assert_int_equal(env.nfds, 0);

	keep_n = 0;
	for (unsigned i = 0; i < ROUNDS; i++) {
		const bh_msg_type_info *info;
		ProtobufCMessage *m;

		memcpy(buf, keep, keep_n);
		n = bh_fuzz_mutate_envelope(reg, buf, keep_n, MAXLEN, i);
		assert_true(n <= MAXLEN);
		bh_fuzz_envelope_parse(buf, n, &env);
		m = decode_valid(reg, env.frame, env.frame_len, &info);
		if (!m)
			continue;
		valid++;
		if (env.frame[20] == env.nfds)
			in_step++;
		if (env.frame[6] & BH_FLAG_REPLY) {
			replies++;
			if (env.ctl & BH_FUZZ_CTL_CALL)
				replies_call++;
		}
		protobuf_c_message_free_unpacked(m, NULL);
		if (i % 3 == 0) {
			memcpy(keep, buf, n);
			keep_n = n;
		}
	}
	assert_true(valid > ROUNDS / 3);
	assert_true(in_step > valid * 6 / 10);
	assert_true(replies > 0 && replies_call > replies / 2);
	bh_registry_destroy(reg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_every_type_reached),
		cmocka_unit_test(test_field_level_edges),
		cmocka_unit_test(test_bounds_and_determinism),
		cmocka_unit_test(test_envelope),
	};

	bh_test_deadline(300);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
