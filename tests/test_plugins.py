"""The plugin system: every hook, the startup checks, per-contract modules, the example plugin.

Test plugins are modules built in memory (:func:`make_plugin`) and handed to the app through
``PLUGIN_MODULES``; the example partner plugin ``maple_notes`` is tested as installed.
"""

from __future__ import annotations

import inspect
import re
import types
from importlib.metadata import entry_points
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
from flask import Blueprint
from flask_babel import force_locale
from markupsafe import Markup
from sqlalchemy import insert, select, update
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

import core.plugins
from core import hookimpl, hookspecs
from core.audit.models import AuditEntry
from core.auth.permissions import Permission, public
from core.cases.panels import Panel, collect_panels
from core.errors import Conflict, StartupError
from core.modules import ModuleInfo, disable_module, enable_module
from core.plugins import hooks_for, registry
from core.types import utcnow
from core.web.nav import NavItem, nav_for

ROOT = Path(__file__).resolve().parent.parent


def make_plugin(name: str, module: ModuleInfo | None = None, **hooks) -> types.ModuleType:
    """A plugin built in memory: ``make_plugin("probe", register_models=lambda: [Thing])``."""
    plugin = types.ModuleType(f"test_plugin_{name}")
    plugin.PLUGIN_NAME = name
    if module is not None:
        plugin.MODULE = module
    for hook_name, function in hooks.items():
        setattr(plugin, hook_name, hookimpl(function))
    return plugin


def module_plugin(name: str, title: str | None = None, requires=(), **hooks):
    """A plugin switched per contract (it declares ``MODULE``)."""
    return make_plugin(name, ModuleInfo(name, title or name.title(), requires=requires), **hooks)


class _ApartFromMaple(DeclarativeBase):
    """Test models live on their own base: a class on ``db.Model`` would add its table to
    Maple's metadata (and so to Alembic and every later test) for the rest of the run."""


class ProbeThing(_ApartFromMaple):
    __tablename__ = "probe_things"

    id: Mapped[int] = mapped_column(primary_key=True)


class UnprefixedThing(_ApartFromMaple):
    __tablename__ = "things"

    id: Mapped[int] = mapped_column(primary_key=True)


@pytest.fixture
def start(app_config, request):
    """``maple = start(plugin, …)``: the test app with these plugins beside the installed ones.

    The returned namespace carries the usual fixtures (``maple.contract(…)``, ``maple.client``);
    they are requested only now, because the app must not be built before its plugins are set.
    """

    def start(*plugins):
        app_config["PLUGIN_MODULES"] = list(plugins)
        names = ("app", "db", "client", "contract", "make_user", "login_as")
        return SimpleNamespace(**{name: request.getfixturevalue(name) for name in names})

    return start


@pytest.fixture
def refused(app_config):
    """``message = refused(plugin, …)``: Maple refuses to start with these plugins."""
    from core import create_app

    def refused(*plugins) -> str:
        with pytest.raises(StartupError) as info:
            create_app({**app_config, "PLUGIN_MODULES": list(plugins)})
        return str(info.value)

    return refused


def add_entry_points(monkeypatch, **plugins) -> None:
    """Pretend these plugins are installed packages, found through entry points."""
    installed = core.plugins.entry_points

    def fake_entry_points(*, group):
        extra = [SimpleNamespace(name=name, load=lambda p=p: p) for name, p in plugins.items()]
        return [*installed(group=group), *extra]

    monkeypatch.setattr(core.plugins, "entry_points", fake_entry_points)


def make_case(db, contract, serial: str):
    from core.cases.models import Case

    case = Case(contract_id=contract.id, serial=serial, name="张三")
    db.session.add(case)
    db.session.commit()
    return case


def audit_actions(db, action: str) -> list[AuditEntry]:
    return list(
        db.session.scalars(select(AuditEntry).filter_by(action=action).order_by(AuditEntry.id))
    )


# -- the plugin API is documented and tested ----------------------------------------------


def hook_specs() -> dict:
    return {
        name: function
        for name, function in vars(hookspecs).items()
        if callable(function) and hasattr(function, "maple_spec")
    }


