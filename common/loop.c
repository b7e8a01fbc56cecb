/*
 * The event loop: one epoll instance; one timerfd shared by every timer
 * (a binary heap orders deadlines, the timerfd is armed for the earliest);
 * one signalfd for every watched signal; a list of scheduled defers that run
 * before the loop sleeps.
 *
 * Handles removed while a dispatch round is running are unlinked at once
 * (so no later callback sees them) but freed only when the round ends,
 * because the round's event array may still point at them.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <time.h>

#include "common/internal.h"

#define MAX_EVENTS 64
#define MAX_SIGNAL 65

enum source_kind { SRC_WATCH, SRC_TIMERFD, SRC_SIGNALFD };

struct bh_watch {
	bh_loop *loop;
	enum source_kind kind;
	int fd;
	uint32_t events;
	bh_fd_cb cb;
	void *userdata;
	int dead;
	bh_watch *next_dead;
};

struct bh_timer {
	bh_loop *loop;
	bh_timer_cb cb;
	void *userdata;
	uint64_t deadline_ns;
	uint64_t interval_ns;
	size_t heap_index; /* SIZE_MAX when not armed */
};

struct bh_sigwatch {
	bh_loop *loop;
	int signo;
	bh_signal_cb cb;
	void *userdata;
};

struct bh_defer {
	bh_loop *loop;
	bh_defer_cb cb;
	void *userdata;
	int scheduled;
	bh_defer *prev, *next;
};

struct bh_loop {
	int epfd;
	int timerfd;
	int sigfd;
	bh_watch timer_src;
	bh_watch signal_src;

	bh_timer **heap;
	size_t heap_len, heap_cap;
	uint64_t timerfd_deadline; /* what the timerfd is armed for, 0 if disarmed */

	bh_sigwatch *sig[MAX_SIGNAL];
	sigset_t sigmask;

	bh_defer *defer_head, *defer_tail;

	bh_watch *dead;
	int dispatching;
	int quit;
	int quit_code;

	bh_log_fn log_fn;
	void *log_ud;
};

