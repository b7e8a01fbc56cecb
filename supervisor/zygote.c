/*
 * The zygote: a copy of the broker made before the broker held anything
 * sensitive. It compiles each profile's seccomp filter once and clones every
 * worker on request, as a child of the broker (CLONE_PARENT), so that the
 * broker reaps and signals it directly while no worker is ever a copy of the
 * broker's later memory.
 *
 * Its only input is its channel to the broker; it trusts the broker but
 * still checks every request, so a bug there cannot make it misbehave.
 */
#include <fcntl.h>
#include <linux/close_range.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>

#include "bulkhead.pb-c.h"
#include "common/internal.h"
#include "supervisor/supervisor_private.h"

struct zygote {
	bh_loop *loop;
	bh_channel *ch;
	const bh_worker_spec *specs;
	size_t n_specs;
	const bh_registry *reg;
	bh_sandbox_prog **progs;
	bh_sandbox_netns *netns;
};

static int child_main(const bh_sandbox_child *child, void *arg)
{
	bh__worker_run(child, arg);
}

static void spawn(struct zygote *z, bh_msg *m)
{
	const Bh__ZygoteSpawn *req = (const Bh__ZygoteSpawn *)bh_msg_body(m);
	struct bh__spawn_req sr;
	Bh__ZygoteSpawned ok = BH__ZYGOTE_SPAWNED__INIT;
	bh_spawn_opts opts;
	bh_sandbox_failure why;
	const bh_worker_spec *spec;
	pid_t pid = 0;
	int pidfd = -1, r;

	memset(&sr, 0, sizeof sr);
	sr.chan_fd = bh_msg_take_fd(m, 0);
	sr.report_fd = bh_msg_take_fd(m, 1);
	if (req->spec_index >= z->n_specs || req->token.len != BH_TOKEN_SIZE) {
		r = -EINVAL;
		goto out;
	}
	spec = &z->specs[req->spec_index];
	if (!z->progs[req->spec_index]) {
		r = bh_sandbox_compile(spec->profile, BH_SANDBOX_PID_NS_INIT, &z->progs[req->spec_index]);
		if (r < 0)
			goto out;
	}
	sr.spec = spec;
	sr.reg = z->reg;
	sr.worker_id = req->worker_id;
	memcpy(sr.token, req->token.data, BH_TOKEN_SIZE);
	sr.prog = z->progs[req->spec_index];
	memset(&opts, 0, sizeof opts);
	opts.netns = z->netns;
	opts.flags = BH_SPAWN_CLONE_PARENT;
	r = bh_sandbox_spawn(spec->profile, &opts, child_main, &sr, &pid, &pidfd, &why);
	if (r < 0) {
		bh_channel_reply_error(z->ch, m, -r, why.text);
		goto done;
	}
	ok.pid = (uint32_t)pid;
	r = bh_channel_reply(z->ch, m, BH_MSG_ZYGOTE_SPAWNED, &ok.base, &pidfd, 1);
	if (r < 0) {
		/* The broker would never learn of it: do not leave it running. */
		(void)syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
	}
	goto done;
out:
	bh_channel_reply_error(z->ch, m, -r, "zygote cannot spawn");
done:
	bh__close(pidfd);
	bh__close(sr.chan_fd);
	bh__close(sr.report_fd);
	/* Replies go out before the next request is read. */
	(void)bh_channel_flush(z->ch);
}

static void zygote_message(bh_channel *ch, bh_msg *m, void *ud)
{
	struct zygote *z = ud;

	if (bh_msg_type(m) != BH_MSG_ZYGOTE_SPAWN || !(bh_msg_flags(m) & BH_FLAG_REQUEST)) {
		bh_channel_bad_message(ch, "the zygote only takes ZygoteSpawn requests");
		return;
	}
	spawn(z, m);
}

static void zygote_end(bh_channel *ch, int err, void *ud)
{
	_exit(0);
}

static void zygote_bad(bh_channel *ch, int reason, const char *detail, void *ud)
{
	_exit(1);
}

static const bh_channel_ops ops = {
	.on_message = zygote_message,
	.on_close = zygote_end,
	.on_bad_message = zygote_bad,
};

void bh__zygote_main(int fd, const bh_worker_spec *specs, size_t n_specs, const bh_registry *reg,
		     pid_t broker)
{
	struct zygote z;

	memset(&z, 0, sizeof z);
	if (bh_signals_reset() < 0)
		_exit(1);
	/* Die with the broker; if it is already gone, getppid() says so. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != broker)
		_exit(1);
	(void)prctl(PR_SET_NAME, "bh-zygote", 0, 0, 0);
	/* Nothing the broker had open is the zygote's business (stdio stays for diagnostics). */
	if (fd != 3) {
		if (dup3(fd, 3, O_CLOEXEC) < 0)
			_exit(1);
		fd = 3;
	}
	if (syscall(SYS_close_range, 4u, ~0u, 0u) < 0)
		_exit(1);
	z.specs = specs;
	z.n_specs = n_specs;
	z.reg = reg;
	z.progs = calloc(n_specs ? n_specs : 1, sizeof *z.progs);
	if (!z.progs || bh_loop_create(&z.loop) < 0)
		_exit(1);
	/* Sharing one empty network namespace makes spawning much cheaper; optional. */
	if (bh_sandbox_netns_create(&z.netns) < 0)
		z.netns = NULL;
	if (bh_channel_create(z.loop, reg, fd, &ops, &z, NULL, &z.ch) < 0)
		_exit(1);
	(void)bh_channel_set_passcred(z.ch, 0);
	bh_loop_run(z.loop);
	_exit(0);
}
