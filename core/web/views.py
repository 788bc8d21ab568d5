"""The home page: the contracts a user works on and the modules each has on."""

from flask import Blueprint, render_template
from flask_login import current_user

from core.auth.permissions import login_only
from core.clients.services import visible_contracts_query
from core.extensions import db
from core.plugins import registry

web = Blueprint("web", __name__)


@web.route("/")
@login_only
def home():
    contracts = db.session.scalars(visible_contracts_query(current_user)).all()
    return render_template("core/home.html", contracts=contracts, modules=registry().modules)
