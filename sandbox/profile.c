/*
 * Sandbox profiles as data: the built-in tables (every allowed system call
 * with the reason it is allowed), derivation, and the policy table printer.
 * Nothing here makes a system call; seccomp_policy.c turns a profile into
 * BPF and layers.c applies it.
 */
#include <asm/prctl.h>
#include <errno.h>
#include <inttypes.h>
#include <fcntl.h>
#include <linux/futex.h>
#include <linux/memfd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <seccomp.h>

#ifndef ARCH_CET_STATUS
#define ARCH_CET_STATUS 0x3001
#endif

#include "common/internal.h"
#include "sandbox/sandbox_private.h"

#define ALLOW(sc, w) { .syscall = (sc), .action = BH_RULE_ALLOW, .why = (w) }
#define ALLOW_IF(sc, a, o, v, w) \
	{ .syscall = (sc), .action = BH_RULE_ALLOW, .nargs = 1, .args = { { (a), (o), (v), 0 } }, .why = (w) }
#define ALLOW_IF2(sc, a, o, v, b, p, u, w)                                                  \
	{ .syscall = (sc), .action = BH_RULE_ALLOW, .nargs = 2,                             \
	  .args = { { (a), (o), (v), 0 }, { (b), (p), (u), 0 } }, .why = (w) }
#define ALLOW_MASKED(sc, a, m, v, w) \
	{ .syscall = (sc), .action = BH_RULE_ALLOW, .nargs = 1, .args = { { (a), BH_CMP_MASKED_EQ, (v), (m) } }, .why = (w) }
#define FAIL(sc, e, w) { .syscall = (sc), .action = BH_RULE_ERRNO, .err = (e), .why = (w) }
#define FAIL_IF(sc, e, a, o, v, w) \
	{ .syscall = (sc), .action = BH_RULE_ERRNO, .err = (e), .nargs = 1, .args = { { (a), (o), (v), 0 } }, .why = (w) }

/* glibc's pthread_create(): every one of these, and nothing that makes a new process. */
#define THREAD_FLAGS \
	(CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM)
#define THREAD_OPTIONAL (CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID)
#define FUTEX_OP_MASK (~(uint64_t)(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME))
#define WHY_FUTEX "locks, condition variables, thread join (no PI or requeue-PI operations)"
#define WHY_FCNTL "fd flags (O_NONBLOCK, FD_CLOEXEC) and duplicating fds it holds"
#define WHY_MADV "allocators hand memory back or tune it (DONTNEED, FREE, hugepage and dump hints)"

/*
 * The renderer: parses and rasterizes hostile pages. It may use the fds it
 * was given (channels, memfd regions), memory that never becomes
 * executable, threads, clocks and signals to itself. Nothing that names a
 * file, a socket address, another process or a kernel subsystem.
 */