uint64_t bh_now_ns(void)
{
	struct timespec ts;

	/* CLOCK_MONOTONIC cannot fail with a valid clock id and pointer. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void bh__vlog(bh_loop *loop, bh_log_level level, const char *fmt, va_list ap)
{
	char line[512];

	if (!loop || !loop->log_fn)
		return;
	vsnprintf(line, sizeof line, fmt, ap);
	loop->log_fn(level, line, loop->log_ud);
}

void bh__log(bh_loop *loop, bh_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	bh__vlog(loop, level, fmt, ap);
	va_end(ap);
}

int bh__loop_dispatching(const bh_loop *loop)
{
	return loop->dispatching;
}

void bh_loop_set_logger(bh_loop *loop, bh_log_fn fn, void *userdata)
{
	loop->log_fn = fn;
	loop->log_ud = userdata;
}

static int epoll_add(bh_loop *loop, bh_watch *w)
{
	struct epoll_event ev = { .events = w->events, .data.ptr = w };

	return epoll_ctl(loop->epfd, EPOLL_CTL_ADD, w->fd, &ev) < 0 ? -errno : 0;
}

static void on_timerfd(bh_watch *w, int fd, uint32_t events, void *ud);
static void on_signalfd(bh_watch *w, int fd, uint32_t events, void *ud);

int bh_loop_create(bh_loop **out)
{
	bh_loop *loop = calloc(1, sizeof *loop);
	int r;

	if (!loop)
		return -ENOMEM;
	loop->timerfd = -1;
	loop->sigfd = -1;
	sigemptyset(&loop->sigmask);
	loop->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (loop->epfd < 0) {
		r = -errno;
		goto fail;
	}
	loop->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (loop->timerfd < 0) {
		r = -errno;
		goto fail;
	}
	loop->timer_src = (bh_watch){ .loop = loop, .kind = SRC_TIMERFD, .fd = loop->timerfd,
				      .events = EPOLLIN, .cb = on_timerfd, .userdata = loop };
	r = epoll_add(loop, &loop->timer_src);
	if (r < 0)
		goto fail;
	*out = loop;
	return 0;
fail:
	bh__close(loop->timerfd);
	bh__close(loop->epfd);
	free(loop);
	return r;
}

static void free_dead(bh_loop *loop)
{
	while (loop->dead) {
		bh_watch *w = loop->dead;

		loop->dead = w->next_dead;
		free(w);
	}
}

void bh_loop_destroy(bh_loop *loop)
{
	if (!loop)
		return;
	for (int s = 1; s < MAX_SIGNAL; s++)
		bh_sigwatch_remove(loop->sig[s]);
	while (loop->heap_len > 0)
		bh_timer_destroy(loop->heap[0]);
	while (loop->defer_head)
		bh_defer_destroy(loop->defer_head);
	free_dead(loop);
	free(loop->heap);
	bh__close(loop->sigfd);
	bh__close(loop->timerfd);
	bh__close(loop->epfd);
	free(loop);
}

/* ---- fd watches ---------------------------------------------------------- */

int bh_loop_add_fd(bh_loop *loop, int fd, uint32_t events, bh_fd_cb cb, void *userdata,
		   bh_watch **out)
{
	bh_watch *w;
	int r;

	if (fd < 0 || !cb)
		return -EINVAL;
	w = calloc(1, sizeof *w);
	if (!w)
		return -ENOMEM;
	*w = (bh_watch){ .loop = loop, .kind = SRC_WATCH, .fd = fd,
			 .events = events & (EPOLLIN | EPOLLOUT), .cb = cb, .userdata = userdata };
	r = epoll_add(loop, w);
	if (r < 0) {
		free(w);
		return r;
	}
	if (out)
		*out = w;
	return 0;
}

int bh_watch_set_events(bh_watch *w, uint32_t events)
{
	struct epoll_event ev;

	events &= EPOLLIN | EPOLLOUT;
	if (w->dead)
		return -EBADF;
	if (events == w->events)
		return 0;
	ev.events = events;
	ev.data.ptr = w;
	if (epoll_ctl(w->loop->epfd, EPOLL_CTL_MOD, w->fd, &ev) < 0)
		return -errno;
	w->events = events;
	return 0;
}

void bh_watch_remove(bh_watch *w)
{
	bh_loop *loop;

	if (!w || w->dead)
		return;
	loop = w->loop;
	/* ENOENT/EBADF here mean the caller closed the fd first; nothing to undo. */
	(void)epoll_ctl(loop->epfd, EPOLL_CTL_DEL, w->fd, NULL);
	w->dead = 1;
	if (loop->dispatching) {
		w->next_dead = loop->dead;
		loop->dead = w;
	} else {
		free(w);
	}
}

/* ---- timers -------------------------------------------------------------- */

static int heap_less(const bh_timer *a, const bh_timer *b)
{
	return a->deadline_ns < b->deadline_ns;
}

static void heap_set(bh_loop *loop, size_t i, bh_timer *t)
{
	loop->heap[i] = t;
	t->heap_index = i;
}

static void heap_up(bh_loop *loop, size_t i)
{
	bh_timer *t = loop->heap[i];

	while (i > 0) {
		size_t parent = (i - 1) / 2;

		if (!heap_less(t, loop->heap[parent]))
			break;
		heap_set(loop, i, loop->heap[parent]);
		i = parent;
	}
	heap_set(loop, i, t);
}

static void heap_down(bh_loop *loop, size_t i)
{
	bh_timer *t = loop->heap[i];

	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		const bh_timer *best = t;

		if (l < loop->heap_len && heap_less(loop->heap[l], best)) {
			m = l;
			best = loop->heap[l];
		}
		if (r < loop->heap_len && heap_less(loop->heap[r], best))
			m = r;
		if (m == i)
			break;
		heap_set(loop, i, loop->heap[m]);
		i = m;
	}
	heap_set(loop, i, t);
}

