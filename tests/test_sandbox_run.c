/*
 * bulkhead-run, end to end: static and dynamic programs under each profile,
 * exit statuses, sandbox kills named on stderr, the one-exec rule, clear
 * errors, the policy tables, and a setuid-root program that must not get
 * its privileges back. Run as root and again as uid 65534.
 *
 * With "--probe WHAT" this program is itself the probe that bulkhead-run
 * runs (a dynamically linked program of ours).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <stdbool.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bulkhead/sandbox.h>

#include "testutil.h"

#if defined(__SANITIZE_ADDRESS__)
#define SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SANITIZED 1
#endif
#endif

#define TIMEOUT_MS 30000

static char tool[4096];
static char self[4096];
static char suid_dir[64];
static char suid_copy[128];

/* ---- probe mode --------------------------------------------------------------- */

static int probe(const char *what)
{
	if (strcmp(what, "caps") == 0) {
		struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
		struct __user_cap_data_struct d[2];
		uint64_t eff, prm;

		memset(d, 0, sizeof d);
		if (syscall(SYS_capget, &h, d) < 0)
			return 2;
		eff = (uint64_t)d[1].effective << 32 | d[0].effective;
		prm = (uint64_t)d[1].permitted << 32 | d[0].permitted;
		printf("euid=%u eff=%#llx prm=%#llx\n", (unsigned)geteuid(), (unsigned long long)eff,
		       (unsigned long long)prm);
		fflush(stdout);
		return geteuid() != 0 && eff == 0 && prm == 0 ? 0 : 1;
	}
	if (strcmp(what, "segv") == 0) {
		volatile uintptr_t bad = 8;

		*(volatile int *)bad = 1;
		return 3;
	}
	if (strcmp(what, "exit") == 0)
		return 42;
	return 4;
}

/* ---- running the tool --------------------------------------------------------- */

struct result {
	int status;
	char out[65536];
	char err[8192];
};

/* Reads what is there; returns false at EOF. */
static bool drain(int fd, char *buf, size_t size, size_t *len)
{
	char sink[4096];
	ssize_t n;

	if (*len + 1 >= size)
		n = read(fd, sink, sizeof sink); /* keep the child from blocking; drop the excess */
	else
		n = read(fd, buf + *len, size - 1 - *len);
	if (n > 0 && *len + 1 < size)
		*len += (size_t)n;
	buf[*len] = '\0';
	return n > 0 || (n < 0 && errno == EINTR);
}

static int exit_code(const struct result *r)
{
	return WIFEXITED(r->status) ? WEXITSTATUS(r->status) : 1000 + WTERMSIG(r->status);
}

/* Runs bulkhead-run with `args` (NULL-terminated, after argv[0]) and collects everything. */
static void run_tool(const char *const *args, struct result *r)
{
	const char *argv[32];
	int out[2], err[2];
	size_t no = 0, ne = 0, n = 0;
	pid_t pid;

	memset(r, 0, sizeof *r);
	argv[n++] = tool;
	for (; *args && n < 31; args++)
		argv[n++] = *args;
	argv[n] = NULL;
	assert_int_equal(pipe2(out, O_CLOEXEC), 0);
	assert_int_equal(pipe2(err, O_CLOEXEC), 0);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		dup2(out[1], 1);
		dup2(err[1], 2);
		setenv("LANG", "C", 1);
		unsetenv("LC_ALL");
		execv(tool, (char *const *)argv);
		_exit(99);
	}
	close(out[1]);
	close(err[1]);
	{
		struct pollfd p[2] = { { out[0], POLLIN, 0 }, { err[0], POLLIN, 0 } };

		while (p[0].fd >= 0 || p[1].fd >= 0) {
			int k = poll(p, 2, TIMEOUT_MS);

			if (k < 0 && errno == EINTR)
				continue;
			if (k <= 0)
				break;
			if (p[0].revents && !drain(out[0], r->out, sizeof r->out, &no))
				p[0].fd = -1;
			if (p[1].revents && !drain(err[0], r->err, sizeof r->err, &ne))
				p[1].fd = -1;
		}
	}
	close(out[0]);
	close(err[0]);
	assert_int_equal(bh_test_wait(pid, TIMEOUT_MS, &r->status), 0);
}

#define RUN(r, ...)                                               \
	do {                                                      \
		const char *const a_[] = { __VA_ARGS__, NULL };  \
		run_tool(a_, (r));                                \
	} while (0)

