/*
 * checksum: prints the SHA-256 of files, like sha256sum, except that the
 * bytes are hashed by sandboxed worker processes that cannot open a file,
 * reach the network or see any other process.
 *
 *   checksum [-j WORKERS] [-v] [--misbehave] [--print-profile] FILE...
 *
 * This process is the broker. It starts a pool of "hasher" workers under a
 * profile derived from bulkhead's "utility" one, then for each file: reads
 * it into a sealed shared-memory region, sends a Job naming the region to an
 * idle worker, and collects the Result. A worker that crashes or is killed
 * by its sandbox is restarted (with backoff, up to a crash-loop limit) and
 * the job it held goes to the next ready worker.
 *
 * --misbehave makes the first job ask its worker to open a socket, as a
 * compromised worker would: the sandbox kills it, the supervisor reports the
 * system call and restarts it, and the output is still right.
 *
 * docs/GUIDE.md explains this file step by step.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "checksum.h"
#include "sha256.h"

#define MAX_WORKERS 16
#define MAX_ATTEMPTS 3 /* a file whose worker dies this often is given up */

enum job_state { JOB_PENDING, JOB_RUNNING, JOB_DONE, JOB_FAILED };

struct job {
	const char *path;
	enum job_state state;
	bh_shm_region *region; /* the file's bytes, from first dispatch to result */
	uint64_t length;
	unsigned attempts;
	int err;               /* JOB_FAILED: positive errno */
	const char *why;       /* JOB_FAILED: text instead of strerror(err), or NULL */
	uint8_t digest[SHA256_DIGEST_SIZE];
};

struct app {
	bh_loop *loop;
	bh_supervisor *sup;
	struct job *jobs;
	size_t njobs, finished;
	unsigned workers_alive;
	bool misbehave; /* still to be sent with the next job */
	bool stopping;
	int verbose;
	int exit_code;
};

/* ---- the custom sandbox profile ---------------------------------------------- */

/*
 * "checksum" = "utility" plus one system call, with tighter limits. A
 * derived profile can only widen the system call policy (so each addition
 * is visible in its own line with its reason) and tune layers and limits.
 */
static int make_profile(bh_profile **out)
{
	static const bh_syscall_rule sequential = {
		.syscall = "madvise",
		.action = BH_RULE_ALLOW,
		.nargs = 1,
		.args = { { .arg = 2, .op = BH_CMP_EQ, .value = MADV_SEQUENTIAL } },
		.why = "tell the kernel a region is read once, front to back",
	};
	const bh_profile *utility;
	bh_profile *p;
	char msg[160];
	int r;

	r = bh_profile_lookup("utility", &utility);
	if (r < 0) {
		bh_profile_lookup_error("utility", msg, sizeof msg);
		fprintf(stderr, "checksum: %s\n", msg);
		return r;
	}
	r = bh_profile_derive(utility, "checksum", &p);
	if (r < 0)
		return r;
	r = bh_profile_add_rule(p, &sequential);
	/* Channel, report pipe, status fd, the loop's fds and one region at a time. */
	if (r == 0)
		r = bh_profile_set_rlimit(p, RLIMIT_NOFILE, 16);
	/* It writes no file, not even a scratch memfd. */
	if (r == 0)
		r = bh_profile_set_rlimit(p, RLIMIT_FSIZE, 0);
	if (r < 0) {
		bh_profile_destroy(p);
		return r;
	}
	*out = p;
	return 0;
}

/* ---- jobs -------------------------------------------------------------------- */

static struct job *next_pending(struct app *app)
{
	for (size_t i = 0; i < app->njobs; i++) {
		if (app->jobs[i].state == JOB_PENDING)
			return &app->jobs[i];
	}
	return NULL;
}

/*
 * Reads the file into a new region. BH_SHM_EXCLUSIVE_WRITER: our mapping is
 * the only one that can ever write it, so the worker can only map it
 * read-only and cannot change the bytes under us.
 */
