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

#endif
