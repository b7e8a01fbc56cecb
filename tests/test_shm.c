/*
 * Shared memory regions and quotas: creation and seals, seals enforced on a
 * peer in another process, every kind of wrong fd refused, no fd or mapping
 * left behind, quota accounting and refusal over a real channel.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bulkhead/shm.h>

#include "bulkhead.pb-c.h"
#include "testutil.h"
#include "test_shm_peer.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif
#ifndef MFD_HUGETLB
#define MFD_HUGETLB 0x0004U
#endif

#define REQUIRED_SEALS (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL)
#define PAGE 4096u

static uint32_t pattern(uint64_t i)
{
	return (uint32_t)(i * 2654435761u) ^ 0x5a5a5a5au;
}

static void fill(void *p, uint64_t size)
{
	uint32_t *w = p;

	for (uint64_t i = 0; i < size / 4; i++)
		w[i] = pattern(i);
}

static bool check_fill(const void *p, uint64_t size)
{
	const uint32_t *w = p;

	for (uint64_t i = 0; i < size / 4; i++) {
		if (w[i] != pattern(i))
			return false;
	}
	return true;
}

/* ---- creation ------------------------------------------------------------ */

static void test_create_basic(void **state)
{
	int fds = bh_test_count_fds();
	struct maps_snapshot maps = maps_snapshot();
	bh_shm_region *r;
	uint8_t *p;

	assert_int_equal(bh_shm_region_create(1 << 20, 0, &r), 0);
	assert_int_equal(bh_shm_region_size(r), 1 << 20);
	assert_true(bh_shm_region_writable(r));
	assert_int_equal(bh_shm_region_seals(r) & REQUIRED_SEALS, REQUIRED_SEALS);
	assert_int_equal(bh_shm_region_seals(r) & F_SEAL_FUTURE_WRITE, 0);
	assert_int_equal(fcntl(bh_shm_region_fd(r), F_GET_SEALS), (int)bh_shm_region_seals(r));
	assert_int_equal(fcntl(bh_shm_region_fd(r), F_GETFD), FD_CLOEXEC);
	p = bh_shm_region_data(r);
	assert_non_null(p);
	for (size_t i = 0; i < (1 << 20); i += PAGE)
		assert_int_equal(p[i], 0);
	fill(p, 1 << 20);
	assert_true(check_fill(p, 1 << 20));
	assert_int_equal(bh_test_count_fds(), fds + 1);
	bh_shm_region_destroy(r);
	bh_shm_region_destroy(NULL);
	assert_int_equal(bh_test_count_fds(), fds);
	assert_true(maps_unchanged(maps));
}

static void test_create_args(void **state)
{
	int fds = bh_test_count_fds();
	bh_shm_region *r = (bh_shm_region *)&r;

	assert_int_equal(bh_shm_region_create(0, 0, &r), -EINVAL);
	assert_int_equal(bh_shm_region_create(BH_SHM_MAX_SIZE + 1, 0, &r), -EFBIG);
	assert_int_equal(bh_shm_region_create(UINT64_MAX, 0, &r), -EFBIG);
	assert_int_equal(bh_shm_region_create(PAGE, 1u << 30, &r), -EINVAL);
	assert_int_equal(bh_shm_region_create(PAGE, BH_SHM_READ_ONLY, &r), -EINVAL);
	assert_int_equal(bh_shm_region_create(PAGE, BH_SHM_NO_MAP | BH_SHM_EXCLUSIVE_WRITER, &r),
			 -EINVAL);
	assert_int_equal(bh_shm_region_create(PAGE, BH_SHM_NO_MAP | BH_SHM_POPULATE, &r), -EINVAL);
	/* Output untouched on failure. */
	assert_ptr_equal(r, (bh_shm_region *)&r);

	assert_int_equal(bh_shm_region_create(PAGE, BH_SHM_NO_MAP, &r), 0);
	assert_null(bh_shm_region_data(r));
	assert_false(bh_shm_region_writable(r));
	bh_shm_region_destroy(r);

	/* An odd size is kept exactly: the receiver checks against it. */
	assert_int_equal(bh_shm_region_create(12345, 0, &r), 0);
	{
		struct stat st;

		assert_int_equal(fstat(bh_shm_region_fd(r), &st), 0);
		assert_int_equal(st.st_size, 12345);
	}
	bh_shm_region_destroy(r);

	assert_int_equal(bh_shm_region_create(PAGE, BH_SHM_EXCLUSIVE_WRITER, &r), 0);
	assert_true(bh_shm_region_seals(r) & F_SEAL_FUTURE_WRITE);
	assert_true(bh_shm_region_writable(r));
	((uint8_t *)bh_shm_region_data(r))[0] = 1; /* the creator's mapping still writes */
	bh_shm_region_destroy(r);
	assert_int_equal(bh_test_count_fds(), fds);
}

