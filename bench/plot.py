#!/usr/bin/env python3
"""Plots sidebyside.py --json output as a PNG, with no third-party module.

  plot.py SIDEBYSIDE.json [-o bench/sidebyside.png]

Three panels of ratios Courier / nats-server, one bar per scenario, blue
where issue 4's target is met and orange where not:
  throughput (higher is better; target 1.2 where the server limits the run,
    1.0 elsewhere), server CPU per message (lower is better; target 0.5),
  request/reply p50 and p99 latency (lower is better; target 0.8).
The PNG is written by hand (zlib + a 5x7 bitmap font) so that the script runs
wherever Python does; no matplotlib needed.
"""
import argparse
import json
import struct
import zlib

# 5x7 glyphs, one string of 7 rows per character ('#' = ink).
FONT = {
    "A": " ### #   ##   #######   ##   ##   #", "B": "#### #   ##   ##### #   ##   ##### ",
    "C": " ### #   ##    #    #    #   # ### ", "D": "#### #   ##   ##   ##   ##   ##### ",
    "E": "######    #    #### #    #    #####", "F": "######    #    #### #    #    #    ",
    "G": " ### #   ##    # ####   ##   # ####", "H": "#   ##   ##   #######   ##   ##   #",
    "I": " ###   #    #    #    #    #   ### ", "J": "  ###   #    #    #    # #  #  ##  ",
    "K": "#   ##  # # #  ##   # #  #  # #   #", "L": "#    #    #    #    #    #    #####",
    "M": "#   ### ### # ##   ##   ##   ##   #", "N": "#   ###  ## # ##  ###   ##   ##   #",
    "O": " ### #   ##   ##   ##   ##   # ### ", "P": "#### #   ##   ##### #    #    #    ",
    "Q": " ### #   ##   ##   ## # ##  #  ## #", "R": "#### #   ##   ##### # #  #  # #   #",
    "S": " #####     ###     #    ##   # ### ", "T": "#####  #    #    #    #    #    #  ",
    "U": "#   ##   ##   ##   ##   ##   # ### ", "V": "#   ##   ##   ##   ##   # # #   #  ",
    "W": "#   ##   ##   ## # ## # ## # # # # ", "X": "#   ##   # # #   #   # # #   ##   #",
    "Y": "#   ##   # # #   #    #    #    #  ", "Z": "#####    #   #   #   #   #    #####",
    "0": " ### #   ##  ### # ###  ##   # ### ", "1": "  #   ##    #    #    #    #   ### ",
    "2": " ### #   #    #   #   #   #   #####", "3": "#####   #   #     #     ##   # ### ",
    "4": "   #   ##  # # #  # #####   #    # ", "5": "######    ####     #    ##   # ### ",
    "6": "  ##  #   #    #### #   ##   # ### ", "7": "#####    #   #   #   #    #    #   ",
    "8": " ### #   ##   # ### #   ##   # ### ", "9": " ### #   ##   # ####    #   #  ##  ",
    ".": "                         ##   ##   ", ":": "      ##   ##        ##   ##       ",
    "-": "               #####               ", "/": "    #    #   #   #   #   #    #    ",
    "(": "   #   #   #    #    #     #     # ", ")": " #     #     #    #    #   #   #   ",
    "%": "##   ##  #   #   #   #   #  ##   ##", "=": "          #####     #####          ",
    ">": " #     #     #     #   #   #   #   ", "<": "   #   #   #   #     #     #     # ",
    " ": "                                   ", ",": "                      ##   ##  #   ",
}

WHITE, BLACK, GREY = (255, 255, 255), (0, 0, 0), (150, 150, 150)
BLUE, ORANGE, RED, GREEN = (52, 101, 164), (245, 121, 0), (204, 0, 0), (78, 154, 6)