static const bh_syscall_rule renderer_rules[] = {
	/* Process and thread lifetime. */
	ALLOW("exit", "end a thread"),
	ALLOW("exit_group", "end the process"),
	ALLOW("rt_sigreturn", "return from a signal handler"),
	ALLOW("restart_syscall", "the kernel restarts calls interrupted by a signal"),
	ALLOW_MASKED("clone", 0, ~(uint64_t)THREAD_OPTIONAL, THREAD_FLAGS,
		     "threads only: CLONE_VM|FS|FILES|SIGHAND|THREAD|SYSVSEM exactly, no exit signal"),
	FAIL("clone3", ENOSYS,
	     "glibc >= 2.34 tries clone3 first; its flags are in memory the filter cannot read, "
	     "ENOSYS makes glibc fall back to clone"),
	ALLOW("set_robust_list", "thread start-up in glibc"),
	ALLOW("set_tid_address", "thread start-up in glibc"),
	ALLOW("rseq", "glibc registers restartable sequences for each thread"),
	ALLOW_MASKED("futex", 1, FUTEX_OP_MASK, FUTEX_WAIT, WHY_FUTEX),
	ALLOW_MASKED("futex", 1, FUTEX_OP_MASK, FUTEX_WAKE, WHY_FUTEX),
	ALLOW_MASKED("futex", 1, FUTEX_OP_MASK, FUTEX_REQUEUE, WHY_FUTEX),
	ALLOW_MASKED("futex", 1, FUTEX_OP_MASK, FUTEX_CMP_REQUEUE, WHY_FUTEX),
	ALLOW_MASKED("futex", 1, FUTEX_OP_MASK, FUTEX_WAKE_OP, WHY_FUTEX),
	ALLOW_MASKED("futex", 1, FUTEX_OP_MASK, FUTEX_WAIT_BITSET, WHY_FUTEX),
	ALLOW_MASKED("futex", 1, FUTEX_OP_MASK, FUTEX_WAKE_BITSET, WHY_FUTEX),
	ALLOW("sched_yield", "spin-lock back-off"),
	ALLOW("sched_getaffinity", "CPU count for sizing thread pools (sysconf)"),

	/* Signals, to itself only. */
	ALLOW_IF("rt_sigaction", 0, BH_CMP_NE, SIGSYS,
		 "signal handlers, except for SIGSYS: the violation reporter stays in place"),
	ALLOW("rt_sigprocmask", "block and unblock signals (libc, threads)"),
	ALLOW("sigaltstack", "alternate stacks for crash handlers and sanitizers"),
	ALLOW_IF("kill", 0, BH_CMP_EQ_SELF, 0, "signal itself (raise, abort); never another process"),
	ALLOW_IF("tgkill", 0, BH_CMP_EQ_SELF, 0, "signal its own threads"),

	/* Own identity, read-only. */
	ALLOW("getpid", "own pid"),
	ALLOW("gettid", "own thread id"),
	ALLOW("getuid", "own ids (read-only)"),
	ALLOW("geteuid", "own ids (read-only)"),
	ALLOW("getgid", "own ids (read-only)"),
	ALLOW("getegid", "own ids (read-only)"),
	ALLOW("getresuid", "own ids (read-only)"),
	ALLOW("getresgid", "own ids (read-only)"),
	ALLOW_IF2("prlimit64", 0, BH_CMP_EQ, 0, 2, BH_CMP_EQ, 0,
		  "read its own limits (getrlimit); never set them, never another process"),
	ALLOW("getrlimit", "read its own limits"),
	ALLOW_IF("prctl", 0, BH_CMP_EQ, PR_SET_NAME, "name its threads"),
	ALLOW_IF("prctl", 0, BH_CMP_EQ, PR_GET_NAME, "read thread names"),
	ALLOW_IF("prctl", 0, BH_CMP_EQ, PR_GET_DUMPABLE, "status report reads the dumpable flag"),

	/* I/O on fds it already holds. */
	ALLOW("read", "read its channels and regions"),
	ALLOW("write", "write its channels (and the violation report)"),
	ALLOW("readv", "scatter reads on held fds"),
	ALLOW("writev", "gather writes on held fds"),
	ALLOW("pread64", "positioned reads (the status report reads its pre-opened fd)"),
	ALLOW("pwrite64", "positioned writes on held fds"),
	ALLOW("lseek", "seek on held fds"),
	ALLOW("close", "close held fds"),
	ALLOW("fstat", "size and type of a held fd"),
	ALLOW("fstatfs", "check that a region it was handed lives on tmpfs (a memfd), not on a disk"),
	ALLOW_IF("newfstatat", 3, BH_CMP_EQ, AT_EMPTY_PATH,
		 "glibc's fstat() is newfstatat(fd, \"\", AT_EMPTY_PATH); never a path lookup flag set"),
	ALLOW_IF("fcntl", 1, BH_CMP_EQ, F_GETFD, WHY_FCNTL),
	ALLOW_IF("fcntl", 1, BH_CMP_EQ, F_SETFD, WHY_FCNTL),
	ALLOW_IF("fcntl", 1, BH_CMP_EQ, F_GETFL, WHY_FCNTL),
	ALLOW_IF("fcntl", 1, BH_CMP_EQ, F_SETFL, WHY_FCNTL),
	ALLOW_IF("fcntl", 1, BH_CMP_EQ, F_DUPFD_CLOEXEC, WHY_FCNTL),
	ALLOW_IF("fcntl", 1, BH_CMP_EQ, F_GET_SEALS, "check the seals of a region it was handed"),
	ALLOW("dup", "duplicate a held fd"),
	ALLOW("dup3", "duplicate a held fd onto a number"),
	ALLOW_IF("ioctl", 1, BH_CMP_EQ, FIONREAD, "bytes waiting on a channel"),
	FAIL_IF("ioctl", ENOTTY, 1, BH_CMP_EQ, TCGETS,
		"isatty() probe from stdio: answer 'not a terminal', no terminal is reachable"),

	/* Channels: connected sockets it was given, never new ones. */
	ALLOW("sendmsg", "framed messages and fds (SCM_RIGHTS) on its channels"),
	ALLOW("recvmsg", "framed messages and fds (SCM_RIGHTS) on its channels"),
	ALLOW("sendmmsg", "batched sends on its channels"),
	ALLOW("recvmmsg", "batched receives on its channels"),
	ALLOW_IF("sendto", 4, BH_CMP_EQ, 0, "send() on a connected channel; no destination address"),
	ALLOW("recvfrom", "recv() on a channel"),
	ALLOW("shutdown", "half-close a channel"),
	ALLOW_IF("getsockopt", 1, BH_CMP_EQ, SOL_SOCKET,
		 "socket type and peer credentials of a held channel (read-only)"),

	/* Event loop over held fds. */
	ALLOW("epoll_create1", "event loop"),
	ALLOW("epoll_ctl", "event loop"),
	ALLOW("epoll_wait", "event loop"),
	ALLOW("epoll_pwait", "event loop"),
	ALLOW("epoll_pwait2", "event loop"),
	ALLOW("poll", "wait on held fds"),
	ALLOW("ppoll", "wait on held fds"),
	ALLOW("eventfd2", "loop wake-ups (an anonymous counter reaches nothing)"),
	ALLOW("timerfd_create", "loop timers"),
	ALLOW("timerfd_settime", "loop timers"),
	ALLOW("timerfd_gettime", "loop timers"),
	ALLOW("signalfd4", "signals through the loop"),

	/* Memory that never becomes executable. */
	ALLOW("brk", "malloc heap"),
	ALLOW_MASKED("mmap", 2, PROT_EXEC, 0,
		     "anonymous memory and mappings of regions it was handed; never PROT_EXEC"),
	ALLOW_MASKED("mprotect", 2, PROT_EXEC, 0, "change protections, never to executable"),
	ALLOW("munmap", "release mappings"),
	ALLOW("mremap", "grow mappings (cannot add PROT_EXEC)"),
	ALLOW_IF("madvise", 2, BH_CMP_EQ, MADV_NORMAL, WHY_MADV),
	ALLOW_IF("madvise", 2, BH_CMP_EQ, MADV_WILLNEED, WHY_MADV),
	ALLOW_IF("madvise", 2, BH_CMP_EQ, MADV_DONTNEED, WHY_MADV),
	ALLOW_IF("madvise", 2, BH_CMP_EQ, MADV_FREE, WHY_MADV),
	ALLOW_IF("madvise", 2, BH_CMP_EQ, MADV_HUGEPAGE, WHY_MADV),
	ALLOW_IF("madvise", 2, BH_CMP_EQ, MADV_NOHUGEPAGE, WHY_MADV),
	ALLOW_IF("madvise", 2, BH_CMP_EQ, MADV_DONTDUMP, WHY_MADV),
	ALLOW_IF("madvise", 2, BH_CMP_EQ, MADV_DODUMP, WHY_MADV),

	/* Time and randomness. */
	ALLOW("clock_gettime", "clocks (when the vDSO cannot answer)"),
	ALLOW("clock_getres", "clock resolution"),
	ALLOW("gettimeofday", "clocks (when the vDSO cannot answer)"),
	ALLOW("time", "clocks (when the vDSO cannot answer)"),
	ALLOW("nanosleep", "sleep (back-off, frame pacing)"),
	ALLOW("clock_nanosleep", "sleep (back-off, frame pacing)"),
	ALLOW("getrandom", "random numbers (there is no /dev/urandom to open)"),
	ALLOW_IF("arch_prctl", 0, BH_CMP_EQ, ARCH_SET_FS,
		 "thread-local storage base (static programs set it at start-up)"),

	/* Harmless probes answered with an error. */
	FAIL("sysinfo", EPERM,
	     "glibc's qsort() and sysconf() probe the memory size and cope with failure; "
	     "machine-wide figures are none of the worker's business"),
	FAIL("readlink", ENOENT, "static glibc start-up asks for /proc/self/exe; /proc is gone"),
	FAIL_IF("arch_prctl", EINVAL, 0, BH_CMP_EQ, ARCH_CET_STATUS,
		"glibc start-up probes CET; answer as a kernel without it"),
};

