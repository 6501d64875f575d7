"""Object and attribute swaps (issue 21): exact outputs, one table per pattern.

Every input was written for these tables in the style of RefCOCO expressions and of the
issue's public caption foils (none is copied from a data set); each row is what the
rewriter gives on spaCy's en_core_web_sm parse, and each expected output was read and
judged good English. The tables:

- PREPOSITIONAL: swaps between a noun and a prepositional or clausal object, with the
  modifiers after a noun moving along ("the laptop in front of the guy wearing a white
  shirt" -> "the guy wearing a white shirt in front of the laptop"), containers ("a bottle
  of beer"), people and animals with each other ("a woman with a dog" -> "a dog with a
  woman"), telegraphic "man holding child", and things a person carries only where they
  stand side by side ("a backpack behind a boy"); the rows with no output are the guards
  ("man holding umbrella", "a teddy bear wearing a red shirt", "girl in pink shirt");
- EXISTENTIAL: "There is/are" phrases, the verb re-agreeing and "the" becoming "a";
- PRONOUNS: pronouns and possessives following the swapped nouns ("her" -> "his");
- ATTRIBUTES: colour, size and material words exchanged between two nouns.
"""

from __future__ import annotations

import pytest

from refaug.rewrite import RoleReversalRewriter

OBJECTS = ("verb", "clauses", "preposition", "objects")

