/*
 * The descriptor-driven mutator: frames are decoded with the protobuf-c
 * descriptor of their registered type, mutated at the field level and
 * re-encoded, so that most mutants pass the decoder and reach handlers,
 * while a share of them are deliberately broken at the header or byte level.
 *
 * Everything decoded or made here lives in a pool freed at the end of each
 * call: protobuf-c's own free would try to free defaults and our additions.
 */
#include <errno.h>
#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "common/internal.h"
#include "fuzz/fuzz.h"

#define POOL_CHUNK (64u * 1024)
/* Worst case a 64 KiB payload decodes to: many tiny sub-messages. */
#define POOL_CAP (48u * 1024 * 1024)
#define MAX_DEPTH 6
/* Most elements a mutation adds to a repeated field at once. */
#define MAX_BURST 256

/* A function, not BH_MIN: its arguments are often random draws, evaluated once. */
static size_t zmin(size_t a, size_t b)
{
	return a < b ? a : b;
}

/* ---- randomness ------------------------------------------------------------ */

struct rng {
	uint64_t s;
};

static uint64_t rnd(struct rng *r)
{
	/* splitmix64: tiny, and good enough to pick mutations. */
	uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static size_t below(struct rng *r, size_t n)
{
	return n ? (size_t)(rnd(r) % n) : 0;
}

static bool chance(struct rng *r, unsigned pct)
{
	return below(r, 100) < pct;
}

/* ---- a pool allocator for decoded and built messages ----------------------- */

struct chunk {
	struct chunk *next;
	size_t size, used;
	_Alignas(16) uint8_t data[];
};

struct pool {
	struct chunk *head;
	size_t total;
	ProtobufCAllocator alloc;
};

static void *pool_alloc(void *ud, size_t size)
{
	struct pool *p = ud;
	size_t need = (size + 15) & ~(size_t)15;
	struct chunk *c = p->head;

	if (need < size)
		return NULL;
	if (!c || c->size - c->used < need) {
		size_t csize = need > POOL_CHUNK ? need : POOL_CHUNK;

		if (p->total + csize > POOL_CAP)
			return NULL;
		c = malloc(sizeof *c + csize);
		if (!c)
			return NULL;
		c->next = p->head;
		c->size = csize;
		c->used = 0;
		p->head = c;
		p->total += csize;
	}
	c->used += need;
	return c->data + c->used - need;
}

static void pool_free(void *ud, void *ptr)
{
	(void)ud;
	(void)ptr;
}

static void pool_init(struct pool *p)
{
	p->head = NULL;
	p->total = 0;
	p->alloc.alloc = pool_alloc;
	p->alloc.free = pool_free;
	p->alloc.allocator_data = p;
}

static void pool_fini(struct pool *p)
{
	while (p->head) {
		struct chunk *next = p->head->next;

		free(p->head);
		p->head = next;
	}
	p->total = 0;
}

/* ---- context ----------------------------------------------------------------- */

struct mctx {
	struct rng rng;
	struct pool pool;
	size_t budget; /* payload bytes a mutation may add */
};

static void *palloc(struct mctx *c, size_t n)
{
	return pool_alloc(&c->pool, n ? n : 1);
}

static ProtobufCMessage *new_message(struct mctx *c, const ProtobufCMessageDescriptor *d)
{
	ProtobufCMessage *m = palloc(c, d->sizeof_message);

	if (m)
		d->message_init(m);
	return m;
}

/* ---- interesting values ------------------------------------------------------ */

static const uint64_t int_edges[] = {
	0, 1, 2, 3, 7, 8, 15, 16, 17, 24, 31, 32, 63, 64, 100, 127, 128, 255, 256, 1000,
	1023, 1024, 4095, 4096, 4097, 0x7fff, 0x8000, 0xffff, 0x10000, BH_MAX_PAYLOAD,
	BH_MAX_MESSAGE, BH_MAX_MESSAGE + 1, 1u << 20, 1u << 24, 0x7fffffff, 0x80000000,
	0xfffffffe, 0xffffffff, 0x100000000ull, 1ull << 40, 1ull << 52, 0x7fffffffffffffffull,
	0x8000000000000000ull, 0xfffffffffffffffeull, 0xffffffffffffffffull,
	0xffffffff80000000ull, 0xffffffff7fffffffull,
};

static const double float_edges[] = {
	0.0, -0.0, 1.0, -1.0, 0.5, 1e-310, -1e-310, 1e308, -1e308, FLT_MAX, -FLT_MAX, FLT_MIN,
	DBL_MAX, DBL_MIN, 4096.0, 65536.0, 1e10, 2147483648.0, 4294967296.0, 9.3e18,
};

static const char *const str_tokens[] = {
	"", "renderer", "gpu", "broker", "file", ".", "..", "../", "/..", "/", "//",
	"../../../../../../../../etc/passwd", "/etc/shadow", "/proc/self/mem", "a/../../b",
	"./a", "pages/../..", "%s%s%n%x", "\xff\xfe", "\xc3\x28", "\xed\xa0\x80",
	"\xe2\x80\xae", "\xf4\x90\x80\x80", "about:crash", "about:hang", "about:badmessage",
	"seccomp", "userns", "caps", "\n", " ", "A",
};

static const struct {
	const char *s;
	size_t len;
} byte_tokens[] = {
	{ "", 0 }, { "\0", 1 }, { "a\0b", 3 }, { "../\0", 4 }, { "/etc/passwd\0x", 13 },
	{ "\xff\xff\xff\xff", 4 }, { "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 16 },
	{ "BHD1", 4 }, { "\x42\x48\x44\x31\x01\x00", 6 },
};

/* Harness-provided byte strings (a token the receiver checks, a worker name, ...). */
static const bh_fuzz_token *user_tokens;
static size_t n_user_tokens;

void bh_fuzz_set_tokens(const bh_fuzz_token *tokens, size_t n)
{
	user_tokens = tokens;
	n_user_tokens = n;
}

static uint64_t mutate_int(struct mctx *c, uint64_t v)
{
	struct rng *r = &c->rng;

	switch (below(r, 9)) {
	case 0:
	case 1:
		return int_edges[below(r, BH_ARRAY_SIZE(int_edges))];
	case 2:
		return below(r, 9); /* ids, slots, counts */
	case 3:
		return v + 1 + below(r, 4);
	case 4:
		return v - 1 - below(r, 4);
	case 5:
		return v ^ (1ull << below(r, 64));
	case 6:
		return 1ull << below(r, 64);
	case 7:
		return (1ull << below(r, 64)) - 1;
	default:
		return rnd(r);
	}
}

static double mutate_double(struct mctx *c, double v)
{
	struct rng *r = &c->rng;

	switch (below(r, 5)) {
	case 0:
		return NAN;
	case 1:
		return below(r, 2) ? INFINITY : -INFINITY;
	case 2:
		return v * -2.0 + 1.0;
	case 3:
		return (double)(int64_t)rnd(r) / (double)(1 + below(r, 1000));
	default:
		return float_edges[below(r, BH_ARRAY_SIZE(float_edges))];
	}
}

/* ---- strings and bytes --------------------------------------------------------- */

/* Picks a length for a long run that fits the remaining budget. */
static size_t long_len(struct mctx *c)
{
	static const size_t lens[] = { 15, 16, 17, 255, 256, 1023, 1024, 4095, 4096, 8192, 65535 };
	size_t n = lens[below(&c->rng, BH_ARRAY_SIZE(lens))];

	return n < c->budget ? n : c->budget;
}

/* a[0..pos) + b[0..blen) + a[pos..alen), NUL-terminated, in the pool. */
static uint8_t *splice(struct mctx *c, const uint8_t *a, size_t alen, size_t pos, const uint8_t *b,
		       size_t blen)
{
	uint8_t *out = palloc(c, alen + blen + 1);

	if (!out)
		return NULL;
	memcpy(out, a, pos);
	memcpy(out + pos, b, blen);
	memcpy(out + pos + blen, a + pos, alen - pos);
	out[alen + blen] = 0;
	return out;
}

/*
 * Produces a new byte string from `old`: replaced by or spliced with a
 * token, cut, made long, doubled, a bit flipped or random bytes added.
 * `nul_ok` is false for C strings, which end at their first NUL. Returns the
 * pool copy (NUL-terminated either way) and its length in *out_len.
 */
static uint8_t *mutate_blob(struct mctx *c, const uint8_t *old, size_t old_len, bool nul_ok,
			    size_t *out_len)
{
	struct rng *r = &c->rng;
	const uint8_t *tok;
	size_t tok_len, len = 0;
	uint8_t *out = NULL;

	/* A token: from the harness, a path/name/encoding trap, or binary. */
	if (n_user_tokens && chance(r, 40)) {
		const bh_fuzz_token *t = &user_tokens[below(r, n_user_tokens)];

		tok = t->data;
		tok_len = t->len;
	} else if (!nul_ok || chance(r, 60)) {
		tok = (const uint8_t *)str_tokens[below(r, BH_ARRAY_SIZE(str_tokens))];
		tok_len = strlen((const char *)tok);
	} else {
		size_t i = below(r, BH_ARRAY_SIZE(byte_tokens));

		tok = (const uint8_t *)byte_tokens[i].s;
		tok_len = byte_tokens[i].len;
	}
	if (tok_len > c->budget)
		tok_len = 0;

	switch (below(r, 9)) {
	case 0:
	case 1: /* replace */
		len = tok_len;
		out = splice(c, tok, tok_len, tok_len, (const uint8_t *)"", 0);
		break;
	case 2: /* insert */
		len = old_len + tok_len;
		out = splice(c, old, old_len, below(r, old_len + 1), tok, tok_len);
		break;
	case 3: /* cut */
		len = below(r, old_len + 1);
		out = splice(c, old, len, len, (const uint8_t *)"", 0);
		break;
	case 4: { /* a long run of one byte */
		uint8_t fill = chance(r, 70) ? 'A' : (uint8_t)(1 + below(r, 255));

		len = long_len(c);
		out = palloc(c, len + 1);
		if (out) {
			memset(out, fill, len);
			out[len] = 0;
		}
		break;
	}
	case 5: /* doubled */
		if (old_len <= c->budget) {
			len = 2 * old_len;
			out = splice(c, old, old_len, old_len, old, old_len);
		} else {
			len = old_len;
			out = splice(c, old, old_len, old_len, (const uint8_t *)"", 0);
		}
		break;
	case 6: /* a bit flipped */
		len = old_len;
		out = splice(c, old, old_len, old_len, (const uint8_t *)"", 0);
		if (out && old_len)
			out[below(r, old_len)] ^= (uint8_t)(1u << below(r, 8));
		break;
	default: { /* random bytes added */
		uint8_t rb[16];
		size_t n = zmin(1 + below(r, sizeof rb), c->budget);

		for (size_t i = 0; i < n; i++)
			rb[i] = (uint8_t)(chance(r, 60) ? ' ' + below(r, 95) : below(r, 256));
		len = old_len + n;
		out = splice(c, old, old_len, below(r, old_len + 1), rb, n);
	}
	}
	if (!out)
		return NULL;
	if (!nul_ok)
		len = strlen((const char *)out);
	c->budget -= zmin(c->budget, len > old_len ? len - old_len : 0);
	*out_len = len;
	return out;
}

/* ---- fields -------------------------------------------------------------------- */

static size_t elt_size(ProtobufCType t)
{
	switch (t) {
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64:
	case PROTOBUF_C_TYPE_DOUBLE:
		return 8;
	case PROTOBUF_C_TYPE_BOOL:
		return sizeof(protobuf_c_boolean);
	case PROTOBUF_C_TYPE_STRING:
	case PROTOBUF_C_TYPE_MESSAGE:
		return sizeof(void *);
	case PROTOBUF_C_TYPE_BYTES:
		return sizeof(ProtobufCBinaryData);
	default:
		return 4; /* 32-bit integers, float, enum */
	}
}

static void mutate_message(struct mctx *c, ProtobufCMessage *m, int depth);

/* Writes the zero value of `f`'s type at `p` (a oneof member changing case, a new element). */
static void zero_value(const ProtobufCFieldDescriptor *f, void *p)
{
	if (f->type == PROTOBUF_C_TYPE_STRING)
		*(const char **)p = "";
	else
		memset(p, 0, elt_size(f->type));
}

static void mutate_enum(struct mctx *c, const ProtobufCFieldDescriptor *f, int32_t *p)
{
	const ProtobufCEnumDescriptor *e = f->descriptor;
	struct rng *r = &c->rng;

	if (e && e->n_values && chance(r, 75)) {
		*p = e->values[below(r, e->n_values)].value;
		return;
	}
	switch (below(r, 4)) {
	case 0:
		*p = -1;
		break;
	case 1:
		*p = INT32_MAX;
		break;
	case 2: {
		int32_t mx = 0;

		for (unsigned i = 0; e && i < e->n_values; i++)
			mx = BH_MAX(mx, e->values[i].value);
		*p = mx + 1;
		break;
	}
	default:
		*p = (int32_t)mutate_int(c, (uint64_t)(int64_t)*p);
	}
}

/* Mutates one value of field `f` stored at `p`. */
static void mutate_value(struct mctx *c, const ProtobufCFieldDescriptor *f, void *p, int depth)
{
	struct rng *r = &c->rng;

	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32: {
		int32_t v;

		memcpy(&v, p, 4);
		v = (int32_t)(uint32_t)mutate_int(c, (uint64_t)(int64_t)v);
		memcpy(p, &v, 4);
		break;
	}
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32: {
		uint32_t v;

		memcpy(&v, p, 4);
		v = (uint32_t)mutate_int(c, v);
		memcpy(p, &v, 4);
		break;
	}
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: {
		uint64_t v;

		memcpy(&v, p, 8);
		v = mutate_int(c, v);
		memcpy(p, &v, 8);
		break;
	}
	case PROTOBUF_C_TYPE_FLOAT: {
		float v;

		memcpy(&v, p, 4);
		v = (float)mutate_double(c, v);
		memcpy(p, &v, 4);
		break;
	}
	case PROTOBUF_C_TYPE_DOUBLE: {
		double v;

		memcpy(&v, p, 8);
		v = mutate_double(c, v);
		memcpy(p, &v, 8);
		break;
	}
	case PROTOBUF_C_TYPE_BOOL: {
		protobuf_c_boolean *b = p;

		*b = chance(r, 90) ? !*b : (protobuf_c_boolean)mutate_int(c, 0);
		break;
	}
	case PROTOBUF_C_TYPE_ENUM: {
		int32_t v;

		memcpy(&v, p, 4);
		mutate_enum(c, f, &v);
		memcpy(p, &v, 4);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *old = *(const char **)p;
		size_t len;
		uint8_t *s = mutate_blob(c, (const uint8_t *)(old ? old : ""), old ? strlen(old) : 0,
					 false, &len);

		if (s)
			*(char **)p = (char *)s;
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		ProtobufCBinaryData *bd = p;
		size_t len;
		uint8_t *s = mutate_blob(c, bd->data ? bd->data : (const uint8_t *)"",
					 bd->data ? bd->len : 0, true, &len);

		if (s) {
			bd->data = s;
			bd->len = len;
		}
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		ProtobufCMessage **sub = p;

		if (!*sub || chance(r, 10)) {
			*sub = new_message(c, f->descriptor);
			if (*sub && depth < MAX_DEPTH && chance(r, 60))
				mutate_message(c, *sub, depth + 1);
		} else if (f->label != PROTOBUF_C_LABEL_REQUIRED && chance(r, 10)) {
			*sub = NULL;
		} else if (depth < MAX_DEPTH) {
			mutate_message(c, *sub, depth + 1);
		}
		break;
	}
	}
}

static void mutate_repeated(struct mctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f,
			    int depth)
{
	struct rng *r = &c->rng;
	size_t *n = (size_t *)((uint8_t *)m + f->quantifier_offset);
	uint8_t **arr = (uint8_t **)((uint8_t *)m + f->offset);
	size_t esz = elt_size(f->type);
	unsigned op = (unsigned)below(r, 10);

	if (*n == 0 || op <= 3 || op == 9) {
		/* Append one new element, or a burst of copies of one. */
		size_t k = op == 9 ? 2 + below(r, MAX_BURST) : 1;
		uint8_t *na;

		k = zmin(k, 1 + c->budget / 2);
		na = palloc(c, (*n + k) * esz);
		if (!na)
			return;
		if (*n)
			memcpy(na, *arr, *n * esz);
		zero_value(f, na + *n * esz);
		if (f->type == PROTOBUF_C_TYPE_MESSAGE) {
			ProtobufCMessage *sub = new_message(c, f->descriptor);

			memcpy(na + *n * esz, &sub, sizeof sub);
			if (sub && depth < MAX_DEPTH && chance(r, 70))
				mutate_message(c, sub, depth + 1);
		} else {
			mutate_value(c, f, na + *n * esz, depth);
		}
		for (size_t i = 1; i < k; i++)
			memcpy(na + (*n + i) * esz, na + *n * esz, esz);
		*arr = na;
		*n += k;
		c->budget -= zmin(c->budget, k);
	} else if (op <= 5) {
		/* Remove one. */
		size_t i = below(r, *n);

		memmove(*arr + i * esz, *arr + (i + 1) * esz, (*n - i - 1) * esz);
		(*n)--;
	} else if (op == 6) {
		/* Duplicate one (shallow: pack only reads). */
		uint8_t *na = palloc(c, (*n + 1) * esz);
		size_t i = below(r, *n);

		if (!na)
			return;
		memcpy(na, *arr, *n * esz);
		memcpy(na + *n * esz, *arr + i * esz, esz);
		*arr = na;
		(*n)++;
	} else if (op == 7 && chance(r, 30)) {
		*n = 0;
	} else {
		mutate_value(c, f, *arr + below(r, *n) * esz, depth);
	}
}

/* Sets the presence of `f` where protobuf-c keeps one; returns false to skip the value. */
static bool set_presence(struct mctx *c, ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	uint8_t *q = (uint8_t *)m + f->quantifier_offset;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t cs;

		memcpy(&cs, q, sizeof cs);
		if (cs != f->id) {
			/* The union holds another member's bytes: start from a clean value. */
			zero_value(f, (uint8_t *)m + f->offset);
			cs = f->id;
			memcpy(q, &cs, sizeof cs);
		} else if (chance(&c->rng, 10)) {
			cs = 0;
			memcpy(q, &cs, sizeof cs);
			return false;
		}
		return true;
	}
	if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
	    f->type != PROTOBUF_C_TYPE_MESSAGE) {
		protobuf_c_boolean has = !chance(&c->rng, 10);

		memcpy(q, &has, sizeof has);
		return has;
	}
	return true;
}

