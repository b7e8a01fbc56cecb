/*
 * Page parser: untrusted bytes to a small element tree.
 *
 * The input is checked as a whole first (size, UTF-8, no binary bytes) so
 * that everything after can treat it as text. The tokenizer then walks it
 * with a single bounds-checked index; every limit of page.h is enforced
 * where the thing it limits is created, so memory use is bounded by the
 * input size. Structure is forgiving the way browsers are (unclosed <p> and
 * <li>, stray end tags); syntax that could be read two ways (an unterminated
 * tag, quote or comment) and anything unknown is an error.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page_internal.h"

#define TAG_NAME_MAX 16
#define ATTR_NAME_MAX 32

int page_fail(struct page_error *err, int code, int line, const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->code = code;
		err->line = line;
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof err->message, fmt, ap);
		va_end(ap);
	}
	return code;
}

void page_quote(char *out, size_t outsz, const char *s, size_t len, size_t max)
{
	size_t i, o = 0;

	if (outsz == 0)
		return;
	for (i = 0; i < len && i < max && o + 1 < outsz; i++) {
		unsigned char c = (unsigned char)s[i];

		out[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (i < len && o + 4 < outsz) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

uint32_t page_utf8_next(const char *s, size_t len, size_t *i)
{
	const unsigned char *p = (const unsigned char *)s + *i;
	size_t left = len - *i;
	uint32_t cp;
	unsigned need, k;
	unsigned char lo = 0x80, hi = 0xbf;

	if (p[0] < 0x80) {
		*i += 1;
		return p[0];
	}
	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		need = 1;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		need = 2;
		cp = p[0] & 0x0f;
		if (p[0] == 0xe0)
			lo = 0xa0;  /* overlong */
		else if (p[0] == 0xed)
			hi = 0x9f;  /* surrogates */
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		need = 3;
		cp = p[0] & 0x07;
		if (p[0] == 0xf0)
			lo = 0x90;  /* overlong */
		else if (p[0] == 0xf4)
			hi = 0x8f;  /* above U+10FFFF */
	} else {
		*i += 1;
		return 0xfffd;
	}
	if (left <= need) {
		*i += 1;
		return 0xfffd;
	}
	for (k = 1; k <= need; k++) {
		unsigned char lim_lo = k == 1 ? lo : 0x80, lim_hi = k == 1 ? hi : 0xbf;

		if (p[k] < lim_lo || p[k] > lim_hi) {
			*i += 1;
			return 0xfffd;
		}
		cp = (cp << 6) | (p[k] & 0x3f);
	}
	*i += need + 1;
	return cp;
}

/* Whole-input checks: size, then binary bytes and UTF-8, with a precise position. */
static int validate(const uint8_t *src, size_t len, struct page_error *err)
{
	size_t i = 0;
	int line = 1;

	if (len == 0)
		return page_fail(err, -ENODATA, 0, "page is empty");
	if (len > PAGE_MAX_INPUT_BYTES)
		return page_fail(err, -EFBIG, 0, "page is %zu bytes, the limit is %u bytes", len,
				 PAGE_MAX_INPUT_BYTES);
	while (i < len) {
		uint8_t c = src[i];
		size_t at = i;

		if (c == '\n')
			line++;
		if (c == 0)
			return page_fail(err, -EILSEQ, line,
					 "binary data: NUL byte at offset %zu (line %d)", at, line);
		if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f') || c == 0x7f)
			return page_fail(err, -EILSEQ, line,
					 "binary data: control character 0x%02x at offset %zu (line %d)",
					 c, at, line);
		if (c < 0x80) {
			i++;
			continue;
		}
		if (page_utf8_next((const char *)src, len, &i) == 0xfffd &&
		    !(len - at >= 3 && src[at] == 0xef && src[at + 1] == 0xbf && src[at + 2] == 0xbd))
			return page_fail(err, -EILSEQ, line,
					 "invalid UTF-8 at offset %zu (line %d): byte 0x%02x", at, line, c);
	}
	return 0;
}

static const struct {
	const char *name;
	uint8_t tag;
} tags[] = {
	{ "html", PAGE_TAG_HTML },   { "head", PAGE_TAG_HEAD },     { "body", PAGE_TAG_BODY },
	{ "title", PAGE_TAG_TITLE }, { "meta", PAGE_TAG_META },     { "h1", PAGE_TAG_H1 },
	{ "h2", PAGE_TAG_H2 },       { "h3", PAGE_TAG_H3 },         { "p", PAGE_TAG_P },
	{ "ul", PAGE_TAG_UL },       { "ol", PAGE_TAG_OL },         { "li", PAGE_TAG_LI },
	{ "div", PAGE_TAG_DIV },     { "box", PAGE_TAG_BOX },       { "hr", PAGE_TAG_HR },
	{ "br", PAGE_TAG_BR },       { "img", PAGE_TAG_IMG },       { "a", PAGE_TAG_A },
	{ "b", PAGE_TAG_B },         { "strong", PAGE_TAG_STRONG }, { "i", PAGE_TAG_I },
	{ "em", PAGE_TAG_EM },       { "u", PAGE_TAG_U },           { "span", PAGE_TAG_SPAN },
};