PREPOSITIONAL: list[tuple[str, set[str]]] = [
    (
        "a black backpack sits behind a little boy",
        {
            "a little boy sits behind a black backpack",
        },
    ),
    ("a woman with a dog", {"a dog with a woman"}),
    ("the man with a horse", {"a horse with the man"}),
    ("a girl with her brother", set()),
    ("a bus with a car behind it", set()),
    (
        "a baby elephant standing behind a tree",
        {
            "a tree standing behind a baby elephant",
        },
    ),
    ("a cow standing behind a fence", {"a fence standing behind a cow"}),
    (
        "a bottle of beer next to a plate of food",
        {
            "a plate of food next to a bottle of beer",
        },
    ),
    (
        "a bowl of soup next to a cup of coffee",
        {
            "a cup of coffee next to a bowl of soup",
        },
    ),
    (
        "a glass of wine beside a plate of pasta",
        {
            "a plate of pasta beside a glass of wine",
        },
    ),
    (
        "the man in a suit next to the woman in a dress",
        {
            "the man in a dress next to the woman in a suit",
            "the woman in a suit next to the man in a dress",
        },
    ),
    (
        "the dog on the left next to the cat",
        {
            "the cat next to the dog on the left",
            "the cat on the left next to the dog",
        },
    ),
    (
        "a man in a hat standing next to a woman",
        {
            "a woman in a hat standing next to a man",
        },
    ),
    (
        "the girl who holds a ball next to two boys",
        {
            "two boys who hold a ball next to the girl",
        },
    ),
    (
        "the boy who is holding a bat behind the girl",
        {
            "the girl who is holding a bat behind the boy",
        },
    ),
    ("a dog lying next to a cat", {"a cat lying next to a dog"}),
    ("a chair standing next to a table", {"a table standing next to a chair"}),
    ("a cat sitting behind a dog", {"a dog sitting behind a cat"}),
    (
        "the woman in red next to the man in blue",
        {
            "the man in red next to the woman in blue",
        },
    ),
    ("a car parked behind a truck", {"a truck parked behind a car"}),
    (
        "a bike leaning against a wall next to a car",
        {
            "a bike leaning against a car next to a wall",
            "a car leaning against a wall next to a bike",
            "a wall leaning against a bike next to a car",
        },
    ),
    ("a suitcase sitting next to a man", {"a man sitting next to a suitcase"}),
    ("a bag next to a woman", {"a woman next to a bag"}),
    ("the umbrella behind the girl", {"the girl behind the umbrella"}),
    (
        "a horse standing next to a man in a hat",
        {
            "a man in a hat standing next to a horse",
            "a man standing next to a horse in a hat",
        },
    ),
    ("a dog with a cat", {"a cat with a dog"}),
    ("two dogs with a man", {"a man with two dogs"}),
    ("a man with two dogs", {"two dogs with a man"}),
    ("a cup of tea next to a bowl of sugar", {"a bowl of sugar next to a cup of tea"}),
    (
        "a box of donuts next to a cup of coffee",
        {
            "a cup of coffee next to a box of donuts",
        },
    ),
    ("the elephant with a man on its back", {"a man with the elephant on his back"}),
    (
        "a woman in a blue shirt behind a man in a black jacket",
        {
            "a man in a blue shirt behind a woman in a black jacket",
            "a woman in a black jacket behind a man in a blue shirt",
        },
    ),
    (
        "the sheep in front of the dog with a collar",
        {
            "the dog in front of the sheep with a collar",
        },
    ),
    ("a zebra standing behind a giraffe", {"a giraffe standing behind a zebra"}),
    ("a motorcycle parked next to a bike", {"a bike parked next to a motorcycle"}),
    (
        "the kid with a kite next to the dog",
        {
            "the dog with a kite next to the kid",
            "the kid with the dog next to a kite",
        },
    ),
    (
        "a cat on the chair next to the dog on the couch",
        {
            "a cat on the chair next to the couch on the dog",
            "a cat on the couch next to the dog on the chair",
            "the chair on a cat next to the dog on the couch",
            "the dog on the chair next to a cat on the couch",
            "the dog on the couch next to a cat on the chair",
        },
    ),
    (
        "a woman sitting at a table next to a man",
        {
            "a man sitting at a table next to a woman",
        },
    ),
    ("a plate of fries next to a cup", {"a cup next to a plate of fries"}),
    (
        "the cow next to the horse in the field",
        {
            "the horse in the field next to the cow",
            "the horse next to the cow in the field",
        },
    ),
    ("a girl sitting behind a boy", {"a boy sitting behind a girl"}),
    (
        "a laptop next to a phone on the desk",
        {
            "a laptop next to the desk on a phone",
            "a phone next to a laptop on the desk",
            "a phone on the desk next to a laptop",
            "the desk next to a phone on a laptop",
        },
    ),
    ("woman feeding man", {"man feeding woman"}),
    ("man holding child", {"child holding man"}),
    ("guy hugging girl", {"girl hugging guy"}),
    ("man touching dog", {"dog touching man"}),
    (
        "this is the black laptop next to a white laptop",
        {
            "this is a white laptop next to the black laptop",
        },
    ),
    ("a sleeping dog next to a cat", {"a cat next to a sleeping dog"}),
    ("a parked car behind a bus", {"a bus behind a parked car"}),
    (
        "kid in white jacket being held by man",
        {
            "man being held by kid in white jacket",
            "man in white jacket being held by kid",
        },
    ),
    ("a woman with pink hair walking a dog", {"a dog with pink hair walking a woman"}),
    (
        "the table in front of the guy with the red sweatshirt",
        {
            "the guy with the red sweatshirt in front of the table",
        },
    ),
    (
        "the laptop in front of the guy wearing a white shirt",
        {
            "the guy wearing a white shirt in front of the laptop",
        },
    ),
    ("man holding umbrella", set()),
    ("a teddy bear wearing a red shirt", set()),
    ("a sheep standing between two other sheep", set()),
    ("a giraffe next to a zebra in a zoo", {"a zebra next to a giraffe in a zoo"}),
    ("brown sofa in the hall", set()),
    ("a man walks behind a car", set()),
    ("a person sitting on a couch", set()),
    ("a laptop being used by a woman", set()),
    ("girl in pink shirt", set()),
    ("man wearing a red hat", set()),
    ("a woman in a white shirt holding a birthday cake", set()),
    ("the lady is a fan of the team", set()),
    ("guy with glasses", set()),
    ("a man with his dog", set()),
    ("table with flowers on it", set()),
]

