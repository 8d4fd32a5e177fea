# Sphinx configuration of the collection's docs site, built by `make docs` into build/docs/html with
# antsibull-docs (the RST of the modules, the role and docs/docsite/) and the Ansible theme. It builds offline:
# there is no intersphinx. The few labels of Ansible's own docs that antsibull-docs links to resolve to their
# docs.ansible.com pages here (missing-reference below); any other unresolved reference fails the build (-W).
from __future__ import annotations

from docutils import nodes

project = "idmops.pingidm"
copyright = "idmops.pingidm contributors"  # Sphinx reads this name (it shadows the builtin on purpose)
title = "idmops.pingidm collection documentation"
html_short_title = "idmops.pingidm"

extensions = ["sphinx_antsibull_ext"]

pygments_style = "ansible"
highlight_language = "YAML+Jinja"

html_theme = "sphinx_ansible_theme"
html_show_sphinx = False
display_version = False
html_use_smartypants = True
html_use_modindex = False
html_use_index = False
html_copy_source = False

default_role = "any"
nitpicky = True

ANSIBLE_DOCS = "https://docs.ansible.com/projects/ansible/latest/"
ANSIBLE_LABELS = {
    "ansible_configuration_settings": "reference_appendices/config.html#ansible-configuration-settings",
    "action_plugins": "plugins/action.html",
    "common_return_values": "reference_appendices/common_return_values.html",
}
BUILTIN_PREFIX = "ansible_collections.ansible.builtin."


def _ansible_docs_link(app, env, node, contnode):
    """Resolve the labels of Ansible's docs (which intersphinx would fetch) to their URLs."""
    target = node.get("reftarget", "")
    page = ANSIBLE_LABELS.get(target)
    if page is None and target.startswith(BUILTIN_PREFIX):
        name, _sep, kind = target[len(BUILTIN_PREFIX) :].rpartition("_")
        page = f"collections/ansible/builtin/{name}_{kind}.html" if name else None
    if page is None:
        return None
    reference = nodes.reference("", "", internal=False, refuri=ANSIBLE_DOCS + page)
    reference += contnode
    return reference


def setup(app):
    app.connect("missing-reference", _ansible_docs_link)
