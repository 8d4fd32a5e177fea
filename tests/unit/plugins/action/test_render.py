# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugins config/connector/mapping: template search, rendering, parsing, hand-over to the module."""

from __future__ import annotations

import json
import os

import pytest

from ansible.errors import AnsibleActionFail

from ansible_collections.idmops.pingidm.plugins.action import config as config_action
from ansible_collections.idmops.pingidm.plugins.action import connector as connector_action
from ansible_collections.idmops.pingidm.plugins.action import mapping as mapping_action
from ansible_collections.idmops.pingidm.plugins.plugin_utils import _render
from ansible_collections.idmops.pingidm.tests.unit.action_harness import make_action

SECRET = "tmpl-Secr3t-value"


@pytest.fixture
def playbook_dir(tmp_path):
    (tmp_path / "templates").mkdir()
    return tmp_path


def write(playbook_dir, name, text):
    path = playbook_dir / "templates" / name
    path.write_text(text)
    return path


def test_renders_json_template_with_task_vars(playbook_dir):
    write(
        playbook_dir,
        "scim.json.j2",
        '{"configurationProperties": {"SCIMEndpoint": "{{ endpoint }}", "clientSecret": "{{ secret }}",\n'
        ' "maximumConnections": {{ pool | int }}}{% if extra %}, "enabled": true{% endif %}}\n',
    )
    action, calls = make_action(
        connector_action, {"name": "scim", "template": "scim.json.j2"}, playbook_dir, "idmops.pingidm.connector"
    )
    result = action.run(task_vars={"endpoint": "http://scim", "secret": SECRET, "pool": "7", "extra": True})
    module_name, module_args = calls[0]
    assert module_name == "idmops.pingidm.connector"
    assert "template" not in module_args and module_args["name"] == "scim"
    assert module_args["config"] == {
        "configurationProperties": {"SCIMEndpoint": "http://scim", "clientSecret": SECRET, "maximumConnections": 7},
        "enabled": True,
    }
    assert result["module_args_seen"] == ["config", "name"]


def test_yaml_template(playbook_dir):
    write(playbook_dir, "managed.yml.j2", "objects:\n  - name: {{ obj }}\n    enabled: true\n")
    action, calls = make_action(config_action, {"id": "managed", "template": "managed.yml.j2"}, playbook_dir)
    action.run(task_vars={"obj": "user"})
    assert calls[0][1]["config"] == {"objects": [{"name": "user", "enabled": True}]}


def test_falls_back_to_collection_conf_templates(playbook_dir, tmp_path_factory, monkeypatch):
    conf = tmp_path_factory.mktemp("conf_templates")
    (conf / "only-in-collection.json.j2").write_text('{"a": {{ n }}}')
    monkeypatch.setattr(_render, "COLLECTION_TEMPLATES", str(conf))
    action, calls = make_action(config_action, {"id": "x", "template": "only-in-collection.json.j2"}, playbook_dir)
    action.run(task_vars={"n": 3})
    assert calls[0][1]["config"] == {"a": 3}


def test_playbook_template_wins_over_collection(playbook_dir, tmp_path_factory, monkeypatch):
    conf = tmp_path_factory.mktemp("conf_templates")
    (conf / "t.json.j2").write_text('{"from": "collection"}')
    write(playbook_dir, "t.json.j2", '{"from": "playbook"}')
    monkeypatch.setattr(_render, "COLLECTION_TEMPLATES", str(conf))
    action, calls = make_action(config_action, {"id": "x", "template": "t.json.j2"}, playbook_dir)
    action.run(task_vars={})
    assert calls[0][1]["config"] == {"from": "playbook"}


def test_collection_conf_templates_dir_is_the_repo_root_one():
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__)))))
    assert os.path.realpath(_render.COLLECTION_TEMPLATES) == os.path.realpath(os.path.join(root, "conf_templates"))


def test_missing_template_lists_where_it_looked(playbook_dir):
    action, calls = make_action(config_action, {"id": "x", "template": "nope.json.j2"}, playbook_dir)
    with pytest.raises(AnsibleActionFail) as info:
        action.run(task_vars={})
    assert "Template nope.json.j2 not found" in str(info.value) and "conf_templates" in str(info.value)
    assert calls == []


@pytest.mark.parametrize(
    "name, text, expected",
    [
        ("bad.json.j2", '{"a": "{{ secret }}", "b": {% if %}}', ["Rendering template", "bad.json.j2"]),
        ("undef.json.j2", '{"a": "{{ not_defined_var }}"}', ["not_defined_var"]),
        (
            "trailing.json.j2",
            '{\n  "clientSecret": "{{ secret }}",\n}\n',
            ["did not render valid JSON", "line 3 column 1"],
        ),
        ("bad.yml.j2", "a: [1, 2\nb: {{ secret }}\n", ["neither JSON nor valid YAML", "line"]),
        ("empty.j2", "{% if false %}x{% endif %}\n", ["empty document"]),
        ("list.json.j2", "[1, 2]", ["must render a JSON object for option config, not list"]),
    ],
)
def test_a_template_that_renders_no_document_fails_without_showing_values(playbook_dir, name, text, expected):
    write(playbook_dir, name, text)
    action, calls = make_action(config_action, {"id": "x", "template": name}, playbook_dir)
    with pytest.raises(AnsibleActionFail) as info:
        action.run(task_vars={"secret": SECRET})
    for fragment in expected:
        assert fragment in str(info.value)
    assert SECRET not in str(info.value) and calls == []


def test_template_and_data_option_are_exclusive(playbook_dir):
    action, _calls = make_action(config_action, {"id": "x", "template": "t.j2", "config": {}}, playbook_dir)
    with pytest.raises(AnsibleActionFail, match="mutually exclusive"):
        action.run(task_vars={})


def test_without_template_args_pass_through(playbook_dir):
    action, calls = make_action(config_action, {"id": "x", "config": {"a": 1}}, playbook_dir)
    action.run(task_vars={})
    assert calls == [("idmops.pingidm.config", {"id": "x", "config": {"a": 1}})]


@pytest.mark.parametrize(
    "rendered, expected",
    [
        ({"mappings": [{"name": "a"}]}, {"mappings": [{"name": "a"}]}),
        ([{"name": "a"}, {"name": "b"}], {"mappings": [{"name": "a"}, {"name": "b"}]}),
        ({"name": "a", "source": "s"}, {"mapping": {"name": "a", "source": "s"}, "name": "a"}),
    ],
)
def test_mapping_shapes(playbook_dir, rendered, expected):
    write(playbook_dir, "sync.json.j2", json.dumps(rendered))
    action, calls = make_action(
        mapping_action, {"template": "sync.json.j2", "prune": True}, playbook_dir, "idmops.pingidm.mapping"
    )
    action.run(task_vars={})
    expected = dict(expected, prune=True)
    assert calls[0][1] == expected


def test_mapping_rejects_scalar(playbook_dir):
    write(playbook_dir, "n.json.j2", "42")
    action, _calls = make_action(mapping_action, {"template": "n.json.j2"}, playbook_dir, "idmops.pingidm.mapping")
    with pytest.raises(AnsibleActionFail):
        action.run(task_vars={})
