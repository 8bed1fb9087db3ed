"""Who may sign with this machine's own cloud identity (the AWS default credential chain, Google's ADC).

That identity belongs to the operator: the environment variables, credential files, container role and instance
role of the process. A credential set that asks for it (`auth_method: default_chain` / `adc`) spends the
operator's account, so the operator decides who may:

* `hosted` (the default): only credential sets the operator wrote, i.e. the hosted config;
* `all`: every credential set, a workspace's own included (a single-tenant deployment);
* `off`: nobody.

A credential set the operator wrote arrives as `OperatorCredentials`, a type only the hosted-config loader makes:
a workspace cannot forge it by typing the same values, since its values always arrive as a plain mapping.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal, get_args

from modelyard.errors import CredentialValidationError

MachineIdentityPolicy = Literal["hosted", "all", "off"]
POLICIES: tuple[MachineIdentityPolicy, ...] = get_args(MachineIdentityPolicy)


class OperatorCredentials(dict[str, str]):
    """Credential values the operator wrote (the hosted config), which may use this machine's identity."""


def admit(policy: MachineIdentityPolicy, credentials: Mapping[str, str], *, provider: str, field: str) -> None:
    """Raise unless `policy` lets these credentials sign with the machine's identity; `field` chose it."""
    if policy == "all" or (policy == "hosted" and isinstance(credentials, OperatorCredentials)):
        return
    who = "nobody" if policy == "off" else "the hosted config only"
    raise CredentialValidationError(
        f"[{provider}] {field}: this machine's own cloud identity is allowed for {who} "
        f"(MODELYARD_MACHINE_IDENTITY={policy}); enter a key instead, or ask the operator",
        field=field,
    )
