/* Event loop: fd watches, timers, signals, defers, removal during dispatch. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <bulkhead/loop.h>

#include "testutil.h"

struct counter {
	int n;
	bh_loop *loop;
	int quit_at;
	void *handle;
};

static void on_readable(bh_watch *w, int fd, uint32_t events, void *ud)
{
	struct counter *c = ud;
	char buf[16];

	assert_true(events & BH_EV_IN);
	assert_true(read(fd, buf, sizeof buf) > 0);
	if (++c->n == c->quit_at)
		bh_loop_quit(c->loop, 7);
}

static void test_fd_watch(void **state)
{
	int before = bh_test_count_fds(), p[2];
	bh_loop *loop;
	bh_watch *w;
	struct counter c = { .quit_at = 3 };

	assert_int_equal(bh_loop_create(&loop), 0);
	c.loop = loop;
	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(bh_loop_add_fd(loop, p[0], BH_EV_IN, on_readable, &c, &w), 0);
	assert_int_equal(bh_loop_add_fd(loop, p[0], BH_EV_IN, on_readable, &c, NULL), -EEXIST);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(write(p[1], "x", 1), 1);
		assert_true(bh_loop_run_once(loop, 1000) >= 1);
	}
	assert_int_equal(c.n, 3);
	/* Nothing ready: a zero timeout returns at once with nothing dispatched. */
	assert_int_equal(bh_loop_run_once(loop, 0), 0);
	bh_watch_remove(w);
	assert_int_equal(write(p[1], "x", 1), 1);
	assert_int_equal(bh_loop_run_once(loop, 0), 0);
	close(p[0]);
	close(p[1]);
	bh_loop_destroy(loop);
	assert_int_equal(bh_test_count_fds(), before);
}

/* Two fds ready in one round; the first callback removes the second watch. */
struct pair {
	bh_watch *other;
	int calls;
};

static void remove_other(bh_watch *w, int fd, uint32_t events, void *ud)
{
	struct pair *p = ud;
	char b;

	(void)!read(fd, &b, 1);
	p->calls++;
	bh_watch_remove(p->other);
	bh_watch_remove(w);
}

static void test_remove_during_dispatch(void **state)
{
	bh_loop *loop;
	int a[2], b[2];
	struct pair pa = { 0 }, pb = { 0 };
	bh_watch *wa, *wb;

	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(pipe2(a, O_CLOEXEC), 0);
	assert_int_equal(pipe2(b, O_CLOEXEC), 0);
	assert_int_equal(bh_loop_add_fd(loop, a[0], BH_EV_IN, remove_other, &pa, &wa), 0);
	assert_int_equal(bh_loop_add_fd(loop, b[0], BH_EV_IN, remove_other, &pb, &wb), 0);
	pa.other = wb;
	pb.other = wa;
	assert_int_equal(write(a[1], "x", 1), 1);
	assert_int_equal(write(b[1], "x", 1), 1);
	assert_int_equal(bh_loop_run_once(loop, 1000), 1);
	assert_int_equal(pa.calls + pb.calls, 1);
	bh_loop_destroy(loop);
	close(a[0]);
	close(a[1]);
	close(b[0]);
	close(b[1]);
}

static int order[8];
static int norder;

static void timer_record(bh_timer *t, void *ud)
{
	order[norder++] = (int)(intptr_t)ud;
}

static void test_timers_order(void **state)
{
	bh_loop *loop;
	bh_timer *t[4];
	uint64_t start;

	norder = 0;
	assert_int_equal(bh_loop_create(&loop), 0);
	for (int i = 0; i < 4; i++)
		assert_int_equal(bh_timer_create(loop, timer_record, (void *)(intptr_t)i, &t[i]), 0);
	/* Taken before arming: a timer must never fire before its delay. */
	start = bh_now_ns();
	assert_int_equal(bh_timer_arm(t[0], 40, 0), 0);
	assert_int_equal(bh_timer_arm(t[1], 10, 0), 0);
	assert_int_equal(bh_timer_arm(t[2], 30, 0), 0);
	assert_int_equal(bh_timer_arm(t[3], 20, 0), 0);
	bh_timer_disarm(t[2]);
	assert_false(bh_timer_armed(t[2]));
	while (norder < 3)
		assert_true(bh_loop_run_once(loop, 2000) >= 0);
	/* Order, not timing, is asserted. */
	assert_int_equal(order[0], 1);
	assert_int_equal(order[1], 3);
	assert_int_equal(order[2], 0);
	assert_true(bh_now_ns() - start >= 40 * 1000000ull);
	assert_false(bh_timer_armed(t[0]));
	for (int i = 0; i < 4; i++)
		bh_timer_destroy(t[i]);
	bh_loop_destroy(loop);
}

