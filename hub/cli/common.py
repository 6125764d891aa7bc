"""What every command shares: the console, the --config option, settings and logging."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console

from core.settings import Settings, load_settings

# long lines (paths, ids an operator copies into the next command) are never wrapped
console = Console(soft_wrap=True)
ConfigOpt = Annotated[Optional[Path], typer.Option("--config", help="YAML settings file",  # noqa: UP045
                                                   envvar="LIENTHONG_CONFIG")]


def settings_from(config: Path | None) -> Settings:
    """The settings for a command. Raises pydantic.ValidationError for a bad file."""
    return load_settings(config)


def setup_logging(level: str = "INFO") -> None:
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
