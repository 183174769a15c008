"""allauth's forms, each refusing a 個人番号 in every field (settings: ACCOUNT_FORMS and MFA_FORMS).

Only the check is added, and to the second-factor code forms our lockout: labels, validation and behaviour stay
allauth's. The forms of features this project has switched off (sign-up, login by code, phone numbers, email
verification) are left out; when one is switched on, add its subclass here and its key to the settings.
"""

from __future__ import annotations

from allauth.account import forms as account_forms
from allauth.core import context
from allauth.mfa.base import forms as mfa_base_forms
from allauth.mfa.totp import forms as totp_forms
from allauth.mfa.webauthn import forms as webauthn_forms
from django import forms

from apps.security.adapters import refusal_error
from apps.security.lockout import Factor, account_of_user, attempt_refusal, mfa_failure_record
from apps.security.mynumber import RefusesIndividualNumber
from apps.security.request_actor import request_actor
from apps.security.signs import record_sign


class LoginForm(RefusesIndividualNumber, account_forms.LoginForm):
    pass


class ReauthenticateForm(RefusesIndividualNumber, account_forms.ReauthenticateForm):
    pass


class AddEmailForm(RefusesIndividualNumber, account_forms.AddEmailForm):
    pass


class ChangePasswordForm(RefusesIndividualNumber, account_forms.ChangePasswordForm):
    pass


class SetPasswordForm(RefusesIndividualNumber, account_forms.SetPasswordForm):
    pass


class ResetPasswordForm(RefusesIndividualNumber, account_forms.ResetPasswordForm):
    pass


class ResetPasswordKeyForm(RefusesIndividualNumber, account_forms.ResetPasswordKeyForm):
    pass


class SecondFactorLimited(mfa_base_forms.BaseAuthenticateForm):
    """A second-factor code (app code or recovery code) under the same lockout as passwords.

    Before the code is checked: refused while the account or the address is locked, so after a lock even the right
    code opens nothing until the lock ends or a supervisor releases it (and while the counter store cannot count:
    fail closed). A wrong code is counted per account and per address bucket, audited (`auth.mfa_failed`) and
    counted as an attack sign. allauth's own limit on codes (`login_failed`, in the cache) still runs inside.
    """

    def clean_code(self) -> str:
        actor = request_actor(context.request)
        address = actor.address
        refused = attempt_refusal(factor=Factor.MFA, account=account_of_user(self.user), address=address)
        if refused is not None:
            record_sign("login_failed", address)
            raise refusal_error(refused)
        try:
            code: str = super().clean_code()
        except forms.ValidationError:
            mfa_failure_record(actor=actor, user=self.user)
            record_sign("login_failed", address)
            raise
        return code


class MFAAuthenticateForm(RefusesIndividualNumber, SecondFactorLimited, mfa_base_forms.AuthenticateForm):
    """The code asked for at login, after the password."""


class MFAReauthenticateForm(RefusesIndividualNumber, SecondFactorLimited, mfa_base_forms.ReauthenticateForm):
    """The code asked for again: before managing the second factor, or for a session that has not shown one."""


class ActivateTOTPForm(RefusesIndividualNumber, totp_forms.ActivateTOTPForm):
    pass


class AddWebAuthnForm(RefusesIndividualNumber, webauthn_forms.AddWebAuthnForm):
    pass


class EditWebAuthnForm(RefusesIndividualNumber, webauthn_forms.EditWebAuthnForm):
    pass


ACCOUNT_FORMS = {
    "login": "apps.security.forms.LoginForm",
    "reauthenticate": "apps.security.forms.ReauthenticateForm",
    "add_email": "apps.security.forms.AddEmailForm",
    "change_password": "apps.security.forms.ChangePasswordForm",
    "set_password": "apps.security.forms.SetPasswordForm",
    "reset_password": "apps.security.forms.ResetPasswordForm",
    "reset_password_from_key": "apps.security.forms.ResetPasswordKeyForm",
}
MFA_FORMS = {
    "authenticate": "apps.security.forms.MFAAuthenticateForm",
    "reauthenticate": "apps.security.forms.MFAReauthenticateForm",
    "activate_totp": "apps.security.forms.ActivateTOTPForm",
    "add_webauthn": "apps.security.forms.AddWebAuthnForm",
    "edit_webauthn": "apps.security.forms.EditWebAuthnForm",
}
