/*
 * Sandbox tests with real seccomp filters and real namespaces: each case
 * spawns a worker under a profile, lets it enter the sandbox, performs one
 * operation and checks, from the broker's side, how it ended (killed by
 * SIGSYS with the syscall named in the violation record, refused with an
 * errno, or working). Run as root and again as uid 65534.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/futex.h>
#include <linux/keyctl.h>
#include <linux/reboot.h>
#include <linux/seccomp.h>
#include <mqueue.h>
#include <net/if.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/fanotify.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/ipc.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/msg.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/sysmacros.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/shm.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/swap.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <bulkhead/sandbox.h>

#include "bulkhead.pb-c.h"
#include "testutil.h"

#define TIMEOUT_MS 20000

/* ---- running one worker ---------------------------------------------------- */

typedef int (*body_fn)(int chan, void *arg);
typedef void (*parent_fn)(int chan, pid_t pid, void *arg);

struct job {
	body_fn body;
	void *arg;
	int chan;      /* child's end of the channel */
	int report;    /* child's end of the report socket */
	bool use_spawn_ctx;
};

struct outcome {
	int status;
	bool violation;
	bh_sandbox_violation v;
	bool failed;
	bh_sandbox_failure f;
	bool have_result;
	int result;    /* int32 the body wrote last on the channel */
};

static int child_main(const bh_sandbox_child *child, void *argp)
{
	struct job *j = argp;
	bh_sandbox_opts o = {
		.child = j->use_spawn_ctx ? child : NULL,
		.keep_fds = &j->chan,
		.n_keep_fds = 1,
		.report_fd = j->report,
		.flags = BH_SANDBOX_EXIT_ON_FAILURE,
	};
	bh_sandbox_report rep;

	bh_sandbox_enter(bh_sandbox_child_profile(child), &o, &rep);
	return j->body(j->chan, j->arg);
}

static int send_result(int chan, int value)
{
	int32_t v = value;

	return write(chan, &v, sizeof v) == sizeof v ? 0 : 1;
}

/* Spawns a worker under `p`, runs parent() beside it, waits and collects what it reported. */
static void run_worker(const bh_profile *p, body_fn body, void *arg, parent_fn parent, void *parg,
		       struct outcome *out)
{
	int cs[2], rs[2], r;
	struct job j = { .body = body, .arg = arg, .use_spawn_ctx = true };
	bh_sandbox_failure why;
	bh_sandbox_record viol, fail;
	pid_t pid;

	memset(out, 0, sizeof *out);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cs), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rs), 0);
	j.chan = cs[1];
	j.report = rs[1];
	r = bh_sandbox_spawn(p, NULL, child_main, &j, &pid, NULL, &why);
	if (r < 0)
		fail_msg("spawn failed: %s", why.text);
	close(cs[1]);
	close(rs[1]);
	if (parent)
		parent(cs[0], pid, parg);
	assert_int_equal(bh_test_wait(pid, TIMEOUT_MS, &out->status), 0);
	assert_int_equal(fcntl(rs[0], F_SETFL, O_NONBLOCK), 0);
	memset(&viol, 0, sizeof viol);
	memset(&fail, 0, sizeof fail);
	r = bh_sandbox_records_drain(rs[0], &viol, &fail);
	assert_true(r >= 0);
	out->violation = viol.kind == BH_RECORD_VIOLATION;
	out->v = viol.violation;
	out->failed = fail.kind == BH_RECORD_SETUP_FAILED;
	out->f = fail.failure;
	assert_int_equal(fcntl(cs[0], F_SETFL, O_NONBLOCK), 0);
	for (;;) {
		int32_t v;
		ssize_t n = read(cs[0], &v, sizeof v);

		if (n != sizeof v)
			break;
		out->have_result = true;
		out->result = v;
	}
	close(cs[0]);
	close(rs[0]);
}

static const bh_profile *profile(const char *name)
{
	const bh_profile *p = NULL;

	assert_int_equal(bh_profile_lookup(name, &p), 0);
	return p;
}

static void describe(const struct outcome *o, char *buf, size_t size)
{
	if (WIFSIGNALED(o->status))
		snprintf(buf, size, "killed by signal %d, record: %s", WTERMSIG(o->status),
			 o->violation ? o->v.name : "none");
	else if (o->failed)
		snprintf(buf, size, "setup failed in %s: %s", bh_sandbox_layer_name(o->f.layer), o->f.text);
	else
		snprintf(buf, size, "exited %d, result %s (%d)", WEXITSTATUS(o->status),
			 o->have_result ? strerrorname_np(o->result) ?: "0" : "none", o->result);
}

/* ---- forbidden operations of the renderer --------------------------------- */

struct op {
	const char *label;
	int (*fn)(int chan);
	const char *expect;   /* syscall named by the violation record; NULL: refused with err */
	int err;
	bool i386;
};

static char *const no_argv[] = { "sh", NULL };
static char *const no_envp[] = { NULL };

static struct sockaddr_un unaddr(void)
{
	struct sockaddr_un a;

	memset(&a, 0, sizeof a);
	a.sun_family = AF_UNIX;
	strcpy(a.sun_path, "/bh-test");
	return a;
}

#define RES(expr) ((expr) < 0 ? errno : 0)

