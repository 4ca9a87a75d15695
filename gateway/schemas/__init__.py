"""The document types: their packs (definition, XSDs, sample), the catalogue that reads them, the registry that compiles them."""
