"""Crisis detection on blind probe sets written apart from the rules.

    .venv/bin/python -m bench.crisis_probe [--quiet]

The labelled corpus (``bench.message_reading``) was written by the author of the rules, so its
crisis recall is not independent. These probe sets (columns ``text,crisis``) were written by
someone else before reading the rules:

* blind set 1 (``tests/fixtures/message_probe_blind.csv``) was measured once before any change,
  then its misses were used to tune the lexicon, so its later figures are no longer blind;
* blind set 2 (``tests/fixtures/message_probe_blind2.csv``) was written after that tuning without
  looking at the rules again; it measured the lexicon blind (recall 53%, false alarms 5%), then
  it was used, with the corpus and set 1, to tune the broad distress net: no longer blind either;
* blind set 3 (``tests/fixtures/message_probe_blind3.csv``) was written apart while the net was
  built and never looked at: the only blind figure for the net. Reported when the file exists;
  never tune on it.

For each set it prints crisis recall, the false-alarm rate, how many alerts the distress net
raised alone (no lexicon phrase matched), and every miss and false alarm, using
``models.messages.read_message``. It asserts nothing (BENCHMARKS.md).
"""

from __future__ import annotations

import argparse
import csv
import time
from dataclasses import dataclass, field
from pathlib import Path

from models.messages import read_message

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "fixtures"
SETS = (
    ("blind set 1 (used for tuning after its first measure)", FIXTURES / "message_probe_blind.csv"),
    (
        "blind set 2 (used for tuning the distress net after its first measure)",
        FIXTURES / "message_probe_blind2.csv",
    ),
    ("blind set 3 (untouched, written blind)", FIXTURES / "message_probe_blind3.csv"),
)
NET_CODE = "crisis:distress_net"


@dataclass
class ProbeScore:
    """Crisis figures for one probe set, and the messages it got wrong."""

    crisis_total: int = 0
    non_crisis_total: int = 0
    missed: list[str] = field(default_factory=list)
    false_alarms: list[str] = field(default_factory=list)
    # Alerts the broad distress net raised with no lexicon phrase matching.
    net_only_caught: int = 0
    net_only_false_alarms: int = 0
    seconds: float = 0.0

    @property
    def recall(self) -> float:
        if not self.crisis_total:
            return 1.0
        return (self.crisis_total - len(self.missed)) / self.crisis_total

    @property
    def false_alarm_rate(self) -> float:
        if not self.non_crisis_total:
            return 0.0
        return len(self.false_alarms) / self.non_crisis_total


def load(path: Path) -> list[tuple[str, bool]]:
    """The probe messages and whether each one should alert."""
    with path.open(newline="", encoding="utf-8") as f:
        rows = []
        for row in csv.DictReader(f):
            if row["crisis"] not in ("0", "1"):
                raise ValueError(f"{path.name}: crisis must be 0 or 1, got {row['crisis']!r}")
            rows.append((row["text"], row["crisis"] == "1"))
        return rows


def score(rows: list[tuple[str, bool]]) -> ProbeScore:
    result = ProbeScore()
    started = time.perf_counter()
    for text, crisis in rows:
        reading = read_message(text)
        alerted = reading.crisis
        net_only = [c for c in reading.reasons if c.startswith("crisis:")] == [NET_CODE]
        if crisis:
            result.crisis_total += 1
            if not alerted:
                result.missed.append(text)
            elif net_only:
                result.net_only_caught += 1
        else:
            result.non_crisis_total += 1
            if alerted:
                result.false_alarms.append(text)
                result.net_only_false_alarms += net_only
    result.seconds = time.perf_counter() - started
    return result


def report(label: str, path: Path, result: ProbeScore, *, quiet: bool) -> None:
    caught = result.crisis_total - len(result.missed)
    print(f"== {label}: {path.name}")
    print(
        f"   crisis recall    {result.recall:6.1%}  "
        f"({caught}/{result.crisis_total} caught, {len(result.missed)} missed)"
    )
    print(
        f"   false-alarm rate {result.false_alarm_rate:6.1%}  "
        f"({len(result.false_alarms)}/{result.non_crisis_total} non-crisis messages alerted)"
    )
    print(
        f"   distress net alone: {result.net_only_caught} crises caught, "
        f"{result.net_only_false_alarms} false alarms"
    )
    print(f"   read in {result.seconds * 1000:.1f} ms")
    if quiet:
        return
    if result.missed:
        print("   missed crises:")
        for text in result.missed:
            print(f"     - {text!r}")
    if result.false_alarms:
        print("   false alarms:")
        for text in result.false_alarms:
            print(f"     - {text!r}")
    print()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quiet", action="store_true", help="figures only, no message lists")
    args = parser.parse_args()
    for label, path in SETS:
        if not path.exists():
            print(f"== {label}: {path.name} not found, skipped\n")
            continue
        report(label, path, score(load(path)), quiet=args.quiet)


if __name__ == "__main__":
    main()
