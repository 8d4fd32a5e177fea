# -*- coding: utf-8 -*-
# Copyright (c) idmops.pingidm contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Action plugins config/connector/mapping: template search, rendering, parsing, hand-over to the module."""

from __future__ import annotations

import json
import os
from unittest.mock import MagicMock

import pytest

from ansible.errors import AnsibleActionFail
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar

from ansible_collections.idmops.pingidm.plugins.action import config as config_action
from ansible_collections.idmops.pingidm.plugins.action import connector as connector_action
from ansible_collections.idmops.pingidm.plugins.action import mapping as mapping_action
from ansible_collections.idmops.pingidm.plugins.plugin_utils import _render

SECRET = "tmpl-Secr3t-value"


@pytest.fixture
def playbook_dir(tmp_path):
    (tmp_path / "templates").mkdir()
    return tmp_path


def make_action(action_module, args, playbook_dir, resolved="idmops.pingidm.config"):
    task = MagicMock()
    task.args = args
    task.action = resolved.split(".")[-1]
    task.resolved_action = resolved
    task.async_val = 0
    task.check_mode = False
    task.diff = False
    task.get_search_path.return_value = [str(playbook_dir)]
    loader = DataLoader()
    loader.set_basedir(str(playbook_dir))
    action = action_module.ActionModule(task, MagicMock(), MagicMock(), loader, Templar(loader=loader), MagicMock())
    calls = []

    def execute_module(module_name=None, module_args=None, task_vars=None, **kwargs):
        calls.append((module_name, module_args))
        return {"changed": False, "module_args_seen": sorted(module_args)}

    action._execute_module = execute_module
    return action, calls


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


def test_jinja_syntax_error(playbook_dir):
    write(playbook_dir, "bad.json.j2", '{"a": "{{ secret }}", "b": {% if %}}')
    action, calls = make_action(config_action, {"id": "x", "template": "bad.json.j2"}, playbook_dir)
    with pytest.raises(AnsibleActionFail) as info:
        action.run(task_vars={"secret": SECRET})
    assert "Rendering template" in str(info.value) and "bad.json.j2" in str(info.value)
    assert SECRET not in str(info.value) and calls == []


def test_undefined_variable(playbook_dir):
    write(playbook_dir, "undef.json.j2", '{"a": "{{ not_defined_var }}"}')
    action, _calls = make_action(config_action, {"id": "x", "template": "undef.json.j2"}, playbook_dir)
    with pytest.raises(AnsibleActionFail) as info:
        action.run(task_vars={})
    assert "not_defined_var" in str(info.value)


def test_invalid_json_reports_line_and_column_without_content(playbook_dir):
    write(playbook_dir, "trailing.json.j2", '{\n  "clientSecret": "{{ secret }}",\n}\n')
    action, calls = make_action(config_action, {"id": "x", "template": "trailing.json.j2"}, playbook_dir)
    with pytest.raises(AnsibleActionFail) as info:
        action.run(task_vars={"secret": SECRET})
    text = str(info.value)
    assert "did not render valid JSON" in text and "line 3 column 1" in text
    assert SECRET not in text and calls == []


def test_invalid_yaml_reports_position(playbook_dir):
    write(playbook_dir, "bad.yml.j2", "a: [1, 2\nb: {{ secret }}\n")
    action, _calls = make_action(config_action, {"id": "x", "template": "bad.yml.j2"}, playbook_dir)
    with pytest.raises(AnsibleActionFail) as info:
        action.run(task_vars={"secret": SECRET})
    assert "neither JSON nor valid YAML" in str(info.value) and "line" in str(info.value)
    assert SECRET not in str(info.value)


def test_empty_render_and_wrong_type(playbook_dir):
    write(playbook_dir, "empty.j2", "{% if false %}x{% endif %}\n")
    action, _calls = make_action(config_action, {"id": "x", "template": "empty.j2"}, playbook_dir)
    with pytest.raises(AnsibleActionFail, match="empty document"):
        action.run(task_vars={})
    write(playbook_dir, "list.json.j2", "[1, 2]")
    action, _calls = make_action(config_action, {"id": "x", "template": "list.json.j2"}, playbook_dir)
    with pytest.raises(AnsibleActionFail, match="must render a JSON object for option config, not list"):
        action.run(task_vars={})


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
