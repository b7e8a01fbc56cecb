/*
 * bh_sandbox_enter(): the layers, applied in the child in a fixed order.
 *
 * Order and why:
 *  1. fds         while /proc still exists, so that the result can be checked
 *  2. namespaces  checked against the broker's ids (bh_sandbox_spawn made
 *                 them), or created here with unshare(); ns ids and
 *                 /proc/self/status are captured now, before /proc vanishes
 *  3. fs          empty read-only root: needs the mount namespace and the
 *                 capabilities the user namespace gave us
 *  4. rlimits     before capabilities go (no CAP_SYS_RESOURCE needed to lower)
 *  5. nnp         before caps: with no_new_privs set, nothing gained by exec
 *  6. caps        securebits and the bounding set need CAP_SETPCAP, so they go
 *                 first; then the ids; then every capability set is emptied
 *  7. seccomp     last, so that the filter need not allow any set-up call;
 *                 TSYNC covers threads the application may already have
 * Then the status is read back from the kernel to check what was claimed.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <linux/magic.h>
#include <linux/mount.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/capability.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "common/internal.h"
#include "sandbox/sandbox_private.h"

#if defined(__SANITIZE_ADDRESS__)
#define BH_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define BH_ASAN 1
#endif
#endif

#define NOBODY 65534

int bh__fail(bh_sandbox_failure *f, int layer, int code, const char *fmt, ...)
{
	va_list ap;

	if (code <= 0)
		code = EPERM;
	f->layer = layer;
	f->code = code;
	va_start(ap, fmt);
	vsnprintf(f->text, sizeof f->text, fmt, ap);
	va_end(ap);
	return -code;
}

void bh__detail(char *buf, size_t size, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, size, fmt, ap);
	va_end(ap);
}

void bh__report_failure(int fd, const bh_sandbox_failure *f)
{
	struct bh__record r;

	if (fd < 0)
		return;
	bh__record_init(&r, BH_RECORD_SETUP_FAILED);
	r.code = f->code;
	r.pid = (int32_t)getpid();
	bh__strlcpy(r.layer, bh_sandbox_layer_name(f->layer), sizeof r.layer);
	bh__strlcpy(r.text, f->text, sizeof r.text);
	(void)bh__record_write(fd, &r);
}

int bh__set_ids(uid_t uid, gid_t gid, bool drop_groups)
{
	if (drop_groups && syscall(SYS_setgroups, 0, NULL) < 0)
		return -errno;
	if (syscall(SYS_setresgid, gid, gid, gid) < 0 || syscall(SYS_setresuid, uid, uid, uid) < 0)
		return -errno;
	return 0;
}

unsigned long bh__layer_clone_flag(int layer)
{
	switch (layer) {
	case BH_LAYER_USERNS: return CLONE_NEWUSER;
	case BH_LAYER_PIDNS: return CLONE_NEWPID;
	case BH_LAYER_NETNS: return CLONE_NEWNET;
	case BH_LAYER_IPCNS: return CLONE_NEWIPC;
	case BH_LAYER_UTSNS: return CLONE_NEWUTS;
	case BH_LAYER_FS: return CLONE_NEWNS;
	}
	return 0;
}

static int ns_inode(const char *type, uint64_t *out)
{
	char path[64];
	struct stat st;

	snprintf(path, sizeof path, "/proc/self/ns/%s", type);
	if (stat(path, &st) < 0)
		return -errno;
	*out = (uint64_t)st.st_ino;
	return 0;
}

int bh__ns_ids_read(bh_sandbox_ns_ids *out)
{
	bh_sandbox_ns_ids ids;
	int r;

	memset(&ids, 0, sizeof ids);
	r = ns_inode("user", &ids.user);
	if (r == 0)
		r = ns_inode("pid", &ids.pid);
	if (r == 0)
		r = ns_inode("net", &ids.net);
	if (r == 0)
		r = ns_inode("ipc", &ids.ipc);
	if (r == 0)
		r = ns_inode("mnt", &ids.mnt);
	if (r == 0)
		r = ns_inode("uts", &ids.uts);
	if (r < 0)
		return r;
	*out = ids;
	return 0;
}

int bh_sandbox_ns_ids_self(bh_sandbox_ns_ids *out)
{
	if (!out)
		return -EINVAL;
	return bh__ns_ids_read(out);
}

static uint64_t ns_of(const bh_sandbox_ns_ids *ids, int layer)
{
	switch (layer) {
	case BH_LAYER_USERNS: return ids->user;
	case BH_LAYER_PIDNS: return ids->pid;
	case BH_LAYER_NETNS: return ids->net;
	case BH_LAYER_IPCNS: return ids->ipc;
	case BH_LAYER_UTSNS: return ids->uts;
	case BH_LAYER_FS: return ids->mnt;
	}
	return 0;
}

/* ---- state of one bh_sandbox_enter() call --------------------------------- */