def test_every_hook_is_documented_with_its_arguments():
    assert hook_specs(), "no hook specifications found"
    for name, spec in hook_specs().items():
        doc = inspect.getdoc(spec) or ""
        assert len(doc.splitlines()) >= 3, f"hook {name} needs a docstring saying what and when"
        for argument in inspect.signature(spec).parameters:
            assert f":param {argument}:" in doc, f"hook {name} does not document {argument!r}"
        if name.startswith("register_"):
            assert ":return:" in doc, f"hook {name} does not say what it returns"


def test_every_hook_has_a_test_named_after_it():
    found = set()
    for folder in (ROOT / "tests", ROOT / "plugins"):
        for path in folder.rglob("test_*.py"):
            found.update(re.findall(r"^\s*def (test_hook_\w+)\(", path.read_text(), re.MULTILINE))
    missing = sorted(name for name in hook_specs() if f"test_hook_{name}" not in found)
    assert not missing, f"hooks without a test_hook_<name> test: {missing}"


# -- startup hooks: called once on every installed plugin ---------------------------------


def test_hook_register_blueprints(start):
    seen_apps = []
    probe = Blueprint("probe", __name__, url_prefix="/m/probe")

    @probe.get("/ping")
    @public
    def ping():
        return "pong"

    def register_blueprints(app):
        seen_apps.append(app)
        return [probe]

    maple = start(make_plugin("probe", register_blueprints=register_blueprints))

    assert seen_apps == [maple.app]
    response = maple.client.get("/m/probe/ping")
    assert response.status_code == 200
    assert response.text == "pong"


def test_hook_register_models(start):
    start(make_plugin("probe", register_models=lambda: [ProbeThing]))

    assert registry().model_tables["probe"] == ["probe_things"]


def test_hook_register_permissions(start):
    use = Permission("probe.use", "Use the probe", default_roles=("collector",))
    maple = start(make_plugin("probe", register_permissions=lambda: [use]))

    assert registry().permissions["probe.use"] is use
    assert maple.make_user("collector").can("probe.use")
    assert maple.make_user("admin").can("probe.use")
    assert not maple.make_user("manager").can("probe.use")


def test_hook_register_commands(start):
    @click.command("probe")
    @click.argument("who")
    def probe_command(who):
        click.echo(f"probed {who}")

    maple = start(make_plugin("probe", register_commands=lambda: [probe_command]))

    assert "probe" in maple.app.cli.commands
    result = maple.app.test_cli_runner().invoke(args=["probe", "everything"])
    assert result.exit_code == 0, result.output
    assert "probed everything" in result.output


def test_hook_register_nav_items(start):
    always = make_plugin(
        "probe",
        register_nav_items=lambda: [
            NavItem("Probe", "probe.index", order=1),
            NavItem("Probe audit", "probe.audit", "core.audit.view", order=2),
        ],
    )
    gadget = module_plugin(
        "gadget", register_nav_items=lambda: [NavItem("Gadget", "gadget.index", order=3)]
    )
    maple = start(always, gadget)
    with_gadget, without = maple.contract(modules=["gadget"]), maple.contract()

    def endpoints(user):
        ours = {"probe.index", "probe.audit", "gadget.index"}
        return [item.endpoint for item in nav_for(user) if item.endpoint in ours]

    assert endpoints(maple.make_user("collector", contracts=[without])) == ["probe.index"]
    assert endpoints(maple.make_user("collector", contracts=[with_gadget])) == [
        "probe.index",
        "gadget.index",
    ]
    admin = maple.make_user("admin")  # sees every contract, holds every permission
    assert endpoints(admin) == ["probe.index", "probe.audit", "gadget.index"]


def test_hook_app_configured(start):
    seen_apps, late_apps = [], []
    maple = start(make_plugin("probe", app_configured=lambda app: seen_apps.append(app)))

    assert seen_apps == [maple.app]
    # Historic: a plugin registered after the app was built still receives the call.
    late = make_plugin("late", app_configured=lambda app: late_apps.append(app))
    registry().pm.register(late, name="late")
    assert late_apps == [maple.app]


# -- per-contract hooks: only the plugins a contract has enabled ---------------------------


