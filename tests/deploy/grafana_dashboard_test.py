#!/usr/bin/env python3
"""deploy/grafana/custops.json is a Grafana dashboard over metrics that exist.

Checks the dashboard's shape (title, uid, schemaVersion, panels each with a
data source and at least one target with a non-empty expr, template
variables it refers to defined) and that every metric name (custops_...)
in every expr and variable query is emitted by the C++ sources under libs/
and services/ (comments and tests left out). A histogram's _bucket, _sum and
_count series count when the base name is written through Histogram(...).
Renaming a metric without updating the dashboard fails here.

  grafana_dashboard_test.py <repo root>

Python 3 standard library only.
"""
import json
import pathlib
import re
import sys

METRIC = re.compile(r"custops_[a-z0-9_]+")
VARIABLE = re.compile(r"\$\{([A-Za-z0-9_]+)(?::[a-z]+)?\}|\$([A-Za-z0-9_]+)")
BUILTIN_VARIABLES = {"__rate_interval", "__interval", "__interval_ms", "__range", "__range_s",
                     "__range_ms", "__all", "__auto", "__name"}
HISTOGRAM_SUFFIXES = ("_bucket", "_sum", "_count")
SOURCE_SUFFIXES = (".cc", ".h", ".cpp", ".hpp")

failures = []


def fail(msg):
    failures.append(msg)
    print("FAIL:", msg)


def strip_comments(text):
    """C++ text with // and /* */ comments blanked; string literals kept."""
    out = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if text.startswith("//", i):
            j = text.find("\n", i)
            i = n if j < 0 else j
        elif text.startswith("/*", i):
            j = text.find("*/", i + 2)
            i = n if j < 0 else j + 2
            out.append(" ")
        elif c == "R" and i + 1 < n and text[i + 1] == '"' and not (i and (text[i - 1].isalnum() or text[i - 1] == "_")):
            m = re.match(r'R"([^()\\ ]{0,16})\(', text[i:])
            if not m:
                out.append(c)
                i += 1
                continue
            end = text.find(")" + m.group(1) + '"', i + m.end())
            j = n if end < 0 else end + len(m.group(1)) + 2
            out.append(text[i:j])
            i = j
        elif c in "\"'":
            j = i + 1
            while j < n and text[j] != c and text[j] != "\n":
                j += 2 if text[j] == "\\" else 1
            out.append(text[i:j + 1])
            i = j + 1
        else:
            out.append(c)
            i += 1
    return "".join(out)


def is_test_source(path, root):
    parts = path.relative_to(root).parts
    return any(p in ("test", "tests", "testing") for p in parts[:-1]) or path.stem.endswith("_test")


def project_code(root):
    """The non-test C++ sources under libs/ and services/, comments stripped."""
    texts = []
    for top in ("libs", "services"):
        for path in sorted((root / top).rglob("*")):
            if path.suffix in SOURCE_SUFFIXES and path.is_file() and not is_test_source(path, root):
                texts.append(strip_comments(path.read_text(encoding="utf-8", errors="replace")))
    return "\n".join(texts)


def all_panels(panels):
    for p in panels:
        yield p
        yield from all_panels(p.get("panels") or [])  # a collapsed row holds its panels


def variable_query(var):
    q = var.get("query")
    if isinstance(q, dict):
        q = q.get("query", "")
    return q if isinstance(q, str) else ""


def main():
    if len(sys.argv) != 2:
        print(__doc__)
        return 2
    root = pathlib.Path(sys.argv[1]).resolve()
    path = root / "deploy/grafana/custops.json"
    try:
        dash = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        fail(f"{path}: {e}")
        return 1

    # The dashboard itself.
    if dash.get("title") != "custops":
        fail(f"title is {dash.get('title')!r}, want 'custops'")
    if dash.get("uid") != "custops-overview":
        fail(f"uid is {dash.get('uid')!r}, want 'custops-overview'")
    if not isinstance(dash.get("schemaVersion"), int) or dash["schemaVersion"] < 36:
        fail(f"schemaVersion {dash.get('schemaVersion')!r}: want a current one (>= 36)")
    variables = (dash.get("templating") or {}).get("list") or []
    names = {v.get("name") for v in variables}
    ds_vars = [v for v in variables if v.get("type") == "datasource"]
    if not any(v.get("query") == "prometheus" for v in ds_vars):
        fail("no template variable of type datasource for prometheus")
    panels = list(all_panels(dash.get("panels") or []))
    if not any(p.get("type") != "row" for p in panels):
        fail("no panels")

    exprs = []  # (where, text)
    ids = set()
    for p in panels:
        where = f"panel {p.get('id')} {p.get('title')!r}"
        if p.get("id") in ids:
            fail(f"{where}: id used twice")
        ids.add(p.get("id"))
        if not isinstance(p.get("gridPos"), dict):
            fail(f"{where}: no gridPos")
        if p.get("type") == "row":
            continue
        if not p.get("title"):
            fail(f"{where}: no title")
        ds = p.get("datasource")
        if not (isinstance(ds, dict) and ds.get("type") == "prometheus" and ds.get("uid")):
            fail(f"{where}: datasource {ds!r} is not a prometheus data source")
        else:
            exprs.append((where + " datasource", ds["uid"]))
        targets = [t for t in p.get("targets") or [] if str(t.get("expr", "")).strip()]
        if not targets:
            fail(f"{where}: no target with an expr")
        for t in targets:
            exprs.append((f"{where} target {t.get('refId')}", t["expr"]))
    for v in variables:
        if v.get("type") == "query":
            where = f"variable {v.get('name')}"
            ds = v.get("datasource")
            if isinstance(ds, dict):
                exprs.append((where + " datasource", str(ds.get("uid", ""))))
            if not variable_query(v).strip():
                fail(f"{where}: empty query")
            exprs.append((where, variable_query(v)))

    # Every $variable is defined.
    for where, text in exprs:
        for m in VARIABLE.finditer(text):
            name = m.group(1) or m.group(2)
            if name not in names and name not in BUILTIN_VARIABLES:
                fail(f"{where}: ${name} is not a template variable")

    # Every metric exists in the sources.
    code = project_code(root)
    quoted = set(re.findall(r'"(custops_[a-z0-9_]+)"', code))
    histograms = set(re.findall(r'\bHistogram\s*\(\s*"(custops_[a-z0-9_]+)"', code))
    used = {}
    for where, text in exprs:
        for name in METRIC.findall(text):
            used.setdefault(name, where)
    if not used:
        fail("no custops_ metric referenced")
    for name, where in sorted(used.items()):
        if name in quoted:
            continue
        base = next((name[: -len(s)] for s in HISTOGRAM_SUFFIXES if name.endswith(s)), None)
        if base is not None and base in histograms:
            continue
        if base is not None and base in quoted:
            fail(f"{where}: {name}: {base} is not written as a histogram")
        else:
            fail(f"{where}: metric {name} is not in libs/ or services/ (renamed?)")

    if failures:
        print(f"{len(failures)} problem(s) in {path}")
        return 1
    print(f"ok: {sum(1 for p in panels if p.get('type') != 'row')} panels, "
          f"{len(used)} metrics, all emitted by the sources")
    return 0


if __name__ == "__main__":
    sys.exit(main())
