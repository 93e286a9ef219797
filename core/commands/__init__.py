"""The chat commands (README, "Chat commands"), for every front-end (Teams, Google Chat, CLI).

- `catalog`: the table of commands (grammar, usage, help text, access level)
- `parser`: text -> Command | ParseError (pure, never raises)
- `access`: Asker, AccessPolicy: who may run what, with refusals that say why
- `reply`: Reply and Table, the structured answer each front-end renders; `render_text`
- `interpreter`: Interpreter.handle(text, asker, where) -> Reply, audited exactly once
- `status`, `people`, `actions`, `guide`: the handlers

Nothing is re-exported here, so importing the pure parser does not import the engine.
"""
