#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bulkhead/loop.h>

int bh_test_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] != '.')
			n++;
	}
	closedir(d);
	return n - 1; /* the directory's own fd */
}

int bh_test_count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	int n = 0, c;

	assert_non_null(f);
	while ((c = fgetc(f)) != EOF) {
		if (c == '\n')
			n++;
	}
	fclose(f);
	return n;
}

pid_t bh_test_fork(void (*fn)(void *arg), void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		bh_signals_reset();
		fn(arg);
		_exit(0);
	}
	return pid;
}

int bh_test_wait(pid_t pid, int timeout_ms, int *status)
{
	int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
	struct pollfd p;
	int r;

	if (pfd < 0)
		return -errno;
	p.fd = pfd;
	p.events = POLLIN;
	do {
		r = poll(&p, 1, timeout_ms);
	} while (r < 0 && errno == EINTR);
	close(pfd);
	if (r == 0) {
		kill(pid, SIGKILL);
		while (waitpid(pid, status, 0) < 0 && errno == EINTR)
			;
		return -ETIMEDOUT;
	}
	while ((r = waitpid(pid, status, 0)) < 0 && errno == EINTR)
		;
	return r < 0 ? -errno : 0;
}

void bh_test_wait_ok(pid_t pid, int timeout_ms)
{
	int status = 0;

	assert_int_equal(bh_test_wait(pid, timeout_ms, &status), 0);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		if (WIFSIGNALED(status))
			fail_msg("child %d killed by signal %d", (int)pid, WTERMSIG(status));
		fail_msg("child %d exited with %d", (int)pid, WEXITSTATUS(status));
	}
}

static void deadline_hit(int sig)
{
	static const char msg[] = "test deadline exceeded\n";
	(void)sig;
	(void)!write(2, msg, sizeof msg - 1);
	_exit(124);
}

void bh_test_deadline(unsigned secs)
{
	signal(SIGALRM, deadline_hit);
	alarm(secs);
}

bool bh_test_have_children(void)
{
	siginfo_t si;

	memset(&si, 0, sizeof si);
	if (waitid(P_ALL, 0, &si, WEXITED | WNOHANG | WNOWAIT) < 0)
		return errno != ECHILD;
	if (si.si_pid)
		fprintf(stderr, "child %d (%s) still there\n", (int)si.si_pid, si.si_code == CLD_EXITED ? "exited" : "ended");
	else
		fprintf(stderr, "some child is still running\n");
	return true;
}

int bh_test_run_as_root_and_user(const char *name, const struct CMUnitTest *tests, size_t n)
{
	int failed;

	if (getenv("BH_TEST_FILTER"))
		cmocka_set_test_filter(getenv("BH_TEST_FILTER"));
	failed = _cmocka_run_group_tests(name, tests, n, NULL, NULL);
	pid_t pid;
	int status = 0;
	char uname[128];

	if (getuid() != 0 || getenv("BH_TEST_NO_USER_RUN"))
		return failed;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0) {
		gid_t g = 65534;

		if (setgroups(1, &g) < 0 || setresgid(g, g, g) < 0 || setresuid(65534, 65534, 65534) < 0) {
			perror("dropping to uid 65534");
			_exit(1);
		}
		snprintf(uname, sizeof uname, "%s (as uid 65534)", name);
		_exit(_cmocka_run_group_tests(uname, tests, n, NULL, NULL) ? 1 : 0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return failed || !WIFEXITED(status) || WEXITSTATUS(status) != 0;
}

int bh_test_read_full(int fd, void *buf, size_t len)
{
	char *p = buf;

	while (len > 0) {
		ssize_t r = read(fd, p, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -EPIPE;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

unsigned bh_test_count_substr(const char *hay, const char *needle)
{
	unsigned n = 0;
	size_t len = strlen(needle);

	if (!len)
		return 0;
	for (const char *p = hay; (p = strstr(p, needle)); p += len)
		n++;
	return n;
}

void bh_test_remove_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char path[4096];

	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
		if (unlink(path) < 0 && (errno == EISDIR || errno == EPERM))
			bh_test_remove_dir(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}
