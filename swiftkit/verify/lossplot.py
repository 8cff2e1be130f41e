"""The loss curve as a PNG, drawn in pure Python (zlib only): the parent process stays light
and swiftkit needs no plotting library."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

WHITE, GREY, BLUE, BLACK = (255, 255, 255), (210, 210, 210), (31, 119, 180), (60, 60, 60)


def _png(width: int, height: int, rows: list[bytearray]) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    raw = b"".join(b"\x00" + bytes(r) for r in rows)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def draw(
    points: list[tuple[float, float]], path: Path, width: int = 640, height: int = 320
) -> Path:
    """Plot (step, loss) as a line inside a framed area with 4 horizontal grid lines.

    The axis ranges are written in report.md next to the image (the PNG carries no text)."""
    rows = [bytearray(WHITE * width) for _ in range(height)]
    left, right, top, bottom = 40, width - 20, 20, height - 30

    def put(x: int, y: int, colour: tuple[int, int, int]) -> None:
        if 0 <= x < width and 0 <= y < height:
            rows[y][3 * x : 3 * x + 3] = bytes(colour)

    for k in range(5):
        y = top + (bottom - top) * k // 4
        for x in range(left, right + 1):
            put(x, y, GREY)
    for y in range(top, bottom + 1):
        put(left, y, BLACK)
        put(right, y, GREY)
    for x in range(left, right + 1):
        put(x, bottom, BLACK)
    if points:
        xs = [p[0] for p in points]
        ys = [p[1] for p in points]
        x0, x1 = min(xs), max(xs)
        y0, y1 = min(0.0, min(ys)), max(ys)
        sx = (right - left) / ((x1 - x0) or 1)
        sy = (bottom - top) / ((y1 - y0) or 1)
        pix = [(left + round((x - x0) * sx), bottom - round((y - y0) * sy)) for x, y in points]
        if len(pix) == 1:
            pix = pix * 2
        for (ax, ay), (bx, by) in zip(pix, pix[1:], strict=False):
            n = max(abs(bx - ax), abs(by - ay), 1)
            for i in range(n + 1):
                x = ax + (bx - ax) * i // n
                y = ay + (by - ay) * i // n
                for dx, dy in ((0, 0), (1, 0), (0, 1), (1, 1)):
                    put(x + dx, y + dy, BLUE)
    path.write_bytes(_png(width, height, rows))
    return path
