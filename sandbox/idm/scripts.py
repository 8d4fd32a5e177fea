"""JavaScript for the sandbox IDM (``script?_action=eval`` and the sync engine's transforms, conditions, ...).

IDM runs Rhino; the sandbox runs QuickJS (ES2023, a superset for the scripts that matter here). Each thread keeps
its own Contexts (QuickJS contexts are not thread-safe), one per nesting level so a script that calls
``openidm.create`` which triggers another script does not re-enter a busy context.

A script is evaluated like IDM does: the value of its last expression statement is the result. Bindings and the
script's ``globals`` are visible as variables (through ``with``); ``var`` declarations stay local to one run, so
runs do not leak into each other. Values cross the boundary as JSON.

Globals: ``openidm`` (create, read, update, patch, delete, query, action through the InternalRouter; encrypt,
decrypt, isEncrypted), ``logger`` (debug/info/warn/error with ``{}`` placeholders, to the server log) and a minimal
``identityServer.getProperty(name, default)``.

Limits: 64 MB per context; a time limit (default 5 s) for scripts that do not call back into Python. QuickJS
cannot call into Python while a time limit is armed, so scripts that mention ``openidm``/``logger``/
``identityServer`` run without one (documented in sandbox/README.md).

Errors: a thrown object with a numeric ``code`` (``throw {code: 403, message: "..."}``) becomes an ``IdmError``
with that status; errors from ``openidm.*`` calls keep their status; syntax errors are 400; any other exception
is 500 with ``"<Name>: <message>"``.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from typing import Any

import quickjs

from .crypto import Crypto
from .errors import IdmError
from .router import InternalRouter

log = logging.getLogger("sandbox.idm.script")

SUPPORTED_TYPE = "text/javascript"
_NEEDS_PYTHON = re.compile(r"\b(openidm|logger|identityServer)\b")

_PRELUDE = r"""
var __run = function (__src, __bindingsJson) {
  var __bindings = JSON.parse(__bindingsJson);
  try {
    var __result;
    with (__bindings) { __result = eval(__src); }
    return JSON.stringify({v: __result});
  } catch (e) {
    var err = {name: "Error", message: String(e)};
    if (e !== null && typeof e === "object") {
      err.name = e.name || (e instanceof Error ? "Error" : "Thrown");
      err.message = e.message !== undefined ? String(e.message) : JSON.stringify(e);
      if (typeof e.code === "number") { err.code = e.code; }
      if (e.detail !== undefined) { err.detail = e.detail; }
      if (e.reason !== undefined && err.message === undefined) { err.message = String(e.reason); }
    } else if (typeof e === "string") {
      err.name = "Thrown";
    }
    return JSON.stringify({e: err});
  }
};
var __compile = function (__src) {
  try { new Function(__src); return null; } catch (e) { return String(e); }
};
var __call = function (op, args) {
  var r = JSON.parse(__idm(op, JSON.stringify(args)));
  if (r.error) {
    var e = new Error(r.error.message);
    e.code = r.error.code;
    if (r.error.detail !== undefined) { e.detail = r.error.detail; }
    throw e;
  }
  return r.ok;
};
var openidm = {
  create: function (resource, id, value, params, fields) {
    return __call("create", [resource, id, value, params, fields]);
  },
  read: function (resource, params, fields) { return __call("read", [resource, params, fields]); },
  update: function (resource, rev, value, params, fields) {
    return __call("update", [resource, rev, value, params, fields]);
  },
  patch: function (resource, rev, value, params, fields) {
    return __call("patch", [resource, rev, value, params, fields]);
  },
  "delete": function (resource, rev, params, fields) {
    return __call("delete", [resource, rev, params, fields]);
  },
  query: function (resource, params, fields) { return __call("query", [resource, params, fields]); },
  action: function (resource, actionName, content, params, fields) {
    return __call("action", [resource, actionName, content, params, fields]);
  },
  encrypt: function (value, cipher, alias) { return __call("encrypt", [value, cipher, alias]); },
  decrypt: function (value) { return __call("decrypt", [value]); },
  isEncrypted: function (value) { return __call("isEncrypted", [value]); }
};
var __fmt = function (args) {
  var parts = Array.prototype.slice.call(args);
  var text = String(parts.shift());
  return text.replace(/\{\}/g, function () {
    if (!parts.length) { return "{}"; }
    var v = parts.shift();
    return (v !== null && typeof v === "object") ? JSON.stringify(v) : String(v);
  });
};
var logger = {
  debug: function () { __log("debug", __fmt(arguments)); },
  trace: function () { __log("debug", __fmt(arguments)); },
  info: function () { __log("info", __fmt(arguments)); },
  warn: function () { __log("warning", __fmt(arguments)); },
  error: function () { __log("error", __fmt(arguments)); }
};
var identityServer = {
  getProperty: function (name, dflt) {
    var v = __call("property", [name]); return v === null ? (dflt === undefined ? null : dflt) : v;
  }
};
"""


def _script_parts(script: Any) -> tuple[str, dict[str, Any]]:
    """``(source, globals)`` of an IDM script object (or a bare source string); 400 for what the sandbox can't run."""
    if isinstance(script, str):
        return script, {}
    if not isinstance(script, dict):
        raise IdmError(400, "A script must be an object with 'type' and 'source'")
    script_type = script.get("type", SUPPORTED_TYPE)
    if script_type != SUPPORTED_TYPE:
        raise IdmError(400, f"Script type '{script_type}' is not supported by the sandbox; only {SUPPORTED_TYPE}")
    if "source" not in script:
        if "file" in script:
            raise IdmError(400, f"Script files are not supported by the sandbox ({script['file']}); inline 'source'")
        raise IdmError(400, "The script has no 'source'")
    source = script["source"]
    if isinstance(source, list):  # IDM accepts an array of lines in config files
        source = "\n".join(source)
    if not isinstance(source, str):
        raise IdmError(400, "The script 'source' must be a string")
    return source, script.get("globals") or {}


