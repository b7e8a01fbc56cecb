/*
 * Process statistics (`stats`, --stats-json), the sandbox table (`sandbox`)
 * and the about:sandbox page, all from what the kernel says (/proc) and
 * what each worker reported about its sandbox (validated by the supervisor).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/browser.h"
#include "broker/procinfo.h"


static void sandbox_summary(const bh_sandbox_status *st, char *out, size_t size)
{
	unsigned applied = 0;

	if (!st) {
		snprintf(out, size, "no report yet");
		return;
	}
	for (int i = 0; i < BH_LAYER_COUNT; i++) {
		applied += st->layers[i].state == BH_STATE_APPLIED;
	}
	snprintf(out, size, "%s: %u/%d layers, seccomp %s (%u filter%s), caps %s, %s root", st->profile,
		 applied, BH_LAYER_COUNT, st->seccomp_mode == 2 ? "on" : "OFF", st->seccomp_filters,
		 st->seccomp_filters == 1 ? "" : "s", st->cap_eff || st->cap_prm ? "SOME" : "none",
		 st->fs_empty ? "empty" : "real");
}

static void json_string(FILE *f, const char *s)
{
	fputc('"', f);
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

struct row {
	bh_worker *w;
	pid_t pid;
	const char *type;
	unsigned tab;
	unsigned restarts;
	const bh_exit_info *last;
	const bh_sandbox_status *sandbox;
};

static size_t collect(struct browser *b, struct row *rows, size_t max)
{
	size_t n = 0;

	rows[n++] = (struct row){ NULL, getpid(), "broker", 0, 0, NULL, NULL };
	rows[n++] = (struct row){ NULL, bh_supervisor_zygote_pid(b->sup), "zygote", 0, 0, NULL, NULL };
	if (b->gpu)
		rows[n++] = (struct row){ b->gpu, bh_worker_pid(b->gpu), "gpu", 0, bh_worker_restarts(b->gpu),
					  bh_worker_last_exit(b->gpu), bh_worker_sandbox_status(b->gpu) };
	for (struct tab *t = b->tabs; t && n < max; t = t->next) {
		if (t->closing)
			continue;
		rows[n++] = (struct row){ t->w, bh_worker_pid(t->w), "renderer", browser_tab_index(b, t),
					  bh_worker_restarts(t->w), bh_worker_last_exit(t->w),
					  bh_worker_sandbox_status(t->w) };
	}
	return n;
}

void stats_print(struct browser *b, FILE *f, bool json)
{
	struct row rows[BROWSER_MAX_TABS + 3];
	size_t n = collect(b, rows, sizeof rows / sizeof rows[0]);
	bh_sandbox_ns_ids self;
	static char sbuf[8192];

	if (bh_sandbox_ns_ids_self(&self) < 0)
		memset(&self, 0, sizeof self);
	if (json)
		fputs("[", f);
	else
		fprintf(f, "%-7s %-9s %-4s %9s %9s %9s %8s %8s  %-34s %s\n", "pid", "type", "tab", "rss_kb",
			"shmem_kb", "anon_kb", "cpu_ms", "restarts", "last exit", "sandbox");
	for (size_t i = 0; i < n; i++) {
		struct proc_info pi;
		char last[200], sum[200];

		proc_info_read(rows[i].pid, &pi);
		if (rows[i].last)
			snprintf(last, sizeof last, "%s: %s", bh_exit_kind_name(rows[i].last->kind),
				 rows[i].last->detail);
		else
			snprintf(last, sizeof last, "-");
		if (!strcmp(rows[i].type, "broker") || !strcmp(rows[i].type, "zygote"))
			snprintf(sum, sizeof sum, "none (privileged by design)");
		else
			sandbox_summary(rows[i].sandbox, sum, sizeof sum);
		if (!json) {
			char tab[16] = "-";

			if (rows[i].tab)
				snprintf(tab, sizeof tab, "%u", rows[i].tab);
			fprintf(f, "%-7d %-9s %-4s %9ld %9ld %9ld %8ld %8u  %-34.34s %s\n", (int)rows[i].pid,
				rows[i].type, tab, pi.rss_kb, pi.shmem_kb, pi.anon_kb, pi.cpu_ms, rows[i].restarts,
				last, sum);
			continue;
		}
		fprintf(f, "%s\n {\"pid\":%d,\"type\":\"%s\",\"tab\":%u,\"rss_kb\":%ld,\"shmem_kb\":%ld,"
			"\"anon_kb\":%ld,\"pss_kb\":%ld,\"uss_kb\":%ld,\"shmem_pss_kb\":%ld,\"shmem_uss_kb\":%ld,"
			"\"cpu_ms\":%ld,\"restarts\":%u,\"last_exit\":", i ? "," : "",
			(int)rows[i].pid, rows[i].type, rows[i].tab, pi.rss_kb, pi.shmem_kb, pi.anon_kb, pi.pss_kb,
			pi.uss_kb, pi.shmem_pss_kb, pi.shmem_uss_kb, pi.cpu_ms, rows[i].restarts);
		if (rows[i].last)
			json_string(f, last);
		else
			fputs("null", f);
		if (i == 0) {
			rel_sample(b);
			fputs(",\"reliability\":", f);
			rel_print_json(b, f);
		}
		if (rows[i].w) {
			const struct wrel *r = rel_of(b, rows[i].w);

			if (r)
				fprintf(f, ",\"chaos_kills\":%u,\"pings\":%llu,\"pongs\":%llu,\"seq_gaps\":%llu,"
					"\"queue_full\":%llu,\"peak_queued_bytes\":%zu", r->chaos_kills,
					(unsigned long long)r->ping_sent, (unsigned long long)r->pongs,
					(unsigned long long)r->gaps, (unsigned long long)r->queue_full, r->peak_queued);
		}
		fputs(",\"sandbox_summary\":", f);
		json_string(f, sum);
		fputs(",\"sandbox\":", f);
		if (rows[i].sandbox &&
		    bh_sandbox_status_format_json(rows[i].sandbox, &self, sbuf, sizeof sbuf) < (int)sizeof sbuf)
			fputs(sbuf, f);
		else
			fputs("null", f);
		fputs("}", f);
	}
	if (json)
		fputs("\n]\n", f);
	fflush(f);
}

void stats_sandbox_table(struct browser *b, FILE *f)
{
	struct row rows[BROWSER_MAX_TABS + 3];
	size_t n = collect(b, rows, sizeof rows / sizeof rows[0]);
	bh_sandbox_ns_ids self;
	static char sbuf[16384];

	if (bh_sandbox_ns_ids_self(&self) < 0)
		memset(&self, 0, sizeof self);
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(rows[i].type, "broker") || !strcmp(rows[i].type, "zygote")) {
			fprintf(f, "== %s pid %d: not sandboxed (it holds the privileges the workers lack)\n",
				rows[i].type, (int)rows[i].pid);
			continue;
		}
		if (rows[i].tab)
			fprintf(f, "== %s (tab %u) pid %d\n", rows[i].type, rows[i].tab, (int)rows[i].pid);
		else
			fprintf(f, "== %s pid %d\n", rows[i].type, (int)rows[i].pid);
		if (!rows[i].sandbox) {
			fprintf(f, "   (no sandbox report yet)\n");
			continue;
		}
		bh_sandbox_status_format_table(rows[i].sandbox, &self, sbuf, sizeof sbuf);
		fputs(sbuf, f);
		if (sbuf[0] && sbuf[strlen(sbuf) - 1] != '\n')
			fputc('\n', f);
	}
	fflush(f);
}

/* ---- about:sandbox ------------------------------------------------------------------------ */