struct enter {
	const bh_profile *p;
	const bh_sandbox_opts *o;
	bh_sandbox_report *rep;
	int *keep;               /* sorted, unique: keep_fds + report_fd */
	unsigned nkeep;
	bool new_ns[BH_LAYER_COUNT];
	uid_t uid;
	gid_t gid;
	const char *const *binds;      /* host paths bound read-only into the new root (bulkhead-run) */
	const bh_sandbox_prog *prog;   /* the filter to load */
	bh_sandbox_prog *own;          /* compiled here, freed at the end */
	bool recompiled;
	bool caps_locked;              /* bounding set dropped, securebits locked */
};

static bh_sandbox_layer_report *L(struct enter *e, int layer)
{
	return &e->rep->status.layers[layer];
}

static void set_state(struct enter *e, int layer, bh_layer_state st, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void set_state(struct enter *e, int layer, bh_layer_state st, const char *fmt, ...)
{
	va_list ap;

	L(e, layer)->state = st;
	va_start(ap, fmt);
	vsnprintf(L(e, layer)->detail, sizeof L(e, layer)->detail, fmt, ap);
	va_end(ap);
}

/*
 * A layer could not be applied: ABSENT if optional (returns 0), FAILED and
 * an error if required.
 */
static int not_applied(struct enter *e, int layer, int code, const char *what)
{
	if (e->p->layers[layer] == BH_NEED_REQUIRED) {
		set_state(e, layer, BH_STATE_FAILED, "%s", what);
		return bh__fail(&e->rep->failure, layer, code, "%s: %s", bh_sandbox_layer_name(layer), what);
	}
	set_state(e, layer, BH_STATE_ABSENT, "%s", what);
	return 0;
}

static bool wanted(struct enter *e, int layer)
{
	if (e->p->layers[layer] == BH_NEED_OFF) {
		set_state(e, layer, BH_STATE_ABSENT, "not requested by the profile");
		return false;
	}
	return true;
}

static int write_file(const char *path, const char *text)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	size_t len = strlen(text);
	ssize_t n;
	int r = 0;

	if (fd < 0)
		return -errno;
	do {
		n = write(fd, text, len);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		r = -errno;
	else if ((size_t)n != len)
		r = -EIO;
	bh__close(fd);
	return r;
}

/* ---- 1. fds ------------------------------------------------------------------ */

static int cmp_int(const void *a, const void *b)
{
	int x = *(const int *)a, y = *(const int *)b;

	return (x > y) - (x < y);
}

static int close_from_to(unsigned first, unsigned last)
{
	if (first > last)
		return 0;
	if (syscall(SYS_close_range, first, last, 0) == 0)
		return 0;
	if (errno != ENOSYS)
		return -errno;
	/* Kernels before 5.9: walk the fds one by one (bounded by RLIMIT_NOFILE). */
	{
		struct rlimit rl;
		unsigned end = last;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_max != RLIM_INFINITY &&
		    rl.rlim_max < (rlim_t)end)
			end = (unsigned)rl.rlim_max;
		for (unsigned fd = first; fd <= end && fd < (1u << 20); fd++)
			(void)close((int)fd);
	}
	return 0;
}

static bool is_kept(const struct enter *e, int fd)
{
	return bsearch(&fd, e->keep, e->nkeep, sizeof(int), cmp_int) != NULL;
}

static int layer_fds(struct enter *e)
{
	unsigned next = 0;
	DIR *d;
	struct dirent *de;
	int extra = -1, r;

	if (!wanted(e, BH_LAYER_FDS))
		return 0;
	for (unsigned i = 0; i < e->nkeep; i++) {
		if (fcntl(e->keep[i], F_GETFD) < 0)
			return not_applied(e, BH_LAYER_FDS, EBADF, "a kept fd is not open");
	}
	for (unsigned i = 0; i < e->nkeep; i++) {
		unsigned k = (unsigned)e->keep[i];

		if (k > next) {
			r = close_from_to(next, k - 1u);
			if (r < 0)
				return not_applied(e, BH_LAYER_FDS, -r, "close_range failed");
		}
		next = k + 1u;
	}
	r = close_from_to(next, ~0u);
	if (r < 0)
		return not_applied(e, BH_LAYER_FDS, -r, "close_range failed");

	/* Check with the kernel's own list. */
	d = opendir("/proc/self/fd");
	if (!d)
		return not_applied(e, BH_LAYER_FDS, errno, "cannot list /proc/self/fd to verify");
	while ((de = readdir(d)) != NULL) {
		int fd;

		if (de->d_name[0] == '.')
			continue;
		fd = atoi(de->d_name);
		if (fd != dirfd(d) && !is_kept(e, fd))
			extra = fd;
	}
	closedir(d);
	if (extra >= 0) {
		char what[64];

		snprintf(what, sizeof what, "fd %d is still open", extra);
		return not_applied(e, BH_LAYER_FDS, EBADF, what);
	}
	{
		char list[80];
		struct bh__out out = { list, sizeof list, 0 };

		list[0] = '\0';
		for (unsigned i = 0; i < e->nkeep; i++)
			bh__out_printf(&out, "%s%d", i ? " " : "", e->keep[i]);
		set_state(e, BH_LAYER_FDS, BH_STATE_APPLIED, "%u kept (%s), checked in /proc/self/fd",
			  e->nkeep, e->nkeep ? list : "none");
	}
	return 0;
}

