#!/usr/bin/env python3
"""Load benchmark of `dfd serve`'s live endpoint on loopback (not a test).

Starts `dfd serve` (--dfd, default target/release/dfd), opens --calls
simulated calls over /v1/live, each streaming a real 8 kHz phone-band clip
(samples/bonafide_fr_june.wav, looped from its own offset) at real-time pace
in --chunk-ms messages for --seconds, the calls arriving over the first
2 s, and prints:

- calls held in real time per core: the calls divided by the cores the
  server used in steady state (its CPU time over the wall time, /proc);
- latency from a window's completion (the message carrying its last
  sample was sent) to its score arriving, percentiles over all windows;
- memory per call: the server's resident memory with the calls open minus
  before any, divided by the calls.

    pip install websockets==17.4
    cargo build --release
    python3 scripts/serve_load.py --calls 200 --seconds 30

Bounded: at most 1000 calls and 600 s; each call must end within its time
plus 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import time
import urllib.request
import wave
from pathlib import Path
from typing import List, Tuple

import websockets

ROOT = Path(__file__).resolve().parents[1]
RAMP_S = 2.0


def usage(pid: int) -> Tuple[float, int]:
    """The server's CPU seconds so far and resident bytes now."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    cpu = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    rss = next(l for l in Path(f"/proc/{pid}/status").read_text().splitlines() if l.startswith("VmRSS:"))
    return cpu, int(rss.split()[1]) * 1024


async def call(url: str, rate: int, pcm: bytes, offset: int, chunk_ms: int, seconds: float) -> Tuple[List[float], int]:
    """One call; returns its windows' latencies (s) and its result's windows."""
    frames = rate * chunk_ms // 1000
    chunks = int(seconds * 1000 / chunk_ms + 0.999)
    # No keepalive pings: a loaded server answers them late, which is not a failure here.
    async with websockets.connect(url, max_size=None, ping_interval=None) as ws:
        await ws.send(json.dumps({"sample_rate": rate, "channels": 1, "format": "s16le"}))
        ready = json.loads(await ws.recv())
        assert ready["type"] == "ready", ready
        started = time.monotonic()
        sent_at: List[float] = []

        async def sender() -> None:
            pos = offset
            for i in range(chunks):
                await asyncio.sleep(max(0.0, started + i * chunk_ms / 1000 - time.monotonic()))
                piece = b""
                while len(piece) < frames * 2:
                    take = min(frames * 2 - len(piece), len(pcm) - pos)
                    piece += pcm[pos : pos + take]
                    pos = (pos + take) % len(pcm)
                await ws.send(piece)
                sent_at.append(time.monotonic())
            await ws.send(json.dumps({"type": "end"}))

        send = asyncio.create_task(sender())
        latencies: List[float] = []
        async for text in ws:
            msg = json.loads(text)
            if msg["type"] == "window":
                # The window ending at `end` s completed with the chunk holding that sample.
                chunk = max(0, int(-(-round(msg["end"] * rate) // frames)) - 1)
                if chunk < len(sent_at):
                    latencies.append(time.monotonic() - sent_at[chunk])
            elif msg["type"] == "result":
                await send
                return latencies, int(msg["windows"])
            else:
                raise RuntimeError(f"unexpected {msg}")
        raise RuntimeError("the server closed before the result")


def pct(sorted_: List[float], p: float) -> float:
    return sorted_[round((len(sorted_) - 1) * p)]


async def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=200)
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--chunk-ms", type=int, default=100)
    ap.add_argument("--tick-ms", type=int, default=25)
    ap.add_argument("--dfd", default=str(ROOT / "target/release/dfd"))
    a = ap.parse_args()
    assert 1 <= a.calls <= 1000 and 0 < a.seconds <= 600 and 10 <= a.chunk_ms <= 1000

    with wave.open(str(ROOT / "samples/bonafide_fr_june.wav")) as w:
        assert (w.getnchannels(), w.getsampwidth()) == (1, 2)
        rate, pcm = w.getframerate(), w.readframes(w.getnframes())

    server = subprocess.Popen(
        [a.dfd, "serve", "--listen", "127.0.0.1:0", "--max-concurrent", str(a.calls)]
        + ["--batch-tick-ms", str(a.tick_ms), "--idle-timeout", "60"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        line = server.stdout.readline()
        found = re.search(r"http://(\S+?)/?$", line.strip())
        if not found:
            raise SystemExit(f"dfd serve did not start (it printed {line!r})")
        url = f"ws://{found.group(1)}/v1/live"
        metrics_url = f"http://{found.group(1)}/metrics"
        await asyncio.sleep(0.5)
        _, rss_idle = usage(server.pid)

        async def delayed(i: int):
            await asyncio.sleep(RAMP_S * i / a.calls)
            offset = (i * 7919 * 2) % len(pcm)
            return await asyncio.wait_for(call(url, rate, pcm, offset, a.chunk_ms, a.seconds), a.seconds + 60)

        tasks = [asyncio.create_task(delayed(i)) for i in range(a.calls)]
        await asyncio.sleep(RAMP_S + 0.5)
        cpu0, _ = usage(server.pid)
        t0 = time.monotonic()
        await asyncio.sleep(max(0.5, a.seconds - 2.0))
        cpu1, rss_busy = usage(server.pid)
        wall = time.monotonic() - t0
        results = await asyncio.gather(*tasks)
        with urllib.request.urlopen(metrics_url) as r:
            metrics = dict(
                l.split()[:2] for l in r.read().decode().splitlines() if l.startswith("dfd_live_")
            )
    finally:
        server.terminate()
        server.wait()

    latencies = sorted(l for r, _ in results for l in r)
    windows = sum(n for _, n in results)
    cores = (cpu1 - cpu0) / wall
    print(
        f"dfd serve ({a.dfd}), {a.calls} live calls of {a.seconds:g} s (8 kHz s16le, "
        f"{a.chunk_ms} ms messages, batch tick {a.tick_ms} ms), {os.cpu_count()} CPUs"
    )
    print(f"server CPU in steady state: {cores:.2f} cores -> {a.calls / cores:.0f} calls held in real time per core")
    print(
        f"window completion -> score, {len(latencies)} windows ({windows} scored): "
        f"p50 {1000 * pct(latencies, 0.5):.0f} ms, p90 {1000 * pct(latencies, 0.9):.0f} ms, "
        f"p99 {1000 * pct(latencies, 0.99):.0f} ms, max {1000 * latencies[-1]:.0f} ms"
    )
    batched = float(metrics.get("dfd_live_batched_windows_total", 0))
    calls = float(metrics.get("dfd_live_backend_calls_total", 0))
    print(f"shared batches: {batched:.0f} windows in {calls:.0f} backend calls ({batched / max(calls, 1):.1f} per call)")
    print(
        f"memory: {rss_idle / 2**20:.1f} MiB idle, {rss_busy / 2**20:.1f} MiB with the calls open -> "
        f"{(rss_busy - rss_idle) / 1024 / a.calls:.0f} KiB per call"
    )


if __name__ == "__main__":
    asyncio.run(main())
    sys.exit(0)
