"""Governance of model calls: API keys' and workspaces' policies, admitted before a call and settled after it.

The names are imported on first use (PEP 562): the CLI's key options read `policy` alone, and that must not load
the admission machinery (the quota engine, the catalog) into `modelyard apikey list`.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from modelyard.services.governance.admission import Admission, Governor
    from modelyard.services.governance.call import GovernedCall
    from modelyard.services.governance.policy import Budget, KeyPolicy, Limits
    from modelyard.services.governance.workspace_policies import WorkspacePolicies

__all__ = ["Admission", "Budget", "GovernedCall", "Governor", "KeyPolicy", "Limits", "WorkspacePolicies"]

_HOME = {
    "Admission": "admission",
    "Governor": "admission",
    "GovernedCall": "call",
    "Budget": "policy",
    "KeyPolicy": "policy",
    "Limits": "policy",
    "WorkspacePolicies": "workspace_policies",
}


def __getattr__(name: str) -> Any:
    module = _HOME.get(name)
    if module is None:
        raise AttributeError(f"module 'modelyard.services.governance' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"modelyard.services.governance.{module}"), name)
    globals()[name] = value
    return value