def test_hook_case_detail_panels(start):
    calls = []

    def gadget_panel(case, user):
        calls.append((case.serial, user.username))
        return Panel("Gadget", Markup("<p>gadget</p>"), order=20)

    gadget = module_plugin("gadget", case_detail_panels=gadget_panel)
    # A plugin without MODULE is always on: it adds its panel on every contract.
    always = make_plugin("probe", case_detail_panels=lambda: [Panel("Probe", Markup(""), 10)])
    maple = start(gadget, always)
    on, off = maple.contract(modules=["gadget"]), maple.contract()
    user = maple.make_user("collector", contracts=[on, off])
    case_on, case_off = make_case(maple.db, on, "ON-1"), make_case(maple.db, off, "OFF-1")

    def titles(case):
        panels = collect_panels(hooks_for(case.contract).case_detail_panels(case=case, user=user))
        return [panel.title for panel in panels if panel.title in ("Gadget", "Probe")]

    assert titles(case_on) == ["Probe", "Gadget"]
    assert titles(case_off) == ["Probe"]
    assert calls == [("ON-1", user.username)]


def test_a_work_panel_sits_above_the_case_file_and_others_below(start):
    work = make_plugin("worky", case_detail_panels=lambda: [
        Panel("Work area", Markup("<p>work</p>"), order=10),
        Panel("Appendix", Markup("<p>appendix</p>"), order=400),
    ])  # fmt: skip
    maple = start(work)
    maple.login_as("admin", locale="en")
    case = make_case(maple.db, maple.contract(), "W-1")
    page = maple.client.get(f"/cases/{case.id}").text
    assert page.index("Work area") < page.index("<h2>Phones</h2>") < page.index("Appendix")


def test_hook_after_module_enabled(start):
    alpha_calls, beta_calls = [], []
    alpha = module_plugin(
        "alpha", after_module_enabled=lambda contract, user: alpha_calls.append((contract, user))
    )
    beta = module_plugin("beta", after_module_enabled=lambda contract: beta_calls.append(contract))
    maple = start(alpha, beta)
    contract, admin = maple.contract(), maple.make_user("admin")

    enable_module(contract, "alpha", admin)

    assert alpha_calls == [(contract, admin)]
    assert beta_calls == []


def test_hook_after_module_disabled(start):
    alpha_calls, beta_calls = [], []
    alpha = module_plugin(
        "alpha", after_module_disabled=lambda contract, user: alpha_calls.append((contract, user))
    )
    beta = module_plugin("beta", after_module_disabled=lambda contract: beta_calls.append(contract))
    maple = start(alpha, beta)
    contract, admin = maple.contract(modules=["alpha", "beta"]), maple.make_user("admin")

    disable_module(contract, "alpha", admin)

    assert alpha_calls == [(contract, admin)]
    assert beta_calls == []
    assert contract.enabled_modules == {"beta"}


# -- startup refuses plugins that break the rules -----------------------------------------


def test_two_plugins_with_one_name_are_refused(refused):
    message = refused(make_plugin("probe"), make_plugin("probe"))
    assert "two plugins are named 'probe'" in message


def test_a_plugin_named_core_is_refused(refused):
    assert "may not be named 'core'" in refused(make_plugin("core"))


def test_a_blueprint_not_named_after_its_plugin_is_refused(refused):
    other = Blueprint("other", __name__, url_prefix="/m/probe")
    message = refused(make_plugin("probe", register_blueprints=lambda: [other]))
    assert "registers blueprint 'other'" in message


@pytest.mark.parametrize("prefix", [None, "/probe", "/m/other", "/m/probes", "/m"])
def test_a_blueprint_outside_its_plugins_url_prefix_is_refused(refused, prefix):
    probe = Blueprint("probe", __name__, url_prefix=prefix)
    message = refused(make_plugin("probe", register_blueprints=lambda: [probe]))
    assert "it must live under /m/probe" in message


def test_a_second_blueprint_named_plugin_underscore_part_is_accepted(start):
    probe = Blueprint("probe", __name__, url_prefix="/m/probe")
    admin = Blueprint("probe_admin", __name__, url_prefix="/m/probe/admin")
    maple = start(make_plugin("probe", register_blueprints=lambda: [probe, admin]))
    assert {"probe", "probe_admin"} <= set(maple.app.blueprints)


def test_a_table_without_the_plugins_prefix_is_refused(refused):
    message = refused(make_plugin("probe", register_models=lambda: [UnprefixedThing]))
    assert "defines table 'things'" in message


