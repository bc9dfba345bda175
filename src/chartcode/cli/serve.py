"""``chartcode serve`` (the workbench and HTTP API) and ``chartcode db upgrade``."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from chartcode.cli import codesets
from chartcode.cli.output import Format, console, handle_errors, render

DbOption = Annotated[
    str | None,
    typer.Option(
        "--db",
        help="Database URL: sqlite:///path/chartcode.db (default: the user data folder) or "
        "postgresql+psycopg://user:password@host/dbname.",
    ),
]

db_app = typer.Typer(help="The workbench database: migrations.", no_args_is_help=True)


@db_app.command("upgrade")
def db_upgrade(db: DbOption = None, fmt: codesets.FormatOption = Format.text) -> None:
    """Create or migrate the database schema to the newest version."""
    from chartcode.store import db as store_db

    with handle_errors(fmt):
        engine = store_db.make_engine(db)
        store_db.upgrade(engine)
        revision = store_db.current_revision(engine)
        where = store_db.display_url(engine)
    render(
        fmt,
        {"database": where, "revision": revision},
        lambda: console.print(f"{where}: at revision {revision}"),
    )


def serve(
    demo: Annotated[
        bool, typer.Option("--demo", help="A fresh SQLite database with demo users and synthetic encounters.")
    ] = False,
    host: Annotated[str, typer.Option("--host", help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", min=1, max=65535, help="Port to listen on.")] = 8000,
    db: DbOption = None,
    kb: codesets.KbOption = None,
) -> None:
    """Start the coder workbench and the HTTP API (OpenAPI document at /openapi.json)."""
    import uvicorn

    from chartcode.api.app import Settings, create_app, real_coder
    from chartcode.review import demo as demo_data
    from chartcode.store.db import display_url
    from chartcode.store.errors import DemoDataError

    with handle_errors(Format.text):
        kb_path = codesets.kb_path(kb)
        if demo and not kb_path.exists():
            raise DemoDataError(
                f"the demo codes its sample encounters with the real coder, and there is no "
                f"code-set knowledge base at {kb_path}.",
                "run `chartcode codesets install` (or `chartcode codesets install --source DIR`), "
                "or pass --kb.",
            )
        if demo and db is None:
            folder = Path(tempfile.mkdtemp(prefix="chartcode-demo-"))
            db = f"sqlite:///{folder / 'chartcode.db'}"
        settings = Settings(db_url=db, kb_path=kb_path)
        if demo:  # build the coder once: the demo codes its encounters with it, then the API reuses it
            coder = real_coder(kb_path)
            settings.coder_factory = lambda _path: coder
        app = create_app(settings)
        services = app.state.services
        where = display_url(services.engine)
        if demo:
            with services.sessions() as session:
                passwords = demo_data.create_demo_users(session)
                results = demo_data.load_demo(session, services.coder())
            console.print(f"demo database: {where}")
            for name, password in passwords.items():
                shown = password if password is not None else "(existing user, password unchanged)"
                console.print(f"  user {name:<8} password {shown}", markup=False)
            failed = [r for r in results if r.error]
            console.print(f"  {len(results) - len(failed)} synthetic encounters loaded, {len(failed)} failed")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    console.print(
        f"chartcode workbench on http://{host}:{port}/  (OpenAPI: /openapi.json; database: {where})",
        markup=False,
    )
    uvicorn.run(app, host=host, port=port, access_log=False, log_level="info")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.add_typer(db_app, name="db")
