"""The DynamoDB edge of the ledger: the one ledger module that imports boto3 (an AWS adapter,
imported only when ``state`` is a ``dynamodb://`` URL). ``DynamoTable`` makes the calls the
ledger needs on one table, with botocore's ``standard`` retries (throttling is retried with
backoff, ``AWS_MAX_ATTEMPTS`` in all — the same client settings as the Lambda target), and
turns every botocore failure into an error for people:

    botocore failure                                error raised here
    ├── ResourceNotFoundException (the table)       ConfigError state_missing (exit 2):
    │                                               hint `lambda-promote state init`
    ├── AccessDenied… on a write                    LedgerError ledger_read_only
    ├── AccessDenied… on a read                     LedgerError, hint: the IAM action
    ├── throttled (retries exhausted)               LedgerError, hint: try again
    ├── credentials / endpoint / timeouts           LedgerError with botocore's words
    └── ConditionalCheckFailed, TransactionCanceled raised as they are: the ledger gives
                                                    each condition its meaning

``create`` is ``state init``: the table with its four indexes, on-demand billing,
point-in-time recovery and tags; run again it changes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import boto3
from boto3.dynamodb.types import TypeDeserializer, TypeSerializer
from botocore.exceptions import BotoCoreError, ClientError

from lambda_promote.errors import ConfigError, LedgerError
from lambda_promote.ledger.dynamo_url import DynamoLocation
from lambda_promote.targets.aws import client_config

Item = dict[str, Any]
# Global secondary indexes: name → (partition key, sort key, projection).
INDEXES: Mapping[str, tuple[str, str, str]] = {
    "by_prefix": ("ppk", "psk", "KEYS_ONLY"),
    "by_env": ("epk", "esk", "ALL"),
    "by_kind": ("kpk", "ksk", "ALL"),
    "live": ("lpk", "lsk", "ALL"),
}
_THROTTLED = (
    "ProvisionedThroughputExceededException",
    "ThrottlingException",
    "RequestLimitExceeded",
)
_DENIED = ("AccessDeniedException", "UnrecognizedClientException", "AccessDenied")
_WRITES = frozenset({"PutItem", "UpdateItem", "DeleteItem", "TransactWriteItems", "BatchWriteItem"})
_serializer = TypeSerializer()
_deserializer = TypeDeserializer()


def conditional_failure(error: ClientError) -> bool:
    return str(error.response.get("Error", {}).get("Code")) == "ConditionalCheckFailedException"


def cancel_reasons(error: ClientError) -> list[str]:
    """The per-action codes of a cancelled transaction ("None" for the actions that were
    fine); empty when ``error`` is not a cancelled transaction."""
    if str(error.response.get("Error", {}).get("Code")) != "TransactionCanceledException":
        return []
    reasons = error.response.get("CancellationReasons") or []
    return [str(r.get("Code", "None")) for r in reasons]


def old_item(error: ClientError) -> Item | None:
    """The item a failed condition saw (ReturnValuesOnConditionCheckFailure)."""
    raw: Any = error.response.get("Item")
    return None if not raw else decode(raw)


def encode(item: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _serializer.serialize(v) for k, v in item.items() if v is not None}


def decode(raw: Mapping[str, Any]) -> Item:
    item = {k: _deserializer.deserialize(v) for k, v in raw.items()}
    return {k: int(v) if isinstance(v, Decimal) else v for k, v in item.items()}


class DynamoTable:
    """One ledger table; ``client`` may be passed in (tests, a shared client)."""

    def __init__(self, where: DynamoLocation, *, client: Any = None) -> None:
        self.where = where
        self.name = where.table
        self.shown = where.url
        self._client = client

    @property
    def client(self) -> Any:
        if self._client is None:
            with self.translated("opening a DynamoDB client"):
                session = boto3.Session(region_name=self.where.region)
                self._client = session.client("dynamodb", config=client_config(max_attempts=None))
        return self._client

    # --- calls ----------------------------------------------------------------------------
    def get(self, key: Mapping[str, str]) -> Item | None:
        with self.translated("GetItem"):
            answer = self.client.get_item(TableName=self.name, Key=encode(key), ConsistentRead=True)
        raw = answer.get("Item")
        return None if raw is None else decode(raw)

    def put(self, item: Mapping[str, Any], **options: Any) -> None:
        with self.translated("PutItem"):
            self.client.put_item(TableName=self.name, Item=encode(item), **_values(options))

    def update(self, key: Mapping[str, str], **options: Any) -> Item:
        with self.translated("UpdateItem"):
            answer = self.client.update_item(
                TableName=self.name, Key=encode(key), **_values(options)
            )
        return decode(answer.get("Attributes") or {})

    def delete(self, key: Mapping[str, str], **options: Any) -> Item:
        with self.translated("DeleteItem"):
            answer = self.client.delete_item(
                TableName=self.name, Key=encode(key), **_values(options)
            )
        return decode(answer.get("Attributes") or {})

    def transact(self, actions: Sequence[Mapping[str, Any]]) -> None:
        """``actions``: ``{"Put": {...}}`` etc. with plain items/keys (encoded here). A
        transaction cancelled by one of its conditions or by a concurrent transaction on the
        same items is raised as it is (the caller re-reads and retries, or names the
        conflict); cancelled for any other reason, it is a ``LedgerError`` naming them."""
        try:
            with self.translated("TransactWriteItems"):
                self.client.transact_write_items(TransactItems=[self._action(a) for a in actions])
        except ClientError as error:
            reasons = cancel_reasons(error)
            if not reasons or {"ConditionalCheckFailed", "TransactionConflict"} & set(reasons):
                raise
            said = ", ".join(r for r in reasons if r != "None")
            raise LedgerError(
                f"the ledger at {self.shown} refused a transaction: {said}",
                hint="try again; if it persists, check the table's limits and throttling",
            ) from error

    def query(
        self, *, index: str | None = None, limit: int | None = None, **options: Any
    ) -> Iterator[Item]:
        """The items a query names, page by page (each page one bounded round trip), until
        the caller stops reading or they run out."""
        arguments: dict[str, Any] = {"TableName": self.name, **options}
        if index is None:
            arguments["ConsistentRead"] = True
        else:
            arguments["IndexName"] = index
        if limit is not None:
            arguments["Limit"] = limit
        arguments = _values(arguments)
        while True:
            with self.translated("Query"):
                answer = self.client.query(**arguments)
            for raw in answer.get("Items", []):
                yield decode(raw)
            if "LastEvaluatedKey" not in answer:
                return
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def scan(self) -> Iterator[Item]:
        arguments: dict[str, Any] = {"TableName": self.name, "ConsistentRead": True}
        while True:
            with self.translated("Scan"):
                answer = self.client.scan(**arguments)
            for raw in answer.get("Items", []):
                yield decode(raw)
            if "LastEvaluatedKey" not in answer:
                return
            arguments["ExclusiveStartKey"] = answer["LastEvaluatedKey"]

    def put_many(self, items: Sequence[Mapping[str, Any]]) -> None:
        """Unconditional puts, 25 to a request; what DynamoDB leaves unprocessed is sent
        again (botocore already backs off on throttling)."""
        for start in range(0, len(items), 25):
            pending = [{"PutRequest": {"Item": encode(i)}} for i in items[start : start + 25]]
            while pending:
                with self.translated("BatchWriteItem"):
                    answer = self.client.batch_write_item(RequestItems={self.name: pending})
                pending = answer.get("UnprocessedItems", {}).get(self.name, [])

    def _action(self, action: Mapping[str, Any]) -> dict[str, Any]:
        ((verb, body),) = action.items()
        body = _values({**body, "TableName": self.name})
        if "Item" in body:
            body["Item"] = encode(body["Item"])
        if "Key" in body:
            body["Key"] = encode(body["Key"])
        return {verb: body}

    # --- the table itself (state init) ----------------------------------------------------
    def exists(self) -> bool:
        try:
            with self.translated("DescribeTable"):
                self.client.describe_table(TableName=self.name)
        except ConfigError as error:
            if error.code == "state_missing":
                return False
            raise
        return True

    def create(self, *, tags: Mapping[str, str]) -> dict[str, Any]:
        """The table as ``state init`` makes it; what was done, for the report."""
        created = not self.exists()
        if created:
            with self.translated("CreateTable"):
                self.client.create_table(**_table_definition(self.name, tags))
                self.client.get_waiter("table_exists").wait(
                    TableName=self.name, WaiterConfig={"Delay": 1, "MaxAttempts": 120}
                )
        with self.translated("UpdateContinuousBackups"):
            self.client.update_continuous_backups(
                TableName=self.name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
        with self.translated("DescribeTable"):
            table = self.client.describe_table(TableName=self.name)["Table"]
            arn = str(table["TableArn"])
            if not created and tags:
                self.client.tag_resource(
                    ResourceArn=arn, Tags=[{"Key": k, "Value": v} for k, v in tags.items()]
                )
        return {
            "table": self.name,
            "region": self.where.region,
            "arn": arn,
            "created": created,
            "billing": "PAY_PER_REQUEST",
            "point_in_time_recovery": True,
            "indexes": sorted(INDEXES),
            "tags": dict(tags),
        }

    def health(self) -> dict[str, Any]:
        """What ``doctor`` judges: the table, its billing, point-in-time recovery, indexes."""
        with self.translated("DescribeTable"):
            table = self.client.describe_table(TableName=self.name)["Table"]
        with self.translated("DescribeContinuousBackups"):
            backups = self.client.describe_continuous_backups(TableName=self.name)
        recovery = backups["ContinuousBackupsDescription"].get("PointInTimeRecoveryDescription", {})
        return {
            "table": self.name,
            "region": self.where.region,
            "status": table.get("TableStatus", ""),
            "billing": table.get("BillingModeSummary", {}).get("BillingMode", "PROVISIONED"),
            "point_in_time_recovery": recovery.get("PointInTimeRecoveryStatus") == "ENABLED",
            "missing_indexes": sorted(
                set(INDEXES) - {i["IndexName"] for i in table.get("GlobalSecondaryIndexes", [])}
            ),
        }

    # --- errors ---------------------------------------------------------------------------
    @contextmanager
    def translated(self, operation: str) -> Iterator[None]:
        try:
            yield
        except ClientError as error:
            code = str(error.response.get("Error", {}).get("Code", ""))
            if code in ("ConditionalCheckFailedException", "TransactionCanceledException"):
                raise
            raise self._failure(operation, code, error) from error
        except BotoCoreError as error:
            raise LedgerError(
                f"the ledger at {self.shown} failed during {operation}: {error}",
                hint="check the network, AWS credentials (AWS_PROFILE or OIDC) and "
                "AWS_ENDPOINT_URL",
            ) from error

    def _failure(self, operation: str, code: str, error: ClientError) -> Exception:
        said = str(error.response.get("Error", {}).get("Message", "")) or code
        if code == "ResourceNotFoundException":
            return ConfigError(
                f"the ledger table {self.name} does not exist in {self.where.region}",
                hint=f"create it with `lambda-promote state init` (state: {self.shown})",
                code="state_missing",
            )
        if code in _DENIED:
            action = f"dynamodb:{operation}"
            if operation in _WRITES:
                return LedgerError(
                    f"the ledger at {self.shown} is read-only here, and this command must "
                    f"record what it does ({said})",
                    hint=f"grant {action} on the table (`lambda-promote aws policy ENV`); "
                    "reading commands (status, history, show, audit, report) still work",
                    code="ledger_read_only",
                )
            return LedgerError(
                f"the ledger at {self.shown} cannot be read: {said}",
                hint=f"grant {action} on the table (`lambda-promote aws policy ENV`)",
            )
        if code in _THROTTLED:
            return LedgerError(
                f"the ledger at {self.shown} is throttled ({operation}): {said}",
                hint="DynamoDB kept refusing after retries; try again, or raise AWS_MAX_ATTEMPTS",
                code="ledger_throttled",
            )
        return LedgerError(f"the ledger at {self.shown} failed during {operation}: {said}")


def _values(options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` with its expression values encoded (callers write plain values)."""
    found = dict(options)
    if "ExpressionAttributeValues" in found:
        found["ExpressionAttributeValues"] = encode(found["ExpressionAttributeValues"])
    return found


def _table_definition(name: str, tags: Mapping[str, str]) -> dict[str, Any]:
    names = ["pk", "sk"] + [k for keys in INDEXES.values() for k in keys[:2]]
    return {
        "TableName": name,
        "BillingMode": "PAY_PER_REQUEST",
        "AttributeDefinitions": [{"AttributeName": n, "AttributeType": "S"} for n in names],
        "KeySchema": [
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        "GlobalSecondaryIndexes": [
            {
                "IndexName": index,
                "KeySchema": [
                    {"AttributeName": part, "KeyType": "HASH"},
                    {"AttributeName": sort, "KeyType": "RANGE"},
                ],
                "Projection": {"ProjectionType": projection},
            }
            for index, (part, sort, projection) in INDEXES.items()
        ],
        "Tags": [{"Key": k, "Value": v} for k, v in tags.items()],
    }