static void add_unknown_field(struct mctx *c, ProtobufCMessage *m)
{
	static const ProtobufCWireType wts[] = { PROTOBUF_C_WIRE_TYPE_VARINT,
						 PROTOBUF_C_WIRE_TYPE_64BIT,
						 PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED,
						 PROTOBUF_C_WIRE_TYPE_32BIT };
	const ProtobufCMessageDescriptor *d = m->descriptor;
	struct rng *r = &c->rng;
	ProtobufCMessageUnknownField *uf;
	uint8_t *data;
	size_t len = 0;
	uint32_t tag;

	/* Either a number the descriptor lacks, or a known one with the wrong wire type. */
	if (d->n_fields && chance(r, 40))
		tag = d->fields[below(r, d->n_fields)].id;
	else
		tag = chance(r, 80) ? (uint32_t)(100 + below(r, 1000)) : (1u << 29) - 1;
	uf = palloc(c, (m->n_unknown_fields + 1) * sizeof *uf);
	data = palloc(c, 32);
	if (!uf || !data)
		return;
	if (m->n_unknown_fields)
		memcpy(uf, m->unknown_fields, m->n_unknown_fields * sizeof *uf);
	uf[m->n_unknown_fields].tag = tag;
	uf[m->n_unknown_fields].wire_type = wts[below(r, BH_ARRAY_SIZE(wts))];
	switch (uf[m->n_unknown_fields].wire_type) {
	case PROTOBUF_C_WIRE_TYPE_VARINT: {
		uint64_t v = mutate_int(c, 0);

		do {
			data[len++] = (uint8_t)((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
			v >>= 7;
		} while (v);
		break;
	}
	case PROTOBUF_C_WIRE_TYPE_64BIT:
	case PROTOBUF_C_WIRE_TYPE_32BIT:
		len = uf[m->n_unknown_fields].wire_type == PROTOBUF_C_WIRE_TYPE_32BIT ? 4 : 8;
		for (size_t i = 0; i < len; i++)
			data[i] = (uint8_t)rnd(r);
		break;
	default: {
		/* The stored bytes include the length prefix. */
		size_t k = below(r, 20);

		data[len++] = (uint8_t)k;
		for (size_t i = 0; i < k; i++)
			data[len++] = (uint8_t)rnd(r);
	}
	}
	uf[m->n_unknown_fields].len = len;
	uf[m->n_unknown_fields].data = data;
	m->unknown_fields = uf;
	m->n_unknown_fields++;
}

static void clear_field(ProtobufCMessage *m, const ProtobufCFieldDescriptor *f)
{
	uint8_t *q = (uint8_t *)m + f->quantifier_offset;

	if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		size_t zero = 0;

		memcpy(q, &zero, sizeof zero);
	} else if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t cs;

		memcpy(&cs, q, sizeof cs);
		if (cs == f->id) {
			cs = 0;
			memcpy(q, &cs, sizeof cs);
		}
	} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
		   f->type != PROTOBUF_C_TYPE_MESSAGE) {
		protobuf_c_boolean has = 0;

		memcpy(q, &has, sizeof has);
	} else if (f->label != PROTOBUF_C_LABEL_REQUIRED) {
		zero_value(f, (uint8_t *)m + f->offset);
	}
}

