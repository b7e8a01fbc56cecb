/* Frame header encoding and the first line of validation. */
#include <string.h>

#include <bulkhead/protocol.h>

#include "common/internal.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
	       ((uint32_t)p[3] << 24);
}

void bh_header_encode(const bh_header *h, uint8_t out[BH_HEADER_SIZE])
{
	put32(out + 0, h->magic);
	put16(out + 4, h->version);
	put16(out + 6, h->flags);
	put32(out + 8, h->type);
	put32(out + 12, h->request_id);
	put32(out + 16, h->payload_len);
	out[20] = h->nfds;
	out[21] = h->reserved[0];
	out[22] = h->reserved[1];
	out[23] = h->reserved[2];
}

size_t bh__frame_split(uint8_t *buf, size_t len)
{
	uint16_t flags;
	uint32_t plen;

	if (len < 2 * BH_HEADER_SIZE)
		return len;
	flags = get16(buf + 6);
	plen = get32(buf + 16);
	if (!(flags & BH_FLAG_MORE) || plen > len - 2 * BH_HEADER_SIZE)
		return len;
	put16(buf + 6, (uint16_t)(flags & ~BH_FLAG_MORE));
	return BH_HEADER_SIZE + plen;
}

void bh__frame_set_more(uint8_t *frame, int more)
{
	uint16_t flags = get16(frame + 6);

	put16(frame + 6, (uint16_t)(more ? flags | BH_FLAG_MORE : flags & ~BH_FLAG_MORE));
}

uint16_t bh__frame_flags(const uint8_t *frame)
{
	return get16(frame + 6);
}

int bh_header_decode(const uint8_t *buf, size_t len, bh_header *out)
{
	bh_header h;

	if (len < BH_HEADER_SIZE)
		return -BH_BAD_SHORT;
	if (len > BH_MAX_MESSAGE)
		return -BH_BAD_TOO_BIG;
	h.magic = get32(buf + 0);
	h.version = get16(buf + 4);
	h.flags = get16(buf + 6);
	h.type = get32(buf + 8);
	h.request_id = get32(buf + 12);
	h.payload_len = get32(buf + 16);
	h.nfds = buf[20];
	memcpy(h.reserved, buf + 21, 3);
	if (h.magic != BH_WIRE_MAGIC)
		return -BH_BAD_MAGIC;
	if (h.version != BH_PROTOCOL_VERSION)
		return -BH_BAD_VERSION;
	if ((h.flags & ~BH_FLAGS_KNOWN) ||
	    (h.flags & (BH_FLAG_REQUEST | BH_FLAG_REPLY)) == (BH_FLAG_REQUEST | BH_FLAG_REPLY))
		return -BH_BAD_FLAGS;
	/* A request or reply without an id could never be matched. */
	if ((h.flags & (BH_FLAG_REQUEST | BH_FLAG_REPLY)) ? h.request_id == 0 : h.request_id != 0)
		return -BH_BAD_FLAGS;
	if (h.reserved[0] | h.reserved[1] | h.reserved[2])
		return -BH_BAD_RESERVED;
	if (h.payload_len != len - BH_HEADER_SIZE)
		return -BH_BAD_LENGTH;
	if (h.nfds > BH_MAX_FDS)
		return -BH_BAD_TOO_MANY_FDS;
	*out = h;
	return 0;
}

const char *bh_bad_reason_name(int reason)
{
	static const char *const names[BH_BAD_REASON_COUNT] = {
		[BH_BAD_NONE] = "none",
		[BH_BAD_SHORT] = "short datagram",
		[BH_BAD_MAGIC] = "wrong magic",
		[BH_BAD_VERSION] = "unsupported protocol version",
		[BH_BAD_FLAGS] = "invalid flags",
		[BH_BAD_RESERVED] = "reserved bytes set",
		[BH_BAD_LENGTH] = "payload length disagrees with datagram",
		[BH_BAD_TOO_BIG] = "message larger than the limit",
		[BH_BAD_CTRUNC] = "control data truncated",
		[BH_BAD_TOO_MANY_FDS] = "too many fds",
		[BH_BAD_UNEXPECTED_FDS] = "fds attached to a type that takes none",
		[BH_BAD_FD_COUNT] = "fd count disagrees with header",
		[BH_BAD_MISSING_FDS] = "fewer fds than the type requires",
		[BH_BAD_CMSG] = "unexpected control message",
		[BH_BAD_TYPE] = "unknown message type",
		[BH_BAD_DECODE] = "payload does not decode",
		[BH_BAD_REPLY] = "reply to no request",
		[BH_BAD_SEQUENCE] = "message not allowed now",
		[BH_BAD_APP] = "refused by the application",
	};

	if (reason < 0)
		reason = -reason;
	if (reason >= BH_BAD_REASON_COUNT)
		return "unknown reason";
	return names[reason];
}
