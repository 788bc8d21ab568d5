"""Signing in and out, the language switch, and a user's own profile and API tokens."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user
from sqlalchemy import select

from core.auth import services, throttle
from core.auth.forms import LoginForm, PasswordForm, ProfileForm, TokenForm
from core.auth.models import ApiToken
from core.auth.permissions import login_only, public, require
from core.errors import UserError
from core.extensions import db
from core.web.forms import choices

auth = Blueprint("auth", __name__)

DEVICE_COOKIE_DAYS = 365


def _safe_next(target: str | None) -> str:
    """Only same-site paths: a login link must not send the user elsewhere."""
    if not target:
        return url_for("web.home")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("web.home")
    return target


@auth.route("/login", methods=["GET", "POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("web.home"))
    form = LoginForm()
    status = 200
    if form.validate_on_submit():
        try:
            user = services.authenticate(
                form.username.data,
                form.password.data,
                request.remote_addr or "",
                request.cookies.get(throttle.DEVICE_COOKIE),
            )
        except UserError as error:
            db.session.commit()  # keep the failure count and the audit entry
            flash(error.message, "error")
            status = error.status_code
        else:
            session.clear()  # a fresh session for the fresh login
            user.session_id = services.start_session(user, request.remote_addr or "").id
            db.session.commit()
            login_user(user)
            response = redirect(_safe_next(request.args.get("next")))
            response.set_cookie(
                throttle.DEVICE_COOKIE,
                throttle.new_device_cookie(user.username),
                max_age=DEVICE_COOKIE_DAYS * 86400,
                httponly=True,
                samesite="Lax",
                secure=current_app.config["SESSION_COOKIE_SECURE"],
            )
            return response
    return render_template("core/login.html", form=form), status


@auth.route("/logout", methods=["POST"])
@login_only
def logout():
    services.end_session(current_user.session_id)
    db.session.commit()
    logout_user()
    session.clear()
    flash(_("You have signed out."), "info")
    return redirect(url_for("auth.login"))


@auth.route("/language/<code>", methods=["POST"])
@public
def language(code):
    if code not in current_app.config["LANGUAGES"]:
        abort(404)
    session["locale"] = code
    if current_user.is_authenticated:
        current_user.locale = code
        db.session.commit()
    return redirect(_safe_next(request.form.get("next")))


@auth.route("/profile", methods=["GET", "POST"])
@login_only
def profile():
    profile_form = ProfileForm(obj=current_user, prefix="profile")
    profile_form.locale.choices = choices(current_app.config["LANGUAGES"].items())
    password_form = PasswordForm(prefix="password")
    if "profile-display_name" in request.form and profile_form.validate_on_submit():
        services.update_user(
            current_user,
            actor=current_user,
            display_name=profile_form.display_name.data,
            locale=profile_form.locale.data,
        )
        db.session.commit()
        flash(_("Your profile was saved."), "success")
        return redirect(url_for("auth.profile"))
    if "password-new_password" in request.form and password_form.validate_on_submit():
        if not current_user.check_password(password_form.current_password.data):
            password_form.current_password.errors.append(_("This is not your current password."))
        else:
            user = current_user._get_current_object()
            services.update_user(user, actor=user, password=password_form.new_password.data)
            # Changing the password ends every session, this one too: open a new one.
            user.session_id = services.start_session(user, request.remote_addr or "").id
            db.session.commit()
            login_user(user)
            flash(_("Your password was changed; other sessions were signed out."), "success")
            return redirect(url_for("auth.profile"))
    tokens = db.session.scalars(
        select(ApiToken).filter_by(user_id=current_user.id).order_by(ApiToken.created_at.desc())
    ).all()
    return render_template(
        "core/profile.html",
        profile_form=profile_form,
        password_form=password_form,
        token_form=TokenForm(prefix="token"),
        tokens=tokens,
        new_token=session.pop("new_token", None),
    )


@auth.route("/profile/tokens", methods=["POST"])
@require("core.api.use")
def issue_token():
    form = TokenForm(prefix="token")
    if form.validate_on_submit():
        _token, plain = services.issue_token(current_user, form.name.data)
        db.session.commit()
        session["new_token"] = plain  # shown once on the next page, never stored
    else:
        flash(_("Give the token a name."), "error")
    return redirect(url_for("auth.profile"))


@auth.route("/profile/tokens/<int:token_id>/revoke", methods=["POST"])
@login_only
def revoke_token(token_id):
    token = db.session.get(ApiToken, token_id)
    if token is None or token.user_id != current_user.id:
        abort(404)
    services.revoke_token(token, current_user)
    db.session.commit()
    flash(_("The token was revoked."), "success")
    return redirect(url_for("auth.profile"))
