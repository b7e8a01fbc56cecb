/*
 * fuzz_broker: the demo broker's dispatch of every message its workers send.
 *
 * One real broker of bulkhead-browser (struct browser, broker/browser.h) lives
 * for the whole run: its registry, its supervisor with the zygote (forked
 * once), its reliability state and two tabs, headless, started with the
 * internal `fuzz_fixture` option so that no gpu process and no renderer is
 * ever spawned. Per input, three fake workers (supervisor_private.h: a
 * worker record on one end of a real SOCK_SEQPACKET socketpair, no process;
 * the three socketpairs live for the run, the broker's channel on a dup of
 * one end, drained between inputs) are bound as the broker's gpu and as
 * the renderers of tabs 1 and 2, and say Hello through their sockets, so
 * that the broker's own on_ready runs:
 * the gpu gets its GpuConfig and Scene, each renderer and the gpu the two
 * ends of a gpu channel (GpuChannel, with a generation), each renderer its
 * Navigate (with a navigation id). The input's frames are then written by one
 * of them, the sender, and go through the supervisor into the broker's
 * on_message and its handlers: on_page_state and on_debug_note for a
 * renderer; on_output_attach, on_output_frame, SurfaceDetach, on_composited,
 * on_bad_renderer and on_bench_result for the gpu; rel_on_pong for both.
 *
 * Input: a sequence (fuzz.h).
 *   options bits 0-1  the sender: 1 tab 1's renderer, 2 tab 2's, else the gpu
 *           bit 2     the sender starts before its Hello (it must then say
 *                     Hello with the token "bh-fuzz-token-16", its type and id
 *                     (gpu 1, renderers 2 and 3), from this process); else
 *                     the harness says it first
 *           bits 3-4  Pings the broker sends the sender once it is ready
 *                     (rel_burst): 0, 1, 2 or 5
 *           bit 5     the other renderer (tab 1's if the sender is the gpu)
 *                     ended before the first record: its tab is sad
 *           bit 6     the gpu is a restarted one (the broker saw one before)
 *   records: envelopes; fd kind bits 0-1 a memfd, a pipe, a socket or a
 *   regular file (bit 5: on tmpfs); bits 2-4 its size (the region size a
 *   SurfaceAttach claims, what its geometry needs, claimed + 1, claimed +
 *   4096, 0, 4096, 1 MiB, needed - 1); bits 5-7 how a memfd is passed (as
 *   created, reopened O_RDONLY, O_PATH, O_WRONLY, made without sealing).
 *   The record's aux byte is the memfd's seals (SHRINK, GROW, SEAL, WRITE,
 *   FUTURE_WRITE). After each record the harness shrinks every memfd it sent.
 *
 * Checked per record, against a model built only from the protocol's rules
 * and from what the broker sent the fake workers:
 *  - the sender is killed (its channel closed, its end classified
 *    BH_EXIT_BAD_MESSAGE with a named reason, or BH_EXIT_SETUP_FAILED for a
 *    refused Hello) exactly when a frame of the datagram must be refused
 *    (each frame of a coalesced one in order, which must be one-way and
 *    without fds; releases earned by the frames before it may then be
 *    lost with the channel): framework rules
 *    (header, fds, types the worker type may send, Hello, requests), an
 *    output SurfaceAttach whose fd, seals, size or geometry is wrong (the
 *    window is 64x48), a FrameReady or SurfaceDetach without that surface or
 *    with a bad slot, sequence or damage, a Pong for a Ping never sent;
 *  - a BadRenderer from the gpu kills the renderer it names exactly when
 *    the tab and the generation of its current gpu channel match and that
 *    renderer is ready, and never the gpu or the other renderer; a renderer
 *    can kill nobody but itself;
 *  - a PageState for the current navigation sets the tab's title and error;
 *    every title, error and sad-tab reason in the tabs, in the Scenes sent to
 *    the gpu and in everything the broker prints is UTF-8 with no control
 *    character (C0, DEL, C1), so no escape sequence reaches a terminal;
 *  - every message the broker sends a worker is one it may send (Welcome and
 *    errors answer requests, Scenes with growing serials, GpuChannels whose
 *    generation grows and matches on both sides, Navigates with growing ids,
 *    Pings numbered 1, 2, 3..., FrameReleases of exactly the frame held
 *    before); the frame held is readable after the gpu shrank its memfd
 *    (screenshot to /dev/null);
 * and per input: the fake workers end as they must and are forgotten, the
 * output surface is gone once the gpu ended, no fd leaks, and no memfd
 * mapping is left (every 16th input).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bulkhead/shm.h>
#include <bulkhead/supervisor.h>

#include "broker/browser.h"
#include "broker/browser_proto.h"
#include "bulkhead.pb-c.h"
#include "common/internal.h"
#include "fuzz/fuzz.h"
#include "supervisor/supervisor_private.h"

#define WIDTH 64u
#define HEIGHT 48u
#define STRIP 8u
#define SEALS_REQUIRED (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#define CAPTURE_MAX (1u << 20)

enum { OPT_SENDER = 3u, OPT_HANDSHAKE = 1u << 2, OPT_PINGS_SHIFT = 3, OPT_OTHER_DEAD = 1u << 5,
       OPT_GPU_RESTARTED = 1u << 6 };
enum { P_GPU, P_R1, P_R2, NPEERS };

static const uint8_t fuzz_token[BH_TOKEN_SIZE] = "bh-fuzz-token-16";
static const unsigned ping_counts[4] = { 0, 1, 2, 5 };
static const char *const initial_url[2] = { "index.html", "text.html" };

static const bh_fuzz_token tokens[] = {
	{ fuzz_token, BH_TOKEN_SIZE },
	{ (const uint8_t *)"renderer", 8 },
	{ (const uint8_t *)"gpu", 3 },
	{ (const uint8_t *)"\033]0;owned\007", 10 },
	{ (const uint8_t *)"\033[2J\033[H", 7 },
	{ (const uint8_t *)"\xc2\x9b" "31m", 5 },
	{ (const uint8_t *)"\x9b" "6n", 3 },
	{ (const uint8_t *)"\xe2\x80\xae", 3 },
	{ (const uint8_t *)"\xed\xa0\x80", 3 },
	{ (const uint8_t *)"\xc0\x80", 2 },
	{ (const uint8_t *)"\xf4\x90\x80\x80", 4 },
};

/* What the harness made for one fd of the current record: what the model judges by. */
/* The harness's end of one fake worker, and the model of what the broker told it. */
struct peer {
	const char *type;
	uint32_t id;
	struct tab *tab; /* NULL for the gpu */
	bh_worker *w;
	int sock;          /* the harness's end, for the whole run */
	int keep;          /* the broker's end, kept: the broker gets a dup of it */
	int bfd;           /* that dup, the broker's channel fd while attached */
	ino_t ino;         /* the socket's inode, to tell bfd from a reused number */
	bool ready, ended, killed;
	uint32_t requests[BH_FUZZ_SEQ_MAX + 1]; /* request ids it sent, which a reply must name */
	unsigned nrequests;
	uint64_t pings;  /* the last Ping's seq */
	uint32_t nav_id; /* renderers: the last Navigate */
	uint32_t chan_gen; /* renderers: the GpuChannel it got */
};

