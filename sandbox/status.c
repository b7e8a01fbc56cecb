/*
 * The sandbox as the kernel reports it, its protobuf form, the JSON and
 * table views, and the records of the report fd. Everything that arrives
 * from a worker (status messages, records) is validated before use.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bulkhead.pb-c.h"
#include "common/internal.h"
#include "sandbox/sandbox_private.h"

/* ---- reading the kernel's view ------------------------------------------- */

static const char *field(const char *text, const char *name)
{
	size_t n = strlen(name);

	for (const char *line = text; line && *line;) {
		if (strncmp(line, name, n) == 0 && line[n] == ':')
			return line + n + 1;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	return NULL;
}

static uint64_t field_u64(const char *text, const char *name, int base)
{
	const char *v = field(text, name);

	return v ? strtoull(v, NULL, base) : 0;
}

static uint64_t hard_limit(int resource)
{
	struct rlimit rl;

	if (getrlimit(resource, &rl) < 0 || rl.rlim_max == RLIM_INFINITY)
		return UINT64_MAX;
	return (uint64_t)rl.rlim_max;
}

int bh_sandbox_status_read(const bh_sandbox_report *rep, bh_sandbox_status *out)
{
	bh_sandbox_status st;
	char text[4096];
	ssize_t n;
	int limit;
	struct rlimit nofile;

	if (!rep || !out)
		return -EINVAL;
	if (rep->status_fd < 0)
		return -EBADF;
	do {
		n = pread(rep->status_fd, text, sizeof text - 1, 0);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	text[n] = '\0';
	if (!field(text, "Seccomp") || !field(text, "CapEff") || !field(text, "Uid"))
		return -EIO;

	st = rep->status;
	st.seccomp_mode = (int)field_u64(text, "Seccomp", 10);
	st.seccomp_filters = (unsigned)field_u64(text, "Seccomp_filters", 10);
	st.no_new_privs = field_u64(text, "NoNewPrivs", 10) != 0;
	st.cap_inh = field_u64(text, "CapInh", 16);
	st.cap_prm = field_u64(text, "CapPrm", 16);
	st.cap_eff = field_u64(text, "CapEff", 16);
	st.cap_bnd = field_u64(text, "CapBnd", 16);
	st.cap_amb = field_u64(text, "CapAmb", 16);
	st.uid = (uint32_t)field_u64(text, "Uid", 10);
	st.gid = (uint32_t)field_u64(text, "Gid", 10);
	st.dumpable = prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) != 0;
	st.pid = (int32_t)getpid();
	st.rlimit_as = hard_limit(RLIMIT_AS);
	st.rlimit_nofile = hard_limit(RLIMIT_NOFILE);
	st.rlimit_nproc = hard_limit(RLIMIT_NPROC);
	st.rlimit_fsize = hard_limit(RLIMIT_FSIZE);
	st.rlimit_core = hard_limit(RLIMIT_CORE);

	/* /proc/self/fd is gone: probe each number that can be open. */
	limit = rep->fd_limit > 0 ? rep->fd_limit : 0;
	if (getrlimit(RLIMIT_NOFILE, &nofile) == 0 && nofile.rlim_cur != RLIM_INFINITY &&
	    (rlim_t)limit < nofile.rlim_cur)
		limit = (int)BH_MIN(nofile.rlim_cur, (rlim_t)65536);
	st.open_fds = 0;
	for (int fd = 0; fd < limit; fd++) {
		if (fd != rep->status_fd && fcntl(fd, F_GETFD) >= 0)
			st.open_fds++;
	}
	*out = st;
	return 0;
}

/* ---- protobuf -------------------------------------------------------------- */

struct status_blob {
	Bh__SandboxStatus m; /* first: the blob is freed through it */
	Bh__SandboxLayer layers[BH_LAYER_COUNT];
	Bh__SandboxLayer *ptrs[BH_LAYER_COUNT];
	char profile[BH_PROFILE_NAME_MAX];
	char details[BH_LAYER_COUNT][sizeof(((bh_sandbox_layer_report *)0)->detail)];
};

int bh_sandbox_status_to_pb(const bh_sandbox_status *st, struct Bh__SandboxStatus **out)
{
	struct status_blob *b;
	Bh__SandboxStatus *m;

	if (!st || !out)
		return -EINVAL;
	b = calloc(1, sizeof *b);
	if (!b)
		return -ENOMEM;
	m = &b->m;
	bh__sandbox_status__init(m);
	snprintf(b->profile, sizeof b->profile, "%s", st->profile);
	m->profile = b->profile;
	for (int i = 0; i < BH_LAYER_COUNT; i++) {
		bh__sandbox_layer__init(&b->layers[i]);
		b->layers[i].name = (char *)bh_sandbox_layer_name(i);
		b->layers[i].state = (Bh__SandboxLayer__State)st->layers[i].state;
		b->layers[i].need = (Bh__SandboxLayer__Need)st->layers[i].need;
		snprintf(b->details[i], sizeof b->details[i], "%s", st->layers[i].detail);
		b->layers[i].detail = b->details[i];
		b->ptrs[i] = &b->layers[i];
	}
	m->n_layers = BH_LAYER_COUNT;
	m->layers = b->ptrs;
	m->seccomp_mode = st->seccomp_mode;
	m->seccomp_filters = st->seccomp_filters;
	m->no_new_privs = st->no_new_privs;
	m->dumpable = st->dumpable;
	m->cap_eff = st->cap_eff;
	m->cap_prm = st->cap_prm;
	m->cap_inh = st->cap_inh;
	m->cap_bnd = st->cap_bnd;
	m->cap_amb = st->cap_amb;
	m->uid = st->uid;
	m->gid = st->gid;
	m->pid = st->pid;
	m->ns_user = st->ns.user;
	m->ns_pid = st->ns.pid;
	m->ns_net = st->ns.net;
	m->ns_ipc = st->ns.ipc;
	m->ns_mnt = st->ns.mnt;
	m->ns_uts = st->ns.uts;
	m->open_fds = st->open_fds;
	m->rlimit_as = st->rlimit_as;
	m->rlimit_nofile = st->rlimit_nofile;
	m->rlimit_nproc = st->rlimit_nproc;
	m->rlimit_fsize = st->rlimit_fsize;
	m->rlimit_core = st->rlimit_core;
	m->fs_empty = st->fs_empty;
	m->net_ifaces_up = st->net_ifaces_up;
	*out = m;
	return 0;
}

void bh_sandbox_status_pb_free(struct Bh__SandboxStatus *m)
{
	free(m); /* the whole blob: m is its first member */
}

/* A string from the wire fits `size` with its NUL and holds no control byte. */
static bool wire_string_ok(const char *s, size_t size)
{
	size_t n;

	if (!s)
		return false;
	n = strnlen(s, size);
	if (n >= size)
		return false;
	for (size_t i = 0; i < n; i++) {
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] == 0x7f)
			return false;
	}
	return true;
}