static void heap_remove(bh_loop *loop, bh_timer *t)
{
	size_t i = t->heap_index;
	bh_timer *last;

	t->heap_index = SIZE_MAX;
	last = loop->heap[--loop->heap_len];
	if (last == t)
		return;
	heap_set(loop, i, last);
	if (i > 0 && heap_less(last, loop->heap[(i - 1) / 2]))
		heap_up(loop, i);
	else
		heap_down(loop, i);
}

static int heap_push(bh_loop *loop, bh_timer *t)
{
	if (loop->heap_len == loop->heap_cap) {
		size_t cap = loop->heap_cap ? loop->heap_cap * 2 : 16;
		bh_timer **h = realloc(loop->heap, cap * sizeof *h);

		if (!h)
			return -ENOMEM;
		loop->heap = h;
		loop->heap_cap = cap;
	}
	loop->heap_len++;
	heap_set(loop, loop->heap_len - 1, t);
	heap_up(loop, loop->heap_len - 1);
	return 0;
}

/* Points the timerfd at the earliest deadline, touching it only when that changes. */
static int rearm_timerfd(bh_loop *loop)
{
	uint64_t want = loop->heap_len ? loop->heap[0]->deadline_ns : 0;
	struct itimerspec its;

	if (want == loop->timerfd_deadline)
		return 0;
	memset(&its, 0, sizeof its);
	if (want) {
		its.it_value.tv_sec = (time_t)(want / 1000000000ull);
		its.it_value.tv_nsec = (long)(want % 1000000000ull);
	}
	if (timerfd_settime(loop->timerfd, want ? TFD_TIMER_ABSTIME : 0, &its, NULL) < 0)
		return -errno;
	loop->timerfd_deadline = want;
	return 0;
}

int bh_timer_create(bh_loop *loop, bh_timer_cb cb, void *userdata, bh_timer **out)
{
	bh_timer *t;

	if (!cb)
		return -EINVAL;
	t = calloc(1, sizeof *t);
	if (!t)
		return -ENOMEM;
	t->loop = loop;
	t->cb = cb;
	t->userdata = userdata;
	t->heap_index = SIZE_MAX;
	*out = t;
	return 0;
}

int bh_timer_arm_at(bh_timer *t, uint64_t deadline_ns, uint64_t interval_ms)
{
	bh_loop *loop = t->loop;
	int r;

	if (deadline_ns == 0)
		deadline_ns = 1; /* 0 means "disarmed" to the timerfd */
	t->interval_ns = interval_ms * 1000000ull;
	if (t->heap_index != SIZE_MAX) {
		size_t i = t->heap_index;
		uint64_t old = t->deadline_ns;

		t->deadline_ns = deadline_ns;
		if (deadline_ns < old)
			heap_up(loop, i);
		else
			heap_down(loop, i);
	} else {
		t->deadline_ns = deadline_ns;
		r = heap_push(loop, t);
		if (r < 0)
			return r;
	}
	return rearm_timerfd(loop);
}

int bh_timer_arm(bh_timer *t, uint64_t delay_ms, uint64_t interval_ms)
{
	return bh_timer_arm_at(t, bh_now_ns() + delay_ms * 1000000ull, interval_ms);
}

void bh_timer_disarm(bh_timer *t)
{
	if (!t || t->heap_index == SIZE_MAX)
		return;
	heap_remove(t->loop, t);
	/* A stale timerfd arm only causes one spurious wake-up that finds nothing due. */
	(void)rearm_timerfd(t->loop);
}

int bh_timer_armed(const bh_timer *t)
{
	return t->heap_index != SIZE_MAX;
}

void bh_timer_destroy(bh_timer *t)
{
	if (!t)
		return;
	bh_timer_disarm(t);
	free(t);
}

