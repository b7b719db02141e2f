"""``python -m lambda_promote`` runs the CLI."""

from lambda_promote.cli import main

main()