class Canvas:
    def __init__(self, width, height):
        self.w, self.h = width, height
        self.px = [bytearray(bytes(WHITE) * width) for _ in range(height)]

    def rect(self, x0, y0, x1, y1, color):
        x0, x1 = max(0, min(x0, x1)), min(self.w, max(x0, x1))
        y0, y1 = max(0, min(y0, y1)), min(self.h, max(y0, y1))
        row = bytes(color) * (x1 - x0)
        for y in range(y0, y1):
            self.px[y][3 * x0:3 * x1] = row

    def hline(self, x0, x1, y, color, dashed=False):
        for x in range(x0, x1):
            if not dashed or (x // 6) % 2 == 0:
                self.rect(x, y, x + 1, y + 1, color)

    def text(self, x, y, s, color=BLACK, scale=2):
        for ch in s.upper():
            glyph = FONT.get(ch, FONT[" "])
            for row in range(7):
                for col in range(5):
                    if glyph[row * 5 + col] == "#":
                        self.rect(x + col * scale, y + row * scale, x + (col + 1) * scale, y + (row + 1) * scale, color)
            x += 6 * scale

    @staticmethod
    def text_width(s, scale=2):
        return len(s) * 6 * scale

    def png(self, path):
        raw = b"".join(b"\x00" + bytes(r) for r in self.px)
        def chunk(kind, data):
            return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
        with open(path, "wb") as f:
            f.write(b"\x89PNG\r\n\x1a\n")
            f.write(chunk(b"IHDR", struct.pack(">IIBBBBB", self.w, self.h, 8, 2, 0, 0, 0)))
            f.write(chunk(b"IDAT", zlib.compress(raw, 9)))
            f.write(chunk(b"IEND", b""))


# Throughput targets of issue 4: at least 1.2x where the server is what
# limits the run, never below nats-server elsewhere.
TP_TARGETS = {"pubsub16": 1.2, "fanout16x4": 1.2, "queue16x4": 1.2, "pubsub4k": 1.2}


def panel(c, top, height, title, bars, targets, better):
    """bars: [(label, value, target)]; targets: [(value, label)] lines."""
    left, right = 90, c.w - 20
    vmax = max([v for _, v, _ in bars] + [t for t, _ in targets] + [1.0]) * 1.15
    y_of = lambda v: top + height - int(v / vmax * height)
    c.text(left, top - 26, title)
    c.rect(left, top, left + 2, top + height, BLACK)
    c.rect(left, top + height, right, top + height + 2, BLACK)
    step = 0.5 if vmax <= 3 else 1.0
    v = 0.0
    while v <= vmax:
        y = y_of(v)
        c.hline(left - 6, left, y, BLACK)
        c.text(left - 12 - c.text_width(f"{v:.1f}"), y - 7, f"{v:.1f}")
        v += step
    c.hline(left, right, y_of(1.0), GREY, dashed=True)
    legend_x = left + c.text_width(title) + 30
    for value, label in targets:
        c.hline(left, right, y_of(value), GREEN, dashed=True)
        c.text(legend_x, top - 22, label, GREEN, 1)
        legend_x += c.text_width(label, 1) + 20
    group = (right - left) // len(bars)
    bar = max(8, group // 3)
    for i, (name, value, target) in enumerate(bars):
        x = left + i * group + (group - bar) // 2
        ok = value >= target if better == "higher" else value <= target
        c.rect(x, y_of(value), x + bar, top + height, BLUE if ok else ORANGE)
        label = f"{value:.2f}"
        c.text(x + bar // 2 - c.text_width(label) // 2, y_of(value) - 18, label)
        c.text(x + bar // 2 - c.text_width(name, 1) // 2, top + height + 8, name, BLACK, 1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("json")
    ap.add_argument("-o", "--out", default="bench/sidebyside.png")
    ap.add_argument("--title", default="COURIER / NATS-SERVER 2.9.10, SAME RUN")
    a = ap.parse_args()
    with open(a.json) as f:
        data = json.load(f)
    rows = [r for r in data["rows"] if "scenario" in r]
    c = Canvas(max(900, 110 + 95 * len(rows)), 960)
    c.text(90, 10, a.title, BLACK, 2)
    panel(c, 70, 220, "THROUGHPUT RATIO (HIGHER IS BETTER)",
          [(r["scenario"], r["tp_ratio"], TP_TARGETS.get(r["scenario"], 1.0)) for r in rows],
          [(1.2, "TARGET 1.2 IN PUBSUB16, FANOUT16X4, QUEUE16X4, PUBSUB4K; 1.0 ELSEWHERE")], "higher")
    panel(c, 370, 220, "SERVER CPU PER MESSAGE RATIO (LOWER IS BETTER)",
          [(r["scenario"], r["cpu_ratio"], 0.5) for r in rows], [(0.5, "TARGET 0.5")], "lower")
    latency = []
    for r in rows:
        for q in ("p50", "p99"):
            ref, cand = r.get(f"ref_{q}_us"), r.get(f"cand_{q}_us")
            if ref and cand:
                latency.append((f"{r['scenario']} {q}", cand / ref, 0.8))
    if latency:
        panel(c, 670, 220, "REQUEST/REPLY LATENCY RATIO (LOWER IS BETTER)", latency, [(0.8, "TARGET 0.8")], "lower")
    c.text(90, 940, "RATIO = COURIER / NATS-SERVER. BLUE: MEETS ITS TARGET  ORANGE: DOES NOT  GREY LINE: 1.0", GREY, 1)
    c.png(a.out)
    print(a.out)


if __name__ == "__main__":
    main()