/* The model of the broker's state, from the protocol's rules and what it sent. */
struct model {
	uint32_t gen[2];     /* per tab: the generation the gpu got last (0: none or gone) */
	uint32_t max_gen;
	uint64_t scene_serial;
	bool out;            /* the output surface */
	uint32_t out_id;
	bh_surface_geometry g;
	uint64_t last_seq;
	int held;
	uint64_t held_seq;
	/* FrameReleases the broker owes; a coalesced datagram can carry a FrameReady per 40-odd bytes. */
	struct { uint32_t id, slot; uint64_t seq; } rel[2048];
	unsigned nrel;
	/*
	 * The sender is being killed for a later frame of the datagram that
	 * earned these releases: they go with its channel, or may.
	 */
	bool rel_may_drop;
	int victim;          /* the renderer a BadRenderer must kill (peer index), or -1 */
	bool check_state;    /* a PageState for the current navigation: compare the tab */
	int state_peer;
	char title[512], error[512];
	bool title_clean, error_clean;
};

static struct browser B;
static bh_fuzz_fdset fdset;
static int file_fd[2] = { -1, -1 }; /* on disk, on tmpfs */
static char file_path[2][64];
static char dir[64];
static struct peer peers[NPEERS];
static struct model md;
static bool log_stdout;
static unsigned long inputs, frames, kills, victims, states, attaches, shown;
static pid_t self_pid;
static unsigned long handled[MSG_DEBUG_NOTE + 1];

static void print_stats(void)
{
	static int printed;

	if (printed++)
		return;
	fprintf(stderr, "fuzz_broker: %lu inputs, %lu frames, %lu senders killed, %lu renderers killed "
			"by BadRenderer, %lu PageStates taken, %lu output surfaces, %lu frames read\n"
			"  handled per type:",
		inputs, frames, kills, victims, states, attaches, shown);
	for (size_t i = 0; i < bh_registry_count(B.reg); i++) {
		const bh_msg_type_info *t = bh_registry_at(B.reg, i);

		if (t->type < BH_ARRAY_SIZE(handled))
			fprintf(stderr, " %s:%lu", t->desc->short_name, handled[t->type]);
	}
	fputc('\n', stderr);
}

/* ---- text a terminal shows -------------------------------------------------------- */

