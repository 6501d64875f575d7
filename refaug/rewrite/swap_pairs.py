"""Which noun phrases of a text may swap places, how their relation is named, and pronouns.

Any two entity nouns may swap: subjects, objects, prepositional objects, across clauses
("A man cuts a pizza to serve with salad" -> "A man cuts a salad to serve with pizza").
Not entities: places in the frame ("on the left"), attribute words, the "of" side of a part
("half of sandwich"), and compound modifiers (they move with their noun).

Animacy is checked where it matters: an inanimate noun must not become the agent of an
action ("umbrella holding a man"), whereas "car next to the guy" is a fine foil. What a
person wears or holds, and a body part, swap only where the two are placed side by side
("a backpack behind a boy" -> "a boy behind a backpack"; never "shirt wearing man" or "a
hat with a man"); a place swaps only with a place; a thing "with" another only between two
COCO objects ("a bus with a car"), people and animals always ("a woman with a dog").

Example:
    >>> from refaug.nlp import load_nlp  # doctest: +SKIP
    >>> [t.text for t in entity_heads(load_nlp()("cup on the table"))]  # doctest: +SKIP
    ['cup', 'table']
"""

from __future__ import annotations

from spacy.tokens import Doc, Token

from refaug import lexicon as lx
from refaug.rewrite.grammar import SUBJECT_DEPS, Edit, is_plural, same_case