/* The compositor: renderer, plus buffers of its own. */
static const bh_syscall_rule gpu_rules[] = {
	ALLOW_MASKED("memfd_create", 1, ~(uint64_t)(MFD_CLOEXEC | MFD_ALLOW_SEALING), 0,
		     "its own composition buffers (no MFD_EXEC, no hugetlb)"),
	ALLOW("ftruncate", "size its own buffers; RLIMIT_FSIZE caps the size"),
	ALLOW_IF("fcntl", 1, BH_CMP_EQ, F_ADD_SEALS, "seal its buffers before handing them out"),
};

/* Helpers that transform data the broker hands them; lighter namespaces. */
static const bh_syscall_rule utility_rules[] = {
	ALLOW_MASKED("memfd_create", 1, ~(uint64_t)(MFD_CLOEXEC | MFD_ALLOW_SEALING), 0,
		     "scratch buffers"),
	ALLOW("ftruncate", "size its scratch buffers; RLIMIT_FSIZE caps the size"),
	ALLOW_IF("fcntl", 1, BH_CMP_EQ, F_ADD_SEALS, "seal its buffers before handing them out"),
	ALLOW_IF("socketpair", 0, BH_CMP_EQ, AF_UNIX, "private channels to hand to the broker"),
	ALLOW("pipe2", "private pipes"),
	ALLOW("uname", "libraries check the kernel version; the host name is hidden (utsns)"),
	ALLOW("getrusage", "measure itself"),
	FAIL("openat", EACCES,
	     "libraries probe configuration files (/etc/localtime...); the root is empty anyway"),
	FAIL("open", EACCES, "as openat"),
	FAIL("access", EACCES, "libraries probe files; the root is empty anyway"),
	FAIL("faccessat", EACCES, "as access"),
	FAIL("faccessat2", EACCES, "as access"),
	FAIL_IF("newfstatat", ENOENT, 3, BH_CMP_NE, AT_EMPTY_PATH,
		"stat() of a path: the root is empty, answer as it would"),
};

