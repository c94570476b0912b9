"""Every change we make to Rasa's and Sanic's internals, in one place, each one guarded.

Each patch names the package versions it was written against and the attribute it replaces with
that attribute's parameters. `check_all()` verifies all of them and raises PatchError naming the
patch, what was expected and what is installed: an upgrade of Rasa or Sanic stops the server at
start-up instead of silently running without a fix (or with a wrapper around a changed function).

Where they are applied (one call per process, at start-up):

- Rasa server: `bot.rasa_main.main()` calls `apply_rasa_server()` before Rasa's CLI runs. The Sanic
  fixes are swapped in by a `before_server_start` listener (`sanic_listener`), because Sanic 21.12
  recompiles `Http.http1_request_header` at start-up ("touchup") and would drop a patch made
  earlier; our REST channel (served by every Rasa server here) attaches that listener to Rasa's app.
- Action server: `rasa_sdk_plugins` (rasa_sdk's plugin hook) calls `bot.action_server.attach(app)`,
  which checks the guards and attaches the same Sanic listener.
- `EnvSQLTrackerStore` calls `tune_sqlite_tracker_store(store)` when Rasa builds the tracker store.

The patches:

1. `rasa.action_response_validator`: `RemoteAction._validate_action_result` validates each action
   server response with a jsonschema validator built once (Rasa rebuilt and re-checked the schema on
   every response: 35 % of the Rasa server's CPU under load).
2. `sanic.content_length`: `Http.http1_request_header` answers 400 to a `Content-Length` that is not
   a number (was 500) or negative (was a busy loop that stopped the whole server).
3. `sanic.accept`: `sanic.request.parse_accept` treats a malformed `Accept` as `*/*` (a bad q-value
   raised inside the error handler, turning every 4xx into a 500).
4. `rasa.sqlite_tracker_engine`: `SQLTrackerStore.engine`/`.sessionmaker` replaced, for SQLite files,
   by a pooled engine in WAL mode (Rasa's own opened and fsynced a connection per query).
5. `rasa.lock_store_methods` (a guard only): `EnvLockStore` overrides LockStore's ticket methods to
   run them under a Redis mutex; Rasa's `LockStore.lock` must still call them with these parameters.
"""
from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass
from importlib import metadata
from typing import Any, Callable, Dict, Optional

RASA_SERIES = "3.6."
SANIC_SERIES = "21.12."


class PatchError(RuntimeError):
    """A patch does not fit the installed Rasa or Sanic: refuse to start."""


@dataclass(frozen=True)
class Guard:
    """What one patch assumes: a package series, an attribute and its parameters."""

    patch: str
    distribution: str
    series: str
    owner: Callable[[], Any]  # imports and returns the module or class holding the attribute
    attribute: str
    parameters: tuple[str, ...]
    source_contains: Optional[str] = None  # for attributes set in __init__: a line that sets or uses them

    def check(self, source: bool = True) -> None:
        version = metadata.version(self.distribution)
        if not version.startswith(self.series):
            raise PatchError(f"patch {self.patch}: written for {self.distribution} {self.series}x, but "
                             f"{self.distribution} {version} is installed. Check bot/patches.py against the "
                             f"new version (is the fix still needed? does the attribute still fit?) and update "
                             f"the guard.")
        owner = self.owner()
        target = getattr(owner, self.attribute, None)
        name = f"{getattr(owner, '__name__', owner)}.{self.attribute}"
        if target is None or not callable(target):
            raise PatchError(f"patch {self.patch}: {self.distribution} {version} has no callable {name}")
        target = getattr(target, "__wrapped__", target)  # our own patch, already applied
        found = tuple(inspect.signature(target).parameters)
        if found != self.parameters:
            raise PatchError(f"patch {self.patch}: {name} takes {found} in {self.distribution} {version}, "
                             f"the patch expects {self.parameters}")
        if source and self.source_contains and self.source_contains not in inspect.getsource(target):
            raise PatchError(f"patch {self.patch}: {name} in {self.distribution} {version} no longer contains "
                             f"{self.source_contains!r}, which the patch relies on")


