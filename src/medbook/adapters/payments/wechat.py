"""The WeChat Pay API v3 gateway (direct merchant, Native payment: a QR code to scan).

What goes out (``start``, ``refund``) is signed with the merchant's API key:
``Authorization: WECHATPAY2-SHA256-RSA2048 mchid="…",nonce_str="…",signature="…",timestamp="…",
serial_no="…"``, the signature being base64 SHA256-with-RSA (PKCS#1 v1.5) over
``"{METHOD}\\n{path?query}\\n{timestamp}\\n{nonce}\\n{body}\\n"``.

What comes back, and every notification, is signed by WeChat Pay with its platform key; it is
trusted only once ``Wechatpay-Signature`` verifies, with the platform certificate (or platform
public key) named by ``Wechatpay-Serial``, over ``"{timestamp}\\n{nonce}\\n{raw body}\\n"``, and
``Wechatpay-Timestamp`` is within ``timestamp_tolerance`` of the clock. A 2xx answer without a
valid signature is treated as forged.

A notification's ``resource`` is AEAD_AES_256_GCM ciphertext under the APIv3 key (nonce and
associated data given beside it); the decrypted transaction must be for our ``mchid`` and
``appid``. Only payment notifications are taken: refund notifications (``event_type`` ``REFUND.*``
or ``original_type`` ``refund``) raise ``BadNotification("not a payment notification")`` and so are
answered with a 400; ``refund`` therefore sends no ``notify_url`` and refund outcomes are learnt
from the refund call itself (ask again with the same ``refund_id``).

The HTTP transport is a plain callable, so tests (and other HTTP stacks) can replace it:
``transport(method, url, headers, body) -> (status, headers, body)``.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import http.client
import json
import secrets
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from medbook.domain.shared.errors import (
    BadNotification,
    DomainError,
    GatewayUnavailable,
    MalformedNotification,
)
from medbook.domain.shared.money import Money
from medbook.ports.payments import (
    MAX_GATEWAY_ID,
    PaymentEvent,
    PaymentRequest,
    PaymentStart,
    RefundRequest,
    RefundResult,
    is_gateway_id,
)

__all__ = [
    "DEFAULT_BASE_URL",
    "Transport",
    "WeChatPayGateway",
    "certificate_serial",
    "load_platform_certificates",
    "urllib_transport",
]

#: ``transport(method, url, headers, body) -> (status, headers, body)``.
Transport = Callable[[str, str, dict[str, str], bytes], tuple[int, dict[str, str], bytes]]
#: A platform certificate or the bare platform public key ("WeChat Pay public key" mode).
PlatformKey = x509.Certificate | rsa.RSAPublicKey

DEFAULT_BASE_URL = "https://api.mch.weixin.qq.com"
NATIVE_PATH = "/v3/pay/transactions/native"
REFUND_PATH = "/v3/refund/domestic/refunds"
AUTH_SCHEMA = "WECHATPAY2-SHA256-RSA2048"
AEAD_ALGORITHM = "AEAD_AES_256_GCM"
APIV3_KEY_BYTES = 32
#: WeChat wants ``time_expire`` in RFC 3339; we give it in Beijing time.
BEIJING = dt.timezone(dt.timedelta(hours=8), "CST")
#: The default transport's timeout, in seconds, and the largest answer it reads.
TIMEOUT_SECONDS = 10.0
MAX_RESPONSE_BYTES = 1 << 20
#: The longest event, payment or refund id taken from WeChat.
MAX_ID_LENGTH = MAX_GATEWAY_ID
#: WeChat's limits on ``description`` (127) and ``reason`` (80), in characters.
MAX_DESCRIPTION = 127
MAX_REASON = 80
_MAX_HEADER_LENGTH = 1024
_USER_AGENT = "medbook-wechatpay/0.1 (Python urllib)"

TS_HEADER = "wechatpay-timestamp"
NONCE_HEADER = "wechatpay-nonce"
SIGNATURE_HEADER = "wechatpay-signature"
SERIAL_HEADER = "wechatpay-serial"

ENV_MCHID = "MEDBOOK_WECHAT_MCHID"
ENV_APPID = "MEDBOOK_WECHAT_APPID"
ENV_APIV3_KEY = "MEDBOOK_WECHAT_APIV3_KEY"
ENV_MERCHANT_KEY_FILE = "MEDBOOK_WECHAT_MERCHANT_KEY_FILE"
ENV_MERCHANT_SERIAL = "MEDBOOK_WECHAT_MERCHANT_SERIAL"
ENV_PLATFORM_CERT_FILE = "MEDBOOK_WECHAT_PLATFORM_CERT_FILE"
ENV_NOTIFY_URL = "MEDBOOK_WECHAT_NOTIFY_URL"
#: Optional: another API host (WeChat's backup host ``https://api2.mch.weixin.qq.com``).
ENV_BASE_URL = "MEDBOOK_WECHAT_BASE_URL"


class _Refused(Exception):
    """Internal: a signed message that does not verify (becomes BadNotification or
    GatewayUnavailable depending on who sent it)."""


def certificate_serial(certificate: x509.Certificate) -> str:
    """The serial WeChat names a certificate by: its serial number in upper-case hex."""
    return f"{certificate.serial_number:X}"


def load_platform_certificates(pem: bytes) -> dict[str, x509.Certificate]:
    """Every certificate of a PEM bundle, by serial. Raises ValueError for no or bad PEM."""
    certificates = x509.load_pem_x509_certificates(pem)
    return {certificate_serial(c): c for c in certificates}


def _platform_key(serial: str, value: object) -> rsa.RSAPublicKey:
    if isinstance(value, bytes | str):
        pem = value.encode() if isinstance(value, str) else value
        if b"CERTIFICATE" in pem:
            value = x509.load_pem_x509_certificate(pem)
        else:
            value = serialization.load_pem_public_key(pem)
    if isinstance(value, x509.Certificate):
        value = value.public_key()
    if not isinstance(value, rsa.RSAPublicKey):
        raise ValueError(f"platform certificate {serial}: not an RSA certificate or public key")
    return value


def _merchant_key(value: object) -> rsa.RSAPrivateKey:
    if isinstance(value, bytes | str):
        pem = value.encode() if isinstance(value, str) else value
        value = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(value, rsa.RSAPrivateKey):
        raise ValueError("the merchant private key must be an RSA private key")
    return value


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def urllib_transport(
    method: str, url: str, headers: dict[str, str], body: bytes
) -> tuple[int, dict[str, str], bytes]:
    """The default transport: ``urllib.request`` with a 10 s timeout. An HTTP error status is an
    answer like any other; a network failure raises ``GatewayUnavailable``."""
    if urllib.parse.urlsplit(url).scheme not in ("https", "http"):
        raise GatewayUnavailable(f"refusing to call a non-HTTP(S) URL: {url!r}")
    request = urllib.request.Request(url, data=body or None, headers=headers, method=method)  # noqa: S310
    try:
        try:
            response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)  # noqa: S310
        except urllib.error.HTTPError as error:  # 4xx, 5xx: an answer all the same
            response = error
        with response:
            return (
                response.status or 0,
                {k.lower(): v for k, v in (response.headers or {}).items()},
                response.read(MAX_RESPONSE_BYTES),
            )
    except (OSError, http.client.HTTPException, ValueError) as error:
        raise GatewayUnavailable(f"WeChat Pay could not be reached: {error}") from error


def _text(value: object, name: str) -> str:
    if not is_gateway_id(value):
        raise MalformedNotification(
            f"{name} must be 1 to {MAX_ID_LENGTH} printable ASCII characters"
        )
    assert isinstance(value, str)
    return value


def _header_token(headers: Mapping[str, str], name: str) -> str:
    """A required header: printable ASCII, no spaces, not too long."""
    value = headers.get(name)
    if not isinstance(value, str) or not value:
        raise _Refused(f"missing {name} header")
    if len(value) > _MAX_HEADER_LENGTH or not value.isascii() or not value.isprintable():
        raise _Refused(f"malformed {name} header")
    if " " in value:
        raise _Refused(f"malformed {name} header")
    return value


def _b64decode(value: str) -> bytes:
    return base64.b64decode(value.encode("ascii"), validate=True)


class WeChatPayGateway:
    """WeChat Pay API v3, Native payments (see the module's docstring)."""

    name = "wechat"

    def __init__(
        self,
        *,
        mchid: str,
        appid: str,
        apiv3_key: bytes | str,
        merchant_private_key: bytes | str | rsa.RSAPrivateKey,
        merchant_serial: str,
        platform_certificates: Mapping[str, PlatformKey | bytes | str],
        notify_url: str,
        base_url: str = DEFAULT_BASE_URL,
        timestamp_tolerance: dt.timedelta = dt.timedelta(minutes=5),
        clock: Callable[[], dt.datetime] = _utc_now,
        transport: Transport = urllib_transport,
    ) -> None:
        key = apiv3_key.encode() if isinstance(apiv3_key, str) else apiv3_key
        if len(key) != APIV3_KEY_BYTES:
            raise ValueError(f"the APIv3 key must be {APIV3_KEY_BYTES} bytes")
        for label, value in (
            ("mchid", mchid),
            ("appid", appid),
            ("merchant_serial", merchant_serial),
        ):
            if not value:
                raise ValueError(f"{label} must not be empty")
        if not platform_certificates:
            raise ValueError("at least one platform certificate is needed")
        if not notify_url.startswith("https://"):
            raise ValueError("notify_url must be an https:// URL")
        if timestamp_tolerance <= dt.timedelta(0):
            raise ValueError("timestamp_tolerance must be positive")
        self._mchid = mchid
        self._appid = appid
        self._aead = AESGCM(key)
        self._merchant_key = _merchant_key(merchant_private_key)
        self._merchant_serial = merchant_serial
        self._platform_keys = {
            serial.upper(): _platform_key(serial, value)
            for serial, value in platform_certificates.items()
        }
        self._notify_url = notify_url
        self._base_url = base_url.rstrip("/")
        self._tolerance = timestamp_tolerance.total_seconds()
        self._clock = clock
        self._transport = transport

    @classmethod
    def from_env(
        cls,
        environ: Mapping[str, str],
        *,
        clock: Callable[[], dt.datetime] = _utc_now,
        transport: Transport = urllib_transport,
    ) -> WeChatPayGateway:
        """The gateway the ``MEDBOOK_WECHAT_*`` variables describe; ValueError names the first
        missing (or unreadable) one."""

        def need(name: str) -> str:
            value = environ.get(name, "").strip()
            if not value:
                raise ValueError(f"{name} is not set")
            return value

        def read(name: str) -> bytes:
            path = need(name)
            try:
                return Path(path).read_bytes()
            except OSError as error:
                raise ValueError(f"{name}: cannot read {path}: {error.strerror}") from error

        mchid, appid, apiv3_key = need(ENV_MCHID), need(ENV_APPID), need(ENV_APIV3_KEY)
        if len(apiv3_key.encode()) != APIV3_KEY_BYTES:
            raise ValueError(f"{ENV_APIV3_KEY} must be the {APIV3_KEY_BYTES}-character APIv3 key")
        merchant_key = read(ENV_MERCHANT_KEY_FILE)
        merchant_serial = need(ENV_MERCHANT_SERIAL)
        platform_pem = read(ENV_PLATFORM_CERT_FILE)
        notify_url = need(ENV_NOTIFY_URL)
        try:
            platform = load_platform_certificates(platform_pem)
        except ValueError as error:
            raise ValueError(f"{ENV_PLATFORM_CERT_FILE}: no PEM certificate read") from error
        try:
            key = _merchant_key(merchant_key)
        except (ValueError, TypeError) as error:
            raise ValueError(f"{ENV_MERCHANT_KEY_FILE}: not an unencrypted RSA PEM key") from error
        return cls(
            mchid=mchid,
            appid=appid,
            apiv3_key=apiv3_key,
            merchant_private_key=key,
            merchant_serial=merchant_serial,
            platform_certificates=platform,
            notify_url=notify_url,
            base_url=environ.get(ENV_BASE_URL, "").strip() or DEFAULT_BASE_URL,
            clock=clock,
            transport=transport,
        )

    # --- notifications ---------------------------------------------------------------------------

    def verify(self, body: bytes, headers: Mapping[str, str]) -> PaymentEvent:
        try:
            self._check_signature(body, headers)
        except _Refused as error:
            raise BadNotification(str(error)) from None  # the signature
        notification = self._json_object(body, "the body")
        event_id = _text(notification.get("id"), "id")
        event_type = notification.get("event_type")
        resource = notification.get("resource")
        if not isinstance(resource, dict):
            raise MalformedNotification("resource must be an object")
        refund_event = isinstance(event_type, str) and event_type.startswith("REFUND.")
        if refund_event or resource.get("original_type") == "refund":
            raise MalformedNotification("not a payment notification")
        transaction = self._json_object(self._decrypt(resource), "the decrypted resource")
        if transaction.get("mchid") != self._mchid:
            raise MalformedNotification("the transaction is not for our mchid")
        if transaction.get("appid") != self._appid:
            raise MalformedNotification("the transaction is not for our appid")
        payment_id = _text(transaction.get("out_trade_no"), "out_trade_no")
        trade_state = transaction.get("trade_state")
        if not isinstance(trade_state, str):
            raise MalformedNotification("trade_state must be text")
        amount = transaction.get("amount")
        if not isinstance(amount, dict):
            raise MalformedNotification("amount must be an object")
        total, currency = amount.get("total"), amount.get("currency", "CNY")
        if not isinstance(currency, str) or not currency:
            raise MalformedNotification("amount.currency must be text")
        try:
            money = Money(total, currency)  # type: ignore[arg-type]
        except DomainError:
            raise MalformedNotification("amount.total must be a whole number of cents") from None
        return PaymentEvent(event_id, payment_id, trade_state == "SUCCESS", money)

    def _check_signature(self, body: bytes, headers: Mapping[str, str]) -> None:
        """Raises ``_Refused`` unless the platform signed ``body`` recently."""
        timestamp = _header_token(headers, TS_HEADER)
        nonce = _header_token(headers, NONCE_HEADER)
        signature = _header_token(headers, SIGNATURE_HEADER)
        serial = _header_token(headers, SERIAL_HEADER)
        if not timestamp.isdigit() or len(timestamp) > 12:
            raise _Refused(f"malformed {TS_HEADER} header")
        if abs(int(timestamp) - self._clock().timestamp()) > self._tolerance:
            raise _Refused(f"{TS_HEADER} is too far from now")
        key = self._platform_keys.get(serial.upper())
        if key is None:
            raise _Refused(f"unknown platform certificate serial {serial}")
        try:
            raw_signature = _b64decode(signature)
        except (binascii.Error, ValueError):
            raise _Refused(f"{SIGNATURE_HEADER} is not base64") from None
        message = b"%s\n%s\n%s\n" % (timestamp.encode(), nonce.encode(), body)
        try:
            key.verify(raw_signature, message, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature:
            raise _Refused(f"{SIGNATURE_HEADER} does not verify") from None

    def _decrypt(self, resource: dict[str, Any]) -> bytes:
        if resource.get("algorithm") != AEAD_ALGORITHM:
            raise MalformedNotification(f"resource.algorithm must be {AEAD_ALGORITHM}")
        ciphertext, nonce = resource.get("ciphertext"), resource.get("nonce")
        associated = resource.get("associated_data")
        if associated is None:
            associated = ""
        if not (isinstance(ciphertext, str) and isinstance(nonce, str)):
            raise MalformedNotification("resource.ciphertext and resource.nonce must be text")
        if not isinstance(associated, str):
            raise MalformedNotification("resource.associated_data must be text")
        try:
            raw_nonce = nonce.encode()
            if not 8 <= len(raw_nonce) <= 128:
                raise ValueError("bad nonce length")
            return self._aead.decrypt(
                raw_nonce, _b64decode(ciphertext), associated.encode() or None
            )
        except (InvalidTag, ValueError):  # binascii.Error and UnicodeError are ValueErrors
            raise MalformedNotification(
                "the resource does not decrypt with our APIv3 key"
            ) from None

    @staticmethod
    def _json_object(data: bytes, what: str) -> dict[str, Any]:
        try:
            value = json.loads(data)
        except (ValueError, RecursionError):
            raise MalformedNotification(f"{what} is not JSON") from None
        if not isinstance(value, dict):
            raise MalformedNotification(f"{what} is not a JSON object")
        return value

    # --- calls -----------------------------------------------------------------------------------

    def start(self, request: PaymentRequest) -> PaymentStart:
        expires_at = request.expires_at
        if expires_at.tzinfo is None:
            raise ValueError("expires_at must be an aware datetime")
        payload = {
            "appid": self._appid,
            "mchid": self._mchid,
            "description": request.description[:MAX_DESCRIPTION],
            "out_trade_no": request.payment_id,
            "time_expire": expires_at.astimezone(BEIJING).isoformat(timespec="seconds"),
            "notify_url": self._notify_url,
            "amount": {"total": request.amount.cents, "currency": request.amount.currency},
        }
        answer = self._call("POST", NATIVE_PATH, payload)
        code_url = answer.get("code_url")
        if not isinstance(code_url, str) or not code_url:
            raise GatewayUnavailable("WeChat Pay answered no code_url")
        return PaymentStart(request.payment_id, {"code_url": code_url})

    def refund(self, request: RefundRequest) -> RefundResult:
        payload: dict[str, Any] = {
            "out_trade_no": request.payment_id,
            "out_refund_no": request.refund_id,
            "amount": {
                "refund": request.amount.cents,
                "total": request.total.cents,
                "currency": request.amount.currency,
            },
        }
        if request.reason:
            payload["reason"] = request.reason[:MAX_REASON]
        answer = self._call("POST", REFUND_PATH, payload)
        out_refund_no = answer.get("out_refund_no")
        if out_refund_no is not None and out_refund_no != request.refund_id:
            raise GatewayUnavailable("WeChat Pay answered about another refund")
        status = answer.get("status")
        if status == "SUCCESS":
            return RefundResult(request.refund_id, "succeeded")
        if status == "PROCESSING":
            return RefundResult(request.refund_id, "processing")
        raise GatewayUnavailable(f"WeChat Pay refund status {status!r}", status=status)

    def authorization(self, method: str, url: str, body: bytes) -> str:
        """The ``Authorization`` header of a request (public for tests and for other calls)."""
        split = urllib.parse.urlsplit(url)
        target = split.path + (f"?{split.query}" if split.query else "")
        timestamp = str(int(self._clock().timestamp()))
        nonce = secrets.token_hex(16).upper()
        message = b"%s\n%s\n%s\n%s\n%s\n" % (
            method.upper().encode(),
            target.encode(),
            timestamp.encode(),
            nonce.encode(),
            body,
        )
        signature = self._merchant_key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        return (
            f'{AUTH_SCHEMA} mchid="{self._mchid}",nonce_str="{nonce}",'
            f'signature="{base64.b64encode(signature).decode()}",'
            f'timestamp="{timestamp}",serial_no="{self._merchant_serial}"'
        )

    def _call(self, method: str, path: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        url = self._base_url + path
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
        headers = {
            "Authorization": self.authorization(method, url, body),
            "Accept": "application/json",
            "Content-Type": "application/json",
            "User-Agent": _USER_AGENT,
        }
        try:
            status, answer_headers, answer = self._transport(method, url, headers, body)
        except OSError as error:
            raise GatewayUnavailable(f"WeChat Pay could not be reached: {error}") from error
        if not 200 <= status < 300:
            code, message = self._error_of(answer)
            raise GatewayUnavailable(
                f"WeChat Pay answered {status}: {code}: {message}",
                status=status,
                wechat_code=code,
            )
        try:
            self._check_signature(answer, {k.lower(): v for k, v in answer_headers.items()})
        except _Refused as error:
            raise GatewayUnavailable(f"WeChat Pay's answer is not trusted: {error}") from None
        try:
            return self._json_object(answer, "WeChat Pay's answer")
        except BadNotification as error:
            raise GatewayUnavailable(error.message) from None

    @staticmethod
    def _error_of(answer: bytes) -> tuple[str, str]:
        """WeChat's ``code`` and ``message`` of an error answer, as far as they can be read."""
        try:
            data = json.loads(answer)
        except (ValueError, RecursionError):
            return "UNKNOWN", answer[:200].decode("utf-8", "replace")
        if not isinstance(data, dict):
            return "UNKNOWN", str(data)[:200]
        return str(data.get("code", "UNKNOWN"))[:64], str(data.get("message", ""))[:200]
