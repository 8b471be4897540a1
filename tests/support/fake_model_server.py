#!/usr/bin/env python3
"""Fake model server for agentd's tests and benchmarks (Python 3 standard library only).

Speaks OpenAI Chat Completions and Anthropic Messages, whole and streamed (SSE), over
HTTP/1.1 keep-alive, bound to 127.0.0.1 only, with injectable faults and attempt counters.

Usage: fake_model_server.py [--port 0] [--latency-ms N] [--parent-pid PID]
Once bound it prints "fake-model-server listening on 127.0.0.1:PORT" on stderr. With
--parent-pid it exits when that process is gone.

Model endpoints:
  POST /v1/chat/completions   OpenAI   (agentd base_url: http://127.0.0.1:PORT/v1)
  POST /v1/messages           Anthropic (agentd base_url: http://127.0.0.1:PORT)
The answer depends on the request: with tools and a user message last, tool calls (two when
parallel tool calls are allowed, with arguments {"query": <user text>, "index": i}); with tool
results last, "tool results: <contents joined by ' | '>"; otherwise "echo: <user text>".
Header x-fake-reply replaces the text. Header x-fake-tool-turns: N makes a multi-step run: one
tool call per answer (to the first tool) until N rounds of tool results are in the conversation,
then the text "done after N tool rounds".

Faults. Requests are counted per key (header x-fake-key, default "default"). Header
x-fake-faults is a comma-separated list; element i applies to attempt i (0-based) of the key,
attempts past the list succeed ("ok"), unless the last element ends with "*" (then it repeats).
The same list can be set with POST /_control/faults {"key": K, "faults": [...]}.
An element is modifiers and one action joined by "+":
  modifiers  slow=MS         wait before the response head (slow first byte)
             chunk_delay=MS  wait between stream events
  actions    ok | STATUS[:ra=SECONDS|:date=SECONDS|:ms=MILLIS]  (error body in the API's format;
             Retry-After as delta-seconds or as an HTTP-date that many seconds ahead, or
             retry-after-ms) | reset (reset mid-body) | truncate (body shorter than its
             Content-Length; a stream ends cleanly before its end marker) | malformed (invalid
             JSON) | stream_reset (half the stream, then a reset) | stream_error (an error event
             inside a 200 stream: Anthropic overloaded_error, OpenAI error chunk) | hang
A 401 echoes the received key in its message (as some providers do) to test redaction.
Header x-fake-latency-ms (or --latency-ms) delays every answer.

Control endpoints:
  GET  /_control/attempts?key=K  {"attempts", "arrivals_ms" (each request read whole),
                                  "done_ms" (each call ended: its answer written, or null while
                                  it runs), "last_body", "last_headers",
                                  "bodies" (the last 64 request bodies, as sent)}
  POST /_control/faults          {"key": K, "faults": [...]}
  POST /_control/reset           forget every key
  GET  /_control/stats           {"requests", "connections", "open_connections"}
  GET  /healthz
"""
import argparse
import asyncio
import ctypes
import email.utils
import json
import os
import resource
import socket
import struct
import sys
import time
import urllib.parse


class State:
    def __init__(self):
        self.keys = {}  # key -> new_record()
        self.faults = {}  # key -> [fault, ...] set through the control endpoint
        self.requests = 0
        self.connections = 0
        self.open_connections = 0
        self.latency_ms = 0


STATE = State()


def now_ms():
    return time.monotonic() * 1000.0


# ------------------------------------------------------------------------------ HTTP plumbing

def head_bytes(status, headers):
    reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 403: "Forbidden",
              404: "Not Found", 408: "Request Timeout", 422: "Unprocessable Entity",
              429: "Too Many Requests", 500: "Internal Server Error", 502: "Bad Gateway",
              503: "Service Unavailable", 504: "Gateway Timeout", 529: "Overloaded"}.get(
                  status, "Status")
    lines = [f"HTTP/1.1 {status} {reason}"] + [f"{k}: {v}" for k, v in headers]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


async def send_body(writer, status, body, content_type="application/json", extra=()):
    headers = [("Content-Type", content_type), ("Content-Length", str(len(body))),
               ("Connection", "keep-alive")] + list(extra)
    writer.write(head_bytes(status, headers) + body)
    await writer.drain()


async def send_json(writer, status, obj, extra=()):
    await send_body(writer, status, json.dumps(obj).encode(), extra=extra)


