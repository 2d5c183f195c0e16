"""The WeChat Pay API v3 adapter against notifications and answers built as WeChat builds them
(keys and certificates made by the tests; see wechat_support)."""

from __future__ import annotations

import base64
import datetime as dt
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from wechat_support import (
    APIV3_KEY,
    APPID,
    MCHID,
    NOTIFY_URL,
    NOW,
    FakeWeChat,
    Signer,
    cert_pem,
    check_authorization,
    encrypt,
    gateway,
    impostor,
    key_pem,
    merchant,
    notification_body,
    platform,
    transaction,
)

from medbook.adapters.payments.wechat import (
    DEFAULT_BASE_URL,
    WeChatPayGateway,
    load_platform_certificates,
    urllib_transport,
)
from medbook.domain.shared.errors import BadNotification, GatewayUnavailable
from medbook.domain.shared.money import Money
from medbook.ports.payments import (
    PaymentEvent,
    PaymentGateway,
    PaymentRequest,
    PaymentStart,
    RefundRequest,
    RefundResult,
)


def signed(body: bytes, signer: Signer | None = None, **kwargs: Any) -> dict[str, str]:
    return (signer or platform()).headers(body, **kwargs)


# --- notifications -------------------------------------------------------------------------------


def test_a_good_notification_gives_its_event() -> None:
    body = notification_body()
    event = gateway().verify(body, signed(body))
    assert event == PaymentEvent("EV-2018022511223320873", "pay_7f3a9c", True, Money(4500))


def test_the_gateway_is_a_payment_gateway_named_wechat() -> None:
    port: PaymentGateway = gateway()
    assert port.name == "wechat"


@pytest.mark.parametrize("state", ["NOTPAY", "PAYERROR", "CLOSED", "REFUND"])
def test_a_transaction_not_in_success_is_not_a_success(state: str) -> None:
    body = notification_body(transaction(trade_state=state))
    assert gateway().verify(body, signed(body)).succeeded is False


def test_the_serial_is_matched_whatever_its_case() -> None:
    body = notification_body()
    headers = signed(body, serial=platform().serial.lower())
    assert gateway().verify(body, headers).payment_id == "pay_7f3a9c"