/* Length of the UTF-8 sequence at s (at most n bytes) and its code point; 0 if malformed. */
static size_t utf8_next(const uint8_t *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c = s[0], min;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if (c >= 0xc2 && c <= 0xdf) {
		len = 2, c &= 0x1f, min = 0x80;
	} else if (c >= 0xe0 && c <= 0xef) {
		len = 3, c &= 0x0f, min = 0x800;
	} else if (c >= 0xf0 && c <= 0xf4) {
		len = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

/* Offset of the first byte a terminal could take for anything but text, or -1. */
static long unclean(const char *text, size_t n, bool newlines)
{
	const uint8_t *s = (const uint8_t *)text;

	for (size_t i = 0; i < n;) {
		uint32_t cp;
		size_t len = utf8_next(s + i, n - i, &cp);

		if (!len || (cp < 0x20 && !(newlines && cp == '\n')) || (cp >= 0x7f && cp < 0xa0))
			return (long)i;
		i += len;
	}
	return -1;
}

static void check_clean(const char *what, const char *text, size_t max)
{
	size_t n = strnlen(text, max + 1);
	long bad = unclean(text, n, false);

	BH_FUZZ_CHECK(n <= max, "%s longer than %zu bytes", what, max);
	BH_FUZZ_CHECK(bad < 0, "%s has byte 0x%02x at %ld: not clean text", what,
		      (unsigned char)text[bad], bad);
}

/* Everything the broker printed during this input: a terminal must see text only. */
static void check_output(void)
{
	static char buf[CAPTURE_MAX];
	struct stat st;
	ssize_t n;
	long bad;

	if (fflush(stdout) != 0 || fstat(STDOUT_FILENO, &st) < 0)
		bh_fuzz_fail("cannot read what the broker printed");
	BH_FUZZ_CHECK((uint64_t)st.st_size < CAPTURE_MAX, "the broker printed %lld bytes for one input",
		      (long long)st.st_size);
	n = pread(STDOUT_FILENO, buf, (size_t)st.st_size, 0);
	BH_FUZZ_CHECK(n == st.st_size, "short read of the broker's output");
	if (log_stdout)
		fwrite(buf, 1, (size_t)n, stderr);
	bad = unclean(buf, (size_t)n, true);
	if (bad >= 0) {
		long start = bad, end = bad;

		while (start > 0 && buf[start - 1] != '\n')
			start--;
		while (end < n && buf[end] != '\n')
			end++;
		bh_fuzz_fail("the broker printed byte 0x%02x in the line \"%.*s\"", (unsigned char)buf[bad],
			     (int)(end - start), buf + start);
	}
	if (ftruncate(STDOUT_FILENO, 0) < 0)
		bh_fuzz_fail("ftruncate: %s", strerror(errno));
	rewind(stdout);
}

static void check_tabs(void)
{
	for (struct tab *t = B.tabs; t; t = t->next) {
		check_clean("tab title", t->title, TITLE_MAX);
		check_clean("tab error", t->error, sizeof t->error - 1);
		check_clean("sad-tab reason", t->sad_reason, sizeof t->sad_reason - 1);
		BH_FUZZ_CHECK(t->n_link_targets <= TAB_MAX_LINKS, "%u link targets kept", t->n_link_targets);
		for (unsigned k = 0; k < t->n_link_targets; k++)
			check_clean("link target", t->link_targets[k], URL_MAX - 1);
	}
}

/* ---- frames the harness writes -------------------------------------------------- */

static void send_frame(struct peer *p, uint32_t type, uint16_t flags, uint32_t req,
		       const ProtobufCMessage *m)
{
	static uint8_t buf[BH_MAX_MESSAGE];
	size_t plen = protobuf_c_message_get_packed_size(m);
	bh_header h = {
		.magic = BH_WIRE_MAGIC,
		.version = BH_PROTOCOL_VERSION,
		.flags = flags,
		.type = type,
		.request_id = req,
		.payload_len = (uint32_t)plen,
	};
	int r;

	bh_header_encode(&h, buf);
	protobuf_c_message_pack(m, buf + BH_HEADER_SIZE);
	r = bh_fuzz_send(p->sock, buf, BH_HEADER_SIZE + plen, NULL, 0);
	BH_FUZZ_CHECK(r == 0, "cannot write to the broker: %s", strerror(-r));
}

static void say_hello(struct peer *p)
{
	Bh__Hello h = BH__HELLO__INIT;

	h.protocol_version = BH_PROTOCOL_VERSION;
	h.worker_type = (char *)p->type;
	h.pid = (uint32_t)self_pid;
	h.token.data = (uint8_t *)fuzz_token;
	h.token.len = BH_TOKEN_SIZE;
	h.worker_id = p->id;
	p->requests[p->nrequests++] = 1;
	send_frame(p, BH_MSG_HELLO, BH_FLAG_REQUEST, 1, &h.base);
	p->ready = true;
}

/* ---- what the broker sends the workers -------------------------------------------- */

static void add_expected_release(uint32_t id, uint32_t slot, uint64_t seq)
{
	BH_FUZZ_CHECK(md.nrel < BH_ARRAY_SIZE(md.rel), "too many releases owed");
	md.rel[md.nrel].id = id;
	md.rel[md.nrel].slot = slot;
	md.rel[md.nrel].seq = seq;
	md.nrel++;
}

static void check_release(const Bh__FrameRelease *fr)
{
	for (unsigned i = 0; i < md.nrel; i++) {
		if (md.rel[i].id == fr->surface_id && md.rel[i].slot == fr->slot && md.rel[i].seq == fr->seq) {
			md.rel[i] = md.rel[--md.nrel];
			return;
		}
	}
	bh_fuzz_fail("FrameRelease of surface %u slot %u seq %llu, which the broker did not hold",
		     fr->surface_id, fr->slot, (unsigned long long)fr->seq);
}

static struct peer *renderer_of(uint32_t tab_id)
{
	return tab_id == 1 ? &peers[P_R1] : tab_id == 2 ? &peers[P_R2] : NULL;
}

static void check_sent(struct peer *p, const bh_header *h, const uint8_t *payload, unsigned nfds)
{
	const bh_msg_type_info *info = bh_registry_lookup(B.reg, h->type);
	ProtobufCMessage *body;
	bool gpu = p == &peers[P_GPU];

	BH_FUZZ_CHECK(info != NULL, "the broker sent unregistered type %u", h->type);
	BH_FUZZ_CHECK(nfds >= info->min_fds && nfds <= info->max_fds, "type %u sent with %u fds",
		      h->type, nfds);
	body = protobuf_c_message_unpack(info->desc, NULL, h->payload_len, payload);
	BH_FUZZ_CHECK(body != NULL, "the broker sent type %u that does not decode", h->type);
	if (h->flags & BH_FLAG_REPLY) {
		unsigned i;

		for (i = 0; i < p->nrequests && p->requests[i] != h->request_id; i++)
			;
		BH_FUZZ_CHECK(i < p->nrequests, "reply to request %u, which the %s never made",
			      h->request_id, p->type);
		BH_FUZZ_CHECK(h->type == BH_MSG_WELCOME || h->type == BH_MSG_ERROR ||
				      h->type == BH_MSG_FILE_OPENED || h->type == BH_MSG_SHM_ALLOCATED,
			      "reply of type %u", h->type);
		if (h->type == BH_MSG_WELCOME)
			BH_FUZZ_CHECK(((const Bh__Welcome *)body)->worker_id == p->id, "Welcome for another id");
		goto out;
	}
	switch (h->type) {
	case MSG_GPU_CONFIG: {
		const Browser__GpuConfig *gc = (const Browser__GpuConfig *)body;

		BH_FUZZ_CHECK(gpu && gc->width == WIDTH && gc->height == HEIGHT && gc->strip_height == STRIP,
			      "bad GpuConfig");
		break;
	}
	case MSG_SCENE: {
		const Browser__Scene *sc = (const Browser__Scene *)body;

		BH_FUZZ_CHECK(gpu, "Scene sent to a renderer");
		BH_FUZZ_CHECK(sc->serial > md.scene_serial, "Scene serial %llu after %llu",
			      (unsigned long long)sc->serial, (unsigned long long)md.scene_serial);
		md.scene_serial = sc->serial;
		BH_FUZZ_CHECK(sc->n_tabs <= 2, "Scene with %zu tabs", sc->n_tabs);
		for (size_t i = 0; i < sc->n_tabs; i++) {
			check_clean("Scene title", sc->tabs[i]->title, 4096);
			check_clean("Scene sad reason", sc->tabs[i]->reason, 4096);
		}
		break;
	}
	case MSG_GPU_CHANNEL: {
		const Browser__GpuChannel *gc = (const Browser__GpuChannel *)body;
		struct peer *r = renderer_of(gc->tab_id);

		BH_FUZZ_CHECK(r != NULL, "GpuChannel for tab %u", gc->tab_id);
		if (gpu) {
			BH_FUZZ_CHECK(gc->generation > md.max_gen, "GpuChannel generation %u after %u",
				      gc->generation, md.max_gen);
			BH_FUZZ_CHECK(r->ready && !r->ended, "gpu channel for a renderer that is not ready");
			md.max_gen = gc->generation;
			md.gen[gc->tab_id - 1] = gc->generation;
		} else {
			BH_FUZZ_CHECK(r == p && gc->generation == md.gen[gc->tab_id - 1],
				      "renderer got channel %u of tab %u, the gpu %u", gc->generation,
				      gc->tab_id, md.gen[gc->tab_id - 1]);
			p->chan_gen = gc->generation;
		}
		break;
	}
	case MSG_NAVIGATE: {
		const Browser__Navigate *nv = (const Browser__Navigate *)body;

		BH_FUZZ_CHECK(!gpu && nv->nav_id > p->nav_id && nv->width == WIDTH &&
				      nv->height == HEIGHT - STRIP,
			      "bad Navigate %u after %u", nv->nav_id, p->nav_id);
		p->nav_id = nv->nav_id;
		break;
	}
	case MSG_PING:
		BH_FUZZ_CHECK(((const Browser__Ping *)body)->seq == p->pings + 1, "Ping %llu after %llu",
			      (unsigned long long)((const Browser__Ping *)body)->seq,
			      (unsigned long long)p->pings);
		p->pings++;
		break;
	case BH_MSG_FRAME_RELEASE:
		BH_FUZZ_CHECK(gpu, "FrameRelease sent to a renderer");
		check_release((const Bh__FrameRelease *)body);
		break;
	default:
		bh_fuzz_fail("the broker sent type %u to the %s", h->type, p->type);
	}
out:
	protobuf_c_message_free_unpacked(body, NULL);
}

/* Reads every frame queued for the peer, checks it and closes its fds. */
static void read_peer(struct peer *p)
{
	static uint8_t buf[BH_MAX_MESSAGE];
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(BH_MAX_FDS * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
	} cbuf;

	if (p->sock < 0)
		return;
	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b,
				     .msg_controllen = sizeof cbuf.b };
		int fds[BH_MAX_FDS];
		unsigned nfds = 0;
		uint8_t *f;
		bh_header h;
		ssize_t r = recvmsg(p->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		BH_FUZZ_CHECK(!(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)), "the broker sent too much");
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			size_t k;

			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
				continue;
			BH_FUZZ_CHECK(c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS,
				      "the broker sent control message %d", c->cmsg_type);
			k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t j = 0; j < k && nfds < BH_MAX_FDS; j++)
				memcpy(&fds[nfds++], CMSG_DATA(c) + j * sizeof(int), sizeof(int));
		}
		for (size_t off = 0, flen; (f = bh_fuzz_next_frame(buf, (size_t)r, &off, &flen));) {
			/* Frames after the first share the datagram, which then carries no fds. */
			unsigned mine = f == buf ? nfds : 0;

			BH_FUZZ_CHECK(bh_header_decode(f, flen, &h) == 0 && h.nfds == mine,
				      "the broker sent a malformed frame");
			check_sent(p, &h, f + BH_HEADER_SIZE, mine);
		}
		for (unsigned j = 0; j < nfds; j++)
			close(fds[j]);
	}
}