def reset_connection(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
    writer.transport.abort()


def chunk(data):
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


# ------------------------------------------------------------------------------ faults

def parse_fault(text):
    fault = {"action": "ok", "slow": 0, "chunk_delay": 0, "status": 0, "ra": None,
             "date": None, "ms": None}
    for part in filter(None, text.strip().split("+")):
        if "=" in part and not part[0].isdigit():
            name, value = part.split("=", 1)
            if name in ("slow", "latency"):
                fault["slow"] = int(value)
            elif name == "chunk_delay":
                fault["chunk_delay"] = int(value)
            else:
                raise ValueError(f"unknown modifier {name}")
            continue
        if part[0].isdigit():
            status, _, opt = part.partition(":")
            fault["action"] = "status"
            fault["status"] = int(status)
            if opt:
                name, value = opt.split("=", 1)
                fault[name] = float(value)
        else:
            fault["action"] = part
    return fault


def select_fault(key, header, attempt):
    faults = STATE.faults.get(key)
    if faults is None:
        faults = [f for f in (header or "").split(",") if f.strip()]
    if not faults:
        return parse_fault("ok")
    if attempt < len(faults):
        return parse_fault(faults[attempt].rstrip("*"))
    if faults[-1].strip().endswith("*"):
        return parse_fault(faults[-1].strip().rstrip("*"))
    return parse_fault("ok")


def error_body(api, status, message):
    kinds = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error",
             404: "not_found_error", 408: "timeout_error", 422: "invalid_request_error",
             429: "rate_limit_error", 500: "api_error", 502: "api_error", 503: "api_error",
             504: "timeout_error", 529: "overloaded_error"}
    kind = kinds.get(status, "api_error")
    if api == "anthropic":
        return {"type": "error", "error": {"type": kind, "message": message}}
    return {"error": {"message": message, "type": kind, "code": status}}


# ------------------------------------------------------------------------------ answers

def text_of(content):
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "".join(b.get("text", "") for b in content if isinstance(b, dict))
    return ""