static void expect(const struct result *r, int code, const char *in_out, const char *in_err)
{
	if (exit_code(r) != code || (in_out && !strstr(r->out, in_out)) || (in_err && !strstr(r->err, in_err)))
		fail_msg("expected exit %d%s%s%s%s; got %d\nstdout: %s\nstderr: %s", code,
			 in_out ? ", stdout with " : "", in_out ? in_out : "", in_err ? ", stderr with " : "",
			 in_err ? in_err : "", exit_code(r), r->out, r->err);
}

/* A line on stderr at most, for an error. */
static void expect_one_line(const struct result *r)
{
	const char *nl = strchr(r->err, '\n');

	if (!nl || nl[1] != '\0')
		fail_msg("expected one line on stderr, got: %s", r->err);
}

/* ---- static programs (ldconfig is static-pie on Debian) ----------------------- */

static void test_static_runs(void **state)
{
	struct result r;

	(void)state;
	RUN(&r, "--profile", "renderer", "--", "/sbin/ldconfig", "--version");
	expect(&r, 0, "ldconfig", NULL);
	assert_string_equal(r.err, "");
}

static void test_static_killed_named(void **state)
{
	struct result r;

	(void)state;
	RUN(&r, "/sbin/ldconfig", "-p");
	expect(&r, 128 + SIGSYS, NULL, "killed by the sandbox (profile renderer): forbidden system call openat");
	expect_one_line(&r);
}

/* ---- dynamic programs -------------------------------------------------------- */

static void test_dynamic_runs(void **state)
{
	struct result r;
	const char *profiles[] = { "renderer", "gpu", "utility" };

	(void)state;
	for (int i = 0; i < 3; i++) {
		RUN(&r, "--profile", profiles[i], "echo", "hello", "sandbox");
		expect(&r, 0, "hello sandbox\n", NULL);
		assert_string_equal(r.err, "");
	}
	RUN(&r, "false");
	expect(&r, 1, NULL, NULL);
	assert_string_equal(r.err, "");
}

static void test_dynamic_killed_named(void **state)
{
	struct result r;

	(void)state;
	RUN(&r, "cat", "/etc/hostname");
	expect(&r, 128 + SIGSYS, NULL, "forbidden system call openat (x86_64 #257)");
	expect_one_line(&r);
	assert_string_equal(r.out, "");
}

static void test_errno_probe_in_utility(void **state)
{
	struct result r;

	(void)state;
	/* utility answers openat with EACCES instead of killing. */
	RUN(&r, "--profile", "utility", "cat", "/etc/hostname");
	expect(&r, 1, NULL, "Permission denied");
	assert_null(strstr(r.err, "killed by the sandbox"));
}

static void test_only_one_exec(void **state)
{
	struct result r;

	(void)state;
	RUN(&r, "env", "true");
	expect(&r, 128 + SIGSYS, NULL, "forbidden system call execve");
	/* Even a profile that allows execve gets no second exec under bulkhead-run. */
	RUN(&r, "--allow", "execve", "env", "true");
	expect(&r, 128 + SIGSYS, NULL, "forbidden system call execve");
}

static void test_signal_status(void **state)
{
	struct result r;

	(void)state;
#ifdef SANITIZED
	skip(); /* the probe is this sanitized program, which cannot run preloaded */
#endif
	RUN(&r, self, "--probe", "segv");
	expect(&r, 128 + SIGSEGV, NULL, NULL);
	RUN(&r, self, "--probe", "exit");
	expect(&r, 42, NULL, NULL);
}

/*
 * A setuid-root copy of the probe: under the sandbox (no_new_privs, locked
 * securebits, unmapped root) exec must not give back uid 0 or any capability.
 */
static void test_setuid_gains_nothing(void **state)
{
	struct result r;

	(void)state;
#ifdef SANITIZED
	skip();
#endif
	if (!suid_copy[0])
		skip(); /* only root can make a setuid-root program */
	RUN(&r, "--allow", "capget", suid_copy, "--probe", "caps");
	expect(&r, 0, "eff=0 prm=0", NULL);
	assert_null(strstr(r.out, "euid=0 "));
}

/* ---- errors --------------------------------------------------------------------- */