struct hbuf {
	char *p;
	size_t len, cap;
	int err;
};

static void hput(struct hbuf *h, const char *s)
{
	size_t n = strlen(s);

	if (h->err)
		return;
	if (h->len + n + 1 > h->cap) {
		size_t cap = (h->cap ? h->cap * 2 : 4096) + n;
		char *p = realloc(h->p, cap);

		if (!p) {
			h->err = -ENOMEM;
			return;
		}
		h->p = p;
		h->cap = cap;
	}
	memcpy(h->p + h->len, s, n + 1);
	h->len += n;
}

/* Appends text with the page language's special characters escaped. */
static void hesc(struct hbuf *h, const char *s)
{
	char one[2] = { 0, 0 };

	for (; s && *s; s++) {
		switch (*s) {
		case '<': hput(h, "&lt;"); break;
		case '>': hput(h, "&gt;"); break;
		case '&': hput(h, "&amp;"); break;
		case '"': hput(h, "&quot;"); break;
		default:
			one[0] = (unsigned char)*s < 0x20 ? ' ' : *s;
			hput(h, one);
		}
	}
}

static void hprintf(struct hbuf *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void hprintf(struct hbuf *h, const char *fmt, ...)
{
	char tmp[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof tmp, fmt, ap);
	va_end(ap);
	hput(h, tmp);
}

int stats_sandbox_html(struct browser *b, char **html, size_t *len)
{
	struct row rows[BROWSER_MAX_TABS + 3];
	size_t n = collect(b, rows, sizeof rows / sizeof rows[0]);
	struct hbuf h = { 0 };

	hput(&h, "<title>about:sandbox</title><h1>Sandbox status</h1>"
		 "<p>Every process of this browser and the layers that confine it, as each "
		 "process reported them from inside its sandbox (checked by the broker).</p>");
	for (size_t i = 0; i < n; i++) {
		const bh_sandbox_status *st = rows[i].sandbox;
		char sum[200];

		if (rows[i].tab)
			hprintf(&h, "<h3>%s (tab %u), pid %d</h3>", rows[i].type, rows[i].tab, (int)rows[i].pid);
		else
			hprintf(&h, "<h3>%s, pid %d</h3>", rows[i].type, (int)rows[i].pid);
		if (!strcmp(rows[i].type, "broker") || !strcmp(rows[i].type, "zygote")) {
			hput(&h, "<p><span color=\"#b06000\">not sandboxed</span>: it holds the privileges "
				 "the workers lack.</p>");
			continue;
		}
		if (!st) {
			hput(&h, "<p>no report yet</p>");
			continue;
		}
		sandbox_summary(st, sum, sizeof sum);
		hput(&h, "<p><b>");
		hesc(&h, sum);
		hput(&h, "</b></p><ul>");
		for (int l = 0; l < BH_LAYER_COUNT; l++) {
			const bh_sandbox_layer_report *lr = &st->layers[l];
			const char *col = lr->state == BH_STATE_APPLIED ? "#188038" :
					  lr->state == BH_STATE_FAILED ? "#c5221f" : "#b06000";

			hprintf(&h, "<li><b>%s</b> <span color=\"%s\">%s</span> (%s) ", bh_sandbox_layer_name(l),
				col, bh_layer_state_name(lr->state), bh_layer_need_name(lr->need));
			hesc(&h, lr->detail);
			hput(&h, "</li>");
		}
		hput(&h, "</ul>");
	}
	if (h.err) {
		free(h.p);
		return h.err;
	}
	*html = h.p;
	*len = h.len;
	return 0;
}