#define REQ BH_NEED_REQUIRED
#define OPT BH_NEED_OPTIONAL
#define MiB (UINT64_C(1) << 20)
#define GiB (UINT64_C(1) << 30)

/*
 * The address-space cap breaks AddressSanitizer (its shadow memory is a
 * multi-terabyte reservation), so sanitizer builds leave RLIMIT_AS alone
 * (layers.c reports it); see docs/SANDBOX.md.
 */
static const bh_profile builtin_profiles[] = {
	{
		.name = "renderer",
		.builtin = true,
		.summary = "the strictest: parses hostile input using only what it was handed",
		.layers = { REQ, REQ, REQ, REQ, REQ, REQ, REQ, REQ, REQ, REQ, REQ },
		.rlimits = { 2 * GiB, 64, 32, 0, 0, 0 },
		.table = renderer_rules,
		.ntable = BH_ARRAY_SIZE(renderer_rules),
	},
	{
		.name = "gpu",
		.builtin = true,
		.summary = "renderer plus its own sealed buffers: composites what renderers drew",
		.layers = { REQ, REQ, REQ, REQ, REQ, REQ, REQ, REQ, REQ, REQ, REQ },
		.rlimits = { 4 * GiB, 256, 32, 256 * MiB, 0, 0 },
		.table = renderer_rules,
		.ntable = BH_ARRAY_SIZE(renderer_rules),
	},
	{
		.name = "utility",
		.builtin = true,
		.summary = "renderer plus scratch buffers, pipes and errno answers to file probes; "
			   "namespaces optional",
		.layers = { REQ, OPT, OPT, OPT, OPT, OPT, OPT, REQ, REQ, REQ, REQ },
		.rlimits = { 4 * GiB, 128, 32, 64 * MiB, 0, 0 },
		.table = renderer_rules,
		.ntable = BH_ARRAY_SIZE(renderer_rules),
	},
};

