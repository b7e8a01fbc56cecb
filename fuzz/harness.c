/* Helpers shared by the harnesses: registry, fds, sending and checking. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <ftw.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/un.h>
#include <unistd.h>

#include <bulkhead/shm.h>

#include "bulkhead.pb-c.h"
#include "common/flat.h"
#include "common/internal.h"
#include "fuzz/fuzz.h"
#include "fuzz_test.pb-c.h"

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

void bh_fuzz_list_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[300], target[256];
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof path, "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof target - 1);
		target[n > 0 ? n : 0] = 0;
		fprintf(stderr, "  fd %s -> %s\n", e->d_name, target);
	}
	closedir(d);
}

void bh_fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("bulkhead fuzz invariant broken: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

int bh_fuzz_registry_create(bh_registry **out)
{
	bh_registry *reg;
	int r = bh_registry_create(&reg);

	if (r < 0)
		return r;
	if ((r = bh_registry_add(reg, BH_FUZZ_MSG_ALL_KINDS, &bhfuzz__all_kinds__descriptor,
				 BH_MAX_FDS)) < 0 ||
	    (r = bh_registry_add_fds(reg, BH_FUZZ_MSG_LEAF, &bhfuzz__leaf__descriptor, 1, 2)) < 0) {
		bh_registry_destroy(reg);
		return r;
	}
	*out = reg;
	return 0;
}

/* Cached across calls: rewinding a /proc directory re-reads it, and saves two syscalls per input. */
static int proc_fd_dir = -1;

int bh_fuzz_count_fds(void)
{
	char buf[4096];
	int n = 0;
	long got;

	if (proc_fd_dir < 0) {
		proc_fd_dir = open("/proc/self/fd", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (proc_fd_dir < 0)
			bh_fuzz_fail("cannot open /proc/self/fd: %s", strerror(errno));
	}
	if (lseek(proc_fd_dir, 0, SEEK_SET) < 0)
		bh_fuzz_fail("cannot rewind /proc/self/fd: %s", strerror(errno));
	while ((got = syscall(SYS_getdents64, proc_fd_dir, buf, sizeof buf)) > 0) {
		for (long off = 0; off < got;) {
			/* struct linux_dirent64: u64 ino, s64 off, u16 reclen, u8 type, name */
			unsigned short reclen;
			const char *name = buf + off + 19;

			memcpy(&reclen, buf + off + 16, sizeof reclen);
			if (name[0] != '.')
				n++;
			off += reclen;
		}
	}
	if (got < 0)
		bh_fuzz_fail("cannot read /proc/self/fd: %s", strerror(errno));
	return n;
}

int bh_fuzz_fdset_init(bh_fuzz_fdset *set)
{
	int p[2], sv[2];

	for (unsigned i = 0; i < 4; i++)
		set->fd[i] = -1;
	set->keep[0] = set->keep[1] = -1;
	set->fd[BH_FUZZ_FD_MEMFD] = memfd_create("bh-fuzz", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (set->fd[BH_FUZZ_FD_MEMFD] < 0 || ftruncate(set->fd[BH_FUZZ_FD_MEMFD], 4096) < 0)
		goto fail;
	if (pipe2(p, O_CLOEXEC) < 0)
		goto fail;
	set->fd[BH_FUZZ_FD_PIPE] = p[0];
	set->keep[0] = p[1];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		goto fail;
	set->fd[BH_FUZZ_FD_SOCKET] = sv[0];
	set->keep[1] = sv[1];
	set->fd[BH_FUZZ_FD_DEVNULL] = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (set->fd[BH_FUZZ_FD_DEVNULL] < 0)
		goto fail;
	return 0;
fail:;
	int r = -errno;

	bh_fuzz_fdset_fini(set);
	return r;
}

void bh_fuzz_fdset_fini(bh_fuzz_fdset *set)
{
	for (unsigned i = 0; i < 4; i++) {
		if (set->fd[i] >= 0)
			close(set->fd[i]);
		set->fd[i] = -1;
	}
	for (unsigned i = 0; i < 2; i++) {
		if (set->keep[i] >= 0)
			close(set->keep[i]);
		set->keep[i] = -1;
	}
}

int bh_fuzz_send(int sock, const uint8_t *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE((BH_FUZZ_MAX_FDS + BH_FUZZ_FLOOD_FDS) * sizeof(int))];
	} cbuf;
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };

	if (nfds > BH_FUZZ_MAX_FDS + BH_FUZZ_FLOOD_FDS)
		return -EINVAL;
	if (nfds) {
		struct cmsghdr *c;

		memset(&cbuf, 0, sizeof cbuf);
		mh.msg_control = cbuf.b;
		mh.msg_controllen = CMSG_SPACE(nfds * sizeof(int));
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(nfds * sizeof(int));
		memcpy(CMSG_DATA(c), fds, nfds * sizeof(int));
	}
	for (;;) {
		ssize_t r = sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (r >= 0)
			return (size_t)r == len ? 0 : -EIO;
		if (errno != EINTR)
			return -errno;
	}
}

