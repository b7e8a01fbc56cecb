/*
 * Sandbox profiles as data, and the decoders that see hostile bytes:
 * lookup, derivation, validation, the policy table, compiling, violation
 * and setup-failed records, status messages from workers, JSON escaping.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <errno.h>
#include <linux/audit.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bulkhead/sandbox.h>

#include "bulkhead.pb-c.h"
#include "sandbox/sigsys.h"
#include "testutil.h"

static const bh_profile *profile(const char *name)
{
	const bh_profile *p = NULL;

	assert_int_equal(bh_profile_lookup(name, &p), 0);
	return p;
}

static bool has_rule(const bh_profile *p, const char *syscall)
{
	for (size_t i = 0; i < bh_profile_rule_count(p); i++) {
		if (strcmp(bh_profile_rule_at(p, i)->syscall, syscall) == 0)
			return true;
	}
	return false;
}

static void test_lookup(void **state)
{
	const char *const *names = bh_profile_builtin_names();
	const bh_profile *p = NULL;
	char msg[128];

	(void)state;
	assert_string_equal(names[0], "renderer");
	assert_string_equal(names[1], "gpu");
	assert_string_equal(names[2], "utility");
	assert_null(names[3]);
	assert_int_equal(bh_profile_lookup("nosuch", &p), -ENOENT);
	assert_null(p);
	assert_int_equal(bh_profile_lookup(NULL, &p), -EINVAL);
	bh_profile_lookup_error("nosuch", msg, sizeof msg);
	assert_string_equal(msg, "unknown sandbox profile 'nosuch' (known: renderer, gpu, utility)");
	/* Truncation keeps the NUL and reports the needed length. */
	assert_int_equal(bh_profile_lookup_error("nosuch", msg, 8), (int)strlen("unknown sandbox profile 'nosuch' "
									      "(known: renderer, gpu, utility)"));
	assert_int_equal(strlen(msg), 7);
	assert_string_equal(bh_profile_name(profile("gpu")), "gpu");
}

