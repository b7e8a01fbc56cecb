/*
 * fuzz_supervisor: the broker's dispatch of every message a worker may send.
 *
 * One real supervisor (with its zygote, forked once) lives for the whole
 * run. Per input, a worker record is bound to one end of a real
 * SOCK_SEQPACKET socketpair (bh__supervisor_attach_fake: no process, no
 * pidfd) and the input's frames are written into the other end, so that
 * the supervisor's own handler (worker_message in supervisor.c) runs on
 * real broker state: the Hello check, heartbeats, SandboxStatus through
 * bh_sandbox_status_from_pb, crash and setup reports, FileOpen through the
 * real file broker on a real directory tree (files, symlinks in and out, a
 * loop, a FIFO, a socket, a device node when allowed), ShmAlloc through the
 * real quota with a small cap, and application types the worker type may or
 * may not send.
 *
 * Input: a sequence (fuzz.h). Options bit 0 picks the worker type
 * ("renderer": files, 64 KiB shared memory in 3 regions, may send
 * bhfuzz.AllKinds; "gpu": no files, no shared memory, may send bhfuzz.Leaf);
 * bit 1 starts the worker before its Hello (it must then say Hello with
 * the token "bh-fuzz-token-16", type, id 7, from this process) instead of
 * ready. Each record is one datagram with its fds (envelope); the CALL bit
 * has no meaning here (the broker has no call outstanding to a worker).
 *
 * Checked per input:
 *  - every frame (each one of a coalesced datagram, in order) is predicted,
 *    from its bytes and the worker's state, to be either acceptable or bad,
 *    exactly as the broker must judge it; a bad
 *    one must close the worker's channel (the worker is killed: its end
 *    classified BH_EXIT_BAD_MESSAGE with a named reason, or
 *    BH_EXIT_SETUP_FAILED for a refused Hello) and a good one must not;
 *  - every reply the worker gets is well formed and answers a request it
 *    made; a FileOpened fd is a read-only regular file beneath the rule
 *    directory; a ShmAllocated fd is a sealed memfd of the size asked, and
 *    the regions granted stay within the type's quota;
 *  - the worker ends cleanly (bh_worker_forget succeeds) and no fd leaks.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bulkhead/filebroker.h>
#include <bulkhead/shm.h>
#include <bulkhead/supervisor.h>

#include "bulkhead.pb-c.h"
#include "common/internal.h"
#include "fuzz/fuzz.h"
#include "supervisor/supervisor_private.h"

static const uint8_t fuzz_token[BH_TOKEN_SIZE] = "bh-fuzz-token-16";
#define FUZZ_WORKER_ID 7u
#define QUOTA_BYTES (64u << 10)
#define QUOTA_REGIONS 3u
/* The application's own check on the messages it accepts. */
#define APP_MAX_FDS 4u

enum { OPT_GPU = 1u << 0, OPT_HANDSHAKE = 1u << 1 };

static const bh_fuzz_token tokens[] = {
	{ fuzz_token, BH_TOKEN_SIZE },
	{ (const uint8_t *)"renderer", 8 },
	{ (const uint8_t *)"gpu", 3 },
	{ (const uint8_t *)"page.html", 9 },
	{ (const uint8_t *)"link-in.html", 12 },
	{ (const uint8_t *)"sub/deep/b.html", 15 },
	{ (const uint8_t *)"cat.png", 7 },
	{ (const uint8_t *)"fifo.html", 9 },
	{ (const uint8_t *)"seccomp", 7 },
};

static bh_loop *loop;
static bh_registry *reg;
static bh_supervisor *sup;
static bh_fuzz_fdset fdset;
static bh_fuzz_tree tree;
static char root_real[PATH_MAX];
static bh_file_rule rules[2];
static const uint32_t renderer_sends[] = { BH_FUZZ_MSG_ALL_KINDS };
static const uint32_t gpu_sends[] = { BH_FUZZ_MSG_LEAF };
static bh_worker_spec specs[2];

static unsigned long inputs, frames, kills, hellos, files_opened, regions_granted;
static unsigned long handled[BH_MSG_APP_BASE + 3];

