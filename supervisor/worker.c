/*
 * Worker side of supervision: what runs in a freshly cloned worker before,
 * around and after the application's entry point.
 *
 * Order matters: check that the broker is still there (the parent-death
 * signal could have been set after it died), enter the sandbox (nothing
 * untrusted has been read yet), then speak: Hello, wait for Welcome, report
 * the sandbox state, start heartbeats, and only then run the application.
 */
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "bulkhead.pb-c.h"
#include "common/internal.h"
#include "sandbox/sigsys.h"
#include "supervisor/supervisor_private.h"

struct bh_worker_ctx {
	const struct bh__spawn_req *req;
	bh_loop *loop;
	bh_channel *ch;
	bh_sandbox_report rep;
	void (*handler)(bh_worker_ctx *ctx, bh_msg *msg, void *userdata);
	void *handler_ud;
	int welcome_status; /* 1 welcomed, <0 refused */
	bh_timer *beat;
	uint64_t beat_seq;
	int exit_code;
};

/*
 * The channel fd for the crash reporter. Signal handlers cannot be handed
 * context, so this one global is what signal handling forces on us.
 */
static volatile int crash_fd = -1;

#if defined(__SANITIZE_ADDRESS__)
/*
 * A worker's heap is a copy of the zygote's, which nobody frees; and the
 * leak checker could not run under the worker's seccomp filter anyway. So
 * in sanitizer builds LeakSanitizer is switched off in workers (this hook is
 * the documented way to do that) and stays on everywhere else.
 */
static int in_worker;

int __lsan_is_turned_off(void) __attribute__((visibility("default")));
int __lsan_is_turned_off(void)
{
	return in_worker;
}
#endif

/* ---- crash reports -------------------------------------------------------- */

static size_t put_varint(uint8_t *p, uint64_t v)
{
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	return n;
}