# Objects of a preposition that are places in the frame, not entities ("on the left").
NOT_ENTITIES = frozenset(
    {"left", "right", "middle", "center", "centre", "front", "back", "top", "bottom", "side",
     "corner", "edge", "end", "background", "foreground", "row", "picture", "photo", "image",
     "frame", "pic", "distance", "air", "sky", "water", "hand", "hands", "mouth", "head",
     "camera", "us", "way", "part", "half", "piece", "slice", "bit", "lot", "pair", "group",
     "bunch", "couple", "kind", "type", "color", "colour", "shot", "view", "scene", "one",
     "ones", "other", "others", "rest", "number", "area", "spot", "line", "style", "time"}
)  # fmt: skip
COMPLEX_PREPOSITION_NOUNS = frozenset(
    {"top", "front", "side", "left", "right", "middle", "back", "bottom", "center", "edge",
     "corner", "end", "rear", "inside", "outside", "out"}
)  # fmt: skip
WORN = lx.CLOTHING | lx.ACCESSORIES | {
    "hair", "shirt", "jacket", "tail", "uniform", "outfit", "clothes", "clothing", "costume",
    "hoody", "sweatshirt", "bikini", "belt", "gown", "robe", "wig", "goggles", "bandana",
    "sneakers", "shorts", "pants", "jeans", "coat", "trousers", "tshirt", "tee", "overalls",
    "pajamas", "swimsuit", "wetsuit", "mitt", "glove", "gloves", "bow", "skis", "ski",
    "beanie", "necktie", "bracelet", "ring", "sandals", "heels", "cape", "hoodie", "visor",
    "headphones", "lanyard", "badge", "apron", "blazer", "cardigan", "leggings", "tank",
}  # fmt: skip
# The lexicon's people words and those it lacks (its PERSON_NOUNS covers the common ones).
PEOPLE = lx.PERSON_NOUNS | frozenset(
    {"teen", "teens", "spectator", "spectators", "skater", "snowboarder", "passenger",
     "pedestrian", "customer", "infant", "grandma", "grandpa", "grandmother", "grandfather",
     "husband", "wife", "uncle", "aunt", "athlete", "coach", "referee",
     "vendor", "tourist", "policeman", "fireman", "nurse", "doctor", "clown", "cowboy",
     "female", "male", "youngster", "kiddo", "fellow", "ma", "mama", "papa",
     "baseman", "fielder", "hitter", "goalie", "jockey"}
)  # fmt: skip
# Places that hold a scene: they swap only with each other ("a zoo next to zebra in a
# giraffe" is no foil; "in the kitchen near the hall" -> "in the hall near the kitchen" is).
PLACES = frozenset(
    {"room", "kitchen", "bathroom", "bedroom", "hall", "hallway", "zoo", "field", "street",
     "road", "snow", "grass", "water", "ocean", "sea", "beach", "park", "yard", "forest",
     "dirt", "sand", "city", "town", "airport", "station", "restaurant", "store", "shop",
     "market", "court", "stadium", "lot", "parking", "sidewalk", "floor", "ground",
     "shade", "sun", "pen", "enclosure", "tarmac", "runway", "stage", "position", "living", "area", "house",
     "building", "lake", "river", "mountain", "hill", "hillside", "slope", "track", "highway",
     "intersection", "corner", "crowd", "background", "foreground", "forground", "world"}
)  # fmt: skip
# Verbs whose object is a text, not an object of the scene ("a sign that says stop").
TEXT_VERBS = frozenset({"say", "read", "spell", "write", "print", "label", "call", "name"})
# Parts of a body or of a thing: they may trade places with another object in a
# prepositional role ("sits on its hind legs ... at the plant"), never take a lead role
# ("a hand holding a phone" -> "a phone holding a hand").
PARTS = frozenset(
    {"arm", "arms", "leg", "legs", "hand", "hands", "foot", "feet", "head", "face", "neck",
     "nose", "ear", "ears", "eye", "eyes", "mouth", "tail", "trunk", "beak", "back", "knee",
     "knees", "shoulder", "shoulders", "teeth", "tooth", "hair", "butt", "snout", "wing",
     "wings", "paw", "paws", "horn", "horns", "mane", "finger", "fingers", "lap", "chest",
     "belly", "body", "lip", "lips", "beard", "handle", "handles", "wheel", "wheels", "zipper",
     "zippers", "label", "trim", "lid", "strap", "straps", "button", "buttons", "stripe",
     "stripes", "spots", "logo", "frosting", "topping", "toppings", "crust", "sleeve", "torso",
     "engine", "squares", "dots", "pattern", "design", "writing", "letters", "numbers",
     "sleeves", "collar", "pocket", "screen", "tip"}
)  # fmt: skip
# Compound or adjective modifiers that make an animal word a thing ("teddy bear").
TOY_WORDS = frozenset(
    {"teddy", "toy", "stuffed", "plush", "statue", "fake", "cartoon", "painted", "figurine", "hot",
     "ceramic", "plastic", "wooden", "inflatable", "paper", "sticker", "picture", "drawing"}
)  # fmt: skip
# Prepositions that only place two things side by side: what a person wears or carries may
# trade places with them there ("a backpack behind a boy" -> "a boy behind a backpack").
BESIDE_WORDS = frozenset(
    {"behind", "near", "beside", "next", "adjacent", "by", "between", "front", "left", "right", "across",
     "past", "beyond", "opposite", "towards", "toward", "close", "closest", "nearest"}
)  # fmt: skip
# Prepositions of support or containment: a person and a thing do not trade places across
# them ("kid on bench" -> "bench on kid"; "a backpack behind a boy" does; "the cat on the
# chair" -> "the chair on the cat" and "the man on the horse" -> "the horse on the man" do).
SUPPORT_WORDS = frozenset({"on", "in", "inside", "atop", "onto", "into", "upon", "aboard", "top"})
# Verbs an inanimate subject takes too ("a tree standing behind a baby elephant").
POSTURE_VERBS = frozenset({"stand", "sit", "lie", "lay", "rest", "lean", "hang", "stay", "park"})
LEAD_DEPS = frozenset({"ROOT", "nsubj", "nsubjpass", "appos"})
# Countable scene objects (COCO's): a thing "with" another swaps only between two of these
# ("a bus with a car" -> "a car with a bus"; not "stacked pillows with a bed").
COUNTABLE = (
    frozenset(lx.HEAD_CATEGORIES) | frozenset(c for c in lx.HEAD_CATEGORIES.values() if " " not in c)
) - {"slice", "screen", "tie", "board", "engine", "flower", "luggage", "circle", "square",
     "triangle", "star", "hexagon", "diamond", "rectangle", "oval"}  # fmt: skip