/* The additions of each built-in beyond the renderer's table. */
static const struct {
	const bh_syscall_rule *rules;
	size_t n;
} builtin_extra[] = {
	{ NULL, 0 },
	{ gpu_rules, BH_ARRAY_SIZE(gpu_rules) },
	{ utility_rules, BH_ARRAY_SIZE(utility_rules) },
};

static const char *const builtin_names[] = { "renderer", "gpu", "utility", NULL };

static const int rlimit_resources[BH__RL_COUNT] = {
	RLIMIT_AS, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_FSIZE, RLIMIT_CORE, RLIMIT_MEMLOCK,
};
static const char *const rlimit_names[BH__RL_COUNT] = {
	"AS", "NOFILE", "NPROC", "FSIZE", "CORE", "MEMLOCK",
};

int bh__rlimit_index(int resource)
{
	for (int i = 0; i < BH__RL_COUNT; i++) {
		if (rlimit_resources[i] == resource)
			return i;
	}
	return -EINVAL;
}

int bh__rlimit_resource(int index)
{
	return rlimit_resources[index];
}

const char *bh__rlimit_name(int index)
{
	return index >= 0 && index < BH__RL_COUNT ? rlimit_names[index] : "?";
}

static const char *const layer_names[BH_LAYER_COUNT] = {
	"fds", "userns", "pidns", "netns", "ipcns", "utsns", "fs",
	"rlimits", "no_new_privs", "caps", "seccomp",
};

const char *bh_sandbox_layer_name(int layer)
{
	if (layer < 0 || layer >= BH_LAYER_COUNT)
		return "setup";
	return layer_names[layer];
}

int bh_sandbox_layer_from_name(const char *name)
{
	if (!name)
		return -ENOENT;
	for (int i = 0; i < BH_LAYER_COUNT; i++) {
		if (strcmp(layer_names[i], name) == 0)
			return i;
	}
	return -ENOENT;
}

const char *bh_layer_need_name(bh_layer_need need)
{
	switch (need) {
	case BH_NEED_OFF: return "off";
	case BH_NEED_OPTIONAL: return "optional";
	case BH_NEED_REQUIRED: return "required";
	}
	return "?";
}

const char *bh_layer_state_name(bh_layer_state state)
{
	switch (state) {
	case BH_STATE_ABSENT: return "absent";
	case BH_STATE_APPLIED: return "applied";
	case BH_STATE_FAILED: return "failed";
	}
	return "?";
}

/*
 * A built-in profile is the renderer table plus its own additions; the
 * additions are kept as a second static table that bh_profile_rule_at()
 * walks after the first. Derived profiles copy them into `extra`.
 */
static size_t builtin_index(const bh_profile *p)
{
	return (size_t)(p - builtin_profiles);
}

static bool is_builtin(const bh_profile *p)
{
	return p >= builtin_profiles && p < builtin_profiles + BH_ARRAY_SIZE(builtin_profiles);
}

