/*
 * Reliability rules of the broker (docs/RELIABILITY.md):
 *
 * Pings. Every PING_MS the broker sends each ready worker a Ping numbered
 * 1, 2, 3... per incarnation (a number is used only when the channel accepted
 * the Ping). The worker answers Pong with the same number and the count of
 * Pings it saw out of order. A Pong that is not the previous one + 1, or a
 * worker-reported gap, is a control message lost or reordered on a healthy
 * channel: counted in `seq_gaps` (always 0 so far).
 *
 * Stall rule. Heartbeats prove that a worker's loop runs, not that it reads
 * its channel. A worker with a Ping unanswered and no Pong for STALL_MS is
 * killed as hung (bh_worker_hung). Meanwhile the broker's sends to it never
 * block: its channel's bounded queue refuses them with -ENOBUFS.
 *
 * Flood rule. A worker may send FLOOD_MSGS_PER_S messages per one-second
 * window (every message counts, the framework's included: they all cost the
 * broker a read and a decode). Over it, its channel is paused until the
 * window ends (throttled: the kernel's socket buffer then pushes back on
 * it); FLOOD_STRIKES windows over budget in a row and it is killed as a
 * bad-message sender ("flooding").
 *
 * Chaos. `chaos SECONDS` kills a random ready renderer or the gpu with
 * SIGKILL or SIGSEGV every 100-500 ms (seeded xorshift), never one that was
 * killed and is not back yet, so every kill is one exit and one restart.
 *
 * Evil. `evil TAB SECONDS` sends that tab's renderer to about:evil, and
 * every incarnation restarted after it, until the time is up: each sends
 * mutated and random frames to the broker and the gpu (renderer/evil.h)
 * and must be killed as a bad-message sender, by the broker's own checks
 * or on the gpu's BadRenderer report, while the gpu and the other tabs
 * carry on. When the time is up a renderer still in about:evil is killed,
 * and the tab reloads its own page.
 */
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bulkhead/channel.h>

#include "broker/browser.h"
#include "broker/browser_proto.h"

#define PING_MS 200u
#define STALL_MS 3000u
#define FLOOD_MSGS_PER_S 2000u
#define FLOOD_STRIKES 3u
#define CHAOS_MIN_MS 100u
#define CHAOS_MAX_MS 500u

struct wrel *rel_of(struct browser *b, const bh_worker *w)
{
	struct tab *t;

	if (w == b->gpu)
		return &b->gpu_rel;
	t = bh_worker_userdata(w);
	return t ? &t->rel : NULL;
}

static const char *who(struct browser *b, const bh_worker *w, char *buf, size_t size)
{
	struct tab *t = bh_worker_userdata(w);

	if (w == b->gpu || !t)
		snprintf(buf, size, "gpu process");
	else
		snprintf(buf, size, "tab %u", t->id);
	return buf;
}

/* ---- the broker's own resources ---------------------------------------------------- */

static long count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	long n = 0;

	if (!d)
		return -1;
	while ((de = readdir(d)))
		n += de->d_name[0] != '.';
	closedir(d);
	return n - 1; /* the directory's own fd */
}

static long rss_kb(void)
{
	FILE *f = fopen("/proc/self/status", "re");
	char line[128];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof line, f))
		if (!strncmp(line, "VmRSS:", 6))
			v = strtol(line + 6, NULL, 10);
	fclose(f);
	return v;
}

void rel_sample(struct browser *b)
{
	b->rel.fds = count_fds();
	b->rel.rss_kb = rss_kb();
	if (b->rel.fds > b->rel.peak_fds)
		b->rel.peak_fds = b->rel.fds;
	if (b->rel.rss_kb > b->rel.peak_rss_kb)
		b->rel.peak_rss_kb = b->rel.rss_kb;
}

/* ---- Pings, stalls, floods ------------------------------------------------------------ */

