/*
 * fuzz_filebroker: bh_file_broker_open() with hostile path bytes on a real
 * directory tree (bh_fuzz_tree_create: files, a subdirectory, symlinks
 * inside, outside and absolute, a dangling one, a loop, a FIFO, a socket,
 * a device node when this process may make one, a name with odd bytes).
 *
 * The input is the path, as a worker would put it in FileOpen.path: any
 * bytes, with "..", NULs, "//", "/./", overlong names and components.
 * Rules: the tree's root for names ending in ".html", and root/img for
 * names ending in ".png".
 *
 * Checked per input, against an independent model that walks the path one
 * component at a time with fstatat(AT_SYMLINK_NOFOLLOW) below each rule's
 * directory:
 *  - an fd comes back exactly when the model finds a regular file through
 *    directories only (no symlink anywhere, no "..", nothing after a
 *    non-directory), under a rule whose suffix the name has, and it is
 *    that file (same device and inode) of the first such rule;
 *  - the fd is read-only and close-on-exec, refers to a regular file, never
 *    a FIFO, socket or device, and its path (/proc/self/fd) lies beneath
 *    the rule's directory;
 *  - a refusal is one of the documented errors;
 *  - no call takes more than a second (a FIFO must never block the broker),
 *    and no fd leaks;
 *  - the hand-made resolution used where openat2() is missing
 *    (bh__file_open_beneath_walk) gives openat2()'s answer for every vetted
 *    name under each rule: the same file or the same error.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <bulkhead/filebroker.h>

#include "common/internal.h"
#include "fuzz/fuzz.h"
#include "supervisor/supervisor_private.h"

static bh_fuzz_tree tree;
static bh_file_rule rules[2];
static char rule_real[2][PATH_MAX];
static int rule_dirfd[2] = { -1, -1 };
static bh_file_broker *fb;
static unsigned long inputs, opened, refused_by_error[8], walk_compared;

/* ---- the model ------------------------------------------------------------------ */

static int suffix_ok(const uint8_t *p, size_t len, const char *suffix)
{
	size_t sl = suffix ? strlen(suffix) : 0;

	return len >= sl && memcmp(p + len - sl, suffix ? suffix : "", sl) == 0;
}

/*
 * Whether rule `i` serves this path; on success the file's identity in *st.
 * The rules of filebroker.h, applied one component at a time.
 */
static int model_open(unsigned i, const uint8_t *p, size_t len, struct stat *st)
{
	char prefix[BH_FILE_PATH_MAX + 1];
	struct stat cur;
	size_t start = 0;
	int is_dir = 1;

	if (len == 0 || len > BH_FILE_PATH_MAX || memchr(p, '\0', len) || p[0] == '/')
		return 0;
	if (!suffix_ok(p, len, rules[i].suffix))
		return 0;
	memcpy(prefix, p, len);
	prefix[len] = '\0';
	memset(&cur, 0, sizeof cur);
	for (size_t k = 0; k <= len; k++) {
		size_t seg;

		if (k < len && p[k] != '/')
			continue;
		seg = k - start;
		if (seg == 2 && p[start] == '.' && p[start + 1] == '.')
			return 0;
		if (!is_dir)
			return 0; /* anything after a file, even "/" or "/.", is not a path to it */
		if (seg > 0 && !(seg == 1 && p[start] == '.')) {
			char save = prefix[k];

			prefix[k] = '\0';
			if (fstatat(rule_dirfd[i], prefix, &cur, AT_SYMLINK_NOFOLLOW) < 0 ||
			    S_ISLNK(cur.st_mode))
				return 0;
			prefix[k] = save;
			is_dir = S_ISDIR(cur.st_mode);
		}
		start = k + 1;
	}
	/* The rule's own directory ("", ".", "./") is not a file either. */
	if (is_dir || !S_ISREG(cur.st_mode))
		return 0;
	*st = cur;
	return 1;
}

/* ---- the harness ------------------------------------------------------------------ */

static void check_fd(int fd, unsigned rule, const struct stat *want)
{
	char link[64], target[PATH_MAX];
	size_t rl = strlen(rule_real[rule]);
	struct stat st;
	ssize_t n;
	int fl, fdfl;

	BH_FUZZ_CHECK(fstat(fd, &st) == 0, "fstat of the returned fd failed");
	BH_FUZZ_CHECK(S_ISREG(st.st_mode), "returned fd is not a regular file (mode %o)", st.st_mode);
	BH_FUZZ_CHECK(st.st_dev == want->st_dev && st.st_ino == want->st_ino,
		      "returned fd is another file than the model found");
	fl = fcntl(fd, F_GETFL);
	fdfl = fcntl(fd, F_GETFD);
	BH_FUZZ_CHECK(fl >= 0 && (fl & O_ACCMODE) == O_RDONLY && !(fl & O_PATH),
		      "returned fd is not read-only (flags %#x)", fl);
	BH_FUZZ_CHECK(fdfl >= 0 && (fdfl & FD_CLOEXEC), "returned fd is not close-on-exec");
	snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
	n = readlink(link, target, sizeof target - 1);
	BH_FUZZ_CHECK(n > 0, "cannot read the returned fd's path");
	target[n] = '\0';
	BH_FUZZ_CHECK(strncmp(target, rule_real[rule], rl) == 0 && target[rl] == '/',
		      "returned fd is %s, outside %s", target, rule_real[rule]);
}

