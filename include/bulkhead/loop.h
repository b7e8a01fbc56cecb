/*
 * bulkhead event loop: epoll-based dispatch of fd readiness, timers
 * (timerfd), signals (signalfd) and deferred callbacks. Every bulkhead
 * process runs one. Nothing in it busy-waits.
 *
 * Threading: a loop and everything attached to it belong to one thread.
 * None of these functions may be called concurrently on the same loop.
 *
 * Re-entrancy: callbacks may add or remove any watch, timer, signal or defer
 * of the same loop, including the one being dispatched; a removed item's
 * callback is never called again, even if its event was already collected.
 */
#ifndef BULKHEAD_LOOP_H
#define BULKHEAD_LOOP_H

#include <bulkhead/common.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct bh_loop bh_loop;
typedef struct bh_watch bh_watch;
typedef struct bh_timer bh_timer;
typedef struct bh_sigwatch bh_sigwatch;
typedef struct bh_defer bh_defer;

/* Readiness bits, the same values as EPOLLIN/EPOLLOUT/EPOLLERR/EPOLLHUP. */
enum {
	BH_EV_IN = 0x001,
	BH_EV_OUT = 0x004,
	BH_EV_ERR = 0x008,
	BH_EV_HUP = 0x010,
};

typedef void (*bh_fd_cb)(bh_watch *w, int fd, uint32_t events, void *userdata);
typedef void (*bh_timer_cb)(bh_timer *t, void *userdata);
typedef void (*bh_signal_cb)(bh_sigwatch *s, const void *siginfo, void *userdata);
typedef void (*bh_defer_cb)(bh_defer *d, void *userdata);

/*
 * Creates a loop. Its epoll fd, timerfd and signalfd are close-on-exec.
 * Returns 0 and stores the loop in *out, or -errno (-ENOMEM, -EMFILE, ...).
 */
BH_EXPORT int bh_loop_create(bh_loop **out);

/*
 * Destroys the loop and frees every watch, timer, sigwatch and defer still
 * attached (their handles become invalid). Fds being watched are NOT closed:
 * they belong to whoever added them. Signals the loop blocked are unblocked.
 * Must not be called from inside a callback of the same loop. NULL is a no-op.
 */
BH_EXPORT void bh_loop_destroy(bh_loop *loop);

/* Installs the logging hook for everything on this loop (NULL: discard). */
BH_EXPORT void bh_loop_set_logger(bh_loop *loop, bh_log_fn fn, void *userdata);

/*
 * Runs until bh_loop_quit() is called, then returns the code given to it.
 * Returns a negative errno if epoll_wait() fails for a reason other than EINTR.
 */
BH_EXPORT int bh_loop_run(bh_loop *loop);

/*
 * Runs pending deferred callbacks, then waits at most `timeout_ms` (-1: no
 * limit, 0: do not wait) for events and dispatches them. Returns the number
 * of callbacks dispatched, or -errno.
 */
BH_EXPORT int bh_loop_run_once(bh_loop *loop, int timeout_ms);

/* Makes bh_loop_run() return `code` once the current dispatch round ends. */
BH_EXPORT void bh_loop_quit(bh_loop *loop, int code);

/* Monotonic clock in nanoseconds (CLOCK_MONOTONIC). Thread-safe. */
BH_EXPORT uint64_t bh_now_ns(void);

/* ---- fd watches ---------------------------------------------------------- */

/*
 * Watches `fd` for `events` (BH_EV_IN and/or BH_EV_OUT; errors and hang-up
 * are always reported). Level-triggered. The fd stays owned by the caller and
 * must stay open until the watch is removed. Returns 0 and the handle in
 * *out (may be NULL if the caller never removes it before bh_loop_destroy),
 * -EEXIST if the fd is already watched by this loop, or -errno.
 */
BH_EXPORT int bh_loop_add_fd(bh_loop *loop, int fd, uint32_t events, bh_fd_cb cb,
			     void *userdata, bh_watch **out);

/* Changes the events a watch waits for. Returns 0 or -errno. */
BH_EXPORT int bh_watch_set_events(bh_watch *w, uint32_t events);

/* Stops watching and frees the handle; the fd is not closed. NULL is a no-op. */
BH_EXPORT void bh_watch_remove(bh_watch *w);

/* ---- timers ------------------------------------------------------------ */

/*
 * Creates a disarmed timer. Timers share one timerfd per loop; arming one
 * does not allocate. Returns 0 and the handle in *out, or -ENOMEM.
 */
BH_EXPORT int bh_timer_create(bh_loop *loop, bh_timer_cb cb, void *userdata, bh_timer **out);

/*
 * Arms (or re-arms) the timer to fire `delay_ms` from now and then, if
 * `interval_ms` is non-zero, every `interval_ms` after that. A timer that is
 * already armed is moved. Returns 0 or -errno.
 */
BH_EXPORT int bh_timer_arm(bh_timer *t, uint64_t delay_ms, uint64_t interval_ms);

/* Same as bh_timer_arm() with an absolute CLOCK_MONOTONIC deadline in ns. */
BH_EXPORT int bh_timer_arm_at(bh_timer *t, uint64_t deadline_ns, uint64_t interval_ms);

/* Disarms the timer; it can be armed again. */
BH_EXPORT void bh_timer_disarm(bh_timer *t);

/* True if the timer is armed. */
BH_EXPORT int bh_timer_armed(const bh_timer *t);

/* Disarms and frees the timer. NULL is a no-op. */
BH_EXPORT void bh_timer_destroy(bh_timer *t);

/* ---- signals ----------------------------------------------------------- */

/*
 * Delivers `signo` through the loop's signalfd. The signal is blocked in the
 * calling thread (sigprocmask) while any sigwatch for it exists; children
 * forked meanwhile inherit that mask and must reset it (bh_signals_reset()).
 * `siginfo` passed to the callback points to a struct signalfd_siginfo.
 * One sigwatch per signal per loop: -EEXIST otherwise. Returns 0 or -errno.
 */
BH_EXPORT int bh_loop_add_signal(bh_loop *loop, int signo, bh_signal_cb cb, void *userdata,
				 bh_sigwatch **out);

/* Stops delivering the signal, unblocks it and frees the handle. NULL is a no-op. */
BH_EXPORT void bh_sigwatch_remove(bh_sigwatch *s);

/*
 * For a freshly forked child: unblocks every signal and restores default
 * dispositions, so that nothing the parent's loop did leaks into it.
 * Async-signal-safe. Returns 0 or -errno.
 */
BH_EXPORT int bh_signals_reset(void);

/* ---- deferred callbacks ------------------------------------------------ */

/*
 * Creates a defer handle: a callback that, once scheduled, runs at the start
 * of the next dispatch round (before the loop sleeps). Scheduling does not
 * allocate. Returns 0 and the handle, or -ENOMEM.
 */
BH_EXPORT int bh_defer_create(bh_loop *loop, bh_defer_cb cb, void *userdata, bh_defer **out);

/* Schedules the callback once; scheduling an already scheduled defer is a no-op. */
BH_EXPORT void bh_defer_schedule(bh_defer *d);

/* Unschedules and frees. NULL is a no-op. */
BH_EXPORT void bh_defer_destroy(bh_defer *d);

#ifdef __cplusplus
}
#endif
#endif