def test_a_platform_public_key_serves_as_well_as_a_certificate() -> None:
    """WeChat's newer "platform public key" mode: a bare key named ``PUB_KEY_ID_...``."""
    pem = (
        platform()
        .key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    key_id = "PUB_KEY_ID_0119000001092026112500000000"
    body = notification_body()
    event = gateway(platform_certificates={key_id: pem}).verify(body, signed(body, serial=key_id))
    assert event.succeeded


def refused(body: bytes, headers: dict[str, str], match: str, **settings: Any) -> None:
    with pytest.raises(BadNotification, match=match):
        gateway(**settings).verify(body, headers)


def test_a_tampered_body_is_refused() -> None:
    body = notification_body()
    headers = signed(body)
    # A single byte changed after signing: the signature covers the raw body.
    tampered = body.replace(b'"summary"', b'"summarY"')
    assert tampered != body
    refused(tampered, headers, "does not verify")
    # Same JSON, other bytes (whitespace): still refused, the bytes are what is signed.
    refused(body + b" ", headers, "does not verify")


def test_a_signature_by_another_key_is_refused() -> None:
    body = notification_body()
    refused(body, signed(body, impostor()), "does not verify")


def test_a_signature_over_other_headers_is_refused() -> None:
    body = notification_body()
    headers = signed(body)
    refused(body, {**headers, "wechatpay-nonce": "another-nonce"}, "does not verify")
    refused(body, {**headers, "wechatpay-timestamp": str(int(NOW.timestamp()) + 1)}, "verify")


def test_a_signature_from_another_message_is_refused() -> None:
    body, other = notification_body(), notification_body(event_id="EV-other")
    headers = signed(other)
    refused(body, headers, "does not verify")


def test_the_signing_test_probe_is_refused() -> None:
    """WeChat sometimes sends a deliberately wrong ``WECHATPAY/SIGNTEST/...`` signature."""
    body = notification_body()
    headers = {**signed(body), "wechatpay-signature": "WECHATPAY/SIGNTEST/" + "A" * 40}
    refused(body, headers, "signature")


def test_an_unknown_serial_is_refused() -> None:
    body = notification_body()
    refused(body, signed(body, serial="7132D72A03E93CDDF8C03BBD1F37EEDF"), "unknown platform")


@pytest.mark.parametrize("offset", [-301, 301, -3600, 86400, -int(NOW.timestamp())])
def test_a_stale_or_future_timestamp_is_refused(offset: int) -> None:
    body = notification_body()
    refused(body, signed(body, timestamp=int(NOW.timestamp()) + offset), "too far")


@pytest.mark.parametrize("offset", [-300, -299, 0, 299, 300])
def test_a_timestamp_within_five_minutes_is_taken(offset: int) -> None:
    body = notification_body()
    assert gateway().verify(body, signed(body, timestamp=int(NOW.timestamp()) + offset))


def test_the_tolerance_is_a_setting() -> None:
    body = notification_body()
    headers = signed(body, timestamp=int(NOW.timestamp()) - 61)
    refused(body, headers, "too far", timestamp_tolerance=dt.timedelta(minutes=1))


@pytest.mark.parametrize(
    "header", ["wechatpay-timestamp", "wechatpay-nonce", "wechatpay-signature", "wechatpay-serial"]
)
def test_a_missing_or_empty_header_is_refused(header: str) -> None:
    body = notification_body()
    headers = signed(body)
    refused(body, {k: v for k, v in headers.items() if k != header}, f"missing {header}")
    refused(body, {**headers, header: ""}, f"missing {header}")


@pytest.mark.parametrize(
    "timestamp", ["1764030600.0", "-1764030600", "\uff11\uff17\uff16", "1e9", " 1764030600"]
)
def test_a_malformed_timestamp_is_refused(timestamp: str) -> None:
    body = notification_body()
    refused(body, {**signed(body), "wechatpay-timestamp": timestamp}, "wechatpay-timestamp")


def test_a_signature_that_is_not_base64_is_refused() -> None:
    body = notification_body()
    refused(body, {**signed(body), "wechatpay-signature": "not*base64"}, "not base64")


def test_a_wrong_apiv3_key_cannot_decrypt() -> None:
    body = notification_body(key=b"another-merchants-apiv3-key-0000")
    refused(body, signed(body), "does not decrypt")


def test_a_resource_with_other_associated_data_does_not_decrypt() -> None:
    resource = encrypt(json.dumps(transaction()).encode())
    resource["associated_data"] = "refund"
    body = notification_body(resource=resource)
    refused(body, signed(body), "does not decrypt")


def test_a_resource_with_a_flipped_ciphertext_bit_does_not_decrypt() -> None:
    resource = encrypt(json.dumps(transaction()).encode())
    raw = bytearray(base64.b64decode(resource["ciphertext"]))
    raw[3] ^= 1
    resource["ciphertext"] = base64.b64encode(raw).decode()
    body = notification_body(resource=resource)
    refused(body, signed(body), "does not decrypt")


def test_another_algorithm_is_refused() -> None:
    resource = {**encrypt(json.dumps(transaction()).encode()), "algorithm": "AES_256_CBC"}
    body = notification_body(resource=resource)
    refused(body, signed(body), "AEAD_AES_256_GCM")


def test_another_merchants_transaction_is_refused() -> None:
    body = notification_body(transaction(mchid="1230000109"))
    refused(body, signed(body), "mchid")


def test_another_apps_transaction_is_refused() -> None:
    body = notification_body(transaction(appid="wx0000000000000000"))
    refused(body, signed(body), "appid")


def test_a_refund_notification_is_not_a_payment_notification() -> None:
    refund = {
        "mchid": MCHID,
        "out_trade_no": "pay_7f3a9c",
        "out_refund_no": "ref_1",
        "refund_status": "SUCCESS",
        "amount": {"total": 4500, "refund": 4500, "payer_total": 4500, "payer_refund": 4500},
    }
    body = notification_body(refund, event_type="REFUND.SUCCESS")
    refused(body, signed(body), "not a payment notification")


@pytest.mark.parametrize(
    "changes",
    [
        {"amount": {"total": -1, "currency": "CNY"}},
        {"amount": {"total": 45.0, "currency": "CNY"}},
        {"amount": {"total": "4500"}},
        {"amount": {"total": True}},
        {"amount": 4500},
        {"out_trade_no": ""},
        {"out_trade_no": 17},
        {"out_trade_no": "x" * 65},
        {"trade_state": None},
    ],
)
def test_a_malformed_transaction_is_refused(changes: dict[str, Any]) -> None:
    body = notification_body(transaction(**changes))
    refused(body, signed(body), ".")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"not json",
        b"[1, 2]",
        b'"text"',
        b"{}",
        b'{"id": "e1"}',
        b'{"id": "e1", "resource": 1}',
    ],
)
def test_a_signed_body_that_is_no_notification_is_refused(body: bytes) -> None:
    refused(body, signed(body), ".")


