/*
 * Layout: the element tree to a display list.
 *
 * Blocks stack vertically with collapsing margins; inline content flows
 * into lines. Inline content is gathered word by word (a word may mix
 * styles, "foo<b>bar</b>" is one word) and a line is only emitted once it
 * is full, because its baseline depends on its tallest item. Horizontal
 * positions are 26.6 fixed point so runs joined on a line land exactly
 * where they were measured.
 *
 * Work and memory are bounded by the tree (itself bounded by the parser)
 * and by PAGE_MAX_HEIGHT: every emitted line moves down at least one
 * pixel, so a pathological page fails on the height limit quickly.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "page_internal.h"

#define PAGE_MARGIN 16
#define LIST_INDENT 40
#define MARKER_GAP 8
#define MAX_OPS (1u << 18)
#define LINK_TEXT_MAX 256
#define LINK_COLOUR 0xff1a0dabu
#define HR_COLOUR 0xffc8c8c8u
#define BOX_COLOUR 0xffccccccu
#define BOX_PADDING 8

struct style {
	uint32_t color;
	struct page_font font;
	bool underline;
	int32_t link;
};

/* Something placed on the current line. x and w are 26.6, relative to the line's left. */
struct item {
	uint8_t kind;
	struct style st;
	int64_t x, w;
	int asc, desc;
	uint32_t off, len;  /* text: bytes in doc->text */
	int32_t image;
	int iw, ih;
};

/* A piece of the word being gathered. */
struct piece {
	uint8_t kind;
	struct style st;
	uint32_t off, len;  /* text: bytes in wbuf */
	int64_t w;
	int32_t image;
	int iw, ih;
};

struct lbuf {
	char *s;
	size_t len, cap;
};

struct layout {
	struct page_engine *e;
	const struct page_tree *t;
	struct page_doc *doc;
	struct page_error *err;
	int width;
	int y, margin;      /* pen y; bottom margin waiting to collapse */
	int left;           /* left edge of the current block's content, pixels */
	int64_t avail;      /* its width, 26.6 */
	struct item *items;
	size_t nitems, icap;
	int64_t x;          /* pen on the current line, 26.6 */
	bool space;         /* whitespace seen since the last word */
	bool word_space;    /* the word being placed followed whitespace (for link text) */
	struct piece *pieces;
	size_t npieces, pcap;
	char *wbuf;
	size_t wlen, wcap;
	int list_tag;       /* innermost list: PAGE_TAG_UL/OL or 0 */
	int list_count;
	bool marker;        /* a list marker waits for the item's first line */
	char marker_text[16];
	struct style marker_st;
	int marker_right;
	struct lbuf *ltext;
	int line;           /* source line of the node being laid out */
};

static int oom(struct layout *L)
{
	return page_fail(L->err, -ENOMEM, 0, "out of memory");
}

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
	size_t n = *cap ? *cap : 16;
	void *np;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	np = realloc(*p, n * elem);
	if (!np)
		return -ENOMEM;
	*p = np;
	*cap = n;
	return 0;
}

static bool style_eq(const struct style *a, const struct style *b)
{
	return a->color == b->color && a->font.face == b->font.face &&
	       a->font.italic == b->font.italic && a->font.px == b->font.px &&
	       a->underline == b->underline && a->link == b->link;
}

static int64_t round26(int64_t v)
{
	return (v + 32) >> 6;
}

static int push_op(struct layout *L, const struct page_op *op)
{
	struct page_doc *d = L->doc;

	if (d->nops >= MAX_OPS)
		return page_fail(L->err, -E2BIG, L->line,
				 "page needs more than %u drawing operations", MAX_OPS);
	if (grow((void **)&d->ops, &d->ops_cap, d->nops + 1, sizeof *d->ops) < 0)
		return oom(L);
	d->ops[d->nops++] = *op;
	return 0;
}

