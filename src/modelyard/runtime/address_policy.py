"""Where upstream calls may connect: the operator's allow and deny lists, checked on each address actually dialled.

Self-hosted providers (Ollama, Xinference, LocalAI, TEI, Triton ...) live on private addresses, so the `default`
mode refuses only link-local and cloud metadata addresses and this service's own port; the `strict` mode, for
multi-tenant deployments, also refuses every address that is not publicly routable unless the allow list names it.

Precedence, first match wins, for each address a host resolves to:
1. the deny list (a host name, or a range holding the address): refused;
2. this service's own address (any address of this machine on the port it listens on): refused;
3. the allow list (a host name, or a range holding the address): allowed;
4. the mode's refusals: link-local and metadata addresses (both modes), every non-public address (strict);
5. anything else: allowed.
A connection uses only the allowed addresses of its host; a host left with none is refused.
"""

from __future__ import annotations

import ipaddress
import re
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar, get_args

from modelyard.errors import AddressRefusedError

Mode = Literal["default", "strict"]
MODES: tuple[Mode, ...] = get_args(Mode)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Candidate = TypeVar("Candidate")

# Link-local ranges and the cloud metadata endpoints (checked 2026-12): AWS, GCP, Azure IMDS, OCI, DigitalOcean and
# OpenStack answer on 169.254.169.254; AWS also on fd00:ec2::254 (Nitro, IPv6); Alibaba Cloud on 100.100.100.200;
# Azure's WireServer on 168.63.129.16, a public address that strict mode's non-public test would miss.
METADATA_AND_LINK_LOCAL: tuple[IPNetwork, ...] = tuple(
    ipaddress.ip_network(text)
    for text in ("169.254.0.0/16", "fe80::/10", "fd00:ec2::254/128", "100.100.100.200/32", "168.63.129.16/32")
)

_LABEL = r"(?!-)[a-z0-9_-]{1,63}(?<!-)"
_HOST_NAME = re.compile(rf"(\*\.)?(?:{_LABEL}\.)*{_LABEL}")
_ADDRESS_LIKE = re.compile(r"[0-9a-f.:/\[\]%]+")  # digits, hex, dots, colons, a prefix length: meant as an address

_DENY_LISTED = "it is on the deny list (MODELYARD_UPSTREAM_DENY)"
_OWN_ADDRESS = "this service's own address and port"
_METADATA = "a link-local or cloud metadata address"
_NOT_PUBLIC = "a private, loopback or other non-public address, which strict mode refuses"
_UNREADABLE = "an address that could not be read"
_ALLOWABLE = (_METADATA, _NOT_PUBLIC)  # refusals the operator's allow list can lift


@dataclass(frozen=True, slots=True)
class AddressRules:
    """Address ranges and host names: `10.0.0.0/8`, `192.168.1.20`, `ollama.lan`, `*.corp.example` (names below)."""

    networks: tuple[IPNetwork, ...] = ()
    names: frozenset[str] = frozenset()
    suffixes: tuple[str, ...] = ()  # ".corp.example" for "*.corp.example": every name below it, not the name itself

    @classmethod
    def parse(cls, text: str) -> AddressRules:
        """Comma-separated ranges, addresses and host names; raises ValueError naming an entry it cannot read."""
        networks: list[IPNetwork] = []
        names: set[str] = set()
        suffixes: list[str] = []
        for raw in text.split(","):
            entry = raw.strip().lower().rstrip(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.removeprefix("[").removesuffix("]")))
                continue
            except ValueError as exc:
                if _ADDRESS_LIKE.fullmatch(entry):
                    raise ValueError(f"{raw.strip()!r} is not an address or address range: {exc}") from None
            if not _HOST_NAME.fullmatch(entry) or entry.rsplit(".", 1)[-1].isdigit():
                raise ValueError(
                    f"{raw.strip()!r} is neither an address, an address range (CIDR) nor a host name "
                    "(write no scheme, port or path)"
                )
            if entry.startswith("*."):
                suffixes.append(entry[1:])
            else:
                names.add(entry)
        return cls(tuple(networks), frozenset(names), tuple(suffixes))

    def names_host(self, host: str) -> bool:
        return host in self.names or host.endswith(self.suffixes)

    def holds(self, address: IPAddress) -> bool:
        return any(address in network for network in self.networks)


@dataclass(frozen=True, slots=True)
class UpstreamPolicy:
    """Which addresses upstream calls may connect to; the transport asks `admit` before every new connection."""

    mode: Mode = "default"
    allow: AddressRules = AddressRules()
    deny: AddressRules = AddressRules()
    own_port: int | None = None  # the port this service listens on; None (or 0) when it listens nowhere

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"the upstream address policy mode is one of {', '.join(MODES)}, not {self.mode!r}")

    def admit(
        self, host: str, port: int, candidates: Sequence[Candidate], address: Callable[[Candidate], str]
    ) -> list[Candidate]:
        """The candidates (resolved addresses of `host`) a connection may use; raises AddressRefusedError if none."""
        name = host.lower().rstrip(".")
        admitted: list[Candidate] = []
        refusals: list[str] = []
        for candidate in candidates:
            refusal = self.refusal(name, port, address(candidate))
            if refusal is None:
                admitted.append(candidate)
            else:
                refusals.append(refusal)
        if refusals and not admitted:
            raise self._refused(name, port, refusals[0])
        return admitted

    def refusal(self, host: str, port: int, address: str) -> str | None:
        """Why a connection to `address` (for `host`, lower-case) on `port` is refused; None when it is allowed."""
        try:
            ip = _unmapped(ipaddress.ip_address(address))
        except ValueError:
            return _UNREADABLE
        if self.deny.names_host(host) or self.deny.holds(ip):
            return _DENY_LISTED
        if self.own_port and port == self.own_port and _is_this_machine(ip):
            return _OWN_ADDRESS
        if self.allow.names_host(host) or self.allow.holds(ip):
            return None
        if any(ip in network for network in METADATA_AND_LINK_LOCAL):
            return _METADATA
        if self.mode == "strict" and (not ip.is_global or ip.is_multicast):
            return _NOT_PUBLIC
        return None

    def _refused(self, host: str, port: int, refusal: str) -> AddressRefusedError:
        is_literal = _is_address(host)
        where = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
        # Only the host as written and the kind of address: what a refused address would answer, or which address
        # an internal name resolves to, is never told.
        what = refusal if is_literal or refusal == _DENY_LISTED else f"it resolves to {refusal}"
        remedy = "; the operator can allow it with MODELYARD_UPSTREAM_ALLOW" if refusal in _ALLOWABLE else ""
        return AddressRefusedError(f"the upstream address policy ({self.mode}) refuses {where}: {what}{remedy}")


def _unmapped(ip: IPAddress) -> IPAddress:
    # ::ffff:169.254.169.254 reaches the IPv4 address: judge it as that address.
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _is_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def _is_this_machine(ip: IPAddress) -> bool:
    """True for loopback, the unspecified address (dialling it reaches this machine) and this machine's interfaces."""
    if ip.is_loopback or ip.is_unspecified:
        return True
    # Binding succeeds only to an address of one of this machine's interfaces: exact, current, and no interface
    # list to keep fresh. (A host with ip_nonlocal_bind set would refuse every address on this one port.)
    family = socket.AF_INET6 if ip.version == 6 else socket.AF_INET
    try:
        with socket.socket(family, socket.SOCK_DGRAM) as probe:
            probe.bind((str(ip), 0))
    except OSError:
        return False
    return True