/* What the supervisor told the application about the current worker. */
struct events {
	bh_worker *w;
	int ready, exits, sandbox, app;
	bh_exit_info exit;
};
static struct events ev;

static int never_runs(bh_worker_ctx *ctx, void *arg)
{
	return 0;
}

static void on_ready(bh_worker *w, void *ud)
{
	BH_FUZZ_CHECK(w == ev.w, "on_ready for another worker");
	ev.ready++;
}

static void on_message(bh_worker *w, bh_msg *m, void *ud)
{
	ev.app++;
	BH_FUZZ_CHECK(bh_worker_is_ready(w), "application message from a worker that is not ready");
	if (bh_msg_nfds(m) > APP_MAX_FDS)
		bh_worker_bad_message(w, "more fds than this message may carry");
}

static void on_exit_cb(bh_worker *w, const bh_exit_info *info, int restarting, void *ud)
{
	BH_FUZZ_CHECK(w == ev.w, "on_exit for another worker");
	BH_FUZZ_CHECK(!restarting, "a fake worker is being restarted");
	ev.exits++;
	ev.exit = *info;
}

static void on_sandbox_status(bh_worker *w, void *ud)
{
	ev.sandbox++;
	BH_FUZZ_CHECK(bh_worker_sandbox_status(w) != NULL, "sandbox status reported but not kept");
}

static const bh_supervisor_ops sup_ops = {
	.on_ready = on_ready,
	.on_message = on_message,
	.on_exit = on_exit_cb,
	.on_sandbox_status = on_sandbox_status,
};

static void log_line(bh_log_level level, const char *msg, void *ud)
{
	fprintf(stderr, "[%s] %s\n", bh_log_level_name(level), msg);
}

/* ---- the judgement the broker must reach ------------------------------------ */

struct model {
	const bh_worker_spec *spec;
	int ready;                  /* Hello accepted (or started ready) */
	uint32_t requests[BH_FUZZ_SEQ_MAX]; /* request ids sent, for matching replies */
	unsigned nrequests;
	uint64_t shm_bytes;         /* granted in this input */
	unsigned shm_regions;
};

static int allowed_app_type(const bh_worker_spec *spec, uint32_t type)
{
	for (size_t i = 0; i < spec->n_send_types; i++)
		if (spec->send_types[i] == type)
			return 1;
	return 0;
}

static int hello_ok(const struct model *md, const bh_header *h, const ProtobufCMessage *body)
{
	const Bh__Hello *hl = (const Bh__Hello *)body;

	return (h->flags & BH_FLAG_REQUEST) && hl->protocol_version == BH_PROTOCOL_VERSION &&
	       hl->token.len == BH_TOKEN_SIZE && memcmp(hl->token.data, fuzz_token, BH_TOKEN_SIZE) == 0 &&
	       hl->worker_id == FUZZ_WORKER_ID && strcmp(hl->worker_type, md->spec->name) == 0;
}

/*
 * Whether the frame must get the worker killed, worked out independently of
 * the channel and the supervisor from the protocol's rules; updates the
 * model as an accepted frame would.
 */
static int must_kill_frame(struct model *md, const uint8_t *buf, size_t len, unsigned nfds,
			   bool coalesced)
{
	const bh_msg_type_info *info;
	ProtobufCMessage *body;
	bh_header h;
	int kill = 0;

	if (bh_header_decode(buf, len, &h) < 0)
		return 1;
	/* Only one-way frames without fds share a datagram. */
	if (coalesced && (nfds || (h.flags & (BH_FLAG_REQUEST | BH_FLAG_REPLY))))
		return 1;
	if (nfds != h.nfds || !(info = bh_registry_lookup(reg, h.type)) || nfds > info->max_fds ||
	    nfds < info->min_fds || (h.flags & BH_FLAG_REPLY) || h.type == BH_MSG_ERROR)
		return 1;
	body = protobuf_c_message_unpack(info->desc, NULL, h.payload_len, buf + BH_HEADER_SIZE);
	if (!body)
		return 1;
	if (h.flags & BH_FLAG_REQUEST && md->nrequests < BH_FUZZ_SEQ_MAX)
		md->requests[md->nrequests++] = h.request_id;
	if (!md->ready) {
		if (h.type == BH_MSG_HELLO && hello_ok(md, &h, body))
			md->ready = 1;
		else
			kill = 1;
		goto out;
	}
	switch (h.type) {
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
		kill = !(h.flags & BH_FLAG_REQUEST);
		break;
	case BH_MSG_SHM_ALLOC:
		kill = md->spec->shm_quota_bytes && !(h.flags & BH_FLAG_REQUEST);
		break;
	default:
		kill = !allowed_app_type(md->spec, h.type) || nfds > APP_MAX_FDS;
	}
out:
	protobuf_c_message_free_unpacked(body, NULL);
	return kill;
}