# Objects of a scene that are no COCO category but head an expression of their own ("a towel
# on a chair", "pillow on couch"): they may take the referent's place in a landmark swap.
SCENE_THINGS = frozenset(
    {"pillow", "pillows", "cushion", "towel", "blanket", "flag", "sign", "sticker", "candle",
     "napkin", "lamp", "plant", "box", "basket", "plate", "tray", "bag", "guitar", "trumpet",
     "jar", "can", "cone", "bucket", "pot", "pan", "ball", "toy", "doll", "fries", "fry", "egg",
     "tomato", "lemon", "onion", "potato", "cucumber", "muffin", "bun", "cookie", "pastry",
     "croissant", "bagel", "pepper", "strawberry", "lime", "mushroom", "pickle", "helmet",
     "hat", "shoe", "shoes", "jacket", "coat", "rider", "newspaper", "flower", "flowers",
     "magazine", "paper", "papers", "card", "cards", "lantern", "candles", "balloon",
     "banner", "dryer"}
)  # fmt: skip
MALE = frozenset(
    {"man", "men", "boy", "boys", "guy", "guys", "gentleman", "dude", "dad", "father", "son",
     "brother", "groom", "husband", "king", "he", "him"}
)  # fmt: skip
FEMALE = frozenset(
    {"woman", "women", "girl", "girls", "lady", "ladies", "gal", "mom", "mother", "daughter",
     "sister", "bride", "wife", "queen", "she", "her"}
)  # fmt: skip
# Personal pronouns: (gender, plural) -> form by role.
_PRONOUNS = {
    ("m", False): {"subj": "he", "obj": "him", "poss": "his", "refl": "himself"},
    ("f", False): {"subj": "she", "obj": "her", "poss": "her", "refl": "herself"},
    ("n", False): {"subj": "it", "obj": "it", "poss": "its", "refl": "itself"},
    ("p", True): {"subj": "they", "obj": "them", "poss": "their", "refl": "themselves"},
}
_PRONOUN_FEATURES = {
    form: (key, role) for key, forms in _PRONOUNS.items() for role, form in forms.items()
}


def entity(token: Token | None) -> bool:
    """A noun that names an object of the scene (not a place, attribute or part word)."""
    return (
        token is not None
        and token.pos_ in ("NOUN", "PROPN")
        and (token.dep_ not in ("compound", "npadvmod", "nmod", "poss") or telegraphic_agent(token))
        and token.lower_ not in NOT_ENTITIES
        and lx.attribute_kind(token.lower_) in (None, "material", "size")
        and not (token.lower_.endswith("ing") and token.tag_ == "NN")  # "a bus ridding in"
        and not (token.dep_ == "pobj" and token.head.lower_ == "of" and not _place_of(token))
        and not (container_of(token) and _part(token))  # "the back of the bus"
        and not (token.dep_ == "conj" and token.head.pos_ in ("VERB", "AUX"))  # "and swats"
        and not (token.dep_ in ("dobj", "oprd") and token.head.lemma_.lower() in TEXT_VERBS)
        and not any(c.dep_ == "det" and c.lower_ == "no" for c in token.children)
        and not (token.dep_ == "pobj" and token.head.lower_ == "between")  # a pair, not a slot
        and not _before_noun(token)  # "the brown teddy bear" parsed as teddy/nsubj bear/ROOT
        and not (token.dep_ == "attr" and not _presented(token))
    )


def telegraphic_agent(token: Token) -> Token | None:
    """ "man holding child" (man/npadvmod holding/amod child/ROOT): the participle after the
    noun, which the parser did not make the noun's."""
    doc = token.doc
    if token.dep_ not in ("npadvmod", "nmod") or token.i + 1 >= len(doc):
        return None
    following = doc[token.i + 1]
    if following.tag_ != "VBG" or following.pos_ != "VERB":
        return None
    if any(t.head != token for t in doc[: token.i]):
        return None  # "a clear plastic container holding carrots": "a" is not the container's
    return following


def _presented(token: Token) -> bool:
    """ "There is a laptop", "this is the black laptop": a predicate noun that names an object
    (not "the lady is a fan", whose two nouns are one person)."""
    verb = token.head
    if any(c.dep_ == "expl" for c in verb.children):
        return True
    subjects = [c for c in verb.children if c.dep_ in SUBJECT_DEPS]
    main = verb.dep_ == "ROOT"
    return main and bool(subjects) and all(c.lower_ in ("this", "it") for c in subjects)