static void periodic(bh_timer *t, void *ud)
{
	struct counter *c = ud;

	if (++c->n == 5) {
		bh_timer_destroy(t); /* destroying itself from its own callback */
		bh_loop_quit(c->loop, 0);
	}
}

static void test_periodic_timer(void **state)
{
	bh_loop *loop;
	bh_timer *t;
	struct counter c = { 0 };

	assert_int_equal(bh_loop_create(&loop), 0);
	c.loop = loop;
	assert_int_equal(bh_timer_create(loop, periodic, &c, &t), 0);
	assert_int_equal(bh_timer_arm(t, 1, 2), 0);
	assert_int_equal(bh_loop_run(loop), 0);
	assert_int_equal(c.n, 5);
	bh_loop_destroy(loop);
}

static void on_sig(bh_sigwatch *s, const void *info, void *ud)
{
	const struct signalfd_siginfo *si = info;
	struct counter *c = ud;

	assert_int_equal(si->ssi_signo, SIGUSR1);
	c->n++;
	bh_loop_quit(c->loop, 3);
}

static void test_signal(void **state)
{
	bh_loop *loop;
	bh_sigwatch *s;
	struct counter c = { 0 };
	sigset_t cur;

	assert_int_equal(bh_loop_create(&loop), 0);
	c.loop = loop;
	assert_int_equal(bh_loop_add_signal(loop, SIGUSR1, on_sig, &c, &s), 0);
	assert_int_equal(bh_loop_add_signal(loop, SIGUSR1, on_sig, &c, NULL), -EEXIST);
	assert_int_equal(bh_loop_add_signal(loop, SIGKILL, on_sig, &c, NULL), -EINVAL);
	assert_int_equal(kill(getpid(), SIGUSR1), 0);
	assert_int_equal(bh_loop_run(loop), 3);
	assert_int_equal(c.n, 1);
	bh_sigwatch_remove(s);
	assert_int_equal(sigprocmask(SIG_BLOCK, NULL, &cur), 0);
	assert_false(sigismember(&cur, SIGUSR1));
	bh_loop_destroy(loop);
}

static void defer_cb(bh_defer *d, void *ud)
{
	struct counter *c = ud;

	c->n++;
	if (c->n < 3)
		bh_defer_schedule(d); /* runs again next round, not in this one */
}

static void test_defer(void **state)
{
	bh_loop *loop;
	bh_defer *d;
	struct counter c = { 0 };

	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_defer_create(loop, defer_cb, &c, &d), 0);
	bh_defer_schedule(d);
	bh_defer_schedule(d);
	/* A pending defer makes the loop not sleep: a -1 timeout still returns. */
	assert_int_equal(bh_loop_run_once(loop, -1), 1);
	assert_int_equal(c.n, 1);
	assert_int_equal(bh_loop_run_once(loop, -1), 1);
	/* The last run schedules nothing more, so it must not be given -1. */
	assert_int_equal(bh_loop_run_once(loop, 0), 1);
	assert_int_equal(c.n, 3);
	assert_int_equal(bh_loop_run_once(loop, 0), 0);
	bh_defer_destroy(d);
	bh_loop_destroy(loop);
}

static void test_destroy_frees_everything(void **state)
{
	int before = bh_test_count_fds();
	bh_loop *loop;
	bh_timer *t;
	bh_defer *d;
	struct counter c = { 0 };

	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_timer_create(loop, periodic, &c, &t), 0);
	assert_int_equal(bh_timer_arm(t, 1000, 0), 0);
	assert_int_equal(bh_defer_create(loop, defer_cb, &c, &d), 0);
	bh_defer_schedule(d);
	assert_int_equal(bh_loop_add_signal(loop, SIGUSR2, on_sig, &c, NULL), 0);
	bh_loop_destroy(loop); /* ASan reports any leak */
	assert_int_equal(bh_test_count_fds(), before);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fd_watch),
		cmocka_unit_test(test_remove_during_dispatch),
		cmocka_unit_test(test_timers_order),
		cmocka_unit_test(test_periodic_timer),
		cmocka_unit_test(test_signal),
		cmocka_unit_test(test_defer),
		cmocka_unit_test(test_destroy_frees_everything),
	};

	bh_test_deadline(60);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
