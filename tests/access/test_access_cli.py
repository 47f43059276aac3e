"""``flask users ...`` and ``flask tokens ...``: output, exit codes, stored state."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from helpers import PASSWORD, TIMESTAMP, bearer

from stockapp.access.passwords import HASHER

TOKEN = re.compile(r"stk_[A-Za-z0-9_-]{43}")
USAGE_EXIT = 2


def invoke(runner, *args: str, input: str | None = None):
    return runner.invoke(args=list(args), input=input)


def create(runner, name: str, role: str = "clerk", password: str = PASSWORD):
    return invoke(
        runner, "users", "create", name, "--role", role, "--password-stdin",
        input=password + "\n",
    )  # fmt: skip


def new_token(runner, *args: str) -> str:
    result = invoke(runner, "tokens", "create", *args)
    assert result.exit_code == 0, result.stderr
    assert TOKEN.fullmatch(result.stdout.rstrip("\n")), result.stdout
    return result.stdout.rstrip("\n")


def stored_users(rows):
    return rows("SELECT name, role, disabled FROM users ORDER BY id")


def stored_tokens(rows):
    return rows(
        "SELECT t.id, u.name AS user, t.label, t.scope,"
        " CAST(t.collections AS TEXT) AS collections,"
        " t.expires_at, t.revoked_at FROM api_tokens t"
        " JOIN users u ON u.id = t.user_id ORDER BY t.id"
    )


def test_users_create_reads_the_password_from_stdin(runner, rows):
    result = create(runner, "alice", "clerk")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "Created user alice (clerk).\n"
    stored = rows("SELECT name, role, disabled, password_hash FROM users")
    assert len(stored) == 1
    user = stored[0]
    assert (user["name"], user["role"], user["disabled"]) == ("alice", "clerk", 0)
    # An Argon2id hash of the line read, never the password itself.
    assert user["password_hash"].startswith("$argon2id$")
    assert PASSWORD not in user["password_hash"]
    assert HASHER.verify(user["password_hash"], PASSWORD)


def test_users_create_keeps_everything_but_the_line_end_of_stdin(runner, rows):
    password = "  spaces kept at both ends  "
    result = create(runner, "alice", "clerk", password + "\r")
    assert result.exit_code == 0, result.stderr
    [user] = rows("SELECT password_hash FROM users")
    assert HASHER.verify(user["password_hash"], password)


def test_users_create_prompts_twice_without_echo(runner, rows):
    result = invoke(
        runner, "users", "create", "bob", "--role", "viewer",
        input=f"{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    # Hidden input: the prompts are shown, the password never is.
    assert result.stdout == "Password: \nRepeat for confirmation: \n"
    assert result.stderr == "Created user bob (viewer).\n"
    [user] = rows("SELECT name, role, password_hash FROM users")
    assert (user["name"], user["role"]) == ("bob", "viewer")
    assert HASHER.verify(user["password_hash"], PASSWORD)


def test_users_create_asks_again_when_the_confirmation_differs(runner, rows):
    other = "another password entirely"
    result = invoke(
        runner, "users", "create", "bob", "--role", "viewer",
        input=f"{other}\n{PASSWORD}\n{PASSWORD}\n{PASSWORD}\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        "Password: \nRepeat for confirmation: \n"
        "Error: The two entered values do not match.\n"
        "Password: \nRepeat for confirmation: \n"
    )
    [user] = rows("SELECT password_hash FROM users")
    assert HASHER.verify(user["password_hash"], PASSWORD)


@pytest.mark.parametrize(
    ("name", "password", "message"),
    [
        ("alice", "x" * 11, "password must be 12 to 1024 characters long"),
        ("alice", "", "password must be 12 to 1024 characters long"),
        ("alice", "x" * 1025, "password must be 12 to 1024 characters long"),
        ("a/b", PASSWORD, "name must not contain '/'"),
        (" ", PASSWORD, "name must not be only whitespace"),
        ("", PASSWORD, "name must be 1 to 100 characters long"),
        ("x" * 101, PASSWORD, "name must be 1 to 100 characters long"),
        ("a\tb", PASSWORD, "name must not contain control characters"),
        ("a/b", "short", "name must not contain '/'; password must be 12 to 1024"),
    ],
)
def test_users_create_refuses_bad_input(runner, rows, name, password, message):
    result = create(runner, name, "clerk", password)
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.startswith(f"Error: {message}")
    assert result.stderr.endswith("\n") and result.stderr.count("\n") == 1
    assert stored_users(rows) == []


def test_users_create_refuses_an_unknown_role(runner, rows):
    result = create(runner, "alice", "boss")
    assert result.exit_code == USAGE_EXIT
    assert (
        "Error: Invalid value for '--role': 'boss' is not one of 'viewer',"
        " 'clerk', 'admin'."
    ) in result.stderr
    assert stored_users(rows) == []


def test_users_create_refuses_a_taken_name(runner, rows):
    assert create(runner, "alice", "clerk").exit_code == 0
    [before] = rows("SELECT password_hash FROM users")
    result = create(runner, "alice", "admin", "a different password")
    assert result.exit_code == 1
    assert result.stderr == 'Error: A user named "alice" already exists.\n'
    assert stored_users(rows) == [{"name": "alice", "role": "clerk", "disabled": 0}]
    assert rows("SELECT password_hash FROM users") == [before]


def test_users_list_shows_name_role_and_state_oldest_first(runner, make_user):
    make_user("zoe", "admin")
    make_user("alice", "viewer")
    assert invoke(runner, "users", "disable", "alice").exit_code == 0
    result = invoke(runner, "users", "list")
    assert result.exit_code == 0
    assert result.stdout == "zoe\tadmin\tenabled\nalice\tviewer\tdisabled\n"


def test_users_list_with_no_users_prints_nothing(runner):
    result = invoke(runner, "users", "list")
    assert (result.exit_code, result.stdout, result.stderr) == (0, "", "")


def test_users_set_role_changes_the_stored_role(runner, rows, make_user):
    make_user("alice", "viewer")
    result = invoke(runner, "users", "set-role", "alice", "admin")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "alice is now admin.\n"
    assert stored_users(rows) == [{"name": "alice", "role": "admin", "disabled": 0}]


def test_users_set_role_refuses_an_unknown_role(runner, rows, make_user):
    make_user("alice", "viewer")
    result = invoke(runner, "users", "set-role", "alice", "root")
    assert result.exit_code == USAGE_EXIT
    assert "'root' is not one of 'viewer', 'clerk', 'admin'." in result.stderr
    assert stored_users(rows) == [{"name": "alice", "role": "viewer", "disabled": 0}]


@pytest.mark.parametrize(
    "args",
    [("set-role", "nobody", "admin"), ("disable", "nobody"), ("enable", "nobody")],
)
def test_users_commands_refuse_an_unknown_user(runner, rows, make_user, args):
    make_user("alice", "viewer")
    result = invoke(runner, "users", *args)
    assert result.exit_code == 1
    assert (result.stdout, result.stderr) == ("", 'Error: There is no user "nobody".\n')
    assert stored_users(rows) == [{"name": "alice", "role": "viewer", "disabled": 0}]


def test_users_disable_and_enable_store_the_state(runner, rows, make_user):
    make_user("alice", "clerk")
    result = invoke(runner, "users", "disable", "alice")
    assert (result.exit_code, result.stderr) == (0, "Disabled alice.\n")
    assert stored_users(rows) == [{"name": "alice", "role": "clerk", "disabled": 1}]
    result = invoke(runner, "users", "enable", "alice")
    assert (result.exit_code, result.stderr) == (0, "Enabled alice.\n")
    assert stored_users(rows) == [{"name": "alice", "role": "clerk", "disabled": 0}]


def test_tokens_create_prints_only_a_token_that_works(client, runner, rows, make_user):
    make_user("alice", "clerk")
    result = invoke(
        runner, "tokens", "create", "--user", "alice", "--label", "ci",
        "--scope", "write",
    )  # fmt: skip
    assert result.exit_code == 0
    assert result.stderr == ""
    # Alone on stdout, so that `TOKEN=$(flask tokens create ...)` works.
    assert TOKEN.fullmatch(result.stdout[:-1]) and result.stdout.endswith("\n")
    secret = result.stdout[:-1]
    [token] = stored_tokens(rows)
    assert token == {
        "id": token["id"],
        "user": "alice",
        "label": "ci",
        "scope": "write",
        "collections": None,
        "expires_at": None,
        "revoked_at": None,
    }
    # Only the digest is stored.
    assert secret not in str(rows("SELECT * FROM api_tokens"))
    me = client.get("/me", headers=bearer(secret))
    assert me.status_code == 200
    assert me.get_json() == {
        "user": "alice",
        "role": "clerk",
        "scope": "write",
        "token": token["id"],
        "collections": None,
    }
    response = client.post("/stock/fruit", json={"apple": 3}, headers=bearer(secret))
    assert response.status_code == 201
    assert rows("SELECT by FROM movements") == [{"by": "alice"}]


def test_tokens_create_limits_to_each_collection_given(client, runner, rows, make_user):
    make_user("alice", "clerk")
    secret = new_token(
        runner, "--user", "alice", "--label", "two", "--scope", "write",
        "--collection", "veg", "--collection", "fruit",
    )  # fmt: skip
    [token] = stored_tokens(rows)
    assert token["collections"] == '["veg", "fruit"]'
    assert client.get("/me", headers=bearer(secret)).get_json()["collections"] == [
        "fruit",
        "veg",
    ]
    for name, status in (("fruit", 201), ("veg", 201), ("nuts", 403)):
        response = client.post(f"/stock/{name}", json={}, headers=bearer(secret))
        assert response.status_code == status, name
    assert client.get("/stock", headers=bearer(secret)).get_json() == {
        "fruit": {},
        "veg": {},
    }


def test_tokens_create_with_expiry_stores_it_and_stops_after_it(
    client, runner, rows, app
):
    runner.invoke(args=["users", "create", "alice", "--role", "viewer",
                        "--password-stdin"], input=PASSWORD + "\n")  # fmt: skip
    before = datetime.now(UTC)
    secret = new_token(
        runner, "--user", "alice", "--label", "week", "--scope", "read",
        "--expires-in", "7",
    )  # fmt: skip
    after = datetime.now(UTC)
    [token] = stored_tokens(rows)
    expires_at = datetime.fromisoformat(str(token["expires_at"])).replace(tzinfo=UTC)
    assert before + timedelta(days=7) <= expires_at <= after + timedelta(days=7)
    assert client.get("/me", headers=bearer(secret)).status_code == 200
    rows_changed = rows(
        "UPDATE api_tokens SET expires_at = :past RETURNING id",
        past=datetime.now(UTC) - timedelta(seconds=1),
    )
    assert len(rows_changed) == 1
    response = client.get("/me", headers=bearer(secret))
    assert response.status_code == 401
    assert response.get_json()["error"] == "Invalid token"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--expires-in", "0"), "must be a whole number of days from 1 to 3650"),
        (("--expires-in", "3651"), "must be a whole number of days from 1 to 3650"),
        (("--expires-in", "soon"), "'soon' is not a valid integer"),
        (("--collection", "a/b"), "holds 'a/b', which must not contain '/'"),
        (
            ("--collection", "fruit", "--collection", "fruit"),
            "names a collection more than once",
        ),
        (("--scope", "root"), "'root' is not one of 'read', 'write', 'admin'"),
        (("--label", ""), "must be 1 to 100 characters, not only whitespace"),
        (("--label", "x" * 101), "must be 1 to 100 characters, not only whitespace"),
        (("--label", "a\x1bb"), "must be valid Unicode without control characters"),
    ],
)
def test_tokens_create_refuses_bad_options(runner, rows, make_user, args, message):
    make_user("alice", "admin")
    # The later of two values of an option wins.
    result = invoke(
        runner, "tokens", "create", "--user", "alice", "--label", "x",
        "--scope", "read", *args,
    )  # fmt: skip
    assert result.exit_code == USAGE_EXIT
    assert result.stdout == ""
    assert message in result.stderr
    assert stored_tokens(rows) == []


@pytest.mark.parametrize(
    ("role", "scope", "held"),
    [
        ("viewer", "write", "read"),
        ("viewer", "admin", "read"),
        ("clerk", "admin", "read, write"),
        ("clerk", "metrics", "read, write"),
    ],
)
def test_tokens_create_refuses_a_scope_wider_than_the_role(
    runner, rows, make_user, role, scope, held
):
    make_user("alice", role)
    result = invoke(
        runner, "tokens", "create", "--user", "alice", "--label", "x",
        "--scope", scope,
    )  # fmt: skip
    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr == f"Error: scope must be one a {role} may hold: {held}\n"
    assert stored_tokens(rows) == []


def test_tokens_create_refuses_an_unknown_user(runner, rows):
    result = invoke(
        runner, "tokens", "create", "--user", "nobody", "--label", "x",
        "--scope", "read",
    )  # fmt: skip
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == 'Error: There is no user "nobody".\n'
    assert stored_tokens(rows) == []


def test_tokens_list_shows_every_token_and_no_secret(runner, make_user):
    make_user("alice", "clerk")
    make_user("bob", "viewer")
    first = new_token(runner, "--user", "alice", "--label", "ci", "--scope", "write")
    second = new_token(
        runner, "--user", "bob", "--label", "phone", "--scope", "read",
        "--collection", "fruit", "--collection", "veg", "--expires-in", "30",
    )  # fmt: skip
    assert invoke(runner, "tokens", "revoke", "1").exit_code == 0
    result = invoke(runner, "tokens", "list")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert lines[0] == "1\talice\tci\twrite\t*\tnever\trevoked"
    fields = lines[1].split("\t")
    assert fields[:5] == ["2", "bob", "phone", "read", "fruit,veg"]
    assert TIMESTAMP.fullmatch(fields[5])
    assert fields[6] == "active"
    assert len(lines) == 2
    assert first not in result.output and second not in result.output


def test_tokens_list_for_one_user(runner, make_user):
    make_user("alice", "clerk")
    make_user("bob", "viewer")
    new_token(runner, "--user", "alice", "--label", "ci", "--scope", "write")
    new_token(runner, "--user", "bob", "--label", "phone", "--scope", "read")
    result = invoke(runner, "tokens", "list", "--user", "bob")
    assert result.exit_code == 0
    assert result.stdout == "2\tbob\tphone\tread\t*\tnever\tactive\n"


def test_tokens_list_for_an_unknown_user_says_so(runner):
    result = invoke(runner, "tokens", "list", "--user", "nobody")
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == 'Error: There is no user "nobody".\n'


def test_tokens_revoke_stops_the_token_at_once(client, runner, rows, make_user):
    make_user("alice", "clerk")
    secret = new_token(runner, "--user", "alice", "--label", "ci", "--scope", "write")
    keep = new_token(runner, "--user", "alice", "--label", "kept", "--scope", "read")
    assert client.get("/me", headers=bearer(secret)).status_code == 200
    result = invoke(runner, "tokens", "revoke", "1")
    assert (result.exit_code, result.stdout) == (0, "")
    assert result.stderr == "Revoked token 1.\n"
    revoked, kept = stored_tokens(rows)
    assert revoked["revoked_at"] is not None and kept["revoked_at"] is None
    response = client.get("/me", headers=bearer(secret))
    assert response.status_code == 401
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="stockapp", error="invalid_token"'
    )
    # Even where anonymous callers may write, a revoked token is refused.
    response = client.post("/stock/fruit", json={}, headers=bearer(secret))
    assert response.status_code == 401
    assert client.get("/me", headers=bearer(keep)).status_code == 200


@pytest.mark.parametrize("token_id", ["1", "99"])
def test_tokens_revoke_refuses_a_revoked_or_unknown_token(
    runner, rows, make_user, make_token, token_id
):
    make_user("alice", "clerk")
    make_token("alice", "read")
    assert invoke(runner, "tokens", "revoke", "1").exit_code == 0
    [before] = stored_tokens(rows)
    result = invoke(runner, "tokens", "revoke", token_id)
    assert result.exit_code == 1
    assert result.stderr == f"Error: There is no active token {token_id}.\n"
    assert stored_tokens(rows) == [before]


def test_set_role_narrows_the_users_existing_tokens(client, runner, make_user, stored):
    make_user("alice", "clerk")
    secret = new_token(runner, "--user", "alice", "--label", "ci", "--scope", "write")
    assert invoke(runner, "users", "set-role", "alice", "viewer").exit_code == 0
    response = client.post("/stock/fruit", json={"apple": 1}, headers=bearer(secret))
    assert response.status_code == 403
    assert response.get_json()["error"] == "Forbidden"
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="stockapp", error="insufficient_scope", scope="write"'
    )
    assert stored() == {}
    me = client.get("/me", headers=bearer(secret)).get_json()
    assert (me["role"], me["scope"]) == ("viewer", "read")
    assert client.get("/stock", headers=bearer(secret)).status_code == 200


def test_disable_stops_tokens_at_once_and_enable_restores_them(
    client, runner, make_user
):
    make_user("alice", "clerk")
    secret = new_token(runner, "--user", "alice", "--label", "ci", "--scope", "write")
    assert invoke(runner, "users", "disable", "alice").exit_code == 0
    response = client.get("/stock", headers=bearer(secret))
    assert response.status_code == 401
    assert response.get_json()["error"] == "Invalid token"
    assert invoke(runner, "users", "enable", "alice").exit_code == 0
    response = client.post("/stock/fruit", json={}, headers=bearer(secret))
    assert response.status_code == 201
