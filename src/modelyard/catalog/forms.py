"""Checks credential values against a provider's form: required fields, options, switches, lengths."""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping

from modelyard.catalog.spec import MODEL_TYPE_FIELD, FormField
from modelyard.errors import CredentialValidationError


def is_shown(field: FormField, values: Mapping[str, str], model_type: str | None = None) -> bool:
    """A field with `show_on` conditions counts only when every condition holds; a condition on the model type
    holds when the type is not known (a form read outside of one model)."""
    for condition in field.show_on:
        if condition.variable == MODEL_TYPE_FIELD:
            if model_type is not None and model_type != condition.value:
                return False
        elif values.get(condition.variable) != condition.value:
            return False
    return True


def check_values(
    form: Iterable[FormField], values: Mapping[str, object], *, model_type: str | None = None
) -> dict[str, str]:
    """The values the form accepts, with defaults filled in; the first problem raises, naming its field.

    A field its `show_on` hides (for `model_type`, or by another field's value) keeps no value: what does not
    apply is not stored.
    """
    fields = {f.variable: f for f in form}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise CredentialValidationError(_unknown_field(unknown[0], fields), field=unknown[0]).with_params(
            case="unknown_field", field=unknown[0]
        )
    checked: dict[str, str] = {}
    for variable, raw in values.items():
        if raw is None:
            continue
        if not isinstance(raw, str | bool | int | float):
            raise CredentialValidationError(f"{variable} must be a string", field=variable).with_params(
                case="not_text", field=variable
            )
        text = ("true" if raw else "false") if isinstance(raw, bool) else str(raw)
        if text != "":
            checked[variable] = text.strip() if not fields[variable].is_secret else text
    for field in fields.values():
        if field.variable not in checked and field.default is not None:
            checked[field.variable] = field.default
    hidden = [field.variable for field in fields.values() if not is_shown(field, checked, model_type)]
    for variable in hidden:
        checked.pop(variable, None)
    for field in fields.values():
        value = checked.get(field.variable)
        if value is None:
            if field.required and field.variable not in hidden:
                raise CredentialValidationError(f"{field.variable} is required", field=field.variable).with_params(
                    case="required", field=field.variable
                )
            continue
        if len(value) > field.max_length:
            raise CredentialValidationError(
                f"{field.variable} is longer than {field.max_length} characters", field=field.variable
            ).with_params(case="too_long", field=field.variable, max_length=field.max_length)
        if field.options and value not in {option.value for option in field.options}:
            allowed = ", ".join(option.value for option in field.options)
            raise CredentialValidationError(
                f"{field.variable} must be one of: {allowed}", field=field.variable
            ).with_params(case="not_an_option", field=field.variable, options=allowed)
        if field.type == "switch" and value not in ("true", "false"):
            raise CredentialValidationError(
                f"{field.variable} must be true or false", field=field.variable
            ).with_params(case="not_a_switch", field=field.variable)
    return checked


def _unknown_field(name: str, fields: Mapping[str, FormField]) -> str:
    """Names the form's fields, and the nearest one when the name looks like a typo of it."""
    nearest = difflib.get_close_matches(name, fields, n=1)
    hint = f"; did you mean {nearest[0]!r}?" if nearest else ""
    return f"unknown credential field {name!r}{hint} (the fields are: {', '.join(fields) or 'none'})"