int bh_sandbox_status_from_pb(const struct Bh__SandboxStatus *m, bh_sandbox_status *out)
{
	bh_sandbox_status st;
	bool seen[BH_LAYER_COUNT] = { false };

	if (!m || !out || m->base.descriptor != &bh__sandbox_status__descriptor)
		return -EBADMSG;
	memset(&st, 0, sizeof st);
	if (!wire_string_ok(m->profile, sizeof st.profile))
		return -EBADMSG;
	snprintf(st.profile, sizeof st.profile, "%s", m->profile);
	if (m->n_layers > BH_LAYER_COUNT || (m->n_layers && !m->layers))
		return -EBADMSG;
	for (size_t i = 0; i < m->n_layers; i++) {
		const Bh__SandboxLayer *l = m->layers[i];
		int idx;

		if (!l || !l->name)
			return -EBADMSG;
		idx = bh_sandbox_layer_from_name(l->name);
		if (idx < 0 || seen[idx])
			return -EBADMSG;
		seen[idx] = true;
		if ((int)l->state < BH_STATE_ABSENT || (int)l->state > BH_STATE_FAILED ||
		    (int)l->need < BH_NEED_OFF || (int)l->need > BH_NEED_REQUIRED)
			return -EBADMSG;
		if (!wire_string_ok(l->detail, sizeof st.layers[idx].detail))
			return -EBADMSG;
		st.layers[idx].state = (bh_layer_state)l->state;
		st.layers[idx].need = (bh_layer_need)l->need;
		snprintf(st.layers[idx].detail, sizeof st.layers[idx].detail, "%s", l->detail);
	}
	if (m->seccomp_mode < 0 || m->seccomp_mode > 2)
		return -EBADMSG;
	st.seccomp_mode = m->seccomp_mode;
	st.seccomp_filters = m->seccomp_filters;
	st.no_new_privs = m->no_new_privs;
	st.dumpable = m->dumpable;
	st.cap_eff = m->cap_eff;
	st.cap_prm = m->cap_prm;
	st.cap_inh = m->cap_inh;
	st.cap_bnd = m->cap_bnd;
	st.cap_amb = m->cap_amb;
	st.uid = m->uid;
	st.gid = m->gid;
	st.pid = m->pid;
	st.ns.user = m->ns_user;
	st.ns.pid = m->ns_pid;
	st.ns.net = m->ns_net;
	st.ns.ipc = m->ns_ipc;
	st.ns.mnt = m->ns_mnt;
	st.ns.uts = m->ns_uts;
	st.open_fds = m->open_fds;
	st.rlimit_as = m->rlimit_as;
	st.rlimit_nofile = m->rlimit_nofile;
	st.rlimit_nproc = m->rlimit_nproc;
	st.rlimit_fsize = m->rlimit_fsize;
	st.rlimit_core = m->rlimit_core;
	st.fs_empty = m->fs_empty;
	st.net_ifaces_up = m->net_ifaces_up;
	*out = st;
	return 0;
}

