/*
 * The benchmark program's shared pieces. Each suite measures the framework
 * beside a baseline (raw syscalls or a peer library) in the same run and
 * reports figures through bench_report(); ratios, not absolute times, are
 * what compare across machines.
 */
#ifndef BH_BENCH_H
#define BH_BENCH_H

#include <stddef.h>
#include <stdint.h>

struct bench_ctx {
	int json;      /* print one JSON object per figure instead of the table */
	int quick;     /* fewer iterations (for smoke runs) */
};

/*
 * Prints one figure. `baseline` is the name of the figure it compares with
 * (NULL: none); ratio = value / baseline_value.
 */
void bench_report(struct bench_ctx *ctx, const char *name, double value, const char *unit,
		  const char *baseline, double baseline_value);

/* Prints a line of context (skipped peers, settings) in table mode, to stderr in JSON mode. */
void bench_note(struct bench_ctx *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Sorts `v` and returns its q-quantile (0 <= q <= 1). */
double bench_quantile(double *v, size_t n, double q);

/* Heap allocations (malloc/calloc/realloc/aligned) made by this process so far; 0 if not counted. */
uint64_t bench_allocs(void);
int bench_allocs_counted(void);

/* Suites. Each returns 0, or -errno if it could not run at all. */
int bench_ipc(struct bench_ctx *ctx);
int bench_shm_run(struct bench_ctx *ctx);
int bench_sandbox(struct bench_ctx *ctx);
int bench_spawn(struct bench_ctx *ctx);
int bench_demo(struct bench_ctx *ctx);

#endif