static bool tag_is_void(int tag)
{
	return tag == PAGE_TAG_BR || tag == PAGE_TAG_HR || tag == PAGE_TAG_IMG || tag == PAGE_TAG_META;
}

/* Tags whose start closes an open <p>, as in HTML. */
static bool tag_closes_p(int tag)
{
	switch (tag) {
	case PAGE_TAG_H1: case PAGE_TAG_H2: case PAGE_TAG_H3: case PAGE_TAG_P:
	case PAGE_TAG_UL: case PAGE_TAG_OL: case PAGE_TAG_LI: case PAGE_TAG_DIV:
	case PAGE_TAG_BOX: case PAGE_TAG_HR:
		return true;
	default:
		return false;
	}
}

static bool is_inline(int tag)
{
	switch (tag) {
	case PAGE_TAG_TEXT: case PAGE_TAG_A: case PAGE_TAG_B: case PAGE_TAG_STRONG:
	case PAGE_TAG_I: case PAGE_TAG_EM: case PAGE_TAG_U: case PAGE_TAG_SPAN:
	case PAGE_TAG_IMG: case PAGE_TAG_BR:
		return true;
	default:
		return false;
	}
}

static bool is_heading(int tag)
{
	return tag == PAGE_TAG_H1 || tag == PAGE_TAG_H2 || tag == PAGE_TAG_H3;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static char lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

/* Attribute values of one tag, parsed and checked before the node exists. */
struct attrs {
	uint8_t flags;
	uint32_t color, bg;
	int32_t width, height, padding;
	uint32_t str_off, str_len;
};

struct parser {
	const char *s;
	size_t n, i;
	size_t line_off;  /* line counting is lazy: offsets only grow */
	int line;
	struct page_tree *t;
	struct page_error *err;
	int32_t stack[PAGE_MAX_DEPTH + 1];
	int depth;        /* stack[0] is the root */
	bool body_seen;
	char *buf;        /* scratch for decoding */
	size_t buf_len, buf_cap;
};

static int line_at(struct parser *p, size_t off)
{
	if (off > p->n)
		off = p->n;
	while (p->line_off < off) {
		if (p->s[p->line_off] == '\n')
			p->line++;
		p->line_off++;
	}
	return p->line;
}

static int buf_put(struct parser *p, const char *d, size_t len)
{
	if (len == 0)
		return 0;
	if (p->buf_len + len > p->buf_cap) {
		size_t cap = p->buf_cap ? p->buf_cap : 256;
		char *nb;

		while (cap < p->buf_len + len)
			cap *= 2;
		nb = realloc(p->buf, cap);
		if (!nb)
			return page_fail(p->err, -ENOMEM, 0, "out of memory");
		p->buf = nb;
		p->buf_cap = cap;
	}
	memcpy(p->buf + p->buf_len, d, len);
	p->buf_len += len;
	return 0;
}

static int put_cp(struct parser *p, uint32_t cp)
{
	char o[4];
	size_t n;

	if (cp < 0x80) {
		o[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		n = 2;
	} else if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		n = 3;
	} else {
		o[0] = (char)(0xf0 | (cp >> 18));
		o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
		o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[3] = (char)(0x80 | (cp & 0x3f));
		n = 4;
	}
	return buf_put(p, o, n);
}

static const struct {
	const char *name;
	uint32_t cp;
} entities[] = {
	{ "amp", '&' },      { "lt", '<' },        { "gt", '>' },       { "quot", '"' },
	{ "apos", '\'' },    { "nbsp", 0xa0 },     { "copy", 0xa9 },    { "reg", 0xae },
	{ "middot", 0xb7 },  { "laquo", 0xab },    { "raquo", 0xbb },   { "ndash", 0x2013 },
	{ "mdash", 0x2014 }, { "bull", 0x2022 },   { "hellip", 0x2026 }, { "euro", 0x20ac },
};

/*
 * Appends s[0..len) to the scratch buffer with character references
 * decoded. An '&' that starts no known reference stays literal, as in
 * browsers; a numeric reference to a character that could not appear in
 * the page itself is an error.
 */
static int decode(struct parser *p, const char *s, size_t len, size_t src_off)
{
	size_t i = 0, run = 0;
	int r;

	while (i < len) {
		size_t j, k;
		uint32_t cp = 0;
		bool ok = false;

		if (s[i] != '&') {
			i++;
			continue;
		}
		if ((r = buf_put(p, s + run, i - run)) < 0)
			return r;
		j = i + 1;
		if (j < len && s[j] == '#') {
			bool hex = j + 1 < len && (s[j + 1] == 'x' || s[j + 1] == 'X');
			size_t digits = 0;

			j += hex ? 2 : 1;
			while (j < len) {
				char c = lower(s[j]);
				unsigned v;

				if (is_digit(c))
					v = (unsigned)(c - '0');
				else if (hex && c >= 'a' && c <= 'f')
					v = (unsigned)(c - 'a' + 10);
				else
					break;
				/* Saturate: any value past U+10FFFF is equally invalid. */
				cp = cp > 0x10ffff ? cp : cp * (hex ? 16 : 10) + v;
				digits++;
				j++;
			}
			if (digits > 0 && j < len && s[j] == ';') {
				char q[24];

				if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) ||
				    (cp < 0x20 && cp != '\t' && cp != '\n' && cp != '\r') ||
				    (cp >= 0x7f && cp < 0xa0)) {
					page_quote(q, sizeof q, s + i, j + 1 - i, 16);
					return page_fail(p->err, -EILSEQ, line_at(p, src_off + i),
							 "line %d: invalid character reference %s",
							 line_at(p, src_off + i), q);
				}
				ok = true;
				j++;
			}
		} else {
			for (k = 0; k < sizeof entities / sizeof entities[0]; k++) {
				size_t nl = strlen(entities[k].name);

				if (j + nl < len && memcmp(s + j, entities[k].name, nl) == 0 &&
				    s[j + nl] == ';') {
					cp = entities[k].cp;
					j += nl + 1;
					ok = true;
					break;
				}
			}
		}
		if (!ok) {
			/* Literal '&': keep it and go on after it. */
			if ((r = buf_put(p, "&", 1)) < 0)
				return r;
			i++;
			run = i;
			continue;
		}
		if ((r = put_cp(p, cp)) < 0)
			return r;
		i = j;
		run = i;
	}
	return buf_put(p, s + run, len - run);
}

