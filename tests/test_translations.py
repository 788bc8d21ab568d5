"""The Chinese catalog: complete, compiled, and what users actually see.

The catalog must hold a translation for every message the sources mark (extracted here as
``pybabel extract -F babel.cfg`` does), with no fuzzy or empty entry, and the committed
``.mo`` must be the compiled ``.po``. See "Translations" in README.md for the commands.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "core" / "translations" / "zh_Hans_CN" / "LC_MESSAGES"
#: The keywords of the extract command in README.md, on top of babel's defaults.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None, "lazy_ngettext": (1, 2)}


def _key(message_id, context=None) -> tuple:
    return (context, message_id if isinstance(message_id, str) else message_id[0])


def _forms(string):
    return string if isinstance(string, str) else tuple(string)


@pytest.fixture(scope="module")
def po():
    with open(CATALOG / "messages.po", "rb") as f:
        return read_po(f)


def extracted() -> set[tuple]:
    with open(ROOT / "babel.cfg") as f:
        method_map, options_map = parse_mapping_cfg(f)
    return {
        _key(message, context)
        for _file, _line, message, _comments, context in extract_from_dir(
            str(ROOT), method_map, options_map, keywords=KEYWORDS
        )
    }


def test_every_message_in_the_sources_is_translated(po):
    found = extracted()
    assert len(found) > 200  # the extraction itself works (templates and Python)
    translated = {
        _key(m.id, m.context)
        for m in po
        if m.id and m.string and (not isinstance(m.string, tuple) or all(m.string)) and not m.fuzzy
    }
    missing = sorted(found - translated, key=str)
    assert not missing, f"untranslated or fuzzy in messages.po: {missing}"


def test_the_catalog_is_clean(po):
    assert not po.fuzzy, "the catalog header is marked fuzzy"
    assert not [m.id for m in po if m.id and m.fuzzy]
    assert not po.obsolete, "obsolete (#~) entries: run pybabel update --ignore-obsolete"
    problems = [(m.id, [str(e) for e in errors]) for m, errors in po.check()]
    assert not problems  # e.g. a %(name)s placeholder lost in translation


def test_the_committed_mo_is_the_compiled_po(po):
    with open(CATALOG / "messages.mo", "rb") as f:
        mo = read_mo(f)
    # babel reads a plural's forms as a tuple from a .po file and as a list from a .mo file
    as_po = {_key(m.id, m.context): _forms(m.string) for m in po if m.id and not m.fuzzy}
    as_mo = {_key(m.id, m.context): _forms(m.string) for m in mo if m.id}
    assert as_mo == as_po, "messages.mo is out of date: run pybabel compile"


def test_pages_are_chinese_by_default_and_english_on_request(client, db, login_as):
    page = client.get("/login").get_data(as_text=True)
    assert "登录" in page and "催收管理系统" in page and "Sign in" not in page

    with client.session_transaction() as session:
        session["locale"] = "en"
    page = client.get("/login").get_data(as_text=True)
    assert "Sign in" in page and "登录" not in page


def test_a_user_sees_the_pages_in_their_language(client, db, login_as):
    login_as("admin")
    page = client.get("/admin/users").get_data(as_text=True)
    assert "新建用户" in page and "系统管理员" in page and "退出" in page

    login_as("admin", locale="en")
    page = client.get("/admin/users").get_data(as_text=True)
    assert "New user" in page and "Administrator" in page and "Sign out" in page
    assert "新建用户" not in page


def test_marshmallow_messages_are_translated_in_api_errors(client, db, make_user):
    from core.auth.services import issue_token

    for locale, expected in (
        ("zh_CN", {"number": ["不是有效的字符串。"], "code": ["未知字段。"]}),
        ("en", {"number": ["Not a valid string."], "code": ["Unknown field."]}),
    ):
        user = make_user("manager", locale=locale)
        _token, plain = issue_token(user, "test")
        db.session.commit()
        response = client.post(
            "/api/v1/contracts",
            json={"number": 5, "client_id": 1, "start_date": "2026-13-01", "code": "x"},
            headers={"Authorization": f"Bearer {plain}"},
        )
        assert response.status_code == 422
        fields = response.json["error"]["fields"]
        assert {name: fields[name] for name in expected} == expected
        assert fields["start_date"] == [
            "不是有效的日期。" if locale == "zh_CN" else "Not a valid date."
        ]


def test_range_messages_are_translated_when_raised(app):
    from flask_babel import force_locale

    from core.cases.filters import CaseFilter

    with app.test_request_context():
        for locale, expected in (("zh_CN", "必须介于 0 和 100000 之间。"),
                                 ("en", "Must be between 0 and 100000.")):  # fmt: skip
            with force_locale(locale):
                errors = CaseFilter.from_args({"days_min": "-5"}).errors
                assert [str(m) for m in errors["days_min"]] == [expected]


def test_stored_codes_are_shown_by_their_title_in_the_users_language(app):
    from flask_babel import force_locale

    from core.web.filters import VOCABULARIES, label

    def titles():
        return {
            (name, code): str(label(code, name)) for name, codes in VOCABULARIES.items()
            for code in codes
        }  # fmt: skip

    with app.test_request_context():
        with force_locale("en"):
            english = titles()
            assert label("do_not_contact", "phone_status") == "do not contact"
        with force_locale("zh_CN"):
            chinese = titles()
            assert label("do_not_contact", "phone_status") == "禁止联系"
            assert label("M", "gender") == "男" and label("claim", "payment_kind").startswith("CP")
            assert label("visit_result", "activity_kind") == "visit_result"  # a module's own
            assert label("", "source") == "—"
    assert not [key for key in english if english[key] == chinese[key]]


def test_a_plugin_ships_its_own_catalog_for_its_own_messages(client, db, login_as, contract):
    """maple-notes translates its panel; the core's catalog still wins for the core's words."""
    pytest.importorskip("maple_notes")
    from support.cases import make_cases

    target = contract(modules=["notes"])
    (case,) = make_cases(db, target)
    login_as("manager", contracts=[target])
    page = client.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "合同便签" in page and "Contract notes" not in page
