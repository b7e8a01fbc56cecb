/*
 * Shared pieces of the bulkhead fuzz harnesses: the libFuzzer entry points,
 * the descriptor-driven mutator, the "envelope" input format of the
 * channel harnesses and helpers to drive a real channel.
 * docs/FUZZING.md explains how they fit together.
 */
#ifndef BH_FUZZ_H
#define BH_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bulkhead/channel.h>
#include <bulkhead/protocol.h>

/* ---- engine entry points -------------------------------------------------- */

/* Every harness defines these; replay_main.c calls them without an engine. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);
/*
 * Optional in a harness: replay_main.c calls it after the last input and
 * fails the run if it returns non-zero (e.g. a type was never delivered).
 */
int bh_fuzz_replay_done(void);
/* Provided by libFuzzer only: NULL in replay and AFL++ builds. */
size_t LLVMFuzzerMutate(uint8_t *data, size_t size, size_t max_size) __attribute__((weak));

/* ---- descriptor-driven mutation ------------------------------------------- */

/*
 * Mutates one frame (header + payload) in place: data[0..size) with room
 * for `max` bytes; returns the new size (<= max). Deterministic in `seed`.
 *
 * The payload is decoded with the descriptor of the frame's type (or of
 * another registered type, or starts as an empty message), mutated field by
 * field from the ProtobufCFieldDescriptors (edge values for integers, valid
 * and invalid enum values, flipped bools, grown/shrunk/odd strings and
 * bytes, repeated elements added/removed/duplicated, sub-messages recursed
 * into, unknown fields), re-encoded, and the header fixed (magic, version,
 * type, length, flags/request id, nfds within the type's max_fds) most of
 * the time and deliberately broken some of the time. A share of calls
 * falls back to byte-level mutation (LLVMFuzzerMutate when linked).
 * Only the registry's descriptors are used: a type registered with
 * bh_registry_add() is mutated structurally with no further code.
 */
size_t bh_fuzz_mutate(const bh_registry *reg, uint8_t *data, size_t size, size_t max,
		      unsigned seed);

/*
 * Byte strings the mutator plants in string and bytes fields besides its
 * own (a token the receiver checks, a worker name, a path it allows). The
 * array must stay valid while mutations run; NULL/0 removes them.
 */
typedef struct bh_fuzz_token {
	const uint8_t *data;
	size_t len;
} bh_fuzz_token;

void bh_fuzz_set_tokens(const bh_fuzz_token *tokens, size_t n);

/*
 * Combines two frames into out[0..max): fields of b spliced into a when
 * both decode as the same type, else a's header over b's payload (header
 * fixed up). Returns the new size.
 */
size_t bh_fuzz_crossover(const bh_registry *reg, const uint8_t *a, size_t asize, const uint8_t *b,
			 size_t bsize, uint8_t *out, size_t max, unsigned seed);

/*
 * Walks the frames of a datagram a channel sent, the way a channel splits
 * it (BH_FLAG_MORE; the flag is cleared in dgram): returns the next frame
 * from *off and its length in *flen, and moves *off past it; NULL when
 * there is none left. `len` is more than 0.
 */
uint8_t *bh_fuzz_next_frame(uint8_t *dgram, size_t len, size_t *off, size_t *flen);

/*
 * How many frames a receiving channel cuts dgram[0..len) into (at least 1:
 * an empty or uncuttable datagram is one frame, which it judges whole).
 * dgram is left as it is.
 */
unsigned bh_fuzz_count_frames(const uint8_t *dgram, size_t len);

/*
 * Calls fn on each frame of dgram[0..len) in order, as a receiving channel
 * cuts it (on a copy): the datagram's nfds go with the first frame, and
 * `coalesced` says the datagram holds more than one. Stops at the first
 * non-zero return and returns it; 0 when every frame got 0. An empty
 * datagram is one empty frame.
 */
typedef int bh_fuzz_frame_fn(void *ud, const uint8_t *frame, size_t len, unsigned nfds,
			     bool coalesced);
int bh_fuzz_each_frame(const uint8_t *dgram, size_t len, unsigned nfds, bh_fuzz_frame_fn *fn,
		       void *ud);

/* ---- the flat fast path against protobuf-c ------------------------------------ */

