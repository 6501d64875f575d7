"""Attribute vocabularies: the single source of truth for attribute kinds and their values.

Plain data plus a few small lookups. The rewriters (and the contrast classifier built on
them) read every attribute word from here, so adding a colour or a material is one edit.

Kinds:
    color: colour words grouped into families; a substitute always comes from another
        family, so "navy" never becomes "blue" (not a real change).
    size: antonym pairs (big <-> small, tall <-> short, ...), comparatives and superlatives.
    spatial: antonym pairs (left <-> right, top <-> bottom, front <-> back, above <-> below),
        extremes ("leftmost"), multi-word phrases ("in front of" <-> "behind") and ordinals
        ("second from left").
    count: number words and digits.
    material: materials as adjectives ("wooden") or noun modifiers ("metal").
    pattern: surface patterns ("striped", "plaid", "polka dot", "solid").

Example:
    >>> attribute_kind("Red")
    'color'
    >>> contrasts("color", "red")[0]
    'blue'
    >>> contrasts("spatial", "leftmost")
    ('rightmost',)
"""

from __future__ import annotations

from types import MappingProxyType

ATTRIBUTE_KINDS: tuple[str, ...] = ("color", "size", "spatial", "count", "material", "pattern")

# --------------------------------------------------------------------------- colour
# word -> family. Families, not words, are compared: a text that says "navy" already
# contains the family "blue", so "blue" is never offered as its substitute.
COLOR_FAMILIES: MappingProxyType[str, str] = MappingProxyType(
    {
        "red": "red", "maroon": "red", "crimson": "red", "scarlet": "red", "burgundy": "red",
        "pink": "pink", "magenta": "pink",
        "orange": "orange",
        "yellow": "yellow", "gold": "yellow", "golden": "yellow",
        "green": "green", "olive": "green", "lime": "green",
        "blue": "blue", "navy": "blue", "teal": "blue", "turquoise": "blue",
        "purple": "purple", "violet": "purple", "lavender": "purple",
        "brown": "brown", "tan": "brown", "beige": "brown", "khaki": "brown",
        "black": "black",
        "white": "white", "cream": "white", "ivory": "white",
        "gray": "gray", "grey": "gray", "silver": "gray",
    }
)  # fmt: skip

# family -> substitutes, most contrasting first (the first one is the default substitute).
COLOR_CONTRASTS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "red": ("blue", "green", "black", "white", "yellow", "purple", "brown"),
        "pink": ("green", "blue", "black", "yellow", "gray"),
        "orange": ("blue", "green", "purple", "black", "white", "brown"),
        "yellow": ("blue", "red", "black", "green", "purple", "white"),
        "green": ("red", "blue", "yellow", "white", "black"),
        "blue": ("red", "green", "yellow", "black", "white"),
        "purple": ("yellow", "green", "red", "white", "orange"),
        "brown": ("white", "black", "blue", "gray", "green"),
        "black": ("white", "red", "blue", "yellow", "green", "brown", "gray"),
        "white": ("black", "red", "blue", "green", "yellow", "brown", "gray"),
        "gray": ("red", "blue", "black", "white", "yellow", "brown"),
    }
)

# Colours an animal's coat or a person's hair actually has: "brown dog" -> "white dog",
# never "green dog" (a negative that is trivially impossible is not a hard one).
NATURAL_COLORS: tuple[str, ...] = ("black", "white", "brown", "gray")
NATURAL_COLOR_HEADS: frozenset[str] = frozenset({"hair", "haired", "fur", "beard", "coat"})

# Shade words folded into the substitute: "light blue car" -> "red car", not "light white car".
SHADES: frozenset[str] = frozenset({"light", "dark", "bright", "pale", "deep", "navy"})

# Colour words that are also common nouns ("an orange", "a glass of gold"): substituted
# only where the parse shows them describing something.
AMBIGUOUS_COLORS: frozenset[str] = frozenset(
    {
        "orange",
        "gold",
        "olive",
        "lime",
        "tan",
        "cream",
        "silver",
        "navy",
        "violet",
        "ivory",
        "lavender",
    }
)