def test_a_permission_outside_the_plugins_namespace_is_refused(refused):
    stray = Permission("core.probe", "Probe the core")
    message = refused(make_plugin("probe", register_permissions=lambda: [stray]))
    assert "registers permission 'core.probe'" in message


def test_a_permission_registered_twice_is_refused(refused):
    use = Permission("probe.use", "Use the probe")
    message = refused(make_plugin("probe", register_permissions=lambda: [use, use]))
    assert "'probe.use' is registered twice" in message


def test_an_unknown_hook_is_refused(refused):
    message = refused(make_plugin("probe", register_widgets=lambda: ["widget"]))
    assert "implements a hook Maple does not have" in message
    assert "register_widgets" in message


def test_a_module_named_unlike_its_plugin_is_refused(app_config, monkeypatch):
    from core import create_app

    # Only an installed plugin can disagree: its name comes from the entry point.
    add_entry_points(monkeypatch, beta=make_plugin("beta", ModuleInfo("alpha", "Alpha")))
    with pytest.raises(StartupError, match="declares MODULE named 'alpha'"):
        create_app(app_config)


def test_a_module_that_is_not_a_module_info_is_refused(app_config, monkeypatch):
    from core import create_app

    plugin = make_plugin("beta")
    plugin.MODULE = "beta"
    add_entry_points(monkeypatch, beta=plugin)
    with pytest.raises(StartupError, match="MODULE must be a core.modules.ModuleInfo"):
        create_app(app_config)


def test_a_module_requiring_an_uninstalled_module_is_refused(refused):
    message = refused(module_plugin("addon", requires=("nowhere",)))
    assert "module 'addon' requires 'nowhere', which is not installed" in message


def test_modules_requiring_each_other_in_a_circle_are_refused(refused):
    message = refused(
        module_plugin("alpha", requires=("beta",)), module_plugin("beta", requires=("alpha",))
    )
    assert "require each other in a circle" in message


def test_plugins_on_the_block_list_are_not_registered(start, app_config):
    app_config["DISABLED_PLUGINS"] = ["probe", "notes"]
    maple = start(make_plugin("probe"))
    assert "probe" not in registry().plugins
    assert "notes" not in registry().plugins  # installed (entry point) or not
    assert "notes" not in maple.app.blueprints


def test_a_plugin_built_in_memory_has_no_migrations(start):
    from core.migrate import migrating_plugins, pending

    start(make_plugin("probe"))

    assert registry().migrations_dir("probe") is None
    assert "probe" not in migrating_plugins()
    assert "probe" not in pending()


# -- modules that require others ----------------------------------------------------------


def test_enabling_a_module_switches_on_the_modules_it_requires(start):
    maple = start(module_plugin("base"), module_plugin("addon", "Add-on", requires=("base",)))
    contract, admin = maple.contract(), maple.make_user("admin")

    assert enable_module(contract, "addon", admin) == ["base", "addon"]
    maple.db.session.commit()

    assert contract.enabled_modules == {"base", "addon"}
    entries = audit_actions(maple.db, "module.enabled")
    assert [entry.details for entry in entries] == [
        {"module": "base", "requested": "addon"},
        {"module": "addon", "requested": "addon"},
    ]
    assert {(e.object_type, e.object_id, e.user_id) for e in entries} == {
        ("contracts", str(contract.id), admin.id)
    }
    assert enable_module(contract, "addon", admin) == []  # already on: nothing to audit
    assert len(audit_actions(maple.db, "module.enabled")) == 2


def test_a_required_module_cannot_be_switched_off_while_a_module_needs_it(start):
    maple = start(module_plugin("base"), module_plugin("addon", "Add-on", requires=("base",)))
    contract, admin = maple.contract(modules=["addon"]), maple.make_user("admin")

    with force_locale("en"), pytest.raises(Conflict) as info:
        disable_module(contract, "base", admin)
    assert info.value.message == (
        "Base cannot be switched off while Add-on, which need it, are on."
    )
    assert contract.enabled_modules == {"base", "addon"}

    disable_module(contract, "addon", admin)
    disable_module(contract, "base", admin)
    maple.db.session.commit()
    assert contract.enabled_modules == set()
    disabled = audit_actions(maple.db, "module.disabled")
    assert [entry.details["module"] for entry in disabled] == ["addon", "base"]
    assert {entry.user_id for entry in disabled} == {admin.id}