static void read_all(void)
{
	struct pollfd pf[NPEERS];

	/* Most calls find nothing: one poll() instead of a recvmsg() per socket that says EAGAIN. */
	for (int i = 0; i < NPEERS; i++)
		pf[i] = (struct pollfd){ .fd = peers[i].sock, .events = POLLIN };
	if (poll(pf, NPEERS, 0) < 0)
		bh_fuzz_fail("poll: %s", strerror(errno));
	for (int i = 0; i < NPEERS; i++)
		if (pf[i].revents)
			read_peer(&peers[i]);
	BH_FUZZ_CHECK(md.nrel == 0 || md.rel_may_drop, "the broker did not give back the frame it held");
	if (md.rel_may_drop)
		md.nrel = 0;
	md.rel_may_drop = false;
}

static void run_loop(void)
{
	/* A long coalesced datagram takes a round per receive budget. */
	for (int i = 0; i < 256; i++) {
		int r = bh_loop_run_once(B.loop, 0);

		BH_FUZZ_CHECK(r >= 0, "loop failed: %s", strerror(-r));
		/* Level-triggered: a pass that found nothing to do leaves nothing behind. */
		if (r == 0)
			break;
	}
}

/* The broker closed its channel: its fd is gone, or its number now names another file. */
static bool broker_closed(const struct peer *p)
{
	struct stat st;

	return fstat(p->bfd, &st) < 0 || st.st_ino != p->ino;
}


/* ---- the judgement the broker must reach -------------------------------------------- */

static bool allowed(const struct peer *p, uint32_t type)
{
	static const uint32_t renderer[] = { MSG_PAGE_STATE, MSG_PONG, MSG_DEBUG_NOTE };
	static const uint32_t gpu[] = { MSG_BAD_RENDERER, MSG_COMPOSITED, MSG_BENCH_RESULT, MSG_PONG,
					BH_MSG_SURFACE_ATTACH, BH_MSG_FRAME_READY, BH_MSG_SURFACE_DETACH };
	const uint32_t *list = p->tab ? renderer : gpu;
	size_t n = p->tab ? BH_ARRAY_SIZE(renderer) : BH_ARRAY_SIZE(gpu);

	for (size_t i = 0; i < n; i++)
		if (list[i] == type)
			return true;
	return false;
}

static bool hello_ok(const struct peer *p, const bh_header *h, const Bh__Hello *hl)
{
	return (h->flags & BH_FLAG_REQUEST) && hl->protocol_version == BH_PROTOCOL_VERSION &&
	       hl->token.len == BH_TOKEN_SIZE && memcmp(hl->token.data, fuzz_token, BH_TOKEN_SIZE) == 0 &&
	       hl->worker_id == p->id && strcmp(hl->worker_type, p->type) == 0;
}

static bool attach_ok(const Bh__SurfaceAttach *a, const bh_fuzz_made_fd *f)
{
	bh_surface_geometry g = { a->width, a->height, a->stride, a->format, a->slots };
	uint64_t need;

	if (bh_surface_geometry_check(&g, NULL, &need) < 0 || a->region_size > BH_SHM_MAX_SIZE ||
	    a->region_size < need)
		return false;
	/* The broker reads the output as a window of its own size. */
	if (a->width != WIDTH || a->height != HEIGHT)
		return false;
	return f->memfd && f->access != BH_FUZZ_ACC_PATH && f->access != BH_FUZZ_ACC_WRONLY &&
	       f->access != BH_FUZZ_ACC_NOSEAL && (f->seals & SEALS_REQUIRED) == SEALS_REQUIRED &&
	       f->size >= a->region_size;
}

