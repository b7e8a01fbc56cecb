/*
 * Profile -> BPF with libseccomp, exported once so that many workers can
 * load the same program with a single seccomp() call; syscall naming for
 * the broker.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <seccomp.h>

#include "common/internal.h"
#include "sandbox/sandbox_private.h"

static enum scmp_compare to_scmp_op(bh_cmp_op op)
{
	switch (op) {
	case BH_CMP_EQ:
	case BH_CMP_EQ_SELF: return SCMP_CMP_EQ;
	case BH_CMP_NE: return SCMP_CMP_NE;
	case BH_CMP_LT: return SCMP_CMP_LT;
	case BH_CMP_LE: return SCMP_CMP_LE;
	case BH_CMP_GT: return SCMP_CMP_GT;
	case BH_CMP_GE: return SCMP_CMP_GE;
	case BH_CMP_MASKED_EQ: return SCMP_CMP_MASKED_EQ;
	}
	return _SCMP_CMP_MIN;
}

static int add_rule(scmp_filter_ctx ctx, const bh_syscall_rule *r, pid_t self_pid, uint32_t action_override)
{
	struct scmp_arg_cmp cmp[BH_RULE_MAX_ARGS];
	uint32_t action;
	int nr = seccomp_syscall_resolve_name(r->syscall);

	/* Built-in rules for calls this architecture does not have are skipped. */
	if (nr < 0)
		return 0;
	if (action_override)
		action = action_override;
	else
		action = r->action == BH_RULE_ALLOW ? SCMP_ACT_ALLOW : SCMP_ACT_ERRNO((uint32_t)r->err);
	for (unsigned i = 0; i < r->nargs && i < BH_RULE_MAX_ARGS; i++) {
		const bh_arg_cmp *c = &r->args[i];

		cmp[i].arg = c->arg;
		cmp[i].op = to_scmp_op(c->op);
		if (c->op == BH_CMP_MASKED_EQ) {
			cmp[i].datum_a = c->mask;
			cmp[i].datum_b = c->value;
		} else {
			cmp[i].datum_a = c->op == BH_CMP_EQ_SELF ? (uint64_t)self_pid : c->value;
			cmp[i].datum_b = 0;
		}
	}
	return seccomp_rule_add_exact_array(ctx, action, nr, r->nargs, cmp);
}

/*
 * What glibc's dynamic loader and bulkhead-run's loader library need between
 * exec and main(), for programs whose profile forbids them. Only in the
 * filter bulkhead-run installs before exec; the loader library then stacks
 * the exact profile on top (the stricter action of the two wins).
 */
#define O_WRITEISH ((uint64_t)(O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND))
static const bh_syscall_rule loader_rules[] = {
	{ .syscall = "openat", .nargs = 1, .args = { { 2, BH_CMP_MASKED_EQ, 0, O_WRITEISH } },
	  .why = "loader: open libraries read-only" },
	{ .syscall = "open", .nargs = 1, .args = { { 1, BH_CMP_MASKED_EQ, 0, O_WRITEISH } },
	  .why = "loader: open libraries read-only" },
	{ .syscall = "access", .why = "loader: /etc/ld.so.preload probe" },
	{ .syscall = "newfstatat", .why = "loader: size of libraries" },
	{ .syscall = "mmap", .why = "loader: map libraries, executable segments too" },
	{ .syscall = "mprotect", .why = "loader: RELRO and text protections" },
	{ .syscall = "arch_prctl", .why = "loader: TLS and CET set-up" },
	{ .syscall = "readlink", .why = "loader: $ORIGIN" },
	{ .syscall = "seccomp", .why = "loader library: installs the profile's filter" },
	{ .syscall = "rt_sigaction", .why = "loader library: installs the SIGSYS reporter" },
};

static bool in_loader_set(const char *syscall)
{
	for (size_t i = 0; i < BH_ARRAY_SIZE(loader_rules); i++) {
		if (strcmp(loader_rules[i].syscall, syscall) == 0)
			return true;
	}
	return false;
}

static int export_bpf(scmp_filter_ctx ctx, bh_sandbox_prog *prog)
{
	struct stat st;
	int fd = memfd_create("bh-seccomp-bpf", MFD_CLOEXEC);
	int r = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	r = seccomp_export_bpf(ctx, fd);
	if (r < 0)
		goto out;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) != 0 ||
	    st.st_size > (off_t)(BPF_MAXINSNS * sizeof(struct sock_filter))) {
		r = -E2BIG;
		goto out;
	}
	prog->insns = malloc((size_t)st.st_size);
	if (!prog->insns) {
		r = -ENOMEM;
		goto out;
	}
	do {
		n = pread(fd, prog->insns, (size_t)st.st_size, 0);
	} while (n < 0 && errno == EINTR);
	if (n != st.st_size) {
		r = n < 0 ? -errno : -EIO;
		goto out;
	}
	prog->len = (size_t)st.st_size / sizeof(struct sock_filter);
out:
	bh__close(fd);
	return r;
}

