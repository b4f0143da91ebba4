"""The sealed connection information a remote kernel launcher sends back to its provisioner.

Gateway Provisioners (and Enterprise Gateway) give the launcher an RSA public key on its command
line. The launcher answers on the response address with version 1 of their payload: base64 of
the JSON ``{"version": 1, "key": ..., "conn_info": ...}``, where ``conn_info`` is the connection
information encrypted with a fresh 128-bit AES key (ECB, PKCS#7 padding, base64) and ``key`` is
that AES key encrypted with the provisioner's RSA key (PKCS#1 v1.5, base64). Only the holder of
the private key, the provisioner, can read the kernel's message key and Curve keys.

The cipher comes from pycryptodomex, the library the provisioners use, which async-kernel
installs only with its ``cluster`` extra.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import TYPE_CHECKING, Any

from .._exceptions import KernelError

if TYPE_CHECKING:
    from Cryptodome.PublicKey.RSA import RsaKey

__all__ = ["LaunchPayloadError", "import_public_key", "seal"]

PAYLOAD_VERSION = 1
"""The payload layout the provisioners decode (``version`` in the payload)."""
_AES_KEY_BYTES = 16
_AES_BLOCK = 16


class LaunchPayloadError(KernelError, ValueError):
    """The provisioner's public key is unusable, or the cipher library is missing."""


def import_public_key(text: str) -> RsaKey:
    """Read the provisioner's RSA public key from ``--public-key`` (base64 of DER or PEM).

    Raises:
        LaunchPayloadError: pycryptodomex is not installed, or the text is not an RSA key.
    """
    try:
        from Cryptodome.PublicKey import RSA
    except ImportError as exc:
        msg = (
            "the remote launcher needs pycryptodomex to seal the connection information; "
            "install it with: pip install async-kernel[cluster]"
        )
        raise LaunchPayloadError(msg) from exc
    try:
        encoded = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        raise LaunchPayloadError("--public-key is not base64 text") from exc
    try:
        key = RSA.import_key(encoded)
    except (ValueError, IndexError, TypeError) as exc:
        raise LaunchPayloadError("--public-key is not an RSA public key") from exc
    if key.has_private():
        raise LaunchPayloadError("--public-key holds a private key; pass the public key only")
    return key


def seal(connection_info: dict[str, Any], public_key: RsaKey) -> bytes:
    """Encrypt ``connection_info`` for the holder of ``public_key``; return the payload to send."""
    from Cryptodome.Cipher import AES, PKCS1_v1_5
    from Cryptodome.Random import get_random_bytes
    from Cryptodome.Util.Padding import pad

    aes_key = get_random_bytes(_AES_KEY_BYTES)
    plain = json.dumps(connection_info).encode("utf-8")
    # ECB because that is what the provisioners decrypt; each payload has its own fresh key.
    sealed_info = AES.new(aes_key, AES.MODE_ECB).encrypt(pad(plain, _AES_BLOCK))
    wrapped_key = PKCS1_v1_5.new(public_key).encrypt(aes_key)
    payload = {
        "version": PAYLOAD_VERSION,
        "key": base64.b64encode(wrapped_key).decode("ascii"),
        "conn_info": base64.b64encode(sealed_info).decode("ascii"),
    }
    return base64.b64encode(json.dumps(payload).encode("utf-8"))
