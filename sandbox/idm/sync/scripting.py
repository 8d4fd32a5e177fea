"""Running mapping scripts through the core's ``scripts.evaluate(script, bindings)``.

Only ``text/javascript`` runs (quickjs); any other type (groovy, ...) fails the entry that needs it with a clear
message, as the brief asks. Scripts that IDM lets modify a binding in place (``onCreate``/``onUpdate`` change
``target``) are run with ``;target`` appended so the modified object comes back as the script's value.
"""

from ..errors import IdmError


class ScriptError(Exception):
    """A mapping script failed or cannot run here."""


class ScriptRunner:
    def __init__(self, scripts):
        self.scripts = scripts

    @staticmethod
    def check(script, where):
        if not isinstance(script, dict):
            raise ScriptError(f"{where}: a script must be an object with 'type' and 'source' or 'file'")
        script_type = script.get("type", "text/javascript")
        if script_type != "text/javascript":
            raise ScriptError(f"{where}: script type {script_type!r} is not supported by the sandbox IDM "
                              "(only text/javascript)")
        if "source" not in script and "file" not in script:
            raise ScriptError(f"{where}: the script has neither 'source' nor 'file'")

    def run(self, script, bindings, where):
        self.check(script, where)
        try:
            return self.scripts.evaluate(script, bindings)
        except ScriptError:
            raise
        except IdmError as exc:
            raise ScriptError(f"{where}: {exc.message}") from None
        except Exception as exc:  # pylint: disable=broad-except
            raise ScriptError(f"{where}: {exc}") from None

    def run_modifying(self, script, bindings, name, where):
        """Run a script that may change ``bindings[name]`` in place; returns the (possibly new) object."""
        self.check(script, where)
        if "source" in script:
            wrapped = dict(script)
            wrapped["source"] = f"{script['source']}\n;{name};"
            result = self.run(wrapped, bindings, where)
        else:
            result = self.run(script, bindings, where)
        return result if isinstance(result, dict) else bindings[name]
