"""A corpus for the free-text redaction: personal data and secrets that must not survive, and
look-alikes from our own domain that must survive untouched. The figures (misses, false
positives) come from running it:

    .venv/bin/python -m tests.unit.redaction_corpus                # the layer's redaction
    .venv/bin/python -m tests.unit.redaction_corpus --file PATH    # another redaction.py

tests/unit/test_redaction_corpus.py holds the layer to zero of each.
"""

from __future__ import annotations

import argparse
import importlib.util
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType

# (text, the part that must not survive). The first ten are the security review's.
LEAKS: list[tuple[str, str]] = [
    ("call me on 4155550178 tonight", "4155550178"),
    ("my UK number is +44 20 7946 0958", "7946 0958"),
    ("Büro +49 30 12345679 ab 9 Uhr", "12345679"),
    ("card 4111.1111.1111.1112 was stolen", "4111.1111.1111.1112"),
    ("ssn 321 54 9876 on file", "321 54 9876"),
    ("his number 321549877 per the form", "321549877"),
    ("birthday 14 March 1984, insured since 2019", "14 March 1984"),
    (
        "token eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjdXN0LTc3ODgifQ.c2lnbmF0dXJlLXgtMTIz was pasted",
        "eyJzdWIiOiJjdXN0LTc3ODgifQ",
    ),
    ("login password=Hunter2Secret! for the portal", "Hunter2Secret!"),
    ("write to name (at) example (dot) org", "example (dot) org"),
    # -- more of the same kinds, spelled as people spell them
    ("ring (415) 555-0178 after six", "555-0178"),
    ("ring 415-555-0178 after six", "415-555-0178"),
    ("ring 415.555.0178 after six", "415.555.0178"),
    ("ring +1 415 555 0178 after six", "415 555 0178"),
    ("ring +14155550178 after six", "4155550178"),
    ("téléphone +33 1 42 68 53 00", "42 68 53 00"),
    ("mobile +33 6 12 34 56 78", "12 34 56 78"),
    ("cell +61 412 345 678", "412 345 678"),
    ("phone 020 7946 0958 (London)", "7946 0958"),
    ("card 4111 1111 1111 1111 please", "4111 1111 1111 1111"),
    ("card 4111-1111-1111-1111 please", "4111-1111-1111-1111"),
    ("card 4111111111111111 please", "4111111111111111"),
    ("amex 3782 822463 10005", "3782 822463 10005"),
    ("my ssn is 078-05-1120", "078-05-1120"),
    ("SSN: 321.54.9876", "321.54.9876"),
    ("pay to GB82WEST12345698765432", "GB82WEST12345698765432"),
    ("pay to GB82 WEST 1234 5698 7654 32 today", "5698 7654 32"),
    ("IBAN DE89 3704 0044 0532 0130 00", "0532 0130 00"),
    ("write to pat.doe@example.org", "pat.doe@example.org"),
    ("write to PAT.DOE@EXAMPLE.ORG", "PAT.DOE@EXAMPLE.ORG"),
    ("write to pat [at] example [dot] org", "example [dot] org"),
    ("write to pat{at}example{dot}org", "example{dot}org"),
    ("DOB: 07/04/1990", "07/04/1990"),
    ("born on 1990-07-04 in Ohio", "1990-07-04"),
    ("date of birth 4 July 1990", "4 July 1990"),
    ("born March 14, 1984", "March 14, 1984"),
    ("birthdate: 14.03.1984", "14.03.1984"),
    ("b-day 14/03/1984", "14/03/1984"),
    ("Authorization: Bearer abc.def.ghi", "abc.def.ghi"),
    ("postgresql://app:s3cr3t-pw@db:5432/x", "s3cr3t-pw"),
    ("pwd: CorrectHorse9 sent by mail", "CorrectHorse9"),
    ("api_key=sk_live_4eC39HqLyjWDarjtT1zdp7dc", "sk_live_4eC39HqLyjWDarjtT1zdp7dc"),
    ('"password": "Hunter2Secret!"', "Hunter2Secret!"),
    ("client_secret: 9f8e7d6c5b4a", "9f8e7d6c5b4a"),
    ("AWS key AKIAIOSFODNN7EXAMPLE leaked", "AKIAIOSFODNN7EXAMPLE"),
]

