#!/usr/bin/env python3
"""Report step of bench/run.sh.

  report.py RUNS_FILE RESULTS_MD      prints the new RESULTS.md (run facts in BENCH_* env)
  report.py --compare A.json B.json   prints how two GraphQL answers compare

RUNS_FILE holds the lines run.sh collected: `RUN key=v ...` per wrk run,
`CHECK ...` per answer comparison, `SKIP key=K reason=...`. The top-level
sections of the existing RESULTS_MD after the generated one (micro-benchmarks,
profiles, "# Earlier measurements"; for the file from before the harness,
everything below its title) are kept verbatim.
"""
import json
import os
import sys

EARLIER = "# Earlier measurements"


def compare(a_path, b_path):
    a_raw, b_raw = open(a_path, "rb").read(), open(b_path, "rb").read()
    facts = {"raw_equal": a_raw == b_raw, "stripped_equal": a_raw.strip() == b_raw.strip()}
    try:
        a, b = json.loads(a_raw), json.loads(b_raw)
    except ValueError:
        facts["normalized_equal"] = facts["sorted_equal"] = False
    else:
        dump = lambda v, s: json.dumps(v, separators=(",", ":"), ensure_ascii=False, sort_keys=s)
        facts["normalized_equal"] = dump(a, False) == dump(b, False)
        facts["sorted_equal"] = dump(a, True) == dump(b, True)
        facts["errors"] = "errors" in a or "errors" in b
    print(" ".join(f"{k}={'yes' if v else 'no'}" for k, v in facts.items()))


def parse(path):
    runs, checks, skips = {}, [], {}
    for line in open(path):
        kind, _, rest = line.rstrip("\n").partition(" ")
        if kind == "SKIP":
            key, _, reason = rest.partition(" reason=")
            skips[key.removeprefix("key=")] = reason
            continue
        fields = dict(f.split("=", 1) for f in rest.split())
        if kind == "RUN":
            run = {k: (v if k == "key" else float(v)) for k, v in fields.items()}
            runs[run["key"]] = run
        elif kind == "CHECK":
            checks.append(fields)
    return runs, checks, skips


def per_request(run, field):
    if field not in run or not run["requests"]:
        return None
    return run[field] / run["requests"]


def fmt_rps(v):
    return f"{v:,.0f}" if v >= 1000 else f"{v:,.1f}"


def fmt_ms(v):
    return f"{v:,.0f} ms" if v >= 100 else f"{v:.2f} ms"


def fmt_cpu(seconds):
    if seconds is None:
        return "—"
    return f"{seconds * 1000:.2f} ms" if seconds >= 0.001 else f"{seconds * 1e6:.0f} µs"


def fmt_rss(run):
    return f"{run['gw_rss_kb'] / 1024:.1f} MiB" if "gw_rss_kb" in run else "—"


def fmt_ratio(v):
    return "—" if v is None else f"{v:.2f}"


ROWS = [
    ("RPS", lambda r: f"**{fmt_rps(r['rps'])}**"),
    ("p50", lambda r: fmt_ms(r["p50_ms"])),
    ("p95", lambda r: fmt_ms(r["p95_ms"])),
    ("p99", lambda r: fmt_ms(r["p99_ms"])),
    ("errors (non-2xx + GraphQL `errors`)", lambda r: f"{r['non2xx'] + r['graphql_errors']:,.0f}"),
    ("socket errors / timeouts", lambda r: f"{r['socket_errors']:,.0f}"),
    ("gateway CPU / request", lambda r: fmt_cpu(per_request(r, "gw_cpu_s"))),
    ("gateway peak RSS (VmHWM)", fmt_rss),
    ("SQL statements / request", lambda r: f"{per_request(r, 'sql'):.2f}"),
    ("subgraphs' CPU / request", lambda r: fmt_cpu(per_request(r, "sub_cpu_s"))),
    ("requests counted", lambda r: f"{r['requests']:,.0f}"),
]


def table(runs, skips, columns):
    out = ["| | " + " | ".join(title for _, title in columns) + " |",
           "|---" * (len(columns) + 1) + "|"]
    for name, cell in ROWS:
        cells = []
        for key, _ in columns:
            if key in runs:
                cells.append(cell(runs[key]))
            else:
                cells.append("skipped" if key in skips else "not run")
        out.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(out)


