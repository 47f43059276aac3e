"""Reorder-level changes in the movement log: kind "level", its quantity
untouched (before = after), the levels before and after; by every route that
sets a level, shown in the history pages."""

from __future__ import annotations

import re

from helpers import bearer, csrf_token_of, login

LEVEL = "/stock/fruit/apple/reorder-level"
HISTORY = "/stock/fruit/apple/history"


def level_movements(client, path: str = HISTORY) -> list[dict]:
    """The level movements of ``path``'s history, newest first, without id
    and time."""
    response = client.get(path)
    assert response.status_code == 200, response.get_json()
    return [
        {k: v for k, v in m.items() if k not in ("id", "at")}
        for m in response.get_json()["movements"]
        if m["kind"] == "level"
    ]


def level_movement(before, after, quantity=3, by=None, **group) -> dict:
    return {
        "collection": "fruit",
        "member": "apple",
        "kind": "level",
        "before": quantity,
        "after": quantity,
        "reason": None,
        "by": by,
        **group,
        "level_before": before,
        "level_after": after,
    }


def test_setting_changing_and_clearing_a_level_are_each_logged(client, seed):
    seed(fruit={"apple": 3})
    for body in ("5", "8", "null"):
        response = client.put(
            LEVEL, data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 200, response.get_json()
    assert level_movements(client) == [
        level_movement(8, None),
        level_movement(5, 8),
        level_movement(None, 5),
    ]
    # The quantity is untouched by all three.
    assert client.get("/stock/fruit/apple").get_json() == 3


def test_the_same_level_again_logs_nothing(client, seed, rows):
    seed(fruit={"apple": 3})
    client.put(LEVEL, json=5)
    client.put(LEVEL, json=5)
    assert rows(
        "SELECT level_before, level_after FROM movements WHERE kind = 'level'"
    ) == [{"level_before": None, "level_after": 5}]


def test_a_refused_level_logs_nothing(client, seed, rows):
    seed(fruit={"apple": 3})
    stale = client.put(LEVEL, json=5, headers={"If-Match": '"999"'})
    assert stale.status_code == 412
    bad = client.put(LEVEL, json=-1)
    assert bad.status_code == 400
    assert rows("SELECT kind FROM movements ORDER BY id") == [{"kind": "create"}]


def test_the_level_movement_names_who_set_it(client, seed, make_user, make_token):
    seed(fruit={"apple": 3})
    make_user("ann", "clerk")
    headers = bearer(make_token("ann", "write"))
    assert client.put(LEVEL, json=5, headers=headers).status_code == 200
    assert level_movements(client) == [level_movement(None, 5, by="ann")]


def test_a_level_in_a_batch_names_the_batch(client, seed):
    seed(fruit={"apple": 3})
    response = client.post(
        "/batch",
        json={
            "operations": [
                {
                    "op": "reorder_level",
                    "collection": "fruit",
                    "member": "apple",
                    "body": 4,
                }
            ]
        },
    )
    assert response.status_code == 200, response.get_json()
    (logged,) = level_movements(client)
    assert logged == level_movement(None, 4, batch=logged["batch"])
    assert len(logged["batch"]) == 36


def test_other_kinds_carry_no_level_fields(client, seed):
    seed(fruit={"apple": 3})
    client.put(LEVEL, json=5)
    movements = client.get(HISTORY).get_json()["movements"]
    assert [sorted(set(m) & {"level_before", "level_after"}) for m in movements] == [
        ["level_after", "level_before"],
        [],
    ]


def entries(page: str) -> list[str]:
    """Each movement's change line, in the order shown, whitespace folded."""
    changes = re.findall(r'<p class="change">(.*?)</p>', page, re.S)
    return [" ".join(re.sub(r"<[^>]+>", " ", change).split()) for change in changes]


def test_the_history_pages_say_a_level_change_in_words(client, seed):
    seed(fruit={"apple": 3})
    client.put(LEVEL, json=5)
    client.put(LEVEL, data="null", headers={"Content-Type": "application/json"})
    member = client.get("/collections/fruit/members/apple/history")
    assert entries(member.get_data(as_text=True)) == [
        "level 5 → none (reorder level)",
        "level none → 5 (reorder level)",
        "new → 3 (created)",
    ]
    collection = client.get("/collections/fruit/history").get_data(as_text=True)
    assert entries(collection)[0] == "apple : level 5 → none (reorder level)"
    # The member's page lists it among its latest changes.
    page = client.get("/collections/fruit/members/apple").get_data(as_text=True)
    assert entries(page)[:2] == [
        "level 5 → none (reorder level)",
        "level none → 5 (reorder level)",
    ]


def test_the_level_form_on_the_pages_logs_who_set_it(client, seed, make_user, rows):
    seed(fruit={"apple": 3})
    make_user("ann", "clerk")
    login(client, "ann")
    page = client.get("/collections/fruit/members/apple").get_data(as_text=True)
    version = rows("SELECT version FROM members WHERE name = 'apple'")[0]["version"]
    response = client.post(
        "/collections/fruit/members/apple/reorder-level",
        data={"level": "2", "version": str(version), "csrf_token": csrf_token_of(page)},
    )
    assert response.status_code == 303
    assert rows(
        'SELECT kind, "before", "after", "by", level_before, level_after'
        " FROM movements WHERE kind = 'level'"
    ) == [
        {
            "kind": "level",
            "before": 3,
            "after": 3,
            "by": "ann",
            "level_before": None,
            "level_after": 2,
        }
    ]
