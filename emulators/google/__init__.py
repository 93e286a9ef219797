"""A Google Workspace emulator: Google's OAuth token endpoint for service accounts (with
domain-wide delegation), Admin SDK Directory v1 (users, groups, members, batch) and Cloud
Identity v1 (groups, memberships, transitive search), checked against the discovery documents
google-api-python-client ships, with the per-user query quota, fault injection, eventual
consistency's lags (off by default) and request counts. Faithful enough that google-auth and
google-api-python-client run against it unchanged.
"""

from .app import create_app
from .consistency import Consistency, ConsistencyConfig
from .discovery import ApiDescription, Catalog, ValidationError, default_catalog
from .emulator import GoogleEmulator, emulator_of
from .errors import ApiError
from .faults import FaultConfig, Faults
from .quota import Quota, QuotaConfig
from .seed import SeedError, load_seed, load_seed_file, public_key_of, workspace_from_seed
from .tokens import Grant
from .workspace import (
    EDITIONS,
    AlreadyExists,
    Group,
    Invalid,
    Membership,
    NotFound,
    ServiceAccount,
    User,
    Workspace,
    WorkspaceError,
)

__all__ = [
    "EDITIONS",
    "AlreadyExists",
    "ApiDescription",
    "ApiError",
    "Catalog",
    "Consistency",
    "ConsistencyConfig",
    "FaultConfig",
    "Faults",
    "GoogleEmulator",
    "Grant",
    "Group",
    "Invalid",
    "Membership",
    "NotFound",
    "Quota",
    "QuotaConfig",
    "SeedError",
    "ServiceAccount",
    "User",
    "ValidationError",
    "Workspace",
    "WorkspaceError",
    "create_app",
    "default_catalog",
    "emulator_of",
    "load_seed",
    "load_seed_file",
    "public_key_of",
    "workspace_from_seed",
]
