"""A minimal HTTP/1.1 keep-alive load client on asyncio streams.

httpx's per-request overhead (about 1 ms of CPU here) capped the bare endpoint at a few
hundred requests per second, so the client, not the server, was being measured. This client
writes a prepared request and reads one Content-Length response per round trip: nothing else.
"""

from __future__ import annotations

import asyncio
import time
from urllib.parse import urlsplit


def request_bytes(host: str, path: str, headers: dict[str, str], body: bytes) -> bytes:
    lines = [f"POST {path} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    chunked = False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        lname = name.strip().lower()
        if lname == b"content-length":
            length = int(value.strip())
        elif lname == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    if chunked:
        body = bytearray()
        while True:
            size = int((await reader.readuntil(b"\r\n")).strip(), 16)
            chunk = await reader.readexactly(size + 2)
            if size == 0:
                break
            body += chunk[:-2]
        return status, bytes(body)
    return status, await reader.readexactly(length) if length else b""


async def run(url: str, path: str, headers: dict[str, str], bodies: list[bytes],
              concurrency: int) -> tuple[list[float], list[tuple[int, bytes]], float]:
    """Send every body once over `concurrency` keep-alive connections.

    Returns (latencies in seconds, failed (status, body) pairs, elapsed seconds).
    """
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for b in bodies:
        queue.put_nowait(request_bytes(f"{host}:{port}", path, headers, b))
    latencies: list[float] = []
    failures: list[tuple[int, bytes]] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            while True:
                try:
                    req = queue.get_nowait()
                except asyncio.QueueEmpty:
                    return
                t0 = time.perf_counter()
                writer.write(req)
                status, body = await _read_response(reader)
                latencies.append(time.perf_counter() - t0)
                if status not in (200, 202):
                    failures.append((status, body[:300]))
        finally:
            writer.close()

    started = time.perf_counter()
    await asyncio.gather(*(connection() for _ in range(concurrency)))
    return latencies, failures, time.perf_counter() - started