static int op_open(int c) { (void)c; return RES(open("/etc/passwd", O_RDONLY)); }
static int op_openat(int c) { (void)c; return RES(syscall(SYS_openat, AT_FDCWD, "/etc/passwd", O_RDONLY)); }
static int op_open_raw(int c) { (void)c; return RES(syscall(SYS_open, "/etc/passwd", O_RDONLY)); }
static int op_creat(int c) { (void)c; return RES(syscall(SYS_creat, "/x", 0600)); }
static int op_socket_inet(int c) { (void)c; return RES(socket(AF_INET, SOCK_STREAM, 0)); }
static int op_socket_inet6(int c) { (void)c; return RES(socket(AF_INET6, SOCK_DGRAM, 0)); }
static int op_socket_unix(int c) { (void)c; return RES(socket(AF_UNIX, SOCK_STREAM, 0)); }
static int op_socket_netlink(int c) { (void)c; return RES(socket(AF_NETLINK, SOCK_RAW, 0)); }
static int op_socketpair(int c) { int sv[2]; (void)c; return RES(socketpair(AF_UNIX, SOCK_STREAM, 0, sv)); }
static int op_connect(int c) { struct sockaddr_un a = unaddr(); return RES(connect(c, (void *)&a, sizeof a)); }
static int op_bind(int c) { struct sockaddr_un a = unaddr(); return RES(bind(c, (void *)&a, sizeof a)); }
static int op_listen(int c) { return RES(listen(c, 1)); }
static int op_accept(int c) { return RES(accept4(c, NULL, NULL, 0)); }
static int op_sendto_addr(int c) { struct sockaddr_un a = unaddr(); return RES(sendto(c, "x", 1, 0, (void *)&a, sizeof a)); }
static int op_setsockopt(int c) { int one = 1; return RES(setsockopt(c, SOL_SOCKET, SO_PASSCRED, &one, sizeof one)); }
static int op_getsockopt_ip(int c) { int v; socklen_t l = sizeof v; return RES(getsockopt(c, IPPROTO_IP, IP_TTL, &v, &l)); }
static int op_execve(int c) { (void)c; return RES(execve("/bin/sh", no_argv, no_envp)); }
static int op_execveat(int c) { return RES(syscall(SYS_execveat, c, "", no_argv, no_envp, AT_EMPTY_PATH)); }
static int op_fork(int c)
{
	pid_t p;

	(void)c;
	p = fork();
	if (p == 0)
		_exit(0);
	return RES(p);
}
static int op_vfork(int c) { (void)c; return RES(syscall(SYS_vfork)); }
static int op_clone_process(int c) { (void)c; return RES(syscall(SYS_clone, SIGCHLD, NULL, NULL, NULL, 0)); }
static int op_clone_newuser(int c) { (void)c; return RES(syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, NULL, NULL, NULL, 0)); }
static int op_clone3(int c)
{
	uint64_t args[11] = { 0 };

	(void)c;
	args[4] = SIGCHLD; /* exit_signal */
	return RES(syscall(SYS_clone3, args, sizeof args));
}
static int op_ptrace(int c) { (void)c; return RES(ptrace(PTRACE_TRACEME, 0, NULL, NULL)); }
static int op_vm_readv(int c)
{
	char a[8], b[8];
	struct iovec l = { a, sizeof a }, r = { b, sizeof b };

	(void)c;
	return RES(process_vm_readv(1, &l, 1, &r, 1, 0));
}
static int op_vm_writev(int c)
{
	char a[8] = { 0 }, b[8];
	struct iovec l = { a, sizeof a }, r = { b, sizeof b };

	(void)c;
	return RES(process_vm_writev(1, &l, 1, &r, 1, 0));
}
static int op_kill_group(int c) { (void)c; return RES(kill(0, SIGTERM)); }
static int op_kill_all(int c) { (void)c; return RES(kill(-1, SIGKILL)); }
static int op_kill_other(int c) { (void)c; return RES(kill(2, SIGKILL)); }
static int op_tgkill_other(int c) { (void)c; return RES(syscall(SYS_tgkill, 2, 2, SIGKILL)); }
static int op_tkill(int c) { (void)c; return RES(syscall(SYS_tkill, 1, SIGKILL)); }
static int op_rt_sigqueueinfo(int c) { siginfo_t si; (void)c; memset(&si, 0, sizeof si); return RES(syscall(SYS_rt_sigqueueinfo, 2, SIGUSR1, &si)); }
static int op_pidfd_open(int c) { (void)c; return RES(syscall(SYS_pidfd_open, 1, 0)); }
static int op_pidfd_getfd(int c) { return RES(syscall(SYS_pidfd_getfd, c, 0, 0)); }
static int op_kcmp(int c) { (void)c; return RES(syscall(SYS_kcmp, 1, 1, 0, 0, 0)); }
static int op_setuid(int c) { (void)c; return RES(setuid(0)); }
static int op_setresuid(int c) { (void)c; return RES(syscall(SYS_setresuid, 0, 0, 0)); }
static int op_setgid(int c) { (void)c; return RES(setgid(0)); }
static int op_setgroups(int c) { gid_t g = 0; (void)c; return RES(syscall(SYS_setgroups, 1, &g)); }
static int op_capset(int c)
{
	uint32_t hdr[2] = { 0x20080522, 0 }, data[6] = { 0 };

	(void)c;
	return RES(syscall(SYS_capset, hdr, data));
}
static int op_mount(int c) { (void)c; return RES(mount("none", "/", "tmpfs", 0, NULL)); }
static int op_umount(int c) { (void)c; return RES(umount2("/", MNT_DETACH)); }
static int op_unshare(int c) { (void)c; return RES(unshare(CLONE_NEWUSER)); }
static int op_setns(int c) { return RES(setns(c, 0)); }
static int op_chroot(int c) { (void)c; return RES(chroot("/")); }
static int op_pivot_root(int c) { (void)c; return RES(syscall(SYS_pivot_root, ".", ".")); }
static int op_chdir(int c) { (void)c; return RES(chdir("/")); }
static int op_open_tree(int c) { (void)c; return RES(syscall(SYS_open_tree, AT_FDCWD, "/", 0)); }
static int op_fsopen(int c) { (void)c; return RES(syscall(SYS_fsopen, "tmpfs", 0)); }
static int op_bpf(int c) { char attr[64] = { 0 }; (void)c; return RES(syscall(SYS_bpf, 0, attr, sizeof attr)); }
static int op_perf(int c) { char attr[128] = { 0 }; (void)c; return RES(syscall(SYS_perf_event_open, attr, 0, -1, -1, 0)); }
static int op_keyctl(int c) { (void)c; return RES(syscall(SYS_keyctl, KEYCTL_GET_KEYRING_ID, KEY_SPEC_SESSION_KEYRING, 0)); }
static int op_add_key(int c) { (void)c; return RES(syscall(SYS_add_key, "user", "bh", "x", 1, KEY_SPEC_PROCESS_KEYRING)); }
static int op_request_key(int c) { (void)c; return RES(syscall(SYS_request_key, "user", "bh", NULL, 0)); }
static int op_userfaultfd(int c) { (void)c; return RES(syscall(SYS_userfaultfd, O_CLOEXEC)); }
static int op_io_uring(int c) { char params[120] = { 0 }; (void)c; return RES(syscall(SYS_io_uring_setup, 4, params)); }
static int op_personality(int c) { (void)c; return RES(personality(READ_IMPLIES_EXEC)); }
static int op_mmap_exec(int c)
{
	(void)c;
	return mmap(NULL, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED ? errno : 0;
}
static int op_mmap_rwx(int c)
{
	(void)c;
	return mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED
		       ? errno : 0;
}
static int op_mprotect_exec(int c)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)c;
	if (p == MAP_FAILED)
		return errno;
	return RES(mprotect(p, 4096, PROT_READ | PROT_EXEC));
}
static int op_pkey_mprotect(int c)
{
	void *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)c;
	return RES(syscall(SYS_pkey_mprotect, p, 4096, PROT_READ, -1));
}
static int op_madvise_remove(int c)
{
	void *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	(void)c;
	return RES(madvise(p, 4096, MADV_REMOVE));
}
static int op_mbind(int c) { (void)c; return RES(syscall(SYS_mbind, NULL, 0, 0, NULL, 0, 0)); }
static int op_migrate_pages(int c) { (void)c; return RES(syscall(SYS_migrate_pages, 0, 0, NULL, NULL)); }
static int op_tiocsti(int c) { char ch = 'x'; return RES(ioctl(c, TIOCSTI, &ch)); }
static int op_ioctl_other(int c) { int v; return RES(ioctl(c, FIONBIO, &v)); }
static int op_clock_settime(int c) { struct timespec t = { 0, 0 }; (void)c; return RES(clock_settime(CLOCK_REALTIME, &t)); }
static int op_settimeofday(int c) { struct timeval t = { 0, 0 }; (void)c; return RES(syscall(SYS_settimeofday, &t, NULL)); }
static int op_adjtimex(int c) { char buf[256] = { 0 }; (void)c; return RES(syscall(SYS_adjtimex, buf)); }
static int op_reboot(int c) { (void)c; return RES(syscall(SYS_reboot, LINUX_REBOOT_MAGIC1, LINUX_REBOOT_MAGIC2, LINUX_REBOOT_CMD_CAD_OFF, NULL)); }
static int op_init_module(int c) { (void)c; return RES(syscall(SYS_init_module, NULL, 0, "")); }
static int op_finit_module(int c) { return RES(syscall(SYS_finit_module, c, "", 0)); }
static int op_delete_module(int c) { (void)c; return RES(syscall(SYS_delete_module, "bh", 0)); }
static int op_kexec_load(int c) { (void)c; return RES(syscall(SYS_kexec_load, 0, 0, NULL, 0)); }
static int op_syslog(int c) { char buf[16]; (void)c; return RES(klogctl(3, buf, sizeof buf)); }
static int op_acct(int c) { (void)c; return RES(acct(NULL)); }
static int op_swapon(int c) { (void)c; return RES(swapon("/swap", 0)); }
static int op_sethostname(int c) { (void)c; return RES(sethostname("bh", 2)); }
static int op_prctl_dumpable(int c) { (void)c; return RES(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)); }
static int op_prctl_ptracer(int c) { (void)c; return RES(prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0)); }
static int op_seccomp(int c) { (void)c; return RES(syscall(SYS_seccomp, SECCOMP_SET_MODE_STRICT, 0, NULL)); }
static int op_sigaction_sigsys(int c)
{
	struct sigaction sa;

	(void)c;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_IGN;
	return RES(sigaction(SIGSYS, &sa, NULL));
}
static int op_memfd(int c) { (void)c; return RES(syscall(SYS_memfd_create, "bh", 0)); }
static int op_iopl(int c) { (void)c; return RES(syscall(SYS_iopl, 3)); }
static int op_ioperm(int c) { (void)c; return RES(syscall(SYS_ioperm, 0x80, 1, 1)); }
static int op_modify_ldt(int c) { char buf[16]; (void)c; return RES(syscall(SYS_modify_ldt, 0, buf, sizeof buf)); }
static int op_mknod(int c) { (void)c; return RES(mknodat(AT_FDCWD, "/null", S_IFCHR | 0666, makedev(1, 3))); }
static int op_mkdir(int c) { (void)c; return RES(mkdir("/x", 0700)); }
static int op_unlink(int c) { (void)c; return RES(unlink("/x")); }
static int op_stat_path(int c) { struct stat st; (void)c; return RES(stat("/etc/passwd", &st)); }
static int op_statx(int c) { char buf[256]; (void)c; return RES(syscall(SYS_statx, AT_FDCWD, "/", 0, 0, buf)); }
static int op_getdents(int c) { char buf[256]; return RES(syscall(SYS_getdents64, c, buf, sizeof buf)); }
static int op_name_to_handle(int c) { char buf[256] = { 0 }; int id; (void)c; return RES(syscall(SYS_name_to_handle_at, AT_FDCWD, "/", buf, &id, 0)); }
static int op_open_by_handle(int c) { char buf[256] = { 0 }; return RES(syscall(SYS_open_by_handle_at, c, buf, 0)); }
static int op_inotify(int c) { (void)c; return RES(inotify_init1(IN_CLOEXEC)); }
static int op_fanotify(int c) { (void)c; return RES(fanotify_init(FAN_CLASS_NOTIF, O_RDONLY)); }
static int op_shmget(int c) { (void)c; return RES(shmget(IPC_PRIVATE, 4096, IPC_CREAT | 0600)); }
static int op_msgget(int c) { (void)c; return RES(msgget(IPC_PRIVATE, IPC_CREAT | 0600)); }
static int op_mq_open(int c) { (void)c; return RES(syscall(SYS_mq_open, "bh", O_RDONLY | O_CREAT, 0600, NULL)); }
static int op_setpriority(int c) { (void)c; return RES(setpriority(PRIO_PROCESS, 0, -5)); }
static int op_sched_setaffinity(int c) { cpu_set_t s; (void)c; CPU_ZERO(&s); CPU_SET(0, &s); return RES(sched_setaffinity(0, sizeof s, &s)); }
static int op_setrlimit(int c) { struct rlimit rl = { 1024, 1024 }; (void)c; return RES(setrlimit(RLIMIT_NOFILE, &rl)); }
static int op_fcntl_setown(int c) { return RES(fcntl(c, F_SETOWN, 1)); }
static int op_ftruncate(int c) { return RES(ftruncate(c, 0)); }
static int op_futex_pi(int c) { static uint32_t f; (void)c; return RES(syscall(SYS_futex, &f, FUTEX_LOCK_PI, 0, NULL, NULL, 0)); }
static int op_uname(int c) { char buf[512]; (void)c; return RES(syscall(SYS_uname, buf)); }
static int op_memfd_secret(int c) { (void)c; return RES(syscall(447 /* memfd_secret */, 0)); }
static int op_i386_getpid(int c)
{
	int r;

	(void)c;
	__asm__ volatile("int $0x80" : "=a"(r) : "a"(20) : "memory");
	return r < 0 ? -r : 0;
}
/* Refused with an errno: harmless probes (see the profile table). */
static int op_clone3_probe(int c) { return op_clone3(c); }
static int op_sysinfo(int c) { char buf[256]; (void)c; return RES(syscall(SYS_sysinfo, buf)); }
static int op_isatty(int c) { struct termios t; return RES(tcgetattr(c, &t)); }
static int op_readlink(int c) { char buf[64]; (void)c; return RES(readlink("/proc/self/exe", buf, sizeof buf)); }

