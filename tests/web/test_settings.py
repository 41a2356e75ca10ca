"""The web settings come from the environment, with defaults and clear errors."""

import pytest

from web.settings import MIB, WebSettings


def test_defaults_apply_when_the_environment_is_silent(monkeypatch):
    for name in ("WEB_HOST", "WEB_PORT", "MAX_UPLOAD_BYTES", "MAX_FILES_PER_REQUEST"):
        monkeypatch.delenv(name, raising=False)

    settings = WebSettings.from_env()

    assert (settings.host, settings.port) == ("127.0.0.1", 5002)
    assert settings.max_upload_bytes == 512 * MIB
    assert settings.max_files_per_request == 100
    assert settings.max_request_bytes == 512 * MIB * 100 + MIB


def test_the_environment_overrides_every_setting(monkeypatch):
    monkeypatch.setenv("WEB_HOST", "0.0.0.0")
    monkeypatch.setenv("WEB_PORT", "8080")
    monkeypatch.setenv("MAX_UPLOAD_BYTES", "1000")
    monkeypatch.setenv("MAX_FILES_PER_REQUEST", "3")
    monkeypatch.setenv("NATS_URL", "nats://elsewhere:4222")

    settings = WebSettings.from_env()

    assert (settings.host, settings.port) == ("0.0.0.0", 8080)
    assert (settings.max_upload_bytes, settings.max_files_per_request) == (1000, 3)
    assert settings.bus.nats_url == "nats://elsewhere:4222"


@pytest.mark.parametrize(
    ("name", "value"),
    [("WEB_PORT", "http"), ("MAX_UPLOAD_BYTES", "0"), ("MAX_FILES_PER_REQUEST", "-1")],
)
def test_a_bad_setting_is_a_clear_start_up_error(monkeypatch, name, value):
    monkeypatch.setenv(name, value)

    with pytest.raises(ValueError, match=name):
        WebSettings.from_env()