struct bh_flat;

/*
 * The oracle for common/flat.c. Decodes `n` bytes with bh__flat_unpack()
 * and with protobuf_c_message_unpack(): whatever the first accepts the
 * second must accept, with every field (and has_ flag) equal. The message
 * that decoded (either one, if it has no unknown fields) is then packed by
 * bh__flat_pack() and protobuf_c_message_pack(), which must write the same
 * bytes, within the plan's max_packed. Returns NULL if all agree, else a
 * static description of the first difference. *fast (may be NULL) is set
 * to whether the fast decoder accepted.
 */
const char *bh_fuzz_flat_check(const struct bh_flat *plan, const uint8_t *p, size_t n, int *fast);

/* The packing half of the oracle, for a message built by the caller. */
const char *bh_fuzz_flat_check_pack(const struct bh_flat *plan, const ProtobufCMessage *m);

/* An allocator on malloc()/free(), to hand to decoders that take one. */
void bh_fuzz_heap_allocator(ProtobufCAllocator *out);

/* ---- the envelope: what a channel harness receives ------------------------- */
/*
 *   byte 0          control: bits 0-3 number of fds (values above
 *                   BH_FUZZ_MAX_FDS mean BH_FUZZ_MAX_FDS), bit 4
 *                   BH_FUZZ_CTL_CALL, bit 5 BH_FUZZ_CTL_FLOOD, bits 6-7
 *                   free for harnesses
 *   bytes 1..nfds   one per fd: bits 0-1 its kind (bh_fuzz_fd_kind), bits
 *                   2-7 free for harnesses (e.g. a memfd's size and seals)
 *   the rest        the datagram, sent as is with the fds in SCM_RIGHTS
 * An input too short for its fd bytes carries fewer fds.
 */
#define BH_FUZZ_MAX_FDS 12u
enum {
	/* The receiver has request id 1 outstanding, so that replies can be matched. */
	BH_FUZZ_CTL_CALL = 1u << 4,
	/* BH_FUZZ_FLOOD_FDS more fds ride along: more than a channel's control buffer takes. */
	BH_FUZZ_CTL_FLOOD = 1u << 5,
};
#define BH_FUZZ_FLOOD_FDS 70u

enum bh_fuzz_fd_kind {
	BH_FUZZ_FD_MEMFD = 0,
	BH_FUZZ_FD_PIPE = 1,
	BH_FUZZ_FD_SOCKET = 2,
	BH_FUZZ_FD_DEVNULL = 3,
};

typedef struct bh_fuzz_envelope {
	unsigned ctl;
	unsigned nfds;
	uint8_t kinds[BH_FUZZ_MAX_FDS];
	const uint8_t *frame;
	size_t frame_len;
} bh_fuzz_envelope;

/* Splits an input; never fails (an empty input is an empty datagram). */
void bh_fuzz_envelope_parse(const uint8_t *data, size_t size, bh_fuzz_envelope *env);

/* Writes an envelope to out[0..max); returns its size, or 0 if it does not fit. */
size_t bh_fuzz_envelope_build(const bh_fuzz_envelope *env, uint8_t *out, size_t max);

/*
 * bh_fuzz_mutate()/bh_fuzz_crossover() for envelopes: mostly the frame,
 * sometimes the fd prefix, and the fd count kept in step with the header's
 * nfds (and the CALL bit with a REPLY flag) most of the time.
 */
size_t bh_fuzz_mutate_envelope(const bh_registry *reg, uint8_t *data, size_t size, size_t max,
			       unsigned seed);
size_t bh_fuzz_crossover_envelope(const bh_registry *reg, const uint8_t *a, size_t asize,
				  const uint8_t *b, size_t bsize, uint8_t *out, size_t max,
				  unsigned seed);

/* ---- sequences: several envelopes in one input ------------------------------- */
/*
 * Harnesses whose receiver keeps state between frames (the supervisor's
 * worker record, a consumer's surfaces) take a sequence:
 *
 *   byte 0          options, for the harness (e.g. which worker type)
 *   then records:   u16 little-endian n, one byte `aux` for the harness
 *                   (e.g. the seals of the memfds it sends), n bytes: an
 *                   envelope as above
 *
 * A record cut short by the end of the input keeps what is there; at most
 * BH_FUZZ_SEQ_MAX records are read.
 */