/* Copies the scratch buffer into the tree's string store (NUL-terminated). */
static int store_buf(struct parser *p, uint32_t *off)
{
	struct page_tree *t = p->t;
	size_t need = t->text_len + p->buf_len + 1;

	if (need > t->text_cap) {
		size_t cap = t->text_cap ? t->text_cap : 1024;
		char *nt;

		while (cap < need)
			cap *= 2;
		nt = realloc(t->text, cap);
		if (!nt)
			return page_fail(p->err, -ENOMEM, 0, "out of memory");
		t->text = nt;
		t->text_cap = cap;
	}
	*off = (uint32_t)t->text_len;
	if (p->buf_len)
		memcpy(t->text + t->text_len, p->buf, p->buf_len);
	t->text_len += p->buf_len;
	t->text[t->text_len++] = '\0';
	return 0;
}

static int new_node(struct parser *p, int tag, int line, int32_t *out)
{
	struct page_tree *t = p->t;
	struct page_node *nd;
	int32_t parent = p->stack[p->depth], idx;

	if (t->n >= PAGE_MAX_NODES + 1)  /* the root is not the page's */
		return page_fail(p->err, -E2BIG, line,
				 "line %d: more than %d elements and text runs", line, PAGE_MAX_NODES);
	if (t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct page_node *nn = realloc(t->nodes, cap * sizeof *nn);

		if (!nn)
			return page_fail(p->err, -ENOMEM, 0, "out of memory");
		t->nodes = nn;
		t->cap = cap;
	}
	idx = (int32_t)t->n++;
	nd = &t->nodes[idx];
	memset(nd, 0, sizeof *nd);
	nd->tag = (uint8_t)tag;
	nd->parent = parent;
	nd->first_child = nd->last_child = nd->next = -1;
	nd->line = line;
	nd->image = -1;
	if (parent >= 0) {
		struct page_node *pn = &t->nodes[parent];

		if (pn->last_child >= 0)
			t->nodes[pn->last_child].next = idx;
		else
			pn->first_child = idx;
		pn->last_child = idx;
	}
	*out = idx;
	return 0;
}

