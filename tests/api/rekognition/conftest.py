"""One visage server per test module, on a free loopback port, with SigV4 keys configured."""

from __future__ import annotations

import pytest
from rek_support import AKID, SECRET, serve

from visage.api.app import create_app
from visage.config import Settings


@pytest.fixture(scope="module")
def rek_settings(tmp_path_factory) -> Settings:
    home = tmp_path_factory.mktemp("rekognition")
    return Settings(aws_keys=f"{AKID}:{SECRET},AKIDOTHER:other-secret",
                    store_url=f"sqlite:///{home / 'store.db'}", home=home)


@pytest.fixture(scope="module")
def endpoint(rek_settings, engine) -> str:
    with serve(create_app(rek_settings, engine)) as url:
        yield url
