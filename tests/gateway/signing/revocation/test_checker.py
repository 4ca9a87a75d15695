"""Revocation at intake (gateway/signing/revocation): CRL files, a real OCSP responder on 127.0.0.1
(good, revoked, slow and down), under each policy."""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import time
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from conformance.suite.ocsp_responder import OcspResponder
from support import served

from app.process import free_port
from gateway.config import RevocationSettings
from gateway.errors import ErrorCode
from gateway.signing.keys import SigningIdentity
from gateway.signing.pki import CertificateAuthority
from gateway.signing.revocation.checker import RevocationChecker
from gateway.signing.revocation.crls import CrlStore
from gateway.signing.revocation.policy import Policy, Source, Status

POLICIES = (Policy.SOFT, Policy.HARD)


@pytest.fixture(scope="module")
def party(ca: CertificateAuthority) -> SigningIdentity:
    return ca.issue("Revocation party", "0109990001", "ec-p256")


@pytest.fixture
def responder(ca: CertificateAuthority) -> Iterator[OcspResponder]:
    running = OcspResponder(ca)
    yield running
    running.close()


def write_crl(
    path: Path, issuer: CertificateAuthority, revoked: tuple[int, ...] = (), next_update: dt.timedelta = dt.timedelta(days=1)
) -> Path:
    now = dt.datetime.now(dt.UTC)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(issuer.certificate.subject)
        .last_update(now - dt.timedelta(hours=2))
        .next_update(now + next_update)
    )
    for serial in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(now - dt.timedelta(hours=1)).build()
        )
    path.write_bytes(builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    return path


def checker(tmp_path: Path, policy: Policy, crls: tuple[str, ...] = (), ocsp: str | None = None, **more: object) -> RevocationChecker:
    settings = RevocationSettings(
        policy=str(policy), crls=crls, ocsp=ocsp, ocsp_timeout_s=0.5, cache_dir=tmp_path / "crl-cache", **more  # type: ignore[arg-type]
    )
    made = RevocationChecker(settings)
    made.crls.refresh()
    return made


def path_of(party: SigningIdentity, ca: CertificateAuthority) -> tuple[x509.Certificate, ...]:
    return (party.certificate, ca.certificate)


@pytest.mark.parametrize("policy", POLICIES)
def test_a_certificate_revoked_in_the_crl_is_refused_without_asking_anyone(
    policy: Policy, tmp_path: Path, ca: CertificateAuthority, party: SigningIdentity, responder: OcspResponder
) -> None:
    crl = write_crl(tmp_path / "ca.crl.pem", ca, (party.certificate.serial_number,))
    verdict, judged = checker(tmp_path, policy, (str(crl),), responder.url).check(path_of(party, ca))

    assert (verdict.status, verdict.source) == (Status.REVOKED, Source.CRL)
    problem = verdict.problem(judged)
    assert problem is not None and problem.code is ErrorCode.CERTIFICATE_REVOKED
    assert responder.questions == 0


def test_a_certificate_absent_from_a_current_crl_is_good_without_a_network_call(
    tmp_path: Path, ca: CertificateAuthority, party: SigningIdentity, responder: OcspResponder
) -> None:
    crl = write_crl(tmp_path / "ca.crl.pem", ca, (12345,))
    verdict, _ = checker(tmp_path, Policy.HARD, (str(crl),), responder.url).check(path_of(party, ca))

    assert (verdict.status, verdict.source) == (Status.GOOD, Source.CRL)
    assert responder.questions == 0


@pytest.mark.parametrize("policy", POLICIES)
def test_on_a_crl_miss_the_ocsp_responder_is_asked_once_and_its_answer_kept(
    policy: Policy, tmp_path: Path, ca: CertificateAuthority, party: SigningIdentity, responder: OcspResponder
) -> None:
    responder.revoked.add(party.certificate.serial_number)
    checking = checker(tmp_path, policy, (), responder.url)

    first, judged = checking.check(path_of(party, ca))
    second, _ = checking.check(path_of(party, ca))

    assert (first.status, first.source) == (Status.REVOKED, Source.OCSP) and second == first
    problem = first.problem(judged)
    assert problem is not None and problem.code is ErrorCode.CERTIFICATE_REVOKED
    assert responder.questions == 1


def test_a_good_ocsp_answer_is_accepted_under_hard(
    tmp_path: Path, ca: CertificateAuthority, party: SigningIdentity, responder: OcspResponder
) -> None:
    verdict, judged = checker(tmp_path, Policy.HARD, (), responder.url).check(path_of(party, ca))

    assert (verdict.status, verdict.source, verdict.problem(judged)) == (Status.GOOD, Source.OCSP, None)


def test_a_stale_crl_does_not_count_and_ocsp_is_asked(
    tmp_path: Path, ca: CertificateAuthority, party: SigningIdentity, responder: OcspResponder
) -> None:
    crl = write_crl(tmp_path / "ca.crl.pem", ca, (), next_update=-dt.timedelta(minutes=1))
    verdict, _ = checker(tmp_path, Policy.HARD, (str(crl),), responder.url).check(path_of(party, ca))

    assert verdict.source is Source.OCSP and responder.questions == 1


def test_a_crl_signed_by_another_ca_does_not_count(
    tmp_path: Path, ca: CertificateAuthority, party: SigningIdentity
) -> None:
    impostor = CertificateAuthority(CertificateAuthority.create("x").key, ca.certificate)  # same name, other key
    crl = write_crl(tmp_path / "ca.crl.pem", impostor, (party.certificate.serial_number,))
    verdict, judged = checker(tmp_path, Policy.HARD, (str(crl),)).check(path_of(party, ca))

    assert (verdict.status, verdict.source) == (Status.UNKNOWN, Source.NONE)
    problem = verdict.problem(judged)
    assert problem is not None and problem.code is ErrorCode.CERTIFICATE_STATUS_UNKNOWN


@pytest.mark.parametrize("policy", POLICIES)
def test_a_slow_responder_costs_at_most_its_timeout(
    policy: Policy, tmp_path: Path, ca: CertificateAuthority, party: SigningIdentity, responder: OcspResponder
) -> None:
    responder.delay_s = 3.0
    checking = checker(tmp_path, policy, (), responder.url)

    started = time.perf_counter()
    verdict, judged = checking.check(path_of(party, ca))
    first = time.perf_counter() - started
    started = time.perf_counter()
    checking.check(path_of(party, ca))
    again = time.perf_counter() - started

    assert verdict.status is Status.UNKNOWN and verdict.source is Source.OCSP
    assert first < 0.5 + 1.0  # the timeout, and a little (far below the responder's 3 s)
    assert again < 0.05  # the failure is remembered for ocsp_failure_cache_s
    problem = verdict.problem(judged)
    if policy is Policy.SOFT:
        assert problem is None
    else:
        assert problem is not None and problem.code is ErrorCode.CERTIFICATE_STATUS_UNKNOWN


@pytest.mark.parametrize("policy", POLICIES)
def test_a_down_responder_gives_unknown(
    policy: Policy, tmp_path: Path, ca: CertificateAuthority, party: SigningIdentity
) -> None:
    verdict, judged = checker(tmp_path, policy, (), f"http://127.0.0.1:{free_port()}/ocsp").check(path_of(party, ca))

    assert verdict.status is Status.UNKNOWN
    assert (verdict.problem(judged) is None) is (policy is Policy.SOFT)


@pytest.mark.parametrize("policy", POLICIES)
def test_a_revoked_certificate_is_refused_even_when_the_responder_is_slow_if_the_crl_says_so(
    policy: Policy, tmp_path: Path, ca: CertificateAuthority, party: SigningIdentity, responder: OcspResponder
) -> None:
    responder.delay_s = 3.0
    crl = write_crl(tmp_path / "ca.crl.pem", ca, (party.certificate.serial_number,))
    verdict, judged = checker(tmp_path, policy, (str(crl),), responder.url).check(path_of(party, ca))

    problem = verdict.problem(judged)
    assert problem is not None and problem.code is ErrorCode.CERTIFICATE_REVOKED


def test_off_checks_nothing_and_a_ca_can_have_its_own_policy(
    tmp_path: Path, ca: CertificateAuthority, party: SigningIdentity, responder: OcspResponder
) -> None:
    responder.revoked.add(party.certificate.serial_number)
    verdict, judged = checker(tmp_path, Policy.OFF, (), responder.url).check(path_of(party, ca))
    assert (verdict.status, judged, responder.questions) == (Status.UNCHECKED, Policy.OFF, 0)

    print_ = ca.certificate.fingerprint(hashes.SHA256()).hex()
    _, judged = checker(tmp_path, Policy.OFF, (), responder.url, by_ca=((print_, "hard"),)).check(path_of(party, ca))
    assert judged is Policy.HARD


def test_fetched_crls_are_cached_on_disk_for_the_next_start(
    tmp_path: Path, ca: CertificateAuthority, party: SigningIdentity
) -> None:
    crl = write_crl(tmp_path / "ca.crl.pem", ca, (party.certificate.serial_number,))
    checker(tmp_path, Policy.HARD, (str(crl),))
    crl.unlink()  # the source is gone: only the disk cache has it

    restarted = CrlStore((str(crl),), tmp_path / "crl-cache")
    restarted.load_cache()
    held = restarted.lookup(party.certificate, ca.certificate, dt.datetime.now(dt.UTC))

    assert held is not None and party.certificate.serial_number in held.revoked
    restarted.refresh()  # a source that fails keeps the CRL held
    assert restarted.lookup(party.certificate, ca.certificate, dt.datetime.now(dt.UTC)) is not None


def with_distribution_point(ca: CertificateAuthority, url: str) -> x509.Certificate:
    """A party certificate from `ca` whose CRL distribution point is `url`."""
    with_point = ca.issue("Party with a CRL point", "0109990002", "ec-p256")
    return (
        x509.CertificateBuilder()
        .subject_name(with_point.certificate.subject)
        .issuer_name(ca.certificate.subject)
        .public_key(with_point.certificate.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(with_point.certificate.not_valid_before_utc)
        .not_valid_after(with_point.certificate.not_valid_after_utc)
        .add_extension(
            x509.CRLDistributionPoints([x509.DistributionPoint([x509.UniformResourceIdentifier(url)], None, None, None)]),
            critical=False,
        )
        .sign(ca.key, hashes.SHA256())
    )


@contextlib.contextmanager
def crl_server(directory: Path) -> Iterator[str]:
    """An HTTP server of the files in `directory` on 127.0.0.1; yields its base URL, and is down once left."""
    with served(ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietFiles, directory=str(directory)))) as url:
        yield url