def _remote_action() -> Any:
    from rasa.core.actions.action import RemoteAction

    return RemoteAction


def _http() -> Any:
    from sanic.http import Http

    return Http


def _sanic_request() -> Any:
    import sanic.request

    return sanic.request


def _sql_tracker_store() -> Any:
    from rasa.core.tracker_store import SQLTrackerStore

    return SQLTrackerStore


def _lock_store() -> Any:
    from rasa.core.lock_store import LockStore

    return LockStore


GUARDS: Dict[str, tuple[Guard, ...]] = {
    "rasa.action_response_validator": (
        Guard("rasa.action_response_validator", "rasa", RASA_SERIES, _remote_action, "_validate_action_result",
              ("self", "result")),
        Guard("rasa.action_response_validator", "rasa", RASA_SERIES, _remote_action, "run",
              ("self", "output_channel", "nlg", "tracker", "domain"), "self._validate_action_result(response)"),
    ),
    "sanic.content_length": (
        Guard("sanic.content_length", "sanic", SANIC_SERIES, _http, "http1_request_header", ("self",),
              "self.request_bytes_left = self.request_bytes = int("),
    ),
    "sanic.accept": (
        Guard("sanic.accept", "sanic", SANIC_SERIES, _sanic_request, "parse_accept", ("accept",)),
    ),
    "rasa.sqlite_tracker_engine": (
        Guard("rasa.sqlite_tracker_engine", "rasa", RASA_SERIES, _sql_tracker_store, "__init__",
              ("self", "domain", "dialect", "host", "port", "db", "username", "password", "event_broker",
               "login_db", "query", "kwargs"), "self.sessionmaker = sa.orm.session.sessionmaker(bind=self.engine)"),
        Guard("rasa.sqlite_tracker_engine", "rasa", RASA_SERIES, _sql_tracker_store, "session_scope", ("self",),
              "session = self.sessionmaker()"),
    ),
    "rasa.lock_store_methods": tuple(
        Guard("rasa.lock_store_methods", "rasa", RASA_SERIES, _lock_store, name, params, uses)
        for name, params, uses in (
            ("lock", ("self", "conversation_id", "lock_lifetime", "wait_time_in_seconds"),
             "self.issue_ticket(conversation_id, lock_lifetime)"),
            ("issue_ticket", ("self", "conversation_id", "lock_lifetime"), None),
            ("update_lock", ("self", "conversation_id"), None),
            ("finish_serving", ("self", "conversation_id", "ticket_number"), None),
            ("cleanup", ("self", "conversation_id", "ticket_number"), None),
        )),
}


def check(*patches: str, source: bool = True) -> None:
    """Raise PatchError unless every named patch (all when none are named) fits what is installed.
    `source=False` skips the source checks: once Sanic has started, its touched-up methods have none."""
    for name in patches or tuple(GUARDS):
        for guard in GUARDS[name]:
            guard.check(source)


def check_all() -> None:
    check()


# --- 1. Rasa: the action server's response validated with a validator built once -----------------

@functools.lru_cache(maxsize=1)
def _action_response_validator() -> Any:
    from jsonschema.validators import validator_for
    from rasa.core.actions.action import RemoteAction

    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)  # once, instead of on every response
    return cls(schema)


def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
    from jsonschema import ValidationError
    from rasa.shared.constants import DOCS_BASE_URL

    try:
        _action_response_validator().validate(result)
        return True
    except ValidationError as e:
        e.message += (". Failed to validate Action server response from API, make sure your response "
                      f"from the Action endpoint is valid. For more information about the format visit "
                      f"{DOCS_BASE_URL}/custom-actions")
        raise e


def apply_action_response_validator() -> None:
    check("rasa.action_response_validator")
    RemoteAction = _remote_action()
    if RemoteAction._validate_action_result is not _validate_action_result:
        _validate_action_result.__wrapped__ = RemoteAction._validate_action_result  # type: ignore[attr-defined]
        RemoteAction._validate_action_result = _validate_action_result


