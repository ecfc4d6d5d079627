"""The user configuration (``config.toml``): its schema, validation and edits.

Below the connectors and the rules: an account's settings reach its connector as an
:class:`~syncd.config.schema.AccountConfig`."""
