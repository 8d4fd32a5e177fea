"""script?_action=eval|compile and scripts.evaluate for the sync engine."""

from __future__ import annotations

import logging
import threading

import pytest

from sandbox.idm import scripts
from sandbox.idm.errors import IdmError
from sandbox.tests.idm.sync_helpers import minimal_policy


def js(source, **globals_):
    return {"type": "text/javascript", "source": source, "globals": globals_}


def test_eval_endpoint_returns_value_and_globals(idm_server):
    response = idm_server.request("POST", "script?_action=eval", json=js("var o = {n: x * 2, s: 'a'}; o;", x=21))
    assert response.status_code == 200 and response.json() == {"n": 42, "s": "a"}
    assert idm_server.request("POST", "script?_action=eval", json=js("var nothing;")).json() is None


def test_compile_endpoint(idm_server):
    assert idm_server.request("POST", "script?_action=compile", json=js("1 + 1")).json() is True
    bad = idm_server.request("POST", "script?_action=compile", json=js("var = ;"))
    assert bad.status_code == 400 and "SyntaxError" in bad.json()["message"]


def test_unsupported_type_file_and_action(idm_server):
    groovy = idm_server.request("POST", "script?_action=eval", json={"type": "groovy", "source": "1"})
    assert groovy.status_code == 400 and "groovy" in groovy.json()["message"]
    file_script = idm_server.request("POST", "script?_action=eval", json={"type": "text/javascript", "file": "x.js"})
    assert file_script.status_code == 400
    assert idm_server.request("POST", "script?_action=run", json=js("1")).status_code == 400
    assert idm_server.request("GET", "script").status_code == 405


def test_script_errors_map_to_statuses(idm_server):
    thrown = idm_server.request(
        "POST", "script?_action=eval", json=js("throw {code: 409, message: 'custom conflict', detail: {a: 1}};")
    )
    assert thrown.status_code == 409
    assert thrown.json() == {"code": 409, "reason": "Conflict", "message": "custom conflict", "detail": {"a": 1}}
    runtime = idm_server.request("POST", "script?_action=eval", json=js("undefinedVar.x"))
    assert runtime.status_code == 500 and "ReferenceError" in runtime.json()["message"]
    policy = idm_server.request(
        "POST", "script?_action=eval", json=js("openidm.create('managed/user', null, {mail: 'x'})")
    )
    assert policy.status_code == 403 and policy.json()["message"] == "Failed policy validation"


def test_openidm_functions_through_router(idm_server):
    minimal_policy(idm_server)
    source = """
    var created = openidm.create('managed/user', 'js1', {userName: 'fromjs'});
    openidm.patch('managed/user/js1', null, [{operation: 'replace', field: '/mail', value: 'js@x'}]);
    var read = openidm.read('managed/user/js1');
    var missing = openidm.read('managed/user/none');
    var q = openidm.query('managed/user', {_queryFilter: 'userName eq "FROMJS"'});
    var ids = openidm.query('managed/user', {_queryId: 'query-all-ids'});
    var updated = openidm.update('managed/user/js1', read._rev, {userName: 'fromjs', mail: 'new@x'});
    var deleted = openidm['delete']('managed/user/js1', null);
    var enc = openidm.encrypt('s3', null, 'idm.password.encryption');
    ({created: created._id, mail: read.mail, missing: missing, count: q.resultCount, ids: ids.result.length,
      updatedMail: updated.mail, deleted: deleted.userName, isEnc: openidm.isEncrypted(enc),
      clear: openidm.decrypt(enc), plainIsEnc: openidm.isEncrypted('x')});
    """
    result = idm_server.request("POST", "script?_action=eval", json=js(source)).json()
    assert result == {
        "created": "js1",
        "mail": "js@x",
        "missing": None,
        "count": 1,
        "ids": 1,
        "updatedMail": "new@x",
        "deleted": "fromjs",
        "isEnc": True,
        "clear": "s3",
        "plainIsEnc": False,
    }


def test_logger_goes_to_server_log(idm_server, caplog):
    with caplog.at_level(logging.INFO, logger="sandbox.idm.script"):
        idm_server.request("POST", "script?_action=eval", json=js("logger.info('hello {} {}', 'a', {b: 1}); 1"))
    assert 'hello a {"b":1}' in caplog.text


def test_evaluate_api_isolation_and_bindings(idm_server):
    engine = idm_server.server.scripts
    transform = {"type": "text/javascript", "source": "source.toLowerCase()"}
    assert engine.evaluate(transform, {"source": "ABC"}) == "abc"
    assert engine.evaluate(js("var leaked = 1; leaked")) == 1
    assert engine.evaluate(js("typeof leaked")) == "undefined"
    # Bindings win over script globals; earlier bindings do not leak into later runs.
    assert engine.evaluate(js("x", x=1), {"x": 2}) == 2
    assert engine.evaluate(js("typeof source")) == "undefined"
    correlation = js("var q = {'_queryFilter': 'mail eq \"' + source.mail + '\"'}; q;")
    assert engine.evaluate(correlation, {"source": {"mail": "a@b"}}) == {"_queryFilter": 'mail eq "a@b"'}
    assert scripts.evaluate("1 + 2") == 3
    assert scripts.evaluate({"type": "text/javascript", "source": ["var a = 2;", "a * 3"]}) == 6


def test_time_limit_on_pure_scripts(idm_server):
    engine = scripts.ScriptEngine(idm_server.server.router, idm_server.server.crypto, time_limit=0.2)
    with pytest.raises(IdmError) as err:
        engine.evaluate(js("while (true) {}"))
    assert err.value.code == 500 and "timed out" in err.value.message
    assert engine.evaluate(js("1")) == 1


def test_nested_scripts_and_threads(idm_server):
    engine = idm_server.server.scripts
    results = []

    def work(n):
        results.append(engine.evaluate(js("source * 2"), {"source": n}))

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == [n * 2 for n in range(8)]
    # A script whose openidm call re-enters the engine (as implicit sync would) uses a second context.
    idm_server.server.router.register("echo", _EchoProvider(engine))
    assert engine.evaluate(js("openidm.action('echo', 'run', {v: 5}) + 1")) == 11


class _EchoProvider:
    def __init__(self, engine):
        self.engine = engine

    def action(self, resource, action, params=None, body=None, context=None):
        return self.engine.evaluate(js("v * 2"), body)