# --- 2 and 3. Sanic: malformed Content-Length and Accept headers get a 400 -------------------------

def apply_sanic_hardening() -> None:
    """Swap in the two Sanic fixes; call after Sanic's touchup (from `sanic_listener`). The full
    guards (sources included) ran at start-up, before Sanic recompiled its methods."""
    check("sanic.content_length", "sanic.accept", source=False)
    import sanic.request
    from sanic.exceptions import InvalidUsage
    from sanic.http import Http

    parse = Http.http1_request_header
    if not getattr(parse, "hardened", False):
        async def http1_request_header(self: Http) -> None:
            try:
                await parse(self)
            except ValueError:  # int() of a Content-Length that is not a number
                self.keep_alive = False
                raise InvalidUsage("Bad Request: invalid Content-Length") from None
            # request_body is True only once Sanic has set request_bytes_left to an int
            if self.request_body is True and self.request_bytes_left < 0:  # type: ignore[operator]
                self.keep_alive = False
                self.request_body, self.request_bytes_left = None, 0  # and nothing for Sanic to drain
                raise InvalidUsage("Bad Request: invalid Content-Length")

        http1_request_header.hardened = True  # type: ignore[attr-defined]
        http1_request_header.__wrapped__ = parse  # type: ignore[attr-defined]
        Http.http1_request_header = http1_request_header  # type: ignore[method-assign]

    parse_accept = sanic.request.parse_accept
    if not getattr(parse_accept, "hardened", False):
        def lenient_parse_accept(accept: str) -> Any:
            try:
                return parse_accept(accept)
            except ValueError:
                return parse_accept("*/*")

        lenient_parse_accept.hardened = True  # type: ignore[attr-defined]
        lenient_parse_accept.__wrapped__ = parse_accept  # type: ignore[attr-defined]
        sanic.request.parse_accept = lenient_parse_accept


async def sanic_listener(_app: Any, _loop: Any) -> None:
    """`before_server_start` listener that applies the Sanic fixes (after Sanic's touchup)."""
    apply_sanic_hardening()


# --- 4. Rasa: SQLite tracker store on a pooled WAL engine ------------------------------------------

def tune_sqlite_tracker_store(store: Any) -> None:
    """Replace a SQLTrackerStore's engine and sessionmaker by a pooled engine in WAL mode with
    synchronous=NORMAL (SQLite files only).

    Measured under load (py-spy, FAQ turns): with SQLAlchemy 1.4's default for SQLite files (no
    pool, rollback journal) opening, committing (fsync) and closing a connection per query took half
    of the Rasa server's time. Pooled WAL connections commit without an fsync; a power cut may lose
    the last turns but never corrupts the file, and readers (reports) never block the writer.
    """
    check("rasa.sqlite_tracker_engine")
    import sqlalchemy as sa
    from sqlalchemy import event
    from sqlalchemy.pool import QueuePool

    if not isinstance(getattr(store, "engine", None), sa.engine.Engine) or not hasattr(store, "sessionmaker"):
        raise PatchError("patch rasa.sqlite_tracker_engine: SQLTrackerStore no longer keeps `engine` and "
                         "`sessionmaker` on the instance")
    url = store.engine.url
    store.engine.dispose()
    store.engine = sa.create_engine(url, poolclass=QueuePool, pool_size=4, max_overflow=4,
                                    connect_args={"check_same_thread": False, "timeout": 30})

    @event.listens_for(store.engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    store.sessionmaker = sa.orm.session.sessionmaker(bind=store.engine)


# --- where they are applied ------------------------------------------------------------------------

def apply_rasa_server() -> None:
    """The Rasa server's start-up (bot.rasa_main): every guard checked, the Rasa patch applied; the
    Sanic fixes follow from `sanic_listener` once Sanic has started (see the module docstring)."""
    check_all()
    apply_action_response_validator()
