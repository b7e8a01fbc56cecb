#include <stdio.h>

#include "common/internal.h"

const char *bh_log_level_name(bh_log_level level)
{
	switch (level) {
	case BH_LOG_ERROR: return "error";
	case BH_LOG_WARN: return "warn";
	case BH_LOG_INFO: return "info";
	case BH_LOG_DEBUG: return "debug";
	}
	return "?";
}

void bh__close_all(int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		fds[i] = bh__close(fds[i]);
}

int bh__read_full(int fd, void *buf, size_t len)
{
	uint8_t *p = buf;

	while (len > 0) {
		ssize_t r = read(fd, p, len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return -EPIPE;
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

int bh__write_full(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t r = write(fd, p, len);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}
