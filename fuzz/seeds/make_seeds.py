#!/usr/bin/env python3
"""Writes the checked-in seed corpora under fuzz/corpus/<target>/.

Real images of every variant the reference-image path must handle (each JPEG subsampling,
progressive, restart intervals, non-interleaved scans, arithmetic coding, CMYK, all 8 EXIF
orientations, 8/16-bit and interlaced PNG of every colour type, lossy/lossless/animated WebP,
VP8X with EXIF), kept small (tens of pixels, a few KB) so the stable replay test stays fast;
wide strips (3200x16) reach the reduced-size JPEG decoder with the default limits. Plus valid
examples for the JSON, API-key, signed-URL and SQS targets, whose constants match
fuzz/src/service.rs.

Run from the repository root (needs Pillow, and cjpeg from libjpeg-turbo for the variants
Pillow cannot write):

    python3 -m venv /tmp/pil && /tmp/pil/bin/pip install pillow
    apt-get install -y libjpeg-turbo-progs
    /tmp/pil/bin/python fuzz/seeds/make_seeds.py

Output is deterministic for a given Pillow/libjpeg-turbo; re-running rewrites the seeds.
"""

import base64
import hashlib
import hmac
import io
import json
import os
import shutil
import struct
import subprocess
import tempfile
import zlib

from PIL import Image, ImageDraw

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "corpus")
IMAGE_TARGETS = ("prepare_reference", "prepare_reference_small", "image_header")
# prepare_reference_small reads longest_side - 1 from its first byte: for the 48x32 images
# these sides make the JPEG decoder reduce by 8, 4 and 2.
SMALL_SIDES = (3, 8, 16)

images = {}