static void mutate_message(struct mctx *c, ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;
	struct rng *r = &c->rng;
	unsigned ops = depth == 0 ? 1 + (unsigned)below(r, 3) : 1;

	for (unsigned i = 0; i < ops; i++) {
		const ProtobufCFieldDescriptor *f;
		unsigned pick = (unsigned)below(r, 100);

		if (d->n_fields == 0 || pick < 4) {
			add_unknown_field(c, m);
			continue;
		}
		f = &d->fields[below(r, d->n_fields)];
		if (pick < 9) {
			clear_field(m, f);
		} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			mutate_repeated(c, m, f, depth);
		} else if (set_presence(c, m, f)) {
			mutate_value(c, f, (uint8_t *)m + f->offset, depth);
		}
	}
}

/* Gives required sub-messages a value, so that what we encode can decode. */
static void fill_required(struct mctx *c, ProtobufCMessage *m, int depth)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < d->n_fields && depth < 2 * MAX_DEPTH; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		uint8_t *p = (uint8_t *)m + f->offset;

		if (f->type != PROTOBUF_C_TYPE_MESSAGE)
			continue;
		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n;
			ProtobufCMessage **arr;

			memcpy(&n, (uint8_t *)m + f->quantifier_offset, sizeof n);
			memcpy(&arr, p, sizeof arr);
			for (size_t k = 0; k < n; k++) {
				if (!arr[k])
					arr[k] = new_message(c, f->descriptor);
				if (arr[k])
					fill_required(c, arr[k], depth + 1);
			}
			continue;
		}
		ProtobufCMessage *sub;

		memcpy(&sub, p, sizeof sub);
		if (!sub && f->label == PROTOBUF_C_LABEL_REQUIRED) {
			sub = new_message(c, f->descriptor);
			memcpy(p, &sub, sizeof sub);
		}
		if (sub && (!(f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) ||
			    *(uint32_t *)((uint8_t *)m + f->quantifier_offset) == f->id))
			fill_required(c, sub, depth + 1);
	}
}