static bool ready_ok(const Bh__FrameReady *fr)
{
	const Bh__Rect *d = fr->damage;

	return md.out && d && fr->surface_id == md.out_id && fr->slot < md.g.slots &&
	       fr->seq > md.last_seq && (uint64_t)d->x + d->width <= md.g.width &&
	       (uint64_t)d->y + d->height <= md.g.height && md.held != (int)fr->slot;
}

static void copy_text(char *out, size_t size, const char *in, bool *clean)
{
	snprintf(out, size, "%s", in ? in : "");
	*clean = unclean(out, strlen(out), false) < 0 && strlen(in ? in : "") < size;
}

/* Whether a frame the worker may send, decoded, must get it killed; updates the model. */
static bool app_must_kill(struct peer *p, uint32_t type, const ProtobufCMessage *body,
			  const bh_fuzz_made_fd *made, unsigned nmade)
{
	switch (type) {
	case MSG_PONG:
		return ((const Browser__Pong *)body)->seq > p->pings;
	case BH_MSG_SURFACE_ATTACH: {
		const Bh__SurfaceAttach *a = (const Bh__SurfaceAttach *)body;

		if (nmade < 1 || !attach_ok(a, &made[0]))
			return true;
		md.out = true;
		md.out_id = a->surface_id;
		md.g = (bh_surface_geometry){ a->width, a->height, a->stride, a->format, a->slots };
		md.last_seq = 0;
		md.held = -1;
		attaches++;
		return false;
	}
	case BH_MSG_FRAME_READY: {
		const Bh__FrameReady *fr = (const Bh__FrameReady *)body;

		if (!ready_ok(fr))
			return true;
		if (md.held >= 0)
			add_expected_release(md.out_id, (uint32_t)md.held, md.held_seq);
		md.held = (int)fr->slot;
		md.held_seq = fr->seq;
		md.last_seq = fr->seq;
		return false;
	}
	case BH_MSG_SURFACE_DETACH:
		if (!md.out || ((const Bh__SurfaceDetach *)body)->surface_id != md.out_id)
			return true;
		md.out = false;
		md.held = -1;
		return false;
	case MSG_BAD_RENDERER: {
		const Browser__BadRenderer *br = (const Browser__BadRenderer *)body;
		struct peer *r = renderer_of(br->tab_id);

		if (r && r->ready && !r->ended && md.gen[br->tab_id - 1] &&
		    br->generation == md.gen[br->tab_id - 1])
			md.victim = (int)(r - peers);
		return false;
	}
	case MSG_PAGE_STATE: {
		const Browser__PageState *ps = (const Browser__PageState *)body;

		if (ps->nav_id == p->nav_id) {
			md.check_state = true;
			md.state_peer = (int)(p - peers);
			copy_text(md.title, sizeof md.title, ps->title, &md.title_clean);
			copy_text(md.error, sizeof md.error, ps->error, &md.error_clean);
			md.title_clean = md.title_clean && strlen(md.title) <= TITLE_MAX;
			md.error_clean = md.error_clean && strlen(md.error) < sizeof p->tab->error;
		}
		return false;
	}
	default:
		return false;
	}
}

/*
 * Whether the frame must get the sender killed, worked out independently of
 * the channel, the supervisor and the broker from the protocol's rules;
 * updates the model as an accepted frame would.
 */
static bool must_kill_frame(struct peer *p, const uint8_t *buf, size_t len, unsigned nfds,
			    const bh_fuzz_made_fd *made, bool coalesced)
{
	const bh_msg_type_info *info;
	ProtobufCMessage *body;
	bh_header h;
	bool kill = false;

	if (bh_header_decode(buf, len, &h) < 0)
		return true;
	/* Only one-way frames without fds share a datagram. */
	if (coalesced && (nfds || (h.flags & (BH_FLAG_REQUEST | BH_FLAG_REPLY))))
		return true;
	if (nfds != h.nfds || !(info = bh_registry_lookup(B.reg, h.type)) || nfds > info->max_fds ||
	    nfds < info->min_fds || (h.flags & BH_FLAG_REPLY) || h.type == BH_MSG_ERROR)
		return true;
	body = protobuf_c_message_unpack(info->desc, NULL, h.payload_len, buf + BH_HEADER_SIZE);
	if (!body)
		return true;
	if (h.type < BH_ARRAY_SIZE(handled))
		handled[h.type]++;
	if ((h.flags & BH_FLAG_REQUEST) && p->nrequests < BH_ARRAY_SIZE(p->requests))
		p->requests[p->nrequests++] = h.request_id;
	if (!p->ready) {
		if (h.type == BH_MSG_HELLO && hello_ok(p, &h, (const Bh__Hello *)body))
			p->ready = true;
		else
			kill = true;
		goto out;
	}
	switch (h.type) {
	case BH_MSG_HELLO:
		kill = true;
		break;
	case BH_MSG_HEARTBEAT:
	case BH_MSG_CRASH_REPORT:
	case BH_MSG_SETUP_FAILED:
		break;
	case BH_MSG_SANDBOX_STATUS: {
		bh_sandbox_status st;

		kill = bh_sandbox_status_from_pb((const Bh__SandboxStatus *)body, &st) < 0;
		break;
	}
	case BH_MSG_FILE_OPEN:
	case BH_MSG_SHM_ALLOC:
		/* Both worker types have files and a shared-memory quota. */
		kill = !(h.flags & BH_FLAG_REQUEST);
		break;
	default:
		kill = !allowed(p, h.type) || app_must_kill(p, h.type, body, made, nfds);
	}
out:
	protobuf_c_message_free_unpacked(body, NULL);
	return kill;
}

struct kill_ctx {
	struct peer *p;
	const bh_fuzz_made_fd *made;
};

static int kill_frame(void *ud, const uint8_t *buf, size_t len, unsigned nfds, bool coalesced)
{
	struct kill_ctx *c = ud;

	return must_kill_frame(c->p, buf, len, nfds, c->made, coalesced);
}

