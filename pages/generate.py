#!/usr/bin/env python3
"""Writes the generated sample files: PNG images (good and hostile), the
long page, and the bad pages that are not plain text.

Run once from anywhere: python3 pages/generate.py. The output is checked
in; tests depend on the exact pixels and errors described here, so change
both together. Only the standard library is used, and the output is the
same on every run.
"""
import random
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))


def chunk(kind, data):
    c = struct.pack(">I", len(data)) + kind + data
    return c + struct.pack(">I", zlib.crc32(kind + data) & 0xffffffff)


def png(w, h, color_type, depth, raw, interlace=0, extra=b""):
    sig = b"\x89PNG\r\n\x1a\n"
    ihdr = struct.pack(">IIBBBBB", w, h, depth, color_type, 0, 0, interlace)
    return (sig + chunk(b"IHDR", ihdr) + extra +
            chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b""))


def rows(w, h, px, bpp):
    """Filter type 0 scanlines from px(x, y) -> bytes."""
    out = bytearray()
    for y in range(h):
        out.append(0)
        for x in range(w):
            out += px(x, y)
    return bytes(out)


def write(rel, data):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


# logo.png: 64x64 RGB quadrants; the tests check one pixel in each.
QUAD = {(0, 0): (0xe5, 0x39, 0x35), (1, 0): (0x43, 0xa0, 0x47),
        (0, 1): (0x1e, 0x88, 0xe5), (1, 1): (0xfd, 0xd8, 0x35)}


def logo_px(x, y):
    return bytes(QUAD[(x // 32, y // 32)])


LOGO = png(64, 64, 2, 8, rows(64, 64, logo_px, 3))
write("img/logo.png", LOGO)

# gradient.png: 256x32 RGB, red = x, blue = 255 - x.
write("img/gradient.png",
      png(256, 32, 2, 8, rows(256, 32, lambda x, y: bytes((x, y * 8, 255 - x)), 3)))


# alpha.png: 48x48 RGBA, an opaque purple disc on full transparency.
def alpha_px(x, y):
    d = (x - 23.5) ** 2 + (y - 23.5) ** 2
    return bytes((0x8e, 0x24, 0xaa, 255)) if d <= 20 * 20 else bytes((0, 0, 0, 0))


write("img/alpha.png", png(48, 48, 6, 8, rows(48, 48, alpha_px, 4)))

# checker.png: 32x32 palette image, 8x8 cells of navy and orange.
plte = chunk(b"PLTE", bytes((0x00, 0x00, 0x80, 0xff, 0xa5, 0x00)))
write("img/checker.png",
      png(32, 32, 3, 8, rows(32, 32, lambda x, y: bytes(((x // 8 + y // 8) % 2,)), 1),
          extra=plte))

# gray.png: 64x16 8-bit grayscale ramp, value = 4 * x.
write("img/gray.png", png(64, 16, 0, 8, rows(64, 16, lambda x, y: bytes((4 * x,)), 1)))


# stripes.png: 40x40 RGB Adam7-interlaced, 10-pixel vertical stripes.
STRIPES = [(0xff, 0x00, 0x00), (0x00, 0xff, 0x00), (0x00, 0x00, 0xff), (0xff, 0xff, 0xff)]


def stripes_px(x, y):
    return bytes(STRIPES[x // 10])


def adam7(w, h, px):
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4),
              (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    out = bytearray()
    for x0, y0, dx, dy in passes:
        xs = range(x0, w, dx)
        ys = range(y0, h, dy)
        if not xs or not ys:
            continue
        for y in ys:
            out.append(0)
            for x in xs:
                out += px(x, y)
    return bytes(out)


write("img/stripes.png", png(40, 40, 2, 8, adam7(40, 40, stripes_px), interlace=1))

# ---- hostile images for pages/bad ----

# Claims 100000x100000 with a valid CRC: must be refused before any allocation.
write("bad/img/huge-dims.png", png(100000, 100000, 2, 8, b"\x00" * 64))

# 4000x4000 within the per-side limit, but 64 MB decoded: a decompression bomb.
write("bad/img/bomb.png", png(4000, 4000, 0, 8, bytes(4000 * 4001)))

# The logo cut in the middle of its image data.
write("bad/img/truncated.png", LOGO[:len(LOGO) // 2])

# The logo with its IDAT checksum broken (the data itself inflates fine).
idat = LOGO.index(b"IDAT")
idat_len = struct.unpack(">I", LOGO[idat - 4:idat])[0]
bad = bytearray(LOGO)
bad[idat + 4 + idat_len] ^= 0x55
write("bad/img/bad-crc.png", bytes(bad))

# Valid chunks and CRCs around image data that is not zlib.
write("bad/img/bad-zlib.png",
      b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 16, 16, 8, 2, 0, 0, 0)) +
      chunk(b"IDAT", b"this is not deflate data at all") + chunk(b"IEND", b""))

# Not a PNG at all.
write("bad/img/not-png.png", b"GIF89a pretending to be a PNG\n")

# ---- the long page ----

WORDS = ("the broker hands each renderer only the files it may read and the "
         "renderer draws the page into shared memory that the compositor maps "
         "read only while the supervisor watches every process").split()
paras = []
for i in range(60):
    n = 40 + (i * 7) % 30
    text = " ".join(WORDS[(i + k) % len(WORDS)] for k in range(n))
    paras.append("<p><b>%d.</b> %s.</p>" % (i + 1, text.capitalize()))
    if i % 10 == 9:
        paras.append("<h2>Part %d</h2>" % (i // 10 + 2))
write("long.html", ("<title>A long page</title>\n<h1>A long page</h1>\n<h2>Part 1</h2>\n" +
                    "\n".join(paras) + "\n" +
                    '<p><a href="index.html">Back to the start</a></p>\n').encode())

# ---- bad pages that are not plain text ----

rnd = random.Random(7)
write("bad/binary.html", bytes(rnd.randrange(256) for _ in range(4096)))
write("bad/nul.html", b"<title>NUL byte</title>\n<p>Text with a NUL byte \0 in the middle.</p>\n")
write("bad/invalid-utf8.html",
      b"<title>Invalid UTF-8</title>\n<p>Latin-1 is not UTF-8: caf\xe9 cr\xe8me.</p>\n")
# Over the 1 MiB input limit.
para = "<p>" + "This page is far too large to be accepted. " * 20 + "</p>\n"
write("bad/huge.html", ("<title>Too large</title>\n" + para * (((1 << 20) + 4096) // len(para) + 1)).encode())
# More elements than the node limit, in a small file.
write("bad/many-nodes.html", ("<title>Too many elements</title>\n" + "<br>" * 12000 + "\n").encode())
# Nesting deeper than the limit.
write("bad/deep.html", ("<title>Too deep</title>\n" + "<div>" * 40 + "deep" + "</div>" * 40 + "\n").encode())
# Under every input limit, but taller than the layout limit once laid out.
write("bad/tall.html", ("<title>Too tall</title>\n" +
                        "<box color=\"#888888\" height=4000></box>\n" * 20).encode())
write("bad/empty.html", b"")