void bh_fuzz_drain(int sock)
{
	static uint8_t buf[BH_MAX_MESSAGE];
	union {
		struct cmsghdr align;
		uint8_t b[CMSG_SPACE(64 * sizeof(int))];
	} cbuf;

	for (;;) {
		struct iovec iov = { .iov_base = buf, .iov_len = sizeof buf };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf.b,
				     .msg_controllen = sizeof cbuf.b };
		ssize_t r = recvmsg(sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return;
		if (r == 0 && mh.msg_controllen == 0) {
			struct pollfd p = { .fd = sock, .events = POLLIN };

			/* End of stream once the peer is gone; else an empty datagram, and more may follow. */
			if (poll(&p, 1, 0) <= 0 || (p.revents & POLLHUP))
				return;
		}
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);

			for (size_t j = 0; j < k; j++) {
				int fd;

				memcpy(&fd, CMSG_DATA(c) + j * sizeof(int), sizeof fd);
				close(fd);
			}
		}
	}
}

/* ---- envelope ---------------------------------------------------------------- */

void bh_fuzz_envelope_parse(const uint8_t *data, size_t size, bh_fuzz_envelope *env)
{
	unsigned n;

	memset(env, 0, sizeof *env);
	if (size == 0) {
		env->frame = data;
		return;
	}
	env->ctl = data[0];
	n = data[0] & 0x0f;
	if (n > BH_FUZZ_MAX_FDS)
		n = BH_FUZZ_MAX_FDS;
	if (n > size - 1)
		n = (unsigned)(size - 1);
	env->nfds = n;
	memcpy(env->kinds, data + 1, n);
	env->frame = data + 1 + n;
	env->frame_len = size - 1 - n;
}

size_t bh_fuzz_envelope_build(const bh_fuzz_envelope *env, uint8_t *out, size_t max)
{
	unsigned n = env->nfds > BH_FUZZ_MAX_FDS ? BH_FUZZ_MAX_FDS : env->nfds;
	size_t total = 1 + n + env->frame_len;

	if (total > max)
		return 0;
	/* memmove: the frame may already sit inside `out`. */
	memmove(out + 1 + n, env->frame, env->frame_len);
	out[0] = (uint8_t)((env->ctl & ~0x0fu) | n);
	memcpy(out + 1, env->kinds, n);
	return total;
}

/* ---- a directory tree for the file broker -------------------------------------- */

const char bh_fuzz_tree_odd_name[] = "odd\x01\x7f\xff\xfe name\n\t.html";

static char tree_top[64];
static pid_t tree_owner;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	return flag == FTW_DP ? rmdir(path) : unlink(path);
}

