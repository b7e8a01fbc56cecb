/*
 * Channel recordings: a real exchange over a real socketpair is recorded in
 * both directions with its fds' kinds, read back exactly, and hostile or
 * broken recording files are refused by the reader.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bulkhead/record.h>

#include "bulkhead.pb-c.h"
#include "testutil.h"

struct peer {
	bh_channel *ch;
	int msgs;
	int bad;
};

static void on_msg(bh_channel *ch, bh_msg *m, void *ud)
{
	struct peer *p = ud;

	p->msgs++;
}

static void on_bad(bh_channel *ch, int reason, const char *detail, void *ud)
{
	struct peer *p = ud;

	p->bad = reason;
}

static const bh_channel_ops ops = { .on_message = on_msg, .on_bad_message = on_bad };

static void pump(bh_loop *loop, const int *flag, int want)
{
	for (int i = 0; i < 200 && *flag < want; i++)
		assert_true(bh_loop_run_once(loop, 10) >= 0);
}

static char *tmp_path(void)
{
	char *path = strdup("/tmp/bh-test-record-XXXXXX");
	int fd = mkstemp(path);

	assert_true(fd >= 0);
	close(fd);
	return path;
}

/* Records b's side of: a -> b heartbeat, a -> b surface attach with a memfd, b -> a shutdown, a raw bad frame. */
static void record_session(const char *path, bh_recorder **out_rec)
{
	bh_registry *reg;
	bh_loop *loop;
	bh_recorder *rec;
	struct peer a = { 0 }, b = { 0 };
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	Bh__SurfaceAttach at = BH__SURFACE_ATTACH__INIT;
	Bh__Shutdown sd = BH__SHUTDOWN__INIT;
	int sv[2], mfd, raw[2];

	assert_int_equal(bh_registry_create(&reg), 0);
	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_recorder_create(path, &rec), 0);
	assert_int_equal(bh_channel_socketpair(sv), 0);
	assert_int_equal(bh_channel_create(loop, reg, sv[0], &ops, &a, NULL, &a.ch), 0);
	assert_int_equal(bh_channel_create(loop, reg, sv[1], &ops, &b, NULL, &b.ch), 0);
	bh_channel_set_recorder(b.ch, rec);

	hb.seq = 42;
	assert_int_equal(bh_channel_send(a.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0), 0);
	at.surface_id = 1;
	at.width = 4;
	mfd = memfd_create("t", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	assert_true(mfd >= 0);
	assert_int_equal(bh_channel_send(a.ch, BH_MSG_SURFACE_ATTACH, &at.base, &mfd, 1), 0);
	close(mfd);
	pump(loop, &b.msgs, 2);
	assert_int_equal(b.msgs, 2);
	sd.grace_ms = 5;
	assert_int_equal(bh_channel_send(b.ch, BH_MSG_SHUTDOWN, &sd.base, NULL, 0), 0);
	pump(loop, &a.msgs, 1);
	assert_int_equal(a.msgs, 1);

	/* A bad frame is recorded as it came, with its pipe fd, before it is refused. */
	bh_channel_destroy(a.ch);
	assert_int_equal(bh_channel_socketpair(sv), 0);
	bh_channel_destroy(b.ch);
	b = (struct peer){ 0 };
	assert_int_equal(bh_channel_create(loop, reg, sv[1], &ops, &b, NULL, &b.ch), 0);
	bh_channel_set_recorder(b.ch, rec);
	assert_int_equal(pipe2(raw, O_CLOEXEC), 0);
	{
		char junk[] = "this is not a bulkhead frame, at all";
		struct iovec iov = { junk, sizeof junk };
		union {
			struct cmsghdr align;
			uint8_t buf[CMSG_SPACE(sizeof(int))];
		} cbuf = { 0 };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.buf,
				     .msg_controllen = sizeof cbuf.buf };
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &raw[0], sizeof(int));
		assert_int_equal(sendmsg(sv[0], &mh, 0), (ssize_t)sizeof junk);
	}
	pump(loop, &b.bad, 1);
	assert_int_equal(b.bad, BH_BAD_MAGIC);
	close(raw[0]);
	close(raw[1]);
	close(sv[0]);
	assert_int_equal(bh_recorder_status(rec), 0);
	assert_int_equal(bh_recorder_count(rec), 4);
	bh_channel_destroy(b.ch);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
	*out_rec = rec;
}