# --- fuzz ----------------------------------------------------------------------------------------

FUZZ = settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow], database=None
)
HEADER_NAMES = st.sampled_from(
    ["wechatpay-timestamp", "wechatpay-nonce", "wechatpay-signature", "wechatpay-serial", "x"]
)
_GATEWAY = gateway()


def verdict(body: bytes, headers: dict[str, str]) -> PaymentEvent | None:
    """The event, or None for a BadNotification; any other exception fails the test."""
    try:
        return _GATEWAY.verify(body, headers)
    except BadNotification:
        return None


@FUZZ
@given(body=st.binary(max_size=300), headers=st.dictionaries(HEADER_NAMES, st.text(max_size=80)))
def test_garbage_is_a_bad_notification(body: bytes, headers: dict[str, str]) -> None:
    assert verdict(body, headers) is None


SIGNED_HEADERS = [
    "wechatpay-timestamp",
    "wechatpay-nonce",
    "wechatpay-signature",
    "wechatpay-serial",
]
BASE64ISH = st.text(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=", max_size=400
)


@FUZZ
@given(
    body=st.binary(max_size=300),
    field=st.sampled_from(SIGNED_HEADERS),
    value=st.text(max_size=40) | BASE64ISH,
)
def test_headers_mangled_one_at_a_time_are_refused(body: bytes, field: str, value: str) -> None:
    headers = signed(body)
    if headers[field] != value:
        assert verdict(body, {**headers, field: value}) is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def _notification_like(draw: st.DrawFn) -> bytes:
    plain = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "appid": st.sampled_from([APPID, "wx0"]) | JSON,
                "mchid": st.sampled_from([MCHID, "1"]) | JSON,
                "out_trade_no": st.text(max_size=70) | JSON,
                "trade_state": st.sampled_from(["SUCCESS", "NOTPAY"]) | JSON,
                "amount": st.fixed_dictionaries(
                    {}, optional={"total": st.integers() | JSON, "currency": JSON}
                )
                | JSON,
            },
        )
        | JSON
    )
    raw = json.dumps(plain).encode() if draw(st.booleans()) else draw(st.binary(max_size=50))
    resource: Any = encrypt(raw, key=draw(st.sampled_from([APIV3_KEY, b"k" * 32])))
    if draw(st.booleans()):
        resource = {**resource, **draw(st.dictionaries(st.sampled_from(list(resource)), JSON))}
    envelope = draw(
        st.fixed_dictionaries(
            {},
            optional={
                "id": st.text(max_size=70) | JSON,
                "event_type": st.sampled_from(["TRANSACTION.SUCCESS", "REFUND.SUCCESS"]) | JSON,
                "resource": st.just(resource) | JSON,
            },
        )
        | JSON
    )
    return json.dumps(envelope).encode()


@FUZZ
@given(body=st.composite(_notification_like)())
def test_signed_nonsense_is_refused_or_an_event(body: bytes) -> None:
    """Past the signature (the platform signed it): any shape of JSON and resource gives a
    BadNotification or a well-formed event, never another exception."""
    event = verdict(body, signed(body))
    if event is not None:
        assert event.payment_id and event.event_id and isinstance(event.amount, Money)


# --- start ---------------------------------------------------------------------------------------

PAYMENT = PaymentRequest(
    payment_id="pay_7f3a9c",
    order_id=42,
    amount=Money(4500),
    description="上门护理 · home nursing visit",
    expires_at=NOW + dt.timedelta(minutes=15),
)
CODE_URL = "weixin://wxpay/bizpayurl?pr=p4lpSuKzz"


def test_start_asks_for_a_native_payment_and_answers_the_code_url() -> None:
    fake = FakeWeChat(200, {"code_url": CODE_URL})
    started = gateway(transport=fake).start(PAYMENT)
    assert started == PaymentStart("pay_7f3a9c", {"code_url": CODE_URL})
    [(method, url, headers, body)] = fake.requests
    assert (method, url) == ("POST", "https://api.mch.weixin.qq.com/v3/pay/transactions/native")
    assert body == {
        "appid": APPID,
        "mchid": MCHID,
        "description": "上门护理 · home nursing visit",
        "out_trade_no": "pay_7f3a9c",
        "time_expire": "2026-11-25T08:45:00+08:00",
        "notify_url": NOTIFY_URL,
        "amount": {"total": 4500, "currency": "CNY"},
    }
    assert headers["Authorization"].startswith('WECHATPAY2-SHA256-RSA2048 mchid="1900000109",')