static void tree_remove(void)
{
	/* Only the process that made it removes it: a forked child that exits must not. */
	if (tree_top[0] && tree_owner == getpid())
		(void)nftw(tree_top, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static int put_file(const char *dir, const char *name, const char *text)
{
	char path[512];
	int fd;

	snprintf(path, sizeof path, "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
		close(fd);
		return -EIO;
	}
	close(fd);
	return 0;
}

static int put_link(const char *dir, const char *name, const char *target)
{
	char path[512];

	snprintf(path, sizeof path, "%s/%s", dir, name);
	return symlink(target, path) < 0 ? -errno : 0;
}

/*
 * A run killed outright (SIGKILL from afl-fuzz, a sanitizer's exit) leaves
 * its tree behind: the directory names the pid that made it, so the next
 * run removes those whose process is gone.
 */
static void tree_sweep(void)
{
	DIR *d = opendir("/tmp");
	struct dirent *e;

	if (!d)
		return;
	while ((e = readdir(d)) != NULL) {
		char path[300], rest[16];
		int pid;

		if (sscanf(e->d_name, "bh-fuzz-%d-%15s", &pid, rest) != 2 || pid <= 0 ||
		    strlen(rest) != 6 || (kill(pid, 0) == 0 || errno != ESRCH))
			continue;
		snprintf(path, sizeof path, "/tmp/%s", e->d_name);
		(void)nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	}
	closedir(d);
}

int bh_fuzz_tree_create(bh_fuzz_tree *t)
{
	char path[512];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int r = 0, s;

	memset(t, 0, sizeof *t);
	tree_sweep();
	snprintf(t->top, sizeof t->top, "/tmp/bh-fuzz-%d-XXXXXX", (int)getpid());
	if (!mkdtemp(t->top))
		return -errno;
	snprintf(tree_top, sizeof tree_top, "%s", t->top);
	tree_owner = getpid();
	atexit(tree_remove);
	snprintf(t->root, sizeof t->root, "%s/root", t->top);
	snprintf(t->img, sizeof t->img, "%s/img", t->root);
	if (mkdir(t->root, 0755) < 0 || mkdir(t->img, 0755) < 0)
		return -errno;
	snprintf(path, sizeof path, "%s/sub", t->root);
	if (mkdir(path, 0755) < 0)
		return -errno;
	snprintf(path, sizeof path, "%s/sub/deep", t->root);
	if (mkdir(path, 0755) < 0)
		return -errno;
	snprintf(path, sizeof path, "%s/dir.html", t->root);
	if (mkdir(path, 0755) < 0)
		return -errno;
	if ((r = put_file(t->top, "outside.txt", "secret outside the rule directory\n")) < 0 ||
	    (r = put_file(t->root, "page.html", "<p>hello</p>\n")) < 0 ||
	    (r = put_file(t->root, "a.txt", "text\n")) < 0 ||
	    (r = put_file(t->root, "empty.html", "")) < 0 ||
	    (r = put_file(t->root, "sub/deep/b.html", "<p>deep</p>\n")) < 0 ||
	    (r = put_file(t->img, "cat.png", "\x89PNG\r\n\x1a\n")) < 0 ||
	    (r = put_file(t->img, "notes.txt", "notes\n")) < 0 ||
	    (r = put_file(t->root, bh_fuzz_tree_odd_name, "odd\n")) < 0)
		return r;
	if ((r = put_link(t->root, "link-in.html", "page.html")) < 0 ||
	    (r = put_link(t->root, "link-abs.html", "/etc/passwd")) < 0 ||
	    (r = put_link(t->root, "link-out.html", "../outside.txt")) < 0 ||
	    (r = put_link(t->root, "link-dir", "sub")) < 0 ||
	    (r = put_link(t->root, "dangling.html", "nowhere.html")) < 0 ||
	    (r = put_link(t->root, "loop1.html", "loop2.html")) < 0 ||
	    (r = put_link(t->root, "loop2.html", "loop1.html")) < 0 ||
	    (r = put_link(t->img, "up.png", "../page.html")) < 0)
		return r;
	snprintf(path, sizeof path, "%s/fifo.html", t->root);
	if (mkfifo(path, 0644) < 0)
		return -errno;
	/* A socket file: opening one fails with ENXIO, which the broker must pass on. */
	if ((size_t)snprintf(sa.sun_path, sizeof sa.sun_path, "%s/sock.html", t->root) >=
	    sizeof sa.sun_path)
		return -ENAMETOOLONG;
	s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		return -errno;
	r = bind(s, (struct sockaddr *)&sa, sizeof sa) < 0 ? -errno : 0;
	close(s);
	if (r < 0)
		return r;
	/* A device node only where this process may make one (root outside a tight container). */
	snprintf(path, sizeof path, "%s/null.html", t->root);
	t->has_device = mknod(path, S_IFCHR | 0666, makedev(1, 3)) == 0;
	return 0;
}

/* ---- regions of fuzzed size, access and seals ---------------------------------------- */

static uint64_t region_size_for(unsigned cls, uint64_t claimed, uint64_t need)
{
	uint64_t v;

	switch (cls) {
	case 0: v = claimed; break;
	case 1: v = need; break;
	case 2: v = claimed + 1; break;
	case 3: v = claimed + 4096; break;
	case 4: v = 0; break;
	case 5: v = 4096; break;
	case 6: v = 1u << 20; break;
	default: v = need ? need - 1 : 0; break;
	}
	return v > BH_FUZZ_REGION_CAP ? BH_FUZZ_REGION_CAP : v;
}

void bh_fuzz_region_claims(const uint8_t *frame, size_t len, uint64_t *claimed, uint64_t *need)
{
	Bh__SurfaceAttach *a;
	bh_header h;

	*claimed = *need = 4096;
	if (bh_header_decode(frame, len, &h) < 0 || h.type != BH_MSG_SURFACE_ATTACH)
		return;
	a = bh__surface_attach__unpack(NULL, h.payload_len, frame + BH_HEADER_SIZE);
	if (!a)
		return;
	bh_surface_geometry g = { a->width, a->height, a->stride, a->format, a->slots };

	*claimed = a->region_size;
	if (bh_surface_geometry_check(&g, NULL, need) < 0)
		*need = *claimed;
	bh__surface_attach__free_unpacked(a, NULL);
}

static int reopen(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
	return open(path, flags | O_CLOEXEC);
}

int bh_fuzz_make_fd(const bh_fuzz_fdset *set, const int *files, uint8_t kind, uint8_t seals,
		    uint64_t claimed, uint64_t need, bh_fuzz_made_fd *made)
{
	uint64_t size = region_size_for((kind >> 2) & 7, claimed, need);
	int access = kind >> 5, fd, out;
	unsigned add = 0;

	memset(made, 0, sizeof *made);
	made->fd = -1;
	made->size = size;
	switch (kind & 3) {
	case 1:
	case 2:
		out = dup(set->fd[kind & 3]);
		break;
	case 3:
		if (!files) {
			out = dup(set->fd[BH_FUZZ_FD_DEVNULL]);
			break;
		}
		if (ftruncate(files[access & 1], (off_t)size) < 0)
			bh_fuzz_fail("ftruncate a file: %s", strerror(errno));
		out = dup(files[access & 1]);
		break;
	default:
		out = -1;
		break;
	}
	if ((kind & 3) != BH_FUZZ_FD_MEMFD) {
		if (out < 0)
			bh_fuzz_fail("dup: %s", strerror(errno));
		return out;
	}
	made->memfd = 1;
	made->access = access <= BH_FUZZ_ACC_NOSEAL ? access : BH_FUZZ_ACC_RDWR;
	fd = memfd_create("bh-fuzz-region",
			  MFD_CLOEXEC | (made->access == BH_FUZZ_ACC_NOSEAL ? 0 : MFD_ALLOW_SEALING));
	if (fd < 0 || ftruncate(fd, (off_t)size) < 0)
		bh_fuzz_fail("memfd: %s", strerror(errno));
	if (made->access != BH_FUZZ_ACC_NOSEAL) {
		add = ((seals & 1) ? F_SEAL_SHRINK : 0) | ((seals & 2) ? F_SEAL_GROW : 0) |
		      ((seals & 8) ? F_SEAL_WRITE : 0) | ((seals & 16) ? F_SEAL_FUTURE_WRITE : 0) |
		      ((seals & 4) ? F_SEAL_SEAL : 0);
		if (add && fcntl(fd, F_ADD_SEALS, add) < 0)
			bh_fuzz_fail("F_ADD_SEALS %#x: %s", add, strerror(errno));
		made->seals = add;
	}
	made->fd = fd;
	switch (made->access) {
	case BH_FUZZ_ACC_RDONLY:
		out = reopen(fd, O_RDONLY);
		break;
	case BH_FUZZ_ACC_PATH:
		out = reopen(fd, O_PATH);
		break;
	case BH_FUZZ_ACC_WRONLY:
		out = reopen(fd, O_WRONLY);
		break;
	default:
		out = dup(fd);
	}
	if (out < 0)
		bh_fuzz_fail("cannot reopen the memfd: %s", strerror(errno));
	return out;
}

uint8_t *bh_fuzz_next_frame(uint8_t *dgram, size_t len, size_t *off, size_t *flen)
{
	uint8_t *f = dgram + *off;

	if (*off >= len)
		return NULL;
	*flen = bh__frame_split(f, len - *off);
	*off += *flen;
	return f;
}

int bh_fuzz_each_frame(const uint8_t *dgram, size_t len, unsigned nfds, bh_fuzz_frame_fn *fn,
		       void *ud)
{
	uint8_t *copy, *f;
	size_t off = 0, flen;
	int r = 0;

	if (len == 0)
		return fn(ud, dgram, 0, nfds, false);
	copy = malloc(len);
	if (!copy)
		bh_fuzz_fail("out of memory");
	memcpy(copy, dgram, len);
	while (!r && (f = bh_fuzz_next_frame(copy, len, &off, &flen)))
		r = fn(ud, f, flen, f == copy ? nfds : 0, flen < len);
	free(copy);
	return r;
}

static int count_frame(void *ud, const uint8_t *frame, size_t len, unsigned nfds, bool coalesced)
{
	++*(unsigned *)ud;
	return 0;
}

unsigned bh_fuzz_count_frames(const uint8_t *dgram, size_t len)
{
	unsigned n = 0;

	(void)bh_fuzz_each_frame(dgram, len, 0, count_frame, &n);
	return n;
}

/* ---- the flat fast path against protobuf-c ------------------------------------ */

static void *heap_alloc(void *ud, size_t size)
{
	(void)ud;
	return malloc(size);
}

static void heap_free(void *ud, void *p)
{
	(void)ud;
	free(p);
}

void bh_fuzz_heap_allocator(ProtobufCAllocator *out)
{
	*out = (ProtobufCAllocator){ .alloc = heap_alloc, .free = heap_free };
}

const char *bh_fuzz_flat_check_pack(const struct bh_flat *plan, const ProtobufCMessage *m)
{
	uint8_t ref[BH_FLAT_MAX_FIELD * 11], fast[BH_FLAT_MAX_FIELD * 11];
	size_t lr = protobuf_c_message_get_packed_size(m), lf;

	if (lr > sizeof ref)
		return "protobuf-c packs a flat message longer than any flat packing";
	if (protobuf_c_message_pack(m, ref) != lr)
		return "protobuf-c's size and pack disagree";
	lf = bh__flat_pack(plan, m, fast);
	if (lf > plan->max_packed)
		return "flat packing longer than max_packed";
	if (lf != lr || memcmp(ref, fast, lr) != 0)
		return "flat packing differs from protobuf-c's";
	return NULL;
}

const char *bh_fuzz_flat_check(const struct bh_flat *plan, const uint8_t *p, size_t n, int *fast)
{
	ProtobufCAllocator heap = { .alloc = heap_alloc, .free = heap_free };
	ProtobufCMessage *f = bh__flat_unpack(plan, &heap, n, p);
	ProtobufCMessage *r = protobuf_c_message_unpack(plan->desc, NULL, n, p);
	const char *why = NULL;

	if (fast)
		*fast = f != NULL;
	if (f && !r)
		why = "flat decoder accepts what protobuf-c refuses";
	else if (f && r->n_unknown_fields)
		why = "flat decoder accepts unknown fields";
	for (unsigned i = 0; f && !why && i < plan->nfields; i++) {
		const bh_flat_field *ff = &plan->fields[i];

		if (memcmp((const uint8_t *)f + ff->offset, (const uint8_t *)r + ff->offset,
			   bh__flat_value_size(ff->type)) != 0)
			why = "a field decodes differently";
		else if (ff->has_offset &&
			 memcmp((const uint8_t *)f + ff->has_offset, (const uint8_t *)r + ff->has_offset,
				sizeof(protobuf_c_boolean)) != 0)
			why = "a has_ flag decodes differently";
	}
	if (!why && f)
		why = bh_fuzz_flat_check_pack(plan, f);
	else if (!why && r && !r->n_unknown_fields)
		why = bh_fuzz_flat_check_pack(plan, r);
	if (f)
		protobuf_c_message_free_unpacked(f, &heap);
	if (r)
		protobuf_c_message_free_unpacked(r, NULL);
	return why;
}