def _before_noun(token: Token) -> bool:
    """A noun right before another noun: a compound the parser split ("teddy | bear")."""
    doc = token.doc
    if token.i + 1 >= len(doc):
        return False
    following = doc[token.i + 1]
    if token.lower_ in TOY_WORDS:
        return True  # "the brown teddy bear" parsed as teddy/nsubj bear/VERB
    if following.pos_ not in ("NOUN", "PROPN") or following.lower_ in NOT_ENTITIES:
        return False
    if following.lower_.endswith("ing") or following.dep_ in ("acl", "relcl", "npadvmod"):
        return False  # "a zebra standing behind a giraffe" (standing/NOUN)
    return following.head == token or token.head == following or token.head == following.head


def container_of(token: Token) -> bool:
    """ "a bottle of beer": the noun has an "of" phrase, which moves with it in a swap."""
    return any(c.dep_ == "prep" and c.lower_ == "of" for c in token.rights)


def _place_of(token: Token) -> bool:
    """ "on top of the laptop": the object of a complex preposition is an entity."""
    return token.head.head.lower_ in COMPLEX_PREPOSITION_NOUNS


def entity_heads(doc: Doc) -> list[Token]:
    """The entity nouns of ``doc``, in order."""
    return [t for t in doc if entity(t)]


def swappable(first: Token, second: Token, *, same_animacy: bool = True) -> bool:
    """Whether swapping the two changes the meaning and keeps a sensible reading.

    Not: two conjuncts ("a man and a woman" says the same as "a woman and a man", also when
    the parser did not join them: :func:`_written_conjuncts`), the
    same word twice in the same form, a person and what they wear or carry ("man with a
    hat" -> "hat with a man"; "a backpack behind a boy" may swap), a part in a lead role
    ("a hand holding a phone"), or a thing and what it has ("a bed with pillows") unless
    both are people or animals ("a woman with a dog") or both countable objects ("a plate
    with a donut" -> "a donut with a plate").
    """
    if second in first.conjuncts or _written_conjuncts(first, second):
        return False
    if first.lower_ == second.lower_ and first.dep_ == second.dep_:
        return False
    if not same_animacy:
        return True
    if second.dep_ == "pobj" and second.head.lower_ == "with" and second.head.head == first:
        return _with_swappable(first, second)
    if _owner_pronoun_after(first, second):
        return False  # "horse with girl riding it" -> "girl with horse riding her"
    objects = relation_of(first, second) == "objects"
    if objects and animate(first) != animate(second) and not _side_by_side(first, second):
        return False  # "the dirt stands in a brown elephant"
    person_and_thing = animate(first) != animate(second) and (_person(first) or _person(second))
    if person_and_thing and _supported(first, second):
        return False  # "kid on bench" is no "bench on kid" (the landmark swap's "bench with kid on it")
    if _place(first) != _place(second):
        return False  # "a zoo next to zebra in a giraffe"
    if _place(first) and (first.dep_ != "pobj" or second.dep_ != "pobj"):
        return False  # "eating field in a grass"; "in the kitchen near the hall" swaps
    return not any(_worn_clash(one, two) for one, two in ((first, second), (second, first)))


def _written_conjuncts(first: Token, second: Token) -> bool:
    """Two nouns joined by "and" as written, whatever the parse ("man in red shirt and blue
    jeans", parsed jeans/conj>man: "blue jeans and red shirt" says the same)."""
    one, two = sorted((first, second), key=lambda t: t.i)
    start = min([two.i, *(c.left_edge.i for c in two.lefts)])
    between = one.doc[one.i + 1 : start]
    return len(between) > 0 and all(t.lower_ in ("and", "or", "&", ",", "n") for t in between)


def _person(token: Token) -> bool:
    return animate(token) and token.lemma_.lower() not in lx.ANIMAL_NOUNS


def _supported(one: Token, two: Token) -> bool:
    """Whether one of the two holds or carries the other ("kid on bench", "man in boat"):
    a support word on the path between them and no side-by-side word."""
    words = {t.lower_ for t in _path_between(one, two)}
    return bool(words & SUPPORT_WORDS) and not words & BESIDE_WORDS


def _side_by_side(first: Token, second: Token) -> bool:
    return _beside(first, second) and "dobj" not in (first.dep_, second.dep_)