def picture(w, h, mode="RGB"):
    """A gradient with a few shapes: real structure, yet it compresses to little."""
    img = Image.new("RGB", (w, h))
    # Texture for small images; large ones stay smooth to stay a few KB.
    blue = (lambda x, y: (x * y) % 256) if w * h <= 10_000 else (lambda x, y: (x // 50 * 40) % 256)
    px = img.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = (x * 255 // max(w - 1, 1), y * 255 // max(h - 1, 1), blue(x, y))
    if w < 4 or h < 4:
        return img.convert(mode) if mode != "RGB" else img
    d = ImageDraw.Draw(img)
    d.ellipse((w // 5, h // 5, w * 3 // 5, h * 4 // 5), fill=(250, 40, 20))
    d.rectangle((w * 2 // 3, h // 8, w - 2, h // 2), fill=(20, 60, 220))
    return img.convert(mode) if mode != "RGB" else img


def add(name, data):
    assert len(data) < 20_000, (name, len(data))
    images[name] = data


def save(img, fmt, **kw):
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def exif(orientation):
    e = Image.Exif()
    e[0x0112] = orientation
    return e.tobytes()


def cjpeg(img, *args, scans=None):
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, "in.ppm" if img.mode == "RGB" else "in.pgm")
        img.save(src)
        cmd = ["cjpeg", "-quality", "80", *args]
        if scans:
            script = os.path.join(tmp, "scans.txt")
            with open(script, "w") as f:
                f.write(scans)
            cmd += ["-scans", script]
        return subprocess.run(cmd + [src], check=True, capture_output=True).stdout


def chunk(kind, body):
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png(width, height, color_type, depth, rows, interlace=False, palette=None, trns=None):
    """A PNG written by hand: Pillow cannot write Adam7 or 16-bit colour."""
    channels = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}[color_type]
    bpp = channels * depth // 8 or 1

    def pack(row):  # row: samples
        if depth >= 8:
            return b"".join(s.to_bytes(depth // 8, "big") for s in row)
        out, acc, n = bytearray(), 0, 0
        for s in row:
            acc = (acc << depth) | s
            n += depth
            if n == 8:
                out.append(acc)
                acc, n = 0, 0
        if n:
            out.append(acc << (8 - n))
        return bytes(out)

    def filtered(lines, w):
        raw = bytearray()
        for i, line in enumerate(lines):
            # Alternate filters (none, sub, up) so the decoder's unfiltering is exercised.
            f = i % 3
            data = pack(line)
            prev = pack(lines[i - 1]) if i else bytes(len(data))
            if f == 1:
                data = bytes((data[j] - (data[j - bpp] if j >= bpp else 0)) % 256 for j in range(len(data)))
            elif f == 2:
                data = bytes((data[j] - prev[j]) % 256 for j in range(len(data)))
            raw += bytes([f]) + data
        return bytes(raw)

    if interlace:
        passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
        raw = b""
        for x0, y0, dx, dy in passes:
            lines = [
                [s for x in range(x0, width, dx) for s in rows[y][x]]
                for y in range(y0, height, dy)
            ]
            if lines and lines[0]:
                raw += filtered(lines, len(lines[0]) // channels)
    else:
        raw = filtered([[s for px in r for s in px] for r in rows], width)
    ihdr = struct.pack(">IIBBBBB", width, height, depth, color_type, 0, 0, 1 if interlace else 0)
    body = chunk(b"IHDR", ihdr)
    if palette:
        body += chunk(b"PLTE", bytes(c for rgb in palette for c in rgb))
    if trns is not None:
        body += chunk(b"tRNS", trns)
    body += chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")
    return b"\x89PNG\r\n\x1a\n" + body


def png_samples(w, h, color_type, depth):
    top = (1 << depth) - 1
    rows = []
    for y in range(h):
        row = []
        for x in range(w):
            v = (x * top // max(w - 1, 1))
            u = (y * top // max(h - 1, 1))
            row.append({
                0: (v,),
                2: (v, u, top - v),
                3: ((x // 3 + y // 3) % (1 << depth),),
                4: (v, top if x % 7 else u),
                6: (v, u, top - u, top if (x + y) % 5 else v),
            }[color_type])
        rows.append(row)
    return rows


def jpeg12(width, height):
    """A 12-bit greyscale JPEG (SOF1), written by hand: libjpeg-turbo 2.x and Pillow write only
    8-bit. Every 8x8 block is flat (DC only), which keeps the encoder a few lines."""
    def segment(marker, body):
        return bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body

    dqt = segment(0xDB, bytes([0x00]) + bytes([8] * 64))  # 8-bit table 0, all 8
    sof = segment(0xC1, struct.pack(">BHHB", 12, height, width, 1) + bytes([1, 0x11, 0]))
    # DC: categories 0..14 as 4-bit codes, 15 as 11110 (no all-ones code). AC: EOB alone, "0".
    dc_bits = [0, 0, 0, 15, 1] + [0] * 11
    dht = segment(0xC4, bytes([0x00]) + bytes(dc_bits) + bytes(range(16))
                  + bytes([0x10]) + bytes([1] + [0] * 15) + bytes([0x00]))
    sos = segment(0xDA, bytes([1, 1, 0x00, 0, 63, 0]))
    bits = []

    def put(value, n):
        bits.extend((value >> (n - 1 - i)) & 1 for i in range(n))

    pred = 0
    for by in range(0, height, 8):
        for bx in range(0, width, 8):
            level = (bx * 4095 // max(width - 8, 1) + by * 1000 // max(height, 1)) % 4096
            dc = level - 2048  # 8 * mean / Q with Q = 8
            diff, pred = dc - pred, dc
            cat = abs(diff).bit_length()
            put(cat, 4) if cat < 15 else put(0b11110, 5)
            if cat:
                put(diff if diff > 0 else diff + (1 << cat) - 1, cat)
            put(0, 1)  # EOB
    bits.extend([1] * (-len(bits) % 8))
    data = bytearray()
    for i in range(0, len(bits), 8):
        byte = int("".join(map(str, bits[i:i + 8])), 2)
        data += bytes([byte, 0]) if byte == 0xFF else bytes([byte])
    return b"\xff\xd8" + dqt + sof + dht + sos + bytes(data) + b"\xff\xd9"


def jpegs():
    small = picture(48, 32)
    for name, sub in (("444", "4:4:4"), ("422", "4:2:2"), ("420", "4:2:0")):
        add(f"jpeg_{name}.jpg", save(small, "JPEG", quality=80, subsampling=sub))
        add(f"jpeg_{name}_odd_37x23.jpg", save(picture(37, 23), "JPEG", quality=80, subsampling=sub))
    add("jpeg_411.jpg", cjpeg(small, "-sample", "4x1"))
    add("jpeg_440.jpg", cjpeg(small, "-sample", "1x2"))
    add("jpeg_grey.jpg", save(small.convert("L"), "JPEG", quality=80))
    add("jpeg_progressive.jpg", save(small, "JPEG", quality=80, progressive=True))
    add("jpeg_progressive_grey.jpg", cjpeg(small.convert("L"), "-progressive"))
    add("jpeg_restart_every_row.jpg", cjpeg(small, "-restart", "1"))
    add("jpeg_restart_every_block.jpg", cjpeg(small, "-sample", "1x1", "-restart", "1B"))
    # Sequential (not progressive), one component per scan.
    add("jpeg_non_interleaved.jpg", cjpeg(small, scans="0;\n1;\n2;\n"))
    add("jpeg_arithmetic.jpg", cjpeg(small, "-arithmetic"))
    add("jpeg_optimized_huffman.jpg", cjpeg(small, "-optimize"))
    add("jpeg_cmyk.jpg", save(small.convert("CMYK"), "JPEG", quality=80))
    add("jpeg_12bit_grey.jpg", jpeg12(48, 32))
    add("jpeg_1x1.jpg", save(picture(1, 1), "JPEG", quality=80))
    for o in range(1, 9):
        add(f"jpeg_exif_orientation_{o}.jpg", save(picture(40, 24), "JPEG", quality=80, exif=exif(o)))
    # Wide strips: over twice the default longest side (1536), so prepare_reference with the
    # production limits takes the reduced-size decoder (1/2 and 1/4) on a few KB.
    wide = picture(3200, 16)
    add("jpeg_wide_420.jpg", save(wide, "JPEG", quality=60, subsampling="4:2:0"))
    add("jpeg_wide_444_exif6.jpg", save(wide, "JPEG", quality=60, subsampling="4:4:4", exif=exif(6)))
    add("jpeg_wide_422.jpg", save(wide, "JPEG", quality=60, subsampling="4:2:2"))
    add("jpeg_wide_grey.jpg", save(wide.convert("L"), "JPEG", quality=60))
    add("jpeg_wide_411_restart.jpg", cjpeg(wide, "-sample", "4x1", "-restart", "2"))
    add("jpeg_tall_420_exif8.jpg", save(picture(16, 6400), "JPEG", quality=60, exif=exif(8)))
    add("jpeg_wide_progressive.jpg", save(wide, "JPEG", quality=60, progressive=True))


def pngs():
    for ct, name in ((0, "grey"), (2, "rgb"), (4, "grey_alpha"), (6, "rgba")):
        for depth in (8, 16):
            for interlace in (False, True):
                rows = png_samples(23, 17, ct, depth)
                tag = "_interlaced" if interlace else ""
                add(f"png_{name}_{depth}bit{tag}.png", png(23, 17, ct, depth, rows, interlace))
    for depth in (1, 2, 4):
        add(f"png_grey_{depth}bit.png", png(19, 11, 0, depth, png_samples(19, 11, 0, depth)))
    palette = [(i * 37 % 256, i * 91 % 256, i * 13 % 256) for i in range(16)]
    for depth in (4, 8):
        rows = png_samples(21, 13, 3, 4)
        add(f"png_palette_{depth}bit.png", png(21, 13, 3, depth, rows, palette=palette))
    rows = png_samples(21, 13, 3, 4)
    add("png_palette_trns_interlaced.png",
        png(21, 13, 3, 8, rows, interlace=True, palette=palette, trns=bytes([0, 128, 255])))
    add("png_rgb_trns.png", png(9, 9, 2, 8, png_samples(9, 9, 2, 8), trns=struct.pack(">HHH", 0, 0, 255)))
    add("png_rgba_opaque.png", save(picture(30, 20).convert("RGBA"), "PNG"))
    add("png_pillow_palette.png", save(picture(30, 20).convert("P"), "PNG"))
    add("png_exif_orientation_6.png", save(picture(30, 20), "PNG", exif=exif(6)))
    add("png_wide_rgb.png", save(picture(3200, 4), "PNG"))


def webps():
    small = picture(40, 28)
    add("webp_lossy.webp", save(small, "WEBP", quality=70))
    add("webp_lossless.webp", save(small, "WEBP", lossless=True))
    rgba = small.convert("RGBA")
    rgba.putalpha(Image.linear_gradient("L").resize(small.size))
    add("webp_lossy_alpha.webp", save(rgba, "WEBP", quality=70))
    add("webp_lossless_alpha.webp", save(rgba, "WEBP", lossless=True))
    add("webp_vp8x_exif_orientation_6.webp", save(small, "WEBP", quality=70, exif=exif(6)))
    add("webp_vp8x_exif_orientation_3_lossless.webp", save(small, "WEBP", lossless=True, exif=exif(3)))
    frames = [picture(24, 16).rotate(i * 90) for i in range(3)]
    add("webp_animated.webp", save(frames[0], "WEBP", save_all=True, append_images=frames[1:],
                                   duration=100, loop=0, quality=60))
    add("webp_animated_lossless.webp", save(frames[0], "WEBP", save_all=True, append_images=frames[1:],
                                            duration=100, lossless=True))
    add("webp_wide.webp", save(picture(3200, 8), "WEBP", quality=50))


def write_images():
    for target in IMAGE_TARGETS:
        d = os.path.join(ROOT, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
    for name, data in sorted(images.items()):
        for target in ("prepare_reference", "image_header"):
            with open(os.path.join(ROOT, target, name), "wb") as f:
                f.write(data)
        # Every small image at every small side: the reduced-size JPEG paths at each factor.
        for side in SMALL_SIDES if len(data) < 8_000 else ():
            with open(os.path.join(ROOT, "prepare_reference_small", f"side{side}_{name}"), "wb") as f:
                f.write(bytes([side - 1]) + data)


# Must match fuzz/src/service.rs.
ADMIN_KEY = "igadmin_FuzzAdminKey0123456789abcdefghijklmnopqrstuv"
KEY_ID = "0123456789ab"
KEY_SECRET = "FuzzSecret0123456789abcdefghijklmnopqrst"
SIGNER_KEY = bytes([7]) * 32
BLOB_KEY = "generated/acme/job_0123456789abcdef0123456789abcdef/1.png"
NOW = 1795687200  # 2026-11-26T10:00:00Z, the harness clock
EXPIRES = NOW + 900


def text(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data.encode() if isinstance(data, str) else data)


def service():
    for t in ("api_json", "api_key", "signed_url", "sqs_message"):
        shutil.rmtree(os.path.join(ROOT, t), ignore_errors=True)
    tiny_png = base64_of(images["png_rgba_8bit.png"])
    tiny_jpeg = base64_of(images["jpeg_420.jpg"])
    # api_json: the first byte picks the route (fuzz/src/service.rs `api_json`), the rest is
    # the body (or the query string of GET /v1/jobs).
    bodies = {
        "images_minimal": ("i", {"prompt": "a red fox in the snow"}),
        "images_full": ("i", {"prompt": "a lighthouse at dusk, oil painting", "aspect_ratio": "16:9",
                              "count": 4, "reference_upload_ids": ["upl_0123456789abcdef0123456789abcdef"]}),
        "images_inline_refs": ("i", {"prompt": "like these", "reference_images": [
            {"data": tiny_png, "mime_type": "image/png"}, {"data": tiny_jpeg, "mime_type": "image/jpeg"}]}),
        "images_invalid": ("i", {"prompt": "", "aspect_ratio": "7:3", "count": 9,
                                 "reference_images": [{"data": "!!", "mime_type": "image/png"}]}),
        "uploads": ("u", {"content_type": "image/jpeg", "content_length": 123456}),
        "uploads_bad": ("u", {"content_type": "image/gif", "content_length": 0}),
        "keys_minimal": ("k", {"tenant": "acme", "scopes": ["images:write"]}),
        "keys_full": ("k", {"tenant": "acme-2_b", "scopes": ["images:write", "jobs:read", "usage:read", "admin"],
                            "rate_per_minute": 60, "burst": 10, "daily_quota": 100, "monthly_quota": 1000,
                            "expires_at": "2027-01-31T00:00:00Z"}),
        "keys_invalid": ("k", {"tenant": "Acme Corp", "scopes": [], "burst": 0,
                               "expires_at": "2020-01-01T00:00:00+02:00"}),
    }
    for name, (route, body) in bodies.items():
        text("api_json", name, route + json.dumps(body))
    text("api_json", "images_malformed", 'i{"prompt": "x",')
    text("api_json", "images_unknown_field", 'i{"prompt": "x", "seed": 3}')
    text("api_json", "jobs_query", "jlimit=5")
    cursor = base64.urlsafe_b64encode(b"00001795687200000000#job_0123456789abcdef0123456789abcdef")
    text("api_json", "jobs_cursor", "jlimit=100&cursor=" + cursor.decode().rstrip("="))

    text("api_key", "valid", f"igk_{KEY_ID}_{KEY_SECRET}")
    text("api_key", "admin", ADMIN_KEY)
    text("api_key", "wrong_secret", f"igk_{KEY_ID}_{KEY_SECRET[:-1]}X")
    text("api_key", "unknown_id", f"igk_ba9876543210_{KEY_SECRET}")
    text("api_key", "short_secret", f"igk_{KEY_ID}_abc")
    text("api_key", "bearer", "Bearer abc")

    def sign(method, key, expires, ct="", length=""):
        msg = f"{method}\n{key}\n{expires}\n{ct}\n{length}".encode()
        return hmac.new(SIGNER_KEY, msg, hashlib.sha256).hexdigest()

    # signed_url: the first byte picks the method (G: GET, P: PUT), the rest is the path and
    # query after /blobs/.
    sig = sign("GET", BLOB_KEY, EXPIRES)
    text("signed_url", "get_valid", f"G{BLOB_KEY}?method=GET&expires={EXPIRES}&sig={sig}")
    text("signed_url", "get_expired", f"G{BLOB_KEY}?method=GET&expires={NOW}&sig={sign('GET', BLOB_KEY, NOW)}")
    text("signed_url", "get_tampered", f"G{BLOB_KEY}?method=GET&expires={EXPIRES + 1}&sig={sig}")
    up = "uploads/acme/upl_0123456789abcdef0123456789abcdef"
    psig = sign("PUT", up, EXPIRES, "image/png", "4")
    text("signed_url", "put_valid", f"P{up}?method=PUT&expires={EXPIRES}&content_type=image/png&content_length=4&sig={psig}")
    text("signed_url", "put_unsigned", f"P{up}")

    text("sqs_message", "valid", json.dumps({"job_id": "job_0123456789abcdef0123456789abcdef"}))
    text("sqs_message", "unknown_field", json.dumps({"job_id": "job_0123456789abcdef0123456789abcdef", "x": 1}))
    text("sqs_message", "bad_id", json.dumps({"job_id": "j1"}))
    event = {"Records": [{"messageId": "m1", "receiptHandle": "r", "body": json.dumps({"job_id": "job_0123456789abcdef0123456789abcdef"}),
                          "attributes": {"ApproximateReceiveCount": "2"}, "messageAttributes": {},
                          "md5OfBody": "", "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:eu-west-1:1:q",
                          "awsRegion": "eu-west-1"},
                         {"messageId": "m2", "body": "not json"}]}
    text("sqs_message", "event_batch", json.dumps(event))


def base64_of(data):
    return base64.b64encode(data).decode()


if __name__ == "__main__":
    jpegs()
    pngs()
    webps()
    write_images()
    service()
    total = sum(len(v) for v in images.values())
    print(f"{len(images)} images, {total} bytes; corpora in {os.path.normpath(ROOT)}")
