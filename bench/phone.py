"""Benchmark of the technician's phone app on a slow network, and the photo size after resizing.

    python -m bench.phone --runs 7 [--throttle proxy|cdp] [--down-kbps 750 --up-kbps 250 --rtt-ms 100]

`shell`: headless Chromium (a phone-sized context) logs in as a technician, opens /tech once
(the service worker installs and caches the shell), then reloads /tech `--runs` times; each
time is navigation start → `performance.mark("tech-ready")` (tech.js sets it once today's
orders are drawn). The network is throttled to the "3G" profile of WebPageTest by default:
750 kbit/s down, 250 kbit/s up, 100 ms round trip.

Throttling, two ways (`--throttle`):
- `proxy` (default): Chromium reaches the app through a throttling TCP proxy in this script
  (one shared link per direction: bandwidth paced per byte, half the round trip added each way).
  Every request pays, including the service worker's own fetches.
- `cdp`: DevTools' Network.emulateNetworkConditions on the page. In our runs requests then
  finished faster than one emulated round trip: the service worker (a separate DevTools target,
  through which the network-first shell is fetched) is not throttled. Kept for comparison only.

`photo`: a 12-megapixel JPEG with EXIF (Pillow, 4000×3000, camera-like noise) is put into the
app's camera input while an order is on site; the upload request is captured and the stored
photo's size and dimensions are read back. Two files: one above tech.js's 4 MiB resize
threshold and one below it.

A script that prints figures (docs/benchmarks.md), not a test.
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import statistics
import threading
import time

from bench.board import DEFAULT_REDIS, DEFAULT_URL, Server, chromium, load1, login, seed
from core.db import normalise_url

# --- a throttling proxy ---------------------------------------------------------------------------


class Link:
    """One direction of a shared slow link: bytes leave no faster than `bps`, each after `delay_s`."""

    def __init__(self, bps: float, delay_s: float):
        self.bytes_per_s = bps / 8
        self.delay_s = delay_s
        self.free_at = 0.0
        self.bytes = 0

    def departure(self, size: int, now: float) -> float:
        self.bytes += size
        start = max(now, self.free_at)
        self.free_at = start + size / self.bytes_per_s
        return self.free_at + self.delay_s


class ThrottlingProxy:
    """127.0.0.1:port → target, through a slow link (runs its own event loop in a thread)."""

    MSS = 1460

    def __init__(self, target_port: int, down_kbps: float, up_kbps: float, rtt_ms: float):
        self.target_port = target_port
        self.down = Link(down_kbps * 1000, rtt_ms / 2000)
        self.up = Link(up_kbps * 1000, rtt_ms / 2000)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()
        self.ready.wait(10)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.server = self.loop.run_until_complete(asyncio.start_server(self._client, "127.0.0.1", 0))
        self.port = self.server.sockets[0].getsockname()[1]
        self.ready.set()
        self.loop.run_forever()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        # The TCP handshake to the far end costs a round trip too.
        await asyncio.sleep(2 * self.up.delay_s)
        up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        await asyncio.gather(self._pipe(reader, up_writer, self.up), self._pipe(up_reader, writer, self.down))

    async def _pipe(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, link: Link) -> None:
        queue: asyncio.Queue = asyncio.Queue()

        async def send() -> None:
            while True:
                due, chunk = await queue.get()
                if chunk is None:
                    break
                await asyncio.sleep(max(0.0, due - self.loop.time()))
                writer.write(chunk)
                await writer.drain()
            writer.close()

        sender = asyncio.ensure_future(send())
        try:
            while True:
                data = await reader.read(64 * 1024)
                if not data:
                    break
                for i in range(0, len(data), self.MSS):
                    chunk = data[i : i + self.MSS]
                    queue.put_nowait((link.departure(len(chunk), self.loop.time()), chunk))
        except (ConnectionError, OSError):
            pass
        queue.put_nowait((0.0, None))
        try:
            await sender
        except (ConnectionError, OSError):
            pass

    def stop(self) -> None:
        async def shutdown() -> None:
            self.server.close()
            tasks = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


# --- the shell ------------------------------------------------------------------------------------

READY_JS = "() => performance.getEntriesByName('tech-ready').length > 0"
TIMES_JS = """() => {
  const nav = performance.getEntriesByType('navigation')[0];
  const res = performance.getEntriesByType('resource');
  const shell = performance.getEntriesByName('tech-shell')[0];
  return {ready: performance.getEntriesByName('tech-ready')[0].startTime, dcl: nav.domContentLoadedEventEnd,
          shell: shell ? shell.startTime : null,
          controlled: !!navigator.serviceWorker.controller, doc_bytes: nav.transferSize,
          timeline: [nav, ...res].map(e => [e.name.replace(location.origin, ''), Math.round(e.startTime),
                                             Math.round(e.responseEnd), e.workerStart > 0])};
}"""


def phone_context(browser):
    return browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True, locale="zh-CN",
        geolocation={"latitude": 34.22, "longitude": 108.95, "accuracy": 10}, permissions=["geolocation"],
    )  # fmt: skip


def throttle_cdp(page, args: argparse.Namespace) -> None:
    cdp = page.context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send(
        "Network.emulateNetworkConditions",
        {"offline": False, "latency": args.rtt_ms, "downloadThroughput": args.down_kbps * 1000 / 8,
         "uploadThroughput": args.up_kbps * 1000 / 8},
    )  # fmt: skip


def measure_shell(
    browser, base_url: str, args: argparse.Namespace, proxy: ThrottlingProxy | None
) -> tuple[dict, list[dict]]:
    def counted(fn) -> dict:
        before = (proxy.down.bytes, proxy.up.bytes) if proxy else (0, 0)
        fn()
        page.wait_for_function(READY_JS, timeout=120_000)
        result = page.evaluate(TIMES_JS)
        if proxy:  # bytes up to "usable" (the socket and late requests may add more)
            result["down"], result["up"] = proxy.down.bytes - before[0], proxy.up.bytes - before[1]
        return result

    context = phone_context(browser)
    page = context.new_page()
    if args.throttle == "cdp":
        throttle_cdp(page, args)
    # The first visit: logging in lands on /tech with a cold cache and no service worker yet.
    first = counted(lambda: login(page, base_url, "tech001"))
    if not page.url.rstrip("/").endswith("/tech"):
        first = counted(lambda: page.goto(base_url + "/tech", wait_until="commit"))
    page.evaluate("() => navigator.serviceWorker.ready")
    time.sleep(2.0)  # let the worker finish caching the shell, and the socket settle
    runs = [counted(lambda: page.reload(wait_until="commit")) for _ in range(args.runs)]
    context.close()
    return first, runs


# --- the photo ------------------------------------------------------------------------------------


def camera_jpeg(quality: int, seed: int = 3) -> bytes:
    """A 4000×3000 JPEG that compresses like a photo (gradients + sensor noise), with EXIF."""
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:3000, 0:4000].astype(np.float32)
    base = np.stack([120 + 80 * np.sin(x / 300), 110 + 70 * np.cos(y / 250), 100 + 60 * np.sin((x + y) / 500)], -1)
    noise = rng.normal(0, 18, (3000, 4000, 3)).astype(np.float32)
    img = Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8))
    exif = Image.Exif()
    exif[0x010F] = "BenchCam"  # Make
    exif[0x0110] = "Model 12MP"  # Model
    exif[0x0132] = time.strftime("%Y:%m:%d %H:%M:%S")  # DateTime
    out = io.BytesIO()
    img.save(out, "JPEG", quality=quality, exif=exif.tobytes())
    return out.getvalue()


def measure_photo(browser, base_url: str, info: dict, files: list[tuple[str, bytes]], tmpdir: str) -> list[dict]:
    import json
    import urllib.request

    token = info["tech_tokens"][0]
    order_id = info["tech_orders"][1][0]

    def act(action: str, version: int) -> int:
        body = json.dumps({"action": action, "version": version, "lat": 34.22, "lon": 108.95, "accuracy_m": 10})
        req = urllib.request.Request(
            f"{base_url}/api/tech/orders/{order_id}/actions", data=body.encode(), method="POST",
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )  # fmt: skip
        with urllib.request.urlopen(req) as r:
            return json.loads(r.read())["version"]

    version = 1
    for action in ("accept", "depart", "arrive"):
        version = act(action, version)
    context = phone_context(browser)
    page = context.new_page()
    login(page, base_url, "tech001")
    results = []
    for name, data in files:
        path = os.path.join(tmpdir, name)
        with open(path, "wb") as f:
            f.write(data)
        page.goto("about:blank")
        page.goto(f"{base_url}/tech#order-{order_id}")
        page.wait_for_function(READY_JS, timeout=60_000)
        with page.expect_response(lambda r: "/photos" in r.url and r.request.method == "POST", timeout=120_000) as resp:
            page.set_input_files("#photo-camera", path)
        response = resp.value
        sent = int(response.request.all_headers().get("content-length") or 0)
        stored = response.json()
        results.append({"name": name, "original": len(data), "sent": sent, "status": response.status, **stored})
    context.close()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default=DEFAULT_URL, help="PostgreSQL database (emptied and reseeded)")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--throttle", choices=("proxy", "cdp"), default="proxy")
    parser.add_argument("--down-kbps", type=float, default=750)
    parser.add_argument("--up-kbps", type=float, default=250)
    parser.add_argument("--rtt-ms", type=float, default=100)
    parser.add_argument("--skip-photo", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print the last reload's resource timeline")
    args = parser.parse_args()
    from tempfile import TemporaryDirectory

    from playwright.sync_api import sync_playwright

    url = normalise_url(args.url)
    info = seed(url, orders=50, technicians=10, tech_users=1, assigned_per_tech=8)
    with Server("single", url, DEFAULT_REDIS) as server, sync_playwright() as pw, TemporaryDirectory() as tmp:
        browser = chromium(pw)
        proxy = None
        base = server.base_url
        if args.throttle == "proxy":
            proxy = ThrottlingProxy(server.port, args.down_kbps, args.up_kbps, args.rtt_ms)
            base = f"http://127.0.0.1:{proxy.port}"
        first, runs = measure_shell(browser, base, args, proxy)
        if proxy:
            proxy.stop()
        photos = []
        if not args.skip_photo:
            files = [("q95.jpg", camera_jpeg(95)), ("q85.jpg", camera_jpeg(85)), ("q75.jpg", camera_jpeg(75))]
            photos = measure_photo(browser, server.base_url, info, files, tmp)
        browser.close()
    ready = [r["ready"] for r in runs]
    shell = [r["shell"] for r in runs if r.get("shell") is not None]
    print(
        f"# phone app shell on {args.down_kbps:.0f}/{args.up_kbps:.0f} kbit/s, {args.rtt_ms:.0f} ms RTT "
        f"(throttle: {args.throttle}), load1 {load1()}"
    )
    print(f"first visit (login → /tech, cold cache): usable {first['ready']:.0f} ms after the login POST starts, "
          f"{first.get('down', 0) / 1024:.0f} KiB down")  # fmt: skip
    print(
        "| reload | shell drawn ms | fresh list ms | DOMContentLoaded ms | controlled by the worker | KiB down / up |"
    )
    print("|---|---|---|---|---|---|")
    for i, r in enumerate(runs):
        drawn = f"{r['shell']:.0f}" if r.get("shell") is not None else "–"
        print(f"| {i + 1} | {drawn} | {r['ready']:.0f} | {r['dcl']:.0f} | {r['controlled']} "
              f"| {r.get('down', 0) / 1024:.1f} / {r.get('up', 0) / 1024:.1f} |")  # fmt: skip
    if args.verbose:
        print("last reload, resource timeline (name, start ms, end ms, through the worker):")
        for row in runs[-1]["timeline"]:
            print("   ", *row)
    if shell:
        print(
            f"median shell drawn (saved list, before the network answers): {statistics.median(shell):.0f} ms "
            f"(min {min(shell):.0f}, max {max(shell):.0f})"
        )
    print(
        f"median fresh list after the first visit: {statistics.median(ready):.0f} ms "
        f"(min {min(ready):.0f}, max {max(ready):.0f})"
    )
    if photos:
        print("\n| photo (4000×3000, EXIF) | original bytes | upload request bytes | file bytes the server got "
              f"| its size (px) | EXIF kept | HTTP | upload time at {args.up_kbps:.0f} kbit/s |")  # fmt: skip
        print("|---|---|---|---|---|---|---|---|")
        for p in photos:
            size = p.get("size_bytes", 0)
            print(f"| {p['name']} | {p['original']:,} | {p['sent']:,} | {size:,} | {p.get('width')}×{p.get('height')} "
                  f"| {'yes' if p.get('exif_taken_at') else 'no'} | {p['status']} "
                  f"| {max(p['sent'], size) * 8 / (args.up_kbps * 1000):.0f} s |")  # fmt: skip


if __name__ == "__main__":
    main()
