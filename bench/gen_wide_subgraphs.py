#!/usr/bin/env python3
"""Writes three subgraph SDLs with 100 entity types each into DIR (default
bench/wide), for measuring how fast the gateway loads and plans a supergraph of
a few hundred types. Compose them with gateway/tests/fixtures/compose.mjs."""
import os
import sys

out_dir = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "wide")
os.makedirs(out_dir, exist_ok=True)
header = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.5", import: ["@key", "@shareable"])\n'
for s in range(3):
    lines, roots = [header], []
    for t in range(100):
        name, nxt, other = f"T{s}_{t}", f"T{s}_{(t + 1) % 100}", f"T{(s + 1) % 3}_{t}"
        lines.append(f'type {name} @key(fields: "id") {{ id: ID! name: String! count: Int! next: {nxt} list: [{nxt}!]! other: {other} }}\n')
        lines.append(f'type {other} @key(fields: "id", resolvable: false) {{ id: ID! }}\n')
        roots.append(f"get{name}(id: ID!): {name}")
    lines.append("type Query { " + " ".join(roots) + " }\n")
    with open(os.path.join(out_dir, f"s{s}.graphql"), "w") as f:
        f.write("".join(lines))
