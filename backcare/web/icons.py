"""Draw the app icons (PNG) with the standard library only; the PNGs are committed.

    python3 backcare/web/icons.py

A stack of five vertebrae on the theme colour. "any" icons are a rounded square on transparency;
maskable ones fill the square and keep the drawing inside the central 80 % safe zone.
"""

import struct
import zlib
from pathlib import Path

OUT = Path(__file__).resolve().parent / "static" / "web" / "icons"
THEME = (11, 94, 89)  # #0b5e59, the manifest's theme_color
INK = (255, 255, 255)
SAMPLES = 4  # supersampling per axis, for smooth edges


def _in_round_rect(x, y, left, top, right, bottom, radius):
    if not (left <= x <= right and top <= y <= bottom):
        return False
    cx = min(max(x, left + radius), right - radius)
    cy = min(max(y, top + radius), bottom - radius)
    return (x - cx) ** 2 + (y - cy) ** 2 <= radius**2


def _vertebrae(scale):
    """Rounded rectangles in unit coordinates (0..1), shrunk towards the centre by `scale`."""
    shapes = []
    widths = [0.30, 0.36, 0.42, 0.46, 0.50]
    height, gap = 0.11, 0.045
    top = 0.5 - (5 * height + 4 * gap) / 2
    for i, width in enumerate(widths):
        y0 = top + i * (height + gap)
        shapes.append((0.5 - width / 2, y0, 0.5 + width / 2, y0 + height, 0.045))
    return [tuple(0.5 + (v - 0.5) * scale if k < 4 else v * scale for k, v in enumerate(s)) for s in shapes]


def draw(size: int, maskable: bool) -> bytes:
    shapes = _vertebrae(0.62 if maskable else 0.78)
    rows = []
    step = 1 / (size * SAMPLES)
    for py in range(size):
        row = bytearray([0])  # filter type 0
        for px in range(size):
            bg = ink = 0
            for sy in range(SAMPLES):
                for sx in range(SAMPLES):
                    x = (px * SAMPLES + sx + 0.5) * step
                    y = (py * SAMPLES + sy + 0.5) * step
                    inside_bg = maskable or _in_round_rect(x, y, 0, 0, 1, 1, 0.2)
                    if inside_bg:
                        bg += 1
                        if any(_in_round_rect(x, y, *s) for s in shapes):
                            ink += 1
            n = SAMPLES * SAMPLES
            if bg == 0:
                row += bytes(4)
                continue
            mix = ink / bg
            rgb = [round(THEME[c] * (1 - mix) + INK[c] * mix) for c in range(3)]
            row += bytes([*rgb, round(255 * bg / n)])
        rows.append(bytes(row))
    return _png(size, size, b"".join(rows))


def _png(width: int, height: int, raw: bytes) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


ICONS = {
    "icon-192.png": (192, False),
    "icon-512.png": (512, False),
    "icon-maskable-192.png": (192, True),
    "icon-maskable-512.png": (512, True),
    "apple-touch-icon.png": (180, True),
}

if __name__ == "__main__":
    OUT.mkdir(parents=True, exist_ok=True)
    for name, (size, maskable) in ICONS.items():
        (OUT / name).write_bytes(draw(size, maskable))
        print(OUT / name)