static const struct op forbidden_ops[] = {
	{ "open a file", op_open, "openat", 0, false },
	{ "openat", op_openat, "openat", 0, false },
	{ "open (raw)", op_open_raw, "open", 0, false },
	{ "creat", op_creat, "creat", 0, false },
	{ "socket AF_INET", op_socket_inet, "socket", 0, false },
	{ "socket AF_INET6", op_socket_inet6, "socket", 0, false },
	{ "socket AF_UNIX", op_socket_unix, "socket", 0, false },
	{ "socket AF_NETLINK", op_socket_netlink, "socket", 0, false },
	{ "socketpair", op_socketpair, "socketpair", 0, false },
	{ "connect", op_connect, "connect", 0, false },
	{ "bind", op_bind, "bind", 0, false },
	{ "listen", op_listen, "listen", 0, false },
	{ "accept4", op_accept, "accept4", 0, false },
	{ "sendto an address", op_sendto_addr, "sendto", 0, false },
	{ "setsockopt", op_setsockopt, "setsockopt", 0, false },
	{ "getsockopt IPPROTO_IP", op_getsockopt_ip, "getsockopt", 0, false },
	{ "execve", op_execve, "execve", 0, false },
	{ "execveat", op_execveat, "execveat", 0, false },
	{ "fork", op_fork, "clone", 0, false },
	{ "vfork", op_vfork, "vfork", 0, false },
	{ "clone a process", op_clone_process, "clone", 0, false },
	{ "clone CLONE_NEWUSER", op_clone_newuser, "clone", 0, false },
	{ "ptrace", op_ptrace, "ptrace", 0, false },
	{ "process_vm_readv", op_vm_readv, "process_vm_readv", 0, false },
	{ "process_vm_writev", op_vm_writev, "process_vm_writev", 0, false },
	{ "kill the process group", op_kill_group, "kill", 0, false },
	{ "kill every process", op_kill_all, "kill", 0, false },
	{ "kill another process", op_kill_other, "kill", 0, false },
	{ "tgkill another process", op_tgkill_other, "tgkill", 0, false },
	{ "tkill", op_tkill, "tkill", 0, false },
	{ "rt_sigqueueinfo", op_rt_sigqueueinfo, "rt_sigqueueinfo", 0, false },
	{ "pidfd_open", op_pidfd_open, "pidfd_open", 0, false },
	{ "pidfd_getfd", op_pidfd_getfd, "pidfd_getfd", 0, false },
	{ "kcmp", op_kcmp, "kcmp", 0, false },
	{ "setuid", op_setuid, "setuid", 0, false },
	{ "setresuid", op_setresuid, "setresuid", 0, false },
	{ "setgid", op_setgid, "setgid", 0, false },
	{ "setgroups", op_setgroups, "setgroups", 0, false },
	{ "capset", op_capset, "capset", 0, false },
	{ "mount", op_mount, "mount", 0, false },
	{ "umount2", op_umount, "umount2", 0, false },
	{ "unshare", op_unshare, "unshare", 0, false },
	{ "setns", op_setns, "setns", 0, false },
	{ "chroot", op_chroot, "chroot", 0, false },
	{ "pivot_root", op_pivot_root, "pivot_root", 0, false },
	{ "chdir", op_chdir, "chdir", 0, false },
	{ "open_tree", op_open_tree, "open_tree", 0, false },
	{ "fsopen", op_fsopen, "fsopen", 0, false },
	{ "bpf", op_bpf, "bpf", 0, false },
	{ "perf_event_open", op_perf, "perf_event_open", 0, false },
	{ "keyctl", op_keyctl, "keyctl", 0, false },
	{ "add_key", op_add_key, "add_key", 0, false },
	{ "request_key", op_request_key, "request_key", 0, false },
	{ "userfaultfd", op_userfaultfd, "userfaultfd", 0, false },
	{ "io_uring_setup", op_io_uring, "io_uring_setup", 0, false },
	{ "personality", op_personality, "personality", 0, false },
	{ "mmap PROT_EXEC", op_mmap_exec, "mmap", 0, false },
	{ "mmap RWX", op_mmap_rwx, "mmap", 0, false },
	{ "mprotect to PROT_EXEC", op_mprotect_exec, "mprotect", 0, false },
	{ "pkey_mprotect", op_pkey_mprotect, "pkey_mprotect", 0, false },
	{ "madvise MADV_REMOVE", op_madvise_remove, "madvise", 0, false },
	{ "mbind", op_mbind, "mbind", 0, false },
	{ "migrate_pages", op_migrate_pages, "migrate_pages", 0, false },
	{ "ioctl TIOCSTI", op_tiocsti, "ioctl", 0, false },
	{ "ioctl FIONBIO", op_ioctl_other, "ioctl", 0, false },
	{ "clock_settime", op_clock_settime, "clock_settime", 0, false },
	{ "settimeofday", op_settimeofday, "settimeofday", 0, false },
	{ "adjtimex", op_adjtimex, "adjtimex", 0, false },
	{ "reboot", op_reboot, "reboot", 0, false },
	{ "init_module", op_init_module, "init_module", 0, false },
	{ "finit_module", op_finit_module, "finit_module", 0, false },
	{ "delete_module", op_delete_module, "delete_module", 0, false },
	{ "kexec_load", op_kexec_load, "kexec_load", 0, false },
	{ "syslog", op_syslog, "syslog", 0, false },
	{ "acct", op_acct, "acct", 0, false },
	{ "swapon", op_swapon, "swapon", 0, false },
	{ "sethostname", op_sethostname, "sethostname", 0, false },
	{ "prctl PR_SET_DUMPABLE", op_prctl_dumpable, "prctl", 0, false },
	{ "prctl PR_SET_PTRACER", op_prctl_ptracer, "prctl", 0, false },
	{ "seccomp", op_seccomp, "seccomp", 0, false },
	{ "replace the SIGSYS handler", op_sigaction_sigsys, "rt_sigaction", 0, false },
	{ "memfd_create", op_memfd, "memfd_create", 0, false },
	{ "iopl", op_iopl, "iopl", 0, false },
	{ "ioperm", op_ioperm, "ioperm", 0, false },
	{ "modify_ldt", op_modify_ldt, "modify_ldt", 0, false },
	{ "mknodat", op_mknod, "mknodat", 0, false },
	{ "mkdir", op_mkdir, "mkdir", 0, false },
	{ "unlink", op_unlink, "unlink", 0, false },
	{ "stat a path", op_stat_path, "newfstatat", 0, false },
	{ "statx", op_statx, "statx", 0, false },
	{ "getdents64", op_getdents, "getdents64", 0, false },
	{ "name_to_handle_at", op_name_to_handle, "name_to_handle_at", 0, false },
	{ "open_by_handle_at", op_open_by_handle, "open_by_handle_at", 0, false },
	{ "inotify_init1", op_inotify, "inotify_init1", 0, false },
	{ "fanotify_init", op_fanotify, "fanotify_init", 0, false },
	{ "shmget", op_shmget, "shmget", 0, false },
	{ "msgget", op_msgget, "msgget", 0, false },
	{ "mq_open", op_mq_open, "mq_open", 0, false },
	{ "setpriority", op_setpriority, "setpriority", 0, false },
	{ "sched_setaffinity", op_sched_setaffinity, "sched_setaffinity", 0, false },
	{ "setrlimit", op_setrlimit, "prlimit64", 0, false },
	{ "fcntl F_SETOWN", op_fcntl_setown, "fcntl", 0, false },
	{ "ftruncate", op_ftruncate, "ftruncate", 0, false },
	{ "futex FUTEX_LOCK_PI", op_futex_pi, "futex", 0, false },
	{ "uname", op_uname, "uname", 0, false },
	{ "memfd_secret", op_memfd_secret, "memfd_secret", 0, false },
	{ "i386 getpid via int 0x80", op_i386_getpid, "getpid", 0, true },
	/* Refused with an errno instead of a kill (harmless libc probes). */
	{ "clone3 (ENOSYS: libc falls back to clone)", op_clone3_probe, NULL, ENOSYS, false },
	{ "sysinfo (EPERM)", op_sysinfo, NULL, EPERM, false },
	{ "isatty (ENOTTY)", op_isatty, NULL, ENOTTY, false },
	{ "readlink (ENOENT)", op_readlink, NULL, ENOENT, false },
};

