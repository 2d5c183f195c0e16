"""Object storage adapters: a folder on local disk, or an S3-compatible bucket.

``S3Storage`` lives in ``medbook.adapters.storage.s3``, imported on demand so that boto3 loads only
where a bucket is used.
"""

from medbook.adapters.storage.keys import check_key
from medbook.adapters.storage.local import LocalStorage
from medbook.adapters.storage.url import storage_from_url

__all__ = ["LocalStorage", "check_key", "storage_from_url"]
