"""`python -m tests.reliability.scaled <factor> <dirsync arguments>`: `dirsync serve` or
`dirsync emulate` with time's restore windows divided by <factor>, for the simulated month
(tests/reliability/month.py).

The month scales every span of time by one factor: the loop's interval, the full-run interval
and the retry delays are settings, the emulators' quotas have a `time_scale`, but the restore
windows are constants (Entra keeps a deleted user 30 days, Google 20: directories' clients
and the emulators). This launcher divides those four constants before the real command runs;
nothing else differs from `python -m bots.cli`.
"""

from __future__ import annotations

import sys


def scale_restore_windows(factor: float) -> None:
    from directories.entra import EntraDirectory
    from directories.google import GoogleDirectory
    from emulators.google import workspace
    from emulators.microsoft import tenant

    EntraDirectory.restorable_for = EntraDirectory.restorable_for / factor
    GoogleDirectory.restorable_for = GoogleDirectory.restorable_for / factor
    tenant.RESTORE_WINDOW_SECONDS = round(tenant.RESTORE_WINDOW_SECONDS / factor)
    workspace.RESTORE_WINDOW_SECONDS = round(workspace.RESTORE_WINDOW_SECONDS / factor)


def main(argv: list[str]) -> int:
    scale_restore_windows(float(argv[0]))
    from bots.cli import main as dirsync

    return dirsync(argv[1:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