/* Async-signal-safe: encodes a CrashReport by hand (no allocation) and sends it. */
static void send_crash_report(int sig, uint64_t addr)
{
	uint8_t frame[BH_HEADER_SIZE + 32];
	size_t n = BH_HEADER_SIZE;
	bh_header h = { .magic = BH_WIRE_MAGIC, .version = BH_PROTOCOL_VERSION,
			.type = BH_MSG_CRASH_REPORT };
	int fd = crash_fd;

	if (fd < 0)
		return;
	frame[n++] = 0x08; /* field 1 (signal), varint */
	n += put_varint(frame + n, (uint64_t)sig);
	if (addr) {
		frame[n++] = 0x10; /* field 2 (fault_addr), varint */
		n += put_varint(frame + n, addr);
	}
	h.payload_len = (uint32_t)(n - BH_HEADER_SIZE);
	bh_header_encode(&h, frame);
	(void)send(fd, frame, n, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void crash_handler(int sig, siginfo_t *si, void *uctx)
{
	struct sigaction dfl;
	int hardware = si->si_code > 0 && sig != SIGABRT && sig != SIGTRAP;

	send_crash_report(sig, hardware ? (uint64_t)(uintptr_t)si->si_addr : 0);
	memset(&dfl, 0, sizeof dfl);
	dfl.sa_handler = SIG_DFL;
	(void)sigaction(sig, &dfl, NULL);
	if (hardware)
		return; /* the faulting instruction runs again and the kernel kills us with sig */
	/*
	 * A signal raised by software (abort(), kill()) cannot kill pid 1 of a
	 * pid namespace from inside it; a real fault can, so die by a trap
	 * instruction (SIGILL, with its handler reset too). The report already
	 * told the broker which signal it was.
	 */
	(void)sigaction(SIGILL, &dfl, NULL);
	(void)sigaction(SIGSEGV, &dfl, NULL);
	__builtin_trap();
}

static void term_handler(int sig)
{
	/* The broker asked (SIGTERM after the Shutdown grace period): leave now. */
	_exit(0);
}

static void install_handlers(void)
{
	static const int crash[] = { SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT, SIGTRAP };
	struct sigaction sa;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = crash_handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	for (size_t i = 0; i < BH_ARRAY_SIZE(crash); i++)
		(void)sigaction(crash[i], &sa, NULL);
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = term_handler;
	(void)sigaction(SIGTERM, &sa, NULL);
}

/*
 * A failure after the sandbox is in force, before the channel works: tell
 * the broker through the report fd (the channel may be what failed) and go.
 */
__attribute__((noreturn)) static void setup_failed(const struct bh__spawn_req *req, int err,
						   const char *what)
{
	struct bh__record r;

	bh__record_init(&r, BH_RECORD_SETUP_FAILED);
	r.code = err < 0 ? -err : err;
	bh__strlcpy(r.layer, "setup", sizeof r.layer);
	bh__strlcpy(r.text, what, sizeof r.text);
	/* strerror() is not available to every profile's filter; the code travels in r.code. */
	(void)bh__record_write(req->report_fd, &r);
	_exit(BH_SANDBOX_EXIT_SETUP);
}

/* ---- framework messages ---------------------------------------------------- */

static void on_message(bh_channel *ch, bh_msg *m, void *ud)
{
	bh_worker_ctx *ctx = ud;

	switch (bh_msg_type(m)) {
	case BH_MSG_SHUTDOWN:
		ctx->exit_code = 0;
		bh_loop_quit(ctx->loop, 0);
		return;
	case BH_MSG_HEARTBEAT:
		return;
	default:
		if (ctx->handler)
			ctx->handler(ctx, m, ctx->handler_ud);
	}
}

static void on_close(bh_channel *ch, int err, void *ud)
{
	bh_worker_ctx *ctx = ud;

	/* The broker is gone: a worker has no reason to outlive it. */
	ctx->exit_code = 1;
	bh_loop_quit(ctx->loop, 1);
}

static void on_bad(bh_channel *ch, int reason, const char *detail, void *ud)
{
	on_close(ch, -EPROTO, ud);
}

static const bh_channel_ops ops = {
	.on_message = on_message,
	.on_close = on_close,
	.on_bad_message = on_bad,
};

static void on_welcome(bh_channel *ch, int status, bh_msg *reply, void *ud)
{
	bh_worker_ctx *ctx = ud;

	ctx->welcome_status = status < 0 ? status : 1;
	/* Hold what follows the Welcome until the entry point has its handler. */
	bh_channel_pause(ch, 1);
	if (status == 0 && bh_msg_type(reply) == BH_MSG_WELCOME) {
		const Bh__Welcome *w = (const Bh__Welcome *)bh_msg_body(reply);

		if (w->heartbeat_ms)
			(void)bh_timer_arm(ctx->beat, w->heartbeat_ms, w->heartbeat_ms);
	} else if (status == 0) {
		ctx->welcome_status = -EPROTO;
	}
	bh_loop_quit(ctx->loop, 0);
}

static void on_beat(bh_timer *t, void *ud)
{
	bh_worker_ctx *ctx = ud;
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;

	hb.seq = ++ctx->beat_seq;
	(void)bh_channel_send(ctx->ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0);
}

static void send_sandbox_status(bh_worker_ctx *ctx)
{
	bh_sandbox_status st;
	Bh__SandboxStatus *pb;

	if (bh_sandbox_status_read(&ctx->rep, &st) < 0 || bh_sandbox_status_to_pb(&st, &pb) < 0)
		return;
	(void)bh_channel_send(ctx->ch, BH_MSG_SANDBOX_STATUS, &pb->base, NULL, 0);
	bh_sandbox_status_pb_free(pb);
}

void bh__worker_run(const bh_sandbox_child *child, const struct bh__spawn_req *req)
{
	static bh_worker_ctx ctx_storage; /* lives until _exit; the process is single-purpose */
	bh_worker_ctx *ctx = &ctx_storage;
	struct pollfd p = { .fd = req->chan_fd, .events = POLLIN };
	bh_sandbox_opts opts;
	int r;

#if defined(__SANITIZE_ADDRESS__)
	in_worker = 1;
#endif
	/* If the broker died before the parent-death signal was armed, nobody would kill us. */
	if (poll(&p, 1, 0) < 0 || (p.revents & (POLLHUP | POLLERR)))
		_exit(1);
	memset(&opts, 0, sizeof opts);
	opts.child = child;
	opts.keep_fds = &req->chan_fd;
	opts.n_keep_fds = 1;
	opts.report_fd = req->report_fd;
	opts.prog = req->prog;
	opts.flags = BH_SANDBOX_EXIT_ON_FAILURE;
	ctx->req = req;
	ctx->exit_code = 0;
	/* Fails closed: on any error it reports the layer and exits (never returns < 0). */
	if (bh_sandbox_enter(req->spec->profile, &opts, &ctx->rep) < 0)
		_exit(BH_SANDBOX_EXIT_SETUP);

	crash_fd = req->chan_fd;
	install_handlers();
	r = bh_loop_create(&ctx->loop);
	if (r < 0)
		setup_failed(req, r, "cannot create the event loop (fd or memory limit too low?)");
	r = bh_channel_create(ctx->loop, req->reg, req->chan_fd, &ops, ctx, NULL, &ctx->ch);
	if (r == 0)
		r = bh_timer_create(ctx->loop, on_beat, ctx, &ctx->beat);
	if (r < 0)
		setup_failed(req, r, "cannot set up the channel to the broker");
	r = bh_hello_send(ctx->ch, req->spec->name, req->worker_id, req->token, 10000, on_welcome, ctx);
	if (r < 0)
		setup_failed(req, r, "cannot send Hello");
	bh_loop_run(ctx->loop);
	if (ctx->welcome_status != 1)
		setup_failed(req, ctx->welcome_status, "the broker did not welcome this worker");
	send_sandbox_status(ctx);
	r = req->spec->entry(ctx, req->spec->entry_arg);
	/* Whatever the entry point queued (a last reply) goes out before we leave. */
	(void)bh_channel_flush(ctx->ch);
	_exit(r & 0xff);
}

/* ---- the worker context API -------------------------------------------------- */

bh_loop *bh_worker_ctx_loop(bh_worker_ctx *ctx)
{
	return ctx->loop;
}

bh_channel *bh_worker_ctx_channel(bh_worker_ctx *ctx)
{
	return ctx->ch;
}

const bh_registry *bh_worker_ctx_registry(bh_worker_ctx *ctx)
{
	return ctx->req->reg;
}

uint32_t bh_worker_ctx_id(const bh_worker_ctx *ctx)
{
	return ctx->req->worker_id;
}

const char *bh_worker_ctx_type(const bh_worker_ctx *ctx)
{
	return ctx->req->spec->name;
}

const bh_sandbox_report *bh_worker_ctx_sandbox(const bh_worker_ctx *ctx)
{
	return &ctx->rep;
}

void bh_worker_ctx_set_handler(bh_worker_ctx *ctx,
			       void (*fn)(bh_worker_ctx *ctx, bh_msg *msg, void *userdata),
			       void *userdata)
{
	ctx->handler = fn;
	ctx->handler_ud = userdata;
	bh_channel_pause(ctx->ch, 0);
}

int bh_worker_ctx_run(bh_worker_ctx *ctx)
{
	bh_channel_pause(ctx->ch, 0);
	bh_loop_run(ctx->loop);
	return ctx->exit_code;
}

struct open_req {
	bh_worker_ctx *ctx;
	void (*cb)(bh_worker_ctx *ctx, int fd, void *userdata);
	void *userdata;
};

static void opened(bh_channel *ch, int status, bh_msg *reply, void *ud)
{
	struct open_req o = *(struct open_req *)ud;
	int fd = status;

	free(ud);
	if (status == 0)
		fd = bh_msg_type(reply) == BH_MSG_FILE_OPENED ? bh_msg_take_fd(reply, 0) : -EPROTO;
	o.cb(o.ctx, fd, o.userdata);
}

int bh_worker_ctx_open(bh_worker_ctx *ctx, const char *path, unsigned timeout_ms,
		       void (*cb)(bh_worker_ctx *ctx, int fd, void *userdata), void *userdata)
{
	Bh__FileOpen req = BH__FILE_OPEN__INIT;
	struct open_req *o;
	int r;

	if (!path || !cb)
		return -EINVAL;
	o = malloc(sizeof *o);
	if (!o)
		return -ENOMEM;
	o->ctx = ctx;
	o->cb = cb;
	o->userdata = userdata;
	req.path.data = (uint8_t *)path;
	req.path.len = strlen(path);
	r = bh_channel_call(ctx->ch, BH_MSG_FILE_OPEN, &req.base, NULL, 0, timeout_ms, opened, o);
	if (r < 0)
		free(o);
	return r;
}