/* ---- frames --------------------------------------------------------------------- */

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

static void put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t pick_request_id(struct rng *r)
{
	static const uint32_t ids[] = { 2, 3, 7, 64, 0x7fffffff, 0x80000000, 0xffffffff };

	/* 1 is what a harness with an outstanding call has issued. */
	return chance(r, 60) ? 1 : ids[below(r, BH_ARRAY_SIZE(ids))];
}

/* Writes a valid header for `info` over frame[0..BH_HEADER_SIZE), keeping plausible old values. */
static void fix_header(struct mctx *c, const bh_msg_type_info *info, const uint8_t *old,
		       size_t old_size, uint8_t *frame, size_t payload_len)
{
	struct rng *r = &c->rng;
	bh_header h = { .magic = BH_WIRE_MAGIC, .version = BH_PROTOCOL_VERSION, .type = info->type,
			.payload_len = (uint32_t)payload_len };
	unsigned old_nfds = old_size >= BH_HEADER_SIZE ? old[20] : 0;
	/* BH_FLAG_MORE is the datagram's business: coalesce() sets it again. */
	uint16_t old_flags = old_size >= BH_HEADER_SIZE ?
				     (uint16_t)((old[6] | (old[7] << 8)) & ~BH_FLAG_MORE) : 0;
	uint32_t old_id = old_size >= BH_HEADER_SIZE ? get32(old + 12) : 0;
	bool old_ok = old_size >= BH_HEADER_SIZE && !(old_flags & ~BH_FLAGS_KNOWN) &&
		      old_flags != BH_FLAGS_KNOWN && ((old_flags != 0) == (old_id != 0));

	if (old_ok && chance(r, 80)) {
		h.flags = old_flags;
		h.request_id = old_id;
	} else {
		unsigned p = (unsigned)below(r, 100);

		if (p < 55) {
			h.flags = 0;
		} else if (p < 80) {
			h.flags = BH_FLAG_REQUEST;
			h.request_id = pick_request_id(r);
		} else {
			h.flags = BH_FLAG_REPLY;
			h.request_id = pick_request_id(r);
		}
	}
	if (info->type == BH_MSG_ERROR && !(h.flags & BH_FLAG_REPLY) && chance(r, 80)) {
		/* Only valid as a reply. */
		h.flags = BH_FLAG_REPLY;
		h.request_id = pick_request_id(r);
	}
	if (old_nfds >= info->min_fds && old_nfds <= info->max_fds && chance(r, 70))
		h.nfds = (uint8_t)old_nfds;
	else if (info->max_fds && chance(r, 50))
		h.nfds = (uint8_t)info->max_fds;
	else
		h.nfds = (uint8_t)(info->min_fds + below(r, info->max_fds - info->min_fds + 1));
	bh_header_encode(&h, frame);
}

