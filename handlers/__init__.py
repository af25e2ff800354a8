"""Lambda entry points: one module per function in infra/template.yaml."""
