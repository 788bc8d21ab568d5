def test_app_builds_and_roles_exist(app, db):
    from sqlalchemy import select

    from core.auth.models import Role

    names = set(db.session.scalars(select(Role.name)))
    assert {"admin", "collector", "client_viewer"} <= names