/* ---- 2. namespaces ----------------------------------------------------------- */

static const int ns_layers[] = { BH_LAYER_USERNS, BH_LAYER_PIDNS, BH_LAYER_NETNS,
				 BH_LAYER_IPCNS, BH_LAYER_UTSNS, BH_LAYER_FS };

int bh__write_self_id_maps(uid_t uid, gid_t gid)
{
	char line[64];
	int r;

	/*
	 * A process that changed its ids is not dumpable, which makes its /proc
	 * files root's: it could not open its own uid_map. The no_new_privs
	 * layer makes it non-dumpable again.
	 */
	if (prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 1 && prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
		return -errno;
	/* An unprivileged writer must deny setgroups() before writing gid_map. */
	r = write_file("/proc/self/setgroups", "deny");
	if (r < 0 && r != -ENOENT)
		return r;
	snprintf(line, sizeof line, "%u %u 1\n", (unsigned)uid, (unsigned)uid);
	r = write_file("/proc/self/uid_map", line);
	if (r < 0)
		return r;
	snprintf(line, sizeof line, "%u %u 1\n", (unsigned)gid, (unsigned)gid);
	return write_file("/proc/self/gid_map", line);
}

/*
 * Without bh_sandbox_spawn(): create the namespaces here. A root caller
 * first becomes the unprivileged target so that the user namespace maps
 * that uid, never root; the user namespace then gives back the
 * capabilities needed for the mounts, inside it only.
 */
static int unshare_namespaces(struct enter *e, char why[BH_LAYER_COUNT][64])
{
	unsigned long want = 0, need = 0, got;
	bool root = geteuid() == 0;

	for (size_t i = 0; i < BH_ARRAY_SIZE(ns_layers); i++) {
		int l = ns_layers[i];

		if (l == BH_LAYER_PIDNS || e->p->layers[l] == BH_NEED_OFF)
			continue;
		want |= bh__layer_clone_flag(l);
		if (e->p->layers[l] == BH_NEED_REQUIRED)
			need |= bh__layer_clone_flag(l);
	}
	snprintf(why[BH_LAYER_PIDNS], 64, "needs bh_sandbox_spawn() (a pid namespace takes a new process)");
	if (!want)
		return 0;
	if (root && (want & CLONE_NEWUSER)) {
		int r = bh__set_ids(e->uid, e->gid, true);

		if (r < 0)
			return bh__fail(&e->rep->failure, BH_LAYER_USERNS, -r,
					"userns: cannot switch to uid %u before unshare", (unsigned)e->uid);
	}
	got = want;
	if (unshare((int)got) < 0) {
		int err = errno;

		for (size_t i = 0; i < BH_ARRAY_SIZE(ns_layers); i++) {
			unsigned long f = bh__layer_clone_flag(ns_layers[i]);

			if ((want & f) && !(need & f))
				snprintf(why[ns_layers[i]], 64, "unshare refused: %s", strerrorname_np(err));
		}
		got = need;
		if (got && unshare((int)got) < 0)
			return bh__fail(&e->rep->failure, -1, errno, "unshare of the required namespaces: %s",
					strerror(errno));
	}
	if (got & CLONE_NEWUSER) {
		int r = bh__write_self_id_maps(geteuid(), getegid());

		if (r < 0)
			return bh__fail(&e->rep->failure, BH_LAYER_USERNS, -r, "userns: writing id maps: %s",
					strerror(-r));
	}
	return 0;
}

static int count_ifaces_up(void)
{
	struct ifaddrs *ifa, *i;
	char seen[16][IF_NAMESIZE];
	int n = 0;

	if (getifaddrs(&ifa) < 0)
		return -errno;
	for (i = ifa; i; i = i->ifa_next) {
		bool dup = false;

		if (!(i->ifa_flags & IFF_UP) || !i->ifa_name)
			continue;
		for (int k = 0; k < n && k < 16; k++)
			dup |= strncmp(seen[k], i->ifa_name, IF_NAMESIZE) == 0;
		if (!dup && n < 16)
			snprintf(seen[n++], IF_NAMESIZE, "%s", i->ifa_name);
	}
	freeifaddrs(ifa);
	return n;
}

static int layer_namespaces(struct enter *e)
{
	const bh_sandbox_child *c = e->o->child;
	char why[BH_LAYER_COUNT][64];
	bh_sandbox_ns_ids now;
	int r;

	memset(why, 0, sizeof why);
	if (c) {
		memcpy(why, c->ns_why, sizeof why);
	} else {
		r = unshare_namespaces(e, why);
		if (r < 0)
			return r;
	}
	r = bh__ns_ids_read(&now);
	if (r < 0)
		return bh__fail(&e->rep->failure, -1, -r, "cannot read /proc/self/ns: %s", strerror(-r));
	e->rep->status.ns = now;
	for (size_t i = 0; i < BH_ARRAY_SIZE(ns_layers); i++) {
		int l = ns_layers[i];
		uint64_t mine = ns_of(&now, l);
		bool fresh;

		if (c)
			fresh = mine != ns_of(&c->parent_ns, l);
		else
			fresh = why[l][0] == '\0' && l != BH_LAYER_PIDNS;
		e->new_ns[l] = fresh;
		if (l == BH_LAYER_FS)
			continue; /* reported by the fs layer, which needs the mount namespace */
		if (!wanted(e, l))
			continue;
		if (!fresh) {
			r = not_applied(e, l, EPERM, why[l][0] ? why[l] : "the kernel did not create it");
			if (r < 0)
				return r;
			continue;
		}
		switch (l) {
		case BH_LAYER_USERNS:
			set_state(e, l, BH_STATE_APPLIED, "uid %u gid %u mapped to themselves, nothing else",
				  (unsigned)getuid(), (unsigned)getgid());
			break;
		case BH_LAYER_PIDNS:
			set_state(e, l, BH_STATE_APPLIED, "pid %d in its own namespace", (int)getpid());
			break;
		case BH_LAYER_NETNS:
			r = count_ifaces_up();
			if (r != 0)
				return not_applied(e, l, r < 0 ? -r : EEXIST,
						   r < 0 ? "cannot list interfaces" : "an interface is up");
			e->rep->status.net_ifaces_up = 0;
			set_state(e, l, BH_STATE_APPLIED, "%s, no interface up",
				  c && c->shared_netns ? "shared empty namespace" : "own namespace");
			break;
		default:
			set_state(e, l, BH_STATE_APPLIED, "own namespace");
			break;
		}
	}
	return 0;
}

/* ---- 3. empty read-only root --------------------------------------------- */

/*
 * Directories a tmpfs can be mounted on while building the new root: /proc
 * first, because nothing is ever bound from under it (bind sources below
 * the base would be hidden by it).
 */
static const char *const mount_bases[] = { "/proc", "/tmp", "/mnt", "/" };

#define RO_ATTRS (MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV)

static int set_ro(const char *path, bool recursive)
{
	struct mount_attr a = { .attr_set = RO_ATTRS };

	if (syscall(SYS_mount_setattr, AT_FDCWD, path, recursive ? AT_RECURSIVE : 0, &a, sizeof a) < 0)
		return -errno;
	return 0;
}

/* mkdir -p of every parent of `path` (absolute, below the new root `base`). */
static int make_parents(const char *base, const char *path)
{
	char buf[PATH_MAX];
	int n = snprintf(buf, sizeof buf, "%s%s", base, path);

	if (n < 0 || (size_t)n >= sizeof buf)
		return -ENAMETOOLONG;
	for (char *p = buf + strlen(base) + 1; (p = strchr(p, '/')) != NULL; p++) {
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

/*
 * Makes `path` of the host appear read-only at the same place in the new
 * root: directories and files are bound (recursively), symlinks copied.
 * Missing paths are skipped.
 */
static int bind_ro(const char *base, const char *path)
{
	char dst[PATH_MAX], target[PATH_MAX];
	struct stat st;
	ssize_t n;
	int fd, r;

	if (path[0] != '/' || lstat(path, &st) < 0)
		return 0;
	snprintf(dst, sizeof dst, "%s%s", base, path);
	/* Already there, through an earlier bind or symlink (/lib64 -> usr/lib64). */
	if (faccessat(AT_FDCWD, dst, F_OK, AT_SYMLINK_NOFOLLOW) == 0)
		return 0;
	r = make_parents(base, path);
	if (r < 0)
		return r;
	if (S_ISLNK(st.st_mode)) {
		n = readlink(path, target, sizeof target - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		return symlink(target, dst) < 0 && errno != EEXIST ? -errno : 0;
	}
	if (S_ISDIR(st.st_mode)) {
		if (mkdir(dst, 0755) < 0 && errno != EEXIST)
			return -errno;
	} else {
		fd = open(dst, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);
		if (fd < 0)
			return -errno;
		bh__close(fd);
	}
	if (mount(path, dst, NULL, MS_BIND | MS_REC, NULL) < 0)
		return -errno;
	return set_ro(dst, true);
}

static int make_empty_root(const char *const *binds, char *err, size_t errsize)
{
	unsigned long flags = MS_NOSUID | MS_NODEV | MS_NOEXEC | (binds ? 0 : MS_RDONLY);
	const char *base = NULL;
	int fd = -1, r = 0;

	/* Nothing done from here on may propagate back to the broker's mounts. */
	if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) {
		r = -errno;
		snprintf(err, errsize, "making / private: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; i < BH_ARRAY_SIZE(mount_bases); i++) {
		struct stat st;

		if (stat(mount_bases[i], &st) == 0 && S_ISDIR(st.st_mode) &&
		    mount("tmpfs", mount_bases[i], "tmpfs", flags,
			  binds ? "size=64k,nr_inodes=256,mode=0755" : "size=4k,nr_inodes=1,mode=0555") == 0) {
			base = mount_bases[i];
			break;
		}
	}
	if (!base) {
		r = -errno;
		snprintf(err, errsize, "mounting the tmpfs root: %s", strerror(errno));
		goto out;
	}
	for (size_t i = 0; binds && binds[i]; i++) {
		r = bind_ro(base, binds[i]);
		if (r < 0) {
			snprintf(err, errsize, "binding %s: %s", binds[i], strerror(-r));
			goto out;
		}
	}
	if (binds) {
		r = set_ro(base, false);
		if (r < 0) {
			snprintf(err, errsize, "making the new root read-only: %s", strerror(-r));
			goto out;
		}
	}
	fd = open(base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0 || fchdir(fd) < 0) {
		r = -errno;
		snprintf(err, errsize, "entering the new root: %s", strerror(errno));
		goto out;
	}
	/*
	 * pivot_root(".", ".") stacks the old root on top of the new one;
	 * detaching "." then drops the whole old tree (and every mount in it,
	 * /proc included) from this namespace. Nothing is left to escape to.
	 */
	if (syscall(SYS_pivot_root, ".", ".") < 0) {
		r = -errno;
		snprintf(err, errsize, "pivot_root: %s", strerror(errno));
		goto out;
	}
	if (umount2(".", MNT_DETACH) < 0 || chdir("/") < 0) {
		r = -errno;
		snprintf(err, errsize, "detaching the old root: %s", strerror(errno));
		goto out;
	}
out:
	bh__close(fd);
	return r;
}

/* True if "/" is an empty read-only tmpfs and /proc is gone. */
static bool root_is_empty(char *why, size_t size)
{
	struct statfs sfs;
	char buf[256];
	int fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	long n;
	bool ok = false;

	if (fd < 0) {
		snprintf(why, size, "cannot open /: %s", strerror(errno));
		return false;
	}
	if (fstatfs(fd, &sfs) < 0 || sfs.f_type != TMPFS_MAGIC || !(sfs.f_flags & ST_RDONLY)) {
		snprintf(why, size, "/ is not a read-only tmpfs");
		goto out;
	}
	n = syscall(SYS_getdents64, fd, buf, sizeof buf);
	if (n < 0) {
		snprintf(why, size, "cannot list /: %s", strerror(errno));
		goto out;
	}
	for (long off = 0; off < n;) {
		const struct {
			uint64_t ino;
			int64_t off;
			unsigned short reclen;
			unsigned char type;
			char name[];
		} *de = (const void *)(buf + off);

		if (strcmp(de->name, ".") != 0 && strcmp(de->name, "..") != 0) {
			snprintf(why, size, "/ is not empty");
			goto out;
		}
		off += de->reclen;
	}
	if (access("/proc/self", F_OK) == 0 || errno != ENOENT) {
		snprintf(why, size, "/proc is still reachable");
		goto out;
	}
	ok = true;
out:
	bh__close(fd);
	return ok;
}

static int layer_fs(struct enter *e)
{
	char err[96];
	int r;

	if (!wanted(e, BH_LAYER_FS))
		return 0;
	if (!e->new_ns[BH_LAYER_FS])
		return not_applied(e, BH_LAYER_FS, EPERM,
				   "no private mount namespace (the broker's mounts must not change)");
	r = make_empty_root(e->binds, err, sizeof err);
	if (r < 0)
		return not_applied(e, BH_LAYER_FS, -r, err);
	if (e->binds) {
		struct statfs sfs;
		unsigned n = 0;

		while (e->binds[n])
			n++;
		if (statfs("/", &sfs) < 0 || !(sfs.f_flags & ST_RDONLY) || access("/proc/self", F_OK) == 0)
			return not_applied(e, BH_LAYER_FS, EEXIST, "new root is writable or /proc reachable");
		set_state(e, BH_LAYER_FS, BH_STATE_APPLIED,
			  "read-only root holding only %u system paths for the dynamic loader", n);
		return 0;
	}
	if (!root_is_empty(err, sizeof err))
		return not_applied(e, BH_LAYER_FS, EEXIST, err);
	e->rep->status.fs_empty = true;
	set_state(e, BH_LAYER_FS, BH_STATE_APPLIED, "empty read-only tmpfs root, old root detached");
	return 0;
}

/* ---- 4. rlimits ------------------------------------------------------------- */

static int layer_rlimits(struct enter *e)
{
	char detail[96];
	struct bh__out out = { detail, sizeof detail, 0 };

	detail[0] = '\0';
	if (!wanted(e, BH_LAYER_RLIMITS))
		return 0;
	for (int i = 0; i < BH__RL_COUNT; i++) {
		uint64_t v = e->p->rlimits[i];
		struct rlimit rl, now;

		if (v == BH_RLIMIT_KEEP)
			continue;
#ifdef BH_ASAN
		if (bh__rlimit_resource(i) == RLIMIT_AS) {
			bh__out_printf(&out, "%sAS=skipped(asan)", out.len ? " " : "");
			continue;
		}
#endif
		if (getrlimit(bh__rlimit_resource(i), &rl) < 0)
			return not_applied(e, BH_LAYER_RLIMITS, errno, "getrlimit failed");
		/* Only ever lower: raising a hard limit would need CAP_SYS_RESOURCE anyway. */
		if (rl.rlim_max == RLIM_INFINITY || (uint64_t)rl.rlim_max > v)
			rl.rlim_max = (rlim_t)v;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(bh__rlimit_resource(i), &rl) < 0)
			return not_applied(e, BH_LAYER_RLIMITS, errno, "setrlimit failed");
		if (getrlimit(bh__rlimit_resource(i), &now) < 0 || now.rlim_max != rl.rlim_max ||
		    now.rlim_cur != rl.rlim_cur)
			return not_applied(e, BH_LAYER_RLIMITS, EIO, "limit did not stick");
		bh__out_printf(&out, "%s%s=%llu", out.len ? " " : "", bh__rlimit_name(i),
			       (unsigned long long)rl.rlim_max);
	}
	set_state(e, BH_LAYER_RLIMITS, BH_STATE_APPLIED, "%s", detail[0] ? detail : "none set");
	return 0;
}

/* ---- 5. no_new_privs, not dumpable ----------------------------------------- */

static int layer_nnp(struct enter *e)
{
	if (!wanted(e, BH_LAYER_NO_NEW_PRIVS))
		return 0;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return not_applied(e, BH_LAYER_NO_NEW_PRIVS, errno, "PR_SET_NO_NEW_PRIVS failed");
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return not_applied(e, BH_LAYER_NO_NEW_PRIVS, errno, "PR_SET_DUMPABLE failed");
	if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1 || prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0)
		return not_applied(e, BH_LAYER_NO_NEW_PRIVS, EIO, "flags did not stick");
	set_state(e, BH_LAYER_NO_NEW_PRIVS, BH_STATE_APPLIED, "no_new_privs set, not dumpable");
	return 0;
}

/* ---- 6. capabilities and ids ---------------------------------------------- */

#define LOCKED_SECUREBITS                                                             \
	(SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |                 \
	 SECBIT_NO_SETUID_FIXUP_LOCKED | SECBIT_KEEP_CAPS_LOCKED | SECBIT_NO_CAP_AMBIENT_RAISE | \
	 SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED)

static bool caps_clear(void)
{
	cap_t now = cap_get_proc(), none = cap_init();
	bool clear = now && none && cap_compare(now, none) == 0;

	cap_free(now);
	cap_free(none);
	return clear;
}

static int layer_caps(struct enter *e)
{
	bool have_setpcap, groups_dropped = true, locked = true;
	cap_t c;
	cap_flag_value_t v = CAP_CLEAR;
	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	int r;

	if (!wanted(e, BH_LAYER_CAPS))
		return 0;
	c = cap_get_proc();
	have_setpcap = c && cap_get_flag(c, CAP_SETPCAP, CAP_EFFECTIVE, &v) == 0 && v == CAP_SET;
	cap_free(c);

	if (have_setpcap) {
		/* Locked securebits: uid 0 never means capabilities again, not even after exec. */
		if (cap_set_secbits(LOCKED_SECUREBITS) < 0)
			return not_applied(e, BH_LAYER_CAPS, errno, "locking securebits failed");
		for (cap_value_t cap = 0; cap < (cap_value_t)cap_max_bits(); cap++) {
			if (cap_drop_bound(cap) < 0 && errno != EINVAL)
				return not_applied(e, BH_LAYER_CAPS, errno, "dropping the bounding set failed");
		}
	} else {
		locked = false;
	}

	/* Unprivileged ids. In a user namespace made by an unprivileged broker setgroups() is denied. */
	if (syscall(SYS_setgroups, 0, NULL) < 0) {
		if (errno != EPERM)
			return not_applied(e, BH_LAYER_CAPS, errno, "setgroups failed");
		groups_dropped = false;
	}
	r = bh__set_ids(e->uid, e->gid, false);
	if (r < 0)
		return not_applied(e, BH_LAYER_CAPS, -r, "switching to the unprivileged ids failed");
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0 || ru != e->uid ||
	    eu != e->uid || su != e->uid || rg != e->gid || eg != e->gid || sg != e->gid || eu == 0)
		return not_applied(e, BH_LAYER_CAPS, EIO, "ids did not stick");

	if (cap_reset_ambient() < 0 && errno != EINVAL)
		return not_applied(e, BH_LAYER_CAPS, errno, "clearing ambient capabilities failed");
	c = cap_init();
	r = c ? cap_set_proc(c) : -1;
	if (r < 0) {
		int err = errno;

		cap_free(c);
		return not_applied(e, BH_LAYER_CAPS, err, "clearing capability sets failed");
	}
	cap_free(c);

	if (locked) {
		/* The bounding and ambient sets are checked in /proc/self/status by verify(). */
		if (!caps_clear() || (unsigned)cap_get_secbits() != LOCKED_SECUREBITS)
			return not_applied(e, BH_LAYER_CAPS, EIO, "capabilities still present after dropping");
		e->caps_locked = true;
		set_state(e, BH_LAYER_CAPS, BH_STATE_APPLIED, "uid %u gid %u%s, all sets empty, securebits locked",
			  (unsigned)e->uid, (unsigned)e->gid, groups_dropped ? ", no groups" : "");
		return 0;
	}
	/*
	 * Without CAP_SETPCAP (unprivileged, no user namespace) the bounding set
	 * and securebits cannot change. The process holds no capability and
	 * no_new_privs makes exec unable to grant any, which is what those two
	 * guard against; say so rather than pretend.
	 */
	if (!caps_clear() || prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1)
		return not_applied(e, BH_LAYER_CAPS, EPERM, "no CAP_SETPCAP to drop the bounding set or lock securebits");
	set_state(e, BH_LAYER_CAPS, BH_STATE_APPLIED,
		  "uid %u, no capabilities held; bounding set kept (no CAP_SETPCAP), no_new_privs", (unsigned)e->uid);
	return 0;
}

/* ---- 7. seccomp ------------------------------------------------------------- */

/*
 * The filter is compiled before any layer (if the caller did not bring one
 * built for this pid): exporting it needs a memfd, which RLIMIT_FSIZE=0 and
 * a tight RLIMIT_NOFILE would refuse later.
 */
static int prepare_filter(struct enter *e)
{
	const bh_sandbox_prog *prog = e->o->prog;
	int r;

	if ((e->o->flags & BH_SANDBOX_NO_SECCOMP) || e->p->layers[BH_LAYER_SECCOMP] == BH_NEED_OFF)
		return 0;
	if (prog && prog->pid == getpid() && prog->flags == 0) {
		e->prog = prog;
		return 0;
	}
	r = bh_sandbox_compile(e->p, getpid(), &e->own);
	if (r < 0)
		return not_applied(e, BH_LAYER_SECCOMP, -r, "compiling the filter failed");
	e->recompiled = prog != NULL;
	e->prog = e->own;
	return 0;
}

static int layer_seccomp(struct enter *e)
{
	int r;

	if (e->o->flags & BH_SANDBOX_NO_SECCOMP) {
		/* The caller loads its own filter next (bulkhead-run, right before exec). */
		set_state(e, BH_LAYER_SECCOMP, BH_STATE_ABSENT, "left to the caller (BH_SANDBOX_NO_SECCOMP)");
		return 0;
	}
	if (!wanted(e, BH_LAYER_SECCOMP))
		return 0;
	if (!e->prog)
		return not_applied(e, BH_LAYER_SECCOMP, EINVAL, "no filter");
	r = bh__sigsys_install(e->o->report_fd);
	if (r == 0)
		r = bh__sandbox_prog_load(e->prog, SECCOMP_FILTER_FLAG_TSYNC);
	if (r < 0)
		return not_applied(e, BH_LAYER_SECCOMP, -r, "loading the filter failed");
	set_state(e, BH_LAYER_SECCOMP, BH_STATE_APPLIED, "%zu BPF instructions, all threads%s",
		  e->prog->len, e->recompiled ? ", recompiled for this pid" : "");
	return 0;
}

/* ---- driver ----------------------------------------------------------------- */

static int prepare(struct enter *e, int *keepbuf)
{
	const bh_sandbox_opts *o = e->o;
	unsigned n = 0;

	if (o->n_keep_fds > 0 && !o->keep_fds)
		return -EINVAL;
	for (unsigned i = 0; i < o->n_keep_fds; i++) {
		if (o->keep_fds[i] < 0)
			return -EBADF;
		keepbuf[n++] = o->keep_fds[i];
	}
	if (o->report_fd >= 0)
		keepbuf[n++] = o->report_fd;
	qsort(keepbuf, n, sizeof(int), cmp_int);
	e->nkeep = 0;
	for (unsigned i = 0; i < n; i++) {
		if (e->nkeep == 0 || keepbuf[e->nkeep - 1] != keepbuf[i])
			keepbuf[e->nkeep++] = keepbuf[i];
	}
	e->keep = keepbuf;
	if (o->child) {
		e->uid = o->child->uid;
		e->gid = o->child->gid;
	} else if (geteuid() == 0) {
		e->uid = NOBODY;
		e->gid = NOBODY;
	} else {
		e->uid = geteuid();
		e->gid = getegid();
	}
	return 0;
}

/* Read back what the kernel says and compare with the claimed layers. */
static int verify(struct enter *e)
{
	bh_sandbox_status st;
	int r = bh_sandbox_status_read(e->rep, &st);

	if (r < 0)
		return bh__fail(&e->rep->failure, -1, -r, "reading the status back: %s", strerror(-r));
	if (L(e, BH_LAYER_SECCOMP)->state == BH_STATE_APPLIED && st.seccomp_mode != SECCOMP_MODE_FILTER) {
		set_state(e, BH_LAYER_SECCOMP, BH_STATE_FAILED, "the kernel reports no filter");
		return bh__fail(&e->rep->failure, BH_LAYER_SECCOMP, EIO, "seccomp: the kernel reports no filter");
	}
	if (L(e, BH_LAYER_NO_NEW_PRIVS)->state == BH_STATE_APPLIED && (!st.no_new_privs || st.dumpable)) {
		set_state(e, BH_LAYER_NO_NEW_PRIVS, BH_STATE_FAILED, "the kernel disagrees");
		return bh__fail(&e->rep->failure, BH_LAYER_NO_NEW_PRIVS, EIO, "no_new_privs: the kernel disagrees");
	}
	if (L(e, BH_LAYER_CAPS)->state == BH_STATE_APPLIED &&
	    (st.cap_eff || st.cap_prm || st.cap_inh || st.cap_amb || (e->caps_locked && st.cap_bnd))) {
		set_state(e, BH_LAYER_CAPS, BH_STATE_FAILED, "the kernel still reports capabilities");
		return bh__fail(&e->rep->failure, BH_LAYER_CAPS, EIO, "caps: the kernel still reports capabilities");
	}
	e->rep->status = st;
	return 0;
}

int bh__sandbox_enter_ex(const bh_profile *p, const bh_sandbox_opts *opts, bh_sandbox_report *rep,
			 const char *const *binds)
{
	struct enter e;
	int keepbuf[256 + 1];
	int r;

	if (!p || !opts || !rep)
		return -EINVAL;
	memset(rep, 0, sizeof *rep);
	rep->status_fd = -1;
	rep->failure.layer = -1;
	snprintf(rep->status.profile, sizeof rep->status.profile, "%s", p->name);
	for (int i = 0; i < BH_LAYER_COUNT; i++)
		rep->status.layers[i].need = p->layers[i];
	memset(&e, 0, sizeof e);
	e.p = p;
	e.o = opts;
	e.rep = rep;
	e.binds = binds;
	if (opts->n_keep_fds > 256) {
		r = bh__fail(&rep->failure, BH_LAYER_FDS, EINVAL, "fds: more than 256 fds to keep");
		goto out;
	}
	r = prepare(&e, keepbuf);
	if (r < 0) {
		bh__fail(&rep->failure, BH_LAYER_FDS, -r, "fds: invalid keep list");
		goto out;
	}
	r = prepare_filter(&e);
	if (r == 0)
		r = layer_fds(&e);
	if (r == 0)
		r = layer_namespaces(&e);
	if (r == 0) {
		/* Opened now, while /proc exists; the fd keeps working after the root is gone. */
		rep->status_fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
		if (rep->status_fd < 0)
			r = bh__fail(&rep->failure, -1, errno, "cannot open /proc/self/status: %s", strerror(errno));
	}
	if (r == 0) {
		rep->fd_limit = BH_MAX(rep->status_fd, e.nkeep ? e.keep[e.nkeep - 1] : 0) + 1;
		r = layer_fs(&e);
	}
	if (r == 0)
		r = layer_rlimits(&e);
	if (r == 0)
		r = layer_nnp(&e);
	if (r == 0)
		r = layer_caps(&e);
	if (r == 0)
		r = layer_seccomp(&e);
	if (r == 0)
		r = verify(&e);
out:
	bh_sandbox_prog_destroy(e.own);
	if (r < 0) {
		bh__report_failure(opts->report_fd, &rep->failure);
		if (opts->flags & BH_SANDBOX_EXIT_ON_FAILURE)
			_exit(BH_SANDBOX_EXIT_SETUP);
	}
	return r;
}

int bh_sandbox_enter(const bh_profile *p, const bh_sandbox_opts *opts, bh_sandbox_report *rep)
{
	return bh__sandbox_enter_ex(p, opts, rep, NULL);
}

void bh_sandbox_report_release(bh_sandbox_report *rep)
{
	if (rep)
		rep->status_fd = bh__close(rep->status_fd);
}

const bh_profile *bh_sandbox_child_profile(const bh_sandbox_child *child)
{
	return child ? child->profile : NULL;
}
