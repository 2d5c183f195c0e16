"""Plays WeChat Pay for the adapter's tests: keys and self-signed certificates made on the spot,
notifications built as WeChat sends them (an AES-256-GCM encrypted transaction, signed with the
platform key), and a fake API host that checks the merchant's signature on each request and
answers recorded responses signed with the platform key.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import re
import secrets
import urllib.parse
from collections.abc import Callable
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.x509.oid import NameOID

from medbook.adapters.payments.wechat import WeChatPayGateway, certificate_serial

NOW = dt.datetime(2026, 11, 25, 0, 30, tzinfo=dt.UTC)
MCHID = "1900000109"
APPID = "wxd678efh567hg6787"
APIV3_KEY = b"0123456789abcdefghijklmnopqrstuv"  # 32 bytes, as the merchant platform sets it
NOTIFY_URL = "https://medbook.example.cn/v1/payments/notify/wechat"


@cache
def rsa_key(label: str) -> rsa.RSAPrivateKey:
    """One 2048-bit key per label for the whole test run (generating them is the slow part)."""
    del label
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def self_signed(key: rsa.RSAPrivateKey, common_name: str, serial: int) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(NOW - dt.timedelta(days=30))
        .not_valid_after(NOW + dt.timedelta(days=5 * 365))
        .sign(key, hashes.SHA256())
    )


def cert_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def key_pem(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


class Signer:
    """A key and its certificate: WeChat's platform (or an impostor)."""

    def __init__(self, label: str, serial: int) -> None:
        self.key = rsa_key(label)
        self.certificate = self_signed(self.key, f"{label} test", serial)
        self.serial = certificate_serial(self.certificate)

    def sign(self, message: bytes) -> str:
        return base64.b64encode(
            self.key.sign(message, padding.PKCS1v15(), hashes.SHA256())
        ).decode()

    def headers(
        self,
        body: bytes,
        *,
        timestamp: int | None = None,
        nonce: str | None = None,
        serial: str | None = None,
    ) -> dict[str, str]:
        """The ``Wechatpay-*`` headers (lower-case names) WeChat sends with ``body``."""
        ts = str(int(NOW.timestamp()) if timestamp is None else timestamp)
        nonce = nonce or secrets.token_hex(16)
        message = f"{ts}\n{nonce}\n".encode() + body + b"\n"
        return {
            "wechatpay-timestamp": ts,
            "wechatpay-nonce": nonce,
            "wechatpay-signature": self.sign(message),
            "wechatpay-serial": serial or self.serial,
        }


PLATFORM_SERIAL = 0x5157F09EFDC096DE15EBE81A47057A7232F1B8E1
MERCHANT_SERIAL = 0x444F4864EA9B34415F7F3B6F6EA0D1D7A4D5B9F2


@cache
def platform() -> Signer:
    return Signer("platform", PLATFORM_SERIAL)


@cache
def impostor() -> Signer:
    """Another key whose certificate has the platform's serial: a forger's."""
    return Signer("impostor", PLATFORM_SERIAL)


@cache
def merchant() -> Signer:
    return Signer("merchant", MERCHANT_SERIAL)