static int kill_frame(void *md, const uint8_t *buf, size_t len, unsigned nfds, bool coalesced)
{
	return must_kill_frame(md, buf, len, nfds, coalesced);
}

/* The same for a datagram: its frames in order (BH_FLAG_MORE). */
static int must_kill(struct model *md, const uint8_t *dgram, size_t len, unsigned nfds, int flood)
{
	if (flood || len > BH_MAX_MESSAGE)
		return 1;
	return bh_fuzz_each_frame(dgram, len, nfds, kill_frame, md);
}

/* ---- what comes back to the worker ------------------------------------------ */

static void check_file_fd(int fd, uint64_t size)
{
	char link[64], target[PATH_MAX];
	size_t rl = strlen(root_real);
	struct stat st;
	ssize_t n;
	int fl;

	BH_FUZZ_CHECK(fstat(fd, &st) == 0 && S_ISREG(st.st_mode), "FileOpened fd is not a regular file");
	BH_FUZZ_CHECK((uint64_t)st.st_size == size, "FileOpened size %llu, the file has %lld",
		      (unsigned long long)size, (long long)st.st_size);
	fl = fcntl(fd, F_GETFL);
	BH_FUZZ_CHECK(fl >= 0 && (fl & O_ACCMODE) == O_RDONLY, "FileOpened fd is not read-only");
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof target - 1);
	BH_FUZZ_CHECK(n > 0, "cannot read the FileOpened fd's path");
	target[n] = '\0';
	BH_FUZZ_CHECK(strncmp(target, root_real, rl) == 0 && target[rl] == '/',
		      "FileOpened fd is %s, outside %s", target, root_real);
}

static void check_shm_fd(struct model *md, int fd, uint64_t size)
{
	struct stat st;
	int seals = fcntl(fd, F_GET_SEALS);

	BH_FUZZ_CHECK(md->spec->shm_quota_bytes, "shared memory granted to a type without quota");
	BH_FUZZ_CHECK(seals >= 0 && (seals & (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)) ==
					(F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL),
		      "ShmAllocated region lacks its seals (%d)", seals);
	BH_FUZZ_CHECK(fstat(fd, &st) == 0 && (uint64_t)st.st_size == size,
		      "ShmAllocated region is not of the size it claims");
	md->shm_bytes += size;
	md->shm_regions++;
	regions_granted++;
	BH_FUZZ_CHECK(md->shm_bytes <= md->spec->shm_quota_bytes &&
			      md->shm_regions <= md->spec->shm_quota_regions,
		      "quota exceeded: %llu bytes in %u regions granted",
		      (unsigned long long)md->shm_bytes, md->shm_regions);
}

