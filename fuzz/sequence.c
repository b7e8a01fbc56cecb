/*
 * Sequences of envelopes (fuzz.h): the input of harnesses whose receiver
 * keeps state from one frame to the next, and their structure-aware
 * mutation, which works on whole records (order, repetition) as well as on
 * the frames inside them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz/fuzz.h"

#define REC_HEAD 3u /* u16 length, aux */
#define REC_MAX 0xffffu

unsigned bh_fuzz_seq_parse(const uint8_t *data, size_t size, uint8_t *options,
			   bh_fuzz_record *recs, unsigned max)
{
	size_t pos = 1;
	unsigned n = 0;

	*options = size ? data[0] : 0;
	while (n < max && pos + REC_HEAD <= size) {
		size_t len = (size_t)data[pos] | (size_t)data[pos + 1] << 8;

		recs[n].aux = data[pos + 2];
		pos += REC_HEAD;
		if (len > size - pos)
			len = size - pos;
		recs[n].env = data + pos;
		recs[n].env_len = len;
		pos += len;
		n++;
	}
	return n;
}

size_t bh_fuzz_seq_build(uint8_t options, const bh_fuzz_record *recs, unsigned n, uint8_t *out,
			 size_t max)
{
	size_t pos = 1;

	if (max == 0)
		return 0;
	out[0] = options;
	for (unsigned i = 0; i < n; i++) {
		size_t len = recs[i].env_len > REC_MAX ? REC_MAX : recs[i].env_len;

		if (pos + REC_HEAD + len > max)
			break;
		out[pos] = (uint8_t)len;
		out[pos + 1] = (uint8_t)(len >> 8);
		out[pos + 2] = recs[i].aux;
		/* memmove: a record may already sit inside `out`. */
		memmove(out + pos + REC_HEAD, recs[i].env, len);
		pos += REC_HEAD + len;
	}
	return pos;
}

