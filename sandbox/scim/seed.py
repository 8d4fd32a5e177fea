"""Deterministic seed data for the sandbox SCIM provider.

``generate(n_users, n_groups, salt)`` returns SCIM 2.0 resources (plain JSON dicts, with ``id`` but without
``meta``) that look like a small company directory:

* users with given/family names, a unique ``userName`` (``given.family`` plus a number on clashes), ``displayName``,
  a work email, work and mobile phone numbers, a ``title``, ``active`` (about 10 % inactive) and the enterprise
  extension (``employeeNumber``, ``department``, ``costCenter``, ``organization``, ``division``);
* groups named after departments and teams; every user is a member of one or two groups, and the group ``members``
  carry ``value``, ``$ref`` (relative, ``Users/<id>``), ``type`` and ``display``.

The same arguments always give the same output (a ``random.Random`` seeded from the salt, ids derived with uuid5),
so tests and benchmarks can rely on it. Nothing here touches the network or the clock.
"""

from __future__ import annotations

import random
import uuid
from typing import Any

USER_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE_SCHEMA = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"

_ID_NAMESPACE = uuid.UUID("6f1c1f40-5d0e-4c4a-9a57-9a3f1e2a7c11")

GIVEN_NAMES = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Oliver",
    "Sophia",
    "Elijah",
    "Isabella",
    "James",
    "Mia",
    "William",
    "Amelia",
    "Benjamin",
    "Harper",
    "Lucas",
    "Evelyn",
    "Henry",
    "Abigail",
    "Alexander",
    "Emily",
    "Daniel",
    "Elizabeth",
    "Michael",
    "Sofia",
    "Sebastian",
    "Avery",
    "Jack",
    "Ella",
    "Owen",
    "Scarlett",
    "Samuel",
    "Grace",
    "Matthew",
    "Chloe",
    "Joseph",
    "Victoria",
    "Levi",
    "Riley",
    "David",
    "Aria",
    "John",
    "Lily",
    "Wyatt",
    "Aurora",
    "Carter",
    "Zoey",
    "Julian",
    "Nora",
    "Luke",
    "Hannah",
    "Anna",
    "Jonas",
    "Lea",
    "Lukas",
    "Marie",
    "Felix",
    "Clara",
    "Paul",
    "Sara",
    "Leon",
    "Ines",
    "Hugo",
    "Chiara",
    "Mateo",
    "Lucia",
    "Aiko",
    "Hiroshi",
    "Priya",
    "Arjun",
    "Fatima",
    "Omar",
    "Mei",
    "Wei",
    "Ingrid",
    "Lars",
    "Zofia",
    "Piotr",
    "Amara",
    "Kwame",
    "Nadia",
    "Tomasz",
    "Elena",
    "Marco",
]

FAMILY_NAMES = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Mueller",
    "Schmidt",
    "Schneider",
    "Fischer",
    "Weber",
    "Meyer",
    "Wagner",
    "Becker",
    "Schulz",
    "Hoffmann",
    "Rossi",
    "Russo",
    "Ferrari",
    "Esposito",
    "Bianchi",
    "Dubois",
    "Moreau",
    "Laurent",
    "Simon",
    "Michel",
    "Tanaka",
    "Suzuki",
    "Sato",
    "Patel",
    "Shah",
    "Singh",
    "Kowalski",
    "Nowak",
    "Novak",
    "Jensen",
    "Hansen",
    "Larsen",
    "Andersen",
    "Silva",
    "Santos",
    "Okafor",
    "Mensah",
    "Kim",
    "Park",
    "Chen",
    "Wang",
    "Li",
    "Zhang",
]

DEPARTMENTS = (
    ("Engineering", "ENG", ("Software Engineer", "Senior Software Engineer", "Staff Engineer", "Engineering Manager")),
    ("Sales", "SAL", ("Account Executive", "Sales Engineer", "Sales Manager")),
    ("Marketing", "MKT", ("Marketing Specialist", "Content Strategist", "Marketing Manager")),
    ("Finance", "FIN", ("Accountant", "Financial Analyst", "Controller")),
    ("Human Resources", "HR", ("HR Generalist", "Recruiter", "HR Business Partner")),
    ("Customer Support", "SUP", ("Support Engineer", "Support Specialist", "Support Team Lead")),
    ("Operations", "OPS", ("Operations Analyst", "Site Reliability Engineer", "Operations Manager")),
    ("Legal", "LEG", ("Paralegal", "Counsel")),
    ("Product", "PRD", ("Product Manager", "Product Designer", "UX Researcher")),
    ("IT", "IT", ("IT Administrator", "Security Analyst", "Identity Engineer")),
)

