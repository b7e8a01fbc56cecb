/*
 * bulkhead wire protocol: frame header, limits, framework message types and
 * the registry that maps message type ids to protobuf-c descriptors.
 * docs/PROTOCOL.md is the normative description.
 *
 * Threading: the header codec and bh_bad_reason_name() are pure and
 * thread-safe. A registry is filled by one thread, then only read: lookups
 * may then come from any thread (channels on several loops may share it).
 */
#ifndef BULKHEAD_PROTOCOL_H
#define BULKHEAD_PROTOCOL_H

#include <bulkhead/common.h>
#include <protobuf-c/protobuf-c.h>

#ifdef __cplusplus
extern "C" {
#endif

#define BH_PROTOCOL_VERSION 1u
/* "BHD1" read as a little-endian u32. */
#define BH_WIRE_MAGIC 0x31444842u
/* Every frame starts with this many header bytes. */
#define BH_HEADER_SIZE 24u
/* Largest frame (header + payload). Bulk data goes through shared memory. */
#define BH_MAX_MESSAGE 65536u
#define BH_MAX_PAYLOAD (BH_MAX_MESSAGE - BH_HEADER_SIZE)
/* Most fds one frame may carry. */
#define BH_MAX_FDS 8u
/* Length of the per-spawn token in Hello. */
#define BH_TOKEN_SIZE 16u

/* Header flags. */
enum {
	BH_FLAG_REQUEST = 1u << 0, /* the sender expects a reply with the same request id */
	BH_FLAG_REPLY = 1u << 1,   /* this frame answers request `request_id` */
	/*
	 * Another frame follows in the same datagram. Only one-way frames
	 * without fds are coalesced; the receiving channel splits the
	 * datagram and clears the flag, so no decoded header ever has it, and
	 * bh_header_decode() refuses a frame that still carries it.
	 */
	BH_FLAG_MORE = 1u << 2,
	BH_FLAGS_KNOWN = BH_FLAG_REQUEST | BH_FLAG_REPLY,
};

/*
 * The fixed frame header, little-endian on the wire, no padding:
 *   off 0  u32 magic         BH_WIRE_MAGIC
 *   off 4  u16 version       BH_PROTOCOL_VERSION
 *   off 6  u16 flags         BH_FLAG_*
 *   off 8  u32 type          message type id
 *   off 12 u32 request_id    0 unless REQUEST or REPLY
 *   off 16 u32 payload_len   bytes of protobuf payload after the header
 *   off 20 u8  nfds          fds attached with SCM_RIGHTS
 *   off 21 u8[3] reserved    zero
 */
typedef struct bh_header {
	uint32_t magic;
	uint16_t version;
	uint16_t flags;
	uint32_t type;
	uint32_t request_id;
	uint32_t payload_len;
	uint8_t nfds;
	uint8_t reserved[3];
} bh_header;

/* Framework message type ids (1 .. BH_MSG_APP_BASE-1 are reserved). */
enum {
	BH_MSG_HELLO = 1,          /* bh__hello */
	BH_MSG_WELCOME = 2,        /* bh__welcome */
	BH_MSG_ERROR = 3,          /* bh__error, reply only */
	BH_MSG_HEARTBEAT = 4,      /* bh__heartbeat */
	BH_MSG_SHUTDOWN = 5,       /* bh__shutdown */
	BH_MSG_CRASH_REPORT = 6,   /* bh__crash_report */
	BH_MSG_SETUP_FAILED = 7,   /* bh__setup_failed */
	BH_MSG_SANDBOX_STATUS = 8, /* bh__sandbox_status */
	BH_MSG_FILE_OPEN = 9,      /* bh__file_open, request */
	BH_MSG_FILE_OPENED = 10,   /* bh__file_opened, reply, 1 fd */
	BH_MSG_SHM_ALLOC = 11,     /* bh__shm_alloc, request */
	BH_MSG_SHM_ALLOCATED = 12, /* bh__shm_allocated, reply, 1 fd */
	BH_MSG_SURFACE_ATTACH = 13,/* bh__surface_attach, 1 fd */
	BH_MSG_SURFACE_DETACH = 14,/* bh__surface_detach */
	BH_MSG_FRAME_READY = 15,   /* bh__frame_ready */
	BH_MSG_FRAME_RELEASE = 16, /* bh__frame_release */
	BH_MSG_ZYGOTE_SPAWN = 17,  /* bh__zygote_spawn, request, 2 fds (broker <-> zygote only) */
	BH_MSG_ZYGOTE_SPAWNED = 18,/* bh__zygote_spawned, reply, 1 fd (pidfd) */
	BH_MSG_APP_BASE = 0x1000,  /* first id applications may register */
};

/* Encodes `h` into `out[BH_HEADER_SIZE]`, little-endian. */
BH_EXPORT void bh_header_encode(const bh_header *h, uint8_t out[BH_HEADER_SIZE]);

/*
 * Decodes and checks a header from `len` bytes: length, magic, version,
 * unknown flags, reserved bytes, nfds <= BH_MAX_FDS and
 * payload_len == len - BH_HEADER_SIZE. Returns 0 or a negative
 * bh_bad_reason (see below) and writes *out only on success.
 */
BH_EXPORT int bh_header_decode(const uint8_t *buf, size_t len, bh_header *out);

/*
 * Why a frame was refused. Each rejection has its own reason so that tests,
 * logs and fuzzers can tell them apart. bh_channel callbacks receive these.
 */
typedef enum bh_bad_reason {
	BH_BAD_NONE = 0,
	BH_BAD_SHORT,          /* datagram shorter than the header */
	BH_BAD_MAGIC,          /* wrong magic */
	BH_BAD_VERSION,        /* unsupported protocol version */
	BH_BAD_FLAGS,          /* unknown flag bits, REQUEST|REPLY together */
	BH_BAD_RESERVED,       /* reserved header bytes not zero */
	BH_BAD_LENGTH,         /* payload_len disagrees with the datagram size */
	BH_BAD_TOO_BIG,        /* datagram larger than BH_MAX_MESSAGE (MSG_TRUNC) */
	BH_BAD_CTRUNC,         /* control data truncated (MSG_CTRUNC) */
	BH_BAD_TOO_MANY_FDS,   /* more fds than BH_MAX_FDS or than the type allows */
	BH_BAD_UNEXPECTED_FDS, /* fds attached to a type that takes none */
	BH_BAD_FD_COUNT,       /* header nfds differs from the fds received */
	BH_BAD_MISSING_FDS,    /* fewer fds than the type requires */
	BH_BAD_CMSG,           /* a control message other than SCM_RIGHTS */
	BH_BAD_TYPE,           /* unknown or unregistered message type */
	BH_BAD_DECODE,         /* protobuf-c could not unpack the payload */
	BH_BAD_REPLY,          /* reply to a request that was never made */
	BH_BAD_SEQUENCE,       /* message not allowed in this state (e.g. before Hello) */
	BH_BAD_APP,            /* the application refused the message (bh_channel_bad_message) */
	BH_BAD_REASON_COUNT
} bh_bad_reason;

/* Static name of a reason ("short", "magic", ...). Thread-safe. */
BH_EXPORT const char *bh_bad_reason_name(int reason);

/* ---- message registry --------------------------------------------------- */

typedef struct bh_registry bh_registry;

/* Per-type rules. */
typedef struct bh_msg_type_info {
	uint32_t type;                           /* type id */
	const ProtobufCMessageDescriptor *desc;  /* payload descriptor (static storage) */
	unsigned max_fds;                        /* 0 .. BH_MAX_FDS */
	unsigned min_fds;                        /* 0 .. max_fds: fewer is a bad message */
} bh_msg_type_info;

/*
 * Creates a registry holding the framework's types (BH_MSG_HELLO ...).
 * Returns 0 and the registry in *out, or -ENOMEM.
 */
BH_EXPORT int bh_registry_create(bh_registry **out);

/* Frees the registry. Channels using it must be destroyed first. NULL is a no-op. */
BH_EXPORT void bh_registry_destroy(bh_registry *reg);

/*
 * Registers an application message type. `type` must be >= BH_MSG_APP_BASE,
 * `desc` must outlive the registry (protoc-c descriptors are static),
 * `max_fds` <= BH_MAX_FDS. Not thread-safe; register everything before the
 * registry is shared with channels. Returns 0, -EINVAL, -EEXIST or -ENOMEM.
 */
BH_EXPORT int bh_registry_add(bh_registry *reg, uint32_t type,
			      const ProtobufCMessageDescriptor *desc, unsigned max_fds);

/*
 * Same as bh_registry_add() with a minimum fd count too (for a type that
 * always carries an fd, min_fds = max_fds = 1): a frame with fewer fds is
 * refused before any handler sees it. Returns 0, -EINVAL, -EEXIST or -ENOMEM.
 */
BH_EXPORT int bh_registry_add_fds(bh_registry *reg, uint32_t type,
				  const ProtobufCMessageDescriptor *desc, unsigned min_fds,
				  unsigned max_fds);

/* Looks up a type; returns NULL if not registered. The result lives as long as `reg`. */
BH_EXPORT const bh_msg_type_info *bh_registry_lookup(const bh_registry *reg, uint32_t type);

/* Number of registered types (framework and application). */
BH_EXPORT size_t bh_registry_count(const bh_registry *reg);

/* The i-th registered type (0 <= i < count), in ascending type order. */
BH_EXPORT const bh_msg_type_info *bh_registry_at(const bh_registry *reg, size_t i);

#ifdef __cplusplus
}
#endif
#endif