static uint64_t next(uint64_t *s)
{
	/* splitmix64, as the frame mutator uses. */
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static unsigned below(uint64_t *s, unsigned n)
{
	return n ? (unsigned)(next(s) % n) : 0;
}

/* Copies the records into one private buffer, so that rebuilding into the input cannot overlap. */
static uint8_t *own_records(bh_fuzz_record *recs, unsigned n)
{
	size_t total = 1, pos = 0;
	uint8_t *buf;

	for (unsigned i = 0; i < n; i++)
		total += recs[i].env_len;
	buf = malloc(total);
	if (!buf)
		return NULL;
	for (unsigned i = 0; i < n; i++) {
		memcpy(buf + pos, recs[i].env, recs[i].env_len);
		recs[i].env = buf + pos;
		pos += recs[i].env_len;
	}
	return buf;
}

size_t bh_fuzz_mutate_seq(const bh_registry *reg, uint8_t *data, size_t size, size_t max,
			  unsigned seed)
{
	bh_fuzz_record recs[BH_FUZZ_SEQ_MAX + 1];
	uint64_t s = seed * 0x2545f4914f6cdd1dull + 11;
	uint8_t options, *own, *env = NULL;
	unsigned n, i, j, op;
	size_t out;

	n = bh_fuzz_seq_parse(data, size, &options, recs, BH_FUZZ_SEQ_MAX);
	own = own_records(recs, n);
	if (!own)
		return size;
	if (n == 0) {
		/* An empty frame becomes a message of some registered type below. */
		recs[0] = (bh_fuzz_record){ 0, own, 0 };
		n = 1;
	}
	i = below(&s, n);
	j = below(&s, n);
	op = below(&s, 100);
	if (op < 5) {
		options = below(&s, 2) ? (uint8_t)(options ^ (1u << below(&s, 8))) : (uint8_t)next(&s);
	} else if (op < 10) {
		recs[i].aux = below(&s, 2) ? (uint8_t)(recs[i].aux ^ (1u << below(&s, 8)))
					   : (uint8_t)next(&s);
	} else if (op < 20 && n < BH_FUZZ_SEQ_MAX) {
		/* Repeat a record: the same request again, a second attach, a replayed frame. */
		memmove(&recs[j + 1], &recs[j], (n - j) * sizeof *recs);
		recs[j] = recs[i < j ? i : i + 1];
		n++;
	} else if (op < 26 && n > 1) {
		memmove(&recs[i], &recs[i + 1], (n - i - 1) * sizeof *recs);
		n--;
	} else if (op < 30 && n > 1) {
		bh_fuzz_record t = recs[i];

		recs[i] = recs[j];
		recs[j] = t;
	} else {
		size_t others = 1 + n * REC_HEAD, room;

		for (unsigned k = 0; k < n; k++)
			if (k != i)
				others += recs[k].env_len;
		room = max > others ? max - others : 0;
		if (room > REC_MAX)
			room = REC_MAX;
		env = room ? malloc(room) : NULL;
		if (env) {
			size_t len = recs[i].env_len < room ? recs[i].env_len : room;

			memcpy(env, recs[i].env, len);
			len = bh_fuzz_mutate_envelope(reg, env, len, room, (unsigned)next(&s));
			recs[i].env = env;
			recs[i].env_len = len;
		}
	}
	out = bh_fuzz_seq_build(options, recs, n, data, max);
	free(env);
	free(own);
	return out;
}

size_t bh_fuzz_crossover_seq(const bh_registry *reg, const uint8_t *a, size_t asize,
			     const uint8_t *b, size_t bsize, uint8_t *out, size_t max,
			     unsigned seed)
{
	bh_fuzz_record ra[BH_FUZZ_SEQ_MAX], rb[BH_FUZZ_SEQ_MAX], r[BH_FUZZ_SEQ_MAX];
	uint64_t s = seed * 0x2545f4914f6cdd1dull + 13;
	uint8_t oa, ob, *env = NULL;
	unsigned na, nb, n = 0;
	size_t len;

	na = bh_fuzz_seq_parse(a, asize, &oa, ra, BH_FUZZ_SEQ_MAX);
	nb = bh_fuzz_seq_parse(b, bsize, &ob, rb, BH_FUZZ_SEQ_MAX);
	if (na && nb && below(&s, 4) == 0) {
		/* One record of a crossed with one of b, in a's place. */
		unsigned i = below(&s, na), j = below(&s, nb);
		size_t room = max < REC_MAX ? max : REC_MAX;

		env = malloc(room ? room : 1);
		if (env) {
			ra[i].env_len = bh_fuzz_crossover_envelope(reg, ra[i].env, ra[i].env_len,
								   rb[j].env, rb[j].env_len, env,
								   room, (unsigned)next(&s));
			ra[i].env = env;
		}
		len = bh_fuzz_seq_build(oa, ra, na, out, max);
		free(env);
		return len;
	}
	/* a's first records, then b's last ones: a state reached, then other requests. */
	for (unsigned i = 0, k = below(&s, na + 1); i < k; i++)
		r[n++] = ra[i];
	for (unsigned i = below(&s, nb + 1); i < nb && n < BH_FUZZ_SEQ_MAX; i++)
		r[n++] = rb[i];
	return bh_fuzz_seq_build(below(&s, 2) ? oa : ob, r, n, out, max);
}

/* ---- writing seeds ---------------------------------------------------------------- */

void bh_fuzz_seed_begin(bh_fuzz_seed *s, uint8_t options)
{
	s->buf[0] = options;
	s->len = 1;
}

void bh_fuzz_seed_add(bh_fuzz_seed *s, uint8_t aux, unsigned ctl, const uint8_t *kinds,
		      unsigned nkinds, uint32_t type, uint16_t flags, uint32_t req,
		      const ProtobufCMessage *m)
{
	uint8_t *rec = s->buf + s->len, *env = rec + 3, *frame;
	size_t plen = m ? protobuf_c_message_get_packed_size(m) : 0, elen;
	bh_header h = {
		.magic = BH_WIRE_MAGIC,
		.version = BH_PROTOCOL_VERSION,
		.flags = flags,
		.type = type,
		.request_id = req,
		.payload_len = (uint32_t)plen,
		.nfds = (uint8_t)nkinds,
	};

	elen = 1 + nkinds + BH_HEADER_SIZE + plen;
	if (s->len + 3 + elen > sizeof s->buf) {
		fprintf(stderr, "seed generator: seed too large\n");
		exit(1);
	}
	env[0] = (uint8_t)(ctl | nkinds);
	memcpy(env + 1, kinds, nkinds);
	frame = env + 1 + nkinds;
	bh_header_encode(&h, frame);
	if (m)
		protobuf_c_message_pack(m, frame + BH_HEADER_SIZE);
	rec[0] = (uint8_t)elen;
	rec[1] = (uint8_t)(elen >> 8);
	rec[2] = aux;
	s->len += 3 + elen;
}

int bh_fuzz_seed_save(const bh_fuzz_seed *s, const char *dir, const char *name)
{
	char path[4096];
	int fd, r = 0;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, s->buf, s->len) != (ssize_t)s->len) {
		r = -errno;
		fprintf(stderr, "seed generator: %s: %s\n", path, strerror(errno));
	}
	if (fd >= 0)
		close(fd);
	return r;
}