/* ---- seals against a hostile peer, in two processes ------------------------ */

#define ATTACK_SIZE (4u << 20)

/*
 * The producer sends its region, waits until the consumer has mapped it,
 * then tries everything that would pull pages out from under that mapping.
 */
static void attacker(void *arg)
{
	int sock = ((int *)arg)[0], fd, fd2;
	bh_shm_region *r;
	unsigned seals;
	char path[64], go;

	close(((int *)arg)[1]);
	CHILD_CHECK_EQ(bh_shm_region_create(ATTACK_SIZE, 0, &r), 0);
	fill(bh_shm_region_data(r), ATTACK_SIZE);
	fd = bh_shm_region_fd(r);
	seals = bh_shm_region_seals(r);
	CHILD_CHECK_EQ(send_fd(sock, fd), 0);
	CHILD_CHECK_EQ(read(sock, &go, 1), 1);

	CHILD_CHECK_EQ(ftruncate(fd, 0), -1);
	CHILD_CHECK_EQ(errno, EPERM);
	CHILD_CHECK_EQ(ftruncate(fd, ATTACK_SIZE / 2), -1);
	CHILD_CHECK_EQ(errno, EPERM);
	CHILD_CHECK_EQ(ftruncate(fd, ATTACK_SIZE * 2), -1);
	CHILD_CHECK_EQ(errno, EPERM);
	CHILD_CHECK_EQ(fallocate(fd, 0, ATTACK_SIZE, PAGE), -1);
	CHILD_CHECK_EQ(errno, EPERM);
	CHILD_CHECK_EQ(pwrite(fd, "x", 1, ATTACK_SIZE), -1);
	CHILD_CHECK_EQ(errno, EPERM);
	/* With F_SEAL_SEAL no seal can be added, and none can ever be removed. */
	CHILD_CHECK_EQ(fcntl(fd, F_ADD_SEALS, 0), -1);
	CHILD_CHECK_EQ(errno, EPERM);
	CHILD_CHECK_EQ(fcntl(fd, F_ADD_SEALS, F_SEAL_WRITE), -1);
	CHILD_CHECK_EQ(errno, EPERM);
	CHILD_CHECK_EQ(fcntl(fd, F_GET_SEALS), seals);
	/* Seals belong to the file, not the fd: a fresh open file description has them too. */
	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	fd2 = open(path, O_RDWR | O_CLOEXEC);
	CHILD_CHECK(fd2 >= 0);
	CHILD_CHECK_EQ(fcntl(fd2, F_GET_SEALS), seals);
	CHILD_CHECK_EQ(ftruncate(fd2, 0), -1);
	CHILD_CHECK_EQ(errno, EPERM);
	close(fd2);
	/* Punching holes is allowed: they read back as zeros, never SIGBUS. */
	CHILD_CHECK_EQ(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, PAGE), 0);
	bh_shm_region_destroy(r);
	close(sock);
}

static void test_seals_enforced_on_peer(void **state)
{
	int fds = bh_test_count_fds(), sv[2], fd;
	struct maps_snapshot maps = maps_snapshot();
	bh_shm_region *r;
	const uint8_t *p;
	pid_t pid;

	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	pid = bh_test_fork(attacker, (int[2]){ sv[1], sv[0] });
	close(sv[1]);
	fd = recv_fd(sv[0]);
	assert_true(fd >= 0);
	assert_int_equal(bh_shm_region_import(fd, ATTACK_SIZE, BH_SHM_READ_ONLY, &r), 0);
	assert_false(bh_shm_region_writable(r));
	assert_int_equal(write(sv[0], "g", 1), 1);
	bh_test_wait_ok(pid, 10000);
	close(sv[0]);
	/* Every page is still there after the attacks; the first was punched to zeros. */
	p = bh_shm_region_data(r);
	for (size_t i = 0; i < PAGE; i++)
		assert_int_equal(p[i], 0);
	for (uint64_t i = PAGE / 4; i < ATTACK_SIZE / 4; i++) {
		if (((const uint32_t *)p)[i] != pattern(i))
			fail_msg("word %llu changed", (unsigned long long)i);
	}
	bh_shm_region_destroy(r);
	assert_int_equal(bh_test_count_fds(), fds);
	assert_true(maps_unchanged(maps));
	assert_false(bh_test_have_children());
}