static int load(struct job *job)
{
	struct stat st;
	uint8_t *data;
	uint64_t got = 0;
	int fd, r;

	fd = open(job->path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		goto out;
	}
	if (S_ISDIR(st.st_mode)) {
		r = -EISDIR;
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		r = -EINVAL; /* pipes and devices have no size to map */
		goto out;
	}
	if ((uint64_t)st.st_size > BH_SHM_MAX_SIZE) {
		r = -EFBIG;
		goto out;
	}
	/* A region is never empty; an empty file is a 1-byte region with length 0. */
	r = bh_shm_region_create(st.st_size > 0 ? (uint64_t)st.st_size : 1, BH_SHM_EXCLUSIVE_WRITER,
				 &job->region);
	if (r < 0)
		goto out;
	data = bh_shm_region_data(job->region);
	while (got < (uint64_t)st.st_size) {
		ssize_t n = read(fd, data + got, (size_t)((uint64_t)st.st_size - got));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			r = -errno;
			bh_shm_region_destroy(job->region);
			job->region = NULL;
			goto out;
		}
		if (n == 0)
			break; /* the file shrank meanwhile: hash what was there */
		got += (uint64_t)n;
	}
	job->length = got;
	r = 0;
out:
	close(fd);
	return r;
}

static void job_fail(struct app *app, struct job *job, int err, const char *why)
{
	bh_shm_region_destroy(job->region);
	job->region = NULL;
	job->state = JOB_FAILED;
	job->err = err;
	job->why = why;
	app->finished++;
}

static void shutdown_done(bh_supervisor *sup, void *userdata)
{
	struct app *app = userdata;

	(void)sup;
	bh_loop_quit(app->loop, 0);
}

/* Stops the workers gracefully once every file is done. */
static void maybe_finish(struct app *app)
{
	if (app->finished < app->njobs || app->stopping)
		return;
	app->stopping = true;
	if (bh_supervisor_shutdown(app->sup, shutdown_done, app) < 0)
		bh_loop_quit(app->loop, 0);
}

/* Gives `w` the next pending file, if it is ready and idle. */
static void dispatch(struct app *app, bh_worker *w)
{
	Checksum__Job msg = CHECKSUM__JOB__INIT;
	struct job *job;
	int fd, r;

	if (app->stopping || !bh_worker_is_ready(w) || bh_worker_userdata(w))
		return;
	for (;;) {
		job = next_pending(app);
		if (!job) {
			maybe_finish(app);
			return;
		}
		r = job->region ? 0 : load(job);
		if (r == 0) {
			msg.job_id = (uint32_t)(job - app->jobs);
			msg.region_size = bh_shm_region_size(job->region);
			msg.length = job->length;
			msg.misbehave = app->misbehave;
			/* The fd stays the region's: the channel sends a duplicate. */
			fd = bh_shm_region_fd(job->region);
			r = bh_worker_send(w, CHECKSUM_MSG_JOB, &msg.base, &fd, 1);
			if (r == -EPIPE || r == -ENOTCONN)
				return; /* the worker is going away; its restart dispatches again */
			if (r == 0)
				break;
		}
		job_fail(app, job, -r, NULL); /* unreadable file, or no fd left to send it */
	}
	app->misbehave = false;
	job->state = JOB_RUNNING;
	job->attempts++;
	bh_worker_set_userdata(w, job);
}

/* ---- supervisor callbacks ----------------------------------------------------- */

static void on_ready(bh_worker *w, void *userdata)
{
	dispatch(userdata, w);
}

/* A Result: every field is checked before use, the worker is not trusted. */
static void on_message(bh_worker *w, bh_msg *msg, void *userdata)
{
	struct app *app = userdata;
	struct job *job = bh_worker_userdata(w);
	const Checksum__Result *res = (const Checksum__Result *)bh_msg_body(msg);

	/* send_types lets only CHECKSUM_MSG_RESULT through, already decoded. */
	if (!job || res->job_id != (uint32_t)(job - app->jobs)) {
		bh_worker_bad_message(w, "result for a job it does not hold");
		return;
	}
	if (res->error == 0 && res->sha256.len != SHA256_DIGEST_SIZE) {
		bh_worker_bad_message(w, "digest is not 32 bytes");
		return;
	}
	bh_worker_set_userdata(w, NULL);
	if (res->error != 0) {
		job_fail(app, job, res->error > 0 ? res->error : EPROTO, NULL);
	} else {
		memcpy(job->digest, res->sha256.data, SHA256_DIGEST_SIZE);
		bh_shm_region_destroy(job->region);
		job->region = NULL;
		job->state = JOB_DONE;
		app->finished++;
	}
	dispatch(app, w);
	maybe_finish(app);
}