#define BH_FUZZ_SEQ_MAX 16u

typedef struct bh_fuzz_record {
	uint8_t aux;
	const uint8_t *env;
	size_t env_len;
} bh_fuzz_record;

/* Splits an input into *options and up to `max` records; returns their number. */
unsigned bh_fuzz_seq_parse(const uint8_t *data, size_t size, uint8_t *options,
			   bh_fuzz_record *recs, unsigned max);

/* Writes a sequence to out[0..max); returns its size (records that do not fit are left out). */
size_t bh_fuzz_seq_build(uint8_t options, const bh_fuzz_record *recs, unsigned n, uint8_t *out,
			 size_t max);

/*
 * Mutates a sequence: mostly one record's envelope (bh_fuzz_mutate_envelope),
 * sometimes the order (a record duplicated, dropped or two swapped), the
 * options or an aux byte. Returns the new size (<= max).
 */
size_t bh_fuzz_mutate_seq(const bh_registry *reg, uint8_t *data, size_t size, size_t max,
			  unsigned seed);

/* Joins the head of sequence a to the tail of b, or crosses one record of each. */
size_t bh_fuzz_crossover_seq(const bh_registry *reg, const uint8_t *a, size_t asize,
			     const uint8_t *b, size_t bsize, uint8_t *out, size_t max,
			     unsigned seed);

/* ---- harness helpers -------------------------------------------------------- */

/* Application type ids the fuzz registry adds (fuzz/proto/fuzz_test.proto). */
enum {
	BH_FUZZ_MSG_ALL_KINDS = BH_MSG_APP_BASE + 1, /* bhfuzz.AllKinds, up to BH_MAX_FDS fds */
	BH_FUZZ_MSG_LEAF = BH_MSG_APP_BASE + 2,      /* bhfuzz.Leaf, 1 or 2 fds */
};

/* The framework's registry plus the two types above. Returns 0 or -errno. */
int bh_fuzz_registry_create(bh_registry **out);

/* Open fds of this process (getdents on /proc/self/fd). Aborts if it cannot count. */
int bh_fuzz_count_fds(void);

/*
 * One open fd of each bh_fuzz_fd_kind, made once and sent by every input
 * (the receiver gets fresh descriptors of the same files each time).
 */
typedef struct bh_fuzz_fdset {
	int fd[4];
	int keep[2]; /* the pipe's write end and the socket's peer */
} bh_fuzz_fdset;

int bh_fuzz_fdset_init(bh_fuzz_fdset *set);
void bh_fuzz_fdset_fini(bh_fuzz_fdset *set);

/* ---- writing sequence seeds (bh_fuzz_seedgen, bh_fuzz_seedgen_broker) ------ */

typedef struct bh_fuzz_seed {
	uint8_t buf[1 << 16];
	size_t len;
} bh_fuzz_seed;

/* Starts an empty sequence with its options byte. */
void bh_fuzz_seed_begin(bh_fuzz_seed *s, uint8_t options);

/*
 * Appends one record: `aux`, then an envelope (control `ctl` | nkinds, the
 * fd kinds) around a frame of `type` holding `m` (NULL: empty payload),
 * encoded with the real header and protobuf-c encoders. Exits the program
 * when the seed would outgrow its buffer: a seed generator's own bug.
 */
void bh_fuzz_seed_add(bh_fuzz_seed *s, uint8_t aux, unsigned ctl, const uint8_t *kinds,
		      unsigned nkinds, uint32_t type, uint16_t flags, uint32_t req,
		      const ProtobufCMessage *m);

/* Writes the seed as dir/name. Returns 0, or -errno (said on stderr). */
int bh_fuzz_seed_save(const bh_fuzz_seed *s, const char *dir, const char *name);

/* ---- regions of fuzzed size, access and seals (the surface harnesses) ------ */

/* The largest region a harness makes. */
#define BH_FUZZ_REGION_CAP (4u << 20)