EXISTENTIAL: list[tuple[str, set[str]]] = [
    ("There is a cat under the table.", {"There is a table under a cat."}),
    ("There is a dog next to the car.", {"There is a car next to a dog."}),
    ("There is a laptop on the desk.", {"There is a desk on a laptop."}),
    ("There are two dogs next to a cat.", {"There is a cat next to two dogs."}),
    ("There is a man behind the woman.", {"There is a woman behind a man."}),
    (
        "There are three sheep in front of a cow.",
        {
            "There is a cow in front of three sheep.",
        },
    ),
    ("There is a cup beside the plate.", {"There is a plate beside a cup."}),
    ("There is a bird above the boat.", {"There is a boat above a bird."}),
    ("There are two cups on the table.", {"There is a table on two cups."}),
    ("There is a bench in front of the bus.", {"There is a bus in front of a bench."}),
    ("There is a horse behind the fence.", {"There is a fence behind a horse."}),
    ("There is a lamp next to the bed.", {"There is a bed next to a lamp."}),
    ("There are two people near the truck.", {"There is a truck near two people."}),
    ("There is a giraffe next to a zebra.", {"There is a zebra next to a giraffe."}),
    ("There is a clock above the door.", {"There is a door above a clock."}),
    (
        "There is a woman standing next to a man.",
        {
            "There is a man standing next to a woman.",
        },
    ),
    (
        "There is a small dog under the wooden bench.",
        {
            "There is a wooden bench under a small dog.",
        },
    ),
    (
        "There are two bikes parked next to a car.",
        {
            "There is a car parked next to two bikes.",
        },
    ),
    ("There is a cat sitting on the laptop.", set()),
    ("There is a toilet next to the sink.", {"There is a sink next to a toilet."}),
    (
        "There are three bananas next to an apple.",
        {
            "There is an apple next to three bananas.",
        },
    ),
    ("There is a vase on the table.", {"There is a table on a vase."}),
    ("There is a boy behind the girl.", {"There is a girl behind a boy."}),
    ("There is a pizza next to the bottle.", {"There is a bottle next to a pizza."}),
    (
        "There are two elephants next to a man.",
        {
            "There is a man next to two elephants.",
        },
    ),
    ("There is a teddy bear on the chair.", {"There is a chair on a teddy bear."}),
    ("There is a bowl next to the cup.", {"There is a cup next to a bowl."}),
    (
        "There is a red car behind the white truck.",
        {
            "There is a white truck behind a red car.",
        },
    ),
    (
        "There are some chairs around the table.",
        {
            "There is a table around some chairs.",
        },
    ),
    (
        "There is a man sitting next to two women.",
        {
            "There are two women sitting next to a man.",
        },
    ),
    (
        "There is an umbrella next to the bench.",
        {
            "There is a bench next to an umbrella.",
        },
    ),
    (
        "There is a keyboard in front of the monitor.",
        {
            "There is a monitor in front of a keyboard.",
        },
    ),
    ("There is a dog on top of the couch.", {"There is a couch on top of a dog."}),
    ("There are two cats on top of the bed.", {"There is a bed on top of two cats."}),
    (
        "There is a motorcycle next to the bus.",
        {
            "There is a bus next to a motorcycle.",
        },
    ),
    (
        "There is a sandwich next to a bowl of soup.",
        {
            "There is a bowl of soup next to a sandwich.",
        },
    ),
    ("There are many birds near the boat.", {"There is a boat near many birds."}),
    ("There is a cow behind the sheep.", {"There is a sheep behind a cow."}),
    ("There is a chair next to the couch.", {"There is a couch next to a chair."}),
    (
        "There are two horses in front of the barn.",
        {
            "There is a barn in front of two horses.",
        },
    ),
    ("There is a suitcase behind the man.", {"There is a man behind a suitcase."}),
    ("There is a spoon next to the bowl.", {"There is a bowl next to a spoon."}),
    ("There's a cat on the couch.", {"There's a couch on a cat."}),
    ("There was a dog behind the truck.", {"There was a truck behind a dog."}),
    (
        "There are two electronic devices on top of the laptop.",
        {
            "There is a laptop on top of two electronic devices.",
        },
    ),
]

