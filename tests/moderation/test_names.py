from __future__ import annotations

import pytest

from moderation.checks.names import NameEntry, NameMatch, NameMatcher, find_names, normalise

OBAMA, BIDEN, MICHELLE = 1, 2, 3

REGISTRY = [
    NameEntry(OBAMA, "Barack Obama"),
    NameEntry(OBAMA, "Obama"),
    NameEntry(OBAMA, "オバマ"),
    NameEntry(OBAMA, "バラク・オバマ"),
    NameEntry(BIDEN, "Joe Biden"),
    NameEntry(BIDEN, "バイデン"),
    NameEntry(MICHELLE, "Michelle Obama"),
]


def people(text: str, entries=REGISTRY) -> set[tuple[int, str]]:
    return {(m.person_id, m.name) for m in find_names(text, entries)}


def test_normalise_folds_case_width_and_whitespace():
    assert normalise("  ＢＡＲＡＣＫ\u3000 Obama\n") == "barack obama"
    assert normalise("ｵﾊﾞﾏ") == "オバマ"
    assert normalise("Straße") == "strasse"
    assert normalise("おばま") == "おばま"  # hiragana is not folded to katakana


@pytest.mark.parametrize("text", ["obama", "OBAMA", "ObAmA", "Ｏｂａｍａ", "ＯＢＡＭＡ"])
def test_case_and_width_do_not_matter(text):
    assert people(f"a photo of {text} smiling") == {(OBAMA, "Obama")}


def test_found_text_is_reported_normalised():
    assert find_names("Ｏｂａｍａ!", REGISTRY) == [NameMatch(OBAMA, "Obama", "obama")]


@pytest.mark.parametrize(
    "text", ["obama,", "(obama:1.2)", "obama's", "obama_v2", "obama2", "#obama"]
)
def test_name_matches_next_to_punctuation_and_digits(text):
    assert people(text) == {(OBAMA, "Obama")}


@pytest.mark.parametrize("text", ["Obamacare", "obamas", "proobama", "OBAMACARE repeal"])
def test_name_inside_a_longer_word_does_not_match(text):
    assert people(text) == set()


@pytest.mark.parametrize(
    "text",
    [
        "Barack Obama",
        "barack  obama",
        "barack_obama",
        "Barack-Obama",
        "barack \t\n obama",
        "barack__obama",
    ],
)
def test_multiword_name_allows_any_separator_run(text):
    assert (OBAMA, "Barack Obama") in people(text)


def test_multiword_name_needs_a_separator_and_the_words_in_order():
    assert people("barackobama") == set()
    assert people("obama barack") == {(OBAMA, "Obama")}
    assert people("barack, obama") == {(OBAMA, "Obama")}


def test_longer_name_wins_over_an_alias_inside_it():
    assert people("Michelle Obama at the gala") == {(MICHELLE, "Michelle Obama")}
    assert people("barack obama") == {(OBAMA, "Barack Obama")}
    assert people("michelle obama and obama") == {(MICHELLE, "Michelle Obama"), (OBAMA, "Obama")}


def test_japanese_alias_matches_as_substring():
    entries = [NameEntry(OBAMA, "オバマ")]
    assert people("バラク・オバマの写真", entries) == {(OBAMA, "オバマ")}
    assert people("オバマ大統領", entries) == {(OBAMA, "オバマ")}


def test_half_width_katakana_matches():
    assert people("ｵﾊﾞﾏの写真", [NameEntry(OBAMA, "オバマ")]) == {(OBAMA, "オバマ")}
    assert people("ﾊﾞｲﾃﾞﾝさん") == {(BIDEN, "バイデン")}


def test_japanese_multiword_name_with_or_without_separator():
    for text in ["バラク・オバマ", "バラクオバマ", "バラク オバマ", "ﾊﾞﾗｸ･ｵﾊﾞﾏ", "バラク_オバマ"]:
        assert people(f"{text}の写真") == {(OBAMA, "バラク・オバマ")}, text


def test_hiragana_is_not_folded_to_katakana():
    assert people("おばまの写真") == set()
    assert people("おばまの写真", [NameEntry(OBAMA, "おばま")]) == {(OBAMA, "おばま")}


def test_latin_name_inside_japanese_text_matches():
    assert people("Obamaの写真") == {(OBAMA, "Obama")}


def test_hangul_name_matches_with_particle():
    assert people("오바마가 웃었다", [NameEntry(OBAMA, "오바마")]) == {(OBAMA, "오바마")}


def test_unrelated_text_matches_nothing():
    text = "A cozy cabin in the woods, golden hour, 35mm, masterpiece, best quality, 風景, 猫"
    assert find_names(text, REGISTRY) == []
    assert find_names("", REGISTRY) == []


def test_empty_registry_matches_nothing():
    assert find_names("Barack Obama", []) == []


def test_matches_are_deduplicated_by_person_and_name():
    matches = find_names("Obama, OBAMA and Ｏｂａｍａ; obama again", REGISTRY)
    assert matches == [NameMatch(OBAMA, "Obama", "obama")]


def test_same_name_for_two_people_reports_both():
    entries = [NameEntry(7, "Chris Evans"), NameEntry(8, "Chris Evans")]
    assert people("chris evans", entries) == {(7, "Chris Evans"), (8, "Chris Evans")}


def test_matches_come_in_order_of_appearance():
    matches = find_names("biden then バラク・オバマ then joe biden", REGISTRY)
    assert [m.name for m in matches] == ["バラク・オバマ", "Joe Biden"]


def test_different_spacing_does_not_confuse_similar_names():
    entries = [NameEntry(7, "Li Na"), NameEntry(8, "Lina")]
    assert people("li na", entries) == {(7, "Li Na")}
    assert people("lina", entries) == {(8, "Lina")}


def test_punctuation_inside_a_name_must_match():
    entries = [NameEntry(9, "J.K. Rowling")]
    assert people("by j.k._rowling", entries) == {(9, "J.K. Rowling")}
    assert people("by jk rowling", entries) == set()


def test_matcher_handles_a_large_registry():
    entries = [NameEntry(i, f"Person{chr(97 + i % 26)} Number{i}") for i in range(5000)]
    entries.append(NameEntry(OBAMA, "Barack Obama"))
    matcher = NameMatcher(entries)
    text = "lorem ipsum " * 2000 + "BARACK_OBAMA"
    assert [m.person_id for m in matcher.find(text)] == [OBAMA]


@pytest.mark.parametrize(
    "text", ["oba\u200bma", "o\u00adbama", "オ\u200bバマ", "barack\u200d obama"]
)
def test_invisible_characters_inside_a_name_do_not_hide_it(text):
    found = {person for person, _ in people(f"a portrait of {text}")}
    assert found == {OBAMA}