static unsigned error_slot(int r)
{
	switch (r) {
	case -EINVAL: return 0;
	case -ENAMETOOLONG: return 1;
	case -EACCES: return 2;
	case -ELOOP: return 3;
	case -EXDEV: return 4;
	case -ENOENT: return 5;
	case -ENOTDIR: return 6;
	default: return 7;
	}
}

static void print_stats(void)
{
	fprintf(stderr, "fuzz_filebroker: %lu inputs, %lu opened; refused: EINVAL %lu, ENAMETOOLONG %lu, "
			"EACCES %lu, ELOOP %lu, EXDEV %lu, ENOENT %lu, ENOTDIR %lu, other %lu; %lu walk comparisons\n",
		inputs, opened, refused_by_error[0], refused_by_error[1], refused_by_error[2],
		refused_by_error[3], refused_by_error[4], refused_by_error[5], refused_by_error[6],
		refused_by_error[7], walk_compared);
}

int bh_fuzz_replay_done(void)
{
	if (getenv("BH_FUZZ_STATS"))
		print_stats();
	return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	int r = bh_fuzz_tree_create(&tree);

	if (r < 0)
		bh_fuzz_fail("cannot make the file tree: %s", strerror(-r));
	rules[0] = (bh_file_rule){ tree.root, ".html" };
	rules[1] = (bh_file_rule){ tree.img, ".png" };
	for (unsigned i = 0; i < 2; i++) {
		if (!realpath(rules[i].dir, rule_real[i]))
			bh_fuzz_fail("realpath %s: %s", rules[i].dir, strerror(errno));
		rule_dirfd[i] = open(rules[i].dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
		if (rule_dirfd[i] < 0)
			bh_fuzz_fail("open %s: %s", rules[i].dir, strerror(errno));
	}
	r = bh_file_broker_create(rules, 2, &fb);
	if (r < 0)
		bh_fuzz_fail("bh_file_broker_create: %s", strerror(-r));
	return 0;
}

/*
 * The hand-made resolution used where openat2() is missing must answer
 * exactly as openat2() does, for every vetted name under either rule: the
 * same file, or the same error.
 */
static void compare_walk(const uint8_t *data, size_t size)
{
	struct open_how how = { .flags = O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | O_NOFOLLOW,
				.resolve = RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS |
					   RESOLVE_NO_XDEV };
	char name[BH_FILE_PATH_MAX + 1];
	bool dotdot = false;

	if (size == 0 || size > BH_FILE_PATH_MAX || memchr(data, '\0', size) || data[0] == '/')
		return;
	for (size_t i = 0, start = 0; i <= size; i++) {
		if (i == size || data[i] == '/') {
			dotdot |= i - start == 2 && data[start] == '.' && data[start + 1] == '.';
			start = i + 1;
		}
	}
	if (dotdot)
		return;
	memcpy(name, data, size);
	name[size] = '\0';
	for (unsigned i = 0; i < 2; i++) {
		int a = (int)syscall(SYS_openat2, rule_dirfd[i], name, &how, sizeof how);
		int ea = a < 0 ? errno : 0;
		int b = bh__file_open_beneath_walk(rule_dirfd[i], name, (int)how.flags);

		if (a >= 0 && b >= 0) {
			struct stat sa, sb;

			BH_FUZZ_CHECK(fstat(a, &sa) == 0 && fstat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
					      sa.st_ino == sb.st_ino,
				      "openat2 and the walk opened different files for rule %u", i);
		} else {
			BH_FUZZ_CHECK(a < 0 && b < 0 && -b == ea,
				      "rule %u: openat2 says %s, the walk says %s", i,
				      a >= 0 ? "an fd" : strerror(ea), b >= 0 ? "an fd" : strerror(-b));
		}
		if (a >= 0)
			close(a);
		if (b >= 0)
			close(b);
		walk_compared++;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct timespec t0, t1;
	struct stat want;
	int base, fd, expect = -1, r;

	base = bh_fuzz_count_fds();
	inputs++;
	for (unsigned i = 0; i < 2 && expect < 0; i++)
		if (model_open(i, data, size, &want))
			expect = (int)i;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	fd = bh_file_broker_open(fb, data, size);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	BH_FUZZ_CHECK(t1.tv_sec - t0.tv_sec < 2, "bh_file_broker_open took %lld s",
		      (long long)(t1.tv_sec - t0.tv_sec));
	if (fd >= 0) {
		BH_FUZZ_CHECK(expect >= 0, "opened a path the rules refuse (fd %d)", fd);
		check_fd(fd, (unsigned)expect, &want);
		opened++;
		close(fd);
	} else {
		BH_FUZZ_CHECK(expect < 0, "refused a path rule %d allows: %s", expect, strerror(-fd));
		BH_FUZZ_CHECK(fd == -EINVAL || fd == -ENAMETOOLONG || fd == -EACCES || fd == -ELOOP ||
				      fd == -EXDEV || fd == -ENOENT || fd == -ENOTDIR || fd == -ENXIO,
			      "undocumented error %d (%s)", fd, strerror(-fd));
		refused_by_error[error_slot(fd)]++;
	}
	compare_walk(data, size);
	r = bh_fuzz_count_fds();
	if (r != base) {
		bh_fuzz_list_fds();
		bh_fuzz_fail("fd leak: %d open fds, %d before", r, base);
	}
	return 0;
}

/* ---- a path-aware mutator ------------------------------------------------------------ */

/* Pieces of paths that mean something to the rules or to the tree (some hold a NUL). */
#define PIECE(s) { s, sizeof(s) - 1 }
static const struct {
	const char *s;
	size_t n;
} pieces[] = {
	PIECE("/"), PIECE("//"), PIECE("./"), PIECE("../"), PIECE(".."), PIECE("."), PIECE("/."),
	PIECE("/.."), PIECE(".html"), PIECE(".png"), PIECE("\0"), PIECE("\xff"), PIECE("page.html"),
	PIECE("a.txt"), PIECE("empty.html"), PIECE("sub/"), PIECE("sub/deep/"), PIECE("deep/b.html"),
	PIECE("img/"), PIECE("cat.png"), PIECE("notes.txt"), PIECE("link-in.html"),
	PIECE("link-abs.html"), PIECE("link-out.html"), PIECE("link-dir/"), PIECE("dangling.html"),
	PIECE("loop1.html"), PIECE("loop2.html"), PIECE("up.png"), PIECE("fifo.html"),
	PIECE("sock.html"), PIECE("null.html"), PIECE("dir.html"), PIECE("dir.html/"),
	PIECE("odd\x01\x7f\xff\xfe name\n\t.html"), PIECE("/proc/self/root/"),
	PIECE("/etc/passwd"), PIECE("%2e%2e/"), PIECE("..\\"), PIECE("\\"),
	PIECE("page.html\0.html"),
};

static uint64_t next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed);
size_t LLVMFuzzerCustomMutator(uint8_t *data, size_t size, size_t max, unsigned seed)
{
	uint64_t s = seed * 0x2545f4914f6cdd1dull + 17;
	unsigned op = (unsigned)(next(&s) % 100);
	size_t pos = size ? (size_t)(next(&s) % (size + 1)) : 0;

	if (op < 20 && LLVMFuzzerMutate)
		return LLVMFuzzerMutate(data, size, max);
	if (op < 55) {
		/* Insert a piece. */
		unsigned k = (unsigned)(next(&s) % BH_ARRAY_SIZE(pieces));
		size_t n = pieces[k].n;

		if (size + n > max)
			return size;
		memmove(data + pos + n, data + pos, size - pos);
		memcpy(data + pos, pieces[k].s, n);
		return size + n;
	}
	if (op < 70 && size) {
		/* Cut a run. */
		size_t n;

		if (pos >= size)
			pos = size - 1;
		n = (size_t)(next(&s) % (size - pos)) + 1;
		memmove(data + pos, data + pos + n, size - pos - n);
		return size - n;
	}
	if (op < 80) {
		/* A long component: names over 255 bytes and paths over the limit. */
		static const size_t lens[] = { 255, 256, 1000, 1023, 1024, 1025, 4096 };
		size_t n = lens[next(&s) % BH_ARRAY_SIZE(lens)];

		if (size + n > max)
			n = max - size;
		memmove(data + pos + n, data + pos, size - pos);
		memset(data + pos, next(&s) & 1 ? 'a' : '/', n);
		return size + n;
	}
	if (op < 90 && size) {
		/* Replace everything with a fresh path of pieces. */
		size_t n = 0;

		for (unsigned k = (unsigned)(next(&s) % 5) + 1; k > 0; k--) {
			unsigned i = (unsigned)(next(&s) % BH_ARRAY_SIZE(pieces));

			if (n + pieces[i].n > max)
				break;
			memcpy(data + n, pieces[i].s, pieces[i].n);
			n += pieces[i].n;
		}
		return n;
	}
	if (size) {
		/* Flip a byte. */
		data[pos < size ? pos : size - 1] ^= (uint8_t)(1u << (next(&s) % 8));
	}
	return size;
}
