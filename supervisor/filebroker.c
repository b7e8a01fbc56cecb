/*
 * Brokered file access. The broker is the only process that can open files;
 * everything a worker names here is hostile. The checks are layered: the
 * name is vetted as bytes first (cheap, and it makes the error precise),
 * then the kernel resolves it with openat2() so that "beneath this
 * directory, no symlinks, no mount crossings" holds even against races with
 * whoever else writes the directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>

#include <bulkhead/filebroker.h>

#include "common/internal.h"
#include "supervisor/supervisor_private.h"

struct bh_file_broker {
	const bh_file_rule *rules;
	size_t n;
	int dirfds[];
};

int bh_file_broker_create(const bh_file_rule *rules, size_t n_rules, bh_file_broker **out)
{
	bh_file_broker *fb;
	int r = 0;

	fb = calloc(1, sizeof *fb + n_rules * sizeof(int));
	if (!fb)
		return -ENOMEM;
	fb->rules = rules;
	fb->n = n_rules;
	for (size_t i = 0; i < n_rules; i++)
		fb->dirfds[i] = -1;
	for (size_t i = 0; i < n_rules && r == 0; i++) {
		if (!rules[i].dir || rules[i].dir[0] != '/') {
			r = -EINVAL;
			break;
		}
		fb->dirfds[i] = open(rules[i].dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (fb->dirfds[i] < 0)
			r = -errno;
	}
	if (r < 0) {
		bh_file_broker_destroy(fb);
		return r;
	}
	*out = fb;
	return 0;
}

void bh_file_broker_destroy(bh_file_broker *fb)
{
	if (!fb)
		return;
	for (size_t i = 0; i < fb->n; i++)
		bh__close(fb->dirfds[i]);
	free(fb);
}

/* Rejects what no rule could allow, before touching the file system. */
static int vet_name(const uint8_t *path, size_t len)
{
	size_t start = 0;

	if (len == 0)
		return -EINVAL;
	if (len > BH_FILE_PATH_MAX)
		return -ENAMETOOLONG;
	if (memchr(path, '\0', len) || path[0] == '/')
		return -EINVAL;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || path[i] == '/') {
			size_t seg = i - start;

			if (seg == 2 && path[start] == '.' && path[start + 1] == '.')
				return -EINVAL;
			start = i + 1;
		}
	}
	return 0;
}

static int suffix_ok(const char *name, size_t len, const char *suffix)
{
	size_t sl;

	if (!suffix)
		return 1;
	sl = strlen(suffix);
	return len >= sl && memcmp(name + len - sl, suffix, sl) == 0;
}

/*
 * openat2()'s resolution done by hand, for kernels (before 5.6) and tools
 * (valgrind up to 3.19) without it: one component at a time, each opened
 * with O_NOFOLLOW relative to the last, so a symlink anywhere is refused
 * however the tree changes meanwhile; ".." never reaches here (vet_name),
 * so nothing can climb out; a component on another file system is refused
 * as RESOLVE_NO_XDEV does. The errors are openat2()'s: ELOOP for a symlink,
 * EXDEV for a mount crossing. `name` is vetted; returns an fd or -errno.
 */
int bh__file_open_beneath_walk(int dirfd, const char *name, int flags)
{
	char comp[BH_FILE_PATH_MAX + 1];
	struct stat root, st;
	const char *p = name;
	int cur = -1, fd = -1, r = 0;

	if (fstat(dirfd, &root) < 0)
		return -errno;
	cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 0);
	if (cur < 0)
		return -errno;
	for (;;) {
		const char *slash = strchr(p, '/');
		size_t n = slash ? (size_t)(slash - p) : strlen(p);
		bool last, dir_wanted = slash != NULL;

		memcpy(comp, p, n);
		comp[n] = '\0';
		p += n;
		while (*p == '/')
			p++;
		last = *p == '\0';
		if (n == 0 || (n == 1 && comp[0] == '.')) {
			if (!last)
				continue;
			/* "dir/" or ".": openat2 opens the directory itself, which is never a regular file. */
			strcpy(comp, ".");
		}
		if (fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = -errno;
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			r = -ELOOP;
			break;
		}
		if (st.st_dev != root.st_dev) {
			r = -EXDEV;
			break;
		}
		if (last) {
			/* "name/" names a directory, as the kernel reads it. */
			fd = openat(cur, comp, flags | O_NOFOLLOW | (dir_wanted ? O_DIRECTORY : 0));
			if (fd < 0)
				r = -errno;
			/* Swapped for something else since fstatat(): refused like a symlink would be. */
			else if (fstat(fd, &st) < 0 || st.st_dev != root.st_dev)
				r = -EXDEV;
			break;
		}
		fd = openat(cur, comp, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			r = -errno;
			break;
		}
		bh__close(cur);
		cur = fd;
		fd = -1;
	}
	bh__close(cur);
	if (r < 0) {
		bh__close(fd);
		return r;
	}
	return fd;
}

int bh_file_broker_open(const bh_file_broker *fb, const uint8_t *path, size_t len)
{
	char name[BH_FILE_PATH_MAX + 1];
	struct open_how how;
	int r, last = -EACCES;

	r = vet_name(path, len);
	if (r < 0)
		return r;
	memcpy(name, path, len);
	name[len] = '\0';
	memset(&how, 0, sizeof how);
	/* O_NONBLOCK: opening a FIFO someone planted must not stall the broker. */
	how.flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_XDEV;
	for (size_t i = 0; i < fb->n; i++) {
		struct stat st;
		int fd;

		if (!suffix_ok(name, len, fb->rules[i].suffix))
			continue;
		fd = (int)syscall(SYS_openat2, fb->dirfds[i], name, &how, sizeof how);
		if (fd < 0 && errno == ENOSYS) {
			fd = bh__file_open_beneath_walk(fb->dirfds[i], name, (int)how.flags);
			if (fd < 0) {
				errno = -fd;
				fd = -1;
			}
		}
		if (fd < 0) {
			/* Keep the most telling error: a symlink refusal beats "not here". */
			if (errno != ENOENT || last == -EACCES)
				last = -errno;
			continue;
		}
		if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
			bh__close(fd);
			last = -EACCES;
			continue;
		}
		return fd;
	}
	return last;
}