int bh__sandbox_compile_ex(const bh_profile *p, pid_t self_pid, unsigned flags, bh_sandbox_prog **out)
{
	uint32_t def = (flags & BH__COMPILE_NOTIFY_DEFAULT) ? SCMP_ACT_NOTIFY : SCMP_ACT_TRAP;
	scmp_filter_ctx ctx;
	bh_sandbox_prog *prog;
	int r;

	if (!p || !out || self_pid <= 0)
		return -EINVAL;
	prog = calloc(1, sizeof *prog);
	if (!prog)
		return -ENOMEM;
	ctx = seccomp_init(def);
	if (!ctx) {
		free(prog);
		return -ENOMEM;
	}
	/* bh_sandbox_enter() sets no_new_privs itself, as its own layer. */
	r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	/* A call from another ABI (int 0x80, x32) is refused and reported like any other. */
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, def);
	/* Binary search over syscall numbers: fewer instructions on the hot path. */
	if (r == 0)
		r = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_OPTIMIZE, 2);
	for (size_t i = 0; r == 0 && i < bh_profile_rule_count(p); i++) {
		const bh_syscall_rule *rule = bh_profile_rule_at(p, i);

		if ((flags & BH__COMPILE_LOADER) && in_loader_set(rule->syscall))
			continue;
		/* bulkhead-run: every exec goes to the listener, whatever the profile says. */
		if ((flags & BH__COMPILE_NOTIFY_EXEC) &&
		    (strcmp(rule->syscall, "execve") == 0 || strcmp(rule->syscall, "execveat") == 0))
			continue;
		r = add_rule(ctx, rule, self_pid, 0);
		if (r == -EEXIST || r == -EINVAL)
			r = -EINVAL; /* conflicting or malformed rule */
	}
	for (size_t i = 0; r == 0 && (flags & BH__COMPILE_LOADER) && i < BH_ARRAY_SIZE(loader_rules); i++)
		r = add_rule(ctx, &loader_rules[i], self_pid, 0);
	if (r == 0 && (flags & BH__COMPILE_NOTIFY_EXEC) && !(flags & BH__COMPILE_NOTIFY_DEFAULT)) {
		r = seccomp_rule_add_exact(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(execve), 0);
		if (r == 0)
			r = seccomp_rule_add_exact(ctx, SCMP_ACT_NOTIFY, SCMP_SYS(execveat), 0);
	}
	if (r == 0)
		r = export_bpf(ctx, prog);
	seccomp_release(ctx);
	if (r < 0) {
		bh_sandbox_prog_destroy(prog);
		return r;
	}
	prog->pid = self_pid;
	prog->flags = flags;
	*out = prog;
	return 0;
}

int bh_sandbox_compile(const bh_profile *p, pid_t self_pid, bh_sandbox_prog **out)
{
	return bh__sandbox_compile_ex(p, self_pid, 0, out);
}

void bh_sandbox_prog_destroy(bh_sandbox_prog *prog)
{
	if (!prog)
		return;
	free(prog->insns);
	free(prog);
}

size_t bh_sandbox_prog_length(const bh_sandbox_prog *prog)
{
	return prog->len;
}

pid_t bh_sandbox_prog_pid(const bh_sandbox_prog *prog)
{
	return prog->pid;
}

int bh__sandbox_prog_load(const bh_sandbox_prog *prog, unsigned flags)
{
	struct sock_fprog fprog = {
		.len = (unsigned short)prog->len,
		.filter = prog->insns,
	};
	long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, flags, &fprog);

	if (r < 0)
		return -errno;
	/* With TSYNC, a positive result is the id of a thread that could not be synchronized. */
	if ((flags & SECCOMP_FILTER_FLAG_TSYNC) && !(flags & SECCOMP_FILTER_FLAG_NEW_LISTENER) && r > 0)
		return -EBUSY;
	return (int)r;
}

/* ---- naming ----------------------------------------------------------------- */

const char *bh_sandbox_arch_name(uint32_t arch)
{
	switch (arch) {
	case AUDIT_ARCH_X86_64: return "x86_64";
	case AUDIT_ARCH_I386: return "i386";
	case AUDIT_ARCH_AARCH64: return "aarch64";
	case AUDIT_ARCH_ARM: return "arm";
	case AUDIT_ARCH_RISCV64: return "riscv64";
	case AUDIT_ARCH_PPC64LE: return "ppc64le";
	case AUDIT_ARCH_S390X: return "s390x";
	}
	return "unknown";
}

int bh_sandbox_syscall_name(uint32_t arch, int nr, char *buf, size_t size)
{
	uint32_t token = arch;
	char *name;

	if (!buf || size == 0)
		return -EINVAL;
	/* x32 calls arrive with the x86_64 audit arch and bit 30 set in the number. */
	if (arch == AUDIT_ARCH_X86_64 && nr >= 0 && (nr & 0x40000000))
		token = SCMP_ARCH_X32;
	/* libseccomp's arch tokens are the AUDIT_ARCH_* values; unknown ones resolve to NULL. */
	name = nr >= 0 ? seccomp_syscall_resolve_num_arch(token, nr) : NULL;
	if (!name && nr >= 0 && token != arch)
		name = seccomp_syscall_resolve_num_arch(token, nr & ~0x40000000);
	if (!name) {
		snprintf(buf, size, "syscall_%d", nr);
		return -ENOENT;
	}
	snprintf(buf, size, "%s", name);
	free(name);
	return 0;
}
