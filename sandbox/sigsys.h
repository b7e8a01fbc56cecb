/*
 * The SIGSYS reporter and the fixed-size records of the report fd.
 * Self-contained (no libbulkhead or libseccomp calls) because it is also
 * compiled into bulkhead-run's loader library. Not installed.
 */
#ifndef BH_SANDBOX_SIGSYS_H
#define BH_SANDBOX_SIGSYS_H

#include <stdint.h>

#define BH__RECORD_MAGIC 0x52534842u /* "BHSR" read as a little-endian u32 */
#define BH__RECORD_VERSION 1u

/*
 * One record, BH_SANDBOX_RECORD_SIZE (256) bytes in the byte order of the
 * machine (writer and reader share it). Written with a single write() so
 * that a pipe (<= PIPE_BUF) or a SOCK_SEQPACKET socket keeps it whole.
 */
struct bh__record {
	uint32_t magic;
	uint16_t version;
	uint16_t kind;        /* bh_record_kind */
	uint32_t size;        /* sizeof(struct bh__record) */
	int32_t code;         /* violation: syscall nr; setup failed: errno */
	uint32_t arch;        /* violation: AUDIT_ARCH_* */
	int32_t pid;
	uint64_t ip;
	uint64_t args[6];
	char layer[24];       /* setup failed: layer name, NUL-terminated */
	char text[152];       /* setup failed: detail, NUL-terminated */
};
_Static_assert(sizeof(struct bh__record) == 256, "report records are 256 bytes");

/*
 * A syscall number no architecture assigns and no profile can name: the
 * reporter calls it after resetting SIGSYS to SIG_DFL so that the filter's
 * default action (SECCOMP_RET_TRAP, a signal the kernel forces) kills the
 * process even when it is pid 1 of its namespace, which ignores SIGSYS it
 * raises itself.
 */
#define BH__SYSCALL_DIE 1023

/*
 * Installs the SIGSYS handler (SA_SIGINFO|SA_RESETHAND|SA_NODEFER) that
 * writes a violation record to report_fd (-1: none) and dies by SIGSYS.
 * Unblocks SIGSYS. Returns 0 or -errno.
 */
int bh__sigsys_install(int report_fd);

/* Fills a record. Async-signal-safe. */
void bh__record_init(struct bh__record *r, unsigned kind);
/* Copies at most size-1 bytes and terminates. Async-signal-safe. */
void bh__strlcpy(char *dst, const char *src, unsigned long size);

/* Writes one record, retrying on EINTR. Async-signal-safe. 0 or -errno. */
int bh__record_write(int fd, const struct bh__record *r);

#endif