static int run_op_body(int chan, void *arg)
{
	const struct op *op = arg;

	return send_result(chan, op->fn(chan));
}

static bool ia32_available(void)
{
	int status;
	pid_t pid = fork();

	if (pid == 0) {
		op_i386_getpid(-1);
		_exit(0);
	}
	return pid > 0 && bh_test_wait(pid, TIMEOUT_MS, &status) == 0 && WIFEXITED(status);
}

static void test_forbidden_op(void **state)
{
	const struct op *op = *state;
	struct outcome o;
	char what[320];
	int fds = bh_test_count_fds();

	if (op->i386 && !ia32_available())
		skip();
	run_worker(profile("renderer"), run_op_body, (void *)op, NULL, NULL, &o);
	describe(&o, what, sizeof what);
	if (op->expect) {
		if (!WIFSIGNALED(o.status) || WTERMSIG(o.status) != SIGSYS || !o.violation ||
		    strcmp(o.v.name, op->expect) != 0)
			fail_msg("%s: expected a SIGSYS kill naming %s; got %s", op->label, op->expect, what);
		assert_int_equal(o.v.arch, op->i386 ? AUDIT_ARCH_I386 : AUDIT_ARCH_X86_64);
		assert_int_equal(o.v.pid, 1); /* pid 1 of its own namespace */
	} else {
		if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0 || !o.have_result || o.result != op->err)
			fail_msg("%s: expected errno %s; got %s", op->label, strerrorname_np(op->err), what);
	}
	assert_int_equal(bh_test_count_fds(), fds);
	assert_false(bh_test_have_children());
}