static int send_ping(struct browser *b, bh_worker *w, struct wrel *r)
{
	Browser__Ping p = BROWSER__PING__INIT;
	int e;

	p.seq = r->ping_sent + 1;
	e = bh_worker_send(w, MSG_PING, &p.base, NULL, 0);
	if (e == -ENOBUFS)
		r->queue_full++;
	if (e < 0)
		return e;
	if (r->ping_sent == r->pong_seq)
		r->wait_since_ns = bh_now_ns();
	r->ping_sent++;
	b->rel.pings++;
	return 0;
}

void rel_on_pong(struct browser *b, bh_worker *w, bh_msg *m)
{
	const Browser__Pong *p = (const Browser__Pong *)bh_msg_body(m);
	struct wrel *r = rel_of(b, w);

	if (!r)
		return;
	if (p->seq > r->ping_sent) {
		/* An answer to a question never asked: the worker is lying. */
		bh_worker_bad_message(w, "Pong for a Ping never sent");
		return;
	}
	/*
	 * Pongs between the last one and this one are missing; as many as the
	 * worker's own queue refused were never sent. Any other difference is a
	 * message the channel lost or reordered.
	 */
	if (p->seq <= r->pong_seq || p->refused < r->worker_refused ||
	    p->seq - r->pong_seq - 1 != p->refused - r->worker_refused) {
		r->gaps++;
		b->rel.gaps++;
	}
	r->worker_refused = p->refused;
	if (p->gaps > r->worker_gaps) {
		r->gaps += p->gaps - r->worker_gaps;
		b->rel.gaps += p->gaps - r->worker_gaps;
		r->worker_gaps = p->gaps;
	}
	r->pong_seq = p->seq;
	r->pongs++;
	b->rel.pongs++;
	r->wait_since_ns = r->pong_seq == r->ping_sent ? 0 : bh_now_ns();
}

/* A flood ended (killed, or back under budget): how the other tabs fared meanwhile. */
static void flood_end(struct browser *b, struct wrel *r, const char *name, const char *how)
{
	uint64_t ms = (bh_now_ns() - r->flood_t0_ns) / 1000000ull, frames = b->frames - r->flood_frames0;

	if (!r->flood_t0_ns)
		return;
	r->flood_t0_ns = 0;
	b->rel.flood_frames += frames;
	b->rel.flood_ms += ms;
	browser_say(b, "%s: %s; %llu frames composited in the %llu ms it flooded (%.1f a second)", name, how,
		    (unsigned long long)frames, (unsigned long long)ms, ms ? (double)frames * 1000.0 / (double)ms : 0.0);
}

/* The flood budget; returns true if the worker was killed. */
static bool flood_check(struct browser *b, bh_worker *w, struct wrel *r, uint64_t now)
{
	bh_channel *ch = bh_worker_channel(w);
	bh_channel_stats st;
	uint64_t n;
	char name[32], why[128];

	if (!ch)
		return false;
	bh_channel_get_stats(ch, &st);
	if (st.peak_queued_bytes > r->peak_queued)
		r->peak_queued = st.peak_queued_bytes;
	if (!r->win_start_ns) {
		r->win_start_ns = now;
		r->win_recv = st.msgs_received;
	}
	n = st.msgs_received - r->win_recv;
	if (now - r->win_start_ns >= 1000000000ull) {
		if (r->throttled) {
			bh_channel_pause(ch, 0);
			r->throttled = false;
		} else if (n <= FLOOD_MSGS_PER_S) {
			r->strikes = 0;
			flood_end(b, r, who(b, w, name, sizeof name), "back under its message budget");
		}
		r->win_start_ns = now;
		r->win_recv = st.msgs_received;
		return false;
	}
	if (r->throttled || n <= FLOOD_MSGS_PER_S)
		return false;
	who(b, w, name, sizeof name);
	if (++r->strikes >= FLOOD_STRIKES) {
		snprintf(why, sizeof why, "flooding: over %u messages a second, %u seconds in a row",
			 FLOOD_MSGS_PER_S, FLOOD_STRIKES);
		b->rel.flood_kills++;
		flood_end(b, r, name, "killed for flooding");
		bh_worker_bad_message(w, why);
		return true;
	}
	/* Throttle: read nothing more from it until the window ends. */
	bh_channel_pause(ch, 1);
	r->throttled = true;
	if (!r->flood_t0_ns) {
		r->flood_t0_ns = now;
		r->flood_frames0 = b->frames;
	}
	b->rel.throttles++;
	browser_say(b, "%s: %llu messages in %llu ms, over %u a second: throttled", name,
		    (unsigned long long)n, (unsigned long long)((now - r->win_start_ns) / 1000000ull),
		    FLOOD_MSGS_PER_S);
	return false;
}