/* Text between tags: decoded, merged into the previous run when adjacent. */
static int add_text(struct parser *p, size_t start, size_t end)
{
	struct page_tree *t = p->t;
	int32_t parent = p->stack[p->depth], idx;
	struct page_node *last;
	int line = line_at(p, start), r;
	size_t k;
	bool blank = true;
	uint32_t off;

	for (k = start; k < end; k++) {
		if (!is_space(p->s[k])) {
			blank = false;
			break;
		}
	}
	/*
	 * Whitespace at the start of a block or right after a block carries no
	 * meaning; dropping it keeps indentation from using up the node limit.
	 * Between inline elements it is a word space and stays.
	 */
	if (blank && !is_inline(t->nodes[parent].tag)) {
		int32_t prev = t->nodes[parent].last_child;

		if (prev < 0 || !is_inline(t->nodes[prev].tag))
			return 0;
	}
	p->buf_len = 0;
	if ((r = decode(p, p->s + start, end - start, start)) < 0)
		return r;
	last = t->nodes[parent].last_child >= 0 ? &t->nodes[t->nodes[parent].last_child] : NULL;
	if (last && last->tag == PAGE_TAG_TEXT && last->off + last->len + 1 == t->text_len) {
		if (last->len + p->buf_len > PAGE_MAX_TEXT_BYTES)
			return page_fail(p->err, -EFBIG, line,
					 "line %d: text run longer than %d bytes", line, PAGE_MAX_TEXT_BYTES);
		/* Overwrite the terminating NUL and extend the run in place. */
		t->text_len--;
		if ((r = store_buf(p, &off)) < 0)
			return r;
		last->len += (uint32_t)p->buf_len;
		return 0;
	}
	if (p->buf_len > PAGE_MAX_TEXT_BYTES)
		return page_fail(p->err, -EFBIG, line,
				 "line %d: text run longer than %d bytes", line, PAGE_MAX_TEXT_BYTES);
	if ((r = new_node(p, PAGE_TAG_TEXT, line, &idx)) < 0)
		return r;
	if ((r = store_buf(p, &off)) < 0)
		return r;
	t->nodes[idx].off = off;
	t->nodes[idx].len = (uint32_t)p->buf_len;
	return 0;
}

static const struct {
	const char *name;
	uint32_t rgb;
} colour_names[] = {
	{ "black", 0x000000 },  { "white", 0xffffff },  { "gray", 0x808080 },   { "grey", 0x808080 },
	{ "silver", 0xc0c0c0 }, { "red", 0xff0000 },    { "maroon", 0x800000 }, { "green", 0x008000 },
	{ "lime", 0x00ff00 },   { "blue", 0x0000ff },   { "navy", 0x000080 },   { "yellow", 0xffff00 },
	{ "orange", 0xffa500 }, { "purple", 0x800080 }, { "teal", 0x008080 },   { "aqua", 0x00ffff },
	{ "cyan", 0x00ffff },   { "fuchsia", 0xff00ff }, { "magenta", 0xff00ff }, { "olive", 0x808000 },
};