static void on_exit_cb(bh_worker *w, const bh_exit_info *info, int restarting, void *userdata)
{
	struct app *app = userdata;
	struct job *job = bh_worker_userdata(w);

	/* The framework already logged what happened (see log_line()). */
	if (job) {
		bh_worker_set_userdata(w, NULL);
		if (job->attempts >= MAX_ATTEMPTS)
			job_fail(app, job, 0, "its worker died on every attempt");
		else
			job->state = JOB_PENDING; /* the region is kept for the next attempt */
	}
	if (!restarting && info->kind != BH_EXIT_STOPPED && app->workers_alive > 0 &&
	    --app->workers_alive == 0) {
		/* No worker will come back: whatever is left cannot be done. */
		for (size_t i = 0; i < app->njobs; i++) {
			if (app->jobs[i].state == JOB_PENDING)
				job_fail(app, &app->jobs[i], 0, "no worker left to hash it");
		}
	}
	/* Another ready worker may take the job back at once. */
	for (bh_worker *o = bh_supervisor_next(app->sup, NULL); o; o = bh_supervisor_next(app->sup, o))
		dispatch(app, o);
	maybe_finish(app);
}

static const bh_supervisor_ops ops = {
	.on_ready = on_ready,
	.on_message = on_message,
	.on_exit = on_exit_cb,
};

/* ---- main ---------------------------------------------------------------------- */

/* The library never prints: everything it has to say comes through here. */
static void log_line(bh_log_level level, const char *msg, void *userdata)
{
	const struct app *app = userdata;

	if (level <= BH_LOG_WARN || app->verbose > (int)level - BH_LOG_INFO)
		fprintf(stderr, "checksum: %s: %s\n", bh_log_level_name(level), msg);
}

static void on_signal(bh_sigwatch *s, const void *siginfo, void *userdata)
{
	struct app *app = userdata;

	(void)s;
	(void)siginfo;
	app->exit_code = 130;
	app->stopping = true;
	if (bh_supervisor_shutdown(app->sup, shutdown_done, app) < 0)
		bh_loop_quit(app->loop, 0);
}

static void usage(void)
{
	printf("usage: checksum [-j WORKERS] [-v] [--misbehave] [--print-profile] FILE...\n"
	       "Prints the SHA-256 of each FILE, computed in sandboxed worker processes.\n"
	       "  -j, --jobs N         hasher workers to run (1..%d, default 2)\n"
	       "  -v, --verbose        also log the framework's info (-vv: debug) messages\n"
	       "      --misbehave      the first worker tries to open a socket (and is killed)\n"
	       "      --print-profile  print the workers' sandbox policy and exit\n",
	       MAX_WORKERS);
}

