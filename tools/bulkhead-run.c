/*
 * bulkhead-run: run one program under a bulkhead sandbox profile, like
 * minijail0, for trying and debugging policies and for running third-party
 * test programs inside a profile.
 *
 *   bulkhead-run [--profile NAME] [--allow SYSCALL]... [--] PROGRAM [ARGS...]
 *   bulkhead-run [--profile NAME] --print-policy
 *
 * The program gets every layer of the profile and exactly its seccomp rules.
 * The exec that starts it is the only one it gets: the filter is loaded
 * before exec with execve/execveat sent to this process (seccomp user
 * notification), which lets the first one through and kills the program on
 * any later one. Every other forbidden call also arrives here, so the
 * program is killed and the call named even though its own signal handlers
 * replaced the sandbox's at exec.
 *
 * Static programs run in the empty root. Dynamic programs need their loader
 * and libraries: the root then holds the system library directories,
 * read-only, and the filter installed before exec additionally permits what
 * the loader needs; a small library preloaded into the program stacks the
 * exact profile filter on top of it before main() runs (the stricter of two
 * filters always wins). docs/SANDBOX.md explains the trade-off.
 *
 * Exit status: the program's, or 128+signal if a signal ended it; 128+SIGSYS
 * when the sandbox killed it (with a line on stderr naming the call); 125
 * when the sandbox could not be set up or an option is wrong; 126 when the
 * program cannot be executed; 127 when it is not found.
 */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bulkhead/sandbox.h>

#include "common/internal.h"
#include "sandbox/sandbox_private.h"

#define EXIT_SETUP 125
#define EXIT_CANNOT_EXEC 126
#define EXIT_NOT_FOUND 127

#ifndef BH_PRELOAD_INSTALL_PATH
#define BH_PRELOAD_INSTALL_PATH "/usr/local/lib/bulkhead/libbulkhead-run-preload.so"
#endif
#define PRELOAD_NAME "libbulkhead-run-preload.so"

extern char **environ;

static const char *prog_name = "bulkhead-run";

static void usage(FILE *f)
{
	fprintf(f,
		"usage: %s [--profile NAME] [--allow SYSCALL]... [--] PROGRAM [ARGS...]\n"
		"       %s [--profile NAME] [--allow SYSCALL]... --print-policy\n"
		"Runs PROGRAM under a bulkhead sandbox profile (default: renderer).\n"
		"  -p, --profile NAME   renderer, gpu or utility\n"
		"  -a, --allow SYSCALL  also allow SYSCALL (derives a profile; for trying policies)\n"
		"  -P, --print-policy   print the profile's policy table and exit\n"
		"  -h, --help           this text\n"
		"Exit status: PROGRAM's, 128+signal, 128+SIGSYS when the sandbox killed it,\n"
		"125 sandbox or option error, 126 cannot execute, 127 not found.\n",
		prog_name, prog_name);
}

/* One clear line, then the exit status. */
static int die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int die(int status, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog_name);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return status;
}

/* ---- the program ----------------------------------------------------------- */

struct target {
	char path[PATH_MAX];
	int fd;            /* O_RDONLY|O_CLOEXEC, executed with execveat(AT_EMPTY_PATH) */
	bool dynamic;      /* has PT_INTERP */
};

static int find_program(const char *name, char *out, size_t size)
{
	const char *path = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(name, '/')) {
		if (snprintf(out, size, "%s", name) >= (int)size)
			return -ENAMETOOLONG;
		return access(out, F_OK) == 0 ? 0 : -errno;
	}
	if (!path || !*path)
		path = "/usr/local/bin:/usr/bin:/bin";
	for (const char *p = path; *p;) {
		const char *end = strchrnul(p, ':');
		int n = snprintf(buf, sizeof buf, "%.*s/%s", (int)(end - p), p, name);

		if (n > 0 && (size_t)n < sizeof buf && access(buf, X_OK) == 0) {
			snprintf(out, size, "%s", buf);
			return 0;
		}
		p = *end ? end + 1 : end;
	}
	return -ENOENT;
}

