"""Identity's front door: what other contexts and the pages may use; the rest is internal.

- The access model: who acts (:class:`Actor`), what they may do (roles, :func:`can`,
  :func:`authorize`), and the request's actor and tenant as route dependencies.
- One-time codes, attempt throttling and identity's MAC, which registration's own
  code-proved flows (claims, contact changes) reuse.
- The login, account and staff use cases the pages drive, and CSRF for their forms.

Generic names are qualified here (``verify_csrf``, ``throttle_attempt``) so a caller
reads well as ``identity.<name>``.
"""

from __future__ import annotations

from vaxport.identity.access.actor import Actor
from vaxport.identity.access.csrf import secure_cookies
from vaxport.identity.access.csrf import set_cookie_if_new as set_csrf_cookie_if_new
from vaxport.identity.access.csrf import token_for as csrf_token_for
from vaxport.identity.access.csrf import verify as verify_csrf
from vaxport.identity.access.edge import (
    CurrentActor,
    OptionalActor,
    PathTenant,
    client_ip,
    refuse_if_held,
    request_actor,
    session_cookie,
)
from vaxport.identity.access.policy import (
    AUDITOR,
    CITIZEN,
    NATIONAL_ADMIN,
    REGION_ADMIN,
    STAFF_ROLES,
    Resource,
    Subject,
    authorize,
    can,
    may_assign,
)
from vaxport.identity.credentials.secrets import mac
from vaxport.identity.holders import HolderContact, holder_contact
from vaxport.identity.login.citizen import login_with_code, request_login_code
from vaxport.identity.login.enrolment import confirm_enrolment, start_enrolment
from vaxport.identity.login.otp import BAD_CODE as BAD_OTP_CODE
from vaxport.identity.login.otp import CODE_MINUTES as OTP_CODE_MINUTES
from vaxport.identity.login.otp import Destination, request_code, verify_code
from vaxport.identity.login.otp import decoy as decoy_destination
from vaxport.identity.login.otp import open_transaction as open_code_transaction
from vaxport.identity.login.recovery import finish_recovery, start_recovery
from vaxport.identity.login.recovery_guard import undo as undo_recovery
from vaxport.identity.login.staff import BAD_CODE as BAD_LOGIN_CODE
from vaxport.identity.login.staff import (
    BAD_CREDENTIALS,
    EXPIRED,
    LoginOutcome,
    login_password,
    login_second_factor,
)
from vaxport.identity.login.throttle import Key as ThrottleKey
from vaxport.identity.login.throttle import Policy as ThrottlePolicy
from vaxport.identity.login.throttle import Throttled
from vaxport.identity.login.throttle import attempt as throttle_attempt
from vaxport.identity.login.throttle import succeeded as throttle_succeeded
from vaxport.identity.staff.account import activate, get_me, logout
from vaxport.identity.staff.admin import (
    Invitation,
    StaffView,
    change_staff,
    create_staff,
    get_staff,
    list_staff,
    reset_staff,
)
from vaxport.identity.staff.admin import manageable as manageable_staff
from vaxport.identity.staff.admin import set_status as set_staff_status
from vaxport.identity.staff.reachable import admins_over, staff_contact

__all__ = [
    "AUDITOR",
    "BAD_CREDENTIALS",
    "BAD_LOGIN_CODE",
    "BAD_OTP_CODE",
    "CITIZEN",
    "EXPIRED",
    "NATIONAL_ADMIN",
    "OTP_CODE_MINUTES",
    "REGION_ADMIN",
    "STAFF_ROLES",
    "Actor",
    "CurrentActor",
    "Destination",
    "HolderContact",
    "Invitation",
    "LoginOutcome",
    "OptionalActor",
    "PathTenant",
    "Resource",
    "StaffView",
    "Subject",
    "ThrottleKey",
    "ThrottlePolicy",
    "Throttled",
    "activate",
    "admins_over",
    "authorize",
    "can",
    "change_staff",
    "client_ip",
    "confirm_enrolment",
    "create_staff",
    "csrf_token_for",
    "decoy_destination",
    "finish_recovery",
    "get_me",
    "get_staff",
    "holder_contact",
    "list_staff",
    "login_password",
    "login_second_factor",
    "login_with_code",
    "logout",
    "mac",
    "manageable_staff",
    "may_assign",
    "open_code_transaction",
    "refuse_if_held",
    "request_actor",
    "request_code",
    "request_login_code",
    "reset_staff",
    "secure_cookies",
    "session_cookie",
    "set_csrf_cookie_if_new",
    "set_staff_status",
    "staff_contact",
    "start_enrolment",
    "start_recovery",
    "throttle_attempt",
    "throttle_succeeded",
    "undo_recovery",
    "verify_code",
    "verify_csrf",
]
