"""The ledger: releases, deployments, checks, locks (and later approvals and audit)."""