class QuietFiles(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_a_distribution_point_seen_at_intake_is_fetched_by_the_timer_not_at_intake(
    tmp_path: Path, ca: CertificateAuthority
) -> None:
    url = f"http://127.0.0.1:{free_port()}/ca.crl"
    certificate = with_distribution_point(ca, url)
    checking = checker(tmp_path, Policy.SOFT)

    verdict, _ = checking.check((certificate, ca.certificate))

    assert verdict.status is Status.UNKNOWN
    assert url in checking.crls.sources  # for the timer (woken by `wanted`), which fetches it


def test_a_distribution_points_crl_cached_on_disk_is_used_after_a_restart_with_its_server_down(
    tmp_path: Path, ca: CertificateAuthority
) -> None:
    served = tmp_path / "served"
    served.mkdir()
    write_crl(served / "ca.crl", ca, (12345,))
    with crl_server(served) as base:
        certificate = with_distribution_point(ca, f"{base}/ca.crl")
        before = checker(tmp_path, Policy.HARD)  # no configured CRL: only the certificate's point
        assert before.check((certificate, ca.certificate))[0].status is Status.UNKNOWN  # the point is now wanted
        before.crls.refresh()  # the timer's fetch, which caches it on disk
        assert before.check((certificate, ca.certificate))[0].source is Source.CRL
        before.stop()

    restarted = RevocationChecker(before.settings)  # a new process: the server is down, the disk cache is there
    verdict, policy = restarted.check((certificate, ca.certificate))
    restarted.stop()

    assert (verdict.status, verdict.source, policy) == (Status.GOOD, Source.CRL, Policy.HARD)
    assert verdict.problem(policy) is None  # accepted under `hard`, without the CRL server


def test_a_cached_crl_past_its_next_update_is_not_loaded_at_start(tmp_path: Path, ca: CertificateAuthority) -> None:
    served = tmp_path / "served"
    served.mkdir()
    write_crl(served / "ca.crl", ca, next_update=dt.timedelta(seconds=1))
    with crl_server(served) as base:
        url = f"{base}/ca.crl"
        before = CrlStore((url,), tmp_path / "crl-cache")
        before.refresh()
    time.sleep(1.1)

    restarted = CrlStore((), tmp_path / "crl-cache")
    restarted.load_cache()
    assert url not in restarted.sources and restarted.next_updates() == {}