static void test_round_trip(void **state)
{
	int before = bh_test_count_fds();
	char *path = tmp_path();
	bh_recorder *rec;
	bh_record_reader *rd;
	bh_record r;
	bh_header h;
	uint64_t last = 0;

	record_session(path, &rec);
	bh_recorder_destroy(rec);

	assert_int_equal(bh_record_reader_create(path, &rd), 0);
	assert_true(bh_record_reader_start_time(rd) > 0);

	assert_int_equal(bh_record_reader_next(rd, &r), 1);
	assert_int_equal(r.dir, BH_RECORD_RECEIVED);
	assert_int_equal(r.nfds, 0);
	assert_int_equal(bh_header_decode(r.data, r.len, &h), 0);
	assert_int_equal(h.type, BH_MSG_HEARTBEAT);
	last = r.time_ns;

	assert_int_equal(bh_record_reader_next(rd, &r), 1);
	assert_int_equal(r.dir, BH_RECORD_RECEIVED);
	assert_int_equal(bh_header_decode(r.data, r.len, &h), 0);
	assert_int_equal(h.type, BH_MSG_SURFACE_ATTACH);
	assert_int_equal(r.nfds, 1);
	assert_int_equal(r.fd_kinds[0], BH_FD_KIND_MEMFD);
	assert_true(r.time_ns >= last);

	assert_int_equal(bh_record_reader_next(rd, &r), 1);
	assert_int_equal(r.dir, BH_RECORD_SENT);
	assert_int_equal(bh_header_decode(r.data, r.len, &h), 0);
	assert_int_equal(h.type, BH_MSG_SHUTDOWN);

	assert_int_equal(bh_record_reader_next(rd, &r), 1);
	assert_int_equal(r.dir, BH_RECORD_RECEIVED);
	assert_int_equal(r.len, sizeof "this is not a bulkhead frame, at all");
	assert_memory_equal(r.data, "this is not a bulkhead frame, at all", r.len);
	assert_int_equal(r.nfds, 1);
	assert_int_equal(r.fd_kinds[0], BH_FD_KIND_PIPE);

	assert_int_equal(bh_record_reader_next(rd, &r), 0);
	assert_int_equal(bh_record_reader_next(rd, &r), 0);
	bh_record_reader_destroy(rd);
	unlink(path);
	free(path);
	assert_int_equal(bh_test_count_fds(), before);
}

static void ignore_reply(bh_channel *ch, int status, bh_msg *reply, void *ud)
{
}

/* A request that leaves at once, without the queue, is recorded all the same. */
static void test_request_sent_at_once_is_recorded(void **state)
{
	char *path = tmp_path();
	bh_registry *reg;
	bh_loop *loop;
	bh_recorder *rec;
	bh_record_reader *rd;
	bh_record r;
	bh_header h;
	bh_channel_stats st;
	struct peer a = { 0 };
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	int sv[2];

	assert_int_equal(bh_registry_create(&reg), 0);
	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_recorder_create(path, &rec), 0);
	assert_int_equal(bh_channel_socketpair(sv), 0);
	assert_int_equal(bh_channel_create(loop, reg, sv[0], &ops, &a, NULL, &a.ch), 0);
	bh_channel_set_recorder(a.ch, rec);
	hb.seq = 7;
	assert_int_equal(bh_channel_call(a.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0, 0, ignore_reply, NULL), 0);
	bh_channel_get_stats(a.ch, &st);
	assert_int_equal(st.queued_msgs, 0);
	assert_int_equal(st.msgs_sent, 1);
	assert_int_equal(bh_recorder_count(rec), 1);
	bh_channel_destroy(a.ch);
	close(sv[1]);
	bh_recorder_destroy(rec);

	assert_int_equal(bh_record_reader_create(path, &rd), 0);
	assert_int_equal(bh_record_reader_next(rd, &r), 1);
	assert_int_equal(r.dir, BH_RECORD_SENT);
	assert_int_equal(bh_header_decode(r.data, r.len, &h), 0);
	assert_int_equal(h.type, BH_MSG_HEARTBEAT);
	assert_true(h.flags & BH_FLAG_REQUEST);
	assert_int_equal(bh_record_reader_next(rd, &r), 0);
	bh_record_reader_destroy(rd);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
	unlink(path);
	free(path);
}