static void check_worker(struct browser *b, bh_worker *w, uint64_t now)
{
	struct wrel *r = rel_of(b, w);
	char name[32], why[128];

	if (!r || !bh_worker_is_ready(w))
		return;
	if (flood_check(b, w, r, now))
		return;
	if (r->wait_since_ns && now - r->wait_since_ns > (uint64_t)STALL_MS * 1000000ull) {
		snprintf(why, sizeof why, "did not answer a Ping for %u ms (stopped reading its channel?)",
			 STALL_MS);
		browser_say(b, "%s: %s", who(b, w, name, sizeof name), why);
		b->rel.stall_kills++;
		bh_worker_hung(w, why);
		return;
	}
	(void)send_ping(b, w, r);
}

static void on_tick(bh_timer *t, void *ud)
{
	struct browser *b = ud;
	uint64_t now = bh_now_ns();

	if (b->quitting)
		return;
	if (b->gpu)
		check_worker(b, b->gpu, now);
	for (struct tab *x = b->tabs; x; x = x->next)
		if (!x->closing && x->w)
			check_worker(b, x->w, now);
	rel_sample(b);
}

void rel_burst(struct browser *b, bh_worker *w, unsigned n, const char *name)
{
	struct wrel *r = rel_of(b, w);
	bh_channel *ch = bh_worker_channel(w);
	bh_channel_stats st;
	unsigned ok = 0, refused = 0;

	if (!r || !ch) {
		browser_say(b, "burst: %s is not running", name);
		return;
	}
	for (unsigned i = 0; i < n; i++) {
		int e = send_ping(b, w, r);

		if (e == 0)
			ok++;
		else if (e == -ENOBUFS)
			refused++;
		else
			break;
	}
	bh_channel_get_stats(ch, &st);
	if (st.peak_queued_bytes > r->peak_queued)
		r->peak_queued = st.peak_queued_bytes;
	browser_say(b, "burst: %s: %u Pings queued, %u refused (send queue full), queue %zu bytes in %u "
		    "messages, peak %zu bytes", name, ok, refused, st.queued_bytes, st.queued_msgs,
		    st.peak_queued_bytes);
}

/* ---- evil ------------------------------------------------------------------------------- */

static struct tab *evil_tab(struct browser *b)
{
	return b->rel.evil_tab ? browser_tab_by_id(b, b->rel.evil_tab) : NULL;
}

static bool in_evil(const struct tab *t)
{
	return !strncmp(t->loading_url, "about:evil", 10);
}

/* The next round's page: a new seed, the target cycling broker, gpu, both. */
static void evil_url(struct browser *b, char *out, size_t size)
{
	static const char *const to[] = { "broker", "gpu", "both" };
	unsigned n = b->rel.evil_rounds++;

	snprintf(out, size, "about:evil?seed=%llu&to=%s", (unsigned long long)(b->rel.evil_seed + n),
		 to[n % 3]);
}

static void evil_on_ready(struct browser *b, bh_worker *w)
{
	struct tab *t = bh_worker_userdata(w);

	if (!b->rel.evil_active || w == b->gpu || !t || t != evil_tab(b) || t->closing)
		return;
	/* on_ready then navigates to loading_url, once the sad frame was shown. */
	evil_url(b, t->loading_url, sizeof t->loading_url);
	t->nav_pending = true;
}