PRONOUNS: list[tuple[str, set[str]]] = [
    (
        "A woman sits at a counter while a man looks at her through a window.",
        {
            "A man sits at a counter while a woman looks at him through a window.",
            "A woman sits at a window while a man looks at her through a counter.",
        },
    ),
    (
        "A woman walks her dog while a man watches her.",
        {
            "A man walks his dog while a woman watches him.",
            "A woman walks a man while her dog watches her.",
        },
    ),
    (
        "A boy hits a ball while a girl watches him.",
        {
            "A girl hits a ball while a boy watches her.",
        },
    ),
    (
        "a man holding his phone next to a woman",
        {
            "a woman holding her phone next to a man",
        },
    ),
    (
        "the woman feeding her baby next to a man",
        {
            "a man feeding his baby next to the woman",
            "the woman feeding a man next to her baby",
        },
    ),
    (
        "a girl hugging her dog behind a boy",
        {
            "a boy hugging his dog behind a girl",
            "a girl hugging a boy behind her dog",
        },
    ),
    (
        "a man talking to a woman on his phone",
        {
            "a woman talking to a man on her phone",
        },
    ),
    (
        "the boy next to the girl holding her kite",
        {
            "the girl holding her kite next to the boy",
            "the girl next to the boy holding his kite",
        },
    ),
    (
        "a woman sitting next to a man with his laptop",
        {
            "a man sitting next to a woman with her laptop",
            "a man with his laptop sitting next to a woman",
        },
    ),
    (
        "the man standing behind the woman with her umbrella",
        {
            "the woman standing behind the man with his umbrella",
        },
    ),
    (
        "a girl with her brother behind a man",
        {
            "a girl with a man behind her brother",
            "a man behind a girl with her brother",
            "a man with his brother behind a girl",
        },
    ),
    (
        "a woman looking at a man while he cooks",
        {
            "a man looking at a woman while she cooks",
        },
    ),
    (
        "the man pushing the woman while she laughs",
        {
            "the woman pushing the man while he laughs",
        },
    ),
    ("a boy watching a girl as she jumps", {"a girl watching a boy as he jumps"}),
    ("a woman helping a man with his tie", {"a man helping a woman with her tie"}),
    (
        "the girl behind the boy holding his bat",
        {
            "the boy behind the girl holding her bat",
        },
    ),
    (
        "the man next to the lady holding her purse",
        {
            "the lady next to the man holding his purse",
        },
    ),
    (
        "a man hugging a woman while she smiles",
        {
            "a woman hugging a man while he smiles",
        },
    ),
    (
        "the lady sitting next to the man with his hat",
        {
            "the man sitting next to the lady with her hat",
        },
    ),
    (
        "the woman in front of the man eating his sandwich",
        {
            "the man eating his sandwich in front of the woman",
            "the man in front of the woman eating her sandwich",
        },
    ),
    (
        "a boy sitting behind a girl with her backpack",
        {
            "a girl sitting behind a boy with his backpack",
            "a girl with her backpack sitting behind a boy",
        },
    ),
    (
        "a man teaching a boy while he watches",
        {
            "a boy teaching a man while he watches",
        },
    ),
    (
        "the woman next to two men holding their drinks",
        {
            "two men holding their drinks next to the woman",
            "two men next to the woman holding her drinks",
        },
    ),
    (
        "two men standing behind a woman with her dog",
        {
            "a woman standing behind two men with their dog",
        },
    ),
    (
        "the girl who is talking to the boy on her phone",
        {
            "the boy who is talking to the girl on his phone",
        },
    ),
    (
        "a man walking his dog next to a woman",
        {
            "a man walking a woman next to his dog",
            "a woman walking her dog next to a man",
        },
    ),
    (
        "a woman walking her dog behind a man",
        {
            "a man walking his dog behind a woman",
            "a woman walking a man behind her dog",
        },
    ),
    (
        "A man throws a frisbee while a woman watches him.",
        {
            "A woman throws a frisbee while a man watches her.",
        },
    ),
    (
        "A girl eats a sandwich while a boy watches her.",
        {
            "A boy eats a sandwich while a girl watches him.",
        },
    ),
    (
        "the boy holding his skateboard next to the girl",
        {
            "the girl holding her skateboard next to the boy",
        },
    ),
    (
        "the girl holding her skateboard next to the boy",
        {
            "the boy holding his skateboard next to the girl",
        },
    ),
    (
        "a man and his son next to a woman",
        {
            "a man and a woman next to his son",
            "a woman and her son next to a man",
        },
    ),
    (
        "the woman and her daughter behind a man",
        {
            "a man and his daughter behind the woman",
            "the woman and a man behind her daughter",
        },
    ),
    (
        "a woman reading her book next to a man",
        {
            "a man reading his book next to a woman",
        },
    ),
    (
        "a man reading his book next to a woman",
        {
            "a woman reading her book next to a man",
        },
    ),
    (
        "a lady holding her umbrella next to a man",
        {
            "a man holding his umbrella next to a lady",
        },
    ),
    (
        "a guy holding his surfboard behind a girl",
        {
            "a girl holding her surfboard behind a guy",
        },
    ),
    (
        "a mother holding her baby next to a father",
        {
            "a father holding his baby next to a mother",
            "a mother holding a father next to her baby",
        },
    ),
    (
        "the father holding his son behind the mother",
        {
            "the father holding the mother behind his son",
            "the mother holding her son behind the father",
        },
    ),
    (
        "a woman next to a man looking at her phone",
        {
            "a man next to a woman looking at his phone",
        },
    ),
    (
        "a man next to a woman looking at his watch",
        {
            "a woman next to a man looking at her watch",
        },
    ),
]

