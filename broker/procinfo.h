/*
 * What the kernel says of a process's memory and CPU time (/proc/PID/status,
 * smaps and stat): the broker's `stats`, and the bench's measure of the page
 * engine alone (bench/page_floor.c), read the same fields the same way.
 */
#ifndef BH_BROKER_PROCINFO_H
#define BH_BROKER_PROCINFO_H

#include <sys/types.h>

/* Kilobytes and milliseconds; -1 where the kernel did not tell. */
struct proc_info {
	long rss_kb, shmem_kb, anon_kb;  /* VmRSS, RssShmem, RssAnon */
	long pss_kb, uss_kb;             /* -1: smaps not readable (see proc_info_read) */
	long shmem_pss_kb, shmem_uss_kb; /* the same, of shared-memory mappings only */
	long cpu_ms;                     /* user + system */
};

/*
 * Fills *pi for `pid` (every field -1 if pid <= 0 or the process is gone).
 * USS is Private_Clean + Private_Dirty over every mapping; the shmem_*
 * fields count the memfd, /dev/shm and SysV mappings only (a renderer's
 * surface). A sandboxed worker is not dumpable: without CAP_SYS_PTRACE its
 * smaps are unreadable and the Pss/USS fields stay -1.
 */
void proc_info_read(pid_t pid, struct proc_info *pi);

#endif
