/*
 * bulkhead-dump: pretty-prints channel recordings (bh_recorder files) and
 * fuzzer inputs using the protobuf-c descriptors of the registered message
 * types, and turns recordings into fuzzer seeds.
 *
 *   bulkhead-dump [-x] FILE...
 *       FILE is a recording ("BHRECORD" header) or a single fuzzer input:
 *       a bare frame (starts with the wire magic) or a channel-harness
 *       envelope (fd prefix + frame, see docs/FUZZING.md). -x adds a hex dump.
 *   bulkhead-dump --seeds DIR [--format envelope|frame] [--received-only] RECORDING...
 *       Writes every distinct recorded frame to DIR as one seed file. In
 *       envelope form the recorded fds become the fd prefix, and a reply is
 *       re-addressed to request id 1 with the CALL bit set, which is the
 *       call the channel harnesses keep outstanding.
 *   bulkhead-dump --seeds DIR --format sequence [--options N] RECORDING...
 *       Writes the received frames of each recording (its Hellos left out:
 *       the stateful harnesses make their own handshake) as sequence seeds
 *       of up to 16 records each, options byte N (default 0), every record
 *       an envelope; the aux byte of a record with a memfd asks for the
 *       seals a surface needs (SHRINK, GROW, SEAL). At most 8 per recording.
 *
 * Types the framework does not know are shown as raw protobuf fields.
 * Exit status: 0, 1 for an unreadable or malformed file, 2 for bad usage.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bulkhead/protocol.h>
#include <bulkhead/record.h>

/* The channel harnesses' fd prefix (fuzz/fuzz.h); kept in step by hand. */
#define ENV_MAX_FDS 12u
#define ENV_CTL_CALL 0x10u
#define ENV_CTL_FLOOD 0x20u
#define ENV_FLOOD_FDS 70u
static const char *const env_kind_names[4] = { "memfd", "pipe", "socket", "/dev/null" };

/* The sequence harnesses' input (fuzz/fuzz.h); kept in step by hand. */
#define SEQ_MAX_RECORDS 16u
#define SEQ_MAX_SEEDS 8u
#define SEQ_AUX_SURFACE_SEALS 0x07u

struct opts {
	bool hex;
	const char *seeds;
	bool envelope;
	bool sequence;
	uint8_t options;
	bool received_only;
};

/* A sequence seed being built from one recording. */
struct seq {
	uint8_t buf[1 + SEQ_MAX_RECORDS * (3 + 1 + ENV_MAX_FDS + BH_RECORD_MAX_LEN)];
	size_t len;
	unsigned records, written;
};

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

/* ---- printing ------------------------------------------------------------- */

static void print_escaped(const uint8_t *p, size_t n)
{
	size_t shown = n > 256 ? 256 : n;

	putchar('"');
	for (size_t i = 0; i < shown; i++) {
		if (p[i] == '"' || p[i] == '\\')
			printf("\\%c", p[i]);
		else if (p[i] >= 0x20 && p[i] < 0x7f)
			putchar(p[i]);
		else
			printf("\\x%02x", p[i]);
	}
	putchar('"');
	if (shown < n)
		printf("... (%zu bytes)", n);
}

/* At most this much is shown: a recording or a fuzzer input can be megabytes of filler. */
#define HEXDUMP_MAX 4096u

static void hexdump(const uint8_t *p, size_t n, int indent)
{
	size_t all = n;

	if (n > HEXDUMP_MAX)
		n = HEXDUMP_MAX;
	for (size_t off = 0; off < n; off += 16) {
		printf("%*s%06zx ", indent, "", off);
		for (size_t i = off; i < off + 16; i++) {
			if (i < n)
				printf(" %02x", p[i]);
			else
				printf("   ");
		}
		printf("  |");
		for (size_t i = off; i < off + 16 && i < n; i++)
			putchar(p[i] >= 0x20 && p[i] < 0x7f ? p[i] : '.');
		printf("|\n");
	}
	if (all > n)
		printf("%*s... %zu more bytes\n", indent, "", all - n);
}

