"""The demo: `dirsync demo`, `dirsync say`, `dirsync emulate`, the sample organisation and the
emulators' wiring. The product reaches emulators/ only through this package."""