/* How the fd sent for a memfd was opened (bits 5-7 of its envelope fd byte). */
enum bh_fuzz_access {
	BH_FUZZ_ACC_RDWR,
	BH_FUZZ_ACC_RDONLY,
	BH_FUZZ_ACC_PATH,
	BH_FUZZ_ACC_WRONLY,
	BH_FUZZ_ACC_NOSEAL, /* read-write, made without MFD_ALLOW_SEALING */
};

typedef struct bh_fuzz_made_fd {
	int fd;         /* the harness's own read-write copy of a memfd (close it), or -1 */
	int memfd;      /* the fd sent is a memfd */
	int access;     /* bh_fuzz_access */
	unsigned seals; /* the seals applied */
	uint64_t size;
} bh_fuzz_made_fd;

/*
 * The region size a frame claims and the size its geometry needs, if it is
 * a SurfaceAttach; 4096 for both otherwise (or when the geometry is bad:
 * then the claimed size).
 */
void bh_fuzz_region_claims(const uint8_t *frame, size_t len, uint64_t *claimed, uint64_t *need);

/*
 * Makes the fd that an envelope's fd byte `kind` and a record's byte
 * `seals` describe, sized from `claimed`/`need` (kind bits 2-4: exactly,
 * one more, 4 KiB more, 0, 4 KiB, 1 MiB, one less; capped at
 * BH_FUZZ_REGION_CAP). Kind bits 0-1: a memfd (access from bits 5-7;
 * seals bit 0 SHRINK, 1 GROW, 2 SEAL, 3 WRITE, 4 FUTURE_WRITE), or a copy
 * of set's pipe or socket, or of files[access & 1] truncated to the size
 * (set's /dev/null when `files` is NULL). Returns the fd to send (the
 * caller closes it) and describes it in *made. Aborts the run if the
 * system refuses.
 */
int bh_fuzz_make_fd(const bh_fuzz_fdset *set, const int *files, uint8_t kind, uint8_t seals,
		    uint64_t claimed, uint64_t need, bh_fuzz_made_fd *made);

/*
 * Sends one datagram with `nfds` (<= BH_FUZZ_MAX_FDS + BH_FUZZ_FLOOD_FDS) fds. Returns 0,
 * or -errno (-EMSGSIZE for a datagram the socket cannot take).
 */
int bh_fuzz_send(int sock, const uint8_t *buf, size_t len, const int *fds, unsigned nfds);

/*
 * Reads and discards whatever is queued on `sock`, empty datagrams included,
 * closing any fds that came with it; stops at EAGAIN or at end of stream.
 */
void bh_fuzz_drain(int sock);

/* Prints this process's open fds and what they are, to explain a leak. */
void bh_fuzz_list_fds(void);

/*
 * A directory tree for the file-broker harnesses, made once under a fresh
 * /tmp/bh-fuzz-<pid>-XXXXXX and removed when the process exits (or by the
 * next run, once that pid is gone). `root` is the
 * rule directory; beside it, outside.txt is what escapes would reach.
 * Beneath root: page.html, a.txt, empty.html, sub/deep/b.html, img/cat.png,
 * img/notes.txt, symlinks (link-in.html -> page.html, link-abs.html ->
 * /etc/passwd, link-out.html -> ../outside.txt, link-dir -> sub,
 * dangling.html, loop1.html <-> loop2.html, img/up.png -> ../page.html),
 * a FIFO (fifo.html), a unix socket (sock.html), a directory named dir.html,
 * a file whose name has control and non-UTF-8 bytes, and a character device
 * (null.html) when mknod is allowed.
 */
typedef struct bh_fuzz_tree {
	char top[64];
	char root[80];
	char img[96];
	int has_device;
} bh_fuzz_tree;

/* Returns 0 or -errno. */
int bh_fuzz_tree_create(bh_fuzz_tree *t);

/* The name with odd bytes that bh_fuzz_tree_create() puts in root. */
extern const char bh_fuzz_tree_odd_name[];

/* Reports a broken invariant with the reason and aborts, so that the engine saves the input. */
__attribute__((noreturn, format(printf, 1, 2))) void bh_fuzz_fail(const char *fmt, ...);

#define BH_FUZZ_CHECK(cond, ...)              \
	do {                                  \
		if (!(cond))                  \
			bh_fuzz_fail(__VA_ARGS__); \
	} while (0)

#endif