static bool read_varint(const uint8_t *p, size_t n, size_t *off, uint64_t *v)
{
	*v = 0;
	for (unsigned shift = 0; shift < 64 && *off < n; shift += 7) {
		uint8_t b = p[(*off)++];

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return true;
	}
	return false;
}

/* Fields of a payload no descriptor describes. */
static void print_wire(const uint8_t *p, size_t n, int indent)
{
	size_t off = 0;

	while (off < n) {
		uint64_t key, v;
		size_t start = off;

		if (!read_varint(p, n, &off, &key)) {
			printf("%*s(malformed tag at offset %zu)\n", indent, "", start);
			return;
		}
		printf("%*s%" PRIu64 ": ", indent, "", key >> 3);
		switch (key & 7) {
		case 0:
			if (!read_varint(p, n, &off, &v)) {
				printf("(malformed varint)\n");
				return;
			}
			printf("%" PRIu64 "\n", v);
			break;
		case 1:
		case 5: {
			size_t w = (key & 7) == 1 ? 8 : 4;

			if (n - off < w) {
				printf("(truncated fixed%zu)\n", w * 8);
				return;
			}
			v = 0;
			for (size_t i = w; i-- > 0;)
				v = (v << 8) | p[off + i];
			printf("0x%0*" PRIx64 "\n", (int)(2 * w), v);
			off += w;
			break;
		}
		case 2:
			if (!read_varint(p, n, &off, &v) || v > n - off) {
				printf("(bad length)\n");
				return;
			}
			print_escaped(p + off, (size_t)v);
			putchar('\n');
			off += (size_t)v;
			break;
		default:
			printf("(wire type %u)\n", (unsigned)(key & 7));
			return;
		}
	}
}

static void print_message(const ProtobufCMessage *m, int indent);

static void print_value(const ProtobufCFieldDescriptor *f, const void *p, int indent)
{
	switch (f->type) {
	case PROTOBUF_C_TYPE_INT32:
	case PROTOBUF_C_TYPE_SINT32:
	case PROTOBUF_C_TYPE_SFIXED32:
		printf("%" PRId32, *(const int32_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT32:
	case PROTOBUF_C_TYPE_FIXED32:
		printf("%" PRIu32, *(const uint32_t *)p);
		break;
	case PROTOBUF_C_TYPE_INT64:
	case PROTOBUF_C_TYPE_SINT64:
	case PROTOBUF_C_TYPE_SFIXED64:
		printf("%" PRId64, *(const int64_t *)p);
		break;
	case PROTOBUF_C_TYPE_UINT64:
	case PROTOBUF_C_TYPE_FIXED64: {
		uint64_t v = *(const uint64_t *)p;

		printf(v > 0xffffffffu ? "0x%" PRIx64 : "%" PRIu64, v);
		break;
	}
	case PROTOBUF_C_TYPE_FLOAT:
		printf("%g", (double)*(const float *)p);
		break;
	case PROTOBUF_C_TYPE_DOUBLE:
		printf("%g", *(const double *)p);
		break;
	case PROTOBUF_C_TYPE_BOOL:
		printf("%s", *(const protobuf_c_boolean *)p ? "true" : "false");
		break;
	case PROTOBUF_C_TYPE_ENUM: {
		const ProtobufCEnumValue *ev =
			protobuf_c_enum_descriptor_get_value(f->descriptor, *(const int *)p);

		if (ev)
			printf("%s", ev->name);
		else
			printf("%d (not a value of %s)", *(const int *)p,
			       ((const ProtobufCEnumDescriptor *)f->descriptor)->name);
		break;
	}
	case PROTOBUF_C_TYPE_STRING: {
		const char *s = *(const char *const *)p;

		print_escaped((const uint8_t *)(s ? s : ""), s ? strlen(s) : 0);
		break;
	}
	case PROTOBUF_C_TYPE_BYTES: {
		const ProtobufCBinaryData *b = p;

		print_escaped(b->data ? b->data : (const uint8_t *)"", b->len);
		break;
	}
	case PROTOBUF_C_TYPE_MESSAGE: {
		const ProtobufCMessage *sub = *(const ProtobufCMessage *const *)p;

		if (!sub) {
			printf("(none)");
			break;
		}
		printf("{\n");
		print_message(sub, indent + 2);
		printf("%*s}", indent, "");
		break;
	}
	}
}

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
		return 4;
	}
}

