"""Governance of model calls: API keys' and workspaces' policies, admitted before a call and settled after it."""

from modelyard.services.governance.admission import Admission, Governor
from modelyard.services.governance.call import GovernedCall
from modelyard.services.governance.policy import Budget, KeyPolicy, Limits
from modelyard.services.governance.workspace_policies import WorkspacePolicies

__all__ = ["Admission", "Budget", "GovernedCall", "Governor", "KeyPolicy", "Limits", "WorkspacePolicies"]
