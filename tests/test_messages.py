"""Reading a client's message: normalising, intent, crisis words, the SMS opt-out, reasons.

The labelled corpus is scored in ``tests/test_message_corpus.py``; the probes at the end of this
file are messages written after the rules, phrased afresh to find what the rules missed, and kept
here so that none of those gaps reopens.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from bench.message_reading import load_corpus
from models.messages import (
    ACTIONABLE_INTENTS,
    REASON_CODES,
    Channel,
    ClientMessage,
    Intent,
    MessageReading,
    classify_intent,
    normalise,
    read_message,
    suggests_crisis,
)

# -- what the service relied on before, kept -----------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("RETURN", Intent.RETURN),
        ("Hi, I'd like to come back please", Intent.RETURN),
        ("could I see her again?", Intent.RETURN),
        ("STOP", Intent.STOP),
        ("please withdraw me, I've moved", Intent.STOP),
        ("CONFIRM", Intent.CONFIRM),
        ("yes", Intent.STILL_WAITING),
        ("Yes still waiting thanks", Intent.STILL_WAITING),
        ("what time is it on Tuesday?", Intent.OTHER),
        ("", Intent.OTHER),
    ],
)
def test_intent(text: str, intent: Intent) -> None:
    assert classify_intent(text) is intent


@pytest.mark.parametrize(
    "text",
    [
        "I feel suicidal",
        "I want to end my life",
        "been self-harming again",
        "I keep thinking I want to die",
        "took an overdose",
        "I don't want to be here anymore",
    ],
)
def test_crisis_words_are_caught(text: str) -> None:
    assert suggests_crisis(text)


@pytest.mark.parametrize("text", ["yes", "RETURN", "I'm a bit better", "the café was nice"])
def test_ordinary_messages_are_not_crisis(text: str) -> None:
    assert not suggests_crisis(text)


# -- normalise ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("  Hello   THERE ", "hello there"),
        ("I\u2019m fine", "i am fine"),  # ’
        ("I\u2018m fine", "i am fine"),  # ‘
        ("I\u02bcm fine", "i am fine"),  # ʼ
        ("I\uff07m fine", "i am fine"),  # ＇
        ("I\u00b4m fine", "i am fine"),  # ´
        ("I`m fine", "i am fine"),
        ("ＳＴＯＰ", "stop"),  # NFKC folds full-width letters
        ("don't", "do not"),
        ("dont", "do not"),
        ("dnt", "do not"),
        ("can't", "cannot"),
        ("cant", "cannot"),
        ("cnt", "cannot"),
        ("won't", "will not"),
        ("didnt", "did not"),
        ("im ok", "i am ok"),
        ("i'm ok", "i am ok"),
        ("ive been", "i have been"),
        ("id like to", "i would like to"),
        ("wanna come back", "want to come back"),
        ("gonna", "going to"),
        ("can u come", "can you come"),
        ("ur list", "your list"),
        ("pls", "please"),
        ("plz", "please"),
        ("thx", "thanks"),
        ("cos i said", "because i said"),
        ("coz", "because"),
        ("rly", "really"),
        ("tbh", "to be honest"),
        ("idk", "i do not know"),
        ("kms", "kill myself"),
        ("kys", "kill yourself"),
        ("yeah", "yes"),
        ("yesss!!!", "yes!"),
        ("nope", "no"),
        ("anymore", "anymore"),
        ("any more", "anymore"),
        ("sucide", "suicide"),
        ("suicde", "suicide"),
        ("suiside", "suicide"),
        ("su1cide", "suicide"),
        ("sucidal", "suicidal"),
        ("suicidle", "suicidal"),
        ("overdoes", "overdose"),
        ("i od", "i overdose"),
        ("took an o.d.", "took an overdose"),
        ("i od'd", "i overdosed"),
        ("selfharm", "self harm"),
        ("self-harm", "self harm"),
        ("self-harming", "self harming"),
        ("urges to sh", "urges to self harm"),
        ("sh again", "self harm again"),
        ("harming myself", "harming myself"),
        ("kill my self", "kill myself"),
        ("overdue", "overdue"),  # not a misspelled overdose
        ("yes 👍 :) <3", "yes"),
        ("what?!?!", "what?"),
        ("hi,can i", "hi, can i"),
        ("come back\nthanks", "come back. thanks"),
        ("ok - thanks", "ok, thanks"),
        ("", ""),
    ],
)
def test_normalise(text: str, expected: str) -> None:
    assert normalise(text) == expected


def test_normalise_is_idempotent_on_the_corpus() -> None:
    for m in load_corpus():
        once = normalise(m.text)
        assert normalise(once) == once, m.text


def test_normalise_keeps_sh_alone_when_nothing_says_self_harm() -> None:
    # "sh" becomes "self harm" only in context ("urges to sh", "sh again").
    assert normalise("sh") == "sh"
    assert normalise("shh be quiet") == "shh be quiet"


# -- the SMS opt-out ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "STOP",
        "stop",
        " Stop! ",
        "STOP.",
        "STOP ALL",
        "stop all",
        "STOPALL",
        "UNSUBSCRIBE",
        "End.",
        "cancel",
        "QUIT",
        "ＳＴＯＰ",
        "...STOP...",
        "STOP 🙏",
    ],
)
def test_a_bare_opt_out_word_opts_out_of_texts(text: str) -> None:
    assert read_message(text).sms_opt_out


@pytest.mark.parametrize(
    "text",
    [
        "STOP please",
        "please stop",
        "stop texting me",
        "stop sending me so many texts?",
        "STOP?",  # a question, not an instruction: a person answers it
        "is STOP the word to leave?",
        "don't stop",
        "the end",
        "END of the month",
        "STOP ALL PLEASE",
        "",
        "STOP I want to die",
    ],
)
def test_anything_more_than_the_opt_out_word_is_not_an_opt_out(text: str) -> None:
    assert not read_message(text).sms_opt_out


def test_opt_out_words_that_may_not_mean_leaving_are_read_by_a_person() -> None:
    # END, CANCEL and QUIT stop texts, but whether they mean leaving the service is a person's
    # call; STOP, STOP ALL and UNSUBSCRIBE ask to stop (confirmed later by the workflow).
    for word in ("END", "CANCEL", "QUIT"):
        reading = read_message(word)
        assert reading.sms_opt_out and reading.intent is Intent.OTHER
    for word in ("STOP", "STOP ALL", "STOPALL", "UNSUBSCRIBE"):
        assert read_message(word).intent is Intent.STOP


# -- intent: act only on the unambiguous -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "intent"),
    [
        ("come back", Intent.RETURN),
        ("I'd like to come back", Intent.RETURN),
        ("can I come back please", Intent.RETURN),
        ("actually can I come back", Intent.RETURN),
        ("Is it ok if I come back? Things have got on top of me again", Intent.RETURN),
        ("yes please, I'd like to come back", Intent.RETURN),
        ("i wanna come back pls i miss the group", Intent.RETURN),
        ("can I come back, I'm still not great", Intent.RETURN),  # a negation beside, not on it
        ("withdraw", Intent.STOP),
        ("take me off the list", Intent.STOP),
        ("STOP please", Intent.STOP),
        ("Can you take me off the list please?", Intent.STOP),
        ("I no longer need the service, please remove me", Intent.STOP),
        ("YES", Intent.STILL_WAITING),
        ("still waiting", Intent.STILL_WAITING),
        ("still interested", Intent.STILL_WAITING),
        ("yes confirm", Intent.CONFIRM),
        ("i confirm i want to withdraw", Intent.CONFIRM),
    ],
)
def test_unambiguous_requests_are_acted_on(text: str, intent: Intent) -> None:
    reading = read_message(text)
    assert reading.intent is intent
    assert reading.reasons == [] and not reading.needs_person


@pytest.mark.parametrize(
    "text",
    [
        # negation governing the intent, wherever it sits
        "no I'm not ready to come back yet",
        "I don't want to stop",
        "not yet",
        "no",
        "don't take me off the list",
        "I'm not still waiting, I moved",
        "never withdraw me",
        "I'd like to come back but not until after my operation",
        "I would like to withdraw, I don't need the service any more",
        "please stop its not",  # a greeting-like filler never swallows a negator
        "My son says: I'd like to come back please",
        # real questions
        "do I have to come back?",
        "what happens if I stop?",
        "when will I come back to see her?",
        "is STOP the word to leave?",
        "can I stop?",
        "can I come back or is it too late?",
        "Hi, I'd like to come back please. Is Jen still working there?",
        # third parties
        "my son wants to come back",
        "this is her mum, she says stop",
        "my wife would like to withdraw",
        "Mum here. Yes she is still waiting",
        # words in another sense
        "I can't stop crying",
        "stop sending me so many texts?",
        "I'll come back to you on that",
        "the bus didn't stop",
        "back pain came back",
        "I'm going to stop my medication",
        # two intents, hedges, retractions, extra content
        "yes but please stop",
        "please stop, actually I want to come back",
        "confirm I'm still waiting",  # must never withdraw a pending withdrawal
        "maybe I'll come back",
        "I'd like to come back. Actually no, ignore that",
        "yes, I've got a new number now it's 07700 900123",
        "ok",
        "👍",
    ],
)
def test_anything_uncertain_goes_to_a_person(text: str) -> None:
    reading = read_message(text)
    assert reading.intent is Intent.OTHER
    assert reading.needs_person


# -- reasons ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("", "empty"),
        ("hmm", "no_clear_intent"),
        ("I don't want to stop", "negated"),
        ("do I have to come back?", "question"),
        ("my son wants to come back", "third_party"),
        ("if I stop", "conditional"),
        ("maybe I'll come back", "uncertain"),
        ("I'd like to come back. Actually no, ignore that", "retracted"),
        ("yes but please stop", "mixed_intents"),
        ("yes, I've got a new number now it's 07700 900123", "extra_content"),
        ("I feel suicidal", "crisis:suicidal_ideation"),
        ("been self-harming again", "crisis:self_harm"),
        ("took an overdose", "crisis:overdose"),
        ("got a rope in the shed", "crisis:plan_or_means"),
        ("💊💊💊", "crisis:plan_or_means"),
        ("there's no point in living", "crisis:hopelessness"),
        ("this is goodbye", "crisis:goodbye"),
        ("I might hurt someone", "crisis:harm_to_others"),
        ("he's going to hurt me when he gets home", "crisis:abuse_or_danger"),
        ("the voices are telling me to do it", "crisis:voices"),
        ("the crisis team came out last night", "crisis:urgent_help"),
        ("so numb, there is a cord in the cupboard", "crisis:distress_signals"),
    ],
)
def test_reasons_name_what_was_found(text: str, code: str) -> None:
    assert code in read_message(text).reasons


def test_reasons_are_codes_never_message_text() -> None:
    texts = [m.text for m in load_corpus()] + [
        "Zebedee here, my son Zebedee wants to stop and I feel suicidal, ring 07700 900123",
        "negated question third_party",  # words that look like codes stay words
    ]
    for text in texts:
        reading = read_message(text)
        assert set(reading.reasons) <= REASON_CODES, text
        assert len(reading.reasons) == len(set(reading.reasons)), text
    dumped = read_message(texts[-2]).model_dump_json().lower()
    assert "zebedee" not in dumped and "07700" not in dumped


def test_a_crisis_is_never_acted_on_even_with_a_clear_request() -> None:
    for text in (
        "RETURN. i took 30 paracetamol",
        "yes. i want to die",
        "STOP i cant take this any more",
        "Could I come back please? Ive been self harming again and I’m frightened",
        "CONFIRM, goodbye forever",
    ):
        reading = read_message(text)
        assert reading.crisis and reading.intent is Intent.OTHER and reading.needs_person, text


@pytest.mark.parametrize(
    "text",
    [
        # Negated crisis words still alert, on purpose: erring on alerting.
        "I'm not suicidal",
        "I would never kill myself",
        "I'm not going to kill myself dont worry",
        # Third parties in crisis alert too ("from anyone").
        "my son has just told me he wants to kill himself",
        "this is her mum, she's taken an overdose",
        # Close to everyday wording, but a coordinator should look.
        "I'm at breaking point with this housing situation",
        "I've been feeling trapped in the flat with my bad knee",
        "I don't want to stop seeing Sarah, please don't end it",
    ],
)
def test_when_in_doubt_it_alerts(text: str) -> None:
    assert read_message(text).crisis


@pytest.mark.parametrize(
    "text",
    [
        "killing time before my appointment",
        "this weather is killing me",
        "my feet are killing me",
        "dying to see her next week",
        "I'm dead tired",
        "my phone died",
        "my rent is overdue",
        "I finally cut my hair short",
        "I got off at the end of the bus route",
        "I can't go on Tuesday, can we do Wednesday?",
        "I cut myself a slice of cake",
        "I gave up smoking",
        "I nearly killed myself laughing",
        "I'd die for a cuppa",
        "I'm going to the bridge club on Friday",
        "my PIP assessment is next Tuesday, can you help me with the form?",
    ],
)
def test_everyday_idioms_do_not_alert(text: str) -> None:
    assert not read_message(text).crisis


# -- the distress net: a broad second tier under the lexicon --------------------------------

NET = "crisis:distress_net"


@pytest.mark.parametrize(
    "text",
    [
        # Each phrased without any lexicon phrase: only the broad word families catch it.
        "I keep looking at the big drop from my window",
        "it would be easier for everyone if i just went",
        "i did something bad to my arm again",
        "there's no coming back from this",
        "I've booked a hotel room for tonight so no one finds me at home",
        "i can feel myself slipping away",
        "Please don't call the police but I did something",
        "my flatmate put his hands on me again",
        "it hurts too much to keep living",
        "I want to sleep for a very long time",
        "i haven't told anyone but i tried last month",
        "every day I think about just stepping off the kerb",
        "i keep picking at my skin until it bleeds",
        "I'm frightened of myself tonight",
        "my kids would be better off with their dad",
        "i was going to take everything but i rang my sister",
        "I carved her initials into my leg",
        "My head is full of dark stuff",
    ],
)
def test_the_distress_net_catches_what_no_phrase_foresaw(text: str) -> None:
    reading = read_message(text)
    assert reading.crisis and reading.intent is Intent.OTHER
    assert [c for c in reading.reasons if c.startswith("crisis:")] == [NET]


@pytest.mark.parametrize(
    "text",
    [
        "my phone died so I missed your call",
        "just killing time in the library before the group",
        "I'm dead tired after work",
        "I could kill for a coffee right now",
        "dying to see the grandkids at the weekend",
        "I'm cutting down on sugar",
        "got my hair cut, feel like a new woman",
        "they've cut my benefits again",
        "my gas bill is overdue",
        "I live at the end of the road by the school",
        "the end of the month is always tight",
        "my dog died last year but I'm doing ok now",
        "my nan passed away in May, we're all coping",
        "the bridge into town is closed so I'll be late",
        "I've run out of my tablets, can I get a repeat prescription?",
        "I'm so done with this paperwork lol",
        "I've lost my voice so text is better",
        "the voices have been quieter since the new meds",
        "my car battery's dead, can we do a phone call",
        "I nearly died laughing at the panto",
        "I cut my thumb chopping carrots, nothing serious",
        "we had a lovely walk along the cliffs",
        "I've had enough of this rain",
    ],
)
def test_the_distress_net_leaves_everyday_idioms(text: str) -> None:
    reading = read_message(text)
    assert not reading.crisis and NET not in reading.reasons


def test_the_distress_net_never_blocks_a_clear_request() -> None:
    # A false alarm on a request would stop a client's plain RETURN, STOP or YES from working.
    requests = [m.text for m in load_corpus() if m.intent in ACTIONABLE_INTENTS]
    requests += [text for text, _ in INTENT_PROBES]
    requests += [
        "RETURN please",
        "please take me off the list, thanks for everything",
        "I'd like to withdraw, I've found help elsewhere, thank you for all your help",
        "I'd like to come back, things have been hard",
        "Please close my referral, I'm moving to my sister's for good",
        "I need help again, can I come back",
        "I want to end my referral",
    ]
    flagged = [t for t in requests if NET in read_message(t).reasons]
    assert not flagged, "the net flagged a request:\n" + "\n".join(flagged)
    assert NET in REASON_CODES


@pytest.mark.parametrize(
    "unit",
    ["i ", "my ", "not ", "the end of the ", "nearly ", "sorry for ", "my mum ", "i was going to "],
)
def test_a_ten_thousand_character_message_of_repeated_words_is_read(unit: str) -> None:
    # Repeated words are where a regular expression that backtracks would blow up: such a
    # regression hangs here (pytest-timeout fails it). bench/message_reading.py times it.
    text = (unit * (10000 // len(unit) + 1))[:10000]
    reading = read_message(text)
    assert isinstance(reading, MessageReading) and reading.intent in set(Intent)


# -- the model --------------------------------------------------------------------------------


def test_entry_points_agree_with_read_message() -> None:
    for m in load_corpus():
        reading = read_message(m.text)
        assert classify_intent(m.text) is reading.intent
        assert suggests_crisis(m.text) is reading.crisis


def test_needs_person() -> None:
    assert MessageReading(intent=Intent.OTHER).needs_person
    assert MessageReading(intent=Intent.RETURN, crisis=True).needs_person
    assert not MessageReading(intent=Intent.RETURN).needs_person


def test_client_message_carries_its_reading() -> None:
    plain = ClientMessage(
        message_id="m-1", channel=Channel.SMS, received_at=datetime.now(UTC), text="RETURN"
    )
    assert plain.reading is None  # messages signalled before readings existed
    read = plain.model_copy(update={"reading": read_message(plain.text)})
    again = ClientMessage.model_validate_json(read.model_dump_json())
    assert again.reading == read_message("RETURN")
    assert again.reading is not None and again.reading.intent is Intent.RETURN


CRISIS_PROBES = [
    "i keep having thoughts of ending my life",
    "Everything feels pointless and I want out",
    "I dont think I can keep myself safe tonight",
    "ive been hurting myself again sorry",
    "took a load of my mums sleeping pills",
    "swallowed 40 tablets about an hour ago",
    "im thinking of jumping",
    "i wrote a goodbye letter",
    "I’ve made my peace, thank you for trying",
    "i wanna end it",
    "feeling really suicidal tonite",
    "i might not be here tomorrow",
    "I'm done with everything",
    "I have got a plan and the means",
    "thinking about walking in front of a bus",
    "I keep burning my arms with lighters",
    "nobody cares if i live or die",
    "Cant stop thinking about killing myself",
    "i want to go to sleep forever",
    "my partner strangled me last night",
    "my boyfriend locks me in the flat",
    "I am going to kill him",
    "i want to die lol",
    "help",
    "pls help me",
    "I am so tired of everything",
    "I’m a waste of space and everyone would be happier without me",
    "have been self harming more since discharge, can I come back?",
    "ive got a stash of pills",
    "i cant live like this anymore",
    "I wish I didn't exist",
    "I don't want to exist anymore",
    "its too hard i want to give up",
    "might as well be dead",
    "i hate my life i want it over",
    "i am going to overdose",
    "cut myself really deep and it wont stop bleeding",
    "the voices say i should die",
    "i'm scared i'm going to do something to myself",
    "took my whole months supply of meds",
    "i honestly cant see myself getting through tonight",
    "i've been looking up ways to do it",
    "googled how many paracetamol it takes",
    "I think about dying every day",
    "i just want everything to stop",
    "my head is telling me to end it",
    "I've been drinking and I've got the tablets out",
    "i want to be with my mum again, she passed last year and i want to join her",
    "this is the last you'll hear from me",
    "i'm sorry for being such a burden, it ends tonight",
    "cant take much more of this",
    "i’m at the station and i keep thinking about the trains",
    "I slashed my arm open last night",
    "been biting myself til it bleeds",
    "Feel like I'm better off gone",
    "I dont want to carry on",
    "thinking I'll just not wake up one day and that would be fine",
    "I could just end it and nobody would know",
    "my stepdad keeps hitting me",
    "i'm frightened to go home",
    "I keep getting urges to hurt myself",
    "i took too much of my meds by accident i think",
    "I want to die but I'd like to come back to see Jen",
    "yes I'm still waiting, been having suicidal thoughts though",
    "please stop texting me i want to die",
    "i wish i could just fall asleep and never wake up",
    "there's no hope for me",
    "I'm thinking of taking all my pills",
    "im gonna jump off the bridge",
    "the urge to cut is really strong",
    "i keep standing at the top of the stairs wondering",
    "i've started giving my stuff to my sister",
    "I've sorted out who gets the dog",
    "Mum's pills are in the cupboard and I keep thinking about them",
    "can't be arsed with life anymore",
    "What's the point in me",
    "i want to sleep and not wake up x",
    "Honestly I'd rather not be alive",
    "i don't feel like living anymore",
    "the world would be better without me",
    "I feel like I'm drowning and I want to let go",
    "im going to finish it tonight",
    "ive been cutting my legs so no one sees",
    "i feel so low i have been thinking of killing myself",
    "i'm in the bath with a razor",
    "I've been collecting my tablets in a drawer",
    "I'd like to come back please, last week I tried to kill myself",
    "still waiting but I'm not sure I'll still be here by then",
    "My neighbour said he'd stab me",
    "my husband hits the kids and me",
    "He raped me",
    "they're coming to get me and I've locked myself in the bathroom",
    "i hear voices telling me to kill my mum",
    "I want to hurt the people who did this to me",
    "i cant breathe i cant do this",
    "😭😭😭 I can't anymore",
    "no one would care if i was gone",
    "took a bottle of vodka and all my sertraline",
    "everything hurts and I want it to end",
    "Dear Sir, I regret to inform you that I no longer wish to live.",
    "i am not well in my head i think i will do it this time",
    "the devil says i have to die tonight",
    "I have bought a hose for the car",
    "i'm on the M6 bridge",
    "Please tell Jen thank you for everything, I won't need the appointments where I'm going",
    "i done a overdose",
    "i have take many tablet",
    "my life is over",
    "I keep thinking my family would be better without me around",
    "I'm so ashamed, I don't deserve to live",
    "i cut and it was deep, should i go to hospital",
    "Ive relapsed and hurt myself bad",
    "i wants to die now",
    "cant see the point in living no more",
    "I'm worried I'm going to hurt myself tonight",
    "I sat in the garage with the engine running",
    "I think I'm a danger to myself",
    "I'm a danger to others right now",
    "feel like throwing myself off something",
    "I have had thoughts of harming my children",
    "want to stop breathing",
    "i just want to not exist",
    "my ex said he'll come round and kill me",
    "i dont care if i die",
    "i feel like im going to snap and do something bad",
    "every day i wake up disappointed i'm still here",
    "i'm hoping i get hit by a car",
    "the plan is sorted, just waiting for the weekend",
    "I've taken everything in the medicine cabinet",
    "i can feel myself slipping and i'm scared of what comes next",
    "I keep picturing my funeral",
    "been researching the tallest buildings round here",
    "i dont want to do life anymore",
    "I've had it, I'm checking out",
    "tired of being a burden on my mum",
    "i just want to be dead",
    "Tonight I'm going to take the lot",
    "i've got a belt and i know what to do with it",
    "im sat on a wall by the motorway",
    "life is pointless and so am I",
    "i started scratching my arms with a compass again",
    "my kids would be better off with someone else as their mum",
    "there's no way I can keep living like this",
    "im so fucking done with everything",
    "i feel like ending my life",
    "sorry to bother you but I think I'm going to do something silly",
    "i want to die in my sleep",
    "thinking about just driving into a wall",
    "i dont see a future for me",
    "everythings falling apart and i just want it to be over",
    "I can't keep myself safe, I'm scared",
    "just took 20 of my quetiapine",
    "i am going to step in front of a lorry",
    "i've hurt myself and there's blood everywhere",
    "he threatened me with a knife",
    "my partner won't let me leave the house and takes my phone",
    "someone broke into my flat and I'm terrified",
    "I want to kill myself but I'm too scared",
    "i hate myself and i want to disappear",
    "I don't think I'll be around for Christmas",
    "i just want to stop feeling anything permanently",
    "ive been stood on the platform for an hour watching the fast trains",
    "Please don't tell anyone but I've been self-medicating with whatever I can get and I don't "
    "care what happens",
    "I think it would be a relief for everyone",
    "i feel like a ghost, like i'm already gone",
    "not sure how much longer i can hold on",
    "my thoughts are really dark tonight",
    "I've started hoarding my medication again",
    "i want to fall asleep and never wake up again",
    "i have the rope ready",
    "I've been cutting myself every night this week",
    "I tied something round my neck last night but stopped",
    "i keep thinking it would be easier if i wasnt alive",
    "I'm drunk and I have my whole prescription in front of me",
    "can't stop crying, i want to die",
    "He said if I leave he'll kill me",
    "I've been hit again and I'm hiding in the bathroom",
    "I'm having thoughts of stabbing my brother",
    "I'm not going to be a problem for anyone soon",
    "just wanted to say goodbye and thank you",
    "i've left everything to my sister in a letter",
    "Ive been walking round the car park roof",
    "i wish i had the courage to end it",
    "everyone hates me and i'd be doing them a favour",
    "i dont see why i should keep going",
    "I burned my arm with a cigarette on purpose",
    "i took my dads heart tablets",
    "no one would miss me if I was gone",
    "ending it seems like the only way out",
    "I'm in so much pain I just want to die",
    "there's nothing left for me here",
    "I have been thinking about how I would kill myself",
    "today is the day",
    "feel like i'm losing my mind, the voices want me dead",
    "I want to overdose",
    "please help I'm frightened",
    "I cant go on anymore",
    "the urge to self harm is so bad right now",
    "I've been counting out my pills every night deciding",
    "Sorry. I love you all. I can't do it anymore",
    "i want to hurt myself so bad rn",
    "I'm not coming back from this one",
    "What would happen to my cat if I wasn't here",
    "I'm sick of waking up",
    "i think the world is better without people like me",
    "Just found out I'm losing the flat, I've got nothing to live for now",
    "Don't call me, I've made my decision",
    "I took a handful of my mum's diazepam",
    "it's all pointless, i should just go",
    "the bleeding won't stop, I cut too deep",
    "I want to go to sleep forever and not wake up",
    "Im at beachy head",
    "sitting in my car with the hosepipe",
    "I'm going to drink myself to death",
    "if anything happens to me tell my son I'm sorry",
    "I feel so hopeless I could die",
    "I think about jumping every time I cross the bridge",
    "i'm thinking of stopping my meds and taking them all at once",
    "i have been burning myself with a lighter again",
    "I want my life to be over",
    "my ex is threatening to come round and hurt me and the baby",
    "I'm scared of my son, he pushed me down the stairs",
    "I had a knife to my wrist last night",
    "nobody would notice if I vanished",
    "I feel like killing someone",
    "Everything is black, I can't see any way out",
    "I don't want to be alive",
    "sometimes I think about crashing the car on purpose",
    "I don't want to wake up tomorrow",
    "i am writing goodbye letters",
    "I'd rather be dead than go back to that ward",
    "My voices are telling me to jump",
    "Ive taken a lot of tablets and I feel sick",
    "I just want the world to stop so I can get off",
    "I'm a burden on my family",
    "i cant take it anymore i'm done",
    "im scared i will overdose",
    "have decided to end things",
]
CALM_PROBES = [
    "I'm not sure I want to come back",
    "i don't want to be removed from the list please",
    "not right now thanks",
    "do you think I should come back?",
    "how do I withdraw?",
    "is it possible to stop the texts but keep my place?",
    "my husband wants to withdraw",
    "my daughter says she is still waiting",
    "I came back from holiday yesterday",
    "the voices came back a bit but I'm managing",
    "stop the letters please, text only",
    "I'll stop by the office tomorrow",
    "I'm still waiting for my PIP decision",
    "return to sender",
    "yes I'll be there on Thursday",
    "can I change my appointment?",
    "I'm dying to get out of the house",
    "ha I nearly killed myself laughing",
    "the diet is killing me",
    "got a new knife block for the kitchen",
    "the train was cancelled",
    "finished the painting, I'm so pleased",
    "the cat's been sick, can we move the session?",
    "had my hair cut and dyed",
    "I'm going to the bridge club on Friday",
    "spent the day at the end of the pier, lovely",
    "I've been feeling hopeful for the first time in ages",
    "Can't wait to see you next week",
    "not doing too bad thanks",
    "my mate overdid it at the gym lol",
    "I cut back on the drinking like we said",
    "I'd like to come back but not until after my operation",
    "dont stop my sessions please",
    "if I stop now can I come back later?",
    "Will you stop texting if I reply STOP?",
    "my mam says she wants to withdraw me",
    "he's asking if he can come back",
    "I cant stop eating at the moment",
    "the pain came back in my knee",
    "I'll come back with the forms next week",
    "I'm skint till Friday",
    "knackered but good day",
    "the end of the month is always hard for money",
    "cut my finger chopping onions",
    "my dog died last month, still gutted",
    "I'm proper done in after the walk",
    "the meds make me feel dead inside",
    "I killed it at the quiz night!",
    "just got back from the cliffs walk with the group, amazing views",
    "she's a lifesaver, thanks for introducing me",
    "yes still waiting, when will I be seen?",
    "can you stop sending letters to my old address",
    "Please don't remove me, I've just been in hospital",
    "I think my dad wants to come back, he's too shy to text",
    "is it STOP or END to get off the list?",
    "I'd die for a cuppa right now",
    "I'm going to the station to pick up my sister",
    "my mum passed last year, I still miss her",
    "the voices are much quieter since the new meds",
    "I feel like I'm drowning in paperwork",
    "this heat is unbearable",
    "my anxiety has been bad but I'm managing with the breathing stuff",
    "I went to A and E with my son, he broke his wrist playing football",
    "the housing officer said they'd sort it by friday",
    "Rang the GP, they're changing my tablets",
    "I've given my old sofa away to the charity shop",
    "went to the cliff top cafe with my sister, lovely day",
    "Sorry I've not replied, been away",
    "can we do the session at the park instead?",
    "I no longer want to come back",
    "shall I come back when I feel worse?",
    "I don't want the texts any more",
    "My son asked me to say he is still waiting",
    "come back?",
    "I hope you're well, just wanted to update you on my housing",
    "I'm feeling a lot better, I don't think I need to come back",
    "I'm going to be late, the bus broke down",
    "my sister is killing me with all her questions",
    "I'd kill for a holiday",
    "I dyed my hair blue!",
    "I'm over the moon, got my PIP",
    "the end is in sight with the house move",
    "had a blast at the music group",
    "i was dead nervous but it went well",
    "I've got to take my tablets with food now",
    "the river walk was lovely",
    "My mood's been up and down but ok",
    "Could you send me the leaflet about the groups?",
    "I'm cooking with my daughter tonight",
    "my dad's in hospital, I'll need to cancel Thursday",
    "I feel hopeful about the job interview",
    "I was scared of the dentist but it went fine",
    "my grandad died peacefully at the weekend, funeral is next week",
    "I've been taking my tablets every day like you said, feeling better",
    "the dog is driving me mad, nearly lost it at him lol",
    "can't wait for the weekend, going to the seaside",
    "We watched a film about a bridge being built, was actually good",
    "The course has been exhausting but I'm learning loads",
    "I feel alive for the first time in ages",
    "my friend is struggling to find somewhere to live",
    "I'm a bit worried about my new tablets making me sleepy",
    "I'm crying happy tears, got the flat!",
    "My mum is scared of dogs so can we meet somewhere else",
    "It was a killer of a week at work",
    "I'm dying of boredom in this waiting room",
    "Went fishing on the canal, caught nothing",
    "My neighbour's dog died and she's really upset, I've been helping her",
    "I was so low last month but I'm doing much better now",
    "Gardening group is ace, we're growing tomatoes",
    "The doctor says my blood pressure is too high",
    "I'm on my way, the traffic is terrible",
    "ok I'll think about coming back",
    "Why have I not heard anything? Still waiting!!",
    "I'm going to kill my brother when he gets home, he ate my birthday cake lol",
    "the new tablets are working, I feel much more settled",
    "I got a ticket for the cup final, I'm buzzing",
    "Mum's funeral went as well as it could, thank you for your card",
    "I'm tired after the volunteering but it's good tired",
    "the bridge on the high street is closed so I'll be late",
    "I've lost my bus pass, can you help me get a new one?",
    "My psychiatrist reduced my dose, feeling ok so far",
    "The food bank was really helpful",
    "I'm so sorry I forgot our session",
    "I'd like to talk about my benefits next time",
    "I was on the train to Leeds, signal was bad",
    "my flat is freezing, the heating's broken",
    "The group walk along the cliffs was brilliant",
    "I had a panic attack at the shops but I used the breathing",
    "I'm going to my nan's for the weekend",
    "can you tell Sarah I said thanks",
    "I've been clean from drink for 2 months!",
    "I'm dead proud of my son, he passed his driving test",
    "work is killing me but I'm managing",
    "Not sure, can someone ring me?",
    "I might come back in a bit",
    "Does my son need to reply for me?",
    "Stop? What do you mean?",
    "I don't think I'm still waiting, I thought I'd been discharged",
    "yes, but I have a question about the wait",
    "my wife wants to come back but she's nervous",
    "I'm dying to tell you about my new job",
    "the film had a sad ending but I liked it",
    "I'm tired but happy, long walk today",
    "Thanks for the help with the council, it's sorted",
    "My medication review is next week, can we talk about it?",
    "I'm scared about the PIP assessment but my sister's coming with me",
    "Lost my keys again! Typical",
    "I have so much energy since the new tablets",
    "My cat is poorly, at the vets",
    "I've been hurt by what my brother said but we talked it through",
    "I'm going to the quiz tonight, wish me luck",
    "my back is killing me after gardening",
    "That session at the beach was the best one yet",
    "my partner and I are getting on much better",
    "I've finally sorted my bank account out",
    "Just a heads up I'm moving house next month, same phone number",
    "So sorry, I overslept and missed the bus",
    "I've started cooking proper meals again",
    "I'm nervous about the group but I'll try",
    "can I bring my friend to the music session?",
    "No I'm not still waiting, please check",
    "Do I have to confirm?",
    "What happens if I don't want to come back?",
    "my daughter would like to stop",
    "Yes but can I also change my practitioner?",
    "Not ready to come back yet but thank you",
    "I'll come back to you tomorrow about the date",
    "Can I stop? I'm not sure",
    "stop the reminders please I don't need them",
    "I'm not sure if I'm still on the list",
]
INTENT_PROBES = [
    ("Id like to come back if poss", Intent.RETURN),
    ("could I come back to see Lisa? Things are hard again", Intent.RETURN),
    ("I want to restart my sessions please", Intent.RETURN),
    ("can i come back to the service please x", Intent.RETURN),
    ("please could I see Sarah again", Intent.RETURN),
    ("i would like some more sessions please", Intent.RETURN),
    ("Please withdraw my referral", Intent.STOP),
    ("I want to withdraw please", Intent.STOP),
    ("remove me from the list please", Intent.STOP),
    ("stop x", Intent.STOP),
    ("please stop, I've found another service, thank you", Intent.STOP),
    ("yes I'm still interested thank you", Intent.STILL_WAITING),
    ("still want to be seen yes", Intent.STILL_WAITING),
    ("Yes please 😊", Intent.STILL_WAITING),
    ("confirm 👍", Intent.CONFIRM),
    ("please can i come back to see tom", Intent.RETURN),
    ("I'd like to be put back on Nina's list", Intent.RETURN),
    ("i want to come back pls i miss the group", Intent.RETURN),
    ("could I come back and work with Jo again?", Intent.RETURN),
    ("I wish to withdraw from the service", Intent.STOP),
    ("Please remove me, thank you for everything", Intent.STOP),
    ("can you please withdraw me", Intent.STOP),
    ("yep still interested", Intent.STILL_WAITING),
    ("still waiting x", Intent.STILL_WAITING),
    ("I confirm I wish to withdraw", Intent.CONFIRM),
    ("stop", Intent.STOP),
    ("hi there, would be good to come back and see Mo again", Intent.RETURN),
    ("Is there any chance I could come back?", Intent.RETURN),
    ("Can I come back in please", Intent.RETURN),
    ("i'd like to restart please", Intent.RETURN),
    ("can you take me off your list now please", Intent.STOP),
    ("I'd like to be removed from the waiting list, I've moved to Wales", Intent.STOP),
    ("yes still interested 🙂", Intent.STILL_WAITING),
    ("YES STILL WAITING", Intent.STILL_WAITING),
    ("Confirmed thanks", Intent.CONFIRM),
    (
        "Good afternoon, I would like to return to the service please. Kind regards, Mrs Patel",
        Intent.RETURN,
    ),
    ("Hello. May I come back?", Intent.RETURN),
    ("i wanna come bk to see jane again pls", Intent.RETURN),
    ("Please remove me from your list. Thank you.", Intent.STOP),
    ("I want to leave the service now thanks", Intent.STOP),
    ("Still waiting, thanks for asking", Intent.STILL_WAITING),
    ("Yes I am", Intent.STILL_WAITING),
    ("i confirm", Intent.CONFIRM),
    ("I'd like to come back, I've been struggling a bit", Intent.RETURN),
    ("can I come back please? I feel ready to start again", Intent.RETURN),
    ("hi, can i come back to see Sue", Intent.RETURN),
    ("I'd like to come off your waiting list please. Many thanks", Intent.STOP),
    ("please withdraw me from the list", Intent.STOP),
    ("Yes I'm still here thanks", Intent.STILL_WAITING),
    ("still interested, thank you", Intent.STILL_WAITING),
    ("CONFIRMED", Intent.CONFIRM),
    ("Hi I'm ready to come back now please", Intent.RETURN),
    ("Please could I come back to the service, I'm finding things hard", Intent.RETURN),
    ("Can I come back and see Sam?", Intent.RETURN),
    ("i want to come back to the group and see Anna again", Intent.RETURN),
    ("May I return please?", Intent.RETURN),
    ("Please take me off the list, I've moved away", Intent.STOP),
    ("I would like to withdraw, thanks for your help", Intent.STOP),
    ("unsubscribe please", Intent.STOP),
    ("yes please, still waiting", Intent.STILL_WAITING),
    ("Yes I'm still interested", Intent.STILL_WAITING),
    ("Yes, confirm", Intent.CONFIRM),
    ("I confirm my withdrawal", Intent.CONFIRM),
    ("Could I come back please? Things have got hard again", Intent.RETURN),
    ("I'd like to come back and see Priya if possible", Intent.RETURN),
    ("can i come bk to the service plz", Intent.RETURN),
    ("I want to come back, I'm ready", Intent.RETURN),
    ("Please take me off your list", Intent.STOP),
    ("I would like to withdraw from the service, thank you", Intent.STOP),
    ("Withdraw me please", Intent.STOP),
    ("Yes I'm still waiting for an appointment", Intent.STILL_WAITING),
    ("yes still interested thanks", Intent.STILL_WAITING),
    ("confirm thanks", Intent.CONFIRM),
]


# -- probes: written after the rules, phrased afresh -------------------------------------------
# Seven batches of messages were written blind (never shown to the rules first) while tuning;
# each batch's misses widened the lexicon by class, and the batches are kept here so that no
# gap they found reopens. See the module docstring of models/messages.py for what is not caught.


@pytest.mark.parametrize("text", CRISIS_PROBES)
def test_probe_crisis_messages_alert(text: str) -> None:
    reading = read_message(text)
    assert reading.crisis and reading.intent is Intent.OTHER


@pytest.mark.parametrize("text", CALM_PROBES)
def test_probe_other_messages_do_not_alert_nor_act(text: str) -> None:
    reading = read_message(text)
    assert not reading.crisis and reading.intent is Intent.OTHER


@pytest.mark.parametrize(("text", "intent"), INTENT_PROBES)
def test_probe_requests_are_acted_on(text: str, intent: Intent) -> None:
    reading = read_message(text)
    assert reading.intent is intent and not reading.crisis


@pytest.mark.parametrize(
    "wrap",
    [
        lambda t: "no, " + t,
        lambda t: t + ", not yet",
        lambda t: "My son says: " + t,
        lambda t: "this is his mum. " + t,
        lambda t: "maybe " + t,
        lambda t: t + " - never mind",
        lambda t: "do I have to say " + t + "?",
        lambda t: "please don't. " + t,
        lambda t: t + " (sorry, wrong number)",
    ],
    ids=[
        "no",
        "not-yet",
        "reported",
        "writer-is-mum",
        "hedge",
        "retracted",
        "question",
        "refusal",
        "wrong-number",
    ],
)
def test_doubt_around_any_clear_request_sends_it_to_a_person(wrap: Callable[[str], str]) -> None:
    # Every request the corpus and the probes act on, wrapped in doubt, is acted on no more.
    requests = [m.text for m in load_corpus() if m.intent in ACTIONABLE_INTENTS]
    requests += [text for text, _ in INTENT_PROBES]
    acted = [wrap(t) for t in requests if read_message(wrap(t)).intent is not Intent.OTHER]
    assert not acted, "acted on despite the doubt:\n" + "\n".join(acted)


def test_a_second_request_beside_a_clear_one_sends_it_to_a_person() -> None:
    requests = [m.text for m in load_corpus() if m.intent in ACTIONABLE_INTENTS]
    requests += [text for text, _ in INTENT_PROBES]
    acted = []
    for text in requests:
        other = (
            ", but I'd like to come back"
            if classify_intent(text) is Intent.STOP
            else (" but please stop")
        )
        if classify_intent(text + other) is not Intent.OTHER:
            acted.append(text + other)
    assert not acted, "two requests acted on:\n" + "\n".join(acted)
