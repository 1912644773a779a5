# pragma version ~=0.4.3
# pragma nonreentrancy off
"""
@title Pauser role of an ownable contract
@custom:contract-name pauser
@license Apache-2.0
@notice Separates "stop everything now" from "change the rules": the owner (the
        timelock, so only after its delay) appoints and removes pausers; a pauser
        may pause and unpause at once but change nothing else. The owner itself
        cannot pause unless it appoints itself, through the delay.
"""

from snekmate.auth import ownable
uses: ownable

from snekmate.utils import pausable
uses: pausable


# @dev Accounts allowed to pause and unpause.
is_pauser: public(HashMap[address, bool])


event PauserSet:
    pauser: indexed(address)
    allowed: bool


@external
def set_pauser(account: address, allowed: bool):
    """
    @dev Appoints or removes a pauser; owner only.
    @param account The pauser's address.
    @param allowed True to appoint, False to remove.
    """
    ownable._check_owner()
    assert account != empty(address), "pauser: zero address"
    self.is_pauser[account] = allowed
    log PauserSet(pauser=account, allowed=allowed)


@external
def pause():
    """
    @dev Stops the contract's guarded functions; pausers only.
    """
    self._check_pauser()
    pausable._pause()


@external
def unpause():
    """
    @dev Resumes the contract's guarded functions; pausers only.
    """
    self._check_pauser()
    pausable._unpause()


@internal
@view
def _check_pauser():
    assert self.is_pauser[msg.sender], "pauser: caller is not a pauser"