/* Prints the fields that are present (or, in proto3, not zero). */
static void print_message(const ProtobufCMessage *m, int indent)
{
	const ProtobufCMessageDescriptor *d = m->descriptor;

	for (unsigned i = 0; i < d->n_fields; i++) {
		const ProtobufCFieldDescriptor *f = &d->fields[i];
		const uint8_t *member = (const uint8_t *)m + f->offset;
		const uint8_t *q = (const uint8_t *)m + f->quantifier_offset;

		if (f->label == PROTOBUF_C_LABEL_REPEATED) {
			size_t n = *(const size_t *)q;
			const uint8_t *arr = *(const uint8_t *const *)member;

			for (size_t k = 0; k < n; k++) {
				printf("%*s%s[%zu]: ", indent, "", f->name, k);
				print_value(f, arr + k * elt_size(f->type), indent);
				putchar('\n');
			}
			continue;
		}
		if (f->flags & PROTOBUF_C_FIELD_FLAG_ONEOF) {
			if (*(const uint32_t *)q != f->id)
				continue;
		} else if (f->label == PROTOBUF_C_LABEL_OPTIONAL && f->type != PROTOBUF_C_TYPE_STRING &&
			   f->type != PROTOBUF_C_TYPE_MESSAGE) {
			if (!*(const protobuf_c_boolean *)q)
				continue;
		} else if (f->label == PROTOBUF_C_LABEL_NONE) {
			static const uint8_t zero[16];
			const char *s;

			if (f->type == PROTOBUF_C_TYPE_STRING) {
				s = *(const char *const *)member;
				if (!s || !*s)
					continue;
			} else if (f->type == PROTOBUF_C_TYPE_BYTES) {
				if (((const ProtobufCBinaryData *)member)->len == 0)
					continue;
			} else if (memcmp(member, zero, elt_size(f->type)) == 0) {
				continue;
			}
		} else if (f->type == PROTOBUF_C_TYPE_MESSAGE || f->type == PROTOBUF_C_TYPE_STRING) {
			if (!*(const void *const *)member)
				continue;
		}
		printf("%*s%s: ", indent, "", f->name);
		print_value(f, member, indent);
		putchar('\n');
	}
	for (size_t k = 0; k < m->n_unknown_fields; k++)
		printf("%*s(unknown field %u, wire type %d, %zu bytes)\n", indent, "",
		       m->unknown_fields[k].tag, (int)m->unknown_fields[k].wire_type,
		       m->unknown_fields[k].len);
}

static void print_frame(const bh_registry *reg, const uint8_t *p, size_t n, unsigned nfds,
			const struct opts *o)
{
	bh_header h;
	const bh_msg_type_info *info;
	ProtobufCMessage *m;
	int r;

	if (n >= BH_HEADER_SIZE) {
		uint16_t flags = (uint16_t)(p[6] | (p[7] << 8));

		info = bh_registry_lookup(reg, get32(p + 8));
		printf("    header: magic %s, version %u, type %" PRIu32 " (%s), flags%s%s%s, request %" PRIu32
		       ", payload %" PRIu32 ", nfds %u\n",
		       get32(p) == BH_WIRE_MAGIC ? "ok" : "WRONG", p[4] | (p[5] << 8), get32(p + 8),
		       info ? info->desc->name : "unregistered", flags & BH_FLAG_REQUEST ? " request" : "",
		       flags & BH_FLAG_REPLY ? " reply" : "", flags ? "" : " none", get32(p + 12),
		       get32(p + 16), p[20]);
	}
	r = bh_header_decode(p, n, &h);
	if (r < 0) {
		printf("    refused: %s\n", bh_bad_reason_name(r));
	} else if (!(info = bh_registry_lookup(reg, h.type))) {
		printf("    refused: %s; raw fields:\n", bh_bad_reason_name(BH_BAD_TYPE));
		print_wire(p + BH_HEADER_SIZE, n - BH_HEADER_SIZE, 6);
	} else if (h.nfds != nfds || nfds > info->max_fds) {
		printf("    refused: %s (%u fds came with it, the type takes %u)\n",
		       bh_bad_reason_name(h.nfds != nfds ? BH_BAD_FD_COUNT : BH_BAD_TOO_MANY_FDS),
		       nfds, info->max_fds);
	} else if (!(m = protobuf_c_message_unpack(info->desc, NULL, h.payload_len,
						   p + BH_HEADER_SIZE))) {
		printf("    refused: %s; raw fields:\n", bh_bad_reason_name(BH_BAD_DECODE));
		print_wire(p + BH_HEADER_SIZE, n - BH_HEADER_SIZE, 6);
	} else {
		printf("    %s {\n", info->desc->name);
		print_message(m, 6);
		printf("    }\n");
		protobuf_c_message_free_unpacked(m, NULL);
	}
	if (o->hex)
		hexdump(p, n, 4);
}

