"""envdeck benchmarks: one command each (`python -m bench.NAME [--quick] [--out PATH]`).

Each prints a table and writes JSON (default bench/results/NAME.json, git-ignored).
Numbers and the machine they came from are recorded in docs/benchmarks.md.
"""