/* ---- read-only mappings --------------------------------------------------- */

static void on_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	_exit(si->si_code == SEGV_ACCERR ? 42 : 43);
}

static void write_through_ro(void *arg)
{
	int fd = dup(*(int *)arg);
	struct sigaction sa;
	bh_shm_region *r;
	volatile uint8_t *p;

	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(bh_shm_region_import(fd, PAGE, BH_SHM_READ_ONLY, &r), 0);
	p = bh_shm_region_data(r);
	CHILD_CHECK_EQ(p[0], 7);
	memset(&sa, 0, sizeof sa);
	sa.sa_sigaction = on_segv;
	sa.sa_flags = SA_SIGINFO;
	CHILD_CHECK_EQ(sigaction(SIGSEGV, &sa, NULL), 0);
	p[0] = 1;
	_exit(4); /* the write went through */
}

static void test_ro_mapping_write_faults(void **state)
{
	bh_shm_region *r;
	int status = 0, fd;
	pid_t pid;

	assert_int_equal(bh_shm_region_create(PAGE, 0, &r), 0);
	((uint8_t *)bh_shm_region_data(r))[0] = 7;
	fd = bh_shm_region_fd(r);
	pid = bh_test_fork(write_through_ro, &fd);
	assert_int_equal(bh_test_wait(pid, 10000, &status), 0);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 42);
	assert_int_equal(((uint8_t *)bh_shm_region_data(r))[0], 7);
	bh_shm_region_destroy(r);
}

/* A consumer given an O_RDWR fd of an exclusive-writer region still cannot write. */
static void exclusive_consumer(void *arg)
{
	int sock = ((int *)arg)[0], fd;
	bh_shm_region *r;
	void *p;

	close(((int *)arg)[1]);
	fd = recv_fd(sock);
	CHILD_CHECK(fd >= 0);
	CHILD_CHECK_EQ(fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
	CHILD_CHECK(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) == MAP_FAILED);
	CHILD_CHECK_EQ(errno, EPERM);
	CHILD_CHECK_EQ(pwrite(fd, "x", 1, 0), -1);
	CHILD_CHECK_EQ(errno, EPERM);
	CHILD_CHECK_EQ(bh_shm_fd_check(fd, PAGE, 0), -EROFS);
	CHILD_CHECK_EQ(bh_shm_region_import(fd, PAGE, BH_SHM_READ_ONLY, &r), 0);
	p = bh_shm_region_data(r);
	CHILD_CHECK(check_fill(p, PAGE));
	/* The kernel refuses to upgrade the read-only mapping. */
	CHILD_CHECK_EQ(mprotect(p, PAGE, PROT_READ | PROT_WRITE), -1);
	CHILD_CHECK_EQ(errno, EACCES);
	bh_shm_region_destroy(r);
	close(sock);
}

static void test_exclusive_writer(void **state)
{
	int fds = bh_test_count_fds(), sv[2];
	bh_shm_region *r;
	pid_t pid;

	assert_int_equal(bh_shm_region_create(PAGE, BH_SHM_EXCLUSIVE_WRITER, &r), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	pid = bh_test_fork(exclusive_consumer, (int[2]){ sv[1], sv[0] });
	close(sv[1]);
	/* Written after the seal: the creator's own mapping is the exception. */
	fill(bh_shm_region_data(r), PAGE);
	assert_int_equal(send_fd(sv[0], bh_shm_region_fd(r)), 0);
	bh_test_wait_ok(pid, 10000);
	close(sv[0]);
	bh_shm_region_destroy(r);
	assert_int_equal(bh_test_count_fds(), fds);
}

static void test_open_readonly(void **state)
{
	int fds = bh_test_count_fds(), ro, fd2;
	struct maps_snapshot maps = maps_snapshot();
	bh_shm_region *r, *c;
	void *p;

	assert_int_equal(bh_shm_region_create(2 * PAGE, 0, &r), 0);
	fill(bh_shm_region_data(r), 2 * PAGE);
	assert_int_equal(bh_shm_region_open_readonly(r, &ro), 0);
	assert_int_equal(fcntl(ro, F_GETFL) & O_ACCMODE, O_RDONLY);
	assert_int_equal(fcntl(ro, F_GETFD), FD_CLOEXEC);
	assert_true(mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, ro, 0) == MAP_FAILED);
	assert_int_equal(errno, EACCES);
	assert_int_equal(bh_shm_fd_check(ro, 2 * PAGE, 0), -EACCES);
	fd2 = dup(ro);
	assert_true(fd2 >= 0);
	assert_int_equal(bh_shm_region_import(fd2, 2 * PAGE, 0, &c), -EACCES);
	assert_int_equal(bh_shm_region_import(ro, 2 * PAGE, BH_SHM_READ_ONLY, &c), 0);
	p = bh_shm_region_data(c);
	assert_true(check_fill(p, 2 * PAGE));
	assert_int_equal(mprotect(p, PAGE, PROT_READ | PROT_WRITE), -1);
	assert_int_equal(errno, EACCES);
	/* Writes by the owner show through the read-only view at once. */
	((uint32_t *)bh_shm_region_data(r))[5] = 0xdeadbeef;
	assert_int_equal(((const uint32_t *)p)[5], 0xdeadbeef);
	bh_shm_region_destroy(c);
	bh_shm_region_destroy(r);
	assert_int_equal(bh_test_count_fds(), fds);
	assert_true(maps_unchanged(maps));
}

