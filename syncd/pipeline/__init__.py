"""From connectors to the store: accounts, the batch runner, ingest, identity, imports.

A connector's batches are applied here, one transaction per batch with its cursors."""