void bh_sandbox_failure_to_pb(const bh_sandbox_failure *f, struct Bh__SetupFailed *m)
{
	m->layer = (char *)bh_sandbox_layer_name(f->layer);
	m->code = f->code;
	m->text = (char *)f->text;
}

void bh_sandbox_violation_to_pb(const bh_sandbox_violation *v, struct Bh__CrashReport *m)
{
	m->signal = SIGSYS;
	m->fault_addr = 0;
	m->syscall_nr = v->nr;
	m->syscall_name = (char *)v->name;
	m->arch = (int32_t)v->arch;
	m->ip = v->ip;
	m->n_syscall_args = 6;
	m->syscall_args = (uint64_t *)v->args;
}

/* ---- views ------------------------------------------------------------------ */

static const char *ns_names[] = { "user", "pid", "net", "ipc", "mnt", "uts" };

static uint64_t ns_at(const bh_sandbox_ns_ids *ids, int i)
{
	const uint64_t v[] = { ids->user, ids->pid, ids->net, ids->ipc, ids->mnt, ids->uts };

	return v[i];
}

static void out_limit_json(struct bh__out *o, const char *name, uint64_t v, bool last)
{
	if (v == UINT64_MAX)
		bh__out_printf(o, "\"%s\":null%s", name, last ? "" : ",");
	else
		bh__out_printf(o, "\"%s\":%" PRIu64 "%s", name, v, last ? "" : ",");
}

/* Problems that make a worker not adequately sandboxed; 0 if none. */
static int problems(const bh_sandbox_status *st, char *buf, size_t size)
{
	struct bh__out o = { buf, size, 0 };
	int n = 0;

	if (size)
		buf[0] = '\0';
	for (int i = 0; i < BH_LAYER_COUNT; i++) {
		if (st->layers[i].need == BH_NEED_REQUIRED && st->layers[i].state != BH_STATE_APPLIED) {
			bh__out_printf(&o, "%s%s %s", n ? ", " : "", bh_sandbox_layer_name(i),
				       bh_layer_state_name(st->layers[i].state));
			n++;
		}
	}
	if (st->seccomp_mode != 2) {
		bh__out_printf(&o, "%sno seccomp filter", n ? ", " : "");
		n++;
	}
	if (st->cap_eff || st->cap_prm) {
		bh__out_printf(&o, "%scapabilities held", n ? ", " : "");
		n++;
	}
	return n;
}

