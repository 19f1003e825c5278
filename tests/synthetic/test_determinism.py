"""The same seed gives the same city, byte for byte; another seed another city. Memory stays flat
as the city grows, because nothing is kept for the whole city."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from datetime import date
from pathlib import Path

from synthetic import generate_city

TINY = {"persons": 600, "days": 10, "start": date(2026, 1, 1), "progress": False}


def _digests(folder: Path) -> dict[str, str]:
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file()}


def test_same_seed_same_bytes_including_excel_and_truth(tmp_path):
    first = _digests(_generate(tmp_path / "a", seed=3))
    second = _digests(_generate(tmp_path / "b", seed=3))
    assert first == second
    assert any(name.endswith(".xlsx") for name in first)
    assert any(name.startswith("truth/") for name in first)


def test_another_seed_another_city(tmp_path):
    first = _digests(_generate(tmp_path / "a", seed=3))
    other = _digests(_generate(tmp_path / "b", seed=4))
    shared = [name for name in first if name.endswith("manifest.json") and name in other]
    assert shared and any(first[name] != other[name] for name in shared)


def test_chunking_and_file_splitting_do_not_change_the_rows(tmp_path):
    whole = _generate(tmp_path / "whole", seed=5)
    pieces = _generate(tmp_path / "pieces", seed=5, chunk_size=250, max_rows_per_file=300)
    manifest = "inbox/hrss/social_insurance/hrss-social_insurance-00001"
    whole_lines = b"".join(p.read_bytes() for p in sorted((whole / manifest).glob("*.jsonl")))
    piece_lines = b"".join(p.read_bytes() for p in sorted((pieces / manifest).glob("*.jsonl")))
    assert len(list((pieces / manifest).glob("*.jsonl"))) > 1
    assert sorted(whole_lines.splitlines()) == sorted(piece_lines.splitlines())


def test_memory_stays_flat_as_the_city_grows(tmp_path):
    small = _peak_rss(tmp_path / "small", persons=5_000)
    large = _peak_rss(tmp_path / "large", persons=40_000)
    # eight times the persons in chunks of the same size: whole-city lists would add far more
    assert large < small + 60 * 2**20, (small >> 20, large >> 20)


def _peak_rss(out: Path, persons: int) -> int:
    """Peak resident memory of a fresh process generating the city (bytes)."""
    script = (
        "import resource, sys\n"
        "from datetime import date\n"
        "from pathlib import Path\n"
        "from synthetic import generate_city\n"
        f"generate_city(Path(sys.argv[1]), persons={persons}, days=2, seed=1, start=date(2026, 1, 1), "
        "chunk_size=1_000, workers=1, progress=False)\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)\n"
    )
    done = subprocess.run([sys.executable, "-c", script, str(out)], capture_output=True, text=True, check=True)
    return int(done.stdout.split()[-1]) * 1024


def _generate(out: Path, seed: int, **options) -> Path:
    generate_city(out, seed=seed, **{**TINY, **options})
    return out
