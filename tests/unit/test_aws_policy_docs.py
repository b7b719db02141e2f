"""The docs' IAM lists are the table the policy is built from (aws_policy.CALLS): a call added
for a feature shows up in docs/aws.md and the workflow guide, or this fails."""

from __future__ import annotations

from pathlib import Path

from lambda_promote.aws_policy import docs_table

DOCS = Path(__file__).parents[2] / "docs"


def test_docs_aws_md_shows_the_generated_table() -> None:
    assert docs_table() in (DOCS / "aws.md").read_text()


def test_the_workflow_guide_shows_the_generated_table() -> None:
    indented = "\n".join("   " + line for line in docs_table().splitlines())
    assert indented in (DOCS / "STAGING_TO_PRODUCTION_WORKFLOW.md").read_text()
