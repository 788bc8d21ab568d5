"""Maple's core: the app factory and what every module builds on."""

from __future__ import annotations

import os

from flask import Flask

from core.hookspecs import hookimpl

__all__ = ["create_app", "hookimpl"]


def create_app(config: dict | None = None) -> Flask:
    """Build a Maple app: config, extensions, plugins, blueprints, guard. The one factory."""
    from core import cli
    from core import config as config_module
    from core.extensions import babel, csrf, db, login_manager
    from core.plugins import PluginRegistry
    from core.web import setup as web_setup

    instance = os.environ.get("MAPLE_INSTANCE_PATH") or os.path.join(os.getcwd(), "instance")
    app = Flask(
        __name__,
        instance_path=os.path.abspath(instance),
        instance_relative_config=True,
        static_folder="web/static",
        template_folder="web/templates",
    )
    config_module.load(app, config)
    config_module.check_production_ready(app)
    if app.config["TRUSTED_PROXIES"]:
        from werkzeug.middleware.proxy_fix import ProxyFix

        hops = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)

    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    babel.init_app(
        app, locale_selector=web_setup.select_locale, default_translation_directories="translations"
    )
    _import_core_models()

    registry = PluginRegistry()
    app.extensions["maple_plugins"] = registry
    registry.load(app.config)

    web_setup.register_core_blueprints(app)
    registry.install(app)
    registry.add_translations(app)
    cli.register(app)
    web_setup.install_request_handling(app)

    with app.app_context():
        web_setup.tune_sqlite(db.engine)
        if app.config["AUTO_MIGRATE"]:
            from core.migrate import upgrade_all

            upgrade_all()
    registry.pm.hook.app_configured.call_historic(kwargs={"app": app})
    return app


def _import_core_models() -> None:
    """Import every core model so the metadata (and Alembic) knows all core tables."""
    import core.audit.models
    import core.auth.models
    import core.batches.models
    import core.cases.models
    import core.clients.models
    import core.imports.models
    import core.jobs.models  # noqa: F401