/* The same for a datagram: its frames in order (BH_FLAG_MORE). */
static bool must_kill(struct peer *p, const uint8_t *dgram, size_t len, unsigned nfds, bool flood,
		      const bh_fuzz_made_fd *made)
{
	struct kill_ctx c = { p, made };

	if (flood || len > BH_MAX_MESSAGE)
		return true;
	return bh_fuzz_each_frame(dgram, len, nfds, kill_frame, &c) != 0;
}

/* ---- making the fds ------------------------------------------------------------ */

static int memfd_mappings(void)
{
	char line[512];
	int n = 0;
	FILE *f = fopen("/proc/self/maps", "re");

	if (!f)
		bh_fuzz_fail("cannot read /proc/self/maps");
	while (fgets(line, sizeof line, f))
		if (strstr(line, "/memfd:"))
			n++;
	fclose(f);
	return n;
}

/* ---- the fixture ------------------------------------------------------------------ */

static void teardown(void)
{
	browser_fini(&B);
	for (int i = 0; i < 2; i++)
		if (file_fd[i] >= 0)
			close(file_fd[i]);
	bh_fuzz_fdset_fini(&fdset);
	for (int i = 0; i < NPEERS; i++) {
		if (peers[i].sock > 0)
			close(peers[i].sock);
		if (peers[i].keep > 0)
			close(peers[i].keep);
	}
	if (dir[0])
		rmdir(dir);
}

int bh_fuzz_replay_done(void)
{
	if (getenv("BH_FUZZ_STATS"))
		print_stats();
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *tmp[2] = { "/tmp", "/dev/shm" };
	int cap, r;

	if (bh_fuzz_fdset_init(&fdset) < 0)
		bh_fuzz_fail("cannot set up the harness");
	for (int i = 0; i < 2; i++) {
		snprintf(file_path[i], sizeof file_path[i], "%s/bh-fuzz-broker-XXXXXX", tmp[i]);
		file_fd[i] = mkostemp(file_path[i], O_CLOEXEC);
		if (file_fd[i] < 0)
			bh_fuzz_fail("mkostemp %s: %s", file_path[i], strerror(errno));
		/* The open fd is all the harness needs: nothing is left behind. */
		unlink(file_path[i]);
	}
	/* An empty folder for the file rules: FileOpen is fuzz_supervisor's business. */
	snprintf(dir, sizeof dir, "/tmp/bh-fuzz-broker-XXXXXX");
	if (!mkdtemp(dir))
		bh_fuzz_fail("mkdtemp: %s", strerror(errno));
	/* What the broker prints goes to a memfd that is checked after each input. */
	log_stdout = getenv("BH_FUZZ_LOG") != NULL;
	cap = memfd_create("bh-fuzz-broker-stdout", MFD_CLOEXEC);
	if (cap < 0 || fflush(stdout) != 0 || dup2(cap, STDOUT_FILENO) < 0)
		bh_fuzz_fail("cannot capture stdout: %s", strerror(errno));
	close(cap);

	B.o.pages_dir = dir;
	B.o.font_dir = dir;
	B.o.width = WIDTH;
	B.o.height = HEIGHT;
	B.o.strip = STRIP;
	B.o.headless = true;
	B.o.preview = 0;
	B.o.verbose = log_stdout;
	B.o.fuzz_fixture = true;
	/* The zygote is forked here, once. */
	r = browser_init(&B);
	if (r < 0)
		bh_fuzz_fail("browser_init: %s", strerror(-r));
	/*
	 * The file broker holds the folder open: gone from /tmp now, it stays
	 * as empty for it, and a run that never reaches exit() leaves nothing.
	 */
	if (rmdir(dir) == 0)
		dir[0] = '\0';
	atexit(teardown);
	/* Pings and the flood budget run on the clock: inputs must replay the same way. */
	bh_timer_disarm(B.rel.tick);
	for (uint32_t i = 0; i < 2; i++) {
		struct tab *t = calloc(1, sizeof *t), **pp;

		if (!t)
			bh_fuzz_fail("out of memory");
		t->id = ++B.next_tab_id;
		for (pp = &B.tabs; *pp; pp = &(*pp)->next)
			;
		*pp = t;
	}
	peers[P_GPU] = (struct peer){ .type = "gpu", .id = 1 };
	peers[P_R1] = (struct peer){ .type = "renderer", .id = 2, .tab = B.tabs };
	peers[P_R2] = (struct peer){ .type = "renderer", .id = 3, .tab = B.tabs->next };
	for (int i = 0; i < NPEERS; i++) {
		struct peer *p = &peers[i];
		struct stat st;
		int sv[2];

		if (bh_channel_socketpair(sv) < 0 || fstat(sv[0], &st) < 0)
			bh_fuzz_fail("socketpair failed");
		p->keep = sv[0];
		p->sock = sv[1];
		p->bfd = -1;
		p->ino = st.st_ino;
	}
	self_pid = getpid();
	bh_fuzz_set_tokens(tokens, BH_ARRAY_SIZE(tokens));
	if (getenv("BH_FUZZ_STATS"))
		atexit(print_stats);
	return 0;
}

/* The broker as bulkhead-browser leaves it after start-up with two tabs, before any worker. */
static void reset_browser(bool gpu_restarted)
{
	unsigned i = 0;

	B.gpu = NULL;
	B.gpu_ready = B.gpu_failed = false;
	B.gpu_started_once = gpu_restarted;
	B.next_nav_id = B.next_gen = 0;
	B.active = 1;
	B.overview = false;
	B.scene_serial = B.shown_serial = 0;
	B.held = -1;
	B.frames = B.out_bytes = B.out_compose_ns = 0;
	B.fps_t0 = B.fps_frames = 0;
	memset(B.ev, 0, sizeof B.ev);
	memset(&B.gpu_rel, 0, sizeof B.gpu_rel);
	B.bench_done = false;
	for (struct tab *t = B.tabs; t; t = t->next, i++) {
		struct tab *next = t->next;
		uint32_t id = t->id;

		memset(t, 0, sizeof *t);
		t->id = id;
		t->next = next;
		snprintf(t->url, sizeof t->url, "%s", initial_url[i]);
		snprintf(t->loading_url, sizeof t->loading_url, "%s", initial_url[i]);
		t->nav_pending = true;
	}
}

