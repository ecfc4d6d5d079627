"""Read-only views over the store: people, the weekly digest and its chart."""
