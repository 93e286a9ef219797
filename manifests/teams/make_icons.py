"""Draw the Teams app icons with the standard library only (zlib + struct): no image library.

    python manifests/teams/make_icons.py      # rewrites color.png and outline.png beside it

- color.png: 192x192, full colour: the accent blue (#4464EE, the manifest's accentColor) with a
  white "sync" sign, two arcs chasing each other, each with an arrowhead.
- outline.png: 32x32, RGBA, fully transparent background, the same sign in white only (Teams
  tints the outline icon itself; anything not white or transparent is refused by its validator).

The output is deterministic, so re-running it changes nothing unless this file changed.
"""

from __future__ import annotations

import math
import struct
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
ACCENT = (0x44, 0x64, 0xEE)
WHITE = (0xFF, 0xFF, 0xFF)

Pixel = tuple[int, int, int, int]


def png(width: int, height: int, rows: list[list[Pixel]]) -> bytes:
    """An 8-bit RGBA PNG (colour type 6), every scanline with filter type 0."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes(c for px in row for c in px) for row in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _in_sign(x: float, y: float) -> bool:
    """The sync sign in unit coordinates (centre 0,0; radius about 0.62): two arcs of a ring,
    gaps at the top-right and bottom-left, an arrowhead at the leading end of each arc."""
    r = math.hypot(x, y)
    angle = math.degrees(math.atan2(-y, x)) % 360  # 0 = east, counter-clockwise, y down
    on_ring = 0.44 <= r <= 0.62
    in_gap = 20 <= angle <= 70 or 200 <= angle <= 250
    if on_ring and not in_gap:
        return True
    for tip_angle in (70.0, 250.0):  # arrowheads at the start of each gap, pointing along the ring
        a = math.radians(tip_angle)
        cx, cy = 0.53 * math.cos(a), -0.53 * math.sin(a)  # centre of the ring where the gap opens
        tx, ty = -math.sin(a), -math.cos(a)  # clockwise tangent, in y-down coordinates
        nx, ny = math.cos(a), -math.sin(a)  # outward normal
        dx, dy = x - cx, y - cy
        along = -(dx * tx + dy * ty)  # 0 at the base, growing towards the tip
        across = dx * nx + dy * ny
        if 0 <= along <= 0.24 and abs(across) <= 0.2 * (1 - along / 0.24):
            return True
    return False


def coverage(x: int, y: int, size: int, samples: int = 4) -> float:
    """Share of pixel (x, y) covered by the sign, by supersampling (smooth edges)."""
    hits = 0
    for i in range(samples):
        for j in range(samples):
            ux = ((x + (i + 0.5) / samples) / size) * 2 - 1
            uy = ((y + (j + 0.5) / samples) / size) * 2 - 1
            hits += _in_sign(ux, uy)
    return hits / (samples * samples)


def color_icon(size: int = 192) -> bytes:
    rows = []
    for y in range(size):
        row: list[Pixel] = []
        for x in range(size):
            c = coverage(x, y, size)
            r, g, b = (round(a + (w - a) * c) for a, w in zip(ACCENT, WHITE, strict=True))
            row.append((r, g, b, 255))
        rows.append(row)
    return png(size, size, rows)


def outline_icon(size: int = 32) -> bytes:
    rows = [[(*WHITE, round(255 * coverage(x, y, size))) for x in range(size)] for y in range(size)]
    return png(size, size, rows)


def main() -> None:
    (HERE / "color.png").write_bytes(color_icon())
    (HERE / "outline.png").write_bytes(outline_icon())
    print(f"wrote {HERE / 'color.png'} and {HERE / 'outline.png'}")


if __name__ == "__main__":
    main()
