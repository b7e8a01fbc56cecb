/*
 * Records a session of real framework traffic between a "worker" and a
 * "broker" channel over a real socketpair: the Hello handshake with the fuzz
 * harness's token, heartbeats, sandbox status, crash and setup reports, file
 * and shared-memory requests answered with fds, surface attach and frame
 * handoff, an error reply, shutdown, and the fuzz registry's application
 * types. The broker side records; fuzz/make-seeds.sh turns the recording
 * into seed corpora with tools/bulkhead-dump.
 *
 *   bh_fuzz_record_traffic OUT.bhrec
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bulkhead/record.h>

#include "bulkhead.pb-c.h"
#include "fuzz/fuzz.h"
#include "fuzz_test.pb-c.h"

static const uint8_t token[BH_TOKEN_SIZE] = "bh-fuzz-token-16";

struct side {
	bh_channel *ch;
	int received;
	int replies;
};

static void die(const char *what, int err)
{
	fprintf(stderr, "record_traffic: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static int memfd(size_t size)
{
	int fd = memfd_create("bh-seed", MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		die("memfd", errno);
	return fd;
}

/* The broker answers requests the way the real one will. */
static void broker_message(bh_channel *ch, bh_msg *m, void *ud)
{
	struct side *s = ud;
	int r = 0;

	s->received++;
	switch (bh_msg_type(m)) {
	case BH_MSG_HELLO:
		r = bh_hello_verify(ch, m, getpid(), "renderer", 7, token);
		r = r == 0 ? bh_hello_welcome(ch, m, 7, 1000) : bh_channel_reply_error(ch, m, -r, "refused");
		break;
	case BH_MSG_FILE_OPEN: {
		const Bh__FileOpen *fo = (const Bh__FileOpen *)bh_msg_body(m);
		Bh__FileOpened ok = BH__FILE_OPENED__INIT;
		int fd;

		if (memmem(fo->path.data, fo->path.len, "..", 2)) {
			r = bh_channel_reply_error(ch, m, EACCES, "path escapes the allowed tree");
			break;
		}
		fd = memfd(1234);
		ok.size = 1234;
		r = bh_channel_reply(ch, m, BH_MSG_FILE_OPENED, &ok.base, &fd, 1);
		close(fd);
		break;
	}
	case BH_MSG_SHM_ALLOC: {
		const Bh__ShmAlloc *sa = (const Bh__ShmAlloc *)bh_msg_body(m);
		Bh__ShmAllocated ok = BH__SHM_ALLOCATED__INIT;
		int fd = memfd(sa->size);

		ok.size = sa->size;
		ok.region_id = 1;
		r = bh_channel_reply(ch, m, BH_MSG_SHM_ALLOCATED, &ok.base, &fd, 1);
		close(fd);
		break;
	}
	case BH_MSG_FRAME_READY: {
		const Bh__FrameReady *fr = (const Bh__FrameReady *)bh_msg_body(m);
		Bh__FrameRelease rel = BH__FRAME_RELEASE__INIT;

		rel.surface_id = fr->surface_id;
		rel.slot = fr->slot;
		rel.seq = fr->seq;
		r = bh_channel_send(ch, BH_MSG_FRAME_RELEASE, &rel.base, NULL, 0);
		break;
	}
	default:
		break;
	}
	if (r < 0)
		die("broker reply", r);
}

static void worker_message(bh_channel *ch, bh_msg *m, void *ud)
{
	struct side *s = ud;

	s->received++;
	if (bh_msg_type(m) == BH_MSG_ZYGOTE_SPAWN) {
		/* The zygote answers with the new worker's pidfd; a pipe stands in for it here. */
		Bh__ZygoteSpawned sp = BH__ZYGOTE_SPAWNED__INIT;
		int p[2];

		if (pipe2(p, O_CLOEXEC) < 0)
			die("pipe", errno);
		sp.pid = 4242;
		if (bh_channel_reply(ch, m, BH_MSG_ZYGOTE_SPAWNED, &sp.base, &p[0], 1) < 0)
			die("zygote reply", -EIO);
		close(p[0]);
		close(p[1]);
	}
}

static void worker_reply(bh_channel *ch, int status, bh_msg *reply, void *ud)
{
	struct side *s = ud;

	s->replies++;
}

static const bh_channel_ops broker_ops = { .on_message = broker_message };
static const bh_channel_ops worker_ops = { .on_message = worker_message };