/* Opens the program and tells static from dynamic (PT_INTERP). 0 or an exit status. */
static int open_target(const char *name, struct target *t)
{
	Elf64_Ehdr eh;
	struct stat st;
	int r = find_program(name, t->path, sizeof t->path);

	if (r < 0)
		return die(EXIT_NOT_FOUND, "%s: %s", name, r == -ENOENT ? "command not found" : strerror(-r));
	t->fd = open(t->path, O_RDONLY | O_CLOEXEC);
	if (t->fd < 0)
		return die(errno == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC, "%s: %s", t->path, strerror(errno));
	if (fstat(t->fd, &st) < 0 || !S_ISREG(st.st_mode))
		return die(EXIT_CANNOT_EXEC, "%s: not a regular file", t->path);
	if (access(t->path, X_OK) < 0)
		return die(EXIT_CANNOT_EXEC, "%s: %s", t->path, strerror(errno));
	if (pread(t->fd, &eh, sizeof eh, 0) != (ssize_t)sizeof eh || memcmp(eh.e_ident, ELFMAG, SELFMAG) != 0)
		return die(EXIT_CANNOT_EXEC, "%s: not an ELF program (scripts are not supported)", t->path);
	if (eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_machine != EM_X86_64 || eh.e_phentsize != sizeof(Elf64_Phdr))
		return die(EXIT_CANNOT_EXEC, "%s: not a native x86_64 program", t->path);
	for (unsigned i = 0; i < eh.e_phnum && i < 256; i++) {
		Elf64_Phdr ph;

		if (pread(t->fd, &ph, sizeof ph, (off_t)(eh.e_phoff + i * sizeof ph)) != (ssize_t)sizeof ph)
			return die(EXIT_CANNOT_EXEC, "%s: truncated ELF program headers", t->path);
		if (ph.p_type == PT_INTERP)
			t->dynamic = true;
	}
	return 0;
}

/*
 * The loader library: beside this binary (build tree), then in the lib
 * directories next to its bin directory (an install under any --prefix),
 * then where the configured install put it.
 */
static int find_preload(char *out, size_t size)
{
	static const char *const rel[] = { "", "/../lib/bulkhead", "/../lib64/bulkhead",
					   "/../lib/x86_64-linux-gnu/bulkhead" };
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);

	if (n > 0) {
		const char *dir;

		self[n] = '\0';
		dir = dirname(self);
		for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
			snprintf(out, size, "%s%s/%s", dir, rel[i], PRELOAD_NAME);
			if (access(out, R_OK) == 0)
				return 0;
		}
	}
	snprintf(out, size, "%s", BH_PRELOAD_INSTALL_PATH);
	return access(out, R_OK) == 0 ? 0 : -ENOENT;
}

/* ---- the child ----------------------------------------------------------------- */

struct job {
	const bh_profile *profile;
	struct target *t;
	char *const *argv;
	const bh_sandbox_prog *f0;   /* loaded before exec, with the listener */
	int f1_fd;                   /* dynamic: the exact profile filter for the loader library */
	int report;                  /* child end of the report socket */
	int ctl;                     /* child end: the listener fd goes back through it */
	const char *preload;
};

static void child_fail(const struct job *j, int layer, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5), noreturn));
static void child_fail(const struct job *j, int layer, int code, const char *fmt, ...)
{
	bh_sandbox_failure f;
	va_list ap;

	f.layer = layer;
	f.code = code > 0 ? code : EIO;
	va_start(ap, fmt);
	vsnprintf(f.text, sizeof f.text, fmt, ap);
	va_end(ap);
	bh__report_failure(j->report, &f);
	_exit(EXIT_SETUP);
}

static int send_fd(int sock, int fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { "L", 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	memset(cbuf, 0, sizeof cbuf);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	return sendmsg(sock, &mh, MSG_NOSIGNAL) == 1 ? 0 : -errno;
}

/* environ plus the loader library's variables (dynamic programs only). */
static char **child_env(const struct job *j)
{
	size_t n = 0, k = 0;
	char **env, *pre = NULL;
	const char *old = getenv("LD_PRELOAD");

	while (environ[n])
		n++;
	env = calloc(n + 4, sizeof *env);
	if (!env)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(environ[i], "LD_PRELOAD=", 11) != 0 && strncmp(environ[i], "BH_RUN_", 7) != 0)
			env[k++] = environ[i];
	}
	if (j->t->dynamic) {
		if (asprintf(&pre, "LD_PRELOAD=%s%s%s", j->preload, old && *old ? ":" : "", old ? old : "") < 0 ||
		    asprintf(&env[k + 1], "BH_RUN_FILTER_FD=%d", j->f1_fd) < 0 ||
		    asprintf(&env[k + 2], "BH_RUN_REPORT_FD=%d", j->report) < 0)
			return NULL;
		env[k] = pre;
		k += 3;
	}
	env[k] = NULL;
	return env;
}

