/*
 * The SIGSYS reporter. Everything here is async-signal-safe: the handler
 * runs on the thread whose system call the seccomp filter refused.
 */
#include "sandbox/sigsys.h"

#include <errno.h>
#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include <bulkhead/sandbox.h>

/*
 * The one piece of global mutable state of the module: a signal handler has
 * no other way to find the fd it reports to. Written before the handler is
 * installed, read only by the handler.
 */
static volatile int bh__sigsys_fd = -1;

void bh__strlcpy(char *dst, const char *src, unsigned long size)
{
	unsigned long i = 0;

	if (size == 0)
		return;
	if (src) {
		for (; i + 1 < size && src[i]; i++)
			dst[i] = src[i];
	}
	for (; i < size; i++)
		dst[i] = '\0';
}

void bh__record_init(struct bh__record *r, unsigned kind)
{
	unsigned char *p = (unsigned char *)r;

	for (size_t i = 0; i < sizeof *r; i++)
		p[i] = 0;
	r->magic = BH__RECORD_MAGIC;
	r->version = BH__RECORD_VERSION;
	r->kind = (uint16_t)kind;
	r->size = sizeof *r;
}

int bh__record_write(int fd, const struct bh__record *r)
{
	ssize_t n;

	if (fd < 0)
		return -EBADF;
	do {
		n = write(fd, r, sizeof *r);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	return n == (ssize_t)sizeof *r ? 0 : -EIO;
}

static void on_sigsys(int sig, siginfo_t *si, void *ucv)
{
	struct bh__record r;
	int saved = errno;

	(void)sig;
	bh__record_init(&r, BH_RECORD_VIOLATION);
	r.code = si->si_syscall;
	r.arch = si->si_arch;
	r.pid = (int32_t)syscall(SYS_getpid);
	r.ip = (uint64_t)(uintptr_t)si->si_call_addr;
#if defined(__x86_64__)
	{
		const ucontext_t *uc = ucv;
		static const int regs[6] = { REG_RDI, REG_RSI, REG_RDX, REG_R10, REG_R8, REG_R9 };

		for (int i = 0; i < 6; i++)
			r.args[i] = (uint64_t)uc->uc_mcontext.gregs[regs[i]];
	}
#elif defined(__aarch64__)
	{
		const ucontext_t *uc = ucv;

		for (int i = 0; i < 6; i++)
			r.args[i] = uc->uc_mcontext.regs[i];
	}
#else
	(void)ucv;
#endif
	(void)bh__record_write(bh__sigsys_fd, &r);
	errno = saved;
	/*
	 * SA_RESETHAND made SIGSYS SIG_DFL on entry. A call no filter allows
	 * now makes the kernel force SIGSYS with the default action: the
	 * process dies by SIGSYS (no core: RLIMIT_CORE is 0 and it is not
	 * dumpable). Returning instead would resume after the refused call.
	 */
	syscall(BH__SYSCALL_DIE);
	/* Not reached unless no filter is loaded; still never resume. */
	_exit(128 + SIGSYS);
}

int bh__sigsys_install(int report_fd)
{
	struct sigaction sa;
	sigset_t set;

	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_sigsys;
	sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	bh__sigsys_fd = report_fd;
	if (sigaction(SIGSYS, &sa, NULL) < 0)
		return -errno;
	sigemptyset(&set);
	sigaddset(&set, SIGSYS);
	if (sigprocmask(SIG_UNBLOCK, &set, NULL) < 0)
		return -errno;
	return 0;
}
