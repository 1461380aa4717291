"""Configuration: the nameko YAML file (config.yml) with ${VAR:default} from the environment.

Services get it as ``container.config``; the CLI and scripts call `load_config`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import yaml

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_CONFIG = REPO_ROOT / "config.yml"


def load_config(path: str | os.PathLike[str] | None = None, **overrides: Any) -> dict[str, Any]:
    from nameko.cli.main import setup_yaml_parser

    setup_yaml_parser()
    fallback: str | Path = os.environ.get("FSM_CONFIG", DEFAULT_CONFIG)
    path = Path(path or fallback)
    with open(path, encoding="utf-8") as fh:
        config = yaml.safe_load(fh) or {}
    config.update(overrides)
    return config


def json_setting(raw: Any, key: str) -> Any:
    """A structured setting as config.yml gives it (a mapping, a list) or as JSON text (from the
    environment): the text read, anything else as it is; ValueError "<key> is not JSON: ..."."""
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise ValueError(f"{key} is not JSON: {exc}") from None


def database_url(config: dict[str, Any], service: str) -> str:
    env = os.environ.get(f"DATABASE_URL_{service.upper()}")
    if env:
        return env
    url = (config.get("DATABASES") or {}).get(service)
    if not url:
        url = f"sqlite:///{os.environ.get('VAR_DIR', 'var')}/{service}.db"
    if url.startswith("sqlite:///") and ":memory:" not in url:
        # relative (sqlite:///var/x.db) or absolute (sqlite:////srv/x.db): the folder must exist
        Path(url[len("sqlite:///") :]).parent.mkdir(parents=True, exist_ok=True)
    return url


def http_port(config: dict[str, Any], service: str) -> int:
    ports = config.get("HTTP_PORTS") or {}
    return int(ports.get(service, 0))
