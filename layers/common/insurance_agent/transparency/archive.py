"""Checkpoints copied to S3 under Object Lock (compliance mode): once written, nobody, the
account's root user included, can delete or overwrite one before its retention ends.

The bucket's default retention (template) locks each object; the put names the mode and date
too, so a bucket whose default was loosened still gets compliance-locked objects.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from insurance_agent.models import utc_now


def object_key(tree_size: int) -> str:
    # Zero-padded so a listing comes back in tree order.
    return f"checkpoints/{tree_size:020d}.note"


class CheckpointArchive:
    def __init__(
        self,
        bucket: str,
        *,
        retention: timedelta = timedelta(days=400),
        client: Any = None,
        region: str | None = None,
    ) -> None:
        if client is None:
            import boto3

            client = boto3.client("s3", region_name=region)
        self._client = client
        self._bucket = bucket
        self._retention = retention

    def has(self, tree_size: int) -> bool:
        from botocore.exceptions import ClientError

        try:
            self._client.head_object(Bucket=self._bucket, Key=object_key(tree_size))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def put(self, tree_size: int, note: str, *, now: datetime | None = None) -> str:
        key = object_key(tree_size)
        self._client.put_object(
            Bucket=self._bucket,
            Key=key,
            Body=note.encode(),
            ContentType="text/plain; charset=utf-8",
            ObjectLockMode="COMPLIANCE",
            ObjectLockRetainUntilDate=(now or utc_now()) + self._retention,
            ChecksumAlgorithm="SHA256",  # S3 wants a checksum on every Object Lock put
        )
        return key

    def get(self, tree_size: int) -> str:
        answer = self._client.get_object(Bucket=self._bucket, Key=object_key(tree_size))
        return str(answer["Body"].read().decode())
