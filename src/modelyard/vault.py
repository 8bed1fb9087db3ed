"""Seals and opens credential secrets: the only module that touches keys.

* The operator's master key (MODELYARD_SECRET_KEY, or a 0600 file made on first run) seals each workspace's
  RSA private key, which lives in the database beside its workspace: one place, one backup.
* Each secret value is sealed hybrid: a fresh AES-256-GCM key per value, wrapped with the workspace's
  RSA-OAEP (SHA-256) public key. The sealed text carries the format version and the key id, and the
  workspace id is bound in as associated data, so a value copied to another workspace does not open.
* Every failure to open is a loud DecryptionError naming what failed, never a silent fallback.
"""

from __future__ import annotations

import base64
import os
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from modelyard.errors import DecryptionError, ModelyardError

FORMAT = "v1"
RSA_BITS = 3072  # tests lower it to 2048 for speed; DESIGN asks ≥ 2048
_OAEP = padding.OAEP(mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None)
_MIN_SECRET_KEY_LENGTH = 32
KEY_FILE = "master.key"  # under MODELYARD_HOME, when MODELYARD_SECRET_KEY is not set
# What a read shows for every stored secret: the same for all, so it tells nothing of length or content.
SECRET_MASK = "************"


class MasterKeyError(ModelyardError):
    """The master key is missing, malformed, or not the one this database was created with."""


class MasterKey:
    """The operator's key; it seals workspace private keys and nothing else."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise MasterKeyError("the master key must be 32 bytes")
        self._aead = AESGCM(key)

    @classmethod
    def from_secret(cls, secret: str) -> MasterKey:
        if len(secret) < _MIN_SECRET_KEY_LENGTH:
            raise MasterKeyError(
                f"MODELYARD_SECRET_KEY must be at least {_MIN_SECRET_KEY_LENGTH} characters of random data "
                "(for example the output of `openssl rand -base64 32`)"
            )
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"modelyard master key").derive(
            secret.encode()
        )
        return cls(derived)

    @classmethod
    def from_file(cls, path: Path) -> MasterKey:
        """Read the key file, creating it (mode 0600) on first run."""
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(base64.b64encode(secrets.token_bytes(32)).decode() + "\n")
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise MasterKeyError(f"{path} is readable by other users; run `chmod 600 {path}`")
        try:
            return cls(base64.b64decode(path.read_text().strip(), validate=True))
        except ValueError as exc:
            raise MasterKeyError(f"{path} does not hold a base64 32-byte key") from exc

    @classmethod
    def load(cls, secret: str | None, home: Path) -> MasterKey:
        return cls.from_secret(secret) if secret else cls.from_file(home / KEY_FILE)

    def seal(self, data: bytes, *, context: str) -> bytes:
        nonce = secrets.token_bytes(12)
        return nonce + self._aead.encrypt(nonce, data, context.encode())

    def open(self, sealed: bytes, *, context: str) -> bytes:
        try:
            return self._aead.decrypt(sealed[:12], sealed[12:], context.encode())
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError(f"cannot open {context} with this master key") from exc


@dataclass(frozen=True, slots=True)
class KeyPair:
    """A workspace key pair: the public half in PEM, the private half sealed by the master key."""

    key_id: str
    public_pem: bytes
    sealed_private: bytes


def new_key_pair(master: MasterKey, *, workspace_id: str, key_id: str) -> KeyPair:
    private = rsa.generate_private_key(public_exponent=65537, key_size=RSA_BITS)
    private_der = private.private_bytes(
        serialization.Encoding.DER, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public_pem = private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    sealed = master.seal(private_der, context=_private_context(workspace_id, key_id))
    return KeyPair(key_id, public_pem, sealed)


class WorkspaceVault:
    """Seals with a workspace's active public key; opens with whichever of its keys sealed the value."""

    def __init__(self, master: MasterKey, workspace_id: str, active: KeyPair, others: tuple[KeyPair, ...] = ()) -> None:
        self.workspace_id = workspace_id
        self.active_key_id = active.key_id
        self._master = master
        self._sealed = {pair.key_id: pair.sealed_private for pair in (active, *others)}  # until first opened
        self._public_pem = active.public_pem
        self._public: rsa.RSAPublicKey | None = None  # loaded on the first seal: most workspaces only read
        self._private: dict[str, rsa.RSAPrivateKey] = {}

    def seal(self, plaintext: str) -> str:
        data_key = AESGCM.generate_key(bit_length=256)
        nonce = secrets.token_bytes(12)
        ciphertext = AESGCM(data_key).encrypt(nonce, plaintext.encode(), self._aad(self.active_key_id))
        wrapped = self._public_key().encrypt(data_key, _OAEP)
        return ":".join((FORMAT, self.active_key_id, _b64(wrapped), _b64(nonce + ciphertext)))

    def open(self, sealed: str) -> str:
        try:
            version, key_id, wrapped, payload = sealed.split(":")
        except ValueError:
            raise DecryptionError(f"a secret of workspace {self.workspace_id} is not in a sealed format") from None
        if version != FORMAT:
            raise DecryptionError(f"a secret of workspace {self.workspace_id} has unknown format {version!r}")
        private = self._private_key(key_id)
        try:
            data_key = private.decrypt(_unb64(wrapped), _OAEP)
            raw = _unb64(payload)
            return AESGCM(data_key).decrypt(raw[:12], raw[12:], self._aad(key_id)).decode()
        except (InvalidTag, ValueError) as exc:
            raise DecryptionError(
                f"a secret of workspace {self.workspace_id} failed to decrypt: it was altered, or sealed for "
                "another workspace"
            ) from exc

    def _public_key(self) -> rsa.RSAPublicKey:
        if self._public is None:
            public = serialization.load_pem_public_key(self._public_pem)
            assert isinstance(public, rsa.RSAPublicKey)
            self._public = public
        return self._public

    def _private_key(self, key_id: str) -> rsa.RSAPrivateKey:
        cached = self._private.get(key_id)
        if cached is not None:
            return cached
        sealed = self._sealed.get(key_id)
        if sealed is None:
            if key_id in self._private:  # opened meanwhile by another thread (snapshot builds open off the loop)
                return self._private[key_id]
            raise DecryptionError(f"a secret of workspace {self.workspace_id} names unknown key {key_id!r}")
        der = self._master.open(sealed, context=_private_context(self.workspace_id, key_id))
        # We generated this key and the master key's AEAD tag just proved it unaltered, so OpenSSL's consistency
        # check (~100 ms of CPU for 3,072 bits, holding the GIL, on every workspace's first call) proves nothing.
        private = serialization.load_der_private_key(der, password=None, unsafe_skip_rsa_key_validation=True)
        assert isinstance(private, rsa.RSAPrivateKey)
        self._private[key_id] = private
        self._sealed.pop(key_id, None)  # opened once per process: the sealed copy is no longer needed
        return private

    def _aad(self, key_id: str) -> bytes:
        return f"{self.workspace_id}:{key_id}".encode()


def _private_context(workspace_id: str, key_id: str) -> str:
    return f"workspace-private-key:{workspace_id}:{key_id}"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
