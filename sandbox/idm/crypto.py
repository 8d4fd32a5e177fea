"""IDM's ``$crypto`` values (``x-simple-encryption``), with real AES-CBC + HMAC-SHA256.

The master key lives in ``DIR/keystore.json`` (created on first start, mode 0600). Every ``encrypt`` draws a fresh
salt and IV; the per-value AES-128 and HMAC keys are derived from the master key with HKDF(salt, purpose), so the
``keySize``, ``salt`` and ``iv`` fields mean what they say. The clear text is the JSON serialisation of the value, so
strings and objects both round-trip (as ``openidm.decrypt`` does in IDM).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import threading
from typing import Any

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from .errors import IdmError

CONFIG_PURPOSE = "idm.config.encryption"
STABLE_ID = "openidm-sym-default"
CIPHER = "AES/CBC/PKCS5Padding"
KEY_SIZE = 16


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def is_encrypted(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("$crypto"), dict)


class Crypto:
    def __init__(self, keystore_path: str) -> None:
        self.keystore_path = str(keystore_path)
        self._lock = threading.Lock()
        self._master = self._load_or_create_key()

    def _load_or_create_key(self) -> bytes:
        try:
            with open(self.keystore_path, encoding="utf-8") as handle:
                return base64.b64decode(json.load(handle)["keys"][STABLE_ID])
        except FileNotFoundError:
            key = os.urandom(32)
            fd = os.open(self.keystore_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump({"keys": {STABLE_ID: _b64(key)}}, handle)
            return key

    def _derive(self, salt: bytes, purpose: str) -> tuple[bytes, bytes]:
        okm = HKDF(algorithm=hashes.SHA256(), length=KEY_SIZE + 32, salt=salt, info=purpose.encode("utf-8")).derive(
            self._master
        )
        return okm[:KEY_SIZE], okm[KEY_SIZE:]

    def encrypt(self, value: Any, purpose: str = CONFIG_PURPOSE) -> dict[str, Any]:
        """The ``{"$crypto": ...}`` form of any JSON value; a new salt and IV every call."""
        salt, iv = os.urandom(16), os.urandom(16)
        aes_key, mac_key = self._derive(salt, purpose)
        padder = padding.PKCS7(128).padder()
        plain = padder.update(json.dumps(value).encode("utf-8")) + padder.finalize()
        encryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).encryptor()
        data = encryptor.update(plain) + encryptor.finalize()
        mac = hmac.new(mac_key, iv + data, hashlib.sha256).digest()
        return {
            "$crypto": {
                "type": "x-simple-encryption",
                "value": {
                    "cipher": CIPHER,
                    "data": _b64(data),
                    "iv": _b64(iv),
                    "keySize": KEY_SIZE,
                    "mac": _b64(mac),
                    "purpose": purpose,
                    "salt": _b64(salt),
                    "stableId": STABLE_ID,
                },
            }
        }

    def decrypt(self, value: Any) -> Any:
        """The clear value of a ``$crypto`` object; any other value is returned unchanged (as IDM does)."""
        if not is_encrypted(value):
            return value
        try:
            spec = value["$crypto"]["value"]
            salt, iv, data = (base64.b64decode(spec[k]) for k in ("salt", "iv", "data"))
            aes_key, mac_key = self._derive(salt, spec.get("purpose", CONFIG_PURPOSE))
            expected = hmac.new(mac_key, iv + data, hashlib.sha256).digest()
            if not hmac.compare_digest(expected, base64.b64decode(spec["mac"])):
                raise ValueError("mac mismatch")
            decryptor = Cipher(algorithms.AES(aes_key), modes.CBC(iv)).decryptor()
            plain = decryptor.update(data) + decryptor.finalize()
            unpadder = padding.PKCS7(128).unpadder()
            return json.loads(unpadder.update(plain) + unpadder.finalize())
        except (KeyError, TypeError, ValueError) as exc:
            # Never echo the value: it may be a secret encrypted with another key.
            raise IdmError(500, f"Unable to decrypt value: {type(exc).__name__}") from None