static int text_put(struct layout *L, const char *s, size_t n)
{
	struct page_doc *d = L->doc;

	if (grow((void **)&d->text, &d->text_cap, d->text_len + n + 1, 1) < 0)
		return oom(L);
	memcpy(d->text + d->text_len, s, n);
	d->text_len += n;
	d->text[d->text_len] = '\0';
	return 0;
}

static int check_height(struct layout *L)
{
	if (L->y > PAGE_MAX_HEIGHT)
		return page_fail(L->err, -EFBIG, L->line,
				 "page is taller than %d pixels when laid out %d pixels wide",
				 PAGE_MAX_HEIGHT, L->width);
	return 0;
}

static int link_text_put(struct layout *L, int32_t link, const char *s, size_t n, bool sp)
{
	struct lbuf *b = &L->ltext[link];
	size_t room = LINK_TEXT_MAX - b->len;

	/* Link text is a label for the embedder: cut at a character boundary. */
	if (grow((void **)&b->s, &b->cap, LINK_TEXT_MAX + 1, 1) < 0)
		return oom(L);
	if (sp && b->len && room > 0) {
		b->s[b->len++] = ' ';
		room--;
	}
	if (n > room) {
		n = room;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
	return 0;
}

static int emit_marker(struct layout *L, int baseline)
{
	struct page_op op = { .kind = PAGE_OP_TEXT };
	size_t n = strlen(L->marker_text);
	int64_t w = page_font_measure(L->e, L->marker_st.font, L->marker_text, n);
	struct page_metrics m;
	int r;

	L->marker = false;
	page_font_metrics(L->e, L->marker_st.font, &m);
	op.font = L->marker_st.font;
	op.x = (int32_t)((int64_t)L->marker_right * 64 - w);
	op.y = baseline;
	op.h = m.line_height;
	op.color = L->marker_st.color;
	op.off = (uint32_t)L->doc->text_len;
	op.len = (uint32_t)n;
	if ((r = text_put(L, L->marker_text, n)) < 0)
		return r;
	return push_op(L, &op);
}

static int add_frag(struct layout *L, int32_t link, int x, int y, int w, int h)
{
	struct page_doc *d = L->doc;
	struct page_frag *f;

	if (grow((void **)&d->frags, &d->frags_cap, d->nfrags + 1, sizeof *d->frags) < 0)
		return oom(L);
	f = &d->frags[d->nfrags++];
	f->r.x = x;
	f->r.y = y;
	f->r.w = w;
	f->r.h = h;
	f->link = link;
	return 0;
}

/*
 * Emits the current line. With no items it emits nothing, unless `blank`
 * is given: then an empty line of that style's height (for <br>).
 */
static int line_finish(struct layout *L, const struct style *blank)
{
	int asc = 0, desc = 0, baseline, r;
	size_t k;

	if (L->nitems == 0 && !blank)
		return 0;
	L->y += L->margin;
	L->margin = 0;
	if (L->nitems == 0) {
		struct page_metrics m;

		page_font_metrics(L->e, blank->font, &m);
		asc = m.ascent;
		desc = m.line_height - m.ascent;
	}
	for (k = 0; k < L->nitems; k++) {
		asc = L->items[k].asc > asc ? L->items[k].asc : asc;
		desc = L->items[k].desc > desc ? L->items[k].desc : desc;
	}
	baseline = L->y + asc;
	if (L->marker && (r = emit_marker(L, baseline)) < 0)
		return r;
	for (k = 0; k < L->nitems; k++) {
		const struct item *it = &L->items[k];
		struct page_op op = { .kind = it->kind };
		int px = (int)round26((int64_t)L->left * 64 + it->x);
		int pw = (int)(round26((int64_t)L->left * 64 + it->x + it->w) - px);

		op.color = it->st.color;
		if (it->kind == PAGE_OP_TEXT) {
			struct page_metrics m;

			op.font = it->st.font;
			op.x = (int32_t)((int64_t)L->left * 64 + it->x);
			op.y = baseline;
			op.h = asc + desc;
			op.off = it->off;
			op.len = it->len;
			if ((r = push_op(L, &op)) < 0)
				return r;
			if (it->st.underline) {
				struct page_op ul = { .kind = PAGE_OP_RECT, .color = it->st.color };

				page_font_metrics(L->e, it->st.font, &m);
				ul.x = px;
				ul.y = baseline + m.ul_pos;
				ul.w = pw;
				ul.h = m.ul_thick;
				if ((r = push_op(L, &ul)) < 0)
					return r;
			}
		} else {
			op.x = px;
			op.y = baseline - it->ih;
			op.w = it->iw;
			op.h = it->ih;
			op.off = (uint32_t)it->image;
			if ((r = push_op(L, &op)) < 0)
				return r;
		}
		if (it->st.link >= 0 && (r = add_frag(L, it->st.link, px, L->y, pw, asc + desc)) < 0)
			return r;
	}
	L->y += asc + desc;
	L->nitems = 0;
	L->x = 0;
	L->space = false;
	return check_height(L);
}

static int new_item(struct layout *L, struct item **out)
{
	if (grow((void **)&L->items, &L->icap, L->nitems + 1, sizeof *L->items) < 0)
		return oom(L);
	*out = &L->items[L->nitems++];
	memset(*out, 0, sizeof **out);
	return 0;
}

/* Puts text (bytes s[0..n) of width w, 26.6) on the line after a space of sp. */
static int place_text(struct layout *L, const struct style *st, const char *s, size_t n,
		      int64_t w, int64_t sp)
{
	struct item *last = L->nitems ? &L->items[L->nitems - 1] : NULL;
	struct page_metrics m;
	int r;

	if (last && last->kind == PAGE_OP_TEXT && style_eq(&last->st, st) &&
	    last->off + last->len == L->doc->text_len && last->x + last->w == L->x) {
		/* Same style as the run before it: extend the run. */
		if (sp && (r = text_put(L, " ", 1)) < 0)
			return r;
		if ((r = text_put(L, s, n)) < 0)
			return r;
		last->len += (uint32_t)(n + (sp ? 1 : 0));
		last->w += sp + w;
	} else {
		if ((r = new_item(L, &last)) < 0)
			return r;
		page_font_metrics(L->e, st->font, &m);
		last->kind = PAGE_OP_TEXT;
		last->st = *st;
		last->x = L->x + sp;
		last->w = w;
		last->asc = m.ascent;
		last->desc = m.line_height - m.ascent;
		last->off = (uint32_t)L->doc->text_len;
		last->len = (uint32_t)n;
		if ((r = text_put(L, s, n)) < 0)
			return r;
	}
	L->x += sp + w;
	if (st->link >= 0) {
		bool ws = sp != 0 || L->word_space;

		L->word_space = false;
		return link_text_put(L, st->link, s, n, ws);
	}
	L->word_space = false;
	return 0;
}

static int place_image(struct layout *L, const struct piece *p, int64_t sp)
{
	struct item *it;
	int r;

	if ((r = new_item(L, &it)) < 0)
		return r;
	it->kind = PAGE_OP_IMAGE;
	it->st = p->st;
	it->x = L->x + sp;
	it->w = p->w;
	it->asc = p->ih;
	it->desc = 0;
	it->image = p->image;
	it->iw = p->iw;
	it->ih = p->ih;
	L->x += sp + p->w;
	return 0;
}

static int place_piece(struct layout *L, const struct piece *p, int64_t sp)
{
	if (p->kind == PAGE_OP_IMAGE)
		return place_image(L, p, sp);
	return place_text(L, &p->st, L->wbuf + p->off, p->len, p->w, sp);
}

/* A word wider than a whole line: break it between characters. */
static int place_split(struct layout *L)
{
	int r;

	for (size_t k = 0; k < L->npieces; k++) {
		const struct piece *p = &L->pieces[k];
		const char *s;
		size_t len = p->len;

		if (p->kind == PAGE_OP_IMAGE) {
			if (L->nitems && L->x + p->w > L->avail && (r = line_finish(L, NULL)) < 0)
				return r;
			if ((r = place_image(L, p, 0)) < 0)
				return r;
			continue;
		}
		/* Only now: a word of images alone has no text buffer (wbuf may be NULL). */
		s = L->wbuf + p->off;
		while (len > 0) {
			int64_t w;
			size_t n = page_font_fit(L->e, p->st.font, s, len, L->avail - L->x, &w);

			if (L->nitems && L->x + w > L->avail) {
				if ((r = line_finish(L, NULL)) < 0)
					return r;
				continue;
			}
			if ((r = place_text(L, &p->st, s, n, w, 0)) < 0)
				return r;
			s += n;
			len -= n;
			if (len > 0 && (r = line_finish(L, NULL)) < 0)
				return r;
		}
	}
	return 0;
}

static int64_t space_width(struct layout *L, const struct style *st)
{
	return page_font_measure(L->e, st->font, " ", 1);
}

static int word_commit(struct layout *L)
{
	int64_t total = 0, sp = 0;
	size_t k;
	int r = 0;

	if (L->npieces == 0)
		return 0;
	L->word_space = L->space;
	for (k = 0; k < L->npieces; k++) {
		struct piece *p = &L->pieces[k];

		if (p->kind == PAGE_OP_TEXT)
			p->w = page_font_measure(L->e, p->st.font, L->wbuf + p->off, p->len);
		total += p->w;
	}
	if (L->space && L->nitems)
		sp = space_width(L, &L->pieces[0].st);
	if (L->x + sp + total > L->avail) {
		if ((r = line_finish(L, NULL)) < 0)
			goto out;
		sp = 0;
	}
	if (L->x + total > L->avail) {
		r = place_split(L);
		goto out;
	}
	for (k = 0; k < L->npieces && r == 0; k++) {
		r = place_piece(L, &L->pieces[k], sp);
		sp = 0;
	}
out:
	L->npieces = 0;
	L->wlen = 0;
	L->space = false;
	return r;
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static int add_text(struct layout *L, const struct style *st, const char *s, size_t len)
{
	size_t i = 0;
	int r;

	while (i < len) {
		size_t j = i;
		struct piece *last;

		if (is_space(s[i])) {
			if ((r = word_commit(L)) < 0)
				return r;
			L->space = true;
			while (i < len && is_space(s[i]))
				i++;
			continue;
		}
		while (j < len && !is_space(s[j]))
			j++;
		if (grow((void **)&L->wbuf, &L->wcap, L->wlen + (j - i), 1) < 0)
			return oom(L);
		memcpy(L->wbuf + L->wlen, s + i, j - i);
		last = L->npieces ? &L->pieces[L->npieces - 1] : NULL;
		if (last && last->kind == PAGE_OP_TEXT && style_eq(&last->st, st)) {
			last->len += (uint32_t)(j - i);
		} else {
			if (grow((void **)&L->pieces, &L->pcap, L->npieces + 1, sizeof *L->pieces) < 0)
				return oom(L);
			last = &L->pieces[L->npieces++];
			memset(last, 0, sizeof *last);
			last->kind = PAGE_OP_TEXT;
			last->st = *st;
			last->off = (uint32_t)L->wlen;
			last->len = (uint32_t)(j - i);
		}
		L->wlen += j - i;
		i = j;
	}
	return 0;
}

static int add_image(struct layout *L, const struct style *st, const struct page_node *nd)
{
	const struct page_image *img;
	int64_t w, h;
	struct piece *p;
	int r;

	if (nd->image < 0 || (size_t)nd->image >= L->doc->nimages)
		return 0;
	img = &L->doc->images[nd->image];
	w = img->w;
	h = img->h;
	/* One given dimension scales the other to keep the aspect ratio. */
	if ((nd->flags & PAGE_HAS_WIDTH) && (nd->flags & PAGE_HAS_HEIGHT)) {
		w = nd->width;
		h = nd->height;
	} else if (nd->flags & PAGE_HAS_WIDTH) {
		w = nd->width;
		h = (img->h * w + img->w / 2) / img->w;
	} else if (nd->flags & PAGE_HAS_HEIGHT) {
		h = nd->height;
		w = (img->w * h + img->h / 2) / img->h;
	}
	if (w < 1)
		w = 1;
	if (h < 1)
		h = 1;
	if (w > PAGE_MAX_IMAGE_DIM || h > PAGE_MAX_IMAGE_DIM)
		return page_fail(L->err, -EFBIG, nd->line,
				 "line %d: image \"%s\" would be drawn %lldx%lld pixels, the limit is %dx%d",
				 nd->line, img->src, (long long)w, (long long)h, PAGE_MAX_IMAGE_DIM,
				 PAGE_MAX_IMAGE_DIM);
	/* An image is a word of its own. */
	if ((r = word_commit(L)) < 0)
		return r;
	if (grow((void **)&L->pieces, &L->pcap, 1, sizeof *L->pieces) < 0)
		return oom(L);
	p = &L->pieces[0];
	memset(p, 0, sizeof *p);
	p->kind = PAGE_OP_IMAGE;
	p->st = *st;
	p->w = w * 64;
	p->iw = (int)w;
	p->ih = (int)h;
	p->image = nd->image;
	L->npieces = 1;
	return word_commit(L);
}

/* Ends the inline content before a block starts or ends. */
static int flush(struct layout *L)
{
	int r;

	if ((r = word_commit(L)) < 0)
		return r;
	if ((r = line_finish(L, NULL)) < 0)
		return r;
	L->space = false;
	return 0;
}

static int do_node(struct layout *L, int32_t idx, const struct style *st);

static int do_children(struct layout *L, int32_t idx, const struct style *st)
{
	int r;

	for (int32_t c = L->t->nodes[idx].first_child; c >= 0; c = L->t->nodes[c].next) {
		if ((r = do_node(L, c, st)) < 0)
			return r;
	}
	return 0;
}

static int do_block(struct layout *L, int32_t idx, const struct style *parent)
{
	const struct page_node *nd = &L->t->nodes[idx];
	struct style st = *parent;
	int mt = 0, mb = 0, pad = 0, indent = 0, start_y, r;
	int save_left = L->left, save_tag = L->list_tag, save_count = L->list_count;
	int64_t save_avail = L->avail;
	bool filled = false;
	uint32_t fill = 0;
	size_t rect_op = 0;
	int64_t width = L->avail;

	if ((r = flush(L)) < 0)
		return r;
	if (L->marker) {
		struct page_metrics m;

		page_font_metrics(L->e, L->marker_st.font, &m);
		if ((r = emit_marker(L, L->y + L->margin + m.ascent)) < 0)
			return r;
	}
	if ((nd->flags & PAGE_HAS_COLOR) && nd->tag != PAGE_TAG_BOX)
		st.color = nd->color;
	switch (nd->tag) {
	case PAGE_TAG_H1:
		st.font.px = 32;
		st.font.face = 1;
		mt = mb = 21;
		break;
	case PAGE_TAG_H2:
		st.font.px = 24;
		st.font.face = 1;
		mt = mb = 20;
		break;
	case PAGE_TAG_H3:
		st.font.px = 19;
		st.font.face = 1;
		mt = mb = 18;
		break;
	case PAGE_TAG_P:
		mt = mb = 16;
		break;
	case PAGE_TAG_UL:
	case PAGE_TAG_OL:
		mt = mb = L->list_tag ? 0 : 16;
		indent = LIST_INDENT;
		break;
	case PAGE_TAG_HR:
		mt = mb = 8;
		break;
	case PAGE_TAG_BOX:
		mt = mb = 8;
		pad = BOX_PADDING;
		filled = true;
		fill = (nd->flags & PAGE_HAS_BG) ? nd->bg :
		       (nd->flags & PAGE_HAS_COLOR) ? nd->color : BOX_COLOUR;
		break;
	case PAGE_TAG_DIV:
		filled = nd->flags & PAGE_HAS_BG;
		fill = nd->bg;
		break;
	default:
		break;
	}
	if (nd->flags & PAGE_HAS_PADDING)
		pad = nd->padding;
	L->y += L->margin > mt ? L->margin : mt;
	L->margin = 0;
	if (nd->tag == PAGE_TAG_HR) {
		struct page_op op = { .kind = PAGE_OP_RECT, .x = L->left, .y = L->y, .h = 2 };

		op.w = (int32_t)(L->avail >> 6);
		op.color = (nd->flags & PAGE_HAS_COLOR) ? nd->color : HR_COLOUR;
		if ((r = push_op(L, &op)) < 0)
			return r;
		L->y += 2;
		L->margin = mb;
		return check_height(L);
	}
	start_y = L->y;
	if ((nd->tag == PAGE_TAG_DIV || nd->tag == PAGE_TAG_BOX) && (nd->flags & PAGE_HAS_WIDTH))
		width = (int64_t)nd->width * 64;
	if (filled) {
		struct page_op op = { .kind = PAGE_OP_RECT, .x = L->left, .y = start_y };

		/* The height is patched in once the content is laid out. */
		op.w = (int32_t)(width >> 6);
		op.color = fill;
		rect_op = L->doc->nops;
		if ((r = push_op(L, &op)) < 0)
			return r;
	}
	L->left += pad + indent;
	L->avail = width - (int64_t)(2 * pad + indent) * 64;
	if (L->avail < 64)
		L->avail = 64;
	L->y += pad;
	if (nd->tag == PAGE_TAG_UL || nd->tag == PAGE_TAG_OL) {
		L->list_tag = nd->tag;
		L->list_count = 0;
	} else if (nd->tag == PAGE_TAG_LI) {
		L->marker = true;
		L->marker_st = st;
		L->marker_st.underline = false;
		L->marker_st.link = -1;
		L->marker_right = L->left - MARKER_GAP;
		if (L->list_tag == PAGE_TAG_OL)
			snprintf(L->marker_text, sizeof L->marker_text, "%d.", ++L->list_count);
		else
			snprintf(L->marker_text, sizeof L->marker_text, "\xe2\x80\xa2");
	}
	if ((r = do_children(L, idx, &st)) < 0)
		return r;
	if ((r = flush(L)) < 0)
		return r;
	if (L->marker) {
		/* A list item with nothing in it still shows its marker on a line. */
		if ((r = line_finish(L, &st)) < 0)
			return r;
	}
	if (filled || pad) {
		/* Margins inside a box stay inside it. */
		L->y += L->margin + pad;
		L->margin = 0;
	}
	if ((nd->flags & PAGE_HAS_HEIGHT) && (nd->tag == PAGE_TAG_DIV || nd->tag == PAGE_TAG_BOX) &&
	    L->y - start_y < nd->height)
		L->y = start_y + nd->height;
	if (filled)
		L->doc->ops[rect_op].h = L->y - start_y;
	L->left = save_left;
	L->avail = save_avail;
	if (nd->tag == PAGE_TAG_UL || nd->tag == PAGE_TAG_OL) {
		L->list_tag = save_tag;
		L->list_count = save_count;
	}
	if (L->margin < mb)
		L->margin = mb;
	return check_height(L);
}

static int new_link(struct layout *L, const struct page_node *nd, int32_t *out)
{
	struct page_doc *d = L->doc;
	struct page_link *lk;
	struct lbuf *nb;
	size_t cap;

	if (d->nlinks >= PAGE_MAX_LINKS)
		return page_fail(L->err, -E2BIG, nd->line, "line %d: more than %d links", nd->line,
				 PAGE_MAX_LINKS);
	/* Both arrays grow together, one element at a time at most doubling. */
	cap = d->nlinks + 1;
	lk = realloc(d->links, cap * sizeof *lk);
	if (!lk)
		return oom(L);
	d->links = lk;
	nb = realloc(L->ltext, cap * sizeof *nb);
	if (!nb)
		return oom(L);
	L->ltext = nb;
	memset(&d->links[d->nlinks], 0, sizeof *lk);
	memset(&L->ltext[d->nlinks], 0, sizeof *nb);
	d->links[d->nlinks].href = strdup(L->t->text + nd->off);
	if (!d->links[d->nlinks].href)
		return oom(L);
	*out = (int32_t)d->nlinks++;
	return 0;
}

static int do_node(struct layout *L, int32_t idx, const struct style *parent)
{
	const struct page_node *nd = &L->t->nodes[idx];
	struct style st = *parent;
	int r;

	L->line = nd->line;
	switch (nd->tag) {
	case PAGE_TAG_TEXT:
		return add_text(L, parent, L->t->text + nd->off, nd->len);
	case PAGE_TAG_BR:
		if ((r = word_commit(L)) < 0)
			return r;
		return line_finish(L, parent);
	case PAGE_TAG_IMG:
		return add_image(L, parent, nd);
	case PAGE_TAG_A:
		if (nd->flags & PAGE_HAS_STR) {
			if ((r = new_link(L, nd, &st.link)) < 0)
				return r;
			st.underline = true;
			st.color = LINK_COLOUR;
		}
		break;
	case PAGE_TAG_B:
	case PAGE_TAG_STRONG:
		st.font.face = 1;
		break;
	case PAGE_TAG_I:
	case PAGE_TAG_EM:
		st.font.italic = 1;
		break;
	case PAGE_TAG_U:
		st.underline = true;
		break;
	case PAGE_TAG_SPAN:
	case PAGE_TAG_BODY:
	case PAGE_TAG_ROOT:
		break;
	default:
		return do_block(L, idx, parent);
	}
	if (nd->flags & PAGE_HAS_COLOR)
		st.color = nd->color;
	return do_children(L, idx, &st);
}

/* Each link's rectangle is the union of the pieces it drew. */
static void link_rects(struct page_doc *d)
{
	for (size_t k = 0; k < d->nfrags; k++) {
		const struct page_frag *f = &d->frags[k];
		struct page_rect *r = &d->links[f->link].rect;

		if (r->w == 0 && r->h == 0) {
			*r = f->r;
			continue;
		}
		int x1 = r->x + r->w > f->r.x + f->r.w ? r->x + r->w : f->r.x + f->r.w;
		int y1 = r->y + r->h > f->r.y + f->r.h ? r->y + r->h : f->r.y + f->r.h;

		r->x = r->x < f->r.x ? r->x : f->r.x;
		r->y = r->y < f->r.y ? r->y : f->r.y;
		r->w = x1 - r->x;
		r->h = y1 - r->y;
	}
}

int page_layout(struct page_engine *e, const struct page_tree *t, struct page_doc *doc,
		int width, struct page_error *err)
{
	struct layout L = { 0 };
	const struct page_node *body = &t->nodes[t->body];
	struct style st = { PAGE_BLACK, { 0, 0, 16 }, false, -1 };
	int r;

	L.e = e;
	L.t = t;
	L.doc = doc;
	L.err = err;
	L.width = width;
	L.left = PAGE_MARGIN;
	L.avail = (int64_t)(width - 2 * PAGE_MARGIN) * 64;
	if (L.avail < 64)
		L.avail = 64;
	L.y = PAGE_MARGIN;
	doc->bg = (body->flags & PAGE_HAS_BG) ? body->bg : PAGE_WHITE;
	if (body->flags & PAGE_HAS_COLOR)
		st.color = body->color;
	r = do_children(&L, 0, &st);
	if (r == 0)
		r = flush(&L);
	if (r == 0) {
		L.y += L.margin + PAGE_MARGIN;
		r = check_height(&L);
	}
	for (size_t k = 0; k < doc->nlinks; k++) {
		doc->links[k].text = L.ltext[k].s ? L.ltext[k].s : strdup("");
		if (!doc->links[k].text && r == 0)
			r = oom(&L);
	}
	if (r == 0) {
		link_rects(doc);
		doc->width = width;
		doc->height = L.y;
	}
	free(L.ltext);
	free(L.items);
	free(L.pieces);
	free(L.wbuf);
	return r;
}