# --------------------------------------------------------------------------- size
SIZE_ANTONYMS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "big": ("small",), "small": ("big",), "large": ("small",), "little": ("big",),
        "huge": ("tiny",), "tiny": ("huge",), "giant": ("tiny",),
        "tall": ("short",), "long": ("short",), "short": ("tall", "long"),
        "wide": ("narrow",), "narrow": ("wide",), "thick": ("thin",), "thin": ("thick",),
        "bigger": ("smaller",), "smaller": ("bigger",), "larger": ("smaller",),
        "taller": ("shorter",), "shorter": ("taller", "longer"), "longer": ("shorter",),
        "biggest": ("smallest",), "smallest": ("biggest",), "largest": ("smallest",),
        "tallest": ("shortest",), "shortest": ("tallest", "longest"), "longest": ("shortest",),
    }
)  # fmt: skip

# Things whose "short" is the opposite of "tall" (otherwise "short" means "not long").
TALL_THINGS: frozenset[str] = frozenset(
    {"tree", "building", "tower", "giraffe", "lamp", "pole", "glass", "vase", "bottle",
     "plant", "grass", "fence", "wall", "chair", "stool", "table", "cup", "mug"}
)  # fmt: skip

# --------------------------------------------------------------------------- spatial
SPATIAL_ANTONYMS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "left": ("right",), "right": ("left",),
        "leftmost": ("rightmost",), "rightmost": ("leftmost",),
        "top": ("bottom",), "bottom": ("top",), "topmost": ("bottommost",),
        "bottommost": ("topmost",), "upper": ("lower",), "lower": ("upper",),
        "front": ("back",), "back": ("front",), "rear": ("front",),
        "frontmost": ("backmost",),
        "above": ("below",), "below": ("above",), "under": ("above",),
        "beneath": ("above",), "underneath": ("above",),
        "inside": ("outside",), "outside": ("inside",),
        "closest": ("farthest",), "nearest": ("farthest",), "farthest": ("closest",),
        "furthest": ("closest",), "closer": ("farther",), "farther": ("closer",),
        "further": ("closer",),
        "first": ("last",), "last": ("first",),
    }
)  # fmt: skip

# Multi-word spatial phrases (lower-case token sequences), matched before single words.
SPATIAL_PHRASES: MappingProxyType[tuple[str, ...], str] = MappingProxyType(
    {
        ("in", "front", "of"): "behind",
        ("on", "top", "of"): "under",
        ("to", "the", "left", "of"): "to the right of",
        ("to", "the", "right", "of"): "to the left of",
    }
)
# Single words whose substitute is a phrase.
SPATIAL_WORD_PHRASES: MappingProxyType[str, str] = MappingProxyType({"behind": "in front of"})

# Word pairs in which a spatial word is part of a name, not a position ("tank top").
SPATIAL_BLOCKED_BIGRAMS: frozenset[tuple[str, str]] = frozenset(
    {("tank", "top"), ("crop", "top"), ("top", "hat"), ("halter", "top"), ("tube", "top"),
     ("back", "pack"), ("right", "now"), ("all", "right"), ("bottom", "line"), ("last", "name"),
     ("first", "base"), ("left", "over"), ("under", "armor")}
)  # fmt: skip

ORDINAL_WORDS: tuple[str, ...] = (
    "zeroth", "first", "second", "third", "fourth", "fifth", "sixth", "seventh",
    "eighth", "ninth", "tenth", "eleventh", "twelfth",
)  # fmt: skip

# --------------------------------------------------------------------------- count
NUMBER_WORDS: tuple[str, ...] = (
    "zero", "one", "two", "three", "four", "five", "six", "seven",
    "eight", "nine", "ten", "eleven", "twelve",
)  # fmt: skip

# Nouns after "a" that measure or group rather than count ("a lot of", "a pair of").
NOT_COUNTABLE_AFTER_ARTICLE: frozenset[str] = frozenset(
    {"lot", "bit", "couple", "pair", "group", "bunch", "few", "number", "herd", "flock",
     "variety", "kind", "type", "sort", "view", "picture", "photo", "image", "row", "pile",
     "stack", "crowd", "team", "set", "total", "side", "while", "little", "distance"}
)  # fmt: skip

# Plural forms lemminflect gets wrong or lists second.
PLURAL_OVERRIDES: MappingProxyType[str, str] = MappingProxyType(
    {"person": "people", "fish": "fish", "sheep": "sheep", "deer": "deer"}
)

