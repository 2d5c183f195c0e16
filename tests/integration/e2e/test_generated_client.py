"""A client generated from ``/v1/openapi.json`` by a standard generator (openapi-python-client),
used against ``medbook serve --demo``: the document is enough to write a working client, uploads
included (they are declared as raw ``image/*`` bodies, which such generators skip, and as
``multipart/form-data``, which they handle).

The client is generated at test time into a temporary folder, from the document the server
serves, and imported from there; nothing generated is kept.
"""

from __future__ import annotations

import datetime as dt
import importlib
import io
import json
import os
import subprocess
import sys
import urllib.request
import zoneinfo
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from e2e_support import Server, phone_numbers
from PIL import Image

GENERATOR = Path(sys.executable).with_name("openapi-python-client")
SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
PASSWORD = "a generated passphrase"


@pytest.fixture(scope="module")
def medbook_client(
    demo_server: Server, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ModuleType]:
    assert GENERATOR.exists(), f"{GENERATOR} is missing: it is in the test extra"
    folder = tmp_path_factory.mktemp("generated")
    document = folder / "openapi.json"
    with urllib.request.urlopen(demo_server.base_url + "/v1/openapi.json", timeout=30) as answer:
        document.write_bytes(answer.read())
    done = subprocess.run(
        [
            str(GENERATOR),
            "generate",
            "--path",
            str(document),
            "--meta",
            "none",
            "--output-path",
            str(folder / "medbook_client"),
        ],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        # Its post-generation hooks run ruff, which sits beside it in the virtualenv.
        env={**os.environ, "PATH": f"{GENERATOR.parent}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    assert done.returncode == 0, done.stdout + done.stderr
    sys.path.insert(0, str(folder))
    try:
        yield importlib.import_module("medbook_client")
    finally:
        sys.path.remove(str(folder))
        for name in [
            n for n in sys.modules if n == "medbook_client" or n.startswith("medbook_client.")
        ]:
            del sys.modules[name]


def _module(client: ModuleType, name: str) -> Any:
    return importlib.import_module(f"{client.__name__}.{name}")


def test_every_operation_but_the_files_served_as_they_are_is_generated(
    medbook_client: ModuleType,
) -> None:
    api = Path(medbook_client.__file__).parent / "api"
    generated = {p.stem for p in api.rglob("*.py") if p.stem != "__init__"}
    document = json.loads((api.parent.parent / "openapi.json").read_text())
    operations = {op["operationId"] for item in document["paths"].values() for op in item.values()}
    # Answers whose type is the file's own (*/*, image/png): the generator leaves them out.
    served_as_they_are = {
        "stored_file",
        "uploaded_file",
        "share_qr",
        "attachment",
        "shared_attachment",
        "web_client_file",
    }
    missing = operations - generated - served_as_they_are
    assert not missing, sorted(missing)
    assert {"upload", "set_avatar", "attach"} <= generated  # the uploads, through their forms


def test_a_generated_client_registers_books_and_uploads(
    medbook_client: ModuleType, demo_server: Server
) -> None:
    client_module = _module(medbook_client, "client")
    models = _module(medbook_client, "models")
    types = _module(medbook_client, "types")
    accounts = _module(medbook_client, "api.accounts")
    anonymous = client_module.Client(base_url=demo_server.base_url)
    phone = next(phone_numbers("153"))

    registered = importlib.import_module(accounts.__name__ + ".register_patient").sync(
        client=anonymous,
        body=models.RegisterInput(phone=phone, name="Gen Client", password=PASSWORD),
    )
    assert registered.phone == phone
    logged_in = importlib.import_module(accounts.__name__ + ".login").sync(
        client=anonymous,
        body=models.LoginInput(phone=phone, password=PASSWORD, role=models.LoginInputRole.PATIENT),
    )
    me = client_module.AuthenticatedClient(base_url=demo_server.base_url, token=logged_in.token)

    today = dt.datetime.now(SHANGHAI).date()
    sessions = _module(medbook_client, "api.booking.sessions").sync(
        1, client=anonymous, from_=today, to=today + dt.timedelta(days=14)
    )
    first = next(s for s in sessions if s.remaining > 0)
    booked = _module(medbook_client, "api.booking.book").sync(
        client=me,
        body=models.NewAppointmentInput(
            doctor_id=1,
            date=first.date,
            period=models.NewAppointmentInputPeriod(first.period.value),
        ),
    )
    assert (booked.status, booked.date) == ("booked", first.date)

    picture = io.BytesIO()
    Image.new("RGB", (16, 16), (11, 92, 173)).save(picture, "PNG")
    uploaded = _module(medbook_client, "api.files.upload").sync(
        client=me,
        body=models.UploadFilesBody(
            file=types.File(
                payload=io.BytesIO(picture.getvalue()), file_name="scan.png", mime_type="image/png"
            )
        ),
    )
    assert (uploaded.content_type, uploaded.size) == ("image/png", len(picture.getvalue()))
    request = urllib.request.Request(
        demo_server.base_url + uploaded.url, headers={"Authorization": f"Bearer {logged_in.token}"}
    )
    with urllib.request.urlopen(request, timeout=30) as served:
        assert served.read() == picture.getvalue()
