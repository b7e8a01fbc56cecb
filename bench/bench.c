/*
 * bulkhead-bench: measures the framework beside raw-syscall baselines and
 * peer libraries in one run, and prints a table or JSON lines:
 *   {"name": ..., "value": ..., "unit": ..., "baseline": ..., "baseline_value": ..., "ratio": ...}
 */
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bench/bench.h"

/* ---- allocation counting ---------------------------------------------------
 * The bench interposes the allocator to count heap allocations per message.
 * Sanitizers interpose it themselves, so counting is off in those builds.
 */
#if defined(__SANITIZE_ADDRESS__)
#define BENCH_COUNT_ALLOCS 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BENCH_COUNT_ALLOCS 0
#endif
#endif
#ifndef BENCH_COUNT_ALLOCS
#define BENCH_COUNT_ALLOCS 1
#endif

#if BENCH_COUNT_ALLOCS
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);
extern void *__libc_memalign(size_t, size_t);
extern void __libc_free(void *);

/* The one global the bench keeps: a counter the allocator hooks bump. */
static uint64_t alloc_count;

void *malloc(size_t n)
{
	__atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
	return __libc_malloc(n);
}

void *calloc(size_t a, size_t b)
{
	__atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
	return __libc_calloc(a, b);
}

void *realloc(void *p, size_t n)
{
	__atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
	return __libc_realloc(p, n);
}

void free(void *p)
{
	__libc_free(p);
}

int posix_memalign(void **out, size_t align, size_t n)
{
	void *p;

	__atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
	p = __libc_memalign(align, n);
	if (!p)
		return ENOMEM;
	*out = p;
	return 0;
}

void *aligned_alloc(size_t align, size_t n)
{
	__atomic_add_fetch(&alloc_count, 1, __ATOMIC_RELAXED);
	return __libc_memalign(align, n);
}

uint64_t bench_allocs(void)
{
	return __atomic_load_n(&alloc_count, __ATOMIC_RELAXED);
}

int bench_allocs_counted(void)
{
	return 1;
}
#else
uint64_t bench_allocs(void)
{
	return 0;
}

int bench_allocs_counted(void)
{
	return 0;
}
#endif

/* ---- reporting ------------------------------------------------------------ */

static void json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", *s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void json_number(double v)
{
	if (isfinite(v))
		printf("%.6g", v);
	else
		printf("null");
}

void bench_report(struct bench_ctx *ctx, const char *name, double value, const char *unit,
		  const char *baseline, double baseline_value)
{
	double ratio = baseline && baseline_value != 0 ? value / baseline_value : NAN;

	if (ctx->json) {
		printf("{\"name\": ");
		json_string(name);
		printf(", \"value\": ");
		json_number(value);
		printf(", \"unit\": ");
		json_string(unit);
		if (baseline) {
			printf(", \"baseline\": ");
			json_string(baseline);
			printf(", \"baseline_value\": ");
			json_number(baseline_value);
			printf(", \"ratio\": ");
			json_number(ratio);
		}
		printf("}\n");
	} else if (baseline) {
		printf("  %-44s %12.3f %-8s  vs %-34s %12.3f  ratio %7.3f\n", name, value, unit,
		       baseline, baseline_value, ratio);
	} else {
		printf("  %-44s %12.3f %-8s\n", name, value, unit);
	}
	fflush(stdout);
}

void bench_note(struct bench_ctx *ctx, const char *fmt, ...)
{
	va_list ap;
	FILE *out = ctx->json ? stderr : stdout;

	va_start(ap, fmt);
	fputs(ctx->json ? "# " : "", out);
	vfprintf(out, fmt, ap);
	fputc('\n', out);
	va_end(ap);
	fflush(out);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_quantile(double *v, size_t n, double q)
{
	size_t i;

	if (n == 0)
		return NAN;
	qsort(v, n, sizeof *v, cmp_double);
	i = (size_t)(q * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

/* ---- main ----------------------------------------------------------------- */

struct suite {
	const char *name;
	const char *what;
	int (*run)(struct bench_ctx *ctx);
};

static const struct suite suites[] = {
	{ "ipc", "channel round trip, throughput and allocations", bench_ipc },
	{ "shm", "frame handoff through surfaces vs copying through a socket", bench_shm_run },
	{ "sandbox", "entering each profile, filter overhead per syscall and round trip", bench_sandbox },
	{ "spawn", "spawn-to-ready and crash-to-ready of a sandboxed worker", bench_spawn },
	{ "demo", "the demo browser's compositor and renderers in their sandboxes", bench_demo },
};

static void usage(FILE *out)
{
	fprintf(out, "usage: bulkhead-bench [--json] [--quick] [SUITE...]\n"
		     "  --json   one JSON object per figure and line\n"
		     "  --quick  fewer iterations (smoke run)\n"
		     "suites (default: all):\n");
	for (size_t i = 0; i < sizeof suites / sizeof suites[0]; i++)
		fprintf(out, "  %-8s %s\n", suites[i].name, suites[i].what);
}

int main(int argc, char **argv)
{
	struct bench_ctx ctx = { 0 };
	int selected[sizeof suites / sizeof suites[0]] = { 0 }, any = 0, failed = 0;

	signal(SIGPIPE, SIG_IGN);
	for (int i = 1; i < argc; i++) {
		size_t k;

		if (!strcmp(argv[i], "--json")) {
			ctx.json = 1;
			continue;
		}
		if (!strcmp(argv[i], "--quick")) {
			ctx.quick = 1;
			continue;
		}
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		for (k = 0; k < sizeof suites / sizeof suites[0]; k++) {
			if (!strcmp(argv[i], suites[k].name)) {
				selected[k] = 1;
				any = 1;
				break;
			}
		}
		if (k == sizeof suites / sizeof suites[0]) {
			fprintf(stderr, "bulkhead-bench: unknown option or suite '%s' (try --help)\n", argv[i]);
			return 2;
		}
	}
	for (size_t k = 0; k < sizeof suites / sizeof suites[0]; k++) {
		int r;

		if (any && !selected[k])
			continue;
		if (!ctx.json)
			printf("%s: %s\n", suites[k].name, suites[k].what);
		r = suites[k].run(&ctx);
		if (r < 0) {
			fprintf(stderr, "bulkhead-bench: suite %s failed: %s\n", suites[k].name, strerror(-r));
			failed = 1;
		}
	}
	return failed;
}