static void test_builtin_rules(void **state)
{
	const bh_profile *r = profile("renderer"), *g = profile("gpu"), *u = profile("utility");
	uint64_t v;

	(void)state;
	/* The renderer never gets any of these, in any form. */
	static const char *const never[] = { "open", "openat", "socket", "connect", "execve", "execveat",
					     "ptrace", "mount", "bpf", "perf_event_open", "keyctl",
					     "userfaultfd", "io_uring_setup", "personality", "memfd_create",
					     "unshare", "setns", "chroot", "process_vm_readv", NULL };
	for (size_t i = 0; never[i]; i++)
		assert_false(has_rule(r, never[i]));
	/* gpu and utility are the renderer plus additions. */
	assert_true(bh_profile_rule_count(g) > bh_profile_rule_count(r));
	assert_true(bh_profile_rule_count(u) > bh_profile_rule_count(g));
	for (size_t i = 0; i < bh_profile_rule_count(r); i++)
		assert_ptr_equal(bh_profile_rule_at(r, i), bh_profile_rule_at(g, i));
	assert_true(has_rule(g, "memfd_create"));
	assert_false(has_rule(g, "openat"));
	assert_true(has_rule(u, "openat")); /* EACCES for libc probes */
	assert_null(bh_profile_rule_at(r, bh_profile_rule_count(r)));
	/* Every rule says why. */
	for (size_t i = 0; i < bh_profile_rule_count(u); i++)
		assert_true(strlen(bh_profile_rule_at(u, i)->why) > 5);
	/* Layers and limits. */
	for (int l = 0; l < BH_LAYER_COUNT; l++)
		assert_int_equal(bh_profile_layer(r, l), BH_NEED_REQUIRED);
	assert_int_equal(bh_profile_layer(u, BH_LAYER_USERNS), BH_NEED_OPTIONAL);
	assert_int_equal(bh_profile_rlimit(r, RLIMIT_FSIZE, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(bh_profile_rlimit(r, RLIMIT_CORE, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(bh_profile_rlimit(r, RLIMIT_STACK, &v), -EINVAL);
}

static void test_builtins_are_immutable(void **state)
{
	bh_profile *p = (bh_profile *)profile("renderer");

	(void)state;
	assert_int_equal(bh_profile_allow(p, "uname", "no"), -EPERM);
	assert_int_equal(bh_profile_set_layer(p, BH_LAYER_NETNS, BH_NEED_OFF), -EPERM);
	assert_int_equal(bh_profile_set_rlimit(p, RLIMIT_NOFILE, 10), -EPERM);
	bh_profile_destroy(p); /* ignored */
	assert_string_equal(bh_profile_name(profile("renderer")), "renderer");
}

static void test_derive(void **state)
{
	bh_profile *a = NULL, *b = NULL;
	bh_syscall_rule bad;
	uint64_t v;
	size_t base = bh_profile_rule_count(profile("gpu"));

	(void)state;
	assert_int_equal(bh_profile_derive(profile("gpu"), "my-app", &a), 0);
	assert_string_equal(bh_profile_name(a), "my-app");
	assert_int_equal(bh_profile_rule_count(a), base);
	assert_int_equal(bh_profile_allow(a, "uname", "reads the kernel version"), 0);
	{
		bh_syscall_rule r = { .syscall = "socket", .action = BH_RULE_ALLOW, .nargs = 1,
				      .args = { { 0, BH_CMP_EQ, AF_UNIX, 0 } }, .why = "local sockets only" };
		char why[32];

		strcpy(why, "copied, not kept");
		r.why = why;
		assert_int_equal(bh_profile_add_rule(a, &r), 0);
		strcpy(why, "changed");
	}
	assert_int_equal(bh_profile_rule_count(a), base + 2);
	assert_string_equal(bh_profile_rule_at(a, base + 1)->why, "copied, not kept");
	assert_int_equal(bh_profile_set_rlimit(a, RLIMIT_NOFILE, 16), 0);
	assert_int_equal(bh_profile_rlimit(a, RLIMIT_NOFILE, &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(bh_profile_set_layer(a, BH_LAYER_UTSNS, BH_NEED_OPTIONAL), 0);
	assert_int_equal(bh_profile_layer(a, BH_LAYER_UTSNS), BH_NEED_OPTIONAL);

	/* Derived from a derived profile, which can then go away. */
	assert_int_equal(bh_profile_derive(a, "my-app-2", &b), 0);
	bh_profile_destroy(a);
	assert_int_equal(bh_profile_rule_count(b), base + 2);
	assert_string_equal(bh_profile_rule_at(b, base)->syscall, "uname");
	assert_int_equal(bh_profile_rlimit(b, RLIMIT_NOFILE, &v), 0);
	assert_int_equal(v, 16);

	/* Validation. */
	assert_int_equal(bh_profile_allow(b, "no_such_call", "x"), -EINVAL);
	assert_int_equal(bh_profile_allow(b, "uname", ""), -EINVAL);
	assert_int_equal(bh_profile_allow(b, "uname", NULL), -EINVAL);
	memset(&bad, 0, sizeof bad);
	bad.syscall = "ioctl";
	bad.why = "x";
	bad.action = BH_RULE_ERRNO;
	bad.err = 0;
	assert_int_equal(bh_profile_add_rule(b, &bad), -EINVAL);
	bad.err = 5000;
	assert_int_equal(bh_profile_add_rule(b, &bad), -EINVAL);
	bad.err = EPERM;
	bad.nargs = 2;
	bad.args[0] = (bh_arg_cmp){ 1, BH_CMP_EQ, 1, 0 };
	bad.args[1] = (bh_arg_cmp){ 1, BH_CMP_EQ, 2, 0 }; /* same argument twice */
	assert_int_equal(bh_profile_add_rule(b, &bad), -EINVAL);
	bad.args[1] = (bh_arg_cmp){ 6, BH_CMP_EQ, 2, 0 };
	assert_int_equal(bh_profile_add_rule(b, &bad), -EINVAL);
	bad.nargs = 4;
	assert_int_equal(bh_profile_add_rule(b, &bad), -EINVAL);
	assert_int_equal(bh_profile_set_layer(b, BH_LAYER_COUNT, BH_NEED_OFF), -EINVAL);
	assert_int_equal(bh_profile_set_rlimit(b, RLIMIT_STACK, 1), -EINVAL);
	assert_int_equal(bh_profile_derive(profile("gpu"), "", &a), -EINVAL);
	assert_int_equal(bh_profile_derive(profile("gpu"), "has space", &a), -EINVAL);
	assert_int_equal(bh_profile_derive(profile("gpu"), "a-name-that-is-far-too-long-for-it", &a), -EINVAL);
	bh_profile_destroy(b);
	bh_profile_destroy(NULL);
}

static void test_format(void **state)
{
	const bh_profile *p = profile("renderer");
	int n = bh_profile_format(p, NULL, 0);
	char *buf = malloc((size_t)n + 1), small[16];
	FILE *f;

	(void)state;
	assert_non_null(buf);
	assert_int_equal(bh_profile_format(p, buf, (size_t)n + 1), n);
	assert_int_equal(strlen(buf), (size_t)n);
	assert_non_null(strstr(buf, "profile renderer"));
	assert_non_null(strstr(buf, "FSIZE=0"));
	assert_non_null(strstr(buf, "kill"));
	assert_non_null(strstr(buf, "a0 == self"));
	assert_non_null(strstr(buf, "errno ENOSYS"));
	for (size_t i = 0; i < bh_profile_rule_count(p); i++)
		assert_non_null(strstr(buf, bh_profile_rule_at(p, i)->why));
	assert_int_equal(bh_profile_format(p, small, sizeof small), n);
	assert_int_equal(strlen(small), sizeof small - 1);
	f = tmpfile();
	assert_non_null(f);
	assert_int_equal(bh_profile_print(p, f), 0);
	assert_int_equal(ftell(f), n);
	fclose(f);
	free(buf);
}

static void test_compile(void **state)
{
	const char *const *names = bh_profile_builtin_names();
	bh_profile *d;

	(void)state;
	for (size_t i = 0; names[i]; i++) {
		bh_sandbox_prog *prog = NULL;

		assert_int_equal(bh_sandbox_compile(profile(names[i]), BH_SANDBOX_PID_NS_INIT, &prog), 0);
		assert_true(bh_sandbox_prog_length(prog) > 20);
		assert_int_equal(bh_sandbox_prog_pid(prog), 1);
		bh_sandbox_prog_destroy(prog);
	}
	/* Derivation widens, never narrows: rules that libseccomp would silently drop are refused. */
	assert_int_equal(bh_profile_derive(profile("renderer"), "conflict", &d), 0);
	{
		bh_syscall_rule r = { .syscall = "mmap", .action = BH_RULE_ERRNO, .err = EPERM, .why = "narrow" };
		bh_syscall_rule c = { .syscall = "sysinfo", .action = BH_RULE_ALLOW, .nargs = 1,
				      .args = { { 0, BH_CMP_NE, 0, 0 } }, .why = "under an errno" };
		bh_sandbox_prog *prog = NULL;

		assert_int_equal(bh_profile_add_rule(d, &r), -EEXIST);
		assert_int_equal(bh_profile_add_rule(d, &c), -EEXIST);
		/* Widening is fine: all of ioctl, over the table's FIONREAD/TCGETS rules. */
		assert_int_equal(bh_profile_allow(d, "ioctl", "widen"), 0);
		assert_int_equal(bh_sandbox_compile(d, 1, &prog), 0);
		bh_sandbox_prog_destroy(prog);
	}
	bh_profile_destroy(d);
}

/* ---- records ------------------------------------------------------------------ */

static struct bh__record violation_record(void)
{
	struct bh__record r;

	bh__record_init(&r, BH_RECORD_VIOLATION);
	r.code = 257;
	r.arch = AUDIT_ARCH_X86_64;
	r.pid = 1;
	r.ip = 0x1234;
	r.args[0] = (uint64_t)-100;
	return r;
}

static void test_record_decode(void **state)
{
	struct bh__record r = violation_record();
	bh_sandbox_record rec;
	bh_sandbox_violation v;
	Bh__CrashReport cr = BH__CRASH_REPORT__INIT;

	(void)state;
	assert_int_equal(sizeof r, BH_SANDBOX_RECORD_SIZE);
	assert_int_equal(bh_sandbox_violation_decode(&r, sizeof r, &v), 0);
	assert_int_equal(v.nr, 257);
	assert_string_equal(v.name, "openat");
	assert_int_equal(v.ip, 0x1234);
	bh_sandbox_violation_to_pb(&v, &cr);
	assert_int_equal(cr.signal, SIGSYS);
	assert_string_equal(cr.syscall_name, "openat");
	assert_int_equal(cr.n_syscall_args, 6);
	assert_int_equal(cr.ip, 0x1234);

	/* i386 numbers are named for i386. */
	r.arch = AUDIT_ARCH_I386;
	r.code = 20;
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r, &rec), 0);
	assert_string_equal(rec.violation.name, "getpid");
	/* An unknown number decodes, with a made-up name. */
	r.arch = AUDIT_ARCH_X86_64;
	r.code = 1023;
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r, &rec), 0);
	assert_string_equal(rec.violation.name, "syscall_1023");

	/* Hostile or broken records. */
	r = violation_record();
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r - 1, &rec), -EBADMSG);
	assert_int_equal(bh_sandbox_record_decode(NULL, sizeof r, &rec), -EBADMSG);
	r.magic ^= 1;
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r, &rec), -EBADMSG);
	r = violation_record();
	r.version = 2;
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r, &rec), -EBADMSG);
	r = violation_record();
	r.size = 128;
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r, &rec), -EBADMSG);
	r = violation_record();
	r.kind = 9;
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r, &rec), -EBADMSG);
	r = violation_record();
	r.code = -1;
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r, &rec), -EBADMSG);
	r = violation_record();
	r.arch = 0;
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r, &rec), -EBADMSG);
}

