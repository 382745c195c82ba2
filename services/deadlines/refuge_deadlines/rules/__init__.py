"""Rule packs, one TOML file per jurisdiction (``fr.toml``, ``us.toml``), read as package data.

See ``refuge_deadlines.domain.packs`` for the schema and its validation.
"""