/* ---- wrong fds ------------------------------------------------------------ */

struct bad_fd {
	const char *name;
	int (*make)(uint64_t *claim); /* returns the fd or -1 to skip the case */
	unsigned flags;
	int want;
};

static int sealed_memfd(uint64_t size, unsigned mfd_flags, int seals)
{
	int fd = memfd_create("test", MFD_CLOEXEC | mfd_flags);

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, (off_t)size), 0);
	if (seals)
		assert_int_equal(fcntl(fd, F_ADD_SEALS, seals), 0);
	return fd;
}

static int make_pipe(uint64_t *claim)
{
	int p[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	close(p[1]);
	*claim = PAGE;
	return p[0];
}

static int make_socket(uint64_t *claim)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
	close(sv[1]);
	*claim = PAGE;
	return sv[0];
}

static int make_devnull(uint64_t *claim)
{
	*claim = PAGE;
	return open("/dev/null", O_RDWR | O_CLOEXEC);
}

static int make_dir(uint64_t *claim)
{
	*claim = PAGE;
	return open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

/* The test program itself: a regular file on a disk filesystem. */
static int make_disk_file(uint64_t *claim)
{
	struct statfs sfs;
	int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(fstatfs(fd, &sfs), 0);
	if (sfs.f_type == TMPFS_MAGIC) {
		close(fd);
		return -1;
	}
	*claim = PAGE;
	return fd;
}

/* A plain tmpfs file (/dev/shm): shmem, but created without sealing. */
static int make_tmpfs_file(uint64_t *claim)
{
	int fd = open("/dev/shm", O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);

	if (fd < 0)
		return -1;
	assert_int_equal(ftruncate(fd, PAGE), 0);
	*claim = PAGE;
	return fd;
}

static int make_unsealed(uint64_t *claim)
{
	*claim = PAGE;
	return sealed_memfd(PAGE, MFD_ALLOW_SEALING, 0);
}

static int make_not_sealable(uint64_t *claim)
{
	*claim = PAGE;
	return sealed_memfd(PAGE, 0, 0);
}

static int make_no_seal_seal(uint64_t *claim)
{
	*claim = PAGE;
	return sealed_memfd(PAGE, MFD_ALLOW_SEALING, F_SEAL_SHRINK | F_SEAL_GROW);
}

static int make_no_shrink_seal(uint64_t *claim)
{
	*claim = PAGE;
	return sealed_memfd(PAGE, MFD_ALLOW_SEALING, F_SEAL_GROW | F_SEAL_SEAL);
}

static int make_no_grow_seal(uint64_t *claim)
{
	*claim = PAGE;
	return sealed_memfd(PAGE, MFD_ALLOW_SEALING, F_SEAL_SHRINK | F_SEAL_SEAL);
}

static int make_too_small(uint64_t *claim)
{
	*claim = 2 * PAGE;
	return sealed_memfd(PAGE + 1, MFD_ALLOW_SEALING, REQUIRED_SEALS);
}

static int make_claim_u64_max(uint64_t *claim)
{
	*claim = UINT64_MAX;
	return sealed_memfd(PAGE, MFD_ALLOW_SEALING, REQUIRED_SEALS);
}

static int make_claim_above_max(uint64_t *claim)
{
	*claim = BH_SHM_MAX_SIZE + 1;
	return sealed_memfd(PAGE, MFD_ALLOW_SEALING, REQUIRED_SEALS);
}

static int make_claim_zero(uint64_t *claim)
{
	*claim = 0;
	return sealed_memfd(PAGE, MFD_ALLOW_SEALING, REQUIRED_SEALS);
}

/* A sparse memfd larger than any region may be, claiming a modest size. */
static int make_file_above_max(uint64_t *claim)
{
	*claim = PAGE;
	return sealed_memfd(BH_SHM_MAX_SIZE * 2, MFD_ALLOW_SEALING, REQUIRED_SEALS);
}

static int make_hugetlb(uint64_t *claim)
{
	int fd = memfd_create("test", MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_HUGETLB);

	if (fd < 0)
		return -1;
	if (ftruncate(fd, 2 << 20) < 0 || fcntl(fd, F_ADD_SEALS, REQUIRED_SEALS) < 0) {
		close(fd);
		return -1;
	}
	*claim = 2 << 20;
	return fd;
}

static int reopen(int fd, int how)
{
	char path[64];
	int r;

	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	r = open(path, how | O_CLOEXEC);
	assert_true(r >= 0);
	close(fd);
	return r;
}

static int make_opath(uint64_t *claim)
{
	*claim = PAGE;
	return reopen(sealed_memfd(PAGE, MFD_ALLOW_SEALING, REQUIRED_SEALS), O_PATH);
}

static int make_wronly(uint64_t *claim)
{
	*claim = PAGE;
	return reopen(sealed_memfd(PAGE, MFD_ALLOW_SEALING, REQUIRED_SEALS), O_WRONLY);
}

static int make_rdonly(uint64_t *claim)
{
	*claim = PAGE;
	return reopen(sealed_memfd(PAGE, MFD_ALLOW_SEALING, REQUIRED_SEALS), O_RDONLY);
}

static int make_write_sealed(uint64_t *claim)
{
	*claim = PAGE;
	return sealed_memfd(PAGE, MFD_ALLOW_SEALING, REQUIRED_SEALS | F_SEAL_WRITE);
}

static int make_future_write_sealed(uint64_t *claim)
{
	*claim = PAGE;
	return sealed_memfd(PAGE, MFD_ALLOW_SEALING, REQUIRED_SEALS | F_SEAL_FUTURE_WRITE);
}

static int make_closed(uint64_t *claim)
{
	int fd = sealed_memfd(PAGE, MFD_ALLOW_SEALING, REQUIRED_SEALS);

	/* A number that was an fd a moment ago and is not any more. */
	close(fd);
	*claim = PAGE;
	return fd;
}

static const struct bad_fd bad_fds[] = {
	{ "pipe", make_pipe, BH_SHM_READ_ONLY, -ENODEV },
	{ "socket", make_socket, BH_SHM_READ_ONLY, -ENODEV },
	{ "/dev/null", make_devnull, BH_SHM_READ_ONLY, -ENODEV },
	{ "directory", make_dir, BH_SHM_READ_ONLY, -ENODEV },
	{ "regular file on disk", make_disk_file, BH_SHM_READ_ONLY, -EMEDIUMTYPE },
	{ "tmpfs file", make_tmpfs_file, BH_SHM_READ_ONLY, -EPERM },
	{ "hugetlb memfd", make_hugetlb, BH_SHM_READ_ONLY, -EMEDIUMTYPE },
	{ "unsealed memfd", make_unsealed, BH_SHM_READ_ONLY, -EPERM },
	{ "memfd without sealing", make_not_sealable, BH_SHM_READ_ONLY, -EPERM },
	{ "memfd without F_SEAL_SEAL", make_no_seal_seal, BH_SHM_READ_ONLY, -EPERM },
	{ "memfd without F_SEAL_SHRINK", make_no_shrink_seal, BH_SHM_READ_ONLY, -EPERM },
	{ "memfd without F_SEAL_GROW", make_no_grow_seal, BH_SHM_READ_ONLY, -EPERM },
	{ "memfd too small", make_too_small, BH_SHM_READ_ONLY, -EMSGSIZE },
	{ "claimed size UINT64_MAX", make_claim_u64_max, BH_SHM_READ_ONLY, -EFBIG },
	{ "claimed size above the limit", make_claim_above_max, BH_SHM_READ_ONLY, -EFBIG },
	{ "claimed size zero", make_claim_zero, BH_SHM_READ_ONLY, -EINVAL },
	{ "memfd above the limit", make_file_above_max, BH_SHM_READ_ONLY, -EFBIG },
	{ "O_PATH fd", make_opath, BH_SHM_READ_ONLY, -EACCES },
	{ "write-only fd", make_wronly, BH_SHM_READ_ONLY, -EACCES },
	{ "read-only fd mapped read-write", make_rdonly, 0, -EACCES },
	{ "write-sealed mapped read-write", make_write_sealed, 0, -EROFS },
	{ "future-write-sealed mapped read-write", make_future_write_sealed, 0, -EROFS },
	{ "closed fd", make_closed, BH_SHM_READ_ONLY, -EBADF },
	{ "unknown flag", make_rdonly, 1u << 20, -EINVAL },
};

static void test_reject_wrong_fds(void **state)
{
	int fds = bh_test_count_fds();
	struct maps_snapshot maps = maps_snapshot();

	for (size_t i = 0; i < sizeof bad_fds / sizeof bad_fds[0]; i++) {
		const struct bad_fd *c = &bad_fds[i];
		bh_shm_region *r = NULL;
		uint64_t claim = 0;
		int fd = c->make(&claim), got;

		if (fd < 0) {
			print_message("[  SKIP    ] %s: not available here\n", c->name);
			continue;
		}
		got = bh_shm_fd_check(fd, claim, c->flags);
		if (got != c->want)
			fail_msg("%s: bh_shm_fd_check() = %d (%s), want %d", c->name, got,
				 bh_shm_strerror(got), c->want);
		/* Import takes the fd and closes it on refusal. */
		got = bh_shm_region_import(fd, claim, c->flags, &r);
		if (got != c->want)
			fail_msg("%s: import = %d, want %d", c->name, got, c->want);
		assert_null(r);
		assert_true(bh_shm_is_bad_message(got));
		assert_string_not_equal(bh_shm_strerror(got), "unexpected error");
		if (bh_test_count_fds() != fds)
			fail_msg("%s: fd leaked", c->name);
	}
	/* No fd at all. */
	{
		bh_shm_region *r = NULL;

		assert_int_equal(bh_shm_region_import(-1, PAGE, BH_SHM_READ_ONLY, &r), -EBADF);
		assert_null(r);
	}
	assert_int_equal(bh_test_count_fds(), fds);
	assert_true(maps_unchanged(maps));
}

static void test_import_accepts_larger_file(void **state)
{
	int fd = sealed_memfd(4 * PAGE, MFD_ALLOW_SEALING, REQUIRED_SEALS);
	bh_shm_region *r;

	/* Only what the message claims is mapped. */
	assert_int_equal(bh_shm_region_import(fd, PAGE, BH_SHM_READ_ONLY, &r), 0);
	assert_int_equal(bh_shm_region_size(r), PAGE);
	assert_int_equal(bh_shm_region_fd(r), fd);
	bh_shm_region_destroy(r);
	fd = sealed_memfd(PAGE, MFD_ALLOW_SEALING, REQUIRED_SEALS);
	assert_int_equal(bh_shm_region_import(fd, PAGE, BH_SHM_NO_MAP, &r), 0);
	assert_null(bh_shm_region_data(r));
	bh_shm_region_destroy(r);
}

/* ---- no leaks over many regions ----------------------------------------------- */

static void test_many_regions(void **state)
{
	int fds = bh_test_count_fds();
	struct maps_snapshot maps = maps_snapshot();

	for (int i = 0; i < 10000; i++) {
		bh_shm_region *r, *c;
		int fd;

		assert_int_equal(bh_shm_region_create(64 * 1024, 0, &r), 0);
		((volatile uint8_t *)bh_shm_region_data(r))[i % (64 * 1024)] = (uint8_t)i;
		fd = dup(bh_shm_region_fd(r));
		assert_true(fd >= 0);
		assert_int_equal(bh_shm_region_import(fd, 64 * 1024, BH_SHM_READ_ONLY, &c), 0);
		assert_int_equal(((const uint8_t *)bh_shm_region_data(c))[i % (64 * 1024)],
				 (uint8_t)i);
		if (i == 0) /* the counter does see regions */
			assert_int_equal(count_memfd_maps(), maps.memfd + 2);
		bh_shm_region_destroy(c);
		bh_shm_region_destroy(r);
	}
	assert_int_equal(bh_test_count_fds(), fds);
	assert_true(maps_unchanged(maps));
}

/* ---- quotas ---------------------------------------------------------------- */

static void test_quota_accounting(void **state)
{
	bh_quota_limits small = { .max_bytes = 3 << 20, .max_regions = 2 };
	uint32_t a, b, c, d;
	uint64_t bytes;
	unsigned regions;
	bh_quota *q;

	assert_int_equal(bh_quota_create(NULL, &q), 0);
	assert_int_equal(bh_quota_charge(q, 1, NULL, 200 << 20, &a), 0);
	assert_int_not_equal(a, 0);
	assert_int_equal(bh_quota_charge(q, 1, NULL, 56 << 20, &b), 0);
	assert_int_not_equal(a, b);
	/* Exactly at the default cap; one more byte is refused and nothing is charged. */
	assert_int_equal(bh_quota_charge(q, 1, NULL, 1, &c), -EDQUOT);
	bh_quota_usage(q, 1, &bytes, &regions);
	assert_int_equal(bytes, BH_QUOTA_DEFAULT_BYTES);
	assert_int_equal(regions, 2);
	/* Another worker has its own account. */
	assert_int_equal(bh_quota_charge(q, 2, NULL, 1 << 20, &c), 0);
	assert_int_equal(bh_quota_uncharge(q, 1, a), 0);
	assert_int_equal(bh_quota_uncharge(q, 1, a), -ENOENT);
	assert_int_equal(bh_quota_uncharge(q, 9, a), -ENOENT);
	bh_quota_usage(q, 1, &bytes, &regions);
	assert_int_equal(bytes, 56 << 20);
	assert_int_equal(regions, 1);
	/* Overflowing the byte count is refused, not wrapped. */
	assert_int_equal(bh_quota_charge(q, 1, NULL, UINT64_MAX, &d), -EDQUOT);
	assert_int_equal(bh_quota_charge(q, 1, NULL, 0, &d), -EINVAL);

	/* Per-type limits, bytes and region count. */
	assert_int_equal(bh_quota_set_type_limits(q, "renderer", &small), 0);
	assert_int_equal(bh_quota_charge(q, 3, "renderer", 4 << 20, &d), -EDQUOT);
	assert_int_equal(bh_quota_charge(q, 3, "renderer", 1 << 20, &d), 0);
	assert_int_equal(bh_quota_charge(q, 3, "renderer", 1 << 20, &d), 0);
	assert_int_equal(bh_quota_charge(q, 3, "renderer", 1 << 20, &d), -EDQUOT);
	small.max_regions = 3;
	assert_int_equal(bh_quota_set_type_limits(q, "renderer", &small), 0);
	assert_int_equal(bh_quota_charge(q, 3, "renderer", 1 << 20, &d), 0);
	assert_int_equal(bh_quota_charge(q, 3, "renderer", 1, &d), -EDQUOT);
	/* Other types still get the defaults. */
	assert_int_equal(bh_quota_charge(q, 4, "gpu", 100 << 20, &d), 0);

	bh_quota_forget_worker(q, 3);
	bh_quota_forget_worker(q, 3);
	bh_quota_usage(q, 3, &bytes, &regions);
	assert_int_equal(bytes, 0);
	assert_int_equal(regions, 0);
	assert_int_equal(bh_quota_charge(q, 3, "renderer", 3 << 20, &d), 0);
	bh_quota_usage(q, 2, &bytes, NULL);
	assert_int_equal(bytes, 1 << 20);
	assert_int_equal(bh_quota_set_type_limits(q, NULL, &small), -EINVAL);
	bh_quota_destroy(q);
	bh_quota_destroy(NULL);
}

/* A worker asks the broker for regions over a real channel until it is refused. */
struct alloc_step {
	uint64_t size;
	int want; /* 0 or the negated Error code */
};

static const struct alloc_step alloc_steps[] = {
	{ 1 << 20, 0 },
	{ 2 << 20, 0 },
	{ 1 << 20, -EDQUOT }, /* 3 MiB already held */
	{ 0, -EINVAL },
	{ BH_SHM_MAX_SIZE + 1, -EFBIG },
	{ 4096, -EDQUOT },
};

struct worker_ctx {
	struct peer peer;
	unsigned step;
	bh_shm_region *held[8];
	unsigned nheld;
	int failed;
};

static void worker_next(struct worker_ctx *w);

static void worker_on_reply(bh_channel *ch, int status, bh_msg *reply, void *ud)
{
	struct worker_ctx *w = ud;
	const struct alloc_step *s = &alloc_steps[w->step];

	(void)ch;
	CHILD_CHECK_EQ(status, s->want);
	if (status == 0) {
		bh_shm_region *r;
		uint32_t id = 0;
		uint8_t *p;

		CHILD_CHECK_EQ(bh_shm_region_from_reply(reply, 0, &r, &id), 0);
		CHILD_CHECK(id != 0);
		CHILD_CHECK_EQ(bh_shm_region_size(r), s->size);
		CHILD_CHECK_EQ(bh_shm_region_seals(r) & REQUIRED_SEALS, REQUIRED_SEALS);
		p = bh_shm_region_data(r);
		memset(p, 0xab, (size_t)s->size);
		w->held[w->nheld++] = r;
	} else {
		const Bh__Error *e;

		CHILD_CHECK_EQ(bh_msg_type(reply), BH_MSG_ERROR);
		e = (const Bh__Error *)bh_msg_body(reply);
		CHILD_CHECK_EQ(e->code, -s->want);
		CHILD_CHECK(e->text && e->text[0]);
		if (s->want == -EDQUOT)
			CHILD_CHECK(strstr(e->text, "quota") != NULL);
	}
	w->step++;
	worker_next(w);
}

static void worker_next(struct worker_ctx *w)
{
	if (w->step == sizeof alloc_steps / sizeof alloc_steps[0]) {
		bh_loop_quit(w->peer.loop, 0);
		return;
	}
	CHILD_CHECK_EQ(bh_shm_request(w->peer.ch, alloc_steps[w->step].size, 5000,
				      worker_on_reply, w), 0);
}

static void worker_on_message(struct peer *p, bh_msg *msg)
{
	(void)msg;
	CHILD_CHECK(!"unexpected message");
	(void)p;
}

static void quota_worker(void *arg)
{
	struct worker_ctx w;

	memset(&w, 0, sizeof w);
	close(((int *)arg)[1]);
	CHILD_CHECK_EQ(peer_init(&w.peer, ((int *)arg)[0], worker_on_message, &w), 0);
	worker_next(&w);
	CHILD_CHECK_EQ(peer_run(&w.peer, 10000), 0);
	CHILD_CHECK_EQ(w.nheld, 2);
	for (unsigned i = 0; i < w.nheld; i++)
		bh_shm_region_destroy(w.held[i]);
	peer_fini(&w.peer);
}

struct broker_ctx {
	bh_quota *q;
	int results[8];
	unsigned n;
};

static void broker_on_message(struct peer *p, bh_msg *msg)
{
	struct broker_ctx *b = p->ctx;
	int r = bh_quota_handle_alloc(b->q, p->ch, msg, 42, "renderer");

	if (r == -EBADMSG) {
		bh_channel_bad_message(p->ch, bh_shm_strerror(r));
		return;
	}
	if (b->n < 8)
		b->results[b->n++] = r;
}

static void test_quota_over_channel(void **state)
{
	bh_quota_limits lim = { .max_bytes = 3 << 20, .max_regions = 4 };
	int fds = bh_test_count_fds(), sv[2];
	struct broker_ctx b = { 0 };
	struct peer broker;
	uint64_t bytes;
	unsigned regions;
	pid_t pid;

	assert_int_equal(bh_quota_create(NULL, &b.q), 0);
	assert_int_equal(bh_quota_set_type_limits(b.q, "renderer", &lim), 0);
	assert_int_equal(bh_channel_socketpair(sv), 0);
	pid = bh_test_fork(quota_worker, (int[2]){ sv[1], sv[0] });
	close(sv[1]);
	assert_int_equal(peer_init(&broker, sv[0], broker_on_message, &b), 0);
	/* Runs until the worker exits and its end closes. */
	if (peer_run(&broker, 10000) != 1)
		fail_msg("broker: bad message %d (%s)", broker.bad_reason, broker.bad_detail);
	assert_int_equal(broker.bad_reason, 0);
	bh_test_wait_ok(pid, 10000);
	assert_int_equal(b.n, sizeof alloc_steps / sizeof alloc_steps[0]);
	for (unsigned i = 0; i < b.n; i++)
		assert_int_equal(b.results[i], alloc_steps[i].want);
	bh_quota_usage(b.q, 42, &bytes, &regions);
	assert_int_equal(bytes, 3 << 20);
	assert_int_equal(regions, 2);
	/* The worker went away: its account is cleared. */
	bh_quota_forget_worker(b.q, 42);
	bh_quota_usage(b.q, 42, &bytes, &regions);
	assert_int_equal(bytes, 0);
	peer_fini(&broker);
	bh_quota_destroy(b.q);
	assert_int_equal(bh_test_count_fds(), fds);
	assert_false(bh_test_have_children());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_create_basic),
		cmocka_unit_test(test_create_args),
		cmocka_unit_test(test_seals_enforced_on_peer),
		cmocka_unit_test(test_ro_mapping_write_faults),
		cmocka_unit_test(test_exclusive_writer),
		cmocka_unit_test(test_open_readonly),
		cmocka_unit_test(test_reject_wrong_fds),
		cmocka_unit_test(test_import_accepts_larger_file),
		cmocka_unit_test(test_many_regions),
		cmocka_unit_test(test_quota_accounting),
		cmocka_unit_test(test_quota_over_channel),
	};

	bh_test_deadline(240);
	return bh_test_run_as_root_and_user("shm", tests, sizeof tests / sizeof tests[0]);
}