/* ---- operations a renderer needs ------------------------------------------ */

static const char region_text[] = "pixels from the broker";

/* Broker side: send a sealed memfd, expect it back, answer a ping. */
static void parent_region(int chan, pid_t pid, void *arg)
{
	int fd = memfd_create("bh-test-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov;
	struct msghdr mh;
	struct cmsghdr *cm;
	struct stat a, b;
	char ping[8];
	int back = -1;

	(void)pid;
	(void)arg;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, region_text, sizeof region_text), (ssize_t)sizeof region_text);
	assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), 0);
	memset(&mh, 0, sizeof mh);
	iov.iov_base = "region";
	iov.iov_len = 6;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof cbuf;
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof fd);
	assert_int_equal(sendmsg(chan, &mh, 0), 6);

	/* The worker sends the fd back. */
	memset(&mh, 0, sizeof mh);
	iov.iov_base = ping;
	iov.iov_len = sizeof ping;
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof cbuf;
	assert_true(recvmsg(chan, &mh, MSG_CMSG_CLOEXEC) > 0);
	cm = CMSG_FIRSTHDR(&mh);
	assert_non_null(cm);
	memcpy(&back, CMSG_DATA(cm), sizeof back);
	assert_int_equal(fstat(fd, &a), 0);
	assert_int_equal(fstat(back, &b), 0);
	assert_int_equal(a.st_ino, b.st_ino);
	close(back);
	close(fd);
	/* Plain read/write. */
	assert_int_equal(write(chan, "ping", 4), 4);
	assert_int_equal(read(chan, ping, sizeof ping), 4);
	assert_memory_equal(ping, "pong", 4);
}

static int body_region(int chan, void *arg)
{
	char cbuf[CMSG_SPACE(sizeof(int))], data[16];
	struct iovec iov = { data, sizeof data };
	struct msghdr mh;
	struct cmsghdr *cm;
	struct stat st;
	int fd, seals;
	void *map;

	(void)arg;
	memset(&mh, 0, sizeof mh);
	mh.msg_iov = &iov;
	mh.msg_iovlen = 1;
	mh.msg_control = cbuf;
	mh.msg_controllen = sizeof cbuf;
	if (recvmsg(chan, &mh, MSG_CMSG_CLOEXEC) != 6)
		return 10;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return 11;
	memcpy(&fd, CMSG_DATA(cm), sizeof fd);
	if (fstat(fd, &st) < 0 || st.st_size != (off_t)sizeof region_text)
		return 12;
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_GROW))
		return 13;
	/* A region mapped read-only, as the gpu process does. */
	map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_SHARED, fd, 0);
	if (map == MAP_FAILED || memcmp(map, region_text, sizeof region_text) != 0)
		return 14;
	munmap(map, (size_t)st.st_size);
	/* Send it back with SCM_RIGHTS. */
	iov.iov_base = "back";
	iov.iov_len = 4;
	mh.msg_controllen = sizeof cbuf;
	if (sendmsg(chan, &mh, 0) != 4)
		return 15;
	close(fd);
	if (read(chan, data, sizeof data) != 4 || memcmp(data, "ping", 4) != 0)
		return 16;
	if (write(chan, "pong", 4) != 4)
		return 17;
	return 0;
}

static void test_needed_channel_and_region(void **state)
{
	struct outcome o;
	char what[320];

	(void)state;
	run_worker(profile("renderer"), body_region, NULL, parent_region, NULL, &o);
	describe(&o, what, sizeof what);
	if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0)
		fail_msg("channel and region: %s", what);
}

struct counter {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int value;
};

static void *thread_main(void *arg)
{
	struct counter *c = arg;

	for (int i = 0; i < 1000; i++) {
		pthread_mutex_lock(&c->lock);
		c->value++;
		pthread_cond_broadcast(&c->cond);
		pthread_mutex_unlock(&c->lock);
	}
	return NULL;
}

static int body_memory_threads_time(int chan, void *arg)
{
	struct counter c = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0 };
	pthread_t t[4];
	struct timespec ts, sl = { 0, 1000 };
	char *p, *q, rnd[16];
	int ep, efd, tfd;
	struct epoll_event ev = { .events = EPOLLIN };
	struct itimerspec its = { .it_value = { 0, 1000000 } };
	uint64_t ticks;

	(void)arg;
	/* Anonymous memory: map, write, protect read-only, grow, unmap; the heap. */
	p = mmap(NULL, 1 << 20, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		return 20;
	memset(p, 0xab, 1 << 20);
	if (mprotect(p, 4096, PROT_READ) < 0 || madvise(p + 4096, 4096, MADV_DONTNEED) < 0 ||
	    mprotect(p, 4096, PROT_READ | PROT_WRITE) < 0)
		return 21;
	q = mremap(p, 1 << 20, 2 << 20, MREMAP_MAYMOVE);
	if (q == MAP_FAILED || munmap(q, 2 << 20) < 0)
		return 22;
	for (int i = 0; i < 64; i++)
		free(malloc((size_t)(i + 1) * 4096)); /* both brk and mmap allocations */
	/* Threads, futexes. */
	for (int i = 0; i < 4; i++) {
		if (pthread_create(&t[i], NULL, thread_main, &c) != 0)
			return 23;
	}
	pthread_mutex_lock(&c.lock);
	while (c.value < 4000)
		pthread_cond_wait(&c.cond, &c.lock);
	pthread_mutex_unlock(&c.lock);
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	/* Clocks, sleep, randomness. */
	if (clock_gettime(CLOCK_MONOTONIC, &ts) < 0 || syscall(SYS_clock_gettime, CLOCK_REALTIME, &ts) < 0 ||
	    nanosleep(&sl, NULL) < 0 || getrandom(rnd, sizeof rnd, 0) != sizeof rnd)
		return 24;
	/* An event loop over held fds, timers and wake-ups. */
	ep = epoll_create1(EPOLL_CLOEXEC);
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (ep < 0 || efd < 0 || tfd < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &ev) < 0 ||
	    timerfd_settime(tfd, 0, &its, NULL) < 0 || epoll_wait(ep, &ev, 1, 5000) != 1 ||
	    read(tfd, &ticks, sizeof ticks) != sizeof ticks || eventfd_write(efd, 1) < 0)
		return 25;
	close(ep);
	close(efd);
	close(tfd);
	/* Signals to itself. */
	if (kill(getpid(), 0) < 0 || getpid() != 1)
		return 26;
	return send_result(chan, 0);
}

static void test_needed_memory_threads_time(void **state)
{
	struct outcome o;
	char what[320];

	(void)state;
	run_worker(profile("renderer"), body_memory_threads_time, NULL, NULL, NULL, &o);
	describe(&o, what, sizeof what);
	if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0)
		fail_msg("memory, threads, clocks: %s", what);
}

/* ---- status report ---------------------------------------------------------- */

struct status_job {
	const char *profile;
	int fd_to_leave;     /* opened before enter, must be closed by it */
};

