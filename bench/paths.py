"""Owns the filesystem locations the benchmark suite uses."""

from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_ROOT = BENCH_DIR.parent
VENV_DIR = BENCH_DIR / ".venv"
RESULTS_DIR = BENCH_DIR / "results"
LOG_DIR = RESULTS_DIR / "logs"
POST_SCRIPT = BENCH_DIR / "post.lua"
POST_CHUNKED_SCRIPT = BENCH_DIR / "post_chunked.lua"
