/* Process memory and CPU time from /proc (procinfo.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker/procinfo.h"

/*
 * Proportional (Pss) and unique (Private_*) memory from /proc/PID/smaps,
 * also for shared-memory mappings on their own (a renderer's surface).
 * A sandboxed worker is not dumpable, so the kernel shows its smaps only to
 * a reader with CAP_SYS_PTRACE: an unprivileged broker gets -1 here.
 */
static void read_smaps(pid_t pid, struct proc_info *pi)
{
	char path[64], line[512];
	long pss = 0, uss = 0, spss = 0, suss = 0;
	int shm = 0, whole = 1;
	FILE *f;

	snprintf(path, sizeof path, "/proc/%d/smaps", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return;
	while (fgets(line, sizeof line, f)) {
		/* The rest of an over-long line (a mapping's path) is no field. */
		int cont = !whole;
		long kb;

		whole = strchr(line, '\n') != NULL;
		if (cont)
			continue;
		if ((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f')) {
			/* A mapping's first line: memfds are the buffers shared through bh_shm. */
			shm = strstr(line, " /memfd:") || strstr(line, " /dev/shm/") || strstr(line, " /SYSV");
			continue;
		}
		if (!strncmp(line, "Pss:", 4)) {
			kb = strtol(line + 4, NULL, 10);
			pss += kb;
			spss += shm ? kb : 0;
		} else if (!strncmp(line, "Private_Clean:", 14) || !strncmp(line, "Private_Dirty:", 14)) {
			kb = strtol(line + 14, NULL, 10);
			uss += kb;
			suss += shm ? kb : 0;
		}
	}
	fclose(f);
	pi->pss_kb = pss;
	pi->uss_kb = uss;
	pi->shmem_pss_kb = spss;
	pi->shmem_uss_kb = suss;
}

void proc_info_read(pid_t pid, struct proc_info *pi)
{
	char path[64], line[256];
	FILE *f;

	memset(pi, 0, sizeof *pi);
	pi->rss_kb = pi->shmem_kb = pi->anon_kb = pi->cpu_ms = -1;
	pi->pss_kb = pi->uss_kb = pi->shmem_pss_kb = pi->shmem_uss_kb = -1;
	if (pid <= 0)
		return;
	read_smaps(pid, pi);
	snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
	f = fopen(path, "re");
	if (f) {
		while (fgets(line, sizeof line, f)) {
			if (!strncmp(line, "VmRSS:", 6))
				pi->rss_kb = strtol(line + 6, NULL, 10);
			else if (!strncmp(line, "RssAnon:", 8))
				pi->anon_kb = strtol(line + 8, NULL, 10);
			else if (!strncmp(line, "RssShmem:", 9))
				pi->shmem_kb = strtol(line + 9, NULL, 10);
		}
		fclose(f);
	}
	snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
	f = fopen(path, "re");
	if (f) {
		char buf[1024];
		size_t n = fread(buf, 1, sizeof buf - 1, f);
		char *p;
		unsigned long ut = 0, st = 0;
		long hz = sysconf(_SC_CLK_TCK);

		buf[n] = '\0';
		/* The command name may hold spaces and parentheses: fields start after the last ')'. */
		p = strrchr(buf, ')');
		if (p && sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) == 2 &&
		    hz > 0)
			pi->cpu_ms = (long)((ut + st) * 1000ul / (unsigned long)hz);
		fclose(f);
	}
}
