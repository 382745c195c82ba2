"""Generate (or check) docs/asyncapi/<service>.yaml from every service's composition root.

    .venv/bin/python tools/asyncapi/generate.py [--check] [DIR]

Each service of the development stack (refuge_devstack.stack.SERVICES) is built by its
``bootstrap.build_app`` exactly as ``serve`` builds it, and its runtime's AsyncAPI
document is rendered: whatever a bootstrap declares (subscriptions, ``publishes``)
is in the document, with nothing to register here. Nothing is started or connected.
The environment is fixed first (throwaway secrets, the default bootstrap servers) so
that the files do not depend on the machine that generates them.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path

from refuge_common.settings import PlatformSettings
from refuge_common.specification.committed import HOW_TO_FIX, render_all, stale_documents, write_documents
from refuge_common.specification.rendering import AsyncAPIDocument
from refuge_devstack.stack import SERVICES, ensure_secrets

DEFAULT_DIRECTORY = Path(__file__).resolve().parents[2] / "docs" / "asyncapi"


@contextlib.contextmanager
def _development_environment() -> Iterator[None]:
    """The services' settings read the environment: give them development secrets and the
    development broker, and put the caller's environment back after (a test process calls
    this too, and its broker fixture reads KAFKA_BOOTSTRAP_SERVERS)."""

    saved = dict(os.environ)
    try:
        with tempfile.TemporaryDirectory(prefix="refuge-asyncapi-") as secrets:
            os.environ.update(ensure_secrets(Path(secrets)))
            # The committed documents name the development broker, whatever this shell points at.
            os.environ["KAFKA_BOOTSTRAP_SERVERS"] = str(
                PlatformSettings.model_fields["kafka_bootstrap_servers"].default
            )
            yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


def service_documents() -> dict[str, AsyncAPIDocument]:
    documents = {}
    with _development_environment():
        for service in SERVICES:
            bootstrap = importlib.import_module(f"{service.module}.bootstrap")
            app = bootstrap.build_app()
            documents[service.name] = app.state.runtime.asyncapi()
    return documents


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="verify the committed files, write nothing")
    parser.add_argument("directory", nargs="?", type=Path, default=DEFAULT_DIRECTORY)
    args = parser.parse_args(argv)
    texts = render_all(service_documents())
    if args.check:
        problems = stale_documents(args.directory, texts)
        if problems:
            print(f"AsyncAPI documents in {args.directory} are not current:", file=sys.stderr)
            print("\n".join(f"  {problem}" for problem in problems), file=sys.stderr)
            print(HOW_TO_FIX, file=sys.stderr)
            return 1
        print(f"{len(texts)} AsyncAPI documents in {args.directory} are current")
        return 0
    for path in write_documents(args.directory, texts):
        print(f"wrote {path}")
    leftovers = [problem for problem in stale_documents(args.directory, texts) if "delete it" in problem]
    if leftovers:
        print("\n".join(leftovers), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
