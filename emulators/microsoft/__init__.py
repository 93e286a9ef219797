"""A Microsoft tenant emulator: Microsoft identity (client credentials) and Graph v1.0 for users,
groups, members, delta, invitations, deleted items and $batch, with Graph's throttling model,
fault injection and request counts. Faithful enough that MSAL and msgraph-sdk run against it.
"""

from .app import create_app
from .consistency import Consistency, ConsistencyConfig
from .emulator import GraphOptions, MicrosoftEmulator, emulator_of
from .faults import FaultConfig, Faults
from .loopback import HttpsToHttpSession
from .seed import SeedError, load_seed, load_seed_file, tenant_from_seed
from .tenant import AlreadyExists, AppClient, Group, NotFound, Tenant, User
from .throttle import Throttle, ThrottleConfig

__all__ = [
    "AlreadyExists",
    "AppClient",
    "Consistency",
    "ConsistencyConfig",
    "FaultConfig",
    "Faults",
    "GraphOptions",
    "Group",
    "HttpsToHttpSession",
    "MicrosoftEmulator",
    "NotFound",
    "SeedError",
    "Tenant",
    "Throttle",
    "ThrottleConfig",
    "User",
    "create_app",
    "emulator_of",
    "load_seed",
    "load_seed_file",
    "tenant_from_seed",
]
