"""allauth's forms, each refusing a 個人番号 in every field (settings: ACCOUNT_FORMS and MFA_FORMS).

Only the check is added: labels, validation and behaviour stay allauth's. The forms of features this project has
switched off (sign-up, login by code, phone numbers, email verification) are left out; when one is switched on,
add its subclass here and its key to the settings.
"""

from __future__ import annotations

from allauth.account import forms as account_forms
from allauth.mfa.base import forms as mfa_base_forms
from allauth.mfa.totp import forms as totp_forms
from allauth.mfa.webauthn import forms as webauthn_forms
from django.contrib.admin.forms import AdminAuthenticationForm

from apps.security.mynumber import RefusesIndividualNumber


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


class MFAAuthenticateForm(RefusesIndividualNumber, mfa_base_forms.AuthenticateForm):
    pass


class MFAReauthenticateForm(RefusesIndividualNumber, mfa_base_forms.ReauthenticateForm):
    pass


class ActivateTOTPForm(RefusesIndividualNumber, totp_forms.ActivateTOTPForm):
    pass


class AddWebAuthnForm(RefusesIndividualNumber, webauthn_forms.AddWebAuthnForm):
    pass


class EditWebAuthnForm(RefusesIndividualNumber, webauthn_forms.EditWebAuthnForm):
    pass


class ConsoleLoginForm(RefusesIndividualNumber, AdminAuthenticationForm):
    """The vendor console's login (Django admin): `admin.site.login_form = ConsoleLoginForm`."""


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