def transaction(**changes: Any) -> dict[str, Any]:
    """A decrypted TRANSACTION.SUCCESS resource, as WeChat documents it."""
    data: dict[str, Any] = {
        "appid": APPID,
        "mchid": MCHID,
        "out_trade_no": "pay_7f3a9c",
        "transaction_id": "4200000985202011250123456789",
        "trade_type": "NATIVE",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "CMC",
        "attach": "",
        "success_time": "2026-11-25T08:29:41+08:00",
        "payer": {"openid": "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},
        "amount": {"total": 4500, "payer_total": 4500, "currency": "CNY", "payer_currency": "CNY"},
    }
    data.update(changes)
    return data


def encrypt(
    plaintext: bytes, *, key: bytes = APIV3_KEY, associated_data: str = "transaction"
) -> dict[str, str]:
    nonce = secrets.token_hex(6)  # WeChat's resource nonces are 12 characters
    ciphertext = AESGCM(key).encrypt(nonce.encode(), plaintext, associated_data.encode() or None)
    return {
        "original_type": "transaction",
        "algorithm": "AEAD_AES_256_GCM",
        "ciphertext": base64.b64encode(ciphertext).decode(),
        "associated_data": associated_data,
        "nonce": nonce,
    }


def notification_body(
    resource_plain: dict[str, Any] | None = None,
    *,
    event_type: str = "TRANSACTION.SUCCESS",
    key: bytes = APIV3_KEY,
    event_id: str = "EV-2018022511223320873",
    resource: dict[str, Any] | None = None,
) -> bytes:
    """The body of a notification, encrypted and laid out as WeChat sends it."""
    if resource is None:
        plain = json.dumps(resource_plain or transaction(), ensure_ascii=False).encode()
        resource = encrypt(plain, key=key)
    return json.dumps(
        {
            "id": event_id,
            "create_time": "2026-11-25T08:29:42+08:00",
            "resource_type": "encrypt-resource",
            "event_type": event_type,
            "summary": "支付成功",
            "resource": resource,
        },
        ensure_ascii=False,
    ).encode()


def gateway(**changes: Any) -> WeChatPayGateway:
    settings: dict[str, Any] = {
        "mchid": MCHID,
        "appid": APPID,
        "apiv3_key": APIV3_KEY,
        "merchant_private_key": merchant().key,
        "merchant_serial": merchant().serial,
        "platform_certificates": {platform().serial: platform().certificate},
        "notify_url": NOTIFY_URL,
        "clock": lambda: NOW,
    }
    settings.update(changes)
    return WeChatPayGateway(**settings)


_AUTH = re.compile(
    r'^WECHATPAY2-SHA256-RSA2048 mchid="(?P<mchid>[^"]+)",nonce_str="(?P<nonce>[^"]+)",'
    r'signature="(?P<signature>[^"]+)",timestamp="(?P<timestamp>\d+)",serial_no="(?P<serial>[^"]+)"$'
)


def check_authorization(authorization: str, method: str, url: str, body: bytes) -> dict[str, str]:
    """What WeChat checks of a request: the Authorization header's fields, and its signature
    with the merchant's public key. Raises AssertionError or InvalidSignature."""
    match = _AUTH.match(authorization)
    assert match, authorization
    fields = match.groupdict()
    assert fields["mchid"] == MCHID
    assert fields["serial"] == merchant().serial
    assert abs(int(fields["timestamp"]) - NOW.timestamp()) <= 60
    split = urllib.parse.urlsplit(url)
    target = split.path + (f"?{split.query}" if split.query else "")
    message = f"{method}\n{target}\n{fields['timestamp']}\n{fields['nonce']}\n".encode()
    merchant().key.public_key().verify(
        base64.b64decode(fields["signature"]),
        message + body + b"\n",
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    return fields


Responder = Callable[[str, str, dict[str, Any]], tuple[int, dict[str, Any]]]


class FakeWeChat:
    """A transport playing api.mch.weixin.qq.com: checks each request's signature, then answers
    ``status`` and ``answer`` (JSON), signed by ``signer`` (None: unsigned); ``tamper`` changes
    the answer's bytes after signing."""

    def __init__(
        self,
        status: int = 200,
        answer: dict[str, Any] | None = None,
        *,
        signer: Signer | None = None,
        tamper: Callable[[bytes], bytes] | None = None,
        sign: bool = True,
        signed_at: dt.datetime = NOW,
    ) -> None:
        self.status = status
        self.answer = answer or {}
        self.signer = signer or platform()
        self.sign = sign
        self.tamper = tamper
        self.signed_at = signed_at
        self.requests: list[tuple[str, str, dict[str, str], dict[str, Any]]] = []

    def __call__(
        self, method: str, url: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        check_authorization(headers["Authorization"], method, url, body)
        assert headers["Content-Type"] == "application/json"
        assert headers["Accept"] == "application/json"
        self.requests.append((method, url, headers, json.loads(body)))
        answer = json.dumps(self.answer, ensure_ascii=False).encode()
        response_headers = {"Content-Type": "application/json", "Request-ID": "08F8B8D8-1"}
        if self.sign:
            signed = self.signer.headers(answer, timestamp=int(self.signed_at.timestamp()))
            response_headers.update(
                {name.title(): value for name, value in signed.items()}  # Wechatpay-Nonce etc.
            )
        if self.tamper:
            answer = self.tamper(answer)
        return self.status, response_headers, answer
