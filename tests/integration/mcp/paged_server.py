#!/usr/bin/env python3
"""A scripted stdio MCP server for what the real servers never do: tools/list in three pages
(nextCursor), and answering initialize with the protocol version given as argv[1] (default: the
client's)."""
import json
import sys

version = sys.argv[1] if len(sys.argv) > 1 else None
pages = {None: (["a1", "a2"], "p2"), "p2": (["b1"], "p3"), "p3": (["c1", "c2"], None)}
for line in sys.stdin:
    msg = json.loads(line)
    if "id" not in msg or "method" not in msg:
        continue
    method, params = msg["method"], msg.get("params") or {}
    if method == "initialize":
        result = {"protocolVersion": version or params["protocolVersion"],
                  "capabilities": {"tools": {}}, "serverInfo": {"name": "paged", "version": "1"}}
    elif method == "tools/list":
        names, cursor = pages[params.get("cursor")]
        result = {"tools": [{"name": n, "inputSchema": {"type": "object"}} for n in names]}
        if cursor:
            result["nextCursor"] = cursor
    elif method == "ping":
        result = {}
    else:
        print(json.dumps({"jsonrpc": "2.0", "id": msg["id"],
                          "error": {"code": -32601, "message": "unknown method"}}), flush=True)
        continue
    print(json.dumps({"jsonrpc": "2.0", "id": msg["id"], "result": result}), flush=True)
