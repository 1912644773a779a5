# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Timelock: the only owner and admin of the other opendepin contracts
@custom:contract-name timelock
@license Apache-2.0
@notice snekmate's `timelock_controller`, deployed as is. Every owner power of the
        network (replacing the oracle set, adding makers and feeders, granting the
        router or pauser role, resetting the price, changing the onboarding fee)
        is a call this contract makes, so it must first be scheduled by a proposer
        and can only be executed `get_minimum_delay` seconds later: everyone sees
        an admin change coming and can leave (or a canceller can cancel it) before
        it takes effect. The contract administers itself (no admin account), so its
        own roles and delay also change only through the delay. Payloads are at
        most 1,024 bytes (snekmate's bound), which every opendepin admin call fits.
"""

from snekmate.auth import access_control
initializes: access_control

from snekmate.governance import timelock_controller
initializes: timelock_controller[access_control := access_control]

exports: timelock_controller.__interface__


@deploy
@payable
def __init__(
    minimum_delay_: uint256,
    proposers_: DynArray[address, 255],
    executors_: DynArray[address, 255],
):
    """
    @dev Self-administered timelock; proposers are also cancellers.
    @param minimum_delay_ Seconds between scheduling an operation and executing it (> 0).
    @param proposers_ Accounts that may schedule (and cancel) operations.
    @param executors_ Accounts that may execute ready operations.
    """
    assert minimum_delay_ > 0, "timelock: zero delay"
    # access_control grants the deployer the admin role; timelock_controller revokes it again.
    access_control.__init__()
    timelock_controller.__init__(minimum_delay_, proposers_, executors_, empty(address))