static void test_failure_record(void **state)
{
	struct bh__record r;
	bh_sandbox_record rec;
	bh_sandbox_violation v;
	Bh__SetupFailed sf = BH__SETUP_FAILED__INIT;

	(void)state;
	bh__record_init(&r, BH_RECORD_SETUP_FAILED);
	r.code = ENOSPC;
	bh__strlcpy(r.layer, "userns", sizeof r.layer);
	bh__strlcpy(r.text, "userns: clone refused", sizeof r.text);
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r, &rec), 0);
	assert_int_equal(rec.kind, BH_RECORD_SETUP_FAILED);
	assert_int_equal(rec.failure.layer, BH_LAYER_USERNS);
	assert_int_equal(rec.failure.code, ENOSPC);
	assert_int_equal(bh_sandbox_violation_decode(&r, sizeof r, &v), -EBADMSG);
	bh_sandbox_failure_to_pb(&rec.failure, &sf);
	assert_string_equal(sf.layer, "userns");
	assert_string_equal(sf.text, "userns: clone refused");
	assert_int_equal(sf.code, ENOSPC);

	bh__strlcpy(r.layer, "setup", sizeof r.layer);
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r, &rec), 0);
	assert_int_equal(rec.failure.layer, -1);
	/* Unknown layer, unterminated strings, control bytes, bad code. */
	bh__strlcpy(r.layer, "kernel", sizeof r.layer);
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r, &rec), -EBADMSG);
	bh__strlcpy(r.layer, "fds", sizeof r.layer);
	memset(r.text, 'A', sizeof r.text);
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r, &rec), -EBADMSG);
	bh__strlcpy(r.text, "bell\a", sizeof r.text);
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r, &rec), -EBADMSG);
	bh__strlcpy(r.text, "fine", sizeof r.text);
	memset(r.layer, 'x', sizeof r.layer);
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r, &rec), -EBADMSG);
	bh__strlcpy(r.layer, "fds", sizeof r.layer);
	r.code = 0;
	assert_int_equal(bh_sandbox_record_decode(&r, sizeof r, &rec), -EBADMSG);
}