def make_reply(api, req, headers):
    messages = req.get("messages", [])
    tools = req.get("tools") or []
    last = messages[-1] if messages else {"role": "user", "content": ""}
    results = []
    if api == "openai":
        for m in reversed(messages):
            if m.get("role") != "tool":
                break
            results.insert(0, m.get("content", ""))
        parallel = req.get("parallel_tool_calls", True)
    else:
        if isinstance(last.get("content"), list):
            results = [text_of(b.get("content")) for b in last["content"]
                       if isinstance(b, dict) and b.get("type") == "tool_result"]
        parallel = not (req.get("tool_choice") or {}).get("disable_parallel_tool_use", False)
    user_text = text_of(last.get("content"))
    calls = []
    # x-fake-tool-turns: N keeps asking for one tool call per turn until N rounds of results are
    # in the conversation (a multi-step agent run), then answers.
    turns = int(headers.get("x-fake-tool-turns", "0") or 0)
    if api == "openai":
        rounds = sum(1 for m in messages if m.get("role") == "assistant" and m.get("tool_calls"))
    else:
        rounds = sum(1 for m in messages if m.get("role") == "assistant" and
                     isinstance(m.get("content"), list) and
                     any(isinstance(b, dict) and b.get("type") == "tool_use"
                         for b in m["content"]))
    if turns and tools and rounds < turns:
        t = tools[0]
        name = t["function"]["name"] if api == "openai" else t["name"]
        prefix = "call_" if api == "openai" else "toolu_"
        calls.append((f"{prefix}{rounds}", name, json.dumps({"query": user_text, "index": rounds})))
        text = "" if api == "openai" else f"Step {rounds + 1}."
    elif turns and tools:
        text = f"done after {rounds} tool rounds"
    elif results:
        text = "tool results: " + " | ".join(results)
    elif tools and last.get("role") == "user":
        n = min(len(tools), 2 if parallel else 1)
        for i in range(n):
            t = tools[i]
            name = t["function"]["name"] if api == "openai" else t["name"]
            prefix = "call_" if api == "openai" else "toolu_"
            calls.append((f"{prefix}{i}", name, json.dumps({"query": user_text, "index": i})))
        text = "" if api == "openai" else "Calling tools."
    else:
        text = "echo: " + user_text
    if "x-fake-reply" in headers:
        text = headers["x-fake-reply"]
    input_tokens = max(1, len(json.dumps(messages)) // 4)
    output_tokens = max(1, len(text.split()) + sum(len(c[2]) // 4 for c in calls))
    return {"text": text, "calls": calls, "input": input_tokens, "output": output_tokens}


def split_text(text, size=6):
    return [text[i:i + size] for i in range(0, len(text), size)]


def openai_whole(model, r):
    msg = {"role": "assistant", "content": r["text"] if r["text"] or not r["calls"] else None}
    if r["calls"]:
        msg["tool_calls"] = [{"id": i, "type": "function",
                              "function": {"name": n, "arguments": a}} for i, n, a in r["calls"]]
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": 0, "model": model,
            "choices": [{"index": 0, "message": msg,
                         "finish_reason": "tool_calls" if r["calls"] else "stop"}],
            "usage": {"prompt_tokens": r["input"] + 2, "completion_tokens": r["output"],
                      "total_tokens": r["input"] + 2 + r["output"],
                      "prompt_tokens_details": {"cached_tokens": 2}}}


def openai_events(model, r, include_usage):
    """Returns (body events, tail events); a truncated stream stops before the tail."""
    base = {"id": "chatcmpl-fake", "object": "chat.completion.chunk", "created": 0,
            "model": model}

    def ch(delta, finish=None):
        return {**base, "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}

    body = [ch({"role": "assistant", "content": ""})]
    body += [ch({"content": p}) for p in split_text(r["text"])]
    for idx, (cid, name, args) in enumerate(r["calls"]):
        body.append(ch({"tool_calls": [{"index": idx, "id": cid, "type": "function",
                                        "function": {"name": name, "arguments": ""}}]}))
        body += [ch({"tool_calls": [{"index": idx, "function": {"arguments": p}}]})
                 for p in split_text(args, 7)]
    tail = [ch({}, "tool_calls" if r["calls"] else "stop")]
    if include_usage:
        tail.append({**base, "choices": [],
                     "usage": {"prompt_tokens": r["input"] + 2, "completion_tokens": r["output"],
                               "total_tokens": r["input"] + 2 + r["output"],
                               "prompt_tokens_details": {"cached_tokens": 2}}})
    body = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in body]
    tail = [b"data: " + json.dumps(e).encode() + b"\n\n" for e in tail] + [b"data: [DONE]\n\n"]
    return body, tail


def anthropic_usage(r):
    return {"input_tokens": r["input"], "output_tokens": r["output"],
            "cache_read_input_tokens": 2, "cache_creation_input_tokens": 1}


def anthropic_whole(model, r):
    content = []
    if r["text"]:
        content.append({"type": "text", "text": r["text"]})
    for cid, name, args in r["calls"]:
        content.append({"type": "tool_use", "id": cid, "name": name, "input": json.loads(args)})
    return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model,
            "content": content, "stop_reason": "tool_use" if r["calls"] else "end_turn",
            "stop_sequence": None, "usage": anthropic_usage(r)}


def sse(event, obj):
    return f"event: {event}\ndata: {json.dumps(obj)}\n\n".encode()


def anthropic_events(model, r):
    usage = anthropic_usage(r)
    start_usage = dict(usage, output_tokens=1)
    body = [sse("message_start", {"type": "message_start", "message": {
        "id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": [],
        "stop_reason": None, "stop_sequence": None, "usage": start_usage}}),
        sse("ping", {"type": "ping"})]
    index = 0
    if r["text"]:
        body.append(sse("content_block_start", {"type": "content_block_start", "index": index,
                                                "content_block": {"type": "text", "text": ""}}))
        body += [sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                             "delta": {"type": "text_delta", "text": p}})
                 for p in split_text(r["text"])]
        body.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    for cid, name, args in r["calls"]:
        body.append(sse("content_block_start", {
            "type": "content_block_start", "index": index,
            "content_block": {"type": "tool_use", "id": cid, "name": name, "input": {}}}))
        body += [sse("content_block_delta", {"type": "content_block_delta", "index": index,
                                             "delta": {"type": "input_json_delta",
                                                       "partial_json": p}})
                 for p in split_text(args, 7)]
        body.append(sse("content_block_stop", {"type": "content_block_stop", "index": index}))
        index += 1
    tail = [sse("message_delta", {"type": "message_delta",
                                  "delta": {"stop_reason": "tool_use" if r["calls"] else "end_turn",
                                            "stop_sequence": None},
                                  "usage": {"output_tokens": r["output"]}}),
            sse("message_stop", {"type": "message_stop"})]
    return body, tail


# ------------------------------------------------------------------------------ handlers

