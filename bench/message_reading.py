"""How well Harbour reads clients' messages: the labelled corpus, scored.

    .venv/bin/python -m bench.message_reading [--corpus tests/fixtures/message_corpus.csv]

Reads every message of the labelled corpus with ``models.messages.read_message`` and prints,
for the ``dev`` split (the rules were tuned on it), the ``holdout`` split (not looked at while
tuning) and all of them: crisis recall, the false-alarm rate, wrong automatic actions, intent
accuracy over the messages that should be acted on, the counts, and every misread message.
No Temporal, no database. It asserts nothing (BENCHMARKS.md); ``tests/test_message_corpus.py``
holds the thresholds.
"""

from __future__ import annotations

import argparse
import csv
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from models.messages import ACTIONABLE_INTENTS, Intent, MessageReading, read_message

CORPUS = Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "message_corpus.csv"
CATEGORIES = (
    "crisis",
    "return",
    "stop",
    "confirm",
    "still_waiting",
    "negated",
    "question",
    "third_party",
    "ambiguous",
    "everyday",
)
SPLITS = ("dev", "holdout")


@dataclass(frozen=True)
class Labelled:
    """One corpus message and what Harbour should make of it."""

    text: str
    crisis: bool
    intent: Intent
    category: str
    split: str


def load_corpus(path: Path = CORPUS) -> list[Labelled]:
    """The labelled messages (columns ``text,crisis,intent,category,split``)."""
    with path.open(newline="", encoding="utf-8") as f:
        return [
            Labelled(
                text=row["text"],
                crisis=row["crisis"] == "1",
                intent=Intent(row["intent"]),
                category=row["category"],
                split=row["split"],
            )
            for row in csv.DictReader(f)
        ]


@dataclass
class Score:
    """The figures for one set of labelled messages, and the messages each one missed."""

    rows: int = 0
    crisis_total: int = 0
    non_crisis_total: int = 0
    actionable_total: int = 0
    actionable_right: int = 0
    missed_crises: list[Labelled] = field(default_factory=list)
    false_alarms: list[Labelled] = field(default_factory=list)
    # Acted on, but not what the message asked for (or not to be acted on at all).
    wrong_actions: list[tuple[Labelled, MessageReading]] = field(default_factory=list)
    # Should have been acted on, went to a person instead: a delay, not a harm.
    cautious: list[tuple[Labelled, MessageReading]] = field(default_factory=list)

    @property
    def crisis_recall(self) -> float:
        caught = self.crisis_total - len(self.missed_crises)
        return caught / self.crisis_total if self.crisis_total else 1.0

    @property
    def false_alarm_rate(self) -> float:
        return len(self.false_alarms) / self.non_crisis_total if self.non_crisis_total else 0.0

    @property
    def intent_accuracy(self) -> float:
        return self.actionable_right / self.actionable_total if self.actionable_total else 1.0


def score(messages: Iterable[Labelled]) -> Score:
    """Read every message and compare the reading with its labels."""
    s = Score()
    for m in messages:
        reading = read_message(m.text)
        s.rows += 1
        if m.crisis:
            s.crisis_total += 1
            if not reading.crisis:
                s.missed_crises.append(m)
        else:
            s.non_crisis_total += 1
            if reading.crisis:
                s.false_alarms.append(m)
        if reading.intent in ACTIONABLE_INTENTS and reading.intent is not m.intent:
            s.wrong_actions.append((m, reading))
        if m.intent in ACTIONABLE_INTENTS:
            s.actionable_total += 1
            if reading.intent is m.intent:
                s.actionable_right += 1
            elif reading.intent is Intent.OTHER:
                s.cautious.append((m, reading))
    return s


def _report(name: str, s: Score) -> None:
    caught = s.crisis_total - len(s.missed_crises)
    print(f"\n== {name}: {s.rows} messages ({s.crisis_total} crisis, {s.non_crisis_total} not)")
    print(f"  crisis recall          {s.crisis_recall:6.1%}  ({caught}/{s.crisis_total})")
    print(
        f"  false-alarm rate       {s.false_alarm_rate:6.1%}  "
        f"({len(s.false_alarms)}/{s.non_crisis_total} non-crisis messages flagged)"
    )
    print(f"  wrong automatic acts   {len(s.wrong_actions):6d}")
    print(
        f"  intent accuracy        {s.intent_accuracy:6.1%}  "
        f"({s.actionable_right}/{s.actionable_total} actionable messages read right)"
    )
    for m in s.missed_crises:
        print(f"    MISSED CRISIS   {m.text!r}")
    for m in s.false_alarms:
        print(f"    false alarm     {m.text!r}  [{m.category}]")
    for m, r in s.wrong_actions:
        print(f"    WRONG ACTION    {m.text!r}  read {r.intent.value}, expected {m.intent.value}")
    for m, r in s.cautious:
        print(f"    to a person     {m.text!r}  expected {m.intent.value}, reasons {r.reasons}")


def main() -> None:
    """Score the corpus and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--corpus", type=Path, default=CORPUS)
    args = parser.parse_args()
    corpus = load_corpus(args.corpus)
    counts = Counter((m.split, m.category) for m in corpus)
    print(f"corpus {args.corpus} — {len(corpus)} messages")
    for split in SPLITS:
        line = ", ".join(f"{c} {counts[split, c]}" for c in CATEGORIES)
        print(f"  {split:8s} {line}")
    started = time.perf_counter()
    for split in SPLITS:
        _report(split, score(m for m in corpus if m.split == split))
    _report("all", score(corpus))
    elapsed = time.perf_counter() - started
    per = elapsed / (2 * len(corpus)) * 1e6
    print(f"\nread {2 * len(corpus)} messages in {elapsed * 1000:.0f} ms ({per:.0f} µs each)")
    # The worst case: long messages of repeated words, where a backtracking pattern would blow up.
    units = ["i ", "my ", "not ", "the end of the ", "nearly ", "sorry for ", "i was going to "]
    worst = 0.0
    for unit in units:
        text = (unit * (10000 // len(unit) + 1))[:10000]
        started = time.perf_counter()
        read_message(text)
        worst = max(worst, time.perf_counter() - started)
    print(f"slowest 10 000-character message of repeated words: {worst * 1000:.0f} ms")


if __name__ == "__main__":
    main()
