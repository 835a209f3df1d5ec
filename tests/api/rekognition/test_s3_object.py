"""Image.S3Object read from an S3-compatible endpoint (moto in server mode on a loopback port)."""

from __future__ import annotations

import boto3
import pytest
from rek_support import AKID, SECRET, client, serve

from visage.api.app import create_app
from visage.config import Settings

pytestmark = pytest.mark.slow
moto_server = pytest.importorskip("moto.server", reason="moto[server] (test extra) provides the S3 endpoint")


@pytest.fixture(scope="module")
def s3_endpoint(faces_dir):
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    url = f"http://{host}:{port}"
    s3 = boto3.client("s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id="s3key",
                      aws_secret_access_key="s3secret")
    s3.create_bucket(Bucket="photos")
    s3.put_object(Bucket="photos", Key="people/obama.jpg", Body=(faces_dir / "people/obama/obama.jpg").read_bytes())
    s3.put_object(Bucket="photos", Key="scenes/obama1.jpg", Body=(faces_dir / "scenes/obama1.jpg").read_bytes())
    s3.put_object(Bucket="photos", Key="notes.txt", Body=b"not an image")
    yield url
    server.stop()


@pytest.fixture(scope="module")
def rek(s3_endpoint, engine, tmp_path_factory):
    home = tmp_path_factory.mktemp("rek-s3")
    settings = Settings(aws_keys=f"{AKID}:{SECRET}", home=home, store_url=f"sqlite:///{home / 's.db'}",
                        s3_endpoint_url=s3_endpoint, s3_access_key_id="s3key", s3_secret_access_key="s3secret")
    with serve(create_app(settings, engine)) as url:
        yield client(url)


def test_detect_and_index_from_s3(rek) -> None:
    obj = {"S3Object": {"Bucket": "photos", "Name": "people/obama.jpg"}}
    assert len(rek.detect_faces(Image=obj)["FaceDetails"]) == 1
    rek.create_collection(CollectionId="s3")
    indexed = rek.index_faces(CollectionId="s3", Image=obj, ExternalImageId="obama")["FaceRecords"]
    assert len(indexed) == 1
    found = rek.search_faces_by_image(CollectionId="s3",
                                      Image={"S3Object": {"Bucket": "photos", "Name": "scenes/obama1.jpg"}})
    assert [m["Face"]["ExternalImageId"] for m in found["FaceMatches"]] == ["obama"]


def test_s3_errors(rek) -> None:
    with pytest.raises(rek.exceptions.InvalidS3ObjectException, match="NoSuchKey"):
        rek.detect_faces(Image={"S3Object": {"Bucket": "photos", "Name": "missing.jpg"}})
    with pytest.raises(rek.exceptions.InvalidS3ObjectException, match="NoSuchBucket"):
        rek.detect_faces(Image={"S3Object": {"Bucket": "no-such-bucket", "Name": "a.jpg"}})
    with pytest.raises(rek.exceptions.InvalidImageFormatException):
        rek.detect_faces(Image={"S3Object": {"Bucket": "photos", "Name": "notes.txt"}})
    with pytest.raises(rek.exceptions.InvalidParameterException, match="exactly one"):
        rek.detect_faces(Image={"S3Object": {"Bucket": "photos", "Name": "notes.txt"}, "Bytes": b"x"})
