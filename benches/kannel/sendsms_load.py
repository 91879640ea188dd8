#!/usr/bin/env python3
"""Load client for Kannel's smsbox: submits N messages through /cgi-bin/sendsms over C concurrent keep-alive
HTTP/1.1 connections, each asking for a delivery receipt (dlr-mask) to a dlr-url served by this script, and
measures until every receipt arrived or the time limit passed. Standard library only.

Prints a human summary and one `RESULT key=value ...` line (the same keys benches/load.rs prints).
"""

import argparse
import asyncio
import sys
import time
import urllib.parse


class Counters:
    def __init__(self, n):
        self.n = n
        self.accepted = 0
        self.refused = 0
        self.first_error = None
        self.accept_lat = []
        self.accept_at = [None] * n
        self.dlr_at = {}
        self.dlr_other = 0
        self.last_accept = None
        self.last_dlr = None
        self.all_dlrs = asyncio.Event()


async def dlr_server(port, c, start):
    """A minimal HTTP/1.1 server: GET /dlr?n=<index>&t=<type> -> 200, recorded once per index."""

    async def handle(reader, writer):
        try:
            while True:
                line = await reader.readline()
                if not line:
                    break
                # Headers until the blank line (Kannel sends GET without a body).
                while True:
                    h = await reader.readline()
                    if not h or h in (b"\r\n", b"\n"):
                        break
                parts = line.split()
                if len(parts) >= 2:
                    q = urllib.parse.urlparse(parts[1].decode("latin-1")).query
                    args = urllib.parse.parse_qs(q)
                    try:
                        i = int(args.get("n", ["-1"])[0])
                        t = int(args.get("t", ["0"])[0])
                    except ValueError:
                        i, t = -1, 0
                    if 0 <= i < c.n and t == 1 and i not in c.dlr_at:
                        now = time.monotonic()
                        c.dlr_at[i] = now
                        c.last_dlr = now - start
                        if len(c.dlr_at) >= c.n:
                            c.all_dlrs.set()
                    elif not (0 <= i < c.n and i in c.dlr_at):
                        c.dlr_other += 1
                writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Type: text/plain\r\n\r\nOK")
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.CancelledError):
            # Kannel keeps its callback connections open; they are cut when the run ends.
            pass
        finally:
            writer.close()

    return await asyncio.start_server(handle, "127.0.0.1", port, backlog=1024)


async def read_response(reader):
    status_line = await reader.readline()
    if not status_line:
        raise ConnectionError("closed")
    status = int(status_line.split()[1])
    length, close = None, False
    while True:
        h = await reader.readline()
        if not h or h in (b"\r\n", b"\n"):
            break
        k, _, v = h.decode("latin-1").partition(":")
        k = k.strip().lower()
        if k == "content-length":
            length = int(v.strip())
        elif k == "connection" and v.strip().lower() == "close":
            close = True
    if length is not None:
        body = await reader.readexactly(length)
    else:
        body = await reader.read()
        close = True
    return status, body, close


async def submitter(args, c, next_index, start, deadline):
    reader = writer = None
    while time.monotonic() < deadline:
        i = next_index[0]
        if i >= c.n:
            break
        next_index[0] += 1
        dlr_url = f"http://127.0.0.1:{args.dlr_port}/dlr?n={i}&t=%d"
        q = urllib.parse.urlencode(
            {
                "username": "load",
                "password": "loadpass",
                "from": "smsbridge",
                "to": f"4477{i % 100000000:08d}",
                "text": f"load test message {i}: hello from smsbridge",
                "dlr-mask": str(args.dlr_mask),
                "dlr-url": dlr_url,
            }
        )
        req = f"GET /cgi-bin/sendsms?{q} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode()
        for attempt in range(3):
            try:
                if writer is None:
                    reader, writer = await asyncio.open_connection("127.0.0.1", args.sendsms_port)
                t0 = time.monotonic()
                writer.write(req)
                await writer.drain()
                status, body, close = await asyncio.wait_for(
                    read_response(reader), max(0.1, deadline - time.monotonic())
                )
                t1 = time.monotonic()
                if close:
                    writer.close()
                    reader = writer = None
                if 200 <= status < 300:
                    c.accepted += 1
                    c.accept_lat.append(t1 - t0)
                    c.accept_at[i] = t1
                    c.last_accept = t1 - start
                else:
                    c.refused += 1
                    c.first_error = c.first_error or f"HTTP {status}: {body[:200]!r}"
                break
            except (ConnectionError, OSError, asyncio.IncompleteReadError, asyncio.TimeoutError) as e:
                if writer is not None:
                    writer.close()
                reader = writer = None
                if attempt == 2 or time.monotonic() >= deadline:
                    c.refused += 1
                    c.first_error = c.first_error or f"{type(e).__name__}: {e}"
                    break
                await asyncio.sleep(0.05)
    if writer is not None:
        writer.close()


def pcts(v):
    if not v:
        return "n/a"
    v = sorted(v)

    def p(q):
        return v[min(len(v) - 1, round((len(v) - 1) * q))] * 1000

    return (
        f"p50 {p(0.5):.2f} ms, p90 {p(0.9):.2f} ms, p99 {p(0.99):.2f} ms, "
        f"p99.9 {p(0.999):.2f} ms, max {p(1.0):.2f} ms"
    )


async def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sendsms-port", type=int, required=True)
    ap.add_argument("--dlr-port", type=int, required=True)
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--dlr-mask", type=int, default=1)
    ap.add_argument("--timeout", type=float, default=120)
    args = ap.parse_args()

    c = Counters(args.messages)
    start = time.monotonic()
    server = await dlr_server(args.dlr_port, c, start)
    start = time.monotonic()
    deadline = start + args.timeout
    next_index = [0]
    await asyncio.gather(
        *(submitter(args, c, next_index, start, deadline) for _ in range(args.clients))
    )
    if len(c.dlr_at) < c.n:
        try:
            await asyncio.wait_for(c.all_dlrs.wait(), max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            pass
    server.close()

    n = args.messages
    acc_rate = c.accepted / c.last_accept if c.last_accept else 0.0
    dlrs = len(c.dlr_at)
    dlr_rate = dlrs / c.last_dlr if c.last_dlr else 0.0
    to_dlr = [c.dlr_at[i] - c.accept_at[i] for i in c.dlr_at if c.accept_at[i] is not None]
    print("\n== kannel ==")
    print(
        f"messages:             {n} asked, {c.accepted} accepted (HTTP 2xx), {c.refused} refused"
        + (f" (first: {c.first_error})" if c.first_error else "")
    )
    print(f"accepted:             {acc_rate:.0f} msgs/s ({(c.last_accept or 0):.2f} s)")
    print(f"receipts (dlr-url, type 1): {dlrs}, {dlr_rate:.0f} msgs/s end to end; other callbacks {c.dlr_other}")
    print(f"accept latency (sendsms HTTP): {pcts(c.accept_lat)}")
    print(f"accept -> receipt callback:    {pcts(to_dlr)}")
    missing = n - dlrs
    p99 = sorted(c.accept_lat)[min(len(c.accept_lat) - 1, round((len(c.accept_lat) - 1) * 0.99))] * 1000 if c.accept_lat else float("nan")
    print(
        f"RESULT run=kannel messages={n} accepted={c.accepted} accepted_per_s={acc_rate:.0f} "
        f"receipts={dlrs} receipts_per_s={dlr_rate:.0f} accept_p99_ms={p99:.2f} missing={missing}"
    )
    if missing:
        print(f"MISSING: {missing} of {n} receipts did not arrive within {args.timeout:.0f} s")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
