"""The HTTP API (FastAPI): ``create_app(Settings(db_url=..., kb_path=...))``."""

from chartcode.api.app import Settings, create_app

__all__ = ["Settings", "create_app"]
