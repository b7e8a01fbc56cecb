/*
 * bh_sandbox_spawn(): a worker created directly inside its namespaces.
 *
 * A pid namespace only applies to children created after it exists, so the
 * worker is made with clone() and the CLONE_NEW* flags rather than fork()
 * plus unshare(). clone() is called like fork() (no new stack), so the child
 * continues here on a copy of the parent's stack. The parent writes the
 * user namespace's id maps (it may map any id when root, only its own when
 * not), then releases the child through a close-on-exec pipe; if the parent
 * dies first, the child reads EOF and exits.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/internal.h"
#include "sandbox/sandbox_private.h"

#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x00001000
#endif

#define NOBODY 65534

struct bh_sandbox_netns {
	int fd;
};

static pid_t raw_clone(unsigned long flags, int *pidfd)
{
	/* x86_64 and arm64 agree on the first three arguments; the last two are 0. */
	return (pid_t)syscall(SYS_clone, flags | SIGCHLD | (pidfd ? CLONE_PIDFD : 0), NULL, pidfd, NULL, 0);
}

static void reap(pid_t pid)
{
	while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
		;
}

/* Default dispositions and an empty mask: nothing of the broker's loop leaks in. */
static void reset_signals(void)
{
	struct sigaction sa;
	sigset_t all;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (int sig = 1; sig < NSIG; sig++) {
		if (sig != SIGKILL && sig != SIGSTOP)
			(void)sigaction(sig, &sa, NULL);
	}
	sigemptyset(&all);
	(void)sigprocmask(SIG_SETMASK, &all, NULL);
}

