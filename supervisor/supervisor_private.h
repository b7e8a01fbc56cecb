/* Private pieces shared by the supervisor's files. Not installed. */
#ifndef BH_SUPERVISOR_PRIVATE_H
#define BH_SUPERVISOR_PRIVATE_H

#include <bulkhead/supervisor.h>

/* What the zygote needs to start a worker; lives in the zygote's memory. */
struct bh__spawn_req {
	const bh_worker_spec *spec;
	const bh_registry *reg;
	uint32_t worker_id;
	uint8_t token[BH_TOKEN_SIZE];
	int chan_fd;
	int report_fd;
	const bh_sandbox_prog *prog;
};

/*
 * Runs in a freshly cloned worker: races with the broker's death, enters the
 * sandbox, says Hello, runs the spec's entry point. Never returns.
 */
__attribute__((noreturn)) void bh__worker_run(const bh_sandbox_child *child,
					      const struct bh__spawn_req *req);

/*
 * The zygote's main loop: serves ZygoteSpawn requests on `fd` until EOF.
 * Never returns.
 */
__attribute__((noreturn)) void bh__zygote_main(int fd, const bh_worker_spec *specs, size_t n_specs,
					       const bh_registry *reg, pid_t broker);

/*
 * For fuzz harnesses only: a worker record of spec `type` with no process
 * behind it, its channel on `fd` (taken in every case, closed on failure),
 * so that frames written into the other end of the socket reach the real
 * dispatch (worker_message) on real supervisor state. It has no pidfd: a
 * kill closes the channel and signals nothing. `id` is its worker id (0:
 * the next one, as bh_worker_start() gives; a harness fixes it so that
 * inputs replay the same way).
 * token == NULL: the worker starts READY (pid 0), as after an accepted
 * Hello. Otherwise it starts STARTING and accepts a Hello with `token` sent
 * by `hello_pid` (the kernel's sender pid, normally the caller's own).
 * Returns 0 and the worker in *out (owned by the supervisor), or -errno.
 */
int bh__supervisor_attach_fake(bh_supervisor *sup, const char *type, uint32_t id, int fd,
			       const uint8_t *token, pid_t hello_pid, bh_worker **out);

/*
 * Ends a worker made by bh__supervisor_attach_fake() as if its process had
 * exited (SIGKILL if the broker killed it, else status 0): classified,
 * detached, quota charges forgotten, on_exit called, never restarted.
 * bh_worker_forget() can free it afterwards. -EINVAL for a real worker,
 * -ESRCH if it already ended.
 */
int bh__supervisor_end_fake(bh_worker *w);

/*
 * The file broker's fallback when openat2() is missing (filebroker.c):
 * opens `name` (already vetted: relative, no "..") beneath dirfd with
 * `flags`, refusing symlinks (-ELOOP) and mount crossings (-EXDEV) on the
 * way. Returns an fd or -errno. Exposed so fuzz_filebroker can hold it to
 * openat2()'s answers.
 */
int bh__file_open_beneath_walk(int dirfd, const char *name, int flags);

#endif
