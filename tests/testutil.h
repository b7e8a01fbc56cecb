/* Helpers shared by the cmocka test programs. Include after cmocka.h. */
#ifndef BH_TESTUTIL_H
#define BH_TESTUTIL_H

#include <stdbool.h>
#include <sys/types.h>

/* Number of open fds in this process (entries of /proc/self/fd). */
int bh_test_count_fds(void);

/* Number of mappings in /proc/self/maps. */
int bh_test_count_maps(void);

/*
 * Forks a child that runs fn(arg) with default signal state and then
 * _exit(0)s. Returns the child's pid (asserts on failure).
 */
pid_t bh_test_fork(void (*fn)(void *arg), void *arg);

/*
 * Waits up to timeout_ms for `pid` to end (pidfd + poll; no busy loop) and
 * reaps it. Returns 0 and the wait status in *status, or -ETIMEDOUT (the
 * child is then SIGKILLed and reaped), or -errno.
 */
int bh_test_wait(pid_t pid, int timeout_ms, int *status);

/* Asserts the child exited with code 0 within timeout_ms. */
void bh_test_wait_ok(pid_t pid, int timeout_ms);

/* Reads exactly len bytes (retrying EINTR and short reads). 0, -EPIPE at EOF, or -errno. */
int bh_test_read_full(int fd, void *buf, size_t len);

/* Occurrences of `needle` in `hay` (non-overlapping). */
unsigned bh_test_count_substr(const char *hay, const char *needle);

/* Removes directory `dir` and everything in it (no symlinks are followed: they are unlinked). */
void bh_test_remove_dir(const char *dir);

/* Kills the whole test program with a message if it runs longer than `secs`. */
void bh_test_deadline(unsigned secs);

/* True if any child of this process is a zombie or alive (for leak checks). */
bool bh_test_have_children(void);

/*
 * Runs the cmocka group `tests` once as the current user and, if the
 * process is root, once more in a forked child that switched to uid/gid
 * 65534 first. Returns non-zero if any run failed.
 */
struct CMUnitTest;
int bh_test_run_as_root_and_user(const char *name, const struct CMUnitTest *tests, size_t n);

#endif