/* One deliberate header or framing fault; returns the new size. */
static size_t break_frame(struct mctx *c, const bh_registry *reg, uint8_t *frame, size_t size,
			  size_t max)
{
	struct rng *r = &c->rng;

	switch (below(r, 11)) {
	case 0:
		frame[below(r, 4)] ^= (uint8_t)(1 + below(r, 255)); /* magic */
		break;
	case 1:
		frame[4] = (uint8_t)(chance(r, 50) ? 0 : 2 + below(r, 254)); /* version */
		break;
	case 2: /* flags: unknown bit, both, or a request id that disagrees */
		switch (below(r, 3)) {
		case 0:
			frame[6] |= (uint8_t)(1u << (2 + below(r, 6)));
			break;
		case 1:
			frame[6] |= BH_FLAG_REQUEST | BH_FLAG_REPLY;
			break;
		default:
			put32(frame + 12, get32(frame + 12) ? 0 : 1 + (uint32_t)below(r, 8));
		}
		break;
	case 3:
		frame[21 + below(r, 3)] = (uint8_t)(1 + below(r, 255)); /* reserved */
		break;
	case 4: { /* payload_len */
		uint32_t pl = get32(frame + 16);

		put32(frame + 16, chance(r, 50) ? pl + (chance(r, 50) ? 1 : -1u) : (uint32_t)rnd(r));
		break;
	}
	case 5: /* nfds off by one either way, or beyond the protocol's limit */
		if (chance(r, 40))
			frame[20] = (uint8_t)(frame[20] + 1u);
		else if (chance(r, 60))
			frame[20] = (uint8_t)(frame[20] - 1u);
		else
			frame[20] = (uint8_t)(BH_MAX_FDS + 1 + below(r, 247));
		break;
	case 6: { /* a type nobody registered */
		static const uint32_t bad[] = { 0, BH_MSG_APP_BASE - 1, BH_MSG_APP_BASE + 0x100,
						 0xffffffff, 17 };
		uint32_t t = bad[below(r, BH_ARRAY_SIZE(bad))];

		if (!bh_registry_lookup(reg, t))
			put32(frame + 8, t);
		break;
	}
	case 7: /* cut */
		return below(r, size);
	case 8: { /* trailing garbage */
		size_t k = zmin(1 + below(r, 16), max - size);

		for (size_t i = 0; i < k; i++)
			frame[size + i] = (uint8_t)rnd(r);
		return size + k;
	}
	case 9: { /* a payload byte flipped: decoder errors in otherwise good frames */
		if (size > BH_HEADER_SIZE)
			frame[BH_HEADER_SIZE + below(r, size - BH_HEADER_SIZE)] ^=
				(uint8_t)(1u << below(r, 8));
		break;
	}
	default: { /* an oversized frame (only the kernel-visible size matters) */
		size_t want = BH_MAX_MESSAGE + 1 + below(r, 64);

		if (want > size && want <= max) {
			memset(frame + size, 0, want - size);
			put32(frame + 16, (uint32_t)(want - BH_HEADER_SIZE));
			return want;
		}
		frame[below(r, size)] ^= 0x80;
	}
	}
	return size;
}