def test_the_request_signature_covers_method_path_and_body() -> None:
    """The fake's own check can fail: it really uses the body, the path and the method."""
    fake = FakeWeChat(200, {"code_url": CODE_URL})
    gateway(transport=fake).start(PAYMENT)
    [(method, url, headers, body)] = fake.requests
    raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    check_authorization(headers["Authorization"], method, url, raw)
    with pytest.raises(InvalidSignature):
        check_authorization(headers["Authorization"], method, url, raw + b" ")
    with pytest.raises(InvalidSignature):
        check_authorization(headers["Authorization"], "GET", url, raw)
    with pytest.raises(InvalidSignature):
        check_authorization(headers["Authorization"], method, url + "?x=1", raw)


def test_the_request_is_signed_over_the_query_too() -> None:
    gw = gateway()
    url = "https://api.mch.weixin.qq.com/v3/certificates?algorithm_type=RSA"
    check_authorization(gw.authorization("GET", url, b""), "GET", url, b"")


def test_a_base_url_is_a_setting() -> None:
    fake = FakeWeChat(200, {"code_url": CODE_URL})
    gateway(transport=fake, base_url="https://api2.mch.weixin.qq.com/").start(PAYMENT)
    assert fake.requests[0][1] == "https://api2.mch.weixin.qq.com/v3/pay/transactions/native"


@pytest.mark.parametrize(
    "fake",
    [
        pytest.param(FakeWeChat(200, {"code_url": CODE_URL}, sign=False), id="unsigned"),
        pytest.param(FakeWeChat(200, {"code_url": CODE_URL}, signer=impostor()), id="forged"),
        pytest.param(
            FakeWeChat(200, {"code_url": CODE_URL}, tamper=lambda b: b.replace(b"p4l", b"evil")),
            id="tampered",
        ),
        pytest.param(
            FakeWeChat(200, {"code_url": CODE_URL}, signer=Signer("platform", 0xABC)),
            id="unknown-serial",
        ),
    ],
)
def test_an_untrusted_answer_is_refused(fake: FakeWeChat) -> None:
    with pytest.raises(GatewayUnavailable, match="not trusted"):
        gateway(transport=fake).start(PAYMENT)


def test_a_stale_answer_is_refused() -> None:
    fake = FakeWeChat(200, {"code_url": CODE_URL}, signed_at=NOW - dt.timedelta(minutes=6))
    with pytest.raises(GatewayUnavailable, match="too far"):
        gateway(transport=fake).start(PAYMENT)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500])
def test_an_error_answer_is_gateway_unavailable_with_wechats_code(status: int) -> None:
    answer = {"code": "PARAM_ERROR", "message": "参数错误: out_trade_no 长度不对"}
    fake = FakeWeChat(status, answer, sign=False)
    with pytest.raises(GatewayUnavailable, match="PARAM_ERROR") as caught:
        gateway(transport=fake).start(PAYMENT)
    assert caught.value.details["status"] == status
    assert caught.value.details["wechat_code"] == "PARAM_ERROR"
    assert "参数错误" in caught.value.message


def test_an_error_answer_that_is_not_json_is_still_gateway_unavailable() -> None:
    def transport(*_: Any) -> tuple[int, dict[str, str], bytes]:
        return 502, {}, b"<html>Bad Gateway</html>"

    with pytest.raises(GatewayUnavailable, match="502"):
        gateway(transport=transport).start(PAYMENT)


@pytest.mark.parametrize("answer", [{}, {"code_url": ""}, {"code_url": 7}])
def test_an_answer_without_a_code_url_is_refused(answer: dict[str, Any]) -> None:
    with pytest.raises(GatewayUnavailable, match="code_url"):
        gateway(transport=FakeWeChat(200, answer)).start(PAYMENT)


def test_a_transport_failure_is_gateway_unavailable() -> None:
    def transport(*_: Any) -> tuple[int, dict[str, str], bytes]:
        raise TimeoutError("timed out")

    with pytest.raises(GatewayUnavailable, match="timed out"):
        gateway(transport=transport).start(PAYMENT)