int bh_profile_lookup(const char *name, const bh_profile **out)
{
	if (!name || !out)
		return -EINVAL;
	for (size_t i = 0; i < BH_ARRAY_SIZE(builtin_profiles); i++) {
		if (strcmp(builtin_profiles[i].name, name) == 0) {
			*out = &builtin_profiles[i];
			return 0;
		}
	}
	return -ENOENT;
}

const char *const *bh_profile_builtin_names(void)
{
	return builtin_names;
}

int bh_profile_lookup_error(const char *name, char *buf, size_t size)
{
	struct bh__out o = { buf, size, 0 };

	if (size > 0)
		buf[0] = '\0';
	bh__out_printf(&o, "unknown sandbox profile '%s' (known: ", name ? name : "(null)");
	for (size_t i = 0; builtin_names[i]; i++)
		bh__out_printf(&o, "%s%s", i ? ", " : "", builtin_names[i]);
	bh__out_printf(&o, ")");
	return (int)o.len;
}

const char *bh_profile_name(const bh_profile *p)
{
	return p->name;
}

bh_layer_need bh_profile_layer(const bh_profile *p, bh_sandbox_layer layer)
{
	if ((int)layer < 0 || layer >= BH_LAYER_COUNT)
		return BH_NEED_OFF;
	return p->layers[layer];
}

int bh_profile_rlimit(const bh_profile *p, int resource, uint64_t *out)
{
	int i = bh__rlimit_index(resource);

	if (i < 0)
		return i;
	*out = p->rlimits[i];
	return 0;
}

static size_t extra_count(const bh_profile *p)
{
	return is_builtin(p) ? builtin_extra[builtin_index(p)].n : p->nextra;
}

size_t bh_profile_rule_count(const bh_profile *p)
{
	return p->ntable + extra_count(p);
}

const bh_syscall_rule *bh_profile_rule_at(const bh_profile *p, size_t i)
{
	if (i < p->ntable)
		return &p->table[i];
	i -= p->ntable;
	if (i >= extra_count(p))
		return NULL;
	return is_builtin(p) ? &builtin_extra[builtin_index(p)].rules[i] : &p->extra[i];
}

static int check_name(const char *name)
{
	size_t n;

	if (!name)
		return -EINVAL;
	n = strlen(name);
	if (n == 0 || n >= BH_PROFILE_NAME_MAX)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\')
			return -EINVAL;
	}
	return 0;
}

static int check_rule(const bh_syscall_rule *r)
{
	if (!r->syscall || !r->why || !r->why[0])
		return -EINVAL;
	if (seccomp_syscall_resolve_name(r->syscall) < 0)
		return -EINVAL;
	if (r->action != BH_RULE_ALLOW && r->action != BH_RULE_ERRNO)
		return -EINVAL;
	if (r->action == BH_RULE_ERRNO && (r->err < 1 || r->err > 4095))
		return -EINVAL;
	if (r->nargs > BH_RULE_MAX_ARGS)
		return -EINVAL;
	for (unsigned i = 0; i < r->nargs; i++) {
		if (r->args[i].arg > 5 || r->args[i].op < BH_CMP_EQ || r->args[i].op > BH_CMP_EQ_SELF)
			return -EINVAL;
		for (unsigned j = 0; j < i; j++) {
			if (r->args[j].arg == r->args[i].arg)
				return -EINVAL; /* libseccomp takes one comparison per argument */
		}
	}
	return 0;
}

static void rule_free_strings(bh_syscall_rule *r)
{
	free((char *)r->syscall);
	free((char *)r->why);
}

/* Appends a deep copy of `r` (already checked). */
static int push_rule(bh_profile *p, const bh_syscall_rule *r)
{
	bh_syscall_rule copy = *r;

	if (p->nextra == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 8;
		bh_syscall_rule *n = realloc(p->extra, cap * sizeof *n);

		if (!n)
			return -ENOMEM;
		p->extra = n;
		p->cap = cap;
	}
	copy.syscall = strdup(r->syscall);
	copy.why = strdup(r->why);
	if (!copy.syscall || !copy.why) {
		rule_free_strings(&copy);
		return -ENOMEM;
	}
	p->extra[p->nextra++] = copy;
	return 0;
}

