"""Offline checks of package files: validation (schemas/offline.py) and then the signature,
as the ingest pipeline would check them, without a running hub (`lienthong validate`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from core.errors import FieldError, HubError, SignatureRefused
from core.settings import Profile, Settings
from hub.ingest.verify import sender_codes
from routing.directory import Directory, DirectoryError, SignatureRules
from schemas.offline import FileReport, inspect_file
from security.signatures.policy import Mode
from security.signatures.verdict import Verdict
from security.signatures.verifier import SignatureVerifier


@dataclass(frozen=True)
class FileCheck:
    """One file: its validation report, then the signature verdict or refusal."""

    report: FileReport
    verdict: Verdict | None = None
    refusal: SignatureRefused | None = None

    @property
    def valid(self) -> bool:
        return self.report.valid and self.refusal is None

    @property
    def profile(self) -> Profile:
        return self.report.profile

    @property
    def warnings(self) -> list[FieldError]:
        extra = list(self.verdict.warnings) if self.verdict else []
        return [*self.report.warnings, *extra]


class OfflineChecker:
    """Validates files and verifies their signatures under one policy mode.

    The sender's directory entry, when the configured directory has one, supplies the
    certificate matchers and algorithms, and the validation profile; `mode` replaces its
    signature policy and `profile` its validation profile.
    """

    def __init__(self, settings: Settings, mode: Mode | None = None,
                 verifier: SignatureVerifier | None = None, *,
                 profile: Profile | None = None) -> None:
        """Raises TrustStoreError when the trust anchors or CRLs cannot be read."""
        self.settings = settings
        self.mode = mode
        self.profile = profile
        self.verifier = verifier or SignatureVerifier(settings.signatures, settings.limits)
        self.directory: Directory | None
        try:
            self.directory = Directory.from_file(settings.directory_file)
        except DirectoryError:
            self.directory = None

    def check(self, path: Path) -> FileCheck:
        """Never raises for a bad package: what is wrong is in the FileCheck."""
        report = inspect_file(path, self.settings, self.profile)
        if self.profile is None and self.directory is not None:
            report = self._under_senders_profile(path, report, self.directory)
        if not report.valid or report.form is None or report.sender is None:
            return FileCheck(report)
        rules: SignatureRules | None = None
        codes: tuple[str, ...] = (report.sender,)
        if self.directory is not None:
            system = self.directory.receiver_for(report.sender)
            rules = system.signatures if system is not None else None
            codes = sender_codes(self.directory, report.sender)
        policy = self.verifier.policy_for(rules, self.mode)
        try:
            raw = path.read_bytes()
            verdict = self.verifier.verify(raw, report.form, policy, codes)
        except SignatureRefused as exc:
            return FileCheck(report, refusal=exc)
        except (OSError, HubError) as exc:  # the file changed under us, or a parse limit
            refusal = SignatureRefused(str(exc), code=getattr(exc, "code", "unreadable"))
            return FileCheck(report, refusal=refusal)
        return FileCheck(report, verdict=verdict)

    def _under_senders_profile(self, path: Path, report: FileReport,
                               directory: Directory) -> FileReport:
        """The hub checks a package under its sending system's profile: so does this."""
        sender = report.sender
        if sender is None and report.profile != "interop":
            sender = inspect_file(path, self.settings, "interop").sender  # who sends it
        system = directory.receiver_for(sender) if sender else None
        if system is None:
            return report
        wanted = system.profile(self.settings.validation.profile)
        return report if wanted == report.profile else inspect_file(path, self.settings, wanted)
