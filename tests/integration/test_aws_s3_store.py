"""The S3 artifact store against moto (in-process and server): content-addressed objects that
staging and production share, uploaded once, re-hashed before every use, refused when
changed in the bucket."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from aws_fixtures import MODES, CallLog, MotoWorld, moto_world, release
from lambda_promote.artifacts_s3 import S3Store, open_s3_store
from lambda_promote.errors import ArtifactError, UsageError
from lambda_promote.targets.aws_s3 import S3Api

BUCKET = "team-artifacts"


@pytest.fixture(params=MODES)
def world(request: pytest.FixtureRequest, monkeypatch, tmp_path) -> Iterator[MotoWorld]:
    with moto_world(request.param, monkeypatch, tmp_path) as made:
        made.session().client("s3").create_bucket(Bucket=BUCKET)
        yield made


class Machine:
    """One machine (a laptop, a CI job): its own cache folder and its own S3 client, whose
    calls are logged with the answers' HTTP statuses."""

    def __init__(self, world: MotoWorld, cache: Path) -> None:
        session = world.session()
        self.log = CallLog()
        self.log.attach(session)
        self.statuses: list[tuple[str, int]] = []
        session.events.register("after-call.s3", self._status)
        self.store = S3Store(
            S3Api(session.client("s3"), bucket=BUCKET), prefix="orders/builds", cache_dir=cache
        )

    def _status(self, http_response: Any, model: Any, **_: Any) -> None:
        self.statuses.append((model.name, http_response.status_code))

    def uploads(self) -> list[str]:
        return [p["Key"] for p in self.log.of("PutObject") if p["Key"].endswith(".zip")]


def raw_s3(world: MotoWorld) -> Any:
    return world.session().client("s3")


def test_an_artifact_is_stored_once_and_found_by_its_digest_or_a_prefix(world, tmp_path):
    builder = Machine(world, tmp_path / "builder")
    a = release(tmp_path, "a")
    stored = builder.store.put(a.path, a.artifact)
    assert stored.path == f"s3://{BUCKET}/orders/builds/{a.digest}.zip"
    assert (stored.digest, stored.size, stored.commit) == (a.digest, a.artifact.size, "commit-a")
    again = builder.store.put(a.path, replace(a.artifact, commit="another-commit"))
    assert again.commit == "commit-a"  # an artifact never changes once stored
    assert builder.uploads() == [f"orders/builds/{a.digest}.zip"]
    assert builder.store.resolve(a.digest[:6]).digest == a.digest
    b = release(tmp_path, "b")
    builder.store.put(b.path, b.artifact)
    assert {x.digest for x in builder.store.list()} == {a.digest, b.digest}


def test_production_reuses_the_staging_object_and_rehashes_it(world, tmp_path):
    a = release(tmp_path, "a")
    Machine(world, tmp_path / "builder").store.put(a.path, a.artifact)
    ci = Machine(world, tmp_path / "ci-job")  # a fresh machine: empty cache
    path = ci.store.verified_path(a.digest)
    assert path.read_bytes() == a.path.read_bytes()
    assert ci.store.verified_path(a.digest) == path  # second use: a conditional GET, no body
    assert ci.uploads() == []
    assert ci.statuses[-1] == ("GetObject", 304)
    assert [status for name, status in ci.statuses if name == "GetObject"] == [200, 304]


def test_an_object_changed_in_the_bucket_is_refused_even_with_a_good_local_copy(world, tmp_path):
    a = release(tmp_path, "a")
    laptop = Machine(world, tmp_path / "laptop")
    laptop.store.put(a.path, a.artifact)
    raw_s3(world).put_object(
        Bucket=BUCKET, Key=f"orders/builds/{a.digest}.zip", Body=b"something else entirely"
    )
    with pytest.raises(ArtifactError, match="was modified in the bucket") as caught:
        laptop.store.verified_path(a.digest)  # its cached copy is good, the object is not
    assert "nothing was deployed" in caught.value.hint
    with pytest.raises(ArtifactError, match="was modified in the bucket"):
        Machine(world, tmp_path / "fresh").store.verified_path(a.digest)


def test_a_damaged_local_copy_is_downloaded_again(world, tmp_path):
    a = release(tmp_path, "a")
    laptop = Machine(world, tmp_path / "laptop")
    laptop.store.put(a.path, a.artifact)
    cached = tmp_path / "laptop" / f"{a.digest}.zip"
    cached.write_bytes(b"bit rot")
    assert laptop.store.verified_path(a.digest).read_bytes() == a.path.read_bytes()


def test_bytes_that_do_not_match_their_digest_are_never_stored(world, tmp_path):
    a = release(tmp_path, "a")
    a.path.write_bytes(b"changed after the build")
    machine = Machine(world, tmp_path / "m")
    with pytest.raises(ArtifactError, match="refusing to store"):
        machine.store.put(a.path, a.artifact)
    assert machine.uploads() == []


def test_unknown_and_ambiguous_digests_are_explained(world, tmp_path):
    store = Machine(world, tmp_path / "m").store
    with pytest.raises(ArtifactError, match="is not in s3://team-artifacts/orders/builds"):
        store.get("0" * 64)
    with pytest.raises(ArtifactError, match="has no zip at s3://"):
        store.verified_path("0" * 64)
    with pytest.raises(UsageError, match="no artifact abcd"):
        store.resolve("abcd")
    with pytest.raises(UsageError, match="not an artifact digest"):
        store.resolve("xyz")


def test_open_s3_store_uses_the_default_credential_chain(world, tmp_path):
    a = release(tmp_path, "a")
    store = open_s3_store(f"s3://{BUCKET}/orders/", root=tmp_path, cache_dir=Path("cache"))
    assert store.put(a.path, a.artifact).path == f"s3://{BUCKET}/orders/{a.digest}.zip"
    assert store.verified_path(a.digest).parent == tmp_path / "cache"
    keys = [o["Key"] for o in raw_s3(world).list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert sorted(keys) == [f"orders/{a.digest}.json", f"orders/{a.digest}.zip"]