void bh_profile_destroy(bh_profile *p)
{
	if (!p || is_builtin(p))
		return;
	for (size_t i = 0; i < p->nextra; i++)
		rule_free_strings(&p->extra[i]);
	free(p->extra);
	free(p);
}

int bh_profile_derive(const bh_profile *base, const char *name, bh_profile **out)
{
	bh_profile *p;
	size_t nbase;
	int r;

	if (!base || !out || check_name(name) < 0)
		return -EINVAL;
	p = calloc(1, sizeof *p);
	if (!p)
		return -ENOMEM;
	memcpy(p->name, name, strlen(name) + 1);
	p->builtin = false;
	p->summary = NULL;
	memcpy(p->layers, base->layers, sizeof p->layers);
	memcpy(p->rlimits, base->rlimits, sizeof p->rlimits);
	p->table = base->table;
	p->ntable = base->ntable;
	nbase = extra_count(base);
	for (size_t i = 0; i < nbase; i++) {
		r = push_rule(p, bh_profile_rule_at(base, base->ntable + i));
		if (r < 0) {
			bh_profile_destroy(p);
			return r;
		}
	}
	*out = p;
	return 0;
}

/*
 * libseccomp lets an unconditional rule replace every conditional rule of
 * the same call. Refuse the combinations where that would silently drop a
 * rule: an unconditional errno over what the profile allows (derivation
 * adds, it does not take away), or a conditional rule under an
 * unconditional one of another action.
 */
static int check_conflict(const bh_profile *p, const bh_syscall_rule *r)
{
	for (size_t i = 0; i < bh_profile_rule_count(p); i++) {
		const bh_syscall_rule *e = bh_profile_rule_at(p, i);

		if (strcmp(e->syscall, r->syscall) != 0 || e->action == r->action)
			continue;
		if ((r->nargs == 0 && r->action == BH_RULE_ERRNO) || (e->nargs == 0 && r->nargs > 0))
			return -EEXIST;
	}
	return 0;
}

int bh_profile_add_rule(bh_profile *p, const bh_syscall_rule *rule)
{
	int r;

	if (!p || !rule)
		return -EINVAL;
	if (is_builtin(p))
		return -EPERM;
	r = check_rule(rule);
	if (r == 0)
		r = check_conflict(p, rule);
	if (r < 0)
		return r;
	return push_rule(p, rule);
}

int bh_profile_allow(bh_profile *p, const char *syscall, const char *why)
{
	bh_syscall_rule r = { .syscall = syscall, .action = BH_RULE_ALLOW, .why = why };

	return bh_profile_add_rule(p, &r);
}

int bh_profile_set_layer(bh_profile *p, bh_sandbox_layer layer, bh_layer_need need)
{
	if (!p || (int)layer < 0 || layer >= BH_LAYER_COUNT || need > BH_NEED_REQUIRED)
		return -EINVAL;
	if (is_builtin(p))
		return -EPERM;
	p->layers[layer] = need;
	return 0;
}

int bh_profile_set_rlimit(bh_profile *p, int resource, uint64_t value)
{
	int i = bh__rlimit_index(resource);

	if (!p || i < 0)
		return -EINVAL;
	if (is_builtin(p))
		return -EPERM;
	p->rlimits[i] = value;
	return 0;
}

/* ---- formatting ----------------------------------------------------------- */

void bh__out_printf(struct bh__out *o, const char *fmt, ...)
{
	va_list ap;
	size_t room = o->len < o->size ? o->size - o->len : 0;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(room ? o->buf + o->len : NULL, room, fmt, ap);
	va_end(ap);
	if (n > 0)
		o->len += (size_t)n;
}

void bh__out_json_string(struct bh__out *o, const char *s)
{
	bh__out_printf(o, "\"");
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			bh__out_printf(o, "\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			bh__out_printf(o, "\\u%04x", c);
		else
			bh__out_printf(o, "%c", c);
	}
	bh__out_printf(o, "\"");
}