def _worn_clash(one: Token, two: Token) -> bool:
    """Whether ``two`` is a part, or worn or held, in a way that the swap makes nonsense."""
    if _worn(two) and not _worn(one):
        verbs = _agent_verbs(one)
        if any(v.lemma_.lower() not in ("be", *POSTURE_VERBS) for v in verbs):
            return True  # "a shirt wearing a teddy bear"
    if _part(two) and not _part(one) and (one.dep_ in LEAD_DEPS or two.dep_ in LEAD_DEPS):
        return True  # "a phone holding a hand"
    if animate(one) and not animate(two) and _worn(two) and (_held(two) or not _beside(one, two)):
        return True  # "the boy who is holding a bat behind the girl"
    if _worn(one) and _worn(two) and _held(one) and _held(two):
        # "a woman in a white shirt with a black bag": not "in a bag"
        return one.head.lower_ != two.head.lower_ and not (_clothing(one) and _clothing(two))
    if _worn(two) and not _worn(one) and not _owned(two) and not _beside(one, two):
        # "a woman in a birthday cake ... holding a yellow shirt"
        return any(animate(t) for t in one.doc if t.pos_ in ("NOUN", "PROPN"))
    return False


def _held(token: Token) -> bool:
    """Worn, held or had: "in a shirt", "with a bag", "holding a bat", "wearing a hat"."""
    if token.dep_ == "dobj":
        return _possession(token.head)
    if token.dep_ == "conj":
        return _held(token.head)
    return token.dep_ == "pobj" and token.head.lower_ in ("with", "in", "without", "wearing")


def _clothing(token: Token) -> bool:
    return (token.lemma_.lower() in WORN and token.lemma_.lower() not in lx.ACCESSORIES) or (
        token.lower_ in lx.CLOTHING
    )


def _place(token: Token) -> bool:
    return token.lemma_.lower() in PLACES or token.lower_ in PLACES


def _owned(token: Token) -> bool:
    """ "its hind legs": a possessive names the owner, and moves with the noun."""
    return any(c.dep_ == "poss" for c in token.children)


def _part(token: Token) -> bool:
    return token.lower_ in PARTS or token.lemma_.lower() in PARTS


def _worn(token: Token) -> bool:
    return token.lemma_.lower() in WORN or token.lower_ in WORN or _part(token)


def _beside(one: Token, two: Token) -> bool:
    """Whether ``one`` and ``two`` are only placed side by side (not worn, held or had).

    The dependency path between them has a side-by-side word ("behind", "next to", "in
    front of") and no preposition or verb of having ("in", "on", "with", "wearing").
    """
    path = _path_between(one, two)
    words = {
        t.lower_
        for t in path
        if t.lower_ not in ("left", "right") or any(c.lower_ == "of" for c in t.children)
    }  # "to the left of", not "lady on left laying on bed"
    if not words & BESIDE_WORDS or any(_possession(t) for t in path):
        return False
    linking = {"to", "of", "in", "from", "on"} if words & {"front", "left", "right"} else {"to"}
    return all(t.lower_ in BESIDE_WORDS or t.lower_ in linking for t in path if t.pos_ == "ADP")


def _possession(token: Token) -> bool:
    return token.lower_ in lx.POSSESSION_WORDS or token.lemma_.lower() in lx.POSSESSION_WORDS


def _path_between(one: Token, two: Token) -> list[Token]:
    """The tokens on the dependency path between two tokens (both excluded)."""
    up_one, up_two = [one, *one.ancestors], [two, *two.ancestors]
    common = next((a for a in up_one if a in up_two), None)
    if common is None:
        return []
    path = up_one[: up_one.index(common)] + up_two[: up_two.index(common)] + [common]
    return [t for t in path if t not in (one, two)]


def _owner_pronoun_after(first: Token, second: Token) -> bool:
    """ "X with Y ... it": a pronoun after a "with" between the two nouns, which means X."""
    path = {t.lower_ for t in _path_between(first, second)}
    later = first.doc[max(first.i, second.i) + 1 :]
    return "with" in path and any(_owner_pronoun(t) for t in later)


# Object pronouns only: a possessive re-agrees with its noun ("the elephant with a man on its
# back" -> "a man with the elephant on his back" is a scene).
_OWNER_PRONOUNS = frozenset({"it", "them", "him", "her", "itself", "themselves"})


