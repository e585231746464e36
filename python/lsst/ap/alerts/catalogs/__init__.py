"""The visit's catalogs: schema-typed tables, the linked catalogs of one visit, input checks and
solar-system designations."""
