"""Forms of the special site: sign-in and the demo sign-up with a member ID."""

from __future__ import annotations

from django import forms
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.forms import AuthenticationForm
from django.db import transaction
from django.utils.translation import gettext_lazy as _

from campaign.models import Member
from campaign.services import Refused, member_id_check


class MemberSignInForm(AuthenticationForm):
    """Django's sign-in form with the member ID as the user name (a WESTER ID SSO would replace it)."""

    def __init__(self, request=None, *args, **kwargs):
        super().__init__(request, *args, **kwargs)
        self.fields["username"].label = _("Member ID")
        self.fields["username"].widget.attrs.update({"autocomplete": "username", "inputmode": "latin"})
        self.fields["password"].label = _("Password")


class SignUpForm(forms.Form):
    """Demo sign-up: a member ID and a password create the site login of that member."""

    member_id = forms.CharField(
        label=_("Member ID"),
        max_length=64,
        help_text=_("The member ID of your Wesmo! app (1 to 64 letters, digits or symbols)."),
        widget=forms.TextInput(attrs={"autocomplete": "username", "inputmode": "latin"}),
    )
    password1 = forms.CharField(
        label=_("Password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=password_validation.password_validators_help_text_html(),
    )
    password2 = forms.CharField(
        label=_("Password (again)"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
    )

    def clean_member_id(self) -> str:
        try:
            member_id = member_id_check(self.cleaned_data["member_id"])
        except Refused as exc:
            raise forms.ValidationError(exc.message, code=exc.code) from None
        if get_user_model().objects.filter(username__iexact=member_id).exists():
            raise forms.ValidationError(_("This member ID already has a sign-in. Please sign in."), code="taken")
        return member_id

    def clean(self) -> dict:
        cleaned = super().clean()
        password1, password2 = cleaned.get("password1"), cleaned.get("password2")
        if password1 and password2 and password1 != password2:
            self.add_error("password2", _("The two passwords differ."))
        elif password1 and cleaned.get("member_id"):
            user = get_user_model()(username=cleaned["member_id"])
            try:
                password_validation.validate_password(password1, user)
            except forms.ValidationError as exc:
                self.add_error("password1", exc)
        return cleaned

    @transaction.atomic
    def save(self):
        """Create the user (user name = member ID) and link it to the member, creating the member if new."""
        member_id = self.cleaned_data["member_id"]
        user = get_user_model().objects.create_user(username=member_id, password=self.cleaned_data["password1"])
        member, _created = Member.objects.select_for_update().get_or_create(member_id=member_id)
        if member.user_id is not None:
            raise forms.ValidationError(_("This member ID already has a sign-in. Please sign in."), code="taken")
        member.user = user
        member.save(update_fields=["user"])
        return user
