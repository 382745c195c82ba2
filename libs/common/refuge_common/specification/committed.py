"""The committed AsyncAPI documents (docs/asyncapi/<service>.yaml): written, or checked current."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from refuge_common.specification.rendering import AsyncAPIDocument

HOW_TO_FIX = "run `make asyncapi` and commit docs/asyncapi/"


def render_all(documents: Mapping[str, AsyncAPIDocument]) -> dict[str, str]:
    """File name -> committed text, one YAML file per service."""

    return {f"{service}.yaml": document.to_yaml() for service, document in documents.items()}


def write_documents(directory: Path, texts: Mapping[str, str]) -> list[Path]:
    """Write the files that changed; return them. Files of services that are gone are left
    for a person to delete (``stale_documents`` names them)."""

    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, text in texts.items():
        path = directory / name
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
            written.append(path)
    return written


def stale_documents(directory: Path, texts: Mapping[str, str]) -> list[str]:
    """Everything that differs between the committed files and what the code generates."""

    problems: list[str] = []
    for name, text in texts.items():
        path = directory / name
        if not path.exists():
            problems.append(f"{name}: missing")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{name}: stale (the code declares something else)")
    if directory.is_dir():
        problems.extend(
            f"{path.name}: no service generates it any more (delete it)"
            for path in sorted(directory.glob("*.yaml"))
            if path.name not in texts
        )
    return problems
