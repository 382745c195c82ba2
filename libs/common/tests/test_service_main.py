"""``serve`` tunes the collector of the process it runs in, and only that one."""

from __future__ import annotations

import gc
from typing import Any

import pytest
from fastapi import FastAPI

from refuge_common import service_main
from refuge_common.settings import PlatformSettings


def test_serve_freezes_startup_objects_and_collects_less_often(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[Any] = []
    monkeypatch.setattr(service_main.uvicorn, "run", lambda app, **_options: ran.append(app))
    threshold = gc.get_threshold()
    app = FastAPI()
    try:
        gc.set_threshold(700, *threshold[1:])
        service_main.serve("test", PlatformSettings(), app, 0)
        assert ran == [app]
        assert gc.get_threshold()[0] == service_main.GC_THRESHOLD
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)