/*
 * The socketpairs live for the whole run: releasing a unix socket costs the
 * kernel more than everything else an input does. The broker gets a dup of
 * the kept end, so that its channel closing (a kill) closes only the dup;
 * broker_closed() tells that from the fd. As bh_channel_socketpair() leaves
 * a socket, it carries credentials until a Hello is accepted.
 */
static void attach(struct peer *p)
{
	static const int one = 1;
	int r;

	if (setsockopt(p->keep, SOL_SOCKET, SO_PASSCRED, &one, sizeof one) < 0)
		bh_fuzz_fail("SO_PASSCRED: %s", strerror(errno));
	p->bfd = fcntl(p->keep, F_DUPFD_CLOEXEC, 0);
	if (p->bfd < 0)
		bh_fuzz_fail("dup: %s", strerror(errno));
	r = bh__supervisor_attach_fake(B.sup, p->type, p->id, p->bfd, fuzz_token, self_pid, &p->w);
	if (r < 0)
		bh_fuzz_fail("bh__supervisor_attach_fake: %s", strerror(-r));
	p->ready = p->ended = p->killed = false;
	p->nrequests = 0;
	p->pings = 0;
	p->nav_id = p->chan_gen = 0;
	if (p->tab) {
		p->tab->w = p->w;
		bh_worker_set_userdata(p->w, p->tab);
	} else {
		B.gpu = p->w;
	}
}

/* Ends a fake worker as if its process exited (killed, if the broker killed it): on_exit runs. */
static void end_peer(struct peer *p, bool settle)
{
	const bh_exit_info *info;
	int r;

	r = bh__supervisor_end_fake(p->w);
	BH_FUZZ_CHECK(r == 0, "bh__supervisor_end_fake: %s", strerror(-r));
	p->ended = true;
	info = bh_worker_last_exit(p->w);
	BH_FUZZ_CHECK(info != NULL, "no exit recorded");
	if (p->killed) {
		BH_FUZZ_CHECK(info->kind == BH_EXIT_BAD_MESSAGE || info->kind == BH_EXIT_SETUP_FAILED,
			      "killed %s classified as %s", p->type, bh_exit_kind_name(info->kind));
		BH_FUZZ_CHECK(info->kind != BH_EXIT_BAD_MESSAGE ||
				      (info->bad_reason > 0 && info->bad_reason < BH_BAD_REASON_COUNT),
			      "bad message without a reason (%d)", info->bad_reason);
		BH_FUZZ_CHECK(info->detail[0] != '\0', "kill without a detail");
	} else {
		BH_FUZZ_CHECK(info->kind == BH_EXIT_CLEAN, "%s kept but classified as %s: %s", p->type,
			      bh_exit_kind_name(info->kind), info->detail);
	}
	BH_FUZZ_CHECK(!bh_worker_is_ready(p->w), "an ended worker is ready");
	if (p->tab)
		md.gen[p->tab->id - 1] = 0;
	else
		md.gen[0] = md.gen[1] = 0;
	if (settle) {
		run_loop();
		read_all();
	}
}

static void forget(struct peer *p)
{
	BH_FUZZ_CHECK(bh_worker_forget(p->w) == 0, "cannot forget the %s", p->type);
	if (p->tab)
		p->tab->w = NULL;
	else
		B.gpu = NULL;
	p->w = NULL;
	/* What either side left unread must not reach the next input. */
	bh_fuzz_drain(p->sock);
	bh_fuzz_drain(p->keep);
}

/* A screenshot reads the whole frame the broker holds, after the gpu shrank what it could. */
/*
 * A PNG of the 64x48 frame costs about as much as two whole inputs (zlib
 * and libpng's filter search): every 128th input reads the frame that way,
 * the others read every byte of it as the encoder would, straight from the
 * mapping.
 */
static void read_held(void)
{
	char err[256];
	int r;

	if (!B.out || B.held < 0)
		return;
	shown++;
	if (inputs % 128 == 1) {
		r = output_screenshot(&B, "/dev/null", err, sizeof err);
		BH_FUZZ_CHECK(r == 0, "screenshot of the held frame failed: %s", err);
	} else {
		const bh_surface_geometry *g = bh_surface_get_geometry(B.out);
		const volatile uint8_t *px = bh_surface_slot_data(B.out, (unsigned)B.held);
		uint8_t sum = 0;

		BH_FUZZ_CHECK(px != NULL, "the held frame has no pixels");
		for (uint32_t y = 0; y < g->height; y++)
			for (size_t x = 0; x < (size_t)g->width * 4; x++)
				sum ^= px[y * g->stride + x];
		(void)sum;
	}
}

/* After a record: who was killed, and was it right. */
static void judge(struct peer *s, unsigned rec, bool expect_kill)
{
	for (int i = 0; i < NPEERS; i++) {
		struct peer *p = &peers[i];
		bool expect = p == s ? expect_kill : i == md.victim;

		if (!p->w || p->ended)
			continue;
		p->killed = broker_closed(p);
		BH_FUZZ_CHECK(p->killed == expect, "record %u: the %s (id %u) was %s, expected %s", rec,
			      p->type, p->id, p->killed ? "killed" : "kept", expect ? "killed" : "kept");
	}
	if (md.victim >= 0) {
		victims++;
		end_peer(&peers[md.victim], true);
	}
	if (s->killed) {
		kills++;
		end_peer(s, true);
	}
}

