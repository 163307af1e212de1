"""Running models end to end for the CLI and the pages: validated inputs in, frozen results out."""
