import threading

from flask import (
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user
from sqlalchemy import update
from werkzeug.security import check_password_hash, generate_password_hash

from .. import audit, instance
from ..extensions import db, login_manager
from ..models import Account, utcnow
from ..ratelimits import sign_in_limit
from . import bp, record_later
from .accounts import AccountError, any_account, create_account, find_account
from .forms import LoginForm, PasswordChangeForm, SetupForm
from .guard import safe_next
from .roles import public, requires

_dummy_hash = None


def _spend_password_check_time(password: str):
    """Check against a throwaway hash so an unknown username takes as long as a known one."""
    global _dummy_hash
    if _dummy_hash is None:
        _dummy_hash = generate_password_hash("not-a-real-password")
    check_password_hash(_dummy_hash, password)


def _client_address() -> str:
    """The TCP peer, or X-Forwarded-For set by FACEREC_TRUSTED_PROXIES trusted proxies
    (werkzeug's ProxyFix in facerec.web); never a header a client invents."""
    return request.remote_addr or "unknown"


def _throttled(throttle, address: str, username: str, template: str, **context):
    """A 429 page with Retry-After while too many wrong passwords were tried, else None."""
    wait, why = throttle.retry_after(address, username)
    if not wait:
        return None
    message = f"{why} Try again in {wait} seconds."
    response = current_app.make_response((render_template(template, error=message, **context), 429))
    response.headers["Retry-After"] = str(wait)
    return response


def _after_login(target):
    return redirect(safe_next(target) or url_for("stream.live"))


@bp.route("/login", methods=["GET", "POST"])
@sign_in_limit
@public
def login():
    """Sign in with a username and password."""
    if not any_account():
        return redirect(url_for("auth.setup"))
    form = LoginForm()
    if request.method == "GET":
        form.next.data = request.args.get("next", "")
        if current_user.is_authenticated:
            return _after_login(form.next.data)
        return render_template("auth/login.html", form=form)

    throttle = current_app.extensions["login_throttle"]
    address = _client_address()
    username = request.form.get("username", "")
    refused = _throttled(throttle, address, username, "auth/login.html", form=form)
    if refused:
        return refused
    if not form.validate_on_submit():
        return render_template("auth/login.html", form=form), 400

    account = find_account(form.username.data)
    if account is None:
        _spend_password_check_time(form.password.data)
    if account is None or not account.check_password(form.password.data):
        throttle.failed(address, username)
        _record_failure(form.username.data, account, "wrong username or password")
        return render_template("auth/login.html", form=form, error="Wrong username or password.")
    if not account.is_active:
        # Only a right password learns that the account is disabled.
        _record_failure(form.username.data, account, "account disabled")
        return render_template(
            "auth/login.html",
            form=form,
            error="This account is disabled: ask an administrator to enable it.",
        )
    throttle.succeeded(address, username)
    session.clear()  # a fresh session (and CSRF token) for the signed-in user
    login_user(account)
    # Bookkeeping and the audit, after the answer: a busy database must not refuse a right
    # password (audit.record_when_sent).
    record_later(update(Account).where(Account.id == account.id).values(last_login_at=utcnow()))
    audit.record_when_sent("signin", account, actor=account.username)
    return _after_login(form.next.data)


def _record_failure(typed: str, account, why: str):
    """A failed sign-in on record (after the answer, like a sign-in)."""
    audit.record_when_sent(
        "signin.failed",
        account,
        object_type="account",
        object_name=None if account is not None else (typed or "")[:64],
        details={"reason": why},
    )


SETUP_DONE = "Setup is done: an account already exists. Sign in instead."
_setup_lock = threading.Lock()
_setup_announced = threading.Event()
SETUP_CODE_WRONG = (
    "This is not the setup code. The server printed it in its log when it started, and "
    "keeps it in instance/setup-code."
)


@bp.route("/setup", methods=["GET", "POST"])
@sign_in_limit
@public
def setup():
    """Create the first account; gone once any account exists."""
    if any_account():
        abort(404, description=SETUP_DONE)
    form = SetupForm()
    app = current_app._get_current_object()
    if request.method == "GET" and not _setup_announced.is_set():
        _setup_announced.set()
        instance.announce_setup(app)  # `flask run` has no start-up line of its own for it
    valid = form.validate_on_submit()
    if valid and not instance.setup_code_matches(app, form.code.data):
        form.code.errors = [*form.code.errors, SETUP_CODE_WRONG]
        valid = False
    if valid:
        # Check and create under one lock: two first-run submissions at the same moment must
        # not both find "no account yet" (one gunicorn worker serves every request).
        with _setup_lock:
            if any_account():
                abort(404, description=SETUP_DONE)
            try:
                account = create_account(form.username.data, form.password.data, role="admin")
            except AccountError as exc:
                form.username.errors.append(str(exc))
            else:
                g.audit_actor = f"{account.username} (first-run setup)"
                db.session.commit()
                instance.forget_setup_code(app)
        if not form.username.errors:
            session.clear()
            login_user(account)
            flash(f"Welcome, {account.username}. Your account is ready.", "success")
            return redirect(url_for("stream.live"))
    status = 400 if request.method == "POST" else 200
    return render_template("auth/setup.html", form=form), status


@bp.route("/logout", methods=["GET", "POST"])
@public
def logout():
    """Sign out (POST); GET asks for confirmation."""
    if not current_user.is_authenticated:
        return redirect(url_for("auth.login"))
    if request.method == "POST":
        # A session lives in a signed cookie, which a copy can outlive: ending the account's
        # session generation is what makes the old cookie worthless. It ends the account's
        # other sessions too (other browsers sign in again).
        current_user.end_sessions()
        db.session.commit()
        logout_user()
        session.clear()
        flash("You have signed out. Every session of this account has ended.", "success")
        return redirect(url_for("auth.login"))
    return render_template("auth/logout.html")


@bp.route("/account/password", methods=["GET", "POST"])
@sign_in_limit
@requires("own_account")
def change_password():
    """Change your own password; every other session of the account ends, this one goes on."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    form = PasswordChangeForm()
    if request.method == "GET":
        return render_template("auth/password.html", form=form)
    # Wrong current passwords count against the same limits as wrong sign-ins: a stolen
    # session must not become a way to guess the password.
    throttle = current_app.extensions["login_throttle"]
    address, username = _client_address(), current_user.username
    refused = _throttled(throttle, address, username, "auth/password.html", form=form)
    if refused:
        return refused
    if form.validate_on_submit():
        account = current_user._get_current_object()
        if not account.check_password(form.current.data):
            throttle.failed(address, username)
            form.current.errors.append("That is not your current password.")
        else:
            throttle.succeeded(address, username)
            account.set_password(form.password.data)  # ends every session, this one too...
            db.session.commit()
            session.clear()
            login_user(account)  # ...so this browser gets a cookie of the new generation
            flash(
                "Your password is changed. Every other session of this account has ended; "
                "this browser stays signed in.",
                "success",
            )
            return redirect(url_for("stream.live"))
    return render_template("auth/password.html", form=form), 400