static void trim(const char **s, size_t *len)
{
	while (*len && is_space(**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && is_space((*s)[*len - 1]))
		(*len)--;
}

static int hexval(char c)
{
	c = lower(c);
	if (is_digit(c))
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* "#rrggbb", "#rgb" or a basic colour name to opaque ARGB. */
static bool parse_colour(const char *s, size_t len, uint32_t *out)
{
	uint32_t v = 0;
	size_t k;

	trim(&s, &len);
	if (len == 7 || len == 4) {
		if (s[0] != '#')
			goto name;
		for (k = 1; k < len; k++) {
			int h = hexval(s[k]);

			if (h < 0)
				return false;
			v = (v << 4) | (uint32_t)h;
			if (len == 4)
				v = (v << 4) | (uint32_t)h;
		}
		*out = 0xff000000u | v;
		return true;
	}
name:
	for (k = 0; k < sizeof colour_names / sizeof colour_names[0]; k++) {
		if (strlen(colour_names[k].name) == len && strncasecmp(colour_names[k].name, s, len) == 0) {
			*out = 0xff000000u | colour_names[k].rgb;
			return true;
		}
	}
	return false;
}

/* A length: decimal pixels, optional "px", 0..max. */
static bool parse_length(const char *s, size_t len, int32_t max, int32_t *out)
{
	int64_t v = 0;
	size_t k = 0;

	trim(&s, &len);
	if (len >= 2 && strncasecmp(s + len - 2, "px", 2) == 0)
		len -= 2;
	if (len == 0 || len > 6)
		return false;
	for (k = 0; k < len; k++) {
		if (!is_digit(s[k]))
			return false;
		v = v * 10 + (s[k] - '0');
	}
	if (v > max)
		return false;
	*out = (int32_t)v;
	return true;
}

/* A relative path to a bundled file: no "..", no leading '/', no scheme. */
static bool path_ok(const char *s, size_t len)
{
	size_t k, seg = 0;

	if (len == 0 || len > PAGE_MAX_PATH_BYTES || s[0] == '/')
		return false;
	for (k = 0; k <= len; k++) {
		char c = k < len ? s[k] : '/';

		if (c == '/') {
			size_t sl = k - seg;

			if (sl == 0 || (sl == 1 && s[seg] == '.') ||
			    (sl == 2 && s[seg] == '.' && s[seg + 1] == '.'))
				return false;
			seg = k + 1;
			continue;
		}
		if (!is_alpha(c) && !is_digit(c) && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

/* Link targets are only recorded: any printable ASCII without spaces. */
static bool href_ok(const char *s, size_t len)
{
	size_t k;

	if (len == 0 || len > PAGE_MAX_PATH_BYTES)
		return false;
	for (k = 0; k < len; k++) {
		if ((unsigned char)s[k] <= 0x20 || (unsigned char)s[k] >= 0x7f)
			return false;
	}
	return true;
}

struct attr_ctx {
	struct parser *p;
	struct attrs *a;
	const char *tagname;
	int line;
};

static int bad_value(struct attr_ctx *c, const char *what, const char *v, size_t vl)
{
	char q[48];

	page_quote(q, sizeof q, v, vl, 40);
	return page_fail(c->p->err, -EINVAL, c->line, "line %d: invalid %s \"%s\" in <%s>", c->line,
			 what, q, c->tagname);
}

static int set_colour(struct attr_ctx *c, const char *what, const char *v, size_t vl, bool bg)
{
	uint32_t col;

	if (!parse_colour(v, vl, &col))
		return bad_value(c, what, v, vl);
	if (bg) {
		c->a->bg = col;
		c->a->flags |= PAGE_HAS_BG;
	} else {
		c->a->color = col;
		c->a->flags |= PAGE_HAS_COLOR;
	}
	return 0;
}

static int set_length(struct attr_ctx *c, const char *what, const char *v, size_t vl, int flag)
{
	int32_t x;

	if (!parse_length(v, vl, PAGE_MAX_BOX_DIM, &x)) {
		char q[48];

		page_quote(q, sizeof q, v, vl, 40);
		return page_fail(c->p->err, -EINVAL, c->line,
				 "line %d: invalid %s \"%s\" in <%s> (0 to %d pixels)", c->line,
				 what, q, c->tagname, PAGE_MAX_BOX_DIM);
	}
	if (flag == PAGE_HAS_WIDTH)
		c->a->width = x;
	else if (flag == PAGE_HAS_HEIGHT)
		c->a->height = x;
	else
		c->a->padding = x;
	c->a->flags |= (uint8_t)flag;
	return 0;
}

/* style="prop: value; ...": the few properties boxes need; others are ignored. */
static int parse_style(struct attr_ctx *c, const char *s, size_t len)
{
	size_t k = 0;
	int r = 0;

	while (k < len && r == 0) {
		size_t end = k, colon;
		const char *name, *val;
		size_t nl, vl;

		while (end < len && s[end] != ';')
			end++;
		for (colon = k; colon < end && s[colon] != ':'; colon++)
			;
		name = s + k;
		nl = colon - k;
		trim(&name, &nl);
		if (colon == end) {
			if (nl)
				return bad_value(c, "style", s + k, end - k);
			k = end + 1;
			continue;
		}
		val = s + colon + 1;
		vl = end - colon - 1;
		if (nl == 10 && strncasecmp(name, "background", nl) == 0)
			r = set_colour(c, "background", val, vl, true);
		else if (nl == 16 && strncasecmp(name, "background-color", nl) == 0)
			r = set_colour(c, "background-color", val, vl, true);
		else if (nl == 5 && strncasecmp(name, "color", nl) == 0)
			r = set_colour(c, "color", val, vl, false);
		else if (nl == 5 && strncasecmp(name, "width", nl) == 0)
			r = set_length(c, "width", val, vl, PAGE_HAS_WIDTH);
		else if (nl == 6 && strncasecmp(name, "height", nl) == 0)
			r = set_length(c, "height", val, vl, PAGE_HAS_HEIGHT);
		else if (nl == 7 && strncasecmp(name, "padding", nl) == 0)
			r = set_length(c, "padding", val, vl, PAGE_HAS_PADDING);
		k = end + 1;
	}
	return r;
}

static int apply_attr(struct attr_ctx *c, int tag, const char *name, const char *v, size_t vl)
{
	struct parser *p = c->p;
	int r;

	if (strcmp(name, "color") == 0 || (tag == PAGE_TAG_BODY && strcmp(name, "text") == 0))
		return set_colour(c, name, v, vl, false);
	if (strcmp(name, "bgcolor") == 0)
		return set_colour(c, name, v, vl, true);
	if (strcmp(name, "width") == 0)
		return set_length(c, name, v, vl, PAGE_HAS_WIDTH);
	if (strcmp(name, "height") == 0)
		return set_length(c, name, v, vl, PAGE_HAS_HEIGHT);
	if (strcmp(name, "style") == 0)
		return parse_style(c, v, vl);
	if ((tag == PAGE_TAG_A && strcmp(name, "href") == 0) ||
	    (tag == PAGE_TAG_IMG && strcmp(name, "src") == 0)) {
		char q[48];

		if (tag == PAGE_TAG_A ? !href_ok(v, vl) : !path_ok(v, vl)) {
			page_quote(q, sizeof q, v, vl, 40);
			if (tag == PAGE_TAG_A)
				return page_fail(p->err, -EINVAL, c->line,
						 "line %d: invalid link target \"%s\" (1 to %d printable characters, no spaces)",
						 c->line, q, PAGE_MAX_PATH_BYTES);
			return page_fail(p->err, -EINVAL, c->line,
					 "line %d: invalid image path \"%s\" (a relative path of letters, digits, '.', '_', '-' and '/', without \"..\")",
					 c->line, q);
		}
		/* v is the scratch buffer: store it as it is. */
		if ((r = store_buf(p, &c->a->str_off)) < 0)
			return r;
		c->a->str_len = (uint32_t)vl;
		c->a->flags |= PAGE_HAS_STR;
	}
	return 0;  /* alt, id, class...: accepted and ignored */
}

/* Parses attributes up to and including '>' ("/>" sets *self_close). */
static int parse_attrs(struct parser *p, int tag, const char *tagname, struct attrs *a,
		       bool *self_close)
{
	struct attr_ctx c = { p, a, tagname, 0 };
	int nattrs = 0, r;

	c.line = line_at(p, p->i);
	for (;;) {
		char name[ATTR_NAME_MAX + 1];
		size_t nl = 0, vs, ve;
		bool has_value = false;

		while (p->i < p->n && is_space(p->s[p->i]))
			p->i++;
		if (p->i >= p->n)
			return page_fail(p->err, -EINVAL, c.line, "line %d: unterminated tag <%s>",
					 c.line, tagname);
		if (p->s[p->i] == '>') {
			p->i++;
			return 0;
		}
		if (p->s[p->i] == '/' && p->i + 1 < p->n && p->s[p->i + 1] == '>') {
			p->i += 2;
			*self_close = true;
			return 0;
		}
		while (p->i < p->n) {
			char ch = p->s[p->i];

			if (is_space(ch) || ch == '>' || ch == '=' || ch == '"' || ch == '\'' ||
			    ch == '<' || (ch == '/' && nl > 0))
				break;
			if (nl == ATTR_NAME_MAX)
				return page_fail(p->err, -EINVAL, c.line,
						 "line %d: attribute name longer than %d bytes in <%s>",
						 c.line, ATTR_NAME_MAX, tagname);
			name[nl++] = lower(ch);
			p->i++;
		}
		name[nl] = '\0';
		if (nl == 0)
			return page_fail(p->err, -EINVAL, c.line,
					 "line %d: malformed attribute in <%s> (unexpected '%c')", c.line,
					 tagname, p->s[p->i]);
		if (++nattrs > PAGE_MAX_ATTRS)
			return page_fail(p->err, -E2BIG, c.line,
					 "line %d: more than %d attributes in <%s>", c.line,
					 PAGE_MAX_ATTRS, tagname);
		while (p->i < p->n && is_space(p->s[p->i]))
			p->i++;
		vs = ve = p->i;
		if (p->i < p->n && p->s[p->i] == '=') {
			p->i++;
			while (p->i < p->n && is_space(p->s[p->i]))
				p->i++;
			if (p->i >= p->n)
				return page_fail(p->err, -EINVAL, c.line,
						 "line %d: unterminated tag <%s>", c.line, tagname);
			has_value = true;
			if (p->s[p->i] == '"' || p->s[p->i] == '\'') {
				const char *q = memchr(p->s + p->i + 1, p->s[p->i], p->n - p->i - 1);

				if (!q)
					return page_fail(p->err, -EINVAL, c.line,
							 "line %d: unterminated attribute value in <%s>",
							 c.line, tagname);
				vs = p->i + 1;
				ve = (size_t)(q - p->s);
				p->i = ve + 1;
			} else {
				vs = p->i;
				while (p->i < p->n && !is_space(p->s[p->i]) && p->s[p->i] != '>')
					p->i++;
				ve = p->i;
			}
		}
		p->buf_len = 0;
		if (has_value && (r = decode(p, p->s + vs, ve - vs, vs)) < 0)
			return r;
		if (p->buf_len > PAGE_MAX_ATTR_BYTES)
			return page_fail(p->err, -EFBIG, c.line,
					 "line %d: value of %s= in <%s> longer than %d bytes", c.line,
					 name, tagname, PAGE_MAX_ATTR_BYTES);
		if ((r = apply_attr(&c, tag, name, p->buf, p->buf_len)) < 0)
			return r;
	}
}

static void pop_to(struct parser *p, int depth)
{
	if (depth < 1)
		depth = 1;
	if (p->depth >= depth)
		p->depth = depth - 1;
}

/* Index in the stack of the nearest open `tag` not beyond a `stop` element, or 0. */
static int find_open(struct parser *p, int tag, bool (*stop)(int))
{
	int d;

	for (d = p->depth; d >= 1; d--) {
		int tt = p->t->nodes[p->stack[d]].tag;

		if (tt == tag)
			return d;
		if (stop && stop(tt))
			return 0;
	}
	return 0;
}

static bool stops_p(int tag)
{
	return tag == PAGE_TAG_DIV || tag == PAGE_TAG_BOX || tag == PAGE_TAG_LI ||
	       tag == PAGE_TAG_BODY;
}

static bool stops_li(int tag)
{
	return tag == PAGE_TAG_UL || tag == PAGE_TAG_OL || tag == PAGE_TAG_DIV ||
	       tag == PAGE_TAG_BOX || tag == PAGE_TAG_BODY;
}

/* <title>: raw text up to </title>, whitespace collapsed. */
static int parse_title(struct parser *p, int line)
{
	struct page_tree *t = p->t;
	size_t start = p->i, end, k, o = 0;
	int r;

	for (end = start; end + 8 <= p->n; end++) {
		if (p->s[end] == '<' && strncasecmp(p->s + end, "</title", 7) == 0 &&
		    (p->s[end + 7] == '>' || is_space(p->s[end + 7])))
			break;
	}
	if (end + 8 > p->n)
		return page_fail(p->err, -EINVAL, line, "line %d: unterminated <title>", line);
	p->buf_len = 0;
	if ((r = decode(p, p->s + start, end - start, start)) < 0)
		return r;
	p->i = end + 7;
	while (p->i < p->n && p->s[p->i] != '>')
		p->i++;
	if (p->i >= p->n)
		return page_fail(p->err, -EINVAL, line, "line %d: unterminated tag </title>", line);
	p->i++;
	if (t->have_title)
		return 0;  /* the first title counts */
	for (k = 0; k < p->buf_len; k++) {
		char c = p->buf[k];

		if (is_space(c)) {
			if (o == 0 || t->title[o - 1] == ' ')
				continue;
			c = ' ';
		}
		if (o == PAGE_MAX_TITLE_BYTES)
			return page_fail(p->err, -EFBIG, line,
					 "line %d: title longer than %d bytes", line, PAGE_MAX_TITLE_BYTES);
		t->title[o++] = c;
	}
	while (o > 0 && t->title[o - 1] == ' ')
		o--;
	t->title[o] = '\0';
	t->have_title = true;
	return 0;
}

static int start_tag(struct parser *p, int tag, const char *tagname, int line)
{
	struct page_tree *t = p->t;
	struct attrs a = { 0 };
	bool self_close = false;
	int32_t idx;
	int r, d;

	if ((r = parse_attrs(p, tag, tagname, &a, &self_close)) < 0)
		return r;
	switch (tag) {
	case PAGE_TAG_TITLE:
		return self_close ? 0 : parse_title(p, line);
	case PAGE_TAG_HTML:
	case PAGE_TAG_HEAD:
	case PAGE_TAG_META:
		return 0;
	case PAGE_TAG_BODY:
		if (p->body_seen)
			return 0;
		p->body_seen = true;
		pop_to(p, 1);
		if ((r = new_node(p, tag, line, &idx)) < 0)
			return r;
		t->nodes[idx].flags = a.flags;
		t->nodes[idx].color = a.color;
		t->nodes[idx].bg = a.bg;
		t->body = idx;
		p->stack[++p->depth] = idx;
		return 0;
	default:
		break;
	}
	if (tag_closes_p(tag) && (d = find_open(p, PAGE_TAG_P, stops_p)) > 0)
		pop_to(p, d);
	if (is_heading(tag) && is_heading(t->nodes[p->stack[p->depth]].tag))
		pop_to(p, p->depth);
	if (tag == PAGE_TAG_LI && (d = find_open(p, PAGE_TAG_LI, stops_li)) > 0)
		pop_to(p, d);
	if (tag == PAGE_TAG_IMG && !(a.flags & PAGE_HAS_STR))
		return page_fail(p->err, -EINVAL, line, "line %d: <img> without src", line);
	if (tag == PAGE_TAG_IMG && (a.flags & (PAGE_HAS_WIDTH | PAGE_HAS_HEIGHT)) &&
	    (((a.flags & PAGE_HAS_WIDTH) && a.width == 0) ||
	     ((a.flags & PAGE_HAS_HEIGHT) && a.height == 0)))
		return page_fail(p->err, -EINVAL, line, "line %d: <img> width and height must be at least 1", line);
	if (!tag_is_void(tag) && !self_close && p->depth >= PAGE_MAX_DEPTH)
		return page_fail(p->err, -E2BIG, line, "line %d: elements nested more than %d deep",
				 line, PAGE_MAX_DEPTH);
	if ((r = new_node(p, tag, line, &idx)) < 0)
		return r;
	t->nodes[idx].flags = a.flags;
	t->nodes[idx].color = a.color;
	t->nodes[idx].bg = a.bg;
	t->nodes[idx].width = a.width;
	t->nodes[idx].height = a.height;
	t->nodes[idx].padding = a.padding;
	t->nodes[idx].off = a.str_off;
	t->nodes[idx].len = a.str_len;
	if (!tag_is_void(tag) && !self_close)
		p->stack[++p->depth] = idx;
	return 0;
}

static void end_tag(struct parser *p, int tag)
{
	int d;

	if (tag == PAGE_TAG_BODY || tag == PAGE_TAG_HTML || tag == PAGE_TAG_HEAD || tag_is_void(tag))
		return;
	/* An end tag with nothing to close is ignored, as browsers do. */
	if ((d = find_open(p, tag, NULL)) > 0)
		pop_to(p, d);
}

static int read_name(struct parser *p, char *name, int line, bool end)
{
	size_t nl = 0, k;

	while (p->i < p->n && (is_alpha(p->s[p->i]) || is_digit(p->s[p->i]))) {
		if (nl == TAG_NAME_MAX)
			return page_fail(p->err, -EINVAL, line, "line %d: unsupported tag <%s%.16s...>",
					 line, end ? "/" : "", name);
		name[nl++] = lower(p->s[p->i++]);
		name[nl] = '\0';
	}
	for (k = 0; k < sizeof tags / sizeof tags[0]; k++) {
		if (strcmp(tags[k].name, name) == 0)
			return tags[k].tag;
	}
	return page_fail(p->err, -EINVAL, line, "line %d: unsupported tag <%s%s>", line,
			 end ? "/" : "", name);
}

static int parse_all(struct parser *p)
{
	size_t text_start = p->i;
	int r;

	while (p->i < p->n) {
		size_t lt = p->i;
		const char *s = p->s;
		int line, tag;
		char name[TAG_NAME_MAX + 1] = "";

		if (s[lt] != '<') {
			const char *q = memchr(s + lt, '<', p->n - lt);

			p->i = q ? (size_t)(q - s) : p->n;
			continue;
		}
		/* Markup starts here; anything else after '<' is literal text. */
		if (lt + 1 >= p->n ||
		    !(is_alpha(s[lt + 1]) || s[lt + 1] == '!' || s[lt + 1] == '?' ||
		      (s[lt + 1] == '/' && lt + 2 < p->n && is_alpha(s[lt + 2])))) {
			p->i++;
			continue;
		}
		if (lt > text_start && (r = add_text(p, text_start, lt)) < 0)
			return r;
		line = line_at(p, lt);
		if (s[lt + 1] == '!' && p->n - lt >= 4 && memcmp(s + lt, "<!--", 4) == 0) {
			const char *q = memmem(s + lt + 4, p->n - lt - 4, "-->", 3);

			if (!q)
				return page_fail(p->err, -EINVAL, line, "line %d: unterminated comment", line);
			p->i = (size_t)(q - s) + 3;
		} else if (s[lt + 1] == '!' || s[lt + 1] == '?') {
			/* <!DOCTYPE ...> and processing instructions carry nothing for us. */
			const char *q = memchr(s + lt, '>', p->n - lt);

			if (!q)
				return page_fail(p->err, -EINVAL, line, "line %d: unterminated <%c", line,
						 s[lt + 1]);
			p->i = (size_t)(q - s) + 1;
		} else if (s[lt + 1] == '/') {
			p->i = lt + 2;
			if ((tag = read_name(p, name, line, true)) < 0)
				return tag;
			while (p->i < p->n && is_space(s[p->i]))
				p->i++;
			if (p->i >= p->n)
				return page_fail(p->err, -EINVAL, line, "line %d: unterminated tag </%s>",
						 line, name);
			if (s[p->i] != '>')
				return page_fail(p->err, -EINVAL, line,
						 "line %d: malformed end tag </%s> (unexpected '%c')", line,
						 name, s[p->i]);
			p->i++;
			end_tag(p, tag);
		} else {
			p->i = lt + 1;
			if ((tag = read_name(p, name, line, false)) < 0)
				return tag;
			if ((r = start_tag(p, tag, name, line)) < 0)
				return r;
		}
		text_start = p->i;
	}
	if (p->n > text_start)
		return add_text(p, text_start, p->n);
	return 0;
}

void page_tree_finish(struct page_tree *t)
{
	if (!t)
		return;
	free(t->nodes);
	free(t->text);
	memset(t, 0, sizeof *t);
}

int page_parse(const uint8_t *src, size_t len, struct page_tree *t, struct page_error *err)
{
	struct parser p = { 0 };
	int32_t root;
	int r;

	memset(t, 0, sizeof *t);
	if ((r = validate(src, len, err)) < 0)
		return r;
	p.s = (const char *)src;
	p.n = len;
	p.line = 1;
	p.t = t;
	p.err = err;
	/* A byte-order mark says nothing the validation has not. */
	if (len >= 3 && memcmp(src, "\xef\xbb\xbf", 3) == 0)
		p.i = p.line_off = 3;
	p.stack[0] = -1;
	p.depth = 0;
	if ((r = new_node(&p, PAGE_TAG_ROOT, 0, &root)) < 0)
		goto out;
	p.stack[0] = root;
	t->body = root;
	r = parse_all(&p);
out:
	free(p.buf);
	if (r < 0)
		page_tree_finish(t);
	return r;
}
