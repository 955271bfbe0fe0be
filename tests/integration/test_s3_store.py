"""Proof photos kept in an S3-compatible store: a real S3 HTTP server (moto's server mode, run
as a subprocess on a free port) behind PHOTO_STORAGE_URL=s3://bucket/prefix; the app uploads
through the API and serves the original and the thumbnail back from the bucket."""

from __future__ import annotations

import io
import socket
import subprocess
import sys
import time
import urllib.request

import pytest
from PIL import Image

from dispatch.photos import S3Store
from tests.integration import test_photos
from tests.integration.test_photos import picture, upload, with_exif

on_site = test_photos.on_site  # the fixture: an order of tech2's, on site, proof required

BUCKET = "proofs"
KEYS = {"aws_access_key_id": "test-key", "aws_secret_access_key": "test-secret", "region_name": "us-east-1"}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def s3_endpoint():
    """moto's S3 server on 127.0.0.1:<free port>, with an empty bucket."""
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError:
                if server.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"moto's S3 server did not start on {url}")
                time.sleep(0.1)
        S3Store(BUCKET, endpoint_url=url, **KEYS).client.create_bucket(Bucket=BUCKET)
        yield url
    finally:
        server.terminate()
        server.wait(timeout=10)


@pytest.fixture
def prefix(tmp_path) -> str:
    return f"site-a/{tmp_path.name}"  # one per test: the bucket outlives each test


@pytest.fixture
def app_config(app_config, s3_endpoint, prefix):
    return {
        **app_config,
        "PHOTO_STORAGE_URL": f"s3://{BUCKET}/{prefix}",
        "S3_ENDPOINT_URL": s3_endpoint,
        "S3_REGION": KEYS["region_name"],
        "S3_ACCESS_KEY_ID": KEYS["aws_access_key_id"],
        "S3_SECRET_ACCESS_KEY": KEYS["aws_secret_access_key"],
    }


def test_a_photo_uploaded_through_the_api_lives_in_the_bucket_and_is_served_back(
    app,
    client,
    auth,
    on_site,
    s3_endpoint,
    tmp_path,
    prefix,
):
    order, tech, _ = on_site
    original = picture(seed=41, exif=with_exif(taken="2026:11:20 10:00:00", gps=(34.2101, 108.9502)))
    response = upload(client, tech, order["id"], original, lat=34.2101, lon=108.95, accuracy_m=8)
    assert response.status_code == 201, response.get_json()
    photo_id = response.get_json()["id"]

    bucket = S3Store(BUCKET, endpoint_url=s3_endpoint, **KEYS).client
    keys = [o["Key"] for o in bucket.list_objects_v2(Bucket=BUCKET, Prefix=prefix + "/")["Contents"]]
    assert len(keys) == 3 and {k.rsplit(".", 2)[-2] for k in keys} == {"orig", "view", "thumb"}
    assert not (tmp_path / "photos").exists()  # nothing written to the local directory

    manager = auth.token("manager")
    kept = client.get(f"/api/photos/{photo_id}/original", headers=manager)
    assert kept.status_code == 200 and kept.data == original  # byte for byte, EXIF included
    thumb = client.get(f"/api/photos/{photo_id}?size=thumb", headers=manager)
    assert thumb.status_code == 200 and thumb.mimetype == "image/jpeg"
    image = Image.open(io.BytesIO(thumb.data))
    assert max(image.size) == 320 and not image.getexif()
    view = client.get(f"/api/photos/{photo_id}", headers=tech)
    assert view.status_code == 200 and max(Image.open(io.BytesIO(view.data)).size) == 800


def test_a_refused_upload_leaves_nothing_in_the_bucket_and_a_missing_key_reads_as_missing(
    app,
    client,
    on_site,
    s3_endpoint,
):
    order, tech, _ = on_site
    store = S3Store.from_url(f"s3://{BUCKET}/elsewhere", endpoint_url=s3_endpoint, **KEYS)
    before = store.client.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0)
    refused = upload(client, tech, order["id"], b"\xff\xd8\xff" + b"\0" * 100)
    assert refused.status_code == 400 and "photo" in refused.get_json()["detail"]["json"]
    assert store.client.list_objects_v2(Bucket=BUCKET).get("KeyCount", 0) == before

    store.put("a/b.jpg", b"bytes")
    assert store.get("a/b.jpg") == b"bytes"
    assert store.client.get_object(Bucket=BUCKET, Key="elsewhere/a/b.jpg")["Body"].read() == b"bytes"
    store.delete("a/b.jpg")
    with pytest.raises(FileNotFoundError):
        store.get("a/b.jpg")
    with pytest.raises(ValueError, match="s3://bucket/prefix"):
        S3Store.from_url("https://example.invalid/bucket")
