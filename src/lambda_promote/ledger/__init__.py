"""The ledger: releases, deployments, checks, locks, approval requests and the audit trail."""