static void evil_on_exit(struct browser *b, bh_worker *w, const bh_exit_info *info)
{
	struct tab *t = bh_worker_userdata(w);

	if (!b->rel.evil_tab || b->rel.evil_reported || b->quitting)
		return;
	if (w != b->gpu && t && t == evil_tab(b) && in_evil(t)) {
		if (info->kind == BH_EXIT_BAD_MESSAGE)
			b->rel.evil_bad_kills++;
		else
			b->rel.evil_other_ends++;
	} else if (info->kind != BH_EXIT_STOPPED) {
		b->rel.evil_bystanders++;
	}
}

void rel_on_gpu_bad_report(struct browser *b)
{
	b->rel.gpu_bad_reports++;
}

static void on_evil_end(bh_timer *tm, void *ud)
{
	struct browser *b = ud;
	struct tab *t = evil_tab(b);

	b->rel.evil_active = false;
	browser_say(b, "evil: time is up after %u round(s); waiting for tab %u to show its page again",
		    b->rel.evil_rounds, b->rel.evil_tab);
	/* A renderer still in about:evil goes; its restart reloads the tab's own page. */
	if (t && t->w && bh_worker_is_ready(t->w) && in_evil(t))
		(void)bh_worker_kill(t->w, SIGKILL);
	script_poll(b);
}

int rel_evil_start(struct browser *b, struct tab *t, unsigned secs, uint64_t seed)
{
	char url[URL_MAX];

	if (b->rel.evil_active || (b->rel.evil_tab && !b->rel.evil_reported))
		return -EBUSY;
	if (!b->o.chaos_mode)
		return -EPERM;
	b->rel.evil_tab = t->id;
	b->rel.evil_active = true;
	b->rel.evil_reported = false;
	b->rel.evil_seed = seed ? seed : bh_now_ns() | 1;
	b->rel.evil_rounds = b->rel.evil_bad_kills = b->rel.evil_other_ends = b->rel.evil_bystanders = 0;
	b->rel.evil_t0_ns = bh_now_ns();
	b->rel.evil_end_ns = b->rel.evil_t0_ns + (uint64_t)secs * 1000000000ull;
	b->rel.evil_frames0 = b->frames;
	b->rel.evil_bad0 = b->rel.exits[BH_EXIT_BAD_MESSAGE];
	b->rel.evil_reports0 = b->rel.gpu_bad_reports;
	b->rel.evil_gpu_pid = b->gpu ? (uint32_t)bh_worker_pid(b->gpu) : 0;
	browser_say(b, "evil: tab %u for %u s, seed %llu", t->id, secs, (unsigned long long)b->rel.evil_seed);
	evil_url(b, url, sizeof url);
	browser_tab_load(b, t, url);
	return bh_timer_arm(b->rel.evil_timer, (uint64_t)secs * 1000u, 0);
}

bool rel_evil_busy(struct browser *b)
{
	struct tab *t = evil_tab(b);
	double secs = (double)(bh_now_ns() - b->rel.evil_t0_ns) / 1e9;
	uint32_t gpu_pid = b->gpu ? (uint32_t)bh_worker_pid(b->gpu) : 0;
	uint64_t frames = b->frames - b->rel.evil_frames0;

	if (b->rel.evil_active)
		return true;
	if (t && !t->closing && !t->failed && (!t->loaded || in_evil(t) || t->nav_pending))
		return true;
	if (b->rel.evil_reported)
		return false;
	b->rel.evil_reported = true;
	browser_say(b, "evil: tab %u, %.1f s: %u renderer(s) sent to about:evil, %u killed as bad-message "
		    "senders, %u ended otherwise; the gpu reported %llu bad frame(s); gpu process %s; other "
		    "processes ended: %u; %llu frames composited (%.0f a second)", b->rel.evil_tab, secs,
		    b->rel.evil_rounds, b->rel.evil_bad_kills, b->rel.evil_other_ends,
		    (unsigned long long)(b->rel.gpu_bad_reports - b->rel.evil_reports0),
		    gpu_pid && gpu_pid == b->rel.evil_gpu_pid ? "unchanged" : "RESTARTED", b->rel.evil_bystanders,
		    (unsigned long long)frames, secs > 0 ? (double)frames / secs : 0.0);
	return false;
}