SINGULAR_OVERRIDES: MappingProxyType[str, str] = MappingProxyType({"people": "person"})

# --------------------------------------------------------------------------- material
MATERIAL_CONTRASTS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {
        "wooden": ("metal", "plastic"), "wood": ("metal", "plastic"),
        "metal": ("wooden", "plastic"), "metallic": ("wooden",), "steel": ("wooden", "plastic"),
        "iron": ("wooden",), "aluminum": ("wooden",),
        "plastic": ("metal", "wooden"), "glass": ("plastic", "metal"),
        "ceramic": ("plastic", "metal"), "porcelain": ("plastic",),
        "stone": ("wooden", "metal"), "brick": ("wooden", "stone"), "concrete": ("wooden",),
        "marble": ("wooden",), "leather": ("fabric",), "fabric": ("leather",),
        "cloth": ("leather",), "wicker": ("plastic", "metal"), "paper": ("plastic",),
        "cardboard": ("plastic", "wooden"), "straw": ("plastic",), "rubber": ("metal",),
        "denim": ("leather",), "woolen": ("leather",), "wool": ("leather",),
        "cotton": ("leather",),
    }
)  # fmt: skip

# Materials that are also ordinary nouns ("a glass of water", "straw in the drink"):
# substituted only when they modify a noun.
NOUN_MATERIALS: frozenset[str] = frozenset(
    {"wood", "metal", "steel", "iron", "aluminum", "plastic", "glass", "stone", "brick",
     "concrete", "marble", "leather", "fabric", "cloth", "paper", "cardboard", "straw",
     "rubber", "denim", "wool", "cotton", "ceramic", "porcelain"}
)  # fmt: skip

# --------------------------------------------------------------------------- pattern
# Pattern words -> substitutes, most contrasting first. Their families are PATTERNS' (below,
# shared with the contrast judgement): a substitute never repeats a family the text has.
PATTERN_CONTRASTS: MappingProxyType[str, tuple[str, ...]] = MappingProxyType(
    {"striped": ("solid", "plaid"), "pinstriped": ("solid", "plaid"), "stripey": ("solid", "plaid"),
     "plaid": ("striped", "solid"), "tartan": ("striped", "solid"),
     "checkered": ("striped", "solid"), "checked": ("striped", "solid"),
     "spotted": ("striped", "solid"), "dotted": ("striped", "solid"),
     "floral": ("striped", "solid"), "flowered": ("striped", "solid"), "flowery": ("striped", "solid"),
     "camo": ("solid", "striped"), "camouflage": ("solid", "striped"),
     "solid": ("striped", "plaid"),
     # nouns: "shirt with stripes", "dress with polka dots"
     "stripes": ("polka dots",), "dots": ("stripes",), "spots": ("stripes",)}
)  # fmt: skip
# Multi-word patterns (lower-case token sequences) and the word they are read as.
PATTERN_PHRASES: MappingProxyType[tuple[str, ...], str] = MappingProxyType(
    {("polka", "dot"): "dotted", ("polka", "dotted"): "dotted", ("polka", "dots"): "dots",
     ("poka", "dot"): "dotted"}
)  # fmt: skip

# --------------------------------------------------------------------------- nouns
CLOTHING: frozenset[str] = frozenset(
    {"shirt", "tshirt", "t-shirt", "jacket", "coat", "hat", "cap", "helmet", "dress",
     "skirt", "pants", "jeans", "shorts", "shoes", "shoe", "boots", "sweater", "hoodie",
     "vest", "suit", "tie", "scarf", "uniform", "jersey", "top", "blouse", "gloves",
     "glasses", "sunglasses", "socks", "sleeves", "shirts", "jackets", "hats", "apron"}
)  # fmt: skip

PERSON_NOUNS: frozenset[str] = frozenset(
    {"man", "woman", "men", "women", "guy", "guys", "lady", "ladies", "girl", "girls",
     "boy", "boys", "kid", "kids", "child", "children", "person", "people", "player",
     "players", "baby", "babies", "adult", "dude", "gentleman", "gal", "chick", "mom",
     "dad", "mother", "father", "batter", "catcher", "umpire", "pitcher", "skier",
     "surfer", "skateboarder", "rider", "biker", "cop", "officer", "chef", "waiter",
     "teenager", "toddler", "bride", "groom", "someone", "somebody", "he", "she", "her",
     "him", "they", "them", "daughter", "son", "brother", "sister", "friend", "friends",
     "student", "students", "soldier", "soldiers", "worker", "workers", "driver", "fan"}
)  # fmt: skip