/* Enters itself (not via child_main) to exercise status_read and the pb transfer. */
static int status_child(const bh_sandbox_child *child, void *argp)
{
	int *fds = argp;
	bh_sandbox_opts o = { .child = child, .keep_fds = &fds[0], .n_keep_fds = 1, .report_fd = fds[1] };
	bh_sandbox_report rep;
	bh_sandbox_status st;
	Bh__SandboxStatus *m = NULL;
	uint8_t buf[4096];
	size_t n;
	int leftover = fds[2];

	if (bh_sandbox_enter(bh_sandbox_child_profile(child), &o, &rep) < 0)
		return 30;
	if (fcntl(leftover, F_GETFD) >= 0 || errno != EBADF)
		return 31;
	if (bh_sandbox_status_read(&rep, &st) < 0 || bh_sandbox_status_to_pb(&st, &m) < 0)
		return 32;
	n = bh__sandbox_status__get_packed_size(m);
	if (n > sizeof buf)
		return 33;
	bh__sandbox_status__pack(m, buf);
	bh_sandbox_status_pb_free(m);
	bh_sandbox_report_release(&rep);
	return write(fds[0], buf, n) == (ssize_t)n ? 0 : 34;
}

static void check_status(const char *name)
{
	int cs[2], rs[2], fds[3], status, leftover;
	bh_sandbox_ns_ids mine;
	bh_sandbox_status st;
	Bh__SandboxStatus *m;
	uint8_t buf[4096];
	char text[8192];
	ssize_t n;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cs), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rs), 0);
	leftover = open("/dev/null", O_RDONLY); /* not close-on-exec, not kept */
	assert_true(leftover >= 0);
	fds[0] = cs[1];
	fds[1] = rs[1];
	fds[2] = leftover;
	assert_int_equal(bh_sandbox_spawn(profile(name), NULL, status_child, fds, &pid, NULL, NULL), 0);
	close(cs[1]);
	close(rs[1]);
	close(leftover);
	n = read(cs[0], buf, sizeof buf);
	assert_int_equal(bh_test_wait(pid, TIMEOUT_MS, &status), 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("%s status child: status %#x", name, status);
	assert_true(n > 0);
	m = bh__sandbox_status__unpack(NULL, (size_t)n, buf);
	assert_non_null(m);
	assert_int_equal(bh_sandbox_status_from_pb(m, &st), 0);
	bh__sandbox_status__free_unpacked(m, NULL);
	assert_int_equal(bh_sandbox_ns_ids_self(&mine), 0);

	assert_string_equal(st.profile, name);
	for (int i = 0; i < BH_LAYER_COUNT; i++) {
		if (st.layers[i].need == BH_NEED_REQUIRED && st.layers[i].state != BH_STATE_APPLIED)
			fail_msg("%s: required layer %s is %s (%s)", name, bh_sandbox_layer_name(i),
				 bh_layer_state_name(st.layers[i].state), st.layers[i].detail);
	}
	assert_int_equal(st.seccomp_mode, 2);
	assert_int_equal(st.seccomp_filters, 1);
	assert_true(st.no_new_privs);
	assert_false(st.dumpable);
	assert_int_equal(st.cap_eff, 0);
	assert_int_equal(st.cap_prm, 0);
	assert_int_equal(st.cap_inh, 0);
	assert_int_equal(st.cap_amb, 0);
	assert_int_equal(st.cap_bnd, 0);
	assert_int_not_equal(st.uid, 0);
	assert_int_not_equal(st.gid, 0);
	assert_int_equal(st.pid, 1);
	assert_true(st.fs_empty);
	assert_int_equal(st.net_ifaces_up, 0);
	assert_int_equal(st.open_fds, 2); /* the channel and the report fd */
	assert_int_equal(st.rlimit_core, 0);
	assert_int_equal(st.rlimit_nproc, 32);
	assert_true(st.ns.user && st.ns.user != mine.user);
	assert_true(st.ns.pid && st.ns.pid != mine.pid);
	assert_true(st.ns.net && st.ns.net != mine.net);
	assert_true(st.ns.ipc && st.ns.ipc != mine.ipc);
	assert_true(st.ns.mnt && st.ns.mnt != mine.mnt);
	assert_true(st.ns.uts && st.ns.uts != mine.uts);
	/* The views. */
	assert_true(bh_sandbox_status_format_table(&st, &mine, text, sizeof text) < (int)sizeof text);
	assert_non_null(strstr(text, "Adequately sandboxed."));
	assert_null(strstr(text, "SHARED"));
	assert_true(bh_sandbox_status_format_json(&st, &mine, text, sizeof text) < (int)sizeof text);
	assert_non_null(strstr(text, "\"adequate\":true"));
	assert_non_null(strstr(text, "\"separate\":true"));
	assert_null(strstr(text, "\"separate\":false"));
	close(cs[0]);
	close(rs[0]);
}

static void test_status_renderer(void **state)
{
	(void)state;
	check_status("renderer");
}

static void test_status_gpu(void **state)
{
	(void)state;
	check_status("gpu");
}

static void test_status_utility(void **state)
{
	(void)state;
	check_status("utility");
}

/* ---- the layers, seen from inside --------------------------------------- */

/* A renderer that may also look around (open, stat, list, mkdir, kill): the fs and pid ns must hide everything. */
static bh_profile *nosy_profile(void)
{
	bh_profile *p = NULL;
	static const char *const calls[] = { "openat", "getdents64", "mkdir", "kill", "getppid", "statx",
					     "socket", "ioctl", "connect" };

	assert_int_equal(bh_profile_derive(profile("renderer"), "nosy", &p), 0);
	for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++)
		assert_int_equal(bh_profile_allow(p, calls[i], "test: look around"), 0);
	{
		bh_syscall_rule stat_any = { .syscall = "newfstatat", .why = "test: stat any path" };

		assert_int_equal(bh_profile_add_rule(p, &stat_any), 0);
	}
	return p;
}

static int body_look_around(int chan, void *arg)
{
	pid_t broker = *(pid_t *)arg;
	char buf[512];
	struct stat st;
	struct ifreq ifr;
	struct sockaddr_in sin;
	long n;
	int fd, s;

	/* The filesystem is gone. */
	if (open("/etc/passwd", O_RDONLY) >= 0 || errno != ENOENT)
		return 40;
	if (stat("/proc/self", &st) == 0 || errno != ENOENT)
		return 41;
	if (mkdir("/x", 0700) == 0 || errno != EROFS)
		return 42;
	fd = open("/", O_RDONLY | O_DIRECTORY);
	if (fd < 0)
		return 43;
	n = syscall(SYS_getdents64, fd, buf, sizeof buf);
	if (n != 48) /* "." and ".." only: two 24-byte records */
		return 44;
	close(fd);
	/* The broker is invisible. */
	if (getpid() != 1 || getppid() != 0)
		return 45;
	if (kill(broker, 0) == 0 || errno != ESRCH)
		return 46;
	/* No network: loopback exists but is down, nothing routes. */
	s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return 47;
	memset(&ifr, 0, sizeof ifr);
	strcpy(ifr.ifr_name, "lo");
	if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0 || (ifr.ifr_flags & IFF_UP))
		return 48;
	memset(&sin, 0, sizeof sin);
	sin.sin_family = AF_INET;
	sin.sin_port = htons(53);
	sin.sin_addr.s_addr = htonl(0x08080808);
	if (connect(s, (void *)&sin, sizeof sin) == 0 || errno != ENETUNREACH)
		return 49;
	close(s);
	return send_result(chan, 0);
}

