"""The long-running service (`dirsync serve`): the background reconciliation loop, the runner
that hands commands' runs to the lease holder, and the aiohttp server."""