int checksum_register(bh_registry *reg)
{
	int r = bh_registry_add_fds(reg, CHECKSUM_MSG_JOB, &checksum__job__descriptor, 1, 1);

	return r < 0 ? r : bh_registry_add(reg, CHECKSUM_MSG_RESULT, &checksum__result__descriptor, 0);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "jobs", required_argument, NULL, 'j' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "misbehave", no_argument, NULL, 'm' },
		{ "print-profile", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const uint32_t hasher_sends[] = { CHECKSUM_MSG_RESULT };
	struct app app = { .exit_code = 0 };
	unsigned nworkers = 2;
	bool print_profile = false;
	bh_registry *reg = NULL;
	bh_profile *profile = NULL;
	bh_sigwatch *sigint = NULL, *sigterm = NULL;
	char *end;
	int opt, r;

	while ((opt = getopt_long(argc, argv, "j:vh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j':
			errno = 0;
			nworkers = (unsigned)strtoul(optarg, &end, 10);
			if (errno || *end || nworkers < 1 || nworkers > MAX_WORKERS) {
				fprintf(stderr, "checksum: -j wants a number of workers from 1 to %d, not '%s'\n",
					MAX_WORKERS, optarg);
				return 2;
			}
			break;
		case 'v':
			app.verbose++;
			break;
		case 'm':
			app.misbehave = true;
			break;
		case 'p':
			print_profile = true;
			break;
		case 'h':
			usage();
			return 0;
		default: /* getopt_long() said what was wrong */
			fprintf(stderr, "Try 'checksum --help'.\n");
			return 2;
		}
	}
	r = make_profile(&profile);
	if (r < 0) {
		fprintf(stderr, "checksum: cannot build the sandbox profile: %s\n", strerror(-r));
		return 1;
	}
	if (print_profile) {
		r = bh_profile_print(profile, stdout);
		bh_profile_destroy(profile);
		return r < 0 ? 1 : 0;
	}
	if (optind >= argc) {
		fprintf(stderr, "checksum: no FILE given; try 'checksum --help'.\n");
		bh_profile_destroy(profile);
		return 2;
	}
	app.njobs = (size_t)(argc - optind);
	app.jobs = calloc(app.njobs, sizeof *app.jobs);
	if (!app.jobs) {
		bh_profile_destroy(profile);
		return 1;
	}
	for (size_t i = 0; i < app.njobs; i++)
		app.jobs[i].path = argv[optind + (int)i];
	if (nworkers > app.njobs)
		nworkers = (unsigned)app.njobs;

	const bh_worker_spec specs[] = { {
		.name = "hasher",
		.entry = checksum_worker_main,
		.profile = profile,
		.restart = BH_RESTART_ON_CRASH,
		.backoff_initial_ms = 50,
		.backoff_max_ms = 2000,
		.crash_limit = 5,        /* 5 restarts ... */
		.crash_period_ms = 30000, /* ... within 30 s: give up on that worker */
		.heartbeat_ms = 500,
		.hang_timeout_ms = 5000,
		.send_types = hasher_sends,
		.n_send_types = 1,
	} };

	/*
	 * The supervisor forks its zygote right here, before this process has
	 * read any file: workers are cloned from that early image.
	 */
	r = bh_loop_create(&app.loop);
	if (r == 0) {
		bh_loop_set_logger(app.loop, log_line, &app);
		r = bh_registry_create(&reg);
	}
	if (r == 0)
		r = checksum_register(reg);
	if (r == 0)
		r = bh_supervisor_create(app.loop, reg, specs, 1, &ops, &app, &app.sup);
	if (r < 0) {
		fprintf(stderr, "checksum: cannot start the supervisor: %s\n", strerror(-r));
		app.exit_code = 1;
		goto out;
	}
	if (bh_loop_add_signal(app.loop, SIGINT, on_signal, &app, &sigint) < 0 ||
	    bh_loop_add_signal(app.loop, SIGTERM, on_signal, &app, &sigterm) < 0)
		fprintf(stderr, "checksum: warning: Ctrl-C will not stop the workers gracefully\n");

	for (unsigned i = 0; i < nworkers; i++) {
		bh_worker *w;

		r = bh_worker_start(app.sup, "hasher", NULL, &w);
		if (r < 0) {
			fprintf(stderr, "checksum: cannot start a hasher worker: %s\n", strerror(-r));
			break;
		}
		app.workers_alive++;
	}
	if (app.workers_alive == 0) {
		app.exit_code = 1;
		goto out;
	}
	r = bh_loop_run(app.loop);
	if (r < 0) {
		fprintf(stderr, "checksum: event loop failed: %s\n", strerror(-r));
		app.exit_code = 1;
	}

	for (size_t i = 0; i < app.njobs; i++) {
		const struct job *job = &app.jobs[i];

		if (job->state == JOB_DONE) {
			for (int b = 0; b < SHA256_DIGEST_SIZE; b++)
				printf("%02x", job->digest[b]);
			printf("  %s\n", job->path);
		} else if (job->state == JOB_FAILED) {
			fprintf(stderr, "checksum: %s: %s\n", job->path, job->why ? job->why : strerror(job->err));
			if (app.exit_code == 0)
				app.exit_code = 1;
		}
	}
out:
	bh_sigwatch_remove(sigint);
	bh_sigwatch_remove(sigterm);
	bh_supervisor_destroy(app.sup);
	for (size_t i = 0; i < app.njobs; i++)
		bh_shm_region_destroy(app.jobs[i].region);
	free(app.jobs);
	bh_registry_destroy(reg);
	bh_loop_destroy(app.loop);
	bh_profile_destroy(profile);
	if (fflush(stdout) != 0 && app.exit_code == 0)
		app.exit_code = 1;
	return app.exit_code;
}