def _owner_pronoun(token: Token) -> bool:
    return token.pos_ == "PRON" and token.lower_ in _OWNER_PRONOUNS and token.dep_ != "poss"


def _with_swappable(owner: Token, had: Token) -> bool:
    """ "a woman with a dog" -> "a dog with a woman"; "a plate with a donut" -> the reverse.

    Not what a person wears or holds, a part, a mass ("pizza with cheese"), or a phrase with a
    pronoun that means the owner ("a horse with a girl riding it": the landmark swap's "a girl
    riding a horse", never "a girl with a horse riding her")."""
    if any(_owner_pronoun(t) for t in owner.doc[had.i + 1 :]):
        return False
    if animate(owner) and animate(had):
        return True
    if animate(owner) or animate(had):
        return False
    for noun in (owner, had):
        if _worn(noun) or noun.lemma_.lower() not in COUNTABLE:
            return False
        if any(c.dep_ == "det" and c.lower_ in ("no", "any") for c in noun.children):
            return False
    return not any(
        t.pos_ == "PRON" and t.lower_ in ("it", "its", "them", "their") for t in owner.doc
    )  # "a table with flowers on it"


def relation_of(first: Token, second: Token) -> str:
    """ "verb" (subject and object of one verb), "clauses" (two subjects), "preposition"
    (a noun and the object of its preposition), or "objects" (any other two)."""
    if _subject_of(first) is not None and _subject_of(first) == _object_of(second):
        return "verb"
    if first.dep_ in SUBJECT_DEPS and second.dep_ in SUBJECT_DEPS:
        return "clauses"
    if second.dep_ == "pobj" and _attached_to(second.head, first):
        return "preposition"
    return "objects"


def _subject_of(noun: Token) -> Token | None:
    """The verb ``noun`` is the agent of: its clause's verb, or a participle after it."""
    if noun.dep_ == "nsubj":
        return noun.head
    if telegraphic_agent(noun) is not None:
        return telegraphic_agent(noun)
    for child in noun.rights:
        if child.dep_ in ("acl", "relcl") and child.pos_ == "VERB":
            subject = next((c for c in child.children if c.dep_ in SUBJECT_DEPS), None)
            if subject is None or subject.lower_ in ("who", "that", "which"):
                return child
    return None


def _object_of(noun: Token) -> Token | None:
    return noun.head if noun.dep_ == "dobj" else None


def _attached_to(prep: Token, noun: Token) -> bool:
    head = prep.head
    for _ in range(3):  # "sitting next to", "on top of"
        if head == noun:
            return True
        if head.dep_ in ("acl", "advmod", "prep", "pobj", "relcl"):
            head = head.head
        else:
            return False
    return False


def animate(token: Token) -> bool:
    # From the lexicon only, not from NER: the output must not depend on which parser
    # components are enabled (NER is off by default, for speed).
    lemma = token.lemma_.lower()
    if any(c.lower_ in TOY_WORDS for c in token.lefts):
        return False  # "a teddy bear"
    return lemma in PEOPLE or lemma in lx.ANIMAL_NOUNS or token.lower_ in PEOPLE


def agents_stay_animate(first: Token, second: Token, spans=None) -> bool:
    """False when the swap makes an inanimate noun the agent of an action verb.

    ``spans``: the two phrases that move (first's, second's) when they take their modifiers
    along; a verb inside the slot's own phrase moves with its noun ("the guy wearing a hat").
    """
    for index, (slot, incoming) in enumerate(((first, second), (second, first))):
        if animate(incoming) or not animate(slot):
            continue
        for verb in _agent_verbs(slot):
            if spans is not None and spans[index].start <= verb.i < spans[index].end:
                continue
            if verb.lemma_.lower() in POSTURE_VERBS and _beside(slot, incoming):
                continue  # "a baby elephant standing behind a tree" -> "a tree standing ..."
            if verb.lemma_.lower() != "be":
                return False
    return True


