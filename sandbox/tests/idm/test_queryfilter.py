"""CREST _queryFilter parser and matcher."""

from __future__ import annotations

import pytest

from sandbox.idm import queryfilter
from sandbox.idm.errors import IdmError

USER = {
    "_id": "1",
    "userName": "BJensen",
    "age": 42,
    "active": True,
    "nothing": None,
    "emails": [{"value": "b@example.com", "primary": True}, {"value": "bj@other.org"}],
    "name": {"givenName": "Barbara", "familyName": "Jensen"},
    "tags": ["a", "b"],
}


def match(text, obj=USER, ci=True):
    return queryfilter.matches(queryfilter.parse(text), obj, case_insensitive=ci)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("true", True),
        ("false", False),
        ('userName eq "bjensen"', True),
        ('/userName eq "BJensen"', True),
        ("userName eq 'bjensen'", True),
        ('userName co "jen"', True),
        ('userName sw "bj"', True),
        ('userName sw "jen"', False),
        ("age gt 41", True),
        ("age ge 42", True),
        ("age lt 42", False),
        ("age le 42", True),
        ('age gt "41"', False),
        ("active eq true", True),
        ("active eq 1", False),
        ("userName pr", True),
        ("nothing pr", False),
        ("missing pr", False),
        ('name/givenName eq "barbara"', True),
        ('emails/value eq "bj@other.org"', True),
        ('tags eq "b"', True),
        ('userName eq "x" or age eq 42', True),
        ('userName eq "x" or age eq 42 and active eq false', False),
        ('(userName eq "x" or age eq 42) and active eq true', True),
        ('!(userName eq "x")', True),
        ("! userName pr", False),
        ('userName eq "a \\"quoted\\" value"', False),
        ("nothing eq null", True),
    ],
)
def test_matches(text, expected):
    assert match(text) is expected


def test_case_sensitive_mode_for_config():
    assert match('userName eq "bjensen"', ci=False) is False
    assert match('userName eq "BJensen"', ci=False) is True


@pytest.mark.parametrize(
    "text",
    [
        "",
        "userName",
        "userName eq",
        'userName like "x"',
        "(true",
        "true)",
        'userName eq {"a":1}',
        "a eq 1 and",
        'userName eq "unterminated',
    ],
)
def test_invalid_filters_are_400(text):
    with pytest.raises(IdmError) as err:
        queryfilter.parse(text)
    assert err.value.code == 400


def test_pointers_lists_fields_read():
    node = queryfilter.parse('roles/_refResourceId eq "r" and !(mail pr)')
    assert list(queryfilter.pointers(node)) == [["roles", "_refResourceId"], ["mail"]]
