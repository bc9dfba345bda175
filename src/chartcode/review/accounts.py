"""Users, passwords (argon2), login sessions and API tokens (only SHA-256 digests are stored)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import func, select
from sqlalchemy.orm import Session as DbSession

from chartcode.review.audit import record
from chartcode.store.errors import AuthError, DuplicateError, WorkflowError
from chartcode.store.models import ROLES, ApiToken, Session, User, utcnow

SESSION_HOURS = 12
_hasher = PasswordHasher()


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def user_snapshot(user: User) -> dict[str, object]:
    return {"id": user.id, "username": user.username, "role": user.role, "active": user.active}


def create_user(db: DbSession, actor: User | None, username: str, password: str, role: str) -> User:
    if role not in ROLES:
        raise WorkflowError(f"role {role!r} is not known.", f"use one of {', '.join(ROLES)}.")
    if db.scalar(select(User.id).where(func.lower(User.username) == username.lower())) is not None:
        raise DuplicateError(f"the username {username!r} is taken.", "choose another username.")
    user = User(username=username, password_hash=_hasher.hash(password), role=role, active=True)
    db.add(user)
    db.flush()
    record(db, actor, "user.create", "user", user.id, None, user_snapshot(user))
    db.commit()
    return user


def authenticate(db: DbSession, username: str, password: str) -> User:
    user = db.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        _hasher.hash(password)  # same work whether or not the user exists
        raise AuthError("wrong username or password.", "check both and sign in again.")
    try:
        _hasher.verify(user.password_hash, password)
    except (VerificationError, InvalidHashError):
        raise AuthError("wrong username or password.", "check both and sign in again.") from None
    return user


def login(db: DbSession, username: str, password: str) -> tuple[str, User]:
    """A new session token for the user (returned once; only its digest is stored)."""
    user = authenticate(db, username, password)
    token = "s_" + secrets.token_urlsafe(32)
    now = utcnow()
    row = Session(
        user_id=user.id,
        token_hash=token_digest(token),
        created_at=now,
        expires_at=now + timedelta(hours=SESSION_HOURS),
    )
    db.add(row)
    db.flush()
    record(
        db, user, "session.login", "session", row.id, None, {"user_id": user.id, "expires_at": row.expires_at}
    )
    db.commit()
    return token, user


def logout(db: DbSession, user: User, token: str) -> None:
    row = db.scalar(select(Session).where(Session.token_hash == token_digest(token)))
    if row is None or row.revoked_at is not None:
        return  # an API token or an already closed session: nothing to do
    row.revoked_at = utcnow()
    record(
        db, user, "session.logout", "session", row.id, {"revoked_at": None}, {"revoked_at": row.revoked_at}
    )
    db.commit()


def create_api_token(db: DbSession, user: User, name: str) -> str:
    token = "t_" + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, name=name, token_hash=token_digest(token))
    db.add(row)
    db.flush()
    record(db, user, "token.create", "api_token", row.id, None, {"name": name, "user_id": user.id})
    db.commit()
    return token


def user_for_token(db: DbSession, token: str) -> tuple[User, str]:
    """The active user behind a session or API token, and the kind ("session" | "api")."""
    digest = token_digest(token)
    now = utcnow()
    session = db.scalar(
        select(Session).where(
            Session.token_hash == digest, Session.revoked_at.is_(None), Session.expires_at > now
        )
    )
    kind = "session"
    user_id = session.user_id if session is not None else None
    if user_id is None:
        api = db.scalar(select(ApiToken).where(ApiToken.token_hash == digest, ApiToken.revoked_at.is_(None)))
        kind = "api"
        user_id = api.user_id if api is not None else None
    user = db.get(User, user_id) if user_id is not None else None
    if user is None or not user.active:
        raise AuthError("the token is unknown, expired or revoked.", "sign in again (POST /api/auth/login).")
    return user, kind


def list_users(db: DbSession) -> list[User]:
    return list(db.scalars(select(User).order_by(User.id)))
