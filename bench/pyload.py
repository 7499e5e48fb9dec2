"""The Python load generator, used when wrk is not installed (or with ``--python-load``).

``python -m bench.pyload '<LoadSpec as JSON>'``: N keep-alive HTTP/1.1 connections on
one asyncio loop (uvloop when available), each sending requests back to back (or
paced by ``delay_ms``) until the duration is over; records every request's latency
and prints one ``BENCH_JSON`` result line.

It speaks HTTP/1.1 on asyncio streams rather than through httpx: httpx costs about
0.7 ms of client CPU per request and tops out near 1,400 requests/s on this kind of
machine (a third of that at 256 connections), which would measure the client, not
the server. Raw streams reach roughly two thirds of wrk's rate. Responses must carry
Content-Length or chunked encoding, which is all uvicorn sends.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter
from typing import Any
from urllib.parse import urlsplit

from bench.load import RESULT_PREFIX, LoadResult, LoadSpec
from bench.stats import percentile


def build_request(spec: LoadSpec) -> bytes:
    """The raw bytes of the one request every connection repeats."""
    parts = urlsplit(spec.url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    body = spec.body.encode() if spec.body else b""
    lines = [f"{spec.method} {target} HTTP/1.1", f"Host: {parts.netloc}", "User-Agent: bench"]
    if spec.authorization:
        lines.append(f"Authorization: {spec.authorization}")
    if spec.content_type:
        lines.append(f"Content-Type: {spec.content_type}")
    if body or spec.method in ("POST", "PUT", "PATCH"):
        lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bool]:
    """Read one response; its status and whether the server will close the connection."""
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length, chunked, close = 0, False, False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        name = name.strip().lower()
        if name == b"content-length":
            length = int(value)
        elif name == b"transfer-encoding":
            chunked = b"chunked" in value.lower()
        elif name == b"connection":
            close = b"close" in value.lower()
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            if size == 0:
                await reader.readuntil(b"\r\n")
                break
            await reader.readexactly(size + 2)
    elif length:
        await reader.readexactly(length)
    return status, close


async def run_load(spec: LoadSpec) -> LoadResult:
    """Drive ``spec`` and measure every request's latency."""
    parts = urlsplit(spec.url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    request = build_request(spec)
    latencies: list[float] = []
    errors: Counter[str] = Counter()
    start = time.perf_counter()
    deadline = start + spec.duration_s

    async def connection() -> None:
        writer: asyncio.StreamWriter | None = None
        try:
            while time.perf_counter() < deadline:
                if writer is None:
                    try:
                        reader, writer = await asyncio.open_connection(host, port)
                    except OSError:
                        errors["connect"] += 1
                        await asyncio.sleep(0.05)
                        continue
                sent = time.perf_counter()
                try:
                    async with asyncio.timeout(spec.timeout_s):
                        writer.write(request)
                        status, close = await read_response(reader)
                except TimeoutError:
                    errors["timeout"] += 1
                    close = True
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    errors["read"] += 1
                    close = True
                else:
                    latencies.append(time.perf_counter() - sent)
                    if status >= 400:
                        errors["status"] += 1
                if close:
                    writer.close()
                    writer = None
                if spec.delay_ms:
                    await asyncio.sleep(spec.delay_ms / 1000)
        finally:
            if writer is not None:
                writer.close()

    await asyncio.wait_for(
        asyncio.gather(*(connection() for _ in range(spec.connections))),
        timeout=spec.duration_s + spec.timeout_s + 5,
    )
    elapsed = time.perf_counter() - start
    return LoadResult(
        tool="python-asyncio",
        connections=spec.connections,
        duration_s=round(elapsed, 3),
        requests=len(latencies),
        rps=len(latencies) / elapsed,
        p50_ms=percentile(latencies, 50) * 1000,
        p90_ms=percentile(latencies, 90) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        max_ms=max(latencies, default=float("nan")) * 1000,
        errors=sum(errors.values()),
        error_detail=dict(errors),
    )


def main(argv: list[str]) -> int:
    """Parse the spec, run it, print the result line."""
    spec = LoadSpec(**json.loads(argv[0]))
    try:
        import uvloop

        runner: Any = uvloop.run
    except ImportError:  # pragma: no cover - uvloop comes with uvicorn[standard]
        runner = asyncio.run
    result = runner(run_load(spec))
    print(RESULT_PREFIX + json.dumps(result.to_dict()), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
