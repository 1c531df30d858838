"""BuildKit's own Dockerfile parser as an oracle for dockguard's lexer.

PyPI's `dockerfile` package wraps github.com/moby/buildkit's Go parser. For each file
named on the command line this prints one JSON object per line: the instructions as
BuildKit splits them, or the error BuildKit reports.
"""
import json
import sys

import dockerfile

for path in sys.argv[1:]:
    try:
        commands = dockerfile.parse_file(path)
    except dockerfile.GoParseError as e:
        print(json.dumps({"path": path, "error": str(e)}))
        continue
    out = []
    for c in commands:
        out.append({
            "cmd": c.cmd.lower(),
            "start_line": c.start_line,
            "end_line": c.end_line,
            "flags": list(c.flags),
            "value": list(c.value),
            "json": c.json,
            "heredocs": [{"name": h.name, "content": h.content} for h in c.heredocs],
        })
    print(json.dumps({"path": path, "instructions": out}))