static void check_reply(struct model *md, const uint8_t *buf, size_t len, const int *fds,
			unsigned nfds)
{
	const bh_msg_type_info *info;
	ProtobufCMessage *body;
	bh_header h;
	unsigned i;

	BH_FUZZ_CHECK(bh_header_decode(buf, len, &h) == 0 && h.nfds == nfds,
		      "the broker sent a malformed frame");
	BH_FUZZ_CHECK(h.flags & BH_FLAG_REPLY, "the broker sent type %u unasked", h.type);
	for (i = 0; i < md->nrequests && md->requests[i] != h.request_id; i++)
		;
	BH_FUZZ_CHECK(i < md->nrequests, "reply to request %u, which was never made", h.request_id);
	info = bh_registry_lookup(reg, h.type);
	BH_FUZZ_CHECK(info != NULL, "reply of unregistered type %u", h.type);
	body = protobuf_c_message_unpack(info->desc, NULL, h.payload_len, buf + BH_HEADER_SIZE);
	BH_FUZZ_CHECK(body != NULL, "reply of type %u does not decode", h.type);
	switch (h.type) {
	case BH_MSG_WELCOME: {
		const Bh__Welcome *wl = (const Bh__Welcome *)body;

		BH_FUZZ_CHECK(nfds == 0 && wl->worker_id == FUZZ_WORKER_ID &&
				      wl->heartbeat_ms == md->spec->heartbeat_ms,
			      "Welcome does not match the worker");
		hellos++;
		break;
	}
	case BH_MSG_ERROR: {
		const Bh__Error *e = (const Bh__Error *)body;

		BH_FUZZ_CHECK(nfds == 0 && e->code > 0 && e->code < 4096, "Error reply with code %d",
			      e->code);
		break;
	}
	case BH_MSG_FILE_OPENED:
		BH_FUZZ_CHECK(nfds == 1, "FileOpened with %u fds", nfds);
		check_file_fd(fds[0], ((const Bh__FileOpened *)body)->size);
		files_opened++;
		break;
	case BH_MSG_SHM_ALLOCATED:
		BH_FUZZ_CHECK(nfds == 1, "ShmAllocated with %u fds", nfds);
		check_shm_fd(md, fds[0], ((const Bh__ShmAllocated *)body)->size);
		break;
	default:
		bh_fuzz_fail("the broker replied with type %u", h.type);
	}
	protobuf_c_message_free_unpacked(body, NULL);
}

/* Reads every frame queued for the worker, checks it and closes its fds. */
static void read_replies(int sock, struct model *md)
{
	static uint8_t buf[BH_MAX_MESSAGE];
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(BH_MAX_FDS * sizeof(int)) + CMSG_SPACE(sizeof(struct ucred))];
	} cbuf;

	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b,
				     .msg_controllen = sizeof cbuf.b };
		int fds[BH_MAX_FDS];
		unsigned nfds = 0;
		ssize_t r = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			return;
		BH_FUZZ_CHECK(!(mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)), "the broker sent too much");
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			size_t k;

			/* This end passes credentials too (bh_channel_socketpair): the kernel adds them. */
			if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS)
				continue;
			BH_FUZZ_CHECK(c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS,
				      "the broker sent control message %d", c->cmsg_type);
			k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t j = 0; j < k && nfds < BH_MAX_FDS; j++)
				memcpy(&fds[nfds++], CMSG_DATA(c) + j * sizeof(int), sizeof(int));
		}
		check_reply(md, buf, (size_t)r, fds, nfds);
		for (unsigned j = 0; j < nfds; j++)
			close(fds[j]);
	}
}

static int hung_up(int sock)
{
	struct pollfd p = { .fd = sock, .events = POLLIN };

	return poll(&p, 1, 0) > 0 && (p.revents & POLLHUP);
}

static void run_loop(void)
{
	/*
	 * Dispatch (a long coalesced datagram takes a round per receive
	 * budget), then the round that flushes what the handler queued.
	 */
	for (int i = 0; i < 256; i++) {
		int r = bh_loop_run_once(loop, 0);

		BH_FUZZ_CHECK(r >= 0, "loop failed: %s", strerror(-r));
		if (r == 0 && i >= 1)
			break;
	}
}

/* ---- the harness --------------------------------------------------------------- */

static void print_stats(void)
{
	static int printed;

	if (printed++)
		return;
	fprintf(stderr, "fuzz_supervisor: %lu inputs, %lu frames, %lu kills, %lu hellos accepted, "
			"%lu files opened, %lu regions granted\n  handled per type:",
		inputs, frames, kills, hellos, files_opened, regions_granted);
	for (size_t i = 0; i < bh_registry_count(reg); i++) {
		const bh_msg_type_info *t = bh_registry_at(reg, i);

		if (t->type < BH_ARRAY_SIZE(handled))
			fprintf(stderr, " %s:%lu", t->desc->short_name, handled[t->type]);
	}
	fputc('\n', stderr);
}