int bh_sandbox_status_format_json(const bh_sandbox_status *st, const bh_sandbox_ns_ids *broker,
				  char *buf, size_t size)
{
	struct bh__out o = { buf, size, 0 };
	char why[160];

	if (size)
		buf[0] = '\0';
	bh__out_printf(&o, "{\"profile\":");
	bh__out_json_string(&o, st->profile);
	bh__out_printf(&o, ",\"pid\":%" PRId32 ",\"adequate\":%s,\"layers\":[", st->pid,
		       problems(st, why, sizeof why) ? "false" : "true");
	for (int i = 0; i < BH_LAYER_COUNT; i++) {
		bh__out_printf(&o, "%s{\"name\":\"%s\",\"need\":\"%s\",\"state\":\"%s\",\"detail\":", i ? "," : "",
			       bh_sandbox_layer_name(i), bh_layer_need_name(st->layers[i].need),
			       bh_layer_state_name(st->layers[i].state));
		bh__out_json_string(&o, st->layers[i].detail);
		bh__out_printf(&o, "}");
	}
	bh__out_printf(&o, "],\"seccomp\":{\"mode\":%d,\"filters\":%u},\"no_new_privs\":%s,\"dumpable\":%s,",
		       st->seccomp_mode, st->seccomp_filters, st->no_new_privs ? "true" : "false",
		       st->dumpable ? "true" : "false");
	bh__out_printf(&o, "\"caps\":{\"eff\":%" PRIu64 ",\"prm\":%" PRIu64 ",\"inh\":%" PRIu64
			   ",\"bnd\":%" PRIu64 ",\"amb\":%" PRIu64 "},",
		       st->cap_eff, st->cap_prm, st->cap_inh, st->cap_bnd, st->cap_amb);
	bh__out_printf(&o, "\"uid\":%" PRIu32 ",\"gid\":%" PRIu32 ",\"namespaces\":{", st->uid, st->gid);
	for (int i = 0; i < 6; i++) {
		uint64_t mine = ns_at(&st->ns, i);

		bh__out_printf(&o, "%s\"%s\":{\"id\":%" PRIu64, i ? "," : "", ns_names[i], mine);
		if (broker)
			bh__out_printf(&o, ",\"broker\":%" PRIu64 ",\"separate\":%s", ns_at(broker, i),
				       mine && mine != ns_at(broker, i) ? "true" : "false");
		bh__out_printf(&o, "}");
	}
	bh__out_printf(&o, "},\"open_fds\":%" PRIu32 ",\"rlimits\":{", st->open_fds);
	out_limit_json(&o, "as", st->rlimit_as, false);
	out_limit_json(&o, "nofile", st->rlimit_nofile, false);
	out_limit_json(&o, "nproc", st->rlimit_nproc, false);
	out_limit_json(&o, "fsize", st->rlimit_fsize, false);
	out_limit_json(&o, "core", st->rlimit_core, true);
	bh__out_printf(&o, "},\"fs_empty\":%s,\"net_ifaces_up\":%" PRIu32 "}", st->fs_empty ? "true" : "false",
		       st->net_ifaces_up);
	return (int)o.len;
}

/* Worker-supplied text for a terminal: control bytes become '?'. */
static void out_safe(struct bh__out *o, const char *s)
{
	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;

		bh__out_printf(o, "%c", c < 0x20 || c == 0x7f ? '?' : (char)c);
	}
}

static void out_limit(struct bh__out *o, const char *name, uint64_t v)
{
	if (v == UINT64_MAX)
		bh__out_printf(o, " %s unlimited", name);
	else
		bh__out_printf(o, " %s %" PRIu64, name, v);
}

int bh_sandbox_status_format_table(const bh_sandbox_status *st, const bh_sandbox_ns_ids *broker,
				   char *buf, size_t size)
{
	struct bh__out o = { buf, size, 0 };
	char why[160];

	if (size)
		buf[0] = '\0';
	bh__out_printf(&o, "Sandbox status: profile ");
	out_safe(&o, st->profile);
	bh__out_printf(&o, ", pid %" PRId32 " inside\n", st->pid);
	bh__out_printf(&o, "  %-14s %-9s %-8s %s\n", "Layer", "Need", "State", "Detail");
	for (int i = 0; i < BH_LAYER_COUNT; i++) {
		bh__out_printf(&o, "  %-14s %-9s %-8s ", bh_sandbox_layer_name(i),
			       bh_layer_need_name(st->layers[i].need), bh_layer_state_name(st->layers[i].state));
		out_safe(&o, st->layers[i].detail);
		bh__out_printf(&o, "\n");
	}
	bh__out_printf(&o, "  %-14s %s (mode %d, %u filter%s)\n", "Seccomp-BPF",
		       st->seccomp_mode == 2 ? "yes" : "no", st->seccomp_mode, st->seccomp_filters,
		       st->seccomp_filters == 1 ? "" : "s");
	bh__out_printf(&o, "  %-14s %s\n", "No new privs", st->no_new_privs ? "yes" : "no");
	bh__out_printf(&o, "  %-14s %s\n", "Dumpable", st->dumpable ? "yes" : "no");
	bh__out_printf(&o, "  %-14s eff %#" PRIx64 " prm %#" PRIx64 " inh %#" PRIx64 " amb %#" PRIx64
			   " bnd %#" PRIx64 "\n",
		       "Capabilities", st->cap_eff, st->cap_prm, st->cap_inh, st->cap_amb, st->cap_bnd);
	bh__out_printf(&o, "  %-14s uid %" PRIu32 " gid %" PRIu32 "\n", "Ids", st->uid, st->gid);
	bh__out_printf(&o, "  %-14s %-12s %-12s\n", "Namespace", "worker", broker ? "broker" : "");
	for (int i = 0; i < 6; i++) {
		uint64_t mine = ns_at(&st->ns, i);

		bh__out_printf(&o, "    %-12s %-12" PRIu64, ns_names[i], mine);
		if (broker)
			bh__out_printf(&o, " %-12" PRIu64 " %s", ns_at(broker, i),
				       mine && mine != ns_at(broker, i) ? "separate" : "SHARED");
		bh__out_printf(&o, "\n");
	}
	bh__out_printf(&o, "  %-14s %s\n", "Filesystem", st->fs_empty ? "empty read-only root" : "VISIBLE");
	bh__out_printf(&o, "  %-14s %" PRIu32 " interface%s up\n", "Network", st->net_ifaces_up,
		       st->net_ifaces_up == 1 ? "" : "s");
	bh__out_printf(&o, "  %-14s %" PRIu32 "\n", "Open fds", st->open_fds);
	bh__out_printf(&o, "  %-14s", "Limits");
	out_limit(&o, "AS", st->rlimit_as);
	out_limit(&o, "NOFILE", st->rlimit_nofile);
	out_limit(&o, "NPROC", st->rlimit_nproc);
	out_limit(&o, "FSIZE", st->rlimit_fsize);
	out_limit(&o, "CORE", st->rlimit_core);
	bh__out_printf(&o, "\n");
	if (problems(st, why, sizeof why))
		bh__out_printf(&o, "  NOT adequately sandboxed: %s\n", why);
	else
		bh__out_printf(&o, "  Adequately sandboxed.\n");
	return (int)o.len;
}