static void test_fs_pid_net_hidden(void **state)
{
	bh_profile *p = nosy_profile();
	struct outcome o;
	char what[320];
	pid_t me = getpid();

	(void)state;
	run_worker(p, body_look_around, &me, NULL, NULL, &o);
	describe(&o, what, sizeof what);
	if (!WIFEXITED(o.status) || WEXITSTATUS(o.status) != 0)
		fail_msg("look around: %s", what);
	bh_profile_destroy(p);
}

/* ---- fail closed -------------------------------------------------------------- */

static int body_unreached(int chan, void *arg)
{
	(void)arg;
	return send_result(chan, 0) == 0 ? 99 : 98;
}

/* Entering without bh_sandbox_spawn(): no pid namespace; the renderer requires one. */
static void test_fail_closed_without_pidns(void **state)
{
	int cs[2], rs[2], status;
	bh_sandbox_record viol, fail;
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cs), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rs), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		bh_sandbox_opts o = { .keep_fds = &cs[1], .n_keep_fds = 1, .report_fd = rs[1] };
		bh_sandbox_report rep;
		int r = bh_sandbox_enter(profile("renderer"), &o, &rep);

		if (r == 0 || rep.failure.layer != BH_LAYER_PIDNS)
			_exit(1);
		_exit(BH_SANDBOX_EXIT_SETUP);
	}
	close(cs[1]);
	close(rs[1]);
	assert_int_equal(bh_test_wait(pid, TIMEOUT_MS, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), BH_SANDBOX_EXIT_SETUP);
	fcntl(rs[0], F_SETFL, O_NONBLOCK);
	memset(&fail, 0, sizeof fail);
	assert_int_equal(bh_sandbox_records_drain(rs[0], &viol, &fail), 1);
	assert_int_equal(fail.kind, BH_RECORD_SETUP_FAILED);
	assert_int_equal(fail.failure.layer, BH_LAYER_PIDNS);
	assert_non_null(strstr(fail.failure.text, "bh_sandbox_spawn"));
	close(cs[0]);
	close(rs[0]);
}

/* The same with pidns optional: it is reported absent, the rest is applied. */
static void test_optional_layer_reported_absent(void **state)
{
	bh_profile *p;
	int cs[2], status;
	pid_t pid;

	(void)state;
	assert_int_equal(bh_profile_derive(profile("renderer"), "no-pidns", &p), 0);
	assert_int_equal(bh_profile_set_layer(p, BH_LAYER_PIDNS, BH_NEED_OPTIONAL), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cs), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		bh_sandbox_opts o = { .keep_fds = &cs[1], .n_keep_fds = 1, .report_fd = -1 };
		bh_sandbox_report rep;
		int32_t ok;

		if (bh_sandbox_enter(p, &o, &rep) < 0)
			_exit(2);
		ok = rep.status.layers[BH_LAYER_PIDNS].state == BH_STATE_ABSENT &&
		     strstr(rep.status.layers[BH_LAYER_PIDNS].detail, "bh_sandbox_spawn") &&
		     rep.status.layers[BH_LAYER_USERNS].state == BH_STATE_APPLIED &&
		     rep.status.layers[BH_LAYER_FS].state == BH_STATE_APPLIED &&
		     rep.status.layers[BH_LAYER_SECCOMP].state == BH_STATE_APPLIED && rep.status.fs_empty;
		_exit(write(cs[1], &ok, sizeof ok) == sizeof ok && ok ? 0 : 3);
	}
	close(cs[1]);
	assert_int_equal(bh_test_wait(pid, TIMEOUT_MS, &status), 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		fail_msg("optional pidns: status %#x", status);
	close(cs[0]);
	bh_profile_destroy(p);
}

/*
 * User namespaces disabled: in a user namespace of our own, limit nested
 * ones to 0 (this changes nothing outside it). A renderer must refuse to
 * start and name the layer; utility (userns optional) starts without one.
 */
static void in_userns_without_nested(void *arg)
{
	const char *name = arg;
	bh_sandbox_failure why;
	int cs[2], rs[2], status;
	struct job j = { .body = body_unreached, .use_spawn_ctx = true };
	char map[64];
	int fd;
	uid_t uid = geteuid();
	gid_t gid = getegid();
	pid_t pid;
	int r;

	/* A process that switched ids (the uid 65534 run) cannot open its own /proc files otherwise. */
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0 || unshare(CLONE_NEWUSER) < 0)
		_exit(20);
	fd = open("/proc/self/setgroups", O_WRONLY);
	if (fd < 0 || write(fd, "deny", 4) != 4)
		_exit(21);
	close(fd);
	/* Not root inside: an unprivileged broker that holds capabilities in its own namespace. */
	snprintf(map, sizeof map, "1000 %u 1", (unsigned)uid);
	fd = open("/proc/self/uid_map", O_WRONLY);
	if (fd < 0 || write(fd, map, strlen(map)) < 0)
		_exit(22);
	close(fd);
	snprintf(map, sizeof map, "1000 %u 1", (unsigned)gid);
	fd = open("/proc/self/gid_map", O_WRONLY);
	if (fd < 0 || write(fd, map, strlen(map)) < 0)
		_exit(23);
	close(fd);
	fd = open("/proc/sys/user/max_user_namespaces", O_WRONLY);
	if (fd < 0 || write(fd, "0", 1) != 1)
		_exit(24);
	close(fd);

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cs) < 0 ||
	    socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rs) < 0)
		_exit(25);
	j.chan = cs[1];
	j.report = rs[1];
	r = bh_sandbox_spawn(profile(name), NULL, child_main, &j, &pid, NULL, &why);
	if (strcmp(name, "renderer") == 0) {
		/* Refused before any child exists, naming the layer. */
		if (r == 0 || why.layer != BH_LAYER_USERNS || why.code != ENOSPC || !strstr(why.text, "userns"))
			_exit(26);
		_exit(0);
	}
	if (r < 0)
		_exit(27);
	if (bh_test_wait(pid, TIMEOUT_MS, &status) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) != 99)
		_exit(28);
	_exit(0);
}

static void test_fail_closed_userns_disabled(void **state)
{
	(void)state;
	bh_test_wait_ok(bh_test_fork(in_userns_without_nested, "renderer"), TIMEOUT_MS);
	bh_test_wait_ok(bh_test_fork(in_userns_without_nested, "utility"), TIMEOUT_MS);
}

/* A kept fd that is not open: the fds layer fails, the record names it. */
static void test_fail_closed_bad_keep_fd(void **state)
{
	int rs[2], status;
	bh_sandbox_record viol, fail;
	pid_t pid;

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, rs), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		int bad = 1000;
		bh_sandbox_opts o = { .keep_fds = &bad, .n_keep_fds = 1, .report_fd = rs[1],
				      .flags = BH_SANDBOX_EXIT_ON_FAILURE };
		bh_sandbox_report rep;

		bh_sandbox_enter(profile("utility"), &o, &rep);
		_exit(0);
	}
	close(rs[1]);
	assert_int_equal(bh_test_wait(pid, TIMEOUT_MS, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), BH_SANDBOX_EXIT_SETUP);
	fcntl(rs[0], F_SETFL, O_NONBLOCK);
	memset(&fail, 0, sizeof fail);
	assert_int_equal(bh_sandbox_records_drain(rs[0], &viol, &fail), 1);
	assert_int_equal(fail.failure.layer, BH_LAYER_FDS);
	assert_int_equal(fail.failure.code, EBADF);
	close(rs[0]);
}