/* Byte-level mutation when libFuzzer's is not linked (replay, AFL++). */
static size_t bytes_mutate(struct mctx *c, uint8_t *data, size_t size, size_t max)
{
	struct rng *r = &c->rng;
	unsigned n = 1 + (unsigned)below(r, 4);

	for (unsigned k = 0; k < n; k++) {
		switch (below(r, 5)) {
		case 0:
			if (size)
				data[below(r, size)] ^= (uint8_t)(1u << below(r, 8));
			break;
		case 1:
			if (size)
				data[below(r, size)] = (uint8_t)rnd(r);
			break;
		case 2:
			if (size < max) { /* insert a byte */
				size_t at = below(r, size + 1);

				memmove(data + at + 1, data + at, size - at);
				data[at] = (uint8_t)rnd(r);
				size++;
			}
			break;
		case 3:
			if (size) { /* erase a run */
				size_t at = below(r, size), len = 1 + below(r, zmin(size - at, 8));

				memmove(data + at, data + at + len, size - at - len);
				size -= len;
			}
			break;
		default:
			if (size >= 4) { /* an edge value over 4 bytes */
				size_t at = below(r, size - 3);

				put32(data + at, (uint32_t)int_edges[below(r, BH_ARRAY_SIZE(int_edges))]);
			}
		}
	}
	return size;
}

static size_t byte_level(struct mctx *c, uint8_t *data, size_t size, size_t max)
{
	if (LLVMFuzzerMutate)
		return LLVMFuzzerMutate(data, size, max);
	return bytes_mutate(c, data, size, max);
}

/*
 * Decodes data as a frame of a registered type (possibly switching to
 * another one). Returns the message, never NULL unless out of memory, and
 * the type it belongs to in *info.
 */
static ProtobufCMessage *decode_frame(struct mctx *c, const bh_registry *reg, const uint8_t *data,
				      size_t size, bool keep_type, const bh_msg_type_info **info)
{
	const bh_msg_type_info *ti = NULL;
	ProtobufCMessage *m = NULL;
	size_t count = bh_registry_count(reg);

	if (size >= BH_HEADER_SIZE)
		ti = bh_registry_lookup(reg, get32(data + 8));
	if (!ti || !keep_type)
		ti = bh_registry_at(reg, below(&c->rng, count));
	if (!ti)
		return NULL;
	if (size > BH_HEADER_SIZE)
		m = protobuf_c_message_unpack(ti->desc, &c->pool.alloc, size - BH_HEADER_SIZE,
					      data + BH_HEADER_SIZE);
	if (!m)
		m = new_message(c, ti->desc);
	*info = ti;
	return m;
}

/* Packs `m` behind a fixed header into out[0..max); returns the size or 0 if it does not fit. */
static size_t encode_frame(struct mctx *c, const bh_msg_type_info *info, ProtobufCMessage *m,
			   const uint8_t *old, size_t old_size, uint8_t *out, size_t max)
{
	size_t plen;

	fill_required(c, m, 0);
	plen = protobuf_c_message_get_packed_size(m);
	if (max < BH_HEADER_SIZE || plen > max - BH_HEADER_SIZE)
		return 0;
	/* The header is built from the old bytes, which `out` may overwrite: read them first. */
	uint8_t hdr[BH_HEADER_SIZE];

	fix_header(c, info, old, old_size, hdr, plen);
	if (protobuf_c_message_pack(m, out + BH_HEADER_SIZE) != plen)
		return 0;
	memcpy(out, hdr, BH_HEADER_SIZE);
	return BH_HEADER_SIZE + plen;
}

