"""Judge prompt templates, YAML judge specs and the built-in prompt sets (package data). See ARCHITECTURE.md."""