/* ---- worker life ------------------------------------------------------------------------ */

void rel_on_ready(struct browser *b, bh_worker *w)
{
	struct wrel *r = rel_of(b, w);

	if (!r)
		return;
	/* A new incarnation, a new channel: its numbering starts again. */
	r->ping_sent = r->pong_seq = r->worker_gaps = r->worker_refused = 0;
	r->wait_since_ns = 0;
	r->win_start_ns = 0;
	r->throttled = false;
	r->strikes = 0;
	r->flood_t0_ns = 0;
	r->chaos_pending = false;
	evil_on_ready(b, w);
}

void rel_on_exit(struct browser *b, bh_worker *w, const bh_exit_info *info, int restarting)
{
	struct wrel *r = rel_of(b, w);

	evil_on_exit(b, w, info);
	if ((unsigned)info->kind < BH_EXIT_KIND_COUNT && info->kind != BH_EXIT_STOPPED && !b->quitting)
		b->rel.exits[info->kind]++;
	/* Not coming back: nothing to wait for (the caller polls the script once the tab is updated). */
	if (r && !restarting)
		r->chaos_pending = false;
}

void rel_on_failed(struct browser *b, bh_worker *w)
{
	struct wrel *r = rel_of(b, w);

	if (r)
		r->chaos_pending = false;
}

/* ---- chaos ------------------------------------------------------------------------------ */

static uint64_t rnd(struct browser *b)
{
	uint64_t x = b->rel.rng;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return b->rel.rng = x;
}

static bool chaos_target(struct browser *b, bh_worker *w)
{
	struct wrel *r = rel_of(b, w);

	return r && !r->chaos_pending && bh_worker_is_ready(w);
}

static void chaos_kill(struct browser *b)
{
	bh_worker *cand[BROWSER_MAX_TABS + 1], *w;
	struct wrel *r;
	size_t n = 0;
	int sig;

	if (b->gpu && chaos_target(b, b->gpu))
		cand[n++] = b->gpu;
	for (struct tab *t = b->tabs; t && n < BROWSER_MAX_TABS + 1; t = t->next)
		if (!t->closing && t->w && chaos_target(b, t->w))
			cand[n++] = t->w;
	if (!n)
		return; /* everything is restarting: try again at the next tick */
	w = cand[rnd(b) % n];
	sig = rnd(b) & 1 ? SIGKILL : SIGSEGV;
	if (bh_worker_kill(w, sig) < 0)
		return;
	r = rel_of(b, w);
	r->chaos_pending = true;
	r->chaos_kills++;
	b->rel.kills++;
	if (w == b->gpu)
		b->rel.gpu_kills++;
	else
		b->rel.renderer_kills++;
	if (sig == SIGKILL)
		b->rel.sigkills++;
	else
		b->rel.sigsegvs++;
}

static void on_chaos(bh_timer *t, void *ud)
{
	struct browser *b = ud;

	if (!b->rel.chaos_active)
		return;
	if (bh_now_ns() >= b->rel.chaos_end_ns || b->quitting) {
		b->rel.chaos_active = false;
		browser_say(b, "chaos: %u kills in %.1f s (%u renderer, %u gpu; %u SIGKILL, %u SIGSEGV); "
			    "waiting for every killed process to come back", b->rel.kills,
			    (double)(bh_now_ns() - b->rel.chaos_t0_ns) / 1e9, b->rel.renderer_kills,
			    b->rel.gpu_kills, b->rel.sigkills, b->rel.sigsegvs);
		script_poll(b);
		return;
	}
	chaos_kill(b);
	(void)bh_timer_arm(t, CHAOS_MIN_MS + rnd(b) % (CHAOS_MAX_MS - CHAOS_MIN_MS + 1), 0);
}