class ScriptEngine:
    def __init__(
        self,
        router: InternalRouter,
        crypto: Crypto | None,
        time_limit: float = 5.0,
        memory_limit: int = 64 * 1024 * 1024,
        properties: dict[str, Any] | None = None,
    ) -> None:
        self.router = router
        self.crypto = crypto
        self.time_limit = time_limit
        self.memory_limit = memory_limit
        self.properties = dict(properties or {})
        self._local = threading.local()

    # --- contexts --------------------------------------------------------------------------------------------------
    def _context(self, depth):
        contexts = getattr(self._local, "contexts", None)
        if contexts is None:
            contexts = self._local.contexts = []
        while len(contexts) <= depth:
            ctx = self.new_context()
            contexts.append((ctx, ctx.get("__run"), ctx.get("__compile")))
        return contexts[depth]

    def new_context(self) -> quickjs.Context:
        """A QuickJS context with the ``openidm``/``logger``/``identityServer`` globals bound to this engine (the
        sync engine compiles its mapping scripts into such contexts). Not thread-safe: one per thread."""
        ctx = quickjs.Context()
        ctx.set_memory_limit(self.memory_limit)
        ctx.add_callable("__idm", self._bridge)
        ctx.add_callable("__log", self._log)
        ctx.eval(_PRELUDE)
        return ctx

    # --- public API ------------------------------------------------------------------------------------------------
    def evaluate(self, script: Any, bindings: dict[str, Any] | None = None) -> Any:
        """Run an IDM script object with plain-JSON ``bindings``; returns the plain-JSON result."""
        source, script_globals = _script_parts(script)
        variables = dict(script_globals)
        if bindings:
            variables.update(bindings)
        try:
            bindings_json = json.dumps(variables)
        except (TypeError, ValueError) as exc:
            raise IdmError(500, f"Script bindings are not JSON: {exc}") from None
        depth = getattr(self._local, "depth", 0)
        ctx, run, _ = self._context(depth)
        self._local.depth = depth + 1
        timed = not _NEEDS_PYTHON.search(source)
        try:
            ctx.set_time_limit(self.time_limit if timed else -1)
            raw = run(source, bindings_json)
        except quickjs.JSException as exc:
            message = str(exc).splitlines()[0]
            if "interrupted" in message:
                raise IdmError(500, f"Script timed out after {self.time_limit} s") from None
            raise IdmError(500, f"Script failed: {message}") from None
        finally:
            if timed:
                ctx.set_time_limit(-1)
            self._local.depth = depth
        outcome = json.loads(raw)
        if "e" in outcome:
            raise self._error(outcome["e"])
        return outcome.get("v")

    def compile(self, script: Any) -> bool:
        """True when the source parses; 400 with the syntax error otherwise."""
        source, _ = _script_parts(script)
        _, _, compile_fn = self._context(getattr(self._local, "depth", 0))
        error = compile_fn(source)
        if error is not None:
            raise IdmError(400, f"Script compilation failed: {error}")
        return True

    @staticmethod
    def _error(err):
        if isinstance(err.get("code"), int) and 100 <= err["code"] <= 599:
            return IdmError(err["code"], err.get("message") or None, err.get("detail"))
        if err.get("name") == "SyntaxError":
            return IdmError(400, f"Script compilation failed: SyntaxError: {err.get('message')}")
        return IdmError(500, f"{err.get('name', 'Error')}: {err.get('message')}")

    # --- callbacks from JavaScript ---------------------------------------------------------------------------------
    def _log(self, level, message):
        log.log(getattr(logging, str(level).upper(), logging.INFO), "%s", message)

    def _bridge(self, op, args_json):
        try:
            args = json.loads(args_json)
            return json.dumps({"ok": self._dispatch(op, args)})
        except IdmError as exc:
            return json.dumps({"error": {"code": exc.code, "message": exc.message, "detail": exc.detail}})
        except Exception as exc:
            log.exception("openidm.%s failed", op)
            return json.dumps({"error": {"code": 500, "message": f"openidm.{op} failed: {type(exc).__name__}"}})

    def _dispatch(self, op, args):
        args = list(args) + [None] * 5
        router = self.router
        if op == "read":
            resource, _params, fields = args[:3]
            try:
                return router.read(resource, None, fields=_fields(fields))
            except IdmError as exc:
                if exc.code == 404:
                    return None  # IDM's openidm.read returns null for a missing object
                raise
        if op == "create":
            resource, obj_id, value = args[:3]
            return router.create(resource, value, id=obj_id)
        if op == "update":
            resource, rev, value = args[:3]
            return router.update(resource, None, value, rev=rev)
        if op == "patch":
            resource, rev, value = args[:3]
            return router.patch(resource, None, value, rev=rev)
        if op == "delete":
            resource, rev = args[:2]
            return router.delete(resource, None, rev=rev)
        if op == "query":
            resource, params, fields = args[:3]
            params = params or {}
            query_filter = params.get("_queryFilter")
            if params.get("_queryId") == "query-all-ids":
                query_filter, fields = "true", fields or ["_id"]
            elif query_filter is None:
                raise IdmError(400, "openidm.query needs _queryFilter or _queryId=query-all-ids")
            page_size = params.get("_pageSize")
            return router.query(
                resource,
                query_filter,
                fields=_fields(fields),
                page_size=int(page_size) if page_size else None,
                cookie=params.get("_pagedResultsCookie"),
            )
        if op == "action":
            resource, action_name, content, params = args[:4]
            return router.action(resource, action_name, params or {}, content)
        if op == "encrypt":
            value, _cipher, alias = args[:3]
            return self.crypto.encrypt(value, purpose=alias) if alias else self.crypto.encrypt(value)
        if op == "decrypt":
            return self.crypto.decrypt(args[0])
        if op == "isEncrypted":
            return isinstance(args[0], dict) and isinstance(args[0].get("$crypto"), dict)
        if op == "property":
            return self.properties.get(args[0])
        raise IdmError(400, f"Unknown openidm function {op}")


def _fields(fields):
    if fields is None:
        return None
    if isinstance(fields, str):
        return [f.strip() for f in fields.split(",") if f.strip()]
    return list(fields)


_engine_lock = threading.Lock()
_default_engine = None


def evaluate(script: Any, bindings: dict[str, Any] | None = None, engine: ScriptEngine | None = None) -> Any:
    """Module-level helper for the sync engine: ``scripts.evaluate(script_obj, bindings)``.

    Uses ``engine`` (normally ``server.scripts``) when given, else a router-less engine for pure functions
    (``openidm.*`` calls then fail with 500).
    """
    global _default_engine
    if engine is None:
        with _engine_lock:
            if _default_engine is None:
                _default_engine = ScriptEngine(router=_NoRouter(), crypto=None)
            engine = _default_engine
    return engine.evaluate(script, bindings)


class _NoRouter:
    def __getattr__(self, name):
        def fail(*_args, **_kwargs):
            raise IdmError(500, "No IDM router bound to this script engine")

        return fail
