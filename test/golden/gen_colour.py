#!/usr/bin/python3
"""Reference grays for src/data/colour.ts from PIL: Image.convert('L') of RGB pixels, the conversion torchvision's
Grayscale applies to PIL images. Writes test/golden/colour.json: a 16x16 RGB image (row-major, interleaved bytes)
and its 'L' bytes. The pixels are the 0/255 corners, the primaries, every pixel whose weighted sum lands within
0.01 of .5 in a coarse sweep (where rounding rules differ), then seeded random ones.

Run with Debian's Pillow (apt-get install python3-pil): /usr/bin/python3 test/golden/gen_colour.py
"""
import json
import os
import random

import PIL
from PIL import Image

SIDE = 16
pixels = [(0, 0, 0), (255, 255, 255), (255, 0, 0), (0, 255, 0), (0, 0, 255), (128, 128, 128)]
near_half = []
for r in range(0, 256, 5):
    for g in range(0, 256, 7):
        for b in range(0, 256, 11):
            frac = (0.299 * r + 0.587 * g + 0.114 * b) % 1
            if abs(frac - 0.5) < 0.01:
                near_half.append((r, g, b))
rng = random.Random(0)
rng.shuffle(near_half)
pixels += near_half[: SIDE * SIDE // 2]
while len(pixels) < SIDE * SIDE:
    pixels.append(tuple(rng.randrange(256) for _ in range(3)))

img = Image.new("RGB", (SIDE, SIDE))
img.putdata(pixels)
gray = list(img.convert("L").getdata())
out = {
    "generator": "test/golden/gen_colour.py",
    "pillow": PIL.__version__,
    "width": SIDE,
    "height": SIDE,
    "rgb": [v for p in pixels for v in p],
    "gray": gray,
}
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "colour.json")
with open(path, "w") as f:
    json.dump(out, f, separators=(",", ":"))
    f.write("\n")
print(f"wrote {path}: {len(gray)} pixels, Pillow {PIL.__version__}")
