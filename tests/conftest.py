"""Suite-wide test settings."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "figures: search runs in this test draw their figures (matplotlib, several "
                   "seconds a stage); elsewhere they skip them")


@pytest.fixture(autouse=True)
def _search_figures(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Search runs draw no figures (``plots/``) unless the test is marked ``figures``: drawing
    would cost more than the tiny searches themselves. Tests of the figures call
    ``genospec.render.figures`` directly."""
    if request.node.get_closest_marker("figures") is None:
        from genospec.render import figures
        monkeypatch.setattr(figures, "write_run_figures", lambda *args, **kwargs: [])