int bh_fuzz_replay_done(void)
{
	if (getenv("BH_FUZZ_STATS"))
		print_stats();
	return 0;
}

static void teardown(void)
{
	bh_supervisor_destroy(sup);
	sup = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const bh_profile *profile;
	int r;

	if (bh_loop_create(&loop) < 0 || bh_fuzz_registry_create(&reg) < 0 ||
	    bh_fuzz_fdset_init(&fdset) < 0)
		bh_fuzz_fail("cannot set up the harness");
	if (getenv("BH_FUZZ_LOG"))
		bh_loop_set_logger(loop, log_line, NULL);
	r = bh_fuzz_tree_create(&tree);
	if (r < 0)
		bh_fuzz_fail("cannot make the file tree: %s", strerror(-r));
	if (!realpath(tree.root, root_real))
		bh_fuzz_fail("realpath %s: %s", tree.root, strerror(errno));
	if (bh_profile_lookup("renderer", &profile) < 0)
		bh_fuzz_fail("no renderer profile");
	rules[0] = (bh_file_rule){ tree.root, ".html" };
	rules[1] = (bh_file_rule){ tree.img, ".png" };
	specs[0] = (bh_worker_spec){
		.name = "renderer",
		.entry = never_runs,
		.profile = profile,
		.restart = BH_RESTART_ON_CRASH,
		.heartbeat_ms = 60000,
		.shm_quota_bytes = QUOTA_BYTES,
		.shm_quota_regions = QUOTA_REGIONS,
		.send_types = renderer_sends,
		.n_send_types = BH_ARRAY_SIZE(renderer_sends),
		.files = rules,
		.n_files = BH_ARRAY_SIZE(rules),
	};
	specs[1] = (bh_worker_spec){
		.name = "gpu",
		.entry = never_runs,
		.profile = profile,
		.restart = BH_RESTART_ALWAYS,
		.send_types = gpu_sends,
		.n_send_types = BH_ARRAY_SIZE(gpu_sends),
	};
	/* The zygote is forked here, once: spawning per input would be far too slow. */
	r = bh_supervisor_create(loop, reg, specs, BH_ARRAY_SIZE(specs), &sup_ops, NULL, &sup);
	if (r < 0)
		bh_fuzz_fail("bh_supervisor_create: %s", strerror(-r));
	atexit(teardown);
	bh_fuzz_set_tokens(tokens, BH_ARRAY_SIZE(tokens));
	if (getenv("BH_FUZZ_STATS"))
		atexit(print_stats);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bh_fuzz_record recs[BH_FUZZ_SEQ_MAX];
	struct model md = { 0 };
	uint8_t options;
	unsigned n;
	int sv[2], base, r, killed = 0, expect_kill = 0;

	base = bh_fuzz_count_fds();
	inputs++;
	n = bh_fuzz_seq_parse(data, size, &options, recs, BH_FUZZ_SEQ_MAX);
	md.spec = &specs[options & OPT_GPU ? 1 : 0];
	md.ready = !(options & OPT_HANDSHAKE);
	memset(&ev, 0, sizeof ev);

	if (bh_channel_socketpair(sv) < 0)
		bh_fuzz_fail("socketpair failed");
	r = bh__supervisor_attach_fake(sup, md.spec->name, FUZZ_WORKER_ID, sv[0],
				       md.ready ? NULL : fuzz_token, getpid(), &ev.w);
	if (r < 0)
		bh_fuzz_fail("bh__supervisor_attach_fake: %s", strerror(-r));

	for (unsigned i = 0; i < n && !killed; i++) {
		int fds[BH_FUZZ_MAX_FDS + BH_FUZZ_FLOOD_FDS];
		bh_fuzz_envelope env;
		unsigned nfds;
		int flood;

		bh_fuzz_envelope_parse(recs[i].env, recs[i].env_len, &env);
		for (unsigned k = 0; k < env.nfds; k++)
			fds[k] = fdset.fd[env.kinds[k] & 3];
		nfds = env.nfds;
		flood = (env.ctl & BH_FUZZ_CTL_FLOOD) != 0;
		if (flood) {
			for (unsigned k = 0; k < BH_FUZZ_FLOOD_FDS; k++)
				fds[nfds++] = fdset.fd[BH_FUZZ_FD_DEVNULL];
		}
		r = bh_fuzz_send(sv[1], env.frame, env.frame_len, fds, nfds);
		if (r < 0) {
			/* Too large for the socket: the broker never sees it. */
			BH_FUZZ_CHECK(r == -EMSGSIZE || r == -ENOBUFS || r == -EAGAIN, "send failed: %s",
				      strerror(-r));
			continue;
		}
		frames++;
		if (env.frame_len >= BH_HEADER_SIZE) {
			uint32_t t;

			memcpy(&t, env.frame + 8, sizeof t);
			if (t < BH_ARRAY_SIZE(handled))
				handled[t]++;
		}
		expect_kill = must_kill(&md, env.frame, env.frame_len, env.nfds, flood);
		run_loop();
		read_replies(sv[1], &md);
		killed = hung_up(sv[1]);
		BH_FUZZ_CHECK(killed == expect_kill, "record %u: the worker was %s, expected %s", i,
			      killed ? "killed" : "kept", expect_kill ? "killed" : "kept");
	}
	kills += (unsigned long)killed;
	if (!killed)
		BH_FUZZ_CHECK(bh_worker_is_ready(ev.w) == md.ready, "worker readiness differs");
	BH_FUZZ_CHECK(ev.ready == (!(options & OPT_HANDSHAKE) ? 0 : md.ready),
		      "on_ready called %d times", ev.ready);

	r = bh__supervisor_end_fake(ev.w);
	BH_FUZZ_CHECK(r == 0, "bh__supervisor_end_fake: %s", strerror(-r));
	BH_FUZZ_CHECK(ev.exits == 1, "on_exit called %d times", ev.exits);
	if (killed) {
		BH_FUZZ_CHECK(ev.exit.kind == BH_EXIT_BAD_MESSAGE || ev.exit.kind == BH_EXIT_SETUP_FAILED,
			      "killed worker classified as %s", bh_exit_kind_name(ev.exit.kind));
		BH_FUZZ_CHECK(ev.exit.kind != BH_EXIT_BAD_MESSAGE ||
				      (ev.exit.bad_reason > 0 && ev.exit.bad_reason < BH_BAD_REASON_COUNT),
			      "bad message without a reason (%d)", ev.exit.bad_reason);
		BH_FUZZ_CHECK(ev.exit.detail[0] != '\0', "kill without a detail");
	} else {
		BH_FUZZ_CHECK(ev.exit.kind == BH_EXIT_CLEAN, "worker kept but classified as %s: %s",
			      bh_exit_kind_name(ev.exit.kind), ev.exit.detail);
	}
	BH_FUZZ_CHECK(bh_worker_forget(ev.w) == 0, "cannot forget the worker");
	BH_FUZZ_CHECK(bh_supervisor_next(sup, NULL) == NULL, "a worker record is left over");
	read_replies(sv[1], &md);
	bh_fuzz_drain(sv[1]);
	close(sv[1]);
	r = bh_fuzz_count_fds();
	if (r != base) {
		bh_fuzz_list_fds();
		bh_fuzz_fail("fd leak: %d open fds, %d before", r, base);
	}
	return 0;
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed)
{
	return bh_fuzz_mutate_seq(reg, data, size, max, seed);
}

size_t LLVMFuzzerCustomCrossOver(const uint8_t *a, size_t asize, const uint8_t *b, size_t bsize,
				 uint8_t *out, size_t max, unsigned seed);
size_t LLVMFuzzerCustomCrossOver(const uint8_t *a, size_t asize, const uint8_t *b, size_t bsize,
				 uint8_t *out, size_t max, unsigned seed)
{
	return bh_fuzz_crossover_seq(reg, a, asize, b, bsize, out, max, seed);
}