static void check_page_state(void)
{
	const struct tab *t = peers[md.state_peer].tab;

	states++;
	BH_FUZZ_CHECK(t->loaded, "PageState for the current navigation not taken");
	if (md.title_clean)
		BH_FUZZ_CHECK(strcmp(t->title, md.title) == 0, "title \"%s\" shown as \"%s\"", md.title,
			      t->title);
	if (md.error_clean)
		BH_FUZZ_CHECK(strcmp(t->error, md.error) == 0, "error \"%s\" shown as \"%s\"", md.error,
			      t->error);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bh_fuzz_record recs[BH_FUZZ_SEQ_MAX];
	struct peer *s, *other;
	uint8_t options;
	unsigned n, pings;
	bool pinged = false;
	int base, r;

	/* Not the last input's end: libFuzzer itself opens files between inputs. */
	base = bh_fuzz_count_fds();
	inputs++;
	n = bh_fuzz_seq_parse(data, size, &options, recs, BH_FUZZ_SEQ_MAX);
	s = &peers[(options & OPT_SENDER) == 1 ? P_R1 : (options & OPT_SENDER) == 2 ? P_R2 : P_GPU];
	other = s == &peers[P_R1] ? &peers[P_R2] : &peers[P_R1];
	pings = ping_counts[(options >> OPT_PINGS_SHIFT) & 3];
	memset(&md, 0, sizeof md);
	md.held = -1;
	md.victim = -1;
	reset_browser(options & OPT_GPU_RESTARTED);
	for (int i = 0; i < NPEERS; i++)
		peers[i].ready = peers[i].ended = peers[i].killed = false;

	/*
	 * The gpu first, as at start-up: each renderer then gets its gpu channel
	 * when it is ready. A renderer's messages concern its own tab and the
	 * gpu only: the other tab then has a renderer only if it is to be dead.
	 */
	for (int i = 0; i < NPEERS; i++) {
		struct peer *p = &peers[i];

		if (p == other && s != &peers[P_GPU] && !(options & OPT_OTHER_DEAD))
			continue;
		attach(p);
		if (p != s || !(options & OPT_HANDSHAKE))
			say_hello(p);
		run_loop();
	}
	read_all();
	if (options & OPT_OTHER_DEAD)
		end_peer(other, true);

	for (unsigned i = 0; i < n && !s->ended; i++) {
		bh_fuzz_made_fd made[BH_FUZZ_MAX_FDS + BH_FUZZ_FLOOD_FDS];
		int fds[BH_FUZZ_MAX_FDS + BH_FUZZ_FLOOD_FDS];
		bh_fuzz_envelope env;
		uint64_t claimed, need;
		unsigned nfds;
		bool flood, expect_kill;

		if (s->ready && !pinged) {
			pinged = true;
			if (pings) {
				rel_burst(&B, s->w, pings, "fuzz");
				run_loop();
				read_all();
				BH_FUZZ_CHECK(s->pings == pings, "%llu of %u Pings arrived",
					      (unsigned long long)s->pings, pings);
			}
		}
		bh_fuzz_envelope_parse(recs[i].env, recs[i].env_len, &env);
		bh_fuzz_region_claims(env.frame, env.frame_len, &claimed, &need);
		for (unsigned k = 0; k < env.nfds; k++) {
			fds[k] = bh_fuzz_make_fd(&fdset, file_fd, env.kinds[k], recs[i].aux, claimed, need, &made[k]);
			if (fds[k] < 0)
				bh_fuzz_fail("cannot make fd: %s", strerror(errno));
		}
		nfds = env.nfds;
		flood = (env.ctl & BH_FUZZ_CTL_FLOOD) != 0;
		if (flood) {
			for (unsigned k = 0; k < BH_FUZZ_FLOOD_FDS; k++) {
				made[nfds] = (bh_fuzz_made_fd){ .fd = -1 };
				fds[nfds++] = dup(fdset.fd[BH_FUZZ_FD_DEVNULL]);
			}
		}
		r = bh_fuzz_send(s->sock, env.frame, env.frame_len, fds, nfds);
		for (unsigned k = 0; k < nfds; k++)
			close(fds[k]);
		if (r == 0) {
			frames++;
			md.victim = -1;
			md.check_state = false;
			expect_kill = must_kill(s, env.frame, env.frame_len, env.nfds, flood, made);
			md.rel_may_drop = expect_kill;
			run_loop();
		} else {
			/* Too large for the socket: the broker never sees it. */
			BH_FUZZ_CHECK(r == -EMSGSIZE || r == -ENOBUFS || r == -EAGAIN, "send failed: %s",
				      strerror(-r));
			expect_kill = false;
		}
		/* The evil gpu's move: shrink what it sent. Only missing seals let it. */
		for (unsigned k = 0; k < nfds; k++) {
			if (made[k].fd < 0)
				continue;
			if (ftruncate(made[k].fd, 0) == 0)
				BH_FUZZ_CHECK(!(made[k].seals & F_SEAL_SHRINK) || made[k].size == 0,
					      "a memfd sealed against shrinking shrank");
			close(made[k].fd);
		}
		read_all();
		if (r == 0) {
			judge(s, i, expect_kill);
			if (md.check_state && !s->ended)
				check_page_state();
		}
		read_held();
		check_tabs();
	}

	for (int i = NPEERS - 1; i >= 0; i--)
		if (peers[i].w && !peers[i].ended)
			end_peer(&peers[i], false);
	run_loop();
	read_all();
	BH_FUZZ_CHECK(B.out == NULL && B.held == -1 && !B.gpu_ready,
		      "the output surface outlived the gpu");
	check_tabs();
	for (int i = 0; i < NPEERS; i++)
		if (peers[i].w)
			forget(&peers[i]);
	BH_FUZZ_CHECK(bh_supervisor_next(B.sup, NULL) == NULL, "a worker record is left over");
	/* Once per input: the lines of every record are there. */
	check_output();
	r = bh_fuzz_count_fds();
	if (r != base) {
		bh_fuzz_list_fds();
		bh_fuzz_fail("fd leak: %d open fds, %d before", r, base);
	}
	/* Reading the maps costs more than an input: every 16th, where every surface is gone. */
	if (inputs % 16 == 1 || getenv("BH_FUZZ_CHECK_MAPS")) {
		r = memfd_mappings();
		BH_FUZZ_CHECK(r == 0, "%d memfd mappings left after the input", r);
	}
	return 0;
}

/*
 * Each input makes and frees three channels, each with a 64 KiB receive
 * buffer: ASan's default 256 MiB quarantine keeps thousands of them mapped
 * and faults their shadow in again and again, a sixth of the run time. A
 * use after free is still caught for the next dozens of inputs. ASAN_OPTIONS
 * overrides this.
 */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "quarantine_size_mb=32";
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed)
{
	return bh_fuzz_mutate_seq(B.reg, data, size, max, seed);
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *a, size_t asize, const uint8_t *b, size_t bsize,
				 uint8_t *out, size_t max, unsigned seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *a, size_t asize, const uint8_t *b, size_t bsize,
				 uint8_t *out, size_t max, unsigned seed)
{
	return bh_fuzz_crossover_seq(B.reg, a, asize, b, bsize, out, max, seed);
}