static void pump(bh_loop *loop)
{
	for (int i = 0; i < 8; i++) {
		if (bh_loop_run_once(loop, 10) < 0)
			die("loop", errno);
	}
}

static void check(int r, const char *what)
{
	if (r < 0)
		die(what, r);
}

int main(int argc, char **argv)
{
	bh_registry *reg;
	bh_loop *loop;
	bh_recorder *rec;
	struct side broker = { 0 }, worker = { 0 };
	int sv[2], fd;

	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT.bhrec\n", argv[0]);
		return 2;
	}
	check(bh_fuzz_registry_create(&reg), "registry");
	check(bh_loop_create(&loop), "loop");
	check(bh_recorder_create(argv[1], &rec), argv[1]);
	check(bh_channel_socketpair(sv), "socketpair");
	check(bh_channel_create(loop, reg, sv[0], &broker_ops, &broker, NULL, &broker.ch), "channel");
	check(bh_channel_create(loop, reg, sv[1], &worker_ops, &worker, NULL, &worker.ch), "channel");
	bh_channel_set_recorder(broker.ch, rec);

	check(bh_hello_send(worker.ch, "renderer", 7, token, 1000, worker_reply, &worker), "hello");
	pump(loop);
	{
		Bh__Heartbeat hb = BH__HEARTBEAT__INIT;

		hb.seq = 1;
		check(bh_channel_send(worker.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0), "heartbeat");
		hb.seq = 2;
		check(bh_channel_send(broker.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0), "heartbeat");
	}
	{
		Bh__SandboxStatus st = BH__SANDBOX_STATUS__INIT;
		Bh__SandboxLayer l[3], *lp[3];
		static const char *const names[] = { "seccomp", "userns", "caps" };

		for (int i = 0; i < 3; i++) {
			bh__sandbox_layer__init(&l[i]);
			l[i].name = (char *)names[i];
			l[i].state = (Bh__SandboxLayer__State)i;
			l[i].detail = i == 2 ? "EPERM" : "";
			lp[i] = &l[i];
		}
		st.profile = "renderer";
		st.n_layers = 3;
		st.layers = lp;
		st.seccomp_mode = 2;
		st.seccomp_filters = 1;
		st.no_new_privs = 1;
		st.cap_bnd = 0;
		st.uid = 65534;
		st.gid = 65534;
		st.ns_user = 4026532000ull;
		st.open_fds = 3;
		st.rlimit_nofile = 64;
		st.fs_empty = 1;
		check(bh_channel_send(worker.ch, BH_MSG_SANDBOX_STATUS, &st.base, NULL, 0), "status");
	}
	{
		Bh__CrashReport cr = BH__CRASH_REPORT__INIT;
		Bh__SetupFailed sf = BH__SETUP_FAILED__INIT;

		cr.signal = 31;
		cr.syscall_nr = 59;
		cr.syscall_name = "execve";
		cr.arch = (int32_t)0xc000003e;
		check(bh_channel_send(worker.ch, BH_MSG_CRASH_REPORT, &cr.base, NULL, 0), "crash");
		sf.layer = "userns";
		sf.code = 1;
		sf.text = "unshare(CLONE_NEWUSER): Operation not permitted";
		check(bh_channel_send(worker.ch, BH_MSG_SETUP_FAILED, &sf.base, NULL, 0), "setup");
	}
	pump(loop);
	{
		Bh__FileOpen fo = BH__FILE_OPEN__INIT;

		fo.path.data = (uint8_t *)"pages/index.html";
		fo.path.len = strlen("pages/index.html");
		check(bh_channel_call(worker.ch, BH_MSG_FILE_OPEN, &fo.base, NULL, 0, 1000, worker_reply, &worker), "open");
		fo.path.data = (uint8_t *)"pages/../../etc/passwd";
		fo.path.len = strlen("pages/../../etc/passwd");
		check(bh_channel_call(worker.ch, BH_MSG_FILE_OPEN, &fo.base, NULL, 0, 1000, worker_reply, &worker), "open");
	}
	{
		Bh__ShmAlloc sa = BH__SHM_ALLOC__INIT;

		sa.size = 4 * 640 * 480 * 2;
		check(bh_channel_call(worker.ch, BH_MSG_SHM_ALLOC, &sa.base, NULL, 0, 1000, worker_reply, &worker), "shm");
	}
	pump(loop);
	{
		Bh__SurfaceAttach at = BH__SURFACE_ATTACH__INIT;
		Bh__FrameReady fr = BH__FRAME_READY__INIT;
		Bh__Rect damage = BH__RECT__INIT;
		Bh__SurfaceDetach de = BH__SURFACE_DETACH__INIT;

		at.surface_id = 1;
		at.width = 640;
		at.height = 480;
		at.stride = 640 * 4;
		at.format = 0x34325241; /* 'AR24' */
		at.slots = 2;
		at.region_size = 4 * 640 * 480 * 2;
		fd = memfd(at.region_size);
		check(bh_channel_send(worker.ch, BH_MSG_SURFACE_ATTACH, &at.base, &fd, 1), "attach");
		close(fd);
		damage.width = 640;
		damage.height = 480;
		fr.surface_id = 1;
		fr.slot = 1;
		fr.seq = 1;
		fr.damage = &damage;
		check(bh_channel_send(worker.ch, BH_MSG_FRAME_READY, &fr.base, NULL, 0), "ready");
		pump(loop);
		de.surface_id = 1;
		check(bh_channel_send(worker.ch, BH_MSG_SURFACE_DETACH, &de.base, NULL, 0), "detach");
	}
	{
		Bhfuzz__AllKinds ak = BHFUZZ__ALL_KINDS__INIT;
		Bhfuzz__Leaf leaf = BHFUZZ__LEAF__INIT, rl = BHFUZZ__LEAF__INIT, *rlp[1] = { &rl };
		Bhfuzz__AllKinds__CountsEntry ce = BHFUZZ__ALL_KINDS__COUNTS_ENTRY__INIT, *cep[1] = { &ce };
		uint32_t u32s[3] = { 1, 300, 70000 };
		char *texts[2] = { "a", "bc" };
		int fds[2];

		ak.id = 1;
		ak.has_i32 = 1;
		ak.i32 = -5;
		ak.has_s64 = 1;
		ak.s64 = -123456789;
		ak.has_db = 1;
		ak.db = 0.5;
		ak.has_flag = 1;
		ak.flag = 1;
		ak.has_color = 1;
		ak.color = BHFUZZ__COLOR__GREEN;
		ak.text = "hello";
		leaf.name = "leaf";
		leaf.has_value = 1;
		leaf.value = 3;
		ak.req_leaf = &leaf;
		ak.n_r_u32 = 3;
		ak.r_u32 = u32s;
		ak.n_r_text = 2;
		ak.r_text = texts;
		rl.name = "r";
		ak.n_r_leaf = 1;
		ak.r_leaf = rlp;
		ce.key = "k";
		ce.has_value = 1;
		ce.value = 9;
		ak.n_counts = 1;
		ak.counts = cep;
		ak.choice_case = BHFUZZ__ALL_KINDS__CHOICE_C_TEXT;
		ak.c_text = "choice";
		fds[0] = memfd(16);
		fds[1] = memfd(16);
		check(bh_channel_send(worker.ch, BH_FUZZ_MSG_ALL_KINDS, &ak.base, fds, 2), "allkinds");
		check(bh_channel_send(worker.ch, BH_FUZZ_MSG_LEAF, &leaf.base, fds, 2), "leaf");
		close(fds[0]);
		close(fds[1]);
	}
	pump(loop);
	{
		/* Broker -> zygote: spawn a worker with its channel end and its token. */
		Bh__ZygoteSpawn zs = BH__ZYGOTE_SPAWN__INIT;
		int pair[2];

		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0)
			die("socketpair", errno);
		zs.spec_index = 1;
		zs.worker_id = 8;
		zs.token.data = (uint8_t *)token;
		zs.token.len = BH_TOKEN_SIZE;
		check(bh_channel_call(broker.ch, BH_MSG_ZYGOTE_SPAWN, &zs.base, pair, 2, 1000,
				      worker_reply, &worker), "zygote spawn");
		close(pair[0]);
		close(pair[1]);
	}
	pump(loop);
	{
		Bh__Shutdown sd = BH__SHUTDOWN__INIT;

		sd.grace_ms = 1000;
		check(bh_channel_send(broker.ch, BH_MSG_SHUTDOWN, &sd.base, NULL, 0), "shutdown");
	}
	pump(loop);
	if (bh_recorder_status(rec) < 0)
		die("recording", bh_recorder_status(rec));
	fprintf(stderr, "record_traffic: %llu frames recorded (broker got %d messages, worker %d replies)\n",
		(unsigned long long)bh_recorder_count(rec), broker.received, worker.replies);
	bh_channel_destroy(worker.ch);
	bh_channel_destroy(broker.ch);
	bh_recorder_destroy(rec);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
	return 0;
}