int rel_chaos_start(struct browser *b, unsigned secs, uint64_t seed)
{
	if (b->rel.chaos_active)
		return -EBUSY;
	if (!b->o.chaos_mode)
		browser_say(b, "chaos: the crash-loop limits are on (start with --chaos-mode to lift them): "
			    "tabs killed too often will give up");
	b->rel.rng = seed ? seed : bh_now_ns() | 1;
	browser_say(b, "chaos: %u s, seed %llu", secs, (unsigned long long)b->rel.rng);
	b->rel.chaos_active = true;
	b->rel.chaos_t0_ns = bh_now_ns();
	b->rel.chaos_end_ns = b->rel.chaos_t0_ns + (uint64_t)secs * 1000000000ull;
	return bh_timer_arm(b->rel.chaos_timer, CHAOS_MIN_MS, 0);
}

bool rel_chaos_busy(const struct browser *b)
{
	if (b->rel.chaos_active)
		return true;
	if (b->gpu_rel.chaos_pending)
		return true;
	for (const struct tab *t = b->tabs; t; t = t->next)
		if (t->rel.chaos_pending && !t->closing)
			return true;
	return false;
}

/* ---- setup and reporting ------------------------------------------------------------------- */

int rel_init(struct browser *b)
{
	int r = bh_timer_create(b->loop, on_tick, b, &b->rel.tick);

	if (r == 0)
		r = bh_timer_create(b->loop, on_chaos, b, &b->rel.chaos_timer);
	if (r == 0)
		r = bh_timer_create(b->loop, on_evil_end, b, &b->rel.evil_timer);
	if (r == 0)
		r = bh_timer_arm(b->rel.tick, PING_MS, PING_MS);
	rel_sample(b);
	return r;
}

void rel_fini(struct browser *b)
{
	bh_timer_destroy(b->rel.tick);
	bh_timer_destroy(b->rel.chaos_timer);
	bh_timer_destroy(b->rel.evil_timer);
	b->rel.tick = b->rel.chaos_timer = b->rel.evil_timer = NULL;
}

void rel_print_json(struct browser *b, FILE *f)
{
	fprintf(f, "{\"now_ms\":%llu,\"frames\":%llu,\"flood_frames\":%llu,\"flood_ms\":%llu,",
		(unsigned long long)(bh_now_ns() / 1000000ull), (unsigned long long)b->frames,
		(unsigned long long)b->rel.flood_frames, (unsigned long long)b->rel.flood_ms);
	fprintf(f, "\"fds\":%ld,\"peak_fds\":%ld,\"rss_kb\":%ld,\"peak_rss_kb\":%ld,\"pings\":%llu,"
		"\"pongs\":%llu,\"seq_gaps\":%llu,\"throttled\":%llu,\"flood_kills\":%llu,\"stall_kills\":%llu,"
		"\"chaos\":{\"kills\":%u,\"renderer_kills\":%u,\"gpu_kills\":%u,\"sigkill\":%u,\"sigsegv\":%u},"
		"\"evil\":{\"rounds\":%u,\"bad_message_kills\":%u,\"other_ends\":%u,\"bystanders\":%u},\"gpu_bad_reports\":%llu,"
		"\"exits\":{", b->rel.fds, b->rel.peak_fds, b->rel.rss_kb, b->rel.peak_rss_kb,
		(unsigned long long)b->rel.pings, (unsigned long long)b->rel.pongs,
		(unsigned long long)b->rel.gaps, (unsigned long long)b->rel.throttles,
		(unsigned long long)b->rel.flood_kills, (unsigned long long)b->rel.stall_kills, b->rel.kills,
		b->rel.renderer_kills, b->rel.gpu_kills, b->rel.sigkills, b->rel.sigsegvs, b->rel.evil_rounds,
		b->rel.evil_bad_kills, b->rel.evil_other_ends, b->rel.evil_bystanders,
		(unsigned long long)b->rel.gpu_bad_reports);
	for (int k = 0; k < BH_EXIT_KIND_COUNT; k++)
		fprintf(f, "%s\"%s\":%llu", k ? "," : "", bh_exit_kind_name(k),
			(unsigned long long)b->rel.exits[k]);
	fputs("}}", f);
}