/* A precompiled filter (pid 1) is loaded as is; one built for another pid is recompiled. */
static int body_prog(int chan, void *arg)
{
	(void)arg;
	return send_result(chan, 0);
}

struct prog_job {
	const bh_sandbox_prog *prog;
	int chan;
};

static int prog_child(const bh_sandbox_child *child, void *argp)
{
	struct prog_job *j = argp;
	bh_sandbox_opts o = { .child = child, .keep_fds = &j->chan, .n_keep_fds = 1, .report_fd = -1,
			      .prog = j->prog };
	bh_sandbox_report rep;
	int32_t recompiled;

	if (bh_sandbox_enter(bh_sandbox_child_profile(child), &o, &rep) < 0)
		return 1;
	recompiled = strstr(rep.status.layers[BH_LAYER_SECCOMP].detail, "recompiled") != NULL;
	if (write(j->chan, &recompiled, sizeof recompiled) != sizeof recompiled)
		return 2;
	return body_prog(j->chan, NULL);
}

static void test_precompiled_filter(void **state)
{
	bh_sandbox_prog *prog;
	int cs[2], status;
	int32_t recompiled = -1;
	struct prog_job j;
	pid_t pid;

	(void)state;
	for (int pass = 0; pass < 2; pass++) {
		assert_int_equal(bh_sandbox_compile(profile("renderer"), pass == 0 ? BH_SANDBOX_PID_NS_INIT : 4242,
						    &prog), 0);
		assert_true(bh_sandbox_prog_length(prog) > 10);
		assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cs), 0);
		j.prog = prog;
		j.chan = cs[1];
		assert_int_equal(bh_sandbox_spawn(profile("renderer"), NULL, prog_child, &j, &pid, NULL, NULL), 0);
		close(cs[1]);
		assert_int_equal(read(cs[0], &recompiled, sizeof recompiled), sizeof recompiled);
		assert_int_equal(bh_test_wait(pid, TIMEOUT_MS, &status), 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		assert_int_equal(recompiled, pass == 0 ? 0 : 1);
		close(cs[0]);
		bh_sandbox_prog_destroy(prog);
	}
}

/* A shared network namespace (root only): the worker sees the same, empty one. */
static int netns_child(const bh_sandbox_child *child, void *argp)
{
	int *chan = argp;
	bh_sandbox_opts o = { .child = child, .keep_fds = chan, .n_keep_fds = 1, .report_fd = -1 };
	bh_sandbox_report rep;
	uint64_t id;

	if (bh_sandbox_enter(bh_sandbox_child_profile(child), &o, &rep) < 0)
		return 1;
	if (!strstr(rep.status.layers[BH_LAYER_NETNS].detail, "shared"))
		return 2;
	id = rep.status.ns.net;
	return write(*chan, &id, sizeof id) == sizeof id ? 0 : 3;
}

static void test_shared_netns(void **state)
{
	bh_sandbox_netns *ns = NULL;
	bh_spawn_opts so = { 0 };
	bh_sandbox_ns_ids mine;
	uint64_t ids[2] = { 0, 0 };
	int cs[2], status, fds = bh_test_count_fds();
	pid_t pid;

	(void)state;
	if (geteuid() != 0) {
		assert_int_equal(bh_sandbox_netns_create(&ns), -EPERM);
		skip();
	}
	assert_int_equal(bh_sandbox_netns_create(&ns), 0);
	so.netns = ns;
	for (int i = 0; i < 2; i++) {
		assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, cs), 0);
		assert_int_equal(bh_sandbox_spawn(profile("renderer"), &so, netns_child, &cs[1], &pid, NULL, NULL), 0);
		close(cs[1]);
		assert_int_equal(read(cs[0], &ids[i], sizeof ids[i]), sizeof ids[i]);
		assert_int_equal(bh_test_wait(pid, TIMEOUT_MS, &status), 0);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		close(cs[0]);
	}
	assert_int_equal(bh_sandbox_ns_ids_self(&mine), 0);
	assert_int_equal(ids[0], ids[1]);
	assert_int_not_equal(ids[0], mine.net);
	bh_sandbox_netns_destroy(ns);
	assert_int_equal(bh_test_count_fds(), fds);
}

/* The pidfd from spawn and the costs measurement. */
static int child_exit7(const bh_sandbox_child *child, void *arg)
{
	(void)child;
	(void)arg;
	return 7;
}

static void test_spawn_pidfd_and_measure(void **state)
{
	bh_sandbox_costs c;
	int pidfd = -1, status;
	pid_t pid;

	(void)state;
	assert_int_equal(bh_sandbox_spawn(profile("renderer"), NULL, child_exit7, NULL, &pid, &pidfd, NULL), 0);
	assert_true(pidfd >= 0);
	assert_true(fcntl(pidfd, F_GETFD) & FD_CLOEXEC);
	assert_int_equal(bh_test_wait(pid, TIMEOUT_MS, &status), 0);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 7);
	close(pidfd);
	/* Numbers are not asserted (shared machines): only that measuring works. */
	assert_int_equal(bh_sandbox_measure(profile("renderer"), 3, &c), 0);
	assert_true(c.enter_us > 0 && c.spawn_us > 0 && c.compile_us > 0);
	assert_true(c.syscall_ns > 0 && c.syscall_filtered_ns > 0 && c.filter_insns > 10);
	assert_false(bh_test_have_children());
}

int main(void)
{
	const size_t nops = sizeof forbidden_ops / sizeof forbidden_ops[0];
	const struct CMUnitTest fixed[] = {
		cmocka_unit_test(test_needed_channel_and_region),
		cmocka_unit_test(test_needed_memory_threads_time),
		cmocka_unit_test(test_status_renderer),
		cmocka_unit_test(test_status_gpu),
		cmocka_unit_test(test_status_utility),
		cmocka_unit_test(test_fs_pid_net_hidden),
		cmocka_unit_test(test_fail_closed_without_pidns),
		cmocka_unit_test(test_optional_layer_reported_absent),
		cmocka_unit_test(test_fail_closed_userns_disabled),
		cmocka_unit_test(test_fail_closed_bad_keep_fd),
		cmocka_unit_test(test_precompiled_filter),
		cmocka_unit_test(test_shared_netns),
		cmocka_unit_test(test_spawn_pidfd_and_measure),
	};
	const size_t nfixed = sizeof fixed / sizeof fixed[0];
	struct CMUnitTest *tests = calloc(nops + nfixed, sizeof *tests);
	int failed;

	bh_test_deadline(600);
	assert_non_null(tests);
	memcpy(tests, fixed, sizeof fixed);
	for (size_t i = 0; i < nops; i++) {
		tests[nfixed + i].name = forbidden_ops[i].label;
		tests[nfixed + i].test_func = test_forbidden_op;
		tests[nfixed + i].initial_state = (void *)&forbidden_ops[i];
	}
	failed = bh_test_run_as_root_and_user("sandbox", tests, nops + nfixed);
	free(tests);
	return failed;
}
