"""Sentence lists of the embedded corpora (English, written for this repository).

Each corpus mixes *neutral* lines shared by every emotion with *emotion-congruent* lines,
so the words carry some valence (paper 4's ASR-to-text channel has something to use)
without giving the class away. The cross-corpus variant uses its own, disjoint lines:
a small fixed set of neutral statements said in every emotion (as in EmoDB and RAVDESS)
plus a few congruent ones.

``LEXICAL_VALENCE`` gives the valence a listener reads from the words alone
(-1 negative, 0 neutral, +1 positive); the simulated raters use it.
"""

from __future__ import annotations

NEUTRAL_SHARED: list[str] = [
    "The meeting starts at ten tomorrow morning.",
    "I left the keys on the kitchen table.",
    "We need to pick up some bread on the way home.",
    "The train to the city leaves every half hour.",
    "She said she would call back after lunch.",
    "There is a letter for you on the desk.",
    "The shop on the corner closes at six.",
    "I think the report is due next Thursday.",
    "He moved into the flat across the street.",
    "The weather will change later this week.",
    "Can you tell me where the station is?",
    "We parked the car behind the old library.",
    "The package arrived this afternoon.",
    "My brother works at the hospital downtown.",
    "They painted the fence last weekend.",
    "I have to return these books on Monday.",
    "The bus was a few minutes late again.",
    "Put the boxes next to the front door.",
    "Your appointment has been moved to Friday.",
    "We talked about it on the phone yesterday.",
    "The coffee machine is on the second floor.",
    "I was reading the newspaper when you called.",
    "They are building a new bridge over the river.",
    "The form needs two signatures at the bottom.",
    "She usually walks the dog in the evening.",
    "I will send you the address by message.",
    "The kids are playing in the garden.",
    "We have to be at the airport by seven.",
    "There are three chairs in the waiting room.",
    "He asked me what time the film starts.",
    "The printer on this floor is out of paper.",
    "I bought a new lamp for the living room.",
    "Turn left at the second traffic light.",
    "The office will be closed on the holiday.",
    "We had soup and salad for dinner.",
    "Her sister lives near the harbour.",
    "You can leave your coat on the hook.",
    "The results will be posted next week.",
    "I saw him at the market this morning.",
    "The windows face the courtyard.",
]

CONGRUENT: dict[str, list[str]] = {
    "angry": [
        "I told you a hundred times to stop doing that.",
        "This is completely unacceptable.",
        "Don't you dare walk away from me.",
        "You lied to me again and I am sick of it.",
        "Who gave you the right to read my mail?",
        "I have had enough of your excuses.",
        "Get out of my office right now.",
        "You broke it and you didn't even say sorry.",
        "Stop interrupting me when I am talking.",
        "That is the worst service I have ever had.",
        "How could you be so careless with my money?",
        "I am not going to put up with this any longer.",
        "You always blame everyone else for your mistakes.",
        "Why is nobody listening to a word I say?",
        "They cancelled my flight without telling me.",
        "You promised and you let me down again.",
        "Give me back my phone this minute.",
        "I waited two hours and nobody showed up.",
        "That was a stupid thing to do.",
        "Don't touch my things ever again.",
        "Enough! I don't want to hear another word.",
        "You ruined the whole evening for everyone.",
        "This is the third time they overcharged us.",
        "I am furious about what you did.",
        "Who left this terrible mess in the kitchen?",
        "You had one job and you messed it up.",
        "Stop lying to my face.",
        "I hate it when you treat me like a child.",
        "They took the money and disappeared.",
        "Do not ever speak to me like that again.",
    ],
    "happy": [
        "I can't believe we actually won the tickets.",
        "This is the best day I have had in years.",
        "We're going to have a baby!",
        "I got the job, they called this morning!",
        "Thank you so much, I love it.",
        "It's wonderful to see you again.",
        "We finally bought the house by the sea.",
        "Guess what, I passed the exam!",
        "What a beautiful surprise this is.",
        "Everyone loved the dinner you made.",
        "I'm so proud of you.",
        "We're getting married in the spring!",
        "That was the funniest film I have ever seen.",
        "The holiday was absolutely perfect.",
        "You made my whole week with that news.",
        "Let's celebrate tonight, drinks are on me.",
        "I feel fantastic today.",
        "She said yes!",
        "Our team won the championship.",
        "This cake is delicious, thank you.",
        "I'm thrilled that you could come.",
        "What a lovely gift, you shouldn't have.",
        "We did it, we really did it!",
        "I have never been so happy in my life.",
        "The puppy is so cute and playful.",
        "It worked, the whole thing worked!",
        "You look amazing in that dress.",
        "They gave me a promotion and a raise.",
        "Summer is here and the sun is shining.",
        "I love spending time with all of you.",
    ],
    "sad": [
        "I miss the way things used to be.",
        "She passed away last night.",
        "Nobody came to my birthday party.",
        "I don't think I can do this anymore.",
        "We had to put the old dog to sleep.",
        "He left and he's not coming back.",
        "I lost my job today.",
        "Everything I tried has gone wrong.",
        "I feel so alone in this city.",
        "They sold the house I grew up in.",
        "It's been a year and it still hurts.",
        "I never got the chance to say goodbye.",
        "My best friend is moving far away.",
        "I'm sorry, I failed again.",
        "The doctor said there is nothing more to do.",
        "I wish you had told me sooner.",
        "We used to be so close.",
        "Nothing seems to matter anymore.",
        "I cried all the way home.",
        "Grandpa doesn't remember my name now.",
        "The letter said they rejected my application.",
        "I feel like I let everyone down.",
        "It was the last time I saw her.",
        "The garden is empty without him.",
        "I can't sleep since it happened.",
        "All those years, and it just ended.",
        "My cat has been missing for a week.",
        "I'm tired of pretending everything is fine.",
        "Nobody even noticed that I was gone.",
        "We lost the baby.",
    ],
    "neutral": [],  # neutral speech uses the shared lines
}