ATTRIBUTES: list[tuple[str, set[str]]] = [
    ("white cat and black dog", {"black cat and white dog"}),
    ("man in red shirt with blue hat", {"man in blue shirt with red hat"}),
    ("a black dog next to a white cat", {"a white dog next to a black cat"}),
    ("the red car behind the blue truck", {"the blue car behind the red truck"}),
    ("a big dog and a small cat", {"a small dog and a big cat"}),
    ("a wooden chair next to a metal table", {"a metal chair next to a wooden table"}),
    ("a white plate with a brown donut", {"a brown plate with a white donut"}),
    (
        "the brown horse next to the white horse",
        {
            "the white horse next to the brown horse",
        },
    ),
    ("a red umbrella over a blue bench", {"a blue umbrella over a red bench"}),
    (
        "a man in a black jacket and white pants",
        {
            "a man in a white jacket and black pants",
        },
    ),
    (
        "the woman in the pink dress next to the man in the gray suit",
        {
            "the woman in the gray dress next to the man in the pink suit",
        },
    ),
    ("a green bowl on a yellow plate", {"a yellow bowl on a green plate"}),
    (
        "a large elephant behind a small elephant",
        {
            "a small elephant behind a large elephant",
        },
    ),
    ("a silver laptop on a black desk", {"a black laptop on a silver desk"}),
    ("the yellow bus next to the red car", {"the red bus next to the yellow car"}),
    ("a black cat on a white couch", {"a white cat on a black couch"}),
    ("a small bowl next to a large plate", {"a large bowl next to a small plate"}),
    ("a blue kite above a red kite", {"a red kite above a blue kite"}),
    ("a white sheep next to a black sheep", {"a black sheep next to a white sheep"}),
    ("the orange cat on the green chair", set()),  # no "green cat"
    ("a glass bottle next to a plastic cup", {"a plastic bottle next to a glass cup"}),
    ("a brown bear with a white bear", {"a white bear with a brown bear"}),
    ("a tall giraffe next to a short zebra", {"a short giraffe next to a tall zebra"}),
    (
        "the girl in the blue shirt and red skirt",
        {
            "the girl in the red shirt and blue skirt",
        },
    ),
    (
        "a black and white cow next to a brown cow",
        {
            "a brown and white cow next to a black cow",
            "a black and brown cow next to a white cow",
        },
    ),
    ("a gray elephant behind a brown horse", {"a brown elephant behind a gray horse"}),
    ("a red apple next to a green apple", {"a green apple next to a red apple"}),
    (
        "a woman in a white shirt with a black bag",
        {
            "a woman in a black shirt with a white bag",
        },
    ),
    ("a guy in a red hat and black shirt", {"a guy in a black hat and red shirt"}),
    (
        "the silver car parked next to the black van",
        {
            "the black car parked next to the silver van",
        },
    ),
    ("a pink donut on a white napkin", {"a white donut on a pink napkin"}),
    ("a wooden bench next to a metal pole", {"a metal bench next to a wooden pole"}),
    (
        "a boy in a green shirt next to a girl in a yellow dress",
        {
            "a boy in a yellow shirt next to a girl in a green dress",
        },
    ),
    ("a white toilet next to a blue wall", {"a blue toilet next to a white wall"}),
    ("a brown dog with a red collar", set()),  # no "red dog"
    (
        "the big pizza next to the small salad",
        {
            "the small pizza next to the big salad",
        },
    ),
    (
        "a black suitcase next to a red suitcase",
        {
            "a red suitcase next to a black suitcase",
        },
    ),
    ("a little girl with a big dog", {"a big girl with a little dog"}),
    ("the white truck behind the black car", {"the black truck behind the white car"}),
    ("a red bike next to a blue bike", {"a blue bike next to a red bike"}),
    (
        "a man in blue jeans and a white shirt",
        {
            "a man in white jeans and a blue shirt",
        },
    ),
    (
        "a gray cat sleeping on a brown blanket",
        {
            "a brown cat sleeping on a gray blanket",
        },
    ),
    ("a yellow frisbee near a black dog", {"a black frisbee near a yellow dog"}),
    ("an orange bowl next to a white cup", {"a white bowl next to an orange cup"}),
    ("a white cup next to an orange bowl", {"an orange cup next to a white bowl"}),
    ("a leather bag next to a wooden box", {"a wooden bag next to a leather box"}),
    ("a red car", set()),
    ("the black and white cat", set()),
    ("a small dog", set()),
    ("a black cat on a red and black blanket", set()),  # not "black and black blanket"
    ("a white dog next to a brown and white cat", set()),
]

