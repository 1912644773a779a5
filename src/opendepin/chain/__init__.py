"""Settlement on an EVM (issue 3): Vyper contracts on snekmate, and embedded / rpc chain backends.

Open a backend with `open_backend(data_dir, chain_config)`; deploy on first start with
`ensure_deployed(backend, network_config)`.
"""

from opendepin.chain.backend import (
    ChainBackend,
    ChainError,
    ChainStateError,
    ChainStatus,
    ClaimResult,
    CreditPurchase,
    DeployParams,
    NodeUnavailableError,
    NotDeployedError,
    Settlement,
    TransactionRevertedError,
    TxReceipt,
)
from opendepin.chain.deploy import ensure_deployed, params_from_config
from opendepin.chain.factory import open_backend
from opendepin.chain.schedule import EmissionCap, compute_emission_cap

__all__ = [
    "ChainBackend",
    "ChainError",
    "ChainStateError",
    "ChainStatus",
    "ClaimResult",
    "CreditPurchase",
    "DeployParams",
    "EmissionCap",
    "NodeUnavailableError",
    "NotDeployedError",
    "Settlement",
    "TransactionRevertedError",
    "TxReceipt",
    "compute_emission_cap",
    "ensure_deployed",
    "open_backend",
    "params_from_config",
]