ANIMAL_NOUNS: frozenset[str] = frozenset(
    {"dog", "cat", "horse", "cow", "sheep", "elephant", "bear", "zebra", "giraffe",
     "bird", "duck", "goose", "puppy", "kitten", "calf", "lamb", "pony", "animal",
     "bull", "goat", "pig", "mouse", "monkey", "lion", "tiger", "deer", "fish", "seagull"}
)  # fmt: skip

MASS_NOUNS: frozenset[str] = frozenset(
    {"water", "grass", "food", "snow", "sand", "hair", "furniture", "traffic", "sky",
     "bread", "rice", "meat", "milk", "coffee", "light", "dirt", "mud", "luggage"}
)  # fmt: skip

# --------------------------------------------------------------------------- lookups
_KIND_TABLES = {
    "color": COLOR_FAMILIES,
    "size": SIZE_ANTONYMS,
    "spatial": SPATIAL_ANTONYMS,
    "material": MATERIAL_CONTRASTS,
}


def number_value(word: str) -> int | None:
    """The integer a count word or digit string stands for, or None.

    Example:
        >>> number_value("Three"), number_value("12"), number_value("dog")
        (3, 12, None)
    """
    low = word.lower()
    if low.isdigit() and low.isascii():
        return int(low)
    return NUMBER_WORDS.index(low) if low in NUMBER_WORDS else None


def ordinal_value(word: str) -> int | None:
    """The integer an ordinal word ("second") or ordinal numeral ("2nd") stands for, or None.

    Example:
        >>> ordinal_value("second"), ordinal_value("3rd"), ordinal_value("left")
        (2, 3, None)
    """
    low = word.lower()
    if low in ORDINAL_WORDS:
        return ORDINAL_WORDS.index(low)
    if (
        len(low) > 2
        and low[:-2].isdigit()
        and low[:-2].isascii()
        and low[-2:] == ordinal_suffix(int(low[:-2]))
    ):
        return int(low[:-2])
    return None