static int child_main(const bh_sandbox_child *child, void *arg)
{
	const struct job *j = arg;
	/* The program's own PT_INTERP is not bound: only loaders inside these directories work. */
	const char *binds[] = { "/usr", "/lib", "/lib64", "/lib32", "/libx32", "/etc/ld.so.cache",
				j->preload, NULL };
	int keep[8], nkeep = 0, listener, r;
	bh_sandbox_opts o = { .child = child, .report_fd = j->report, .flags = BH_SANDBOX_NO_SECCOMP };
	bh_sandbox_report rep;
	char **env;

	for (int fd = 0; fd <= 2; fd++) {
		if (fcntl(fd, F_GETFD) >= 0)
			keep[nkeep++] = fd;
	}
	keep[nkeep++] = j->t->fd;
	keep[nkeep++] = j->ctl;
	if (j->t->dynamic)
		keep[nkeep++] = j->f1_fd;
	o.keep_fds = keep;
	o.n_keep_fds = (unsigned)nkeep;
	env = child_env(j);
	if (!env)
		child_fail(j, -1, ENOMEM, "building the environment");
	/* Every layer but seccomp, which is loaded right before exec. */
	r = bh__sandbox_enter_ex(j->profile, &o, &rep, j->t->dynamic ? binds : NULL);
	if (r < 0)
		_exit(EXIT_SETUP); /* the failure record is written */
	bh_sandbox_report_release(&rep);
	if (j->t->dynamic) {
		/* The loader library reads these after exec. */
		if (fcntl(j->f1_fd, F_SETFD, 0) < 0 || fcntl(j->report, F_SETFD, 0) < 0)
			child_fail(j, BH_LAYER_SECCOMP, errno, "keeping fds across exec: %s", strerror(errno));
	}
	listener = bh__sandbox_prog_load(j->f0, SECCOMP_FILTER_FLAG_NEW_LISTENER);
	if (listener < 0)
		child_fail(j, BH_LAYER_SECCOMP, -listener, "seccomp: loading the filter: %s", strerror(-listener));
	r = send_fd(j->ctl, listener);
	if (r < 0)
		child_fail(j, BH_LAYER_SECCOMP, -r, "seccomp: handing over the listener: %s", strerror(-r));
	close(listener);
	close(j->ctl);
	syscall(SYS_execveat, j->t->fd, "", j->argv, env, AT_EMPTY_PATH);
	child_fail(j, -1, errno, "exec %s: %s", j->t->path, strerror(errno));
}

/* ---- the supervisor ----------------------------------------------------------- */

struct watch {
	bool exec_done;
	bool killed;
	bh_sandbox_violation v;
};

static int recv_fd(int sock)
{
	char cbuf[CMSG_SPACE(sizeof(int))], b;
	struct iovec iov = { &b, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf };
	struct cmsghdr *cm;
	int fd = -1;
	ssize_t n;

	do {
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n <= 0)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
	    cm->cmsg_len != CMSG_LEN(sizeof(int)))
		return -1;
	memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	return fd;
}