/* ---- seeds ---------------------------------------------------------------- */

static uint64_t fnv1a(const uint8_t *p, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 0x100000001b3ull;
	return h;
}

static unsigned env_kind(unsigned rec_kind)
{
	switch (rec_kind) {
	case BH_FD_KIND_PIPE:
		return 1;
	case BH_FD_KIND_SOCKET:
		return 2;
	case BH_FD_KIND_CHAR:
	case BH_FD_KIND_OTHER:
	case BH_FD_KIND_DIR:
		return 3;
	default:
		return 0; /* memfd and other files */
	}
}

static int write_seed(const bh_registry *reg, const struct opts *o, const bh_record *rec)
{
	static uint8_t out[1 + ENV_MAX_FDS + BH_RECORD_MAX_LEN];
	const bh_msg_type_info *info = NULL;
	size_t n = 0;
	char path[4096], name[64] = "raw";
	int fd;

	if (o->envelope) {
		unsigned nfds = rec->nfds > ENV_MAX_FDS ? ENV_MAX_FDS : rec->nfds;

		out[n++] = (uint8_t)nfds;
		for (unsigned i = 0; i < nfds; i++)
			out[n++] = (uint8_t)env_kind(rec->fd_kinds[i]);
	}
	memcpy(out + n, rec->data, rec->len);
	if (rec->len >= BH_HEADER_SIZE) {
		uint8_t *h = out + n;

		info = bh_registry_lookup(reg, get32(h + 8));
		if (o->envelope && (h[6] & BH_FLAG_REPLY)) {
			h[12] = 1;
			h[13] = h[14] = h[15] = 0;
			out[0] |= ENV_CTL_CALL;
		}
	}
	n += rec->len;
	if (info) {
		/* "bh.SurfaceAttach" -> "surfaceattach" */
		const char *s = strrchr(info->desc->name, '.');
		size_t k = 0;

		for (s = s ? s + 1 : info->desc->name; *s && k < sizeof name - 1; s++)
			name[k++] = (char)(*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
		name[k] = 0;
	}
	snprintf(path, sizeof path, "%s/%s-%s-%016" PRIx64, o->seeds,
		 rec->dir == BH_RECORD_SENT ? "sent" : "recv", name, fnv1a(out, n));
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0 || write(fd, out, n) != (ssize_t)n) {
		fprintf(stderr, "bulkhead-dump: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int write_file(const char *path, const uint8_t *p, size_t n)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

	if (fd < 0 || write(fd, p, n) != (ssize_t)n) {
		fprintf(stderr, "bulkhead-dump: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int seq_flush(const struct opts *o, struct seq *q)
{
	char path[4096];
	int r = 0;

	if (q->records && q->written < SEQ_MAX_SEEDS) {
		snprintf(path, sizeof path, "%s/seq-%016" PRIx64, o->seeds, fnv1a(q->buf, q->len));
		r = write_file(path, q->buf, q->len);
		q->written++;
	}
	q->buf[0] = o->options;
	q->len = 1;
	q->records = 0;
	return r;
}

/* Appends one received frame as a record: u16 n, aux, envelope. */
static int seq_add(const struct opts *o, struct seq *q, const bh_record *rec)
{
	unsigned nfds = rec->nfds > ENV_MAX_FDS ? ENV_MAX_FDS : rec->nfds;
	size_t n = 1 + nfds + rec->len;
	uint8_t aux = 0, *p;

	if (rec->dir != BH_RECORD_RECEIVED || (rec->len >= 12 && get32(rec->data + 8) == BH_MSG_HELLO))
		return 0;
	if (q->records == SEQ_MAX_RECORDS && seq_flush(o, q) < 0)
		return -1;
	p = q->buf + q->len;
	p[3] = (uint8_t)nfds;
	for (unsigned i = 0; i < nfds; i++) {
		p[4 + i] = (uint8_t)env_kind(rec->fd_kinds[i]);
		if (rec->fd_kinds[i] == BH_FD_KIND_MEMFD)
			aux = SEQ_AUX_SURFACE_SEALS;
	}
	memcpy(p + 4 + nfds, rec->data, rec->len);
	p[0] = (uint8_t)(n & 0xff);
	p[1] = (uint8_t)(n >> 8);
	p[2] = aux;
	q->len += 3 + n;
	q->records++;
	return 0;
}

/* ---- files ---------------------------------------------------------------- */

static int dump_recording(const bh_registry *reg, const char *path, const struct opts *o)
{
	bh_record_reader *rd;
	bh_record rec;
	unsigned long count = 0, seeds = 0;
	static struct seq q;
	int r = bh_record_reader_create(path, &rd);

	if (r < 0) {
		fprintf(stderr, "bulkhead-dump: %s: %s\n", path,
			r == -EBADMSG ? "not a bulkhead recording" : strerror(-r));
		return -1;
	}
	if (!o->seeds)
		printf("%s: recording started at %" PRIu64 ".%09" PRIu64 " (unix time)\n", path,
		       bh_record_reader_start_time(rd) / 1000000000u,
		       bh_record_reader_start_time(rd) % 1000000000u);
	q.buf[0] = o->options;
	q.len = 1;
	q.records = q.written = 0;
	while ((r = bh_record_reader_next(rd, &rec)) > 0) {
		count++;
		if (o->seeds && o->sequence) {
			if (seq_add(o, &q, &rec) < 0) {
				r = -EIO;
				break;
			}
			continue;
		}
		if (o->seeds) {
			if (o->received_only && rec.dir != BH_RECORD_RECEIVED)
				continue;
			if (write_seed(reg, o, &rec) < 0) {
				r = -EIO;
				break;
			}
			seeds++;
			continue;
		}
		printf("#%lu +%" PRIu64 ".%06" PRIu64 "s %s %zu bytes", count, rec.time_ns / 1000000000u,
		       rec.time_ns / 1000 % 1000000u, rec.dir == BH_RECORD_SENT ? "sent" : "received",
		       rec.len);
		if (rec.flags & BH_RECORD_TRUNCATED)
			printf(" (truncated)");
		if (rec.flags & BH_RECORD_CTRUNC)
			printf(" (fds dropped by the kernel)");
		for (unsigned i = 0; i < rec.nfds; i++)
			printf("%s%s", i ? ", " : ", fds: ", bh_record_fd_kind_name(rec.fd_kinds[i]));
		putchar('\n');
		print_frame(reg, rec.data, rec.len, rec.nfds, o);
	}
	if (r >= 0 && o->seeds && o->sequence && seq_flush(o, &q) < 0)
		r = -EIO;
	if (o->sequence)
		seeds = q.written;
	bh_record_reader_destroy(rd);
	if (r < 0) {
		fprintf(stderr, "bulkhead-dump: %s: record %lu: %s\n", path, count + 1,
			r == -EBADMSG ? "malformed or cut short" : strerror(-r));
		return -1;
	}
	if (o->seeds)
		fprintf(stderr, "bulkhead-dump: %s: %lu records, %lu seeds written to %s\n", path,
			count, seeds, o->seeds);
	return 0;
}

static int dump_input(const bh_registry *reg, const char *path, const uint8_t *p, size_t n,
		      const struct opts *o)
{
	if (n >= 4 && get32(p) == BH_WIRE_MAGIC) {
		printf("%s: frame, %zu bytes\n", path, n);
		print_frame(reg, p, n, 0, o);
		return 0;
	}
	unsigned ctl = n ? p[0] : 0, nfds = ctl & 0x0f;

	if (nfds > ENV_MAX_FDS)
		nfds = ENV_MAX_FDS;
	if (n && nfds > n - 1)
		nfds = (unsigned)(n - 1);
	if (!n)
		nfds = 0;
	printf("%s: channel-harness input, %zu bytes: %u fds", path, n, nfds);
	for (unsigned i = 0; i < nfds; i++)
		printf("%s%s", i ? ", " : " (", env_kind_names[p[1 + i] & 3]);
	printf("%s%s%s\n", nfds ? ")" : "", (ctl & ENV_CTL_FLOOD) ? ", plus 70 /dev/null fds" : "",
	       (ctl & ENV_CTL_CALL) ? ", call 1 outstanding" : "");
	if (n)
		print_frame(reg, p + 1 + nfds, n - 1 - nfds,
			    nfds + ((ctl & ENV_CTL_FLOOD) ? ENV_FLOOD_FDS : 0), o);
	return 0;
}

static int dump_file(const bh_registry *reg, const char *path, const struct opts *o)
{
	uint8_t head[8];
	struct stat st;
	uint8_t *buf;
	ssize_t got;
	int fd = open(path, O_RDONLY | O_CLOEXEC), r;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "bulkhead-dump: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	got = pread(fd, head, sizeof head, 0);
	if ((got == sizeof head && memcmp(head, BH_RECORD_MAGIC, 8) == 0) || o->seeds) {
		close(fd);
		return dump_recording(reg, path, o);
	}
	if (st.st_size > 16 * BH_MAX_MESSAGE) {
		fprintf(stderr, "bulkhead-dump: %s: too large for a single input\n", path);
		close(fd);
		return -1;
	}
	buf = malloc((size_t)st.st_size + 1);
	got = buf ? read(fd, buf, (size_t)st.st_size) : -1;
	close(fd);
	if (got != st.st_size) {
		fprintf(stderr, "bulkhead-dump: %s: cannot read\n", path);
		free(buf);
		return -1;
	}
	r = dump_input(reg, path, buf, (size_t)got, o);
	free(buf);
	return r;
}

static void usage(FILE *f)
{
	fprintf(f, "usage: bulkhead-dump [-x] FILE...\n"
		   "       bulkhead-dump --seeds DIR [--format envelope|frame] [--received-only] RECORDING...\n"
		   "       bulkhead-dump --seeds DIR --format sequence [--options N] RECORDING...\n");
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "hex", no_argument, NULL, 'x' },
		{ "seeds", required_argument, NULL, 's' },
		{ "format", required_argument, NULL, 'f' },
		{ "received-only", no_argument, NULL, 'r' },
		{ "options", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .envelope = true };
	bh_registry *reg;
	int c, failed = 0;

	while ((c = getopt_long(argc, argv, "xs:f:ro:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'x':
			o.hex = true;
			break;
		case 's':
			o.seeds = optarg;
			break;
		case 'f':
			if (strcmp(optarg, "envelope") && strcmp(optarg, "frame") && strcmp(optarg, "sequence")) {
				fprintf(stderr, "bulkhead-dump: --format is envelope, frame or sequence, not '%s'\n",
					optarg);
				return 2;
			}
			o.envelope = strcmp(optarg, "frame") != 0;
			o.sequence = strcmp(optarg, "sequence") == 0;
			break;
		case 'o': {
			char *end;
			unsigned long v;

			errno = 0;
			v = strtoul(optarg, &end, 0);
			if (errno || *end || !*optarg || v > 255) {
				fprintf(stderr, "bulkhead-dump: --options is a byte (0 to 255), not '%s'\n", optarg);
				return 2;
			}
			o.options = (uint8_t)v;
			break;
		}
		case 'r':
			o.received_only = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return 2;
	}
	if (bh_registry_create(&reg) < 0) {
		fprintf(stderr, "bulkhead-dump: out of memory\n");
		return 1;
	}
	for (int i = optind; i < argc; i++) {
		if (dump_file(reg, argv[i], &o) < 0)
			failed = 1;
	}
	bh_registry_destroy(reg);
	return failed;
}