# Cross-corpus variant: disjoint lines, a small fixed neutral set (as in acted corpora).
XCORPUS_NEUTRAL_SHARED: list[str] = [
    "Kids are talking by the door.",
    "Dogs are sitting by the door.",
    "The cloth is lying on the fridge.",
    "Tomorrow I will bring it back.",
    "It will be in the place where we always store it.",
    "The paper is lying on the wooden shelf.",
    "We just carried it upstairs and now we are going down again.",
    "They will close it on Wednesday.",
    "In seven hours it will be done.",
    "The blue folder is under the lamp.",
    "Someone moved the ladder to the shed.",
    "It is eleven o'clock.",
    "The lift goes to the fourth floor.",
    "Those are the spare cups for the guests.",
    "He sold the bicycle last spring.",
]

XCORPUS_CONGRUENT: dict[str, list[str]] = {
    "angry": [
        "Leave me alone!",
        "This is outrageous.",
        "You have wasted my whole afternoon.",
        "I demand to speak to the manager.",
        "Keep your hands off my bag.",
        "You never listen, not once.",
        "What a pathetic excuse.",
        "I'm done with your nonsense.",
        "Shut that door and get out.",
        "Nobody treats me like this.",
    ],
    "happy": [
        "Oh, this is marvellous!",
        "Hooray, we are on holiday.",
        "You are the sweetest person I know.",
        "I adore this song.",
        "What a glorious morning.",
        "We will have so much fun.",
        "This news made my day.",
        "I'm delighted to meet you.",
        "Look, the roses are blooming.",
        "Best party ever!",
    ],
    "sad": [
        "It is all over now.",
        "I feel so empty.",
        "Why did it have to end like this?",
        "He forgot about me.",
        "The house is so quiet without her.",
        "I have no one left to talk to.",
        "My heart is broken.",
        "We will never see him again.",
        "I was so lonely that winter.",
        "It was all my fault.",
    ],
    "neutral": [],
}

_VALENCE_OF_CLASS = {"angry": -1.0, "happy": 1.0, "sad": -1.0, "neutral": 0.0}

LEXICAL_VALENCE: dict[str, float] = {
    **{s: 0.0 for s in NEUTRAL_SHARED + XCORPUS_NEUTRAL_SHARED},
    **{s: _VALENCE_OF_CLASS[e] for e, lines in CONGRUENT.items() for s in lines},
    **{s: _VALENCE_OF_CLASS[e] for e, lines in XCORPUS_CONGRUENT.items() for s in lines},
}
"""Valence of each sentence's words alone: -1, 0 or +1."""


def _check_disjoint() -> None:
    main = set(NEUTRAL_SHARED).union(*map(set, CONGRUENT.values()))
    cross = set(XCORPUS_NEUTRAL_SHARED).union(*map(set, XCORPUS_CONGRUENT.values()))
    overlap = main & cross
    if overlap:  # pragma: no cover - a guard for future edits
        raise AssertionError(f"main and cross-corpus sentences overlap: {sorted(overlap)}")


_check_disjoint()
