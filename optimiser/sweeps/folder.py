"""A sweep's output folder (docs/sweeps.md): manifest.json, parts/ (one finished chunk each,
written into a temporary folder and renamed: a chunk is there whole or not) and, once
complete, the final tables; `load_sweep` reads a finished one back as a SweepResult.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from optimiser.errors import InputError, Problem
from optimiser.json_values import json_ready
from optimiser.textfiles import check_out_path, json_reason

FORMAT = "triage-sweep/1"


@dataclass
class SweepResult:
    """variants: one row per variant; regions: one row per variant and region."""

    variants: pd.DataFrame
    regions: pd.DataFrame
    manifest: dict[str, Any]
    out: Path | None = None
    solved: int = 0  # variants solved by this call (the rest were resumed)


class SweepFolder:
    """manifest.json + parts/ (+ the final tables once complete)."""

    def __init__(self, out: Path) -> None:
        self.out = Path(out)
        self.parts = self.out / "parts"
        self.manifest_path = self.out / "manifest.json"

    def open(self, spec: dict[str, Any], key: str) -> dict[str, Any] | None:
        """Create or resume; returns the stored manifest when resuming."""
        check_out_path(self.out)
        if self.out.exists() and not self.out.is_dir():
            raise InputError(Problem(f"--out {self.out}: exists and is not a folder"))
        if self.manifest_path.exists():
            manifest, why = _read_manifest(self.manifest_path)
            if why is not None:
                raise InputError(Problem(f"--out {self.out}: unreadable manifest.json ({why})"))
            if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
                raise InputError(
                    Problem(f"--out {self.out}: manifest.json is not a sweep manifest")
                )
            if manifest.get("spec_hash") != key:
                raise InputError(
                    Problem(
                        f"--out {self.out} holds another sweep "
                        f"(spec hash {manifest.get('spec_hash')}, "
                        f"instance {manifest.get('spec', {}).get('instance')}; this one is {key}); "
                        "choose another folder or delete that one"
                    )
                )
            return manifest
        if self.out.exists() and any(p for p in self.out.iterdir() if not p.name.startswith(".")):
            raise InputError(
                Problem(f"--out {self.out}: folder exists, is not empty and holds no sweep")
            )
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(
                Problem(f"--out {self.out}: cannot create ({exc.strerror or exc})")
            ) from exc
        return None

    def done_chunks(self) -> set[int]:
        if not self.parts.is_dir():
            return set()
        for tmp in self.parts.glob(".tmp-*"):  # left by a hard kill: never counted
            shutil.rmtree(tmp, ignore_errors=True)
        done = set()
        for folder in self.parts.glob("chunk-*"):
            if (folder / "variants.parquet").is_file() and (folder / "regions.parquet").is_file():
                done.add(int(folder.name.split("-")[1]))
        return done

    def write_chunk(self, chunk: int, variants: pd.DataFrame, regions: pd.DataFrame) -> None:
        self.parts.mkdir(parents=True, exist_ok=True)
        tmp = self.parts / f".tmp-{uuid.uuid4().hex[:12]}"
        tmp.mkdir()  # the user's umask applies (tempfile.mkdtemp would make it 0700)
        try:
            variants.to_parquet(tmp / "variants.parquet", index=False)
            regions.to_parquet(tmp / "regions.parquet", index=False)
            os.replace(tmp, self.parts / f"chunk-{chunk:06d}")
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def read_chunks(self, chunks: Iterable[int]) -> tuple[list[pd.DataFrame], list[pd.DataFrame]]:
        variants, regions = [], []
        for chunk in sorted(chunks):
            folder = self.parts / f"chunk-{chunk:06d}"
            variants.append(read_parquet(folder / "variants.parquet"))
            regions.append(read_parquet(folder / "regions.parquet"))
        return variants, regions

    def write_manifest(self, manifest: dict[str, Any]) -> None:
        _atomic_write(
            self.manifest_path,
            lambda p: p.write_text(
                json.dumps(json_ready(manifest), indent=2, default=str, allow_nan=False)
            ),
        )

    def write_final(self, variants: pd.DataFrame, regions: pd.DataFrame) -> None:
        _atomic_write(self.out / "variants.parquet", lambda p: variants.to_parquet(p, index=False))
        _atomic_write(self.out / "variants.csv", lambda p: variants.to_csv(p, index=False))
        _atomic_write(self.out / "regions.parquet", lambda p: regions.to_parquet(p, index=False))
        _atomic_write(self.out / "regions.csv", lambda p: regions.to_csv(p, index=False))

    def read_final(self) -> tuple[pd.DataFrame, pd.DataFrame] | None:
        paths = [self.out / "variants.parquet", self.out / "regions.parquet"]
        if not all(p.is_file() for p in paths):
            return None
        return read_parquet(paths[0]), read_parquet(paths[1])


def read_parquet(path: Path) -> pd.DataFrame:
    """A Parquet file triage wrote; a damaged one (truncated, overwritten) is an InputError
    naming it, not an internal error."""
    import pyarrow as pa

    try:
        return pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise InputError(Problem(f"{path}: not a readable Parquet file ({exc}); it was damaged "
                                 "after the sweep wrote it: run the sweep again into a new "
                                 "folder")) from None


def _atomic_write(path: Path, write: Callable[[Path], Any]) -> None:
    """Write to a temporary file beside `path`, then rename it into place. The file is created
    with mode 0666 minus the umask, like any file the user writes (mkstemp would give 0600)."""
    while True:
        tmp = path.parent / f".{path.name}.{uuid.uuid4().hex[:12]}"
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            break
        except FileExistsError:
            continue
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def load_sweep(folder: str | Path) -> SweepResult:
    """Read a finished sweep folder (for reports)."""
    store = SweepFolder(Path(folder))
    if not store.manifest_path.is_file():
        raise InputError(Problem(f"{folder}: no manifest.json; not a sweep output folder"))
    manifest, why = _read_manifest(store.manifest_path)
    if why is not None:
        raise InputError(Problem(f"{folder}: unreadable manifest.json ({why})"))
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputError(Problem(f"{folder}: manifest.json is not a sweep manifest"))
    final = store.read_final() if manifest.get("status") == "complete" else None
    if final is None:
        raise InputError(Problem(f"{folder}: the sweep is not complete; run it again to resume it"))
    return SweepResult(final[0], final[1], manifest, Path(folder))


def _read_manifest(path: Path) -> tuple[Any, str | None]:
    """manifest.json read back, or why not (damaged: nested too deeply, a number too long)."""
    try:
        return json_reason(path.read_bytes())
    except OSError as exc:
        return None, str(exc)