# --- refund --------------------------------------------------------------------------------------

REFUND = RefundRequest(
    refund_id="ref_91b2",
    payment_id="pay_7f3a9c",
    amount=Money(1500),
    total=Money(4500),
    reason="visit cancelled by the nurse",
)


def refund_answer(status: str, **changes: Any) -> dict[str, Any]:
    answer = {
        "refund_id": "50000000382019052709732678859",
        "out_refund_no": "ref_91b2",
        "transaction_id": "4200000985202011250123456789",
        "out_trade_no": "pay_7f3a9c",
        "channel": "ORIGINAL",
        "user_received_account": "招商银行信用卡0403",
        "create_time": "2026-11-25T08:40:00+08:00",
        "status": status,
        "amount": {"total": 4500, "refund": 1500, "payer_total": 4500, "payer_refund": 1500},
    }
    answer.update(changes)
    return answer


@pytest.mark.parametrize(
    ("status", "ours"), [("SUCCESS", "succeeded"), ("PROCESSING", "processing")]
)
def test_a_refund_is_asked_for_and_its_status_read(status: str, ours: str) -> None:
    fake = FakeWeChat(200, refund_answer(status))
    assert gateway(transport=fake).refund(REFUND) == RefundResult("ref_91b2", ours)
    [(method, url, _, body)] = fake.requests
    assert (method, url) == ("POST", DEFAULT_BASE_URL + "/v3/refund/domestic/refunds")
    assert body == {
        "out_trade_no": "pay_7f3a9c",
        "out_refund_no": "ref_91b2",
        "reason": "visit cancelled by the nurse",
        "amount": {"refund": 1500, "total": 4500, "currency": "CNY"},
    }


def test_a_refund_without_a_reason_sends_none() -> None:
    fake = FakeWeChat(200, refund_answer("SUCCESS"))
    gateway(transport=fake).refund(
        RefundRequest("ref_91b2", "pay_7f3a9c", Money(1500), Money(4500), "")
    )
    assert "reason" not in fake.requests[0][3]


@pytest.mark.parametrize("status", ["ABNORMAL", "CLOSED", None])
def test_a_refund_that_failed_is_gateway_unavailable(status: str | None) -> None:
    with pytest.raises(GatewayUnavailable, match="refund status"):
        gateway(transport=FakeWeChat(200, refund_answer(status))).refund(REFUND)  # type: ignore[arg-type]


def test_an_answer_about_another_refund_is_refused() -> None:
    fake = FakeWeChat(200, refund_answer("SUCCESS", out_refund_no="ref_other"))
    with pytest.raises(GatewayUnavailable, match="another refund"):
        gateway(transport=fake).refund(REFUND)


def test_an_unsigned_refund_answer_is_refused() -> None:
    with pytest.raises(GatewayUnavailable, match="not trusted"):
        gateway(transport=FakeWeChat(200, refund_answer("SUCCESS"), sign=False)).refund(REFUND)


def test_a_refused_refund_is_gateway_unavailable() -> None:
    answer = {"code": "NOT_ENOUGH", "message": "基本账户余额不足,请充值后重新发起"}
    with pytest.raises(GatewayUnavailable, match="NOT_ENOUGH"):
        gateway(transport=FakeWeChat(403, answer, sign=False)).refund(REFUND)


