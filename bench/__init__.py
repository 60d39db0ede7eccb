"""Benchmarks: `make bench` (energy, shading) and `make bench-scale` (end to end)."""


def write_results(out_dir, stem: str, doc: dict, markdown: str) -> None:
    """Write a benchmark's ``<stem>.json`` and ``<stem>.md`` into ``out_dir`` and print the markdown."""
    import json
    from pathlib import Path

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{stem}.json").write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    (out / f"{stem}.md").write_text(markdown, encoding="utf-8")
    print(markdown)
