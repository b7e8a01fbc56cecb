/*
 * bulkhead-run's loader library, preloaded into dynamically linked
 * programs. Its constructor runs after the dynamic loader has mapped every
 * library and before main(): it installs the SIGSYS reporter and stacks the
 * exact profile filter (handed over as an fd by bulkhead-run) on the wider
 * loader-phase filter, then says so on the report fd. Outside bulkhead-run
 * (no BH_RUN_FILTER_FD in the environment) it does nothing.
 *
 * Only libc; no libbulkhead, no libseccomp: it lives inside someone else's
 * program. Failing to install the filter ends the program (fail closed).
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <bulkhead/sandbox.h>

#include "sandbox/sigsys.h"

static int env_fd(const char *name)
{
	const char *v = getenv(name);
	char *end;
	long n;

	if (!v || !*v)
		return -1;
	n = strtol(v, &end, 10);
	return *end == '\0' && n >= 0 && n < 65536 ? (int)n : -1;
}

static void fail(int report, int code, const char *text)
{
	struct bh__record r;

	bh__record_init(&r, BH_RECORD_SETUP_FAILED);
	r.code = code > 0 ? code : EIO;
	r.pid = (int32_t)getpid();
	bh__strlcpy(r.layer, "seccomp", sizeof r.layer);
	bh__strlcpy(r.text, text, sizeof r.text);
	(void)bh__record_write(report, &r);
	_exit(BH_SANDBOX_EXIT_SETUP);
}

/* Removes this library from LD_PRELOAD so that the program sees the environment it was given. */
static void drop_self_from_preload(void)
{
	char *v = getenv("LD_PRELOAD");
	char *colon;

	if (!v)
		return;
	colon = strchr(v, ':');
	if (colon)
		memmove(v, colon + 1, strlen(colon + 1) + 1);
	else
		unsetenv("LD_PRELOAD");
}

__attribute__((constructor)) static void bh_run_preload(void)
{
	int filter = env_fd("BH_RUN_FILTER_FD");
	int report = env_fd("BH_RUN_REPORT_FD");
	struct sock_fprog prog;
	struct bh__record ready;
	struct stat st;
	void *insns;

	if (filter < 0)
		return;
	unsetenv("BH_RUN_FILTER_FD");
	unsetenv("BH_RUN_REPORT_FD");
	drop_self_from_preload();
	if (fstat(filter, &st) < 0 || st.st_size <= 0 || st.st_size % (off_t)sizeof(struct sock_filter) != 0 ||
	    st.st_size > (off_t)(BPF_MAXINSNS * sizeof(struct sock_filter)))
		fail(report, EINVAL, "loader library: bad filter fd");
	insns = malloc((size_t)st.st_size);
	if (!insns || pread(filter, insns, (size_t)st.st_size, 0) != st.st_size)
		fail(report, errno, "loader library: cannot read the filter");
	close(filter);
	prog.len = (unsigned short)(st.st_size / (off_t)sizeof(struct sock_filter));
	prog.filter = insns;
	if (bh__sigsys_install(report) < 0)
		fail(report, errno, "loader library: cannot install the SIGSYS reporter");
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog) != 0)
		fail(report, errno, "loader library: cannot load the profile's filter");
	free(insns);
	bh__record_init(&ready, BH_RECORD_READY);
	ready.pid = (int32_t)getpid();
	(void)bh__record_write(report, &ready);
}
