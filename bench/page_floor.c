/*
 * bulkhead-page-floor: the demo's page engine alone, in a bare process (no
 * sandbox, no zygote, no channel, no framework), loading one page as a
 * renderer does: the fonts and every file mapped read-only, the page laid
 * out and painted into a memfd surface, the document kept, the heap
 * trimmed. It then prints its own memory as one JSON line, with the keys
 * of the browser's `stats json`.
 *
 * The bench's demo suite runs it on the pages it opens in tabs: a
 * renderer's memory beyond its surface is then given beside what the
 * libraries and the fonts need on their own (the floor no renderer built on
 * them can go below).
 *
 *   bulkhead-page-floor PAGES_DIR FONT_DIR WIDTH HEIGHT PAGE
 */
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/procinfo.h"
#include "renderer/page.h"

#define MAX_FILE (8u << 20)

struct mapped {
	const uint8_t *data;
	size_t len;
};

/* Maps `name` beneath `dirfd` read-only and private, as the renderer maps what the broker opens. */
static int map_file(int dirfd, const char *name, struct mapped *m)
{
	struct stat st;
	void *p;
	int fd, r = 0;

	m->data = NULL;
	m->len = 0;
	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
	} else if (st.st_size <= 0 || (uint64_t)st.st_size > MAX_FILE) {
		r = -EFBIG;
	} else {
		p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
		if (p == MAP_FAILED) {
			r = -errno;
		} else {
			m->data = p;
			m->len = (size_t)st.st_size;
		}
	}
	close(fd);
	return r;
}

static void unmap_file(struct mapped *m)
{
	if (m->data)
		munmap((void *)m->data, m->len);
	m->data = NULL;
}

static int load_image(void *ud, const char *path, const uint8_t **data, size_t *len)
{
	struct mapped m;
	int r = map_file(*(int *)ud, path, &m);

	if (r == 0) {
		*data = m.data;
		*len = m.len;
	}
	return r;
}

static void release_image(void *ud, const char *path, const uint8_t *data, size_t len)
{
	(void)ud;
	(void)path;
	munmap((void *)data, len);
}

int main(int argc, char **argv)
{
	struct mapped font[2] = { { 0 } }, page = { 0 };
	struct page_surface surf = { 0 };
	struct page_engine *engine = NULL;
	struct page_doc *doc = NULL;
	struct page_error err = { 0 };
	struct proc_info pi;
	struct page_loader loader;
	struct page_fonts fonts;
	int pages = -1, fonts_dir = -1, surf_fd = -1, r = 1, e;
	size_t surf_size = 0;
	void *px = MAP_FAILED;

	if (argc != 6 || atoi(argv[3]) <= 0 || atoi(argv[4]) <= 0) {
		fprintf(stderr, "usage: bulkhead-page-floor PAGES_DIR FONT_DIR WIDTH HEIGHT PAGE\n");
		return 2;
	}
	surf.width = atoi(argv[3]);
	surf.height = atoi(argv[4]);
	surf.stride = (size_t)surf.width * 4;
	surf_size = surf.stride * (size_t)surf.height;
	pages = open(argv[1], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	fonts_dir = open(argv[2], O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (pages < 0 || fonts_dir < 0) {
		fprintf(stderr, "bulkhead-page-floor: cannot open %s or %s: %s\n", argv[1], argv[2], strerror(errno));
		goto out;
	}
	e = map_file(fonts_dir, "DejaVuSans.ttf", &font[0]);
	if (e == 0)
		e = map_file(fonts_dir, "DejaVuSans-Bold.ttf", &font[1]);
	if (e == 0)
		e = map_file(pages, argv[5], &page);
	if (e < 0) {
		fprintf(stderr, "bulkhead-page-floor: %s\n", strerror(-e));
		goto out;
	}
	/* The surface is shared memory, as a renderer's: its pages count as shmem. */
	surf_fd = memfd_create("bulkhead-page-floor", MFD_CLOEXEC);
	if (surf_fd < 0 || ftruncate(surf_fd, (off_t)surf_size) < 0) {
		fprintf(stderr, "bulkhead-page-floor: surface: %s\n", strerror(errno));
		goto out;
	}
	px = mmap(NULL, surf_size, PROT_READ | PROT_WRITE, MAP_SHARED, surf_fd, 0);
	if (px == MAP_FAILED) {
		fprintf(stderr, "bulkhead-page-floor: surface: %s\n", strerror(errno));
		goto out;
	}
	surf.pixels = px;
	fonts = (struct page_fonts){ font[0].data, font[0].len, font[1].data, font[1].len };
	engine = page_engine_create(&fonts, &err);
	if (!engine) {
		fprintf(stderr, "bulkhead-page-floor: %s\n", err.message);
		goto out;
	}
	loader = (struct page_loader){ load_image, release_image, &pages };
	e = page_render(engine, page.data, page.len, &loader, &surf, 0, &doc, &err);
	if (e < 0) {
		fprintf(stderr, "bulkhead-page-floor: %s: %s\n", argv[5], err.message);
		goto out;
	}
	/* As the renderer after a load: the source goes, the document stays, the heap is trimmed. */
	unmap_file(&page);
	(void)malloc_trim(0);
	proc_info_read(getpid(), &pi);
	printf("{\"type\":\"page_engine\",\"page\":\"%s\",\"rss_kb\":%ld,\"shmem_kb\":%ld,\"anon_kb\":%ld,"
	       "\"pss_kb\":%ld,\"uss_kb\":%ld,\"shmem_pss_kb\":%ld,\"shmem_uss_kb\":%ld}\n",
	       argv[5], pi.rss_kb, pi.shmem_kb, pi.anon_kb, pi.pss_kb, pi.uss_kb, pi.shmem_pss_kb,
	       pi.shmem_uss_kb);
	r = fflush(stdout) == 0 ? 0 : 1;
out:
	page_doc_destroy(doc);
	page_engine_destroy(engine);
	if (px != MAP_FAILED)
		munmap(px, surf_size);
	if (surf_fd >= 0)
		close(surf_fd);
	unmap_file(&page);
	unmap_file(&font[0]);
	unmap_file(&font[1]);
	if (pages >= 0)
		close(pages);
	if (fonts_dir >= 0)
		close(fonts_dir);
	return r;
}
