"""A stand-in for an HSM/KMS client, used by the callback-signer test: it signs with a key
file named by $PROVENOISE_TEST_SIGNING_KEY and returns a DER ECDSA-SHA256 signature."""

import os

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

CALLS: list[int] = []


def sign(data: bytes) -> bytes:
    CALLS.append(len(data))
    key = serialization.load_pem_private_key(open(os.environ["PROVENOISE_TEST_SIGNING_KEY"], "rb").read(), None)
    return key.sign(data, ec.ECDSA(hashes.SHA256()))


def sign_once(data: bytes) -> bytes:
    """Signs the first file, then fails, as an HSM that goes away in the middle of a batch."""
    if CALLS:
        raise RuntimeError("the HSM went away")
    return sign(data)