static void test_records_drain(void **state)
{
	int sv[2];
	struct bh__record a = violation_record(), b;
	bh_sandbox_record v, f;
	char junk[10] = { 0 };

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	bh__record_init(&b, BH_RECORD_SETUP_FAILED);
	b.code = EPERM;
	bh__strlcpy(b.layer, "caps", sizeof b.layer);
	assert_int_equal(bh__record_write(sv[1], &a), 0);
	assert_int_equal(write(sv[1], junk, sizeof junk), (ssize_t)sizeof junk); /* skipped */
	assert_int_equal(bh__record_write(sv[1], &b), 0);
	close(sv[1]);
	memset(&v, 0, sizeof v);
	memset(&f, 0, sizeof f);
	assert_int_equal(bh_sandbox_records_drain(sv[0], &v, &f), 2);
	assert_string_equal(v.violation.name, "openat");
	assert_int_equal(f.failure.layer, BH_LAYER_CAPS);
	close(sv[0]);
}

/* ---- status messages from workers ------------------------------------------ */

static bh_sandbox_status sample_status(void)
{
	bh_sandbox_status st;

	memset(&st, 0, sizeof st);
	strcpy(st.profile, "renderer");
	for (int i = 0; i < BH_LAYER_COUNT; i++) {
		st.layers[i].need = BH_NEED_REQUIRED;
		st.layers[i].state = BH_STATE_APPLIED;
		snprintf(st.layers[i].detail, sizeof st.layers[i].detail, "layer %d", i);
	}
	st.seccomp_mode = 2;
	st.seccomp_filters = 1;
	st.no_new_privs = true;
	st.uid = st.gid = 65534;
	st.pid = 1;
	st.ns = (bh_sandbox_ns_ids){ 11, 12, 13, 14, 15, 16 };
	st.open_fds = 2;
	st.rlimit_as = UINT64_MAX;
	st.fs_empty = true;
	return st;
}