def new_record():
    return {"attempts": 0, "arrivals_ms": [], "done_ms": [], "last_body": None,
            "last_headers": {}}


async def model_call(api, headers, raw, reader, writer):
    key = headers.get("x-fake-key", "default")
    rec = STATE.keys.setdefault(key, new_record())
    attempt = rec["attempts"]
    rec["attempts"] += 1
    rec["arrivals_ms"].append(now_ms())
    rec["done_ms"].append(None)
    try:
        return await answer(api, key, headers, raw, reader, writer, rec, attempt)
    finally:
        # done_ms[i] - arrivals_ms[i] is the server's own time for attempt i: until its answer
        # was handed to the socket, or the call given up.
        rec["done_ms"][attempt] = now_ms()


async def answer(api, key, headers, raw, reader, writer, rec, attempt):
    rec["last_headers"] = headers
    try:
        req = json.loads(raw or b"{}")
    except ValueError:
        await send_json(writer, 400, error_body(api, 400, "request body is not JSON"))
        return True
    rec["last_body"] = req
    # The most recent request bodies as sent (benchmarks replay them byte for byte).
    bodies = rec.setdefault("bodies", [])
    bodies.append((raw or b"").decode("utf-8", "replace"))
    del bodies[:-64]
    try:
        fault = select_fault(key, headers.get("x-fake-faults"), attempt)
    except ValueError as e:
        await send_json(writer, 400, error_body(api, 400, f"bad x-fake-faults: {e}"))
        return True
    latency = int(headers.get("x-fake-latency-ms", STATE.latency_ms))
    wait = (latency + fault["slow"]) / 1000.0
    if wait > 0:
        await asyncio.sleep(wait)
    action = fault["action"]
    if action == "hang":
        # Never answer; return as soon as the client goes away (EOF), so that
        # /_control/stats shows the connection closed.
        try:
            await asyncio.wait_for(reader.read(), 3600)
        except (asyncio.TimeoutError, ConnectionError, OSError):
            pass
        return False
    if api == "anthropic" and "anthropic-version" not in headers:
        await send_json(writer, 400, error_body(api, 400, "anthropic-version header is required"))
        return True
    if action == "status":
        status = fault["status"]
        extra = []
        if fault["ra"] is not None:
            extra.append(("Retry-After", str(int(fault["ra"]))))
        if fault["date"] is not None:
            extra.append(("Retry-After",
                          email.utils.formatdate(time.time() + fault["date"], usegmt=True)))
        if fault["ms"] is not None:
            extra.append(("retry-after-ms", str(int(fault["ms"]))))
        message = f"injected {status}"
        if status == 401:
            received = headers.get("x-api-key") or headers.get("authorization", "")
            received = received.removeprefix("Bearer ")
            message = f"Incorrect API key provided: {received}"
        await send_json(writer, status, error_body(api, status, message), extra)
        return True
    model = req.get("model", "")
    reply = make_reply(api, req, headers)
    if not req.get("stream"):
        if action == "malformed":
            await send_body(writer, 200, b'{"id": "broken", "choices": [{"index": 0, "mess')
            return True
        obj = openai_whole(model, reply) if api == "openai" else anthropic_whole(model, reply)
        body = json.dumps(obj).encode()
        if action == "truncate":
            writer.write(head_bytes(200, [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(body) + 64))]) + body)
            await writer.drain()
            writer.close()
            return False
        if action == "reset":
            writer.write(head_bytes(200, [("Content-Type", "application/json"),
                                          ("Content-Length", str(len(body)))])
                         + body[:len(body) // 2])
            await writer.drain()
            await asyncio.sleep(0.05)
            reset_connection(writer)
            return False
        await send_body(writer, 200, body)
        return True
    # Streaming.
    if api == "openai":
        include_usage = bool((req.get("stream_options") or {}).get("include_usage"))
        body, tail = openai_events(model, reply, include_usage)
    else:
        body, tail = anthropic_events(model, reply)
    writer.write(head_bytes(200, [("Content-Type", "text/event-stream"),
                                  ("Cache-Control", "no-cache"),
                                  ("Transfer-Encoding", "chunked"),
                                  ("Connection", "keep-alive")]))
    delay = fault["chunk_delay"] / 1000.0
    if action == "stream_error":
        first = body[:1]
        if api == "anthropic":
            err = sse("error", {"type": "error",
                                "error": {"type": "overloaded_error", "message": "Overloaded"}})
        else:
            err = b"data: " + json.dumps({"error": {"message": "injected stream error",
                                                    "type": "server_error"}}).encode() + b"\n\n"
        for e in first + [err]:
            writer.write(chunk(e))
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True
    events = body + tail
    if action == "malformed":
        events = body[:2] + [b"data: {not json\n\n"] + tail
    elif action in ("truncate", "stream_reset"):
        events = body[:max(2, len(body) // 2)]
    for e in events:
        writer.write(chunk(e))
        await writer.drain()
        if delay:
            await asyncio.sleep(delay)
    if action == "stream_reset":
        await asyncio.sleep(0.2)
        reset_connection(writer)
        return False
    writer.write(b"0\r\n\r\n")
    await writer.drain()
    return True


async def control(method, path, query, raw, writer):
    if path == "/_control/attempts":
        key = query.get("key", ["default"])[0]
        await send_json(writer, 200, STATE.keys.get(key, new_record()))
    elif path == "/_control/faults" and method == "POST":
        obj = json.loads(raw or b"{}")
        STATE.faults[obj.get("key", "default")] = list(obj.get("faults", []))
        await send_json(writer, 200, {"ok": True})
    elif path == "/_control/reset" and method == "POST":
        STATE.keys.clear()
        STATE.faults.clear()
        await send_json(writer, 200, {"ok": True})
    elif path == "/_control/stats":
        await send_json(writer, 200, {"requests": STATE.requests,
                                      "connections": STATE.connections,
                                      "open_connections": STATE.open_connections})
    else:
        await send_json(writer, 404, {"error": {"message": f"no route {path}"}})
    return True


async def handle(reader, writer):
    STATE.connections += 1
    STATE.open_connections += 1
    try:
        while True:
            line = await reader.readline()
            if not line:
                break
            parts = line.decode("latin-1").split()
            if len(parts) != 3:
                break
            method, target, _ = parts
            headers = {}
            while True:
                h = await reader.readline()
                if h in (b"\r\n", b"\n", b""):
                    break
                k, _, v = h.decode("latin-1").partition(":")
                headers[k.strip().lower()] = v.strip()
            n = int(headers.get("content-length", "0"))
            raw = await reader.readexactly(n) if n else b""
            STATE.requests += 1
            url = urllib.parse.urlsplit(target)
            query = urllib.parse.parse_qs(url.query)
            if url.path == "/v1/chat/completions" and method == "POST":
                keep = await model_call("openai", headers, raw, reader, writer)
            elif url.path == "/v1/messages" and method == "POST":
                keep = await model_call("anthropic", headers, raw, reader, writer)
            elif url.path == "/healthz":
                await send_body(writer, 200, b"ok", "text/plain")
                keep = True
            elif url.path.startswith("/_control/"):
                keep = await control(method, url.path, query, raw, writer)
            else:
                await send_json(writer, 404, {"error": {"message": f"no route {url.path}"}})
                keep = True
            if not keep or headers.get("connection", "").lower() == "close":
                break
    except (ConnectionError, asyncio.IncompleteReadError, OSError):
        pass
    finally:
        STATE.open_connections -= 1
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - the peer may be gone already
            pass


async def watch_parent(pid):
    while True:
        await asyncio.sleep(0.5)
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            os._exit(0)


async def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--latency-ms", type=int, default=0)
    ap.add_argument("--parent-pid", type=int, default=0)
    args = ap.parse_args()
    STATE.latency_ms = args.latency_ms
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    # asyncio reads into 256 KiB buffers. glibc serves them from the heap or, depending on the
    # allocator's history in this process, with mmap, then mremap and munmap for every read
    # (TLB shootdowns across CPUs, costly under a hypervisor), which made this server's speed,
    # and every benchmark against it, differ from run to run. A fixed mmap threshold
    # (glibc's M_MMAP_THRESHOLD, -3) keeps them on the heap.
    try:
        ctypes.CDLL(None).mallopt(-3, 1 << 20)
    except (OSError, AttributeError):
        pass
    server = await asyncio.start_server(handle, "127.0.0.1", args.port, backlog=4096,
                                        reuse_address=True)
    port = server.sockets[0].getsockname()[1]
    print(f"fake-model-server listening on 127.0.0.1:{port}", file=sys.stderr, flush=True)
    if args.parent_pid:
        asyncio.get_running_loop().create_task(watch_parent(args.parent_pid))
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    try:
        asyncio.run(main())
    except KeyboardInterrupt:
        pass