/* The length of the first frame of a coalesced datagram, as a channel cuts it; else size. */
static size_t first_frame_len(const uint8_t *data, size_t size)
{
	uint32_t plen;

	if (size < 2 * BH_HEADER_SIZE || !(data[6] & BH_FLAG_MORE))
		return size;
	plen = get32(data + 16);
	return plen <= size - 2 * BH_HEADER_SIZE ? BH_HEADER_SIZE + plen : size;
}

/*
 * Keeps a coalesced datagram coalesced: the frames after the first go back
 * behind the re-encoded one. Now and then a lone frame gets a second frame
 * of any type (a request or reply too) behind it, so that the receiver's
 * splitting and its rules for coalesced frames see structured input.
 */
static size_t coalesce(struct mctx *c, const bh_registry *reg, uint8_t *data, size_t out,
		       size_t max, const uint8_t *tail, size_t tail_len)
{
	struct rng *r = &c->rng;
	const bh_msg_type_info *ti;
	ProtobufCMessage *m;
	size_t n;

	if (tail_len) {
		if (!chance(r, 85) || tail_len > max - out)
			return out;
		memcpy(data + out, tail, tail_len);
		data[6] |= BH_FLAG_MORE;
		return out + tail_len;
	}
	if (!chance(r, 5))
		return out;
	ti = bh_registry_at(reg, below(r, bh_registry_count(reg)));
	m = ti ? new_message(c, ti->desc) : NULL;
	if (!m)
		return out;
	if (chance(r, 50))
		mutate_message(c, m, 0);
	n = encode_frame(c, ti, m, NULL, 0, data + out, max - out);
	if (!n)
		return out;
	data[6] |= BH_FLAG_MORE;
	return out + n;
}

size_t bh_fuzz_mutate(const bh_registry *reg, uint8_t *data, size_t size, size_t max, unsigned seed)
{
	struct mctx c = { .rng = { seed * 0x9e3779b97f4a7c15ull + 1 } };
	const bh_msg_type_info *info;
	ProtobufCMessage *m;
	uint8_t *copy;
	size_t out = 0, first;

	if (max < BH_HEADER_SIZE || bh_registry_count(reg) == 0)
		return LLVMFuzzerMutate ? LLVMFuzzerMutate(data, size, max) : size;
	if (chance(&c.rng, 15))
		return byte_level(&c, data, size, max);
	pool_init(&c.pool);
	c.budget = max > size + BH_HEADER_SIZE ? max - size - BH_HEADER_SIZE : 0;
	/* The decoded message may point into the input: mutate from a copy. */
	copy = palloc(&c, size);
	if (!copy)
		goto done;
	memcpy(copy, data, size);
	first = first_frame_len(copy, size);
	m = decode_frame(&c, reg, copy, first, chance(&c.rng, 85), &info);
	if (!m)
		goto done;
	mutate_message(&c, m, 0);
	out = encode_frame(&c, info, m, copy, first, data, max);
	if (out == 0) {
		/* Grew past max: start again from the unmutated message. */
		m = decode_frame(&c, reg, copy, first, true, &info);
		if (m)
			out = encode_frame(&c, info, m, copy, first, data, max);
	}
	if (out)
		out = coalesce(&c, reg, data, out, max, copy + first, size - first);
	if (out && chance(&c.rng, 12))
		out = break_frame(&c, reg, data, out, max);
	else if (out && chance(&c.rng, 5))
		out = byte_level(&c, data, out, max);
done:
	if (out == 0 && copy)
		memcpy(data, copy, size); /* a failed encode may have written over it */
	pool_fini(&c.pool);
	return out ? out : byte_level(&c, data, size, max);
}

/* Copies field f's value (and its presence) from b into a. */
static void splice_field(ProtobufCMessage *a, const ProtobufCMessage *b,
			 const ProtobufCFieldDescriptor *f)
{
	const uint8_t *qb = (const uint8_t *)b + f->quantifier_offset;
	uint8_t *qa = (uint8_t *)a + f->quantifier_offset;

	if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
		uint32_t cs;

		memcpy(&cs, qb, sizeof cs);
		if (cs != f->id)
			return;
		memcpy(qa, &cs, sizeof cs);
	} else if (f->label == PROTOBUF_C_LABEL_REPEATED) {
		memcpy(qa, qb, sizeof(size_t));
	} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
		   f->type != PROTOBUF_C_TYPE_MESSAGE) {
		memcpy(qa, qb, sizeof(protobuf_c_boolean));
	}
	memcpy((uint8_t *)a + f->offset, (const uint8_t *)b + f->offset,
	       f->label == PROTOBUF_C_LABEL_REPEATED ? sizeof(void *) : elt_size(f->type));
}

