"""Running mapping scripts (transforms, conditions, correlation queries, policies, onCreate, ...).

Only ``text/javascript`` runs (QuickJS); any other type (groovy, ...) fails the entry that needs it with a clear
message. Scripts that IDM lets modify a binding in place (``onCreate``/``onUpdate`` change ``target``) are run
with ``;target`` appended so the modified object comes back as the script's value.

Speed: a reconciliation evaluates the same few scripts for every entry, so each distinct source is compiled
once per thread into a JavaScript function. IDM scripts return the value of their last expression statement; the
compiler turns ``<statements>; <last expression>`` into ``<statements>; return (<last expression>);`` by trying
the top-level split points from the end and keeping the first one QuickJS accepts. Scripts where no split
compiles (e.g. ending in an ``if`` block) fall back to the core engine's ``scripts.evaluate``, which evaluates the
source on every call. Both paths share the core's ``openidm``/``logger``/``identityServer`` globals (its prelude
and bridge), so ``openidm.query(...)`` inside a transform behaves the same.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from typing import Any

import quickjs

from ..errors import IdmError
from ..scripts import ScriptEngine

_WRAPPER = """(function (__bindingsJson) {
  var __bindings = JSON.parse(__bindingsJson);
  try {
    with (__bindings) { %s }
  } catch (e) {
    var err = {name: "Error", message: String(e)};
    if (e !== null && typeof e === "object") {
      err.name = e.name || "Error";
      err.message = e.message !== undefined ? String(e.message) : JSON.stringify(e);
      if (typeof e.code === "number") { err.code = e.code; }
    }
    return JSON.stringify({e: err});
  }
})"""


# Scripts that can only see their bindings give the same answer for the same bindings; their results are
# memoised per thread (a status transform sees two distinct values in 10,000 users). Anything that can observe
# the outside world or time is never memoised.
_IMPURE = re.compile(r"\b(openidm|logger|identityServer|Date|random|java|Packages|globals|this|eval|Function)\b")
MEMO_LIMIT = 4096


class ScriptError(Exception):
    """A mapping script failed or cannot run here."""


def _split_points(source: str) -> list[int]:
    """Candidate boundaries before the last statement, right to left: every ``;`` first, then every newline.

    Plain character positions (no tokenizer): a wrong candidate simply fails to compile and the next one is
    tried, once per script. A split inside a string or regex literal would need both halves to compile, which
    does not happen in practice; ASI-only scripts (statements separated by newlines) come last.
    """
    semicolons = [i for i, char in enumerate(source) if char == ";"]
    newlines = [i for i, char in enumerate(source) if char == "\n"]
    return list(reversed(semicolons)) + list(reversed(newlines))


def _function_bodies(source: str) -> Iterator[str]:
    """Candidate function bodies returning the script's completion value, best first."""
    stripped = source.strip().rstrip(";").rstrip()
    yield f"return JSON.stringify({{v: ({stripped}\n)}});"
    for point in _split_points(stripped):
        last = stripped[point + 1 :].strip()
        if last:
            yield f"{stripped[: point + 1]}\nreturn JSON.stringify({{v: ({last}\n)}});"


class ScriptRunner:
    def __init__(self, scripts: ScriptEngine) -> None:
        self.scripts = scripts
        self._local = threading.local()
        self._fallback = set()  # sources that could not be compiled into a function

    @staticmethod
    def check(script: Any, where: str) -> None:
        if not isinstance(script, dict):
            raise ScriptError(f"{where}: a script must be an object with 'type' and 'source' or 'file'")
        script_type = script.get("type", "text/javascript")
        if script_type != "text/javascript":
            raise ScriptError(
                f"{where}: script type {script_type!r} is not supported by the sandbox IDM (only text/javascript)"
            )
        if "source" not in script and "file" not in script:
            raise ScriptError(f"{where}: the script has neither 'source' nor 'file'")

    # ---- compiled path -------------------------------------------------------------------------------------
    def _context(self):
        state = getattr(self._local, "state", None)
        if state is None:
            state = self._local.state = (self.scripts.new_context(), {}, {})
        return state

    def _compiled(self, source):
        context, cache, _memo = self._context()
        function = cache.get(source)
        if function is None:
            for body in _function_bodies(source):
                try:
                    function = context.eval(_WRAPPER % body)
                    break
                except quickjs.JSException:
                    continue
            if function is None:
                self._fallback.add(source)
                return None
            cache[source] = function
        return function

    def _call_compiled(self, function, script, bindings, where):
        variables = dict(script.get("globals") or {})
        variables.update(bindings)
        try:
            bindings_json = json.dumps(variables)
        except (TypeError, ValueError) as exc:
            raise ScriptError(f"{where}: bindings are not JSON: {exc}") from None
        memo = None
        if not _IMPURE.search(script["source"] if isinstance(script["source"], str) else ""):
            memo = self._local.state[2].setdefault(script["source"], {})
            if bindings_json in memo:
                return json.loads(memo[bindings_json])
        try:
            raw = function(bindings_json)
        except quickjs.JSException as exc:
            raise ScriptError(f"{where}: {str(exc).splitlines()[0]}") from None
        outcome = json.loads(raw)
        if "e" in outcome:
            error = outcome["e"]
            raise ScriptError(f"{where}: {error.get('name', 'Error')}: {error.get('message')}")
        value = outcome.get("v")
        if memo is not None:
            if len(memo) >= MEMO_LIMIT:
                memo.clear()
            memo[bindings_json] = json.dumps(value)  # stored as text: callers may mutate what they get
        return value

    # ---- public --------------------------------------------------------------------------------------------
    def run(self, script: Any, bindings: dict[str, Any], where: str) -> Any:
        self.check(script, where)
        source = script.get("source")
        if isinstance(source, list):
            source = "\n".join(source)
        if isinstance(source, str) and source not in self._fallback:
            function = self._compiled(source)
            if function is not None:
                return self._call_compiled(function, script, bindings, where)
        try:
            return self.scripts.evaluate(script, bindings)
        except IdmError as exc:
            raise ScriptError(f"{where}: {exc.message}") from None
        except Exception as exc:
            raise ScriptError(f"{where}: {exc}") from None

    def run_modifying(self, script: Any, bindings: dict[str, Any], name: str, where: str) -> Any:
        """Run a script that may change ``bindings[name]`` in place; returns the (possibly new) object."""
        self.check(script, where)
        if "source" in script:
            source = script["source"]
            if isinstance(source, list):
                source = "\n".join(source)
            wrapped = dict(script)
            wrapped["source"] = f"{source}\n;{name};"
            result = self.run(wrapped, bindings, where)
        else:
            result = self.run(script, bindings, where)
        return result if isinstance(result, dict) else bindings[name]