def ratio(runs, a, b, f):
    if a not in runs or b not in runs:
        return None
    x, y = f(runs[a]), f(runs[b])
    return None if x is None or not y else x / y


def target_row(name, value, target, note=""):
    if value is None:
        verdict = "not measured"
    else:
        verdict = "**met**" if value >= target else "**missed**"
    return f"| {name} | {fmt_ratio(value)} | ≥ {target:g} | {verdict} | {note} |"


def earlier_sections(path):
    try:
        text = open(path, encoding="utf-8").read()
    except FileNotFoundError:
        return ""
    lines = text.splitlines(keepends=True)
    # Every top-level section after the generated one (written by hand:
    # micro-benchmarks, profiles, earlier measurements) is kept.
    generated = lines and lines[0].startswith("# Benchmark results")
    for i, line in enumerate(lines):
        if i > 0 and line.startswith("# ") and (generated or line.rstrip("\n") == EARLIER):
            return "".join(lines[i:])
    # The file from before the harness: everything below its "# " title.
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    while lines and not lines[0].strip():
        lines = lines[1:]
    return f"{EARLIER}\n\n" + "".join(lines) if lines else ""


def report(runs_path, results_path):
    runs, checks, skips = parse(runs_path)
    env = os.environ.get
    cpu = lambda r: per_request(r, "gw_cpu_s")
    rps = lambda r: r["rps"]
    debug = "/debug/" in env("BENCH_BIN", "")
    out = []
    w = out.append
    w("# Benchmark results\n")
    w("Written by `bench/run.sh` (see `bench/README.md`); rerun it rather than editing by hand.\n")
    if debug:
        w("**Debug build: these numbers only prove that the harness runs; they say nothing about speed.**\n")
    w(f"- date: {env('BENCH_DATE')}")
    w(f"- machine: {env('BENCH_CORES')} cores (`nproc`), {env('BENCH_MEMORY')} memory, {env('BENCH_CPU')}")
    w(f"- commit: `{env('BENCH_COMMIT')}`; binary `{env('BENCH_BIN')}`")
    w(f"- load: wrk {env('BENCH_WRK')}, {env('BENCH_THREADS')} thread, {env('BENCH_CONNECTIONS')} connections, "
      f"DURATION={env('BENCH_DURATION')} per run after an uncounted warm-up of {env('BENCH_WARMUP')}, "
      f"timeout {env('BENCH_TIMEOUT')}")
    w(f"- peer: Apollo Gateway ({env('BENCH_APOLLO')}, Node {env('BENCH_NODE')}), static `supergraphSdl` "
      "= `schema/supergraph.graphql`, production settings")
    w(f"- command: `{env('BENCH_COMMAND')}`\n")
    w("Every service is its own process on 127.0.0.1: three subgraphs (SQLite files, demo data), "
      "Switchyard on :4000 (default configuration: in-flight deduplication on), the same with "
      "deduplication off on :4006, with cross-request entity batching "
      f"(`entity_batch_window_us = {env('BENCH_BATCH_WINDOW_US')}`) on :4007, with "
      "`bench/gateway-cached.toml` (the entity cache) on :4005, Apollo Gateway on :4010, and wrk; "
      "they all share the cores. CPU / request is the process's utime + stime "
      "over the counted run ÷ requests; peak RSS is VmHWM after the run (a high-water mark over the "
      "process's life, so later scenarios include earlier ones); SQL statements / request sums "
      "`sql_statements_total` over the three subgraphs.\n")

    w("## Answers\n")
    w("Before loading, each query's answer from Switchyard :4000 is compared with Apollo's "
      "(:4010) and the cached gateway's (:4005).\n")
    w("| query | compared with | byte-identical | byte-identical but for surrounding whitespace "
      "| identical after JSON normalization | same with keys sorted |")
    w("|---|---|---|---|---|---|")
    names = {"4010": "Apollo Gateway", "4005": "cached Switchyard",
             "4006": "Switchyard, dedup off", "4007": "Switchyard, batching"}
    for c in checks:
        w(f"| {c['name']} | {names.get(c['other'], c['other'])} | {c['raw_equal']} | "
          f"{c['stripped_equal']} | {c['normalized_equal']} | {c['sorted_equal']} |")
    w("")
    apollo_log = env("BENCH_APOLLO_LOG", "").strip()
    if apollo_log:
        w("Apollo Gateway logged warnings or errors (first ones):\n")
        w("```\n" + apollo_log + "\n```\n")
    else:
        w("Apollo Gateway loaded the supergraph and ran without logging a warning or error.\n")

    w("## Scenario 1: one fetch, `{ user(id: \"7\") { id name email } }`\n")
    w(table(runs, skips, [("s1_direct", "1a straight to users :4001"),
                          ("s1_ours", "1b Switchyard :4000"),
                          ("s1_nodedup", "1b Switchyard, dedup off :4006"),
                          ("s1_apollo", "1c Apollo Gateway :4010")]))
    w("")
    w("## Scenario 2: nested, users(first: 50) → orders → items → notifications\n")
    w(table(runs, skips, [("s2_ours", "Switchyard :4000"),
                          ("s2_nodedup", "Switchyard, dedup off :4006"),
                          ("s2_batched", "Switchyard, batching :4007"),
                          ("s2_apollo", "Apollo Gateway :4010")]))
    w("")
    w("## Scenario 3: the nested query through the gateway with the entity cache (:4005, warmed)\n")
    if "s3_cached" in skips:
        w(f"Skipped: {skips['s3_cached']}\n")
    w(table(runs, skips, [("s2_ours", "Switchyard :4000 (scenario 2)"),
                          ("s3_cached", "Switchyard + entity cache :4005")]))
    w("")
    w("## Scenario 4: mix of 80% reads, 10% `placeOrder`, 10% `markNotificationRead`\n")
    w(table(runs, skips, [("s4_ours", "Switchyard :4000"),
                          ("s4_batched", "Switchyard, batching :4007"),
                          ("s4_cached", "Switchyard + entity cache :4005"),
                          ("s4_apollo", "Apollo Gateway :4010")]))
    w("")

    w("## Ratios\n")
    w("| ratio | value | target | | notes |")
    w("|---|---|---|---|---|")
    w(target_row("1: Switchyard RPS ÷ direct RPS", ratio(runs, "s1_ours", "s1_direct", rps), 0.6))
    w(target_row("1: Switchyard (dedup off) RPS ÷ direct RPS",
                 ratio(runs, "s1_nodedup", "s1_direct", rps), 0.6))
    w(f"| 1: Apollo RPS ÷ direct RPS | {fmt_ratio(ratio(runs, 's1_apollo', 's1_direct', rps))} | | | |")
    w(target_row("2: Apollo CPU / request ÷ Switchyard's", ratio(runs, "s2_apollo", "s2_ours", cpu), 15))
    w(target_row("2: Switchyard RPS ÷ Apollo RPS", ratio(runs, "s2_ours", "s2_apollo", rps), 10))
    w(target_row("2: Apollo CPU / request ÷ Switchyard's (dedup off)",
                 ratio(runs, "s2_apollo", "s2_nodedup", cpu), 15))
    w(target_row("2: Switchyard (dedup off) RPS ÷ Apollo RPS",
                 ratio(runs, "s2_nodedup", "s2_apollo", rps), 10))
    s2o, s2a = runs.get("s2_ours"), runs.get("s2_apollo")
    if s2o and s2a:
        w(f"| 2: p99 Switchyard / Apollo | {fmt_ms(s2o['p99_ms'])} / {fmt_ms(s2a['p99_ms'])} | | | |")
        w(f"| 2: peak RSS Switchyard / Apollo | {fmt_rss(s2o)} / {fmt_rss(s2a)} | | | |")
    w(target_row("3: cached RPS ÷ scenario 2 RPS", ratio(runs, "s3_cached", "s2_ours", rps), 3,
                 "skipped: see scenario 3" if "s3_cached" in skips else ""))
    w(f"| 4: Switchyard RPS ÷ Apollo RPS | {fmt_ratio(ratio(runs, 's4_ours', 's4_apollo', rps))} | | | |")
    w(f"| 2: batching RPS ÷ without | {fmt_ratio(ratio(runs, 's2_batched', 's2_ours', rps))} | | | |")
    w(f"| 4: batching RPS ÷ without | {fmt_ratio(ratio(runs, 's4_batched', 's4_ours', rps))} | | | |")
    earlier = earlier_sections(results_path)
    text = "\n".join(out) + "\n"
    if earlier:
        text += "\n" + earlier
    sys.stdout.write(text)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--compare":
        compare(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 3:
        report(sys.argv[1], sys.argv[2])
    else:
        sys.exit(__doc__)