# -- hooks_for: one cached view per contract ----------------------------------------------


def test_hooks_for_is_cached_per_contract_until_its_modules_change(start):
    calls = []
    maple = start(
        module_plugin("gadget", case_detail_panels=lambda case: calls.append(case.serial))
    )
    first, second = maple.contract(), maple.contract()
    user = maple.make_user("admin")
    case = make_case(maple.db, first, "C-1")

    view = hooks_for(first)
    assert hooks_for(first) is view
    assert hooks_for(second) is view  # contracts with the same modules share one view
    view.case_detail_panels(case=case, user=user)
    assert calls == []

    enable_module(first, "gadget", None)
    maple.db.session.commit()

    assert hooks_for(first) is not view
    hooks_for(first).case_detail_panels(case=case, user=user)
    assert calls == ["C-1"]
    assert hooks_for(second) is view


def test_hooks_for_follows_a_switch_made_in_another_process(start):
    from core.clients.models import Contract, ContractModule

    calls = []
    maple = start(module_plugin("gadget", case_detail_panels=lambda case: calls.append(case)))
    contract, user = maple.contract(), maple.make_user("admin")
    case = make_case(maple.db, contract, "C-1")
    view = hooks_for(contract)

    # Another worker switches the module on: this process's registry is not told, only the
    # contract's modules_version in the database changes.
    db = maple.db
    db.session.execute(
        insert(ContractModule).values(contract_id=contract.id, module="gadget", enabled_at=utcnow())
    )
    db.session.execute(
        update(Contract)
        .where(Contract.id == contract.id)
        .values(modules_version=Contract.modules_version + 1)
    )
    db.session.commit()

    assert hooks_for(contract) is not view
    hooks_for(contract).case_detail_panels(case=case, user=user)
    assert calls == [case]


# -- the example partner plugin, as installed (examples/maple-notes) ----------------------


@pytest.fixture
def notes_plugin():
    return pytest.importorskip("maple_notes.plugin")


def test_notes_plugin_is_found_through_its_entry_point(app, notes_plugin):
    found = {ep.name: ep.value for ep in entry_points(group="maple.plugins")}
    assert found["notes"] == "maple_notes.plugin"
    assert registry().plugins["notes"] is notes_plugin
    assert registry().modules["notes"] is notes_plugin.MODULE
    assert registry().model_tables["notes"] == ["notes_notes"]
    assert "notes" in app.blueprints


def test_notes_migration_ran_with_its_own_version_table(db, notes_plugin):
    from alembic.script import ScriptDirectory
    from sqlalchemy import inspect as inspect_database
    from sqlalchemy import text

    from core.migrate import alembic_config, pending

    assert inspect_database(db.engine).has_table("notes_notes")
    head = ScriptDirectory.from_config(alembic_config("notes")).get_current_head()
    assert head == "notes_0001"
    version = db.session.scalar(text("SELECT version_num FROM alembic_version_notes"))
    assert version == head
    assert pending()["notes"] is False


def test_notes_migration_matches_its_model(db, notes_plugin):
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    def notes_tables_only(obj, name, type_, reflected, compare_to):
        table = name if type_ == "table" else getattr(getattr(obj, "table", None), "name", "")
        return table.startswith("notes_")

    with db.engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"include_object": notes_tables_only, "compare_type": True}
        )
        assert compare_metadata(context, db.metadata) == []


def test_notes_permissions_reach_their_default_roles(make_user, notes_plugin):
    assert {"notes.read", "notes.write"} <= set(registry().permissions)
    collector = make_user("collector")
    assert collector.can("notes.read") and collector.can("notes.write")
    client_viewer = make_user("client_viewer", client=_client())
    assert client_viewer.can("notes.read")
    assert not client_viewer.can("notes.write")


def _client():
    from core.clients.services import save_client

    return save_client(None, name="江苏中行", code="JSZ", actor=None)