static int write_proc(pid_t pid, const char *file, const char *text)
{
	char path[64];
	size_t len = strlen(text);
	ssize_t n;
	int fd, r = 0;

	snprintf(path, sizeof path, "/proc/%d/%s", (int)pid, file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	do {
		n = write(fd, text, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	bh__close(fd);
	return r;
}

/*
 * A root broker maps exactly the unprivileged target uid and gid, each to
 * itself, so the worker is never root on the host, and keeps setgroups()
 * allowed so that the child can drop root's supplementary groups. (An
 * unprivileged broker's child maps its own ids itself: see below.)
 */
static int write_maps(pid_t pid, const struct bh_sandbox_child *c)
{
	char line[64];
	int r;

	snprintf(line, sizeof line, "%u %u 1\n", (unsigned)c->uid, (unsigned)c->uid);
	r = write_proc(pid, "uid_map", line);
	if (r < 0)
		return r;
	snprintf(line, sizeof line, "%u %u 1\n", (unsigned)c->gid, (unsigned)c->gid);
	return write_proc(pid, "gid_map", line);
}

static bool refusal(int err)
{
	/* What clone() answers when namespaces are disabled, limited or not permitted. */
	return err == EPERM || err == EINVAL || err == ENOSPC || err == EUSERS || err == EACCES;
}

/* Finds which single namespace the kernel refuses, for the error message. */
static int probe_culprit(unsigned long flags, bool root)
{
	static const int layers[] = { BH_LAYER_USERNS, BH_LAYER_PIDNS, BH_LAYER_NETNS,
				      BH_LAYER_IPCNS, BH_LAYER_UTSNS, BH_LAYER_FS };

	for (size_t i = 0; i < BH_ARRAY_SIZE(layers); i++) {
		unsigned long f = bh__layer_clone_flag(layers[i]);
		unsigned long with = f;
		pid_t pid;

		if (!(flags & f))
			continue;
		if (!root && f != CLONE_NEWUSER)
			with |= CLONE_NEWUSER;
		pid = raw_clone(with, NULL);
		if (pid == 0)
			_exit(0);
		if (pid < 0)
			return layers[i];
		reap(pid);
	}
	return -1;
}

/* Clones with the spawning thread temporarily inside the shared netns. */
static pid_t clone_in_netns(unsigned long flags, int *pidfd, const bh_sandbox_netns *ns, int *err)
{
	int self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	pid_t pid;

	if (self < 0) {
		*err = errno;
		return -1;
	}
	/* setns() of a network namespace changes only this thread; it is undone right after clone(). */
	if (setns(ns->fd, CLONE_NEWNET) < 0) {
		*err = errno;
		bh__close(self);
		return -1;
	}
	pid = raw_clone(flags, pidfd);
	*err = errno;
	if (pid == 0)
		return 0;
	if (setns(self, CLONE_NEWNET) < 0) {
		/* Cannot happen for a process that just left it; never leave the thread astray. */
		abort();
	}
	bh__close(self);
	return pid;
}

int bh_sandbox_spawn(const bh_profile *p, const bh_spawn_opts *o, bh_sandbox_child_fn fn, void *arg,
		     pid_t *pid_out, int *pidfd_out, bh_sandbox_failure *why)
{
	static const int layers[] = { BH_LAYER_USERNS, BH_LAYER_PIDNS, BH_LAYER_NETNS,
				      BH_LAYER_IPCNS, BH_LAYER_UTSNS, BH_LAYER_FS };
	static const bh_spawn_opts defaults = { 0 };
	struct bh_sandbox_child c;
	bh_sandbox_failure fail;
	unsigned long want = 0, need = 0, flags;
	bool root = geteuid() == 0;
	int sync[2] = { -1, -1 }, pidfd = -1, err = 0, r;
	pid_t pid = -1;
	char one = 1;

	if (!p || !fn || !pid_out)
		return -EINVAL;
	if (!o)
		o = &defaults;
	memset(&c, 0, sizeof c);
	memset(&fail, 0, sizeof fail);
	c.profile = p;
	if (root) {
		c.uid = o->uid || o->gid ? o->uid : NOBODY;
		c.gid = o->uid || o->gid ? o->gid : NOBODY;
	} else {
		c.uid = geteuid();
		c.gid = getegid();
	}
	if (root && (c.uid == 0 || c.gid == 0)) {
		r = bh__fail(&fail, BH_LAYER_CAPS, EINVAL, "caps: a worker may not run as uid or gid 0");
		goto out;
	}
	r = bh__ns_ids_read(&c.parent_ns);
	if (r < 0) {
		bh__fail(&fail, -1, -r, "cannot read the broker's namespaces: %s", strerror(-r));
		goto out;
	}
	for (size_t i = 0; i < BH_ARRAY_SIZE(layers); i++) {
		unsigned long f = bh__layer_clone_flag(layers[i]);

		if (p->layers[layers[i]] != BH_NEED_OFF)
			want |= f;
		if (p->layers[layers[i]] == BH_NEED_REQUIRED)
			need |= f;
	}
	if (o->netns && (want & CLONE_NEWNET)) {
		if (root) {
			want &= ~(unsigned long)CLONE_NEWNET;
			need &= ~(unsigned long)CLONE_NEWNET;
			c.shared_netns = true;
		}
	}
	if (pipe2(sync, O_CLOEXEC) < 0) {
		r = bh__fail(&fail, -1, errno, "pipe2: %s", strerror(errno));
		goto out;
	}
	/*
	 * Attempts: everything wanted; then without an optional user namespace
	 * (the one most often disabled); then the required namespaces only.
	 */
	{
		unsigned long extra = (o->flags & BH_SPAWN_CLONE_PARENT) ? CLONE_PARENT : 0;

		unsigned long attempts[3] = { want, want, need };
		unsigned long userns_opt = (want & ~need) & (unsigned long)CLONE_NEWUSER;

		attempts[1] = want & ~userns_opt;
		for (int a = 0; a < 3; a++) {
			int *pfd = pidfd_out ? &pidfd : NULL;

			flags = attempts[a] | extra;
			if (a > 0 && attempts[a] == attempts[a - 1])
				continue;
			if (c.shared_netns) {
				pid = clone_in_netns(flags, pfd, o->netns, &err);
			} else {
				pid = raw_clone(flags, pfd);
				err = errno;
			}
			if (pid >= 0 || !refusal(err))
				break;
			/* Leave optional namespaces out; the child reports them absent and why. */
			for (size_t i = 0; a < 2 && i < BH_ARRAY_SIZE(layers); i++) {
				unsigned long f = bh__layer_clone_flag(layers[i]);

				if ((flags & f) && !(attempts[a + 1] & f) && !c.ns_why[layers[i]][0])
					snprintf(c.ns_why[layers[i]], sizeof c.ns_why[0], "clone refused: %s",
						 strerrorname_np(err));
			}
		}
	}
	if (pid < 0) {
		int l = refusal(err) ? probe_culprit(flags, root) : -1;

		r = bh__fail(&fail, l, err, "%s: clone(%s) failed: %s", bh_sandbox_layer_name(l),
			     l >= 0 ? "namespaces" : "", strerror(err));
		goto out;
	}

	if (pid == 0) {
		/* Child. */
		char b;
		ssize_t n;

		close(sync[1]);
		if (!(o->flags & BH_SPAWN_NO_PDEATHSIG))
			(void)prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
		reset_signals();
		do {
			n = read(sync[0], &b, 1);
		} while (n < 0 && errno == EINTR);
		if (n != 1)
			_exit(BH_SANDBOX_EXIT_SETUP); /* the broker died or gave up on us */
		close(sync[0]);
		if (flags & CLONE_NEWUSER) {
			/*
			 * An unprivileged broker's child maps its own ids (the only
			 * mapping it may write). Then become the mapped id: until now
			 * a root broker's child is still uid 0 on the host. The user
			 * namespace keeps its capabilities (inside it only) for the
			 * mounts to come.
			 */
			if (!root && bh__write_self_id_maps(c.uid, c.gid) < 0)
				_exit(BH_SANDBOX_EXIT_SETUP);
			if (bh__set_ids(c.uid, c.gid, root) < 0)
				_exit(BH_SANDBOX_EXIT_SETUP);
		}
		_exit(fn(&c, arg) & 0xff);
	}

	/* Parent. */
	sync[0] = bh__close(sync[0]);
	if (root && (flags & CLONE_NEWUSER)) {
		r = write_maps(pid, &c);
		if (r < 0) {
			kill(pid, SIGKILL);
			reap(pid);
			bh__fail(&fail, BH_LAYER_USERNS, -r, "userns: writing the id maps: %s", strerror(-r));
			goto out;
		}
	}
	r = bh__write_full(sync[1], &one, 1);
	if (r < 0) {
		kill(pid, SIGKILL);
		reap(pid);
		bh__fail(&fail, -1, -r, "releasing the child: %s", strerror(-r));
		goto out;
	}
	*pid_out = pid;
	if (pidfd_out) {
		*pidfd_out = pidfd;
		pidfd = -1;
	}
	r = 0;
out:
	bh__close(sync[0]);
	bh__close(sync[1]);
	bh__close(pidfd);
	if (r < 0 && why)
		*why = fail;
	return r;
}

/* ---- shared network namespace --------------------------------------------- */

int bh_sandbox_netns_create(bh_sandbox_netns **out)
{
	bh_sandbox_netns *ns;
	char path[64];
	int hold[2] = { -1, -1 }, fd = -1, r = 0;
	pid_t pid;

	if (!out)
		return -EINVAL;
	if (geteuid() != 0)
		return -EPERM;
	if (pipe2(hold, O_CLOEXEC) < 0)
		return -errno;
	/* A short-lived child creates the namespace; the fd we open keeps it alive. */
	pid = raw_clone(CLONE_NEWNET, NULL);
	if (pid == 0) {
		char b;

		close(hold[1]);
		while (read(hold[0], &b, 1) < 0 && errno == EINTR)
			;
		_exit(0);
	}
	if (pid < 0) {
		r = -errno;
		goto out;
	}
	snprintf(path, sizeof path, "/proc/%d/ns/net", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		r = -errno;
	hold[1] = bh__close(hold[1]);
	reap(pid);
	if (r < 0)
		goto out;
	ns = calloc(1, sizeof *ns);
	if (!ns) {
		r = -ENOMEM;
		goto out;
	}
	ns->fd = fd;
	fd = -1;
	*out = ns;
out:
	bh__close(fd);
	bh__close(hold[0]);
	bh__close(hold[1]);
	return r;
}

void bh_sandbox_netns_destroy(bh_sandbox_netns *ns)
{
	if (!ns)
		return;
	bh__close(ns->fd);
	free(ns);
}