/* Answers one notification: the first exec goes through; anything else kills the program. */
static void handle_notification(int listener, int pidfd, struct watch *w)
{
	struct seccomp_notif req;
	struct seccomp_notif_resp resp;
	char name[32];

	memset(&req, 0, sizeof req);
	if (ioctl(listener, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0)
		return;
	memset(&resp, 0, sizeof resp);
	resp.id = req.id;
	bh_sandbox_syscall_name(req.data.arch, req.data.nr, name, sizeof name);
	if (!w->exec_done && req.data.arch == AUDIT_ARCH_X86_64 &&
	    (strcmp(name, "execve") == 0 || strcmp(name, "execveat") == 0)) {
		/* Our own exec of the program (nothing else ran since the filter was loaded). */
		w->exec_done = true;
		resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
	} else {
		if (!w->killed) {
			w->killed = true;
			w->v.nr = req.data.nr;
			w->v.arch = req.data.arch;
			w->v.ip = req.data.instruction_pointer;
			memcpy(w->v.args, req.data.args, sizeof w->v.args);
			snprintf(w->v.name, sizeof w->v.name, "%s", name);
		}
		/* Kill first: the call must never run, and the program must not carry on. */
		syscall(SYS_pidfd_send_signal, pidfd, SIGKILL, NULL, 0);
		resp.error = -EPERM;
	}
	(void)ioctl(listener, SECCOMP_IOCTL_NOTIF_SEND, &resp);
}

static int supervise(pid_t pid, int pidfd, int ctl, struct watch *w, int *status)
{
	int listener = -1; /* -1: still to come through ctl; -2: none (child failed, or gone) */

	for (;;) {
		struct pollfd p[2] = { { .fd = pidfd, .events = POLLIN }, { .fd = -1, .events = POLLIN } };
		nfds_t n = 1;
		int r;

		if (listener != -2) {
			p[1].fd = listener == -1 ? ctl : listener;
			n = 2;
		}
		r = poll(p, n, -1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (n == 2 && p[1].revents) {
			if (listener == -1) {
				listener = recv_fd(ctl);
				if (listener < 0)
					listener = -2;
			} else if (p[1].revents & POLLIN) {
				handle_notification(listener, pidfd, w);
			} else {
				bh__close(listener);
				listener = -2;
			}
		}
		if (p[0].revents & POLLIN)
			break;
	}
	if (listener >= 0)
		bh__close(listener);
	while (waitpid(pid, status, 0) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* ---- main -------------------------------------------------------------------- */

static int make_filter_fd(const bh_sandbox_prog *f1)
{
	int fd = memfd_create("bulkhead-run-filter", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	size_t len = f1->len * sizeof(struct sock_filter);

	if (fd < 0)
		return -errno;
	if (bh__write_full(fd, f1->insns, len) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) < 0) {
		int err = errno;

		bh__close(fd);
		return -err;
	}
	return fd;
}

static int report_outcome(const struct target *t, const char *profile, const struct watch *w, int report,
			  int status)
{
	bh_sandbox_record viol, fail;
	bool dynamic_ready = false;
	int n;

	memset(&viol, 0, sizeof viol);
	memset(&fail, 0, sizeof fail);
	(void)fcntl(report, F_SETFL, O_NONBLOCK);
	n = 0;
	for (;;) {
		/* Drain, noticing the loader library's "ready" record too. */
		unsigned char buf[BH_SANDBOX_RECORD_SIZE];
		bh_sandbox_record rec;
		ssize_t k = read(report, buf, sizeof buf);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0 || ++n > 4096)
			break;
		if (bh_sandbox_record_decode(buf, (size_t)k, &rec) < 0)
			continue;
		if (rec.kind == BH_RECORD_VIOLATION)
			viol = rec;
		else if (rec.kind == BH_RECORD_SETUP_FAILED)
			fail = rec;
		else if (rec.kind == BH_RECORD_READY)
			dynamic_ready = true;
	}
	if (w->killed || (viol.kind == BH_RECORD_VIOLATION && WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS)) {
		const bh_sandbox_violation *v = w->killed ? &w->v : &viol.violation;

		die(0, "%s killed by the sandbox (profile %s): forbidden system call %s (%s #%d)", t->path, profile,
		    v->name, bh_sandbox_arch_name(v->arch), v->nr);
		return 128 + SIGSYS;
	}
	if (fail.kind == BH_RECORD_SETUP_FAILED && WIFEXITED(status) && WEXITSTATUS(status) == EXIT_SETUP) {
		if (fail.failure.layer < 0 && strncmp(fail.failure.text, "exec ", 5) == 0)
			return die(fail.failure.code == ENOENT ? EXIT_NOT_FOUND : EXIT_CANNOT_EXEC, "%s",
				   fail.failure.text + 5);
		return die(EXIT_SETUP, "cannot sandbox %s (profile %s): %s", t->path, profile, fail.failure.text);
	}
	if (t->dynamic && w->exec_done && !dynamic_ready)
		die(0, "warning: %s never installed the profile's filter (was the loader library ignored?); "
		       "only the loader-phase filter was in force", t->path);
	if (WIFSIGNALED(status))
		return 128 + WTERMSIG(status);
	return WEXITSTATUS(status);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "profile", required_argument, NULL, 'p' },
		{ "allow", required_argument, NULL, 'a' },
		{ "print-policy", no_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *profile_name = "renderer";
	const char *allow[64];
	unsigned nallow = 0;
	bool print_policy = false;
	const bh_profile *base;
	bh_profile *derived = NULL;
	const bh_profile *p;
	struct target t = { .fd = -1 };
	bh_sandbox_prog *f0 = NULL, *f1 = NULL;
	char preload[PATH_MAX] = "";
	int c, r, ret = EXIT_SETUP, report[2] = { -1, -1 }, ctl[2] = { -1, -1 }, f1_fd = -1, pidfd = -1, status = 0;
	bh_sandbox_failure why;
	struct watch w;
	struct job j;
	pid_t pid;

	if (argc > 0 && argv[0] && strrchr(argv[0], '/'))
		prog_name = strrchr(argv[0], '/') + 1;
	opterr = 0; /* one line of our own instead of getopt's */
	while ((c = getopt_long(argc, argv, "+:p:a:Ph", longopts, NULL)) != -1) {
		switch (c) {
		case 'p':
			profile_name = optarg;
			break;
		case 'a':
			if (nallow == sizeof allow / sizeof allow[0])
				return die(EXIT_SETUP, "too many --allow options");
			allow[nallow++] = optarg;
			break;
		case 'P':
			print_policy = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case ':':
			return die(EXIT_SETUP, "option '%s' needs a value (see %s --help)",
				   argv[optind - 1], prog_name);
		default:
			return die(EXIT_SETUP, "unknown option '%s' (see %s --help)", argv[optind - 1],
				   prog_name);
		}
	}
	if (bh_profile_lookup(profile_name, &base) < 0) {
		char msg[160];

		bh_profile_lookup_error(profile_name, msg, sizeof msg);
		return die(EXIT_SETUP, "%s", msg);
	}
	p = base;
	if (nallow) {
		char name[BH_PROFILE_NAME_MAX];

		snprintf(name, sizeof name, "%.20s+allow", profile_name);
		if (bh_profile_derive(base, name, &derived) < 0)
			return die(EXIT_SETUP, "out of memory");
		for (unsigned i = 0; i < nallow; i++) {
			if (bh_profile_allow(derived, allow[i], "allowed on the command line") < 0) {
				bh_profile_destroy(derived);
				return die(EXIT_SETUP, "--allow %s: unknown system call", allow[i]);
			}
		}
		p = derived;
	}
	if (print_policy) {
		ret = bh_profile_print(p, stdout) < 0 ? EXIT_SETUP : 0;
		goto out;
	}
	if (optind >= argc) {
		ret = die(EXIT_SETUP, "no program given (see %s --help)", prog_name);
		goto out;
	}
	r = open_target(argv[optind], &t);
	if (r) {
		ret = r;
		goto out;
	}
	if (t.dynamic && find_preload(preload, sizeof preload) < 0) {
		ret = die(EXIT_SETUP, "%s is dynamically linked and %s was not found (install bulkhead, or link "
				      "the program statically)", t.path, PRELOAD_NAME);
		goto out;
	}
	r = bh__sandbox_compile_ex(p, BH_SANDBOX_PID_NS_INIT,
				   BH__COMPILE_NOTIFY_DEFAULT | BH__COMPILE_NOTIFY_EXEC |
					   (t.dynamic ? BH__COMPILE_LOADER : 0),
				   &f0);
	if (r == 0 && t.dynamic)
		r = bh_sandbox_compile(p, BH_SANDBOX_PID_NS_INIT, &f1);
	if (r < 0) {
		ret = die(EXIT_SETUP, "profile %s: cannot compile the filter: %s", bh_profile_name(p), strerror(-r));
		goto out;
	}
	if (t.dynamic) {
		f1_fd = make_filter_fd(f1);
		if (f1_fd < 0) {
			ret = die(EXIT_SETUP, "cannot pass the filter: %s", strerror(-f1_fd));
			goto out;
		}
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, report) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0) {
		ret = die(EXIT_SETUP, "socketpair: %s", strerror(errno));
		goto out;
	}
	j = (struct job){ .profile = p, .t = &t, .argv = argv + optind, .f0 = f0, .f1_fd = f1_fd,
			  .report = report[1], .ctl = ctl[1], .preload = preload };
	fflush(NULL);
	r = bh_sandbox_spawn(p, NULL, child_main, &j, &pid, &pidfd, &why);
	if (r < 0) {
		ret = die(EXIT_SETUP, "cannot sandbox %s (profile %s): %s", t.path, bh_profile_name(p), why.text);
		goto out;
	}
	report[1] = bh__close(report[1]);
	ctl[1] = bh__close(ctl[1]);
	memset(&w, 0, sizeof w);
	r = supervise(pid, pidfd, ctl[0], &w, &status);
	if (r < 0) {
		ret = die(EXIT_SETUP, "waiting for %s: %s", t.path, strerror(-r));
		goto out;
	}
	ret = report_outcome(&t, bh_profile_name(p), &w, report[0], status);
out:
	bh__close(pidfd);
	bh__close(f1_fd);
	bh__close(t.fd);
	bh__close_all(report, 2);
	bh__close_all(ctl, 2);
	bh_sandbox_prog_destroy(f0);
	bh_sandbox_prog_destroy(f1);
	bh_profile_destroy(derived);
	return ret;
}