def test_notes_page_answers_only_for_contracts_with_notes_on(
    client, contract, login_as, notes_plugin
):
    on, off, not_mine = contract(modules=["notes"]), contract(), contract(modules=["notes"])
    login_as("collector", contracts=[on, off])

    page = client.get(f"/m/notes/contracts/{on.id}")
    assert page.status_code == 200
    assert on.number in page.text
    assert client.get(f"/m/notes/contracts/{off.id}").status_code == 404
    assert client.get(f"/m/notes/contracts/{not_mine.id}").status_code == 404
    assert client.get("/m/notes/contracts/999999").status_code == 404

    index = client.get("/m/notes/")
    assert index.status_code == 200
    assert on.number in index.text
    assert off.number not in index.text and not_mine.number not in index.text


def test_notes_page_needs_a_signed_in_user(client, contract, notes_plugin):
    on = contract(modules=["notes"])
    response = client.get(f"/m/notes/contracts/{on.id}")
    assert response.status_code == 302
    assert "/login" in response.location


def test_a_note_is_added_and_listed(client, contract, db, login_as, notes_plugin):
    from maple_notes.models import Note

    on = contract(modules=["notes"])
    user = login_as("collector", contracts=[on])

    response = client.post(f"/m/notes/contracts/{on.id}", data={"body": "  债务人下周回电  "})
    assert response.status_code == 302
    assert response.location.endswith(f"/m/notes/contracts/{on.id}")

    note = db.session.scalars(select(Note)).one()
    assert (note.contract_id, note.author_id, note.body) == (on.id, user.id, "债务人下周回电")
    assert [entry.object_id for entry in audit_actions(db, "notes.note_added")] == [str(note.id)]
    assert "债务人下周回电" in client.get(f"/m/notes/contracts/{on.id}").text


def test_an_empty_note_is_refused_and_nothing_saved(client, contract, db, login_as, notes_plugin):
    from maple_notes.models import Note

    on = contract(modules=["notes"])
    login_as("collector", contracts=[on])

    response = client.post(f"/m/notes/contracts/{on.id}", data={"body": ""})
    assert response.status_code == 200  # the page again, with the field's error
    assert 'class="error"' in response.text
    assert db.session.scalars(select(Note)).all() == []


def test_a_reader_without_notes_write_cannot_add_a_note(
    client, contract, db, login_as, notes_plugin
):
    from maple_notes.models import Note

    on = contract(modules=["notes"])
    # A client viewer reads the notes of its own client's contracts but may not write.
    login_as("client_viewer", client=on.client)

    assert client.get(f"/m/notes/contracts/{on.id}").status_code == 200
    response = client.post(f"/m/notes/contracts/{on.id}", data={"body": "hello"})
    assert response.status_code == 403
    assert db.session.scalars(select(Note)).all() == []


def test_notes_menu_entry_shows_only_with_notes_on_for_one_of_the_users_contracts(
    contract, make_user, notes_plugin
):
    on, off = contract(modules=["notes"]), contract()

    def has_notes_entry(user):
        return "notes.index" in [item.endpoint for item in nav_for(user)]

    assert has_notes_entry(make_user("collector", contracts=[on, off]))
    assert not has_notes_entry(make_user("collector", contracts=[off]))
    assert not has_notes_entry(make_user("collector"))


def test_notes_case_panel_shows_only_where_notes_are_on(
    app, client, contract, db, login_as, notes_plugin
):
    from maple_notes.services import add_note

    on, off = contract(modules=["notes"]), contract()
    user = login_as("collector", contracts=[on, off])
    add_note(on, "先联系联系人", user)
    case_on, case_off = make_case(db, on, "N-1"), make_case(db, off, "N-2")
    case_on.holder = case_off.holder = user  # a collector sees the cases they hold
    db.session.commit()

    def notes_panels(case):
        with app.test_request_context():
            results = hooks_for(case.contract).case_detail_panels(case=case, user=user)
            return [p for p in collect_panels(results) if str(p.title) == "Contract notes"]

    with force_locale("en"):
        panels = notes_panels(case_on)
        assert len(panels) == 1
        assert "先联系联系人" in panels[0].html
        assert notes_panels(case_off) == []

    if "cases.detail" in app.view_functions:  # the page itself, once the core serves it
        page_on, page_off = client.get(f"/cases/{case_on.id}"), client.get(f"/cases/{case_off.id}")
        assert "先联系联系人" in page_on.text
        assert f"/m/notes/contracts/{on.id}" in page_on.text
        assert page_off.status_code == 200
        assert f"/m/notes/contracts/{off.id}" not in page_off.text