static void on_timerfd(bh_watch *w, int fd, uint32_t events, void *ud)
{
	bh_loop *loop = ud;
	uint64_t expirations, now;

	/* EAGAIN is fine: the timerfd may have been re-armed since it fired. */
	while (read(fd, &expirations, sizeof expirations) < 0 && errno == EINTR)
		;
	/* A fired one-shot timerfd is disarmed: forget what it was armed for. */
	loop->timerfd_deadline = 0;
	now = bh_now_ns();
	while (loop->heap_len > 0 && loop->heap[0]->deadline_ns <= now && !loop->quit) {
		bh_timer *t = loop->heap[0];

		heap_remove(loop, t);
		if (t->interval_ns) {
			/* Skip missed periods instead of firing a burst after a stall. */
			uint64_t next = t->deadline_ns + t->interval_ns;

			if (next <= now)
				next = now + t->interval_ns;
			t->deadline_ns = next;
			if (heap_push(loop, t) < 0)
				bh__log(loop, BH_LOG_ERROR, "loop: cannot re-arm periodic timer");
		}
		/* The callback may re-arm, disarm or destroy t: do not touch it afterwards. */
		t->cb(t, t->userdata);
	}
	if (rearm_timerfd(loop) < 0)
		bh__log(loop, BH_LOG_ERROR, "loop: timerfd_settime failed: %s", strerror(errno));
}

/* ---- signals ------------------------------------------------------------- */

static int update_signalfd(bh_loop *loop)
{
	int fd = signalfd(loop->sigfd, &loop->sigmask, SFD_CLOEXEC | SFD_NONBLOCK);
	int r;

	if (fd < 0)
		return -errno;
	if (loop->sigfd < 0) {
		loop->sigfd = fd;
		loop->signal_src = (bh_watch){ .loop = loop, .kind = SRC_SIGNALFD, .fd = fd,
					       .events = EPOLLIN, .cb = on_signalfd,
					       .userdata = loop };
		r = epoll_add(loop, &loop->signal_src);
		if (r < 0) {
			loop->sigfd = bh__close(fd);
			return r;
		}
	}
	return 0;
}

int bh_loop_add_signal(bh_loop *loop, int signo, bh_signal_cb cb, void *userdata,
		       bh_sigwatch **out)
{
	bh_sigwatch *s;
	sigset_t one;
	int r;

	if (signo <= 0 || signo >= MAX_SIGNAL || !cb || signo == SIGKILL || signo == SIGSTOP)
		return -EINVAL;
	if (loop->sig[signo])
		return -EEXIST;
	s = calloc(1, sizeof *s);
	if (!s)
		return -ENOMEM;
	*s = (bh_sigwatch){ .loop = loop, .signo = signo, .cb = cb, .userdata = userdata };
	sigemptyset(&one);
	sigaddset(&one, signo);
	r = -pthread_sigmask(SIG_BLOCK, &one, NULL);
	if (r < 0)
		goto fail;
	sigaddset(&loop->sigmask, signo);
	r = update_signalfd(loop);
	if (r < 0) {
		sigdelset(&loop->sigmask, signo);
		(void)pthread_sigmask(SIG_UNBLOCK, &one, NULL);
		goto fail;
	}
	loop->sig[signo] = s;
	if (out)
		*out = s;
	return 0;
fail:
	free(s);
	return r;
}

void bh_sigwatch_remove(bh_sigwatch *s)
{
	bh_loop *loop;
	sigset_t one;

	if (!s)
		return;
	loop = s->loop;
	loop->sig[s->signo] = NULL;
	sigdelset(&loop->sigmask, s->signo);
	/* Narrowing the mask of an existing signalfd cannot fail for valid arguments. */
	if (loop->sigfd >= 0)
		(void)update_signalfd(loop);
	sigemptyset(&one);
	sigaddset(&one, s->signo);
	(void)pthread_sigmask(SIG_UNBLOCK, &one, NULL);
	free(s);
}

static void on_signalfd(bh_watch *w, int fd, uint32_t events, void *ud)
{
	bh_loop *loop = ud;
	struct signalfd_siginfo si;

	/* Bounded: a signal storm must not starve the other sources. */
	for (int i = 0; i < 64 && !loop->quit; i++) {
		ssize_t r = read(fd, &si, sizeof si);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (r != (ssize_t)sizeof si)
			break;
		if (si.ssi_signo < MAX_SIGNAL && loop->sig[si.ssi_signo]) {
			bh_sigwatch *s = loop->sig[si.ssi_signo];

			s->cb(s, &si, s->userdata);
		}
	}
}