static void test_status_pb_roundtrip(void **state)
{
	bh_sandbox_status st = sample_status(), back;
	Bh__SandboxStatus *m, *u;
	uint8_t buf[4096];
	size_t n;

	(void)state;
	assert_int_equal(bh_sandbox_status_to_pb(&st, &m), 0);
	n = bh__sandbox_status__get_packed_size(m);
	assert_true(n < sizeof buf);
	bh__sandbox_status__pack(m, buf);
	bh_sandbox_status_pb_free(m);
	u = bh__sandbox_status__unpack(NULL, n, buf);
	assert_non_null(u);
	assert_int_equal(bh_sandbox_status_from_pb(u, &back), 0);
	assert_memory_equal(&st, &back, sizeof st);

	/* Hostile variants. */
	u->seccomp_mode = 7;
	assert_int_equal(bh_sandbox_status_from_pb(u, &back), -EBADMSG);
	u->seccomp_mode = 2;
	u->layers[3]->state = 9;
	assert_int_equal(bh_sandbox_status_from_pb(u, &back), -EBADMSG);
	u->layers[3]->state = 1;
	u->layers[3]->name[0] = 'X'; /* unknown layer */
	assert_int_equal(bh_sandbox_status_from_pb(u, &back), -EBADMSG);
	bh__sandbox_status__free_unpacked(u, NULL);

	u = bh__sandbox_status__unpack(NULL, n, buf);
	free(u->layers[2]->name);
	u->layers[2]->name = strdup(u->layers[1]->name); /* duplicate layer */
	assert_int_equal(bh_sandbox_status_from_pb(u, &back), -EBADMSG);
	bh__sandbox_status__free_unpacked(u, NULL);

	u = bh__sandbox_status__unpack(NULL, n, buf);
	free(u->profile);
	u->profile = strdup("\x1b[2Jcleared"); /* terminal escape */
	assert_int_equal(bh_sandbox_status_from_pb(u, &back), -EBADMSG);
	free(u->profile);
	u->profile = strdup("a-profile-name-that-is-longer-than-allowed");
	assert_int_equal(bh_sandbox_status_from_pb(u, &back), -EBADMSG);
	bh__sandbox_status__free_unpacked(u, NULL);
	assert_int_equal(bh_sandbox_status_from_pb(NULL, &back), -EBADMSG);
}