static void write_file(const char *path, const void *data, size_t n)
{
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);

	assert_true(fd >= 0);
	assert_int_equal(write(fd, data, n), (ssize_t)n);
	close(fd);
}

static void test_reader_refuses_bad_files(void **state)
{
	int before = bh_test_count_fds();
	char *path = tmp_path();
	bh_recorder *rec;
	bh_record_reader *rd;
	bh_record r;
	uint8_t *data;
	struct stat st;
	int fd;

	/* Not a recording at all, and a header cut short. */
	write_file(path, "BHD1 something else entirely", 28);
	assert_int_equal(bh_record_reader_create(path, &rd), -EBADMSG);
	write_file(path, "BHREC", 5);
	assert_int_equal(bh_record_reader_create(path, &rd), -EBADMSG);
	assert_int_equal(bh_record_reader_create("/nonexistent/x", &rd), -ENOENT);

	/* A real recording, then damaged in several ways. */
	record_session(path, &rec);
	bh_recorder_destroy(rec);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	assert_true(fd >= 0 && fstat(fd, &st) == 0);
	data = malloc((size_t)st.st_size);
	assert_int_equal(read(fd, data, (size_t)st.st_size), st.st_size);
	close(fd);

	/* A newer format. */
	data[8] = 2;
	write_file(path, data, (size_t)st.st_size);
	assert_int_equal(bh_record_reader_create(path, &rd), -EPROTONOSUPPORT);
	data[8] = 1;

	/* Cut inside the last record: earlier records still read, then -EBADMSG, and it stays. */
	write_file(path, data, (size_t)st.st_size - 3);
	assert_int_equal(bh_record_reader_create(path, &rd), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(bh_record_reader_next(rd, &r), 1);
	assert_int_equal(bh_record_reader_next(rd, &r), -EBADMSG);
	assert_int_equal(bh_record_reader_next(rd, &r), -EBADMSG);
	bh_record_reader_destroy(rd);

	/* A first record claiming more than BH_RECORD_MAX_LEN, and one with an unknown direction. */
	{
		uint8_t *bad = malloc((size_t)st.st_size);

		memcpy(bad, data, (size_t)st.st_size);
		bad[BH_RECORD_FILE_HEADER_SIZE + 4 + 2] = 0x10; /* len += 1 MiB */
		write_file(path, bad, (size_t)st.st_size);
		assert_int_equal(bh_record_reader_create(path, &rd), 0);
		assert_int_equal(bh_record_reader_next(rd, &r), -EBADMSG);
		bh_record_reader_destroy(rd);

		memcpy(bad, data, (size_t)st.st_size);
		bad[BH_RECORD_FILE_HEADER_SIZE] = 7;
		write_file(path, bad, (size_t)st.st_size);
		assert_int_equal(bh_record_reader_create(path, &rd), 0);
		assert_int_equal(bh_record_reader_next(rd, &r), -EBADMSG);
		bh_record_reader_destroy(rd);
		free(bad);
	}
	free(data);
	unlink(path);
	free(path);
	assert_int_equal(bh_test_count_fds(), before);
}

/* A recorder that cannot write never disturbs the channel it records. */
static void test_write_error_is_contained(void **state)
{
	int before = bh_test_count_fds();
	bh_registry *reg;
	bh_loop *loop;
	bh_recorder *rec;
	struct peer a = { 0 }, b = { 0 };
	Bh__Heartbeat hb = BH__HEARTBEAT__INIT;
	int sv[2], fd = open("/dev/full", O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		skip();
	/* Refused while writing the file header; the fd was taken and closed. */
	assert_int_equal(bh_recorder_create_fd(fd, &rec), -ENOSPC);
	assert_int_equal(bh_test_count_fds(), before);

	/* One that fails later: a pipe whose reader is gone (EPIPE once SIGPIPE is ignored). */
	signal(SIGPIPE, SIG_IGN);
	{
		int p[2];

		assert_int_equal(pipe2(p, O_CLOEXEC), 0);
		assert_int_equal(bh_recorder_create_fd(p[1], &rec), 0);
		close(p[0]);
	}
	assert_int_equal(bh_registry_create(&reg), 0);
	assert_int_equal(bh_loop_create(&loop), 0);
	assert_int_equal(bh_channel_socketpair(sv), 0);
	assert_int_equal(bh_channel_create(loop, reg, sv[0], &ops, &a, NULL, &a.ch), 0);
	assert_int_equal(bh_channel_create(loop, reg, sv[1], &ops, &b, NULL, &b.ch), 0);
	bh_channel_set_recorder(b.ch, rec);
	for (int i = 1; i <= 3; i++) {
		hb.seq = (uint64_t)i;
		assert_int_equal(bh_channel_send(a.ch, BH_MSG_HEARTBEAT, &hb.base, NULL, 0), 0);
	}
	pump(loop, &b.msgs, 3);
	assert_int_equal(b.msgs, 3);
	assert_int_equal(bh_recorder_status(rec), -EPIPE);
	assert_int_equal(bh_recorder_count(rec), 0);
	bh_channel_set_recorder(b.ch, NULL);
	bh_channel_destroy(a.ch);
	bh_channel_destroy(b.ch);
	bh_recorder_destroy(rec);
	bh_loop_destroy(loop);
	bh_registry_destroy(reg);
	assert_int_equal(bh_test_count_fds(), before);
}

static void test_fd_kinds(void **state)
{
	int p[2], m = memfd_create("k", MFD_CLOEXEC), n = open("/dev/null", O_RDONLY | O_CLOEXEC);
	int d = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC), sv[2];

	assert_int_equal(pipe2(p, O_CLOEXEC), 0);
	assert_int_equal(bh_channel_socketpair(sv), 0);
	assert_int_equal(bh_record_fd_kind(m), BH_FD_KIND_MEMFD);
	assert_int_equal(bh_record_fd_kind(p[0]), BH_FD_KIND_PIPE);
	assert_int_equal(bh_record_fd_kind(sv[0]), BH_FD_KIND_SOCKET);
	assert_int_equal(bh_record_fd_kind(n), BH_FD_KIND_CHAR);
	assert_int_equal(bh_record_fd_kind(d), BH_FD_KIND_DIR);
	assert_int_equal(bh_record_fd_kind(-1), BH_FD_KIND_OTHER);
	assert_string_equal(bh_record_fd_kind_name(BH_FD_KIND_PIPE), "pipe");
	assert_string_equal(bh_record_fd_kind_name(200), "unknown");
	close(p[0]);
	close(p[1]);
	close(m);
	close(n);
	close(d);
	close(sv[0]);
	close(sv[1]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_request_sent_at_once_is_recorded),
		cmocka_unit_test(test_reader_refuses_bad_files),
		cmocka_unit_test(test_write_error_is_contained),
		cmocka_unit_test(test_fd_kinds),
	};

	bh_test_deadline(120);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