static const char *cmp_symbol(bh_cmp_op op)
{
	switch (op) {
	case BH_CMP_EQ: return "==";
	case BH_CMP_NE: return "!=";
	case BH_CMP_LT: return "<";
	case BH_CMP_LE: return "<=";
	case BH_CMP_GT: return ">";
	case BH_CMP_GE: return ">=";
	case BH_CMP_MASKED_EQ: return "==";
	case BH_CMP_EQ_SELF: return "==";
	}
	return "?";
}

static void format_cond(const bh_syscall_rule *r, char *buf, size_t size)
{
	struct bh__out o = { buf, size, 0 };

	buf[0] = '\0';
	if (r->nargs == 0) {
		bh__out_printf(&o, "-");
		return;
	}
	for (unsigned i = 0; i < r->nargs; i++) {
		const bh_arg_cmp *c = &r->args[i];

		if (i)
			bh__out_printf(&o, " && ");
		if (c->op == BH_CMP_EQ_SELF)
			bh__out_printf(&o, "a%u == self", c->arg);
		else if (c->op == BH_CMP_MASKED_EQ)
			bh__out_printf(&o, "a%u & %#" PRIx64 " == %#" PRIx64, c->arg, c->mask, c->value);
		else
			bh__out_printf(&o, "a%u %s %#" PRIx64, c->arg, cmp_symbol(c->op), c->value);
	}
}

static void format_profile(const bh_profile *p, struct bh__out *o)
{
	char cond[96], action[24];

	bh__out_printf(o, "profile %s%s%s\n", p->name, p->summary ? ": " : "",
		       p->summary ? p->summary : "");
	bh__out_printf(o, "layers:");
	for (int i = 0; i < BH_LAYER_COUNT; i++)
		bh__out_printf(o, " %s=%s", layer_names[i], bh_layer_need_name(p->layers[i]));
	bh__out_printf(o, "\nrlimits:");
	for (int i = 0; i < BH__RL_COUNT; i++) {
		if (p->rlimits[i] == BH_RLIMIT_KEEP)
			bh__out_printf(o, " %s=inherited", rlimit_names[i]);
		else
			bh__out_printf(o, " %s=%" PRIu64, rlimit_names[i], p->rlimits[i]);
	}
	bh__out_printf(o, "\ndefault: any other call kills the process with SIGSYS and is "
			  "reported to the broker by name\n");
	bh__out_printf(o, "%-18s %-14s %-36s %s\n", "SYSCALL", "ACTION", "CONDITION", "WHY");
	for (size_t i = 0; i < bh_profile_rule_count(p); i++) {
		const bh_syscall_rule *r = bh_profile_rule_at(p, i);

		format_cond(r, cond, sizeof cond);
		if (r->action == BH_RULE_ALLOW)
			snprintf(action, sizeof action, "allow");
		else
			snprintf(action, sizeof action, "errno %s", strerrorname_np(r->err) ?
				 strerrorname_np(r->err) : "?");
		bh__out_printf(o, "%-18s %-14s %-36s %s\n", r->syscall, action, cond, r->why);
	}
}

int bh_profile_format(const bh_profile *p, char *buf, size_t size)
{
	struct bh__out o = { buf, size, 0 };

	if (size > 0)
		buf[0] = '\0';
	format_profile(p, &o);
	return (int)o.len;
}

int bh_profile_print(const bh_profile *p, FILE *f)
{
	int n = bh_profile_format(p, NULL, 0);
	char *buf;
	int r = 0;

	if (n < 0)
		return -EINVAL;
	buf = malloc((size_t)n + 1);
	if (!buf)
		return -ENOMEM;
	bh_profile_format(p, buf, (size_t)n + 1);
	if (fwrite(buf, 1, (size_t)n, f) != (size_t)n || fflush(f) != 0)
		r = -EIO;
	free(buf);
	return r;
}