# Text from our own domain that must come back exactly as it went in.
KEEPS: list[str] = [
    "POL-10001",
    "POL-4155550178",
    "POL-1234567890",
    "policy POL-10001, claim CLM-000102",
    "CLM-01J8ZK3QW5",
    "CLM-4111111111111111",
    "cust-7788",
    "cust-321549877",
    "1250.00",
    "amount 1250.00 USD, deductible 500.00",
    "1,250,000.00",
    "reserve 125000000.00",
    "2026-11-01",
    "loss on 2026-11-01, reported 2026-11-02",
    "2026-11-25T21:35:26.123456+00:00",
    "2026-11-25T21:35:26Z",
    "2026-11-25 21:35:26.123456Z",
    "9b2f3c1e-4d5a-4b6c-8d7e-0f1a2b3c4d5e",
    "00000000-0000-4000-8000-000000000000",
    "12345678-1234-4234-8234-123456789012",
    "request 4f1c2a9e-6b7d-4e8f-9a0b-1c2d3e4f5a6b",
    "ik-3b2a1f0e9d8c7b6a5f4e3d2c1b0a99887766554433221100ffeeddccbbaa99",
    "collision",
    "water_damage",
    "windstorm, hail and fire",
    "Rear-ended at a light on 2026-11-20; bumper and tail light.",
    "Backed into a bollard in a parking garage at level 3, bay 214.",
    "Water damage in the kitchen after a pipe burst; 3 cabinets, 12 m2 of floor.",
    "The repair shop quoted 1800.00 on 2026-11-22.",
    "conv-001",
    "conv-7ea45072e3b2",
    "demo-claim-0001",
    "sfn-arn:aws:states:us-east-1:123456789012:execution:ClaimIntake:run-1",
    "arn:aws:lambda:us-east-1:123456789012:function:PolicyLookupFunction",
    "duration 12.345 ms",
    "version 1.0.0",
    "limit 50000.00, remaining 48200.00",
    "status=submitted",
    "token expired",
    "password reset requested",
    "the secret ingredient was love",
    "born in Ohio",
    "birthday party at 7 pm",
    "meet at the garage (at) noon",
    "room 101, floor 2",
    "Zürich, 東京",
    "claims 1 2 3 4 5 6 7 8 9 10",
    "ZIP 94105",
    "since 1984",
]


def load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"redaction_under_test_{path.stem}", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def misses(redact_text: Callable[[str], str]) -> list[tuple[str, str]]:
    return [(text, secret) for text, secret in LEAKS if secret in redact_text(text)]


def false_positives(redact_text: Callable[[str], str]) -> list[tuple[str, str]]:
    return [(text, out) for text in KEEPS if (out := redact_text(text)) != text]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--file", type=Path, help="a redaction.py to measure instead")
    args = parser.parse_args(argv)
    if args.file:
        redact_text = load(args.file).redact_text
    else:
        from insurance_agent.redaction import redact_text
    missed = misses(redact_text)
    wrong = false_positives(redact_text)
    texts = [t for t, _ in LEAKS] + KEEPS
    started = time.perf_counter()
    rounds = 20
    for _ in range(rounds):
        for text in texts:
            redact_text(text)
    per_text_us = (time.perf_counter() - started) / (rounds * len(texts)) * 1e6
    print(f"misses: {len(missed)} of {len(LEAKS)}")
    for text, secret in missed:
        print(f"  missed {secret!r} in {redact_text(text)!r}")
    print(f"false positives: {len(wrong)} of {len(KEEPS)}")
    for text, out in wrong:
        print(f"  changed {text!r} -> {out!r}")
    print(f"mean time per text: {per_text_us:.1f} us")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