int bh_signals_reset(void)
{
	struct sigaction sa;
	sigset_t all;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = SIG_DFL;
	for (int s = 1; s < NSIG; s++) {
		if (s == SIGKILL || s == SIGSTOP)
			continue;
		/* EINVAL for signals libc reserves; those keep libc's handlers. */
		(void)sigaction(s, &sa, NULL);
	}
	sigemptyset(&all);
	if (sigprocmask(SIG_SETMASK, &all, NULL) < 0)
		return -errno;
	return 0;
}

/* ---- defers -------------------------------------------------------------- */

int bh_defer_create(bh_loop *loop, bh_defer_cb cb, void *userdata, bh_defer **out)
{
	bh_defer *d;

	if (!cb)
		return -EINVAL;
	d = calloc(1, sizeof *d);
	if (!d)
		return -ENOMEM;
	d->loop = loop;
	d->cb = cb;
	d->userdata = userdata;
	*out = d;
	return 0;
}

static void defer_unlink(bh_defer *d)
{
	bh_loop *loop = d->loop;

	if (!d->scheduled)
		return;
	if (d->prev)
		d->prev->next = d->next;
	else
		loop->defer_head = d->next;
	if (d->next)
		d->next->prev = d->prev;
	else
		loop->defer_tail = d->prev;
	d->prev = d->next = NULL;
	d->scheduled = 0;
}

void bh_defer_schedule(bh_defer *d)
{
	bh_loop *loop = d->loop;

	if (d->scheduled)
		return;
	d->scheduled = 1;
	d->next = NULL;
	d->prev = loop->defer_tail;
	if (loop->defer_tail)
		loop->defer_tail->next = d;
	else
		loop->defer_head = d;
	loop->defer_tail = d;
}

void bh_defer_destroy(bh_defer *d)
{
	if (!d)
		return;
	defer_unlink(d);
	free(d);
}

/* Runs the defers scheduled before this call; ones scheduled meanwhile wait a round. */
static int run_defers(bh_loop *loop)
{
	bh_defer *last = loop->defer_tail;
	int n = 0;

	while (loop->defer_head && !loop->quit) {
		bh_defer *d = loop->defer_head;
		int was_last = d == last;

		defer_unlink(d);
		n++;
		d->cb(d, d->userdata);
		if (was_last)
			break;
	}
	return n;
}

/* ---- running ------------------------------------------------------------- */

int bh_loop_run_once(bh_loop *loop, int timeout_ms)
{
	struct epoll_event evs[MAX_EVENTS];
	int n, dispatched;

	loop->dispatching++;
	dispatched = run_defers(loop);
	if (loop->defer_head || loop->quit)
		timeout_ms = 0;
	n = epoll_wait(loop->epfd, evs, MAX_EVENTS, timeout_ms);
	if (n < 0) {
		int err = errno;

		loop->dispatching--;
		if (!loop->dispatching)
			free_dead(loop);
		return err == EINTR ? dispatched : -err;
	}
	for (int i = 0; i < n && !loop->quit; i++) {
		bh_watch *w = evs[i].data.ptr;

		if (w->dead)
			continue;
		w->cb(w, w->fd, evs[i].events, w->userdata);
		dispatched++;
	}
	loop->dispatching--;
	if (!loop->dispatching)
		free_dead(loop);
	return dispatched;
}

int bh_loop_run(bh_loop *loop)
{
	loop->quit = 0;
	while (!loop->quit) {
		int r = bh_loop_run_once(loop, -1);

		if (r < 0)
			return r;
	}
	loop->quit = 0;
	return loop->quit_code;
}

void bh_loop_quit(bh_loop *loop, int code)
{
	loop->quit = 1;
	loop->quit_code = code;
}