size_t bh_fuzz_crossover(const bh_registry *reg, const uint8_t *a, size_t asize, const uint8_t *b,
			 size_t bsize, uint8_t *out, size_t max, unsigned seed)
{
	struct mctx c = { .rng = { seed * 0x9e3779b97f4a7c15ull + 7 } };
	const bh_msg_type_info *ia = NULL, *ib = NULL;
	ProtobufCMessage *ma = NULL, *mb = NULL;
	size_t n = 0;

	pool_init(&c.pool);
	if (asize >= BH_HEADER_SIZE)
		ia = bh_registry_lookup(reg, get32(a + 8));
	if (bsize >= BH_HEADER_SIZE)
		ib = bh_registry_lookup(reg, get32(b + 8));
	if (ia && asize > BH_HEADER_SIZE)
		ma = protobuf_c_message_unpack(ia->desc, &c.pool.alloc, asize - BH_HEADER_SIZE,
					       a + BH_HEADER_SIZE);
	if (ib && bsize > BH_HEADER_SIZE)
		mb = protobuf_c_message_unpack(ib->desc, &c.pool.alloc, bsize - BH_HEADER_SIZE,
					       b + BH_HEADER_SIZE);
	if (ia && ib && ia == ib && ma && mb) {
		for (unsigned i = 0; i < ia->desc->n_fields; i++) {
			if (chance(&c.rng, 50))
				splice_field(ma, mb, &ia->desc->fields[i]);
		}
		n = encode_frame(&c, ia, ma, a, asize, out, max);
	} else if (ia && mb) {
		/* a's type and header over b's fields, re-read with a's descriptor. */
		uint8_t *tmp = palloc(&c, bsize);

		if (tmp) {
			size_t plen = protobuf_c_message_get_packed_size(mb);
			uint8_t *pb = palloc(&c, plen);
			ProtobufCMessage *m = NULL;

			if (pb && protobuf_c_message_pack(mb, pb) == plen)
				m = protobuf_c_message_unpack(ia->desc, &c.pool.alloc, plen, pb);
			if (!m)
				m = ma ? ma : new_message(&c, ia->desc);
			if (m)
				n = encode_frame(&c, ia, m, a, asize, out, max);
		}
	}
	if (n == 0) {
		/* Raw splice: a's first part, b's tail. */
		size_t ka = asize ? below(&c.rng, asize + 1) : 0;
		size_t kb = bsize ? below(&c.rng, bsize + 1) : 0;

		ka = zmin(ka, max);
		kb = zmin(kb, max - ka);
		memcpy(out, a, ka);
		memcpy(out + ka, b + bsize - kb, kb);
		n = ka + kb;
	}
	pool_fini(&c.pool);
	return n;
}

/* ---- envelopes ------------------------------------------------------------------- */

/* Brings the fd prefix in line with the frame's header most of the time. */
static void sync_envelope(struct rng *r, bh_fuzz_envelope *env, const uint8_t *frame, size_t len)
{
	if (len < BH_HEADER_SIZE || get32(frame) != BH_WIRE_MAGIC || !chance(r, 85))
		return;
	unsigned want = (unsigned)zmin(frame[20], BH_FUZZ_MAX_FDS);

	for (unsigned i = env->nfds; i < want; i++)
		env->kinds[i] = (uint8_t)below(r, 4);
	env->nfds = want;
	if ((frame[6] & BH_FLAG_REPLY) && chance(r, 90))
		env->ctl |= BH_FUZZ_CTL_CALL;
	else if (chance(r, 50))
		env->ctl &= ~(unsigned)BH_FUZZ_CTL_CALL;
}

size_t bh_fuzz_mutate_envelope(const bh_registry *reg, uint8_t *data, size_t size, size_t max,
			       unsigned seed)
{
	struct rng r = { seed * 0x2545f4914f6cdd1dull + 3 };
	size_t room = max > 1 + BH_FUZZ_MAX_FDS ? max - 1 - BH_FUZZ_MAX_FDS : 0;
	bh_fuzz_envelope env;
	uint8_t *frame;
	size_t n;

	if (room < BH_HEADER_SIZE)
		return LLVMFuzzerMutate ? LLVMFuzzerMutate(data, size, max) : size;
	bh_fuzz_envelope_parse(data, size, &env);
	frame = malloc(room);
	if (!frame)
		return size;
	n = zmin(env.frame_len, room);
	memcpy(frame, env.frame, n);
	if (chance(&r, 10)) {
		/* The prefix alone: fds that disagree with the header, other kinds, the CALL bit. */
		switch (below(&r, 3)) {
		case 0:
			env.nfds = (unsigned)below(&r, BH_FUZZ_MAX_FDS + 1);
			for (unsigned i = 0; i < env.nfds; i++)
				env.kinds[i] = (uint8_t)rnd(&r);
			break;
		case 1:
			if (env.nfds)
				env.kinds[below(&r, env.nfds)] = (uint8_t)rnd(&r);
			break;
		default:
			env.ctl ^= chance(&r, 85) ? BH_FUZZ_CTL_CALL : BH_FUZZ_CTL_FLOOD;
		}
	} else {
		n = bh_fuzz_mutate(reg, frame, n, room, (unsigned)rnd(&r));
		sync_envelope(&r, &env, frame, n);
	}
	env.frame = frame;
	env.frame_len = n;
	n = bh_fuzz_envelope_build(&env, data, max);
	free(frame);
	return n ? n : size;
}

size_t bh_fuzz_crossover_envelope(const bh_registry *reg, const uint8_t *a, size_t asize,
				  const uint8_t *b, size_t bsize, uint8_t *out, size_t max,
				  unsigned seed)
{
	struct rng r = { seed * 0x2545f4914f6cdd1dull + 5 };
	size_t room = max > 1 + BH_FUZZ_MAX_FDS ? max - 1 - BH_FUZZ_MAX_FDS : 0;
	bh_fuzz_envelope ea, eb;
	uint8_t *frame;
	size_t n;

	bh_fuzz_envelope_parse(a, asize, &ea);
	bh_fuzz_envelope_parse(b, bsize, &eb);
	frame = malloc(room ? room : 1);
	if (!frame)
		return 0;
	n = bh_fuzz_crossover(reg, ea.frame, ea.frame_len, eb.frame, eb.frame_len, frame, room,
			      (unsigned)rnd(&r));
	if (chance(&r, 30)) {
		ea.nfds = eb.nfds;
		memcpy(ea.kinds, eb.kinds, sizeof ea.kinds);
	}
	sync_envelope(&r, &ea, frame, n);
	ea.frame = frame;
	ea.frame_len = n;
	n = bh_fuzz_envelope_build(&ea, out, max);
	free(frame);
	return n;
}
