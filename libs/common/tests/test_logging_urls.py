"""Outgoing request URLs stay out of the logs (a provider URL may carry a credential)."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def test_a_configured_service_does_not_log_the_urls_httpx_calls() -> None:
    script = textwrap.dedent("""
        import httpx
        from refuge_common.observability.logging import configure_logging, get_logger
        configure_logging("notifications", "INFO", "json")
        transport = httpx.MockTransport(lambda request: httpx.Response(204))
        with httpx.Client(transport=transport) as client:
            client.post("https://sms.example.org/send?token=s3cret&to=%2B33612345678")
        get_logger("probe").info("probe_done")
    """)
    run = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60)
    assert run.returncode == 0, run.stderr
    assert "probe_done" in run.stdout  # the service's own lines still get through
    assert "s3cret" not in run.stdout + run.stderr
    assert "sms.example.org" not in run.stdout + run.stderr