static void test_errors_are_one_line(void **state)
{
	struct result r;

	(void)state;
	RUN(&r, "--profile", "nosuch", "true");
	expect(&r, 125, NULL, "unknown sandbox profile 'nosuch' (known: renderer, gpu, utility)");
	expect_one_line(&r);
	RUN(&r, "bh-no-such-program");
	expect(&r, 127, NULL, "bh-no-such-program: command not found");
	expect_one_line(&r);
	RUN(&r, "/etc/hostname");
	expect(&r, 126, NULL, "not an ELF program");
	expect_one_line(&r);
	RUN(&r, "--allow", "bogus_call", "true");
	expect(&r, 125, NULL, "--allow bogus_call: unknown system call");
	expect_one_line(&r);
	RUN(&r, "--profile");
	expect(&r, 125, NULL, "option '--profile' needs a value");
	expect_one_line(&r);
	RUN(&r, "--no-such-option", "true");
	expect(&r, 125, NULL, "unknown option '--no-such-option'");
	expect_one_line(&r);
	RUN(&r, "--profile", "renderer");
	expect(&r, 125, NULL, "no program given");
	expect_one_line(&r);
}

static void test_print_policy(void **state)
{
	const char *const *names = bh_profile_builtin_names();
	struct result r;

	(void)state;
	for (size_t i = 0; names[i]; i++) {
		const bh_profile *p;

		assert_int_equal(bh_profile_lookup(names[i], &p), 0);
		RUN(&r, "--profile", names[i], "--print-policy");
		expect(&r, 0, "SYSCALL", NULL);
		/* Every rule is in the table, with its reason. */
		for (size_t k = 0; k < bh_profile_rule_count(p); k++)
			assert_non_null(strstr(r.out, bh_profile_rule_at(p, k)->why));
	}
	RUN(&r, "--allow", "uname", "-P");
	expect(&r, 0, "allowed on the command line", NULL);
}

/* ---- main ------------------------------------------------------------------------- */

static void make_setuid_copy(void)
{
	char buf[65536];
	int in, out;
	ssize_t n;

	if (geteuid() != 0)
		return;
	snprintf(suid_dir, sizeof suid_dir, "/tmp/bh-sandbox-run-XXXXXX");
	if (!mkdtemp(suid_dir) || chmod(suid_dir, 0755) < 0)
		return;
	snprintf(suid_copy, sizeof suid_copy, "%s/probe", suid_dir);
	in = open(self, O_RDONLY | O_CLOEXEC);
	out = open(suid_copy, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0700);
	while (in >= 0 && out >= 0 && (n = read(in, buf, sizeof buf)) > 0) {
		if (write(out, buf, (size_t)n) != n)
			break;
	}
	if (in >= 0)
		close(in);
	if (out < 0 || fchown(out, 0, 0) < 0 || fchmod(out, 04755) < 0) {
		suid_copy[0] = '\0';
	}
	if (out >= 0)
		close(out);
}

int main(int argc, char **argv)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_static_runs),
		cmocka_unit_test(test_static_killed_named),
		cmocka_unit_test(test_dynamic_runs),
		cmocka_unit_test(test_dynamic_killed_named),
		cmocka_unit_test(test_errno_probe_in_utility),
		cmocka_unit_test(test_only_one_exec),
		cmocka_unit_test(test_signal_status),
		cmocka_unit_test(test_setuid_gains_nothing),
		cmocka_unit_test(test_errors_are_one_line),
		cmocka_unit_test(test_print_policy),
	};
	const char *bin = getenv("BH_BINARY_DIR");
	ssize_t n;
	int failed;

	if (argc == 3 && strcmp(argv[1], "--probe") == 0)
		return probe(argv[2]);
	bh_test_deadline(600);
	n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return 1;
	self[n] = '\0';
	if (bin)
		snprintf(tool, sizeof tool, "%s/tools/bulkhead-run", bin);
	else
		snprintf(tool, sizeof tool, "%.*s/../tools/bulkhead-run", (int)(strrchr(self, '/') - self), self);
	if (access(tool, X_OK) < 0) {
		fprintf(stderr, "bulkhead-run not found at %s\n", tool);
		return 1;
	}
	make_setuid_copy();
	failed = bh_test_run_as_root_and_user("sandbox_run", tests, sizeof tests / sizeof tests[0]);
	if (suid_copy[0])
		unlink(suid_copy);
	if (suid_dir[0])
		rmdir(suid_dir);
	return failed;
}
