/*
 * Runs saved inputs through a harness without a fuzzing engine, so that the
 * normal test suite replays every corpus and regression file on every build
 * (with whatever sanitizers that build has).
 *
 *   fuzz_frame_replay [-q] [-m N] PATH...
 *
 * Each PATH is a file or a directory, whose regular files are run in name
 * order (names starting with '.' and README* are skipped). With -m N, N more
 * inputs are then made from those with the harness's custom mutator (a
 * blind chain, no coverage feedback, fixed seeds) and run: a short
 * structure-aware fuzz run any build can do (BH_FUZZ_SAVE_MUTANT=FILE keeps
 * the mutant that is running, to replay the one that failed). Exits 0 when every input ran
 * and the harness's bh_fuzz_replay_done() (if any) is content; a broken
 * invariant aborts with the input's name (or mutation round) printed first.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/fuzz.h"

/* Engines pass at most this much; a larger saved file is refused, not truncated. */
#define REPLAY_MAX_INPUT (1u << 20)

/* Harnesses without these still link: the weak symbols are then NULL. */
int LLVMFuzzerInitialize(int *argc, char ***argv) __attribute__((weak));
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed)
	__attribute__((weak));
/* Called after the last input; non-zero fails the run (e.g. a message type never reached). */
int bh_fuzz_replay_done(void) __attribute__((weak));

#define POOL_SIZE 256
#define MUTATE_MAX 4096

static int quiet;
/* Inputs kept for -m, as the engine's corpus would be. */
static uint8_t *pool[POOL_SIZE];
static size_t pool_len[POOL_SIZE];
static unsigned pool_n;

static void keep(const uint8_t *data, size_t n, unsigned slot)
{
	uint8_t *copy;

	if (n > MUTATE_MAX)
		return;
	copy = malloc(n ? n : 1);
	if (!copy)
		return;
	memcpy(copy, data, n);
	if (slot < pool_n) {
		free(pool[slot]);
	} else if (pool_n < POOL_SIZE) {
		slot = pool_n++;
	} else {
		free(copy);
		return;
	}
	pool[slot] = copy;
	pool_len[slot] = n;
}

/*
 * With BH_FUZZ_SAVE_MUTANT=FILE each mutant is written to FILE before it
 * runs, so that the one that broke an invariant is there to replay.
 */
static void save_mutant(const uint8_t *data, size_t n)
{
	static const char *path;
	static int checked;
	int fd;

	if (!checked++)
		path = getenv("BH_FUZZ_SAVE_MUTANT");
	if (!path)
		return;
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, data, n) != (ssize_t)n)
		fprintf(stderr, "replay: cannot save the mutant to %s\n", path);
	close(fd);
}

static void run_mutations(unsigned rounds)
{
	uint8_t *buf = malloc(MUTATE_MAX);
	uint64_t s = 0x243f6a8885a308d3ull;

	if (!buf)
		return;
	if (pool_n == 0)
		keep((const uint8_t *)"", 0, 0);
	for (unsigned i = 0; i < rounds; i++) {
		unsigned from, n;

		s = s * 6364136223846793005ull + 1442695040888963407ull;
		from = (unsigned)(s >> 33) % pool_n;
		memcpy(buf, pool[from], pool_len[from]);
		n = (unsigned)LLVMFuzzerCustomMutator(buf, pool_len[from], MUTATE_MAX, i);
		if (!quiet)
			fprintf(stderr, "Running: mutation %u of input %u (%u bytes)\n", i, from, n);
		/* A private copy of the exact size, so that ASan sees overreads. */
		uint8_t *in = malloc(n ? n : 1);

		if (!in)
			break;
		memcpy(in, buf, n);
		save_mutant(in, n);
		LLVMFuzzerTestOneInput(in, n);
		free(in);
		/* Keep some mutants so that mutations stack up, as they do in a real run. */
		if ((s >> 20) % 4 == 0)
			keep(buf, n, (unsigned)(s >> 40) % POOL_SIZE);
	}
	free(buf);
}

static int run_file(const char *path)
{
	struct stat st;
	uint8_t *buf;
	size_t got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if ((size_t)st.st_size > REPLAY_MAX_INPUT) {
		fprintf(stderr, "replay: %s: larger than %u bytes\n", path, REPLAY_MAX_INPUT);
		close(fd);
		return -1;
	}
	/* A private heap copy of exactly the input's size, so ASan sees overreads. */
	buf = malloc(st.st_size ? (size_t)st.st_size : 1);
	if (!buf) {
		close(fd);
		return -1;
	}
	while (got < (size_t)st.st_size) {
		ssize_t r = read(fd, buf + got, (size_t)st.st_size - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			fprintf(stderr, "replay: %s: short read\n", path);
			free(buf);
			close(fd);
			return -1;
		}
		got += (size_t)r;
	}
	close(fd);
	if (!quiet)
		fprintf(stderr, "Running: %s (%zu bytes)\n", path, got);
	LLVMFuzzerTestOneInput(buf, got);
	keep(buf, got, POOL_SIZE);
	free(buf);
	return 0;
}

static int skip_name(const char *name)
{
	return name[0] == '.' || strncmp(name, "README", 6) == 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs a directory's files in name order; returns the count or -1. */
static int run_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int ran = 0;

	if (!d) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	while ((e = readdir(d)) != NULL) {
		if (skip_name(e->d_name))
			continue;
		if (n == cap) {
			char **nn = realloc(names, (cap = cap ? 2 * cap : 64) * sizeof *names);

			if (!nn)
				break;
			names = nn;
		}
		if (asprintf(&names[n], "%s/%s", dir, e->d_name) < 0)
			break;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof *names, cmp_names);
	for (size_t i = 0; i < n; i++) {
		struct stat st;

		if (stat(names[i], &st) == 0 && S_ISREG(st.st_mode)) {
			if (run_file(names[i]) < 0)
				ran = -1;
			else if (ran >= 0)
				ran++;
		}
		free(names[i]);
	}
	free(names);
	return ran;
}

int main(int argc, char **argv)
{
	int total = 0, failed = 0, first = 1;
	unsigned rounds = 0;

	for (; first < argc && argv[first][0] == '-'; first++) {
		if (strcmp(argv[first], "-q") == 0) {
			quiet = 1;
		} else if (strcmp(argv[first], "-m") == 0 && first + 1 < argc) {
			rounds = (unsigned)strtoul(argv[++first], NULL, 10);
		} else {
			first = argc;
			break;
		}
	}
	if (argc <= first) {
		fprintf(stderr, "usage: %s [-q] [-m ROUNDS] FILE-OR-DIR...\n", argv[0]);
		return 2;
	}
	if (rounds && !LLVMFuzzerCustomMutator) {
		fprintf(stderr, "replay: -m needs a harness with a custom mutator\n");
		return 2;
	}
	if (LLVMFuzzerInitialize)
		LLVMFuzzerInitialize(&argc, &argv);
	for (int i = first; i < argc; i++) {
		struct stat st;
		int r;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			failed = 1;
			continue;
		}
		r = S_ISDIR(st.st_mode) ? run_dir(argv[i]) : (run_file(argv[i]) < 0 ? -1 : 1);
		if (r < 0)
			failed = 1;
		else
			total += r;
	}
	if (rounds)
		run_mutations(rounds);
	fprintf(stderr, "replay: %d inputs and %u mutants ran%s\n", total, rounds,
		failed ? ", some could not be read" : "");
	if (bh_fuzz_replay_done && bh_fuzz_replay_done() != 0)
		failed = 1;
	for (unsigned i = 0; i < pool_n; i++)
		free(pool[i]);
	return failed ? 1 : 0;
}