static void test_status_views(void **state)
{
	bh_sandbox_status st = sample_status();
	bh_sandbox_ns_ids broker = { 11, 2, 3, 4, 5, 6 }; /* shares the user namespace */
	char buf[8192];
	int n;

	(void)state;
	n = bh_sandbox_status_format_json(&st, &broker, buf, sizeof buf);
	assert_true(n > 0 && n < (int)sizeof buf);
	assert_non_null(strstr(buf, "\"user\":{\"id\":11,\"broker\":11,\"separate\":false}"));
	assert_non_null(strstr(buf, "\"as\":null"));
	assert_non_null(strstr(buf, "\"adequate\":true"));
	/* A hostile detail is escaped in JSON and defused in the table. */
	strcpy(st.layers[0].detail, "quote\" back\\ esc\x1b[31m");
	st.layers[4].state = BH_STATE_FAILED;
	bh_sandbox_status_format_json(&st, NULL, buf, sizeof buf);
	assert_non_null(strstr(buf, "quote\\\" back\\\\ esc\\u001b[31m"));
	assert_non_null(strstr(buf, "\"adequate\":false"));
	assert_null(strstr(buf, "broker"));
	bh_sandbox_status_format_table(&st, &broker, buf, sizeof buf);
	assert_null(strchr(buf, '\x1b'));
	assert_non_null(strstr(buf, "SHARED"));
	assert_non_null(strstr(buf, "NOT adequately sandboxed: ipcns failed"));
	/* snprintf semantics. */
	n = bh_sandbox_status_format_table(&st, &broker, buf, 10);
	assert_true(n > 10);
	assert_int_equal(strlen(buf), 9);
}

static void test_names(void **state)
{
	char buf[32];

	(void)state;
	assert_int_equal(bh_sandbox_syscall_name(AUDIT_ARCH_X86_64, 59, buf, sizeof buf), 0);
	assert_string_equal(buf, "execve");
	assert_int_equal(bh_sandbox_syscall_name(AUDIT_ARCH_X86_64, 99999, buf, sizeof buf), -ENOENT);
	assert_string_equal(buf, "syscall_99999");
	assert_int_equal(bh_sandbox_syscall_name(0x1234, 1, buf, sizeof buf), -ENOENT);
	assert_int_equal(bh_sandbox_syscall_name(AUDIT_ARCH_X86_64, 1, buf, 0), -EINVAL);
	assert_string_equal(bh_sandbox_arch_name(AUDIT_ARCH_I386), "i386");
	assert_string_equal(bh_sandbox_arch_name(7), "unknown");
	assert_string_equal(bh_sandbox_layer_name(BH_LAYER_SECCOMP), "seccomp");
	assert_string_equal(bh_sandbox_layer_name(-1), "setup");
	assert_int_equal(bh_sandbox_layer_from_name("fs"), BH_LAYER_FS);
	assert_int_equal(bh_sandbox_layer_from_name("setup"), -ENOENT);
	assert_string_equal(bh_layer_need_name(BH_NEED_OPTIONAL), "optional");
	assert_string_equal(bh_layer_state_name(BH_STATE_FAILED), "failed");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lookup),
		cmocka_unit_test(test_builtin_rules),
		cmocka_unit_test(test_builtins_are_immutable),
		cmocka_unit_test(test_derive),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_compile),
		cmocka_unit_test(test_record_decode),
		cmocka_unit_test(test_failure_record),
		cmocka_unit_test(test_records_drain),
		cmocka_unit_test(test_status_pb_roundtrip),
		cmocka_unit_test(test_status_views),
		cmocka_unit_test(test_names),
	};

	bh_test_deadline(120);
	return bh_test_run_as_root_and_user("sandbox_profile", tests, sizeof tests / sizeof tests[0]);
}