# --- the default transport -----------------------------------------------------------------------


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        received = self.rfile.read(length)
        answer = json.dumps({"code": "SIGN_ERROR", "echo": received.decode()}).encode()
        self.send_response(401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Wechatpay-Nonce", "abc")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *_: Any) -> None:
        pass


@pytest.fixture
def local_server() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_the_default_transport_answers_error_statuses_with_lower_case_headers(
    local_server: str,
) -> None:
    status, headers, body = urllib_transport(
        "POST", local_server + "/v3/x", {"Content-Type": "application/json"}, b'{"a":1}'
    )
    assert status == 401
    assert headers["wechatpay-nonce"] == "abc"
    assert json.loads(body) == {"code": "SIGN_ERROR", "echo": '{"a":1}'}


def test_the_default_transport_turns_network_errors_into_gateway_unavailable() -> None:
    with pytest.raises(GatewayUnavailable, match="could not be reached"):
        urllib_transport("POST", "http://127.0.0.1:1/v3/x", {}, b"{}")
    with pytest.raises(GatewayUnavailable, match="non-HTTP"):
        urllib_transport("POST", "file:///etc/passwd", {}, b"")


# --- settings ------------------------------------------------------------------------------------


@pytest.fixture
def environ(tmp_path: Path) -> dict[str, str]:
    key_file, cert_file = tmp_path / "apiclient_key.pem", tmp_path / "wechatpay_platform.pem"
    key_file.write_bytes(key_pem(merchant().key))
    # Two platform certificates in one file, as during WeChat's certificate rotation.
    cert_file.write_bytes(cert_pem(Signer("platform-next", 0x1234ABCD).certificate))
    cert_file.write_bytes(cert_file.read_bytes() + cert_pem(platform().certificate))
    return {
        "MEDBOOK_WECHAT_MCHID": MCHID,
        "MEDBOOK_WECHAT_APPID": APPID,
        "MEDBOOK_WECHAT_APIV3_KEY": APIV3_KEY.decode(),
        "MEDBOOK_WECHAT_MERCHANT_KEY_FILE": str(key_file),
        "MEDBOOK_WECHAT_MERCHANT_SERIAL": merchant().serial,
        "MEDBOOK_WECHAT_PLATFORM_CERT_FILE": str(cert_file),
        "MEDBOOK_WECHAT_NOTIFY_URL": NOTIFY_URL,
    }


def test_from_env_builds_a_working_gateway(environ: dict[str, str]) -> None:
    gw = WeChatPayGateway.from_env(environ, clock=lambda: NOW)
    for signer in (platform(), Signer("platform-next", 0x1234ABCD)):
        body = notification_body()
        assert gw.verify(body, signer.headers(body)).payment_id == "pay_7f3a9c"
    fake = FakeWeChat(200, {"code_url": CODE_URL})
    WeChatPayGateway.from_env(environ, clock=lambda: NOW, transport=fake).start(PAYMENT)


@pytest.mark.parametrize(
    "name",
    [
        "MEDBOOK_WECHAT_MCHID",
        "MEDBOOK_WECHAT_APPID",
        "MEDBOOK_WECHAT_APIV3_KEY",
        "MEDBOOK_WECHAT_MERCHANT_KEY_FILE",
        "MEDBOOK_WECHAT_MERCHANT_SERIAL",
        "MEDBOOK_WECHAT_PLATFORM_CERT_FILE",
        "MEDBOOK_WECHAT_NOTIFY_URL",
    ],
)
def test_from_env_names_a_missing_variable(environ: dict[str, str], name: str) -> None:
    with pytest.raises(ValueError, match=name):
        WeChatPayGateway.from_env({k: v for k, v in environ.items() if k != name})
    with pytest.raises(ValueError, match=name):
        WeChatPayGateway.from_env({**environ, name: " "})


@pytest.mark.parametrize(
    "name", ["MEDBOOK_WECHAT_MERCHANT_KEY_FILE", "MEDBOOK_WECHAT_PLATFORM_CERT_FILE"]
)
def test_from_env_names_an_unreadable_file(
    environ: dict[str, str], name: str, tmp_path: Path
) -> None:
    with pytest.raises(ValueError, match=name):
        WeChatPayGateway.from_env({**environ, name: str(tmp_path / "missing.pem")})
    (tmp_path / "garbage.pem").write_bytes(b"not a pem")
    with pytest.raises(ValueError, match=name):
        WeChatPayGateway.from_env({**environ, name: str(tmp_path / "garbage.pem")})


def test_from_env_refuses_a_short_apiv3_key(environ: dict[str, str]) -> None:
    with pytest.raises(ValueError, match="MEDBOOK_WECHAT_APIV3_KEY"):
        WeChatPayGateway.from_env({**environ, "MEDBOOK_WECHAT_APIV3_KEY": "short"})


def test_platform_certificates_are_named_by_their_serial() -> None:
    certs = load_platform_certificates(cert_pem(platform().certificate))
    assert list(certs) == ["5157F09EFDC096DE15EBE81A47057A7232F1B8E1"]


@pytest.mark.parametrize(
    "changes",
    [
        {"apiv3_key": b"x" * 31},
        {"mchid": ""},
        {"platform_certificates": {}},
        {"notify_url": "http://medbook.example.cn/notify"},
        {"timestamp_tolerance": dt.timedelta(0)},
        {"merchant_private_key": b"not a key"},
    ],
)
def test_bad_settings_are_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        gateway(**changes)