/* ---- records ---------------------------------------------------------------- */

static bool record_string_ok(const char *s, size_t size)
{
	return memchr(s, '\0', size) != NULL && wire_string_ok(s, size);
}

int bh_sandbox_record_decode(const void *buf, size_t len, bh_sandbox_record *out)
{
	struct bh__record r;
	bh_sandbox_record rec;

	if (!buf || !out || len != sizeof r)
		return -EBADMSG;
	memcpy(&r, buf, sizeof r);
	if (r.magic != BH__RECORD_MAGIC || r.version != BH__RECORD_VERSION || r.size != sizeof r)
		return -EBADMSG;
	memset(&rec, 0, sizeof rec);
	rec.kind = (bh_record_kind)r.kind;
	switch (r.kind) {
	case BH_RECORD_VIOLATION:
		if (r.code < 0 || r.arch == 0)
			return -EBADMSG;
		rec.violation.nr = r.code;
		rec.violation.arch = r.arch;
		rec.violation.pid = r.pid;
		rec.violation.ip = r.ip;
		memcpy(rec.violation.args, r.args, sizeof r.args);
		(void)bh_sandbox_syscall_name(r.arch, r.code, rec.violation.name, sizeof rec.violation.name);
		break;
	case BH_RECORD_SETUP_FAILED: {
		int layer;

		if (!record_string_ok(r.layer, sizeof r.layer) || !record_string_ok(r.text, sizeof r.text))
			return -EBADMSG;
		if (r.code < 1 || r.code > 4095)
			return -EBADMSG;
		layer = bh_sandbox_layer_from_name(r.layer);
		if (layer < 0 && strcmp(r.layer, "setup") != 0)
			return -EBADMSG;
		rec.failure.layer = layer < 0 ? -1 : layer;
		rec.failure.code = r.code;
		snprintf(rec.failure.text, sizeof rec.failure.text, "%s", r.text);
		break;
	}
	case BH_RECORD_READY:
		break;
	default:
		return -EBADMSG;
	}
	*out = rec;
	return 0;
}

int bh_sandbox_violation_decode(const void *buf, size_t len, bh_sandbox_violation *out)
{
	bh_sandbox_record rec;
	int r = bh_sandbox_record_decode(buf, len, &rec);

	if (r < 0)
		return r;
	if (rec.kind != BH_RECORD_VIOLATION || !out)
		return -EBADMSG;
	*out = rec.violation;
	return 0;
}

int bh_sandbox_records_drain(int fd, bh_sandbox_record *violation, bh_sandbox_record *failure)
{
	unsigned char buf[BH_SANDBOX_RECORD_SIZE];
	int valid = 0;

	/* Bounded: a worker cannot keep the broker here by having written a lot. */
	for (int i = 0; i < 4096; i++) {
		bh_sandbox_record rec;
		ssize_t n = read(fd, buf, sizeof buf);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		if (n < 0)
			return valid ? valid : -errno;
		if (n == 0)
			break;
		if (bh_sandbox_record_decode(buf, (size_t)n, &rec) < 0)
			continue;
		if (rec.kind == BH_RECORD_VIOLATION && violation)
			*violation = rec;
		else if (rec.kind == BH_RECORD_SETUP_FAILED && failure)
			*failure = rec;
		valid++;
	}
	return valid;
}