TABLES = {
    "prepositional": (PREPOSITIONAL, OBJECTS),
    "existential": (EXISTENTIAL, OBJECTS),
    "pronouns": (PRONOUNS, OBJECTS),
    "attributes": (ATTRIBUTES, ("attribute",)),
}
ROWS = [
    (name, text, expected, relations)
    for name, (table, relations) in TABLES.items()
    for text, expected in table
]


@pytest.fixture(scope="module")
def rewriters() -> dict[tuple[str, ...], RoleReversalRewriter]:
    return {
        relations: RoleReversalRewriter(relations=relations, max_per_text=None)
        for _, relations in TABLES.values()
    }


@pytest.mark.parametrize("name", sorted(TABLES))
def test_table_size(name: str) -> None:
    table, _ = TABLES[name]
    assert len(table) >= 40
    assert len({text for text, _ in table}) == len(table)


@pytest.mark.parametrize(
    ("name", "text", "expected", "relations"), ROWS, ids=[f"{r[0]}:{r[1]}" for r in ROWS]
)
def test_exact_outputs(rewriters, name: str, text: str, expected: set[str], relations) -> None:
    got = [c.text for c in rewriters[relations]([text])[0]]
    assert len(got) == len(set(got))
    assert set(got) == expected


def test_detail_names_the_moved_phrases(rewriters) -> None:
    text = "Military men are holding awards while standing next to a man in a suit."
    got = rewriters[OBJECTS]([text])[0]
    assert [(c.text, c.detail) for c in got] == [
        (
            "A man is holding awards while standing next to military men in a suit.",
            "objects: military men <-> man",
        ),
        (
            "A man in a suit is holding awards while standing next to military men.",
            "objects: military men <-> man in a suit",
        ),
    ]


def test_default_rewriter_offers_attribute_and_object_swaps() -> None:
    got = RoleReversalRewriter(max_per_text=None)(["a black dog next to a white cat"])[0]
    assert {(c.text, c.detail) for c in got} == {
        ("a white dog next to a black cat", "attribute: black <-> white"),
        ("a white cat next to a black dog", "preposition: black dog <-> white cat"),
    }
