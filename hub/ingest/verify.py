"""Verify the signature: the sending system's policy decides; the verdict joins the record."""

from __future__ import annotations

import dataclasses

from hub.ingest.submission import Submission
from routing.directory import Directory
from security.signatures.verifier import SignatureVerifier


def sender_codes(directory: Directory, sender: str) -> tuple[str, ...]:
    """The sender's code as written, its current code and its aliases: a certificate may
    name any of them."""
    codes = [sender]
    org = directory.organization(sender)
    if org is not None:
        codes.append(org.code)
        codes.extend(org.aliases)
    return tuple(dict.fromkeys(codes))


def verify(sub: Submission, verifier: SignatureVerifier, directory: Directory) -> None:
    """Check the package's signature under the sending system's policy and keep the verdict.

    Raises SignatureRefused (SignerNotSender for a certificate of someone else) with a
    precise code; nothing is stored then but the audit record of the refusal.
    """
    env = sub.parsed
    policy = verifier.policy_for(sub.system.signatures)
    verdict = verifier.verify(sub.raw, env.form, policy, sender_codes(directory, env.sender),
                              at=sub.received_at)
    sub.envelope = dataclasses.replace(env, signature=verdict.as_dict(),
                                       warnings=env.warnings + verdict.warnings)
