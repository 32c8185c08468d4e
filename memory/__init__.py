"""Memory core: storage, tenancy scopes, retrieval. No HTTP, no persona."""
