"""The report in a real browser: headless Chromium renders it, and the page asks the network for nothing.

Skipped only when no Chromium is installed and CHS_REQUIRE_BROWSER is unset (CI sets it).
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parent))
from test_report import chs, project  # noqa: F401 - the scored fixture project

CANDIDATES = ["/usr/bin/chromium", "chromium", "chromium-browser", "google-chrome"]


def chromium() -> str:
    for name in [os.environ.get("CHS_CHROMIUM", ""), *CANDIDATES]:
        found = name and shutil.which(name)
        if found:
            return found
    if os.environ.get("CHS_REQUIRE_BROWSER"):
        pytest.fail("CHS_REQUIRE_BROWSER is set but no Chromium was found (/usr/bin/chromium)")
    pytest.skip("Chromium is not installed (apt-get install chromium); "
                "set CHS_REQUIRE_BROWSER to make this fail")


def run_browser(page: Path, work: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    profile = work / "profile"
    profile.mkdir(exist_ok=True)
    cmd = [chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync",
           f"--user-data-dir={profile}", "--host-resolver-rules=MAP * ~NOTFOUND", *extra, page.as_uri()]
    return subprocess.run(cmd, check=False, capture_output=True, text=True, timeout=120)


def page_requests(net_log: Path) -> list[str]:
    """URLs the page itself requested. The browser's own background requests (initiator
    'not an origin', e.g. its clock sync) are not the page's doing and are ignored."""
    log = json.loads(net_log.read_text())
    start = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
    urls = []
    for event in log["events"]:
        params = event.get("params") or {}
        if event["type"] == start and "url" in params and params.get("initiator") != "not an origin":
            urls.append(params["url"])
    return urls


def decode_png(path: Path) -> np.ndarray:
    """8-bit RGB/RGBA PNG -> array (height, width, channels), without an imaging library."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos:pos + 4]), data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0, header
    bpp = 3 if colour == 2 else 4
    stride = width * bpp
    raw = np.frombuffer(zlib.decompress(idat), dtype=np.uint8).reshape(height, stride + 1)
    out = np.zeros((height, stride), dtype=np.uint8)
    prev = np.zeros(stride, dtype=np.uint8)
    for y in range(height):
        kind, line = raw[y, 0], raw[y, 1:].astype(np.int32)
        if kind == 0:
            row = line
        elif kind == 1:  # Sub: running sum per channel
            row = np.cumsum(line.reshape(-1, bpp), axis=0).reshape(-1)
        elif kind == 2:  # Up
            row = line + prev
        else:  # Average or Paeth: sequential within the row
            row, up = line.copy(), prev.astype(np.int32)
            for x in range(stride):
                a = row[x - bpp] if x >= bpp else 0
                b, c = up[x], (up[x - bpp] if x >= bpp else 0)
                if kind == 3:
                    row[x] = (row[x] + (a + b) // 2) & 255
                else:
                    p = a + b - c
                    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                    row[x] = (row[x] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        out[y] = prev = (row & 255).astype(np.uint8)
    return out.reshape(height, width, bpp)[:, :, :3]


def has_colour(pixels: np.ndarray, hex_colour: str, tolerance: int = 12) -> bool:
    target = np.array([int(hex_colour[i:i + 2], 16) for i in (1, 3, 5)])
    return bool((np.abs(pixels.astype(np.int32) - target).max(axis=2) <= tolerance).any())


def test_report_renders_in_chromium_without_network(project: Path, tmp_path: Path) -> None:  # noqa: F811
    page = tmp_path / "report.html"
    done = chs(project, "report", "-o", str(page))
    assert done.returncode == 0, done.stderr
    shot, net_log = tmp_path / "report.png", tmp_path / "net.json"
    run_browser(page, tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", f"--log-net-log={net_log}")
    assert shot.exists(), "Chromium wrote no screenshot"
    pixels = decode_png(shot)
    assert pixels.shape[:2] == (2000, 1280)
    not_white = (pixels < 245).any(axis=2).mean()
    assert not_white > 0.02, f"screenshot looks blank ({not_white:.2%} non-white pixels)"
    for colour in ("#009E73", "#E69F00", "#D55E00"):  # Okabe-Ito band chips and charts drew
        assert has_colour(pixels, colour), colour
    assert page_requests(net_log) == []
    dom = run_browser(page, tmp_path, "--dump-dom")
    assert "report-test: customer health review" in dom.stdout
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom.stdout


def test_network_check_catches_a_page_that_fetches(tmp_path: Path) -> None:
    """The detector itself: a page with an external image and stylesheet must be caught."""
    page = tmp_path / "fetching.html"
    page.write_text('<html><body><img src="http://127.0.0.1:9/x.png">'
                    '<link rel="stylesheet" href="https://example.invalid/a.css">hi</body></html>')
    net_log = tmp_path / "net.json"
    run_browser(page, tmp_path, f"--screenshot={tmp_path / 'x.png'}", "--window-size=400,300",
                f"--log-net-log={net_log}")
    assert sorted(page_requests(net_log)) == ["http://127.0.0.1:9/x.png", "https://example.invalid/a.css"]