DIVISIONS = ("Americas", "EMEA", "APAC")
ORGANIZATION = "Example Corp"
TEAM_SUFFIXES = ("Platform", "Core", "Field", "Enablement", "Analytics", "Infrastructure", "Growth", "Quality")


def _resource_id(salt: str, kind: str, index: int) -> str:
    return uuid.uuid5(_ID_NAMESPACE, f"{salt}/{kind}/{index}").hex


def _group_names(n_groups: int) -> list[tuple[str, int]]:
    """Return (displayName, department index) for each group: departments first, then teams, then numbered."""
    names: list[tuple[str, int]] = [(name, index) for index, (name, _, _) in enumerate(DEPARTMENTS)]
    for suffix in TEAM_SUFFIXES:
        names.extend((f"{name} {suffix}", index) for index, (name, _, _) in enumerate(DEPARTMENTS))
    while len(names) < n_groups:
        base, department = names[len(names) % (len(DEPARTMENTS) * (len(TEAM_SUFFIXES) + 1))]
        names.append((f"{base} {len(names) + 1}", department))
    return names[:n_groups]


def _unique(base: str, taken: set[str]) -> str:
    """``base``, or ``base2``, ``base3``... whichever is not taken yet; the result is taken."""
    user_name, suffix = base, 1
    while user_name in taken:
        suffix += 1
        user_name = f"{base}{suffix}"
    taken.add(user_name)
    return user_name


def _user(
    rng: random.Random, index: int, user_id: str, user_name: str, names: tuple[str, str], department_index: int
) -> dict[str, Any]:
    """One seeded user; draws from ``rng`` in a fixed order (the seed must not change)."""
    given, family = names
    department, code, titles = DEPARTMENTS[department_index]
    display_name = f"{given} {family}"
    return {
        "schemas": [USER_SCHEMA, ENTERPRISE_SCHEMA],
        "id": user_id,
        "externalId": f"emp-{index + 1:06d}",
        "userName": user_name,
        "name": {"givenName": given, "familyName": family, "formatted": display_name},
        "displayName": display_name,
        "title": rng.choice(titles),
        "active": rng.random() >= 0.1,
        "emails": [{"value": f"{user_name}@example.com", "type": "work", "primary": True}],
        "phoneNumbers": [
            {"value": f"+1 555 {rng.randrange(100, 1000)} {rng.randrange(1000, 10000)}", "type": "work"},
            {"value": f"+1 555 {rng.randrange(100, 1000)} {rng.randrange(1000, 10000)}", "type": "mobile"},
        ],
        ENTERPRISE_SCHEMA: {
            "employeeNumber": f"{100000 + index}",
            "department": department,
            "costCenter": f"CC-{code}-{100 + department_index * 10 + rng.randrange(10)}",
            "organization": ORGANIZATION,
            "division": rng.choice(DIVISIONS),
        },
    }


def generate(n_users: int, n_groups: int, salt: str = "sandbox") -> dict[str, list[dict[str, Any]]]:
    """Return ``{"Users": [...], "Groups": [...]}``: deterministic SCIM 2.0 resources.

    Every user belongs to one or two groups when ``n_groups`` > 0 (two only when there are at least two groups).
    """
    if n_users < 0 or n_groups < 0:
        raise ValueError("n_users and n_groups must not be negative")
    rng = random.Random(f"scim-seed/{salt}")
    groups = [
        {
            "schemas": [GROUP_SCHEMA],
            "id": _resource_id(salt, "group", index),
            "displayName": name,
            "externalId": f"grp-{index + 1:05d}",
            "members": [],
        }
        for index, (name, _) in enumerate(_group_names(n_groups))
    ]
    group_departments = [department for _, department in _group_names(n_groups)]

    users: list[dict[str, Any]] = []
    taken_user_names: set[str] = set()
    for index in range(n_users):
        given = rng.choice(GIVEN_NAMES)
        family = rng.choice(FAMILY_NAMES)
        user_name = _unique(f"{given}.{family}".lower(), taken_user_names)
        user_id = _resource_id(salt, "user", index)
        member_of = rng.sample(range(n_groups), k=min(n_groups, rng.choice((1, 2)))) if n_groups else []
        # The first group decides the department, so memberships and HR data agree.
        department_index = group_departments[member_of[0]] if member_of else rng.randrange(len(DEPARTMENTS))
        user = _user(rng, index, user_id, user_name, (given, family), department_index)
        users.append(user)
        for group_index in member_of:
            groups[group_index]["members"].append(
                {"value": user_id, "$ref": f"Users/{user_id}", "type": "User", "display": user["displayName"]}
            )
    return {"Users": users, "Groups": groups}