def ordinal_suffix(n: int) -> str:
    """The English suffix of the ordinal numeral ``n`` ("st", "nd", "rd" or "th")."""
    if 10 <= n % 100 <= 20:
        return "th"
    return {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")


def ordinal_like(n: int, template: str) -> str:
    """``n`` written as an ordinal in the style of ``template`` (a word or a numeral).

    Example:
        >>> ordinal_like(3, "second"), ordinal_like(3, "2nd")
        ('third', '3rd')
    """
    if template[:1].isdigit() or n >= len(ORDINAL_WORDS):
        return f"{n}{ordinal_suffix(n)}"
    return ORDINAL_WORDS[n]


def number_like(n: int, template: str) -> str:
    """``n`` written as a number in the style of ``template`` (a word or digits)."""
    if template[:1].isdigit() or n >= len(NUMBER_WORDS):
        return str(n)
    return NUMBER_WORDS[n]


def attribute_kind(word: str) -> str | None:
    """The attribute kind of a single word ("color", "size", ...), or None.

    Example:
        >>> attribute_kind("wooden"), attribute_kind("two"), attribute_kind("lady")
        ('material', 'count', None)
    """
    low = word.lower()
    for kind, table in _KIND_TABLES.items():
        if low in table:
            return kind
    if number_value(low) is not None or ordinal_value(low) is not None:
        return "count" if number_value(low) is not None else "spatial"
    return None


def color_family(word: str) -> str | None:
    """The colour family of ``word`` ("navy" -> "blue"), or None when it is not a colour."""
    return COLOR_FAMILIES.get(word.lower())


def contrasts(kind: str, word: str) -> tuple[str, ...]:
    """The substitutes of ``word`` within ``kind``, most contrasting first (empty if none).

    Example:
        >>> contrasts("size", "big"), contrasts("material", "metal")
        (('small',), ('wooden', 'plastic'))
    """
    low = word.lower()
    if kind == "color":
        family = COLOR_FAMILIES.get(low)
        return COLOR_CONTRASTS.get(family, ()) if family else ()
    if kind == "size":
        return SIZE_ANTONYMS.get(low, ())
    if kind == "spatial":
        return SPATIAL_ANTONYMS.get(low, ())
    if kind == "material":
        return MATERIAL_CONTRASTS.get(low, ())
    if kind == "pattern":
        return PATTERN_CONTRASTS.get(low, ())
    return ()


# ====================================================================== contrast
# What the contrast classifier (refaug.contrast) compares: for each head noun, values on an
# axis, two values of one axis being incompatible ("left" vs "right"), equal ones agreeing.

# Position words -> (axis, value). Extremes fold into their side ("leftmost" is "left");
# "closest" is the front of the depth axis, "farthest" its back.
POSITION_AXES: MappingProxyType[str, tuple[str, str]] = MappingProxyType(
    {
        "left": ("horizontal", "left"), "leftmost": ("horizontal", "left"),
        "right": ("horizontal", "right"), "rightmost": ("horizontal", "right"),
        "rigth": ("horizontal", "right"), "rite": ("horizontal", "right"),
        "middle": ("horizontal", "middle"), "center": ("horizontal", "middle"),
        "centre": ("horizontal", "middle"), "mid": ("horizontal", "middle"),
        "central": ("horizontal", "middle"), "between": ("horizontal", "middle"),
        "top": ("vertical", "top"), "topmost": ("vertical", "top"), "upper": ("vertical", "top"),
        "highest": ("vertical", "top"), "high": ("vertical", "top"),
        "bottom": ("vertical", "bottom"), "bottommost": ("vertical", "bottom"),
        "lower": ("vertical", "bottom"), "lowest": ("vertical", "bottom"),
        "front": ("depth", "front"), "frontmost": ("depth", "front"),
        "foreground": ("depth", "front"), "closest": ("depth", "front"),
        "nearest": ("depth", "front"), "closer": ("depth", "front"), "close": ("depth", "front"),
        "back": ("depth", "back"), "rear": ("depth", "back"), "background": ("depth", "back"),
        "behind": ("depth", "back"), "farthest": ("depth", "back"),
        "furthest": ("depth", "back"), "farther": ("depth", "back"), "far": ("depth", "back"),
        "further": ("depth", "back"), "distant": ("depth", "back"), "backmost": ("depth", "back"),
    }
)  # fmt: skip
# Words that intensify a following side ("far left" is the left end, not the back).
POSITION_INTENSIFIERS: frozenset[str] = frozenset({"far", "very", "extreme", "most", "all"})
# Prepositions that make a position relative to another object ("left of the car"): the
# position then describes a relation, not where the referent is in the image.
RELATIONAL_HEADS: frozenset[str] = frozenset(
    {"of", "to", "next", "beside", "besides", "near", "by"}
)  # fmt: skip
# Relations to another object (a landmark) -> (axis, value): "the cup *left of* the plate",
# "the man *behind* the car". Two values of one axis conflict for the same landmark; the
# "near" axis has one value, which only agrees.
RELATIONS: MappingProxyType[str, tuple[str, str]] = MappingProxyType(
    {
        "below": ("vertical", "below"), "under": ("vertical", "below"),
        "beneath": ("vertical", "below"), "underneath": ("vertical", "below"),
        "above": ("vertical", "above"), "over": ("vertical", "above"), "top": ("vertical", "above"),
        "left": ("horizontal", "left"), "right": ("horizontal", "right"),
        "behind": ("depth", "behind"), "back": ("depth", "behind"), "front": ("depth", "front"),
        "next": ("near", "near"), "beside": ("near", "near"), "besides": ("near", "near"),
        "near": ("near", "near"), "by": ("near", "near"),
    }
)  # fmt: skip
# Sides an ordinal counts from ("second from left").
ORDINAL_SIDES: frozenset[str] = frozenset({"left", "right", "top", "bottom", "front", "back"})

# Size words -> (axis, value). One axis: annotators say "tall", "long" and "big" of the
# same object, and "small", "short" and "little" of its neighbour. Age is an axis of its own
# ("young man" vs "old man", "baby elephant" vs "adult elephant").
SIZE_AXES: MappingProxyType[str, tuple[str, str]] = MappingProxyType(
    {
        **{w: ("size", "big") for w in (
            "big", "bigger", "biggest", "large", "larger", "largest", "huge", "giant",
            "tall", "taller", "tallest", "long", "longer", "longest", "wide", "wider", "thick",
            "fat")},
        **{w: ("size", "small") for w in (
            "small", "smaller", "smallest", "little", "tiny", "short", "shorter",
            "shortest", "narrow", "thin", "skinny", "mini")},
        **{w: ("age", "adult") for w in (
            "adult", "grown", "old", "older", "oldest", "elderly", "aged", "senior")},
        **{w: ("age", "young") for w in ("young", "younger", "youngest", "baby", "infant")},
    }
)
# Extremes: the first from their side ("leftmost" is "1st from left").
POSITION_EXTREMES: MappingProxyType[str, str] = MappingProxyType(
    {"leftmost": "left", "rightmost": "right", "topmost": "top", "bottommost": "bottom",
     "frontmost": "front", "closest": "front", "nearest": "front", "farthest": "back",
     "furthest": "back", "backmost": "back"}
)  # fmt: skip
# Count words beyond numbers: one of a kind, or several.
COUNT_WORDS: MappingProxyType[str, str] = MappingProxyType(
    {"single": "1", "lone": "1", "alone": "1", "solo": "1", "many": "many", "several": "many",
     "bunch": "many", "group": "many", "pile": "many", "lots": "many", "multiple": "many",
     "stack": "many", "few": "many", "couple": "many", "pair": "2", "both": "2"}
)  # fmt: skip

# Postures and motions: two different ones cannot describe one object at once.
POSTURES: MappingProxyType[str, str] = MappingProxyType(
    {
        "sit": "sit", "seat": "sit", "seated": "sit", "sitting": "sit",
        "stand": "stand", "standing": "stand",
        "lie": "lie", "lay": "lie", "laying": "lie", "lying": "lie",
        "walk": "walk", "walking": "walk", "run": "run", "running": "run",
        "kneel": "kneel", "squat": "kneel", "crouch": "kneel", "jump": "jump",
        "sleep": "lie", "sleeping": "lie", "ride": "ride", "riding": "ride",
    }
)  # fmt: skip

# Patterns of a surface or garment -> canonical pattern; two different ones conflict.
PATTERNS: MappingProxyType[str, str] = MappingProxyType(
    {"striped": "striped", "stripes": "striped", "stripe": "striped", "stripey": "striped",
     "stripy": "striped", "pinstriped": "striped", "plaid": "plaid", "tartan": "plaid",
     "flannel": "plaid", "checkered": "checkered", "checked": "checkered", "spotted": "spotted",
     "spots": "spotted", "spotty": "spotted", "dotted": "spotted", "polka": "spotted",
     "floral": "floral", "flowered": "floral", "flowery": "floral", "camo": "camouflage",
     "camouflage": "camouflage", "solid": "solid", "dots": "spotted"}
)  # fmt: skip

# Verbs that name one action (lemma -> canonical lemma): "shut" is "close", "grazing" is eating.
ACTION_SYNONYMS: MappingProxyType[str, str] = MappingProxyType(
    {"shut": "close", "graze": "eat", "chew": "eat", "munch": "eat", "feed": "eat",
     "bite": "eat", "drive": "move", "travel": "move", "head": "move", "gaze": "look",
     "stare": "look", "watch": "look", "glance": "look", "talk": "speak", "chat": "speak",
     "grin": "smile", "laugh": "smile", "toss": "throw", "pitch": "throw"}
)  # fmt: skip

# Accessories named after "with", "wearing", "in" (besides CLOTHING), and their canonical names.
ACCESSORIES: frozenset[str] = frozenset(
    {"umbrella", "bag", "backpack", "purse", "handbag", "glasses", "sunglasses", "hat", "cap",
     "helmet", "beard", "mustache", "bald", "ponytail", "tattoo", "watch", "scarf", "mask",
     "headband", "bandana", "earrings", "necklace", "phone", "racket", "racquet", "bat",
     "glove", "camera", "cup", "drink", "hood", "shades"}
)  # fmt: skip
CLOTHING_SYNONYMS: MappingProxyType[str, str] = MappingProxyType(
    {"cap": "hat", "beanie": "hat", "tshirt": "shirt", "t-shirt": "shirt", "tee": "shirt",
     "jersey": "shirt", "blouse": "shirt", "top": "shirt", "shades": "sunglasses",
     "spectacles": "glasses", "eyeglasses": "glasses", "trousers": "pants", "coat": "jacket",
     "sweatshirt": "hoodie", "jumper": "sweater", "tank": "shirt", "tshirts": "shirt",
     "racquet": "racket", "purse": "bag", "handbag": "bag", "backpack": "bag",
     "shoes": "shoe", "boots": "shoe", "sneakers": "shoe", "gloves": "glove", "hats": "hat",
     "shirts": "shirt", "jackets": "jacket", "helmets": "helmet"}
)  # fmt: skip

# Garments worn in one place: two different ones in one slot describe different people
# ("man in suit" vs "man in hoodie"). Items without a slot only agree or flip polarity.
CLOTHING_SLOTS: MappingProxyType[str, str] = MappingProxyType(
    {"hat": "head", "helmet": "head", "hood": "head", "bandana": "head", "headband": "head",
     "shirt": "top", "polo": "top", "tank": "top",
     "jacket": "outer", "hoodie": "outer", "sweater": "outer", "vest": "outer", "suit": "outer",
     "blazer": "outer", "cardigan": "outer", "parka": "outer", "uniform": "outer",
     "pants": "bottom", "jeans": "bottom", "shorts": "bottom", "skirt": "bottom",
     "dress": "bottom", "leggings": "bottom"}
)  # fmt: skip
# Words through which a noun is something the referent has, holds or wears.
POSSESSION_WORDS: frozenset[str] = frozenset(
    {"with", "without", "hold", "holding", "carry", "carrying", "wear", "wearing", "has",
     "have", "having", "using"}
)  # fmt: skip

# Head nouns -> (class, tags). Same class and compatible tags: the same kind of thing
# ("guy" and "man"); different classes ("dog", "cat") or clashing tags ("man", "woman")
# conflict. The class is the COCO category where there is one.
PERSON_TAGS: MappingProxyType[str, frozenset[str]] = MappingProxyType(
    {
        "man": frozenset({"male", "adult"}), "guy": frozenset({"male"}),
        "dude": frozenset({"male"}), "gentleman": frozenset({"male", "adult"}),
        "gent": frozenset({"male", "adult"}), "he": frozenset({"male"}),
        "him": frozenset({"male"}), "father": frozenset({"male", "adult"}),
        "dad": frozenset({"male", "adult"}), "husband": frozenset({"male", "adult"}),
        "groom": frozenset({"male", "adult"}), "boy": frozenset({"male", "young"}),
        "son": frozenset({"male"}), "brother": frozenset({"male"}),
        "woman": frozenset({"female", "adult"}), "lady": frozenset({"female", "adult"}),
        "girl": frozenset({"female"}), "gal": frozenset({"female"}),
        "chick": frozenset({"female"}), "she": frozenset({"female"}),
        "her": frozenset({"female"}), "mother": frozenset({"female", "adult"}),
        "mom": frozenset({"female", "adult"}), "wife": frozenset({"female", "adult"}),
        "bride": frozenset({"female", "adult"}), "daughter": frozenset({"female"}),
        "sister": frozenset({"female"}),
        "kid": frozenset({"young"}), "child": frozenset({"young"}),
        "toddler": frozenset({"young"}), "baby": frozenset({"young"}),
        "infant": frozenset({"young"}), "teen": frozenset({"young"}),
        "teenager": frozenset({"young"}), "adult": frozenset({"adult"}),
        # Roles one person plays at a time (a batter is not the catcher of the same game).
        "batter": frozenset({"role:batter"}), "hitter": frozenset({"role:batter"}),
        "catcher": frozenset({"role:catcher"}), "pitcher": frozenset({"role:pitcher"}),
        "umpire": frozenset({"role:umpire"}), "ump": frozenset({"role:umpire"}),
        "referee": frozenset({"role:umpire"}), "ref": frozenset({"role:umpire"}),
    }
)  # fmt: skip
_ROLES = ("role:batter", "role:catcher", "role:pitcher", "role:umpire")
# Tag pairs that cannot describe one person.
CLASHING_TAGS: frozenset[frozenset[str]] = frozenset(
    {frozenset({"male", "female"}), frozenset({"young", "adult"}),
     *(frozenset({a, b}) for a in _ROLES for b in _ROLES if a != b)}
)
# Head nouns -> COCO category, beyond the category names themselves and PERSON_NOUNS.
HEAD_CATEGORIES: MappingProxyType[str, str] = MappingProxyType(
    {
        "bike": "bicycle", "motorbike": "motorcycle", "moped": "motorcycle",
        "scooter": "motorcycle", "plane": "airplane", "jet": "airplane", "sofa": "couch",
        "table": "dining table", "desk": "dining table", "tv": "tv", "television": "tv",
        "monitor": "tv", "screen": "tv", "doughnut": "donut", "hotdog": "hot dog",
        "phone": "cell phone", "cellphone": "cell phone", "mug": "cup", "glass": "wine glass",
        "computer": "laptop", "puppy": "dog", "kitten": "cat", "kitty": "cat", "pony": "horse",
        "calf": "cow", "bull": "cow", "lamb": "sheep", "cub": "bear", "suv": "car",
        "taxi": "car", "van": "car", "cab": "car", "jeep": "car", "lorry": "truck",
        "ship": "boat", "canoe": "boat", "kayak": "boat", "sailboat": "boat", "bear": "bear",
        "teddy": "teddy bear", "bird": "bird", "duck": "bird", "goose": "bird",
        "seagull": "bird", "pigeon": "bird", "couch": "couch", "armchair": "chair",
        "stool": "chair", "sandwich": "sandwich", "burger": "sandwich", "sub": "sandwich",
        "plant": "potted plant", "flower": "vase", "fridge": "refrigerator",
        "luggage": "suitcase", "bag": "handbag", "purse": "handbag", "backpack": "backpack",
        "racket": "tennis racket", "racquet": "tennis racket", "bat": "baseball bat",
        "board": "surfboard", "surfboard": "surfboard", "skateboard": "skateboard",
        "ski": "skis", "skis": "skis", "kite": "kite", "frisbee": "frisbee",
        "bowl": "bowl", "cup": "cup", "vase": "vase", "clock": "clock", "book": "book",
        "bench": "bench", "train": "train", "engine": "train", "cake": "cake",
        "pizza": "pizza", "slice": "pizza", "banana": "banana", "apple": "apple",
        "orange": "orange", "broccoli": "broccoli", "carrot": "carrot", "elephant": "elephant",
        "zebra": "zebra", "giraffe": "giraffe", "horse": "horse", "sheep": "sheep",
        "cow": "cow", "dog": "dog", "cat": "cat", "car": "car", "bus": "bus",
        "truck": "truck", "boat": "boat", "bed": "bed", "chair": "chair", "bottle": "bottle",
        "umbrella": "umbrella", "laptop": "laptop", "keyboard": "keyboard", "mouse": "mouse",
        "remote": "remote", "sink": "sink", "toilet": "toilet", "oven": "oven",
        "microwave": "microwave", "toaster": "toaster", "scissors": "scissors",
        "suitcase": "suitcase", "tie": "tie", "decker": "bus",
        # Flat shapes (the scenes of refaug.data.synthetic, diagrams): each its own class.
        "circle": "circle", "square": "square", "triangle": "triangle", "star": "star",
        "hexagon": "hexagon", "diamond": "diamond", "rectangle": "rectangle", "oval": "oval",
    }
)  # fmt: skip
# Classes one rides: "man on a horse" is riding it (posture "ride"), so not walking.
RIDDEN_CLASSES: frozenset[str] = frozenset(
    {"bicycle", "motorcycle", "horse", "elephant"}
)  # fmt: skip
# Nouns that stand for the referent without naming its kind ("the one on the left").
GENERIC_HEADS: frozenset[str] = frozenset(
    {"one", "ones", "thing", "things", "object", "item", "part", "piece", "stuff", "pic",
     "picture", "photo", "image", "half", "spot", "area", "section", "portion", "corner",
     "side", "end", "edge", "row", "column", "bit", "lot", "group", "pair", "bunch", "set",
     "pile", "stack", "shape", "something", "anything", "whole", "rest", "other", "others"}
)  # fmt: skip
