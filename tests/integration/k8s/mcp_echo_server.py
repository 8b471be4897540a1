#!/usr/bin/env python3
"""A minimal MCP server over stdio (newline-delimited JSON-RPC 2.0), standard library only.

Offers one tool, `echo`, returning its `text` argument. The k8s tests run it under agentd's MCP
adapter plugin so that every agentd_mcp_* series exists (server up, tools, operation durations
for initialize, tools/list and tools/call).
"""
import json
import sys

TOOLS = [{
    "name": "echo",
    "description": "Returns its text argument.",
    "inputSchema": {"type": "object", "properties": {"text": {"type": "string"}},
                    "required": ["text"]},
}]


def reply(msg_id, result=None, error=None):
    msg = {"jsonrpc": "2.0", "id": msg_id}
    if error is not None:
        msg["error"] = error
    else:
        msg["result"] = result
    sys.stdout.write(json.dumps(msg) + "\n")
    sys.stdout.flush()


def main():
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            req = json.loads(line)
        except ValueError:
            reply(None, error={"code": -32700, "message": "parse error"})
            continue
        method, msg_id = req.get("method"), req.get("id")
        if msg_id is None:
            continue  # notifications (initialized, cancelled) need no answer
        params = req.get("params") or {}
        if method == "initialize":
            reply(msg_id, {
                "protocolVersion": params.get("protocolVersion", "2025-06-18"),
                "capabilities": {"tools": {"listChanged": False}},
                "serverInfo": {"name": "mcp-echo", "version": "1.0.0"},
            })
        elif method == "ping":
            reply(msg_id, {})
        elif method == "tools/list":
            reply(msg_id, {"tools": TOOLS})
        elif method == "tools/call":
            if params.get("name") != "echo":
                reply(msg_id, error={"code": -32602, "message": "unknown tool"})
                continue
            text = str((params.get("arguments") or {}).get("text", ""))
            reply(msg_id, {"content": [{"type": "text", "text": text}], "isError": False})
        else:
            reply(msg_id, error={"code": -32601, "message": "method not found: %s" % method})


if __name__ == "__main__":
    main()