def _agent_verbs(noun: Token) -> list[Token]:
    """Every verb ``noun`` is the agent of: its clause's, its participles', a passive's "by"."""
    verbs = [noun.head] if noun.dep_ == "nsubj" else []
    if telegraphic_agent(noun) is not None:
        verbs.append(telegraphic_agent(noun))
    if noun.dep_ == "pobj" and noun.head.dep_ == "agent":
        verbs.append(noun.head.head)  # "a laptop being used by a person"
    for child in noun.rights:
        if child.dep_ in ("acl", "relcl") and child.pos_ == "VERB":
            subject = next((c for c in child.children if c.dep_ in SUBJECT_DEPS), None)
            if subject is None or subject.lower_ in ("who", "that", "which"):
                verbs.append(child)
    return verbs


# ---------------------------------------------------------------------- pronouns
def _features(noun: Token) -> tuple[str, bool] | None:
    """(gender, plural) of a noun for the pronouns that refer to it; None when unknown."""
    if is_plural(noun):
        return ("p", True)
    low, lemma = noun.lower_, noun.lemma_.lower()
    if low in MALE or lemma in MALE:
        return ("m", False)
    if low in FEMALE or lemma in FEMALE:
        return ("f", False)
    if low in lx.PERSON_NOUNS or lemma in lx.PERSON_NOUNS:
        return None  # "the kid": he or she
    return ("n", False)


def pronoun_for(noun: Token, *, role: str) -> str | None:
    """The personal pronoun that refers to ``noun`` in ``role`` ("subj", "obj", "poss",
    "refl"); None when its gender is unknown ("the kid": him or her)."""
    features = _features(noun)
    return None if features is None else _PRONOUNS[features][role]


def pronoun_edits(doc: Doc, first: Token, second: Token, moved: set[int]) -> list[Edit] | None:
    """Edits that make pronouns follow the swap ("looks at her" -> "looks at him").

    A pronoun that agrees with exactly one of the two nouns takes the form of the other.
    Returns None when such a pronoun has no form for the other noun (a kid: he or she).
    """
    one, two = _features(first), _features(second)
    if one == two:
        return []
    edits = []
    for token in doc:
        if token.i in moved or token.lower_ not in _PRONOUN_FEATURES or token.pos_ != "PRON":
            continue
        key, role = _PRONOUN_FEATURES[token.lower_]
        if token.lower_ == "her":
            following = token.doc[token.i + 1] if token.i + 1 < len(token.doc) else None
            noun_next = following is not None and following.pos_ in ("NOUN", "PROPN", "ADJ", "NUM")
            role = "poss" if token.dep_ == "poss" or noun_next else "obj"
        antecedent = _antecedent(doc, token, key)
        if antecedent not in (first, second):
            continue
        other = two if antecedent == first else one
        if other is None:
            return None
        edits.append(Edit(token.i, token.i + 1, same_case(_PRONOUNS[other][role], token.text)))
    return edits


def _antecedent(doc: Doc, pronoun: Token, key: tuple[str, bool]) -> Token | None:
    """The nearest noun before ``pronoun`` that it can refer to (its gender and number)."""
    for token in reversed(doc[: pronoun.i]):
        if token.pos_ in ("NOUN", "PROPN") and token.dep_ != "compound":
            features = _features(token)
            if features == key or (features is None and key[0] in ("m", "f")):
                return token
    return None


def moves_before_antecedent(phrase, target: int) -> bool:
    """Whether a pronoun in ``phrase`` would come before the noun it means ("two men behind a
    woman with her dog" -> "her dog behind a woman with two men")."""
    for token in phrase:
        if token.pos_ == "PRON" and token.lower_ in _PRONOUN_FEATURES:
            antecedent = _antecedent(token.doc, token, _PRONOUN_FEATURES[token.lower_][0])
            inside = antecedent is not None and phrase[0].i <= antecedent.i < token.i
            if antecedent is not None and not inside and target <= antecedent.i:
                return True
    return False


def possessive_blocks(phrase_tokens, first: Token, second: Token) -> bool:
    """Whether a possessive in a moving phrase refers to one of the two swapped nouns."""
    for token in phrase_tokens:
        if token.dep_ != "poss" or token.lower_ not in _PRONOUN_FEATURES:
            continue
        key = _PRONOUN_FEATURES[token.lower_][0]
        for noun in (first, second):
            if noun.i < token.i and _features(noun) in (key, None):
                return True  # "the woman hugging her dog": "her" is the woman
    return False
